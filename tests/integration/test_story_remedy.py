"""Story (S1, S4): the login answer of a locked account names the remedy
that lifts the lock — a password reset for the reasons policy.reset_lifts
names, support otherwise — and the lock notice in the message center gives
the same next steps. Checked for every lock reason, under the default policy
and under a shop's own."""
import accountstory as st
import kagitest as kt

REASONS = ("system_error", "gift_card", "return_abuse", "payment_fraud", "compromised",
           "brute_force", "misuse", "manual")
RESET_EN = "password assistant"
RESET_JA = "パスワードアシスタント"


def check_policy(reset_lifts, env):
    with st.Story(env=env) as shop:
        for i, reason in enumerate(REASONS):
            acc = shop.account(20 + i)
            lock_id = shop.lock(acc["id"], reason, key=shop.admin)
            r = shop.login(acc["email"])
            kt.check(r.status == 423, f"{reason}: locked", r)
            want = "password_reset" if reason in reset_lifts else "support"
            kt.check(r.json.get("remedy") == want, f"{reason}: remedy {want}", r.json)
            kt.check([l.get("remedy") for l in r.json["locks"]] == [want],
                     f"{reason}: the lock's remedy", r.json["locks"])
            en, ja = r.json["message"]["en"], r.json["message"]["ja"]
            if reason == "misuse":
                kt.check("misuse of our services" in en, "misuse wording", en)
            elif want == "password_reset":
                kt.check("Reset your password" in en and RESET_JA in ja
                         and "contact customer service" not in en, f"{reason}: says reset", r.json)
            else:
                kt.check(en == st.LOGIN_EN and ja == st.LOGIN_JA, f"{reason}: official S1 words",
                         r.json["message"])
            kt.check(r.json["error"]["message"] == en, "error.message is the en text", r.json)
            token = r.json["ticket"]
            notice = [m for m in shop.messages(acc["id"], token)
                      if m["kind"] == "lock_notice" and lock_id in m["body"]]
            kt.check(len(notice) == 1, f"{reason}: the lock notice", notice)
            says_reset = RESET_EN in notice[0]["body"] and RESET_JA in notice[0]["body"]
            kt.check(says_reset == (want == "password_reset"),
                     f"{reason}: the notice's next steps agree ({want})", notice[0]["body"])


def default_policy():
    check_policy({"compromised", "brute_force"}, {})


def shop_policy():
    check_policy({"gift_card", "manual"}, {"KAGI_POLICY_RESET_LIFTS": "gift_card,manual"})


if __name__ == "__main__":
    kt.main([default_policy, shop_policy])
