--
-- 170_settings: settings that only the background workers read
-- (flowdb.sandbox, flowdb.allow_private_hosts, flowdb.llm_model and every
-- flowdb.<service>_base_url) warn when a session sets them: the workers have
-- their own sessions, so SET changes nothing they do.  The hint names
-- ALTER SYSTEM + pg_reload_conf().  Settings a session does read stay
-- silent, as do RESET and ALTER SYSTEM.
--
\set VERBOSITY default
\set SHOW_CONTEXT never

-- the newcomer's trap: SET flowdb.sandbox = on
SET flowdb.sandbox = on;
SHOW flowdb.sandbox;
-- hidden aliases name the canonical value in the hint
SET flowdb.sandbox = false;
-- RESET restores the server's value: nothing to warn about
RESET flowdb.sandbox;
SHOW flowdb.sandbox;

-- SET LOCAL, set_config() and a function's SET clause are session-level too
BEGIN;
SET LOCAL flowdb.allow_private_hosts = 'http:127.0.0.1';
COMMIT;
SELECT set_config('flowdb.llm_model', 'it''s-a-model', false) AS llm_model;
RESET flowdb.llm_model;
-- a function's SET clause warns when created (PostgreSQL applies it while
-- it checks the body) and at every call
CREATE FUNCTION pg_temp.sandboxed() RETURNS text LANGUAGE sql
SET flowdb.sandbox = on AS $$ SELECT current_setting('flowdb.sandbox') $$;
SELECT pg_temp.sandboxed();

-- an invalid value is an error, with no warning before it
SET flowdb.allow_private_hosts = 'nosuchservice:10.0.0.1';
SET flowdb.sandbox = maybe;

-- every base URL setting (one per service with an API) warns
DO $$
DECLARE
	s text;
BEGIN
	FOR s IN SELECT name FROM pg_settings WHERE name ~ '^flowdb\.[a-z_]+_base_url$' ORDER BY name LOOP
		PERFORM set_config(s, 'http://127.0.0.1:9', true);
	END LOOP;
END
$$;
SELECT count(*) > 0 AS has_base_urls
FROM pg_settings WHERE name ~ '^flowdb\.[a-z_]+_base_url$';

-- settings read by the calling session stay silent
SET flowdb.max_payload_bytes = '2MB';
SET flowdb.event_buffer_seconds = 60;
SET flowdb.max_queued_per_owner = 5;
RESET ALL;

-- ALTER SYSTEM (the way the hint gives) does not warn; put it back
ALTER SYSTEM SET flowdb.sandbox = 'on';
ALTER SYSTEM RESET flowdb.sandbox;

-- a non-superuser cannot set them at all (permission denied, no warning)
SET ROLE authenticated;
SET flowdb.sandbox = off;
RESET ROLE;
