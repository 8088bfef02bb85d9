#!/usr/bin/env bash
# The login gate and password reset under load (wrk), with the default Argon2id
# parameters (password.argon2_ops 2, argon2_mem_kib 19456): right password,
# wrong password, unknown email — the last two must cost the same (a dummy hash
# is verified for unknown emails) — and recovery start for known and unknown
# emails. Every wrong try goes to a different account or email so the
# 10-per-15-minutes throttle does not answer instead of Argon2id.
# Writes its figures into docs/BENCHMARKS.md, section "account-login".
#
#   bash bench/account_login.sh [BUILD_DIR]     (default build/release)
#   DURATION=5 CONNS=8 to change the load.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
source "$here/bench/lib.sh"
bench_init account_login "${1:-}"
dur=${DURATION:-5}
conns=${CONNS:-8}
naccounts=${ACCOUNTS:-60}
export KAGI_LOG_LEVEL=warn
export KAGI_ACCOUNT_SECRET_KEY=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')

"$kagi" init --db "$out/kagi.db" >/dev/null
svc=$("$kagi" key create --db "$out/kagi.db" --role service)
echo "creating $naccounts accounts" >&2
for i in $(seq 0 $((naccounts - 1))); do
	"$kagi" account create --db "$out/kagi.db" --id "b-$i" --name "Bench $i" --email "b$i@example.jp" \
		--postal-code 150-0001 --region Tokyo --city Shibuya --line1 "1-2-3" --country JP \
		--password "bench password $i" --card "BENCH|4242|12/29|fp-$i" >/dev/null
done
bench_serve

cat >"$out/login.lua" <<'LUA'
-- MODE: right | wrong | unknown | reset_known | reset_unknown
local n = 0
local mode = os.getenv("MODE")
local key = os.getenv("KEY")
local accounts = tonumber(os.getenv("ACCOUNTS"))
function setup(thread) thread:set("tid", tostring(math.random(1, 1000000000))) end
request = function()
	n = n + 1
	local i = (tonumber(tid) + n) % accounts
	local path, body = "/v1/login", nil
	if mode == "right" then
		body = '{"email":"b' .. i .. '@example.jp","password":"bench password ' .. i .. '","ip":"10.0.0.1","device_id":"d"}'
	elseif mode == "wrong" then
		-- a fresh IP per try: the per-email+IP throttle must not answer
		body = '{"email":"b' .. i .. '@example.jp","password":"wrong","ip":"10.' .. tid % 250 .. '.' .. n % 250 .. '.' .. math.floor(n / 250) % 250 .. '","device_id":"d"}'
	elseif mode == "unknown" then
		body = '{"email":"nobody-' .. tid .. '-' .. n .. '@example.jp","password":"wrong","ip":"10.0.0.1","device_id":"d"}'
	elseif mode == "reset_known" then
		path = "/v1/recovery/start"
		body = '{"email":"b' .. i .. '@example.jp"}'
	else
		path = "/v1/recovery/start"
		body = '{"email":"nobody-' .. tid .. '-' .. n .. '@example.jp"}'
	end
	return wrk.format("POST", path, {["Content-Type"] = "application/json",
		["Authorization"] = "Bearer " .. key}, body)
end
LUA

declare -a rows
run() { # label mode
	local label=$1
	export MODE=$2 KEY=$svc ACCOUNTS=$naccounts
	local res
	res=$(wrk -t2 -c"$conns" -d"${dur}s" --latency -s "$out/login.lua" "http://127.0.0.1:$port/" 2>&1)
	local rps p50 p99 codes
	IFS='|' read -r rps p50 p99 codes <<<"$(bench_wrk_figures "$res")"
	echo "  $label: $rps req/s p50 $p50 p99 $p99 non-2xx $codes" >&2
	rows+=("| $label | $rps | $p50 | $p99 | $codes |")
}

echo "login gate, ${dur}s per run, $conns connections" >&2
run "login, right password (200, token)" right
run "login, wrong password (401)" wrong
run "login, unknown email (401)" unknown
run "recovery start, known email (202, code mailed)" reset_known
run "recovery start, unknown email (202)" reset_unknown
bench_stop

section=$(
	cat <<EOT
## account-login — the login gate and password reset (wrk)

- $(bench_machine)
- command: \`bash bench/account_login.sh\` (DURATION=$dur CONNS=$conns, $naccounts accounts): release build, default Argon2id (2 passes, 19 MiB), http.threads default; wrk -t2 on the same machine
- every wrong try uses another account/IP or email, so Argon2id answers, not the throttle; wrk counts the 401 answers as non-2xx

| request | req/s | p50 | p99 | non-2xx |
|---|---|---|---|---|
$(printf '%s\n' "${rows[@]}")

A wrong password and an unknown email do the same work: both verify one
Argon2id hash (the unknown one against a dummy hash) and write one failure
counter; the gap between their rows is the noise of a shared, loaded machine.
Argon2id bounds the rate: about 2 cores / (2 passes over 19 MiB).
Recovery start hashes a fresh code for every email, known or not; for a known
one it also writes the code, the message-center entry and the sealed mail.
EOT
)
bench_write_section account-login "$section"
