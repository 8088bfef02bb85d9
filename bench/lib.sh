# Shared by the shell benchmarks that load kagid over HTTP: setup of a scratch
# store and a kagid, wrk's figures, and the writer of the script's own section
# of docs/BENCHMARKS.md. Not a benchmark: source it after setting $here (the
# repository root) and `set -euo pipefail`.

# bench_init NAME [BUILD_DIR]: kagi=BUILD_DIR/kagi (default build/release,
# relative to $here), checks it and wrk; out=bench/out/NAME, emptied now and
# removed at exit together with the kagid started by bench_serve.
bench_init() {
	local name=$1
	build=${2:-build/release}
	case $build in /*) ;; *) build=$here/$build ;; esac
	kagi=$build/kagi
	[[ -x $kagi ]] || { echo "bench/$name.sh: $kagi not built" >&2; exit 1; }
	command -v wrk >/dev/null || { echo "bench/$name.sh: wrk missing (scripts/install-deps.sh bench)" >&2; exit 1; }
	# the database on the repository's filesystem: on a tmpfs fsync is free
	out=$here/bench/out/$name
	rm -rf "$out"
	mkdir -p "$out"
	pid=
	trap bench_cleanup EXIT
}

bench_cleanup() { [[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$out"; }

# bench_serve [VAR=VALUE...]: starts kagid on a free loopback port with those
# environment settings; sets pid and port once it listens. The binary, its
# database and its working directory (where it finds policy/, templates/) are
# $srv_kagi, $srv_db and $srv_dir when set (bench_binary sets them for a second
# build), else $kagi, $out/kagi.db and the repository. The port is chosen here
# and given with --listen, so an older kagid that writes no port file (or one
# that does) starts the same way; it is ready once it accepts a connection.
bench_serve() {
	rm -f "$out/port"
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	(cd "${srv_dir:-$here}" && exec env "$@" "${srv_kagi:-$kagi}" serve --db "${srv_db:-$out/kagi.db}" \
		--listen "127.0.0.1:$port" --port-file "$out/port" 2>>"$out/kagid.log") &
	pid=$!
	for _ in $(seq 200); do
		(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	echo "bench: kagid did not start (${srv_kagi:-$kagi}); $out/kagid.log:" >&2
	tail -5 "$out/kagid.log" >&2
	exit 1
}

# bench_binary BUILD_DIR: the kagid that bench_serve starts next is
# BUILD_DIR/kagi, run in the source tree it was built from (CMakeCache.txt),
# on its own database $out/kagi-<tag>.db (a kagid refuses a store migrated by
# a newer one). bench_binary with no argument: back to $kagi.
bench_binary() {
	if [[ -z ${1:-} ]]; then
		srv_kagi= srv_db= srv_dir=
		return
	fi
	srv_kagi=$1/kagi
	srv_dir=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$1/CMakeCache.txt")
	srv_db=$out/kagi-$(git -C "$srv_dir" rev-parse --short HEAD 2>/dev/null || echo other).db
	[[ -x $srv_kagi && -d $srv_dir ]] || { echo "bench: $srv_kagi not built" >&2; exit 1; }
}

# bench_stop: SIGTERM to kagid, waits for its exit.
bench_stop() { kill -TERM "$pid"; wait "$pid"; pid=; }

# bench_wrk_figures WRK_OUTPUT: prints "REQ_PER_S|P50|P99|NON_2XX" (wrk --latency),
# for `IFS='|' read -r rps p50 p99 non2xx`.
bench_wrk_figures() {
	local rps p50 p99 non2xx
	rps=$(echo "$1" | awk '/Requests\/sec/ {printf "%.0f", $2}')
	p50=$(echo "$1" | awk '$1 == "50%" {print $2}')
	p99=$(echo "$1" | awk '$1 == "99%" {print $2}')
	non2xx=$(echo "$1" | awk '/Non-2xx/ {print $NF}')
	echo "$rps|$p50|$p99|${non2xx:-0}"
}

# bench_cpu_ticks: kagid's ($pid) user+system CPU time so far, in clock ticks
# (/proc/PID/stat fields 14 and 15); read it before and after a wrk run.
bench_cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }

# bench_us_per WRK_OUTPUT TICKS: those ticks in microseconds per request wrk
# counted ("N requests in"); one decimal.
bench_us_per() {
	local n
	n=$(echo "$1" | awk '/requests in/ {print $1}')
	awk -v t="$2" -v n="$n" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.1f", (n > 0 ? t * 1e6 / hz / n : 0)}'
}

# bench_machine: the "date, commit, machine" line of a section (without "- ").
bench_machine() {
	local commit cpu
	commit=$(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo '?')
	cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
	echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'), commit \`$commit\`, machine: $(nproc) cores, $cpu, shared (load average $(cut -d' ' -f1-3 /proc/loadavg) at the end)"
}

# bench_write_section NAME BODY: replaces docs/BENCHMARKS.md's section between
# <!-- bench:NAME --> and <!-- /bench:NAME --> with BODY (appends it if absent).
bench_write_section() { python3 "$here/bench/section.py" "$1" "$2"; }

# bench_events_lua FILE: wrk's script for POST /v1/events (KEY: the API key;
# RUN: a tag of the run): one login event per request, with an id no other
# request has (RUN + thread + n), over 10,000 accounts. Give each wrk run its
# own RUN: wrk does not seed math.random, so every run draws the same thread
# tags, and a second run with the same RUN sends the first one's ids again
# (retries, answered from the stored decisions without a write).
bench_events_lua() {
	cat >"$1" <<'LUA'
-- one login event per request, an id no other request has (RUN + thread + n)
local n = 0
local key = os.getenv("KEY")
local run = os.getenv("RUN")
function setup(thread) thread:set("tid", tostring(math.random(1, 1000000000))) end
request = function()
	n = n + 1
	local id = run .. "-" .. tid .. "-" .. n
	local body = '{"id":"' .. id .. '","type":"login","account":"acc-' .. (n % 10000) ..
		'","ts":"2026-11-29T00:00:00Z","success":true,"ip":"10.0.' .. (n % 250) ..
		'.1","device_id":"d-' .. (n % 10000) .. '"}'
	return wrk.format("POST", "/v1/events", {["Content-Type"] = "application/json",
		["Authorization"] = "Bearer " .. key}, body)
end
LUA
}
