# 035_stream_cap.pl: a streamed response past the body-size cap.
#
# flowdb.max_response_bytes = 1 MB (the default).  A server answers with a
# chunked body (no Content-Length, so curl cannot refuse it up front) of
# 200 MB:
#   - the step fails at once, permanently (no retry although max_attempts
#     is 3), with "response larger than 1048576 bytes" in the log row and
#     the run's error;
#   - the worker cut the stream short (the server's write failed) long
#     before 200 MB;
#   - the worker is the same process, and goes on: a chunked body under
#     the cap (500 kB) arrives whole, a plain run succeeds.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);
use FindBin;
use lib $FindBin::RealBin;    # FlowdbTest.pm (PROVE_FLAGS does not reach prove)
use FlowdbTest;
use FlowdbTools qw(wait_until crash_lines);

my $node = new_node('streamcap');
is($node->safe_psql('postgres', 'SHOW flowdb.max_response_bytes'), '1MB', 'the cap is 1 MB');
my $fake = start_fake({
	'/huge'  => [ { stream_bytes => 200_000_000, chunk_bytes => 65536 } ],
	'/small' => [ { stream_bytes => 500_000 } ],
	'/ok'    => [ { body => { ok => JSON::PP::true } } ],
});
ok(wait_until($node, "SELECT count(*) = 1 FROM flowdb.worker_info() WHERE pid <> 0"),
	'the worker runs');
my $pid = worker_pid($node);

my $huge = flow_execute($node,
	blueprint(nodes => [ http_node('a', $fake->url('/huge'), method => 'GET', max_attempts => 3) ]), {});
is(wait_run($node, $huge, 120), 'failed', 'the run with the endless stream failed');
my $row = run_row($node, $huge);
like($row->{error} // '', qr/response larger than 1048576 bytes/, 'the run error names the cap');
my @logs = grep { $_->{node_id} eq 'a' } run_logs($node, $huge);
my @failed = grep { $_->{status} eq 'failed' } @logs;
is(scalar @failed, 1, 'one failed log row');
like($failed[0]{error} // '', qr/response larger than 1048576 bytes/, 'the log row says why');
is(scalar(grep { $_->{status} eq 'retrying' } @logs), 0, 'not retried (the error is permanent)');
is(scalar($fake->requests_for('/huge')), 1, 'one request');

# the server notices when its next write fails
my $deadline = time + 30;
usleep(50_000) while $fake->stats->{streams_aborted} < 1 && time < $deadline;
my $stats = $fake->stats;
note 'server stats: ' . json_enc($stats);
is($stats->{streams_aborted}, 1, 'the worker cut the stream short');
cmp_ok($stats->{streamed_bytes}, '<', 50_000_000, 'long before its 200 MB (cut at the cap)');

my $small = flow_execute($node,
	blueprint(nodes => [ http_node('a', $fake->url('/small'), method => 'GET') ]), {});
is(wait_run($node, $small, 60), 'succeeded', 'a chunked body under the cap: the run succeeded');
my $body = run_row($node, $small)->{state}{nodes}{a}{output}{body};
is(length($body // ''), 500_000, 'with the whole body');
is($fake->stats->{streams_aborted}, 1, 'that stream was not cut');

my $ok = flow_execute($node, blueprint(nodes => [ http_node('a', $fake->url('/ok')) ]), {});
is(wait_run($node, $ok, 60), 'succeeded', 'a plain run succeeded afterwards');
is(worker_pid($node), $pid, 'the same worker process throughout');
is(join("\n", crash_lines($node)), '', 'no process died by a signal');

$fake->stop;
$node->stop;
done_testing();
