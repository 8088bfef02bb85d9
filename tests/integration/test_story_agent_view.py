"""Story (S5): the agent runs the identity check blind. No answer an agent
can get holds the registered name, email, address lines, postal code,
card last 4, expiry or holder name — not the account view, the message
center (notices greet by name), the locks (evidence), the cases, their
lists — while admins see the record and customers their own notices."""
import json
import re

import accountstory as st
import kagitest as kt


def secrets_of(acc):
    card = acc["cards"][0]
    a = acc["address"]
    return [acc["name"], *acc["name"].split(" "), acc["email"], a["line1"], a["postal_code"],
            a["city"], card["last4"], card["exp"], card["holder_name"]]


def leaks(r, secrets):
    """The secrets found in the answer: as whole words (digits of a last 4
    may occur inside a random id), in the raw and the decoded JSON."""
    text = r.body.decode("utf-8")
    decoded = json.dumps(r.json, ensure_ascii=False) if r.json is not None else ""
    found = []
    for s in secrets:
        pat = re.compile(r"(?<![0-9A-Za-z])" + re.escape(s) + r"(?![0-9A-Za-z])")
        if pat.search(text) or pat.search(decoded):
            found.append(s)
    return found


def masked(full):
    """The agent's view as docs/api.md gives it, from the admin's record:
    the same members in the same order, the identity-check answers masked
    or left out, the lock evidence scrubbed (here every value of it is a
    registered value), "masked": true last."""
    v = {}
    for key, val in full.items():
        if key == "name":
            val = val[0] + "***"
        elif key == "email":
            local, domain = val.split("@")
            val = f"{local[0]}***@{domain}"
        elif key == "phone" and val is not None:
            val = "***"
        elif key == "address":
            val = {"region": val["region"], "country": val["country"]}
        elif key == "locks":
            val = [dict(lk, evidence={k: "***" for k in lk["evidence"]}) for lk in val]
        elif key == "cards":
            val = [{"fingerprint": c["fingerprint"], "added": c["added"]} for c in val]
        v[key] = val
    v["masked"] = True
    return v


def story():
    with st.Story() as shop:
        k = shop.k
        for i in (2, 3):  # a Japanese and a Latin name
            acc = shop.account(i)
            aid = acc["id"]
            secrets = secrets_of(acc)
            r = k.post(f"/v1/accounts/{aid}/lock", {"reason": "payment_fraud", "evidence": {
                "seen": acc["address"]["line1"], "card": acc["cards"][0]["last4"]}},
                key=shop.agent)
            kt.check(r.status == 201, "lock with evidence", r)
            ticket = shop.login(acc["email"]).json["ticket"]
            r = k.post("/v1/cases", {"subject": f"{acc['name']} unlock",
                                     "text": f"I am {acc['name']}, card {acc['cards'][0]['last4']}"},
                       key=ticket)
            kt.check(r.status == 201, "the customer opens a case", r)
            case = r.json["id"]
            routes = [
                ("GET", f"/v1/accounts/{aid}", None),
                ("GET", f"/v1/accounts/{aid}/messages", None),
                ("GET", f"/v1/accounts/{aid}/locks", None),
                ("GET", f"/v1/accounts/{aid}/cases", None),
                ("GET", "/v1/cases", None),
                ("GET", f"/v1/cases/{case}", None),
                ("POST", f"/v1/cases/{case}/notes", {"text": "checking"}),
                ("POST", f"/v1/cases/{case}/state", {"state": "in_review"}),
                ("POST", f"/v1/cases/{case}/verify", shop.verify_body(acc, name="wrong name")),
            ]
            for method, path, body in routes:
                r = k.request(method, path, body, key=shop.agent)
                kt.check(r.status in (200, 201), f"agent {method} {path}", r)
                kt.check(not leaks(r, secrets), f"agent {method} {path} leaks {leaks(r, secrets)}",
                         r)
            # The masked view still helps: initial, email shape, region.
            view = k.get(f"/v1/accounts/{aid}", key=shop.agent).json
            kt.check(view["masked"] is True and view["name"] == acc["name"][0] + "***", "name initial",
                     view)
            local, domain = acc["email"].split("@")
            kt.check(view["email"] == f"{local[0]}***@{domain}", "email masked", view)
            kt.check(view["address"] == {"region": acc["address"]["region"], "country": "JP"},
                     "region and country only", view)
            kt.check(all(set(c) <= {"fingerprint", "added"} for c in view["cards"]), "no card data",
                     view["cards"])
            # Admins see the record; customers see their own notices.
            full = k.get(f"/v1/accounts/{aid}", key=shop.admin).json
            kt.check(full["name"] == acc["name"] and full["cards"][0]["last4"] == "4242"
                     and "masked" not in full, "admin sees the record", full)
            # The agent's view is written directly (not built as the record
            # and then cut): it is the record masked, byte for byte as the
            # server writes JSON (compact, in order).
            r = k.get(f"/v1/accounts/{aid}", key=shop.agent)
            want = json.dumps(masked(full), ensure_ascii=False, separators=(",", ":"))
            kt.check(r.body.decode("utf-8") == want, "the agent's view is the masked record",
                     (r.body, want))
            msgs = k.get(f"/v1/accounts/{aid}/messages", key=ticket)
            kt.check(acc["name"] in msgs.json["messages"][-1]["body"], "the customer's notice greets by name",
                     msgs.json["messages"][-1])


if __name__ == "__main__":
    kt.main([story])
