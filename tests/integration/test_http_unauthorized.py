"""One 401 for every refused credential, as data: each line of
tests/data/http/unauthorized.jsonl is an Authorization header (none, not
Bearer, not a key, an unknown key, a stored key with a wrong secret, a
revoked key, an expired key) sent to the same route. Every answer is 401
with WWW-Authenticate: Bearer and a byte-identical body, so a caller cannot
tell which keys exist or were revoked; kagid's log says why at info level
(the line's "log"), never with a secret."""
import json
import time

import kagitest as kt
from kagitest import check


def load_cases():
    with open(kt.data_path("http", "unauthorized.jsonl"), encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def test_same_401():
    cases = load_cases()
    check(len(cases) >= 5, "cases loaded", len(cases))
    with kt.Kagid() as k:
        revoked = k.key("admin", label="to revoke")
        k.kagi("key", "revoke", "--db", k.db, revoked[3:3 + 16])
        expired = k.key("admin", ttl=1)
        good = k.key("admin")
        keys = {"unknown": "kg_" + "a" * 16 + "_" + "C" * 43,
                "wrong_secret": good[:3 + 16 + 1] + "D" * 43,
                "revoked": revoked, "expired": expired}
        time.sleep(1.5)  # the 1-second key has expired
        check(k.get("/v1/keys", key=good).status == 200, "a good key works")
        bodies = {}
        for c in cases:
            auth = c["authorization"]
            for name, value in keys.items():
                auth = auth.replace(f"@{name}@", value) if auth else auth
            r = k.request("GET", "/v1/keys", headers={"Authorization": auth} if auth else None)
            check(r.status == 401, f"{c['name']}: 401", r)
            check(r.headers.get("www-authenticate") == "Bearer", f"{c['name']}: WWW-Authenticate", r.headers)
            check(r.error().get("code") == "unauthorized", f"{c['name']}: code", r)
            bodies[c["name"]] = r.body
        check(len(set(bodies.values())) == 1, "one identical body for every refusal", bodies)
        # the same answer on a route of another role
        r = k.request("POST", "/v1/events", raw=b"{}", content_type="application/json",
                      headers={"Authorization": f"Bearer {revoked}"})
        check(r.status == 401 and r.body == next(iter(bodies.values())), "same on /v1/events", r)
        log = k.log(tail=100000)
    for c in cases:
        check(f"credential refused: {c['log']}" in log, f"{c['name']}: the log says why", c["log"])
    for secret in (revoked, expired, good, keys["wrong_secret"]):
        check(secret[20:] not in log, "no secret in the log")
    print(f"  {len(cases)} refusals, one answer")


if __name__ == "__main__":
    kt.main([test_same_401])
