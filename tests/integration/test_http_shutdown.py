"""SIGTERM during load: kagid stops accepting, requests already in flight
(here: headers sent, body still coming) complete with 201 and are durable,
new connections are refused, and kagid exits 0. Writers running at the
same time never see a half-answered request that later turns out lost."""
import http.client
import json
import signal
import socket
import threading
import time

import kagitest as kt
from kagitest import check


def slow_post(port, key, acc):
    """Opens a request: headers and half the body now; returns (conn, rest)."""
    body = json.dumps(acc).encode()
    s = socket.create_connection(("127.0.0.1", port), timeout=60)
    head = (f"POST /v1/accounts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    s.sendall(head + body[: len(body) // 2])
    return s, body[len(body) // 2:]


def finish(s, rest):
    s.sendall(rest)
    f = s.makefile("rb")
    r = http.client.HTTPResponse(s)
    r.begin()
    status = r.status
    data = r.read()
    f.close()
    s.close()
    return status, data


def writer(k, key, prefix, acked, stop):
    i = 0
    while not stop.is_set():
        i += 1
        acc = kt.demo_account(0, id=f"{prefix}-{i}", email=f"{prefix}-{i}@example.com")
        try:
            r = k.post("/v1/accounts", acc, key=key, timeout=30)
        except OSError:
            time.sleep(0.01)
            continue
        if r.status == 201:
            acked.append(acc["id"])


def test_sigterm_under_load():
    k = kt.Kagid(threads=4)
    stop = threading.Event()
    try:
        k.start()
        svc, agent = k.key("service"), k.key("agent")
        acked = []
        ts = [threading.Thread(target=writer, args=(k, svc, f"w{w}", acked, stop), daemon=True)
              for w in range(4)]
        for t in ts:
            t.start()
        time.sleep(0.5)
        pending = [slow_post(k.port, svc, kt.demo_account(0, id=f"slow-{i}", email=f"s{i}@example.com"))
                   for i in range(3)]
        time.sleep(0.3)  # kagid has the headers: these requests are in flight
        k.proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        refused = False
        try:
            socket.create_connection(("127.0.0.1", k.port), timeout=5).close()
        except OSError:
            refused = True
        check(refused, "new connections are refused after SIGTERM")
        for s, rest in pending:
            status, data = finish(s, rest)
            check(status == 201, "in-flight request completed", (status, data[:200]))
        stop.set()
        for t in ts:
            t.join(60)
        rc = k.wait(60, "of SIGTERM")
        check(rc == 0, f"exit status after SIGTERM is 0, got {rc}")
        check("stopped cleanly" in k.log(), "clean stop logged")
        k.start()
        for acc_id in acked + [f"slow-{i}" for i in range(3)]:
            check(k.get(f"/v1/accounts/{acc_id}", key=agent).status == 200, f"{acc_id} is durable")
        print(f"  {len(acked)} writes under load + 3 in-flight requests, all durable")
        k.stop()
    except BaseException:
        print(k.log())
        raise
    finally:
        stop.set()
        k.cleanup()


if __name__ == "__main__":
    kt.main([test_sigterm_under_load])
