-- flowdb 0.1.0 -> 0.2.0: run by ALTER EXTENSION flowdb UPDATE.
--
-- Every schema change of 0.2.0 made in sql/flowdb--0.2.0.sql (the fresh
-- install script) has its counterpart here, so that an updated database and
-- a fresh install end up with the same schema (test/t/0NN_upgrade.pl
-- compares them).
\echo Use "ALTER EXTENSION flowdb UPDATE TO '0.2.0'" to load this file. \quit

-- status: flow_status lists every node of the blueprint ("progress"),
-- flow_retry can resume with the workflow's current blueprint
-- flowdb.run_progress: every node of a run's blueprint, in blueprint
-- order, with where it stands (flow_status "progress"): status (pending
-- until reached), attempt (and max_attempts for actions), since (running:
-- when its request went out; waiting: since when), due_at (retrying: the
-- next attempt; waiting: the timeout), first start, finish, the time spent
-- in its finished attempts (duration_ms) and its error.
CREATE FUNCTION flowdb.run_progress(blueprint jsonb, state jsonb, run_id uuid)
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT coalesce(jsonb_agg(jsonb_build_object(
			'id', n.id,
			'type', n.type,
			'service', n.node ->> 'service',
			'task', n.node ->> 'task',
			'status', n.status,
			'attempt', coalesce((n.ns ->> 'attempt')::int, 0),
			'max_attempts', CASE WHEN n.type = 'action'
				THEN coalesce((n.node #>> '{retry,max_attempts}')::int, 3) END,
			'since', CASE
				WHEN n.status = 'running' AND n.ns ? 'started'
					THEN to_timestamp((n.ns ->> 'started')::float8 / 1000)
				WHEN n.status IN ('waiting', 'resumed') AND n.ns ? 'since'
					THEN to_timestamp((n.ns ->> 'since')::float8 / 1000) END,
			'due_at', CASE WHEN n.status IN ('retrying', 'waiting')
					AND (n.ns ->> 'due')::float8 > 0
				THEN to_timestamp((n.ns ->> 'due')::float8 / 1000) END,
			'started_at', coalesce(g.first_start, CASE WHEN n.status = 'running'
				AND n.ns ? 'started' THEN to_timestamp((n.ns ->> 'started')::float8 / 1000) END),
			'finished_at', CASE WHEN n.status IN ('succeeded', 'failed', 'skipped')
				THEN g.last_finish END,
			'duration_ms', g.spent,
			'error', CASE WHEN n.status IN ('retrying', 'failed') THEN n.ns ->> 'error' END)
			ORDER BY n.ord), '[]')
	FROM (SELECT b.ord, b.node, b.node ->> 'id' AS id,
				 coalesce(b.node ->> 'type', 'action') AS type,
				 state #> ARRAY['nodes', b.node ->> 'id'] AS ns,
				 coalesce(state #>> ARRAY['nodes', b.node ->> 'id', 'status'], 'pending') AS status
		  FROM jsonb_array_elements(CASE WHEN jsonb_typeof(blueprint -> 'nodes') = 'array'
										 THEN blueprint -> 'nodes' ELSE '[]' END)
			   WITH ORDINALITY AS b(node, ord)
		  WHERE jsonb_typeof(b.node) = 'object') n
	LEFT JOIN (SELECT l.node_id, min(l.started_at) AS first_start,
					  max(l.finished_at) AS last_finish,
					  sum(l.duration_ms) AS spent
			   FROM flowdb.workflow_logs l
			   WHERE l.run_id = run_progress.run_id
			   GROUP BY l.node_id) g ON g.node_id = n.id
$$;

CREATE OR REPLACE FUNCTION public.flow_status(run_id uuid) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r flowdb.runs;
	steps jsonb;
	progress jsonb;
BEGIN
	SELECT * INTO r FROM flowdb.runs
	WHERE id = flow_status.run_id AND owner = flowdb.current_owner();
	IF NOT FOUND THEN
		RAISE EXCEPTION 'run % not found', run_id USING ERRCODE = 'P0002';
	END IF;
	SELECT coalesce(jsonb_agg(jsonb_build_object(
			'node_id', l.node_id, 'status', l.status, 'attempt', l.attempt,
			'input', l.input, 'output', l.output, 'error', l.error,
			'started_at', l.started_at, 'finished_at', l.finished_at,
			'duration_ms', l.duration_ms) ORDER BY l.id), '[]')
	INTO steps
	FROM flowdb.workflow_logs l WHERE l.run_id = r.id;
	progress := flowdb.run_progress(r.blueprint, r.state, r.id);
	RETURN jsonb_build_object(
		'id', r.id, 'workflow_id', r.workflow_id, 'name', r.blueprint ->> 'name',
		'status', r.status, 'error', r.error, 'output', r.output,
		'nodes', coalesce(r.state -> 'nodes', '{}'),
		'progress', progress,
		'steps', steps,
		'created_at', r.created_at, 'started_at', r.started_at,
		'finished_at', r.finished_at);
END
$$;

COMMENT ON FUNCTION public.flow_status(uuid) IS
'A run of yours: its status and error, "progress" (every node of its blueprint in order: pending, running since, retrying, waiting, skipped, succeeded or failed, with attempts and durations), "nodes" (the engine state by node id) and "steps" (the step log, started rows included).';

DROP FUNCTION public.flow_retry(uuid);
-- flow_retry: resume a failed (or canceled) run from its failed step,
-- keeping the outputs of completed steps.  With use_current_blueprint the
-- run continues with its saved workflow's current blueprint (after a fix):
-- succeeded steps whose node id still exists are kept, every other node
-- runs (again); the run's blueprint becomes that one.
CREATE FUNCTION public.flow_retry(run_id uuid, use_current_blueprint boolean DEFAULT false)
RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r flowdb.runs;
	bp jsonb;
	nodes jsonb := '{}';
	fresh boolean := coalesce(use_current_blueprint, false);
	keep text[] := ARRAY['succeeded', 'skipped'];
	k text;
	v jsonb;
BEGIN
	PERFORM flowdb.refuse_anon();
	SELECT * INTO r FROM flowdb.runs
	WHERE id = flow_retry.run_id AND owner = flowdb.current_owner()
	FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'run % not found', run_id USING ERRCODE = 'P0002';
	END IF;
	IF r.status NOT IN ('failed', 'canceled') THEN
		RAISE EXCEPTION 'run % is %, only failed or canceled runs can be retried',
			run_id, r.status
			USING ERRCODE = '55000';
	END IF;
	bp := r.blueprint;
	IF fresh THEN
		IF r.workflow_id IS NULL THEN
			RAISE EXCEPTION 'run % has no saved workflow to take a current blueprint from', run_id
				USING ERRCODE = '55000',
					  HINT = 'Runs started by flow_execute carry their own blueprint: retry without use_current_blueprint, or start a new run.';
		END IF;
		SELECT w.blueprint INTO bp FROM flowdb.workflows w
		WHERE w.id = r.workflow_id AND w.owner = r.owner;
		IF NOT FOUND OR bp IS NULL THEN
			RAISE EXCEPTION 'the workflow of run % has no blueprint', run_id
				USING ERRCODE = '55000',
					  HINT = 'Save a valid blueprint for the workflow first (flow_save / flow_draft).';
		END IF;
		PERFORM flowdb.check_blueprint(bp);
		-- edges may differ: only succeeded steps are kept (a kept skipped
		-- node's edges would never be decided again), and the edge state
		-- starts over (the engine decides the kept steps' edges anew)
		keep := ARRAY['succeeded'];
	END IF;
	-- keep completed nodes (that still exist); everything else starts over
	FOR k, v IN SELECT * FROM jsonb_each(coalesce(r.state -> 'nodes', '{}')) LOOP
		IF v ->> 'status' = ANY (keep)
		   AND (NOT fresh
				OR jsonb_path_exists(bp, '$.nodes[*] ? (@.id == $id)', jsonb_build_object('id', k))) THEN
			nodes := nodes || jsonb_build_object(k, v);
		END IF;
	END LOOP;
	UPDATE flowdb.runs
	SET status = 'queued', error = NULL, finished_at = NULL, next_at = now(),
		lease_owner = NULL, lease_until = NULL, lease_token = NULL, crashes = 0,
		updated_at = now(), blueprint = bp,
		state = (jsonb_set(state, '{nodes}', nodes) - 'error'
				 - CASE WHEN fresh THEN 'edges' ELSE '' END)
			|| jsonb_build_object('retries', coalesce((state ->> 'retries')::int, 0) + 1)
	WHERE id = r.id;
	RETURN r.id;
END
$$;

COMMENT ON FUNCTION public.flow_retry(uuid, boolean) IS
'Resume a failed or canceled run of yours from its failed step, keeping completed steps. use_current_blueprint => true continues with the saved workflow''s current blueprint (after a fix): succeeded steps whose node id still exists are kept, the others run again.';

-- status: schedules in a time zone (trigger.timezone) and cron macros
-- (@daily, ...: parsed in C, no SQL change); payloads must be objects
-- (flowdb.check_payload, in C)
CREATE FUNCTION flowdb.cron_matches(expr text, at timestamptz, timezone text) RETURNS boolean
AS 'MODULE_PATHNAME', 'flowdb_cron_matches_tz'
LANGUAGE C STRICT STABLE PARALLEL SAFE;
-- flowdb.fire_schedules: queue a run of every active schedule workflow
-- whose cron matches the current minute on its time zone's wall clock
-- (trigger.timezone, UTC when absent) and has not fired in it.  Called by
-- worker 0 on every scan; no pg_cron needed.
CREATE OR REPLACE FUNCTION flowdb.fire_schedules() RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	w flowdb.workflows;
	minute timestamptz := date_trunc('minute', now());
	tz text;
	n integer := 0;
BEGIN
	FOR w IN
		SELECT * FROM flowdb.workflows wf
		WHERE wf.active AND wf.blueprint #>> '{trigger,type}' = 'schedule'
		  AND (wf.last_fired_at IS NULL OR wf.last_fired_at < minute)
		FOR UPDATE SKIP LOCKED
	LOOP
		BEGIN
			tz := coalesce(w.blueprint #>> '{trigger,timezone}', 'UTC');
			IF flowdb.cron_matches(w.blueprint #>> '{trigger,cron}', minute, tz) THEN
				PERFORM flowdb.enqueue(w.blueprint,
					jsonb_build_object('scheduled_at', minute, 'cron', w.blueprint #>> '{trigger,cron}',
									   'timezone', tz),
					w.id, w.owner);
				UPDATE flowdb.workflows SET last_fired_at = minute WHERE id = w.id;
				n := n + 1;
			END IF;
		EXCEPTION WHEN OTHERS THEN
			-- one broken workflow must not stop the others (or the worker)
			RAISE WARNING 'flowdb: schedule of workflow % not fired: %', w.id, SQLERRM;
			UPDATE flowdb.workflows SET last_fired_at = minute WHERE id = w.id;
		END;
	END LOOP;
	RETURN n;
END
$$;
-- the privilege model for the new functions (flow_retry's new signature
-- gets the client grants, the internal ones none): keep this last
SELECT flowdb.grant_api_roles();
