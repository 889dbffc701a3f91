# 001_engine.pl: the engine end to end against a fake HTTP server.
#
# Templates across steps (JSON types kept, interpolation into a URL query),
# router with conditional and else edges (both ways), skipped nodes, set
# nodes, flow_status, runtime template errors, 4xx without retries, the
# Idempotency-Key header, the payload size limit, flow_save + flow_run,
# flow_cancel of a run parked in a retry, flow_retry from the failed step.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use FindBin;
use lib $FindBin::RealBin;    # FlowdbTest.pm (PROVE_FLAGS does not reach prove)
use FlowdbTest;

my $true = JSON::PP::true;

my $node = new_node('engine');

# one fake server for the whole file; every scenario has its own paths
my %script = (
	# echo: the response body is the request itself ({"json": body, ...})
	'/a'     => [ { echo => $true } ],
	'/b'     => [ { status => 201, body => { token => 'tok-42', ok => $true } } ],
	'/c'     => [ { status => 200, body => 'plain text' } ],
	'/small' => [ { status => 200, body => { small => $true } } ],
	'/after' => [ { status => 200, body => {} } ],
	'/m1'    => [ { status => 200, body => { x => 1 } } ],
	'/m2'    => [ { status => 200, body => {} } ],
	'/f404'  => [ { status => 404, body => { error => 'no such thing' } } ],
	'/saved' => [ { echo => $true } ],
	'/busy'  => [ { status => 503, headers => { 'Retry-After' => '3' }, body => 'busy' } ],
	'/busy2' => [ { status => 503, headers => { 'Retry-After' => '3' }, body => 'busy' }, { status => 200, body => {} } ],
	'/r1'    => [ { status => 200, body => { v => 41 } } ],
	'/r2'    => [ { status => 400, body => { error => 'bad input' } } ],
	'/r3'    => [ { status => 200, body => { done => $true } } ],
);
my $fake = start_fake(\%script);

sub key_of { my ($run, $id) = @_; return "flowdb-$run-$id"; }

# requests to PATH carrying the Idempotency-Key of (RUN, NODE)
sub reqs_of
{
	my ($path, $run, $id) = @_;
	my $key = key_of($run, $id);
	return grep { ($_->{headers}{'idempotency-key'} // '') eq $key }
	  $fake->requests_for($path);
}

########################################################################
# 1. templates across three steps, router both ways, set node, skipped
########################################################################

my $bp = blueprint(
	name  => 'engine-main',
	nodes => [
		http_node(
			'a', $fake->url('/a'),
			body => {
				n     => '{{trigger_data.n}}',
				name  => '{{trigger_data.name}}',
				items => [ { id => 'it-{{trigger_data.n}}' } ]
			}),
		http_node(
			'b', $fake->url('/b'),
			body => {
				count => '{{steps.a.output.body.json.n}}',
				first => '{{steps.a.output.body.json.items[0].id}}',
				label => 'n={{steps.a.output.body.json.n}}'
			}),
		http_node(
			'c',
			$fake->url(
				'/c?t={{steps.b.output.body.token}}&n={{steps.a.output.body.json.n}}&run={{run.id}}'),
			method => 'GET'),
		{ id => 'r', type => 'router' },
		{
			id     => 'big',
			type   => 'set',
			values => {
				size  => 'big',
				n     => '{{steps.a.output.body.json.n}}',
				token => '{{steps.b.output.body.token}}',
				text  => 'got {{steps.c.output.body}}'
			}
		},
		http_node('small', $fake->url('/small'), body => { n => '{{trigger_data.n}}' }),
		http_node('after', $fake->url('/after'), body => {}),
	],
	edges => [
		chain('a', 'b', 'c', 'r'),
		{
			from      => 'r',
			to        => 'big',
			condition => { left => '{{steps.a.output.body.json.n}}', op => 'gt', right => 5 }
		},
		{ from => 'r',     to => 'small', else => $true },
		{ from => 'small', to => 'after' },
	]);

is_deeply(query_json($node, 'SELECT flow_validate(' . sql_json($bp) . ')'),
	{ valid => $true, errors => [] }, 'main blueprint is valid');

my $run1 = flow_execute($node, $bp, { n => 7, name => 'Ann' });
my $run2 = flow_execute($node, $bp, { n => 2, name => 'Bob' });
like($run1, qr/^[0-9a-f-]{36}$/, 'flow_execute returns a run id');
is(wait_run($node, $run1, 30), 'succeeded', 'run 1 (n=7) succeeded');
is(wait_run($node, $run2, 30), 'succeeded', 'run 2 (n=2) succeeded');

# step 1 got the payload with its types
my ($a1) = reqs_of('/a', $run1, 'a');
ok($a1, 'step a of run 1 was sent');
is_deeply(json_dec($a1->{body}),
	{ n => 7, name => 'Ann', items => [ { id => 'it-7' } ] },
	'step a body: whole templates keep the number type, embedded ones interpolate');

# step 2 used step 1's JSON output as a number
my @b1 = reqs_of('/b', $run1, 'b');
is(scalar @b1, 1, 'step b of run 1 sent once');
my $b1body = json_dec($b1[0]{body});
is_deeply($b1body, { count => 7, first => 'it-7', label => 'n=7' },
	'step b body built from step a output');
like($b1[0]{body}, qr/"count"\s*:\s*7[,}]/, 'count is sent as a JSON number, not a string');

# step 3: interpolated strings in the URL query
my @c1 = reqs_of('/c', $run1, 'c');
is(scalar @c1, 1, 'step c of run 1 sent once');
is($c1[0]{method}, 'GET', 'step c is a GET');
is($c1[0]{query}, "t=tok-42&n=7&run=$run1", 'step c URL query interpolated from steps b and a and run.id');

# Idempotency-Key on every request: flowdb-<run id>-<node id>
for my $r ($fake->requests)
{
	next unless $r->{path} =~ m{^/(a|b|c|small|after)$};
	like($r->{headers}{'idempotency-key'} // '',
		qr/^flowdb-[0-9a-f-]{36}-\Q$1\E$/,
		"$r->{path} request carries Idempotency-Key flowdb-<run>-<node>");
}
is(scalar(reqs_of('/a', $run2, 'a')), 1,
	'run 2 step a has Idempotency-Key flowdb-<run2>-a');

# run 1 took the conditional edge: big (set) ran, small/after skipped
my $c1 = log_counts($node, $run1);
is_deeply(
	$c1,
	{
		'a/succeeded'   => 1,
		'b/succeeded'   => 1,
		'c/succeeded'   => 1,
		'r/succeeded'   => 1,
		'big/succeeded' => 1,
		'small/skipped' => 1,
		'after/skipped' => 1
	},
	'run 1 log: one row per node, small and after skipped');
is(scalar(reqs_of('/small', $run1, 'small')), 0, 'run 1 never sent small');
is(scalar(reqs_of('/after', $run1, 'after')), 0, 'run 1 never sent after');

my $st1 = flow_status_of($node, $run1);
is_deeply(
	$st1->{nodes}{big}{output},
	{ size => 'big', n => 7, token => 'tok-42', text => 'got plain text' },
	'set node output rendered (number kept, text body interpolated)');
is($st1->{nodes}{small}{status}, 'skipped', 'small is skipped in the run state');

# run 2 took the else edge
my $c2 = log_counts($node, $run2);
is_deeply(
	$c2,
	{
		'a/succeeded'     => 1,
		'b/succeeded'     => 1,
		'c/succeeded'     => 1,
		'r/succeeded'     => 1,
		'big/skipped'     => 1,
		'small/succeeded' => 1,
		'after/succeeded' => 1
	},
	'run 2 log: else edge taken, big skipped');
my @s2 = reqs_of('/small', $run2, 'small');
is(scalar @s2, 1, 'run 2 sent small once');
is_deeply(json_dec($s2[0]{body}), { n => 2 }, 'small body from run 2 payload');

# flow_status shape
is_deeply([ sort keys %$st1 ],
	[qw(children created_at error failure_of finished_at id name nodes output parent_run_id progress sandbox started_at status steps workflow_id workflow_version)],
	'flow_status keys');
is($st1->{id},     $run1,         'flow_status id');
ok(!defined $st1->{workflow_version} && !defined $st1->{failure_of},
	'flow_status: no workflow version or failed run for a flow_execute run');
is($st1->{name},   'engine-main', 'flow_status name');
is($st1->{status}, 'succeeded',   'flow_status status');
ok(!defined $st1->{error},       'flow_status error is null');
ok(!defined $st1->{workflow_id}, 'flow_status workflow_id is null for flow_execute');
ok(defined $st1->{started_at} && defined $st1->{finished_at},
	'flow_status started_at and finished_at set');
is_deeply([ sort keys %{ $st1->{nodes} } ],
	[qw(a after b big c r small)], 'flow_status nodes has every node');
is($st1->{nodes}{$_}{status}, 'succeeded', "node $_ succeeded in state")
  for qw(a b c r big);
is(ref $st1->{steps},        'ARRAY', 'flow_status steps is an array');
is(scalar(grep { $_->{status} ne 'started' } @{ $st1->{steps} }), 7, 'seven steps logged');
# a started row only for a request still in flight 100 ms after it went
# out (here the fake server answers at once, so normally none): at most
# one per http action (a, b, c), never committed with its outcome
cmp_ok(scalar(grep { $_->{status} eq 'started' } @{ $st1->{steps} }), '<=', 3,
	'at most one started row per http action');
is($node->safe_psql('postgres', qq{
	SELECT count(*) FROM flowdb.workflow_logs s JOIN flowdb.workflow_logs o
	  ON o.run_id = s.run_id AND o.node_id = s.node_id AND o.attempt = s.attempt
	     AND o.status <> 'started'
	WHERE s.run_id = '$run1' AND s.status = 'started' AND s.xmin = o.xmin}),
	'0', 'no started row was committed together with its outcome');
ok((grep { $_->{status} eq 'succeeded' && $_->{node_id} eq 'a' && defined $_->{started_at}
			&& defined $_->{duration_ms} } @{ $st1->{steps} }),
	'the outcome row has the start time and the duration');
is_deeply([ sort keys %{ $st1->{steps}[0] } ],
	[qw(attempt duration_ms error finished_at input node_id output started_at status)],
	'step keys');
is_deeply([ map { $_->{node_id} } grep { $_->{status} eq 'succeeded' } @{ $st1->{steps} } ],
	[qw(a b c r big)], 'succeeded steps in execution order');
my ($stepb) = grep { $_->{node_id} eq 'b' && $_->{status} eq 'succeeded' } @{ $st1->{steps} };
is($stepb->{output}{status},       201,      'step b output status');
is($stepb->{output}{body}{token},  'tok-42', 'step b output body parsed as JSON');
like($stepb->{output}{headers}{'content-type'} // '', qr{application/json},
	'step b output headers have lower-case names');
is($stepb->{input}{body}{count}, 7, 'step b input holds the rendered params');
my ($stepc) = grep { $_->{node_id} eq 'c' && $_->{status} eq 'succeeded' } @{ $st1->{steps} };
is($stepc->{output}{body}, 'plain text', 'a text body stays a string');

########################################################################
# 2. a template path missing at run time fails the step and the run
########################################################################

my $bpm = blueprint(
	name  => 'missing-path',
	nodes => [
		http_node('m1', $fake->url('/m1'), body => {}),
		http_node('m2', $fake->url('/m2'),
			body => { v => '{{steps.m1.output.body.nothere.deep}}' }),
	],
	edges => [ chain('m1', 'm2') ]);
my $runm = flow_execute($node, $bpm, {});
is(wait_run($node, $runm, 30), 'failed', 'run with a missing template path failed');
my @lm = run_logs($node, $runm);
my @m2 = grep { $_->{node_id} eq 'm2' } @lm;
is(scalar @m2, 1, 'm2 has one log row');
is($m2[0]{status}, 'failed', 'm2 logged as failed');
like($m2[0]{error} // '', qr/steps\.m1\.output\.body\.nothere/,
	'm2 error names the missing path');
like(run_row($node, $runm)->{error} // '', qr/m2.*nothere|nothere.*m2/,
	'run error names the node and the path');
is(scalar $fake->requests_for('/m2'), 0, 'm2 was never sent');

########################################################################
# 3. a 4xx fails at once, whatever max_attempts says
########################################################################

my $run4 = flow_execute($node,
	blueprint(nodes => [ http_node('f', $fake->url('/f404'), max_attempts => 3, backoff_ms => 10) ]),
	{});
is(wait_run($node, $run4, 30), 'failed', '404 run failed');
is(scalar $fake->requests_for('/f404'), 1, '404 sent exactly once');
my @l4 = run_logs($node, $run4);
is(scalar @l4,       1,        'one log row for the 404');
is($l4[0]{status},   'failed', '404 row is failed');
is($l4[0]{attempt},  1,        '404 failed on attempt 1');
like($l4[0]{error} // '', qr/HTTP 404/, '404 error names the status');
like(run_row($node, $run4)->{error} // '', qr/HTTP 404/, 'run error names the status');

########################################################################
# 4. payload size limit
########################################################################

my $small_bp = blueprint(nodes => [ http_node('p', $fake->url('/m2'), body => {}) ]);
my $nruns = $node->safe_psql('postgres', 'SELECT count(*) FROM flowdb.runs');
my ($state, $err) = sql_error($node,
	"SET flowdb.max_payload_bytes = 1024;\n"
	  . 'SELECT flow_execute(' . sql_json($small_bp) . ', '
	  . sql_json({ blob => 'x' x 3000 }) . ');');
is($state, '54000', 'oversized payload raises 54000 (program_limit_exceeded)');
like($err, qr/payload is too large/, 'error says the payload is too large');
is($node->safe_psql('postgres', 'SELECT count(*) FROM flowdb.runs'),
	$nruns, 'no run queued for the oversized payload');
($state, $err) = sql_error($node,
	"SET flowdb.max_payload_bytes = 1024;\n"
	  . 'SELECT flow_execute(' . sql_json($small_bp) . ', '
	  . sql_json({ blob => 'x' x 500 }) . ');');
is($state, '', 'a payload under the limit is accepted');

########################################################################
# 5. flow_save + flow_run
########################################################################

my $saved_bp = blueprint(
	name  => 'saved-one',
	nodes => [
		http_node('s', $fake->url('/saved'),
			body => { wf => '{{workflow.id}}', v => '{{trigger_data.v}}' })
	]);
my $wid = $node->safe_psql('postgres', 'SELECT flow_save(' . sql_json($saved_bp) . ')');
like($wid, qr/^[0-9a-f-]{36}$/, 'flow_save returns an id');
my $runs = $node->safe_psql('postgres', "SELECT flow_run('$wid', '{\"v\": 5}')");
is(wait_run($node, $runs, 30), 'succeeded', 'run of a saved workflow succeeded');
is(run_row($node, $runs)->{workflow_id}, $wid, 'run points at its workflow');
my ($sreq) = reqs_of('/saved', $runs, 's');
ok($sreq, 'saved workflow step was sent');
is_deeply(json_dec($sreq->{body}), { wf => $wid, v => 5 },
	'saved workflow step saw workflow.id and trigger_data');
is(flow_status_of($node, $runs)->{workflow_id}, $wid, 'flow_status workflow_id');
($state) = sql_error($node,
	"SELECT flow_run('00000000-0000-0000-0000-000000000000', '{}')");
is($state, 'P0002', 'flow_run of an unknown workflow raises P0002');

########################################################################
# 6. flow_cancel of a run parked in a retry (Retry-After: 3).  A control
# run parked the same way just after it must get its retry through; by then
# the canceled run's retry was due too, and must not have been sent.
########################################################################

my $runc = flow_execute($node,
	blueprint(nodes => [ http_node('busy', $fake->url('/busy'), max_attempts => 3) ]), {});
ok( $node->poll_query_until('postgres',
		"SELECT count(*) > 0 FROM flowdb.workflow_logs WHERE run_id = '$runc' AND status = 'retrying'"
	),
	'busy run logged a retrying attempt');
is($node->safe_psql('postgres', "SELECT flow_cancel('$runc')"), 't', 'flow_cancel returns true');
is(wait_run($node, $runc, 5), 'canceled', 'run is canceled');
my $runk = flow_execute($node,
	blueprint(nodes => [ http_node('busy', $fake->url('/busy2'), max_attempts => 3) ]), {});
is(wait_run($node, $runk, 60), 'succeeded', 'control run got its retry through after Retry-After');
is(scalar $fake->requests_for('/busy2'), 2, 'control run: the first attempt and the retry');
my $rowc = run_row($node, $runc);
is($rowc->{status}, 'canceled', 'run stays canceled (the worker did not overwrite it)');
like($rowc->{error} // '', qr/canceled/, 'run error says canceled');
ok(defined $rowc->{finished_at}, 'canceled run has finished_at');
is(scalar $fake->requests_for('/busy'), 1, 'no further request after the cancel');
is($node->safe_psql('postgres', "SELECT flow_cancel('$runc')"), 'f',
	'flow_cancel of a finished run returns false');
($state) = sql_error($node, "SELECT flow_cancel('00000000-0000-0000-0000-000000000000')");
is($state, 'P0002', 'flow_cancel of an unknown run raises P0002');

########################################################################
# 7. flow_retry resumes a failed run at its failed step
########################################################################

my $bpr = blueprint(
	name  => 'retry-me',
	nodes => [
		http_node('s1', $fake->url('/r1'), body => {}),
		http_node('s2', $fake->url('/r2'), body => { v => '{{steps.s1.output.body.v}}' }),
		http_node('s3', $fake->url('/r3'), body => { from => '{{steps.s2.output.body.w}}' }),
	],
	edges => [ chain('s1', 's2', 's3') ]);
my $runr = flow_execute($node, $bpr, {});
is(wait_run($node, $runr, 30), 'failed', 'run fails at s2 (400)');
($state) = sql_error($node, "SELECT flow_retry('$runs')");
is($state, '55000', 'flow_retry of a succeeded run raises 55000');

# fix the server and retry
$script{'/r2'} = [ { status => 200, body => { w => 'fixed' } } ];
$fake->set_script(\%script);
is($node->safe_psql('postgres', "SELECT flow_retry('$runr')"), $runr, 'flow_retry returns the run id');
is(wait_run($node, $runr, 30), 'succeeded', 'retried run succeeded');
is(scalar(reqs_of('/r1', $runr, 's1')), 1, 'first step was not sent again');
my @r2 = reqs_of('/r2', $runr, 's2');
is(scalar @r2, 2, 'failed step sent twice in all (once per run attempt)');
is_deeply(json_dec($r2[1]{body}), { v => 41 },
	'the resent step still sees the first step output');
my @r3 = reqs_of('/r3', $runr, 's3');
is(scalar @r3, 1, 'last step sent once');
is_deeply(json_dec($r3[0]{body}), { from => 'fixed' }, 'last step used the new output');
is_deeply(
	log_counts($node, $runr),
	{ 's1/succeeded' => 1, 's2/failed' => 1, 's2/succeeded' => 1, 's3/succeeded' => 1 },
	'log: s1 once, s2 failed then succeeded, s3 once');
my $rowr = run_row($node, $runr);
is($rowr->{state}{retries}, 1, 'state counts one retry');
ok(!defined $rowr->{error}, 'error cleared after the successful retry');

$fake->stop;
$node->stop;
done_testing();
