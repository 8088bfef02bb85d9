"""Real loopback receivers for the notify tests (stdlib only).

SmtpSink: an SMTP server speaking enough of RFC 5321 for libcurl (EHLO/HELO,
MAIL, RCPT, DATA, RSET, NOOP, QUIT). It records every message whose DATA
ended with "<CRLF>.<CRLF>", before it answers, so a client killed while
waiting for the answer has still delivered it once (the crash test relies on
this). `delay_s` makes it wait that long before answering DATA.

WebhookSink: an HTTP server that checks kagi's webhook signature the way
docs/operations.md tells a shop to, answers 200 for a good one and 401 for a
bad one, and records both.
"""
import email
import email.policy
import hashlib
import hmac
import http.server
import json
import socketserver
import threading
import time


class _SmtpHandler(socketserver.StreamRequestHandler):
    def _send(self, line):
        try:
            self.wfile.write(line.encode() + b"\r\n")
            self.wfile.flush()
        except OSError:  # the client went away (the crash test kills it)
            pass

    def handle(self):
        sink = self.server.sink
        self._send("220 kagi-test-sink ESMTP")
        mail_from, rcpts = None, []
        while True:
            try:
                line = self.rfile.readline()
            except OSError:
                return
            if not line:
                return
            cmd = line.decode("utf-8", "replace").strip()
            verb = cmd.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                if verb == "EHLO":
                    self._send("250-kagi-test-sink")
                    self._send("250-8BITMIME")
                    self._send("250 SIZE 10485760")
                else:
                    self._send("250 kagi-test-sink")
            elif verb == "MAIL":
                mail_from, rcpts = (cmd[10:].split() or [""])[0], []
                self._send("250 OK")
            elif verb == "RCPT":
                rcpts.append(cmd[8:].strip().strip("<>"))
                self._send("250 OK")
            elif verb == "DATA":
                self._send("354 end with <CRLF>.<CRLF>")
                lines = []
                while True:
                    try:
                        dl = self.rfile.readline()
                    except OSError:
                        return
                    if not dl:
                        return
                    if dl in (b".\r\n", b".\n"):
                        break
                    if dl.startswith(b".."):
                        dl = dl[1:]
                    lines.append(dl)
                sink._record(mail_from, rcpts, b"".join(lines))
                if sink.delay_s:
                    time.sleep(sink.delay_s)
                self._send("250 OK queued")
            elif verb in ("RSET", "NOOP"):
                self._send("250 OK")
            elif verb == "QUIT":
                self._send("221 bye")
                return
            else:
                self._send("502 not implemented")


class _Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


class SmtpSink:
    def __init__(self, delay_s=0.0):
        self.delay_s = delay_s
        self.messages = []  # dicts: from, rcpts, raw, msg (email.message.EmailMessage)
        self._lock = threading.Lock()
        self._srv = _Server(("127.0.0.1", 0), _SmtpHandler)
        self._srv.sink = self
        self.port = self._srv.server_address[1]
        self.url = "smtp://127.0.0.1:%d" % self.port
        self._thread = threading.Thread(target=self._srv.serve_forever, daemon=True)
        self._thread.start()

    def _record(self, mail_from, rcpts, raw):
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        with self._lock:
            self.messages.append({"from": mail_from, "rcpts": rcpts, "raw": raw, "msg": msg})

    def snapshot(self):
        with self._lock:
            return list(self.messages)

    def wait_for(self, pred, timeout_s=60.0):
        """Waits until pred(messages) is true; returns the messages."""
        end = time.time() + timeout_s
        while time.time() < end:
            msgs = self.snapshot()
            if pred(msgs):
                return msgs
            time.sleep(0.05)
        raise AssertionError("SMTP sink: condition not met in %.0f s; got %d messages"
                             % (timeout_s, len(self.snapshot())))

    def close(self):
        self._srv.shutdown()
        self._srv.server_close()


def parts(msg):
    """(text, html) of a multipart/alternative notice."""
    text = msg.get_body(preferencelist=("plain",)).get_content()
    html = msg.get_body(preferencelist=("html",)).get_content()
    return text, html


def verify_signature(secret, headers, body):
    """The receiver's recipe of docs/operations.md ## Notifications."""
    ts = headers.get("X-Kagi-Timestamp", "")
    sig = headers.get("X-Kagi-Signature", "")
    if not ts.isdigit() or abs(time.time() - int(ts)) > 300:
        return False
    want = "v1=" + hmac.new(secret.encode(), ts.encode() + b"." + body,
                            hashlib.sha256).hexdigest()
    return hmac.compare_digest(want, sig)


class _HookHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):
        pass

    def do_POST(self):
        sink = self.server.sink
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        ok = verify_signature(sink.secret, self.headers, body)
        try:
            doc = json.loads(body)
        except ValueError:
            doc = None
        with sink._lock:
            sink.requests.append({"headers": dict(self.headers), "body": body, "json": doc,
                                  "valid": ok})
        self.send_response(200 if ok else 401)
        self.send_header("Content-Length", "0")
        self.end_headers()


class _HttpServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


class WebhookSink:
    def __init__(self, secret):
        self.secret = secret
        self.requests = []
        self._lock = threading.Lock()
        self._srv = _HttpServer(("127.0.0.1", 0), _HookHandler)
        self._srv.sink = self
        self.url = "http://127.0.0.1:%d/hooks/kagi" % self._srv.server_address[1]
        threading.Thread(target=self._srv.serve_forever, daemon=True).start()

    def snapshot(self):
        with self._lock:
            return list(self.requests)

    def wait_for(self, pred, timeout_s=60.0):
        end = time.time() + timeout_s
        while time.time() < end:
            reqs = self.snapshot()
            if pred(reqs):
                return reqs
            time.sleep(0.05)
        raise AssertionError("webhook sink: condition not met in %.0f s; got %d requests"
                             % (timeout_s, len(self.snapshot())))

    def close(self):
        self._srv.shutdown()
        self._srv.server_close()
