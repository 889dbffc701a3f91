--
-- 090_llm: the SQL half of the LLM path (no workers in this suite): the
-- server-wide key, flowdb.llm_configured, the drafting row and run of
-- flowdb.draft_start_llm, the intent run of flowdb.intent_start_llm, and
-- what the runs_llm_done trigger makes of a finished run (simulated here
-- by setting the run's final state as the worker would).
--
\set VERBOSITY default
\set SHOW_CONTEXT never

CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;

-- the key: owner's credential, else the server-wide one (owner '*')
SELECT flowdb.llm_configured('shop-1') AS configured;
SELECT pg_temp.try($$SELECT flow_set_server_credential('whatsapp', 'default', '{}')$$);
SELECT pg_temp.try($$SELECT flow_set_server_credential('llm', 'default', '"key"')$$);
SELECT flow_set_server_credential('llm', 'default', '{"api_key": "sk-server"}');
SELECT flowdb.llm_configured('shop-1') AS configured;
-- the worker resolves it for any owner without a key of their own
SELECT flowdb.credential_secret('shop-1', 'llm', 'default') ->> 'api_key' AS key;
INSERT INTO flowdb.credentials (owner, service, name, secret)
VALUES ('shop-2', 'llm', 'default', '{"api_key": "sk-shop-2"}');
SELECT flowdb.credential_secret('shop-2', 'llm', 'default') ->> 'api_key' AS key;
-- only llm falls back
INSERT INTO flowdb.credentials (owner, service, name, secret)
VALUES ('*', 'slack', 'default', '{"bot_token": "xoxb-server"}');
SELECT flowdb.credential_secret('shop-1', 'slack', 'default') AS slack;
DELETE FROM flowdb.credentials WHERE owner = '*' AND service = 'slack';
SELECT flow_set_server_credential('llm', 'default', NULL);
SELECT flowdb.llm_configured('shop-1') AS shop1, flowdb.llm_configured('shop-2') AS shop2;

-- internal: not callable by clients
SELECT p.proname, has_function_privilege('public', p.oid, 'EXECUTE') AS public_may_call
FROM pg_proc p
WHERE p.pronamespace = 'flowdb'::regnamespace
  AND p.proname IN ('llm_configured', 'draft_start_llm',
                    'intent_start_llm', 'start_purpose_run', 'draft_finish',
                    'intent_finish', 'llm_run_done')
ORDER BY 1;

-- a drafting row and its run
SELECT flowdb.draft_start_llm('shop-1', '  When a payment is captured,
   thank the customer on WhatsApp  ') AS wid \gset
SELECT name, blueprint IS NULL AS no_blueprint, active, draft_status, draft_problems,
       drafted_by, prompt IS NOT NULL AS has_prompt
FROM flowdb.workflows WHERE id = :'wid';
SELECT draft_run_id AS rid FROM flowdb.workflows WHERE id = :'wid' \gset
SELECT owner, purpose, status, payload ->> 'prompt' ~ '^  When' AS payload_prompt,
       jsonb_path_query_array(blueprint, '$.nodes[*].task') AS tasks,
       blueprint #> '{edges,0,condition}' AS repair_when
FROM flowdb.runs WHERE id = :'rid';
-- a row needs a blueprint unless it is drafting or failed
SELECT pg_temp.try($$UPDATE flowdb.workflows SET draft_status = 'ready' WHERE draft_status = 'drafting'$$);
SELECT pg_temp.try($$SELECT flowdb.draft_start_llm('shop-1', '   ')$$);
SELECT pg_temp.try($$SELECT flowdb.draft_start_llm('shop-1', repeat('x', 20001))$$);

-- the run ends with a valid draft: ready, named after the blueprint
\set good '{"version": 1, "name": "Thank payers", "trigger": {"type": "event", "event": "razorpay.payment.captured"}, "nodes": [{"id": "thank", "type": "action", "service": "whatsapp", "task": "send_message", "params": {"to": "{{trigger_data.contact}}", "body": "Thanks!"}}], "edges": []}'
UPDATE flowdb.runs SET status = 'succeeded', finished_at = now(),
	state = jsonb_build_object('nodes', jsonb_build_object(
		'draft', jsonb_build_object('status', 'succeeded', 'output', jsonb_build_object(
			'blueprint', :'good'::jsonb, 'valid', true, 'problems', '[]'::jsonb, 'model', 'gpt-x')),
		'repair', jsonb_build_object('status', 'skipped')))
WHERE id = :'rid';
SELECT name, blueprint = :'good'::jsonb AS same_blueprint, active, draft_status, draft_problems, drafted_by
FROM flowdb.workflows WHERE id = :'wid';

-- the repair's answer wins over the first one; a blueprint the model's
-- step called valid is validated again in SQL: never ready when invalid
SELECT flowdb.draft_start_llm('shop-1', 'email them') AS wid \gset
SELECT draft_run_id AS rid FROM flowdb.workflows WHERE id = :'wid' \gset
UPDATE flowdb.runs SET status = 'succeeded', finished_at = now(),
	state = jsonb_build_object('nodes', jsonb_build_object(
		'draft', jsonb_build_object('status', 'succeeded', 'output', jsonb_build_object(
			'blueprint', :'good'::jsonb, 'valid', true, 'problems', '[]'::jsonb)),
		'repair', jsonb_build_object('status', 'succeeded', 'output', jsonb_build_object(
			'blueprint', '{"version": 1, "name": "x", "trigger": {"type": "manual"}, "nodes": [{"id": "m", "type": "action", "service": "gmail", "task": "send"}], "edges": []}'::jsonb,
			'valid', true, 'problems', '[]'::jsonb, 'model', 'gpt-x'))))
WHERE id = :'rid';
SELECT blueprint IS NULL AS no_blueprint, draft_status, draft_problems
FROM flowdb.workflows WHERE id = :'wid';

-- the model's own problems when it stayed invalid
SELECT flowdb.draft_start_llm('shop-1', 'email them') AS wid \gset
SELECT draft_run_id AS rid FROM flowdb.workflows WHERE id = :'wid' \gset
UPDATE flowdb.runs SET status = 'succeeded', finished_at = now(),
	state = '{"nodes": {"draft": {"status": "succeeded", "output": {"blueprint": null, "valid": false, "problems": ["$: the answer is not a JSON object"]}}, "repair": {"status": "succeeded", "output": {"blueprint": null, "valid": false, "problems": ["$.nodes[0].service: unknown service \"gmail\""]}}}}'
WHERE id = :'rid';
SELECT draft_status, draft_problems FROM flowdb.workflows WHERE id = :'wid';

-- a failed run (HTTP errors after retries) and a canceled one
SELECT flowdb.draft_start_llm('shop-1', 'a') AS wid \gset
SELECT draft_run_id AS rid FROM flowdb.workflows WHERE id = :'wid' \gset
UPDATE flowdb.runs SET status = 'failed', finished_at = now(), error = 'LLM HTTP 401 invalid_api_key: Incorrect API key provided'
WHERE id = :'rid';
SELECT draft_status, draft_problems FROM flowdb.workflows WHERE id = :'wid';
SELECT flowdb.draft_start_llm('shop-1', 'b') AS wid \gset
SELECT draft_run_id AS rid FROM flowdb.workflows WHERE id = :'wid' \gset
UPDATE flowdb.runs SET status = 'canceled', finished_at = now() WHERE id = :'rid';
SELECT draft_status, draft_problems FROM flowdb.workflows WHERE id = :'wid';

-- intents: text, audio, bad input
SELECT flowdb.intent_start_llm('shop-1', 'Ravi ko 500 ka invoice bhejo', NULL, 's1') AS rid \gset
SELECT purpose, payload, jsonb_path_query_array(blueprint, '$.nodes[*].task') AS tasks
FROM flowdb.runs WHERE id = :'rid';
UPDATE flowdb.runs SET status = 'succeeded', finished_at = now(),
	state = '{"nodes": {"parse": {"status": "succeeded", "output": {"intent": "CREATE_INVOICE", "entities": {"name": "Ravi", "amount": 500}, "confidence": 0.9, "model": "gpt-x"}}}}'
WHERE id = :'rid';
-- flowdb.intent_act takes the model's analysis: the invoice is queued as
-- a run of its own, named in the answer
SELECT output ->> 'status' AS status, output -> 'analysis' -> 'entities' AS entities,
       output -> 'analysis' ->> 'intent' AS intent,
       (SELECT r.blueprint #>> '{nodes,0,task}' FROM flowdb.runs r
        WHERE r.id = (o.output -> 'analysis' ->> 'run_id')::uuid) AS action_task,
       position((o.output -> 'analysis' ->> 'run_id') IN o.output ->> 'reply') > 0 AS reply_names_run
FROM flowdb.runs o WHERE id = :'rid';
SELECT flowdb.intent_start_llm('shop-1', NULL, '\x52494646'::bytea, 's2', 'whatsapp') AS rid \gset
SELECT payload, blueprint -> 'nodes' -> 0 -> 'params' AS transcribe_params,
       blueprint -> 'edges' AS edges
FROM flowdb.runs WHERE id = :'rid';
UPDATE flowdb.runs SET status = 'succeeded', finished_at = now(),
	state = '{"nodes": {"transcribe": {"status": "succeeded", "output": {"text": "Ravi ko 500 ka invoice bhejo"}}, "parse": {"status": "succeeded", "output": {"intent": "UNKNOWN", "entities": {}, "confidence": 0}}}}'
WHERE id = :'rid';
SELECT output -> 'analysis' AS analysis FROM flowdb.runs WHERE id = :'rid';
SELECT flowdb.intent_start_llm('shop-1', 'x', NULL, NULL) AS rid \gset
UPDATE flowdb.runs SET status = 'failed', finished_at = now(), error = 'LLM HTTP 500' WHERE id = :'rid';
SELECT output FROM flowdb.runs WHERE id = :'rid';
SELECT pg_temp.try($$SELECT flowdb.intent_start_llm('shop-1', NULL, NULL, NULL)$$);
SELECT pg_temp.try($$SELECT flowdb.intent_start_llm('shop-1', NULL, ''::bytea, NULL)$$);
SELECT pg_temp.try($$SELECT flowdb.intent_start_llm('shop-1', repeat('x', 4001), NULL, NULL)$$);

-- runs without a purpose are left alone
SELECT flow_execute('{"version": 1, "name": "plain", "trigger": {"type": "manual"}, "nodes": [{"id": "r", "type": "router"}], "edges": []}') AS rid \gset
UPDATE flowdb.runs SET status = 'succeeded', finished_at = now() WHERE id = :'rid';
SELECT purpose, output FROM flowdb.runs WHERE id = :'rid';

DELETE FROM flowdb.runs WHERE owner IN ('shop-1', 'shop-2') OR id = :'rid';
DELETE FROM flowdb.workflows WHERE owner = 'shop-1';
DELETE FROM flowdb.credentials WHERE owner = 'shop-2';
