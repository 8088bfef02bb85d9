#!/usr/bin/env bash
# Risk engine benchmark (issue 3): `kagi replay` of a `kagi simulate` stream
# through policy/default.rules — in memory on one core (JSON parsing
# included; throughput, p50/p99 decision latency, feature bytes per account)
# and durable into SQLite with group commit. Writes docs/BENCHMARKS.md
# section `risk`. Usage: bench/risk_replay.sh [BUILD_DIR] (default build/release)
# Env: ACCOUNTS (100000) DAYS (30) SEED (1) RUNS (3) BATCH (100000 events per
# transaction in the durable run).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build/release}
KAGI=$BUILD/kagi
ACCOUNTS=${ACCOUNTS:-100000}
DAYS=${DAYS:-30}
SEED=${SEED:-1}
RUNS=${RUNS:-3}
BATCH=${BATCH:-100000}
POLICY=policy/default.rules
OUT=bench/out/risk_replay
mkdir -p "$OUT"
[ -x "$KAGI" ] || { echo "no $KAGI: build first (make build)" >&2; exit 1; }
PIN=""
command -v taskset >/dev/null && PIN="taskset -c 0"

EV=$OUT/events-$ACCOUNTS-$DAYS-$SEED.ndjson
if [ ! -s "$EV" ]; then
	echo "simulating $ACCOUNTS accounts, $DAYS days" >&2
	"$KAGI" simulate --accounts "$ACCOUNTS" --days "$DAYS" --seed "$SEED" --out "$EV"
fi
for i in $(seq "$RUNS"); do
	echo "in-memory replay $i/$RUNS" >&2
	/usr/bin/time -f '{"user":%U,"sys":%S,"wall":%e,"maxrss_kb":%M}' -o "$OUT/mem$i.time" \
		$PIN "$KAGI" replay --quiet --stats --policy "$POLICY" "$EV" 2>"$OUT/mem$i.json"
done
echo "durable replay (batch $BATCH)" >&2
rm -f "$OUT"/bench.db*
/usr/bin/time -f '{"user":%U,"sys":%S,"wall":%e,"maxrss_kb":%M}' -o "$OUT/db.time" \
	"$KAGI" replay --db "$OUT/bench.db" --batch "$BATCH" --quiet --stats --policy "$POLICY" \
	"$EV" 2>"$OUT/db.json"
DBSIZE=$(du -b "$OUT"/bench.db* | awk '{s+=$1} END {print s}')
rm -f "$OUT"/bench.db*

python3 - "$OUT" "$RUNS" "$ACCOUNTS" "$DAYS" "$SEED" "$BATCH" "$DBSIZE" \
	"$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')" \
	"$(git rev-parse --short HEAD)" "$(cat /proc/loadavg | cut -d' ' -f1-3)" <<'PY'
import json, re, statistics, sys, datetime
out, runs, acc, days, seed, batch, dbsize, machine, commit, load = sys.argv[1:]
runs = int(runs)
def last_json(path):
    lines = [l for l in open(path) if l.startswith("{")]
    return json.loads(lines[-1])
mem = [last_json(f"{out}/mem{i}.json") for i in range(1, runs + 1)]
memt = [json.load(open(f"{out}/mem{i}.time")) for i in range(1, runs + 1)]
db, dbt = last_json(f"{out}/db.json"), json.load(open(f"{out}/db.time"))
ev = mem[0]["events"]
wall_rate = statistics.median(m["events_per_s"] for m in mem)
cpu_rate = statistics.median(ev / (t["user"] + t["sys"]) for t in memt)
best = max(m["events_per_s"] for m in mem)
p50 = statistics.median(m["latency_us"]["p50"] for m in mem)
p99 = statistics.median(m["latency_us"]["p99"] for m in mem)
p999 = statistics.median(m["latency_us"]["p999"] for m in mem)
db_cpu = ev / (dbt["user"] + dbt["sys"])
today = datetime.date.today().isoformat()
sec = f"""<!-- bench:risk -->
## risk — replay through the default policy

Input: `kagi simulate --accounts {acc} --days {days} --seed {seed}`: {ev:,} events
(~400 bytes each), {mem[0]['accounts']:,} accounts. Policy: `policy/default.rules`.
Measured {today} on {machine}, commit {commit}; the machine is shared (load
average at the end: {load}), so wall-clock rates are below the CPU-time
rates; both are given.

| what | figure | target |
|---|---|---|
| in-memory replay, one core, JSON parsing included (median of {runs}, wall) | {wall_rate:,.0f} events/s (best {best:,.0f}) | ≥ 500,000 |
| same, per CPU-second of the replay loop (process CPU clock) | {statistics.median(m["events_per_cpu_s"] for m in mem):,.0f} events/s | |
| decision latency (parse + features + rules + decision JSON) | p50 {p50:.2f} µs, p99 {p99:.2f} µs, p99.9 {p999:.1f} µs | p99 ≤ 20 µs |
| durable replay into SQLite, group commit, {int(batch):,} events per transaction (wall) | {db['events_per_s']:,.0f} events/s ({db['events_per_cpu_s']:,.0f} per CPU-second) | ≥ 100,000 |
| feature state per account, in memory | {mem[0]['feature_mem_bytes_per_account']:,.0f} bytes | |
| feature state per account, stored blob | {mem[0]['feature_blob_bytes_per_account']:,.0f} bytes | |
| SQLite file after the durable run (events + decisions + features + locks + audit) | {int(dbsize)/1e6:,.0f} MB | |
| peak RSS, in-memory replay | {memt[0]['maxrss_kb']/1024:,.0f} MiB | |

Command: `bash bench/risk_replay.sh` (RUNS={runs} BATCH={batch}).

**Where the in-memory time goes** (`perf record` of `kagi replay --quiet` on
the first 500,000 events, self time): JSON tokenizing and validation 25 %
(jsmn itself ~17 %, field table, UTF-8 check, time parse); the account
lookup 14 % — almost all of it the cache miss on the account record among
100,000 (the work is memory-bound, not compute-bound); malloc/free/realloc
~12 % (growing the per-account bucket and set vectors); window buckets and
sets 8 %; rule evaluation 4 %; decision JSON 4 %; reading input 3 %. At
~2.7 µs of CPU per event the target needs ~2 µs: what would close the gap
is (1) fewer cache misses — one arena-allocated, contiguous record per
account (buckets, sets, decided ids inline, grown by copying within a
size-class pool) and prefetching the next line's account while the current
one is decided; (2) no malloc on the hot path (the same pool); (3) a leaner
tokenizer for the fixed shape of events (one pass that validates while it
tokenizes instead of jsmn + a second walk). The p99 of 6–8 µs is within its
target; p99.9 and max are scheduling noise of the shared machine.

**Why durable replay is slow, and what would fix it.** CPU is a small part
of the durable run (see the per-CPU-second figure); the rest is SQLite
writing pages. Each event inserts into `events` (rowid table plus its
primary-key index on (account_id, event_id)) and replaces the account's row
in `features` (keyed by account_id): both are random-key B-trees, so a
transaction of 10,000 events from 100,000 accounts dirties most of their
leaf pages, and every commit rewrites them into the WAL (then again at
checkpoint) — write volume per event grows with the database, and
`perf` shows pwrite/pread/fdatasync, not kagi, on top. Larger groups help
(`--batch 100000` was ~30 % faster than 10,000 on a 300k-event run), a
larger page cache or mmap did not. What would reach 100,000 events/s: an
append-only event log keyed by time (idempotency kept by the per-account
decided-id hashes already in memory, checked against the log only for
accounts not cached), feature blobs written once per account per group
instead of once per event, or sharding accounts across several database
files / PostgreSQL (requirement S12).
<!-- /bench:risk -->"""
path = "docs/BENCHMARKS.md"
doc = open(path).read()
if "<!-- bench:risk -->" in doc:
    doc = re.sub(r"<!-- bench:risk -->.*?<!-- /bench:risk -->", lambda m: sec, doc, flags=re.S)
else:
    doc = doc.rstrip("\n") + "\n\n" + sec + "\n"
open(path, "w").write(doc)
print(sec)
PY
