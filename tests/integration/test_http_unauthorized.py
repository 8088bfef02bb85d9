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


def login_event(eid, device="d1"):
    return {"id": eid, "type": "login", "account": "acc-cache", "ts": "2026-11-29T00:00:00Z",
            "success": True, "ip": "10.0.0.1", "device_id": device}


def metric(k, name):
    for line in k.get("/metrics").body.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def test_cached_key_revoked():
    """POST /v1/events answers a key it has seen valid from memory, but
    the decision worker confirms it against the store before anything is
    decided: a key revoked by another process (`kagi key revoke` on the
    same store) is refused at once with the same 401, and its event is not
    stored; so is a request the server refuses before it runs (415). A key
    that expires while cached is refused too."""
    with kt.Kagid() as k:
        key = k.key("service")
        key2 = k.key("service")
        short = k.key("service", ttl=2)
        good = k.key("service")
        for i in range(3):  # the first reads the store, the others the cache
            r = k.post("/v1/events", login_event(f"c{i}"), key=key)
            check(r.status == 200, f"event {i} with the key: 200", r)
        check(k.post("/v1/events", login_event("s0"), key=short).status == 200, "the short key works")
        check(k.post("/v1/events", login_event("k0"), key=key2).status == 200, "the second key works")
        ref = k.request("GET", "/v1/keys", headers={"Authorization": f"Bearer {key[:-3]}AAA"})
        check(ref.status == 401, "a wrong secret: 401", ref)
        hits, misses = (metric(k, f'kagi_http_key_cache_total{{result="{r}"}}') for r in ("hit", "miss"))
        check(hits == 2 and misses == 3, "each key read from the store once, then from the cache",
              (hits, misses))
        # keys in use keep their places (two ids of one slot of a direct-mapped
        # cache pushed each other out, and a revoked key was then refused as a
        # miss: the count below came out 1 now and then)
        for name, kk in (("s0b", short), ("k0b", key2), ("c3", key)):
            check(k.post("/v1/events", login_event(name), key=kk).status == 200, f"event {name}: 200")
        hits, misses = (metric(k, f'kagi_http_key_cache_total{{result="{r}"}}') for r in ("hit", "miss"))
        check(hits == 5 and misses == 3, "three keys in use, all from the cache", (hits, misses))
        k.kagi("key", "revoke", "--db", k.db, key[3:3 + 16])
        k.kagi("key", "revoke", "--db", k.db, key2[3:3 + 16])
        r = k.post("/v1/events", login_event("after"), key=key)
        check(r.status == 401, "revoked by another process: 401 at once", r)
        check(r.headers.get("www-authenticate") == "Bearer", "WWW-Authenticate", r.headers)
        check(r.body == ref.body, "the same body as every refusal", r.body)
        r = k.request("POST", "/v1/events", raw=b"{}", content_type="text/plain",
                      headers={"Authorization": f"Bearer {key2}"})
        check(r.status == 401 and r.body == ref.body, "refused before it runs (415): still 401", r)
        r = k.request("POST", "/v1/events", raw=b"{}", content_type="text/plain",
                      headers={"Authorization": f"Bearer {key}"})
        check(r.status == 401 and r.body == ref.body, "and once out of the cache", r)
        # nothing of the refused event was stored: its id takes another body
        r = k.post("/v1/events", login_event("after", device="d2"), key=good)
        check(r.status == 200, "the refused event's id is free", r)
        check(k.post("/v1/events", login_event("c0"), key=good).status == 200,
              "an event stored before answers again")
        check(metric(k, "kagi_http_key_cache_refused_total") == 2,
              "both refused when their key was confirmed", metric(k, "kagi_http_key_cache_refused_total"))
        time.sleep(2.5)  # the 2-second key has expired while cached
        r = k.post("/v1/events", login_event("s1"), key=short)
        check(r.status == 401 and r.body == ref.body, "expired while cached: 401", r)
        log = k.log(tail=100000)
    check("credential refused: revoked" in log, "the log says revoked")
    check("credential refused: expired" in log, "the log says expired")
    print("  a cached key: revoked and expired keys refused at once")


if __name__ == "__main__":
    kt.main([test_same_401, test_cached_key_revoked])
