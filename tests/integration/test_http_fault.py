"""A failed write through HTTP (S11): with the store's fault injection
(KG_STORE_FAULT=full:N / ioerr:N, the Nth write to the database files and
every one after fails) POST /v1/accounts answers 507 / 503 in the error
shape, and after a restart without faults nothing of the failed request is
there (no account, no card, no audit entry), every earlier 201 is, and
PRAGMA integrity_check is ok."""
import sqlite3
from concurrent.futures import ThreadPoolExecutor

import kagitest as kt
from kagitest import check

CASES = [("full", 1, 507, "storage_full"), ("full", 25, 507, "storage_full"),
         ("full", 120, 507, "storage_full"), ("ioerr", 3, 503, "io"), ("ioerr", 60, 503, "io")]


def rows_about(db, acc_id):
    """Rows anywhere in the database that mention acc_id."""
    found = []
    with sqlite3.connect(db) as c:
        tables = [r[0] for r in c.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")]
        for t in tables:
            cols = [r[1] for r in c.execute(f'PRAGMA table_info("{t}")')]
            for col in cols:
                n = c.execute(f'SELECT count(*) FROM "{t}" WHERE CAST("{col}" AS TEXT) = ?',
                              (acc_id,)).fetchone()[0]
                if n:
                    found.append((t, col, n))
    return found


def test_failed_writes_leave_nothing():
    with kt.Kagid(threads=2).managed() as k:
        k.kagi("init", "--db", k.db)
        svc, agent = k.key("service"), k.key("agent")
        acked, n = [], 0
        for kind, nth, status, code in CASES:
            k.start(env={"KG_STORE_FAULT": f"{kind}:{nth}"})
            failed = None
            for _ in range(50):
                n += 1
                acc = kt.demo_account(n, id=f"f-{n}")
                r = k.post("/v1/accounts", acc, key=svc)
                if r.status == 201:
                    acked.append(acc["id"])
                    continue
                check(r.status == status and r.error().get("code") == code,
                      f"{kind}:{nth}: failed write answers {status} {code}", r)
                check(r.error().get("message"), "error has a message", r)
                failed = acc["id"]
                break
            check(failed, f"{kind}:{nth}: a write failed within 50 requests")
            r = k.get(f"/v1/accounts/{failed}", key=agent)
            check(r.status == 404, "the failed account is not visible", r)
            r = k.get("/healthz")
            check(r.status == 503 and r.error().get("code") == code,
                  "healthz takes the node out of rotation while writes fail", r)
            k.stop(expect_rc=None)  # the store may fail to checkpoint: no exit-code promise
            k.start()
            check(k.get("/healthz").status == 200, "healthy again without the fault")
            for acc_id in acked:
                check(k.get(f"/v1/accounts/{acc_id}", key=agent).status == 200,
                      f"acknowledged {acc_id} survived the fault")
            check(k.get(f"/v1/accounts/{failed}", key=agent).status == 404,
                  f"{failed} absent after restart")
            k.stop()
            check(rows_about(k.db, failed) == [], f"no row about {failed}", rows_about(k.db, failed))
            check(kt.integrity(k.db) == [("ok",)], "integrity")
            print(f"  {kind}:{nth}: {len(acked)} ok so far, {failed} refused with {status}")


def event(eid, device):
    return {"id": eid, "type": "login", "account": f"acc-{eid[-1]}", "ts": "2026-11-29T00:00:00Z",
            "success": True, "ip": "10.0.0.1", "device_id": device}


def test_failed_event_batches():
    """POST /v1/events from many clients at once while the store starts to
    fail (KG_STORE_FAULT=ioerr:N): the decision worker's batches, the next
    one decided on top of the one committing, fail together and are decided
    again one event at a time (which fails too). After a restart without
    faults every event answered 200 is stored (its id with another body:
    409) and no refused one is (its id takes another body: 200)."""
    with kt.Kagid(threads=4).managed() as k:
        k.kagi("init", "--db", k.db)
        svc = k.key("service")
        ok, refused = [], []
        for nth in (30, 150):
            k.start(env={"KG_STORE_FAULT": f"ioerr:{nth}"})
            ids = [f"b{nth}-{i}" for i in range(240)]
            with ThreadPoolExecutor(max_workers=48) as pool:
                answers = list(pool.map(lambda e: (e, k.post("/v1/events", event(e, "d1"), key=svc)), ids))
            for eid, r in answers:
                if r.status == 200:
                    ok.append(eid)
                else:
                    check(r.status == 503 and r.error().get("code") in ("io", "busy"),
                          f"{eid}: a failed write answers 503", r)
                    refused.append(eid)
            check(refused, f"ioerr:{nth}: some events failed")
            k.stop(expect_rc=None)
        k.start()
        for eid in ok:
            r = k.post("/v1/events", event(eid, "d2"), key=svc)
            check(r.status == 409, f"acknowledged {eid} survived the fault", r)
        for eid in refused:
            r = k.post("/v1/events", event(eid, "d2"), key=svc)
            check(r.status == 200, f"refused {eid} left nothing", r)
        k.stop()
        check(kt.integrity(k.db) == [("ok",)], "integrity")
        print(f"  {len(ok)} events acknowledged and kept, {len(refused)} refused and absent")


if __name__ == "__main__":
    kt.main([test_failed_writes_leave_nothing, test_failed_event_batches])
