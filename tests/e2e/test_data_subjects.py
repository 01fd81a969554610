"""End-to-end tests of "who read my data tells the whole truth" at the gateways
(docs/protocol.md "Data subjects", docs/security.md T17 and T23-T25): the federation of
federation.py plus personal services of BCA whose provider system (backends.py) declares
the subjects of each answer in Ndx-Data-Subjects, BCA's access list (the built-in
`ndx:subject-accesses`) granted to BTC's subsystem `portal`, and an e-ID played here: an
Ed25519 key registered at the registry as an id provider, whose ID tokens the tests sign
with python3-cryptography as ndx-id would (tests/e2e/test_id.py checks ndx-id's own
tokens; the portal's tests use the real one).

Every case is an attack a member or a citizen could try, or the behaviour that stops it:
a consumer that names one person and receives another, a list read passed off under one
declared subject, a provider system that declares nobody, a write to someone else's
record, a bulk read that must show in every subject's list, and an access list asked for
without the subject's own token, with another person's, or with an expired one."""

import base64
import hashlib
import json
import signal
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pytest
import requests
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

sys.path.insert(0, str(Path(__file__).resolve().parent))

import federation as F  # noqa: E402
import refusals  # noqa: E402

PERSONS = F.POPULATION + "/persons"      # personal, one person an answer
REGISTER = F.POPULATION + "/register"    # personal, bulk reads for "statistics"
ACCESSES = F.BCA + "/transparency/accesses"
TRANSPARENCY_SUB = F.BCA + "/transparency"
PORTAL = F.BTC + "/portal"
ISSUER = "http://127.0.0.1:9/eid"        # the e-ID's issuer name; never connected to
A, B, C = "001088000101", "001188000202", "079201000303"
EMBARGO_S = 4


def b64u(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class EId:
    """The national e-ID's signing key, as the registry knows it."""

    def __init__(self):
        self.key = ed25519.Ed25519PrivateKey.generate()
        self.raw = self.key.public_key().public_bytes(serialization.Encoding.Raw,
                                                      serialization.PublicFormat.Raw)
        self.kid = hashlib.sha256(self.raw).hexdigest()

    def token(self, sub, key=None, kid=None, **over):
        now = int(time.time())
        claims = {"iss": ISSUER, "sub": sub, "aud": "portal", "iat": now - 5,
                  "exp": now + 300, "auth_time": now - 5, "nonce": "n"}
        claims.update(over)
        header = {"alg": "EdDSA", "kid": kid or self.kid, "typ": "JWT"}
        signing_input = b64u(F.compact(header)) + "." + b64u(F.compact(claims))
        sig = (key or self.key).sign(signing_input.encode())
        return signing_input + "." + b64u(sig)


def admin(fed, method, path, **kw):
    resp = requests.request(method, fed.registry.url + path, timeout=10,
                            headers={"Authorization": f"Bearer {fed.registry.token}"}, **kw)
    assert resp.status_code in (200, 201), f"{method} {path}: {resp.status_code} {resp.text}"
    return resp.json()


def setup_subjects(eid):
    def setup(fed):
        fed.ndx("service", "add", PERSONS, "--title", "Hồ sơ cá nhân", "--personal",
                "--purpose", "public-service", "--purpose", "investigation")
        admin(fed, "POST", "/api/services", json={
            "id": REGISTER, "title": "Sổ đăng ký", "personal": True,
            "purposes": ["statistics", "public-service"], "bulk_purposes": ["statistics"]})
        fed.ndx("subsystem", "add", TRANSPARENCY_SUB)
        fed.ndx("subsystem", "add", PORTAL)
        fed.ndx("service", "add", ACCESSES, "--title", "Ai đã xem dữ liệu của tôi",
                "--personal", "--purpose", "transparency")
        for svc in (PERSONS, REGISTER):
            fed.ndx("grant", "add", "--client", F.TAX, "--service", svc, "--method", "GET",
                    "--method", "PUT", "--method", "POST")
        fed.ndx("grant", "add", "--client", PORTAL, "--service", PERSONS, "--method", "GET")
        fed.ndx("grant", "add", "--client", PORTAL, "--service", ACCESSES, "--method", "GET")
        admin(fed, "POST", "/api/id-providers",
              json={"issuer": ISSUER, "sign_key": base64.b64encode(eid.raw).decode()})
        admin(fed, "PUT", "/api/embargoes/investigation", json={"seconds": EMBARGO_S})
        bca, btc = fed.gateways["BCA"], fed.gateways["BTC"]
        for svc in (PERSONS, REGISTER):
            bca.services[svc] = {"backend": fed.citizens.url + "/api", "timeout_ms": 5000}
        bca.services[ACCESSES] = {"backend": "ndx:subject-accesses"}
        bca.subsystems = ["population", "transparency"]
        btc.subsystems = ["tax", "portal"]
        for gw in (bca, btc):
            gw.write_config()
            gw.proc.send_signal(signal.SIGHUP)
        for gw in fed.gateways.values():
            fed.wait_conf(gw, fed.registry.conf_version())
    return setup


@pytest.fixture(scope="module")
def eid():
    return EId()


@pytest.fixture(scope="module")
def fed(build_dir, eid):
    with F.running_federation(build_dir, "ndx-subjects-", setup=setup_subjects(eid)) as f:
        yield f


def call(fed, service, path, subject=None, purpose="public-service", method="GET",
         client=F.TAX, headers=None, **kw):
    h = {}
    if subject is not None:
        h["Ndx-Subject"] = subject
    if purpose is not None:
        h["Ndx-Purpose"] = purpose
    h.update(headers or {})
    return fed.call("BTC", method, service, path, client=client, headers=h, **kw)


def declare(*pins):
    return "/declare/" + urllib.parse.quote(",".join(pins), safe="")


def accesses(fed, subject, token=None, query=None, client=PORTAL):
    h = {"Ndx-Subject": subject, "Ndx-Purpose": "transparency"}
    if token is not None:
        h["Ndx-Subject-Token"] = token
    return fed.call("BTC", "GET", ACCESSES, "", client=client, headers=h, params=query)


def listed(fed, eid, subject, **query):
    resp = accesses(fed, subject, eid.token(subject), query or None)
    assert resp.status_code == 200, f"{resp.status_code} {resp.text}\n{fed.tails()}"
    body = resp.json()
    assert body["subject"] == subject and body["provider"] == F.BCA, body
    return body["accesses"]


def entry(fed, eid, subject, xid, **query):
    found = [a for a in listed(fed, eid, subject, **query) if a["message_id"] == xid]
    return found[0] if found else None


def refused(fed, resp, reason, *never):
    where = f"\n{fed.tails()}"
    refusals.check_response(resp, reason, where=where)
    assert "Ndx-Data-Subjects" not in resp.headers, where
    for pin in never:
        assert pin not in resp.text, where
    return resp


def xid_of(resp):
    return resp.request.headers["X-Road-Id"]


def provider_log_record(fed, xid):
    """The provider gateway's log record of exchange xid, from `ndx log prove`."""
    gw = fed.gateways["BCA"]
    requests.get(gw.url + "/admin/log/head", timeout=5)  # nothing to seal by hand:
    deadline = time.monotonic() + 10                     # batches close within 1 s
    while True:
        res = subprocess.run([str(F.ndx_exe(fed.build_dir)), "log", "prove", "--db",
                              str(gw.dir / "data" / "msglog.db"), "--id", xid,
                              "--direction", "provider"],
                             capture_output=True, text=True, timeout=30)
        if res.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert res.returncode == 0, res.stdout + res.stderr
    return json.loads(res.stdout)["record"]


# ---- the provider system declares, the provider gateway decides ---------------------------

def test_an_answer_about_the_person_asked_for_passes_declared_and_signed(fed):
    resp = call(fed, PERSONS, "/people/1", subject=A)
    assert resp.status_code == 200, resp.text + fed.tails()
    assert resp.headers["Ndx-Data-Subjects"] == A
    got = fed.citizens.received(xid_of(resp))
    assert len(got) == 1 and got[0].header("Ndx-Subject") == A
    # The token is the gateway's to check, never the provider system's to see.
    assert got[0].header("Ndx-Subject-Token") is None


def test_an_answer_about_another_person_is_refused_and_both_see_the_attempt(fed, eid):
    # The attack of the issue: name A, ask for B's record.
    resp = call(fed, PERSONS, declare(B), subject=A)
    refused(fed, resp, "SubjectMismatch", B)
    assert "method" not in resp.text  # the echo body of the provider never went out
    for pin in (A, B):
        e = entry(fed, eid, pin, xid_of(resp))
        assert e is not None, f"{pin} does not see the attempt"
        assert e["outcome"] == "refused" and e["status"] == 500 and e["client"] == F.TAX, e


def test_a_list_under_one_declared_subject_is_refused(fed, eid):
    resp = call(fed, PERSONS, declare(A, B, C), subject=A, params={"limit": "3"})
    refused(fed, resp, "SubjectMismatch", B, C)
    # Without Ndx-Subject a service with no bulk registration is not even called.
    resp = call(fed, PERSONS, declare(A, B), subject=None)
    refused(fed, resp, "SubjectMissing")
    assert fed.citizens.received(xid_of(resp)) == []


def test_a_write_to_another_persons_record_is_refused(fed):
    for method in ("PUT", "POST"):
        resp = call(fed, PERSONS, declare(B), subject=A, method=method,
                    json={"address": "somewhere else"})
        refused(fed, resp, "SubjectMismatch", B)
    resp = call(fed, PERSONS, "/people/1", subject=A, method="PUT", json={"x": 1})
    assert resp.status_code == 200 and resp.headers["Ndx-Data-Subjects"] == A, resp.text


def test_a_refused_write_never_passes_its_subjects_on(fed, eid):
    """A provider system that refuses a write declares whom the record concerns (so that
    each sees the attempt); the gateway refuses it as a mismatch and never hands those
    people to the consumer, even when the named subject is among them."""
    resp = call(fed, PERSONS, declare(A, C), subject=A, method="PUT", json={"x": 1},
                params={"status": "403"})
    refused(fed, resp, "SubjectMismatch", C)
    for pin in (A, C):
        e = entry(fed, eid, pin, xid_of(resp))
        assert e is not None and e["outcome"] == "refused" and e["method"] == "PUT", e


def test_a_write_that_touches_others_too_is_answered_and_listed_for_each(fed, eid):
    """The provider system has stored the write by the time it answers (it refuses a
    write to a record that is not the named subject's before storing): a change of
    owner from A to C, asked for by A, is answered, and C sees it too. A read of the
    same answer would be refused."""
    resp = call(fed, PERSONS, declare(A, C), subject=A, method="PUT", json={"owner": C})
    assert resp.status_code == 200, resp.text
    assert resp.headers["Ndx-Data-Subjects"] == f"{A},{C}"
    for pin in (A, C):
        e = entry(fed, eid, pin, xid_of(resp))
        assert e is not None and e["method"] == "PUT" and e["outcome"] == "returned", e
    refused(fed, call(fed, PERSONS, declare(A, C), subject=A), "SubjectMismatch", C)


@pytest.mark.parametrize("route", ["/undeclared", declare("12345"), declare("all"),
                                   declare(A + "," + A[:-1]), declare(A + ",")])
def test_an_answer_without_a_valid_declaration_is_refused(fed, eid, route):
    resp = call(fed, PERSONS, route, subject=A)
    refused(fed, resp, "SubjectsUndeclared")
    e = entry(fed, eid, A, xid_of(resp))
    assert e is not None and e["outcome"] == "refused" and e["status"] == 500, e


def test_an_answer_about_nobody_declares_none(fed, eid):
    resp = call(fed, PERSONS, declare("none"), subject=A)
    assert resp.status_code == 200, resp.text
    assert "Ndx-Data-Subjects" not in resp.headers
    e = entry(fed, eid, A, xid_of(resp))
    assert e is not None and e["outcome"] == "no_data", e


def test_a_registered_bulk_read_is_listed_for_every_subject(fed, eid):
    resp = call(fed, REGISTER, declare(C, A, B, A), subject=None, purpose="statistics")
    assert resp.status_code == 200, resp.text + fed.tails()
    assert resp.headers["Ndx-Data-Subjects"] == ",".join(sorted((A, B, C)))
    for pin in (A, B, C):
        e = entry(fed, eid, pin, xid_of(resp))
        assert e is not None, f"{pin} does not see the bulk read"
        assert e["outcome"] == "returned" and e["purpose"] == "statistics", e
    # The same service for a purpose without bulk registration is one person at a time.
    refused(fed, call(fed, REGISTER, declare(A, B), subject=A), "SubjectMismatch", B)
    refused(fed, call(fed, REGISTER, declare(A), subject=None), "SubjectMissing")


def test_the_log_says_what_was_read_and_about_whom(fed):
    resp = call(fed, PERSONS, declare(A), subject=A, params={"fields": "name"},
                headers={"X-Road-UserId": "VN/GOV/BTC/canbo01", "X-Road-Issue": "audit/42"})
    assert resp.status_code == 200, resp.text
    rec = provider_log_record(fed, xid_of(resp))
    assert rec["method"] == "GET"
    assert rec["path"] == declare(A) + "?fields=name"
    assert rec["subject"] == A and rec["subjects"] == A
    assert rec["user_id"] == "VN/GOV/BTC/canbo01" and rec["issue"] == "audit/42"
    assert rec["authenticated"] == ""
    refused_resp = call(fed, PERSONS, declare(B), subject=A)
    rec = provider_log_record(fed, xid_of(refused_resp))
    assert rec["status"] == 500 and rec["subject"] == A and rec["subjects"] == B


def test_the_declared_subjects_are_signed_with_the_response(fed):
    """A member gateway's view: the provider gateway's response signature covers the
    subjects it passes on, so that nobody can change them on the way."""
    btc = fed.idents["BTC"]
    ctx = F.tls_context(btc.ca_pem, btc.tls_cert, btc.tls_key)
    bca = fed.gateways["BCA"]
    status, headers, body, rh = F.gateway_request(
        bca.gateway_port, ctx, "GET", PERSONS, declare(B, A),
        headers={"Ndx-Subject": A, "Ndx-Purpose": "public-service"},
        sign_with=btc.private_key())
    assert status == 500 and headers.get("x-road-error") == "Server.ServerProxy.AccessDenied"  # about B as well: refused, and nobody learns B
    status, headers, body, rh = F.gateway_request(
        bca.gateway_port, ctx, "GET", REGISTER, declare(B, A),
        headers={"Ndx-Purpose": "statistics"}, sign_with=btc.private_key())
    assert status == 200, body
    subjects = headers["ndx-data-subjects"]
    assert subjects == f"{A},{B}"
    keys = fed.gateway_keys(F.BCA)
    sig = headers["ndx-response-signature"]
    good = F.response_hash(rh, 200, headers["content-type"], None, body, subjects=subjects)
    F.verify_signature_object(sig, keys[0][0], keys[0][1], good)
    for other in ("", A, f"{A},{B},{C}"):
        forged = F.response_hash(rh, 200, headers["content-type"], None, body, subjects=other)
        with pytest.raises(InvalidSignature):
            F.verify_signature_object(sig, keys[0][0], keys[0][1], forged)


# ---- the access list only for the citizen -------------------------------------------------

def test_the_access_list_needs_the_subjects_own_token(fed, eid):
    refused(fed, accesses(fed, A), "SubjectTokenMissing", A)
    now = int(time.time())
    other_key = ed25519.Ed25519PrivateKey.generate()
    for token in (eid.token(B),                              # another person's
                  eid.token(A, exp=now - 1),                 # expired
                  eid.token(A, iss="http://127.0.0.1:9/other"),  # unknown issuer
                  eid.token(A, key=other_key),               # not the e-ID's signature
                  eid.token(A, iat=now + 3600),              # issued in the future
                  eid.token(A)[:-4] + "AAAA",                # altered
                  "not-a-token"):
        refused(fed, accesses(fed, A, token), "SubjectTokenInvalid", A)
    resp = accesses(fed, A, eid.token(A))
    assert resp.status_code == 200, resp.text
    assert resp.headers["Ndx-Data-Subjects"] == A


def test_a_token_on_a_data_read_must_be_the_subjects(fed, eid):
    refused(fed, call(fed, PERSONS, "/people/1", subject=A, client=PORTAL,
                      headers={"Ndx-Subject-Token": eid.token(B)}),
            "SubjectTokenInvalid", A, B)


def test_the_citizens_own_reads_are_kept_apart(fed, eid):
    own = call(fed, PERSONS, "/people/own", subject=C, client=PORTAL,
               headers={"Ndx-Subject-Token": eid.token(C)})
    other = call(fed, PERSONS, "/people/other", subject=C)
    assert own.status_code == 200 and other.status_code == 200, own.text + other.text
    everything = {a["message_id"]: a for a in listed(fed, eid, C)}
    assert everything[xid_of(own)]["own"] is True
    assert everything[xid_of(other)]["own"] is False
    excluded = {a["message_id"] for a in listed(fed, eid, C, own="exclude")}
    assert xid_of(other) in excluded and xid_of(own) not in excluded
    only = {a["message_id"] for a in listed(fed, eid, C, own="only")}
    assert only == {xid_of(own)}
    # Claiming to be the citizen with X-Road-UserId proves nothing.
    fake = call(fed, PERSONS, "/people/x", subject=C, headers={"X-Road-UserId": C})
    assert entry(fed, eid, C, xid_of(fake))["own"] is False


def test_an_officers_read_names_the_officer_and_the_procedure(fed, eid):
    resp = call(fed, PERSONS, "/people/1", subject=B, client=PORTAL,
                headers={"X-Road-UserId": "VN/GOV/BCA/canbo.hn01",
                         "X-Road-Issue": "residence-change/P0001"})
    assert resp.status_code == 200, resp.text
    e = entry(fed, eid, B, xid_of(resp))
    assert e["user_id"] == "VN/GOV/BCA/canbo.hn01" and e["issue"] == "residence-change/P0001"
    assert e["client"] == PORTAL and e["own"] is False and e["outcome"] == "returned"
    assert e["service_title"] == "Hồ sơ cá nhân" and e["method"] == "GET"
    assert "path" not in e


def test_an_embargoed_read_is_hidden_until_its_date(fed, eid):
    resp = call(fed, PERSONS, "/people/1", subject=A, purpose="investigation")
    assert resp.status_code == 200, resp.text
    t0 = time.monotonic()
    assert entry(fed, eid, A, xid_of(resp)) is None
    assert entry(fed, eid, A, xid_of(resp), purpose="investigation") is None
    # The log holds it from the first day.
    assert provider_log_record(fed, xid_of(resp))["purpose"] == "investigation"
    time.sleep(max(0.0, EMBARGO_S + 1.2 - (time.monotonic() - t0)))
    e = entry(fed, eid, A, xid_of(resp))
    assert e is not None and e["purpose"] == "investigation", "still hidden after the embargo"


def test_the_list_filters(fed, eid):
    r1 = call(fed, PERSONS, "/people/f1", subject=B)
    r2 = call(fed, PERSONS, "/people/f2", subject=B, client=PORTAL)
    assert r1.status_code == 200 and r2.status_code == 200
    by_client = {a["message_id"] for a in listed(fed, eid, B, client=PORTAL)}
    assert xid_of(r2) in by_client and xid_of(r1) not in by_client
    by_member = {a["message_id"] for a in listed(fed, eid, B, client=F.BTC)}
    assert {xid_of(r1), xid_of(r2)} <= by_member
    assert listed(fed, eid, B, client="VN/GOV/BT") == []  # a prefix of no member id
    assert listed(fed, eid, B, purpose="statistics", since="2000-01-01T00:00:00Z") == [
        a for a in listed(fed, eid, B) if a["purpose"] == "statistics"]
    assert listed(fed, eid, B, until="2000-01-01T00:00:00Z") == []
    newest = listed(fed, eid, B, limit="1")
    assert len(newest) == 1 and newest[0]["message_id"] == xid_of(r2)
    for bad in ({"own": "maybe"}, {"since": "yesterday"}, {"limit": "0"}):
        refused(fed, accesses(fed, B, eid.token(B), bad), "AccessListQuery", B)
