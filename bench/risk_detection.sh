#!/usr/bin/env bash
# Detection benchmark (issue 3): simulate a labelled shop, replay it through the
# default policy, score hold+lock against the labels per scenario, and write the
# figures into docs/BENCHMARKS.md section `risk-detection`. Also times the
# generator. Usage: bench/risk_detection.sh [BUILD_DIR]   (default build/release)
# Env: ACCOUNTS (100000) DAYS (30) SEED (1) POLICY (policy/default.rules)
# CROSS (0.1: share of accounts in stories across accounts, second stream).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build/release}
KAGI=$BUILD/kagi
ACCOUNTS=${ACCOUNTS:-100000}
DAYS=${DAYS:-30}
SEED=${SEED:-1}
POLICY=${POLICY:-policy/default.rules}
OUT=bench/out/risk_detection
mkdir -p "$OUT"

[ -x "$KAGI" ] || { echo "no $KAGI: build first (make build)" >&2; exit 1; }
[ -f "$POLICY" ] || { echo "no $POLICY yet (risk engineer's)" >&2; exit 1; }
"$KAGI" replay --help >/dev/null 2>&1 || { echo "kagi replay is not there yet" >&2; exit 1; }

SIM_CMD="kagi simulate --accounts $ACCOUNTS --days $DAYS --seed $SEED"
REPLAY_CMD="kagi replay --policy $POLICY"

now() { date +%s.%N; }
LOAD=$(cut -d" " -f1-3 /proc/loadavg)
echo "simulating: $SIM_CMD" >&2
t0=$(now)
"$KAGI" simulate --accounts "$ACCOUNTS" --days "$DAYS" --seed "$SEED" --stats \
	--out "$OUT/events.ndjson" 2>"$OUT/simulate.json"
t1=$(now)
# two more runs to /dev/null: the generator's rate without the disk
for i in 1 2; do
	"$KAGI" simulate --accounts "$ACCOUNTS" --days "$DAYS" --seed "$SEED" --stats \
		--out /dev/null 2>"$OUT/simulate.null$i.json"
done
echo "replaying: $REPLAY_CMD" >&2
t2=$(now)
"$KAGI" replay --policy "$POLICY" "$OUT/events.ndjson" >"$OUT/decisions.ndjson"
t3=$(now)

python3 bench/risk_detection.py \
	--events "$OUT/events.ndjson" --decisions "$OUT/decisions.ndjson" \
	--sim-stats "$OUT/simulate.json" "$OUT/simulate.null1.json" "$OUT/simulate.null2.json" \
	--sim-wall "$t0" "$t1" --replay-wall "$t2" "$t3" \
	--sim-cmd "$SIM_CMD" --replay-cmd "$REPLAY_CMD" \
	--machine "$(nproc) cores, $(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2 | sed "s/^ *//"), shared (load average $LOAD at the start)" \
	--commit "$(git rev-parse --short HEAD)" \
	--benchmarks docs/BENCHMARKS.md

# Stories across accounts (issue 13): the same shop with CROSS of its accounts
# in credential-stuffing campaigns, card rings, gift-card drops and the hard
# negatives (office and carrier IPs, a family's card, a dormitory); per
# account recall and precision of the three rows, the hard negatives' flags
# named: section `risk-detection-entities`.
CROSS=${CROSS:-0.1}
XSIM_CMD="$SIM_CMD --cross-account $CROSS"
echo "simulating: $XSIM_CMD" >&2
"$KAGI" simulate --accounts "$ACCOUNTS" --days "$DAYS" --seed "$SEED" --cross-account "$CROSS" \
	--out "$OUT/cross.ndjson"
echo "replaying: $REPLAY_CMD" >&2
"$KAGI" replay --policy "$POLICY" "$OUT/cross.ndjson" >"$OUT/cross.decisions.ndjson"
python3 bench/detection.py --events "$OUT/cross.ndjson" --decisions "$OUT/cross.decisions.ndjson" \
	--sim-cmd "$XSIM_CMD" --replay-cmd "$REPLAY_CMD" \
	--machine "$(nproc) cores, $(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2 | sed "s/^ *//"), shared (load average $(cut -d" " -f1-3 /proc/loadavg))" \
	--commit "$(git rev-parse --short HEAD)" \
	--benchmarks docs/BENCHMARKS.md
