"""Property-based API test: requests generated from docs/openapi.yaml go to a
real kagid through Stoplight Prism's validation proxy (`prism proxy`, a
checker nobody on this project wrote), which validates every request and
every answer against the spec.

For every operation, with a valid key of a role the operation allows, the
generator (seeded) makes valid requests from the schemas and mutated ones:
a required field missing, a wrong type, a string over its maxLength, an
integer out of range, an unknown enum value, an array over maxItems, an
extra field, a body that is not an object, an empty body, the wrong
Content-Type, no key, a body over the route's limit. Properties:

- no answer is a 5xx;
- Prism reports no response violation: every answer matches its schema;
- every 4xx has the error shape ({"error": {"code", "message", "field"?}});
- a request the generator made valid is valid for Prism too (the generator
  follows the spec), and kagid does not refuse it with 400 for a field;
- a request Prism finds invalid for its body or parameters is refused
  by kagid with a 4xx (the spec is no stricter than the server).

Prism runs without `--errors`: with it, Prism answers an invalid request
itself (422) instead of forwarding it, and the mutated requests would never
reach kagid. Without it Prism forwards everything and lists each request and
answer violation in the `sl-violations` answer header, which is what the test
reads. Bad JSON (and duplicate keys) cannot pass through Prism (it parses and
re-serializes JSON), so those go to kagid directly and the answer is checked
for a 400 in the error shape with line and column. Prism's forwarder follows
redirects, so an operation whose answer is a redirect (3xx, `GET /`) goes to
kagid directly too: its answer must be one the operation documents.

Short and seeded in `make test`. Longer runs (docs/api.md "Property-based API
test"): KG_API_PROPERTY_REQUESTS=5000 KG_API_PROPERTY_SEED=7.
"""
import copy
import datetime
import http.client
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import time

import kagitest as kt

ROOT = os.environ.get("KG_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
SPEC_PATH = os.path.join(ROOT, "docs", "openapi.yaml")
REQUESTS = int(os.environ.get("KG_API_PROPERTY_REQUESTS", "300"))
SEED = int(os.environ.get("KG_API_PROPERTY_SEED", "1"))
SECRET_KEY = "3c" * 32
METHODS = ("get", "post", "put", "delete", "patch")
BASE_TS = datetime.datetime(2026, 11, 1, tzinfo=datetime.timezone.utc)
JA = "山田太郎東京都渋谷区神宮前アカウント"


def load_spec():
    import importlib.util
    path = os.path.join(ROOT, "scripts", "openapi-json.py")
    s = importlib.util.spec_from_file_location("openapi_json", path)
    mod = importlib.util.module_from_spec(s)
    s.loader.exec_module(mod)
    return mod.load(SPEC_PATH)


# ---- generating values from schemas ------------------------------------------
class Gen:
    """Values from JSON Schemas of the spec, with a seeded random."""

    def __init__(self, spec, rng, fixtures):
        self.spec = spec
        self.rng = rng
        self.fx = fixtures

    def resolve(self, s):
        while isinstance(s, dict) and "$ref" in s:
            node = self.spec
            for part in s["$ref"].lstrip("#/").split("/"):
                node = node[part]
            s = node
        return s

    def flat(self, s):
        """s with $refs resolved and allOf merged into one schema (the
        later keyword wins: {allOf: [Text], maxLength: 32})."""
        s = self.resolve(s)
        if "allOf" not in s:
            return s
        out = {}
        for sub in s["allOf"]:
            sub = self.flat(sub)
            for k, v in sub.items():
                if k == "properties":
                    out.setdefault("properties", {}).update(v)
                elif k == "required":
                    out["required"] = sorted(set(out.get("required", [])) | set(v))
                else:
                    out[k] = v
        for k, v in s.items():
            if k == "allOf":
                continue
            if k == "properties":
                out.setdefault("properties", {}).update(v)
            elif k == "required":
                out["required"] = sorted(set(out.get("required", [])) | set(v))
            else:
                out[k] = v
        return out

    def pick_branch(self, s):
        """For oneOf: one branch merged into the rest of s."""
        s = self.flat(s)
        if "oneOf" not in s:
            return s
        branch = self.flat(self.rng.choice(s["oneOf"]))
        rest = {k: v for k, v in s.items() if k != "oneOf"}
        return self.flat({"allOf": [rest, branch]})

    def text(self, lo, hi, ascii_only=False):
        """lo..hi characters, at most hi bytes (the server counts bytes),
        some of them Japanese; no control characters, not blank."""
        n = self.rng.randint(lo, max(lo, hi))
        alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -_."
        out, size = [], 0
        for _ in range(n):
            ch = self.rng.choice(JA) if not ascii_only and self.rng.random() < 0.2 else \
                self.rng.choice(alphabet)
            if size + len(ch.encode()) > hi:
                break
            out.append(ch)
            size += len(ch.encode())
        s = "".join(out).strip()
        return s if len(s) >= max(lo, 1) else "x" * max(lo, 1)

    def string(self, s, name):
        if "const" in s:
            return s["const"]
        if "enum" in s:
            return self.rng.choice(s["enum"])
        hint = self.fx.value_for(name, self.rng)
        if hint is not None:
            return hint
        lo, hi = s.get("minLength", 0), s.get("maxLength", 40)
        hi = min(hi, lo + 40)
        fmt, pat = s.get("format"), s.get("pattern")
        if fmt == "date-time":
            t = BASE_TS + datetime.timedelta(seconds=self.rng.randint(0, 20 * 86400))
            return t.strftime("%Y-%m-%dT%H:%M:%SZ")
        if fmt == "email":
            return f"u{self.rng.randint(0, 10**6)}@example.jp"
        if pat:
            return self.pattern(pat, max(lo, 1), hi)
        return self.text(max(lo, 1) if lo else self.rng.choice((0, 1, 1, 1)), hi)

    def pattern(self, pat, lo, hi):
        r = self.rng
        if pat == "^[0-9]{4}$":
            return f"{r.randint(0, 9999):04d}"
        if pat == "^(0[1-9]|1[0-2])/[0-9]{2}$":
            return f"{r.randint(1, 12):02d}/{r.randint(26, 35)}"
        if pat == "^[A-Z]{2}$":
            return r.choice(("JP", "US", "DE"))
        if pat == "^[A-Z]{3}$":
            return r.choice(("JPY", "USD"))
        if pat == "^[A-Za-z0-9._:-]+$":
            return f"acc-{r.randint(0, 10**9)}"
        if pat == "^[^\\u0000-\\u001f\\u007f]+$":
            return self.text(lo, hi)
        raise AssertionError(f"the generator has no case for the pattern {pat!r}: add one")

    def value(self, s, name="", depth=0):
        s = self.pick_branch(s)
        t = s.get("type")
        if isinstance(t, list):
            non_null = [x for x in t if x != "null"]
            t = "null" if not non_null or self.rng.random() < 0.1 else self.rng.choice(non_null)
        if "const" in s:
            return s["const"]
        if "enum" in s:
            return self.rng.choice(s["enum"])
        if t == "null":
            return None
        if t == "string" or (t is None and ("pattern" in s or "maxLength" in s)):
            return self.string(s, name)
        if t == "integer":
            hint = self.fx.value_for(name, self.rng)
            if isinstance(hint, int):
                return hint
            lo, hi = s.get("minimum", 0), s.get("maximum", 10**6)
            return self.rng.randint(lo, min(hi, lo + 10**6))
        if t == "boolean":
            return self.rng.random() < 0.5
        if t == "array":
            n = self.rng.randint(0, min(s.get("maxItems", 3), 3))
            return [self.value(s.get("items", {}), name, depth + 1) for _ in range(n)]
        if t == "object" or "properties" in s:
            return self.obj(s, depth)
        return self.text(1, 10)

    def obj(self, s, depth=0):
        s = self.pick_branch(s)
        out = {}
        req = set(s.get("required", []))
        for k, sub in (s.get("properties") or {}).items():
            if k in req or (depth < 3 and self.rng.random() < 0.5):
                out[k] = self.value(sub, k, depth + 1)
        return out


# ---- fixtures: accounts, keys, a case ---------------------------------------
class Fixtures:
    def __init__(self, k):
        self.k = k
        self.keys = {r: k.key(r) for r in ("service", "agent", "admin")}
        self.accounts = []
        for i in range(3):
            acc = kt.demo_account(i, id=f"prop-{i}", password="a good password")
            r = k.post("/v1/accounts", acc, key=self.keys["service"])
            kt.check(r.status == 201, "fixture account", r)
            self.accounts.append(acc["id"])
        self.own = self.accounts[0]  # the customer's and the ticket's account
        self.keys["customer"] = k.key("customer", self.own)
        self.keys["ticket"] = k.key("ticket", self.own)
        r = k.post("/v1/cases", {"account": self.own, "text": "help"}, key=self.keys["agent"])
        kt.check(r.status == 201, "fixture case", r)
        self.cases = [r.json["id"]]
        r = k.post("/v1/cases", {"account": self.accounts[1], "text": "other"},
                   key=self.keys["agent"])
        kt.check(r.status == 201, "fixture case 2", r)
        self.cases.append(r.json["id"])
        r = k.post(f"/v1/accounts/{self.accounts[1]}/lock",
                   {"reason": "manual", "note": "fixture", "evidence": {"seen": [1, 2]}},
                   key=self.keys["agent"])
        kt.check(r.status == 201, "fixture lock (its evidence is in the lock lists)", r)
        with open(os.path.join(ROOT, "policy", "default.rules")) as f:
            self.policy = f.read()
        with open(kt.data_path("mail", "charset_shift_jis.eml"), "rb") as f:
            self.mail = f.read()

    def value_for(self, name, rng):
        """A meaningful value for some fields (None: generate from the schema)."""
        if name == "policy" and rng.random() < 0.5:
            return self.policy
        if name == "email" and rng.random() < 0.3:
            return f"user{rng.randint(0, 2)}@example.jp"  # a fixture account's email
        if name == "account" and rng.random() < 0.7:
            return rng.choice(self.accounts)
        if name == "password" and rng.random() < 0.3:
            return "a good password"
        return None


# ---- the proxy ----------------------------------------------------------------
def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Prism:
    def __init__(self, upstream_port, log_path, spec_path=SPEC_PATH):
        exe = os.path.join(ROOT, "node_modules", ".bin", "prism")
        kt.check(shutil.which("node") and os.path.exists(exe),
                 "node and node_modules/.bin/prism (scripts/install-deps.sh test runs npm ci)")
        self.port = free_port()
        self.log = open(log_path, "wb")
        self.log_path = log_path
        self.proc = subprocess.Popen(
            [exe, "proxy", spec_path, f"http://127.0.0.1:{upstream_port}", "--port",
             str(self.port), "--host", "127.0.0.1", "--cors", "false"],
            stdout=self.log, stderr=subprocess.STDOUT, cwd=ROOT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            kt.check(self.proc.poll() is None, "prism proxy started", self.tail())
            try:
                st, _, _ = self.send("GET", "/healthz", None, {})
                if st == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise kt.TestFailure(f"prism proxy did not answer in 60 s:\n{self.tail()}")

    def send(self, method, path, body, headers, port=None):
        conn = http.client.HTTPConnection("127.0.0.1", port or self.port, timeout=60)
        try:
            conn.request(method, path, body=body, headers=headers)
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            conn.close()

    def tail(self):
        self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read()[-3000:].decode("utf-8", "replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(20)
        self.log.close()


def violations(headers):
    """Prism's sl-violations header: [{location, severity, code, message}]."""
    v = headers.get("sl-violations")
    if not v:
        return []
    if v.startswith("Too many violations!"):
        return [{"location": ["response"], "severity": "Error", "message": v[:300]}]
    return json.loads(v)


# ---- requests -------------------------------------------------------------------
class Case:
    """One request to send and what is known about it."""

    def __init__(self, op_id, method, path, body, headers, mutation, direct=False):
        self.op_id, self.method, self.path = op_id, method, path
        self.body, self.headers = body, headers
        self.mutation, self.direct = mutation, direct

    def __repr__(self):
        b = self.body[:200] if isinstance(self.body, bytes) else self.body
        return f"{self.op_id} [{self.mutation}] {self.method} {self.path} {b!r}"


class Requests:
    def __init__(self, spec, gen, fx):
        self.spec, self.gen, self.fx, self.rng = spec, gen, fx, gen.rng
        self.ops = []
        for path, item in spec["paths"].items():
            for m, op in item.items():
                if m in METHODS:
                    self.ops.append((path, m.upper(), op))

    def key_for(self, op):
        roles = op["x-kagi-roles"]
        if roles == ["public"]:
            return None, None
        role = self.rng.choice(roles)
        return role, self.fx.keys[role]

    def path_for(self, path, op, role):
        params = [self.gen.resolve(p) for p in op.get("parameters", [])]
        out = path
        for p in params:
            if p["in"] != "path":
                continue
            r = self.rng.random()
            if path.startswith("/v1/cases/"):
                pool = self.fx.cases[:1] if role in ("customer", "ticket") else self.fx.cases
            elif path.startswith("/v1/keys/"):
                pool = ["nosuchkey0000000"]
            else:
                pool = [self.fx.own] if role in ("customer", "ticket") else self.fx.accounts
            v = self.rng.choice(pool) if r < 0.9 else f"missing-{self.rng.randint(0, 999)}"
            out = out.replace("{" + p["name"] + "}", v)
        query = []
        for p in params:
            if p["in"] == "query" and (p.get("required") or self.rng.random() < 0.5):
                query.append((p["name"], self.gen.value(p["schema"], p["name"])))
        if query:
            from urllib.parse import urlencode
            out += "?" + urlencode(query)
        return out

    def raw_body(self, op, ctype):
        if ctype == "application/x-ndjson":
            ev = self.spec["components"]["schemas"]["Event"]
            lines = [json.dumps(self.event(ev)) for _ in range(self.rng.randint(1, 4))]
            return ("\n".join(lines) + "\n").encode()
        if ctype in ("message/rfc822", "text/plain") and op["operationId"] == "checkMail":
            return self.fx.mail
        return self.gen.text(1, 200).encode()

    def event(self, schema):
        e = self.gen.value(schema)
        e["account"] = self.rng.choice(self.fx.accounts)
        return e

    def make(self, path, method, op):
        """A valid request for op."""
        role, key = self.key_for(op)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        url = self.path_for(path, op, role)
        body = None
        rb = op.get("requestBody")
        if rb:
            ctype = self.rng.choice(list(rb["content"]))
            schema = rb["content"][ctype]["schema"]
            headers["Content-Type"] = ctype
            if ctype == "application/json":
                if op["operationId"] == "decideEvent":
                    body = self.event(schema)
                else:
                    body = self.gen.obj(schema)
            else:
                body = self.raw_body(op, ctype)
        # what the spec says in words: staff name the account of a new case;
        # a customer turning 2-step verification off gives a code
        if op["operationId"] == "openCase" and role in ("agent", "admin"):
            body["account"] = self.rng.choice(self.fx.accounts)
        if op["operationId"] == "totpDisable" and role == "customer":
            body.setdefault("code", "123456")
        # Prism follows redirects: an operation that answers one is sent
        # to kagid directly (its status checked against the spec)
        redirects = any(code.startswith("3") for code in op["responses"])
        c = Case(op["operationId"], method, url, body, headers, "valid", direct=redirects)
        c.documented = set(op["responses"])
        return c, role

    # -- mutations of a valid JSON body
    def fields(self, body, schema, prefix=()):
        """(path, schema) of every field of body known to the schema."""
        schema = self.gen.flat(schema)
        if "oneOf" in schema and isinstance(body, dict):  # the event's branch
            for b in schema["oneOf"]:
                b = self.gen.flat(b)
                if b.get("properties", {}).get("type", {}).get("const") == body.get("type"):
                    schema = self.gen.flat({"allOf": [{k: v for k, v in schema.items()
                                                       if k != "oneOf"}, b]})
        out = []
        props = schema.get("properties") or {}
        for k, v in (body.items() if isinstance(body, dict) else []):
            if k not in props:
                continue
            sub = self.gen.flat(props[k])
            out.append((prefix + (k,), sub, k in schema.get("required", [])))
            if isinstance(v, dict):
                out += self.fields(v, sub, prefix + (k,))
        return out

    @staticmethod
    def set_at(body, path, value, delete=False):
        node = body
        for p in path[:-1]:
            node = node[p]
        if delete:
            del node[path[-1]]
        else:
            node[path[-1]] = value

    def mutate(self, case, op):
        """A mutated copy of the valid case; None when the mutation does not
        apply to this operation."""
        c = copy.deepcopy(case)
        kinds = ["no_key", "extra_field"]
        rb = op.get("requestBody")
        is_json = isinstance(c.body, (dict, list))
        if rb and is_json:
            kinds += ["missing", "wrong_type", "overlong", "range", "enum", "items",
                      "not_object", "empty", "content_type", "bad_json", "duplicate_key",
                      "too_large"]
        elif rb:
            kinds += ["empty", "too_large"]
        queries = [self.gen.resolve(p) for p in op.get("parameters", [])]
        queries = [p for p in queries if p["in"] == "query"]
        if queries:
            kinds.append("bad_query")
        kind = self.rng.choice(kinds)
        c.mutation = kind
        schema = rb["content"]["application/json"]["schema"] if rb and is_json else None
        fields = self.fields(c.body, schema) if schema else []
        r = self.rng
        if kind == "no_key":
            if "Authorization" not in c.headers:
                return None
            del c.headers["Authorization"]
        elif kind == "bad_query":
            p = r.choice(queries)
            s = self.gen.flat(p["schema"])
            bad = "not_a_value" if "enum" in s else "q" * (s.get("maxLength", 128) + 1) \
                if "maxLength" in s else ""
            from urllib.parse import quote
            c.path = c.path.split("?")[0] + f"?{p['name']}={quote(bad)}"
            c.mutation += ":" + p["name"]
        elif kind == "extra_field":
            if is_json:
                c.body["zz_unknown_" + str(r.randint(0, 99))] = r.choice((1, "x", None, [1], {}))
            else:
                c.path += ("&" if "?" in c.path else "?") + "zz_unknown=1"
        elif kind == "missing":
            req = [f for f in fields if f[2]]
            if not req:
                return None
            path, _, _ = r.choice(req)
            self.set_at(c.body, path, None, delete=True)
            c.mutation += ":" + ".".join(path)
        elif kind == "wrong_type":
            if not fields:
                return None
            path, sub, _ = r.choice(fields)
            t = sub.get("type")
            if isinstance(t, list):
                t = [x for x in t if x != "null"][0]
            if "const" in sub or "enum" in sub:
                t = type(sub.get("const", (sub.get("enum") or [""])[0])).__name__
            wrong = {"string": 12345, "str": 12345, "integer": "12", "int": "12",
                     "boolean": "yes", "bool": "yes", "object": "an object", "array": {"a": 1}}
            self.set_at(c.body, path, wrong.get(t, [1, 2]))
            c.mutation += ":" + ".".join(path)
        elif kind == "overlong":
            longs = [f for f in fields if "maxLength" in f[1] and f[1]["maxLength"] < 70000]
            if not longs:
                return None
            path, sub, _ = r.choice(longs)
            self.set_at(c.body, path, "a" * (sub["maxLength"] + r.randint(1, 10)))
            c.mutation += ":" + ".".join(path)
        elif kind == "range":
            ints = [f for f in fields if f[1].get("type") == "integer" and
                    ("minimum" in f[1] or "maximum" in f[1])]
            if not ints:
                return None
            path, sub, _ = r.choice(ints)
            v = sub["maximum"] + 1 if "maximum" in sub and (r.random() < 0.5 or "minimum" not in sub) \
                else sub["minimum"] - 1
            self.set_at(c.body, path, v)
            c.mutation += ":" + ".".join(path)
        elif kind == "enum":
            enums = [f for f in fields if "enum" in f[1]]
            if not enums:
                return None
            path, _, _ = r.choice(enums)
            self.set_at(c.body, path, "not_a_value")
            c.mutation += ":" + ".".join(path)
        elif kind == "items":
            arrs = [f for f in fields if f[1].get("type") == "array" and "maxItems" in f[1]
                    and f[1]["maxItems"] < 1000]
            if not arrs:
                return None
            path, sub, _ = r.choice(arrs)
            item = self.gen.value(sub["items"])
            self.set_at(c.body, path, [copy.deepcopy(item) for _ in range(sub["maxItems"] + 1)])
            c.mutation += ":" + ".".join(path)
        elif kind == "not_object":
            c.body = r.choice(([1, 2], 42, "text", None))
            if c.body is None:
                c.body = b"null"
        elif kind == "empty":
            c.body = b""
        elif kind == "content_type":
            c.headers["Content-Type"] = r.choice(("text/plain", "application/xml"))
            c.body = json.dumps(c.body).encode()
        elif kind == "bad_json":
            text = json.dumps(c.body)
            while True:  # a cut and a wrong byte that make it no JSON at all
                cut = r.randint(1, max(1, len(text) - 1))
                bad = text[:cut] + r.choice(("", "}", ",", "\x01", "{\"a\":"))
                try:
                    json.loads(bad)
                except ValueError:
                    break
            c.body = bad.encode()
            c.direct = True
        elif kind == "duplicate_key":
            if not isinstance(c.body, dict) or not c.body:
                return None
            k = next(iter(c.body))
            c.body = ("{" + json.dumps(k) + ":1," + json.dumps(c.body)[1:]).encode()
            c.direct = True
        elif kind == "too_large":
            limit = op.get("x-kagi-body-max-bytes", 0)
            if limit > 1100000:
                return None
            if is_json:
                c.body["zz_pad"] = "a" * limit
            else:
                c.body = b"a" * (limit + 1)
        return c


def encode(body):
    if body is None:
        return None
    if isinstance(body, bytes):
        return body
    return json.dumps(body).encode()


SCHEMA_REFUSAL = re.compile(r'"message":"[^"]*(is required|expected (a|an|true|object|array|integer)'
                            r'|longer than|more than \d+|outside|must not be empty|'
                            r'control character)')


def check_answer(case, status, headers, body, viol, fails):
    where = repr(case)[:600]
    if status >= 500:
        fails.append(f"5xx {status}: {where} -> {body[:300]!r}")
    documented = getattr(case, "documented", None)
    if documented is not None and str(status) not in documented:
        fails.append(f"answer {status} is not documented for {case.op_id} "
                     f"(documented: {sorted(documented)}): {where} -> {body[:300]!r}")
    resp_v = [v for v in viol if v.get("location", [""])[0] == "response"
              and v.get("severity") == "Error"]
    if resp_v:
        fails.append(f"answer {status} off its schema: {where} -> {body[:300]!r}: "
                     f"{json.dumps(resp_v)[:600]}")
    if 400 <= status < 500:
        try:
            j = json.loads(body)
            e = j.get("error")
            ok = isinstance(e, dict) and isinstance(e.get("code"), str) and \
                isinstance(e.get("message"), str) and \
                (e.get("field") is None or isinstance(e.get("field"), str))
        except ValueError:
            ok = False
        if not ok:
            fails.append(f"4xx without the error shape: {where} -> {status} {body[:300]!r}")
    if case.op_id == "decideBatch" and status == 200:
        batch_lines(case, body, fails)
    req_v = [v for v in viol if v.get("location", [""])[0] == "request"
             and v.get("severity") == "Error"]
    if case.mutation == "valid":
        if req_v:
            fails.append(f"a generated valid request is invalid for Prism (fix the generator "
                         f"or the spec): {where}: {json.dumps(req_v)[:600]}")
        if status == 400 and SCHEMA_REFUSAL.search(body.decode("utf-8", "replace")):
            # refused for its form, not its meaning (a wrong code, a policy
            # that does not compile): the spec is looser than the server
            fails.append(f"a request valid per the spec is refused for its form: {where} -> "
                         f"{body[:300]!r}")
    else:
        body_v = [v for v in req_v if len(v.get("location", [])) > 1 and
                  v["location"][1] in ("body", "query", "path")]
        if body_v and status < 400:
            fails.append(f"kagid accepts ({status}) a request the spec calls invalid: {where}: "
                         f"{json.dumps(body_v)[:400]}")


DECISION_KEYS = {"event", "account", "action", "score", "reasons", "shadow"}


def batch_lines(case, body, fails):
    """NDJSON answers are beyond Prism: one line per event line, each a
    Decision or an Error (docs/openapi.yaml decideBatch)."""
    sent = [x for x in (case.body or b"").split(b"\n") if x.strip()]
    got = body.decode("utf-8", "replace").splitlines()
    if len(got) != len(sent):
        fails.append(f"batch: {len(sent)} events, {len(got)} answer lines: {case!r}")
    for line in got:
        try:
            j = json.loads(line)
        except ValueError:
            fails.append(f"batch: an answer line is not JSON: {line[:200]!r}")
            continue
        e = j.get("error")
        if e is not None:
            if not (isinstance(e.get("code"), str) and isinstance(e.get("message"), str)):
                fails.append(f"batch: an error line off the error shape: {line[:200]!r}")
        elif not DECISION_KEYS <= set(j) or j["action"] not in ("allow", "challenge", "hold", "lock"):
            fails.append(f"batch: a line is neither a decision nor an error: {line[:200]!r}")


def check_direct(case, status, headers, body, fails):
    """Bad JSON / duplicate keys, or a redirecting operation, sent to kagid directly."""
    where = repr(case)[:400]
    if case.mutation not in ("bad_json", "duplicate_key"):
        if status >= 500 or str(status) not in case.documented:
            fails.append(f"answer {status} is not documented for {case.op_id} "
                         f"(documented: {sorted(case.documented)}): {where} -> {body[:300]!r}")
        return
    try:
        e = json.loads(body)["error"]
    except (ValueError, KeyError, TypeError):
        fails.append(f"not the error shape: {where} -> {status} {body[:300]!r}")
        return
    if status >= 500:
        fails.append(f"5xx {status}: {where} -> {body[:300]!r}")
    elif status < 400:
        fails.append(f"bad JSON accepted ({status}): {where}")
    elif status == 400 and case.mutation == "bad_json" and case.op_id != "decideEvent" and \
            not (isinstance(e.get("line"), int) and isinstance(e.get("column"), int)):
        fails.append(f"bad JSON without line and column: {where} -> {body[:300]!r}")


def answer_violations_are_seen(spec, k):
    bad = copy.deepcopy(spec)
    health = bad["components"]["schemas"]["Health"]
    health["required"] = health["required"] + ["not_sent_by_kagid"]
    path = os.path.join(k.tmp, "openapi-tampered.json")
    with open(path, "w") as f:
        json.dump(bad, f)
    prism = Prism(k.port, os.path.join(k.tmp, "prism-tampered.log"), spec_path=path)
    try:
        st, h, b = prism.send("GET", "/healthz", None, {})
    finally:
        prism.stop()
    fails = []
    check_answer(Case("healthz", "GET", "/healthz", None, {}, "valid"), st, h, b,
                 violations(h), fails)
    kt.check(any("off its schema" in f for f in fails),
             "an answer off its schema is reported", (st, h.get("sl-violations")))


def run():
    spec = load_spec()
    rng = random.Random(SEED)
    fails = []
    env = {"KAGI_SHOP_PROFILE": kt.data_path("mail", "shop.profile"),
           "KAGI_ACCOUNT_SECRET_KEY": SECRET_KEY}
    with kt.Kagid(env=env) as k:
        fx = Fixtures(k)
        gen = Gen(spec, rng, fx)
        reqs = Requests(spec, gen, fx)
        prism = Prism(k.port, os.path.join(k.tmp, "prism.log"))
        counts = {}
        try:
            n = flagged = 0
            while n < REQUESTS:
                path, method, op = reqs.ops[n % len(reqs.ops)]
                n += 1
                case, role = reqs.make(path, method, op)
                if rng.random() < 0.5:
                    m = reqs.mutate(case, op)
                    case = m or case
                body = encode(case.body)
                if case.direct:
                    st, h, b = prism.send(case.method, case.path, body, case.headers, port=k.port)
                    check_direct(case, st, h, b, fails)
                else:
                    st, h, b = prism.send(case.method, case.path, body, case.headers)
                    if h.get("content-type", "").startswith("application/problem+json"):
                        fails.append(f"Prism answered itself ({st}): {case!r}: {b[:400]!r}")
                    v = violations(h)
                    check_answer(case, st, h, b, v, fails)
                    flagged += any(x.get("location", [""])[0] == "request" for x in v)
                if st == 401 and role in ("customer", "ticket") and case.mutation != "no_key":
                    # a recovery revokes customer tokens, the last unlock the
                    # lock tickets: issue a new one
                    fx.keys[role] = k.key(role, fx.own)
                key = (case.op_id, st)
                counts[key] = counts.get(key, 0) + 1
        finally:
            prism.stop()
        # the checker checks: Prism flagged mutated requests, and flags an
        # answer off its schema (a spec whose Health needs one more field)
        kt.check(flagged > REQUESTS // 10, "Prism reported request violations (sl-violations)",
                 flagged)
        answer_violations_are_seen(spec, k)
        ops_seen = {op for op, _ in counts}
        kt.check(ops_seen == {op["operationId"] for _, _, op in reqs.ops},
                 "every operation was called", sorted(ops_seen))
    print(f"{n} requests (seed {SEED}) over {len(ops_seen)} operations; answers:")
    for op in sorted(ops_seen):
        print(f"  {op}: " + ", ".join(f"{st}×{c}" for (o, st), c in sorted(counts.items()) if o == op))
    if fails:
        for f in fails[:40]:
            print("FAIL:", f, file=sys.stderr)
        raise kt.TestFailure(f"{len(fails)} property failures (first ones above)")


def main():
    kt.main([run])


if __name__ == "__main__":
    main()
