#!/usr/bin/env bash
# The risk engine beside a peer on the same input: fail2ban-regex (Debian's
# fail2ban, its sshd filter) reads N sshd log lines; `kagi replay` reads the
# same logins as kagi events (bench/authlog.py writes both) through
# policy/default.rules, in memory on one core. Same sitting, RUNS runs each,
# medians; writes docs/BENCHMARKS.md section `risk-peer`.
# Usage: bash bench/risk_peer.sh [BUILD_DIR] (default build/release)
# Env: LINES (200000) RUNS (3).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build/release}
KAGI=$BUILD/kagi
LINES=${LINES:-200000}
RUNS=${RUNS:-3}
OUT=bench/out/risk_peer
[[ -x $KAGI ]] || { echo "no $KAGI: build first (make build)" >&2; exit 1; }
command -v fail2ban-regex >/dev/null ||
	{ echo "fail2ban-regex missing (scripts/install-deps.sh bench)" >&2; exit 1; }
rm -rf "$OUT"
mkdir -p "$OUT"
trap 'rm -rf "$OUT"' EXIT
PIN=""
command -v taskset >/dev/null && PIN="taskset -c 0"

python3 bench/authlog.py "$LINES" "$OUT/auth.log" "$OUT/events.ndjson" >"$OUT/gen.json"
for i in $(seq "$RUNS"); do
	echo "fail2ban-regex $i/$RUNS" >&2
	/usr/bin/time -f '{"user":%U,"sys":%S,"wall":%e,"maxrss_kb":%M}' -o "$OUT/f2b$i.time" \
		$PIN fail2ban-regex "$OUT/auth.log" sshd >"$OUT/f2b$i.out" 2>&1
	echo "kagi replay $i/$RUNS" >&2
	/usr/bin/time -f '{"user":%U,"sys":%S,"wall":%e,"maxrss_kb":%M}' -o "$OUT/kagi$i.time" \
		$PIN "$KAGI" replay --stats --policy policy/default.rules "$OUT/events.ndjson" \
		>"$OUT/decisions.ndjson" 2>"$OUT/kagi$i.json"
done

python3 - "$OUT" "$RUNS" "$LINES" \
	"$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')" \
	"$(git rev-parse --short HEAD)" "$(cat /proc/loadavg | cut -d' ' -f1-3)" \
	"$(fail2ban-regex --version 2>/dev/null | head -1)" <<'PY'
import collections, datetime, json, re, statistics, sys
out, runs, lines, machine, commit, load, f2bver = sys.argv[1:]
runs, lines = int(runs), int(lines)
gen = json.load(open(f"{out}/gen.json"))
def last_json(path):
    return json.loads([l for l in open(path) if l.startswith("{")][-1])
f2b_t = [json.load(open(f"{out}/f2b{i}.time")) for i in range(1, runs + 1)]
k_t = [json.load(open(f"{out}/kagi{i}.time")) for i in range(1, runs + 1)]
k_s = [last_json(f"{out}/kagi{i}.json") for i in range(1, runs + 1)]
m = re.search(r"Lines: (\d+) lines, (\d+) ignored, (\d+) matched, (\d+) missed",
              open(f"{out}/f2b1.out").read())
f2b_matched = int(m.group(3)) if m else None
actions = collections.Counter()
reasons = collections.Counter()
for l in open(f"{out}/decisions.ndjson"):
    d = json.loads(l)
    actions[d.get("decision", d.get("action", "?"))] += 1
    for r in d.get("reasons", []):
        reasons[r.get("rule", "?")] += 1
med = statistics.median
def rate(secs):  # /usr/bin/time has 10 ms resolution
    return lines / max(secs, 0.01)
f2b_wall = med(rate(t["wall"]) for t in f2b_t)
f2b_cpu = med(rate(t["user"] + t["sys"]) for t in f2b_t)
k_wall = med(rate(t["wall"]) for t in k_t)          # whole process: start, policy, output
k_cpu = med(rate(t["user"] + t["sys"]) for t in k_t)
k_loop = med(s["events_per_s"] for s in k_s)          # the replay loop only
today = datetime.date.today().isoformat()
acts = ", ".join(f"{k} {v:,}" for k, v in sorted(actions.items()))
rules = ", ".join(f"{k} {v:,}" for k, v in reasons.most_common())
sec = f"""<!-- bench:risk-peer -->
## risk-peer — kagi replay beside fail2ban on the same logins

Input: `bench/authlog.py {lines}`: {lines:,} ssh logins, {gen['failures']:,} of them
failures from 5,000 attacker IPs, written as sshd syslog lines for fail2ban and as
kagi `login` events (account = user name, device = IP) for kagi. Both pinned to one
core, {runs} runs each in the same sitting, medians. Measured {today} on {machine},
commit {commit}, load average at the end {load}.

| | fail2ban-regex ({f2bver}, filter sshd) | kagi replay (policy/default.rules) | ratio |
|---|---|---|---|
| lines or events per second, whole process (wall) | {f2b_wall:,.0f} | {k_wall:,.0f} | {k_wall / f2b_wall:,.1f}× |
| per CPU-second | {f2b_cpu:,.0f} | {k_cpu:,.0f} | {k_cpu / f2b_cpu:,.1f}× |
| peak RSS | {med(t['maxrss_kb'] for t in f2b_t) / 1024:,.0f} MiB | {med(t['maxrss_kb'] for t in k_t) / 1024:,.0f} MiB | |
| what it found | {f2b_matched if f2b_matched is not None else "?":,} lines reported "matched" (of {gen["failures"]:,} failures) | decisions: {acts} | |

kagi's replay loop alone (without start-up and policy compile): {k_loop:,.0f} events/s.
Rules that fired: {rules or 'none'}.

The two do different work: fail2ban-regex matches each line against its filter's
regular expressions and counts hits (banning is the server's job, not measured);
kagi parses and validates each event, updates the account's sliding windows
(count by IP over 15 min among them), evaluates every login rule of the policy
and writes a decision JSON with its reasons. Command: `bash bench/risk_peer.sh`
(LINES={lines} RUNS={runs}).
<!-- /bench:risk-peer -->"""
sys.path.insert(0, "bench")
import section
section.write_block(sec)
print(sec)
PY
