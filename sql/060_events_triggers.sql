--
-- 060_events_triggers: events (flow_send_event), waiting runs
-- (wait_event, flow_approve), table triggers (flow_trigger) and schedules
-- (flowdb.cron_matches, flowdb.fire_schedules).
--
\set VERBOSITY default
\set SHOW_CONTEXT never

------------------------------------------------------------------------
-- flow_send_event starts the caller's active workflows of that event
------------------------------------------------------------------------
SELECT flow_save('{"version": 1, "name": "On order A", "trigger": {"type": "event", "event": "shop.order_paid"},
                   "nodes": [{"id": "n", "type": "set", "values": {"order": "{{ trigger_data.order }}"}}]}') AS wf_a \gset
SELECT flow_save('{"version": 1, "name": "On order B", "trigger": {"type": "webhook", "event": "shop.order_paid"},
                   "nodes": [{"id": "n", "type": "router"}]}') AS wf_b \gset
SELECT flow_save('{"version": 1, "name": "On order, inactive", "trigger": {"type": "event", "event": "shop.order_paid"},
                   "nodes": [{"id": "n", "type": "router"}]}', false) AS wf_off \gset
SELECT flow_save('{"version": 1, "name": "Other event", "trigger": {"type": "event", "event": "shop.refunded"},
                   "nodes": [{"id": "n", "type": "router"}]}') AS wf_other \gset
SELECT flow_save('{"version": 1, "name": "Manual", "trigger": {"type": "manual"},
                   "nodes": [{"id": "n", "type": "router"}]}') AS wf_manual \gset

SELECT flow_send_event('shop.order_paid', '{"order": "o-1", "amount": 100}') AS ids \gset
SELECT cardinality(:'ids'::uuid[]) AS started;
SELECT w.name, r.status, r.payload, r.owner = current_user AS owner_is_role
FROM flowdb.runs r JOIN flowdb.workflows w ON w.id = r.workflow_id
WHERE r.id = ANY (:'ids'::uuid[])
ORDER BY w.name;
-- no active workflow for this event: nothing started
SELECT flow_send_event('shop.nobody_listens', '{}') AS none;
-- default data is {}
SELECT cardinality(flow_send_event(name => 'shop.refunded')) AS started;
SELECT payload FROM flowdb.runs WHERE workflow_id = :'wf_other';
-- the inactive workflow starts once activated
SELECT flow_activate(:'wf_off');
SELECT cardinality(flow_send_event('shop.order_paid', '{"order": "o-2"}')) AS started;
SELECT w.name, count(*) AS runs FROM flowdb.runs r JOIN flowdb.workflows w ON w.id = r.workflow_id
GROUP BY w.name ORDER BY w.name;

-- invalid event names: 22023
SELECT flow_send_event('Shop Order', '{}');
\echo :LAST_ERROR_SQLSTATE
SELECT flow_send_event('nodot', '{}');
\echo :LAST_ERROR_SQLSTATE
SELECT flow_send_event(NULL, '{}');
\echo :LAST_ERROR_SQLSTATE
-- event data is a payload: limited by flowdb.max_payload_bytes
SET flowdb.max_payload_bytes = '1kB';
SELECT flow_send_event('shop.order_paid', jsonb_build_object('blob', repeat('x', 2000)));
\echo :LAST_ERROR_SQLSTATE
RESET flowdb.max_payload_bytes;

DELETE FROM flowdb.runs;

------------------------------------------------------------------------
-- wait_event: a run waiting for shop.approved with a match
------------------------------------------------------------------------
\set waitbp '{"version": 1, "name": "Approve invoice", "trigger": {"type": "manual"}, "nodes": [{"id": "w", "type": "wait_event", "event": "shop.approved", "match": {"invoice": "{{ trigger_data.invoice }}"}}, {"id": "done", "type": "set", "values": {"by": "{{ steps.w.output.by }}"}}], "edges": [{"from": "w", "to": "done"}]}'
INSERT INTO flowdb.runs (id, blueprint, payload, status, state, next_at, started_at)
VALUES ('11111111-1111-1111-1111-111111111111', :'waitbp', '{"invoice": "inv_1"}', 'waiting',
        '{"nodes": {"w": {"status": "waiting", "event": "shop.approved", "match": {"invoice": "inv_1"}}}}',
        'infinity', now());

-- non-matching data (or another event) leaves it waiting
SELECT flow_send_event('shop.approved', '{"invoice": "inv_2", "by": "anil"}') AS resumed;
SELECT flow_send_event('shop.approved', '{"by": "anil"}') AS resumed;
SELECT flow_send_event('shop.rejected', '{"invoice": "inv_1"}') AS resumed;
SELECT status, state -> 'nodes' -> 'w' ->> 'status' AS node, next_at = 'infinity' AS parked
FROM flowdb.runs WHERE id = '11111111-1111-1111-1111-111111111111';

-- matching data resumes the node: status resumed, output = data, due now
SELECT flow_send_event('shop.approved', '{"invoice": "inv_1", "by": "ravi"}') AS resumed;
SELECT status, state -> 'nodes' -> 'w' AS node, next_at <= now() AS due_now
FROM flowdb.runs WHERE id = '11111111-1111-1111-1111-111111111111';
-- it is no longer waiting: a second event does not resume it again
SELECT flow_send_event('shop.approved', '{"invoice": "inv_1", "by": "again"}') AS resumed;
SELECT state -> 'nodes' -> 'w' -> 'output' AS output FROM flowdb.runs WHERE id = '11111111-1111-1111-1111-111111111111';

-- match keys are dotted paths into the data; values compare as JSON
SELECT flowdb.event_matches('{"invoice": {"id": "inv_1"}, "amount": 5}', '{"invoice.id": "inv_1", "amount": 5}') AS nested,
       flowdb.event_matches('{"amount": 5}', '{"amount": "5"}') AS typed,
       flowdb.event_matches('{"a": 1}', NULL) AS no_match_object,
       flowdb.event_matches('{"a": 1}', '{}') AS empty_match;

------------------------------------------------------------------------
-- flow_approve: resume one waiting node of the caller's run
------------------------------------------------------------------------
INSERT INTO flowdb.runs (id, blueprint, payload, status, state, next_at, started_at)
VALUES ('22222222-2222-2222-2222-222222222222', :'waitbp', '{"invoice": "inv_9"}', 'waiting',
        '{"nodes": {"w": {"status": "waiting", "event": "shop.approved", "match": {"invoice": "inv_9"}},
                    "done": {"status": "succeeded", "output": {}}}}',
        'infinity', now());
-- unknown run: P0002
SELECT flow_approve('00000000-0000-0000-0000-000000000000', 'w');
\echo :LAST_ERROR_SQLSTATE
-- a node that is not waiting: 55000
SELECT flow_approve('22222222-2222-2222-2222-222222222222', 'done');
\echo :LAST_ERROR_SQLSTATE
SELECT flow_approve('22222222-2222-2222-2222-222222222222', 'nope');
\echo :LAST_ERROR_SQLSTATE
-- the resumed run of the first part is not waiting any more
SELECT flow_approve('11111111-1111-1111-1111-111111111111', 'w');
\echo :LAST_ERROR_SQLSTATE
-- approve with the default data, then with named arguments and data
SELECT flow_approve('22222222-2222-2222-2222-222222222222', 'w') AS approved;
SELECT state -> 'nodes' -> 'w' ->> 'status' AS node, state -> 'nodes' -> 'w' -> 'output' AS output, next_at <= now() AS due_now
FROM flowdb.runs WHERE id = '22222222-2222-2222-2222-222222222222';
UPDATE flowdb.runs SET next_at = 'infinity',
       state = jsonb_set(state, '{nodes,w}', '{"status": "waiting", "event": "shop.approved"}')
WHERE id = '22222222-2222-2222-2222-222222222222';
SELECT flow_approve(run_id => '22222222-2222-2222-2222-222222222222', node_id => 'w',
                    data => '{"approved": false, "reason": "wrong amount"}') AS approved;
SELECT state -> 'nodes' -> 'w' AS node FROM flowdb.runs WHERE id = '22222222-2222-2222-2222-222222222222';
-- a waiting node of a run that is no longer waiting (canceled): 55000
SELECT flow_cancel('22222222-2222-2222-2222-222222222222') AS canceled;
UPDATE flowdb.runs SET state = jsonb_set(state, '{nodes,w}', '{"status": "waiting", "event": "shop.approved"}')
WHERE id = '22222222-2222-2222-2222-222222222222';
SELECT flow_approve('22222222-2222-2222-2222-222222222222', 'w');
\echo :LAST_ERROR_SQLSTATE

DELETE FROM flowdb.runs;
DELETE FROM flowdb.workflows;

------------------------------------------------------------------------
-- table triggers: flow_trigger('<workflow id>') queues a run per row, in
-- the inserting transaction
------------------------------------------------------------------------
CREATE TABLE orders (id int PRIMARY KEY, customer text, amount numeric);
SELECT flow_save('{"version": 1, "name": "New order", "trigger": {"type": "table", "table": "public.orders"},
                   "nodes": [{"id": "greet", "type": "set", "values": {"msg": "Order {{ trigger_data.id }} by {{ trigger_data.customer }}"}}]}') AS wf_orders \gset
-- the workflow id is the trigger argument (built with format(), so the
-- generated id is not printed)
DO $$
BEGIN
	EXECUTE format('CREATE TRIGGER orders_flow AFTER INSERT ON orders FOR EACH ROW EXECUTE FUNCTION flow_trigger(%L)',
				   (SELECT id FROM flowdb.workflows WHERE name = 'New order'));
END
$$;

INSERT INTO orders VALUES (1, 'Ravi', 500.50);
SELECT count(*) AS runs FROM flowdb.runs;
SELECT workflow_id = :'wf_orders' AS from_workflow, status, payload, owner = current_user AS owner_is_role
FROM flowdb.runs;

-- rolled back with the insert
BEGIN;
INSERT INTO orders VALUES (2, 'Anil', 10);
SELECT count(*) AS runs_in_transaction FROM flowdb.runs;
ROLLBACK;
SELECT count(*) AS runs FROM flowdb.runs;

-- one run per row
INSERT INTO orders VALUES (3, 'Meena', 1), (4, 'Joseph', 2);
SELECT payload ->> 'customer' AS customer FROM flowdb.runs ORDER BY (payload ->> 'id')::int;

-- an inactive workflow queues nothing (the insert still succeeds)
SELECT flow_deactivate(:'wf_orders');
INSERT INTO orders VALUES (5, 'Quiet', 3);
SELECT count(*) AS runs FROM flowdb.runs;
SELECT flow_activate(:'wf_orders');

-- BEFORE and DELETE triggers: the row still goes through; DELETE sends OLD
DO $$
BEGIN
	EXECUTE format('CREATE TRIGGER orders_flow_del BEFORE DELETE ON orders FOR EACH ROW EXECUTE FUNCTION flow_trigger(%L)',
				   (SELECT id FROM flowdb.workflows WHERE name = 'New order'));
END
$$;
DELETE FROM orders WHERE id = 5;
SELECT count(*) AS orders_left FROM orders;
SELECT payload ->> 'customer' AS deleted_customer FROM flowdb.runs WHERE payload ->> 'id' = '5';
DROP TRIGGER orders_flow_del ON orders;

-- an invalid blueprint run is refused with the insert (the blueprint is
-- checked again when the run is queued)
UPDATE flowdb.workflows SET blueprint = jsonb_set(blueprint, '{nodes,0,type}', '"bogus"') WHERE id = :'wf_orders';
INSERT INTO orders VALUES (6, 'Broken', 1);
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS order_6 FROM orders WHERE id = 6;
DROP TRIGGER orders_flow ON orders;

-- bad trigger arguments
CREATE TRIGGER bad_uuid AFTER INSERT ON orders FOR EACH ROW EXECUTE FUNCTION flow_trigger('not-a-uuid');
INSERT INTO orders VALUES (10, 'x', 1);
\echo :LAST_ERROR_SQLSTATE
DROP TRIGGER bad_uuid ON orders;
CREATE TRIGGER unknown_wf AFTER INSERT ON orders FOR EACH ROW EXECUTE FUNCTION flow_trigger('00000000-0000-0000-0000-000000000000');
INSERT INTO orders VALUES (10, 'x', 1);
\echo :LAST_ERROR_SQLSTATE
DROP TRIGGER unknown_wf ON orders;
CREATE TRIGGER no_arg AFTER INSERT ON orders FOR EACH ROW EXECUTE FUNCTION flow_trigger();
INSERT INTO orders VALUES (10, 'x', 1);
\echo :LAST_ERROR_SQLSTATE
DROP TRIGGER no_arg ON orders;
DO $$
BEGIN
	EXECUTE format('CREATE TRIGGER stmt_level AFTER INSERT ON orders FOR EACH STATEMENT EXECUTE FUNCTION flow_trigger(%L)',
				   (SELECT id FROM flowdb.workflows WHERE name = 'New order'));
END
$$;
INSERT INTO orders VALUES (10, 'x', 1);
\echo :LAST_ERROR_SQLSTATE
DROP TRIGGER stmt_level ON orders;
SELECT count(*) AS orders FROM orders;
SELECT flow_trigger();
\echo :LAST_ERROR_SQLSTATE

DROP TABLE orders;
DELETE FROM flowdb.runs;
DELETE FROM flowdb.workflows;

------------------------------------------------------------------------
-- schedules
------------------------------------------------------------------------
-- times are UTC (cron_matches evaluates the timestamptz in UTC)
SELECT expr, at, flowdb.cron_matches(expr, at::timestamptz) AS matches
FROM (VALUES
  (1, '* * * * *', '2030-01-01 00:00:00+00'),
  (2, '0 9 * * *', '2030-01-01 09:00:00+00'),
  (3, '0 9 * * *', '2030-01-01 09:01:00+00'),
  (4, '0 9 * * *', '2030-01-01 14:30:00+05:30'),        -- 09:00 UTC
  (5, '*/15 * * * *', '2030-01-01 10:45:00+00'),
  (6, '*/15 * * * *', '2030-01-01 10:50:00+00'),
  (7, '0-10/5 * * * *', '2030-01-01 10:10:00+00'),
  (8, '0-10/5 * * * *', '2030-01-01 10:15:00+00'),
  (9, '0 0 1 1 *', '2030-01-01 00:00:00+00'),
  (10, '0 0 1 1 *', '2030-02-01 00:00:00+00'),
  (11, '30 8 * * 1-5', '2030-01-04 08:30:00+00'),       -- a Friday
  (12, '30 8 * * 1-5', '2030-01-05 08:30:00+00'),       -- a Saturday
  (13, '0 0 * * 0', '2030-01-06 00:00:00+00'),          -- a Sunday
  (14, '0 0 * * 7', '2030-01-06 00:00:00+00'),          -- 7 is Sunday too
  (15, '0 0 13 * 5', '2030-01-04 00:00:00+00'),         -- dom or dow: Friday the 4th
  (16, '0 0 13 * 5', '2030-01-13 00:00:00+00'),         -- dom or dow: the 13th
  (17, '0 0 13 * 5', '2030-01-14 00:00:00+00'),
  (18, '0 12 29 2 *', '2032-02-29 12:00:00+00'),
  (19, '5,35 * * * *', '2030-01-01 03:35:00+00')
) AS v(n, expr, at)
ORDER BY n;
SELECT flowdb.cron_matches('61 * * * *', now());
\echo :LAST_ERROR_SQLSTATE
SELECT flowdb.cron_matches('* * *', now());
\echo :LAST_ERROR_SQLSTATE
SELECT flowdb.cron_matches('* * * * * *', now());
\echo :LAST_ERROR_SQLSTATE

-- fire_schedules queues each matching active schedule once per minute
SELECT flow_save('{"version": 1, "name": "Every minute", "trigger": {"type": "schedule", "cron": "* * * * *"},
                   "nodes": [{"id": "tick", "type": "router"}]}') AS wf_tick \gset
SELECT flow_save('{"version": 1, "name": "Every minute, inactive", "trigger": {"type": "schedule", "cron": "* * * * *"},
                   "nodes": [{"id": "tick", "type": "router"}]}', false) AS wf_off \gset
SELECT flow_save('{"version": 1, "name": "Never now", "trigger": {"type": "schedule", "cron": "0 0 30 2 *"},
                   "nodes": [{"id": "tick", "type": "router"}]}') AS wf_never \gset
BEGIN;	-- one transaction: now() is one instant, so both calls see the same minute
SELECT flowdb.fire_schedules() AS fired;
SELECT flowdb.fire_schedules() AS fired_again;
COMMIT;
SELECT w.name, r.status, r.payload ->> 'cron' AS cron,
       (r.payload ->> 'scheduled_at')::timestamptz = date_trunc('minute', w.last_fired_at) AS scheduled_at_is_the_minute
FROM flowdb.runs r JOIN flowdb.workflows w ON w.id = r.workflow_id;
SELECT name, last_fired_at IS NOT NULL AS fired FROM flowdb.workflows ORDER BY name;
-- not callable by ordinary roles (the worker calls it)
SELECT has_function_privilege('public', 'flowdb.fire_schedules()', 'EXECUTE') AS public_can_fire;

DELETE FROM flowdb.runs;
DELETE FROM flowdb.workflows;
