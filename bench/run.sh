#!/usr/bin/env bash
# Runs the benchmarks one after another (`make bench`); each writes its own
# section of docs/BENCHMARKS.md. Usage: bash bench/run.sh [BUILD_DIR]
# (default build/release). BENCHES="risk_replay mail" picks some; a failing
# benchmark is reported and the others still run.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build/release}
ALL="store_group_commit risk_replay risk_hot_account event_parse risk_detection risk_peer http account_login notify mail"
failed=
for b in ${BENCHES:-$ALL}; do
	echo "== bench/$b ($(date -u +%H:%M:%S))" >&2
	if [[ -f bench/$b.sh ]]; then
		bash "bench/$b.sh" "$BUILD" || failed="$failed $b"
	elif [[ -f bench/$b.py ]]; then
		python3 "bench/$b.py" "$BUILD" || failed="$failed $b"
	else
		echo "bench/run.sh: no benchmark \"$b\"" >&2
		failed="$failed $b"
	fi
done
[[ -z $failed ]] || { echo "bench/run.sh: failed:$failed" >&2; exit 1; }
