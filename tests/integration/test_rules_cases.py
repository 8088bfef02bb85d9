#!/usr/bin/env python3
"""Risk rules, data-driven: every tests/data/rules/*.cases through
`kagi rules test` (X.cases runs against X.rules when it exists, else
policy/default.rules); every tests/data/rules/errors/*.rules refused by
`kagi rules check` with the file:line:col and message of its first line;
the case runner itself fails on a wrong expectation; `kagi replay` prints
one decision per input line, in order."""
import glob
import json
import os
import subprocess
import sys
import tempfile

KAGI = os.environ["KAGI_BIN"]
SRC = os.environ["KG_SOURCE_DIR"]
DATA = os.path.join(os.environ["KG_TEST_DATA"], "rules")
DEFAULT = os.path.join(SRC, "policy", "default.rules")
failures = []


def run(*args, stdin=None):
    p = subprocess.run([KAGI, *args], input=stdin, capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout, p.stderr


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)


rc, out, err = run("rules", "check", DEFAULT)
check(rc == 0 and "ok" in out, f"default policy compiles: {rc} {out} {err}")

cases = sorted(glob.glob(os.path.join(DATA, "*.cases")))
check(len(cases) >= 4, f"case files found: {cases}")
for c in cases:
    pol = c[:-len(".cases")] + ".rules"
    if not os.path.exists(pol):
        pol = DEFAULT
    rc, out, err = run("rules", "test", pol, c)
    check(rc == 0 and " 0 failed" in out, f"{os.path.basename(c)}: rc={rc}\n{out}{err}")
    print(os.path.basename(c), out.strip())

# the runner can fail: a wrong action, a rule that did not fire, a wrong error field
with tempfile.TemporaryDirectory() as tmp:
    bad = os.path.join(tmp, "bad.cases")
    with open(bad, "w") as f:
        f.write('template login {"type":"login","account":"a1","success":false,'
                '"ip":"192.0.2.1","device_id":"d1"}\n'
                'case wrong on purpose\n'
                'event login {"id":"l1","ts":"2026-03-01T10:00:00Z"}\n'
                'expect hold\n'
                'expect allow failed_logins\n'
                'event login {"id":"l2","ts":"2026-03-01T10:00:00Z","success":"no"}\n'
                'expect-error ip\n')
    rc, out, err = run("rules", "test", DEFAULT, bad)
    check(rc == 1 and "3 failed" in out, f"runner reports failures: rc={rc} {out} {err}")
    check("bad.cases:4:" in err and "bad.cases:5:" in err and "bad.cases:7:" in err,
          f"failures name file:line: {err}")

for f in sorted(glob.glob(os.path.join(DATA, "errors", "*.rules"))):
    first = open(f, encoding="utf-8", errors="replace").readline()
    want = first.split("# error: ", 1)[1].strip()
    rc, out, err = run("rules", "check", f)
    check(rc == 1 and f"{f}:{want}" in err, f"{os.path.basename(f)}: want {want!r}, got rc={rc} {err!r}")

# replay in memory: one line per non-blank input line, in order, errors inline
events = [
    {"id": f"e{i}", "type": "login", "account": f"acct{i % 3}", "ts": f"2026-03-01T10:{i:02d}:00Z",
     "success": False, "ip": "192.0.2.1", "device_id": "d"} for i in range(20)]
lines = [json.dumps(e) for e in events]
lines.insert(5, '{"id":"bad","type":"login"}')
lines.insert(9, "")
rc, out, err = run("replay", "--policy", DEFAULT, "-", stdin="\n".join(lines) + "\n")
outl = out.splitlines()
check(rc == 0 and len(outl) == 21, f"replay line count: rc={rc} {len(outl)} {err}")
if len(outl) == 21:
    d = [json.loads(x) for x in outl]
    check("error" in d[5] and d[5]["error"]["field"] == "account", f"inline error: {d[5]}")
    ids = [x.get("event") for x in d if "event" in x]
    check(ids == [e["id"] for e in events], f"order kept: {ids}")
    acts = [x["action"] for x in d if x.get("account") == "acct0"]
    check(acts == ["allow"] * 4 + ["challenge"] * 3, f"acct0 actions: {acts}")

rc, out, err = run("replay", "--policy", os.path.join(DATA, "errors", "bad_type.rules"), "-", stdin="")
check(rc == 1 and "bad_type.rules:3:15:" in err, f"replay refuses a broken policy: {err}")

if failures:
    print(f"{len(failures)} failure(s)", file=sys.stderr)
    sys.exit(1)
print("ok")
