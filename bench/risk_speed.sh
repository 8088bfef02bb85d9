#!/usr/bin/env bash
# In-memory replay speed of several builds in one sitting (issue 13's
# "back to b674c3c's speed"): `kagi replay --quiet --stats` of one
# `kagi simulate` stream, each build with the policy/default.rules of its
# own source tree, rounds alternating the builds; prints per build the
# events per CPU-second of every round, their median and the ratio to the
# first build, and the memory census (bytes per account, per entity).
# Prints only (the numbers go into docs/BENCHMARKS.md by hand, with the
# callgrind counts that decide on this noisy machine).
#
#   bash bench/risk_speed.sh SRC_DIR:BUILD_DIR [SRC_DIR:BUILD_DIR ...]
#   ACCOUNTS (100000) DAYS (30) SEED (1) ROUNDS (3) EVENTS (a stream file
#   to use instead of simulating one)
set -euo pipefail
[[ $# -ge 1 ]] || { echo "usage: bench/risk_speed.sh SRC:BUILD [SRC:BUILD ...]" >&2; exit 1; }
accounts=${ACCOUNTS:-100000}
days=${DAYS:-30}
seed=${SEED:-1}
rounds=${ROUNDS:-3}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
first=${1%%:*}
first_bin=${1#*:}/kagi
ev=${EVENTS:-}
if [[ -z $ev ]]; then
	ev=$out/ev.ndjson
	"$first_bin" simulate --accounts "$accounts" --days "$days" --seed "$seed" --out "$ev" 2>/dev/null
fi
for ((r = 1; r <= rounds; r++)); do
	for i in $(seq 1 $#); do
		spec=${!i}
		src=${spec%%:*}
		bin=${spec#*:}/kagi
		"$bin" replay --quiet --stats --policy "$src/policy/default.rules" "$ev" 2>>"$out/b$i.json" >/dev/null
	done
done
python3 - "$out" "$@" <<'PY'
import json, statistics, sys
out, specs = sys.argv[1], sys.argv[2:]
base = None
for i, spec in enumerate(specs, 1):
    runs = [json.loads(l) for l in open(f"{out}/b{i}.json") if l.startswith("{")]
    rates = [r["events_per_cpu_s"] for r in runs]
    med = statistics.median(rates)
    base = base or med
    last = runs[-1]
    ent = last.get("entity_mem_bytes_per_entity")
    print(f"{spec}: events/cpu-s {' '.join(f'{x:,.0f}' for x in rates)} median {med:,.0f} "
          f"({med / base:.1%} of the first); events {last['events']:,}; bytes/account "
          f"{last['feature_mem_bytes_per_account']}; entities {last.get('entities', '-')}, "
          f"bytes/entity {ent if ent is not None else '-'}")
PY
