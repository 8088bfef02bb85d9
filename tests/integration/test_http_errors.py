"""Error answers as data: every line of tests/data/http/errors.jsonl is one
request (method, path, role — "none" for no key, "bogus" for an unknown
one — content type, raw body) and the answer it must get: status, error
code, the field named (and the line, for JSON syntax errors). Each answer
must have the docs/api.md shape {"error": {"code", "message", "field"}}.
Refused requests store nothing: the account e-1 they all aim at keeps its
one card, and no other account appears."""
import json

import kagitest as kt
from kagitest import check


def load_cases():
    cases = []
    with open(kt.data_path("http", "errors.jsonl"), encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                c = json.loads(line)
                c["where"] = f"errors.jsonl:{n} ({c['name']})"
                cases.append(c)
    return cases


def test_error_cases():
    cases = load_cases()
    check(len(cases) >= 40, "cases loaded", len(cases))
    with kt.Kagid() as k:
        svc = k.key("service")
        first = kt.demo_account(0, id="e-1")
        check(k.post("/v1/accounts", first, key=svc).status == 201, "account e-1")
        keys = k.keys("e-1")
        keys["none"] = None
        keys["bogus"] = "kg_" + "a" * 16 + "_" + "C" * 43
        for c in cases:
            body = c["body"].encode() if c["body"] is not None else None
            r = k.request(c["method"], c["path"], key=keys[c["role"]], raw=body,
                          content_type=c["content_type"])
            where = c["where"]
            check(r.status == c["status"], f"{where}: status {c['status']}", r)
            e = r.error()
            check(set(e) >= {"code", "message", "field"} and e["message"],
                  f"{where}: error shape", r)
            check(e["code"] == c["code"], f"{where}: code {c['code']}", r)
            if c["field"] is not None:
                check(e["field"] == c["field"], f"{where}: field {c['field']}", r)
            if c.get("line"):
                check(e.get("line") == c["line"] and f"line {c['line']}" in e["message"],
                      f"{where}: line {c['line']}", r)
        r = k.get("/v1/accounts/e-1", key=keys["agent"])
        check(r.status == 200 and len(r.json["cards"]) == 1, "e-1 unchanged by refusals", r)
        m = k.get("/metrics").body.decode()
        posts_2xx = [x for x in m.splitlines()
                     if x.startswith('kagi_http_requests_total{method="POST",route="/v1/accounts",class="2xx"}')]
        check(posts_2xx and posts_2xx[0].endswith(" 1"), "only the setup POST succeeded", posts_2xx)
        print(f"  {len(cases)} error cases")


if __name__ == "__main__":
    kt.main([test_error_cases])
