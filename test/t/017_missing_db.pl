# 017_missing_db.pl: a flowdb.database_name that does not exist
# (issue 8, section 1).  The worker's first start fails to connect (one
# FATAL from PostgreSQL); the next start connects to no database, logs a
# WARNING once and checks again with an exponential back-off instead of
# dying every second.  Once the database is created, the worker connects
# and runs work there.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);
use FindBin;
use lib $FindBin::RealBin;    # FlowdbTest.pm (PROVE_FLAGS does not reach prove)
use FlowdbTest;

my $node = PostgreSQL::Test::Cluster->new('missing_db');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'flowdb'
flowdb.database_name = 'nosuchdb'
flowdb.allow_private_hosts = on
flowdb.scan_interval_ms = 200
});
$node->start;

# count_in_log(RE): matches of RE (a qr//m) in the server log
sub count_in_log
{
	my ($re) = @_;
	my @m = slurp_file($node->logfile) =~ /$re/g;
	return scalar @m;
}

ok(poll($node,
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'flowdb worker'",
		'1', 20),
	'the worker waits (connected to no database)');
my $t0 = time;
my $deadline = time + 20;
usleep(100_000) while !count_in_log(qr/^.*WARNING:.*does not exist.*$/m) && time < $deadline;
ok(count_in_log(qr/^.*WARNING:.*does not exist.*$/m), 'said so');
# five seconds of wall-clock time: a worker restarting every second would
# log 5+ failures
usleep(100_000) while time < $t0 + 5;
my $fatal = count_in_log(qr/^.*FATAL:\s+database "nosuchdb" does not exist.*$/m);
my $warn  = count_in_log(qr/^.*WARNING:\s+flowdb worker 0: database "nosuchdb" does not exist.*$/m);
cmp_ok($fatal, '<=', 1, "at most one FATAL connecting ($fatal)");
is($warn, 1, 'one WARNING while waiting');
cmp_ok(count_in_log(qr/^.*exited with exit code.*$/m), '<=', 1, 'the worker did not restart in a loop');

# create the database: the worker connects within the back-off (<= 8 s
# here) and runs a workflow
$node->safe_psql('postgres', 'CREATE DATABASE nosuchdb');
$node->safe_psql('nosuchdb', 'CREATE EXTENSION flowdb');
my $fake = start_fake({ '/x' => [ { body => { ok => 1 } } ] });
my $run = $node->safe_psql('nosuchdb',
	'SELECT flow_execute(' . sql_json(blueprint(nodes => [ http_node('x', $fake->url('/x')) ])) . ')');
my $st;
$deadline = time + 40;
while (time < $deadline)
{
	$st = $node->safe_psql('nosuchdb', "SELECT status FROM flowdb.runs WHERE id = '$run'");
	last if $st eq 'succeeded';
	usleep(100_000);
}
is($st, 'succeeded', 'once the database exists the worker connects and runs work there');
ok(count_in_log(qr/^.*database "nosuchdb" exists now.*$/m) == 1, 'and said so');

$node->stop('fast');
done_testing();
