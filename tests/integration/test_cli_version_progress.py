"""`kagi --version` and `kagi version` print the project version of
CMakeLists.txt and the git commit of the build; long commands (replay,
simulate) show their progress on stderr when it is a terminal (a pty here),
and print nothing there when stderr is a pipe."""
import os
import pty
import re
import subprocess
import tempfile
import shutil

import kagitest as kt
from kagitest import check


def project_version():
    text = open(os.path.join(kt.SOURCE_DIR, "CMakeLists.txt"), encoding="utf-8").read()
    return re.search(r"project\(kagi VERSION ([0-9.]+)", text).group(1)


def test_version():
    want = project_version()
    outs = []
    for args in (["--version"], ["version"]):
        p = kt.kagi(*args)
        first = p.stdout.splitlines()[0]
        check(first.startswith(f"kagi {want}"), f"kagi {' '.join(args)} names {want}", first)
        outs.append(p.stdout)
    check(outs[0] == outs[1], "--version and version print the same", outs)
    head = subprocess.run(["git", "-C", kt.SOURCE_DIR, "rev-parse", "HEAD"],
                          capture_output=True, text=True)
    if head.returncode == 0:  # built from a git checkout: the commit is named
        m = re.search(r"\(commit ([0-9a-f]{7,40})(-dirty)?\)", outs[0])
        check(m and head.stdout.strip().startswith(m.group(1)), "the build's git commit",
              (outs[0], head.stdout))
    p = kt.kagi("version", "extra", check_rc=False)
    check(p.returncode == 2, "kagi version takes no argument", p.returncode)


def run_on_pty(args):
    """Runs kagi with stderr on a pseudo-terminal; returns (rc, stderr text)."""
    master, slave = pty.openpty()
    env = dict(os.environ, **kt.FAST_ENV)
    p = subprocess.Popen([kt.KAGI_BIN, *args], stdout=subprocess.DEVNULL, stderr=slave,
                         stdin=subprocess.DEVNULL, env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:  # EIO: the last writer closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return p.wait(120), b"".join(chunks).decode("utf-8", "replace")


def test_progress():
    tmp = tempfile.mkdtemp(prefix="kagitest-progress-")
    try:
        events = os.path.join(tmp, "events.ndjson")
        sim = ["simulate", "--accounts", "60", "--days", "3", "--seed", "7", "--out", events]
        rc, err = run_on_pty(sim)
        check(rc == 0, "simulate on a terminal", err)
        n = sum(1 for _ in open(events))
        check(re.search(rf"simulate \(write\): {n} events, \d+ events/s", err),
              "simulate shows its progress on a terminal", err)
        p = kt.kagi(*sim)
        check(p.stderr == "", "simulate prints no progress on a pipe", p.stderr)

        policy = os.path.join(kt.SOURCE_DIR, "policy", "default.rules")
        for extra in ([], ["--db", os.path.join(tmp, "replay.db")]):
            args = ["replay", "--quiet", "--policy", policy, *extra, events]
            rc, err = run_on_pty(args)
            check(rc == 0, f"replay {extra} on a terminal", err)
            check(re.search(rf"replay: {n} events, \d+ events/s, [0-9.]+ s", err),
                  f"replay {extra} shows the events decided and their rate", err)
            if extra:
                os.remove(extra[1])
            p = kt.kagi(*args)
            check(p.stderr == "", f"replay {extra} prints no progress on a pipe", p.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    kt.main([test_version, test_progress])
