# 049_databases.pl: flowdb serves every database that has the extension
# (issue 10, section 1, second bullet).
#
#   - two databases with the extension at once (flowdb.workers = 2 each):
#     runs in both finish, flowdb.worker_info() shows each worker's
#     database and number, worker_health() lists this database's workers;
#   - a database created after the start, probed by the launcher without
#     the extension (the back-off grows), gets its workers as soon as
#     CREATE EXTENSION commits (the launcher is woken, not polled), and its
#     runs finish without a restart;
#   - the launcher restarts: it adopts the running workers (no copies);
#   - DROP DATABASE of a served database, with a request in flight, is
#     prompt (PostgreSQL 15 would wait 5 s for the workers, then fail);
#     a role that does not own the database cannot stop its workers;
#   - DROP EXTENSION: the database's workers are told to leave and do, the
#     launcher finds the extension gone, the others keep going;
#   - flowdb.max_workers reached: a clear WARNING in the log, and the
#     database left without a worker shows it in worker_health/flow_stats;
#     the same when max_worker_processes has no room left.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);
use FindBin;
use lib $FindBin::RealBin;
use FlowdbTest;

# dbpoll(NODE, DB, SQL, EXPECTED, TIMEOUT): poll() in database DB
sub dbpoll
{
	my ($node, $db, $sql, $expected, $timeout) = @_;
	my $deadline = time + ($timeout // 60);
	my ($rc, $out, $err);
	while (1)
	{
		($rc, $out, $err) = $node->psql($db, $sql);
		return 1 if $rc == 0 && defined $out && $out eq $expected;
		last if time > $deadline;
		usleep(100_000);
	}
	diag "poll timed out: $sql\nexpected: $expected\nlast: " . ($out // '') . "\n" . ($err // '');
	return 0;
}

# run_in(NODE, DB, URL): queue a one-node run in DB; returns its id
sub run_in
{
	my ($node, $db, $url) = @_;
	return $node->safe_psql($db,
		'SELECT flow_execute('
		  . sql_json(blueprint(nodes => [ http_node('x', $url) ])) . ')');
}

# log_count(NODE, RE): lines of the server log matching RE
sub log_count
{
	my ($node, $re) = @_;
	my @m = slurp_file($node->logfile) =~ /$re/g;
	return scalar @m;
}

my $fake = start_fake({
	'/a/*'    => [ { body => { ok => 1 } } ],
	'/p/*'    => [ { body => { ok => 1 } } ],
	'/c/*'    => [ { body => { ok => 1 } } ],
	'/slow/*' => [ { delay_ms => 30000, body => { ok => 1 } } ],
});

my $node = new_node('dbs',
	'flowdb.workers'     => '2',
	'flowdb.max_workers' => '8',
	log_min_messages     => 'debug1');

########################################################################
# two databases at once
########################################################################

$node->safe_psql('postgres', 'CREATE DATABASE db_a');
$node->safe_psql('db_a', 'CREATE EXTENSION flowdb');

my (@pruns, @aruns);
for my $i (1 .. 3)
{
	push @pruns, run_in($node, 'postgres', $fake->url("/p/$i"));
	push @aruns, run_in($node, 'db_a', $fake->url("/a/$i"));
}
ok(dbpoll($node, 'postgres',
		"SELECT count(*) FROM flowdb.runs WHERE status = 'succeeded'", '3', 60),
	'the runs of postgres finish');
ok(dbpoll($node, 'db_a',
		"SELECT count(*) FROM flowdb.runs WHERE status = 'succeeded'", '3', 60),
	'the runs of db_a finish at the same time');
my %hit;
$hit{ $_->{path} }++ for $fake->server_requests;
is(scalar(grep { m{^/[ap]/\d$} } keys %hit), 6, 'each run sent its own request');

ok(dbpoll($node, 'postgres', q{
		SELECT string_agg(database || ':' || worker, ' ' ORDER BY database, worker)
		FROM flowdb.worker_info() WHERE pid <> 0},
		'db_a:0 db_a:1 postgres:0 postgres:1', 30),
	'worker_info shows two workers in each database, with their database');
is($node->safe_psql('db_a',
		q{SELECT string_agg(slot || ':' || alive, ' ' ORDER BY slot) FROM flowdb.worker_health()}),
	'0:true 1:true', "worker_health lists this database's workers");
is($node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'flowdb launcher' AND datid IS NULL"),
	'1', 'one launcher, connected to no database');

########################################################################
# a database created after the start gets workers at CREATE EXTENSION
########################################################################

$node->safe_psql('postgres', 'CREATE DATABASE db_c');
my $probe = qr/extension "flowdb" is not installed in database "db_c"/;
my $deadline = time + 60;
usleep(100_000) while log_count($node, $probe) < 2 && time < $deadline;
# two probes found no extension: the next one is 20 s away
cmp_ok(log_count($node, $probe), '>=', 2, 'the launcher probed db_c (no extension)');
is($node->safe_psql('postgres',
		q{SELECT count(*) FROM pg_stat_activity WHERE datname = 'db_c'}),
	'0', 'and nobody stays connected to it');
my $t0 = time;
$node->safe_psql('db_c', 'CREATE EXTENSION flowdb');
ok(dbpoll($node, 'postgres',
		q{SELECT count(*) FROM flowdb.worker_info() WHERE database = 'db_c' AND pid <> 0},
		'2', 15),
	'CREATE EXTENSION wakes the launcher: db_c has its workers');
cmp_ok(time - $t0, '<', 15, 'well before the next probe');
my $crun = run_in($node, 'db_c', $fake->url('/c/1'));
ok(dbpoll($node, 'db_c', "SELECT status FROM flowdb.runs WHERE id = '$crun'",
		'succeeded', 60),
	"db_c's run finishes without a restart");

########################################################################
# the launcher restarts: it adopts the running workers, starts no copies
########################################################################

my $wsql = q{SELECT string_agg(database || ':' || worker || ':' || pid, ' ' ORDER BY database, worker)
	FROM flowdb.worker_info()};
my $before = $node->safe_psql('postgres', $wsql);
my $lpid = $node->safe_psql('postgres',
	q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'flowdb launcher'});
$node->safe_psql('postgres', "SELECT pg_terminate_backend($lpid)");
ok(poll($node,
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'flowdb launcher' AND pid <> $lpid",
		'1', 30),
	'the launcher is restarted');
# give the new launcher time to list the databases and look at the slots
sleep 3;
is($node->safe_psql('postgres', $wsql), $before,
	'the same worker processes serve, no second copy of any');
my $arun = run_in($node, 'db_a', $fake->url('/a/9'));
ok(dbpoll($node, 'db_a', "SELECT status FROM flowdb.runs WHERE id = '$arun'",
		'succeeded', 60),
	'and are woken at commit as before');

# a role that does not own db_c cannot interrupt its workers with a
# DROP DATABASE that fails anyway
$node->safe_psql('postgres', 'CREATE ROLE mallory LOGIN');
my $cpids = $node->safe_psql('postgres',
	q{SELECT string_agg(pid::text, ',' ORDER BY pid) FROM flowdb.worker_info() WHERE database = 'db_c'});
my ($rc, $out, $err) = $node->psql('postgres', 'DROP DATABASE db_c',
	extra_params => [ '-U', 'mallory' ]);
like($err, qr/must be owner of database db_c/, 'a non-owner cannot drop db_c');
is(log_count($node, qr/stopping \d+ worker\(s\) of database "db_c"/), 0,
	'and does not stop its workers');
is($node->safe_psql('postgres',
		q{SELECT string_agg(pid::text, ',' ORDER BY pid) FROM flowdb.worker_info() WHERE database = 'db_c'}),
	$cpids, 'the same processes serve it');

########################################################################
# DROP DATABASE with a request in flight
########################################################################

my $slow = run_in($node, 'db_a', $fake->url('/slow/1'));
ok(dbpoll($node, 'db_a', "SELECT status FROM flowdb.runs WHERE id = '$slow'", 'running', 30),
	'a run of db_a is in flight');
$t0 = time;
($rc, $out, $err) = $node->psql('postgres', 'DROP DATABASE db_a');
my $took = time - $t0;
is($rc, 0, 'DROP DATABASE of a served database succeeds') or diag($err);
# dropdb waits up to 5 s for other sessions; the checkpoint it does costs
# a few seconds on a loaded machine
cmp_ok($took, '<', 10, "promptly ($took s)");
ok(dbpoll($node, 'postgres',
		q{SELECT count(*) FROM flowdb.worker_info() WHERE database = 'db_a' OR database IS NULL},
		'0', 30),
	'its workers are gone and not restarted');

########################################################################
# DROP EXTENSION: that database's workers leave, the others stay
########################################################################

$node->safe_psql('db_c', 'DROP EXTENSION flowdb');
ok(dbpoll($node, 'postgres',
		q{SELECT count(*) FROM flowdb.worker_info() WHERE database = 'db_c'}, '0', 30),
	"DROP EXTENSION: db_c's workers exit");
is(log_count($node, qr/LOG:  flowdb: stopping 2 worker\(s\) of database \d+: extension "flowdb" is to be dropped/),
	1, 'told to leave by DROP EXTENSION itself');
# the launcher looks again (worker 0 finds no extension) and leaves db_c alone
$deadline = time + 30;
usleep(100_000) while log_count($node, $probe) < 3 && time < $deadline;
cmp_ok(log_count($node, $probe), '>=', 3, 'db_c is probed again after the drop');
is($node->safe_psql('postgres',
		q{SELECT count(*) FROM flowdb.worker_info() WHERE database = 'db_c'}),
	'0', 'and stays without workers');
is($node->safe_psql('postgres',
		'SELECT count(*) FROM flowdb.worker_info() WHERE pid <> 0'),
	'2', "postgres's workers keep going");
my $prun = run_in($node, 'postgres', $fake->url('/p/9'));
ok(dbpoll($node, 'postgres', "SELECT status FROM flowdb.runs WHERE id = '$prun'",
		'succeeded', 60),
	'and run work');
$node->stop('fast');

########################################################################
# the total cap
########################################################################

my $capped = new_node('cap',
	'flowdb.workers'     => '1',
	'flowdb.max_workers' => '1');
$capped->safe_psql('postgres', 'CREATE DATABASE other');
$capped->safe_psql('other', 'CREATE EXTENSION flowdb');
$deadline = time + 60;
my $capmsg = qr/WARNING:  flowdb: cannot start worker 0 of database "(?:other|postgres)": all 1 worker slots are in use/;
usleep(100_000) while !log_count($capped, $capmsg) && time < $deadline;
is(log_count($capped, $capmsg), 1, 'flowdb.max_workers reached: one clear WARNING');
like(slurp_file($capped->logfile), qr/HINT:  Raise flowdb.max_workers/, 'with a hint');
is($capped->safe_psql('postgres', 'SELECT count(*) FROM flowdb.worker_info()'),
	'1', 'one worker in all');
my $unserved = $capped->safe_psql('postgres',
	q{SELECT CASE WHEN database = 'postgres' THEN 'other' ELSE 'postgres' END FROM flowdb.worker_info()});
($rc, $out, $err) = $capped->psql($unserved, q{SELECT flow_stats() #>> '{workers,0,alive}'});
is($out, 'false', "the database left without a worker shows it in flow_stats");
like($err, qr/WARNING:  flowdb worker 0 is not running/, 'with a WARNING');
$capped->stop('fast');

# PostgreSQL's own limit: max_worker_processes = 3 holds the logical
# replication launcher, the flowdb launcher and one worker
my $few = new_node('few',
	'flowdb.workers'       => '2',
	max_worker_processes   => '3');
my $bgwmsg = qr/WARNING:  flowdb: cannot start worker 1 of database "postgres": no background worker slot is free/;
$deadline = time + 60;
usleep(100_000) while !log_count($few, $bgwmsg) && time < $deadline;
is(log_count($few, $bgwmsg), 1, 'no background worker slot: one clear WARNING');
like(slurp_file($few->logfile), qr/HINT:  Raise max_worker_processes/, 'naming max_worker_processes');
ok(dbpoll($few, 'postgres',
		q{SELECT string_agg(slot || ':' || alive, ' ' ORDER BY slot) FROM flowdb.worker_health()},
		'0:true 1:false', 30),
	'worker_health: worker 0 serves, worker 1 could not start');
my $frun = run_in($few, 'postgres', $fake->url('/p/10'));
is(wait_run($few, $frun, 60), 'succeeded', 'the database is served all the same');
$few->stop('fast');

done_testing();
