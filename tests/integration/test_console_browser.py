"""The web console in a real browser (Debian's chromium, driven by
playwright-core from tests/browser/console.mjs) against a real kagid whose
mail goes to a real SMTP listener (mailsink): every page's main flow, axe-core
on every page in Japanese and English, no horizontal scroll at 390x844, a
screenshot of every page under <build>/console-screenshots/.

This file sets the stage (accounts, keys, a lock by the risk engine, a lock
by an agent, a real notice in a customer's mailbox) and serves the codes the
SMTP listener received to the browser script on a loopback port; the script
does what a person would do. kagid runs with a small breaker cap (BREAKER)
so that the script's ring orders trip the breaker and an admin reverts the
incident in the browser. Skipped (77) when chromium or node_modules is
missing (scripts/install-deps.sh test installs both)."""
import datetime
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import urllib.parse

import accountstory as st
import kagitest as kt
import mailsink
from kagitest import check

NODE_SCRIPT = os.path.join(kt.SOURCE_DIR, "tests", "browser", "console.mjs")
CHROMIUM = "/usr/bin/chromium"
SHOTS = os.path.join(os.getcwd(), "console-screenshots")
# The breaker's hard cap, small: the staged takeover lock and the first ring
# locks reach it, and the ring's later orders are held (docs/guard.md).
BREAKER = {"KAGI_BREAKER_MAX_LOCKS": "4", "KAGI_BREAKER_WINDOW_S": "3600"}
RING = 8


def now_ts():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class CodeServer:
    """GET /code?email=ADDR: the newest recovery code the SMTP listener got
    for ADDR (404 until one came), so the browser script types the code a
    customer would read in the mail; GET /first?email=ADDR: the first mail
    to ADDR (a real notice to check)."""

    def __init__(self, shop):
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                u = urllib.parse.urlparse(self.path)
                addr = urllib.parse.parse_qs(u.query).get("email", [""])[0]
                if u.path == "/first":  # the first mail to addr, as saved from a mail program
                    mails = [m["raw"] for m in outer.shop.sink.snapshot() if addr in m["rcpts"]]
                    self.send_response(200 if mails else 404)
                    self.send_header("Content-Type", "message/rfc822")
                    self.end_headers()
                    self.wfile.write(mails[0] if mails else b"")
                    return
                codes = []
                for m in outer.shop.sink.snapshot():
                    if addr in m["rcpts"]:
                        text = mailsink.parts(m["msg"])[0]
                        found = st.CODE_RE.search(text)
                        if found:
                            codes.append(found.group(1))
                body = json.dumps({"code": codes[-1] if codes else None}).encode()
                self.send_response(200 if codes else 404)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

        self.shop = shop
        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.srv.server_address[1]}"
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def shop_env(tmp):
    """Notices DKIM-signed with a key made for the test, and the shop
    profile that knows it: the mail check can call a real notice genuine."""
    priv, pub = os.path.join(tmp, "dkim.pem"), os.path.join(tmp, "dkim.pub.pem")
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                    "-out", priv], check=True, capture_output=True)
    subprocess.run(["openssl", "pkey", "-in", priv, "-pubout", "-out", pub], check=True, capture_output=True)
    profile = os.path.join(tmp, "shop.profile")
    with open(profile, "w") as f:
        f.write("name = Kagi Mart\nbrand = Kagi Mart\nbrand = カギマート\nsender_domain = shop.example\n"
                "link_domain = shop.example\n"
                f"dkim_key_file = shop.example kagi {pub}\n")
    return {"KAGI_SHOP_NAME": "Kagi Mart", "KAGI_MAIL_FROM": "notices@shop.example",
            "KAGI_DKIM_DOMAIN": "shop.example", "KAGI_DKIM_SELECTOR": "kagi", "KAGI_DKIM_KEY_FILE": priv,
            "KAGI_SHOP_PROFILE": profile}


# A phishing mail in the shop's name: a look-alike sender, a link elsewhere.
PHISH = """From: "Kagi Mart" <notices@shop-example.top>
To: hanako@example.jp
Subject: =?UTF-8?B?44CQ6YeN6KaB44CR44Ki44Kr44Km44Oz44OI44Ot44OD44Kv?=
Message-ID: <x1@shop-example.top>
Date: Tue, 01 Dec 2026 10:00:00 +0000
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Dear customer,

Your Kagi Mart account has been locked. Verify your card within 24 hours
or it will be closed: http://kagi-mart-login.top/verify?id=1

Kagi Mart
"""


def stage(shop, tmp):
    k = shop.k
    # a customer an agent locked (misuse of payment: only support lifts it)
    locked = shop.account(1, id="acc-locked", email="alice@example.com")
    r = k.post("/v1/accounts/acc-locked/lock", {"reason": "payment_fraud", "note": "chargebacks"}, key=shop.agent)
    check(r.status == 201, "agent locks acc-locked", r)
    # a customer the risk engine locked after a takeover (the reset lifts it)
    reset = shop.account(2, id="acc-reset", email="hanako@example.jp")
    check(shop.login(reset["email"], device_id="home-pc", country="JP").status == 200, "usual login")
    check(shop.login(reset["email"], device_id="evil-phone", country="RU", ip="203.0.113.66").status == 200,
          "attacker login")
    r = k.post("/v1/events", {"id": "pwc-1", "type": "password_change", "account": "acc-reset", "ts": now_ts(),
                              "ip": "203.0.113.66", "device_id": "evil-phone", "via": "settings"}, key=shop.service)
    check(r.status == 200 and r.json["action"] == "lock", "the takeover rule locks acc-reset", r)
    phish_path = os.path.join(tmp, "phish.eml")
    with open(phish_path, "w", encoding="utf-8") as f:
        f.write(PHISH.replace("\n", "\r\n"))
    # a gift-card ring the browser script sends orders for (tests/browser/console.mjs
    # "incidents"): their locks reach the breaker's cap and trip it
    ring = []
    for i in range(RING):
        acc = kt.demo_account(300 + i, id=f"ring-{i}", email=f"ring-{i}@example.jp")
        check(k.post("/v1/accounts", acc, key=shop.service).status == 201, "ring account created")
        addr, card = acc["address"], dict(acc["cards"][0])
        ring.append({"id": f"ord-ring-{i}", "type": "order", "account": acc["id"], "order_id": f"ord-ring-{i}",
                     "amount": 120000, "currency": "JPY",
                     "items": [{"sku": "gc", "category": "gift_card", "price": 60000, "qty": 2}],
                     "shipping_address": addr, "billing_address": addr, "card": card, "seller_ids": []})
    doc_path = os.path.join(tmp, "id-card.png")
    with open(doc_path, "wb") as f:  # a 1x1 PNG
        f.write(bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                              "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"))
    return {
        "locked": locked, "reset": reset, "ring": ring,
        "doc": doc_path,
        "phish": phish_path,
        "policy": os.path.join(kt.SOURCE_DIR, "policy", "default.rules"),
    }


def main():
    node_modules = os.path.join(kt.SOURCE_DIR, "node_modules", "playwright-core")
    if not (os.path.exists(CHROMIUM) and os.path.isdir(node_modules) and shutil.which("node")):
        print("skip: chromium or node_modules/playwright-core missing (scripts/install-deps.sh test)")
        sys.exit(77)
    tmp = tempfile.mkdtemp(prefix="kagi-browser-")
    shutil.rmtree(SHOTS, ignore_errors=True)
    os.makedirs(SHOTS)
    try:
        st.ENV.update(shop_env(tmp))
        with st.Story(env=BREAKER) as shop:
            data = stage(shop, tmp)
            codes = CodeServer(shop)
            try:
                env = dict(os.environ,
                           KAGI_URL=f"http://127.0.0.1:{shop.k.port}", AGENT_KEY=shop.agent, ADMIN_KEY=shop.admin, SERVICE_KEY=shop.service,
                           CODE_URL=codes.url, SHOT_DIR=SHOTS, PASSWORD=st.PASSWORD,
                           STAGE=json.dumps(data), NODE_PATH=os.path.join(kt.SOURCE_DIR, "node_modules"))
                p = subprocess.run(["node", NODE_SCRIPT], env=env, cwd=kt.SOURCE_DIR, timeout=400)
                check(p.returncode == 0, "browser suite passed (tests/browser/console.mjs)", p.returncode)
            finally:
                codes.close()
            # what the browser did is in the store: the agent's unlock, the document
            r = shop.k.get("/v1/accounts/acc-locked/locks", key=shop.agent)
            check(not any(l["active"] for l in r.json["locks"]), "acc-locked is unlocked", r)
            r = shop.k.get("/v1/accounts/acc-locked/cases", key=shop.agent)
            case = shop.k.get(f"/v1/cases/{r.json['cases'][0]['id']}", key=shop.agent).json
            check([d["name"] for d in case["documents"]] == ["id-card.png"], "the uploaded document", case)
            r = shop.k.get("/v1/accounts/acc-reset/locks", key=shop.agent)
            check(not any(l["active"] for l in r.json["locks"]), "the reset lifted acc-reset's lock", r)
            # the admin's revert in the browser: every ring account unlocked, the incident
            # reverted, the breaker armed again by the admin's reset
            for acc in data["ring"]:
                r = shop.k.get(f"/v1/accounts/{acc['account']}/locks", key=shop.agent)
                check(not any(l["active"] for l in r.json["locks"]), f"{acc['account']} is not locked", r)
            r = shop.k.get("/v1/incidents", key=shop.admin)
            check([i["state"] for i in r.json["incidents"]] == ["reverted"], "one incident, reverted", r)
            r = shop.k.get("/v1/guard", key=shop.admin)
            check(r.json["state"] == "armed", "the breaker is armed after the reset", r)
        shots = sorted(os.listdir(SHOTS))
        check(len(shots) >= 20, "a screenshot of every page in both languages", shots)
        print(f"ok   browser suite; {len(shots)} screenshots in {SHOTS}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
