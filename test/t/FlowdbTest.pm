# FlowdbTest.pm: helpers shared by flowdb's TAP tests (test/t/*.pl).
#
#   my $node = new_node('main', 'flowdb.max_inflight' => 8);
#   my $fake = start_fake({ '/a' => [ { status => 200, body => { n => 1 } } ] });
#   my $bp   = blueprint(nodes => [ http_node('a', $fake->url('/a')) ]);
#   my $run  = flow_execute($node, $bp, { x => 1 });
#   is(wait_run($node, $run, 30), 'succeeded');
#   is(scalar $fake->requests_for('/a'), 1);
#
# Clusters come from PostgreSQL::Test::Cluster; fake HTTP servers are
# test/fake/fakeserver.py processes that record every request in a capture
# file and stop by themselves (when the test process exits at the latest).

package FlowdbTest;

use strict;
use warnings;

use Carp;
use Cwd qw(abs_path);
use Exporter 'import';
use File::Basename qw(dirname);
use HTTP::Tiny;
use JSON::PP;
use POSIX qw(WNOHANG);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);

our @EXPORT = qw(
  new_node start_fake spawn_server wait_run wait_runs poll
  blueprint http_node chain
  flow_execute flow_execute_many sql_json json_enc json_dec
  run_row run_logs started_logs flow_status_of log_counts worker_pid restart_worker
  query_json sql_error
);

my $JSON = JSON::PP->new->canonical(1)->allow_nonref(1);

sub json_enc { return $JSON->encode($_[0]); }
sub json_dec { return $JSON->decode($_[0]); }

# sql_json(VALUE): a SQL literal of VALUE as jsonb
sub sql_json
{
	my ($v) = @_;
	my $s = ref $v ? json_enc($v) : $v;
	$s =~ s/'/''/g;
	return "'$s'::jsonb";
}

########################################################################
# Clusters
########################################################################

# new_node(NAME, %EXTRA_CONF): an initialized and started cluster with
# flowdb preloaded and CREATE EXTENSION flowdb done.  %EXTRA_CONF adds or
# overrides postgresql.conf settings.
sub new_node
{
	my ($name, %extra) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;

	my %conf = (
		shared_preload_libraries    => 'flowdb',
		'flowdb.allow_private_hosts' => 'on',
		'flowdb.retry_base_ms'      => '50',
		'flowdb.scan_interval_ms'   => '200',
		wal_level                   => 'logical',
		max_replication_slots       => '4',
		# the crash tests need the postmaster to reinitialize after a
		# child dies (PostgreSQL::Test::Cluster turns this off)
		restart_after_crash         => 'on',
		log_statement               => 'none',
		%extra);
	my $text = '';
	for my $k (sort keys %conf)
	{
		my $v = $conf{$k};
		$v =~ s/'/''/g;
		$text .= "$k = '$v'\n";
	}
	$node->append_conf('postgresql.conf', $text);
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION flowdb');
	return $node;
}

# worker_pid(NODE): pid of the (first) flowdb worker, 0 when none runs
sub worker_pid
{
	my ($node) = @_;
	my ($rc, $out) = $node->psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE backend_type = 'flowdb worker' ORDER BY pid LIMIT 1"
	);
	return ($rc == 0 && $out =~ /^(\d+)$/) ? $1 : 0;
}

# restart_worker(NODE): end the worker with pg_terminate_backend (no
# crash: the launcher starts it again) and wait for the new process, which
# reads the database's settings afresh; returns its pid
sub restart_worker
{
	my ($node) = @_;
	my $old = worker_pid($node);
	$node->safe_psql('postgres', "SELECT pg_terminate_backend($old)");
	poll($node,
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'flowdb worker' "
		  . "AND pid <> $old", 't', 60)
	  or return 0;
	return worker_pid($node);
}

########################################################################
# Blueprints and runs
########################################################################

# http_node(ID, URL, %OPT): an http/request action node.  OPT: method
# (POST), body, headers, timeout_ms (request), node_timeout_ms,
# max_attempts, backoff_ms (retry block only when one of them is given).
sub http_node
{
	my ($id, $url, %o) = @_;
	my %params = (url => $url, method => ($o{method} // 'POST'));
	$params{body}       = $o{body}       if exists $o{body};
	$params{headers}    = $o{headers}    if exists $o{headers};
	$params{timeout_ms} = $o{timeout_ms} if exists $o{timeout_ms};
	my %n = (
		id      => $id,
		type    => 'action',
		service => 'http',
		task    => 'request',
		params  => \%params);
	if (exists $o{max_attempts} || exists $o{backoff_ms})
	{
		my %r;
		$r{max_attempts} = $o{max_attempts} if exists $o{max_attempts};
		$r{backoff_ms}   = $o{backoff_ms}   if exists $o{backoff_ms};
		$n{retry} = \%r;
	}
	$n{timeout_ms} = $o{node_timeout_ms} if exists $o{node_timeout_ms};
	return \%n;
}

# chain(ID, ID, ...): edges a->b->c...
sub chain
{
	my @ids = @_;
	return map { { from => $ids[$_], to => $ids[ $_ + 1 ] } } 0 .. $#ids - 1;
}

# blueprint(nodes => [...], edges => [...], name => ...): a version 1
# blueprint with a manual trigger
sub blueprint
{
	my (%o) = @_;
	return {
		version => 1,
		name    => $o{name} // 'test',
		trigger => { type => 'manual' },
		nodes   => $o{nodes},
		edges   => $o{edges} // [],
	};
}

# flow_execute(NODE, BLUEPRINT, PAYLOAD): queue a run; returns its id
sub flow_execute
{
	my ($node, $bp, $payload) = @_;
	return $node->safe_psql('postgres',
		    'SELECT flow_execute('
		  . sql_json($bp) . ', '
		  . sql_json($payload // {}) . ')');
}

# flow_execute_many(NODE, BLUEPRINT, N): queue N runs in one transaction,
# payloads {"i": 1} .. {"i": N}; returns N
sub flow_execute_many
{
	my ($node, $bp, $n) = @_;
	return $node->safe_psql('postgres',
		'SELECT count(flow_execute(' . sql_json($bp) . ", jsonb_build_object('i', g))) "
		  . "FROM generate_series(1, $n) g");
}

# query_json(NODE, SQL): decode the JSON the query returns (one value)
sub query_json
{
	my ($node, $sql) = @_;
	my $out = $node->safe_psql('postgres', $sql);
	return json_dec($out);
}

# sql_error(NODE, SQL, %PSQL_PARAMS): run SQL expecting it to fail; returns
# (SQLSTATE, stderr), SQLSTATE '' when it succeeded.  %PSQL_PARAMS go to
# $node->psql (e.g. extra_params).
sub sql_error
{
	my ($node, $sql, %p) = @_;
	my ($rc, $out, $err) = $node->psql('postgres',
		"\\set VERBOSITY verbose\n$sql", on_error_stop => 1, %p);
	my ($state) = ($err // '') =~ /ERROR:\s+([0-9A-Z]{5}):/;
	return ($rc == 0 ? '' : ($state // '?'), $err // '');
}

# run_row(NODE, RUN): the flowdb.runs row as a hash
sub run_row
{
	my ($node, $run) = @_;
	return query_json($node,
		"SELECT to_jsonb(r) FROM flowdb.runs r WHERE id = '$run'");
}

# run_logs(NODE, RUN): the run's log rows of finished step attempts
# (succeeded, failed, retrying, skipped), in order, as hashes.  The
# "started" rows written when a request goes out are left out: see
# started_logs.
sub run_logs
{
	my ($node, $run) = @_;
	return @{
		query_json($node,
			"SELECT coalesce(jsonb_agg(to_jsonb(l) ORDER BY l.id), '[]') "
			  . "FROM flowdb.workflow_logs l WHERE run_id = '$run' AND status <> 'started'")
	};
}

# started_logs(NODE, RUN): the run's "started" log rows, in order
sub started_logs
{
	my ($node, $run) = @_;
	return @{
		query_json($node,
			"SELECT coalesce(jsonb_agg(to_jsonb(l) ORDER BY l.id), '[]') "
			  . "FROM flowdb.workflow_logs l WHERE run_id = '$run' AND status = 'started'")
	};
}

# log_counts(NODE, RUN): {"node/status" => count}
sub log_counts
{
	my ($node, $run) = @_;
	my %c;
	$c{"$_->{node_id}/$_->{status}"}++ for run_logs($node, $run);
	return \%c;
}

# flow_status_of(NODE, RUN): flow_status() decoded
sub flow_status_of
{
	my ($node, $run) = @_;
	return query_json($node, "SELECT flow_status('$run')");
}

# poll(NODE, SQL, EXPECTED, TIMEOUT_S): run SQL every 100 ms until it
# prints EXPECTED ('t' by default) or TIMEOUT_S seconds of wall-clock time
# passed (connection errors, e.g. during crash recovery, count as "not
# yet").  Returns true on success; reports the last output otherwise.
sub poll
{
	my ($node, $sql, $expected, $timeout) = @_;
	$expected //= 't';
	$timeout  //= 60;
	my $deadline = time + $timeout;
	my ($rc, $out, $err);
	while (1)
	{
		($rc, $out, $err) = $node->psql('postgres', $sql);
		return 1 if $rc == 0 && defined $out && $out eq $expected;
		last if time > $deadline;
		usleep(100_000);
	}
	diag "poll timed out after ${timeout}s: $sql\nexpected: $expected\n"
	  . "last output: " . ($out // '') . "\nstderr: " . ($err // '');
	return 0;
}

# wait_run(NODE, RUN, TIMEOUT_S): wait until the run is succeeded, failed
# or canceled; returns its status (whatever it is at the timeout)
sub wait_run
{
	my ($node, $run, $timeout) = @_;
	poll($node,
		"SELECT status IN ('succeeded', 'failed', 'canceled') FROM flowdb.runs WHERE id = '$run'",
		't', $timeout // 30);
	my ($rc, $out) =
	  $node->psql('postgres', "SELECT status FROM flowdb.runs WHERE id = '$run'");
	return $rc == 0 ? $out : "(psql failed: $rc)";
}

# wait_runs(NODE, WHERE, TIMEOUT_S): wait until no run matching the SQL
# condition is unfinished; returns true when that happened in time
sub wait_runs
{
	my ($node, $where, $timeout) = @_;
	return poll($node,
		"SELECT count(*) FROM flowdb.runs WHERE ($where) "
		  . "AND status NOT IN ('succeeded', 'failed', 'canceled')",
		'0', $timeout // 60);
}

########################################################################
# Fake HTTP servers
########################################################################

my $FAKE = abs_path(dirname(__FILE__) . '/../fake/fakeserver.py');
my $fake_seq = 0;

# start_fake(SCRIPT, %OPT): start test/fake/fakeserver.py with SCRIPT (a
# hash: {"/path" => [responses]} or {routes => ..., default => ...}).
# OPT: max_seconds (600).  Returns a FlowdbTest::Fake.
sub start_fake
{
	my ($script, %o) = @_;
	my $dir = PostgreSQL::Test::Utils::tempdir('fake');
	my $n = ++$fake_seq;
	my %f = (
		dir        => $dir,
		port_file  => "$dir/port",
		script     => "$dir/script.json",
		capture    => "$dir/capture.jsonl",
		log        => "$dir/server.log",
		http       => HTTP::Tiny->new(timeout => 30, keep_alive => 0),
		name       => "fake$n");
	open my $fh, '>', $f{script} or die "cannot write $f{script}: $!";
	print $fh json_enc($script // {});
	close $fh;

	my $python = -x '/usr/bin/python3' ? '/usr/bin/python3' : 'python3';
	($f{pid}, $f{port}) = spawn_server($f{port_file}, $f{log},
		$python, $FAKE,
		'--port-file', $f{port_file},
		'--script', $f{script},
		'--capture', $f{capture},
		'--max-seconds', ($o{max_seconds} // 600),
		'--parent-pid', $$);
	my $self = bless \%f, 'FlowdbTest::Fake';
	note "fake server $f{name} on port $f{port} (pid $f{pid})";
	return $self;
}

# spawn_server(PORT_FILE, LOG, CMD...): run a fake server (stdout and
# stderr to LOG) that writes the port it listens on to PORT_FILE; returns
# (pid, port) once it did, dies with the log when it exits or takes 20 s
sub spawn_server
{
	my ($port_file, $log, @cmd) = @_;
	my $pid = fork;
	die "fork failed: $!" unless defined $pid;
	if ($pid == 0)
	{
		open STDIN, '<', '/dev/null';
		open STDOUT, '>>', $log;
		open STDERR, '>>', $log;
		exec @cmd or POSIX::_exit(127);
	}
	my $deadline = time + 20;
	until (-s $port_file)
	{
		if (waitpid($pid, WNOHANG) == $pid || time > $deadline)
		{
			my $text = -f $log ? slurp_file($log) : '';
			die "$cmd[0] $cmd[1] did not start: $text";
		}
		usleep(20_000);
	}
	my ($port) = slurp_file($port_file) =~ /(\d+)/;
	return ($pid, $port);
}

package FlowdbTest::Fake;

use strict;
use warnings;
use JSON::PP;
use POSIX qw(WNOHANG);
use Time::HiRes qw(usleep time);

sub port { return $_[0]{port}; }
sub pid  { return $_[0]{pid}; }

# url(PATH): http://127.0.0.1:PORT/PATH
sub url
{
	my ($self, $path) = @_;
	$path //= '/';
	return "http://127.0.0.1:$self->{port}$path";
}

# requests(): every captured request (from the capture file), in arrival
# order, as hashes {seq, time, method, path, query, headers, body, client}
sub requests
{
	my ($self) = @_;
	my @r;
	open my $fh, '<', $self->{capture} or return ();
	while (my $line = <$fh>)
	{
		next unless $line =~ /\n\z/;    # a line still being written
		push @r, FlowdbTest::json_dec($line);
	}
	close $fh;
	return @r;
}

# requests_for(PATH): the captured requests to PATH (exact path)
sub requests_for
{
	my ($self, $path) = @_;
	return grep { $_->{path} eq $path } $self->requests;
}

# count_by_key(PATH): {Idempotency-Key => number of requests} for PATH
sub count_by_key
{
	my ($self, $path) = @_;
	my %c;
	for my $r ($self->requests)
	{
		next if defined $path && $r->{path} ne $path;
		$c{ $r->{headers}{'idempotency-key'} // '' }++;
	}
	return \%c;
}

sub _call
{
	my ($self, $method, $path, $body) = @_;
	my $resp = $self->{http}->request($method, $self->url($path),
		defined $body ? { content => $body } : {});
	die "fake server $path: $resp->{status} $resp->{content}"
	  unless $resp->{success};
	return FlowdbTest::json_dec($resp->{content});
}

# set_script(SCRIPT): replace the script (positions start over)
sub set_script
{
	my ($self, $script) = @_;
	return $self->_call('POST', '/_script', FlowdbTest::json_enc($script));
}

# stats(): {requests, inflight, max_inflight, connections, streamed_bytes,
# streams_aborted}
sub stats { return $_[0]->_call('GET', '/_stats'); }

# server_requests(): GET /_requests (the server's own list)
sub server_requests { return @{ $_[0]->_call('GET', '/_requests') }; }

# reset(): forget captured requests, positions and stats
sub reset { return $_[0]->_call('GET', '/_reset'); }

# stop(): terminate the server and reap it
sub stop
{
	my ($self) = @_;
	return unless $self->{pid};
	kill 'TERM', $self->{pid};
	my $deadline = time + 5;
	while (waitpid($self->{pid}, WNOHANG) == 0)
	{
		if (time > $deadline)
		{
			kill 'KILL', $self->{pid};
			waitpid($self->{pid}, 0);
			last;
		}
		usleep(20_000);
	}
	$self->{pid} = undef;
	return;
}

sub DESTROY
{
	my ($self) = @_;
	local ($?, $!, $@);
	$self->stop if $self->{pid};
	return;
}

1;
