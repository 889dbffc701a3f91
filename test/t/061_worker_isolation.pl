# 061_worker_isolation.pl: the worker keeps READ COMMITTED whatever the
# database's default isolation.
#
# A background worker connected to a database takes that database's and
# its role's settings (ALTER DATABASE/ROLE ... SET), and
# default_transaction_isolation is one a team may raise.  The worker's
# statements are written for READ COMMITTED: a claim locks with SKIP LOCKED
# and its UPDATE, like the commit of results, re-checks a row changed by a
# concurrent transaction (a cancel, a retry) and skips it.  Under
# REPEATABLE READ or SERIALIZABLE the same race is an error 40001 instead,
# which failed the whole claim or the commit (and the commit's fallback
# then failed runs one by one), and SERIALIZABLE adds predicate locks on
# every run and index page the claim reads.
#
# The same holds for session_replication_role: at 'replica' no trigger
# fires, and the worker's writes rely on flowdb's triggers.
#
# Checked: with the database's default at SERIALIZABLE, runs go through,
# and the worker's transactions take no predicate lock (SIReadLock),
# which a serializable transaction always takes: a client's open
# serializable transaction keeps the predicate locks of every serializable
# transaction that overlapped it, so they would still be in pg_locks.
# With the database at session_replication_role = replica, a parent
# parked on a call still resumes when its child ends.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;    # FlowdbTest.pm (PROVE_FLAGS does not reach prove)
use FlowdbTest;

my $node = new_node('isolation');
my $fake = start_fake({ '/*' => [ { body => { ok => JSON::PP::true } } ] });
my $bp = blueprint(name => 'iso', nodes => [ http_node('s', $fake->url('/iso')) ]);

$node->safe_psql('postgres',
	"ALTER DATABASE postgres SET default_transaction_isolation = 'serializable'");
# a new worker process, which takes the database's settings at start
my $old = worker_pid($node);
my $pid = restart_worker($node);
ok($pid && $pid != $old, 'a new worker started');
is($node->safe_psql('postgres', 'SHOW transaction_isolation'), 'serializable',
	'sessions of this database default to serializable');

# a client's serializable transaction, open while the runs go through
my $bg = $node->background_psql('postgres', on_error_stop => 1);
$bg->query_safe('BEGIN ISOLATION LEVEL SERIALIZABLE');
$bg->query_safe('SELECT count(*) FROM flowdb.runs');

my @runs = map { flow_execute($node, $bp, { i => $_ }) } 1 .. 5;
ok(wait_runs($node, "blueprint->>'name' = 'iso'", 60), 'five runs finished');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM flowdb.runs WHERE blueprint->>'name' = 'iso' AND status = 'succeeded'"),
	'5', 'all succeeded');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM pg_locks WHERE mode = 'SIReadLock' AND pid = $pid"),
	'0', 'the worker took no predicate lock: its transactions are READ COMMITTED');
cmp_ok($node->safe_psql('postgres',
		"SELECT count(*) FROM pg_locks WHERE mode = 'SIReadLock' AND pid = " . $bg->query_safe('SELECT pg_backend_pid()')),
	'>', 0, "while the client's serializable transaction holds its own");
is(worker_pid($node), $pid, 'the same worker process throughout');

$bg->query_safe('COMMIT');
$bg->quit;

# session_replication_role = replica turns triggers off; the worker's
# writes need theirs: a parent parked on a call resumes by a trigger when
# its child ends
$node->safe_psql('postgres',
	"ALTER DATABASE postgres RESET default_transaction_isolation; "
	  . "ALTER DATABASE postgres SET session_replication_role = 'replica'");
my $third = restart_worker($node);
ok($third && $third != $pid, 'another new worker started');
is($node->safe_psql('postgres', 'SHOW session_replication_role'), 'replica',
	'sessions of this database replicate (no triggers)');
# the client's own statements run with triggers, as a client's would
my $child = $node->safe_psql('postgres',
	"SET session_replication_role = origin; SELECT flow_save("
	  . sql_json(blueprint(name => 'iso-child', nodes => [ http_node('s', $fake->url('/iso-child')) ]))
	  . ", true)");
like($child, qr/^[0-9a-f-]{36}$/, 'the child workflow is saved');
my $parent = $node->safe_psql('postgres',
	"SET session_replication_role = origin; SELECT flow_execute("
	  . sql_json(blueprint(name => 'iso-parent',
			nodes => [ { id => 'c', type => 'call', workflow => 'iso-child' } ]))
	  . ", '{}')");
is(wait_run($node, $parent, 60), 'succeeded', 'the parent resumed when its child ended');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM flowdb.runs WHERE parent_run_id = '$parent' AND status = 'succeeded'"),
	'1', 'one child, succeeded');

$fake->stop;
done_testing();
