# 052_no_preload.pl: CREATE EXTENSION flowdb in a server that does not
# preload the library (issue 10, section 1).  Before, defining the
# postmaster settings in the session was a FATAL that dropped the
# connection; now it is an ERROR 55000 whose hint says to add flowdb to
# shared_preload_libraries and restart, the session goes on, and nothing
# is created.  Following the hint then works.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;    # FlowdbTest.pm (PROVE_FLAGS does not reach prove)
use FlowdbTest;

my $node = PostgreSQL::Test::Cluster->new('no_preload');
$node->init;
$node->start;

# one psql session: its backend pid before and after the failed CREATE
# EXTENSION (psql does not reconnect: a dropped connection ends the script)
my ($rc, $out, $err) = $node->psql('postgres', q{
\set VERBOSITY verbose
SELECT 'before ' || pg_backend_pid();
CREATE EXTENSION flowdb;
SELECT 'after ' || pg_backend_pid();
}, on_error_stop => 0);
my ($before) = $out =~ /^before (\d+)$/m;
my ($after)  = $out =~ /^after (\d+)$/m;
ok(defined $before && defined $after && $before eq $after,
	'the session survives CREATE EXTENSION without shared_preload_libraries')
  or diag("stdout: $out\nstderr: $err");
like($err, qr/ERROR:\s+55000: flowdb must be loaded through shared_preload_libraries/,
	'ERROR 55000 (object_not_in_prerequisite_state) saying why');
like($err, qr/HINT:\s+Add flowdb to shared_preload_libraries .* restart the server/,
	'the hint says to add flowdb to shared_preload_libraries and restart');
unlike($err, qr/FATAL|server closed the connection/, 'no FATAL, no dropped connection');

is($node->safe_psql('postgres', q{
	SELECT (SELECT count(*) FROM pg_extension WHERE extname = 'flowdb') || '/'
	    || (SELECT count(*) FROM pg_namespace WHERE nspname = 'flowdb') || '/'
	    || (SELECT count(*) FROM pg_proc WHERE proname LIKE 'flow\_%')}),
	'0/0/0', 'nothing was created (no extension, no schema flowdb, no flow_* function)');

# the library itself loads in a session without a FATAL (LOAD, or the
# 0.1.0 install script, which predates the check): its session settings
# exist, the postmaster ones do not
($rc, $out, $err) = $node->psql('postgres', q{
LOAD 'flowdb';
SHOW flowdb.sandbox;
SELECT 'alive';
});
is($rc, 0, 'LOAD flowdb in a session works') or diag($err);
like($out, qr/^auto\nalive$/m, 'its session settings are defined');

# the update to 0.2.0 refuses the same way (0.1.0 installs without the check)
$node->safe_psql('postgres', q{CREATE EXTENSION flowdb VERSION '0.1.0'});
my ($state, $msg) = sql_error($node, q{ALTER EXTENSION flowdb UPDATE TO '0.2.0'});
is($state, '55000', 'ALTER EXTENSION UPDATE without preload: 55000') or diag($msg);
is($node->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'flowdb'}),
	'0.1.0', 'and the extension stays at 0.1.0');
$node->safe_psql('postgres', 'DROP EXTENSION flowdb CASCADE');

# following the hint: preload, restart, CREATE EXTENSION works
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'flowdb'
flowdb.workers = 0
});
$node->restart;
($rc, $out, $err) = $node->psql('postgres', 'CREATE EXTENSION flowdb');
is($rc, 0, 'after adding flowdb to shared_preload_libraries and a restart, CREATE EXTENSION works')
  or diag($err);
is($node->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'flowdb'}),
	'0.2.0', 'version 0.2.0 installed');

$node->stop('fast');
done_testing();
