# 003_concurrency.pl: many runs at once.
#
# 100 runs queued in one transaction and 100 in separate transactions, each
# of two steps against a server that answers in ~50 ms: all succeed, every
# node has exactly one log row (succeeded), the server saw exactly 200
# requests per batch with 200 distinct Idempotency-Keys.  Then
# flowdb.max_inflight = 8 (ALTER SYSTEM + reload): the server never sees
# more than 8 requests at once.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use FindBin;
use lib $FindBin::RealBin;    # FlowdbTest.pm (PROVE_FLAGS does not reach prove)
use FlowdbTest;
use FlowdbTools qw(workers_reloaded);

my $true = JSON::PP::true;

my $node = new_node('concurrency');
my $fake = start_fake({
	'/batch*' => [ { delay_ms => 50, body => { ok => $true } } ],
});

sub batch_bp
{
	my ($batch) = @_;
	return blueprint(
		name  => "batch-$batch",
		nodes => [
			http_node('s1', $fake->url("/batch$batch/s1"),
				body => { i => '{{trigger_data.i}}' }, max_attempts => 3, backoff_ms => 50),
			http_node('s2', $fake->url("/batch$batch/s2"),
				body => { i => '{{trigger_data.i}}', prev => '{{steps.s1.output.status}}' },
				max_attempts => 3, backoff_ms => 50),
		],
		edges => [ chain('s1', 's2') ]);
}

# check_batch(BATCH): every run and node of the batch, and the server's view
sub check_batch
{
	my ($batch, $label) = @_;
	my $where = "payload->>'batch' = '$batch'";
	is($node->safe_psql('postgres',
			"SELECT count(*) FILTER (WHERE status = 'succeeded') || '/' || count(*) FROM flowdb.runs WHERE $where"),
		'100/100', "$label: 100 runs, all succeeded");
	is( $node->safe_psql(
			'postgres', qq{
		SELECT count(*) FILTER (WHERE ok = 1 AND total = 1) || '/' || count(*)
		FROM (SELECT l.run_id, l.node_id,
		             count(*) FILTER (WHERE l.status = 'succeeded') AS ok,
		             count(*) FILTER (WHERE l.status <> 'started') AS total
		      FROM flowdb.workflow_logs l JOIN flowdb.runs r ON r.id = l.run_id
		      WHERE r.$where GROUP BY 1, 2) x}),
		'200/200',
		"$label: each of the 200 nodes has exactly one finished log row, succeeded");
	# a started row only for a request still in flight 100 ms after it
	# went out: committed before its outcome, never with it
	is( $node->safe_psql(
			'postgres', qq{
		SELECT count(*) FILTER (WHERE started = 0 OR (started = 1 AND first AND s_x <> o_x))
		       || '/' || count(*)
		FROM (SELECT l.run_id, l.node_id,
		             count(*) FILTER (WHERE l.status = 'started') AS started,
		             min(l.id) FILTER (WHERE l.status = 'started')
		               < min(l.id) FILTER (WHERE l.status = 'succeeded') AS first,
		             min(l.xmin::text) FILTER (WHERE l.status = 'started') AS s_x,
		             min(l.xmin::text) FILTER (WHERE l.status = 'succeeded') AS o_x
		      FROM flowdb.workflow_logs l JOIN flowdb.runs r ON r.id = l.run_id
		      WHERE r.$where GROUP BY 1, 2) x}),
		'200/200',
		"$label: each node was logged started at most once, before its succeeded row, never with it");
	my @reqs = grep { $_->{path} =~ m{^/batch$batch/} } $fake->requests;
	is(scalar @reqs, 200, "$label: server saw exactly 200 requests");
	my %keys;
	$keys{ $_->{headers}{'idempotency-key'} // '' }++ for @reqs;
	is(scalar keys %keys, 200, "$label: 200 distinct Idempotency-Keys (no duplicate sends)");
	my %bodies;
	for my $r (@reqs)
	{
		my $b = json_dec($r->{body});
		$bodies{"$r->{path} $b->{i}"}++;
	}
	is(scalar(grep { $bodies{$_} == 1 } keys %bodies), 200,
		"$label: each (step, i) sent once with its own payload");
	my $ids = $node->safe_psql('postgres',
		"SELECT string_agg(id::text, ',') FROM flowdb.runs WHERE $where");
	my %run = map { $_ => 1 } split /,/, $ids;
	is(scalar(grep { /^flowdb-(.{36})-s[12]$/ && $run{$1} } keys %keys), 200,
		"$label: every key is flowdb-<run of this batch>-<node>");
}

# finish_or_stop(BATCH, TIMEOUT): wait for the batch; when it does not
# finish, report what the server log says and end the test here (the
# remaining checks would only repeat the failure)
sub finish_or_stop
{
	my ($batch, $timeout) = @_;
	return if ok(wait_runs($node, "payload->>'batch' = '$batch'", $timeout),
		"batch $batch finished");
	my @crashes = slurp_file($node->logfile) =~ /^.*terminated by signal.*$/mg;
	diag "server log: " . scalar(@crashes) . " process crashes, last: "
	  . ($crashes[-1] // 'none');
	diag $node->safe_psql('postgres',
		"SELECT status, count(*) FROM flowdb.runs WHERE payload->>'batch' = '$batch' GROUP BY 1")
	  if !@crashes;
	$fake->stop;
	$node->stop('immediate');
	done_testing();
	exit 0;
}

########################################################################
# batch 1: 100 runs queued in one transaction
########################################################################

my $t0 = time;
$node->safe_psql('postgres',
	    'SELECT count(flow_execute(' . sql_json(batch_bp(1))
	  . ", jsonb_build_object('batch', 1, 'i', g))) FROM generate_series(1, 100) g");
finish_or_stop(1, 60);
note sprintf('batch 1 took %.1f s', time - $t0);
check_batch(1, 'one transaction');
my $stats1 = $fake->stats;
note "server stats after batch 1: " . json_enc($stats1);
cmp_ok($stats1->{max_inflight}, '>', 8,
	'with the default max_inflight, requests overlap (more than 8 at once)');

########################################################################
# batch 2: 100 runs, one transaction each
########################################################################

$t0 = time;
my $sql = '';
$sql .= 'SELECT flow_execute(' . sql_json(batch_bp(2)) . ", '{\"batch\": 2, \"i\": $_}');\n"
  for 1 .. 100;
$node->safe_psql('postgres', $sql);    # autocommit: 100 transactions
finish_or_stop(2, 60);
note sprintf('batch 2 took %.1f s', time - $t0);
check_batch(2, 'separate transactions');

########################################################################
# batch 3: flowdb.max_inflight = 8
########################################################################

$node->safe_psql('postgres', 'ALTER SYSTEM SET flowdb.max_inflight = 8');
$node->safe_psql('postgres', 'SELECT pg_reload_conf()');
ok($node->poll_query_until('postgres', 'SHOW flowdb.max_inflight', '8'),
	'max_inflight reloaded');
ok(workers_reloaded($node), 'the worker re-read its configuration');
$fake->reset;
is($fake->stats->{max_inflight}, 0, 'server statistics reset');

$t0 = time;
$node->safe_psql('postgres',
	    'SELECT count(flow_execute(' . sql_json(batch_bp(3))
	  . ", jsonb_build_object('batch', 3, 'i', g))) FROM generate_series(1, 100) g");
finish_or_stop(3, 60);
note sprintf('batch 3 took %.1f s', time - $t0);
check_batch(3, 'max_inflight 8');
my $stats3 = $fake->stats;
note "server stats after batch 3: " . json_enc($stats3);
cmp_ok($stats3->{max_inflight}, '<=', 8, 'server never saw more than 8 requests at once');
cmp_ok($stats3->{max_inflight}, '>=', 2, 'requests still ran concurrently');

$fake->stop;
$node->stop;
done_testing();
