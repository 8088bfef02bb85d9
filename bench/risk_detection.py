#!/usr/bin/env python3
"""Scores `kagi replay` decisions against `kagi simulate` labels (see
bench/risk_detection.sh and docs/simulate.md). A decision counts as a flag
when its action is hold or lock. Writes the `risk-detection` section of
docs/BENCHMARKS.md and prints it."""
import argparse
import collections
import datetime
import json
import os
import sys

SCEN = ["gift_card_ring", "return_abuse", "card_testing", "account_takeover"]
VARIANTS = {
    "gift_card_ring": ["single_order", "split_orders", "low_and_slow"],
    "return_abuse": ["multi_seller", "ratio_only", "below_threshold"],
    "card_testing": ["burst", "few_attempts", "slow"],
    "account_takeover": ["foreign", "domestic_proxy", "slow_password_change"],
}
# A flag's family: the scenario whose rules raised it.
LOCK_FAMILY = {"gift_card": "gift_card_ring", "return_abuse": "return_abuse",
               "payment_fraud": "card_testing", "compromised": "account_takeover"}


def families(dec, ev):
    """The family of a hold/lock decision: the scenario whose rules raised it.
    A lock names its reason; in the default policy the only rule that holds
    by itself is the gift-card order rule, every other hold is the payment
    score."""
    if dec.get("action") == "lock":
        return {LOCK_FAMILY.get((dec.get("lock") or {}).get("reason"), "other")}
    direct = any(r.get("action") == "hold" for r in dec.get("reasons") or [])
    gift = ev["type"] == "order" and any(i.get("category") == "gift_card"
                                         for i in ev.get("items", []))
    return {"gift_card_ring" if direct and gift else "card_testing"}


def pct(num, den):
    return "—" if den == 0 else f"{100.0 * num / den:.1f} %"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", required=True)
    ap.add_argument("--decisions", required=True)
    ap.add_argument("--sim-stats", nargs="*", default=[])
    ap.add_argument("--sim-wall", nargs=2, type=float)
    ap.add_argument("--replay-wall", nargs=2, type=float)
    ap.add_argument("--sim-cmd", default="")
    ap.add_argument("--replay-cmd", default="")
    ap.add_argument("--machine", default="")
    ap.add_argument("--commit", default="")
    ap.add_argument("--benchmarks")
    a = ap.parse_args()

    acct_scen, acct_var, fraud_acct = {}, {}, set()
    flagged_acct = collections.defaultdict(set)     # account -> families
    flag_edges = {}                                 # account -> edge of its first flag
    ev_pos = collections.Counter()                   # scenario -> fraud events
    ev_tp = collections.Counter()                    # scenario -> flagged fraud events
    fam_ev = collections.Counter()                   # family -> flagged events
    fam_ev_ok = collections.Counter()                # family -> flagged fraud events
    actions = collections.Counter()
    flagged_fraud_ev_before = collections.Counter()  # scenario -> fraud events after a flag
    first_flag = {}
    n = 0
    with open(a.events, encoding="utf-8") as fe, open(a.decisions, encoding="utf-8") as fd:
        for line in fe:
            ev = json.loads(line)
            dline = fd.readline()
            if not dline:
                sys.exit(f"decisions end before event {ev['id']} (line {n + 1})")
            dec = json.loads(dline)
            if dec.get("event") not in (None, ev["id"]):
                sys.exit(f"line {n + 1}: decision for {dec.get('event')}, event {ev['id']}")
            n += 1
            acct, lab = ev["account"], ev["label"]
            scen = lab["scenario"]
            acct_scen[acct] = scen
            if "variant" in lab:
                acct_var[acct] = lab["variant"]
            action = dec.get("action", "error" if "error" in dec else "?")
            actions[action] += 1
            flag = action in ("hold", "lock")
            if lab["fraud"]:
                fraud_acct.add(acct)
                ev_pos[scen] += 1
                if flag:
                    ev_tp[scen] += 1
                if acct in first_flag:
                    flagged_fraud_ev_before[scen] += 1
            if flag:
                first_flag.setdefault(acct, n)
                for fam in families(dec, ev):
                    flagged_acct[acct].add(fam)
                    fam_ev[fam] += 1
                    fam_ev_ok[fam] += lab["fraud"]
                if acct not in flag_edges:  # the edge case of the account's first flag
                    flag_edges[acct] = lab.get("edge", "none")
        if fd.readline():
            sys.exit("more decisions than events")

    # per account
    fraud_by = collections.Counter(acct_scen[x] for x in fraud_acct)
    hit_by = collections.Counter(acct_scen[x] for x in fraud_acct if x in flagged_acct)
    var_tot = collections.Counter((acct_scen[x], acct_var.get(x)) for x in fraud_acct)
    var_hit = collections.Counter((acct_scen[x], acct_var.get(x)) for x in fraud_acct
                                  if x in flagged_acct)
    fam_acct = collections.Counter()
    fam_acct_ok = collections.Counter()
    for x, fams in flagged_acct.items():
        for f in fams:
            fam_acct[f] += 1
            fam_acct_ok[f] += x in fraud_acct
    flagged_all = len(flagged_acct)
    flagged_ok = sum(1 for x in flagged_acct if x in fraud_acct)
    normal_accts = sum(1 for x, s in acct_scen.items() if x not in fraud_acct)
    fp_accts = [x for x in flagged_acct if x not in fraud_acct]
    fp_edge = collections.Counter()
    for x in fp_accts:
        fp_edge[flag_edges[x]] += 1

    sims = [json.load(open(p)) for p in a.sim_stats]
    L = []
    L.append("## risk-detection — precision and recall of hold+lock on simulated labels\n")
    L.append(f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
             f"commit `{a.commit}`, machine: {a.machine}")
    L.append(f"- commands: `{a.sim_cmd} --out events.ndjson` then "
             f"`{a.replay_cmd} events.ndjson > decisions.ndjson`; scored by "
             f"`bench/risk_detection.py` (run all with `bench/risk_detection.sh`)")
    L.append(f"- stream: {n:,} events, {len(acct_scen):,} accounts, "
             f"{len(fraud_acct):,} fraud accounts; decisions: " +
             ", ".join(f"{k} {v:,}" for k, v in sorted(actions.items())))
    if sims:
        rates = [s["events"] / max(1e-9, sum(s["seconds"].values())) for s in sims]
        best = sims[max(range(len(sims)), key=lambda i: rates[i])]
        wall = a.sim_wall[1] - a.sim_wall[0] if a.sim_wall else 0
        L.append(f"- generator (one core; {len(sims)} runs, first to a file, others to /dev/null): "
                 f"{sims[0]['events']:,} events, {sims[0]['bytes'] / 1e6:.0f} MB; "
                 f"{sims[0]['events'] / wall:,.0f} events/s wall to a file incl. start-up "
                 f"({wall:.2f} s); rate per run " + ", ".join(f"{r:,.0f}" for r in rates) +
                 f" events/s; best run: generate {best['seconds']['generate']:.2f} s, sort "
                 f"{best['seconds']['sort']:.2f} s, render+write {best['seconds']['write']:.2f} s. "
                 "The spread is the shared machine, not the generator.")
    if a.replay_wall:
        w = a.replay_wall[1] - a.replay_wall[0]
        L.append(f"- replay wall time (context only; the replay benchmark is separate): "
                 f"{w:.2f} s, {n / w:,.0f} events/s")
    L.append("")
    L.append("A **flag** is a decision with action `hold` or `lock`. **Per account**: an "
             "account is positive when any of its events is labelled `fraud`, flagged when "
             "any of its decisions is a flag. **Per event**: positive = event labelled "
             "`fraud`, flagged = its own decision is a flag (an engine that locks on the "
             "3rd return cannot flag the first two, and a held order's payment may "
             "pass, so per-event recall is lower by "
             "design). **Precision per scenario** is the precision of that scenario's "
             "rules: of the accounts (events) flagged by the gift-card rules, the "
             "return rules, the payment score (`payment_fraud`) or the takeover rule, "
             "the share that are fraud (of any scenario). A flag's family is its "
             "`lock.reason`; a hold is the gift-card family when a rule with action "
             "`hold` fired on a gift-card order, else the payment score.\n")
    L.append("| scenario | fraud accounts | recall (accounts) | precision (accounts) | "
             "fraud events | recall (events) | precision (events) |")
    L.append("|---|---:|---:|---:|---:|---:|---:|")
    for s in SCEN:
        L.append(f"| {s} | {fraud_by[s]:,} | {pct(hit_by[s], fraud_by[s])} | "
                 f"{pct(fam_acct_ok[s], fam_acct[s])} ({fam_acct_ok[s]:,}/{fam_acct[s]:,}) | "
                 f"{ev_pos[s]:,} | {pct(ev_tp[s], ev_pos[s])} | "
                 f"{pct(fam_ev_ok[s], fam_ev[s])} ({fam_ev_ok[s]:,}/{fam_ev[s]:,}) |")
    tot_pos = sum(ev_pos.values())
    tot_tp = sum(ev_tp.values())
    tot_flag_ev = sum(actions[k] for k in ("hold", "lock"))
    L.append(f"| **all** | {len(fraud_acct):,} | {pct(sum(hit_by.values()), len(fraud_acct))} | "
             f"{pct(flagged_ok, flagged_all)} ({flagged_ok:,}/{flagged_all:,}) | {tot_pos:,} | "
             f"{pct(tot_tp, tot_pos)} | {pct(tot_tp, tot_flag_ev)} ({tot_tp:,}/{tot_flag_ev:,}) |")
    L.append("")
    L.append("Recall per variant (accounts; the weaker variants are evasions the default "
             "policy is not built to catch, see docs/simulate.md):\n")
    L.append("| scenario | variant | accounts | flagged | recall |")
    L.append("|---|---|---:|---:|---:|")
    for s in SCEN:
        for v in VARIANTS[s]:
            L.append(f"| {s} | {v} | {var_tot[(s, v)]:,} | {var_hit[(s, v)]:,} | "
                     f"{pct(var_hit[(s, v)], var_tot[(s, v)])} |")
    L.append("")
    L.append(f"False positives: {len(fp_accts):,} of {normal_accts:,} accounts without fraud "
             f"({pct(len(fp_accts), normal_accts)}) had a hold or lock; by the edge case "
             "label of their first flagged event (hard negatives are expected to be "
             "flagged):\n")
    L.append("| edge of the first flagged event | accounts |")
    L.append("|---|---:|")
    for e, c in fp_edge.most_common():
        L.append(f"| {e} | {c:,} |")
    L.append("")
    main_var = {"single_order", "split_orders", "multi_seller", "ratio_only", "burst", "foreign"}
    hard = {"corporate_gift_cards", "size_exchange_returns", "lost_phone_abroad"}
    main_missed = sum(1 for x in fraud_acct if acct_var.get(x) in main_var and x not in flagged_acct)
    soft_fp = sum(1 for x in fp_accts if flag_edges[x] not in hard)
    reading = (f"Reading: {main_missed} account(s) of the main variants "
               f"({', '.join(sorted(main_var))}) were missed and {soft_fp} false positive "
               "account(s) were not hard negatives")
    if main_missed == 0 and soft_fp == 0:
        reading += ("; so recall is lost only on the weaker variants and precision only "
                    "on the hard negatives")
    L.append(reading + ".\n")
    stopped = sum(flagged_fraud_ev_before.values())
    L.append(f"Fraud events that came after their account's first flag (a lock would "
             f"have stopped them): {stopped:,} of {tot_pos:,} ({pct(stopped, tot_pos)}).")
    text = "\n".join(L) + "\n"
    print(text)
    if a.benchmarks:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import section
        section.write("risk-detection", text.rstrip("\n"), a.benchmarks)

if __name__ == "__main__":
    main()
