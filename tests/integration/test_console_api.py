"""The console's server side over real HTTP (docs/console.md): files with a
strict Content-Security-Policy, sign-in that exchanges a key (staff) or an
email and password (customers, through the login gate) for an HttpOnly
SameSite=Strict cookie, the cookie accepted on the API routes with the same
role checks, CSRF token and Origin checks on state changes, sign-out and
key revocation ending the session; and the console's API: masked account
search and timeline (no identity-check answer in any answer), the lock-rate
series, the case document download."""
import json
import os
import re

import accountstory as st
import kagitest as kt
from kagitest import check


def cookie_of(r):
    m = re.match(r"kagi_session=([^;]*)", r.headers.get("set-cookie", ""))
    return m.group(1) if m else None


def with_cookie(cookie, csrf=None, origin=None):
    h = {"Cookie": f"kagi_session={cookie}"}
    if csrf:
        h["X-CSRF-Token"] = csrf
    if origin:
        h["Origin"] = origin
    return h


def test_files_and_headers(k):
    r = k.get("/")
    check(r.status == 302 and r.headers.get("location") == "/console", "GET / leads to /console", r)
    r = k.get("/console")
    check(r.status == 200 and r.headers["content-type"].startswith("text/html"), "index", r)
    csp = r.headers.get("content-security-policy", "")
    for part in ("default-src 'self'", "frame-ancestors 'none'", "script-src 'self'", "style-src 'self'"):
        check(part in csp, f"CSP has {part}", csp)
    check("unsafe-inline" not in csp, "no inline script or style allowed", csp)
    check(r.headers.get("x-content-type-options") == "nosniff", "nosniff", r.headers)
    check(r.headers.get("referrer-policy") == "no-referrer", "referrer policy", r.headers)
    html = r.body.decode()
    check("<script>" not in html and " style=" not in html and "<style" not in html,
          "no inline script or style in the page", html[:300])
    for src in re.findall(r'(?:src|href)="(/console/[^"]+)"', html):
        f = k.get(src)
        check(f.status == 200, f"{src} is served", f)
    r = k.get("/console/app.js")
    check(r.headers["content-type"].startswith("text/javascript"), "module type", r.headers)
    check(k.get("/console/nope.js").status == 404, "unknown file 404")
    check(k.get("/console/..%2fCMakeLists.txt").status == 404, "no path outside web/")


def test_staff_session(k, shop):
    r = k.post("/console/session", {"key": shop.agent})
    check(r.status == 200, "agent signs in", r)
    cookie = cookie_of(r)
    sc = r.headers["set-cookie"]
    for attr in ("HttpOnly", "SameSite=Strict", "Path=/", "Max-Age="):
        check(attr in sc, f"cookie has {attr}", sc)
    check("Secure" not in sc, "no Secure over plain http", sc)
    check(shop.agent not in r.body.decode() and cookie not in r.body.decode(),
          "neither the key nor the session token in the body", r)
    csrf = r.json["session"]["csrf"]
    check(r.json["session"]["role"] == "agent", "role", r)
    r = k.post("/console/session", {"key": shop.agent}, headers={"Origin": "https://shop.example"})
    check(r.status == 403 and not cookie_of(r), "sign-in from another origin refused", r)
    r = k.post("/console/session", {"key": shop.service})
    check(r.status == 403 and not cookie_of(r), "a service key is not a console key", r)
    r = k.post("/console/session", {"key": "kg_" + "a" * 16 + "_" + "B" * 43})
    check(r.status == 401 and not cookie_of(r), "unknown key", r)
    r = k.post("/console/session", {}, headers={"Origin": f"http://127.0.0.1:{k.port}"})
    check(r.status == 400 and r.error().get("field") == "key", "empty sign-in names key", r)
    r = k.post("/console/session", {"key": shop.agent},
               headers={"Origin": f"https://127.0.0.1:{k.port}"})
    check("Secure" in r.headers.get("set-cookie", ""), "Secure when the page is on https", r.headers)

    r = k.get("/console/session", headers=with_cookie(cookie))
    check(r.json["session"]["role"] == "agent" and r.json["session"]["csrf"] == csrf,
          "session read back with the same CSRF token", r)
    # the cookie is a credential on the API, with the same role checks
    r = k.get("/v1/cases", headers=with_cookie(cookie))
    check(r.status == 200, "agent cookie lists cases", r)
    check(k.get("/v1/keys", headers=with_cookie(cookie)).status == 403, "agent cookie: admin route 403")
    check(k.get("/v1/cases", headers=with_cookie("kg_" + "a" * 16 + "_" + "B" * 43)).status == 401,
          "unknown cookie 401")
    # state changes need the CSRF token and a same-origin Origin
    body = {"account": "acc-c0", "text": "caller asked for help"}
    r = k.post("/v1/cases", body, headers=with_cookie(cookie))
    check(r.status == 403 and "CSRF" in r.error().get("message", ""), "no CSRF token: 403", r)
    r = k.post("/v1/cases", body, headers=with_cookie(cookie, "0" * 32))
    check(r.status == 403, "wrong CSRF token: 403", r)
    r = k.post("/v1/cases", body, headers=with_cookie(cookie, csrf, "https://evil.example"))
    check(r.status == 403, "other Origin: 403", r)
    r = k.post("/v1/cases", body, headers=with_cookie(cookie, csrf, f"http://127.0.0.1:{k.port}"))
    check(r.status == 201, "with token and own Origin: done", r)
    # sign-out revokes the session server-side
    r = k.request("DELETE", "/console/session", headers=with_cookie(cookie, csrf))
    check(r.status == 200 and "Max-Age=0" in r.headers.get("set-cookie", ""), "signed out", r)
    check(k.get("/v1/cases", headers=with_cookie(cookie)).status == 401, "revoked session 401")
    # revoking the key ends its sessions
    key2 = k.key("agent")
    r = k.post("/console/session", {"key": key2})
    c2 = cookie_of(r)
    check(k.get("/v1/cases", headers=with_cookie(c2)).status == 200, "second session works")
    kid = key2.split("_")[1]
    check(k.request("DELETE", f"/v1/keys/{kid}", key=shop.admin).status == 200, "revoke key")
    check(k.get("/v1/cases", headers=with_cookie(c2)).status == 401, "session of a revoked key 401")


def test_customer_session(k, shop):
    r = k.post("/console/session", {"email": "user0@example.jp", "password": "wrong password!"})
    check(r.status == 401 and not cookie_of(r), "wrong password: the login gate's 401", r)
    r = k.post("/console/session", {"email": "user0@example.jp", "password": st.PASSWORD,
                                    "ip": "203.0.113.9"})
    check(r.status == 200 and cookie_of(r), "customer signs in", r)
    check("token" not in r.json and r.json["session"]["role"] == "customer", "token only in the cookie", r)
    cookie, csrf = cookie_of(r), r.json["session"]["csrf"]
    check(k.get("/v1/accounts/acc-c0/messages", headers=with_cookie(cookie)).status == 200, "own messages")
    check(k.get("/v1/accounts/acc-c1/messages", headers=with_cookie(cookie)).status == 403,
          "another account's messages 403")
    check(k.get("/v1/accounts/acc-c0/timeline", headers=with_cookie(cookie)).status == 403,
          "no agent routes for customers")
    # locked: the lock answer of /v1/login, the ticket in the cookie
    r = k.post("/v1/accounts/acc-c1/lock", {"reason": "compromised"}, key=shop.agent)
    check(r.status == 201, "lock acc-c1", r)
    r = k.post("/console/session", {"email": "user1@example.jp", "password": st.PASSWORD})
    check(r.status == 423 and r.json["result"] == "locked", "locked answer", r)
    # the official S1 words, with the remedy of a compromised lock (a reset)
    ja = r.json["message"]["ja"]
    check(ja.startswith("アカウントがロックされました。") and "パスワードアシスタント" in ja and
          r.json.get("remedy") == "password_reset", "official S1 message with its remedy", r)
    check("ticket" not in r.json and r.json["session"]["role"] == "ticket", "ticket only in the cookie", r)
    check(r.json["session"]["reset_lifts"] == ["compromised", "brute_force"], "what a reset lifts", r)
    tc, tcsrf = cookie_of(r), r.json["session"]["csrf"]
    r = k.post("/v1/cases", {"text": "please help"}, headers=with_cookie(tc, tcsrf))
    check(r.status == 201 and r.json["account"] == "acc-c1", "ticket opens a case", r)
    return cookie, csrf


def test_agent_api(k, shop):
    hdr = {"Authorization": f"Bearer {shop.agent}"}
    r = k.get("/v1/accounts?q=user1%40example.jp", headers=hdr)
    check(r.status == 200 and [a["id"] for a in r.json["accounts"]] == ["acc-c1"], "search by email", r)
    a = r.json["accounts"][0]
    check(a["status"] == "locked" and a["email"] == "u***@example.jp" and a["name"] == "A***",
          "masked result with status", a)
    r = k.get("/v1/accounts?q=acc-c0", headers=hdr)
    check([a["id"] for a in r.json["accounts"]] == ["acc-c0"], "search by id", r)
    r = k.get("/v1/accounts?q=%E5%B1%B1%E7%94%B0", headers=hdr)  # 山田
    check("acc-c0" in [a["id"] for a in r.json["accounts"]], "search by name", r)
    a0 = [a for a in r.json["accounts"] if a["id"] == "acc-c0"][0]
    check(a0["name"] == "山***" and a0["email"] == "u***@example.jp", "a Japanese name masked by character", a0)
    check("山田" not in r.body.decode(), "the searched name is not echoed", r)
    r = k.get("/v1/accounts", headers=hdr)
    check(r.status == 400 and r.error().get("field") == "q", "q required", r)
    r = k.get("/v1/accounts/acc-c1/timeline", headers=hdr)
    check(r.status == 200, "timeline", r)
    text = r.body.decode()
    for secret in ("Alice Smith", "user1@example.jp", "神宮前", "150-0001", "4242", "12/29"):
        check(secret not in text, f"timeline shows no stored answer ({secret})", text[:500])
    kinds = {i["kind"] for i in r.json["timeline"]}
    check({"lock", "case", "audit", "message"} <= kinds, "timeline kinds", kinds)
    lk = r.json["active_locks"][0]
    check(lk["reason"] == "compromised" and "explanation" in lk and lk["created"], "lock explained", lk)
    check(k.get("/v1/accounts/nobody/timeline", headers=hdr).status == 404, "unknown account 404")


def test_series_and_documents(k, shop):
    r = k.get("/v1/stats/locks?window_s=7200&bucket_s=600", key=shop.admin)
    check(r.status == 200 and len(r.json["total"]) == 12 and len(r.json["buckets"]) == 12, "12 buckets", r)
    check(sum(r.json["total"]) >= 1 and sum(r.json["by_reason"]["compromised"]) >= 1, "the lock counted", r)
    check(r.json["breaker"]["state"] == "armed", "the guard's breaker, armed", r)
    r = k.get("/v1/stats/locks?bucket_s=1", key=shop.admin)
    check(r.status == 400 and r.error().get("field") == "bucket_s", "bad bucket named", r)
    check(k.get("/v1/stats/locks", key=shop.agent).status == 403, "series is admin only")
    r = k.get("/v1/rules/policy", key=shop.admin)
    with open(os.path.join(kt.SOURCE_DIR, "policy", "default.rules"), encoding="utf-8") as f:
        check(r.status == 200 and r.json["text"] == f.read() and r.json["rules"] > 0, "the running policy", r)
    r = k.get("/v1/accounts/acc-c1/cases", key=shop.agent)
    case = r.json["cases"][0]["id"]
    r = k.post(f"/v1/cases/{case}/documents?name=..%2Fid%20card.png", key=shop.agent,
               raw=b"\x89PNG\r\n\x1a\nfake", content_type="image/png")
    check(r.status == 201, "document added", r)
    doc = r.json["documents"][0]["id"]
    r = k.get(f"/v1/cases/{case}/documents/{doc}", key=shop.agent)
    check(r.status == 200 and r.body == b"\x89PNG\r\n\x1a\nfake", "document bytes", r)
    check(r.headers.get("content-disposition", "").startswith("attachment;"), "attachment", r.headers)
    check('filename="_._id_card.png"' in r.headers["content-disposition"], "safe file name", r.headers)
    check(r.headers.get("x-content-type-options") == "nosniff", "nosniff", r.headers)
    check("sandbox" in r.headers.get("content-security-policy", ""), "sandboxed", r.headers)
    check(k.get(f"/v1/cases/{case}/documents/doc_nope", key=shop.agent).status == 404, "unknown doc 404")
    check(k.get(f"/v1/cases/nope/documents/{doc}", key=shop.agent).status == 404, "unknown case 404")


def main():
    with st.Story() as shop:
        k = shop.k
        shop.account(0, id="acc-c0")
        shop.account(1, id="acc-c1")
        kt.main([lambda: test_files_and_headers(k), lambda: test_staff_session(k, shop),
                 lambda: test_customer_session(k, shop), lambda: test_agent_api(k, shop),
                 lambda: test_series_and_documents(k, shop)])


if __name__ == "__main__":
    main()
