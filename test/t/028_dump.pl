# 028_dump.pl: pg_dump keeps flowdb's data, and a restored database goes on.
#
# - every table and sequence of schema flowdb is registered with
#   pg_extension_config_dump (a table added later without it fails here);
# - the source database holds a saved workflow, runs in every state
#   (succeeded, failed, waiting for an event, queued), their logs, a
#   credential, outbox rows, webhook deliveries, a session, a message and
#   a buffered event; the queued run is queued while no worker runs;
# - pg_dump -Fc, then pg_restore into a database of a new cluster: both exit
#   0, pg_restore prints no error, and every table has the same rows
#   (count and checksum) as the source;
# - with a worker on the restored database: the queued run runs once, the
#   waiting run resumes on its event (a new log row: the identity sequence
#   came back too), the finished runs are not run again (the fake server
#   counts every request).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;    # FlowdbTest.pm, FlowdbTools.pm (PROVE_FLAGS does not reach prove)
use FlowdbTest;
use FlowdbTools;

my @tables = qw(workflows runs workflow_logs credentials outbox
  webhook_deliveries sessions messages event_buffer workflow_versions map_parts);

my $fake = start_fake({
	'/done'  => [ { status => 200, body => { ok  => 1 } } ],
	'/fail'  => [ { status => 400, body => { err => 'no' } } ],
	'/after' => [ { status => 200, body => { ok  => 2 } } ],
	'/queued' => [ { status => 200, body => { ok => 3 } } ],
	'/each/*' => [ { delay_ms => 400, echo => 1 } ] });

my $src = new_node('dump_src');

# every relation of schema flowdb that holds rows is registered
is( $src->safe_psql(
		'postgres', q{
	SELECT coalesce(string_agg(c.relname, ',' ORDER BY c.relname), '')
	FROM pg_catalog.pg_class c
	WHERE c.relnamespace = 'flowdb'::regnamespace AND c.relkind IN ('r', 'p', 'S')
	  AND c.oid <> ALL (SELECT unnest(e.extconfig) FROM pg_catalog.pg_extension e
						WHERE e.extname = 'flowdb')}),
	'',
	'every table and sequence of schema flowdb is in the dump');

# a saved workflow and finished runs
my $wf = $src->safe_psql('postgres',
	'SELECT flow_save(' . sql_json(blueprint(name => 'saved', nodes => [ http_node('a', $fake->url('/done')) ])) . ')');
like($wf, qr/^[0-9a-f-]{36}$/, 'workflow saved');
my $ok_run = $src->safe_psql('postgres', "SELECT flow_run('$wf')");
is(wait_run($src, $ok_run, 60), 'succeeded', 'source: run succeeded');
my $fail_run = flow_execute($src,
	blueprint(nodes => [ http_node('a', $fake->url('/fail'), max_attempts => 1) ]), {});
is(wait_run($src, $fail_run, 60), 'failed', 'source: run failed');

# a run waiting for an event
my $wait_run = flow_execute(
	$src,
	blueprint(
		nodes => [
			{ id => 'w', type => 'wait_event', event => 'dump.go', timeout_seconds => 3600 },
			http_node('b', $fake->url('/after'), body => { got => '{{steps.w.output.n}}' })
		],
		edges => [ chain('w', 'b') ]),
	{});
ok(wait_status($src, $wait_run, 'waiting', 60, 'r.lease_owner IS NULL'), 'source: run waiting for its event');

# a map in the middle of its items (they are in flowdb.map_parts)
my $map_run = flow_execute(
	$src,
	blueprint(nodes => [ {
		id => 'm', type => 'map', items => '{{trigger_data.items}}', concurrency => 1,
		do => { service => 'http', task => 'request',
			params => { method => 'POST', url => $fake->url('/each/') . '{{index}}', body => { i => '{{item}}' } } } } ]),
	{ items => [ 0 .. 5 ] });
ok(wait_until($src, qq{SELECT count(*) >= 2 FROM flowdb.map_parts WHERE run_id = '$map_run' AND item >= 0},
		't', 60), 'source: a map with two of its six items done');

# the other tables
set_credential($src, 'razorpay', 'default', { key_id => 'rzp_test_dump', key_secret => 'dumpsecret' });
$src->safe_psql(
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
});

# a queued run: no worker may take it before the dump
$src->append_conf('postgresql.conf', "flowdb.workers = 0\n");
$src->restart;
my $queued_run = flow_execute($src, blueprint(nodes => [ http_node('q', $fake->url('/queued')) ]), {});
is(run_row($src, $queued_run)->{status}, 'queued', 'source: run queued');

# row count and checksum of every table
sub signature
{
	my ($node, $db) = @_;
	my %sig;
	for my $t (@tables)
	{
		$sig{$t} = $node->safe_psql($db,
			"SELECT count(*) || ' ' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '-') FROM flowdb.$t t");
	}
	return \%sig;
}
my $before = signature($src, 'postgres');
for my $t (@tables)
{
	unlike($before->{$t}, qr/^0 /, "source: flowdb.$t has rows");
}
is((split ' ', $before->{runs})[0], 5, 'source: five runs');

# dump and restore into a new cluster
my $dump = $PostgreSQL::Test::Utils::tmp_check . '/flowdb.dump';
my ($out, $err);
my $rc = IPC::Run::run([ 'pg_dump', '-Fc', '-f', $dump, '-d', $src->connstr('postgres') ], '>', \$out, '2>', \$err);
ok($rc, 'pg_dump exits 0');
is($err, '', 'pg_dump prints nothing on stderr');

my $dst = new_node('dump_dst', 'flowdb.workers' => '0');
$dst->safe_psql('postgres', 'CREATE DATABASE restored');
$rc = IPC::Run::run([ 'pg_restore', '--exit-on-error', '-d', $dst->connstr('restored'), $dump ],
	'>', \$out, '2>', \$err);
ok($rc, 'pg_restore exits 0');
is($err, '', 'pg_restore prints no error');
is_deeply(signature($dst, 'restored'), $before, 'restored: every table has the same rows');
is($dst->safe_psql('restored', "SELECT count(*) FROM flowdb.credentials WHERE service = 'razorpay'"),
	1, 'restored: the credential is there');

# a worker on the restored database
is(scalar $fake->requests_for('/queued'), 0, 'the queued run was not sent before the restore');
$dst->append_conf('postgresql.conf', "flowdb.workers = 1\nflowdb.database_name = 'restored'\n");
$dst->restart;
ok($dst->poll_query_until('restored', "SELECT status FROM flowdb.runs WHERE id = '$queued_run'", 'succeeded'),
	'restored: the queued run succeeded');
is(scalar $fake->requests_for('/queued'), 1, 'restored: the queued run ran once');

is($dst->safe_psql('restored', "SELECT flow_send_event('dump.go', '{\"n\": 7}')"),
	"{$wait_run}", 'restored: the event resumes the waiting run');
ok($dst->poll_query_until('restored', "SELECT status FROM flowdb.runs WHERE id = '$wait_run'", 'succeeded'),
	'restored: the waiting run succeeded');
my @after = $fake->requests_for('/after');
is(scalar @after, 1, 'restored: the waiting run sent its request once');
like($after[0]{body} // '', qr/"got":\s*"?7/, 'restored: with the event data');
is($dst->safe_psql('restored',
		"SELECT count(*) FROM flowdb.workflow_logs WHERE run_id = '$wait_run' AND node_id = 'b' AND status = 'succeeded'"),
	1, 'restored: a new log row (the identity sequence was restored)');

ok($dst->poll_query_until('restored', "SELECT status FROM flowdb.runs WHERE id = '$map_run'", 'succeeded'),
	'restored: the map went on from its rows and succeeded');
is($dst->safe_psql('restored', qq{
	SELECT string_agg(r #>> '{body,json,i}', ',' ORDER BY n)
	FROM flowdb.runs, jsonb_array_elements(state #> '{nodes,m,output,results}') WITH ORDINALITY AS x(r, n)
	WHERE id = '$map_run'}), '0,1,2,3,4,5', 'restored: the map has all six results, in order');
my $by_key = $fake->count_by_key;
is(scalar(grep { ($by_key->{"flowdb-$map_run-m.$_"} // 0) == 1 } 0, 1), 2,
	'restored: the items done before the dump were not sent again');

is(scalar $fake->requests_for('/done'), 1, 'the succeeded run was not run again');
is(scalar $fake->requests_for('/fail'), 1, 'the failed run was not run again');
is($dst->safe_psql('restored', "SELECT status FROM flowdb.runs WHERE id = '$fail_run'"),
	'failed', 'restored: the failed run stays failed');

$dst->stop;
$src->stop;
done_testing();
