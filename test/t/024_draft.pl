# 024_draft.pl: drafts made by flow_draft (offline drafter) run end to end.
#
# With flowdb.sandbox = on, each draft is activated and started the way
# its trigger says (a Razorpay event, a WhatsApp message event, a table
# row through flow_trigger, flow_run) and must succeed: the templates the
# drafter wrote resolve against real trigger data and earlier steps'
# sample outputs, the router takes the right branch, and the outbox holds
# the messages with the values filled in.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use FlowdbTest;
use FlowdbTools;

my $node = new_node('draft', 'flowdb.sandbox' => 'on');

# draft(PROMPT): flow_draft, checked ready and valid; returns the id
sub draft
{
	my ($prompt) = @_;
	my $id = $node->safe_psql('postgres', 'SELECT flow_draft(' . sql_quote($prompt) . ')');
	is( $node->safe_psql('postgres',
			"SELECT draft_status || ' ' || active || ' ' || drafted_by || ' ' || "
			  . "(flow_validate(blueprint) ->> 'valid') FROM flowdb.workflows WHERE id = '$id'"),
		'ready false offline true',
		"draft of '$prompt' is ready, inactive and valid");
	$node->safe_psql('postgres', "SELECT flow_activate('$id')");
	return $id;
}

# node_statuses(RUN): "node=status ..." of the run's final log rows
sub node_statuses
{
	my ($run) = @_;
	my %last;
	$last{ $_->{node_id} } = $_->{status} for run_logs($node, $run);
	return join ' ', map { "$_=$last{$_}" } sort keys %last;
}

# outbox(RUN, SERVICE): the bodies sent to SERVICE by the run
sub outbox
{
	my ($run, $svc) = @_;
	return $node->safe_psql('postgres',
		"SELECT string_agg(body, E'\\n' ORDER BY id) FROM flowdb.outbox "
		  . "WHERE run_id = '$run' AND service = '$svc'");
}

# events: a Razorpay payment with a condition and an else branch
draft('When a payment is captured on Razorpay, thank the customer on WhatsApp. '
	  . 'If the amount is over Rs 5,000 tell #sales on Slack, otherwise log it by calling https://hooks.example.com/small.');
my %payment = (id => 'pay_T1', entity => 'payment', amount => 750000, amount_rupees => 7500,
	currency => 'INR', status => 'captured', contact => '+919876543210',
	email => 'ravi@example.com', description => 'Order 7');
my ($big) = @{ query_json($node,
	"SELECT to_jsonb(flow_send_event('razorpay.payment.captured', " . sql_json(\%payment) . '))') };
is(wait_run($node, $big, 60), 'succeeded', 'big payment run succeeded');
is(node_statuses($big),
	'check=succeeded http_request=skipped slack_post_message=succeeded whatsapp_send_message=succeeded',
	'over 5000: Slack, not the else branch');
like(outbox($big, 'whatsapp'), qr/To=whatsapp%3A%2B919876543210.*7500/s,
	'WhatsApp thanks the payment contact with the amount');
like(outbox($big, 'slack'), qr/"channel":"#sales".*7500/s, 'Slack message in #sales');

my ($small) = @{ query_json($node,
	"SELECT to_jsonb(flow_send_event('razorpay.payment.captured', "
	  . sql_json({ %payment, id => 'pay_T2', amount => 10000, amount_rupees => 100 }) . '))') };
is(wait_run($node, $small, 60), 'succeeded', 'small payment run succeeded');
is(node_statuses($small),
	'check=succeeded http_request=succeeded slack_post_message=skipped whatsapp_send_message=succeeded',
	'5000 or less: the else branch');

# a WhatsApp message event with "contains"
draft("When a customer messages 'menu' on WhatsApp, reply 'Today: paneer thali Rs 180'");
my ($menu) = @{ query_json($node,
	"SELECT to_jsonb(flow_send_event('whatsapp.message.received', "
	  . sql_json({ sender => '+919812345678', body => 'menu please' }) . '))') };
is(wait_run($node, $menu, 60), 'succeeded', 'menu message run succeeded');
like(outbox($menu, 'whatsapp'), qr/To=whatsapp%3A%2B919812345678.*paneer/s,
	'the reply goes to the sender with the quoted text');
my ($hello) = @{ query_json($node,
	"SELECT to_jsonb(flow_send_event('whatsapp.message.received', "
	  . sql_json({ sender => '+919812345678', body => 'hello' }) . '))') };
is(wait_run($node, $hello, 60), 'succeeded', 'other message run succeeded');
is(outbox($hello, 'whatsapp'), '', 'no reply without the word');

# a table trigger: the payment link's URL goes into the WhatsApp message
my $orders = draft('When a row is added to orders, create a payment link for the order and send it to the customer on WhatsApp.');
$node->safe_psql('postgres', qq{
	CREATE TABLE orders (id serial PRIMARY KEY, phone text, amount numeric);
	CREATE TRIGGER orders_flow AFTER INSERT ON orders
		FOR EACH ROW EXECUTE FUNCTION flow_trigger('$orders');
	INSERT INTO orders (phone, amount) VALUES ('+919000012345', 499);
});
my $row_run = $node->safe_psql('postgres', "SELECT id FROM flowdb.runs WHERE workflow_id = '$orders'");
is(wait_run($node, $row_run, 60), 'succeeded', 'row run succeeded');
like(outbox($row_run, 'razorpay'), qr/"amount":49900/, 'link amount from the row, in paise');
like(outbox($row_run, 'whatsapp'), qr/To=whatsapp%3A%2B919000012345.*rzp\.io/s,
	'the link URL reaches the customer');

# flow_run of a schedule draft and of a manual draft
for my $prompt ('Every day at 9 am ask AI for a motivational quote and post it to #team',
	'Send a payment link of ₹1,200 to 98765 43210 on WhatsApp')
{
	my $wid = draft($prompt);
	my $run = $node->safe_psql('postgres', "SELECT flow_run('$wid')");
	is(wait_run($node, $run, 60), 'succeeded', "flow_run of '$prompt' succeeded");
}

done_testing();
