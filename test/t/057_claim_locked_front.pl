# 057_claim_locked_front.pl: runs locked at the front of the queue (by
# another worker's claim in progress, or a client) do not stop a worker's
# claim.
#
# flowdb.workers = 2, flowdb.claim_batch = 4, flowdb.scan_interval_ms =
# 600000.  Twelve runs are queued without waking the workers; a client
# locks the 4 oldest (the order of the claim) and keeps its transaction
# open; then a thirteenth run wakes the workers.  A claim walked only
# claim_batch candidates per owner: it found those 4 locked, claimed
# nothing, and the workers idled until the next periodic scan, which found
# the same 4 (two workers claiming at once collide the same way: two
# workers ran at half the speed of one in bench/).  The claim now walks
# claim_batch x flowdb.workers candidates: the 9 unlocked runs finish while
# the lock is held, and the 4 once it is gone.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;    # FlowdbTest.pm (PROVE_FLAGS does not reach prove)
use FlowdbTest;
use FlowdbTools qw(wait_until);

my $node = new_node('lockedfront',
	'flowdb.workers'          => '2',
	'flowdb.claim_batch'      => '4',
	'flowdb.scan_interval_ms' => '600000');
my $fake = start_fake({ '/*' => [ { body => { ok => JSON::PP::true } } ] });
ok(wait_until($node, "SELECT count(*) = 2 FROM flowdb.worker_info() WHERE pid <> 0"),
	'both workers run');
my $bp = blueprint(name => 'front', nodes => [ http_node('s', $fake->url('/front/{{trigger_data.i}}')) ]);
# the workers' start-up scans are over once a first run went through
is(wait_run($node, flow_execute($node, $bp, { i => 0 }), 60), 'succeeded', 'a first run succeeded');

# queued without a wake-up: the workers do not look before the 13th run
$node->safe_psql('postgres', q{
	ALTER TABLE flowdb.runs DISABLE TRIGGER runs_wake;
	SELECT count(flow_execute(} . sql_json($bp) . q{, jsonb_build_object('i', g)))
	FROM generate_series(1, 12) g;
	ALTER TABLE flowdb.runs ENABLE TRIGGER runs_wake});
is($node->safe_psql('postgres', "SELECT count(*) FROM flowdb.runs WHERE status = 'queued'"),
	'12', '12 runs queued, none claimed');

my $bg = $node->background_psql('postgres', on_error_stop => 1);
$bg->query_safe('BEGIN');
my $locked = $bg->query_safe(q{SELECT string_agg(i, ',' ORDER BY i::int) FROM
	(SELECT payload->>'i' AS i FROM flowdb.runs WHERE finished_at IS NULL
	 ORDER BY owner, next_at, id LIMIT 4 FOR UPDATE) l});
$locked =~ s/\s+//g;
like($locked, qr/^\d+(,\d+){3}$/, "the client locks the 4 runs at the front: $locked");
my $not_locked = "NOT (payload->>'i' = ANY (string_to_array('$locked', ',')))";

flow_execute($node, $bp, { i => 13 });
ok(wait_until($node,
		"SELECT count(*) = 10 FROM flowdb.runs WHERE blueprint->>'name' = 'front' "
		  . "AND status = 'succeeded' AND $not_locked", 't', 60),
	'the 9 unlocked runs (and the first) finished while the 4 at the front were locked')
  or diag $node->safe_psql('postgres',
	"SELECT payload->>'i', status, lease_owner FROM flowdb.runs ORDER BY next_at, id");
is($node->safe_psql('postgres',
		"SELECT count(*) FROM flowdb.runs WHERE status = 'queued' AND NOT ($not_locked)"),
	'4', 'the locked ones are still queued');

$bg->query_safe('COMMIT');
$bg->quit;
# a wake-up: the lock going away wakes no worker (the scan is 10 minutes)
flow_execute($node, $bp, { i => 14 });
ok(wait_runs($node, "blueprint->>'name' = 'front'", 60), 'and the rest once the lock is gone');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM flowdb.runs WHERE blueprint->>'name' = 'front' AND status = 'succeeded'"),
	'15', 'all 15 runs succeeded');
is(scalar($fake->server_requests), 15, 'one request per run');

$fake->stop;
done_testing();
