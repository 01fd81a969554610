"""End-to-end tests of ndx-gateway: a real federation on loopback (federation.py: a
registry, three members registered with the `ndx` CLI, one gateway process each,
recording provider systems from backends.py), checked strictly against
docs/protocol.md ("Consumer API", "Gateway to gateway", "Signature object",
"Canonical hashes", "Errors") and docs/gateway.md."""

import base64
import http.client
import json
import re
import socket
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ed25519
from requests.structures import CaseInsensitiveDict

sys.path.insert(0, str(Path(__file__).resolve().parent))

import federation as F  # noqa: E402
from federation import (BCA, BTC, CITIZENS, ECHO, INSURANCE, POPULATION,  # noqa: E402
                        TAX, Federation, gateway_request, raw_http, tls_context)
import refusals  # noqa: E402

# RFC 9562 section 5.7: version 7, variant 10, the Unix millisecond in front.
UUID7 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def uuid7_ms(u):
    return int(u[:8] + u[9:13], 16)
RESPONSE_HEADERS = ("X-Road-Client", "X-Road-Service", "X-Road-Id", "X-Road-Request-Id",
                    "X-Road-Request-Hash", "Ndx-Response-Signature")


# ---- fixtures ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def fed(build_dir):
    """The shared federation: started once for the module (a few seconds)."""
    with F.running_federation(build_dir, "ndx-gwfed-") as f:
        yield f


# ---- helpers ----------------------------------------------------------------------------

def _parts(resp):
    """(status, headers, body) from a requests.Response or a raw_http triple."""
    if isinstance(resp, tuple):
        status, headers, body = resp[:3]
        return status, CaseInsensitiveDict(headers), body
    return resp.status_code, resp.headers, resp.content


def refused(fed, resp, reason, what="", side=None):
    """Asserts a refusal for reason (or a tuple of reasons) as docs/protocol.md "Errors"
    and `ndx-gateway --error-table` give its type and status; returns the body."""
    st, headers, body = _parts(resp)
    where = f"{' (' + what + ')' if what else ''}\n{fed.tails()}"
    return refusals.check(st, headers, body, reason, side, where)


def success(fed, resp, status=200):
    st, headers, body = _parts(resp)
    assert st == status, f"expected {status}, got {st} {body[:400]!r}\n{fed.tails()}"
    assert "X-Road-Error" not in headers, headers
    return resp


def nothing_reached(fed, xid):
    got = fed.citizens.received(xid) + fed.echo.received(xid)
    assert got == [], f"the provider system received a refused request: {got}"


def ts_candidates(t0, t1, rec=None):
    out = []
    if rec is not None and rec.header("Ndx-Timestamp"):
        out.append(rec.header("Ndx-Timestamp"))
    for s in range(int(t0) - 2, int(t1) + 3):
        out.append(F.rfc3339(datetime.fromtimestamp(s, timezone.utc)))
    return out


def check_signed(fed, resp, *, method, service, path="", query="", client=TAX, xid,
                 sent=None, body=b"", t0, t1, rec=None, gateway=None, user=None):
    """Recomputes the request hash (the consumer gateway's Ndx-Timestamp is not returned,
    so every second of the exchange's time window is tried) and compares it with
    X-Road-Request-Hash; recomputes the response hash and verifies
    Ndx-Response-Signature with the provider gateway's key from the registry's /conf."""
    status, headers, rbody = _parts(resp)
    sent = CaseInsensitiveDict(sent or {})
    for name in RESPONSE_HEADERS:
        assert headers.get(name), f"response lacks {name}: {dict(headers)}"
    assert headers["X-Road-Client"] == client
    assert headers["X-Road-Service"] == service
    assert headers["X-Road-Id"] == xid
    got = base64.b64decode(headers["X-Road-Request-Hash"], validate=True)
    assert len(got) == 32
    # Signed for the provider member's first gateway unless the test says otherwise.
    gateway = gateway or "/".join(service.split("/")[:3]) + "/gw1"
    # The user headers as the provider system received them: signed, in order.
    if rec is None:
        recs = fed.citizens.received(xid) + fed.echo.received(xid)
        rec = recs[0] if recs else None
    if user is None:
        user = F.user_headers_of(rec.headers) if rec is not None else []
    # The consumer gateway returns the timestamp and nonce it signed.
    stamps = [headers["Ndx-Timestamp"]] if headers.get("Ndx-Timestamp") else \
        ts_candidates(t0, t1, rec)
    for ts in stamps:
        h = F.request_hash(method, service, path, query, client, xid,
                           sent.get("X-Road-UserId"), sent.get("X-Road-Issue"),
                           sent.get("Ndx-Purpose"), sent.get("Ndx-Subject"),
                           sent.get("Ndx-Consent"), ts, sent.get("Content-Type"), body,
                           gateway=gateway, nonce=headers.get("Ndx-Nonce", ""),
                           user_headers=user,
                           represented_party=sent.get("X-Road-Represented-Party", ""))
        if h == got:
            break
    else:
        pytest.fail("X-Road-Request-Hash is not the canonical request hash of "
                    f"{method} {service} {path!r} {query!r} for any Ndx-Timestamp in "
                    f"[{int(t0) - 2}, {int(t1) + 2}] (protocol.md 'Canonical hashes')")
    answer = resp.raw.headers.items() if hasattr(resp, "raw") else headers.items()
    rh = F.response_hash(got, status, headers.get("Content-Type"), headers.get("Location"),
                         rbody, user_headers=F.user_headers_of(answer, response=True))
    member = "/".join(service.split("/")[:3])
    sig = json.loads(headers["Ndx-Response-Signature"])
    keys = {kid: raw for raw, kid in fed.gateway_keys(member)}
    assert sig.get("key_id") in keys, f"response signed by {sig.get('key_id')}, not a " \
                                      f"gateway of {member}: {list(keys)}"
    try:
        F.verify_signature_object(headers["Ndx-Response-Signature"], keys[sig["key_id"]],
                                  sig["key_id"], rh)
    except Exception as e:  # noqa: BLE001 - name the failure, whatever it is
        pytest.fail(f"Ndx-Response-Signature does not verify over the recomputed response "
                    f"hash: {e!r} ({headers['Ndx-Response-Signature']})")
    return got


def as_gateway(fed, name="BTC"):
    """(ssl context, Ed25519 key) of a registered gateway identity."""
    ident = fed.idents[name]
    return tls_context(ident.ca_pem, ident.tls_cert, ident.tls_key), ident.private_key()


def provider_port(fed):
    return fed.gateways["BCA"].gateway_port


def refused_at_tls_or_401(fed, send):
    """Runs send(); a TLS/connection failure or 401 Security.Unauthenticated passes."""
    try:
        status, headers, body, _ = send()
    except (OSError, http.client.HTTPException) as e:  # ssl.SSLError is an OSError
        return f"refused during TLS: {e!r}"
    refused(fed, (status, headers, body), "Unauthenticated")
    return "refused with 401"


# ---- self-check of the Python reference ----------------------------------------------------

def test_python_reference_matches_pinned_hash_vectors():
    """The hashes this file recomputes use the vectors pinned in tests/unit/test_hash.c."""
    user = [("Authorization", "Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln"),
            ("Cache-Control", "no-cache"), ("X-Trace", "a"), ("X-Trace", "b")]
    h = F.request_hash("GET", "VN/GOV/BCA/population/citizens", "/citizens/001099012345",
                       "fields=name", "VN/GOV/MOF/enterprise",
                       "6f1c2a4e-0d3b-4c8e-9a51-3f2b7d9e8c10", "EE12345678901", "ISSUE-1",
                       "public-service", "001099012345", None, "2026-11-23T09:20:51Z", None,
                       b"", gateway="VN/GOV/BCA/gw1", nonce="5f0c9d2ab7e14c6f8e3a1b2c3d4e5f60",
                       represented_party="COM/0101234567", user_headers=user)
    assert h.hex() == "051ffb6fac5403e7e0707fc8f491106d5dc9536f3d48682ad558343f4860faae"
    answer = [("ETag", '"v1"'), ("Set-Cookie", "a=1; Path=/"), ("Set-Cookie", "b=2")]
    r = F.response_hash(h, 200, "application/json", None, b'{"name":"Nguyen Van A"}',
                        subjects="001099012345", user_headers=answer)
    assert r.hex() == "2877995d084319146cf6b350a6b43df0be50db8ceb74af6e6ed180031cf65069"
    r = F.response_hash(h, 200, "application/json", None, b'{"name":"Nguyen Van A"}',
                        user_headers=answer)
    assert r.hex() == "c96f31d775eaf629c2e8db1d281d68bff927597b8eaf11ef64b8a502aed21a5e"
    key = ed25519.Ed25519PrivateKey.generate()
    from cryptography.hazmat.primitives import serialization
    raw = key.public_key().public_bytes(serialization.Encoding.Raw,
                                        serialization.PublicFormat.Raw)
    obj = F.sign_object(key, h)
    F.verify_signature_object(F.compact(obj), raw, obj["key_id"], h)


# ---- the fixture's federation file (federation.json, docs/federation-file.md) --------------

def test_the_federation_file_declares_what_the_fixture_names():
    """federation.json holds the members, subsystems, services and grants that
    federation.py's constants and docstring name, and no gateways (made per run)."""
    doc = F.FEDERATION
    assert set(doc) == {"format", "members", "subsystems", "services", "grants"}, set(doc)
    assert doc["format"] == "ndx-federation/1"
    assert [m["id"] for m in doc["members"]] == [BCA, BTC, F.BHXH]
    assert all(m["name"].strip() for m in doc["members"])
    assert [s["id"] for s in doc["subsystems"]] == [POPULATION, TAX, INSURANCE]
    services = {s["id"]: s for s in doc["services"]}
    assert list(services) == [CITIZENS, ECHO]
    # Neither is personal (no purposes to send); only citizens has a document, whose
    # one path is the one the citizens grant and backend serve.
    assert not any(s.get("personal") or s.get("purposes") for s in services.values())
    assert list(F.CITIZENS_OPENAPI["paths"]) == ["/citizens/{id}"]
    assert "openapi" not in services[ECHO]
    grants = [(g["client"], g["service"], sorted(g["methods"]), sorted(g.get("paths", ["*"])))
              for g in doc["grants"]]
    assert grants == [(TAX, CITIZENS, ["GET"], ["/citizens/*"]),
                      (TAX, ECHO, ["GET", "POST"], ["*"])], grants


def test_the_federation_file_still_matches_the_running_registry(fed):
    """Applied again to the running federation (gateways registered after it), the file
    changes nothing: the registry holds exactly what it declares, and apply leaves the
    gateways, a section the file leaves out, alone."""
    version = fed.registry.conf_version()
    for extra in ((), ("--dry-run",)):
        res = fed.ndx("federation", "apply", F.FEDERATION_FILE, *extra)
        assert res.stdout == \
            f"no changes: the registry already matches {F.FEDERATION_FILE}\n", res.stdout
    assert fed.registry.conf_version() == version
    assert {(g["member"], g["code"]) for g in fed.conf()["gateways"]} == \
        {(BCA, "gw1"), (BTC, "gw1"), (F.BHXH, "gw1"), (BTC, "gw2")}


# ---- permitted exchanges -------------------------------------------------------------------

def test_permitted_get_exchange_is_signed_and_verifiable(fed):
    xid = "get-" + uuid.uuid4().hex
    sent = {"X-Road-UserId": "VN001099012345", "X-Road-Issue": "HS-2026-0042",
            "Ndx-Purpose": "public-service", "Accept": "application/json"}
    t0 = time.time()
    resp = fed.call("BTC", "GET", CITIZENS, "/citizens/001099012345?fields=name,dob",
                    xid=xid, headers=sent)
    t1 = time.time()
    success(fed, resp)
    assert resp.headers["Content-Type"] == "application/json"
    recs = fed.citizens.received(xid)
    assert len(recs) == 1, recs
    rec = recs[0]
    assert rec.method == "GET"
    assert rec.path == "/api/citizens/001099012345?fields=name,dob"
    assert rec.header("X-Road-Client") == TAX and rec.header("X-Road-Id") == xid
    assert rec.header("X-Road-UserId") == sent["X-Road-UserId"]
    assert rec.header("X-Road-Issue") == sent["X-Road-Issue"]
    assert rec.header("Ndx-Purpose") == "public-service"
    echoed = resp.json()
    assert echoed["path"] == rec.path and echoed["method"] == "GET"
    check_signed(fed, resp, method="GET", service=CITIZENS, path="/citizens/001099012345",
                 query="fields=name,dob", xid=xid, sent=sent, t0=t0, t1=t1, rec=rec)
    assert resp.headers["X-Road-Request-Id"].strip()


def test_permitted_post_body_arrives_byte_for_byte(fed):
    body = ('{"mst": "0101234567",  "tên":"Công ty TNHH Ánh Dương",\n'
            ' "n": [1, 2.50, null]}\n').encode()
    sent = {"Content-Type": "application/json; charset=utf-8"}
    xid = "post-" + uuid.uuid4().hex
    t0 = time.time()
    resp = fed.call("BTC", "POST", ECHO, "/declarations", xid=xid, headers=sent, data=body)
    t1 = time.time()
    success(fed, resp)
    recs = fed.echo.received(xid)
    assert len(recs) == 1
    assert recs[0].method == "POST" and recs[0].path == "/api/declarations"
    assert recs[0].body == body
    assert recs[0].header("Content-Type") == sent["Content-Type"]
    assert base64.b64decode(resp.json()["body_b64"]) == body
    check_signed(fed, resp, method="POST", service=ECHO, path="/declarations", xid=xid,
                 sent=sent, body=body, t0=t0, t1=t1, rec=recs[0])


def test_backend_request_head_empty_post_and_head(fed):
    """What the provider system receives besides the path and body: Host naming the backend,
    the gateway as User-Agent, Content-Length 0 for an empty POST and none for a GET, no
    Transfer-Encoding."""
    xid = "emptypost-" + uuid.uuid4().hex
    success(fed, fed.call("BTC", "POST", ECHO, "/empty", xid=xid, data=b""))
    rec = fed.echo.received(xid)[0]
    assert rec.method == "POST" and rec.body == b""
    assert rec.header("Content-Length") == "0" and rec.header("Transfer-Encoding") is None
    assert rec.header("Host") == f"127.0.0.1:{fed.echo.port}"
    assert rec.header("User-Agent") == "ndx-gateway"
    xid = "get-" + uuid.uuid4().hex
    success(fed, fed.call("BTC", "GET", ECHO, "/plain", xid=xid))
    rec = fed.echo.received(xid)[0]
    assert rec.header("Content-Length") is None and rec.header("Transfer-Encoding") is None


def test_xroad_id_preserved_or_generated_and_request_hashes_unique(fed):
    given = "BTC-tax-" + uuid.uuid4().hex
    resp = success(fed, fed.call("BTC", "GET", ECHO, "/id", xid=given))
    assert resp.headers["X-Road-Id"] == given
    assert [r.header("X-Road-Id") for r in fed.echo.received(given)] == [given]

    hashes, ids, req_ids = set(), set(), set()
    for _ in range(2):
        t0 = time.time()
        resp = success(fed, fed.call("BTC", "GET", ECHO, "/same?x=1", xid=False))
        t1 = time.time()
        gen = resp.headers.get("X-Road-Id", "")
        assert UUID7.match(gen), f"generated X-Road-Id {gen!r} is not a UUID v7"
        # its time is the gateway's clock while the call was made (same host)
        assert int(t0 * 1000) - 1 <= uuid7_ms(gen) <= int(t1 * 1000) + 1
        assert not ids or gen > max(ids), "an id made later sorts later"
        recs = fed.echo.received(gen)
        assert len(recs) == 1, "the provider system did not get the generated X-Road-Id"
        h = check_signed(fed, resp, method="GET", service=ECHO, path="/same", query="x=1",
                         xid=gen, t0=t0, t1=t1, rec=recs[0])
        hashes.add(h)
        ids.add(gen)
        req_ids.add(resp.headers["X-Road-Request-Id"])
    assert len(ids) == 2 and len(hashes) == 2 and len(req_ids) == 2


def test_encoded_path_and_query_reach_backend_byte_for_byte(fed):
    gw = fed.gateways["BTC"]
    xid = "enc-" + uuid.uuid4().hex
    path, query = "/a%2Fb/%C3%A1/x%20y/%7E~", "q=%C3%A1&x=1+2&y=a%2Fb&empty=&flag"
    t0 = time.time()
    resp = raw_http(gw.consumer_port, "GET", f"/r1/{ECHO}{path}?{query}",
                    {"X-Road-Client": TAX, "X-Road-Id": xid})
    t1 = time.time()
    success(fed, resp)
    recs = fed.echo.received(xid)
    assert len(recs) == 1
    assert recs[0].path == f"/api{path}?{query}"
    check_signed(fed, resp, method="GET", service=ECHO, path=path, query=query, xid=xid,
                 t0=t0, t1=t1, rec=recs[0])

    # Parts of the service id may be percent-encoded; the canonical id is what counts.
    xid2 = "enc2-" + uuid.uuid4().hex
    resp = raw_http(gw.consumer_port, "GET", "/r1/VN/GOV/BCA/popul%61tion/%65cho/plain",
                    {"X-Road-Client": "VN/GOV/BTC/t%61x", "X-Road-Id": xid2})
    success(fed, resp)
    assert resp[1]["x-road-service"] == ECHO and resp[1]["x-road-client"] == TAX
    assert [r.path for r in fed.echo.received(xid2)] == ["/api/plain"]


def test_redirect_is_passed_back_not_followed(fed):
    xid = "redir-" + uuid.uuid4().hex
    t0 = time.time()
    resp = fed.call("BTC", "GET", ECHO, "/go/redirect", xid=xid)
    t1 = time.time()
    success(fed, resp, 302)
    assert resp.headers["Location"] == "https://example.invalid/next?a=1"
    assert resp.content == b"moved"
    assert len(fed.echo.received(xid)) == 1
    check_signed(fed, resp, method="GET", service=ECHO, path="/go/redirect", xid=xid,
                 t0=t0, t1=t1)


def test_provider_error_status_is_passed_back_signed(fed):
    for code in (404, 500):
        xid = f"st{code}-" + uuid.uuid4().hex
        t0 = time.time()
        resp = fed.call("BTC", "GET", ECHO, f"/x/status/{code}", xid=xid)
        t1 = time.time()
        success(fed, resp, code)
        assert resp.json() == {"error": f"status {code}"}
        check_signed(fed, resp, method="GET", service=ECHO, path=f"/x/status/{code}",
                     xid=xid, t0=t0, t1=t1)


def test_hop_by_hop_headers_are_dropped_and_user_headers_pass(fed):
    """PR-REST 4.3: hop-by-hop headers (and those a Connection header names) and Host,
    User-Agent are filtered; user-defined headers, Authorization with a token and cookies
    included, pass to the provider system unmodified."""
    xid = "hop-" + uuid.uuid4().hex
    dropped = {"Connection": "X-Foo", "X-Foo": "bar", "Keep-Alive": "timeout=5",
               "TE": "trailers", "Upgrade": "websocket", "Proxy-Authorization": "Basic eDp5"}
    kept = {"Accept": "application/json", "Accept-Language": "vi, en;q=0.5",
            "Proxy-Foo": "1", "X-Custom": "1", "Cookie": "session=abc",
            "Authorization": "Bearer secret", "User-Agent": "an-information-system/1.0"}
    resp = fed.call("BTC", "GET", ECHO, "/hop", xid=xid, headers={**dropped, **kept})
    success(fed, resp)
    recs = fed.echo.received(xid)
    assert len(recs) == 1
    rec = recs[0]
    leaked = {n for n in dropped
              if n.lower() != "connection" and n.lower() in rec.header_names()}
    assert not leaked, f"forwarded to the provider system: {leaked}"
    assert "x-foo" not in (rec.header("Connection") or "").lower()
    for k, v in kept.items():
        if k == "User-Agent":  # PR-REST "Filtered headers": it leaks the origin host
            assert rec.header(k) != v, rec.headers
            continue
        assert rec.header(k) == v, f"{k} not passed through: {rec.headers}"


def test_user_headers_are_signed_and_only_the_signed_ones_pass(fed):
    """PR-REST 4.3 user headers pass unmodified, and ndx signs them (protocol.md
    "Headers"): a value changed on the way fails the signature; a header added on the way
    (not named in Ndx-Headers) never reaches the provider system."""
    ctx, key = as_gateway(fed)
    port = provider_port(fed)
    xid = "uh-" + uuid.uuid4().hex
    sent = {"Authorization": "Bearer a.b.c", "X-Custom": "1",
            "Ndx-Headers": "authorization,x-custom", "X-Added-On-The-Way": "evil"}
    st, h, body, _ = gateway_request(port, ctx, "GET", ECHO, "/uh", xid=xid, headers=sent,
                                     sign_with=key)
    assert st == 200, body
    rec = fed.echo.received(xid)[0]
    assert rec.header("Authorization") == "Bearer a.b.c" and rec.header("X-Custom") == "1"
    assert rec.header("X-Added-On-The-Way") is None, rec.headers
    # Signed over X-Custom: 1, sent with X-Custom: 2.
    xid = "uh-" + uuid.uuid4().hex
    st, h, body, _ = gateway_request(
        port, ctx, "GET", ECHO, "/uh", xid=xid, sign_with=key,
        headers={"X-Custom": "2", "Ndx-Headers": "x-custom"},
        signed_user_headers_override=[("X-Custom", "1")])
    refused(fed, (st, h, body), "BadSignature", side="provider")
    nothing_reached(fed, xid)


# ---- refusals at the consumer gateway ---------------------------------------------------------

def test_missing_or_malformed_client_is_400_invalid_client(fed):
    """PR-REST 4.1: {client} is instance/class/member[/subsystem]; anything else is not."""
    for client in (None, "", "VN/GOV", "VN/GOV/BTC/t x", "VN/GOV/BTC/tax/extra",
                   "VN/GOV/BTC/tax%2Fx", "VN/GOV/BTC/tax%0D%0AX-Evil:%201", "VN/GOV//tax"):
        xid = "inv-" + uuid.uuid4().hex
        refused(fed, fed.call("BTC", "GET", ECHO, "/x", client=client, xid=xid), "InvalidClient")
        nothing_reached(fed, xid)


def test_client_not_of_this_gateway_is_unknown_client(fed):
    """A member-level id parses (PR-REST 4.1) but is refused when the gateway does not
    list it among its clients."""
    for gw, client in (("BTC", INSURANCE), ("BTC", "VN/GOV/BTC/other"), ("BTC", POPULATION),
                       ("BCA", TAX), ("BTC", "VN/GOV/BHXH")):
        xid = "uc-" + uuid.uuid4().hex
        refused(fed, fed.call(gw, "GET", ECHO, "/x", client=client, xid=xid), "UnknownClient")
        nothing_reached(fed, xid)


def test_unknown_service_is_refused(fed):
    for service in (POPULATION + "/nothing", "VN/GOV/XYZ/sub/svc", TAX + "/citizens"):
        xid = "us-" + uuid.uuid4().hex
        refused(fed, fed.call("BTC", "GET", service, "/x", xid=xid), "UnknownService")
        nothing_reached(fed, xid)


def test_no_grant_is_refused(fed):
    for service, path in ((CITIZENS, "/citizens/001"), (ECHO, "/x")):
        xid = "ng-" + uuid.uuid4().hex
        refused(fed, fed.call("BHXH", "GET", service, path, client=INSURANCE, xid=xid), "NoGrant")
        nothing_reached(fed, xid)


def test_method_or_path_outside_the_grant_is_refused(fed):
    for method, service, path in (("DELETE", ECHO, "/x"), ("PUT", ECHO, "/x"),
                                  ("POST", CITIZENS, "/citizens/001"),
                                  ("GET", CITIZENS, "/other/001"), ("GET", CITIZENS, ""),
                                  ("GET", CITIZENS, "/citizens")):
        xid = "og-" + uuid.uuid4().hex
        refused(fed, fed.call("BTC", method, service, path, xid=xid), "NoGrant")
        nothing_reached(fed, xid)
    # The granted neighbour still works.
    success(fed, fed.call("BTC", "GET", CITIZENS, "/citizens/001"))


def test_malformed_service_id_is_400(fed):
    port = fed.gateways["BTC"].consumer_port
    for target in ("/r1/VN/GOV/BCA", "/r1/VN/GOV/B%20CA/population/citizens/x",
                   "/r1/VN/GOV/BCA%2Fpopulation/citizens/x/y",
                   "/r1/VN/GOV/BCA/population/cit%zzizens/x",
                   "/r1/VN/GOV/BCA/population/%C3%A1/x", "/r1/VN/GOV//population/citizens",
                   "/r1/VN/GOV/BCA/population/" + "c" * 65 + "/x"):
        xid = "ms-" + uuid.uuid4().hex
        refused(fed, raw_http(port, "GET", target, {"X-Road-Client": TAX, "X-Road-Id": xid}),
                ("BadPath", "InvalidService", "DotSegment"))
        nothing_reached(fed, xid)


def _raw_exchange(port, header_lines):
    """Sends a request whose header block is given as raw bytes; returns
    (status, headers, body) of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET /r1/" + ECHO.encode() + b"/inj HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  b"Connection: close\r\n" + header_lines + b"\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers, body


def test_header_injection_and_over_long_headers_are_400(fed):
    port = fed.gateways["BTC"].consumer_port
    cases = {
        "bare CR": b"X-Road-UserId: u1\rX-Road-Issue: injected\r\n",
    }
    # libmicrohttpd ends a header value at a NUL byte before the gateway sees
    # it (protocol.md "Consumer API"): the value is cut there, and nothing
    # after the NUL is forwarded or signed.
    xid = "nul-" + uuid.uuid4().hex
    resp = _raw_exchange(port, b"X-Road-Client: " + TAX.encode() + b"\r\nX-Road-Id: " +
                         xid.encode() + b"\r\nX-Road-UserId: u1\x00X-Road-Issue: injected\r\n")
    got = fed.echo.received(xid)
    if resp[0] == 400:
        refused(fed, resp, "BadHeader", what="NUL")
        nothing_reached(fed, xid)
    else:
        success(fed, resp)
        assert len(got) == 1, got
        assert got[0].header("X-Road-UserId") == "u1", got[0].headers
        assert got[0].header("X-Road-Issue") is None, "NUL: injected header forwarded"
    for name, line in cases.items():
        xid = "crlf-" + uuid.uuid4().hex
        resp = _raw_exchange(port, b"X-Road-Client: " + TAX.encode() + b"\r\nX-Road-Id: " +
                             xid.encode() + b"\r\n" + line)
        for rec in fed.echo.received(xid):
            for k, v in rec.headers:
                assert not set("\r\n\0") & set(k + v), f"{name}: forwarded {k}: {v!r}"
            assert rec.header("X-Road-Issue") is None, f"{name}: injected header forwarded"
        refused(fed, resp, "BadHeader", what=name)
        nothing_reached(fed, xid)
    # At most 1024 bytes a value.
    success(fed, fed.call("BTC", "GET", ECHO, "/x", headers={"X-Road-UserId": "u" * 1024}))
    xid = "long-" + uuid.uuid4().hex
    refused(fed, fed.call("BTC", "GET", ECHO, "/x", xid=xid,
                          headers={"X-Road-UserId": "u" * 1025}), "BadHeader")
    nothing_reached(fed, xid)


def test_body_over_max_body_is_413(fed):
    xid = "big-" + uuid.uuid4().hex
    refused(fed, fed.call("BTC", "POST", ECHO, "/upload", xid=xid,
                          data=b"x" * (fed.max_body + 1)), "BodyTooLarge", side="consumer")
    nothing_reached(fed, xid)
    xid = "bigc-" + uuid.uuid4().hex
    chunks = (b"y" * 8192 for _ in range(fed.max_body // 8192 + 2))
    refused(fed, fed.call("BTC", "POST", ECHO, "/upload", xid=xid, data=chunks), "BodyTooLarge",
            side="consumer")
    nothing_reached(fed, xid)
    xid = "fit-" + uuid.uuid4().hex
    body = bytes(range(256)) * (fed.max_body // 256)
    assert len(body) == fed.max_body
    resp = success(fed, fed.call("BTC", "POST", ECHO, "/upload/sink", xid=xid, data=body,
                                 headers={"Content-Type": "application/octet-stream"}))
    assert resp.json() == {"received": fed.max_body}
    assert fed.echo.received(xid)[0].body == body


# ---- the provider side fails -------------------------------------------------------------------

def test_backend_down_is_refused_then_back(fed):
    fed.citizens.stop()
    try:
        xid = "down-" + uuid.uuid4().hex
        refused(fed, fed.call("BTC", "GET", CITIZENS, "/citizens/001", xid=xid),
                "BackendUnreachable", side="provider")
    finally:
        fed.citizens.start()
    success(fed, fed.call("BTC", "GET", CITIZENS, "/citizens/001"))


def test_backend_hang_is_a_backend_timeout(fed):
    xid = "hang-" + uuid.uuid4().hex
    t0 = time.monotonic()
    resp = fed.call("BTC", "GET", ECHO, "/slow/hang", xid=xid)
    took = time.monotonic() - t0
    refused(fed, resp, "BackendTimeout", side="provider")
    assert fed.echo_timeout_ms / 1000 - 0.2 <= took < 5.0, f"answered after {took:.2f} s"
    assert len(fed.echo.received(xid)) == 1
    success(fed, fed.call("BTC", "GET", ECHO, "/after-hang"))


def test_backend_closing_mid_response_is_backend_unreachable(fed):
    xid = "close-" + uuid.uuid4().hex
    refused(fed, fed.call("BTC", "GET", ECHO, "/x/close", xid=xid), "BackendUnreachable",
            side="provider")
    assert len(fed.echo.received(xid)) == 1


def test_backend_closing_a_kept_alive_connection_is_retried_once(fed):
    """The provider gateway keeps its connections to a backend alive; a request sent on
    one that the backend then closes without a byte of an answer goes once more, on
    another connection, and the caller sees one answer."""
    for i in range(8):  # every exchange loop of the provider gateway has a kept connection
        success(fed, fed.call("BTC", "GET", ECHO, f"/warm/{i}"))
    success(fed, fed.call("BTC", "GET", ECHO, "/x/dropnext"))
    xid = "stale-" + uuid.uuid4().hex
    resp = success(fed, fed.call("BTC", "GET", ECHO, "/after-drop", xid=xid))
    assert resp.json()["path"] == "/api/after-drop"
    got = fed.echo.received(xid)
    assert len(got) == 2 and got[0].path == got[1].path == "/api/after-drop"
    assert not fed.echo.drop_reused.is_set()


def test_backend_malformed_answer_is_backend_unreachable_and_logged(fed):
    xid = "malformed-" + uuid.uuid4().hex
    refused(fed, fed.call("BTC", "GET", ECHO, "/x/malformed", xid=xid), "BackendUnreachable",
            side="provider")
    assert len(fed.echo.received(xid)) == 1
    log = fed.gateways["BCA"].stderr_path.read_text(errors="replace")
    assert "backend of " in log and "failed to parse the response" in log
    success(fed, fed.call("BTC", "GET", ECHO, "/after-malformed"))


def test_backend_body_over_limit_is_backend_too_large(fed):
    xid = "hugeresp-" + uuid.uuid4().hex
    doc = refused(fed, fed.call("BTC", "GET", ECHO, "/x/big", xid=xid),
                  ("BackendTooLarge", "ResponseTooLarge", "BadResponseSignature"))
    assert doc["type"].startswith("Server.")


def test_backend_endless_body_is_cut_off_as_too_large(fed):
    """A provider system that never stops sending: the provider gateway stops reading at
    max_body, answers 502 within seconds, and keeps serving."""
    xid = "endless-" + uuid.uuid4().hex
    t0 = time.monotonic()
    doc = refused(fed, fed.call("BTC", "GET", ECHO, "/x/endless", xid=xid),
                  ("BackendTooLarge", "ResponseTooLarge", "BadResponseSignature"))
    assert doc["type"].startswith("Server.")
    assert time.monotonic() - t0 < 10
    assert len(fed.echo.received(xid)) == 1
    success(fed, fed.call("BTC", "GET", ECHO, "/after-endless"))


def test_provider_gateway_killed_is_provider_unreachable_and_consumer_recovers(fed):
    provider = fed.gateways["BCA"]
    success(fed, fed.call("BTC", "GET", CITIZENS, "/citizens/001"))  # a pooled connection
    provider.kill()
    try:
        xid = "kill-" + uuid.uuid4().hex
        t0 = time.monotonic()
        refused(fed, fed.call("BTC", "GET", CITIZENS, "/citizens/001", xid=xid),
                "ProviderUnreachable", side="consumer")
        assert time.monotonic() - t0 < 5
        # The consumer gateway keeps serving.
        assert fed.gateways["BTC"].healthz().status_code == 200
        assert requests.get(fed.gateways["BTC"].url + "/listClients", timeout=5).status_code \
            == 200
        refused(fed, fed.call("BTC", "GET", POPULATION + "/nothing", "/x"), "UnknownService")
    finally:
        provider.spawn().wait_ready()
    success(fed, fed.call("BTC", "GET", CITIZENS, "/citizens/002"))


# ---- the gateway port (mutual TLS) ---------------------------------------------------------------

def test_python_consumer_gateway_is_accepted(fed):
    """Control for the tests below: a request built here from protocol.md alone, with a
    registered gateway's certificate and key, is served and its response verifies."""
    ctx, key = as_gateway(fed)
    xid = "pygw-" + uuid.uuid4().hex
    status, headers, body, rh = gateway_request(
        provider_port(fed), ctx, "GET", CITIZENS, "/citizens/003", "a=1", xid=xid,
        headers={"X-Road-UserId": "u-7"}, sign_with=key)
    assert status == 200, f"{status} {body[:300]!r}\n{fed.tails()}"
    assert base64.b64decode(headers["x-road-request-hash"]) == rh
    assert headers.get("x-road-request-id")
    raw, kid = fed.gateway_keys(BCA)[0]
    F.verify_signature_object(headers["ndx-response-signature"], raw, kid,
                              F.response_hash(rh, status, headers.get("content-type"),
                                              headers.get("location"), body))
    recs = fed.citizens.received(xid)
    assert len(recs) == 1 and recs[0].path == "/api/citizens/003?a=1"


def test_gateway_port_without_client_certificate_is_refused(fed):
    ident = fed.idents["BTC"]
    ctx = tls_context(ident.ca_pem)
    xid = "nocert-" + uuid.uuid4().hex
    refused_at_tls_or_401(fed, lambda: gateway_request(
        provider_port(fed), ctx, "GET", CITIZENS, "/citizens/001", xid=xid,
        sign_with=ident.private_key()))
    nothing_reached(fed, xid)


def test_gateway_port_certificate_of_another_ca_is_refused(fed, tmp_path):
    ident = fed.idents["BTC"]
    pem, key = F.foreign_ca_cert(tmp_path)
    ctx = tls_context(ident.ca_pem, pem, key)
    xid = "foreign-" + uuid.uuid4().hex
    refused_at_tls_or_401(fed, lambda: gateway_request(
        provider_port(fed), ctx, "GET", CITIZENS, "/citizens/001", xid=xid,
        sign_with=ident.private_key()))
    nothing_reached(fed, xid)


def _flip_signature_byte(obj):
    sig = bytearray(base64.b64decode(obj["root_signature"]))
    sig[10] ^= 0x01
    obj["root_signature"] = base64.b64encode(bytes(sig)).decode()


def test_gateway_port_forged_signature_is_bad_signature(fed):
    ctx, key = as_gateway(fed)
    other = ed25519.Ed25519PrivateKey.generate()
    real_kid = fed.idents["BTC"].key_id()
    cases = {
        "flipped byte": dict(sign_with=key, tamper=_flip_signature_byte),
        "another key, claimed key id": dict(
            sign_with=other, tamper=lambda o: o.__setitem__("key_id", real_kid)),
        "another key, its own key id": dict(sign_with=other),
        "another gateway's key (BHXH)": dict(sign_with=fed.idents["BHXH"].private_key()),
    }
    for name, kw in cases.items():
        xid = "forge-" + uuid.uuid4().hex
        status, headers, body, _ = gateway_request(provider_port(fed), ctx, "GET", CITIZENS,
                                                   "/citizens/001", xid=xid, **kw)
        refused(fed, (status, headers, body), "BadSignature")
        nothing_reached(fed, xid)

    # A valid signature of a different request (UserId changed after signing).
    xid = "forge-" + uuid.uuid4().hex
    ts = F.rfc3339()
    rh = F.request_hash("GET", CITIZENS, "/citizens/001", "", TAX, xid, "u-1", None, None,
                        None, None, ts, None, b"",
                        gateway=F.GATEWAY_NAMES[provider_port(fed)])
    sig = F.compact(F.sign_object(key, rh))
    status, headers, body, _ = gateway_request(
        provider_port(fed), ctx, "GET", CITIZENS, "/citizens/001", xid=xid, timestamp=ts,
        headers={"X-Road-UserId": "u-2", "Ndx-Signature": sig})
    refused(fed, (status, headers, body), "BadSignature")
    nothing_reached(fed, xid)

    # No signature at all does not verify either.
    xid = "forge-" + uuid.uuid4().hex
    status, headers, body, _ = gateway_request(provider_port(fed), ctx, "GET", CITIZENS,
                                               "/citizens/001", xid=xid)
    refused(fed, (status, headers, body), "BadSignature")
    nothing_reached(fed, xid)


def test_gateway_port_stale_timestamp_is_refused(fed):
    ctx, key = as_gateway(fed)
    now = time.time()
    for offset in (-3600, 3600):
        xid = "stale-" + uuid.uuid4().hex
        ts = F.rfc3339(datetime.fromtimestamp(now + offset, timezone.utc))
        status, headers, body, _ = gateway_request(provider_port(fed), ctx, "GET", CITIZENS,
                                                   "/citizens/001", xid=xid, timestamp=ts,
                                                   sign_with=key)
        refused(fed, (status, headers, body), "StaleTimestamp")
        nothing_reached(fed, xid)


def test_gateway_port_checks_grant_client_member_and_service(fed):
    """The provider gateway decides for itself, whatever a consumer gateway let through."""
    btc_ctx, btc_key = as_gateway(fed, "BTC")
    bhxh_ctx, bhxh_key = as_gateway(fed, "BHXH")
    port = provider_port(fed)
    cases = [
        ("BHXH has no grant", bhxh_ctx, bhxh_key, INSURANCE, "GET", CITIZENS, "/citizens/1",
         "NoGrant"),
        ("method outside the grant", btc_ctx, btc_key, TAX, "DELETE", ECHO, "/x",
         "NoGrant"),
        ("path outside the grant", btc_ctx, btc_key, TAX, "GET", CITIZENS, "/other/1",
         "NoGrant"),
        ("client of another member than the TLS certificate's", btc_ctx, btc_key, INSURANCE,
         "GET", CITIZENS, "/citizens/1", "UnknownClient"),
        ("service not in the configuration", btc_ctx, btc_key, TAX, "GET",
         POPULATION + "/nothing", "/x", "UnknownService"),
    ]
    for what, ctx, key, client, method, service, path, reason in cases:
        xid = "gwp-" + uuid.uuid4().hex
        st, headers, body, _ = gateway_request(port, ctx, method, service, path, client=client,
                                               xid=xid, sign_with=key)
        refused(fed, (st, headers, body), reason, what=what, side="provider")
        nothing_reached(fed, xid)
    # A service of another member is not served by this gateway.
    xid = "gwp-" + uuid.uuid4().hex
    st, headers, body, _ = gateway_request(fed.gateways["BTC"].gateway_port, bhxh_ctx, "GET",
                                           CITIZENS, "/citizens/1", client=INSURANCE, xid=xid,
                                           sign_with=bhxh_key)
    refused(fed, (st, headers, body), "UnknownService", what="not served here")


def _gw2_call(fed, name):
    ident = fed.idents[name]
    ctx = tls_context(ident.ca_pem, ident.tls_cert, ident.tls_key)
    xid = "gw2-" + uuid.uuid4().hex
    return xid, lambda: gateway_request(provider_port(fed), ctx, "GET", CITIZENS,
                                        "/citizens/004", xid=xid,
                                        sign_with=ident.private_key())


def test_revoked_certificate_is_refused_after_conf_refresh(fed):
    xid, send = _gw2_call(fed, "BTC_gw2")
    status, _, body, _ = send()
    assert status == 200, f"control: {status} {body[:300]!r}\n{fed.tails()}"
    fed.ndx("revoke", "--kind", "certificate", "--value", fed.idents["BTC_gw2"].tls_fingerprint(),
            "--reason", "compromised")
    fed.wait_conf(fed.gateways["BCA"], fed.registry.conf_version())
    xid, send = _gw2_call(fed, "BTC_gw2")
    refused_at_tls_or_401(fed, send)
    nothing_reached(fed, xid)


def test_removed_gateway_is_refused_after_conf_refresh(fed):
    fed.register_gateway("BTC_gw3", BTC, "gw3", F.free_port())
    fed.wait_conf(fed.gateways["BCA"], fed.registry.conf_version())
    xid, send = _gw2_call(fed, "BTC_gw3")
    status, _, body, _ = send()
    assert status == 200, f"control: {status} {body[:300]!r}\n{fed.tails()}"
    fed.ndx("gateway", "remove", BTC, "gw3")
    fed.wait_conf(fed.gateways["BCA"], fed.registry.conf_version())
    xid, send = _gw2_call(fed, "BTC_gw3")
    refused_at_tls_or_401(fed, send)
    nothing_reached(fed, xid)


# ---- the registry goes away -----------------------------------------------------------------

def test_registry_down_keeps_last_good_conf(fed):
    reg = fed.registry
    version = reg.conf_version()
    fed.wait_conf(fed.gateways["BTC"], version)
    fed.wait_conf(fed.gateways["BCA"], version)
    F.stop_registry(reg)
    try:
        time.sleep(2.5)  # a few failed polls (conf_refresh_s = 1)
        success(fed, fed.call("BTC", "GET", CITIZENS, "/citizens/005"))
        h = fed.gateways["BTC"].healthz()
        assert h.status_code == 200 and h.json()["conf_version"] == version, h.text
    finally:
        F.start_registry_same_port(reg)
    # Polling resumes: a new change reaches the gateways.
    fed.ndx("revoke", "--kind", "key", "--value", "ab" * 32, "--reason", "test")
    fed.wait_conf(fed.gateways["BTC"], reg.conf_version())
    success(fed, fed.call("BTC", "GET", CITIZENS, "/citizens/006"))


def provider_expired_first(resp):
    """Both gateways hold one configuration, which expires at one instant: a call the
    consumer passed just before it can reach the provider just after, and the provider's
    unsigned refusal comes back as the consumer's BadResponseSignature naming it (seen under
    ASan, where the call took 0.7 s). The consumer's own refusal follows on the next call."""
    if resp.status_code != 500:
        return False
    detail = resp.json().get("detail", "")
    return detail.startswith("BadResponseSignature:") and \
        "Server.ServerProxy.OutdatedGlobalConf" in detail


def test_expired_conf_refuses_until_registry_returns(build_dir, registry_factory, tmp_path):
    reg = registry_factory(conf_validity=4)
    f = Federation(build_dir, reg, tmp_path / "fed")
    try:
        try:
            f.start()
        except RuntimeError as e:
            pytest.fail(str(e), pytrace=False)
        success(f, f.call("BTC", "GET", CITIZENS, "/citizens/001"))
        F.stop_registry(reg)
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                resp = f.call("BTC", "GET", CITIZENS, "/citizens/001")
                if resp.status_code != 200 and not provider_expired_first(resp):
                    break
                time.sleep(0.25)
            refused(f, resp, "NoConfiguration")
            assert f.gateways["BTC"].healthz().status_code == 503
        finally:
            F.start_registry_same_port(reg)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            resp = f.call("BTC", "GET", CITIZENS, "/citizens/001")
            if resp.status_code == 200:
                break
            time.sleep(0.25)
        success(f, resp)
    finally:
        problems = f.close()
    assert not problems, "\n".join(problems)


# ---- metaservices, operations ------------------------------------------------------------------

def test_list_clients(fed):
    # PR-META §2 (JSON form; test_metaservices.py checks the XML form and the rest).
    resp = success(fed, requests.get(fed.gateways["BTC"].url + "/listClients",
                                     headers={"Accept": "application/json"}, timeout=10))
    clients = {"/".join(c["id"][k] for k in ("xroad_instance", "member_class", "member_code",
                                             "subsystem_code")): c
               for c in resp.json()["member"] if c["id"]["object_type"] == "SUBSYSTEM"}
    assert set(clients) == {POPULATION, TAX, INSURANCE}
    assert clients[POPULATION]["name"] == "Bộ Công an"
    assert clients[TAX]["name"] == "Bộ Tài chính"


def test_list_methods(fed):
    resp = success(fed, requests.get(f"{fed.gateways['BTC'].url}/r1/{POPULATION}/listMethods",
                                     headers={"X-Road-Client": TAX}, timeout=10))
    # PR-MREST §4, Annex B.1
    services = {s["service_code"]: s for s in resp.json()["service"]}
    assert set(services) == {"citizens", "echo"}
    assert services["citizens"]["service_type"] == "OPENAPI"
    assert services["citizens"]["endpoint_list"] == [{"method": "*", "path": "**"}]
    resp = success(fed, requests.get(f"{fed.gateways['BTC'].url}/r1/{TAX}/listMethods",
                                     headers={"X-Road-Client": TAX}, timeout=10))
    assert resp.json()["service"] == []


def test_allowed_methods(fed):
    url = f"{fed.gateways['BTC'].url}/r1/{POPULATION}/allowedMethods"
    resp = success(fed, requests.get(url, headers={"X-Road-Client": TAX}, timeout=10))
    doc = resp.json()
    # PR-MREST §4, Annex B.2
    entries = {s["service_code"]: s for s in doc["service"]}
    assert set(entries) == {"citizens", "echo"}, doc
    assert entries["citizens"]["endpoint_list"] == [{"method": "GET", "path": "/citizens/**"}]
    assert {"method": "POST", "path": "**"} in entries["echo"]["endpoint_list"]
    url = f"{fed.gateways['BHXH'].url}/r1/{POPULATION}/allowedMethods"
    resp = success(fed, requests.get(url, headers={"X-Road-Client": INSURANCE}, timeout=10))
    assert resp.json()["service"] == []
    refused(fed, requests.get(url, timeout=10), "InvalidClient")


def test_get_openapi(fed):
    url = f"{fed.gateways['BTC'].url}/r1/{POPULATION}/getOpenAPI"
    resp = success(fed, requests.get(url, params={"serviceCode": "citizens"},
                                     headers={"X-Road-Client": TAX}, timeout=10))
    held = requests.get(f"{fed.registry.url}/openapi/{CITIZENS}", timeout=10)
    assert held.status_code == 200
    assert resp.json() == held.json() == F.CITIZENS_OPENAPI
    refused(fed, requests.get(url, params={"serviceCode": "nothing"},
                              headers={"X-Road-Client": TAX}, timeout=10),
            "UnknownService")


def test_healthz_and_metrics(fed):
    version = fed.registry.conf_version()
    for gw in fed.gateways.values():
        h = fed.wait_conf(gw, version)
        assert h["status"] == "ok" and isinstance(h["conf_version"], int)
        exp = datetime.strptime(h["conf_expires_at"], "%Y-%m-%dT%H:%M:%SZ")
        assert exp.replace(tzinfo=timezone.utc) > datetime.now(timezone.utc)
    gw = fed.gateways["BTC"]
    success(fed, fed.call("BTC", "GET", ECHO, "/metrics-probe"))
    m = success(fed, requests.get(gw.url + "/metrics", timeout=10))
    assert m.headers["Content-Type"].startswith("text/plain"), m.headers
    text = m.text
    assert "ndx_gateway_requests_total" in text and "ndx_gateway_conf_version" in text, text
    cv = [line for line in text.splitlines() if line.startswith("ndx_gateway_conf_version")]
    assert cv and float(cv[0].split()[-1]) == gw.healthz().json()["conf_version"], cv
    # One JSON access-log line per request on stderr, the /metrics just answered too
    # (written at the end of its loop turn: waited for).
    lines = gw.wait_access_lines(lambda x: x.get("path") == "/metrics")
    assert lines, gw.tail()


def test_the_allocator_the_build_links_serves_malloc(fed, build_dir):
    """meson.build links mimalloc into ndx-gateway, except under the sanitizers, which
    own malloc themselves. /metrics says which allocator serves malloc, from the
    gateway's own probe (a block from malloc that mimalloc knows as its own), and the
    process maps the library only when the build links it."""
    opts = json.loads((build_dir / "meson-info" / "intro-buildoptions.json").read_text())
    sanitized = next(o["value"] for o in opts if o["name"] == "b_sanitize") not in ("none", [])
    for name, gw in fed.gateways.items():
        text = requests.get(gw.url + "/metrics", timeout=10).text
        info = [x for x in text.splitlines() if x.startswith("ndx_gateway_allocator_info{")]
        assert len(info) == 1, (name, info)
        mapped = "libmimalloc" in Path(f"/proc/{gw.proc.pid}/maps").read_text()
        if sanitized:
            assert info[0].startswith('ndx_gateway_allocator_info{allocator="glibc",'), info
            assert not mapped, name
        else:
            assert re.fullmatch(r'ndx_gateway_allocator_info\{allocator="mimalloc",'
                                r'version="2\.\d\.\d+"\} 1', info[0]), info
            assert mapped, name


# ---- the consumer gateway checks the provider gateway -----------------------------------------

def test_consumer_signs_requests_and_refuses_bad_response_signatures(fed):
    fake = F.add_fake_provider(fed)
    try:
        sent = {"X-Road-UserId": "u-9", "X-Road-Issue": "I-1"}
        xid = "fake-" + uuid.uuid4().hex
        t0 = time.time()
        resp = fed.call("BTC", "GET", F.FAKE_SERVICE, "/p/q?z=1", xid=xid, headers=sent)
        t1 = time.time()
        success(fed, resp)
        assert resp.content == F.FAKE_BODY
        got = fake.records[-1][2]
        check_signed(fed, resp, method="GET", service=F.FAKE_SERVICE, path="/p/q",
                     query="z=1", xid=xid, sent=sent, t0=t0, t1=t1,
                     user=F.signed_user_headers(got.items(), got.get("Ndx-Headers")))
        # What the consumer gateway sent: Ndx-Timestamp and an Ndx-Signature by BTC's key
        # over the request hash (protocol.md "Gateway to gateway").
        method, target, headers, body = fake.records[-1]
        h = CaseInsensitiveDict(headers)
        assert method == "GET" and target == f"/r1/{F.FAKE_SERVICE}/p/q?z=1"
        assert h["X-Road-Id"] == xid and h["X-Road-Client"] == TAX
        ts = datetime.strptime(h["Ndx-Timestamp"], "%Y-%m-%dT%H:%M:%SZ")
        assert abs(ts.replace(tzinfo=timezone.utc).timestamp() - t0) < 5
        assert h["Ndx-Gateway"] == F.FAKE_MEMBER + "/" + fake.ident.code
        rh = F.request_hash("GET", F.FAKE_SERVICE, "/p/q", "z=1", TAX, xid, "u-9", "I-1",
                            None, None, None, h["Ndx-Timestamp"], None, body,
                            gateway=h["Ndx-Gateway"], nonce=h["Ndx-Nonce"],
                            user_headers=F.signed_user_headers(headers.items(),
                                                               h.get("Ndx-Headers")))
        # A fresh nonce; the client's Accept passed unmodified (PR-REST 4.3).
        assert len(h["Ndx-Nonce"]) >= 32 and h["Accept"] == resp.request.headers["Accept"]
        assert base64.b64decode(resp.headers["X-Road-Request-Hash"]) == rh
        raw = {kid: k for k, kid in fed.gateway_keys(BTC)}
        sig = json.loads(h["Ndx-Signature"])
        F.verify_signature_object(h["Ndx-Signature"], raw[sig["key_id"]], sig["key_id"], rh)

        assert resp.headers["ETag"] == '"v1"'  # the provider's signed user header
        for mode in ("flipped", "missing", "other-key", "wrong-hash", "header-changed",
                     "header-added"):
            fake.mode = mode
            resp = fed.call("BTC", "GET", F.FAKE_SERVICE, "/p")
            refused(fed, resp, "BadResponseSignature", what=mode)
            assert F.FAKE_BODY not in resp.content
    finally:
        fake.stop()
        F.remove_fake_provider(fed)


def test_check_option_validates_and_exits_0(fed, build_dir):
    import subprocess
    gw = fed.gateways["BTC"]
    res = subprocess.run([str(F.gateway_exe(build_dir)), "--config", str(gw.config_path),
                          "--check"], capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stdout + res.stderr
    # the event store's default: data_dir/events.db (docs/gateway.md events.store)
    assert f"event store         {gw.dir / 'data' / 'events.db'} (exists)" in res.stdout
    assert f"opmon store         {gw.dir / 'data' / 'opmon.db'} (exists)" in res.stdout


def test_http_engine_is_checked(fed, build_dir, tmp_path):
    """"http": {"engine"} names the HTTP library of the ports (docs/gateway.md): "microhttpd"
    or "h2o"; anything else is refused when the file is read."""
    import subprocess
    gw = fed.gateways["BTC"]
    cfg = json.loads(gw.config_path.read_text())
    for engine, ok in (("h2o", True), ("microhttpd", True), ("nginx", False), (7, False)):
        cfg["http"] = {"engine": engine}
        path = gw.config_path.parent / "engine-check.json"
        path.write_text(json.dumps(cfg))
        res = subprocess.run([str(F.gateway_exe(build_dir)), "--config", str(path), "--check"],
                             capture_output=True, text=True, timeout=30)
        assert (res.returncode == 0) == ok, (engine, res.stdout + res.stderr)
        if not ok:
            assert "http.engine" in res.stdout + res.stderr, res.stdout + res.stderr


def test_registry_urls_are_checked(fed, build_dir):
    """"registry_urls" lists registry nodes to fail over between (docs/scale.md): 1 to 8
    http(s) URLs, never together with "registry_url"; --check shows the failover ones."""
    import subprocess
    gw = fed.gateways["BTC"]
    base = json.loads(gw.config_path.read_text())
    one = base.pop("registry_url")
    cases = (
        ({"registry_urls": [one, "http://127.0.0.1:1/"]}, True, "registry, failover  http://127.0.0.1:1\n"),
        ({"registry_urls": [one], "registry_url": one}, False, "give one of them"),
        ({"registry_urls": []}, False, "registry_urls: expected an array of 1 to 8"),
        ({"registry_urls": [one] * 9}, False, "registry_urls: expected an array of 1 to 8"),
        ({"registry_urls": one}, False, "registry_urls: expected an array"),
        ({"registry_urls": [one, "ftp://x"]}, False, "registry_urls[1]: expected an http"),
        ({"registry_urls": [one, 7]}, False, "registry_urls[1]: expected an http"),
    )
    for extra, ok, says in cases:
        cfg = dict(base, **extra)
        path = gw.config_path.parent / "registry-urls-check.json"
        path.write_text(json.dumps(cfg))
        res = subprocess.run([str(F.gateway_exe(build_dir)), "--config", str(path), "--check"],
                             capture_output=True, text=True, timeout=30)
        assert (res.returncode == 0) == ok, (extra, res.stdout + res.stderr)
        assert says in res.stdout + res.stderr, (extra, res.stdout + res.stderr)
