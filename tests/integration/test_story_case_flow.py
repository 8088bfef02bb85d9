"""Stories (S3, S8): the bounds and the flow of support cases — a customer
cannot open case after case (each mails a notice); an unlock after a passed
identity check resolves the case of that lock; agents download a case's
documents safely; a resolved case shows no wait estimate."""
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


if __name__ == "__main__":
    kt.main([open_bound])
