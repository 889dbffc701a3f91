# FlowdbTools.pm: helpers for the integration and trigger TAP tests
# (test/t/01*.pl), on top of FlowdbTest.pm.
#
#   my $node  = new_node('providers');
#   my $fakes = start_providers();                  # one fake server per provider
#   point_providers($node, $fakes, 'flowdb.sandbox' => 'auto');
#   set_credential($node, 'slack', 'default', { bot_token => 'xoxb-...' });
#   my $bp = action_bp('slack-test',
#       action_node('post', 'slack', 'post_message', { channel => '#x', text => 'hi' }));
#   my $run = flow_execute($node, $bp, {});
#   is(wait_run($node, $run, 60), 'succeeded');
#   is_deeply([ leaks($node, 'xoxb-...') ], [], 'secret stored nowhere');
#
# Base URLs of the provider fakes (what the tools append their paths to):
#   whatsapp  http://127.0.0.1:P           -> /2010-04-01/Accounts/{sid}/Messages.json
#   razorpay  http://127.0.0.1:P           -> /v1/payment_links, /v1/invoices, /v1/payments/{id}
#   instagram http://127.0.0.1:P/graph     -> /graph/{ig_user_id}/media[_publish]
#   slack     http://127.0.0.1:P/slack     -> /slack/chat.postMessage
#   llm       http://127.0.0.1:P/llm/v1    -> /llm/v1/chat/completions

package FlowdbTools;

use strict;
use warnings;

use Carp;
use Exporter 'import';
use MIME::Base64 qw(encode_base64);
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);
use FlowdbTest;

our @EXPORT = qw(
  PROVIDERS provider_base start_providers point_providers reload_settings
  set_credential action_node action_bp wait_until wait_status run_status
  table_text leaks basic_auth form_decode idem_key
  kill_worker wait_worker runs_of_workflow save_workflow sql_quote
  requests_where crash_lines workers_reloaded workers_scanned
);

use constant PROVIDERS => qw(whatsapp razorpay instagram slack llm);

my %BASE_PATH = (
	whatsapp  => '',
	razorpay  => '',
	instagram => '/graph',
	slack     => '/slack',
	llm       => '/llm/v1',
);

# sql_quote(TEXT): a SQL string literal
sub sql_quote
{
	my ($s) = @_;
	return 'NULL' unless defined $s;
	$s =~ s/'/''/g;
	return "'$s'";
}

# provider_base(FAKE, SERVICE): the base URL flowdb.<service>_base_url gets
sub provider_base
{
	my ($fake, $svc) = @_;
	croak "unknown provider $svc" unless exists $BASE_PATH{$svc};
	return $fake->url($BASE_PATH{$svc});
}

# start_providers(%SCRIPTS): {service => FlowdbTest::Fake}, one fake server
# per provider; SCRIPTS optionally gives each its initial script.
sub start_providers
{
	my (%scripts) = @_;
	my %f;
	$f{$_} = start_fake($scripts{$_} // {}) for PROVIDERS;
	return \%f;
}

# reload_settings(NODE, NAME => VALUE, ...): ALTER SYSTEM SET each (RESET
# when VALUE is undef), reload, wait until a new session sees the values,
# then until the workers (signalled by the postmaster during the reload)
# processed their SIGHUP (workers_reloaded).
sub reload_settings
{
	my ($node, %set) = @_;
	my $sql = '';
	for my $k (sort keys %set)
	{
		$sql .= defined $set{$k}
		  ? "ALTER SYSTEM SET $k = " . sql_quote($set{$k}) . ";\n"
		  : "ALTER SYSTEM RESET $k;\n";
	}
	$node->safe_psql('postgres', $sql);
	$node->safe_psql('postgres', 'SELECT pg_reload_conf()');
	my @checks;
	for my $k (sort keys %set)
	{
		next unless defined $set{$k};
		push @checks,
		  "current_setting('$k', true) IS NOT DISTINCT FROM " . sql_quote($set{$k});
	}
	if (@checks)
	{
		local $PostgreSQL::Test::Utils::timeout_default = 30;
		$node->poll_query_until('postgres', 'SELECT ' . join(' AND ', @checks))
		  or die "settings not reloaded: " . join(', ', sort keys %set);
	}
	workers_reloaded($node);
	return;
}

# workers_reloaded(NODE, TIMEOUT_S): call once new sessions see reloaded
# settings (the postmaster signalled the workers before it forked them).
# Each turn of a worker's loop records its heartbeat, then handles a
# pending SIGHUP: wait until every worker began a turn after now, then
# until each began another one (so the first, with the reload, is over).
# True when that happened in time; no workers: true at once.
sub workers_reloaded
{
	my ($node, $timeout) = @_;
	for (1 .. 2)
	{
		my $t = $node->safe_psql('postgres', 'SELECT clock_timestamp()');
		wait_until($node,
			"SELECT bool_and(heartbeat_at > '$t') IS NOT FALSE FROM flowdb.worker_info() WHERE pid <> 0",
			't', $timeout // 60)
		  or return 0;
	}
	return 1;
}

# workers_scanned(NODE, SECONDS, TIMEOUT_S): wait until every running
# worker began a loop turn SECONDS after now.  An idle worker turns at
# least every flowdb.scan_interval_ms, scanning, so this proves the workers
# went on (scanned, claimed what was due) for that long, where a fixed
# sleep would pass with a stuck or dead worker too.  True when it happened
# in time.
sub workers_scanned
{
	my ($node, $secs, $timeout) = @_;
	my $t = $node->safe_psql('postgres', 'SELECT clock_timestamp()');
	return wait_until($node,
		"SELECT count(*) > 0 AND bool_and(heartbeat_at > '$t'::timestamptz + interval '$secs seconds') "
		  . 'FROM flowdb.worker_info() WHERE pid <> 0',
		't', $timeout // 60);
}

# point_providers(NODE, FAKES, EXTRA_SETTINGS...): aim every provider's
# base URL at its fake server (plus any extra settings), and reload.
sub point_providers
{
	my ($node, $fakes, %extra) = @_;
	my %set = %extra;
	for my $svc (keys %$fakes)
	{
		$set{"flowdb.${svc}_base_url"} = provider_base($fakes->{$svc}, $svc);
	}
	reload_settings($node, %set);
	return;
}

# set_credential(NODE, SERVICE, NAME, SECRET_HASH)
sub set_credential
{
	my ($node, $svc, $name, $secret) = @_;
	$node->safe_psql('postgres',
		    'SELECT flow_set_credential('
		  . sql_quote($svc) . ', '
		  . sql_quote($name) . ', '
		  . sql_json($secret) . ')');
	return;
}

# action_node(ID, SERVICE, TASK, PARAMS, %OPT): OPT credential, retry
# ({max_attempts, backoff_ms}), timeout_ms
sub action_node
{
	my ($id, $svc, $task, $params, %o) = @_;
	my %n = (
		id      => $id,
		type    => 'action',
		service => $svc,
		task    => $task,
		params  => $params // {});
	$n{credential} = $o{credential} if defined $o{credential};
	$n{retry}      = $o{retry}      if defined $o{retry};
	$n{timeout_ms} = $o{timeout_ms} if defined $o{timeout_ms};
	return \%n;
}

# action_bp(NAME, NODES...): a manual blueprint running NODES in a chain
sub action_bp
{
	my ($name, @nodes) = @_;
	return blueprint(
		name  => $name,
		nodes => \@nodes,
		edges => [ chain(map { $_->{id} } @nodes) ]);
}

# save_workflow(NODE, BLUEPRINT, ACTIVE): flow_save; returns the workflow id
sub save_workflow
{
	my ($node, $bp, $active) = @_;
	$active //= 1;
	return $node->safe_psql('postgres',
		'SELECT flow_save(' . sql_json($bp) . ', ' . ($active ? 'true' : 'false') . ')');
}

# wait_until(NODE, SQL, EXPECTED, TIMEOUT_S): poll until the query prints
# EXPECTED ('t' by default); true when it did in time
sub wait_until
{
	my ($node, $sql, $expected, $timeout) = @_;
	$expected //= 't';
	# a wall-clock deadline (poll_query_until counts attempts, which take
	# much longer than 0.1 s each while the server restarts again and again)
	my $deadline = time + ($timeout // 60);
	my ($out, $err) = ('', '');
	while (1)
	{
		my ($rc, $o, $e) = $node->psql('postgres', $sql);
		($out, $err) = ($o // '', $e // '');
		return 1 if $rc == 0 && $out eq $expected;
		last if time > $deadline;
		usleep(100_000);
	}
	diag "wait_until timed out: $sql\nexpected: $expected\nlast output: $out\nstderr: $err";
	return 0;
}

# run_status(NODE, RUN): the run's status now
sub run_status
{
	my ($node, $run) = @_;
	return $node->safe_psql('postgres',
		"SELECT status FROM flowdb.runs WHERE id = '$run'");
}

# wait_status(NODE, RUN, STATUS, TIMEOUT_S, EXTRA_SQL): wait until the run
# has STATUS (and EXTRA_SQL, a condition on the runs row r, holds)
sub wait_status
{
	my ($node, $run, $status, $timeout, $extra) = @_;
	my $cond = "r.status = '$status'";
	$cond .= " AND ($extra)" if defined $extra;
	return wait_until($node,
		"SELECT count(*) = 1 FROM flowdb.runs r WHERE r.id = '$run' AND $cond",
		't', $timeout);
}

# table_text(NODE, TABLE): every row of TABLE as text, one per line
sub table_text
{
	my ($node, $table) = @_;
	return $node->safe_psql('postgres',
		"SELECT coalesce(string_agg(t::text, E'\\n'), '') FROM $table t");
}

# leaks(NODE, SECRETS...): "table: secret" for every secret string found in
# the text of workflow_logs, outbox or runs (none = no leak)
sub leaks
{
	my ($node, @secrets) = @_;
	my @found;
	for my $t (qw(flowdb.workflow_logs flowdb.outbox flowdb.runs))
	{
		my $text = table_text($node, $t);
		for my $s (@secrets)
		{
			push @found, "$t: $s" if index($text, $s) >= 0;
		}
	}
	return @found;
}

# basic_auth(USER, PASSWORD): "Basic base64(user:password)"
sub basic_auth
{
	my ($u, $p) = @_;
	return 'Basic ' . encode_base64("$u:$p", '');
}

# form_decode(BODY): application/x-www-form-urlencoded fields as a hash
# (a repeated name keeps the last value)
sub form_decode
{
	my ($body) = @_;
	my %f;
	for my $pair (split /&/, $body // '')
	{
		my ($k, $v) = split /=/, $pair, 2;
		for ($k, $v)
		{
			next unless defined;
			tr/+/ /;
			s/%([0-9A-Fa-f]{2})/chr(hex($1))/ge;
		}
		$f{$k} = $v;
	}
	return \%f;
}

# idem_key(RUN, NODE_ID, PHASE): the Idempotency-Key flowdb sends
sub idem_key
{
	my ($run, $id, $phase) = @_;
	return "flowdb-$run-$id" . ($phase ? "-p$phase" : '');
}

# requests_where(FAKE, METHOD, PATH_REGEX): captured requests matching
sub requests_where
{
	my ($fake, $method, $re) = @_;
	return grep { (!defined $method || $_->{method} eq $method) && $_->{path} =~ $re }
	  $fake->requests;
}

# kill_worker(NODE): SIGKILL the flowdb worker (pid from
# flowdb.worker_info()); returns the pid killed
sub kill_worker
{
	my ($node) = @_;
	my $pid = $node->safe_psql('postgres',
		'SELECT pid FROM flowdb.worker_info() WHERE pid <> 0 ORDER BY slot LIMIT 1');
	croak "no flowdb worker running" unless $pid =~ /^\d+$/;
	kill 'KILL', $pid or croak "kill -9 $pid failed: $!";
	note "killed flowdb worker $pid";
	return $pid;
}

# wait_worker(NODE, OLD_PID, TIMEOUT_S): wait until the cluster accepts
# connections again and a flowdb worker other than OLD_PID runs
sub wait_worker
{
	my ($node, $old, $timeout) = @_;
	$old //= 0;
	return wait_until($node,
		"SELECT count(*) > 0 FROM flowdb.worker_info() WHERE pid <> 0 AND pid <> $old",
		't', $timeout // 60);
}

# crash_lines(NODE): server log lines of processes that died by a signal
# other than the SIGKILL a test sends itself (segfaults, aborts)
sub crash_lines
{
	my ($node) = @_;
	my $log = -f $node->logfile ? slurp_file($node->logfile) : '';
	return grep { /terminated by signal (?!9:)/ } split /\n/, $log;
}

# runs_of_workflow(NODE, WORKFLOW_ID): run ids of a saved workflow, oldest first
sub runs_of_workflow
{
	my ($node, $wid) = @_;
	my $out = $node->safe_psql('postgres',
		"SELECT id FROM flowdb.runs WHERE workflow_id = '$wid' ORDER BY created_at, id");
	return grep { length } split /\n/, $out;
}

1;
