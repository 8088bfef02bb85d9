"""Story (S1, S4): a `misuse` lock is not lifted by a password reset; login
keeps showing the misuse wording; only support lifts it."""
import accountstory as st
import kagitest as kt

MISUSE_EN = "Your account has been locked for misuse of our services. We sent you an email with more information."


def story():
    with st.Story() as shop:
        k = shop.k
        acc = shop.account(7)
        aid = acc["id"]
        shop.lock(aid, "misuse", key=shop.admin)
        shop.lock(aid, "compromised")
        r = shop.login(acc["email"])
        kt.check(r.status == 423 and r.json["message"]["en"] == MISUSE_EN, "misuse wording at login", r)
        kt.check("不正使用" in r.json["message"]["ja"], "misuse wording (ja)", r)

        k.post("/v1/recovery/start", {"email": acc["email"]}, key=shop.service)
        code = st.recovery_code(shop, acc["email"])
        r = k.post("/v1/recovery/finish", {"email": acc["email"], "code": code, "password": "another passphrase"},
                   key=shop.service)
        kt.check(r.status == 200, "the reset itself works", r)
        kt.check([l["reason"] for l in r.json["lifted"]] == ["compromised"], "compromised lifted", r)
        kt.check([l["reason"] for l in r.json["still_locked"]] == ["misuse"], "misuse stands", r)
        r = shop.login(acc["email"], "another passphrase")
        kt.check(r.status == 423 and [l["reason"] for l in r.json["locks"]] == ["misuse"], "still locked", r)
        lock = k.get(f"/v1/accounts/{aid}/locks", key=shop.agent).json["locks"]
        kt.check(any(l["reason"] == "misuse" and l["active"] for l in lock), "misuse active", lock)
        msgs = shop.messages(aid, shop.agent)
        notices = [m for m in msgs if m["kind"] == "lock_notice"
                   and "パスワードの再設定では解除されません" in m["body"]]
        kt.check(len(notices) == 1, "the misuse notice says a reset will not help", msgs)
        # Support lifts it after an identity check.
        case = k.post("/v1/cases", {"account": aid, "text": "appeal"}, key=shop.agent).json["id"]
        r = k.post(f"/v1/cases/{case}/verify", shop.verify_body(acc), key=shop.agent)
        kt.check(r.json["result"] == "pass", "check passes", r)
        r = k.post(f"/v1/accounts/{aid}/unlock", {}, key=shop.agent)
        kt.check(r.status == 200 and [l["reason"] for l in r.json["lifted"]] == ["misuse"], "support lifts misuse", r)
        kt.check(shop.login(acc["email"], "another passphrase").status == 200, "login works")


if __name__ == "__main__":
    kt.main([story])
