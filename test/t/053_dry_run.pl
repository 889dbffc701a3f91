# 053_dry_run.pl: dry runs against a live server (issue 10, section 2).
# The server sends for real (flowdb.sandbox = off) and the owner has a
# Slack credential; a run started with sandbox => true sends nothing: every
# action step records its exact request in flowdb.outbox (secret redacted)
# and succeeds with the task's sample output, and flow_status says it was a
# dry run.  A normal run does send.  Also: a draft workflow dry-run, then
# activated and run for real; a workflow flagged with flow_set_sandbox
# started by an event, and resumed by another, sends nothing; with the
# server's flowdb.sandbox = on, sandbox => false still sends nothing.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;    # FlowdbTest.pm (PROVE_FLAGS does not reach prove)
use FlowdbTest;
use FlowdbTools;

my $node = new_node('dry_run', 'flowdb.sandbox' => 'off');
my $fake = start_fake({});
reload_settings($node, 'flowdb.slack_base_url' => $fake->url('/slack'));
my $secret = 'xoxb-dry-run-secret-7d1f';
set_credential($node, 'slack', 'default', { bot_token => $secret });

# bp(NAME, PATH): an http POST to PATH of the fake, then a Slack message
sub bp
{
	my ($name, $path) = @_;
	return action_bp($name,
		http_node('call', $fake->url($path), body => { order => '{{ trigger_data.order }}' }),
		action_node('tell', 'slack', 'post_message',
			{ channel => '#orders', text => 'order {{ trigger_data.order }}' }));
}

# sent(PATH): requests the fake received on PATH
sub sent { return scalar $fake->requests_for($_[0]); }

# outbox(RUN): the run's outbox rows
sub outbox
{
	my ($run) = @_;
	return @{
		query_json($node,
			"SELECT coalesce(jsonb_agg(to_jsonb(o) ORDER BY o.id), '[]') "
			  . "FROM flowdb.outbox o WHERE run_id = '$run'")
	};
}

# 1. a normal run sends (the server is live)
my $live = flow_execute($node, bp('live', '/live'), { order => 1 });
is(wait_run($node, $live, 60), 'succeeded', 'a normal run succeeds');
is(sent('/live'), 1, 'and sends its http request');
is(sent('/slack/chat.postMessage'), 1, 'and its Slack message');
is(scalar(outbox($live)), 0, 'nothing in the outbox');
is(flow_status_of($node, $live)->{sandbox}, JSON::PP::false, 'flow_status: not a dry run');

# 2. the same blueprint as a dry run sends nothing
my $dry = $node->safe_psql('postgres',
	'SELECT flow_execute(' . sql_json(bp('dry', '/dry')) . ", '{\"order\": 2}', sandbox => true)");
is(wait_run($node, $dry, 60), 'succeeded', 'a dry run succeeds');
is(sent('/dry'), 0, 'its http request was not sent');
is(sent('/slack/chat.postMessage'), 1, 'nor its Slack message (still only the live one)');
my @o = outbox($dry);
is(scalar @o, 2, 'both requests are in the outbox');
is_deeply([ map { "$_->{node_id} $_->{service}.$_->{task} $_->{method}" } @o ],
	[ 'call http.request POST', 'tell slack.post_message POST' ], 'as the exact calls');
is($o[0]{url}, $fake->url('/dry'), 'with the URL');
like($o[0]{body} // '', qr/"order":\s*"?2/, 'and the rendered body');
is($o[1]{url}, $fake->url('/slack') . '/chat.postMessage', 'the Slack call to the configured base URL');
unlike(json_enc(\@o), qr/\Q$secret\E/, 'the credential is not in the outbox');
my $st = flow_status_of($node, $dry);
is($st->{sandbox}, JSON::PP::true, 'flow_status says it was a dry run');
my %out = map { $_->{node_id} => $_->{output} } grep { $_->{status} eq 'succeeded' } @{ $st->{steps} };
ok($out{call}{body}{sandbox} && $out{tell}{sandbox}, 'each step output is the sample, marked "sandbox"')
  or diag(json_enc(\%out));

# 3. the editor's flow: a draft is dry-run, then activated and run for real
my $draft = save_workflow($node, bp('draft', '/draft'), 0);
my $d1 = $node->safe_psql('postgres',
	"SELECT flow_run('$draft', '{\"order\": 3}', sandbox => true)");
is(wait_run($node, $d1, 60), 'succeeded', 'a draft (inactive) workflow runs as a dry run');
is(sent('/draft'), 0, 'sending nothing');
is(scalar(outbox($d1)), 2, 'its requests are in the outbox');
$node->safe_psql('postgres', "SELECT flow_activate('$draft')");
my $d2 = $node->safe_psql('postgres', "SELECT flow_run('$draft', '{\"order\": 4}')");
is(wait_run($node, $d2, 60), 'succeeded', 'activated, a run of it');
is(sent('/draft'), 1, 'sends');

# 4. a flagged workflow started by an event, waiting for a second event:
# nothing is sent, before or after the resume
my $flagged = save_workflow($node, {
		version => 1,
		name    => 'flagged',
		trigger => { type => 'event', event => 'shop.order' },
		nodes   => [
			{ id => 'paid', type => 'wait_event', event => 'shop.paid' },
			http_node('ship', $fake->url('/ship')) ],
		edges => [ chain('paid', 'ship') ] });
is($node->safe_psql('postgres', "SELECT flow_set_sandbox('$flagged')"), 't', 'workflow flagged');
my $ev = $node->safe_psql('postgres',
	"SELECT (flow_send_event('shop.order', '{\"order\": 5}'))[1]");
ok(wait_status($node, $ev, 'waiting', 60, 'r.lease_owner IS NULL'), 'the event started a run, now waiting');
$node->safe_psql('postgres', "SELECT flow_send_event('shop.paid', '{}')");
is(wait_run($node, $ev, 60), 'succeeded', 'resumed by the second event, it finishes');
is(sent('/ship'), 0, 'and sent nothing');
is(scalar(outbox($ev)), 1, 'the request is in the outbox');
is(flow_status_of($node, $ev)->{sandbox}, JSON::PP::true, 'flow_status: a dry run');

# 5. the server in sandbox: a caller cannot make a run less safe
reload_settings($node, 'flowdb.sandbox' => 'on');
my $unsafe = $node->safe_psql('postgres',
	'SELECT flow_execute(' . sql_json(bp('unsafe', '/unsafe')) . ", '{\"order\": 6}', sandbox => false)");
is(wait_run($node, $unsafe, 60), 'succeeded', 'sandbox => false with flowdb.sandbox = on')
  or diag(json_enc(flow_status_of($node, $unsafe)));
is(sent('/unsafe'), 0, 'still sends nothing');
is(scalar(outbox($unsafe)), 2, 'the requests are in the outbox');

$node->stop('fast');
done_testing();
