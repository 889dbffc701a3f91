# 062_read_only.pl: a database in read-only mode parks the worker.
#
# default_transaction_read_only = on is how a database is put in
# read-only mode (Supabase does it when the disk is full; a migration's
# soft freeze sets it with ALTER DATABASE).  The worker failed its next
# claim with "cannot execute UPDATE in a read-only transaction", exited,
# and was started again every second, with an ERROR each time.  It now
# idles and says so once, and goes on when writes are allowed again:
#   - set by ALTER SYSTEM and a reload: the running worker sees both
#     changes, and a run whose request was in flight keeps its answer
#     and is committed afterwards (not sent again, no crash counted);
#   - set by ALTER DATABASE: only new sessions see it, so an idle worker
#     starts afresh every 10 seconds to read the setting again.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use FindBin;
use lib $FindBin::RealBin;    # FlowdbTest.pm (PROVE_FLAGS does not reach prove)
use FlowdbTest;

my $node = new_node('readonly');
my $fake = start_fake({
	'/held' => [ { delay_ms => 2000, body => { ok => JSON::PP::true } } ],
	'/*' => [ { body => { ok => JSON::PP::true } } ] });
my $bp = blueprint(name => 'ro', nodes => [ http_node('s', $fake->url('/ro')) ]);

is(wait_run($node, flow_execute($node, $bp, { i => 0 }), 30), 'succeeded', 'a first run');
my $pid = worker_pid($node);

# queue(I): a run queued by a client that writes on purpose
sub queue
{
	my ($i) = @_;
	my $run = $node->safe_psql('postgres',
		"BEGIN READ WRITE; SELECT flow_execute(" . sql_json($bp) . ", '{\"i\": $i}'); COMMIT;");
	$run =~ s/\s+//g;
	return $run;
}

# count(PATTERN): server log lines matching PATTERN
sub count
{
	my ($pattern) = @_;
	my $log = slurp_file($node->logfile);
	my @m = ($log =~ /$pattern/g);
	return scalar @m;
}

# wait_log(PATTERN, N, TIMEOUT_S): until the log has N lines matching
sub wait_log
{
	my ($pattern, $n, $timeout) = @_;
	my $deadline = time + $timeout;
	while (time < $deadline)
	{
		return 1 if count($pattern) >= $n;
		usleep(100_000);
	}
	diag "log lines matching $pattern: " . count($pattern) . ", wanted $n";
	return 0;
}

# looped(PID): the worker went through its loop a second after now
sub looped
{
	my ($pid) = @_;
	my $t = $node->safe_psql('postgres', 'SELECT clock_timestamp()');
	return poll($node,
		"SELECT heartbeat_at > '$t'::timestamptz + interval '1 second' "
		  . "FROM flowdb.worker_info() WHERE pid = $pid", 't', 15);
}

# 1. ALTER SYSTEM and a reload
$node->safe_psql('postgres',
	"ALTER SYSTEM SET default_transaction_read_only = on; SELECT pg_reload_conf()");
ok(poll($node, "SELECT current_setting('default_transaction_read_only') = 'on'", 't', 10),
	'read-only mode');
my $run = queue(1);
ok(looped($pid), 'the worker went on looping');
is($node->safe_psql('postgres', "SELECT status FROM flowdb.runs WHERE id = '$run'"),
	'queued', 'the run waits');
is(worker_pid($node), $pid, 'the same worker process (no restart)');
is(count(qr/cannot execute \w+ in a read-only transaction/), 0, 'and no write was tried');
is(count(qr/default_transaction_read_only is on, not claiming/), 1, 'one LOG line says why');
$node->safe_psql('postgres',
	"ALTER SYSTEM RESET default_transaction_read_only; SELECT pg_reload_conf()");
is(wait_run($node, $run, 30), 'succeeded', 'the run goes through once writes are allowed');
is(worker_pid($node), $pid, 'still the same worker process');
is(count(qr/writes are allowed again/), 1, 'one LOG line says so');

# 2. a request in flight when a reload turns the database read-only: its
# run waits in the worker (nothing committed), and goes on when writes are
# allowed again, with the answer it got: not taken back, not sent again
my $held = flow_execute($node, blueprint(name => 'held', nodes => [ http_node('h', $fake->url('/held')) ]), {});
ok(poll($node, "SELECT status = 'running' FROM flowdb.runs WHERE id = '$held'", 't', 30),
	'a run is in flight');
my $deadline = time + 30;
usleep(100_000) while !$fake->requests_for('/held') && time < $deadline;
is(scalar $fake->requests_for('/held'), 1, 'its request reached the server');
$node->safe_psql('postgres',
	"ALTER SYSTEM SET default_transaction_read_only = on; SELECT pg_reload_conf()");
ok(wait_log(qr/default_transaction_read_only is on, not claiming/, 2, 10), 'read-only again');
sleep 3;    # the answer came in meanwhile
is($node->safe_psql('postgres', "SELECT status FROM flowdb.runs WHERE id = '$held'"),
	'running', 'nothing is committed while writes are refused');
$node->safe_psql('postgres',
	"ALTER SYSTEM RESET default_transaction_read_only; SELECT pg_reload_conf()");
is(wait_run($node, $held, 30), 'succeeded', 'the run ends once writes are allowed');
is(scalar $fake->requests_for('/held'), 1, 'its request was sent once');
is($node->safe_psql('postgres', "SELECT crashes FROM flowdb.runs WHERE id = '$held'"),
	'0', 'and no crash was counted');
is(worker_pid($node), $pid, 'the same worker process throughout');

# 3. ALTER DATABASE: a new worker starts read-only
$node->safe_psql('postgres',
	"ALTER DATABASE postgres SET default_transaction_read_only = on");
$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
ok(wait_log(qr/default_transaction_read_only is on, not claiming/, 3, 30),
	'a new worker finds the database read-only');
$run = queue(2);
ok(looped(worker_pid($node)), 'the new worker went on looping');
is($node->safe_psql('postgres', "SELECT status FROM flowdb.runs WHERE id = '$run'"),
	'queued', 'the run waits');
is(count(qr/cannot execute \w+ in a read-only transaction/), 0, 'no write was tried');
$node->safe_psql('postgres',
	"BEGIN READ WRITE; ALTER DATABASE postgres RESET default_transaction_read_only; COMMIT");
is(wait_run($node, $run, 40), 'succeeded',
	'the run goes through once a fresh worker reads the reset setting');
cmp_ok(count(qr/default_transaction_read_only is on, not claiming/), '<=', 7,
	'an idle read-only worker starts afresh every 10 s, not every second');

$fake->stop;
done_testing();
