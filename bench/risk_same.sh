#!/usr/bin/env bash
# The one text and address equality (src/base/text.c) against a build of the
# previous version, in the same sitting: `kagi replay` in memory of one
# `kagi simulate` stream through policy/default.rules (its address_mismatch
# rule calls same() on every order, the address entity keys every order),
# runs alternated and pinned to one core; the median of events per CPU
# second and of wall events/s, new/old; and how many decisions differ.
# Writes docs/BENCHMARKS.md section "risk_same".
#
#   bash bench/risk_same.sh OLD_BUILD_DIR [NEW_BUILD_DIR]   (new: build/release)
#   ACCOUNTS (20000) DAYS (30) SEED (1) RUNS (3); OLD_LABEL and NEW_LABEL name
#   the two builds in the section.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
source bench/lib.sh
old=${1:?usage: bench/risk_same.sh OLD_BUILD_DIR [NEW_BUILD_DIR]}/kagi
new=${2:-build/release}/kagi
[[ -x $old && -x $new ]] || { echo "bench/risk_same.sh: build $old and $new first" >&2; exit 1; }
accounts=${ACCOUNTS:-20000}
days=${DAYS:-30}
seed=${SEED:-1}
runs=${RUNS:-3}
out=bench/out/risk_same
rm -rf "$out"
mkdir -p "$out"
trap 'rm -rf "$out"' EXIT
pin=""
command -v taskset >/dev/null && pin="taskset -c 0"

"$new" simulate --accounts "$accounts" --days "$days" --seed "$seed" --out "$out/ev.ndjson" 2>/dev/null
events=$(wc -l <"$out/ev.ndjson")
stat() { python3 -c 'import json,sys; d=json.loads(sys.stdin.read()); print(d["events_per_cpu_s"], d["events_per_s"])'; }
declare -A cpu wall
for ((r = 1; r <= runs; r++)); do
	for which in old new; do
		bin=$old
		[[ $which == new ]] && bin=$new
		read -r c w <<<"$($pin "$bin" replay --policy policy/default.rules --quiet --stats "$out/ev.ndjson" 2>&1 | stat)"
		cpu[$which]+="$c "
		wall[$which]+="$w "
		echo "run $r $which: $c events/CPU s, $w events/s" >&2
	done
done
"$old" replay --policy policy/default.rules "$out/ev.ndjson" >"$out/old.out" 2>/dev/null
"$new" replay --policy policy/default.rules "$out/ev.ndjson" >"$out/new.out" 2>/dev/null
differ=$(paste -d'\n' "$out/old.out" "$out/new.out" | awk 'NR % 2 == 1 {a = $0; next} a != $0 {n++} END {print n + 0}')

median() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
co=$(median "${cpu[old]}") cn=$(median "${cpu[new]}") wo=$(median "${wall[old]}") wn=$(median "${wall[new]}")
ratio() { awk -v n="$1" -v o="$2" 'BEGIN {printf "%.3f", n / o}'; }
body="## risk_same — one text and address equality, against the previous version

- $(bench_machine)
- command: \`bash bench/risk_same.sh OLD_BUILD_DIR\` (ACCOUNTS=$accounts DAYS=$days SEED=$seed RUNS=$runs): \`kagi replay --quiet --stats\` in memory of one \`kagi simulate\` stream ($events events) through policy/default.rules, pinned to core 0, runs alternated; old = ${OLD_LABEL:-\`$old\`}, new = ${NEW_LABEL:-this commit}
- decisions that differ between old and new on the stream: **$differ** of $events

| figure | old (runs) | new (runs) | old median | new median | new/old |
|---|---|---|---|---|---|
| events per CPU second | ${cpu[old]}| ${cpu[new]}| $co | $cn | $(ratio "$cn" "$co") |
| events per second (wall) | ${wall[old]}| ${wall[new]}| $wo | $wn | $(ratio "$wn" "$wo") |
"
bench_write_section risk_same "$body"
echo "$body"
