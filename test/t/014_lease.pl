# 014_lease.pl: one run, one executor (issue 8, section 2).
#
# A 2-step run a -> b whose steps are slow (1.5 s each: the run is still
# running when the second claim's a completes).  While a is in flight:
# flow_cancel, then flow_retry.  The worker claims the retried run again
# while its first copy still waits for a's response.  Every claim gets a
# new lease token, and commits match it: the first copy's commit matches
# no row and that copy is dropped with its result.  So step b reaches the
# server once and is logged succeeded once.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);
use FindBin;
use lib $FindBin::RealBin;    # FlowdbTest.pm (PROVE_FLAGS does not reach prove)
use FlowdbTest;

my $node = new_node('lease');
my $fake = start_fake({
	'/a' => [ { delay_ms => 1500, body => { v => 1 } } ],
	'/b' => [ { delay_ms => 1500, body => { v => 2 } } ],
});

my $bp = blueprint(
	nodes => [
		http_node('a', $fake->url('/a')),
		http_node('b', $fake->url('/b'), body => { v => '{{steps.a.output.body.v}}' }),
	],
	edges => [ chain('a', 'b') ]);
my $run = flow_execute($node, $bp, {});

# wait until the first request of a is at the server (and unanswered)
my $deadline = time + 20;
usleep(20_000) while scalar($fake->requests_for('/a')) < 1 && time < $deadline;
is(scalar($fake->requests_for('/a')), 1, 'step a is in flight');
my $token1 = $node->safe_psql('postgres', "SELECT lease_token FROM flowdb.runs WHERE id = '$run'");
like($token1, qr/^[0-9a-f-]{36}$/, 'the claim set a lease token');

is($node->safe_psql('postgres', "SELECT flow_cancel('$run')"), 't', 'canceled while a is in flight');
is($node->safe_psql('postgres', "SELECT lease_token IS NULL FROM flowdb.runs WHERE id = '$run'"),
	't', 'flow_cancel clears the lease token');
is($node->safe_psql('postgres', "SELECT flow_retry('$run')"), $run, 'retried at once');

is(wait_run($node, $run, 30), 'succeeded', 'the retried run succeeded');
# every request answered (the first copy's a included): nothing is pending
ok(poll($node, 'SELECT true', 't', 1), 'cluster answers');
$deadline = time + 20;
usleep(50_000) while $fake->stats->{inflight} > 0 && time < $deadline;
is($fake->stats->{inflight}, 0, 'no request left in flight');
ok(poll($node,
		"SELECT lease_owner IS NULL AND lease_token IS NULL FROM flowdb.runs WHERE id = '$run'"),
	'the finished run holds no lease');

is(scalar($fake->requests_for('/a')), 2, 'step a was sent by both claims');
is(scalar($fake->requests_for('/b')), 1, 'step b reached the server once');
my $c = log_counts($node, $run);
is($c->{'b/succeeded'}, 1, 'step b logged succeeded once');
is($c->{'a/succeeded'}, 1, 'step a logged succeeded once (the first copy was dropped)');
isnt($node->safe_psql('postgres', "SELECT lease_token::text FROM flowdb.runs WHERE id = '$run'"),
	$token1, 'the token changed');

done_testing();
