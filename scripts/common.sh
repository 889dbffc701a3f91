# common.sh: helpers shared by test.sh, demo.sh and bench/run.sh.
# Sourced, not executed.

PG_CONFIG=${PG_CONFIG:-pg_config}
PGBIN=$($PG_CONFIG --bindir)

# The OS user that runs clusters: PostgreSQL refuses to run as root.
if [ "$(id -u)" -eq 0 ]; then
	RUNAS="runuser -u postgres --"
else
	RUNAS=""
fi

# free_port: print a TCP port nobody listens on (loopback).
free_port() {
	python3 - <<'PY'
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
PY
}

# work_copy SRC: copy the tree to a fresh directory the cluster user owns
# (a root-owned clone may not be readable or writable by postgres).
work_copy() {
	local src=$1 dst
	dst=$(mktemp -d /tmp/flowdb-work.XXXXXX)
	cp -a "$src/." "$dst/"
	if [ "$(id -u)" -eq 0 ]; then
		chown -R postgres:postgres "$dst"
	fi
	echo "$dst"
}

# start_cluster DIR PORT [extra conf lines...]: initdb + start with flowdb
# preloaded, listening on loopback only.
start_cluster() {
	local dir=$1 port=$2; shift 2
	$RUNAS "$PGBIN/initdb" -D "$dir" -A trust -U postgres --no-sync >/dev/null
	{
		echo "port = $port"
		echo "listen_addresses = '127.0.0.1'"
		echo "unix_socket_directories = '$dir'"
		echo "shared_preload_libraries = 'flowdb'"
		echo "wal_level = logical"
		echo "max_replication_slots = 4"
		for line in "$@"; do echo "$line"; done
	} | $RUNAS tee -a "$dir/postgresql.conf" >/dev/null
	$RUNAS "$PGBIN/pg_ctl" -D "$dir" -l "$dir/server.log" -w start >/dev/null
}

stop_cluster() {
	local dir=$1
	$RUNAS "$PGBIN/pg_ctl" -D "$dir" -m fast -w stop >/dev/null 2>&1 || true
}
