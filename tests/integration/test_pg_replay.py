#!/usr/bin/env python3
"""`kagi replay --db postgres://...` (issue 16): batches on PostgreSQL with
duplicate ids and retries, and two replays sharing one database.

retries_and_duplicates: a stream whose batches repeat events (the same
event twice in one batch, an event of an earlier batch again, an id sent
again with another body) decides on PostgreSQL exactly as on a SQLite file
(answers without lock ids, the events stored once each), and replayed a
second time on the same stores (every event a retry, its stored decision
read back: on PostgreSQL through the batch's read-ahead) answers as the
first time on both.

two_replays_share_one_store: two `kagi replay` processes on one database
at once, each with half of the events of the same accounts (lines taken
alternately), in small batches: each one's cached accounts keep going
stale (the other wrote them), and a stale batch is decided again on the
rows as they are now, as kagid does (docs/scaling.md) - both finish with
a decision for every line and every event is stored once.

Needs the PostgreSQL server of ctest's fixture "pg" (KAGI_TEST_STORE_FILE);
exits 77 (skipped) without it."""
import json
import os
import subprocess
import sys
import tempfile

import kagitest as kt


def psql(url, sql):
    p = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", url, "-c", sql],
                       capture_output=True, text=True, timeout=120, check=True)
    return p.stdout.splitlines()


def stream(tmp, accounts, days, seed):
    path = os.path.join(tmp, f"sim{seed}.ndjson")
    kt.kagi("simulate", "--accounts", str(accounts), "--days", str(days), "--seed", str(seed),
            "--out", path)
    with open(path, encoding="utf-8") as f:
        return [x for x in f.read().splitlines() if x.strip()]


def write(tmp, name, lines):
    path = os.path.join(tmp, name)
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return path


def decisions(p, what):
    kt.check(p.returncode == 0, f"{what} exited {p.returncode}", p.stderr[-2000:])
    return p.stdout.splitlines()


def retries_and_duplicates():
    tmp = tempfile.mkdtemp(prefix="kagitest-pgreplay-")
    lines = stream(tmp, 100, 8, 11)[:600]
    kt.check(len(lines) >= 300, "the simulated stream is too short", len(lines))
    mixed = []
    for i, x in enumerate(lines):
        mixed.append(x)
        if i % 17 == 3:
            mixed.append(x)  # the same event again, in the same batch
        if i % 53 == 40:
            mixed.append(lines[i - 35])  # an event of an earlier batch again
        if i % 97 == 50:
            ev = json.loads(x)
            # the same id with another body (its time a millisecond off)
            ev["ts"] = ev["ts"][:-2] + ("1Z" if ev["ts"][-2] != "1" else "2Z")
            mixed.append(json.dumps(ev, ensure_ascii=False))
    path = write(tmp, "mixed.ndjson", mixed)
    url = kt.test_store()
    lite = os.path.join(tmp, "lite.db")
    for db in (url, lite):
        kt.kagi("init", "--db", db)
    first_pg = decisions(kt.replay(path, db=url, batch=100), "replay on postgres")
    first_lite = decisions(kt.replay(path, db=lite, batch=100), "replay on sqlite")
    kt.check(len(first_pg) == len(mixed), "one answer per line",
             (len(first_pg), len(mixed)))
    diff = [(i, a, b) for i, (a, b) in enumerate(zip(first_pg, first_lite))
            if kt.without_lock_ids([a]) != kt.without_lock_ids([b])]
    kt.check(not diff and len(first_pg) == len(first_lite), "postgres answers as sqlite",
             diff[:2])
    errors = [json.loads(x)["error"]["code"] for x in first_pg if '"error"' in x[:10]]
    kt.check(errors and set(errors) <= {"conflict"}, "only the other bodies are refused", errors)
    stored = int(psql(url, "SELECT count(*) FROM events")[0])
    kt.check(stored == len(lines), "every event stored once", (stored, len(lines)))
    again_pg = decisions(kt.replay(path, db=url, batch=100), "replay again on postgres")
    again_lite = decisions(kt.replay(path, db=lite, batch=100), "replay again on sqlite")
    kt.check(kt.without_lock_ids(again_pg) == kt.without_lock_ids(again_lite),
             "retries on postgres answer as on sqlite")
    kt.check(again_pg == first_pg, "a retry answers the first answer (lock ids too)")
    kt.check(int(psql(url, "SELECT count(*) FROM events")[0]) == len(lines),
             "a retry stores nothing")


def two_replays_share_one_store():
    tmp = tempfile.mkdtemp(prefix="kagitest-pgreplay-")
    lines = stream(tmp, 30, 90, 5)[:3000]
    halves = [write(tmp, f"half{k}.ndjson", lines[k::2]) for k in (0, 1)]
    url = kt.test_store()
    kt.kagi("init", "--db", url)
    args = ["replay", "--policy", os.path.join(kt.SOURCE_DIR, "policy", "default.rules"),
            "--db", url, "--batch", "10"]
    env = dict(os.environ, **kt.FAST_ENV, KAGI_BREAKER_ENABLED="false")
    procs = [subprocess.Popen([kt.KAGI_BIN, *args, h], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env) for h in halves]
    outs = [p.communicate(timeout=600) for p in procs]
    for k, (p, (out, errs)) in enumerate(zip(procs, outs)):
        kt.check(p.returncode == 0, f"replay {k} exited {p.returncode}", errs[-2000:])
        answers = out.splitlines()
        kt.check(len(answers) == len(lines[k::2]), f"replay {k}: one answer per line",
                 (len(answers), len(lines[k::2])))
        refused = [x for x in answers if x.startswith('{"error"')]
        kt.check(not refused, f"replay {k}: every line decided", refused[:3])
    stored = int(psql(url, "SELECT count(*) FROM events")[0])
    kt.check(stored == len(lines), "every event stored once", (stored, len(lines)))


if __name__ == "__main__":
    if not kt.test_store():
        print("skipped: no PostgreSQL store (KAGI_TEST_STORE_FILE)")
        sys.exit(77)
    kt.main([retries_and_duplicates, two_replays_share_one_store])
