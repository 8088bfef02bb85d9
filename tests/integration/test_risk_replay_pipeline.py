#!/usr/bin/env python3
"""Durable replay decides batch N+1 while batch N commits. When a commit
fails (KG_STORE_FAULT=full:N / ioerr:N: the Nth write to the database files
and every one after fail) the replay stops with an error, and: exactly the
batches whose commit succeeded were printed, and exactly their events are
stored (the batch decided on top of the failed one is neither printed nor
written); the database passes integrity_check; replaying the whole stream
afterwards returns the stored decisions for those and decides the rest, so
the two runs together decide like one pass in memory (windows intact)."""
import json
import os
import sqlite3
import subprocess
import sys
import tempfile

import kagitest as kt

KAGI = os.environ["KAGI_BIN"]
BATCH = 150
failures = kt.failures  # the test's failed expectations
check = kt.expect


def edges(total):
    """Where the batches of a durable replay end: the first three are an
    eighth, a quarter and a half of BATCH (docs/rules.md), then whole ones."""
    out, at = [], 0
    for k in range(3, 0, -1):
        at += max(1, BATCH >> k)
        out.append(at)
    while at < total:
        at += BATCH
        out.append(at)
    return out


def run(path, db=None, env=None):
    p = kt.replay(path, db, BATCH if db else None, env)
    return p.returncode, p.stdout.splitlines(), p.stderr


with tempfile.TemporaryDirectory() as tmp:
    ev = os.path.join(tmp, "events.ndjson")
    p = subprocess.run([KAGI, "simulate", "--accounts", "200", "--days", "10", "--seed", "5",
                        "--out", ev], capture_output=True, text=True, timeout=600)
    check(p.returncode == 0, f"simulate: {p.stderr}")
    lines = open(ev).read().splitlines()
    # brute force across batch edges: windows must carry over exactly
    burst = [json.dumps({"id": f"bf{i}", "type": "login", "account": "acc_bf",
                         "ts": f"2026-10-05T10:{i:02d}:00Z", "success": False,
                         "ip": "203.0.113.5", "device_id": "x"}) for i in range(12)]
    at = edges(len(lines) + len(burst))
    check(len(at) >= 8, f"the stream spans the ramp and whole batches: {len(at)} batches")
    for i, b in enumerate(burst):  # the last ones at the end, past the last edge
        lines.insert(at[i] - 1 if i < len(at) else len(lines), b)
    open(ev, "w").write("\n".join(lines) + "\n")
    rc, whole, err = run(ev)
    check(rc == 0 and len(whole) == len(lines), f"in memory: {rc} {len(whole)} {err}")
    ids = [json.loads(x)["id"] for x in lines]

    tripped = 0
    for spec in ("full:1", "full:30", "ioerr:90", "full:200", "ioerr:400"):
        db = os.path.join(tmp, spec.replace(":", "-") + ".db")
        rc, first, err = run(ev, db, {"KG_STORE_FAULT": spec})
        with sqlite3.connect(db) as c:
            stored = [r[0] for r in c.execute("select event_id from events")]
            integ = c.execute("pragma integrity_check").fetchone()[0]
            feats = c.execute("select count(*) from features").fetchone()[0]
        check(integ == "ok", f"{spec}: integrity_check: {integ}")
        if rc == 0:
            check(len(first) == len(lines), f"{spec}: no fault tripped yet all printed")
            continue
        tripped += 1
        check(err.strip(), f"{spec}: the error is reported")
        check(len(first) in [0] + edges(len(lines)),
              f"{spec}: only whole batches printed: {len(first)}")
        check(sorted(stored) == sorted(ids[:len(first)]),
              f"{spec}: stored exactly the printed batches: {len(stored)} vs {len(first)}")
        check(kt.without_lock_ids(first) == kt.without_lock_ids(whole[:len(first)]),
              f"{spec}: printed decisions are those of one pass")
        check((feats == 0) == (len(first) == 0), f"{spec}: feature rows with the events")
        rc, second, err = run(ev, db)
        check(rc == 0, f"{spec}: replay after the failure: {err}")
        check(second[:len(first)] == first, f"{spec}: stored decisions come back")
        check(kt.without_lock_ids(second) == kt.without_lock_ids(whole),
              f"{spec}: failed run + rerun decide like one pass")
        with sqlite3.connect(db) as c:
            n = c.execute("select count(*) from events").fetchone()[0]
        check(n == len(lines), f"{spec}: every event stored once: {n}")
    check(tripped >= 3, f"faults tripped mid-stream in {tripped} runs")

if failures:
    sys.exit(1)
print("ok")
