# 012_triggers.pl: what starts runs besides flow_execute.
#
# - table trigger: AFTER INSERT ... EXECUTE FUNCTION flow_trigger('<id>')
#   queues a run with the row as trigger_data (templates read its columns);
#   a rolled-back insert runs nothing; a deactivated workflow runs nothing;
# - signed Razorpay webhook: razorpay_webhook(json) with the signature
#   computed by flowdb.hmac and request.headers set in the transaction
#   starts the workflow of razorpay.payment.captured with amount_rupees;
#   the same delivery again starts nothing; a bad signature or a tampered
#   body is refused; Slack's signed Events API (url_verification,
#   event_callback -> slack.<type>, duplicates, stale timestamps);
# - schedule: a '* * * * *' workflow is fired by the worker at once, once
#   per minute over several scans; a cron that does not match now never
#   fires; a deactivated schedule stops;
# - event fan-out: flow_send_event starts every active workflow of the
#   event (not the inactive one, until flow_activate) and returns the runs;
# - a two-row INSERT queues two runs in one transaction.
# The last two queue several runs in one transaction (one claim then takes
# them together), so they come last: a worker crash there cannot hide the
# results of the sections above.
use strict;
use warnings;

use POSIX qw(strftime);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);
use FindBin;
use lib $FindBin::RealBin;    # FlowdbTest.pm, FlowdbTools.pm (PROVE_FLAGS does not reach prove)
use FlowdbTest;
use FlowdbTools;

my $true = JSON::PP::true;

my $fake = start_fake({
	'POST /orders'   => [ { status => 200, body => { ok => $true } } ],
	'POST /fan/*'    => [ { status => 200, body => { ok => $true } } ],
	'POST /payments' => [ { status => 200, body => { ok => $true } } ],
	'POST /tick'     => [ { status => 200, body => { ok => $true } } ],
	'POST /mention'  => [ { status => 200, body => { ok => $true } } ],
});
my $node = new_node('triggers');

sub count_runs
{
	my ($wid) = @_;
	return $node->safe_psql('postgres', "SELECT count(*) FROM flowdb.runs WHERE workflow_id = '$wid'");
}

sub bp_with
{
	my ($name, $trigger, @nodes) = @_;
	my $bp = action_bp($name, @nodes);
	$bp->{trigger} = $trigger;
	return $bp;
}

########################################################################
# table trigger
########################################################################

my $order_wf = save_workflow($node,
	bp_with('order placed', { type => 'table', table => 'public.orders' },
		http_node('notify', $fake->url('/orders'),
			body => {
				customer => '{{trigger_data.customer}}',
				amount   => '{{trigger_data.amount}}',
				order_id => '{{trigger_data.id}}',
				text     => 'New order from {{trigger_data.customer}}'
			})));
like($order_wf, qr/^[0-9a-f-]{36}$/, 'table-trigger workflow saved');

$node->safe_psql('postgres', qq{
	CREATE TABLE orders (id serial PRIMARY KEY, customer text NOT NULL, amount numeric NOT NULL);
	CREATE TRIGGER orders_flow AFTER INSERT ON orders
		FOR EACH ROW EXECUTE FUNCTION flow_trigger('$order_wf');
});

$node->safe_psql('postgres', "INSERT INTO orders (customer, amount) VALUES ('Ravi', 1250.75)");
ok(wait_until($node, "SELECT count(*) = 1 FROM flowdb.runs WHERE workflow_id = '$order_wf'", 't', 30),
	'insert queued one run');
my ($trun) = runs_of_workflow($node, $order_wf);
is(wait_run($node, $trun, 60), 'succeeded', 'table-trigger run succeeded');
is_deeply(run_row($node, $trun)->{payload}, { id => 1, customer => 'Ravi', amount => 1250.75 },
	'trigger_data is the inserted row');
my @or = $fake->requests_for('/orders');
is(scalar @or, 1, 'table-trigger run sent one request');
is_deeply(json_dec($or[0]{body}),
	{ customer => 'Ravi', amount => 1250.75, order_id => 1, text => 'New order from Ravi' },
	'request rendered from {{trigger_data.customer}} and the other columns');

# rolled back: the run is rolled back with the insert
$node->safe_psql('postgres', q{
	BEGIN;
	INSERT INTO orders (customer, amount) VALUES ('Ghost', 1);
	ROLLBACK;
});
# a committed insert after it, so that waiting for it shows the worker
# had every chance to see the ghost
$node->safe_psql('postgres', "INSERT INTO orders (customer, amount) VALUES ('Asha', 99)");
ok(wait_until($node,
		"SELECT count(*) = 2 AND bool_and(status = 'succeeded') FROM flowdb.runs WHERE workflow_id = '$order_wf'",
		't', 60),
	'second committed insert ran');
is(count_runs($order_wf), 2, 'rolled-back insert queued no run');
is_deeply([ sort map { json_dec($_->{body})->{customer} } $fake->requests_for('/orders') ],
	[ 'Asha', 'Ravi' ], 'no request for the rolled-back row');

# deactivated: the trigger stays, no run
is($node->safe_psql('postgres', "SELECT flow_deactivate('$order_wf')"), 't', 'flow_deactivate reports a change');
$node->safe_psql('postgres', "INSERT INTO orders (customer, amount) VALUES ('Off', 5)");
is($node->safe_psql('postgres', "SELECT count(*) FROM orders"), '3', 'insert into the table still works');
is(count_runs($order_wf), 2, 'inactive workflow: insert queued no run');

########################################################################
# signed Razorpay webhook
########################################################################

# the webhook secret lives in the owner's razorpay credential, next to the
# account id the deliveries are routed by
my $WH_SECRET = 'whsec_rzp_test_8f3a';
set_credential($node, 'razorpay', 'default',
	{ key_id => 'rzp_test_trig', key_secret => 'ks_trig', account_id => 'acc_Test001', webhook_secret => $WH_SECRET });

my $pay_wf = save_workflow($node, bp_with('payment captured',
		{ type => 'webhook', event => 'razorpay.payment.captured' },
		http_node('thank', $fake->url('/payments'),
			body => {
				amount  => '{{trigger_data.amount_rupees}}',
				payment => '{{trigger_data.id}}',
				text    => 'Thanks for paying Rs {{trigger_data.amount_rupees}}'
			})));

my $wh_body = json_enc({
	entity     => 'event',
	account_id => 'acc_Test001',
	event      => 'payment.captured',
	contains   => ['payment'],
	payload    => {
		payment => {
			entity => {
				id       => 'pay_Wh0000001',
				entity   => 'payment',
				amount   => 49950,
				currency => 'INR',
				status   => 'captured',
				contact  => '+919876543210'
			}
		}
	},
	created_at => time()
});

# deliver(BODY, EVENT_ID, SECRET): the webhook call as PostgREST makes it;
# returns (psql rc, stdout, stderr)
sub deliver
{
	my ($body, $event_id, $secret) = @_;
	my $b = sql_quote($body);
	my $s = sql_quote($secret);
	my $hdr = "'x-razorpay-signature', encode(flowdb.hmac(convert_to($b, 'UTF8'), convert_to($s, 'UTF8'), 'sha256'), 'hex')";
	$hdr .= ", 'x-razorpay-event-id', " . sql_quote($event_id) if defined $event_id;
	my ($rc, $out, $err) = $node->psql('postgres', qq{
		BEGIN;
		SELECT set_config('request.headers', json_build_object($hdr)::text, true) IS NOT NULL AS set;
		SELECT razorpay_webhook(${b}::json);
		COMMIT;
	}, on_error_stop => 1);
	my @lines = split /\n/, $out // '';
	return ($rc, $lines[-1] // '', $err // '');
}

my ($rc, $resp, $err) = deliver($wh_body, 'evt_Test0001', $WH_SECRET);
is($rc, 0, 'signed webhook accepted') or diag $err;
my $wh = json_dec($resp);
is($wh->{status}, 'ok', 'webhook answer status ok');
is($wh->{event}, 'razorpay.payment.captured', 'webhook answer names the event');
is(scalar @{ $wh->{runs} }, 1, 'webhook started one run');
my $wrun = $wh->{runs}[0];
is(wait_run($node, $wrun, 60), 'succeeded', 'webhook run succeeded');
is(run_row($node, $wrun)->{workflow_id}, $pay_wf, 'the run is of the payment workflow');
is(run_row($node, $wrun)->{payload}{amount_rupees}, 499.5, 'trigger_data has amount_rupees');
my @pr = $fake->requests_for('/payments');
is(scalar @pr, 1, 'webhook run sent one request');
is_deeply(json_dec($pr[0]{body}),
	{ amount => 499.5, payment => 'pay_Wh0000001', text => 'Thanks for paying Rs 499.5' },
	'the run used {{trigger_data.amount_rupees}} (49950 paise = 499.5)');

# the same delivery again: duplicate, nothing started
($rc, $resp, $err) = deliver($wh_body, 'evt_Test0001', $WH_SECRET);
is($rc, 0, 'duplicate delivery answered') or diag $err;
is_deeply(json_dec($resp), { status => 'duplicate', event => 'razorpay.payment.captured', runs => [] },
	'duplicate delivery reported as duplicate with no runs');
is(count_runs($pay_wf), 1, 'duplicate delivery started nothing');

# a wrong signature: refused with 28000, nothing recorded or started
my $deliveries = $node->safe_psql('postgres', 'SELECT count(*) FROM flowdb.webhook_deliveries');
($rc, $resp, $err) = deliver($wh_body =~ s/pay_Wh0000001/pay_Wh0000009/r, 'evt_Test0002', 'not-the-secret');
isnt($rc, 0, 'badly signed webhook refused');
like($err, qr/invalid Razorpay webhook signature/, 'bad signature: the error says so');
is($node->safe_psql('postgres', 'SELECT count(*) FROM flowdb.webhook_deliveries'),
	$deliveries, 'bad signature: delivery not recorded');

# a tampered body with the old signature: refused
{
	my $tampered = $wh_body;
	$tampered =~ s/49950/99950/;
	my $b = sql_quote($tampered);
	my $sig = sql_quote($node->safe_psql('postgres',
		"SELECT encode(flowdb.hmac(convert_to(" . sql_quote($wh_body) . ", 'UTF8'), convert_to("
		  . sql_quote($WH_SECRET) . ", 'UTF8'), 'sha256'), 'hex')"));
	my ($trc, undef, $terr) = $node->psql('postgres', qq{
		BEGIN;
		SELECT set_config('request.headers', json_build_object('x-razorpay-signature', $sig, 'x-razorpay-event-id', 'evt_T3')::text, true);
		SELECT razorpay_webhook(${b}::json);
		COMMIT;
	}, on_error_stop => 1);
	isnt($trc, 0, 'tampered body refused');
	like($terr, qr/invalid Razorpay webhook signature/, 'tampered body: signature mismatch');
}
is(count_runs($pay_wf), 1, 'refused deliveries started nothing');

# a second, different delivery starts a second run
($rc, $resp, $err) = deliver($wh_body =~ s/pay_Wh0000001/pay_Wh0000002/r, 'evt_Test0004', $WH_SECRET);
is($rc, 0, 'a new delivery is accepted');
is(scalar @{ json_dec($resp)->{runs} }, 1, 'a new delivery starts a new run');

########################################################################
# signed Slack Events API webhook
########################################################################

my $SLACK_SECRET = '8f742231b10e8888abcd99yyyzzz85a5';
set_credential($node, 'slack', 'default',
	{ bot_token => 'xoxb-trig', team_id => 'T0001', signing_secret => $SLACK_SECRET });
my $mention_wf = save_workflow($node, bp_with('slack mention',
		{ type => 'webhook', event => 'slack.app_mention' },
		http_node('reply', $fake->url('/mention'),
			body => { user => '{{trigger_data.user}}', text => '{{trigger_data.text}}' })));

# slack_deliver(BODY, AGE_S, SECRET): (rc, last output line, stderr)
sub slack_deliver
{
	my ($body, $age, $secret) = @_;
	my $b = sql_quote($body);
	my $s = sql_quote($secret);
	my ($rc, $out, $err) = $node->psql('postgres', qq{
		BEGIN;
		SELECT set_config('request.headers', json_build_object(
			'x-slack-request-timestamp', ts,
			'x-slack-signature', 'v0=' || encode(flowdb.hmac(convert_to('v0:' || ts || ':' || $b, 'UTF8'),
			                                                 convert_to($s, 'UTF8'), 'sha256'), 'hex'))::text, true) IS NOT NULL
		FROM (SELECT (extract(epoch FROM now())::bigint - $age)::text AS ts) t;
		SELECT slack_webhook(${b}::json);
		COMMIT;
	}, on_error_stop => 1);
	my @lines = split /\n/, $out // '';
	return ($rc, $lines[-1] // '', $err // '');
}

{
	my ($rc, $out, $err) = slack_deliver('{"token": "t", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", "type": "url_verification"}',
		0, $SLACK_SECRET);
	is($rc, 0, 'slack url_verification accepted') or diag $err;
	is_deeply(json_dec($out), { challenge => '3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P' },
		'slack url_verification answered with the challenge');

	my $ev = json_enc({
		token   => 't',
		team_id => 'T0001',
		type    => 'event_callback',
		event_id => 'Ev0TEST0001',
		event   => { type => 'app_mention', user => 'U0LAN0Z89', text => '<@U0BOT> ship order 42', channel => 'C0SALES001', ts => '1700000000.000200' }
	});
	($rc, $out, $err) = slack_deliver($ev, 5, $SLACK_SECRET);
	is($rc, 0, 'slack event_callback accepted') or diag $err;
	my $ans = json_dec($out);
	is($ans->{event}, 'slack.app_mention', 'slack event_callback becomes event slack.app_mention');
	is(scalar @{ $ans->{runs} }, 1, 'slack event started one run');
	is(wait_run($node, $ans->{runs}[0], 60), 'succeeded', 'slack-triggered run succeeded');
	my @m = $fake->requests_for('/mention');
	is_deeply(@m ? json_dec($m[0]{body}) : undef, { user => 'U0LAN0Z89', text => '<@U0BOT> ship order 42' },
		'slack-triggered run rendered the event');

	($rc, $out, $err) = slack_deliver($ev, 5, $SLACK_SECRET);
	is($rc, 0, 'slack retry of the same event answered');
	is(json_dec($out)->{status}, 'duplicate', 'slack retry of the same event_id is a duplicate');

	($rc, $out, $err) = slack_deliver($ev =~ s/Ev0TEST0001/Ev0TEST0002/r, 600, $SLACK_SECRET);
	isnt($rc, 0, 'slack request older than 5 minutes refused');
	like($err, qr/older than 5 minutes/, 'stale slack request: the error says why');

	($rc, $out, $err) = slack_deliver($ev =~ s/Ev0TEST0001/Ev0TEST0003/r, 0, 'wrong-secret');
	isnt($rc, 0, 'badly signed slack request refused');
	like($err, qr/invalid Slack request signature/, 'bad slack signature: the error says so');
	is(count_runs($mention_wf), 1, 'refused and duplicate slack deliveries started nothing');
}

########################################################################
# schedule
########################################################################

# never matches now: minute and hour 30 min / 12 h away (UTC)
my @now = gmtime(time);
my $never = sprintf('%d %d * * *', ($now[1] + 30) % 60, ($now[2] + 12) % 24);
my $never_wf = save_workflow($node, bp_with('never', { type => 'schedule', cron => $never },
		http_node('tick', $fake->url('/tick'), body => { which => 'never' })));

my $tick_wf = save_workflow($node, bp_with('every minute', { type => 'schedule', cron => '* * * * *' },
		http_node('tick', $fake->url('/tick'),
			body => { which => 'every', at => '{{trigger_data.scheduled_at}}', cron => '{{trigger_data.cron}}' })));

ok(wait_until($node, "SELECT count(*) >= 1 FROM flowdb.runs WHERE workflow_id = '$tick_wf'", 't', 75),
	'the worker fired the every-minute schedule');
my ($first) = runs_of_workflow($node, $tick_wf);
is(wait_run($node, $first, 60), 'succeeded', 'scheduled run succeeded');
my $p = run_row($node, $first)->{payload};
is($p->{cron}, '* * * * *', 'schedule trigger_data has the cron');
like($p->{scheduled_at}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:00(\+00:00|Z)?/, 'scheduled_at is a whole minute');

# let the worker scan (every 200 ms) a few more times: its heartbeat (every
# loop turn) a second past now; then let any run of a minute that began
# meanwhile finish
my $t0 = $node->safe_psql('postgres', 'SELECT now()');
ok(wait_until($node,
		"SELECT count(*) > 0 FROM flowdb.worker_info() WHERE heartbeat_at > '$t0'::timestamptz + interval '1 second'",
		't', 60),
	'the worker kept scanning');
ok(wait_runs($node, "workflow_id = '$tick_wf'", 60), 'scheduled runs finished');
my $per_minute = $node->safe_psql('postgres',
	"SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM flowdb.runs "
	  . "WHERE workflow_id = '$tick_wf' GROUP BY payload ->> 'scheduled_at') m");
is($per_minute, '1', 'fired exactly once per minute over several scans');
my $total = count_runs($tick_wf);
my $minutes = $node->safe_psql('postgres',
	"SELECT count(DISTINCT payload ->> 'scheduled_at') FROM flowdb.runs WHERE workflow_id = '$tick_wf'");
is($total, $minutes, 'one run for each minute seen, no more');
ok($total <= 2, "at most two minutes began while watching ($total run(s))");
is($node->safe_psql('postgres',
		"SELECT last_fired_at = (SELECT max((payload ->> 'scheduled_at')::timestamptz) FROM flowdb.runs "
		  . "WHERE workflow_id = '$tick_wf') FROM flowdb.workflows WHERE id = '$tick_wf'"),
	't', 'last_fired_at is the minute of the last run');
my @ticks = grep { json_dec($_->{body})->{which} eq 'every' } $fake->requests_for('/tick');
is(scalar @ticks, $total, 'one request per scheduled run');
is(json_dec($ticks[0]{body})->{cron}, '* * * * *', 'scheduled run rendered trigger_data.cron');
is(count_runs($never_wf), 0, "a cron that does not match now ($never) did not fire");

# deactivated schedules stop firing.  In a rolled-back transaction that
# forgets the minute already fired (the row lock keeps the worker's own
# fire_schedules off it), fire_schedules: fires the active schedule, then,
# once deactivated, does not.  Returns "fired runs_created".
sub fire_fresh
{
	my $out = $node->safe_psql('postgres', qq{
		BEGIN;
		UPDATE flowdb.workflows SET last_fired_at = NULL WHERE id = '$tick_wf';
		CREATE TEMP TABLE before_fire AS
			SELECT count(*) AS n FROM flowdb.runs WHERE workflow_id = '$tick_wf';
		SELECT flowdb.fire_schedules();
		SELECT (SELECT count(*) FROM flowdb.runs WHERE workflow_id = '$tick_wf')
			- (SELECT n FROM before_fire);
		ROLLBACK;});
	return join(' ', split /\n/, $out);
}
is(fire_fresh(), '1 1', 'an active every-minute schedule fires when its minute is not taken');
$node->safe_psql('postgres', "SELECT flow_deactivate('$tick_wf')");
my $before = count_runs($tick_wf);
is(fire_fresh(), '0 0', 'deactivated schedule: fire_schedules does not fire it');
is(count_runs($tick_wf), $before, 'deactivated schedule: no new run');

# A worker crash in the sections below would make safe_psql die: report
# it as a failure and go on to done_testing.
eval {
########################################################################
# event fan-out
########################################################################

my $ev = { type => 'event', event => 'shop.order.paid' };
my $fan_a = save_workflow($node, bp_with('fan a', $ev,
		http_node('n', $fake->url('/fan/a'), body => { order => '{{trigger_data.order}}' })));
my $fan_b = save_workflow($node, bp_with('fan b', $ev,
		http_node('n', $fake->url('/fan/b'), body => { order => '{{trigger_data.order}}' })));
my $fan_c = save_workflow($node, bp_with('fan c (inactive)', $ev,
		http_node('n', $fake->url('/fan/c'), body => { order => '{{trigger_data.order}}' })), 0);
my $other = save_workflow($node, bp_with('other event', { type => 'event', event => 'shop.order.refunded' },
		http_node('n', $fake->url('/fan/other'), body => {})));

my $ids = query_json($node,
	q{SELECT to_jsonb(flow_send_event('shop.order.paid', '{"order": "A-17", "total": 640}'))});
is(scalar @$ids, 2, 'flow_send_event returned two run ids');
my $idlist = join(',', map { "'$_'" } @$ids);
ok(wait_until($node,
		"SELECT count(*) = 2 AND bool_and(status = 'succeeded') FROM flowdb.runs WHERE id IN ($idlist)", 't', 30),
	'both fan-out runs (queued in one transaction) succeeded');
my %by_wf = map { my $r = run_row($node, $_); ($r->{workflow_id} => $r) } @$ids;
is_deeply([ sort keys %by_wf ], [ sort $fan_a, $fan_b ], 'one run of each active workflow of the event');
is_deeply($by_wf{$fan_a}{payload}, { order => 'A-17', total => 640 }, 'the event data is trigger_data');
is_deeply([ sort map { $_->{path} } grep { $_->{path} =~ m{^/fan/} } $fake->requests ],
	[ '/fan/a', '/fan/b' ], 'the inactive and other-event workflows sent nothing');
is_deeply([ map { json_dec($_->{body})->{order} } $fake->requests_for('/fan/a'), $fake->requests_for('/fan/b') ],
	[ 'A-17', 'A-17' ], 'both runs rendered the event data');
is(count_runs($fan_c), 0, 'inactive workflow: no run');

is($node->safe_psql('postgres', "SELECT flow_activate('$fan_c')"), 't', 'flow_activate reports a change');
my $ids2 = query_json($node, q{SELECT to_jsonb(flow_send_event('shop.order.paid', '{"order": "B-2"}'))});
is(scalar @$ids2, 3, 'after flow_activate the event starts three runs');
is(wait_run($node, $_, 30), 'succeeded', "second fan-out run $_ succeeded") for @$ids2;
is_deeply(query_json($node, q{SELECT to_jsonb(flow_send_event('shop.nobody.listens', '{}'))}), [],
	'an event nobody listens to starts nothing');
my ($st) = sql_error($node, q{SELECT flow_send_event('NotAnEvent', '{}')});
is($st, '22023', 'an invalid event name is refused with 22023');

########################################################################
# several runs queued by one statement (one claim picks them all up)
########################################################################

# (last in this file: the fan-out above also queues several runs in one
# transaction)
is($node->safe_psql('postgres', "SELECT flow_activate('$order_wf')"), 't', 'flow_activate the table workflow again');
$node->safe_psql('postgres', "INSERT INTO orders (customer, amount) VALUES ('Bo', 1), ('Cy', 2)");
ok(wait_until($node,
		"SELECT count(*) = 4 AND bool_and(status = 'succeeded') FROM flowdb.runs WHERE workflow_id = '$order_wf'",
		't', 30),
	'a two-row insert queued and ran two runs');
is_deeply([ sort map { json_dec($_->{body})->{customer} } $fake->requests_for('/orders') ],
	[ 'Asha', 'Bo', 'Cy', 'Ravi' ], 'one request per inserted row, none for the inactive period');

1;
} or fail("fan-out / multi-row sections died: $@");

is_deeply([ crash_lines($node) ], [], 'no server process crashed during this test');

done_testing();
