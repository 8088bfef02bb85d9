"""Crash safety (S11): writers POST accounts through kagid concurrently; kagid
is SIGKILLed at a random moment; after a restart every write that was
answered 201 is there, complete, and the store is sound (kt.integrity:
PRAGMA integrity_check on SQLite; amcheck and the audit chains on
PostgreSQL, where the server itself is not killed). Five rounds on the same
store."""
import random
import threading
import time

import kagitest as kt
from kagitest import check

ROUNDS = 5
WRITERS = 6


def writer(k, key, prefix, acked, stop, errors):
    i = 0
    while not stop.is_set():
        i += 1
        acc = kt.demo_account(0, id=f"{prefix}-{i}", email=f"{prefix}-{i}@example.com")
        acc["cards"].append({"holder_name": "X", "last4": "0001", "exp": "01/30",
                             "fingerprint": f"{prefix}-{i}-b"})
        try:
            r = k.post("/v1/accounts", acc, key=key, timeout=30)
        except OSError:
            continue  # killed mid-request: no answer, no promise
        if r.status == 201:
            acked.append(acc["id"])
        else:
            errors.append(r)


def test_crash_rounds():
    rnd = random.Random()
    with kt.Kagid(threads=4).managed() as k:
        k.start()
        svc, agent = k.key("service"), k.key("agent")
        all_acked = []
        for rnd_no in range(ROUNDS):
            acked, errors, stop = [], [], threading.Event()
            ts = [threading.Thread(target=writer, args=(k, svc, f"r{rnd_no}w{w}", acked, stop, errors))
                  for w in range(WRITERS)]
            for t in ts:
                t.start()
            deadline = time.monotonic() + 120  # a slow machine: wait for the first writes
            while len(acked) < 20 and time.monotonic() < deadline and not errors:
                time.sleep(0.02)
            time.sleep(rnd.uniform(0.0, 1.5))  # then a random moment
            k.kill()
            stop.set()
            for t in ts:
                t.join(60)
            check(not errors, "writes answered with an error before the crash", errors[:3])
            check(acked, f"round {rnd_no}: some writes were acknowledged")
            all_acked += acked
            check(kt.integrity(k.db) == [("ok",)], "integrity_check after SIGKILL", kt.integrity(k.db))
            k.start()
            for n, acc_id in enumerate(all_acked):
                # (seen before: read back after an earlier restart, so a
                # loss now is of a write that had survived a crash already)
                seen = "seen after an earlier restart" if n < len(all_acked) - len(acked) else "new"
                r = k.get(f"/v1/accounts/{acc_id}", key=agent)
                check(r.status == 200, f"round {rnd_no}: acknowledged {acc_id} ({seen}) is there", r)
                check(len(r.json["cards"]) == 2, f"{acc_id} ({seen}): both cards are there", r)
            print(f"  round {rnd_no}: {len(acked)} acknowledged writes survived SIGKILL", flush=True)
        k.stop()
        check(kt.integrity(k.db) == [("ok",)], "integrity_check at the end")


if __name__ == "__main__":
    kt.main([test_crash_rounds])
