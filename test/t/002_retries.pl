# 002_retries.pl: retry policy of http actions.
#
# 5xx then success (attempt 3, two retrying rows, backoff between them),
# 429 + Retry-After honoured, request timeouts (hanging server: retry then
# fail "timed out"; slow first answer: retry then succeed), max_attempts 1,
# connection refused (retried, then failed).
use strict;
use warnings;

use IO::Socket::INET;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;    # FlowdbTest.pm (PROVE_FLAGS does not reach prove)
use FlowdbTest;

my $true = JSON::PP::true;

my $node = new_node('retries');
my $fake = start_fake({
	'/flaky' => [
		{ status => 500, body => 'oops' },
		{ status => 502, body => 'bad gateway' },
		{ status => 200, body => { ok => $true } }
	],
	'/limited' => [
		{ status => 429, headers => { 'Retry-After' => '1' }, body => { error => 'slow down' } },
		{ status => 200, body => { ok => $true } }
	],
	'/hang' => [ { hang => $true } ],
	'/slow' => [ { delay_ms => 3000, body => { late => $true } }, { body => { fast => $true } } ],
	'/once' => [ { status => 500, body => 'down' } ],
});

sub statuses
{
	my ($run) = @_;
	return [ map { "$_->{status}:$_->{attempt}" } run_logs($node, $run) ];
}

########################################################################
# 500, 502, 200: succeeded on attempt 3
########################################################################

my $r1 = flow_execute($node,
	blueprint(nodes => [ http_node('f', $fake->url('/flaky'), max_attempts => 3, backoff_ms => 50) ]));
is(wait_run($node, $r1, 30), 'succeeded', '500, 502, 200: run succeeded');
is_deeply(statuses($r1), [ 'retrying:1', 'retrying:2', 'succeeded:3' ],
	'two retrying rows, success on attempt 3');
my @l1 = run_logs($node, $r1);
like($l1[0]{error} // '', qr/HTTP 500/, 'first retrying row has the 500');
like($l1[1]{error} // '', qr/HTTP 502/, 'second retrying row has the 502');
is($l1[2]{output}{body}{ok}, $true, 'succeeded row has the output');
my @q1 = $fake->requests_for('/flaky');
is(scalar @q1, 3, 'server saw three requests');
is_deeply([ map { $_->{headers}{'idempotency-key'} } @q1 ],
	[ ("flowdb-$r1-f") x 3 ], 'every attempt carries the same Idempotency-Key');
# backoff 50 ms * 2^(attempt-1) with 75%..125% jitter: >= 37 ms, >= 75 ms
cmp_ok($q1[1]{time} - $q1[0]{time}, '>=', 0.035, 'backoff before attempt 2');
cmp_ok($q1[2]{time} - $q1[1]{time}, '>=', 0.07,  'longer backoff before attempt 3');
my $st1 = flow_status_of($node, $r1);
is($st1->{nodes}{f}{attempt}, 3, 'node state records attempt 3');

########################################################################
# 429 with Retry-After: 1
########################################################################

my $r2 = flow_execute($node,
	blueprint(nodes => [ http_node('l', $fake->url('/limited'), max_attempts => 3, backoff_ms => 10) ]));
is(wait_run($node, $r2, 30), 'succeeded', '429 then 200: run succeeded');
my @q2 = $fake->requests_for('/limited');
is(scalar @q2, 2, 'server saw two requests');
cmp_ok($q2[1]{time} - $q2[0]{time}, '>=', 0.95,
	'second request waited for Retry-After: 1 (not backoff_ms 10)');
my @l2 = run_logs($node, $r2);
is($l2[0]{status}, 'retrying', '429 logged as retrying');
like($l2[0]{error} // '', qr/HTTP 429/, 'retrying row names the 429');

########################################################################
# timeouts
########################################################################

# a server that never answers: each attempt times out, then the run fails
my $r3 = flow_execute($node,
	blueprint(nodes => [
		http_node('h', $fake->url('/hang'), timeout_ms => 300, max_attempts => 2, backoff_ms => 10)
	]));
is(wait_run($node, $r3, 30), 'failed', 'hanging server: run failed');
is_deeply(statuses($r3), [ 'retrying:1', 'failed:2' ], 'timed out once, retried, failed on attempt 2');
my @l3 = run_logs($node, $r3);
like($l3[$_]{error} // '', qr/timed out/, "attempt " . ($_ + 1) . " error says timed out")
  for 0 .. 1;
like(run_row($node, $r3)->{error} // '', qr/timed out/, 'run error says timed out');
is(scalar $fake->requests_for('/hang'), 2, 'server saw both attempts');
cmp_ok($l3[0]{duration_ms}, '>=', 250, 'attempt lasted about the timeout');
cmp_ok($l3[0]{duration_ms}, '<', 10000, 'attempt did not wait for the default timeout');

# node-level timeout_ms, first answer too slow, second fast
my $r4 = flow_execute($node,
	blueprint(nodes => [
		http_node('s', $fake->url('/slow'), node_timeout_ms => 400, max_attempts => 3, backoff_ms => 10)
	]));
is(wait_run($node, $r4, 30), 'succeeded', 'slow first answer: run succeeded');
is_deeply(statuses($r4), [ 'retrying:1', 'succeeded:2' ], 'timed out once then succeeded');
like((run_logs($node, $r4))[0]{error} // '', qr/timed out/, 'first attempt timed out (node timeout_ms)');
is((run_logs($node, $r4))[1]{output}{body}{fast}, $true, 'output from the second answer');

########################################################################
# max_attempts 1: no retry
########################################################################

my $r5 = flow_execute($node,
	blueprint(nodes => [ http_node('o', $fake->url('/once'), max_attempts => 1, backoff_ms => 10) ]));
is(wait_run($node, $r5, 30), 'failed', 'max_attempts 1: run failed');
is_deeply(statuses($r5), ['failed:1'], 'a single failed row');
is(scalar $fake->requests_for('/once'), 1, 'server saw one request');

########################################################################
# connection refused
########################################################################

my $sock = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 1)
  or die "cannot bind: $!";
my $closed = $sock->sockport;
close $sock;
my $r6 = flow_execute($node,
	blueprint(nodes => [
		http_node('x', "http://127.0.0.1:$closed/nothing", max_attempts => 3, backoff_ms => 10)
	]));
is(wait_run($node, $r6, 30), 'failed', 'closed port: run failed');
is_deeply(statuses($r6), [ 'retrying:1', 'retrying:2', 'failed:3' ],
	'connection refused is retried up to max_attempts');
like((run_logs($node, $r6))[2]{error} // '', qr/connect|refused/i,
	'error says the connection failed');

$fake->stop;
$node->stop;
done_testing();
