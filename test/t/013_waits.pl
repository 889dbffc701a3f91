# 013_waits.pl: durable delays and waits for events (human approval).
#
# - delay {"seconds": 3} between two http steps: the run is parked as
#   'waiting' with no lease; an immediate shutdown + restart during the
#   delay; the run finishes after the delay, the second request sent once;
# - approval: razorpay.create_invoice -> wait_event invoice.approved
#   matching the invoice id -> whatsapp.send_message.  The run waits with
#   no lease, survives an immediate restart (no second invoice), ignores an
#   event for another invoice, and resumes on flow_approve (one run) or on
#   the matching flow_send_event (another); the last step renders the
#   approval data; a signed razorpay_webhook resumes a run waiting for
#   razorpay.invoice.paid;
# - wait_event timeout 2 s with an else edge: the else branch runs, the
#   normal one is skipped; the event arriving in time: the normal branch
#   runs, the else (timeout) branch is skipped;
# - flow_cancel of a waiting run: canceled, later events and approvals do
#   nothing, nothing more is sent;
# - flow_retry after the last step failed (Twilio 400, then the fake fixed)
#   resumes from that step only: no second invoice, no second approval.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);
use FindBin;
use lib $FindBin::RealBin;    # FlowdbTest.pm, FlowdbTools.pm (PROVE_FLAGS does not reach prove)
use FlowdbTest;
use FlowdbTools;

my $true = JSON::PP::true;

my $WA_SID = 'AC00112233445566778899aabbccddeeff';
my $wa_path = "/2010-04-01/Accounts/$WA_SID/Messages.json";
my $wa_ok = { status => 201, body => { sid => 'SMaaaabbbbccccddddeeeeffff00001111', status => 'queued' } };

sub invoice_resp
{
	my ($id) = @_;
	return {
		status => 200,
		body   => { id => $id, short_url => "https://rzp.io/i/$id", status => 'issued', amount => 50000, currency => 'INR' }
	};
}

my $fakes = start_providers(
	razorpay => { 'POST /v1/invoices' => [ map { invoice_resp("inv_W$_") } 1 .. 8 ] },
	whatsapp => { "POST $wa_path" => [$wa_ok] });
my $web = start_fake({ '/*' => [ { status => 200, body => { ok => $true } } ] });

my $node = new_node('waits');
point_providers($node, $fakes, 'flowdb.sandbox' => 'auto');
set_credential($node, 'razorpay', 'default', { key_id => 'rzp_test_wait', key_secret => 'waitsecretRZP' });
set_credential($node, 'whatsapp', 'default',
	{ account_sid => $WA_SID, auth_token => 'waitsecretWA', from => '+14155550100' });

sub statuses
{
	my ($run) = @_;
	return [ map { "$_->{node_id}/$_->{status}" } run_logs($node, $run) ];
}

sub restart_immediate
{
	my ($why) = @_;
	note "immediate restart: $why";
	$node->stop('immediate');
	$node->start;
	ok(wait_worker($node, 0, 60), "worker back after the immediate restart ($why)");
	return;
}

# parked: waiting, no lease, and the node NODE_ID waiting
sub wait_parked
{
	my ($run, $node_id, $timeout) = @_;
	return wait_status($node, $run, 'waiting', $timeout // 60,
		"r.lease_owner IS NULL AND r.lease_until IS NULL AND r.state #>> '{nodes,$node_id,status}' = 'waiting'");
}

########################################################################
# 1. delay survives an immediate shutdown
########################################################################
{
	my $bp = blueprint(
		name  => 'delay',
		nodes => [
			http_node('a', $web->url('/d/a'), body => { step => 'a' }),
			{ id => 'pause', type => 'delay', seconds => 3 },
			http_node('b', $web->url('/d/b'), body => { step => 'b', after => '{{steps.pause.output.waited_ms}}' }),
		],
		edges => [ chain('a', 'pause', 'b') ]);
	my $run = flow_execute($node, $bp, {});
	ok(wait_parked($run, 'pause', 30), 'delay: run parked as waiting with no lease');
	my $row = run_row($node, $run);
	is($row->{status}, 'waiting', 'delay: status waiting');
	ok(!defined $row->{lease_owner}, 'delay: lease_owner is null while parked');
	is(scalar($web->requests_for('/d/a')), 1, 'delay: first step sent');
	is(scalar($web->requests_for('/d/b')), 0, 'delay: second step not sent yet');
	my $early = $node->safe_psql('postgres', "SELECT next_at > now() FROM flowdb.runs WHERE id = '$run'");
	is($early, 't', 'delay: next_at is in the future (the end of the delay)');

	restart_immediate('during the delay');
	is(wait_run($node, $run, 60), 'succeeded', 'delay: run succeeded after the restart');
	my @a = $web->requests_for('/d/a');
	my @b = $web->requests_for('/d/b');
	is(scalar @a, 1, 'delay: first step sent once in all');
	is(scalar @b, 1, 'delay: second step sent once');
	cmp_ok($b[0]{time} - $a[0]{time}, '>=', 2.9, 'delay: second step not before the 3 s delay');
	is_deeply(statuses($run), [ 'a/succeeded', 'pause/succeeded', 'b/succeeded' ], 'delay: one log row per node');
	cmp_ok(json_dec($b[0]{body})->{after}, '>=', 2900, 'delay: output waited_ms >= 3 s (rendered in step b)');
}

########################################################################
# 2. approval: create invoice, wait for invoice.approved, send WhatsApp
########################################################################

my $approval_bp = blueprint(
	name  => 'invoice approval',
	nodes => [
		action_node('create', 'razorpay', 'create_invoice',
			{ customer_name => '{{trigger_data.customer}}', amount => 500 }),
		{
			id              => 'approve',
			type            => 'wait_event',
			event           => 'invoice.approved',
			match           => { invoice => '{{steps.create.output.id}}' },
			timeout_seconds => 120
		},
		action_node('send', 'whatsapp', 'send_message', {
			to   => '+919876543210',
			body => 'Invoice {{steps.create.output.id}} approved by {{steps.approve.output.by}}: {{steps.create.output.short_url}}'
		}),
	],
	edges => [ chain('create', 'approve', 'send') ]);

my %inv;    # run id -> invoice id

sub start_approval
{
	my ($customer) = @_;
	my $run = flow_execute($node, $approval_bp, { customer => $customer });
	ok(wait_parked($run, 'approve', 60), "approval ($customer): waiting for the event, no lease");
	$inv{$run} = run_row($node, $run)->{state}{nodes}{create}{output}{id};
	like($inv{$run}, qr/^inv_W\d$/, "approval ($customer): invoice $inv{$run} created");
	return $run;
}

sub wa_bodies
{
	return map { form_decode($_->{body})->{Body} } $fakes->{whatsapp}->requests;
}

# 2a. flow_approve, with an immediate restart and a non-matching event first
my $run_a = start_approval('Asha');
is_deeply(run_row($node, $run_a)->{state}{nodes}{approve}{match}, { invoice => $inv{$run_a} },
	'approval: the match was rendered with the invoice id when the wait began');

restart_immediate('while waiting for approval');
ok(workers_scanned($node, 1), 'the worker scanned for a second after the restart');
ok(wait_parked($run_a, 'approve', 10), 'approval: still waiting after the restart, no lease');
is(scalar($fakes->{razorpay}->requests), 1, 'approval: no second invoice after the restart');

is_deeply(query_json($node,
		q{SELECT to_jsonb(flow_send_event('invoice.approved', '{"invoice": "inv_NOPE", "by": "Mallory"}'))}),
	[], 'an event for another invoice resumes nothing');
ok(workers_scanned($node, 0.7), 'the worker scanned on after the event');
ok(wait_parked($run_a, 'approve', 5), 'approval: still waiting after the non-matching event');
is(scalar($fakes->{whatsapp}->requests), 0, 'approval: nothing sent yet');

my ($st) = sql_error($node, "SELECT flow_approve('$run_a', 'create', '{}')");
is($st, '55000', 'flow_approve of a node that is not waiting: 55000');

is($node->safe_psql('postgres', qq{SELECT flow_approve('$run_a', 'approve', '{"approved": true, "by": "Asha"}')}),
	't', 'flow_approve returns true');
is(wait_run($node, $run_a, 60), 'succeeded', 'approval: run succeeded after flow_approve');
is_deeply(statuses($run_a), [ 'create/succeeded', 'approve/succeeded', 'send/succeeded' ],
	'approval: each node once');
my ($alog) = grep { $_->{node_id} eq 'approve' } run_logs($node, $run_a);
is_deeply($alog->{output}, { approved => $true, by => 'Asha' }, 'approval: the wait node output is the approval data');
is_deeply([ wa_bodies() ], ["Invoice $inv{$run_a} approved by Asha: https://rzp.io/i/$inv{$run_a}"],
	'approval: the last step used the approval data and the invoice');
($st) = sql_error($node, "SELECT flow_approve('$run_a', 'approve', '{}')");
is($st, '55000', 'flow_approve of a finished run: 55000');

# 2b. the matching event resumes the run (and only that one)
my $run_b = start_approval('Ravi');
my $resumed = query_json($node,
	"SELECT to_jsonb(flow_send_event('invoice.approved', '{\"invoice\": \"$inv{$run_b}\", \"by\": \"Ravi\"}'))");
is_deeply($resumed, [$run_b], 'the matching event resumed exactly that run');
is(wait_run($node, $run_b, 60), 'succeeded', 'event approval: run succeeded');
is((wa_bodies())[-1], "Invoice $inv{$run_b} approved by Ravi: https://rzp.io/i/$inv{$run_b}",
	'event approval: the last step used the event data');
is(scalar($fakes->{razorpay}->requests), 2, 'two approvals, two invoices in all');

# 2c. a signed Razorpay webhook resumes a run waiting for razorpay.invoice.paid
{
	my $secret = 'whsec_waits_5e1d';
	set_credential($node, 'razorpay', 'default',
		{ key_id => 'rzp_test_wait', key_secret => 'waitsecretRZP', account_id => 'acc_Wait001', webhook_secret => $secret });
	my $bp = blueprint(
		name  => 'wait for payment',
		nodes => [
			action_node('create', 'razorpay', 'create_invoice', { customer_name => 'Webhook', amount => 500 }),
			{
				id              => 'paid',
				type            => 'wait_event',
				event           => 'razorpay.invoice.paid',
				match           => { id => '{{steps.create.output.id}}' },
				timeout_seconds => 120
			},
			action_node('send', 'whatsapp', 'send_message',
				{ to => '+919876543210', body => 'Received Rs {{steps.paid.output.amount_rupees}} for {{steps.paid.output.id}}' }),
		],
		edges => [ chain('create', 'paid', 'send') ]);
	my $run = flow_execute($node, $bp, {});
	ok(wait_parked($run, 'paid', 60), 'webhook wait: run waiting for razorpay.invoice.paid');
	my $inv_id = run_row($node, $run)->{state}{nodes}{create}{output}{id};
	my $body = json_enc({
		entity     => 'event',
		account_id => 'acc_Wait001',
		created_at => time(),
		event      => 'invoice.paid',
		payload => {
			invoice => { entity => { id => $inv_id, entity => 'invoice', amount => 50000, status => 'paid' } },
			payment => { entity => { id => 'pay_WaitW001', amount => 50000, status => 'captured' } }
		}
	});
	my $b = sql_quote($body);
	my $ans = $node->safe_psql('postgres', qq{
		BEGIN;
		SELECT set_config('request.headers', json_build_object(
			'x-razorpay-event-id', 'evt_wait_0001',
			'x-razorpay-signature', encode(flowdb.hmac(convert_to($b, 'UTF8'), convert_to('$secret', 'UTF8'), 'sha256'), 'hex'))::text, true) IS NULL;
		SELECT razorpay_webhook(${b}::json);
		COMMIT;
	});
	my $answer = json_dec((split /\n/, $ans)[-1]);
	is_deeply($answer->{runs}, [$run], 'webhook wait: the delivery resumed the waiting run');
	is(wait_run($node, $run, 60), 'succeeded', 'webhook wait: run succeeded');
	is((wa_bodies())[-1], "Received Rs 500 for $inv_id", 'webhook wait: the last step used the webhook entity');
}

########################################################################
# 3. wait_event timeout and else edge
########################################################################

sub timeout_bp
{
	my ($tag, $event, $timeout) = @_;
	return blueprint(
		name  => "timeout-$tag",
		nodes => [
			{
				id              => 'w',
				type            => 'wait_event',
				event           => $event,
				match           => { order => '{{trigger_data.order}}' },
				timeout_seconds => $timeout
			},
			http_node('normal', $web->url("/$tag/normal"), body => { got => '{{steps.w.output.order}}' }),
			http_node('late',   $web->url("/$tag/late"),   body => { branch => 'late' }),
		],
		edges => [ { from => 'w', to => 'normal' }, { from => 'w', to => 'late', else => $true } ]);
}

# 3a. nobody sends the event: after 2 s the else branch runs
{
	my $run = flow_execute($node, timeout_bp('t1', 'order.confirmed', 2), { order => 'O-1' });
	is(wait_run($node, $run, 60), 'succeeded', 'timeout: run succeeded');
	my %c = %{ log_counts($node, $run) };
	is_deeply(\%c, { 'w/succeeded' => 1, 'late/succeeded' => 1, 'normal/skipped' => 1 },
		'timeout: wait succeeded, else branch ran, normal branch skipped');
	my ($w) = grep { $_->{node_id} eq 'w' } run_logs($node, $run);
	is_deeply($w->{output}, { timed_out => $true }, 'timeout: wait output {timed_out: true}');
	is(scalar($web->requests_for('/t1/normal')), 0, 'timeout: normal branch sent nothing');
	my @late = $web->requests_for('/t1/late');
	is(scalar @late, 1, 'timeout: else branch sent once');
	my ($row) = $node->safe_psql('postgres',
		"SELECT extract(epoch FROM finished_at - created_at) >= 1.9 FROM flowdb.runs WHERE id = '$run'");
	is($row, 't', 'timeout: not before the 2 s timeout');
}

# 3b. the event arrives in time: the normal branch runs, not the timeout one
{
	my $run = flow_execute($node, timeout_bp('t2', 'order.confirmed', 120), { order => 'O-2' });
	ok(wait_parked($run, 'w', 60), 'event in time: run waiting');
	is_deeply(query_json($node,
			q{SELECT to_jsonb(flow_send_event('order.confirmed', '{"order": "O-2"}'))}),
		[$run], 'event in time: resumed');
	is(wait_run($node, $run, 60), 'succeeded', 'event in time: run succeeded');
	is(scalar($web->requests_for('/t2/normal')), 1, 'event in time: normal branch sent');
	is(scalar($web->requests_for('/t2/late')), 0, 'event in time: the else (timeout) branch did not run');
	is_deeply(log_counts($node, $run), { 'w/succeeded' => 1, 'normal/succeeded' => 1, 'late/skipped' => 1 },
		'event in time: else branch logged as skipped');
}

########################################################################
# 4. flow_cancel of a waiting run
########################################################################
{
	my $wa_before = scalar($fakes->{whatsapp}->requests);
	my $run = start_approval('Cancelled');
	is($node->safe_psql('postgres', "SELECT flow_cancel('$run')"), 't', 'flow_cancel of a waiting run returns true');
	is(run_status($node, $run), 'canceled', 'cancel: status canceled');
	is($node->safe_psql('postgres', "SELECT flow_cancel('$run')"), 'f', 'cancel: a second flow_cancel returns false');
	is_deeply(query_json($node,
			"SELECT to_jsonb(flow_send_event('invoice.approved', '{\"invoice\": \"$inv{$run}\", \"by\": \"Late\"}'))"),
		[], 'cancel: the matching event no longer resumes it');
	my ($cst) = sql_error($node, "SELECT flow_approve('$run', 'approve', '{}')");
	is($cst, '55000', 'cancel: flow_approve refused with 55000');
	ok(workers_scanned($node, 1), 'cancel: the worker scanned on for a second');
	is(run_status($node, $run), 'canceled', 'cancel: still canceled');
	is(scalar($fakes->{whatsapp}->requests), $wa_before, 'cancel: nothing more sent');
	ok(!grep({ $_->{node_id} eq 'send' } run_logs($node, $run)), 'cancel: the last step never ran');
}

########################################################################
# 5. flow_retry after the last step failed
########################################################################
{
	$fakes->{whatsapp}->set_script({
		"POST $wa_path" => [
			{ status => 400, body => { code => 21211, message => "The 'To' number is not a valid phone number." } }
		] });
	my $run = start_approval('Retry');
	my $inv_requests = scalar($fakes->{razorpay}->requests);
	is($node->safe_psql('postgres', qq{SELECT flow_approve('$run', 'approve', '{"by": "Boss"}')}), 't',
		'retry: approved');
	is(wait_run($node, $run, 60), 'failed', 'retry: run failed at the last step (Twilio 400)');
	like(run_row($node, $run)->{error}, qr/node send failed: Twilio error 21211/, 'retry: run error names the step');

	$fakes->{whatsapp}->set_script({ "POST $wa_path" => [$wa_ok] });
	is($node->safe_psql('postgres', "SELECT flow_retry('$run')"), $run, 'flow_retry returns the run id');
	is(wait_run($node, $run, 60), 'succeeded', 'retry: run succeeded');
	is(scalar($fakes->{razorpay}->requests), $inv_requests, 'retry: no second invoice');
	is_deeply(statuses($run),
		[ 'create/succeeded', 'approve/succeeded', 'send/failed', 'send/succeeded' ],
		'retry: only the failed step ran again; no second wait');
	my @sends = grep { (form_decode($_->{body})->{Body} // '') =~ /approved by Boss/ } $fakes->{whatsapp}->requests;
	is(scalar @sends, 2, 'retry: the last step sent twice in all (failed, then ok)');
	is_deeply([ map { $_->{headers}{'idempotency-key'} } @sends ], [ (idem_key($run, 'send')) x 2 ],
		'retry: same Idempotency-Key both times');
	is(form_decode($sends[1]{body})->{Body}, "Invoice $inv{$run} approved by Boss: https://rzp.io/i/$inv{$run}",
		'retry: the resent step still has the invoice and the approval data');
	is(run_row($node, $run)->{state}{retries}, 1, 'retry: state counts one retry');
}

is_deeply([ crash_lines($node) ], [], 'no server process crashed during this test');

done_testing();
