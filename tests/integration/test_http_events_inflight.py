"""An event sent again while its first send is still being written (two
requests at once, decided in two batches or one) gets the first send's
decision as it was stored — also when the write turned that decision into
something else (the breaker's hold) — never a copy taken before the write,
and never before the first send is durable.

kagid runs with the breaker's hard cap at 3 locks, so that the orders of a
gift-card ring lock 3 accounts and are held from the 4th on: the moment a
pair of sends straddles decides which answer a stale copy would give. Each
order is sent 4 times at once; all answers and a later retry must agree."""
import datetime
import threading

import kagitest as kt
from kagitest import check

ACCOUNTS = 24
SENDS = 4


def now_ts():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def order(acc, eid):
    addr, card = acc["address"], dict(acc["cards"][0])
    return {"id": eid, "type": "order", "account": acc["id"], "ts": now_ts(), "order_id": eid,
            "amount": 120000, "currency": "JPY",
            "items": [{"sku": "gc", "category": "gift_card", "price": 60000, "qty": 2}],
            "shipping_address": addr, "billing_address": addr, "card": card, "seller_ids": []}


def same(a, b):
    keep = ("action", "lock", "breaker")
    return {k: a.get(k) for k in keep} == {k: b.get(k) for k in keep}


def test_repeats_in_flight_answer_the_stored_decision():
    env = {"KAGI_BREAKER_MAX_LOCKS": "3", "KAGI_BREAKER_WINDOW_S": "3600"}
    with kt.Kagid(threads=4, env=env).managed() as k:
        k.start()
        svc = k.key("service")
        accs = []
        for i in range(ACCOUNTS):
            acc = kt.demo_account(300 + i, id=f"ring-{i}", email=f"ring-{i}@example.jp")
            check(k.post("/v1/accounts", acc, key=svc).status == 201, "account created")
            accs.append(acc)
        actions = {}
        for acc in accs:
            body = order(acc, f"ord-{acc['id']}")
            answers, lock = [], threading.Lock()

            def send():
                r = k.post("/v1/events", body, key=svc, timeout=60)
                with lock:
                    answers.append(r)
            ts = [threading.Thread(target=send) for _ in range(SENDS)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            ok = [r.json for r in answers if r.status == 200]
            check(all(r.status in (200, 503) for r in answers), "each send 200 or 503 busy",
                  [(r.status, r.body[:200]) for r in answers])
            check(ok, f"{body['id']}: a send was answered")
            later = k.post("/v1/events", body, key=svc)
            check(later.status == 200, "the retry afterwards is answered", later)
            for a in ok:
                check(same(a, later.json), f"{body['id']}: every answer is the stored decision",
                      (a, later.json))
            actions[body["id"]] = later.json["action"]
        locked = [e for e, a in actions.items() if a == "lock"]
        held = [e for e, a in actions.items() if a == "hold"]
        check(len(locked) == 3, f"the cap let 3 locks through: {locked}")
        check(len(held) == ACCOUNTS - 3, f"the rest are held: {len(held)}")


if __name__ == "__main__":
    kt.main([test_repeats_in_flight_answer_the_stored_decision])
