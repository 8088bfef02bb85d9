#!/usr/bin/env python3
"""The stories across accounts of `kagi simulate --cross-account` through
`kagi replay` with the default policy: every fraud scenario's main variant is
caught (each of its groups, and a share of its accounts), the rows flag few
accounts without fraud, and no hard negative gets more than its bound
(tests/data/sim/detection.cases; scored by bench/detection.py). Also: the
option changes nothing when 0, and a bad value is refused naming it."""
import hashlib
import os
import shlex
import subprocess
import sys
import tempfile

SRC = os.environ.get("KG_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(SRC, "bench"))
import detection  # noqa: E402

KAGI = os.environ.get("KAGI_BIN", "build/asan/kagi")
DATA = os.environ.get("KG_TEST_DATA", os.path.join(SRC, "tests", "data"))
FAILURES = []


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print("FAIL:", what, file=sys.stderr)
    return cond


def cases(path):
    out = []
    with open(path, encoding="utf-8") as f:
        for no, line in enumerate(f, 1):
            words = shlex.split(line, comments=True)
            if words:
                out.append((no, words))
    return out


def main():
    path = os.path.join(DATA, "sim", "detection.cases")
    lines = cases(path)
    with tempfile.TemporaryDirectory() as d:
        r = None
        for no, w in lines:
            where = f"detection.cases:{no}"
            if w[0] == "stream":
                ev, dec = os.path.join(d, "ev.ndjson"), os.path.join(d, "dec.ndjson")
                p = subprocess.run([KAGI, "simulate", *w[1:], "--out", ev], capture_output=True,
                                   timeout=300)
                if not check(p.returncode == 0, f"{where}: simulate: {p.stderr[-300:]!r}"):
                    return 1
                with open(dec, "wb") as out:
                    p = subprocess.run([KAGI, "replay", "--policy",
                                        os.path.join(SRC, "policy", "default.rules"), ev],
                                       stdout=out, stderr=subprocess.PIPE, timeout=900)
                if not check(p.returncode == 0, f"{where}: replay: {p.stderr[-300:]!r}"):
                    return 1
                r = detection.score(ev, dec)
                check(set(r["actions"]) <= set(detection.RANK),
                      f"{where}: every event valid, decided: {dict(r['actions'])}")
                continue
            if not check(r is not None, f"{where}: a stream line comes first"):
                return 1
            kv = dict(x.split("=", 1) for x in w[3:] if "=" in x) if w[0] == "caught" else {}
            if w[0] == "caught":
                s, v = w[1], w[2]
                x = r["scenarios"][s]["variants"][v]
                check(x["groups"] > 0 and x["accounts"] > 0, f"{where}: {s} {v} present ({x})")
                if kv.get("groups") == "all":
                    check(x["groups_caught"] == x["groups"],
                          f"{where}: every {s} {v} group caught: {x['groups_caught']} of "
                          f"{x['groups']}, missed {x['missed_groups'][:5]}")
                if "recall>" in kv:
                    want = float(kv["recall>"].lstrip("="))
                    got = x["caught"] / x["accounts"] if x["accounts"] else 0
                    check(got >= want, f"{where}: {s} {v} recall {got:.3f} >= {want}")
            elif w[0] == "precision":
                d_ = r["scenarios"][w[1]]
                want = float(w[2].lstrip(">="))
                got = d_["right"] / d_["flagged"] if d_["flagged"] else 0
                check(d_["flagged"] > 0 and got >= want,
                      f"{where}: {w[1]} precision {got:.3f} >= {want} "
                      f"({d_['right']}/{d_['flagged']}; wrong {d_['wrong'][:5]})")
            elif w[0] == "hard":
                h = r["hard"][w[1]]
                bound = detection.RANK[w[2].split("=", 1)[1]]
                check(h["accounts"] > 0, f"{where}: {w[1]} present")
                allowed = {}  # e.g. locked<=2%: a bounded share above the bound
                for x in w[3:]:
                    name, share = x.split("<=", 1)
                    allowed[name] = float(share.rstrip("%")) / 100
                over = {name: h[name] for rank, name in
                        ((1, "challenged"), (2, "held"), (3, "locked"))
                        if rank > bound and h[name] > allowed.get(name, 0) * h["accounts"]}
                check(not over, f"{where}: {w[1]} at most {w[2]}: {over}, rules "
                      f"{dict(h['rules'].most_common(4))}, accounts {h['flagged'][:5]}")
            else:
                check(False, f"{where}: unknown line {w[0]!r}")

        # --cross-account 0 is the stream without the option, byte for byte
        base = ["--accounts", "300", "--days", "5", "--seed", "9"]
        a = subprocess.run([KAGI, "simulate", *base], capture_output=True, timeout=120)
        b = subprocess.run([KAGI, "simulate", *base, "--cross-account", "0"], capture_output=True,
                           timeout=120)
        check(a.returncode == 0 and a.stdout == b.stdout, "--cross-account 0 changes nothing")
        c = subprocess.run([KAGI, "simulate", *base, "--cross-account", "0.5"], capture_output=True,
                           timeout=120)
        c2 = subprocess.run([KAGI, "simulate", *base, "--cross-account", "0.5"],
                            capture_output=True, timeout=120)
        check(c.returncode == 0 and hashlib.md5(c.stdout).digest() == hashlib.md5(c2.stdout).digest()
              and c.stdout != a.stdout, "--cross-account 0.5: deterministic, another stream")
        for bad in ("1.5", "-0.1", "x"):
            e = subprocess.run([KAGI, "simulate", "--cross-account", bad], capture_output=True,
                               timeout=60)
            check(e.returncode == 2 and b"--cross-account" in e.stderr and not e.stdout,
                  f"--cross-account {bad}: exit 2 naming the option ({e.stderr!r})")

    if FAILURES:
        print(f"{len(FAILURES)} check(s) failed", file=sys.stderr)
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
