#!/usr/bin/env python3
"""The shared real-mail corpus (../shared/corpus/mail, never copied into the
repository) with the shipped profile: no phishing judged genuine, no
unrelated mail judged phishing. Skips (exit 77) when the corpus is absent."""
import csv
import json
import os
import subprocess
import sys

KAGI = os.environ["KAGI_BIN"]
SRC = os.environ["KG_SOURCE_DIR"]
candidates = [os.environ.get("KG_CORPUS", ""), "/work/shared/corpus",
              os.path.join(SRC, "..", "shared", "corpus"),
              os.path.join(SRC, "..", "..", "shared", "corpus")]
root = next((c for c in candidates if c and os.path.isfile(os.path.join(c, "mail", "labels.csv"))),
            None)
if not root:
    print("SKIP: shared corpus not found (looked in %s)" % ", ".join(c for c in candidates if c))
    sys.exit(77)

mail = os.path.join(root, "mail")
with open(os.path.join(mail, "labels.csv"), newline="", encoding="utf-8", errors="replace") as f:
    rows = [(r["file"], r["label"]) for r in csv.DictReader(f)]
files = [os.path.join(mail, r[0]) for r in rows]
p = subprocess.run([KAGI, "mail", "check", "--shop",
                    os.path.join(SRC, "examples", "shops", "amazon.profile"), *files],
                   capture_output=True, text=True, timeout=1200)
out = [json.loads(x) for x in p.stdout.splitlines()]
bad = []
if len(out) != len(rows):
    bad.append("expected %d results, got %d (%s)" % (len(rows), len(out), p.stderr[-500:]))
counts = {}
for (name, label), r in zip(rows, out):
    v = r.get("verdict", "error")
    counts[(label, v)] = counts.get((label, v), 0) + 1
    if label == "phishing" and v == "genuine":
        bad.append("%s: phishing judged genuine" % name)
    if label == "unrelated" and v == "phishing":
        bad.append("%s: unrelated judged phishing" % name)
    if "error" in r:
        bad.append("%s: %s" % (name, r["error"]))
print("verdicts by label:", {"%s/%s" % k: n for k, n in sorted(counts.items())})
for b in bad:
    print("FAIL:", b)
sys.exit(1 if bad else 0)
