# 029_upgrade.pl: ALTER EXTENSION flowdb UPDATE from the previous release.
#
# One cluster, the worker serving database postgres ("A"):
# - A: CREATE EXTENSION flowdb VERSION '0.1.0' (sql/flowdb--0.1.0.sql, the
#   frozen previous release), with the Supabase roles and the
#   supabase_realtime publication present, so that grants and publication
#   membership are part of what is compared (this also proves that this
#   library still has every C symbol the 0.1.0 script names, and the 0.1.0
#   functions used below run on it);
# - A gets data as 0.1.0 wrote it: a saved workflow, runs that succeeded,
#   failed, wait for an event and are queued (the finished and waiting
#   runs' rows and logs are written as the 0.1.0 worker wrote them: the
#   worker of this library refuses to run against 0.1.0), a credential,
#   outbox rows, webhook deliveries, a session, a message, a buffered event
#   and assistant settings;
# - the worker starts with 0.1.0 installed: it says ONCE in the log what to
#   run (ALTER EXTENSION flowdb UPDATE) and runs nothing while it keeps
#   checking (its heartbeat goes on);
# - ALTER EXTENSION flowdb UPDATE: every row of every 0.1.0 table is still
#   there (compared inside the updating transaction, before the worker can
#   touch them); the worker says it resumes, the queued run runs once, the
#   waiting run resumes on flow_send_event, finished runs are not run;
# - database "fresh": CREATE EXTENSION flowdb (0.2.0).  The two schemas
#   are compared object by object (pg_dump --schema-only --binary-upgrade,
#   which dumps the extension's members, normalised; plus the
#   pg_extension_config_dump registrations).  On a difference it prints
#   each object that is missing, extra or different, with a diff: mirror
#   that change of sql/flowdb--0.2.0.sql in sql/flowdb--0.1.0--0.2.0.sql.
# - the comparison itself can fail: a changed comment, column default,
#   grant and config registration in "fresh" are each reported.
use strict;
use warnings;

use File::Temp qw(tempdir);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use FindBin;
use lib $FindBin::RealBin;    # FlowdbTest.pm, FlowdbTools.pm (PROVE_FLAGS does not reach prove)
use FlowdbTest;
use FlowdbTools;

my $previous = '0.1.0';
my $current  = '0.2.0';

my $fake = start_fake({
	'/queued' => [ { status => 200, body => { ok => 3 } } ],
	'/after'  => [ { status => 200, body => { ok => 2 } } ],
	'/done'   => [ { status => 200, body => { ok => 1 } } ],
	'/fail'   => [ { status => 400, body => { err => 'no' } } ] });

# no worker while the previous version is set up
my $node = new_node('upgrade', 'flowdb.workers' => '0');
$node->safe_psql(
	'postgres', qq{
	DROP EXTENSION flowdb;
	CREATE ROLE anon NOLOGIN;
	CREATE ROLE authenticated NOLOGIN;
	CREATE ROLE service_role NOLOGIN;
	CREATE PUBLICATION supabase_realtime;
	CREATE EXTENSION flowdb VERSION '$previous';
});
is($node->safe_psql('postgres', "SELECT extversion FROM pg_extension WHERE extname = 'flowdb'"),
	$previous, "A: flowdb $previous installed");

########################################################################
# Data, as the previous version holds it
########################################################################

my $wf = $node->safe_psql('postgres',
	'SELECT flow_save(' . sql_json(blueprint(name => 'saved', nodes => [ http_node('a', $fake->url('/done')) ])) . ')');
like($wf, qr/^[0-9a-f-]{36}$/, 'A: workflow saved');

# a run of the saved workflow that succeeded (row and log as 0.1.0 wrote them)
my $ok_run = $node->safe_psql('postgres', "SELECT flow_run('$wf', '{\"k\": 1}')");
$node->safe_psql(
	'postgres', qq{
	UPDATE flowdb.runs SET status = 'succeeded', started_at = created_at, finished_at = now(),
		updated_at = now(), next_at = 'infinity',
		state = jsonb_build_object('edges', '[]'::jsonb, 'nodes', jsonb_build_object('a', jsonb_build_object(
			'status', 'succeeded', 'attempt', 1, 'started', extract(epoch FROM now()) * 1000,
			'output', '{"status": 200, "body": {"ok": 1}, "headers": {"content-type": "application/json"}}'::jsonb)))
	WHERE id = '$ok_run';
	INSERT INTO flowdb.workflow_logs (run_id, owner, node_id, status, attempt, input, output,
		started_at, finished_at, duration_ms)
	SELECT id, owner, 'a', 'succeeded', 1, blueprint #> '{nodes,0,params}',
		'{"status": 200, "body": {"ok": 1}, "headers": {"content-type": "application/json"}}', now(), now(), 12.5
	FROM flowdb.runs WHERE id = '$ok_run';
});

# a run that failed
my $fail_run = flow_execute($node,
	blueprint(nodes => [ http_node('a', $fake->url('/fail'), max_attempts => 1) ]), {});
$node->safe_psql(
	'postgres', qq{
	UPDATE flowdb.runs SET status = 'failed', started_at = created_at, finished_at = now(),
		updated_at = now(), next_at = 'infinity', error = 'node a: HTTP 400',
		state = jsonb_build_object('edges', '[]'::jsonb, 'nodes', jsonb_build_object('a', jsonb_build_object(
			'status', 'failed', 'attempt', 1, 'started', extract(epoch FROM now()) * 1000,
			'error', 'HTTP 400')))
	WHERE id = '$fail_run';
	INSERT INTO flowdb.workflow_logs (run_id, owner, node_id, status, attempt, input, output, error,
		started_at, finished_at, duration_ms)
	SELECT id, owner, 'a', 'failed', 1, blueprint #> '{nodes,0,params}',
		'{"status": 400, "body": {"err": "no"}}', 'HTTP 400', now(), now(), 9.5
	FROM flowdb.runs WHERE id = '$fail_run';
});

# a run parked on its wait_event node (state as the 0.1.0 engine parks it)
my $wait_run = flow_execute(
	$node,
	blueprint(
		nodes => [
			{ id => 'w', type => 'wait_event', event => 'upgrade.go', timeout_seconds => 3600 },
			http_node('b', $fake->url('/after'), body => { got => '{{steps.w.output.n}}' })
		],
		edges => [ chain('w', 'b') ]),
	{});
$node->safe_psql(
	'postgres', qq{
	UPDATE flowdb.runs SET status = 'waiting', started_at = created_at, updated_at = now(),
		next_at = now() + interval '1 hour',
		state = jsonb_build_object('edges', '[null]'::jsonb, 'nodes', jsonb_build_object('w', jsonb_build_object(
			'status', 'waiting', 'attempt', 1, 'event', 'upgrade.go',
			'since', extract(epoch FROM now()) * 1000,
			'due', extract(epoch FROM now() + interval '1 hour') * 1000)))
	WHERE id = '$wait_run';
});

# a queued run
my $queued_run = flow_execute($node, blueprint(nodes => [ http_node('q', $fake->url('/queued')) ]), {});

# the other tables
set_credential($node, 'razorpay', 'default', { key_id => 'rzp_test_upgrade', key_secret => 'upgradesecret' });
$node->safe_psql(
	'postgres', qq{
	INSERT INTO flowdb.outbox (run_id, owner, node_id, service, task, method, url, body)
	SELECT id, owner, 'a', 'slack', 'post_message', 'POST', 'https://slack.com/api/chat.postMessage', 'x'
	FROM flowdb.runs WHERE id IN ('$ok_run', '$fail_run');
	INSERT INTO flowdb.webhook_deliveries (provider, delivery_id, event)
	VALUES ('razorpay', 'evt_1', 'payment.captured'), ('slack', 'Ev1', 'message');
	INSERT INTO flowdb.sessions (owner, session_id, intent, awaiting, expires_at)
	VALUES ('postgres', 's1', 'send_invoice', 'amount', now() + interval '1 day');
	INSERT INTO flowdb.messages (owner, contact, direction, body, status, run_id)
	VALUES ('postgres', 'whatsapp:+919876543210', 'in', 'hello', 'received', '$ok_run');
	INSERT INTO flowdb.event_buffer (owner, name, data, expires_at)
	VALUES ('postgres', 'other.event', '{"k": 1}', now() + interval '1 day');
	SELECT flow_set_assistant(2500);
});

# every table of the previous version, with its columns (the update may add
# columns: rows are compared on these)
my %columns = split /[|\n]/, $node->safe_psql(
	'postgres', q{
	SELECT c.relname, string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum)
	FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
	WHERE c.relnamespace = 'flowdb'::regnamespace AND c.relkind IN ('r', 'p')
	GROUP BY c.relname});
ok(scalar(keys %columns) >= 10, 'A: ' . scalar(keys %columns) . " tables in $previous");

# signature_sql: one row per table, "table count md5" of its rows (on the
# previous version's columns)
sub signature_sql
{
	return join(
		"\n",
		map {
			"SELECT '$_ ' || count(*) || ' ' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '-') "
			  . "FROM (SELECT $columns{$_} FROM flowdb.$_) t;"
		} sort keys %columns);
}
my %before = map { (split / /, $_, 2) } split /\n/, $node->safe_psql('postgres', signature_sql());
for my $t (qw(workflows runs workflow_logs credentials outbox webhook_deliveries sessions messages
	event_buffer assistant_settings))
{
	unlike($before{$t} // '0 ', qr/^0 /, "A: flowdb.$t has rows");
}
is((split / /, $before{runs})[0], 4, 'A: four runs');

########################################################################
# The worker of this library with the previous version installed
########################################################################

my $log_start = -s $node->logfile;
$node->append_conf('postgresql.conf', "flowdb.workers = 1\n");
$node->restart;

my $mismatch =
  qr/flowdb worker 0: the flowdb library is version \Q$current\E but database "postgres" has extension flowdb version \Q$previous\E: no runs are processed until they agree/;
my $told = 0;
for (my $i = 0; $i < 600 && !$told; $i++)
{
	$told = slurp_file($node->logfile, $log_start) =~ $mismatch;
	usleep(100_000) unless $told;
}
ok($told, 'worker: the version mismatch is logged');
like(slurp_file($node->logfile, $log_start),
	qr/HINT:\s+Run ALTER EXTENSION flowdb UPDATE; in database "postgres"/,
	'worker: the log says what to run');

# the worker keeps checking (its loop beats every second while it waits):
# after several more checks, still one line and nothing was run
my $since = $node->safe_psql('postgres', 'SELECT clock_timestamp()');
ok( wait_until(
		$node,
		"SELECT bool_or(heartbeat_at > '$since'::timestamptz + interval '3 seconds') FROM flowdb.worker_health()",
		't', 60),
	'worker: still alive and checking 3 s later');
my @told = slurp_file($node->logfile, $log_start) =~ /$mismatch/g;
is(scalar @told, 1, 'worker: the mismatch is logged once');
is($node->safe_psql('postgres', "SELECT status FROM flowdb.runs WHERE id = '$queued_run'"),
	'queued', 'worker: the queued run is not taken before the update');
is(scalar $fake->requests_for('/queued'), 0, 'worker: nothing is sent before the update');

########################################################################
# ALTER EXTENSION flowdb UPDATE
########################################################################

# rows compared inside the updating transaction: the worker cannot see the
# new version (nor run anything) before COMMIT
my $updated = $node->safe_psql('postgres',
	"BEGIN;\nALTER EXTENSION flowdb UPDATE;\n" . signature_sql() . "\nCOMMIT;");
my %after = map { (split / /, $_, 2) } split /\n/, $updated;
is_deeply(\%after, \%before, 'A: every row of every table survives the update');
is($node->safe_psql('postgres', "SELECT extversion FROM pg_extension WHERE extname = 'flowdb'"),
	$current, "A: flowdb $current after ALTER EXTENSION flowdb UPDATE");

# the worker goes on
ok($node->poll_query_until('postgres', "SELECT status FROM flowdb.runs WHERE id = '$queued_run'", 'succeeded'),
	'after the update: the queued run succeeded');
like(slurp_file($node->logfile, $log_start),
	qr/flowdb worker 0: extension flowdb is now version \Q$current\E in database "postgres", as the library: processing runs/,
	'worker: it says it resumes');
is(scalar $fake->requests_for('/queued'), 1, 'after the update: the queued run ran once');

is($node->safe_psql('postgres', "SELECT flow_send_event('upgrade.go', '{\"n\": 7}')"),
	"{$wait_run}", 'after the update: the event resumes the waiting run');
ok($node->poll_query_until('postgres', "SELECT status FROM flowdb.runs WHERE id = '$wait_run'", 'succeeded'),
	'after the update: the waiting run succeeded');
my @sent = $fake->requests_for('/after');
is(scalar @sent, 1, 'after the update: the waiting run sent its request once');
like($sent[0]{body} // '', qr/"got":\s*"?7/, 'after the update: with the event data');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM flowdb.workflow_logs WHERE run_id = '$wait_run' AND node_id = 'b' AND status = 'succeeded'"),
	1, 'after the update: the resumed step is logged');
is(scalar $fake->requests_for('/done'), 0, 'the succeeded run is not run again');
is(scalar $fake->requests_for('/fail'), 0, 'the failed run is not run again');
is($node->safe_psql('postgres', "SELECT status || ' ' || (finished_at IS NOT NULL) FROM flowdb.runs WHERE id = '$fail_run'"),
	'failed true', 'the failed run stays failed');
@told = slurp_file($node->logfile, $log_start) =~ /$mismatch/g;
is(scalar @told, 1, 'worker: no further mismatch warning');

########################################################################
# Schema: updated (A) = fresh install (B)
########################################################################

$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('fresh', "CREATE PUBLICATION supabase_realtime;\nCREATE EXTENSION flowdb;");
is($node->safe_psql('fresh', "SELECT extversion FROM pg_extension WHERE extname = 'flowdb'"),
	$current, "B: fresh flowdb $current");

# schema(DB): the extension's schema as { object => normalised text }
sub schema
{
	my ($db) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'pg_dump', '--schema-only', '--binary-upgrade', '-d', $node->connstr($db) ],
		'>', \$out, '2>', \$err)
	  or die "pg_dump $db failed: $err";
	my (%obj, $key, $in_table, $in_update);
	for my $line (split /\n/, $out)
	{
		if ($line =~ /^-- Name: (.*?); Type: (.*?); Schema: (.*?); Owner: (.*)$/)
		{
			$key = "$2 " . ($3 eq '-' ? '' : "$3.") . $1;
			# a sequence's current value is data, not schema
			if ($2 eq 'SEQUENCE SET')
			{
				undef $key;
				next;
			}
			my $n = 1;
			$n++ while exists $obj{ $n == 1 ? $key : "$key #$n" };
			$key = "$key #$n" if $n > 1;
			$obj{$key} = '';
			next;
		}
		next unless defined $key;    # the preamble: SET commands
		# noise: OIDs, relfilenodes, xids, LSNs kept by binary upgrade
		if ($in_update)
		{
			$in_update = 0 if $line =~ /;\s*$/;
			next;
		}
		if ($line =~ /^UPDATE pg_catalog\./)
		{
			$in_update = $line !~ /;\s*$/;
			next;
		}
		next if $line =~ /^SELECT pg_catalog\.binary_upgrade_set_/;
		next if $line =~ /^-- For binary upgrade/;
		next if $line =~ /^--\s*$/ || $line =~ /^\s*$/ || $line =~ /^\\/;
		next if $line =~ /^-- PostgreSQL database dump complete/;
		# a dropped column is an empty slot: not part of the schema
		next if $line =~ /\.\.\.\.\.\.\.\.pg\.dropped\.\d+\.\.\.\.\.\.\.\./;
		$line =~ s/^SELECT pg_catalog\.binary_upgrade_create_empty_extension\('([^']*)', '([^']*)', (\w+), '([^']*)'.*/-- extension $1 version $4 in schema $2 (relocatable: $3)/;
		$in_table = 1 if $line =~ /^CREATE (UNLOGGED )?TABLE /;
		$in_table = 0 if $line =~ /^\)/;
		$line =~ s/,$// if $in_table;    # a column's comma depends on dropped slots after it
		$obj{$key} .= "$line\n";
	}
	# pg_extension_config_dump registrations (by name: their OIDs differ)
	$obj{'EXTENSION CONFIG pg_extension_config_dump registrations'} = $node->safe_psql(
		$db, q{
		SELECT string_agg(format('%s %L', u.c::regclass, u.cond), E'\n' ORDER BY u.c::regclass::text)
		FROM pg_extension e, unnest(e.extconfig, e.extcondition) AS u(c, cond)
		WHERE e.extname = 'flowdb'}) . "\n";
	return \%obj;
}

# compare(FRESH, UPDATED): the objects that differ, with a readable report
my $diffdir = tempdir(DIR => $PostgreSQL::Test::Utils::tmp_check, CLEANUP => 0);
sub compare
{
	my ($fresh, $updated) = @_;
	my (@missing, @extra, @changed, $report);
	for my $k (sort keys %$fresh)
	{
		if (!exists $updated->{$k})
		{
			push @missing, $k;
			$report .= "\n* MISSING after the update (the fresh install has it): $k\n$fresh->{$k}";
		}
		elsif ($fresh->{$k} ne $updated->{$k})
		{
			push @changed, $k;
			(my $file = $k) =~ s/[^\w.-]+/_/g;
			$file = substr($file, 0, 100);
			open my $f, '>', "$diffdir/$file.fresh" or die $!;
			print $f $fresh->{$k};
			close $f;
			open $f, '>', "$diffdir/$file.updated" or die $!;
			print $f $updated->{$k};
			close $f;
			my $diff = '';
			IPC::Run::run([ 'diff', '-U3', '--label', "fresh install: $k", '--label', "after UPDATE: $k",
				"$diffdir/$file.fresh", "$diffdir/$file.updated" ], '>', \$diff);
			$report .= "\n* DIFFERENT: $k\n$diff";
		}
	}
	for my $k (sort keys %$updated)
	{
		next if exists $fresh->{$k};
		push @extra, $k;
		$report .= "\n* EXTRA after the update (a fresh install does not have it): $k\n$updated->{$k}";
	}
	return ([ sort(@missing, @extra, @changed) ], $report // '');
}

my $fresh_schema = schema('fresh');
my $updated_schema = schema('postgres');
ok(scalar(grep { /^FUNCTION public\.flow_execute\(/ } keys %$fresh_schema) == 1
	  && scalar(grep { /^TABLE flowdb\.runs$/ } keys %$fresh_schema) == 1
	  && scalar(grep { /^ACL / } keys %$fresh_schema) > 10
	  && scalar(grep { /^COMMENT / } keys %$fresh_schema) > 10
	  && scalar(grep { /^PUBLICATION TABLE / } keys %$fresh_schema) >= 4,
	'the schema dump covers functions, tables, grants, comments and publication tables ('
	  . scalar(keys %$fresh_schema) . ' objects)');
my ($differ, $report) = compare($fresh_schema, $updated_schema);
is_deeply($differ, [], "schema after ALTER EXTENSION flowdb UPDATE from $previous = fresh CREATE EXTENSION flowdb")
  or diag "The schema after ALTER EXTENSION flowdb UPDATE ($previous -> $current) is not a fresh install's.\n"
  . "Every change made in sql/flowdb--$current.sql needs its counterpart in sql/flowdb--$previous--$current.sql\n"
  . "(CREATE OR REPLACE FUNCTION: python3 scripts/replace_functions.py NAME prints it; ALTER TABLE ... ADD COLUMN,\n"
  . "new columns last in both scripts; pg_extension_config_dump for new tables).  '-' lines: the fresh install,\n"
  . "'+' lines: after the update.  Files per object in $diffdir.\n$report";

# runs.state compressed with lz4 where the server has it, in both
my $lz4 = $node->safe_psql('postgres',
	"SELECT 'lz4' = ANY (enumvals) FROM pg_settings WHERE name = 'default_toast_compression'") eq 't';
for my $db ('postgres', 'fresh')
{
	is($node->safe_psql($db,
			"SELECT attcompression FROM pg_attribute WHERE attrelid = 'flowdb.runs'::regclass AND attname = 'state'"),
		$lz4 ? 'l' : '', "$db: runs.state is compressed with " . ($lz4 ? 'lz4' : 'the default'));
}
ok($updated_schema->{'TABLE flowdb.runs'} =~ /SET COMPRESSION lz4/ || !$lz4,
	'the schema dump shows the column compression (so the comparison covers it)');

# the comparison can fail: four changes to the fresh database, each reported
$node->safe_psql(
	'fresh', q{
	COMMENT ON FUNCTION public.flow_stats() IS 'changed';
	ALTER TABLE flowdb.runs ALTER COLUMN crashes SET DEFAULT 1;
	GRANT EXECUTE ON FUNCTION flowdb.prune(interval) TO authenticated;
	UPDATE pg_catalog.pg_extension
	SET extconfig = extconfig[1:cardinality(extconfig) - 1],
		extcondition = extcondition[1:cardinality(extcondition) - 1]
	WHERE extname = 'flowdb';
});
($differ, $report) = compare(schema('fresh'), $updated_schema);
is_deeply(
	$differ,
	[
		'ACL flowdb.FUNCTION prune(older_than interval)',
		'COMMENT public.FUNCTION flow_stats()',
		'EXTENSION CONFIG pg_extension_config_dump registrations',
		'TABLE flowdb.runs'
	],
	'the comparison reports a changed comment, default, grant and config registration')
  or diag $report;
like($report, qr/^[-+].*crashes integer DEFAULT 1 NOT NULL/m, 'the report shows the changed line');

$node->stop;
done_testing();
