#!/bin/bash
# demo.sh: what `make demo` runs.  Builds and installs flowdb, starts a
# throwaway cluster and a local HTTP server, then shows
#   1. a multi-step workflow (templates, router, skipped branch, a retried
#      503) running inside Postgres against the local server;
#   2. the flagship: a signed Razorpay webhook that thanks the customer on
#      WhatsApp and tells #sales on Slack when the amount is over 5000,
#      all in sandbox mode (requests land in flowdb.outbox);
#   3. a schedule trigger firing without any manual setup;
#   4. a workflow drafted from one sentence (flow_draft): a draft, then a
#      dry run of it (flow_run ... sandbox => true), then activated and fired;
#   5. typed and spoken commands (intent_parse; the WAV is made by espeak-ng
#      and sox at demo time) and the runs they start;
#   6. a two-message WhatsApp conversation through the signed Twilio
#      webhooks (whatsapp_webhook, whatsapp_twiml_webhook).
# Everything is removed at the end.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/scripts/common.sh"

cd "$ROOT"
make -s PG_CONFIG="$PG_CONFIG" >/dev/null
make -s install PG_CONFIG="$PG_CONFIG" >/dev/null

DEMO=$(mktemp -d /tmp/flowdb-demo.XXXXXX)
chmod 755 "$DEMO"
[ "$(id -u)" -eq 0 ] && chown postgres "$DEMO"
PORT=$(free_port)
SRV_PID=""
cleanup() {
	[ -n "$SRV_PID" ] && kill "$SRV_PID" 2>/dev/null || true
	stop_cluster "$DEMO/data"
	rm -rf "$DEMO"
}
trap cleanup EXIT

echo "== starting a throwaway cluster on port $PORT (flowdb preloaded)"
start_cluster "$DEMO/data" "$PORT" \
	"flowdb.allow_private_hosts = on" \
	"flowdb.sandbox = auto"

psql_demo() {
	psql -X -q -h 127.0.0.1 -p "$PORT" -U postgres -v ON_ERROR_STOP=1 "$@"
}
psql_demo -c "CREATE EXTENSION flowdb"
# a single-shop install: the Razorpay webhook secret is a server-wide
# credential (owner '*'), never a setting
psql_demo -c "SELECT flow_set_server_credential('razorpay', 'default',
	'{\"key_id\": \"rzp_demo\", \"key_secret\": \"demo\", \"webhook_secret\": \"demo_webhook_secret\"}')" >/dev/null

echo "== starting a local HTTP server (the 'tools' the workflow calls)"
cat >"$DEMO/script.json" <<'EOF'
{
  "GET /orders/*": [{"status": 200, "body": {"id": 42, "customer": "Ravi",
                     "phone": "+919876543210", "amount": 7500,
                     "items": [{"sku": "TEA-1", "qty": 3}]}}],
  "POST /crm/notes": [{"status": 201, "body": {"note_id": "n_1001"}}],
  "POST /notify": [{"status": 503, "body": "busy"},
                   {"status": 200, "body": {"delivered": true}}]
}
EOF
python3 "$ROOT/test/fake/fakeserver.py" --port-file "$DEMO/srv.port" \
	--script "$DEMO/script.json" --capture "$DEMO/requests.jsonl" \
	--max-seconds 300 --parent-pid $$ &
SRV_PID=$!
for _ in $(seq 1 50); do [ -s "$DEMO/srv.port" ] && break; sleep 0.1; done
SRV=$(cat "$DEMO/srv.port")

wait_run() {
	local id=$1 st=""
	for _ in $(seq 1 300); do
		st=$(psql_demo -Atc "SELECT status FROM flowdb.runs WHERE id = '$id'")
		case $st in succeeded|failed|canceled) break ;; esac
		sleep 0.1
	done
	echo "run $id: $st"
}

show_log() {
	psql_demo -c "SELECT node_id, status, attempt, round(duration_ms::numeric, 1) AS ms,
	                     left(coalesce(error, output::text, ''), 90) AS output_or_error
	              FROM flowdb.workflow_logs WHERE run_id = '$1' ORDER BY id"
}

echo
echo "== 1. a 4-node workflow: fetch an order, route on its amount, log a CRM note, notify"
RUN=$(psql_demo -Atc "SELECT flow_execute(\$\$
{\"version\": 1, \"name\": \"Demo: order follow-up\", \"trigger\": {\"type\": \"manual\"},
 \"nodes\": [
  {\"id\": \"fetch\", \"type\": \"action\", \"service\": \"http\", \"task\": \"request\",
   \"params\": {\"url\": \"http://127.0.0.1:$SRV/orders/{{trigger_data.order_id}}\"}},
  {\"id\": \"big\", \"type\": \"router\"},
  {\"id\": \"note\", \"type\": \"action\", \"service\": \"http\", \"task\": \"request\",
   \"params\": {\"method\": \"POST\", \"url\": \"http://127.0.0.1:$SRV/crm/notes\",
     \"body\": {\"customer\": \"{{steps.fetch.output.body.customer}}\",
               \"amount\": \"{{steps.fetch.output.body.amount}}\",
               \"first_sku\": \"{{steps.fetch.output.body.items[0].sku}}\"}}},
  {\"id\": \"notify\", \"type\": \"action\", \"service\": \"http\", \"task\": \"request\",
   \"retry\": {\"max_attempts\": 3, \"backoff_ms\": 200},
   \"params\": {\"method\": \"POST\", \"url\": \"http://127.0.0.1:$SRV/notify\",
     \"body\": {\"text\": \"Order {{trigger_data.order_id}} for {{steps.fetch.output.body.customer}} logged as {{steps.note.output.body.note_id}}\"}}},
  {\"id\": \"small\", \"type\": \"set\", \"values\": {\"message\": \"small order, nothing to do\"}}],
 \"edges\": [
  {\"from\": \"fetch\", \"to\": \"big\"},
  {\"from\": \"big\", \"to\": \"note\",
   \"condition\": {\"left\": \"{{steps.fetch.output.body.amount}}\", \"op\": \"gte\", \"right\": 5000}},
  {\"from\": \"big\", \"to\": \"small\", \"else\": true},
  {\"from\": \"note\", \"to\": \"notify\"}]}
\$\$::jsonb, '{\"order_id\": 42}')")
wait_run "$RUN"
show_log "$RUN"
echo "requests the local server received (note the same Idempotency-Key on the retried /notify):"
python3 - "$DEMO/requests.jsonl" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    print("  %-5s %-14s idempotency-key=%s body=%s" % (r["method"], r["path"],
          r["headers"].get("idempotency-key", "-")[-28:], (r.get("body") or "")[:70]))
PY

echo
echo "== 2. flagship: Razorpay payment captured -> WhatsApp thanks + Slack #sales if > 5000 (sandbox)"
psql_demo <<'EOF'
SELECT flow_save($$
{"version": 1, "name": "Thank customers after payment",
 "trigger": {"type": "event", "event": "razorpay.payment.captured"},
 "nodes": [
  {"id": "thank", "type": "action", "service": "whatsapp", "task": "send_message",
   "params": {"to": "{{trigger_data.contact}}",
              "body": "Thanks for paying Rs {{trigger_data.amount_rupees}}, {{trigger_data.notes.name}}!"}},
  {"id": "big", "type": "router"},
  {"id": "tell_team", "type": "action", "service": "slack", "task": "post_message",
   "params": {"channel": "#sales", "text": "Big payment: Rs {{trigger_data.amount_rupees}} from {{trigger_data.notes.name}}"},
   "retry": {"max_attempts": 5}, "timeout_ms": 10000}],
 "edges": [
  {"from": "thank", "to": "big"},
  {"from": "big", "to": "tell_team",
   "condition": {"left": "{{trigger_data.amount_rupees}}", "op": "gt", "right": 5000}}]}
$$) IS NOT NULL AS saved;
EOF
deliver() {
	local id=$1 paise=$2 name=$3
	local body="{\"entity\":\"event\",\"event\":\"payment.captured\",\"payload\":{\"payment\":{\"entity\":{\"id\":\"$id\",\"amount\":$paise,\"currency\":\"INR\",\"contact\":\"+919876543210\",\"notes\":{\"name\":\"$name\"}}}},\"created_at\":$(date +%s)}"
	psql_demo -At <<EOF
BEGIN;
SELECT set_config('request.headers', json_build_object(
	'x-razorpay-signature', encode(flowdb.hmac(convert_to('$body', 'UTF8'), 'demo_webhook_secret', 'sha256'), 'hex'),
	'x-razorpay-event-id', 'evt_$id')::text, true) IS NOT NULL AS headers_set \gset
SELECT 'webhook answered: ' || razorpay_webhook('$body'::json)::text;
COMMIT;
EOF
}
deliver pay_big 750000 Ravi
deliver pay_small 120000 Asha
echo "(the same delivery again is dropped as a duplicate:)"
deliver pay_big 750000 Ravi
sleep 1
for r in $(psql_demo -Atc "SELECT id FROM flowdb.runs WHERE workflow_id IS NOT NULL ORDER BY created_at"); do
	wait_run "$r"
	show_log "$r"
done
echo "sandbox outbox (the exact requests, secrets redacted, nothing left the machine):"
psql_demo -c "SELECT service, method, url, left(body, 80) AS body FROM flowdb.outbox ORDER BY id"

echo
echo "== 3. a schedule trigger ('* * * * *') fires from the worker, no pg_cron needed"
psql_demo -c "SELECT flow_save('{\"version\": 1, \"name\": \"Every minute\",
	\"trigger\": {\"type\": \"schedule\", \"cron\": \"* * * * *\"},
	\"nodes\": [{\"id\": \"tick\", \"type\": \"set\", \"values\": {\"at\": \"{{trigger_data.scheduled_at}}\"}}]}') IS NOT NULL AS saved"
for _ in $(seq 1 100); do
	n=$(psql_demo -Atc "SELECT count(*) FROM flowdb.runs r JOIN flowdb.workflows w ON w.id = r.workflow_id
	                    WHERE w.name = 'Every minute' AND r.status = 'succeeded'")
	[ "$n" -ge 1 ] && break
	sleep 0.1
done
psql_demo -c "SELECT w.name, r.status, l.output FROM flowdb.runs r
              JOIN flowdb.workflows w ON w.id = r.workflow_id
              JOIN flowdb.workflow_logs l ON l.run_id = r.id
              WHERE w.name = 'Every minute'"

# the AI half: everything below runs offline (no model, no network) and in
# sandbox mode, so even requests made with the stored credentials land in
# flowdb.outbox
psql_demo -q -c "ALTER SYSTEM SET flowdb.sandbox = 'on'" -c "SELECT pg_reload_conf()" >/dev/null
# outbox ROWS_AFTER_ID: the sandboxed requests queued since then
show_outbox() {
	psql_demo -c "SELECT o.id, o.service || '.' || o.task AS request, o.method, o.url,
	                     left(o.body, 110) AS body
	              FROM flowdb.outbox o WHERE o.id > $1 ORDER BY o.id"
}
outbox_mark() { psql_demo -Atc "SELECT coalesce(max(id), 0) FROM flowdb.outbox"; }
# wait_runs_after TS: wait for every run created after TS to finish
wait_runs_after() {
	for r in $(psql_demo -Atc "SELECT id FROM flowdb.runs WHERE created_at > '$1' ORDER BY created_at"); do
		wait_run "$r" >/dev/null
	done
}

echo
echo "== 4. a workflow drafted from a sentence (flow_draft, offline drafter)"
PROMPT='When a payment is captured on Razorpay, thank the customer on WhatsApp and if the amount is over 5000 tell #sales on Slack'
echo "prompt: $PROMPT"
WF=$(psql_demo -Atc "SELECT flow_draft(\$p\$$PROMPT\$p\$)")
echo "drafted workflow $WF (saved inactive, for review):"
psql_demo -c "SELECT name, active, drafted_by, blueprint -> 'trigger' AS trigger
              FROM flowdb.workflows WHERE id = '$WF'"
psql_demo -c "SELECT n ->> 'id' AS node, n ->> 'type' AS type,
                     coalesce(n ->> 'service' || '.' || (n ->> 'task'), '') AS action,
                     left(coalesce(n -> 'params', n -> 'values', '{}')::text, 100) AS params
              FROM flowdb.workflows w, jsonb_array_elements(w.blueprint -> 'nodes') n
              WHERE w.id = '$WF'"
psql_demo -c "SELECT e ->> 'from' AS from_node, e ->> 'to' AS to_node,
                     coalesce(e -> 'condition' ->> 'left' || ' ' || (e -> 'condition' ->> 'op') || ' '
                              || (e -> 'condition' ->> 'right'),
                              CASE WHEN (e ->> 'else')::boolean THEN 'else' END, 'always') AS condition
              FROM flowdb.workflows w, jsonb_array_elements(w.blueprint -> 'edges') e
              WHERE w.id = '$WF'"
psql_demo -c "SELECT jsonb_array_elements_text(warnings) AS warnings FROM flowdb.workflows WHERE id = '$WF'"
echo "dry run of the draft (sandbox => true: nothing is sent, whatever flowdb.sandbox says),"
echo "with the data a captured payment of Rs 8200 would bring:"
MARK=$(outbox_mark)
DRY=$(psql_demo -Atc "SELECT flow_run('$WF', '{\"id\": \"pay_dry\", \"amount\": 820000, \"amount_rupees\": 8200,
	\"currency\": \"INR\", \"contact\": \"+919876543210\", \"notes\": {\"name\": \"Meera\"}}', sandbox => true)")
wait_run "$DRY"
show_log "$DRY"
psql_demo -c "SELECT flow_status('$DRY') -> 'sandbox' AS dry_run"
echo "what it would have sent:"
show_outbox "$MARK"
echo "activate it (and pause the hand-written workflow of part 2, same trigger), then a signed Razorpay webhook fires it:"
psql_demo -c "SELECT flow_deactivate(id) AS paused_part_2 FROM flowdb.workflows WHERE name = 'Thank customers after payment'" \
	-c "SELECT flow_activate('$WF') AS activated"
MARK=$(outbox_mark)
deliver pay_draft 820000 Meera
RUN=$(psql_demo -Atc "SELECT id FROM flowdb.runs WHERE workflow_id = '$WF' ORDER BY created_at DESC LIMIT 1")
wait_run "$RUN"
show_log "$RUN"
echo "sandbox outbox of that run:"
show_outbox "$MARK"

echo
echo "== 5. commands: typed and spoken (intent_parse, offline parser and speech recogniser)"
# intent_parse prints one command's answer: status, reply, analysis
say() {
	psql_demo -c "SELECT r ->> 'status' AS status, r ->> 'reply' AS reply,
	                     jsonb_build_object('intent', r #> '{analysis,intent}',
	                                        'entities', r #> '{analysis,entities}',
	                                        'confidence', r #> '{analysis,confidence}')
	                     || CASE WHEN r #> '{analysis,transcript}' IS NULL THEN '{}'
	                             ELSE jsonb_build_object('transcript', r #> '{analysis,transcript}') END AS analysis
	              FROM (SELECT $1 AS r) x"
}
T0=$(psql_demo -Atc "SELECT now()")
MARK=$(outbox_mark)
echo "typed: send a payment link of 1500 to 9876543210"
say "intent_parse('send a payment link of 1500 to 9876543210', session_id => 'demo-typed')"
echo "typed, in two steps: 'Ravi ko invoice bhejo', then '800'"
say "intent_parse('Ravi ko invoice bhejo', session_id => 'demo-two-step')"
say "intent_parse('800', session_id => 'demo-two-step')"
if command -v espeak-ng >/dev/null && command -v sox >/dev/null; then
	SPOKEN='send a payment link of two thousand rupees'
	espeak-ng -v en-us -s 140 -w "$DEMO/raw.wav" "$SPOKEN"
	sox "$DEMO/raw.wav" -r 16000 -c 1 -b 16 "$DEMO/command.wav"
	[ "$(id -u)" -eq 0 ] && chown postgres "$DEMO/command.wav"
	echo "spoken (espeak-ng says \"$SPOKEN\", sox makes a 16 kHz WAV):"
	if psql_demo -Atc "SELECT flowdb.transcribe_offline(pg_read_binary_file('$DEMO/command.wav'))" >/dev/null 2>&1; then
		say "intent_parse(audio => pg_read_binary_file('$DEMO/command.wav'), session_id => 'demo-voice')"
	else
		echo "(flowdb was built without pocketsphinx: docs/speech.md; spoken commands skipped)"
	fi
fi
wait_runs_after "$T0"
echo "the runs the commands started, and what they asked the providers for (sandbox):"
psql_demo -c "SELECT r.blueprint #>> '{nodes,0,service}' || '.' || (r.blueprint #>> '{nodes,0,task}') AS action,
                     r.status, r.payload::text AS payload
              FROM flowdb.runs r WHERE r.created_at > '$T0' ORDER BY r.created_at"
show_outbox "$MARK"

echo
echo "== 6. a WhatsApp conversation with the shop owner (Twilio webhook, signed)"
psql_demo -c "SELECT flow_set_credential('whatsapp', 'default', '{\"account_sid\": \"ACdemo\",
	\"auth_token\": \"demo_twilio_token\", \"from\": \"+14155238886\", \"owner_numbers\": [\"+91 98765 43210\"]}')" >/dev/null
psql_demo -q -c "ALTER SYSTEM SET flowdb.public_url = 'https://api.myshop.example'" -c "SELECT pg_reload_conf()" >/dev/null
# twilio SID BODY PATH: post a message from the owner's number to
# flowdb.public_url + PATH as Twilio does, with X-Twilio-Signature computed
# here (base64 HMAC-SHA1 of the URL followed by the fields sorted by name)
twilio() {
	local sid=$1 body=$2 path=$3
	FIELDS=$(python3 - "$sid" "$body" <<'PY'
import json, sys
print(json.dumps({"AccountSid": "ACdemo", "MessageSid": sys.argv[1], "From": "whatsapp:+919876543210",
                  "To": "whatsapp:+14155238886", "Body": sys.argv[2], "NumMedia": "0",
                  "ProfileName": "Owner"}))
PY
)
	SIG=$(python3 - "https://api.myshop.example$path" "$FIELDS" <<'PY'
import base64, hashlib, hmac, json, sys
fields = json.loads(sys.argv[2])
data = sys.argv[1] + "".join(k + fields[k] for k in sorted(fields))
print(base64.b64encode(hmac.new(b"demo_twilio_token", data.encode(), hashlib.sha1).digest()).decode())
PY
)
	echo "owner -> shop: \"$body\"   (POST $path, X-Twilio-Signature: $SIG)"
	if [ "$path" = /rpc/whatsapp_webhook ]; then
		psql_demo -At <<EOF
BEGIN;
SELECT set_config('request.headers', json_build_object('x-twilio-signature', '$SIG')::text, true) IS NOT NULL AS headers_set \gset
SELECT 'answer: ' || jsonb_pretty(whatsapp_webhook('$FIELDS'::json) - 'runs' - 'reply_run_id');
COMMIT;
EOF
	else
		# the TwiML endpoint: the form's fields as named arguments, as
		# PostgREST passes a form body
		local args
		args=$(python3 - "$FIELDS" <<'PY'
import json, sys
f = json.loads(sys.argv[1])
print(", ".join('"%s" := %s' % (k, "'" + v.replace("'", "''") + "'") for k, v in f.items()))
PY
)
		psql_demo -At <<EOF
BEGIN;
SELECT set_config('request.headers', json_build_object('x-twilio-signature', '$SIG', 'accept', '*/*')::text, true) IS NOT NULL AS headers_set \gset
SELECT 'answer: ' || convert_from(whatsapp_twiml_webhook($args), 'UTF8') || '   Content-Type from response.headers: ' || current_setting('response.headers');
COMMIT;
EOF
	fi
}
MARK=$(outbox_mark)
T0=$(psql_demo -Atc "SELECT now()")
twilio SMdemo1 "Ravi ko payment link bhejo" /rpc/whatsapp_webhook
twilio SMdemo2 "1500" /rpc/whatsapp_twiml_webhook
wait_runs_after "$T0"
echo "flowdb.messages (the conversation; replies go out as whatsapp.send_message runs):"
psql_demo -c "SELECT direction, contact, coalesce(body, '(the link, once the run has it)') AS body, status,
                     left(run_id::text, 8) AS run
              FROM flowdb.messages ORDER BY id"
echo "sandbox outbox: the payment link request and the WhatsApp replies"
show_outbox "$MARK"
psql_demo -q -c "ALTER SYSTEM RESET flowdb.sandbox" -c "ALTER SYSTEM RESET flowdb.public_url" -c "SELECT pg_reload_conf()" >/dev/null

echo
echo "== worker counters"
psql_demo -c "SELECT slot, claimed, steps, commits FROM flowdb.worker_info()"
echo "demo finished; cluster and server removed."
