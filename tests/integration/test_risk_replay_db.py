#!/usr/bin/env python3
"""Durable replay: `kagi replay --db` writes events, decisions and feature
state; a second process on the same file (a restart) continues the windows
exactly: half + half decides like the whole stream in memory. Replaying
again returns the stored decisions and counts nothing twice."""
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


with tempfile.TemporaryDirectory() as tmp:
    ev = os.path.join(tmp, "events.ndjson")
    p = subprocess.run([KAGI, "simulate", "--accounts", "300", "--days", "10", "--seed", "7",
                        "--out", ev], capture_output=True, text=True, timeout=600)
    check(p.returncode == 0, f"simulate: {p.stderr}")
    lines = open(ev).read().splitlines()
    # brute-force bursts that straddle the restart, so windows must survive it
    extra = [json.dumps({"id": f"bf{i}", "type": "login", "account": "acc_bf",
                         "ts": f"2026-10-05T10:{i:02d}:00Z", "success": False,
                         "ip": "203.0.113.5", "device_id": "x"}) for i in range(12)]
    half = len(lines) // 2
    lines = lines[:half] + extra[:6] + lines[half:] + extra[6:]
    half += 6
    open(ev, "w").write("\n".join(lines) + "\n")
    a, b = os.path.join(tmp, "a.ndjson"), os.path.join(tmp, "b.ndjson")
    open(a, "w").write("\n".join(lines[:half]) + "\n")
    open(b, "w").write("\n".join(lines[half:]) + "\n")

    whole = replay(ev)
    db = os.path.join(tmp, "kagi.db")
    first = replay(a, db, batch=50)
    second = replay(b, db, batch=64)
    check(len(whole) == len(lines), f"one decision per line: {len(whole)} vs {len(lines)}")
    durable = first + second
    # with a store, a lock that stands is named again instead of written
    # again, so only lock ids may differ from the in-memory pass
    check(kt.without_lock_ids(durable) == kt.without_lock_ids(whole),
          "restart between the halves decides like one pass")
    acts = [json.loads(x)["action"] for x in whole if json.loads(x).get("account") == "acc_bf"]
    check(acts == ["allow"] * 4 + ["challenge"] * 5 + ["lock"] * 3, f"acc_bf: {acts}")
    locks_before = None
    with sqlite3.connect(db) as c:
        n_events = c.execute("select count(*) from events").fetchone()[0]
        locks_before = c.execute("select count(*) from locks").fetchone()[0]
        n_audit = c.execute("select count(*) from audit where action='lock'").fetchone()[0]
        bf = c.execute("select reason, expires_ms is not null and expires_ms > 0 from locks "
                       "where account_id='acc_bf'").fetchall()
    check(n_events == len(lines), f"events stored: {n_events}")
    lock_ids = {(json.loads(x)["account"], json.loads(x)["lock"]["id"]) for x in durable
                if json.loads(x).get("action") == "lock"}
    check(locks_before == len(lock_ids) and n_audit == len(lock_ids),
          f"a lock row and an audit entry per lock named: {locks_before} {n_audit} {len(lock_ids)}")
    bf_ids = {json.loads(x)["lock"]["id"] for x in durable
              if json.loads(x).get("account") == "acc_bf" and json.loads(x)["action"] == "lock"}
    check(len(bf_ids) == 1, f"three lock decisions of acc_bf name one lock: {bf_ids}")
    check(bf and all(r == ("brute_force", 1) for r in bf), f"brute_force locks expire: {bf}")

    again = replay(ev, db)
    check(again == durable, "a replay of stored events returns the stored decisions")
    with sqlite3.connect(db) as c:
        check(c.execute("select count(*) from events").fetchone()[0] == len(lines), "no new events")
        check(c.execute("select count(*) from locks").fetchone()[0] == locks_before, "no new locks")

# named lists in the store: `list NAME from store`, edited with `kagi lists`
with tempfile.TemporaryDirectory() as tmp:
    db = os.path.join(tmp, "lists.db")
    pol = os.path.join(tmp, "lists.rules")
    open(pol, "w").write('list blocked_ips from store\n'
                         'rule blocked_ip on login { when ip in blocked_ips lock manual }\n')
    for args in (["add", "--db", db, "blocked_ips", "203.0.113.66", "198.51.100.1"],
                 ["remove", "--db", db, "blocked_ips", "198.51.100.1"]):
        p = subprocess.run([KAGI, "lists", *args], capture_output=True, text=True, timeout=60)
        check(p.returncode == 0, f"kagi lists {args[0]}: {p.stderr}")
    p = subprocess.run([KAGI, "lists", "show", "--db", db, "blocked_ips"], capture_output=True,
                       text=True, timeout=60)
    check(p.stdout.split() == ["203.0.113.66"], f"kagi lists show: {p.stdout!r} {p.stderr}")
    evs = os.path.join(tmp, "ev.ndjson")
    open(evs, "w").write("\n".join(json.dumps(
        {"id": f"l{i}", "type": "login", "account": "a", "ts": "2026-03-01T10:00:00Z",
         "success": True, "ip": ip, "device_id": "d"})
        for i, ip in enumerate(["203.0.113.66", "198.51.100.1", "203.0.113.67"])) + "\n")
    p = subprocess.run([KAGI, "replay", "--db", db, "--policy", pol, evs], capture_output=True,
                       text=True, timeout=60)
    acts = [json.loads(x)["action"] for x in p.stdout.splitlines()]
    check(acts == ["lock", "allow", "allow"], f"store list membership: {acts} {p.stderr}")
    p = subprocess.run([KAGI, "replay", "--policy", pol, evs], capture_output=True, text=True,
                       timeout=60)
    acts = [json.loads(x)["action"] for x in p.stdout.splitlines()]
    check(acts == ["allow"] * 3, f"without a store the store list is empty: {acts}")

if failures:
    sys.exit(1)
print("ok")
