#!/usr/bin/env bash
# What a packager or newcomer types: `cmake -S . -B b -DCMAKE_BUILD_TYPE=Release`
# and a build, without the developer options of the Makefile (KG_DEV). It must
# configure, must not turn warnings into errors, and must build kagi (-O3) with
# no compiler warning at all.
# Usage: plain_release.sh SOURCE_DIR BUILD_DIR
# BUILD_DIR is kept between runs, so a later run compiles only what changed
# (each compiled file is still checked for warnings).
set -euo pipefail
src=$1 dir=$2
mkdir -p "$dir"
log=$dir/plain-release.log
fail() { echo "plain_release: $*" >&2; tail -n 40 "$log" >&2; exit 1; }

# A tree configured before is configured again as a user would, from defaults:
# a cached KG_DEV from an older configure must not hide the default.
rm -f "$dir/CMakeCache.txt"
cmake -S "$src" -B "$dir" -DCMAKE_BUILD_TYPE=Release >"$log" 2>&1 ||
	fail "cmake -DCMAKE_BUILD_TYPE=Release does not configure"
grep -q '^KG_DEV:BOOL=OFF$' "$dir/CMakeCache.txt" || fail "KG_DEV is not off by default"
cmake --build "$dir" --target kagi -j 2 >>"$log" 2>&1 || fail "the Release build fails"
if grep -q -- '-Werror' "$dir/compile_commands.json"; then
	fail "a plain Release build compiles with -Werror"
fi
if grep -E -q 'warning:' "$log"; then
	grep -E 'warning:' "$log" >&2
	fail "the Release build (-O3) warns"
fi
"$dir/kagi" version >/dev/null || fail "the Release kagi does not run"
echo "plain_release: ok"
