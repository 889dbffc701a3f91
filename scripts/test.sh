#!/bin/bash
# test.sh: everything `make test` runs.
#   1. build and install the extension (-Wall -Wextra -Werror)
#   2. the library exports only what PostgreSQL looks up (make check-symbols),
#      C unit tests of the pure modules under valgrind, and the offline
#      drafter's accuracy on bench/draft's labelled prompts (floors)
#   3. pg_regress (sql/ + expected/) on a throwaway cluster with flowdb preloaded
#   4. TAP tests (test/t/*.pl): each starts its own clusters and fake servers
#   5. the benchmark in its smoke form (bench/run.sh --smoke: it runs, nothing is asserted)
#   6. a short fuzz smoke run of the parsers (when clang's libFuzzer is there)
# Prints "test: N passed, N failed" (checks over all suites) at the end;
# exits non-zero when any suite fails.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/scripts/common.sh"

passed=0
failed=0
suites_failed=0
LOG=$(mktemp /tmp/flowdb-test-log.XXXXXX)
# suite NAME CMD...: run one suite, count its checks from its own output
# (unit: "N passed, M failed" lines; pg_regress: "All N tests passed" /
# "M of N tests failed"; prove: "Tests=N" and "Failed M/N"); a failing
# suite with no countable failure counts as one failure.
suite() {
	local name=$1; shift
	echo "=== $name"
	"$@" 2>&1 | tee "$LOG"
	local rc=${PIPESTATUS[0]}
	local p f
	read -r p f < <(python3 - "$LOG" <<'PY'
import re, sys
t = open(sys.argv[1], errors="replace").read()
p = f = 0
for a, b in re.findall(r"(\d+) passed, (\d+) failed", t):
    p += int(a); f += int(b)
m = re.search(r"All (\d+) tests passed", t)
if m: p += int(m.group(1))
m = re.search(r"(\d+) of (\d+) tests failed", t)
if m: f += int(m.group(1)); p += int(m.group(2)) - int(m.group(1))
m = re.search(r"Files=\d+, Tests=(\d+)", t)
if m:
    tf = sum(int(x) for x in re.findall(r"Failed (\d+)/\d+ subtests", t))
    p += int(m.group(1)) - tf; f += tf
print(p, f)
PY
)
	passed=$((passed + p))
	if [ "$rc" -ne 0 ]; then
		suites_failed=$((suites_failed + 1))
		[ "$f" -eq 0 ] && f=1
		echo "=== $name: FAILED"
	else
		echo "=== $name: ok ($p checks)"
	fi
	failed=$((failed + f))
}

cd "$ROOT"
if ! make -s PG_CONFIG="$PG_CONFIG" >/dev/null || ! make -s install PG_CONFIG="$PG_CONFIG" >/dev/null; then
	echo "build failed"; echo "test: 0 passed, 1 failed"; exit 1
fi

suite symbols make -s check-symbols PG_CONFIG="$PG_CONFIG"
suite unit make -s -C test/unit run

# the offline drafter's accuracy on the labelled prompts, with floors
suite draft-accuracy make -s -C bench/draft check

WORK=$(work_copy "$ROOT")
trap 'stop_cluster "$WORK/tmp_cluster"; rm -rf "$WORK" "$LOG"' EXIT

regress() {
	local port; port=$(free_port)
	start_cluster "$WORK/tmp_cluster" "$port" "flowdb.workers = 0" || return 1
	$RUNAS env PGHOST=127.0.0.1 PGPORT="$port" PGUSER=postgres \
		make -s -C "$WORK" installcheck-regress PG_CONFIG="$PG_CONFIG"
	local rc=$?
	stop_cluster "$WORK/tmp_cluster"
	[ $rc -eq 0 ] || { cat "$WORK/regression.diffs" 2>/dev/null | head -200; }
	return $rc
}
suite regress regress

tap() {
	$RUNAS env PATH="$PATH" make -s -C "$WORK" installcheck-tap PG_CONFIG="$PG_CONFIG"
}
suite tap tap

# benchmarks are not tests: the smoke run only proves the bench still runs
# (no speed is asserted); its report goes to bench/out/results-smoke.md
if [ -z "${SKIP_BENCH:-}" ]; then
	suite bench-smoke bash bench/run.sh --smoke --no-build
fi

if [ -z "${SKIP_FUZZ:-}" ] && [ -f test/fuzz/Makefile ] && command -v clang >/dev/null; then
	suite fuzz make -s -C test/fuzz smoke FUZZ_TIME="${FUZZ_TIME:-10}"
fi

echo "test: $passed passed, $failed failed"
[ $failed -eq 0 ] && [ $suites_failed -eq 0 ]
