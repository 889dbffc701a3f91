--
-- 125_whatsapp_twiml_webhook: the TwiML answer for Twilio.  whatsapp_twiml_webhook takes
-- the form's fields as named arguments (the only way PostgREST 12 passes
-- an application/x-www-form-urlencoded body to a function), checks the
-- signature over flowdb.public_url + /rpc/whatsapp_twiml_webhook, does what
-- whatsapp_webhook does, and answers <Response/> through PostgREST's "any"
-- media type handler (a function returning a domain named "*/*") with
-- Content-Type text/xml in response.headers.
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

------------------------------------------------------------------------
-- What PostgREST's schema cache sees
------------------------------------------------------------------------
-- the return type is a domain named "*/*" over bytea: PostgREST's "any"
-- handler, used whatever the Accept header (Twilio sends */*)
SELECT t.typname, b.typname AS base, p.proretset, p.prosecdef,
	   p.proconfig AS config
FROM pg_proc p JOIN pg_type t ON t.oid = p.prorettype JOIN pg_type b ON b.oid = t.typbasetype
WHERE p.oid = 'public.whatsapp_twiml_webhook'::regproc;
-- every argument is named (Twilio's field names, case kept), text and
-- optional: PostgREST matches a form whose keys are any subset of them
SELECT count(*) AS args,
	   count(*) FILTER (WHERE a.typ = 'text'::regtype) AS text_args,
	   (SELECT pronargdefaults FROM pg_proc WHERE oid = 'public.whatsapp_twiml_webhook'::regproc) AS optional_args,
	   bool_and(a.name <> '') AS all_named
FROM pg_proc p, unnest(p.proargnames, p.proargtypes::oid[]) AS a(name, typ)
WHERE p.oid = 'public.whatsapp_twiml_webhook'::regproc;
SELECT array_agg(a.name ORDER BY a.name) FILTER (WHERE a.name IN
	('AccountSid', 'Body', 'From', 'To', 'MessageSid', 'NumMedia', 'ProfileName', 'WaId',
	 'MediaUrl0', 'MediaUrl9', 'MediaContentType0')) AS some_fields
FROM pg_proc p, unnest(p.proargnames) AS a(name)
WHERE p.oid = 'public.whatsapp_twiml_webhook'::regproc;
-- the anonymous role (Twilio sends no JWT) may call it, not its internals
SELECT has_function_privilege('anon', 'public.whatsapp_twiml_webhook(' ||
		(SELECT string_agg('text', ',') FROM generate_series(1, 64)) || ')', 'EXECUTE') AS anon_twiml,
	   has_function_privilege('anon', 'flowdb.whatsapp_receive(jsonb, text)', 'EXECUTE') AS anon_receive;

------------------------------------------------------------------------
-- A shop with a Twilio account and its own number
------------------------------------------------------------------------
SET ROLE authenticated;
SELECT set_config('request.jwt.claims', '{"sub": "shop-t", "role": "authenticated"}', false) IS NOT NULL AS claims_set;
SELECT flow_set_credential('whatsapp', 'default', '{"account_sid": "ACtttt", "auth_token": "token-t",
	"from": "+14155238886", "owner_numbers": ["+91 98765 43210"]}');
RESET ROLE;
RESET request.jwt.claims;
SET flowdb.public_url = 'https://api.example.com';

-- twiml(fields, path, token): call whatsapp_twiml_webhook with named arguments as
-- PostgREST does for a form body, signed by token for public_url + path;
-- returns the answer as text and the response header set, or the error
CREATE FUNCTION pg_temp.twiml(f jsonb, path text, token text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	r bytea;
BEGIN
	PERFORM set_config('response.headers', NULL, true);
	PERFORM set_config('request.headers', json_build_object('accept', '*/*',
		'x-twilio-signature', flowdb.twilio_signature('https://api.example.com' || path, f, token))::text, true);
	EXECUTE format('SELECT public.whatsapp_twiml_webhook(%s)',
		(SELECT string_agg(format('%I := %L', k, v), ', ' ORDER BY k) FROM jsonb_each_text(f) AS e(k, v)))
	INTO r;
	RETURN convert_from(r, 'UTF8') || ' | ' || current_setting('response.headers');
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;

-- a customer's message: recorded, answered with empty TwiML as text/xml
SELECT pg_temp.twiml('{"AccountSid": "ACtttt", "MessageSid": "SMt1", "From": "whatsapp:+15550001",
	"To": "whatsapp:+14155238886", "Body": "hello shop", "NumMedia": "0", "ProfileName": "Asha"}',
	'/rpc/whatsapp_twiml_webhook', 'token-t') AS customer;
-- the same delivery again: TwiML, nothing new
SELECT pg_temp.twiml('{"AccountSid": "ACtttt", "MessageSid": "SMt1", "From": "whatsapp:+15550001",
	"To": "whatsapp:+14155238886", "Body": "hello shop", "NumMedia": "0", "ProfileName": "Asha"}',
	'/rpc/whatsapp_twiml_webhook', 'token-t') AS duplicate;
-- signed for the other endpoint's URL, or with a wrong token: refused
SELECT pg_temp.twiml('{"AccountSid": "ACtttt", "MessageSid": "SMt2", "From": "whatsapp:+15550001", "Body": "x"}',
	'/rpc/whatsapp_webhook', 'token-t') AS other_url;
SELECT pg_temp.twiml('{"AccountSid": "ACtttt", "MessageSid": "SMt3", "From": "whatsapp:+15550001", "Body": "x"}',
	'/rpc/whatsapp_twiml_webhook', 'wrong') AS wrong_token;
-- and whatsapp_webhook refuses a delivery signed for /rpc/whatsapp_twiml_webhook
SELECT set_config('request.headers', json_build_object('x-twilio-signature',
	flowdb.twilio_signature('https://api.example.com/rpc/whatsapp_twiml_webhook',
		'{"AccountSid": "ACtttt", "MessageSid": "SMt4", "From": "whatsapp:+15550001", "Body": "x"}', 'token-t'))::text,
	false) IS NOT NULL AS headers_set;
SELECT pg_temp.try($$SELECT whatsapp_webhook('{"AccountSid": "ACtttt", "MessageSid": "SMt4", "From": "whatsapp:+15550001", "Body": "x"}')$$) AS webhook_other_url;
RESET request.headers;
-- a field the function does not name: no such function (PostgREST
-- answers 404 PGRST202 before calling anything)
SELECT pg_temp.twiml('{"AccountSid": "ACtttt", "MessageSid": "SMt5", "From": "whatsapp:+15550001", "Body": "x",
	"SomethingNew": "1"}', '/rpc/whatsapp_twiml_webhook', 'token-t') AS unknown_field;
-- the shop owner's command: the assistant acts, the reply goes out as a run
SELECT pg_temp.twiml('{"AccountSid": "ACtttt", "MessageSid": "SMt6", "From": "whatsapp:+919876543210",
	"To": "whatsapp:+14155238886", "Body": "Ravi ko payment link bhejo", "NumMedia": "0",
	"MediaUrl0": "", "WaId": "919876543210"}', '/rpc/whatsapp_twiml_webhook', 'token-t') AS owner_command;
SELECT direction, contact, contact_name, body, status, run_id IS NOT NULL AS has_run
FROM flowdb.messages ORDER BY id;
SELECT count(*) AS deliveries FROM flowdb.webhook_deliveries WHERE provider = 'twilio';
SELECT session_id, intent, awaiting FROM flowdb.sessions;

RESET flowdb.public_url;
DELETE FROM flowdb.messages;
DELETE FROM flowdb.sessions;
DELETE FROM flowdb.runs;
DELETE FROM flowdb.credentials;
DELETE FROM flowdb.webhook_deliveries;
