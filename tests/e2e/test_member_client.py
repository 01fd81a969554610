"""A member-level client end to end, and the gateway's first reading of a request
(src/gateway/reqfront.c) seen from an information system: X-Road's PR-REST
("X-Road Message Protocol for REST", nordic-institute/X-Road doc/Protocols), each
test naming its section.

The federation is federation.py's, with one change: BTC's gateway also lists the
member VN/GOV/BTC itself among its clients (docs/gateway.md "subsystems"), and the
registry holds a grant to that member-level client on the echo service. The
subsystem VN/GOV/BTC/tax keeps its own grants, which the member does not share."""

import http.client
import json
import sys
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import federation as F  # noqa: E402

URI_MAX = 4096  # reqfront.h GW_RF_URI_MAX

class MemberClientGateway(F.Gateway):
    """federation.py's Gateway; BTC's also lists its member id as a client."""

    def __init__(self, exe, ident, subsystems, *args, **kw):
        if ident.member == F.BTC:
            subsystems = list(subsystems) + [F.BTC]
        super().__init__(exe, ident, subsystems, *args, **kw)


def _grant_member(f):
    f.ndx("grant", "add", "--client", F.BTC, "--service", F.ECHO, "--method", "GET",
          "--method", "POST")
    version = f.conf()["version"]
    for gw in f.gateways.values():
        f.wait_conf(gw, version)


@pytest.fixture(scope="module")
def fed(build_dir):
    with F.running_federation(build_dir, "ndx-member-", gateway_class=MemberClientGateway,
                              setup=_grant_member) as f:
        yield f


def body(resp):
    try:
        return resp.json()
    except ValueError:
        return {"raw": resp.text}


def xid():
    return "m-" + uuid.uuid4().hex


def call_with_clients(port, clients, path):
    """GET path with one X-Road-Client header per entry of clients, in order (http.client
    keeps repeated headers; requests would merge them)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        conn.putrequest("GET", path, skip_accept_encoding=True)
        for c in clients:
            conn.putheader("X-Road-Client", c)
        conn.putheader("X-Road-Id", xid())
        conn.endheaders()
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


# ---- member-level clients (PR-REST 4.1, 4.3) ------------------------------------------

def test_registry_conf_names_the_member_level_grant(fed):
    """PR-REST 4.1: "Including the subsystem code is OPTIONAL" in the client id."""
    grants = fed.conf()["grants"]
    assert any(g["client"] == F.BTC and g["service"] == F.ECHO for g in grants), grants


def test_member_level_client_calls_a_service(fed):
    """PR-REST 4.1: X-Road-Client [instance]/[class]/[member] without a subsystem."""
    r = fed.call("BTC", "GET", F.ECHO, "/ping", client=F.BTC)
    assert r.status_code == 200, (r.status_code, r.text, fed.tails())
    seen = r.json()
    assert seen["method"] == "GET" and seen["path"].endswith("/ping")
    got = {k.lower(): v for k, v in seen["headers"]}
    assert got.get("x-road-client") == F.BTC, got


def test_member_level_client_percent_encoded(fed):
    """PR-REST 4.3: the identifier parts are percent-encoded; B%54C is BTC."""
    r = fed.call("BTC", "GET", F.ECHO, "/ping", client="VN/GOV/B%54C")
    assert r.status_code == 200, (r.status_code, r.text)


def test_member_does_not_hold_its_subsystems_grants(fed):
    """A member-level client is the member itself: the grant of VN/GOV/BTC/tax on
    citizens is not the member's."""
    r = fed.call("BTC", "GET", F.CITIZENS, "/citizens/1", client=F.BTC)
    assert r.status_code != 200, r.text
    assert fed.call("BTC", "GET", F.CITIZENS, "/citizens/1").status_code == 200


def test_member_not_listed_by_its_gateway_is_refused(fed):
    """BHXH's gateway lists only its subsystem insurance, not the member."""
    r = fed.call("BHXH", "GET", F.ECHO, "/ping", client=F.BHXH)
    assert r.status_code in (400, 403, 500), r.text
    assert r.headers.get("X-Road-Error"), r.headers
    assert "UnknownClient" in json.dumps(body(r)) or "UnknownMember" in json.dumps(body(r))


def test_malformed_client_is_invalid_client_identifier(fed):
    """PR-REST 4.1: the client is 3 or 4 parts; anything else is not a client id."""
    for bad in ("VN/GOV", F.ECHO, "VN/GOV/B C"):
        r = fed.call("BTC", "GET", F.ECHO, "/ping", client=bad)
        assert r.status_code == 400, (bad, r.text)
        assert r.json()["type"] == "Client.InvalidClientIdentifier", (bad, r.text)


# ---- several X-Road-Client headers (PR-REST 4.3) ----------------------------------------

def test_last_x_road_client_header_counts(fed):
    """PR-REST 4.3: "If multiple X-Road-Client headers are present in the request, the
    Security Server SHOULD use the last defined header"."""
    port = fed.gateways["BTC"].consumer_port
    status, out = call_with_clients(port, [F.INSURANCE, F.TAX], f"/r1/{F.ECHO}/ping")
    assert status == 200, out
    got = {k.lower(): v for k, v in json.loads(out)["headers"]}
    assert got.get("x-road-client") == F.TAX
    # The other way round the last one is BHXH's subsystem, no client of this gateway.
    status, out = call_with_clients(port, [F.TAX, F.INSURANCE], f"/r1/{F.ECHO}/ping")
    assert status != 200, out


# ---- the URI (PR-REST 4.2) --------------------------------------------------------------

def long_target(extra=""):
    """A consumer-port target of exactly URI_MAX bytes of path and query (+ extra)."""
    prefix = f"/r1/{F.ECHO}/long"
    query = "q=" + "b" * 100
    fill = URI_MAX - len(prefix) - 1 - 1 - len(query)  # '/' before fill, '?' before query
    target = f"{prefix}/{'a' * fill}?{query}{extra}"
    assert len(target) == URI_MAX + len(extra)
    return target


def test_uri_of_4096_bytes_reaches_the_provider(fed):
    """PR-REST 4.2: "maximum length of the request URI needs to be limited": 4096
    bytes of path and query pass both gateways, libmicrohttpd's request line on the
    provider port included (its default 32 KiB per connection holds it)."""
    port = fed.gateways["BTC"].consumer_port
    target = long_target()
    status, _, out = F.raw_http(port, "GET", target, {"X-Road-Client": F.TAX,
                                                      "X-Road-Id": xid()})
    assert status == 200, out[:300]
    assert json.loads(out)["path"].endswith(target[len(f"/r1/{F.ECHO}"):])


def test_longer_uri_is_414(fed):
    """PR-REST 4.2: one byte over the limit is 414, and so is the issue's 9,000-character
    URL (it was a provider failure)."""
    port = fed.gateways["BTC"].consumer_port
    before = len(fed.echo.received())
    status, headers, out = F.raw_http(port, "GET", long_target("b"),
                                      {"X-Road-Client": F.TAX, "X-Road-Id": xid()})
    assert status == 414, out[:300]
    assert headers.get("x-road-error") == "Client.BadRequest"
    status, _, out = F.raw_http(port, "GET", f"/r1/{F.ECHO}/{'c' * 9000}",
                                {"X-Road-Client": F.TAX, "X-Road-Id": xid()})
    assert status == 414, out[:300]
    assert len(fed.echo.received()) == before


@pytest.mark.parametrize("rest", ["/..", "/a/../b", "/./x", "/%2e%2E/x", "/a/.%2E"])
def test_dot_segments_are_refused(fed, rest):
    """RFC 3986 5.2.4 would remove them; PR-REST 4.2: the URI "MUST be strictly
    validated". The provider system never sees them."""
    port = fed.gateways["BTC"].consumer_port
    before = len(fed.echo.received())
    status, headers, out = F.raw_http(port, "GET", f"/r1/{F.ECHO}{rest}",
                                      {"X-Road-Client": F.TAX, "X-Road-Id": xid()})
    assert status == 400, out[:300]
    assert headers.get("x-road-error") == "Client.BadRequest"
    err = json.loads(out)
    assert "segment" in err["message"], err
    assert len(fed.echo.received()) == before


# ---- X-Road-Security-Server and X-Road-Represented-Party (PR-REST 4.3) ------------------

@pytest.mark.parametrize("header,value", [
    ("X-Road-Security-Server", "VN/GOV/BCA"),
    ("X-Road-Security-Server", "VN/GOV/BCA/gw 1"),
    ("X-Road-Represented-Party", "VN/GOV/BCA"),
    ("X-Road-Represented-Party", "GOV/B C"),
])
def test_malformed_security_server_or_represented_party(fed, header, value):
    """PR-REST 4.3: X-Road-Security-Server is instance/class/member/server code,
    X-Road-Represented-Party is [member class/]member code."""
    r = fed.call("BTC", "GET", F.ECHO, "/ping", headers={header: value})
    assert r.status_code == 400, r.text
    assert r.json()["type"] == "Client.BadRequest"
    assert header in r.json()["message"]


def test_well_formed_represented_party_is_accepted(fed):
    """PR-REST 4.3: "Including the member class is OPTIONAL"."""
    for value in ("GOV/BHXH", "BHXH"):
        r = fed.call("BTC", "GET", F.ECHO, "/ping",
                     headers={"X-Road-Represented-Party": value})
        assert r.status_code == 200, (value, r.text)
