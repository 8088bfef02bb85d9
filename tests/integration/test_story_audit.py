"""Story (S11): every change is in the per-account hash-chained audit log;
editing one audit row directly in the store (SQLite or PostgreSQL), or
deleting one, is found by `kagi audit verify`."""
import accountstory as st
import kagitest as kt


def story():
    k = kt.Kagid(env=st.ENV)
    try:
        k.start()
        shop = st.Shop(k)
        acc = shop.account(9)
        aid = acc["id"]
        shop.lock(aid, "gift_card")
        case = k.post("/v1/cases", {"account": aid, "text": "call"}, key=shop.agent).json["id"]
        k.post(f"/v1/cases/{case}/verify", shop.verify_body(acc), key=shop.agent)
        k.post(f"/v1/accounts/{aid}/unlock", {}, key=shop.agent)
        other = shop.account(15)
        shop.lock(other["id"], "manual")
        k.stop()
        check_log(k.db, aid, other)
    finally:
        k.cleanup()


def check_log(db, aid, other):
    r = kt.kagi("audit", "verify", "--db", db, check_rc=False)
    kt.check(r.returncode == 0 and "intact" in r.stdout, "intact log", r.stdout + r.stderr)
    actions = kt.kagi("audit", "list", "--db", db, aid).stdout
    for a in ('"lock"', '"case_open"', '"identity_check"', '"unlock"'):
        kt.check(a in actions, f"{a} audited", actions)

    kt.execute(db, "UPDATE audit SET detail = replace(detail, 'gift_card', 'manual') "
               "WHERE account_id = ? AND action = 'lock'", (aid,))
    r = kt.kagi("audit", "verify", "--db", db, aid, check_rc=False)
    kt.check(r.returncode == 1 and "altered" in r.stdout and aid in r.stdout, "edit found", r.stdout + r.stderr)
    r = kt.kagi("audit", "verify", "--db", db, other["id"], check_rc=False)
    kt.check(r.returncode == 0, "the other chain is intact", r.stdout)

    kt.execute(db, "DELETE FROM audit WHERE account_id = ? AND seq = 1", (other["id"],))
    r = kt.kagi("audit", "verify", "--db", db, check_rc=False)
    kt.check(r.returncode == 1 and "removed" in r.stdout, "deletion found", r.stdout + r.stderr)


if __name__ == "__main__":
    kt.main([story])
