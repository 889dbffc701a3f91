--
-- 070_webhooks: HMAC primitives against published test vectors, then the
-- Razorpay and Slack webhooks end to end, with PostgREST-style request
-- headers (request.headers, set per transaction).
--
\set VERBOSITY default
\set SHOW_CONTEXT never

------------------------------------------------------------------------
-- flowdb.hmac: RFC 4231 (HMAC-SHA-256) and RFC 2202 (HMAC-SHA-1)
------------------------------------------------------------------------
-- RFC 4231 test case 1 and 2, and 6 (key longer than the block size)
SELECT encode(flowdb.hmac('\x4869205468657265'::bytea, decode(repeat('0b', 20), 'hex'), 'sha256'), 'hex') AS rfc4231_tc1;
SELECT encode(flowdb.hmac(convert_to('what do ya want for nothing?', 'UTF8'), convert_to('Jefe', 'UTF8'), 'sha256'), 'hex') AS rfc4231_tc2;
SELECT encode(flowdb.hmac(convert_to('Test Using Larger Than Block-Size Key - Hash Key First', 'UTF8'),
                          decode(repeat('aa', 131), 'hex'), 'sha256'), 'hex') AS rfc4231_tc6;
-- RFC 2202 test cases 1 and 2
SELECT encode(flowdb.hmac(convert_to('Hi There', 'UTF8'), decode(repeat('0b', 20), 'hex'), 'sha1'), 'hex') AS rfc2202_tc1;
SELECT encode(flowdb.hmac(convert_to('what do ya want for nothing?', 'UTF8'), convert_to('Jefe', 'UTF8'), 'SHA1'), 'hex') AS rfc2202_tc2;
-- empty key and data are fine; other algorithms are refused (22023)
SELECT length(flowdb.hmac('', '', 'sha256')) AS sha256_bytes, length(flowdb.hmac('', '', 'sha1')) AS sha1_bytes;
SELECT flowdb.hmac('data', 'key', 'md5');
\echo :LAST_ERROR_SQLSTATE

-- Slack's documented signing example (the body is form-encoded, so it is
-- checked with the primitive rather than through slack_webhook(json))
SELECT 'v0=' || encode(flowdb.hmac(convert_to('v0:1531420618:' ||
  'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c',
  'UTF8'), convert_to('8f742231b10e8888abcd99yyyzzz85a5', 'UTF8'), 'sha256'), 'hex') AS slack_signature;

-- flowdb.safe_equal: constant-time comparison
SELECT flowdb.safe_equal('abc', 'abc') AS same, flowdb.safe_equal('abc', 'abd') AS differs,
       flowdb.safe_equal('abc', 'abcd') AS longer, flowdb.safe_equal('abcd', 'abc') AS shorter,
       flowdb.safe_equal('', '') AS empty, flowdb.safe_equal('a', '') AS one_empty;

-- flowdb.request_header reads PostgREST's request.headers (lower-case names)
BEGIN;
SELECT set_config('request.headers', '{"x-razorpay-signature": "abc", "content-type": "application/json"}', true) IS NOT NULL AS set;
SELECT flowdb.request_header('X-Razorpay-Signature') AS sig, flowdb.request_header('content-type') AS ctype,
       flowdb.request_header('x-missing') AS missing;
COMMIT;
SELECT flowdb.request_header('x-razorpay-signature') AS outside_the_request;

------------------------------------------------------------------------
-- Razorpay
------------------------------------------------------------------------
SET flowdb.razorpay_webhook_secret = 'rzp_webhook_test_secret';
SELECT flow_save('{"version": 1, "name": "Thank payer", "trigger": {"type": "event", "event": "razorpay.payment.captured"},
                   "nodes": [{"id": "thank", "type": "action", "service": "whatsapp", "task": "send_message",
                              "params": {"to": "{{ trigger_data.contact }}", "body": "Thanks for paying Rs {{ trigger_data.amount_rupees }}"}}]}') AS wf_rzp \gset
SELECT flow_save('{"version": 1, "name": "Payment failed", "trigger": {"type": "event", "event": "razorpay.payment.failed"},
                   "nodes": [{"id": "n", "type": "router"}]}') AS wf_rzp_failed \gset

\set rzp_body '{"entity":"event","account_id":"acc_BFQ7uQEaa7j2z7","event":"payment.captured","contains":["payment"],"payload":{"payment":{"entity":{"id":"pay_DESlfW9H8K9uqM","entity":"payment","amount":50050,"currency":"INR","status":"captured","method":"upi","email":"gaurav.kumar@example.com","contact":"+919876543210"}}},"created_at":1567674606}'
SELECT encode(flowdb.hmac(convert_to(:'rzp_body', 'UTF8'), convert_to('rzp_webhook_test_secret', 'UTF8'), 'sha256'), 'hex') AS rzp_sig \gset

-- a valid delivery starts the workflow of razorpay.payment.captured with
-- the payment entity (plus amount_rupees) as its data
BEGIN;
SELECT set_config('request.headers', json_build_object('x-razorpay-signature', :'rzp_sig',
                  'x-razorpay-event-id', 'evt_test_0001')::text, true) IS NOT NULL AS headers_set;
SELECT razorpay_webhook(:'rzp_body'::json) AS result \gset
COMMIT;
SELECT (:'result'::jsonb) ->> 'status' AS status, (:'result'::jsonb) ->> 'event' AS event,
       jsonb_array_length((:'result'::jsonb) -> 'runs') AS runs;
SELECT w.name, r.status, r.payload - 'amount_rupees' AS entity,
       trim_scale((r.payload ->> 'amount_rupees')::numeric) AS amount_rupees,
       scale((r.payload ->> 'amount_rupees')::numeric) <= 2 AS rupees_at_most_paise_precision,
       r.id::text = (:'result'::jsonb) -> 'runs' ->> 0 AS run_is_returned
FROM flowdb.runs r JOIN flowdb.workflows w ON w.id = r.workflow_id;
SELECT provider, delivery_id, event FROM flowdb.webhook_deliveries ORDER BY provider, delivery_id;

-- the same delivery again (providers retry): duplicate, nothing started
BEGIN;
SELECT set_config('request.headers', json_build_object('x-razorpay-signature', :'rzp_sig',
                  'x-razorpay-event-id', 'evt_test_0001')::text, true) IS NOT NULL AS headers_set;
SELECT razorpay_webhook(:'rzp_body'::json);
COMMIT;
SELECT count(*) AS runs FROM flowdb.runs;

-- without X-Razorpay-Event-Id the body's id (or its md5) identifies it
BEGIN;
SELECT set_config('request.headers', json_build_object('x-razorpay-signature', upper(:'rzp_sig'))::text, true) IS NOT NULL AS headers_set;
SELECT razorpay_webhook(:'rzp_body'::json) ->> 'status' AS upper_case_signature_accepted;
SELECT razorpay_webhook(:'rzp_body'::json) ->> 'status' AS same_body_again;
COMMIT;
SELECT provider, delivery_id = md5(:'rzp_body') AS md5_of_body, event
FROM flowdb.webhook_deliveries WHERE delivery_id <> 'evt_test_0001';
SELECT count(*) AS runs FROM flowdb.runs;

-- bad signature: 28000, nothing written
SELECT count(*) AS runs_before FROM flowdb.runs \gset
SELECT count(*) AS deliveries_before FROM flowdb.webhook_deliveries \gset
\set rzp_body2 '{"event":"payment.failed","payload":{"payment":{"entity":{"id":"pay_X","amount":100}}}}'
BEGIN;
SELECT set_config('request.headers', json_build_object('x-razorpay-signature', :'rzp_sig', 'x-razorpay-event-id', 'evt_test_0002')::text, true) IS NOT NULL AS headers_set;
SELECT razorpay_webhook(:'rzp_body2'::json);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
-- a body changed by one byte
BEGIN;
SELECT set_config('request.headers', json_build_object('x-razorpay-signature', :'rzp_sig', 'x-razorpay-event-id', 'evt_test_0003')::text, true) IS NOT NULL AS headers_set;
SELECT razorpay_webhook(replace(:'rzp_body', '50050', '50051')::json);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
-- no signature header
BEGIN;
SELECT set_config('request.headers', '{"x-razorpay-event-id": "evt_test_0004"}', true) IS NOT NULL AS headers_set;
SELECT razorpay_webhook(:'rzp_body2'::json);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
-- no request headers at all
SELECT razorpay_webhook(:'rzp_body2'::json);
\echo :LAST_ERROR_SQLSTATE
-- signed with another secret
BEGIN;
SELECT set_config('request.headers', json_build_object('x-razorpay-signature',
         encode(flowdb.hmac(convert_to(:'rzp_body2', 'UTF8'), convert_to('wrong secret', 'UTF8'), 'sha256'), 'hex'))::text, true) IS NOT NULL AS headers_set;
SELECT razorpay_webhook(:'rzp_body2'::json);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
SELECT count(*) - :runs_before AS new_runs FROM flowdb.runs;
SELECT count(*) - :deliveries_before AS new_deliveries FROM flowdb.webhook_deliveries;

-- missing secret: 28000 (with a hint), nothing written
RESET flowdb.razorpay_webhook_secret;
BEGIN;
SELECT set_config('request.headers', json_build_object('x-razorpay-signature', :'rzp_sig', 'x-razorpay-event-id', 'evt_test_0005')::text, true) IS NOT NULL AS headers_set;
SELECT razorpay_webhook(:'rzp_body'::json);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
SELECT count(*) - :runs_before AS new_runs FROM flowdb.runs;
SELECT count(*) - :deliveries_before AS new_deliveries FROM flowdb.webhook_deliveries;

-- the secret is not visible to ordinary roles
SET flowdb.razorpay_webhook_secret = 'rzp_webhook_test_secret';
-- (the signature is computed first: flowdb.hmac is not for ordinary roles)
SELECT encode(flowdb.hmac(convert_to(:'rzp_body2', 'UTF8'), convert_to('rzp_webhook_test_secret', 'UTF8'), 'sha256'), 'hex') AS rzp_sig2 \gset
CREATE ROLE regress_flowdb_webhook NOLOGIN;
SET ROLE regress_flowdb_webhook;
SELECT current_setting('flowdb.razorpay_webhook_secret');
\echo :LAST_ERROR_SQLSTATE
SET flowdb.razorpay_webhook_secret = 'attacker';
\echo :LAST_ERROR_SQLSTATE
-- but the webhook itself is callable (PostgREST's anonymous role calls it)
BEGIN;
SELECT set_config('request.headers', json_build_object('x-razorpay-signature', :'rzp_sig2',
         'x-razorpay-event-id', 'evt_test_0006')::text, true) IS NOT NULL AS headers_set;
SELECT razorpay_webhook(:'rzp_body2'::json) - 'runs' AS result;
COMMIT;
RESET ROLE;
DROP ROLE regress_flowdb_webhook;
-- a payment.failed run was started for the failed-payment workflow's owner
SELECT w.name, r.payload - 'amount_rupees' AS entity, (r.payload ->> 'amount_rupees')::numeric = 1 AS one_rupee
FROM flowdb.runs r JOIN flowdb.workflows w ON w.id = r.workflow_id
WHERE w.name = 'Payment failed';
RESET flowdb.razorpay_webhook_secret;

------------------------------------------------------------------------
-- Slack
------------------------------------------------------------------------
SET flowdb.slack_signing_secret = '8f742231b10e8888abcd99yyyzzz85a5';
SELECT flow_save('{"version": 1, "name": "On mention", "trigger": {"type": "event", "event": "slack.app_mention"},
                   "nodes": [{"id": "n", "type": "set", "values": {"text": "{{ trigger_data.text }}"}}]}') AS wf_slack \gset

-- url_verification answers the challenge
\set slack_body '{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}'
SELECT extract(epoch FROM now())::bigint AS ts \gset
BEGIN;
SELECT set_config('request.headers', json_build_object('x-slack-request-timestamp', :'ts',
         'x-slack-signature', 'v0=' || encode(flowdb.hmac(convert_to('v0:' || :'ts' || ':' || :'slack_body', 'UTF8'),
                                                          convert_to('8f742231b10e8888abcd99yyyzzz85a5', 'UTF8'), 'sha256'), 'hex'))::text,
         true) IS NOT NULL AS headers_set;
SELECT slack_webhook(:'slack_body'::json);
COMMIT;

-- event_callback becomes event slack.<event type>, data = the event
\set slack_event '{"token":"XXYYZZ","team_id":"T123ABC456","api_app_id":"A123ABC456","event":{"type":"app_mention","user":"U123ABC456","text":"<@U0LAN0Z89> is it everything a river should be?","ts":"1515449522.000016","channel":"C123ABC456","event_ts":"1515449522000016"},"type":"event_callback","event_id":"Ev123ABC456","event_time":1515449522}'
BEGIN;
SELECT set_config('request.headers', json_build_object('x-slack-request-timestamp', :'ts',
         'x-slack-signature', 'v0=' || encode(flowdb.hmac(convert_to('v0:' || :'ts' || ':' || :'slack_event', 'UTF8'),
                                                          convert_to('8f742231b10e8888abcd99yyyzzz85a5', 'UTF8'), 'sha256'), 'hex'))::text,
         true) IS NOT NULL AS headers_set;
SELECT slack_webhook(:'slack_event'::json) - 'runs' AS result;
SELECT slack_webhook(:'slack_event'::json) AS again;
COMMIT;
SELECT w.name, r.status, r.payload ->> 'type' AS type, r.payload ->> 'text' AS text
FROM flowdb.runs r JOIN flowdb.workflows w ON w.id = r.workflow_id WHERE w.id = :'wf_slack';
SELECT provider, delivery_id, event FROM flowdb.webhook_deliveries WHERE provider = 'slack';

SELECT count(*) AS runs_before FROM flowdb.runs \gset
SELECT count(*) AS deliveries_before FROM flowdb.webhook_deliveries \gset
\set slack_event2 '{"type":"event_callback","event_id":"Ev999","event":{"type":"app_mention","text":"stale"}}'
-- a stale timestamp (more than 5 minutes old), correctly signed: 28000
SELECT (extract(epoch FROM now())::bigint - 301)::text AS old_ts \gset
BEGIN;
SELECT set_config('request.headers', json_build_object('x-slack-request-timestamp', :'old_ts',
         'x-slack-signature', 'v0=' || encode(flowdb.hmac(convert_to('v0:' || :'old_ts' || ':' || :'slack_event2', 'UTF8'),
                                                          convert_to('8f742231b10e8888abcd99yyyzzz85a5', 'UTF8'), 'sha256'), 'hex'))::text,
         true) IS NOT NULL AS headers_set;
SELECT slack_webhook(:'slack_event2'::json);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
-- Slack's documented example is long stale too
BEGIN;
SELECT set_config('request.headers', '{"x-slack-request-timestamp": "1531420618", "x-slack-signature": "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"}', true) IS NOT NULL AS headers_set;
SELECT slack_webhook(:'slack_event2'::json);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
-- a timestamp from the future, a malformed one, none
BEGIN;
SELECT set_config('request.headers', json_build_object('x-slack-request-timestamp', (extract(epoch FROM now())::bigint + 3600)::text,
         'x-slack-signature', 'v0=00')::text, true) IS NOT NULL AS headers_set;
SELECT slack_webhook(:'slack_event2'::json);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SELECT set_config('request.headers', '{"x-slack-request-timestamp": "soon", "x-slack-signature": "v0=00"}', true) IS NOT NULL AS headers_set;
SELECT slack_webhook(:'slack_event2'::json);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
SELECT slack_webhook(:'slack_event2'::json);
\echo :LAST_ERROR_SQLSTATE
-- a fresh timestamp with a bad signature
BEGIN;
SELECT set_config('request.headers', json_build_object('x-slack-request-timestamp', :'ts',
         'x-slack-signature', 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503')::text, true) IS NOT NULL AS headers_set;
SELECT slack_webhook(:'slack_event2'::json);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
-- signed for another timestamp (replay with a new timestamp header)
BEGIN;
SELECT set_config('request.headers', json_build_object('x-slack-request-timestamp', :'ts',
         'x-slack-signature', 'v0=' || encode(flowdb.hmac(convert_to('v0:' || :'old_ts' || ':' || :'slack_event2', 'UTF8'),
                                                          convert_to('8f742231b10e8888abcd99yyyzzz85a5', 'UTF8'), 'sha256'), 'hex'))::text,
         true) IS NOT NULL AS headers_set;
SELECT slack_webhook(:'slack_event2'::json);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
-- missing secret
RESET flowdb.slack_signing_secret;
BEGIN;
SELECT set_config('request.headers', json_build_object('x-slack-request-timestamp', :'ts',
         'x-slack-signature', 'v0=' || encode(flowdb.hmac(convert_to('v0:' || :'ts' || ':' || :'slack_event2', 'UTF8'),
                                                          convert_to('8f742231b10e8888abcd99yyyzzz85a5', 'UTF8'), 'sha256'), 'hex'))::text,
         true) IS NOT NULL AS headers_set;
SELECT slack_webhook(:'slack_event2'::json);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
SELECT count(*) - :runs_before AS new_runs FROM flowdb.runs;
SELECT count(*) - :deliveries_before AS new_deliveries FROM flowdb.webhook_deliveries;

-- deliveries are not readable by ordinary roles
CREATE ROLE regress_flowdb_webhook NOLOGIN;
SET ROLE regress_flowdb_webhook;
SELECT count(*) FROM flowdb.webhook_deliveries;
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
DROP ROLE regress_flowdb_webhook;

DELETE FROM flowdb.runs;
DELETE FROM flowdb.workflows;
DELETE FROM flowdb.webhook_deliveries;
