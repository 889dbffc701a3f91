# 007_service_limits.pl: flowdb.service_limits caps requests in flight per
# service, while other services keep their own pace.
#
# With flowdb.service_limits = 'http=2', 20 one-step http runs against a
# server that answers in 200 ms: all succeed, the server never sees more
# than 2 requests at once, and it does see 2 (the cap is not a
# serialisation).  A bad setting is refused by the check hook.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use FlowdbTest;

my $node = new_node('limits');
my $fake = start_fake({ '/slow*' => [ { delay_ms => 200, body => { ok => JSON::PP::true } } ] });

# a bad value is refused with the reason
my ($rc, $out, $err) =
  $node->psql('postgres', "ALTER SYSTEM SET flowdb.service_limits = 'smtp=3'");
isnt($rc, 0, 'unknown service in flowdb.service_limits is refused');
like($err, qr/unknown service "smtp"/, 'the error names the service');

$node->safe_psql('postgres', "ALTER SYSTEM SET flowdb.service_limits = 'http=2'");
$node->safe_psql('postgres', 'SELECT pg_reload_conf()');
ok($node->poll_query_until('postgres', 'SHOW flowdb.service_limits', 'http=2'),
	'service_limits reloaded');
sleep 1;    # the worker re-reads its configuration at its next wake-up

my $bp = blueprint(
	name  => 'limited',
	nodes => [ http_node('call', $fake->url('/slow/{{trigger_data.i}}')) ]);
$node->safe_psql('postgres',
	    'SELECT count(flow_execute(' . sql_json($bp)
	  . ", jsonb_build_object('i', g))) FROM generate_series(1, 20) g");
ok(wait_runs($node, "blueprint->>'name' = 'limited'", 60), 'all runs finished');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM flowdb.runs WHERE blueprint->>'name' = 'limited' AND status = 'succeeded'"),
	'20', 'all 20 runs succeeded');

my $stats = $fake->stats;
note 'server stats: ' . json_enc($stats);
is($stats->{requests}, 20, 'one request per run');
cmp_ok($stats->{max_inflight}, '<=', 2, 'never more than 2 http requests at once');
cmp_ok($stats->{max_inflight}, '>=', 2, 'but 2 at once (the cap is not a serialisation)');

$fake->stop;
$node->stop;
done_testing();
