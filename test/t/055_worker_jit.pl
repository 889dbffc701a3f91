# 055_worker_jit.pl: the worker never JIT-compiles its statements.
#
# A commit of a few hundred runs is estimated past jit_above_cost, and
# compiling it took longer than running it (50-70 ms, every time).  With
# jit_above_cost = 0 every statement of a client is compiled (when the
# server has LLVM: the control below shows it), so any statement of the
# worker past the default cost would be too; pg_stat_statements
# (track = all, so the worker's SPI statements count) shows that none was.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;    # FlowdbTest.pm (PROVE_FLAGS does not reach prove)
use FlowdbTest;

my $node = new_node('jit',
	shared_preload_libraries => 'flowdb,pg_stat_statements',
	'pg_stat_statements.track' => 'all',
	jit                        => 'on',
	jit_above_cost             => '0',
	jit_inline_above_cost      => '-1',
	jit_optimize_above_cost    => '-1');
if ($node->safe_psql('postgres', 'SELECT pg_jit_available()') ne 't')
{
	plan skip_all => 'this server has no JIT provider (llvmjit)';
}
$node->safe_psql('postgres', 'CREATE EXTENSION pg_stat_statements');

my $fake = start_fake({ '/*' => [ { body => { ok => JSON::PP::true } } ] });
my $bp = blueprint(name => 'jit', nodes => [ http_node('s', $fake->url('/jit/{{trigger_data.i}}')) ]);
flow_execute_many($node, $bp, 40);
ok(wait_runs($node, "blueprint->>'name' = 'jit'", 60), 'the 40 runs finished');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM flowdb.runs WHERE blueprint->>'name' = 'jit' AND status = 'succeeded'"),
	'40', 'and succeeded');

my $worker = "SELECT coalesce(sum(s.jit_functions), -1) FROM pg_stat_statements s "
  . "JOIN pg_roles r ON r.oid = s.userid "
  . "WHERE s.query LIKE '%flowdb.workflow_logs%' AND s.query LIKE 'WITH x AS%'";
is($node->safe_psql('postgres', $worker), '0',
	"the worker's commit statement ran and was never compiled");
cmp_ok($node->safe_psql('postgres',
		"SELECT sum(jit_functions) FROM pg_stat_statements WHERE query LIKE 'SELECT count(flow_execute(%'"),
	'>', 0, "the client's statement was compiled (the control)");

$fake->stop;
done_testing();
