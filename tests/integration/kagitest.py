"""Shared helper of kagi's integration tests (Python 3 stdlib only).

Starts kagid (`kagi serve`, the binary named by env KAGI_BIN) on a temp SQLite
file and a free loopback port, makes API keys with `kagi key create`, talks
JSON over HTTP, and stops it with SIGTERM checking the exit code. Always
kills the process on failure.

    import kagitest as kt

    with kt.Kagid() as k:                       # started, /healthz answered
        svc = k.key("service")                  # a new API key of that role
        r = k.request("POST", "/v1/accounts", {"name": ...}, key=svc)
        kt.check(r.status == 201, "create", r)
        r.json["id"]
    # leaving the block: SIGTERM, exit status 0 required (raises otherwise)

Environment: KAGI_BIN (required), KG_TEST_DATA, KG_SOURCE_DIR.
Set KG_TEST_KEEP=1 to keep temp dirs; kagid's log is printed on failure.
KAGI_TEST_STORE=postgresql://... (or KAGI_TEST_STORE_FILE, a file holding
that URL, as scripts/pg-test-server.sh writes it): every Kagid() without a
db of its own gets a fresh database on that PostgreSQL server instead of a
SQLite file (the second ctest pass over the integration tests, integ_pg.*).
Read rows with k.rows(sql, *params) / kt.query(db, sql, params) and check a
store with kt.integrity(db): both work on either backend (? placeholders).
"""
import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time

KAGI_BIN = os.environ.get("KAGI_BIN", "")
TEST_DATA = os.environ.get("KG_TEST_DATA", "")
SOURCE_DIR = os.environ.get("KG_SOURCE_DIR", "")
ROLES = ("service", "agent", "admin", "customer", "ticket")
START_TIMEOUT_S = 60  # ASan builds start slowly on a busy machine

# Settings that keep tests fast: cheap Argon2 parameters.
FAST_ENV = {
    "KAGI_PASSWORD_ARGON2_OPS": "1",
    "KAGI_PASSWORD_ARGON2_MEM_KIB": "64",
}
# kagid runs in the build directory: the policy file by absolute path.
if SOURCE_DIR:
    FAST_ENV["KAGI_POLICY_FILE"] = os.path.join(SOURCE_DIR, "policy", "default.rules")


class TestFailure(AssertionError):
    pass


def check(cond, what, detail=None):
    """Raises TestFailure(what: detail) unless cond."""
    if not cond:
        raise TestFailure(f"{what}: {detail!r}" if detail is not None else what)


# For tests that report every failed expectation rather than stop at the
# first: expect() records into failures; the test exits non-zero when any.
failures = []


def expect(cond, what):
    """Records what (and prints it) unless cond; see failures."""
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)


def data_path(*parts):
    return os.path.join(TEST_DATA, *parts)


def kagi(*args, env=None, input=None, check_rc=True, timeout=120):
    """Runs `kagi ARGS...`; returns CompletedProcess (text). check_rc: the
    exit status must be 0."""
    check(KAGI_BIN, "KAGI_BIN is not set")
    e = dict(os.environ)
    e.update(FAST_ENV)
    e.update(env or {})
    p = subprocess.run([KAGI_BIN, *args], capture_output=True, text=True, env=e,
                       input=input, timeout=timeout)
    if check_rc and p.returncode != 0:
        raise TestFailure(f"kagi {' '.join(args)} exited {p.returncode}: {p.stderr.strip()}")
    return p


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body
        self.json = None
        if body and headers.get("content-type", "").startswith("application/json"):
            try:
                self.json = json.loads(body)
            except ValueError:
                pass

    def error(self):
        """The {"code","message","field"} object of an error answer, or {}."""
        return (self.json or {}).get("error") or {}

    def __repr__(self):
        text = self.body[:400].decode("utf-8", "replace") if self.body else ""
        return f"<HTTP {self.status} {text}>"


def test_store():
    """A fresh database on the PostgreSQL server of KAGI_TEST_STORE (or the
    URL in the file KAGI_TEST_STORE_FILE), as a URL; None when neither is
    set (the tests then use SQLite files)."""
    url = os.environ.get("KAGI_TEST_STORE")
    if not url and os.environ.get("KAGI_TEST_STORE_FILE"):
        with open(os.environ["KAGI_TEST_STORE_FILE"], encoding="utf-8") as f:
            url = f.read().strip()
    if not url:
        return None
    name = "kagi_" + os.urandom(8).hex()
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", url, "-c", f"CREATE DATABASE {name}"],
                   check=True, stdout=subprocess.DEVNULL)
    return url.rsplit("/", 1)[0] + "/" + name


class Kagid:
    """One kagid process on a temp directory. Use as a context manager, or
    call start()/stop() and cleanup() yourself."""

    def __init__(self, db=None, env=None, config=None, threads=None, tmpdir=None):
        self.tmp = tmpdir or tempfile.mkdtemp(prefix="kagitest-")
        self.own_tmp = tmpdir is None
        self.db = db or test_store() or os.path.join(self.tmp, "kagi.db")
        self.env = dict(FAST_ENV)
        if threads:
            self.env["KAGI_HTTP_THREADS"] = str(threads)
        self.env.update(env or {})
        self.config = config
        self.proc = None
        self.port = None
        self.log_path = None
        self.starts = 0

    # ---- lifecycle --------------------------------------------------------
    def start(self, env=None):
        check(KAGI_BIN, "KAGI_BIN is not set")
        check(self.proc is None, "kagid already running")
        self.starts += 1
        self.log_path = os.path.join(self.tmp, f"kagid.{self.starts}.log")
        port_file = os.path.join(self.tmp, f"port.{self.starts}")
        e = dict(os.environ)
        e.update(self.env)
        e.update(env or {})
        args = [KAGI_BIN, "serve", "--db", self.db, "--listen", "127.0.0.1:0",
                "--port-file", port_file]
        if self.config:
            args += ["--config", self.config]
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT, env=e)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.proc = None
                raise TestFailure(f"kagid exited at start:\n{self.log()}")
            if os.path.exists(port_file):
                with open(port_file) as f:
                    self.port = int(f.read().strip())
                try:
                    if self.request("GET", "/healthz").status == 200:
                        return self
                except OSError:
                    pass
            time.sleep(0.05)
        self.kill()
        raise TestFailure(f"kagid did not answer /healthz in {START_TIMEOUT_S}s:\n{self.log()}")

    def stop(self, sig=signal.SIGTERM, timeout=60, expect_rc=0):
        """Signals kagid and waits; checks the exit status (None: don't)."""
        if not self.proc:
            return None
        self.proc.send_signal(sig)
        rc = self.wait(timeout, f"of {sig!r}")
        if expect_rc is not None and rc != expect_rc:
            raise TestFailure(f"kagid exited {rc}, expected {expect_rc}:\n{self.log()}")
        return rc

    def wait(self, timeout=60, after="a signal"):
        """Waits for kagid to exit (signalled by stop() or by the test itself);
        returns its exit status, kills it and fails when it takes longer."""
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise TestFailure(f"kagid did not exit within {timeout}s {after}:\n{self.log()}")
        self.proc = None
        self._log.close()
        return rc

    def kill(self):
        """SIGKILL, no questions asked (a crash)."""
        if self.proc:
            try:
                self.proc.kill()
                self.proc.wait(30)
            except (OSError, subprocess.TimeoutExpired):
                pass
            self.proc = None
            self._log.close()

    def restart(self, env=None):
        self.stop()
        return self.start(env)

    def cleanup(self):
        self.kill()
        if self.own_tmp and not os.environ.get("KG_TEST_KEEP"):
            shutil.rmtree(self.tmp, ignore_errors=True)

    def log(self, tail=200):
        if not self.log_path or not os.path.exists(self.log_path):
            return ""
        with open(self.log_path, "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
        return "\n".join(lines[-tail:])

    def failure_log(self, access_tail=20, other_tail=100):
        """kagid's log as a failure prints it: its lines other than the
        access log (warnings, errors, start-up) and only the last few
        access-log lines, so the failure's own message is not buried in
        thousands of requests."""
        if not self.log_path or not os.path.exists(self.log_path):
            return ""
        with open(self.log_path, "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
        access = [line for line in lines if '"component":"access"' in line]
        other = [line for line in lines if '"component":"access"' not in line]
        return "\n".join(other[-other_tail:] +
                         [f"-- {len(access)} access-log lines, the last {min(access_tail, len(access))}:"] +
                         access[-access_tail:])

    @contextlib.contextmanager
    def managed(self):
        """For tests that start, kill and restart kagid themselves: yields self
        as it is; on a failure prints kagid's log; always kills kagid and
        removes the temp dir (unlike `with Kagid()`, no start, no stop check)."""
        try:
            yield self
        except BaseException as e:
            print(f"---- kagid log ({self.log_path}) ----\n{self.failure_log()}\n---- the failure: {e}",
                  flush=True)
            raise
        finally:
            self.cleanup()

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.cleanup()
            raise

    def __exit__(self, etype, exc, tb):
        try:
            if etype is None:
                self.stop()
            else:
                sys.stderr.write(f"---- kagid log ({self.log_path}) ----\n{self.failure_log()}\n")
        finally:
            self.cleanup()
        return False

    # ---- the store, read directly (SQLite file or PostgreSQL) ---------------
    def rows(self, sql, *params):
        """query(self.db, sql, params): the rows of a SELECT on this store."""
        return query(self.db, sql, params)

    def execute(self, sql, *params):
        """execute(self.db, sql, params): one committed statement."""
        execute(self.db, sql, params)

    # ---- CLI on this store -------------------------------------------------
    def kagi(self, *args, **kw):
        env = dict(self.env)
        env.update(kw.pop("env", None) or {})
        return kagi(*args, env=env, **kw)

    def key(self, role, account=None, label=None, ttl=None):
        """A new credential of role (customer/ticket: bound to account)."""
        args = ["key", "create", "--db", self.db, "--role", role]
        if account:
            args += ["--account", account]
        if label:
            args += ["--label", label]
        if ttl:
            args += ["--ttl", str(ttl)]
        return self.kagi(*args).stdout.strip()

    def keys(self, account):
        """One credential per role; customer and ticket bound to account."""
        return {r: self.key(r, account if r in ("customer", "ticket") else None) for r in ROLES}

    # ---- HTTP --------------------------------------------------------------
    def request(self, method, path, body=None, key=None, headers=None, raw=None,
                content_type=None, timeout=60):
        """One request on a fresh connection. body: JSON-encoded (and
        content type application/json) unless raw bytes are given."""
        h = dict(headers or {})
        data = None
        if raw is not None:
            data = raw if isinstance(raw, bytes) else raw.encode()
            if content_type:
                h["Content-Type"] = content_type
        elif body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = content_type or "application/json"
        if key:
            h["Authorization"] = f"Bearer {key}"
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=data, headers=h)
            r = conn.getresponse()
            return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
        finally:
            conn.close()

    def raw(self, data, rest=False, timeout=60):
        """Sends data (bytes: one or more requests, exactly as given) on a
        fresh socket, half-closes it and reads one answer. Returns (Response,
        bytes): with rest, every byte that came after that answer until kagid
        closed the connection (b"" when it answered nothing else; the socket
        timeout when it never closes); else b"" without waiting."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        try:
            try:
                s.sendall(data)
                s.shutdown(socket.SHUT_WR)
            except OSError:
                pass  # kagid may answer and close before reading it all
            buf = b""
            while b"\r\n\r\n" not in buf:
                b = s.recv(65536)
                check(b, "connection closed before an answer", buf)
                buf += b
            head, _, rest_bytes = buf.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            check(lines[0].startswith("HTTP/1."), "status line", lines[0])
            status = int(lines[0].split()[1])
            headers = {}
            for h in lines[1:]:
                name, _, value = h.partition(":")
                headers[name.strip().lower()] = value.strip()
            n = int(headers.get("content-length", "0"))
            while len(rest_bytes) < n:
                b = s.recv(65536)
                check(b, "connection closed in the body", rest_bytes)
                rest_bytes += b
            body, more = rest_bytes[:n], rest_bytes[n:]
            while rest:
                b = s.recv(65536)
                if not b:
                    break
                more += b
            return Response(status, headers, body), more if rest else b""
        finally:
            s.close()

    def get(self, path, key=None, **kw):
        return self.request("GET", path, key=key, **kw)

    def post(self, path, body=None, key=None, **kw):
        return self.request("POST", path, body, key=key, **kw)


def replay(path, db=None, batch=None, env=None):
    """`kagi replay` of the NDJSON file path through the default policy, in
    memory or into db (batch events per group commit); returns the finished
    process (text: one decision per line on stdout). The exit status is the
    caller's to check: failures are what some tests are about."""
    args = ["replay", "--policy", os.path.join(SOURCE_DIR, "policy", "default.rules")]
    if db:
        args += ["--db", db]
    if batch:
        args += ["--batch", str(batch)]
    return kagi(*args, path, env=env, check_rc=False, timeout=600)


def replay_lines(path, db=None, batch=None):
    """replay() that is expected to succeed (a failed expectation if not):
    its decision lines."""
    p = replay(path, db, batch)
    expect(p.returncode == 0, f"replay {path} db={db} batch={batch}: {p.stderr}")
    return p.stdout.splitlines()


def without_lock_ids(lines):
    """Decision lines as objects with lock.id dropped: a lock's id is new in
    every store, so decisions of two runs compare without it."""
    out = []
    for x in lines:
        d = json.loads(x)
        if "lock" in d:
            d["lock"].pop("id")
        out.append(d)
    return out


def is_pg(db):
    """True when the store db is a PostgreSQL URL (else a SQLite file)."""
    return db.startswith(("postgresql://", "postgres://"))


def _pg_literal(v):
    """v as a PostgreSQL literal (the value of one ? placeholder)."""
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, (bytes, bytearray)):
        return f"'\\x{bytes(v).hex()}'::bytea"
    return "'" + str(v).replace("'", "''") + "'"


def _pg_sql(sql, params):
    """sql with each ? placeholder (outside quotes) replaced by the literal of
    the next of params: the SQLite placeholder style, for psql."""
    out, params, quote = [], list(params), None
    for ch in sql:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "?":
            check(params, "more ? than parameters", sql)
            out.append(_pg_literal(params.pop(0)))
            continue
        out.append(ch)
    check(not params, "more parameters than ?", sql)
    return "".join(out)


def _psql(db, sql):
    p = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", db, "-c", sql],
                       capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise TestFailure(f"psql {sql!r}: {p.stderr.strip()}")
    return p.stdout


def _pg_value(v):
    # to_json writes a BYTEA as the string "\x<hex>": back to bytes, as
    # sqlite3 returns a BLOB
    if isinstance(v, str) and v.startswith("\\x"):
        try:
            return bytes.fromhex(v[2:])
        except ValueError:
            return v
    return v


def query(db, sql, params=()):
    """The rows (tuples, in the query's column order) of the SELECT sql on
    the store db, a SQLite file or a PostgreSQL URL, with ? placeholders
    bound to params. Values as sqlite3 gives them: int, float, str, bytes,
    None. No ORDER BY means no order on PostgreSQL: say it in sql."""
    if not is_pg(db):
        with contextlib.closing(sqlite3.connect(db, timeout=30)) as c:
            return c.execute(sql, tuple(params)).fetchall()
    wrapped = f"SELECT to_json(q) FROM ({_pg_sql(sql, params)}) q"
    rows = []
    for line in _psql(db, wrapped).splitlines():
        pairs = json.loads(line, object_pairs_hook=lambda kv: kv)  # keeps duplicate names
        rows.append(tuple(_pg_value(v) for _, v in pairs))
    return rows


def execute(db, sql, params=()):
    """Runs the statement sql (an UPDATE, DELETE, ...) on the store db, a
    SQLite file or a PostgreSQL URL, ? placeholders bound to params, and
    commits it."""
    if not is_pg(db):
        with contextlib.closing(sqlite3.connect(db, timeout=30)) as c:
            c.execute(sql, tuple(params))
            c.commit()
        return
    _psql(db, _pg_sql(sql, params))


def dump(db):
    """Every row of the store db as SQL text: sqlite3's iterdump of a SQLite
    file, pg_dump of a PostgreSQL database."""
    if not is_pg(db):
        with contextlib.closing(sqlite3.connect(db, timeout=30)) as c:
            return "\n".join(c.iterdump())
    p = subprocess.run(["pg_dump", "--no-owner", db], capture_output=True, text=True, timeout=120)
    check(p.returncode == 0, "pg_dump", p.stderr)
    return p.stdout


def integrity(db):
    """[("ok",)] when the store db is sound, else the problems found, one
    tuple each. SQLite: the rows of PRAGMA integrity_check. PostgreSQL (no
    such pragma; the server's own crash recovery is what keeps its files
    sound): amcheck's bt_index_check over every index of the store and
    heapam's check of every table (verify_heapam), plus the audit chains
    (`kagi audit verify`)."""
    if not is_pg(db):
        with contextlib.closing(sqlite3.connect(db, timeout=30)) as c:
            return c.execute("PRAGMA integrity_check").fetchall()
    _psql(db, "CREATE EXTENSION IF NOT EXISTS amcheck")
    _psql(db, PG_INDEX_CHECK)
    bad = [(line,) for line in _psql(db, PG_HEAP_CHECK).splitlines() if line]
    p = kagi("audit", "verify", "--db", db, check_rc=False)
    if p.returncode != 0 or "intact" not in p.stdout:
        bad.append((f"kagi audit verify exited {p.returncode}: {p.stdout}{p.stderr}".strip(),))
    return bad or [("ok",)]


# Every B-tree index of the public schema checked (a corrupt one makes
# the query fail, which _psql raises), and every table's heap: one line
# per corrupt tuple.
PG_INDEX_CHECK = """
SELECT count(bt_index_check(c.oid)) FROM pg_index i
  JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam
  JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE a.amname = 'btree' AND n.nspname = 'public'
"""
PG_HEAP_CHECK = """
SELECT t.relname || ' block ' || v.blkno || ': ' || v.msg
  FROM pg_class t JOIN pg_namespace n ON n.oid = t.relnamespace,
  LATERAL verify_heapam(t.oid) v
  WHERE t.relkind = 'r' AND n.nspname = 'public';
"""


def demo_account(i=0, **over):
    """A valid POST /v1/accounts body; i makes id and email unique."""
    acc = {
        "id": f"acc-{i}",
        "name": "山田 太郎" if i % 2 == 0 else "Alice Smith",
        "email": f"user{i}@example.jp",
        "address": {"postal_code": "150-0001", "region": "東京都", "city": "渋谷区",
                    "line1": "神宮前1-2-3", "country": "JP"},
        "cards": [{"holder_name": "TARO YAMADA", "last4": "4242", "exp": "12/29",
                   "fingerprint": f"fp-{i}"}],
    }
    acc.update(over)
    return acc


def main(tests):
    """Runs test functions in order; exits non-zero on the first failure."""
    for t in tests:
        started = time.monotonic()
        try:
            t()
        except Exception as e:  # noqa: BLE001 - report and fail
            print(f"FAIL {t.__name__}: {type(e).__name__}: {e}", file=sys.stderr)
            sys.exit(1)
        print(f"ok   {t.__name__} ({time.monotonic() - started:.1f}s)")
