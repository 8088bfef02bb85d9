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


def jansson(v, indent=None, sort_keys=False):
    """v as jansson's json_dumps writes it: compact (JSON_COMPACT) or
    indented (JSON_INDENT(2) | JSON_SORT_KEYS, kagi account show); UTF-8 as
    it is, control characters as \\b \\f \\n \\r \\t or \\u00XX (upper case)."""
    seps = (",", ":") if indent is None else (",", ": ")
    text = json.dumps(v, ensure_ascii=False, indent=indent, sort_keys=sort_keys, separators=seps)
    return re.sub(r"(?<!\\)((?:\\\\)*)\\u00([0-9a-f]{2})",
                  lambda m: m.group(1) + "\\u00" + m.group(2).upper(), text)


def varied():
    """One writer for every view of an account: on accounts with quotes,
    backslashes, emoji, two cards, lock evidence with control characters
    and with registered values, and rows with NULLs, the 201 of the
    creation is the admin's view, the admin's view is compact JSON in the
    members' order, the agent's view is it masked, and `kagi account show`
    prints the same record (indented, keys sorted)."""
    with st.Story() as shop:
        k = shop.k
        bodies = [
            kt.demo_account(10, name='Ann "Q" O\'Neil \\ 😀', phone="+81 3-1234", lang="ja",
                            address={"postal_code": "150-0001", "region": 'N"Y\\ 🗽',
                                     "city": 'New "York"', "line1": "1 \\ Main 😀",
                                     "line2": "Flat \"2\"", "country": "US"},
                            cards=[{"holder_name": 'ANN "Q"', "last4": "4242", "exp": "12/29",
                                    "fingerprint": 'fp "10" \\ 😀'},
                                   {"holder_name": "ANN \\ B", "last4": "1881", "exp": "01/30",
                                    "fingerprint": "fp-10b"}]),
            kt.demo_account(11, cards=[]),
            kt.demo_account(12, name="Zoë Ünïcødé"),
        ]
        for body in bodies:
            r = k.post("/v1/accounts", body, key=shop.service)
            kt.check(r.status == 201, "create account", r)
            full = k.get(f"/v1/accounts/{body['id']}", key=shop.admin)
            kt.check(r.body == full.body, "the 201 of the creation is the admin's view", (r.body, full.body))
        acc = bodies[0]
        ctl = "a\u0001b\bc\fd\u001fe\tf\ng\rh\u007f 'q' \"hi\" \\ 🎉"
        ev = {"seen": acc["address"]["line1"], "card": "4242", "ctl": ctl,
              "nested": {"list": [1, True, None, acc["cards"][1]["holder_name"]]}}
        r = k.post(f"/v1/accounts/{acc['id']}/lock", {"reason": "payment_fraud", "evidence": ev},
                   key=shop.agent)
        kt.check(r.status == 201, "lock with evidence", r)
        scrubbed = {"seen": "***", "card": "***", "ctl": ctl, "nested": {"list": [1, True, None, "***"]}}
        # rows no API writes: NULLs, an empty name, an email without a local
        # part, evidence that is not a JSON object, control characters
        k.execute("UPDATE accounts SET phone = NULL, line2 = NULL, postal_code = NULL, lang = NULL, "
                  "name = '', email = '@example.org' WHERE id = 'acc-11'")
        k.execute("UPDATE accounts SET city = ?, region = ? WHERE id = 'acc-12'", "Ci\fty", "Reg\u001fion")
        k.execute("UPDATE account_cards SET holder_name = NULL, fingerprint = NULL WHERE account_id = 'acc-12'")
        k.execute("INSERT INTO locks (account_id, lock_id, reason, kind, evidence, state, created_ms) "
                  "VALUES ('acc-12', 'lk_text', 'manual', 'precaution', ?, 'active', 1700000000000)",
                  "raw\u0001 text \"q\" \\ \t [1,2]")
        for body in bodies:
            aid = body["id"]
            full = k.get(f"/v1/accounts/{aid}", key=shop.admin)
            kt.check(full.status == 200, "admin view", full)
            rec = json.loads(full.body)
            kt.check(full.body.decode("utf-8") == jansson(rec), "the admin's view is compact JSON", full.body)
            kt.check(list(rec) == ["id", "name", "email", "phone", "lang", "address", "has_password",
                                   "totp_enabled", "created", "updated", "locked", "locks", "cards"],
                     "the view's members in their order", list(rec))
            view = k.get(f"/v1/accounts/{aid}", key=shop.agent)
            want = masked_rows(rec, scrubbed if aid == acc["id"] else None)
            kt.check(view.body.decode("utf-8") == jansson(want), f"{aid}: the agent's view is the record masked",
                     (view.body, jansson(want)))
            shown = k.kagi("account", "show", "--db", k.db, aid).stdout
            kt.check(shown == jansson(rec, indent=2, sort_keys=True) + "\n",
                     f"{aid}: kagi account show prints the record", shown)
        rec = json.loads(k.get("/v1/accounts/acc-10", key=shop.admin).body)
        kt.check([c["fingerprint"] for c in rec["cards"]] == ['fp "10" \\ 😀', "fp-10b"]
                 and rec["locks"][0]["evidence"] == ev and rec["address"] == acc["address"],
                 "the admin sees the record as written", rec)


def masked_rows(full, evidence):
    """masked() for rows that need not hold the story's registered values:
    the name's or email's mask only where there is one, the evidence given
    (None: as it is, none of it a registered value), in the record's order."""
    v = {}
    for key, val in full.items():
        if key == "name" and val:
            val = val[0] + "***"
        elif key == "email" and val is not None:
            local, domain = val.rsplit("@", 1)
            val = f"{local[0]}***@{domain}" if local else "***"
        elif key == "phone" and val is not None:
            val = "***"
        elif key == "address":
            val = {"region": val["region"], "country": val["country"]}
        elif key == "locks" and evidence is not None:
            val = [dict(lk, evidence={k: evidence[k] for k in lk["evidence"]}) for lk in val]
        elif key == "cards":
            val = [{"fingerprint": c["fingerprint"], "added": c["added"]} for c in val]
        v[key] = val
    v["masked"] = True
    return v


if __name__ == "__main__":
    kt.main([story, varied])
