# 019_event_buffer.pl: events are not lost when their run is busy.
#
# A run with two parallel branches: an http step the server answers after
# 1.5 s, and a wait_event node for test.approved matching the order.  The
# event is sent while the http request is in flight (the run is held by the
# worker, so the event cannot be delivered to it then).  It is buffered and
# matched when the run parks: the wait succeeds with the event data and the
# run finishes, long before the wait's 600 s timeout.  Without the buffer
# the event was dropped and the run stayed waiting.
#
# An event sent before a run was created is not matched by the run's wait;
# an event for another order is not either; the right one is.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use FlowdbTest;

my $node = new_node('event_buffer');
my $fake = start_fake({ '/busy' => [ { delay_ms => 1500, body => { ok => JSON::PP::true } } ] });

sub wait_node
{
	my ($id, $event) = @_;
	return {
		id              => $id,
		type            => 'wait_event',
		event           => $event,
		match           => { order => '{{trigger_data.order}}' },
		timeout_seconds => 600
	};
}

# 1. the event arrives while the run is busy with its other branch
my $bp = blueprint(
	name  => 'parallel wait',
	nodes => [
		http_node('busy', $fake->url('/busy')),
		wait_node('approval', 'test.approved'),
		{ id => 'done', type => 'set', values => { by => '{{steps.approval.output.by}}' } },
	],
	edges => [ { from => 'busy', to => 'done' }, { from => 'approval', to => 'done' } ]);
my $run = flow_execute($node, $bp, { order => 'o-1' });
ok(poll($node, "SELECT lease_owner IS NOT NULL FROM flowdb.runs WHERE id = '$run'", 't', 30)
	  && wait_for_request('/busy', 30),
	'the run is held by the worker with its http request in flight');
my $ids = $node->safe_psql('postgres',
	"SELECT flow_send_event('test.approved', '{\"order\": \"o-1\", \"by\": \"Ravi\"}')");
is($ids, '{}', 'the event resumed nothing at once (the run was busy)');
is(wait_run($node, $run, 30), 'succeeded', 'the buffered event resumed the wait when the run parked');
my $st = run_row($node, $run)->{state}{nodes};
is_deeply($st->{approval}{output}, { order => 'o-1', by => 'Ravi' }, 'the wait output is the event data');
is_deeply($st->{done}{output}, { by => 'Ravi' }, 'the next step used it');
is($node->safe_psql('postgres',
		"SELECT cardinality(consumed_by) FROM flowdb.event_buffer WHERE name = 'test.approved'"),
	'1', 'the buffered event records the run it resumed');

# 2. an event older than the run, or for another order, is not matched
$node->safe_psql('postgres',
	"SELECT flow_send_event('test.confirmed', '{\"order\": \"o-2\", \"by\": \"early\"}')");
my $bp2 = blueprint(name => 'plain wait', nodes => [ wait_node('confirm', 'test.confirmed') ]);
my $run2 = flow_execute($node, $bp2, { order => 'o-2' });
ok(poll($node,
		"SELECT status = 'waiting' AND lease_owner IS NULL AND state #>> '{nodes,confirm,status}' = 'waiting' "
		  . "FROM flowdb.runs WHERE id = '$run2'", 't', 30),
	'the run parked on its wait, not resumed by the event sent before it started');
$node->safe_psql('postgres',
	"SELECT flow_send_event('test.confirmed', '{\"order\": \"o-3\", \"by\": \"other\"}')");
is($node->safe_psql('postgres', "SELECT state #>> '{nodes,confirm,status}' FROM flowdb.runs WHERE id = '$run2'"),
	'waiting', 'an event for another order does not resume it');
is($node->safe_psql('postgres',
		"SELECT flow_send_event('test.confirmed', '{\"order\": \"o-2\", \"by\": \"Asha\"}') = ARRAY['$run2'::uuid]"),
	't', 'the matching event resumes it at once (it is parked)');
is(wait_run($node, $run2, 30), 'succeeded', 'the run finished');
is(run_row($node, $run2)->{state}{nodes}{confirm}{output}{by}, 'Asha', 'with the matching event');

# wait_for_request(PATH, TIMEOUT_S): the fake server has received PATH
sub wait_for_request
{
	my ($path, $timeout) = @_;
	my $deadline = time + $timeout;
	while (time < $deadline)
	{
		return 1 if scalar($fake->requests_for($path)) > 0;
		select(undef, undef, undef, 0.05);
	}
	return 0;
}

$fake->stop;
$node->stop;
done_testing();
