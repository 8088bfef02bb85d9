"""Every route × every role: the route table printed by `kagi serve
--print-routes` must match tests/data/http/routes.tsv exactly (so a new route
without expectations fails), and over HTTP each route refuses a missing key
(401), a bad key (401) and every role not listed (403), and does not refuse
the roles listed (customer and ticket keys call with their own account id);
customer and ticket keys are refused (403) on another account's
/v1/accounts/{id}/... routes."""
import re

import kagitest as kt
from kagitest import check


def load_expected():
    rows = {}
    with open(kt.data_path("http", "routes.tsv"), encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            parts = line.split("\t")
            check(len(parts) == 3, f"routes.tsv:{n}: expected METHOD<TAB>PATTERN<TAB>roles", line)
            method, pattern, roles = parts
            check((method, pattern) not in rows, f"routes.tsv:{n}: duplicate route", line)
            roles = set() if roles == "public" else set(roles.split(","))
            check(roles <= set(kt.ROLES), f"routes.tsv:{n}: unknown role", roles)
            rows[(method, pattern)] = roles
    return rows


def load_actual():
    rows = {}
    out = kt.kagi("serve", "--print-routes").stdout
    for line in out.splitlines():
        method, pattern, roles = line.split("\t")[:3]  # 4th: the body kind
        rows[(method, pattern)] = set() if roles == "public" else set(roles.split(","))
    return rows


def test_table_matches():
    exp, act = load_expected(), load_actual()
    missing = sorted(set(act) - set(exp))
    stale = sorted(set(exp) - set(act))
    differ = sorted(r for r in set(act) & set(exp) if act[r] != exp[r])
    check(not missing, "routes without a line in tests/data/http/routes.tsv", missing)
    check(not stale, "lines in routes.tsv for routes that do not exist", stale)
    check(not differ, "roles differ from routes.tsv",
          [(r, sorted(act[r]), sorted(exp[r])) for r in differ])
    check(len(act) >= 4, "route table printed", act)


def test_every_route_every_role():
    routes = load_actual()
    with kt.Kagid() as k:
        svc = k.key("service")
        r = k.post("/v1/accounts", kt.demo_account(0, id="acc-r"), key=svc)
        check(r.status == 201, "account for bound keys", r)
        keys = k.keys("acc-r")
        bogus = "kg_" + "a" * 16 + "_" + "B" * 43
        calls = 0
        for (method, pattern), allowed in sorted(routes.items()):
            path = re.sub(r"\{[^}]+\}", "acc-r", pattern)
            body = {} if method in ("POST", "PUT", "PATCH") else None
            where = f"{method} {pattern}"
            if not allowed:  # public
                r = k.request(method, path, body)
                check(r.status not in (401, 403), f"{where}: public route refused", r)
                continue
            r = k.request(method, path, body)
            check(r.status == 401 and r.error().get("code") == "unauthorized",
                  f"{where}: no key must be 401", r)
            r = k.request(method, path, body, key=bogus)
            check(r.status == 401, f"{where}: unknown key must be 401", r)
            for role in kt.ROLES:
                r = k.request(method, path, body, key=keys[role])
                calls += 1
                if role in allowed:
                    check(r.status not in (401, 403), f"{where}: role {role} must not be refused", r)
                else:
                    check(r.status == 403 and r.error().get("code") == "forbidden",
                          f"{where}: role {role} must be 403", r)
        check(calls >= 5 * 2, "calls made", calls)

        # customer and ticket keys are bound to one account: on every route
        # they may call that names an account, another account is refused
        r = k.post("/v1/accounts", kt.demo_account(1, id="acc-other"), key=svc)
        check(r.status == 201, "second account", r)
        bound = 0
        for (method, pattern), allowed in sorted(routes.items()):
            if not pattern.startswith("/v1/accounts/{"):
                continue
            path = re.sub(r"\{[^}]+\}", "acc-other", pattern)
            body = {} if method in ("POST", "PUT", "PATCH") else None
            for role in ("customer", "ticket"):
                if role in allowed:
                    r = k.request(method, path, body, key=keys[role])
                    check(r.status == 403, f"{method} {pattern}: {role} key on another account", r)
                    bound += 1
        print(f"  {calls} route x role calls, {bound} calls on another account refused")


if __name__ == "__main__":
    kt.main([test_table_matches, test_every_route_every_role])
