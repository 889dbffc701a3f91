# 046_failure_paths.pl: failure paths end to end (docs/blueprint.md,
# "Failure paths").
#
# - failure edge: charge (503, 503 with max_attempts 2) -> alert on
#   failure, charge -> ship on success.  The failure edge is taken only
#   after the last retry; alert is sent with {{steps.charge.error}} (the
#   exact error recorded for charge); ship is skipped; the run succeeds
#   with charge logged failed.  The same blueprint when charge succeeds:
#   alert skipped, ship sent.
# - on_failure: a saved workflow whose step gets a permanent 400 names
#   "notify-owner"; its run fails, and a run of notify-owner starts with
#   {run_id, workflow, workflow_id, node, error}, linked by failure_of,
#   sends them, and succeeds; the failed run logs "$on_failure".
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

my $fake = start_fake({
	'/charge' => [
		{ status => 503, body => { error => 'try later' } },
		{ status => 503, body => { error => 'still down' } },
		{ status => 200, body => { id => 'pay_2' } }
	],
	'/ship'   => [ { status => 200, body => { shipped => $true } } ],
	'/alert'  => [ { status => 200, body => { ok => $true } } ],
	'/charge2' => [ { status => 400, body => { error => 'card declined' } } ],
	'/notify' => [ { status => 200, body => { ok => $true } } ] });

my $node = new_node('failure_paths');

sub statuses
{
	my ($run) = @_;
	return [ map { "$_->{node_id}/$_->{status}" } run_logs($node, $run) ];
}

########################################################################
# failure edge
########################################################################
my $alert = http_node('alert', $fake->url('/alert'));
$alert->{params}{body} = { text => 'charge failed: {{steps.charge.error}}' };
my $bp = blueprint(
	name  => 'charge with alert',
	nodes => [
		http_node('charge', $fake->url('/charge'), max_attempts => 2, backoff_ms => 50),
		http_node('ship', $fake->url('/ship')), $alert,
		{ id => 'done', type => 'router' } ],
	edges => [
		{ from => 'charge', to => 'ship' },
		{ from => 'charge', to => 'alert', on => 'failure' },
		{ from => 'ship',   to => 'done' },
		{ from => 'alert',  to => 'done' } ]);

my $r1 = flow_execute($node, $bp, {});
is(wait_run($node, $r1, 60), 'succeeded', 'a failure handled by a failure edge: the run succeeds');
my $st = flow_status_of($node, $r1);
is($st->{nodes}{charge}{status}, 'failed', 'charge stays failed in the run state');
like($st->{nodes}{charge}{error}, qr/HTTP 503/, 'with the last error');
is($st->{nodes}{ship}{status},  'skipped',   'the success path is skipped');
is($st->{nodes}{alert}{status}, 'succeeded', 'the failure path ran');
is($st->{nodes}{done}{status},  'succeeded', 'the join after both paths ran');
is_deeply(statuses($r1),
	[ 'charge/retrying', 'charge/failed', 'ship/skipped', 'alert/succeeded', 'done/succeeded' ],
	'log: the retry, the failure (taken only after the last attempt), then the failure path');
is(scalar $fake->requests_for('/charge'), 2, 'charge sent twice (max_attempts 2)');
is(scalar $fake->requests_for('/ship'),   0, 'ship never sent');
my @a = $fake->requests_for('/alert');
is(scalar @a, 1, 'alert sent once');
is(json_dec($a[0]{body})->{text}, "charge failed: $st->{nodes}{charge}{error}",
	'alert carries {{steps.charge.error}}, the exact error of charge');
cmp_ok($a[0]{time}, '>', ($fake->requests_for('/charge'))[1]{time}, 'alert sent after the last charge attempt');

# the same blueprint when charge succeeds (the third scripted answer)
my $r2 = flow_execute($node, $bp, {});
is(wait_run($node, $r2, 60), 'succeeded', 'charge succeeding: run succeeds');
is_deeply(statuses($r2), [ 'charge/succeeded', 'alert/skipped', 'ship/succeeded', 'done/succeeded' ],
	'the failure path is skipped, the success path runs');
is(scalar $fake->requests_for('/alert'), 1, 'no second alert');

########################################################################
# on_failure
########################################################################
my $notify = http_node('tell', $fake->url('/notify'));
$notify->{params}{body} = {
	run      => '{{trigger_data.run_id}}',
	workflow => '{{trigger_data.workflow}}',
	wid      => '{{trigger_data.workflow_id}}',
	node     => '{{trigger_data.node}}',
	error    => '{{trigger_data.error}}' };
my $handler = save_workflow($node, blueprint(name => 'notify-owner', nodes => [$notify]), 0);

my $charge_bp = blueprint(name => 'charge customers', nodes => [ http_node('charge', $fake->url('/charge2')) ]);
$charge_bp->{on_failure} = { workflow => 'notify-owner' };
my $wf = save_workflow($node, $charge_bp);
my $r3 = $node->safe_psql('postgres', "SELECT flow_run('$wf')");
is(wait_run($node, $r3, 60), 'failed', 'a permanent 400 without a failure edge fails the run');
my $failed = run_row($node, $r3);
like($failed->{error}, qr/^node charge failed: HTTP 400/, 'the run error');

ok(wait_until($node, "SELECT count(*) = 1 FROM flowdb.runs WHERE failure_of = '$r3'"),
	'one run of the handler started for the failed run');
my $h = $node->safe_psql('postgres', "SELECT id FROM flowdb.runs WHERE failure_of = '$r3'");
my $hrow = run_row($node, $h);
is($hrow->{workflow_id}, $handler, 'the run is of notify-owner (found by name, inactive is fine)');
is($hrow->{owner}, $failed->{owner}, 'same owner');
is_deeply($hrow->{payload},
	{ run_id => $r3, workflow => 'charge customers', workflow_id => $wf, node => 'charge',
	  error => $failed->{error} },
	'trigger_data is {run_id, workflow, workflow_id, node, error}');
is(wait_run($node, $h, 60), 'succeeded', 'the handler run succeeds');
my @n = $fake->requests_for('/notify');
is(scalar @n, 1, 'the handler sent one notification');
is_deeply(json_dec($n[0]{body}),
	{ run => $r3, workflow => 'charge customers', wid => $wf, node => 'charge', error => $failed->{error} },
	'with the failed run\'s data rendered from trigger_data');
my ($log) = grep { $_->{node_id} eq '$on_failure' } run_logs($node, $r3);
is($log->{status}, 'succeeded', 'the failed run logs the handler start');
is($log->{output}{run_id}, $h, 'naming the handler run');

# the handled failure above started no handler run
is($node->safe_psql('postgres', "SELECT count(*) FROM flowdb.runs WHERE failure_of IS NOT NULL"),
	'1', 'only the failed run started a handler');

$fake->stop;
done_testing();
