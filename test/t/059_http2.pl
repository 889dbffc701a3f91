# 059_http2.pl: the workers speak HTTP/2 to an https server that offers it
# and multiplex their requests on one connection; flowdb.http_ca_file names
# the CA they trust.
#
# A self-signed certificate for 127.0.0.1 (openssl) and test/fake/h2server.js
# (node, HTTP/2 only, answers after 500 ms):
#   - flowdb.http_ca_file = the certificate, flowdb.max_host_connections = 1:
#     12 one-step runs queued at once all succeed over HTTP/2, on one TLS
#     connection, with 6 or more requests in flight on it at once (over
#     HTTP/1.1 that cap allows one at a time: 038_host_connections);
#   - the answer's body reaches the run's output;
#   - flowdb.http_ca_file reset (reload) to libcurl's bundle, which does not
#     hold that certificate: the next run fails with a certificate error
#     and the server sees no request (the connection verified under the
#     other CA is not reused);
#   - the setting is the superuser's: hidden from and not settable by
#     other roles.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;    # FlowdbTest.pm (PROVE_FLAGS does not reach prove)
use FlowdbTest;
use FlowdbTools qw(wait_until reload_settings);
use POSIX qw(WNOHANG);
use Time::HiRes qw(usleep);
use Cwd qw(abs_path);

my $nodejs = (grep { -x "$_/node" } split /:/, $ENV{PATH})[0];
plan skip_all => 'node is not installed (scripts/deps.sh installs it)' unless $nodejs;

# a self-signed certificate for 127.0.0.1 (it is its own CA)
my $dir = PostgreSQL::Test::Utils::tempdir('h2');
chmod 0755, $dir;    # the server (another OS user in CI) reads the CA file
system("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
	  . "-keyout $dir/key.pem -out $dir/cert.pem -days 2 -subj /CN=127.0.0.1 "
	  . "-addext subjectAltName=IP:127.0.0.1 2>$dir/openssl.log") == 0
  or BAIL_OUT('openssl could not make a certificate: ' . slurp_file("$dir/openssl.log"));
chmod 0644, "$dir/cert.pem";

# the HTTP/2 server
my $server = abs_path("$FindBin::RealBin/../fake/h2server.js");
my $pid = fork;
die "fork: $!" unless defined $pid;
if ($pid == 0)
{
	open STDIN,  '<',  '/dev/null';
	open STDOUT, '>>', "$dir/server.log";
	open STDERR, '>>', "$dir/server.log";
	exec 'node', $server, '--cert', "$dir/cert.pem", '--key', "$dir/key.pem",
	  '--port-file', "$dir/port", '--stats', "$dir/stats.json",
	  '--delay-ms', '500', '--parent-pid', getppid() or POSIX::_exit(127);
}
my $deadline = time + 20;
until (-s "$dir/port")
{
	BAIL_OUT('h2server did not start: ' . (-f "$dir/server.log" ? slurp_file("$dir/server.log") : ''))
	  if waitpid($pid, WNOHANG) == $pid || time > $deadline;
	usleep(20_000);
}
my ($port) = slurp_file("$dir/port") =~ /(\d+)/;
note "h2server on port $port";
sub server_stats { return json_dec(slurp_file("$dir/stats.json")); }

my $node = new_node('http2',
	'flowdb.max_inflight'          => '16',
	'flowdb.max_host_connections'  => '1',
	'flowdb.http_ca_file'          => "$dir/cert.pem");
ok(wait_until($node, "SELECT count(*) = 1 FROM flowdb.worker_info() WHERE pid <> 0"),
	'the worker runs');

# 12 runs at once, one connection allowed per host
my $bp = blueprint(name => 'h2-burst',
	nodes => [ http_node('s', "https://127.0.0.1:$port/slow/{{trigger_data.i}}", method => 'GET') ]);
$node->safe_psql('postgres',
	'SELECT count(flow_execute(' . sql_json($bp) . ", jsonb_build_object('i', g))) FROM generate_series(1, 12) g");
ok(wait_runs($node, "blueprint->>'name' = 'h2-burst'", 120), 'the 12 runs finished');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM flowdb.runs WHERE blueprint->>'name' = 'h2-burst' AND status = 'succeeded'"),
	'12', 'all 12 succeeded');
my $st = server_stats();
note 'server: ' . json_enc($st);
is($st->{requests}, 12, 'the server saw 12 requests');
is_deeply($st->{protocols}, { '2.0' => 12 }, 'all of them over HTTP/2');
is($st->{sessions}, 1, 'on one TLS connection');
cmp_ok($st->{max_inflight}, '>=', 6,
	'with 6 or more in flight on it at once (multiplexed, though the cap is 1 connection)');
is($node->safe_psql('postgres',
		"SELECT state #>> '{nodes,s,output,body,protocol}' || ' ' || (state #>> '{nodes,s,output,body,path}') "
		  . "FROM flowdb.runs WHERE blueprint->>'name' = 'h2-burst' AND payload->>'i' = '7'"),
	'2.0 /slow/7', "the server's answer is the node's output");

# back to libcurl's bundle: the self-signed certificate is not trusted
reload_settings($node, 'flowdb.http_ca_file' => '');
my $bad = blueprint(name => 'h2-untrusted',
	nodes => [ http_node('s', "https://127.0.0.1:$port/untrusted", method => 'GET') ]);
my $run = flow_execute($node, $bad);
ok(wait_run($node, $run, 60), 'the run with an untrusted certificate finished');
my $row = run_row($node, $run);
is($row->{status}, 'failed', 'it failed');
like($row->{error}, qr/certificate/i, 'with a certificate error');
note "error: $row->{error}";
ok(!exists server_stats()->{session_of}{'/untrusted'}, 'and the server saw no request');

# the setting is the superuser's
$node->safe_psql('postgres', 'CREATE ROLE h2_tenant LOGIN');
my ($rc, $out, $err) = $node->psql('postgres',
	"SET ROLE h2_tenant; SET flowdb.http_ca_file = '/tmp/x.pem'", on_error_stop => 1);
isnt($rc, 0, 'another role cannot set it');
like($err, qr/cannot be changed now|permission denied/, '(refused)');
($rc, $out, $err) = $node->psql('postgres', 'SET ROLE h2_tenant; SHOW flowdb.http_ca_file');
like($err, qr/must be superuser|pg_read_all_settings/, 'nor read it');

kill 'TERM', $pid;
waitpid($pid, 0);
$node->stop;
done_testing();
