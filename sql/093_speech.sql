--
-- 093_speech: offline speech recognition's SQL surface without audio that
-- needs the recogniser (test/t/026_speech.pl speaks to it): the generated
-- grammar, the audio checks (22023 whether or not flowdb was built with
-- pocketsphinx), the caps and who may call it.
--
\set VERBOSITY default

-- error(sql): "SQLSTATE: message" of a statement expected to fail
CREATE FUNCTION pg_temp.error(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE sql;
	RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;

-- le32(n): n as 4 little-endian bytes
CREATE FUNCTION pg_temp.le32(n bigint) RETURNS bytea LANGUAGE sql AS $$
	SELECT set_byte(set_byte(set_byte(set_byte('\x00000000'::bytea,
		0, (n & 255)::int), 1, ((n >> 8) & 255)::int),
		2, ((n >> 16) & 255)::int), 3, ((n >> 24) & 255)::int)
$$;

-- wav(seconds, claimed): a silent 16 kHz mono 16-bit WAV; the data chunk
-- says "claimed" bytes (NULL: the real size)
CREATE FUNCTION pg_temp.wav(seconds numeric, claimed bigint DEFAULT NULL) RETURNS bytea
LANGUAGE sql AS $$
	SELECT 'RIFF'::bytea || pg_temp.le32(36 + n) || 'WAVEfmt '::bytea
		|| '\x1000000001000100803e0000007d00000200100064617461'::bytea
		|| pg_temp.le32(coalesce(claimed, n)) || decode(repeat('00', n::int), 'hex')
	FROM (SELECT (seconds * 32000)::bigint AS n) s
$$;

-- the grammar: names cleaned and deduplicated, then the fixed rules
SELECT line FROM regexp_split_to_table(
	flowdb.speech_grammar(ARRAY['Ravi', ' ravi ', 'Priya Sharma', NULL, 'रवि', 'O''Brien']),
	E'\n') AS line
WHERE line ~ '^(#JSGF|grammar|<name>|<target>|public)';
-- without names there is no <name> rule
SELECT flowdb.speech_grammar(NULL) ~ '<name>' AS has_names,
       flowdb.speech_grammar('{}') = flowdb.speech_grammar(NULL) AS same;
-- the numbers and the Hinglish order are in it
SELECT flowdb.speech_grammar(NULL) ~ '<number> = <under100> lakh' AS lakh,
       flowdb.speech_grammar('{Ravi}') ~ '<name> ko <amount> ka <thing> <hindi>' AS hinglish;
-- limits on phrases: 22023
SELECT pg_temp.error($$SELECT flowdb.speech_grammar(ARRAY['one two three four five'])$$);
SELECT pg_temp.error($$SELECT flowdb.speech_grammar(ARRAY['ok', repeat('a', 25)])$$);
SELECT pg_temp.error(format('SELECT flowdb.speech_grammar(%L)',
	(SELECT array_agg('n' || chr(97 + i / 26) || chr(97 + i % 26)) FROM generate_series(0, 200) i)));
SELECT pg_temp.error($$SELECT flowdb.speech_grammar('{{a,b},{c,d}}')$$);
SELECT pg_temp.error($$SELECT flowdb.speech_grammar(ARRAY['ravi', repeat(' ', 2000) || 'x'])$$);

-- audio that is not a usable WAV: 22023
SELECT flowdb.transcribe_offline(NULL) IS NULL AS null_in_null_out;
SELECT pg_temp.error($$SELECT flowdb.transcribe_offline('hello world, not audio')$$);
SELECT pg_temp.error($$SELECT flowdb.transcribe_offline('')$$);
SELECT pg_temp.error($$SELECT flowdb.transcribe_offline(pg_temp.wav(0.5, 1000000))$$);
SELECT pg_temp.error($$SELECT flowdb.transcribe_offline(substr(pg_temp.wav(0.5), 1, 30))$$);
SELECT pg_temp.error($$SELECT flowdb.transcribe_offline(pg_temp.wav(0))$$);
-- an MP3 frame header inside RIFF (format tag 0x55)
SELECT pg_temp.error($$SELECT flowdb.transcribe_offline(overlay(pg_temp.wav(0.5) placing '\x5500'::bytea from 21))$$);
-- 8 channels of 16 bits need a block align of 16: a file that says 2
SELECT pg_temp.error($$SELECT flowdb.transcribe_offline(overlay(pg_temp.wav(0.5) placing '\x0800'::bytea from 23))$$);

-- the caps: 30 s by default, and flowdb.speech_max_bytes
SELECT pg_temp.error($$SELECT flowdb.transcribe_offline(pg_temp.wav(31))$$);
SET flowdb.speech_max_seconds = 2;
SELECT pg_temp.error($$SELECT flowdb.transcribe_offline(pg_temp.wav(3))$$);
RESET flowdb.speech_max_seconds;
SET flowdb.speech_max_bytes = '16kB';
SELECT pg_temp.error($$SELECT flowdb.transcribe_offline(pg_temp.wav(1))$$);
RESET flowdb.speech_max_bytes;

-- internal functions: not for PUBLIC (intent_parse calls them as owner)
DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
		CREATE ROLE anon NOLOGIN;
	END IF;
END
$$;
SELECT has_function_privilege('anon', 'flowdb.transcribe_offline(bytea, text[])', 'EXECUTE') AS anon_transcribe,
       has_function_privilege('anon', 'flowdb.speech_grammar(text[])', 'EXECUTE') AS anon_grammar;
SELECT p.proname, p.prosecdef, p.proconfig
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'flowdb' AND p.proname IN ('transcribe_offline', 'speech_grammar')
ORDER BY 1;
-- the settings only a superuser may change
SELECT name, setting, unit, context FROM pg_settings
WHERE name IN ('flowdb.speech_max_seconds', 'flowdb.speech_max_bytes') ORDER BY 1;
