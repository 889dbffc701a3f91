--
-- 080_credentials_rls: credentials (never readable), and row level
-- security under PostgREST-style settings: SET ROLE authenticated/anon and
-- request.jwt.claims with a "sub".
--
\set VERBOSITY default
\set SHOW_CONTEXT never

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

-- PostgREST's roles (they exist on Supabase; created here when missing)
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
SELECT rolname, rolsuper, rolbypassrls FROM pg_roles WHERE rolname IN ('anon', 'authenticated') ORDER BY 1;

------------------------------------------------------------------------
-- credentials
------------------------------------------------------------------------
SET ROLE authenticated;
SELECT set_config('request.jwt.claims', '{"sub": "user-a", "role": "authenticated"}', false) IS NOT NULL AS claims_set;
SELECT flowdb.current_owner();

-- unknown service
SELECT flow_set_credential('telegram', 'default', '{"token": "x"}');
\echo :LAST_ERROR_SQLSTATE
-- missing fields: the detail lists the service's fields
SELECT flow_set_credential('razorpay', 'default', '{"key_id": "rzp_test_123"}');
\echo :LAST_ERROR_SQLSTATE
SELECT flow_set_credential('whatsapp', 'default', '{}');
\echo :LAST_ERROR_SQLSTATE
-- not an object
SELECT flow_set_credential('slack', 'default', '"xoxb-123"');
\echo :LAST_ERROR_SQLSTATE
SELECT flow_set_credential('slack', 'default', NULL);
\echo :LAST_ERROR_SQLSTATE
-- a Supabase Vault reference must stand alone, and needs Vault
SELECT flow_set_credential('slack', 'vaulted', '{"vault_secret_id": "00000000-0000-0000-0000-000000000000", "bot_token": "x"}');
\echo :LAST_ERROR_SQLSTATE
SELECT to_regclass('vault.secrets') IS NULL AS no_vault_here;
SELECT flow_set_credential('slack', 'vaulted', '{"vault_secret_id": "00000000-0000-0000-0000-000000000000"}');
\echo :LAST_ERROR_SQLSTATE
-- bad names
SELECT flow_set_credential('slack', 'my bot', '{"bot_token": "xoxb-1"}');
\echo :LAST_ERROR_SQLSTATE
SELECT flow_set_credential('slack', '', '{"bot_token": "xoxb-1"}');
\echo :LAST_ERROR_SQLSTATE
SELECT flow_set_credential('slack', repeat('n', 65), '{"bot_token": "xoxb-1"}');
\echo :LAST_ERROR_SQLSTATE
SELECT flow_set_credential('slack', NULL, '{"bot_token": "xoxb-1"}');
\echo :LAST_ERROR_SQLSTATE

-- valid ones ("from" and "ig_user_id" may be given per node instead)
SELECT flow_set_credential('razorpay', 'default', '{"key_id": "rzp_test_123", "key_secret": "s3cr3t"}');
SELECT flow_set_credential('whatsapp', 'default', '{"account_sid": "AC123", "auth_token": "tok"}');
SELECT flow_set_credential(service => 'slack', name => 'sales-bot.v2', secret => '{"bot_token": "xoxb-1"}');
-- replacing keeps one row
SELECT flow_set_credential('razorpay', 'default', '{"key_id": "rzp_test_456", "key_secret": "n3w"}');

-- listed with names and field names only
SELECT service, name, fields, in_vault, updated_at IS NOT NULL AS has_updated_at FROM flow_list_credentials();
-- the rows are owned by the JWT subject
RESET ROLE;
SELECT owner, service, name, secret FROM flowdb.credentials ORDER BY service, name;
SET ROLE authenticated;

-- secrets are never readable by clients
SELECT * FROM flowdb.credentials;
\echo :LAST_ERROR_SQLSTATE
SELECT flowdb.credential_secret('user-a', 'razorpay', 'default');
\echo :LAST_ERROR_SQLSTATE
-- nor writable directly
INSERT INTO flowdb.credentials (owner, service, name, secret) VALUES ('user-a', 'llm', 'default', '{"api_key": "k"}');
\echo :LAST_ERROR_SQLSTATE

-- another subject sees none of them, and cannot delete them
SELECT set_config('request.jwt.claims', '{"sub": "user-b", "role": "authenticated"}', false) IS NOT NULL AS claims_set;
SELECT count(*) AS credentials FROM flow_list_credentials();
SELECT flow_delete_credential('razorpay', 'default') AS deleted;
-- back to user-a: delete one (true), then again (false)
SELECT set_config('request.jwt.claims', '{"sub": "user-a", "role": "authenticated"}', false) IS NOT NULL AS claims_set;
SELECT flow_delete_credential('slack', 'sales-bot.v2') AS deleted;
SELECT flow_delete_credential('slack', 'sales-bot.v2') AS deleted_again;
SELECT flow_delete_credential(service => 'whatsapp') AS deleted_default;
SELECT service, name, fields FROM flow_list_credentials();

------------------------------------------------------------------------
-- runs and workflows belong to their JWT subject
------------------------------------------------------------------------
\set bp '{"version": 1, "name": "User run", "trigger": {"type": "event", "event": "shop.order_paid"}, "nodes": [{"id": "n", "type": "router"}]}'
-- user-a: a run (named arguments, as PostgREST sends them) and a workflow
SELECT flow_execute(blueprint => :'bp', payload => '{"who": "a"}') AS run_a \gset
SELECT flow_save(blueprint => :'bp', active => true) AS wf_a \gset
SELECT owner, status, payload FROM flowdb.runs;
SELECT owner, name FROM flowdb.workflows;
SELECT flow_status(run_id => :'run_a') ->> 'status' AS own_status;

-- user-b sees none of user-a's rows
SELECT set_config('request.jwt.claims', '{"sub": "user-b", "role": "authenticated"}', false) IS NOT NULL AS claims_set;
SELECT count(*) AS runs FROM flowdb.runs;
SELECT count(*) AS workflows FROM flowdb.workflows;
SELECT count(*) AS logs FROM flowdb.workflow_logs;
SELECT count(*) AS outbox FROM flowdb.outbox;
-- and cannot act on them: P0002, as if they did not exist
SELECT pg_temp.try(format('SELECT flow_status(%L)', :'run_a')) AS status;
SELECT pg_temp.try(format('SELECT flow_cancel(%L)', :'run_a')) AS cancel;
SELECT pg_temp.try(format('SELECT flow_retry(%L)', :'run_a')) AS retry;
SELECT pg_temp.try(format('SELECT flow_approve(%L, %L)', :'run_a', 'n')) AS approve;
SELECT pg_temp.try(format('SELECT flow_run(%L)', :'wf_a')) AS run;
SELECT pg_temp.try(format('SELECT flow_deactivate(%L)', :'wf_a')) AS deactivate;
-- user-b's events do not start user-a's workflows
SELECT flow_send_event(name => 'shop.order_paid', data => '{"who": "b"}') AS started;
-- user-b's own run
SELECT flow_execute(:'bp', '{"who": "b"}') AS run_b \gset
SELECT owner, payload FROM flowdb.runs;
-- direct writes are refused even on one's own rows
UPDATE flowdb.runs SET status = 'succeeded', finished_at = now();
\echo :LAST_ERROR_SQLSTATE
DELETE FROM flowdb.runs;
\echo :LAST_ERROR_SQLSTATE
INSERT INTO flowdb.runs (owner, blueprint) VALUES ('user-a', :'bp');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO flowdb.workflows (owner, name, blueprint) VALUES ('user-a', 'sneaky', :'bp');
\echo :LAST_ERROR_SQLSTATE
-- internal functions are not callable
SELECT flowdb.enqueue(:'bp', '{}', NULL, 'user-a');
\echo :LAST_ERROR_SQLSTATE
SELECT flowdb.dispatch_event('user-a', 'shop.order_paid', '{}');
\echo :LAST_ERROR_SQLSTATE
SELECT flowdb.resume_node(:'run_a', 'n', '{}');
\echo :LAST_ERROR_SQLSTATE

-- user-a still sees exactly their own rows and can cancel their run
SELECT set_config('request.jwt.claims', '{"sub": "user-a", "role": "authenticated"}', false) IS NOT NULL AS claims_set;
SELECT owner, payload FROM flowdb.runs;
SELECT flow_cancel(:'run_a') AS canceled;
SELECT flow_status(:'run_a') ->> 'status' AS status;
SELECT cardinality(flow_send_event('shop.order_paid', '{"who": "a again"}')) AS started_own_workflow;

-- without a "sub" the owner is the role
SELECT set_config('request.jwt.claims', '{"role": "authenticated"}', false) IS NOT NULL AS claims_set;
SELECT flowdb.current_owner();
SELECT count(*) AS runs FROM flowdb.runs;
SELECT set_config('request.jwt.claims', '', false) IS NOT NULL AS claims_cleared;
SELECT flowdb.current_owner();
RESET ROLE;

------------------------------------------------------------------------
-- anon: the catalog and validation are public
------------------------------------------------------------------------
SET ROLE anon;
SELECT jsonb_array_length(flow_catalog() -> 'services') AS services;
SELECT flow_validate(blueprint => :'bp') AS validation;
SELECT flowdb.current_owner();
SELECT count(*) AS runs FROM flowdb.runs;
RESET ROLE;

-- the superuser sees everything
SELECT owner, count(*) AS runs FROM flowdb.runs GROUP BY owner ORDER BY owner;
SELECT owner, count(*) AS workflows FROM flowdb.workflows GROUP BY owner ORDER BY owner;

RESET request.jwt.claims;
DELETE FROM flowdb.runs;
DELETE FROM flowdb.workflows;
DELETE FROM flowdb.credentials;
