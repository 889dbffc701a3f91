# 020_llm.pl: the LLM path of flow_draft and intent_parse, as worker steps,
# against a fake OpenAI-compatible server (test/fake/fakeserver.py).
#
# 1. Key: flowdb.llm_configured follows the owner's llm credential and the
#    server-wide one (owner '*', flowdb.set_server_credential); the worker
#    uses the owner's key first, else the server-wide key.
# 2. flowdb.draft_start_llm: a 'drafting' row, then 'ready' with a valid
#    blueprint (one request carrying the strict json_schema and a system
#    prompt generated from the catalog); an invalid answer gets one repair
#    round (2 requests, the problems sent back) and becomes ready; still
#    invalid -> 'failed' with the problems and no blueprint; 429 with
#    Retry-After then success -> ready; a refusal -> failed.
# 3. No key: the step is sandboxed (nothing sent, the outbox has the
#    request without Authorization) and the draft fails, never ready.
# 4. flowdb.intent_start_llm: text -> parse_intent -> the run's output
#    {status, reply, analysis} (flowdb.intent_act is not on this branch:
#    the analysis is checked); audio -> a multipart transcription request
#    with file and model, then the transcript parsed; an intent the model
#    made up becomes UNKNOWN.
# 5. No key in workflow_logs (input/output/error) or in the outbox.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Digest::SHA qw(sha256_hex);
use MIME::Base64 qw(encode_base64);
use FindBin;
use lib $FindBin::RealBin;
use FlowdbTest;

my $SERVER_KEY = 'sk-serverSECRET7a1c';
my $BOB_KEY    = 'sk-bobSECRET55e2';
my $CHAT       = 'POST /v1/chat/completions';
my $AUDIO      = 'POST /v1/audio/transcriptions';

my $fake = start_fake({ $CHAT => [ { status => 500 } ] });
my $node = new_node('llm',
	'flowdb.llm_base_url'         => $fake->url('/v1'),
	'flowdb.llm_model'            => 'gpt-test',
	'flowdb.transcription_model'  => 'whisper-test');

my $GOOD = {
	name    => 'Thank payers',
	trigger => { type => 'event', event => 'razorpay.payment.captured', cron => undef, table => undef },
	nodes   => [
		{ id => 'thank', type => 'action', service => 'whatsapp', task => 'send_message',
		  params => { to => '{{trigger_data.contact}}', body => 'Thanks for paying!',
					  media_url => undef, from => undef } } ],
	edges => [] };
my $BAD = {
	name    => 'Mail them',
	trigger => { type => 'manual', event => undef, cron => undef, table => undef },
	nodes   => [
		{ id => 'mail', type => 'action', service => 'gmail', task => 'send', params => {} } ],
	edges => [] };

# draft(OWNER, PROMPT): start a drafting run; wait until the row leaves
# 'drafting'; returns the row
sub draft
{
	my ($owner, $prompt) = @_;
	# the worker may finish at once after the commit: look inside the
	# starting transaction
	my ($wid, $first) = split / /, $node->safe_psql('postgres', qq{
		BEGIN;
		SELECT flowdb.draft_start_llm('$owner', \$\$$prompt\$\$) AS wid \\gset
		SELECT id || ' ' || draft_status || '/' || (blueprint IS NULL) || '/' || active
		FROM flowdb.workflows WHERE id = :'wid';
		COMMIT;}), 2;
	is($first, 'drafting/true/false', 'a drafting row first: no blueprint, inactive');
	ok(poll($node, "SELECT draft_status <> 'drafting' FROM flowdb.workflows WHERE id = '$wid'", 't', 60),
		'the draft finished');
	return query_json($node, "SELECT to_jsonb(w) FROM flowdb.workflows w WHERE id = '$wid'");
}

# script(ROUTES): a fresh script and capture
sub script
{
	$fake->set_script({ routes => $_[0] });
	$fake->reset;
	return;
}

# ---- 1. key ---------------------------------------------------------------
is($node->safe_psql('postgres', "SELECT flowdb.llm_configured('alice')"), 'f', 'no key: not configured');
$node->safe_psql('postgres',
	"SELECT flowdb.set_server_credential('llm', '{\"api_key\": \"$SERVER_KEY\"}')");
$node->safe_psql('postgres',
	"INSERT INTO flowdb.credentials (owner, service, name, secret) VALUES ('bob', 'llm', 'default', '{\"api_key\": \"$BOB_KEY\"}')");
is($node->safe_psql('postgres', "SELECT flowdb.llm_configured('alice')"), 't', 'server-wide key: configured');
my ($state) = sql_error($node, "SELECT flowdb.set_server_credential('slack', '{}')");
is($state, '0A000', 'only llm has a server-wide credential');
$node->safe_psql('postgres', 'CREATE ROLE tenant LOGIN');
($state) = sql_error($node, "SET ROLE tenant; SELECT flowdb.set_server_credential('llm', '{}')");
is($state, '42501', 'a tenant cannot set the server-wide key');
($state) = sql_error($node, "SET ROLE tenant; SELECT flowdb.draft_start_llm('tenant', 'x')");
is($state, '42501', 'a tenant cannot call draft_start_llm directly');

# ---- 2. drafts --------------------------------------------------------------
script({ $CHAT => [ { chat => $GOOD, require_schema => JSON::PP::true } ] });
my $w = draft('alice', 'When a payment is captured, thank the customer on WhatsApp');
is($w->{draft_status}, 'ready', 'valid answer: ready');
is($w->{name}, 'Thank payers', 'name from the blueprint');
is($w->{drafted_by}, 'fake-gpt', 'drafted_by = the model that answered');
ok(!$w->{active}, 'ready drafts stay inactive');
is($w->{blueprint}{nodes}[0]{params}{body}, 'Thanks for paying!', 'blueprint kept');
ok(!exists $w->{blueprint}{nodes}[0]{params}{media_url}, 'null params dropped');
is($node->safe_psql('postgres',
		"SELECT flow_validate(blueprint) ->> 'valid' FROM flowdb.workflows WHERE id = '$w->{id}'"),
	'true', 'the ready blueprint validates');
my @r = $fake->requests_for('/v1/chat/completions');
is(scalar @r, 1, 'one request when the first answer is valid');
is($r[0]{headers}{authorization}, "Bearer $SERVER_KEY", 'alice uses the server-wide key');
my $req = json_dec($r[0]{body});
is($req->{model}, 'gpt-test', 'model from flowdb.llm_model');
is($req->{response_format}{json_schema}{strict}, JSON::PP::true, 'strict json_schema sent');
like($req->{messages}[0]{content}, qr/task whatsapp\.send_message/, 'system prompt lists the catalog');
like(json_enc($req->{response_format}), qr/"enum":\["razorpay"\]/, 'schema has a variant per service');
is($req->{messages}[1]{content}, 'When a payment is captured, thank the customer on WhatsApp',
	'user message = the prompt');

# repair round: invalid, then valid
script({ $CHAT => [ { chat => $BAD }, { chat => $GOOD } ] });
$w = draft('bob', 'Email my customers after they pay');
is($w->{draft_status}, 'ready', 'invalid then valid: ready after the repair');
@r = $fake->requests_for('/v1/chat/completions');
is(scalar @r, 2, 'repair: two requests');
is($r[0]{headers}{authorization}, "Bearer $BOB_KEY", "bob's own key wins over the server-wide one");
$req = json_dec($r[1]{body});
is(scalar @{ $req->{messages} }, 4, 'repair request: system, user, assistant, user');
like($req->{messages}[2]{content}, qr/"service":"gmail"/, 'the previous answer is replayed');
like($req->{messages}[3]{content}, qr/\$\.nodes\[0\]\.service: /, 'the problems go back with their paths');
my $run = $node->safe_psql('postgres', "SELECT draft_run_id FROM flowdb.workflows WHERE id = '$w->{id}'");
is($node->safe_psql('postgres', "SELECT purpose || ' ' || status FROM flowdb.runs WHERE id = '$run'"),
	'draft succeeded', 'the drafting run is an ordinary run');

# still invalid after the repair
script({ $CHAT => [ { chat => $BAD } ] });
$w = draft('alice', 'Email my customers');
is($w->{draft_status}, 'failed', 'invalid twice: failed');
ok(!defined $w->{blueprint}, 'a failed draft has no blueprint');
ok((grep { /^\$\.nodes\[0\]\.service: / } @{ $w->{draft_problems} }), 'problems listed with paths')
  or diag explain $w->{draft_problems};
is(scalar $fake->requests_for('/v1/chat/completions'), 2, 'only one repair round');

# 429 with Retry-After, then success
script({ $CHAT => [ { status => 429, headers => { 'Retry-After' => '1' },
					  body => { error => { message => 'Rate limit reached', code => 'rate_limit_exceeded' } } },
					{ chat => $GOOD } ] });
$w = draft('alice', 'Thank payers');
is($w->{draft_status}, 'ready', '429 then success: ready');
@r = $fake->requests_for('/v1/chat/completions');
is(scalar @r, 2, '429: asked twice');
cmp_ok($r[1]{time} - $r[0]{time}, '>=', 0.9, 'Retry-After honoured');
$run = $node->safe_psql('postgres', "SELECT draft_run_id FROM flowdb.workflows WHERE id = '$w->{id}'");
is(log_counts($node, $run)->{'draft/retrying'}, 1, 'the 429 is logged as retrying');

# refusal
script({ $CHAT => [ { refusal => 'I cannot help with that.' } ] });
$w = draft('alice', 'Something odd');
is($w->{draft_status}, 'failed', 'refusal: failed');
like($w->{draft_problems}[0], qr/LLM refused: I cannot help/, 'the refusal is the problem');

# ---- 3. no key: sandbox ------------------------------------------------------
$node->safe_psql('postgres', "SELECT flowdb.set_server_credential('llm', NULL)");
is($node->safe_psql('postgres', "SELECT flowdb.llm_configured('alice') || ' ' || flowdb.llm_configured('bob')"),
	'false true', 'server key removed: alice is not configured, bob still is');
script({ $CHAT => [ { chat => $GOOD } ] });
$w = draft('alice', 'Thank payers');
is($w->{draft_status}, 'failed', 'sandbox: never ready');
like($w->{draft_problems}[0], qr/sandbox/, 'the problem says sandbox');
is(scalar $fake->requests, 0, 'sandbox: nothing sent');
$run = $node->safe_psql('postgres', "SELECT draft_run_id FROM flowdb.workflows WHERE id = '$w->{id}'");
my $ob = query_json($node, "SELECT to_jsonb(o) FROM flowdb.outbox o WHERE run_id = '$run' ORDER BY id LIMIT 1");
is($ob->{url}, $fake->url('/v1/chat/completions'), 'outbox has the request');
ok(!grep({ lc($_) eq 'authorization' } keys %{ $ob->{headers} }), 'no Authorization in the outbox');
$node->safe_psql('postgres',
	"SELECT flowdb.set_server_credential('llm', '{\"api_key\": \"$SERVER_KEY\"}')");

# ---- 4. intents ----------------------------------------------------------------
script({ $CHAT => [ { chat => { intent => 'CREATE_INVOICE',
								entities => { name => 'Ravi', amount => 500, phone => undef },
								confidence => 0.93 }, require_schema => JSON::PP::true } ] });
$run = $node->safe_psql('postgres',
	"SELECT flowdb.intent_start_llm('alice', 'Ravi ko 500 ka invoice bhejo', NULL, 's1')");
is(wait_run($node, $run, 60), 'succeeded', 'intent run succeeded');
my $st = query_json($node,
	qq{SET request.jwt.claims = '{"sub": "alice"}'; SELECT flow_status('$run')});
is($st->{output}{analysis}{intent}, 'CREATE_INVOICE', 'flow_status output: the intent');
is($st->{output}{analysis}{entities}{name}, 'Ravi', 'entity name');
is($st->{output}{analysis}{entities}{amount}, 500, 'entity amount');
ok(!exists $st->{output}{analysis}{entities}{phone}, 'null entities dropped');
ok(defined $st->{output}{status} && defined $st->{output}{reply}, 'output has status and reply');
$req = json_dec(($fake->requests_for('/v1/chat/completions'))[0]{body});
is($req->{response_format}{json_schema}{name}, 'flowdb_intent', 'intent schema sent');
is($req->{messages}[-1]{content}, 'Ravi ko 500 ka invoice bhejo', 'the text is the user message');

# a made-up intent
script({ $CHAT => [ { chat => { intent => 'WIRE_ALL_MONEY', entities => {}, confidence => 1 } } ] });
$run = $node->safe_psql('postgres',
	"SELECT flowdb.intent_start_llm('alice', 'send everything to me', NULL, 's2')");
is(wait_run($node, $run, 60), 'succeeded', 'made-up intent: run succeeded');
is($node->safe_psql('postgres', "SELECT output #>> '{analysis,intent}' FROM flowdb.runs WHERE id = '$run'"),
	'UNKNOWN', 'made-up intent becomes UNKNOWN');

# answered from the schema the request carried
script({ $CHAT => [ { chat_from_schema => JSON::PP::true, require_schema => JSON::PP::true } ] });
$run = $node->safe_psql('postgres', "SELECT flowdb.intent_start_llm('alice', 'hi', NULL, NULL)");
is(wait_run($node, $run, 60), 'succeeded', 'schema-driven answer: run succeeded');
is($node->safe_psql('postgres', "SELECT output #>> '{analysis,intent}' FROM flowdb.runs WHERE id = '$run'"),
	'CREATE_INVOICE', 'the first intent of the enum sent');

# audio: transcription first
my $wav = "RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x80\x3e\x00\x00"
  . "\x00\x7d\x00\x00\x02\x00\x10\x00data\x00\x00\x00\x00" . ("\x00\xff\x10" x 1000);
script({ $AUDIO => [ { status => 200, body => { text => 'send 2k payment link to 9876543210' } } ],
		 $CHAT  => [ { chat => { intent => 'CREATE_PAYMENT_LINK',
								 entities => { amount => 2000, phone => '9876543210' },
								 confidence => 0.9 } } ] });
my $hex = unpack('H*', $wav);
$run = $node->safe_psql('postgres',
	"SELECT flowdb.intent_start_llm('alice', NULL, '\\x$hex'::bytea, 's3')");
is(wait_run($node, $run, 60), 'succeeded', 'audio intent run succeeded');
@r = $fake->requests_for('/v1/audio/transcriptions');
is(scalar @r, 1, 'one transcription request');
like($r[0]{headers}{'content-type'}, qr{^multipart/form-data; boundary=}, 'multipart body');
is($r[0]{headers}{authorization}, "Bearer $SERVER_KEY", 'transcription uses the key');
my $mp = $r[0]{multipart};
is($mp->{model}{text}, 'whisper-test', 'model part from flowdb.transcription_model');
is($mp->{file}{filename}, 'audio.wav', 'file part with a file name');
is($mp->{file}{size}, length($wav), 'the whole audio uploaded');
is($mp->{file}{sha256}, sha256_hex($wav), 'the exact audio bytes');
my $out = query_json($node, "SELECT output FROM flowdb.runs WHERE id = '$run'");
is($out->{analysis}{transcript}, 'send 2k payment link to 9876543210', 'transcript in the analysis');
is($out->{analysis}{intent}, 'CREATE_PAYMENT_LINK', 'transcript parsed');
like($req = json_dec(($fake->requests_for('/v1/chat/completions'))[0]{body})->{messages}[-1]{content},
	qr/^send 2k payment link/, 'the transcript is what the model reads');

($state) = sql_error($node, "SELECT flowdb.intent_start_llm('alice', NULL, NULL, NULL)");
is($state, '22004', 'neither text nor audio: 22004');
($state) = sql_error($node, "SELECT flowdb.intent_start_llm('alice', NULL, ''::bytea, NULL)");
is($state, '22023', 'empty audio: 22023');

# ---- 5. no key anywhere in logs or outbox ---------------------------------------
is($node->safe_psql('postgres',
		"SELECT count(*) FROM flowdb.workflow_logs WHERE concat(input::text, output::text, error) "
		  . "LIKE ANY (ARRAY['%$SERVER_KEY%', '%$BOB_KEY%'])"),
	'0', 'no key in workflow_logs');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM flowdb.outbox WHERE concat(headers::text, body, url) "
		  . "LIKE ANY (ARRAY['%$SERVER_KEY%', '%$BOB_KEY%'])"),
	'0', 'no key in the outbox');
ok($node->safe_psql('postgres', "SELECT count(*) FROM flowdb.workflow_logs") > 0, 'there are logs to check');

$node->stop;
done_testing();
