"""End-to-end tests of ndx-registry: a real process on loopback, spoken to over HTTP
exactly as docs/registry-api.md describes it."""

import base64
import hashlib
import json
import stat
import subprocess
import time

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID

from conftest import registry_exe

MEMBER = "VN/GOV/BCA"
SUBSYSTEM = "VN/GOV/BCA/population"
SERVICE = "VN/GOV/BCA/population/citizens"
CLIENT_MEMBER = "VN/GOV/MOF"
CLIENT = "VN/GOV/MOF/enterprise"


# ---- helpers -------------------------------------------------------------------------

def ed25519_public_pem():
    key = ed25519.Ed25519PrivateKey.generate()
    pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    raw = key.public_key().public_bytes(serialization.Encoding.Raw,
                                        serialization.PublicFormat.Raw)
    return pem.decode(), raw


def make_csr(cn="gw1"):
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
           .sign(key, hashes.SHA256()))
    return csr.public_bytes(serialization.Encoding.PEM).decode()


def gateway_body(member=MEMBER, code="gw1", address="https://127.0.0.1:4431"):
    pem, _ = ed25519_public_pem()
    return {"member": member, "code": code, "address": address,
            "sign_public_key": pem, "tls_csr": make_csr()}


def ok(resp, status):
    assert resp.status_code == status, f"{resp.status_code} {resp.text}"
    return resp.json()


def refused(resp, status, error_type):
    assert resp.status_code == status, f"{resp.status_code} {resp.text}"
    body = resp.json()
    assert body["type"] == error_type, body
    assert resp.headers.get("X-Road-Error") == error_type
    assert "message" in body and "detail" in body
    return body


def populate(r):
    """A small federation: two members, two subsystems, a service and a grant."""
    ok(r.api("POST", "/api/members", json={"id": MEMBER, "name": "Bộ Công an"}), 201)
    ok(r.api("POST", "/api/members", json={"id": CLIENT_MEMBER, "name": "Bộ Tài chính"}), 201)
    ok(r.api("POST", "/api/subsystems", json={"id": SUBSYSTEM}), 201)
    ok(r.api("POST", "/api/subsystems", json={"id": CLIENT}), 201)
    ok(r.api("POST", "/api/services", json={
        "id": SERVICE, "title": "Tra cứu công dân", "personal": True,
        "purposes": ["public-service"], "consent_required": False,
        "openapi": {"openapi": "3.0.3", "info": {"title": "citizens", "version": "1"}}}), 201)
    return ok(r.api("POST", "/api/grants", json={
        "client": CLIENT, "service": SERVICE, "methods": ["GET"],
        "paths": ["/citizens/*"]}), 201)


def fetch_conf(r):
    resp = requests.get(r.url + "/conf", timeout=10)
    assert resp.status_code == 200, resp.text
    return resp


def verify_conf(r, resp):
    """Verifies the signature with the anchor's key, as a gateway would."""
    anchor = json.loads(r.anchor.read_text())
    sig = json.loads(resp.headers["Ndx-Conf-Signature"])
    assert sig["alg"] == "Ed25519"
    keys = {k["key_id"]: base64.b64decode(k["public_key"]) for k in anchor["keys"]}
    raw = keys[sig["key_id"]]
    assert hashlib.sha256(raw).hexdigest() == sig["key_id"]
    ed25519.Ed25519PublicKey.from_public_bytes(raw).verify(
        base64.b64decode(sig["signature"]), resp.content)
    doc = json.loads(resp.content)
    assert doc["instance"] == anchor["instance"]
    return doc


# ---- init, command line ----------------------------------------------------------------

def test_init_creates_private_files_and_refuses_twice(registry, build_dir):
    d = registry.data_dir
    assert stat.S_IMODE(d.stat().st_mode) == 0o700
    for name in ("registry-sign.key", "ca.key", "admin.token", "registry.db"):
        assert stat.S_IMODE((d / name).stat().st_mode) == 0o600, name
    for name in ("registry-sign.pub", "ca.pem", "anchor.json"):
        assert (d / name).is_file(), name
    anchor = json.loads(registry.anchor.read_text())
    assert anchor["format"] == "ndx-anchor/1" and anchor["instance"] == "VN"
    assert anchor["keys"][0]["key_id"] in registry.init_output
    ca = x509.load_pem_x509_certificate((d / "ca.pem").read_bytes())
    assert ca.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == \
        "ndx VN instance CA"
    # The token itself is nowhere in the database.
    assert registry.token.encode() not in (d / "registry.db").read_bytes()

    again = subprocess.run([str(registry_exe(build_dir)), "init", "--data", str(d)],
                           capture_output=True, text=True, timeout=30)
    assert again.returncode == 1
    assert "exists" in again.stderr
    assert json.loads(registry.anchor.read_text()) == anchor


def test_version_and_help(build_dir):
    exe = str(registry_exe(build_dir))
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=10)
    assert out.returncode == 0 and out.stdout.startswith("ndx-registry ")
    for cmd, word in ((["init"], "--instance"), (["serve"], "--max-body"),
                      (["token", "add"], "NAME")):
        out = subprocess.run([exe, *cmd, "--help"], capture_output=True, text=True,
                             timeout=10)
        assert out.returncode == 0 and word in out.stdout, cmd
    out = subprocess.run([exe, "serve"], capture_output=True, text=True, timeout=10)
    assert out.returncode == 2 and "--data" in out.stderr
    out = subprocess.run([exe, "bogus"], capture_output=True, text=True, timeout=10)
    assert out.returncode == 2


# ---- public endpoints ------------------------------------------------------------------

def test_public_endpoints(registry):
    h = requests.get(registry.url + "/healthz", timeout=5)
    assert h.json() == {"status": "ok", "conf_version": 1}
    a = requests.get(registry.url + "/anchor", timeout=5)
    assert a.status_code == 200 and a.content == registry.anchor.read_bytes()
    ca = requests.get(registry.url + "/ca.pem", timeout=5)
    assert ca.status_code == 200 and ca.content == (registry.data_dir / "ca.pem").read_bytes()
    refused(requests.get(registry.url + "/nope", timeout=5), 404, "Client.NotFound")
    refused(requests.post(registry.url + "/conf", timeout=5), 405, "Client.MethodNotAllowed")
    refused(requests.get(registry.url + "/openapi/" + SERVICE, timeout=5), 404,
            "Client.NotFound")


# ---- members -------------------------------------------------------------------------------

def test_members_crud(registry):
    r = registry
    m = ok(r.api("POST", "/api/members", json={"id": MEMBER, "name": "Bộ Công an"}), 201)
    assert m["id"] == MEMBER and m["name"] == "Bộ Công an" and m["created_at"].endswith("Z")
    assert m["conf_version"] == 2
    refused(r.api("POST", "/api/members", json={"id": MEMBER, "name": "again"}), 409,
            "Client.Conflict")
    lst = ok(r.api("GET", "/api/members"), 200)["members"]
    assert [x["id"] for x in lst] == [MEMBER]
    one = ok(r.api("GET", "/api/members/" + MEMBER), 200)
    assert one["name"] == "Bộ Công an" and one["subsystems"] == [] and one["gateways"] == []
    # Parts may be percent-encoded in paths; an encoded '/' is never a separator.
    assert ok(r.api("GET", "/api/members/VN/GOV/%42CA"), 200)["id"] == MEMBER
    refused(r.api("GET", "/api/members/VN/GOV%2FBCA"), 400, "Client.InvalidRequest")
    refused(r.api("GET", "/api/members/VN/GOV/XYZ"), 404, "Client.NotFound")
    d = ok(r.api("DELETE", "/api/members/" + MEMBER), 200)
    assert d["deleted"] == MEMBER and d["conf_version"] == 3
    refused(r.api("DELETE", "/api/members/" + MEMBER), 404, "Client.NotFound")
    refused(r.api("PUT", "/api/members"), 405, "Client.MethodNotAllowed")
    refused(r.api("GET", "/api/nothing"), 404, "Client.NotFound")


# ---- subsystems ---------------------------------------------------------------------------

def test_subsystems_crud(registry):
    r = registry
    refused(r.api("POST", "/api/subsystems", json={"id": SUBSYSTEM}), 404, "Client.NotFound")
    ok(r.api("POST", "/api/members", json={"id": MEMBER, "name": "Bộ Công an"}), 201)
    ok(r.api("POST", "/api/members", json={"id": CLIENT_MEMBER, "name": "Bộ Tài chính"}), 201)
    s = ok(r.api("POST", "/api/subsystems", json={"id": SUBSYSTEM}), 201)
    assert s["id"] == SUBSYSTEM and "conf_version" in s
    ok(r.api("POST", "/api/subsystems", json={"id": CLIENT}), 201)
    refused(r.api("POST", "/api/subsystems", json={"id": SUBSYSTEM}), 409, "Client.Conflict")
    # the code of every gateway's own DSP connector (docs/marketplace.md),
    # spelled plainly or percent-encoded, is nobody's subsystem
    for code in ("ndx.connector", "ndx%2Econnector"):
        e = refused(r.api("POST", "/api/subsystems", json={"id": MEMBER + "/" + code}), 400,
                    "Client.InvalidRequest")
        assert "reserved" in json.dumps(e)
    ok(r.api("POST", "/api/subsystems", json={"id": MEMBER + "/ndx.connectors"}), 201)
    ok(r.api("DELETE", "/api/subsystems/" + MEMBER + "/ndx.connectors"), 200)
    allsubs = ok(r.api("GET", "/api/subsystems"), 200)["subsystems"]
    assert [x["id"] for x in allsubs] == [SUBSYSTEM, CLIENT]
    mine = ok(r.api("GET", "/api/subsystems", params={"member": MEMBER}), 200)["subsystems"]
    assert [x["id"] for x in mine] == [SUBSYSTEM]
    refused(r.api("GET", "/api/subsystems?member=VN/GOV"), 400, "Client.InvalidRequest")
    assert ok(r.api("GET", "/api/members/" + MEMBER), 200)["subsystems"][0]["id"] == SUBSYSTEM
    refused(r.api("DELETE", "/api/members/" + MEMBER), 409, "Client.Conflict")
    ok(r.api("DELETE", "/api/subsystems/" + SUBSYSTEM), 200)
    refused(r.api("DELETE", "/api/subsystems/" + SUBSYSTEM), 404, "Client.NotFound")
    ok(r.api("DELETE", "/api/members/" + MEMBER), 200)


# ---- gateways ------------------------------------------------------------------------------

def test_gateways_crud_with_real_csr(registry):
    r = registry
    body = gateway_body()
    refused(r.api("POST", "/api/gateways", json=body), 404, "Client.NotFound")
    ok(r.api("POST", "/api/members", json={"id": MEMBER, "name": "Bộ Công an"}), 201)
    g = ok(r.api("POST", "/api/gateways", json=body), 201)
    assert g["member"] == MEMBER and g["code"] == "gw1"
    assert g["address"] == "https://127.0.0.1:4431"
    cert = x509.load_pem_x509_certificate(g["tls_certificate"].encode())
    ca = x509.load_pem_x509_certificate((r.data_dir / "ca.pem").read_bytes())
    assert g["ca_certificate"].encode() == (r.data_dir / "ca.pem").read_bytes()
    assert cert.issuer == ca.subject
    ca.public_key().verify(cert.signature, cert.tbs_certificate_bytes,
                           ec.ECDSA(cert.signature_hash_algorithm))
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == MEMBER + "/gw1"
    der = cert.public_bytes(serialization.Encoding.DER)
    assert g["tls_cert_sha256"] == hashlib.sha256(der).hexdigest()
    raw = base64.b64decode(g["sign_key"])
    assert len(raw) == 32 and g["sign_key_id"] == hashlib.sha256(raw).hexdigest()
    refused(r.api("POST", "/api/gateways", json=gateway_body()), 409, "Client.Conflict")

    lst = ok(r.api("GET", "/api/gateways"), 200)["gateways"]
    assert [(x["member"], x["code"]) for x in lst] == [(MEMBER, "gw1")]
    assert ok(r.api("GET", f"/api/gateways/{MEMBER}/gw1"), 200)["sign_key"] == g["sign_key"]
    assert ok(r.api("GET", "/api/members/" + MEMBER), 200)["gateways"][0]["code"] == "gw1"
    conf = verify_conf(r, fetch_conf(r))
    assert conf["gateways"] == [{
        "member": MEMBER, "code": "gw1", "address": "https://127.0.0.1:4431",
        "tls_cert_sha256": g["tls_cert_sha256"], "sign_key": g["sign_key"],
        "sign_key_id": g["sign_key_id"]}]

    refused(r.api("DELETE", "/api/members/" + MEMBER), 409, "Client.Conflict")
    ok(r.api("DELETE", f"/api/gateways/{MEMBER}/gw1"), 200)
    refused(r.api("DELETE", f"/api/gateways/{MEMBER}/gw1"), 404, "Client.NotFound")
    refused(r.api("GET", f"/api/gateways/{MEMBER}"), 400, "Client.InvalidRequest")
    ok(r.api("DELETE", "/api/members/" + MEMBER), 200)


# ---- services -------------------------------------------------------------------------------

def test_services_crud_and_openapi(registry):
    r = registry
    svc = {"id": SERVICE, "title": "Tra cứu công dân", "personal": True,
           "purposes": ["public-service", "law-enforcement"], "consent_required": True,
           "openapi": {"openapi": "3.0.3", "info": {"title": "citizens", "version": "1"}}}
    ok(r.api("POST", "/api/members", json={"id": MEMBER, "name": "Bộ Công an"}), 201)
    refused(r.api("POST", "/api/services", json=svc), 404, "Client.NotFound")
    ok(r.api("POST", "/api/subsystems", json={"id": SUBSYSTEM}), 201)
    s = ok(r.api("POST", "/api/services", json=svc), 201)
    assert s["personal"] is True and s["consent_required"] is True
    assert s["purposes"] == ["public-service", "law-enforcement"]
    refused(r.api("POST", "/api/services", json=svc), 409, "Client.Conflict")
    o = requests.get(r.url + "/openapi/" + SERVICE, timeout=5)
    assert o.status_code == 200 and o.json() == svc["openapi"]
    assert hashlib.sha256(o.content).hexdigest() == s["openapi_sha256"]
    plain = {"id": SUBSYSTEM + "/plain", "title": "Plain"}
    p = ok(r.api("POST", "/api/services", json=plain), 201)
    assert p["personal"] is False and p["purposes"] == [] and p["openapi_sha256"] is None
    refused(requests.get(r.url + "/openapi/" + plain["id"], timeout=5), 404, "Client.NotFound")
    lst = ok(r.api("GET", "/api/services", params={"subsystem": SUBSYSTEM}), 200)["services"]
    assert sorted(x["id"] for x in lst) == sorted([SERVICE, plain["id"]])
    assert ok(r.api("GET", "/api/services/" + SERVICE), 200)["title"] == svc["title"]
    refused(r.api("DELETE", "/api/subsystems/" + SUBSYSTEM), 409, "Client.Conflict")
    ok(r.api("DELETE", "/api/services/" + plain["id"]), 200)
    refused(r.api("GET", "/api/services/" + plain["id"]), 404, "Client.NotFound")


# ---- grants ---------------------------------------------------------------------------------

def test_grants_crud(registry):
    r = registry
    grant = populate(r)
    assert isinstance(grant["id"], int)
    assert grant["client"] == CLIENT and grant["methods"] == ["GET"]
    assert grant["paths"] == ["/citizens/*"]
    g2 = ok(r.api("POST", "/api/grants", json={"client": SUBSYSTEM, "service": SERVICE,
                                                "methods": ["GET", "POST"]}), 201)
    assert g2["paths"] == ["*"] and g2["id"] > grant["id"]
    refused(r.api("POST", "/api/grants", json={"client": "VN/GOV/MOF/none", "service": SERVICE,
                                                "methods": ["GET"]}), 404, "Client.NotFound")
    refused(r.api("POST", "/api/grants", json={"client": CLIENT, "service": SUBSYSTEM + "/x",
                                                "methods": ["GET"]}), 404, "Client.NotFound")
    mine = ok(r.api("GET", "/api/grants", params={"client": CLIENT}), 200)["grants"]
    assert [x["id"] for x in mine] == [grant["id"]]
    both = ok(r.api("GET", "/api/grants", params={"service": SERVICE}), 200)["grants"]
    assert len(both) == 2
    assert ok(r.api("GET", f"/api/grants/{grant['id']}"), 200)["client"] == CLIENT
    refused(r.api("DELETE", "/api/services/" + SERVICE), 409, "Client.Conflict")
    refused(r.api("DELETE", "/api/subsystems/" + CLIENT), 409, "Client.Conflict")
    ok(r.api("DELETE", f"/api/grants/{grant['id']}"), 200)
    refused(r.api("DELETE", f"/api/grants/{grant['id']}"), 404, "Client.NotFound")
    refused(r.api("GET", "/api/grants/abc"), 400, "Client.InvalidRequest")
    ok(r.api("DELETE", "/api/subsystems/" + CLIENT), 200)
    ok(r.api("DELETE", f"/api/grants/{g2['id']}"), 200)
    ok(r.api("DELETE", "/api/services/" + SERVICE), 200)


def test_grant_to_a_member_level_client(registry):
    """X-Road PR-REST 4.1: in X-Road-Client "Including the subsystem code is
    OPTIONAL", so a member itself may be a client and hold grants."""
    r = registry
    populate(r)
    g = ok(r.api("POST", "/api/grants", json={"client": CLIENT_MEMBER, "service": SERVICE,
                                               "methods": ["GET"], "paths": ["/tax/*"]}), 201)
    assert g["client"] == CLIENT_MEMBER
    # The configuration carries it, signed, and gateways parse it (ndx_conf_parse
    # checks the client is a member of the document).
    doc = verify_conf(r, fetch_conf(r))
    assert {"client": CLIENT_MEMBER, "service": SERVICE, "methods": ["GET"],
            "paths": ["/tax/*"]} in doc["grants"]
    # The member's grants are its own: listed by its id, not by its subsystem's.
    mine = ok(r.api("GET", "/api/grants", params={"client": CLIENT_MEMBER}), 200)["grants"]
    assert [x["id"] for x in mine] == [g["id"]]
    sub = ok(r.api("GET", "/api/grants", params={"client": CLIENT}), 200)["grants"]
    assert g["id"] not in [x["id"] for x in sub]
    # Percent-encoded parts are read as the same member.
    enc = ok(r.api("POST", "/api/grants", json={"client": "VN/GOV/M%4FF", "service": SERVICE,
                                                 "methods": ["POST"]}), 201)
    assert enc["client"] == CLIENT_MEMBER
    ok(r.api("DELETE", f"/api/grants/{enc['id']}"), 200)
    # A member that does not exist is refused, named as a member.
    err = refused(r.api("POST", "/api/grants", json={"client": "VN/GOV/BTC", "service": SERVICE,
                                                      "methods": ["GET"]}), 404,
                  "Client.NotFound")
    assert err["detail"] == "member VN/GOV/BTC does not exist", err
    # A member named by a grant stays until the grant goes.
    for grant in ok(r.api("GET", "/api/grants", params={"client": CLIENT}), 200)["grants"]:
        ok(r.api("DELETE", f"/api/grants/{grant['id']}"), 200)
    ok(r.api("DELETE", "/api/subsystems/" + CLIENT), 200)
    err = refused(r.api("DELETE", "/api/members/" + CLIENT_MEMBER), 409, "Client.Conflict")
    assert "grants" in (err["detail"] or "") + err["message"], err
    ok(r.api("DELETE", f"/api/grants/{g['id']}"), 200)
    ok(r.api("DELETE", "/api/members/" + CLIENT_MEMBER), 200)
    assert not [x for x in verify_conf(r, fetch_conf(r))["grants"]
                if x["client"] == CLIENT_MEMBER]


# ---- revocations ------------------------------------------------------------------------------

def test_revocations(registry):
    r = registry
    value = "AB" * 32
    rv = ok(r.api("POST", "/api/revocations",
                  json={"kind": "key", "value": value, "reason": "compromised"}), 201)
    assert rv["value"] == value.lower() and rv["kind"] == "key" and rv["reason"] == "compromised"
    refused(r.api("POST", "/api/revocations", json={"kind": "key", "value": value}), 409,
            "Client.Conflict")
    ok(r.api("POST", "/api/revocations", json={"kind": "certificate", "value": "01" * 32}), 201)
    lst = ok(r.api("GET", "/api/revocations"), 200)["revocations"]
    assert len(lst) == 2
    conf = verify_conf(r, fetch_conf(r))
    assert {x["value"] for x in conf["revocations"]} == {value.lower(), "01" * 32}


# ---- refusals -----------------------------------------------------------------------------------

SIGN_PEM, _ = ed25519_public_pem()
EC_PUBLIC_PEM = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
ED_PRIVATE_PEM = ed25519.Ed25519PrivateKey.generate().private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
    serialization.NoEncryption()).decode()
GOOD_GATEWAY = {"member": MEMBER, "code": "gw9", "address": "https://gw.example.vn",
                "sign_public_key": SIGN_PEM, "tls_csr": make_csr()}
NO_CSR = {k: v for k, v in GOOD_GATEWAY.items() if k != "tls_csr"}

INVALID = [
    # (path, body, the field the detail must name)
    ("/api/members", {"id": "VN/GOV", "name": "x"}, "id"),
    ("/api/members", {"id": "VN/GOV/", "name": "x"}, "id"),
    ("/api/members", {"id": "VN/GOV/B C", "name": "x"}, "id"),
    ("/api/members", {"id": "VN/GOV/BCA/extra", "name": "x"}, "id"),
    ("/api/members", {"id": "VN/XYZ/BCA", "name": "x"}, "class"),
    ("/api/members", {"id": "LA/GOV/BCA", "name": "x"}, "instance"),
    ("/api/members", {"id": "VN/GOV/BCA"}, "name"),
    ("/api/members", {"id": "VN/GOV/BCA", "name": ""}, "name"),
    ("/api/members", {"id": "VN/GOV/BCA", "name": "x" * 257}, "name"),
    ("/api/members", {"id": 5, "name": "x"}, "id"),
    ("/api/members", {"name": "x"}, "id"),
    ("/api/subsystems", {"id": MEMBER}, "id"),
    ("/api/subsystems", {"id": SERVICE}, "id"),
    ("/api/gateways", dict(GOOD_GATEWAY, address="http://gw.example.vn"), "address"),
    ("/api/gateways", dict(GOOD_GATEWAY, address="https://"), "address"),
    ("/api/gateways", dict(GOOD_GATEWAY, code="g w"), "code"),
    ("/api/gateways", dict(GOOD_GATEWAY, member=SUBSYSTEM), "member"),
    ("/api/gateways", dict(GOOD_GATEWAY, sign_public_key=EC_PUBLIC_PEM), "sign_public_key"),
    ("/api/gateways", dict(GOOD_GATEWAY, sign_public_key=ED_PRIVATE_PEM), "sign_public_key"),
    ("/api/gateways", dict(GOOD_GATEWAY, sign_public_key="garbage"), "sign_public_key"),
    ("/api/gateways", dict(GOOD_GATEWAY, tls_csr="-----BEGIN CERTIFICATE REQUEST-----\n"
                           "Z2FyYmFnZQ==\n-----END CERTIFICATE REQUEST-----\n"), "tls_csr"),
    ("/api/gateways", NO_CSR, "tls_csr"),
    ("/api/services", {"id": SUBSYSTEM, "title": "t"}, "id"),
    ("/api/services", {"id": SERVICE}, "title"),
    ("/api/services", {"id": SERVICE, "title": "t", "personal": True}, "purposes"),
    ("/api/services", {"id": SERVICE, "title": "t", "personal": True, "purposes": []},
     "purposes"),
    ("/api/services", {"id": SERVICE, "title": "t", "personal": True,
                       "purposes": ["Bad Purpose"]}, "purposes"),
    ("/api/services", {"id": SERVICE, "title": "t", "personal": "yes"}, "personal"),
    ("/api/services", {"id": SERVICE, "title": "t", "openapi": [1]}, "openapi"),
    ("/api/grants", {"client": CLIENT, "service": SERVICE, "methods": ["FETCH"]}, "methods"),
    ("/api/grants", {"client": CLIENT, "service": SERVICE, "methods": []}, "methods"),
    ("/api/grants", {"client": CLIENT, "service": SERVICE}, "methods"),
    ("/api/grants", {"client": CLIENT, "service": SERVICE, "methods": ["GET"],
                     "paths": ["citizens"]}, "paths"),
    ("/api/grants", {"client": CLIENT, "service": SERVICE, "methods": ["GET"],
                     "paths": [""]}, "paths"),
    ("/api/grants", {"client": SERVICE, "service": SERVICE, "methods": ["GET"]}, "client"),
    ("/api/grants", {"client": "VN/GOV", "service": SERVICE, "methods": ["GET"]}, "client"),
    ("/api/grants", {"client": "VN/XYZ/MOF", "service": SERVICE, "methods": ["GET"]}, "client"),
    ("/api/grants", {"client": CLIENT, "service": SUBSYSTEM, "methods": ["GET"]}, "service"),
    ("/api/revocations", {"kind": "person", "value": "ab" * 32}, "kind"),
    ("/api/revocations", {"kind": "key", "value": "xyz"}, "value"),
]


def test_invalid_input_is_refused_naming_the_field(registry):
    r = registry
    populate(r)
    before = r.conf_version()
    for path, body, field in INVALID:
        resp = r.api("POST", path, json=body)
        err = refused(resp, 400, "Client.InvalidRequest")
        assert field in (err["detail"] or "") + err["message"], (path, body, err)
    for raw in (b"{", b"[]", b'"x"', b"", b'{"id":"VN/GOV/BCA","id":"VN/GOV/BCA"}',
                b"\xff\xfe"):
        refused(r.api("POST", "/api/members", data=raw,
                      headers={"Content-Type": "application/json"}),
                400, "Client.InvalidRequest")
    assert r.conf_version() == before


# Public keys under which no signature could be verified (docs/security.md T130):
# the identity point (y = 1) and the point of order 2 (y = p - 1) have small order,
# and with R the identity and S = 0 "sign" every message; y = 2 is on no point of
# the curve. Each is a well-formed 32-byte Ed25519 key to a PEM or base64 parser.
ED25519_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")
UNVERIFIABLE_RAW = [bytes([1]) + bytes(31),
                    bytes([0xec]) + bytes([0xff]) * 30 + bytes([0x7f]),
                    bytes([2]) + bytes(31)]


def spki_pem(raw):
    b64 = base64.b64encode(ED25519_SPKI_PREFIX + raw).decode()
    return f"-----BEGIN PUBLIC KEY-----\n{b64}\n-----END PUBLIC KEY-----\n"


def test_keys_no_signature_could_verify_under_are_refused(registry):
    """A gateway, a key rotation, a consent service and an e-ID issuer each refuse a
    public key of small order or off the curve, naming the field; nothing changes."""
    r = registry
    populate(r)
    ok(r.api("POST", "/api/gateways", json=gateway_body()), 201)
    before = r.conf_version()
    for raw in UNVERIFIABLE_RAW:
        pem = spki_pem(raw)
        # The PEM itself is a valid Ed25519 public key to OpenSSL.
        assert serialization.load_pem_public_key(pem.encode()).public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw) == raw
        b64 = base64.b64encode(raw).decode()
        for path, body, field in [
                ("/api/gateways", dict(GOOD_GATEWAY, sign_public_key=pem), "sign_public_key"),
                (f"/api/gateways/{MEMBER}/gw1/rotation", {"sign_public_key": pem},
                 "sign_public_key"),
                ("/api/consent-services", {"id": CLIENT, "url": "https://consent.gov.vn",
                                           "sign_public_key": pem}, "sign_public_key"),
                ("/api/id-providers", {"issuer": "https://id.gov.vn", "sign_key": b64},
                 "sign_key")]:
            err = refused(r.api("POST", path, json=body), 400, "Client.InvalidRequest")
            assert err["detail"].startswith(field + ": not a point of prime order"), (path, err)
    assert r.conf_version() == before
    # An honest key is still taken.
    pem, raw = ed25519_public_pem()
    ok(r.api("POST", "/api/id-providers", json={"issuer": "https://id.gov.vn",
                                                "sign_key": base64.b64encode(raw).decode()}), 201)


API_ROUTES = [
    ("GET", "/api/members"), ("POST", "/api/members"),
    ("GET", "/api/members/" + MEMBER), ("DELETE", "/api/members/" + MEMBER),
    ("GET", "/api/subsystems"), ("POST", "/api/subsystems"),
    ("GET", "/api/subsystems/" + SUBSYSTEM), ("DELETE", "/api/subsystems/" + CLIENT),
    ("GET", "/api/gateways"), ("POST", "/api/gateways"),
    ("DELETE", f"/api/gateways/{MEMBER}/gw1"),
    ("GET", "/api/services"), ("POST", "/api/services"),
    ("DELETE", "/api/services/" + SERVICE),
    ("GET", "/api/grants"), ("POST", "/api/grants"), ("DELETE", "/api/grants/1"),
    ("GET", "/api/revocations"), ("POST", "/api/revocations"),
    ("PUT", f"/api/services/{SERVICE}/bulk-purposes"),
    ("GET", "/api/embargoes"), ("PUT", "/api/embargoes/investigation"),
    ("DELETE", "/api/embargoes/investigation"),
    ("GET", "/api/id-providers"), ("POST", "/api/id-providers"),
    ("DELETE", "/api/id-providers?issuer=https://id.gov.vn"),
    ("GET", "/api/audit"), ("GET", "/api/unknown"),
]


def test_unauthorised_calls_change_nothing(registry):
    r = registry
    populate(r)
    before = r.conf_version()
    audit_before = ok(r.api("GET", "/api/audit"), 200)["audit"]
    bad_headers = [{}, {"Authorization": "Bearer wrong-token"},
                   {"Authorization": "Basic " + base64.b64encode(b"a:b").decode()},
                   {"Authorization": "Bearer"}, {"Authorization": r.token},
                   {"Authorization": "Bearer " + r.token + "x"}]
    body = {"id": "VN/GOV/NEW", "name": "x"}
    for method, path in API_ROUTES:
        for h in bad_headers:
            resp = requests.request(method, r.url + path, headers=h, json=body, timeout=5)
            refused(resp, 401, "Client.Unauthorized")
            assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert r.conf_version() == before
    assert ok(r.api("GET", "/api/audit"), 200)["audit"] == audit_before
    assert len(ok(r.api("GET", "/api/members"), 200)["members"]) == 2
    assert r.token not in r.stderr_path.read_text(errors="replace")


def test_body_over_max_body_is_413(registry_factory):
    r = registry_factory(max_body=4096)
    big = {"id": MEMBER, "name": "x" * 5000}
    refused(r.api("POST", "/api/members", json=big), 413, "Client.TooLarge")
    # A chunked upload without Content-Length is capped too.
    chunks = (b'{"id":"VN/GOV/BCA","name":"' if i == 0 else b"x" * 1000 for i in range(8))
    refused(r.api("POST", "/api/members", data=chunks), 413, "Client.TooLarge")
    # A body under the cap still works, and nothing was stored by the refusals.
    # (padded with white space: an unknown field would be refused)
    ok(r.api("POST", "/api/members", data=b'{"id":"VN/GOV/BCA",' + b" " * 3000 +
             b'"name":"x"}', headers={"Content-Type": "application/json"}), 201)
    assert r.conf_version() == 2


def test_body_over_default_limit_is_413(registry):
    big = {"id": MEMBER, "name": "x" * (1024 * 1024 + 10)}
    refused(registry.api("POST", "/api/members", json=big), 413, "Client.TooLarge")


# ---- configuration -----------------------------------------------------------------------------

def test_conf_version_signature_and_content(registry):
    r = registry
    first = fetch_conf(r)
    doc = verify_conf(r, first)
    assert doc["format"] == "ndx-conf/1" and doc["version"] == 1
    assert doc["member_classes"] == ["GOV", "COM", "ORG"]
    assert doc["registry"]["ca_certificate"] == (r.data_dir / "ca.pem").read_text()
    assert first.headers["Content-Type"].startswith("application/json")
    assert first.headers["Cache-Control"] == "public, max-age=60"
    etag = first.headers["ETag"]
    assert etag.startswith('"1-')
    again = requests.get(r.url + "/conf", headers={"If-None-Match": etag}, timeout=5)
    assert again.status_code == 304

    versions = [r.conf_version()]
    ok(r.api("POST", "/api/members", json={"id": MEMBER, "name": "Bộ Công an"}), 201)
    versions.append(r.conf_version())
    ok(r.api("POST", "/api/members", json={"id": CLIENT_MEMBER, "name": "Bộ Tài chính"}), 201)
    versions.append(r.conf_version())
    for path in ("/api/members", "/api/audit", "/api/grants"):
        ok(r.api("GET", path), 200)
    fetch_conf(r)
    versions.append(r.conf_version())
    refused(r.api("POST", "/api/members", json={"id": MEMBER, "name": "dup"}), 409,
            "Client.Conflict")
    versions.append(r.conf_version())
    assert versions == [1, 2, 3, 3, 3]
    ok(r.api("POST", "/api/subsystems", json={"id": SUBSYSTEM}), 201)
    ok(r.api("POST", "/api/subsystems", json={"id": CLIENT}), 201)
    ok(r.api("POST", "/api/services", json={
        "id": SERVICE, "title": "Tra cứu công dân", "personal": True,
        "purposes": ["public-service"]}), 201)
    ok(r.api("POST", "/api/grants", json={
        "client": CLIENT, "service": SERVICE, "methods": ["GET"], "paths": ["/citizens/*"]}),
        201)

    resp = fetch_conf(r)
    doc = verify_conf(r, resp)
    assert doc["version"] == r.conf_version() == 7
    assert resp.headers["ETag"].startswith('"7-')
    assert doc["members"] == [{"id": MEMBER, "name": "Bộ Công an"},
                              {"id": CLIENT_MEMBER, "name": "Bộ Tài chính"}]
    assert doc["subsystems"] == [{"id": SUBSYSTEM}, {"id": CLIENT}]
    assert doc["services"] == [{"id": SERVICE, "title": "Tra cứu công dân", "personal": True,
                                "purposes": ["public-service"], "bulk_purposes": [],
                                "consent_required": False, "openapi_sha256": None}]
    assert doc["embargoes"] == [] and doc["id_providers"] == []
    assert doc["grants"] == [{"client": CLIENT, "service": SERVICE, "methods": ["GET"],
                              "paths": ["/citizens/*"]}]
    assert doc["expires_at"] > doc["generated_at"]
    # A tampered body fails verification.
    tampered = resp.content.replace(b"Tra c", b"Tra C")
    with pytest.raises(Exception):
        key = json.loads(r.anchor.read_text())["keys"][0]["public_key"]
        ed25519.Ed25519PublicKey.from_public_bytes(base64.b64decode(key)).verify(
            base64.b64decode(json.loads(resp.headers["Ndx-Conf-Signature"])["signature"]),
            tampered)


def test_conf_is_resigned_after_half_its_validity(registry_factory):
    r = registry_factory(conf_validity=4)
    first = verify_conf(r, fetch_conf(r))
    resp = fetch_conf(r)
    assert resp.headers["Cache-Control"] == "public, max-age=1"
    time.sleep(2.1)
    later = verify_conf(r, fetch_conf(r))
    assert later["version"] == first["version"]
    assert later["generated_at"] > first["generated_at"]
    assert later["expires_at"] > first["expires_at"]


# ---- audit, credentials, restart -----------------------------------------------------------------

def test_audit_records_who_what_when(registry):
    r = registry
    grant = populate(r)
    ok(r.api("DELETE", f"/api/grants/{grant['id']}"), 200)
    audit = ok(r.api("GET", "/api/audit"), 200)["audit"]
    actions = [(a["action"], a["object"]) for a in audit if a["actor"] == "admin"]
    assert actions == [
        ("grant.delete", str(grant["id"])), ("grant.add", str(grant["id"])),
        ("service.add", SERVICE), ("subsystem.add", CLIENT), ("subsystem.add", SUBSYSTEM),
        ("member.add", CLIENT_MEMBER), ("member.add", MEMBER)]
    newest = audit[0]
    assert newest["remote"].startswith("127.0.0.1:")
    assert newest["time"].endswith("Z") and len(newest["time"]) == 20
    assert [a["seq"] for a in audit] == sorted((a["seq"] for a in audit), reverse=True)
    added = next(a for a in audit if a["action"] == "member.add" and a["object"] == MEMBER)
    assert added["detail"] == {"name": "Bộ Công an"}
    assert len(ok(r.api("GET", "/api/audit", params={"limit": 2}), 200)["audit"]) == 2
    refused(r.api("GET", "/api/audit", params={"limit": 0}), 400, "Client.InvalidRequest")


def test_second_token_works_and_is_audited(registry, build_dir):
    r = registry
    exe = str(registry_exe(build_dir))
    out = subprocess.run([exe, "token", "add", "ops-team", "--data", str(r.data_dir)],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    token = out.stdout.strip()
    assert len(token) == 43 and token != r.token
    ok(r.api("POST", "/api/members", token=token, json={"id": MEMBER, "name": "Bộ Công an"}),
       201)
    audit = ok(r.api("GET", "/api/audit"), 200)["audit"]
    assert audit[0]["actor"] == "ops-team" and audit[0]["object"] == MEMBER
    assert any(a["action"] == "token.add" and a["object"] == "ops-team" for a in audit)
    dup = subprocess.run([exe, "token", "add", "ops-team", "--data", str(r.data_dir)],
                         capture_output=True, text=True, timeout=30)
    assert dup.returncode == 1 and "exists" in dup.stderr
    # The first credential still works.
    ok(r.api("GET", "/api/members"), 200)


def test_restart_keeps_data_and_version(registry):
    r = registry
    populate(r)
    version = r.conf_version()
    members = ok(r.api("GET", "/api/members"), 200)["members"]
    r.restart()
    assert r.conf_version() == version
    assert ok(r.api("GET", "/api/members"), 200)["members"] == members
    doc = verify_conf(r, fetch_conf(r))
    assert doc["version"] == version and len(doc["grants"]) == 1
    ok(r.api("POST", "/api/revocations", json={"kind": "key", "value": "cd" * 32}), 201)
    assert r.conf_version() == version + 1


def test_access_log_is_json_lines(registry):
    r = registry
    requests.get(r.url + "/healthz", timeout=5)
    refused(requests.get(r.url + "/api/members", timeout=5), 401, "Client.Unauthorized")
    lines = [json.loads(l) for l in r.stderr_path.read_text().splitlines()
             if l.startswith("{")]
    last = lines[-1]
    assert last["daemon"] == "ndx-registry" and last["path"] == "/api/members"
    assert last["status"] == 401 and last["error_type"] == "Client.Unauthorized"
    assert {"time", "remote", "method", "duration_ms", "bytes"} <= set(last)


def test_ids_with_encoded_and_plus_characters(registry):
    r = registry
    member = "VN/COM/A+B.(x)"
    ok(r.api("POST", "/api/members", json={"id": member, "name": "Công ty A+B"}), 201)
    ok(r.api("POST", "/api/subsystems", json={"id": member + "/sys"}), 201)
    # '+' travels literally in paths and queries; percent-encoded parts decode per part.
    assert ok(r.api("GET", "/api/members/VN/COM/A%2BB.%28x%29"), 200)["id"] == member
    for q in ("member=VN/COM/A%2BB.(x)", "member=VN/COM/A+B.(x)"):
        subs = ok(r.api("GET", "/api/subsystems?" + q), 200)["subsystems"]
        assert [s["id"] for s in subs] == [member + "/sys"], q
    refused(r.api("GET", "/api/subsystems?member=VN/COM/A%zz"), 400, "Client.InvalidRequest")


# ---- bulk purposes, embargoes, id providers (issue 13) ---------------------------------------

def raw_b64(raw):
    return base64.b64encode(raw).decode()


def test_service_bulk_purposes(registry):
    r = registry
    populate(r)
    svc = {"id": SUBSYSTEM + "/households", "title": "Hộ khẩu", "personal": True,
           "purposes": ["public-service", "statistics"], "bulk_purposes": ["statistics"]}
    s = ok(r.api("POST", "/api/services", json=svc), 201)
    assert s["bulk_purposes"] == ["statistics"]
    assert ok(r.api("GET", "/api/services/" + svc["id"]), 200)["bulk_purposes"] == ["statistics"]
    # Absent means none.
    assert ok(r.api("GET", "/api/services/" + SERVICE), 200)["bulk_purposes"] == []
    doc = verify_conf(r, fetch_conf(r))
    by_id = {x["id"]: x for x in doc["services"]}
    assert by_id[svc["id"]]["bulk_purposes"] == ["statistics"]
    assert by_id[SERVICE]["bulk_purposes"] == []

    # Update: replace the set, audited, raising the version.
    before = r.conf_version()
    path = f"/api/services/{SERVICE}/bulk-purposes"
    out = ok(r.api("PUT", path, json={"bulk_purposes": ["public-service"]}), 200)
    assert out["bulk_purposes"] == ["public-service"] and out["conf_version"] == before + 1
    audit = ok(r.api("GET", "/api/audit", params={"limit": 1}), 200)["audit"][0]
    assert audit["action"] == "service.bulk_purposes" and audit["object"] == SERVICE
    assert audit["detail"] == {"bulk_purposes": ["public-service"], "previous": []}
    doc = verify_conf(r, fetch_conf(r))
    assert {x["id"]: x for x in doc["services"]}[SERVICE]["bulk_purposes"] == ["public-service"]
    ok(r.api("PUT", path, json={"bulk_purposes": []}), 200)
    assert ok(r.api("GET", "/api/services/" + SERVICE), 200)["bulk_purposes"] == []
    refused(r.api("POST", path, json={"bulk_purposes": []}), 405, "Client.MethodNotAllowed")
    refused(r.api("PUT", f"/api/services/{SUBSYSTEM}/nope/bulk-purposes",
                  json={"bulk_purposes": []}), 404, "Client.NotFound")


BULK_REFUSALS = [
    # (service fields, bulk_purposes, words the detail must hold)
    ({"personal": True, "purposes": ["public-service"]}, ["statistics"],
     "bulk_purposes[0]: statistics is not one of the service's purposes"),
    ({"personal": True, "purposes": ["public-service"], "consent_required": True},
     ["public-service"], "requires consent"),
    ({"personal": False}, ["public-service"], "only a personal service"),
    ({"personal": True, "purposes": ["a", "b"]}, ["a", "a"], "bulk_purposes[1]: a appears twice"),
    ({"personal": True, "purposes": ["a"]}, ["A"], "bulk_purposes[0]"),
    ({"personal": True, "purposes": ["a"]}, "a", "bulk_purposes must be an array"),
]


def test_bulk_purposes_refusals_change_nothing(registry):
    r = registry
    populate(r)
    ok(r.api("POST", "/api/services", json={
        "id": SUBSYSTEM + "/consented", "title": "C", "personal": True,
        "purposes": ["public-service"], "consent_required": True}), 201)
    ok(r.api("POST", "/api/services", json={"id": SUBSYSTEM + "/plain", "title": "P"}), 201)
    before = r.conf_version()
    audit_before = ok(r.api("GET", "/api/audit"), 200)["audit"]
    for i, (fields, bulk, want) in enumerate(BULK_REFUSALS):
        body = {"id": f"{SUBSYSTEM}/bulk{i}", "title": "x", **fields, "bulk_purposes": bulk}
        err = refused(r.api("POST", "/api/services", json=body), 400, "Client.InvalidRequest")
        assert want in err["detail"], (body, err)
        refused(r.api("GET", "/api/services/" + body["id"]), 404, "Client.NotFound")
    # The same rules on update, against the stored service.
    for sid, bulk, want in [
            (SERVICE, ["statistics"], "statistics is not one of the service's purposes"),
            (SUBSYSTEM + "/consented", ["public-service"], "requires consent"),
            (SUBSYSTEM + "/plain", ["public-service"], "only a personal service")]:
        err = refused(r.api("PUT", f"/api/services/{sid}/bulk-purposes",
                            json={"bulk_purposes": bulk}), 400, "Client.InvalidRequest")
        assert want in err["detail"], (sid, err)
    err = refused(r.api("PUT", f"/api/services/{SERVICE}/bulk-purposes", json={}), 400,
                  "Client.InvalidRequest")
    assert "bulk_purposes is required" in err["detail"]
    assert r.conf_version() == before
    assert ok(r.api("GET", "/api/audit"), 200)["audit"] == audit_before


def test_embargoes(registry):
    r = registry
    assert ok(r.api("GET", "/api/embargoes"), 200) == {"embargoes": []}
    before = r.conf_version()
    e = ok(r.api("PUT", "/api/embargoes/investigation", json={"seconds": 30 * 86400}), 201)
    assert e["purpose"] == "investigation" and e["seconds"] == 2592000
    assert e["conf_version"] == before + 1
    assert e["created_at"].endswith("Z") and e["updated_at"].endswith("Z")
    e = ok(r.api("PUT", "/api/embargoes/investigation", json={"seconds": 60}), 200)
    assert e["seconds"] == 60 and e["conf_version"] == before + 2
    ok(r.api("PUT", "/api/embargoes/audit-check", json={"seconds": 1}), 201)
    lst = ok(r.api("GET", "/api/embargoes"), 200)["embargoes"]
    assert [(x["purpose"], x["seconds"]) for x in lst] == [("audit-check", 1),
                                                          ("investigation", 60)]
    assert ok(r.api("GET", "/api/embargoes/investigation"), 200)["seconds"] == 60
    doc = verify_conf(r, fetch_conf(r))
    assert doc["embargoes"] == [{"purpose": "audit-check", "seconds": 1},
                                {"purpose": "investigation", "seconds": 60}]
    audit = ok(r.api("GET", "/api/audit", params={"limit": 3}), 200)["audit"]
    assert [(a["action"], a["object"]) for a in audit] == [
        ("embargo.set", "audit-check"), ("embargo.set", "investigation"),
        ("embargo.set", "investigation")]
    assert audit[1]["detail"] == {"seconds": 60, "previous": 2592000}
    out = ok(r.api("DELETE", "/api/embargoes/audit-check"), 200)
    assert out["deleted"] == "audit-check"
    assert ok(r.api("GET", "/api/audit", params={"limit": 1}), 200)["audit"][0]["action"] == \
        "embargo.delete"
    refused(r.api("DELETE", "/api/embargoes/audit-check"), 404, "Client.NotFound")
    refused(r.api("GET", "/api/embargoes/audit-check"), 404, "Client.NotFound")
    assert verify_conf(r, fetch_conf(r))["embargoes"] == [
        {"purpose": "investigation", "seconds": 60}]
    refused(r.api("POST", "/api/embargoes", json={}), 405, "Client.MethodNotAllowed")
    refused(r.api("POST", "/api/embargoes/x", json={}), 405, "Client.MethodNotAllowed")


def test_embargo_refusals_change_nothing(registry):
    r = registry
    ok(r.api("PUT", "/api/embargoes/investigation", json={"seconds": 600}), 201)
    before = r.conf_version()
    for purpose, body, want in [
            ("investigation", {"seconds": 0}, "seconds: an integer from 1"),
            ("investigation", {"seconds": -60}, "seconds: an integer from 1"),
            ("investigation", {"seconds": 1.5}, "seconds: an integer from 1"),
            ("investigation", {"seconds": "60"}, "seconds: an integer from 1"),
            ("investigation", {"seconds": True}, "seconds: an integer from 1"),
            ("investigation", {"seconds": 100 * 366 * 86400}, "seconds: an integer from 1"),
            ("investigation", {}, "seconds is required"),
            ("investigation", {}, "seconds is required"),
            ("investigation", {"days": 3}, "days: not a field of this request"),
            ("Investigation", {"seconds": 60}, "a purpose is 1 to 64 characters"),
            ("a%20b", {"seconds": 60}, "a purpose is"),
            ("x" * 65, {"seconds": 60}, "a purpose is")]:
        err = refused(r.api("PUT", "/api/embargoes/" + purpose, json=body), 400,
                      "Client.InvalidRequest")
        assert want in err["detail"], (purpose, body, err)
    refused(r.api("PUT", "/api/embargoes/investigation", data=b"[]",
                  headers={"Content-Type": "application/json"}), 400, "Client.InvalidRequest")
    assert r.conf_version() == before
    assert ok(r.api("GET", "/api/embargoes/investigation"), 200)["seconds"] == 600


def test_id_providers(registry):
    r = registry
    pem, raw = ed25519_public_pem()
    kid = hashlib.sha256(raw).hexdigest()
    assert ok(r.api("GET", "/api/id-providers"), 200) == {"id_providers": []}
    before = r.conf_version()
    p = ok(r.api("POST", "/api/id-providers",
                 json={"issuer": "https://id.gov.vn", "sign_key": raw_b64(raw)}), 201)
    assert p["issuer"] == "https://id.gov.vn" and p["sign_key"] == raw_b64(raw)
    assert p["sign_key_id"] == kid and p["conf_version"] == before + 1
    # http:// to loopback (the demo's ndx-id), with a path; a matching sign_key_id is fine.
    _, raw2 = ed25519_public_pem()
    ok(r.api("POST", "/api/id-providers",
             json={"issuer": "http://127.0.0.1:4445/oidc", "sign_key": raw_b64(raw2),
                   "sign_key_id": hashlib.sha256(raw2).hexdigest()}), 201)
    refused(r.api("POST", "/api/id-providers",
                  json={"issuer": "https://id.gov.vn", "sign_key": raw_b64(raw2)}), 409,
            "Client.Conflict")
    lst = ok(r.api("GET", "/api/id-providers"), 200)["id_providers"]
    assert [x["issuer"] for x in lst] == ["http://127.0.0.1:4445/oidc", "https://id.gov.vn"]
    doc = verify_conf(r, fetch_conf(r))
    assert doc["id_providers"] == [
        {"issuer": "http://127.0.0.1:4445/oidc", "sign_key": raw_b64(raw2),
         "sign_key_id": hashlib.sha256(raw2).hexdigest()},
        {"issuer": "https://id.gov.vn", "sign_key": raw_b64(raw), "sign_key_id": kid}]
    audit = ok(r.api("GET", "/api/audit", params={"limit": 1}), 200)["audit"][0]
    assert audit["action"] == "id_provider.add"
    assert audit["object"] == "http://127.0.0.1:4445/oidc"
    out = ok(r.api("DELETE", "/api/id-providers",
                   params={"issuer": "http://127.0.0.1:4445/oidc"}), 200)
    assert out["deleted"] == "http://127.0.0.1:4445/oidc"
    audit = ok(r.api("GET", "/api/audit", params={"limit": 1}), 200)["audit"][0]
    assert (audit["action"], audit["object"]) == ("id_provider.delete",
                                                  "http://127.0.0.1:4445/oidc")
    refused(r.api("DELETE", "/api/id-providers",
                  params={"issuer": "http://127.0.0.1:4445/oidc"}), 404, "Client.NotFound")
    refused(r.api("DELETE", "/api/id-providers"), 400, "Client.InvalidRequest")
    refused(r.api("GET", "/api/id-providers/x"), 404, "Client.NotFound")
    assert [x["issuer"] for x in verify_conf(r, fetch_conf(r))["id_providers"]] == [
        "https://id.gov.vn"]


def test_id_provider_refusals_change_nothing(registry):
    r = registry
    pem, raw = ed25519_public_pem()
    good = raw_b64(raw)
    before = r.conf_version()
    for body, want in [
            ({"issuer": "https://id.gov.vn", "sign_key": pem}, "sign_key: expected base64"),
            ({"issuer": "https://id.gov.vn", "sign_key": raw_b64(raw[:31])}, "sign_key"),
            ({"issuer": "https://id.gov.vn", "sign_key": raw_b64(raw + b"x")}, "sign_key"),
            ({"issuer": "https://id.gov.vn", "sign_key": "not base64!"}, "sign_key"),
            ({"issuer": "https://id.gov.vn", "sign_key": good, "sign_key_id": "ab" * 32},
             "sign_key_id: does not match"),
            ({"issuer": "https://id.gov.vn"}, "sign_key is required"),
            ({"sign_key": good}, "issuer is required"),
            ({"issuer": "ftp://id.gov.vn", "sign_key": good}, "issuer: must start with"),
            ({"issuer": "http://id.gov.vn", "sign_key": good}, "only to a loopback"),
            ({"issuer": "https://", "sign_key": good}, "issuer: no host"),
            ({"issuer": "https://id.gov.vn/a b", "sign_key": good}, "no spaces"),
            ({"issuer": "https://id.gov.vn/?x=1", "sign_key": good}, "no query"),
            ({"issuer": "https://u@id.gov.vn", "sign_key": good}, "issuer: the host may hold"),
            ({"issuer": 42, "sign_key": good}, "issuer must be a string")]:
        err = refused(r.api("POST", "/api/id-providers", json=body), 400,
                      "Client.InvalidRequest")
        assert want in err["detail"], (body, err)
    assert r.conf_version() == before
    assert ok(r.api("GET", "/api/id-providers"), 200)["id_providers"] == []


def test_new_lists_survive_restart(registry):
    r = registry
    populate(r)
    _, raw = ed25519_public_pem()
    ok(r.api("PUT", f"/api/services/{SERVICE}/bulk-purposes",
             json={"bulk_purposes": ["public-service"]}), 200)
    ok(r.api("PUT", "/api/embargoes/investigation", json={"seconds": 86400}), 201)
    ok(r.api("POST", "/api/id-providers",
             json={"issuer": "https://id.gov.vn", "sign_key": raw_b64(raw)}), 201)
    before = verify_conf(r, fetch_conf(r))
    r.restart()
    after = verify_conf(r, fetch_conf(r))
    for field in ("services", "embargoes", "id_providers"):
        assert after[field] == before[field], field


def test_store_migrates_a_database_from_before_issue_13(registry):
    """A registry database at schema version 2 (no bulk_purposes, embargoes or
    id_providers) opens, gains them empty, and keeps its services."""
    import sqlite3
    r = registry
    populate(r)
    assert r.stop() == 0
    db = sqlite3.connect(r.data_dir / "registry.db")
    db.executescript("ALTER TABLE services DROP COLUMN bulk_purposes;"
                     "DROP TABLE embargoes; DROP TABLE id_providers;"
                     "DROP TABLE witnessed;"  # issue 14's migration 4 comes after
                     "DELETE FROM schema_migrations WHERE version >= 3;")
    db.close()
    r.start()
    assert ok(r.api("GET", "/api/services/" + SERVICE), 200)["bulk_purposes"] == []
    doc = verify_conf(r, fetch_conf(r))
    assert doc["embargoes"] == [] and doc["id_providers"] == []
    ok(r.api("PUT", "/api/embargoes/investigation", json={"seconds": 60}), 201)


# ---- issue 14: names, unknown fields, one key one holder, audit pages --------------------

# Finding 8: characters that drive a terminal or reverse text on a page.
BAD_TEXT = {
    "ESC (clear screen)": "Bộ\x1b[2J Công an",
    "CR LF (forged line)": "Bộ Công an\r\nVN/GOV/FAKE",
    "U+202E (right-to-left override)": "Bộ Công an \u202egpj.exe",
    "U+202A (embedding)": "\u202aBộ",
    "U+2066 (isolate)": "Bộ \u2066an\u2069",
    "U+0085 (C1 NEL)": "Bộ\u0085an",
    "U+009B (C1 CSI)": "Bộ\u009b2J",
    "DEL": "Bộ\x7f",
    "TAB": "Bộ\tCông",
    "U+2028 (line separator)": "Bộ\u2028an",
}


def test_control_characters_and_bidi_overrides_in_names_are_refused(registry):
    """ESC, CR/LF, the other C0/C1 controls and the bidirectional overrides and
    isolates are refused in every name, title, reason and address, with a 400 that
    names the field; nothing is stored; Vietnamese names are still accepted."""
    r = registry
    populate(r)
    before = r.conf_version()
    for what, text in BAD_TEXT.items():
        for path, body, field in [
                ("/api/members", {"id": "VN/GOV/BTP", "name": text}, "name"),
                ("/api/services", {"id": SUBSYSTEM + "/bad", "title": text}, "title"),
                ("/api/revocations", {"kind": "key", "value": "ab" * 32, "reason": text},
                 "reason"),
                ("/api/gateways", dict(gateway_body(), address="https://127.0.0.1/" + text),
                 "address"),
                ("/api/consent-services", {"id": SUBSYSTEM, "url": "https://c.gov.vn/" + text,
                                           "sign_public_key": ed25519_public_pem()[0]},
                 "url")]:
            err = refused(r.api("POST", path, json=body), 400, "Client.InvalidRequest")
            assert err["detail"].startswith(field + ": "), (what, path, err)
            assert "not allowed" in err["detail"], (what, err)
    assert r.conf_version() == before
    names = [m["name"] for m in ok(r.api("GET", "/api/members"), 200)["members"]]
    assert names == ["Bộ Công an", "Bộ Tài chính"]
    assert ok(r.api("GET", "/api/revocations"), 200)["revocations"] == []
    # Marks that do not override (U+200F) and any script are fine.
    ok(r.api("POST", "/api/members", json={"id": "VN/GOV/BTP", "name": "Bộ Tư pháp \u200f"}),
       201)


UNKNOWN_FIELD_CALLS = [
    ("POST", "/api/members"), ("POST", "/api/subsystems"), ("POST", "/api/gateways"),
    ("POST", "/api/services"), ("PUT", f"/api/services/{SERVICE}/bulk-purposes"),
    ("POST", "/api/grants"), ("POST", "/api/revocations"), ("POST", "/api/consent-services"),
    ("PUT", "/api/embargoes/investigation"), ("POST", "/api/id-providers"),
]


def test_unknown_fields_are_refused_in_every_body(registry):
    """A field the API does not know is a 400 naming it, in every body, even next to
    valid ones: a misspelt optional field ("bulk_purpose") is never dropped in silence."""
    r = registry
    populate(r)
    before = r.conf_version()
    for method, path in UNKNOWN_FIELD_CALLS:
        err = refused(r.api(method, path, json={"sneaky": True}), 400, "Client.InvalidRequest")
        assert err["detail"] == "sneaky: not a field of this request", (path, err)
    # Beside otherwise valid fields, and a misspelling.
    err = refused(r.api("POST", "/api/members", json={"id": "VN/GOV/BTP", "name": "Bộ Tư pháp",
                                                       "admin": True}),
                  400, "Client.InvalidRequest")
    assert err["detail"].startswith("admin: ")
    err = refused(r.api("POST", "/api/services", json={
        "id": SUBSYSTEM + "/list", "title": "Danh sách", "personal": True,
        "purposes": ["public-service"], "bulk_purpose": ["public-service"]}),
        400, "Client.InvalidRequest")
    assert err["detail"].startswith("bulk_purpose: ")
    # A control character in the unknown name itself is not echoed raw.
    err = refused(r.api("POST", "/api/members", json={"x\x1b[2J": 1}), 400,
                  "Client.InvalidRequest")
    assert "\x1b" not in err["detail"] and "\\x1b" in err["detail"]
    assert r.conf_version() == before


def make_csr_with(key, cn="gw"):
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
           .sign(key, hashes.SHA256()))
    return csr.public_bytes(serialization.Encoding.PEM).decode()


def test_one_signing_key_or_tls_key_for_two_members_is_refused(registry):
    """Finding 9: a gateway's signing key, or TLS key, already bound to another
    member's gateway is a 409 naming the field and the holder; a member's own second
    gateway may share its key; a consent service's or an e-ID's key may not be a
    gateway's, nor the other way round (a key has one role)."""
    r = registry
    populate(r)
    sign = ed25519.Ed25519PrivateKey.generate()
    pem = sign.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    raw = sign.public_key().public_bytes(serialization.Encoding.Raw,
                                         serialization.PublicFormat.Raw)
    key_id = hashlib.sha256(raw).hexdigest()
    tls = ec.generate_private_key(ec.SECP256R1())
    ok(r.api("POST", "/api/gateways", json={
        "member": MEMBER, "code": "gw1", "address": "https://127.0.0.1:4431",
        "sign_public_key": pem, "tls_csr": make_csr_with(tls)}), 201)
    before = r.conf_version()

    # Another member, the same signing key (a fresh TLS key).
    err = refused(r.api("POST", "/api/gateways", json={
        "member": CLIENT_MEMBER, "code": "gw1", "address": "https://127.0.0.1:4432",
        "sign_public_key": pem, "tls_csr": make_csr()}), 409, "Client.Conflict")
    assert err["detail"].startswith("sign_public_key: ") and key_id in err["detail"]
    assert "gateway VN/GOV/BCA/gw1" in err["detail"], err
    # Another member, the same TLS key in a new request (a fresh signing key).
    err = refused(r.api("POST", "/api/gateways", json={
        "member": CLIENT_MEMBER, "code": "gw1", "address": "https://127.0.0.1:4432",
        "sign_public_key": ed25519_public_pem()[0], "tls_csr": make_csr_with(tls, "other")}),
        409, "Client.Conflict")
    assert err["detail"].startswith("tls_csr: ") and "VN/GOV/BCA/gw1" in err["detail"], err
    # A consent service or an id provider with the gateway's key.
    err = refused(r.api("POST", "/api/consent-services", json={
        "id": CLIENT, "url": "https://consent.gov.vn", "sign_public_key": pem}),
        409, "Client.Conflict")
    assert err["detail"].startswith("sign_public_key: ") and "one role" in err["detail"]
    err = refused(r.api("POST", "/api/id-providers", json={
        "issuer": "https://id.gov.vn", "sign_key": raw_b64(raw)}), 409, "Client.Conflict")
    assert err["detail"].startswith("sign_key: ") and "gateway VN/GOV/BCA/gw1" in err["detail"]
    assert r.conf_version() == before
    gws = ok(r.api("GET", "/api/gateways"), 200)["gateways"]
    assert [(g["member"], g["code"]) for g in gws] == [(MEMBER, "gw1")]
    assert ok(r.api("GET", "/api/consent-services"), 200)["consent_services"] == []
    assert ok(r.api("GET", "/api/id-providers"), 200)["id_providers"] == []

    # The other way round: an e-ID's key, then a gateway with it.
    idp_pem, idp_raw = ed25519_public_pem()
    ok(r.api("POST", "/api/id-providers", json={
        "issuer": "https://id.gov.vn", "sign_key": raw_b64(idp_raw)}), 201)
    err = refused(r.api("POST", "/api/gateways", json={
        "member": CLIENT_MEMBER, "code": "gw1", "address": "https://127.0.0.1:4432",
        "sign_public_key": idp_pem, "tls_csr": make_csr()}), 409, "Client.Conflict")
    assert "id provider https://id.gov.vn" in err["detail"], err
    # The same member's second gateway may share its signing and TLS keys.
    ok(r.api("POST", "/api/gateways", json={
        "member": MEMBER, "code": "gw2", "address": "https://127.0.0.1:4433",
        "sign_public_key": pem, "tls_csr": make_csr_with(tls, "gw2")}), 201)
    # A duplicate is still "already exists".
    err = refused(r.api("POST", "/api/id-providers", json={
        "issuer": "https://id.gov.vn", "sign_key": raw_b64(idp_raw)}), 409, "Client.Conflict")
    assert "already exists" in err["detail"]


def test_audit_is_paged_with_a_cursor(registry):
    """Finding 11: GET /api/audit?limit=N&before=SEQ walks the whole trail, newest
    first, each entry once; "next" is the cursor of the following page, null at the
    end; bad cursors and limits are 400."""
    r = registry
    for i in range(23):
        ok(r.api("PUT", f"/api/embargoes/p{i}", json={"seconds": 60}), 201)
    first = ok(r.api("GET", "/api/audit"), 200)  # 23 and the token made by init
    assert len(first["audit"]) == 24 and first["next"] is None
    seen, before, pages = [], None, 0
    while True:
        params = {"limit": 10} if before is None else {"limit": 10, "before": before}
        page = ok(r.api("GET", "/api/audit", params=params), 200)
        pages += 1
        seen += [a["seq"] for a in page["audit"]]
        if page["next"] is None:
            break
        assert page["next"] == page["audit"][-1]["seq"]
        before = page["next"]
    assert pages == 3 and seen == [a["seq"] for a in first["audit"]]
    assert seen == sorted(set(seen), reverse=True)
    assert ok(r.api("GET", "/api/audit", params={"before": seen[-3], "limit": 5}),
              200)["audit"] == first["audit"][-2:]
    for params in ({"limit": 0}, {"limit": 1001}, {"limit": "x"}, {"before": 0},
                   {"before": "-1"}, {"before": ""}, {"before": "1e3"}):
        err = refused(r.api("GET", "/api/audit", params=params), 400, "Client.InvalidRequest")
        assert err["detail"].startswith(next(iter(params)) + ": "), (params, err)
