"""GET /metrics speaks Prometheus: `promtool check metrics` (Debian's
prometheus package) finds nothing to complain about on a real kagid's scrape,
before and after traffic, and the counters move as the traffic says:

- decisions by action, by rule and action, lock decisions by reason (a
  repeated event is not counted again);
- locks written by reason, from the store (one lock row however often the
  rule fires);
- error answers by status and code (a 404, failed logins' 401 `auth`, the
  429 `throttled` of the login limit) and the throttle by limit (`login`);
- the outbox queue by state is the outbox table's rows.

docs/prometheus-alerts.yml passes `promtool check rules`, has its alerts
(the guard's included) on documented series, and every metric kagid serves is
listed in docs/operations.md "Metrics". The guard's series through a trip are
test_guard_metrics.py's.
"""
import os
import re
import shutil
import sqlite3
import subprocess

import kagitest as kt

ROOT = os.environ.get("KG_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
# a label value may hold "}" (route="/v1/incidents/{id}/revert")
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[^"}]|"(?:[^"\\]|\\.)*")*\})? (\S+)$')


def promtool(*args, stdin=None):
    exe = shutil.which("promtool")
    kt.check(exe, "promtool on PATH (Debian package prometheus; scripts/install-deps.sh test)")
    return subprocess.run([exe, *args], input=stdin, capture_output=True, timeout=120)


def scrape(k):
    r = k.get("/metrics")
    kt.check(r.status == 200, "GET /metrics", r)
    kt.check(r.headers.get("content-type", "").startswith("text/plain; version=0.0.4"),
             "the text exposition format", r.headers)
    p = promtool("check", "metrics", stdin=r.body)
    kt.check(p.returncode == 0 and not p.stdout.strip() and not p.stderr.strip(),
             "promtool check metrics: no problem", (p.returncode, p.stdout[-2000:], p.stderr[-2000:]))
    samples = {}
    for line in r.body.decode().splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        kt.check(m, "a sample line", line)
        labels = tuple(sorted(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or "")))
        samples[(m.group(1), labels)] = float(m.group(3))
    return samples


def val(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def delta(before, after, name, **labels):
    return val(after, name, **labels) - val(before, name, **labels)


def login_event(i, acct, ip="192.0.2.9"):
    return {"id": f"m{i}", "type": "login", "account": acct, "success": False, "ip": ip,
            "device_id": "d1", "ts": f"2026-03-01T10:00:{i:02d}Z"}


def run():
    with kt.Kagid() as k:
        svc = k.key("service")
        before = scrape(k)
        for action in ("allow", "challenge", "hold", "lock"):
            kt.check(("kagi_risk_decisions_total", (("action", action),)) in before,
                     f"decisions of action {action} are served from the start (0)")

        # 12 failed logins from one address: 4 allow, 5 challenge, 3 lock
        # (default policy: failed_logins at 5, brute_force at 10)
        acts = []
        for i in range(12):
            r = k.post("/v1/events", login_event(i, "met-1"), key=svc)
            kt.check(r.status == 200, "event decided", r)
            acts.append(r.json["action"])
        kt.check(acts == ["allow"] * 4 + ["challenge"] * 5 + ["lock"] * 3, "the decisions", acts)
        again = k.post("/v1/events", login_event(11, "met-1"), key=svc)
        kt.check(again.status == 200 and again.json["action"] == "lock", "a repeated event", again)
        mid = scrape(k)
        for action, n in (("allow", 4), ("challenge", 5), ("lock", 3), ("hold", 0)):
            got = delta(before, mid, "kagi_risk_decisions_total", action=action)
            kt.expect(got == n, f"decisions {action}: {got} (want {n})")
        kt.expect(delta(before, mid, "kagi_risk_rule_decisions_total", rule="failed_logins",
                        action="challenge") == 5, "failed_logins fired in 5 challenge decisions")
        kt.expect(delta(before, mid, "kagi_risk_rule_decisions_total", rule="brute_force",
                        action="lock") == 3, "brute_force fired in 3 lock decisions")
        kt.expect(delta(before, mid, "kagi_risk_lock_decisions_total", reason="brute_force") == 3,
                  "3 lock decisions of reason brute_force (the repeated event not counted)")
        kt.expect(delta(before, mid, "kagi_account_locks_created_total", reason="brute_force") == 1,
                  "one brute_force lock row written")
        kt.expect(delta(before, mid, "kagi_account_locks_created_total", reason="gift_card") == 0,
                  "no gift_card lock")

        # failed sign-ins until the login limit holds one back (429)
        acc = kt.demo_account(0, id="met-acc", password="a good password")
        kt.check(k.post("/v1/accounts", acc, key=svc).status == 201, "account")
        statuses = []
        for _ in range(15):
            r = k.post("/v1/login", {"email": acc["email"], "password": "wrong password",
                                     "ip": "198.51.100.7"}, key=svc)
            statuses.append(r.status)
            if r.status == 429:
                break
        kt.check(statuses[0] == 401 and statuses[-1] == 429, "401s, then the limit's 429", statuses)
        nauth = statuses.count(401)

        # a route that does not exist
        kt.check(k.get("/v1/nowhere", key=svc).status == 404, "404")

        after = scrape(k)
        kt.expect(delta(mid, after, "kagi_http_errors_total", status="404", code="not_found") == 1,
                  "the 404 counted by code")
        kt.expect(delta(mid, after, "kagi_http_errors_total", status="401", code="auth") == nauth,
                  f"{nauth} wrong passwords counted as 401 auth")
        kt.expect(delta(mid, after, "kagi_http_errors_total", status="429", code="throttled") == 1,
                  "the 429 counted by code")
        kt.expect(delta(mid, after, "kagi_account_throttled_total", limit="login") == 1,
                  "the login limit held one try back")
        kt.expect(val(after, "kagi_account_throttled_total", limit="reset") == 0,
                  "no reset code held back")
        kt.expect(delta(mid, after, "kagi_http_requests_total", method="", route="(none)",
                        **{"class": "4xx"}) == 1, "the 404 without a route")

        # the queue depth is the outbox table
        db = sqlite3.connect(k.db)
        try:
            rows = dict(db.execute("select state, count(*) from outbox group by state").fetchall())
            locks = db.execute("select count(*) from locks where reason='brute_force'").fetchone()[0]
        finally:
            db.close()
        final = scrape(k)
        for state in ("pending", "failed", "delivered"):
            kt.expect(val(final, "kagi_notify_queue", queue="outbox", state=state) == rows.get(state, 0),
                      f"outbox {state}: the table's {rows.get(state, 0)}")
        kt.expect(val(final, "kagi_account_locks_created_total", reason="brute_force") == locks,
                  "locks by reason: the table's rows")

        # every metric kagid serves is in docs/operations.md "Metrics"
        with open(os.path.join(ROOT, "docs", "operations.md"), encoding="utf-8") as f:
            ops = f.read()
        section = ops[ops.index("### Metrics\n"):]
        section = section[:section.find("\n#", 4)]
        families = {re.sub(r"_(bucket|sum|count)$", "", name) if name.endswith(("_bucket", "_sum", "_count"))
                    and "duration" in name else name for name, _ in final}
        for name in sorted(families):
            kt.expect(f"`{name}" in section, f"docs/operations.md \"Metrics\" lists {name}")


def alert_rules_check():
    path = os.path.join(ROOT, "docs", "prometheus-alerts.yml")
    p = promtool("check", "rules", path)
    out = (p.stdout + p.stderr).decode("utf-8", "replace")
    kt.check(p.returncode == 0 and "SUCCESS" in out, "promtool check rules docs/prometheus-alerts.yml",
             out[-2000:])
    with open(path, encoding="utf-8") as f:
        text = f.read()
    for alert in ("KagiLockRateHigh", "KagiOutboxBacklog", "KagiWebhookFailures", "KagiHTTP5xxRate",
                  "KagiBreakerTripped", "KagiIncidentNotReverted", "KagiGuardDetectorRising"):
        kt.check(re.search(rf"^\s+- alert: {alert}$", text, re.M), f"the alert {alert}")
    # the guard's alerts fire when they should and not before (a unit test of
    # the rules on synthetic series)
    test = os.path.join(os.environ.get("KG_TEST_DATA", os.path.join(ROOT, "tests", "data")),
                        "prometheus", "guard-alerts.test.yml")
    p = promtool("test", "rules", test)
    out = (p.stdout + p.stderr).decode("utf-8", "replace")
    kt.check(p.returncode == 0 and "SUCCESS" in out, "promtool test rules guard-alerts.test.yml",
             out[-3000:])
    # every series an alert reads is one kagid serves (docs/operations.md lists them)
    with open(os.path.join(ROOT, "docs", "operations.md"), encoding="utf-8") as f:
        ops = f.read()
    for name in sorted(set(re.findall(r"\bkagi_[a-z_]+", text))):
        kt.check(f"`{name}" in ops, f"the alerts' {name} is a documented metric")


def main():
    kt.main([run, alert_rules_check])
    if kt.failures:
        raise SystemExit(f"{len(kt.failures)} failures:\n  " + "\n  ".join(kt.failures))


if __name__ == "__main__":
    main()
