#!/bin/bash
# bench/fairness.sh: owner B's pickup latency while owner A has a large
# backlog (issue 8 section 6).  Not a test: it prints a measurement.
#
#   bash bench/fairness.sh [A_RUNS]     (default 10000)
#
# A throwaway cluster (flowdb.max_inflight = 16), a local HTTP server that
# answers in 50 ms (test/fake/fakeserver.py).  Owner A queues A_RUNS one-step
# runs in one transaction; then owner B queues one.  Reported: the time from
# starting the psql that queues B's run to B's request reaching the server,
# how many of A's requests arrived before it (A's requests in flight and
# held, plus those A sent while B's psql ran), and how long A's backlog took
# to drain.  With the
# round-robin claim B's request comes after about one claim batch of A's;
# a claim in next_at order would put it after all of them.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/scripts/common.sh"
N=${1:-10000}
WORK=$(mktemp -d /tmp/flowdb-fair.XXXXXX)
chown postgres "$WORK" 2>/dev/null || true
PORT=$(free_port)
SRV_PID=""
cleanup() {
	[ -n "$SRV_PID" ] && kill "$SRV_PID" 2>/dev/null || true
	stop_cluster "$WORK/pg"
	rm -rf "$WORK"
}
trap cleanup EXIT

start_cluster "$WORK/pg" "$PORT" "flowdb.allow_private_hosts = on" \
	"flowdb.max_inflight = 16" "fsync = off"
q() { $RUNAS "$PGBIN/psql" -X -q -At -h 127.0.0.1 -p "$PORT" -U postgres -v ON_ERROR_STOP=1 "$@"; }
q -c "CREATE EXTENSION flowdb"

echo '{"/slow/*": [{"delay_ms": 50, "body": {"ok": true}}]}' >"$WORK/script.json"
python3 "$ROOT/test/fake/fakeserver.py" --port-file "$WORK/port" --script "$WORK/script.json" \
	--capture "$WORK/capture.jsonl" --max-seconds 3600 --parent-pid $$ &
SRV_PID=$!
for _ in $(seq 100); do [ -s "$WORK/port" ] && break; sleep 0.1; done
SPORT=$(cat "$WORK/port")

bp() {
	echo "{\"version\": 1, \"name\": \"fair-$1\", \"trigger\": {\"type\": \"manual\"},
	  \"nodes\": [{\"id\": \"call\", \"type\": \"action\", \"service\": \"http\", \"task\": \"request\",
	  \"params\": {\"url\": \"http://127.0.0.1:$SPORT/slow/$1\", \"method\": \"POST\"}}]}"
}
echo "queueing $N runs for owner A"
q -c "SET request.jwt.claims = '{\"sub\": \"owner-a\"}';
      SELECT count(flow_execute('$(bp a)'::jsonb, jsonb_build_object('i', g))) FROM generate_series(1, $N) g" >/dev/null
T_B=$(python3 -c 'import time; print(time.time())')
q -c "SET request.jwt.claims = '{\"sub\": \"owner-b\"}'; SELECT flow_execute('$(bp b)'::jsonb)" >/dev/null
T_B_DONE=$(python3 -c 'import time; print(time.time())')
echo "owner B queued one run; waiting for A's backlog to drain"
until [ "$(q -c "SELECT count(*) FROM flowdb.runs WHERE status NOT IN ('succeeded', 'failed', 'canceled')")" = 0 ]; do
	sleep 1
done
python3 - "$WORK/capture.jsonl" "$T_B" "$T_B_DONE" "$N" <<'PY'
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1]) if l.endswith("\n")]
t_b0, t_b1, n = float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
reqs.sort(key=lambda r: r["seq"])
a = [r for r in reqs if r["path"].startswith("/slow/a")]
b = [r for r in reqs if r["path"] == "/slow/b"]
if not b:
    sys.exit("B's request never arrived")
before = sum(1 for r in a if r["seq"] < b[0]["seq"])
print(f"A runs: {n}; A's requests: {len(a)}; A drained in {a[-1]['time'] - a[0]['time']:.1f} s")
print(f"B pickup: its request reached the server {1000 * (b[0]['time'] - t_b0):.0f} ms after "
      f"psql was started to queue it (psql returned after {1000 * (t_b1 - t_b0):.0f} ms)")
print(f"A's requests before B's: {before} of {len(a)}")
PY
