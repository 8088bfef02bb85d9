"""The demo of `make run` shows S7's best case and has a readable mailbox.

- Its notices come from the demo shop (examples/shops/demo.profile) and are
  DKIM-signed with the key run.sh makes in var/; kagid checks mail with that
  profile and key. kagi's own lock notice, taken from the mailbox
  (`kagi outbox show --to ADDR --raw`), checks `genuine` over
  POST /v1/mail/check and `kagi mail check`; a copy whose body was edited
  does not (`dkim_invalid`); so does the lock notice that run.sh's own
  `kagi lock` wrote for demo-ja-2 (the CLI builds notices as kagid does).
- A password-reset code is read with the documented command
  (`kagi outbox show --config var/kagi.conf --to ADDR --text`) and resets
  the password; without the demo's key the sealed row is refused with a
  message that says which key is needed."""
import base64
import email
import json
import os
import re
import subprocess

import kagitest as kt
from kagitest import check
from demo import Demo

GIFT_CARD_ORDER = {
    "id": "demo-mail-e1", "type": "order", "account": "demo-ja-1",
    "ts": "2026-11-28T10:00:00Z", "order_id": "o1", "amount": 120000, "currency": "JPY",
    "items": [{"sku": "gc", "category": "gift_card", "price": 60000, "qty": 2}],
    "shipping_address": {"postal_code": "150-0001", "region": "東京都", "city": "渋谷区",
                         "line1": "神宮前1-2-3", "country": "JP"},
    "billing_address": {"postal_code": "150-0001", "region": "東京都", "city": "渋谷区",
                        "line1": "神宮前1-2-3", "country": "JP"},
    "card": {"holder_name": "TARO YAMADA", "last4": "4242", "exp": "12/29",
             "fingerprint": "fp-demo-ja-1"},
    "seller_ids": ["s1"],
}


def edit_text(raw, f):
    """The message with f applied to its text/plain body (re-encoded)."""
    m = email.message_from_bytes(raw)
    for part in m.walk():
        if part.get_content_type() == "text/plain":
            text = part.get_payload(decode=True).decode("utf-8")
            part.set_payload(base64.encodebytes(f(text).encode("utf-8")).decode("ascii"))
    return m.as_bytes()


def mail_check(d, raw, account=None):
    path = "/v1/mail/check" + (f"?account={account}" if account else "")
    r = d.request("POST", path, key="service", raw=raw)
    check(r.status == 200, "POST /v1/mail/check answers under make run", r)
    return r.json["verdict"], [s["id"] for s in r.json["signals"]]


def test_lock_notice_is_genuine():
    with Demo() as d:
        r = d.request("POST", "/v1/events", GIFT_CARD_ORDER, key="service")
        check(r.status == 200 and r.json["action"] == "lock", "the gift-card order locks", r)
        raw = d.kagi("outbox", "show", "--to", "taro@example.jp", "--raw", text=False).stdout
        check(b"DKIM-Signature:" in raw and b"d=kagi-demo.example" in raw,
              "the notice is DKIM-signed for the demo shop", raw[:400])
        check(re.search(rb"^From: \"Kagi Demo Shop\" <no-reply@kagi-demo\.example>", raw, re.M),
              "the notice comes from the demo shop", raw[:800])
        verdict, signals = mail_check(d, raw)
        check(verdict == "genuine" and "dkim_verified" in signals, "kagi's own notice", signals)
        verdict, signals = mail_check(d, raw, account="demo-ja-1")
        check(verdict == "genuine" and "in_message_center" in signals,
              "kagi's own notice, with the account", signals)
        eml = os.path.join(d.tmp, "notice.eml")
        with open(eml, "wb") as f:
            f.write(raw)
        line = json.loads(d.kagi("mail", "check", eml).stdout)
        check(line["verdict"] == "genuine", "kagi mail check --config var/kagi.conf", line)

        same = edit_text(raw, lambda t: t)
        check(mail_check(d, same)[0] == "genuine", "re-encoding the body changes nothing")
        edited = edit_text(raw, lambda t: t + "\nPlease pay the unlock fee of 500 JPY.\n")
        check(edited != same, "the edit took", edited[:200])
        for account in (None, "demo-ja-1"):
            verdict, signals = mail_check(d, edited, account)
            check(verdict != "genuine" and "dkim_invalid" in signals,
                  f"an edited copy is not genuine (account {account})", (verdict, signals))

        # the lock run.sh made with `kagi lock` on first run: signed alike
        raw2 = d.kagi("outbox", "show", "--to", "hanako@example.jp", "--raw", text=False).stdout
        verdict, signals = mail_check(d, raw2, account="demo-ja-2")
        check(verdict == "genuine", "the CLI's lock notice of demo-ja-2", signals)


def test_reset_code_from_the_mailbox():
    with Demo() as d:
        r = d.request("POST", "/v1/recovery/start", {"email": "hanako@example.jp"}, key="service")
        check(r.status == 202, "recovery start", r)
        out = d.kagi("outbox", "show", "--to", "hanako@example.jp", "--text").stdout
        m = re.search(r"確認コード: (\d{6})", out)
        check(m and re.search(rf"Code: {m.group(1)}", out),
              "the mailbox shows the code in both languages", out)
        check("sealed" in out, "the code mail is sealed at rest", out[:600])
        r = d.request("POST", "/v1/recovery/finish", {"email": "hanako@example.jp",
                      "code": m.group(1), "password": "hanako-new-pass"}, key="service")
        check(r.status == 200 and [l["reason"] for l in r.json["lifted"]] == ["compromised"],
              "the code from the mailbox resets the password and lifts the lock", r)
        r = d.request("POST", "/v1/login", {"email": "hanako@example.jp",
                      "password": "hanako-new-pass"}, key="service")
        check(r.status == 200 and r.json["result"] == "ok", "login with the new password", r)
        # the newest mail to her is now the password-reset notice
        out = d.kagi("outbox", "show", "--to", "hanako@example.jp", "--text").stdout
        check("確認コード" not in out, "--to shows the newest mail", out[:600])

        env = dict(os.environ, **kt.FAST_ENV)
        env.pop("KAGI_ACCOUNT_SECRET_KEY", None)
        ids = d.kagi("outbox", "list").stdout
        code_row = [l.split()[0] for l in ids.splitlines() if "hanako" in l][-1]
        p = subprocess.run([kt.KAGI_BIN, "outbox", "show", "--db",
                            os.path.join(d.var, "kagi.db"), code_row, "--text"],
                           capture_output=True, text=True, env=env)
        check(p.returncode == 1 and "sealed" in p.stderr and "--config" in p.stderr,
              "without the key the sealed row says what it needs", (p.returncode, p.stderr))
        p = d.kagi("outbox", "show", "--to", "nobody@example.jp", "--text", check_rc=False)
        check(p.returncode == 1 and "no mail to nobody@example.jp" in p.stderr,
              "--to an address with no mail", p.stderr)


if __name__ == "__main__":
    kt.main([test_lock_notice_is_genuine, test_reset_code_from_the_mailbox])
