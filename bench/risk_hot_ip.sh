#!/usr/bin/env bash
# A hot IP (issue 13): one IP fails logins 1,000,000 times over 100,000
# accounts in one hour (10 each, spread evenly, no device id), replayed in
# memory with the default policy: events per CPU-second, the decision
# latency's p50/p99 and the bytes of an entity (kagi replay --stats). Prints
# the JSON of --stats and the decisions' action counts; the figures go into
# docs/BENCHMARKS.md, section `risk` ("Entities: speed").
# Usage: bench/risk_hot_ip.sh [BUILD_DIR]  (default build/release)
# Env: EVENTS (1000000) ACCOUNTS (100000)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build/release}
KAGI=$BUILD/kagi
EVENTS=${EVENTS:-1000000}
ACCOUNTS=${ACCOUNTS:-100000}
OUT=bench/out/risk_hot_ip
mkdir -p "$OUT"
[ -x "$KAGI" ] || { echo "no $KAGI: build first (make build)" >&2; exit 1; }
python3 - "$EVENTS" "$ACCOUNTS" >"$OUT/events.ndjson" <<'PY'
import sys
from datetime import datetime, timedelta, timezone
n, accts = int(sys.argv[1]), int(sys.argv[2])
t0 = datetime(2026, 10, 1, tzinfo=timezone.utc)
step = 3600_000_000 // n  # microseconds: the hour, evenly
w = sys.stdout.write
for i in range(n):
    ts = (t0 + timedelta(microseconds=i * step)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    w(f'{{"id":"hot_{i:07d}","type":"login","account":"acc_{i % accts:07d}","ts":"{ts}",'
      f'"success":false,"ip":"203.0.113.7"}}\n')
PY
"$KAGI" replay --stats --policy policy/default.rules "$OUT/events.ndjson" \
	2>"$OUT/stats.json" | python3 -c '
import collections, json, sys
c = collections.Counter(json.loads(l).get("action", "error") for l in sys.stdin)
print(json.dumps(dict(sorted(c.items()))))'
tail -1 "$OUT/stats.json"
