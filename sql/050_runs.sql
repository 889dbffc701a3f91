--
-- 050_runs: queueing runs (flow_execute, flow_save + flow_run), run
-- control (flow_status, flow_cancel, flow_retry), activation, and the
-- NOTIFY sent when runs are queued.  flowdb.workers = 0: runs stay queued.
--
\set VERBOSITY default
\set SHOW_CONTEXT never

-- run a statement; print its SQLSTATE and message with uuids masked
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM,
		'[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '<uuid>', 'g');
END
$$;

\set bp '{"version": 1, "name": "Ping", "trigger": {"type": "manual"}, "nodes": [{"id": "a", "type": "set", "values": {"x": "{{ trigger_data.x }}"}}, {"id": "b", "type": "action", "service": "http", "task": "request", "params": {"url": "https://example.com/{{ steps.a.output.x }}"}}], "edges": [{"from": "a", "to": "b"}]}'

------------------------------------------------------------------------
-- flow_execute
------------------------------------------------------------------------
SELECT flow_execute(:'bp', '{"x": 1}') AS run1 \gset
SELECT :'run1'::uuid IS NOT NULL AS is_uuid;
SELECT status, payload, blueprint = :'bp'::jsonb AS blueprint_stored,
       owner = current_user AS owner_is_role, workflow_id, state, error,
       next_at <= now() AS due_now, lease_owner, started_at, finished_at
FROM flowdb.runs WHERE id = :'run1';
-- payload defaults to {} (also when NULL is passed)
SELECT flow_execute(:'bp') AS run2 \gset
SELECT flow_execute(:'bp', NULL) AS run3 \gset
SELECT id = :'run2' AS is_run2, payload FROM flowdb.runs WHERE id IN (:'run2', :'run3') ORDER BY id = :'run2' DESC;
-- named arguments, as PostgREST calls it
SELECT flow_execute(blueprint => :'bp', payload => '{"x": "named"}') IS NOT NULL AS named_call;
SELECT count(*) AS queued FROM flowdb.runs WHERE status = 'queued';

-- a rolled-back flow_execute leaves nothing behind
BEGIN;
SELECT flow_execute(:'bp', '{"x": "rolled back"}') IS NOT NULL AS queued_in_transaction;
ROLLBACK;
SELECT count(*) AS runs_with_that_payload FROM flowdb.runs WHERE payload ->> 'x' = 'rolled back';

------------------------------------------------------------------------
-- flow_save + flow_run
------------------------------------------------------------------------
SELECT flow_save(:'bp') AS wf \gset
SELECT name, active, owner = current_user AS owner_is_role, blueprint = :'bp'::jsonb AS blueprint_stored,
       warnings, last_fired_at
FROM flowdb.workflows WHERE id = :'wf';
SELECT flow_run(:'wf', '{"x": 2}') AS run4 \gset
SELECT workflow_id = :'wf' AS from_workflow, status, payload FROM flowdb.runs WHERE id = :'run4';
SELECT flow_run(workflow_id => :'wf') IS NOT NULL AS named_call_default_payload;
-- unknown workflow id: P0002
SELECT flow_run('00000000-0000-0000-0000-000000000000', '{}');
\echo :LAST_ERROR_SQLSTATE
SELECT flow_run(NULL, '{}');
\echo :LAST_ERROR_SQLSTATE
-- saved inactive
SELECT flow_save(:'bp', false) AS wf_inactive \gset
SELECT active FROM flowdb.workflows WHERE id = :'wf_inactive';
-- an invalid blueprint is not saved (22023)
SELECT flow_save('{"version": 1, "name": "bad", "trigger": {"type": "manual"}, "nodes": []}');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS workflows FROM flowdb.workflows;

------------------------------------------------------------------------
-- flow_activate / flow_deactivate: true when the state changed
------------------------------------------------------------------------
SELECT flow_deactivate(:'wf') AS changed;
SELECT flow_deactivate(:'wf') AS changed_again;
SELECT active FROM flowdb.workflows WHERE id = :'wf';
SELECT flow_activate(:'wf') AS changed;
SELECT flow_activate(workflow_id => :'wf') AS changed_again;
SELECT active FROM flowdb.workflows WHERE id = :'wf';
SELECT flow_activate('00000000-0000-0000-0000-000000000000');
\echo :LAST_ERROR_SQLSTATE
SELECT flow_deactivate('00000000-0000-0000-0000-000000000000');
\echo :LAST_ERROR_SQLSTATE

------------------------------------------------------------------------
-- flow_status
------------------------------------------------------------------------
SELECT array_agg(k ORDER BY k) AS keys FROM jsonb_object_keys(flow_status(:'run1')) k;
SELECT s ->> 'id' = :'run1' AS same_id, s -> 'workflow_id' AS workflow_id, s ->> 'name' AS name,
       s ->> 'status' AS status, s -> 'error' AS error, s -> 'nodes' AS nodes, s -> 'steps' AS steps,
       s ->> 'created_at' IS NOT NULL AS has_created_at, s -> 'started_at' AS started_at,
       s -> 'finished_at' AS finished_at
FROM flow_status(:'run1') s;
SELECT flow_status(:'run4') ->> 'workflow_id' = :'wf' AS status_names_workflow;
SELECT flow_status(run_id => :'run1') ->> 'status' AS named_call;
-- steps come from flowdb.workflow_logs, in order (rows written here as the
-- worker would)
INSERT INTO flowdb.workflow_logs (run_id, owner, node_id, status, attempt, input, output, error, finished_at, duration_ms)
VALUES (:'run4', current_user, 'a', 'succeeded', 1, '{"x": 2}', '{"x": 2}', NULL, now(), 1.5),
       (:'run4', current_user, 'b', 'retrying', 1, '{"url": "https://example.com/2"}', NULL, 'HTTP 503', now(), 20),
       (:'run4', current_user, 'b', 'started', 2, '{"url": "https://example.com/2"}', NULL, NULL, NULL, NULL);
SELECT ord, (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(st) k) AS keys
FROM jsonb_array_elements(flow_status(:'run4') -> 'steps') WITH ORDINALITY AS x(st, ord) WHERE ord = 1;
SELECT st ->> 'node_id' AS node_id, st ->> 'status' AS status, st -> 'attempt' AS attempt, st -> 'input' AS input,
       st -> 'output' AS output, st -> 'error' AS error, st -> 'duration_ms' AS duration_ms
FROM jsonb_array_elements(flow_status(:'run4') -> 'steps') WITH ORDINALITY AS x(st, ord) ORDER BY ord;
SELECT flow_status('00000000-0000-0000-0000-000000000000');
\echo :LAST_ERROR_SQLSTATE

------------------------------------------------------------------------
-- flow_cancel: true once, then false; the run is canceled
------------------------------------------------------------------------
SELECT flow_cancel(:'run2') AS canceled;
SELECT flow_cancel(:'run2') AS canceled_again;
SELECT status, error = 'canceled by ' || current_user AS error_names_canceler,
       finished_at IS NOT NULL AS finished, next_at = 'infinity' AS parked, lease_owner
FROM flowdb.runs WHERE id = :'run2';
SELECT flow_status(:'run2') ->> 'status' AS status;
SELECT flow_cancel('00000000-0000-0000-0000-000000000000');
\echo :LAST_ERROR_SQLSTATE
-- finished runs cannot be canceled
UPDATE flowdb.runs SET status = 'succeeded', finished_at = now() WHERE id = :'run3';
SELECT flow_cancel(:'run3') AS canceled_succeeded;
SELECT status FROM flowdb.runs WHERE id = :'run3';

------------------------------------------------------------------------
-- flow_retry
------------------------------------------------------------------------
-- only failed or canceled runs: a queued one is 55000, unknown is P0002
SELECT pg_temp.try(format('SELECT flow_retry(%L)', :'run1')) AS queued_run;
SELECT pg_temp.try(format('SELECT flow_retry(%L)', :'run3')) AS succeeded_run;
SELECT flow_retry('00000000-0000-0000-0000-000000000000');
\echo :LAST_ERROR_SQLSTATE

-- a failed run (simulated as superuser): node a succeeded, node b failed
UPDATE flowdb.runs
SET status = 'failed', error = 'node b: HTTP 404', started_at = now(), finished_at = now(),
    next_at = 'infinity',
    state = '{"nodes": {"a": {"status": "succeeded", "attempt": 1, "output": {"x": 1}},
                        "b": {"status": "failed", "attempt": 3, "error": "HTTP 404"}}}'
WHERE id = :'run1';
SELECT flow_retry(:'run1') = :'run1' AS same_run;
SELECT status, error, finished_at, next_at <= now() AS due_now, lease_owner,
       state -> 'nodes' AS nodes, state -> 'retries' AS retries
FROM flowdb.runs WHERE id = :'run1';
-- retrying it again once it failed again counts the retries
UPDATE flowdb.runs SET status = 'failed', finished_at = now(),
    state = jsonb_set(state, '{nodes,b}', '{"status": "failed", "attempt": 1, "error": "HTTP 500"}')
WHERE id = :'run1';
SELECT flow_retry(run_id => :'run1') = :'run1' AS same_run;
SELECT status, state -> 'nodes' AS nodes, state -> 'retries' AS retries FROM flowdb.runs WHERE id = :'run1';
-- a canceled run can be retried too
SELECT flow_retry(:'run2') = :'run2' AS same_run;
SELECT status, error, finished_at FROM flowdb.runs WHERE id = :'run2';

------------------------------------------------------------------------
-- flowdb.prune: finished runs older than the retention, with their logs
------------------------------------------------------------------------
UPDATE flowdb.runs SET status = 'succeeded', finished_at = now() - interval '31 days' WHERE id = :'run4';
UPDATE flowdb.runs SET finished_at = now() - interval '2 days' WHERE id = :'run3';
SELECT count(*) AS runs_before FROM flowdb.runs \gset
SELECT flowdb.prune() AS pruned_after_retention_days;
SELECT count(*) AS logs_of_pruned_run FROM flowdb.workflow_logs WHERE run_id = :'run4';
SELECT count(*) AS run3_kept FROM flowdb.runs WHERE id = :'run3';
SELECT flowdb.prune(interval '1 day') AS pruned_older_than_a_day;
SELECT flowdb.prune(interval '1 day') AS pruned_again;
SELECT :runs_before - count(*) AS runs_removed FROM flowdb.runs;
SELECT count(*) AS unfinished_runs_kept FROM flowdb.runs WHERE finished_at IS NULL AND id IN (:'run1', :'run2');

------------------------------------------------------------------------
-- NOTIFY flowdb_runs when a run is queued (listened to from a second
-- session, so the listener's pid is not printed)
------------------------------------------------------------------------
CREATE EXTENSION dblink;
SELECT dblink_connect('listener', format('dbname=%s host=%s port=%s', current_database(),
         coalesce(nullif(split_part(current_setting('unix_socket_directories'), ',', 1), ''), 'localhost'),
         current_setting('port')));
SELECT dblink_exec('listener', 'LISTEN flowdb_runs');
SELECT flow_execute(:'bp', '{"x": "notify"}') IS NOT NULL AS queued;
-- a round trip delivers pending notifications to the listener
SELECT x FROM dblink('listener', 'SELECT 1') AS t(x int);
SELECT notify_name, extra FROM dblink_get_notify('listener');
-- nothing is announced for a rolled-back run
BEGIN;
SELECT flow_execute(:'bp', '{"x": "rolled back"}') IS NOT NULL AS queued;
ROLLBACK;
SELECT x FROM dblink('listener', 'SELECT 1') AS t(x int);
SELECT notify_name, extra FROM dblink_get_notify('listener');
-- several runs in one transaction: one notification
BEGIN;
SELECT flow_execute(:'bp', '{"x": "one"}') IS NOT NULL AS queued;
SELECT flow_execute(:'bp', '{"x": "two"}') IS NOT NULL AS queued;
COMMIT;
SELECT x FROM dblink('listener', 'SELECT 1') AS t(x int);
SELECT notify_name, extra FROM dblink_get_notify('listener');
SELECT dblink_disconnect('listener');
DROP EXTENSION dblink;

------------------------------------------------------------------------
-- lease token and crash count: flow_cancel and flow_retry clear the token
-- (a copy of the run from the old claim can no longer commit); flow_retry
-- resets the crash count
------------------------------------------------------------------------
SELECT flow_execute(:'bp', '{"x": "lease"}') AS run5 \gset
SELECT lease_token IS NULL AS no_token_when_queued, crashes FROM flowdb.runs WHERE id = :'run5';
UPDATE flowdb.runs SET status = 'running', lease_owner = 0, lease_until = now() + interval '1 min',
  lease_token = gen_random_uuid(), crashes = 2 WHERE id = :'run5';
SELECT flow_cancel(:'run5') AS canceled;
SELECT lease_owner, lease_token, crashes FROM flowdb.runs WHERE id = :'run5';
UPDATE flowdb.runs SET lease_token = gen_random_uuid() WHERE id = :'run5';
SELECT flow_retry(:'run5') = :'run5' AS retried;
SELECT status, lease_owner, lease_token, crashes FROM flowdb.runs WHERE id = :'run5';

-- clean up
DELETE FROM flowdb.runs;
DELETE FROM flowdb.workflows;
