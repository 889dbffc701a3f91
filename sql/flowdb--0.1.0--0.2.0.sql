-- flowdb 0.1.0 -> 0.2.0: run by ALTER EXTENSION flowdb UPDATE.
--
-- Every schema change of 0.2.0 made in sql/flowdb--0.2.0.sql (the fresh
-- install script) has its counterpart here, so that an updated database and
-- a fresh install end up with the same schema (test/t/0NN_upgrade.pl
-- compares them).
\echo Use "ALTER EXTENSION flowdb UPDATE TO '0.2.0'" to load this file. \quit

-- map: map nodes log one row per item (workflow_logs.item); call nodes
-- start child runs (runs.parent_run_id, parent_node); flow_status shows both
ALTER TABLE flowdb.workflow_logs ADD COLUMN item integer;
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
			'duration_ms', l.duration_ms) || CASE WHEN l.item IS NULL THEN '{}'::jsonb
			ELSE jsonb_build_object('item', l.item) END ORDER BY l.id), '[]')
	INTO steps
	FROM flowdb.workflow_logs l WHERE l.run_id = r.id;
	RETURN jsonb_build_object(
		'id', r.id, 'workflow_id', r.workflow_id, 'name', r.blueprint ->> 'name',
		'status', r.status, 'error', r.error, 'output', r.output,
		'nodes', coalesce(r.state -> 'nodes', '{}'),
		'steps', steps,
		'created_at', r.created_at, 'started_at', r.started_at,
		'finished_at', r.finished_at)
		-- call nodes: the run that called this one, the runs it called
		|| jsonb_build_object('parent_run_id', r.parent_run_id, 'children',
			(SELECT coalesce(jsonb_agg(jsonb_build_object('id', c.id, 'node', c.parent_node,
					'workflow_id', c.workflow_id, 'status', c.status) ORDER BY c.created_at), '[]')
			 FROM flowdb.runs c WHERE c.parent_run_id = r.id));
END
$$;

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
		INSERT INTO flowdb.runs (workflow_id, owner, blueprint, payload, parent_run_id, parent_node)
		VALUES (w.id, r.owner, w.blueprint, coalesce(call -> 'payload', '{}'), r.id, node_key)
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

CREATE TRIGGER runs_start_calls BEFORE UPDATE ON flowdb.runs
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
-- the run go: resume its calls whose child ended meanwhile
CREATE FUNCTION flowdb.resume_parked_calls() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	c flowdb.runs;
BEGIN
	FOR c IN
		SELECT ch.* FROM flowdb.runs ch
		WHERE ch.parent_run_id = NEW.id AND ch.status IN ('succeeded', 'failed', 'canceled')
		  AND (jsonb_path_exists(NEW.state, '$.nodes.* ? (@.status == "waiting" && @.child == $c)',
								 jsonb_build_object('c', ch.id::text))
			   OR jsonb_path_exists(NEW.state, '$.nodes.*.map.active.* ? (@.status == "waiting" && @.child == $c)',
									jsonb_build_object('c', ch.id::text)))
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
