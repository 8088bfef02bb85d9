#!/usr/bin/env python3
"""Event parsing, data-driven: every case of tests/data/events/parse.jsonl
through `kagi replay`, one input line each. A case with "error": null is
accepted (its answer is a decision); any other gets exactly that error
object: code, message and field. The expected errors were taken from the
parser as it was before its passes were fused (src/risk/event.c), so that
a faster parser keeps every message; one fix since: an error with no field
name (a long or escaped unknown key) no longer starts with ": ". "in" is the line: a string (code
points U+DC80..U+DCFF stand for the raw bytes 0x80..0xFF, as Python's
surrogateescape) or a list of strings and [text, count] repeats."""
import json
import os
import re
import subprocess
import sys
import tempfile

import kagitest as kt

KAGI = os.environ["KAGI_BIN"]
SRC = os.environ["KG_SOURCE_DIR"]
CASES = os.path.join(os.environ["KG_TEST_DATA"], "events", "parse.jsonl")
failures = kt.failures  # the test's failed expectations
check = kt.expect


def line_of(spec):
    if isinstance(spec, str):
        spec = [spec]
    text = "".join(p if isinstance(p, str) else p[0] * p[1] for p in spec)
    return text.encode("utf-8", "surrogateescape")


with open(CASES, encoding="utf-8") as f:
    cases = [json.loads(line) for line in f if line.strip()]
check(len(cases) >= 100, f"cases found: {len(cases)}")
lines = [line_of(c["in"]) for c in cases]
# The cases share one replay, and most use event id e1 of account a1: an
# accepted case gets an id of its own, or it would be a retry of another
# case's e1 with another body (409 conflict). Refused cases keep their
# text (their messages may name byte positions).
for n, c in enumerate(cases):
    if c["error"] is None:
        lines[n] = re.sub(rb'"id"(\s*):(\s*)"e1"', rb'"id"\1:\2"e1-%d"' % n, lines[n], count=1)
for c, line in zip(cases, lines):
    check(b"\n" not in line and line.strip(b"\r"), f"{c['case']}: one non-empty line")

with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "events.ndjson")
    with open(path, "wb") as f:
        f.write(b"\n".join(lines) + b"\n")
    p = subprocess.run([KAGI, "replay", "--policy", os.path.join(SRC, "policy", "default.rules"),
                        path], capture_output=True, timeout=300)
check(p.returncode == 0, f"replay exit {p.returncode}: {p.stderr.decode(errors='replace')}")
answers = p.stdout.decode().rstrip("\n").split("\n")  # NDJSON: only \n ends a line (not U+0085)
check(len(answers) == len(cases), f"{len(answers)} answers to {len(cases)} lines")

accepted = 0
for c, answer in zip(cases, answers):
    got = json.loads(answer)
    if c["error"] is None:
        accepted += 1
        check("error" not in got and "action" in got, f"{c['case']}: accepted, got {answer}")
    else:
        check(got.get("error") == c["error"], f"{c['case']}: expected {c['error']}, got {answer}")
check(10 <= accepted < len(cases), f"both kinds of case: {accepted} accepted")

print(f"{len(cases)} cases, {accepted} accepted, {len(failures)} failures")
sys.exit(1 if failures else 0)
