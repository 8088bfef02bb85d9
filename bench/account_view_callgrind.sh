#!/usr/bin/env bash
# Callgrind instructions of one GET /v1/accounts/{id} (docs/BENCHMARKS.md,
# section "http", session 9): kagid under callgrind with instrumentation
# off, 200 GETs to warm up on one kept-alive connection, then 2,000 counted;
# prints instructions a request for all threads and for kg_api_account_get
# (inclusive). A new store each run (kagi init, one key of ROLE, bench/http.sh's
# one account); the card's time may fall a millisecond after the account's
# (one more time text), so the store's times are printed too.
#
#   bash bench/account_view_callgrind.sh KAGI_BINARY [agent|admin]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=$1 role=${2:-agent}
d=$(mktemp -d /tmp/kagi-view-cg.XXXXXX)
db=$d/kagi.db
cd "$here"
"$bin" init --db "$db" >/dev/null
key=$("$bin" key create --db "$db" --role "$role")
"$bin" account create --db "$db" --id bench-1 --name "山田 太郎" --email b1@example.jp \
	--postal-code 150-0001 --region 東京都 --city 渋谷区 --line1 "神宮前1-2-3" --country JP \
	--card "TARO YAMADA|4242|12/29|fp-b1" >/dev/null
port=$((20000 + RANDOM % 20000))
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$d/cg.%p.out" \
	"$bin" serve --db "$db" --listen 127.0.0.1:$port >"$d/log" 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true' EXIT
python3 - $port "$key" $pid <<'PY'
import http.client, subprocess, sys, time
port, key, pid = int(sys.argv[1]), sys.argv[2], sys.argv[3]
for _ in range(600):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60); c.request("GET", "/healthz"); c.getresponse().read(); break
    except OSError:
        time.sleep(0.1)
h = {"Authorization": "Bearer " + key}
def get(n):
    for _ in range(n):
        c.request("GET", "/v1/accounts/bench-1", headers=h); r = c.getresponse(); b = r.read()
        assert r.status == 200, (r.status, b)
get(200)
subprocess.run(["callgrind_control", "-i", "on", pid], check=True, capture_output=True)
get(2000)
subprocess.run(["callgrind_control", "-i", "off", pid], check=True, capture_output=True)
PY
kill -TERM $pid
wait $pid || true
trap - EXIT
out=$d/cg.$pid.out
total=$(awk '/^totals:/ {print $2}' "$out")
handler=$(callgrind_annotate --inclusive=yes "$out" 2>/dev/null | awk '/kg_api_account_get/ {gsub(",", "", $1); print $1; exit}')
times=$(sqlite3 "$db" "SELECT a.created_ms, c.created_ms FROM accounts a JOIN account_cards c ON c.account_id = a.id")
printf '%s %s: all %.1fk, kg_api_account_get %.1fk instructions a request (account|card ms %s; %s)\n' \
	"$bin" "$role" "$(echo "$total / 2000000" | bc -l)" "$(echo "$handler / 2000000" | bc -l)" "$times" "$out"
