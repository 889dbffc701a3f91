--
-- 150_map: map nodes in the validator (JSON paths of every problem), the
-- catalog entry the drafter reads, flowdb.max_map_items, the log column.
--
\set VERBOSITY default
\set SHOW_CONTEXT never

CREATE FUNCTION pg_temp.problems(bp jsonb) RETURNS SETOF text
LANGUAGE sql AS $$ SELECT jsonb_array_elements_text(flow_validate(bp) -> 'errors') $$;

-- a valid map over a previous step's list, with item and index in "do"
SELECT flow_validate('{"version": 1, "name": "Remind", "trigger": {"type": "manual"},
  "nodes": [
    {"id": "fetch", "type": "action", "service": "http", "task": "request",
     "params": {"url": "https://shop.example/overdue"}},
    {"id": "remind", "type": "map", "items": "{{steps.fetch.output.body.customers}}",
     "concurrency": 5, "on_item_error": "continue",
     "do": {"service": "whatsapp", "task": "send_message",
            "params": {"to": "{{item.phone}}", "body": "Hi {{item.name}}, invoice {{index}}"},
            "retry": {"max_attempts": 4}}}],
  "edges": [{"from": "fetch", "to": "remind"}]}');

-- a literal list works too
SELECT flow_validate('{"version": 1, "name": "L", "trigger": {"type": "manual"},
  "nodes": [{"id": "m", "type": "map", "items": ["a", "b", "{{trigger_data.c}}"],
             "do": {"service": "http", "task": "request", "params": {"url": "https://x.example/{{item}}"}}}]}');

-- every problem of a map node, with its path
SELECT * FROM pg_temp.problems('{"version": 1, "name": "Bad", "trigger": {"type": "manual"},
  "nodes": [
    {"id": "a", "type": "map"},
    {"id": "b", "type": "map", "items": "customers", "concurrency": 0, "on_item_error": "skip",
     "do": "send"},
    {"id": "c", "type": "map", "items": {"x": 1}, "concurrency": 101,
     "do": {"service": "whatsapp", "task": "send", "params": {}, "retry": {"max_attempts": 0},
            "timeout_ms": 0, "every": true}, "loop": 1},
    {"id": "d", "type": "map", "items": "{{item.list}}",
     "do": {"service": "whatsapp", "task": "send_message",
            "params": {"to": 5, "body": "{{index.x}} {{steps.d.output}} {{itme.name}}"}}},
    {"id": "e", "type": "set", "values": {"v": "{{item}}", "w": "{{index}}"}}]}');

-- flow_execute refuses it with the same problems (22023)
SELECT flow_execute('{"version": 1, "name": "Bad", "trigger": {"type": "manual"},
  "nodes": [{"id": "m", "type": "map", "items": "{{trigger_data.x}}", "concurrency": "5",
             "do": {"service": "http", "task": "request"}}]}');

-- the catalog entry of the map node type (what the drafter reads)
SELECT nt ->> 'description' AS description
FROM jsonb_array_elements(flow_catalog() -> 'node_types') nt WHERE nt ->> 'type' = 'map';
SELECT f ->> 'name' AS field, f ->> 'type' AS type, f ->> 'required' AS required
FROM jsonb_array_elements(flow_catalog() -> 'node_types') nt,
     jsonb_array_elements(nt -> 'fields') WITH ORDINALITY AS x(f, o)
WHERE nt ->> 'type' = 'map' ORDER BY o;

-- the setting and the log column
SELECT name, setting, min_val, max_val, context FROM pg_settings WHERE name = 'flowdb.max_map_items';
SELECT attname, format_type(atttypid, atttypmod) AS type, attnotnull
FROM pg_attribute WHERE attrelid = 'flowdb.workflow_logs'::regclass AND attname = 'item';

-- call nodes: validation (paths), the catalog entry, the self call
SELECT * FROM pg_temp.problems('{"version": 1, "name": "Caller", "trigger": {"type": "manual"},
  "nodes": [
    {"id": "a", "type": "call"},
    {"id": "b", "type": "call", "workflow": "", "payload": []},
    {"id": "c", "type": "call", "workflow": "{{trigger_data.w}}", "payload": {"x": "{{index}}"}, "retry": 1},
    {"id": "d", "type": "call", "workflow": "Caller"}]}');
SELECT f ->> 'name' AS field, f ->> 'type' AS type, f ->> 'required' AS required
FROM jsonb_array_elements(flow_catalog() -> 'node_types') nt,
     jsonb_array_elements(nt -> 'fields') WITH ORDINALITY AS x(f, o)
WHERE nt ->> 'type' = 'call' ORDER BY o;
-- the links between runs
SELECT attname, format_type(atttypid, atttypmod) AS type
FROM pg_attribute WHERE attrelid = 'flowdb.runs'::regclass AND attname IN ('parent_run_id', 'parent_node')
ORDER BY attnum;

-- a map over a sub-workflow: "do" holds only "workflow"
SELECT * FROM pg_temp.problems('{"version": 1, "name": "Fan out", "trigger": {"type": "manual"},
  "nodes": [
    {"id": "ok", "type": "map", "items": "{{trigger_data.l}}", "do": {"workflow": "remind-one"}},
    {"id": "bad", "type": "map", "items": "{{trigger_data.l}}",
     "do": {"workflow": "Fan out", "params": {"x": 1}}}]}');
