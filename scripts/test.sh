#!/bin/bash
# test.sh: everything `make test` runs.
#   1. build and install the extension (-Wall -Wextra -Werror)
#   2. the library exports only what PostgreSQL looks up (make check-symbols),
#      C unit tests of the pure modules under valgrind, and the offline
#      drafter's accuracy on bench/draft's labelled prompts (floors)
#   3. pg_regress (sql/ + expected/): make installcheck, on a temporary
#      instance with flowdb preloaded (test/regress.conf)
#   4. TAP tests (test/t/*.pl): each starts its own clusters and fake servers
#   5. the benchmark in its smoke form (bench/run.sh --smoke: it runs, nothing is asserted)
#   6. a short fuzz smoke run of the parsers (when clang's libFuzzer is there)
# Prints "test: N passed, N failed" (checks over all suites) at the end;
# exits non-zero when any suite fails.  A check is one assertion: a unit
# CHECK, a drafter accuracy floor per labelled set, a TAP ok/not ok, and
# for pg_regress one SQL statement whose output is compared with expected/
# (pg_regress itself reports one result per file; scripts/regress_checks.py
# counts the statements each sql/ file sends, and those whose output
# differs).  The bench and fuzz smoke runs assert nothing countable: they
# add one failure when they fail, no passes.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/scripts/common.sh"

passed=0
failed=0
suites_failed=0
LOG=$(mktemp /tmp/flowdb-test-log.XXXXXX)
# suite NAME CMD...: run one suite, count its checks from its own output
# ("N passed, M failed" lines: unit, and regress_checks.py for pg_regress;
# prove: "Tests=N" and "Failed M/N"); a failing suite with no countable
# failure counts as one failure.
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
trap 'rm -rf "$WORK" "$LOG"' EXIT

# make installcheck starts its own temporary instance (test/regress.conf)
# and, as root, runs pg_regress as postgres from a copy
regress() {
	rm -rf "$ROOT/regression.diffs" "$ROOT/results"
	make -s -C "$ROOT" installcheck PG_CONFIG="$PG_CONFIG"
	local rc=$?
	[ $rc -eq 0 ] || { head -200 "$ROOT/regression.diffs" 2>/dev/null; }
	# the checks: statements compared (pg_regress counts files); the
	# results are in $ROOT/results (make installcheck copies them there)
	python3 "$ROOT/scripts/regress_checks.py" "$ROOT"
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
