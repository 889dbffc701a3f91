#!/bin/bash
# check_symbols.sh [LIB] [SQL...]: fail when flowdb.so exports a name that
# PostgreSQL does not look up, or misses one it does.
#   Allowed: Pg_magic_func, _PG_init, flowdb_worker_main and
#   flowdb_launcher_main (the background workers' entries), and for each pg_finfo_<name> the function <name>.
#   Required: every C function the install scripts name (AS 'MODULE_PATHNAME',
#   '<name>'), with its pg_finfo_<name>.
# Everything else stays hidden (-fvisibility=hidden, see the Makefile), so
# that flowdb's internal names cannot clash with other preloaded libraries.
# Prints "check-symbols: N passed, M failed".
set -uo pipefail
LIB=${1:-flowdb.so}
shift || true
SQL=("$@")
[ ${#SQL[@]} -eq 0 ] && SQL=(sql/flowdb--*.sql)

if [ ! -f "$LIB" ]; then
	echo "check-symbols: $LIB not found (build first)"
	echo "check-symbols: 0 passed, 1 failed"
	exit 1
fi
mapfile -t exported < <(nm -D --defined-only "$LIB" | awk '{print $NF}' | sort -u)
declare -A have=()
for s in "${exported[@]}"; do have[$s]=1; done

passed=0
failed=0
for s in "${exported[@]}"; do
	case "$s" in
		Pg_magic_func | _PG_init | flowdb_worker_main | flowdb_launcher_main | pg_finfo_*)
			ok=1 ;;
		*)
			ok=0
			[ -n "${have[pg_finfo_$s]:-}" ] && ok=1 ;;
	esac
	if [ $ok -eq 1 ]; then
		passed=$((passed + 1))
	else
		echo "unexpected exported symbol: $s"
		failed=$((failed + 1))
	fi
done
for s in Pg_magic_func _PG_init flowdb_worker_main flowdb_launcher_main \
	$(grep -hoP "MODULE_PATHNAME'\s*,\s*'\K\w+" "${SQL[@]}" | sort -u); do
	for need in "$s" $(case $s in Pg_magic_func | _PG_init | flowdb_worker_main | flowdb_launcher_main) ;; *) echo "pg_finfo_$s" ;; esac); do
		if [ -n "${have[$need]:-}" ]; then
			passed=$((passed + 1))
		else
			echo "missing exported symbol: $need"
			failed=$((failed + 1))
		fi
	done
done
echo "check-symbols: $passed passed, $failed failed"
[ $failed -eq 0 ]
