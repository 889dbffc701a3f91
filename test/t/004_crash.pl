# 004_crash.pl: crash safety of the worker.
#
# Runs of three steps whose second step is slow (1.5 s).  While the second
# requests are in flight:
#   (a) kill -9 the flowdb worker: the postmaster reinitializes;
#   (b) stop the cluster in immediate mode, then start it.
# Afterwards every run finishes, quickly (well before lease_seconds = 60:
# the restarted worker takes back its slot's leases at start), every node
# has exactly one succeeded log row, the completed first step is never sent
# again, and a resent second step carries the same Idempotency-Key.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use FindBin;
use lib $FindBin::RealBin;    # FlowdbTest.pm (PROVE_FLAGS does not reach prove)
use FlowdbTest;

my $true  = JSON::PP::true;
my $NRUNS = 8;

# lease_seconds stays at its default (60): recovery must not wait for it
my $node = new_node('crash', 'flowdb.lease_seconds' => '60');
is($node->safe_psql('postgres', 'SHOW flowdb.lease_seconds'), '1min',
	'lease_seconds is the default 60 s');

my $fake = start_fake({
	'/*/s1' => [ { body => { v => 1 } } ],
	'/*/s2' => [ { delay_ms => 1500, body => { v => 2 } } ],
	'/*/s3' => [ { body => { v => 3 } } ],
});

sub crash_bp
{
	my ($tag) = @_;
	return blueprint(
		name  => "crash-$tag",
		nodes => [
			http_node('s1', $fake->url("/$tag/s1"), body => { i => '{{trigger_data.i}}' }),
			http_node('s2', $fake->url("/$tag/s2"),
				body => { i => '{{trigger_data.i}}', v => '{{steps.s1.output.body.v}}' },
				timeout_ms => 10000),
			http_node('s3', $fake->url("/$tag/s3"),
				body => { i => '{{trigger_data.i}}', v => '{{steps.s2.output.body.v}}' }),
		],
		edges => [ chain('s1', 's2', 's3') ]);
}

# wait_for_requests(PATH, N, TIMEOUT): until the server saw N requests to PATH
sub wait_for_requests
{
	my ($path, $n, $timeout) = @_;
	my $deadline = time + $timeout;
	while (time < $deadline)
	{
		return 1 if scalar($fake->requests_for($path)) >= $n;
		usleep(20_000);
	}
	return 0;
}

# scenario(TAG, CRASH, LABEL): queue the runs, crash while s2 is in
# flight, check.  CRASH returns a time between the death of the old worker
# and the start of the new one: requests before it were sent by the old
# worker, requests after it by the new one.
sub scenario
{
	my ($tag, $crash, $label) = @_;
	my $bp = crash_bp($tag);

	# one psql call, one transaction per run: queued within milliseconds
	my $ids = $node->safe_psql('postgres',
		join('', map { 'SELECT flow_execute(' . sql_json($bp) . ", '{\"i\": $_, \"tag\": \"$tag\"}');\n" } 1 .. $NRUNS));
	my @runs = split /\n/, $ids;
	is(scalar @runs, $NRUNS, "$label: $NRUNS runs queued");

	ok(wait_for_requests("/$tag/s2", $NRUNS, 15), "$label: all second steps in flight");
	my $t0       = time;
	my $boundary = $crash->();
	my $t_back   = time;

	my $finished = wait_runs($node, "payload->>'tag' = '$tag'", 20);
	ok($finished, "$label: all runs finished");
	my $recovery = time - $t0;
	note sprintf('%s: runs finished %.1f s after the crash (restart took %.1f s)',
		$label, $recovery, $t_back - $t0);
	cmp_ok($recovery, '<', 20,
		"$label: runs resumed without waiting for the 60 s lease to expire");
	if (!$finished)
	{
		# the rest would only repeat the failure (the cluster may be down)
		my @crashes = slurp_file($node->logfile) =~ /^.*terminated by signal.*$/mg;
		diag "server log: " . scalar(@crashes) . " process crashes, last: "
		  . ($crashes[-1] // 'none');
		return 0;
	}

	is($node->safe_psql('postgres',
			"SELECT count(*) FILTER (WHERE status = 'succeeded') || '/' || count(*) FROM flowdb.runs WHERE payload->>'tag' = '$tag'"),
		"$NRUNS/$NRUNS", "$label: every run succeeded");

	# every node: exactly one succeeded log row, nothing failed
	is( $node->safe_psql(
			'postgres', qq{
		SELECT count(*) FILTER (WHERE ok = 1 AND bad = 0) || '/' || count(*)
		FROM (SELECT l.run_id, l.node_id,
		             count(*) FILTER (WHERE l.status = 'succeeded') AS ok,
		             count(*) FILTER (WHERE l.status = 'failed') AS bad
		      FROM flowdb.workflow_logs l JOIN flowdb.runs r ON r.id = l.run_id
		      WHERE r.payload->>'tag' = '$tag' GROUP BY 1, 2) x}),
		$NRUNS * 3 . '/' . $NRUNS * 3,
		"$label: each node has exactly one succeeded log row");

	# requests per Idempotency-Key, with their arrival times
	my %sent;
	for my $r (grep { $_->{path} =~ m{^/\Q$tag\E/} } $fake->requests)
	{
		push @{ $sent{ $r->{headers}{'idempotency-key'} // '' } }, $r;
	}
	my %expect = map { my $run = $_; map { ("flowdb-$run-$_" => 1) } qw(s1 s2 s3) } @runs;
	is_deeply([ sort keys %sent ], [ sort keys %expect ],
		"$label: requests carry exactly the keys flowdb-<run>-<node> of these runs");

	is(scalar(grep { @{ $sent{"flowdb-$_-s1"} // [] } == 1 } @runs), $NRUNS,
		"$label: the completed first step was sent exactly once per run");

	# a step in flight at the crash may be sent again by the new worker,
	# with the same key and body; never twice by one worker
	my @bad;
	my $resent_s2 = 0;
	for my $key (sort keys %sent)
	{
		my @r = @{ $sent{$key} };
		next if @r == 1;
		if (@r > 2 || !($r[0]{time} < $boundary && $r[1]{time} > $boundary))
		{
			push @bad, "$key: " . join(', ', map { sprintf('%.3f', $_->{time} - $t0) } @r);
		}
		elsif ($r[0]{body} ne $r[1]{body})
		{
			push @bad, "$key: body changed";
		}
		$resent_s2++ if $key =~ /-s2$/;
	}
	is_deeply(\@bad, [],
		"$label: a step is resent at most once, across the crash, with the same body");
	cmp_ok($resent_s2, '>', 0,
		"$label: second steps interrupted by the crash were resent (same Idempotency-Key)");

	# a run whose second step was resent sent its third step once, after it
	my @s3bad = grep {
		@{ $sent{"flowdb-$_-s2"} } == 2 && @{ $sent{"flowdb-$_-s3"} // [] } != 1
	} @runs;
	is_deeply(\@s3bad, [], "$label: third steps after a resent second step were sent once");

	# the third step saw the second step's output
	is(scalar(grep { json_dec($_->{body})->{v} == 2 } $fake->requests_for("/$tag/s3")),
		scalar($fake->requests_for("/$tag/s3")),
		"$label: third step used the second step's output");
	return 1;
}

########################################################################
# (a) kill -9 the worker
########################################################################

my $old_pid = worker_pid($node);
ok($old_pid > 0, 'flowdb worker is running');
my $log_offset = -s $node->logfile;

scenario(
	'kill',
	sub {
		my $pid = worker_pid($node);
		ok($pid > 0 && kill('KILL', $pid), 'sent SIGKILL to the flowdb worker');
		return time;
	},
	'kill -9 worker');

my $log = slurp_file($node->logfile, $log_offset);
like($log, qr/flowdb worker.*terminated by signal 9/, 'postmaster saw the worker die');
like($log, qr/all server processes terminated; reinitializing/, 'postmaster reinitialized');
my $new_pid = worker_pid($node);
ok($new_pid > 0 && $new_pid != $old_pid, 'a new flowdb worker runs');

########################################################################
# (b) immediate shutdown, then start
########################################################################

# (b) runs on a fresh cluster, whatever happened to the first one
$node->stop('immediate', fail_ok => 1);
$node = new_node('crash_b', 'flowdb.lease_seconds' => '60');

scenario(
	'immediate',
	sub {
		$node->stop('immediate');
		my $t = time;
		$node->start;
		return $t;
	},
	'immediate stop');

$fake->stop;
$node->stop;
done_testing();
