#!/usr/bin/env python3
"""The gated rollout (issue 12, docs/guard.md "Gated rollout"), end to end
through kagid's HTTP API and the CLI, on SQLite and (integ_pg) PostgreSQL:

- the first policy of a new store is promoted whole: its rules act at once;
- a reload that changes a rule and adds one: both are pending; they fire
  only under the decision's shadow (`"pending":true`), no points, no lock;
  GET /v1/rules/pending lists them (changed / new);
- the dry run of a promotion shows the back-test over the last days of
  stored events: locks a day > 0 and that the breaker would have tripped;
- a promotion over rules.promote_max_locks_per_day is refused (409 naming
  the rule) and changes nothing (still pending, no audit entry, no version);
  forced without a reason: 400; forced with a reason: live, the audit entry
  holds the reason, the figures and forced, and a policy version names it;
  `kagi audit verify` passes;
- after a restart the promoted state holds; a demotion makes it pending;
- a promotion from the CLI (or, on PostgreSQL, from a second node) reaches
  the running kagid within seconds (the watcher of the promotions).
"""
import datetime
import json
import os
import time

import kagitest as kt
from kagitest import check

V1 = """
rule big_order on order {
  when amount >= 100000
  lock payment_fraud
}
"""
# big_order changed (a lower threshold, and a comment that is no change), a
# new rule that locks every successful login
V2 = """
rule big_order on order {   # lowered after the review
  when amount >= 50000
  lock payment_fraud
}

rule login_lock on login {
  when success
  lock compromised
  reason "login from {device_id}"
}
"""
SEEDED = 40  # logins in one minute of the last day: login_lock would lock them all


def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def login(i, t):
    return {"id": f"login-{i}-{int(t * 1000)}", "type": "login", "account": f"acc-{i}",
            "ts": iso(t), "success": True, "ip": "198.51.100.7", "device_id": f"dev-{i}"}


ADDR = {"postal_code": "150-0001", "region": "東京都", "city": "渋谷区", "line1": "神宮前1-2-3",
        "country": "JP"}


def order(i, amount, t):
    return {"id": f"order-{i}-{amount}-{int(t * 1000)}", "type": "order", "account": f"buyer-{i}",
            "ts": iso(t), "order_id": f"o-{i}-{amount}", "amount": amount, "currency": "JPY",
            "items": [{"sku": "tv", "category": "electronics", "price": amount, "qty": 1}],
            "shipping_address": ADDR, "billing_address": ADDR, "seller_ids": ["s1"],
            "card": {"holder_name": "TARO YAMADA", "last4": "4242", "exp": "12/29",
                     "fingerprint": f"fp-{i}"}}


def shadow_of(d, rule):
    return [s for s in d.get("shadow", []) if s["rule"] == rule]


def audit_promotions(k):
    out = k.kagi("audit", "list", "--db", k.db, "").stdout
    return [e for e in map(json.loads, out.splitlines()) if e.get("action") == "rules_promote"]


def detail(e):
    d = e.get("detail")
    return json.loads(d) if isinstance(d, str) else d


def wait_for(what, fn, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.2)
    raise kt.TestFailure(f"not within {timeout} s: {what}")


def test_rollout():
    with kt.Kagid().managed() as k:
        policy = os.path.join(k.tmp, "policy.rules")
        with open(policy, "w", encoding="utf-8") as f:
            f.write(V1)
        k.env.update({"KAGI_POLICY_FILE": policy, "KAGI_RULES_PROMOTE_MAX_LOCKS_PER_DAY": "10"})
        k.start()
        svc, admin = k.key("service"), k.key("admin")
        now = time.time()

        # the first policy of a new store is live whole
        p = k.get("/v1/rules/pending", key=admin)
        check(p.status == 200 and p.json["pending"] == [] and p.json["live"] == ["big_order"] and
              p.json["gate"] is True, "a new store promotes its first policy", p)
        d = k.post("/v1/events", order(1, 120000, now - 60), key=svc).json
        check(d["action"] == "lock" and d["reasons"][0]["rule"] == "big_order",
              "the first policy acts at once", d)
        check(k.get("/v1/rules/pending", key=svc).status == 403, "pending is for admins")

        # a changed and a new rule load pending
        with open(policy, "w", encoding="utf-8") as f:
            f.write(V2)
        check(k.post("/v1/rules/reload", key=admin).status == 200, "reloaded")
        p = k.get("/v1/rules/pending", key=admin).json
        got = {x["rule"]: x["change"] for x in p["pending"]}
        check(got == {"big_order": "changed", "login_lock": "new"} and p["live"] == [],
              "GET pending lists the changed and the new rule", p)
        check([x for x in p["pending"] if x["rule"] == "big_order"][0]["promoted"]["by"] == "kagid",
              "the changed rule names the content that is live", p)
        m = k.get("/metrics").body.decode()
        check("\nkagi_risk_policy_rules_pending 2\n" in m, "the pending rules' gauge",
              [x for x in m.splitlines() if "pending" in x])
        d = k.post("/v1/events", order(2, 70000, now - 50), key=svc).json
        check(d["action"] == "allow" and d["score"] == 0 and d["reasons"] == [] and
              "lock" not in d, "a pending rule takes no action", d)
        s = shadow_of(d, "big_order")
        check(s and s[0]["pending"] is True and s[0]["action"] == "lock",
              "it fires under shadow, marked pending", d)
        check(k.get("/v1/accounts/buyer-2/locks", key=admin).json.get("locks") in ([], None),
              "no lock written", k.get("/v1/accounts/buyer-2/locks", key=admin))
        # the seed: logins of the last day, all in one minute
        base = now - 3600
        for i in range(SEEDED):
            d = k.post("/v1/events", login(i, base + i), key=svc).json
            check(d["action"] == "allow" and shadow_of(d, "login_lock"), "a login: shadow only", d)
        versions = k.get("/v1/rules/versions", key=admin).json["versions"]

        # the dry run: the back-test's figures
        r = k.post("/v1/rules/promote", {"rules": ["login_lock"], "days": 7, "dry_run": True},
                   key=admin)
        check(r.status == 200, "dry run", r)
        fig = r.json
        check(fig["locks_added"] == SEEDED and fig["locks_per_day"] >= SEEDED and
              fig["by_rule"]["login_lock"]["locks_added"] == SEEDED,
              "locks a day it would add", fig)
        check(fig["breaker"]["would_trip"] is True and fig["breaker"]["rule"] == "login_lock" and
              fig["breaker"]["trips_without"] is False, "the breaker would have tripped", fig)
        check(fig["refused"] and "login_lock" in fig["refused"] and fig["dry_run"] is True,
              "the dry run says it would be refused", fig)

        # over the threshold: refused, nothing changes
        before = len(audit_promotions(k))
        r = k.post("/v1/rules/promote", {"rules": ["login_lock"]}, key=admin)
        check(r.status == 409 and "login_lock" in r.error().get("message", "") and
              r.error().get("field") == "rules", "refused with 409 naming the rule", r)
        r = k.post("/v1/rules/promote", {"rules": ["login_lock"], "force": True}, key=admin)
        check(r.status == 400 and r.error().get("field") == "reason", "forced needs a reason", r)
        r = k.post("/v1/rules/promote", {"rules": ["no_such_rule"]}, key=admin)
        check(r.status == 400 and "no_such_rule" in r.error().get("message", ""),
              "an unknown rule is named", r)
        p = k.get("/v1/rules/pending", key=admin).json
        check({x["rule"] for x in p["pending"]} == {"big_order", "login_lock"}, "still pending", p)
        check(len(audit_promotions(k)) == before, "no audit entry for a refusal")
        check(k.get("/v1/rules/versions", key=admin).json["versions"] == versions,
              "no version for a refusal")
        d = k.post("/v1/events", login(100, now - 30), key=svc).json
        check(d["action"] == "allow", "the refused rule still takes no action", d)

        # forced with a reason: live, audited with the figures
        r = k.post("/v1/rules/promote", {"rules": ["login_lock"], "force": True,
                                         "reason": "the login rule is wanted this week"},
                   key=admin)
        check(r.status == 200 and r.json["promoted"] is True and r.json["forced"] is True,
              "forced with a reason", r)
        d = k.post("/v1/events", login(101, now - 20), key=svc).json
        check(d["action"] == "lock" and d["reasons"][0]["rule"] == "login_lock",
              "the promoted rule acts", d)
        a = audit_promotions(k)
        check(len(a) == before + 1, "one audit entry", a)
        e = detail(a[-1])
        check(e["reason"] == "the login rule is wanted this week" and e["forced"] is True and
              e["rules"] == ["login_lock"] and e["figures"]["locks_added"] == SEEDED + 1 and
              e["figures"]["breaker"]["would_trip"] is True and
              a[-1]["actor"].startswith("admin:"), "the audit entry: who, rules, figures, reason", a[-1])
        v = k.get("/v1/rules/versions", key=admin).json["versions"][0]
        check(v["promoted"] == ["login_lock"] and v["forced"] is True and
              "login_lock" in v["rules_changed"] and v["by"].startswith("admin:"),
              "the promotion is a policy version", v)
        # under the threshold: promoted without force
        r = k.post("/v1/rules/promote", {"rules": ["big_order"]}, key=admin)
        check(r.status == 200 and r.json["forced"] is False and r.json["locks_added"] == 1,
              "a promotion under the threshold", r)
        r = k.post("/v1/rules/promote", {"rules": ["big_order"]}, key=admin)
        check(r.status == 409 and "live already" in r.error().get("message", ""),
              "a live rule is not promoted again", r)
        check(k.kagi("audit", "verify", "--db", k.db, check_rc=False).returncode == 0,
              "audit chains intact")

        # the promoted state holds after a restart
        k.restart()
        p = k.get("/v1/rules/pending", key=admin).json
        check(p["pending"] == [] and p["live"] == ["big_order", "login_lock"],
              "promoted after the restart", p)
        d = k.post("/v1/events", order(3, 60000, now - 10), key=svc).json
        check(d["action"] == "lock", "the promoted change acts after the restart", d)

        # demoted: pending again
        r = k.post("/v1/rules/demote", {"rules": ["login_lock"]}, key=admin)
        check(r.status == 400 and r.error().get("field") == "reason", "a demotion needs a reason", r)
        r = k.post("/v1/rules/demote", {"rules": ["login_lock"], "reason": "too many"}, key=admin)
        check(r.status == 200 and r.json["demoted"] is True, "demoted", r)
        d = k.post("/v1/events", login(102, now - 5), key=svc).json
        check(d["action"] == "allow" and shadow_of(d, "login_lock")[0]["pending"] is True,
              "a demoted rule runs pending", d)

        # a promotion elsewhere (the CLI; a second node on PostgreSQL)
        url = k.db if "://" in k.db else None
        other = None
        if url:
            other = kt.Kagid(db=url, env=dict(k.env))
            other.start()
        try:
            out = k.kagi("rules", "promote", "--db", k.db, "--policy", policy, "--dry-run",
                         "login_lock").stdout
            check(json.loads(out)["breaker"]["would_trip"] is True, "the CLI's dry run", out)
            r = k.kagi("rules", "promote", "--db", k.db, "--policy", policy, "login_lock",
                       check_rc=False)
            check(r.returncode != 0 and "login_lock" in r.stderr and "refused" in r.stderr,
                  "the CLI refuses too", r.stderr)
            k.kagi("rules", "promote", "--db", k.db, "--policy", policy, "--force", "--reason",
                   "from the CLI", "login_lock")
            out = json.loads(k.kagi("rules", "pending", "--db", k.db, "--policy", policy).stdout)
            check(out["pending"] == [], "the CLI sees it live", out)
            nodes = [k] + ([other] if other else [])
            for n, node in enumerate(nodes):
                wait_for(f"node {n} acts on the CLI's promotion", lambda: node.post(
                    "/v1/events", login(200 + n, time.time() - 1), key=svc).json["action"] == "lock")
            if other:
                p = other.get("/v1/rules/pending", key=admin).json
                check(p["pending"] == [], "the second node sees the promotion", p)
                r = other.post("/v1/rules/demote", {"rules": ["big_order"], "reason": "node 2"},
                               key=admin)
                check(r.status == 200, "demoted on the second node", r)
                wait_for("the first node sees the second node's demotion", lambda: k.post(
                    "/v1/events", order(9, 70000, time.time() - 1), key=svc).json["action"] == "allow")
        finally:
            if other:
                other.stop()
                other.cleanup()
        check(k.kagi("audit", "verify", "--db", k.db, check_rc=False).returncode == 0,
              "audit chains intact at the end")
        k.stop()


def test_gate_off():
    """rules.gate false: a reload acts at once, as before the gate."""
    with kt.Kagid().managed() as k:
        policy = os.path.join(k.tmp, "policy.rules")
        with open(policy, "w", encoding="utf-8") as f:
            f.write(V1)
        k.env.update({"KAGI_POLICY_FILE": policy, "KAGI_RULES_GATE": "false"})
        k.start()
        svc, admin = k.key("service"), k.key("admin")
        with open(policy, "w", encoding="utf-8") as f:
            f.write(V2)
        check(k.post("/v1/rules/reload", key=admin).status == 200, "reloaded")
        d = k.post("/v1/events", order(1, 70000, time.time() - 5), key=svc).json
        check(d["action"] == "lock", "without the gate a changed rule acts at once", d)
        check(k.get("/v1/rules/pending", key=admin).json["gate"] is False, "the gate is off")
        k.stop()


if __name__ == "__main__":
    kt.main([test_rollout, test_gate_off])
