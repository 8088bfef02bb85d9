"""The accounts stories' notices, as the customer's mailbox gets them (issue 6).

A real SMTP listener on loopback receives the lock, unlock, recovery-code and
case-update notices of one account, DKIM-signed with a key made for the test;
each greets the registered name, carries the current year and a Message-ID
that the message center records. The mail analyser (`kagi mail check`, with
the public key in the shop profile and the store for the cross-check) calls
the real lock notice genuine, and the same notice with an edited subject not.
"""
import datetime
import json
import os
import re
import subprocess

import kagitest as kt
import mailsink

YEAR = datetime.datetime.now(datetime.timezone.utc).year
PASSWORD = "correct horse battery"


def make_keys(tmp):
    priv, pub = os.path.join(tmp, "dkim.pem"), os.path.join(tmp, "dkim.pub.pem")
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                    "rsa_keygen_bits:2048", "-out", priv], check=True, capture_output=True)
    subprocess.run(["openssl", "pkey", "-in", priv, "-pubout", "-out", pub], check=True,
                   capture_output=True)
    profile = os.path.join(tmp, "shop.profile")
    with open(profile, "w") as f:
        f.write("name = Kagi Mart\nbrand = Kagi Mart\nsender_domain = shop.example\n"
                "dkim_key_file = shop.example kagi dkim.pub.pem\n")
    return priv, profile


def mail_check(k, profile, account, raw, name):
    path = os.path.join(k.tmp, name)
    with open(path, "wb") as f:
        f.write(raw)
    out = k.kagi("mail", "check", "--shop", profile, "--db", k.db, "--account", account,
                 path).stdout
    return json.loads(out.splitlines()[0])


def signal_names(result):
    return {s["id"] for s in result["signals"]}


def story():
    sink = mailsink.SmtpSink()
    k = kt.Kagid(env={})
    try:
        priv, profile = make_keys(k.tmp)
        k.env.update({
            "KAGI_SMTP_URL": sink.url, "KAGI_NOTIFY_POLL_MS": "50",
            "KAGI_SHOP_NAME": "Kagi Mart", "KAGI_MAIL_FROM": "notices@shop.example",
            "KAGI_DKIM_DOMAIN": "shop.example", "KAGI_DKIM_SELECTOR": "kagi",
            "KAGI_DKIM_KEY_FILE": priv, "KAGI_SHOP_PROFILE": profile,
            "KAGI_ACCOUNT_SECRET_KEY": "5a" * 32,
        })
        k.start()
        service, agent, admin = k.key("service"), k.key("agent"), k.key("admin")
        acc = kt.demo_account(0, password=PASSWORD)  # 山田 太郎
        aid, addr, name = acc["id"], acc["email"], acc["name"]
        kt.check(k.post("/v1/accounts", acc, key=service).status == 201, "create account")

        def mails(n):
            return [m for m in sink.wait_for(lambda ms: len([x for x in ms if x["rcpts"] == [addr]]) >= n)
                    if m["rcpts"] == [addr]]

        r = k.post(f"/v1/accounts/{aid}/lock", {"reason": "gift_card"}, key=agent)
        kt.check(r.status == 201, "lock", r)
        lock_mail = mails(1)[0]
        # while the lock stands, the customer asks "is this really from the shop?"
        res = mail_check(k, profile, aid, lock_mail["raw"], "real.eml")
        kt.check(res["verdict"] == "genuine", "the real notice is genuine", res)
        kt.check("dkim_verified" in signal_names(res), "its DKIM signature verifies", res)
        kt.check("in_message_center" in signal_names(res), "it is in the message center", res)
        forged = lock_mail["raw"].replace(b"\r\n", b"\n").replace(
            b"\nSubject: ", b"\nSubject: =?UTF-8?B?44CQ6KaB56K66KqN44CR?= ", 1)
        res = mail_check(k, profile, aid, forged, "edited.eml")
        kt.check(res["verdict"] != "genuine" and "dkim_verified" not in signal_names(res),
                 "an edited copy is not", res)
        r = k.post(f"/v1/accounts/{aid}/unlock", {"reason": "checked by phone"}, key=admin)
        kt.check(r.status == 200, "admin unlock", r)
        mails(2)
        r = k.post("/v1/recovery/start", {"email": addr}, key=service)
        kt.check(r.status == 202, "recovery start", r)
        mails(3)
        r = k.post("/v1/cases", {"account": aid, "text": "about my order"}, key=agent)
        kt.check(r.status in (200, 201), "case open", r)
        r = k.post(f"/v1/cases/{r.json['id']}/state", {"state": "in_review"}, key=agent)
        kt.check(r.status == 200, "case state", r)
        got = mails(5)  # lock, unlock, code, case opened, case in review

        center = k.get(f"/v1/accounts/{aid}/messages", key=agent).json["messages"]
        center_ids = {m["message_id"] for m in center}
        kinds = {m["message_id"]: m["kind"] for m in center}
        seen = set()
        for m in got:
            msg = m["msg"]
            mid = msg["Message-ID"]
            kt.check(mid in center_ids, "every mail is in the message center", (mid, center_ids))
            seen.add(kinds[mid])
            kt.check(re.search(r"d=shop\.example;", msg["DKIM-Signature"] or "") and
                     "s=kagi;" in msg["DKIM-Signature"], "DKIM-signed", msg["DKIM-Signature"])
            text, html = mailsink.parts(msg)
            kt.check(f"{name} 様" in text and name in html, f"{kinds[mid]}: registered name", text[:200])
            kt.check(f"© {YEAR}" in text and f"&copy; {YEAR}" in html, f"{kinds[mid]}: year", text[-200:])
            if kinds[mid] == "recovery_code":
                kt.check(re.search(r"\b\d{6}\b", text), "the code is in the mail", text)
        for kind in ("lock_notice", "unlock_notice", "recovery_code", "case_update"):
            kt.check(kind in seen, f"{kind} delivered", seen)
        kt.check("アカウントロックに関するお知らせ" in str(lock_mail["msg"]["Subject"]),
                 "lock notice title", str(lock_mail["msg"]["Subject"]))

        k.stop()
    except BaseException:
        print(f"---- kagid log ----\n{k.log()}")
        raise
    finally:
        k.cleanup()
        sink.close()


if __name__ == "__main__":
    kt.main([story])
