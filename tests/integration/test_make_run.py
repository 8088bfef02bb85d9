"""`make run` (scripts/run.sh): the first run creates the demo database (
Japanese and English accounts, one locked), the admin/service/agent keys,
starts kagid and prints the URL and the admin key; Ctrl-C (SIGINT) stops it
with exit status 0; a second run keeps the data and prints the same key, and
keeps the demo's config, sealing key and DKIM key (var/kagi.conf, secret.key,
dkim.key).
Runs on a temp var directory (KAGI_VAR_DIR) and a free loopback port."""
import os
import signal
import socket
import subprocess
import tempfile
import time
import shutil
import urllib.request
import json

import kagitest as kt
from kagitest import check


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port, path, key=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if key:
        req.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, None


def run_once(tmp, port, n):
    env = dict(os.environ, **kt.FAST_ENV, KAGI_LISTEN=f"127.0.0.1:{port}",
               KAGI_VAR_DIR=os.path.join(tmp, "var"))
    env.pop("KAGI_POLICY_FILE", None)  # run.sh runs from the source tree
    out_path = os.path.join(tmp, f"run{n}.out")
    with open(out_path, "wb") as out:
        p = subprocess.Popen(["bash", os.path.join(kt.SOURCE_DIR, "scripts", "run.sh"),
                              os.path.dirname(os.path.abspath(kt.KAGI_BIN))],
                             stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                check(p.poll() is None, "run.sh exited early", open(out_path).read()[-2000:])
                try:
                    if get(port, "/healthz")[0] == 200:
                        break
                except OSError:
                    pass
                time.sleep(0.1)
            else:
                raise kt.TestFailure("kagid of make run did not answer /healthz")
            admin = open(os.path.join(tmp, "var", "admin.key")).read().strip()
            agent = open(os.path.join(tmp, "var", "agent.key")).read().strip()
            check(get(port, "/v1/keys", admin)[0] == 200, "the printed admin key works")
            st, acc = get(port, "/v1/accounts/demo-ja-2", agent)
            # The agent's view masks the name (S5, docs/api.md).
            check(st == 200 and acc["name"] == "佐***" and acc["locked"], "locked demo account", acc)
            st, acc = get(port, "/v1/accounts/demo-en-1", agent)
            check(st == 200 and acc["name"] == "A***" and not acc["locked"], "English demo", acc)
            p.send_signal(signal.SIGINT)
            rc = p.wait(60)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
    text = open(out_path, encoding="utf-8").read()
    check(rc == 0, f"Ctrl-C stops make run with status 0, got {rc}", text[-2000:])
    check(f"http://127.0.0.1:{port}/" in text and admin in text, "URL and admin key printed")
    check("stopped cleanly" in text, "kagid stopped cleanly")
    return text, admin


def test_make_run():
    tmp = tempfile.mkdtemp(prefix="kagitest-run-")
    try:
        first, key1 = run_once(tmp, free_port(), 1)
        check("Created" in first and "yamada-demo-pass" in first, "first run makes the demo data")
        check("outbox show --config" in first, "the mailbox command is printed", first[-1500:])
        var = os.path.join(tmp, "var")
        made = {f: open(os.path.join(var, f), "rb").read()
                for f in ("kagi.conf", "dkim.key", "dkim.pub.pem", "secret.key")}
        check(b"dkim_key_file = kagi-demo.example demo dkim.pub.pem" in
              open(os.path.join(var, "shop.profile"), "rb").read(), "the demo profile has the key")
        second, key2 = run_once(tmp, free_port(), 2)
        check("Created" not in second and key1 == key2, "second run keeps data and key")
        for f, data in made.items():  # notices signed before must still verify
            check(open(os.path.join(var, f), "rb").read() == data, f"second run keeps var/{f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    kt.main([test_make_run])
