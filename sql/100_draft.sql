--
-- 100_draft: flow_draft and the offline drafter (flowdb.draft_offline):
-- prompts and their blueprints, the saved draft row, owner rules under
-- PostgREST-style settings, errors, and NULL blueprints refused by
-- flow_activate / flow_run.
--
\set VERBOSITY default
\set SHOW_CONTEXT never

-- a compact view of a draft: trigger, steps, edges, warnings
CREATE FUNCTION pg_temp.summary(d jsonb) RETURNS TABLE (what text, value text)
LANGUAGE sql AS $$
	SELECT 'trigger', (d #> '{blueprint,trigger}')::text
	UNION ALL
	SELECT 'node ' || (n ->> 'id'), coalesce(n ->> 'service' || '.' || (n ->> 'task') || ' ' ||
		(n -> 'params')::text, n ->> 'type')
	FROM jsonb_array_elements(d #> '{blueprint,nodes}') n
	UNION ALL
	SELECT 'edge', (e ->> 'from') || ' -> ' || (e ->> 'to') ||
		coalesce(' if ' || (e -> 'condition')::text, '') ||
		CASE WHEN e ? 'else' THEN ' else' ELSE '' END
	FROM jsonb_array_elements(d #> '{blueprint,edges}') e
	UNION ALL
	SELECT 'warning', w FROM jsonb_array_elements_text(d -> 'warnings') w
	UNION ALL
	SELECT 'valid', (flow_validate(d -> 'blueprint') ->> 'valid')
$$;

-- run a statement; print its SQLSTATE and message with uuids masked
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM,
		'[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '<uuid>', 'g');
END
$$;

------------------------------------------------------------------------
-- the drafter: prompts and their blueprints
------------------------------------------------------------------------
-- event trigger, condition as a router with conditional and else edges
SELECT * FROM pg_temp.summary(flowdb.draft_offline(
  'When a payment is captured on Razorpay, if the amount is over Rs 5,000 tell #sales on Slack, otherwise thank the customer on WhatsApp.'));
-- schedule, quoted text as the message
SELECT * FROM pg_temp.summary(flowdb.draft_offline(
  'Every Monday at 9 post ''Weekly stock check'' to #ops'));
-- table trigger; an earlier step's output (the link) wired into the message
SELECT * FROM pg_temp.summary(flowdb.draft_offline(
  'When a row is added to orders, create a payment link for the order and send it to the customer on WhatsApp.'));
-- amounts, Indian phone numbers, a manual trigger
SELECT * FROM pg_temp.summary(flowdb.draft_offline(
  'Send a payment link of ₹1,200 to 98765 43210 on WhatsApp'));
-- a message trigger with "contains"; apps the catalog lacks are warned about
SELECT * FROM pg_temp.summary(flowdb.draft_offline(
  'When a customer messages ''menu'' on WhatsApp, reply ''Today: thali Rs 180''. Also add it to Google Sheets and email me.'));
-- a delay, an AI step, Hinglish
SELECT * FROM pg_temp.summary(flowdb.draft_offline(
  'jab bhi payment fail ho razorpay pe, wait 2 hours and then ask AI to write a polite reminder and whatsapp it to the customer'));
-- nothing the catalog offers: the request is kept, the draft still validates
SELECT * FROM pg_temp.summary(flowdb.draft_offline('hello there, what is the weather like?'));
-- user text never becomes a template
SELECT d #>> '{blueprint,nodes,0,params,text}' AS text, flow_validate(d -> 'blueprint') ->> 'valid' AS valid
FROM flowdb.draft_offline('Post ''hi {{trigger_data.x'' to #general') AS d;

-- errors: empty, blank, too long, null
SELECT pg_temp.try($$SELECT flowdb.draft_offline('')$$);
SELECT pg_temp.try($$SELECT flowdb.draft_offline(E' \n\t ')$$);
SELECT pg_temp.try($$SELECT flowdb.draft_offline(repeat('x', 8193))$$);
SELECT flowdb.draft_offline(NULL) IS NULL AS strict_null;
SELECT pg_temp.try($$SELECT flow_draft(NULL)$$);
SELECT pg_temp.try($$SELECT flow_draft('')$$);
SELECT pg_temp.try($$SELECT flow_draft(repeat('send a whatsapp ', 600))$$);
-- nothing was saved by the failed calls
SELECT count(*) AS saved FROM flowdb.workflows WHERE drafted_by = 'offline';

------------------------------------------------------------------------
-- flow_draft saves an inactive, ready draft
------------------------------------------------------------------------
SELECT flow_draft('When a payment is captured, thank the customer on WhatsApp and post to #sales') AS wid \gset
SELECT owner, name, active, drafted_by, draft_status, draft_problems,
       prompt, warnings, blueprint #> '{trigger}' AS trigger,
       flow_validate(blueprint) ->> 'valid' AS valid
FROM flowdb.workflows WHERE id = :'wid';
-- a ready draft activates and runs like any workflow
SELECT flow_activate(:'wid');
SELECT pg_temp.try(format('SELECT flow_run(%L)', :'wid'));

-- a row without a blueprint (a draft still drafting, or failed) is refused
INSERT INTO flowdb.workflows (owner, name, blueprint, active, prompt, drafted_by, draft_status, draft_problems)
VALUES (flowdb.current_owner(), 'pending', NULL, false, 'x', 'gpt-test', 'drafting', '[]'),
       (flowdb.current_owner(), 'broken', NULL, false, 'x', 'gpt-test', 'failed', '["$.nodes: required"]');
SELECT name, pg_temp.try(format('SELECT flow_activate(%L)', id)) AS activate,
       pg_temp.try(format('SELECT flow_run(%L)', id)) AS run,
       pg_temp.try(format('SELECT flow_deactivate(%L)', id)) AS deactivate
FROM flowdb.workflows WHERE name IN ('pending', 'broken') ORDER BY name;
-- the table itself refuses a NULL blueprint outside drafting/failed
SELECT pg_temp.try($$INSERT INTO flowdb.workflows (owner, name, blueprint) VALUES ('x', 'y', NULL)$$);
SELECT pg_temp.try($$INSERT INTO flowdb.workflows (owner, name, blueprint, draft_status) VALUES ('x', 'y', NULL, 'ready')$$);
SELECT pg_temp.try($$INSERT INTO flowdb.workflows (owner, name, blueprint, draft_status) VALUES ('x', 'y', '{}', 'done')$$);
DELETE FROM flowdb.workflows WHERE name IN ('pending', 'broken');

------------------------------------------------------------------------
-- owner rules
------------------------------------------------------------------------
DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
		CREATE ROLE authenticated NOLOGIN;
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
		CREATE ROLE anon NOLOGIN;
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
		CREATE ROLE service_role NOLOGIN;
	END IF;
END
$$;
-- the internal functions are not callable by clients
SELECT f AS function, has_function_privilege('authenticated', f, 'EXECUTE') AS authenticated_can_execute
FROM (VALUES ('flowdb.draft_offline(text)'), ('flowdb.draft_save_offline(text,text)'),
             ('flowdb.draft_owner(text)'), ('public.flow_draft(text,text)')) AS v(f)
ORDER BY f;

-- a JWT caller drafts for its own sub
SET ROLE authenticated;
SELECT set_config('request.jwt.claims', '{"sub": "user-a", "role": "authenticated"}', false) IS NOT NULL AS claims_set;
SELECT flow_draft('Every day at 6pm send a WhatsApp to 9876543210 saying ''Closing time''') AS a_wid \gset
SELECT owner, draft_status, blueprint #>> '{trigger,cron}' AS cron FROM flowdb.workflows WHERE id = :'a_wid';
-- naming itself is fine; naming someone else is refused, nothing saved
SELECT pg_temp.try($$SELECT flow_draft('post to #ops', 'user-a')$$);
SELECT pg_temp.try($$SELECT flow_draft('post to #ops', 'user-b')$$);
-- claims saying service_role do not help without the role itself
SELECT set_config('request.jwt.claims', '{"sub": "user-a", "role": "service_role"}', false) IS NOT NULL AS claims_set;
SELECT pg_temp.try($$SELECT flow_draft('post to #ops', 'user-b')$$);
-- user-a sees its own drafts only (RLS)
SELECT set_config('request.jwt.claims', '{"sub": "user-a", "role": "authenticated"}', false) IS NOT NULL AS claims_set;
SELECT owner, count(*) FROM flowdb.workflows GROUP BY owner ORDER BY owner;
RESET ROLE;

-- anon may not draft
SET ROLE anon;
SELECT set_config('request.jwt.claims', '', false) IS NOT NULL AS claims_cleared;
SELECT pg_temp.try($$SELECT flow_draft('post to #ops')$$);
RESET ROLE;

-- service_role may draft for another owner
SET ROLE service_role;
SELECT set_config('request.jwt.claims', '{"role": "service_role"}', false) IS NOT NULL AS claims_set;
SELECT flow_draft('When an invoice is paid, post to #accounts', 'user-b') AS b_wid \gset
RESET ROLE;
SELECT set_config('request.jwt.claims', '', false) IS NOT NULL AS claims_cleared;
-- and so may a superuser
SELECT flow_draft('When a refund is created, post to #support', 'user-c') AS c_wid \gset
SELECT owner, drafted_by, draft_status, active, blueprint #>> '{trigger,event}' AS event
FROM flowdb.workflows WHERE id IN (:'b_wid', :'c_wid') ORDER BY owner;
SELECT pg_temp.try($$SELECT flow_draft('post to #ops', '')$$);

-- the drafting columns exist as the contract names them
SELECT column_name, data_type, is_nullable, column_default
FROM information_schema.columns
WHERE table_schema = 'flowdb' AND table_name = 'workflows'
  AND column_name IN ('blueprint', 'draft_status', 'draft_problems', 'draft_run_id')
ORDER BY ordinal_position;
