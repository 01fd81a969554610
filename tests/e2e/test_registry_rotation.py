"""Key and certificate rotation of a gateway (docs/registry-api.md "Key and
certificate rotation"): POST /api/gateways/{memberId}/{code}/rotation
replaces the signing key and/or the TLS certificate in place, in one
transaction, optionally revoking the old ones, audited as gateway.rotate."""

import base64
import hashlib

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from test_registry import (CLIENT_MEMBER, MEMBER, ed25519_public_pem, fetch_conf, gateway_body,
                           make_csr, ok, refused, verify_conf)

GW = f"/api/gateways/{MEMBER}/gw1"


def setup_gateway(r, body=None):
    ok(r.api("POST", "/api/members", json={"id": MEMBER, "name": "Bộ Công an"}), 201)
    return ok(r.api("POST", "/api/gateways", json=body or gateway_body()), 201)


def test_rotation_replaces_key_and_certificate_and_revokes_the_old(registry):
    r = registry
    first = gateway_body()
    old = setup_gateway(r, first)
    # The list and one gateway carry the certificate's validity.
    listed = ok(r.api("GET", "/api/gateways"), 200)["gateways"][0]
    cert = x509.load_pem_x509_certificate(old["tls_certificate"].encode())
    assert listed["tls_not_after"] == cert.not_valid_after.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert listed["tls_not_before"] == cert.not_valid_before.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert ok(r.api("GET", GW), 200)["tls_not_after"] == listed["tls_not_after"]

    pem, raw = ed25519_public_pem()
    new = ok(r.api("POST", GW + "/rotation", json={
        "sign_public_key": pem, "tls_csr": make_csr(), "revoke_old": True,
        "reason": "yearly rotation"}), 200)
    assert new["sign_key_id"] == hashlib.sha256(raw).hexdigest() != old["sign_key_id"]
    assert base64.b64decode(new["sign_key"]) == raw
    assert new["tls_cert_sha256"] != old["tls_cert_sha256"]
    c2 = x509.load_pem_x509_certificate(new["tls_certificate"].encode())
    assert hashlib.sha256(c2.public_bytes(serialization.Encoding.DER)).hexdigest() == \
        new["tls_cert_sha256"]
    assert new["address"] == old["address"] and new["conf_version"] > old["conf_version"]
    assert sorted(new["revoked"]) == sorted([f"key:{old['sign_key_id']}",
                                             f"certificate:{old['tls_cert_sha256']}"])

    conf = verify_conf(r, fetch_conf(r))
    assert conf["gateways"][0]["sign_key_id"] == new["sign_key_id"]
    assert conf["gateways"][0]["tls_cert_sha256"] == new["tls_cert_sha256"]
    assert {x["value"] for x in conf["revocations"]} == {old["sign_key_id"],
                                                         old["tls_cert_sha256"]}
    revs = ok(r.api("GET", "/api/revocations"), 200)["revocations"]
    assert {x["reason"] for x in revs} == {"yearly rotation"}

    entry = ok(r.api("GET", "/api/audit", params={"action": "gateway.rotate"}), 200)["audit"][0]
    assert entry["actor"] == "admin" and entry["object"] == f"{MEMBER}/gw1"
    assert entry["detail"]["old_sign_key_id"] == old["sign_key_id"]
    assert entry["detail"]["sign_key_id"] == new["sign_key_id"]
    assert entry["detail"]["old_tls_cert_sha256"] == old["tls_cert_sha256"]
    assert entry["detail"]["reason"] == "yearly rotation"

    # The old key cannot come back: it is revoked.
    e = refused(r.api("POST", GW + "/rotation", json={"sign_public_key": first["sign_public_key"]}),
                400, "Client.InvalidRequest")
    assert e["detail"] == f"sign_public_key: key {old['sign_key_id']} is revoked"


def test_rotation_of_one_part_keeps_the_other(registry):
    r = registry
    old = setup_gateway(r)
    new = ok(r.api("POST", GW + "/rotation", json={"tls_csr": make_csr()}), 200)
    assert new["sign_key_id"] == old["sign_key_id"]
    assert new["tls_cert_sha256"] != old["tls_cert_sha256"] and new["revoked"] == []
    assert ok(r.api("GET", "/api/revocations"), 200)["revocations"] == []
    pem, raw = ed25519_public_pem()
    new2 = ok(r.api("POST", GW + "/rotation", json={"sign_public_key": pem}), 200)
    assert new2["tls_cert_sha256"] == new["tls_cert_sha256"]
    assert new2["sign_key_id"] == hashlib.sha256(raw).hexdigest()


def test_rotation_refusals(registry):
    r = registry
    old = setup_gateway(r)
    body = ok(r.api("GET", GW), 200)
    cases = [
        ({}, 400, "sign_public_key"),
        ({"tls_csr": make_csr(), "reason": "x"}, 400, "reason"),
        ({"tls_csr": "not a csr"}, 400, "tls_csr"),
        ({"sign_public_key": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"},
         400, "sign_public_key"),
        ({"tls_csr": make_csr(), "revoke": True}, 400, "revoke"),
        ({"tls_csr": make_csr(), "revoke_old": "yes"}, 400, "revoke_old"),
    ]
    for b, status, field in cases:
        e = refused(r.api("POST", GW + "/rotation", json=b), status, "Client.InvalidRequest")
        assert e["detail"].startswith(field), (b, e)
    # The current key again is no rotation.
    cur = "-----BEGIN PUBLIC KEY-----\n" + base64.b64encode(
        bytes.fromhex("302a300506032b6570032100") + base64.b64decode(body["sign_key"])).decode() \
        + "\n-----END PUBLIC KEY-----\n"
    e = refused(r.api("POST", GW + "/rotation", json={"sign_public_key": cur}), 400,
                "Client.InvalidRequest")
    assert "current key" in e["detail"]
    refused(r.api("POST", f"/api/gateways/{MEMBER}/gw9/rotation",
                  json={"tls_csr": make_csr()}), 404, "Client.NotFound")
    refused(r.api("PUT", GW + "/rotation", json={"tls_csr": make_csr()}), 405,
            "Client.MethodNotAllowed")

    # Another member's key: one key, one holder (409), nothing stored.
    ok(r.api("POST", "/api/members", json={"id": CLIENT_MEMBER, "name": "Bộ Tài chính"}), 201)
    theirs = gateway_body(member=CLIENT_MEMBER, code="gw2")
    ok(r.api("POST", "/api/gateways", json=theirs), 201)
    e = refused(r.api("POST", GW + "/rotation", json={"sign_public_key": theirs["sign_public_key"]}),
                409, "Client.Conflict")
    assert e["detail"].startswith("sign_public_key:")

    # A key a member's two gateways share is not revoked while the other holds it.
    pem, _ = ed25519_public_pem()
    second = gateway_body(code="gw3")
    second["sign_public_key"] = cur
    ok(r.api("POST", "/api/gateways", json=second), 201)
    e = refused(r.api("POST", GW + "/rotation", json={"sign_public_key": pem, "revoke_old": True}),
                409, "Client.Conflict")
    assert f"{MEMBER}/gw3" in e["detail"] and e["detail"].startswith("revoke_old:")
    assert ok(r.api("GET", GW), 200)["sign_key_id"] == old["sign_key_id"]
    assert ok(r.api("GET", "/api/audit", params={"action": "gateway.rotate"}), 200)["audit"] == []
