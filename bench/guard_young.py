"""A wave in a new store's first day (the young day, docs/guard.md; issue 12):
the 1,000,000-account shop's day 1 (bench/guard.sh's simulation, made first
if absent) replayed into a new store up to 12:00 through amount_cap.rules,
then amounts x100 for 6 h (SHAPE sudden or ramp). Prints one JSON line per
run; bench/guard.sh's section quotes the figures (docs/BENCHMARKS.md guard).
usage: python3 bench/guard_young.py [BUILD_DIR]  (env: SHAPES, default "sudden ramp")"""
import hashlib
import json
import os
import sqlite3
import sys

sys.argv = ["guard.py"] + sys.argv[1:]
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import guard as g  # noqa: E402

src = os.path.join(g.OUT, "sim-1000000-2.ndjson")
if not os.path.exists(src):
    os.makedirs(g.OUT, exist_ok=True)
    g.kagi("simulate", "--accounts", "1000000", "--days", "2", "--seed", "1", "--out", src,
           timeout=7200)


def split(shape):
    """The day up to 12:00 (pre) and the 6 h from 12:00 (the wave)."""
    pre, wv = src + ".young-pre", src + f".young-{shape}"
    onset, ts = None, {}
    with open(src) as f, open(pre, "w") as a, open(wv, "w") as b:
        for line in f:
            e = json.loads(line); t = g.ms(e["ts"])
            if onset is None: onset = t - t % g.DAY + 12 * 3600 * 1000
            if t < onset: a.write(line); continue
            if t >= onset + 6 * 3600 * 1000: break
            share = 1.0 if shape == "sudden" else min(1.0, (t - onset) / (30 * 60 * 1000))
            h = int(hashlib.blake2b(e["id"].encode(), digest_size=4).hexdigest(), 16) / 2**32
            if h < share:
                if "amount" in e: e["amount"] *= 100
                for it in e.get("items") or []: it["price"] *= 100
            ts[e["id"]] = t
            b.write(json.dumps(e, separators=(",", ":")) + "\n")
    return pre, wv, onset, ts


def run(shape, base):
    pre, wv, onset, ts = split(shape)
    # wave_run's measure on these files
    db = os.path.join(g.OUT, f"young-{shape}.db")
    g.fresh(db)
    os.system(f"cp {base} {db}")
    with sqlite3.connect(db) as c: before = {r[0] for r in c.execute("SELECT lock_id FROM locks")}
    out, secs = g.replay(db, g.CAP, wv, quiet=False, batch=1000)
    incs = json.loads(g.kagi("incidents", "list", "--db", db).stdout)
    locks = [json.loads(x) for x in out.splitlines()]
    wave_locks = [d for d in locks if d["action"] == "lock" and d["lock"]["id"] not in before]
    held = [d for d in locks if d["action"] == "hold" and "breaker" in d]
    r = {"shape": shape, "incidents": len(incs), "holds": len(held)}
    if incs:
        inc = incs[-1]; rules = set(inc["rules"]); trip = g.ms(inc["tripped_at"])
        wrong = [d for d in wave_locks if any(x["rule"] in rules for x in d["reasons"])]
        first = min((ts[d["event"]] for d in wrong), default=trip)
        would = {d["account"] for d in wrong} | {d["account"] for d in held}
        r.update(rules=sorted(rules), trip=inc["trip"], tripped_at=inc["tripped_at"], from_first_lock_s=round((trip-first)/1000,1),
                 from_onset_s=round((trip-onset)/1000,1), locked=len({d["account"] for d in wrong}), would=len(would))
    else:
        r.update(locked=len({d["account"] for d in wave_locks}))
    print(json.dumps(r), flush=True)


pre, _, _, _ = split("sudden")
base = os.path.join(g.OUT, "young-base.db")
g.fresh(base)
g.replay(base, g.CAP, pre)
print(json.dumps({"before_noon_trips": len(json.loads(g.kagi("incidents", "list", "--db", base).stdout))}),
      flush=True)
for shape in os.environ.get("SHAPES", "sudden ramp").split():
    run(shape, base)
