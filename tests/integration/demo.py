"""The demo of `make run`: scripts/run.sh on a temp var directory
(KAGI_VAR_DIR) and a free loopback port (KAGI_LISTEN), as a user starts it.
Use as a context manager; Demo.kagi runs a CLI command with the demo's
config (var/kagi.conf), as the README tells a user to."""
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import kagitest as kt
from kagitest import check


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Demo:
    def __init__(self, tmp=None):
        self.tmp = tmp or tempfile.mkdtemp(prefix="kagitest-demo-")
        self.own_tmp = tmp is None
        self.var = os.path.join(self.tmp, "var")
        self.conf = os.path.join(self.var, "kagi.conf")
        self.port = None
        self.proc = None
        self.out_path = None
        self.runs = 0

    def env(self):
        env = dict(os.environ, **kt.FAST_ENV, KAGI_LISTEN=f"127.0.0.1:{self.port}",
                   KAGI_VAR_DIR=self.var)
        env.pop("KAGI_POLICY_FILE", None)  # run.sh runs from the source tree
        return env

    def start(self, port=None):
        self.port = port or free_port()
        self.runs += 1
        self.out_path = os.path.join(self.tmp, f"run{self.runs}.out")
        out = open(self.out_path, "wb")
        self.proc = subprocess.Popen(
            ["bash", os.path.join(kt.SOURCE_DIR, "scripts", "run.sh"),
             os.path.dirname(os.path.abspath(kt.KAGI_BIN))],
            stdout=out, stderr=subprocess.STDOUT, env=self.env())
        out.close()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            check(self.proc.poll() is None, "run.sh exited early", self.output()[-2000:])
            try:
                if self.request("GET", "/healthz").status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        raise kt.TestFailure("kagid of make run did not answer /healthz")

    def stop(self):
        """Ctrl-C, as a user stops make run; returns the exit status."""
        if self.proc is None:
            return None
        self.proc.send_signal(signal.SIGINT)
        try:
            rc = self.proc.wait(60)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
        return rc

    def output(self):
        return open(self.out_path, encoding="utf-8", errors="replace").read()

    def key(self, role):
        return open(os.path.join(self.var, f"{role}.key")).read().strip()

    def request(self, method, path, body=None, key=None, raw=None, content_type=None):
        h = {}
        data = None
        if raw is not None:
            data = raw if isinstance(raw, bytes) else raw.encode()
            h["Content-Type"] = content_type or "message/rfc822"
        elif body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        if key:
            h["Authorization"] = f"Bearer {self.key(key)}"
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.request(method, path, body=data, headers=h)
            r = conn.getresponse()
            return kt.Response(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
        finally:
            conn.close()

    def kagi(self, *args, check_rc=True, text=True):
        """kagi COMMAND VERB --config var/kagi.conf ARGS... (the demo's
        settings and keys)."""
        argv = [kt.KAGI_BIN, *args[:2], "--config", self.conf, *args[2:]]
        p = subprocess.run(argv, capture_output=True,
                           text=text, env=dict(os.environ, **kt.FAST_ENV), timeout=120)
        if check_rc and p.returncode != 0:
            raise kt.TestFailure(f"kagi {' '.join(args)} exited {p.returncode}: {p.stderr!r}")
        return p

    def __enter__(self):
        return self.start()

    def __exit__(self, etype, exc, tb):
        rc = self.stop()
        if etype is None:
            check(rc == 0, f"Ctrl-C stops make run with status 0, got {rc}", self.output()[-2000:])
        if self.own_tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)
        return False
