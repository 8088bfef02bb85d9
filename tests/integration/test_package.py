"""The Debian package: scripts/build-deb.sh builds it from this tree with
dpkg-buildpackage; the test installs it on this machine (dpkg -i, as root),
checks what the package put in place (the kagi user, /var/lib/kagi 0700,
/etc/kagi/kagi.conf, the systemd unit with its hardening, which
systemd-analyze verifies), starts kagid as the unit does (kagid-start as the
kagi user; through systemctl when systemd runs), gets /healthz, and purges
the package again (state and user gone). Needs root: the CI runs as root;
elsewhere it exits 77 (ctest: skipped)."""
import grp
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import kagitest as kt

ROOT = os.environ.get("KG_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
UNIT = "/lib/systemd/system/kagid.service"
HARDENING = ["User=kagi", "NoNewPrivileges=yes", "ProtectSystem=strict", "StateDirectory=kagi",
             "ProtectHome=yes", "PrivateTmp=yes", "CapabilityBoundingSet="]


def sh(*args, check=True, **kw):
    p = subprocess.run(list(args), capture_output=True, text=True, **kw)
    if check and p.returncode != 0:
        raise kt.TestFailure(f"{' '.join(args)} exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
    return p


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthz(port, timeout_s=30):
    end = time.time() + timeout_s
    while time.time() < end:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                return r.status, json.loads(r.read())
        except OSError:
            time.sleep(0.1)
    return None, None


def installed_package_serves():
    out = tempfile.mkdtemp(prefix="kagi-deb-")
    try:
        deb = sh("bash", os.path.join(ROOT, "scripts", "build-deb.sh"), out,
                 cwd=ROOT).stdout.strip().splitlines()[-1]
        kt.check(deb.endswith(".deb") and os.path.exists(deb), "a .deb was built", deb)
        info = sh("dpkg-deb", "-f", deb, "Package", "Depends").stdout
        kt.check("Package: kagi" in info and "libsodium" in info, "package fields", info)
        sh("dpkg", "--purge", "kagi", check=False)
        sh("dpkg", "-i", deb)
        try:
            u = pwd.getpwnam("kagi")
            kt.check(grp.getgrgid(u.pw_gid).gr_name == "kagi", "kagi group")
            st = os.stat("/var/lib/kagi")
            kt.check(st.st_uid == u.pw_uid and (st.st_mode & 0o777) == 0o700,
                     "/var/lib/kagi is the kagi user's, 0700", oct(st.st_mode))
            for f in ("/usr/bin/kagi", "/usr/lib/kagi/kagid-start",
                      "/usr/share/kagi/policy/default.rules", "/etc/kagi/kagi.conf", UNIT):
                kt.check(os.path.exists(f), f"installed: {f}")
            unit = open(UNIT).read()
            for h in HARDENING:
                kt.check(h in unit.splitlines(), f"unit has {h}", unit)
            if shutil.which("systemd-analyze"):
                v = sh("systemd-analyze", "verify", UNIT, check=False)
                kt.check(v.returncode == 0, "systemd-analyze verify", v.stderr)
            ver = sh("/usr/bin/kagi", "rules", "check", "/usr/share/kagi/policy/default.rules")
            kt.check(ver.returncode == 0, "the packaged policy checks")

            if os.path.isdir("/run/systemd/system"):  # a machine with systemd: the real unit
                sh("systemctl", "restart", "kagid")
                port = 8080
                status, body = healthz(port)
            else:  # as the unit runs it: ExecStart as User=kagi (setpriv execs it: SIGTERM reaches kagid)
                port = free_port()
                env = dict(PATH="/usr/sbin:/usr/bin:/sbin:/bin", KAGI_HTTP_LISTEN=f"127.0.0.1:{port}")
                proc = subprocess.Popen(["setpriv", "--reuid=kagi", "--regid=kagi",
                                         "--init-groups", "/usr/lib/kagi/kagid-start"], env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                try:
                    status, body = healthz(port)
                finally:
                    proc.terminate()
                    log = proc.communicate(timeout=30)[0].decode("utf-8", "replace")
                kt.check(proc.returncode == 0, "kagid stops cleanly on SIGTERM", log)
            kt.check(status == 200 and body and body.get("status") == "ok",
                     "packaged kagid answers /healthz", (status, body))
            for f in ("/var/lib/kagi/kagi.db", "/var/lib/kagi/secret.key"):
                s = os.stat(f)
                kt.check(s.st_uid == u.pw_uid and not (s.st_mode & 0o077),
                         f"{f} is the kagi user's only", oct(s.st_mode))
        finally:
            if os.path.isdir("/run/systemd/system"):
                sh("systemctl", "stop", "kagid", check=False)
            sh("dpkg", "--purge", "kagi")
        kt.check(not os.path.exists("/var/lib/kagi"), "purge removes the state")
        kt.check(not os.path.exists("/usr/bin/kagi"), "purge removes the binary")
        try:
            pwd.getpwnam("kagi")
            kt.check(False, "purge removes the kagi user")
        except KeyError:
            pass
    finally:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("test_package: needs root to install a package; skipped")
        sys.exit(77)
    kt.main([installed_package_serves])
