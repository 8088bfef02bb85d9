#!/usr/bin/env python3
"""Notice delivery figures: how fast kagid's delivery worker empties the
outbox into an SMTP server on loopback (the test's stdlib listener, which
answers at once), and how fast webhooks go out to a loopback receiver.

    python3 bench/notify.py [BUILD_DIR]     (default build/release; N=2000)

N notices (lock, ja, DKIM off) and N webhook events are queued first with
`kagi outbox send-test` / `kagi webhooks send-test` while kagid is down; the
clock runs from kagid's start until the receivers have every one. Writes the
section "notify" of docs/BENCHMARKS.md.
"""
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(HERE, "tests", "integration"))
import mailsink  # noqa: E402

N = int(os.environ.get("N", "2000"))


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build/release"
    kagi = os.path.join(build if os.path.isabs(build) else os.path.join(HERE, build), "kagi")
    tmp = tempfile.mkdtemp(prefix="kagi-bench-notify-", dir=os.path.join(HERE, "bench"))
    db = os.path.join(tmp, "kagi.db")
    sink = mailsink.SmtpSink()
    hooks = mailsink.WebhookSink("bench-webhook-secret-0123")
    env = dict(os.environ, KAGI_SMTP_URL=sink.url, KAGI_WEBHOOK_URL=hooks.url,
               KAGI_WEBHOOK_SECRET="bench-webhook-secret-0123", KAGI_NOTIFY_POLL_MS="50",
               KAGI_NOTIFY_BATCH="64", KAGI_LOG_LEVEL="warn",
               KAGI_ACCOUNT_SECRET_KEY="5a" * 32)
    proc = None
    try:
        t0 = time.monotonic()
        for i in range(N):
            subprocess.run([kagi, "outbox", "send-test", "--db", db, "--to", f"b{i}@example.jp",
                            "--name", "山田 太郎", "--kind", "lock", "--lang", "ja"],
                           env=env, check=True, capture_output=True)
            subprocess.run([kagi, "webhooks", "send-test", "--db", db, "--type", "lock",
                            "--account", f"acc-{i}"], env=env, check=True, capture_output=True)
        queued_s = time.monotonic() - t0
        port_file = os.path.join(tmp, "port")
        t0 = time.monotonic()
        proc = subprocess.Popen([kagi, "serve", "--db", db, "--listen", "127.0.0.1:0",
                                 "--port-file", port_file], env=env,
                                stderr=open(os.path.join(tmp, "kagid.log"), "wb"))
        t_mail = t_hook = None
        while time.monotonic() - t0 < 600 and (t_mail is None or t_hook is None):
            if t_mail is None and len(sink.snapshot()) >= N:
                t_mail = time.monotonic() - t0
            if t_hook is None and len(hooks.snapshot()) >= N:
                t_hook = time.monotonic() - t0
            time.sleep(0.01)
        proc.terminate()
        proc.wait(60)
        proc = None
        assert t_mail and t_hook, "not everything arrived"
        assert all(r["valid"] for r in hooks.snapshot()), "a webhook signature did not verify"
        size = sum(len(m["raw"]) for m in sink.snapshot()) // N
        commit = subprocess.run(["git", "-C", HERE, "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True).stdout.strip()
        section = f"""<!-- bench:notify -->
## notify — notice delivery by the worker in kagid

- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, commit `{commit}`, machine: {os.cpu_count()} cores, {cpu_model()}, shared (load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} at the end)
- command: `python3 bench/notify.py` (N={N}, release build): N lock notices (ja, sealed at rest, {size} bytes each) and N webhook events queued while kagid is down, then kagid started; time from start until the loopback receivers (tests/integration/mailsink.py: Python SMTP listener and HTTP receiver, which check every webhook signature) have all of them
- one SMTP connection per message (libcurl easy handle per send), one HTTP POST per event; `notify.batch` 64; each outcome recorded in its own durable commit

| what | count | seconds | per second |
|---|---|---|---|
| mails delivered (outbox → SMTP) | {N} | {t_mail:.2f} | {N / t_mail:.0f} |
| webhooks delivered (signed POST) | {N} | {t_hook:.2f} | {N / t_hook:.0f} |
| queued by `kagi ... send-test` (one process each: render, MIME, seal, commit) | {2 * N} | {queued_s:.2f} | {2 * N / queued_s:.0f} |

Mail and webhooks are sent by the same worker thread, one after the other
within each pass, so the two figures overlap: together they are the worker's
rate. The receivers are single Python processes and are part of what is measured.
<!-- /bench:notify -->"""
        sys.path.insert(0, os.path.join(HERE, "bench"))
        import section as bench_section
        bench_section.write_block(section)
        print(section)
    finally:
        if proc:
            proc.kill()
        sink.close()
        hooks.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
