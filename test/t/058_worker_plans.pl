# 058_worker_plans.pl: the worker plans its claim and its commit once.
#
# Both are prepared for the life of the worker and written for one generic
# plan.  Left to the plan cache's default, the commit's array parameters
# made every execution look cheaper as a custom plan, so each commit was
# planned again (strace: the size of flowdb.runs and of its 8 indexes read
# once per mention of the table, every commit).  pg_stat_statements with
# track_planning counts the planner's runs per statement: after runs queued
# one at a time (a claim and a commit each), both statements must show many
# executions and hardly any planning (once, again after an invalidation
# such as an autovacuum ANALYZE of flowdb.runs).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;    # FlowdbTest.pm (PROVE_FLAGS does not reach prove)
use FlowdbTest;

my $node = new_node('plans',
	shared_preload_libraries         => 'flowdb,pg_stat_statements',
	'pg_stat_statements.track'       => 'all',
	'pg_stat_statements.track_planning' => 'on');
$node->safe_psql('postgres', 'CREATE EXTENSION pg_stat_statements');

my $fake = start_fake({ '/*' => [ { body => { ok => JSON::PP::true } } ] });
my $bp = blueprint(name => 'plans', nodes => [ http_node('s', $fake->url('/plans')) ]);

# one run at a time: each is claimed and committed on its own
my $n = 15;
for my $i (1 .. $n)
{
	my $run = flow_execute($node, $bp, { i => $i });
	is(wait_run($node, $run, 30), 'succeeded', "run $i succeeded") or last;
}

# statement text of the worker's claim and commit (store.c)
my %statement = (
	claim  => "s.query LIKE 'WITH RECURSIVE owners%' AND s.query LIKE '%lease_owner%'",
	commit => "s.query LIKE 'WITH x AS%' AND s.query LIKE '%flowdb.workflow_logs%'");
for my $what (sort keys %statement)
{
	my ($calls, $plans) = split /\|/, $node->safe_psql('postgres',
		"SELECT coalesce(sum(s.calls), 0), coalesce(sum(s.plans), 0) "
		  . "FROM pg_stat_statements s WHERE $statement{$what}");
	cmp_ok($calls, '>=', $n, "the worker's $what ran at least once per run ($calls)");
	cmp_ok($plans, '<=', 3, "and was planned at most 3 times ($plans)");
}

$fake->stop;
done_testing();
