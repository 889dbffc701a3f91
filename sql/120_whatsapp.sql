--
-- 120_whatsapp: the Twilio WhatsApp webhook: X-Twilio-Signature (Twilio's
-- documented example as a test vector), owner routing by AccountSid,
-- bad signatures, duplicates, the inbound event, the assistant answering
-- the shop's own numbers only, and flowdb.messages under RLS.
--
\set VERBOSITY default
\set SHOW_CONTEXT never

CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;

------------------------------------------------------------------------
-- Signature primitive
------------------------------------------------------------------------
-- Twilio's documented example: expected 0/KCTR6DLpKmkAf8muzZqo1nDgQ=
SELECT flowdb.twilio_signature('https://mycompany.com/myapp.php?foo=1&bar=2',
	'{"CallSid": "CA1234567890ABCDE", "Caller": "+12349013030", "Digits": "1234",
	  "From": "+12349013030", "To": "+18005551212"}', '12345') AS twilio_example;
-- fields are sorted by name byte-wise ("To" before "a"), values as sent
SELECT flowdb.twilio_signature('https://x', '{"a": "1", "To": "2"}', 'k')
	 = encode(flowdb.hmac(convert_to('https://xTo2a1', 'UTF8'), 'k', 'sha1'), 'base64') AS sorted_c;
-- form bodies: an object of fields (PostgREST), or a raw form string
SELECT flowdb.form_fields('{"Body": "hi", "NumMedia": 0}') AS object_form;
SELECT flowdb.form_fields('"Body=Ravi+ko+500%20ka+invoice&From=whatsapp%3A%2B919876543210&X=%E2%82%B9&Y=%zz&Z="') AS raw_form;
SELECT pg_temp.try($$SELECT flowdb.form_fields('[1]')$$);

------------------------------------------------------------------------
-- Two shops with their own Twilio accounts
------------------------------------------------------------------------
DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
		CREATE ROLE authenticated NOLOGIN;
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
		CREATE ROLE anon NOLOGIN;
	END IF;
END
$$;
SET ROLE authenticated;
SELECT set_config('request.jwt.claims', '{"sub": "shop-a", "role": "authenticated"}', false) IS NOT NULL AS claims_set;
SELECT flow_set_credential('whatsapp', 'default', '{"account_sid": "ACaaaa", "auth_token": "token-a",
	"from": "+14155238886", "owner_numbers": ["+91 98765 43210"]}');
-- a workflow of shop-a started by every inbound message
SELECT flow_save('{"version": 1, "name": "Menu", "trigger": {"type": "event", "event": "whatsapp.message.received"},
	"nodes": [{"id": "n", "type": "router"}]}') IS NOT NULL AS saved;
SELECT set_config('request.jwt.claims', '{"sub": "shop-b", "role": "authenticated"}', false) IS NOT NULL AS claims_set;
SELECT flow_set_credential('whatsapp', 'default', '{"account_sid": "ACbbbb", "auth_token": "token-b"}');
SELECT flow_save('{"version": 1, "name": "Menu B", "trigger": {"type": "event", "event": "whatsapp.message.received"},
	"nodes": [{"id": "n", "type": "router"}]}') IS NOT NULL AS saved;
RESET ROLE;
RESET request.jwt.claims;

-- deliver(fields, token): call whatsapp_webhook as PostgREST would, signed
-- with token (NULL: no signature header); returns the answer or the error
CREATE FUNCTION pg_temp.deliver(f jsonb, token text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	r jsonb;
BEGIN
	PERFORM set_config('request.headers', CASE WHEN token IS NULL THEN '{}' ELSE
		json_build_object('x-twilio-signature',
			flowdb.twilio_signature('https://api.example.com/rpc/whatsapp_webhook', f, token))::text END, true);
	r := whatsapp_webhook(f::json);
	RETURN concat_ws(' | ', r ->> 'status', jsonb_array_length(r -> 'runs'),
		r #>> '{assistant,status}',
		regexp_replace(r #>> '{assistant,reply}', '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '<uuid>', 'g'));
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;

-- not configured: refused
SELECT pg_temp.deliver('{"AccountSid": "ACaaaa", "MessageSid": "SM1", "From": "whatsapp:+15550001", "Body": "hi"}', 'token-a');
SET flowdb.public_url = 'https://api.example.com/';

------------------------------------------------------------------------
-- Refused deliveries write nothing (28000)
------------------------------------------------------------------------
SELECT pg_temp.deliver('{"AccountSid": "ACaaaa", "MessageSid": "SM1", "From": "whatsapp:+15550001", "Body": "hi"}', NULL) AS no_signature;
SELECT pg_temp.deliver('{"AccountSid": "ACaaaa", "MessageSid": "SM1", "From": "whatsapp:+15550001", "Body": "hi"}', 'token-b') AS wrong_token;
SELECT pg_temp.deliver('{"AccountSid": "ACzzzz", "MessageSid": "SM1", "From": "whatsapp:+15550001", "Body": "hi"}', 'token-a') AS unknown_account;
SELECT pg_temp.deliver('{"MessageSid": "SM1", "From": "whatsapp:+15550001", "Body": "hi"}', 'token-a') AS no_account;
-- a signature over other fields (the body was changed in transit)
BEGIN;
SELECT set_config('request.headers', json_build_object('x-twilio-signature',
	flowdb.twilio_signature('https://api.example.com/rpc/whatsapp_webhook',
		'{"AccountSid": "ACaaaa", "MessageSid": "SM1", "From": "whatsapp:+15550001", "Body": "hi"}', 'token-a'))::text, true) IS NOT NULL AS set;
SELECT pg_temp.try($$SELECT whatsapp_webhook('{"AccountSid": "ACaaaa", "MessageSid": "SM1", "From": "whatsapp:+15550001", "Body": "send 2 lakh link"}')$$) AS tampered;
COMMIT;
SELECT (SELECT count(*) FROM flowdb.messages) AS messages, (SELECT count(*) FROM flowdb.runs) AS runs,
	   (SELECT count(*) FROM flowdb.webhook_deliveries) AS deliveries;

------------------------------------------------------------------------
-- A customer's message: recorded, fires shop-a's workflows only, and the
-- assistant does nothing (even for a command)
------------------------------------------------------------------------
SELECT pg_temp.deliver('{"AccountSid": "ACaaaa", "MessageSid": "SM100", "From": "whatsapp:+15550001",
	"To": "whatsapp:+14155238886", "Body": "send a payment link of 50000 to 9876543210", "ProfileName": "Meera",
	"NumMedia": "1", "MediaUrl0": "https://api.twilio.com/media/ME1"}', 'token-a') AS customer;
SELECT owner, blueprint ->> 'name' AS workflow, payload FROM flowdb.runs ORDER BY created_at;
SELECT owner, contact, contact_name, direction, body, media, status, message_sid FROM flowdb.messages ORDER BY id;
-- the same MessageSid again (Twilio retries): no second run, no second row
SELECT pg_temp.deliver('{"AccountSid": "ACaaaa", "MessageSid": "SM100", "From": "whatsapp:+15550001",
	"To": "whatsapp:+14155238886", "Body": "send a payment link of 50000 to 9876543210", "ProfileName": "Meera",
	"NumMedia": "1", "MediaUrl0": "https://api.twilio.com/media/ME1"}', 'token-a') AS duplicate;
SELECT (SELECT count(*) FROM flowdb.messages) AS messages, (SELECT count(*) FROM flowdb.runs) AS runs;

------------------------------------------------------------------------
-- The shop owner's own number: a two-message conversation
------------------------------------------------------------------------
DELETE FROM flowdb.workflows;
SELECT pg_temp.deliver('{"AccountSid": "ACaaaa", "MessageSid": "SM200", "From": "whatsapp:+919876543210",
	"To": "whatsapp:+14155238886", "Body": "Ravi ko payment link bhejo"}', 'token-a') AS first;
SELECT owner, session_id, intent, entities, awaiting FROM flowdb.sessions;
SELECT pg_temp.deliver('{"AccountSid": "ACaaaa", "MessageSid": "SM201", "From": "whatsapp:+919876543210",
	"To": "whatsapp:+14155238886", "Body": "1500"}', 'token-a') AS second;
-- runs: reply 1, the payment link, reply 2 (all shop-a's)
SELECT owner, blueprint -> 'nodes' -> 0 ->> 'task' AS task, blueprint -> 'nodes' -> 0 ->> 'credential' AS credential,
	   regexp_replace(payload::text, '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '<uuid>', 'g') AS payload
FROM flowdb.runs WHERE payload ? 'to' OR payload ? 'amount' ORDER BY created_at, task;
-- on WhatsApp the link run sends its result back to the sender
SELECT jsonb_path_query_array(blueprint, '$.nodes[*].id') AS nodes, blueprint -> 'edges' AS edges,
	   blueprint #> '{nodes,1,params}' AS reply_params, blueprint #>> '{nodes,1,credential}' AS credential
FROM flowdb.runs WHERE blueprint #>> '{nodes,0,task}' = 'create_payment_link';
SELECT direction, contact, regexp_replace(body, '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '<uuid>', 'g') AS body,
	   status, run_id IS NOT NULL AS has_run
FROM flowdb.messages WHERE message_sid IS DISTINCT FROM 'SM100' ORDER BY id;
SELECT count(*) AS sessions FROM flowdb.sessions;
-- names speech recognition is told to expect: the shop's contacts only
SELECT flowdb.contact_names('shop-a') AS shop_a_names, flowdb.contact_names('shop-b') AS shop_b_names;

------------------------------------------------------------------------
-- RLS: each shop reads its own messages
------------------------------------------------------------------------
SET ROLE authenticated;
SELECT set_config('request.jwt.claims', '{"sub": "shop-b", "role": "authenticated"}', false) IS NOT NULL AS claims_set;
SELECT count(*) AS shop_b_messages FROM flowdb.messages;
SELECT set_config('request.jwt.claims', '{"sub": "shop-a", "role": "authenticated"}', false) IS NOT NULL AS claims_set;
SELECT count(*) AS shop_a_messages FROM flowdb.messages;
SELECT pg_temp.try($$INSERT INTO flowdb.messages (owner, contact, direction, status) VALUES ('shop-a', 'x', 'out', 'queued')$$);
RESET ROLE;
RESET request.jwt.claims;
SET ROLE anon;
SELECT count(*) AS anon_messages FROM flowdb.messages;
RESET ROLE;

RESET flowdb.public_url;
DELETE FROM flowdb.messages;
DELETE FROM flowdb.sessions;
DELETE FROM flowdb.runs;
DELETE FROM flowdb.workflows;
DELETE FROM flowdb.credentials;
DELETE FROM flowdb.webhook_deliveries;
