# 037_reload.pl: settings reloaded on SIGHUP take effect in the running
# worker, without a restart.
#
# One worker, the same process from start to end (its pid and its slot's
# start count do not change).  Each setting is changed with ALTER SYSTEM
# and pg_reload_conf() only:
#   1. flowdb.slack_base_url: from server A to server B: the next slack
#      step goes to B, nothing more reaches A;
#   2. flowdb.sandbox: off -> on: the next step is recorded in
#      flowdb.outbox and sent to nobody; on -> off: sent again;
#   3. flowdb.max_inflight: 2 -> 6: 12 runs of a 400 ms step against one
#      server: at most 2 at once before the reload, then more than 2 and at
#      most 6.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;    # FlowdbTest.pm (PROVE_FLAGS does not reach prove)
use FlowdbTest;
use FlowdbTools;

my $node = new_node('reload', 'flowdb.sandbox' => 'off', 'flowdb.max_inflight' => '2');
my %slack_script = (
	'POST /slack/chat.postMessage' => [ {
		body => { ok => JSON::PP::true, channel => 'C0RELOAD01', ts => '1700000000.000100' } } ]);
my $a = start_fake(\%slack_script);
my $b = start_fake(\%slack_script);
my $slow = start_fake({ '/slow/*' => [ { delay_ms => 400, body => { ok => JSON::PP::true } } ] });

ok(wait_until($node, "SELECT count(*) = 1 FROM flowdb.worker_info() WHERE pid <> 0"),
	'the worker runs');
my $pid = worker_pid($node);
my $starts = $node->safe_psql('postgres', 'SELECT starts FROM flowdb.worker_info() WHERE slot = 0');

reload_settings($node, 'flowdb.slack_base_url' => provider_base($a, 'slack'));
set_credential($node, 'slack', 'default', { bot_token => 'xoxb-0000-reload' });

my $n = 0;
# post(): run one slack step; returns the run id once it succeeded
sub post
{
	$n++;
	my $run = flow_execute($node,
		action_bp('reload-slack',
			action_node('post', 'slack', 'post_message', { channel => '#reload', text => "n $n" })),
		{});
	is(wait_run($node, $run, 60), 'succeeded', "slack run $n succeeded");
	return $run;
}

sub sent { my ($f) = @_; return scalar requests_where($f, 'POST', qr{/chat\.postMessage$}); }

sub outbox_rows
{
	my ($run) = @_;
	return $node->safe_psql('postgres', "SELECT count(*) FROM flowdb.outbox WHERE run_id = '$run'");
}

########################################################################
# 1. base URL
########################################################################

my $r = post();
is(sent($a), 1, 'base URL A: the step reached A');
is(sent($b), 0, 'and not B');

reload_settings($node, 'flowdb.slack_base_url' => provider_base($b, 'slack'));
$r = post();
is(sent($b), 1, 'base URL B after the reload: the step reached B');
is(sent($a), 1, 'nothing more reached A');

########################################################################
# 2. sandbox
########################################################################

reload_settings($node, 'flowdb.sandbox' => 'on');
$r = post();
is(outbox_rows($r), '1', 'sandbox on after the reload: the step was recorded in the outbox');
is(sent($a) + sent($b), 2, 'and sent to nobody');

reload_settings($node, 'flowdb.sandbox' => 'off');
$r = post();
is(outbox_rows($r), '0', 'sandbox off again: nothing recorded');
is(sent($b), 2, 'the step reached B');

########################################################################
# 3. max_inflight
########################################################################

# burst(TAG): 12 runs of a 400 ms step; returns the server's max_inflight
sub burst
{
	my ($tag) = @_;
	$slow->reset;
	my $bp = blueprint(name => "burst-$tag", nodes => [ http_node('s', $slow->url("/slow/{{trigger_data.i}}")) ]);
	$node->safe_psql('postgres',
		'SELECT count(flow_execute(' . sql_json($bp) . ", jsonb_build_object('i', g))) "
		  . 'FROM generate_series(1, 12) g');
	ok(wait_runs($node, "blueprint->>'name' = 'burst-$tag'", 120), "burst $tag finished");
	is($node->safe_psql('postgres',
			"SELECT count(*) FROM flowdb.runs WHERE blueprint->>'name' = 'burst-$tag' AND status = 'succeeded'"),
		'12', "burst $tag: all 12 runs succeeded");
	my $st = $slow->stats;
	is($st->{requests}, 12, "burst $tag: one request per run");
	return $st->{max_inflight};
}

my $m = burst('two');
cmp_ok($m, '<=', 2, "max_inflight = 2: at most 2 requests at once ($m)");
reload_settings($node, 'flowdb.max_inflight' => '6');
$m = burst('six');
cmp_ok($m, '>', 2, "max_inflight = 6 after the reload: more than 2 at once ($m)");
cmp_ok($m, '<=', 6, 'and at most 6');

is(worker_pid($node), $pid, 'the same worker process throughout');
is($node->safe_psql('postgres', 'SELECT starts FROM flowdb.worker_info() WHERE slot = 0'),
	$starts, 'the worker was never restarted');

$_->stop for $a, $b, $slow;
$node->stop;
done_testing();
