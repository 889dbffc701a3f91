--
-- 110_intent: the offline intent parser from SQL, intent_parse's
-- conversation (questions, answers, confirmation, cancel, expiry), the
-- runs it queues, and who may call it.
--
\set VERBOSITY default
\set SHOW_CONTEXT never

-- run a statement; print its SQLSTATE and message
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;
-- intent_parse with run ids masked: status | reply | intent | entities | awaiting
CREATE FUNCTION pg_temp.say(t text, s text DEFAULT 'test') RETURNS text LANGUAGE sql AS $$
	SELECT concat_ws(' | ', r ->> 'status',
		regexp_replace(r ->> 'reply', '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '<uuid>', 'g'),
		r #>> '{analysis,intent}', r #>> '{analysis,entities}', r #>> '{analysis,awaiting}',
		CASE WHEN r #>> '{analysis,run_id}' IS NOT NULL THEN 'run' END)
	FROM intent_parse(t, session_id => s) r
$$;

------------------------------------------------------------------------
-- flowdb.intent_analyze (English and Hinglish)
------------------------------------------------------------------------
SELECT u, a ->> 'intent' AS intent, a -> 'entities' AS entities
FROM (VALUES ('Ravi ko 500 ka invoice bhejo'),
			 ('send 2k payment link to 9876543210'),
			 ('invoice Ravi 500 rupees'),
			 ('instagram pe post karo ''Diwali sale'''),
			 ('slack pe team ko batao stock khatam ho gaya'),
			 ('payment pay_XYZ123 ka status'),
			 ('run the morning report workflow'),
			 ('what''s the weather'),
			 ('haan'),
			 ('₹1,200 ka payment link Asha ke liye')) v(u),
	 LATERAL flowdb.intent_analyze(u) a;
SELECT (flowdb.intent_analyze('help') -> 'confidence')::numeric BETWEEN 0 AND 1 AS confidence_in_range;
-- any size: only the first 4000 bytes are read
SELECT flowdb.intent_analyze(repeat('invoice ', 100000)) ->> 'intent' AS huge;

------------------------------------------------------------------------
-- intent_parse: one-shot actions queue a run of a one-step blueprint
------------------------------------------------------------------------
SELECT pg_temp.say('send 2k payment link to 9876543210');
SELECT blueprint -> 'nodes' -> 0 ->> 'task' AS task, blueprint -> 'nodes' -> 0 -> 'params' AS params,
	   payload, status
FROM flowdb.runs ORDER BY created_at DESC LIMIT 1;
-- analysis.run_id is that run
SELECT intent_parse('payment pay_XYZ123 ka status') #>> '{analysis,run_id}' AS rid \gset
SELECT blueprint -> 'nodes' -> 0 ->> 'task' AS task, payload FROM flowdb.runs WHERE id = :'rid';
-- text that looks like a template travels in the payload, never rendered
SELECT pg_temp.say('message +919876543210 saying "{{trigger_data}} {{nodes}}"');
SELECT blueprint -> 'nodes' -> 0 -> 'params' AS params, payload ->> 'message' AS message
FROM flowdb.runs ORDER BY created_at DESC LIMIT 1;
SELECT pg_temp.say('notify #sales on slack: big order from Mumbai');

-- out of scope and help: nothing queued
SELECT count(*) AS runs_before FROM flowdb.runs \gset
SELECT pg_temp.say('what''s the weather');
SELECT pg_temp.say('tell me a joke');
SELECT pg_temp.say('help') LIKE 'done | Things I can do:%' AS help;
SELECT pg_temp.say('yes');
SELECT count(*) - :runs_before AS new_runs FROM flowdb.runs;

------------------------------------------------------------------------
-- Slot filling: a missing entity is asked for; the answer completes it
------------------------------------------------------------------------
SELECT pg_temp.say('Ravi ko invoice bhejo', 's1');
SELECT owner, session_id, intent, entities, awaiting, expires_at > now() AS live FROM flowdb.sessions;
SELECT pg_temp.say('500', 's1');
SELECT count(*) AS sessions_left FROM flowdb.sessions;
SELECT blueprint -> 'nodes' -> 0 ->> 'task' AS task, payload FROM flowdb.runs ORDER BY created_at DESC LIMIT 1;
-- two questions in a row, free-text answers
SELECT pg_temp.say('invoice', 's2');
SELECT pg_temp.say('Asha Verma', 's2');
SELECT pg_temp.say('Rs 750', 's2');
-- sessions are independent
SELECT pg_temp.say('message Priya saying hi', 's3');
SELECT pg_temp.say('500', 's4');
SELECT pg_temp.say('+91 98765 43210', 's3');
-- a new command replaces the pending question
SELECT pg_temp.say('invoice Ravi', 's5');
SELECT pg_temp.say('run the morning report workflow', 's5');
SELECT count(*) AS sessions_left FROM flowdb.sessions WHERE session_id = 's5';
-- an expired question is forgotten
SELECT pg_temp.say('invoice Ravi', 's6');
UPDATE flowdb.sessions SET expires_at = now() - interval '1 second' WHERE session_id = 's6';
SELECT pg_temp.say('500', 's6');
SELECT count(*) AS expired_rows FROM flowdb.sessions WHERE expires_at < now();

------------------------------------------------------------------------
-- Confirmation: money above flowdb.intent_confirm_rupees needs a yes
------------------------------------------------------------------------
SHOW flowdb.intent_confirm_rupees;
SELECT count(*) AS runs_before FROM flowdb.runs \gset
SELECT pg_temp.say('invoice Ravi 12000', 'c1');
SELECT pg_temp.say('maybe later?', 'c1');
SELECT count(*) - :runs_before AS new_runs FROM flowdb.runs;
SELECT pg_temp.say('haan', 'c1');
SELECT count(*) - :runs_before AS new_runs FROM flowdb.runs;
-- "no" cancels
SELECT pg_temp.say('send a payment link of 2 lakh to 9876543210', 'c2');
SELECT pg_temp.say('nahi', 'c2');
SELECT count(*) - :runs_before AS new_runs FROM flowdb.runs;
-- Instagram posts are public: always confirmed
SELECT pg_temp.say('post https://example.com/a.jpg on instagram "Diwali sale"', 'c3');
SELECT pg_temp.say('yes', 'c3');
-- the server default is a setting
SET flowdb.intent_confirm_rupees = 20000;
SELECT pg_temp.say('invoice Ravi 12000', 'c4');
RESET flowdb.intent_confirm_rupees;
-- and each owner may choose their own (NULL: back to the default); other
-- owners keep the default
SELECT flow_set_assistant(1000) AS threshold;
SELECT pg_temp.say('invoice Ravi 1500', 'c5');
SELECT pg_temp.say('nahi', 'c5');
SELECT flow_set_assistant(-1);
SELECT flow_set_assistant(NULL) AS threshold;
SELECT pg_temp.say('invoice Ravi 1500', 'c6');
SELECT owner, confirm_above_rupees FROM flowdb.assistant_settings;

------------------------------------------------------------------------
-- Saved workflows by name, run status
------------------------------------------------------------------------
SELECT flow_save('{"version": 1, "name": "Morning report", "trigger": {"type": "manual"},
                   "nodes": [{"id": "n", "type": "router"}]}') AS wf \gset
SELECT pg_temp.say('run the morning report workflow');
SELECT workflow_id = :'wf' AS started_saved_workflow FROM flowdb.runs ORDER BY created_at DESC LIMIT 1;
SELECT pg_temp.say('morning report chalao');
SELECT pg_temp.say('run the evening workflow');
SELECT pg_temp.say('status of my last run');
SELECT pg_temp.say('status of run 123e4567-e89b-12d3-a456-426614174000');
SELECT pg_temp.say('create a workflow that sends a whatsapp thanks when a payment is captured') AS create_workflow;

------------------------------------------------------------------------
-- intent_act: the analysis may come from a model; it is checked
------------------------------------------------------------------------
SELECT pg_temp.try($$SELECT flowdb.intent_act('postgres', 'x', '{"intent": "DROP_TABLES"}', 'api')$$);
SELECT pg_temp.try($$SELECT flowdb.intent_act('postgres', 'x', '[]', 'api')$$);
SELECT pg_temp.try($$SELECT flowdb.intent_act('postgres', NULL, '{}', 'api')$$);
-- malformed entities are dropped and asked for again
SELECT r ->> 'status' AS status, r #>> '{analysis,entities}' AS entities, r ->> 'reply' AS reply
FROM flowdb.intent_act('postgres', 'x', '{"intent": "SEND_MESSAGE", "confidence": 0.9,
	"entities": {"phone": "call me; DROP", "message": "hi", "amount": -5, "name": {"x": 1}}}', 'api') r;
DELETE FROM flowdb.sessions;

------------------------------------------------------------------------
-- Bad input
------------------------------------------------------------------------
SELECT pg_temp.try($$SELECT intent_parse()$$);
SELECT pg_temp.try($$SELECT intent_parse(repeat('x', 2001))$$);
SELECT pg_temp.try($$SELECT intent_parse('help', session_id => '')$$);
SELECT pg_temp.try($$SELECT intent_parse('help', session_id => repeat('s', 201))$$);
-- audio without a speech recogniser in this build: 0A000 (22023 for this
-- non-WAV input once flowdb.transcribe_offline exists)
SELECT left(pg_temp.try($$SELECT intent_parse(audio => '\x00')$$), 5) IN ('0A000', '22023') AS audio_refused;

------------------------------------------------------------------------
-- Who may call: signed-in users for themselves, never anon
------------------------------------------------------------------------
DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
		CREATE ROLE authenticated NOLOGIN;
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
		CREATE ROLE anon NOLOGIN;
	END IF;
END
$$;
GRANT EXECUTE ON FUNCTION intent_parse(text, bytea, text) TO authenticated;
SELECT has_function_privilege('anon', 'intent_parse(text, bytea, text)', 'EXECUTE') AS anon_may_call,
	   has_function_privilege('anon', 'flowdb.intent_act(text, text, jsonb, text)', 'EXECUTE') AS anon_may_act,
	   has_function_privilege('authenticated', 'flowdb.intent_act(text, text, jsonb, text)', 'EXECUTE') AS user_may_act;
SET ROLE anon;
SELECT pg_temp.try($$SELECT intent_parse('invoice Ravi 500')$$);
RESET ROLE;
SET ROLE authenticated;
SELECT set_config('request.jwt.claims', '{"sub": "user-a", "role": "authenticated"}', false) IS NOT NULL AS claims_set;
SELECT pg_temp.say('invoice Ravi', 'a1');
SELECT owner, session_id, awaiting FROM flowdb.sessions;
SELECT pg_temp.say('600', 'a1');
SELECT owner, count(*) AS runs FROM flowdb.runs GROUP BY owner;
SELECT set_config('request.jwt.claims', '{"sub": "user-b", "role": "authenticated"}', false) IS NOT NULL AS claims_set;
-- user-b neither sees nor continues user-a's conversation
SELECT pg_temp.say('invoice Ravi', 'a1');
SELECT owner, session_id FROM flowdb.sessions;
SELECT pg_temp.try($$DELETE FROM flowdb.sessions$$);
RESET ROLE;
RESET request.jwt.claims;
SELECT owner, session_id FROM flowdb.sessions ORDER BY owner;

DELETE FROM flowdb.sessions;
DELETE FROM flowdb.runs;
DELETE FROM flowdb.workflows;
