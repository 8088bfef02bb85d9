"""kagid foundation behaviour over real HTTP: errors in the docs/api.md shape
(naming the field or the JSON line/column), 401/403/404/405/413/415,
account create/show, card-number refusal, /metrics, access logs that never
hold secrets, and the CLI's foundation commands."""
import json
import os
import re
import time

import kagitest as kt
from kagitest import check


def error_shape(r, status, code=None, field=None):
    check(r.status == status, f"status {status}", r)
    e = r.error()
    check(set(e) >= {"code", "message", "field"}, "error has code, message, field", r)
    if code:
        check(e["code"] == code, f"error code {code}", r)
    if field is not None:
        check(e["field"] == field, f"error field {field}", r)
    return e


def test_api():
    with kt.Kagid() as k:
        svc, agent, admin = k.key("service"), k.key("agent"), k.key("admin")

        r = k.get("/healthz")
        check(r.status == 200 and r.json["status"] == "ok", "healthz", r)
        check(list(r.json) == ["status", "version", "started", "schema"]
              and isinstance(r.json["schema"], int) and r.json["started"].endswith("Z")
              and r.headers.get("content-type") == "application/json", "healthz's fields", r)
        check(k.get("/healthz").body == r.body, "healthz answers the same body while healthy", r)
        r2 = k.request("HEAD", "/healthz")
        check(r2.status == 200 and not r2.body, "HEAD runs the GET route without a body", r2)
        rid = r.headers.get("x-request-id", "")
        check(len(rid) == 16, "answers carry X-Request-Id", r.headers)
        # ids from the server threads' own key streams: 16 hex digits, none twice
        rids = [k.get("/healthz").headers.get("x-request-id", "") for _ in range(300)]
        check(all(len(x) == 16 and all(c in "0123456789abcdef" for c in x) for x in rids),
              "X-Request-Id is 16 hex digits", rids[:3])
        check(len(set(rids + [rid])) == len(rids) + 1, "no X-Request-Id is given twice", rids[:3])

        # unknown route, wrong method, no key, bad key, wrong role
        error_shape(k.get("/v1/nope", key=admin), 404, "not_found")
        # route matching: a segment matches whole, never a prefix of it
        for path in ("/v1/event", "/v1/eventsx", "/v1/events/", "/healthz/", "/healthzz",
                     "/v1/accounts/a1/nope", "/v1//events", "/v1/accounts/", "/v1", "/v1/",
                     "/v1/events/batch/x", "/v1/events/x/batch", "/console/a/b",
                     "//v1/events"):
            error_shape(k.get(path, key=admin), 404, "not_found")
        error_shape(k.get("/v1/events", key=admin), 405, "method_not_allowed")
        error_shape(k.get("/v1/events/batch", key=admin), 405, "method_not_allowed")
        r = k.request("DELETE", "/v1/accounts", key=admin)
        error_shape(r, 405, "method_not_allowed")
        check("POST" in r.headers.get("allow", ""), "405 names the allowed method", r.headers)
        error_shape(k.post("/v1/accounts", kt.demo_account(1)), 401, "unauthorized")
        check(k.post("/v1/accounts", kt.demo_account(1)).headers.get("www-authenticate") == "Bearer",
              "401 asks for a bearer token")
        error_shape(k.post("/v1/accounts", kt.demo_account(1), key="kg_aaaaaaaaaaaaaaaa_" + "A" * 43),
                    401, "unauthorized")
        error_shape(k.post("/v1/accounts", kt.demo_account(1), key="garbage"), 401)
        bad_secret = svc[:-1] + ("A" if svc[-1] != "A" else "B")
        error_shape(k.post("/v1/accounts", kt.demo_account(1), key=bad_secret), 401)
        error_shape(k.post("/v1/accounts", kt.demo_account(1), key=agent), 403, "forbidden")
        error_shape(k.get("/v1/accounts/acc-1", key=svc), 403, "forbidden")

        # JSON errors: line and column, field names, media type, size
        r = k.post("/v1/accounts", key=svc, raw=b'{"name": "x",\n  "email": }',
                   content_type="application/json")
        e = error_shape(r, 400, "invalid")
        check(e.get("line") == 2 and "line 2" in e["message"], "JSON error names the line", r)
        error_shape(k.post("/v1/accounts", key=svc, raw=b"[1,2]", content_type="application/json"), 400)
        error_shape(k.post("/v1/accounts", key=svc, raw=b'{"name":"a","name":"b"}',
                           content_type="application/json"), 400)
        error_shape(k.post("/v1/accounts", key=svc, raw=b"name=x", content_type="text/plain"),
                    415, "unsupported_media_type")
        deep = "[" * 40 + "]" * 40
        error_shape(k.post("/v1/accounts", key=svc, raw=('{"x":' + deep + '}').encode(),
                           content_type="application/json"), 400)
        big = b'{"name": "' + b"x" * (1024 * 1024 + 10) + b'"}'
        error_shape(k.post("/v1/accounts", key=svc, raw=big, content_type="application/json"),
                    413, "too_large")
        error_shape(k.post("/v1/accounts", kt.demo_account(1, email="not-an-email"), key=svc),
                    400, "invalid", "email")
        error_shape(k.post("/v1/accounts", {k2: v for k2, v in kt.demo_account(1).items()
                                            if k2 != "name"}, key=svc), 400, "invalid", "name")
        a = kt.demo_account(1)
        a["address"] = dict(a["address"], city=17)
        error_shape(k.post("/v1/accounts", a, key=svc), 400, "invalid", "address.city")
        a = kt.demo_account(1)
        a["cards"] = [a["cards"][0], dict(a["cards"][0], exp="13/29")]
        error_shape(k.post("/v1/accounts", a, key=svc), 400, "invalid", "cards[1].exp")

        # full card numbers are refused wherever they turn up
        for card, field in [({"number": "4242424242424242"}, "cards[0].number"),
                            ({"fingerprint": "4111 1111 1111 1111"}, "cards[0].fingerprint"),
                            ({"holder_name": "4111111111111111"}, "cards[0].holder_name"),
                            ({"last4": "42424242"}, "cards[0].last4"),
                            ({"cvv": "123"}, "cards[0].cvv")]:
            a = kt.demo_account(1)
            a["cards"] = [dict(a["cards"][0], **card)]
            error_shape(k.post("/v1/accounts", a, key=svc), 400, "invalid", field)
        check(k.get("/v1/accounts/acc-1", key=agent).status == 404, "nothing stored by refusals")

        # create and show
        a = kt.demo_account(1, password="correct horse battery", phone="+81-90-0000-0000", lang="ja")
        r = k.post("/v1/accounts", a, key=svc)
        check(r.status == 201, "create account", r)
        check(r.json["id"] == "acc-1" and r.json["name"] == "Alice Smith", "created body", r)
        # An agent's view masks the identity-check answers (docs/api.md);
        # the admin's is the record.
        r = k.get("/v1/accounts/acc-1", key=agent)
        check(r.status == 200 and r.json["masked"] is True and r.json["name"] == "A***"
              and "city" not in r.json["address"] and "last4" not in r.json["cards"][0],
              "the agent's masked view", r)
        r = k.get("/v1/accounts/acc-1", key=admin)
        check(r.status == 200, "show account", r)
        acc = r.json
        check(acc["email"] == "user1@example.jp" and acc["address"]["city"] == "渋谷区", "fields", acc)
        check(acc["has_password"] is True and acc["locked"] is False and acc["locks"] == [], "state", acc)
        check(acc["cards"] == [dict(a["cards"][0], added=acc["cards"][0]["added"])], "cards", acc)
        text = json.dumps(acc)
        check("argon2" not in text and "correct horse" not in text, "no password hash in view", acc)
        error_shape(k.post("/v1/accounts", a, key=admin), 409, "conflict")
        r = k.post("/v1/accounts", kt.demo_account(2, id=None), key=admin)
        check(r.status == 201 and r.json["id"].startswith("acc_"), "generated id", r)
        error_shape(k.get("/v1/accounts/nobody", key=admin), 404, "not_found")

        # metrics: the requests above, per route and class; store commits.
        # A request is counted when libmicrohttpd reports it completed, which
        # may come just after its answer reached us: read until it shows.
        want = 'kagi_http_requests_total{method="POST",route="/v1/accounts",class="2xx"} 2\n'
        for _ in range(50):
            r = k.get("/metrics")
            check(r.status == 200 and r.headers["content-type"].startswith("text/plain"), "metrics", r)
            m = r.body.decode()
            if want in m:
                break
            time.sleep(0.1)
        check(want in m, "request counter per route and class", m[:2000])
        check('route="/v1/accounts",class="4xx",le="+Inf"}' in m, "histogram per route", m[:2000])
        check("kagi_store_commit_duration_seconds_count" in m, "store commit latency", m[-2000:])

        # expired and revoked keys stop working
        short = k.key("agent", ttl=1)
        check(k.get("/v1/accounts/acc-1", key=short).status == 200, "fresh ttl key works")
        revoked = k.key("agent")
        check(k.get("/v1/accounts/acc-1", key=revoked).status == 200, "key works before revoke")
        k.kagi("key", "revoke", "--db", k.db, revoked[3:19])
        error_shape(k.get("/v1/accounts/acc-1", key=revoked), 401, "unauthorized")
        time.sleep(1.2)
        error_shape(k.get("/v1/accounts/acc-1", key=short), 401, "unauthorized")

        # admins manage API keys over HTTP; secrets are shown once, never listed
        r = k.post("/v1/keys", {"role": "service", "label": "shop backend"}, key=admin)
        check(r.status == 201 and r.json["key"].startswith("kg_" + r.json["id"] + "_"), "key create", r)
        new_key, new_id = r.json["key"], r.json["id"]
        check(k.post("/v1/accounts", kt.demo_account(3), key=new_key).status == 201, "new key works")
        error_shape(k.post("/v1/keys", {"role": "customer"}, key=admin), 400, "invalid", "role")
        error_shape(k.post("/v1/keys", {"role": "agent", "ttl_s": 0}, key=admin), 400, "invalid", "ttl_s")
        r = k.get("/v1/keys", key=admin)
        mine = [x for x in r.json["keys"] if x["id"] == new_id]
        check(r.status == 200 and mine and mine[0]["state"] == "active" and
              mine[0]["label"] == "shop backend", "key listed", r)
        check(new_key[20:] not in r.body.decode() and "hash" not in r.body.decode(), "no secrets listed")
        r = k.request("DELETE", f"/v1/keys/{new_id}", key=admin)
        check(r.status == 200 and r.json["state"] == "revoked", "key revoke", r)
        error_shape(k.post("/v1/accounts", kt.demo_account(4), key=new_key), 401, "unauthorized")
        error_shape(k.request("DELETE", f"/v1/keys/{new_id}", key=admin), 409, "conflict")
        error_shape(k.request("DELETE", "/v1/keys/nosuchkey", key=admin), 404, "not_found", "id")
        r = k.get("/v1/keys", key=admin)
        check([x["state"] for x in r.json["keys"] if x["id"] == new_id] == ["revoked"], "listed revoked", r)
        p = k.kagi("key", "list", "--db", k.db)
        check(new_id in p.stdout and "revoked" in p.stdout, "kagi key list", p.stdout)
        # in the order written (the system-wide chain), as SQLite scans it
        acts = [a for (a,) in k.rows("SELECT action FROM audit WHERE detail LIKE ? "
                                     "ORDER BY account_id, seq", f'%{new_id}%')]
        check(acts == ["credential_create", "credential_revoke"], "key changes audited", acts)

        # a customer key works only on its own account (helper used by modules)
        cust = k.key("customer", account="acc-1")
        error_shape(k.get("/v1/accounts/acc-1", key=cust), 403)
        log = k.log(tail=100000)
    # logs: one access line per request, never the key or the body
    lines = [json.loads(x) for x in log.splitlines() if x.startswith("{")]
    access = [x for x in lines if x.get("component") == "access"]
    check(len(access) >= 30, "access lines", len(access))
    check(all({"method", "path", "status", "ms"} <= set(x) for x in access), "access fields")
    check(all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", x["ts"]) and
              isinstance(x["ms"], float) and x["ms"] >= 0 and
              isinstance(x["status"], int) for x in access), "access line's time, ms, status")
    check(all(time.strptime(x["ts"][:19], "%Y-%m-%dT%H:%M:%S") for x in access), "access ts parses")
    for secret in (svc, agent, admin, cust, "correct horse", "4242424242424242"):
        check(secret not in log, "secret not in the log", secret[:12])
    check(any(x.get("role") == "service" for x in access), "access line names the role")
    check(any(x.get("request_id") == rid for x in access), "access line has the request id")
    check(any(x.get("status") == 401 and x.get("error") == "unauthorized" for x in access),
          "access line names the error code")


def test_cli():
    tmp = kt.Kagid()  # only for its temp dir and store (a fresh file or PG database)
    try:
        db = tmp.db
        for cmd in (["init"], ["serve"], ["key"], ["account"], ["config"], ["version"]):
            p = kt.kagi(*cmd, "--help")
            check(p.stdout.startswith("usage: kagi " + cmd[0]), f"{cmd[0]} --help", p.stdout)
        check(kt.kagi("nosuch", check_rc=False).returncode == 2, "unknown command exits 2")
        check("schema version" in kt.kagi("init", "--db", db).stdout, "init")
        p = kt.kagi("key", "create", "--db", db, "--role", "wizard", check_rc=False)
        check(p.returncode == 1 and "wizard" in p.stderr, "bad role refused", p.stderr)
        key = kt.kagi("key", "create", "--db", db, "--role", "admin", "--label", "ops").stdout.strip()
        check(key.startswith("kg_") and len(key) == 63, "key printed once", key)
        p = kt.kagi("key", "create", "--db", db, "--role", "customer", check_rc=False)
        check(p.returncode == 1 and "account" in p.stderr, "customer key needs --account", p.stderr)
        dump = kt.dump(db)
        check(key[20:] not in dump, "only a hash of the secret is stored")
        p = kt.kagi("account", "create", "--db", db, "--id", "c1", "--name", "佐藤 花子",
                    "--email", "hanako@example.jp", "--postal-code", "530-0001", "--region", "大阪府",
                    "--city", "大阪市北区", "--line1", "梅田1-1", "--country", "JP",
                    "--password", "hunter2hunter2", "--card", "HANAKO SATO|1234|01/30|fp-c1")
        acc = json.loads(p.stdout)
        check(acc["id"] == "c1" and acc["cards"][0]["last4"] == "1234", "account create", acc)
        p = kt.kagi("account", "create", "--db", db, "--json", "-",
                    input=json.dumps(kt.demo_account(7)))
        check(json.loads(p.stdout)["id"] == "acc-7", "account create --json -", p.stdout)
        p = kt.kagi("account", "create", "--db", db, "--json", "-", check_rc=False,
                    input=json.dumps(kt.demo_account(8, email=5)))
        check(p.returncode == 1 and 'field "email"' in p.stderr, "CLI error names the field", p.stderr)
        p = kt.kagi("account", "show", "--db", db, "c1")
        check(json.loads(p.stdout)["name"] == "佐藤 花子", "account show", p.stdout)
        p = kt.kagi("account", "show", "--db", db, "nobody", check_rc=False)
        check(p.returncode == 1 and "nobody" in p.stderr, "show unknown", p.stderr)
        conf = os.path.join(tmp.tmp, "bad.conf")
        with open(conf, "w") as f:
            f.write("# comment\nhttp.threads = 4\nhttp.threads = many\n")
        p = kt.kagi("config", "dump", "--config", conf, check_rc=False)
        check(p.returncode == 1 and "bad.conf:3" in p.stderr, "config error names file:line", p.stderr)
        p = kt.kagi("serve", "--db", db, "--config", conf, check_rc=False)
        check(p.returncode == 1 and "bad.conf:3" in p.stderr, "serve refuses a bad config", p.stderr)
        with open(conf, "w") as f:
            f.write("http.threads = 4\nsmtp.password = s3cret\n")
        p = kt.kagi("config", "dump", "--config", conf)
        check("http.threads = 4" in p.stdout and "s3cret" not in p.stdout, "config dump", p.stdout)
        p = kt.kagi("serve", "--db", db, "--listen", "127.0.0.1:0", check_rc=False,
                    env={"KAGI_HTTP_THREADS": "16", "KAGI_HTTP_MAX_CONNECTIONS": "4"})
        check(p.returncode == 1 and "http.max_connections" in p.stderr, "too few connections", p.stderr)
        p = kt.kagi("serve", "--db", db, "--listen", "127.0.0.1:notaport", check_rc=False)
        check(p.returncode == 1 and "port" in p.stderr, "bad listen address", p.stderr)
    finally:
        tmp.cleanup()


if __name__ == "__main__":
    kt.main([test_api, test_cli])
