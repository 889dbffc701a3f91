# 060_worker_stats.pl: the worker's writes reach the table statistics.
#
# A backend hands its counts of rows inserted, updated and deleted to the
# cumulative statistics between statements; a background worker has to do
# it itself.  The worker did not, so pg_stat_user_tables never counted its
# claims and finishes (updates of flowdb.runs) nor its log rows (inserts
# into flowdb.workflow_logs), and autovacuum and autoanalyze, which act on
# those counts, never saw the bulk of flowdb's writes.
#
# Checked: after runs finish, the counts include every claim, finish and
# log row, and they arrive while the worker is idle, even with a periodic
# scan of a minute (counts held back by the server's once-a-second limit
# are forced out within its idle interval, as an idle backend does).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;    # FlowdbTest.pm (PROVE_FLAGS does not reach prove)
use FlowdbTest;

my $node = new_node('stats', autovacuum => 'off');
my $fake = start_fake({ '/*' => [ { body => { ok => JSON::PP::true } } ] });
my $bp = blueprint(name => 'stats', nodes => [ http_node('s', $fake->url('/stats')) ]);

# caught_up(RUNS): the statistics count at least a claim and a finish per
# run and every log row there is (only the worker updates runs and
# inserts log rows here)
sub caught_up
{
	my ($runs) = @_;
	my $updates = 2 * $runs;
	return "SELECT r.n_tup_upd >= $updates "
	  . "AND l.n_tup_ins >= (SELECT count(*) FROM flowdb.workflow_logs) "
	  . "AND l.n_tup_ins > 0 "
	  . "FROM pg_stat_user_tables r, pg_stat_user_tables l "
	  . "WHERE r.relid = 'flowdb.runs'::regclass "
	  . "AND l.relid = 'flowdb.workflow_logs'::regclass";
}

my @runs = map { flow_execute($node, $bp, { i => $_ }) } 1 .. 3;
ok(wait_runs($node, 'true', 30), 'three runs finished');
ok(poll($node, caught_up(3), 't', 15),
	"the worker's claims, finishes and log rows are counted");

# a minute between periodic scans: nothing but the statistics wakes it
$node->safe_psql('postgres',
	"ALTER SYSTEM SET flowdb.scan_interval_ms = 60000; SELECT pg_reload_conf()");
ok(poll($node,
		"SELECT setting = '60000' FROM pg_settings WHERE name = 'flowdb.scan_interval_ms'",
		't', 10),
	'scan interval reloaded');
push @runs, flow_execute($node, $bp, { i => 4 });
ok(wait_runs($node, 'true', 30), 'a fourth run finished');
ok(poll($node, caught_up(4), 't', 30), 'its counts arrived');

# a fifth run right after: its counts come less than a second after the
# last flush, are held back, and must be forced out while the worker idles
push @runs, flow_execute($node, $bp, { i => 5 });
ok(wait_runs($node, 'true', 30), 'a fifth run finished');
ok(poll($node, caught_up(5), 't', 30),
	'its counts arrived too, well before the next periodic scan');

$fake->stop;
done_testing();
