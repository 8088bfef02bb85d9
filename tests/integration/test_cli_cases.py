#!/usr/bin/env python3
"""The kagi command line as data: every tests/data/cli/*.txt is a list of
invocations with the exit status and the text expected on stdout/stderr
(the format is described in tests/data/cli/README). Each file runs in a
fresh temp directory with a fresh store {db}. Also: src/cli stays thin (no
http/ outside kagi serve, no raw store transactions, no getopt)."""
import glob
import os
import shlex
import sys
import tempfile

import kagitest as kt


def parse(path):
    """[(line, args, [(directive, text)])] of one case file."""
    cases = []
    with open(path, encoding="utf-8") as f:
        for n, raw in enumerate(f, 1):
            line = raw.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            word, _, rest = line.partition(" ")
            if word == "$":
                args = shlex.split(rest)
                kt.check(args and args[0] == "kagi", f"{path}:{n}: a case starts with \"$ kagi\"")
                cases.append((n, args[1:], []))
            elif word in ("exit", "stdout", "stderr", "!stdout", "!stderr", "stdin"):
                kt.check(cases, f"{path}:{n}: {word} before any \"$ kagi\"")
                cases[-1][2].append((word, rest))
            else:
                raise kt.TestFailure(f"{path}:{n}: unknown directive {word!r}")
    return cases


def run_file(path):
    name = os.path.basename(path)
    with tempfile.TemporaryDirectory(prefix="kagi-cli-cases-") as tmp:
        db = os.path.join(tmp, "kagi.db")
        kt.kagi("init", "--db", db)
        subst = {"{db}": db, "{tmp}": tmp, "{src}": kt.SOURCE_DIR, "{data}": kt.TEST_DATA}
        for n, args, expects in parse(path):
            for k, v in subst.items():
                args = [a.replace(k, v) for a in args]
            stdin = "".join(t.encode().decode("unicode_escape") for d, t in expects if d == "stdin")
            p = kt.kagi(*args, input=stdin or None, check_rc=False)
            where = f"{name}:{n}: kagi {' '.join(args)}"
            want_exit = 0
            for d, text in expects:
                text = text.replace("{db}", db).replace("{tmp}", tmp)
                if d == "exit":
                    want_exit = int(text)
                elif d in ("stdout", "stderr", "!stdout", "!stderr"):
                    got = p.stdout if d.endswith("stdout") else p.stderr
                    if d.startswith("!"):
                        kt.expect(text not in got, f"{where}: {d[1:]} has no {text!r}: {got!r}")
                    else:
                        kt.expect(text in got, f"{where}: {d} has {text!r}: {got!r}")
            kt.expect(p.returncode == want_exit,
                      f"{where}: exit {want_exit}, got {p.returncode}: {p.stderr.strip()!r}")


def check_layering():
    """The CLI is thin: only `kagi serve` reaches the HTTP server (through
    http/http.h), no command opens a store transaction of its own, and the
    one option parser is the only one."""
    cli = os.path.join(kt.SOURCE_DIR, "src", "cli")
    for path in sorted(glob.glob(os.path.join(cli, "*.[ch]"))):
        name = os.path.basename(path)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        if name != "cmd_serve.c":
            kt.expect('"http/' not in text and "kg_http_" not in text,
                      f"src/cli/{name} includes or calls http/")
        for word in ("kg_tx_", "kg_store_write", "kg_store_read", "getopt"):
            kt.expect(word not in text, f"src/cli/{name} uses {word}")


def main():
    check_layering()
    files = sorted(glob.glob(kt.data_path("cli", "*.txt")))
    kt.check(files, "no case files in tests/data/cli")
    for f in files:
        before = len(kt.failures)
        run_file(f)
        print(f"{'FAIL' if len(kt.failures) > before else 'ok  '} {os.path.basename(f)}")
    if kt.failures:
        print(f"{len(kt.failures)} expectation(s) failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
