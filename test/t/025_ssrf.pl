# 025_ssrf.pl: the SSRF guard of the worker's HTTP requests (issue 8
# section 7).
#
#   - the cluster starts with http_proxy/all_proxy pointing at a recording
#     fake proxy: requests go direct, the proxy sees nothing;
#   - a kept-alive connection to 127.0.0.1 is not used once
#     flowdb.allow_private_hosts is switched off at run time;
#   - 127.1, 2130706433, 0x7f000001, [::ffff:127.0.0.1], NAT64, 6to4,
#     IPv4-compatible, ::1, site-local fec0::/10, localhost and the cloud
#     metadata address are all refused, without reaching anything;
#   - a per-service allow list: slack may reach 127.0.0.1 while the http
#     tool may not, then the other way round; bad lists are rejected;
#   - a response body that is not UTF-8 is stored base64 with a flag;
#   - flowdb.http_proxy sends requests through the proxy, and a literal
#     private address in the URL is still refused there.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;    # FlowdbTest.pm (PROVE_FLAGS does not reach prove)
use FlowdbTest;
use FlowdbTools;
use MIME::Base64 qw(encode_base64);
use Time::HiRes qw(usleep time);

my $true = JSON::PP::true;
my $bin_hex = '89504e470d0a1a0a0000000d49484452ff00fe';

my $fake = start_fake({
	'/ka'      => [ { body => { ok => $true } } ],
	'/per'     => [ { body => { ok => $true } } ],
	'/bin'     => [ { body_hex => $bin_hex } ],
	# "h\u00e9llo \u20ac" in UTF-8
	'/text' => [
		{
			body_hex => '68c3a96c6c6f20e282ac',
			headers  => { 'Content-Type' => 'text/plain; charset=utf-8' }
		}
	],
	'POST /slack/chat.postMessage' =>
	  [ { body => { ok => $true, channel => 'C0SSRF0001', ts => '1700000000.000200' } } ],
});
my $proxy = start_fake({});
my $port = $fake->port;

# The proxy environment the cluster (and so the worker) inherits.  The fake
# servers' own control clients were created above, before it was set.
my $node;
{
	my $purl = 'http://127.0.0.1:' . $proxy->port;
	local $ENV{http_proxy}  = $purl;
	local $ENV{https_proxy} = $purl;
	local $ENV{all_proxy}   = $purl;
	local $ENV{ALL_PROXY}   = $purl;
	local $ENV{HTTPS_PROXY} = $purl;
	$node = new_node('ssrf');
}

sub one_step
{
	my ($url, %o) = @_;
	return blueprint(nodes => [ http_node('x', $url, method => 'GET', %o) ]);
}

# refused(URL, WHAT): a run to URL fails at once on the private address
sub refused
{
	my ($url, $what) = @_;
	my $r = flow_execute($node, one_step($url, max_attempts => 3, backoff_ms => 10));
	is(wait_run($node, $r, 30), 'failed', "$what: run failed");
	my @l = run_logs($node, $r);
	is(scalar @l, 1, "$what: one attempt, not retried");
	like($l[0]{error} // '', qr/refused to connect to private address/,
		"$what: refused as a private address");
	return;
}

# the server processes (the worker forks from the same postmaster) have the
# proxy variables (/proc/PID/environ is overwritten by the process title)
is($node->safe_psql('postgres',
		"CREATE TEMP TABLE env(v text); "
		  . "COPY env FROM PROGRAM 'printf \"%s\" \"\$http_proxy\"'; SELECT v FROM env"),
	'http://127.0.0.1:' . $proxy->port, 'the cluster runs with http_proxy set');

########################################################################
# proxy environment ignored; a kept-alive connection, then policy off
########################################################################

my $r1 = flow_execute($node, one_step($fake->url('/ka')));
is(wait_run($node, $r1, 30), 'succeeded', 'first request with allow_private_hosts = on');
my $r2 = flow_execute($node, one_step($fake->url('/ka')));
is(wait_run($node, $r2, 30), 'succeeded', 'second request');
my @ka = $fake->requests_for('/ka');
is(scalar @ka, 2, 'both reached the server directly');
is($ka[1]{client}, $ka[0]{client}, 'the second request reused the kept-alive connection');
is(scalar($proxy->requests), 0, 'the proxy from the environment saw nothing');

reload_settings($node, 'flowdb.allow_private_hosts' => 'off');

# The worker applies the reload at its next wake-up: until then a run may
# still succeed.  Poll until one is refused; it must then not have reached
# the server over the idle kept-alive connection.
my ($off_run, $early) = (undef, 0);
my $deadline = time + 30;
while (time < $deadline)
{
	my $r = flow_execute($node, one_step($fake->url('/ka'), max_attempts => 1));
	my $st = wait_run($node, $r, 30);
	if ($st eq 'failed')
	{
		$off_run = $r;
		last;
	}
	$early++;
	usleep(100_000);
}
ok(defined $off_run, 'after switching off, a request over the kept-alive connection is refused');
like((run_logs($node, $off_run))[0]{error} // '',
	qr/refused to connect to private address 127\.0\.0\.1/, 'refused on 127.0.0.1');
is(scalar $fake->requests_for('/ka'), 2 + $early, 'the refused request never reached the server');

########################################################################
# every spelling of a private address
########################################################################

my %forms = (
	'127.1'              => "http://127.1:$port/f1",
	'2130706433'         => "http://2130706433:$port/f2",
	'0x7f000001'         => "http://0x7f000001:$port/f3",
	'::ffff:127.0.0.1'   => "http://[::ffff:127.0.0.1]:$port/f4",
	'NAT64 64:ff9b::'    => "http://[64:ff9b::7f00:1]:$port/f5",
	'NAT64 64:ff9b:1::'  => "http://[64:ff9b:1::7f00:1]:$port/f6",
	'6to4'               => "http://[2002:7f00:1::1]:$port/f7",
	'::127.0.0.1'        => "http://[::127.0.0.1]:$port/f8",
	'::ffff:0:127.0.0.1' => "http://[::ffff:0:127.0.0.1]:$port/f9",
	'::1'                => "http://[::1]:$port/f10",
	'site-local fec0::'  => "http://[fec0::1]:$port/f11",
	'Teredo'             => "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]:$port/f12",
	'localhost'          => "http://localhost:$port/f13",
	'metadata'           => 'http://169.254.169.254/latest/meta-data/',
);
refused($forms{$_}, $_) for sort keys %forms;
is(scalar(grep { $_->{path} =~ m{^/f\d+$} } $fake->requests), 0,
	'none of them reached the server');

########################################################################
# per-service allow list
########################################################################

my ($rc, $out, $err) = $node->psql('postgres',
	"ALTER SYSTEM SET flowdb.allow_private_hosts = 'nosuch:127.0.0.1'");
isnt($rc, 0, 'an unknown service is rejected');
like($err, qr/unknown service "nosuch"/, 'the error names the service');
($rc, $out, $err) = $node->psql('postgres',
	"ALTER SYSTEM SET flowdb.allow_private_hosts = 'http:10.0.0.300'");
isnt($rc, 0, 'a bad address is rejected');
like($err, qr/10\.0\.0\.300/, 'the error names the address');
($rc, $out, $err) = $node->psql('postgres',
	"ALTER SYSTEM SET flowdb.allow_private_hosts = 'http:10.0.0.0/33'");
isnt($rc, 0, 'a bad prefix is rejected');

set_credential($node, 'slack', 'default', { bot_token => 'xoxb-ssrf-test-token' });
reload_settings($node,
	'flowdb.allow_private_hosts' => 'slack:127.0.0.1',
	'flowdb.slack_base_url'      => $fake->url('/slack'));

my $post = action_bp('ssrf-slack',
	action_node('post', 'slack', 'post_message', { channel => '#x', text => 'hi' }));
my $s1 = flow_execute($node, $post);
is(wait_run($node, $s1, 30), 'succeeded', 'slack may reach 127.0.0.1 (slack:127.0.0.1)');
is(scalar $fake->requests_for('/slack/chat.postMessage'), 1, 'slack reached the server');
refused($fake->url('/per'), 'http tool under slack:127.0.0.1');

reload_settings($node, 'flowdb.allow_private_hosts' => 'http:127.0.0.0/8, llm:[fd00::5]');
my $h1 = flow_execute($node, one_step($fake->url('/per')));
is(wait_run($node, $h1, 30), 'succeeded', 'the http tool may reach 127.0.0.1 (http:127.0.0.0/8)');
my $s2 = flow_execute($node, $post);
is(wait_run($node, $s2, 30), 'failed', 'slack may not any more');
like((run_logs($node, $s2))[-1]{error} // '', qr/private address 127\.0\.0\.1/,
	'slack refused on 127.0.0.1');
is(scalar $fake->requests_for('/slack/chat.postMessage'), 1, 'slack did not reach the server');
refused("http://[::1]:$port/per", 'http tool to ::1 (outside its list)');

########################################################################
# binary response bodies
########################################################################

reload_settings($node, 'flowdb.allow_private_hosts' => 'on');
my $b = flow_execute($node, one_step($fake->url('/bin')));
is(wait_run($node, $b, 30), 'succeeded', 'binary response: succeeded');
my $bo = flow_status_of($node, $b)->{nodes}{x}{output};
ok(exists $bo->{body} && !defined $bo->{body}, 'binary response: body is null');
is($bo->{body_encoding}, 'base64', 'binary response: body_encoding base64');
is($bo->{body_base64}, encode_base64(pack('H*', $bin_hex), ''),
	'binary response: the exact bytes, base64');
my $t = flow_execute($node, one_step($fake->url('/text')));
is(wait_run($node, $t, 30), 'succeeded', 'text response: succeeded');
my $to = flow_status_of($node, $t)->{nodes}{x}{output};
is($node->safe_psql('postgres',
		"SELECT flow_status('$t')->'nodes'->'x'->'output'->>'body' = U&'h\\00E9llo \\20AC'"),
	't', 'text response: UTF-8 body kept as text');
ok(!exists $to->{body_encoding}, 'text response: no encoding flag');

########################################################################
# flowdb.http_proxy
########################################################################

reload_settings($node, 'flowdb.http_proxy' => 'http://127.0.0.1:' . $proxy->port);
my $p1 = flow_execute($node, one_step($fake->url('/viaproxy')));
is(wait_run($node, $p1, 30), 'succeeded', 'with flowdb.http_proxy: succeeded');
is(scalar $proxy->requests_for('/viaproxy'), 1, 'the request went through the proxy');
is(scalar $fake->requests_for('/viaproxy'), 0, 'and not directly');

reload_settings($node, 'flowdb.allow_private_hosts' => 'off');
refused("http://127.1:$port/lit", 'literal 127.1 through the proxy');
refused("http://[::ffff:127.0.0.1]:$port/lit", 'literal ::ffff:127.0.0.1 through the proxy');
is(scalar $proxy->requests_for('/lit'), 0, 'the proxy never saw them');

$node->stop;
done_testing();
