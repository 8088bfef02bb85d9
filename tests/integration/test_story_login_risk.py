"""Story: a login acts on the risk decision of its own `login` event
(docs/api.md "POST /v1/login"). With tests/data/rules/login_risk.rules, a
right password from a new device answers 200 with `risk` challenge and the
rule; from the ring's device the decision locks the account, and the login
answers 423 with that lock (a lock ticket, not a customer token); a wrong
password answers 401 whatever the engine decided (a lock is revealed only
after the right password)."""
import kagitest as kt
import accountstory as st

POLICY = kt.data_path("rules", "login_risk.rules")


def test_login_acts_on_its_decision():
    with st.Story(env={"KAGI_POLICY_FILE": POLICY}) as shop:
        acc = shop.account(0)
        r = shop.login(acc["email"], device_id="dev-1")
        kt.check(r.status == 200 and "risk" not in r.json, "first sign-in: allowed", r)
        r = shop.login(acc["email"], device_id="dev-1")
        kt.check(r.status == 200 and "risk" not in r.json, "known device: allowed", r)

        r = shop.login(acc["email"], device_id="dev-2")
        kt.check(r.status == 200 and r.json.get("token"), "new device: a token", r)
        kt.check(r.json.get("risk") == {"action": "challenge", "rules": ["new_device"]},
                 "new device: the challenge is in the answer", r)

        r = shop.login(acc["email"], password="wrong password", device_id="dev-ring")
        kt.check(r.status == 401 and r.error().get("code") == "auth", "wrong password: 401", r)

        r = shop.login(acc["email"], device_id="dev-ring")
        kt.check(r.status == 423 and r.json["result"] == "locked", "ring device: locked", r)
        kt.check("token" not in r.json and r.json.get("ticket"), "a lock ticket, no token", r)
        locks = r.json["locks"]
        kt.check([l["reason"] for l in locks] == ["compromised"], "the lock it set", locks)
        rows = shop.rows("SELECT lock_id, reason FROM locks WHERE account_id = ?", acc["id"])
        audit = shop.rows("SELECT actor FROM audit WHERE account_id = ? AND action = 'lock'",
                          acc["id"])
        kt.check(rows == [(locks[0]["id"], "compromised")], "one lock row, the one answered", rows)
        kt.check(audit == [("system:risk",)], "its audit entry", audit)

        r = shop.login(acc["email"], device_id="dev-1")
        kt.check(r.status == 423 and [l["id"] for l in r.json["locks"]] == [locks[0]["id"]],
                 "the lock stands for the next sign-in", r)


if __name__ == "__main__":
    kt.main([test_login_acts_on_its_decision])
