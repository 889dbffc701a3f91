# 010_providers.pl: every provider tool against a fake of its API.
#
# One fake server per provider, base URLs aimed at them with ALTER SYSTEM +
# reload, credentials stored with flow_set_credential (flowdb.sandbox =
# auto, so having a credential means live).  Checks the exact requests
# (method, path, Authorization, form/JSON fields, Idempotency-Key) and the
# step outputs in workflow_logs for whatsapp.send_message,
# razorpay.create_payment_link / create_invoice / fetch_payment,
# slack.post_message, instagram.publish_photo (two requests, one step) and
# llm.complete / llm.classify; that no secret reaches workflow_logs, outbox
# or runs; provider errors: Twilio 400 fails at once, Razorpay 500 then 200
# retries, Slack ok:false ratelimited retries, channel_not_found fails, an
# LLM 401 quoting the api key does not put the key in the logs;
# Instagram: a publish retried after a lost answer that is told "already
# published" succeeds with the same container; crash safety: kill -9 the
# worker while media_publish is in flight, the container is created once
# and published with its id.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);
use FindBin;
use lib $FindBin::RealBin;    # FlowdbTest.pm, FlowdbTools.pm (PROVE_FLAGS does not reach prove)
use FlowdbTest;
use FlowdbTools;

my $true  = JSON::PP::true;
my $false = JSON::PP::false;

# credentials (values chosen to be greppable: none is a substring of another)
my $WA_SID     = 'AC0123456789abcdef0123456789abcdef';
my $WA_TOKEN   = 'twiliotokenSECRET4f1e';
my $WA_BAD_SID = 'AC99999999999999999999999999999999';
my $RZP_ID     = 'rzp_test_KEYid77';
my $RZP_SECRET = 'rzpkeysecretSECRET9c2d';
my $SLACK_TOK  = 'xoxb-slacktokenSECRET51aa';
my $IG_TOKEN   = 'IGQVJigtokenSECRET0b7e';
my $IG_USER    = '17841400000000001';
my $IG_CRASH   = '17841400000000002';
my $IG_AGAIN   = '17841400000000003';
my $LLM_KEY    = 'sk-llmkeySECRET3d9f';
my $MODEL      = 'test-model-7b';

my @SECRETS = (
	$WA_TOKEN, $RZP_SECRET, $SLACK_TOK, $IG_TOKEN, $LLM_KEY,
	# the Basic headers carry the secrets base64-encoded
	substr(basic_auth($WA_SID, $WA_TOKEN), 6),
	substr(basic_auth($RZP_ID, $RZP_SECRET), 6),
);

########################################################################
# fake providers
########################################################################

my $wa_path     = "/2010-04-01/Accounts/$WA_SID/Messages.json";
my $wa_bad_path = "/2010-04-01/Accounts/$WA_BAD_SID/Messages.json";

my %wa_script = (
	"POST $wa_path" => [
		{
			status => 201,
			body   => {
				sid    => 'SM0123456789abcdef0123456789abcdef',
				status => 'queued',
				to     => 'whatsapp:+919876543210',
				body   => 'Hello Ravi'
			}
		}
	],
	"POST $wa_bad_path" => [
		{
			status => 400,
			body   => {
				code      => 21211,
				message   => "The 'To' number whatsapp:+15005550001 is not a valid phone number.",
				more_info => 'https://www.twilio.com/docs/errors/21211',
				status    => 400
			}
		}
	],
);

my %rzp_script = (
	'POST /v1/payment_links' => [
		{
			status => 200,
			body   => {
				id           => 'plink_Ptest0001',
				short_url    => 'https://rzp.io/i/tst001',
				status       => 'created',
				amount       => 49950,
				currency     => 'INR',
				reference_id => 'ORD-1001'
			}
		}
	],
	'POST /v1/invoices' => [
		{
			status => 200,
			body   => {
				id        => 'inv_Itest0001',
				short_url => 'https://rzp.io/i/inv001',
				status    => 'issued',
				amount    => 299800,
				currency  => 'INR'
			}
		}
	],
	'GET /v1/payments/pay_Ptest0001' => [
		{
			status => 200,
			body   => {
				id       => 'pay_Ptest0001',
				entity   => 'payment',
				status   => 'captured',
				amount   => 49950,
				currency => 'INR',
				method   => 'upi',
				email    => 'ravi@example.com',
				contact  => '+919876543210'
			}
		}
	],
	'GET /v1/payments/pay_Flaky0001' => [
		{
			status => 500,
			body   => {
				error => {
					code        => 'SERVER_ERROR',
					description => 'The server encountered an error. The incident has been reported to admins.'
				}
			}
		},
		{
			status => 200,
			body   => {
				id       => 'pay_Flaky0001',
				status   => 'authorized',
				amount   => 100000,
				currency => 'INR',
				method   => 'card'
			}
		}
	],
);

my %ig_script = (
	"POST /graph/$IG_USER/media"         => [ { status => 200, body => { id => '17900000000000011' } } ],
	"POST /graph/$IG_USER/media_publish" => [ { status => 200, body => { id => '17950000000000022' } } ],
	# crash scenario: the publish hangs until the worker dies, then works
	"POST /graph/$IG_CRASH/media" => [ { status => 200, body => { id => '17900000000000033' } } ],
	"POST /graph/$IG_CRASH/media_publish" =>
	  [ { hang => $true }, { status => 200, body => { id => '17950000000000044' } } ],
	# the publish worked but its answer was lost (500); the retry is told
	# the container was already published
	"POST /graph/$IG_AGAIN/media" => [ { status => 200, body => { id => '17900000000000055' } } ],
	"POST /graph/$IG_AGAIN/media_publish" => [
		{ status => 500, body => { error => { message => 'An unexpected error has occurred. Please retry your request later.', type => 'OAuthException', code => 2, is_transient => $true } } },
		{ status => 400, body => { error => { message => 'The media has already been published', type => 'OAuthException', code => 100 } } },
	],
);

my $slack_ok = { status => 200, body => { ok => $true, channel => 'C0SALES001', ts => '1700000000.000100' } };
my %slack_script = ('POST /slack/chat.postMessage' => [$slack_ok]);

my %llm_script = (
	'POST /llm/v1/chat/completions' => [
		{
			status => 200,
			body   => {
				id      => 'chatcmpl-1',
				object  => 'chat.completion',
				model   => $MODEL,
				choices => [
					{
						index         => 0,
						message       => { role => 'assistant', content => 'Hi Ravi, your order ships today.' },
						finish_reason => 'stop'
					}
				],
				usage => { prompt_tokens => 12, completion_tokens => 8, total_tokens => 20 }
			}
		},
		{
			status => 200,
			body   => {
				id      => 'chatcmpl-2',
				object  => 'chat.completion',
				model   => $MODEL,
				choices => [
					{
						index         => 0,
						message       => { role => 'assistant', content => '{"label": "support", "confidence": 0.87}' },
						finish_reason => 'stop'
					}
				],
				usage => { prompt_tokens => 40, completion_tokens => 9, total_tokens => 49 }
			}
		},
	],
);

my $fakes = start_providers(
	whatsapp  => \%wa_script,
	razorpay  => \%rzp_script,
	instagram => \%ig_script,
	slack     => \%slack_script,
	llm       => \%llm_script);

my $node = new_node('providers');
point_providers($node, $fakes,
	'flowdb.sandbox'   => 'auto',
	'flowdb.llm_model' => $MODEL);

set_credential($node, 'whatsapp', 'default',
	{ account_sid => $WA_SID, auth_token => $WA_TOKEN, from => '+1 415 555 0100' });
set_credential($node, 'whatsapp', 'badnum',
	{ account_sid => $WA_BAD_SID, auth_token => $WA_TOKEN, from => '+14155550100' });
set_credential($node, 'razorpay',  'default', { key_id => $RZP_ID, key_secret => $RZP_SECRET });
set_credential($node, 'slack',     'default', { bot_token => $SLACK_TOK });
set_credential($node, 'instagram', 'default', { access_token => $IG_TOKEN, ig_user_id => $IG_USER });
set_credential($node, 'llm',       'default', { api_key => $LLM_KEY });

# flow_list_credentials shows names and fields, never values
my $listed = $node->safe_psql('postgres',
	"SELECT string_agg(service || '/' || name || ':' || array_to_string(fields, ','), ' ' ORDER BY service, name) "
	  . 'FROM flow_list_credentials()');
is($listed,
	'instagram/default:access_token,ig_user_id llm/default:api_key razorpay/default:key_id,key_secret '
	  . 'slack/default:bot_token whatsapp/badnum:account_sid,auth_token,from '
	  . 'whatsapp/default:account_sid,auth_token,from',
	'flow_list_credentials lists services, names and field names');

# the output row of a node in a run's log
sub out_of
{
	my ($run, $id) = @_;
	my ($l) = grep { $_->{node_id} eq $id && $_->{status} eq 'succeeded' } run_logs($node, $run);
	return $l ? $l->{output} : undef;
}

########################################################################
# happy paths: five runs at once
########################################################################

my $wa_run = flow_execute($node,
	action_bp('wa', action_node('wa', 'whatsapp', 'send_message',
		{ to => '{{trigger_data.phone}}', body => 'Hello {{trigger_data.name}} & team: 100% ready?' })),
	{ phone => '+91 98765-43210', name => 'Ravi' });

my $rzp_run = flow_execute($node,
	action_bp('rzp',
		action_node('link', 'razorpay', 'create_payment_link', {
			amount           => '{{trigger_data.amount}}',
			description      => 'Order {{trigger_data.order}}',
			customer_name    => 'Ravi Kumar',
			customer_contact => '+919876543210',
			customer_email   => 'ravi@example.com',
			reference_id     => '{{trigger_data.order}}'
		}),
		action_node('invoice', 'razorpay', 'create_invoice', {
			customer_name => 'Ravi Kumar',
			amount        => 1499,
			quantity      => 2,
			item_name     => 'Tea box',
			description   => 'Link {{steps.link.output.id}}'
		}),
		action_node('pay', 'razorpay', 'fetch_payment', { payment_id => 'pay_Ptest0001' })),
	{ amount => 499.5, order => 'ORD-1001' });

my $slack_run = flow_execute($node,
	action_bp('slack', action_node('post', 'slack', 'post_message',
		{ channel => '#sales', text => 'New order from {{trigger_data.name}}' })),
	{ name => 'Ravi' });

my $ig_run = flow_execute($node,
	action_bp('ig', action_node('ig', 'instagram', 'publish_photo',
		{ image_url => 'https://cdn.example.com/p/tea.jpg', caption => 'New tea! #chai #fresh' })));

my $llm_run = flow_execute($node,
	action_bp('llm',
		action_node('draft', 'llm', 'complete', {
			prompt      => 'Write a one-line update for {{trigger_data.name}}',
			system      => 'You are a polite shop assistant.',
			temperature => 0.2,
			max_tokens  => 60
		}),
		action_node('label', 'llm', 'classify', {
			text         => '{{steps.draft.output.text}}',
			labels       => [ 'sales', 'support', 'spam' ],
			instructions => 'Shipping updates are support.'
		})),
	{ name => 'Ravi' });

for ([ wa => $wa_run ], [ razorpay => $rzp_run ], [ slack => $slack_run ],
	[ instagram => $ig_run ], [ llm => $llm_run ])
{
	my ($what, $run) = @$_;
	is(wait_run($node, $run, 60), 'succeeded', "$what run succeeded");
}

# ---- whatsapp ----------------------------------------------------------
{
	my @r = $fakes->{whatsapp}->requests;
	is(scalar @r, 1, 'whatsapp: one request');
	my $r = $r[0];
	is($r->{method}, 'POST', 'whatsapp: POST');
	is($r->{path}, $wa_path, 'whatsapp: /2010-04-01/Accounts/{sid}/Messages.json');
	is($r->{headers}{authorization}, basic_auth($WA_SID, $WA_TOKEN),
		'whatsapp: Authorization is Basic base64(account_sid:auth_token)');
	like($r->{headers}{'content-type'}, qr{^application/x-www-form-urlencoded},
		'whatsapp: form-encoded body');
	is($r->{headers}{'idempotency-key'}, idem_key($wa_run, 'wa'), 'whatsapp: Idempotency-Key');
	is($r->{headers}{'i-twilio-idempotency-token'}, idem_key($wa_run, 'wa'),
		'whatsapp: I-Twilio-Idempotency-Token');
	is_deeply(form_decode($r->{body}),
		{
			To   => 'whatsapp:+919876543210',
			From => 'whatsapp:+14155550100',
			Body => 'Hello Ravi & team: 100% ready?'
		},
		'whatsapp: To/From normalised, Body rendered (form fields decode exactly)');
	unlike($r->{body}, qr/\Q$WA_TOKEN\E/, 'whatsapp: the token is not in the body');
	is_deeply(out_of($wa_run, 'wa'),
		{ sid => 'SM0123456789abcdef0123456789abcdef', status => 'queued', to => 'whatsapp:+919876543210' },
		'whatsapp: step output {sid, status, to}');
	my ($log) = grep { $_->{status} eq 'succeeded' } run_logs($node, $wa_run);
	is_deeply($log->{input},
		{ to => '+91 98765-43210', body => 'Hello Ravi & team: 100% ready?' },
		'whatsapp: log input holds the rendered params');
}

# ---- razorpay ----------------------------------------------------------
{
	my $auth = basic_auth($RZP_ID, $RZP_SECRET);
	my ($link) = requests_where($fakes->{razorpay}, 'POST', qr{^/v1/payment_links$});
	ok($link, 'razorpay: payment link requested');
	is($link->{headers}{authorization}, $auth, 'razorpay link: Basic base64(key_id:key_secret)');
	like($link->{headers}{'content-type'}, qr{^application/json}, 'razorpay link: JSON body');
	is($link->{headers}{'idempotency-key'}, idem_key($rzp_run, 'link'), 'razorpay link: Idempotency-Key');
	my $lb = json_dec($link->{body});
	is($lb->{amount}, 49950, 'razorpay link: 499.5 rupees sent as 49950 paise');
	like($link->{body}, qr/"amount"\s*:\s*49950[,}]/, 'razorpay link: amount is an integer JSON number');
	is($lb->{currency}, 'INR', 'razorpay link: currency INR by default');
	is($lb->{description}, 'Order ORD-1001', 'razorpay link: description rendered');
	is($lb->{reference_id}, 'ORD-1001', 'razorpay link: reference_id');
	is_deeply($lb->{customer},
		{ name => 'Ravi Kumar', contact => '+919876543210', email => 'ravi@example.com' },
		'razorpay link: customer');
	is_deeply($lb->{notify}, { sms => $true, email => $true }, 'razorpay link: notify by sms and email');
	is_deeply(out_of($rzp_run, 'link'),
		{
			id            => 'plink_Ptest0001',
			short_url     => 'https://rzp.io/i/tst001',
			status        => 'created',
			amount        => 49950,
			amount_rupees => 499.5,
			currency      => 'INR'
		},
		'razorpay link: step output');

	my ($inv) = requests_where($fakes->{razorpay}, 'POST', qr{^/v1/invoices$});
	ok($inv, 'razorpay: invoice requested');
	is($inv->{headers}{authorization}, $auth, 'razorpay invoice: Basic auth');
	is($inv->{headers}{'idempotency-key'}, idem_key($rzp_run, 'invoice'), 'razorpay invoice: Idempotency-Key');
	my $ib = json_dec($inv->{body});
	is($ib->{type}, 'invoice', 'razorpay invoice: type invoice');
	is($ib->{description}, 'Link plink_Ptest0001', 'razorpay invoice: description from the link step output');
	is_deeply($ib->{customer}, { name => 'Ravi Kumar' }, 'razorpay invoice: customer');
	is_deeply($ib->{line_items},
		[ { name => 'Tea box', amount => 149900, currency => 'INR', quantity => 2 } ],
		'razorpay invoice: one line item, price in paise, quantity');
	is_deeply(out_of($rzp_run, 'invoice'),
		{
			id        => 'inv_Itest0001',
			short_url => 'https://rzp.io/i/inv001',
			status    => 'issued',
			amount    => 299800,
			currency  => 'INR'
		},
		'razorpay invoice: step output');

	my ($pay) = requests_where($fakes->{razorpay}, undef, qr{^/v1/payments/});
	ok($pay, 'razorpay: payment fetched');
	is($pay->{method}, 'GET', 'razorpay fetch: GET');
	is($pay->{path}, '/v1/payments/pay_Ptest0001', 'razorpay fetch: /v1/payments/{id}');
	is($pay->{headers}{authorization}, $auth, 'razorpay fetch: Basic auth');
	is($pay->{body}, '', 'razorpay fetch: no body');
	is_deeply(out_of($rzp_run, 'pay'),
		{
			id            => 'pay_Ptest0001',
			status        => 'captured',
			amount        => 49950,
			amount_rupees => 499.5,
			currency      => 'INR',
			method        => 'upi',
			email         => 'ravi@example.com',
			contact       => '+919876543210'
		},
		'razorpay fetch: step output with amount_rupees');
	is(scalar($fakes->{razorpay}->requests), 3, 'razorpay: three requests, none repeated');
}

# ---- slack -------------------------------------------------------------
{
	my @r = $fakes->{slack}->requests;
	is(scalar @r, 1, 'slack: one request');
	my $r = $r[0];
	is("$r->{method} $r->{path}", 'POST /slack/chat.postMessage', 'slack: POST {base}/chat.postMessage');
	is($r->{headers}{authorization}, "Bearer $SLACK_TOK", 'slack: Authorization Bearer bot token');
	like($r->{headers}{'content-type'}, qr{^application/json}, 'slack: JSON body');
	is($r->{headers}{'idempotency-key'}, idem_key($slack_run, 'post'), 'slack: Idempotency-Key');
	is_deeply(json_dec($r->{body}), { channel => '#sales', text => 'New order from Ravi' },
		'slack: body {channel, text}');
	is_deeply(out_of($slack_run, 'post'),
		{ ok => $true, channel => 'C0SALES001', ts => '1700000000.000100' },
		'slack: step output {ok, channel, ts}');
}

# ---- instagram ---------------------------------------------------------
{
	my @r = requests_where($fakes->{instagram}, undef, qr{^/graph/\Q$IG_USER\E/});
	is_deeply([ map { "$_->{method} $_->{path}" } @r ],
		[ "POST /graph/$IG_USER/media", "POST /graph/$IG_USER/media_publish" ],
		'instagram: container then publish, in that order');
	for my $r (@r)
	{
		is($r->{headers}{authorization}, "Bearer $IG_TOKEN", "instagram $r->{path}: Bearer token");
		like($r->{headers}{'content-type'}, qr{^application/x-www-form-urlencoded},
			"instagram $r->{path}: form body");
		unlike($r->{query} . $r->{body}, qr/access_token|\Q$IG_TOKEN\E/,
			"instagram $r->{path}: token not in query or body");
	}
	is_deeply(form_decode($r[0]{body}),
		{ image_url => 'https://cdn.example.com/p/tea.jpg', caption => 'New tea! #chai #fresh' },
		'instagram: container body image_url + caption');
	is_deeply(form_decode($r[1]{body}), { creation_id => '17900000000000011' },
		'instagram: publish body creation_id = container id');
	is($r[0]{headers}{'idempotency-key'}, idem_key($ig_run, 'ig'), 'instagram: phase 0 Idempotency-Key');
	is($r[1]{headers}{'idempotency-key'}, idem_key($ig_run, 'ig', 1), 'instagram: phase 1 Idempotency-Key');
	is_deeply(out_of($ig_run, 'ig'), { id => '17950000000000022', container_id => '17900000000000011' },
		'instagram: step output {id, container_id}');
	is_deeply(log_counts($node, $ig_run), { 'ig/succeeded' => 1 },
		'instagram: one step, one log row, for two requests');
}

# ---- llm ---------------------------------------------------------------
{
	my @r = $fakes->{llm}->requests;
	is(scalar @r, 2, 'llm: two requests');
	for my $r (@r)
	{
		is("$r->{method} $r->{path}", 'POST /llm/v1/chat/completions', 'llm: POST {base}/chat/completions');
		is($r->{headers}{authorization}, "Bearer $LLM_KEY", 'llm: Bearer api key');
	}
	is($r[0]{headers}{'idempotency-key'}, idem_key($llm_run, 'draft'), 'llm complete: Idempotency-Key');
	my $c = json_dec($r[0]{body});
	is($c->{model}, $MODEL, 'llm complete: model from flowdb.llm_model');
	is_deeply($c->{messages},
		[
			{ role => 'system', content => 'You are a polite shop assistant.' },
			{ role => 'user',   content => 'Write a one-line update for Ravi' }
		],
		'llm complete: system + user messages');
	is($c->{temperature}, 0.2, 'llm complete: temperature');
	is($c->{max_tokens},  60,  'llm complete: max_tokens');
	is_deeply(out_of($llm_run, 'draft'),
		{
			text          => 'Hi Ravi, your order ships today.',
			model         => $MODEL,
			usage         => { prompt_tokens => 12, completion_tokens => 8, total_tokens => 20 },
			finish_reason => 'stop'
		},
		'llm complete: step output {text, model, usage, finish_reason}');

	my $k = json_dec($r[1]{body});
	is($k->{model}, $MODEL, 'llm classify: model');
	is($k->{temperature}, 0, 'llm classify: temperature 0');
	is($k->{messages}[1]{role}, 'user', 'llm classify: user message');
	is($k->{messages}[1]{content}, 'Hi Ravi, your order ships today.',
		'llm classify: text rendered from the complete step');
	like($k->{messages}[0]{content}, qr/\["sales",\s*"support",\s*"spam"\]/,
		'llm classify: system prompt lists the labels');
	like($k->{messages}[0]{content}, qr/Shipping updates are support\./,
		'llm classify: system prompt carries the instructions');
	is($k->{response_format}{type}, 'json_schema', 'llm classify: json_schema response format');
	is($k->{response_format}{json_schema}{strict}, $true, 'llm classify: strict schema');
	is_deeply($k->{response_format}{json_schema}{schema}{properties}{label}{enum},
		[ 'sales', 'support', 'spam' ], 'llm classify: label enum = labels');
	is_deeply(out_of($llm_run, 'label'), { label => 'support', confidence => 0.87 },
		'llm classify: step output {label, confidence}');
}

########################################################################
# provider errors
########################################################################

# Twilio 400 21211: permanent, no retry, the message in the error
{
	my $run = flow_execute($node,
		action_bp('wa-bad', action_node('wa', 'whatsapp', 'send_message',
			{ to => '+15005550001', body => 'hi' }, credential => 'badnum')));
	is(wait_run($node, $run, 60), 'failed', 'twilio 400: run failed');
	my @r = requests_where($fakes->{whatsapp}, 'POST', qr{^\Q$wa_bad_path\E$});
	is(scalar @r, 1, 'twilio 400: sent once, not retried');
	my @l = run_logs($node, $run);
	is_deeply([ map { "$_->{node_id}/$_->{status}/$_->{attempt}" } @l ], ['wa/failed/1'],
		'twilio 400: one failed log row, attempt 1');
	like($l[0]{error}, qr/^Twilio error 21211: The 'To' number whatsapp:\+15005550001 is not a valid phone number\.$/,
		'twilio 400: log error carries Twilio code and message');
	like(run_row($node, $run)->{error}, qr/node wa failed: Twilio error 21211/, 'twilio 400: run error');
}

# Razorpay 500 then 200: retried with the same request, then succeeded
{
	my $run = flow_execute($node,
		action_bp('rzp-flaky', action_node('pay', 'razorpay', 'fetch_payment', { payment_id => 'pay_Flaky0001' })));
	is(wait_run($node, $run, 60), 'succeeded', 'razorpay 500 then 200: run succeeded');
	my @r = requests_where($fakes->{razorpay}, 'GET', qr{^/v1/payments/pay_Flaky0001$});
	is(scalar @r, 2, 'razorpay 500 then 200: two requests');
	is_deeply([ map { "$_->{status}/$_->{attempt}" } run_logs($node, $run) ],
		[ 'retrying/1', 'succeeded/2' ], 'razorpay 500 then 200: retrying then succeeded');
	my @l = run_logs($node, $run);
	like($l[0]{error}, qr/Razorpay SERVER_ERROR: The server encountered an error/,
		'razorpay 500: the retrying row has the Razorpay error');
	is(out_of($run, 'pay')->{amount_rupees}, 1000, 'razorpay retry: output of the 200');
}

# Slack 200 {"ok": false, "error": "ratelimited"} is retried, then ok
{
	$fakes->{slack}->reset;
	$fakes->{slack}->set_script({
		'POST /slack/chat.postMessage' => [
			{ status => 200, body => { ok => $false, error => 'ratelimited' } },
			$slack_ok
		] });
	my $run = flow_execute($node,
		action_bp('slack-rl', action_node('post', 'slack', 'post_message',
			{ channel => 'C0SALES001', text => 'retry me' }, retry => { max_attempts => 3, backoff_ms => 100 })));
	is(wait_run($node, $run, 60), 'succeeded', 'slack ratelimited: run succeeded');
	my @r = $fakes->{slack}->requests;
	is(scalar @r, 2, 'slack ratelimited: sent twice');
	is_deeply([ map { $_->{headers}{'idempotency-key'} } @r ], [ (idem_key($run, 'post')) x 2 ],
		'slack ratelimited: same Idempotency-Key on the retry');
	my @l = run_logs($node, $run);
	is_deeply([ map { "$_->{status}/$_->{attempt}" } @l ], [ 'retrying/1', 'succeeded/2' ],
		'slack ratelimited: retrying then succeeded');
	is($l[0]{error}, 'Slack error: ratelimited', 'slack ratelimited: error of the retrying row');
}

# Slack channel_not_found: HTTP 200 but a permanent error
{
	$fakes->{slack}->reset;
	$fakes->{slack}->set_script({
		'POST /slack/chat.postMessage' => [ { status => 200, body => { ok => $false, error => 'channel_not_found' } } ] });
	my $run = flow_execute($node,
		action_bp('slack-404', action_node('post', 'slack', 'post_message', { channel => '#nope', text => 'x' })));
	is(wait_run($node, $run, 60), 'failed', 'slack channel_not_found: run failed');
	is(scalar($fakes->{slack}->requests), 1, 'slack channel_not_found: not retried');
	my @l = run_logs($node, $run);
	is_deeply([ map { "$_->{status}/$_->{attempt}" } @l ], ['failed/1'], 'slack channel_not_found: one failed row');
	is($l[0]{error}, 'Slack error: channel_not_found', 'slack channel_not_found: the error code');
}

# Instagram: a publish retried after a lost answer finds the container
# already published: done, with the same container, no second container
{
	my $ig = $fakes->{instagram};
	my $run = flow_execute($node,
		action_bp('ig-again', action_node('ig', 'instagram', 'publish_photo',
			{ image_url => 'https://cdn.example.com/p/again.jpg', ig_user_id => $IG_AGAIN },
			retry => { max_attempts => 3, backoff_ms => 100 })));
	is(wait_run($node, $run, 60), 'succeeded', 'instagram already published: run succeeded');
	is(scalar(requests_where($ig, 'POST', qr{^/graph/\Q$IG_AGAIN\E/media$})), 1,
		'instagram already published: one container');
	my @p = requests_where($ig, 'POST', qr{^/graph/\Q$IG_AGAIN\E/media_publish$});
	is_deeply([ map { form_decode($_->{body})->{creation_id} } @p ], [ ('17900000000000055') x 2 ],
		'instagram already published: the retry published the same container');
	is_deeply(out_of($run, 'ig'), { container_id => '17900000000000055', already_published => $true },
		'instagram already published: output {container_id, already_published: true}');
	is_deeply([ map { "$_->{status}/$_->{attempt}" } run_logs($node, $run) ], [ 'retrying/1', 'succeeded/2' ],
		'instagram already published: retrying (transient 500), then succeeded');
}

# An error answer that quotes the credential (as some OpenAI-compatible
# servers and proxies do for a rejected key) must not put it in the logs
{
	my $leaky = 'sk-leakyKEYSECRET77ab';
	set_credential($node, 'llm', 'leaky', { api_key => $leaky });
	$fakes->{llm}->set_script({
		'POST /llm/v1/chat/completions' => [
			{
				status => 401,
				body   => {
					error => {
						message => "Incorrect API key provided: $leaky. You can find your API key in your account settings.",
						type    => 'invalid_request_error',
						code    => 'invalid_api_key'
					}
				}
			}
		] });
	my $run = flow_execute($node,
		action_bp('llm-401', action_node('draft', 'llm', 'complete', { prompt => 'hi' }, credential => 'leaky')));
	is(wait_run($node, $run, 60), 'failed', 'llm 401: run failed');
	my ($l) = run_logs($node, $run);
	like($l->{error} // '', qr/^LLM HTTP 401 invalid_api_key: Incorrect API key provided/,
		'llm 401: the error keeps the provider message');
	is_deeply([ leaks($node, $leaky) ], [],
		'llm 401: the api key quoted by the provider is not stored in workflow_logs or runs');
}

########################################################################
# instagram crash safety: kill -9 while media_publish is in flight
########################################################################
{
	my $ig = $fakes->{instagram};
	my $run = flow_execute($node,
		action_bp('ig-crash', action_node('ig', 'instagram', 'publish_photo',
			{ image_url => 'https://cdn.example.com/p/crash.jpg', caption => 'crash test', ig_user_id => $IG_CRASH },
			timeout_ms => 60000)));

	# the container was created, the phase committed, the publish is hanging
	ok(wait_until($node,
			"SELECT state #>> '{nodes,ig,phase}' = '1' "
		  . "AND state #>> '{nodes,ig,phase_state,container_id}' = '17900000000000033' "
		  . "FROM flowdb.runs WHERE id = '$run'", 't', 60),
		'instagram crash: phase 1 and the container id are committed');
	my $deadline = time + 60;
	usleep(50_000)
	  until requests_where($ig, 'POST', qr{^/graph/\Q$IG_CRASH\E/media_publish$}) || time > $deadline;
	is(scalar(requests_where($ig, 'POST', qr{^/graph/\Q$IG_CRASH\E/media_publish$})), 1,
		'instagram crash: the publish request is in flight');

	my $pid = kill_worker($node);
	ok(wait_worker($node, $pid, 90), 'instagram crash: the cluster restarted a worker');
	is(wait_run($node, $run, 90), 'succeeded', 'instagram crash: run succeeded after recovery');

	my @media   = requests_where($ig, 'POST', qr{^/graph/\Q$IG_CRASH\E/media$});
	my @publish = requests_where($ig, 'POST', qr{^/graph/\Q$IG_CRASH\E/media_publish$});
	is(scalar @media, 1, 'instagram crash: the container was created exactly once');
	is(scalar @publish, 2, 'instagram crash: media_publish sent again after the crash');
	is_deeply([ map { form_decode($_->{body})->{creation_id} } @publish ],
		[ '17900000000000033', '17900000000000033' ],
		'instagram crash: both publish requests carry the same creation_id');
	is_deeply([ map { $_->{headers}{'idempotency-key'} } @publish ],
		[ (idem_key($run, 'ig', 1)) x 2 ],
		'instagram crash: both publish requests carry the same Idempotency-Key');
	is_deeply(out_of($run, 'ig'), { id => '17950000000000044', container_id => '17900000000000033' },
		'instagram crash: output of the publish after recovery');
	is_deeply(log_counts($node, $run), { 'ig/succeeded' => 1 }, 'instagram crash: one log row');
}

########################################################################
# secrets: nowhere in logs, outbox or runs
########################################################################

is_deeply([ leaks($node, @SECRETS) ], [], 'no secret (or its base64) in workflow_logs, outbox or runs');
is($node->safe_psql('postgres', 'SELECT count(*) FROM flowdb.outbox'), '0',
	'nothing went to the sandbox outbox (every service had a credential)');
like(table_text($node, 'flowdb.workflow_logs'), qr/Ravi/, '(sanity: the log text is searchable)');

is_deeply([ crash_lines($node) ], [], 'no server process crashed (other than the SIGKILL sent by this test)');

done_testing();
