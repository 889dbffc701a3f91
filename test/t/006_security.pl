# 006_security.pl: the worker's outbound limits, row level security and
# logical decoding of the step log.
#
#   - flowdb.allow_private_hosts = off: requests to loopback fail at once
#     (one attempt, nothing reaches the server), also through a hostname;
#   - a response larger than flowdb.max_response_bytes fails the step;
#   - redirects: a chain within flowdb.max_redirects is followed, a loop
#     beyond it fails;
#   - RLS: with SET ROLE authenticated + request.jwt.claims, user-b sees
#     none of user-a's runs, logs or workflows and flow_status / flow_cancel
#     / flow_retry / flow_run on them raise P0002;
#   - a plain login role that plants a pg_temp.jsonb domain before calling
#     flow_set_credential does not become superuser (issue 8 section 3);
#   - a test_decoding slot sees the INSERTs into flowdb.workflow_logs
#     (what Supabase Realtime needs).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;    # FlowdbTest.pm (PROVE_FLAGS does not reach prove)
use FlowdbTest;
use FlowdbTools qw(workers_reloaded);

my $true = JSON::PP::true;

my $node = new_node('security');
my $fake = start_fake({
	'/private' => [ { body => { reached => $true } } ],
	'/big'     => [ { body_bytes => 10000 } ],
	'/fits'    => [ { body_bytes => 1000 } ],
	'/hop1'    => [ { status => 302, headers => { Location => '/hop2' } } ],
	'/hop2'    => [ { status => 301, headers => { Location => '/hop3' } } ],
	'/hop3'    => [ { status => 307, headers => { Location => '/final' } } ],
	'/final'   => [ { body => { arrived => $true } } ],
	'/loop'    => [ { status => 302, headers => { Location => '/loop' } } ],
	'/rls'     => [ { body => { ok => $true } } ],
	'/decode'  => [ { body => { ok => $true } } ],
});

# set(NAME => VALUE, ...): ALTER SYSTEM + reload, and wait until the worker
# re-read its configuration
sub set_system
{
	my (%s) = @_;
	for my $k (sort keys %s)
	{
		my $sql = defined $s{$k}
		  ? "ALTER SYSTEM SET $k = '$s{$k}'"
		  : "ALTER SYSTEM RESET $k";
		$node->safe_psql('postgres', $sql);
	}
	$node->safe_psql('postgres', 'SELECT pg_reload_conf()');
	# a new session sees the set value, or (RESET) no longer the one from
	# postgresql.auto.conf
	my @want = map {
		defined $s{$_}
		  ? "(SELECT setting FROM pg_settings WHERE name = '$_') = '$s{$_}'"
		  : "(SELECT coalesce(sourcefile, '') NOT LIKE '%postgresql.auto.conf' FROM pg_settings WHERE name = '$_')"
	} sort keys %s;
	$node->poll_query_until('postgres', 'SELECT ' . join(' AND ', @want))
	  or die 'settings not reloaded: ' . join(', ', sort keys %s);
	workers_reloaded($node) or die 'the worker did not re-read its configuration';
	return;
}

sub one_step
{
	my ($url, %o) = @_;
	return blueprint(nodes => [ http_node('x', $url, method => 'GET', %o) ]);
}

########################################################################
# private addresses
########################################################################

set_system('flowdb.allow_private_hosts' => 'off');
is($node->safe_psql('postgres', 'SHOW flowdb.allow_private_hosts'), 'off',
	'allow_private_hosts is off');

my $rp = flow_execute($node, one_step($fake->url('/private'), max_attempts => 3, backoff_ms => 10));
is(wait_run($node, $rp, 30), 'failed', '127.0.0.1: run failed');
my @lp = run_logs($node, $rp);
is(scalar @lp, 1, '127.0.0.1: one attempt only (not retried)');
is($lp[0]{status}, 'failed', '127.0.0.1: the attempt failed');
like($lp[0]{error} // '', qr/private address/, '127.0.0.1: error mentions the private address');

my $rh = flow_execute($node,
	one_step('http://localhost:' . $fake->port . '/private', max_attempts => 3, backoff_ms => 10));
is(wait_run($node, $rh, 30), 'failed', 'localhost: run failed');
my @lh = run_logs($node, $rh);
is(scalar @lh, 1, 'localhost: one attempt only');
like($lh[0]{error} // '', qr/private address/, 'localhost: refused on the resolved address');
is(scalar $fake->requests_for('/private'), 0, 'the server never saw a request');

set_system('flowdb.allow_private_hosts' => 'on');
my $ro = flow_execute($node, one_step($fake->url('/private')));
is(wait_run($node, $ro, 30), 'succeeded', 'allowed again after allow_private_hosts = on');

########################################################################
# response size limit
########################################################################

set_system('flowdb.max_response_bytes' => '2048');
my $rb = flow_execute($node, one_step($fake->url('/big'), max_attempts => 2, backoff_ms => 10));
is(wait_run($node, $rb, 30), 'failed', '10000-byte response over a 2048-byte limit: run failed');
my @lb = run_logs($node, $rb);
is($lb[-1]{status}, 'failed', 'the step failed');
like($lb[-1]{error} // '', qr/larger than 2048 bytes/, 'error names the limit');
ok(!defined $lb[-1]{output}, 'no output kept');

my $rf = flow_execute($node, one_step($fake->url('/fits')));
is(wait_run($node, $rf, 30), 'succeeded', '1000-byte response under the limit: succeeded');
is(length(flow_status_of($node, $rf)->{nodes}{x}{output}{body} // ''), 1000,
	'the whole body is kept');
set_system('flowdb.max_response_bytes' => undef);

########################################################################
# redirects (flowdb.max_redirects = 3, the default)
########################################################################

is($node->safe_psql('postgres', 'SHOW flowdb.max_redirects'), '3', 'max_redirects is 3');
my $rr = flow_execute($node, one_step($fake->url('/hop1')));
is(wait_run($node, $rr, 30), 'succeeded', 'three redirects are followed');
my $out = flow_status_of($node, $rr)->{nodes}{x}{output};
is($out->{status}, 200, 'output is the final response');
is($out->{body}{arrived}, $true, 'output body from the final location');
is(scalar $fake->requests_for('/final'), 1, 'final location reached once');

my $rl = flow_execute($node, one_step($fake->url('/loop'), max_attempts => 1));
is(wait_run($node, $rl, 30), 'failed', 'redirect loop: run failed');
my @ll = run_logs($node, $rl);
like($ll[-1]{error} // '', qr/redirect/i, 'error mentions redirects');
is(scalar $fake->requests_for('/loop'), 4,
	'the loop was followed max_redirects (3) times, then given up');

########################################################################
# row level security
########################################################################

# created after the extension: grant it the client functions as an
# administrator would (flowdb.grant_api_roles re-applies the model)
$node->safe_psql('postgres', 'CREATE ROLE authenticated NOLOGIN');
is($node->safe_psql('postgres', 'SELECT flowdb.grant_api_roles()'), '{authenticated}',
	'the client functions are granted to authenticated');

sub as_user
{
	my ($user, $sql) = @_;
	return "SET ROLE authenticated;\n"
	  . "SET request.jwt.claims = '{\"sub\": \"$user\"}';\n$sql";
}

my $bp_rls = blueprint(name => 'rls-a', nodes => [ http_node('x', $fake->url('/rls'), body => {}) ]);
my $ra = $node->safe_psql('postgres',
	as_user('user-a', 'SELECT flow_execute(' . sql_json($bp_rls) . ')'));
like($ra, qr/^[0-9a-f-]{36}$/, 'user-a queued a run');
is(wait_run($node, $ra, 30), 'succeeded', "user-a's run succeeded");
my $wa = $node->safe_psql('postgres',
	as_user('user-a', 'SELECT flow_save(' . sql_json($bp_rls) . ')'));
is($node->safe_psql('postgres', "SELECT owner FROM flowdb.runs WHERE id = '$ra'"),
	'user-a', 'the run belongs to the JWT subject');
is($node->safe_psql('postgres', "SELECT count(DISTINCT owner) || ' ' || min(owner) FROM flowdb.workflow_logs WHERE run_id = '$ra'"),
	'1 user-a', 'its log rows too');

is($node->safe_psql('postgres', as_user('user-a',
	"SELECT count(*) FROM flowdb.runs WHERE id = '$ra'")), '1', 'user-a sees the run');
is($node->safe_psql('postgres', as_user('user-a',
	"SELECT count(*) > 0 FROM flowdb.workflow_logs WHERE run_id = '$ra'")), 't',
	'user-a sees its log rows');
is($node->safe_psql('postgres', as_user('user-a',
	"SELECT flow_status('$ra')->>'status'")), 'succeeded', 'user-a can read flow_status');

is($node->safe_psql('postgres', as_user('user-b', 'SELECT count(*) FROM flowdb.runs')),
	'0', 'user-b sees no runs');
is($node->safe_psql('postgres', as_user('user-b', 'SELECT count(*) FROM flowdb.workflow_logs')),
	'0', 'user-b sees no log rows');
is($node->safe_psql('postgres', as_user('user-b', 'SELECT count(*) FROM flowdb.workflows')),
	'0', 'user-b sees no workflows');
for my $call ("flow_status('$ra')", "flow_cancel('$ra')", "flow_retry('$ra')", "flow_run('$wa')")
{
	my ($state, $err) = sql_error($node, as_user('user-b', "SELECT $call"));
	is($state, 'P0002', "user-b: $call raises P0002");
	unlike($err, qr/rls-a/, "user-b: $call reveals nothing of the run");
}
is($node->safe_psql('postgres', 'SELECT status FROM flowdb.runs WHERE id = ' . "'$ra'"),
	'succeeded', "user-a's run is untouched");
# without claims the role name is the owner
is($node->safe_psql('postgres',
	"SET ROLE authenticated; SELECT count(*) FROM flowdb.runs"), '0',
	'the bare role (no JWT subject) sees none of them either');

########################################################################
# a login role cannot run code as the definer through pg_temp
########################################################################

$node->safe_psql('postgres',
	"CREATE ROLE mallory LOGIN; SELECT flowdb.grant_api_roles('mallory')");
my ($rc, $mout, $err) = $node->psql('postgres', q{
CREATE FUNCTION pg_temp.p(jsonb) RETURNS bool LANGUAGE sql AS 'ALTER ROLE mallory SUPERUSER; SELECT true';
CREATE DOMAIN pg_temp.jsonb AS pg_catalog.jsonb CHECK (pg_temp.p(VALUE));
SELECT flow_set_credential('slack', 'x', '{"bot_token": "xoxb-1"}');
SELECT session_user || ' ' || count(*) FROM flow_list_credentials();
}, extra_params => [ '-U', 'mallory', '-v', 'ON_ERROR_STOP=1' ]);
is($rc, 0, 'mallory logged in and called flow_set_credential') or diag($err);
like($mout, qr/^mallory 1$/m, 'the credential was stored for mallory');
is($node->safe_psql('postgres', "SELECT rolsuper FROM pg_roles WHERE rolname = 'mallory'"),
	'f', 'mallory is still not a superuser');
$node->safe_psql('postgres',
	"DELETE FROM flowdb.credentials WHERE owner = 'mallory'; DROP OWNED BY mallory; DROP ROLE mallory");

########################################################################
# logical decoding sees the step log (Realtime readiness)
########################################################################

$node->safe_psql('postgres',
	"SELECT pg_create_logical_replication_slot('flowdb_test', 'test_decoding')");
my $rd = flow_execute($node,
	blueprint(nodes => [ http_node('x', $fake->url('/decode'), body => {}) ]));
is(wait_run($node, $rd, 30), 'succeeded', 'run for decoding succeeded');
my $changes = $node->safe_psql('postgres',
	"SELECT string_agg(data, E'\\n') FROM pg_logical_slot_get_changes('flowdb_test', NULL, NULL)");
like($changes,
	qr/table flowdb\.workflow_logs: INSERT: .*run_id\[uuid\]:'\Q$rd\E'.*node_id\[text\]:'x'.*status\[text\]:'succeeded'/,
	'the succeeded log row is decoded as an INSERT into flowdb.workflow_logs');
like($changes, qr/table flowdb\.runs: INSERT: id\[uuid\]:'\Q$rd\E'/, 'the queued run is decoded');
like($changes, qr/table flowdb\.runs: UPDATE: id\[uuid\]:'\Q$rd\E'.*status\[text\]:'succeeded'/,
	'the run reaching succeeded is decoded');
$node->safe_psql('postgres', "SELECT pg_drop_replication_slot('flowdb_test')");

$fake->stop;
$node->stop;
done_testing();
