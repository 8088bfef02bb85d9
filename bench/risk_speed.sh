#!/usr/bin/env bash
# Replay speed of several builds in one sitting, rounds alternating the
# builds (the machine's noise moves every build alike within a round): `kagi
# replay --stats` of one `kagi simulate` stream, each build with the
# policy/default.rules of its own source tree.
#
# In memory (issue 13's "back to b674c3c's speed"): `--quiet`; prints per
# build the events per CPU-second of every round, their median and the ratio
# to the first build, and the memory census (bytes per account, per entity).
#
# DURABLE=1 (issue 13's 150,000 events/s): `--db F --batch BATCH` into a
# fresh SQLite file each run; prints per build the events per second of
# every round, their median, the ratio to the first build, and the medians
# of the CPU seconds of the replay's two busy threads (the deciding thread:
# the process's first; the store's writer: the busiest of the others), read
# from /proc while it runs.
#
# Prints only (the numbers go into docs/BENCHMARKS.md by hand, with the
# callgrind counts that decide on this noisy machine).
#
#   bash bench/risk_speed.sh SRC_DIR:BUILD_DIR [SRC_DIR:BUILD_DIR ...]
#   ACCOUNTS (100000) DAYS (30) SEED (1) ROUNDS (3; durable 5) EVENTS (a
#   stream file to use instead of simulating one) DURABLE (0) BATCH (100000)
#   DIR (where the temporary files go: /tmp)
set -euo pipefail
[[ $# -ge 1 ]] || { echo "usage: bench/risk_speed.sh SRC:BUILD [SRC:BUILD ...]" >&2; exit 1; }
accounts=${ACCOUNTS:-100000}
days=${DAYS:-30}
seed=${SEED:-1}
durable=${DURABLE:-0}
[[ $durable == 1 ]] && rounds=${ROUNDS:-5} || rounds=${ROUNDS:-3}
batch=${BATCH:-100000}
out=$(mktemp -d "${DIR:-/tmp}/risk_speed.XXXXXX")
trap 'rm -rf "$out"' EXIT
first_bin=${1#*:}/kagi
ev=${EVENTS:-}
if [[ -z $ev ]]; then
	ev=$out/ev.ndjson
	"$first_bin" simulate --accounts "$accounts" --days "$days" --seed "$seed" --out "$ev" 2>/dev/null
fi

# durable_run RESULT_FILE KAGI ARGS...: the replay, its --stats line with
# the threads' CPU seconds appended to RESULT_FILE
durable_run() {
	python3 - "$@" <<'PY'
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
}

for ((r = 1; r <= rounds; r++)); do
	for i in $(seq 1 $#); do
		spec=${!i}
		src=${spec%%:*}
		bin=${spec#*:}/kagi
		if [[ $durable == 1 ]]; then
			rm -f "$out"/db*
			durable_run "$out/b$i.json" "$bin" replay --db "$out/db" --batch "$batch" --quiet \
				--stats --policy "$src/policy/default.rules" "$ev"
		else
			"$bin" replay --quiet --stats --policy "$src/policy/default.rules" "$ev" \
				2>>"$out/b$i.json" >/dev/null
		fi
	done
done
python3 - "$out" "$durable" "$@" <<'PY'
import json, statistics, sys
out, durable, specs = sys.argv[1], sys.argv[2] == "1", sys.argv[3:]
base = None
for i, spec in enumerate(specs, 1):
    runs = [json.loads(l) for l in open(f"{out}/b{i}.json") if l.startswith("{")]
    rates = [r["events_per_s" if durable else "events_per_cpu_s"] for r in runs]
    med = statistics.median(rates)
    base = base or med
    last = runs[-1]
    head = (f"{spec}: events/{'s' if durable else 'cpu-s'} "
            f"{' '.join(f'{x:,.0f}' for x in rates)} median {med:,.0f} "
            f"({med / base:.1%} of the first); events {last['events']:,}")
    if durable:
        dec = statistics.median(r["deciding_cpu_s"] for r in runs)
        wr = statistics.median(r["writer_cpu_s"] for r in runs)
        print(f"{head}; CPU s, medians: deciding thread {dec:.2f}, writer {wr:.2f}")
    else:
        ent = last.get("entity_mem_bytes_per_entity")
        print(f"{head}; bytes/account {last['feature_mem_bytes_per_account']}; entities "
              f"{last.get('entities', '-')}, bytes/entity {ent if ent is not None else '-'}")
PY
