-- flowdb 0.1.0 -> 0.2.0: run by ALTER EXTENSION flowdb UPDATE.
--
-- Every schema change of 0.2.0 made in sql/flowdb--0.2.0.sql (the fresh
-- install script) has its counterpart here, so that an updated database and
-- a fresh install end up with the same schema (test/t/0NN_upgrade.pl
-- compares them).
\echo Use "ALTER EXTENSION flowdb UPDATE TO '0.2.0'" to load this file. \quit

-- versions: workflow versions (flow_update, flow_versions, flow_rollback,
-- flow_delete) and on_failure handlers
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
			USING ERRCODE = '22023',
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
-- {run_id, workflow, workflow_id, node, error} as trigger_data.  Never
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
				USING ERRCODE = 'P0002';
		END IF;
		IF (f.w).blueprint IS NULL THEN
			RAISE EXCEPTION 'on_failure workflow "%" has no blueprint', left(ref, 100)
				USING ERRCODE = '55000';
		END IF;
		rid := flowdb.enqueue((f.w).blueprint,
			jsonb_build_object('run_id', NEW.id, 'workflow', NEW.blueprint ->> 'name',
							   'workflow_id', NEW.workflow_id,
							   'node', NEW.state ->> 'failed_node', 'error', NEW.error),
			(f.w).id, NEW.owner);
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
		RAISE EXCEPTION 'workflow_id must not be null' USING ERRCODE = '22004';
	END IF;
	SELECT * INTO w FROM flowdb.workflows x
	WHERE x.id = own_workflow.workflow_id AND x.owner = flowdb.current_owner()
	FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'workflow % not found', workflow_id USING ERRCODE = 'P0002';
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
		RAISE EXCEPTION 'blueprint must not be null' USING ERRCODE = '22004';
	END IF;
	w := flowdb.own_workflow(workflow_id);
	IF w.draft_status = 'drafting' THEN
		RAISE EXCEPTION 'workflow % is still being drafted', workflow_id
			USING ERRCODE = '55000',
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
		RAISE EXCEPTION 'workflow % not found', flow_versions.workflow_id USING ERRCODE = 'P0002';
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
		RAISE EXCEPTION 'version must not be null' USING ERRCODE = '22004';
	END IF;
	w := flowdb.own_workflow(workflow_id);
	IF w.draft_status = 'drafting' THEN
		RAISE EXCEPTION 'workflow % is still being drafted', workflow_id
			USING ERRCODE = '55000';
	END IF;
	SELECT x.blueprint INTO old FROM flowdb.workflow_versions x
	WHERE x.workflow_id = w.id AND x.version = flow_rollback.version;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'workflow % has no version %', workflow_id, version
			USING ERRCODE = 'P0002',
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
			USING ERRCODE = '55000',
				  DETAIL = 'flow_trigger() triggers naming it: ' || left(triggers, 500) || '.',
				  HINT = 'DROP TRIGGER them first, or call flow_deactivate() to keep the workflow.';
	END IF;
	-- its unfinished runs (and a draft in progress) are canceled; deleting
	-- the row stops its triggers, schedules and webhooks
	canceled := 0;
	FOR r IN
		SELECT x.id FROM flowdb.runs x
		WHERE (x.workflow_id = w.id OR x.id = w.draft_run_id)
		  AND x.status IN ('queued', 'running', 'waiting')
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

SELECT pg_catalog.pg_extension_config_dump('flowdb.workflow_versions', '');
SELECT flowdb.grant_api_roles();
