# 043_status.pl: progress a user can watch, and a retry after a fix.
#
# 1. A slow first step (the fake server answers after 4 s): while its
#    request is in flight, flow_status lists every node in blueprint order,
#    the first one "running" with "since" (when the request went out) and
#    the others "pending", and the step log already has a "started" row
#    (committed 100 ms after the request went out, without waiting for the
#    answer: what Realtime subscribers of flowdb.workflow_logs see).  Once
#    it finished: that started row, before the attempt's outcome row; the
#    fast step after it has only its outcome row; durations in progress.
# 2. A retried slow attempt (503 then 200, 400 ms each) is logged started
#    twice, attempts 1 and 2; flow_status progress says attempt 2 of 3.
#    The same answers without the delay log only the two outcomes, each
#    with its start time and duration.
# 3. A saved workflow fails on a typo in its second step's URL; the user
#    fixes the saved workflow and calls flow_retry(run, use_current_blueprint
#    => true): the first step is not sent again (its output is kept), the
#    fixed step and a step added by the fix run, the run succeeds.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;    # FlowdbTest.pm (PROVE_FLAGS does not reach prove)
use FlowdbTest;

my $node = new_node('status');
my $fake = start_fake({
	'/slow'  => [ { delay_ms => 4000, body => { slow => JSON::PP::true } } ],
	'/after' => [ { body => { after => JSON::PP::true } } ],
	'/flaky' => [
		{ status => 503, body => 'busy', delay_ms => 400 },
		{ body => { ok => JSON::PP::true }, delay_ms => 400 }
	],
	'/flaky_fast' => [ { status => 503, body => 'busy' }, { body => { ok => JSON::PP::true } } ],
	'/fetch' => [ { body => { order => 42 } } ],
	'/typo'  => [ { status => 404, body => 'no such page' } ],
	'/fixed' => [ { echo => JSON::PP::true } ],
	'/added' => [ { body => { added => JSON::PP::true } } ],
});

########################################################################
# 1. a request in flight is visible
########################################################################

my $bp = blueprint(
	name  => 'slow first',
	nodes => [
		http_node('zz_slow', $fake->url('/slow'), timeout_ms => 30000),
		{ id => 'gate', type => 'router' },
		http_node('after', $fake->url('/after')),
	],
	edges => [ chain('zz_slow', 'gate', 'after') ]);
my $run = flow_execute($node, $bp);

ok( poll($node,
		"SELECT flow_status('$run') #>> '{progress,0,status}' = 'running'", 't', 60),
	'in flight: the first node shows running');
my $st = flow_status_of($node, $run);
is($st->{status}, 'running', 'the run is running');
is_deeply([ map { $_->{id} } @{ $st->{progress} } ], [ 'zz_slow', 'gate', 'after' ],
	'progress lists every node in blueprint order');
is_deeply([ map { $_->{status} } @{ $st->{progress} } ], [ 'running', 'pending', 'pending' ],
	'the first node is running, the others pending');
my $p0 = $st->{progress}[0];
ok(defined $p0->{since}, 'running node has since');
is($p0->{attempt}, 1, 'attempt 1');
is($p0->{max_attempts}, 3, 'of 3 (the default)');
ok(!defined $p0->{finished_at} && !defined $p0->{duration_ms}, 'not finished, no duration yet');
is($st->{nodes}{zz_slow}{status}, 'running', 'nodes (engine state) has it running too');
my @started = started_logs($node, $run);
is(scalar @started, 1, 'one started log row while the request is in flight');
is($started[0]{node_id}, 'zz_slow', 'for the slow node');
is($started[0]{attempt}, 1, 'attempt 1');
ok(!defined $started[0]{finished_at} && !defined $started[0]{duration_ms},
	'the started row has no finish time or duration');
is(scalar(run_logs($node, $run)), 0, 'no outcome row yet');
# since is when the request went out: the server had it by then
my @q = $fake->requests_for('/slow');
is(scalar @q, 1, 'the server has the request');
my $since = $node->safe_psql('postgres',
	"SELECT extract(epoch FROM (flow_status('$run') #>> '{progress,0,since}')::timestamptz)");
cmp_ok(abs($since - $q[0]{time}), '<', 2, 'since is when the request went out');
is( $node->safe_psql('postgres',
		"SELECT (flow_status('$run') #>> '{progress,0,since}')::timestamptz = started_at "
		  . "FROM flowdb.workflow_logs WHERE run_id = '$run' AND status = 'started'"),
	't', 'since and the started row agree');

is(wait_run($node, $run, 60), 'succeeded', 'the slow run succeeded');
$st = flow_status_of($node, $run);
is_deeply([ map { $_->{status} } @{ $st->{progress} } ], [ 'succeeded', 'succeeded', 'succeeded' ],
	'all nodes succeeded');
cmp_ok($st->{progress}[0]{duration_ms}, '>=', 3500, 'the slow node took its 4 s');
ok(defined $st->{progress}[0]{finished_at}, 'and has a finish time');
is_deeply([ map { "$_->{node_id}/$_->{status}" } @{ $st->{steps} } ],
	[ 'zz_slow/started', 'zz_slow/succeeded', 'gate/succeeded', 'after/succeeded' ],
	'step log: started for the request in flight, none for the fast request or the router');

########################################################################
# 2. a retried attempt is started again
########################################################################

my $r2 = flow_execute($node,
	blueprint(nodes => [ http_node('f', $fake->url('/flaky'), max_attempts => 3, backoff_ms => 50) ]));
is(wait_run($node, $r2, 60), 'succeeded', '503 then 200: succeeded');
is_deeply(
	query_json($node,
		"SELECT jsonb_agg(status || ':' || attempt ORDER BY id) FROM flowdb.workflow_logs WHERE run_id = '$r2'"),
	[ 'started:1', 'retrying:1', 'started:2', 'succeeded:2' ],
	'each slow attempt is logged started before its outcome');
$st = flow_status_of($node, $r2);
is($st->{progress}[0]{attempt}, 2, 'progress: attempt 2');
is($st->{progress}[0]{max_attempts}, 3, 'of 3');

my $r2f = flow_execute($node,
	blueprint(nodes => [ http_node('f', $fake->url('/flaky_fast'), max_attempts => 3, backoff_ms => 50) ]));
is(wait_run($node, $r2f, 60), 'succeeded', 'fast 503 then 200: succeeded');
is( $node->safe_psql('postgres', qq{
		SELECT string_agg(status || ':' || attempt || ':' || (started_at IS NOT NULL)
		  || ':' || (duration_ms >= 0), ',' ORDER BY id)
		FROM flowdb.workflow_logs WHERE run_id = '$r2f'}),
	'retrying:1:true:true,succeeded:2:true:true',
	'fast attempts: only their outcome rows, each with its start time and duration');

########################################################################
# 3. flow_retry with the current blueprint after a fix
########################################################################

my $typo = blueprint(
	name  => 'typo',
	nodes => [
		http_node('fetch', $fake->url('/fetch')),
		http_node('post', $fake->url('/typo'), body => { order => '{{steps.fetch.output.body.order}}' }),
	],
	edges => [ chain('fetch', 'post') ]);
my $wf = $node->safe_psql('postgres', 'SELECT flow_save(' . sql_json($typo) . ')');
my $r3 = $node->safe_psql('postgres', "SELECT flow_run('$wf', '{}')");
is(wait_run($node, $r3, 60), 'failed', 'the typo fails the run (404)');
is(scalar $fake->requests_for('/fetch'), 1, 'fetch was sent once');

# the user fixes the saved workflow: the right URL, and a step more
my $fixed = blueprint(
	name  => 'typo fixed',
	nodes => [
		http_node('fetch', $fake->url('/fetch')),
		http_node('post', $fake->url('/fixed'), body => { order => '{{steps.fetch.output.body.order}}' }),
		http_node('added', $fake->url('/added')),
	],
	edges => [ chain('fetch', 'post', 'added') ]);
$node->safe_psql('postgres',
	'UPDATE flowdb.workflows SET blueprint = ' . sql_json($fixed) . " WHERE id = '$wf'");

# another owner cannot retry it
my ($code) = sql_error($node,
	qq{SET request.jwt.claims = '{"sub": "mallory"}'; SELECT flow_retry('$r3', use_current_blueprint => true)});
is($code, 'P0002', "another owner's retry: not found");

is($node->safe_psql('postgres', "SELECT flow_retry('$r3', use_current_blueprint => true)"), $r3,
	'flow_retry with the current blueprint returns the run');
is(wait_run($node, $r3, 60), 'succeeded', 'the fixed run succeeded');
is(scalar $fake->requests_for('/fetch'), 1, 'the completed step was not sent again');
my @fixed_reqs = $fake->requests_for('/fixed');
is(scalar @fixed_reqs, 1, 'the fixed step was sent');
like($fixed_reqs[0]{body} // '', qr/"order":\s*42/, 'with the kept output of the first step');
is(scalar $fake->requests_for('/added'), 1, 'the added step ran');
is(scalar $fake->requests_for('/typo'), 1, 'the old URL was not called again');
$st = flow_status_of($node, $r3);
is($st->{name}, 'typo fixed', 'the run now has the current blueprint');
is_deeply([ map { "$_->{id}:$_->{status}" } @{ $st->{progress} } ],
	[ 'fetch:succeeded', 'post:succeeded', 'added:succeeded' ], 'progress of the fixed run');
is(log_counts($node, $r3)->{'fetch/succeeded'}, 1, 'fetch logged succeeded once');

done_testing();
