"""The guard's series on GET /metrics follow the breaker through a wave, a
restart, a revert and a reset, and promtool accepts every scrape.

kagid runs with the breaker's hard cap at 3 automatic locks an hour. One
gift-card order two hours ago locks an account (the store's first automatic
lock: the detectors' hour of warm-up starts); then the orders of a ring now
lock 3 accounts (the third trips the breaker by `max_locks`, its rule's S has
risen above 0) and are held from the 4th on:

- before: armed (0), enabled (1), no incident, both triggers at 0, no
  detector series (no automatic lock yet), h = 10;
- after the trip: tripped (1), one open incident with its opening time, one
  `max_locks` trip, the holds by reason and rule, and the detectors of the
  policy's rule and of all rules (`*`) as GET /v1/guard gives them;
- after a restart: the store's series (state, open incident, detectors)
  are the same, the process-local counters start again at 0;
- after a policy reload that renames the rule: its detector's series are
  gone (the rules of the policy only), `*` stays;
- after the revert: no open incident, the 3 locks of the wave reverted (not
  the one before its onset), 3 apologies queued; the breaker stays tripped;
- after the reset: armed again.
"""
import datetime
import math
import os
import time

import kagitest as kt
from kagitest import check, expect
from test_metrics import scrape, val

ACCOUNTS = 7  # 1 before the wave, CAP locked in it, the rest held
CAP = 3
ROOT = os.environ.get("KG_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))


def now_ts(ago_s=0):
    t = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=ago_s)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def order(acc, eid, ago_s=0):
    addr, card = acc["address"], dict(acc["cards"][0])
    return {"id": eid, "type": "order", "account": acc["id"], "ts": now_ts(ago_s), "order_id": eid,
            "amount": 120000, "currency": "JPY",
            "items": [{"sku": "gc", "category": "gift_card", "price": 60000, "qty": 2}],
            "shipping_address": addr, "billing_address": addr, "card": card, "seller_ids": []}


def settled(k, pred, what):
    """Scrapes until pred(samples) holds (the store's series are cached up to
    5 s); fails with the last scrape after 30 s."""
    deadline = time.monotonic() + 30
    while True:
        s = scrape(k)
        if pred(s) or time.monotonic() > deadline:
            check(pred(s), what, {n: v for n, v in s.items() if n[0].startswith("kagi_guard")})
            return s
        time.sleep(0.5)


def family(s, name):
    return {dict(labels).get("rule"): v for (n, labels), v in s.items() if n == name}


def test_guard_metrics():
    with kt.Kagid().managed() as k:
        policy = os.path.join(k.tmp, "policy.rules")
        with open(os.path.join(ROOT, "policy", "default.rules"), encoding="utf-8") as f:
            text = f.read()
        with open(policy, "w", encoding="utf-8") as f:
            f.write(text)
        k.env.update({"KAGI_BREAKER_MAX_LOCKS": str(CAP), "KAGI_BREAKER_WINDOW_S": "3600",
                      "KAGI_POLICY_FILE": policy})
        k.start()
        svc, admin = k.key("service"), k.key("admin")

        s = scrape(k)
        expect(val(s, "kagi_guard_breaker_tripped") == 0, "armed at the start")
        expect(("kagi_guard_breaker_tripped", ()) in s, "the state is served from the start")
        expect(val(s, "kagi_guard_breaker_enabled") == 1, "breaker.enabled is on by default")
        expect(val(s, "kagi_guard_incidents_open") == 0, "no open incident")
        expect(val(s, "kagi_guard_oldest_open_incident_timestamp_seconds") == 0, "no oldest (0)")
        expect(val(s, "kagi_guard_cusum_threshold") == 10, "h = 10")
        for trig in ("cusum", "max_locks"):
            expect(("kagi_guard_breaker_trips_total", (("trigger", trig),)) in s,
                   f"trips by {trig} served from the start")
            expect(val(s, "kagi_guard_breaker_trips_total", trigger=trig) == 0, f"no {trig} trip")
        expect(not family(s, "kagi_guard_cusum_statistic"), "no detector before the first lock")
        expect(val(s, "kagi_guard_reverted_locks_total") == 0, "nothing reverted")
        expect(val(s, "kagi_guard_apologies_queued_total") == 0, "no apology")

        actions, rules = [], set()
        started = time.time()
        for i in range(ACCOUNTS):
            acc = kt.demo_account(300 + i, id=f"gm-{i}", email=f"gm-{i}@example.jp")
            check(k.post("/v1/accounts", acc, key=svc).status == 201, "account created")
            # the first two hours ago: out of the cap's window, and its
            # warm-up hour is over for the rest
            r = k.post("/v1/events", order(acc, f"gm-ord-{i}", 7200 if i == 0 else 0), key=svc)
            check(r.status == 200, "order decided", r)
            actions.append(r.json["action"])
            if r.json["action"] == "lock":
                rules.update(x["rule"] for x in r.json.get("reasons", []) if x.get("rule"))
        check(actions == ["lock"] * (1 + CAP) + ["hold"] * (ACCOUNTS - 1 - CAP),
              f"{CAP} locks, then holds", actions)
        guard = k.get("/v1/guard", key=admin).json
        check(guard["state"] == "tripped", "GET /v1/guard: tripped", guard)
        # the lock's rule (the order fires several gift-card rules; one orders the lock)
        counted = [g["rule"] for g in guard["rules"] if g["rule"] != "*"]
        check(len(counted) == 1 and counted[0] in rules, "one rule's locks counted", (counted, rules))
        rule = counted[0]
        incident = guard["incident"]

        s = settled(k, lambda s: val(s, "kagi_guard_breaker_tripped") == 1, "tripped (1)")
        expect(val(s, "kagi_guard_incidents_open") == 1, "one open incident")
        opened = val(s, "kagi_guard_oldest_open_incident_timestamp_seconds")
        expect(started - 5 <= opened <= time.time() + 5, f"opened now: {opened} ({started})")
        expect(val(s, "kagi_guard_breaker_trips_total", trigger="max_locks") == 1, "one max_locks trip")
        expect(val(s, "kagi_guard_breaker_trips_total", trigger="cusum") == 0, "no cusum trip")
        nheld = ACCOUNTS - 1 - CAP
        expect(val(s, "kagi_guard_holds_total", reason="gift_card", rule=rule) == nheld,
               f"{nheld} holds of gift_card by {rule}")
        held = sum(v for (n, _), v in s.items() if n == "kagi_guard_holds_total")
        expect(held == nheld, f"holds in all: {held}")
        stat = family(s, "kagi_guard_cusum_statistic")
        base = family(s, "kagi_guard_cusum_baseline_locks_per_minute")
        expect(set(stat) == {"*", rule} and set(base) == {"*", rule},
               f"detectors of {rule} and of all rules: {stat} {base}")
        for g in guard["rules"]:
            expect(math.isclose(stat.get(g["rule"], -1), g["cusum"], abs_tol=1e-3),
                   f"S of {g['rule']} as GET /v1/guard: {stat.get(g['rule'])} {g['cusum']}")
            expect(math.isclose(base.get(g["rule"], -1), g["baseline_per_min"], abs_tol=1e-3),
                   f"baseline of {g['rule']} as GET /v1/guard")
        expect(base.get(rule, 0) >= 0.2 and base.get("*", 0) >= 1.0, "baselines at least the floors")
        # 3 locks in the minute over the floor 0.2: 3 ln 10 - 0.2 * 9 = 5.11
        expect(math.isclose(stat.get(rule, 0), 3 * math.log(10) - 0.2 * 9, abs_tol=0.01),
               f"S of {rule} rose: {stat.get(rule)}")
        expect(stat.get("*") == 0, "S of all rules: 3 locks are not above its floor of 1 a minute")

        with open(os.path.join(ROOT, "docs", "operations.md"), encoding="utf-8") as f:
            ops = f.read()
        for name in sorted({n for n, _ in s if n.startswith("kagi_guard_")}):
            expect(f"`{name}" in ops, f"docs/operations.md lists {name}")

        # a restart: the store's series stay, the process's counters start at 0
        k.restart()
        s = settled(k, lambda s: val(s, "kagi_guard_breaker_tripped") == 1, "tripped after a restart")
        expect(val(s, "kagi_guard_incidents_open") == 1, "the incident is still open")
        expect(val(s, "kagi_guard_oldest_open_incident_timestamp_seconds") == opened,
               "the same opening time")
        expect(family(s, "kagi_guard_cusum_statistic") == stat, "the same detectors")
        expect(val(s, "kagi_guard_breaker_trips_total", trigger="max_locks") == 0,
               "the trips counter is this process's")
        expect(not any(n == "kagi_guard_holds_total" for n, _ in s), "no hold in this process")

        # the rules of the policy only: a reload that renames the rule drops its series
        with open(policy, "w", encoding="utf-8") as f:
            f.write(text.replace(f"rule {rule} on", f"rule {rule}_renamed on"))
        r = k.post("/v1/rules/reload", key=admin)
        check(r.status == 200, "policy reloaded", r)
        s = settled(k, lambda s: set(family(s, "kagi_guard_cusum_statistic")) == {"*"},
                    f"{rule} is no rule of the policy: only * is served")
        expect(set(family(s, "kagi_guard_cusum_baseline_locks_per_minute")) == {"*"},
               "the baselines too")

        # the revert: the incident is no longer open, its locks and apologies counted
        dry = k.post(f"/v1/incidents/{incident}/revert", {"reason": "test", "dry_run": True}, key=admin)
        check(dry.status == 200 and dry.json["count"] == CAP, "dry run", dry)
        s = scrape(k)
        expect(val(s, "kagi_guard_reverted_locks_total") == 0, "a dry run reverts nothing")
        expect(val(s, "kagi_guard_incidents_open") == 1, "a dry run leaves the incident open")
        r = k.post(f"/v1/incidents/{incident}/revert", {"reason": "test wave"}, key=admin)
        check(r.status == 200 and r.json["unlocked"] == CAP and r.json["apologies"] == CAP,
              "the revert", r)
        s = settled(k, lambda s: val(s, "kagi_guard_incidents_open") == 0, "no open incident")
        expect(val(s, "kagi_guard_oldest_open_incident_timestamp_seconds") == 0, "no oldest (0)")
        expect(val(s, "kagi_guard_reverted_locks_total") == CAP, f"{CAP} locks reverted")
        expect(val(s, "kagi_guard_apologies_queued_total") == CAP, f"{CAP} apologies queued")
        expect(val(s, "kagi_guard_breaker_tripped") == 1, "a revert does not re-arm")
        again = k.post(f"/v1/incidents/{incident}/revert", {"reason": "again"}, key=admin)
        check(again.status == 200, "a revert again", again)
        s = scrape(k)
        expect(val(s, "kagi_guard_reverted_locks_total") == CAP, "a revert again lifts nothing more")
        expect(val(s, "kagi_guard_apologies_queued_total") == CAP, "and queues no apology")

        # the reset: armed
        r = k.post("/v1/guard/reset", {"reason": "looked at it"}, key=admin)
        check(r.status == 200 and r.json["state"] == "armed", "reset", r)
        s = settled(k, lambda s: val(s, "kagi_guard_breaker_tripped") == 0, "armed after the reset")
        stat = family(s, "kagi_guard_cusum_statistic")
        expect(all(v == 0 for v in stat.values()), f"every S back to 0: {stat}")
        k.stop()


if __name__ == "__main__":
    kt.main([test_guard_metrics])
    if kt.failures:
        raise SystemExit(f"{len(kt.failures)} failures:\n  " + "\n  ".join(kt.failures))
