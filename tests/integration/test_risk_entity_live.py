#!/usr/bin/env python3
"""Entity state through a real kagid: a stream crossing accounts (failed
logins from one IP over 35 accounts, then a success from it; one card on
orders of three accounts; gift cards from three accounts to one address)
sent in batches to POST /v1/events/batch is decided as `kagi replay`
decides it in memory, line for line; after a restart of kagid on the same
store, the IP's accounts are still counted (entity_features rows)."""
import json
import os
import sqlite3

import kagitest as kt

POLICY = os.path.join(kt.SOURCE_DIR, "policy", "default.rules")
ADDR = {"postal_code": "530-0001", "region": "Osaka", "city": "Kita", "line1": "2-2-2",
        "country": "JP"}


def ts(minute, second=0):
    return f"2026-03-01T10:{minute:02d}:{second:02d}Z"


def stream():
    ev = []
    for i in range(35):
        ev.append({"id": f"f{i}", "type": "login", "account": f"u{i}", "success": False,
                   "ip": "198.51.100.7", "device_id": f"d{i}", "ts": ts(i)})
    ev.append({"id": "ok", "type": "login", "account": "honest", "success": True,
               "ip": "198.51.100.7", "device_id": "dh", "ts": ts(40)})
    for i in range(3):
        ev.append({"id": f"o{i}", "type": "order", "account": f"c{i}", "order_id": f"o{i}",
                   "amount": 1000, "currency": "JPY", "ts": ts(41, i),
                   "items": [{"sku": "g", "category": "gift_card", "price": 1000, "qty": 1}],
                   "shipping_address": ADDR, "billing_address": ADDR,
                   "card": {"holder_name": "X", "last4": "1111", "exp": "12/29",
                            "fingerprint": "fp-ring"}, "seller_ids": ["s1"]})
    return [json.dumps(e) for e in ev]


def run():
    lines = stream()
    with kt.Kagid(env={"KAGI_POLICY_FILE": POLICY}, threads=4) as k:
        svc = k.key("service")
        live = []
        for at in range(0, len(lines), 7):
            r = k.request("POST", "/v1/events/batch", raw="\n".join(lines[at:at + 7]) + "\n",
                          content_type="application/x-ndjson", key=svc)
            kt.check(r.status == 200, "batch", r)
            live += [json.loads(x) for x in r.body.decode().splitlines()]
        path = os.path.join(k.tmp, "stream.ndjson")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        rep = kt.kagi("replay", "--policy", POLICY, path).stdout.splitlines()
        kt.check([json.loads(x) for x in rep] == live, "replay equals live decisions",
                 (rep[-4:], live[-4:]))
        acts = [d["action"] for d in live]
        kt.check(acts[:29] == ["allow"] * 29 and acts[29:36] == ["challenge"] * 7,
                 "the 30th account's failure and every later login from the IP challenged",
                 acts[:36])
        kt.check([d["rule"] for d in live[35]["reasons"]] == ["credential_stuffing"],
                 "the success names credential_stuffing", live[35])
        last = live[-1]
        rules = [d["rule"] for d in last["reasons"]]
        kt.check(last["action"] == "lock" and "gift_card_drop" in rules and
                 "shared_card" in rules and last["lock"]["reason"] == "gift_card",
                 "third account on the ring's card and drop address", last)
        with sqlite3.connect(k.db) as c:
            n = c.execute("select count(*) from entity_features").fetchone()[0]
        # no rule of the policy reads a device: its entities are not kept
        # (docs/rules.md, "Entities"), nor stored
        kt.check(n == 1 + 1 + 1, "a row per entity a rule reads (the IP, the card, the address)", n)
        k.restart()
        r = k.post("/v1/events", {"id": "after", "type": "login", "account": "late",
                                  "success": True, "ip": "198.51.100.7", "ts": ts(45)},
                   key=svc)
        kt.check(r.status == 200 and r.json["action"] == "challenge" and
                 r.json["reasons"][0]["values"]["distinct_accounts(ip, logins.failed, 1h)"] == 35,
                 "after a restart the IP's 35 accounts still count", r)


kt.main([run])
