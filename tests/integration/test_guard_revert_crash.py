"""A revert of 1,200 wrongly locked accounts killed (SIGKILL) in the middle,
then run again, lifts each lock once and sends one apology each
(docs/guard.md, "Revert").

kagid runs a policy with a rule that locks every successful login and the
breaker watching only (breaker.enabled=false: it trips and opens the
incident, but every lock is written), so the incident holds 1,200 locks.
Then `kagi incidents revert --step 50` is killed after its first committed
step; the store shows some locks lifted, not all. Run again, it finishes:
every lock of the incident lifted by method revert, one audit `unlock`
entry each, one incident_apology in each message center with one outbox
mail, the mails paced (incidents.apology_mails_per_min), the webhooks
lock.lifted and incident.reverted queued, and `kagi audit verify` passes.

Reads the SQLite file underneath (sqlite3)."""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import kagitest as kt

N = 1200
BAD_RULE = """
rule every_login on login {
  when success
  lock compromised
  reason "login from {device_id}"
}
"""


def test_crash():
    k = kt.Kagid(env={"KAGI_BREAKER_ENABLED": "false", "KAGI_WEBHOOK_URL": "http://127.0.0.1:9/",
                      "KAGI_WEBHOOK_SECRET": "whsec_" + "MDEyMzQ1Njc4OWFiY2RlZg=="})
    db = k.db
    policy = os.path.join(k.tmp, "bad.rules")
    with open(os.path.join(kt.SOURCE_DIR, "policy", "default.rules")) as f:
        text = f.read()
    with open(policy, "w") as f:
        f.write(text + BAD_RULE)
    k.env["KAGI_POLICY_FILE"] = policy
    try:
        k.start()
        try:
            svc, admin = k.key("service"), k.key("admin")
            for i in range(N):
                r = k.post("/v1/accounts", kt.demo_account(i), key=svc)
                kt.check(r.status == 201, "account", r)
            now = int(time.time() * 1000) - 3 * 3600 * 1000
            lines = []
            for i in range(N):
                t = now + i * 500
                ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t / 1000)) + \
                    ".%03dZ" % (t % 1000)
                lines.append(json.dumps({"id": f"ev-{i}", "type": "login", "account": f"acc-{i}",
                                         "ts": ts, "success": True, "ip": "203.0.113.9",
                                         "device_id": f"dev-{i}"}))
            for at in range(0, N, 400):
                r = k.request("POST", "/v1/events/batch",
                              raw="\n".join(lines[at:at + 400]).encode() + b"\n", key=svc,
                              headers={"Content-Type": "application/x-ndjson"})
                kt.check(r.status == 200, "batch", r)
            g = k.get("/v1/guard", key=admin)
            kt.check(g.status == 200 and g.json["state"] == "tripped", "the breaker tripped", g)
            incs = k.get("/v1/incidents", key=admin).json["incidents"]
            kt.check(len(incs) == 1 and "every_login" in incs[0]["rules"], "one incident", incs)
            inc = incs[0]["id"]
            k.stop()
        except BaseException:
            sys.stderr.write(f"---- kagid log ----\n{k.log()}\n")
            k.kill()
            raise
        with sqlite3.connect(db) as c:
            wave = {r[0]: r[1] for r in c.execute(
                "SELECT lock_id, account_id FROM locks WHERE reason = 'compromised'")}
        kt.check(len(wave) == N, "every login locked (the breaker only watched)", len(wave))

        env = dict(os.environ, **k.env)
        p = subprocess.Popen([kt.KAGI_BIN, "incidents", "revert", "--db", db, inc, "--reason",
                              "a rule shipped by mistake", "--step", "50"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
        # the first progress line ("revert: …") once a step is committed;
        # log lines (JSON, e.g. a slow-commit warning on a busy machine)
        # may come before it
        line = p.stderr.readline()
        while line.startswith("{"):
            line = p.stderr.readline()
        p.send_signal(signal.SIGKILL)
        p.wait()
        kt.check(line.startswith("revert:"), "a step was committed", line)
        with sqlite3.connect(db) as c:
            lifted = c.execute("SELECT count(*) FROM locks WHERE reason = 'compromised' AND "
                               "state = 'lifted'").fetchone()[0]
        print(f"killed after {line.strip()!r}: {lifted} of {N} lifted")
        kt.check(0 < lifted < N, "killed in the middle", lifted)

        r = kt.kagi("incidents", "revert", "--db", db, inc, "--reason", "again", "--quiet", env=k.env)
        out = json.loads(r.stdout)
        kt.check(out["unlocked"] == N and out["apologies"] == N and out["already"] == 0,
                 "the second run finishes the first one's work", out)
        with sqlite3.connect(db) as c:
            states = dict(c.execute("SELECT lock_id, state || ':' || lift_method FROM locks "
                                    "WHERE reason = 'compromised'").fetchall())
            unlocks = dict(c.execute(
                "SELECT account_id, count(*) FROM audit WHERE action = 'unlock' AND "
                "detail LIKE '%\"method\":\"revert\"%' GROUP BY account_id").fetchall())
            apologies = dict(c.execute(
                "SELECT account_id, count(*) FROM messages WHERE kind = 'incident_apology' "
                "GROUP BY account_id").fetchall())
            mails = c.execute(
                "SELECT count(*), min(o.next_attempt_ms), max(o.next_attempt_ms) FROM outbox o "
                "JOIN messages m ON m.message_id = o.message_id "
                "WHERE m.kind = 'incident_apology'").fetchone()
            hooks = dict(c.execute("SELECT event, count(*) FROM webhooks GROUP BY event"))
        kt.check(set(states.values()) == {"lifted:revert"}, "every lock lifted by revert",
                 set(states.values()))
        kt.check(unlocks == {a: 1 for a in wave.values()}, "each account unlocked once",
                 len(unlocks))
        kt.check(apologies == {a: 1 for a in wave.values()}, "one apology each", len(apologies))
        kt.check(mails[0] == N, "one apology mail each", mails)
        # 600 a minute by default: the last is due about two minutes after the first
        kt.check(mails[2] - mails[1] >= (N - 1) * 60000 // 600 - 1000, "the mails are paced", mails)
        kt.check(hooks.get("lock.lifted") == N and hooks.get("incident.reverted") == 1 and
                 hooks.get("breaker.tripped") == 1 and hooks.get("lock.created") == N,
                 "webhooks", hooks)
        v = kt.kagi("audit", "verify", "--db", db, check_rc=False)
        kt.check(v.returncode == 0, "kagi audit verify", v.stdout[-2000:])
    finally:
        k.cleanup()


if __name__ == "__main__":
    kt.main([test_crash])
