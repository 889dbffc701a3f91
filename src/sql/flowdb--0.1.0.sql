-- flowdb 0.1.0: durable workflow engine inside PostgreSQL.
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

-- flowdb.current_owner: who is calling, as PostgREST sees it.
-- Inside SECURITY DEFINER functions current_user is the definer, so the
-- role is taken from the "role" setting (what SET ROLE chose) and then
-- session_user.
CREATE FUNCTION flowdb.current_owner() RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog
AS $$
	SELECT coalesce(
		nullif(nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub', ''),
		nullif(current_setting('role'), 'none'),
		session_user::text)
$$;

------------------------------------------------------------------------
-- Tables (all logged: they must survive a crash)
------------------------------------------------------------------------

CREATE TABLE flowdb.workflows (
	id			uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	owner		text NOT NULL DEFAULT flowdb.current_owner(),
	name		text NOT NULL,
	blueprint	jsonb NOT NULL,
	active		boolean NOT NULL DEFAULT true,
	prompt		text,
	drafted_by	text,
	warnings	jsonb NOT NULL DEFAULT '[]',
	last_fired_at timestamptz,		-- schedule triggers: last minute fired
	created_at	timestamptz NOT NULL DEFAULT now(),
	updated_at	timestamptz NOT NULL DEFAULT now()
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
	created_at	timestamptz NOT NULL DEFAULT now(),
	started_at	timestamptz,
	finished_at timestamptz,
	updated_at	timestamptz NOT NULL DEFAULT now()
) WITH (fillfactor = 70);		-- room for HOT updates of state at every step
CREATE INDEX runs_due ON flowdb.runs (next_at)
	WHERE status IN ('queued', 'running', 'waiting');
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
	duration_ms double precision
);
CREATE INDEX workflow_logs_run ON flowdb.workflow_logs (run_id, id);

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

-- flowdb.check_payload: raise 54000 when a payload exceeds flowdb.max_payload_bytes
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

-- flowdb.worker_info: pid and counters of each background worker
CREATE FUNCTION flowdb.worker_info(OUT slot integer, OUT pid integer,
	OUT claimed bigint, OUT steps bigint, OUT commits bigint, OUT wakeups bigint)
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
LANGUAGE sql STABLE
SET search_path = pg_catalog
AS $$
	SELECT CASE WHEN blueprint IS NULL
		THEN jsonb_build_object('valid', false, 'errors', jsonb_build_array('$: required'))
		ELSE (SELECT jsonb_build_object('valid', cardinality(e) = 0, 'errors', to_jsonb(e))
			  FROM flowdb.blueprint_errors(blueprint) AS e)
	END
$$;

-- flowdb.enqueue: validate and queue a run (the one insert path)
CREATE FUNCTION flowdb.enqueue(blueprint jsonb, payload jsonb, workflow_id uuid, owner text)
RETURNS uuid
LANGUAGE plpgsql
SET search_path = pg_catalog
AS $$
DECLARE
	rid uuid;
BEGIN
	IF payload IS NULL THEN
		payload := '{}';
	END IF;
	PERFORM flowdb.check_blueprint(blueprint);
	PERFORM flowdb.check_payload(payload);
	INSERT INTO flowdb.runs (workflow_id, owner, blueprint, payload)
	VALUES (workflow_id, owner, blueprint, payload)
	RETURNING id INTO rid;
	RETURN rid;
END
$$;

-- flow_execute: validate a blueprint and queue a run of it
CREATE FUNCTION public.flow_execute(blueprint jsonb, payload jsonb DEFAULT '{}')
RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog
AS $$
BEGIN
	IF blueprint IS NULL THEN
		RAISE EXCEPTION 'blueprint must not be null' USING ERRCODE = '22004';
	END IF;
	RETURN flowdb.enqueue(blueprint, payload, NULL, flowdb.current_owner());
END
$$;

-- flow_save: validate and save a workflow; returns its id
CREATE FUNCTION public.flow_save(blueprint jsonb, active boolean DEFAULT true)
RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog
AS $$
DECLARE
	wid uuid;
BEGIN
	IF blueprint IS NULL THEN
		RAISE EXCEPTION 'blueprint must not be null' USING ERRCODE = '22004';
	END IF;
	PERFORM flowdb.check_blueprint(blueprint);
	INSERT INTO flowdb.workflows (owner, name, blueprint, active)
	VALUES (flowdb.current_owner(), blueprint ->> 'name', blueprint, coalesce(active, true))
	RETURNING id INTO wid;
	RETURN wid;
END
$$;

-- flow_run: queue a run of a saved workflow
CREATE FUNCTION public.flow_run(workflow_id uuid, payload jsonb DEFAULT '{}')
RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog
AS $$
DECLARE
	w flowdb.workflows;
BEGIN
	IF workflow_id IS NULL THEN
		RAISE EXCEPTION 'workflow_id must not be null' USING ERRCODE = '22004';
	END IF;
	SELECT * INTO w FROM flowdb.workflows
	WHERE id = flow_run.workflow_id AND owner = flowdb.current_owner();
	IF NOT FOUND THEN
		RAISE EXCEPTION 'workflow % not found', workflow_id
			USING ERRCODE = 'P0002';
	END IF;
	RETURN flowdb.enqueue(w.blueprint, payload, w.id, w.owner);
END
$$;

-- flow_status: a run with its node states and step log
CREATE FUNCTION public.flow_status(run_id uuid) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog
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
		'status', r.status, 'error', r.error,
		'nodes', coalesce(r.state -> 'nodes', '{}'),
		'steps', steps,
		'created_at', r.created_at, 'started_at', r.started_at,
		'finished_at', r.finished_at);
END
$$;

-- flow_cancel: stop a run that has not finished; true when it was canceled
CREATE FUNCTION public.flow_cancel(run_id uuid) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog
AS $$
DECLARE
	st text;
BEGIN
	SELECT status INTO st FROM flowdb.runs
	WHERE id = flow_cancel.run_id AND owner = flowdb.current_owner()
	FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'run % not found', run_id USING ERRCODE = 'P0002';
	END IF;
	IF st IN ('succeeded', 'failed', 'canceled') THEN
		RETURN false;
	END IF;
	IF current_setting('flowdb.notify')::boolean THEN
		PERFORM pg_notify('flowdb_run_finished', run_id::text || ' canceled');
	END IF;
	UPDATE flowdb.runs
	SET status = 'canceled', finished_at = now(), updated_at = now(),
		next_at = 'infinity', lease_owner = NULL, lease_until = NULL,
		error = 'canceled by ' || flowdb.current_owner()
	WHERE id = flow_cancel.run_id;
	RETURN true;
END
$$;

-- flow_retry: resume a failed run from its failed step, keeping the
-- outputs of completed steps
CREATE FUNCTION public.flow_retry(run_id uuid) RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog
AS $$
DECLARE
	r flowdb.runs;
	nodes jsonb := '{}';
	k text;
	v jsonb;
BEGIN
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
	-- keep succeeded and skipped nodes; everything else starts over
	FOR k, v IN SELECT * FROM jsonb_each(coalesce(r.state -> 'nodes', '{}')) LOOP
		IF v ->> 'status' IN ('succeeded', 'skipped') THEN
			nodes := nodes || jsonb_build_object(k, v);
		END IF;
	END LOOP;
	UPDATE flowdb.runs
	SET status = 'queued', error = NULL, finished_at = NULL, next_at = now(),
		lease_owner = NULL, lease_until = NULL, updated_at = now(),
		state = (jsonb_set(state, '{nodes}', nodes) - 'error')
			|| jsonb_build_object('retries', coalesce((state ->> 'retries')::int, 0) + 1)
	WHERE id = r.id;
	RETURN r.id;
END
$$;

-- flowdb.prune: delete finished runs (and their logs) older than the
-- retention setting; called by the worker, callable by hand
CREATE FUNCTION flowdb.prune(older_than interval DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog
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
	-- delivery ids only need to outlive the providers' retry windows
	DELETE FROM flowdb.webhook_deliveries WHERE received_at < now() - older_than;
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
SET search_path = pg_catalog
AS $$
DECLARE
	c flowdb.credentials;
	s text;
BEGIN
	SELECT * INTO c FROM flowdb.credentials
	WHERE credentials.owner = credential_secret.owner
	  AND credentials.service = credential_secret.service
	  AND credentials.name = credential_secret.name;
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	IF c.secret IS NOT NULL THEN
		RETURN c.secret;
	END IF;
	IF to_regclass('vault.decrypted_secrets') IS NULL THEN
		RETURN NULL;
	END IF;
	EXECUTE 'SELECT decrypted_secret FROM vault.decrypted_secrets WHERE id = $1'
		INTO s USING c.vault_secret_id;
	RETURN s::jsonb;
END
$$;

-- flow_set_credential: store (or replace) a credential of the caller
CREATE FUNCTION public.flow_set_credential(service text, name text, secret jsonb)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog
AS $$
DECLARE
	svc jsonb;
	missing text[];
	vault_id uuid;
BEGIN
	SELECT s INTO svc FROM jsonb_array_elements(public.flow_catalog() -> 'services') s
	WHERE s ->> 'name' = flow_set_credential.service;
	IF svc IS NULL THEN
		RAISE EXCEPTION 'unknown service "%"', service USING ERRCODE = '22023',
			HINT = 'flow_catalog() lists the services.';
	END IF;
	IF name IS NULL OR name !~ '^[A-Za-z0-9_.-]{1,64}$' THEN
		RAISE EXCEPTION 'invalid credential name "%"', name USING ERRCODE = '22023',
			DETAIL = 'Use 1 to 64 letters, digits, "_", "." or "-".';
	END IF;
	IF jsonb_typeof(secret) IS DISTINCT FROM 'object' THEN
		RAISE EXCEPTION 'secret must be a JSON object' USING ERRCODE = '22023';
	END IF;
	-- {"vault_secret_id": "<uuid>"}: the secret (a JSON object) lives in
	-- Supabase Vault; only the reference is stored here
	IF secret ? 'vault_secret_id' THEN
		IF (SELECT count(*) FROM jsonb_object_keys(secret)) <> 1 THEN
			RAISE EXCEPTION 'a Vault reference must be the only field of the secret'
				USING ERRCODE = '22023';
		END IF;
		IF to_regclass('vault.secrets') IS NULL THEN
			RAISE EXCEPTION 'Supabase Vault (vault.secrets) is not installed'
				USING ERRCODE = '22023';
		END IF;
		-- the worker decrypts with full rights: only callers who may read
		-- Vault themselves can point a credential at a Vault secret
		IF NOT has_table_privilege(coalesce(nullif(current_setting('role'), 'none'), session_user::text),
								   'vault.decrypted_secrets', 'SELECT') THEN
			RAISE EXCEPTION 'permission denied to reference Vault secrets'
				USING ERRCODE = '42501',
					  HINT = 'Store the secret itself, or ask an administrator to store the reference.';
		END IF;
		BEGIN
			vault_id := (secret ->> 'vault_secret_id')::uuid;
		EXCEPTION WHEN invalid_text_representation THEN
			RAISE EXCEPTION 'vault_secret_id must be a uuid' USING ERRCODE = '22023';
		END;
		INSERT INTO flowdb.credentials (owner, service, name, secret, vault_secret_id)
		VALUES (flowdb.current_owner(), service, name, NULL, vault_id)
		ON CONFLICT ON CONSTRAINT credentials_pkey
		DO UPDATE SET secret = NULL, vault_secret_id = excluded.vault_secret_id,
					  updated_at = now();
		RETURN;
	END IF;
	-- the registry says which fields are required (e.g. llm's api_key is
	-- optional: local OpenAI-compatible servers often need none)
	missing := flowdb.credential_missing(service, secret);
	IF cardinality(missing) > 0 THEN
		RAISE EXCEPTION 'credential for % is missing %', service, array_to_string(missing, ', ')
			USING ERRCODE = '22023',
				  DETAIL = format('Fields of %s: %s.', service,
								  (SELECT string_agg(f, ', ')
								   FROM jsonb_array_elements_text(svc -> 'credential_fields') f));
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
SET search_path = pg_catalog
AS $$
	WITH d AS (
		DELETE FROM flowdb.credentials c
		WHERE c.owner = flowdb.current_owner()
		  AND c.service = flow_delete_credential.service
		  AND c.name = flow_delete_credential.name
		RETURNING 1)
	SELECT count(*) > 0 FROM d
$$;

-- flow_list_credentials: the caller's credentials, names and field names
-- only, never values
CREATE FUNCTION public.flow_list_credentials()
RETURNS TABLE (service text, name text, fields text[], in_vault boolean,
			   updated_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog
AS $$
	SELECT c.service, c.name,
		   coalesce((SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(c.secret) k), '{}'),
		   c.vault_secret_id IS NOT NULL, c.updated_at
	FROM flowdb.credentials c
	WHERE c.owner = flowdb.current_owner()
	ORDER BY 1, 2
$$;

REVOKE ALL ON FUNCTION flowdb.credential_secret(text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.enqueue(jsonb, jsonb, uuid, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.prune(interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.worker_info() FROM PUBLIC;


------------------------------------------------------------------------
-- Activation, events, waits
------------------------------------------------------------------------

-- flowdb.set_active: shared body of flow_activate / flow_deactivate
CREATE FUNCTION flowdb.set_active(workflow_id uuid, active boolean) RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog
AS $$
DECLARE
	was boolean;
BEGIN
	SELECT w.active INTO was FROM flowdb.workflows w
	WHERE w.id = set_active.workflow_id AND w.owner = flowdb.current_owner()
	FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'workflow % not found', workflow_id USING ERRCODE = 'P0002';
	END IF;
	UPDATE flowdb.workflows w SET active = set_active.active, updated_at = now()
	WHERE w.id = set_active.workflow_id;
	RETURN was IS DISTINCT FROM active;
END
$$;

-- flow_activate: let a saved workflow's trigger start runs; true if changed
CREATE FUNCTION public.flow_activate(workflow_id uuid) RETURNS boolean
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog
AS $$ SELECT flowdb.set_active(workflow_id, true) $$;

-- flow_deactivate: stop a saved workflow's trigger; true if changed
CREATE FUNCTION public.flow_deactivate(workflow_id uuid) RETURNS boolean
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog
AS $$ SELECT flowdb.set_active(workflow_id, false) $$;

-- flowdb.event_matches: does event data satisfy a wait_event "match"?
-- Keys are dotted paths into the data; values compare as JSON.
CREATE FUNCTION flowdb.event_matches(data jsonb, match jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog
AS $$
	SELECT match IS NULL OR jsonb_typeof(match) <> 'object' OR NOT EXISTS (
		SELECT 1 FROM jsonb_each(match) m
		WHERE (data #> string_to_array(m.key, '.')) IS DISTINCT FROM m.value)
$$;

-- flowdb.resume_node: mark a waiting node resumed with output data and
-- make its run due now (the worker finishes the node and goes on)
CREATE FUNCTION flowdb.resume_node(run_id uuid, node_id text, data jsonb) RETURNS void
LANGUAGE sql
SET search_path = pg_catalog
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
SET search_path = pg_catalog
AS $$
#variable_conflict use_variable
DECLARE
	ids uuid[] := '{}';
	w flowdb.workflows;
	r record;
	k text;
	v jsonb;
BEGIN
	IF name IS NULL THEN
		RAISE EXCEPTION 'event name must not be null' USING ERRCODE = '22004';
	END IF;
	IF name !~ '^[a-z0-9_]+(\.[a-z0-9_]+)+$' THEN
		RAISE EXCEPTION 'invalid event name "%"', name USING ERRCODE = '22023',
			DETAIL = 'Event names are dotted lower-case words, e.g. razorpay.payment.captured.';
	END IF;
	data := coalesce(data, '{}');
	PERFORM flowdb.check_payload(data);

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
			END IF;
		END LOOP;
	END LOOP;
	RETURN ids;
END
$$;

-- flow_send_event: deliver an event for the caller: start their active
-- workflows triggered by it, resume their runs waiting for it
CREATE FUNCTION public.flow_send_event(name text, data jsonb DEFAULT '{}') RETURNS uuid[]
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog
AS $$ SELECT flowdb.dispatch_event(flowdb.current_owner(), name, data) $$;

-- flow_approve: resume one waiting node of the caller's run (human
-- approval); data becomes the node's output
CREATE FUNCTION public.flow_approve(run_id uuid, node_id text, data jsonb DEFAULT '{"approved": true}')
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog
AS $$
DECLARE
	r flowdb.runs;
	st text;
BEGIN
	SELECT * INTO r FROM flowdb.runs
	WHERE id = flow_approve.run_id AND owner = flowdb.current_owner()
	FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'run % not found', run_id USING ERRCODE = 'P0002';
	END IF;
	st := r.state #>> ARRAY['nodes', node_id, 'status'];
	IF r.status <> 'waiting' OR st IS DISTINCT FROM 'waiting'
	   OR r.state #>> ARRAY['nodes', node_id, 'event'] IS NULL THEN
		RAISE EXCEPTION 'node "%" of run % is not waiting for an event', node_id, run_id
			USING ERRCODE = '55000',
				  DETAIL = format('Run status %s, node status %s.', r.status, coalesce(st, 'pending'));
	END IF;
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
SET search_path = pg_catalog
AS $$
DECLARE
	w flowdb.workflows;
	wid uuid;
	row_data jsonb;
BEGIN
	IF TG_LEVEL <> 'ROW' OR TG_NARGS <> 1 THEN
		RAISE EXCEPTION 'flow_trigger() must be a row trigger with the workflow id as its argument'
			USING ERRCODE = '39P01',
				  HINT = 'CREATE TRIGGER t AFTER INSERT ON tbl FOR EACH ROW EXECUTE FUNCTION flow_trigger(''<workflow id>'')';
	END IF;
	BEGIN
		wid := TG_ARGV[0]::uuid;
	EXCEPTION WHEN invalid_text_representation THEN
		RAISE EXCEPTION 'flow_trigger(): "%" is not a workflow id', TG_ARGV[0]
			USING ERRCODE = '22023';
	END;
	SELECT * INTO w FROM flowdb.workflows WHERE id = wid;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'flow_trigger(): workflow % not found', wid USING ERRCODE = 'P0002';
	END IF;
	-- only workflows declared as table-triggered, for this table when they
	-- name one, can be started by a row trigger
	IF w.blueprint #>> '{trigger,type}' IS DISTINCT FROM 'table' THEN
		RAISE EXCEPTION 'flow_trigger(): workflow % is not a table-trigger workflow', wid
			USING ERRCODE = '55000',
				  HINT = 'Its blueprint needs "trigger": {"type": "table"}.';
	END IF;
	IF w.blueprint #>> '{trigger,table}' IS NOT NULL
	   AND w.blueprint #>> '{trigger,table}' NOT IN (TG_TABLE_NAME, TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME) THEN
		RAISE EXCEPTION 'flow_trigger(): workflow % is for table %, not %.%', wid,
			w.blueprint #>> '{trigger,table}', TG_TABLE_SCHEMA, TG_TABLE_NAME
			USING ERRCODE = '55000';
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

-- flowdb.cron_matches: does a 5-field cron expression match a time (UTC)?
CREATE FUNCTION flowdb.cron_matches(expr text, at timestamptz DEFAULT now()) RETURNS boolean
AS 'MODULE_PATHNAME', 'flowdb_cron_matches'
LANGUAGE C STRICT STABLE PARALLEL SAFE;

-- flowdb.fire_schedules: queue a run of every active schedule workflow
-- whose cron matches the current minute (UTC) and has not fired in it.
-- Called by worker 0 on every scan; no pg_cron needed.
CREATE FUNCTION flowdb.fire_schedules() RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog
AS $$
DECLARE
	w flowdb.workflows;
	minute timestamptz := date_trunc('minute', now());
	n integer := 0;
BEGIN
	FOR w IN
		SELECT * FROM flowdb.workflows wf
		WHERE wf.active AND wf.blueprint #>> '{trigger,type}' = 'schedule'
		  AND (wf.last_fired_at IS NULL OR wf.last_fired_at < minute)
		FOR UPDATE SKIP LOCKED
	LOOP
		BEGIN
			IF flowdb.cron_matches(w.blueprint #>> '{trigger,cron}', minute) THEN
				PERFORM flowdb.enqueue(w.blueprint,
					jsonb_build_object('scheduled_at', minute, 'cron', w.blueprint #>> '{trigger,cron}'),
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
SET search_path = pg_catalog
AS $$
	SELECT nullif(current_setting('request.headers', true), '')::json ->> lower(name)
$$;

-- flowdb.webhook_secret: a superuser-only setting, or refuse
CREATE FUNCTION flowdb.webhook_secret(setting text) RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog
AS $$
DECLARE
	v text := current_setting(setting, true);
BEGIN
	IF v IS NULL OR v = '' THEN
		RAISE EXCEPTION 'webhook rejected: % is not configured', setting
			USING ERRCODE = '28000',
				  HINT = format('ALTER SYSTEM SET %s = ''...''; SELECT pg_reload_conf();', setting);
	END IF;
	RETURN v;
END
$$;

-- flowdb.accept_delivery: record a verified webhook delivery once and
-- dispatch its event to every owner's workflows and waiting runs
CREATE FUNCTION flowdb.accept_delivery(provider text, delivery text, name text, data jsonb)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog
AS $$
#variable_conflict use_variable
BEGIN
	INSERT INTO flowdb.webhook_deliveries (provider, delivery_id, event)
	VALUES (provider, delivery, name) ON CONFLICT DO NOTHING;
	IF NOT FOUND THEN
		RETURN jsonb_build_object('status', 'duplicate', 'event', name, 'runs', '[]'::jsonb);
	END IF;
	RETURN jsonb_build_object('status', 'ok', 'event', name,
							  'runs', to_jsonb(flowdb.dispatch_event(NULL, name, data)));
END
$$;

-- razorpay_webhook: verify X-Razorpay-Signature (HMAC-SHA256 hex of the raw
-- body) and turn the delivery into event razorpay.<event> whose data is the
-- payload's entity (plus amount_rupees when it has an amount in paise)
CREATE FUNCTION public.razorpay_webhook(json) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog
AS $$
DECLARE
	body text := $1::text;
	secret text := flowdb.webhook_secret('flowdb.razorpay_webhook_secret');
	sig text := flowdb.request_header('x-razorpay-signature');
	ev jsonb;
	name text;
	data jsonb;
	delivery text;
BEGIN
	IF sig IS NULL OR NOT flowdb.safe_equal(
			encode(flowdb.hmac(convert_to(body, 'UTF8'), convert_to(secret, 'UTF8'), 'sha256'), 'hex'),
			lower(sig)) THEN
		RAISE EXCEPTION 'invalid Razorpay webhook signature' USING ERRCODE = '28000';
	END IF;
	ev := body::jsonb;
	name := 'razorpay.' || coalesce(ev ->> 'event', 'unknown');
	delivery := coalesce(flowdb.request_header('x-razorpay-event-id'), ev ->> 'id', md5(body));
	data := coalesce(ev #> ARRAY['payload', split_part(ev ->> 'event', '.', 1), 'entity'],
					 (SELECT e.value -> 'entity' FROM jsonb_each(ev -> 'payload') e LIMIT 1),
					 '{}');
	IF jsonb_typeof(data -> 'amount') = 'number' THEN
		data := data || jsonb_build_object('amount_rupees',
										   trim_scale(round((data ->> 'amount')::numeric / 100, 2)));
	END IF;
	RETURN flowdb.accept_delivery('razorpay', delivery, name, data);
END
$$;

-- slack_webhook: verify X-Slack-Signature (v0 HMAC-SHA256 of
-- "v0:<timestamp>:<body>", timestamp within 5 minutes); answer
-- url_verification; event_callback becomes event slack.<type>
CREATE FUNCTION public.slack_webhook(json) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog
AS $$
DECLARE
	body text := $1::text;
	secret text := flowdb.webhook_secret('flowdb.slack_signing_secret');
	sig text := flowdb.request_header('x-slack-signature');
	ts text := flowdb.request_header('x-slack-request-timestamp');
	ev jsonb;
	name text;
	data jsonb;
	delivery text;
BEGIN
	IF ts IS NULL OR ts !~ '^[0-9]{1,12}$'
	   OR abs(extract(epoch FROM now()) - ts::bigint) > 300 THEN
		RAISE EXCEPTION 'Slack request timestamp is missing or older than 5 minutes'
			USING ERRCODE = '28000';
	END IF;
	IF sig IS NULL OR NOT flowdb.safe_equal(
			'v0=' || encode(flowdb.hmac(convert_to('v0:' || ts || ':' || body, 'UTF8'),
										convert_to(secret, 'UTF8'), 'sha256'), 'hex'),
			sig) THEN
		RAISE EXCEPTION 'invalid Slack request signature' USING ERRCODE = '28000';
	END IF;
	ev := body::jsonb;
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
	delivery := coalesce(ev ->> 'event_id', md5(body));
	RETURN flowdb.accept_delivery('slack', delivery, name, data);
END
$$;

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

REVOKE ALL ON FUNCTION flowdb.dispatch_event(text, text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.accept_delivery(text, text, text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.resume_node(uuid, text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.fire_schedules() FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.set_active(uuid, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.webhook_secret(text) FROM PUBLIC;

-- Realtime: stream the step log when Supabase's publication exists
DO $$
BEGIN
	IF EXISTS (SELECT 1 FROM pg_publication WHERE pubname = 'supabase_realtime') THEN
		ALTER PUBLICATION supabase_realtime ADD TABLE flowdb.workflow_logs;
	END IF;
END
$$;
