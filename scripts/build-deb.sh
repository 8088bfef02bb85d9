#!/usr/bin/env bash
# Builds the Debian package (debian/) from the working tree into build/deb/:
# copies the tracked and new files to a scratch folder (dpkg-buildpackage
# writes next to the source tree) and runs dpkg-buildpackage -b there.
# Usage: scripts/build-deb.sh [OUT_DIR]   (default build/deb); prints the .deb path.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=$(realpath -m "${1:-build/deb}")
missing=()
for p in debhelper dpkg-dev fakeroot; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -gt 0 ]]; then
	SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
	echo "build-deb: installing ${missing[*]}" >&2
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/kagi"
git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
	[[ -e $f ]] && printf '%s\0' "$f"
done | tar --null -T - -cf - | tar -xf - -C "$scratch/kagi"
(cd "$scratch/kagi" && DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" \
	dpkg-buildpackage -us -uc -b >"$scratch/build.log" 2>&1) || {
	tail -50 "$scratch/build.log" >&2
	echo "build-deb: dpkg-buildpackage failed" >&2
	exit 1
}
mkdir -p "$OUT"
cp "$scratch"/*.deb "$OUT"/
ls "$OUT"/kagi_*.deb | grep -v dbgsym | tail -1
