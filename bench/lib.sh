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

# bench_serve [VAR=VALUE...]: starts kagid on $out/kagi.db and a free loopback
# port with those environment settings; sets pid and port once it listens.
bench_serve() {
	rm -f "$out/port"
	env "$@" "$kagi" serve --db "$out/kagi.db" --listen 127.0.0.1:0 \
		--port-file "$out/port" 2>>"$out/kagid.log" &
	pid=$!
	for _ in $(seq 100); do [[ -s $out/port ]] && break; sleep 0.1; done
	port=$(cat "$out/port")
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
