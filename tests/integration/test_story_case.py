"""Story (S3, S8): a locked customer opens a case with the lock ticket,
uploads a document (kept with its SHA-256), sees the queue position and a
wait estimate, is asked for more, sends a document again and follows the
progress — all while locked."""
import hashlib

import accountstory as st
import kagitest as kt

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def story():
    with st.Story() as shop:
        k = shop.k
        # Some handled cases first, so there is a wait estimate.
        for i in range(10, 13):
            other = shop.account(i)
            r = k.post("/v1/cases", {"account": other["id"], "text": "question"}, key=shop.agent)
            kt.check(r.status == 201, "agent opens a case", r)
            r = k.post(f"/v1/cases/{r.json['id']}/state", {"state": "resolved", "note": "answered"},
                       key=shop.agent)
            kt.check(r.status == 200 and r.json["state"] == "resolved", "resolved", r)
        # One case waiting ahead of ours.
        ahead = shop.account(13)
        r = k.post("/v1/cases", {"account": ahead["id"], "text": "waiting"}, key=shop.agent)
        kt.check(r.status == 201, "case ahead", r)

        acc = shop.account(4)
        aid = acc["id"]
        shop.lock(aid, "payment_fraud")
        r = shop.login(acc["email"])
        kt.check(r.status == 423, "locked", r)
        ticket = r.json["ticket"]

        r = k.post("/v1/cases", {"subject": "ロック解除のお願い", "text": "カードは本人名義です。"}, key=ticket)
        kt.check(r.status == 201, "open with the ticket", r)
        case = r.json
        kt.check(case["state"] == "open" and case["queue_position"] == 2, "second in the queue", case)
        kt.check(isinstance(case["wait_estimate_s"], int) and case["wait_estimate_s"] >= 0,
                 "a wait estimate from recent handling times", case)
        kt.check(case["lock"], "the case names the lock", case)
        # A ticket opens one case: asking again gives the same one.
        r = k.post("/v1/cases", {"text": "again"}, key=ticket)
        kt.check(r.status == 200 and r.json["id"] == case["id"], "one case per ticket", r)

        # The document, stored with its SHA-256.
        r = k.post(f"/v1/cases/{case['id']}/documents?name=card.png", raw=PNG, content_type="image/png",
                   key=ticket)
        kt.check(r.status == 201, "document upload", r)
        docs = r.json["documents"]
        kt.check(len(docs) == 1 and docs[0]["sha256"] == hashlib.sha256(PNG).hexdigest(), "sha256", docs)
        kt.check(docs[0]["bytes"] == len(PNG) and docs[0]["content_type"] == "image/png", "size, type", docs)
        # Limits: type and size.
        r = k.post(f"/v1/cases/{case['id']}/documents", raw=b"MZ\x90\x00", content_type="application/x-msdownload",
                   key=ticket)
        kt.check(r.status == 400, "executables refused", r)
        r = k.post(f"/v1/cases/{case['id']}/documents", raw=b"x" * (5 * 1024 * 1024 + 1),
                   content_type="application/pdf", key=ticket)
        kt.check(r.status == 413, "documents over 5 MiB refused", r)

        # The agent asks for more; the customer sends the proof again.
        r = k.post(f"/v1/cases/{case['id']}/state", {"state": "waiting_on_customer",
                   "note": "カードの明細をもう一度お送りください。"}, key=shop.agent)
        kt.check(r.status == 200 and r.json["queue_position"] is None, "waiting on the customer", r)
        r = k.post(f"/v1/cases/{case['id']}/documents?name=statement.pdf", raw=b"%PDF-1.4 proof",
                   content_type="application/pdf", key=ticket)
        kt.check(r.status == 201 and r.json["state"] == "in_review", "sending again moves it to in_review", r)
        kt.check(r.json["queue_position"] == 2, "back in the queue", r)

        # Progress as the customer sees it.
        r = k.get(f"/v1/cases/{case['id']}", key=ticket)
        kt.check(r.status == 200, "follow the case", r)
        states = [h["state"] for h in r.json["history"] if h["state"]]
        kt.check(states == ["open", "waiting_on_customer", "in_review"], "history of states", r.json["history"])
        kt.check(all(not h["actor"].startswith("agent:") for h in r.json["history"]), "staff shown as support",
                 r.json["history"])
        kt.check(len(r.json["documents"]) == 2, "both documents", r.json)
        kinds = [m["kind"] for m in shop.messages(aid, ticket)]
        kt.check(kinds.count("case_update") >= 3, "case updates in the message center", kinds)
        # Someone else's ticket cannot see it.
        other = shop.account(14)
        shop.lock(other["id"], "manual")
        other_ticket = shop.login(other["email"]).json["ticket"]
        kt.check(k.get(f"/v1/cases/{case['id']}", key=other_ticket).status == 403, "other tickets see nothing")
        # Bad transitions are refused.
        r = k.post(f"/v1/cases/{case['id']}/state", {"state": "open"}, key=shop.agent)
        kt.check(r.status == 409, "in_review cannot go back to open", r)
        r = k.get("/v1/cases?state=in_review", key=shop.agent)
        kt.check(r.status == 200 and [c["id"] for c in r.json["cases"]] == [case["id"]], "agent queue", r)


if __name__ == "__main__":
    kt.main([story])
