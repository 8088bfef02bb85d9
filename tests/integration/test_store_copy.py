"""`kagi store copy` moves a SQLite store into PostgreSQL whole: after the
copy, the CLI reads the same rows from both (the message center, the
outbox, a sealed-free mail byte for byte) and the audit chain verifies
intact on PostgreSQL (its hashes came along); a second copy into the now
non-empty database is refused and changes nothing; a copy the wrong way
round is refused. Runs in the PostgreSQL pass only (KAGI_TEST_STORE_FILE);
skipped (77) without a server."""
import os
import sys
import tempfile

import kagitest as kt
from kagitest import check


def main():
    url = kt.test_store()
    if not url:
        print("no PostgreSQL server (KAGI_TEST_STORE_FILE): skipped")
        sys.exit(77)
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "kagi.db")
        kt.kagi("init", "--db", db)
        kt.kagi("account", "create", "--db", db, "--id", "a1", "--name", "山田 太郎", "--email",
                "a1@example.jp", "--postal-code", "150-0001", "--region", "東京都",
                "--city", "渋谷区", "--line1", "1-2-3 \\ 4", "--country", "JP")
        kt.kagi("lock", "--db", db, "a1", "--reason", "gift_card")
        # the guard's rows: a policy loaded (its rules promoted, a version)
        # and a rule of a changed policy pending (docs/guard.md)
        policy = os.path.join(tmp, "p.rules")
        with open(policy, "w", encoding="utf-8") as f:
            f.write("rule big on order {\n  when amount >= 100000\n  lock payment_fraud\n}\n")
        kt.kagi("replay", "--db", db, "--quiet", "--policy", policy, "-", input="")
        with open(policy, "a", encoding="utf-8") as f:
            f.write("rule bigger on order {\n  when amount >= 1000000\n  lock payment_fraud\n}\n")
        r = kt.kagi("store", "copy", "--from", db, "--to", url)
        check(r.stdout.startswith("copied ") and " rows from " in r.stdout, "copy says what", r.stdout)
        for args in (["messages", "a1"], ["outbox", "list"], ["rules", "pending", "--policy", policy],
                     ["rules", "versions"]):
            a = kt.kagi(args[0], *args[1:], "--db", db).stdout
            b = kt.kagi(args[0], *args[1:], "--db", url).stdout
            check(a == b and a.strip(), f"kagi {' '.join(args)} reads the same on both", (a, b))
        pending = kt.kagi("rules", "pending", "--db", url, "--policy", policy).stdout
        check('"bigger"' in pending and '"big"' in pending, "promoted and pending rules came along",
              pending)
        out_id = kt.kagi("outbox", "list", "--db", db).stdout.split()[0]
        a = kt.kagi("outbox", "show", "--db", db, "--raw", out_id).stdout
        b = kt.kagi("outbox", "show", "--db", url, "--raw", out_id).stdout
        check(a == b, "the queued mail is the same bytes", (a[:200], b[:200]))
        v = kt.kagi("audit", "verify", "--db", url).stdout
        check("intact" in v and "0 altered" in v and "4 entries" in v, "the chain came along", v)
        again = kt.kagi("store", "copy", "--from", db, "--to", url, check_rc=False)
        check(again.returncode != 0 and "not empty" in again.stderr, "a second copy is refused",
              again)
        check(kt.kagi("outbox", "list", "--db", url).stdout.count("\n") == 1, "and changed nothing")
        wrong = kt.kagi("store", "copy", "--from", url, "--to", db, check_rc=False)
        check(wrong.returncode != 0 and "SQLite file to a postgres" in wrong.stderr,
              "the wrong way round is refused", wrong)
    print("ok")


if __name__ == "__main__":
    main()
