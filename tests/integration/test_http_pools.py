"""Which work pool runs a request (docs/operations.md "Load"): an account
created with a password runs in the login pool (its Argon2id hash), one
created without a password — a shop's sync of its customers — needs no
Argon2id and does not queue behind logins: on SQLite it runs on the server
thread, its answer deferred until its write is durable, in no pool at all.
Read from kagi_http_pool_done_total on /metrics."""
import re

import kagitest as kt
from kagitest import check


def done(k):
    r = k.get("/metrics")
    check(r.status == 200, "metrics", r)
    text = r.body.decode()
    out = {}
    for pool in ("login", "other"):
        m = re.search(r'^kagi_http_pool_done_total\{pool="%s"\} (\d+)$' % pool, text, re.M)
        check(m, f"done_total of {pool}", text[-1500:])
        out[pool] = int(m.group(1))
    return out


def test_account_pool_follows_the_password():
    with kt.Kagid() as k:
        svc, agent = k.key("service"), k.key("agent")
        before = done(k)
        for i in range(3):
            r = k.post("/v1/accounts", kt.demo_account(i, id=f"sync-{i}"), key=svc)
            check(r.status == 201, "an account without a password", r)
            r = k.get(f"/v1/accounts/sync-{i}", key=agent)
            check(r.status == 200, "the 201 came once the account was written", r)
        mid = done(k)
        check(mid["login"] == before["login"], "no login-pool work without a password", (before, mid))
        check(mid["other"] == before["other"], "no worker of the other pool either", (before, mid))
        r = k.post("/v1/accounts", kt.demo_account(9, id="with-pw", password="a long password 9"),
                   key=svc)
        check(r.status == 201, "an account with a password", r)
        after = done(k)
        check(after["login"] == mid["login"] + 1, "the one with a password ran in the login pool",
              (mid, after))
        r = k.post("/v1/login", {"email": "user9@example.jp", "password": "a long password 9",
                                 "ip": "203.0.113.9"}, key=svc)
        check(r.status == 200, "its password was hashed and checks", r)


def test_other_pool_default_size():
    """Every other route's worker waits for its write's group commit (on
    PostgreSQL an account created without a password too), so the other
    pool's size bounds how many such writes share one commit: 64 by default
    (docs/configuration.md), and http.other_workers sets it."""
    def threads(k):
        r = k.get("/metrics")
        m = re.search(r'^kagi_http_pool_threads\{pool="other"\} (\d+)$', r.body.decode(), re.M)
        check(m, "threads of the other pool", r)
        return int(m.group(1))
    with kt.Kagid() as k:
        check(threads(k) == 64, "64 other workers by default", threads(k))
    with kt.Kagid(env={"KAGI_HTTP_OTHER_WORKERS": "3"}) as k:
        check(threads(k) == 3, "http.other_workers sets them", threads(k))


if __name__ == "__main__":
    kt.main([test_account_pool_follows_the_password, test_other_pool_default_size])
