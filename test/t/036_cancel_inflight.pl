# 036_cancel_inflight.pl: flow_cancel while a request is in flight.
#
# Two runs a -> b whose step a is at the server (answered after 8 s) when
# they are canceled: one will get a 200, the other a 503 that would be
# retried (max_attempts 3).  flow_cancel ends each at once (canceled,
# finished_at, the lease cleared).  Then the late answers arrive and the
# worker handles them (proved by a control run queued after both answers
# were sent, which succeeds, and by the worker's loop going on): the
# canceled runs' rows and log rows are exactly as flow_cancel left them
# (the late answers revive nothing: no succeeded or retrying row, no
# state change), step b is never sent, step a is not sent again, and the
# worker is the same process.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);
use FindBin;
use lib $FindBin::RealBin;    # FlowdbTest.pm (PROVE_FLAGS does not reach prove)
use FlowdbTest;
use FlowdbTools qw(wait_until workers_scanned);

my $node = new_node('cancelflight');
my $fake = start_fake({
	'/ok/a'   => [ { delay_ms => 8000, body => { from => 'late' } } ],
	'/err/a'  => [ { delay_ms => 8000, status => 503, body => 'busy' } ],
	'/ok/b'   => [ { body => { b => 1 } } ],
	'/err/b'  => [ { body => { b => 1 } } ],
	'/ctl'    => [ { body => { ctl => 1 } } ],
});
ok(wait_until($node, "SELECT count(*) = 1 FROM flowdb.worker_info() WHERE pid <> 0"),
	'the worker runs');
my $pid = worker_pid($node);

sub two_steps
{
	my ($p) = @_;
	return blueprint(
		nodes => [
			http_node('a', $fake->url("/$p/a"), max_attempts => 3, backoff_ms => 100),
			http_node('b', $fake->url("/$p/b")),
		],
		edges => [ chain('a', 'b') ]);
}

# both queued in one transaction, so that both are in flight together
my %run;
@run{qw(ok err)} = split / /, $node->safe_psql('postgres',
	'SELECT ' . join(" || ' ' || ", map { 'flow_execute(' . sql_json(two_steps($_)) . ", '{}')::text" } qw(ok err)));
my $deadline = time + 60;
usleep(20_000)
  while (!$fake->requests_for('/ok/a') || !$fake->requests_for('/err/a')) && time < $deadline;
is($fake->stats->{inflight}, 2, 'both steps a are at the server, unanswered');

# snapshot(RUN): the run's row and log rows as JSON text (canonical)
sub snapshot
{
	my ($r) = @_;
	return $node->safe_psql('postgres', qq{
		SELECT jsonb_build_object('run', to_jsonb(r) - 'updated_at',
			'logs', (SELECT coalesce(jsonb_agg(to_jsonb(l) ORDER BY l.id), '[]')
					 FROM flowdb.workflow_logs l WHERE l.run_id = r.id))
		FROM flowdb.runs r WHERE r.id = '$r'});
}

my %snap;
for my $k (sort keys %run)
{
	is($node->safe_psql('postgres', "SELECT flow_cancel('$run{$k}')"), 't', "$k: canceled in flight");
	my $row = run_row($node, $run{$k});
	is($row->{status}, 'canceled', "$k: status canceled at once");
	ok(defined $row->{finished_at}, "$k: finished_at set");
	ok(!defined $row->{lease_owner} && !defined $row->{lease_token}, "$k: lease cleared");
	$snap{$k} = snapshot($run{$k});
}

# the late answers go out
$deadline = time + 60;
usleep(50_000) while $fake->stats->{inflight} > 0 && time < $deadline;
is($fake->stats->{inflight}, 0, 'the late answers were sent');

# the worker handled them: a control run queued now succeeds, and the
# worker's loop goes on for another second
my $ctl = flow_execute($node, blueprint(nodes => [ http_node('c', $fake->url('/ctl')) ]), {});
is(wait_run($node, $ctl, 60), 'succeeded', 'a control run queued after the answers succeeded');
ok(workers_scanned($node, 1), 'the worker went on');

for my $k (sort keys %run)
{
	is(snapshot($run{$k}), $snap{$k}, "$k: run and log rows exactly as flow_cancel left them");
	my $c = log_counts($node, $run{$k});
	ok(!$c->{'a/succeeded'} && !$c->{'a/retrying'} && !$c->{'a/failed'},
		"$k: no outcome of step a was logged");
	is(scalar($fake->requests_for("/$k/a")), 1, "$k: step a was not sent again");
	is(scalar($fake->requests_for("/$k/b")), 0, "$k: step b was never sent");
}
is(worker_pid($node), $pid, 'the same worker process throughout');

$fake->stop;
$node->stop;
done_testing();
