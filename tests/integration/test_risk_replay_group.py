#!/usr/bin/env python3
"""Durable replay writes an account's feature blob once per group commit
(its state after its last event of the group), and the events table has no
second per-account index (migration 2). Checks: many events of one account
in one group, a retried id inside the group and a retry after a restart
decide exactly like one pass in memory and count nothing twice; the stored
blob is the last state (the restart continues the windows); a database made
before migration 2 migrates."""
import json
import os
import sqlite3
import sys
import tempfile

import kagitest as kt

failures = kt.failures  # the test's failed expectations
check = kt.expect


def replay(lines, tmp, name, db=None, batch=None):
    path = os.path.join(tmp, name)
    open(path, "w").write("\n".join(lines) + "\n")
    p = kt.replay(path, db, batch)
    check(p.returncode == 0, f"replay {name} db={db} batch={batch}: {p.stderr}")
    return p.stdout.splitlines()


def fail_login(i, account="acc_g"):
    return json.dumps({"id": f"{account}-f{i}", "type": "login", "account": account,
                       "ts": f"2026-10-05T10:00:{i:02d}Z", "success": False,
                       "ip": "203.0.113.9", "device_id": "d1"})


def other(i):
    return json.dumps({"id": f"o{i}", "type": "login", "account": f"acc_o{i % 3}",
                       "ts": f"2026-10-05T10:00:{i:02d}Z", "success": True,
                       "ip": "198.51.100.4", "device_id": "d2"})


with tempfile.TemporaryDirectory() as tmp:
    # group 1 (one commit): 7 failures of acc_g (challenge from the 5th),
    # interleaved with other accounts, and the 3rd failure sent twice
    g1 = []
    for i in range(7):
        g1 += [fail_login(i), other(i)]
        if i == 2:
            g1.append(fail_login(2))
    # group 2 after a restart: a retry of a stored event, then 5 more
    # failures (the 10th of the window locks), and another retry
    g2 = [fail_login(0)] + [fail_login(i) for i in range(7, 12)] + [fail_login(5), other(20)]

    whole = replay(g1 + g2, tmp, "all.ndjson")
    db = os.path.join(tmp, "kagi.db")
    first = replay(g1, tmp, "g1.ndjson", db, batch=1000)
    with sqlite3.connect(db) as c:
        feat = c.execute("select count(*) from features").fetchone()[0]
        ev_n = c.execute("select count(*) from events").fetchone()[0]
    check(feat == 4, f"one features row per account: {feat}")
    check(ev_n == 14, f"the id sent twice is stored once: {ev_n}")
    second = replay(g2, tmp, "g2.ndjson", db, batch=1000)
    # with a store, a lock that stands is named again instead of written
    # again, so only lock ids may differ from the in-memory pass
    check(kt.without_lock_ids(first + second) == kt.without_lock_ids(whole),
          "restart after one group decides like one pass in memory:\n"
          + "\n".join(first + second) + "\nvs\n" + "\n".join(whole))
    acts = [json.loads(x)["action"] for x in first + second
            if json.loads(x).get("account") == "acc_g"]
    check(acts == ["allow"] * 5 + ["challenge"] * 3 + ["allow"] + ["challenge"] * 2
          + ["lock"] * 3 + ["challenge"],
          f"acc_g: retries return the stored decision and count nothing: {acts}")
    with sqlite3.connect(db) as c:
        ev_n = c.execute("select count(*) from events").fetchone()[0]
        locks = c.execute("select count(*) from locks where account_id='acc_g'").fetchone()[0]
        idx = c.execute("select count(*) from sqlite_master where name='events_account_ts'"
                        ).fetchone()[0]
        ver = c.execute("select max(version) from schema_migrations").fetchone()[0]
    check(ev_n == 20, f"events stored once each: {ev_n}")
    check(locks == 1, f"one lock: {locks}")
    check(idx == 0 and ver >= 2, f"migration 2 applied: index {idx}, version {ver}")

    # a database from before migration 2 (the index there, no body_hash
    # column of migration 4, version 1) migrates; its events, stored without
    # a body hash, still answer a retry with their stored decision
    with sqlite3.connect(db) as c:
        c.execute("create index events_account_ts on events(account_id, ts_ms)")
        c.execute("alter table events drop column body_hash")
        c.execute("drop table guard_rows")  # (migration 6, the guard's)
        c.execute("delete from schema_migrations where version >= 2")
    third = replay([fail_login(0)], tmp, "g3.ndjson", db)
    check(third == [second[0]], f"stored decision after the migration: {third}")
    with sqlite3.connect(db) as c:
        idx = c.execute("select count(*) from sqlite_master where name='events_account_ts'"
                        ).fetchone()[0]
        ver = c.execute("select max(version) from schema_migrations").fetchone()[0]
    check(idx == 0 and ver >= 2, f"old database migrated: index {idx}, version {ver}")

if failures:
    sys.exit(1)
print("ok")
