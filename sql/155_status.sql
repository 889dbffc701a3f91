--
-- 155_status: flow_status "progress" (every node of the blueprint, in
-- blueprint order, pending until reached), flow_retry with the workflow's
-- current blueprint, validation messages that say what is valid, and
-- payloads that are not JSON objects refused at enqueue.
-- flowdb.workers = 0: runs stay queued; run states are simulated.
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

-- progress without its timestamps (they move), one row per node
CREATE FUNCTION pg_temp.progress(run uuid) RETURNS TABLE (ord bigint, item jsonb)
LANGUAGE sql AS $$
	SELECT x.ord, x.p - 'since' - 'due_at' - 'started_at' - 'finished_at'
	FROM jsonb_array_elements(flow_status(run) -> 'progress') WITH ORDINALITY AS x(p, ord)
	ORDER BY x.ord
$$;

-- ids in blueprint order that would not sort the same way by name
\set bp '{"version": 1, "name": "Order", "trigger": {"type": "manual"}, "nodes": [{"id": "zeta", "type": "action", "service": "http", "task": "request", "params": {"url": "https://example.com/z"}, "retry": {"max_attempts": 5}}, {"id": "mid", "type": "router"}, {"id": "alpha", "type": "delay", "seconds": 60}, {"id": "beta", "type": "action", "service": "http", "task": "request", "params": {"url": "https://example.com/b"}}], "edges": [{"from": "zeta", "to": "mid"}, {"from": "mid", "to": "alpha"}, {"from": "alpha", "to": "beta"}]}'

------------------------------------------------------------------------
-- a queued run lists every node, pending, in blueprint order
------------------------------------------------------------------------
SELECT flow_save(:'bp') AS wf \gset
SELECT flow_run(:'wf', '{}') AS run1 \gset
SELECT flow_status(:'run1') ->> 'status' AS status,
       flow_status(:'run1') -> 'nodes' AS nodes;
SELECT * FROM pg_temp.progress(:'run1');
-- every key is there on every item, null when it does not apply
SELECT array_agg(k ORDER BY k) AS keys
FROM jsonb_object_keys(flow_status(:'run1') #> '{progress,0}') k;

------------------------------------------------------------------------
-- in flight: running since the request went out, a started log row;
-- then retrying, waiting, succeeded, skipped and failed
------------------------------------------------------------------------
UPDATE flowdb.runs SET status = 'running', started_at = now(),
    state = '{"nodes": {"zeta": {"status": "running", "attempt": 1, "started": 1767225600000}}}'
WHERE id = :'run1';
INSERT INTO flowdb.workflow_logs (run_id, owner, node_id, status, attempt, started_at)
VALUES (:'run1', current_user, 'zeta', 'started', 1, to_timestamp(1767225600));
SELECT * FROM pg_temp.progress(:'run1');
SELECT p ->> 'since' AS since, p ->> 'started_at' AS started_at, p -> 'finished_at' AS finished_at
FROM jsonb_array_elements(flow_status(:'run1') -> 'progress') p WHERE p ->> 'id' = 'zeta';
-- the started row is in the step log, unfinished
SELECT s ->> 'status' AS status, s -> 'finished_at' AS finished_at, s -> 'duration_ms' AS duration_ms
FROM jsonb_array_elements(flow_status(:'run1') -> 'steps') s;

-- a retry is due; the log has the failed attempt
UPDATE flowdb.runs SET
    state = '{"nodes": {"zeta": {"status": "retrying", "attempt": 1, "due": 1767225660000, "error": "HTTP 503"}}}'
WHERE id = :'run1';
INSERT INTO flowdb.workflow_logs (run_id, owner, node_id, status, attempt, error, started_at, finished_at, duration_ms)
VALUES (:'run1', current_user, 'zeta', 'retrying', 1, 'HTTP 503', to_timestamp(1767225600), to_timestamp(1767225600.25), 250);
SELECT item FROM pg_temp.progress(:'run1') WHERE ord = 1;
SELECT p ->> 'due_at' AS due_at, p -> 'since' AS since
FROM jsonb_array_elements(flow_status(:'run1') -> 'progress') p WHERE p ->> 'id' = 'zeta';

-- second attempt succeeded (durations add up), router done, delay waiting
UPDATE flowdb.runs SET
    state = '{"nodes": {"zeta": {"status": "succeeded", "attempt": 2, "output": {}},
                        "mid": {"status": "succeeded", "attempt": 1, "output": {}},
                        "alpha": {"status": "waiting", "attempt": 1, "since": 1767225602000, "due": 1767225662000}}}'
WHERE id = :'run1';
INSERT INTO flowdb.workflow_logs (run_id, owner, node_id, status, attempt, started_at, finished_at, duration_ms)
VALUES (:'run1', current_user, 'zeta', 'started', 2, to_timestamp(1767225601), NULL, NULL),
       (:'run1', current_user, 'zeta', 'succeeded', 2, to_timestamp(1767225601), to_timestamp(1767225601.5), 500),
       (:'run1', current_user, 'mid', 'succeeded', 1, to_timestamp(1767225601.5), to_timestamp(1767225601.5), 0);
SELECT * FROM pg_temp.progress(:'run1');
SELECT p ->> 'id' AS id, p ->> 'started_at' AS started_at, p ->> 'finished_at' AS finished_at,
       p ->> 'since' AS since, p ->> 'due_at' AS due_at
FROM jsonb_array_elements(flow_status(:'run1') -> 'progress') p;

------------------------------------------------------------------------
-- flow_retry with the workflow's current blueprint
------------------------------------------------------------------------
-- a run that failed on a typo: "fetch" succeeded, "post" failed
\set bp2 '{"version": 1, "name": "Typo", "trigger": {"type": "manual"}, "nodes": [{"id": "fetch", "type": "action", "service": "http", "task": "request", "params": {"url": "https://example.com/a"}}, {"id": "post", "type": "action", "service": "http", "task": "request", "params": {"url": "https://exmaple.com/b"}}, {"id": "gone", "type": "router"}], "edges": [{"from": "fetch", "to": "post"}, {"from": "fetch", "to": "gone", "condition": {"left": 1, "op": "eq", "right": 2}}]}'
SELECT flow_save(:'bp2') AS wf2 \gset
SELECT flow_run(:'wf2', '{}') AS run2 \gset
UPDATE flowdb.runs SET status = 'failed', error = 'node post failed: HTTP 404', finished_at = now(),
    next_at = 'infinity',
    state = '{"nodes": {"fetch": {"status": "succeeded", "attempt": 1, "output": {"status": 200}},
                        "post": {"status": "failed", "attempt": 1, "error": "HTTP 404"},
                        "gone": {"status": "skipped"}},
              "edges": [true, false], "error": "node post failed: HTTP 404"}'
WHERE id = :'run2';
-- the user fixes the typo, renames nothing else, adds a node and drops "gone"
UPDATE flowdb.workflows SET blueprint = '{"version": 1, "name": "Typo fixed", "trigger": {"type": "manual"}, "nodes": [{"id": "fetch", "type": "action", "service": "http", "task": "request", "params": {"url": "https://example.com/a"}}, {"id": "post", "type": "action", "service": "http", "task": "request", "params": {"url": "https://example.com/b"}}, {"id": "notify", "type": "router"}], "edges": [{"from": "post", "to": "notify"}, {"from": "fetch", "to": "post"}, {"from": "fetch", "to": "notify"}]}'
WHERE id = :'wf2';
-- the old call form still keeps the run's own blueprint
SELECT flow_retry(:'run2') = :'run2' AS same_run;
SELECT blueprint ->> 'name' AS name, state -> 'nodes' ? 'gone' AS skipped_kept, state -> 'edges' AS edges
FROM flowdb.runs WHERE id = :'run2';
UPDATE flowdb.runs SET status = 'failed', finished_at = now(), next_at = 'infinity',
    state = jsonb_set(state, '{nodes,post}', '{"status": "failed", "attempt": 1, "error": "HTTP 404"}')
WHERE id = :'run2';
-- with the current blueprint: fetch kept (same id), post runs again, the
-- dropped node is forgotten, the edge state starts over
SELECT flow_retry(:'run2', use_current_blueprint => true) = :'run2' AS same_run;
SELECT status, error, blueprint ->> 'name' AS name, state -> 'nodes' AS nodes,
       state ? 'edges' AS has_edges, state -> 'retries' AS retries, state ? 'error' AS has_error
FROM flowdb.runs WHERE id = :'run2';
SELECT * FROM pg_temp.progress(:'run2');
-- only failed or canceled runs; a flow_execute run has no saved workflow
SELECT pg_temp.try(format('SELECT flow_retry(%L, true)', :'run2')) AS queued_run;
SELECT flow_execute(:'bp') AS adhoc \gset
UPDATE flowdb.runs SET status = 'failed', finished_at = now() WHERE id = :'adhoc';
SELECT pg_temp.try(format('SELECT flow_retry(%L, use_current_blueprint => true)', :'adhoc')) AS adhoc_run;
SELECT status FROM flowdb.runs WHERE id = :'adhoc';
-- a current blueprint that is not valid (saved behind flow_save's back) is refused, nothing changes
UPDATE flowdb.runs SET status = 'failed', finished_at = now() WHERE id = :'run2';
UPDATE flowdb.workflows SET blueprint = '{"version": 1, "name": "broken", "trigger": {"type": "manual"}, "nodes": []}' WHERE id = :'wf2';
SELECT pg_temp.try(format('SELECT flow_retry(%L, true)', :'run2')) AS invalid_current;
SELECT status, blueprint ->> 'name' AS name FROM flowdb.runs WHERE id = :'run2';
-- another owner's run is not found
SET request.jwt.claims = '{"sub": "someone-else"}';
SELECT pg_temp.try(format('SELECT flow_retry(%L, true)', :'run2')) AS other_owner;
SELECT pg_temp.try(format('SELECT flow_status(%L)', :'run2')) AS other_owner_status;
RESET request.jwt.claims;

------------------------------------------------------------------------
-- validation messages say what is valid, or what was meant
------------------------------------------------------------------------
SELECT e AS problem FROM jsonb_array_elements_text(flow_validate('{"version": 1, "name": "hints",
  "trigger": {"type": "manual"}, "nodes": [
   {"id": "a", "type": "action", "service": "slak", "task": "post_message", "params": {}},
   {"id": "b", "type": "action", "service": "email", "task": "send", "params": {}},
   {"id": "c", "type": "action", "service": "slack", "task": "post_mesage", "params": {}},
   {"id": "d", "type": "action", "service": "http", "task": "request",
    "params": {"url": "https://example.com/{{steps.aa.output}}", "hedaers": {}}, "retyr": {}},
   {"id": "e", "type": "set", "values": {"x": "{{trigger_dta.name}}"}}],
  "edges": [{"from": "a", "to": "b", "condition": {"left": 1, "op": "gte ", "right": 2}},
            {"from": "a", "to": "c", "condition": {"left": 1, "op": "bigger", "right": 2}}]}') -> 'errors') e;

-- "one of" parameters: checked when saved, stated in the catalog
SELECT e AS problem FROM jsonb_array_elements_text(flow_validate('{"version": 1, "name": "one of",
  "trigger": {"type": "manual"}, "nodes": [
   {"id": "s", "type": "action", "service": "slack", "task": "post_message", "params": {"channel": "#x", "text": ""}},
   {"id": "w", "type": "action", "service": "whatsapp", "task": "send_message", "params": {"to": "+919876543210"}},
   {"id": "ok1", "type": "action", "service": "slack", "task": "post_message", "params": {"channel": "#x", "blocks": [{"type": "divider"}]}},
   {"id": "ok2", "type": "action", "service": "whatsapp", "task": "send_message", "params": {"to": "+919876543210", "media_url": "{{trigger_data.pdf}}"}}]}') -> 'errors') e;
SELECT pg_temp.try($$SELECT flow_save('{"version": 1, "name": "no text", "trigger": {"type": "manual"}, "nodes": [{"id": "s", "type": "action", "service": "slack", "task": "post_message", "params": {"channel": "#x"}}]}')$$) AS saved;
SELECT s ->> 'name' AS service, t ->> 'name' AS task, t -> 'one_of' AS one_of
FROM jsonb_array_elements(flow_catalog() -> 'services') s, jsonb_array_elements(s -> 'tasks') t
WHERE jsonb_array_length(t -> 'one_of') > 0 ORDER BY 1, 2;

-- template keys against the trigger's declared sample payload
SELECT e AS problem FROM jsonb_array_elements_text(flow_validate('{"version": 1, "name": "sample",
  "trigger": {"type": "event", "event": "shop.order_paid", "sample": {"name": "Ravi", "phone": "+919876543210", "order": {"total": 500}}},
  "nodes": [{"id": "w", "type": "action", "service": "whatsapp", "task": "send_message",
             "params": {"to": "{{trigger_data.phone}}", "body": "Hi {{trigger_data.nme}}, {{trigger_data.order.totl}} / {{trigger_data.customer}}"}}]}') -> 'errors') e;
SELECT flow_validate('{"version": 1, "name": "sample ok",
  "trigger": {"type": "manual", "sample": {"name": "Ravi"}},
  "nodes": [{"id": "s", "type": "set", "values": {"x": "{{trigger_data.name}}"}}]}') AS sample_ok;

-- a table trigger without a sample: the table's columns are what
-- trigger_data holds (to_jsonb(NEW)); an unknown table stays unchecked
CREATE TABLE public.shop_orders (id int, customer_name text, amount numeric, meta jsonb);
SELECT e AS problem FROM jsonb_array_elements_text(flow_validate('{"version": 1, "name": "orders",
  "trigger": {"type": "table", "table": "shop_orders"},
  "nodes": [{"id": "s", "type": "set", "values": {"who": "{{trigger_data.customer_nme}}",
             "amt": "{{trigger_data.amount}}", "deep": "{{trigger_data.meta.anything.below}}",
             "x": "{{trigger_data.total}}"}}]}') -> 'errors') e;
SELECT flow_validate('{"version": 1, "name": "orders",
  "trigger": {"type": "table", "table": "public.shop_orders"},
  "nodes": [{"id": "s", "type": "set", "values": {"who": "{{trigger_data.customer_name}}"}}]}') AS columns_ok;
SELECT flow_validate('{"version": 1, "name": "orders",
  "trigger": {"type": "table", "table": "no_such_table"},
  "nodes": [{"id": "s", "type": "set", "values": {"who": "{{trigger_data.whatever}}"}}]}') AS unknown_table_unchecked;
SELECT flow_validate('{"version": 1, "name": "orders",
  "trigger": {"type": "table", "table": "\"odd name\".x; drop table y"},
  "nodes": [{"id": "s", "type": "set", "values": {"who": "{{trigger_data.whatever}}"}}]}') AS odd_name_unchecked;
-- a declared sample wins over the columns
SELECT flow_validate('{"version": 1, "name": "orders",
  "trigger": {"type": "table", "table": "shop_orders", "sample": {"total": 1}},
  "nodes": [{"id": "s", "type": "set", "values": {"x": "{{trigger_data.total}}"}}]}') AS sample_wins;
DROP TABLE public.shop_orders;

------------------------------------------------------------------------
-- a payload that is not a JSON object is refused when queued (22023)
------------------------------------------------------------------------
SELECT count(*) AS runs_before FROM flowdb.runs \gset
SELECT pg_temp.try(format('SELECT flow_execute(%L, %L)', :'bp', '[1, 2]')) AS array_payload;
SELECT pg_temp.try(format('SELECT flow_execute(%L, %L)', :'bp', '"text"')) AS string_payload;
SELECT pg_temp.try(format('SELECT flow_execute(%L, %L)', :'bp', 'null')) AS json_null_payload;
SELECT pg_temp.try(format('SELECT flow_run(%L, %L)', :'wf', '42')) AS number_payload;
SELECT pg_temp.try($$SELECT flow_send_event('shop.order_paid', '[{"id": 1}]')$$) AS array_event;
SELECT count(*) = :runs_before AS nothing_queued FROM flowdb.runs;
-- SQL NULL still means {}; an object is fine
SELECT flow_execute(:'bp', NULL) AS null_run \gset
SELECT payload FROM flowdb.runs WHERE id = :'null_run';
SELECT flow_execute(:'bp', '{"items": [1, 2]}') IS NOT NULL AS object_payload;
-- the error says how to fix it
SELECT flow_execute(:'bp', '[1]');
\echo :LAST_ERROR_SQLSTATE

------------------------------------------------------------------------
-- schedules: cron macros and a time zone per schedule
------------------------------------------------------------------------
-- 03:30 UTC is 09:00 in India (UTC+05:30)
SELECT flowdb.cron_matches('0 9 * * *', '2026-03-02 03:30:00+00', 'Asia/Kolkata') AS ist_9am,
       flowdb.cron_matches('0 9 * * *', '2026-03-02 09:00:00+00', 'Asia/Kolkata') AS utc_9am_in_ist,
       flowdb.cron_matches('0 9 * * *', '2026-03-02 09:00:00+00') AS utc_9am,
       flowdb.cron_matches('0 9 * * *', '2026-03-02 09:00:00+00', 'UTC') AS utc_named;
-- the weekday is the local one: Monday 00:30 in India is Sunday 19:00 UTC
SELECT flowdb.cron_matches('30 0 * * 1', '2026-03-01 19:00:00+00', 'Asia/Kolkata') AS local_monday,
       flowdb.cron_matches('30 0 * * 1', '2026-03-01 19:00:00+00') AS utc_sunday;
-- macros
SELECT flowdb.cron_matches('@daily', '2026-03-02 00:00:00+00') AS daily_midnight,
       flowdb.cron_matches('@daily', '2026-03-02 00:01:00+00') AS daily_after,
       flowdb.cron_matches('@hourly', '2026-03-02 07:00:00+00') AS hourly,
       flowdb.cron_matches('@weekly', '2026-03-01 00:00:00+00') AS weekly_sunday,
       flowdb.cron_matches('@monthly', '2026-03-01 00:00:00+00') AS monthly_first,
       flowdb.cron_matches('@yearly', '2026-01-01 00:00:00+00') AS yearly,
       flowdb.cron_matches('@daily', '2026-03-01 18:30:00+00', 'Asia/Kolkata') AS daily_ist;
SELECT pg_temp.try($$SELECT flowdb.cron_matches('@daily', now(), 'Mars/Olympus')$$) AS unknown_zone;
SELECT pg_temp.try($$SELECT flowdb.cron_matches('@dialy', now())$$) AS unknown_macro;
-- validation: the zone must exist (did you mean), macros are known
SELECT e AS problem FROM jsonb_array_elements_text(flow_validate('{"version": 1, "name": "tz",
  "trigger": {"type": "schedule", "cron": "@daily", "timezone": "Asia/Kolkatta"},
  "nodes": [{"id": "n", "type": "router"}]}') -> 'errors') e;
SELECT e AS problem FROM jsonb_array_elements_text(flow_validate('{"version": 1, "name": "tz",
  "trigger": {"type": "schedule", "cron": "@dayly", "timezone": "Nowhere/Special"},
  "nodes": [{"id": "n", "type": "router"}]}') -> 'errors') e;
SELECT flow_validate('{"version": 1, "name": "tz", "trigger": {"type": "schedule", "cron": "0 9 * * 1-5", "timezone": "Asia/Kolkata"},
  "nodes": [{"id": "n", "type": "router"}]}') AS ist_schedule;
-- fire_schedules fires on the schedule's wall clock and says which zone
SELECT flow_save(format('{"version": 1, "name": "every minute in India", "trigger": {"type": "schedule", "cron": "* * * * *", "timezone": "Asia/Kolkata"}, "nodes": [{"id": "n", "type": "router"}]}')::jsonb) AS wf_tz \gset
SELECT flow_save(format('{"version": 1, "name": "never now", "trigger": {"type": "schedule", "cron": "%s %s * * *", "timezone": "Asia/Kolkata"}, "nodes": [{"id": "n", "type": "router"}]}',
       extract(minute FROM now() AT TIME ZONE 'UTC')::int, extract(hour FROM now() AT TIME ZONE 'UTC')::int)::jsonb) AS wf_utc_time \gset
SELECT flowdb.fire_schedules() >= 1 AS fired;
SELECT payload ->> 'timezone' AS timezone, payload ? 'scheduled_at' AS has_scheduled_at
FROM flowdb.runs WHERE workflow_id = :'wf_tz';
-- the current UTC hour and minute is not the current time in India
SELECT count(*) AS fired_at_utc_time FROM flowdb.runs WHERE workflow_id = :'wf_utc_time';
