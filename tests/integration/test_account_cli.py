"""Operator CLI of the account module on a store file: kagi lock, messages,
cases, unlock, audit — and their refusals (bad reason, missing reason,
unknown account, bad usage)."""
import json
import os
import shutil
import tempfile

import accountstory as st
import kagitest as kt


def cli():
    tmp = tempfile.mkdtemp(prefix="kagi-cli-")
    try:
        db = os.path.join(tmp, "kagi.db")
        env = dict(st.ENV)
        run = lambda *a, **kw: kt.kagi(*a, env=env, **kw)  # noqa: E731
        run("init", "--db", db)
        run("account", "create", "--db", db, "--id", "c-1", "--name", "佐藤 花子", "--email", "hanako@example.jp",
            "--postal-code", "530-0001", "--region", "大阪府", "--city", "大阪市北区", "--line1", "梅田2-4-9",
            "--country", "JP", "--password", st.PASSWORD, "--card", "HANAKO SATO|1881|03/28|fp-1")
        lock_id = run("lock", "--db", db, "c-1", "--reason", "return_abuse", "--note", "3 sellers reported").stdout.strip()
        kt.check(lock_id.startswith("lk_"), "lock prints the id", lock_id)
        msgs = [json.loads(l) for l in run("messages", "--db", db, "--full", "c-1").stdout.splitlines()]
        kt.check(len(msgs) == 1 and msgs[0]["kind"] == "lock_notice", "the notice", msgs)
        kt.check("佐藤 花子 様" in msgs[0]["text"] and "返品" in msgs[0]["text"], "named, with the reason", msgs)

        r = run("lock", "--db", db, "c-1", "--reason", "because", check_rc=False)
        kt.check(r.returncode == 2 and "unknown lock reason" in r.stderr, "bad reason", r.stderr)
        r = run("lock", "--db", db, "nobody", "--reason", "manual", check_rc=False)
        kt.check(r.returncode == 1 and "nobody" in r.stderr, "unknown account", r.stderr)
        r = run("unlock", "--db", db, "c-1", check_rc=False)
        kt.check(r.returncode == 2, "unlock needs a reason", r.stderr)
        r = run("cases", "--db", db, "frobnicate", check_rc=False)
        kt.check(r.returncode == 2, "bad usage", r.stderr)
        for cmd in ("lock", "unlock", "cases", "messages", "audit"):
            kt.check("usage: kagi " + cmd in run(cmd, "--help").stdout, f"{cmd} --help")

        kt.check(run("cases", "--db", db, "list").stdout == "", "no cases yet")
        out = run("unlock", "--db", db, "c-1", "--reason", "sellers withdrew their reports").stdout
        kt.check(out.split() == [lock_id, "return_abuse"], "unlock prints what it lifted", out)
        r = run("unlock", "--db", db, "c-1", "--reason", "again", check_rc=False)
        kt.check(r.returncode == 1 and "no active lock" in r.stderr, "nothing left to lift", r.stderr)
        kinds = [json.loads(l)["kind"] for l in run("messages", "--db", db, "c-1").stdout.splitlines()]
        kt.check(kinds == ["unlock_notice", "lock_notice"], "newest first", kinds)
        audit = run("audit", "list", "--db", db, "c-1").stdout
        kt.check('"admin:cli"' in audit and "sellers withdrew" in audit, "the admin's reason is audited", audit)
        kt.check(run("audit", "verify", "--db", db, "c-1").returncode == 0, "intact")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    kt.main([cli])
