--
-- 160_versions: flow_update, flow_versions, flow_rollback, flow_delete
-- (owner-scoped, as PostgREST calls them: SET ROLE authenticated with a
-- JWT "sub"), the version a run records, on_failure targets checked when
-- a workflow is saved, and the on_failure handler started when a run
-- fails (no workers here: failures are written as the worker would).
--
\set VERBOSITY default
\set SHOW_CONTEXT never

CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	d text;
BEGIN
	EXECUTE q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL;
	RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM || coalesce(' / ' || nullif(d, ''), ''),
		'[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '<uuid>', 'g');
END
$$;
GRANT EXECUTE ON FUNCTION pg_temp.try(text) TO PUBLIC;

CREATE FUNCTION pg_temp.bp(name text, url text DEFAULT 'https://example.com/a',
						   extra jsonb DEFAULT '{}') RETURNS jsonb LANGUAGE sql AS $$
	SELECT jsonb_build_object('version', 1, 'name', name, 'trigger', '{"type": "manual"}'::jsonb,
		'nodes', jsonb_build_array(jsonb_build_object('id', 'a', 'type', 'action',
			'service', 'http', 'task', 'request',
			'params', jsonb_build_object('url', url, 'method', 'GET')))) || extra
$$;
GRANT EXECUTE ON FUNCTION pg_temp.bp(text, text, jsonb) TO PUBLIC;
CREATE TEMP TABLE ids (k text PRIMARY KEY, id uuid);
GRANT ALL ON ids TO PUBLIC;

------------------------------------------------------------------------
-- alice saves, runs, updates
------------------------------------------------------------------------
SELECT set_config('request.jwt.claims', '{"sub": "alice", "role": "authenticated"}', false) IS NOT NULL AS claims_set;
SET ROLE authenticated;
INSERT INTO ids SELECT 'wf', flow_save(pg_temp.bp('orders v1'));
SELECT version, name FROM flowdb.workflows WHERE id = (SELECT id FROM ids WHERE k = 'wf');
SELECT version, is_current, name, restored_from, blueprint ->> 'name' AS bp_name
FROM flow_versions((SELECT id FROM ids WHERE k = 'wf'));
INSERT INTO ids SELECT 'run1', flow_run((SELECT id FROM ids WHERE k = 'wf'));

-- a new version: returned, current, and the workflow's name follows it
SELECT flow_update(workflow_id => (SELECT id FROM ids WHERE k = 'wf'),
				   blueprint => pg_temp.bp('orders v2', 'https://example.com/b')) AS new_version;
SELECT version, name, blueprint #>> '{nodes,0,params,url}' AS url
FROM flowdb.workflows WHERE id = (SELECT id FROM ids WHERE k = 'wf');
-- the same blueprint again: no new version
SELECT flow_update((SELECT id FROM ids WHERE k = 'wf'), pg_temp.bp('orders v2', 'https://example.com/b')) AS same_version;
SELECT version, is_current, name FROM flow_versions((SELECT id FROM ids WHERE k = 'wf'));
INSERT INTO ids SELECT 'run2', flow_run((SELECT id FROM ids WHERE k = 'wf'));
-- each run keeps the blueprint it was queued with and names its version
SELECT k, r.workflow_version, r.blueprint ->> 'name' AS bp_name
FROM ids JOIN flowdb.runs r ON r.id = ids.id WHERE k LIKE 'run%' ORDER BY k;
-- flow_status says the version too
SELECT k, (flow_status(id) ->> 'workflow_version')::int AS status_version
FROM ids WHERE k LIKE 'run%' ORDER BY k;

-- refused, with nothing written
SELECT pg_temp.try($$SELECT flow_update((SELECT id FROM ids WHERE k = 'wf'),
	pg_temp.bp('broken') || '{"nodes": [{"id": "a", "type": "loop"}]}')$$);
SELECT pg_temp.try($$SELECT flow_update((SELECT id FROM ids WHERE k = 'wf'), NULL)$$);
SELECT pg_temp.try($$SELECT flow_update(NULL, pg_temp.bp('x'))$$);
SELECT pg_temp.try($$SELECT flow_update((SELECT id FROM ids WHERE k = 'wf'),
	jsonb_build_object('pad', repeat('x', 300000)) || pg_temp.bp('big'))$$);
SELECT pg_temp.try($$SELECT flow_update(gen_random_uuid(), pg_temp.bp('x'))$$);
SELECT version, name FROM flowdb.workflows WHERE id = (SELECT id FROM ids WHERE k = 'wf');
SELECT count(*) AS versions FROM flowdb.workflow_versions WHERE workflow_id = (SELECT id FROM ids WHERE k = 'wf');

-- rollback: version 1 comes back as version 3, a copy
SELECT flow_rollback(workflow_id => (SELECT id FROM ids WHERE k = 'wf'), version => 1) AS rolled_back_to;
SELECT version, is_current, name, restored_from FROM flow_versions((SELECT id FROM ids WHERE k = 'wf'));
SELECT (SELECT blueprint FROM flowdb.workflows WHERE id = (SELECT id FROM ids WHERE k = 'wf'))
	 = (SELECT blueprint FROM flowdb.workflow_versions WHERE workflow_id = (SELECT id FROM ids WHERE k = 'wf') AND version = 1)
	AS same_as_v1;
-- to what is already current: nothing new
SELECT flow_rollback((SELECT id FROM ids WHERE k = 'wf'), 1) AS unchanged;
SELECT pg_temp.try($$SELECT flow_rollback((SELECT id FROM ids WHERE k = 'wf'), 99)$$);
SELECT pg_temp.try($$SELECT flow_rollback((SELECT id FROM ids WHERE k = 'wf'), NULL)$$);
SELECT count(*) AS versions FROM flowdb.workflow_versions WHERE workflow_id = (SELECT id FROM ids WHERE k = 'wf');
RESET ROLE;

-- a draft: still drafting, refused; failed (no blueprint), the update makes
-- it ready as its version 1
INSERT INTO flowdb.workflows (owner, name, blueprint, active, draft_status)
VALUES ('alice', 'drafting', NULL, false, 'drafting'), ('alice', 'failed draft', NULL, false, 'failed');
SET ROLE authenticated;
SELECT pg_temp.try(format('SELECT flow_update(%L, pg_temp.bp(%L))',
	(SELECT id FROM flowdb.workflows WHERE name = 'drafting'), 'x'));
SELECT flow_update((SELECT id FROM flowdb.workflows WHERE name = 'failed draft'), pg_temp.bp('fixed by hand')) AS version;
SELECT name, draft_status, active, version FROM flowdb.workflows WHERE name IN ('drafting', 'fixed by hand') ORDER BY name;
RESET ROLE;

------------------------------------------------------------------------
-- another tenant: nothing of alice's, by any function or by reading
------------------------------------------------------------------------
SELECT set_config('request.jwt.claims', '{"sub": "bob", "role": "authenticated"}', false) IS NOT NULL AS claims_set;
SET ROLE authenticated;
SELECT pg_temp.try($$SELECT flow_update((SELECT id FROM ids WHERE k = 'wf'), pg_temp.bp('hijack'))$$);
SELECT pg_temp.try($$SELECT * FROM flow_versions((SELECT id FROM ids WHERE k = 'wf'))$$);
SELECT pg_temp.try($$SELECT flow_rollback((SELECT id FROM ids WHERE k = 'wf'), 1)$$);
SELECT pg_temp.try($$SELECT flow_delete((SELECT id FROM ids WHERE k = 'wf'))$$);
SELECT count(*) AS visible_versions FROM flowdb.workflow_versions;
-- bob's on_failure cannot name alice's workflow, even by id
SELECT pg_temp.try(format($$SELECT flow_save(pg_temp.bp('bob', extra => '{"on_failure": {"workflow": "%s"}}'))$$,
	(SELECT id FROM ids WHERE k = 'wf')));
RESET ROLE;
SELECT count(*) AS alice_versions, max(version) AS alice_current
FROM flowdb.workflow_versions WHERE workflow_id = (SELECT id FROM ids WHERE k = 'wf');

-- anonymous callers cannot call them
SET ROLE anon;
SELECT pg_temp.try($$SELECT flow_update((SELECT id FROM ids WHERE k = 'wf'), pg_temp.bp('anon'))$$);
SELECT pg_temp.try($$SELECT flow_delete((SELECT id FROM ids WHERE k = 'wf'))$$);
RESET ROLE;

------------------------------------------------------------------------
-- on_failure: the target is checked when a workflow is saved
------------------------------------------------------------------------
SELECT set_config('request.jwt.claims', '{"sub": "alice", "role": "authenticated"}', false) IS NOT NULL AS claims_set;
SET ROLE authenticated;
SELECT pg_temp.try($$SELECT flow_save(pg_temp.bp('charge', extra => '{"on_failure": {"workflow": "nobody"}}'))$$);
SELECT pg_temp.try($$SELECT flow_save(pg_temp.bp('charge', extra => '{"on_failure": {"workflow": "charge"}}'))$$);
SELECT pg_temp.try($$SELECT flow_save(pg_temp.bp('charge', extra => '{"on_failure": "alerts"}'))$$);
INSERT INTO ids SELECT 'alerts', flow_save(pg_temp.bp('alerts'));
INSERT INTO ids SELECT 'dup1', flow_save(pg_temp.bp('dup'));
INSERT INTO ids SELECT 'dup2', flow_save(pg_temp.bp('dup'));
SELECT pg_temp.try($$SELECT flow_save(pg_temp.bp('charge', extra => '{"on_failure": {"workflow": "dup"}}'))$$);
INSERT INTO ids SELECT 'charge', flow_save(pg_temp.bp('charge', extra => '{"on_failure": {"workflow": "alerts"}}'));
INSERT INTO ids SELECT 'charge_by_id', flow_save(pg_temp.bp('charge by id',
	extra => jsonb_build_object('on_failure', jsonb_build_object('workflow', (SELECT id FROM ids WHERE k = 'dup1')))));
-- an update naming itself is refused too (by id)
SELECT pg_temp.try(format($$SELECT flow_update('%s', pg_temp.bp('charge', extra => '{"on_failure": {"workflow": "%s"}}'))$$,
	(SELECT id FROM ids WHERE k = 'charge'), (SELECT id FROM ids WHERE k = 'charge')));
SELECT count(*) AS charge_workflows FROM flowdb.workflows WHERE name LIKE 'charge%';
INSERT INTO ids SELECT 'crun', flow_run((SELECT id FROM ids WHERE k = 'charge'));
INSERT INTO ids SELECT 'crun2', flow_run((SELECT id FROM ids WHERE k = 'charge'));
RESET ROLE;

------------------------------------------------------------------------
-- on_failure: a failing run starts the handler in the same transaction
------------------------------------------------------------------------
-- what the worker commits when node "a" fails for good
UPDATE flowdb.runs SET status = 'failed', error = 'node a failed: HTTP 402',
	state = '{"nodes": {"a": {"status": "failed", "error": "HTTP 402"}}, "error": "node a failed: HTTP 402", "failed_node": "a"}',
	finished_at = now()
WHERE id = (SELECT id FROM ids WHERE k = 'crun');
INSERT INTO ids SELECT 'handler', id FROM flowdb.runs WHERE failure_of = (SELECT id FROM ids WHERE k = 'crun');
SELECT r.owner, r.status, r.workflow_id = (SELECT id FROM ids WHERE k = 'alerts') AS alerts_workflow,
	   r.workflow_version, r.payload ->> 'workflow' AS workflow, r.payload ->> 'node' AS node,
	   r.payload ->> 'error' AS error,
	   r.payload ->> 'run_id' = (SELECT id FROM ids WHERE k = 'crun')::text AS names_failed_run,
	   r.payload ->> 'workflow_id' = (SELECT id FROM ids WHERE k = 'charge')::text AS names_workflow
FROM flowdb.runs r WHERE r.id = (SELECT id FROM ids WHERE k = 'handler');
-- flow_status of the handler run names the failed run
SELECT flow_status((SELECT id FROM ids WHERE k = 'handler')) ->> 'failure_of'
	   = (SELECT id FROM ids WHERE k = 'crun')::text AS status_names_failed_run;
SELECT node_id, status, error, output ->> 'run_id' = (SELECT id FROM ids WHERE k = 'handler')::text AS names_handler
FROM flowdb.workflow_logs WHERE run_id = (SELECT id FROM ids WHERE k = 'crun');
-- the handler failing starts nothing more (its own blueprint has no
-- on_failure; give it one to prove the cap)
UPDATE flowdb.runs SET blueprint = blueprint || '{"on_failure": {"workflow": "charge"}}'
WHERE id = (SELECT id FROM ids WHERE k = 'handler');
UPDATE flowdb.runs SET status = 'failed', error = 'node a failed: boom', finished_at = now()
WHERE id = (SELECT id FROM ids WHERE k = 'handler');
SELECT count(*) AS runs_after_handler_failed FROM flowdb.runs
WHERE failure_of = (SELECT id FROM ids WHERE k = 'handler');
-- a canceled run starts nothing
UPDATE flowdb.runs SET status = 'canceled', finished_at = now() WHERE id = (SELECT id FROM ids WHERE k = 'crun2');
SELECT count(*) AS after_cancel FROM flowdb.runs WHERE failure_of = (SELECT id FROM ids WHERE k = 'crun2');

------------------------------------------------------------------------
-- flow_delete
------------------------------------------------------------------------
-- one finished run (succeeded) and one queued run of the workflow "wf"
UPDATE flowdb.runs SET status = 'succeeded', finished_at = now() WHERE id = (SELECT id FROM ids WHERE k = 'run1');
-- a table trigger naming the workflow blocks the deletion
CREATE TABLE public.orders160 (id int);
CREATE TRIGGER orders_flow AFTER INSERT ON public.orders160
	FOR EACH ROW EXECUTE FUNCTION flow_trigger('00000000-0000-0000-0000-000000000000');
DO $$
BEGIN
	EXECUTE format('CREATE TRIGGER orders_wf AFTER INSERT ON public.orders160 FOR EACH ROW EXECUTE FUNCTION flow_trigger(%L)',
				   (SELECT id FROM ids WHERE k = 'wf'));
END
$$;
SET ROLE authenticated;
SELECT pg_temp.try($$SELECT flow_delete((SELECT id FROM ids WHERE k = 'wf'))$$);
RESET ROLE;
DROP TABLE public.orders160;

-- the handler of "charge" is deleted: a later failure logs why nothing started
SET ROLE authenticated;
SELECT flow_delete((SELECT id FROM ids WHERE k = 'alerts')) - 'workflow_id' AS deleted_alerts;
SELECT flow_delete(workflow_id => (SELECT id FROM ids WHERE k = 'wf')) - 'workflow_id' AS deleted;
SELECT pg_temp.try($$SELECT flow_delete((SELECT id FROM ids WHERE k = 'wf'))$$) AS again;
-- finished runs stay readable, with their version; the queued one was canceled
SELECT k, r.status, r.workflow_id, r.workflow_version, r.error,
	   flow_status(r.id) ->> 'name' AS status_name
FROM ids JOIN flowdb.runs r ON r.id = ids.id WHERE k IN ('run1', 'run2') ORDER BY k;
SELECT count(*) AS versions_left FROM flowdb.workflow_versions WHERE workflow_id = (SELECT id FROM ids WHERE k = 'wf');
SELECT pg_temp.try($$SELECT flow_run((SELECT id FROM ids WHERE k = 'wf'))$$);
RESET ROLE;
INSERT INTO ids SELECT 'crun3', flow_run((SELECT id FROM ids WHERE k = 'charge'))
FROM (SELECT set_config('request.jwt.claims', '{"sub": "alice", "role": "authenticated"}', true)) s;
UPDATE flowdb.runs SET status = 'failed', error = 'node a failed: x', finished_at = now()
WHERE id = (SELECT id FROM ids WHERE k = 'crun3');
SELECT node_id, status, error FROM flowdb.workflow_logs WHERE run_id = (SELECT id FROM ids WHERE k = 'crun3');
SELECT count(*) AS crun3_handlers FROM flowdb.runs WHERE failure_of = (SELECT id FROM ids WHERE k = 'crun3');

RESET request.jwt.claims;
DELETE FROM flowdb.runs WHERE owner IN ('alice', 'bob');
DELETE FROM flowdb.workflows WHERE owner IN ('alice', 'bob');
