"""Helpers of the account stories (tests/integration/test_story_*.py): an
account with a password, its keys, the outbox and message center as the
customer would see them. Python 3 stdlib only; builds on kagitest."""
import base64
import datetime
import email
import email.policy
import hashlib
import hmac
import re
import struct
import time

import kagitest as kt
import mailsink

PASSWORD = "correct horse battery"
SECRET_KEY = "7f" * 32  # account.secret_key for the tests (TOTP sealing)
ENV = {"KAGI_ACCOUNT_SECRET_KEY": SECRET_KEY, "KAGI_SHOP_NAME": "Example Shop"}

LOGIN_JA = ("アカウントがロックされました。お客様のアカウントで不審なアクティビティが検出され、"
            "予防処置としてロックされました。詳細については、カスタマーサービスチームにお問い合わせください。")
LOGIN_EN = ("Your account has been locked. Suspicious activity was detected on your account and "
            "it was locked as a precaution. Please contact customer service.")
LOCK_TITLE_JA = "アカウントロックに関するお知らせ"
LOCK_TITLE_EN = "Notice about your account lock"


class Story:
    """A kagid whose mail goes to a loopback SMTP sink (the real delivery
    path); `with Story() as shop:` gives a Shop with service, agent and admin
    keys. stop_kagid() leaves the database for offline checks."""

    def __init__(self, env=None):
        self.extra_env = dict(env or {})

    def __enter__(self):
        self.sink = mailsink.SmtpSink()
        env = dict(ENV, KAGI_SMTP_URL=self.sink.url, **self.extra_env)
        self.k = kt.Kagid(env=env)
        try:
            self.k.start()
            return Shop(self.k, self.sink)
        except BaseException:
            self.__exit__(*[None] * 3)
            raise

    def __exit__(self, etype, exc, tb):
        try:
            if etype is None:
                self.k.stop()
            else:
                print(f"---- kagid log ----\n{self.k.log()}")
        finally:
            self.k.cleanup()
            self.sink.close()
        return False


class Shop:
    """One running kagid with a service, agent and admin key."""

    def __init__(self, k, sink=None):
        self.k = k
        self.sink = sink
        self.service = k.key("service")
        self.agent = k.key("agent", label="agent one")
        self.agent2 = k.key("agent", label="agent two")
        self.admin = k.key("admin")

    def account(self, i, **over):
        body = kt.demo_account(i, password=PASSWORD, **over)
        r = self.k.post("/v1/accounts", body, key=self.service)
        kt.check(r.status == 201, "create account", r)
        return body

    def login(self, email_addr, password=PASSWORD, **extra):
        body = {"email": email_addr, "password": password, "ip": "198.51.100.7",
                "device_id": "dev-1", "country": "JP"}
        body.update(extra)
        return self.k.post("/v1/login", body, key=self.service)

    def lock(self, account_id, reason, key=None, **extra):
        body = {"reason": reason}
        body.update(extra)
        r = self.k.post(f"/v1/accounts/{account_id}/lock", body, key=key or self.agent)
        kt.check(r.status == 201, f"lock {reason}", r)
        return r.json["lock"]["id"]

    def messages(self, account_id, key):
        r = self.k.get(f"/v1/accounts/{account_id}/messages", key=key)
        kt.check(r.status == 200, "message center", r)
        return r.json["messages"]

    def verify_body(self, acc, **over):
        """An identity claim matching demo_account acc, with fields replaced."""
        body = {
            "name": acc["name"],
            "email": acc["email"],
            "address": dict(acc["address"]),
            "card": {"last4": acc["cards"][0]["last4"], "exp": acc["cards"][0]["exp"]},
        }
        for k, v in over.items():
            body[k] = v
        return body

    # ---- the store, read directly (as an operator would) ------------------
    def rows(self, sql, *params):
        """The rows of a SELECT on the store (SQLite or PostgreSQL)."""
        return self.k.rows(sql, *params)

    def outbox_ids(self, account_id):
        """Message-IDs of the account's outbox rows (the mail itself is sealed
        at rest)."""
        rows = self.rows("SELECT message_id FROM outbox WHERE account_id = ?", account_id)
        return {r[0] for r in rows}

    def mails_to(self, addr, pred=lambda text: True, timeout_s=60):
        """Decoded text parts of the mails the SMTP sink received for addr
        that satisfy pred, waiting until there is at least one."""
        def matching(msgs):
            out = []
            for m in msgs:
                if addr.lower() in [r.lower() for r in m["rcpts"]]:
                    text = mailsink.parts(m["msg"])[0]
                    if pred(text):
                        out.append(text)
            return out
        self.sink.wait_for(lambda msgs: matching(msgs), timeout_s)
        return matching(self.sink.snapshot())


CODE_RE = re.compile(r"(?:確認コード|code)\s*[:：]\s*(\d{6})")


def recovery_code(shop, addr, before=()):
    """The code of the newest recovery mail that reached the customer's
    mailbox (the SMTP sink), skipping codes already seen."""
    def fresh(text):
        m = CODE_RE.search(text)
        return bool(m) and m.group(1) not in before
    texts = shop.mails_to(addr, fresh)
    return CODE_RE.search(texts[-1]).group(1)


def this_year():
    return str(datetime.datetime.now(datetime.timezone.utc).year)


def away_from_step_edge(step=30, margin=8):
    """Waits, if needed, until a TOTP step has at least margin seconds left."""
    left = step - time.time() % step
    if left < margin:
        time.sleep(left + 0.5)


def totp(secret_b32, t=None, step=30, digits=6):
    """RFC 6238 with SHA-1 (the customer's authenticator app)."""
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    counter = int((time.time() if t is None else t) // step)
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    off = mac[-1] & 15
    code = (struct.unpack(">I", mac[off:off + 4])[0] & 0x7FFFFFFF) % (10 ** digits)
    return f"{code:0{digits}d}"
