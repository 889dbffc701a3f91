# 034_schedule_minutes.pl: schedules across minute boundaries, in real
# time (about 3 minutes).
#
# Two '* * * * *' schedules:
#   every      saved active now;
#   backdated  its last firing set 10 minutes back when it is activated
#              (the state a schedule is in after the worker was off for
#              10 minutes: flowdb keeps no other memory of past firings).
# Worker 0 fires schedules on every scan (200 ms here), for the current
# UTC minute only.
#   1. Both fire in their first minute and again after the next minute
#      boundary, once each; backdated fires once, not 10 times.
#   2. The cluster is stopped for a whole minute (from just after a firing
#      until after the second boundary) and started: each schedule fires
#      once for the minute the worker came back in, none for the minute
#      it missed (no catch-up).
# Every run is the only run of its workflow and minute, was queued in the
# minute it is for, succeeded, and sent one request.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);
use FindBin;
use lib $FindBin::RealBin;    # FlowdbTest.pm (PROVE_FLAGS does not reach prove)
use FlowdbTest;
use FlowdbTools qw(wait_until save_workflow workers_scanned);

my $node = new_node('minutes');
my $fake = start_fake({ '/tick' => [ { body => { ok => JSON::PP::true } } ] });

sub schedule_bp
{
	my ($name) = @_;
	return {
		version => 1,
		name    => $name,
		trigger => { type => 'schedule', cron => '* * * * *' },
		nodes   => [ http_node('tick', $fake->url('/tick'),
				body => { wf => $name, at => '{{trigger_data.scheduled_at}}' }) ],
		edges => [],
	};
}

my $every = save_workflow($node, schedule_bp('every'));
my $backdated = save_workflow($node, schedule_bp('backdated'), 0);
$node->safe_psql('postgres', qq{
	BEGIN;
	UPDATE flowdb.workflows SET last_fired_at = date_trunc('minute', now()) - interval '10 minutes'
	WHERE id = '$backdated';
	SELECT flow_activate('$backdated');
	COMMIT;});
my %wf = (every => $every, backdated => $backdated);

# minutes(WF): the distinct minutes the workflow fired for
sub minutes
{
	my ($w) = @_;
	return $node->safe_psql('postgres',
		"SELECT count(DISTINCT payload->>'scheduled_at') FROM flowdb.runs WHERE workflow_id = '$w'");
}

########################################################################
# 1. live across a minute boundary
########################################################################

for my $name (sort keys %wf)
{
	ok(wait_until($node,
			"SELECT count(DISTINCT payload->>'scheduled_at') >= 2 FROM flowdb.runs "
			  . "WHERE workflow_id = '$wf{$name}'", 't', 150),
		"$name fired in two minutes");
}
my $last = $node->safe_psql('postgres',
	"SELECT max((payload->>'scheduled_at')::timestamptz) FROM flowdb.runs WHERE workflow_id = '$every'");
is($node->safe_psql('postgres',
		"SELECT count(*) FROM flowdb.runs WHERE workflow_id = '$backdated' "
		  . "AND (payload->>'scheduled_at')::timestamptz < date_trunc('minute', created_at)"),
	'0', 'backdated: no run for any of the 10 minutes before its activation');
ok(wait_runs($node, 'workflow_id IS NOT NULL', 60), 'the scheduled runs finished');

########################################################################
# 2. stopped for a whole minute
########################################################################

# stop now, start once the minute after $last is over
my $wait = $node->safe_psql('postgres',
	"SELECT extract(epoch FROM ('$last'::timestamptz + interval '2 minutes 1 second') - clock_timestamp())");
$node->stop('fast');
note sprintf('cluster stopped for %.0f s', $wait);
usleep($wait * 1e6) if $wait > 0;    # the outage itself, not a wait for a condition
$node->start;

my $missed = $node->safe_psql('postgres', "SELECT '$last'::timestamptz + interval '1 minute'");
my $back = $node->safe_psql('postgres', "SELECT '$last'::timestamptz + interval '2 minutes'");
for my $name (sort keys %wf)
{
	ok(wait_until($node,
			"SELECT count(*) >= 1 FROM flowdb.runs WHERE workflow_id = '$wf{$name}' "
			  . "AND (payload->>'scheduled_at')::timestamptz = '$back'", 't', 60),
		"$name fired for the minute the worker came back in");
}
# let the worker scan on for 3 s (15 scans), then let the runs finish
ok(workers_scanned($node, 3), 'the worker kept scanning');
ok(wait_runs($node, 'workflow_id IS NOT NULL', 60), 'the scheduled runs finished');

for my $name (sort keys %wf)
{
	my $w = $wf{$name};
	is($node->safe_psql('postgres',
			"SELECT count(*) FROM flowdb.runs WHERE workflow_id = '$w' "
			  . "AND (payload->>'scheduled_at')::timestamptz = '$missed'"),
		'0', "$name: nothing for the minute the worker was off");
	is($node->safe_psql('postgres',
			"SELECT count(*) FROM (SELECT 1 FROM flowdb.runs WHERE workflow_id = '$w' "
			  . "GROUP BY payload->>'scheduled_at' HAVING count(*) > 1) d"),
		'0', "$name: exactly one run per minute fired");
	is($node->safe_psql('postgres',
			"SELECT count(*) FROM flowdb.runs WHERE workflow_id = '$w' "
			  . "AND (payload->>'scheduled_at')::timestamptz <> date_trunc('minute', created_at)"),
		'0', "$name: every run was queued in the minute it is for (no catch-up)");
	is($node->safe_psql('postgres',
			"SELECT count(*) FROM flowdb.runs WHERE workflow_id = '$w' AND status <> 'succeeded'"),
		'0', "$name: every run succeeded");
	my $n = minutes($w);
	cmp_ok($n, '>=', 3, "$name: fired in 3 minutes or more ($n)");
	# $last + 2 min at most (the checks above take seconds, not a minute)
	cmp_ok($n, '<=', 4, "$name: and at most one more than the boundaries seen");
	is(scalar(grep { json_dec($_->{body})->{wf} eq $name } $fake->requests_for('/tick')),
		$node->safe_psql('postgres', "SELECT count(*) FROM flowdb.runs WHERE workflow_id = '$w'"),
		"$name: one request per run");
}

$fake->stop;
$node->stop;
done_testing();
