#!/usr/bin/env bash
# bench/mail_generalise.sh — the phishing-notice analyser on a development set
# of public mail the signals were not built on (kept outside the repository,
# like the shared corpus): per class and per half (tune / held), the verdicts
# kagi gives with the shipped examples/shops/amazon.profile, beside a previous
# build of kagi when one is given. Not a test: figures only.
#
# usage: bash bench/mail_generalise.sh [BUILD_DIR]       (default build/release)
# env:   DEVMAIL=<dir with labels.tsv>  (default /work/devmail)
#        BEFORE=<path of another kagi binary> to compare with (optional)
#
# labels.tsv: a header line, then "file<TAB>class<TAB>half<TAB>source" with
# file relative to DEVMAIL. Classes: phishing (impersonates the shop or lures
# with its brand: must be judged phishing, never genuine), other_phishing
# (another brand's lure that mentions the shop: not the shop's concern, shown
# for information), legit_* (real mail that is not a lure: must never be
# judged phishing), list_traffic (a list archive's mail with the other spam it
# carried, not labelled one by one: anything judged phishing there is a false
# positive or an unlabelled lure of the shop, listed by file). DEVMAIL/SOURCES.md records where every file came from.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build/release}
[[ $build = /* ]] || build=$here/$build
dev=${DEVMAIL:-/work/devmail}
profile=$here/examples/shops/amazon.profile
kagi=$build/kagi
[[ -f $dev/labels.tsv ]] || { echo "bench/mail_generalise.sh: $dev/labels.tsv not found" >&2; exit 1; }
if [[ ! -x $kagi ]]; then
  cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build" -j 2 --target kagi >/dev/null
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tail -n +2 "$dev/labels.tsv" | awk -F'\t' -v d="$dev" '{print d "/" $1 "\t" $2 "\t" $3}' > "$tmp/files.tsv"
mapfile -t files < <(cut -f1 "$tmp/files.tsv")

run() { # binary out.jsonl; a file kagi cannot analyse answers an error object
  "$1" mail check --shop "$profile" "${files[@]}" > "$2" 2>/dev/null || true
}
run "$kagi" "$tmp/after.jsonl"
before=${BEFORE:-}
if [[ -n $before ]]; then run "$before" "$tmp/before.jsonl"; fi

python3 - "$tmp/files.tsv" "$tmp/after.jsonl" ${before:+"$tmp/before.jsonl"} <<'PY'
import collections, json, sys
lab = {}
for l in open(sys.argv[1], encoding="utf-8"):
    f, c, h = l.rstrip("\n").split("\t")
    lab[f] = (c, h)
def verdicts(path):
    v = {}
    for l in open(path, encoding="utf-8", errors="replace"):
        o = json.loads(l)
        v[o["file"]] = o.get("verdict", "error")
    return v
runs = [("after", verdicts(sys.argv[2]))]
if len(sys.argv) > 3:
    runs.insert(0, ("before", verdicts(sys.argv[3])))
order = ["phishing", "other_phishing", "legit_list", "legit_employee", "legit_newsletter", "list_traffic"]
classes = sorted({c for c, _ in lab.values()}, key=lambda c: (order.index(c) if c in order else 9, c))
kinds = ["phishing", "suspicious", "unrelated", "genuine", "error"]
print("| class | half | messages | " + " | ".join(n for n, _ in runs) + " |")
print("|---|---|---|" + "---|" * len(runs))
for c in classes:
    for h in ["tune", "held", "all"]:
        fs = [f for f, (cc, hh) in lab.items() if cc == c and (h == "all" or hh == h)]
        if not fs:
            continue
        cells = []
        for _, v in runs:
            n = collections.Counter(v.get(f, "error") for f in fs)
            cell = ", ".join("%d %s" % (n[k], k) for k in kinds if n[k])
            if c == "phishing":
                cell = "**%d/%d (%.0f %%) phishing**, %d genuine; %s" % (
                    n["phishing"], len(fs), 100.0 * n["phishing"] / len(fs), n["genuine"], cell)
            elif c.startswith("legit") or c == "list_traffic":
                cell = "**%d phishing**, %d genuine; %s" % (n["phishing"], n["genuine"], cell)
            cells.append(cell)
        print("| %s | %s | %d | %s |" % (c, h, len(fs), " | ".join(cells)))
miss = [f.rsplit("/", 1)[-1] for f, (c, _) in lab.items() if c == "phishing" and runs[-1][1].get(f) != "phishing"]
fp = [f.rsplit("/", 1)[-1] for f, (c, _) in lab.items()
      if (c.startswith("legit") or c == "list_traffic") and runs[-1][1].get(f) == "phishing"]
print()
print("phishing not judged phishing (%s): %s" % (runs[-1][0], " ".join(sorted(miss)) or "none"))
print("legitimate mail judged phishing (%s): %s" % (runs[-1][0], " ".join(sorted(fp)) or "none"))
PY
