#!/usr/bin/env python3
"""Durable replay with batches of at least 1,024 lines: the engine keeps a
freed batch (its arrays, buffers, arena chunks) for the next one
(src/risk/batch.c, BATCH_KEEP_MIN), and replay rewinds its per-batch arena.
A kept batch must decide and write as a new one: a stream of six batches of
1,024 lines — with retries of events of earlier batches, an event repeated
inside one batch, a retry with another body (refused), a malformed line and
a brute force across batch edges — prints the same decisions and stores the
same rows as batches of 1,000 (below the bound: each batch made anew), and
decides like one pass in memory."""
import json
import os
import sqlite3
import subprocess
import sys
import tempfile

import kagitest as kt

KAGI = os.environ["KAGI_BIN"]
failures = kt.failures  # the test's failed expectations
check = kt.expect


replay = kt.replay_lines


def rows(db):
    with sqlite3.connect(db) as c:
        return {
            "events": c.execute("select account_id, event_id, type, ts_ms, body, decision, "
                                "hex(body_hash) from events order by account_id, event_id")
            .fetchall(),
            "features": c.execute("select account_id, hex(state) from features "
                                  "order by account_id").fetchall(),
            "entities": c.execute("select kind, key, hex(state) from entity_features "
                                  "order by kind, key").fetchall(),
            "locks": c.execute("select account_id, lock_id, reason, state from locks "
                               "order by account_id, lock_id").fetchall(),
        }


with tempfile.TemporaryDirectory() as tmp:
    ev = os.path.join(tmp, "events.ndjson")
    p = subprocess.run([KAGI, "simulate", "--accounts", "1400", "--days", "10", "--seed", "11",
                        "--out", ev], capture_output=True, text=True, timeout=600)
    check(p.returncode == 0, f"simulate: {p.stderr}")
    lines = open(ev).read().splitlines()[:6 * 1024 - 40]
    check(len(lines) == 6 * 1024 - 40, f"a stream of six batches: {len(lines)} lines")
    # retries of events of earlier batches (their stored decisions answer),
    # one repeated in its own batch, one with another body (a conflict)
    for at, src in ((1500, 10), (2600, 1400), (3100, 3099), (4200, 20), (5000, 4990)):
        lines.insert(at, lines[src])
    changed = json.loads(lines[30])
    changed["ts"] = "2026-10-09T00:00:00Z"
    lines.insert(3500, json.dumps(changed))
    lines.insert(2100, "{not json")
    burst = [json.dumps({"id": f"bf{i}", "type": "login", "account": "acc_bf",
                         "ts": f"2026-10-05T10:{i:02d}:00Z", "success": False,
                         "ip": "203.0.113.5", "device_id": "x"}) for i in range(12)]
    for i, b in enumerate(burst):  # in order, three across each of four batch edges
        lines.insert(1024 * (1 + i // 3) - 1 + i % 3, b)
    open(ev, "w").write("\n".join(lines) + "\n")

    whole = replay(ev)
    kept_db, fresh_db = os.path.join(tmp, "kept.db"), os.path.join(tmp, "fresh.db")
    kept = replay(ev, kept_db, batch=1024)
    fresh = replay(ev, fresh_db, batch=1000)
    check(len(kept) == len(lines), f"one answer per line: {len(kept)} vs {len(lines)}")
    check(kept == fresh, "kept batches (1,024 lines) print what new ones (1,000) do")
    check(kt.without_lock_ids(kept) == kt.without_lock_ids(whole),
          "kept batches decide like one pass in memory")
    rk, rf = rows(kept_db), rows(fresh_db)
    for table in rk:
        check(rk[table] == rf[table], f"{table}: the same rows with kept batches")
    check(len(rk["events"]) == len(lines) - 5 - 1 - 1,
          f"every new event stored once: {len(rk['events'])}")
    codes = [json.loads(x)["error"]["code"] for x in kept if '"error"' in x[:10]]
    check(codes == ["invalid", "conflict"],
          f"the malformed line and the retry with another body are refused: {codes}")
    acts = [json.loads(x)["action"] for x in kept
            if x.startswith("{") and json.loads(x).get("account") == "acc_bf"]
    check(acts == ["allow"] * 4 + ["challenge"] * 5 + ["lock"] * 3, f"acc_bf: {acts}")

if failures:
    sys.exit(1)
print("ok")
