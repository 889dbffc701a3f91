-- flowdb 0.1.0 -> 0.2.0: run by ALTER EXTENSION flowdb UPDATE.
--
-- Every schema change of 0.2.0 made in sql/flowdb--0.2.0.sql (the fresh
-- install script) has its counterpart here, so that an updated database and
-- a fresh install end up with the same schema (test/t/0NN_upgrade.pl
-- compares them).
\echo Use "ALTER EXTENSION flowdb UPDATE TO '0.2.0'" to load this file. \quit

-- newcomer: flowdb.require_preload (CREATE EXTENSION without
-- shared_preload_libraries is an ERROR with the fix, not a FATAL)
CREATE FUNCTION flowdb.require_preload() RETURNS void
AS 'MODULE_PATHNAME', 'flowdb_require_preload'
LANGUAGE C STRICT VOLATILE;
SELECT flowdb.require_preload();
REVOKE ALL ON FUNCTION flowdb.require_preload() FROM PUBLIC;

------------------------------------------------------------------------
-- newcomer: dry runs (runs.sandbox, workflows.sandbox, sandbox => true of
-- flow_execute / flow_run, flow_set_sandbox, flow_status "sandbox")
------------------------------------------------------------------------
-- runs.sandbox: the run was started as a dry run.  Every action step of it
-- records its request in flowdb.outbox and succeeds with the task's sample
-- output instead of sending anything, as with flowdb.sandbox = on.  Set at
-- enqueue from the caller's sandbox => true (flow_execute, flow_run) or
-- the workflow's flag, and never cleared: resumes (events, approvals,
-- delays) and flow_retry keep it.  A caller can only make a run safer than
-- the server: with flowdb.sandbox = on every run is sandboxed anyway.
--
-- workflows.sandbox: every run of the workflow is a dry run, however it
-- starts (flow_run, events, webhooks, table triggers, schedules), until
-- flow_set_sandbox(id, false).  For a workflow under review; an active
-- workflow with the flag runs in "shadow mode" (triggers fire, nothing is
-- sent).
ALTER TABLE flowdb.runs ADD COLUMN sandbox boolean NOT NULL DEFAULT false;
ALTER TABLE flowdb.workflows ADD COLUMN sandbox boolean NOT NULL DEFAULT false;


-- flowdb.enqueue, flow_execute and flow_run gain a parameter, which CREATE
-- OR REPLACE cannot add: each old function is renamed out of the way, the
-- new one created, the old one's privileges copied onto it (grants made
-- with flowdb.grant_api_roles to any role stay), and the old one dropped.
ALTER FUNCTION flowdb.enqueue(jsonb, jsonb, uuid, text) RENAME TO enqueue_0_1_0;
ALTER FUNCTION public.flow_execute(jsonb, jsonb) RENAME TO flow_execute_0_1_0;
ALTER FUNCTION public.flow_run(uuid, jsonb) RENAME TO flow_run_0_1_0;

-- flowdb.enqueue: validate and queue a run (the one insert path).  The
-- run is a dry run (runs.sandbox, see "Dry runs") when the caller asks for
-- one or the workflow is flagged; a caller can never turn the flag off.
CREATE FUNCTION flowdb.enqueue(blueprint jsonb, payload jsonb, workflow_id uuid, owner text,
							   sandbox boolean DEFAULT false)
RETURNS uuid
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	rid uuid;
BEGIN
	IF payload IS NULL THEN
		payload := '{}';
	END IF;
	PERFORM flowdb.check_blueprint(blueprint);
	PERFORM flowdb.check_payload(payload);
	PERFORM flowdb.check_backlog(owner);
	sandbox := coalesce(sandbox, false)
		OR (workflow_id IS NOT NULL
			AND coalesce((SELECT w.sandbox FROM flowdb.workflows w
						  WHERE w.id = enqueue.workflow_id), false));
	INSERT INTO flowdb.runs (workflow_id, owner, blueprint, payload, sandbox)
	VALUES (workflow_id, owner, blueprint, payload, sandbox)
	RETURNING id INTO rid;
	RETURN rid;
END
$$;

-- flow_execute: validate a blueprint and queue a run of it; sandbox =>
-- true makes it a dry run (requests recorded in flowdb.outbox, not sent)
CREATE FUNCTION public.flow_execute(blueprint jsonb, payload jsonb DEFAULT '{}',
									sandbox boolean DEFAULT false)
RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM flowdb.refuse_anon();
	IF blueprint IS NULL THEN
		RAISE EXCEPTION 'blueprint must not be null' USING ERRCODE = '22004';
	END IF;
	RETURN flowdb.enqueue(blueprint, payload, NULL, flowdb.current_owner(), sandbox);
END
$$;

-- flow_run: queue a run of a saved workflow (active or not); sandbox =>
-- true makes it a dry run, as does the workflow's own flag (flow_set_sandbox)
CREATE FUNCTION public.flow_run(workflow_id uuid, payload jsonb DEFAULT '{}',
								sandbox boolean DEFAULT false)
RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	w flowdb.workflows;
BEGIN
	PERFORM flowdb.refuse_anon();
	IF workflow_id IS NULL THEN
		RAISE EXCEPTION 'workflow_id must not be null' USING ERRCODE = '22004';
	END IF;
	SELECT * INTO w FROM flowdb.workflows
	WHERE id = flow_run.workflow_id AND owner = flowdb.current_owner();
	IF NOT FOUND THEN
		RAISE EXCEPTION 'workflow % not found', workflow_id
			USING ERRCODE = 'P0002';
	END IF;
	IF w.blueprint IS NULL THEN
		RAISE EXCEPTION 'workflow % has no blueprint (draft %)', workflow_id, w.draft_status
			USING ERRCODE = '55000',
				  HINT = 'Wait until the draft is ready, or save a blueprint with flow_save.';
	END IF;
	RETURN flowdb.enqueue(w.blueprint, payload, w.id, w.owner, sandbox);
END
$$;

-- flow_status: a run with its node states and step log
CREATE OR REPLACE FUNCTION public.flow_status(run_id uuid) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r flowdb.runs;
	steps jsonb;
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
	RETURN jsonb_build_object(
		'id', r.id, 'workflow_id', r.workflow_id, 'name', r.blueprint ->> 'name',
		'status', r.status, 'error', r.error, 'output', r.output,
		'sandbox', r.sandbox,
		'nodes', coalesce(r.state -> 'nodes', '{}'),
		'steps', steps,
		'created_at', r.created_at, 'started_at', r.started_at,
		'finished_at', r.finished_at);
END
$$;

-- flow_set_sandbox: flag (or unflag) a workflow of the caller so that
-- every run of it is a dry run; true when the flag changed.  Runs already
-- queued keep the flag they started with.
CREATE FUNCTION public.flow_set_sandbox(workflow_id uuid, sandbox boolean DEFAULT true)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	was boolean;
BEGIN
	PERFORM flowdb.refuse_anon();
	IF workflow_id IS NULL THEN
		RAISE EXCEPTION 'workflow_id must not be null' USING ERRCODE = '22004';
	END IF;
	IF sandbox IS NULL THEN
		RAISE EXCEPTION 'sandbox must not be null' USING ERRCODE = '22004',
			HINT = 'true: every run of the workflow is a dry run; false: runs send their requests.';
	END IF;
	SELECT w.sandbox INTO was FROM flowdb.workflows w
	WHERE w.id = flow_set_sandbox.workflow_id AND w.owner = flowdb.current_owner()
	FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'workflow % not found', workflow_id USING ERRCODE = 'P0002';
	END IF;
	UPDATE flowdb.workflows w SET sandbox = flow_set_sandbox.sandbox, updated_at = now()
	WHERE w.id = flow_set_sandbox.workflow_id;
	RETURN was IS DISTINCT FROM sandbox;
END
$$;

COMMENT ON FUNCTION public.flow_execute(jsonb, jsonb, boolean) IS
'Validate a blueprint and queue a run of it; returns the run id. sandbox => true: a dry run (requests recorded in flowdb.outbox, nothing sent).';
COMMENT ON FUNCTION public.flow_run(uuid, jsonb, boolean) IS
'Queue a run of a saved workflow (active or draft); returns the run id. sandbox => true: a dry run (requests recorded in flowdb.outbox, nothing sent).';
COMMENT ON FUNCTION public.flow_set_sandbox(uuid, boolean) IS
'Flag a workflow so that every run of it, however started, is a dry run (sandbox => false to go live); true when the flag changed.';

-- privileges: the new functions get exactly the EXECUTE grants of the old
-- ones (flow_set_sandbox those of flow_run: the same callers)
DO $$
DECLARE
	p record;
	a record;
BEGIN
	FOR p IN
		SELECT v.old, v.new FROM (VALUES
			('flowdb.enqueue_0_1_0(jsonb,jsonb,uuid,text)'::regprocedure,
			 'flowdb.enqueue(jsonb,jsonb,uuid,text,boolean)'::regprocedure),
			('public.flow_execute_0_1_0(jsonb,jsonb)'::regprocedure,
			 'public.flow_execute(jsonb,jsonb,boolean)'::regprocedure),
			('public.flow_run_0_1_0(uuid,jsonb)'::regprocedure,
			 'public.flow_run(uuid,jsonb,boolean)'::regprocedure),
			('public.flow_run_0_1_0(uuid,jsonb)'::regprocedure,
			 'public.flow_set_sandbox(uuid,boolean)'::regprocedure)) AS v(old, new)
	LOOP
		FOR a IN
			SELECT x.grantee FROM pg_catalog.pg_proc f,
				LATERAL pg_catalog.aclexplode(coalesce(f.proacl, pg_catalog.acldefault('f', f.proowner))) x
			WHERE f.oid = p.new AND x.grantee <> f.proowner
		LOOP
			EXECUTE format('REVOKE ALL ON FUNCTION %s FROM %s', p.new,
						   CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END);
		END LOOP;
		FOR a IN
			SELECT x.grantee, x.is_grantable FROM pg_catalog.pg_proc f,
				LATERAL pg_catalog.aclexplode(coalesce(f.proacl, pg_catalog.acldefault('f', f.proowner))) x
			WHERE f.oid = p.old AND x.grantee <> f.proowner AND x.privilege_type = 'EXECUTE'
		LOOP
			EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %s%s', p.new,
						   CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END,
						   CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
		END LOOP;
	END LOOP;
END
$$;
DROP FUNCTION flowdb.enqueue_0_1_0(jsonb, jsonb, uuid, text);
DROP FUNCTION public.flow_execute_0_1_0(jsonb, jsonb);
DROP FUNCTION public.flow_run_0_1_0(uuid, jsonb);
