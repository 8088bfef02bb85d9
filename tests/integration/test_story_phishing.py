"""Story (S2.5, S4): a phishing victim's account is locked as `compromised`
by the risk engine (a login from a new device and country, then a password
change); a password reset with the code emailed to the registered address
lifts the lock; the code is in the mail, never in the message center."""
import datetime

import accountstory as st
import kagitest as kt

NEW_PASSWORD = "a brand new passphrase"


def story():
    with st.Story() as shop:
        k = shop.k
        acc = shop.account(2)
        aid = acc["id"]
        # The customer's usual login, then the attacker's with the phished password.
        r = shop.login(acc["email"], device_id="home-pc", country="JP")
        kt.check(r.status == 200, "the customer's own login", r)
        r = shop.login(acc["email"], device_id="evil-phone", country="RU", ip="203.0.113.66")
        kt.check(r.status == 200, "the attacker gets in with the phished password", r)
        attacker = r.json["token"]
        # The shop reports the attacker's password change: the takeover rule locks.
        ts = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        r = k.post("/v1/events", {"id": f"pwc-{aid}", "type": "password_change", "account": aid, "ts": ts,
                                  "ip": "203.0.113.66", "device_id": "evil-phone", "via": "settings"},
                   key=shop.service)
        kt.check(r.status == 200 and r.json["action"] == "lock", "takeover locks", r)
        kt.check(r.json["lock"]["reason"] == "compromised", "as compromised", r)
        r = shop.login(acc["email"])
        kt.check(r.status == 423 and [l["reason"] for l in r.json["locks"]] == ["compromised"], "locked", r)
        kinds = [m["kind"] for m in shop.messages(aid, shop.agent)]
        kt.check(kinds.count("lock_notice") == 1, "the risk engine's lock has its official notice", kinds)

        r = k.post("/v1/recovery/start", {"email": acc["email"]}, key=shop.service)
        kt.check(r.status == 202, "recovery start", r)
        code = st.recovery_code(shop, acc["email"])
        msgs = shop.messages(aid, r_ticket(shop, acc))
        rec = [m for m in msgs if m["kind"] == "recovery_code"]
        kt.check(len(rec) == 1, "the code notice is in the message center", msgs)
        kt.check(code not in rec[0]["body"] and "******" in rec[0]["body"], "but not the code", rec[0]["body"])

        # A wrong code fails and costs a try; the answer does not say more.
        wrong = "000000" if code != "000000" else "111111"
        r = k.post("/v1/recovery/finish", {"email": acc["email"], "code": wrong, "password": NEW_PASSWORD},
                   key=shop.service)
        kt.check(r.status == 400 and r.error().get("field") == "code", "wrong code refused", r)
        # A too-short password is refused before the code is used.
        r = k.post("/v1/recovery/finish", {"email": acc["email"], "code": code, "password": "short"},
                   key=shop.service)
        kt.check(r.status == 400 and r.error().get("field") == "password", "weak password", r)

        r = k.post("/v1/recovery/finish", {"email": acc["email"], "code": code, "password": NEW_PASSWORD},
                   key=shop.service)
        kt.check(r.status == 200, "reset with the emailed code", r)
        kt.check([l["reason"] for l in r.json["lifted"]] == ["compromised"], "compromised lifted", r)
        kt.check(r.json["still_locked"] == [], "nothing else stands", r)
        r = k.get(f"/v1/accounts/{aid}/messages", key=attacker)
        kt.check(r.status == 401, "the attacker's session ended with the reset", r)
        # The code is used up.
        r = k.post("/v1/recovery/finish", {"email": acc["email"], "code": code, "password": NEW_PASSWORD},
                   key=shop.service)
        kt.check(r.status == 400 and r.error().get("field") == "code", "a code works once", r)

        kt.check(shop.login(acc["email"]).status == 401, "the phished password is dead")
        r = shop.login(acc["email"], NEW_PASSWORD)
        kt.check(r.status == 200 and r.json["result"] == "ok", "login with the new password", r)
        kinds = [m["kind"] for m in shop.messages(aid, r.json["token"])]
        for kind in ("lock_notice", "recovery_code", "unlock_notice", "password_reset"):
            kt.check(kind in kinds, f"{kind} in the message center", kinds)
        # The database holds no code and no password in clear.
        for table in ("codes", "messages", "audit", "accounts"):
            for row in shop.rows(f"SELECT * FROM {table}"):
                text = " ".join(str(v) for v in row)
                kt.check(NEW_PASSWORD not in text, f"no password in {table}")
                kt.check(f": {code}" not in text, f"no code in {table}")
        for (mime,) in shop.rows("SELECT mime FROM outbox"):
            raw = mime if isinstance(mime, bytes) else mime.encode()
            kt.check(b"Subject:" not in raw, "outbox rows are sealed at rest")


def r_ticket(shop, acc):
    r = shop.login(acc["email"])
    kt.check(r.status == 423, "still locked", r)
    return r.json["ticket"]


def code_expires_and_tries():
    """Five wrong tries use a code up; a used-up code is gone."""
    with st.Story() as shop:
        k = shop.k
        acc = shop.account(3)
        k.post("/v1/recovery/start", {"email": acc["email"]}, key=shop.service)
        code = st.recovery_code(shop, acc["email"])
        wrong = "000000" if code != "000000" else "111111"
        for i in range(5):
            r = k.post("/v1/recovery/finish", {"email": acc["email"], "code": wrong, "password": NEW_PASSWORD},
                       key=shop.service)
            kt.check(r.status == 400, f"wrong try {i + 1}", r)
        r = k.post("/v1/recovery/finish", {"email": acc["email"], "code": code, "password": NEW_PASSWORD},
                   key=shop.service)
        kt.check(r.status == 400, "the right code after five wrong ones", r)


if __name__ == "__main__":
    kt.main([story, code_expires_and_tries])
