# 011_sandbox.pl: sandbox mode sends nothing and records the exact request.
#
# 1. flowdb.sandbox = auto and no credentials: a workflow using every
#    provider task succeeds end to end on sample outputs ("sandbox": true,
#    the provider's shape, usable by later steps' templates); nothing
#    reaches the fake servers the base URLs point at; flowdb.outbox holds
#    each request (service, task, method, URL with the placeholders, body,
#    headers without Authorization).  The http tool (no credentials) is
#    live under auto.  A node naming a missing credential fails.
# 2. auto with a credential for one service only: that one is live, the
#    others are sandboxed, in the same run; once the credential is deleted
#    the service is sandboxed again.
# 3. flowdb.sandbox = on with credentials for every service: still nothing
#    sent (http included), outbox rows without any secret, no secret in the
#    logs; a missing named credential is fine in sandbox.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;    # FlowdbTest.pm, FlowdbTools.pm (PROVE_FLAGS does not reach prove)
use FlowdbTest;
use FlowdbTools;

my $true = JSON::PP::true;

my $fakes = start_providers();
my $web   = start_fake({ 'POST /hook' => [ { status => 200, body => { got => $true } } ] });
my $node  = new_node('sandbox');
point_providers($node, $fakes, 'flowdb.sandbox' => 'auto');
my %base = map { $_ => provider_base($fakes->{$_}, $_) } PROVIDERS;

my $IG_USER = '17841400000000009';
my %SECRET = (
	whatsapp  => { account_sid => 'AC0123456789abcdef0123456789abcdef', auth_token => 'sbxtwilioSECRET11', from => '+14155550100' },
	razorpay  => { key_id => 'rzp_test_sbx', key_secret => 'sbxrzpSECRET22' },
	slack     => { bot_token => 'xoxb-sbxslackSECRET33' },
	instagram => { access_token => 'sbxigSECRET44', ig_user_id => $IG_USER },
	llm       => { api_key => 'sk-sbxllmSECRET55' },
);
my @SECRETS = (
	(map { $_->{auth_token} // $_->{key_secret} // $_->{bot_token} // $_->{access_token} // $_->{api_key} }
	  values %SECRET),
	substr(basic_auth($SECRET{whatsapp}{account_sid}, $SECRET{whatsapp}{auth_token}), 6),
	substr(basic_auth($SECRET{razorpay}{key_id}, $SECRET{razorpay}{key_secret}), 6),
);

# every provider task in one run; later steps use earlier sample outputs
sub all_tasks_bp
{
	my ($name) = @_;
	return action_bp($name,
		action_node('wa', 'whatsapp', 'send_message',
			{ to => '{{trigger_data.phone}}', body => 'Hi {{trigger_data.name}}, pay here' }),
		action_node('link', 'razorpay', 'create_payment_link',
			{ amount => '{{trigger_data.amount}}', description => 'Order 7', customer_contact => '+919876543210' }),
		action_node('invoice', 'razorpay', 'create_invoice',
			{ customer_name => '{{trigger_data.name}}', amount => 1499, quantity => 2,
			  description => 'Link {{steps.link.output.id}}' }),
		action_node('pay', 'razorpay', 'fetch_payment', { payment_id => 'pay_Sbx0000001' }),
		action_node('post', 'slack', 'post_message',
			{ channel => '#sales', text => 'Invoice {{steps.invoice.output.id}} for {{steps.wa.output.to}}' }),
		action_node('ig', 'instagram', 'publish_photo',
			{ image_url => 'https://cdn.example.com/p/1.jpg', caption => 'Fresh #tea' }),
		action_node('draft', 'llm', 'complete', { prompt => 'Thank {{trigger_data.name}}' }),
		action_node('label', 'llm', 'classify',
			{ text => '{{steps.draft.output.text}}', labels => [ 'thanks', 'complaint' ] }),
		action_node('hook', 'http', 'request',
			{ url => $web->url('/hook'), method => 'POST', body => { ts => '{{steps.post.output.ts}}' } }));
}
my %payload = (phone => '+91 98765 43210', name => 'Ravi', amount => 499.5);

# outbox rows of a run, in order, as hashes
sub outbox_of
{
	my ($run) = @_;
	return @{ query_json($node,
			"SELECT coalesce(jsonb_agg(to_jsonb(o) ORDER BY o.id), '[]') FROM flowdb.outbox o WHERE run_id = '$run'") };
}

# the succeeded output of each node of a run
sub outputs_of
{
	my ($run) = @_;
	my %o;
	$o{ $_->{node_id} } = $_->{output} for grep { $_->{status} eq 'succeeded' } run_logs($node, $run);
	return \%o;
}

sub provider_requests
{
	my $n = 0;
	$n += scalar($fakes->{$_}->requests) for PROVIDERS;
	return $n;
}

sub has_auth_header
{
	my ($h) = @_;
	return grep { lc($_) eq 'authorization' && ($h->{$_} // '') ne '[redacted]' } keys %$h;
}

########################################################################
# 1. auto, no credentials: everything sandboxed but http
########################################################################

my $run1 = flow_execute($node, all_tasks_bp('sandbox-auto'), \%payload);
is(wait_run($node, $run1, 60), 'succeeded', 'auto without credentials: the whole workflow succeeded');
is(provider_requests(), 0, 'auto without credentials: no request reached any provider fake');
is(scalar($web->requests), 1, 'auto: the http tool (no credentials) is live');

my $out = outputs_of($run1);
is($out->{$_}{sandbox}, $true, "auto: $_ output carries \"sandbox\": true")
  for qw(wa link invoice pay post ig draft label);
ok(!exists $out->{hook}{sandbox}, 'auto: the live http output has no sandbox flag');

# sample outputs in the providers' shapes
like($out->{wa}{sid}, qr/^SM[0-9a-f]{32}$/, 'sample whatsapp sid SM + 32 hex');
is($out->{wa}{status}, 'queued', 'sample whatsapp status');
is($out->{wa}{to}, 'whatsapp:+919876543210', 'sample whatsapp to, normalised');
like($out->{link}{id}, qr/^plink_[0-9A-Za-z]{14}$/, 'sample payment link id');
like($out->{link}{short_url}, qr{^https://rzp\.io/i/}, 'sample payment link short_url');
is($out->{link}{amount}, 49950, 'sample payment link amount in paise');
is($out->{link}{amount_rupees}, 499.5, 'sample payment link amount_rupees');
like($out->{invoice}{id}, qr/^inv_[0-9A-Za-z]{14}$/, 'sample invoice id');
is($out->{invoice}{amount}, 299800, 'sample invoice amount = price x quantity in paise');
is($out->{pay}{id}, 'pay_Sbx0000001', 'sample payment keeps the id asked for');
is($out->{pay}{status}, 'captured', 'sample payment status');
is($out->{post}{ok}, $true, 'sample slack ok');
like($out->{post}{channel}, qr/^C[0-9A-Z]{10}$/, 'sample slack channel id');
like($out->{post}{ts}, qr/^\d{10}\.\d{6}$/, 'sample slack ts');
like($out->{ig}{id}, qr/^17\d{15}$/, 'sample instagram media id');
like($out->{ig}{container_id}, qr/^17\d{15}$/, 'sample instagram container id');
is($out->{draft}{text}, '[sandbox] reply to: Thank Ravi', 'sample llm completion');
is($out->{label}{label}, 'thanks', 'sample classification: the first label');

# the live http step got the sample slack ts through a template
my ($hook) = $web->requests;
is_deeply(json_dec($hook->{body}), { ts => $out->{post}{ts} },
	'a live step after sandboxed ones renders their sample outputs');

# the outbox: one row per sandboxed request, in order, exact shape
my @ob = outbox_of($run1);
my @shape = map { "$_->{node_id} $_->{service}.$_->{task} $_->{method} $_->{url}" } @ob;
my @want = (
	"wa whatsapp.send_message POST $base{whatsapp}/2010-04-01/Accounts/ACXXXXXXXX/Messages.json",
	"link razorpay.create_payment_link POST $base{razorpay}/v1/payment_links",
	"invoice razorpay.create_invoice POST $base{razorpay}/v1/invoices",
	"pay razorpay.fetch_payment GET $base{razorpay}/v1/payments/pay_Sbx0000001",
	"post slack.post_message POST $base{slack}/chat.postMessage",
	"ig instagram.publish_photo POST $base{instagram}/IG_USER_ID/media",
	"draft llm.complete POST $base{llm}/chat/completions",
	"label llm.classify POST $base{llm}/chat/completions",
);
# instagram's publish_photo records its first request only: the sandboxed
# node succeeds on the sample output there, the publish phase never runs
is_deeply(\@shape, \@want, 'outbox: every sandboxed request, URL with the placeholders, nothing for http');

my %ob = map { ($_->{node_id} . ($_->{url} =~ /media_publish$/ ? '2' : '')) => $_ } @ob;
is_deeply(form_decode($ob{wa}{body}),
	{ To => 'whatsapp:+919876543210', From => 'whatsapp:+14155238886', Body => 'Hi Ravi, pay here' },
	'outbox whatsapp: form body with the sandbox sender');
is_deeply(json_dec($ob{link}{body}),
	{ amount => 49950, currency => 'INR', description => 'Order 7',
	  customer => { contact => '+919876543210' }, notify => { sms => $true, email => JSON::PP::false } },
	'outbox payment link: JSON body, 499.5 rupees as 49950 paise');
is_deeply(json_dec($ob{invoice}{body}),
	{ type => 'invoice', description => "Link $out->{link}{id}", currency => 'INR',
	  customer => { name => 'Ravi' },
	  line_items => [ { name => 'Services', amount => 149900, currency => 'INR', quantity => 2 } ] },
	'outbox invoice: JSON body rendered from the sample link id');
ok(!defined $ob{pay}{body} || $ob{pay}{body} eq '', 'outbox fetch_payment: no body');
is_deeply(json_dec($ob{post}{body}),
	{ channel => '#sales', text => "Invoice $out->{invoice}{id} for whatsapp:+919876543210" },
	'outbox slack: JSON body');
is_deeply(form_decode($ob{ig}{body}), { image_url => 'https://cdn.example.com/p/1.jpg', caption => 'Fresh #tea' },
	'outbox instagram: container form body');
my $dbody = json_dec($ob{draft}{body});
is($dbody->{model}, 'gpt-4o-mini', 'outbox llm: the default model');
is_deeply($dbody->{messages}, [ { role => 'user', content => 'Thank Ravi' } ], 'outbox llm: messages');
is_deeply(json_dec($ob{label}{body})->{response_format}{json_schema}{schema}{properties}{label}{enum},
	[ 'thanks', 'complaint' ], 'outbox llm classify: the label enum');

for my $o (@ob)
{
	ok(!has_auth_header($o->{headers}), "outbox $o->{node_id}: no Authorization header");
}
is($ob{wa}{headers}{'Idempotency-Key'}, idem_key($run1, 'wa'), 'outbox whatsapp: Idempotency-Key header recorded');
like($ob{post}{headers}{'Content-Type'}, qr{^application/json}, 'outbox slack: Content-Type recorded');
like($ob{wa}{headers}{'Content-Type'}, qr{^application/x-www-form-urlencoded}, 'outbox whatsapp: Content-Type recorded');

# a node naming a credential that does not exist fails outside sandbox=on
{
	my $run = flow_execute($node,
		action_bp('named-missing', action_node('post', 'slack', 'post_message',
			{ channel => '#x', text => 'x' }, credential => 'shop2')));
	is(wait_run($node, $run, 60), 'failed', 'auto: a missing named credential fails the step');
	like(run_row($node, $run)->{error}, qr/credential "shop2" for service slack not found/,
		'auto: the error names the credential');
}

########################################################################
# 2. auto with a credential for slack only: slack live, whatsapp sandboxed
########################################################################

set_credential($node, 'slack', 'default', $SECRET{slack});
$fakes->{slack}->set_script({ 'POST /slack/chat.postMessage' =>
	  [ { status => 200, body => { ok => $true, channel => 'C0LIVE0001', ts => '1700000001.000200' } } ] });
my $run2 = flow_execute($node,
	action_bp('mixed',
		action_node('wa', 'whatsapp', 'send_message', { to => '+919876543210', body => 'hello' }),
		action_node('post', 'slack', 'post_message', { channel => '#sales', text => 'sent {{steps.wa.output.sid}}' })));
is(wait_run($node, $run2, 60), 'succeeded', 'mixed: run succeeded');
my @sl = $fakes->{slack}->requests;
is(scalar @sl, 1, 'mixed: slack (with a credential) was sent live');
is($sl[0]{headers}{authorization}, "Bearer $SECRET{slack}{bot_token}", 'mixed: live slack request authorized');
is(scalar($fakes->{whatsapp}->requests), 0, 'mixed: whatsapp (no credential) not sent');
my $o2 = outputs_of($run2);
is($o2->{wa}{sandbox}, $true, 'mixed: whatsapp output is a sandbox sample');
ok(!exists $o2->{post}{sandbox}, 'mixed: slack output is the live answer');
is($o2->{post}{channel}, 'C0LIVE0001', 'mixed: slack output from the fake');
is_deeply([ map { "$_->{node_id} $_->{service}" } outbox_of($run2) ], ['wa whatsapp'],
	'mixed: only whatsapp in the outbox');

# the credential deleted: slack is sandboxed again
is($node->safe_psql('postgres', "SELECT flow_delete_credential('slack')"), 't', 'flow_delete_credential');
my $run2b = flow_execute($node,
	action_bp('deleted', action_node('post', 'slack', 'post_message', { channel => '#sales', text => 'again' })));
is(wait_run($node, $run2b, 60), 'succeeded', 'credential deleted: run succeeded');
is(scalar($fakes->{slack}->requests), 1, 'credential deleted: slack not sent again');
is(outputs_of($run2b)->{post}{sandbox}, $true, 'credential deleted: sandbox output');

########################################################################
# 3. sandbox = on with every credential: nothing sent, no secret anywhere
########################################################################

set_credential($node, $_, 'default', $SECRET{$_}) for sort keys %SECRET;
reload_settings($node, 'flowdb.sandbox' => 'on');
$_->reset for (values %$fakes), $web;

my $run3 = flow_execute($node, all_tasks_bp('sandbox-on'), \%payload);
is(wait_run($node, $run3, 60), 'succeeded', 'sandbox=on with credentials: the whole workflow succeeded');
is(provider_requests(), 0, 'sandbox=on: no request reached any provider fake');
is(scalar($web->requests), 0, 'sandbox=on: the http tool is sandboxed too');
my $o3 = outputs_of($run3);
is($o3->{$_}{sandbox}, $true, "sandbox=on: $_ output carries \"sandbox\": true")
  for qw(wa link invoice pay post ig draft label hook);

my @ob3 = outbox_of($run3);
my %svc3;
$svc3{ $_->{node_id} }++ for @ob3;
is_deeply([ sort keys %svc3 ], [ sort qw(wa link invoice pay post ig draft label hook) ],
	'sandbox=on: every step, http included, recorded in the outbox');
my ($hook3) = grep { $_->{node_id} eq 'hook' } @ob3;
is("$hook3->{service}.$hook3->{task} $hook3->{method} $hook3->{url}",
	'http.request POST ' . $web->url('/hook'), 'sandbox=on: the http request as it would have been sent');
for my $o (@ob3)
{
	ok(!has_auth_header($o->{headers}), "sandbox=on outbox $o->{node_id}: no Authorization header");
}

# a named credential that does not exist is no error in sandbox=on
{
	my $run = flow_execute($node,
		action_bp('named-missing-on', action_node('post', 'slack', 'post_message',
			{ channel => '#x', text => 'x' }, credential => 'shop2')));
	is(wait_run($node, $run, 60), 'succeeded', 'sandbox=on: a missing named credential is fine');
}

is(provider_requests() + scalar($web->requests), 0, 'sandbox=on: still nothing sent at the end');
is_deeply([ leaks($node, @SECRETS) ], [], 'no secret (or its base64) in outbox, workflow_logs or runs');

is_deeply([ crash_lines($node) ], [], 'no server process crashed during this test');

done_testing();
