"""Story (S11): unknown and known emails get identical answers from a failed
login and from recovery start — nothing tells an attacker which emails are
registered."""
import accountstory as st
import kagitest as kt


def strip(r):
    return (r.status, r.headers.get("content-type"), r.body)


def story():
    with st.Story() as shop:
        k = shop.k
        acc = shop.account(8)
        known = shop.login(acc["email"], "not the password")
        unknown = shop.login("nobody@example.jp", "not the password")
        kt.check(known.status == 401, "wrong password refused", known)
        kt.check(strip(known) == strip(unknown), "same login failure", (known, unknown))
        # Even a locked account answers a wrong password the same way.
        shop.lock(acc["id"], "gift_card")
        locked = shop.login(acc["email"], "not the password")
        kt.check(strip(locked) == strip(unknown), "a lock is not revealed by a wrong password", locked)

        a = k.post("/v1/recovery/start", {"email": acc["email"]}, key=shop.service)
        b = k.post("/v1/recovery/start", {"email": "nobody@example.jp"}, key=shop.service)
        kt.check(a.status == 202 and strip(a) == strip(b), "same recovery answer", (a, b))
        c = k.post("/v1/recovery/finish", {"email": "nobody@example.jp", "code": "123456",
                                           "password": "whatever passphrase"}, key=shop.service)
        d = k.post("/v1/recovery/finish", {"email": acc["email"], "code": "12345x",
                                           "password": "whatever passphrase"}, key=shop.service)
        kt.check(c.status == 400 and strip(c) == strip(d), "same recovery failure", (c, d))
        # Throttling treats both alike too.
        for _ in range(10):
            shop.login(acc["email"], "guess")
            shop.login("nobody@example.jp", "guess")
        t1 = shop.login(acc["email"])  # right password, but throttled
        t2 = shop.login("nobody@example.jp", "guess")
        kt.check(t1.status == 429 and strip(t1) == strip(t2), "same throttling", (t1, t2))


if __name__ == "__main__":
    kt.main([story])
