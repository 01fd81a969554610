"""End-to-end tests of how information systems must connect to their gateway's consumer
port (docs/gateway.md "Information systems", docs/security.md T37): per subsystem, as
X-Road's NOSSL / SSLNOAUTH / SSLAUTH, `http` (plain or TLS), `tls` (the TLS consumer
port only) or `tls-cert` (the TLS consumer port with one of the subsystem's registered
client certificates). The attack of the security review: any local process could call
the plain consumer port as any of the member's subsystems, including one that may write
every citizen's record. Here BTC's subsystem `secure` (tls-cert) and `tlsonly` (tls) are
granted the citizens service; `tax` stays `http`."""

import datetime
import http.client
import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

sys.path.insert(0, str(Path(__file__).resolve().parent))

import federation as F  # noqa: E402
import refusals  # noqa: E402

SECURE = F.BTC + "/secure"
TLSONLY = F.BTC + "/tlsonly"


def self_signed(directory, name):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / f"{name}.pem", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def configure_tls(fed):
    btc = fed.gateways["BTC"]
    registered = self_signed(btc.dir, "secure-client")
    fed.registered, fed.stranger = registered, self_signed(btc.dir, "stranger-client")
    for sub in (SECURE, TLSONLY):
        fed.ndx("subsystem", "add", sub)
        fed.ndx("grant", "add", "--client", sub, "--service", F.CITIZENS, "--method", "GET")
    btc.subsystems = ["tax",
                      {"code": "secure", "connection": "tls-cert",
                       "certificates": [registered[0].name]},
                      {"code": "tlsonly", "connection": "tls"}]
    fed.tls_port = F.free_port()
    btc.write_config()
    cfg = json.loads(btc.config_path.read_text())
    cfg["consumer_tls_listen"] = f"127.0.0.1:{fed.tls_port}"
    btc.config_path.write_text(json.dumps(cfg, indent=2))
    # The TLS consumer port opens at start: restart rather than SIGHUP.
    btc.stop()
    btc.spawn().wait_ready()
    for gw in fed.gateways.values():
        fed.wait_conf(gw, fed.registry.conf_version())


@pytest.fixture(scope="module")
def fed(build_dir):
    with F.running_federation(build_dir, "ndx-consumer-auth-", setup=configure_tls) as f:
        yield f


def over_tls(fed, client, cert=None):
    ident = fed.idents["BTC"]
    ctx = F.tls_context(ident.ca_pem, *(cert or (None, None)))
    conn = http.client.HTTPSConnection("127.0.0.1", fed.tls_port, context=ctx, timeout=15)
    try:
        conn.request("GET", f"/r1/{F.CITIZENS}/citizens/1",
                     headers={"X-Road-Client": client, "X-Road-Id": "t-" + uuid.uuid4().hex})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def test_a_local_process_cannot_speak_as_a_subsystem_that_needs_tls(fed):
    for sub, kind in ((SECURE, "client certificates"), (TLSONLY, "TLS consumer port")):
        r = fed.call("BTC", "GET", F.CITIZENS, "/citizens/1", client=sub)
        refusals.check_response(r, "AuthenticationRequired", side="consumer")
        assert fed.citizens.received(r.request.headers["X-Road-Id"]) == []


def test_allowed_methods_of_a_tls_subsystem_are_not_told_on_the_plain_port(fed):
    """allowedMethods (PR-MREST 4) lists what a client may call: a local process on the
    plain port must not learn a TLS-only subsystem's grants by naming it."""
    url = fed.gateways["BTC"].url + "/r1/" + "/".join(F.CITIZENS.split("/")[:4])
    for sub in (SECURE, TLSONLY):
        r = requests.get(url + "/allowedMethods", timeout=10,
                           headers={"X-Road-Client": sub, "Accept": "application/json"})
        refusals.check_response(r, "AuthenticationRequired", side="consumer")
        assert "endpoint_list" not in r.text
    r = requests.get(url + "/allowedMethods", timeout=10,
                       headers={"X-Road-Client": F.TAX, "Accept": "application/json"})
    assert r.status_code == 200, r.text


def test_tls_cert_needs_the_registered_certificate(fed):
    for cert in (None, fed.stranger):
        status, hdrs, body = over_tls(fed, SECURE, cert)
        refusals.check(status, hdrs, body, "AuthenticationFailed", side="consumer")
    status, hdrs, body = over_tls(fed, SECURE, fed.registered)
    assert status == 200, body
    assert hdrs["x-road-client"] == SECURE


def test_tls_only_and_http_subsystems_over_the_tls_port(fed):
    status, _, body = over_tls(fed, TLSONLY)
    assert status == 200, body
    # A subsystem left at http may use either port.
    status, _, body = over_tls(fed, F.TAX)
    assert status == 200, body
    r = fed.call("BTC", "GET", F.CITIZENS, "/citizens/1")
    assert r.status_code == 200, r.text


def test_a_bad_connection_setting_stops_the_gateway_with_a_clear_error(fed):
    btc = fed.gateways["BTC"]
    cfg = json.loads(btc.config_path.read_text())
    for bad, says in (({"code": "secure", "connection": "tls-cert"}, "certificates"),
                      ({"code": "secure", "connection": "ssl"}, "connection"),
                      ({"code": "secure", "connection": "tls", "certificates": ["x.pem"]},
                       "certificates"),
                      ({"code": "secure", "connection": "tls-cert",
                        "certificates": ["missing.pem"]}, "missing.pem"),
                      ({"code": "secure", "colour": "blue"}, "colour")):
        cfg["subsystems"] = ["tax", bad]
        path = btc.dir / "bad.json"
        path.write_text(json.dumps(cfg))
        res = subprocess.run([str(F.gateway_exe(fed.build_dir)), "--config", str(path),
                              "--check"], capture_output=True, text=True, timeout=30)
        assert res.returncode != 0 and says in res.stderr, (bad, res.stderr)
    assert btc.healthz().status_code == 200  # the running gateway is untouched
