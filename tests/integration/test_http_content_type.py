"""One Content-Type rule for every body route, as data: each route of
`kagi serve --print-routes` whose body is json (application/json) or
ndjson (application/x-ndjson) is sent every Content-Type of
tests/data/http/content_types.tsv for its kind, by a role it admits. A
refused type is 415 unsupported_media_type naming the field Content-Type;
an accepted one gets past that check (whatever the handler then says of
the body). /v1/events (once parsed text/plain) and /v1/events/batch are in
the table like every other route."""
import re

import kagitest as kt
from kagitest import check


def load_types():
    rows = []
    with open(kt.data_path("http", "content_types.tsv"), encoding="utf-8") as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                kind, ctype, want = line.rstrip("\n").split("\t")
                rows.append((kind, None if ctype == "-" else ctype, want))
    return rows


def body_routes():
    out = kt.kagi("serve", "--print-routes").stdout
    routes = []
    for line in out.splitlines():
        method, pattern, roles, body = line.split("\t")
        routes.append((method, pattern, roles.split(","), body))
    return routes


def test_one_rule():
    types = load_types()
    routes = body_routes()
    kinds = {(m, p): b for m, p, _, b in routes}
    check(kinds.get(("POST", "/v1/events")) == "json", "/v1/events takes JSON", kinds)
    check(kinds.get(("POST", "/v1/events/batch")) == "ndjson", "the batch takes NDJSON", kinds)
    check(kinds.get(("POST", "/v1/login")) == "json", "/v1/login takes JSON", kinds)
    targets = [r for r in routes if r[3] in ("json", "ndjson")]
    check(len(targets) >= 15, "body routes found", targets)
    with kt.Kagid() as k:
        svc = k.key("service")
        check(k.post("/v1/accounts", kt.demo_account(0, id="ct-1"), key=svc).status == 201, "account")
        keys = k.keys("ct-1")
        calls = 0
        for method, pattern, roles, kind in targets:
            path = re.sub(r"\{[^}]+\}", "ct-1", pattern)
            key = keys.get(roles[0])  # "public": no key
            body = b"{}\n" if kind == "ndjson" else b"{}"
            for tkind, ctype, want in types:
                if tkind != kind:
                    continue
                r = k.request(method, path, raw=body, key=key,
                              headers={"Content-Type": ctype} if ctype else None)
                where = f"{method} {pattern} with Content-Type {ctype!r}"
                calls += 1
                if want == "415":
                    check(r.status == 415, f"{where}: 415", r)
                    e = r.error()
                    check(e.get("code") == "unsupported_media_type" and e.get("field") == "Content-Type",
                          f"{where}: code and field", r)
                else:
                    check(r.status != 415, f"{where}: accepted", r)
        print(f"  {len(targets)} body routes, {calls} calls")


if __name__ == "__main__":
    kt.main([test_one_rule])
