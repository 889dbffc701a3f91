--
-- 171_dry_run: dry runs (sandboxed runs whatever flowdb.sandbox says).
-- sandbox => true of flow_execute / flow_run and the workflow flag
-- (flow_set_sandbox) are recorded on the run at enqueue (runs.sandbox),
-- shown by flow_status, kept by resumes and retries, honoured by every way
-- a workflow starts (events, table triggers, schedules), and can never be
-- turned off by a caller.  flowdb.workers = 0: runs stay queued (the
-- worker's side is test/t/053_dry_run.pl).
--
\set VERBOSITY default
\set SHOW_CONTEXT never

-- run a statement as the current role; print its SQLSTATE and message
-- with uuids masked
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM,
		'[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '<uuid>', 'g');
END
$$;
GRANT EXECUTE ON FUNCTION pg_temp.try(text) TO PUBLIC;

\set bp '{"version": 1, "name": "Dry", "trigger": {"type": "manual"}, "nodes": [{"id": "a", "type": "action", "service": "http", "task": "request", "params": {"url": "http://127.0.0.1:9/hook", "method": "POST", "body": {"x": "{{ trigger_data.x }}"}}}]}'

SELECT set_config('request.jwt.claims', '{"sub": "dry-shop", "role": "authenticated"}', false) IS NOT NULL AS claims_set;
SET ROLE authenticated;

------------------------------------------------------------------------
-- sandbox => true on flow_execute; the old call forms still work
------------------------------------------------------------------------
SELECT flow_execute(:'bp') AS live \gset
SELECT flow_execute(:'bp', '{"x": 1}') AS live2 \gset
SELECT flow_execute(:'bp', '{"x": 1}', true) AS dry \gset
SELECT flow_execute(blueprint => :'bp', payload => '{"x": 2}', sandbox => true) AS dry_named \gset
SELECT flow_execute(blueprint => :'bp', sandbox => true) AS dry_no_payload \gset
-- NULL means "not asked": the server's setting decides, as without it
SELECT flow_execute(:'bp', '{}', NULL) AS null_flag \gset
SELECT id = :'live' AS live, id = :'live2' AS live2, sandbox, payload
FROM flowdb.runs
WHERE id IN (:'live', :'live2', :'dry', :'dry_named', :'dry_no_payload', :'null_flag')
ORDER BY created_at, id = :'live' DESC, id = :'live2' DESC, payload::text;
SELECT count(*) FILTER (WHERE sandbox) AS dry_runs, count(*) AS runs
FROM flowdb.runs WHERE owner = 'dry-shop';

-- flow_status says so
SELECT flow_status(:'dry') -> 'sandbox' AS dry_status, flow_status(:'live') -> 'sandbox' AS live_status;

------------------------------------------------------------------------
-- a draft (inactive) workflow, dry-run with flow_run, then activated
------------------------------------------------------------------------
SELECT flow_save(:'bp', active => false) AS draft \gset
SELECT flow_run(:'draft', '{"x": "review"}', sandbox => true) AS draft_dry \gset
SELECT status, sandbox, workflow_id = :'draft' AS of_draft, payload
FROM flowdb.runs WHERE id = :'draft_dry';
SELECT flow_status(:'draft_dry') ->> 'sandbox' AS draft_dry_status;
-- the old one- and two-argument forms
SELECT flow_run(:'draft') AS one_arg \gset
SELECT flow_run(:'draft', '{}') AS two_args \gset
SELECT id = :'one_arg' AS one_arg, sandbox FROM flowdb.runs
WHERE id IN (:'one_arg', :'two_args') ORDER BY 1 DESC;
SELECT flow_activate(:'draft') AS activated;

------------------------------------------------------------------------
-- the workflow flag: every run of it is a dry run, however started
------------------------------------------------------------------------
SELECT flow_save('{"version": 1, "name": "Review", "trigger": {"type": "event", "event": "dry.order"},
                   "nodes": [{"id": "a", "type": "action", "service": "http", "task": "request",
                              "params": {"url": "http://127.0.0.1:9/event"}}]}') AS review \gset
SELECT flow_set_sandbox(:'review') AS flagged, flow_set_sandbox(:'review') AS flagged_again,
       flow_set_sandbox(workflow_id => :'review', sandbox => true) AS named_call;
SELECT sandbox AS workflow_flag FROM flowdb.workflows WHERE id = :'review';
-- flow_run, with or without the argument: a caller cannot turn it off
SELECT flow_run(:'review') AS run_default \gset
SELECT flow_run(:'review', '{}', false) AS run_false \gset
SELECT flow_run(workflow_id => :'review', sandbox => NULL) AS run_null \gset
SELECT CASE id WHEN :'run_default' THEN 'default' WHEN :'run_false' THEN 'false' ELSE 'null' END AS asked,
       sandbox
FROM flowdb.runs WHERE id IN (:'run_default', :'run_false', :'run_null') ORDER BY 1;
-- an event starts the active workflow: a dry run
SELECT cardinality(flow_send_event('dry.order', '{"order": 7}')) AS started;
SELECT sandbox, payload FROM flowdb.runs
WHERE workflow_id = :'review' AND payload ->> 'order' = '7';

RESET ROLE;
-- a table trigger too (schedules go through the same flowdb.enqueue)
SET ROLE authenticated;
SELECT flow_save('{"version": 1, "name": "Rows", "trigger": {"type": "table", "table": "dry_orders"},
                   "nodes": [{"id": "a", "type": "set", "values": {"id": "{{ trigger_data.id }}"}}]}') AS rows_wf \gset
SELECT flow_set_sandbox(:'rows_wf') AS rows_flagged;
RESET ROLE;
CREATE TABLE dry_orders (id int);
SELECT set_config('dry.rows_wf', :'rows_wf', false) IS NOT NULL AS remembered;
DO $$
BEGIN
	EXECUTE format('CREATE TRIGGER dry_orders_flow AFTER INSERT ON dry_orders FOR EACH ROW EXECUTE FUNCTION flow_trigger(%L)',
				   current_setting('dry.rows_wf'));
END
$$;
INSERT INTO dry_orders VALUES (1);
SELECT w.name, r.sandbox FROM flowdb.runs r JOIN flowdb.workflows w ON w.id = r.workflow_id
WHERE r.workflow_id = :'rows_wf';
DROP TABLE dry_orders;

------------------------------------------------------------------------
-- resumes and retries keep the flag
------------------------------------------------------------------------
SET ROLE authenticated;
SELECT flow_execute('{"version": 1, "name": "Wait", "trigger": {"type": "manual"},
                      "nodes": [{"id": "w", "type": "wait_event", "event": "dry.ok"}]}', '{}', true) AS waiting \gset
RESET ROLE;
-- the worker parks the run on w (emulated: this suite runs no workers)
UPDATE flowdb.runs SET status = 'waiting', next_at = 'infinity',
	state = '{"nodes": {"w": {"status": "waiting", "event": "dry.ok"}}}'
WHERE id = :'waiting';
SET ROLE authenticated;
SELECT flow_approve(:'waiting', 'w') AS approved;
RESET ROLE;
SELECT status, sandbox FROM flowdb.runs WHERE id = :'waiting';
UPDATE flowdb.runs SET status = 'failed', error = 'boom', finished_at = now() WHERE id = :'waiting';
SET ROLE authenticated;
SELECT flow_retry(:'waiting') = :'waiting' AS retried;
SELECT status, sandbox FROM flowdb.runs WHERE id = :'waiting';

-- unflagging does not change runs already queued; later runs send again
SELECT flow_set_sandbox(:'review', false) AS unflagged;
SELECT count(*) FILTER (WHERE NOT sandbox) AS live_before FROM flowdb.runs WHERE workflow_id = :'review';
SELECT flow_run(:'review') AS live_after \gset
SELECT sandbox AS live_after FROM flowdb.runs WHERE id = :'live_after';

------------------------------------------------------------------------
-- hostile callers
------------------------------------------------------------------------
-- the flag cannot be written directly (reads only; writes go through the
-- functions)
SELECT pg_temp.try(format('UPDATE flowdb.runs SET sandbox = false WHERE id = %L', :'dry')) AS update_run;
SELECT pg_temp.try(format('UPDATE flowdb.workflows SET sandbox = false WHERE id = %L', :'review')) AS update_workflow;
SELECT pg_temp.try(format('INSERT INTO flowdb.runs (owner, blueprint, sandbox) VALUES (%L, %L, false)', 'dry-shop', :'bp')) AS insert_run;
-- bad arguments
SELECT pg_temp.try('SELECT flow_set_sandbox(NULL)') AS null_id;
SELECT pg_temp.try(format('SELECT flow_set_sandbox(%L, NULL)', :'review')) AS null_flag;
SELECT pg_temp.try('SELECT flow_set_sandbox(''00000000-0000-0000-0000-000000000000'')') AS unknown_id;
SELECT pg_temp.try('SELECT flow_execute(NULL, ''{}'', true)') AS null_blueprint;
SELECT pg_temp.try(format('SELECT flow_execute(%L, ''{}'', ''maybe'')', :'bp')) AS not_a_boolean;
-- another owner cannot flag, unflag or dry-run someone else's workflow
SELECT set_config('request.jwt.claims', '{"sub": "dry-mallory", "role": "authenticated"}', false) IS NOT NULL AS claims_set;
SELECT pg_temp.try(format('SELECT flow_set_sandbox(%L, false)', :'review')) AS other_unflag;
SELECT pg_temp.try(format('SELECT flow_run(%L, ''{}'', true)', :'draft')) AS other_run;
SELECT count(*) AS visible_to_other FROM flowdb.runs WHERE owner = 'dry-shop';
RESET ROLE;
-- anonymous callers: no EXECUTE
SET ROLE anon;
SELECT pg_temp.try(format('SELECT flow_set_sandbox(%L)', :'review')) AS anon_flag;
SELECT pg_temp.try(format('SELECT flow_execute(%L, ''{}'', true)', :'bp')) AS anon_execute;
RESET ROLE;
SELECT sandbox AS review_still_unflagged FROM flowdb.workflows WHERE id = :'review';
SELECT set_config('request.jwt.claims', '', false) IS NOT NULL AS claims_reset;

-- clean up
DELETE FROM flowdb.runs WHERE owner = 'dry-shop';
DELETE FROM flowdb.workflows WHERE owner = 'dry-shop';
