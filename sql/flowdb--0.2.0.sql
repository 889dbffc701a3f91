-- flowdb 0.2.0: durable workflow engine inside PostgreSQL.
--
-- Internal tables live in schema flowdb.  The RPC surface (flow_*) is
-- created in public so that PostgREST exposes it as /rpc/flow_execute etc.
-- Every row carries an owner: the JWT "sub" from request.jwt.claims when
-- PostgREST set one, else the database role.  RLS restricts every table to
-- its owner; writes go through SECURITY DEFINER functions with a pinned
-- search_path.

\echo Use "CREATE EXTENSION flowdb" to load this file. \quit

CREATE SCHEMA flowdb;
GRANT USAGE ON SCHEMA flowdb TO PUBLIC;

-- flowdb.require_preload: raise 55000 unless the library was loaded by
-- shared_preload_libraries (the background workers start with the
-- server).  Called first, so that CREATE EXTENSION without it fails with
-- the fix and creates nothing.
CREATE FUNCTION flowdb.require_preload() RETURNS void
AS 'MODULE_PATHNAME', 'flowdb_require_preload'
LANGUAGE C STRICT VOLATILE;
SELECT flowdb.require_preload();

-- flowdb.current_owner: who is calling, as PostgREST sees it.
-- Inside SECURITY DEFINER functions current_user is the definer, so the
-- role is taken from the "role" setting (what SET ROLE chose) and then
-- session_user.
CREATE FUNCTION flowdb.current_owner() RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT coalesce(
		nullif(nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub', ''),
		nullif(current_setting('role'), 'none'),
		session_user::text)
$$;

-- flowdb.refuse_anon: raise 42501 when the caller is PostgREST's anonymous
-- role (SET ROLE anon, or a JWT whose role claim is anon).  Every function
-- that acts calls it first, so a re-granted EXECUTE still acts for nobody
-- anonymous.  It also refuses the reserved server-wide owner '*' (a JWT
-- whose sub is "*" must not act as the server; only superusers and
-- service_role may, through flow_set_server_credential).
CREATE FUNCTION flowdb.refuse_anon() RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF current_setting('role') = 'anon' OR session_user = 'anon'
	   OR nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role' = 'anon'
	   OR current_setting('request.jwt.claim.role', true) = 'anon' THEN
		RAISE EXCEPTION 'permission denied: anonymous callers cannot start or change workflows'
			USING ERRCODE = 'insufficient_privilege',
				  HINT = 'Sign in: the function needs the authenticated or service_role role.';
	END IF;
	-- '*' names the server-wide owner (shared keys, single-shop webhook
	-- secrets): no caller may act as it
	IF flowdb.current_owner() = '*' AND NOT coalesce(flowdb.caller_is_admin(), false) THEN
		RAISE EXCEPTION 'permission denied: owner "*" is reserved for server-wide credentials'
			USING ERRCODE = 'insufficient_privilege',
				  HINT = 'Server-wide credentials are set with flowdb.set_server_credential().';
	END IF;
END
$$;

------------------------------------------------------------------------
-- Tables (all logged: they must survive a crash)
------------------------------------------------------------------------

CREATE TABLE flowdb.workflows (
	id			uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	owner		text NOT NULL DEFAULT flowdb.current_owner(),
	name		text NOT NULL,
	blueprint	jsonb,
	active		boolean NOT NULL DEFAULT true,
	prompt		text,
	drafted_by	text,
	warnings	jsonb NOT NULL DEFAULT '[]',
	draft_status text CHECK (draft_status IN ('drafting', 'ready', 'failed')),
	draft_problems jsonb NOT NULL DEFAULT '[]',
	draft_run_id uuid,
	last_fired_at timestamptz,		-- schedule triggers: last minute fired
	created_at	timestamptz NOT NULL DEFAULT now(),
	updated_at	timestamptz NOT NULL DEFAULT now(),
	CHECK (blueprint IS NOT NULL OR draft_status IN ('drafting', 'failed'))
);
CREATE INDEX workflows_owner ON flowdb.workflows (owner);
CREATE INDEX workflows_event ON flowdb.workflows ((blueprint #>> '{trigger,event}'))
	WHERE active;

CREATE TABLE flowdb.runs (
	id			uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	workflow_id uuid REFERENCES flowdb.workflows (id) ON DELETE SET NULL,
	owner		text NOT NULL DEFAULT flowdb.current_owner(),
	status		text NOT NULL DEFAULT 'queued'
		CHECK (status IN ('queued', 'running', 'waiting', 'succeeded', 'failed', 'canceled')),
	blueprint	jsonb NOT NULL,
	payload		jsonb NOT NULL DEFAULT '{}',
	-- engine state: {"nodes": {"<id>": {"status", "attempt", "output", ...}}}
	state		jsonb NOT NULL DEFAULT '{}',
	error		text,
	-- when a worker should next look at the run ('infinity' while leased
	-- or waiting without a timeout)
	next_at		timestamptz NOT NULL DEFAULT now(),
	lease_owner integer,
	lease_until timestamptz,
	-- a new token at every claim; the worker's commits and renewals match
	-- it, so a copy of the run from an older claim can never write
	lease_token uuid,
	-- worker crashes (or restarts) while the run was leased; at
	-- flowdb.max_run_crashes the run is failed instead of claimed again
	crashes		integer NOT NULL DEFAULT 0,
	created_at	timestamptz NOT NULL DEFAULT now(),
	started_at	timestamptz,
	finished_at timestamptz,
	updated_at	timestamptz NOT NULL DEFAULT now(),
	-- a run is finished exactly when finished_at is set: the indexes of
	-- unfinished runs are partial on finished_at, not on status, so that
	-- an update that changes the status only (a commit while the lease is
	-- kept) changes no indexed column
	CONSTRAINT runs_finished_check
		CHECK ((status IN ('succeeded', 'failed', 'canceled')) = (finished_at IS NOT NULL))
) WITH (fillfactor = 70);		-- room for HOT updates of state at every step
-- a queue table: every run is updated at claim and at finish, which leaves
-- dead entries at the front of runs_owner_due that every claim walks
-- until VACUUM removes them (measured: 320 index pages per walk after
-- 160,000 runs, claims 3 ms slower each).  Vacuum it after 1% of its rows
-- changed, unthrottled (the default waits for 20%, throttled)
ALTER TABLE flowdb.runs SET (autovacuum_vacuum_scale_factor = 0.01,
	autovacuum_vacuum_threshold = 1000, autovacuum_vacuum_cost_delay = 0);
-- flowdb.runs.state is written again at every commit of its run, and a
-- large state (a map over thousands of items: about 1 MB) is compressed
-- again each time.  lz4 compresses faster than pglz (a map
-- over 8,000 items: 3.6 s of the worker instead of 4.1, measured) for
-- about 20% more bytes.  A server built without lz4 keeps pglz.
DO $$
BEGIN
	IF EXISTS (SELECT FROM pg_settings
			   WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
		ALTER TABLE flowdb.runs ALTER COLUMN state SET COMPRESSION lz4;
	END IF;
END
$$;
-- Unfinished runs are indexed once, by runs_owner_due (owner, next_at, id)
-- below, which the claim walks.  A second partial index on next_at alone
-- cost an insert at every queueing and claim, and was a trap: a cached
-- claim plan made while ANALYZE had last seen no unfinished run (a
-- drained queue) estimated it at one row and read the whole backlog
-- through it, sorted, for every claim, and once per run to lock it
-- (measured: 7,328 and 18,400 rows read per claim of 32 runs, 25-320 ms).
CREATE INDEX runs_lease ON flowdb.runs (lease_owner)
	WHERE lease_owner IS NOT NULL;
CREATE INDEX runs_owner ON flowdb.runs (owner, created_at DESC);
CREATE INDEX runs_workflow ON flowdb.runs (workflow_id);
CREATE INDEX runs_finished ON flowdb.runs (finished_at)
	WHERE finished_at IS NOT NULL;

CREATE TABLE flowdb.workflow_logs (
	id			bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	run_id		uuid NOT NULL REFERENCES flowdb.runs (id) ON DELETE CASCADE,
	owner		text NOT NULL,
	node_id		text NOT NULL,
	status		text NOT NULL
		CHECK (status IN ('started', 'succeeded', 'failed', 'retrying', 'skipped')),
	attempt		integer NOT NULL DEFAULT 1,
	input		jsonb,				-- rendered params, secrets redacted
	output		jsonb,
	error		text,
	started_at	timestamptz NOT NULL DEFAULT now(),
	finished_at timestamptz,
	duration_ms double precision,
	item		integer				-- a map node's item (index from 0), else NULL
);
-- unique with owner: also the replica identity (see the Realtime section)
CREATE UNIQUE INDEX workflow_logs_run ON flowdb.workflow_logs (run_id, id, owner);

-- Credentials: per owner and service, by name ("default" when a node names
-- none).  Never readable by clients: no SELECT grant; only the worker
-- resolves them (flowdb.credential_secret).  With Supabase Vault the row
-- may instead point at vault.secrets.
CREATE TABLE flowdb.credentials (
	owner		text NOT NULL DEFAULT flowdb.current_owner(),
	service		text NOT NULL,
	name		text NOT NULL DEFAULT 'default',
	secret		jsonb,
	vault_secret_id uuid,
	created_at	timestamptz NOT NULL DEFAULT now(),
	updated_at	timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (owner, service, name),
	CHECK ((secret IS NULL) <> (vault_secret_id IS NULL))
);

-- Sandbox outbox: the exact request a step would have sent (redacted).
CREATE TABLE flowdb.outbox (
	id			bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	run_id		uuid NOT NULL REFERENCES flowdb.runs (id) ON DELETE CASCADE,
	owner		text NOT NULL,
	node_id		text NOT NULL,
	service		text NOT NULL,
	task		text NOT NULL,
	method		text NOT NULL,
	url			text NOT NULL,
	headers		jsonb NOT NULL DEFAULT '{}',
	body		text,
	created_at	timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbox_run ON flowdb.outbox (run_id);

-- Webhook deliveries already accepted (providers retry; start nothing twice)
CREATE TABLE flowdb.webhook_deliveries (
	provider	text NOT NULL,
	delivery_id text NOT NULL,
	event		text,
	received_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (provider, delivery_id)
);

------------------------------------------------------------------------
-- Row level security: a row belongs to its owner
------------------------------------------------------------------------

ALTER TABLE flowdb.workflows ENABLE ROW LEVEL SECURITY;
ALTER TABLE flowdb.runs ENABLE ROW LEVEL SECURITY;
ALTER TABLE flowdb.workflow_logs ENABLE ROW LEVEL SECURITY;
ALTER TABLE flowdb.credentials ENABLE ROW LEVEL SECURITY;
ALTER TABLE flowdb.outbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE flowdb.webhook_deliveries ENABLE ROW LEVEL SECURITY;

CREATE POLICY workflows_owner ON flowdb.workflows
	USING (owner = flowdb.current_owner());
CREATE POLICY runs_owner ON flowdb.runs
	USING (owner = flowdb.current_owner());
CREATE POLICY workflow_logs_owner ON flowdb.workflow_logs
	USING (owner = flowdb.current_owner());
CREATE POLICY outbox_owner ON flowdb.outbox
	USING (owner = flowdb.current_owner());
CREATE POLICY credentials_owner ON flowdb.credentials
	USING (owner = flowdb.current_owner());

-- Reads are direct (PostgREST /flowdb tables, Realtime); writes go through
-- the functions below.
GRANT SELECT ON flowdb.workflows, flowdb.runs, flowdb.workflow_logs, flowdb.outbox
	TO PUBLIC;

------------------------------------------------------------------------
-- C entry points
------------------------------------------------------------------------

-- flowdb.blueprint_errors: every validation problem, "path: message"
CREATE FUNCTION flowdb.blueprint_errors(blueprint jsonb) RETURNS text[]
AS 'MODULE_PATHNAME', 'flowdb_blueprint_errors'
LANGUAGE C STRICT STABLE PARALLEL SAFE;

-- flowdb.check_blueprint: raise 54000 when larger than
-- flowdb.max_blueprint_bytes, 22023 listing every problem when invalid
CREATE FUNCTION flowdb.check_blueprint(blueprint jsonb) RETURNS void
AS 'MODULE_PATHNAME', 'flowdb_check_blueprint'
LANGUAGE C STRICT STABLE PARALLEL SAFE;

-- flowdb.check_payload: raise 54000 when a payload exceeds flowdb.max_payload_bytes,
-- 22023 when it is not a JSON object
CREATE FUNCTION flowdb.check_payload(payload jsonb) RETURNS void
AS 'MODULE_PATHNAME', 'flowdb_check_payload'
LANGUAGE C STRICT STABLE PARALLEL SAFE;

-- flowdb.credential_missing: required credential fields a secret lacks
CREATE FUNCTION flowdb.credential_missing(service text, secret jsonb) RETURNS text[]
AS 'MODULE_PATHNAME', 'flowdb_credential_missing'
LANGUAGE C STRICT STABLE PARALLEL SAFE;

-- flowdb.render: render templates in value against a context object
CREATE FUNCTION flowdb.render(value jsonb, context jsonb) RETURNS jsonb
AS 'MODULE_PATHNAME', 'flowdb_render'
LANGUAGE C STRICT STABLE PARALLEL SAFE;

-- flowdb.eval_condition: evaluate an edge condition against a context
CREATE FUNCTION flowdb.eval_condition(condition jsonb, context jsonb) RETURNS boolean
AS 'MODULE_PATHNAME', 'flowdb_eval_condition'
LANGUAGE C STRICT STABLE PARALLEL SAFE;

-- flowdb.wake_workers: statement trigger; wakes the workers at commit
CREATE FUNCTION flowdb.wake_workers() RETURNS trigger
AS 'MODULE_PATHNAME', 'flowdb_wake_workers'
LANGUAGE C;

CREATE TRIGGER runs_wake AFTER INSERT OR UPDATE ON flowdb.runs
	FOR EACH STATEMENT EXECUTE FUNCTION flowdb.wake_workers();

-- flowdb.worker_info: pid and counters of each background worker, of every
-- database, with its database and its number there
CREATE FUNCTION flowdb.worker_info(OUT slot integer, OUT pid integer,
	OUT claimed bigint, OUT steps bigint, OUT commits bigint, OUT wakeups bigint,
	OUT heartbeat_at timestamptz, OUT starts bigint,
	OUT database name, OUT worker integer)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'flowdb_worker_info'
LANGUAGE C STRICT VOLATILE;

-- flow_catalog: services, tasks, parameters, events (the single source)
CREATE FUNCTION public.flow_catalog() RETURNS jsonb
AS 'MODULE_PATHNAME', 'flowdb_catalog'
LANGUAGE C STABLE PARALLEL SAFE;

------------------------------------------------------------------------
-- RPC surface
------------------------------------------------------------------------

-- flow_validate: {"valid": bool, "errors": [...]} without raising
CREATE FUNCTION public.flow_validate(blueprint jsonb) RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE WHEN blueprint IS NULL
		THEN jsonb_build_object('valid', false, 'errors', jsonb_build_array('$: required'))
		ELSE (SELECT jsonb_build_object('valid', cardinality(e) = 0, 'errors', to_jsonb(e))
			  FROM flowdb.blueprint_errors(blueprint) AS e)
	END
$$;

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
		RAISE EXCEPTION 'blueprint must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	RETURN flowdb.enqueue(blueprint, payload, NULL, flowdb.current_owner(), sandbox);
END
$$;

-- flow_save: validate and save a workflow; returns its id
CREATE FUNCTION public.flow_save(blueprint jsonb, active boolean DEFAULT true)
RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	wid uuid;
BEGIN
	PERFORM flowdb.refuse_anon();
	IF blueprint IS NULL THEN
		RAISE EXCEPTION 'blueprint must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM flowdb.check_blueprint(blueprint);
	INSERT INTO flowdb.workflows (owner, name, blueprint, active)
	VALUES (flowdb.current_owner(), blueprint ->> 'name', blueprint, coalesce(active, true))
	RETURNING id INTO wid;
	RETURN wid;
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
		RAISE EXCEPTION 'workflow_id must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT * INTO w FROM flowdb.workflows
	WHERE id = flow_run.workflow_id AND owner = flowdb.current_owner();
	IF NOT FOUND THEN
		RAISE EXCEPTION 'workflow % not found', workflow_id
			USING ERRCODE = 'no_data_found';
	END IF;
	IF w.blueprint IS NULL THEN
		RAISE EXCEPTION 'workflow % has no blueprint (draft %)', workflow_id, w.draft_status
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'Wait until the draft is ready, or save a blueprint with flow_save.';
	END IF;
	RETURN flowdb.enqueue(w.blueprint, payload, w.id, w.owner, sandbox);
END
$$;

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

-- flow_status: a run with its node states, every node of its blueprint in
-- order ("progress") and its step log
CREATE FUNCTION public.flow_status(run_id uuid) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r flowdb.runs;
	steps jsonb;
	progress jsonb;
	nodes jsonb;
BEGIN
	SELECT * INTO r FROM flowdb.runs
	WHERE id = flow_status.run_id AND owner = flowdb.current_owner();
	IF NOT FOUND THEN
		RAISE EXCEPTION 'run % not found', run_id USING ERRCODE = 'no_data_found';
	END IF;
	-- a running map's lists are kept apart (flowdb.map_parts): shown whole
	nodes := CASE WHEN r.finished_at IS NULL AND r.state @? '$.nodes.*.map.items.apart'
				  THEN flowdb.map_parts_view(r.id, r.state) ELSE r.state END -> 'nodes';
	SELECT coalesce(jsonb_agg(jsonb_build_object(
			'node_id', l.node_id, 'status', l.status, 'attempt', l.attempt,
			'input', l.input, 'output', l.output, 'error', l.error,
			'started_at', l.started_at, 'finished_at', l.finished_at,
			'duration_ms', l.duration_ms) || CASE WHEN l.item IS NULL THEN '{}'::jsonb
			ELSE jsonb_build_object('item', l.item) END ORDER BY l.id), '[]')
	INTO steps
	FROM flowdb.workflow_logs l WHERE l.run_id = r.id;
	progress := flowdb.run_progress(r.blueprint, r.state, r.id);
	RETURN jsonb_build_object(
		'id', r.id, 'workflow_id', r.workflow_id, 'name', r.blueprint ->> 'name',
		'status', r.status, 'error', r.error, 'output', r.output,
		'sandbox', r.sandbox,
		'nodes', coalesce(nodes, '{}'),
		'progress', progress,
		'steps', steps,
		'created_at', r.created_at, 'started_at', r.started_at,
		'finished_at', r.finished_at)
		-- call nodes: the run that called this one, the runs it called
		|| jsonb_build_object('parent_run_id', r.parent_run_id, 'children',
			(SELECT coalesce(jsonb_agg(jsonb_build_object('id', c.id, 'node', c.parent_node,
					'workflow_id', c.workflow_id, 'status', c.status) ORDER BY c.created_at), '[]')
			 FROM flowdb.runs c WHERE c.parent_run_id = r.id))
		-- the saved workflow's version it runs, and for an on_failure
		-- handler run the run whose failure started it
		|| jsonb_build_object('workflow_version', r.workflow_version,
			'failure_of', r.failure_of);
END
$$;

-- flow_cancel: stop a run that has not finished; true when it was canceled
CREATE FUNCTION public.flow_cancel(run_id uuid) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	st text;
BEGIN
	PERFORM flowdb.refuse_anon();
	SELECT status INTO st FROM flowdb.runs
	WHERE id = flow_cancel.run_id AND owner = flowdb.current_owner()
	FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'run % not found', run_id USING ERRCODE = 'no_data_found';
	END IF;
	IF st IN ('succeeded', 'failed', 'canceled') THEN
		RETURN false;
	END IF;
	IF current_setting('flowdb.notify')::boolean THEN
		PERFORM pg_notify('flowdb_run_finished', run_id::text || ' canceled');
	END IF;
	UPDATE flowdb.runs
	SET status = 'canceled', finished_at = now(), updated_at = now(),
		next_at = 'infinity', lease_owner = NULL, lease_until = NULL, lease_token = NULL,
		error = 'canceled by ' || flowdb.current_owner()
	WHERE id = flow_cancel.run_id;
	RETURN true;
END
$$;

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
		RAISE EXCEPTION 'run % not found', run_id USING ERRCODE = 'no_data_found';
	END IF;
	IF r.status NOT IN ('failed', 'canceled') THEN
		RAISE EXCEPTION 'run % is %, only failed or canceled runs can be retried',
			run_id, r.status
			USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	bp := r.blueprint;
	IF fresh THEN
		IF r.workflow_id IS NULL THEN
			RAISE EXCEPTION 'run % has no saved workflow to take a current blueprint from', run_id
				USING ERRCODE = 'object_not_in_prerequisite_state',
					  HINT = 'Runs started by flow_execute carry their own blueprint: retry without use_current_blueprint, or start a new run.';
		END IF;
		SELECT w.blueprint INTO bp FROM flowdb.workflows w
		WHERE w.id = r.workflow_id AND w.owner = r.owner;
		IF NOT FOUND OR bp IS NULL THEN
			RAISE EXCEPTION 'the workflow of run % has no blueprint', run_id
				USING ERRCODE = 'object_not_in_prerequisite_state',
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

-- flowdb.prune: delete finished runs (and their logs) older than the
-- retention setting; called by the worker, callable by hand
CREATE FUNCTION flowdb.prune(older_than interval DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	n bigint;
BEGIN
	IF older_than IS NULL THEN
		older_than := make_interval(days => current_setting('flowdb.retention_days')::int);
	END IF;
	DELETE FROM flowdb.runs
	WHERE finished_at IS NOT NULL AND finished_at < now() - older_than;
	GET DIAGNOSTICS n = ROW_COUNT;
	DELETE FROM flowdb.event_buffer WHERE expires_at < now();
	-- delivery ids only need to outlive the providers' retry windows and
	-- the replay window (flowdb.webhook_max_age)
	DELETE FROM flowdb.webhook_deliveries
	WHERE received_at < now() - greatest(older_than,
		coalesce(nullif(current_setting('flowdb.webhook_max_age', true), ''), '3d')::interval);
	RETURN n;
END
$$;

------------------------------------------------------------------------
-- Credentials
------------------------------------------------------------------------

-- flowdb.credential_secret: the secret for (owner, service, name); used by
-- the worker only
CREATE FUNCTION flowdb.credential_secret(owner text, service text, name text)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	c flowdb.credentials;
BEGIN
	SELECT * INTO c FROM flowdb.credentials
	WHERE credentials.service = credential_secret.service
	  AND credentials.name = credential_secret.name
	  -- llm falls back to the server-wide key (owner '*', see "LLM path")
	  AND (credentials.owner = credential_secret.owner
		   OR (credentials.service = 'llm' AND credentials.owner = '*'))
	ORDER BY credentials.owner = '*'
	LIMIT 1;
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	IF c.secret IS NOT NULL THEN
		RETURN c.secret;
	END IF;
	-- never raises with the secret's text (it would reach the server log)
	RETURN flowdb.vault_secret_json(c.vault_secret_id,
		format('credential %s/%s', c.service, c.name));
END
$$;

-- flowdb.flat_field: is a credential field flat: a string, number or
-- boolean, or an array of at most 100 strings?
CREATE FUNCTION flowdb.flat_field(v jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE jsonb_typeof(v)
		WHEN 'array' THEN jsonb_array_length(v) <= 100
			AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(v) x
							WHERE jsonb_typeof(x) <> 'string')
		ELSE jsonb_typeof(v) IN ('string', 'number', 'boolean')
	END
$$;

-- flow_set_credential: store (or replace) a credential of the caller
CREATE FUNCTION public.flow_set_credential(service text, name text, secret jsonb)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	svc jsonb;
	missing text[];
	vault_id uuid;
	checked jsonb := secret;
BEGIN
	PERFORM flowdb.refuse_anon();
	SELECT s INTO svc FROM jsonb_array_elements(public.flow_catalog() -> 'services') s
	WHERE s ->> 'name' = flow_set_credential.service;
	IF svc IS NULL THEN
		RAISE EXCEPTION 'unknown service "%"', left(service, 100) USING ERRCODE = 'invalid_parameter_value',
			HINT = 'flow_catalog() lists the services.';
	END IF;
	IF name IS NULL OR name !~ '^[A-Za-z0-9_.-]{1,64}$' THEN
		RAISE EXCEPTION 'invalid credential name "%"', left(name, 100) USING ERRCODE = 'invalid_parameter_value',
			DETAIL = 'Use 1 to 64 letters, digits, "_", "." or "-".';
	END IF;
	IF jsonb_typeof(secret) IS DISTINCT FROM 'object' THEN
		RAISE EXCEPTION 'secret must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	-- credential fields are tokens, ids and keys: flat and small
	IF pg_column_size(secret) > 65536 THEN
		RAISE EXCEPTION 'secret is too large: % bytes', pg_column_size(secret)
			USING ERRCODE = 'program_limit_exceeded', DETAIL = 'A credential may take at most 65536 bytes.';
	END IF;
	-- a field is a scalar or a flat list of strings (the WhatsApp
	-- credential's owner_numbers)
	IF EXISTS (SELECT 1 FROM jsonb_each(secret) e WHERE NOT flowdb.flat_field(e.value)) THEN
		RAISE EXCEPTION 'credential fields must be strings, numbers, booleans or lists of strings'
			USING ERRCODE = 'invalid_parameter_value',
			DETAIL = format('Field "%s" is not.', (SELECT left(e.key, 64) FROM jsonb_each(secret) e
												   WHERE NOT flowdb.flat_field(e.value)
												   ORDER BY e.key LIMIT 1));
	END IF;
	-- {"vault_secret_id": "<uuid>"}: the secret (a JSON object) lives in
	-- Supabase Vault; only the reference is stored here
	IF secret ? 'vault_secret_id' THEN
		IF (SELECT count(*) FROM jsonb_object_keys(secret)) <> 1 THEN
			RAISE EXCEPTION 'a Vault reference must be the only field of the secret'
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		IF to_regclass('vault.secrets') IS NULL THEN
			RAISE EXCEPTION 'Supabase Vault (vault.secrets) is not installed'
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		-- the worker decrypts with full rights: only callers who may read
		-- Vault themselves can point a credential at a Vault secret
		IF NOT has_table_privilege(coalesce(nullif(current_setting('role'), 'none'), session_user::text),
								   'vault.decrypted_secrets', 'SELECT') THEN
			RAISE EXCEPTION 'permission denied to reference Vault secrets'
				USING ERRCODE = 'insufficient_privilege',
					  HINT = 'Store the secret itself, or ask an administrator to store the reference.';
		END IF;
		BEGIN
			vault_id := (secret ->> 'vault_secret_id')::uuid;
		EXCEPTION WHEN invalid_text_representation THEN
			RAISE EXCEPTION 'vault_secret_id must be a uuid' USING ERRCODE = 'invalid_parameter_value';
		END;
		-- the Vault secret itself must be a JSON object with the required
		-- fields, checked now rather than at every claim by the worker
		checked := flowdb.vault_secret_json(vault_id, format('credential %s/%s', service, name));
		IF checked IS NULL THEN
			RAISE EXCEPTION 'Vault secret % not found', vault_id USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Create it first with vault.create_secret(''{"field": "..."}'').';
		END IF;
	END IF;
	-- the registry says which fields are required (e.g. llm's api_key is
	-- optional: local OpenAI-compatible servers often need none)
	missing := flowdb.credential_missing(service, checked);
	IF cardinality(missing) > 0 THEN
		RAISE EXCEPTION 'credential for % is missing %', service, array_to_string(missing, ', ')
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = format('Fields of %s: %s.', service,
								  (SELECT string_agg(f, ', ')
								   FROM jsonb_array_elements_text(svc -> 'credential_fields') f));
	END IF;
	IF vault_id IS NOT NULL THEN
		INSERT INTO flowdb.credentials (owner, service, name, secret, vault_secret_id)
		VALUES (flowdb.current_owner(), service, name, NULL, vault_id)
		ON CONFLICT ON CONSTRAINT credentials_pkey
		DO UPDATE SET secret = NULL, vault_secret_id = excluded.vault_secret_id,
					  updated_at = now();
		RETURN;
	END IF;
	INSERT INTO flowdb.credentials (owner, service, name, secret)
	VALUES (flowdb.current_owner(), service, name, secret)
	ON CONFLICT ON CONSTRAINT credentials_pkey
	DO UPDATE SET secret = excluded.secret, vault_secret_id = NULL, updated_at = now();
END
$$;

-- flow_delete_credential: forget a credential; true when one existed
CREATE FUNCTION public.flow_delete_credential(service text, name text DEFAULT 'default')
RETURNS boolean
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT flowdb.refuse_anon();
	WITH d AS (
		DELETE FROM flowdb.credentials c
		WHERE c.owner = flowdb.current_owner()
		  AND c.service = flow_delete_credential.service
		  AND c.name = flow_delete_credential.name
		  AND (c.owner <> '*' OR coalesce(flowdb.caller_is_admin(), false))
		RETURNING 1)
	SELECT count(*) > 0 FROM d
$$;

-- flow_list_credentials: the caller's credentials, names and field names
-- only, never values
CREATE FUNCTION public.flow_list_credentials()
RETURNS TABLE (service text, name text, fields text[], in_vault boolean,
			   updated_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT c.service, c.name,
		   coalesce((SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(c.secret) k), '{}'),
		   c.vault_secret_id IS NOT NULL, c.updated_at
	FROM flowdb.credentials c
	WHERE c.owner = flowdb.current_owner()
	ORDER BY 1, 2
$$;

REVOKE ALL ON FUNCTION flowdb.credential_secret(text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.enqueue(jsonb, jsonb, uuid, text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.prune(interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.worker_info() FROM PUBLIC;


------------------------------------------------------------------------
-- Activation, events, waits
------------------------------------------------------------------------

-- flowdb.set_active: shared body of flow_activate / flow_deactivate
CREATE FUNCTION flowdb.set_active(workflow_id uuid, active boolean) RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	was boolean;
	bp jsonb;
	status text;
BEGIN
	PERFORM flowdb.refuse_anon();
	SELECT w.active, w.blueprint, w.draft_status INTO was, bp, status FROM flowdb.workflows w
	WHERE w.id = set_active.workflow_id AND w.owner = flowdb.current_owner()
	FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'workflow % not found', workflow_id USING ERRCODE = 'no_data_found';
	END IF;
	IF active AND bp IS NULL THEN
		RAISE EXCEPTION 'workflow % has no blueprint (draft %)', workflow_id, status
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'Wait until the draft is ready, or save a blueprint with flow_save.';
	END IF;
	UPDATE flowdb.workflows w SET active = set_active.active, updated_at = now()
	WHERE w.id = set_active.workflow_id;
	RETURN was IS DISTINCT FROM active;
END
$$;

-- flow_activate: let a saved workflow's trigger start runs; true if changed
CREATE FUNCTION public.flow_activate(workflow_id uuid) RETURNS boolean
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT flowdb.set_active(workflow_id, true) $$;

-- flow_deactivate: stop a saved workflow's trigger; true if changed
CREATE FUNCTION public.flow_deactivate(workflow_id uuid) RETURNS boolean
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT flowdb.set_active(workflow_id, false) $$;

-- flowdb.event_matches: does event data satisfy a wait_event "match"?
-- Keys are dotted paths into the data; values compare as JSON.
CREATE FUNCTION flowdb.event_matches(data jsonb, match jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT match IS NULL OR jsonb_typeof(match) <> 'object' OR NOT EXISTS (
		SELECT 1 FROM jsonb_each(match) m
		WHERE (data #> string_to_array(m.key, '.')) IS DISTINCT FROM m.value)
$$;

-- flowdb.resume_node: mark a waiting node resumed with output data and
-- make its run due now (the worker finishes the node and goes on)
CREATE FUNCTION flowdb.resume_node(run_id uuid, node_id text, data jsonb) RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
	UPDATE flowdb.runs r
	SET state = jsonb_set(r.state, ARRAY['nodes', node_id],
						  (r.state -> 'nodes' -> node_id)
						  || jsonb_build_object('status', 'resumed', 'output', coalesce(data, '{}'))),
		next_at = now(), updated_at = now()
	WHERE r.id = run_id
$$;

-- flowdb.dispatch_event: start the active workflows of an event and
-- resume runs waiting for it.  owner NULL = every owner (verified provider
-- webhooks); otherwise only that owner's workflows and runs.
CREATE FUNCTION flowdb.dispatch_event(owner text, name text, data jsonb) RETURNS uuid[]
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	ids uuid[] := '{}';
	w flowdb.workflows;
	r record;
	k text;
	v jsonb;
	resumed uuid[] := '{}';
BEGIN
	IF name IS NULL THEN
		RAISE EXCEPTION 'event name must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF length(name) > 200 OR name !~ '^[a-z0-9_]+(\.[a-z0-9_]+)+$' THEN
		RAISE EXCEPTION 'invalid event name "%"', left(name, 100) USING ERRCODE = 'invalid_parameter_value',
			DETAIL = 'Event names are dotted lower-case words, e.g. razorpay.payment.captured.';
	END IF;
	data := coalesce(data, '{}');
	PERFORM flowdb.check_payload(data);
	-- back-pressure: an owner's workflows of this event all start or none
	PERFORM flowdb.check_backlog(wf.owner, count(*)::integer)
	FROM flowdb.workflows wf
	WHERE wf.active
	  AND wf.blueprint -> 'trigger' ->> 'type' IN ('event', 'webhook')
	  AND wf.blueprint #>> '{trigger,event}' = name
	  AND (dispatch_event.owner IS NULL OR wf.owner = dispatch_event.owner)
	GROUP BY wf.owner;

	FOR w IN
		SELECT * FROM flowdb.workflows wf
		WHERE wf.active
		  AND wf.blueprint -> 'trigger' ->> 'type' IN ('event', 'webhook')
		  AND wf.blueprint #>> '{trigger,event}' = name
		  AND (dispatch_event.owner IS NULL OR wf.owner = dispatch_event.owner)
		ORDER BY wf.created_at
	LOOP
		ids := ids || flowdb.enqueue(w.blueprint, data, w.id, w.owner);
	END LOOP;

	FOR r IN
		SELECT rr.id, rr.state FROM flowdb.runs rr
		WHERE rr.status = 'waiting' AND rr.lease_owner IS NULL
		  AND (dispatch_event.owner IS NULL OR rr.owner = dispatch_event.owner)
		  AND jsonb_path_exists(rr.state,
				'$.nodes.* ? (@.status == "waiting" && @.event == $e)',
				jsonb_build_object('e', name))
		FOR UPDATE
	LOOP
		FOR k, v IN SELECT * FROM jsonb_each(r.state -> 'nodes') LOOP
			IF v ->> 'status' = 'waiting' AND v ->> 'event' = name
			   AND flowdb.event_matches(data, v -> 'match') THEN
				PERFORM flowdb.resume_node(r.id, k, data);
				IF NOT r.id = ANY (ids) THEN
					ids := ids || r.id;
				END IF;
				resumed := resumed || r.id;
			END IF;
		END LOOP;
	END LOOP;
	-- runs not parked on it yet get it when they park (flowdb.event_buffer)
	PERFORM flowdb.buffer_event(owner, name, data, resumed);
	RETURN ids;
END
$$;

-- flow_send_event: deliver an event for the caller: start their active
-- workflows triggered by it, resume their runs waiting for it
CREATE FUNCTION public.flow_send_event(name text, data jsonb DEFAULT '{}') RETURNS uuid[]
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT flowdb.refuse_anon(); SELECT flowdb.dispatch_event(flowdb.current_owner(), name, data) $$;

-- flow_approve: resume one waiting node of the caller's run (human
-- approval); data becomes the node's output
CREATE FUNCTION public.flow_approve(run_id uuid, node_id text, data jsonb DEFAULT '{"approved": true}')
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r flowdb.runs;
	st text;
BEGIN
	PERFORM flowdb.refuse_anon();
	SELECT * INTO r FROM flowdb.runs
	WHERE id = flow_approve.run_id AND owner = flowdb.current_owner()
	FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'run % not found', run_id USING ERRCODE = 'no_data_found';
	END IF;
	st := r.state #>> ARRAY['nodes', node_id, 'status'];
	IF r.status <> 'waiting' OR st IS DISTINCT FROM 'waiting'
	   OR r.state #>> ARRAY['nodes', node_id, 'event'] IS NULL THEN
		RAISE EXCEPTION 'node "%" of run % is not waiting for an event', left(node_id, 100), run_id
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = format('Run status %s, node status %s.', r.status, coalesce(st, 'pending'));
	END IF;
	data := coalesce(data, '{}');
	PERFORM flowdb.check_payload(data);
	PERFORM flowdb.resume_node(r.id, node_id, data);
	RETURN true;
END
$$;

------------------------------------------------------------------------
-- Table triggers and schedules
------------------------------------------------------------------------

-- flow_trigger: row trigger function; queues a run of the workflow named
-- by the trigger argument with the row as trigger_data, inside the
-- inserting transaction (rolled back with it)
CREATE FUNCTION public.flow_trigger() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	w flowdb.workflows;
	wid uuid;
	row_data jsonb;
BEGIN
	IF TG_LEVEL <> 'ROW' OR TG_NARGS <> 1 THEN
		RAISE EXCEPTION 'flow_trigger() must be a row trigger with the workflow id as its argument'
			USING ERRCODE = 'trigger_protocol_violated',
				  HINT = 'CREATE TRIGGER t AFTER INSERT ON tbl FOR EACH ROW EXECUTE FUNCTION flow_trigger(''<workflow id>'')';
	END IF;
	BEGIN
		wid := TG_ARGV[0]::uuid;
	EXCEPTION WHEN invalid_text_representation THEN
		RAISE EXCEPTION 'flow_trigger(): "%" is not a workflow id', TG_ARGV[0]
			USING ERRCODE = 'invalid_parameter_value';
	END;
	SELECT * INTO w FROM flowdb.workflows WHERE id = wid;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'flow_trigger(): workflow % not found', wid USING ERRCODE = 'no_data_found';
	END IF;
	-- only workflows declared as table-triggered, for this table when they
	-- name one, can be started by a row trigger
	IF w.blueprint #>> '{trigger,type}' IS DISTINCT FROM 'table' THEN
		RAISE EXCEPTION 'flow_trigger(): workflow % is not a table-trigger workflow', wid
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'Its blueprint needs "trigger": {"type": "table"}.';
	END IF;
	IF w.blueprint #>> '{trigger,table}' IS NOT NULL
	   AND w.blueprint #>> '{trigger,table}' NOT IN (TG_TABLE_NAME, TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME) THEN
		RAISE EXCEPTION 'flow_trigger(): workflow % is for table %, not %.%', wid,
			w.blueprint #>> '{trigger,table}', TG_TABLE_SCHEMA, TG_TABLE_NAME
			USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	IF TG_OP = 'DELETE' THEN
		row_data := to_jsonb(OLD);
	ELSE
		row_data := to_jsonb(NEW);
	END IF;
	IF w.active THEN
		PERFORM flowdb.enqueue(w.blueprint, row_data, w.id, w.owner);
	END IF;
	IF TG_WHEN = 'BEFORE' THEN
		IF TG_OP = 'DELETE' THEN
			RETURN OLD;
		END IF;
		RETURN NEW;
	END IF;
	RETURN NULL;
END
$$;

-- flowdb.cron_matches: does a 5-field cron expression (or a macro such as
-- @daily) match a time (UTC)?
CREATE FUNCTION flowdb.cron_matches(expr text, at timestamptz DEFAULT now()) RETURNS boolean
AS 'MODULE_PATHNAME', 'flowdb_cron_matches'
LANGUAGE C STRICT STABLE PARALLEL SAFE;

-- flowdb.cron_matches: the same on the wall clock of a time zone
-- ('Asia/Kolkata'); 22023 for an unknown zone
CREATE FUNCTION flowdb.cron_matches(expr text, at timestamptz, timezone text) RETURNS boolean
AS 'MODULE_PATHNAME', 'flowdb_cron_matches_tz'
LANGUAGE C STRICT STABLE PARALLEL SAFE;

-- flowdb.fire_schedules: queue a run of every active schedule workflow
-- whose cron matches the current minute on its time zone's wall clock
-- (trigger.timezone, UTC when absent) and has not fired in it.  Called by
-- worker 0 on every scan; no pg_cron needed.
CREATE FUNCTION flowdb.fire_schedules() RETURNS integer
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

------------------------------------------------------------------------
-- Provider webhooks (PostgREST: POST /rpc/razorpay_webhook, one unnamed
-- json argument = the raw body; headers from request.headers)
------------------------------------------------------------------------

-- flowdb.hmac: HMAC-SHA1/SHA256 (PostgreSQL's own implementation)
CREATE FUNCTION flowdb.hmac(data bytea, key bytea, algorithm text) RETURNS bytea
AS 'MODULE_PATHNAME', 'flowdb_hmac'
LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;

-- flowdb.safe_equal: constant-time text comparison for signatures
CREATE FUNCTION flowdb.safe_equal(a text, b text) RETURNS boolean
AS 'MODULE_PATHNAME', 'flowdb_safe_equal'
LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;

-- flowdb.request_header: a request header as PostgREST passes it
CREATE FUNCTION flowdb.request_header(name text) RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT nullif(current_setting('request.headers', true), '')::json ->> lower(name)
$$;

-- flowdb.accept_delivery: record a verified webhook delivery once and
-- dispatch its event to the owners it was verified for (flowdb.webhook_verify:
-- '{*}' = the server-wide credential, every owner)
CREATE FUNCTION flowdb.accept_delivery(provider text, delivery text, name text, data jsonb,
									   owners text[])
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	ids uuid[] := '{}';
	o text;
BEGIN
	INSERT INTO flowdb.webhook_deliveries (provider, delivery_id, event)
	VALUES (provider, delivery, name) ON CONFLICT DO NOTHING;
	IF NOT FOUND THEN
		RETURN jsonb_build_object('status', 'duplicate', 'event', name, 'runs', '[]'::jsonb);
	END IF;
	IF owners = '{*}' THEN
		ids := flowdb.dispatch_event(NULL, name, data);
	ELSE
		FOREACH o IN ARRAY owners LOOP
			ids := ids || flowdb.dispatch_event(o, name, data);
		END LOOP;
	END IF;
	RETURN jsonb_build_object('status', 'ok', 'event', name, 'runs', to_jsonb(ids));
END
$$;

-- razorpay_webhook: route the delivery by its signed account_id to the
-- owner whose razorpay credential names that account, verify
-- X-Razorpay-Signature (HMAC-SHA256 hex of the raw body) with that owner's
-- webhook_secret, refuse deliveries whose created_at is older than
-- flowdb.webhook_max_age, drop repeats of the same body, and turn it into
-- event razorpay.<event> for that owner; the data is the payload's entity
-- (plus amount_rupees when it has an amount in paise)
CREATE FUNCTION public.razorpay_webhook(json) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	body text := $1::text;
	sig text := lower(flowdb.request_header('x-razorpay-signature'));
	ev jsonb;
	owners text[];
	created numeric;
	-- shown with a unit ('3d'), which interval input reads
	max_age bigint := extract(epoch FROM coalesce(nullif(current_setting('flowdb.webhook_max_age', true), ''), '3d')::interval);
	name text;
	data jsonb;
BEGIN
	-- routed and verified on the raw json: nothing unsigned is converted
	IF json_typeof($1) IS DISTINCT FROM 'object' THEN
		RAISE EXCEPTION 'Razorpay webhook body must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	owners := flowdb.webhook_verify('razorpay', 'account_id', $1 ->> 'account_id',
									'webhook_secret', body, sig, '');
	IF cardinality(owners) = 0 THEN
		RAISE EXCEPTION 'invalid Razorpay webhook signature' USING ERRCODE = 'invalid_authorization_specification',
			DETAIL = format('No razorpay credential for account %s verifies it.',
							coalesce('"' || left($1 ->> 'account_id', 100) || '"', '(none in the payload)')),
			HINT = 'Store the account id and webhook secret in the razorpay credential: flow_set_credential(''razorpay'', ''default'', ''{"key_id": ..., "key_secret": ..., "account_id": "acc_...", "webhook_secret": ...}'').';
	END IF;
	ev := $1::jsonb;
	-- replays: the signed created_at bounds how old a delivery may be, and
	-- the body's hash (not the unsigned X-Razorpay-Event-Id) identifies it
	IF jsonb_typeof(ev -> 'created_at') IS DISTINCT FROM 'number' THEN
		RAISE EXCEPTION 'Razorpay webhook has no created_at' USING ERRCODE = 'invalid_authorization_specification';
	END IF;
	created := (ev ->> 'created_at')::numeric;
	IF created < extract(epoch FROM now()) - max_age OR created > extract(epoch FROM now()) + 300 THEN
		RAISE EXCEPTION 'Razorpay webhook delivery is too old (or from the future)' USING ERRCODE = 'invalid_authorization_specification',
			DETAIL = format('Its signed created_at must lie within the last %s seconds (flowdb.webhook_max_age).',
							max_age);
	END IF;
	name := 'razorpay.' || coalesce(ev ->> 'event', 'unknown');
	data := coalesce(ev #> ARRAY['payload', split_part(ev ->> 'event', '.', 1), 'entity'],
					 (SELECT e.value -> 'entity' FROM jsonb_each(ev -> 'payload') e LIMIT 1),
					 '{}');
	IF jsonb_typeof(data) IS DISTINCT FROM 'object' THEN
		data := jsonb_build_object('value', data);
	END IF;
	IF jsonb_typeof(data -> 'amount') = 'number' THEN
		data := data || jsonb_build_object('amount_rupees',
										   trim_scale(round((data ->> 'amount')::numeric / 100, 2)));
	END IF;
	RETURN flowdb.accept_delivery('razorpay',
								  'sha256:' || encode(sha256(convert_to(body, 'UTF8')), 'hex'),
								  name, data, owners);
END
$$;

-- slack_webhook: verify X-Slack-Signature (v0 HMAC-SHA256 of
-- "v0:<timestamp>:<body>", timestamp within 5 minutes) with the
-- signing_secret of the owner whose slack credential names the payload's
-- team_id (else api_app_id); answer url_verification; event_callback
-- becomes event slack.<type> for that owner
CREATE FUNCTION public.slack_webhook(json) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	body text := $1::text;
	sig text := flowdb.request_header('x-slack-signature');
	ts text := flowdb.request_header('x-slack-request-timestamp');
	ev jsonb := $1::jsonb;
	owners text[] := '{}';
	name text;
	data jsonb;
BEGIN
	IF ts IS NULL OR ts !~ '^[0-9]{1,12}$'
	   OR abs(extract(epoch FROM now()) - ts::bigint) > 300 THEN
		RAISE EXCEPTION 'Slack request timestamp is missing or older than 5 minutes'
			USING ERRCODE = 'invalid_authorization_specification';
	END IF;
	IF jsonb_typeof(ev) IS DISTINCT FROM 'object' THEN
		RAISE EXCEPTION 'Slack webhook body must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF ev ->> 'type' = 'url_verification' THEN
		-- Slack's handshake names no team: any slack credential may sign
		-- it; nothing is dispatched
		owners := flowdb.webhook_verify('slack', NULL, NULL, 'signing_secret',
										'v0:' || ts || ':' || body, sig, 'v0=');
	ELSE
		owners := flowdb.webhook_verify('slack', 'team_id', ev ->> 'team_id', 'signing_secret',
										'v0:' || ts || ':' || body, sig, 'v0=');
		IF cardinality(owners) = 0 AND ev ->> 'api_app_id' IS NOT NULL THEN
			owners := flowdb.webhook_verify('slack', 'api_app_id', ev ->> 'api_app_id', 'signing_secret',
											'v0:' || ts || ':' || body, sig, 'v0=');
		END IF;
	END IF;
	IF cardinality(owners) = 0 THEN
		RAISE EXCEPTION 'invalid Slack request signature' USING ERRCODE = 'invalid_authorization_specification',
			DETAIL = format('No slack credential for team %s verifies it.',
							coalesce('"' || (ev ->> 'team_id') || '"', '(none in the payload)')),
			HINT = 'Store the team id and signing secret in the slack credential: flow_set_credential(''slack'', ''default'', ''{"bot_token": ..., "team_id": "T...", "signing_secret": ...}'').';
	END IF;
	IF ev ->> 'type' = 'url_verification' THEN
		RETURN jsonb_build_object('challenge', ev ->> 'challenge');
	END IF;
	IF ev ->> 'type' = 'event_callback' THEN
		name := 'slack.' || coalesce(ev #>> '{event,type}', 'unknown');
		data := coalesce(ev -> 'event', '{}');
	ELSE
		name := 'slack.' || coalesce(ev ->> 'type', 'unknown');
		data := ev;
	END IF;
	-- the event_id is inside the signed body; Slack retries keep it
	RETURN flowdb.accept_delivery('slack', coalesce(ev ->> 'event_id', md5(body)), name, data, owners);
END
$$;

------------------------------------------------------------------------
-- Offline speech (transcribe_offline, docs/speech.md)
-- flowdb.transcribe_offline: recognise a spoken command in a WAV file with
-- pocketsphinx and a grammar of flowdb's commands plus the given phrases
-- (contact names); spoken numbers come back as digits.
CREATE FUNCTION flowdb.transcribe_offline(audio bytea, phrases text[] DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'flowdb_transcribe_offline'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;

-- flowdb.speech_grammar: the JSGF grammar transcribe_offline uses.
CREATE FUNCTION flowdb.speech_grammar(phrases text[] DEFAULT NULL) RETURNS text
AS 'MODULE_PATHNAME', 'flowdb_speech_grammar'
LANGUAGE C IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp;

REVOKE ALL ON FUNCTION flowdb.transcribe_offline(bytea, text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.speech_grammar(text[]) FROM PUBLIC;

------------------------------------------------------------------------
-- Drafting (flow_draft): workflows drafted from plain language
------------------------------------------------------------------------

-- A row has a blueprint unless it is a draft in progress or a failed one
-- (the contract's CHECK lets a NULL draft_status through; this closes it)
ALTER TABLE flowdb.workflows ADD CONSTRAINT workflows_blueprint_or_draft
	CHECK (blueprint IS NOT NULL OR draft_status IS NOT NULL);

-- flowdb.draft_offline: {"blueprint", "warnings"} drafted from a prompt by
-- the offline drafter (src/draft.c); 22023 for an empty or too long prompt
CREATE FUNCTION flowdb.draft_offline(prompt text) RETURNS jsonb
AS 'MODULE_PATHNAME', 'flowdb_draft_offline'
LANGUAGE C STRICT STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp;

-- flowdb.draft_save_offline: draft offline and save the result for owner
-- as an inactive workflow in state 'ready'; returns its id
CREATE FUNCTION flowdb.draft_save_offline(owner text, prompt text) RETURNS uuid
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	d jsonb;
	wid uuid;
BEGIN
	IF prompt IS NULL THEN
		RAISE EXCEPTION 'prompt must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF owner IS NULL OR owner = '' THEN
		RAISE EXCEPTION 'owner must not be empty' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	-- validated inside (bp_validate): an invalid draft raises XX000 there
	d := flowdb.draft_offline(prompt);
	INSERT INTO flowdb.workflows (owner, name, blueprint, active, prompt, drafted_by,
								  warnings, draft_status)
	VALUES (owner, d #>> '{blueprint,name}', d -> 'blueprint', false, prompt, 'offline',
			d -> 'warnings', 'ready')
	RETURNING id INTO wid;
	RETURN wid;
END
$$;

-- flowdb.draft_owner: whom flow_draft drafts for.  Without user_id, the
-- caller.  Naming another owner needs service_role or a superuser (the
-- role in effect, which PostgREST sets from the verified JWT: the claims
-- setting alone proves nothing); a JWT caller naming someone else is 42501.
CREATE FUNCTION flowdb.draft_owner(user_id text) RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	caller text := flowdb.current_owner();
BEGIN
	PERFORM flowdb.refuse_anon();
	IF user_id IS NULL OR user_id = caller THEN
		RETURN caller;
	END IF;
	IF user_id = '' OR user_id = '*' THEN
		RAISE EXCEPTION 'user_id must name an owner' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF flowdb.caller_is_admin() THEN
		RETURN user_id;
	END IF;
	RAISE EXCEPTION 'only service_role or a superuser may draft for another owner'
		USING ERRCODE = 'insufficient_privilege',
			  DETAIL = format('The caller is %s; user_id names %s.', left(caller, 100), left(user_id, 100)),
			  HINT = 'Leave user_id out to draft for yourself.';
END
$$;

-- flow_draft: draft a workflow from plain language; returns the id of the
-- saved draft (inactive until flow_activate).  Follow flowdb.workflows
-- (draft_status, blueprint, warnings) for the result.
CREATE FUNCTION public.flow_draft(prompt text, user_id text DEFAULT NULL)
RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	owner text;
BEGIN
	IF prompt IS NULL THEN
		RAISE EXCEPTION 'prompt must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	owner := flowdb.draft_owner(user_id);
	IF btrim(prompt) = '' OR octet_length(prompt) > 8192 THEN
		RAISE EXCEPTION 'prompt must be 1 to 8192 bytes of text' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	-- with a model the worker drafts: the row goes drafting -> ready/failed
	IF flowdb.llm_configured(owner) THEN
		RETURN flowdb.draft_start_llm(owner, prompt);
	END IF;
	-- offline: drafted within this call, saved 'ready'
	RETURN flowdb.draft_save_offline(owner, prompt);
END
$$;

REVOKE ALL ON FUNCTION flowdb.draft_offline(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.draft_save_offline(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.draft_owner(text) FROM PUBLIC;

------------------------------------------------------------------------
-- LLM path (flow_draft / intent_parse with a model): worker steps
------------------------------------------------------------------------
-- The model is only ever asked by the worker (llm.draft_workflow,
-- llm.parse_intent, llm.transcribe steps of an ordinary run), never by a
-- SQL call.  A run started here carries a purpose; when it ends, the
-- BEFORE UPDATE trigger flowdb.llm_run_done (only runs with a purpose,
-- only on the change to a final status) finishes the job in the worker's
-- own transaction: the draft row becomes ready or failed, the intent
-- run's output gets {status, reply, analysis}.
--
-- Key: the owner's `llm` credential, else the server-wide one stored with
-- owner '*' by flow_set_server_credential (superuser / service_role
-- only); flowdb.credential_secret falls back to it for service llm.  Never
-- a setting: PostgreSQL logs changed settings and keeps them in
-- postgresql.auto.conf.

ALTER TABLE flowdb.runs
	ADD COLUMN purpose text CHECK (purpose IN ('draft', 'intent')),
	ADD COLUMN output jsonb;		-- the purpose's result (flow_status)
CREATE INDEX workflows_draft_run ON flowdb.workflows (draft_run_id)
	WHERE draft_run_id IS NOT NULL;

-- flowdb.llm_configured: may owner's drafts and commands use the model?
CREATE FUNCTION flowdb.llm_configured(owner text) RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT EXISTS (SELECT 1 FROM flowdb.credentials c
				   WHERE c.service = 'llm' AND c.name = 'default'
					 AND c.owner IN (llm_configured.owner, '*'))
$$;

-- flowdb.start_purpose_run: queue a run (the usual enqueue, so limits
-- apply) and mark what it is for
CREATE FUNCTION flowdb.start_purpose_run(owner text, purpose text, blueprint jsonb,
										 payload jsonb)
RETURNS uuid
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	rid uuid;
BEGIN
	rid := flowdb.enqueue(blueprint, payload, NULL, owner);
	UPDATE flowdb.runs r SET purpose = start_purpose_run.purpose WHERE r.id = rid;
	RETURN rid;
END
$$;

-- flowdb.draft_start_llm: save a 'drafting' workflow row and queue the run
-- that asks the model (one repair round when the answer is not valid);
-- returns the workflow id
CREATE FUNCTION flowdb.draft_start_llm(owner text, prompt text) RETURNS uuid
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	wid uuid;
	rid uuid;
BEGIN
	IF owner IS NULL OR prompt IS NULL OR btrim(prompt) = '' THEN
		RAISE EXCEPTION 'owner and prompt are required' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF length(prompt) > 20000 THEN
		RAISE EXCEPTION 'prompt is too long (% characters)', length(prompt)
			USING ERRCODE = 'program_limit_exceeded', DETAIL = 'At most 20000 characters.';
	END IF;
	rid := flowdb.start_purpose_run(owner, 'draft', jsonb_build_object(
		'version', 1,
		'name', 'Draft a workflow',
		'trigger', jsonb_build_object('type', 'manual'),
		'nodes', jsonb_build_array(
			jsonb_build_object('id', 'draft', 'type', 'action', 'service', 'llm',
							   'task', 'draft_workflow',
							   'params', jsonb_build_object('prompt', '{{trigger_data.prompt}}')),
			jsonb_build_object('id', 'repair', 'type', 'action', 'service', 'llm',
							   'task', 'draft_workflow',
							   'params', jsonb_build_object(
								   'prompt', '{{trigger_data.prompt}}',
								   'repair_of', '{{steps.draft.output.blueprint}}',
								   'problems', '{{steps.draft.output.problems}}'))),
		'edges', jsonb_build_array(
			jsonb_build_object('from', 'draft', 'to', 'repair',
							   'condition', jsonb_build_object(
								   'left', '{{steps.draft.output.valid}}',
								   'op', 'eq', 'right', false)))),
		jsonb_build_object('prompt', prompt));
	INSERT INTO flowdb.workflows (owner, name, blueprint, active, prompt, drafted_by,
								  draft_status, draft_run_id)
	VALUES (owner, left(regexp_replace(btrim(prompt), '\s+', ' ', 'g'), 80), NULL, false,
			prompt, current_setting('flowdb.llm_model'), 'drafting', rid)
	RETURNING id INTO wid;
	RETURN wid;
END
$$;

-- flowdb.intent_start_llm: queue the run that understands a command with
-- the model (transcribing audio first); returns the run id.  Its output
-- becomes flowdb.intent_act's {status, reply, analysis}.
CREATE FUNCTION flowdb.intent_start_llm(owner text, text text, audio bytea,
										session_id text, channel text DEFAULT 'api')
RETURNS uuid
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	nodes jsonb;
	edges jsonb := '[]';
BEGIN
	IF owner IS NULL THEN
		RAISE EXCEPTION 'owner is required' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF audio IS NOT NULL THEN
		IF length(audio) = 0 OR length(audio) > 25 * 1024 * 1024 THEN
			RAISE EXCEPTION 'audio must be 1 byte to 25 MB (got % bytes)', length(audio)
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		nodes := jsonb_build_array(
			jsonb_build_object('id', 'transcribe', 'type', 'action', 'service', 'llm',
							   'task', 'transcribe',
							   'params', jsonb_build_object(
								   'audio', '{{trigger_data.audio}}',
								   'model', current_setting('flowdb.transcription_model'))),
			jsonb_build_object('id', 'parse', 'type', 'action', 'service', 'llm',
							   'task', 'parse_intent',
							   'params', jsonb_build_object(
								   'text', '{{steps.transcribe.output.text}}')));
		edges := jsonb_build_array(jsonb_build_object('from', 'transcribe', 'to', 'parse'));
	ELSIF text IS NULL OR btrim(text) = '' THEN
		RAISE EXCEPTION 'text or audio is required' USING ERRCODE = 'null_value_not_allowed';
	ELSIF length(text) > 4000 THEN
		RAISE EXCEPTION 'text is too long (% characters)', length(text)
			USING ERRCODE = 'program_limit_exceeded', DETAIL = 'At most 4000 characters.';
	ELSE
		nodes := jsonb_build_array(
			jsonb_build_object('id', 'parse', 'type', 'action', 'service', 'llm',
							   'task', 'parse_intent',
							   'params', jsonb_build_object('text', '{{trigger_data.text}}')));
	END IF;
	RETURN flowdb.start_purpose_run(owner, 'intent', jsonb_build_object(
		'version', 1, 'name', 'Understand a command',
		'trigger', jsonb_build_object('type', 'manual'),
		'nodes', nodes, 'edges', edges),
		jsonb_strip_nulls(jsonb_build_object(
			'text', CASE WHEN audio IS NULL THEN text END,
			'audio', CASE WHEN audio IS NOT NULL
					 THEN translate(encode(audio, 'base64'), E'\n', '') END,
			'session_id', session_id, 'channel', coalesce(channel, 'api'))));
END
$$;

-- flowdb.draft_finish: a drafting run ended; the row becomes ready with a
-- blueprint valid by the SQL validator too, or failed with the problems
CREATE FUNCTION flowdb.draft_finish(r flowdb.runs) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	out jsonb;
	bp jsonb;
	problems jsonb;
	errs text[];
BEGIN
	out := CASE WHEN r.state #>> '{nodes,repair,status}' = 'succeeded'
				THEN r.state #> '{nodes,repair,output}'
				ELSE r.state #> '{nodes,draft,output}' END;
	bp := out -> 'blueprint';
	IF r.status = 'succeeded' AND (out ->> 'valid')::boolean IS TRUE
	   AND jsonb_typeof(bp) = 'object' THEN
		IF octet_length(bp::text) > pg_size_bytes(current_setting('flowdb.max_blueprint_bytes')) THEN
			errs := ARRAY['$: blueprint is larger than flowdb.max_blueprint_bytes'];
		ELSE
			errs := flowdb.blueprint_errors(bp);
		END IF;
		IF cardinality(errs) = 0 THEN
			UPDATE flowdb.workflows w
			SET blueprint = bp, name = coalesce(nullif(bp ->> 'name', ''), w.name),
				draft_status = 'ready', draft_problems = '[]', active = false,
				drafted_by = coalesce(out ->> 'model', w.drafted_by), updated_at = now()
			WHERE w.draft_run_id = r.id AND w.draft_status IS DISTINCT FROM 'ready';
			RETURN;
		END IF;
		problems := to_jsonb(errs);
	ELSIF r.status = 'succeeded' THEN
		problems := coalesce(out -> 'problems', '["$: the model gave no blueprint"]');
	ELSE
		problems := jsonb_build_array('$: ' || coalesce(r.error, 'drafting run ' || r.status));
	END IF;
	UPDATE flowdb.workflows w
	SET blueprint = NULL, draft_status = 'failed', draft_problems = problems,
		drafted_by = coalesce(out ->> 'model', w.drafted_by), updated_at = now()
	WHERE w.draft_run_id = r.id AND w.draft_status IS DISTINCT FROM 'ready';
END
$$;

-- flowdb.intent_finish: an intent run ended; its output is intent_act's
-- answer to the model's analysis (or an error reply)
CREATE FUNCTION flowdb.intent_finish(r flowdb.runs) RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	analysis jsonb;
	transcript text := r.state #>> '{nodes,transcribe,output,text}';
	result jsonb;
BEGIN
	IF r.status <> 'succeeded' THEN
		RETURN jsonb_build_object('status', 'error',
			'reply', 'Sorry, I could not understand that. Please try again.',
			'error', r.error, 'analysis', NULL);
	END IF;
	analysis := (r.state #> '{nodes,parse,output}') - 'model' - 'sandbox';
	IF transcript IS NOT NULL THEN
		analysis := analysis || jsonb_build_object('transcript', transcript);
	END IF;
	-- flowdb.intent_act (below, with intent_parse): slot filling,
	-- confirmation, the action as a run of its own
	BEGIN
		result := flowdb.intent_act(r.owner, r.payload ->> 'session_id', analysis,
									coalesce(r.payload ->> 'channel', 'api'));
	EXCEPTION WHEN OTHERS THEN
		-- the run stays finished; its output says what went wrong
		result := jsonb_build_object('status', 'error', 'reply', SQLERRM,
									 'analysis', analysis);
	END;
	RETURN result;
END
$$;

-- flowdb.llm_run_done: BEFORE UPDATE trigger of runs with a purpose, on the
-- change to a final status.  It never raises: an error here would roll
-- back the worker's step commit again and again, so it becomes the
-- draft's problem or the run's output instead.
CREATE FUNCTION flowdb.llm_run_done() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	BEGIN
		IF NEW.purpose = 'draft' THEN
			PERFORM flowdb.draft_finish(NEW);
		ELSIF NEW.purpose = 'intent' THEN
			NEW.output := flowdb.intent_finish(NEW);
		END IF;
	EXCEPTION WHEN OTHERS THEN
		IF NEW.purpose = 'draft' THEN
			UPDATE flowdb.workflows w
			SET blueprint = NULL, draft_status = 'failed', updated_at = now(),
				draft_problems = jsonb_build_array('$: could not finish the draft: ' || SQLERRM)
			WHERE w.draft_run_id = NEW.id AND w.draft_status IS DISTINCT FROM 'ready';
		ELSE
			NEW.output := jsonb_build_object('status', 'error', 'reply', SQLERRM,
											 'analysis', NULL);
		END IF;
	END;
	RETURN NEW;
END
$$;

CREATE TRIGGER runs_llm_done
	BEFORE UPDATE OF status ON flowdb.runs
	FOR EACH ROW
	WHEN (NEW.purpose IS NOT NULL
		  AND NEW.status IN ('succeeded', 'failed', 'canceled')
		  AND OLD.status IS DISTINCT FROM NEW.status)
	EXECUTE FUNCTION flowdb.llm_run_done();

REVOKE ALL ON FUNCTION flowdb.llm_configured(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.start_purpose_run(text, text, jsonb, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.draft_start_llm(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.intent_start_llm(text, text, bytea, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.draft_finish(flowdb.runs) FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.intent_finish(flowdb.runs) FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.llm_run_done() FROM PUBLIC;

------------------------------------------------------------------------
-- Intents: intent_parse, sessions, confirmation and the WhatsApp
-- assistant (issue 7 sections 3 and 5).  Offline parser in C
-- (src/intent.c); the action always runs through the engine as a run.
------------------------------------------------------------------------

-- flowdb.intent_analyze: offline parse of one utterance into
-- {"intent", "entities", "confidence"}
CREATE FUNCTION flowdb.intent_analyze(text text) RETURNS jsonb
AS 'MODULE_PATHNAME', 'flowdb_intent_analyze'
LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;

-- A question the assistant asked and is waiting for an answer to: the
-- pending intent with the entities gathered so far.  One per (owner,
-- session); expired rows are deleted by the next intent_act.
CREATE TABLE flowdb.sessions (
	owner		text NOT NULL,
	session_id	text NOT NULL CHECK (length(session_id) BETWEEN 1 AND 200),
	intent		text NOT NULL,
	entities	jsonb NOT NULL DEFAULT '{}',
	awaiting	text NOT NULL,		-- the entity asked for, or 'confirmation'
	confidence	numeric NOT NULL DEFAULT 0,	-- the parser's, for the confirmation rule
	channel		text NOT NULL DEFAULT 'api',
	expires_at	timestamptz NOT NULL,
	updated_at	timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (owner, session_id)
);
CREATE INDEX sessions_expires ON flowdb.sessions (expires_at);

-- Every WhatsApp message in and out (the messages screen)
CREATE TABLE flowdb.messages (
	id			bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	owner		text NOT NULL,
	contact		text NOT NULL,		-- "whatsapp:+919876543210"
	contact_name text,				-- Twilio's ProfileName, inbound only
	direction	text NOT NULL CHECK (direction IN ('in', 'out')),
	body		text,
	media		jsonb NOT NULL DEFAULT '[]',
	status		text NOT NULL CHECK (status IN ('received', 'queued')),
	run_id		uuid REFERENCES flowdb.runs (id) ON DELETE SET NULL,
	message_sid text,
	created_at	timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX messages_owner ON flowdb.messages (owner, created_at DESC);
CREATE INDEX messages_run ON flowdb.messages (run_id) WHERE run_id IS NOT NULL;

ALTER TABLE flowdb.sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE flowdb.messages ENABLE ROW LEVEL SECURITY;
CREATE POLICY sessions_owner ON flowdb.sessions
	USING (owner = flowdb.current_owner());
CREATE POLICY messages_owner ON flowdb.messages
	USING (owner = flowdb.current_owner());
GRANT SELECT ON flowdb.sessions, flowdb.messages TO PUBLIC;

-- flowdb.intent_required: the entities an intent cannot run without
CREATE FUNCTION flowdb.intent_required(intent text) RETURNS text[]
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE intent
		WHEN 'CREATE_INVOICE' THEN ARRAY['name', 'amount']
		WHEN 'CREATE_PAYMENT_LINK' THEN ARRAY['amount']
		WHEN 'SEND_MESSAGE' THEN ARRAY['phone', 'message']
		WHEN 'POST_TO_INSTAGRAM' THEN ARRAY['image_url', 'caption']
		WHEN 'NOTIFY_SLACK' THEN ARRAY['channel', 'message']
		WHEN 'CHECK_PAYMENT' THEN ARRAY['payment_id']
		WHEN 'RUN_WORKFLOW' THEN ARRAY['workflow']
		WHEN 'CREATE_WORKFLOW' THEN ARRAY['description']
		ELSE '{}'::text[]
	END
$$;

-- flowdb.intent_question: what to ask for a missing entity
CREATE FUNCTION flowdb.intent_question(intent text, entity text, entities jsonb) RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE entity
		WHEN 'amount' THEN CASE intent
			WHEN 'CREATE_INVOICE' THEN 'How much is the invoice' ||
				coalesce(' for ' || (entities ->> 'name'), '') || '? (e.g. 500)'
			ELSE 'How much should the payment link be for? (e.g. 500)' END
		WHEN 'name' THEN 'Who is the invoice for? (the customer''s name)'
		WHEN 'phone' THEN 'Which WhatsApp number should I send it to' ||
			coalesce(' (' || (entities ->> 'name') || ')', '') || '? (e.g. +91 98765 43210)'
		WHEN 'message' THEN 'What should the message say?'
		WHEN 'channel' THEN 'Which Slack channel? (e.g. #general)'
		WHEN 'image_url' THEN 'Send the link (https://...) of the image to post on Instagram.'
		WHEN 'caption' THEN 'What should the caption say?'
		WHEN 'payment_id' THEN 'Which payment? Send its Razorpay id (pay_...).'
		WHEN 'workflow' THEN 'Which workflow should I run? Send its name.'
		WHEN 'description' THEN 'Describe the workflow: what starts it and what it should do.'
		ELSE 'Please tell me the ' || entity || '.'
	END
$$;

-- flowdb.intent_clean_entities: keep only well-formed entities.  The
-- analysis may come from a model reading untrusted text, so every value is
-- checked like a blueprint parameter; a bad one is dropped (and asked for).
CREATE FUNCTION flowdb.intent_clean_entities(entities jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	out jsonb := '{}';
	k text;
	v jsonb;
	s text;
BEGIN
	IF jsonb_typeof(entities) IS DISTINCT FROM 'object' THEN
		RETURN out;
	END IF;
	FOR k, v IN SELECT * FROM jsonb_each(entities) LOOP
		IF k = 'amount' THEN
			IF jsonb_typeof(v) = 'number' AND v::text::numeric > 0
			   AND v::text::numeric <= 100000000 THEN
				out := out || jsonb_build_object('amount', trim_scale(round(v::text::numeric, 2)));
			END IF;
			CONTINUE;
		END IF;
		IF jsonb_typeof(v) IS DISTINCT FROM 'string' THEN
			CONTINUE;
		END IF;
		s := btrim(v #>> '{}');
		IF s = '' THEN
			CONTINUE;
		END IF;
		IF (k = 'phone' AND s ~ '^\+[0-9]{7,15}$')
		   OR (k = 'email' AND s ~ '^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]+$')
		   OR (k = 'currency' AND s ~ '^[A-Z]{3}$')
		   OR (k = 'payment_id' AND s ~ '^pay_[A-Za-z0-9]{1,40}$')
		   OR (k = 'run_id' AND s ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$')
		   OR (k = 'image_url' AND s ~* '^https?://[^\s]+$' AND length(s) <= 2000)
		   OR (k = 'channel' AND s ~ '^#?[A-Za-z0-9_.-]{1,80}$')
		   OR (k = 'answer' AND s IN ('yes', 'no'))
		   OR (k = 'name' AND length(s) <= 100)
		   OR (k IN ('workflow') AND length(s) <= 200)
		   OR (k IN ('message', 'caption', 'description') AND length(s) <= 2000) THEN
			IF k = 'channel' AND left(s, 1) <> '#' THEN
				s := '#' || s;
			END IF;
			out := out || jsonb_build_object(k, s);
		END IF;
	END LOOP;
	IF out ? 'amount' AND NOT out ? 'currency' THEN
		out := out || '{"currency": "INR"}';
	END IF;
	RETURN out;
END
$$;

-- flowdb.intent_slot: the value a free-text answer gives to the entity
-- that was asked for ("Ravi" answering "Who is the invoice for?")
CREATE FUNCTION flowdb.intent_slot(awaiting text, analysis jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE
		WHEN analysis -> 'entities' ? awaiting THEN '{}'::jsonb
		WHEN awaiting IN ('name', 'message', 'caption', 'workflow', 'description', 'channel')
			 AND coalesce(analysis ->> 'intent', 'UNKNOWN') = 'UNKNOWN'
			 AND nullif(btrim(analysis ->> 'text'), '') IS NOT NULL
		THEN flowdb.intent_clean_entities(jsonb_build_object(awaiting, btrim(analysis ->> 'text')))
		ELSE '{}'::jsonb
	END
$$;

-- flowdb.intent_summary: one line saying what an action will do
CREATE FUNCTION flowdb.intent_summary(intent text, e jsonb) RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE intent
		WHEN 'CREATE_INVOICE' THEN format('an invoice of %s %s for %s',
			CASE e ->> 'currency' WHEN 'INR' THEN 'Rs' ELSE e ->> 'currency' END,
			e ->> 'amount', e ->> 'name')
		WHEN 'CREATE_PAYMENT_LINK' THEN format('a payment link of %s %s%s',
			CASE e ->> 'currency' WHEN 'INR' THEN 'Rs' ELSE e ->> 'currency' END,
			e ->> 'amount',
			coalesce(' for ' || coalesce(e ->> 'name', e ->> 'phone', e ->> 'email'), ''))
		WHEN 'SEND_MESSAGE' THEN format('a WhatsApp message to %s', coalesce(e ->> 'name', e ->> 'phone'))
		WHEN 'POST_TO_INSTAGRAM' THEN 'an Instagram post'
		WHEN 'NOTIFY_SLACK' THEN format('a Slack message to %s', e ->> 'channel')
		ELSE lower(replace(intent, '_', ' '))
	END
$$;

-- The assistant's per-owner settings: above confirm_above_rupees an
-- invoice or payment link needs a yes first (NULL: the server default,
-- flowdb.intent_confirm_rupees).  Set with flow_set_assistant().
CREATE TABLE flowdb.assistant_settings (
	owner		text PRIMARY KEY DEFAULT flowdb.current_owner(),
	confirm_above_rupees numeric CHECK (confirm_above_rupees >= 0
										AND confirm_above_rupees <= 100000000),
	updated_at	timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE flowdb.assistant_settings ENABLE ROW LEVEL SECURITY;
CREATE POLICY assistant_settings_owner ON flowdb.assistant_settings
	USING (owner = flowdb.current_owner());
GRANT SELECT ON flowdb.assistant_settings TO PUBLIC;

-- flow_set_assistant: the caller's confirmation threshold in rupees (NULL
-- goes back to the server default); returns the threshold now in force
CREATE FUNCTION public.flow_set_assistant(confirm_above_rupees numeric)
RETURNS numeric
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM flowdb.refuse_anon();
	IF confirm_above_rupees < 0 OR confirm_above_rupees > 100000000 THEN
		RAISE EXCEPTION 'confirm_above_rupees must be between 0 and 100000000'
			USING ERRCODE = 'invalid_parameter_value', HINT = 'NULL uses the server default (flowdb.intent_confirm_rupees).';
	END IF;
	INSERT INTO flowdb.assistant_settings AS a (owner, confirm_above_rupees)
	VALUES (flowdb.current_owner(), confirm_above_rupees)
	ON CONFLICT (owner) DO UPDATE
		SET confirm_above_rupees = excluded.confirm_above_rupees, updated_at = now();
	RETURN flowdb.confirm_threshold(flowdb.current_owner());
END
$$;

-- flowdb.confirm_threshold: the owner's threshold, else the server's
CREATE FUNCTION flowdb.confirm_threshold(owner text) RETURNS numeric
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT coalesce((SELECT a.confirm_above_rupees FROM flowdb.assistant_settings a
					 WHERE a.owner = confirm_threshold.owner),
					current_setting('flowdb.intent_confirm_rupees')::numeric)
$$;

-- flowdb.intent_needs_confirmation: must the owner say yes first?  Money
-- above the owner's threshold (flowdb.confirm_threshold), public posts
-- (every follower sees them), and any action the parser was unsure about.
CREATE FUNCTION flowdb.intent_needs_confirmation(owner text, intent text, e jsonb,
												 confidence numeric)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE
		WHEN intent IN ('CREATE_INVOICE', 'CREATE_PAYMENT_LINK')
			 AND (e ->> 'amount')::numeric > flowdb.confirm_threshold(owner)
			THEN true
		WHEN intent = 'POST_TO_INSTAGRAM' THEN true
		WHEN intent IN ('CREATE_INVOICE', 'CREATE_PAYMENT_LINK', 'SEND_MESSAGE', 'NOTIFY_SLACK')
			 AND coalesce(confidence, 0) < 0.75
			THEN true
		ELSE false
	END
$$;

-- flowdb.intent_result: the {status, reply, analysis} answer
CREATE FUNCTION flowdb.intent_result(status text, reply text, analysis jsonb,
									 intent text, entities jsonb, extra jsonb DEFAULT '{}')
RETURNS jsonb
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT jsonb_build_object('status', status, 'reply', reply,
		'analysis', coalesce(analysis, '{}') - 'text'
			|| jsonb_build_object('intent', intent, 'entities', coalesce(entities, '{}'))
			|| coalesce(extra, '{}'))
$$;

-- flowdb.intent_action_blueprint: a one-step blueprint for an action
-- intent.  Every user-supplied value travels in the run's payload and is
-- referenced as {{trigger_data.<entity>}}, so text such as "{{...}}" in a
-- message is sent as written, never rendered.
CREATE FUNCTION flowdb.intent_action_blueprint(intent text, e jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	service text;
	task text;
	node text;
	map jsonb;				-- task parameter -> entity
	params jsonb := '{}';
	k text;
	v text;
BEGIN
	CASE intent
		WHEN 'CREATE_INVOICE' THEN
			service := 'razorpay'; task := 'create_invoice'; node := 'invoice';
			map := '{"customer_name": "name", "amount": "amount", "currency": "currency",
					 "description": "description", "customer_contact": "phone",
					 "customer_email": "email"}';
		WHEN 'CREATE_PAYMENT_LINK' THEN
			service := 'razorpay'; task := 'create_payment_link'; node := 'link';
			map := '{"amount": "amount", "currency": "currency", "description": "description",
					 "customer_name": "name", "customer_contact": "phone",
					 "customer_email": "email"}';
		WHEN 'CHECK_PAYMENT' THEN
			service := 'razorpay'; task := 'fetch_payment'; node := 'payment';
			map := '{"payment_id": "payment_id"}';
		WHEN 'SEND_MESSAGE' THEN
			service := 'whatsapp'; task := 'send_message'; node := 'message';
			map := '{"to": "phone", "body": "message"}';
		WHEN 'POST_TO_INSTAGRAM' THEN
			service := 'instagram'; task := 'publish_photo'; node := 'post';
			map := '{"image_url": "image_url", "caption": "caption"}';
		WHEN 'NOTIFY_SLACK' THEN
			service := 'slack'; task := 'post_message'; node := 'notify';
			map := '{"channel": "channel", "text": "message"}';
		ELSE
			RAISE EXCEPTION 'intent % has no action blueprint', intent
				USING ERRCODE = 'invalid_parameter_value';
	END CASE;
	FOR k, v IN SELECT * FROM jsonb_each_text(map) LOOP
		IF e ? v THEN
			params := params || jsonb_build_object(k, '{{trigger_data.' || v || '}}');
		END IF;
	END LOOP;
	RETURN jsonb_build_object('version', 1, 'name', 'intent: ' || lower(intent),
		'trigger', jsonb_build_object('type', 'manual'),
		'nodes', jsonb_build_array(jsonb_build_object('id', node, 'type', 'action',
			'service', service, 'task', task, 'params', params)));
END
$$;

-- flowdb.intent_whatsapp_followup: for a conversation on WhatsApp, add a
-- step that sends the action's result (the link, the payment status) back
-- to the sender ({{trigger_data.reply_to}}) once the action succeeded.
-- channel is 'whatsapp' or 'whatsapp/<credential name>'.
CREATE FUNCTION flowdb.intent_whatsapp_followup(bp jsonb, intent text, channel text) RETURNS jsonb
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE WHEN channel IS NULL OR split_part(channel, '/', 1) <> 'whatsapp'
				  OR intent NOT IN ('CREATE_INVOICE', 'CREATE_PAYMENT_LINK', 'CHECK_PAYMENT')
		THEN bp
		ELSE jsonb_set(bp, '{nodes}', (bp -> 'nodes') || jsonb_build_array(jsonb_strip_nulls(
			jsonb_build_object('id', 'reply', 'type', 'action', 'service', 'whatsapp',
				'task', 'send_message',
				'credential', nullif(split_part(channel, '/', 2), ''),
				'params', jsonb_build_object('to', '{{trigger_data.reply_to}}',
					'body', CASE intent
						WHEN 'CREATE_INVOICE' THEN
							'Invoice for {{trigger_data.name}} (Rs {{trigger_data.amount}}): {{steps.invoice.output.short_url}}'
						WHEN 'CREATE_PAYMENT_LINK' THEN
							'Payment link for Rs {{trigger_data.amount}}: {{steps.link.output.short_url}}'
						ELSE 'Payment {{trigger_data.payment_id}} is {{steps.payment.output.status}} '
							 '(Rs {{steps.payment.output.amount_rupees}}).'
					END)))))
			|| jsonb_build_object('edges', jsonb_build_array(jsonb_build_object(
				'from', bp #>> '{nodes,0,id}', 'to', 'reply')))
	END
$$;

-- flowdb.intent_execute: carry out a complete, confirmed intent.
-- reply_to: the WhatsApp number of the conversation (channel whatsapp).
CREATE FUNCTION flowdb.intent_execute(owner text, intent text, e jsonb, analysis jsonb,
									  channel text, reply_to text)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	rid uuid;
	wid uuid;
	w flowdb.workflows;
	r flowdb.runs;
	n integer;
	names text;
	pat text;
	link text;
	followup jsonb;
BEGIN
	CASE intent
	WHEN 'CREATE_INVOICE', 'CREATE_PAYMENT_LINK', 'CHECK_PAYMENT' THEN
		followup := flowdb.intent_whatsapp_followup(flowdb.intent_action_blueprint(intent, e),
													intent, channel);
		rid := flowdb.enqueue(followup,
			CASE WHEN followup ? 'edges' THEN e || jsonb_build_object('reply_to', reply_to) ELSE e END,
			NULL, owner);
		RETURN flowdb.intent_result('processing',
			CASE intent
				WHEN 'CHECK_PAYMENT' THEN format('Looking up payment %s (run %s).', e ->> 'payment_id', rid)
				ELSE format('Creating %s (run %s).', flowdb.intent_summary(intent, e), rid)
			END
			|| CASE WHEN followup ? 'edges' THEN ' I will send you the result here.'
					WHEN intent = 'CHECK_PAYMENT' THEN ' Its status will be in the run''s output.'
					ELSE ' The link will be in the run''s output.' END,
			analysis, intent, e, jsonb_build_object('run_id', rid));
	WHEN 'SEND_MESSAGE', 'POST_TO_INSTAGRAM', 'NOTIFY_SLACK' THEN
		rid := flowdb.enqueue(flowdb.intent_action_blueprint(intent, e), e, NULL, owner);
		RETURN flowdb.intent_result('done',
			format('Sending %s (run %s).', flowdb.intent_summary(intent, e), rid),
			analysis, intent, e, jsonb_build_object('run_id', rid));
	WHEN 'RUN_WORKFLOW' THEN
		SELECT * INTO w FROM flowdb.workflows wf
		WHERE wf.owner = owner AND lower(wf.name) = lower(e ->> 'workflow')
		ORDER BY wf.updated_at DESC LIMIT 1;
		IF NOT FOUND THEN
			pat := '%' || replace(replace(replace(lower(e ->> 'workflow'), '\', '\\'), '%', '\%'), '_', '\_') || '%';
			SELECT count(*) INTO n FROM flowdb.workflows wf
			WHERE wf.owner = owner AND lower(wf.name) LIKE pat;
			IF n = 1 THEN
				SELECT * INTO w FROM flowdb.workflows wf
				WHERE wf.owner = owner AND lower(wf.name) LIKE pat;
			ELSE
				SELECT string_agg(x.name, ', ') INTO names FROM (
					SELECT wf.name FROM flowdb.workflows wf
					WHERE wf.owner = owner AND (n = 0 OR lower(wf.name) LIKE pat)
					ORDER BY wf.updated_at DESC LIMIT 5) x;
				RETURN flowdb.intent_result('done',
					CASE WHEN n = 0 THEN format('I found no workflow called "%s".', e ->> 'workflow')
						 ELSE format('Several workflows match "%s".', e ->> 'workflow') END
					|| coalesce(' Your workflows: ' || names || '.', ' You have no saved workflows yet.'),
					analysis, intent, e);
			END IF;
		END IF;
		IF w.blueprint IS NULL THEN
			RETURN flowdb.intent_result('done',
				format('Workflow "%s" is still a draft without a blueprint.', w.name),
				analysis, intent, e, jsonb_build_object('workflow_id', w.id));
		END IF;
		rid := flowdb.enqueue(w.blueprint, '{}', w.id, owner);
		RETURN flowdb.intent_result('done', format('Started workflow "%s" (run %s).', w.name, rid),
			analysis, intent, e, jsonb_build_object('run_id', rid, 'workflow_id', w.id));
	WHEN 'CREATE_WORKFLOW' THEN
		IF flowdb.llm_configured(owner) THEN
			wid := flowdb.draft_start_llm(owner, e ->> 'description');
			RETURN flowdb.intent_result('processing',
				format('Drafting the workflow (%s) with the model; it shows as ready when done.', wid),
				analysis, intent, e, jsonb_build_object('workflow_id', wid));
		END IF;
		wid := flowdb.draft_save_offline(owner, e ->> 'description');
		RETURN flowdb.intent_result('done',
			format('Drafted a workflow (%s). Review it, then turn it on with flow_activate.', wid),
			analysis, intent, e, jsonb_build_object('workflow_id', wid));
	WHEN 'RUN_STATUS' THEN
		SELECT * INTO r FROM flowdb.runs rr
		WHERE rr.owner = owner
		  AND (e ->> 'run_id' IS NULL OR rr.id = (e ->> 'run_id')::uuid)
		ORDER BY rr.created_at DESC LIMIT 1;
		IF NOT FOUND THEN
			RETURN flowdb.intent_result('done',
				CASE WHEN e ? 'run_id' THEN format('I found no run %s.', e ->> 'run_id')
					 ELSE 'You have no runs yet.' END,
				analysis, intent, e);
		END IF;
		SELECT x.nd -> 'output' ->> 'short_url' INTO link
		FROM jsonb_each(coalesce(r.state -> 'nodes', '{}')) AS x(k, nd)
		WHERE jsonb_typeof(x.nd -> 'output') = 'object' AND x.nd -> 'output' ? 'short_url'
		LIMIT 1;
		RETURN flowdb.intent_result('done',
			format('Run %s (%s) is %s.', r.id, r.blueprint ->> 'name', r.status)
			|| coalesce(' Link: ' || link, '') || coalesce(' Error: ' || r.error, ''),
			analysis, intent, e, jsonb_build_object('run_id', r.id, 'run_status', r.status));
	ELSE
		RAISE EXCEPTION 'intent % is not an action', intent USING ERRCODE = 'invalid_parameter_value';
	END CASE;
END
$$;

-- flowdb.intent_act: the conversation step.  Merges the analysis of one
-- message with the session's pending question, asks for what is missing
-- (needs_input), asks for a yes before costly actions, and runs the rest.
CREATE FUNCTION flowdb.intent_act(owner text, session_id text, analysis jsonb, channel text)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	s flowdb.sessions;
	intent text;
	e jsonb;
	answer text;
	conf numeric;
	confirmed boolean := false;
	missing text;
	expires timestamptz := now() + current_setting('flowdb.intent_session_minutes')::interval;
BEGIN
	IF owner IS NULL OR session_id IS NULL THEN
		RAISE EXCEPTION 'owner and session_id must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF length(session_id) NOT BETWEEN 1 AND 200 THEN
		RAISE EXCEPTION 'session_id must be 1 to 200 characters' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF jsonb_typeof(analysis) IS DISTINCT FROM 'object' THEN
		RAISE EXCEPTION 'analysis must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	intent := coalesce(analysis ->> 'intent', 'UNKNOWN');
	IF NOT intent = ANY (ARRAY['CREATE_INVOICE', 'CREATE_PAYMENT_LINK', 'SEND_MESSAGE',
			'POST_TO_INSTAGRAM', 'NOTIFY_SLACK', 'CHECK_PAYMENT', 'RUN_WORKFLOW',
			'CREATE_WORKFLOW', 'RUN_STATUS', 'HELP', 'UNKNOWN']) THEN
		RAISE EXCEPTION 'unknown intent "%"', left(intent, 64) USING ERRCODE = 'invalid_parameter_value',
			HINT = 'flowdb.intent_analyze lists what the parser produces.';
	END IF;
	e := flowdb.intent_clean_entities(analysis -> 'entities');
	answer := e ->> 'answer';
	e := e - 'answer';
	conf := CASE WHEN jsonb_typeof(analysis -> 'confidence') = 'number'
				 THEN (analysis ->> 'confidence')::numeric ELSE 0 END;

	-- prune a few expired questions of any owner without waiting on locks
	DELETE FROM flowdb.sessions ss WHERE ss.ctid IN (
		SELECT x.ctid FROM flowdb.sessions x WHERE x.expires_at < now()
		LIMIT 100 FOR UPDATE SKIP LOCKED);
	SELECT * INTO s FROM flowdb.sessions ss
	WHERE ss.owner = owner AND ss.session_id = session_id AND ss.expires_at >= now()
	FOR UPDATE;
	IF FOUND THEN
		DELETE FROM flowdb.sessions ss WHERE ss.owner = owner AND ss.session_id = session_id;
		IF answer = 'no' THEN
			RETURN flowdb.intent_result('done', format('OK, cancelled %s.',
				flowdb.intent_summary(s.intent, s.entities)), analysis, s.intent, s.entities);
		END IF;
		IF s.awaiting = 'confirmation' THEN
			IF answer = 'yes' THEN
				intent := s.intent;
				e := s.entities;
				conf := s.confidence;
				confirmed := true;
			ELSIF intent = 'UNKNOWN' THEN
				-- neither yes nor no: ask again
				INSERT INTO flowdb.sessions (owner, session_id, intent, entities, awaiting, confidence, channel, expires_at)
				VALUES (owner, session_id, s.intent, s.entities, 'confirmation', s.confidence, channel, expires);
				RETURN flowdb.intent_result('needs_input',
					format('Please reply yes to confirm %s, or no to cancel.',
						   flowdb.intent_summary(s.intent, s.entities)),
					analysis, s.intent, s.entities, '{"awaiting": "confirmation"}');
			END IF;
			-- otherwise a new command replaces the pending one
		ELSIF intent IN ('UNKNOWN', s.intent) AND answer IS NULL THEN
			e := s.entities || flowdb.intent_slot(s.awaiting, analysis) || e;
			intent := s.intent;
			conf := s.confidence;		-- an answer keeps the command's confidence
			analysis := analysis || jsonb_build_object('confidence', conf);
		END IF;
	END IF;

	IF intent = 'UNKNOWN' THEN
		RETURN flowdb.intent_result('done',
			CASE WHEN answer IS NOT NULL THEN 'There is nothing waiting for a yes or no.'
				 ELSE 'Sorry, I did not understand that. I can create invoices and payment links, '
					  'send WhatsApp messages, post to Instagram or Slack, check a payment, '
					  'run or create a workflow. Try "invoice Ravi 500" or "help".' END,
			analysis, intent, e);
	END IF;
	IF intent = 'HELP' THEN
		RETURN flowdb.intent_result('done',
			'Things I can do: "invoice Ravi 500", "send a 2k payment link to 9876543210", '
			'"message Priya on whatsapp: order ready", "post on instagram https://.../photo.jpg ''Diwali sale''", '
			'"slack #team: stock is low", "status of payment pay_...", "run the morning report workflow", '
			'"create a workflow that ...", "status of my last run". Hindi-English mix is fine too.',
			analysis, intent, e);
	END IF;

	SELECT x INTO missing FROM unnest(flowdb.intent_required(intent)) WITH ORDINALITY AS u(x, i)
	WHERE NOT e ? x ORDER BY i LIMIT 1;
	IF missing IS NOT NULL THEN
		INSERT INTO flowdb.sessions (owner, session_id, intent, entities, awaiting, confidence, channel, expires_at)
		VALUES (owner, session_id, intent, e, missing, conf, channel, expires);
		RETURN flowdb.intent_result('needs_input', flowdb.intent_question(intent, missing, e),
			analysis, intent, e, jsonb_build_object('awaiting', missing));
	END IF;
	IF NOT confirmed AND flowdb.intent_needs_confirmation(owner, intent, e, conf) THEN
		INSERT INTO flowdb.sessions (owner, session_id, intent, entities, awaiting, confidence, channel, expires_at)
		VALUES (owner, session_id, intent, e, 'confirmation', conf, channel, expires);
		RETURN flowdb.intent_result('needs_input',
			format('Shall I create %s? Reply yes to confirm or no to cancel.', flowdb.intent_summary(intent, e)),
			analysis, intent, e, '{"awaiting": "confirmation"}');
	END IF;
	RETURN flowdb.intent_execute(owner, intent, e, analysis, channel, session_id);
END
$$;

-- flowdb.contact_names: names the owner's contacts go by (speech
-- recognition is told to expect them)
CREATE FUNCTION flowdb.contact_names(owner text) RETURNS text[]
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT coalesce(array_agg(n ORDER BY n), '{}') FROM (
		SELECT DISTINCT n FROM (
			SELECT m.contact_name AS n FROM flowdb.messages m
			WHERE m.owner = contact_names.owner AND m.contact_name IS NOT NULL
			UNION ALL
			SELECT ss.entities ->> 'name' FROM flowdb.sessions ss
			WHERE ss.owner = contact_names.owner AND ss.entities ? 'name') a
		WHERE n ~ '^[[:alpha:] .-]{2,40}$'
		LIMIT 200) b
$$;

-- intent_parse: understand a typed or spoken command and act on it.
-- Returns {status, reply, analysis}; status is done, needs_input (the
-- reply is a question; answer with the same session_id), processing (the
-- result will be in run analysis.run_id) or error.
CREATE FUNCTION public.intent_parse(text text DEFAULT NULL, audio bytea DEFAULT NULL,
									session_id text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	owner text := flowdb.current_owner();
	sid text := coalesce(session_id, 'default');
	transcript text;
	analysis jsonb;
	rid uuid;
BEGIN
	PERFORM flowdb.refuse_anon();
	IF text IS NULL AND audio IS NULL THEN
		RAISE EXCEPTION 'text or audio is required' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF length(text) > 2000 THEN
		RAISE EXCEPTION 'text is too long (% characters)', length(text) USING ERRCODE = 'invalid_parameter_value',
			DETAIL = 'A command may have at most 2000 characters.';
	END IF;
	IF length(sid) NOT BETWEEN 1 AND 200 THEN
		RAISE EXCEPTION 'session_id must be 1 to 200 characters' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	-- with a model the worker transcribes and parses (a run); the answer
	-- becomes that run's output (flow_status), never awaited here
	IF flowdb.llm_configured(owner) THEN
		rid := flowdb.intent_start_llm(owner, text, audio, sid, 'api');
		RETURN jsonb_build_object('status', 'processing', 'run_id', rid,
			'reply', 'Working on it: follow run ' || rid || ' for the answer.',
			'analysis', jsonb_build_object('run_id', rid));
	END IF;
	IF audio IS NOT NULL THEN
		-- offline recognition in-process (0A000 when built without
		-- pocketsphinx: then only a model key makes audio work)
		transcript := flowdb.transcribe_offline(audio, flowdb.contact_names(owner));
		text := coalesce(text || ' ', '') || coalesce(transcript, '');
	END IF;
	analysis := flowdb.intent_analyze(text) || jsonb_build_object('text', text);
	IF transcript IS NOT NULL THEN
		analysis := analysis || jsonb_build_object('transcript', transcript);
	END IF;
	RETURN flowdb.intent_act(owner, sid, analysis, 'api');
END
$$;

------------------------------------------------------------------------
-- WhatsApp (Twilio) webhook: POST /rpc/whatsapp_webhook
------------------------------------------------------------------------

-- flowdb.url_decode: decode one application/x-www-form-urlencoded value
CREATE FUNCTION flowdb.url_decode(s text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	b bytea := convert_to(replace(s, '+', ' '), 'UTF8');
	out bytea := '';
	i integer := 0;
	n integer := length(b);
	c integer;
BEGIN
	WHILE i < n LOOP
		c := get_byte(b, i);
		IF c = 37 AND i + 2 < n
		   AND convert_from(substring(b FROM i + 2 FOR 2), 'UTF8') ~ '^[0-9A-Fa-f]{2}$' THEN
			out := out || decode(convert_from(substring(b FROM i + 2 FOR 2), 'UTF8'), 'hex');
			i := i + 3;
		ELSE
			out := out || substring(b FROM i + 1 FOR 1);
			i := i + 1;
		END IF;
	END LOOP;
	RETURN convert_from(out, 'UTF8');
END
$$;

-- flowdb.form_fields: Twilio's form fields as a JSON object of strings.
-- PostgREST hands a form-urlencoded body to a single unnamed json
-- parameter as an object; a raw form string (a JSON string) is parsed.
CREATE FUNCTION flowdb.form_fields(body json) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	out jsonb := '{}';
	pair text;
BEGIN
	IF body IS NULL THEN
		RETURN out;
	END IF;
	IF json_typeof(body) = 'object' THEN
		SELECT coalesce(jsonb_object_agg(k, CASE WHEN jsonb_typeof(v) = 'string' THEN v
												 ELSE to_jsonb(v::text) END), '{}')
		INTO out FROM jsonb_each(body::jsonb) AS x(k, v);
		RETURN out;
	END IF;
	IF json_typeof(body) = 'string' THEN
		FOREACH pair IN ARRAY string_to_array(body #>> '{}', '&') LOOP
			IF pair <> '' THEN
				out := out || jsonb_build_object(flowdb.url_decode(split_part(pair, '=', 1)),
					flowdb.url_decode(substr(pair, length(split_part(pair, '=', 1)) + 2)));
			END IF;
		END LOOP;
		RETURN out;
	END IF;
	RAISE EXCEPTION 'webhook body must be form fields' USING ERRCODE = 'invalid_parameter_value';
END
$$;

-- flowdb.twilio_signature: X-Twilio-Signature of a request: base64
-- HMAC-SHA1, keyed with the auth token, of the URL followed by every form
-- field's name and value, sorted by name
CREATE FUNCTION flowdb.twilio_signature(url text, fields jsonb, auth_token text) RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT encode(flowdb.hmac(convert_to(url || coalesce(
			(SELECT string_agg(f.key || f.value, '' ORDER BY f.key COLLATE "C")
			 FROM jsonb_each_text(fields) f), ''), 'UTF8'),
		convert_to(auth_token, 'UTF8'), 'sha1'), 'base64')
$$;

-- flowdb.phone_digits: a phone number's digits ("whatsapp:+91 98..." -> "9198...")
CREATE FUNCTION flowdb.phone_digits(phone text) RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT regexp_replace(coalesce(phone, ''), '[^0-9]', '', 'g') $$;

-- flowdb.whatsapp_receive: a Twilio WhatsApp delivery whose form fields
-- are f, signed by Twilio for flowdb.public_url + signed_path (the path
-- Twilio posts to: /rpc/whatsapp_webhook or /rpc/whatsapp_twiml_webhook).  The
-- owner is the one whose whatsapp credential has the form's AccountSid and
-- whose auth token signed the request.  Records the message, fires
-- whatsapp.message.received for that owner, and when the sender is one of
-- the credential's owner_numbers lets the assistant act and reply.
CREATE FUNCTION flowdb.whatsapp_receive(f jsonb, signed_path text) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	base text := current_setting('flowdb.public_url');
	sig text := flowdb.request_header('x-twilio-signature');
	account text := f ->> 'AccountSid';
	c record;
	secret jsonb;
	owner text;
	cred_name text;
	cred jsonb;
	msid text;
	sender text;
	media jsonb := '[]';
	data jsonb;
	runs uuid[];
	res jsonb;
	reply_run uuid;
	reply_bp jsonb;
BEGIN
	IF base = '' THEN
		RAISE EXCEPTION 'webhook rejected: flowdb.public_url is not configured' USING ERRCODE = 'invalid_authorization_specification',
			HINT = 'ALTER SYSTEM SET flowdb.public_url = ''https://<your API host>''; SELECT pg_reload_conf();';
	END IF;
	IF sig IS NULL OR account IS NULL THEN
		RAISE EXCEPTION 'invalid Twilio webhook signature' USING ERRCODE = 'invalid_authorization_specification';
	END IF;
	FOR c IN
		SELECT cr.owner, cr.name FROM flowdb.credentials cr
		WHERE cr.service = 'whatsapp'
		  AND (cr.secret ->> 'account_sid' = account OR cr.vault_secret_id IS NOT NULL)
		ORDER BY cr.created_at, cr.owner, cr.name
	LOOP
		secret := flowdb.credential_secret(c.owner, 'whatsapp', c.name);
		IF secret ->> 'account_sid' = account AND secret ->> 'auth_token' IS NOT NULL
		   AND flowdb.safe_equal(flowdb.twilio_signature(rtrim(base, '/') || signed_path,
														 f, secret ->> 'auth_token'), sig) THEN
			owner := c.owner;
			cred_name := c.name;
			cred := secret;
			EXIT;
		END IF;
	END LOOP;
	IF owner IS NULL THEN
		RAISE EXCEPTION 'invalid Twilio webhook signature or unknown account' USING ERRCODE = 'invalid_authorization_specification';
	END IF;

	msid := coalesce(f ->> 'MessageSid', f ->> 'SmsMessageSid');
	IF msid IS NULL OR msid !~ '^[A-Za-z0-9]{1,64}$' THEN
		RAISE EXCEPTION 'Twilio delivery without a valid MessageSid' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	-- scoped by owner: nobody can claim another shop's MessageSid first
	INSERT INTO flowdb.webhook_deliveries (provider, delivery_id, event)
	VALUES ('twilio', owner || '/' || msid, 'whatsapp.message.received') ON CONFLICT DO NOTHING;
	IF NOT FOUND THEN
		RETURN jsonb_build_object('status', 'duplicate', 'event', 'whatsapp.message.received',
								  'runs', '[]'::jsonb);
	END IF;

	sender := f ->> 'From';
	IF sender IS NULL OR flowdb.phone_digits(sender) !~ '^[0-9]{7,15}$' THEN
		RAISE EXCEPTION 'Twilio delivery without a valid From number' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT coalesce(jsonb_agg(f ->> ('MediaUrl' || i) ORDER BY i), '[]') INTO media
	FROM generate_series(0, least(coalesce(nullif(f ->> 'NumMedia', '')::int, 0), 10) - 1) i
	WHERE f ? ('MediaUrl' || i)
	  AND coalesce(f ->> 'NumMedia', '0') ~ '^[0-9]{1,2}$';
	INSERT INTO flowdb.messages (owner, contact, contact_name, direction, body, media, status, message_sid)
	VALUES (owner, sender, left(f ->> 'ProfileName', 100), 'in', f ->> 'Body', media, 'received', msid);

	data := jsonb_build_object('from', sender, 'to', f ->> 'To', 'body', coalesce(f ->> 'Body', ''),
							   'media', media, 'message_sid', msid,
							   'profile_name', f ->> 'ProfileName');
	runs := flowdb.dispatch_event(owner, 'whatsapp.message.received', data);

	-- the assistant obeys the shop's own numbers only
	IF NOT EXISTS (SELECT 1 FROM jsonb_array_elements_text(
					   CASE WHEN jsonb_typeof(cred -> 'owner_numbers') = 'array'
							THEN cred -> 'owner_numbers' ELSE '[]' END) n
				   WHERE flowdb.phone_digits(n) = flowdb.phone_digits(sender)
					 AND flowdb.phone_digits(n) <> '')
	   OR coalesce(btrim(f ->> 'Body'), '') = '' THEN
		RETURN jsonb_build_object('status', 'ok', 'event', 'whatsapp.message.received',
								  'runs', to_jsonb(runs));
	END IF;
	-- WhatsApp commands use the offline parser even when a model is
	-- configured: the reply goes out within this delivery's transaction
	IF length(f ->> 'Body') > 2000 THEN
		res := jsonb_build_object('status', 'error',
								  'reply', 'That message is too long for me (2000 characters at most).');
	ELSE
		res := flowdb.intent_act(owner, sender,
			flowdb.intent_analyze(f ->> 'Body') || jsonb_build_object('text', f ->> 'Body'),
			'whatsapp/' || cred_name);
	END IF;
	reply_bp := jsonb_build_object('version', 1, 'name', 'whatsapp reply',
		'trigger', jsonb_build_object('type', 'manual'),
		'nodes', jsonb_build_array(jsonb_build_object('id', 'reply', 'type', 'action',
			'service', 'whatsapp', 'task', 'send_message', 'credential', cred_name,
			'params', jsonb_build_object('to', '{{trigger_data.to}}',
										 'body', '{{trigger_data.body}}'))));
	reply_run := flowdb.enqueue(reply_bp,
		jsonb_build_object('to', sender, 'body', res ->> 'reply'), NULL, owner);
	INSERT INTO flowdb.messages (owner, contact, direction, body, status, run_id)
	VALUES (owner, sender, 'out', res ->> 'reply', 'queued', reply_run);
	-- the action's own reply step (the link, the payment status): its text
	-- exists once the run renders it (flowdb.workflow_logs input)
	IF res #>> '{analysis,intent}' IN ('CREATE_INVOICE', 'CREATE_PAYMENT_LINK', 'CHECK_PAYMENT')
	   AND res #>> '{analysis,run_id}' IS NOT NULL THEN
		INSERT INTO flowdb.messages (owner, contact, direction, body, status, run_id)
		VALUES (owner, sender, 'out', NULL, 'queued', (res #>> '{analysis,run_id}')::uuid);
	END IF;
	RETURN jsonb_build_object('status', 'ok', 'event', 'whatsapp.message.received',
							  'runs', to_jsonb(runs), 'assistant', res,
							  'reply_run_id', reply_run);
END
$$;

-- whatsapp_webhook: POST /rpc/whatsapp_webhook, a Twilio delivery as one
-- JSON argument (an object of the form's fields, or the raw form string);
-- answers JSON (see whatsapp_twiml_webhook for a TwiML answer)
CREATE FUNCTION public.whatsapp_webhook(json) RETURNS jsonb
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT flowdb.whatsapp_receive(flowdb.form_fields($1), '/rpc/whatsapp_webhook') $$;


REVOKE ALL ON FUNCTION flowdb.intent_analyze(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.intent_required(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.intent_question(text, text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.intent_clean_entities(jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.intent_slot(text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.intent_summary(text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.intent_needs_confirmation(text, text, jsonb, numeric) FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.confirm_threshold(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.intent_result(text, text, jsonb, text, jsonb, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.intent_action_blueprint(text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.intent_execute(text, text, jsonb, jsonb, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.intent_whatsapp_followup(jsonb, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.intent_act(text, text, jsonb, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.contact_names(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.url_decode(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.form_fields(json) FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.twilio_signature(text, jsonb, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.phone_digits(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.whatsapp_receive(jsonb, text) FROM PUBLIC;
-- intent_parse acts in the caller's name: signed-in users and the service
-- only, never anon (Supabase roles, when they exist at install time)

------------------------------------------------------------------------
-- Fairness and back-pressure (many owners on one queue)
------------------------------------------------------------------------

-- the worker's claim walks the owners with unfinished runs through this
-- index (one descent per owner) and takes each owner's oldest due runs in
-- turn; flowdb.check_backlog counts an owner's unfinished runs with it
CREATE INDEX runs_owner_due ON flowdb.runs (owner, next_at, id)
	WHERE finished_at IS NULL;

-- flowdb.check_backlog: refuse (53400) adding new runs for an owner when
-- that would pass flowdb.max_queued_per_owner unfinished runs (queued,
-- running or waiting).  Counts at most limit rows
-- (index-only on runs_owner_due), so its cost is bounded by the limit and
-- paid in full only by owners near it.  Runs queued earlier in the same
-- transaction count, so a statement that would start several runs for an
-- owner at the limit fails as a whole; concurrent transactions of one
-- owner may overshoot the limit by their own inserts.
CREATE FUNCTION flowdb.check_backlog(owner text, adding integer DEFAULT 1) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	cap integer := coalesce(nullif(current_setting('flowdb.max_queued_per_owner', true), ''), '10000')::integer;
	n bigint;
BEGIN
	IF cap <= 0 THEN
		RETURN;
	END IF;
	SELECT count(*) INTO n
	FROM (SELECT 1 FROM flowdb.runs r
		  WHERE r.owner = owner AND r.finished_at IS NULL
		  LIMIT cap) x;
	IF n + adding > cap THEN
		RAISE EXCEPTION 'too many unfinished runs for owner "%"', owner
			USING ERRCODE = 'configuration_limit_exceeded',
				  DETAIL = format('%s%s unfinished (queued, running or waiting); %s more would pass flowdb.max_queued_per_owner = %s.',
								  CASE WHEN n >= cap THEN 'at least ' ELSE '' END, n, adding, cap),
				  HINT = 'Wait for runs to finish or cancel some (flow_cancel), then try again; an administrator can raise flowdb.max_queued_per_owner.';
	END IF;
END
$$;

------------------------------------------------------------------------
-- Per-owner webhooks: a delivery goes to the owner whose credential names
-- the provider account in the signed payload, verified with that owner's
-- secret.  Owner '*' holds server-wide credentials (single-shop installs).
------------------------------------------------------------------------

-- flowdb.webhook_owner: candidate credentials for a delivery of service
-- whose payload names account value in field: every owner's credential
-- whose secret has field = value, then the server-wide ('*') ones that
-- name that value or no account at all.  field NULL: every credential of
-- the service (Slack's url_verification names no team).  Generic: the
-- Razorpay, Slack and Twilio webhooks all route through it.
CREATE FUNCTION flowdb.webhook_owner(service text, field text, value text)
RETURNS TABLE (owner text, secret jsonb)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT c.owner, s.secret
	FROM flowdb.credentials c,
		 LATERAL (SELECT coalesce(c.secret,
								  flowdb.credential_secret(c.owner, c.service, c.name)) AS secret) s
	WHERE c.service = webhook_owner.service
	  AND (webhook_owner.field IS NULL
		   OR (c.owner <> '*' AND s.secret ->> webhook_owner.field = webhook_owner.value)
		   OR (c.owner = '*' AND (s.secret ->> webhook_owner.field IS NULL
								  OR s.secret ->> webhook_owner.field = webhook_owner.value)))
	ORDER BY c.owner = '*', c.owner, c.name
$$;

-- flowdb.webhook_verify: the owners a delivery belongs to: those whose
-- candidate credential (flowdb.webhook_owner) holds a secret_field that
-- signs signed (HMAC-SHA256, hex, after prefix) to signature.  '{*}' when
-- no owner's credential names the account and a server-wide credential
-- verifies it (the event then goes to every owner); '{}' when nobody does.
CREATE FUNCTION flowdb.webhook_verify(service text, field text, value text, secret_field text,
									  signed text, signature text, prefix text)
RETURNS text[]
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	c record;
	k text;
	named boolean := false;
	server boolean := false;
	owners text[] := '{}';
BEGIN
	IF signature IS NULL OR signed IS NULL THEN
		RETURN owners;
	END IF;
	FOR c IN SELECT * FROM flowdb.webhook_owner(service, field, value) LOOP
		IF c.owner <> '*' THEN
			named := true;
		END IF;
		k := c.secret ->> secret_field;
		CONTINUE WHEN k IS NULL OR k = '';
		IF flowdb.safe_equal(prefix || encode(flowdb.hmac(convert_to(signed, 'UTF8'),
														  convert_to(k, 'UTF8'), 'sha256'), 'hex'),
							 signature) THEN
			IF c.owner = '*' THEN
				server := true;
			ELSIF NOT c.owner = ANY (owners) THEN
				owners := owners || c.owner;
			END IF;
		END IF;
	END LOOP;
	IF cardinality(owners) = 0 AND server AND (NOT named OR field IS NULL) THEN
		RETURN '{*}';
	END IF;
	RETURN owners;
END
$$;

-- flowdb.caller_is_admin: is the caller a superuser or service_role (or a
-- role with its privileges)?  Such callers see every owner's numbers
-- (flow_stats) and may write the server-wide owner's credentials.  The
-- role is what SET ROLE chose (PostgREST), else the session user; JWT
-- claims are never trusted for this (any client can set them).
CREATE FUNCTION flowdb.caller_is_admin() RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT EXISTS (
		SELECT 1 FROM pg_catalog.pg_roles r
		WHERE r.rolname = coalesce(nullif(pg_catalog.current_setting('role'), 'none'),
								   session_user::pg_catalog.text)
		  AND (r.rolsuper
			   OR EXISTS (SELECT 1 FROM pg_catalog.pg_roles s
						  WHERE s.rolname = 'service_role'
							AND pg_catalog.pg_has_role(r.oid, s.oid, 'USAGE'))))
$$;

-- flow_set_server_credential: store (or, with NULL, remove) a credential
-- of the server-wide owner '*': webhook secrets of a single-shop install,
-- the llm key every owner without one falls back to; superuser or
-- service_role only
CREATE FUNCTION public.flow_set_server_credential(service text, name text, secret jsonb)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	claims text := current_setting('request.jwt.claims', true);
BEGIN
	IF NOT coalesce(flowdb.caller_is_admin(), false) THEN
		RAISE EXCEPTION 'permission denied to set server-wide credentials'
			USING ERRCODE = 'insufficient_privilege',
				  HINT = 'Call it as a superuser or as service_role; owners use flow_set_credential().';
	END IF;
	IF secret IS NULL THEN
		-- NULL removes it
		DELETE FROM flowdb.credentials c
		WHERE c.owner = '*' AND c.service = flow_set_server_credential.service
		  AND c.name = coalesce(flow_set_server_credential.name, 'default');
		RETURN;
	END IF;
	PERFORM set_config('request.jwt.claims', '{"sub": "*"}', true);
	PERFORM public.flow_set_credential(service, coalesce(name, 'default'), secret);
	PERFORM set_config('request.jwt.claims', coalesce(claims, ''), true);
END
$$;

------------------------------------------------------------------------
-- Event buffer: an event that arrives while its run is held by a worker
-- (busy with another branch) or before the run reaches its wait_event node
-- is kept for flowdb.event_buffer_seconds and matched when the run parks
------------------------------------------------------------------------

CREATE TABLE flowdb.event_buffer (
	id			bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	owner		text,				-- NULL: every owner (server-wide webhook)
	name		text NOT NULL,
	data		jsonb NOT NULL,
	consumed_by uuid[] NOT NULL DEFAULT '{}',	-- runs it already resumed
	created_at	timestamptz NOT NULL DEFAULT now(),
	expires_at	timestamptz NOT NULL
);
CREATE INDEX event_buffer_owner_name ON flowdb.event_buffer (owner, name, id);
CREATE INDEX event_buffer_expires ON flowdb.event_buffer (expires_at);
ALTER TABLE flowdb.event_buffer ENABLE ROW LEVEL SECURITY;

-- flowdb.buffer_event: keep a dispatched event for runs that are not parked
-- on it yet (when an unfinished run of the owner has a wait_event node for
-- it); resumed lists the runs it resumed already
CREATE FUNCTION flowdb.buffer_event(owner text, name text, data jsonb, resumed uuid[])
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	keep interval := coalesce(nullif(current_setting('flowdb.event_buffer_seconds', true), ''),
							  '5min')::interval;
BEGIN
	IF keep <= interval '0' THEN
		RETURN;
	END IF;
	-- only events a run that exists now could still wait for: an unfinished
	-- run of the owner whose blueprint has a wait_event node for it (events
	-- nobody can wait for are not kept, however many are sent)
	IF NOT EXISTS (
		SELECT 1 FROM flowdb.runs r
		WHERE (owner IS NULL OR r.owner = owner)
		  AND r.finished_at IS NULL
		  AND r.blueprint @? '$.nodes[*] ? (@.type == "wait_event")'
		  AND jsonb_path_exists(r.blueprint, '$.nodes[*] ? (@.type == "wait_event" && @.event == $e)',
								jsonb_build_object('e', name))) THEN
		RETURN;
	END IF;
	INSERT INTO flowdb.event_buffer (owner, name, data, consumed_by, expires_at)
	VALUES (owner, name, coalesce(data, '{}'), coalesce(resumed, '{}'), now() + keep);
END
$$;

-- flowdb.match_buffered_events: row trigger on runs, fired when a run
-- parks (status waiting, no lease).  Each of its waiting wait_event nodes
-- takes the oldest unexpired buffered event of the run's owner with that
-- name and matching data that arrived after the run was created and has
-- not resumed this run before.
CREATE FUNCTION flowdb.match_buffered_events() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	k text;
	v jsonb;
	ev flowdb.event_buffer;
BEGIN
	FOR k, v IN SELECT * FROM jsonb_each(coalesce(NEW.state -> 'nodes', '{}')) LOOP
		CONTINUE WHEN v ->> 'status' IS DISTINCT FROM 'waiting' OR v ->> 'event' IS NULL;
		SELECT * INTO ev FROM flowdb.event_buffer e
		WHERE (e.owner = NEW.owner OR e.owner IS NULL)
		  AND e.name = v ->> 'event'
		  AND e.expires_at > now()
		  AND e.created_at >= NEW.created_at
		  AND NOT NEW.id = ANY (e.consumed_by)
		  AND flowdb.event_matches(e.data, v -> 'match')
		ORDER BY e.id
		LIMIT 1
		FOR UPDATE;
		IF FOUND THEN
			PERFORM flowdb.resume_node(NEW.id, k, ev.data);
			UPDATE flowdb.event_buffer SET consumed_by = consumed_by || NEW.id
			WHERE id = ev.id;
		END IF;
	END LOOP;
	RETURN NULL;
END
$$;

CREATE TRIGGER runs_parked AFTER UPDATE OF status, lease_owner ON flowdb.runs
	FOR EACH ROW
	WHEN (NEW.status = 'waiting' AND NEW.lease_owner IS NULL
		  AND (OLD.status IS DISTINCT FROM 'waiting' OR OLD.lease_owner IS NOT NULL))
	EXECUTE FUNCTION flowdb.match_buffered_events();

REVOKE ALL ON FUNCTION flowdb.check_backlog(text, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.webhook_owner(text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.webhook_verify(text, text, text, text, text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.buffer_event(text, text, jsonb, uuid[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.match_buffered_events() FROM PUBLIC;
REVOKE ALL ON FUNCTION public.flow_set_server_credential(text, text, jsonb) FROM PUBLIC;
DO $$
BEGIN
	IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'service_role') THEN
		GRANT EXECUTE ON FUNCTION public.flow_set_server_credential(text, text, jsonb) TO service_role;
	END IF;
END
$$;
REVOKE ALL ON FUNCTION flowdb.dispatch_event(text, text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.accept_delivery(text, text, text, jsonb, text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.resume_node(uuid, text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.fire_schedules() FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.set_active(uuid, boolean) FROM PUBLIC;

------------------------------------------------------------------------
-- Observability (flow_stats) and Realtime (flowdb.realtime_enable)
------------------------------------------------------------------------

-- flow_stats reads the step log by time: a BRIN index on finished_at costs
-- next to nothing per insert (rows arrive in time order) and bounds the
-- scan to the last hour's pages.
CREATE INDEX workflow_logs_finished ON flowdb.workflow_logs USING brin (finished_at);

-- Replica identity for Realtime.  Realtime filters INSERT and UPDATE events
-- on the new row, which always carries run_id and owner (small columns,
-- never TOASTed).  What the default identity (the primary key) lacks is
-- those columns in the old key of DELETEs (pruning, retention) and UPDATEs,
-- so a subscriber cannot tell whose row went away.  REPLICA IDENTITY FULL
-- would log the whole old row, blueprint and state included, at every step
-- of every run: twice the WAL for one filter column.  A unique index on the
-- primary key plus owner (and run_id for the log) gives the old key exactly
-- the filter columns; neither column ever changes, so updates of runs stay
-- HOT.  The log needs no extra index: workflow_logs_run (run_id, id, owner),
-- which serves the lookups by run, is that index.
CREATE UNIQUE INDEX runs_identity ON flowdb.runs (id, owner);
ALTER TABLE flowdb.runs REPLICA IDENTITY USING INDEX runs_identity;
ALTER TABLE flowdb.workflow_logs REPLICA IDENTITY USING INDEX workflow_logs_run;
-- clients follow their draft rows (flowdb.workflows) and the messages
-- screen (flowdb.messages) the same way, filtered by owner
CREATE UNIQUE INDEX workflows_identity ON flowdb.workflows (id, owner);
ALTER TABLE flowdb.workflows REPLICA IDENTITY USING INDEX workflows_identity;
CREATE UNIQUE INDEX messages_identity ON flowdb.messages (id, owner);
ALTER TABLE flowdb.messages REPLICA IDENTITY USING INDEX messages_identity;

-- flowdb.worker_health: the flowdb.workers workers of this database, by
-- number, with whether each is alive: a process serves as it and went
-- round its loop recently (within three scan intervals, at least 10 s).  A
-- worker the launcher could not start (flowdb.max_workers or
-- max_worker_processes reached, flowdb.database_name naming another
-- database) has no process and shows as not alive.
CREATE FUNCTION flowdb.worker_health(OUT slot integer, OUT pid integer,
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
CREATE FUNCTION public.flow_stats() RETURNS jsonb
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
	WHERE r.finished_at IS NULL AND (everyone OR r.owner = me);

	SELECT round(count(*) / 5.0, 1) INTO spm
	FROM flowdb.workflow_logs l
	WHERE l.finished_at >= now() - interval '5 minutes'
	  AND l.status IN ('succeeded', 'failed', 'retrying')
	  AND (everyone OR l.owner = me);

	SELECT coalesce(jsonb_object_agg(f.service, f.n), '{}') INTO failures
	-- (a map's items: the service of its "do")
	FROM (SELECT coalesce(jsonb_path_query_first(r.blueprint,
								'$.nodes[*] ? (@.id == $id).service',
								jsonb_build_object('id', l.node_id)) #>> '{}',
						  jsonb_path_query_first(r.blueprint,
								'$.nodes[*] ? (@.id == $id).do.service',
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
		  WHERE r.finished_at IS NULL AND (everyone OR r.owner = me)
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

-- flowdb.realtime_tables: the tables Realtime streams, those that exist
-- (flowdb.messages arrives with the WhatsApp inbox).  Add a table here to
-- stream it.
CREATE FUNCTION flowdb.realtime_tables() RETURNS regclass[]
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT coalesce(array_agg(c ORDER BY t.ord), '{}')
	FROM unnest(ARRAY['flowdb.workflow_logs', 'flowdb.runs', 'flowdb.workflows',
					  'flowdb.messages'])
		 WITH ORDINALITY AS t(name, ord),
		 LATERAL pg_catalog.to_regclass(t.name) AS c
	WHERE c IS NOT NULL
$$;

-- flowdb.realtime_enable: add the Realtime tables missing from a
-- publication (default supabase_realtime) in one ALTER PUBLICATION;
-- returns the tables added.  A publication FOR ALL TABLES already has them.
-- Raises 42704 when the publication does not exist.
CREATE FUNCTION flowdb.realtime_enable(publication name DEFAULT 'supabase_realtime')
RETURNS regclass[]
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	p pg_catalog.pg_publication;
	missing regclass[];
BEGIN
	SELECT * INTO p FROM pg_catalog.pg_publication WHERE pubname = publication;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'publication "%" does not exist', publication
			USING ERRCODE = 'undefined_object',
				  HINT = 'Enable Realtime in the project (it creates supabase_realtime), or CREATE PUBLICATION first.';
	END IF;
	IF p.puballtables THEN
		RETURN '{}';
	END IF;
	SELECT coalesce(array_agg(t ORDER BY t.ord), '{}') INTO missing
	FROM unnest(flowdb.realtime_tables()) WITH ORDINALITY AS t(t, ord)
	WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_publication_rel pr
					  WHERE pr.prpubid = p.oid AND pr.prrelid = t.t);
	IF cardinality(missing) > 0 THEN
		EXECUTE format('ALTER PUBLICATION %I ADD TABLE %s', publication,
					   (SELECT string_agg(m::text, ', ') FROM unnest(missing) AS m));
	END IF;
	RETURN missing;
END
$$;

-- flowdb.realtime_on_create: event trigger at CREATE PUBLICATION; when the
-- new publication is supabase_realtime, join it (as the extension owner:
-- whoever creates the publication need not own flowdb's tables).  Only
-- CREATE reacts: ALTER PUBLICATION ... DROP/SET TABLE is an administrator
-- choosing tables (the dashboard's Realtime switch) and is left alone.  A
-- failure is a WARNING: it never undoes the CREATE PUBLICATION.  Only a
-- publication owned by a superuser or by a member of the role owning
-- flowdb's tables is joined: any role with CREATE on the database could
-- otherwise create "supabase_realtime" first and have every tenant's rows
-- published under its name.
CREATE FUNCTION flowdb.realtime_on_create() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	owner_ok boolean;
BEGIN
	IF EXISTS (SELECT 1 FROM pg_catalog.pg_event_trigger_ddl_commands() c
			   WHERE c.object_type = 'publication'
				 AND c.object_identity = 'supabase_realtime') THEN
		SELECT r.rolsuper OR pg_catalog.pg_has_role(p.pubowner, c.relowner, 'MEMBER')
		INTO owner_ok
		FROM pg_catalog.pg_publication p
		JOIN pg_catalog.pg_roles r ON r.oid = p.pubowner
		CROSS JOIN pg_catalog.pg_class c
		WHERE p.pubname = 'supabase_realtime' AND c.oid = 'flowdb.runs'::pg_catalog.regclass;
		IF NOT coalesce(owner_ok, false) THEN
			RAISE WARNING 'flowdb did not add its tables to supabase_realtime: its owner does not own them'
				USING HINT = 'If this publication is the one Realtime uses, run SELECT flowdb.realtime_enable(); as the owner of the extension.';
			RETURN;
		END IF;
		BEGIN
			PERFORM flowdb.realtime_enable('supabase_realtime');
		EXCEPTION WHEN OTHERS THEN
			RAISE WARNING 'flowdb could not add its tables to supabase_realtime: %', SQLERRM
				USING HINT = 'Run SELECT flowdb.realtime_enable(); as the owner of the extension.';
		END;
	END IF;
END
$$;

CREATE EVENT TRIGGER flowdb_realtime ON ddl_command_end
	WHEN TAG IN ('CREATE PUBLICATION')
	EXECUTE FUNCTION flowdb.realtime_on_create();

REVOKE ALL ON FUNCTION flowdb.caller_is_admin() FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.worker_health() FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.realtime_tables() FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.realtime_enable(name) FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.realtime_on_create() FROM PUBLIC;

------------------------------------------------------------------------
-- WhatsApp TwiML answer (whatsapp_twiml_webhook): POST /rpc/whatsapp_twiml_webhook
------------------------------------------------------------------------
-- Twilio posts application/x-www-form-urlencoded and wants a TwiML
-- (text/xml) answer.  PostgREST 12 passes a form body to a function only
-- as named arguments (a single unnamed json argument is matched for
-- application/json bodies alone), so whatsapp_twiml_webhook names every field
-- Twilio documents for inbound WhatsApp messages, each optional; a field
-- it does not name makes PostgREST answer 404 (PGRST202) with nothing
-- written.  It answers through PostgREST's "any" media type handler: the
-- domain "*/*" (matched by name, whatever its schema) makes PostgREST
-- send the bytes as they are with the Content-Type set in
-- response.headers, whatever the request's Accept header (Twilio sends
-- Accept: */*).  docs/assistant.md describes the setup.
CREATE DOMAIN flowdb."*/*" AS bytea;

-- whatsapp_twiml_webhook: a Twilio WhatsApp delivery (the form's fields as named
-- arguments), signed for flowdb.public_url + /rpc/whatsapp_twiml_webhook; does
-- what whatsapp_webhook does and answers an empty TwiML <Response/> as
-- text/xml (replies go out through whatsapp.send_message runs).
CREATE FUNCTION public.whatsapp_twiml_webhook(
	"AccountSid" text DEFAULT NULL,
	"ApiVersion" text DEFAULT NULL,
	"Body" text DEFAULT NULL,
	"From" text DEFAULT NULL,
	"To" text DEFAULT NULL,
	"MessageSid" text DEFAULT NULL,
	"SmsMessageSid" text DEFAULT NULL,
	"SmsSid" text DEFAULT NULL,
	"SmsStatus" text DEFAULT NULL,
	"MessagingServiceSid" text DEFAULT NULL,
	"NumMedia" text DEFAULT NULL,
	"NumSegments" text DEFAULT NULL,
	"ProfileName" text DEFAULT NULL,
	"WaId" text DEFAULT NULL,
	"MessageType" text DEFAULT NULL,
	"ChannelMetadata" text DEFAULT NULL,
	"Forwarded" text DEFAULT NULL,
	"FrequentlyForwarded" text DEFAULT NULL,
	"ButtonText" text DEFAULT NULL,
	"ButtonPayload" text DEFAULT NULL,
	"Latitude" text DEFAULT NULL,
	"Longitude" text DEFAULT NULL,
	"Address" text DEFAULT NULL,
	"Label" text DEFAULT NULL,
	"OriginalRepliedMessageSender" text DEFAULT NULL,
	"OriginalRepliedMessageSid" text DEFAULT NULL,
	"ReferralBody" text DEFAULT NULL,
	"ReferralHeadline" text DEFAULT NULL,
	"ReferralSourceId" text DEFAULT NULL,
	"ReferralSourceType" text DEFAULT NULL,
	"ReferralSourceUrl" text DEFAULT NULL,
	"ReferralMediaId" text DEFAULT NULL,
	"ReferralMediaContentType" text DEFAULT NULL,
	"ReferralMediaUrl" text DEFAULT NULL,
	"ReferralNumMedia" text DEFAULT NULL,
	"ReferralCtwaClid" text DEFAULT NULL,
	"FromCity" text DEFAULT NULL,
	"FromState" text DEFAULT NULL,
	"FromZip" text DEFAULT NULL,
	"FromCountry" text DEFAULT NULL,
	"ToCity" text DEFAULT NULL,
	"ToState" text DEFAULT NULL,
	"ToZip" text DEFAULT NULL,
	"ToCountry" text DEFAULT NULL,
	"MediaContentType0" text DEFAULT NULL,
	"MediaContentType1" text DEFAULT NULL,
	"MediaContentType2" text DEFAULT NULL,
	"MediaContentType3" text DEFAULT NULL,
	"MediaContentType4" text DEFAULT NULL,
	"MediaContentType5" text DEFAULT NULL,
	"MediaContentType6" text DEFAULT NULL,
	"MediaContentType7" text DEFAULT NULL,
	"MediaContentType8" text DEFAULT NULL,
	"MediaContentType9" text DEFAULT NULL,
	"MediaUrl0" text DEFAULT NULL,
	"MediaUrl1" text DEFAULT NULL,
	"MediaUrl2" text DEFAULT NULL,
	"MediaUrl3" text DEFAULT NULL,
	"MediaUrl4" text DEFAULT NULL,
	"MediaUrl5" text DEFAULT NULL,
	"MediaUrl6" text DEFAULT NULL,
	"MediaUrl7" text DEFAULT NULL,
	"MediaUrl8" text DEFAULT NULL,
	"MediaUrl9" text DEFAULT NULL)
RETURNS flowdb."*/*"
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM flowdb.whatsapp_receive(jsonb_strip_nulls(
		jsonb_build_object(
			'AccountSid', "AccountSid",
			'ApiVersion', "ApiVersion",
			'Body', "Body",
			'From', "From",
			'To', "To",
			'MessageSid', "MessageSid",
			'SmsMessageSid', "SmsMessageSid",
			'SmsSid', "SmsSid",
			'SmsStatus', "SmsStatus",
			'MessagingServiceSid', "MessagingServiceSid",
			'NumMedia', "NumMedia",
			'NumSegments', "NumSegments",
			'ProfileName', "ProfileName",
			'WaId', "WaId",
			'MessageType', "MessageType",
			'ChannelMetadata', "ChannelMetadata",
			'Forwarded', "Forwarded",
			'FrequentlyForwarded', "FrequentlyForwarded",
			'ButtonText', "ButtonText",
			'ButtonPayload', "ButtonPayload",
			'Latitude', "Latitude",
			'Longitude', "Longitude",
			'Address', "Address",
			'Label', "Label",
			'OriginalRepliedMessageSender', "OriginalRepliedMessageSender")
		|| jsonb_build_object(
			'OriginalRepliedMessageSid', "OriginalRepliedMessageSid",
			'ReferralBody', "ReferralBody",
			'ReferralHeadline', "ReferralHeadline",
			'ReferralSourceId', "ReferralSourceId",
			'ReferralSourceType', "ReferralSourceType",
			'ReferralSourceUrl', "ReferralSourceUrl",
			'ReferralMediaId', "ReferralMediaId",
			'ReferralMediaContentType', "ReferralMediaContentType",
			'ReferralMediaUrl', "ReferralMediaUrl",
			'ReferralNumMedia', "ReferralNumMedia",
			'ReferralCtwaClid', "ReferralCtwaClid",
			'FromCity', "FromCity",
			'FromState', "FromState",
			'FromZip', "FromZip",
			'FromCountry', "FromCountry",
			'ToCity', "ToCity",
			'ToState', "ToState",
			'ToZip', "ToZip",
			'ToCountry', "ToCountry",
			'MediaContentType0', "MediaContentType0",
			'MediaContentType1', "MediaContentType1",
			'MediaContentType2', "MediaContentType2",
			'MediaContentType3', "MediaContentType3",
			'MediaContentType4', "MediaContentType4",
			'MediaContentType5', "MediaContentType5")
		|| jsonb_build_object(
			'MediaContentType6', "MediaContentType6",
			'MediaContentType7', "MediaContentType7",
			'MediaContentType8', "MediaContentType8",
			'MediaContentType9', "MediaContentType9",
			'MediaUrl0', "MediaUrl0",
			'MediaUrl1', "MediaUrl1",
			'MediaUrl2', "MediaUrl2",
			'MediaUrl3', "MediaUrl3",
			'MediaUrl4', "MediaUrl4",
			'MediaUrl5', "MediaUrl5",
			'MediaUrl6', "MediaUrl6",
			'MediaUrl7', "MediaUrl7",
			'MediaUrl8', "MediaUrl8",
			'MediaUrl9', "MediaUrl9")),
		'/rpc/whatsapp_twiml_webhook');
	PERFORM set_config('response.headers',
		'[{"Content-Type": "text/xml; charset=utf-8"}]', true);
	RETURN convert_to('<?xml version="1.0" encoding="UTF-8"?><Response/>', 'UTF8')::flowdb."*/*";
END
$$;

------------------------------------------------------------------------
-- Dry runs: a run in sandbox whatever flowdb.sandbox says
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
		RAISE EXCEPTION 'workflow_id must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF sandbox IS NULL THEN
		RAISE EXCEPTION 'sandbox must not be null' USING ERRCODE = 'null_value_not_allowed',
			HINT = 'true: every run of the workflow is a dry run; false: runs send their requests.';
	END IF;
	SELECT w.sandbox INTO was FROM flowdb.workflows w
	WHERE w.id = flow_set_sandbox.workflow_id AND w.owner = flowdb.current_owner()
	FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'workflow % not found', workflow_id USING ERRCODE = 'no_data_found';
	END IF;
	UPDATE flowdb.workflows w SET sandbox = flow_set_sandbox.sandbox, updated_at = now()
	WHERE w.id = flow_set_sandbox.workflow_id;
	RETURN was IS DISTINCT FROM sandbox;
END
$$;

-- Function comments: PostgREST shows them in its OpenAPI description
-- (first line: summary; after a blank line: description).  Every
-- function in schema public has one (sql/140_comments.sql checks), and so
-- do the helpers docs/sql.md documents ("Internal helpers").
------------------------------------------------------------------------

COMMENT ON FUNCTION public.flow_catalog() IS
'The services, tasks, parameters and events blueprints may use

Returns the catalog as JSON: every service with its tasks, their parameters and the credential fields they need, and the events triggers can name.';
COMMENT ON FUNCTION public.flow_validate(jsonb) IS
'Check a blueprint without running it

Returns {"valid": true|false, "errors": [...]}; never raises for a bad blueprint.';
COMMENT ON FUNCTION public.flow_execute(jsonb, jsonb, boolean) IS
'Validate a blueprint and queue a run of it

Returns the run id.  payload becomes the run''s trigger_data.  sandbox => true makes it a dry run: every request is recorded in flowdb.outbox instead of sent, whatever the server''s flowdb.sandbox.  Raises 22023 for an invalid blueprint, 54000 when it or the payload is too large, 53400 when the caller has too many queued runs.';
COMMENT ON FUNCTION public.flow_save(jsonb, boolean) IS
'Validate and save a workflow

Returns its id.  An active workflow''s trigger (event, webhook, schedule, table) starts runs; flow_run starts one by hand.';
COMMENT ON FUNCTION public.flow_run(uuid, jsonb, boolean) IS
'Queue a run of one of the caller''s saved workflows

Returns the run id; payload becomes the run''s trigger_data.  Works for drafts (inactive workflows).  sandbox => true, or the workflow''s flag (flow_set_sandbox), makes it a dry run: every request is recorded in flowdb.outbox instead of sent.';
COMMENT ON FUNCTION public.flow_set_sandbox(uuid, boolean) IS
'Make every run of one of the caller''s workflows a dry run (or, with false, live again)

However a run starts (flow_run, events, webhooks, table triggers, schedules), its requests are recorded in flowdb.outbox instead of sent.  Runs already queued keep their flag.  Returns true when the flag changed.';
COMMENT ON FUNCTION public.flow_status(uuid) IS
'A run of the caller with its node states and step log

Returns status, error, output, timestamps, "progress" (every node of the blueprint in order: pending, running since, retrying, waiting, skipped, succeeded or failed, with attempts and durations), the state of every node and the log rows (started rows included), as JSON.';
COMMENT ON FUNCTION public.flow_cancel(uuid) IS
'Stop one of the caller''s runs that has not finished

Returns true when it was canceled, false when it had already finished.';
COMMENT ON FUNCTION public.flow_retry(uuid, boolean) IS
'Resume a failed run from its failed step

Completed steps keep their outputs; returns the run id.  use_current_blueprint => true continues with the saved workflow''s current blueprint (after a fix): succeeded steps whose node id still exists are kept, the others run again.';
COMMENT ON FUNCTION public.flow_set_credential(text, text, jsonb) IS
'Store (or replace) a credential of the caller

service and name identify it (name defaults to "default" in blueprints); secret holds the fields the service needs, or {"vault_secret_id": "<uuid>"} to keep them in Supabase Vault.  Values are never shown again.';
COMMENT ON FUNCTION public.flow_delete_credential(text, text) IS
'Forget a credential of the caller

Returns true when one existed.';
COMMENT ON FUNCTION public.flow_list_credentials() IS
'The caller''s credentials: service, name and field names, never values';
COMMENT ON FUNCTION public.flow_activate(uuid) IS
'Let a saved workflow''s trigger start runs

Returns true when the workflow changed.';
COMMENT ON FUNCTION public.flow_deactivate(uuid) IS
'Stop a saved workflow''s trigger from starting runs

Returns true when the workflow changed.';
COMMENT ON FUNCTION public.flow_send_event(text, jsonb) IS
'Deliver an event for the caller

Starts the caller''s active workflows triggered by it and resumes their runs waiting for it (wait_event nodes); returns the ids of the runs started or resumed.';
COMMENT ON FUNCTION public.flow_approve(uuid, text, jsonb) IS
'Resume one waiting node of the caller''s run (human approval)

data becomes the node''s output; returns true.  Raises P0002 for an unknown run, 55000 when the node is not waiting.';
COMMENT ON FUNCTION public.flow_trigger() IS
'Row trigger function: queue a run of the workflow named by the trigger argument

The row becomes trigger_data; the run is queued inside the inserting transaction and rolled back with it.';
COMMENT ON FUNCTION public.razorpay_webhook(json) IS
'Razorpay webhook endpoint (POST /rpc/razorpay_webhook)

Verifies X-Razorpay-Signature with the webhook_secret of the owner whose razorpay credential names the delivery''s account, drops repeats and stale deliveries, and delivers event razorpay.<event> to that owner.';
COMMENT ON FUNCTION public.slack_webhook(json) IS
'Slack Events API endpoint (POST /rpc/slack_webhook)

Verifies X-Slack-Signature with the signing_secret of the owner whose slack credential names the team, answers url_verification, and delivers event slack.<type> to that owner.';
COMMENT ON FUNCTION public.flow_draft(text, text) IS
'Draft a workflow from plain language

Returns the id of the saved draft, inactive until flow_activate; follow flowdb.workflows (draft_status, blueprint, warnings) for the result.';
COMMENT ON FUNCTION public.flow_set_assistant(numeric) IS
'Set the caller''s confirmation threshold in rupees

Commands above it ask for confirmation first; NULL goes back to the server default.  Returns the threshold now in force.';
COMMENT ON FUNCTION public.intent_parse(text, bytea, text) IS
'Understand a typed or spoken command and act on it

Returns {status, reply, analysis}: status is done, needs_input (reply is a question: answer with the same session_id), processing (the result will be in run analysis.run_id) or error.';
COMMENT ON FUNCTION public.whatsapp_webhook(json) IS
'Twilio WhatsApp webhook endpoint answering JSON (POST /rpc/whatsapp_webhook)

Verifies X-Twilio-Signature, treats the message as a command of the owner whose number it is sent to, and replies through a whatsapp.send_message run.';
COMMENT ON FUNCTION public.flow_set_server_credential(text, text, jsonb) IS
'Store (or with NULL remove) a server-wide credential (owner "*")

Webhook secrets of a single-shop install, and the llm key owners without their own fall back to.  Superuser or service_role only.';
COMMENT ON FUNCTION public.flow_stats() IS
'Load and health of the engine

Runs by state, steps per minute, failed attempts by service, step latency percentiles, backlog per owner and the workers.  A caller sees their own runs; service_role and superusers see every owner.';
DO $$
BEGIN
	-- one argument per Twilio form field: named by its only oid
	EXECUTE pg_catalog.format('COMMENT ON FUNCTION %s IS %L',
		'public.whatsapp_twiml_webhook'::pg_catalog.regproc::pg_catalog.regprocedure,
		'Twilio WhatsApp webhook endpoint answering TwiML (POST /rpc/whatsapp_twiml_webhook)

Takes the form''s fields as named arguments, does what whatsapp_webhook does and answers an empty TwiML <Response/> as text/xml.');
END
$$;

COMMENT ON FUNCTION flowdb.current_owner() IS
'The owner the RPC functions use for the caller: the JWT sub, else the role chosen by SET ROLE, else the session user';
COMMENT ON FUNCTION flowdb.blueprint_errors(jsonb) IS
'The validation problems of a blueprint (what flow_validate wraps)';
COMMENT ON FUNCTION flowdb.check_blueprint(jsonb) IS
'Raise 22023 or 54000 for a blueprint flow_execute would refuse';
COMMENT ON FUNCTION flowdb.check_payload(jsonb) IS
'Raise 54000 when a payload is over flowdb.max_payload_bytes';
COMMENT ON FUNCTION flowdb.render(jsonb, jsonb) IS
'Render the templates in a value against a context such as {"trigger_data": ..., "steps": ...}';
COMMENT ON FUNCTION flowdb.eval_condition(jsonb, jsonb) IS
'Validate and evaluate a condition against a context';
COMMENT ON FUNCTION flowdb.cron_matches(text, timestamp with time zone) IS
'Does a cron expression match that minute (UTC)?';
COMMENT ON FUNCTION flowdb.event_matches(jsonb, jsonb) IS
'The wait_event match test: does every dotted path of match have that value in the event data?';
COMMENT ON FUNCTION flowdb.hmac(bytea, bytea, text) IS
'HMAC of data with key; algorithm sha1 or sha256';
COMMENT ON FUNCTION flowdb.safe_equal(text, text) IS
'Constant-time text comparison (signatures)';
COMMENT ON FUNCTION flowdb.request_header(text) IS
'A header of the current PostgREST request, NULL outside one';
COMMENT ON FUNCTION flowdb.require_preload() IS
'Raise 55000 unless flowdb was loaded through shared_preload_libraries (the install script calls it first)';
COMMENT ON FUNCTION flowdb.worker_info() IS
'Each background worker of every database: slot, pid, claimed, steps, commits, wakeups, heartbeat, starts, database, worker number';
COMMENT ON FUNCTION flowdb.worker_health() IS
'Health of the workers of this database, by number: pid, alive, heartbeat, restarts, claimed, steps';
COMMENT ON FUNCTION flowdb.realtime_tables() IS
'The tables Supabase Realtime streams (those that exist)';
COMMENT ON FUNCTION flowdb.realtime_enable(name) IS
'Add the Realtime tables missing from a publication (default supabase_realtime); returns those added';
COMMENT ON FUNCTION flowdb.prune(interval) IS
'Delete finished runs older than older_than (default flowdb.retention_days); returns how many';
COMMENT ON FUNCTION flowdb.draft_offline(text) IS
'Draft a blueprint from plain language with the offline drafter, without saving';
COMMENT ON FUNCTION flowdb.transcribe_offline(bytea, text[]) IS
'Recognise a spoken command in a WAV file (pocketsphinx, flowdb''s command grammar plus phrases)';
COMMENT ON FUNCTION flowdb.speech_grammar(text[]) IS
'The JSGF grammar transcribe_offline uses with these phrases';

------------------------------------------------------------------------
-- Versions, edits, deletion and failure handlers (docs/sql.md,
-- "Editing workflows"; docs/blueprint.md, "Failure paths")
--
-- Every blueprint a workflow has had is a row of flowdb.workflow_versions
-- (append-only; flow_rollback copies an old one as a new version).  The
-- rows are written by triggers on flowdb.workflows, so flow_save, drafts,
-- flow_update and flow_rollback all record them the same way.  A run
-- keeps the copy of the blueprint it was queued with (flowdb.runs.blueprint)
-- and records its number in flowdb.runs.workflow_version.
------------------------------------------------------------------------

ALTER TABLE flowdb.workflows
	ADD COLUMN version integer NOT NULL DEFAULT 0;	-- current version, 0 = none yet
ALTER TABLE flowdb.runs
	ADD COLUMN workflow_version integer,	-- the version the run executes
	-- the run whose failure started this one (on_failure); such a run's
	-- own failure starts no handler
	ADD COLUMN failure_of uuid;

CREATE TABLE flowdb.workflow_versions (
	-- deferred: the row is written by a BEFORE trigger on its workflow
	workflow_id uuid NOT NULL REFERENCES flowdb.workflows (id) ON DELETE CASCADE
		DEFERRABLE INITIALLY DEFERRED,
	version		integer NOT NULL CHECK (version >= 1),
	owner		text NOT NULL,
	name		text NOT NULL,
	blueprint	jsonb NOT NULL,
	restored_from integer,			-- flow_rollback: the version copied
	created_at	timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (workflow_id, version)
);
CREATE INDEX workflow_versions_owner ON flowdb.workflow_versions (owner);
ALTER TABLE flowdb.workflow_versions ENABLE ROW LEVEL SECURITY;
CREATE POLICY workflow_versions_owner ON flowdb.workflow_versions
	USING (owner = flowdb.current_owner());
GRANT SELECT ON flowdb.workflow_versions TO PUBLIC;

-- workflows saved before versions existed: their blueprint is version 1
UPDATE flowdb.workflows SET version = 1 WHERE blueprint IS NOT NULL;
INSERT INTO flowdb.workflow_versions (workflow_id, version, owner, name, blueprint, created_at)
SELECT w.id, 1, w.owner, w.name, w.blueprint, w.updated_at
FROM flowdb.workflows w WHERE w.blueprint IS NOT NULL;

-- flowdb.find_workflow: an owner's saved workflow by id or by name (the
-- most recently created of that name); NULL id when there is none.
-- *matches gets how many workflows the reference names.
CREATE FUNCTION flowdb.find_workflow(owner text, ref text, OUT w flowdb.workflows,
									 OUT matches integer)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
BEGIN
	matches := 0;
	IF ref ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
		SELECT * INTO w FROM flowdb.workflows x
		WHERE x.id = ref::uuid AND x.owner = owner;
		IF FOUND THEN
			matches := 1;
			RETURN;
		END IF;
	END IF;
	SELECT count(*) INTO matches FROM flowdb.workflows x
	WHERE x.owner = owner AND x.name = ref;
	SELECT * INTO w FROM flowdb.workflows x
	WHERE x.owner = owner AND x.name = ref
	ORDER BY x.created_at DESC, x.id LIMIT 1;
END
$$;

-- flowdb.check_on_failure: the on_failure target of a workflow being
-- saved must be another saved workflow of its owner, named unambiguously;
-- raises 22023 like an invalid blueprint otherwise
CREATE FUNCTION flowdb.check_on_failure(owner text, self_id uuid, self_name text,
										blueprint jsonb)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	ref text := blueprint #>> '{on_failure,workflow}';
	f record;
	problem text;
BEGIN
	IF ref IS NULL THEN
		RETURN;
	END IF;
	f := flowdb.find_workflow(owner, ref);
	IF ref = self_id::text OR ref = self_name OR (f.w).id = self_id THEN
		problem := 'a workflow cannot be its own on_failure handler';
	ELSIF f.matches = 0 THEN
		problem := format('no saved workflow "%s" of this owner', left(ref, 100));
	ELSIF f.matches > 1 THEN
		problem := format('%s workflows are named "%s": name the handler by id', f.matches, left(ref, 100));
	END IF;
	IF problem IS NOT NULL THEN
		RAISE EXCEPTION 'invalid blueprint: 1 problem'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = '$.on_failure.workflow: ' || problem,
				  HINT = 'Save the handler workflow first; see docs/blueprint.md, "Failure paths".';
	END IF;
END
$$;

-- flowdb.workflow_new_version: BEFORE INSERT OR UPDATE OF blueprint on
-- flowdb.workflows: a new or changed blueprint is the next version (its
-- on_failure target checked) and is stored in flowdb.workflow_versions
-- (its foreign key is deferred: checked at commit, when the workflow row
-- exists); an identical one changes nothing.  A row inserted
-- with its version already set comes from pg_restore, whose COPY of
-- flowdb.workflow_versions brings the versions: left alone.
CREATE FUNCTION flowdb.workflow_new_version() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF NEW.blueprint IS NULL THEN
		RETURN NEW;
	END IF;
	IF TG_OP = 'UPDATE' THEN
		IF NEW.blueprint IS NOT DISTINCT FROM OLD.blueprint THEN
			RETURN NEW;
		END IF;
		NEW.version := OLD.version + 1;
	ELSIF NEW.version = 0 THEN
		NEW.version := 1;
	ELSE
		RETURN NEW;
	END IF;
	PERFORM flowdb.check_on_failure(NEW.owner, NEW.id, NEW.name, NEW.blueprint);
	INSERT INTO flowdb.workflow_versions (workflow_id, version, owner, name, blueprint)
	VALUES (NEW.id, NEW.version, NEW.owner, NEW.name, NEW.blueprint);
	RETURN NEW;
END
$$;

CREATE TRIGGER workflows_version BEFORE INSERT OR UPDATE OF blueprint ON flowdb.workflows
	FOR EACH ROW EXECUTE FUNCTION flowdb.workflow_new_version();

-- flowdb.run_workflow_version: BEFORE INSERT on flowdb.runs: the number of
-- the version whose blueprint the run was queued with (the current one,
-- unless flow_update committed between the caller's read and the insert)
CREATE FUNCTION flowdb.run_workflow_version() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	SELECT w.version INTO NEW.workflow_version FROM flowdb.workflows w
	WHERE w.id = NEW.workflow_id AND w.blueprint = NEW.blueprint;
	IF NEW.workflow_version IS NULL THEN
		SELECT v.version INTO NEW.workflow_version FROM flowdb.workflow_versions v
		WHERE v.workflow_id = NEW.workflow_id AND v.blueprint = NEW.blueprint
		ORDER BY v.version DESC LIMIT 1;
	END IF;
	RETURN NEW;
END
$$;

CREATE TRIGGER runs_workflow_version BEFORE INSERT ON flowdb.runs
	FOR EACH ROW WHEN (NEW.workflow_id IS NOT NULL AND NEW.workflow_version IS NULL)
	EXECUTE FUNCTION flowdb.run_workflow_version();

-- flowdb.start_failure_handler: AFTER UPDATE OF status on flowdb.runs, for
-- a run that just failed and whose blueprint names an on_failure
-- workflow: queue a run of it in the same transaction, with
-- {run_id, workflow, workflow_id, node, error} as trigger_data (a dry
-- run's handler is a dry run too).  Never
-- raises (the failure must commit): what happened is logged on the failed
-- run as node "$on_failure".
CREATE FUNCTION flowdb.start_failure_handler() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	f record;
	rid uuid;
	ref text := NEW.blueprint #>> '{on_failure,workflow}';
BEGIN
	BEGIN
		f := flowdb.find_workflow(NEW.owner, ref);
		IF (f.w).id IS NULL THEN
			RAISE EXCEPTION 'on_failure workflow "%" not found', left(ref, 100)
				USING ERRCODE = 'no_data_found';
		END IF;
		IF (f.w).blueprint IS NULL THEN
			RAISE EXCEPTION 'on_failure workflow "%" has no blueprint', left(ref, 100)
				USING ERRCODE = 'object_not_in_prerequisite_state';
		END IF;
		rid := flowdb.enqueue((f.w).blueprint,
			jsonb_build_object('run_id', NEW.id, 'workflow', NEW.blueprint ->> 'name',
							   'workflow_id', NEW.workflow_id,
							   'node', NEW.state ->> 'failed_node', 'error', NEW.error),
			(f.w).id, NEW.owner, NEW.sandbox);
		UPDATE flowdb.runs SET failure_of = NEW.id WHERE id = rid;
		INSERT INTO flowdb.workflow_logs (run_id, owner, node_id, status, attempt, output,
										  started_at, finished_at, duration_ms)
		VALUES (NEW.id, NEW.owner, '$on_failure', 'succeeded', 1,
				jsonb_build_object('run_id', rid, 'workflow_id', (f.w).id), now(), now(), 0);
	EXCEPTION WHEN OTHERS THEN
		INSERT INTO flowdb.workflow_logs (run_id, owner, node_id, status, attempt, error,
										  started_at, finished_at, duration_ms)
		VALUES (NEW.id, NEW.owner, '$on_failure', 'failed', 1,
				'on_failure handler not started: ' || left(SQLERRM, 500), now(), now(), 0);
	END;
	RETURN NULL;
END
$$;

CREATE TRIGGER runs_on_failure AFTER UPDATE OF status ON flowdb.runs
	FOR EACH ROW
	WHEN (NEW.status = 'failed' AND OLD.status IS DISTINCT FROM 'failed'
		  AND NEW.failure_of IS NULL AND NEW.blueprint ? 'on_failure')
	EXECUTE FUNCTION flowdb.start_failure_handler();

-- flowdb.own_workflow: lock and return the caller's workflow (P0002 when
-- it is not theirs or does not exist)
CREATE FUNCTION flowdb.own_workflow(workflow_id uuid) RETURNS flowdb.workflows
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	w flowdb.workflows;
BEGIN
	IF workflow_id IS NULL THEN
		RAISE EXCEPTION 'workflow_id must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT * INTO w FROM flowdb.workflows x
	WHERE x.id = own_workflow.workflow_id AND x.owner = flowdb.current_owner()
	FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'workflow % not found', workflow_id USING ERRCODE = 'no_data_found';
	END IF;
	RETURN w;
END
$$;

-- flow_update: save a new version of a workflow (validated like
-- flow_save); returns the version number, the current one when the
-- blueprint is unchanged.  Runs already queued keep the version they
-- started with.
CREATE FUNCTION public.flow_update(workflow_id uuid, blueprint jsonb) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	w flowdb.workflows;
	v integer;
BEGIN
	PERFORM flowdb.refuse_anon();
	IF blueprint IS NULL THEN
		RAISE EXCEPTION 'blueprint must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	w := flowdb.own_workflow(workflow_id);
	IF w.draft_status = 'drafting' THEN
		RAISE EXCEPTION 'workflow % is still being drafted', workflow_id
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'Wait until the draft is ready or failed.';
	END IF;
	PERFORM flowdb.check_blueprint(blueprint);
	-- a failed draft given a blueprint by hand is a ready one
	UPDATE flowdb.workflows x
	SET blueprint = flow_update.blueprint, name = flow_update.blueprint ->> 'name',
		draft_status = CASE WHEN x.draft_status = 'failed' THEN 'ready' ELSE x.draft_status END,
		updated_at = now()
	WHERE x.id = w.id
	RETURNING x.version INTO v;
	RETURN v;
END
$$;

-- flow_versions: the versions of a workflow, newest first
CREATE FUNCTION public.flow_versions(workflow_id uuid)
RETURNS TABLE (version integer, is_current boolean, name text, restored_from integer,
			   created_at timestamptz, blueprint jsonb)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	cur integer;
BEGIN
	SELECT w.version INTO cur FROM flowdb.workflows w
	WHERE w.id = flow_versions.workflow_id AND w.owner = flowdb.current_owner();
	IF NOT FOUND THEN
		RAISE EXCEPTION 'workflow % not found', flow_versions.workflow_id USING ERRCODE = 'no_data_found';
	END IF;
	RETURN QUERY
	SELECT v.version, v.version = cur, v.name, v.restored_from, v.created_at, v.blueprint
	FROM flowdb.workflow_versions v
	WHERE v.workflow_id = flow_versions.workflow_id AND v.owner = flowdb.current_owner()
	ORDER BY v.version DESC;
END
$$;

-- flow_rollback: make an old version current again, as a new version (a
-- copy of it: the history stays append-only); returns the new version's
-- number, or the current one when it already has that blueprint
CREATE FUNCTION public.flow_rollback(workflow_id uuid, version integer) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	w flowdb.workflows;
	old jsonb;
	v integer;
BEGIN
	PERFORM flowdb.refuse_anon();
	IF version IS NULL THEN
		RAISE EXCEPTION 'version must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	w := flowdb.own_workflow(workflow_id);
	IF w.draft_status = 'drafting' THEN
		RAISE EXCEPTION 'workflow % is still being drafted', workflow_id
			USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	SELECT x.blueprint INTO old FROM flowdb.workflow_versions x
	WHERE x.workflow_id = w.id AND x.version = flow_rollback.version;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'workflow % has no version %', workflow_id, version
			USING ERRCODE = 'no_data_found',
				  HINT = 'flow_versions(workflow_id) lists them.';
	END IF;
	IF old = w.blueprint THEN
		RETURN w.version;
	END IF;
	-- the catalog may have changed since: the old blueprint must still be valid
	PERFORM flowdb.check_blueprint(old);
	UPDATE flowdb.workflows x
	SET blueprint = old, name = old ->> 'name', updated_at = now()
	WHERE x.id = w.id
	RETURNING x.version INTO v;
	UPDATE flowdb.workflow_versions x SET restored_from = flow_rollback.version
	WHERE x.workflow_id = w.id AND x.version = v;
	RETURN v;
END
$$;

-- flow_delete: deactivate and remove a workflow and its versions.  Its
-- unfinished runs are canceled; its finished runs stay (with their own
-- copy of the blueprint, workflow_version and logs; workflow_id becomes
-- NULL).  Refused while a table trigger still names it.
CREATE FUNCTION public.flow_delete(workflow_id uuid) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	w flowdb.workflows;
	triggers text;
	canceled integer;
	kept integer;
	versions integer;
	r record;
BEGIN
	PERFORM flowdb.refuse_anon();
	w := flowdb.own_workflow(workflow_id);
	SELECT string_agg(format('%I on %s', t.tgname, t.tgrelid::regclass), ', ' ORDER BY t.tgname)
	INTO triggers
	FROM pg_catalog.pg_trigger t
	WHERE t.tgfoid = 'public.flow_trigger()'::regprocedure
	  AND position(w.id::text IN encode(t.tgargs, 'escape')) > 0;
	IF triggers IS NOT NULL THEN
		RAISE EXCEPTION 'workflow % is still started by a table trigger', workflow_id
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = 'flow_trigger() triggers naming it: ' || left(triggers, 500) || '.',
				  HINT = 'DROP TRIGGER them first, or call flow_deactivate() to keep the workflow.';
	END IF;
	-- its unfinished runs (and a draft in progress) are canceled; deleting
	-- the row stops its triggers, schedules and webhooks
	canceled := 0;
	FOR r IN
		SELECT x.id FROM flowdb.runs x
		WHERE (x.workflow_id = w.id OR x.id = w.draft_run_id)
		  AND x.finished_at IS NULL
		ORDER BY x.created_at
		FOR UPDATE
	LOOP
		UPDATE flowdb.runs x
		SET status = 'canceled', finished_at = now(), updated_at = now(),
			next_at = 'infinity', lease_owner = NULL, lease_until = NULL, lease_token = NULL,
			error = 'canceled: workflow deleted by ' || flowdb.current_owner()
		WHERE x.id = r.id;
		IF current_setting('flowdb.notify')::boolean THEN
			PERFORM pg_notify('flowdb_run_finished', r.id::text || ' canceled');
		END IF;
		canceled := canceled + 1;
	END LOOP;
	SELECT count(*) INTO kept FROM flowdb.runs x WHERE x.workflow_id = w.id;
	SELECT count(*) INTO versions FROM flowdb.workflow_versions x WHERE x.workflow_id = w.id;
	DELETE FROM flowdb.workflows x WHERE x.id = w.id;
	RETURN jsonb_build_object('workflow_id', w.id, 'name', w.name, 'deleted', true,
							  'versions_removed', versions, 'runs_canceled', canceled,
							  'runs_kept', kept);
END
$$;

COMMENT ON FUNCTION public.flow_update(uuid, jsonb) IS
'Save a new version of your workflow (validated like flow_save). Returns the version number (unchanged when the blueprint is identical). Runs already queued keep the version they started with.';
COMMENT ON FUNCTION public.flow_versions(uuid) IS
'The versions of your workflow, newest first: version, is_current, name, restored_from, created_at, blueprint.';
COMMENT ON FUNCTION public.flow_rollback(uuid, integer) IS
'Make an old version of your workflow current again, saved as a new version (a copy). Returns the new version number.';
COMMENT ON FUNCTION public.flow_delete(uuid) IS
'Deactivate and remove your workflow and its versions; its queued, running and waiting runs are canceled, its finished runs and their logs stay (workflow_id becomes null). Refused while a table trigger names it.';

REVOKE ALL ON FUNCTION flowdb.find_workflow(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.check_on_failure(text, uuid, text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.own_workflow(uuid) FROM PUBLIC;

------------------------------------------------------------------------
-- Sub-workflow calls (call nodes): a child run per call, keyed by its
-- parent run and node, created in the transaction that commits the
-- parent's state; the parent is resumed when the child ends
------------------------------------------------------------------------

ALTER TABLE flowdb.runs
	-- the run whose call node started this one; no foreign key (a
	-- self-reference would make pg_dump's data-only dump of the table
	-- circular), so a pruned parent leaves the id behind
	ADD COLUMN parent_run_id uuid,
	-- the calling node: "<node id>", "<node id>#<flow_retry count>" after
	-- flow_retry (each retry calls afresh)
	ADD COLUMN parent_node text;
CREATE UNIQUE INDEX runs_parent ON flowdb.runs (parent_run_id, parent_node)
	WHERE parent_run_id IS NOT NULL;

-- flowdb.call_depth: how many ancestors a run has (0 for a top-level run)
CREATE FUNCTION flowdb.call_depth(run_id uuid) RETURNS integer
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	WITH RECURSIVE up(id, depth) AS (
		SELECT r.parent_run_id, 0 FROM flowdb.runs r WHERE r.id = call_depth.run_id
		UNION ALL
		SELECT r.parent_run_id, up.depth + 1 FROM up JOIN flowdb.runs r ON r.id = up.id
		WHERE up.depth < 100)
	SELECT max(depth) FROM up WHERE id IS NULL OR depth = 100
$$;

-- flowdb.call_result: what a finished child run gives its call node
CREATE FUNCTION flowdb.call_result(child flowdb.runs) RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT jsonb_build_object(
		'status', child.status, 'run_id', child.id,
		'steps', coalesce((SELECT jsonb_object_agg(k, v -> 'output')
						   FROM jsonb_each(child.state -> 'nodes') AS n(k, v)
						   WHERE v ? 'output'), '{}'))
$$;

-- flowdb.start_call: the child run of one waiting call node of run r
-- (created when absent).  Returns its id, or NULL with *problem set when
-- it cannot start (workflow not found, depth, back-pressure, size).
CREATE FUNCTION flowdb.start_call(r flowdb.runs, node_key text, call jsonb,
								  OUT child uuid, OUT problem text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	ref text := call ->> 'workflow';
	w flowdb.workflows;
	n integer;
BEGIN
	SELECT c.id INTO child FROM flowdb.runs c
	WHERE c.parent_run_id = r.id AND c.parent_node = node_key;
	IF FOUND THEN
		RETURN;
	END IF;
	IF flowdb.call_depth(r.id) + 1 > 5 THEN
		problem := 'call depth limit reached: a call may nest at most 5 runs deep';
		RETURN;
	END IF;
	IF ref ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
		SELECT * INTO w FROM flowdb.workflows wf WHERE wf.id = ref::uuid AND wf.owner = r.owner;
		n := CASE WHEN FOUND THEN 1 ELSE 0 END;
	END IF;
	IF coalesce(n, 0) = 0 THEN
		SELECT count(*) INTO n FROM flowdb.workflows wf WHERE wf.owner = r.owner AND wf.name = ref;
		SELECT * INTO w FROM flowdb.workflows wf WHERE wf.owner = r.owner AND wf.name = ref;
	END IF;
	IF n = 0 THEN
		problem := format('workflow "%s" not found (calls run a saved workflow of the same owner, by id or name)',
						  left(ref, 200));
		RETURN;
	ELSIF n > 1 THEN
		problem := format('workflow name "%s" is ambiguous (%s workflows): call it by id', left(ref, 200), n);
		RETURN;
	ELSIF w.blueprint IS NULL THEN
		problem := format('workflow "%s" has no blueprint (draft %s)', left(ref, 200), w.draft_status);
		RETURN;
	END IF;
	BEGIN
		PERFORM flowdb.check_payload(coalesce(call -> 'payload', '{}'));
		PERFORM flowdb.check_backlog(r.owner);
		-- a dry run's children are dry runs; a workflow's own flag counts too
		INSERT INTO flowdb.runs (workflow_id, owner, blueprint, payload, parent_run_id, parent_node,
								 sandbox)
		VALUES (w.id, r.owner, w.blueprint, coalesce(call -> 'payload', '{}'), r.id, node_key,
				r.sandbox OR w.sandbox)
		RETURNING id INTO child;
	EXCEPTION WHEN OTHERS THEN
		child := NULL;
		problem := 'the called run could not start: ' || SQLERRM;
	END;
END
$$;

-- flowdb.start_calls: BEFORE UPDATE trigger on runs.  Every waiting call
-- node of the new state, and every waiting item of a map over a workflow,
-- gets its child run (the same one at every commit: it is keyed by run and
-- node, "<node>[<index>]" for an item) in this transaction; a call that
-- cannot start is resumed with its problem, which fails the node (item).
CREATE FUNCTION flowdb.start_calls() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	k text;
	v jsonb;
	i text;
	path text[];
	key text;
	res record;
	retries integer := coalesce((NEW.state ->> 'retries')::integer, 0);
BEGIN
	IF NEW.status IN ('succeeded', 'failed', 'canceled') THEN
		RETURN NEW;				-- nothing would wait for the child
	END IF;
	FOR k, i, v IN
		SELECT n.key, NULL, n.value FROM jsonb_each(NEW.state -> 'nodes') n
		UNION ALL
		SELECT n.key, a.key, a.value FROM jsonb_each(NEW.state -> 'nodes') n,
			jsonb_each(CASE WHEN jsonb_typeof(n.value #> '{map,active}') = 'object'
							THEN n.value #> '{map,active}' ELSE '{}' END) a
	LOOP
		CONTINUE WHEN v ->> 'status' IS DISTINCT FROM 'waiting' OR NOT v ? 'call' OR v ? 'child';
		path := CASE WHEN i IS NULL THEN ARRAY['nodes', k] ELSE ARRAY['nodes', k, 'map', 'active', i] END;
		key := k || coalesce('[' || i || ']', '') || CASE WHEN retries > 0 THEN '#' || retries ELSE '' END;
		res := flowdb.start_call(NEW, key, v -> 'call');
		IF res.child IS NOT NULL THEN
			NEW.state := jsonb_set(NEW.state, path, v || jsonb_build_object('child', res.child));
		ELSE
			NEW.state := jsonb_set(NEW.state, path,
								   v || jsonb_build_object('status', 'resumed', 'call_error', res.problem));
			IF NEW.lease_owner IS NULL THEN
				NEW.next_at := now();
			END IF;
		END IF;
	END LOOP;
	RETURN NEW;
END
$$;

-- OF state: only an update that writes the state can make a call wait
-- without its child (the state it leaves behind had every child started);
-- the worker's claim, which does not write it, skips the two jsonpath
-- tests (measured: 0.1 of 0.42 ms of the claim of one run)
CREATE TRIGGER runs_start_calls BEFORE UPDATE OF state ON flowdb.runs
	FOR EACH ROW
	WHEN (NEW.state @? '$.nodes.* ? (@.status == "waiting" && exists (@.call) && !(exists (@.child)))'
		  OR NEW.state @? '$.nodes.*.map.active.* ? (@.status == "waiting" && exists (@.call) && !(exists (@.child)))')
	EXECUTE FUNCTION flowdb.start_calls();

-- flowdb.resume_call: resume the call node of run parent_id whose child
-- ended, when no worker holds the parent (else it is resumed when the
-- worker lets it go: flowdb.resume_parked_calls)
CREATE FUNCTION flowdb.resume_call(parent_id uuid, child flowdb.runs) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	p flowdb.runs;
	k text;
	i text;
	v jsonb;
BEGIN
	SELECT * INTO p FROM flowdb.runs WHERE id = parent_id FOR UPDATE;
	IF NOT FOUND OR p.lease_owner IS NOT NULL
	   OR p.status IN ('succeeded', 'failed', 'canceled') THEN
		RETURN;
	END IF;
	FOR k, i, v IN
		SELECT n.key, NULL, n.value FROM jsonb_each(p.state -> 'nodes') n
		UNION ALL
		SELECT n.key, a.key, a.value FROM jsonb_each(p.state -> 'nodes') n,
			jsonb_each(CASE WHEN jsonb_typeof(n.value #> '{map,active}') = 'object'
							THEN n.value #> '{map,active}' ELSE '{}' END) a
	LOOP
		CONTINUE WHEN v ->> 'status' IS DISTINCT FROM 'waiting' OR v ->> 'child' IS DISTINCT FROM child.id::text;
		UPDATE flowdb.runs r
		SET state = jsonb_set(r.state,
				CASE WHEN i IS NULL THEN ARRAY['nodes', k] ELSE ARRAY['nodes', k, 'map', 'active', i] END,
				v || jsonb_build_object('status', 'resumed', 'output', flowdb.call_result(child))
				  || CASE WHEN child.status = 'succeeded' THEN '{}'::jsonb
						  ELSE jsonb_build_object('call_error',
								format('called run %s %s: %s', child.id, child.status,
									   coalesce(child.error, 'no error recorded'))) END),
			next_at = now(), updated_at = now()
		WHERE r.id = p.id;
	END LOOP;
END
$$;

-- flowdb.call_ended: AFTER UPDATE trigger on runs; a child run ended
CREATE FUNCTION flowdb.call_ended() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM flowdb.resume_call(NEW.parent_run_id, NEW);
	RETURN NULL;
END
$$;

CREATE TRIGGER runs_call_ended AFTER UPDATE OF status ON flowdb.runs
	FOR EACH ROW
	WHEN (NEW.parent_run_id IS NOT NULL
		  AND NEW.status IN ('succeeded', 'failed', 'canceled')
		  AND OLD.status NOT IN ('succeeded', 'failed', 'canceled'))
	EXECUTE FUNCTION flowdb.call_ended();

-- flowdb.resume_parked_calls: AFTER UPDATE trigger on runs; a worker let
-- the run go: resume its calls whose child ended meanwhile.  The children
-- are those the state waits for (a call node's, or a map's items in
-- flight: at most its concurrency), looked up by id; reading every child
-- of the run made each release of a map over a sub-workflow cost one
-- look per item already done (1,600 items: 6 ms a release, 2 of the
-- map's 6.4 s).
CREATE FUNCTION flowdb.resume_parked_calls() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	c flowdb.runs;
BEGIN
	FOR c IN
		SELECT ch.* FROM flowdb.runs ch
		WHERE ch.id IN (
				SELECT CASE WHEN w.child ~ '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'
							THEN w.child::uuid END
				FROM (SELECT x #>> '{child}' FROM jsonb_path_query(NEW.state,
							'$.nodes.* ? (@.status == "waiting" && exists (@.child))') x
					  UNION ALL
					  SELECT x #>> '{child}' FROM jsonb_path_query(NEW.state,
							'$.nodes.*.map.active.* ? (@.status == "waiting" && exists (@.child))') x) w(child))
		  AND ch.parent_run_id = NEW.id AND ch.status IN ('succeeded', 'failed', 'canceled')
		ORDER BY ch.parent_node
	LOOP
		PERFORM flowdb.resume_call(NEW.id, c);
	END LOOP;
	RETURN NULL;
END
$$;

CREATE TRIGGER runs_resume_parked_calls AFTER UPDATE OF lease_owner ON flowdb.runs
	FOR EACH ROW
	WHEN (NEW.lease_owner IS NULL AND OLD.lease_owner IS NOT NULL
		  AND NEW.status NOT IN ('succeeded', 'failed', 'canceled')
		  AND (NEW.state @? '$.nodes.* ? (@.status == "waiting" && exists (@.child))'
			   OR NEW.state @? '$.nodes.*.map.active.* ? (@.status == "waiting" && exists (@.child))'))
	EXECUTE FUNCTION flowdb.resume_parked_calls();

-- flowdb.cancel_children: AFTER UPDATE trigger on runs; a canceled or
-- failed run cancels its unfinished child runs (and they theirs): nothing
-- would use their result
CREATE FUNCTION flowdb.cancel_children() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	UPDATE flowdb.runs c
	SET status = 'canceled', finished_at = now(), updated_at = now(),
		next_at = 'infinity', lease_owner = NULL, lease_until = NULL, lease_token = NULL,
		error = CASE WHEN NEW.status = 'canceled' THEN 'canceled with its parent run ' || NEW.id
					 ELSE 'canceled: its parent run ' || NEW.id || ' failed' END
	WHERE c.parent_run_id = NEW.id AND c.status NOT IN ('succeeded', 'failed', 'canceled');
	RETURN NULL;
END
$$;

CREATE TRIGGER runs_cancel_children AFTER UPDATE OF status ON flowdb.runs
	FOR EACH ROW
	WHEN (NEW.status IN ('canceled', 'failed') AND OLD.status IS DISTINCT FROM NEW.status)
	EXECUTE FUNCTION flowdb.cancel_children();

REVOKE ALL ON FUNCTION flowdb.call_depth(uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.call_result(flowdb.runs) FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.start_call(flowdb.runs, text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.start_calls() FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.resume_call(uuid, flowdb.runs) FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.call_ended() FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.resume_parked_calls() FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.cancel_children() FROM PUBLIC;

-- Realtime: join supabase_realtime when it already exists (the event
-- trigger above covers a publication created later)
SELECT flowdb.realtime_enable()
WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = 'supabase_realtime');

------------------------------------------------------------------------
-- Backups (pg_dump): rows of extension tables are left out of a dump
-- unless registered here.  Every table and identity sequence of the
-- extension is registered, so pg_dump keeps workflows, runs, logs,
-- credentials and the rest; a restore runs CREATE EXTENSION and then
-- loads these rows (docs/install.md, "Backups").
------------------------------------------------------------------------

-- one statement each: the function updates pg_extension's row
SELECT pg_catalog.pg_extension_config_dump('flowdb.workflows', '');
SELECT pg_catalog.pg_extension_config_dump('flowdb.runs', '');
SELECT pg_catalog.pg_extension_config_dump('flowdb.workflow_logs', '');
SELECT pg_catalog.pg_extension_config_dump('flowdb.credentials', '');
SELECT pg_catalog.pg_extension_config_dump('flowdb.outbox', '');
SELECT pg_catalog.pg_extension_config_dump('flowdb.webhook_deliveries', '');
SELECT pg_catalog.pg_extension_config_dump('flowdb.sessions', '');
SELECT pg_catalog.pg_extension_config_dump('flowdb.messages', '');
SELECT pg_catalog.pg_extension_config_dump('flowdb.event_buffer', '');
SELECT pg_catalog.pg_extension_config_dump('flowdb.assistant_settings', '');
SELECT pg_catalog.pg_extension_config_dump('flowdb.workflow_versions', '');
SELECT pg_catalog.pg_extension_config_dump(
	pg_catalog.pg_get_serial_sequence('flowdb.workflow_logs', 'id')::regclass, '');
SELECT pg_catalog.pg_extension_config_dump(
	pg_catalog.pg_get_serial_sequence('flowdb.outbox', 'id')::regclass, '');
SELECT pg_catalog.pg_extension_config_dump(
	pg_catalog.pg_get_serial_sequence('flowdb.messages', 'id')::regclass, '');
SELECT pg_catalog.pg_extension_config_dump(
	pg_catalog.pg_get_serial_sequence('flowdb.event_buffer', 'id')::regclass, '');

------------------------------------------------------------------------
-- A running map's items and results, stored apart from its run's state
-- (src/map_parts.h).  While a map node runs, the state in flowdb.runs
-- says "items": {"apart": "<instance>"} (the same for "results") and each
-- commit of the worker adds only what is new here: the items once, each
-- item's result once.  Rewriting the whole lists at every commit made a
-- map's time per item grow with its number of items.  The run's final
-- state is written whole and its rows are deleted.  Only the worker reads
-- and writes the table: row level security with no policy, no grants.
------------------------------------------------------------------------

CREATE TABLE flowdb.map_parts (
	run_id		uuid NOT NULL REFERENCES flowdb.runs (id) ON DELETE CASCADE,
	node_id		text NOT NULL,
	-- one start of the map (its claim's lease token and a number): rows
	-- of an earlier start (flow_retry) are never read as this one's
	instance	text NOT NULL,
	-- -1: the map's items array; else the result of item number item
	item		integer NOT NULL CHECK (item >= -1),
	value		jsonb NOT NULL,
	PRIMARY KEY (run_id, node_id, instance, item)
);
ALTER TABLE flowdb.map_parts ENABLE ROW LEVEL SECURITY;
SELECT pg_catalog.pg_extension_config_dump('flowdb.map_parts', '');

-- flowdb.map_parts_view: the state with its running maps' lists put back
-- from flowdb.map_parts: each map's items, and its results so far (null
-- for an item not finished yet).  flow_status shows a running run's
-- state so.  A map whose items row is missing keeps its marker.
CREATE FUNCTION flowdb.map_parts_view(run_id uuid, state jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	k text;
	inst text;
	items jsonb;
	results jsonb;
BEGIN
	FOR k, inst IN
		SELECT n.key, n.value #>> '{map,items,apart}'
		FROM jsonb_each(CASE WHEN jsonb_typeof(state -> 'nodes') = 'object'
							 THEN state -> 'nodes' ELSE '{}' END) n
		WHERE n.value #>> '{map,items,apart}' IS NOT NULL
	LOOP
		SELECT p.value INTO items FROM flowdb.map_parts p
		WHERE p.run_id = run_id AND p.node_id = k AND p.instance = inst AND p.item = -1;
		CONTINUE WHEN items IS NULL OR jsonb_typeof(items) <> 'array';
		SELECT coalesce(jsonb_agg(coalesce(p.value, 'null') ORDER BY g.i), '[]') INTO results
		FROM generate_series(0, jsonb_array_length(items) - 1) g(i)
		LEFT JOIN flowdb.map_parts p
		  ON p.run_id = run_id AND p.node_id = k AND p.instance = inst AND p.item = g.i;
		state := jsonb_set(jsonb_set(state, ARRAY['nodes', k, 'map', 'items'], items),
						   ARRAY['nodes', k, 'map', 'results'], results);
	END LOOP;
	RETURN state;
END
$$;

-- flowdb.map_parts_fold: map_parts_view, and the run's rows deleted.  For
-- a run that ends outside the worker's final commit (flow_cancel, a
-- canceled parent, too many worker crashes): its stored state is whole,
-- as every finished run's is.
CREATE FUNCTION flowdb.map_parts_fold(run_id uuid, state jsonb) RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
BEGIN
	state := flowdb.map_parts_view(run_id, state);
	DELETE FROM flowdb.map_parts p WHERE p.run_id = run_id;
	RETURN state;
END
$$;

-- flowdb.runs_map_parts_fold: BEFORE trigger: a run that ends with its
-- maps' lists apart gets them back (flowdb.map_parts_fold).  The worker's
-- own final commit writes the whole state: this fires only for the other
-- ways a run ends.
CREATE FUNCTION flowdb.runs_map_parts_fold() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	NEW.state := flowdb.map_parts_fold(NEW.id, NEW.state);
	RETURN NEW;
END
$$;
CREATE TRIGGER runs_map_parts_fold BEFORE UPDATE OF status ON flowdb.runs
	FOR EACH ROW
	WHEN (NEW.status IN ('succeeded', 'failed', 'canceled')
		  AND OLD.status NOT IN ('succeeded', 'failed', 'canceled')
		  AND NEW.state @? '$.nodes.*.map.items.apart')
	EXECUTE FUNCTION flowdb.runs_map_parts_fold();
REVOKE ALL ON FUNCTION flowdb.map_parts_view(uuid, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.map_parts_fold(uuid, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.runs_map_parts_fold() FROM PUBLIC;

------------------------------------------------------------------------
-- Privilege model (keep this section last: it covers every function
-- created above).  docs/security.md explains it.
--   * PUBLIC may execute only flow_catalog, flow_validate, the provider
--     webhooks (public.*_webhook) and flowdb.current_owner (used by the
--     RLS policies).  Everything else is revoked from PUBLIC.
--   * The client functions (every other function in schema public except
--     the flow_trigger trigger function) are granted to authenticated and
--     service_role when those roles exist, and revoked from anon (Supabase
--     grants new functions in public to anon by default privileges).
--   * On plain PostgreSQL, grant them to your own roles with
--     SELECT flowdb.grant_api_roles('app_user');
------------------------------------------------------------------------

-- flowdb.vault_secret_json: the decrypted Vault secret id as a JSON
-- object, NULL when Vault or the secret is absent.  A secret that is not
-- a JSON object raises 22P02 naming only what (the credential) and the
-- id: the secret's text never reaches an error message or the log.
CREATE FUNCTION flowdb.vault_secret_json(id uuid, what text) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	s text;
	j jsonb;
BEGIN
	IF id IS NULL OR to_regclass('vault.decrypted_secrets') IS NULL THEN
		RETURN NULL;
	END IF;
	EXECUTE 'SELECT decrypted_secret FROM vault.decrypted_secrets WHERE id = $1'
		INTO s USING id;
	IF s IS NULL THEN
		RETURN NULL;
	END IF;
	BEGIN
		j := s::jsonb;
	EXCEPTION WHEN data_exception THEN
		-- the cast's message and detail quote the text: drop them
		j := NULL;
	END;
	IF jsonb_typeof(j) IS DISTINCT FROM 'object' THEN
		RAISE EXCEPTION '%: Vault secret % is not a JSON object', what, id
			USING ERRCODE = 'invalid_text_representation',
				  DETAIL = 'The secret''s value is not shown.',
				  HINT = 'Store the credential fields as a JSON object, e.g. {"bot_token": "..."}.';
	END IF;
	RETURN j;
END
$$;

-- flowdb.open_function: may PUBLIC (anon included) execute this function
-- of the extension?  Catalog, validation, provider webhooks, and the owner
-- function the RLS policies call.
CREATE FUNCTION flowdb.open_function(f regprocedure) RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT f IN ('public.flow_catalog()'::regprocedure,
				 'public.flow_validate(jsonb)'::regprocedure,
				 'flowdb.current_owner()'::regprocedure)
		OR EXISTS (SELECT 1 FROM pg_catalog.pg_proc p
				   WHERE p.oid = f AND p.pronamespace = 'public'::regnamespace
					 AND p.proname LIKE '%\_webhook')
$$;

-- flowdb.grant_api_roles: apply the privilege model to every function of
-- the extension: revoke all but the open ones from PUBLIC and anon, the
-- internal ones (schema flowdb, flow_trigger) from authenticated and
-- service_role too (this undoes grants made by default privileges), then
-- grant the client functions to roles (default: authenticated and
-- service_role, those that exist).  Runs at CREATE EXTENSION; run it again after creating the
-- Supabase roles, or with your own roles on plain PostgreSQL.  Returns
-- the roles granted.
CREATE FUNCTION flowdb.grant_api_roles(VARIADIC roles name[] DEFAULT NULL) RETURNS name[]
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	f record;
	r name;
	targets name[];
	api name[];
BEGIN
	SELECT coalesce(array_agg(a.rolname ORDER BY a.rolname), '{}') INTO api
	FROM pg_catalog.pg_roles a WHERE a.rolname IN ('anon', 'authenticated', 'service_role');
	IF roles IS NULL THEN
		SELECT coalesce(array_agg(a.rolname ORDER BY a.rolname), '{}') INTO targets
		FROM pg_catalog.pg_roles a WHERE a.rolname IN ('authenticated', 'service_role');
	ELSE
		targets := roles;
		FOREACH r IN ARRAY roles LOOP
			IF r IS NULL OR r IN ('anon', 'public') THEN
				RAISE EXCEPTION 'flowdb.grant_api_roles: % must not get the client functions',
					coalesce(r::text, 'NULL') USING ERRCODE = 'insufficient_privilege',
					HINT = 'Anonymous callers may only use flow_catalog, flow_validate and the webhooks.';
			END IF;
			IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles a WHERE a.rolname = r) THEN
				RAISE EXCEPTION 'role "%" does not exist', r USING ERRCODE = 'undefined_object';
			END IF;
		END LOOP;
	END IF;
	FOR f IN
		SELECT p.oid::regprocedure AS sig, p.pronamespace = 'public'::regnamespace AS client,
			   p.proname = 'flow_trigger' AS trig
		FROM pg_catalog.pg_proc p
		JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_proc'::regclass
			AND d.objid = p.oid AND d.deptype = 'e'
		JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid AND e.extname = 'flowdb'
		WHERE NOT flowdb.open_function(p.oid::regprocedure)
		ORDER BY 1
	LOOP
		EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f.sig);
		-- internal functions: no API role; client functions: not anon
		FOREACH r IN ARRAY api LOOP
			IF r = 'anon' OR NOT f.client OR f.trig THEN
				EXECUTE format('REVOKE ALL ON FUNCTION %s FROM %I', f.sig, r);
			END IF;
		END LOOP;
		IF f.client AND NOT f.trig THEN
			FOREACH r IN ARRAY targets LOOP
				EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %I', f.sig, r);
			END LOOP;
		END IF;
	END LOOP;
	RETURN targets;
END
$$;

COMMENT ON FUNCTION flowdb.grant_api_roles(name[]) IS
'Apply the privilege model; grant the client functions to roles (default: authenticated and service_role, those that exist)';

SELECT flowdb.grant_api_roles();
