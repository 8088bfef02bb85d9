"""Webhooks are signed per the Standard Webhooks specification, and the
deliveries verify with the `standardwebhooks` package from npm (a verifier
nobody on this project wrote): a real kagid posts to a real HTTP receiver,
the test hands what arrived to tests/integration/verify_webhooks.mjs.
A tampered body, a wrong secret and a stale timestamp are refused by it; a
malformed whsec_ secret stops kagid at start with an error naming
webhook.secret. The deprecated X-Kagi-Signature still verifies."""
import json
import os
import shutil
import subprocess
import tempfile

import kagitest as kt
import mailsink

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
WRONG = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"
FAST = {"KAGI_NOTIFY_POLL_MS": "50", "KAGI_NOTIFY_RETRY_BASE_MS": "100"}
ROOT = os.environ.get("KG_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))


def node_verify(requests):
    node = shutil.which("node")
    kt.check(node is not None, "node is installed (scripts/install-deps.sh test)")
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({"secret": SECRET, "wrong_secret": WRONG, "requests": requests}, f)
        path = f.name
    try:
        script = os.path.join(ROOT, "tests", "integration", "verify_webhooks.mjs")
        p = subprocess.run([node, script, path], capture_output=True, text=True, timeout=60,
                           cwd=ROOT)
        kt.check(p.returncode == 0, "verify_webhooks.mjs ran (npm ci installed standardwebhooks?)",
                 p.stderr)
        return json.loads(p.stdout)
    finally:
        os.unlink(path)


def deliveries_verify_with_the_standard_library():
    # The receiver checks the deprecated scheme with the secret string itself.
    hooks = mailsink.WebhookSink(SECRET)
    env = dict(FAST, KAGI_WEBHOOK_URL=hooks.url, KAGI_WEBHOOK_SECRET=SECRET)
    try:
        with kt.Kagid(env=env) as k:
            for t in ("lock", "unlock", "case", "incident"):
                k.kagi("webhooks", "send-test", "--db", k.db, "--type", t, "--account", "acc-1",
                       "--data", json.dumps({"event": t, "text": "ロック é"}))
            reqs = hooks.wait_for(lambda r: len(r) >= 4)
    finally:
        hooks.close()
    for r in reqs:
        h = {k.lower(): v for k, v in r["headers"].items()}
        kt.check(h.get("webhook-signature", "").startswith("v1,"), "webhook-signature v1,", h)
        kt.check(h.get("webhook-id") == r["json"]["id"], "webhook-id is the event id", h)
        kt.check(h.get("webhook-timestamp", "").isdigit(), "webhook-timestamp in seconds", h)
    kt.check(all(r["valid"] for r in reqs), "deprecated X-Kagi-Signature still verifies")
    res = node_verify([{"headers": r["headers"], "body": r["body"].decode()} for r in reqs])
    kt.check(res["verified"] == 4 and not res["errors"], "standardwebhooks verifies all 4", res)
    kt.check(res["refused_tampered"] == 4, "a tampered body is refused", res)
    kt.check(res["refused_wrong_secret"] == 4, "a wrong secret is refused", res)
    kt.check(res["refused_stale"] == 4, "a stale timestamp is refused", res)


def malformed_secret_stops_kagid():
    for secret in ("whsec_not base64!", "whsec_QUJD", "too-short"):
        k = kt.Kagid(env=dict(FAST, KAGI_WEBHOOK_URL="http://127.0.0.1:9/x",
                              KAGI_WEBHOOK_SECRET=secret))
        with k.managed():
            msg = None
            try:
                k.start()
            except kt.TestFailure as e:  # kagid refused to start: what we want
                msg = str(e)
            kt.check(msg is not None, f"kagid refuses webhook.secret {secret!r}")
            kt.check("webhook.secret" in msg, "the error names webhook.secret", msg)


def new_secret_command():
    a = kt.kagi("webhooks", "new-secret").stdout.strip()
    b = kt.kagi("webhooks", "new-secret").stdout.strip()
    kt.check(a.startswith("whsec_") and a != b and len(a) == 50, "new-secret", (a, b))


if __name__ == "__main__":
    kt.main([deliveries_verify_with_the_standard_library, malformed_secret_stops_kagid,
             new_secret_command])
