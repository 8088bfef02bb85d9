"""Stories (S3, S8): the bounds and the flow of support cases — a customer
cannot open case after case (each mails a notice); an unlock after a passed
identity check resolves the case of that lock; agents download a case's
documents safely; a resolved case shows no wait estimate."""
import json

import accountstory as st
import kagitest as kt

OPEN_MAX = 3  # cases.open_max default


def open_bound():
    """A customer token opens at most cases.open_max unresolved cases; the
    refusal is 409 with the error shape and names an open case. Resolving
    one makes room; staff are not bound."""
    with st.Story() as shop:
        k = shop.k
        acc = shop.account(1)
        token = shop.login(acc["email"]).json["token"]
        ids = []
        for i in range(OPEN_MAX):
            r = k.post("/v1/cases", {"text": f"question {i}"}, key=token)
            kt.check(r.status == 201, "open a case", r)
            ids.append(r.json["id"])
        notices = len(shop.messages(acc["id"], token))
        for _ in range(5):
            r = k.post("/v1/cases", {"text": "again"}, key=token)
            kt.check(r.status == 409 and r.error().get("code") == "conflict", "over the bound", r)
            kt.check(ids[-1] in r.error().get("message", ""), "the answer names an open case", r)
        kt.check(len(shop.messages(acc["id"], token)) == notices, "no notice for a refused case")
        r = k.post(f"/v1/cases/{ids[0]}/state", {"state": "resolved"}, key=shop.agent)
        kt.check(r.status == 200, "resolve one", r)
        r = k.post("/v1/cases", {"text": "a new one"}, key=token)
        kt.check(r.status == 201, "room again after one is resolved", r)
        r = k.post("/v1/cases", {"account": acc["id"], "text": "staff"}, key=shop.agent)
        kt.check(r.status == 201, "staff are not bound", r)


PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))


def unlock_resolves_the_case():
    """Lock -> the customer opens a case with the ticket -> the agent passes
    the identity check and unlocks: the case of that lock is resolved (with
    an audit entry), and as resolved it shows no wait estimate. A case about
    nothing locked stays open."""
    with st.Story() as shop:
        k = shop.k
        acc = shop.account(2)
        aid = acc["id"]
        lock_id = shop.lock(aid, "payment_fraud")
        ticket = shop.login(acc["email"]).json["ticket"]
        r = k.post("/v1/cases", {"text": "please unlock"}, key=ticket)
        kt.check(r.status == 201 and r.json["lock"] == lock_id, "a case about the lock", r)
        case = r.json["id"]
        other = k.post("/v1/cases", {"account": aid, "text": "a question about an order"},
                       key=shop.agent)
        kt.check(other.status == 201, "a second case", other)
        r = k.post(f"/v1/cases/{case}/verify", shop.verify_body(acc), key=shop.agent)
        kt.check(r.status == 200 and r.json["result"] == "pass", "identity check passed", r)
        r = k.post(f"/v1/accounts/{aid}/unlock", {}, key=shop.agent)
        kt.check(r.status == 200 and [l["id"] for l in r.json["lifted"]] == [lock_id], "unlock", r)
        r = k.get(f"/v1/cases/{case}", key=shop.agent)
        kt.check(r.status == 200 and r.json["state"] == "resolved", "the case is resolved", r)
        kt.check(r.json["history"][-1]["state"] == "resolved", "in its history", r.json["history"])
        kt.check(r.json["queue_position"] is None and r.json["wait_estimate_s"] is None,
                 "a resolved case has no queue position and no wait estimate", r.json)
        shown = json.loads(k.kagi("cases", "show", "--db", k.db, case).stdout)
        kt.check(shown["queue_position"] is None and shown["wait_estimate_s"] is None,
                 "kagi cases show says the same", shown)
        audit = k.kagi("audit", "list", "--db", k.db, aid).stdout
        kt.check('"case_state"' in audit and case in audit and '"resolved"' in audit,
                 "the resolution is audited", audit)
        # The other case was opened while locked too (an agent's, on the
        # same lock): only cases naming the lifted lock are resolved.
        r = k.get(f"/v1/cases/{other.json['id']}", key=shop.agent)
        kt.check(r.status == 200, "the other case", r)
        want = "resolved" if r.json.get("lock") == lock_id else "open"
        kt.check(r.json["state"] == want, "a case follows its own lock", r.json)
        # A case about nothing locked stays open after an unlock.
        free = k.post("/v1/cases", {"account": aid, "text": "no lock now"}, key=shop.agent).json
        kt.check(free["lock"] is None and free["state"] == "open", "a case without a lock", free)
        shop.lock(aid, "manual")
        r = k.post(f"/v1/accounts/{aid}/unlock", {"reason": "checked"}, key=shop.admin)
        kt.check(r.status == 200, "admin unlock", r)
        r = k.get(f"/v1/cases/{free['id']}", key=shop.agent)
        kt.check(r.json["state"] == "open", "a case without a lock stays open", r.json)


def documents_download():
    """Agents download a case's documents as attachments: a sanitised file
    name, nosniff, the stored type (never rendered as a page). Customers and
    tickets of other accounts cannot."""
    with st.Story() as shop:
        k = shop.k
        acc = shop.account(3)
        shop.lock(acc["id"], "gift_card")
        ticket = shop.login(acc["email"]).json["ticket"]
        case = k.post("/v1/cases", {"text": "proof attached"}, key=ticket).json["id"]
        r = k.post(f"/v1/cases/{case}/documents?name=card.png", raw=PNG, content_type="image/png",
                   key=ticket)
        kt.check(r.status == 201, "upload", r)
        nasty = "../../<script>\"x\".html"
        from urllib.parse import quote
        r = k.post(f"/v1/cases/{case}/documents?name={quote(nasty)}",
                   raw=b"<html><script>alert(1)</script></html>", content_type="text/plain",
                   key=ticket)
        kt.check(r.status == 201, "a text upload with a nasty name", r)
        docs = {d["name"]: d["id"] for d in r.json["documents"]}
        r = k.get(f"/v1/cases/{case}/documents/{docs['card.png']}", key=shop.agent)
        kt.check(r.status == 200 and r.body == PNG, "the agent downloads the bytes", r)
        kt.check(r.headers.get("content-type") == "image/png", "the stored type", r.headers)
        kt.check(r.headers.get("content-disposition") == 'attachment; filename="card.png"',
                 "an attachment", r.headers)
        kt.check(r.headers.get("x-content-type-options") == "nosniff", "nosniff", r.headers)
        r = k.get(f"/v1/cases/{case}/documents/{docs[nasty]}", key=shop.agent)
        kt.check(r.status == 200, "the text document", r)
        kt.check(r.headers.get("content-type", "").startswith("text/plain"), "never text/html",
                 r.headers)
        cd = r.headers.get("content-disposition", "")
        name = cd.split('filename="', 1)[-1].rstrip('"')
        kt.check(cd.startswith('attachment; filename="') and all(c not in name for c in '/\\<>"')
                 and not name.startswith("."), "a sanitised file name", cd)
        r = k.get(f"/v1/cases/{case}/documents/doc-nope", key=shop.agent)
        kt.check(r.status == 404 and r.error(), "an unknown document: 404 with the error shape", r)
        # Other accounts' customers and tickets see nothing.
        other = shop.account(4)
        token = shop.login(other["email"]).json["token"]
        r = k.get(f"/v1/cases/{case}/documents/{docs['card.png']}", key=token)
        kt.check(r.status == 403, "another customer", r)
        shop.lock(other["id"], "manual")
        other_ticket = shop.login(other["email"]).json["ticket"]
        r = k.get(f"/v1/cases/{case}/documents/{docs['card.png']}", key=other_ticket)
        kt.check(r.status == 403, "another ticket", r)
        r = k.get(f"/v1/cases/{case}/documents/{docs['card.png']}", key=shop.service)
        kt.check(r.status == 403, "the service role", r)
        r = k.get(f"/v1/cases/{case}/documents/{docs['card.png']}", key=ticket)
        kt.check(r.status == 200 and r.body == PNG, "the uploader's own ticket", r)


if __name__ == "__main__":
    kt.main([open_bound, unlock_resolves_the_case, documents_download])
