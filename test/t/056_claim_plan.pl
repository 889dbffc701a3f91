# 056_claim_plan.pl: the claim reads flowdb.runs only through
# runs_owner_due and primary-key lookups, even with a plan made while
# ANALYZE had last seen a drained queue.
#
# The worker's claim plan is cached; after ANALYZE it is made again from
# statistics that may say no run is unfinished.  It used to lock each
# picked run through a scan of a partial index of unfinished runs
# (estimated at one row) and walk the backlog through that index, sorted:
# 18,400 rows read per run locked under a 20,000-run backlog.  auto_explain
# logs the worker's statements (nested, every duration); each claim plan
# after the ANALYZE must scan runs only by runs_owner_due or with an index
# condition on id, never sequentially and never filtering on id.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;    # FlowdbTest.pm (PROVE_FLAGS does not reach prove)
use FlowdbTest;

my $node = new_node('claimplan',
	shared_preload_libraries             => 'flowdb,auto_explain',
	'auto_explain.log_min_duration'      => '0',
	'auto_explain.log_nested_statements' => 'on');
my $fake = start_fake({ '/*' => [ { body => { ok => JSON::PP::true } } ] });

sub queue
{
	my ($name, $n) = @_;
	my $bp = blueprint(name => $name, nodes => [ http_node('s', $fake->url("/$name/{{trigger_data.i}}")) ]);
	flow_execute_many($node, $bp, $n);
	ok(wait_runs($node, "blueprint->>'name' = '$name'", 120), "$name: the $n runs finished");
}

queue('first', 20);
# statistics of a drained queue: no unfinished run
$node->safe_psql('postgres', 'VACUUM ANALYZE flowdb.runs');
is($node->safe_psql('postgres', 'SELECT count(*) FROM flowdb.runs WHERE finished_at IS NULL'),
	'0', 'ANALYZE saw no unfinished run');
my $from = -s $node->logfile;
queue('backlog', 300);
is($node->safe_psql('postgres',
		"SELECT count(*) FROM flowdb.runs WHERE blueprint->>'name' = 'backlog' AND status = 'succeeded'"),
	'300', 'and succeeded');

my $log = slurp_file($node->logfile, $from);
# one plan per LOG entry; the claim walks the owners and sets lease_owner
my @claims = grep { /Query Text: WITH RECURSIVE owners.*UPDATE flowdb\.runs r SET lease_owner/ }
  split /\n(?=\S.*LOG:  duration:)/, $log;
cmp_ok(scalar(@claims), '>', 0, 'auto_explain logged claim plans: ' . scalar(@claims));
my @bad;
for my $plan (@claims)
{
	my @lines = split /\n/, $plan;
	for my $i (0 .. $#lines)
	{
		push @bad, $lines[$i] if $lines[$i] =~ /Seq Scan on runs/;
		push @bad, $lines[$i] if $lines[$i] =~ /Filter:.*\(id = /;
		next unless $lines[$i] =~ /Scan using (\w+) on runs/;
		next if $1 eq 'runs_owner_due';
		push @bad, $lines[$i]
		  unless ($lines[$i + 1] // '') =~ /Index Cond: \(id = /;
	}
}
is(scalar(@bad), 0, 'every claim reads runs by runs_owner_due or by id')
  or diag join("\n", @bad[ 0 .. ($#bad < 5 ? $#bad : 5) ]);

$fake->stop;
done_testing();
