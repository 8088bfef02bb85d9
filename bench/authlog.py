#!/usr/bin/env python3
"""One stream of ssh logins written twice: as sshd syslog lines for
fail2ban-regex and as kagi `login` events (docs/api.md, "Event contract"),
so that both engines read the same logins. Deterministic (seed 42).

~30 % failures from 5,000 attacker IPs (a Pareto-skewed few of them
persistent) trying 12 common user names; the rest accepted logins of 6
users from 300 internal IPs; 0-170 ms apart.

Usage: authlog.py N AUTH_LOG EVENTS_NDJSON -> prints {"lines","failures"}"""
import datetime
import json
import random
import sys


def main():
    n, log_path, ev_path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    rnd = random.Random(42)
    bad_ips = [f"{rnd.choice([203, 198, 192, 45, 185, 91, 61, 222])}.{rnd.randrange(256)}."
               f"{rnd.randrange(256)}.{rnd.randrange(1, 255)}" for _ in range(5000)]
    good_ips = [f"10.{rnd.randrange(256)}.{rnd.randrange(256)}.{rnd.randrange(1, 255)}"
                for _ in range(300)]
    bad_users = ["admin", "root", "test", "oracle", "ubuntu", "user", "postgres", "git",
                 "pi", "guest", "ftpuser", "support"]
    good_users = ["alice", "bob", "carol", "deploy", "backup", "svc-ci"]
    t = datetime.datetime(2026, 11, 28, 0, 0, 0)
    failures = 0
    with open(log_path, "w") as log, open(ev_path, "w") as ev:
        for i in range(n):
            t += datetime.timedelta(milliseconds=rnd.randrange(0, 170))
            pid, port = rnd.randrange(1000, 65000), rnd.randrange(1024, 65535)
            if rnd.random() < 0.30:
                failures += 1
                ip = (bad_ips[int(rnd.paretovariate(1.2)) % 5000] if rnd.random() < 0.5
                      else rnd.choice(bad_ips))
                user, k, ok = rnd.choice(bad_users), rnd.random(), False
                if k < 0.55:
                    msg = f"Failed password for invalid user {user} from {ip} port {port} ssh2"
                elif k < 0.80:
                    msg = f"Failed password for {user} from {ip} port {port} ssh2"
                elif k < 0.92:
                    msg = f"Invalid user {user} from {ip} port {port}"
                else:
                    msg = f"Connection closed by authenticating user {user} {ip} port {port} [preauth]"
            else:
                ip, user, ok = rnd.choice(good_ips), rnd.choice(good_users), True
                msg = f"Accepted password for {user} from {ip} port {port} ssh2"
            day = t.strftime("%b %d").replace(" 0", "  ")
            log.write(f"{day} {t:%H:%M:%S} host sshd[{pid}]: {msg}\n")
            ev.write(json.dumps({
                "id": f"ssh-{i}", "type": "login", "account": f"ssh:{user}",
                "ts": t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z",
                "success": ok, "ip": ip, "device_id": f"sshd:{ip}"},
                separators=(",", ":")) + "\n")
    print(json.dumps({"lines": n, "failures": failures}))


if __name__ == "__main__":
    main()
