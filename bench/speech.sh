#!/bin/bash
# bench/speech.sh: accuracy and speed of flowdb.transcribe_offline on spoken
# commands made with espeak-ng (bench/speech_commands.tsv, scored by
# bench/speech.py; see docs/speech.md).
#
#   bash bench/speech.sh [--no-build]
# VOICES="en-us en" (espeak-ng voices, each scored), SPEED=140 (words/min).
# Needs scripts/deps.sh's packages (espeak-ng, sox, pocketsphinx).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/scripts/common.sh"
BUILD=1
for a in "$@"; do
	case $a in
	--no-build) BUILD=0 ;;
	-h|--help) sed -n '2,8p' "$0"; exit 0 ;;
	*) echo "speech.sh: unknown option $a" >&2; exit 2 ;;
	esac
done
VOICES=${VOICES:-en-us en}
SPEED=${SPEED:-140}
NAMES="{Ravi,Priya,Amit,Suresh,Anjali,Deepak Kumar,Kavya,Neha,Rohit,Sunita}"

if [ "$BUILD" = 1 ]; then
	make -s -C "$ROOT" PG_CONFIG="$PG_CONFIG" >/dev/null
	make -s -C "$ROOT" install PG_CONFIG="$PG_CONFIG" >/dev/null
fi
W=$(mktemp -d /tmp/flowdb-speech.XXXXXX)
[ "$(id -u)" -eq 0 ] && chown postgres "$W"
trap 'stop_cluster "$W/data"; rm -rf "$W"' EXIT
PORT=$(free_port)
start_cluster "$W/data" "$PORT" "flowdb.workers = 0"
PSQL="$RUNAS $PGBIN/psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p $PORT -U postgres -d postgres"
$PSQL -c "CREATE EXTENSION flowdb CASCADE" >/dev/null

for voice in $VOICES; do
	# one WAV per command, at espeak-ng's own 22050 Hz (resampled inside)
	i=0
	grep -v '^#' "$ROOT/bench/speech_commands.tsv" | cut -f1 | while IFS= read -r text; do
		espeak-ng -v "$voice" -s "$SPEED" -w "$W/c$i.wav" "$text"
		i=$((i + 1))
	done
	[ "$(id -u)" -eq 0 ] && chown postgres "$W"/*.wav
	n=$(grep -vc '^#' "$ROOT/bench/speech_commands.tsv")
	# one session (the decoder is loaded once); per-call time measured inside
	$PSQL -At -F $'\t' >"$W/out.tsv" <<SQL
CREATE FUNCTION pg_temp.timed(audio bytea, OUT t text, OUT ms float8) AS \$\$
DECLARE t0 timestamptz := clock_timestamp();
BEGIN
	t := flowdb.transcribe_offline(audio, '$NAMES');
	ms := extract(epoch FROM clock_timestamp() - t0) * 1000;
END \$\$ LANGUAGE plpgsql;
SELECT i, (pg_temp.timed(pg_read_binary_file('$W/c' || i || '.wav'))).*
FROM generate_series(0, $n - 1) i ORDER BY i;
SQL
	cut -f1,2 "$W/out.tsv" >"$W/res.tsv"
	echo "== voice $voice, $SPEED wpm, $n commands"
	python3 "$ROOT/bench/speech.py" "$ROOT/bench/speech_commands.tsv" "$W/res.tsv"
	python3 - "$W/out.tsv" <<'PY'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
first = float(rows[0][2])
ms = sorted(float(r[2]) for r in rows[1:])
print(f"time     first call {first:.0f} ms (loads the model), then median "
      f"{ms[len(ms) // 2]:.0f} ms, max {ms[-1]:.0f} ms per call")
PY
done
