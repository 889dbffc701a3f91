# 054_backlog_claim.pl: a worker that holds all the runs it may hold
# claims the rest of a backlog as soon as held runs finish.
#
# flowdb.max_inflight = 2 (so a worker holds at most 8 runs),
# flowdb.claim_batch = 2 and flowdb.scan_interval_ms = 600000: the periodic
# scan never fires during the test, and one commit queues 30 runs against a
# server answering in 200 ms.  The worker fills its 8 places in four claims
# and must go on claiming when they free up, without a wake-up from a
# client's commit.  It used to stop claiming once it was full and wait for
# the next periodic scan (here ten minutes; by default up to a second of
# empty in-flight slots behind every backlog).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;    # FlowdbTest.pm (PROVE_FLAGS does not reach prove)
use FlowdbTest;
use FlowdbTools qw(wait_until);

my $node = new_node('backlog',
	'flowdb.max_inflight'     => '2',
	'flowdb.claim_batch'      => '2',
	'flowdb.scan_interval_ms' => '600000');
my $fake = start_fake({ '/slow/*' => [ { delay_ms => 200, body => { ok => JSON::PP::true } } ] });
ok(wait_until($node, "SELECT count(*) = 1 FROM flowdb.worker_info() WHERE pid <> 0"),
	'the worker runs');

# let the worker finish its start-up scan before the backlog is queued
my $warm = flow_execute($node,
	blueprint(name => 'warm', nodes => [ http_node('s', $fake->url('/slow/warm')) ]));
is(wait_run($node, $warm, 60), 'succeeded', 'a first run succeeded');
$fake->reset;

my $bp = blueprint(name => 'backlog',
	nodes => [ http_node('s', $fake->url('/slow/{{trigger_data.i}}')) ]);
flow_execute_many($node, $bp, 30);

# 15 rounds of 200 ms at 2 in flight: about 3 s; 60 s is far below the
# ten-minute scan that used to be the only way on after the first 8 runs
ok(wait_runs($node, "blueprint->>'name' = 'backlog'", 60),
	'all 30 runs finished without a periodic scan');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM flowdb.runs WHERE blueprint->>'name' = 'backlog' AND status = 'succeeded'"),
	'30', 'and every one succeeded');
my $st = $fake->stats;
note 'server: ' . json_enc($st);
is($st->{requests}, 30, 'one request per run');
cmp_ok($st->{max_inflight}, '<=', 2, 'never more than flowdb.max_inflight at once');
is($node->safe_psql('postgres',
		"SELECT count(DISTINCT lease_owner) FROM flowdb.runs WHERE blueprint->>'name' = 'backlog' AND lease_owner IS NOT NULL"),
	'0', 'no run is left leased');

$fake->stop;
done_testing();
