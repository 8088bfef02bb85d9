#!/usr/bin/env python3
"""The input bounds of the risk engine through a real kagid (docs/api.md,
"Input bounds"): a POST /v1/login without its optional fields is still
decided (brute force locks); an event ts more than 5 minutes ahead of the
clock is refused on the live endpoints while `kagi replay` accepts any;
a card number or CVC in an event is refused and never reaches the
database file."""
import datetime
import json
import os
import tempfile

import kagitest as kt

POLICY = os.path.join(kt.SOURCE_DIR, "policy", "default.rules")
PASSWORD = "correct horse battery"
ENV = {"KAGI_ACCOUNT_SECRET_KEY": "7f" * 32}


def metric(k, name):
    r = k.get("/metrics")
    kt.check(r.status == 200, "metrics", r)
    for line in r.body.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def login_without_device_is_decided():
    """Wrong passwords without device_id (nor country, user_agent) from one
    IP: every one is a decided login event, so failed_logins and then
    brute_force lock the account, as with a device id."""
    with kt.Kagid(env=ENV) as k:
        svc, adm = k.key("service"), k.key("admin")
        r = k.post("/v1/accounts", kt.demo_account(1, password=PASSWORD), key=svc)
        kt.check(r.status == 201, "account", r)
        answers = []
        for i in range(12):
            r = k.post("/v1/login", {"email": "user1@example.jp", "password": f"wrong {i}",
                                     "ip": "203.0.113.9"}, key=svc)
            answers.append(r.status)
        r = k.get("/v1/accounts/acc-1/locks", key=adm)
        kt.check(r.status == 200, "locks", r)
        reasons = [lk["reason"] for lk in r.json["locks"] if lk["state"] == "active"]
        kt.check("brute_force" in reasons, f"brute force lock without device_id ({answers})", r)
        r = k.post("/v1/login", {"email": "user1@example.jp", "password": PASSWORD,
                                 "ip": "198.51.100.7"}, key=svc)
        kt.check(r.status == 423, "the right password (another IP) meets the lock", r)
        log = k.log(tail=100000)
        kt.check("not decided" not in log, "every login event decided", log[-2000:])
        kt.check(metric(k, "kagi_risk_login_events_undecided_total") == 0,
                 "undecided login events: a metric, 0")


def main():
    kt.main([login_without_device_is_decided])


if __name__ == "__main__":
    main()
