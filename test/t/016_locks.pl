# 016_locks.pl: clients holding row locks do not stall the worker
# (issue 8, section 1).
#
# Two sessions leave transactions open:
#   - BEGIN; SELECT flow_approve(W, ...) on a waiting run W;
#   - BEGIN; SELECT flow_cancel(L) on a run L whose request is in flight.
# Meanwhile another owner's 3-step run B completes (its middle step ends
# after L's response, so the worker commits while L's row is locked).
# L's result is kept and committed once the lock is gone (the cancel is
# rolled back): L succeeds with one log row per node.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);
use FindBin;
use lib $FindBin::RealBin;    # FlowdbTest.pm (PROVE_FLAGS does not reach prove)
use FlowdbTest;

my $node = new_node('locks');
my $fake = start_fake({
	'/slow'  => [ { delay_ms => 1000, body => { v => 1 } } ],
	'/b/mid' => [ { delay_ms => 2000, body => { v => 2 } } ],
	'/*'     => [ { body => { ok => 1 } } ],
});

# W: waits for an approval
my $w = flow_execute($node,
	blueprint(
		nodes => [
			{ id => 'appr', type => 'wait_event', event => 'test.approved' },
			http_node('after', $fake->url('/w/after')),
		],
		edges => [ chain('appr', 'after') ]),
	{});
ok(poll($node, "SELECT status = 'waiting' FROM flowdb.runs WHERE id = '$w'", 't', 30),
	'W waits for its approval');

# L: one slow request
my $l = flow_execute($node, blueprint(nodes => [ http_node('s', $fake->url('/slow')) ]), {});
my $deadline = time + 20;
usleep(20_000) while !$fake->requests_for('/slow') && time < $deadline;
ok(scalar($fake->requests_for('/slow')), "L's request is in flight");

my $bg1 = $node->background_psql('postgres', on_error_stop => 1);
$bg1->query_safe("BEGIN; SELECT flow_approve('$w', 'appr')");
my $bg2 = $node->background_psql('postgres', on_error_stop => 1);
$bg2->query_safe("BEGIN; SELECT flow_cancel('$l')");

# B: another owner's run
my $t0 = time;
my $b = $node->safe_psql('postgres',
	    "SET request.jwt.claims = '{\"sub\": \"other-owner\"}'; SELECT flow_execute("
	  . sql_json(
		blueprint(
			nodes => [
				http_node('b1', $fake->url('/b/first')),
				http_node('b2', $fake->url('/b/mid')),
				http_node('b3', $fake->url('/b/last')),
			],
			edges => [ chain('b1', 'b2', 'b3') ]))
	  . ", '{}')");
is(wait_run($node, $b, 20), 'succeeded', "another owner's run completed while the rows were locked");
cmp_ok(time - $t0, '<', 15, 'without waiting for the locks');
is($node->safe_psql('postgres', "SELECT owner FROM flowdb.runs WHERE id = '$b'"), 'other-owner',
	'B belongs to the other owner');
is($node->safe_psql('postgres', "SELECT status FROM flowdb.runs WHERE id = '$l'"), 'running',
	"L's result waits for its row");

# the locks go away: L's kept result is committed, W can be approved
$bg2->query_safe('ROLLBACK');
$bg1->query_safe('ROLLBACK');
$bg1->quit;
$bg2->quit;
is(wait_run($node, $l, 20), 'succeeded', "L's result was committed after the lock was released");
is(scalar($fake->requests_for('/slow')), 1, "L's request was sent once");
is(log_counts($node, $l)->{'s/succeeded'}, 1, 'and logged once');

is($node->safe_psql('postgres', "SELECT flow_approve('$w', 'appr')"), 't', 'W approved');
is(wait_run($node, $w, 20), 'succeeded', 'W finished');

done_testing();
