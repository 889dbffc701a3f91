--
-- 091_backpressure: flowdb.max_queued_per_owner.  Past the limit every way
-- of starting a run (flow_execute, flow_run, events, table triggers) fails
-- with 53400 and a hint, and writes nothing; other owners are not affected.
--
\set VERBOSITY default
\set SHOW_CONTEXT never

SELECT current_setting('flowdb.max_queued_per_owner') AS default_limit;
SET flowdb.max_queued_per_owner = 4;
SET request.jwt.claims = '{"sub": "bp-shop"}';

SELECT flow_save('{"version": 1, "name": "bp manual", "trigger": {"type": "manual"},
                   "nodes": [{"id": "n", "type": "router"}]}') AS wf \gset
-- three workflows listen to one event
SELECT count(flow_save(format('{"version": 1, "name": "bp on paid %s",
                   "trigger": {"type": "event", "event": "bp.paid"},
                   "nodes": [{"id": "n", "type": "router"}]}', g)::jsonb))
FROM generate_series(1, 3) g;
SELECT flow_save('{"version": 1, "name": "bp table", "trigger": {"type": "table", "table": "bp_orders"},
                   "nodes": [{"id": "n", "type": "router"}]}') AS wf_table \gset
RESET request.jwt.claims;
CREATE TABLE bp_orders (id int);
SELECT set_config('bp.wf_table', :'wf_table', false) IS NOT NULL AS ok;
DO $$
BEGIN
	EXECUTE format('CREATE TRIGGER bp_orders_flow AFTER INSERT ON bp_orders FOR EACH ROW EXECUTE FUNCTION flow_trigger(%L)',
				   current_setting('bp.wf_table'));
END
$$;
SET request.jwt.claims = '{"sub": "bp-shop"}';

-- two runs: below the limit
SELECT flow_execute('{"version": 1, "name": "bp", "trigger": {"type": "manual"},
                      "nodes": [{"id": "n", "type": "router"}]}') IS NOT NULL AS queued;
SELECT flow_run(:'wf') IS NOT NULL AS queued;
SELECT count(*) AS unfinished FROM flowdb.runs WHERE owner = 'bp-shop';

-- the event would make 5 of 4: it starts none of its three workflows
SELECT flow_send_event('bp.paid', '{}');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS unfinished FROM flowdb.runs WHERE owner = 'bp-shop';

-- two more reach the limit; the fifth fails, whichever way it comes
SELECT flow_run(:'wf') IS NOT NULL AS queued;
INSERT INTO bp_orders VALUES (1);
SELECT count(*) AS unfinished FROM flowdb.runs WHERE owner = 'bp-shop';
SELECT flow_run(:'wf');
\echo :LAST_ERROR_SQLSTATE
SELECT flow_execute('{"version": 1, "name": "bp", "trigger": {"type": "manual"},
                      "nodes": [{"id": "n", "type": "router"}]}');
\echo :LAST_ERROR_SQLSTATE
-- a table trigger past the limit fails the insert: the row is not written
INSERT INTO bp_orders VALUES (2);
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS orders FROM bp_orders;
SELECT count(*) AS unfinished FROM flowdb.runs WHERE owner = 'bp-shop';

-- waiting runs count too; finished ones do not
RESET request.jwt.claims;
UPDATE flowdb.runs SET status = 'waiting' WHERE owner = 'bp-shop' AND workflow_id IS NULL;
UPDATE flowdb.runs SET status = 'succeeded', finished_at = now()
WHERE id = (SELECT id FROM flowdb.runs WHERE owner = 'bp-shop' AND status = 'queued' LIMIT 1);
SET request.jwt.claims = '{"sub": "bp-shop"}';
SELECT flow_run(:'wf') IS NOT NULL AS queued;
SELECT flow_run(:'wf');
\echo :LAST_ERROR_SQLSTATE

-- another owner is not affected
SET request.jwt.claims = '{"sub": "bp-other"}';
SELECT flow_execute('{"version": 1, "name": "bp", "trigger": {"type": "manual"},
                      "nodes": [{"id": "n", "type": "router"}]}') IS NOT NULL AS queued;

-- 0 means no limit
SET request.jwt.claims = '{"sub": "bp-shop"}';
SET flowdb.max_queued_per_owner = 0;
SELECT cardinality(flow_send_event('bp.paid', '{}')) AS started;

-- only a superuser may change the limit
RESET request.jwt.claims;
RESET flowdb.max_queued_per_owner;
CREATE ROLE bp_user;
SET ROLE bp_user;
SET flowdb.max_queued_per_owner = 1000000;
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
DROP ROLE bp_user;
DROP TABLE bp_orders;
