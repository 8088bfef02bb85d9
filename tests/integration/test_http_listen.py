"""One kagid per address: a second `kagi serve` on a port that a running
kagid holds must not start (with SO_REUSEPORT it would take part of the
traffic, and two processes on one store keep diverging counts in memory).
It exits non-zero with "address in use" naming the address, and touches
nothing. Port sharing is the operator's explicit choice: with
http.reuse_port = true on both, the second one starts."""
import os
import subprocess
import time

import kagitest as kt
from kagitest import check


def second_serve(k, env=None, timeout=60):
    """`kagi serve` on the first kagid's store and address; returns the
    process (still running, or exited)."""
    e = dict(os.environ, **kt.FAST_ENV, **(env or {}))
    port_file = os.path.join(k.tmp, "second.port")
    p = subprocess.Popen([kt.KAGI_BIN, "serve", "--db", k.db, "--listen", f"127.0.0.1:{k.port}",
                          "--port-file", port_file],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=e)
    return p, port_file


def test_second_kagid_refused():
    with kt.Kagid() as k:
        p, port_file = second_serve(k)
        try:
            out, err = p.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            raise kt.TestFailure("the second kagid kept running on the taken port "
                                 f"(it started: {os.path.exists(port_file)})")
        check(p.returncode != 0, "second kagid on a taken port must exit non-zero", (p.returncode, err))
        check("address in use" in err and f"127.0.0.1:{k.port}" in err,
              "the error says address in use and names the address", err)
        check("http.reuse_port" in err, "the error names the key that shares a port", err)
        check(k.get("/healthz").status == 200, "the first kagid still answers")


def test_reuse_port_on_request():
    with kt.Kagid(env={"KAGI_HTTP_REUSE_PORT": "true"}) as k:
        p, port_file = second_serve(k, env={"KAGI_HTTP_REUSE_PORT": "true"})
        try:
            deadline = time.monotonic() + kt.START_TIMEOUT_S
            while not os.path.exists(port_file) and p.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            check(p.poll() is None and os.path.exists(port_file),
                  "with http.reuse_port on both, the second kagid starts", p.poll())
        finally:
            p.terminate()
            out, err = p.communicate(timeout=60)
        check(p.returncode == 0, "the second kagid stops cleanly", (p.returncode, err[-2000:]))


if __name__ == "__main__":
    kt.main([test_second_kagid_refused, test_reuse_port_on_request])
