# 007_service_limits.pl: flowdb.service_limits caps requests in flight per
# service, while other services keep their own pace.
#
# With flowdb.service_limits = 'http=2', 20 one-step http runs against a
# server that answers in 200 ms: all succeed, the server never sees more
# than 2 requests at once, and it does see 2 (the cap is not a
# serialisation).  8 slack runs queued in the same transaction go at
# their own pace: more than 2 slack requests at once, and all of them
# answered before the capped http queue has drained.  A bad setting is
# refused by the check hook.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use FlowdbTest;
use FlowdbTools;

my $node = new_node('limits');
my $fake = start_fake({ '/slow*' => [ { delay_ms => 200, body => { ok => JSON::PP::true } } ] });
my $slack = start_fake({
	'POST /slack/chat.postMessage' => [ {
		delay_ms => 200,
		body     => { ok => JSON::PP::true, channel => 'C0LIMITS01', ts => '1700000000.000100' } } ] });

# a bad value is refused with the reason
my ($rc, $out, $err) =
  $node->psql('postgres', "ALTER SYSTEM SET flowdb.service_limits = 'smtp=3'");
isnt($rc, 0, 'unknown service in flowdb.service_limits is refused');
like($err, qr/unknown service "smtp"/, 'the error names the service');

reload_settings($node,
	'flowdb.service_limits'  => 'http=2',
	'flowdb.slack_base_url' => provider_base($slack, 'slack'));
is($node->safe_psql('postgres', 'SHOW flowdb.service_limits'), 'http=2', 'service_limits reloaded');
set_credential($node, 'slack', 'default', { bot_token => 'xoxb-0000-limits' });

my $bp = blueprint(
	name  => 'limited',
	nodes => [ http_node('call', $fake->url('/slow/{{trigger_data.i}}')) ]);
my $sbp = action_bp('slack-pace',
	action_node('post', 'slack', 'post_message', { channel => '#limits', text => 'n {{trigger_data.i}}' }));
$node->safe_psql('postgres',
	    'SELECT count(flow_execute(' . sql_json($bp)
	  . ", jsonb_build_object('i', g))) FROM generate_series(1, 20) g;"
	  . 'SELECT count(flow_execute(' . sql_json($sbp)
	  . ", jsonb_build_object('i', g))) FROM generate_series(1, 8) g;");
ok(wait_runs($node, "blueprint->>'name' = 'limited'", 60), 'all runs finished');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM flowdb.runs WHERE blueprint->>'name' = 'limited' AND status = 'succeeded'"),
	'20', 'all 20 runs succeeded');

my $stats = $fake->stats;
note 'server stats: ' . json_enc($stats);
is($stats->{requests}, 20, 'one request per run');
cmp_ok($stats->{max_inflight}, '<=', 2, 'never more than 2 http requests at once');
cmp_ok($stats->{max_inflight}, '>=', 2, 'but 2 at once (the cap is not a serialisation)');

# the other service keeps its own pace
ok(wait_runs($node, "blueprint->>'name' = 'slack-pace'", 60), 'all slack runs finished');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM flowdb.runs WHERE blueprint->>'name' = 'slack-pace' AND status = 'succeeded'"),
	'8', 'all 8 slack runs succeeded');
my $sstats = $slack->stats;
note 'slack server stats: ' . json_enc($sstats);
is($sstats->{requests}, 8, 'one slack request per run');
cmp_ok($sstats->{max_inflight}, '>', 2, 'slack is not held to the http cap');
my ($last_slack) = sort { $b <=> $a } map { $_->{time} } $slack->requests;
my ($last_http)  = sort { $b <=> $a } map { $_->{time} } $fake->requests;
cmp_ok($last_slack, '<', $last_http, 'every slack request arrived before the capped http queue drained');

$fake->stop;
$slack->stop;
$node->stop;
done_testing();
