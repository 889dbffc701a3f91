#!/bin/bash
# demo.sh: what `make demo` runs.  Builds and installs flowdb, starts a
# throwaway cluster and a local HTTP server, then shows
#   1. a multi-step workflow (templates, router, skipped branch, a retried
#      503) running inside Postgres against the local server;
#   2. the flagship: a signed Razorpay webhook that thanks the customer on
#      WhatsApp and tells #sales on Slack when the amount is over 5000,
#      all in sandbox mode (requests land in flowdb.outbox);
#   3. a schedule trigger firing without any manual setup.
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

echo
echo "== worker counters"
psql_demo -c "SELECT slot, claimed, steps, commits FROM flowdb.worker_info()"
echo "demo finished; cluster and server removed."
