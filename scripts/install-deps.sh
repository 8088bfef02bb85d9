#!/usr/bin/env bash
# Installs the Debian packages kagi needs to build, test and run, when missing.
# Idempotent: does nothing when every package is present. Runs as root or via sudo.
set -euo pipefail

BUILD_PKGS=(build-essential cmake pkg-config
  libmicrohttpd-dev libjansson-dev libjsmn-dev libsqlite3-dev libpq-dev libsodium-dev
  libssl-dev libgmime-3.0-dev libicu-dev libidn2-dev libpsl-dev libopendkim-dev
  libcurl4-openssl-dev libcmocka-dev sqlite3 python3
  openssl)   # openssl: make run's DKIM key (scripts/run.sh), the tests' DKIM keys
TEST_PKGS=(postfix postgresql)   # postfix: its smtp-sink is a real SMTP listener for tests;
  # postgresql: a real server for the PostgreSQL backend's tests (scripts/pg-test-server.sh)
BENCH_PKGS=(wrk hyperfine rspamd fail2ban)
FUZZ_PKGS=(clang libclang-rt-14-dev)

want=("${BUILD_PKGS[@]}")
case "${1:-build}" in
  build) ;;
  test) want+=("${TEST_PKGS[@]}") ;;
  bench) want+=("${TEST_PKGS[@]}" "${BENCH_PKGS[@]}") ;;
  fuzz) want+=("${FUZZ_PKGS[@]}") ;;
  *) echo "usage: $0 [build|test|bench|fuzz]" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

SUDO=""
[[ $(id -u) -ne 0 ]] && SUDO="sudo"
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# postfix asks questions unless told; we only use its smtp-sink tool.
echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections 2>/dev/null || true
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
