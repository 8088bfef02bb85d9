"""A lock's evidence has one shape: the same JSON object in GET
/v1/accounts/{id} (active locks) and in GET /v1/accounts/{id}/locks, for a
lock an agent wrote (its evidence object as sent) and for one a decision
wrote (the decision). Customers do not see it."""
import time

import kagitest as kt
from kagitest import check


def test_one_evidence_shape():
    with kt.Kagid() as k:
        svc, agent = k.key("service"), k.key("agent")
        check(k.post("/v1/accounts", kt.demo_account(0, id="ev-1"), key=svc).status == 201, "account")
        sent = {"order": "o-77", "items": [1, 2], "note": {"seen_by": "agent"}}
        r = k.post("/v1/accounts/ev-1/lock", {"reason": "gift_card", "evidence": sent}, key=agent)
        check(r.status == 201, "manual lock", r)
        # a decision's lock: failed logins until the brute-force rule locks
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        for i in range(30):
            d = k.post("/v1/events", {"id": f"bf{i}", "type": "login", "account": "ev-1",
                                      "success": False, "ip": "192.0.2.9", "device_id": "d9",
                                      "ts": now}, key=svc)
            check(d.status == 200, "event", d)
            if d.json["action"] == "lock":
                break
        check(d.json["action"] == "lock", "the failed logins lock", d)
        shown = {l["id"]: l for l in k.get("/v1/accounts/ev-1", key=agent).json["locks"]}
        listed = {l["id"]: l for l in k.get("/v1/accounts/ev-1/locks", key=agent).json["locks"]}
        check(len(shown) == 2 and set(shown) <= set(listed), "both locks in both answers", (shown, listed))
        for lid, l in shown.items():
            check(isinstance(l["evidence"], dict), "account view: evidence is an object", l)
            check(listed[lid]["evidence"] == l["evidence"], "locks view: the same object", (l, listed[lid]))
        manual = [l for l in shown.values() if l["reason"] == "gift_card"][0]
        check(all(manual["evidence"].get(key) == v for key, v in sent.items()),
              "a manual lock's evidence holds what the agent sent", manual)
        customer = k.key("customer", "ev-1")
        for l in k.get("/v1/accounts/ev-1/locks", key=customer).json["locks"]:
            check("evidence" not in l, "customers do not see evidence", l)


if __name__ == "__main__":
    kt.main([test_one_evidence_shape])
