"""Key and certificate rotation of a gateway (docs/registry-api.md "Key and
certificate rotation"): POST /api/gateways/{memberId}/{code}/rotation
replaces the signing key and/or the TLS certificate in place, in one
transaction, optionally revoking the old ones, audited as gateway.rotate; the tree
heads a replaced key signed before the rotation are still witnessed."""

import base64
import hashlib
import time

import requests
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from logspec import sth_hash, sth_message

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


# ---- witnessing across a rotation -----------------------------------------------------------

WITNESSED_GW = f"{MEMBER}/gw1"


def signing_key():
    """A new Ed25519 key: (private key, public PEM, key id = SHA-256 of the raw key)."""
    key = ed25519.Ed25519PrivateKey.generate()
    pub = key.public_key()
    pem = pub.public_bytes(serialization.Encoding.PEM,
                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return key, pem, hashlib.sha256(raw).hexdigest()


def tree_head(key, key_id, batch, time_ms, prev):
    """A signed tree head as docs/protocol.md "Witnessed tree heads" writes it (encoded by
    logspec.py from the text, apart from the C code): (its wire form, its STH hash)."""
    b = {"batch": batch, "first_seq": batch, "size": 1,
         "root": hashlib.sha256(b"record %d" % batch).digest(), "time_ms": time_ms,
         "prev_sth_hash": prev}
    b["signature"] = key.sign(sth_message(b))
    wire = {"batch": batch, "first_seq": batch, "size": 1, "root": b["root"].hex(),
            "time_ms": time_ms, "prev_sth_hash": prev.hex(), "key_id": key_id,
            "signature": base64.b64encode(b["signature"]).decode()}
    return wire, sth_hash(b)


def witness(r, *heads):
    return requests.post(r.url + "/witness", json={"gateway": WITNESSED_GW, "heads": list(heads)},
                         timeout=10)


def test_heads_signed_before_a_rotation_are_still_witnessed(registry):
    """A tree head the old key signed before the rotation, sent after it, is witnessed (a
    gateway whose last heads were not witnessed yet would otherwise stop there); one
    the old key signs after the rotation is refused, and so is every head of an old key
    the rotation revoked, whatever time it claims."""
    r = registry
    key_a, pem_a, kid_a = signing_key()
    setup_gateway(r, dict(gateway_body(), sign_public_key=pem_a))
    now = lambda: int(time.time() * 1000)  # noqa: E731
    h1, hash1 = tree_head(key_a, kid_a, 1, now(), bytes(32))
    assert witness(r, h1).status_code == 200
    h2, hash2 = tree_head(key_a, kid_a, 2, now(), hash1)  # signed, not yet sent

    key_b, pem_b, kid_b = signing_key()
    ok(r.api("POST", GW + "/rotation", json={"sign_public_key": pem_b}), 200)
    r_2 = witness(r, h2)
    assert r_2.status_code == 200, r_2.text
    # The old key after the rotation: not the gateway's any more.
    late, _ = tree_head(key_a, kid_a, 3, now() + 60_000, hash2)
    refused(witness(r, late), 400, "Client.InvalidRequest")
    assert "replaced before the head's time" in witness(r, late).json()["detail"]
    assert "does not verify" in witness(r, late).json()["detail"]
    # A key the gateway never had.
    key_x, _, kid_x = signing_key()
    stranger, _ = tree_head(key_x, kid_x, 3, now(), hash2)
    refused(witness(r, stranger), 400, "Client.InvalidRequest")
    h3, hash3 = tree_head(key_b, kid_b, 3, now(), hash2)
    assert witness(r, h3).status_code == 200

    # Rotated again with the replaced key revoked: its heads are refused, even one
    # dated before that rotation.
    before = now()
    h4_b, _ = tree_head(key_b, kid_b, 4, before, hash3)
    key_c, pem_c, kid_c = signing_key()
    ok(r.api("POST", GW + "/rotation", json={"sign_public_key": pem_c, "revoke_old": True}),
       200)
    refused(witness(r, h4_b), 400, "Client.InvalidRequest")
    assert "replaced and revoked" in witness(r, h4_b).json()["detail"]
    h4, _ = tree_head(key_c, kid_c, 4, now(), hash3)
    assert witness(r, h4).status_code == 200
    # Removing the gateway forgets its retired keys: registered again under the same
    # name with key C, A's heads are a stranger's.
    ok(r.api("DELETE", GW), 200)
    setup_gateway_again = dict(gateway_body(), sign_public_key=pem_c)
    ok(r.api("POST", "/api/gateways", json=setup_gateway_again), 201)
    old_a, _ = tree_head(key_a, kid_a, 1, before - 60_000, bytes(32))
    refused(witness(r, old_a), 400, "Client.InvalidRequest")
    assert "replaced before" not in witness(r, old_a).json()["detail"]
