# 018_fairness.pl: one owner's backlog does not starve another owner.
#
# Owner A queues 300 one-step runs against a server that answers in 100 ms,
# with flowdb.max_inflight = 4 and flowdb.claim_batch = 8 (the worker holds
# at most 16 runs, so A's backlog drains over several seconds).  Owner B then
# queues one run.  The claim takes owners in turn and the worker's queue
# puts a call whose owner has nothing waiting first: B's request reaches the
# server before A's 13th request counted from B's enqueue (in arrival
# order), long before A's backlog
# is done; with a claim in next_at order it would come after all 300.
# Both owners' runs all succeed.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use FlowdbTest;

my $node = new_node(
	'fairness',
	'flowdb.max_inflight' => '4',
	'flowdb.claim_batch'  => '8');
my $fake = start_fake({ '/slow*' => [ { delay_ms => 100, body => { ok => JSON::PP::true } } ] });

my $bp_a = blueprint(
	name  => 'fair-a',
	nodes => [ http_node('call', $fake->url('/slow/a/{{trigger_data.i}}')) ]);
my $bp_b = blueprint(
	name  => 'fair-b',
	nodes => [ http_node('call', $fake->url('/slow/b')) ]);

# owners come from the JWT subject, as under PostgREST
sub as_owner
{
	my ($owner, $sql) = @_;
	return $node->safe_psql('postgres',
		"SET request.jwt.claims = '{\"sub\": \"$owner\"}'; $sql");
}

as_owner('owner-a',
	    'SELECT count(flow_execute(' . sql_json($bp_a)
	  . ", jsonb_build_object('i', g))) FROM generate_series(1, 300) g");
my $run_b = as_owner('owner-b', 'SELECT flow_execute(' . sql_json($bp_b) . ')');
# A's requests the server had already seen when B's run was committed: on
# a loaded machine B's psql can start a few hundred ms after A's commit,
# and what A sent before B existed says nothing about fairness
my $a_sent_before_queued = grep { $_->{path} =~ m{^/slow/a/} } $fake->requests;
note "A's requests already at the server when B was queued: $a_sent_before_queued";

ok(poll($node, "SELECT status = 'succeeded' FROM flowdb.runs WHERE id = '$run_b'", 't', 120),
	"owner B's run succeeded");
my $a_done = $node->safe_psql('postgres',
	"SELECT count(*) FROM flowdb.runs WHERE owner = 'owner-a' AND status = 'succeeded'");
note "owner A runs finished when B's was: $a_done";
cmp_ok($a_done, '<', 300, "B's run finished while A's backlog was still draining");

ok(wait_runs($node, "owner = 'owner-a'", 180), "all of A's runs finished");
is($node->safe_psql('postgres',
		"SELECT count(*) FROM flowdb.runs WHERE owner = 'owner-a' AND status = 'succeeded'"),
	'300', "all 300 of A's runs succeeded");

# arrival order at the server: how many of A's requests came before B's
my @reqs = sort { $a->{seq} <=> $b->{seq} } $fake->requests;
my $before = 0;
my $seen_b = 0;
for my $r (@reqs)
{
	if ($r->{path} eq '/slow/b') { $seen_b = 1; last; }
	$before++ if $r->{path} =~ m{^/slow/a/};
}
ok($seen_b, "B's request reached the server");
note "A's requests before B's: $before";
# the claim takes B's run within one claim, and in the worker's queue a
# call whose owner has nothing waiting goes first: B's request leaves when
# the next of the 4 slots frees, so at most the 4 in flight, the batch
# being sent and a claim's worth of A's come before it
cmp_ok($before - $a_sent_before_queued, '<=', 12,
	"B's request arrived before A's 13th request sent after B was queued");

$fake->stop;
$node->stop;
done_testing();
