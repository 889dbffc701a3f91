# 038_host_connections.pl: flowdb.max_host_connections, libcurl's per-host
# connection cap, is honoured and reloadable.
#
# flowdb.max_inflight = 16; bursts of 12 one-step runs against one HTTP/1.1
# server that answers in 400 ms (one request per connection at a time):
#   - cap 3: the server never sees more than 3 requests at once nor more
#     than 3 new connections, but does see 2 or more at once; every run
#     succeeds (requests past the cap wait for a connection, they are not
#     failed);
#   - cap 0 (no cap; reload): more than 3 at once; and 4 requests to a
#     host not connected yet go at once (none waits for the first answer);
#   - cap 2 (reload, lower than the connections open): at most 2 at once
#     and 2 new connections (the idle connections over the cap are closed).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;    # FlowdbTest.pm (PROVE_FLAGS does not reach prove)
use FlowdbTest;
use FlowdbTools qw(wait_until reload_settings);

my $node = new_node('hostconn', 'flowdb.max_inflight' => '16', 'flowdb.max_host_connections' => '3');
is($node->safe_psql('postgres', 'SHOW flowdb.max_host_connections'), '3', 'the cap is 3');
my $fake = start_fake({ '/slow/*' => [ { delay_ms => 400, body => { ok => JSON::PP::true } } ] });
ok(wait_until($node, "SELECT count(*) = 1 FROM flowdb.worker_info() WHERE pid <> 0"),
	'the worker runs');

# burst(TAG): 12 runs queued at once; returns the server's stats
sub burst
{
	my ($tag) = @_;
	$fake->reset;
	my $bp = blueprint(name => "burst-$tag",
		nodes => [ http_node('s', $fake->url("/slow/$tag/{{trigger_data.i}}")) ]);
	$node->safe_psql('postgres',
		'SELECT count(flow_execute(' . sql_json($bp) . ", jsonb_build_object('i', g))) "
		  . 'FROM generate_series(1, 12) g');
	ok(wait_runs($node, "blueprint->>'name' = 'burst-$tag'", 120), "burst $tag finished");
	is($node->safe_psql('postgres',
			"SELECT count(*) FROM flowdb.runs WHERE blueprint->>'name' = 'burst-$tag' AND status = 'succeeded'"),
		'12', "burst $tag: all 12 runs succeeded");
	my $st = $fake->stats;
	note "burst $tag: " . json_enc($st);
	# the /_stats call came on a connection of its own (no keep-alive)
	$st->{connections}--;
	is($st->{requests}, 12, "burst $tag: one request per run");
	return $st;
}

my $st = burst('cap3');
cmp_ok($st->{max_inflight}, '<=', 3, 'cap 3: at most 3 requests at once');
cmp_ok($st->{max_inflight}, '>=', 2, 'but several at once (the cap is not a serialisation)');
cmp_ok($st->{connections}, '<=', 3, 'and at most 3 connections opened');

reload_settings($node, 'flowdb.max_host_connections' => '0');
$st = burst('nocap');
cmp_ok($st->{max_inflight}, '>', 3, 'cap 0 (reload): more than 3 requests at once');

# a host the worker has no connection to yet, answering in 3 s: the 4
# requests go at once (none waits for the first answer to learn whether
# the server can multiplex: plain http is HTTP/1.1)
my $fresh = start_fake({ '/first/*' => [ { delay_ms => 3000, body => { ok => JSON::PP::true } } ] });
my $fbp = blueprint(name => 'fresh', nodes => [ http_node('s', $fresh->url('/first/{{trigger_data.i}}')) ]);
$node->safe_psql('postgres',
	'SELECT count(flow_execute(' . sql_json($fbp) . ", jsonb_build_object('i', g))) FROM generate_series(1, 4) g");
ok(wait_runs($node, "blueprint->>'name' = 'fresh'", 120), 'fresh host: the runs finished');
my $fst = $fresh->stats;
note 'fresh host: ' . json_enc($fst);
is($fst->{max_inflight}, 4, 'fresh host: the 4 requests were in flight together');
$fresh->stop;

reload_settings($node, 'flowdb.max_host_connections' => '2');
$st = burst('cap2');
cmp_ok($st->{max_inflight}, '<=', 2, 'cap 2 (reload): at most 2 requests at once');
cmp_ok($st->{connections}, '<=', 2, 'on at most 2 new connections');

$fake->stop;
$node->stop;
done_testing();
