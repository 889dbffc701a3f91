# 005_wakeup.pl: commit-time wake-up of the worker, without the safety net.
#
# flowdb.scan_interval_ms = 600000: the worker's periodic scan never fires
# during the test, so a queued run is only picked up when the committing
# transaction wakes the worker.  A run queued in an open transaction is not
# sent before COMMIT; a rolled-back flow_execute queues and sends nothing;
# LISTEN flowdb_runs gets a notification at commit (and none for a
# rollback); LISTEN flowdb_run_finished reports the finished run.  "Not
# sent" is checked once the worker went past the point: it finished a run
# committed later (no fixed sleeps); "idle" means the worker waits in its
# latch wait (pg_stat_activity wait_event_type Extension).  Runs that the
# worker's own commit queues or resumes (a call's child, its parent, a
# failure handler) are picked up without the scan too.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use FindBin;
use lib $FindBin::RealBin;    # FlowdbTest.pm (PROVE_FLAGS does not reach prove)
use FlowdbTest;

my $true = JSON::PP::true;

my $node = new_node('wakeup', 'flowdb.scan_interval_ms' => '600000');
is($node->safe_psql('postgres', 'SHOW flowdb.scan_interval_ms'), '10min',
	'scan interval is 10 minutes');

my $fake = start_fake({ '/*' => [ { body => { ok => $true } } ] });

sub bp_for
{
	my ($path) = @_;
	return blueprint(nodes => [ http_node('w', $fake->url($path), body => {}) ]);
}

# Let the worker find the extension and settle into its loop (it checks
# for the extension every second, then scans once at start); a first run
# may be picked up by that startup scan.
my $warm = flow_execute($node, bp_for('/warmup'));
is(wait_run($node, $warm, 30), 'succeeded', 'warm-up run succeeded');
ok(worker_idle(), 'the worker is idle, waiting on its latch');

# worker_idle(): wait until the worker sleeps in its wait (the latch, the
# sockets, the 10 min scan timer): only a wake-up can make it claim now
sub worker_idle
{
	return poll($node,
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'flowdb worker' "
		  . "AND wait_event_type = 'Extension'", 't', 30);
}

########################################################################
# commit wakes the worker
########################################################################

for my $i (1 .. 3)
{
	my $t0  = time;
	my $run = flow_execute($node, bp_for("/commit$i"));
	is(wait_run($node, $run, 10), 'succeeded', "run $i committed by flow_execute is picked up");
	cmp_ok(time - $t0, '<', 10, "run $i finished within 10 s (no periodic scan needed)");
	ok(worker_idle(), "the worker is idle again after run $i");
}

########################################################################
# nothing is sent before COMMIT; COMMIT then wakes the worker
########################################################################

my $listener = $node->background_psql('postgres');
$listener->query_safe('LISTEN flowdb_runs');
$listener->query_safe('LISTEN flowdb_run_finished');

my $tx = $node->background_psql('postgres');
my $bp_tx = bp_for('/intx');
my $run_tx = $tx->query_safe("BEGIN; SELECT flow_execute(" . sql_json($bp_tx) . ");");
$run_tx =~ s/\s+//g;
like($run_tx, qr/^[0-9a-f-]{36}$/, 'flow_execute inside an open transaction');
my $out = $listener->query_safe('SELECT 1');
unlike($out, qr/flowdb_runs/, 'no notification before commit');
# another run committed meanwhile wakes the worker, which claims and
# finishes it: the open transaction's run was not visible to that claim
my $during = flow_execute($node, bp_for('/duringtx'));
is(wait_run($node, $during, 10), 'succeeded', 'a run committed meanwhile is picked up');
is(scalar $fake->requests_for('/intx'), 0, 'nothing sent while the transaction is open');
is($node->safe_psql('postgres', "SELECT count(*) FROM flowdb.runs WHERE id = '$run_tx'"),
	'0', 'the run is invisible before commit');
# drain that run's notifications (queued, finished) before the commit
$out = '';
my $deadline = time + 10;
while (time < $deadline && $out !~ /flowdb_run_finished.*\Q$during\E succeeded/)
{
	$out .= $listener->query_safe('SELECT 1');
	usleep(100_000);
}
like($out, qr/\Q$during\E succeeded/, 'the listener saw the other run finish');
ok(worker_idle(), 'the worker is idle before the commit');

my $t_commit = time;
$tx->query_safe('COMMIT');
is(wait_run($node, $run_tx, 10), 'succeeded', 'run picked up after COMMIT');
cmp_ok(time - $t_commit, '<', 10, 'within 10 s of the commit');
is(scalar $fake->requests_for('/intx'), 1, 'sent once after the commit');

# the listener got "queued" at commit and "<run> succeeded" at the end
$out = '';
$deadline = time + 10;
while (time < $deadline && $out !~ /flowdb_run_finished.*\Q$run_tx\E succeeded/)
{
	$out .= $listener->query_safe('SELECT 1');
	usleep(100_000);
}
like($out, qr/notification "flowdb_runs" with payload "queued"/,
	'LISTEN flowdb_runs: notification after the commit');
like($out, qr/notification "flowdb_run_finished" with payload "\Q$run_tx\E succeeded"/,
	'LISTEN flowdb_run_finished: the run and its status');

########################################################################
# a rolled-back flow_execute queues and sends nothing
########################################################################

my $nruns = $node->safe_psql('postgres', 'SELECT count(*) FROM flowdb.runs');
my $rb = $node->safe_psql('postgres',
	"BEGIN; SELECT flow_execute(" . sql_json(bp_for('/rolledback')) . "); ROLLBACK;");
like($rb, qr/^[0-9a-f-]{36}$/, 'flow_execute returned an id before the rollback');
is($node->safe_psql('postgres', 'SELECT count(*) FROM flowdb.runs'),
	$nruns, 'rolled back: no run queued');
is($node->safe_psql('postgres', "SELECT count(*) FROM flowdb.runs WHERE id = '$rb'"),
	'0', 'rolled back run does not exist');
$out = $listener->query_safe('SELECT 1');
unlike($out, qr/flowdb_runs/, 'rolled back: no notification');

# the next commit still wakes the worker; by the time its run finished,
# the worker claimed after the rollback and sent nothing for it
my $after = flow_execute($node, bp_for('/afterrollback'));
is(wait_run($node, $after, 10), 'succeeded', 'a commit after a rollback still wakes the worker');
is(scalar $fake->requests_for('/rolledback'), 0, 'rolled back: server saw nothing');

########################################################################
# runs the worker's own commit queues or resumes (its triggers' writes:
# a call node's child, the parent once the child ended, a failure
# handler) wake the worker too: without the periodic scan, nothing else
# would ever claim them
########################################################################

$listener->quit;
$tx->quit;
my $child = $node->safe_psql('postgres', 'SELECT flow_save(' . sql_json(blueprint(name => 'child',
	nodes => [ http_node('c', $fake->url('/child'), body => { n => '{{trigger_data.n}}' }) ])) . ')');
my $handler = $node->safe_psql('postgres', 'SELECT flow_save(' . sql_json(blueprint(name => 'handler',
	nodes => [ http_node('h', $fake->url('/handler'), body => {}) ])) . ')');
ok(worker_idle(), 'the worker is idle before the call');
my $caller = flow_execute($node, blueprint(name => 'caller',
	nodes => [ { id => 'call', type => 'call', workflow => $child, payload => { n => 7 } } ]));
is(wait_run($node, $caller, 10), 'succeeded',
	'a call: the child queued by the worker\'s commit ran, and the parent resumed, without a scan');
is($node->safe_psql('postgres', "SELECT status || ' ' || (payload ->> 'n') FROM flowdb.runs WHERE parent_run_id = '$caller'"),
	'succeeded 7', 'the child ran with its payload');
is(scalar $fake->requests_for('/child'), 1, 'the child sent its request once');
$fake->set_script({ '/broken' => [ { status => 400, body => { error => 'no' } } ],
	'/*' => [ { body => { ok => $true } } ] });
my $failing = flow_execute($node, { %{ blueprint(name => 'fails',
	nodes => [ http_node('f', $fake->url('/broken'), body => {}) ]) },
	on_failure => { workflow => $handler } });
is(wait_run($node, $failing, 10), 'failed', 'the run fails');
my $handled = poll($node, "SELECT count(*) FROM flowdb.runs WHERE failure_of = '$failing' AND status = 'succeeded'", '1', 10);
ok($handled, 'its failure handler, queued by the worker\'s commit, ran without a scan');

$fake->stop;
$node->stop;
done_testing();
