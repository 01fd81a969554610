"""End-to-end tests of live data (docs/events.md, docs/protocol.md "Events"): event types
and subscriptions registered at the registry, events published by a provider system to its
own gateway, delivered gateway to gateway over mutual TLS, pulled and acknowledged by the
subscriber systems, retried while a subscriber is down, dead-lettered after the retry
budget and replayed, and shown in the subject's access list.

The federation of federation.py, plus:
    VN/GOV/BCA/population/civil-status   personal (purpose public-service), event type
                                         death-registered with a JSON Schema
    VN/GOV/BCA/population/echo           not personal, event type echo-changed
    subscriptions: BTC/tax and BHXH/insurance to death-registered (public-service);
                   BHXH/insurance to echo-changed with a retry budget of 2 s;
                   BTC/portal to echo-changed, pushed to an endpoint played here

Every refusal is one a member, a subscriber or a forger would try: publishing another
subsystem's events, a payload that breaks its schema, a delivery from the wrong gateway,
with a forged or spoiled signature, for a client without a subscription."""

import base64
import hashlib
import http.client
import json
import signal
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ed25519

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

import federation as F  # noqa: E402
import refusals  # noqa: E402
import test_data_subjects as DS  # noqa: E402  (the e-ID and the access list)

CIVIL = F.POPULATION + "/civil-status"
PORTAL = F.BTC + "/portal"
DEATH = "death-registered"
ECHO_EVENT = "echo-changed"
A, B = "001088000101", "001188000202"

DEATH_SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "required": ["pin", "died_on"],
    "additionalProperties": False,
    "properties": {
        "pin": {"type": "string", "pattern": "^[0-9]{12}$"},
        "died_on": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"},
        "place": {"type": "string", "maxLength": 200},
        "n": {"type": "integer"},
    },
}
ECHO_SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}}


def admin(fed, method, path, **kw):
    return DS.admin(fed, method, path, **kw)


class PushEndpoint:
    """A subscriber system's push endpoint: records what it is sent, in order, and
    answers 503 to the next `fail` requests."""

    def __init__(self):
        self.received = []
        self.fail = 0
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with outer.lock:
                    failing = outer.fail > 0
                    outer.fail -= failing
                    if not failing:
                        outer.received.append((dict(self.headers.items()), body))
                self.send_response(503 if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/events"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def ids(self):
        with self.lock:
            return [h["Ndx-Event-Id"] for h, _ in self.received]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def setup_events(eid, endpoint):
    subjects_setup = DS.setup_subjects(eid)

    def setup(fed):
        fed.ndx("service", "add", CIVIL, "--title", "Hộ tịch", "--personal", "--purpose",
                "public-service")
        admin(fed, "POST", "/api/event-types", json={
            "service": CIVIL, "name": DEATH, "title": "Khai tử", "schema": DEATH_SCHEMA})
        admin(fed, "POST", "/api/event-types", json={
            "service": F.ECHO, "name": ECHO_EVENT, "schema": ECHO_SCHEMA})
        for client in (F.TAX, F.INSURANCE):
            admin(fed, "POST", "/api/subscriptions", json={
                "client": client, "service": CIVIL, "event": DEATH,
                "purpose": "public-service",
                "retry": {"first_s": 1, "max_s": 1, "give_up_after_s": 600}})
        admin(fed, "POST", "/api/subscriptions", json={
            "client": F.INSURANCE, "service": F.ECHO, "event": ECHO_EVENT,
            "retry": {"first_s": 1, "max_s": 1, "give_up_after_s": 2}})
        # the access list of test_data_subjects (its setup also waits for the conf)
        subjects_setup(fed)  # adds the subsystem portal
        admin(fed, "POST", "/api/subscriptions", json={
            "client": PORTAL, "service": F.ECHO, "event": ECHO_EVENT})
        btc = fed.gateways["BTC"]
        btc.subsystems = ["tax", {"code": "portal", "push": endpoint.url,
                                  "push_timeout_ms": 2000}]
        btc.write_config()
        btc.proc.send_signal(signal.SIGHUP)
        for gw in fed.gateways.values():
            fed.wait_conf(gw, fed.registry.conf_version())
    return setup


@pytest.fixture(scope="module")
def eid():
    return DS.EId()


@pytest.fixture(scope="module")
def endpoint():
    e = PushEndpoint()
    yield e
    e.stop()


@pytest.fixture(scope="module")
def fed(build_dir, eid, endpoint):
    with F.running_federation(build_dir, "ndx-events-", setup=setup_events(eid, endpoint)) as f:
        yield f


# ---- the consumer API of events -------------------------------------------------------------

def publish(fed, payload, subject=A, client=F.POPULATION, gw="BCA", service=CIVIL,
            name=DEATH, raw=None, method="POST"):
    h = {"X-Road-Client": client, "Content-Type": "application/json"}
    if subject is not None:
        h["Ndx-Data-Subjects"] = subject
    body = raw if raw is not None else json.dumps(payload).encode()
    return requests.request(method, f"{fed.gateways[gw].url}/e1/{service}/{name}", headers=h,
                            data=body, timeout=15)


def published(fed, payload, **kw):
    r = publish(fed, payload, **kw)
    assert r.status_code == 201, f"{r.status_code} {r.text}\n{fed.tails()}"
    return r.json()


def inbox(fed, gw, client, **params):
    r = requests.get(f"{fed.gateways[gw].url}/e1/inbox", headers={"X-Road-Client": client},
                     params=params, timeout=15)
    assert r.status_code == 200, f"{r.status_code} {r.text}"
    return r.json()["events"]


def wait_inbox(fed, gw, client, ids, timeout=20.0):
    """The inbox entries of ids, once all of them are there."""
    deadline = time.monotonic() + timeout
    want = set(ids)
    while True:
        got = {e["id"]: e for e in inbox(fed, gw, client, limit=500)}
        if want <= set(got):
            return [e for e in sorted(got.values(), key=lambda e: e["seq"]) if e["id"] in want]
        if time.monotonic() > deadline:
            raise AssertionError(f"{client} at {gw} holds {len(want & set(got))} of {len(want)}"
                                 f" events after {timeout} s\n{fed.tails()}")
        time.sleep(0.2)


def status(fed, gw, client, event_id):
    return requests.get(f"{fed.gateways[gw].url}/e1/events/{event_id}",
                        headers={"X-Road-Client": client}, timeout=15)


def wait_state(fed, event_id, subscriber, state, timeout=20.0):
    deadline = time.monotonic() + timeout
    while True:
        r = status(fed, "BCA", F.POPULATION, event_id)
        assert r.status_code == 200, r.text
        d = [x for x in r.json()["deliveries"] if x["subscriber"] == subscriber]
        if d and d[0]["state"] == state:
            return d[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"delivery of {event_id} to {subscriber} is {d} after "
                                 f"{timeout} s, not {state}\n{fed.tails()}")
        time.sleep(0.2)


def event_hash(e, gateway="VN/GOV/BCA/gw1"):
    """docs/protocol.md "Events": the event hash, computed here from the spec's table."""
    payload = json.dumps(e["payload"]).encode() if "raw" not in e else e["raw"]
    fields = [b"ndx-event-v1", e["id"], e["service"], e["event"], e["publisher"],
              e["subject"], str(e["time_ms"]), gateway]
    data = b"".join(F._field(f) for f in fields)
    data += F._field(hashlib.sha256(payload).digest())
    return hashlib.sha256(data).digest()


def key_of(fed, name):
    """(raw Ed25519 public key, key id) of a registered gateway identity."""
    from cryptography.hazmat.primitives import serialization
    ident = fed.idents[name]
    raw = ident.private_key().public_key().public_bytes(serialization.Encoding.Raw,
                                                         serialization.PublicFormat.Raw)
    return raw, ident.key_id()


def bca_key(fed):
    return key_of(fed, "BCA")


# ---- publish, deliver, pull, acknowledge ----------------------------------------------------

def test_a_published_event_reaches_every_subscriber_signed_by_its_publisher(fed):
    payload = {"pin": A, "died_on": "2026-11-30", "place": "Hà Nội"}
    body = json.dumps(payload).encode()
    r = published(fed, None, raw=body)
    assert r["subscriptions"] == 2 and r["status"] == "queued" and r["subject"] == A
    # The signature covers the event as docs/protocol.md defines its hash.
    raw, kid = bca_key(fed)
    mine = {"id": r["id"], "service": CIVIL, "event": DEATH, "publisher": F.POPULATION,
            "subject": A, "time_ms": r["time_ms"], "raw": body}
    assert base64.b64decode(r["hash"]) == event_hash(mine)
    F.verify_signature_object(r["signature"], raw, kid, event_hash(mine))
    for gw, client in (("BTC", F.TAX), ("BHXH", F.INSURANCE)):
        e, = wait_inbox(fed, gw, client, [r["id"]])
        assert e["payload"] == payload and e["subject"] == A and e["publisher"] == F.POPULATION
        assert e["purpose"] == "public-service" and e["acknowledged"] is False
        F.verify_signature_object(e["signature"], raw, kid, event_hash(mine))
    d = wait_state(fed, r["id"], F.TAX, "delivered")
    assert d["attempts"] >= 1 and d["last_error"] == ""


def test_a_subscriber_acknowledges_and_both_sides_see_where_the_event_is(fed):
    r = published(fed, {"pin": B, "died_on": "2026-11-29"}, subject=B)
    wait_inbox(fed, "BTC", F.TAX, [r["id"]])
    url = f"{fed.gateways['BTC'].url}/e1/inbox/{r['id']}/ack"
    for _ in range(2):  # an acknowledgement repeated is still one
        a = requests.post(url, headers={"X-Road-Client": F.TAX}, timeout=10)
        assert a.status_code == 200, a.text
    s = status(fed, "BTC", F.TAX, r["id"])
    assert s.status_code == 200 and s.json()["state"] == "acknowledged", s.text
    assert all(e["id"] != r["id"] for e in inbox(fed, "BTC", F.TAX, unacked=1))
    wait_state(fed, r["id"], F.TAX, "delivered")
    # Another client of the same gateway cannot acknowledge or look at it.
    other = requests.post(url, headers={"X-Road-Client": F.BTC + "/portal"}, timeout=10)
    refusals.check_response(other, "UnknownEvent", "consumer")
    refusals.check_response(status(fed, "BTC", F.BTC + "/portal", r["id"]), "UnknownEvent",
                            "consumer")
    # ... nor the publisher's status of someone else's event, from another gateway
    refusals.check_response(status(fed, "BTC", F.TAX, str(uuid.uuid4())), "UnknownEvent",
                            "consumer")


def test_an_event_about_a_citizen_is_in_their_access_list(fed, eid):
    r = published(fed, {"pin": A, "died_on": "2026-11-28"})
    wait_state(fed, r["id"], F.TAX, "delivered")
    wait_state(fed, r["id"], F.INSURANCE, "delivered")
    found = [a for a in DS.listed(fed, eid, A) if a["message_id"] == r["id"]]
    assert {a["client"] for a in found} == {F.TAX, F.INSURANCE}, found
    for a in found:
        assert a["method"] == "EVENT" and a["purpose"] == "public-service", a
        assert a["service"] == CIVIL and a["outcome"] == "returned", a
    # ... and not in another person's
    assert all(a["message_id"] != r["id"] for a in DS.listed(fed, eid, B))


# ---- refusals at publishing -----------------------------------------------------------------

def test_only_the_services_own_subsystem_publishes(fed):
    ok = {"pin": A, "died_on": "2026-11-30"}
    # a subsystem of another member, through its own gateway
    refusals.check_response(publish(fed, ok, client=F.TAX, gw="BTC"), "NotPublisher",
                            "consumer")
    # a subsystem of the same member that is not the service's
    refusals.check_response(publish(fed, ok, client=DS.TRANSPARENCY_SUB), "NotPublisher",
                            "consumer")
    # speaking as BCA's subsystem through another member's gateway
    refusals.check_response(publish(fed, ok, gw="BTC"), "UnknownClient", "consumer")
    refusals.check_response(publish(fed, ok, client=None), "InvalidClient", "consumer")


def test_a_payload_that_breaks_the_schema_is_refused_naming_the_field(fed):
    r = publish(fed, {"pin": A, "died_on": "yesterday"})
    doc = refusals.check_response(r, "PayloadInvalid", "consumer")
    assert "/died_on" in doc["detail"], doc
    r = publish(fed, {"pin": A, "died_on": "2026-11-30", "cause": "x"})
    doc = refusals.check_response(r, "PayloadInvalid", "consumer")
    assert "cause" in doc["detail"], doc
    r = publish(fed, {"died_on": "2026-11-30"})
    doc = refusals.check_response(r, "PayloadInvalid", "consumer")
    assert "pin" in doc["detail"], doc
    refusals.check_response(publish(fed, None, raw=b'{"pin": '), "PayloadInvalid", "consumer")
    refusals.check_response(publish(fed, None, raw=b""), "PayloadInvalid", "consumer")
    refusals.check_response(publish(fed, None, raw=b'{"pin":"1","pin":"2"}'),
                            "PayloadInvalid", "consumer")


def test_subjects_fit_the_service(fed):
    ok = {"pin": A, "died_on": "2026-11-30"}
    refusals.check_response(publish(fed, ok, subject=None), "SubjectMissing", "consumer")
    refusals.check_response(publish(fed, ok, subject="none"), "SubjectMissing", "consumer")
    refusals.check_response(publish(fed, ok, subject=f"{A},{B}"), "SubjectInvalid", "consumer")
    refusals.check_response(publish(fed, ok, subject="12345"), "SubjectInvalid", "consumer")
    # a service without personal data publishes about nobody
    refusals.check_response(publish(fed, {"n": 1}, service=F.ECHO, name=ECHO_EVENT),
                            "SubjectInvalid", "consumer")


def test_unknown_event_types_and_methods_are_refused(fed):
    ok = {"pin": A, "died_on": "2026-11-30"}
    refusals.check_response(publish(fed, ok, name="born"), "UnknownEventType", "consumer")
    refusals.check_response(publish(fed, ok, service=F.CITIZENS), "UnknownEventType",
                            "consumer")
    refusals.check_response(publish(fed, ok, method="GET"), "BadMethod", "consumer")
    r = requests.get(f"{fed.gateways['BTC'].url}/e1/inbox?limit=0",
                     headers={"X-Road-Client": F.TAX}, timeout=10)
    refusals.check_response(r, "MetaserviceQuery", "consumer")


# ---- delivery while a subscriber is down ----------------------------------------------------

def test_a_subscriber_down_then_back_gets_everything_in_order(fed):
    bhxh = fed.gateways["BHXH"]
    bhxh.kill()
    try:
        sent = []
        for n in range(6):
            subject = (A, B)[n % 2]
            sent.append((subject, published(fed, {"pin": subject, "died_on": "2026-11-27",
                                                  "n": n}, subject=subject)["id"]))
        time.sleep(1.5)  # a few failed attempts
        d = status(fed, "BCA", F.POPULATION, sent[0][1]).json()["deliveries"]
        mine = [x for x in d if x["subscriber"] == F.INSURANCE]
        assert mine and mine[0]["state"] == "queued" and mine[0]["last_error"], d
    finally:
        bhxh.start()
    got = wait_inbox(fed, "BHXH", F.INSURANCE, [i for _, i in sent], timeout=30)
    ids = [e["id"] for e in got]
    assert len(ids) == len(set(ids)) == 6
    for subject in (A, B):
        # in the order published, per subject
        assert [e["id"] for e in got if e["subject"] == subject] == \
            [i for s, i in sent if s == subject]


def test_kill_9_of_the_publishing_gateway_loses_no_acknowledged_event(fed):
    bca = fed.gateways["BCA"]
    ids = [published(fed, {"pin": A, "died_on": "2026-11-26", "n": n})["id"]
           for n in range(20)]
    bca.kill()
    bca.start()
    wait_inbox(fed, "BTC", F.TAX, ids, timeout=30)
    wait_inbox(fed, "BHXH", F.INSURANCE, ids, timeout=30)


def test_kill_9_of_the_subscribing_gateway_loses_no_delivered_event(fed):
    btc = fed.gateways["BTC"]
    ids = []
    for n in range(20):
        ids.append(published(fed, {"pin": B, "died_on": "2026-11-25", "n": n}, subject=B)["id"])
        if n == 10:
            btc.kill()
    btc.start()
    got = wait_inbox(fed, "BTC", F.TAX, ids, timeout=30)
    assert [e["id"] for e in got] == ids  # one subject: in order


# ---- dead letters ---------------------------------------------------------------------------

def test_an_undeliverable_event_is_dead_lettered_then_replayed(fed):
    bhxh = fed.gateways["BHXH"]
    bhxh.stop()
    try:
        r = published(fed, {"n": 7}, service=F.ECHO, name=ECHO_EVENT, subject=None)
        d = wait_state(fed, r["id"], F.INSURANCE, "dead", timeout=20)
        assert d["attempts"] >= 2 and d["last_error"], d
        dead = requests.get(f"{fed.gateways['BCA'].url}/e1/dead",
                            headers={"X-Road-Client": F.POPULATION}, timeout=10)
        assert dead.status_code == 200, dead.text
        assert any(x["id"] == r["id"] and x["subscriber"] == F.INSURANCE
                   for x in dead.json()["dead"]), dead.text
        # only the publisher sees and replays its dead letters
        other = requests.get(f"{fed.gateways['BCA'].url}/e1/dead",
                             headers={"X-Road-Client": DS.TRANSPARENCY_SUB}, timeout=10)
        assert other.status_code == 200 and all(x["id"] != r["id"]
                                                for x in other.json()["dead"])
    finally:
        bhxh.start()
    url = f"{fed.gateways['BCA'].url}/e1/dead/{r['id']}/replay"
    refused = requests.post(url, params={"subscriber": F.INSURANCE},
                            headers={"X-Road-Client": DS.TRANSPARENCY_SUB}, timeout=10)
    refusals.check_response(refused, "UnknownEvent", "consumer")
    ok = requests.post(url, params={"subscriber": F.INSURANCE},
                       headers={"X-Road-Client": F.POPULATION}, timeout=10)
    assert ok.status_code == 200 and ok.json()["status"] == "queued", ok.text
    e, = wait_inbox(fed, "BHXH", F.INSURANCE, [r["id"]])
    assert e["payload"] == {"n": 7} and e["subject"] == ""
    wait_state(fed, r["id"], F.INSURANCE, "delivered")
    again = requests.post(url, params={"subscriber": F.INSURANCE},
                          headers={"X-Road-Client": F.POPULATION}, timeout=10)
    refusals.check_response(again, "UnknownEvent", "consumer")  # no longer dead


# ---- forged deliveries at the gateway port --------------------------------------------------

def deliver(fed, to, ident, headers, body, cert=True):
    """POST /e1/deliver to gateway `to` as the gateway of ident (its TLS certificate)."""
    ca = ident.ca_pem
    ctx = F.tls_context(ca, ident.tls_cert, ident.tls_key) if cert else F.tls_context(ca)
    conn = http.client.HTTPSConnection("127.0.0.1", fed.gateways[to].gateway_port, context=ctx,
                                       timeout=15)
    try:
        conn.putrequest("POST", "/e1/deliver", skip_accept_encoding=True)
        for k, v in headers.items():
            conn.putheader(k, v)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def forged(fed, client=F.TAX, subject=A, signer="BCA", gateway="VN/GOV/BCA/gw1", body=None,
           signed_body=None):
    body = body if body is not None else json.dumps({"pin": subject, "died_on": "2026-11-30"}
                                                     ).encode()
    e = {"id": str(uuid.uuid4()), "service": CIVIL, "event": DEATH, "publisher": F.POPULATION,
         "subject": subject, "time_ms": int(time.time() * 1000),
         "raw": signed_body if signed_body is not None else body}
    sig = F.compact(F.sign_object(fed.idents[signer].private_key(), event_hash(e, gateway)))
    h = {"Ndx-Event-Id": e["id"], "Ndx-Event-Service": CIVIL, "Ndx-Event-Name": DEATH,
         "Ndx-Event-Publisher": F.POPULATION, "Ndx-Event-Subject": subject,
         "Ndx-Event-Time": str(e["time_ms"]), "Ndx-Event-Client": client,
         "Ndx-Event-Purpose": "public-service", "Ndx-Signature": sig,
         "Content-Type": "application/json"}
    return h, body, e["id"]


def test_a_delivery_made_the_way_the_protocol_says_is_accepted_with_a_receipt(fed):
    h, body, event_id = forged(fed)
    status_, headers, text = deliver(fed, "BTC", fed.idents["BCA"], h, body)
    assert status_ == 200, text
    receipt = headers["ndx-response-signature"]
    raw, kid = key_of(fed, "BTC")
    rh = hashlib.sha256(F._field(b"ndx-event-receipt-v1") + F._field(event_hash(
        {"id": event_id, "service": CIVIL, "event": DEATH, "publisher": F.POPULATION,
         "subject": A, "time_ms": int(h["Ndx-Event-Time"]), "raw": body}))
        + F._field(F.TAX) + F._field("public-service") + F._field("VN/GOV/BTC/gw1")).digest()
    F.verify_signature_object(receipt, raw, kid, rh)
    # the same event again is a duplicate, answered with a receipt all the same
    status_, _, text = deliver(fed, "BTC", fed.idents["BCA"], h, body)
    assert status_ == 200 and json.loads(text)["duplicate"] is True, text
    assert [e["id"] for e in inbox(fed, "BTC", F.TAX, limit=500)].count(event_id) == 1


def test_forged_deliveries_are_refused(fed):
    where = fed.tails
    # no client certificate
    h, body, _ = forged(fed)
    s, hd, t = deliver(fed, "BTC", fed.idents["BCA"], h, body, cert=False)
    refusals.check(s, hd, t, "Unauthenticated", "provider", where())
    # another member's gateway delivering BCA's event, signed with its own key
    h, body, _ = forged(fed, signer="BTC_gw2", gateway="VN/GOV/BTC/gw2")
    s, hd, t = deliver(fed, "BHXH", fed.idents["BTC_gw2"], h, body)
    refusals.check(s, hd, t, "NotPublisher", "provider", where())
    # BCA's certificate, someone else's signature
    h, body, _ = forged(fed, signer="BTC")
    s, hd, t = deliver(fed, "BTC", fed.idents["BCA"], h, body)
    refusals.check(s, hd, t, "BadSignature", "provider", where())
    # the payload changed after signing
    h, body, _ = forged(fed, body=b'{"pin":"001088000101","died_on":"2026-01-01"}',
                        signed_body=b'{"pin":"001088000101","died_on":"2026-11-30"}')
    s, hd, t = deliver(fed, "BTC", fed.idents["BCA"], h, body)
    refusals.check(s, hd, t, "BadSignature", "provider", where())
    # a client of another gateway, and a client without a subscription
    h, body, _ = forged(fed, client=F.INSURANCE)
    s, hd, t = deliver(fed, "BTC", fed.idents["BCA"], h, body)
    refusals.check(s, hd, t, "NoSubscription", "provider", where())
    h, body, _ = forged(fed, client=F.BTC + "/portal")
    s, hd, t = deliver(fed, "BTC", fed.idents["BCA"], h, body)
    refusals.check(s, hd, t, "NoSubscription", "provider", where())
    # a payload that breaks the schema, signed properly
    h, body, _ = forged(fed, body=b'{"pin":"x"}')
    s, hd, t = deliver(fed, "BTC", fed.idents["BCA"], h, body)
    refusals.check(s, hd, t, "PayloadInvalid", "provider", where())
    # a header missing
    h, body, _ = forged(fed)
    del h["Ndx-Event-Time"]
    s, hd, t = deliver(fed, "BTC", fed.idents["BCA"], h, body)
    refusals.check(s, hd, t, "BadHeader", "provider", where())


# ---- push to the subscriber system ----------------------------------------------------------

def wait_pushed(endpoint, ids, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not set(ids) <= set(endpoint.ids()):
        if time.monotonic() > deadline:
            raise AssertionError(f"pushed {endpoint.ids()}, waiting for {ids}")
        time.sleep(0.1)
    with endpoint.lock:
        return [(h, b) for h, b in endpoint.received if h["Ndx-Event-Id"] in ids]


def test_events_are_pushed_to_the_subscriber_system_in_order_and_acknowledged(fed, endpoint):
    sent = [published(fed, {"n": n}, service=F.ECHO, name=ECHO_EVENT, subject=None)
            for n in range(5)]
    got = wait_pushed(endpoint, [r["id"] for r in sent])
    assert [h["Ndx-Event-Id"] for h, _ in got] == [r["id"] for r in sent]
    raw, kid = bca_key(fed)
    for (h, body), r, n in zip(got, sent, range(5)):
        assert json.loads(body) == {"n": n}
        assert h["Ndx-Event-Service"] == F.ECHO and h["Ndx-Event-Name"] == ECHO_EVENT
        assert h["Ndx-Event-Client"] == PORTAL and h["Ndx-Event-Publisher"] == F.POPULATION
        mine = {"id": r["id"], "service": F.ECHO, "event": ECHO_EVENT,
                "publisher": F.POPULATION, "subject": "", "time_ms": r["time_ms"],
                "raw": body}
        F.verify_signature_object(h["Ndx-Signature"], raw, kid, event_hash(mine))
    # a 2xx is the acknowledgement
    deadline = time.monotonic() + 10
    while True:
        st = status(fed, "BTC", PORTAL, sent[-1]["id"])
        if st.status_code == 200 and st.json()["state"] == "acknowledged":
            break
        assert time.monotonic() < deadline, st.text
        time.sleep(0.1)


def test_a_failing_push_endpoint_is_retried_until_it_takes_the_event(fed, endpoint):
    with endpoint.lock:
        endpoint.fail = 2
    r = published(fed, {"n": 99}, service=F.ECHO, name=ECHO_EVENT, subject=None)
    (h, body), = wait_pushed(endpoint, [r["id"]], timeout=30)
    assert json.loads(body) == {"n": 99} and endpoint.fail == 0


# ---- metadata and metrics -------------------------------------------------------------------

def test_list_event_types_tells_the_schema_and_whether_the_caller_subscribes(fed):
    url = f"{fed.gateways['BTC'].url}/r1/{F.POPULATION}/listEventTypes"
    r = requests.get(url, headers={"X-Road-Client": F.TAX}, timeout=10)
    assert r.status_code == 200, r.text
    types = {(t["service"], t["name"]): t for t in r.json()["event_type"]}
    assert set(types) == {(CIVIL, DEATH), (F.ECHO, ECHO_EVENT)}
    assert types[(CIVIL, DEATH)]["schema"] == DEATH_SCHEMA
    assert types[(CIVIL, DEATH)]["subscribed"] is True
    assert types[(CIVIL, DEATH)]["purpose"] == "public-service"
    assert types[(F.ECHO, ECHO_EVENT)]["subscribed"] is False
    # another member's subsystem has none; a client not of this gateway is refused
    r = requests.get(f"{fed.gateways['BTC'].url}/r1/{F.TAX}/listEventTypes",
                     headers={"X-Road-Client": F.TAX}, timeout=10)
    assert r.status_code == 200 and r.json()["event_type"] == []
    r = requests.get(url, headers={"X-Road-Client": F.INSURANCE}, timeout=10)
    refusals.check_response(r, "UnknownClient", "consumer")


def metric(text, name):
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{name} not in /metrics")


def test_metrics_count_published_delivered_and_received_events(fed):
    def m(gw):
        r = requests.get(fed.gateways[gw].url + "/metrics", timeout=10)
        assert r.status_code == 200
        return r.text
    before_pub = metric(m("BCA"), "ndx_gateway_events_published_total")
    before_rcv = metric(m("BTC"), "ndx_gateway_events_received_total")
    r = published(fed, {"pin": A, "died_on": "2026-11-24"})
    wait_state(fed, r["id"], F.TAX, "delivered")
    text = m("BCA")
    assert metric(text, "ndx_gateway_events_published_total") >= before_pub + 1
    assert metric(text, 'ndx_gateway_event_deliveries_total{outcome="delivered"}') >= 1
    assert 'ndx_gateway_event_outbox{state="dead"}' in text
    assert metric(m("BTC"), "ndx_gateway_events_received_total") >= before_rcv + 1


# ---- a subscriber's gateway that lies about its receipt -------------------------------------

class FakeSubscriberGateway:
    """A gateway port of a member played here (protocol.md "Events", "Delivery"): takes
    every delivery and answers 200 with a receipt spoilt as `mode` says: "good",
    "missing", "other-key" (signed by an unregistered key), "wrong-hash" (a valid
    signature over the receipt of another client)."""

    def __init__(self, ident):
        import ssl
        self.mode = "missing"
        self.got = []
        key = ident.private_key()
        name = f"{ident.member}/{ident.code}"
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                h = self.headers
                fake.got.append(h["Ndx-Event-Id"])
                e = {"id": h["Ndx-Event-Id"], "service": h["Ndx-Event-Service"],
                     "event": h["Ndx-Event-Name"], "publisher": h["Ndx-Event-Publisher"],
                     "subject": h.get("Ndx-Event-Subject", ""),
                     "time_ms": int(h["Ndx-Event-Time"]), "raw": body}
                client = h["Ndx-Event-Client"] if fake.mode != "wrong-hash" else F.TAX
                rh = receipt_hash(event_hash(e), client, h.get("Ndx-Event-Purpose", ""), name)
                signer = ed25519.Ed25519PrivateKey.generate() if fake.mode == "other-key" \
                    else key
                out = b'{"received":"x"}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                if fake.mode != "missing":
                    self.send_header("Ndx-Response-Signature",
                                     F.compact(F.sign_object(signer, rh)))
                self.end_headers()
                self.wfile.write(out)

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True

            def handle_error(self, request, client_address):
                pass

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(ident.tls_cert), str(ident.tls_key))
        ctx.load_verify_locations(str(ident.ca_pem))
        ctx.verify_mode = ssl.CERT_REQUIRED
        port = int(ident.address.rsplit(":", 1)[1])
        self.server = Server(("127.0.0.1", port), Handler)
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def receipt_hash(event_h, client, purpose, gateway):
    """docs/protocol.md "Events": the receipt hash, from the spec's table."""
    return hashlib.sha256(F._field(b"ndx-event-receipt-v1") + F._field(event_h)
                          + F._field(client) + F._field(purpose)
                          + F._field(gateway)).digest()


def test_a_delivery_counts_only_with_a_receipt_the_subscribers_gateway_signed(fed):
    member, sub = "VN/COM/0100000002", "VN/COM/0100000002/sim"
    fed.ndx("member", "add", member, "--name", "Công ty Mô phỏng")
    fed.ndx("subsystem", "add", sub)
    ident = fed.register_gateway("FAKESUB", member, "gw1", F.free_port())
    admin(fed, "POST", "/api/subscriptions", json={
        "client": sub, "service": F.ECHO, "event": ECHO_EVENT,
        "retry": {"first_s": 1, "max_s": 1, "give_up_after_s": 600}})
    fed.wait_conf(fed.gateways["BCA"], fed.registry.conf_version())
    fake = FakeSubscriberGateway(ident)
    try:
        r = published(fed, {"n": 5}, service=F.ECHO, name=ECHO_EVENT, subject=None)
        for mode, needle in (("missing", "answered 200"), ("other-key", "receipt"),
                             ("wrong-hash", "receipt")):
            fake.mode = mode
            seen = len(fake.got)
            deadline = time.monotonic() + 15
            while len(fake.got) < seen + 2:  # an attempt made in this mode, and its outcome
                assert time.monotonic() < deadline, (mode, fake.got)
                time.sleep(0.1)
            d = [x for x in status(fed, "BCA", F.POPULATION, r["id"]).json()["deliveries"]
                 if x["subscriber"] == sub][0]
            assert d["state"] == "queued" and needle in d["last_error"], (mode, d)
        fake.mode = "good"
        d = wait_state(fed, r["id"], sub, "delivered")
        assert d["last_error"] == ""
    finally:
        fake.stop()


def test_a_publish_repeated_with_its_own_id_is_one_event(fed):
    """docs/events.md "Publishing": a publisher that names its event (Ndx-Event-Id) may
    repeat the publish after a lost answer; the gateway keeps one event."""
    eid_ = str(uuid.uuid4())
    h = {"Ndx-Event-Id": eid_}
    first = requests.post(f"{fed.gateways['BCA'].url}/e1/{CIVIL}/{DEATH}", timeout=15,
                          data=json.dumps({"pin": B, "died_on": "2026-11-23"}),
                          headers={"X-Road-Client": F.POPULATION, "Ndx-Data-Subjects": B,
                                   "Content-Type": "application/json", **h})
    assert first.status_code == 201 and first.json()["id"] == eid_, first.text
    again = requests.post(f"{fed.gateways['BCA'].url}/e1/{CIVIL}/{DEATH}", timeout=15,
                          data=json.dumps({"pin": B, "died_on": "2026-11-23"}),
                          headers={"X-Road-Client": F.POPULATION, "Ndx-Data-Subjects": B,
                                   "Content-Type": "application/json", **h})
    assert again.status_code == 200 and again.json() == {
        "id": eid_, "status": "duplicate", "subscriptions": 2}, again.text
    got = wait_inbox(fed, "BTC", F.TAX, [eid_])
    assert [e["id"] for e in inbox(fed, "BTC", F.TAX, limit=500)].count(eid_) == 1
    assert got[0]["payload"]["died_on"] == "2026-11-23"
    # the same id for anything else (another type, another payload) is refused
    other = requests.post(f"{fed.gateways['BCA'].url}/e1/{F.ECHO}/{ECHO_EVENT}", timeout=15,
                          data=b'{"n":1}', headers={"X-Road-Client": F.POPULATION,
                                                    "Content-Type": "application/json", **h})
    refusals.check_response(other, "BadHeader", "consumer")
    changed = requests.post(f"{fed.gateways['BCA'].url}/e1/{CIVIL}/{DEATH}", timeout=15,
                            data=json.dumps({"pin": B, "died_on": "2026-11-22"}),
                            headers={"X-Road-Client": F.POPULATION, "Ndx-Data-Subjects": B,
                                     "Content-Type": "application/json", **h})
    refusals.check_response(changed, "BadHeader", "consumer")
    # a malformed id is refused
    r = requests.post(f"{fed.gateways['BCA'].url}/e1/{CIVIL}/{DEATH}", timeout=15,
                      data=b'{"pin":"001188000202","died_on":"2026-11-23"}',
                      headers={"X-Road-Client": F.POPULATION, "Ndx-Data-Subjects": B,
                               "Content-Type": "application/json",
                               "Ndx-Event-Id": eid_.upper()})
    refusals.check_response(r, "BadHeader", "consumer")


def test_a_publish_whose_client_went_away_is_kept_and_in_the_access_log(fed):
    """The publish is kept once its commit is durable, whether or not the client is
    still there to read the 201; the access log has a line for it all the same."""
    import socket
    bca = fed.gateways["BCA"]
    ids = [str(uuid.uuid4()) for _ in range(5)]
    seen = bca.stderr_path.stat().st_size
    for event_id in ids:
        body = json.dumps({"pin": A, "died_on": "2026-11-21"}).encode()
        head = (f"POST /e1/{CIVIL}/{DEATH} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"X-Road-Client: {F.POPULATION}\r\nNdx-Data-Subjects: {A}\r\n"
                f"Ndx-Event-Id: {event_id}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        with socket.create_connection(("127.0.0.1", bca.consumer_port), timeout=5) as s:
            s.sendall(head + body)
    wait_inbox(fed, "BTC", F.TAX, ids)
    path = f"/e1/{CIVIL}/{DEATH}"
    deadline = time.monotonic() + 10
    while True:
        with open(bca.stderr_path, "rb") as f:
            f.seek(seen)
            new = f.read().decode(errors="replace")
        lines = [json.loads(x) for x in new.splitlines() if x.startswith("{") and path in x]
        mine = [x for x in lines if x.get("method") == "POST"]
        if len(mine) >= len(ids):
            break
        assert time.monotonic() < deadline, lines[-10:]
        time.sleep(0.2)
    # each publish has its line: sent, or marked as never sent
    unsent = [x for x in mine if "unsent" in x]
    assert all(x["status"] == 201 and x["bytes"] == 0 for x in unsent), unsent
