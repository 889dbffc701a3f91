# 027_chaos.pl: the chaos proof (issue 8, section 10).
#
# 200 good runs of 4 owners (50 each; owners a and c: 3 http steps,
# owners b and d: 2) against a fake server that answers each step after
# 150-300 ms, plus one poison run (an http step, then the 10^8 growth of
# 015_poison.pl), go through 20 crashes: kill -9 of the flowdb worker,
# every 4th round `pg_ctl stop -m immediate` and a start instead.
#
# The runs are fed in waves (40 at first, 8 more before each crash) so that
# requests are always in flight when the worker dies, and flowdb.max_inflight
# is 4 so that the worker holds few runs at a time.  Before each crash the
# test waits until every step sent before the previous restart is logged
# succeeded: a step is then interrupted by at most one crash.
#
# Every leased run counts each crash, and here the same runs see several:
# flowdb.max_run_crashes is raised above the number of rounds (015_poison.pl
# proves the counter itself).
#
# At the end:
#   - every good run succeeded; every node of every good run has exactly
#     one succeeded log row and no failed one;
#   - the poison run failed with the value cap's error, and no worker
#     exited other than by our kills;
#   - the server saw exactly the keys flowdb-<run>-<node> of these runs,
#     each at most twice; a key seen twice was first sent before a crash
#     and sent again, with the same body, by the worker started after it;
#     steps were in fact resent (the crashes hit requests in flight);
#   - each run's final step reached the server.
#
# Then one more crash with a backlog: a run interrupted in flight resumes
# ahead of the 60 runs its owner queued after it (the worker used to make
# it due from the crash on, behind the owner's whole backlog).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use FindBin;
use lib $FindBin::RealBin;    # FlowdbTest.pm (PROVE_FLAGS does not reach prove)
use FlowdbTest;

my $ROUNDS    = 20;
my $FIRST     = 40;           # runs queued before the first crash
my $PER_ROUND = 8;            # runs queued before each crash
my @OWNERS    = qw(a b c d);
my %STEPS     = (a => 3, b => 2, c => 3, d => 2);
my $t_start   = time;

my $node = new_node(
	'chaos',
	'flowdb.max_inflight'    => '4',
	'flowdb.max_run_crashes' => '100');

my $fake = start_fake({
	'/*/s1'      => [ { delay_ms => 150, body => { v => 1 } } ],
	'/*/s2'      => [ { delay_ms => 300, body => { v => 2 } } ],
	'/*/s3'      => [ { delay_ms => 150, body => { v => 3 } } ],
	'/poison/p0' => [ { delay_ms => 300, body => { v => 0 } } ],
	'/e/slow'    => [ { delay_ms => 4000, body => { v => 1 } } ],
	'/e/bk/*'    => [ { delay_ms => 150, body => { v => 1 } } ],
});

# good_bp(OWNER): s1 -> s2 [-> s3], each step using the previous output
sub good_bp
{
	my ($owner) = @_;
	my @ids = map { "s$_" } 1 .. $STEPS{$owner};
	my @nodes;
	for my $i (0 .. $#ids)
	{
		my %body = (i => '{{trigger_data.i}}');
		$body{prev} = "{{steps.$ids[$i-1].output.body.v}}" if $i > 0;
		push @nodes,
		  http_node($ids[$i], $fake->url("/$owner/$ids[$i]"),
			body => \%body, timeout_ms => 10000);
	}
	return blueprint(name => "chaos-$owner", nodes => \@nodes, edges => [ chain(@ids) ]);
}

# poison_bp: an http step, then s0 sets v to 100 bytes and s1..s7 each
# set v to ten copies of the previous v (fails at flowdb.max_value_bytes)
sub poison_bp
{
	my @nodes = (http_node('p0', $fake->url('/poison/p0'), timeout_ms => 10000),
		{ id => 's0', type => 'set', values => { v => 'x' x 100 } });
	for my $i (1 .. 7)
	{
		my $p = $i - 1;
		push @nodes,
		  { id => "s$i", type => 'set', values => { v => "{{steps.s$p.output.v}}" x 10 } };
	}
	return blueprint(name => 'chaos-poison', nodes => \@nodes,
		edges => [ chain('p0', map { "s$_" } 0 .. 7) ]);
}

my %bp = map { ($_ => sql_json(good_bp($_))) } @OWNERS;
my %owner_of;    # run id => owner letter
my $seq = 0;

# queue(N): N more good runs, the owners in turn; one psql call, each
# flow_execute under its owner's JWT subject (as under PostgREST)
sub queue
{
	my ($n) = @_;
	my (@sql, @owners);
	for (1 .. $n)
	{
		my $o = $OWNERS[ $seq % @OWNERS ];
		$seq++;
		push @owners, $o;
		push @sql,
		    "SET request.jwt.claims = '{\"sub\": \"chaos-$o\"}';\n"
		  . "SELECT flow_execute($bp{$o}, '{\"i\": $seq}');\n";
	}
	my @ids = split /\n/, $node->safe_psql('postgres', join('', @sql));
	is(scalar @ids, $n, "queued $n runs (up to run $seq)") or BAIL_OUT('queue failed');
	@owner_of{@ids} = @owners;
	return;
}

# worker_start(): (pid, backend_start as unix time) of the flowdb worker,
# () when none runs (or the cluster does not answer)
sub worker_start
{
	my ($rc, $out) = $node->psql('postgres',
		"SELECT pid || ' ' || extract(epoch FROM backend_start) FROM pg_stat_activity "
		  . "WHERE backend_type = 'flowdb worker' ORDER BY pid LIMIT 1");
	return ($rc == 0 && $out =~ /^(\d+) ([\d.]+)$/) ? ($1, $2) : ();
}

# wait_new_worker(OLD_PID): (pid, start) of a worker other than OLD_PID
sub wait_new_worker
{
	my ($old) = @_;
	my $deadline = time + 60;
	while (time < $deadline)
	{
		my ($pid, $start) = worker_start();
		return ($pid, $start) if $pid && $pid != $old;
		usleep(50_000);
	}
	return ();
}

# keys_done(BEFORE): have all steps first sent before BEFORE (unix time)
# been logged succeeded?
sub keys_done
{
	my ($before) = @_;
	my %pending;
	for my $r ($fake->requests)
	{
		next unless $r->{time} < $before;
		my ($run, $nid) = ($r->{headers}{'idempotency-key'} // '') =~ /^flowdb-([0-9a-f-]{36})-(\w+)$/
		  or next;
		$pending{"$run/$nid"} = 1;
	}
	return 1 unless %pending;
	my $list = join(',', map { "'$_'" } sort keys %pending);
	return poll($node,
		"SELECT count(DISTINCT (run_id, node_id)) FROM flowdb.workflow_logs "
		  . "WHERE status = 'succeeded' AND run_id::text || '/' || node_id = ANY (ARRAY[$list])",
		scalar(keys %pending), 60);
}

my ($pid, $restart) = worker_start();
ok($pid, "flowdb worker runs (pid $pid)");
my $log_offset = -s $node->logfile;

queue($FIRST);
my @restarts;    # unix time each new worker started
my $kills = 0;
my $poison;
my $in_flight_at_kill = 0;
for my $round (1 .. $ROUNDS)
{
	queue($PER_ROUND);
	if ($round == $ROUNDS / 2)
	{
		$poison = flow_execute($node, poison_bp(), { poison => 1 });
		note "poison run $poison";
	}

	# a step is interrupted by at most one crash
	ok(keys_done($restart // 0), "round $round: steps sent before the last restart are done");

	# requests in flight now
	my $deadline = time + 30;
	usleep(10_000) while $fake->stats->{inflight} < 2 && time < $deadline;
	$in_flight_at_kill++ if $fake->stats->{inflight} > 0;

	my $old = $pid;
	if ($round % 4 == 0)
	{
		$node->stop('immediate');
		$node->start;
	}
	else
	{
		($old) = worker_start();
		ok($old && kill('KILL', $old), "round $round: kill -9 worker $old");
		$kills++;
	}
	($pid, $restart) = wait_new_worker($old);
	ok($pid, sprintf('round %d: new worker %s after %s (%.1f s)',
			$round, $pid // '-', $round % 4 ? 'kill -9' : 'immediate stop', time - $t_start))
	  or BAIL_OUT('no worker came back');
	push @restarts, $restart;
}
cmp_ok($in_flight_at_kill, '>=', $ROUNDS - 2, 'requests were in flight at (nearly) every crash');

my @good = sort keys %owner_of;
is(scalar @good, 200, '200 good runs queued');
ok(wait_runs($node, 'true', 90), 'every run finished');

########################################################################
# Runs and logs
########################################################################

is( $node->safe_psql(
		'postgres',
		"SELECT count(*) FILTER (WHERE status = 'succeeded') || '/' || count(*) "
		  . "FROM flowdb.runs WHERE payload ? 'i'"),
	'200/200',
	'every good run succeeded');

my %expect_nodes = map { ("$_" => $STEPS{ $owner_of{$_} }) } @good;
my $per_node = query_json($node, q{
	SELECT coalesce(jsonb_object_agg(run_id || '/' || node_id, ok || '/' || bad), '{}')
	FROM (SELECT l.run_id, l.node_id,
	             count(*) FILTER (WHERE l.status = 'succeeded') AS ok,
	             count(*) FILTER (WHERE l.status = 'failed') AS bad
	      FROM flowdb.workflow_logs l JOIN flowdb.runs r ON r.id = l.run_id
	      WHERE r.payload ? 'i' GROUP BY 1, 2) x});
my @bad_nodes;
for my $run (@good)
{
	for my $k (1 .. $STEPS{ $owner_of{$run} })
	{
		my $v = $per_node->{"$run/s$k"} // 'missing';
		push @bad_nodes, "$run/s$k: $v" unless $v eq '1/0';
	}
}
is(scalar(keys %$per_node), 200 * 2.5, 'log rows name exactly the nodes of the good runs');
is_deeply(\@bad_nodes, [], 'every node of every good run is logged succeeded exactly once, never failed');

my %owners = map { ($_ => 1) } split /\n/,
  $node->safe_psql('postgres', "SELECT DISTINCT owner FROM flowdb.runs WHERE payload ? 'i'");
is_deeply(\%owners, { map { ("chaos-$_" => 1) } @OWNERS }, 'the runs belong to the four owners');
my $crashes = $node->safe_psql('postgres',
	"SELECT count(*) FILTER (WHERE crashes > 0) || ' ' || max(crashes) FROM flowdb.runs WHERE payload ? 'i'");
my ($hit, $max_crashes) = split / /, $crashes;
note "$hit good runs were leased during a crash, at most $max_crashes crashes each";
cmp_ok($hit, '>', 0, 'crashes interrupted good runs');
cmp_ok($max_crashes, '<=', $ROUNDS, 'no run counted more crashes than happened');

# the poison run
my $row = run_row($node, $poison);
is($row->{status}, 'failed', 'the poison run failed');
like($row->{error}, qr/^node s5 failed: rendered value larger than 1048576 bytes/,
	'with the value cap error naming the node');
is(log_counts($node, $poison)->{'p0/succeeded'}, 1, 'its http step was logged succeeded once');

# no worker died other than by our hand
my $log = slurp_file($node->logfile, $log_offset);
my @killed = $log =~ /flowdb worker[^\n]*terminated by signal 9/g;
is(scalar @killed, $kills, "the postmaster saw exactly our $kills kills");
my @exits = $log =~ /(background worker "flowdb[^\n]*exited with exit code[^\n]*)/g;
is_deeply(\@exits, [], 'no flowdb worker exited on an error');

########################################################################
# Requests at the fake server
########################################################################

my %sent;
push @{ $sent{ $_->{headers}{'idempotency-key'} // '' } }, $_ for $fake->requests;
my %expect_keys = ("flowdb-$poison-p0" => 1);
for my $run (@good)
{
	$expect_keys{"flowdb-$run-s$_"} = 1 for 1 .. $STEPS{ $owner_of{$run} };
}
is_deeply([ sort keys %sent ], [ sort keys %expect_keys ],
	'the server saw exactly the keys flowdb-<run>-<node> of these runs');

# first_restart_after(T): the first worker start after T
sub first_restart_after
{
	my ($t) = @_;
	for my $r (@restarts)
	{
		return $r if $r > $t;
	}
	return undef;
}

# when each step's succeeded log row was finished, by key
my $done_at = query_json($node, q{
	SELECT coalesce(jsonb_object_agg('flowdb-' || run_id || '-' || node_id,
	                                 extract(epoch FROM finished_at)), '{}')
	FROM flowdb.workflow_logs WHERE status = 'succeeded'});

my (@bad, $resent);
for my $key (sort keys %sent)
{
	my @r = @{ $sent{$key} };
	next if @r == 1;
	$resent++;
	my $b = first_restart_after($r[0]{time});
	# the first send was in flight at the crash: the step was completed
	# by the worker started after it, not before the crash
	push @bad, "$key: logged succeeded before the crash that resent it"
	  if defined $b && ($done_at->{$key} // 0) < $b;
	if (@r > 2)
	{
		push @bad, "$key: sent " . scalar(@r) . ' times';
	}
	elsif (!defined $b || $r[1]{time} < $b)
	{
		push @bad, sprintf('%s: sent again at %.3f, no restart between (first %.3f)',
			$key, $r[1]{time} - $t_start, $r[0]{time} - $t_start);
	}
	elsif ($r[0]{body} ne $r[1]{body})
	{
		push @bad, "$key: body changed";
	}
}
is_deeply(\@bad, [],
	'a step reached the server at most twice: again only after a crash hit it in flight, same body');
note sprintf('%d of %d steps were resent after a crash', $resent // 0, scalar keys %sent);
cmp_ok($resent // 0, '>=', $ROUNDS / 2, 'the crashes interrupted steps in flight');

my @no_final = grep { !$sent{"flowdb-$_-s$STEPS{$owner_of{$_}}"} } @good;
is_deeply(\@no_final, [], "every run's final step reached the server");

# every step saw its predecessor's committed output
my @later = grep { $_->{path} =~ m{^/[a-d]/s[23]$} } $fake->requests;
my @wrong = grep {
	my ($k) = $_->{path} =~ /s(\d)$/;
	(json_dec($_->{body})->{prev} // -1) != $k - 1
} @later;
cmp_ok(scalar @later, '>', 0, 'later steps reached the server');
is(scalar @wrong, 0, "each later step used its predecessor's output");

########################################################################
# An interrupted run resumes ahead of its owner's backlog
########################################################################

# owner e: one run R whose step is slow; while it is in flight, 60 more
# runs of the same owner are queued (the worker leases 15 of them), then
# the worker is killed.  R is taken back due from its creation time, so
# the new worker resends its step among its first requests, not after the
# 45 runs still queued (as it would if R were due from the crash on).
my $e_bp = blueprint(name => 'chaos-e-slow',
	nodes => [ http_node('s1', $fake->url('/e/slow'), timeout_ms => 10000) ]);
my $r = $node->safe_psql('postgres',
	"SET request.jwt.claims = '{\"sub\": \"chaos-e\"}';\n"
	  . 'SELECT flow_execute(' . sql_json($e_bp) . ", '{\"e\": 0}')");
my $deadline = time + 30;
usleep(10_000) while !$fake->requests_for('/e/slow') && time < $deadline;
is(scalar($fake->requests_for('/e/slow')), 1, 'backlog: the slow step is in flight');
my $bk_bp = blueprint(name => 'chaos-e-backlog',
	nodes => [ http_node('b', $fake->url('/e/bk/{{trigger_data.n}}'), timeout_ms => 10000) ]);
is( $node->safe_psql('postgres',
		"SET request.jwt.claims = '{\"sub\": \"chaos-e\"}';\n"
		  . 'SELECT count(flow_execute(' . sql_json($bk_bp)
		  . ", jsonb_build_object('n', g))) FROM generate_series(1, 60) g"),
	'60', 'backlog: 60 runs of the same owner queued behind it');
$deadline = time + 30;
usleep(10_000) while !grep({ $_->{path} =~ m{^/e/bk/} } $fake->requests) && time < $deadline;
my ($slow_req) = $fake->requests_for('/e/slow');
cmp_ok(time - $slow_req->{time}, '<', 3.5, 'backlog: the slow step (4 s) is still in flight');
my ($old) = worker_start();
ok($old && kill('KILL', $old), "backlog: kill -9 worker $old");
($pid, $restart) = wait_new_worker($old);
ok($pid, "backlog: new worker $pid");
is(wait_run($node, $r, 60), 'succeeded', 'backlog: the interrupted run succeeded');
ok(wait_runs($node, "owner = 'chaos-e'", 60), 'backlog: every run of the owner finished');
my @after = grep { $_->{time} > $restart && $_->{path} =~ m{^/e/} } $fake->requests;
my ($pos) = grep { $after[$_]{path} eq '/e/slow' } 0 .. $#after;
ok(defined $pos, 'backlog: the slow step was resent after the crash');
note 'backlog: the slow step was request ' . (($pos // -1) + 1) . ' of ' . scalar(@after)
  . ' after the restart';
cmp_ok($pos // 999, '<', 8, 'backlog: it was resent among the first requests, ahead of the backlog');

note sprintf('chaos test took %.1f s', time - $t_start);
$fake->stop;
$node->stop;
done_testing();
