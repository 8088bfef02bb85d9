#!/usr/bin/env bash
# What one durable POST /v1/events costs kagid (issue 17), A against B in one
# sitting: kagid's CPU per event (all threads, and libmicrohttpd's
# "MHD-worker" server threads alone), its context switches and the system
# calls of the server's loop per event (perf stat on kagid), beside GET
# /healthz on the same kagid with the same connections. A and B are two
# builds, or one build with two settings; their runs alternate (A, B, A, ...)
# on a fresh kagid and store each, and the table gives each side's medians.
# On a shared machine the rates move with the other load from run to run;
# the counts per event (system calls, context switches) move least, CPU per
# event less than the rates. Prints the table (markdown) on stdout; the
# figures go to docs/BENCHMARKS.md by hand, with the sitting's load.
#
#   bash bench/http_event_cost.sh A_BUILD_DIR [B_BUILD_DIR]   (B: build/release)
#   A_ENV="KAGI_HTTP_THREADS=8" B_ENV=...: kagid settings of a side
#   CONNS_LIST="256 1024" ROUNDS=3 DURATION=3 to change the load
#   (system calls need perf and access to kagid's tracepoints: root, or
#   kernel.perf_event_paranoid <= 1; without them those columns say "-")
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
source "$here/bench/lib.sh"
a_build=${1:?usage: bench/http_event_cost.sh A_BUILD_DIR [B_BUILD_DIR]}
case $a_build in /*) ;; *) a_build=$here/$a_build ;; esac
[[ -x $a_build/kagi ]] || { echo "bench/http_event_cost.sh: $a_build/kagi not built" >&2; exit 1; }
bench_init http_event_cost "${2:-}"
b_build=$(dirname "$kagi")
dur=${DURATION:-3}
conns_list=${CONNS_LIST:-256 1024}
rounds=${ROUNDS:-3}
read -r -a a_env <<<"${A_ENV:-}"
read -r -a b_env <<<"${B_ENV:-}"
export KAGI_LOG_LEVEL=warn   # no access lines, as in http_load.sh
export KAGI_HTTP_MAX_CONNECTIONS_PER_IP=0 KAGI_HTTP_MAX_CONNECTIONS=4096
export KAGI_ACCOUNT_SECRET_KEY=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
syscalls=(recvfrom sendmsg epoll_ctl epoll_wait poll write read futex)
have_perf=false
if command -v perf >/dev/null && perf stat -e syscalls:sys_enter_read -- true >/dev/null 2>&1; then
	have_perf=true
fi

# each side's empty store, made by its own build, and its service key
declare -A key
for side in a b; do
	bin=$a_build/kagi
	[[ $side == b ]] && bin=$kagi
	"$bin" init --db "$out/empty-$side.db" >/dev/null
	key[$side]=$("$bin" key create --db "$out/empty-$side.db" --role service)
done
bench_events_lua "$out/events.lua"

wrk_run() { # OUTFILE CONNS PATH [wrk args]
	local f=$1 c=$2 path=$3
	shift 3
	wrk -t2 -c"$c" -d"${dur}s" --timeout 10s "$@" "http://127.0.0.1:$port$path" >"$f" 2>&1
}
server_ticks() {
	cat /proc/"$pid"/task/*/stat 2>/dev/null | awk '$2 == "(MHD-worker)" {t += $14 + $15} END {print t + 0}'
}
ctx_switches() {
	cat /proc/"$pid"/task/*/status 2>/dev/null | awk '/^(non)?voluntary_ctxt_switches/ {n += $2} END {print n + 0}'
}
answered() { awk '/requests in/ {print $1}' "$1"; }
per() { awk -v a="$1" -v n="$2" -v f="$3" 'BEGIN {printf f, (n > 0 ? a / n : 0)}'; }
# to_ms 1.23ms|456.00us|1.02s: in milliseconds
to_ms() { awk -v v="$1" 'BEGIN {x = v + 0; if (v ~ /us$/) x /= 1000; else if (v ~ /ms$/) x += 0; else if (v ~ /s$/) x *= 1000; printf "%.1f", x}'; }
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

declare -A runs
loads=()
hz=$(getconf CLK_TCK)
for c in $conns_list; do
	for r in $(seq "$rounds"); do
		for side in a b; do
			if [[ $side == a ]]; then
				bench_binary "$a_build"
				env_args=("${a_env[@]}")
			else
				bench_binary
				srv_db=$out/kagi.db
				env_args=("${b_env[@]}")
			fi
			db=${srv_db:-$out/kagi.db}
			rm -f "$db" "$db-wal" "$db-shm"
			cp "$out/empty-$side.db" "$db"
			export KEY=${key[$side]}
			bench_serve "${env_args[@]}"
			t0=$(bench_cpu_ticks)
			wrk_run "$out/h.txt" "$c" /healthz
			t1=$(bench_cpu_ticks) s1=$(server_ticks) x1=$(ctx_switches)
			export RUN="$side-c$c-$r-$RANDOM"
			if $have_perf; then
				ev=$(printf 'syscalls:sys_enter_%s,' "${syscalls[@]}")
				perf stat -x, -e "${ev%,}" -p "$pid" -o "$out/perf.txt" &
				ppid=$!
				sleep 0.2
			fi
			wrk_run "$out/e.txt" "$c" /v1/events --latency -s "$out/events.lua"
			if $have_perf; then
				kill -INT "$ppid"
				wait "$ppid" || true
			fi
			t2=$(bench_cpu_ticks) s2=$(server_ticks) x2=$(ctx_switches)
			bench_stop
			hn=$(answered "$out/h.txt") en=$(answered "$out/e.txt")
			IFS='|' read -r hrps _ _ _ <<<"$(bench_wrk_figures "$(cat "$out/h.txt")")"
			IFS='|' read -r erps _ ep99 enon <<<"$(bench_wrk_figures "$(cat "$out/e.txt")")"
			line="$hrps $(per $(((t1 - t0) * 1000000 / hz)) "$hn" %.1f) $erps"
			line+=" $(awk -v a="$erps" -v b="$hrps" 'BEGIN {printf "%.1f", (b > 0 ? 100 * a / b : 0)}')"
			line+=" $(per $(((t2 - t1) * 1000000 / hz)) "$en" %.1f) $(per $(((s2 - s1) * 1000000 / hz)) "$en" %.1f)"
			line+=" $(per $((x2 - x1)) "$en" %.2f) $enon $(to_ms "$ep99")"
			for sc in "${syscalls[@]}"; do
				v=-
				if $have_perf; then
					v=$(awk -F, -v s="syscalls:sys_enter_$sc" '$3 == s {print $1}' "$out/perf.txt")
					v=$(per "${v:-0}" "$en" %.2f)
				fi
				line+=" $v"
			done
			loads+=("$(cut -d' ' -f1 /proc/loadavg)")
			echo "  c=$c round $r $side: $line" >&2
			runs[$c,$side]+="$line"$'\n'
		done
	done
done

label() {
	local b=$1 e=$2
	echo "\`${b/#$here\//}\`${e:+ $e}"
}
echo "| connections | side | /healthz req/s | kagid CPU per /healthz | durable decisions/s | of /healthz | kagid CPU per event | of it server threads | context switches per event | refused | events p99 | $(printf '%s | ' "${syscalls[@]}" | sed 's/ | $//') |"
echo "|---|---|---|---|---|---|---|---|---|---|---|$(printf -- '---|%.0s' "${syscalls[@]}")"
for c in $conns_list; do
	for side in a b; do
		col() { printf '%s' "${runs[$c,$side]}" | awk -v k="$1" 'NF {print $k}'; }
		med() {
			local v
			v=$(col "$1")
			[[ $v == *-* ]] && { echo -; return; }
			# shellcheck disable=SC2086 # one value per line
			median $v
		}
		if [[ $side == a ]]; then lb=$(label "$a_build" "${A_ENV:-}"); else lb=$(label "$b_build" "${B_ENV:-}"); fi
		row="| $c | $side: $lb | $(med 1) | $(med 2) µs | $(med 3) | $(med 4) % | $(med 5) µs | $(med 6) µs | $(med 7) | $(med 8) | $(med 9) ms |"
		k=10
		for _ in "${syscalls[@]}"; do
			row+=" $(med $k) |"
			k=$((k + 1))
		done
		echo "$row"
	done
done
echo
echo "$(bench_machine); load average at each run's end $(printf '%s ' "${loads[@]}" | sed 's/ $//'); DURATION=$dur ROUNDS=$rounds (medians of the rounds)"
