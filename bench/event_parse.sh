#!/usr/bin/env bash
# Event parsing alone (kg_event_parse: jsmn, the text checks, the field
# tables; no features, rules or output) over a `kagi simulate` stream held
# in memory: events per CPU-second on one core (median of RUNS), and, when
# valgrind is installed, instructions per event under callgrind on every
# 11th event (a fixed, noise-free figure). Writes docs/BENCHMARKS.md section
# `event-parse`.
#
#   bash bench/event_parse.sh [BUILD_DIR]     (default build/release)
#   Env: ACCOUNTS (100000) DAYS (30) SEED (1) RUNS (3); EVENTS=FILE to use
#   an existing stream instead.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build/release}
case $build in /*) ;; *) build=$here/$build ;; esac
# shellcheck source=bench/lib.sh
source "$here/bench/lib.sh"
ACCOUNTS=${ACCOUNTS:-100000}
DAYS=${DAYS:-30}
SEED=${SEED:-1}
RUNS=${RUNS:-3}
out=$here/bench/out/event_parse
mkdir -p "$out"

cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j2 --target kagi event_bench >/dev/null
bin=$build/bench/event_bench
ev=${EVENTS:-$out/events-$ACCOUNTS-$DAYS-$SEED.ndjson}
if [[ ! -s $ev ]]; then
	echo "simulating $ACCOUNTS accounts, $DAYS days" >&2
	"$build/kagi" simulate --accounts "$ACCOUNTS" --days "$DAYS" --seed "$SEED" --out "$ev"
fi
pin=
command -v taskset >/dev/null && pin="taskset -c 0"

field() { sed -n "s/.*\"$1\": \([0-9.]*\).*/\1/p"; }
commas() { python3 -c 'import sys; print(f"{round(float(sys.argv[1])):,}")' "$1"; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
rates= nss=
for ((r = 1; r <= RUNS; r++)); do
	line=$($pin "$bin" "$ev")
	echo "  run $r: $line" >&2
	rates+="$(echo "$line" | field events_per_cpu_s) "
	nss+="$(echo "$line" | field ns_per_event) "
done
events=$(echo "$line" | field events)
errors=$(echo "$line" | field errors)
rate=$(printf '%s\n' $rates | median)
ns=$(printf '%s\n' $nss | median)

instr="(valgrind not installed)"
# callgrind splits kg_event_parse by source file (jsmn.h is inlined into it):
# the largest of its lines is the whole function
sample=$out/sample.ndjson
if command -v valgrind >/dev/null; then
	awk 'NR % 11 == 0' "$ev" >"$sample"
	n=$(wc -l <"$sample")
	valgrind --tool=callgrind --callgrind-out-file="$out/callgrind.out" "$bin" "$sample" \
		>/dev/null 2>"$out/callgrind.log"
	total=$(callgrind_annotate --inclusive=yes "$out/callgrind.out" |
		awk '/:kg_event_parse( |$)/ && !/=>/ {gsub(",", "", $1); if ($1 + 0 > t) t = $1 + 0}
			END {print t}')
	instr=$(commas "$((total / n))")
	echo "callgrind: $total instructions in kg_event_parse for $n events" >&2
fi

body=$(cat <<EOF
## event-parse — kg_event_parse alone

Input: \`kagi simulate --accounts $ACCOUNTS --days $DAYS --seed $SEED\`, $(commas "$events") events
held in memory ($errors refused), parsed one after another by \`build/release/bench/event_bench\`
on one core (\`taskset -c 0\`): jsmn, the text checks and the field tables; no features,
rules or decision output.

| what | figure |
|---|---|
| events parsed per CPU-second (median of $RUNS) | $(commas "$rate") |
| time per event | $ns ns |
| instructions per event in kg_event_parse (callgrind, every 11th event) | $instr |

Before the parser's rework (commit 65a3fe1; same sample, same machine) an event took
21,279 instructions and ~980 ns (~1.0 M events per CPU-second): jsmn scanned
back over its tokens at every \`,\` and \`}\`, and the parser walked the tokens four more
times (primitives and depth, grammar, field paths by snprintf, each subtree's end by
rescanning). Now jsmn runs with parent links (its tokens for refused text come from a
second jsmn without them, so the messages stay the same), one walk checks the grammar and
notes subtree ends, and one SSE2 pass over the text tells whether any string needs
decoding or checking. About 60 % of what is left is jsmn's own byte loop.

In \`kagi replay --quiet --stats\` of the same 1,114,905 events (\`taskset -c 0\`, three runs
each, interleaved, 2026-11-28 23:47 UTC, main at e7f885f): with the previous parser
~508,000 events per CPU-second, with this one ~795,000 (wall ~415,000–490,000 vs
~620,000–680,000 events/s on the loaded machine).

Command: \`bash bench/event_parse.sh\` (RUNS=$RUNS).
- $(bench_machine)
EOF
)
bench_write_section event-parse "$body"
rm -f "$sample"
