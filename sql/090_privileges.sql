--
-- 090_privileges: the privilege model.
--   1. a hostile login role cannot hijack a SECURITY DEFINER function
--      through pg_temp (types, tables, functions, operators)
--   2. anon can call nothing that acts, even when EXECUTE is re-granted
--   3. what PUBLIC, anon, authenticated and service_role can execute and
--      read, listed (a new function exposed by accident changes it), also
--      after a reinstall under Supabase-like default privileges
--   4. Vault secrets are validated when set and never echoed in errors
--   5. flow_approve data gets flow_execute's payload checks
-- The API roles were created by 000_setup.
--
\set VERBOSITY default
\set SHOW_CONTEXT never

------------------------------------------------------------------------
-- 1. pg_temp cannot shadow anything inside the definer functions
------------------------------------------------------------------------
CREATE ROLE mallory LOGIN;
-- a plain PostgreSQL client role, granted the client functions
SELECT flowdb.grant_api_roles('mallory') AS granted_to;
SET ROLE mallory;
-- the trap of the issue: a temporary jsonb domain whose CHECK makes the
-- role superuser when it runs with enough rights
CREATE FUNCTION pg_temp.p(jsonb) RETURNS bool LANGUAGE sql
	AS 'ALTER ROLE mallory SUPERUSER; SELECT true';
CREATE DOMAIN pg_temp.jsonb AS pg_catalog.jsonb CHECK (pg_temp.p(VALUE));
-- the same for the other types the functions use
CREATE FUNCTION pg_temp.q(text) RETURNS bool LANGUAGE sql
	AS 'ALTER ROLE mallory SUPERUSER; SELECT true';
CREATE DOMAIN pg_temp.text AS pg_catalog.text CHECK (pg_temp.q(VALUE));
CREATE DOMAIN pg_temp.uuid AS pg_catalog.uuid CHECK (pg_temp.q(VALUE::pg_catalog.text));
CREATE DOMAIN pg_temp.bool AS pg_catalog.bool CHECK (pg_temp.q(VALUE::pg_catalog.text));
-- and functions and operators (pg_temp is never searched for those, but
-- prove it: each would make mallory superuser if called as the definer)
CREATE FUNCTION pg_temp.current_setting(pg_catalog.text) RETURNS pg_catalog.text
	LANGUAGE sql AS 'ALTER ROLE mallory SUPERUSER; SELECT ''none''::pg_catalog.text';
CREATE FUNCTION pg_temp.jsonb_typeof(pg_catalog.jsonb) RETURNS pg_catalog.text
	LANGUAGE sql AS 'ALTER ROLE mallory SUPERUSER; SELECT ''object''::pg_catalog.text';
CREATE FUNCTION pg_temp.text_eq(pg_catalog.text, pg_catalog.text) RETURNS pg_catalog.bool
	LANGUAGE sql AS 'ALTER ROLE mallory SUPERUSER; SELECT true';
CREATE OPERATOR pg_temp.= (LEFTARG = pg_catalog.text, RIGHTARG = pg_catalog.text,
	FUNCTION = pg_temp.text_eq);
-- a temporary table named like the extension's
CREATE TEMP TABLE credentials (owner pg_catalog.text);
-- the trap is armed: in mallory's own statements the domain is used (and
-- its CHECK fails, mallory may not alter roles)
SELECT '{}'::jsonb;
\echo :LAST_ERROR_SQLSTATE
-- the attack, then every definer function that takes or builds these types
SELECT flow_set_credential('slack', 'x', '{"bot_token": "xoxb-1"}');
SELECT flow_execute('{"version": 1, "name": "m", "trigger": {"type": "manual"}, "nodes": [{"id": "n", "type": "router"}]}', '{"a": 1}') IS NOT NULL AS queued;
SELECT flow_save('{"version": 1, "name": "m", "trigger": {"type": "event", "event": "shop.m_paid"}, "nodes": [{"id": "n", "type": "router"}]}') IS NOT NULL AS saved;
SELECT cardinality(flow_send_event('shop.m_paid', '{"x": "y"}')) AS started;
SELECT flow_validate('{"version": 1}') ->> 'valid' AS valid;
SELECT service, name, fields FROM flow_list_credentials();
SELECT flow_delete_credential('slack', 'x') AS deleted;
RESET ROLE;
-- mallory is still an ordinary role
SELECT rolname, rolsuper, rolcreaterole FROM pg_roles WHERE rolname = 'mallory';
-- a fresh session: nothing of mallory's pg_temp is left for the checks below
\c -
\set VERBOSITY default
\set SHOW_CONTEXT never
SELECT owner, count(*) AS runs FROM flowdb.runs GROUP BY owner;
DELETE FROM flowdb.runs;
DELETE FROM flowdb.workflows;
DROP OWNED BY mallory;
DROP ROLE mallory;

-- run a statement; print its SQLSTATE and message
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
-- 2. anon acts on nothing
------------------------------------------------------------------------
\set bp '{"version": 1, "name": "Anon", "trigger": {"type": "event", "event": "shop.anon_ping"}, "nodes": [{"id": "n", "type": "router"}]}'
\set nil '00000000-0000-0000-0000-000000000000'
CREATE TEMP TABLE acting (call text);
INSERT INTO acting VALUES
	(format('SELECT flow_execute(%L)', :'bp')),
	(format('SELECT flow_save(%L)', :'bp')),
	(format('SELECT flow_run(%L)', :'nil')),
	(format('SELECT flow_status(%L)', :'nil')),
	(format('SELECT flow_cancel(%L)', :'nil')),
	(format('SELECT flow_retry(%L)', :'nil')),
	(format('SELECT flow_approve(%L, %L)', :'nil', 'n')),
	(format('SELECT flow_activate(%L)', :'nil')),
	(format('SELECT flow_deactivate(%L)', :'nil')),
	(format('SELECT flow_update(%L, %L)', :'nil', :'bp')),
	(format('SELECT flow_rollback(%L, 1)', :'nil')),
	(format('SELECT flow_delete(%L)', :'nil')),
	('SELECT flow_send_event(''shop.anon_ping'')'),
	('SELECT flow_set_credential(''slack'', ''default'', ''{"bot_token": "xoxb-1"}'')'),
	('SELECT flow_delete_credential(''slack'')'),
	('SELECT flow_list_credentials()'),
	('SELECT flowdb.render(''{"a": "{{x}}"}'', ''{"x": 1}'')'),
	('SELECT flowdb.eval_condition(''{"left": 1, "op": "eq", "right": 1}'', ''{}'')'),
	('SELECT flowdb.blueprint_errors(''{}'')'),
	('SELECT flowdb.cron_matches(''* * * * *'')'),
	('SELECT flowdb.hmac(''a'', ''b'', ''sha256'')');
GRANT SELECT ON acting TO anon, authenticated;
SET ROLE anon;
-- no EXECUTE: 42501 from the privilege check
SELECT call, pg_temp.try(call) AS result FROM acting;
-- what anon may use: the catalog, validation and the webhooks (which
-- verify their own signatures)
SELECT jsonb_array_length(flow_catalog() -> 'services') > 0 AS catalog;
SELECT flow_validate(:'bp') ->> 'valid' AS valid;
SELECT pg_temp.try('SELECT razorpay_webhook(''{}''::json)') AS razorpay;
SELECT pg_temp.try('SELECT slack_webhook(''{}''::json)') AS slack;
RESET ROLE;

-- the guard inside the functions: a re-granted EXECUTE still does not act
GRANT EXECUTE ON FUNCTION flow_execute(jsonb, jsonb, boolean), flow_send_event(text, jsonb) TO anon;
SET ROLE anon;
SELECT pg_temp.try(format('SELECT flow_execute(%L)', :'bp')) AS execute;
SELECT pg_temp.try('SELECT flow_send_event(''shop.anon_ping'')') AS send_event;
RESET ROLE;
REVOKE EXECUTE ON FUNCTION flow_execute(jsonb, jsonb, boolean), flow_send_event(text, jsonb) FROM anon;
-- nor does a JWT whose role claim is anon, whatever the database role
-- (here the superuser, who may execute everything): every acting function
SELECT set_config('request.jwt.claims', '{"role": "anon"}', false) IS NOT NULL AS anon_claims;
SELECT call, pg_temp.try(call) AS result FROM acting
WHERE call LIKE 'SELECT flow\_%' AND call NOT SIMILAR TO 'SELECT flow_(status|list_credentials)%';
-- reads of one's own rows are not acts
SELECT pg_temp.try(format('SELECT flow_status(%L)', :'nil')) AS status;
RESET request.jwt.claims;
-- authenticated may act (the calls reach the functions' own checks)
SET ROLE authenticated;
SELECT set_config('request.jwt.claims', '{"sub": "user-p", "role": "authenticated"}', false) IS NOT NULL AS claims_set;
SELECT call, pg_temp.try(call) AS result FROM acting WHERE call LIKE 'SELECT flow\_%';
RESET ROLE;
RESET request.jwt.claims;
SELECT owner, count(*) AS runs FROM flowdb.runs GROUP BY owner;
DELETE FROM flowdb.runs;
DELETE FROM flowdb.workflows;

-- grant_api_roles refuses anon, PUBLIC and unknown roles
SELECT flowdb.grant_api_roles('anon');
\echo :LAST_ERROR_SQLSTATE
SELECT flowdb.grant_api_roles('public');
\echo :LAST_ERROR_SQLSTATE
SELECT flowdb.grant_api_roles('regress_no_such_role');
\echo :LAST_ERROR_SQLSTATE
-- and is not for clients
SET ROLE authenticated;
SELECT flowdb.grant_api_roles('authenticated');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

-- flow_trigger: creating a trigger with it needs EXECUTE (superuser here);
-- the trigger then fires for every role that writes the table, anon too
SELECT flow_save('{"version": 1, "name": "Form", "trigger": {"type": "table", "table": "contact_form"}, "nodes": [{"id": "n", "type": "router"}]}') AS wf_form \gset
CREATE TABLE contact_form (msg text);
CREATE TRIGGER contact_form_flow AFTER INSERT ON contact_form
	FOR EACH ROW EXECUTE FUNCTION flow_trigger(:'wf_form');
GRANT INSERT ON contact_form TO anon;
SET ROLE anon;
INSERT INTO contact_form VALUES ('hello');
RESET ROLE;
SELECT owner = flowdb.current_owner() AS workflow_owner, payload FROM flowdb.runs;
CREATE TABLE own_table (a int);
ALTER TABLE own_table OWNER TO authenticated;
SET ROLE authenticated;
CREATE TRIGGER own_table_flow AFTER INSERT ON own_table
	FOR EACH ROW EXECUTE FUNCTION flow_trigger(:'wf_form');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
DROP TABLE contact_form, own_table;
DELETE FROM flowdb.runs;
DELETE FROM flowdb.workflows;

------------------------------------------------------------------------
-- 3. who can execute and read what.  When a function or table is added,
-- regenerate the expected output and check every new "t" is meant.
------------------------------------------------------------------------
CREATE FUNCTION pg_temp.function_rights()
RETURNS TABLE (function text, public boolean, anon boolean, authenticated boolean, service_role boolean)
LANGUAGE sql AS $$
	SELECT p.oid::regprocedure::text,
		   has_function_privilege('public', p.oid, 'EXECUTE'),
		   has_function_privilege('anon', p.oid, 'EXECUTE'),
		   has_function_privilege('authenticated', p.oid, 'EXECUTE'),
		   has_function_privilege('service_role', p.oid, 'EXECUTE')
	FROM pg_proc p
	JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
	JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'flowdb'
	WHERE p.pronamespace IN ('public'::regnamespace, 'flowdb'::regnamespace)
	ORDER BY p.pronamespace::regnamespace::text, 1
$$;
-- table privileges as aclitem letters (r SELECT, a INSERT, w UPDATE,
-- d DELETE, D TRUNCATE, x REFERENCES, t TRIGGER), '' = none
CREATE FUNCTION pg_temp.privs(who text, rel oid) RETURNS text
LANGUAGE sql AS $$
	SELECT coalesce(string_agg(l, '' ORDER BY o), '')
	FROM unnest(ARRAY['r', 'a', 'w', 'd', 'D', 'x', 't'],
				ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER'])
		 WITH ORDINALITY AS x(l, priv, o)
	WHERE has_table_privilege(who, rel, priv)
$$;
CREATE FUNCTION pg_temp.table_rights()
RETURNS TABLE (relation text, public text, anon text, authenticated text, service_role text)
LANGUAGE sql AS $$
	SELECT c.oid::regclass::text, pg_temp.privs('public', c.oid), pg_temp.privs('anon', c.oid),
		   pg_temp.privs('authenticated', c.oid), pg_temp.privs('service_role', c.oid)
	FROM pg_class c
	JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e'
	JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'flowdb'
	ORDER BY 1
$$;
SELECT * FROM pg_temp.function_rights();
SELECT * FROM pg_temp.table_rights();
-- Supabase grants every new function in public to the API roles by
-- default privileges, and the roles exist before CREATE EXTENSION: the
-- install script must still leave anon out
CREATE TEMP TABLE rights_before AS SELECT * FROM pg_temp.function_rights();
CREATE TEMP TABLE tables_before AS SELECT * FROM pg_temp.table_rights();
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT EXECUTE ON FUNCTIONS TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES GRANT EXECUTE ON FUNCTIONS TO anon;
DROP EXTENSION flowdb;
CREATE EXTENSION flowdb;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE EXECUTE ON FUNCTIONS FROM anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM anon;
-- the same rights as above (no row = no difference)
(SELECT * FROM pg_temp.function_rights() EXCEPT SELECT * FROM rights_before)
UNION ALL
(SELECT * FROM rights_before EXCEPT SELECT * FROM pg_temp.function_rights());
(SELECT * FROM pg_temp.table_rights() EXCEPT SELECT * FROM tables_before)
UNION ALL
(SELECT * FROM tables_before EXCEPT SELECT * FROM pg_temp.table_rights());

------------------------------------------------------------------------
-- 4. Vault secrets: validated when set, never echoed in an error
------------------------------------------------------------------------
-- SQLSTATE, message, detail and hint of an error, and whether any part
-- of it (context included) quotes a secret's text
CREATE FUNCTION pg_temp.err(q text, OUT error text, OUT leaks boolean) LANGUAGE plpgsql AS $$
DECLARE
	st text; m text; d text; h text; c text;
BEGIN
	EXECUTE q;
	error := 'ok';
	leaks := false;
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL,
		h = PG_EXCEPTION_HINT, c = PG_EXCEPTION_CONTEXT;
	error := concat_ws(' | ', st, m, d, h);
	leaks := concat(m, d, h, c) ~ 'TOPSECRET';
END
$$;
-- a stand-in for Supabase Vault (absent from this cluster)
SELECT to_regclass('vault.secrets') IS NULL AS no_vault_here;
CREATE SCHEMA vault;
CREATE TABLE vault.secrets (id uuid PRIMARY KEY, secret text NOT NULL);
CREATE VIEW vault.decrypted_secrets AS SELECT id, secret AS decrypted_secret FROM vault.secrets;
INSERT INTO vault.secrets VALUES
	('11111111-0000-0000-0000-000000000001', '{"bot_token": "xoxb-vaulted"}'),
	('11111111-0000-0000-0000-000000000002', 'xoxb-NOT-JSON-TOPSECRET'),
	('11111111-0000-0000-0000-000000000003', '["TOPSECRET"]'),
	('11111111-0000-0000-0000-000000000004', '{"token": "TOPSECRET"}');
-- a good one is stored as a reference
SELECT flow_set_credential('slack', 'v1', '{"vault_secret_id": "11111111-0000-0000-0000-000000000001"}');
SELECT service, name, fields, in_vault FROM flow_list_credentials();
SELECT flowdb.credential_secret(flowdb.current_owner(), 'slack', 'v1') AS resolved;
-- not JSON, not an object, missing fields, unknown id: refused, nothing stored
SELECT v AS secret_id, (pg_temp.err(format(
         'SELECT flow_set_credential(%L, %L, %L)', 'slack', 'v2', jsonb_build_object('vault_secret_id', v)))).*
FROM unnest(ARRAY['11111111-0000-0000-0000-000000000002', '11111111-0000-0000-0000-000000000003',
                  '11111111-0000-0000-0000-000000000004', '11111111-0000-0000-0000-000000000009']) v;
SELECT count(*) AS stored FROM flowdb.credentials WHERE name = 'v2';
-- a secret changed in Vault after it was set: the worker's lookup fails
-- naming the credential and the id, never the text
UPDATE vault.secrets SET secret = 'xoxb-NOT-JSON-TOPSECRET' WHERE id = '11111111-0000-0000-0000-000000000001';
SELECT * FROM pg_temp.err(format('SELECT flowdb.credential_secret(%L, %L, %L)',
                           flowdb.current_owner(), 'slack', 'v1'));
-- a secret deleted from Vault resolves to nothing
DELETE FROM vault.secrets WHERE id = '11111111-0000-0000-0000-000000000001';
SELECT flowdb.credential_secret(flowdb.current_owner(), 'slack', 'v1') IS NULL AS unresolved;
-- a client without Vault rights cannot point at a Vault secret
SET ROLE authenticated;
SELECT pg_temp.try('SELECT flow_set_credential(''slack'', ''v3'', ''{"vault_secret_id": "11111111-0000-0000-0000-000000000004"}'')') AS result;
RESET ROLE;
DROP SCHEMA vault CASCADE;
DELETE FROM flowdb.credentials;

------------------------------------------------------------------------
-- 5. flow_approve data: the payload checks of flow_execute
------------------------------------------------------------------------
\set waitbp '{"version": 1, "name": "Approve", "trigger": {"type": "manual"}, "nodes": [{"id": "w", "type": "wait_event", "event": "shop.approved"}]}'
INSERT INTO flowdb.runs (id, blueprint, status, state, next_at, started_at)
VALUES ('33333333-3333-3333-3333-333333333333', :'waitbp', 'waiting',
        '{"nodes": {"w": {"status": "waiting", "event": "shop.approved"}}}', 'infinity', now());
SET flowdb.max_payload_bytes = '1kB';
-- the same limit for both
SELECT pg_temp.try(format('SELECT flow_execute(%L, %L)', :'waitbp',
                          jsonb_build_object('blob', repeat('x', 2000)))) AS execute;
SELECT pg_temp.try(format('SELECT flow_approve(%L, %L, %L)', '33333333-3333-3333-3333-333333333333', 'w',
                          jsonb_build_object('blob', repeat('x', 2000)))) AS approve;
RESET flowdb.max_payload_bytes;
-- nesting deeper than the engine parses
SELECT pg_temp.try(format('SELECT flow_approve(%L, %L, %L)', '33333333-3333-3333-3333-333333333333', 'w',
                          repeat('[', 5000) || repeat(']', 5000))) AS approve_deep;
-- the node is still waiting, the run not due
SELECT state -> 'nodes' -> 'w' ->> 'status' AS node, next_at = 'infinity' AS not_due
FROM flowdb.runs WHERE id = '33333333-3333-3333-3333-333333333333';
-- a small one goes through
SELECT flow_approve('33333333-3333-3333-3333-333333333333', 'w', '{"approved": true}') AS approved;
SELECT state -> 'nodes' -> 'w' ->> 'status' AS node FROM flowdb.runs
WHERE id = '33333333-3333-3333-3333-333333333333';
DELETE FROM flowdb.runs;

-- the server-wide owner '*' is reserved: a JWT whose sub is "*" cannot act
-- as it (it would write the server-wide keys and receive single-shop
-- webhooks)
SET ROLE authenticated;
SET request.jwt.claims = '{"sub": "*", "role": "authenticated"}';
SELECT flow_set_credential('llm', 'default', '{"api_key": "sk-evil"}');
SELECT flow_execute('{"version": 1, "name": "x", "trigger": {"type": "manual"}, "nodes": [{"id": "a", "type": "set", "values": {"v": 1}}]}');
RESET request.jwt.claims;
RESET ROLE;
SELECT count(*) AS star_rows FROM flowdb.credentials WHERE owner = '*';
