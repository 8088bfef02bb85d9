#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests (make test starts and stops it
# through ctest's fixture "pg"): its own data directory under DIR, a free
# loopback port, trust authentication for local connections only, and the
# server run as the postgres user (CI runs as root, which PostgreSQL
# refuses). When the postgres user cannot reach DIR (a checkout under a
# private home directory), the data directory is a fresh one under /tmp
# instead, named in DIR/datadir. `start` writes the URL of a fresh database
# kagi_test to DIR/url; `stop` stops the server and removes both.
#
#   bash scripts/pg-test-server.sh start|stop DIR
set -euo pipefail
cmd=${1:?usage: pg-test-server.sh start|stop DIR}
dir=${2:?usage: pg-test-server.sh start|stop DIR}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [[ -z $bin ]]; then
	echo "pg-test-server: PostgreSQL is not installed (bash scripts/install-deps.sh test)" >&2
	exit 1
fi
root=$([[ $(id -u) -eq 0 ]] && echo 1 || echo 0)
as_pg() {
	if [[ $root -eq 1 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}
stop() {
	local data
	data=$(cat "$dir/datadir" 2>/dev/null || true)
	if [[ -n $data && -f $data/db/postmaster.pid ]]; then
		as_pg "$bin/pg_ctl" -D "$data/db" -m fast -w stop >/dev/null || true
	fi
	if [[ -n $data && $data != "$dir"/* ]]; then
		rm -rf "$data"
	fi
}
case $cmd in
start)
	stop
	rm -rf "$dir"
	mkdir -p "$dir"
	data=$dir/data
	if [[ $root -eq 1 ]]; then
		chown postgres: "$dir"
		if ! runuser -u postgres -- test -w "$dir"; then
			data=$(mktemp -d /tmp/kagi-pg.XXXXXX)
			chown postgres: "$data"
		fi
	fi
	mkdir -p "$data" 2>/dev/null || as_pg mkdir -p "$data"
	[[ $root -eq 1 ]] && chown postgres: "$data"
	echo "$data" >"$dir/datadir"
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	as_pg "$bin/initdb" -D "$data/db" -U postgres --auth=trust -E UTF8 --locale=C >/dev/null
	as_pg "$bin/pg_ctl" -D "$data/db" -l "$data/server.log" -w -t 60 \
		-o "-p $port -k $data -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null
	as_pg "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres kagi_test
	echo "postgresql://postgres@127.0.0.1:$port/kagi_test" >"$dir/url"
	echo "pg-test-server: $(cat "$dir/url") (data in $data)"
	;;
stop)
	stop
	rm -rf "$dir"
	;;
*)
	echo "usage: pg-test-server.sh start|stop DIR" >&2
	exit 2
	;;
esac
