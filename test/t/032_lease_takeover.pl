# 032_lease_takeover.pl: two workers, requests longer than the lease.
#
# flowdb.workers = 2, flowdb.lease_seconds = 5.
#   1. A run whose one request takes 12 s: the worker holding it renews
#      the lease (it never expires, and ends up more than lease_seconds
#      past the first one); owner and token never change, the other worker
#      never takes it; the server sees exactly one request for the step's
#      Idempotency-Key; no crash is counted.
#   2. The worker holding a run in flight hangs (SIGSTOP: alive for the
#      postmaster, but it renews nothing): once the lease expires the
#      other worker takes the run back (one crash counted) and sends the
#      step again with the same Idempotency-Key; the run succeeds with the
#      second answer.  Then the hung worker resumes (SIGCONT): its late
#      answer is dropped (its lease token is stale), nothing more is sent,
#      one succeeded log row.
#   3. kill -9 of the worker holding a run in flight: PostgreSQL restarts
#      every backend (a crashed child may have corrupted shared memory),
#      the restarted workers take the run back at once (no lease wait):
#      sent again once with the same key, one crash counted, one succeeded
#      log row.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);
use FindBin;
use lib $FindBin::RealBin;    # FlowdbTest.pm (PROVE_FLAGS does not reach prove)
use FlowdbTest;
use FlowdbTools qw(wait_until idem_key);

my $LEASE = 5;
my $node = new_node('takeover', 'flowdb.workers' => '2', 'flowdb.lease_seconds' => $LEASE);
my $fake = start_fake({
	'/long' => [ { delay_ms => 12000, body => { from => 'long' } } ],
	'/hung' => [ { delay_ms => 10000, body => { from => 'first' } },
		{ delay_ms => 8000, body => { from => 'second' } } ],
	'/kill' => [ { delay_ms => 30000, body => { from => 'first' } },
		{ delay_ms => 500, body => { from => 'second' } } ],
});

ok(wait_until($node, "SELECT count(*) = 2 FROM flowdb.worker_info() WHERE pid <> 0"),
	'two workers run');

# slot_pid(SLOT): pid of the worker in that slot
sub slot_pid
{
	my ($slot) = @_;
	return $node->safe_psql('postgres', "SELECT pid FROM flowdb.worker_info() WHERE slot = $slot");
}

# wait_sent(PATH, N): wait until the server received N requests for PATH
sub wait_sent
{
	my ($path, $n) = @_;
	my $deadline = time + 60;
	usleep(20_000) while scalar($fake->requests_for($path)) < $n && time < $deadline;
	return scalar($fake->requests_for($path)) >= $n;
}

# lease(RUN): {status, owner, token, until, now} (epoch seconds)
sub lease
{
	my ($run) = @_;
	return query_json($node, qq{
		SELECT jsonb_build_object('status', status, 'owner', lease_owner, 'token', lease_token,
			'until', extract(epoch FROM lease_until), 'now', extract(epoch FROM clock_timestamp()),
			'crashes', crashes)
		FROM flowdb.runs WHERE id = '$run'});
}

sub one_node_bp
{
	my ($path) = @_;
	return blueprint(nodes => [ http_node('a', $fake->url($path), timeout_ms => 60000) ]);
}

########################################################################
# 1. renewal while alive
########################################################################

my $run1 = flow_execute($node, one_node_bp('/long'), {});
ok(wait_sent('/long', 1), 'the long request is at the server');
my $t_sent = time;
my $first = lease($run1);
is($first->{status}, 'running', 'the run is running');
like($first->{owner}, qr/^[01]$/, 'leased by one of the two workers');
my @samples;
while (time < $t_sent + 60)
{
	my $l = lease($run1);
	last if $l->{status} ne 'running';
	push @samples, $l;
	usleep(300_000);
}
my $elapsed = time - $t_sent;
note sprintf('%d samples over %.1f s', scalar @samples, $elapsed);
cmp_ok($elapsed, '>', $LEASE * 2, 'the request took more than twice lease_seconds');
is(scalar(grep { $_->{owner} ne $first->{owner} || $_->{token} ne $first->{token} } @samples),
	0, 'lease owner and token never changed while the worker was alive');
is(scalar(grep { !defined $_->{until} || $_->{until} <= $_->{now} } @samples),
	0, 'the lease never expired (renewed in time)');
my ($max_until) = sort { $b <=> $a } map { $_->{until} } @samples;
cmp_ok($max_until - $first->{until}, '>=', $LEASE, 'the lease was extended past its first expiry');
is(wait_run($node, $run1, 60), 'succeeded', 'the long run succeeded');
is(scalar($fake->requests_for('/long')), 1, 'exactly one request was sent');
is($fake->count_by_key('/long')->{ idem_key($run1, 'a') }, 1, 'once for its Idempotency-Key');
my $r1 = run_row($node, $run1);
is($r1->{crashes}, 0, 'no crash counted');
is(log_counts($node, $run1)->{'a/succeeded'}, 1, 'one succeeded log row');

########################################################################
# 2. a hung worker's lease expires: the other one takes over
########################################################################

my $run2 = flow_execute($node, one_node_bp('/hung'), {});
ok(wait_sent('/hung', 1), 'the first request is at the server');
my $l2 = lease($run2);
my $holder = $l2->{owner};
my $other = 1 - $holder;
my $hpid = slot_pid($holder);
my $opid = slot_pid($other);
like($hpid, qr/^\d+$/, "worker $holder (pid $hpid) holds the run");
ok(kill('STOP', $hpid), 'the holding worker hangs (SIGSTOP)');
my $stopped = 1;

ok(wait_until($node,
		"SELECT lease_owner = $other AND crashes = 1 FROM flowdb.runs WHERE id = '$run2'", 't', 60),
	'the other worker took the run over once the lease expired');
ok(wait_sent('/hung', 2), 'and sent the step again');
my @hung = $fake->requests_for('/hung');
is($hung[1]{headers}{'idempotency-key'}, $hung[0]{headers}{'idempotency-key'},
	'with the same Idempotency-Key');
is($hung[0]{headers}{'idempotency-key'}, idem_key($run2, 'a'), 'the step\'s key');
cmp_ok($hung[1]{time} - $hung[0]{time}, '>=', $LEASE - 1,
	'not before the lease could have expired');
is(wait_run($node, $run2, 60), 'succeeded', 'the run succeeded under the other worker');
is(run_row($node, $run2)->{state}{nodes}{a}{output}{body}{from}, 'second',
	'with the second answer');

ok(kill('CONT', $hpid), 'the hung worker resumes (SIGCONT)');
$stopped = 0;
my $t = $node->safe_psql('postgres', 'SELECT clock_timestamp()');
ok(wait_until($node,
		"SELECT heartbeat_at > '$t'::timestamptz + interval '2 seconds' "
		  . "FROM flowdb.worker_info() WHERE slot = $holder", 't', 60),
	'the resumed worker went on for 2 s (its late answer handled)');
is(slot_pid($holder), $hpid, 'it is the same process (no crash)');
is(slot_pid($other), $opid, 'and so is the other worker');
my $r2 = run_row($node, $run2);
is($r2->{status}, 'succeeded', 'the run is still succeeded');
is($r2->{state}{nodes}{a}{output}{body}{from}, 'second', 'the late first answer did not overwrite it');
is($r2->{crashes}, 1, 'one crash counted (the takeover)');
is(log_counts($node, $run2)->{'a/succeeded'}, 1, 'one succeeded log row');
is(scalar($fake->requests_for('/hung')), 2, 'nothing more was sent');

########################################################################
# 3. kill -9 of the worker holding a run in flight
########################################################################

my $run3 = flow_execute($node, one_node_bp('/kill'), {});
ok(wait_sent('/kill', 1), 'the first request is at the server');
my $l3 = lease($run3);
my $kpid = slot_pid($l3->{owner});
ok(kill('KILL', $kpid), "kill -9 of worker $l3->{owner} (pid $kpid), which holds the run");
my $t_kill = time;
ok(wait_until($node,
		"SELECT count(*) = 2 FROM flowdb.worker_info() WHERE pid <> 0 AND pid NOT IN ($hpid, $opid)",
		't', 60),
	'two new workers run (PostgreSQL restarted every backend)');
is(wait_run($node, $run3, 60), 'succeeded', 'the run succeeded');
cmp_ok(time - $t_kill, '<', 25, 'well before the first answer would have come (30 s)');
my @k = $fake->requests_for('/kill');
is(scalar @k, 2, 'the step was sent again once');
is($k[1]{headers}{'idempotency-key'}, idem_key($run3, 'a'), 'with the same Idempotency-Key');
my $r3 = run_row($node, $run3);
is($r3->{state}{nodes}{a}{output}{body}{from}, 'second', 'the run has the second answer');
is($r3->{crashes}, 1, 'one crash counted');
is(log_counts($node, $run3)->{'a/succeeded'}, 1, 'one succeeded log row');

END { kill('CONT', $hpid) if $stopped && $hpid; }

$fake->stop;
$node->stop;
done_testing();
