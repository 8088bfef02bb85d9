#!/usr/bin/env python3
"""kagi mail check on the hand-made fixtures of tests/data/mail (cases.tsv:
expected verdict, signals that must and must not fire), plus the command's
failure paths: unreadable file, over-limit message, bad profile, usage."""
import json
import os
import subprocess
import sys
import tempfile

KAGI = os.environ["KAGI_BIN"]
DATA = os.path.join(os.environ["KG_TEST_DATA"], "mail")
SHOP = os.path.join(DATA, "shop.profile")
failures = []


def run(*args, stdin=None):
    return subprocess.run([KAGI, *args], capture_output=True, text=True, input=stdin,
                          timeout=120)


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


cases = []
with open(os.path.join(DATA, "cases.tsv"), encoding="utf-8") as f:
    for line in f:
        if line.startswith("#") or not line.strip():
            continue
        name, verdict, present, absent = line.rstrip("\n").split("\t")
        cases.append((name, verdict, present, absent))
check(len(cases) >= 40, "cases.tsv has the fixtures")

p = run("mail", "check", "--shop", SHOP, *[os.path.join(DATA, c[0]) for c in cases])
check(p.returncode == 0, "mail check exits 0 on the fixtures: %s" % p.stderr)
results = [json.loads(line) for line in p.stdout.splitlines()]
check(len(results) == len(cases), "one JSON object per file")
seen_signals = set()
for (name, verdict, present, absent), r in zip(cases, results):
    check(r["file"].endswith(name), "%s: file field" % name)
    ids = {s["id"] for s in r.get("signals", [])}
    seen_signals |= ids
    check(r.get("verdict") == verdict, "%s: verdict %s, want %s (%s)" % (
        name, r.get("verdict"), verdict, sorted(ids)))
    for s in present.split(","):
        if s != "-":
            check(s in ids, "%s: signal %s missing (%s)" % (name, s, sorted(ids)))
    for s in absent.split(","):
        if s != "-":
            check(s not in ids, "%s: signal %s must not fire" % (name, s))
    check(isinstance(r.get("score"), int), "%s: integer score" % name)
    for s in r.get("signals", []):
        check(s["detail"] and isinstance(s["weight"], int), "%s: %s explained" % (name, s["id"]))
    check(not (r.get("verdict") == "genuine" and not r.get("authenticated")),
          "%s: never genuine without authentication" % name)

# every signal the analyser has (docs/mail.md) is proven by a fixture or by
# the unit test (dkim_*, message center, account ones need a key or a store)
for sig in ["sender_lookalike", "sender_brand_domain", "sender_brand_local", "brand_display_name",
            "brand_subject", "reply_to_foreign", "official_unauthenticated", "auth_fail",
            "auth_pass", "link_ip", "link_shortener", "link_userinfo", "link_lookalike",
            "link_brand_host", "link_text_mismatch", "link_foreign", "link_login_foreign",
            "official_links_elsewhere", "greeting_generic", "copyright_year", "vague_reason",
            "pressure", "mixed_script", "machine_translation", "callback_phone",
            "list_rewrite", "forwarded", "from_malformed", "notice_lure", "prize_lure"]:
    check(sig in seen_signals, "a fixture shows signal %s" % sig)

# stdin, a missing file and an over-limit message: errors per file, exit 1
with tempfile.TemporaryDirectory() as tmp:
    big = os.path.join(tmp, "big.eml")
    with open(big, "w") as f:
        f.write("From: a@b.example\nContent-Type: multipart/mixed; boundary=x\n\n")
        f.write("--x\nContent-Type: text/plain\n\nhi\n" * 300 + "--x--\n")
    missing = os.path.join(tmp, "missing.eml")
    ok = os.path.join(DATA, "sender_one_edit.eml")
    p = run("mail", "check", "--shop", SHOP, ok, missing, big)
    check(p.returncode == 1, "exit 1 when a file fails")
    lines = [json.loads(x) for x in p.stdout.splitlines()]
    check(len(lines) == 3, "still one object per file")
    check(lines[0].get("verdict") == "phishing", "the good file is analysed")
    check(lines[1].get("error", {}).get("code") == "io", "missing file: io error %s" % lines[1])
    check(lines[2].get("error", {}).get("code") == "too_large" and
          "KG_MAIL_PARTS_MAX" in lines[2]["error"]["message"], "parts limit named: %s" % lines[2])

    with open(ok, encoding="utf-8") as f:
        p = run("mail", "check", "--shop", SHOP, "-", stdin=f.read())
    check(p.returncode == 0 and json.loads(p.stdout)["verdict"] == "phishing", "reads stdin")

    bad = os.path.join(tmp, "bad.profile")
    with open(bad, "w") as f:
        f.write("brand = X\nsender_domain = x.example\ncolour = red\n")
    p = run("mail", "check", "--shop", bad, ok)
    check(p.returncode == 1 and "bad.profile:3" in p.stderr and "colour" in p.stderr,
          "bad profile names file:line: %r" % p.stderr)

p = run("mail", "check", "--shop", SHOP)
check(p.returncode == 2, "no files: usage, exit 2")
with tempfile.TemporaryDirectory() as tmp:
    conf = os.path.join(tmp, "kagi.conf")
    with open(conf, "w") as f:
        f.write("shop.profile = %s\n" % SHOP)
    p = run("mail", "check", "--config", conf, os.path.join(DATA, "sender_one_edit.eml"))
    check(p.returncode == 0 and json.loads(p.stdout)["verdict"] == "phishing",
          "profile from --config: %s" % p.stderr)
    env = dict(os.environ, KAGI_SHOP_PROFILE=SHOP)
    p = subprocess.run([KAGI, "mail", "check", os.path.join(DATA, "sender_one_edit.eml")],
                       capture_output=True, text=True, env=env, timeout=120)
    check(p.returncode == 0 and json.loads(p.stdout)["verdict"] == "phishing",
          "profile from KAGI_SHOP_PROFILE: %s" % p.stderr)
env = {k: v for k, v in os.environ.items() if k != "KAGI_SHOP_PROFILE"}
p = subprocess.run([KAGI, "mail", "check", os.path.join(DATA, "sender_one_edit.eml")],
                   capture_output=True, text=True, env=env, timeout=120)
check(p.returncode == 2 and "no shop profile" in p.stderr, "no profile anywhere: %r" % p.stderr)
p = run("mail", "check", "--bogus", "x")
check(p.returncode == 2, "unknown option: exit 2")
p = run("mail", "check", "--shop", SHOP, "--db", "x.db", "f.eml")
check(p.returncode == 2, "--db without --account: exit 2")
p = run("mail", "--help")
check(p.returncode == 0 and "mail check" in p.stdout, "--help")
p = run("mail", "check", "--shop", os.path.join(DATA, "nope.profile"), "x")
check(p.returncode == 1 and "nope.profile" in p.stderr, "missing profile is an error")

if failures:
    print("%d failure(s)" % len(failures))
    sys.exit(1)
print("ok: %d fixtures" % len(cases))
