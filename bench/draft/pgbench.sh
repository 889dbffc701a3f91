#!/bin/bash
# bench/draft/pgbench.sh: time flowdb.draft_offline and flow_draft (draft
# and save) per call through SQL with pgbench, on a throwaway cluster.
#
#   PG_CONFIG=... bash bench/draft/pgbench.sh [seconds per phase, default 10]
#
# Uses the installed flowdb.  One client, prepared statements; the prompt
# is a chatty three-step description with a condition.  Prints pgbench's
# latency average per phase (the figures bench/results-draft.md quotes).
# The last phase turns synchronous_commit off: what is left is the cost of
# the call itself, without the disk's WAL flush.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/scripts/common.sh"
T=${1:-10}

DIR=$(mktemp -d /tmp/flowdb-draft-bench.XXXXXX)
chown postgres "$DIR" 2>/dev/null || true
PORT=$(free_port)
trap 'stop_cluster "$DIR/data"; rm -rf "$DIR"' EXIT
start_cluster "$DIR/data" "$PORT" "flowdb.workers = 0"
PSQL="$RUNAS $PGBIN/psql -h 127.0.0.1 -p $PORT -U postgres -Xq -v ON_ERROR_STOP=1"
$PSQL -c "CREATE EXTENSION flowdb"

PROMPT="Hi, I run a saree shop in Jaipur. Whenever a customer pays me on Razorpay, send them a thank you on WhatsApp. If the amount is over Rs 5,000 also tell the team in #big-orders on Slack, otherwise just log it by calling https://hooks.myshop.in/payments. We use Gmail too."
cat > "$DIR/offline.sql" <<SQL
SELECT flowdb.draft_offline('$PROMPT');
SQL
cat > "$DIR/save.sql" <<SQL
SELECT flow_draft('$PROMPT');
SQL
chown postgres "$DIR"/*.sql 2>/dev/null || true

# run_phase NAME FILE [PGOPTIONS]
run_phase() {
	echo "== $1 ($T s, 1 client)"
	$RUNAS env PGOPTIONS="${3:-}" "$PGBIN/pgbench" -h 127.0.0.1 -p "$PORT" -U postgres -n \
		-M prepared -c 1 -T "$T" -f "$DIR/$2" postgres | grep -E "latency average|tps"
}
run_phase "draft_offline (no write)" offline.sql
run_phase "flow_draft (draft + save + commit)" save.sql
# the same without waiting for the WAL flush: the CPU cost of the call
run_phase "flow_draft, synchronous_commit = off" save.sql "-c synchronous_commit=off"
$PSQL -c "SELECT count(*) AS drafts_saved FROM flowdb.workflows WHERE drafted_by = 'offline'"
