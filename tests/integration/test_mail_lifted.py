"""S6, S7: a real lock notice stays genuine after its lock was lifted. Lock
-> the official notice (message center + outbox) -> unlock -> the very
notice, authenticated, checks `genuine` with the signal
`lock_lifted_since` (not `lock_claim_not_locked`); a forged copy built
from it is still not genuine."""
import email
import email.policy
import json
import os
import re
import tempfile

import kagitest as kt
from kagitest import check

PROFILE = """name = kagi shop
brand = kagi shop
sender_domain = shop.example
authserv_id = mx.kagi.example
"""
AR = ("Authentication-Results: mx.kagi.example; dkim=pass header.d=shop.example; "
      "dmarc=pass header.from=shop.example\r\n")


def mail_check(db, profile, account, path):
    p = kt.kagi("mail", "check", "--shop", profile, "--db", db, "--account", account, path)
    r = json.loads(p.stdout)
    return r["verdict"], {s["id"]: s for s in r["signals"]}, r


def write(path, text):
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    return path


def main():
    with tempfile.TemporaryDirectory() as tmp:
        db = kt.test_store() or os.path.join(tmp, "kagi.db")  # integ_pg: PostgreSQL
        profile = write(os.path.join(tmp, "shop.profile"), PROFILE)
        kt.kagi("init", "--db", db)
        kt.kagi("account", "create", "--db", db, "--id", "a1", "--name", "山田 太郎", "--email",
                "a1@example.jp", "--postal-code", "150-0001", "--region", "東京都",
                "--city", "渋谷区", "--line1", "1-2-3", "--country", "JP")
        kt.kagi("lock", "--db", db, "a1", "--reason", "gift_card")
        rows = kt.kagi("outbox", "list", "--db", db, "--account", "a1").stdout.split()
        shown = kt.kagi("outbox", "show", "--db", db, "--raw", rows[0]).stdout
        raw = shown  # --raw prints the stored message alone
        notice = write(os.path.join(tmp, "notice.eml"), AR + raw)
        v, sigs, r = mail_check(db, profile, "a1", notice)
        check(v == "genuine" and "lock_lifted_since" not in sigs, "genuine while locked", r)

        kt.kagi("unlock", "--db", db, "a1", "--reason", "verified by phone")
        v, sigs, r = mail_check(db, profile, "a1", notice)
        check(v == "genuine", "still genuine after the unlock", r)
        check("lock_lifted_since" in sigs and "lock_claim_not_locked" not in sigs,
              "says the lock has since been lifted", r)
        check("lifted" in sigs["lock_lifted_since"].get("detail", json.dumps(sigs["lock_lifted_since"])),
              "the note", sigs["lock_lifted_since"])

        # A forged copy (its text and Message-ID changed, a fake link) is
        # not in the message center and not genuine, lifted lock or not.
        forged = email.message_from_string(
            re.sub(r"^Message-ID: .*$", "Message-ID: <forged-1@mail.example>", raw, count=1,
                   flags=re.M), policy=email.policy.default)
        for part in forged.walk():
            if part.get_content_type() in ("text/plain", "text/html"):
                text = part.get_content()
                check("message center" in text, "the notice names the message center", text[:300])
                part.set_content(text.replace("message center",
                                              "account page https://shop-login.example/"),
                                 subtype=part.get_content_subtype())
        forged = forged.as_string()
        path = write(os.path.join(tmp, "forged.eml"), AR + forged)
        v, sigs, r = mail_check(db, profile, "a1", path)
        check(v != "genuine" and "lock_lifted_since" not in sigs, "a forged copy is not genuine", r)
    print("ok")


if __name__ == "__main__":
    main()
