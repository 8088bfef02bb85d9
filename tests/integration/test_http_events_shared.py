"""POST /v1/events, many at once (docs/operations.md "Load", "Durable
decisions"): the decision workers take the events waiting as one batch with
one group commit, and every answer is still exactly what one event alone
would get:

- events with new ids: 200 with their decision, each stored once;
- a retry sent at the same time as its first copy (maybe in the same batch):
  both 200 with the same decision, stored once;
- the same id with a different body at the same time: one 200, one 409
  conflict, the first body stored;
- a bad event among them: 400 naming its field, the others unharmed;
- a lock-asking event sent five times at once: one lock, one notice in the
  message center, all five answers naming that lock;
- /metrics: the decision pool ran every one of them (done_total), in no more
  takes than events (batches_total), and refused none;
- with the lock-wave breaker tripped by a burst of locks: an order sent twice
  at once gets the decision that was written (a hold of the breaker's
  incident, not the lock the breaker stopped) in both answers.
Nothing asserts a time or how the events fell into batches."""
import datetime
import json
import threading

import kagitest as kt
from kagitest import check


def login(i, ip="10.0.0.1"):
    return {"id": f"e-{i}", "type": "login", "account": f"acc-{i % 12}",
            "ts": "2026-11-29T00:00:00Z", "success": True, "ip": ip, "device_id": f"d-{i}"}


def gift_cards(acc):
    addr, card = acc["address"], dict(acc["cards"][0])
    ts = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"id": "ord-big", "type": "order", "account": acc["id"], "ts": ts, "order_id": "o-1",
            "amount": 120000, "currency": "JPY",
            "items": [{"sku": "gc", "category": "gift_card", "price": 60000, "qty": 2}],
            "shipping_address": addr, "billing_address": addr, "card": card, "seller_ids": []}


def test_many_at_once():
    with kt.Kagid(env={"KAGI_HTTP_DECISION_WORKERS": "1"}) as k:
        svc, agent = k.key("service"), k.key("agent")
        acc = kt.demo_account(100, id="buyer-1")
        r = k.post("/v1/accounts", acc, key=svc)
        check(r.status == 201, "account created", r)
        sends = []  # (tag, body)
        for i in range(60):
            sends.append((("new", i), login(i)))
        for i in range(30):  # a second copy of e-0..e-29, same body
            sends.append((("retry", i), login(i)))
        for i in range(30, 45):  # e-30..e-44 again, another body
            sends.append((("conflict", i), login(i, ip="192.0.2.9")))
        bad = login(999)
        del bad["account"]
        sends.append((("bad", 0), bad))
        for j in range(5):
            sends.append((("lock", j), gift_cards(acc)))
        answers = {}
        barrier = threading.Barrier(len(sends))

        def send(tag, body):
            barrier.wait(60)
            answers[tag] = k.post("/v1/events", body, key=svc, timeout=120)

        ts = [threading.Thread(target=send, args=s) for s in sends]
        for t in ts:
            t.start()
        for t in ts:
            t.join(180)
        check(len(answers) == len(sends), "every request answered", len(answers))

        for i in range(60):
            r = answers[("new", i)]
            if 30 <= i < 45:  # raced by its conflicting copy: one of the two wins
                other = answers[("conflict", i)]
                check(sorted([r.status, other.status]) == [200, 409],
                      f"e-{i} and its other body: one 200, one 409", (r, other))
                loser = r if r.status == 409 else other
                check(loser.json["error"]["code"] == "conflict", "409 conflict", loser)
                continue
            check(r.status == 200 and r.json["event"] == f"e-{i}", f"e-{i} decided", r)
        for i in range(30):
            a, b = answers[("new", i)], answers[("retry", i)]
            check(b.status == 200, f"retry of e-{i}: 200", b)
            for key in ("event", "account", "action", "score"):
                check(a.json[key] == b.json[key], f"retry of e-{i}: the same decision ({key})", (a, b))
        r = answers[("bad", 0)]
        check(r.status == 400 and r.json["error"]["field"] == "account", "bad event: 400 naming account", r)
        locks = [answers[("lock", j)] for j in range(5)]
        for r in locks:
            check(r.status == 200 and r.json["action"] == "lock", "the gift-card order: lock", r)
        check(len({r.json["lock"]["id"] for r in locks}) == 1, "all five name one lock",
              [r.json.get("lock") for r in locks])

        m = k.get("/metrics").body.decode()
        metric = lambda name: float(  # noqa: E731
            [l.split()[-1] for l in m.splitlines() if l.startswith(name + '{pool="decision"} ')][0])
        done, batches = metric("kagi_http_pool_done_total"), metric("kagi_http_pool_batches_total")
        check(done == len(sends), "the decision pool ran every event", (done, len(sends)))
        check(1 <= batches <= done, "in no more takes than events", (batches, done))
        print(f"  {done:.0f} events in {batches:.0f} takes of the decision pool")
        check(metric("kagi_http_pool_refused_total") == 0, "none refused")

        # the store: each event once, the first body of a conflicting id
        pairs = k.rows("SELECT event_id, body FROM events WHERE event_id LIKE 'e-%'")
        rows = dict(pairs)
        check(sorted(e for e, _ in pairs) == sorted(f"e-{i}" for i in range(60)),
              "each event stored once", sorted(rows)[:5])
        for i in range(30, 45):
            winner = answers[("new", i)].status == 200
            ip = json.loads(rows[f"e-{i}"])["ip"]
            check(ip == ("10.0.0.1" if winner else "192.0.2.9"), f"e-{i}: the body answered 200", ip)
        n = k.rows("SELECT count(*) FROM events WHERE event_id = 'ord-big'")[0][0]
        check(n == 1, "the order stored once", n)
        n = k.rows("SELECT count(*) FROM locks WHERE account_id = 'buyer-1'")[0][0]
        check(n == 1, "one lock", n)
        r = k.get("/v1/accounts/buyer-1/messages", key=agent)
        check(r.status == 200, "message center", r)
        msgs = r.json["messages"]
        check(len(msgs) == 1, "one notice", msgs)


def test_retries_get_the_written_decision():
    # the hard cap trips the breaker a few orders in (its detectors only
    # learn during a new store's first hour of event time)
    with kt.Kagid(env={"KAGI_BREAKER_MAX_LOCKS": "5"}) as k:
        svc = k.key("service")
        accs = []
        for i in range(40):
            acc = kt.demo_account(300 + i, id=f"b-{i}", email=f"b{i}@example.jp")
            check(k.post("/v1/accounts", acc, key=svc).status == 201, "account created")
            accs.append(acc)
        held = 0
        for acc in accs:
            body = dict(gift_cards(acc), id=f"ord-{acc['id']}")
            out = [None, None]

            def send(j):
                out[j] = k.post("/v1/events", body, key=svc, timeout=120)

            ts = [threading.Thread(target=send, args=(j,)) for j in range(2)]
            for t in ts:
                t.start()
            for t in ts:
                t.join(180)
            stored = json.loads(k.rows("SELECT decision FROM events WHERE event_id = ?",
                                       body["id"])[0][0])
            for r in out:
                check(r.status == 200 and r.json["action"] == stored["action"]
                      and r.json.get("breaker") == stored.get("breaker"),
                      f"{body['id']}: both answers are the decision written", (out, stored))
            held += stored["action"] == "hold"
        check(held > 0, "the breaker tripped and held some", held)


if __name__ == "__main__":
    kt.main([test_many_at_once, test_retries_get_the_written_decision])
