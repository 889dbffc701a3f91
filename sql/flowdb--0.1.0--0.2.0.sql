-- flowdb 0.1.0 -> 0.2.0: run by ALTER EXTENSION flowdb UPDATE.
--
-- Every schema change of 0.2.0 made in sql/flowdb--0.2.0.sql (the fresh
-- install script) has its counterpart here, so that an updated database and
-- a fresh install end up with the same schema (test/t/0NN_upgrade.pl
-- compares them).
\echo Use "ALTER EXTENSION flowdb UPDATE TO '0.2.0'" to load this file. \quit

-- launcher: workers serve every database that has the extension; worker_info
-- gains the database and the worker's number there (appended columns: the
-- C function fills what the declaration asks for), worker_health lists this
-- database's workers, flow_stats' hint names the new settings
DROP FUNCTION flowdb.worker_info();
-- flowdb.worker_info: pid and counters of each background worker, of every
-- database, with its database and its number there
CREATE FUNCTION flowdb.worker_info(OUT slot integer, OUT pid integer,
	OUT claimed bigint, OUT steps bigint, OUT commits bigint, OUT wakeups bigint,
	OUT heartbeat_at timestamptz, OUT starts bigint,
	OUT database name, OUT worker integer)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'flowdb_worker_info'
LANGUAGE C STRICT VOLATILE;
REVOKE ALL ON FUNCTION flowdb.worker_info() FROM PUBLIC;

-- flowdb.worker_health: the flowdb.workers workers of this database, by
-- number, with whether each is alive: a process serves as it and went
-- round its loop recently (within three scan intervals, at least 10 s).  A
-- worker the launcher could not start (flowdb.max_workers or
-- max_worker_processes reached, flowdb.database_name naming another
-- database) has no process and shows as not alive.
CREATE OR REPLACE FUNCTION flowdb.worker_health(OUT slot integer, OUT pid integer,
	OUT alive boolean, OUT heartbeat_at timestamptz, OUT restarts bigint,
	OUT claimed bigint, OUT steps bigint)
RETURNS SETOF record
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT g.n, nullif(w.pid, 0),
		   coalesce(w.pid <> 0 AND w.heartbeat_at IS NOT NULL
			 AND w.heartbeat_at > pg_catalog.clock_timestamp() - pg_catalog.make_interval(
				 secs => GREATEST(10.0::pg_catalog.float8,
					 3 * (SELECT g.setting::pg_catalog.float8 / 1000 FROM pg_catalog.pg_settings g
						 WHERE g.name = 'flowdb.scan_interval_ms'))), false),
		   w.heartbeat_at, GREATEST(coalesce(w.starts, 0) - 1, 0), w.claimed, w.steps
	FROM pg_catalog.generate_series(0,
			coalesce(pg_catalog.current_setting('flowdb.workers', true), '0')::pg_catalog.int4 - 1) AS g(n)
	LEFT JOIN flowdb.worker_info() w
		ON w.worker = g.n AND w.database = pg_catalog.current_database()
	ORDER BY g.n
$$;

-- flow_stats: load and health.  Runs by state, steps per minute (last 5
-- minutes), failed attempts by service and step latency percentiles (last
-- hour), backlog per owner, and the workers.  A caller sees only their own
-- runs and steps; service_role and superusers see every owner (scope
-- "all").  Workers that are not alive are also raised as a WARNING.
CREATE OR REPLACE FUNCTION public.flow_stats() RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	me text := flowdb.current_owner();
	everyone boolean := flowdb.caller_is_admin();
	runs jsonb;
	spm numeric;
	failures jsonb;
	latency jsonb;
	backlog jsonb;
	workers jsonb;
	w record;
BEGIN
	SELECT jsonb_build_object(
			'queued', count(*) FILTER (WHERE r.status = 'queued'),
			'running', count(*) FILTER (WHERE r.status = 'running'),
			'waiting', count(*) FILTER (WHERE r.status = 'waiting'))
	INTO runs
	FROM flowdb.runs r
	WHERE r.status IN ('queued', 'running', 'waiting') AND (everyone OR r.owner = me);

	SELECT round(count(*) / 5.0, 1) INTO spm
	FROM flowdb.workflow_logs l
	WHERE l.finished_at >= now() - interval '5 minutes'
	  AND l.status IN ('succeeded', 'failed', 'retrying')
	  AND (everyone OR l.owner = me);

	SELECT coalesce(jsonb_object_agg(f.service, f.n), '{}') INTO failures
	FROM (SELECT coalesce(jsonb_path_query_first(r.blueprint,
								'$.nodes[*] ? (@.id == $id).service',
								jsonb_build_object('id', l.node_id)) #>> '{}', 'unknown') AS service,
				 count(*) AS n
		  FROM flowdb.workflow_logs l
		  JOIN flowdb.runs r ON r.id = l.run_id
		  WHERE l.finished_at >= now() - interval '1 hour'
			AND l.status IN ('failed', 'retrying')
			AND (everyone OR l.owner = me)
		  GROUP BY 1) f;

	SELECT jsonb_build_object(
			'steps', count(*),
			'p50', round(percentile_cont(0.50) WITHIN GROUP (ORDER BY l.duration_ms)::numeric, 1),
			'p95', round(percentile_cont(0.95) WITHIN GROUP (ORDER BY l.duration_ms)::numeric, 1),
			'p99', round(percentile_cont(0.99) WITHIN GROUP (ORDER BY l.duration_ms)::numeric, 1))
	INTO latency
	FROM flowdb.workflow_logs l
	WHERE l.finished_at >= now() - interval '1 hour'
	  AND l.duration_ms IS NOT NULL
	  AND (everyone OR l.owner = me);

	SELECT coalesce(jsonb_agg(jsonb_build_object(
			'owner', b.owner, 'queued', b.queued, 'running', b.running,
			'waiting', b.waiting, 'oldest_queued_at', b.oldest) ORDER BY b.queued DESC, b.owner), '[]')
	INTO backlog
	FROM (SELECT r.owner,
				 count(*) FILTER (WHERE r.status = 'queued') AS queued,
				 count(*) FILTER (WHERE r.status = 'running') AS running,
				 count(*) FILTER (WHERE r.status = 'waiting') AS waiting,
				 min(r.created_at) FILTER (WHERE r.status = 'queued') AS oldest
		  FROM flowdb.runs r
		  WHERE r.status IN ('queued', 'running', 'waiting') AND (everyone OR r.owner = me)
		  GROUP BY r.owner) b;

	workers := '[]';
	FOR w IN SELECT * FROM flowdb.worker_health() LOOP
		workers := workers || jsonb_build_array(jsonb_build_object(
			'slot', w.slot, 'alive', w.alive, 'heartbeat_at', w.heartbeat_at,
			'restarts', w.restarts)
			|| CASE WHEN everyone THEN jsonb_build_object(
				'pid', w.pid, 'claimed', w.claimed, 'steps', w.steps)
			   ELSE '{}' END);
		IF NOT w.alive THEN
			RAISE WARNING 'flowdb worker % is not running', w.slot
				USING DETAIL = CASE WHEN w.pid IS NULL
						THEN 'Its slot has no process (restarts so far: ' || w.restarts || ').'
						ELSE 'Its process has not gone round its loop since '
							 || coalesce(w.heartbeat_at::text, 'it started') || '.' END,
					  HINT = 'Check the server log for flowdb worker and launcher errors: flowdb.max_workers and max_worker_processes must leave room for the workers of every database, and flowdb.database_name, when set, must name this database.';
		END IF;
	END LOOP;

	RETURN jsonb_build_object(
		'scope', CASE WHEN everyone THEN 'all' ELSE 'owner' END,
		'at', now(),
		'runs', runs,
		'steps_per_minute', spm,
		'failures_by_service', failures,
		'latency_ms', latency,
		'backlog', backlog,
		'workers', workers);
END
$$;
