"""End-to-end tests of what one member may cost another's provider gateway
(docs/security.md T35, T10's refusal details, and /healthz): the federation of
federation.py, with BHXH — a member with no grant at all — attacking BCA's gateway port
directly as a member gateway would (its own certificate and signing key, from Python),
bounded in count and time, on loopback.

The attack of the security review: a member with no grant sent a million NoGrant
requests, each of which entered the provider's replay cache and its message log, until
every legitimate exchange to that provider was refused 503 Server.Busy. Now refusals
are checked before the replay cache, each member has a budget of refusals (20 a second,
200 at once) after which it is turned away at the door (429, unsigned, not logged)
until the budget refills, and no member holds more than half of the replay cache."""

import http.client
import sys
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

import federation as F  # noqa: E402
import refusals  # noqa: E402

REFUSAL_BURST = 200      # src/gateway/peerlimit.h
REFUSALS_PER_S = 20
FLOOD_PARALLEL = 8
FLOOD_ROUND = 100
FLOOD_MAX = 3000
FLOOD_SECONDS = 120
PIN = "001099012345"


@pytest.fixture(scope="module")
def fed(build_dir):
    with F.running_federation(build_dir, "ndx-abuse-") as f:
        yield f


def as_bhxh(fed, xid=None, path="/citizens/1", conn=None, timestamp=None):
    ident = fed.idents["BHXH"]
    ctx = F.tls_context(ident.ca_pem, ident.tls_cert, ident.tls_key)
    return F.gateway_request(fed.gateways["BCA"].gateway_port, ctx, "GET", F.CITIZENS, path,
                             client=F.INSURANCE, xid=xid, sign_with=ident.private_key(),
                             conn=conn, timestamp=timestamp)


class Flooder:
    """BHXH's gateway as an attacker would run it: each thread keeps its TLS connection to
    BCA's gateway port open and sends on it request after request (a new connection
    only when the gateway closed the last), so that the flood is not paced by TLS
    handshakes, which under ASan and a loaded machine come slower than the refusal
    budget refills."""

    def __init__(self, fed):
        ident = fed.idents["BHXH"]
        self.fed = fed
        self.port = fed.gateways["BCA"].gateway_port
        self.ctx = F.tls_context(ident.ca_pem, ident.tls_cert, ident.tls_key)
        self.key = ident.private_key()
        self.local = threading.local()
        self.conns = []

    def send(self, _):
        for attempt in (1, 2):
            conn = getattr(self.local, "conn", None)
            if conn is None:
                conn = self.local.conn = http.client.HTTPSConnection(
                    "127.0.0.1", self.port, context=self.ctx, timeout=15)
                self.conns.append(conn)
            try:
                out = F.gateway_request(self.port, self.ctx, "GET", F.CITIZENS, "/citizens/1",
                                        client=F.INSURANCE, sign_with=self.key, conn=conn)
            except (http.client.HTTPException, ConnectionError, OSError):
                conn.close()
                self.local.conn = None
                if attempt == 2:
                    raise
                continue
            if out[1].get("connection", "").lower() == "close":
                conn.close()
                self.local.conn = None
            return out

    def close(self):
        for c in self.conns:
            c.close()


def log_records(gw):
    resp = requests.get(gw.url + "/admin/log/head", timeout=5)
    assert resp.status_code == 200, resp.text
    return resp.json()["records"]


def test_a_refused_request_does_not_take_a_place_in_the_replay_cache(fed):
    """Before: the id of a NoGrant request was held for the whole window, so a member
    could fill the cache without any grant. Now only granted requests enter it."""
    xid = "abuse-" + uuid.uuid4().hex
    st, hdrs, body, _ = as_bhxh(fed, xid)
    refusals.check(st, hdrs, body, "NoGrant", side="provider")
    fed.ndx("grant", "add", "--client", F.INSURANCE, "--service", F.CITIZENS, "--method", "GET",
            "--path", "/granted/*")
    fed.wait_conf(fed.gateways["BCA"], fed.registry.conf_version())
    # Both granted requests carry one timestamp, so the second is the first's exact copy
    # (the replay key is the signed request's hash); a slow first exchange must not put
    # them in two different seconds.
    stamp = F.rfc3339()
    st, hdrs, body, _ = as_bhxh(fed, xid, "/granted/1", timestamp=stamp)
    assert st == 200, body  # the same X-Road-Id: not a replay, it was never accepted
    st, hdrs, body, _ = as_bhxh(fed, xid, "/granted/1", timestamp=stamp)
    refusals.check(st, hdrs, body, "Replay", side="provider")


def test_a_refusal_never_repeats_a_personal_identification_number(fed):
    for resp in (fed.call("BHXH", "GET", F.CITIZENS, f"/citizens/{PIN}", client=F.INSURANCE),):
        refusals.check_response(resp, "NoGrant")
        assert PIN not in resp.text and "/citizens/************" in resp.json()["detail"]
    st, hdrs, body, _ = as_bhxh(fed, path=f"/citizens/{PIN}")
    assert st == 500 and PIN.encode() not in body, body


def test_a_flood_of_refusals_is_turned_away_and_others_are_served(fed):
    bca = fed.gateways["BCA"]
    time.sleep(REFUSAL_BURST / REFUSALS_PER_S)  # the tests before spent some budget
    before = log_records(bca)
    statuses, retry_after = Counter(), set()
    t0 = time.monotonic()
    served_meanwhile = []
    # Eight at a time on kept-alive connections (Flooder), in rounds, until the door has
    # turned away fifty, bounded by count and time.
    flooder = Flooder(fed)
    with ThreadPoolExecutor(FLOOD_PARALLEL) as pool:
        while statuses[429] < 50 and sum(statuses.values()) < FLOOD_MAX and \
                time.monotonic() - t0 < FLOOD_SECONDS:
            for st, hdrs, body, _ in pool.map(flooder.send, range(FLOOD_ROUND)):
                statuses[st] += 1
                if st == 429:
                    refusals.check(st, hdrs, body, "TooManyRefusals", side="provider")
                    assert "ndx-response-signature" not in hdrs
                    retry_after.add(int(hdrs["retry-after"]))
            # a member with a grant, meanwhile
            r = fed.call("BTC", "GET", F.CITIZENS, "/citizens/1")
            served_meanwhile.append(r.status_code)
    elapsed = time.monotonic() - t0
    flooder.close()
    assert set(statuses) == {500, 429}, (statuses, elapsed)
    assert statuses[429] >= 50, (statuses, elapsed)
    # What got past the door is bounded by the budget and its refill over the flood.
    most = REFUSAL_BURST + REFUSALS_PER_S * elapsed + FLOOD_PARALLEL + 2
    assert statuses[500] <= most, (statuses, elapsed)
    assert retry_after and max(retry_after) <= 2, retry_after
    assert served_meanwhile == [200] * len(served_meanwhile), served_meanwhile
    # Only what was signed and refused is logged; the door's 429s cost no record.
    time.sleep(1.5)
    grown = log_records(bca) - before
    assert grown <= statuses[500] + len(served_meanwhile) + 2, (grown, statuses)
    # The budget refills: after a pause the member is heard again.
    time.sleep(1.0 / REFUSALS_PER_S + 1)
    st, hdrs, body, _ = as_bhxh(fed)
    refusals.check(st, hdrs, body, "NoGrant")
    # And the gateway was ready all along.
    h = requests.get(bca.url + "/healthz", timeout=5)
    assert h.status_code == 200 and h.json()["status"] == "ok", h.text
