#!/usr/bin/env bash
# Risk engine benchmark (issue 3): `kagi replay` of a `kagi simulate` stream
# through policy/default.rules — in memory on one core (JSON parsing
# included; throughput, p50/p99 decision latency, feature bytes per account)
# and durable into SQLite with group commit. Writes docs/BENCHMARKS.md
# section `risk`. Usage: bench/risk_replay.sh [BUILD_DIR] (default build/release)
# Env: ACCOUNTS (100000) DAYS (30) SEED (1) RUNS (5 in-memory runs) DB_RUNS (3
# durable runs) BATCH (100000 events per transaction in the durable run).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build/release}
KAGI=$BUILD/kagi
ACCOUNTS=${ACCOUNTS:-100000}
DAYS=${DAYS:-30}
SEED=${SEED:-1}
RUNS=${RUNS:-5}
BATCH=${BATCH:-100000}
DB_RUNS=${DB_RUNS:-3}
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
for i in $(seq "$DB_RUNS"); do
	echo "durable replay $i/$DB_RUNS (batch $BATCH)" >&2
	rm -f "$OUT"/bench.db*
	/usr/bin/time -f '{"user":%U,"sys":%S,"wall":%e,"maxrss_kb":%M}' -o "$OUT/db$i.time" \
		"$KAGI" replay --db "$OUT/bench.db" --batch "$BATCH" --quiet --stats --policy "$POLICY" \
		"$EV" 2>"$OUT/db$i.json"
	DBSIZE=$(du -b "$OUT"/bench.db* | awk '{s+=$1} END {print s}')
	rm -f "$OUT"/bench.db*
done

python3 - "$OUT" "$RUNS" "$DB_RUNS" "$ACCOUNTS" "$DAYS" "$SEED" "$BATCH" "$DBSIZE" \
	"$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')" \
	"$(git rev-parse --short HEAD)" "$(cat /proc/loadavg | cut -d' ' -f1-3)" <<'PY'
import json, re, statistics, sys, datetime
out, runs, db_runs, acc, days, seed, batch, dbsize, machine, commit, load = sys.argv[1:]
runs, db_runs = int(runs), int(db_runs)
def last_json(path):
    lines = [l for l in open(path) if l.startswith("{")]
    return json.loads(lines[-1])
mem = [last_json(f"{out}/mem{i}.json") for i in range(1, runs + 1)]
memt = [json.load(open(f"{out}/mem{i}.time")) for i in range(1, runs + 1)]
dbs = [last_json(f"{out}/db{i}.json") for i in range(1, db_runs + 1)]
db_rate = statistics.median(d["events_per_s"] for d in dbs)
db_cpu_rate = statistics.median(d["events_per_cpu_s"] for d in dbs)
db_lo, db_hi = min(d["events_per_s"] for d in dbs), max(d["events_per_s"] for d in dbs)
ev = mem[0]["events"]
wall_rate = statistics.median(m["events_per_s"] for m in mem)
cpu_rate = statistics.median(ev / (t["user"] + t["sys"]) for t in memt)
best = max(m["events_per_s"] for m in mem)
p50 = statistics.median(m["latency_us"]["p50"] for m in mem)
p99 = statistics.median(m["latency_us"]["p99"] for m in mem)
p999 = statistics.median(m["latency_us"]["p999"] for m in mem)
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
| decision latency (read + parse + features + rules + decision JSON) | p50 {p50:.2f} µs, p99 {p99:.2f} µs, p99.9 {p999:.1f} µs | p99 ≤ 20 µs |
| durable replay into SQLite, group commit, {int(batch):,} events per transaction (median of {db_runs}, wall) | {db_rate:,.0f} events/s (range {db_lo:,.0f}–{db_hi:,.0f}; {db_cpu_rate:,.0f} per CPU-second) | ≥ 100,000 |
| feature state per account, in memory | {mem[0]['feature_mem_bytes_per_account']:,.0f} bytes | |
| feature state per account, stored blob | {mem[0]['feature_blob_bytes_per_account']:,.0f} bytes | |
| SQLite file after the durable run (events + decisions + features + locks + audit) | {int(dbsize)/1e6:,.0f} MB | |
| peak RSS, in-memory replay | {memt[0]['maxrss_kb']/1024:,.0f} MiB | |

Command: `bash bench/risk_replay.sh` (RUNS={runs} DB_RUNS={db_runs} BATCH={batch}).

**How the figures were reached** (session of 2026-11-28/29; at its start, same
stream: in memory ~400k events/s, durable ~38k events/s).
In memory: (1) the event parser does one walk over jsmn's tokens (parent links)
that checks the grammar and notes where each value ends; the old separate
passes run only to word an error, and a whole-text scan for plain text (SSE2,
else 8 bytes at a time) spares most per-string checks: ~21,300 → ~11,000
instructions per event (section `event-parse`); (2) all of an account's
windows, sets and records lie in one block (one allocation instead of up to
22; 1,560 → 1,068 bytes per account), each vector with its own capacity in
the block, so adding to one moves only its own elements (an account with
thousands of events stays O(1) per event: section `risk-hot-account`); (3) the input is read in 256 KiB blocks split in
place, and while one event is decided the accounts of the next lines are
warmed (table slot, record, block; a line apart each); (4) an event needs
three hashes instead of five, and the ids an account has seen keep their
first hashes in an array of their own (indexed by open addressing once there
are more than 32). Last-level cache misses −39 %.
Durable: (1) replay decides group N+1 while group N commits and prints N+1
only after its own commit (a failed commit of N fails N+1 unwritten and drops
the cached state of its accounts; tests/integration/test_risk_replay_pipeline.py
and the store's queued-after-failure tests); (2) each line is parsed once,
its stored decision and its account's blob read in the same read transaction;
(3) an account's blob is taken once per group, after its last event; (4) no
per-event copies (a batch arena); (5) store: new databases use 16 KiB pages,
`features` is a WITHOUT ROWID table (migration 3), a job alone in its group
runs without a savepoint (SQLite copied every changed page into a statement
journal) and SQLite's memory statistics are off (a global mutex around every
allocation). Decisions and stored rows are byte-identical to before.

**Where the time goes now.** In memory (`perf`, 1.1M events): event parsing
~30 % (jsmn's own byte loop is ~60 % of that: ~12 instructions per byte of
string), hashing ~4 %, warming ~4 %, rule evaluation ~3.5 %, copies and
malloc/free ~6–10 %, page faults of the growing state; the rest spread thin.
Durable: CPU-bound with two threads about balanced — deciding (~24k
instructions per event: parsing ~45 %, the blob save ~15 %, decide and
rules ~17 %, stored-decision and blob lookups ~12 %) and the store's writer
(~23k per event: event inserts ~72 % — three B-trees per row: the table, the
(account_id, event_id) key that makes a retry count once, and `events_ts`
for back-tests —, feature upserts ~24 %). On this 2-core machine the durable
wall rate is near CPU/2 only when the other core is free: the same binary
measured 50k–196k events/s across sittings, which is why both wall and
per-CPU-second figures are given. Next levers if needed: a single-pass blob
save, a bounded record of ids committed by this process (to skip the
stored-decision lookup), checkpoints on their own thread.

**The body hash** (an event id sent again with another body answers 409;
`events.body_hash`, schema migration 4). Instructions per event under
callgrind, which repeats to the instruction on this noisy machine:
`valgrind --tool=callgrind kagi replay --quiet` of `kagi simulate
--accounts 20000 --days 30 --seed 1` (222,941 events; every binary's
decisions byte-identical), release builds (RelWithDebInfo):

| binary | instructions per event |
|---|---|
| b674c3c (before issue 10's risk work) | 16,983 |
| 0bc2b46 (just before the body hash) | 18,303 |
| db1b45b (the hash of a canonical form: keys sorted into a buffer, strings decoded, then hashed) | 24,009 |
| the hash of the members, summed per object (now) | 19,987 |

The hash went from ~5,700 to ~1,680 instructions per event: no sort, no
copy of the body; a member holding a string or number is hashed as its own
text where it lies (a 64x64→128 multiply per 16 bytes), an object adds its
members' hashes (a sum does not depend on their order). What is left is
per member, ~15 per event at ~65 instructions: reading its tokens again,
its lengths, the final mix. It is still 9.2 % over 0bc2b46 and 17.7 % over
b674c3c (85 % of its events per instruction), outside the budget (within
5 % of before, 90 % of b674c3c); the next lever is to hash in the parser's
own walk over the tokens, which reads them already.

Latency is measured from the end of one event's decision to the end of the
next (so it includes reading the line and warming the next accounts); p99.9
and max are scheduling noise of the shared machine.
<!-- /bench:risk -->"""
sys.path.insert(0, "bench")
import section
section.write_block(sec)
print(sec)
PY
