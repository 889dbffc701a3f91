--
-- 000_setup: the extension is installed (pg_regress --load-extension=flowdb)
-- and the server preloaded it: schemas, tables, settings and the RPC
-- functions PostgREST calls with named arguments.
--
\set VERBOSITY default
SELECT extname, extversion, n.nspname AS schema
FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
WHERE extname = 'flowdb';

-- preloaded (the worker settings only exist when the library is loaded)
SELECT current_setting('shared_preload_libraries') ~ 'flowdb' AS preloaded,
       current_setting('flowdb.workers') AS workers;

SELECT nspname FROM pg_namespace WHERE nspname = 'flowdb';
-- no background workers in this suite (flowdb.workers = 0): runs stay queued
SELECT count(*) AS workers FROM flowdb.worker_info();

-- internal tables, all with row level security
SELECT c.relname, c.relkind, c.relpersistence, c.relrowsecurity
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'flowdb' AND c.relkind IN ('r', 'p')
ORDER BY c.relname;

-- columns of the tables clients read
SELECT table_name, string_agg(column_name, ', ' ORDER BY ordinal_position) AS columns
FROM information_schema.columns
WHERE table_schema = 'flowdb'
  AND table_name IN ('workflows', 'runs', 'workflow_logs')
GROUP BY table_name
ORDER BY table_name;

-- the public RPC surface: name, named arguments (PostgREST calls them by
-- name), defaults and result type
SELECT p.proname,
       pg_get_function_identity_arguments(p.oid) AS arguments,
       p.pronargdefaults AS defaults,
       pg_get_function_result(p.oid) AS returns,
       p.prosecdef AS security_definer
FROM pg_proc p
WHERE p.pronamespace = 'public'::regnamespace
  AND p.oid IN (SELECT objid FROM pg_depend
                WHERE refclassid = 'pg_extension'::regclass
                  AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'flowdb')
                  AND classid = 'pg_proc'::regclass)
ORDER BY p.proname, arguments;

-- every SQL and PL/pgSQL function pins search_path = pg_catalog, pg_temp
-- (pg_temp last: a caller's temporary types and tables never shadow
-- pg_catalog's); C functions look no names up
SELECT p.proname, p.proconfig
FROM pg_proc p
WHERE p.prolang <> (SELECT oid FROM pg_language WHERE lanname = 'c')
  AND p.oid IN (SELECT objid FROM pg_depend
                WHERE refclassid = 'pg_extension'::regclass
                  AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'flowdb')
                  AND classid = 'pg_proc'::regclass)
  AND NOT coalesce(p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp'], false)
ORDER BY 1;

-- internal functions in schema flowdb that the SQL surface relies on, and
-- who may call them: only current_owner (the RLS policies call it) is
-- executable by PUBLIC (090_privileges lists every role's rights)
SELECT f AS function, to_regprocedure(f) IS NOT NULL AS exists,
       has_function_privilege('public', f, 'EXECUTE') AS public_can_execute
FROM (VALUES
  ('flowdb.accept_delivery(text,text,text,jsonb,text[])'),
  ('flowdb.buffer_event(text,text,jsonb,uuid[])'),
  ('flowdb.caller_is_admin()'),
  ('flowdb.check_backlog(text,integer)'),
  ('flowdb.blueprint_errors(jsonb)'),
  ('flowdb.check_blueprint(jsonb)'),
  ('flowdb.check_payload(jsonb)'),
  ('flowdb.render(jsonb,jsonb)'),
  ('flowdb.eval_condition(jsonb,jsonb)'),
  ('flowdb.current_owner()'),
  ('flowdb.cron_matches(text,timestamptz)'),
  ('flowdb.hmac(bytea,bytea,text)'),
  ('flowdb.safe_equal(text,text)'),
  ('flowdb.request_header(text)'),
  ('flowdb.event_matches(jsonb,jsonb)'),
  ('flowdb.enqueue(jsonb,jsonb,uuid,text,boolean)'),
  ('flowdb.dispatch_event(text,text,jsonb)'),
  ('flowdb.resume_node(uuid,text,jsonb)'),
  ('flowdb.set_active(uuid,boolean)'),
  ('flowdb.fire_schedules()'),
  ('flowdb.match_buffered_events()'),
  ('flowdb.prune(interval)'),
  ('flowdb.credential_secret(text,text,text)'),
  ('flowdb.webhook_owner(text,text,text)'),
  ('flowdb.webhook_verify(text,text,text,text,text,text,text)'),
  ('flowdb.worker_info()'),
  ('flowdb.refuse_anon()'),
  ('flowdb.vault_secret_json(uuid,text)'),
  ('flowdb.open_function(regprocedure)'),
  ('flowdb.grant_api_roles(name[])')
) AS v(f)
ORDER BY f;

-- the statement trigger that wakes the workers at commit
SELECT tgname, tgrelid::regclass, tgfoid::regproc
FROM pg_trigger WHERE tgrelid = 'flowdb.runs'::regclass AND NOT tgisinternal;

-- settings (flowdb.* prefix reserved)
SELECT name, setting, unit, context
FROM pg_settings
WHERE name IN ('flowdb.max_blueprint_bytes', 'flowdb.max_payload_bytes',
               'flowdb.retention_days', 'flowdb.notify', 'flowdb.sandbox')
ORDER BY name;

-- the API roles of Supabase (PostgREST), NOLOGIN as there; created after
-- the extension here, so the client functions are granted to them now
-- (what an administrator does on a server where the roles come later)
DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
		CREATE ROLE anon NOLOGIN;
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
		CREATE ROLE authenticated NOLOGIN;
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
		CREATE ROLE service_role NOLOGIN;
	END IF;
END
$$;
SELECT flowdb.grant_api_roles() AS granted_to;
