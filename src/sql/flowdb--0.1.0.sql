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
-- anonymous.
CREATE FUNCTION flowdb.refuse_anon() RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF current_setting('role') = 'anon' OR session_user = 'anon'
	   OR nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role' = 'anon'
	   OR current_setting('request.jwt.claim.role', true) = 'anon' THEN
		RAISE EXCEPTION 'permission denied: anonymous callers cannot start or change workflows'
			USING ERRCODE = '42501',
				  HINT = 'Sign in: the function needs the authenticated or service_role role.';
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
	OUT claimed bigint, OUT steps bigint, OUT commits bigint, OUT wakeups bigint,
	OUT heartbeat_at timestamptz, OUT starts bigint)
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

-- flowdb.enqueue: validate and queue a run (the one insert path)
CREATE FUNCTION flowdb.enqueue(blueprint jsonb, payload jsonb, workflow_id uuid, owner text)
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
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM flowdb.refuse_anon();
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
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	wid uuid;
BEGIN
	PERFORM flowdb.refuse_anon();
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
	RETURN flowdb.enqueue(w.blueprint, payload, w.id, w.owner);
END
$$;

-- flow_status: a run with its node states and step log
CREATE FUNCTION public.flow_status(run_id uuid) RETURNS jsonb
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
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r flowdb.runs;
	nodes jsonb := '{}';
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
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	c flowdb.credentials;
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
	-- never raises with the secret's text (it would reach the server log)
	RETURN flowdb.vault_secret_json(c.vault_secret_id,
		format('credential %s/%s', c.service, c.name));
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
		RAISE EXCEPTION 'unknown service "%"', left(service, 100) USING ERRCODE = '22023',
			HINT = 'flow_catalog() lists the services.';
	END IF;
	IF name IS NULL OR name !~ '^[A-Za-z0-9_.-]{1,64}$' THEN
		RAISE EXCEPTION 'invalid credential name "%"', left(name, 100) USING ERRCODE = '22023',
			DETAIL = 'Use 1 to 64 letters, digits, "_", "." or "-".';
	END IF;
	IF jsonb_typeof(secret) IS DISTINCT FROM 'object' THEN
		RAISE EXCEPTION 'secret must be a JSON object' USING ERRCODE = '22023';
	END IF;
	-- credential fields are tokens, ids and keys: flat and small
	IF pg_column_size(secret) > 65536 THEN
		RAISE EXCEPTION 'secret is too large: % bytes', pg_column_size(secret)
			USING ERRCODE = '54000', DETAIL = 'A credential may take at most 65536 bytes.';
	END IF;
	IF EXISTS (SELECT 1 FROM jsonb_each(secret) e
			   WHERE jsonb_typeof(e.value) NOT IN ('string', 'number', 'boolean')) THEN
		RAISE EXCEPTION 'credential fields must be strings, numbers or booleans' USING ERRCODE = '22023',
			DETAIL = format('Field "%s" is not.', (SELECT left(e.key, 64) FROM jsonb_each(secret) e
												   WHERE jsonb_typeof(e.value) NOT IN ('string', 'number', 'boolean')
												   ORDER BY e.key LIMIT 1));
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
		-- the Vault secret itself must be a JSON object with the required
		-- fields, checked now rather than at every claim by the worker
		checked := flowdb.vault_secret_json(vault_id, format('credential %s/%s', service, name));
		IF checked IS NULL THEN
			RAISE EXCEPTION 'Vault secret % not found', vault_id USING ERRCODE = '22023',
				  HINT = 'Create it first with vault.create_secret(''{"field": "..."}'').';
		END IF;
	END IF;
	-- the registry says which fields are required (e.g. llm's api_key is
	-- optional: local OpenAI-compatible servers often need none)
	missing := flowdb.credential_missing(service, checked);
	IF cardinality(missing) > 0 THEN
		RAISE EXCEPTION 'credential for % is missing %', service, array_to_string(missing, ', ')
			USING ERRCODE = '22023',
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
REVOKE ALL ON FUNCTION flowdb.enqueue(jsonb, jsonb, uuid, text) FROM PUBLIC;
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
BEGIN
	PERFORM flowdb.refuse_anon();
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
BEGIN
	IF name IS NULL THEN
		RAISE EXCEPTION 'event name must not be null' USING ERRCODE = '22004';
	END IF;
	IF length(name) > 200 OR name !~ '^[a-z0-9_]+(\.[a-z0-9_]+)+$' THEN
		RAISE EXCEPTION 'invalid event name "%"', left(name, 100) USING ERRCODE = '22023',
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
		RAISE EXCEPTION 'run % not found', run_id USING ERRCODE = 'P0002';
	END IF;
	st := r.state #>> ARRAY['nodes', node_id, 'status'];
	IF r.status <> 'waiting' OR st IS DISTINCT FROM 'waiting'
	   OR r.state #>> ARRAY['nodes', node_id, 'event'] IS NULL THEN
		RAISE EXCEPTION 'node "%" of run % is not waiting for an event', left(node_id, 100), run_id
			USING ERRCODE = '55000',
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
SET search_path = pg_catalog, pg_temp
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
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT nullif(current_setting('request.headers', true), '')::json ->> lower(name)
$$;

-- flowdb.webhook_secret: a superuser-only setting, or refuse
CREATE FUNCTION flowdb.webhook_secret(setting text) RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
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
SET search_path = pg_catalog, pg_temp
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
SET search_path = pg_catalog, pg_temp
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
SET search_path = pg_catalog, pg_temp
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

REVOKE ALL ON FUNCTION flowdb.dispatch_event(text, text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.accept_delivery(text, text, text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.resume_node(uuid, text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.fire_schedules() FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.set_active(uuid, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.webhook_secret(text) FROM PUBLIC;

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

-- flowdb.caller_sees_all: does the caller see every owner's numbers?  True
-- for a superuser and for service_role (and roles with its privileges).
-- The role is what SET ROLE chose (PostgREST), else the session user; JWT
-- claims are never trusted for this (any client can set them).
CREATE FUNCTION flowdb.caller_sees_all() RETURNS boolean
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

-- flowdb.worker_health: every worker slot with whether it is alive: it has
-- a process and that process went round its loop recently (within three
-- scan intervals, at least 10 s).  A worker that cannot connect to
-- flowdb.database_name exits before its first turn and shows as not alive.
CREATE FUNCTION flowdb.worker_health(OUT slot integer, OUT pid integer,
	OUT alive boolean, OUT heartbeat_at timestamptz, OUT restarts bigint,
	OUT claimed bigint, OUT steps bigint)
RETURNS SETOF record
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT w.slot, nullif(w.pid, 0),
		   w.pid <> 0 AND w.heartbeat_at IS NOT NULL
			 AND w.heartbeat_at > pg_catalog.clock_timestamp() - pg_catalog.make_interval(
				 secs => GREATEST(10.0::pg_catalog.float8,
					 3 * (SELECT g.setting::pg_catalog.float8 / 1000 FROM pg_catalog.pg_settings g
						 WHERE g.name = 'flowdb.scan_interval_ms'))),
		   w.heartbeat_at, GREATEST(w.starts - 1, 0), w.claimed, w.steps
	FROM flowdb.worker_info() w
	ORDER BY w.slot
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
	everyone boolean := flowdb.caller_sees_all();
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
					  HINT = 'Check the server log for flowdb worker errors and that flowdb.database_name names a database with the extension.';
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
	FROM unnest(ARRAY['flowdb.workflow_logs', 'flowdb.runs', 'flowdb.messages'])
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
			USING ERRCODE = '42704',
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

REVOKE ALL ON FUNCTION flowdb.caller_sees_all() FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.worker_health() FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.realtime_tables() FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.realtime_enable(name) FROM PUBLIC;
REVOKE ALL ON FUNCTION flowdb.realtime_on_create() FROM PUBLIC;

-- Realtime: join supabase_realtime when it already exists (the event
-- trigger above covers a publication created later)
SELECT flowdb.realtime_enable()
WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = 'supabase_realtime');

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
			USING ERRCODE = '22P02',
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
					coalesce(r::text, 'NULL') USING ERRCODE = '42501',
					HINT = 'Anonymous callers may only use flow_catalog, flow_validate and the webhooks.';
			END IF;
			IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles a WHERE a.rolname = r) THEN
				RAISE EXCEPTION 'role "%" does not exist', r USING ERRCODE = '42704';
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

SELECT flowdb.grant_api_roles();
