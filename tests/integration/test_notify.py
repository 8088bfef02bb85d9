"""Notices and webhooks leave kagid for real receivers on loopback (issue 6).

- every notice kind, ja and en, reaches a real SMTP listener with the
  customer's name, the current year, the reason and a stable Message-ID;
- kagid killed (SIGKILL) while a slow listener holds a message, then
  restarted: every message arrives at least once, none with two Message-IDs;
- a webhook receiver checks the HMAC signature; a wrong secret is detected,
  the event stays queued with the error and is delivered once the secret is
  right again;
- a bad template stops `kagi serve` and `kagi outbox check-templates` with
  file:line.
"""
import datetime
import json
import os
import subprocess
import sys
import time

import kagitest as kt
import mailsink

YEAR = datetime.datetime.now(datetime.timezone.utc).year
SECRET = "whsec_a2FnaV90ZXN0XzAxMjM0NTY3ODlfa2V5"  # whsec_ + base64 of 24 bytes

FAST = {
    "KAGI_NOTIFY_POLL_MS": "50",
    "KAGI_NOTIFY_RETRY_BASE_MS": "200",
    "KAGI_NOTIFY_RETRY_MAX_MS": "1000",
    "KAGI_NOTIFY_LEASE_S": "2",
    "KAGI_NOTIFY_TIMEOUT_S": "20",
    "KAGI_SHOP_NAME": "Kagi Mart",
    "KAGI_MAIL_FROM": "notices@shop.example",
}


def send_test(k, to, name, kind, lang, *fields):
    args = ["outbox", "send-test", "--db", k.db, "--to", to, "--name", name,
            "--kind", kind, "--lang", lang, "--account", "acc-" + to.split("@")[0]]
    for f in fields:
        args += ["--field", f]
    mid = k.kagi(*args).stdout.strip()
    kt.check(mid.startswith("<") and mid.endswith("@shop.example>"), "send-test Message-ID", mid)
    return mid


def outbox(k, *extra):
    out = k.kagi("outbox", "list", "--db", k.db, "--json", "--limit", "0", *extra).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def webhooks(k):
    out = k.kagi("webhooks", "list", "--db", k.db, "--json", "--limit", "0").stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def wait(pred, what, timeout_s=60.0):
    end = time.time() + timeout_s
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    raise kt.TestFailure("timed out waiting for " + what)


# ---- templates -------------------------------------------------------------
def bad_template_refuses_to_load():
    bad = kt.data_path("notify", "bad", "unknown_field")
    p = kt.kagi("outbox", "check-templates", bad, check_rc=False)
    kt.check(p.returncode == 1, "check-templates exit status", p.returncode)
    kt.check("ja/lock.tmpl:5: unknown field {{nmae}}" in p.stderr, "check-templates names file:line",
             p.stderr)
    p = kt.kagi("outbox", "check-templates", kt.data_path("notify", "good"))
    kt.check("templates ok" in p.stdout, "good override dir", p.stdout)
    k = kt.Kagid(env={"KAGI_NOTIFY_TEMPLATES_DIR": bad})
    try:
        k.start()
        raise kt.TestFailure("kagid started with a broken template")
    except kt.TestFailure as e:
        kt.check("ja/lock.tmpl:5: unknown field {{nmae}}" in str(e), "kagid names file:line",
                 str(e)[-800:])
    finally:
        k.cleanup()


# ---- every notice reaches a real SMTP listener --------------------------------
NOTICES = [
    # kind, lang, name, fields, subject, words that must be in the text
    ("lock", "ja", "山田 太郎", ["reason=gift_card"], "アカウントロックに関するお知らせ",
     ["山田 太郎 様", "ギフトカード", f"© {YEAR} Kagi Mart"]),
    ("lock", "en", "Alice Smith", ["reason=compromised"], "Notice about your account lock",
     ["Dear Alice Smith,", "Reset your password", f"© {YEAR} Kagi Mart"]),
    ("unlock", "ja", "佐藤 花子", ["method=identity_check", "reason=gift_card"],
     "アカウントロック解除のお知らせ", ["佐藤 花子 様", "ご本人確認", f"© {YEAR}"]),
    ("unlock", "en", "Bob Jones", ["method=password_reset", "reason=compromised"],
     "Your account has been unlocked", ["Dear Bob Jones,", "password was reset", f"© {YEAR}"]),
    ("recovery_code", "ja", "鈴木 一郎", ["code=493817"], "パスワード再設定の確認コード",
     ["鈴木 一郎 様", "493817", f"© {YEAR}"]),
    ("recovery_code", "en", "Carol White", ["code=120456"], "Your password reset code",
     ["Dear Carol White,", "120456", "10 minutes", f"© {YEAR}"]),
    ("case_update", "ja", "高橋 健", ["case_id=c_77", "state=waiting_on_customer"],
     "お問い合わせ（ケース c_77）の状況のお知らせ", ["高橋 健 様", "書類", f"© {YEAR}"]),
    ("case_update", "en", "Dan Brown", ["case_id=c_78", "state=in_review", "queue_position=3"],
     "Update on your request (case c_78)", ["Dear Dan Brown,", "queue: 3", f"© {YEAR}"]),
    ("incident_apology", "ja", "伊藤 愛", ["incident_id=inc_1"], "アカウントロックに関するお詫び",
     ["伊藤 愛 様", "お詫び", f"© {YEAR}"]),
    ("incident_apology", "en", "Eve Black", ["incident_id=inc_1"],
     "Our apology about your account lock", ["Dear Eve Black,", "apologise", f"© {YEAR}"]),
    ("password_reset", "ja", "中村 陽子", [], "パスワード再設定のお知らせ",
     ["中村 陽子 様", "パスワードが再設定されました", "カスタマーサービスにお問い合わせください", f"© {YEAR}"]),
    ("password_reset", "en", "Fay Green", [], "Your password was reset",
     ["Dear Fay Green,", "The password of your account was reset.",
      "If this was not you, contact customer service at once.", f"© {YEAR}"]),
]


def every_notice_is_delivered():
    sink = mailsink.SmtpSink()
    hooks = mailsink.WebhookSink(SECRET)
    env = dict(FAST, KAGI_SMTP_URL=sink.url, KAGI_WEBHOOK_URL=hooks.url,
               KAGI_WEBHOOK_SECRET=SECRET)
    try:
        with kt.Kagid(env=env) as k:
            want = {}
            for i, (kind, lang, name, fields, subject, words) in enumerate(NOTICES):
                to = f"n{i}@example.jp"
                want[to] = (send_test(k, to, name, kind, lang, *fields), subject, words, name)
            msgs = sink.wait_for(lambda m: len({x["rcpts"][0] for x in m}) >= len(want))
            for m in msgs:
                to = m["rcpts"][0]
                mid, subject, words, name = want[to]
                msg = m["msg"]
                kt.check(msg["Message-ID"] == mid, "Message-ID fixed at enqueue",
                         (msg["Message-ID"], mid))
                kt.check(str(msg["Subject"]) == subject, "subject", str(msg["Subject"]))
                kt.check(msg["To"] == to and "notices@shop.example" in msg["From"], "addresses",
                         (msg["To"], msg["From"]))
                kt.check(m["from"] == "<notices@shop.example>", "envelope sender", m["from"])
                kt.check(msg.get_content_type() == "multipart/alternative", "multipart",
                         msg.get_content_type())
                text, html = mailsink.parts(msg)
                for w in words:
                    kt.check(w in text, f"{to}: text has {w!r}", text)
                kt.check(name in html and f"&copy; {YEAR}" in html, f"{to}: html", html[:300])
                first = text.split("\n")[0]
                kt.check(name in first and "お客様" not in first and "customer" not in first,
                         "greets by name, not 'customer'", first)
            rows = wait(lambda: (lambda r: r if all(x["state"] == "delivered" for x in r)
                                 and len(r) == len(want) else None)(outbox(k)),
                        "outbox rows delivered")
            kt.check({r["message_id"] for r in rows} == {v[0] for v in want.values()},
                     "outbox Message-IDs", rows)
            show = k.kagi("outbox", "show", "--db", k.db, rows[0]["id"]).stdout
            kt.check("state:       delivered" in show and "Message-ID: " in show,
                     "outbox show", show)

            # webhooks: signed, verified by the receiver
            for t in ("lock", "unlock", "case", "incident"):
                k.kagi("webhooks", "send-test", "--db", k.db, "--type", t, "--account", "acc-9",
                       "--data", json.dumps({"event": t}))
            reqs = hooks.wait_for(lambda r: len(r) >= 4)
            kt.check(all(r["valid"] for r in reqs), "webhook signatures verify",
                     [r["headers"] for r in reqs])
            kt.check(sorted(r["json"]["type"] for r in reqs) ==
                     ["case", "incident", "lock", "unlock"], "webhook types", reqs)
            kt.check(all(r["headers"]["X-Kagi-Delivery"] == r["json"]["id"] for r in reqs),
                     "delivery id header", reqs)
            wait(lambda: all(w["state"] == "delivered" for w in webhooks(k)),
                 "webhook rows delivered")
    finally:
        sink.close()
        hooks.close()


def wrong_secret_is_detected():
    sink = mailsink.SmtpSink()
    hooks = mailsink.WebhookSink(SECRET)
    env = dict(FAST, KAGI_SMTP_URL=sink.url, KAGI_WEBHOOK_URL=hooks.url,
               KAGI_WEBHOOK_SECRET="not-the-shared-secret")
    try:
        with kt.Kagid(env=env) as k:
            k.kagi("webhooks", "send-test", "--db", k.db, "--type", "lock", "--account", "acc-x")
            reqs = hooks.wait_for(lambda r: len(r) >= 2)  # first try and a retry
            kt.check(not any(r["valid"] for r in reqs), "receiver detects the wrong secret", reqs)
            rows = wait(lambda: [w for w in webhooks(k) if w["attempts"] >= 2], "retries")
            w = rows[0]
            kt.check(w["state"] == "pending" and "401" in (w["last_error"] or ""),
                     "kept with its error", w)
            # the shop fixes the secret: the queued event is delivered, signed right
            k.restart(env={"KAGI_WEBHOOK_SECRET": SECRET})
            reqs = hooks.wait_for(lambda r: any(x["valid"] for x in r))
            good = [r for r in reqs if r["valid"]]
            kt.check(good[0]["json"]["id"] == w["id"], "the same event, delivered", good)
            wait(lambda: webhooks(k)[0]["state"] == "delivered", "delivered after the fix")
    finally:
        sink.close()
        hooks.close()


# ---- crash while delivering -----------------------------------------------------
def crash_mid_delivery_resends_with_same_message_id():
    sink = mailsink.SmtpSink(delay_s=4.0)  # holds each message before answering
    env = dict(FAST, KAGI_SMTP_URL=sink.url, KAGI_NOTIFY_BATCH="1")
    k = kt.Kagid(env=env)
    try:
        k.start()
        sent = {}
        for i in range(5):
            to = f"crash{i}@example.jp"
            sent[to] = send_test(k, to, f"Crash Test {i}", "lock", "en", "reason=payment_fraud")
        # the first message has been received, its 250 is not yet sent: kill
        sink.wait_for(lambda m: len(m) >= 1)
        k.kill()
        kt.check(len(sink.snapshot()) < len(sent), "killed mid-delivery", len(sink.snapshot()))
        sink.delay_s = 0
        k.start()
        # every row delivered (the held one after its lease ran out), then count
        wait(lambda: (lambda r: len(r) == len(sent) and all(x["state"] == "delivered" for x in r))
             (outbox(k)), "all delivered after the restart", timeout_s=90)
        msgs = sink.wait_for(lambda m: set(sent) <= {x["rcpts"][0] for x in m})
        ids = {}
        for m in msgs:
            ids.setdefault(m["rcpts"][0], set()).add(m["msg"]["Message-ID"])
        for to, mid in sent.items():
            kt.check(ids[to] == {mid}, f"{to}: one Message-ID, the one fixed at enqueue", ids[to])
        dups = len(msgs) - len(sent)
        kt.check(dups >= 1, "the message held at the crash was sent again", len(msgs))
        k.stop()
        print(f"crash test: {len(sent)} notices, {len(msgs)} SMTP deliveries "
              f"({dups} re-sent after SIGKILL), every one with its fixed Message-ID")
    except BaseException:
        sys.stderr.write(f"---- kagid log ----\n{k.log()}\n")
        raise
    finally:
        k.cleanup()
        sink.close()


def main():
    bad_template_refuses_to_load()
    every_notice_is_delivered()
    wrong_secret_is_detected()
    crash_mid_delivery_resends_with_same_message_id()
    print("ok")


if __name__ == "__main__":
    main()
