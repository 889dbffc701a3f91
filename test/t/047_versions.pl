# 047_versions.pl: editing a workflow while runs of it are under way
# (docs/sql.md, "flow_update / flow_versions / flow_rollback / flow_delete").
#
# - a run of version 1 parks on a wait_event; flow_update saves version 2
#   (other URLs); the event resumes the run, which finishes on version 1
#   (its second request goes to version 1's URL, none to version 2's);
# - a run started after the update executes version 2 (both requests) and
#   records workflow_version 2;
# - flow_rollback to 1 saves version 3 (a copy): the next run uses it;
# - flow_delete while a run of it waits: the run is canceled, a later event
#   sends nothing, the finished runs stay readable with their versions.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;    # FlowdbTest.pm, FlowdbTools.pm (PROVE_FLAGS does not reach prove)
use FlowdbTest;
use FlowdbTools;

my $true = JSON::PP::true;
my $fake = start_fake({ '/*' => [ { status => 200, body => { ok => $true } } ] });
my $node = new_node('versions');

# version N: first -> approved (wait_event) -> second, at /vN/...
sub bp_version
{
	my ($v) = @_;
	return blueprint(
		name  => "orders v$v",
		nodes => [
			http_node('first', $fake->url("/v$v/first")),
			{ id => 'approved', type => 'wait_event', event => 'shop.approved',
			  match => { order => '{{trigger_data.order}}' } },
			http_node('second', $fake->url("/v$v/second")) ],
		edges => [ chain('first', 'approved', 'second') ]);
}

sub sent
{
	my ($path) = @_;
	return scalar $fake->requests_for($path);
}

sub run_of
{
	my ($wf, $order) = @_;
	return $node->safe_psql('postgres', "SELECT flow_run('$wf', '{\"order\": $order}')");
}

sub parked
{
	my ($run) = @_;
	return wait_status($node, $run, 'waiting', 60,
		"r.lease_owner IS NULL AND r.state #>> '{nodes,approved,status}' = 'waiting'");
}

sub approve
{
	my ($order) = @_;
	return $node->safe_psql('postgres', "SELECT flow_send_event('shop.approved', '{\"order\": $order}')");
}

my $wf = save_workflow($node, bp_version(1));
my $r1 = run_of($wf, 1);
ok(parked($r1), 'a run of version 1 waits for its event');
is(sent('/v1/first'), 1, 'version 1 sent its first request');

is($node->safe_psql('postgres', "SELECT flow_update('$wf', " . sql_json(bp_version(2)) . ")"),
	'2', 'flow_update saves version 2');
is($node->safe_psql('postgres',
		"SELECT string_agg(version || ':' || is_current || ':' || name, ',' ORDER BY version) FROM flow_versions('$wf')"),
	'1:false:orders v1,2:true:orders v2', 'flow_versions lists both, version 2 current');

approve(1);
is(wait_run($node, $r1, 60), 'succeeded', 'the waiting run resumes and finishes');
is(sent('/v1/second'), 1, 'it finished on version 1 (its second request went to version 1)');
is(sent('/v2/second'), 0, 'nothing went to version 2');
my $row1 = run_row($node, $r1);
is($row1->{workflow_version}, 1, 'the run records version 1');
is($row1->{blueprint}{name}, 'orders v1', 'and kept the blueprint of version 1');

my $r2 = run_of($wf, 2);
ok(parked($r2), 'a run started after the update waits too');
is(sent('/v2/first'), 1, 'it sent version 2\'s first request');
is(sent('/v1/first'), 1, 'and not version 1\'s');
approve(2);
is(wait_run($node, $r2, 60), 'succeeded', 'the new run finishes');
is(sent('/v2/second'), 1, 'on version 2');
is(run_row($node, $r2)->{workflow_version}, 2, 'it records version 2');

# rollback: version 1 again, as version 3
is($node->safe_psql('postgres', "SELECT flow_rollback('$wf', 1)"), '3', 'rollback to 1 saves version 3');
is($node->safe_psql('postgres', "SELECT restored_from FROM flow_versions('$wf') WHERE version = 3"),
	'1', 'a copy of version 1');
my $r3 = run_of($wf, 3);
ok(parked($r3), 'a run of version 3 waits');
is(sent('/v1/first'), 2, 'it runs version 1\'s blueprint');
is(run_row($node, $r3)->{workflow_version}, 3, 'and records version 3');

# delete while r3 waits
my $del = query_json($node, "SELECT flow_delete('$wf')");
is_deeply([ @{$del}{qw(deleted versions_removed runs_canceled runs_kept)} ], [ $true, 3, 1, 3 ],
	'flow_delete: 3 versions removed, the waiting run canceled, all 3 runs kept');
is(run_status($node, $r3), 'canceled', 'the waiting run is canceled');
like(run_row($node, $r3)->{error}, qr/^canceled: workflow deleted by /, 'saying why');
approve(3);
is($node->safe_psql('postgres', "SELECT count(*) FROM flowdb.runs WHERE status NOT IN ('succeeded', 'canceled')"),
	'0', 'the event starts and resumes nothing');
is(sent('/v1/second'), 1, 'the canceled run sent nothing more');
my $s1 = flow_status_of($node, $r1);
is($s1->{status}, 'succeeded', 'a finished run of the deleted workflow is still readable');
is($s1->{name}, 'orders v1', 'with its own blueprint');
is_deeply([ map { "$_->{node_id}/$_->{status}" } grep { $_->{status} ne 'started' } @{ $s1->{steps} } ],
	[ 'first/succeeded', 'approved/succeeded', 'second/succeeded' ],
	'and its step log (each node\'s outcome)');
is($node->safe_psql('postgres', "SELECT count(*) FROM flowdb.workflows WHERE id = '$wf'"),
	'0', 'the workflow row is gone');

$fake->stop;
done_testing();
