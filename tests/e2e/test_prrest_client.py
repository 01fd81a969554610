"""An unchanged X-Road information system against ndx (issue 15, "Must show" 2).

PrRestClient below is written from PR-REST 1.0.4 ("X-Road: Message Protocol for
REST") alone: http.client, the request line of §4.1, X-Road-Client (§4.3, parts
percent-encoded as §4.2 says), an optional X-Road-Id, and the application's own
headers. It sends no Ndx-* header and uses nothing of federation.py for the call.
It calls a non-personal service of VN/GOV/BCA whose provider system echoes what it
received (backends.ScriptedEcho, set up by test_conformance.add_mirror), so the test
sees what the provider system got as well as what came back."""

import base64
import http.client
import json
import os
import sys
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import federation as F  # noqa: E402  (the federation only; never the call)
from test_conformance import MIRROR, add_mirror  # noqa: E402


# ---- the client: PR-REST only -------------------------------------------------------------

def _encode_id(identifier):
    """PR-REST §4.2: each part UTF-8 and percent-encoded separately, "/" between."""
    return "/".join(quote(part, safe="") for part in identifier.split("/"))


class Answer:
    def __init__(self, status, fields, body):
        self.status = status
        self.fields = fields  # [(name, value bytes)] as received, in order
        self.body = body

    def values(self, name):
        return [v for k, v in self.fields if k.lower() == name.lower()]

    def value(self, name):
        got = self.values(name)
        return got[0] if got else None


class PrRestClient:
    """{method} /r1/{serviceId}[/path][?query] with X-Road-Client: {client}."""

    def __init__(self, host, port, client):
        self.host, self.port = host, port
        self.clients = [client] if isinstance(client, str) else list(client)

    def call(self, method, service_id, path="", query="", headers=(), body=None,
             message_id=None):
        target = f"/r1/{_encode_id(service_id)}{path}" + (f"?{query}" if query else "")
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            conn.putrequest(method, target, skip_accept_encoding=True)
            for c in self.clients:  # §4.3: MUST NOT send several; a test does
                conn.putheader("X-Road-Client", _encode_id(c))
            if message_id is not None:
                conn.putheader("X-Road-Id", message_id)
            for name, value in headers:
                conn.putheader(name, value if isinstance(value, bytes) else value.encode())
            if body is not None:
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            resp = conn.getresponse()
            fields = [(k, v.encode("latin-1")) for k, v in resp.getheaders()]
            return Answer(resp.status, fields, resp.read())
        finally:
            conn.close()


# ---- the federation ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def fed(build_dir):
    with F.running_federation(build_dir, "ndx-prrest-", setup=add_mirror) as f:
        yield f
        f.mirror.stop()


def client_for(fed, client=F.TAX, gw="BTC"):
    return PrRestClient("127.0.0.1", fed.gateways[gw].consumer_port, client)


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def a_jwt():
    header = {"alg": "RS256", "typ": "JWT", "kid": "tax-2026-1"}
    claims = {"iss": "https://idp.tax.example", "sub": "officer-42", "aud": "population",
              "iat": 1764000000, "exp": 1764003600, "scope": "citizens.read"}
    return ".".join([b64u(json.dumps(header).encode()), b64u(json.dumps(claims).encode()),
                     b64u(os.urandom(256))])


def provider_saw(answer):
    """What the echo reports it received: [(name, value bytes)]."""
    doc = json.loads(answer.body)
    return [(k, v.encode("latin-1")) for k, v in doc["headers"]], doc


def fields_named(fields, name):
    return [v for k, v in fields if k.lower() == name.lower()]


def explain(fed, answer):
    return (f"\n{answer.status} {answer.fields}\n{answer.body[:600]!r}\n"
            f"setup notes: {getattr(fed, 'suite_notes', [])}\n{fed.tails()}")


# ---- the tests -------------------------------------------------------------------------------

def test_user_headers_reach_the_provider_byte_for_byte(fed):
    jwt = a_jwt()
    sent = [
        ("Authorization", f"Bearer {jwt}"),
        ("Cache-Control", "no-cache, no-store, must-revalidate"),
        ("Pragma", "no-cache"),
        ("If-None-Match", '"33a64df5", W/"0815"'),
        ("X-Whatever", 'odd  spacing, "quoted; text", =, \\ and ~'),
        ("X-Multi", "first"),
        ("X-Multi", "second, third"),
        ("Content-Type", "application/json; charset=utf-8"),
    ]
    xid = str(uuid.uuid4())
    body = json.dumps({"query": "Nguyễn Văn A"}, ensure_ascii=False).encode()
    answer = client_for(fed).call("POST", MIRROR, "/v1/search", "page=2&size=10", sent,
                                  body, message_id=xid)
    assert answer.status == 200, explain(fed, answer)
    assert answer.value("X-Road-Error") is None, explain(fed, answer)
    seen, doc = provider_saw(answer)
    assert doc["method"] == "POST" and doc["path"] == "/api/v1/search?page=2&size=10", doc
    assert base64.b64decode(doc["body_b64"]) == body
    for name in ("Authorization", "Cache-Control", "Pragma", "If-None-Match", "X-Whatever",
                 "Content-Type"):
        want = [v.encode() for k, v in sent if k == name]
        assert fields_named(seen, name) == want, \
            f"{name}: sent {want}, the provider received {fields_named(seen, name)}"
    # Two fields with one name: the provider gets both values in order, as two fields or
    # combined into one with ", " (RFC 9110 §5.3) - the same header either way.
    multi = fields_named(seen, "X-Multi")
    assert multi in ([b"first", b"second, third"], [b"first, second, third"]), multi
    # The recorder agrees with what the echo reported.
    rec = fed.mirror.received(xid)
    assert len(rec) == 1 and rec[0].header("Authorization") == f"Bearer {jwt}"
    # Nothing of ndx was needed: the answer names the exchange as PR-REST says.
    assert answer.value("X-Road-Id") == xid.encode()
    assert answer.value("X-Road-Client") == F.TAX.encode()
    assert answer.value("X-Road-Service") == MIRROR.encode()
    assert answer.value("X-Road-Request-Hash")


def test_without_accept_the_provider_gets_application_json(fed):
    answer = client_for(fed).call("GET", MIRROR, "/v1/x", message_id=str(uuid.uuid4()))
    assert answer.status == 200, explain(fed, answer)
    seen, _ = provider_saw(answer)
    assert fields_named(seen, "Accept") == [b"application/json"], seen


def test_provider_headers_reach_the_client_byte_for_byte(fed):
    reply_headers = [
        ("Content-Type", "application/hal+json; charset=utf-8"),
        ("ETag", '"686897696a7c876b7e"'),
        ("Set-Cookie", "sid=31d4d96e407aad42; Path=/; Secure; HttpOnly"),
        ("Set-Cookie", "lang=vi-VN; Expires=Wed, 09 Jun 2027 10:18:14 GMT"),
        ("Cache-Control", "private, max-age=600"),
        ("X-Rate-Limit-Remaining", "4999"),
        ("X-Trace", 'a=1; b="two, three"'),
    ]
    body = b'{"_links":{"self":{"href":"/v1/x"}}}'
    fed.mirror.reply = {"status": 200, "headers": reply_headers, "body": body}
    try:
        answer = client_for(fed).call("GET", MIRROR, "/v1/x", message_id=str(uuid.uuid4()))
    finally:
        fed.mirror.reply = None
    assert answer.status == 200, explain(fed, answer)
    assert answer.body == body
    for name in ("Content-Type", "ETag", "Set-Cookie", "Cache-Control",
                 "X-Rate-Limit-Remaining", "X-Trace"):
        want = [v.encode() for k, v in reply_headers if k == name]
        assert answer.values(name) == want, \
            f"{name}: the provider sent {want}, the client got {answer.values(name)}" + \
            explain(fed, answer)


def test_a_retry_with_the_same_xroad_id_succeeds(fed):
    """PR-REST §4.3 recommends unique ids; it does not make a retry an error."""
    xid = str(uuid.uuid4())
    client = client_for(fed)
    first = client.call("GET", MIRROR, "/v1/retry", message_id=xid)
    again = client.call("GET", MIRROR, "/v1/retry", message_id=xid)
    assert first.status == 200, explain(fed, first)
    assert again.status == 200, explain(fed, again)
    assert again.value("X-Road-Id") == xid.encode()
    assert len(fed.mirror.received(xid)) == 2


def test_without_xroad_id_one_is_made_and_returned(fed):
    answer = client_for(fed).call("GET", MIRROR, "/v1/x")
    assert answer.status == 200, explain(fed, answer)
    xid = answer.value("X-Road-Id")
    assert xid and len(answer.values("X-Road-Id")) == 1, answer.fields
    seen, _ = provider_saw(answer)
    assert fields_named(seen, "X-Road-Id") == [xid]


def test_the_last_xroad_client_counts(fed):
    xid = str(uuid.uuid4())
    answer = client_for(fed, [F.INSURANCE, F.TAX]).call("GET", MIRROR, "/v1/x",
                                                        message_id=xid)
    assert answer.status == 200, explain(fed, answer)
    assert answer.values("X-Road-Client") == [F.TAX.encode()]
    seen, _ = provider_saw(answer)
    assert fields_named(seen, "X-Road-Client") == [F.TAX.encode()], seen
    # The other way round the last one is BHXH's subsystem, not a client of BTC's gateway.
    refused = client_for(fed, [F.TAX, F.INSURANCE]).call("GET", MIRROR, "/v1/x",
                                                         message_id=str(uuid.uuid4()))
    assert refused.status == 500, explain(fed, refused)
    assert refused.value("X-Road-Error") == b"Server.ClientProxy.UnknownMember"
    assert json.loads(refused.body)["detail"].startswith("UnknownClient")


def test_a_member_level_client(fed):
    """PR-REST §4.1: including the subsystem code in the client id is OPTIONAL."""
    xid = str(uuid.uuid4())
    answer = client_for(fed, F.BTC).call("GET", MIRROR, "/v1/x", message_id=xid)
    assert answer.status == 200, explain(fed, answer)
    assert answer.values("X-Road-Client") == [F.BTC.encode()]
    seen, _ = provider_saw(answer)
    assert fields_named(seen, "X-Road-Client") == [F.BTC.encode()], seen
