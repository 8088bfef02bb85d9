#!/usr/bin/env bash
# Events per second through kagid with 1, 2 and 4 nodes on one PostgreSQL
# database (issue 16), single events (POST /v1/events) and batches
# (POST /v1/events/batch, BATCH lines each), clients spreading the requests
# over the nodes round robin; in the same run one kagid on a SQLite file as
# the peer (ratios against it). Each configuration on a fresh database;
# RUNS rounds, configurations interleaved, medians into docs/BENCHMARKS.md,
# section "nodes".
#
#   bash bench/nodes.sh [BUILD_DIR]        (default build/release)
#   RUNS=3 SINGLES=3000 BATCHES=40000 BATCH=1000 CLIENTS=8 to change the sizes.
#
# Needs Debian's postgresql (scripts/install-deps.sh test): a server of its
# own is started under bench/out/nodes (scripts/pg-test-server.sh) and
# stopped at the end.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build/release}
case $build in /*) ;; *) build=$here/$build ;; esac
kagi=$build/kagi
[[ -x $kagi ]] || { echo "bench/nodes.sh: $kagi not built (make build)" >&2; exit 1; }
out=$here/bench/out/nodes
rm -rf "$out"
mkdir -p "$out"
cleanup() { bash "$here/scripts/pg-test-server.sh" stop "$out/pg" >/dev/null 2>&1 || true; rm -rf "$out"; }
trap cleanup EXIT
bash "$here/scripts/pg-test-server.sh" start "$out/pg" >&2
"$kagi" simulate --accounts 20000 --days 30 --seed 3 --out "$out/events.ndjson" >&2

KAGI=$kagi OUT=$out HERE=$here python3 - <<'EOF'
import http.client
import json
import os
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.environ["HERE"], "bench"))
import section  # noqa: E402

KAGI, OUT, HERE = os.environ["KAGI"], os.environ["OUT"], os.environ["HERE"]
RUNS = int(os.environ.get("RUNS", "3"))
SINGLES = int(os.environ.get("SINGLES", "3000"))
BATCHES = int(os.environ.get("BATCHES", "40000"))
BATCH = int(os.environ.get("BATCH", "1000"))
CLIENTS = int(os.environ.get("CLIENTS", "8"))
URL = open(os.path.join(OUT, "pg", "url")).read().strip()
ENV = dict(os.environ, KAGI_POLICY_FILE=os.path.join(HERE, "policy", "default.rules"))
lines = open(os.path.join(OUT, "events.ndjson"), encoding="utf-8").read().splitlines()
singles = [x.encode() for x in lines[:SINGLES]]
batched = lines[SINGLES:SINGLES + BATCHES]


def store(kind, tag):
    if kind == "sqlite":
        return os.path.join(OUT, f"{tag}.db")
    name = "nodes_" + tag
    subprocess.run(["psql", "-q", URL, "-c", f"CREATE DATABASE {name}"], check=True)
    return URL.rsplit("/", 1)[0] + "/" + name


def serve(db, n):
    subprocess.run([KAGI, "init", "--db", db], env=ENV, check=True, capture_output=True)
    key = subprocess.run([KAGI, "key", "create", "--db", db, "--role", "service"], env=ENV,
                         check=True, capture_output=True, text=True).stdout.strip()
    procs, ports = [], []
    for i in range(n):
        pf = os.path.join(OUT, f"port{i}")
        if os.path.exists(pf):
            os.unlink(pf)
        log = open(os.path.join(OUT, f"kagid{i}.log"), "ab")
        procs.append(subprocess.Popen([KAGI, "serve", "--db", db, "--listen", "127.0.0.1:0",
                                       "--port-file", pf], env=ENV, stdout=log, stderr=log))
        for _ in range(300):
            if os.path.exists(pf) and open(pf).read().strip():
                break
            time.sleep(0.05)
        ports.append(int(open(pf).read()))
    return procs, ports, key


def load(ports, key, bodies, path, events_per_body):
    """Sends bodies from CLIENTS threads, request k to node k % nodes; the
    wall time from the first send to the last answer, and the non-200s."""
    nxt = [0]
    bad = [0]
    mu = threading.Lock()

    def client():
        try:
            send()
        except Exception as e:  # noqa: BLE001 - a dead client fails the run
            with mu:
                bad.append(repr(e))

    def send():
        conns = {}
        while True:
            with mu:
                k = nxt[0]
                nxt[0] += 1
            if k >= len(bodies):
                break
            port = ports[k % len(ports)]
            hdrs = {"Authorization": f"Bearer {key}",
                    "Content-Type": "application/x-ndjson" if path.endswith("batch")
                    else "application/json"}
            for attempt in range(2):  # a keep-alive connection kagid closed: once more
                c = conns.get(port) or http.client.HTTPConnection("127.0.0.1", port, timeout=300)
                conns[port] = c
                try:
                    c.request("POST", path, bodies[k], hdrs)
                    r = c.getresponse()
                    answer = r.read()
                    break
                except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
                    c.close()
                    conns.pop(port)
                    if attempt:
                        raise
            if r.status != 200:
                with mu:
                    if not bad[0]:
                        print(f"a non-200 answer: {r.status} {answer[:300]!r}", file=sys.stderr)
                    bad[0] += 1
    ts = [threading.Thread(target=client) for _ in range(CLIENTS)]
    t0 = time.monotonic()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if len(bad) > 1:
        sys.exit(f"bench/nodes.sh: a client failed: {bad[1:]}")
    return len(bodies) * events_per_body / (time.monotonic() - t0), bad[0]


configs = [("sqlite", 1), ("postgres", 1), ("postgres", 2), ("postgres", 4)]
res = {(k, n, m): [] for k, n in configs for m in ("single", "batch")}
bad = {}
batch_bodies = [("\n".join(batched[i:i + BATCH]) + "\n").encode()
                for i in range(0, len(batched), BATCH)]
load_start = " ".join(open("/proc/loadavg").read().split()[:3])
for r in range(RUNS):
    for kind, n in configs:
        for mode in ("single", "batch"):
            db = store(kind, f"{kind}{n}{mode}{r}")
            procs, ports, key = serve(db, n)
            try:
                if mode == "single":
                    eps, nb = load(ports, key, singles, "/v1/events", 1)
                else:
                    eps, nb = load(ports, key, batch_bodies, "/v1/events/batch", BATCH)
            finally:
                for p in procs:
                    p.terminate()
                for p in procs:
                    p.wait(60)
            res[(kind, n, mode)].append(eps)
            bad[(kind, n, mode)] = bad.get((kind, n, mode), 0) + nb
            print(f"run {r + 1}: {kind} x{n} {mode}: {eps:,.0f} events/s ({nb} non-200)",
                  file=sys.stderr)

med = {k: statistics.median(v) for k, v in res.items()}
commit = subprocess.run(["git", "-C", HERE, "rev-parse", "--short", "HEAD"], capture_output=True,
                        text=True).stdout.strip()
cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
load_end = " ".join(open("/proc/loadavg").read().split()[:3])
rows = []
for kind, n in configs:
    s, b = med[(kind, n, "single")], med[(kind, n, "batch")]
    rows.append(f"| {'SQLite file' if kind == 'sqlite' else 'PostgreSQL'} | {n} | {s:,.0f} | "
                f"{s / med[('sqlite', 1, 'single')]:.2f} | {b:,.0f} | "
                f"{b / med[('sqlite', 1, 'batch')]:.2f} | "
                f"{bad[(kind, n, 'single')] + bad[(kind, n, 'batch')]} |")
body = f"""<!-- bench:nodes -->
## nodes — events/s with 1, 2 and 4 kagid nodes on one PostgreSQL

- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, commit `{commit}`, machine: {os.cpu_count()} cores, {cpu}, shared (load average {load_start} at the start, {load_end} at the end)
- command: `bash bench/nodes.sh` (RUNS={RUNS}, SINGLES={SINGLES}, BATCHES={BATCHES}, BATCH={BATCH}, CLIENTS={CLIENTS}); events: `kagi simulate --accounts 20000 --days 30 --seed 3`, policy/default.rules; every kagid, PostgreSQL 15 (its own server, default settings, fsync on) and the Python clients on this one machine, over loopback
- single: {SINGLES} events, one `POST /v1/events` each; batch: {BATCHES} events in `POST /v1/events/batch` requests of {BATCH} lines; {CLIENTS} client threads, request k to node k mod N (so one account's events reach several nodes); medians of {RUNS} runs, each on a fresh database; ratio: to one kagid on a SQLite file in the same run

| store | nodes | single events/s | ratio | batch events/s | ratio | non-200 answers |
|---|---:|---:|---:|---:|---:|---:|
""" + "\n".join(rows) + "\n<!-- /bench:nodes -->"
section.write_block(body)
print(body)
EOF
