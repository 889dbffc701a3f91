# 059_http2.pl: the workers speak HTTP/2 to an https server that offers it
# and multiplex their requests on one connection, HTTP/1.1 to one that does
# not; flowdb.http_ca_file names the CA they trust.
#
# A self-signed certificate for 127.0.0.1 (openssl) and test/fake/tlsserver.js
# (node, one protocol per server):
#   - flowdb.http_ca_file = the certificate, flowdb.max_host_connections = 1,
#     an HTTP/2 server answering in 500 ms: 12 one-step runs queued at once
#     all succeed over HTTP/2, on one TLS connection, with 6 or more
#     requests in flight on it at once; the answer's body reaches the run's
#     output;
#   - the same cap and an HTTPS server speaking HTTP/1.1 only: 4 runs, one
#     request at a time on one connection (the cap counts connections);
#   - cap 0 (reload) and a new HTTPS/1.1 host answering in 2 s: 4 requests
#     in flight together on 4 connections (a request waits for the first
#     TLS handshake to learn whether it can share that connection, then
#     opens its own);
#   - cap 0 and a new HTTP/2 host: 12 requests share one connection (they
#     wait for its handshake instead of opening their own);
#   - flowdb.http_ca_file reset (reload) to libcurl's bundle, which does not
#     hold that certificate: the next run fails with a certificate error
#     and the server sees no request (the connection verified under the
#     other CA is not reused);
#   - a CA file that does not exist: the next run fails with curl's
#     reason and the worker goes on;
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

my $node;

# start_tls(PROTOCOL, DELAY_MS): a tlsserver.js; returns {pid, port, stats}
my $server = abs_path("$FindBin::RealBin/../fake/tlsserver.js");
my $nservers = 0;
sub start_tls
{
	my ($protocol, $delay) = @_;
	my $n = ++$nservers;
	my %s = (stats => "$dir/stats$n.json", port_file => "$dir/port$n", log => "$dir/server$n.log");
	($s{pid}, $s{port}) = spawn_server($s{port_file}, $s{log},
		'node', $server, '--cert', "$dir/cert.pem", '--key', "$dir/key.pem",
		'--port-file', $s{port_file}, '--stats', $s{stats}, '--protocol', $protocol,
		'--delay-ms', $delay, '--parent-pid', $$);
	note "tlsserver $protocol on port $s{port}";
	return \%s;
}
sub server_stats { return json_dec(slurp_file($_[0]{stats})); }
sub stop_tls { kill 'TERM', $_[0]{pid}; waitpid($_[0]{pid}, 0); return; }

# burst(SERVER, TAG, N): N one-step runs to SERVER queued at once; true
# when all of them succeeded
sub burst
{
	my ($srv, $tag, $n) = @_;
	my $bp = blueprint(name => $tag,
		nodes => [ http_node('s', "https://127.0.0.1:$srv->{port}/$tag/{{trigger_data.i}}", method => 'GET') ]);
	$node->safe_psql('postgres',
		'SELECT count(flow_execute(' . sql_json($bp) . ", jsonb_build_object('i', g))) FROM generate_series(1, $n) g");
	ok(wait_runs($node, "blueprint->>'name' = '$tag'", 120), "$tag: the $n runs finished");
	return $node->safe_psql('postgres',
		"SELECT count(*) FROM flowdb.runs WHERE blueprint->>'name' = '$tag' AND status = 'succeeded'") eq $n;
}

my $h2 = start_tls('h2', 500);
$node = new_node('http2',
	'flowdb.max_inflight'          => '16',
	'flowdb.max_host_connections'  => '1',
	'flowdb.http_ca_file'          => "$dir/cert.pem");
ok(wait_until($node, "SELECT count(*) = 1 FROM flowdb.worker_info() WHERE pid <> 0"),
	'the worker runs');

# HTTP/2: 12 runs at once, one connection allowed per host
ok(burst($h2, 'h2-burst', 12), 'HTTP/2: all 12 runs succeeded');
my $st = server_stats($h2);
note 'HTTP/2 server: ' . json_enc($st);
is($st->{requests}, 12, 'HTTP/2: the server saw 12 requests');
is_deeply($st->{protocols}, { '2.0' => 12 }, 'all of them over HTTP/2');
is($st->{connections}, 1, 'on one TLS connection');
cmp_ok($st->{max_inflight}, '>=', 6,
	'with 6 or more in flight on it at once (multiplexed, though the cap is 1 connection)');
is($node->safe_psql('postgres',
		"SELECT state #>> '{nodes,s,output,body,protocol}' || ' ' || (state #>> '{nodes,s,output,body,path}') "
		  . "FROM flowdb.runs WHERE blueprint->>'name' = 'h2-burst' AND payload->>'i' = '7'"),
	'2.0 /h2-burst/7', "the server's answer is the node's output");

# HTTPS/1.1, same cap: one request at a time
my $h1 = start_tls('http/1.1', 300);
ok(burst($h1, 'h1-capped', 4), 'HTTPS/1.1, cap 1: all 4 runs succeeded');
$st = server_stats($h1);
note 'HTTPS/1.1 server: ' . json_enc($st);
is_deeply($st->{protocols}, { '1.1' => 4 }, 'HTTPS/1.1: the 4 requests came over HTTP/1.1');
is($st->{max_inflight}, 1, 'one at a time');
is($st->{connections}, 1, 'on one connection');
stop_tls($h1);

# HTTPS/1.1, no cap, a host not connected yet: the requests go together
reload_settings($node, 'flowdb.max_host_connections' => '0');
my $fresh = start_tls('http/1.1', 2000);
ok(burst($fresh, 'h1-fresh', 4), 'HTTPS/1.1, no cap: all 4 runs succeeded');
$st = server_stats($fresh);
note 'fresh HTTPS/1.1 server: ' . json_enc($st);
is($st->{max_inflight}, 4, 'the 4 requests were in flight together');
is($st->{connections}, 4, 'on 4 connections');
stop_tls($fresh);

# HTTP/2, no cap, a host not connected yet: the requests wait for the first
# handshake, then share its connection
my $h2fresh = start_tls('h2', 500);
ok(burst($h2fresh, 'h2-fresh', 12), 'HTTP/2, no cap: all 12 runs succeeded');
$st = server_stats($h2fresh);
note 'fresh HTTP/2 server: ' . json_enc($st);
is($st->{connections}, 1, 'one connection for the 12 requests');
cmp_ok($st->{max_inflight}, '>=', 6, 'with 6 or more in flight on it at once');
stop_tls($h2fresh);

# back to libcurl's bundle: the self-signed certificate is not trusted
reload_settings($node, 'flowdb.http_ca_file' => '');
my $bad = blueprint(name => 'h2-untrusted',
	nodes => [ http_node('s', "https://127.0.0.1:$h2->{port}/untrusted", method => 'GET') ]);
my $run = flow_execute($node, $bad);
ok(wait_run($node, $run, 60), 'the run with an untrusted certificate finished');
my $row = run_row($node, $run);
is($row->{status}, 'failed', 'it failed');
like($row->{error}, qr/certificate/i, 'with a certificate error');
note "error: $row->{error}";
ok(!exists server_stats($h2)->{connection_of}{'/untrusted'}, 'and the server saw no request');

# a CA file that does not exist: the step fails with curl's reason, the
# worker goes on (same process), the server sees nothing
my $wpid = worker_pid($node);
reload_settings($node, 'flowdb.http_ca_file' => '/nonexistent/flowdb-ca.pem');
$run = flow_execute($node, blueprint(name => 'h2-nofile',
	nodes => [ http_node('s', "https://127.0.0.1:$h2->{port}/nofile", method => 'GET') ]));
ok(wait_run($node, $run, 60), 'the run with a missing CA file finished');
$row = run_row($node, $run);
is($row->{status}, 'failed', 'it failed');
like($row->{error}, qr/CA cert|certificate/i, "with curl's certificate error");
note "error: $row->{error}";
ok(!exists server_stats($h2)->{connection_of}{'/nofile'}, 'the server saw no request');
is(worker_pid($node), $wpid, 'the worker did not restart');

# the setting is the superuser's
$node->safe_psql('postgres', 'CREATE ROLE h2_tenant LOGIN');
my ($rc, $out, $err) = $node->psql('postgres',
	"SET ROLE h2_tenant; SET flowdb.http_ca_file = '/tmp/x.pem'", on_error_stop => 1);
isnt($rc, 0, 'another role cannot set it');
like($err, qr/cannot be changed now|permission denied/, '(refused)');
($rc, $out, $err) = $node->psql('postgres', 'SET ROLE h2_tenant; SHOW flowdb.http_ca_file');
like($err, qr/must be superuser|pg_read_all_settings/, 'nor read it');

stop_tls($h2);
$node->stop;
done_testing();
