#!/usr/bin/env bash
# The lock-wave breaker on simulated shops (issue 12): false trips over the
# normal days, time to trip and locks before the trip for waves of several
# shapes, the revert rate; the detector's computed ARLs. Writes
# docs/BENCHMARKS.md section `guard`. Usage: bench/guard.sh [BUILD_DIR]
# (default build/release). Env: SHOPS ("ACCOUNTS:NORMAL_DAYS ...", default
# "1000:30 100000:30 1000000:1"), WAVE_H (hours of the wave, default 6).
# A wave in a new store's first day: bench/guard_young.py.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build/release}
[ -x "$BUILD/kagi" ] || { echo "no $BUILD/kagi: build first (make build)" >&2; exit 1; }
exec python3 bench/guard.py "$BUILD"
