"""Story (S5): identity checks with one wrong field run out of tries and
block further checks for 24 hours; the answer never says which field was
wrong and never shows a stored value."""
import time

import accountstory as st
import kagitest as kt


def story():
    with st.Story() as shop:
        k = shop.k
        acc = shop.account(5)
        aid = acc["id"]
        shop.lock(aid, "gift_card")
        r = k.post("/v1/cases", {"account": aid, "text": "customer called"}, key=shop.agent)
        case = r.json["id"]
        wrongs = [
            shop.verify_body(acc, name="山田 次郎"),
            shop.verify_body(acc, card={"last4": "4242", "exp": "11/29"}),
            shop.verify_body(acc, address=dict(acc["address"], line1="神宮前1-2-4")),
        ]
        answers = []
        for i, body in enumerate(wrongs):
            r = k.post(f"/v1/cases/{case}/verify", body, key=shop.agent)
            kt.check(r.status == 200 and r.json["result"] == "fail", f"wrong try {i + 1}", r)
            kt.check(r.json["tries_left"] == 2 - i, "tries left", r)
            answers.append(r)
        # Never which field, never a stored value.
        for r in answers:
            kt.check(set(r.json) <= {"result", "tries_left", "blocked_until"}, "only result and tries", r)
            text = r.body.decode()
            for leak in ("name", "address", "card", "exp", "last4", "email", "山田", "4242", "150-0001"):
                kt.check(leak not in text, f"answer mentions {leak}", text)
        kt.check(answers[0].json == answers[1].json | {"tries_left": 2}, "same shape for any field")

        # Blocked now: even the right answers are not checked.
        r = k.post(f"/v1/cases/{case}/verify", shop.verify_body(acc), key=shop.agent)
        kt.check(r.status == 429 and r.json["result"] == "blocked" and r.json["tries_left"] == 0, "blocked", r)
        r = k.post(f"/v1/cases/{case}/verify", shop.verify_body(acc), key=shop.agent2)
        kt.check(r.status == 429, "blocked for every agent", r)
        kt.check(k.post(f"/v1/accounts/{aid}/unlock", {}, key=shop.agent).status == 409, "no unlock")
        # An admin can still lift it, with a reason.
        kt.check(k.post(f"/v1/accounts/{aid}/unlock", {}, key=shop.admin).status == 400, "admin needs a reason")
        r = k.post(f"/v1/accounts/{aid}/unlock", {"reason": "verified in the shop by ID card"}, key=shop.admin)
        kt.check(r.status == 200 and len(r.json["lifted"]) == 1, "admin unlock", r)
        # Only agents run checks.
        r = k.post(f"/v1/cases/{case}/verify", shop.verify_body(acc), key=shop.service)
        kt.check(r.status == 403, "service may not verify", r)
        # The audit log has each check without the answers.
        out = k.kagi("audit", "list", "--db", k.db, aid).stdout
        kt.check(out.count('"identity_check"') == 3 and "山田 次郎" not in out, "audited without values", out)


def totp_in_check():
    """With 2-step on, the current code is part of the check."""
    with st.Story() as shop:
        k = shop.k
        acc = shop.account(6)
        aid = acc["id"]
        token = shop.login(acc["email"]).json["token"]
        r = k.post(f"/v1/accounts/{aid}/totp/enrol", {}, key=token)
        kt.check(r.status == 200 and r.json["uri"].startswith("otpauth://totp/"), "enrol", r)
        secret = r.json["secret"]
        st.away_from_step_edge()  # the steps below are now-30 s, now and now+30 s
        now = time.time()
        prev, cur, nxt = (st.totp(secret, now + d) for d in (-30, 0, 30))
        wrong = next(c for c in ("000000", "111111", "222222") if c not in (prev, cur, nxt))
        r = k.post(f"/v1/accounts/{aid}/totp/confirm", {"code": wrong}, key=token)
        kt.check(r.status == 400, "wrong confirm code", r)
        r = k.post(f"/v1/accounts/{aid}/totp/confirm", {"code": prev}, key=token)
        kt.check(r.status == 200, "confirm (a code one step old still counts)", r)
        r = shop.login(acc["email"])
        kt.check(r.status == 401 and r.error()["code"] == "totp_required", "login asks for the code", r)
        r = shop.login(acc["email"], totp=prev)
        kt.check(r.status == 401 and r.error()["code"] == "totp_invalid", "a used code does not work again", r)
        r = shop.login(acc["email"], totp=cur)
        kt.check(r.status == 200, "login with the current code", r)
        shop.lock(aid, "gift_card")
        case = k.post("/v1/cases", {"account": aid, "text": "call"}, key=shop.agent).json["id"]
        r = k.post(f"/v1/cases/{case}/verify", shop.verify_body(acc), key=shop.agent)
        kt.check(r.json["result"] == "fail", "without the 2-step code the check fails", r)
        r = k.post(f"/v1/cases/{case}/verify", shop.verify_body(acc, totp=nxt), key=shop.agent)
        kt.check(r.json["result"] == "pass", "with it the check passes", r)
        r = k.post(f"/v1/accounts/{aid}/unlock", {}, key=shop.agent)
        kt.check(r.status == 200, "unlock after the pass", r)


if __name__ == "__main__":
    kt.main([story, totp_in_check])
