# 026_speech.pl: offline speech recognition (flowdb.transcribe_offline) on
# speech made at test time with espeak-ng and sox (no audio is committed).
#
# - commands in several WAV formats (espeak-ng's own 22050 Hz, sox's 16 kHz
#   mono, 44.1 kHz stereo, 8 kHz 8-bit, 48 kHz float): the transcript has
#   the command words, the contact name and the amount as digits (also
#   lakhs and "twenty five hundred");
# - the names come from the phrases argument: a name not passed is never
#   heard, a name the dictionary lacks (Sunita) still is;
# - one backend reuses its decoder across calls and phrase lists, and keeps
#   working after an error;
# - a role without the grant cannot call it.
# Skipped when espeak-ng or sox is missing or flowdb was built without
# pocketsphinx (sql/093_speech.sql covers the audio checks in any build).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use FlowdbTest;

for my $tool ('espeak-ng', 'sox')
{
	plan skip_all => "$tool is not installed (scripts/deps.sh)"
	  unless system("command -v $tool >/dev/null 2>&1") == 0;
}

my $node = new_node('speech', 'flowdb.workers' => '0');
my $dir = PostgreSQL::Test::Utils::tempdir;
my $names = "'{Ravi,Priya,Amit,Anjali,Kavya,Rohit,Sunita}'";

# speak(TEXT, NAME, SOX_ARGS...): a WAV of espeak-ng saying TEXT, converted
# by sox to the output format SOX_ARGS when given; returns its bytes as a
# bytea literal
sub speak
{
	my ($text, $name, @sox) = @_;
	my $raw = "$dir/$name.raw.wav";
	my $wav = "$dir/$name.wav";
	system('espeak-ng', '-v', 'en-us', '-s', '140', '-w', $raw, $text) == 0
	  or die "espeak-ng failed";
	if (@sox)
	{
		system('sox', $raw, @sox, $wav) == 0 or die "sox failed";
	}
	else
	{
		$wav = $raw;
	}
	open(my $fh, '<:raw', $wav) or die "$wav: $!";
	local $/;
	my $bytes = <$fh>;
	close $fh;
	return "'\\x" . unpack('H*', $bytes) . "'::bytea";
}

sub transcribe
{
	my ($audio, $phrases) = @_;
	$phrases //= $names;
	return $node->safe_psql('postgres',
		"SELECT flowdb.transcribe_offline($audio, $phrases)");
}

my $probe = speak('help', 'probe');
my ($state, $err) = sql_error($node, "SELECT flowdb.transcribe_offline($probe)");
if ($state eq '0A000')
{
	like($err, qr/libpocketsphinx-dev/, 'without pocketsphinx: 0A000 names the packages');
	done_testing();
	exit 0;
}
is($state, '', 'the recogniser is built in') or diag($err);

# a word as a whole word of the transcript
sub has_words
{
	my ($t, $words) = @_;
	return " $t " =~ /\s\Q$words\E\s/;
}

########################################################################
# commands in several formats: command words, name, amount
my @cases = (
	[ 'invoice Ravi five hundred rupees', 'mono16k',
		[ '-r', '16000', '-c', '1', '-b', '16' ], 'invoice', 'ravi', '500' ],
	[ 'send payment link to Priya two thousand five hundred rupees', 'espeak22k',
		[], 'payment link', 'priya', '2500' ],
	[ 'Rohit ko two thousand ka payment link bhejo', 'stereo44k',
		[ '-r', '44100', '-c', '2' ], 'payment link', 'rohit', '2000' ],
	[ 'create an invoice for Anjali of three hundred rupees', 'pcm8',
		[ '-r', '8000', '-b', '8', '-e', 'unsigned-integer' ], 'invoice', 'anjali', '300' ],
	[ 'make an invoice for Kavya of twelve thousand rupees', 'float48k',
		[ '-r', '48000', '-e', 'floating-point', '-b', '32' ], 'invoice', 'kavya', '12000' ],
	# lakhs, and the name after the amount
	[ 'send a payment link of one lakh twenty thousand rupees to Priya', 'lakh',
		[], 'payment link', 'priya', '120000' ],
	[ 'invoice Rohit twenty five hundred rupees', 'hundreds',
		[], 'invoice', 'rohit', '2500' ],
);
for my $c (@cases)
{
	my ($text, $name, $sox, $command, $who, $amount) = @$c;
	my $t = transcribe(speak($text, $name, @$sox));
	note("$name: '$text' -> '$t'");
	ok(has_words($t, $command), "$name: command '$command' in '$t'");
	ok(has_words($t, $who), "$name: name '$who' in '$t'");
	ok(has_words($t, $amount), "$name: amount $amount as digits in '$t'");
}

########################################################################
# names come from the phrases
my $did = speak('did Priya pay', 'did');
is(transcribe($did), 'did priya pay', 'a question about a known name');
unlike(transcribe($did, "'{Ravi,Amit}'"), qr/priya/,
	'a name that is not among the phrases is never heard');
my $sunita = speak('message Sunita', 'sunita');
is(transcribe($sunita), 'message sunita',
	'a name cmudict lacks is recognised from its guessed pronunciation');
is(transcribe(speak('help', 'help'), 'NULL'), 'help', 'no phrases: commands alone');

########################################################################
# one session: the decoder is reused across phrase lists and errors
my $session = $node->safe_psql('postgres', qq{
	SELECT flowdb.transcribe_offline($did, '{Priya}');
	SELECT flowdb.transcribe_offline($sunita, '{Sunita,Neha}');
	DO \$\$ BEGIN PERFORM flowdb.transcribe_offline('not audio');
	EXCEPTION WHEN invalid_parameter_value THEN NULL; END \$\$;
	SELECT flowdb.transcribe_offline($did, '{Priya}');
});
is($session, "did priya pay\nmessage sunita\ndid priya pay",
	'one backend: several grammars in turn, and after an error');

########################################################################
# errors and privileges
($state, $err) = sql_error($node, "SELECT flowdb.transcribe_offline('\\x52494646'::bytea)");
is($state, '22023', 'a cut WAV header is 22023');
($state, $err) = sql_error($node,
	"SET flowdb.speech_max_seconds = 1; SELECT flowdb.transcribe_offline(" . speak('send payment link to Priya two thousand five hundred rupees', 'long') . ")");
is($state, '22023', 'audio over flowdb.speech_max_seconds is 22023');
like($err, qr/the limit is 1 s/, '... and says the limit');
$node->safe_psql('postgres', 'CREATE ROLE tenant LOGIN');
($state, $err) = sql_error($node, "SELECT flowdb.transcribe_offline($probe)",
	extra_params => [ '-U', 'tenant' ]);
is($state, '42501', 'a role without the grant cannot call transcribe_offline');

########################################################################
# a spoken command end to end through intent_parse: a typed first message
# names the customer and is asked for the amount; the spoken answer is
# transcribed in the call (the session's pending name joins the grammar),
# parsed, and completes the invoice, queued as a run
my $res = json_dec($node->safe_psql('postgres', q{
	SET request.jwt.claims = '{"sub": "shop-voice"}';
	SELECT intent_parse('invoice for Ravi', session_id => 'voice-1')}));
is($res->{status}, 'needs_input', 'typed command without an amount: a question');
my $spoken = speak('invoice Ravi five hundred rupees', 'cmd', '-r', '16000', '-c', '1', '-b', '16');
$res = json_dec($node->safe_psql('postgres', qq{
	SET request.jwt.claims = '{"sub": "shop-voice"}';
	SELECT intent_parse(audio => $spoken, session_id => 'voice-1')}));
like($res->{analysis}{transcript}, qr/invoice ravi 500/, 'spoken command: the transcript is returned')
  or diag(json_enc($res));
is($res->{analysis}{intent}, 'CREATE_INVOICE', 'spoken command: the intent');
is($res->{analysis}{entities}{amount}, 500, 'spoken command: the amount as a number');
ok(defined $res->{analysis}{run_id}, 'spoken command: the invoice is queued as a run')
  or diag(json_enc($res));
is($node->safe_psql('postgres',
		"SELECT blueprint #>> '{nodes,0,task}' FROM flowdb.runs WHERE id = '"
		  . ($res->{analysis}{run_id} // '00000000-0000-0000-0000-000000000000') . "'"),
	'create_invoice', 'the run creates the invoice');

$node->stop;
done_testing();
