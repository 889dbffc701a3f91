--
-- 070_webhooks: HMAC primitives against published test vectors, then the
-- Razorpay and Slack webhooks end to end, with PostgREST-style request
-- headers (request.headers, set per transaction): each delivery goes to the
-- one owner whose credential names its account and whose secret signs it.
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
-- Razorpay: routed by the signed account_id to one owner
------------------------------------------------------------------------
-- shop A and shop B each listen to razorpay.payment.captured; each has its
-- own Razorpay account and webhook secret in its credential
SET request.jwt.claims = '{"sub": "rzp-shop-a"}';
SELECT flow_set_credential('razorpay', 'default', '{"key_id": "rzp_test_a", "key_secret": "ks_a",
        "account_id": "acc_BFQ7uQEaa7j2z7", "webhook_secret": "rzp_webhook_test_secret"}');
SELECT flow_save('{"version": 1, "name": "Thank payer", "trigger": {"type": "event", "event": "razorpay.payment.captured"},
                   "nodes": [{"id": "thank", "type": "action", "service": "whatsapp", "task": "send_message",
                              "params": {"to": "{{ trigger_data.contact }}", "body": "Thanks for paying Rs {{ trigger_data.amount_rupees }}"}}]}') AS wf_rzp \gset
SELECT flow_save('{"version": 1, "name": "Payment failed", "trigger": {"type": "event", "event": "razorpay.payment.failed"},
                   "nodes": [{"id": "n", "type": "router"}]}') AS wf_rzp_failed \gset
SET request.jwt.claims = '{"sub": "rzp-shop-b"}';
SELECT flow_set_credential('razorpay', 'default', '{"key_id": "rzp_test_b", "key_secret": "ks_b",
        "account_id": "acc_SHOPB", "webhook_secret": "shop_b_secret"}');
SELECT flow_save('{"version": 1, "name": "B thanks payer", "trigger": {"type": "event", "event": "razorpay.payment.captured"},
                   "nodes": [{"id": "n", "type": "router"}]}') AS wf_rzp_b \gset
RESET request.jwt.claims;

-- a fresh delivery for shop A's account (created_at: now)
SELECT extract(epoch FROM now())::bigint AS now_epoch \gset
SELECT format('{"entity":"event","account_id":"acc_BFQ7uQEaa7j2z7","event":"payment.captured","contains":["payment"],"payload":{"payment":{"entity":{"id":"pay_DESlfW9H8K9uqM","entity":"payment","amount":50050,"currency":"INR","status":"captured","method":"upi","email":"gaurav.kumar@example.com","contact":"+919876543210"}}},"created_at":%s}', :now_epoch) AS rzp_body \gset
SELECT encode(flowdb.hmac(convert_to(:'rzp_body', 'UTF8'), convert_to('rzp_webhook_test_secret', 'UTF8'), 'sha256'), 'hex') AS rzp_sig \gset

-- a valid delivery starts shop A's workflow only, with the payment entity
-- (plus amount_rupees) as its data
BEGIN;
SELECT set_config('request.headers', json_build_object('x-razorpay-signature', :'rzp_sig',
                  'x-razorpay-event-id', 'evt_test_0001')::text, true) IS NOT NULL AS headers_set;
SELECT razorpay_webhook(:'rzp_body'::json) AS result \gset
COMMIT;
SELECT (:'result'::jsonb) ->> 'status' AS status, (:'result'::jsonb) ->> 'event' AS event,
       jsonb_array_length((:'result'::jsonb) -> 'runs') AS runs;
SELECT w.name, r.owner, r.status, r.payload - 'amount_rupees' AS entity,
       trim_scale((r.payload ->> 'amount_rupees')::numeric) AS amount_rupees,
       scale((r.payload ->> 'amount_rupees')::numeric) <= 2 AS rupees_at_most_paise_precision,
       r.id::text = (:'result'::jsonb) -> 'runs' ->> 0 AS run_is_returned
FROM flowdb.runs r JOIN flowdb.workflows w ON w.id = r.workflow_id;
-- the delivery is identified by the hash of its signed body
SELECT provider, delivery_id = 'sha256:' || encode(sha256(convert_to(:'rzp_body', 'UTF8')), 'hex') AS body_hash, event
FROM flowdb.webhook_deliveries ORDER BY provider, delivery_id;

-- the same body again, even under another X-Razorpay-Event-Id (the header
-- is not signed) or with an upper-case signature: duplicate, nothing started
BEGIN;
SELECT set_config('request.headers', json_build_object('x-razorpay-signature', upper(:'rzp_sig'),
                  'x-razorpay-event-id', 'evt_test_other')::text, true) IS NOT NULL AS headers_set;
SELECT razorpay_webhook(:'rzp_body'::json) ->> 'status' AS replayed_under_new_event_id;
COMMIT;
SELECT count(*) AS runs FROM flowdb.runs;

-- refused deliveries: 28000, nothing written
SELECT count(*) AS runs_before FROM flowdb.runs \gset
SELECT count(*) AS deliveries_before FROM flowdb.webhook_deliveries \gset
SELECT format('{"account_id":"acc_BFQ7uQEaa7j2z7","event":"payment.failed","payload":{"payment":{"entity":{"id":"pay_X","amount":100}}},"created_at":%s}', :now_epoch) AS rzp_body2 \gset
-- the signature of another body
BEGIN;
SELECT set_config('request.headers', json_build_object('x-razorpay-signature', :'rzp_sig')::text, true) IS NOT NULL AS headers_set;
SELECT razorpay_webhook(:'rzp_body2'::json);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
-- a body changed by one byte
BEGIN;
SELECT set_config('request.headers', json_build_object('x-razorpay-signature', :'rzp_sig')::text, true) IS NOT NULL AS headers_set;
SELECT razorpay_webhook(replace(:'rzp_body', '50050', '50051')::json);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
-- no signature header; no request headers at all
BEGIN;
SELECT set_config('request.headers', '{"x-razorpay-event-id": "evt_test_0004"}', true) IS NOT NULL AS headers_set;
SELECT razorpay_webhook(:'rzp_body2'::json);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
SELECT razorpay_webhook(:'rzp_body2'::json);
\echo :LAST_ERROR_SQLSTATE
-- shop A's account signed with shop B's secret
BEGIN;
SELECT set_config('request.headers', json_build_object('x-razorpay-signature',
         encode(flowdb.hmac(convert_to(:'rzp_body2', 'UTF8'), convert_to('shop_b_secret', 'UTF8'), 'sha256'), 'hex'))::text, true) IS NOT NULL AS headers_set;
SELECT razorpay_webhook(:'rzp_body2'::json);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
-- an account nobody's credential names
BEGIN;
SELECT set_config('request.headers', json_build_object('x-razorpay-signature',
         encode(flowdb.hmac(convert_to(replace(:'rzp_body2', 'acc_BFQ7uQEaa7j2z7', 'acc_NOBODY'), 'UTF8'),
                            convert_to('rzp_webhook_test_secret', 'UTF8'), 'sha256'), 'hex'))::text, true) IS NOT NULL AS headers_set;
SELECT razorpay_webhook(replace(:'rzp_body2', 'acc_BFQ7uQEaa7j2z7', 'acc_NOBODY')::json);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
-- correctly signed but older than flowdb.webhook_max_age (a replay), from
-- the future, or without created_at
SET flowdb.webhook_max_age = '1h';
SELECT replace(:'rzp_body2', :'now_epoch', (:now_epoch - 3700)::text) AS rzp_old \gset
SELECT replace(:'rzp_body2', :'now_epoch', (:now_epoch + 3600)::text) AS rzp_future \gset
SELECT replace(:'rzp_body2', ',"created_at":' || :'now_epoch', '') AS rzp_undated \gset
BEGIN;
SELECT set_config('request.headers', json_build_object('x-razorpay-signature',
         encode(flowdb.hmac(convert_to(:'rzp_old', 'UTF8'), convert_to('rzp_webhook_test_secret', 'UTF8'), 'sha256'), 'hex'))::text, true) IS NOT NULL AS headers_set;
SELECT razorpay_webhook(:'rzp_old'::json);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SELECT set_config('request.headers', json_build_object('x-razorpay-signature',
         encode(flowdb.hmac(convert_to(:'rzp_future', 'UTF8'), convert_to('rzp_webhook_test_secret', 'UTF8'), 'sha256'), 'hex'))::text, true) IS NOT NULL AS headers_set;
SELECT razorpay_webhook(:'rzp_future'::json);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SELECT set_config('request.headers', json_build_object('x-razorpay-signature',
         encode(flowdb.hmac(convert_to(:'rzp_undated', 'UTF8'), convert_to('rzp_webhook_test_secret', 'UTF8'), 'sha256'), 'hex'))::text, true) IS NOT NULL AS headers_set;
SELECT razorpay_webhook(:'rzp_undated'::json);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
RESET flowdb.webhook_max_age;
SELECT count(*) - :runs_before AS new_runs FROM flowdb.runs;
SELECT count(*) - :deliveries_before AS new_deliveries FROM flowdb.webhook_deliveries;

-- a tenant who claims shop A's account id with a secret of its own gets
-- none of A's deliveries, and its own forged "account A" deliveries go to
-- itself only
SET request.jwt.claims = '{"sub": "rzp-mallory"}';
SELECT flow_set_credential('razorpay', 'default', '{"key_id": "k", "key_secret": "s",
        "account_id": "acc_BFQ7uQEaa7j2z7", "webhook_secret": "mallory_secret"}');
SELECT flow_save('{"version": 1, "name": "Mallory listens", "trigger": {"type": "event", "event": "razorpay.payment.failed"},
                   "nodes": [{"id": "n", "type": "router"}]}') IS NOT NULL AS saved;
RESET request.jwt.claims;
-- shop A's real delivery (signed by Razorpay with A's secret), by an ordinary role
-- (signatures are computed first: flowdb.hmac is not for ordinary roles)
SELECT replace(:'rzp_body2', 'pay_X', 'pay_FORGED') AS rzp_forged \gset
SELECT encode(flowdb.hmac(convert_to(:'rzp_body2', 'UTF8'), convert_to('rzp_webhook_test_secret', 'UTF8'), 'sha256'), 'hex') AS sig_a,
       encode(flowdb.hmac(convert_to(:'rzp_forged', 'UTF8'), convert_to('mallory_secret', 'UTF8'), 'sha256'), 'hex') AS sig_forged \gset
CREATE ROLE regress_flowdb_webhook NOLOGIN;
SET ROLE regress_flowdb_webhook;
BEGIN;
SELECT set_config('request.headers', json_build_object('x-razorpay-signature', :'sig_a')::text, true) IS NOT NULL AS headers_set;
SELECT razorpay_webhook(:'rzp_body2'::json) - 'runs' AS result;
COMMIT;
-- mallory's forgery for account A
BEGIN;
SELECT set_config('request.headers', json_build_object('x-razorpay-signature', :'sig_forged')::text, true) IS NOT NULL AS headers_set;
SELECT razorpay_webhook(:'rzp_forged'::json) - 'runs' AS result;
COMMIT;
RESET ROLE;
DROP ROLE regress_flowdb_webhook;
SELECT w.name, r.owner, r.payload ->> 'id' AS payment
FROM flowdb.runs r JOIN flowdb.workflows w ON w.id = r.workflow_id
WHERE r.payload ->> 'id' IN ('pay_X', 'pay_FORGED') ORDER BY 1, 3;

-- shop B's own delivery goes to shop B
SELECT replace(replace(:'rzp_body', 'acc_BFQ7uQEaa7j2z7', 'acc_SHOPB'), 'pay_DESlfW9H8K9uqM', 'pay_B1') AS rzp_b \gset
BEGIN;
SELECT set_config('request.headers', json_build_object('x-razorpay-signature',
         encode(flowdb.hmac(convert_to(:'rzp_b', 'UTF8'), convert_to('shop_b_secret', 'UTF8'), 'sha256'), 'hex'))::text, true) IS NOT NULL AS headers_set;
SELECT jsonb_array_length(razorpay_webhook(:'rzp_b'::json) -> 'runs') AS runs;
COMMIT;
SELECT w.name, r.owner FROM flowdb.runs r JOIN flowdb.workflows w ON w.id = r.workflow_id
WHERE r.payload ->> 'id' = 'pay_B1';

-- the server-wide owner '*' (single-shop installs): only a superuser or
-- service_role may set its credentials
CREATE ROLE regress_flowdb_plain NOLOGIN;
SET ROLE regress_flowdb_plain;
SELECT flow_set_server_credential('razorpay', 'default', '{"key_id": "k", "key_secret": "s", "webhook_secret": "x"}');
\echo :LAST_ERROR_SQLSTATE
SET request.jwt.claims = '{"sub": "*"}';
SELECT flow_set_credential('razorpay', 'default', '{"key_id": "k", "key_secret": "s", "webhook_secret": "x"}');
\echo :LAST_ERROR_SQLSTATE
RESET request.jwt.claims;
RESET ROLE;
SELECT flow_set_server_credential('razorpay', 'default', '{"key_id": "k", "key_secret": "s", "webhook_secret": "server_secret"}');
SELECT owner, service, name FROM flowdb.credentials WHERE owner = '*';
-- nor delete them
SET ROLE regress_flowdb_plain;
SET request.jwt.claims = '{"sub": "*"}';
SELECT flow_delete_credential('razorpay') AS deleted_by_plain_role;
RESET request.jwt.claims;
RESET ROLE;
DROP ROLE regress_flowdb_plain;
SELECT count(*) AS server_credentials FROM flowdb.credentials WHERE owner = '*';
SELECT current_setting('request.jwt.claims', true) IS NOT DISTINCT FROM '' OR current_setting('request.jwt.claims', true) IS NULL AS claims_restored;
-- a delivery for an account no owner names, signed with the server-wide
-- secret, goes to every owner's workflows (single-shop mode)
SELECT replace(replace(:'rzp_body', 'acc_BFQ7uQEaa7j2z7', 'acc_SINGLE'), 'pay_DESlfW9H8K9uqM', 'pay_S1') AS rzp_single \gset
BEGIN;
SELECT set_config('request.headers', json_build_object('x-razorpay-signature',
         encode(flowdb.hmac(convert_to(:'rzp_single', 'UTF8'), convert_to('server_secret', 'UTF8'), 'sha256'), 'hex'))::text, true) IS NOT NULL AS headers_set;
SELECT jsonb_array_length(razorpay_webhook(:'rzp_single'::json) -> 'runs') AS runs;
COMMIT;
SELECT w.name, r.owner FROM flowdb.runs r JOIN flowdb.workflows w ON w.id = r.workflow_id
WHERE r.payload ->> 'id' = 'pay_S1' ORDER BY 1;
-- but it cannot speak for an account an owner names
SELECT replace(:'rzp_body', 'pay_DESlfW9H8K9uqM', 'pay_S2') AS rzp_s2 \gset
BEGIN;
SELECT set_config('request.headers', json_build_object('x-razorpay-signature',
         encode(flowdb.hmac(convert_to(:'rzp_s2', 'UTF8'), convert_to('server_secret', 'UTF8'), 'sha256'), 'hex'))::text, true) IS NOT NULL AS headers_set;
SELECT razorpay_webhook(:'rzp_s2'::json);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
DELETE FROM flowdb.credentials WHERE owner = '*';

------------------------------------------------------------------------
-- Slack: routed by the signed team_id (else api_app_id) to one owner
------------------------------------------------------------------------
SET request.jwt.claims = '{"sub": "slack-shop"}';
SELECT flow_set_credential('slack', 'default', '{"bot_token": "xoxb-1", "team_id": "T123ABC456",
        "signing_secret": "8f742231b10e8888abcd99yyyzzz85a5"}');
SELECT flow_save('{"version": 1, "name": "On mention", "trigger": {"type": "event", "event": "slack.app_mention"},
                   "nodes": [{"id": "n", "type": "set", "values": {"text": "{{ trigger_data.text }}"}}]}') AS wf_slack \gset
SET request.jwt.claims = '{"sub": "slack-other"}';
SELECT flow_set_credential('slack', 'default', '{"bot_token": "xoxb-2", "team_id": "T_OTHER",
        "signing_secret": "other_signing_secret"}');
SELECT flow_save('{"version": 1, "name": "Other team mention", "trigger": {"type": "event", "event": "slack.app_mention"},
                   "nodes": [{"id": "n", "type": "router"}]}') AS wf_slack_other \gset
SET request.jwt.claims = '{"sub": "slack-app"}';
SELECT flow_set_credential('slack', 'default', '{"bot_token": "xoxb-3", "api_app_id": "A_APP_ONLY",
        "signing_secret": "app_signing_secret"}');
SELECT flow_save('{"version": 1, "name": "App mention", "trigger": {"type": "event", "event": "slack.app_mention"},
                   "nodes": [{"id": "n", "type": "router"}]}') AS wf_slack_app \gset
RESET request.jwt.claims;

-- url_verification (it names no team) answers the challenge when any slack
-- credential's secret signs it
\set slack_body '{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}'
SELECT extract(epoch FROM now())::bigint AS ts \gset
BEGIN;
SELECT set_config('request.headers', json_build_object('x-slack-request-timestamp', :'ts',
         'x-slack-signature', 'v0=' || encode(flowdb.hmac(convert_to('v0:' || :'ts' || ':' || :'slack_body', 'UTF8'),
                                                          convert_to('8f742231b10e8888abcd99yyyzzz85a5', 'UTF8'), 'sha256'), 'hex'))::text,
         true) IS NOT NULL AS headers_set;
SELECT slack_webhook(:'slack_body'::json);
COMMIT;
BEGIN;
SELECT set_config('request.headers', json_build_object('x-slack-request-timestamp', :'ts',
         'x-slack-signature', 'v0=' || encode(flowdb.hmac(convert_to('v0:' || :'ts' || ':' || :'slack_body', 'UTF8'),
                                                          convert_to('not a known secret', 'UTF8'), 'sha256'), 'hex'))::text,
         true) IS NOT NULL AS headers_set;
SELECT slack_webhook(:'slack_body'::json);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;

-- event_callback becomes event slack.<event type> for the team's owner only
\set slack_event '{"token":"XXYYZZ","team_id":"T123ABC456","api_app_id":"A123ABC456","event":{"type":"app_mention","user":"U123ABC456","text":"<@U0LAN0Z89> is it everything a river should be?","ts":"1515449522.000016","channel":"C123ABC456","event_ts":"1515449522000016"},"type":"event_callback","event_id":"Ev123ABC456","event_time":1515449522}'
BEGIN;
SELECT set_config('request.headers', json_build_object('x-slack-request-timestamp', :'ts',
         'x-slack-signature', 'v0=' || encode(flowdb.hmac(convert_to('v0:' || :'ts' || ':' || :'slack_event', 'UTF8'),
                                                          convert_to('8f742231b10e8888abcd99yyyzzz85a5', 'UTF8'), 'sha256'), 'hex'))::text,
         true) IS NOT NULL AS headers_set;
SELECT slack_webhook(:'slack_event'::json) - 'runs' AS result;
SELECT slack_webhook(:'slack_event'::json) AS again;
COMMIT;
SELECT w.name, r.owner, r.status, r.payload ->> 'type' AS type, r.payload ->> 'text' AS text
FROM flowdb.runs r JOIN flowdb.workflows w ON w.id = r.workflow_id
WHERE w.id IN (:'wf_slack', :'wf_slack_other', :'wf_slack_app');
SELECT provider, delivery_id, event FROM flowdb.webhook_deliveries WHERE provider = 'slack';
-- a team nobody names, of an app an owner names: routed by api_app_id
\set slack_event3 '{"team_id":"T_UNKNOWN","api_app_id":"A_APP_ONLY","type":"event_callback","event_id":"Ev333","event":{"type":"app_mention","text":"by app"}}'
BEGIN;
SELECT set_config('request.headers', json_build_object('x-slack-request-timestamp', :'ts',
         'x-slack-signature', 'v0=' || encode(flowdb.hmac(convert_to('v0:' || :'ts' || ':' || :'slack_event3', 'UTF8'),
                                                          convert_to('app_signing_secret', 'UTF8'), 'sha256'), 'hex'))::text,
         true) IS NOT NULL AS headers_set;
SELECT jsonb_array_length(slack_webhook(:'slack_event3'::json) -> 'runs') AS runs;
COMMIT;
SELECT w.name, r.owner FROM flowdb.runs r JOIN flowdb.workflows w ON w.id = r.workflow_id
WHERE r.payload ->> 'text' = 'by app';

SELECT count(*) AS runs_before FROM flowdb.runs \gset
SELECT count(*) AS deliveries_before FROM flowdb.webhook_deliveries \gset
\set slack_event2 '{"team_id":"T123ABC456","type":"event_callback","event_id":"Ev999","event":{"type":"app_mention","text":"stale"}}'
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
-- the team's event signed with another owner's secret
BEGIN;
SELECT set_config('request.headers', json_build_object('x-slack-request-timestamp', :'ts',
         'x-slack-signature', 'v0=' || encode(flowdb.hmac(convert_to('v0:' || :'ts' || ':' || :'slack_event2', 'UTF8'),
                                                          convert_to('other_signing_secret', 'UTF8'), 'sha256'), 'hex'))::text,
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

-- the webhook secrets are no longer settings
SELECT count(*) AS secret_settings FROM pg_settings
WHERE name IN ('flowdb.razorpay_webhook_secret', 'flowdb.slack_signing_secret');

DELETE FROM flowdb.runs;
DELETE FROM flowdb.workflows;
DELETE FROM flowdb.webhook_deliveries;
DELETE FROM flowdb.credentials;
