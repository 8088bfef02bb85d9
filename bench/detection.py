"""Scores `kagi replay` decisions against the labels of `kagi simulate
--cross-account` (docs/simulate.md, "Stories across accounts"), per account.
Used by bench/risk_detection.sh (section `risk-detection-entities` of
docs/BENCHMARKS.md) and by tests/integration/test_sim_detection.py.

An account of a fraud scenario is positive when one of its events is
labelled fraud; it is caught when the decision of one of its fraud events
reaches the scenario's response: `challenge` for credential stuffing (the
row challenges), `hold` for the card ring and the drop (the shared card adds
points toward hold and lock, the drop row locks). A scenario's precision is
over the accounts its row flagged: a decision at or above that response
naming the row (`credential_stuffing`, `shared_card`, `gift_card_drop`) among
its reasons; the flagged account counts as right when that decision's event
is labelled fraud. A hard negative's false positives are its accounts with a
challenge, a hold or a lock, named with the rules that raised them."""
import collections
import json

RANK = {"allow": 0, "challenge": 1, "hold": 2, "lock": 3}
# scenario -> (its row, the action that catches it)
CROSS = {
    "credential_stuffing": ("credential_stuffing", "challenge"),
    "shared_card": ("shared_card", "hold"),
    "gift_card_drop": ("gift_card_drop", "hold"),
}
VARIANTS = {
    "credential_stuffing": ["few_ips", "rotating_ips"],
    "shared_card": ["ring", "pair"],
    "gift_card_drop": ["fast", "spread"],
}
HARD = ["office_ip", "carrier_ip", "family_shared_card", "dormitory_address"]
# the single-account hard negatives (docs/simulate.md): their flags are not
# the cross-account kind's
OLD_HARD = {"corporate_gift_cards", "size_exchange_returns", "lost_phone_abroad"}


def score(events_path, decisions_path):
    """Returns a dict: per scenario and variant the accounts, caught accounts,
    groups and caught groups; per row the flagged accounts and the right ones;
    per hard negative its accounts, the worst action per account and the
    rules behind each flag; the actions counted; the number of events."""
    acct_scen, acct_var, acct_group, acct_hard = {}, {}, {}, {}
    fraud, caught, old_hard = set(), set(), set()
    worst = collections.defaultdict(int)           # account -> highest rank
    flag_rules = collections.defaultdict(collections.Counter)  # account -> rules of its flags
    row_flag = collections.defaultdict(dict)       # row -> account -> right?
    actions = collections.Counter()
    n = 0
    with open(events_path, encoding="utf-8") as fe, open(decisions_path, encoding="utf-8") as fd:
        for line in fe:
            ev = json.loads(line)
            dline = fd.readline()
            if not dline:
                raise ValueError(f"decisions end before event {ev['id']} (line {n + 1})")
            dec = json.loads(dline)
            n += 1
            if dec.get("event") != ev["id"]:
                raise ValueError(f"line {n}: decision for {dec.get('event')}, event {ev['id']}")
            acct, lab = ev["account"], ev["label"]
            scen = lab["scenario"]
            acct_scen[acct] = scen
            if "variant" in lab:
                acct_var[acct] = lab["variant"]
            if "group" in lab:
                acct_group[acct] = lab["group"]
            if lab.get("edge") in HARD:
                acct_hard[acct] = lab["edge"]
            action = dec.get("action", "error")
            actions[action] += 1
            rank = RANK.get(action, 0)
            if lab.get("edge") in OLD_HARD:
                old_hard.add(acct)
            else:
                worst[acct] = max(worst[acct], rank)
            rules = [r["rule"] for r in dec.get("reasons") or [] if r.get("rule") != "score"]
            if rank:
                flag_rules[acct].update(rules)
            if lab["fraud"]:
                fraud.add(acct)
                if scen in CROSS and rank >= RANK[CROSS[scen][1]]:
                    caught.add(acct)
            for s, (row, need) in CROSS.items():
                if row in rules and rank >= RANK[need]:
                    row_flag[row][acct] = row_flag[row].get(acct, False) or bool(lab["fraud"])
        if fd.readline():
            raise ValueError("more decisions than events")

    scen = {}
    for s in CROSS:
        per = {}
        for v in VARIANTS[s]:
            accts = [a for a in fraud if acct_scen[a] == s and acct_var.get(a) == v]
            groups = collections.defaultdict(list)
            for a in accts:
                groups[acct_group.get(a)].append(a)
            per[v] = {
                "accounts": len(accts),
                "caught": sum(1 for a in accts if a in caught),
                "groups": len(groups),
                "groups_caught": sum(1 for g in groups.values() if any(a in caught for a in g)),
                "missed_groups": sorted(str(k) for k, g in groups.items()
                                        if not any(a in caught for a in g)),
            }
        row = CROSS[s][0]
        flagged = row_flag[row]
        scen[s] = {"variants": per, "row": row, "flagged": len(flagged),
                   "right": sum(1 for a, ok in flagged.items() if ok and acct_scen[a] == s),
                   "wrong": sorted(a for a, ok in flagged.items() if not ok)}
    hard = {}
    for h in HARD:
        accts = [a for a, e in acct_hard.items() if e == h]
        by = collections.Counter(worst[a] for a in accts)
        rules = collections.Counter()
        for a in accts:
            if worst[a]:
                rules.update(flag_rules[a])
        hard[h] = {"accounts": len(accts), "groups": len({acct_group.get(a) for a in accts}),
                   "challenged": by[1], "held": by[2], "locked": by[3], "rules": rules,
                   "flagged": sorted(a for a in accts if worst[a])}
    others = sorted(a for a in acct_scen if a not in fraud and a not in acct_hard and
                    a not in old_hard and worst[a] >= RANK["hold"] and acct_scen[a] == "normal")
    # (flags on events of the single-account hard negatives are left out of
    # worst: they are docs/simulate.md's expected false positives)
    return {"events": n, "accounts": len(acct_scen), "actions": actions, "scenarios": scen,
            "hard": hard, "other_flagged": others}


def pct(num, den):
    return "—" if den == 0 else f"{100.0 * num / den:.1f} %"


def markdown(r):
    """The tables of a score() result (no heading)."""
    L = ["| scenario | variant | fraud accounts | caught | recall (accounts) | groups | "
         "groups caught |", "|---|---|---:|---:|---:|---:|---:|"]
    for s, d in r["scenarios"].items():
        for v, x in d["variants"].items():
            L.append(f"| {s} | {v} | {x['accounts']:,} | {x['caught']:,} | "
                     f"{pct(x['caught'], x['accounts'])} | {x['groups']:,} | "
                     f"{x['groups_caught']:,} |")
    L += ["", "| row | accounts flagged | of them fraud of its scenario | precision (accounts) |",
          "|---|---:|---:|---:|"]
    for s, d in r["scenarios"].items():
        L.append(f"| `{d['row']}` | {d['flagged']:,} | {d['right']:,} | "
                 f"{pct(d['right'], d['flagged'])} |")
    L += ["", "| hard negative | accounts | groups | challenged | held | locked | rules of the flags |",
          "|---|---:|---:|---:|---:|---:|---|"]
    for h, d in r["hard"].items():
        rules = ", ".join(f"`{k}` {v:,}" for k, v in d["rules"].most_common(4)) or "—"
        L.append(f"| {h} | {d['accounts']:,} | {d['groups']:,} | {d['challenged']:,} | "
                 f"{d['held']:,} | {d['locked']:,} | {rules} |")
    return "\n".join(L)


def main():
    import argparse
    import datetime
    import os
    import sys
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", required=True)
    ap.add_argument("--decisions", required=True)
    ap.add_argument("--sim-cmd", default="")
    ap.add_argument("--replay-cmd", default="")
    ap.add_argument("--machine", default="")
    ap.add_argument("--commit", default="")
    ap.add_argument("--benchmarks")
    a = ap.parse_args()
    r = score(a.events, a.decisions)
    L = ["## risk-detection-entities — stories across accounts, per account\n",
         f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
         f"commit `{a.commit}`, machine: {a.machine}",
         f"- commands: `{a.sim_cmd} --out events.ndjson` then `{a.replay_cmd} events.ndjson > "
         "decisions.ndjson`; scored by `bench/detection.py` (run all with "
         "`bench/risk_detection.sh`)",
         f"- stream: {r['events']:,} events, {r['accounts']:,} accounts; decisions: " +
         ", ".join(f"{k} {v:,}" for k, v in sorted(r["actions"].items())), "",
         "An account of a scenario is **caught** when the decision of one of its fraud "
         "events reaches the scenario's response: `challenge` for credential stuffing, "
         "`hold` or `lock` for the card ring and the drop. A group (a campaign, a ring, a "
         "drop address) is caught when one of its accounts is. A row's **precision** is "
         "over the accounts it flagged (a decision at or above that response naming the "
         "row): the share whose flagged event is that scenario's fraud. A **hard "
         "negative**'s accounts are counted by their worst action (flags on the "
         "single-account hard negatives' own events, docs/simulate.md, left out), with "
         "the rules of those flags.\n",
         markdown(r), ""]
    for h, d in r["hard"].items():
        if d["flagged"]:
            L.append(f"- {h}: flagged accounts {', '.join(d['flagged'][:8])}"
                     f"{' …' if len(d['flagged']) > 8 else ''}")
    for s, d in r["scenarios"].items():
        if d["wrong"]:
            L.append(f"- `{d['row']}` on accounts without fraud: {len(d['wrong']):,} "
                     f"({', '.join(d['wrong'][:8])}{' …' if len(d['wrong']) > 8 else ''})")
    L.append(f"- ordinary accounts (no story across accounts, no hard negative of either "
             f"kind) held or locked: {len(r['other_flagged']):,}")
    text = "\n".join(L) + "\n"
    print(text)
    if a.benchmarks:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import section
        section.write("risk-detection-entities", text.rstrip("\n"), a.benchmarks)


if __name__ == "__main__":
    main()
