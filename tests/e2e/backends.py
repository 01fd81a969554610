"""Provider systems for the gateway end-to-end tests: small HTTP servers in a thread
of the test process, on a free loopback port, that record exactly what reached them.

A Backend serves under any path; what it does depends on the last path segment(s)
(the gateway appends the path after the service id to the backend base URL):

  .../redirect        302 with Location: https://example.invalid/next?a=1 (never to be
                      followed: the name does not resolve)
  .../hang            sleeps HANG_S seconds (or until stop()), then answers 200
  .../close           sends headers with Content-Length: 1000, 10 bytes, and closes
  .../big             a 200 body of big_size bytes (set it above the gateway's max_body)
  .../endless         a 200 chunked body that never ends (until the reader goes away,
                      stop(), or ENDLESS_CAP bytes as a safety net)
  .../status/NNN      status NNN with a small JSON body {"error": "status NNN"}
  .../sink            200 {"received": N}: a short answer to a large request
  .../declare/LIST    an echo whose Ndx-Data-Subjects is LIST (percent-decoded), with the
                      status of ?status=NNN (default 200)
  .../undeclared      an echo without Ndx-Data-Subjects
  .../dropnext        an echo; then the next request that arrives on a connection that has
                      served one before (kept alive) is read and its connection closed
                      without an answer
  .../malformed       a status line that is not HTTP ("HTTP/1.1 2x0"), then closes
  .../modified/N      an echo whose Last-Modified (an IMF-fixdate) is N seconds ago: data
                      of that age, for an agreement's data-age limit
  anything else       200, application/json, an echo of the request (see echo())

Like a well-behaved provider system of a personal-data service, every answer declares
whom it is about in Ndx-Data-Subjects (docs/protocol.md "Data subjects"): the
Ndx-Subject the request named, or "none" when it named nobody, unless the route says
otherwise.

Every request is recorded before it is answered: Record(method, path, headers, body),
path being the raw request target (self.path: percent-encoding and query untouched),
headers a list of (name, value) pairs as received, body the raw bytes (chunked request
bodies are decoded).
"""

import base64
import email.utils
import hashlib
import json
import socket
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# The endless body stops here at the latest, so that a gateway that never
# stops reading cannot make the test run for ever (it then fails instead).
ENDLESS_CAP = 256 << 20

HANG_S = 6.0


@dataclass
class Record:
    method: str
    path: str
    headers: list = field(default_factory=list)
    body: bytes = b""
    client_ip: str = ""  # the address the request came from

    def header(self, name):
        """First value of header name (case-insensitive) or None."""
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def header_names(self):
        return {k.lower() for k, _ in self.headers}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def process_request(self, request, client_address):
        # Kept so that stop() can cut kept-alive connections too: a stopped
        # backend must look down to a gateway that pools connections.
        self.backend._track(request, True)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        self.backend._track(request, False)
        super().shutdown_request(request)

    def handle_error(self, request, client_address):
        pass  # a peer that went away (timeouts, closes) is expected here


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ndx-test-backend/1"
    disable_nagle_algorithm = True  # headers and body go in separate writes

    def log_message(self, fmt, *args):  # keep pytest output clean
        pass

    def _read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            out = b""
            while True:
                line = self.rfile.readline(1024)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return out
                out += self.rfile.read(size)
                self.rfile.readline(16)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def _send(self, status, body, content_type="application/json", extra=()):
        self.send_response(status)
        if self._subjects is not None:
            self.send_header("Ndx-Data-Subjects", self._subjects)
        if content_type:
            self.send_header("Content-Type", content_type)
        for k, v in extra:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _dispatch(self):
        backend = self.server.backend
        body = self._read_body()
        rec = Record(self.command, self.path, list(self.headers.items()), body,
                     self.client_address[0])
        backend._record(rec)
        self._served = getattr(self, "_served", 0) + 1
        if self._served > 1 and backend.drop_reused.is_set():
            # A kept-alive connection closed under a request, unanswered (what a
            # backend closing an idle connection as the request arrives looks like).
            backend.drop_reused.clear()
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        route = self.path.split("?", 1)[0].rstrip("/")
        parts = route.split("/")
        last = parts[-1] if parts else ""
        self._subjects = self.headers.get("Ndx-Subject") or "none"
        if len(parts) >= 2 and parts[-2] == "declare":
            self._subjects = urllib.parse.unquote(last)
            query = urllib.parse.parse_qs(self.path.partition("?")[2])
            self._send(int(query.get("status", ["200"])[0]), echo(rec), "application/json")
        elif len(parts) >= 2 and parts[-2] == "modified" and last.isdigit():
            self._send(200, echo(rec), "application/json",
                       [("Last-Modified", email.utils.formatdate(time.time() - int(last),
                                                                 usegmt=True))])
        elif last == "undeclared":
            self._subjects = None
            self._send(200, echo(rec), "application/json")
        elif last == "redirect":
            self._send(302, b"moved", "text/plain",
                       [("Location", "https://example.invalid/next?a=1")])
        elif last == "hang":
            backend._stopping.wait(HANG_S)
            self._send(200, b'{"late":true}')
        elif last == "close":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b'{"partial"')
            self.wfile.flush()
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        elif last == "dropnext":
            backend.drop_reused.set()
            self._send(200, echo(rec), "application/json")
        elif last == "malformed":
            # Not HTTP: a status line h2o's parser (and curl's) refuses.
            self.close_connection = True
            self.wfile.write(b"HTTP/1.1 2x0 what\r\nContent-Length: 2\r\n\r\nok")
            self.wfile.flush()
        elif last == "big":
            self._send(200, b"x" * backend.big_size, "application/octet-stream")
        elif last == "endless":
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = b"%x\r\n%s\r\n" % (65536, b"y" * 65536)
            sent = 0
            self.close_connection = True
            try:
                while sent < ENDLESS_CAP and not backend._stopping.is_set():
                    self.wfile.write(chunk)
                    sent += 65536
            except OSError:
                pass  # the gateway stopped reading: what it should do
        elif last == "sink":
            self._send(200, json.dumps({"received": len(body)}).encode())
        elif len(parts) >= 2 and parts[-2] == "status" and last.isdigit():
            code = int(last)
            self._send(code, json.dumps({"error": f"status {code}"}).encode())
        else:
            self._send(200, echo(rec), "application/json")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _dispatch


def echo(rec):
    """The JSON an echo answer carries: what the backend received."""
    return json.dumps({
        "method": rec.method,
        "path": rec.path,
        "headers": rec.headers,
        "body_b64": base64.b64encode(rec.body).decode(),
        "body_sha256": hashlib.sha256(rec.body).hexdigest(),
    }, ensure_ascii=False).encode()


class Backend:
    """A recording provider system. start() binds (a given port or a free one),
    stop() closes it (a later start() reuses the same port: "backend down, then back")."""

    def __init__(self, name="backend", big_size=1 << 20, host="127.0.0.1"):
        self.name = name
        self.big_size = big_size
        self.host = host
        self.port = None
        self.records = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.drop_reused = threading.Event()  # set by .../dropnext
        self._server = None
        self._thread = None
        self._conns = set()

    @property
    def url(self):
        return f"http://{self.host}:{self.port}"

    def start(self):
        self._stopping.clear()
        self._server = _Server((self.host, self.port or 0), _Handler)
        self._server.backend = self
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name=f"backend-{self.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._server is None:
            return
        self._stopping.set()  # releases hanging handlers
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        with self._lock:
            conns, self._conns = list(self._conns), set()
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._server = None

    def _track(self, conn, add):
        with self._lock:
            if add:
                self._conns.add(conn)
            else:
                self._conns.discard(conn)

    def _record(self, rec):
        with self._lock:
            self.records.append(rec)

    def received(self, xroad_id=None):
        """Records so far, or those whose X-Road-Id header is xroad_id."""
        with self._lock:
            recs = list(self.records)
        if xroad_id is None:
            return recs
        return [r for r in recs if r.header("X-Road-Id") == xroad_id]

    def wait_for(self, xroad_id, timeout=5.0):
        """The records of xroad_id, waiting up to timeout for the first one."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.received(xroad_id)
            if got:
                return got
            time.sleep(0.02)
        return []


# ---- a scriptable echo (tests/conformance, test_conformance.py, test_prrest_client.py) -----

class _ScriptedHandler(_Handler):
    """Records like _Handler, then answers the backend's script (ScriptedEcho.reply) or,
    without one, 200 application/json with echo(rec). Sends no header it was not told
    to: no Server, no Date, no Ndx-Data-Subjects (it plays a non-personal service;
    a script that plays a personal one names Ndx-Data-Subjects itself)."""

    server_version = "ndx-scripted-echo/1"

    def _dispatch(self):
        backend = self.server.backend
        body = self._read_body()
        rec = Record(self.command, self.path, list(self.headers.items()), body,
                     self.client_address[0])
        backend._record(rec)
        reply = backend.reply
        if reply is None:
            status, headers, out = 200, [("Content-Type", "application/json")], echo(rec)
        else:
            if reply.get("delay"):
                backend._stopping.wait(float(reply["delay"]))
            status = int(reply.get("status", 200))
            headers = list(reply.get("headers", ()))
            out = reply.get("body", b"")
        bodiless = status in (204, 304) or 100 <= status < 200
        self.send_response_only(status)
        for k, v in headers:
            # Values are sent as the bytes the script wrote (UTF-8), whatever they are.
            self.send_header(k, v.encode("utf-8").decode("latin-1"))
        if not bodiless and not any(k.lower() in ("content-length", "transfer-encoding")
                                    for k, _ in headers):
            self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        if self.command != "HEAD" and not bodiless:
            self.wfile.write(out)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _dispatch


class ScriptedEcho(Backend):
    """A provider system that echoes what it received (method, raw target with the query,
    every header in order, body: echo()) unless a test scripts its answer:
    `reply = {"status": 302, "headers": [(name, value), ...], "body": b"...",
    "delay": seconds}` answers every request that way until `reply = None`."""

    def __init__(self, name="scripted-echo"):
        super().__init__(name)
        self.reply = None

    def start(self):
        self._stopping.clear()
        self._server = _Server(("127.0.0.1", self.port or 0), _ScriptedHandler)
        self._server.backend = self
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name=f"backend-{self.name}", daemon=True)
        self._thread.start()
        return self
