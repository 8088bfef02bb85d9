"""docs/openapi.yaml cannot drift from what kagid serves.

- Its paths and methods are exactly the route table (`kagi serve
  --print-routes`), both ways; a route missing from the spec, or a spec
  operation no route serves, fails naming it.
- Each operation's roles (`x-kagi-roles`, and the schemes of `security`) are
  the route's roles, plus the console's session cookie (`consoleSession`)
  exactly where a console session's role (agent, admin, customer, ticket)
  may call the route; public routes say `security: []`.
- Each operation's request body is the route's body kind (the 4th column of
  `--print-routes`): `json` is `application/json` only, `ndjson`
  `application/x-ndjson` only, `raw` other media types, `none` no body.
- Each request body's `x-kagi-body-max-bytes` is the route's limit in
  src/http/routes.c (src/base/limits.h; 0 there is http.body_max_bytes).
- Every 4xx/5xx answer of every operation is the shared Error shape (or,
  for the two bodies that carry more, has an `error` of the ErrorDetail shape).
- It validates with Redocly's linter (`redocly lint`, rules in redocly.yaml):
  no errors.
- `GET /v1/openapi.json` of a real kagid, without a key, is the YAML's content.
"""
import importlib.util
import json
import os
import re
import shutil
import subprocess

import kagitest as kt

ROOT = os.environ.get("KG_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
SPEC = os.path.join(ROOT, "docs", "openapi.yaml")
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
DEFAULT_BODY_MAX = 1048576  # http.body_max_bytes (docs/configuration.md)


def load_spec():
    """The YAML as the build converts it (scripts/openapi-json.py)."""
    path = os.path.join(ROOT, "scripts", "openapi-json.py")
    spec = importlib.util.spec_from_file_location("openapi_json", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.load(SPEC)


CONSOLE_ROLES = {"agent", "admin", "customer", "ticket"}  # the roles a console session has


def print_routes():
    """[(METHOD, pattern, set of roles, body kind)] from `kagi serve --print-routes`."""
    out = kt.kagi("serve", "--print-routes").stdout
    rows = []
    for line in out.splitlines():
        method, pattern, roles, body = line.split("\t")
        rows.append((method, pattern, set(roles.split(",")), body))
    kt.check(rows, "--print-routes printed routes", out)
    return rows


def route_table():
    """{(METHOD, pattern): set of roles}."""
    return {(m, p): roles for m, p, roles, _ in print_routes()}


def spec_operations(spec):
    ops = {}
    for path, item in spec["paths"].items():
        for m, op in item.items():
            if m in METHODS:
                ops[(m.upper(), path)] = op
    return ops


def drift(routes, ops):
    """What differs between the route table and the spec's operations, as
    one message per route."""
    msgs = [f"route {m} {p} is served by kagid but missing from docs/openapi.yaml "
            f"(add its operation: paths: '{p}': {m.lower()}: ...)"
            for m, p in sorted(set(routes) - set(ops))]
    msgs += [f"docs/openapi.yaml has {m} {p}, which kagid does not serve (not in "
             f"src/http/routes.c)" for m, p in sorted(set(ops) - set(routes))]
    return msgs


def paths_are_the_route_table():
    routes, ops = route_table(), spec_operations(load_spec())
    for msg in drift(routes, ops):
        kt.expect(False, msg)
    # the check itself: a route the spec lacks, and an operation no route
    # serves, are each named
    gone = ("POST", "/v1/events")
    fewer = {k: v for k, v in ops.items() if k != gone}
    more = dict(ops)
    more[("GET", "/v1/nowhere")] = {}
    kt.check(any("POST /v1/events is served by kagid but missing" in x for x in drift(routes, fewer)),
             "a missing route is named", drift(routes, fewer))
    kt.check(any("GET /v1/nowhere" in x for x in drift(routes, more)),
             "an extra operation is named", drift(routes, more))


def roles_are_the_route_table():
    routes, ops = route_table(), spec_operations(load_spec())
    for key in sorted(set(routes) & set(ops)):
        where = f"{key[0]} {key[1]}"
        op, want = ops[key], routes[key]
        roles = op.get("x-kagi-roles")
        kt.expect(isinstance(roles, list) and set(roles) == want,
                  f"{where}: x-kagi-roles {roles} != route table {sorted(want)}")
        sec = op.get("security")
        if want == {"public"}:
            kt.expect(sec == [], f"{where}: a public route says security: [] (got {sec})")
        else:
            names = set()
            for req in sec or []:
                kt.expect(len(req) == 1, f"{where}: one scheme per security alternative: {req}")
                names |= set(req)
            if want & CONSOLE_ROLES:
                want = want | {"consoleSession"}
            kt.expect(names == want, f"{where}: security schemes {sorted(names)} != route "
                                     f"table {sorted(want)} (consoleSession where a console "
                                     f"session's role may call it)")
            for code in ("401", "403"):
                kt.expect(code in op.get("responses", {}), f"{where}: documents its {code}")


def body_kinds_are_the_route_table():
    """The request body's media types are the route's body kind."""
    ops = spec_operations(load_spec())
    for method, pattern, _, kind in print_routes():
        op = ops.get((method, pattern))
        if op is None:
            continue  # paths_are_the_route_table names it
        where = f"{method} {pattern}"
        types = set((op.get("requestBody") or {}).get("content", {}))
        if kind == "none":
            kt.expect(not types, f"{where}: takes no body, but the spec has {sorted(types)}")
        elif kind == "json":
            kt.expect(types == {"application/json"}, f"{where}: a JSON body, spec {sorted(types)}")
        elif kind == "ndjson":
            kt.expect(types == {"application/x-ndjson"}, f"{where}: an NDJSON body, spec {sorted(types)}")
        else:
            kt.expect(types and "application/json" not in types,
                      f"{where}: a raw body of its own media types, spec {sorted(types)}")


def limits():
    """The #defines of src/base/limits.h, evaluated."""
    vals = {}
    with open(os.path.join(ROOT, "src", "base", "limits.h")) as f:
        for line in f:
            m = re.match(r"#define (KG_\w+) (.+?)\s*(/\*.*)?$", line)
            if m:
                vals[m.group(1)] = m.group(2)
    env = {}
    for name, expr in vals.items():
        try:
            env[name] = int(eval(expr, {"__builtins__": {}}, env))  # noqa: S307 - our own header
        except (SyntaxError, NameError, TypeError):
            pass
    return env


POOL_FLAGS = {"INLINE", "QUICK", "DECISION", "LOGIN", "MAIL", "UPLOAD"}


def body_limits_are_the_route_table():
    """x-kagi-body-max-bytes of each operation with a body = its routes.c limit."""
    env = limits()
    table = {}
    with open(os.path.join(ROOT, "src", "http", "routes.c")) as f:
        text = f.read()
    for m in re.finditer(r'\{"(\w+)", "([^"]+)", [^,]+, kg_\w+, ([\w |]+),\s*([^}]+)\}', text):
        expr = m.group(4).strip()
        n = int(eval(expr, {"__builtins__": {}}, env))  # noqa: S307 - our own source
        # the body flags only: INLINE, DECISION, ... name where the handler runs
        body = [f.strip() for f in m.group(3).split("|") if f.strip() not in POOL_FLAGS]
        table[(m.group(1), m.group(2))] = (" | ".join(body) or "0", n or DEFAULT_BODY_MAX)
    kt.check(len(table) >= 30, "routes.c parsed", len(table))
    for key, op in sorted(spec_operations(load_spec()).items()):
        where = f"{key[0]} {key[1]}"
        flags, limit = table.get(key, (None, None))
        if "requestBody" not in op:
            kt.expect(flags in (None, "0"), f"{where}: takes a body ({flags}) but the spec has no requestBody")
            continue
        kt.expect(op.get("x-kagi-body-max-bytes") == limit,
                  f"{where}: x-kagi-body-max-bytes {op.get('x-kagi-body-max-bytes')} != {limit} "
                  f"(src/http/routes.c)")
        kt.expect("413" in op["responses"], f"{where}: a route with a body documents 413")


def resolve(spec, obj):
    while isinstance(obj, dict) and "$ref" in obj:
        node = spec
        for part in obj["$ref"].lstrip("#/").split("/"):
            node = node[part]
        obj = node
    return obj


def errors_have_the_error_shape():
    spec = load_spec()
    for (m, p), op in sorted(spec_operations(spec).items()):
        for code, resp in op["responses"].items():
            if not code.startswith(("4", "5")):
                continue
            resp = resolve(spec, resp)
            schema = (resp.get("content", {}).get("application/json") or {}).get("schema")
            where = f"{m} {p} {code}"
            kt.expect(schema is not None, f"{where}: an application/json answer")
            if schema == {"$ref": "#/components/schemas/Error"}:
                continue
            s = resolve(spec, schema)
            err = (s.get("properties") or {}).get("error")
            kt.expect(err == {"$ref": "#/components/schemas/ErrorDetail"} and "error" in s.get("required", []),
                      f"{where}: the Error shape, or an object with a required ErrorDetail `error`")


def redocly_lint_passes():
    exe = os.path.join(ROOT, "node_modules", ".bin", "redocly")
    kt.check(shutil.which("node") and os.path.exists(exe),
             "node and node_modules/.bin/redocly (scripts/install-deps.sh test runs npm ci)")
    env = dict(os.environ, REDOCLY_TELEMETRY="off", REDOCLY_SUPPRESS_UPDATE_NOTICE="true",
               NO_COLOR="1")
    p = subprocess.run([exe, "lint", "docs/openapi.yaml", "--config", "redocly.yaml",
                        "--format", "stylish"], cwd=ROOT, capture_output=True, text=True,
                       timeout=300, env=env)
    out = p.stdout + p.stderr
    kt.check(p.returncode == 0, "redocly lint docs/openapi.yaml: no errors", out[-4000:])
    kt.check(" error " not in out.lower(), "redocly lint reports no error", out[-4000:])


def served_document_is_the_yaml():
    want = load_spec()
    with kt.Kagid() as k:
        r = k.get("/v1/openapi.json")
        kt.check(r.status == 200, "GET /v1/openapi.json without a key", r)
        kt.check(r.headers.get("content-type", "").startswith("application/json"),
                 "served as application/json", r.headers)
        got = json.loads(r.body)
        kt.check(got == want, "the served document is docs/openapi.yaml's content "
                              "(rebuild after editing the YAML)")
        kt.check(k.request("HEAD", "/v1/openapi.json").status == 200, "HEAD works too")


def main():
    kt.main([paths_are_the_route_table, roles_are_the_route_table,
             body_kinds_are_the_route_table, body_limits_are_the_route_table, errors_have_the_error_shape,
             served_document_is_the_yaml, redocly_lint_passes])
    if kt.failures:
        raise SystemExit(f"{len(kt.failures)} failures:\n  " + "\n  ".join(kt.failures))


if __name__ == "__main__":
    main()
