#!/usr/bin/env python3
"""The lock-wave breaker on simulated shops (issue 12; docs/guard.md).

For each shop (a `kagi simulate` stream): the normal days are replayed into
a fresh SQLite store through the policy (does the breaker trip? it must
not), then the shop's feed goes wrong and the next hours are replayed:

  sudden     from the onset every amount and item price is x100
  ramp       the share of events sent x100 grows from 0 to all over 30 min
  one rule   policy tests/data/guard/amount_cap.rules (the default policy
             and the shop's amount cap): the cap's rule makes the wave
  all rules  policy/default.rules alone: the x100 amounts fire whichever
             rules they fire (gift cards, huge payments, scores)

Measured: event time from the first wrong lock (and from the onset of the
feed) to the trip, accounts locked before the trip, the decisions the
breaker held; the revert of a watch-only wave (breaker.enabled=false, every
lock written; accounts created first so that each apology is rendered and
queued): accounts per second. The detector's computed ARL0 and delays come
from bench/guard_arl.py. Writes docs/BENCHMARKS.md section `guard`.

usage: bench/guard.sh [BUILD_DIR]  (env: SHOPS="1000:30 100000:30 1000000:1")
"""
import datetime
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import section  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
BUILD = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "release")
KAGI = os.path.join(BUILD, "kagi")
OUT = os.path.join(ROOT, "bench", "out", "guard")
DAY = 86400 * 1000
WAVE_H = int(os.environ.get("WAVE_H", "6"))
CAP = os.path.join(ROOT, "tests", "data", "guard", "amount_cap.rules")
DEFAULT = os.path.join(ROOT, "policy", "default.rules")


def kagi(*args, env=None, **kw):
    e = dict(os.environ, KAGI_PASSWORD_ARGON2_OPS="1", KAGI_PASSWORD_ARGON2_MEM_KIB="64")
    e.update(env or {})
    return subprocess.run([KAGI, *args], capture_output=True, text=True, check=True, env=e,
                          cwd=ROOT, **kw)


def ms(ts):
    return int(datetime.datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp() * 1000)


def split(src, normal_days, shape):
    """Files of the normal days and of the wave; the onset (ms) and the wave's
    event times by id."""
    normal, wave = src + f".n{normal_days}", src + f".w{normal_days}-{shape}-{WAVE_H}"
    onset, ts = None, {}
    with open(src) as f, open(normal, "w") as a, open(wave, "w") as b:
        for line in f:
            e = json.loads(line)
            t = ms(e["ts"])
            if onset is None:
                onset = t - t % DAY + normal_days * DAY
            if t < onset:
                a.write(line)
                continue
            if t >= onset + WAVE_H * 3600 * 1000:
                break
            share = 1.0 if shape == "sudden" else min(1.0, (t - onset) / (30 * 60 * 1000))
            h = int(hashlib.blake2b(e["id"].encode(), digest_size=4).hexdigest(), 16) / 2**32
            if h < share:
                if "amount" in e:
                    e["amount"] *= 100
                for it in e.get("items") or []:
                    it["price"] *= 100
            ts[e["id"]] = t
            b.write(json.dumps(e, separators=(",", ":")) + "\n")
    return normal, wave, onset, ts


def replay(db, policy, path, env=None, quiet=True, batch=10000):
    t = time.monotonic()
    args = ["replay", "--db", db, "--policy", policy, "--batch", str(batch)] + \
        (["--quiet"] if quiet else []) + [path]
    p = kagi(*args, env=env, timeout=7200)
    return p.stdout, time.monotonic() - t


def fresh(db):
    for s in ("", "-wal", "-shm"):
        if os.path.exists(db + s):
            os.remove(db + s)


def wave_run(name, src, normal_days, shape, policy, base_db):
    normal, wave, onset, ts = split(src, normal_days, shape)
    db = os.path.join(OUT, f"{name}.db")
    fresh(db)
    subprocess.run(["cp", base_db, db], check=True)
    with sqlite3.connect(db) as c:
        before = {r[0] for r in c.execute("SELECT lock_id FROM locks")}
    old = {i["id"] for i in json.loads(kagi("incidents", "list", "--db", db).stdout)}
    # batches of 1,000 in the wave: a batch's events are summarised before
    # its locks are written, and the feed summary holds one hour
    out, secs = replay(db, policy, wave, quiet=False, batch=1000)
    # the wave's incidents (a false trip of the normal days is the base's)
    incs = [i for i in json.loads(kagi("incidents", "list", "--db", db).stdout)
            if i["id"] not in old]
    locks = [json.loads(x) for x in out.splitlines()]
    wave_locks = [d for d in locks if d["action"] == "lock" and d["lock"]["id"] not in before]
    held = [d for d in locks if d["action"] == "hold" and "breaker" in d]
    r = {"name": name, "shape": shape, "policy": os.path.basename(policy), "events": len(ts),
         "replay_s": round(secs, 1), "holds": len(held), "base_tripped": bool(old)}
    if not incs:
        r.update(tripped=False, locked=len({d["account"] for d in wave_locks}))
        return r
    inc = incs[-1]
    rules = set(inc["rules"])
    wrong = [d for d in wave_locks if any(x["rule"] in rules for x in d["reasons"])]
    trip = ms(inc["tripped_at"])
    first = min((ts[d["event"]] for d in wrong), default=trip)
    would = {d["account"] for d in wrong} | {d["account"] for d in held}
    feed = (inc.get("feed") or {}).get("moved") or []
    r.update(tripped=True, rules=sorted(rules), trip=inc["trip"],
             suspect=(inc.get("suspect") or {}).get("rule"),
             feed_moved=sorted({f"{m['event']}.{m['field']}" for m in feed}),
             from_first_lock_s=round((trip - first) / 1000, 1),
             from_onset_s=round((trip - onset) / 1000, 1),
             locked=len({d["account"] for d in wrong}), would=len(would))
    return r


def revert_run(name, src, normal_days, base_db):
    """A watch-only wave (every lock written) and its revert, with apologies."""
    normal, wave, onset, ts = split(src, normal_days, "sudden")
    db = os.path.join(OUT, f"{name}-revert.db")
    fresh(db)
    subprocess.run(["cp", base_db, db], check=True)
    old = {i["id"] for i in json.loads(kagi("incidents", "list", "--db", db).stdout)}
    replay(db, CAP, wave, env={"KAGI_BREAKER_ENABLED": "false"})
    incs = [i for i in json.loads(kagi("incidents", "list", "--db", db).stdout)
            if i["id"] not in old]
    if not incs:
        return None
    inc = incs[-1]["id"]
    dry = json.loads(kagi("incidents", "revert", "--db", db, inc, "--dry-run").stdout)
    with sqlite3.connect(db) as c:
        accts = sorted({r[0] for r in c.execute(
            "SELECT account_id FROM locks WHERE lock_id IN (%s)" %
            ",".join("?" * len(dry["would_unlock"])), dry["would_unlock"])})
    for i, a in enumerate(accts):  # the shop's accounts: each apology is rendered
        body = {"id": a, "name": f"客 {i}", "email": f"{a}@example.jp",
                "address": {"postal_code": "150-0001", "region": "東京都", "city": "渋谷区",
                            "line1": "神宮前1-2-3", "country": "JP"}}
        kagi("account", "create", "--db", db, "--json", "-", input=json.dumps(body))
    t = time.monotonic()
    r = json.loads(kagi("incidents", "revert", "--db", db, inc, "--reason", "bench",
                        "--quiet").stdout)
    secs = time.monotonic() - t
    return {"name": name, "locks": dry["count"], "accounts": len(accts), "seconds": round(secs, 2),
            "accounts_per_s": round(len(accts) / secs, 0), "unlocked": r["unlocked"],
            "apologies": r["apologies"]}


def feed_cost(src, policy):
    """Instructions the feed summary costs an event (callgrind): a slice of
    30,000 events from the middle of the shop's stream replayed into a fresh
    store; kg_guard_feed_observe inclusive (its minute folds too) against
    the engine's decision (kg_risk_decide_locked) and the whole run."""
    if not shutil.which("valgrind") or not shutil.which("callgrind_annotate"):
        return None
    with open(src) as f:
        lines = f.readlines()
    mid = len(lines) // 2
    part = os.path.join(OUT, "feed-cost.ndjson")
    with open(part, "w") as f:
        f.writelines(lines[mid:mid + 30000])
    db, cg = os.path.join(OUT, "feed-cost.db"), os.path.join(OUT, "feed-cost.cg")
    fresh(db)
    e = dict(os.environ, KAGI_PASSWORD_ARGON2_OPS="1", KAGI_PASSWORD_ARGON2_MEM_KIB="64")
    subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={cg}", KAGI, "replay",
                    "--db", db, "--quiet", "--batch", "1000", "--policy", policy, part],
                   check=True, env=e, cwd=ROOT, capture_output=True)
    ann = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", cg], capture_output=True,
                         text=True, check=True).stdout

    def ir(name):
        for line in ann.splitlines():
            if line.rstrip().endswith("]") and f":{name} [" in line:
                return int(line.split()[0].replace(",", ""))
        return None
    total = next(int(x.split()[0].replace(",", "")) for x in ann.splitlines()
                 if "PROGRAM TOTALS" in x)
    feed, decide = ir("kg_guard_feed_observe"), ir("kg_risk_decide_locked")
    n = 30000
    return {"shop": os.path.basename(src).split("-")[1] + "-account",
            "feed_ir_per_event": round(feed / n), "decide_ir_per_event": round(decide / n),
            "total_ir_per_event": round(total / n), "events": n,
            "share_of_decide": round(100.0 * feed / decide, 2)}


def main():
    if os.environ.get("RENDER_FROM"):
        # the JSON lines a run printed on stderr (a run cut short renders
        # what it measured)
        normals, waves, reverts, cost = [], [], [], None
        for line in open(os.environ["RENDER_FROM"]):
            if not line.startswith("{"):
                continue
            r = json.loads(line)
            if "feed_ir_per_event" in r:
                cost = r
                continue
            (normals if "false_trips" in r else waves if "shape" in r else reverts).append(r)
        render(normals, waves, reverts, os.environ.get("NOTE", ""), cost)
        return
    os.makedirs(OUT, exist_ok=True)
    shops = [tuple(int(x) for x in s.split(":")) for s in
             os.environ.get("SHOPS", "1000:30 100000:30 1000000:1").split()]
    normals, waves, reverts = [], [], []
    for accounts, days in shops:
        src = os.path.join(OUT, f"sim-{accounts}-{days + 1}.ndjson")
        if not os.path.exists(src):
            kagi("simulate", "--accounts", str(accounts), "--days", str(days + 1), "--seed", "1",
                 "--out", src, timeout=7200)
        for policy in (CAP, DEFAULT):
            tag = "cap" if policy == CAP else "default"
            base = os.path.join(OUT, f"base-{accounts}-{days}-{tag}.db")
            normal, _, _, _ = split(src, days, "sudden")
            fresh(base)
            _, secs = replay(base, policy, normal)
            incs = json.loads(kagi("incidents", "list", "--db", base).stdout)
            with sqlite3.connect(base) as c:
                nlocks = c.execute("SELECT count(*) FROM locks").fetchone()[0]
            normals.append({"accounts": accounts, "days": days, "policy": tag, "locks": nlocks,
                            "false_trips": len(incs),
                            "first_trip": incs[-1]["tripped_at"] if incs else None,
                            "replay_s": round(secs, 1)})
            print(json.dumps(normals[-1]), file=sys.stderr)
            if incs:  # a tripped base would hold the wave from its first lock
                kagi("guard", "reset", "--db", base, "--reason", "bench: the wave next")
            shapes = ("sudden", "ramp") if policy == CAP else ("sudden",)
            for shape in shapes:
                w = wave_run(f"{accounts}-{tag}-{shape}", src, days, shape, policy, base)
                w["accounts"] = accounts
                waves.append(w)
                print(json.dumps(w), file=sys.stderr)
            if policy == CAP and accounts <= 100000:
                rv = revert_run(f"{accounts}", src, days, base)
                if rv:
                    reverts.append(rv)
                    print(json.dumps(rv), file=sys.stderr)
    cost = feed_cost(src, CAP)
    if cost:
        print(json.dumps(cost), file=sys.stderr)
    render(normals, waves, reverts, cost=cost)


def feed_text(c):
    if not c:
        return ""
    return (f"**The feed summary's cost** (callgrind, `kg_guard_feed_observe` inclusive of its "
            f"minute folds, over {c['events']:,} events from the middle of the "
            f"{c.get('shop', 'last')} shop's stream replayed into a store): {c['feed_ir_per_event']} instructions an event, "
            f"against {c['decide_ir_per_event']:,} for the engine's decision "
            f"(`kg_risk_decide_locked`, {c['share_of_decide']} %) and "
            f"{c['total_ir_per_event']:,} for the whole replay of an event.\n\n")


def render(normals, waves, reverts, note="", cost=None):
    arl = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "guard_arl.py")],
                         capture_output=True, text=True, check=True).stdout
    machine = subprocess.run("echo \"$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | "
                             "cut -d: -f2 | sed 's/^ *//')\"", shell=True, capture_output=True,
                             text=True).stdout.strip()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=ROOT).stdout.strip()
    load = open("/proc/loadavg").read().split()[:3]
    rows = "\n".join(
        f"| {n['accounts']:,} | {n['days']} | {n['policy']} | {n['locks']:,} | {n['false_trips']}"
        f"{' (' + n['first_trip'] + ')' if n['first_trip'] else ''} | {n['replay_s']} s |"
        for n in normals)
    wrows = "\n".join(
        f"| {w['accounts']:,} | {w['shape']} | {w['policy']} | "
        + (f"{w['trip']} ({', '.join(w['rules'])})"
           f"{' (false trip before)' if w.get('base_tripped') else ''} | {w['from_first_lock_s']} s | "
           f"{w['from_onset_s']} s | {w['locked']} | {w['would']:,} "
           f"({100.0 * w['locked'] / max(w['would'], 1):.2f} %) | {w['holds']:,} | "
           f"{', '.join(w.get('feed_moved') or []) or '—'} |"
           if w["tripped"] else f"no trip | — | — | {w['locked']} | — | {w['holds']} | — |")
        for w in waves)
    rrows = "\n".join(
        f"| {r['name']} | {r['locks']:,} | {r['accounts']:,} | {r['seconds']} s | "
        f"{r['accounts_per_s']:,.0f} |" for r in reverts)
    body = f"""## guard — the lock-wave breaker on simulated shops

Command: `bench/guard.sh` (`bench/guard.py`; SHOPS="{os.environ.get('SHOPS', '1000:30 100000:30 1000000:1')}",
WAVE_H={WAVE_H}), measured {datetime.date.today().isoformat()} on {machine}, commit {commit}
(load average at the end {' '.join(load)}). Each shop is `kagi simulate --seed 1`
(3 % of accounts given a fraud scenario), replayed with `kagi replay --db` (release
build, batches of 10,000; the waves in batches of 1,000) through `tests/data/guard/amount_cap.rules` ("cap": the
default policy and a rule locking amounts ≥ 1,000,000) or `policy/default.rules`.

**Normal traffic** (the breaker must stay armed; target 0 false trips):

| accounts | days | policy | automatic locks | false trips | replay |
|---|---|---|---|---|---|
{rows}

**Waves**: after the normal days the feed sends amounts ×100 for {WAVE_H} h
(sudden: every event; ramp: a share growing from 0 to all over 30 minutes).
"Trip after" is event time from the first wrong lock and from the feed's onset;
"locked" the accounts the wave's rules locked before the trip; "would" those the
wave would have locked in the {WAVE_H} h (locked plus held), the ratio the share
the breaker let through; "feed moved" the event fields the incident's feed
summary names (docs/guard.md "The feed summary"; the rules did not change).

| accounts | wave | policy | trip (rules) | after first wrong lock | after onset | locked | would (share) | holds | feed moved |
|---|---|---|---|---|---|---|---|---|---|
{wrows}

**Revert** of a watch-only wave (`breaker.enabled=false`: every lock of the
{WAVE_H} h written), the accounts created first so that each apology (ja+en,
message center and outbox mail) is rendered; `kagi incidents revert`, steps of 200:

| shop | locks | accounts | time | accounts/s |
|---|---|---|---|---|
{rrows}

{note + chr(10) + chr(10) if note else ""}{feed_text(cost)}**The detector, computed** (`python3 bench/guard_arl.py`; ARL0 = mean time
between false alarms with Poisson locks at the baseline, ARL1 = mean time to the
alarm at the wave's rate, whole minutes; the breaker counts the minute in
progress, so "1 min" is a trip inside the first minute). The per-rule floor is
0.2 locks/min, the all-rules floor 1 (`--floor 1.0`: ARL0 540 days):

```
{arl.rstrip()}
```
"""
    section.write("guard", body)


if __name__ == "__main__":
    main()
