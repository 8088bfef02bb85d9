"""POST /v1/mail/check on a real kagid: raw message in, verdict out; the
cross-check with an account (?account=, a customer key's own account);
roles; and the failure paths (empty body, wrong type, too large, no
profile configured)."""
import json

import kagitest as kt
from kagitest import check

SHOP = kt.data_path("mail", "shop.profile")


def fixture(name):
    with open(kt.data_path("mail", name), "rb") as f:
        return f.read()


def test_check():
    with kt.Kagid(env={"KAGI_SHOP_PROFILE": SHOP}) as k:
        svc = k.key("service")
        r = k.post("/v1/accounts", kt.demo_account(0, id="acc-m"), key=svc)
        check(r.status == 201, "account", r)
        keys = k.keys("acc-m")

        r = k.request("POST", "/v1/mail/check", raw=fixture("sender_one_edit.eml"),
                      content_type="message/rfc822", key=svc)
        check(r.status == 200, "service check", r)
        check(r.json["verdict"] == "phishing", "verdict", r.json)
        check(any(s["id"] == "sender_lookalike" for s in r.json["signals"]), "signals", r.json)
        check("account" not in r.json, "no account without ?account=", r.json)

        # authenticated as the shop, but not in acc-m's message center
        r = k.request("POST", "/v1/mail/check?account=acc-m", raw=fixture("auth_trusted_pass.eml"),
                      content_type="message/rfc822", key=svc)
        check(r.status == 200 and r.json["account"] == "acc-m", "with account", r)
        ids = {s["id"] for s in r.json["signals"]}
        check(r.json["verdict"] == "suspicious" and "not_in_message_center" in ids,
              "not in the message center: not genuine", r.json)
        check("greeting_name" in ids, "greeted by the registered name (山田 太郎)", r.json)
        # the same without an account is genuine
        r = k.request("POST", "/v1/mail/check", raw=fixture("auth_trusted_pass.eml"), key=svc)
        check(r.status == 200 and r.json["verdict"] == "genuine", "genuine without account", r)

        # a customer key checks its own account by default, not another one
        r = k.request("POST", "/v1/mail/check", raw=fixture("auth_trusted_pass.eml"),
                      content_type="message/rfc822", key=keys["customer"])
        check(r.status == 200 and r.json.get("account") == "acc-m", "customer default", r)
        r = k.request("POST", "/v1/mail/check?account=acc-other", raw=fixture("auth_trusted_pass.eml"),
                      key=keys["customer"])
        check(r.status == 403, "customer on another account", r)
        # a locked customer (lock ticket) checks too: "is this lock notice real?"
        r = k.request("POST", "/v1/mail/check", raw=fixture("auth_trusted_pass.eml"),
                      content_type="message/rfc822", key=keys["ticket"])
        check(r.status == 200 and r.json.get("account") == "acc-m", "ticket checks its own account", r)
        r = k.request("POST", "/v1/mail/check?account=acc-other", raw=fixture("auth_trusted_pass.eml"),
                      key=keys["ticket"])
        check(r.status == 403, "ticket on another account", r)
        for role in ("agent", "admin"):
            r = k.request("POST", "/v1/mail/check", raw=fixture("auth_trusted_pass.eml"),
                          key=keys[role])
            check(r.status == 403, f"{role} may not", r)
        r = k.request("POST", "/v1/mail/check", raw=fixture("auth_trusted_pass.eml"))
        check(r.status == 401, "no key", r)

        # failure paths name what was wrong
        r = k.request("POST", "/v1/mail/check", raw=b"", key=svc)
        check(r.status == 400 and r.error()["field"] == "body", "empty body", r)
        r = k.request("POST", "/v1/mail/check", raw=b"{}", content_type="application/json", key=svc)
        check(r.status == 400 and r.error()["field"] == "body", "wrong type", r)
        parts = b"From: a@b.example\nContent-Type: multipart/mixed; boundary=x\n\n" + \
            b"--x\nContent-Type: text/plain\n\nhi\n" * 300 + b"--x--\n"
        r = k.request("POST", "/v1/mail/check", raw=parts, key=svc)
        check(r.status == 413 and "KG_MAIL_PARTS_MAX" in r.error()["message"], "parts limit", r)
        big = b"From: a@b.example\n\n" + b"x" * (10 * 1024 * 1024 + 10)
        r = k.request("POST", "/v1/mail/check", raw=big, key=svc)
        check(r.status == 413, "body over KG_HTTP_MAIL_BODY_MAX", r)
        r = k.request("POST", "/v1/mail/check?account=" + "a" * 200, raw=fixture("auth_trusted_pass.eml"),
                      key=svc)
        check(r.status == 400 and r.error()["field"] == "account", "account too long", r)


def test_concurrent():
    """Many threads of kagid analyse at once (one profile shared, GMime, ICU,
    libopendkim): every answer is the one a lone request gets."""
    import threading
    names = ["sender_one_edit.eml", "auth_trusted_pass.eml", "forward_attached.eml",
             "pressure_ja_iso2022jp.eml", "unrelated_patch.eml", "charset_shift_jis.eml"]
    with kt.Kagid(env={"KAGI_SHOP_PROFILE": SHOP}) as k:
        svc = k.key("service")
        want = {}
        for n in names:
            r = k.request("POST", "/v1/mail/check", raw=fixture(n), key=svc)
            check(r.status == 200, n, r)
            want[n] = (r.json["verdict"], r.json["score"])
        errors = []

        def worker(i):
            for j in range(12):
                n = names[(i + j) % len(names)]
                r = k.request("POST", "/v1/mail/check", raw=fixture(n), key=svc)
                got = (r.json or {}).get("verdict"), (r.json or {}).get("score")
                if r.status != 200 or got != want[n]:
                    errors.append((n, r.status, got))

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        check(not errors, "concurrent answers equal the lone ones", errors[:5])


def test_no_profile():
    with kt.Kagid() as k:
        r = k.request("POST", "/v1/mail/check", raw=fixture("auth_trusted_pass.eml"),
                      key=k.key("service"))
        check(r.status == 503, "no shop profile configured", r)


if __name__ == "__main__":
    kt.main([test_check, test_concurrent, test_no_profile])
