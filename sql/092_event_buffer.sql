--
-- 092_event_buffer: events are kept for flowdb.event_buffer_seconds and
-- matched when a run parks on a wait_event node (the worker's commit of
-- status waiting without a lease, emulated here with an UPDATE since this
-- suite runs no workers): same owner only, data must match, the event must
-- be newer than the run and not have resumed that run before, and not be
-- expired.
--
\set VERBOSITY default
\set SHOW_CONTEXT never

SET request.jwt.claims = '{"sub": "eb-shop"}';
SELECT flow_execute('{"version": 1, "name": "eb", "trigger": {"type": "manual"},
                      "nodes": [{"id": "w", "type": "wait_event", "event": "eb.paid"}]}') AS run \gset
-- events while the run is not parked: nothing resumed, each one buffered
-- (only events some unfinished run of the owner has a wait_event for)
SELECT flow_send_event('eb.paid', '{"order": 1}') AS resumed;
SELECT flow_send_event('eb.paid', '{"order": 2}') AS resumed;
SET request.jwt.claims = '{"sub": "eb-other"}';
SELECT flow_send_event('eb.nobody_waits', '{"order": 98}') AS not_kept;
SELECT flow_execute('{"version": 1, "name": "eb", "trigger": {"type": "manual"},
                      "nodes": [{"id": "w", "type": "wait_event", "event": "eb.paid"}]}') IS NOT NULL AS other_run;
SELECT flow_send_event('eb.paid', '{"order": 99}') AS other_owner;
RESET request.jwt.claims;
SELECT owner, name, data, consumed_by, expires_at > now() + interval '4 min' AS kept_5_min
FROM flowdb.event_buffer WHERE owner LIKE 'eb-%' ORDER BY id;

-- the worker parks the run on w waiting for order 2: the buffered event of
-- the same owner with matching data resumes it at once
UPDATE flowdb.runs SET status = 'waiting', lease_owner = NULL, next_at = 'infinity',
	state = '{"nodes": {"w": {"status": "waiting", "event": "eb.paid", "match": {"order": 2}}}}'
WHERE id = :'run';
SELECT state -> 'nodes' -> 'w' AS node, next_at <= now() AS due FROM flowdb.runs WHERE id = :'run';
SELECT data, consumed_by = ARRAY[:'run'::uuid] AS consumed_by_run FROM flowdb.event_buffer
WHERE owner LIKE 'eb-%' AND cardinality(consumed_by) > 0;

-- parked again on another wait for the same event: the event it already
-- consumed does not count, the other owner's never does, an expired one
-- neither
UPDATE flowdb.runs SET status = 'running', lease_owner = 0 WHERE id = :'run';
UPDATE flowdb.event_buffer SET expires_at = now() - interval '1 s' WHERE data = '{"order": 1}';
UPDATE flowdb.runs SET status = 'waiting', lease_owner = NULL,
	state = '{"nodes": {"w": {"status": "succeeded"}, "w2": {"status": "waiting", "event": "eb.paid"}}}'
WHERE id = :'run';
SELECT state -> 'nodes' -> 'w2' AS node FROM flowdb.runs WHERE id = :'run';

-- events from before the run was created do not count
UPDATE flowdb.event_buffer SET expires_at = now() + interval '1 min';
UPDATE flowdb.runs SET created_at = now() + interval '1 s', status = 'running', lease_owner = 0 WHERE id = :'run';
UPDATE flowdb.runs SET status = 'waiting', lease_owner = NULL WHERE id = :'run';
SELECT state -> 'nodes' -> 'w2' AS node FROM flowdb.runs WHERE id = :'run';
UPDATE flowdb.runs SET created_at = now() - interval '1 min', status = 'running', lease_owner = 0 WHERE id = :'run';
UPDATE flowdb.runs SET status = 'waiting', lease_owner = NULL WHERE id = :'run';
SELECT state -> 'nodes' -> 'w2' ->> 'status' AS status, state -> 'nodes' -> 'w2' -> 'output' AS output
FROM flowdb.runs WHERE id = :'run';

-- prune drops expired events
UPDATE flowdb.event_buffer SET expires_at = now() - interval '1 s';
SELECT flowdb.prune() >= 0 AS pruned;
SELECT count(*) AS buffered FROM flowdb.event_buffer;

-- 0 turns buffering off; clients cannot read the buffer
SET flowdb.event_buffer_seconds = 0;
SET request.jwt.claims = '{"sub": "eb-shop"}';
SELECT flow_send_event('eb.paid', '{"order": 3}') AS resumed;
RESET request.jwt.claims;
SELECT count(*) AS buffered FROM flowdb.event_buffer;
RESET flowdb.event_buffer_seconds;
CREATE ROLE regress_flowdb_eb NOLOGIN;
SET ROLE regress_flowdb_eb;
SELECT count(*) FROM flowdb.event_buffer;
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
DROP ROLE regress_flowdb_eb;
DELETE FROM flowdb.runs WHERE owner LIKE 'eb-%';
