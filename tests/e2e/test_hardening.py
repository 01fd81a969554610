"""Hardening end-to-end tests of ndx-gateway (issue #8; docs/security.md): replay of a
signed request inside the timestamp window, clock skew beyond it, slow-loris clients
on both ports, oversized and too many headers, malformed percent-encoding in paths.
A real federation on loopback (federation.py); the gateway port is spoken to as a
member gateway would, with a registered gateway's TLS files and signing key, as
test_gateway.py does for forged signatures. Every test is bounded in time; the
slow-loris one waits out libmicrohttpd's 30 s idle timeout (src/lib/httpd.c)."""

import http.client
import json
import os
import select
import socket
import ssl
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import federation as F  # noqa: E402
from federation import (CITIZENS, ECHO, TAX, gateway_request,  # noqa: E402
                        tls_context)
import refusals  # noqa: E402

# src/lib/httpd.c CONNECTION_TIMEOUT_S: libmicrohttpd closes a connection after this
# many seconds without any byte from the client.
IDLE_TIMEOUT_S = 30
CLOCK_SKEW_S = 300  # federation.py limits.clock_skew_s


@pytest.fixture(scope="module")
def fed(build_dir):
    with F.running_federation(build_dir, "ndx-harden-") as f:
        yield f


# ---- helpers ----------------------------------------------------------------------------

def as_gateway(fed, name="BTC"):
    ident = fed.idents[name]
    return tls_context(ident.ca_pem, ident.tls_cert, ident.tls_key), ident.private_key()


def provider_port(fed):
    return fed.gateways["BCA"].gateway_port


def refused(fed, status, headers, body, reason):
    return refusals.check(status, headers, body, reason, where=f"\n{fed.tails()}")


def nothing_reached(fed, xid):
    got = fed.citizens.received(xid) + fed.echo.received(xid)
    assert got == [], f"the provider system received a refused request: {got}"


def healthy(fed):
    """Both gateways still answer, quickly, a normal exchange end to end."""
    t0 = time.monotonic()
    resp = fed.call("BTC", "GET", ECHO, "/ping", timeout=10)
    took = time.monotonic() - t0
    assert resp.status_code == 200, f"{resp.status_code} {resp.text[:300]}\n{fed.tails()}"
    assert took < 5, f"a normal exchange took {took:.1f} s"
    for gw in fed.gateways.values():
        assert gw.proc is not None and gw.proc.poll() is None, gw.tail()
    return took


def raw_request(port, head, timeout=10, tls_ctx=None):
    """Sends raw request bytes; returns (status or None if closed without an answer,
    body bytes)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    if tls_ctx is not None:
        s = tls_ctx.wrap_socket(s)
    data = b""
    try:
        try:
            s.sendall(head)
        except OSError:
            pass  # the server may close while we still write: read what it said
        while True:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, ssl.SSLError, OSError):
                break
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    if not data.startswith(b"HTTP/1."):
        return None, data
    head_part, _, body = data.partition(b"\r\n\r\n")
    return int(head_part.split(b" ", 2)[1]), body


# ---- replay (threat T9) -----------------------------------------------------------------------

def test_replayed_signed_request_is_refused_as_a_replay(fed):
    """A captured signed request sent again verbatim inside the timestamp window is
    refused and does not reach the provider system a second time."""
    ctx, key = as_gateway(fed)
    xid = "replay-" + uuid.uuid4().hex
    ts = F.rfc3339()
    first = gateway_request(provider_port(fed), ctx, "GET", CITIZENS, "/citizens/001",
                            xid=xid, timestamp=ts, sign_with=key)
    assert first[0] == 200, f"{first[0]} {first[2][:300]!r}\n{fed.tails()}"
    assert len(fed.citizens.received(xid)) == 1
    # Ed25519 is deterministic: the same inputs give byte for byte the same request.
    again = gateway_request(provider_port(fed), ctx, "GET", CITIZENS, "/citizens/001",
                            xid=xid, timestamp=ts, sign_with=key)
    assert again[3] == first[3]
    refused(fed, again[0], again[1], again[2], "Replay")
    assert len(fed.citizens.received(xid)) == 1, "the replay reached the provider system"
    # The refusal is signed like every answer after the request hash is known.
    assert again[1].get("ndx-response-signature"), again[1]

    # Signed anew with a fresh nonce (a consumer gateway passing on a client's retry
    # with the same X-Road-Id): another request, served (PR-REST only recommends unique
    # ids; issue 15, point 8).
    again = gateway_request(provider_port(fed), ctx, "GET", CITIZENS, "/citizens/001",
                            xid=xid, timestamp=ts, sign_with=key,
                            headers={"Ndx-Nonce": uuid.uuid4().hex})
    assert again[0] == 200 and again[3] != first[3], f"{again[0]} {again[2][:300]!r}"
    assert len(fed.citizens.received(xid)) == 2

    # Another X-Road-Id goes through.
    other = "replay-" + uuid.uuid4().hex
    ok = gateway_request(provider_port(fed), ctx, "GET", CITIZENS, "/citizens/001",
                         xid=other, timestamp=ts, sign_with=key)
    assert ok[0] == 200, f"{ok[0]} {ok[2][:300]!r}"


def test_replay_after_a_provider_restart_is_still_refused(fed):
    """The cache is refilled from the message log at start: restarting the provider
    gateway does not reopen the window for a request it accepted before."""
    ctx, key = as_gateway(fed)
    xid = "replay-restart-" + uuid.uuid4().hex
    ts = F.rfc3339()
    first = gateway_request(provider_port(fed), ctx, "GET", CITIZENS, "/citizens/001",
                            xid=xid, timestamp=ts, sign_with=key)
    assert first[0] == 200, f"{first[0]} {first[2][:300]!r}\n{fed.tails()}"
    bca = fed.gateways["BCA"]
    assert bca.stop() == 0, bca.tail()
    bca.spawn().wait_ready()
    fed.wait_conf(bca, fed.registry.conf_version())
    assert "refilled from the message log" in bca.stderr_path.read_text()
    again = gateway_request(provider_port(fed), ctx, "GET", CITIZENS, "/citizens/001",
                            xid=xid, timestamp=ts, sign_with=key)
    refused(fed, again[0], again[1], again[2], "Replay")
    assert len(fed.citizens.received(xid)) == 1, "the replay reached the provider system"
    other = gateway_request(provider_port(fed), ctx, "GET", CITIZENS, "/citizens/001",
                            xid="replay-restart-" + uuid.uuid4().hex, sign_with=key)
    assert other[0] == 200, f"{other[0]} {other[2][:300]!r}"


@pytest.fixture
def bca_sibling(fed):
    """A second gateway of BCA serving the same services, each gateway with its own
    replay cache; removed from the configuration afterwards."""
    code = f"sib{uuid.uuid4().hex[:6]}"
    ident = fed.register_gateway("BCA_" + code, F.BCA, code, F.free_port())
    bca = fed.gateways["BCA"]
    gw = F.Gateway(F.gateway_exe(fed.build_dir), ident, bca.subsystems, bca.services,
                   F.free_port(), int(ident.address.rsplit(":", 1)[1]), fed.registry,
                   bca.limits, bca.conf_refresh_s)
    gw.write_config()
    gw.spawn()
    try:
        gw.wait_ready()
        fed.wait_conf(gw, fed.registry.conf_version())
        fed.wait_conf(fed.gateways["BTC"], fed.registry.conf_version())
        yield gw
    finally:
        rc = gw.stop()
        fed.ndx("gateway", "remove", F.BCA, code)
        for other in fed.gateways.values():
            fed.wait_conf(other, fed.registry.conf_version())
        assert rc in (0, None), gw.tail()


def test_request_replayed_to_a_sibling_gateway_is_refused(fed, bca_sibling):
    """Each gateway remembers only the ids it accepted itself, so a request is signed for
    one gateway (Ndx-Gateway, in the request hash): a copy sent to another gateway of
    the same member is 401 Security.WrongGateway, and re-labelled it no longer
    verifies."""
    ctx, key = as_gateway(fed)
    sibling = bca_sibling.gateway_port
    xid = "sibling-" + uuid.uuid4().hex
    ts = F.rfc3339()
    first = gateway_request(provider_port(fed), ctx, "GET", CITIZENS, "/citizens/001",
                            xid=xid, timestamp=ts, sign_with=key)
    assert first[0] == 200, f"{first[0]} {first[2][:300]!r}\n{fed.tails()}"
    assert len(fed.citizens.received(xid)) == 1
    # The same bytes (signed for gw1) to the sibling.
    copy = gateway_request(sibling, ctx, "GET", CITIZENS, "/citizens/001", xid=xid,
                           timestamp=ts, sign_with=key, gateway=F.BCA + "/gw1")
    assert copy[3] == first[3]
    doc = refused(fed, copy[0], copy[1], copy[2], "WrongGateway")
    assert "gw1" in doc["message"] and bca_sibling.code in doc["message"], doc
    # The header names the sibling, the signature is still the one made for gw1.
    sig = F.compact(F.sign_object(key, first[3]))
    relabel = gateway_request(sibling, ctx, "GET", CITIZENS, "/citizens/001", xid=xid,
                              timestamp=ts, headers={"Ndx-Signature": sig})
    refused(fed, relabel[0], relabel[1], relabel[2], "BadSignature")
    # Without the header at all.
    bare = gateway_request(sibling, ctx, "GET", CITIZENS, "/citizens/001", xid=xid,
                           timestamp=ts, sign_with=key, gateway="")
    refused(fed, bare[0], bare[1], bare[2], "WrongGateway")
    assert len(fed.citizens.received(xid)) == 1, "a copy reached the provider system"
    # A request really signed for the sibling is served there.
    own = "sibling-" + uuid.uuid4().hex
    ok = gateway_request(sibling, ctx, "GET", CITIZENS, "/citizens/001", xid=own,
                         sign_with=key)
    assert ok[0] == 200, f"{ok[0]} {ok[2][:300]!r}\n{bca_sibling.tail()}"


def test_consumer_signs_anew_for_the_next_gateway_when_the_first_is_down(fed, bca_sibling):
    """Failing over to the member's second gateway, the consumer gateway signs the
    request for that gateway, so it is served there and not refused as a copy."""
    bca = fed.gateways["BCA"]
    assert bca.stop() == 0, bca.tail()
    try:
        xid = "failover-" + uuid.uuid4().hex
        resp = fed.call("BTC", "GET", CITIZENS, "/citizens/001", xid=xid)
        assert resp.status_code == 200, f"{resp.status_code} {resp.text[:300]}\n" \
                                        f"{bca_sibling.tail()}"
        assert len(fed.citizens.received(xid)) == 1
    finally:
        bca.spawn().wait_ready()
        fed.wait_conf(bca, fed.registry.conf_version())
    healthy(fed)


def test_refused_requests_do_not_burn_the_message_id(fed):
    """Only a request whose signature verifies is remembered: a forged or stale copy
    sent first must not lock the real one out."""
    ctx, key = as_gateway(fed)
    xid = "burn-" + uuid.uuid4().hex
    ts = F.rfc3339()
    forged = gateway_request(provider_port(fed), ctx, "GET", CITIZENS, "/citizens/001",
                             xid=xid, timestamp=ts)  # no signature
    refused(fed, *forged[:3], "BadSignature")
    stale = F.rfc3339(datetime.fromtimestamp(time.time() - 3600, timezone.utc))
    st = gateway_request(provider_port(fed), ctx, "GET", CITIZENS, "/citizens/001",
                         xid=xid, timestamp=stale, sign_with=key)
    refused(fed, *st[:3], "StaleTimestamp")
    real = gateway_request(provider_port(fed), ctx, "GET", CITIZENS, "/citizens/001",
                           xid=xid, timestamp=ts, sign_with=key)
    assert real[0] == 200, f"{real[0]} {real[2][:300]!r}\n{fed.tails()}"


def test_a_clients_retry_with_the_same_xroad_id_is_served(fed):
    """PR-REST 4.3 only RECOMMENDS unique X-Road-Ids: an information system that retries
    with the same id (at once, inside the replay window) is served each time; the
    consumer gateway signs each with a fresh Ndx-Nonce, so they are distinct requests."""
    xid = "reuse-" + uuid.uuid4().hex
    hashes = set()
    for _ in range(3):
        resp = fed.call("BTC", "GET", ECHO, "/once", xid=xid)
        assert resp.status_code == 200, f"{resp.status_code} {resp.text[:300]}"
        assert resp.headers["X-Road-Id"] == xid
        hashes.add(resp.headers["X-Road-Request-Hash"])
    assert len(hashes) == 3 and len(fed.echo.received(xid)) == 3


# ---- clock skew ----------------------------------------------------------------------------------

def test_clock_skew_beyond_the_window_is_refused_inside_is_served(fed):
    """A consumer gateway whose clock is ahead or behind by more than clock_skew_s
    (300 s) is refused; within the window it is served. (faketime is not installed, so
    the skewed gateway is played from Python with a registered gateway's keys.)"""
    ctx, key = as_gateway(fed)
    now = time.time()
    for offset in (-(CLOCK_SKEW_S + 30), CLOCK_SKEW_S + 30):
        xid = "skew-" + uuid.uuid4().hex
        ts = F.rfc3339(datetime.fromtimestamp(now + offset, timezone.utc))
        st, h, body, _ = gateway_request(provider_port(fed), ctx, "GET", CITIZENS,
                                         "/citizens/001", xid=xid, timestamp=ts,
                                         sign_with=key)
        refused(fed, st, h, body, "StaleTimestamp")
        nothing_reached(fed, xid)
    for offset in (-(CLOCK_SKEW_S - 30), CLOCK_SKEW_S - 30):
        xid = "skew-ok-" + uuid.uuid4().hex
        ts = F.rfc3339(datetime.fromtimestamp(now + offset, timezone.utc))
        st, h, body, _ = gateway_request(provider_port(fed), ctx, "GET", CITIZENS,
                                         "/citizens/001", xid=xid, timestamp=ts,
                                         sign_with=key)
        assert st == 200, f"offset {offset}: {st} {body[:300]!r}\n{fed.tails()}"
    # Malformed timestamps are refused the same way, not parsed leniently.
    for ts in ("2026-01-01 00:00:00", "2026-13-01T00:00:00Z", "yesterday", "",
               F.rfc3339() + "\u0301"):
        xid = "skew-bad-" + uuid.uuid4().hex
        try:
            st, h, body, _ = gateway_request(provider_port(fed), ctx, "GET", CITIZENS,
                                             "/citizens/001", xid=xid, timestamp=ts or " ",
                                             sign_with=key)
        except UnicodeEncodeError:
            continue  # http.client refuses non-Latin-1 header values itself
        refused(fed, st, h, body, ("StaleTimestamp", "BadHeader"))
        nothing_reached(fed, xid)


# ---- slow-loris --------------------------------------------------------------------------------

class Loris:
    """n connections that send a request head one byte a second (trickle=True) or a
    few bytes and then nothing (trickle=False)."""

    HEAD = (b"GET /r1/" + ECHO.encode() + b"/slow HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"X-Road-Client: " + TAX.encode() + b"\r\nX-Road-UserId: " + b"u" * 600)

    def __init__(self, port, n, trickle, tls_ctx=None):
        self.socks = []
        self.sent = []
        self.trickle = trickle
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            if tls_ctx is not None:
                s = tls_ctx.wrap_socket(s)
            s.sendall(self.HEAD[:5])
            s.setblocking(False)
            self.socks.append(s)
            self.sent.append(5)

    def tick(self):
        if not self.trickle:
            return
        for i, s in enumerate(self.socks):
            if s is None or self.sent[i] >= len(self.HEAD):
                continue
            try:
                s.send(self.HEAD[self.sent[i]:self.sent[i] + 1])
                self.sent[i] += 1
            except (BlockingIOError, ssl.SSLWantWriteError):
                pass
            except OSError:
                self.socks[i] = None

    def closed_by_server(self):
        """How many connections the server has closed (EOF or reset)."""
        n = 0
        for i, s in enumerate(self.socks):
            if s is None:
                n += 1
                continue
            r, _, _ = select.select([s], [], [], 0)
            if not r and not (isinstance(s, ssl.SSLSocket) and s.pending()):
                continue
            try:
                data = s.recv(4096)
            except (BlockingIOError, ssl.SSLWantReadError):
                continue
            except OSError:
                data = b""
            if data == b"" or data.startswith(b"HTTP/1.1 4"):
                n += 1
                s.close()
                self.socks[i] = None
        return n

    def close(self):
        for s in self.socks:
            if s is not None:
                try:
                    s.close()
                except OSError:
                    pass


def test_slow_loris_on_both_ports_keeps_service_and_idle_connections_close(fed):
    """Many connections hold each port open with unfinished request heads, on the
    consumer port (plain HTTP) and the gateway port (after a complete mutual TLS
    handshake). Normal exchanges keep being served promptly meanwhile;
    connections that stop sending are closed after the idle timeout. A connection that
    keeps trickling a byte a second is bounded only by the request head limit (see
    docs/hardening-notes.md): the event-driven server does not spend a thread on it."""
    ctx, _ = as_gateway(fed)
    consumer = fed.gateways["BTC"].consumer_port
    n = 40
    # The idle timeout runs from each connection's opening: opening them all (TLS
    # handshakes included) takes seconds under load, so that is where it is measured from.
    t_open = time.monotonic()
    lorises = [Loris(consumer, n, trickle=False), Loris(consumer, n, trickle=True),
               Loris(provider_port(fed), n, trickle=False, tls_ctx=ctx),
               Loris(provider_port(fed), n, trickle=True, tls_ctx=ctx)]
    # Raw TCP connections that never start the TLS handshake.
    bare = [socket.create_connection(("127.0.0.1", provider_port(fed)), timeout=10)
            for _ in range(n)]
    try:
        t_start = time.monotonic()
        worst = 0.0
        deadline = t_start + IDLE_TIMEOUT_S + 15
        idle_closed_at = None
        while time.monotonic() < deadline:
            for lo in lorises:
                lo.tick()
            worst = max(worst, healthy(fed))
            if int(time.monotonic() - t_start) % 5 == 0:
                st, _, body, _ = gateway_request(provider_port(fed), ctx, "GET", CITIZENS,
                                                 "/citizens/001", sign_with=as_gateway(fed)[1])
                assert st == 200, f"gateway port under slow-loris: {st} {body[:200]!r}"
            idle = lorises[0].closed_by_server() + lorises[2].closed_by_server()
            if idle == 2 * n and idle_closed_at is None:
                idle_closed_at = time.monotonic() - t_open
                break
            time.sleep(max(0.0, 1.0 - (time.monotonic() - t_start) % 1.0))
        assert worst < 5, f"normal exchanges took up to {worst:.1f} s under slow-loris"
        assert idle_closed_at is not None, (
            f"idle slow-loris connections still open after {IDLE_TIMEOUT_S + 15} s "
            f"(consumer {lorises[0].closed_by_server()}/{n}, gateway port "
            f"{lorises[2].closed_by_server()}/{n} closed)")
        assert idle_closed_at >= IDLE_TIMEOUT_S - 2, (
            f"idle connections closed after {idle_closed_at:.0f} s: not by the idle timeout?")
        # Bare TCP connections without a TLS handshake are closed by the same timeout
        # (they were opened a moment after the others).
        open_bare = list(bare)
        until = time.monotonic() + 10
        while open_bare and time.monotonic() < until:
            for s in list(open_bare):
                s.setblocking(False)
                try:
                    if s.recv(1) == b"":
                        open_bare.remove(s)
                except BlockingIOError:
                    pass
                except OSError:
                    open_bare.remove(s)
            time.sleep(0.5)
        assert not open_bare, (f"{len(open_bare)}/{n} connections without a TLS handshake "
                               f"still open {time.monotonic() - t_start:.0f} s after opening")
        # Tricklers sent a byte a second all along: still open, or answered 4xx.
        for lo in (lorises[1], lorises[3]):
            lo.closed_by_server()
    finally:
        for lo in lorises:
            lo.close()
        for s in bare:
            s.close()
    healthy(fed)


# ---- oversized and many headers ---------------------------------------------------------------

def _head(extra, target=None):
    target = target or b"/r1/" + ECHO.encode() + b"/hdr"
    return (b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            b"X-Road-Client: " + TAX.encode() + b"\r\n" + extra + b"\r\n")


def test_oversized_and_too_many_headers_are_refused_cleanly(fed):
    """A request head beyond libmicrohttpd's per-connection memory (32 KiB by
    default) is refused with a 4xx or the connection is closed, on both ports; nothing
    reaches the provider system; the gateways keep serving. A head within the limit
    with many unlisted headers is served (they are not forwarded)."""
    ctx, _ = as_gateway(fed)
    consumer = fed.gateways["BTC"].consumer_port
    cases = {
        "one 64 KiB header": lambda xid: b"X-Road-Id: " + xid + b"\r\nX-Big: " +
        b"a" * 65536 + b"\r\n",
        "3000 headers": lambda xid: b"X-Road-Id: " + xid + b"\r\n" +
        b"".join(b"X-H%d: v\r\n" % i for i in range(3000)),
        "1 MiB of header": lambda xid: b"X-Road-Id: " + xid + b"\r\n" +
        b"".join(b"X-H%d: %s\r\n" % (i, b"b" * 1000) for i in range(1000)),
    }
    for port, tls in ((consumer, None), (provider_port(fed), ctx)):
        for name, make in cases.items():
            xid = ("big-" + uuid.uuid4().hex).encode()
            t0 = time.monotonic()
            status, body = raw_request(port, _head(make(xid)), tls_ctx=tls)
            took = time.monotonic() - t0
            assert status is None or 400 <= status < 500, \
                f"{name} on port {port}: {status} {body[:200]!r}"
            assert took < 10, f"{name}: answered after {took:.1f} s"
            nothing_reached(fed, xid.decode())
        healthy(fed)
    # Many small user headers within the limit (64 a message, protocol.md "Headers"):
    # served and passed on, every one; over it: refused before anything is signed.
    xid = "many-" + uuid.uuid4().hex
    extra = b"X-Road-Id: " + xid.encode() + b"\r\n" + \
        b"".join(b"X-Junk-%d: v\r\n" % i for i in range(60))
    status, body = raw_request(consumer, _head(extra))
    assert status == 200, f"{status} {body[:300]!r}\n{fed.tails()}"
    got = fed.echo.received(xid)
    assert len(got) == 1 and all(got[0].header(f"X-Junk-{i}") == "v" for i in range(60)), got
    xid = "toomany-" + uuid.uuid4().hex
    extra = b"X-Road-Id: " + xid.encode() + b"\r\n" + \
        b"".join(b"X-Junk-%d: v\r\n" % i for i in range(200))
    status, body = raw_request(consumer, _head(extra))
    refusals.check(status, None, body, "BadHeader")
    nothing_reached(fed, xid)


# ---- malformed percent-encoding and odd bytes in paths ----------------------------------------

BAD_PATHS = [b"/%", b"/%2", b"/%zz", b"/%%41", b"/a%0", b"/%00", b"/%0d%0aX-Injected:%201",
             b"/%c0%ae%c0%ae/x", b"/%2e%2e/%2e%2e/etc/passwd", b"/%2E%2e%2f..", b"/..%2f",
             b"/%ff%fe", b"/%u002e", b"//" + b"%25" * 300]
# Raw bytes that RFC 3986 does not allow in a path. Finding (docs/hardening-notes.md):
# the consumer gateway passes them on instead of refusing them with 400
# Client.InvalidRequest. 0xff 0xfe: it signs them as they came, libcurl sends them
# percent-encoded, the provider's hash differs (401 Security.BadSignature, signed over
# the provider's own hash) and the consumer answers 502 Server.BadResponseSignature.
# DEL: libcurl refuses the URL and the consumer answers 502 Server.ProviderUnreachable.
# (A raw space ends the request target: libmicrohttpd closes such a connection.)
RAW_BYTE_PATHS = [b"/\xff\xfe", b"/a\x7fb"]


def _consumer_path_case(fed, p):
    consumer = fed.gateways["BTC"].consumer_port
    for service in (ECHO, CITIZENS):
        xid = "pct-" + uuid.uuid4().hex
        target = b"/r1/" + service.encode() + (b"/citizens" if service == CITIZENS
                                                 else b"") + p
        status, body = raw_request(consumer, _head(b"X-Road-Id: " + xid.encode() +
                                                   b"\r\n", target))
        where = f"{target!r}: {status} {body[:300]!r}\n{fed.tails()}"
        assert status is not None, where
        got = fed.citizens.received(xid) + fed.echo.received(xid)
        if 200 <= status < 300:
            assert len(got) == 1, where
            sent_path = target[len(b"/r1/" + service.encode()):].decode("latin-1")
            assert got[0].path == "/api" + sent_path, (got[0].path, where)
        else:
            assert refusals.blames_caller(body), where
            assert got == [], where


@pytest.mark.parametrize("p", BAD_PATHS, ids=lambda p: p.decode("latin-1")[:24])
def test_malformed_percent_encoding_in_consumer_paths(fed, p):
    """Whatever the path holds, the answer is a clean X-Road refusal (4xx, JSON) or the
    exchange with the path passed byte for byte; never a 5xx, a hang or a crash; a
    traversal never reaches a path outside the grant (citizens: GET /citizens/*)."""
    _consumer_path_case(fed, p)


@pytest.mark.parametrize("p", RAW_BYTE_PATHS, ids=["ff-fe", "del"])
def test_raw_bytes_in_consumer_paths_are_400(fed, p):
    """Bytes RFC 3986 does not allow in a path are refused before anything is signed."""
    _consumer_path_case(fed, p)
    target = b"/r1/" + CITIZENS.encode() + b"/citizens" + p
    status, body = raw_request(fed.gateways["BTC"].consumer_port, _head(b"", target))
    refusals.check(status, None, body, "BadPath")


@pytest.mark.parametrize("p", RAW_BYTE_PATHS, ids=["ff-fe", "del"])
def test_raw_bytes_on_the_gateway_port_are_400(fed, p):
    """A member gateway that passes on bytes RFC 3986 does not allow (ndx's consumer
    port refuses them) gets 400 from the provider gateway; nothing reaches the provider
    system, in the path or in the query."""
    ctx, _ = as_gateway(fed)
    for target in (b"/r1/" + CITIZENS.encode() + b"/citizens" + p,
                   b"/r1/" + CITIZENS.encode() + b"/citizens/001?q=" + p[1:]):
        xid = "rawg-" + uuid.uuid4().hex
        status, body = raw_request(provider_port(fed),
                                   _head(b"X-Road-Id: " + xid.encode() + b"\r\n", target),
                                   tls_ctx=ctx)
        where = f"{target!r}: {status} {body[:300]!r}\n{fed.tails()}"
        refusals.check(status, None, body, "BadPath", where=where)
        nothing_reached(fed, xid)
    healthy(fed)


def test_malformed_percent_encoding_on_the_gateway_port(fed):
    """The same paths on the gateway port, signed over the raw path as sent."""
    ctx, key = as_gateway(fed)
    for p in BAD_PATHS + RAW_BYTE_PATHS:
        xid = "pctg-" + uuid.uuid4().hex
        path = "/citizens" + p.decode("latin-1")
        try:
            st, h, body, _ = gateway_request(provider_port(fed), ctx, "GET", CITIZENS, path,
                                             xid=xid, sign_with=key)
        except (UnicodeEncodeError, http.client.InvalidURL):
            continue  # http.client will not send it: the consumer-port case covers it
        where = f"{path!r}: {st} {body[:300]!r}\n{fed.tails()}"
        got = fed.citizens.received(xid)
        if not 200 <= st < 300:
            assert got == [], where
            assert refusals.blames_caller(body), where
    healthy(fed)


# ---- invalid UTF-8 -------------------------------------------------------------------

BAD_UTF8 = [b"\xff\xfe", b"\xc3", b"\xc0\xaf", b"\xed\xa0\x80", b"caf\xe9"]


@pytest.mark.parametrize("name", ["X-Road-Client", "Ndx-Purpose", "Ndx-Subject",
                                  "X-Road-UserId"])
def test_invalid_utf8_in_headers_never_reaches_the_provider(fed, name):
    """Invalid UTF-8 (a lone lead byte, an overlong '/', a surrogate, Latin-1) in a header
    the gateway reads: a clean 4xx X-Road refusal or, for a free-text header, an exchange
    whose bytes are signed as sent; never a 5xx; the gateway keeps serving."""
    consumer = fed.gateways["BTC"].consumer_port
    for bad in BAD_UTF8:
        xid = "utf8-" + uuid.uuid4().hex
        head = (b"GET /r1/" + CITIZENS.encode() + b"/citizens/001 HTTP/1.1\r\n"
                b"Host: 127.0.0.1\r\nConnection: close\r\nX-Road-Id: " + xid.encode() + b"\r\n")
        if name != "X-Road-Client":
            head += b"X-Road-Client: " + TAX.encode() + b"\r\n"
        head += name.encode() + b": v" + bad + b"\r\n\r\n"
        status, body = raw_request(consumer, head)
        where = f"{name}: {bad!r}: {status} {body[:300]!r}\n{fed.tails()}"
        assert status is not None, where
        if status >= 400:
            assert refusals.blames_caller(body), where
            assert fed.citizens.received(xid) == [], where
    healthy(fed)


def test_invalid_utf8_json_to_the_registry_is_400_and_changes_nothing(fed):
    reg = fed.registry
    before = reg.conf_version()
    for bad in BAD_UTF8:
        body = b'{"id":"VN/GOV/UTF' + bad + b'","name":"x' + bad + b'"}'
        r = reg.api("POST", "/api/members", data=body, timeout=10,
                    headers={"Content-Type": "application/json"})
        assert r.status_code == 400, (bad, r.status_code, r.text)
        assert r.json()["type"].startswith("Client."), r.text
    assert reg.conf_version() == before


# ---- malformed HTTP: answers and log lines on every port (issue 14, finding 11) -------------

def _json_lines(path, start):
    """The JSON lines a daemon's stderr got after byte offset start; any other line
    is returned as a string so that the caller can complain about it."""
    out = []
    with open(path, "rb") as f:
        f.seek(start)
        for raw in f.read().decode(errors="replace").splitlines():
            try:
                out.append(json.loads(raw))
            except ValueError:
                out.append(raw)
    return out


def _wait_for(path, start, pred, what):
    deadline = time.monotonic() + 5
    while True:
        lines = _json_lines(path, start)
        if any(isinstance(x, dict) and pred(x) for x in lines):
            return lines
        if time.monotonic() > deadline:
            pytest.fail(f"no log line for {what}; got:\n" + "\n".join(map(str, lines[-20:])))
        time.sleep(0.05)


MALFORMED_AFTER_THE_REQUEST_LINE = {
    # name: (request bytes for a path, statuses libmicrohttpd answers with)
    "a header line without a colon":
        (lambda p: b"GET " + p + b" HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n", {400}),
    "a Content-Length that is not a number":
        (lambda p: b"POST " + p + b" HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
         {400}),
    "a 64 KiB header":
        (lambda p: b"GET " + p + b" HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 65536 +
         b"\r\n\r\n", {431, 413, 400}),
    "broken chunked encoding":
        (lambda p: b"POST " + p + b" HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
         b"Content-Type: application/json\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", {400}),
}
MALFORMED_REQUEST_LINES = {
    "no URI in the request line": (b"GET  HTTP/1.1\r\nHost: x\r\n\r\n", {400}),
    "HTTP/2.0 in the request line": (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", {505}),
}

# On h2o, the gateways' default engine (`"http": {"engine": "microhttpd"}` and
# make test-e2e-microhttpd run the other), the gateway ports answer differently (src/lib/httpd_h2o.c's header comment, docs/gateway.md "Threads"): a head
# h2o's parser refuses gets the port's own JSON error (BadHeader, BadPath), a body h2o
# cannot frame gets h2o's plain-text 400, logged with "refused_by": "h2o".
# name: (status, refused_by or None, the access log's error_type, the detail's word)
H2O_AFTER_THE_REQUEST_LINE = {
    "a header line without a colon": (400, None, "Client.BadRequest", "BadHeader"),
    "a Content-Length that is not a number": (400, "h2o", "Client.InvalidRequest", None),
    "a 64 KiB header": (431, None, "Client.InvalidRequest", None),
    "broken chunked encoding": (400, "h2o", "Client.InvalidRequest", None),
}
# raw request, status, the path logged, the detail's word (None: the gateway's own answer)
H2O_REQUEST_LINES = [
    (b"GET  HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 400, "", None),
    (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505, "/", "BadHeader"),
    (b"GARBAGE\r\n\r\n", 400, "", "BadPath"),
]


def _malformed_on_h2o(where, port, tls, log):
    """The h2o engine's answers to MALFORMED_* on a gateway port, each one logged as JSON."""
    for name, (make, _) in MALFORMED_AFTER_THE_REQUEST_LINE.items():
        status_want, refused_by, error_type, word = H2O_AFTER_THE_REQUEST_LINE[name]
        path = "/malformed-" + uuid.uuid4().hex.translate(str.maketrans("0123456789",
                                                                         "ghijklmnop"))
        start = log.stat().st_size
        status, body = raw_request(port, make(path.encode()), tls_ctx=tls)
        assert status == status_want, f"{where}, {name}: {status} {body[:200]!r}"
        if word:
            assert json.loads(body)["detail"].startswith(word + ":"), body
        lines = _wait_for(log, start, lambda x: x.get("path") == path, f"{where}, {name}")
        line = next(x for x in lines if isinstance(x, dict) and x.get("path") == path)
        assert line["status"] == status and line.get("refused_by") == refused_by, line
        assert line["error_type"] == error_type, line
        assert not [x for x in lines if not isinstance(x, dict)], f"{where}, {name}: {lines}"
    for raw, status_want, logged_path, word in H2O_REQUEST_LINES:
        start = log.stat().st_size
        status, body = raw_request(port, raw, tls_ctx=tls)
        assert status == status_want, f"{where}, {raw!r}: {status} {body[:200]!r}"
        doc = json.loads(body)
        assert doc["type"] == "Client.BadRequest", doc
        if word:
            assert doc["detail"].startswith(word + ":"), doc
        lines = _wait_for(log, start, lambda x: x.get("status") == status and
                          x.get("path") == logged_path, f"{where}, {raw!r}")
        assert not [x for x in lines if not isinstance(x, dict)], f"{where}: {lines}"
    # A malformed head pipelined behind a good request: h2o parses it from its buffer
    # and answers its own 400 after the first answer; the line is logged all the same.
    letters = str.maketrans("0123456789", "ghijklmnop")
    good = "/pipelined-good-" + uuid.uuid4().hex.translate(letters)
    bad = "/pipelined-bad-" + uuid.uuid4().hex.translate(letters)
    start = log.stat().st_size
    status, rest = raw_request(port, b"GET " + good.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n"
                               b"GET " + bad.encode() + b" HTTP/1.1\r\nHost: x\r\n"
                               b"NoColonHere\r\n\r\n", tls_ctx=tls)
    assert status is not None and b"HTTP/1.1 400 " in rest, f"{where}: {status} {rest[:300]!r}"
    lines = _wait_for(log, start, lambda x: x.get("path") == bad, f"{where}, pipelined")
    line = next(x for x in lines if isinstance(x, dict) and x.get("path") == bad)
    assert line["status"] == 400 and line["refused_by"] == "h2o", line
    assert any(isinstance(x, dict) and x.get("path") == good for x in lines), lines


def test_malformed_http_is_refused_and_logged_as_json_on_every_port(fed):
    """libmicrohttpd answers these itself (its HTML body: 0.9.75 lets no application
    answer them, see src/lib/httpd.c "Refusals libmicrohttpd makes"); what ndx
    controls is the log: every refusal is a JSON line on the daemon's stderr, an
    access-log line with remote, path, status and X-Road type marked
    "refused_by":"libmicrohttpd" once the request line was read, and an
    {"event":"refused"} line for a request line that could not be; no free-text
    line. On the registry, the consumer port and the provider's TLS port; the
    gateways' ports on h2o (their default) answer as _malformed_on_h2o says."""
    ctx, _ = as_gateway(fed)
    ports = [
        ("registry", fed.registry.port, None, fed.registry.stderr_path),
        ("consumer", fed.gateways["BTC"].consumer_port, None, fed.gateways["BTC"].stderr_path),
        ("provider", provider_port(fed), ctx, fed.gateways["BCA"].stderr_path),
    ]
    for where, port, tls, log in ports:
        if where != "registry" and \
                os.environ.get("NDX_GATEWAY_HTTP_ENGINE", "h2o") == "h2o":
            _malformed_on_h2o(where, port, tls, log)
            continue
        for name, (make, statuses) in MALFORMED_AFTER_THE_REQUEST_LINE.items():
            # Letters only: a run of 12 digits in a random hex id would be logged as a
            # keyed PIN tag (docs/security.md T34) and no longer match.
            path = "/malformed-" + uuid.uuid4().hex.translate(str.maketrans("0123456789",
                                                                             "ghijklmnop"))
            start = log.stat().st_size
            status, body = raw_request(port, make(path.encode()), tls_ctx=tls)
            assert status in statuses, f"{where}, {name}: {status} {body[:200]!r}"
            lines = _wait_for(log, start, lambda x: x.get("path") == path,
                              f"{where}, {name}")
            line = next(x for x in lines if isinstance(x, dict) and x.get("path") == path)
            assert line["status"] == status and line["refused_by"] == "libmicrohttpd", line
            assert line["error_type"] == ("Client.TooLarge" if status == 413
                                          else "Client.InvalidRequest"), line
            assert line["remote"].startswith("127.0.0.1:") and line["daemon"], line
            text = [x for x in lines if not isinstance(x, dict)]
            assert not text, f"{where}, {name}: free-text log lines {text}"
        for name, (raw, statuses) in MALFORMED_REQUEST_LINES.items():
            start = log.stat().st_size
            status, body = raw_request(port, raw, tls_ctx=tls)
            assert status in statuses, f"{where}, {name}: {status} {body[:200]!r}"
            lines = _wait_for(log, start, lambda x: x.get("event") == "refused" and
                              x.get("status") == status, f"{where}, {name}")
            line = next(x for x in lines if isinstance(x, dict) and x.get("event") == "refused")
            assert line["error_type"] == "Client.InvalidRequest" and line["reason"], line
            text = [x for x in lines if not isinstance(x, dict)]
            assert not text, f"{where}, {name}: free-text log lines {text}"
        # A first line without a space: libmicrohttpd closes without an answer.
        start = log.stat().st_size
        assert raw_request(port, b"GARBAGE\r\n\r\n", tls_ctx=tls) == (None, b"")
        time.sleep(0.2)
        text = [x for x in _json_lines(log, start) if not isinstance(x, dict)]
        assert not text, f"{where}: free-text log lines {text}"
    healthy(fed)
    # What ndx answers itself stays the documented JSON error (413 over the cap).
    status, body = raw_request(fed.registry.port,
                               b"POST /api/members HTTP/1.1\r\nHost: x\r\nContent-Length: "
                               b"99999999999\r\nExpect: 100-continue\r\n\r\n")
    assert status == 413 and json.loads(body)["type"] == "Client.TooLarge", body
