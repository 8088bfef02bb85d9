"""The README's 5-minute tour runs as written against a `make run` demo on a
port other than 8080: every ```sh block of its section, in order, in one
bash (`set -e`: a failing command fails the test), in a folder that looks
like the repository to the tour (var/ is the demo's, build/release/kagi the
kagi under test, policy/ the shipped one), with P set to the demo's port.
Each block's documented effect is checked on its output."""
import json
import os
import re
import subprocess

import kagitest as kt
from kagitest import check
from demo import Demo

MARK = "@@tour-block@@"


def tour_blocks():
    text = open(os.path.join(kt.SOURCE_DIR, "README.md"), encoding="utf-8").read()
    start = text.index("## A 5-minute tour")
    end = text.index("\n## ", start + 1)
    return re.findall(r"^```sh\n(.*?)^```", text[start:end], re.S | re.M)


def json_lines(out):
    found = []
    for line in out.splitlines():
        if line.startswith("{"):
            try:
                found.append(json.loads(line))
            except ValueError:
                pass
    return found


def expect_setup(out, d):
    check(out.strip() == "", "the set-up block prints nothing", out)


def expect_order(out, d):
    (dec,) = json_lines(out)
    check(dec["action"] == "lock" and dec["lock"]["reason"] == "gift_card", "the order locks", dec)
    check(any(r["rule"] == "gift_card_day" for r in dec["reasons"]), "gift_card_day", dec)


def expect_login(out, d):
    (ans,) = json_lines(out)
    check(ans["result"] == "locked" and ans["ticket"] and ans["message"]["ja"],
          "the login shows the lock, its message and a ticket", ans)
    check(any(l["reason"] == "gift_card" for l in ans["locks"]), "the gift-card lock", ans)


def expect_messages(out, d):
    msgs = json_lines(out)[0]["messages"]
    # the tour reads it with the agent key: the name is masked (S5); the
    # customer's mailbox (below) greets by name
    check(any(m["kind"] == "lock_notice" and "*** 様" in m["body"] for m in msgs),
          "the message center has the lock notice, the name masked for an agent", msgs)
    check(not any("山田" in m["body"] for m in msgs), "no registered name for an agent", msgs)
    check("山田 太郎 様" in out and "Kagi Demo Shop" in out and "message-id:" in out,
          "the mailbox shows the notice's text", out[-1500:])


def expect_mail_check(out, d):
    genuine, forged = json_lines(out)
    check(genuine["verdict"] == "genuine", "kagi's own notice checks genuine", genuine)
    ids = [s["id"] for s in forged["signals"]]
    check(forged["verdict"] == "phishing" and "sender_lookalike" in ids,
          "the forged copy is phishing", forged)


def expect_reset(out, d):
    started, finished = json_lines(out)
    check(started["result"] == "accepted", "recovery start", started)
    check(re.search(r"確認コード: \d{6}", out) and re.search(r"^Code: \d{6}$", out, re.M),
          "the mailbox shows the code", out)
    check(finished["result"] == "ok" and finished["account"] == "demo-ja-2" and
          [l["reason"] for l in finished["lifted"]] == ["compromised"],
          "the reset lifts the compromised lock", finished)
    r = d.request("POST", "/v1/login", {"email": "hanako@example.jp",
                  "password": "hanako-new-pass"}, key="service")
    check(r.status == 200, "she logs in with the new password", r)


def expect_offline(out, d):
    decisions = json_lines(out)
    check(len(decisions) == 3 and all("action" in x for x in decisions),
          "replay prints decisions", out[:1000])
    check(re.search(r"policy/default.rules: ok, \d+ rules", out), "rules check", out)


def expect_guard(out, d):
    lines = json_lines(out)
    guard = next((x for x in lines if "state" in x and "max_locks" in x), None)
    check(guard and guard["state"] == "armed", "the breaker is armed", out[:1000])
    check(re.search(r"[0-9a-f]{16}", out), "the policy versions list one", out[:1000])
    check(any("incidents" in x and x["incidents"] == [] for x in lines), "no incident", out[:1000])


def expect_audit(out, d):
    check(re.search(r"0 altered, 0 inserted, 0 removed\nintact", out), "the audit log verifies", out)


EXPECT = [expect_setup, expect_order, expect_login, expect_messages, expect_mail_check,
          expect_reset, expect_offline, expect_guard, expect_audit]


def link(src, dst):
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    os.symlink(src, dst)


def test_readme_tour():
    blocks = tour_blocks()
    check(len(blocks) == len(EXPECT), "the tour's blocks, one check each", len(blocks))
    check(not any("8080" in b and "${P:-8080}" not in b for b in blocks),
          "no block names port 8080 but through P", [b for b in blocks if "8080" in b])
    with Demo() as d:
        check(d.port != 8080, "the demo is not on 8080", d.port)
        work = os.path.join(d.tmp, "work")
        link(d.var, os.path.join(work, "var"))
        link(os.path.abspath(kt.KAGI_BIN), os.path.join(work, "build", "release", "kagi"))
        link(os.path.join(kt.SOURCE_DIR, "policy"), os.path.join(work, "policy"))
        script = "set -e\n" + "".join(f"echo {MARK}\n{b}" for b in blocks)
        env = dict(os.environ, **kt.FAST_ENV, P=str(d.port))
        env.pop("KAGI_POLICY_FILE", None)
        p = subprocess.run(["bash", "-c", script], cwd=work, capture_output=True, text=True,
                           env=env, timeout=600)
        check(p.returncode == 0, f"the tour runs (exit {p.returncode})",
              (p.stdout[-2000:], p.stderr[-2000:]))
        outs = p.stdout.split(MARK + "\n")[1:]
        check(len(outs) == len(blocks), "every block ran", len(outs))
        for i, (out, expect) in enumerate(zip(outs, EXPECT)):
            try:
                expect(out, d)
            except kt.TestFailure as e:
                raise kt.TestFailure(f"tour block {i} ({expect.__name__}): {e}") from None


if __name__ == "__main__":
    kt.main([test_readme_tour])
