"""kagid under load (docs/operations.md "Load"): what it cannot serve it
refuses at once instead of queueing without bound.

- a login flood: the login pool's queue never holds more than
  http.login_queue (its high-water mark in /metrics), the rest get 503 busy
  with Retry-After; /healthz and /metrics answer while logins are queued, and
  decisions (their own pool) are still served;
- 1,100 connections held from one client: past http.max_connections_per_ip
  they are refused, and /healthz answers another client; at
  http.max_connections a new connection is closed, not left hanging;
- 40 uploads that declare 30 MiB each against a 32 MiB body budget: one is
  read, 39 get 503 busy at once, and kagid's RSS stays under the budget
  (plus its own size); a body alone over the budget gets 413;
- slowloris: a head trickled a byte at a time is cut after
  http.header_timeout_s, a body trickled slower than
  http.body_min_bytes_per_s likewise, while a normal client is served.
Nothing here asserts a time: the deadlines only bound how long a test may
wait for something that must happen."""
import json
import os
import re
import resource
import select
import socket
import time

import kagitest as kt
from kagitest import check

SLOW_ARGON2 = {"KAGI_PASSWORD_ARGON2_OPS": "2", "KAGI_PASSWORD_ARGON2_MEM_KIB": "19456"}


def metric(text, name, labels=""):
    m = re.search(r"^" + re.escape(name + labels) + r" (\S+)$", text, re.M)
    check(m, f"metric {name}{labels} present", text[-2000:])
    return float(m.group(1))


def raw_request(k, method, path, body=b"", key=None, ctype="application/json"):
    head = f"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
    if key:
        head += f"Authorization: Bearer {key}\r\n"
    if body:
        head += f"Content-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


def read_answer(s, timeout=60):
    """The status line's code and the whole answer (the server closes)."""
    s.settimeout(timeout)
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except (ConnectionResetError, socket.timeout):
        pass
    m = re.match(rb"HTTP/1\.1 (\d+)", data)
    return (int(m.group(1)) if m else 0), data


def login_flood():
    env = dict(SLOW_ARGON2, KAGI_HTTP_LOGIN_WORKERS="1", KAGI_HTTP_LOGIN_QUEUE="4")
    with kt.Kagid(env=env) as k:
        svc = k.key("service")
        socks = []
        for i in range(60):
            body = json.dumps({"email": f"nobody{i}@example.jp", "password": "guess",
                               "ip": f"10.1.{i // 200}.{i % 200 + 1}", "device_id": f"bot-{i}"})
            s = socket.create_connection(("127.0.0.1", k.port), timeout=60)
            s.sendall(raw_request(k, "POST", "/v1/login", body.encode(), key=svc))
            socks.append(s)
        # while the logins wait: the health check, metrics and a decision
        h = k.get("/healthz")
        m = k.get("/metrics").body.decode()
        busy_now = metric(m, "kagi_http_pool_queued", '{pool="login"}') + \
            metric(m, "kagi_http_pool_running", '{pool="login"}')
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        ev = k.post("/v1/events", {"id": "flood-ev-1", "type": "login", "account": "flood-1",
                                   "success": True, "ip": "192.0.2.9", "device_id": "d9",
                                   "ts": now}, key=svc)
        answers = [read_answer(s) for s in socks]
        for s in socks:
            s.close()
        check(h.status == 200, "/healthz answers during the flood", h)
        check(busy_now >= 1, "the flood was still being worked on when /healthz answered", m)
        check(ev.status == 200, "a decision is served while the login pool is full", ev)
        codes = [c for c, _ in answers]
        shed = [d for c, d in answers if c == 503]
        check(len(shed) >= 40, "logins past the queue are shed", codes)
        check(all(b"Retry-After: 1" in d and b'"code":"busy"' in d for d in shed),
              "each shed login says busy with Retry-After", shed[:1])
        check(all(c in (401, 429, 503) for c in codes), "every login answered", codes)
        m = k.get("/metrics").body.decode()
        check(metric(m, "kagi_http_pool_queued_max_seen", '{pool="login"}') <= 4,
              "the login queue never held more than http.login_queue", m)
        check(metric(m, "kagi_http_pool_refused_total", '{pool="login"}') == len(shed),
              "refusals counted", m)
        check(metric(m, "kagi_http_pool_queued_max_seen", '{pool="decision"}') <= 1024,
              "the decision queue within its bound", m)


def full_pool_refuses_before_the_key():
    """A login for a full login pool is answered 503 busy from its head: its
    key is not looked up (a bogus key gets 503, not 401) and its body is
    read and dropped, the connection kept for the next request."""
    env = {"KAGI_PASSWORD_ARGON2_OPS": "40", "KAGI_PASSWORD_ARGON2_MEM_KIB": "65536",
           "KAGI_HTTP_LOGIN_WORKERS": "1", "KAGI_HTTP_LOGIN_QUEUE": "1"}
    with kt.Kagid(env=env) as k:
        svc = k.key("service")
        socks = []
        deadline = time.monotonic() + 60
        for i, (running, queued) in enumerate([(1, 0), (1, 1)]):  # one runs, one waits
            body = json.dumps({"email": f"slow{i}@example.jp", "password": "guess",
                               "ip": "10.2.0.1", "device_id": "d"})
            s = socket.create_connection(("127.0.0.1", k.port), timeout=120)
            s.sendall(raw_request(k, "POST", "/v1/login", body.encode(), key=svc))
            socks.append(s)
            while True:  # the pool took it (a slow Argon2id keeps the worker busy)
                m = k.get("/metrics").body.decode()
                if metric(m, "kagi_http_pool_running", '{pool="login"}') == running and \
                        metric(m, "kagi_http_pool_queued", '{pool="login"}') == queued:
                    break
                check(time.monotonic() < deadline, "the login pool fills", m[-3000:])
                time.sleep(0.02)
        bogus = "kg_aaaaaaaaaaaaaaaa_" + "b" * 43
        r = k.post("/v1/login", {"email": "x@example.jp", "password": "guess", "ip": "10.2.0.2"},
                   key=bogus)
        check(r.status == 503 and r.headers.get("retry-after") == "1", "busy before the key", r)
        check(b'"code":"busy"' in r.body, "the busy error shape", r)
        ok = k.post("/v1/login", {"email": "x@example.jp", "password": "guess"}, key=svc)
        check(ok.status == 503, "a valid key gets the same busy", ok)
        m = k.get("/metrics").body.decode()
        check(metric(m, "kagi_http_pool_refused_total", '{pool="login"}') >= 2, "refusals counted", m)
        for s in socks:
            code, _ = read_answer(s, timeout=300)
            check(code == 401, "the queued logins are still answered", code)
            s.close()
        check("no such credential" not in k.log(tail=100000), "the bogus key was never looked up",
              k.log()[-2000:])


def raise_fd_limit(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n if hard == resource.RLIM_INFINITY else min(n, hard)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    check(resource.getrlimit(resource.RLIMIT_NOFILE)[0] >= 2400, "fd limit for 1,100 connections")


def closed_by_server(s, timeout=20):
    """True when the server closed s (EOF or reset) within timeout."""
    s.settimeout(timeout)
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def held_connections():
    raise_fd_limit(8192)
    with kt.Kagid(env={"KAGI_HTTP_MAX_CONNECTIONS_PER_IP": "64",
                       "KAGI_HTTP_HEADER_TIMEOUT_S": "120"}) as k:
        held = []
        try:
            for _ in range(1100):  # one client (127.0.0.2) holding idle connections
                s = socket.socket()
                s.bind(("127.0.0.2", 0))
                s.settimeout(30)
                s.connect(("127.0.0.1", k.port))
                held.append(s)
            h = k.get("/healthz")
            check(h.status == 200, "/healthz answers another client during 1,100 held connections", h)
            m = k.get("/metrics").body.decode()
            open_now = metric(m, "kagi_http_connections")
            check(open_now <= 64 + 2, "one client holds at most http.max_connections_per_ip", open_now)
            check(closed_by_server(held[-1]), "a connection past the per-client cap is closed")
        finally:
            for s in held:
                s.close()
    with kt.Kagid(env={"KAGI_HTTP_MAX_CONNECTIONS": "40", "KAGI_HTTP_MAX_CONNECTIONS_PER_IP": "0",
                       "KAGI_HTTP_THREADS": "4", "KAGI_HTTP_HEADER_TIMEOUT_S": "120"}) as k:
        held = [socket.create_connection(("127.0.0.1", k.port), timeout=30) for _ in range(40)]
        try:
            # kagid counts a connection once it has accepted it: connections
            # still in the listen backlog are not counted yet, so a probe
            # right after the 40 may be admitted; within a few probes one
            # past the cap must be closed, not left waiting
            extras, closed = [], False
            for _ in range(5):
                extra = socket.create_connection(("127.0.0.1", k.port), timeout=30)
                extras.append(extra)
                if closed_by_server(extra, timeout=5):
                    closed = True
                    break
            check(closed and len(extras) <= 3,
                  "a connection past http.max_connections is closed, not left waiting",
                  len(extras))
            for extra in extras:
                extra.close()
        finally:
            for s in held:
                s.close()


def rss_bytes(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise kt.TestFailure("no VmRSS")


MIB = 1024 * 1024


def upload_budget():
    cap = 32 * MIB
    # under AddressSanitizer, freed memory is kept (quarantine): RSS would
    # count every body buffer that a growing body has outgrown
    asan = os.environ.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=0:thread_local_quarantine_size_kb=0"
    with kt.Kagid(env={"KAGI_HTTP_BODY_MEMORY_MAX_BYTES": str(cap), "ASAN_OPTIONS": asan}) as k:
        svc = k.key("service")
        k.get("/metrics")
        base = rss_bytes(k.proc.pid)
        head = (f"POST /v1/events/batch HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {svc}\r\n"
                f"Content-Type: application/x-ndjson\r\nContent-Length: {30 * MIB}\r\n\r\n").encode()
        socks = []
        for _ in range(40):
            s = socket.create_connection(("127.0.0.1", k.port), timeout=30)
            s.sendall(head)
            socks.append(s)
        answered, deadline = {}, time.monotonic() + 30
        while len(answered) < 39 and time.monotonic() < deadline:
            r, _, _ = select.select([s for s in socks if s not in answered], [], [], 1)
            for s in r:
                answered[s] = read_answer(s, timeout=10)
        reading = [s for s in socks if s not in answered]
        check(len(answered) == 39 and len(reading) == 1, "one upload fits the budget, 39 are refused",
              [c for c, _ in answered.values()])
        check(all(c == 503 and b"Retry-After: 1" in d and b'"code":"busy"' in d
                  for c, d in answered.values()), "each refusal is 503 busy with Retry-After",
              [d[:200] for _, d in answered.values()][:2])
        line = b'{"id":"up","type":"login","account":"up-1","success":true,"ip":"192.0.2.1","device_id":"d","ts":"2026-01-01T00:00:00Z"}\n'
        chunk = line * (MIB // len(line))
        for _ in range(12):  # the admitted upload, slowly: 12 MiB of its 30
            reading[0].sendall(chunk)
            time.sleep(0.05)
        m = k.get("/metrics").body.decode()
        grown = rss_bytes(k.proc.pid) - base
        check(grown < cap, f"RSS grew by {grown // MIB} MiB, under the {cap // MIB} MiB budget", grown)
        check(metric(m, "kagi_http_body_bytes_held_max_seen") <= cap, "budget never passed", m)
        for s in socks:
            s.close()
        over = socket.create_connection(("127.0.0.1", k.port), timeout=30)
        over.sendall(head.replace(str(30 * MIB).encode(), str(40 * MIB).encode()))
        code, data = read_answer(over)
        over.close()
        check(code == 413 and b'"code":"too_large"' in data, "a body alone over the budget: 413", data)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            held = metric(k.get("/metrics").body.decode(), "kagi_http_body_bytes_held")
            if held == 0:
                break
            time.sleep(0.2)
        check(held == 0, "a closed upload gives its budget back", held)


def slowloris():
    env = {"KAGI_HTTP_HEADER_TIMEOUT_S": "2", "KAGI_HTTP_BODY_MIN_BYTES_PER_S": "512"}
    with kt.Kagid(env=env) as k:
        svc = k.key("service")
        head = socket.create_connection(("127.0.0.1", k.port), timeout=30)
        head.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        body = socket.create_connection(("127.0.0.1", k.port), timeout=30)
        body.sendall((f"POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {svc}\r\n"
                      "Content-Type: application/json\r\nContent-Length: 10000\r\n\r\n").encode())
        cut = {"head": False, "body": False}
        deadline = time.monotonic() + 20
        served = 0
        while not all(cut.values()) and time.monotonic() < deadline:
            for name, s in (("head", head), ("body", body)):
                if cut[name]:
                    continue
                try:
                    s.sendall(b"X-Slow: a\r\n" if name == "head" else b" ")
                    r, _, _ = select.select([s], [], [], 0)
                    if r and s.recv(1) == b"":
                        cut[name] = True
                except (BrokenPipeError, ConnectionResetError):
                    cut[name] = True
            if k.get("/healthz").status == 200:
                served += 1
            time.sleep(0.5)
        head.close()
        body.close()
        check(cut["head"], "a head trickled a byte at a time is cut off")
        check(cut["body"], "a body trickled under the minimum rate is cut off")
        check(served >= 2, "a normal client is served meanwhile", served)
        m = k.get("/metrics").body.decode()
        check(metric(m, "kagi_http_connections_cut_total", '{reason="header_timeout"}') >= 1, "counted", m)
        check(metric(m, "kagi_http_connections_cut_total", '{reason="slow_body"}') >= 1, "counted", m)


if __name__ == "__main__":
    kt.main([login_flood, full_pool_refuses_before_the_key, held_connections, upload_budget,
             slowloris])
