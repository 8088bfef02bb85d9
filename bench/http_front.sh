#!/usr/bin/env bash
# The front door's cost (src/http/front.c: kagid accepts each connection and
# peeks its first request head before libmicrohttpd): GET /healthz with wrk,
# on kept-alive connections and with a new connection per request
# (Connection: close, where every request pays the front), against a build
# of the previous version in the same sitting, runs alternated; medians and
# the ratio new/old. Writes docs/BENCHMARKS.md section "http_front".
#
#   bash bench/http_front.sh OLD_BUILD_DIR [NEW_BUILD_DIR]   (new: build/release)
#   DURATION=5 CONNS=32 RUNS=3 to change the load; OLD_LABEL names the old
#   build in the section (default: its directory).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
source "$here/bench/lib.sh"
old_build=${1:?usage: bench/http_front.sh OLD_BUILD_DIR [NEW_BUILD_DIR]}
case $old_build in /*) ;; *) old_build=$here/$old_build ;; esac
[[ -x $old_build/kagi ]] || { echo "bench/http_front.sh: $old_build/kagi not built" >&2; exit 1; }
bench_init http_front "${2:-}"
new_kagi=$kagi
dur=${DURATION:-5}
conns=${CONNS:-32}
runs=${RUNS:-3}
export KAGI_LOG_LEVEL=warn

"$new_kagi" init --db "$out/kagi.db" >/dev/null
cat >"$out/close.lua" <<'LUA'
wrk.headers["Connection"] = "close"
LUA

declare -A got
for ((r = 1; r <= runs; r++)); do
	for which in old new; do
		if [[ $which == old ]]; then kagi=$old_build/kagi; else kagi=$new_kagi; fi
		bench_serve KAGI_HTTP_THREADS=4
		for mode in keepalive close; do
			script=()
			[[ $mode == close ]] && script=(-s "$out/close.lua")
			res=$(wrk -t2 -c"$conns" -d"${dur}s" --latency "${script[@]}" "http://127.0.0.1:$port/healthz")
			IFS='|' read -r rps p50 p99 non2xx <<<"$(bench_wrk_figures "$res")"
			got[$which,$mode]+="$rps "
			echo "run $r $which $mode: $rps req/s p50 $p50 p99 $p99 non-2xx $non2xx" >&2
		done
		bench_stop
	done
done
kagi=$new_kagi

median() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
rows=""
for mode in keepalive close; do
	o=$(median "${got[old,$mode]}")
	n=$(median "${got[new,$mode]}")
	ratio=$(awk -v n="$n" -v o="$o" 'BEGIN {printf "%.3f", n / o}')
	label="kept-alive connections"
	[[ $mode == close ]] && label="a new connection per request (Connection: close)"
	rows+="| $label | ${got[old,$mode]}| ${got[new,$mode]}| $o | $n | $ratio |"$'\n'
done

body="## http_front — the front door's cost (wrk, GET /healthz)

- $(bench_machine)
- command: \`bash bench/http_front.sh OLD_BUILD_DIR\` (DURATION=$dur CONNS=$conns RUNS=$runs): wrk -t2 -c$conns on the same machine, kagid with http.threads 4 and log level warn; old = ${OLD_LABEL:-\`$old_build\`} (libmicrohttpd accepting), new = this commit (the front accepts, peeks the first head, hands it over); runs alternated old/new
- req/s per run, the median of each and new/old

| connections | old req/s (runs) | new req/s (runs) | old median | new median | new/old |
|---|---|---|---|---|---|
$rows"
bench_write_section http_front "$body"
echo "$body"
