#!/usr/bin/env bash
# Group-commit write rate of the store: durable small transactions per
# second (synchronous=FULL) with 1 writer, 16 writers without grouping
# (group_max=1) and 16 writers with group commit; rows per commit in
# batches; pooled snapshot reads per second with 1 and 16 threads. RUNS runs each; medians
# go into docs/BENCHMARKS.md, section "store".
#
#   bash bench/store_group_commit.sh [BUILD_DIR]     (default build/release)
#   RUNS=5 TX1=1000 TX16=8000 to change the sizes.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build/release}
case $build in /*) ;; *) build=$here/$build ;; esac
runs=${RUNS:-5}
tx1=${TX1:-1000}
tx16=${TX16:-8000}

cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j2 --target store_bench >/dev/null
bin=$build/bench/store_bench
# on the same filesystem as the repository: /tmp may be a tmpfs, where
# fsync costs nothing and the figures would mean nothing
out=$here/bench/out
mkdir -p "$out"
db=$out/store_bench.db
trap 'rm -f "$db" "$db-wal" "$db-shm"' EXIT

field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# the configurations run interleaved (one round = each once), so that the
# load of a shared machine drifting over time hits them alike
names=(one nogroup group rows100 rows1000 read1 read16)
declare -A args=([one]="1 $tx1 512 1" [nogroup]="16 $tx1 1 1" [group]="16 $tx16 512 1"
	[rows100]="1 500 512 100" [rows1000]="1 100 512 1000"
	[read1]="1 50000 512 1 --reads" [read16]="16 100000 512 1 --reads")
declare -A t c a rw tps cps grp rps lo hi
load=$(cut -d' ' -f1-3 /proc/loadavg)
echo "store group commit: $runs rounds" >&2
for ((r = 1; r <= runs; r++)); do
	for name in "${names[@]}"; do
		read -r w n g rows extra <<<"${args[$name]}"
		# shellcheck disable=SC2086
		line=$("$bin" --db "$db" --writers "$w" --tx "$n" --group-max "$g" --rows "$rows" $extra)
		echo "  round $r $name: $line" >&2
		t[$name]+="$(echo "$line" | field tx_per_s) "
		c[$name]+="$(echo "$line" | field commits_per_s) "
		a[$name]+="$(echo "$line" | field avg_group) "
		rw[$name]+="$(echo "$line" | field rows_per_s) "
	done
done
for name in "${names[@]}"; do
	tps[$name]=$(printf '%s\n' ${t[$name]} | median)
	cps[$name]=$(printf '%s\n' ${c[$name]} | median)
	grp[$name]=$(printf '%s\n' ${a[$name]} | median)
	rps[$name]=$(printf '%s\n' ${rw[$name]} | median)
	lo[$name]=$(printf '%s\n' ${t[$name]} | sort -n | head -1)
	hi[$name]=$(printf '%s\n' ${t[$name]} | sort -n | tail -1)
done

cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
sqlite=$(pkg-config --modversion sqlite3 2>/dev/null || echo '?')
fs=$(df -T "$out" | awk 'NR==2 {print $2}')
section=$(cat <<EOF
## store — group commit

Durable small write transactions (one ~200-byte event row each) through
\`kg_store_write\`, SQLite $sqlite, WAL, \`synchronous=FULL\`, database on $fs.
Median of $runs interleaved rounds; measured $(date -u +%Y-%m-%d) on $(nproc) cores ($cpu), a
machine shared with other builds (load average $load when it started). The fsync
rate of this disk swings by 10x from one minute to the next (≈3,500 commits/s
on a quiet machine), so compare rows within
one run, not across runs.

| writers | group commit | tx/s (median) | tx/s (min–max) | commits/s = fsyncs | jobs per commit |
|---|---|---|---|---|---|
| 1 | on (nothing to group) | ${tps[one]} | ${lo[one]}–${hi[one]} | ${cps[one]} | ${grp[one]} |
| 16 | off (\`group_max=1\`) | ${tps[nogroup]} | ${lo[nogroup]}–${hi[nogroup]} | ${cps[nogroup]} | ${grp[nogroup]} |
| 16 | on (\`group_max=512\`) | ${tps[group]} | ${lo[group]}–${hi[group]} | ${cps[group]} | ${grp[group]} |

Rows per commit (one writer, one transaction of R event rows, as a batch
of \`POST /v1/events/batch\` is): rows/s, median.

| rows per commit | rows/s | commits/s |
|---|---|---|
| 1 | ${rps[one]} | ${cps[one]} |
| 100 | ${rps[rows100]} | ${cps[rows100]} |
| 1,000 | ${rps[rows1000]} | ${cps[rows1000]} |

Reads (\`kg_store_read\` fetching one of 1,000 accounts by id, pooled read
connections on WAL snapshots): reads/s, median.

| threads | reads/s |
|---|---|
| 1 | ${tps[read1]} |
| 16 | ${tps[read16]} |

With one writer every transaction pays a full fsync, so the rate is the
disk's fsync rate. With 16 writers the writer thread commits everything
that queued up during the previous fsync in one commit, so the transaction
rate grows with concurrency while the fsync rate stays the same.

Command: \`bash bench/store_group_commit.sh\` (RUNS=$runs TX1=$tx1 TX16=$tx16).
EOF
)

doc=$here/docs/BENCHMARKS.md
python3 - "$doc" "$section" <<'PY'
import os, sys
path, body = sys.argv[1], sys.argv[2]
start, end = "<!-- bench:store -->", "<!-- /bench:store -->"
block = f"{start}\n{body}\n{end}"
text = open(path).read() if os.path.exists(path) else "# Benchmarks\n\nEach section is written by its script in bench/; see PROTOCOL.\n"
if start in text and end in text:
    a = text.index(start); b = text.index(end) + len(end)
    text = text[:a] + block + text[b:]
else:
    text = text.rstrip("\n") + "\n\n" + block + "\n"
open(path, "w").write(text)
PY
echo "wrote the store section of $doc" >&2
printf '%s\n' "$section"
