#!/bin/bash
# bench/run.sh: flowdb throughput (one worker, then two), pickup latency,
# worker memory, a slow API, a fan-out and a large map against what the same PostgreSQL,
# the in-flight limit and curl can do (see bench/README.md).
#
#   bash bench/run.sh            full run  -> bench/results.md
#   bash bench/run.sh --smoke    CI-sized  -> bench/out/results-smoke.md
# Options: --no-build (use the installed flowdb), --perf (perf record the
# worker during the first throughput phase), --keep (keep the cluster dir).
# Works as root on a fresh Debian machine with scripts/deps.sh's packages.
# BENCH_CONF="name = value; ..." adds postgresql.conf lines (experiments;
# the report says so).  A crash of the flowdb worker fails the run and the
# report shows the server log lines.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$ROOT/bench
OUT=$BENCH/out
. "$ROOT/scripts/common.sh"

MODE=full
BUILD=1
PERF=0
KEEP=0
for a in "$@"; do
	case $a in
	--smoke) MODE=smoke ;;
	--no-build) BUILD=0 ;;
	--perf) PERF=1 ;;
	--keep) KEEP=1 ;;
	-h|--help) sed -n '2,13p' "$0"; exit 0 ;;
	*) echo "run.sh: unknown option $a" >&2; exit 2 ;;
	esac
done

if [ "$MODE" = full ]; then
	N1=20000; N5=5000; NSTREAM=100000; STREAM_BATCH=20
	PGB_T=20; LAT_N=2000; SELFTEST_S=3; PHASE_TIMEOUT=1200
	SLOW_WAVES=40; NFAN=3000; NMAP=10000
	RESULTS=${RESULTS:-$BENCH/results.md}
else
	N1=1000; N5=200; NSTREAM=1000; STREAM_BATCH=20
	PGB_T=5; LAT_N=200; SELFTEST_S=1; PHASE_TIMEOUT=120
	SLOW_WAVES=6; NFAN=3000; NMAP=1000
	RESULTS=${RESULTS:-$OUT/results-smoke.md}
fi

T_START=$(date +%s.%N)
mkdir -p "$OUT"
M=$OUT/metrics-$MODE.txt		# key=value lines for report.py
: >"$M"
CRASH=$OUT/crash-$MODE.txt		# server log lines of a worker crash
rm -f "$CRASH"
metric() { echo "$1=$2" >>"$M"; }
# arithmetic with awk (bc is not always installed)
since() { awk -v a="$(date +%s.%N)" -v b="$1" 'BEGIN { printf "%.2f", a - b }'; }
calc() { awk "BEGIN { printf \"%.${2:-1}f\", $1 }"; }
log() { printf '[%6.1fs] %s\n' "$(since "$T_START")" "$*" >&2; }
fail() {
	log "FAILED: $*"
	metric failed "$*"
	python3 "$BENCH/report.py" "$M" "$RESULTS" "$OUT/rss-$MODE.txt" >/dev/null 2>&1 &&
		log "partial results in $RESULTS"
	exit 1
}

WORK=""
SRV_PID=""
SAMPLER_PID=""
PERF_PID=""
cleanup() {
	local rc=$?
	set +e
	[ -n "$PERF_PID" ] && kill -INT "$PERF_PID" 2>/dev/null && wait "$PERF_PID" 2>/dev/null
	[ -n "$SAMPLER_PID" ] && kill "$SAMPLER_PID" 2>/dev/null && wait "$SAMPLER_PID" 2>/dev/null
	if [ -n "$SRV_PID" ]; then
		kill -TERM "$SRV_PID" 2>/dev/null && wait "$SRV_PID" 2>/dev/null
	fi
	if [ -n "$WORK" ]; then
		# fast stop; immediate when it hangs (e.g. crash recovery)
		$RUNAS "$PGBIN/pg_ctl" -D "$WORK/pg" -m fast -w -t 20 stop >/dev/null 2>&1 ||
			$RUNAS "$PGBIN/pg_ctl" -D "$WORK/pg" -m immediate -w stop >/dev/null 2>&1
		if [ $rc -ne 0 ] && [ -f "$WORK/pg/server.log" ]; then
			cp "$WORK/pg/server.log" "$OUT/server-$MODE.log"
			echo "run.sh: server log kept in $OUT/server-$MODE.log" >&2
		fi
		[ $KEEP -eq 1 ] || rm -rf "$WORK"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

########################################################################
# build
########################################################################
if [ $BUILD -eq 1 ]; then
	log "building and installing flowdb"
	if ! (cd "$ROOT" && make -s -j"$(nproc)" PG_CONFIG="$PG_CONFIG" >/dev/null &&
		make -s install PG_CONFIG="$PG_CONFIG" >/dev/null); then
		[ -f "$($PG_CONFIG --pkglibdir)/flowdb.so" ] || fail "flowdb build failed"
		log "WARNING: build failed; benchmarking the flowdb already installed"
		metric build_warning "build failed, installed flowdb.so used"
	fi
fi
[ -f "$($PG_CONFIG --pkglibdir)/flowdb.so" ] || fail "flowdb is not installed (drop --no-build)"
CFLAGS_B="-O2 -Wall -Wextra"
gcc $CFLAGS_B -o "$OUT/fastserver" "$BENCH/fastserver.c"
gcc $CFLAGS_B -o "$OUT/loadgen" "$BENCH/loadgen.c"
gcc $CFLAGS_B -I"$($PG_CONFIG --includedir)" -o "$OUT/latency" "$BENCH/latency.c" \
	-L"$($PG_CONFIG --libdir)" -lpq -lm
T_BUILT=$(date +%s.%N)

########################################################################
# machine
########################################################################
metric mode "$MODE"
metric date "$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
metric nproc "$(nproc)"
metric cpu "$(lscpu | sed -n 's/^Model name: *//p' | head -1)"
metric mem "$(awk '/^MemTotal/{printf "%d MB", $2 / 1024}' /proc/meminfo)"
metric kernel "$(uname -r)"
metric loadavg_start "$(cut -d' ' -f1-3 /proc/loadavg)"
metric git "$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)$(cd "$ROOT" && [ -n "$(git status --porcelain -- src 2>/dev/null)" ] && echo ' (src/ has uncommitted changes)')"

########################################################################
# HTTP server + self-test
########################################################################
WORK=$(mktemp -d /tmp/flowdb-bench.XXXXXX)
chmod 755 "$WORK"
chown postgres:postgres "$WORK" 2>/dev/null || true
"$OUT/fastserver" -P "$WORK/srv.port" -o "$OUT/arrivals-$MODE.txt" >"$WORK/srv.log" 2>&1 &
SRV_PID=$!
for _ in $(seq 100); do [ -s "$WORK/srv.port" ] && break; sleep 0.05; done
[ -s "$WORK/srv.port" ] || fail "fastserver did not start"
SPORT=$(cat "$WORK/srv.port")
# http_get PATH: GET from fastserver without curl (bash /dev/tcp)
http_get() {
	exec 3<>"/dev/tcp/127.0.0.1/$SPORT"
	printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$1" >&3
	cat <&3
	exec 3<&-
}
log "fastserver on 127.0.0.1:$SPORT; self-test ${SELFTEST_S}s x 64 connections"
SELF=$("$OUT/loadgen" 127.0.0.1 "$SPORT" 64 "$SELFTEST_S" /selftest/)
log "$SELF"
metric server_rps "$(echo "$SELF" | sed -n 's/.*= \([0-9]*\) req\/s.*/\1/p')"
http_get /_reset >/dev/null

########################################################################
# cluster
########################################################################
PORT=$(free_port)
PGDIR=$WORK/pg
# BENCH_CONF="flowdb.max_inflight = 256; flowdb.claim_batch = 128": extra
# postgresql.conf lines for experiments (reported in the results)
EXTRA_CONF=()
if [ -n "${BENCH_CONF:-}" ]; then
	IFS=';' read -r -a EXTRA_CONF <<<"$BENCH_CONF"
fi
log "starting PostgreSQL on port $PORT"
start_cluster "$PGDIR" "$PORT" \
	"shared_buffers = 256MB" \
	"fsync = on" \
	"synchronous_commit = on" \
	"max_wal_size = 4GB" \
	"checkpoint_timeout = 30min" \
	"autovacuum_naptime = 10s" \
	"max_connections = 50" \
	"flowdb.workers = 1" \
	"flowdb.allow_private_hosts = on" \
	"flowdb.max_queued_per_owner = 0" \
	"log_min_messages = warning" \
	"${EXTRA_CONF[@]}" || fail "cluster did not start"
[ ${#EXTRA_CONF[@]} -eq 0 ] || metric extra_conf "$(IFS=';'; echo "${EXTRA_CONF[*]}")"
CONN="host=$PGDIR port=$PORT user=postgres dbname=postgres"
PSQL=("$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$PGDIR" -p "$PORT" -U postgres -d postgres)
q() { "${PSQL[@]}" -c "$1"; }

q "CREATE EXTENSION flowdb"
q "CREATE SCHEMA bench"
q "CREATE TABLE bench.commit_probe (id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	blueprint jsonb NOT NULL, payload jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"
metric pg_version "$(q 'SHOW server_version')"
metric pg_settings "$(q "SELECT string_agg(name || '=' || current_setting(name), ', ' ORDER BY name)
	FROM pg_settings WHERE name IN ('shared_buffers', 'fsync', 'synchronous_commit', 'wal_sync_method',
	'flowdb.workers', 'flowdb.max_inflight', 'flowdb.claim_batch', 'flowdb.notify', 'flowdb.max_queued_per_owner',
	'flowdb.max_host_connections', 'max_wal_size', 'autovacuum_naptime')")"

WPID=""
for _ in $(seq 100); do
	WPID=$(q "SELECT pid FROM flowdb.worker_info() WHERE pid <> 0 LIMIT 1")
	[ -n "$WPID" ] && break
	sleep 0.1
done
[ -n "$WPID" ] || fail "no flowdb worker"
rss() { awk '/^VmRSS/{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
# private memory only: VmRSS also counts the shared_buffers pages the
# worker touched (RssShmem), which grow up to shared_buffers and are no leak
anon() { awk '/^RssAnon/{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
shmem() { awk '/^RssShmem/{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
# utime + stime of a process, in clock ticks
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
CLK_TCK=$(getconf CLK_TCK)
runq_ns() { awk '{print $2}' "/proc/$1/schedstat" 2>/dev/null || echo 0; }
# the workers phase() and wait_idle() watch: this one, both of them in the
# two-worker phase at the end
WPIDS=("$WPID")
# sum_pids FN: FN PID (an integer) summed over the watched workers
sum_pids() {
	local p v s=0
	for p in "${WPIDS[@]}"; do
		v=$("$1" "$p")
		s=$((s + ${v:-0}))
	done
	echo "$s"
}
log "flowdb worker pid $WPID, VmRSS $(rss "$WPID") kB (RssAnon $(anon "$WPID") kB)"
metric rss_start_kb "$(rss "$WPID")"
metric anon_start_kb "$(anon "$WPID")"

# worker counters, summed over the live workers: "claimed steps commits wakeups"
counters() { q "SELECT sum(claimed) || ' ' || sum(steps) || ' ' || sum(commits) || ' ' || sum(wakeups) FROM flowdb.worker_info() WHERE pid <> 0"; }
# one worker's share: "steps commits cpu_ticks"
worker_share() { echo "$(q "SELECT steps || ' ' || commits FROM flowdb.worker_info() WHERE pid = $1") $(cpu_ticks "$1")"; }

# memory sampler: "epoch_s VmRSS_kB RssAnon_kB RssShmem_kB" every second
# while the throughput phases run
(
	while [ -d "/proc/$WPID" ]; do
		echo "$(date +%s.%N) $(awk '/^VmRSS/{r=$2} /^RssAnon/{a=$2} /^RssShmem/{s=$2} END{print r, a, s}' "/proc/$WPID/status" 2>/dev/null)"
		sleep 1
	done
) >"$OUT/rss-$MODE.txt" &
SAMPLER_PID=$!

########################################################################
# throughput phases
########################################################################
URL="http://127.0.0.1:$SPORT"
BP1='{"version": 1, "name": "bench-1step", "trigger": {"type": "manual"},
 "nodes": [{"id": "notify", "type": "action", "service": "http", "task": "request",
   "params": {"method": "POST", "url": "'$URL'/w/notify",
     "headers": {"X-Bench": "1"},
     "body": {"order_id": "{{trigger_data.i}}", "run": "{{run.id}}",
              "customer": {"name": "Asha Rao", "email": "asha@example.com"},
              "items": [{"sku": "SKU-1", "qty": 2, "price": 499.5}]}}}],
 "edges": []}'
BP5_NODES=""
for k in 1 2 3 4 5; do
	prev=""
	[ $k -gt 1 ] && prev=', "prev": "{{steps.s'$((k - 1))'.output.body.n}}"'
	BP5_NODES="$BP5_NODES${BP5_NODES:+, }"'{"id": "s'$k'", "type": "action", "service": "http", "task": "request",
   "params": {"method": "POST", "url": "'$URL'/w/s'$k'",
     "body": {"step": '$k', "order_id": "{{trigger_data.i}}", "run": "{{run.id}}"'$prev'}}}'
done
BP5='{"version": 1, "name": "bench-5step", "trigger": {"type": "manual"},
 "nodes": ['$BP5_NODES'],
 "edges": [{"from": "s1", "to": "s2"}, {"from": "s2", "to": "s3"}, {"from": "s3", "to": "s4"}, {"from": "s4", "to": "s5"}]}'
[ "$(q "SELECT flow_validate('$BP1')->>'valid'")" = true ] || fail "1-step blueprint invalid: $(q "SELECT flow_validate('$BP1')")"
[ "$(q "SELECT flow_validate('$BP5')->>'valid'")" = true ] || fail "5-step blueprint invalid: $(q "SELECT flow_validate('$BP5')")"

# wait_idle TIMEOUT: until no run is queued, running or waiting
wait_idle() {
	local deadline=$(( $(date +%s) + $1 )) left p gone
	while :; do
		# one probe of runs_due (partial on unfinished runs), not a count:
		# this poll shares the 2 cores with the worker it measures
		[ "$(q "SELECT NOT EXISTS (SELECT FROM flowdb.runs WHERE finished_at IS NULL)")" = t ] && return 0
		if [ "$(date +%s)" -ge "$deadline" ]; then
			left=$(q "SELECT count(*) FROM flowdb.runs WHERE finished_at IS NULL")
			log "timeout: $left runs unfinished"
			return 1
		fi
		gone=""
		for p in "${WPIDS[@]}"; do [ -d "/proc/$p" ] || gone=$p; done
		if [ -n "$gone" ]; then
			log "flowdb worker $gone is gone"
			sleep 0.5
			grep -a -A1 'flowdb worker.*terminated by signal' "$PGDIR/server.log" | head -4 >"$CRASH" || true
			if [ -s "$CRASH" ]; then
				cat "$CRASH" >&2
				metric worker_crash "$(sed 's/^.*LOG:  //; s/^.*DETAIL:  //' "$CRASH" | tr '\n' ' ')"
			fi
			return 1
		fi
		sleep 0.25
	done
}

# phase NAME EXPECTED_STEPS EXPECTED_RUNS QUEUE_CMD...: queue, wait, measure
phase() {
	local name=$1 steps=$2 nruns=$3; shift 3
	local lastid c0 c1 t0 t1 stats
	lastid=$(q "SELECT coalesce(max(id), 0) FROM flowdb.workflow_logs")
	PHASE_LASTID=$lastid		# for measurements after phase() returns
	q "SELECT coalesce(max(created_at), '-infinity') FROM flowdb.runs" >"$WORK/lastrun"
	c0=$(counters)
	local cpu0 cpu1 t2
	cpu0=$(sum_pids cpu_ticks)
	local rq0 rq1
	rq0=$(sum_pids runq_ns)
	local share0=() share1=() i
	if [ ${#WPIDS[@]} -gt 1 ]; then
		for i in "${!WPIDS[@]}"; do share0[i]=$(worker_share "${WPIDS[i]}"); done
	fi
	t0=$(date +%s.%N)
	"$@"
	t1=$(date +%s.%N)
	log "$name: queued $nruns runs in $(calc "$t1 - $t0" 2) s; waiting"
	wait_idle "$PHASE_TIMEOUT" || fail "$name did not finish"
	t2=$(date +%s.%N)
	cpu1=$(sum_pids cpu_ticks)
	rq1=$(sum_pids runq_ns)
	if [ ${#WPIDS[@]} -gt 1 ]; then
		for i in "${!WPIDS[@]}"; do share1[i]=$(worker_share "${WPIDS[i]}"); done
	fi
	c1=$(counters)
	# steps/s from the first to the last finished_at of the phase's log rows
	stats=$(q "SELECT count(*), count(*) FILTER (WHERE status = 'succeeded'),
			round(extract(epoch FROM max(finished_at) - min(finished_at))::numeric, 3),
			round((count(*) / nullif(extract(epoch FROM max(finished_at) - min(finished_at)), 0))::numeric, 1),
			round((percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms))::numeric, 2),
			round(extract(epoch FROM max(finished_at) - min(started_at))::numeric, 3),
			round((count(*) / nullif(extract(epoch FROM max(finished_at) - min(started_at)), 0))::numeric, 1)
		FROM flowdb.workflow_logs WHERE id > $lastid AND status <> 'started'" | tr '|' ' ')
	read -r n nok secs rate dur secs_s rate_s <<<"$stats"
	local runs_ok
	runs_ok=$(q "SELECT count(*) FROM flowdb.runs WHERE created_at > '$(cat "$WORK/lastrun")' AND status = 'succeeded'")
	read -r cl0 st0 co0 wk0 <<<"$c0"
	read -r cl1 st1 co1 wk1 <<<"$c1"
	local dsteps=$((st1 - st0)) dcommits=$((co1 - co0))
	local per
	per=$(calc "$dsteps / $(( dcommits > 0 ? dcommits : 1 ))" 1)
	log "$name: $n log rows ($nok succeeded, expected $steps), $runs_ok/$nruns runs succeeded, ${secs}s -> $rate steps/s; worker: $dsteps steps in $dcommits commits ($per steps/commit), $((wk1 - wk0)) wakeups; VmRSS $(sum_pids rss) kB (RssAnon $(sum_pids anon) kB)"
	[ "$nok" = "$steps" ] && [ "$runs_ok" = "$nruns" ] || metric "${name}_error" "expected $steps steps and $nruns runs, got $nok and $runs_ok"
	metric "${name}_steps" "$n"
	metric "${name}_ok" "$nok"
	metric "${name}_runs_ok" "$runs_ok/$nruns"
	metric "${name}_secs" "$secs"
	metric "${name}_rate" "$rate"
	# from the first request's start: counts the first answer's latency too
	metric "${name}_secs_from_start" "$secs_s"
	metric "${name}_rate_from_start" "$rate_s"
	metric "${name}_http_p50_ms" "$dur"
	metric "${name}_queue_secs" "$(calc "$t1 - $t0" 2)"
	metric "${name}_worker_steps" "$dsteps"
	metric "${name}_worker_commits" "$dcommits"
	metric "${name}_worker_wakeups" "$((wk1 - wk0))"
	metric "${name}_steps_per_commit" "$per"
	# worker CPU (user + system) from the first queueing commit to idle
	metric "${name}_cpu_secs" "$(calc "($cpu1 - $cpu0) / $CLK_TCK" 2)"
	metric "${name}_cpu_us_per_step" "$(calc "($cpu1 - $cpu0) * 1000000 / $CLK_TCK / ($nok > 0 ? $nok : 1)" 0)"
	metric "${name}_cpu_busy_pct" "$(calc "100 * ($cpu1 - $cpu0) / $CLK_TCK / ($t2 - $t0)" 0)"
	# time the worker was runnable but waited for a CPU (/proc/<pid>/schedstat)
	metric "${name}_runq_wait_pct" "$(calc "100 * ($rq1 - $rq0) / 1e9 / ($t2 - $t0)" 0)"
	metric "${name}_rss_end_kb" "$(sum_pids rss)"
	metric "${name}_anon_end_kb" "$(sum_pids anon)"
	# several workers: each one's steps, commits and CPU (the sums are above)
	if [ ${#WPIDS[@]} -gt 1 ]; then
		local s0 m0 u0 s1 m1 u1 split=""
		metric "${name}_workers" "${#WPIDS[@]}"
		for i in "${!WPIDS[@]}"; do
			read -r s0 m0 u0 <<<"${share0[i]}"
			read -r s1 m1 u1 <<<"${share1[i]}"
			metric "${name}_w$((i + 1))_pid" "${WPIDS[i]}"
			metric "${name}_w$((i + 1))_steps" "$((s1 - s0))"
			metric "${name}_w$((i + 1))_commits" "$((m1 - m0))"
			metric "${name}_w$((i + 1))_cpu_secs" "$(calc "($u1 - $u0) / $CLK_TCK" 2)"
			split="$split${split:+, }worker $((i + 1)) (pid ${WPIDS[i]}) $((s1 - s0)) steps in $((m1 - m0)) commits, CPU $(calc "($u1 - $u0) / $CLK_TCK" 2) s"
		done
		log "$name: $split"
	fi
}

# inflight_stats NAME: requests in flight during the phase just run, from
# the log rows' started_at/finished_at: the peak and the mean (sum of the
# request times / first start to last finish)
inflight_stats() {
	local peak mean
	read -r peak mean <<<"$(q "WITH l AS (SELECT started_at AS s, finished_at AS f FROM flowdb.workflow_logs
			WHERE id > $PHASE_LASTID AND status <> 'started'),
		ev AS (SELECT s AS t, 1 AS d FROM l UNION ALL SELECT f, -1 FROM l),
		c AS (SELECT sum(d) OVER (ORDER BY t, d) AS n FROM ev)
		SELECT (SELECT max(n) FROM c),
			(SELECT round((extract(epoch FROM sum(f - s)) / nullif(extract(epoch FROM max(f) - min(s)), 0))::numeric, 1) FROM l)" | tr '|' ' ')"
	metric "$1_inflight_peak" "$peak"
	metric "$1_inflight_mean" "$mean"
}

# phase_strict NAME: the phase's steps and runs must all have succeeded
phase_strict() {
	local e
	e=$(sed -n "s/^$1_error=//p" "$M")
	[ -z "$e" ] || fail "$1: $e"
}

# one transaction queues them all: the worker starts at its commit
queue_bulk() { q "SELECT count(flow_execute('$1'::jsonb, jsonb_build_object('i', g, 'source', 'bench'))) FROM generate_series(1, $2) g" >/dev/null; }

if [ $PERF -eq 1 ]; then
	perf record -F 499 -g -p "$WPID" -o "$OUT/perf-worker.data" >/dev/null 2>&1 &
	PERF_PID=$!
fi
phase one_step "$N1" "$N1" queue_bulk "$BP1" "$N1"
if [ -n "$PERF_PID" ]; then
	kill -INT "$PERF_PID"; wait "$PERF_PID" || true; PERF_PID=""
	{
		echo "## by shared object (self time)"
		perf report -i "$OUT/perf-worker.data" --stdio --no-children -g none --sort dso 2>/dev/null | grep -v '^#' | grep -v '^$' | head -12
		echo "## hottest symbols (self time)"
		perf report -i "$OUT/perf-worker.data" --stdio --no-children -g none --sort dso,symbol 2>/dev/null | grep -v '^#' | grep -v '^$' | head -40
		echo "## inclusive time (children) of the main paths"
		perf report -i "$OUT/perf-worker.data" --stdio --children -g none --sort symbol 2>/dev/null | grep -v '^#' |
			grep -E 'worker_loop|SPI_execute|ExecInsertIndexTuples|heap_update|heap_insert|jsonb_in|XLogFlush|CommitTransaction|standard_planner|curl_multi|cJSON_Parse|cJSON_Print|engine_|wait_for_work' | head -30
	} >"$OUT/perf-worker.txt" 2>&1 || true
	log "perf profile of the worker: $OUT/perf-worker.txt"
fi
metric rss_warm_kb "$(rss "$WPID")"
metric anon_warm_kb "$(anon "$WPID")"

########################################################################
# bound: pgbench, one client, the same writes per step
########################################################################
q "CREATE TABLE bench.run_ids AS SELECT row_number() OVER (ORDER BY id)::int AS n, id
	FROM flowdb.runs WHERE status = 'succeeded'"
q "ALTER TABLE bench.run_ids ADD PRIMARY KEY (n)"
NRUNS=$(q "SELECT count(*) FROM bench.run_ids")
# realistic values: what flowdb wrote for a step of the first phase
IN_L=$(q "SELECT quote_literal(input::text) FROM flowdb.workflow_logs WHERE status = 'succeeded' ORDER BY id DESC LIMIT 1")
OUT_L=$(q "SELECT quote_literal(output::text) FROM flowdb.workflow_logs WHERE status = 'succeeded' ORDER BY id DESC LIMIT 1")
ST_L=$(q "SELECT quote_literal(state::text) FROM flowdb.runs WHERE status = 'succeeded' ORDER BY finished_at DESC LIMIT 1")
metric row_bytes "input $(q "SELECT octet_length(input::text) FROM flowdb.workflow_logs WHERE status <> 'started' ORDER BY id DESC LIMIT 1") B, output $(q "SELECT octet_length(output::text) FROM flowdb.workflow_logs WHERE status <> 'started' ORDER BY id DESC LIMIT 1") B, run state $(q "SELECT octet_length(state::text) FROM flowdb.runs WHERE status = 'succeeded' ORDER BY finished_at DESC LIMIT 1") B"

cat >"$WORK/step.sql" <<EOF
\set bench_r random(1, :bench_nruns)
BEGIN;
INSERT INTO flowdb.workflow_logs (run_id, owner, node_id, status, attempt, input, output, error, started_at, finished_at, duration_ms)
	SELECT b.id, 'postgres', 'notify', 'succeeded', 1, $IN_L::jsonb, $OUT_L::jsonb, NULL, now(), now(), 0.5
	FROM bench.run_ids b WHERE b.n = :bench_r;
UPDATE flowdb.runs SET state = $ST_L::jsonb, updated_at = now()
	WHERE id = (SELECT b.id FROM bench.run_ids b WHERE b.n = :bench_r);
END;
EOF
cat >"$WORK/batch.sql" <<EOF
\set bench_r random(1, :bench_nruns - :bench_k + 1)
BEGIN;
INSERT INTO flowdb.workflow_logs (run_id, owner, node_id, status, attempt, input, output, error, started_at, finished_at, duration_ms)
	SELECT b.id, 'postgres', 'notify', 'succeeded', 1, $IN_L::jsonb, $OUT_L::jsonb, NULL, now(), now(), 0.5
	FROM bench.run_ids b WHERE b.n >= :bench_r AND b.n < :bench_r + :bench_k ORDER BY b.n;
UPDATE flowdb.runs r SET state = $ST_L::jsonb, updated_at = now()
	FROM bench.run_ids b WHERE b.n >= :bench_r AND b.n < :bench_r + :bench_k AND r.id = b.id;
END;
EOF
cp "$WORK/step.sql" "$OUT/pgbench-step.sql"
cp "$WORK/batch.sql" "$OUT/pgbench-batch.sql"
chown postgres "$WORK"/*.sql 2>/dev/null || true

# the wake-up trigger is for clients queueing runs; the worker's own
# writes do not fire it, so the bound runs without it
q "ALTER TABLE flowdb.runs DISABLE TRIGGER runs_wake"
pgb() {
	"$PGBIN/pgbench" -n -c 1 -j 1 -T "$PGB_T" -h "$PGDIR" -p "$PORT" -U postgres \
		-D bench_nruns="$NRUNS" "$@" postgres 2>&1
}
# tps_of OUTPUT: the tps pgbench printed (empty when it printed none)
tps_of() { echo "$1" | sed -n 's/^tps = \([0-9.]*\) .*/\1/p' | head -1; }
log "bound: pgbench -c 1 -j 1 -T $PGB_T, one step's writes per transaction"
R=$(pgb -f "$WORK/step.sql" -D bench_k=1)
TPS=$(tps_of "$R")
[ -n "$TPS" ] || { echo "$R" >&2; fail "pgbench failed"; }
metric pgbench_tps "$TPS"
metric pgbench_latency_ms "$(echo "$R" | sed -n 's/^latency average = \([0-9.]*\) ms/\1/p')"
log "bound: $TPS tps"
K=$(grep '^one_step_steps_per_commit=' "$M" | cut -d= -f2 | awk '{k = int($1 + 0.5); if (k < 1) k = 1; print k}')
log "bound (batched like flowdb): $K steps per transaction"
R=$(pgb -f "$WORK/batch.sql" -D bench_k="$K")
TPSB=$(tps_of "$R")
[ -n "$TPSB" ] || { echo "$R" >&2; fail "pgbench (batched) failed"; }
metric pgbench_batch_k "$K"
metric pgbench_batch_tps "$TPSB"
metric pgbench_batch_steps "$(calc "$TPSB * $K" 1)"
log "bound (batched): $TPSB tps = $(calc "$TPSB * $K" 1) steps/s"

########################################################################
# ceiling: pgbench doing the worker's own writes and nothing else.  The
# batched bound above writes a log row and updates a run's state; a run
# also has to be leased before its request goes out (an UPDATE that
# takes it out of the queue index) and released when it ends (an UPDATE
# that sets finished_at).  These scripts write exactly that, by primary
# key, K runs per transaction as the worker batches them: no walk of the
# queue, no SKIP LOCKED, no engine, no HTTP.  What an engine with these
# writes could reach at best, so the ratios above read against it.
########################################################################
CEIL_TX=$([ "$MODE" = full ] && echo 1000 || echo 50)
CEIL5_TX=$((CEIL_TX / 5))
CEIL_POOL=$(((2 * CEIL_TX + CEIL5_TX) * K))
q "CREATE TABLE bench.pool (n int PRIMARY KEY, id uuid NOT NULL)"
q "CREATE SEQUENCE bench.pool_batch"
# queued, but never due: the worker's walk passes them by (runs_wake is
# still off, as for the bound)
q "WITH src AS (SELECT blueprint, payload FROM flowdb.runs WHERE blueprint->>'name' = 'bench-1step' LIMIT 1),
	ins AS (INSERT INTO flowdb.runs (owner, blueprint, payload, next_at)
		SELECT 'bench-ceiling', s.blueprint, s.payload, 'infinity' FROM src s, generate_series(1, $CEIL_POOL)
		RETURNING id, ctid)
	INSERT INTO bench.pool SELECT row_number() OVER (ORDER BY ctid), id FROM ins" >/dev/null
q "VACUUM ANALYZE flowdb.runs" >/dev/null
q "ANALYZE bench.pool" >/dev/null
# the worker's claim (CLAIM_SQL's UPDATE, with its RETURNING), then its
# commit (COMMIT_SQL's log rows and UPDATE of a finished run); STEPS - 1
# commits in between keep the lease (5-step runs)
ceiling_script() {
	local steps=$1 i
	echo 'SELECT nextval('"'"'bench.pool_batch'"'"') AS b \gset'
	echo '\set lo (:b - 1) * :bench_k + 1'
	echo '\set hi :b * :bench_k'
	# the worker's claim does not wait for its WAL flush (its next commit
	# flushes it); its statements are prepared once (-M prepared below)
	cat <<EOF
BEGIN;
SET LOCAL synchronous_commit = off;
UPDATE flowdb.runs r SET lease_owner = 999, lease_until = now() + make_interval(secs => 60),
	lease_token = gen_random_uuid(), next_at = 'infinity', status = 'running',
	started_at = coalesce(r.started_at, now()), updated_at = now()
	FROM bench.pool b WHERE b.n BETWEEN :lo AND :hi AND r.id = b.id
	RETURNING r.id::text, coalesce(r.workflow_id::text, ''), r.owner, r.blueprint::text,
		r.payload::text, r.state::text, r.lease_token::text, r.sandbox;
END;
EOF
	for i in $(seq "$steps"); do
		cat <<EOF
BEGIN;
INSERT INTO flowdb.workflow_logs (run_id, owner, node_id, status, attempt, input, output, error, started_at, finished_at, duration_ms)
	SELECT b.id, 'bench-ceiling', 'notify', 'succeeded', 1, $IN_L::jsonb, $OUT_L::jsonb, NULL, now(), now(), 0.5
	FROM bench.pool b WHERE b.n BETWEEN :lo AND :hi ORDER BY b.n;
EOF
		# every column COMMIT_SQL sets, as it sets them (a commit that
		# keeps the lease writes the lease back unchanged)
		if [ "$i" -lt "$steps" ]; then
			echo "UPDATE flowdb.runs r SET state = $ST_L::jsonb, status = 'running', error = NULL,"
			echo "	next_at = 'infinity', lease_owner = r.lease_owner, lease_until = r.lease_until,"
			echo "	lease_token = r.lease_token, finished_at = NULL, updated_at = now()"
		else
			echo "UPDATE flowdb.runs r SET state = $ST_L::jsonb, status = 'succeeded', error = NULL,"
			echo "	next_at = 'infinity', lease_owner = NULL, lease_until = NULL, lease_token = NULL,"
			echo "	finished_at = now(), updated_at = now()"
		fi
		echo "	FROM bench.pool b WHERE b.n BETWEEN :lo AND :hi AND r.id = b.id;"
		echo "END;"
	done
}
ceiling_script 1 >"$WORK/ceiling1.sql"
ceiling_script 5 >"$WORK/ceiling5.sql"
cp "$WORK/ceiling1.sql" "$OUT/pgbench-ceiling-1step.sql"
cp "$WORK/ceiling5.sql" "$OUT/pgbench-ceiling-5step.sql"
chown postgres "$WORK"/ceiling*.sql 2>/dev/null || true
ceiling() {	# CLIENTS TRANSACTIONS SCRIPT: runs written per second
	local r tps
	r=$("$PGBIN/pgbench" -n -M prepared -c "$1" -j "$1" -t "$2" -h "$PGDIR" -p "$PORT" -U postgres \
		-D bench_k="$K" -f "$3" postgres 2>&1)
	tps=$(tps_of "$r")
	[ -n "$tps" ] || { echo "$r" >&2; fail "pgbench (ceiling, $3) failed"; }
	echo "$r" | grep -q "number of failed transactions: 0" ||
		{ echo "$r" >&2; fail "pgbench (ceiling, $3): failed transactions"; }
	calc "$tps * $K" 1
}
log "ceiling: pgbench doing the worker's writes, $K runs per transaction, $CEIL_POOL runs"
metric ceiling_k "$K"
metric ceiling_steps "$(ceiling 1 "$CEIL_TX" "$WORK/ceiling1.sql")"
metric ceiling2_steps "$(ceiling 2 "$((CEIL_TX / 2))" "$WORK/ceiling1.sql")"
metric ceiling5_steps "$(calc "$(ceiling 1 "$CEIL5_TX" "$WORK/ceiling5.sql") * 5" 1)"
left=$(q "SELECT count(*) FROM flowdb.runs WHERE owner = 'bench-ceiling' AND status <> 'succeeded'")
[ "$left" = 0 ] || fail "ceiling: $left of the pool's runs did not end"
# out of the way of the phases that follow
q "DELETE FROM flowdb.runs WHERE owner = 'bench-ceiling'" >/dev/null
q "ALTER TABLE flowdb.runs ENABLE TRIGGER runs_wake"
q "VACUUM ANALYZE flowdb.runs" >/dev/null
q "VACUUM ANALYZE flowdb.workflow_logs" >/dev/null
log "ceiling: 1-step $(sed -n 's/^ceiling_steps=//p' "$M") steps/s (two clients $(sed -n 's/^ceiling2_steps=//p' "$M")), 5-step $(sed -n 's/^ceiling5_steps=//p' "$M") steps/s"

########################################################################
# more throughput: five-step runs, then a steady stream (memory)
########################################################################
phase five_step "$((N5 * 5))" "$N5" queue_bulk "$BP5" "$N5"

# steady stream: pgbench queues STREAM_BATCH runs per transaction, one
# transaction after the other, while the worker runs them
cat >"$WORK/stream.sql" <<EOF
SELECT count(flow_execute('$(echo "$BP1" | tr -d '\n')'::jsonb, jsonb_build_object('i', g, 'source', 'stream'))) FROM generate_series(1, $STREAM_BATCH) g;
EOF
chown postgres "$WORK/stream.sql" 2>/dev/null || true
queue_stream() {
	"$PGBIN/pgbench" -n -c 1 -j 1 -t "$((NSTREAM / STREAM_BATCH))" -h "$PGDIR" -p "$PORT" -U postgres \
		-f "$WORK/stream.sql" postgres >"$WORK/stream.log" 2>&1 || { cat "$WORK/stream.log" >&2; return 1; }
}
phase stream "$NSTREAM" "$NSTREAM" queue_stream

# where the worker's memory is: PostgreSQL memory contexts (palloc) vs the
# rest of VmRSS (malloc: cJSON, libcurl, run state)
q "SELECT pg_log_backend_memory_contexts($WPID)" >/dev/null || true
sleep 1
awk -v pid="$WPID" '
	index($0, "[" pid "]") && /logging memory contexts/ { on = 1; n++; next }
	on && index($0, "[" pid "]") && /level: |Grand total/ { print; if (/Grand total/) on = 0 }
' "$PGDIR/server.log" | sed 's/^.*LOG:  //' >"$OUT/worker-memory-contexts-$MODE.txt" || true
metric worker_palloc_total "$(sed -n 's/^Grand total: \([0-9]*\) bytes.*/\1/p' "$OUT/worker-memory-contexts-$MODE.txt" | tail -1)"
kill "$SAMPLER_PID" 2>/dev/null; wait "$SAMPLER_PID" 2>/dev/null || true
SAMPLER_PID=""
metric rss_end_kb "$(rss "$WPID")"
metric anon_end_kb "$(anon "$WPID")"
metric shmem_end_kb "$(shmem "$WPID")"
metric rss_peak_kb "$(awk 'BEGIN{m=0} $2>m{m=$2} END{print m}' "$OUT/rss-$MODE.txt")"
metric anon_peak_kb "$(awk 'BEGIN{m=0} $3>m{m=$3} END{print m}' "$OUT/rss-$MODE.txt")"
metric rss_samples "$(wc -l <"$OUT/rss-$MODE.txt")"
metric worker_pid_same "$([ "$(q "SELECT pid FROM flowdb.worker_info() WHERE pid <> 0 LIMIT 1")" = "$WPID" ] && echo yes || echo "NO: the worker restarted")"

########################################################################
# pickup latency
########################################################################
log "pickup latency: $LAT_N samples (interleaved with bare commits)"
LAT=$("$OUT/latency" "$CONN" 127.0.0.1 "$SPORT" "$LAT_N" "$OUT/latency-$MODE.csv") ||
	{ echo "$LAT" >&2; fail "latency client failed"; }
echo "$LAT" | while read -r key p50 p90 p99 max mean n; do
	[ "$key" = lost ] && continue
	metric "lat_${key}" "$p50 $p90 $p99 $max $mean $n"
done
log "$(echo "$LAT" | tr '\n' ';')"
http_get /_dump >/dev/null
metric arrivals_recorded "$(wc -l <"$OUT/arrivals-$MODE.txt")"

########################################################################
# slow API: every answer takes SLOW_MS; the bound is the in-flight limit
########################################################################
SLOW_MS=100
MAXINF=$(q "SHOW flowdb.max_inflight")
metric slow_delay_ms "$SLOW_MS"
metric slow_max_inflight "$MAXINF"
metric slow_max_host_connections "$(q "SHOW flowdb.max_host_connections")"
# sanity check of the server: twice max_inflight connections, closed loop
SLOW_CONNS=$((2 * MAXINF > 1000 ? 1000 : 2 * MAXINF))
log "fastserver delayed self-test: ${SELFTEST_S}s x $SLOW_CONNS connections on /d/$SLOW_MS/"
SELFD=$("$OUT/loadgen" 127.0.0.1 "$SPORT" "$SLOW_CONNS" "$SELFTEST_S" "/d/$SLOW_MS/selftest/") ||
	fail "loadgen on /d/$SLOW_MS/ failed: $SELFD"
log "$SELFD"
metric slow_selftest_conns "$SLOW_CONNS"
metric slow_selftest_rps "$(echo "$SELFD" | sed -n 's/.*= \([0-9]*\) req\/s.*/\1/p')"
metric slow_selftest_latency_ms "$(echo "$SELFD" | sed -n 's/.*latency min\/mean\/max \([0-9.\/]*\) ms.*/\1/p')"
# whole waves of max_inflight runs: the bound max_inflight / latency is
# reachable only when the last wave is full
NSLOW=$((SLOW_WAVES * MAXINF))
BPSLOW=$(echo "$BP1" | sed "s|\"name\": \"bench-1step\"|\"name\": \"bench-slow\"|; s|$URL/w/notify|$URL/d/$SLOW_MS/slow|")
[ "$(q "SELECT flow_validate('$BPSLOW')->>'valid'")" = true ] || fail "slow blueprint invalid: $(q "SELECT flow_validate('$BPSLOW')")"
phase slow "$NSLOW" "$NSLOW" queue_bulk "$BPSLOW" "$NSLOW"
phase_strict slow
inflight_stats slow
metric slow_bound "$(calc "$MAXINF * 1000 / $SLOW_MS" 1)"
log "slow: $(sed -n 's/^slow_rate_from_start=//p' "$M") steps/s from the first request's start, in flight peak $(sed -n 's/^slow_inflight_peak=//p' "$M") mean $(sed -n 's/^slow_inflight_mean=//p' "$M"); bound $MAXINF / ${SLOW_MS} ms = $(calc "$MAXINF * 1000 / $SLOW_MS" 0) steps/s"

########################################################################
# fan-out: NFAN GETs as NFAN 1-step runs vs curl --parallel
########################################################################
FAN_PAR=64
BPFAN='{"version": 1, "name": "bench-fanout", "trigger": {"type": "manual"},
 "nodes": [{"id": "get", "type": "action", "service": "http", "task": "request",
   "params": {"method": "GET", "url": "'$URL'/f/{{trigger_data.i}}"}}],
 "edges": []}'
[ "$(q "SELECT flow_validate('$BPFAN')->>'valid'")" = true ] || fail "fan-out blueprint invalid: $(q "SELECT flow_validate('$BPFAN')")"
# server's request counter: how many requests each side really made
srv_requests() { http_get /_count | sed -n 's/.*"requests":\([0-9]*\).*/\1/p'; }

# bound: curl fetches the same URLs, FAN_PAR transfers at once
for i in $(seq "$NFAN"); do
	printf 'url = "%s/f/%d"\noutput = "/dev/null"\n' "$URL" "$i"
done >"$WORK/fanout.curl"
cp "$WORK/fanout.curl" "$OUT/fanout.curl"
command -v curl >/dev/null || fail "curl is not installed (scripts/deps.sh)"
metric fan_curl_version "$(curl --version | head -1 | cut -d' ' -f1-2)"
log "fan-out bound: curl --parallel --parallel-max $FAN_PAR, $NFAN GETs"
r0=$(srv_requests)
FC0=$(date +%s.%N)
curl -sS --no-progress-meter --parallel --parallel-max "$FAN_PAR" -w '%{http_code}\n' \
	-K "$WORK/fanout.curl" >"$WORK/fanout.codes" 2>"$WORK/fanout.err" ||
	{ cat "$WORK/fanout.err" >&2; fail "curl --parallel failed"; }
FC1=$(date +%s.%N)
r1=$(srv_requests)
n200=$(grep -c '^200$' "$WORK/fanout.codes" || true)
[ "$n200" = "$NFAN" ] || fail "curl: $n200 of $NFAN answers were 200"
metric fan_n "$NFAN"
metric fan_parallel "$FAN_PAR"
metric fan_curl_secs "$(calc "$FC1 - $FC0" 3)"
metric fan_curl_server_requests "$((r1 - r0 - 1))"
log "fan-out bound: curl $(calc "$FC1 - $FC0" 3) s ($((r1 - r0 - 1)) requests at the server)"

# flowdb: one transaction queues them all; the clock starts just before
# its COMMIT (clock_timestamp() on the same machine's clock)
queue_fanout() {
	FAN_T0=$("${PSQL[@]}" -c "BEGIN" \
		-c "SELECT count(flow_execute('$BPFAN'::jsonb, jsonb_build_object('i', g))) FROM generate_series(1, $NFAN) g" \
		-c "SELECT extract(epoch FROM clock_timestamp())" -c "COMMIT" | tail -1)
}
r0=$(srv_requests)
phase fanout "$NFAN" "$NFAN" queue_fanout
phase_strict fanout
inflight_stats fanout
r1=$(srv_requests)
metric fanout_server_requests "$((r1 - r0 - 1))"
# wall: queuing COMMIT -> last log row's finished_at (the last answer);
# durable: -> the last run's finished_at (now() of the worker's commit)
read -r fan_wall fan_durable <<<"$(q "SELECT round((extract(epoch FROM max(l.finished_at)) - $FAN_T0)::numeric, 3),
	(SELECT round((extract(epoch FROM max(r.finished_at)) - $FAN_T0)::numeric, 3)
	 FROM flowdb.runs r WHERE r.id IN (SELECT run_id FROM flowdb.workflow_logs WHERE id > $PHASE_LASTID))
	FROM flowdb.workflow_logs l WHERE l.id > $PHASE_LASTID AND l.status <> 'started'" | tr '|' ' ')"
metric fan_flowdb_secs "$fan_wall"
metric fan_flowdb_durable_secs "$fan_durable"
log "fan-out: flowdb $fan_wall s from the queuing COMMIT to the last answer ($fan_durable s to the last run's commit), curl $(calc "$FC1 - $FC0" 3) s"

########################################################################
# a map: one run whose map node sends NMAP requests, 100 at a time (its
# items and results are written apart from its state, once each),
# beside the rate of the same requests as 1-step runs (one_step)
########################################################################
BPMAP='{"version": 1, "name": "bench-map", "trigger": {"type": "manual"},
 "nodes": [{"id": "each", "type": "map", "items": "{{trigger_data.items}}", "concurrency": 100,
   "do": {"service": "http", "task": "request",
     "params": {"method": "POST", "url": "'$URL'/w/notify", "body": {"to": "{{item.phone}}", "i": "{{index}}"}}}}],
 "edges": []}'
[ "$(q "SELECT flow_validate('$BPMAP')->>'valid'")" = true ] || fail "map blueprint invalid: $(q "SELECT flow_validate('$BPMAP')")"
queue_map() {
	q "SELECT flow_execute('$BPMAP'::jsonb, jsonb_build_object('items',
		(SELECT jsonb_agg(jsonb_build_object('phone', '+91' || (9000000000 + g)::text, 'name', 'Customer ' || g))
		 FROM generate_series(1, $NMAP) g))) IS NOT NULL" >/dev/null
}
# the map's own log row besides one per item
phase map "$((NMAP + 1))" 1 queue_map
phase_strict map
read -r map_secs map_state map_text <<<"$(q "SELECT round(extract(epoch FROM finished_at - started_at)::numeric, 3),
	pg_column_size(state), octet_length(state::text) FROM flowdb.runs WHERE blueprint->>'name' = 'bench-map'" | tr '|' ' ')"
metric map_items "$NMAP"
metric map_run_secs "$map_secs"
metric map_state_bytes "$map_state"
metric map_state_text_bytes "$map_text"
log "map: $NMAP items in one run in $map_secs s ($(sed -n 's/^map_rate=//p' "$M") steps/s; 1-step runs: $(sed -n 's/^one_step_rate=//p' "$M")); final state $map_text bytes of JSON, $map_state stored"

########################################################################
# a map over a sub-workflow: one run whose map starts a child run (a
# saved 1-step workflow) per item, NSUB items, 10 children at a time; the
# parent is parked while its children run, and claimed again as they end
########################################################################
NSUB=$([ "$MODE" = full ] && echo 1000 || echo 100)
SUB_CHILD=$(q "SELECT flow_save('{\"version\": 1, \"name\": \"bench-sub-child\", \"trigger\": {\"type\": \"manual\"},
	\"nodes\": [{\"id\": \"post\", \"type\": \"action\", \"service\": \"http\", \"task\": \"request\",
	  \"params\": {\"method\": \"POST\", \"url\": \"$URL/w/child\", \"body\": {\"i\": \"{{trigger_data.i}}\"}}}],
	\"edges\": []}'::jsonb)")
BPSUB='{"version": 1, "name": "bench-submap", "trigger": {"type": "manual"},
 "nodes": [{"id": "each", "type": "map", "items": "{{trigger_data.items}}", "concurrency": 10,
   "do": {"workflow": "'$SUB_CHILD'"}}],
 "edges": []}'
[ "$(q "SELECT flow_validate('$BPSUB')->>'valid'")" = true ] || fail "sub-workflow map blueprint invalid: $(q "SELECT flow_validate('$BPSUB')")"
log "map over a sub-workflow: $NSUB items, 10 child runs at a time"
q "SELECT flow_execute('$BPSUB'::jsonb, jsonb_build_object('items',
	(SELECT jsonb_agg(jsonb_build_object('i', g)) FROM generate_series(1, $NSUB) g))) IS NOT NULL" >/dev/null
wait_idle "$PHASE_TIMEOUT" || fail "the map over a sub-workflow did not finish"
read -r sub_status sub_secs sub_ok <<<"$(q "SELECT r.status, round(extract(epoch FROM r.finished_at - r.started_at)::numeric, 3),
	(SELECT count(*) FROM flowdb.runs c WHERE c.parent_run_id = r.id AND c.status = 'succeeded')
	FROM flowdb.runs r WHERE r.blueprint->>'name' = 'bench-submap'" | tr '|' ' ')"
[ "$sub_status" = succeeded ] && [ "$sub_ok" = "$NSUB" ] ||
	fail "map over a sub-workflow: $sub_status, $sub_ok of $NSUB children succeeded"
metric submap_items "$NSUB"
metric submap_secs "$sub_secs"
log "map over a sub-workflow: $NSUB items in $sub_secs s"

read -r cl st co wk <<<"$(counters)"
metric total_claimed "$cl"
metric total_steps "$st"
metric total_commits "$co"
metric total_wakeups "$wk"

########################################################################
# two workers: the same cluster restarted with flowdb.workers = 2, the
# 1-step bulk phase again, against the batched bound measured above
########################################################################
log "two workers: restarting PostgreSQL with flowdb.workers = 2"
q "ALTER SYSTEM SET flowdb.workers = 2"
$RUNAS "$PGBIN/pg_ctl" -D "$PGDIR" -l "$PGDIR/server.log" -m fast -w -t 60 restart >/dev/null ||
	fail "restart with flowdb.workers = 2 failed"
# the new workers count from zero; wait for both to be in their loop
WPIDS=()
for _ in $(seq 100); do
	read -r -a WPIDS <<<"$(q "SELECT string_agg(pid::text, ' ' ORDER BY worker) FROM flowdb.worker_info()
		WHERE pid <> 0 AND heartbeat_at IS NOT NULL AND database = current_database()" 2>/dev/null || true)"
	[ ${#WPIDS[@]} -ge 2 ] && break
	sleep 0.1
done
[ ${#WPIDS[@]} -eq 2 ] || fail "flowdb.workers = 2: ${#WPIDS[@]} live workers after the restart"
metric two_workers_setting "$(q "SHOW flowdb.workers")"
log "two workers: pids ${WPIDS[*]}"
phase two_workers "$N1" "$N1" queue_bulk "$BP1" "$N1"
phase_strict two_workers
log "two workers: $(sed -n 's/^two_workers_rate=//p' "$M") steps/s; bound (batched, one client, $K steps per transaction) $(sed -n 's/^pgbench_batch_steps=//p' "$M") steps/s"
metric loadavg_end "$(cut -d' ' -f1-3 /proc/loadavg)"
metric bench_secs "$(since "$T_BUILT")"
metric total_secs "$(since "$T_START")"

python3 "$BENCH/report.py" "$M" "$RESULTS" "$OUT/rss-$MODE.txt"
log "results written to $RESULTS"
