#!/usr/bin/env bash
# A hot IP (issue 13): one IP fails logins 1,000,000 times over 100,000
# accounts in one hour (10 each, spread evenly, no device id), replayed in
# memory with the default policy: events per CPU-second, the decision
# latency's p50/p99 and the bytes of an entity (kagi replay --stats), and the
# decisions' actions; writes docs/BENCHMARKS.md section `risk-hot-ip`.
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
print(json.dumps(dict(sorted(c.items()))))' >"$OUT/actions.json"
MACHINE="$(nproc) cores, $(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2 | sed "s/^ *//"), shared (load average $(cut -d" " -f1-3 /proc/loadavg))"
python3 - "$OUT" "$EVENTS" "$ACCOUNTS" "$MACHINE" "$(git rev-parse --short HEAD)" <<'PY'
import datetime, json, sys
sys.path.insert(0, "bench")
import section
out, events, accounts, machine, commit = sys.argv[1:]
st = json.loads(open(f"{out}/stats.json").read().strip().splitlines()[-1])
act = json.load(open(f"{out}/actions.json"))
lat = st.get("latency_us", {})
text = f"""## risk-hot-ip — one IP, {int(events):,} failed logins over {int(accounts):,} accounts in an hour

- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, commit `{commit}`, machine: {machine}
- command: `bench/risk_hot_ip.sh` (the stream: 10 failed logins an account, evenly over the hour, no device id; `kagi replay --stats --policy policy/default.rules`, in memory)

| figure | value |
|---|---:|
| events per CPU-second | {st['events_per_cpu_s']:,.0f} |
| events per second (wall, shared machine) | {st['events_per_s']:,.0f} |
| decision latency p50 / p99 / p99.9 (µs, wall) | {lat.get('p50', 0):.1f} / {lat.get('p99', 0):.1f} / {lat.get('p999', 0):.1f} |
| entities in memory | {st['entities']:,} |
| bytes of the entity in memory / as a stored blob | {st['entity_mem_bytes_per_entity']:,.0f} / {st['entity_blob_bytes_per_entity']:,.0f} |
| decisions | {', '.join(f'{k} {v:,}' for k, v in act.items())} |

The IP's distinct accounts saturate at 64 kept per stream (docs/rules.md,
"Entities"): each event costs the same from the first to the millionth; the
first 29 accounts' logins are allowed, every later one is challenged."""
print(text)
section.write("risk-hot-ip", text)
PY
