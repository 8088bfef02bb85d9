#!/usr/bin/env python3
"""kagi simulate: determinism, the event contract of docs/api.md on every line,
ordering, unique ids, labels, every fraud scenario and the legitimate edge
cases present, and usage errors (exit 2 naming the option)."""
import collections
import datetime
import hashlib
import json
import os
import subprocess
import sys
import tempfile

KAGI = os.environ.get("KAGI_BIN", "build/asan/kagi")
DATA = os.environ.get("KG_TEST_DATA", os.path.join(os.path.dirname(__file__), "..", "data"))
FAILURES = []


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print("FAIL:", what, file=sys.stderr)
    return cond


def run(*args):
    return subprocess.run([KAGI, "simulate", *args], capture_output=True, timeout=300)


def parse_ts(s):
    check(isinstance(s, str) and s.endswith("Z") or "+" in s, f"ts {s!r} is RFC 3339 with a zone")
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))


ADDRESS = {"postal_code": str, "region": str, "city": str, "line1": str, "country": str}
CARD = {"holder_name": str, "last4": str, "exp": str, "fingerprint": str}
COMMON = {"id": str, "type": str, "account": str, "ts": str}
FIELDS = {
    "account.created": {"name": str, "email": str, "address": dict},
    "login": {"success": bool, "ip": str, "device_id": str},
    "order": {"order_id": str, "amount": int, "currency": str, "items": list,
              "shipping_address": dict, "billing_address": dict, "card": dict,
              "seller_ids": list},
    "payment": {"order_id": str, "amount": int, "currency": str, "card": dict, "result": str},
    "return": {"order_id": str, "amount": int, "currency": str, "seller_id": str},
    "seller_report": {"seller_id": str, "kind": str},
    "password_change": {"ip": str, "device_id": str, "via": str},
    "profile_change": {"field": str},
}
SCENARIOS = {"normal", "gift_card_ring", "return_abuse", "card_testing", "account_takeover"}


def has_fields(ev, spec, where):
    ok = True
    for k, t in spec.items():
        v = ev.get(k)
        # bool is an int in Python: keep the two apart
        good = isinstance(v, t) and not (t is int and isinstance(v, bool))
        ok &= check(good, f"{where}: field {k!r} is {t.__name__}, got {v!r}")
    return ok


def check_address(a, where):
    has_fields(a, ADDRESS, where)
    if "line2" in a:
        check(isinstance(a["line2"], str), f"{where}.line2 is a string")


def check_card(c, where):
    if has_fields(c, CARD, where):
        check(len(c["last4"]) == 4 and c["last4"].isdigit(), f"{where}.last4 is 4 digits")
        mm, _, yy = c["exp"].partition("/")
        check(len(mm) == 2 and len(yy) == 2 and 1 <= int(mm) <= 12, f"{where}.exp is MM/YY")


def validate(lines):
    """Checks the contract on every event; returns the parsed events."""
    events, ids = [], set()
    created, orders = {}, {}
    last_ts = None
    for n, line in enumerate(lines, 1):
        try:
            ev = json.loads(line)
        except ValueError as e:
            check(False, f"line {n} is JSON: {e}")
            continue
        where = f"line {n} ({ev.get('type')})"
        if not has_fields(ev, COMMON, where):
            continue
        check(ev["type"] in FIELDS, f"{where}: known type")
        has_fields(ev, FIELDS.get(ev["type"], {}), where)
        ts = parse_ts(ev["ts"])
        check(last_ts is None or ts >= last_ts, f"{where}: sorted by ts")
        last_ts = ts
        check(ev["id"] not in ids, f"{where}: id {ev['id']} unique")
        ids.add(ev["id"])
        lab = ev.get("label")
        if check(isinstance(lab, dict), f"{where}: has a label"):
            check(lab.get("scenario") in SCENARIOS, f"{where}: label.scenario known")
            check(isinstance(lab.get("fraud"), bool), f"{where}: label.fraud is a bool")
        acct, ty = ev["account"], ev["type"]
        if ty == "account.created":
            check(acct not in created, f"{where}: account {acct} created once")
            created[acct] = ts
            check_address(ev["address"], where + ".address")
        else:
            check(acct in created and created[acct] < ts,
                  f"{where}: account.created comes first for {acct}")
        if "currency" in ev:
            check(ev["currency"] == "JPY", f"{where}: currency JPY")
            check(ev["amount"] > 0, f"{where}: amount positive")
        if ty == "login" and "country" in ev:
            check(isinstance(ev["country"], str) and len(ev["country"]) == 2, f"{where}: country")
        if ty == "order":
            total = 0
            for i, it in enumerate(ev["items"]):
                has_fields(it, {"sku": str, "category": str, "price": int, "qty": int},
                           f"{where}.items[{i}]")
                total += it["price"] * it["qty"]
            check(ev["items"] and total == ev["amount"], f"{where}: amount = sum of items")
            check_address(ev["shipping_address"], where + ".shipping_address")
            check_address(ev["billing_address"], where + ".billing_address")
            check_card(ev["card"], where + ".card")
            check(ev["seller_ids"] and all(isinstance(s, str) for s in ev["seller_ids"]),
                  f"{where}: seller_ids are strings")
            check(ev["order_id"] not in orders, f"{where}: order_id unique")
            orders[ev["order_id"]] = ev
        if ty in ("payment", "return"):
            o = orders.get(ev["order_id"])
            if check(o is not None and o["account"] == acct,
                     f"{where}: refers to an earlier order of the account"):
                if ty == "payment":
                    check(ev["amount"] == o["amount"], f"{where}: pays the order amount")
                else:
                    check(ev["amount"] <= o["amount"], f"{where}: returns at most the order")
                    check(ev["seller_id"] in o["seller_ids"], f"{where}: seller of the order")
        if ty == "payment":
            check_card(ev["card"], where + ".card")
            check(ev["result"] in ("approved", "declined"), f"{where}: result")
            check(("decline_code" in ev) == (ev["result"] == "declined"),
                  f"{where}: decline_code exactly on declines")
        if ty == "seller_report":
            check(ev["kind"] in ("item_swap", "empty_box", "other"), f"{where}: kind")
        if ty == "password_change":
            check(ev["via"] in ("reset", "settings"), f"{where}: via")
        if ty == "profile_change":
            check(ev["field"] in ("email", "phone", "address", "name"), f"{where}: field")
        events.append(ev)
    return events


def ms(ev):
    return parse_ts(ev["ts"]).timestamp() * 1000


def check_scenarios(events):
    by_acct = collections.defaultdict(list)
    for ev in events:
        by_acct[ev["account"]].append(ev)
    fraud_accts = collections.Counter()
    edges = collections.Counter()
    for acct, evs in by_acct.items():
        scen = evs[0]["label"]["scenario"]
        check(all(e["label"]["scenario"] == scen for e in evs), f"{acct}: one scenario")
        if any(e["label"]["fraud"] for e in evs):
            check(scen != "normal", f"{acct}: fraud events only in fraud scenarios")
            fraud_accts[scen] += 1
        for e in evs:
            if "edge" in e["label"]:
                edges[e["label"]["edge"]] += 1
                check(not e["label"]["fraud"], f"{acct}: edge cases are not fraud")
    for s in SCENARIOS - {"normal"}:
        check(fraud_accts[s] >= 3, f"scenario {s} present ({fraud_accts[s]} accounts)")
    for e in ("birthday_gift_card", "other_shipping_address", "new_device", "declined_once",
              "normal_return", "family_card", "fullwidth_billing_address", "new_device_abroad"):
        check(edges[e] > 0, f"edge case {e} present")

    def gift(ev):
        return sum(i["price"] * i["qty"] for i in ev["items"] if i["category"] == "gift_card")

    seen = collections.Counter()
    for acct, evs in by_acct.items():
        scen, var = evs[0]["label"]["scenario"], evs[0]["label"].get("variant")
        fraud_orders = [e for e in evs if e["type"] == "order" and e["label"]["fraud"]]
        if scen == "gift_card_ring" and var in ("single_order", "split_orders"):
            check(fraud_orders and all(gift(o) > 0 for o in fraud_orders),
                  f"{acct}: ring orders are gift cards")
            day = max(sum(gift(o) for o in fraud_orders if 0 <= ms(o) - ms(p) < 86400000)
                      for p in fraud_orders)
            check(day >= 100000 or max(gift(o) for o in fraud_orders) >= 50000,
                  f"{acct}: ring buys ≥ 50,000 at once or ≥ 100,000 a day")
            seen["ring"] += 1
        if scen == "return_abuse" and var == "multi_seller":
            rets = [e for e in evs if e["type"] == "return"]
            reps = {e["seller_id"] for e in evs if e["type"] == "seller_report"}
            orders = [e for e in evs if e["type"] == "order"]
            check(len(rets) >= 3 and len(reps) >= 2 and len(rets) > 0.05 * len(orders),
                  f"{acct}: ≥ 3 returns, > 5 %, reports from ≥ 2 sellers")
            seen["returns"] += 1
        if scen == "card_testing" and var == "burst":
            pays = [e for e in evs if e["type"] == "payment"]
            best = max(sum(1 for q in pays if 0 <= ms(q) - ms(p) < 3600000 and
                           q["result"] == "declined") for p in pays)
            check(best >= 3 and len(pays) >= 5, f"{acct}: ≥ 3 declines in an hour")
            name = next(e["name"] for e in evs if e["type"] == "account.created")
            check(all(o["card"]["holder_name"].lower() != name.lower() for o in fraud_orders),
                  f"{acct}: card holders are not the account holder")
            check(all(o["shipping_address"] != o["billing_address"] for o in fraud_orders),
                  f"{acct}: billing differs from shipping")
            seen["cards"] += 1
        if scen == "account_takeover" and var == "foreign":
            logins = [e for e in evs if e["type"] == "login" and e["success"]]
            bad = next(e for e in logins if e["label"]["fraud"])
            before = [e for e in logins if ms(e) < ms(bad)]
            pw = [e for e in evs if e["type"] == "password_change" and e["label"]["fraud"]]
            check(before and all(e["device_id"] != bad["device_id"] and
                                 e["country"] != bad["country"] for e in before),
                  f"{acct}: attacker login from a never-seen device and country")
            check(pw and 0 < ms(pw[0]) - ms(bad) <= 3600000,
                  f"{acct}: password changed within an hour of the attacker's login")
            seen["takeover"] += 1
    for k in ("ring", "returns", "cards", "takeover"):
        check(seen[k] > 0, f"main variant of {k} checked")


HARD_NEGATIVES = {"corporate_gift_cards", "size_exchange_returns", "lost_phone_abroad"}
CAUGHT_VARIANTS = {"single_order", "split_orders", "multi_seller", "ratio_only", "burst",
                   "foreign"}


def check_default_policy(stream):
    """The labels agree with the default policy (policy/default.rules) as kagi replay runs
    it: ordinary customers, edge cases included, are never held or locked
    (hard negatives aside), and the main variant of every scenario is."""
    policy = os.path.join(os.environ.get("KG_SOURCE_DIR", "."), "policy", "default.rules")
    if not os.path.exists(policy):
        print("skip: no policy/default.rules")
        return
    r = subprocess.run([KAGI, "replay", "--policy", policy, "-"], input=stream,
                       capture_output=True, timeout=600)
    if not check(r.returncode == 0, f"replay exits 0: {r.stderr[-500:]!r}"):
        return
    lines, decisions = stream.decode().splitlines(), r.stdout.decode().splitlines()
    check(len(lines) == len(decisions), "one decision per event")
    flagged, exempt, variant = set(), set(), {}
    for line, d in zip(lines, decisions):
        ev, dec = json.loads(line), json.loads(d)
        check(dec.get("event") == ev["id"], f"decision for {ev['id']}: {d[:200]}")
        lab = ev["label"]
        if lab["fraud"] or lab.get("edge") in HARD_NEGATIVES:
            exempt.add(ev["account"])
        if lab["fraud"]:
            variant[ev["account"]] = lab.get("variant")
        if dec.get("action") in ("hold", "lock"):
            flagged.add(ev["account"])
    wrong = sorted(flagged - exempt)
    check(not wrong, f"ordinary accounts held or locked: {wrong[:5]}")
    missed = sorted(a for a, v in variant.items() if v in CAUGHT_VARIANTS and a not in flagged)
    check(not missed, f"main-variant fraud accounts not flagged: {missed[:5]}")
    check(len(flagged & set(variant)) >= 20, "fraud accounts are flagged")


def main():
    base = ["--accounts", "3000", "--days", "30"]
    a = run(*base, "--seed", "7")
    check(a.returncode == 0, f"simulate exits 0: {a.stderr.decode()}")
    b = run(*base, "--seed", "7")
    check(a.stdout == b.stdout, "same seed: byte-identical output")
    c = run(*base, "--seed", "8")
    check(c.returncode == 0 and c.stdout != a.stdout, "another seed: another stream")

    # the stream of a seed never changes: its digest is stored (tests/data/sim)
    with open(os.path.join(DATA, "sim", "accounts1000-days30-seed1.md5"), encoding="utf-8") as f:
        want = f.read().split()[0]
    d = run("--accounts", "1000", "--days", "30", "--seed", "1")
    check(hashlib.md5(d.stdout).hexdigest() == want,
          f"--accounts 1000 --days 30 --seed 1: md5 {want} (tests/data/sim)")

    lines = a.stdout.decode("utf-8").splitlines()
    check(len(lines) > 30000, f"3000 accounts give > 30,000 events ({len(lines)})")
    events = validate(lines)
    check(len({e["account"] for e in events}) == 3000, "every account appears")
    check(min(e["ts"] for e in events) >= "2026-10-01T00:00:00", "default start")
    check_scenarios(events)
    check_default_policy(a.stdout)

    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "ev.ndjson")
        r = run("--accounts", "200", "--days", "3", "--seed", "7", "--out", out,
                "--start", "2027-01-01T09:00:00+09:00", "--fraud-rate", "0", "--stats")
        check(r.returncode == 0, f"--out/--start/--fraud-rate: {r.stderr.decode()}")
        with open(out, encoding="utf-8") as f:
            small = validate(f.read().splitlines())
        check(small and small[0]["ts"] >= "2027-01-01T00:00:00", "--start is honoured")
        check(all(e["ts"] < "2027-01-04T00:00:00" for e in small), "--days bounds the window")
        check(all(e["label"]["scenario"] == "normal" for e in small), "--fraud-rate 0: no fraud")
        stats = json.loads(r.stderr.decode().strip().splitlines()[-1])
        check(stats["events"] == len(small), "--stats counts the events written")
        r = run("--accounts", "10", "--out", os.path.join(d, "no", "such", "dir"))
        check(r.returncode == 1 and b"--out" in r.stderr, "unwritable --out fails with exit 1")

    h = run("--help")
    check(h.returncode == 0 and b"--fraud-rate" in h.stdout and b"label" in h.stdout,
          "--help documents options and the label")

    for args, opt in [(["--accounts", "0"], "--accounts"), (["--accounts", "abc"], "--accounts"),
                      (["--accounts", "-5"], "--accounts"), (["--days", "0"], "--days"),
                      (["--days", "99999"], "--days"), (["--seed", "x1"], "--seed"),
                      (["--start", "yesterday"], "--start"), (["--fraud-rate", "1.5"], "--fraud-rate"),
                      (["--fraud-rate", "nan"], "--fraud-rate"), (["--bogus"], "--bogus"),
                      (["--accounts"], "--accounts"), (["--out", ""], "--out"),
                      (["stray"], "stray")]:
        r = run(*args)
        check(r.returncode == 2, f"{args}: exit 2, got {r.returncode}")
        check(opt.encode() in r.stderr, f"{args}: message names {opt}: {r.stderr!r}")
        check(not r.stdout, f"{args}: nothing written")

    if FAILURES:
        print(f"{len(FAILURES)} check(s) failed", file=sys.stderr)
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
