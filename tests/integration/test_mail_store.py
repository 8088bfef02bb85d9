"""End to end through the CLI and a real store: `kagi lock` writes the
official notice (message center + outbox mail); that very mail, checked with
`kagi mail check --db --account`, is found in the account's message center
(by Message-ID, or by content fingerprint when the Message-ID was
replaced; an edited copy is not); with a trusted Authentication-Results pass it is genuine;
for another, unlocked account it is not (not in its message center, and it
claims a lock that account does not have)."""
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


def mail_check(k, db, profile, account, path):
    p = kt.kagi("mail", "check", "--shop", profile, "--db", db, "--account", account, path)
    r = json.loads(p.stdout)
    return r["verdict"], {s["id"] for s in r["signals"]}, r


def main():
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "kagi.db")
        profile = os.path.join(tmp, "shop.profile")
        with open(profile, "w") as f:
            f.write(PROFILE)
        kt.kagi("init", "--db", db)
        for acc, name in (("a1", "山田 太郎"), ("b2", "Alice Smith")):
            kt.kagi("account", "create", "--db", db, "--id", acc, "--name", name, "--email",
                    acc + "@example.jp", "--postal-code", "150-0001", "--region", "東京都",
                    "--city", "渋谷区", "--line1", "1-2-3", "--country", "JP")
        kt.kagi("lock", "--db", db, "a1", "--reason", "compromised")
        rows = kt.kagi("outbox", "list", "--db", db, "--account", "a1").stdout.split()
        check(rows and rows[0].startswith("out_"), "the lock notice is in the outbox", rows)
        # --raw prints the message alone, as sent (a file a mail program opens)
        raw = kt.kagi("outbox", "show", "--db", db, "--raw", rows[0]).stdout
        check(raw.startswith("Date:") or raw.startswith("From:"), "raw message", raw[:200])
        notice = os.path.join(tmp, "notice.eml")
        with open(notice, "w", encoding="utf-8", newline="") as f:
            f.write(raw)
        trusted = os.path.join(tmp, "received.eml")
        with open(trusted, "w", encoding="utf-8", newline="") as f:
            f.write("Authentication-Results: mx.kagi.example; dkim=pass header.d=shop.example; "
                    "dmarc=pass header.from=shop.example\r\n" + raw)

        v, ids, r = mail_check(None, db, profile, "a1", notice)
        check("in_message_center" in ids, "found by Message-ID", r)
        check(v == "suspicious" and "official_unauthenticated" in ids,
              "unauthenticated: never genuine", r)
        check("greeting_name" in ids, "greets a1 by the registered name", r)

        v, ids, r = mail_check(None, db, profile, "a1", trusted)
        check(v == "genuine", "authenticated and in the message center", r)

        # A copy whose Message-ID a forward or mail client replaced: found by
        # its content fingerprint. The same copy with its text changed (a
        # phishing mail built from the real notice) is not.
        check(re.search(r"^Message-ID: ", raw, re.M), "notice has a Message-ID", raw[:400])
        reid = re.sub(r"^Message-ID: .*$", "Message-ID: <forwarded-1@mail.example>", raw,
                      count=1, flags=re.M)
        forwarded = os.path.join(tmp, "forwarded.eml")
        with open(forwarded, "w", encoding="utf-8", newline="") as f:
            f.write(reid)
        v, ids, r = mail_check(None, db, profile, "a1", forwarded)
        check("in_message_center" in ids, "found by content fingerprint", r)

        msg = email.message_from_string(reid, policy=email.policy.default)
        for part in msg.walk():
            if part.get_content_type() in ("text/plain", "text/html"):
                text = part.get_content()
                check("password" in text, "the notice speaks of the password", text[:300])
                part.set_content(text.replace("password", "passw0rd"),
                                 subtype=part.get_content_subtype())
        edited = os.path.join(tmp, "edited.eml")
        with open(edited, "w", encoding="utf-8", newline="") as f:
            f.write(msg.as_string())
        v, ids, r = mail_check(None, db, profile, "a1", edited)
        check("in_message_center" not in ids and "not_in_message_center" in ids,
              "an edited copy is not in the message center", r)

        v, ids, r = mail_check(None, db, profile, "b2", trusted)
        check(v != "genuine" and "not_in_message_center" in ids and
              "lock_claim_not_locked" in ids, "another, unlocked account", r)

        p = kt.kagi("mail", "check", "--shop", profile, "--db", os.path.join(tmp, "none.db"),
                    "--account", "a1", notice, check_rc=False)
        check(p.returncode == 1 and "no such store" in p.stderr, "missing store", p.stderr)
    print("ok")


if __name__ == "__main__":
    main()
