--
-- 130_stats_realtime: flow_stats (owner-scoped load and health numbers;
-- everything for service_role and superusers) and the Realtime surface
-- (publication joined before or after the extension, replica identity).
-- This suite runs without workers (flowdb.workers = 0): the worker rows of
-- flow_stats are tested in test/t/023_observability.pl.
--
\set VERBOSITY default
\set SHOW_CONTEXT never

------------------------------------------------------------------------
-- flow_stats
------------------------------------------------------------------------
-- two owners' runs in every state, and their step log: alice has one slow
-- failing slack step, bob fast http steps; old rows are outside the windows
CREATE TEMP TABLE ids AS
SELECT gen_random_uuid() AS id, o AS owner, s AS status, n
FROM (VALUES ('stats-alice', 'queued', 1), ('stats-alice', 'queued', 2),
             ('stats-alice', 'running', 3), ('stats-alice', 'waiting', 4),
             ('stats-bob', 'queued', 5), ('stats-bob', 'succeeded', 6),
             ('stats-bob', 'failed', 7)) AS v(o, s, n);
INSERT INTO flowdb.runs (id, owner, status, blueprint, created_at, finished_at)
SELECT id, owner, status,
       '{"name": "s", "trigger": {"type": "manual"}, "nodes": [
          {"id": "post", "type": "action", "service": "slack", "task": "post_message"},
          {"id": "get", "type": "action", "service": "http", "task": "request"}]}',
       now() - n * interval '1 minute',
       CASE WHEN status IN ('succeeded', 'failed') THEN now() END
FROM ids;
INSERT INTO flowdb.workflow_logs (run_id, owner, node_id, status, started_at, finished_at, duration_ms)
SELECT i.id, i.owner, l.node, l.status, now() - interval '1 second', now() - l.age, l.ms
FROM ids i
JOIN (VALUES
  -- alice: 1 succeeded, 1 retrying and 1 failed slack attempt
  (3, 'post', 'retrying', interval '1 minute', 900.0),
  (3, 'post', 'failed', interval '1 minute', 1000.0),
  (4, 'get', 'succeeded', interval '2 minutes', 100.0),
  -- bob: 4 fast http steps and one failed, one step two hours ago
  (6, 'get', 'succeeded', interval '1 minute', 10.0),
  (6, 'get', 'succeeded', interval '1 minute', 20.0),
  (6, 'get', 'succeeded', interval '10 minutes', 30.0),
  (6, 'get', 'succeeded', interval '20 minutes', 40.0),
  (7, 'get', 'failed', interval '30 minutes', 50.0),
  (7, 'get', 'succeeded', interval '2 hours', 99999.0)
) AS l(n, node, status, age, ms) ON l.n = i.n;

-- flow_stats without what changes from run to run: the time, the workers
-- (none here), and the backlog's oldest queued time as an age in minutes
CREATE FUNCTION pg_temp.stats() RETURNS text LANGUAGE sql AS $$
	SELECT jsonb_pretty(jsonb_set(s - 'at' - 'workers', '{backlog}',
		(SELECT coalesce(jsonb_agg((b - 'oldest_queued_at') || jsonb_build_object('oldest_queued_min',
			round(extract(epoch FROM now() - (b ->> 'oldest_queued_at')::timestamptz) / 60))), '[]')
		 FROM jsonb_array_elements(s -> 'backlog') b)))
	FROM (SELECT public.flow_stats() AS s) x
$$;
GRANT EXECUTE ON FUNCTION pg_temp.stats() TO PUBLIC;

-- superuser: every owner
SELECT pg_temp.stats();

-- authenticated users see their own numbers only
SET ROLE authenticated;
SELECT set_config('request.jwt.claims', '{"sub": "stats-alice", "role": "authenticated"}', false) IS NOT NULL AS claims_set;
SELECT pg_temp.stats();
SELECT set_config('request.jwt.claims', '{"sub": "stats-bob", "role": "authenticated"}', false) IS NOT NULL AS claims_set;
SELECT flow_stats() -> 'runs' AS bob_runs,
       (SELECT jsonb_agg(b ->> 'owner') FROM jsonb_array_elements(flow_stats() -> 'backlog') b) AS bob_backlog;
-- a JWT claiming service_role does not widen the scope: only the role does
SELECT set_config('request.jwt.claims', '{"sub": "stats-bob", "role": "service_role"}', false) IS NOT NULL AS claims_set;
SELECT flow_stats() ->> 'scope' AS scope, jsonb_array_length(flow_stats() -> 'backlog') AS owners;
-- a user with nothing
SELECT set_config('request.jwt.claims', '{"sub": "stats-nobody", "role": "authenticated"}', false) IS NOT NULL AS claims_set;
SELECT pg_temp.stats();
RESET ROLE;

-- service_role sees every owner
SET ROLE service_role;
SELECT flow_stats() ->> 'scope' AS scope,
       (SELECT jsonb_agg(b ->> 'owner') FROM jsonb_array_elements(flow_stats() -> 'backlog') b) AS owners;
RESET ROLE;
RESET request.jwt.claims;

-- anon cannot call it; the internals are not callable by the API roles
SET ROLE anon;
SELECT flow_stats();
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SET ROLE authenticated;
SELECT * FROM flowdb.worker_health();
\echo :LAST_ERROR_SQLSTATE
SELECT flowdb.realtime_enable();
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

-- no workers configured: no worker rows, no warning
SELECT flow_stats() -> 'workers' AS workers;

DELETE FROM flowdb.runs WHERE id IN (SELECT id FROM ids);
DROP TABLE ids;

------------------------------------------------------------------------
-- Realtime
------------------------------------------------------------------------
-- replica identity: the old key of an UPDATE or DELETE carries the
-- columns Realtime filters on
SELECT c.relname, c.relreplident, i.indexrelid::regclass AS identity_index,
       pg_get_indexdef(i.indexrelid) AS definition
FROM pg_class c
JOIN pg_index i ON i.indrelid = c.oid AND i.indisreplident
WHERE c.oid IN ('flowdb.runs'::regclass, 'flowdb.workflow_logs'::regclass)
ORDER BY 1;

SELECT flowdb.realtime_tables();

-- the publication does not exist (000_setup created none)
SELECT flowdb.realtime_enable();
\echo :LAST_ERROR_SQLSTATE

-- created after the extension: the event trigger adds the tables
CREATE PUBLICATION supabase_realtime;
SELECT schemaname, tablename FROM pg_publication_tables
WHERE pubname = 'supabase_realtime' ORDER BY 1, 2;
-- nothing left to add
SELECT flowdb.realtime_enable();
-- an administrator removing a table (the dashboard's Realtime switch) is
-- left alone; the helper puts it back when asked
ALTER PUBLICATION supabase_realtime DROP TABLE flowdb.runs;
SELECT tablename FROM pg_publication_tables WHERE pubname = 'supabase_realtime' ORDER BY 1;
SELECT flowdb.realtime_enable();
SELECT tablename FROM pg_publication_tables WHERE pubname = 'supabase_realtime' ORDER BY 1;
DROP PUBLICATION supabase_realtime;

-- a publication of that name created by a role that does not own
-- flowdb's tables is not joined (it would publish every tenant's rows)
CREATE ROLE eve;
DO $$ BEGIN EXECUTE format('GRANT CREATE ON DATABASE %I TO eve', current_database()); END $$;
SET ROLE eve;
CREATE PUBLICATION supabase_realtime;
RESET ROLE;
SELECT count(*) AS tables_of_eve FROM pg_publication_tables WHERE pubname = 'supabase_realtime';
DROP PUBLICATION supabase_realtime;
DO $$ BEGIN EXECUTE format('REVOKE CREATE ON DATABASE %I FROM eve', current_database()); END $$;
DROP ROLE eve;

-- other publications are not touched by the event trigger
CREATE PUBLICATION other_pub;
SELECT count(*) AS other_tables FROM pg_publication_tables WHERE pubname = 'other_pub';
-- but the helper can target them
SELECT flowdb.realtime_enable('other_pub');
DROP PUBLICATION other_pub;

-- a publication FOR ALL TABLES already streams everything
CREATE PUBLICATION supabase_realtime FOR ALL TABLES;
SELECT flowdb.realtime_enable();
DROP PUBLICATION supabase_realtime;

-- created before the extension: CREATE EXTENSION joins it
CREATE PUBLICATION supabase_realtime;
DROP EXTENSION flowdb;
SELECT count(*) AS tables_left FROM pg_publication_tables WHERE pubname = 'supabase_realtime';
CREATE EXTENSION flowdb;
SELECT flowdb.grant_api_roles() AS granted_to;
SELECT tablename FROM pg_publication_tables WHERE pubname = 'supabase_realtime' ORDER BY 1;
DROP PUBLICATION supabase_realtime;
