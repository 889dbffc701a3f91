# 033_prune.pl: the worker prunes by itself, periodically.
#
# Worker 0 calls flowdb.prune() when it starts and then every
# flowdb.prune_interval (here 1 s; an hour by default).  The test never
# calls flowdb.prune() itself: it backdates rows and waits for them to go.
#   - a run finished longer ago than flowdb.retention_days goes, with its
#     log and outbox rows; a recently finished run and an old unfinished
#     run stay;
#   - expired flowdb.event_buffer rows go, live ones stay;
#   - flowdb.webhook_deliveries older than the retention go, recent stay;
#   - a second old run, backdated after the first prune, goes too (the
#     prune is periodic, not only at start);
#   - flowdb.prune_interval = 1h (reload): a backdated run stays while the
#     worker keeps scanning; back to 1 s (reload): it goes at once (the
#     interval counts from the last prune, a reload applies at once).
#   Throughout, the worker is the same process (no restart).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;    # FlowdbTest.pm (PROVE_FLAGS does not reach prove)
use FlowdbTest;
use FlowdbTools qw(wait_until reload_settings workers_scanned);

my $node = new_node('prune', 'flowdb.prune_interval' => '1s');
is($node->safe_psql('postgres', 'SHOW flowdb.prune_interval'), '1s', 'prune_interval is 1 s');
my $fake = start_fake({ '/p' => [ { body => { ok => JSON::PP::true } } ] });
my $bp = blueprint(nodes => [ http_node('a', $fake->url('/p')) ]);

ok(wait_until($node, "SELECT count(*) = 1 FROM flowdb.worker_info() WHERE pid <> 0"),
	'the worker runs');
my $pid = worker_pid($node);

# finished runs (one log row each at least)
my @runs = map { flow_execute($node, $bp, { i => $_ }) } 1 .. 4;
is(wait_run($node, $_, 60), 'succeeded', "run $_ succeeded") for @runs;
my ($old, $recent, $old2, $old3) = @runs;

# an unfinished run created long ago (parked, never due)
my $parked = $node->safe_psql('postgres', q{
	INSERT INTO flowdb.runs (blueprint, status, next_at, created_at, updated_at)
	VALUES ('{}', 'waiting', 'infinity', now() - interval '90 days', now() - interval '90 days')
	RETURNING id});

# backdate(RUN): the run finished 31 days ago (retention: 30 days)
sub backdate
{
	my ($run) = @_;
	$node->safe_psql('postgres',
		"UPDATE flowdb.runs SET finished_at = now() - interval '31 days' WHERE id = '$run'");
	return;
}

# rows(RUN): "runs logs outbox" row counts of the run
sub rows
{
	my ($run) = @_;
	return $node->safe_psql('postgres', qq{
		SELECT (SELECT count(*) FROM flowdb.runs WHERE id = '$run') || ' ' ||
		       (SELECT count(*) FROM flowdb.workflow_logs WHERE run_id = '$run') || ' ' ||
		       (SELECT count(*) FROM flowdb.outbox WHERE run_id = '$run')});
}

# an outbox row for each finished run
$node->safe_psql('postgres', q{
	INSERT INTO flowdb.outbox (run_id, owner, node_id, service, task, method, url)
	SELECT id, owner, 'a', 'http', 'request', 'POST', 'http://example.invalid/'
	FROM flowdb.runs WHERE status = 'succeeded';
	INSERT INTO flowdb.event_buffer (owner, name, data, expires_at) VALUES
		('postgres', 'prune.expired', '{}', now() - interval '1 second'),
		('postgres', 'prune.live', '{}', now() + interval '1 day');
	INSERT INTO flowdb.webhook_deliveries (provider, delivery_id, event, received_at) VALUES
		('razorpay', 'prune-old', 'x', now() - interval '40 days'),
		('razorpay', 'prune-recent', 'x', now() - interval '1 day');});
like(rows($_), qr/^1 [1-9]\d* 1$/, "run $_ has its log and outbox rows") for @runs;
backdate($old);

ok(wait_until($node, "SELECT count(*) = 0 FROM flowdb.runs WHERE id = '$old'", 't', 60),
	'the worker pruned the run that finished 31 days ago');
is(rows($old), '0 0 0', 'with its log and outbox rows');
ok(wait_until($node,
		"SELECT count(*) = 0 FROM flowdb.event_buffer WHERE name = 'prune.expired'", 't', 60),
	'expired event buffer row pruned');
ok(wait_until($node,
		"SELECT count(*) = 0 FROM flowdb.webhook_deliveries WHERE delivery_id = 'prune-old'", 't', 60),
	'webhook delivery older than the retention pruned');
like(rows($recent), qr/^1 [1-9]\d* 1$/, 'a recently finished run stays, with its rows');
is(rows($parked), '1 0 0', 'an old unfinished run stays');
is($node->safe_psql('postgres', "SELECT count(*) FROM flowdb.event_buffer WHERE name = 'prune.live'"),
	'1', 'live event buffer row stays');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM flowdb.webhook_deliveries WHERE delivery_id = 'prune-recent'"),
	'1', 'recent webhook delivery stays');

# periodic: a run backdated now goes at a later prune
backdate($old2);
ok(wait_until($node, "SELECT count(*) = 0 FROM flowdb.runs WHERE id = '$old2'", 't', 60),
	'a run backdated after the first prune is pruned by a later one');
is(rows($old2), '0 0 0', 'with its log and outbox rows');

# an interval of an hour: nothing is pruned while the worker keeps scanning
reload_settings($node, 'flowdb.prune_interval' => '1h');
my $rows3 = rows($old3);
backdate($old3);
ok(workers_scanned($node, 3), 'the worker scanned for 3 s more');
is(rows($old3), $rows3, 'prune_interval = 1h: the backdated run stays, with its rows');

# back to 1 s: the hour counts from the last prune, which is long past
reload_settings($node, 'flowdb.prune_interval' => '1s');
ok(wait_until($node, "SELECT count(*) = 0 FROM flowdb.runs WHERE id = '$old3'", 't', 60),
	'prune_interval back to 1 s (reload): pruned without a restart');
is(worker_pid($node), $pid, 'the same worker process did all of it');
like(rows($recent), qr/^1 /, 'the recent run is still there');

$fake->stop;
$node->stop;
done_testing();
