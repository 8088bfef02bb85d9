"""HTTP framing and size limits on raw sockets, as data: every line of
tests/data/http/framing.jsonl is bytes sent on one connection (a head, a
body — plain, or chunked — and maybe a pipelined request after it) and the
one answer expected: its status, and for kagid's own answers the error shape
of docs/api.md with Content-Type application/json and the code and field.
"closes": after the answer kagid closes the connection without answering
the request that followed (a body framed two ways is never read: request
smuggling); "closes": false, the pipelined request is answered too.
A connection's first request head goes through kagid's front door
(src/http/front.c), which answers what libmicrohttpd would refuse in the
JSON shape too. Cases marked "library" are the ones only the library reads
(a chunked body's framing), answered in its own HTML (docs/api.md "What the
HTTP library answers itself"): only their status is checked; "then_status"
is the status of the pipelined request after the first answer (a later
request on the connection: the library's answer too).

Placeholders in a head: @service@ and @agent@ (keys of those roles), @now@
(the time now), @len@ (the body's length), @C*N@ (N times the character C;
also in "then")."""
import json
import re
import time

import kagitest as kt
from kagitest import check


def load_cases():
    with open(kt.data_path("http", "framing.jsonl"), encoding="utf-8") as f:
        return [dict(json.loads(line), where=f"framing.jsonl:{n}")
                for n, line in enumerate(f, 1) if line.strip()]


def body_of(c, now):
    """The body bytes as sent (chunked when the case says so)."""
    if "chunked" in c:
        spec = c["chunked"]
        data = (spec["text"].replace("@now@", now) if "text" in spec
                else spec["fill"] * spec["bytes"]).encode()
        step = spec["chunk"]
        chunks = [data[i:i + step] for i in range(0, len(data), step)]
        return b"".join(b"%x\r\n%s\r\n" % (len(x), x) for x in chunks) + b"0\r\n\r\n"
    body = c.get("body", "")
    if isinstance(body, dict):
        body = body["fill"] * body["bytes"]
    return body.replace("@now@", now).encode()


def request_of(c, keys, now):
    body = body_of(c, now)
    head = re.sub(r"@(.)\*(\d+)@", lambda m: m.group(1) * int(m.group(2)), c["head"])
    for name, value in keys.items():
        head = head.replace(f"@{name}@", value)
    head = head.replace("@len@", str(len(body)))
    then = re.sub(r"@(.)\*(\d+)@", lambda m: m.group(1) * int(m.group(2)), c.get("then", ""))
    return head.encode() + b"\r\n" + body + then.encode()


def test_framing_cases():
    cases = load_cases()
    check(len(cases) >= 20, "cases loaded", len(cases))
    with kt.Kagid() as k:
        keys = {"service": k.key("service"), "agent": k.key("agent")}
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        for c in cases:
            where = f"{c['where']} ({c['name']})"
            try:
                r, rest = k.raw(request_of(c, keys, now),
                                rest="closes" in c or "then_status" in c)
            except OSError as e:
                raise kt.TestFailure(f"{where}: {type(e).__name__}: {e}") from e
            check(r.status == c["status"], f"{where}: status {c['status']}", r)
            if not c.get("library"):
                check(r.headers.get("content-type") == "application/json",
                      f"{where}: JSON answer", r.headers)
                if r.status >= 400:
                    e = r.error()
                    check(set(e) >= {"code", "message", "field"} and e["message"],
                          f"{where}: error shape", r)
                    check(e["code"] == c["code"], f"{where}: code {c['code']}", r)
                    if "field" in c:
                        check(e["field"] == c["field"], f"{where}: field {c['field']}", r)
            if "then_status" in c:  # the pipelined request, answered by the library
                check(rest.startswith(b"HTTP/1.1 %d" % c["then_status"]),
                      f"{where}: then {c['then_status']}", rest[:200])
            if "closes" in c:
                check((b"HTTP/1.1 200" not in rest) == c["closes"],
                      f"{where}: " + ("closed after the answer, the rest not answered"
                                      if c["closes"] else "pipelined request answered too"), r)
        # kagid still answers, and a well-framed request works after all that
        check(k.get("/healthz").status == 200, "kagid still answers")
        print(f"  {len(cases)} framing cases")


if __name__ == "__main__":
    kt.main([test_framing_cases])
