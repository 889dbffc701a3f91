# 023_observability.pl: what an operator sees of the workers and what
# Realtime streams (issue 8 sections 8 and 9).
#
#   - flow_stats() lists each worker alive with a recent heartbeat; after
#     pg_terminate_backend the slot's restart count goes up and the new
#     process is alive again;
#   - pg_stat_activity shows the worker with backend_type "flowdb worker"
#     and, while a request is in flight, wait event Extension/Extension;
#   - flow_stats() counts the run in flight as running, then its step
#     (latency percentiles, steps per minute);
#   - a worker that cannot connect (flowdb.database_name names no
#     database) shows as not alive in flow_stats(), which raises a WARNING;
#   - Realtime, decoded with pgoutput for publication supabase_realtime:
#     created after the extension (event trigger) and before it (CREATE
#     EXTENSION joins it), runs and workflow_logs changes are published and
#     other tables' are not; a test_decoding slot shows the old key of a
#     DELETE carrying run_id and owner (the replica identity index).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use FlowdbTest;

my $true = JSON::PP::true;
my $node = new_node('obs');
my $fake = start_fake({
	'/hang'  => [ { hang => $true } ],
	'/quick' => [ { body => { ok => $true } } ],
});

########################################################################
# workers in flow_stats and pg_stat_activity
########################################################################

ok(poll($node, "SELECT (flow_stats() #>> '{workers,0,alive}')::bool", 't', 30),
	'flow_stats shows worker 0 alive');
my $w = query_json($node, "SELECT flow_stats() -> 'workers' -> 0");
is($w->{restarts}, 0, 'no restart yet');
ok(defined $w->{heartbeat_at}, 'the worker has a heartbeat');
my $pid1 = worker_pid($node);
ok($pid1 > 0, 'the worker is in pg_stat_activity with backend_type "flowdb worker"');
is($w->{pid}, $pid1, 'flow_stats (superuser) shows its pid');

# a request held open by the server: the worker waits on its socket
my $held = flow_execute($node, blueprint(nodes => [ http_node('held', $fake->url('/hang')) ]));
ok(poll($node, "SELECT status FROM flowdb.runs WHERE id = '$held'", 'running', 30),
	'the held run is running');
my $deadline = time + 30;
sleep 1 until $fake->stats->{inflight} >= 1 || time > $deadline;
is($fake->stats->{inflight}, 1, 'the request is in flight at the server');
ok(poll($node,
		"SELECT wait_event_type || '/' || wait_event FROM pg_stat_activity "
		  . "WHERE backend_type = 'flowdb worker'",
		'Extension/Extension', 30),
	'the worker waits with wait event Extension while the request is in flight');
is($node->safe_psql('postgres', "SELECT flow_stats() #>> '{runs,running}'"), '1',
	'flow_stats counts the held run as running');
ok($node->safe_psql('postgres', "SELECT flow_cancel('$held')") eq 't', 'held run canceled');

# a step that completes shows in the latency numbers
my $quick = flow_execute($node, blueprint(nodes => [ http_node('q', $fake->url('/quick')) ]));
is(wait_run($node, $quick, 30), 'succeeded', 'quick run succeeded');
my $s = query_json($node, 'SELECT flow_stats()');
cmp_ok($s->{latency_ms}{steps}, '>=', 1, 'the step is counted in the latency window');
ok(defined $s->{latency_ms}{p50} && $s->{latency_ms}{p50} >= 0, 'p50 latency is reported');
cmp_ok($s->{steps_per_minute}, '>', 0, 'steps per minute is above zero');
is($s->{scope}, 'all', 'a superuser sees every owner');

# the worker is terminated: the postmaster starts another in its slot
$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid1)");
ok(poll($node,
		"SELECT (flow_stats() #>> '{workers,0,restarts}') || ' ' || (flow_stats() #>> '{workers,0,alive}')",
		'1 true', 30),
	'after pg_terminate_backend the slot counts one restart and is alive again');
isnt(worker_pid($node), $pid1, 'a new process runs in the slot');

########################################################################
# a worker that cannot connect
########################################################################

my $bad = new_node('nodb', 'flowdb.database_name' => 'no_such_database');
my ($rc, $out, $err);
my $seen = 0;
$deadline = time + 30;
while (time < $deadline)
{
	($rc, $out, $err) = $bad->psql('postgres',
		"SELECT flow_stats() #>> '{workers,0,alive}'");
	if ($rc == 0 && $out eq 'false' && $err =~ /WARNING:  flowdb worker 0 is not running/)
	{
		$seen = 1;
		last;
	}
	sleep 1;
}
ok($seen, 'a worker that cannot connect is not alive in flow_stats, with a WARNING')
  or diag("out: $out\nerr: $err");
like($err, qr/HINT:  Check the server log/, 'the warning has a hint');
$bad->stop;

########################################################################
# Realtime through logical decoding
########################################################################

# pub_tables(NODE, DB, SLOT): "schema.table" of every relation a pgoutput
# slot for supabase_realtime sends (its Relation messages), sorted
sub pub_tables
{
	my ($n, $db, $slot) = @_;
	return $n->safe_psql($db, qq{
		SELECT string_agg(DISTINCT t, ' ' ORDER BY t) FROM (
			SELECT convert_from(split_part(encode(substr(data, 6), 'escape'), '\\000', 1)::bytea, 'UTF8')
				   || '.' ||
				   convert_from(split_part(encode(substr(data, 6), 'escape'), '\\000', 2)::bytea, 'UTF8') AS t
			FROM pg_logical_slot_get_binary_changes('$slot', NULL, NULL,
				'proto_version', '1', 'publication_names', 'supabase_realtime')
			WHERE get_byte(data, 0) = ascii('R')) r});
}

# publication created after the extension (the event trigger joins it)
$node->safe_psql('postgres', q{
	CREATE TABLE public.unrelated (x int);
	CREATE PUBLICATION supabase_realtime;
	SELECT pg_create_logical_replication_slot('rt_after', 'pgoutput');
	SELECT pg_create_logical_replication_slot('rt_keys', 'test_decoding');
});
my $r1 = flow_execute($node, blueprint(nodes => [ http_node('rt', $fake->url('/quick')) ]));
is(wait_run($node, $r1, 30), 'succeeded', 'run for Realtime succeeded');
$node->safe_psql('postgres', 'INSERT INTO public.unrelated VALUES (1)');
is(pub_tables($node, 'postgres', 'rt_after'), 'flowdb.runs flowdb.workflow_logs',
	'publication created after the extension: runs and workflow_logs are streamed, nothing else');

# a DELETE's old key carries the columns Realtime filters on
$node->safe_psql('postgres', "DELETE FROM flowdb.runs WHERE id = '$r1'");
my $changes = $node->safe_psql('postgres',
	"SELECT string_agg(data, E'\\n') FROM pg_logical_slot_get_changes('rt_keys', NULL, NULL)");
like($changes, qr/table flowdb\.runs: DELETE: id\[uuid\]:'\Q$r1\E' owner\[text\]:'\w+'/,
	'the DELETE of a run carries id and owner');
like($changes,
	qr/table flowdb\.workflow_logs: DELETE: id\[bigint\]:\d+ run_id\[uuid\]:'\Q$r1\E' owner\[text\]:'\w+'/,
	'the DELETE of a log row carries run_id, id and owner');
$node->safe_psql('postgres', q{
	SELECT pg_drop_replication_slot('rt_after');
	SELECT pg_drop_replication_slot('rt_keys');
});

# publication created before the extension (CREATE EXTENSION joins it), in
# a database of its own: no worker there, rows written by hand
$node->safe_psql('postgres', 'CREATE DATABASE pubfirst');
$node->safe_psql('pubfirst', q{
	CREATE PUBLICATION supabase_realtime;
	CREATE TABLE public.unrelated (x int);
	SELECT pg_create_logical_replication_slot('rt_before', 'pgoutput');
	CREATE EXTENSION flowdb;
	WITH r AS (INSERT INTO flowdb.runs (blueprint) VALUES ('{}') RETURNING id, owner)
	INSERT INTO flowdb.workflow_logs (run_id, owner, node_id, status)
	SELECT id, owner, 'n', 'succeeded' FROM r;
	INSERT INTO public.unrelated VALUES (1);
});
is(pub_tables($node, 'pubfirst', 'rt_before'), 'flowdb.runs flowdb.workflow_logs',
	'publication created before the extension: runs and workflow_logs are streamed, nothing else');
$node->safe_psql('pubfirst', "SELECT pg_drop_replication_slot('rt_before')");

$fake->stop;
$node->stop;
done_testing();
