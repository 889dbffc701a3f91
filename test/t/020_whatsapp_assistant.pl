# 020_whatsapp_assistant.pl: an end-to-end WhatsApp conversation that needs
# two messages, through the worker, in sandbox mode.
#
# The shop owner writes "Ravi ko payment link bhejo" from one of the
# credential's owner_numbers (signed like Twilio does); the assistant asks
# for the amount (a whatsapp.send_message run); the answer "1500" creates
# the payment link (a razorpay.create_payment_link run) and a second reply.
# The worker runs all three; the sandbox outbox holds the payment link
# request (amount in paise) and both replies to the owner's number;
# flowdb.messages has the four messages; the link's run output has the
# short URL.  A delivery with a bad signature is refused (28000) and
# writes nothing; a replay of the second message does nothing.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Digest::SHA qw(hmac_sha1_base64);
use FindBin;
use lib $FindBin::RealBin;
use FlowdbTest;

my $PUBLIC = 'https://shop.example.com';
my $TOKEN  = 'twilio-auth-token-a1';
my $SID    = 'AC00000000000000000000000000000a1';
my $OWNER  = '+919876543210';

my $node = new_node('whatsapp', 'flowdb.sandbox' => 'on', 'flowdb.public_url' => $PUBLIC);

$node->safe_psql('postgres', qq{
	SELECT set_config('request.jwt.claims', '{"sub": "shop-a"}', false);
	SELECT flow_set_credential('whatsapp', 'default',
		'{"account_sid": "$SID", "auth_token": "$TOKEN", "from": "+14155238886",
		  "owner_numbers": ["+91 98765 43210"]}');
});

# twilio_signature(FIELDS, TOKEN): X-Twilio-Signature as Twilio computes it
sub twilio_signature
{
	my ($f, $token) = @_;
	my $data = "$PUBLIC/rpc/whatsapp_webhook";
	$data .= $_ . $f->{$_} for sort keys %$f;
	my $sig = hmac_sha1_base64($data, $token);
	$sig .= '=' while length($sig) % 4;
	return $sig;
}

# deliver(FIELDS, SIGNATURE): call whatsapp_webhook as PostgREST does;
# returns the decoded answer
sub deliver
{
	my ($f, $sig) = @_;
	my $headers = json_enc({ 'x-twilio-signature' => $sig });
	$headers =~ s/'/''/g;
	my $out = $node->safe_psql('postgres', qq{
		BEGIN;
		SELECT set_config('request.headers', '$headers', true) IS NULL;
		SELECT whatsapp_webhook(} . sql_json($f) . qq{::json);
		COMMIT;
	});
	my @lines = grep { /^\{/ } split /\n/, $out;
	return json_dec($lines[-1]);
}

sub fields
{
	my ($msid, $body) = @_;
	return { AccountSid => $SID, MessageSid => $msid, From => "whatsapp:$OWNER",
			 To => 'whatsapp:+14155238886', Body => $body, NumMedia => '0', ProfileName => 'Shop' };
}

# a forged delivery: refused, nothing written
my $f0 = fields('SM0000000000000000000000000000000', 'send a payment link of 90000 to 9999999999');
my ($state) = sql_error($node, qq{
	BEGIN;
	SELECT set_config('request.headers', '{"x-twilio-signature": "AAAAAAAAAAAAAAAAAAAAAAAAAAA="}', true);
	SELECT whatsapp_webhook(} . sql_json($f0) . qq{::json);
	COMMIT;
});
is($state, '28000', 'bad signature: 28000');
is($node->safe_psql('postgres',
		'SELECT (SELECT count(*) FROM flowdb.messages) + (SELECT count(*) FROM flowdb.runs)'),
	'0', 'bad signature: nothing written');

# message 1: no amount -> a question, sent back through WhatsApp
my $f1 = fields('SM1111111111111111111111111111111', 'Ravi ko payment link bhejo');
my $a1 = deliver($f1, twilio_signature($f1, $TOKEN));
is($a1->{status}, 'ok', 'first message accepted');
is($a1->{assistant}{status}, 'needs_input', 'assistant asks');
like($a1->{assistant}{reply}, qr/How much/, 'the question asks for the amount');
is(wait_run($node, $a1->{reply_run_id}), 'succeeded', 'question sent by the worker');

# message 2: the amount -> the payment link run and a second reply
my $f2 = fields('SM2222222222222222222222222222222', '1500');
my $a2 = deliver($f2, twilio_signature($f2, $TOKEN));
is($a2->{assistant}{status}, 'processing', 'assistant acts');
my $link_run = $a2->{assistant}{analysis}{run_id};
ok($link_run, 'the action is a run');
is_deeply($a2->{assistant}{analysis}{entities}, { name => 'Ravi', amount => 1500, currency => 'INR' },
	'entities gathered over two messages');
is(wait_run($node, $link_run), 'succeeded', 'payment link run succeeded (sandbox)');
is(wait_run($node, $a2->{reply_run_id}), 'succeeded', 'reply sent by the worker');
like($node->safe_psql('postgres',
		"SELECT state #>> '{nodes,link,output,short_url}' FROM flowdb.runs WHERE id = '$link_run'"),
	qr{^https://}, 'the run output holds the link');

# the sandbox outbox: the payment link request, the two replies and the
# link itself sent back by the link run's reply step; nothing else
my $outbox = query_json($node, q{
	SELECT jsonb_agg(jsonb_build_object('service', service, 'task', task, 'owner', owner,
										'run_id', run_id, 'body', body) ORDER BY id)
	FROM flowdb.outbox});
is(scalar @$outbox, 4, 'four requests recorded');
my @links   = grep { $_->{task} eq 'create_payment_link' } @$outbox;
my @replies = grep { $_->{task} eq 'send_message' } @$outbox;
is(scalar @links, 1, 'one payment link request');
like($links[0]{body}, qr/"amount"\s*:\s*150000\b/, 'amount in paise');
is(scalar @replies, 3, 'three replies');
like($_->{body}, qr/To=whatsapp%3A%2B919876543210/, 'reply goes to the owner') for @replies;
my ($question) = grep { $_->{run_id} eq $a1->{reply_run_id} } @replies;
my ($done)     = grep { $_->{run_id} eq $a2->{reply_run_id} } @replies;
my ($result)   = grep { $_->{run_id} eq $link_run } @replies;
like($question->{body}, qr/How/, 'first reply is the question');
like($done->{body}, qr/payment/, 'second reply says what is being done');
like($result->{body}, qr/Payment\+link\+for\+Rs\+1500.*https/, 'the link is sent back to the owner');
is_deeply([ map { $_->{owner} } @$outbox ], [ ('shop-a') x 4 ], 'all in the shop\'s name');

# flowdb.messages: in, out, in, out (the answer), out (the link's step)
is($node->safe_psql('postgres',
		"SELECT string_agg(direction || ':' || status, ',' ORDER BY id) FROM flowdb.messages"),
	'in:received,out:queued,in:received,out:queued,out:queued', 'messages recorded both ways');

# Twilio retries message 2: nothing happens again
my $a3 = deliver($f2, twilio_signature($f2, $TOKEN));
is($a3->{status}, 'duplicate', 'replayed MessageSid is a duplicate');
is($node->safe_psql('postgres', 'SELECT count(*) FROM flowdb.runs'), '3', 'no new run');

$node->stop;
done_testing();
