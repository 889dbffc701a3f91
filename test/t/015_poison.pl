# 015_poison.pl: no run can take the worker down (issue 8, section 1).
#
# - the 2.3 KB blueprint of 8 chained set nodes, each value the previous
#   output repeated 10 times (10^8 growth): fails with a clear error at
#   flowdb.max_value_bytes, the worker pid does not change, and a good run
#   queued after it succeeds;
# - with flowdb.max_state_bytes lowered, the same growth fails on the run
#   state's cap instead;
# - "matches" with (a|aa)*c against a 40 KB string fails at once on
#   flowdb.max_regex_subject; a good run queued after it reaches its
#   server promptly; against 10 KB (the limit) it is decided at once;
# - a run whose commit the database refuses (a trigger raising) fails on
#   its own with that error; other runs commit;
# - crash counter: a run whose request hangs, with the worker killed -9
#   three times while it is in flight, is failed ("worker crashed 3 times
#   while running this run") instead of claimed again; a good run after
#   it succeeds; the worker still stops promptly on a fast shutdown.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);
use FindBin;
use lib $FindBin::RealBin;    # FlowdbTest.pm (PROVE_FLAGS does not reach prove)
use FlowdbTest;

my $node = new_node('poison');
my $fake = start_fake({
	'/good/*' => [ { body => { ok => 1 } } ],
	'/hang'   => [ { hang => JSON::PP::true } ],
});

# good_run(TAG): a one-step http run; returns (run id, seconds until its
# request reached the server)
sub good_run
{
	my ($tag) = @_;
	my $t0  = time;
	my $run = flow_execute($node,
		blueprint(nodes => [ http_node('g', $fake->url("/good/$tag")) ]), {});
	my $deadline = time + 30;
	usleep(20_000) while !$fake->requests_for("/good/$tag") && time < $deadline;
	return ($run, time - $t0);
}

# growth_bp: s0 sets v to 100 bytes, s1..s7 each set v to ten copies of
# the previous v
sub growth_bp
{
	my @nodes = ({ id => 's0', type => 'set', values => { v => 'x' x 100 } });
	for my $i (1 .. 7)
	{
		my $p = $i - 1;
		push @nodes,
		  { id => "s$i", type => 'set', values => { v => "{{steps.s$p.output.v}}" x 10 } };
	}
	return blueprint(nodes => \@nodes, edges => [ chain(map { "s$_" } 0 .. 7) ]);
}

my $pid = worker_pid($node);
ok($pid > 0, "worker runs (pid $pid)");

# 1. the rendered value cap (default 1 MB)
my $bp = growth_bp();
cmp_ok(length(json_enc($bp)), '<', 3000, 'the poison blueprint is small');
my $poison = flow_execute($node, $bp, {});
my ($good, $took) = good_run('after-growth');
is(wait_run($node, $poison, 30), 'failed', 'the growing run failed');
my $row = run_row($node, $poison);
like($row->{error}, qr/^node s5 failed: rendered value larger than 1048576 bytes/,
	'with a clear error naming the node and the cap');
is(wait_run($node, $good, 30), 'succeeded', 'a good run queued after it succeeded');
is(worker_pid($node), $pid, 'the worker did not restart');
cmp_ok(length($node->safe_psql('postgres', "SELECT state::text FROM flowdb.runs WHERE id = '$poison'")),
	'<', 2 * 1024 * 1024, 'the stored state stays small');

# 2. the run state cap
$node->safe_psql('postgres', "ALTER SYSTEM SET flowdb.max_state_bytes = '64kB'; SELECT pg_reload_conf()");
ok(poll($node, "SELECT current_setting('flowdb.max_state_bytes') = '64kB'"), 'state cap lowered');
$poison = flow_execute($node, $bp, {});
is(wait_run($node, $poison, 30), 'failed', 'the growing run failed on the state cap');
like(run_row($node, $poison)->{error},
	qr/^node s3 failed: the run's state would be larger than 65536 bytes \(flowdb.max_state_bytes\)/,
	'with a clear error naming the setting');
$node->safe_psql('postgres', "ALTER SYSTEM RESET flowdb.max_state_bytes; SELECT pg_reload_conf()");
is(worker_pid($node), $pid, 'the worker did not restart');

# 3. a catastrophic regular expression on a long string
my $rx = blueprint(
	nodes => [ { id => 'r', type => 'router' }, http_node('m', $fake->url('/good/never')) ],
	edges => [
		{
			from      => 'r',
			to        => 'm',
			condition => { left => '{{trigger_data.s}}', op => 'matches', right => '(a|aa)*c' }
		}
	]);
my $t0 = time;
my $slow = flow_execute($node, $rx, { s => 'a' x 40000 });
($good, $took) = good_run('after-regex');
is(wait_run($node, $slow, 30), 'failed', 'the regex run failed');
like(run_row($node, $slow)->{error},
	qr/operator "matches": the string is 40000 bytes long, the limit is 10000 \(flowdb.max_regex_subject\)/,
	'with a clear error');
cmp_ok(time - $t0, '<', 5, 'quickly');
cmp_ok($took, '<', 5, 'a good run queued after it reached its server promptly');
is(wait_run($node, $good, 30), 'succeeded', 'and succeeded');
is(scalar($fake->requests_for('/good/never')), 0, 'the guarded step never ran');
# at the limit, PostgreSQL's engine decides (a|aa)*c at once: no match
$t0 = time;
my $at_limit = flow_execute($node, $rx, { s => 'a' x 10000 });
is(wait_run($node, $at_limit, 30), 'succeeded', 'a 10000-byte subject is evaluated');
cmp_ok(time - $t0, '<', 5, 'quickly');
is(log_counts($node, $at_limit)->{'m/skipped'}, 1, 'no match: the guarded step is skipped');

# 4. a run whose changes the database refuses (here a trigger on the log
# table raises for one node) fails alone; the worker goes on
$node->safe_psql('postgres', q{
	CREATE FUNCTION public.refuse_explode() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		IF NEW.node_id = 'explode' THEN
			RAISE EXCEPTION 'log row refused for node %', NEW.node_id;
		END IF;
		RETURN NEW;
	END $$;
	CREATE TRIGGER refuse_explode BEFORE INSERT ON flowdb.workflow_logs
		FOR EACH ROW EXECUTE FUNCTION public.refuse_explode();
});
my $refused = flow_execute($node,
	blueprint(nodes => [ { id => 'explode', type => 'set', values => { v => 1 } } ]), {});
($good, $took) = good_run('after-refused');
is(wait_run($node, $refused, 30), 'failed', 'the refused run failed');
like(run_row($node, $refused)->{error},
	qr/^the worker could not store this run: log row refused for node explode/,
	'with the database error');
is(wait_run($node, $good, 30), 'succeeded', 'a good run at the same time succeeded');
is(worker_pid($node), $pid, 'the worker did not restart');
$node->safe_psql('postgres', 'DROP TRIGGER refuse_explode ON flowdb.workflow_logs');

# 5. crash counter: kill -9 the worker three times while a request hangs
my $hang = flow_execute($node,
	blueprint(nodes => [ http_node('h', $fake->url('/hang'), timeout_ms => 120000) ]), {});
for my $round (1 .. 3)
{
	my $deadline = time + 30;
	usleep(20_000) while scalar($fake->requests_for('/hang')) < $round && time < $deadline;
	is(scalar($fake->requests_for('/hang')), $round, "crash $round: the request is in flight");
	# the worker flushes its claim's WAL right after sending (flush_claims):
	# wait until everything written so far is durable, so the kill below
	# always finds the lease
	my $lsn = $node->safe_psql('postgres', 'SELECT pg_current_wal_insert_lsn()');
	ok(poll($node, "SELECT pg_current_wal_flush_lsn() >= '$lsn'", 't', 30),
		"crash $round: the claim is durable");
	my $wpid = worker_pid($node);
	ok($wpid > 0, "crash $round: worker pid $wpid");
	kill 'KILL', $wpid;
	# wait for the cluster to come back with a new worker
	ok(poll($node,
			"SELECT count(*) > 0 FROM pg_stat_activity WHERE backend_type = 'flowdb worker' AND pid <> $wpid",
			't', 60),
		"crash $round: a new worker started");
}
is(wait_run($node, $hang, 60), 'failed', 'the run in flight during 3 crashes failed');
$row = run_row($node, $hang);
is($row->{error}, 'worker crashed 3 times while running this run', 'with a clear error');
is($row->{crashes}, 3, 'crashes counted');
is(scalar($fake->requests_for('/hang')), 3, 'it was not sent a fourth time');
($good, $took) = good_run('after-crashes');
is(wait_run($node, $good, 30), 'succeeded', 'a good run after the crashes succeeded');
is($node->safe_psql('postgres', "SELECT crashes FROM flowdb.runs WHERE id = '$good'"), '0',
	'and counted no crash');

# the worker answers a fast shutdown promptly
$t0 = time;
$node->stop('fast');
cmp_ok(time - $t0, '<', 10, 'fast shutdown was prompt');

done_testing();
