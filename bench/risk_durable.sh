#!/usr/bin/env bash
# Durable replay speed of several builds in one sitting (issue 13's
# 150,000 events/s): `kagi replay --db F --batch N --quiet --stats` of one
# `kagi simulate` stream into a fresh SQLite file, each build with the
# policy/default.rules of its own source tree, rounds alternating the
# builds (the machine's noise moves every build alike within a round);
# prints per build the events per second of every round, their median, the
# ratio to the first build, and the medians of the CPU seconds of the
# replay's two busy threads (the deciding thread: the process's first; the
# store's writer: the busiest of the others), read from /proc while it
# runs. Prints only (the numbers go into docs/BENCHMARKS.md by hand).
#
#   bash bench/risk_durable.sh SRC_DIR:BUILD_DIR [SRC_DIR:BUILD_DIR ...]
#   ACCOUNTS (100000) DAYS (30) SEED (1) ROUNDS (5) BATCH (100000) EVENTS
#   (a stream file to use instead of simulating one) DIR (where the
#   databases go: a temporary directory under /tmp)
set -euo pipefail
[[ $# -ge 1 ]] || { echo "usage: bench/risk_durable.sh SRC:BUILD [SRC:BUILD ...]" >&2; exit 1; }
accounts=${ACCOUNTS:-100000}
days=${DAYS:-30}
seed=${SEED:-1}
rounds=${ROUNDS:-5}
batch=${BATCH:-100000}
out=$(mktemp -d "${DIR:-/tmp}/risk_durable.XXXXXX")
trap 'rm -rf "$out"' EXIT
first_bin=${1#*:}/kagi
ev=${EVENTS:-}
if [[ -z $ev ]]; then
	ev=$out/ev.ndjson
	"$first_bin" simulate --accounts "$accounts" --days "$days" --seed "$seed" --out "$ev" 2>/dev/null
fi
for ((r = 1; r <= rounds; r++)); do
	for i in $(seq 1 $#); do
		spec=${!i}
		src=${spec%%:*}
		bin=${spec#*:}/kagi
		rm -f "$out"/db*
		python3 - "$out/b$i.json" "$bin" replay --db "$out/db" --batch "$batch" --quiet --stats \
			--policy "$src/policy/default.rules" "$ev" <<'PY'
# runs the replay; appends its --stats line with the threads' CPU seconds
import json, os, subprocess, sys, time
res, cmd = sys.argv[1], sys.argv[2:]
p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
ticks = {}  # tid -> utime + stime, last seen (a thread's row goes when it ends)
hz = os.sysconf("SC_CLK_TCK")
while p.poll() is None:
    try:
        for t in os.listdir(f"/proc/{p.pid}/task"):
            try:
                f = open(f"/proc/{p.pid}/task/{t}/stat").read().rsplit(")", 1)[1].split()
                ticks[int(t)] = int(f[11]) + int(f[12])
            except OSError:
                pass
    except OSError:
        pass
    time.sleep(0.05)
err = p.stderr.read()
if p.returncode:
    sys.exit(f"{' '.join(cmd)}: exit {p.returncode}: {err[-500:]}")
st = json.loads([l for l in err.splitlines() if l.startswith("{")][-1])
others = sorted((v for k, v in ticks.items() if k != p.pid), reverse=True)
st["deciding_cpu_s"] = ticks.get(p.pid, 0) / hz
st["writer_cpu_s"] = (others[0] if others else 0) / hz
open(res, "a").write(json.dumps(st) + "\n")
PY
	done
done
python3 - "$out" "$@" <<'PY'
import json, statistics, sys
out, specs = sys.argv[1], sys.argv[2:]
base = None
for i, spec in enumerate(specs, 1):
    runs = [json.loads(l) for l in open(f"{out}/b{i}.json")]
    rates = [r["events_per_s"] for r in runs]
    med = statistics.median(rates)
    base = base or med
    dec = statistics.median(r["deciding_cpu_s"] for r in runs)
    wr = statistics.median(r["writer_cpu_s"] for r in runs)
    print(f"{spec}: events/s {' '.join(f'{x:,.0f}' for x in rates)} median {med:,.0f} "
          f"({med / base:.1%} of the first); CPU s, medians: deciding thread {dec:.2f}, "
          f"writer {wr:.2f}; events {runs[-1]['events']:,}")
PY
