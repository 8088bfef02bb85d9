"""JSON syntax errors say where, the same way on every route, as data:
each body of tests/data/http/json_syntax.jsonl (malformed JSON) goes to
every json route of `kagi serve --print-routes` (by a role it admits) and,
as one line, to /v1/events/batch. Every answer is 400 invalid with the
message "invalid JSON at line L, column C (byte B): ..." and the
fields "line" and "column", with the L, C and B of the case (byte: the
0-based offset where the parser stopped; column: 1-based, in characters);
the error objects of all routes are identical, and the batch's inline error
has the same message. /v1/events parses with jsmn, the others with
jansson: the position is the same either way."""
import json
import re

import kagitest as kt
from kagitest import check


def load_cases():
    with open(kt.data_path("http", "json_syntax.jsonl"), encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def json_routes():
    out = kt.kagi("serve", "--print-routes").stdout
    rows = [line.split("\t") for line in out.splitlines()]
    return [(m, p, roles.split(",")) for m, p, roles, body in rows if body == "json"]


def test_same_position_everywhere():
    cases = load_cases()
    routes = json_routes()
    check(len(cases) >= 8 and len(routes) >= 15, "cases and routes", (len(cases), len(routes)))
    check(("POST", "/v1/events") in [(m, p) for m, p, _ in routes], "/v1/events is a json route")
    with kt.Kagid() as k:
        svc = k.key("service")
        check(k.post("/v1/accounts", kt.demo_account(0, id="js-1"), key=svc).status == 201, "account")
        keys = k.keys("js-1")
        for c in cases:
            want = f"invalid JSON at line {c['line']}, column {c['column']} (byte {c['byte']}): "
            body = c["body"].encode()
            seen = {}
            for method, pattern, roles in routes:
                path = re.sub(r"\{[^}]+\}", "js-1", pattern)
                r = k.request(method, path, raw=body, content_type="application/json",
                              key=keys.get(roles[0]))  # "public": no key
                where = f"{c['name']}: {method} {pattern}"
                check(r.status == 400, f"{where}: 400", r)
                e = r.error()
                check(e.get("code") == "invalid" and e.get("message", "").startswith(want),
                      f"{where}: message starts {want!r}", r)
                check(e.get("line") == c["line"] and e.get("column") == c["column"],
                      f"{where}: line and column fields", r)
                seen[pattern] = r.body
            check(len(set(seen.values())) == 1, f"{c['name']}: one error object on every route", seen)
            if "\n" not in c["body"]:
                r = k.request("POST", "/v1/events/batch", raw=body + b"\n",
                              content_type="application/x-ndjson", key=svc)
                line = json.loads(r.body.decode().splitlines()[0])
                check(r.status == 200 and line["error"]["message"] == e["message"],
                      f"{c['name']}: the batch says the same", (r, e["message"]))
        print(f"  {len(cases)} bodies x {len(routes)} routes")


if __name__ == "__main__":
    kt.main([test_same_position_everywhere])
