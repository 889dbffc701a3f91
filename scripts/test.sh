#!/bin/bash
# test.sh: everything `make test` runs.
#   1. build and install the extension (-Wall -Wextra -Werror)
#   2. C unit tests of the pure modules under valgrind
#   3. pg_regress (sql/ + expected/) on a throwaway cluster with flowdb preloaded
#   4. TAP tests (test/t/*.pl): each starts its own clusters and fake servers
#   5. a short fuzz smoke run of the parsers (when clang's libFuzzer is there)
# Prints "test: N passed, N failed" (suites) at the end; exits non-zero on failure.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/scripts/common.sh"

passed=0
failed=0
suite() {
	local name=$1; shift
	echo "=== $name"
	if "$@"; then
		passed=$((passed + 1)); echo "=== $name: ok"
	else
		failed=$((failed + 1)); echo "=== $name: FAILED"
	fi
}

cd "$ROOT"
if ! make -s PG_CONFIG="$PG_CONFIG" >/dev/null || ! make -s install PG_CONFIG="$PG_CONFIG" >/dev/null; then
	echo "build failed"; echo "test: 0 passed, 1 failed"; exit 1
fi

suite unit make -s -C test/unit run

WORK=$(work_copy "$ROOT")
trap 'stop_cluster "$WORK/tmp_cluster"; rm -rf "$WORK"' EXIT

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

if [ -z "${SKIP_FUZZ:-}" ] && [ -f test/fuzz/Makefile ] && command -v clang >/dev/null; then
	suite fuzz make -s -C test/fuzz smoke FUZZ_TIME="${FUZZ_TIME:-10}"
fi

echo "test: $passed passed, $failed failed"
[ $failed -eq 0 ]
