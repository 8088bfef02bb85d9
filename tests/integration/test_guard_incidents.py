"""Incidents' counts and spans (docs/guard.md "Incidents and the revert").

two_waves: one rule (amount_cap of tests/data/guard/amount_cap.rules) trips
twice, with an admin's reset between: the re-trip opens a second incident
from its own onset, the first keeps its locks (the spans do not overlap);
the list carries each incident's locks and holds; the detail counts its
holds as open, released and confirmed (`holds` is all of them); reverting
the second lifts only its locks and releases only its holds, then the first
is reverted alone.

Replays hand-made order events (kagi replay --db); the SQLite file
underneath is read for the lock rows."""
import json
import os
import sqlite3
import tempfile

import kagitest as kt

T0 = 1790812800000  # 2026-10-01T00:00:00Z


def iso(ms):
    from datetime import datetime, timezone
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


ADDR = {"postal_code": "150-0001", "region": "東京都", "city": "渋谷区", "line1": "神宮前1-2-3",
        "country": "JP"}


def orders(path, start_n, minute, count, amount=2000000, second=0):
    """count orders of count accounts in one minute (from second on), each
    over the cap."""
    with open(path, "w") as f:
        for i in range(count):
            n = start_n + i
            f.write(json.dumps({
                "id": f"evt_w{n:05d}", "type": "order", "account": f"acc_w{n:05d}",
                "ts": iso(T0 + minute * 60000 + (second + i) * 1000), "order_id": f"ord_{n}",
                "amount": amount, "currency": "JPY",
                "items": [{"sku": "HO-1", "category": "home", "price": amount, "qty": 1}],
                "shipping_address": ADDR, "billing_address": ADDR,
                "card": {"holder_name": "TARO YAMADA", "last4": "4242", "exp": "09/29",
                         "fingerprint": f"fp_{n:016x}"}, "seller_ids": ["slr_00001"]}) + "\n")


def incidents(db):
    return {i["id"]: i for i in json.loads(kt.kagi("incidents", "list", "--db", db).stdout)}


def show(db, inc):
    return json.loads(kt.kagi("incidents", "show", "--db", db, inc).stdout)


def lock_states(db):
    with sqlite3.connect(db) as c:
        return dict(c.execute("SELECT account_id, state FROM locks"))


def test_two_waves():
    policy = kt.data_path("guard", "amount_cap.rules")
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "k.db")
        f0, f1, f2 = (os.path.join(tmp, f"w{i}.jsonl") for i in range(3))
        orders(f0, 0, 0, 1)        # the store's first automatic lock: the warm-up hour
        orders(f1, 100, 120, 10)   # wave 1: the 6th lock of the minute trips, 4 held
        orders(f2, 200, 240, 10)   # wave 2, after a reset: the same again
        for f in (f0, f1):
            kt.kagi("replay", "--db", db, "--quiet", "--policy", policy, f)
        first = list(incidents(db).values())
        kt.check(len(first) == 1, "wave 1 trips", first)
        a = first[0]
        kt.check(a["locks"] == 6 and a["holds"] == 4 and a["holds_open"] == 4,
                 "the list carries the counts", a)
        out = kt.kagi("guard", "reset", "--db", db, "--reason", "looked: fix in the feed",
                      check_rc=False)
        kt.check(out.returncode == 0, "reset", out.stderr)
        kt.kagi("replay", "--db", db, "--quiet", "--policy", policy, f2)
        incs = incidents(db)
        kt.check(len(incs) == 2, "the re-trip opens a second incident", incs)
        b = next(i for i in incs.values() if i["id"] != a["id"])
        a = incs[a["id"]]
        kt.check(b["rules"] == ["amount_cap"] == a["rules"], "both of one rule", incs)
        kt.check(b["onset"] > a["tripped_at"], "the second starts after the first's trip", incs)
        kt.check(a["locks"] == 6 and b["locks"] == 6, "no overlap: each keeps its own locks",
                 (a["locks"], b["locks"]))
        kt.check(b["holds"] == 4 and b["holds_open"] == 4, "the second's holds", b)
        da, db_ = show(db, a["id"]), show(db, b["id"])
        kt.check(set(da["affected_accounts"]) == {f"acc_w{n:05d}" for n in range(100, 106)},
                 "the first's accounts", da["affected_accounts"])
        kt.check(set(db_["affected_accounts"]) == {f"acc_w{n:05d}" for n in range(200, 206)},
                 "the second's accounts", db_["affected_accounts"])
        dry = json.loads(kt.kagi("incidents", "revert", "--db", db, b["id"], "--dry-run").stdout)
        kt.check(dry["count"] == 6, "the dry run lists the second's locks only", dry)

        r = json.loads(kt.kagi("incidents", "revert", "--db", db, b["id"], "--reason",
                               "feed fixed", "--quiet").stdout)
        kt.check(r["unlocked"] == 6 and r["holds_released"] == 4, "the second reverted", r)
        st = lock_states(db)
        kt.check(all(st[f"acc_w{n:05d}"] == "lifted" for n in range(200, 206)),
                 "its locks lifted", st)
        kt.check(all(st[f"acc_w{n:05d}"] == "active" for n in range(100, 106)) and
                 st["acc_w00000"] == "active", "the first's locks and the one before stay", st)
        da, db_ = show(db, a["id"]), show(db, b["id"])
        kt.check(db_["holds"] == 4 and db_["holds_open"] == 0 and db_["holds_released"] == 4 and
                 db_["holds_confirmed"] == 0, "released holds are counted apart", db_)
        kt.check(da["state"] == "open" and da["locks"] == 6 and da["holds_open"] == 4 and
                 da["holds_released"] == 0, "the first untouched", da)

        r = json.loads(kt.kagi("incidents", "revert", "--db", db, a["id"], "--reason",
                               "feed fixed", "--quiet").stdout)
        kt.check(r["unlocked"] == 6 and r["already"] == 0 and r["holds_released"] == 4,
                 "the first reverted alone", r)
        st = lock_states(db)
        kt.check(all(st[f"acc_w{n:05d}"] == "lifted" for n in range(100, 106)) and
                 st["acc_w00000"] == "active", "its locks lifted, the one before it stays", st)
        kt.check(kt.kagi("audit", "verify", "--db", db, check_rc=False).returncode == 0,
                 "audit chains intact")


def test_same_minute():
    """A re-trip in the very minute of the first trip: the second incident
    starts just after the first's trip, not at the minute's start."""
    policy = kt.data_path("guard", "amount_cap.rules")
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "k.db")
        f0, f1, f2 = (os.path.join(tmp, f"w{i}.jsonl") for i in range(3))
        orders(f0, 0, 0, 1)
        orders(f1, 100, 120, 10)
        orders(f2, 200, 120, 10, second=30)
        for f in (f0, f1):
            kt.kagi("replay", "--db", db, "--quiet", "--policy", policy, f)
        kt.kagi("guard", "reset", "--db", db, "--reason", "looked")
        kt.kagi("replay", "--db", db, "--quiet", "--policy", policy, f2)
        incs = sorted(incidents(db).values(), key=lambda i: i["tripped_at"])
        kt.check(len(incs) == 2, "two incidents", incs)
        a, b = incs
        kt.check(b["onset"] > a["tripped_at"], "the second starts after the first's trip", incs)
        kt.check(a["locks"] == 6 and b["locks"] == 6, "each keeps its own locks", incs)
        dry = json.loads(kt.kagi("incidents", "revert", "--db", db, a["id"], "--dry-run").stdout)
        kt.check(dry["count"] == 6, "the first's revert would lift its six only", dry)


if __name__ == "__main__":
    kt.main([test_two_waves, test_same_minute])
