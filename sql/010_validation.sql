--
-- 010_validation: flow_validate() and flow_execute() on valid blueprints and
-- on every class of problem, with the exact messages and JSON paths.
--
\set VERBOSITY default
\set SHOW_CONTEXT never

-- every problem of a blueprint, one per row (in the validator's order)
CREATE FUNCTION pg_temp.problems(bp jsonb) RETURNS SETOF text
LANGUAGE sql AS $$ SELECT jsonb_array_elements_text(flow_validate(bp) -> 'errors') $$;

SELECT count(*) AS runs_before FROM flowdb.runs \gset

------------------------------------------------------------------------
-- valid blueprints
------------------------------------------------------------------------

-- the smallest valid blueprint
SELECT flow_validate('{"version": 1, "name": "Minimal", "trigger": {"type": "manual"},
                       "nodes": [{"id": "only", "type": "router"}]}');

-- the design example: action -> router -> conditional edge / else edge
\set design '{"version": 1, "name": "Thank customers after payment", "trigger": {"type": "event", "event": "razorpay.payment.captured"}, "nodes": [{"id": "thank", "type": "action", "service": "whatsapp", "task": "send_message", "params": {"to": "{{trigger_data.contact}}", "body": "Thanks for paying {{trigger_data.amount}}"}}, {"id": "big", "type": "router"}, {"id": "tell_team", "type": "action", "service": "slack", "task": "post_message", "params": {"channel": "#sales", "text": "Big payment: {{trigger_data.amount}} (message {{ steps.thank.output.sid }})"}, "retry": {"max_attempts": 5}, "timeout_ms": 10000}, {"id": "small", "type": "set", "values": {"note": "small payment {{trigger_data.amount}}"}}], "edges": [{"from": "thank", "to": "big"}, {"from": "big", "to": "tell_team", "condition": {"left": "{{trigger_data.amount}}", "op": "gt", "right": 5000}}, {"from": "big", "to": "small", "else": true}]}'
SELECT flow_validate(:'design');

-- every trigger type, node type and the optional fields
SELECT flow_validate('{
  "version": 1, "name": "Everything", "description": "all node types",
  "trigger": {"type": "schedule", "cron": "*/15 9-17 * * 1-5"},
  "nodes": [
    {"id": "fetch", "type": "action", "service": "http", "task": "request",
     "params": {"url": "https://example.com/orders", "method": "GET", "timeout_ms": 5000},
     "credential": "default", "retry": {"max_attempts": 3, "backoff_ms": 500}},
    {"id": "pause", "type": "delay", "seconds": 30},
    {"id": "until_nine", "type": "delay", "until": "2030-01-31T09:00:00+05:30"},
    {"id": "approval", "type": "wait_event", "event": "shop.approved",
     "match": {"invoice": "{{ steps.fetch.output.body.id }}"}, "timeout_seconds": 86400},
    {"id": "summary", "type": "set",
     "values": {"first": "{{ steps.fetch.output.body.items[0][\"sku code\"] }}", "run": "{{ run.id }}", "wf": "{{ workflow.name }}"}}
  ],
  "edges": [
    {"from": "fetch", "to": "pause"}, {"from": "pause", "to": "until_nine"},
    {"from": "until_nine", "to": "approval"}, {"from": "approval", "to": "summary",
     "condition": {"all": [{"left": "{{ steps.approval.output.approved }}", "op": "eq", "right": true},
                           {"not": {"left": "{{ steps.fetch.output.status }}", "op": "gte", "right": 400}}]}}
  ]}');

SELECT flow_validate(jsonb_build_object('version', 1, 'name', 'trigger ' || t,
         'trigger', tr, 'nodes', '[{"id": "n", "type": "router"}]'::jsonb)) ->> 'valid' AS valid, t
FROM (VALUES ('manual', '{"type": "manual"}'::jsonb),
             ('event', '{"type": "event", "event": "shop.order_paid"}'),
             ('webhook', '{"type": "webhook", "event": "github.push"}'),
             ('table', '{"type": "table", "table": "public.orders"}'),
             ('schedule', '{"type": "schedule", "cron": "0 9 * * *"}')) AS v(t, tr)
ORDER BY t;

-- flow_execute queues a valid blueprint
SELECT flow_execute(:'design', '{"amount": 7000, "contact": "+919876543210"}') IS NOT NULL AS queued;
SELECT count(*) - :runs_before AS new_runs FROM flowdb.runs;

------------------------------------------------------------------------
-- malformed input
------------------------------------------------------------------------
SELECT flow_validate('[]');
SELECT flow_validate('"x"');
SELECT flow_validate('null'::jsonb);
SELECT flow_validate('42');
-- SQL NULL: still an answer, not an exception (flow_validate never raises
-- for a bad blueprint)
SELECT flow_validate(NULL);
SELECT flow_execute('[]');
\echo :LAST_ERROR_SQLSTATE
SELECT flow_execute('"x"');
\echo :LAST_ERROR_SQLSTATE
SELECT flow_execute('null'::jsonb);
\echo :LAST_ERROR_SQLSTATE
SELECT flow_execute(NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT flow_execute(NULL, '{}');
\echo :LAST_ERROR_SQLSTATE
SELECT flow_save(NULL);
\echo :LAST_ERROR_SQLSTATE

------------------------------------------------------------------------
-- root fields
------------------------------------------------------------------------
SELECT pg_temp.problems('{}');
SELECT pg_temp.problems('{"version": 2, "name": "v2", "trigger": {"type": "manual"}, "nodes": [{"id": "a", "type": "router"}]}');
SELECT pg_temp.problems('{"version": "1", "name": "", "trigger": {"type": "manual"}, "nodes": [{"id": "a", "type": "router"}]}');
SELECT pg_temp.problems('{"version": 1.5, "name": 7, "trigger": "manual", "nodes": {}, "edges": {}}');
SELECT pg_temp.problems('{"version": 1, "name": "no nodes", "trigger": {"type": "manual"}, "nodes": [], "steps": [], "extra": 1}');
SELECT pg_temp.problems(jsonb_build_object('version', 1, 'name', repeat('n', 201),
         'trigger', '{"type": "manual"}'::jsonb, 'nodes', '[{"id": "a", "type": "router"}]'::jsonb));

------------------------------------------------------------------------
-- triggers
------------------------------------------------------------------------
SELECT pg_temp.problems('{"version": 1, "name": "t", "trigger": {"type": "cron"}, "nodes": [{"id": "a", "type": "router"}]}');
SELECT pg_temp.problems('{"version": 1, "name": "t", "trigger": {}, "nodes": [{"id": "a", "type": "router"}]}');
SELECT pg_temp.problems('{"version": 1, "name": "t", "trigger": {"type": "manual", "event": "shop.paid"}, "nodes": [{"id": "a", "type": "router"}]}');
-- bad event names
SELECT pg_temp.problems('{"version": 1, "name": "t", "trigger": {"type": "event"}, "nodes": [{"id": "a", "type": "router"}]}');
SELECT pg_temp.problems('{"version": 1, "name": "t", "trigger": {"type": "event", "event": "Razorpay Payment"}, "nodes": [{"id": "a", "type": "router"}]}');
SELECT pg_temp.problems('{"version": 1, "name": "t", "trigger": {"type": "webhook", "event": "nodot"}, "nodes": [{"id": "a", "type": "router"}]}');
SELECT pg_temp.problems('{"version": 1, "name": "t", "trigger": {"type": "event", "event": "shop..paid"}, "nodes": [{"id": "a", "type": "router"}]}');
SELECT pg_temp.problems('{"version": 1, "name": "t", "trigger": {"type": "event", "event": "shop.paid."}, "nodes": [{"id": "a", "type": "router"}]}');
-- bad cron
SELECT pg_temp.problems('{"version": 1, "name": "t", "trigger": {"type": "schedule"}, "nodes": [{"id": "a", "type": "router"}]}');
SELECT pg_temp.problems('{"version": 1, "name": "t", "trigger": {"type": "schedule", "cron": "* * *"}, "nodes": [{"id": "a", "type": "router"}]}');
SELECT pg_temp.problems('{"version": 1, "name": "t", "trigger": {"type": "schedule", "cron": "61 24 0 13 8"}, "nodes": [{"id": "a", "type": "router"}]}');
SELECT pg_temp.problems('{"version": 1, "name": "t", "trigger": {"type": "schedule", "cron": "*/0 5-1 * JAN mon"}, "nodes": [{"id": "a", "type": "router"}]}');
SELECT pg_temp.problems('{"version": 1, "name": "t", "trigger": {"type": "schedule", "cron": 5}, "nodes": [{"id": "a", "type": "router"}]}');

------------------------------------------------------------------------
-- nodes
------------------------------------------------------------------------
-- bad and duplicate ids, unknown type, not an object
SELECT pg_temp.problems('{"version": 1, "name": "ids", "trigger": {"type": "manual"}, "nodes": [
   {"id": "bad id!", "type": "router"}, {"id": "", "type": "router"},
   {"id": "x2345678901234567890123456789012345678901234567890123456789012345", "type": "router"},
   {"id": "ok", "type": "router"}, {"id": "ok", "type": "router"},
   {"id": 7, "type": "router"}, {"type": "router"}, {"id": "t", "type": "loop"},
   {"id": "u"}, "node"]}');
-- 64 characters is the longest id
SELECT flow_validate(jsonb_build_object('version', 1, 'name', 'long id',
         'trigger', '{"type": "manual"}'::jsonb,
         'nodes', jsonb_build_array(jsonb_build_object('id', repeat('a', 64), 'type', 'router')))) ->> 'valid' AS valid;
-- unknown fields per node type
SELECT pg_temp.problems('{"version": 1, "name": "fields", "trigger": {"type": "manual"}, "nodes": [
   {"id": "r", "type": "router", "params": {}},
   {"id": "d", "type": "delay", "seconds": 1, "event": "a.b"},
   {"id": "s", "type": "set", "values": {}, "seconds": 1, "notes": "ok", "position": {"x": 1}}]}');

-- unknown service, unknown task
SELECT pg_temp.problems('{"version": 1, "name": "svc", "trigger": {"type": "manual"}, "nodes": [
   {"id": "a", "type": "action", "service": "telegram", "task": "send_message", "params": {}},
   {"id": "b", "type": "action", "service": "slack", "task": "send_dm", "params": {}},
   {"id": "c", "type": "action"}]}');
-- missing required parameters, unknown parameters, wrong literal types
SELECT pg_temp.problems('{"version": 1, "name": "params", "trigger": {"type": "manual"}, "nodes": [
   {"id": "a", "type": "action", "service": "slack", "task": "post_message", "params": {"text": "hi"}},
   {"id": "b", "type": "action", "service": "slack", "task": "post_message"},
   {"id": "c", "type": "action", "service": "slack", "task": "post_message", "params": {"channel": "#x", "colour": "red"}},
   {"id": "d", "type": "action", "service": "razorpay", "task": "create_invoice",
    "params": {"customer_name": 42, "amount": "500", "quantity": 1.5}},
   {"id": "e", "type": "action", "service": "llm", "task": "classify",
    "params": {"text": "hello", "labels": "a,b", "model": null}},
   {"id": "f", "type": "action", "service": "slack", "task": "post_message", "params": "#general"},
   {"id": "g", "type": "action", "service": "razorpay", "task": "create_invoice",
    "params": {"customer_name": "{{ trigger_data.name }}", "amount": "{{ trigger_data.amount }}"}}]}');
-- retry, timeout_ms, credential
SELECT pg_temp.problems('{"version": 1, "name": "retry", "trigger": {"type": "manual"}, "nodes": [
   {"id": "a", "type": "action", "service": "http", "task": "request", "params": {"url": "https://x.test"},
    "retry": {"max_attempts": 0, "backoff_ms": 5, "jitter": true}, "timeout_ms": 300001, "credential": ""},
   {"id": "b", "type": "action", "service": "http", "task": "request", "params": {"url": "https://x.test"},
    "retry": {}, "timeout_ms": 1.5, "credential": 3},
   {"id": "c", "type": "action", "service": "http", "task": "request", "params": {"url": "https://x.test"},
    "retry": 3}]}');

-- delay and wait_event fields
SELECT pg_temp.problems('{"version": 1, "name": "waits", "trigger": {"type": "manual"}, "nodes": [
   {"id": "d1", "type": "delay"},
   {"id": "d2", "type": "delay", "seconds": 10, "until": "2030-01-01T00:00:00Z"},
   {"id": "d3", "type": "delay", "seconds": 0},
   {"id": "d4", "type": "delay", "seconds": 2592001},
   {"id": "d5", "type": "delay", "seconds": "10"},
   {"id": "d6", "type": "delay", "until": "tomorrow"},
   {"id": "d7", "type": "delay", "until": "2030-02-30T09:00:00Z"},
   {"id": "d8", "type": "delay", "until": "{{ trigger_data.due_at }}"},
   {"id": "w1", "type": "wait_event"},
   {"id": "w2", "type": "wait_event", "event": "Approved"},
   {"id": "w3", "type": "wait_event", "event": "shop.approved", "match": ["invoice"], "timeout_seconds": 0},
   {"id": "w4", "type": "wait_event", "event": "shop.approved", "timeout_seconds": 31536001},
   {"id": "w5", "type": "wait_event", "event": "shop.approved", "match": {"invoice": "{{ nope.id }}"}},
   {"id": "s1", "type": "set"},
   {"id": "s2", "type": "set", "values": [1]}]}');

------------------------------------------------------------------------
-- edges and the graph
------------------------------------------------------------------------
-- edges to unknown nodes, self loop, duplicate edge, bad ends
SELECT pg_temp.problems('{"version": 1, "name": "edges", "trigger": {"type": "manual"},
   "nodes": [{"id": "a", "type": "router"}, {"id": "b", "type": "router"}],
   "edges": [{"from": "a", "to": "ghost"}, {"from": "phantom", "to": "b"},
             {"from": "a", "to": "a"}, {"from": "a", "to": "b"}, {"from": "a", "to": "b"},
             {"to": "b"}, {"from": 1, "to": "b"}, "a->b", {"from": "a", "to": "b", "weight": 1}]}');
-- cycle
SELECT pg_temp.problems('{"version": 1, "name": "cycle", "trigger": {"type": "manual"},
   "nodes": [{"id": "a", "type": "router"}, {"id": "b", "type": "router"}, {"id": "c", "type": "router"}, {"id": "d", "type": "router"}],
   "edges": [{"from": "a", "to": "b"}, {"from": "b", "to": "c"}, {"from": "c", "to": "a"}, {"from": "c", "to": "d"}]}');
-- two cycles
SELECT pg_temp.problems('{"version": 1, "name": "cycles", "trigger": {"type": "manual"},
   "nodes": [{"id": "a", "type": "router"}, {"id": "b", "type": "router"}, {"id": "c", "type": "router"}],
   "edges": [{"from": "a", "to": "b"}, {"from": "b", "to": "a"}, {"from": "b", "to": "c"}, {"from": "c", "to": "b"}]}');
-- two else edges from one node; else together with a condition; else not true
SELECT pg_temp.problems('{"version": 1, "name": "else", "trigger": {"type": "manual"},
   "nodes": [{"id": "r", "type": "router"}, {"id": "x", "type": "router"}, {"id": "y", "type": "router"}, {"id": "z", "type": "router"}],
   "edges": [{"from": "r", "to": "x", "else": true}, {"from": "r", "to": "y", "else": true},
             {"from": "r", "to": "z", "else": true, "condition": {"left": 1, "op": "eq", "right": 1}},
             {"from": "x", "to": "z", "else": false}]}');
-- invalid conditions on edges
SELECT pg_temp.problems('{"version": 1, "name": "conditions", "trigger": {"type": "manual"},
   "nodes": [{"id": "r", "type": "router"}, {"id": "x", "type": "router"}, {"id": "y", "type": "router"}, {"id": "z", "type": "router"}],
   "edges": [{"from": "r", "to": "x", "condition": {"left": "{{ trigger_data.a }}", "op": "bigger", "right": 1}},
             {"from": "r", "to": "y", "condition": {"left": "{{ trigger_data.a }}", "op": "gt"}},
             {"from": "r", "to": "z", "condition": {"any": []}}]}');

------------------------------------------------------------------------
-- templates
------------------------------------------------------------------------
-- bad template syntax and unknown roots
SELECT pg_temp.problems('{"version": 1, "name": "templates", "trigger": {"type": "manual"}, "nodes": [
   {"id": "a", "type": "set", "values": {
      "unclosed": "Hi {{ trigger_data.name",
      "empty": "{{ }}",
      "double_dot": "{{ trigger_data..name }}",
      "bad_index": "{{ trigger_data.items[x] }}",
      "root": "{{ secrets.api_key }}",
      "nested": {"list": ["ok {{ trigger_data.a }}", "{{ env.HOME }}"]}}}]}');
-- steps.<id>: the node must exist and be a strict ancestor of its user
SELECT pg_temp.problems('{"version": 1, "name": "steps", "trigger": {"type": "manual"}, "nodes": [
   {"id": "first", "type": "set", "values": {"v": "{{ steps.second.output }}", "me": "{{ steps.first.output }}"}},
   {"id": "second", "type": "set", "values": {"v": "{{ steps.first.output.v }}"}},
   {"id": "side", "type": "set", "values": {"v": "{{ steps.second.output }}", "ghost": "{{ steps.ghost.output }}", "idx": "{{ steps[0] }}"}}],
   "edges": [{"from": "first", "to": "second"}, {"from": "first", "to": "side"},
             {"from": "first", "to": "second", "condition": {"left": "{{ steps.side.output.v }}", "op": "exists"}}]}');
-- an edge condition may use its source node and the source's ancestors
SELECT pg_temp.problems('{"version": 1, "name": "edge steps", "trigger": {"type": "manual"}, "nodes": [
   {"id": "a", "type": "set", "values": {"n": 1}}, {"id": "b", "type": "set", "values": {"n": 2}},
   {"id": "c", "type": "router"}],
   "edges": [{"from": "a", "to": "b"},
             {"from": "b", "to": "c", "condition": {"all": [
                {"left": "{{ steps.a.output.n }}", "op": "eq", "right": 1},
                {"left": "{{ steps.b.output.n }}", "op": "eq", "right": 2},
                {"left": "{{ steps.c.output.n }}", "op": "eq", "right": 3}]}}]}');

------------------------------------------------------------------------
-- a blueprint with many problems: flow_validate lists them all, and
-- flow_execute raises 22023 with every one in the detail and writes nothing
------------------------------------------------------------------------
\set many '{"version": 3, "trigger": {"type": "event", "event": "Payment"}, "nodes": [{"id": "pay", "type": "action", "service": "razorpay", "task": "create_payment_link", "params": {"amount": "lots", "note": "x"}}, {"id": "pay", "type": "router"}, {"id": "msg", "type": "action", "service": "whatsapp", "task": "send_message", "params": {"body": "{{ customer.name }}"}}], "edges": [{"from": "pay", "to": "nowhere"}, {"from": "msg", "to": "msg"}, {"from": "pay", "to": "msg", "else": true, "condition": {"left": 1, "op": "eq", "right": 1}}]}'
SELECT flow_validate(:'many') -> 'valid' AS valid,
       jsonb_array_length(flow_validate(:'many') -> 'errors') AS problems;
SELECT count(*) AS runs_before FROM flowdb.runs \gset
SELECT flow_execute(:'many');
\echo :LAST_ERROR_SQLSTATE
SELECT flow_save(:'many');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) - :runs_before AS new_runs FROM flowdb.runs;
SELECT count(*) AS workflows FROM flowdb.workflows;

------------------------------------------------------------------------
-- limits
------------------------------------------------------------------------
-- blueprint larger than flowdb.max_blueprint_bytes (54000)
SET flowdb.max_blueprint_bytes = '1kB';
SHOW flowdb.max_blueprint_bytes;
\set big '{"version": 1, "name": "big", "trigger": {"type": "manual"}, "nodes": [{"id": "a", "type": "set", "values": {"text": "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}}]}'
SELECT pg_column_size(:'big'::jsonb) > 1024 AS over_limit;
SELECT flow_execute(:'big');
\echo :LAST_ERROR_SQLSTATE
SELECT flow_validate(:'big');
\echo :LAST_ERROR_SQLSTATE
RESET flowdb.max_blueprint_bytes;
SELECT flow_validate(:'big') -> 'valid' AS valid_again;

-- payload larger than flowdb.max_payload_bytes (54000)
SET flowdb.max_payload_bytes = '1kB';
SELECT flow_execute('{"version": 1, "name": "p", "trigger": {"type": "manual"}, "nodes": [{"id": "a", "type": "router"}]}',
                    jsonb_build_object('blob', repeat('p', 2000)));
\echo :LAST_ERROR_SQLSTATE
RESET flowdb.max_payload_bytes;
SELECT count(*) - :runs_before AS new_runs FROM flowdb.runs;

-- ordinary users cannot raise the limits
CREATE ROLE regress_flowdb_limits NOLOGIN;
SET ROLE regress_flowdb_limits;
SET flowdb.max_blueprint_bytes = '64MB';
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
DROP ROLE regress_flowdb_limits;

-- at most 200 nodes
SELECT pg_temp.problems(jsonb_build_object('version', 1, 'name', 'wide', 'trigger', '{"type": "manual"}'::jsonb,
         'nodes', (SELECT jsonb_agg(jsonb_build_object('id', 'n' || i, 'type', 'router'))
                   FROM generate_series(1, 201) i)));
SELECT flow_validate(jsonb_build_object('version', 1, 'name', 'wide', 'trigger', '{"type": "manual"}'::jsonb,
         'nodes', (SELECT jsonb_agg(jsonb_build_object('id', 'n' || i, 'type', 'router'))
                   FROM generate_series(1, 200) i))) -> 'valid' AS two_hundred_ok;

-- JSON nested deeper than flowdb accepts (990 levels) is a
-- limit (54000) for blueprints and payloads alike, refused before anything
-- is written; only the SQLSTATE is shown
CREATE FUNCTION pg_temp.sqlstate_of(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE;
END
$$;
CREATE TEMP TABLE deep AS
SELECT (repeat('[', 1200) || '1' || repeat(']', 1200))::jsonb AS too_deep,
       (repeat('[', 900) || '1' || repeat(']', 900))::jsonb AS deep_enough;
SELECT count(*) AS runs_before FROM flowdb.runs \gset
SELECT pg_temp.sqlstate_of($q$SELECT flow_validate(jsonb_build_object('version', 1, 'name', 'deep',
         'trigger', '{"type": "manual"}'::jsonb, 'nodes', jsonb_build_array(jsonb_build_object('id', 'a', 'type', 'set',
         'values', jsonb_build_object('x', too_deep))))) FROM pg_temp.deep$q$) AS validate_deep_blueprint;
SELECT pg_temp.sqlstate_of($q$SELECT flow_execute(jsonb_build_object('version', 1, 'name', 'deep',
         'trigger', '{"type": "manual"}'::jsonb, 'nodes', jsonb_build_array(jsonb_build_object('id', 'a', 'type', 'set',
         'values', jsonb_build_object('x', too_deep))))) FROM pg_temp.deep$q$) AS execute_deep_blueprint;
SELECT pg_temp.sqlstate_of($q$SELECT flow_execute('{"version": 1, "name": "p", "trigger": {"type": "manual"}, "nodes": [{"id": "a", "type": "router"}]}',
         jsonb_build_object('x', too_deep)) FROM pg_temp.deep$q$) AS execute_deep_payload;
SELECT pg_temp.sqlstate_of($q$SELECT flow_send_event('shop.deep', jsonb_build_object('x', too_deep)) FROM pg_temp.deep$q$) AS deep_event_data;
SELECT count(*) - :runs_before AS new_runs FROM flowdb.runs;
-- deep but within the limit is fine
SELECT flow_execute('{"version": 1, "name": "p", "trigger": {"type": "manual"}, "nodes": [{"id": "a", "type": "router"}]}',
         jsonb_build_object('x', deep_enough)) IS NOT NULL AS queued FROM pg_temp.deep;
DELETE FROM flowdb.runs WHERE blueprint ->> 'name' = 'p';

-- the runs queued by this file, then clean up
SELECT status, blueprint ->> 'name' AS name, payload FROM flowdb.runs ORDER BY created_at;
DELETE FROM flowdb.runs;
