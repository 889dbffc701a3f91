# 021_rates.pl: per-service request rates per owner credential, and 429s
# that slow down only the owner whose credential got them.
#
# 1. flowdb.service_limits = 'http=5/s': owners A and B queue 8 one-step
#    http runs each.  Each owner's requests reach the server at least
#    ~200 ms apart (the rate holds), while A's and B's requests are paced
#    independently (some arrive together).
# 2. No rate: owner A's run gets 429 with Retry-After: 2.  A's next run,
#    queued right after the 429, waits for it (its credential is slowed
#    down); owner B's run queued at the same time goes at once.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use FlowdbTest;
use FlowdbTools;

my $node = new_node('rates');
my $true = JSON::PP::true;
my $fake = start_fake({
	'/rate/*' => [ { body => { ok => $true } } ],
	'/rl'     => [
		{ status => 429, headers => { 'Retry-After' => '2' }, body => { error => 'slow down' } },
		{ body   => { ok => $true } }
	],
	'/after/*' => [ { body => { ok => $true } } ],
});

sub as_owner
{
	my ($owner, $sql) = @_;
	return $node->safe_psql('postgres', "SET request.jwt.claims = '{\"sub\": \"$owner\"}'; $sql");
}

sub queue_runs
{
	my ($owner, $path, $n, $name) = @_;
	my $bp = blueprint(name => $name, nodes => [ http_node('call', $fake->url($path)) ]);
	return as_owner($owner,
		    'SELECT string_agg(flow_execute(' . sql_json($bp)
		  . ", jsonb_build_object('i', g))::text, ',') FROM generate_series(1, $n) g");
}

# 1. rates
reload_settings($node, 'flowdb.service_limits' => 'http=5/s');
queue_runs('rate-a', '/rate/a', 8, 'rate a');
queue_runs('rate-b', '/rate/b', 8, 'rate b');
ok(wait_runs($node, "blueprint->>'name' LIKE 'rate %'", 60), 'all paced runs finished');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM flowdb.runs WHERE blueprint->>'name' LIKE 'rate %' AND status = 'succeeded'"),
	'16', 'all 16 succeeded');
my %times;
for my $r ($fake->requests)
{
	push @{ $times{$1} }, $r->{time} if $r->{path} =~ m{^/rate/([ab])$};
}
for my $o ('a', 'b')
{
	my @t = sort { $a <=> $b } @{ $times{$o} // [] };
	is(scalar @t, 8, "owner $o: 8 requests");
	my $min = 1e9;
	$min = ($t[$_] - $t[ $_ - 1 ] < $min ? $t[$_] - $t[ $_ - 1 ] : $min) for 1 .. $#t;
	note sprintf('owner %s: smallest gap %.3f s, span %.3f s', $o, $min, $t[-1] - $t[0]);
	cmp_ok($min, '>=', 0.15, "owner $o: no two requests close together (~200 ms apart)");
	cmp_ok($t[-1] - $t[0], '>=', 7 * 0.2 * 0.95, "owner $o: 8 requests took 7 intervals of 200 ms (5 a second)");
}
my $cross = 1e9;
for my $ta (@{ $times{a} })
{
	for my $tb (@{ $times{b} })
	{
		$cross = abs($ta - $tb) if abs($ta - $tb) < $cross;
	}
}
note sprintf('closest A/B pair: %.3f s', $cross);
cmp_ok($cross, '<', 0.1, "the owners' paces are independent (A and B requests arrive together)");

# 2. a 429 slows down that owner's credential only
reload_settings($node, 'flowdb.service_limits' => undef);
my ($first) = queue_runs('rl-a', '/rl', 1, 'rl first');
ok(poll($node, "SELECT count(*) > 0 FROM flowdb.workflow_logs WHERE run_id = '$first' AND status = 'retrying'", 't', 30),
	"owner A's first run got its 429");
queue_runs('rl-a', '/after/a', 1, 'rl after a');
queue_runs('rl-b', '/after/b', 1, 'rl after b');
ok(wait_runs($node, "blueprint->>'name' LIKE 'rl %'", 60), 'the three runs finished');
my ($t429) = map { $_->{time} } grep { $_->{path} eq '/rl' } $fake->requests;
my ($ta) = map { $_->{time} } $fake->requests_for('/after/a');
my ($tb) = map { $_->{time} } $fake->requests_for('/after/b');
note sprintf('after the 429: A +%.3f s, B +%.3f s', $ta - $t429, $tb - $t429);
cmp_ok($ta - $t429, '>=', 1.9, "owner A's next run waited for the Retry-After of A's 429");
cmp_ok($tb, '<', $ta, "owner B's run was not held back by A's 429");

$fake->stop;
$node->stop;
done_testing();
