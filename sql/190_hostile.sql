--
-- 190_hostile: every function a signed-in client can call, fed hostile
-- input as PostgREST would pass it: SET ROLE authenticated with a JWT in
-- request.jwt.claims.  For each case the table below says which SQLSTATE
-- is expected ('ok' when the input is legal and must be stored as plain
-- data).  The runner executes each case in its own subtransaction, as the
-- attacker, and reports the SQLSTATE, the start of the message, and
-- whether any flowdb table changed (it must not, for a refused call).
-- To cover a new function, add rows to pg_temp.hostile (and its name to
-- the coverage check at the end).
--
\set VERBOSITY default
\set SHOW_CONTEXT never

-- the victim's data: another owner's workflow and run, and a canary table
-- that injection-shaped input must not reach
CREATE TABLE public.canary (x int);
INSERT INTO public.canary VALUES (1);
SELECT set_config('request.jwt.claims', '{"sub": "victim", "role": "authenticated"}', false) IS NOT NULL AS claims_set;
SET ROLE authenticated;
CREATE TEMP TABLE victim AS
SELECT flow_save('{"version": 1, "name": "v", "trigger": {"type": "manual"},
	"nodes": [{"id": "a", "type": "action", "service": "http", "task": "request",
	           "params": {"url": "https://example.com", "method": "GET"}}]}') AS wf;
RESET ROLE;
ALTER TABLE victim ADD COLUMN run uuid;
SET ROLE authenticated;
UPDATE victim SET run = flow_run(wf, '{}');
RESET ROLE;

-- the attacker's own workflow and (queued) run
SELECT set_config('request.jwt.claims', '{"sub": "mallory-jwt", "role": "authenticated"}', false) IS NOT NULL AS claims_set;
SET ROLE authenticated;
CREATE TEMP TABLE mine AS
SELECT flow_save('{"version": 1, "name": "m", "trigger": {"type": "manual"},
	"nodes": [{"id": "a", "type": "action", "service": "http", "task": "request",
	           "params": {"url": "https://example.com", "method": "GET"}}]}') AS wf;
RESET ROLE;
ALTER TABLE mine ADD COLUMN run uuid;
SET ROLE authenticated;
UPDATE mine SET run = flow_run(wf, '{}');
RESET ROLE;
GRANT SELECT ON victim, mine TO authenticated;

-- a valid blueprint to wrap hostile parts in
CREATE FUNCTION pg_temp.bp(extra jsonb DEFAULT '{}') RETURNS jsonb LANGUAGE sql AS $$
	SELECT '{"version": 1, "name": "h", "trigger": {"type": "manual"},
		"nodes": [{"id": "a", "type": "action", "service": "http", "task": "request",
		           "params": {"url": "https://example.com", "method": "GET"}}]}'::jsonb || extra
$$;
-- JSON nested n levels deep: [[[...]]]
CREATE FUNCTION pg_temp.nested(n int) RETURNS jsonb LANGUAGE sql AS $$
	SELECT (repeat('[', n) || repeat(']', n))::jsonb
$$;
GRANT EXECUTE ON FUNCTION pg_temp.bp(jsonb), pg_temp.nested(int) TO PUBLIC;

-- the cases: function, what is hostile, the call, the expected SQLSTATE
CREATE TEMP TABLE hostile (id serial, fn text, kind text, call text, want text);
INSERT INTO hostile (fn, kind, call, want) VALUES
-- flow_validate (open to everyone)
('flow_validate', 'oversized', $$SELECT flow_validate(pg_temp.bp(jsonb_build_object('pad', repeat('x', 300000))))$$, '54000'),
('flow_validate', 'nested', $$SELECT flow_validate(pg_temp.bp(jsonb_build_object('pad', pg_temp.nested(5000))))$$, '54000'),
('flow_validate', 'wrong type', $$SELECT flow_validate('"a string"')$$, 'ok'),
('flow_validate', 'null', $$SELECT flow_validate(NULL)$$, 'ok'),
-- flow_execute
('flow_execute', 'oversized blueprint', $$SELECT flow_execute(pg_temp.bp(jsonb_build_object('pad', repeat('x', 300000))))$$, '54000'),
('flow_execute', 'oversized payload', $$SELECT flow_execute(pg_temp.bp(), jsonb_build_object('x', repeat('y', 2 * 1024 * 1024)))$$, '54000'),
('flow_execute', 'nested blueprint', $$SELECT flow_execute(pg_temp.bp(jsonb_build_object('pad', pg_temp.nested(2000))))$$, '54000'),
('flow_execute', 'nested payload', $$SELECT flow_execute(pg_temp.bp(), jsonb_build_object('x', pg_temp.nested(2000)))$$, '54000'),
('flow_execute', 'wrong type blueprint', $$SELECT flow_execute('[1, 2, 3]')$$, '22023'),
('flow_execute', 'wrong type node', $$SELECT flow_execute(pg_temp.bp('{"nodes": [{"id": 1, "type": ["action"]}]}'))$$, '22023'),
('flow_execute', 'null blueprint', $$SELECT flow_execute(NULL)$$, '22004'),
('flow_execute', 'invalid UTF-8', $$SELECT flow_execute(convert_from('\x7b226e616d65223a22ff227d'::bytea, 'UTF8')::jsonb)$$, '22021'),
('flow_execute', 'NUL escape', $$SELECT flow_execute(pg_temp.bp(), '{"x": "\u0000"}')$$, '22P05'),
('flow_execute', 'injection in template', $$SELECT flow_execute(pg_temp.bp('{"nodes": [{"id": "a", "type": "action", "service": "http", "task": "request", "params": {"url": "https://example.com/{{trigger_data.x''); DROP TABLE public.canary; --}}", "method": "GET"}}]}'))$$, '22023'),
-- a file:// URL passes validation (URLs may be templates) and is refused
-- when the step runs (http tool: http and https only; curl protocols too)
('flow_execute', 'file URL (refused at run time)', $$SELECT flow_execute(pg_temp.bp('{"nodes": [{"id": "a", "type": "action", "service": "http", "task": "request", "params": {"url": "file:///etc/passwd", "method": "GET"}}]}')) IS NOT NULL$$, 'ok'),
-- flow_save
('flow_save', 'oversized', $$SELECT flow_save(pg_temp.bp(jsonb_build_object('pad', repeat('x', 300000))))$$, '54000'),
('flow_save', 'nested', $$SELECT flow_save(pg_temp.bp(jsonb_build_object('pad', pg_temp.nested(2000))))$$, '54000'),
('flow_save', 'wrong type name', $$SELECT flow_save(pg_temp.bp('{"name": {"a": 1}}'))$$, '22023'),
('flow_save', 'null', $$SELECT flow_save(NULL)$$, '22004'),
('flow_save', 'injection-shaped name', $$SELECT flow_save(pg_temp.bp('{"name": "x''); DROP TABLE public.canary; --"}')) IS NOT NULL$$, 'ok'),
-- flow_run
('flow_run', 'other owner''s workflow', $$SELECT flow_run((SELECT wf FROM victim))$$, 'P0002'),
('flow_run', 'null id', $$SELECT flow_run(NULL)$$, '22004'),
('flow_run', 'not a uuid', $$SELECT flow_run('1; DROP TABLE public.canary')$$, '22P02'),
('flow_run', 'oversized payload', $$SELECT flow_run((SELECT wf FROM mine), jsonb_build_object('x', repeat('y', 2 * 1024 * 1024)))$$, '54000'),
('flow_run', 'nested payload', $$SELECT flow_run((SELECT wf FROM mine), pg_temp.nested(2000))$$, '54000'),
-- flow_status, flow_cancel, flow_retry
('flow_status', 'other owner''s run', $$SELECT flow_status((SELECT run FROM victim))$$, 'P0002'),
('flow_status', 'null', $$SELECT flow_status(NULL)$$, 'P0002'),
('flow_cancel', 'other owner''s run', $$SELECT flow_cancel((SELECT run FROM victim))$$, 'P0002'),
('flow_cancel', 'null', $$SELECT flow_cancel(NULL)$$, 'P0002'),
('flow_retry', 'other owner''s run', $$SELECT flow_retry((SELECT run FROM victim))$$, 'P0002'),
('flow_retry', 'not failed', $$SELECT flow_retry((SELECT run FROM mine))$$, '55000'),
-- flow_activate, flow_deactivate
('flow_activate', 'other owner''s workflow', $$SELECT flow_activate((SELECT wf FROM victim))$$, 'P0002'),
('flow_activate', 'null', $$SELECT flow_activate(NULL)$$, 'P0002'),
('flow_deactivate', 'other owner''s workflow', $$SELECT flow_deactivate((SELECT wf FROM victim))$$, 'P0002'),
-- flow_send_event
('flow_send_event', 'oversized name', $$SELECT flow_send_event(repeat('a.', 500000) || 'b', '{}')$$, '22023'),
('flow_send_event', 'injection-shaped name', $$SELECT flow_send_event('x''); DROP TABLE public.canary; --', '{}')$$, '22023'),
('flow_send_event', 'oversized data', $$SELECT flow_send_event('shop.order', jsonb_build_object('x', repeat('y', 2 * 1024 * 1024)))$$, '54000'),
('flow_send_event', 'nested data', $$SELECT flow_send_event('shop.order', pg_temp.nested(2000))$$, '54000'),
('flow_send_event', 'null name', $$SELECT flow_send_event(NULL, '{}')$$, '22004'),
('flow_send_event', 'invalid UTF-8', $$SELECT flow_send_event(convert_from('\x73686f702eff'::bytea, 'UTF8'), '{}')$$, '22021'),
-- flow_approve
('flow_approve', 'other owner''s run', $$SELECT flow_approve((SELECT run FROM victim), 'a', '{}')$$, 'P0002'),
('flow_approve', 'not waiting', $$SELECT flow_approve((SELECT run FROM mine), 'a', '{}')$$, '55000'),
('flow_approve', 'oversized node id', $$SELECT flow_approve((SELECT run FROM mine), repeat('n', 1000000), '{}')$$, '55000'),
('flow_approve', 'null node id', $$SELECT flow_approve((SELECT run FROM mine), NULL, '{}')$$, '55000'),
-- credentials
('flow_set_credential', 'oversized service', $$SELECT flow_set_credential(repeat('s', 1000000), 'default', '{"bot_token": "x"}')$$, '22023'),
('flow_set_credential', 'injection-shaped name', $$SELECT flow_set_credential('slack', 'x''); DROP TABLE public.canary; --', '{"bot_token": "x"}')$$, '22023'),
('flow_set_credential', 'oversized name', $$SELECT flow_set_credential('slack', repeat('n', 1000000), '{"bot_token": "x"}')$$, '22023'),
('flow_set_credential', 'wrong type secret', $$SELECT flow_set_credential('slack', 'default', '["xoxb-1"]')$$, '22023'),
('flow_set_credential', 'wrong type field', $$SELECT flow_set_credential('slack', 'default', '{"bot_token": {"nested": true}}')$$, '22023'),
('flow_set_credential', 'oversized secret', $$SELECT flow_set_credential('slack', 'default', jsonb_build_object('bot_token', repeat('x', 2 * 1024 * 1024)))$$, '54000'),
('flow_set_credential', 'nested secret', $$SELECT flow_set_credential('slack', 'default', jsonb_build_object('bot_token', 'x', 'more', pg_temp.nested(2000)))$$, '22023'),
('flow_set_credential', 'null secret', $$SELECT flow_set_credential('slack', 'default', NULL)$$, '22023'),
('flow_delete_credential', 'injection-shaped', $$SELECT flow_delete_credential('slack''; DROP TABLE public.canary; --', 'x')$$, 'ok'),
('flow_delete_credential', 'null', $$SELECT flow_delete_credential(NULL, NULL)$$, 'ok'),
('flow_list_credentials', 'no input', $$SELECT count(*) FROM flow_list_credentials()$$, 'ok'),
('flow_catalog', 'no input', $$SELECT flow_catalog() IS NOT NULL$$, 'ok'),
('flow_stats', 'no input', $$SELECT flow_stats() ->> 'scope'$$, 'ok'),
-- provider webhooks: unsigned, oversized, invalid
('razorpay_webhook', 'unsigned', $$SELECT razorpay_webhook('{"event": "payment.captured"}')$$, '28000'),
('razorpay_webhook', 'oversized unsigned', $$SELECT razorpay_webhook(json_build_object('x', repeat('y', 2 * 1024 * 1024)))$$, '28000'),
('razorpay_webhook', 'NUL escape', $$SELECT razorpay_webhook('{"event": "\u0000"}')$$, '22P05'),
('razorpay_webhook', 'invalid UTF-8', $$SELECT razorpay_webhook(convert_from('\x7b22ff227d'::bytea, 'UTF8')::json)$$, '22021'),
('slack_webhook', 'unsigned', $$SELECT slack_webhook('{"type": "url_verification", "challenge": "x"}')$$, '28000'),
('slack_webhook', 'nested unsigned', $$SELECT slack_webhook(pg_temp.nested(5000)::json)$$, '28000'),
('whatsapp_webhook', 'unsigned', $$SELECT whatsapp_webhook('{"AccountSid": "AC1", "MessageSid": "SM1", "From": "whatsapp:+15550001", "Body": "hi"}')$$, '28000'),
('whatsapp_webhook', 'nested', $$SELECT whatsapp_webhook(pg_temp.nested(5000)::json)$$, '22023'),
('whatsapp_webhook', 'form injection', $$SELECT whatsapp_webhook(to_json('AccountSid=AC1&Body=%27%3B%20DROP%20TABLE%20public.canary%3B--'::text))$$, '28000'),
('whatsapp_twiml_webhook', 'unsigned', $$SELECT whatsapp_twiml_webhook("AccountSid" := 'AC1', "MessageSid" := 'SM1', "From" := 'whatsapp:+15550001', "Body" := 'hi')$$, '28000'),
('whatsapp_twiml_webhook', 'oversized unsigned', $$SELECT whatsapp_twiml_webhook("AccountSid" := 'AC1', "Body" := repeat('y', 2 * 1024 * 1024))$$, '28000'),
('whatsapp_twiml_webhook', 'injection-shaped', $$SELECT whatsapp_twiml_webhook("AccountSid" := 'AC1''; DROP TABLE public.canary; --', "Body" := '{{x}}')$$, '28000'),
('whatsapp_twiml_webhook', 'no fields', $$SELECT whatsapp_twiml_webhook()$$, '28000'),
-- flow_draft: sizes, other owners, injection-shaped prompts
('flow_draft', 'oversized prompt', $$SELECT flow_draft(repeat('send a whatsapp ', 10000))$$, '22023'),
('flow_draft', 'null prompt', $$SELECT flow_draft(NULL)$$, '22004'),
('flow_draft', 'other owner', $$SELECT flow_draft('every monday post to #sales', 'victim')$$, '42501'),
('flow_draft', 'server owner', $$SELECT flow_draft('every monday post to #sales', '*')$$, '22023'),
('flow_draft', 'template-shaped', $$SELECT flow_draft('when a payment is captured send {{steps.x.output}} "{{run.id}}" to #sales')$$, 'ok'),
('flow_draft', 'injection-shaped', $$SELECT flow_draft('''); DROP TABLE public.canary; --')$$, 'ok'),
-- the assistant's threshold: bounded
('flow_set_assistant', 'negative', $$SELECT flow_set_assistant(-5)$$, '22023'),
('flow_set_assistant', 'huge', $$SELECT flow_set_assistant(1e30)$$, '22023'),
('flow_set_assistant', 'NaN', $$SELECT flow_set_assistant('NaN')$$, '22023'),
-- server-wide credentials: never for a signed-in owner
('flow_set_server_credential', 'not admin', $$SELECT flow_set_server_credential('llm', 'default', '{"api_key": "sk-x"}')$$, '42501'),
-- intent_parse: text, sizes, injection-shaped commands
('intent_parse', 'oversized text', $$SELECT intent_parse(repeat('invoice ', 100000))$$, '22023'),
('intent_parse', 'no input', $$SELECT intent_parse(NULL, NULL, NULL)$$, '22004'),
('intent_parse', 'oversized session', $$SELECT intent_parse('help', NULL, repeat('s', 100000))$$, '22023'),
('intent_parse', 'injection-shaped', $$SELECT intent_parse('''; DROP TABLE public.canary; --')$$, 'ok'),
('intent_parse', 'template-shaped', $$SELECT intent_parse('message {{steps.x.output}} to 9876543210')$$, 'ok'),
('intent_parse', 'not audio', $$SELECT intent_parse(audio => '\x52494646'::bytea)$$, '22023'),
('intent_parse', 'NUL', $$SELECT intent_parse(E'invoice Ravi \\x00 500')$$, 'ok'),
-- newcomer: dry runs (flow_set_sandbox; sandbox => of flow_execute / flow_run)
('flow_set_sandbox', 'other owner''s workflow', $$SELECT flow_set_sandbox((SELECT wf FROM victim), false)$$, 'P0002'),
('flow_set_sandbox', 'null id', $$SELECT flow_set_sandbox(NULL)$$, '22004'),
('flow_set_sandbox', 'null flag', $$SELECT flow_set_sandbox((SELECT wf FROM mine), NULL)$$, '22004'),
('flow_set_sandbox', 'not a uuid', $$SELECT flow_set_sandbox('1; DROP TABLE public.canary')$$, '22P02'),
('flow_run', 'dry run of other owner''s workflow', $$SELECT flow_run((SELECT wf FROM victim), '{}', true)$$, 'P0002'),
('flow_execute', 'injection-shaped sandbox flag', $$SELECT flow_execute(pg_temp.bp(), '{}', 'yes; DROP TABLE public.canary')$$, '22P02'),
-- versions: flow_update, flow_versions, flow_rollback, flow_delete
('flow_update', 'other owner''s workflow', $$SELECT flow_update((SELECT wf FROM victim), pg_temp.bp())$$, 'P0002'),
('flow_update', 'null id', $$SELECT flow_update(NULL, pg_temp.bp())$$, '22004'),
('flow_update', 'null blueprint', $$SELECT flow_update((SELECT wf FROM mine), NULL)$$, '22004'),
('flow_update', 'oversized', $$SELECT flow_update((SELECT wf FROM mine), pg_temp.bp(jsonb_build_object('pad', repeat('x', 300000))))$$, '54000'),
('flow_update', 'nested', $$SELECT flow_update((SELECT wf FROM mine), pg_temp.bp(jsonb_build_object('pad', pg_temp.nested(2000))))$$, '54000'),
('flow_update', 'wrong type', $$SELECT flow_update((SELECT wf FROM mine), '[1, 2]')$$, '22023'),
('flow_update', 'on_failure naming the victim''s workflow', $$SELECT flow_update((SELECT wf FROM mine), pg_temp.bp(jsonb_build_object('on_failure', jsonb_build_object('workflow', (SELECT wf FROM victim)))))$$, '22023'),
('flow_update', 'on_failure naming the victim''s workflow by name', $$SELECT flow_update((SELECT wf FROM mine), pg_temp.bp('{"on_failure": {"workflow": "v"}}'))$$, '22023'),
('flow_update', 'injection-shaped on_failure (the flow_save case saved that name)', $$SELECT flow_update((SELECT wf FROM mine), pg_temp.bp('{"on_failure": {"workflow": "x''); DROP TABLE public.canary; --"}}'))$$, 'ok'),
('flow_update', 'injection-shaped on_failure, unknown', $$SELECT flow_update((SELECT wf FROM mine), pg_temp.bp('{"on_failure": {"workflow": "y''); DROP TABLE public.canary; --"}}'))$$, '22023'),
('flow_versions', 'other owner''s workflow', $$SELECT count(*) FROM flow_versions((SELECT wf FROM victim))$$, 'P0002'),
('flow_versions', 'null', $$SELECT count(*) FROM flow_versions(NULL)$$, 'P0002'),
('flow_rollback', 'other owner''s workflow', $$SELECT flow_rollback((SELECT wf FROM victim), 1)$$, 'P0002'),
('flow_rollback', 'no such version', $$SELECT flow_rollback((SELECT wf FROM mine), -2147483648)$$, 'P0002'),
('flow_rollback', 'null version', $$SELECT flow_rollback((SELECT wf FROM mine), NULL)$$, '22004'),
('flow_delete', 'other owner''s workflow', $$SELECT flow_delete((SELECT wf FROM victim))$$, 'P0002'),
('flow_delete', 'null', $$SELECT flow_delete(NULL)$$, '22004'),
('flow_delete', 'not a uuid', $$SELECT flow_delete('1; DROP TABLE public.canary')$$, '22P02');

-- counts of every flowdb table (as the superuser running the suite)
CREATE FUNCTION pg_temp.counts() RETURNS jsonb LANGUAGE sql AS $$
	SELECT jsonb_build_object(
		'workflows', (SELECT count(*) FROM flowdb.workflows),
		'workflow_changes', (SELECT coalesce(sum(hashtext(w::text)), 0) FROM flowdb.workflows w),
		'runs', (SELECT count(*) FROM flowdb.runs),
		'run_changes', (SELECT coalesce(sum(hashtext(r::text)), 0) FROM flowdb.runs r),
		'logs', (SELECT count(*) FROM flowdb.workflow_logs),
		'credentials', (SELECT count(*) FROM flowdb.credentials),
		'outbox', (SELECT count(*) FROM flowdb.outbox),
		'deliveries', (SELECT count(*) FROM flowdb.webhook_deliveries),
		'sessions', (SELECT count(*) FROM flowdb.sessions),
		'messages', (SELECT count(*) FROM flowdb.messages),
		'versions', (SELECT count(*) FROM flowdb.workflow_versions),
		'workflow_changes', (SELECT coalesce(sum(hashtext(w::text)), 0) FROM flowdb.workflows w))
$$;

-- run one case as the attacker; the SQLSTATE ('ok' when none) and the
-- message's start (uuids masked)
CREATE FUNCTION pg_temp.attack(q text, OUT state text, OUT msg text) LANGUAGE plpgsql AS $$
BEGIN
	PERFORM set_config('role', 'authenticated', true);
	EXECUTE q;
	PERFORM set_config('role', 'none', true);
	state := 'ok';
EXCEPTION WHEN OTHERS THEN
	state := SQLSTATE;
	msg := regexp_replace(left(SQLERRM, 100),
		'[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '<uuid>', 'g');
	IF length(SQLERRM) > 500 THEN
		msg := msg || format(' [message of %s characters]', length(SQLERRM));
	END IF;
END
$$;

CREATE TEMP TABLE outcome (id int, state text, msg text, unchanged boolean);
DO $$
DECLARE
	h record;
	before jsonb;
	a record;
BEGIN
	FOR h IN SELECT * FROM hostile ORDER BY id LOOP
		before := pg_temp.counts();
		a := pg_temp.attack(h.call);
		INSERT INTO outcome VALUES (h.id, a.state, a.msg, pg_temp.counts() = before);
	END LOOP;
END
$$;

-- every case: expected SQLSTATE, and nothing written by a refused call
SELECT h.fn, h.kind, o.state, o.state = h.want AS as_expected,
       o.unchanged OR o.state = 'ok' AS nothing_half_written, o.msg
FROM hostile h JOIN outcome o USING (id)
ORDER BY h.id;

-- the summary the lead watches: no surprises
SELECT count(*) AS cases,
       count(*) FILTER (WHERE o.state <> h.want) AS unexpected,
       count(*) FILTER (WHERE o.state <> 'ok' AND NOT o.unchanged) AS half_written,
       count(*) FILTER (WHERE o.state = 'XX000') AS internal_errors,
       count(*) FILTER (WHERE o.msg LIKE '%[message of %') AS input_echoed
FROM hostile h JOIN outcome o USING (id);

-- injection-shaped input stayed data
SELECT count(*) AS canary_rows FROM public.canary;

-- coverage: every function the authenticated role can execute has a case
SELECT p.proname AS uncovered
FROM pg_proc p
WHERE p.pronamespace = 'public'::regnamespace
  AND p.oid IN (SELECT objid FROM pg_depend
                WHERE refclassid = 'pg_extension'::regclass
                  AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'flowdb')
                  AND classid = 'pg_proc'::regclass)
  AND has_function_privilege('authenticated', p.oid, 'EXECUTE')
  AND p.proname NOT IN (SELECT fn FROM hostile)
ORDER BY 1;

RESET request.jwt.claims;
DELETE FROM flowdb.runs WHERE owner IN ('victim', 'mallory-jwt');
DELETE FROM flowdb.workflows WHERE owner IN ('victim', 'mallory-jwt');
DELETE FROM flowdb.credentials WHERE owner IN ('victim', 'mallory-jwt');
DROP TABLE public.canary;
