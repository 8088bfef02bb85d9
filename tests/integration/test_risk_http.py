#!/usr/bin/env python3
"""Risk endpoints through a real kagid: POST /v1/events (decision; 400 naming
the field; idempotent retries), /v1/events/batch (NDJSON in and out, inline
errors), /v1/rules/reload and SIGHUP under load (every request answered 200,
none lost, a broken policy refused while the running one stays),
/v1/rules/backtest (counts, changes, samples), and roles."""
import json
import os
import shutil
import signal
import sqlite3
import threading
import time

import kagitest as kt

POLICY = os.path.join(kt.SOURCE_DIR, "policy", "default.rules")


def login(i, acct="a1", ok=False, minute=0, ip="192.0.2.1"):
    return {"id": f"l{i}", "type": "login", "account": acct, "success": ok, "ip": ip,
            "device_id": "d1", "ts": f"2026-03-01T10:{minute:02d}:{i % 60:02d}Z"}


def run():
    tmp = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"risk-http-{os.getpid()}")
    os.makedirs(tmp, exist_ok=True)
    pol = os.path.join(tmp, "policy.rules")
    shutil.copy(POLICY, pol)
    try:
        with kt.Kagid(env={"KAGI_POLICY_FILE": pol}, threads=4) as k:
            svc, adm, agent = k.key("service"), k.key("admin"), k.key("agent")

            # one event; bad input; roles
            r = k.post("/v1/events", login(1), key=svc)
            kt.check(r.status == 200 and r.json["action"] == "allow", "event", r)
            r = k.post("/v1/events", {**login(2), "success": "no"}, key=svc)
            kt.check(r.status == 400 and r.error().get("field") == "success", "bad field", r)
            r = k.post("/v1/events", {**login(2), "type": "refund"}, key=svc)
            kt.check(r.status == 400 and r.error().get("field") == "type", "unknown type", r)
            kt.check(k.post("/v1/events", login(2), key=agent).status == 403, "agent may not")
            kt.check(k.post("/v1/events", login(2)).status == 401, "anonymous may not")
            for i in range(2, 6):
                r = k.post("/v1/events", login(i), key=svc)
            kt.check(r.json["action"] == "challenge", "5th failure challenges", r)
            again = k.post("/v1/events", login(5), key=svc)
            kt.check(again.status == 200 and again.json == r.json, "retry: stored decision", again)
            r = k.post("/v1/events", login(6), key=svc)
            kt.check(r.json["reasons"][0]["values"]["count(logins.failed, 15m, ip)"] == 6,
                     "the retry counted nothing", r)

            # two (eight) copies of one event racing: one decision, counted once
            race = login(40, acct="race", minute=40)
            answers, alock = [], threading.Lock()

            def copy():
                a = k.post("/v1/events", race, key=svc)
                with alock:
                    answers.append((a.status, a.body))
            cs = [threading.Thread(target=copy) for _ in range(8)]
            for t in cs:
                t.start()
            for t in cs:
                t.join()
            kt.check(len(answers) == 8 and all(a == answers[0] for a in answers)
                     and answers[0][0] == 200, "racing copies get one decision", answers[:2])
            r = k.post("/v1/events", login(41, acct="race", minute=40), key=svc)
            kt.check(r.status == 200 and r.json["action"] == "allow", "next event", r)
            cr = sqlite3.connect(k.db)
            try:
                kt.check(cr.execute("select count(*) from events where account_id='race'")
                         .fetchone()[0] == 2, "the racing event stored once")
            finally:
                cr.close()

            # batch: NDJSON in, NDJSON out, errors inline
            lines = [json.dumps(login(i, acct="b1")) for i in range(12)]
            lines.insert(3, '{"id":"x","type":"login"}')
            r = k.request("POST", "/v1/events/batch", raw="\n".join(lines) + "\n",
                          content_type="application/x-ndjson", key=svc)
            out = [json.loads(x) for x in r.body.decode().splitlines()]
            kt.check(r.status == 200 and len(out) == 13, "batch answers per line", r)
            kt.check("error" in out[3] and out[3]["error"]["field"] == "account", "inline error", out[3])
            acts = [d["action"] for d in out if "action" in d]
            kt.check(acts == ["allow"] * 4 + ["challenge"] * 5 + ["lock"] * 3, "batch decisions", acts)
            kt.check(out[-1]["lock"]["reason"] == "brute_force", "brute force lock", out[-1])
            ids = {d["lock"]["id"] for d in out if d.get("action") == "lock"}
            kt.check(len(ids) == 1, "a lock that stands is named again, not written again", ids)
            more = k.post("/v1/events", login(30, acct="b1"), key=svc)
            kt.check(more.json["action"] == "lock" and more.json["lock"]["id"] in ids,
                     "a later decision names the standing lock", more)

            # a lock on a registered account: the official notice in its message center
            r = k.post("/v1/accounts", kt.demo_account(7), key=svc)
            kt.check(r.status in (200, 201), "account created", r)
            acct = r.json.get("id", "acc-7")
            for i in range(10):
                r = k.post("/v1/events", login(i, acct=acct, minute=20), key=svc)
            kt.check(r.json["action"] == "lock" and r.json["lock"]["reason"] == "brute_force",
                     "registered account locked", r)
            c = sqlite3.connect(k.db)
            try:
                notices = c.execute("select count(*) from messages where account_id=? and "
                                    "kind='lock_notice'", (acct,)).fetchone()[0]
                lk = c.execute("select lock_id, reason, state from locks where account_id=?",
                               (acct,)).fetchall()
            finally:
                c.close()
            kt.check(notices == 1, "one lock notice in the message center", notices)
            kt.check(lk == [(r.json["lock"]["id"], "brute_force", "active")], "the lock row", lk)

            # reload under load: writers post while the policy is reloaded
            N_THREADS, PER = 4, 60
            statuses, errors = [], []
            lock = threading.Lock()

            def writer(t):
                for i in range(PER):
                    ev = login(i, acct=f"load{t}-{i % 7}", minute=30 + t)
                    ev["id"] = f"load-{t}-{i}"
                    try:
                        s = k.post("/v1/events", ev, key=svc).status
                    except OSError as e:
                        s = repr(e)
                    with lock:
                        statuses.append(s)
            ths = [threading.Thread(target=writer, args=(t,)) for t in range(N_THREADS)]
            for t in ths:
                t.start()
            reloads = 0
            while any(t.is_alive() for t in ths):
                r = k.post("/v1/rules/reload", {}, key=adm)
                if r.status != 200:
                    errors.append(r)
                reloads += 1
                k.proc.send_signal(signal.SIGHUP)
                time.sleep(0.01)
            for t in ths:
                t.join()
            kt.check(not errors, "reloads answered 200", errors[:3])
            kt.check(reloads > 1, "reloaded while requests flowed", reloads)
            print(f"{reloads} reloads (and SIGHUPs) during {len(statuses)} events")
            kt.check(len(statuses) == N_THREADS * PER and all(s == 200 for s in statuses),
                     "every request under reload answered 200",
                     [s for s in statuses if s != 200][:5])

            time.sleep(0.2)  # the last SIGHUP's reload
            m = k.get("/metrics").body.decode()
            ok = [int(float(line.split()[-1])) for line in m.splitlines()
                  if line.startswith('kagi_risk_policy_reloads_total{result="ok"}')]
            kt.check(ok and ok[0] > reloads, "SIGHUP reloads too (metrics)", (ok, reloads))

            # a broken policy is refused; the running one stays
            with open(pol, "a") as f:
                f.write("\nrule broken on login { when nope hold }\n")
            r = k.post("/v1/rules/reload", {}, key=adm)
            kt.check(r.status == 400 and "policy.rules:" in r.error().get("message", ""),
                     "broken policy refused with file:line:col", r)
            r = k.post("/v1/events", login(7), key=svc)
            kt.check(r.status == 200 and r.json["action"] == "challenge", "old policy runs", r)
            kt.check(k.post("/v1/rules/reload", {}, key=svc).status == 403, "service may not reload")

            # backtest: a candidate policy over the stored events, acting on nothing
            cand = open(POLICY).read().replace("count(logins.failed, 15m, ip) >= 5",
                                               "count(logins.failed, 15m, ip) >= 3")
            r = k.post("/v1/rules/backtest", {"policy": cand, "samples": 3}, key=adm)
            kt.check(r.status == 200, "backtest", r)
            b = r.json
            kt.check(b["events"] == 20 + 12 + N_THREADS * PER, "backtest saw every stored event", b["events"])
            kt.check(b["changes"]["by"].get("allow->challenge", 0) > 0, "backtest finds changes", b["changes"])
            kt.check(len(b["samples"]) == 3 and b["rules"]["failed_logins"] > 0, "samples, per rule", b)
            r = k.post("/v1/rules/backtest", {"policy": "rule x on login {"}, key=adm)
            kt.check(r.status == 400 and r.error().get("field") == "policy", "bad candidate", r)
            kt.check(k.post("/v1/rules/backtest", {"policy": cand}, key=agent).status == 403,
                     "agent may not backtest")
            c = sqlite3.connect(k.db)
            try:
                n = c.execute("select count(*) from events").fetchone()[0]
                kt.check(n == 20 + 12 + N_THREADS * PER, "every answered event stored once", n)
                locks = c.execute("select count(*) from locks where account_id='b1'").fetchone()[0]
                kt.check(locks == 1, "one lock row however often the rule fired", locks)
                audit = c.execute("select count(*) from audit where account_id='b1' "
                                  "and action='lock'").fetchone()[0]
                kt.check(audit == 1, "an audit entry per lock", audit)
                stored = [json.loads(x[0]) for x in c.execute(
                    "select decision from events where account_id='b1' order by ts_ms, event_id")]
                kt.check({d["lock"]["id"] for d in stored if d.get("action") == "lock"} == ids | {more.json["lock"]["id"]},
                         "stored decisions name the one lock", stored[-1])
            finally:
                c.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


kt.main([run])
