#!/usr/bin/env python3
"""A hot account: one account with thousands of decided events (its seen
entries are indexed, not scanned), retried early, in the middle and late,
during growth and after it, in memory and with a store (in flight in the
batch, and after commit, when settle has removed the entries). A retry
answers the first decision and counts nothing: every failed login's
decision carries the account's count, so one event counted twice, or one
retry decided anew, shows in the answers that follow."""
import json
import os
import subprocess
import sys
import tempfile
import time

import kagitest as kt

KAGI = os.environ["KAGI_BIN"]
failures = kt.failures  # the test's failed expectations
check = kt.expect

POLICY = """rule failed on login {
  when not success
  challenge
  reason "{count(logins.failed, 30d)} failed logins"
}
"""
N = 6000  # events of the hot account


def event(i, account="hot", success=None):
    if success is None:
        success = i % 5 == 4  # some plain allows (stored without a decision)
    ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(1795000000 + i))
    return json.dumps({"id": f"e{i}", "type": "login", "account": account,
                       "ts": ts, "success": success,
                       "ip": f"10.0.{i % 7}.1", "device_id": "d"})


def stream():
    """(line, key): the hot account's events with retries of recent ids
    (in flight in a store batch) and of older ones, a few other accounts,
    then retries of early, middle and late ids and one new event."""
    lines = []
    for i in range(N):
        lines.append(event(i))
        if i % 13 == 0 and i >= 5:
            lines.append(event(i - 5))
        if i % 97 == 0:
            lines.append(event(i // 2))
        if i % 50 == 0:
            lines.append(event(i, account=f"cold{i % 3}", success=False))
    for i in (0, 1, 2, 7, 31, 32, 33, 63, 64, 65, 1000, N // 2, N // 2 + 1, N - 3, N - 2, N - 1):
        lines.append(event(i))
    lines.append(event(N))  # new: counts the failed logins before it once each
    return lines


def replay(path, policy, db=None, batch=None):
    args = [KAGI, "replay", "--policy", policy]
    if db:
        args += ["--db", db, "--batch", str(batch)]
    try:  # a lost index entry may make a removal probe forever
        p = subprocess.run(args + [path], capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        check(False, f"replay {args}: no answer in 120 s")
        return []
    check(p.returncode == 0, f"replay {args}: {p.stderr}")
    return p.stdout.splitlines()


def check_answers(out, lines, what):
    check(len(out) == len(lines), f"{what}: {len(out)} answers for {len(lines)} lines")
    first = {}
    for line, ans in zip(lines, out):
        ev = json.loads(line)
        key = (ev["account"], ev["id"])
        if key in first:
            check(ans == first[key], f"{what}: retry of {key}: {ans} != {first[key]}")
        else:
            first[key] = ans
    # the last event counts every distinct failed login of the account once
    failed = sum(1 for i in range(N + 1) if i % 5 != 4)
    last = json.loads(out[-1])
    got = [r["detail"] for r in last["reasons"]]
    check(got == [f"{failed} failed logins"],
          f"{what}: last event: {got} (want {failed} failed logins)")


with tempfile.TemporaryDirectory() as tmp:
    policy = os.path.join(tmp, "hot.rules")
    with open(policy, "w") as f:
        f.write(POLICY)
    lines = stream()
    path = os.path.join(tmp, "hot.ndjson")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")

    mem = replay(path, policy)
    check_answers(mem, lines, "memory")

    # in flight: one batch holds every entry; then entries removed after
    # each commit of 1000 (the retries of recent ids are in flight)
    for batch in (100000, 1000, 333):
        db = os.path.join(tmp, f"b{batch}.db")
        out = replay(path, policy, db, batch)
        check(out == mem, f"--db --batch {batch}: answers differ from memory mode")
        # a restart: every event is a retry of a committed one
        again = replay(path, policy, db, batch)
        check(again == mem, f"--db --batch {batch} again: answers differ")

if failures:
    sys.exit(1)
print("ok")
