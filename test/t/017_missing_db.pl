# 017_missing_db.pl: a flowdb.database_name that does not exist
# (issue 8, section 1; since issue 10 the setting is an optional filter:
# the launcher serves only that database).  The launcher says once, with a
# WARNING, that the database does not exist; no worker tries to connect
# to it (no FATAL, no restart loop) and none serves another database.
# Once the database is created with the extension, the launcher (woken by
# CREATE EXTENSION) starts its worker, which runs work there.
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
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'flowdb launcher'",
		'1', 20),
	'the launcher runs');
my $t0 = time;
my $deadline = time + 20;
usleep(100_000) while !count_in_log(qr/^.*WARNING:.*does not exist.*$/m) && time < $deadline;
ok(count_in_log(qr/^.*WARNING:.*does not exist.*$/m), 'said so');
like(slurp_file($node->logfile), qr/HINT:  flowdb serves it once it exists/, 'with what to do');
# five seconds of wall-clock time: nothing tries to connect to it
usleep(100_000) while time < $t0 + 5;
my $fatal = count_in_log(qr/^.*FATAL:\s+database "nosuchdb" does not exist.*$/m);
my $warn  = count_in_log(qr/^.*WARNING:\s+flowdb: database "nosuchdb" \(flowdb.database_name\) does not exist.*$/m);
is($fatal, 0, 'no worker tries to connect to it');
is($warn, 1, 'one WARNING while waiting');
is(count_in_log(qr/^.*exited with exit code.*$/m), 0, 'nothing restarts in a loop');
# the filter: postgres has the extension but is not served
$node->safe_psql('postgres', 'CREATE EXTENSION flowdb');
usleep(100_000) while time < $t0 + 7;
is($node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'flowdb worker'"),
	'0', 'no worker serves another database');

# create the database and the extension: the launcher is woken and a
# worker runs a workflow there
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
is($st, 'succeeded', 'once the database exists with the extension a worker serves it');
is(count_in_log(qr/^.*database "nosuchdb" exists now.*$/m), 1, 'and said so');

$node->stop('fast');
done_testing();
