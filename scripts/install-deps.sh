#!/usr/bin/env bash
# Installs the Debian packages kagi needs to build, test and run, when missing.
# Idempotent: does nothing when every package is present. Runs as root or via sudo.
set -euo pipefail

BUILD_PKGS=(build-essential cmake pkg-config
  libmicrohttpd-dev libjansson-dev libjsmn-dev libsqlite3-dev libpq-dev libsodium-dev
  libssl-dev libgmime-3.0-dev libicu-dev libidn2-dev libpsl-dev libopendkim-dev
  libcurl4-openssl-dev libcmocka-dev sqlite3 python3 python3-yaml
  openssl)   # openssl: make run's DKIM key (scripts/run.sh), the tests' DKIM keys
# python3-yaml: docs/openapi.yaml to JSON at build time
# postfix: its smtp-sink is a real SMTP listener for tests;
# nodejs/npm: the third-party checkers of package.json (npm ci below)
# chromium (+ a Japanese font for its screenshots): the console's browser tests
# prometheus: its promtool checks /metrics and docs/prometheus-alerts.yml
# postgresql: a real server for the PostgreSQL backend's tests (scripts/pg-test-server.sh)
TEST_PKGS=(postfix nodejs npm chromium fonts-ipafont-gothic prometheus postgresql)
BENCH_PKGS=(wrk hyperfine rspamd fail2ban)
FUZZ_PKGS=(clang libclang-rt-14-dev)

want=("${BUILD_PKGS[@]}")
case "${1:-build}" in
  build) ;;
  test) want+=("${TEST_PKGS[@]}" "${FUZZ_PKGS[@]}") ;;   # make test fuzzes briefly
  bench) want+=("${TEST_PKGS[@]}" "${FUZZ_PKGS[@]}" "${BENCH_PKGS[@]}") ;;
  fuzz) want+=("${FUZZ_PKGS[@]}") ;;
  *) echo "usage: $0 [build|test|bench|fuzz]" >&2; exit 2 ;;
esac

# The npm packages of package.json (test tools), when the lock file is newer
# than what node_modules holds. Node.js and npm may come from Debian or be on
# the machine already.
npm_deps() {
  [[ ${1:-build} == test || ${1:-build} == bench ]] || return 0
  local stamp=node_modules/.package-lock.json
  if [[ -f $stamp && $stamp -nt package-lock.json ]]; then return 0; fi
  echo "install-deps: npm ci (package-lock.json)" >&2
  npm ci --no-audit --no-fund --loglevel=error
}
cd "$(dirname "$0")/.."

have() { command -v "$1" >/dev/null 2>&1; }
missing=()
for p in "${want[@]}"; do
  case $p in  # a Node.js the machine already has will do
    nodejs) have node && continue ;;
    npm) have npm && continue ;;
  esac
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -eq 0 ]]; then npm_deps "${1:-build}"; exit 0; fi

SUDO=""
[[ $(id -u) -ne 0 ]] && SUDO="sudo"
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# postfix asks questions unless told; we only use its smtp-sink tool.
echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections 2>/dev/null || true
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
npm_deps "${1:-build}"
