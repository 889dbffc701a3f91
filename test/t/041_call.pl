# 041_call.pl: call nodes (a saved workflow run as a child run).
#
#   (a) a call by name: the child gets the rendered payload, the parent waits
#       parked (status waiting, no lease: no worker slot held) while the
#       child runs, then goes on with {"status", "run_id", "steps"} of the
#       child; the runs name each other (parent_run_id, flow_status
#       parent_run_id / children), exactly one child and one request.
#       Next to a busy branch (the parent committed several times while a
#       worker holds it) there is still exactly one child.  The child of a
#       dry run is a dry run.
#   (b) a call by id; a call of a workflow that does not exist fails the
#       node clearly, as does another owner's workflow (by id or name); a
#       child that fails fails the call node.
#   (c) mutual recursion stops at the depth cap (5 nested runs); a workflow
#       calling itself by name is refused by flow_save.
#   (d) cancelling the parent cancels its waiting child.
#   (e) a map over a sub-workflow: one child run per item (the item as its
#       trigger_data, keyed <node>[<index>]), at most "concurrency" at once,
#       results in item order; failed children with on_item_error continue;
#       cancelling the parent cancels every child of the map.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use FindBin;
use lib $FindBin::RealBin;    # FlowdbTest.pm (PROVE_FLAGS does not reach prove)
use FlowdbTest;
use FlowdbTools qw(wait_until save_workflow);

my $true = JSON::PP::true;

my $node = new_node('call');
my $fake = start_fake({
	'/notify' => [ { delay_ms => 1500, echo => $true } ],
	'/broken' => [ { status => 400, body => { error => 'bad request' } } ],
	'/one' => [ { delay_ms => 400, echo => $true } ],
	'/slow-broken' => [ { delay_ms => 1500, status => 400 } ],
});

sub q1 { return $node->safe_psql('postgres', $_[0]); }

# a saved workflow "notify-owner": posts trigger_data.text
my $notify = save_workflow($node, {
		version => 1, name => 'notify-owner', trigger => { type => 'manual' },
		nodes => [ http_node('post', $fake->url('/notify'), body => { text => '{{trigger_data.text}}' }) ] });
like($notify, qr/^[0-9a-f-]{36}$/, 'notify-owner saved');

sub caller_bp
{
	my ($ref, %o) = @_;
	return blueprint(
		name  => $o{name} // 'caller',
		nodes => [
			{ id => 'tell', type => 'call', workflow => $ref,
			  payload => { text => 'order {{trigger_data.id}} paid' } },
			{ id => 'after', type => 'set', values => {
				status => '{{steps.tell.output.status}}',
				sent   => '{{steps.tell.output.steps.post.body.json.text}}' } },
		],
		edges => [ chain('tell', 'after') ]);
}

########################################################################
# (a) call by name
########################################################################

my $run = flow_execute($node, caller_bp('notify-owner'), { id => 42 });
ok(wait_until($node, "SELECT count(*) = 1 FROM flowdb.runs WHERE parent_run_id = '$run'"),
	'(a) the child run exists');
my $child = q1("SELECT id FROM flowdb.runs WHERE parent_run_id = '$run'");
ok(wait_until($node, "SELECT count(*) = 1 FROM flowdb.runs WHERE id = '$child' AND status = 'running'"),
	'(a) the child is running');
is(q1("SELECT status || ' ' || (lease_owner IS NULL) || ' ' || (state #>> '{nodes,tell,child}') FROM flowdb.runs WHERE id = '$run'"),
	"waiting true $child", '(a) meanwhile the parent is parked (no lease) and names its child');
is(wait_run($node, $run, 60), 'succeeded', '(a) the parent succeeded');
is(q1("SELECT workflow_id || ' ' || parent_node || ' ' || status || ' ' || (payload ->> 'text') FROM flowdb.runs WHERE id = '$child'"),
	"$notify tell succeeded order 42 paid", '(a) the child: the saved workflow, keyed by node, with the rendered payload');
is_deeply(json_dec(q1("SELECT state #> '{nodes,after,output}' FROM flowdb.runs WHERE id = '$run'")),
	{ status => 'succeeded', sent => 'order 42 paid' },
	'(a) the parent used the child\'s status and step outputs');
is(q1("SELECT state #>> '{nodes,tell,output,run_id}' FROM flowdb.runs WHERE id = '$run'"), $child,
	'(a) the call output names the child run');
my $st = json_dec(q1("SELECT flow_status('$run')"));
is_deeply([ map { "$_->{id} $_->{node} $_->{status}" } @{ $st->{children} } ],
	[ "$child tell succeeded" ], '(a) flow_status of the parent lists its child');
is(json_dec(q1("SELECT flow_status('$child')"))->{parent_run_id}, $run,
	'(a) flow_status of the child names its parent');
is(scalar $fake->requests, 1, '(a) one request: one child run');
is(q1("SELECT count(*) FROM flowdb.runs WHERE parent_run_id IS NOT NULL"), '1', '(a) exactly one child run');

# the parent keeps going on another branch while the child runs: it is
# committed several times while a worker holds it (its in-memory state
# never learns the child's id), yet there is exactly one child
$fake->reset;
$run = flow_execute($node, blueprint(name => 'two-branches', nodes => [
		{ id => 'tell', type => 'call', workflow => 'notify-owner', payload => { text => 'x' } },
		http_node('b1', $fake->url('/one')), http_node('b2', $fake->url('/one')),
		http_node('b3', $fake->url('/one')) ],
	edges => [ chain('b1', 'b2', 'b3') ]), {});
is(wait_run($node, $run, 60), 'succeeded', '(a) call next to a busy branch: succeeded');
is(q1("SELECT count(*) || ' ' || min(parent_node) FROM flowdb.runs WHERE parent_run_id = '$run'"), '1 tell',
	'(a) call next to a busy branch: exactly one child');
is(scalar(grep { $_->{path} eq '/notify' } $fake->requests), 1, '(a) call next to a busy branch: one request');

# a dry run's child is a dry run: nothing is sent
$fake->reset;
$run = q1('SELECT flow_execute(' . sql_json(blueprint(name => 'dry', nodes => [
		{ id => 'tell', type => 'call', workflow => 'notify-owner', payload => { text => 'dry' } } ]))
	. ", '{}', sandbox => true)");
is(wait_run($node, $run, 60), 'succeeded', '(a) a dry run calling a workflow succeeded');
is(q1("SELECT sandbox FROM flowdb.runs WHERE parent_run_id = '$run'"), 't', '(a) its child is a dry run too');
is(scalar(grep { $_->{path} eq '/notify' } $fake->requests), 0, '(a) and sent nothing');

########################################################################
# (b) by id, not found, failing child
########################################################################

$run = flow_execute($node, caller_bp($notify), { id => 7 });
is(wait_run($node, $run, 60), 'succeeded', '(b) a call by id succeeded');
is(q1("SELECT state #>> '{nodes,after,output,sent}' FROM flowdb.runs WHERE id = '$run'"), 'order 7 paid',
	'(b) by id: the child ran with the payload');

$run = flow_execute($node, caller_bp('no-such-flow'), { id => 1 });
is(wait_run($node, $run, 60), 'failed', '(b) calling a missing workflow fails');
like(q1("SELECT error FROM flowdb.runs WHERE id = '$run'"),
	qr/^node tell failed: workflow "no-such-flow" not found/, '(b) with a clear error');
is(q1("SELECT count(*) FROM flowdb.runs WHERE parent_run_id = '$run'"), '0', '(b) and no child run');

# another owner cannot call this owner's workflow, by id or by name
my $mallory = q1("SELECT set_config('request.jwt.claims', '{\"sub\": \"mallory\"}', false) IS NOT NULL;
	SELECT flow_execute(" . sql_json(caller_bp($notify)) . ", '{\"id\": 9}')");
$mallory =~ s/^t\n//;
is(wait_run($node, $mallory, 60), 'failed', '(b) another owner\'s call by id fails');
like(q1("SELECT owner || ': ' || error FROM flowdb.runs WHERE id = '$mallory'"),
	qr/^mallory: node tell failed: workflow "\Q$notify\E" not found/, '(b) the workflow of another owner is not found');
$mallory = q1("SELECT set_config('request.jwt.claims', '{\"sub\": \"mallory\"}', false) IS NOT NULL;
	SELECT flow_execute(" . sql_json(caller_bp('notify-owner')) . ", '{\"id\": 9}')");
$mallory =~ s/^t\n//;
is(wait_run($node, $mallory, 60), 'failed', '(b) another owner\'s call by name fails too');
is(q1("SELECT count(*) FROM flowdb.runs WHERE owner = 'mallory' AND parent_run_id IS NOT NULL"), '0',
	'(b) no child run for the other owner');

save_workflow($node, {
		version => 1, name => 'broken', trigger => { type => 'manual' },
		nodes => [ http_node('post', $fake->url('/broken'), max_attempts => 1) ] });
$run = flow_execute($node, caller_bp('broken'), { id => 2 });
is(wait_run($node, $run, 60), 'failed', '(b) a failed child fails the call');
$child = q1("SELECT id FROM flowdb.runs WHERE parent_run_id = '$run'");
like(q1("SELECT error FROM flowdb.runs WHERE id = '$run'"),
	qr/^node tell failed: called run \Q$child\E failed: node post failed: .*400/,
	'(b) the error names the child run and its error');

########################################################################
# (c) depth cap, self call
########################################################################

for my $pair ([ 'ping', 'pong' ], [ 'pong', 'ping' ])
{
	save_workflow($node, {
			version => 1, name => $pair->[0], trigger => { type => 'manual' },
			nodes => [ { id => 'next', type => 'call', workflow => $pair->[1] } ] });
}
$run = flow_execute($node, blueprint(name => 'top', nodes => [ { id => 'go', type => 'call', workflow => 'ping' } ]), {});
is(wait_run($node, $run, 90), 'failed', '(c) endless mutual calls end: the top run failed');
is(q1(qq{
	WITH RECURSIVE d(id, n) AS (SELECT '$run'::uuid, 0
	  UNION ALL SELECT r.id, d.n + 1 FROM d JOIN flowdb.runs r ON r.parent_run_id = d.id)
	SELECT max(n) || ' ' || count(*) FROM d}), '5 6', '(c) 5 nested child runs below the top one, no more');
like(q1(qq{SELECT error FROM flowdb.runs r WHERE r.parent_run_id IS NOT NULL
	AND NOT EXISTS (SELECT FROM flowdb.runs c WHERE c.parent_run_id = r.id)
	AND r.blueprint ->> 'name' IN ('ping', 'pong') ORDER BY created_at DESC LIMIT 1}),
	qr/call depth limit reached/, '(c) the deepest run failed on the depth cap');

my ($rc, $out, $err) = $node->psql('postgres', 'SELECT flow_save(' . sql_json({
		version => 1, name => 'selfish', trigger => { type => 'manual' },
		nodes => [ { id => 'me', type => 'call', workflow => 'selfish' } ] }) . ')');
like($err, qr/\$\.nodes\[0\]\.workflow: a workflow cannot call itself \("selfish"\)/,
	'(c) flow_save refuses a workflow calling itself by name');

########################################################################
# (d) cancel cascades
########################################################################

save_workflow($node, {
		version => 1, name => 'wait-forever', trigger => { type => 'manual' },
		nodes => [ { id => 'w', type => 'wait_event', event => 'never.happens' } ] });
$run = flow_execute($node, caller_bp('wait-forever'), { id => 3 });
ok(wait_until($node, "SELECT count(*) = 1 FROM flowdb.runs WHERE parent_run_id = '$run' AND status = 'waiting'"),
	'(d) the child is waiting');
$child = q1("SELECT id FROM flowdb.runs WHERE parent_run_id = '$run'");
is(q1("SELECT flow_cancel('$run')"), 't', '(d) the parent is canceled');
is(q1("SELECT status || ': ' || error FROM flowdb.runs WHERE id = '$child'"),
	"canceled: canceled with its parent run $run", '(d) its child is canceled with it');
usleep(500_000);
is(q1("SELECT status FROM flowdb.runs WHERE id = '$run'"), 'canceled', '(d) the parent stays canceled');

########################################################################
# (e) map over a sub-workflow
########################################################################

save_workflow($node, {
		version => 1, name => 'remind-one', trigger => { type => 'manual' },
		nodes => [ http_node('post', $fake->url('/one'), body => { name => '{{trigger_data.name}}' }) ] });
sub map_wf_bp
{
	my ($wf, %o) = @_;
	return blueprint(name => 'fan-out', nodes => [ {
		id => 'remind', type => 'map', items => '{{trigger_data.customers}}',
		concurrency => 2, do => { workflow => $wf }, %o } ]);
}
my $customers = { customers => [ map { { name => "c$_" } } 0 .. 5 ] };
$fake->reset;
$run = flow_execute($node, map_wf_bp('remind-one'), $customers);
is(wait_run($node, $run, 90), 'succeeded', '(e) the map over a sub-workflow succeeded');
is(q1("SELECT string_agg(parent_node || '=' || (payload ->> 'name') || ':' || status, ',' ORDER BY created_at)
	FROM flowdb.runs WHERE parent_run_id = '$run'"),
	join(',', map { "remind[$_]=c$_:succeeded" } 0 .. 5),
	'(e) one child run per item, keyed by node and index, the item as trigger_data');
my $res = json_dec(q1("SELECT state #> '{nodes,remind,output}' FROM flowdb.runs WHERE id = '$run'"));
is_deeply([ map { $_->{steps}{post}{body}{json}{name} } @{ $res->{results} } ], [ map { "c$_" } 0 .. 5 ],
	'(e) results in item order, each the child\'s step outputs');
is("$res->{succeeded}/$res->{failed}", '6/0', '(e) 6 succeeded');
is($fake->stats->{max_inflight}, 2, '(e) at most 2 children at once (concurrency 2), and 2 did overlap');
is(q1("SELECT count(*) FROM flowdb.workflow_logs WHERE run_id = '$run' AND node_id = 'remind' AND item IS NOT NULL AND status = 'succeeded'"),
	'6', '(e) one log row per item');

$run = flow_execute($node, map_wf_bp('broken', on_item_error => 'continue'), { customers => [ { n => 1 }, { n => 2 } ] });
is(wait_run($node, $run, 60), 'succeeded', '(e) continue: failed children do not fail the map');
$res = json_dec(q1("SELECT state #> '{nodes,remind,output}' FROM flowdb.runs WHERE id = '$run'"));
is("$res->{succeeded}/$res->{failed}", '0/2', '(e) continue: 2 failed');
like($res->{results}[1]{error} // '', qr/^called run [0-9a-f-]{36} failed: node post failed/,
	'(e) continue: the result names the failed child');

# an item that is not an object cannot be a run's trigger_data: that item fails, clearly
$run = flow_execute($node, map_wf_bp('remind-one', on_item_error => 'continue'), { customers => [ 7, { name => 'x' } ] });
is(wait_run($node, $run, 60), 'succeeded', '(e) continue: a map with a non-object item still ends');
$res = json_dec(q1("SELECT state #> '{nodes,remind,output}' FROM flowdb.runs WHERE id = '$run'"));
is("$res->{succeeded}/$res->{failed}", '1/1', '(e) the non-object item failed, the object item ran');
like($res->{results}[0]{error} // '', qr/payload must be a JSON object, not number/,
	'(e) the non-object item says why');

$run = flow_execute($node, map_wf_bp('wait-forever'), { customers => [ { n => 1 }, { n => 2 }, { n => 3 } ] });
ok(wait_until($node, "SELECT count(*) = 2 FROM flowdb.runs WHERE parent_run_id = '$run' AND status = 'waiting'"),
	'(e) two children (concurrency 2) are waiting');
is(q1("SELECT status || ' ' || (lease_owner IS NULL) FROM flowdb.runs WHERE id = '$run'"), 'waiting true',
	'(e) the parent is parked meanwhile');
is(q1("SELECT flow_cancel('$run')"), 't', '(e) the parent is canceled');
is(q1("SELECT string_agg(status, ',') FROM flowdb.runs WHERE parent_run_id = '$run'"), 'canceled,canceled',
	'(e) every child of the map is canceled with it');

# a parent that fails (another branch) cancels its waiting child
$run = flow_execute($node, blueprint(name => 'fails-aside', nodes => [
		{ id => 'tell', type => 'call', workflow => 'wait-forever' },
		http_node('bad', $fake->url('/slow-broken'), max_attempts => 1) ]), {});
ok(wait_until($node, "SELECT count(*) = 1 FROM flowdb.runs WHERE parent_run_id = '$run' AND status = 'waiting'"),
	'(d) the child waits while the other branch is in flight');
is(wait_run($node, $run, 60), 'failed', '(d) a parent whose other branch fails');
ok(wait_until($node, "SELECT status || ': ' || error FROM flowdb.runs WHERE parent_run_id = '$run'",
		"canceled: canceled: its parent run $run failed"), '(d) cancels its waiting child');

$fake->stop;
$node->stop;
done_testing();
