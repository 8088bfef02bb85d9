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

**Durable replay: what changed, where the time goes, what is left.** Before
(commit e7e3a48, 10,000 events per transaction): 7,837 events/s. Each event
inserted into `events` (rowid table plus two random-key indexes,
(account_id, event_id) and (account_id, ts_ms)) and rewrote its account's
`features` row; a group dirtied most leaf pages of three random-key
B-trees and every commit (and its checkpoint) rewrote them. Now: (1) the
feature blob of an account is written once per group — its state after
its last event of the group, in account order — instead of once per
event (same rows at commit); (2) migration 2 drops
`events_account_ts` — the primary key serves an account's events — so
one random-key index is left on the insert path, and it stays as the
unique constraint that makes a retried id count once, also after a
restart; (3) 64 MiB page cache per connection (fewer re-reads of index
pages: on a 220k-event stream, system time 2.4 s → 1.3 s); (4) the replay bench commits
100,000 events per group (`--batch`), so each B-tree page is rewritten
once per 100,000 events rather than per 10,000. Guarantees are unchanged:
the decisions of a group are printed only after its commit is durable
(`synchronous=FULL`, WAL). A larger `wal_autocheckpoint` did not help.
Same sitting, first 500,000 events of this stream, before (4562891) and
after (2491d51), wall / per CPU-second:

| events per group | before | after |
|---|---|---|
| 10,000 | 23,472 / 27,069 | 36,575 / 40,836 |
| 100,000 | 37,337 / 39,409 | 56,169 / 60,232 |

(The full stream is slower per event than its first half: the B-trees are
larger, so each group rewrites more pages.)

Where the time goes now (`perf` on the first 500,000 events, 100,000 per
group): `fdatasync` is under 1 s of a ~17 s run (strace); the run is
CPU-bound (on a quiet machine wall ≈ CPU time; when the 2 shared cores
are loaded, wall was up to ~2× CPU time). CPU splits ~55 % deciding
(JSON parse — each line is parsed twice, once for the prefetch of stored
decisions and blobs —, the account lookup, a feature-blob snapshot per
event, malloc/free of the per-event record copies) and ~45 % in the
writer thread (event inserts with their one index ~19 %, feature
upserts ~12 %, WAL frames and checkpoint ~14 %), and the two run one
after the other. What would close the gap to 100,000 events/s: decide
group N+1 while group N commits (printing N+1 only after its own commit;
a failed commit fails the groups decided on top of it) — the halves would
overlap on two cores; snapshot the blob only for an account's last event
of the group; parse each line once; pass known lengths to the SQLite
binds (strlen is ~5 %); beyond that, shard accounts over several
database files or PostgreSQL (requirement S12). The disk itself does
~137 MB/s with fdatasync (dd); a durable event costs ~620 bytes in
`events`, written twice (WAL, then checkpoint), so the disk alone would
allow ~100,000 events/s.
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
