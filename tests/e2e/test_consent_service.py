"""End-to-end tests of the consent service (ndx-consent) and of consent services in the
registry: a real ndx-consent and ndx-registry on loopback. Consents and status lists
are verified here in Python (cryptography's Ed25519, zlib), with the key taken from the
registry's signed configuration, exactly as a gateway will (docs/protocol.md "Consent
artefacts", "Revocation")."""

import base64
import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import time
import zlib
from datetime import datetime, timedelta, timezone

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from conftest import free_port

ISSUER = "VN/GOV/BCA/consent"
CONSUMER = "VN/GOV/MOF/enterprise"
SERVICE = "VN/GOV/BCA/population/citizens"
SERVICE2 = "VN/GOV/BCA/population/households"
PIN = "001203004567"


def b64url(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def rfc3339(dt):
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_plus(**kw):
    return rfc3339(datetime.now(timezone.utc) + timedelta(**kw))


def verify_jws(text, raw_public_key):
    """Checks an EdDSA compact JWS with the raw key; returns (header, payload)."""
    h, p, s = text.split(".")
    ed25519.Ed25519PublicKey.from_public_bytes(raw_public_key).verify(
        b64url(s), f"{h}.{p}".encode())
    return json.loads(b64url(h)), json.loads(b64url(p))


class ConsentService:
    def __init__(self, exe, workdir, issuer=ISSUER):
        self.exe = str(exe)
        self.data_dir = workdir / "consent"
        self.stderr_path = workdir / "consent.stderr"
        init = subprocess.run([self.exe, "init", "--data", str(self.data_dir), "--id", issuer],
                              capture_output=True, text=True, timeout=30)
        assert init.returncode == 0, init.stderr
        self.token = (self.data_dir / "admin.token").read_text().strip()
        self.pub_pem = (self.data_dir / "consent-sign.pub").read_text()
        self.proc = None

    def start(self, *args):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                [self.exe, "serve", "--data", str(self.data_dir),
                 "--listen", f"127.0.0.1:{self.port}", *args], stdout=subprocess.DEVNULL,
                stderr=err)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.stderr_path.read_text()
            try:
                if requests.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.05)
        pytest.fail("ndx-consent did not start:\n" + self.stderr_path.read_text())

    def stop(self):
        if self.proc is None:
            return None
        proc, self.proc = self.proc, None
        proc.send_signal(signal.SIGTERM)
        return proc.wait(timeout=10)

    def api(self, method, path, token=None, **kw):
        headers = {"Authorization": f"Bearer {self.token if token is None else token}"}
        kw.setdefault("timeout", 10)
        return requests.request(method, self.url + path, headers=headers, **kw)

    def issue(self, **over):
        body = {"subject": PIN, "consumer": CONSUMER, "services": [SERVICE],
                "purpose": "public-service", "valid_to": now_plus(days=30)}
        body.update(over)
        return self.api("POST", "/api/consents", json=body)


@pytest.fixture
def consent(build_dir, tmp_path):
    cs = ConsentService(build_dir / "src" / "consent" / "ndx-consent", tmp_path).start()
    yield cs
    rc = cs.stop()
    assert rc == 0, cs.stderr_path.read_text()


def ok(resp, status):
    assert resp.status_code == status, f"{resp.status_code} {resp.text}"
    return resp.json() if resp.headers.get("Content-Type", "").startswith(
        "application/json") else resp.text


def refused(resp, status, error_type, detail=None):
    assert resp.status_code == status, f"{resp.status_code} {resp.text}"
    body = resp.json()
    assert body["type"] == error_type and resp.headers["X-Road-Error"] == error_type, body
    if detail:
        assert detail in body["detail"], body
    return body


def register(registry, consent):
    ok(registry.api("POST", "/api/members", json={"id": "VN/GOV/BCA", "name": "Bộ Công an"}),
       201)
    ok(registry.api("POST", "/api/subsystems", json={"id": ISSUER}), 201)
    return ok(registry.api("POST", "/api/consent-services",
                           json={"id": ISSUER, "url": consent.url,
                                 "sign_public_key": consent.pub_pem}), 201)


def status(consent, raw):
    """The verified status index, and each list it names, checked against its digest
    and decoded to its bits (draft-ietf-oauth-status-list section 4: bit i % 8 of byte
    i / 8)."""
    r = requests.get(consent.url + "/status", timeout=5)
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/jose", r.text
    header, index = verify_jws(r.text, raw)
    assert header["typ"] == "ndx-status-index+jwt"
    assert index["issuer"] == ISSUER and index["capacity"] == 1 << 20
    bits = []
    for n, entry in enumerate(index["lists"]):
        assert entry["list"] == n
        lr = requests.get(f"{consent.url}/status/{n}", timeout=5)
        assert lr.status_code == 200, lr.text
        assert hashlib.sha256(lr.content).hexdigest() == entry["sha256"]
        assert lr.headers["ETag"] == '"' + entry["sha256"] + '"'
        doc = lr.json()
        assert set(doc) == {"issuer", "list", "bits", "size", "lst"}
        assert doc["issuer"] == ISSUER and doc["list"] == n and doc["bits"] == 1
        raw_bits = zlib.decompress(b64url(doc["lst"]))
        assert len(raw_bits) == doc["size"] // 8 == (1 << 20) // 8
        bits.append(raw_bits)
    return index, bits


def revoked(bits, st):
    b = bits[st["list"]]
    return bool(b[st["idx"] // 8] >> (st["idx"] % 8) & 1)


def conf_consent_key(registry, issuer=ISSUER):
    conf = requests.get(registry.url + "/conf", timeout=5).json()
    for cs in conf["consent_services"]:
        if cs["id"] == issuer:
            return cs
    return None


# ---- registry: consent services ----------------------------------------------------------

def test_registry_consent_services(registry, consent):
    v0 = registry.conf_version()
    assert requests.get(registry.url + "/conf", timeout=5).json()["consent_services"] == []
    out = register(registry, consent)
    assert out["conf_version"] > v0 and out["id"] == ISSUER and out["url"] == consent.url
    raw = serialization.load_pem_public_key(consent.pub_pem.encode()).public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    cs = conf_consent_key(registry)
    assert cs == {"id": ISSUER, "url": consent.url, "sign_key":
                  base64.b64encode(raw).decode(), "sign_key_id": out["sign_key_id"]}
    assert requests.get(consent.url + "/healthz").json()["key_id"] == out["sign_key_id"]
    lst = ok(registry.api("GET", "/api/consent-services"), 200)["consent_services"]
    assert [x["id"] for x in lst] == [ISSUER]
    ok(registry.api("GET", "/api/consent-services/" + ISSUER), 200)
    # refusals
    body = {"id": ISSUER, "url": consent.url, "sign_public_key": consent.pub_pem}
    refused(registry.api("POST", "/api/consent-services", json=body), 409, "Client.Conflict")
    refused(registry.api("DELETE", "/api/subsystems/" + ISSUER), 409, "Client.Conflict",
            "consent service")
    for over, status, etype, detail in [
            ({"url": "http://10.0.0.5:4500"}, 400, "Client.InvalidRequest", "loopback"),
            ({"url": "ftp://127.0.0.1"}, 400, "Client.InvalidRequest", "https://"),
            ({"url": "https://user@host"}, 400, "Client.InvalidRequest", "url: "),
            ({"id": "VN/GOV/BCA/nope"}, 404, "Client.NotFound", "VN/GOV/BCA/nope"),
            ({"id": "VN/GOV/BCA"}, 400, "Client.InvalidRequest", "id"),
            ({"sign_public_key": "not a key"}, 400, "Client.InvalidRequest",
             "sign_public_key")]:
        b = dict(body, id="VN/GOV/BCA/other") if "id" not in over else dict(body)
        b.update(over)
        refused(registry.api("POST", "/api/consent-services", json=b), status, etype, detail)
    priv = (consent.data_dir / "consent-sign.key").read_text()
    refused(registry.api("POST", "/api/consent-services",
                         json=dict(body, sign_public_key=priv)), 400,
            "Client.InvalidRequest", "private key")
    # another service, with a key of its own (a key has one role)
    other_pem = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    https = dict(body, id="VN/GOV/BCA/consent2", url="https://consent.example.vn",
                 sign_public_key=other_pem)
    ok(registry.api("POST", "/api/subsystems", json={"id": "VN/GOV/BCA/consent2"}), 201)
    ok(registry.api("POST", "/api/consent-services", json=https), 201)
    refused(registry.api("GET", "/api/consent-services", token="wrong"), 401,
            "Client.Unauthorized")
    # removal
    v1 = registry.conf_version()
    out = ok(registry.api("DELETE", "/api/consent-services/VN/GOV/BCA/consent2"), 200)
    assert out["conf_version"] == v1 + 1
    refused(registry.api("DELETE", "/api/consent-services/VN/GOV/BCA/consent2"), 404,
            "Client.NotFound")
    assert conf_consent_key(registry, "VN/GOV/BCA/consent2") is None
    actions = [a["action"] for a in ok(registry.api("GET", "/api/audit"), 200)["audit"]]
    assert "consent_service.add" in actions and "consent_service.delete" in actions


# ---- issuing and verifying ----------------------------------------------------------------

def test_issue_and_verify_with_conf_key(registry, consent):
    register(registry, consent)
    cs = conf_consent_key(registry)
    raw = base64.b64decode(cs["sign_key"])
    out = ok(consent.issue(services=[SERVICE, SERVICE2]), 201)
    header, payload = verify_jws(out["consent"], raw)
    assert header == {"alg": "EdDSA", "kid": cs["sign_key_id"], "typ": "ndx-consent+jwt"}
    assert payload["iss"] == ISSUER and payload["jti"] == out["jti"]
    assert payload["sub"] == PIN and payload["consumer"] == CONSUMER
    assert payload["services"] == [SERVICE, SERVICE2]
    assert payload["purpose"] == "public-service" and payload["ver"] == 2
    assert set(payload["status"]) == {"list", "idx"} and payload["status"]["list"] == 0
    assert payload["nbf"] <= time.time() < payload["exp"]
    assert abs(payload["exp"] - payload["nbf"] - 30 * 86400) < 5
    # a tampered consent does not verify
    h, p, s = out["consent"].split(".")
    forged = json.loads(b64url(p))
    forged["sub"] = "999999999999"
    p2 = base64.urlsafe_b64encode(json.dumps(forged).encode()).decode().rstrip("=")
    with pytest.raises(Exception):
        verify_jws(f"{h}.{p2}.{s}", raw)
    # an explicit start is kept
    start = now_plus(days=2)
    out = ok(consent.issue(valid_from=start, valid_to=now_plus(days=10)), 201)
    assert out["valid_from"] == start
    lst = ok(consent.api("GET", f"/api/consents?subject={PIN}"), 200)["consents"]
    assert {c["jti"]: c["status"] for c in lst}[out["jti"]] == "pending"


def test_list_revoke_and_status_list(registry, consent):
    register(registry, consent)
    raw = base64.b64decode(conf_consent_key(registry)["sign_key"])
    index0 = verify_jws(requests.get(consent.url + "/status", timeout=5).text, raw)[1]
    assert index0["lists"] == []  # nothing issued yet
    issued = [ok(consent.issue(), 201), ok(consent.issue(purpose="tax-audit"), 201),
              ok(consent.issue(subject="079099000001"), 201)]
    st = {c["jti"]: verify_jws(c["consent"], raw)[1]["status"] for c in issued}
    a, b, other = (c["jti"] for c in issued)
    # every consent its own index, handed out in order
    assert [st[j]["idx"] for j in (a, b, other)] == [0, 1, 2]
    lst = ok(consent.api("GET", f"/api/consents?subject={PIN}"), 200)
    assert lst["subject"] == PIN
    assert {c["jti"]: c["status"] for c in lst["consents"]} == {a: "active", b: "active"}
    rl0, bits0 = status(consent, raw)
    assert len(rl0["lists"]) == 1 and not any(revoked(bits0, s) for s in st.values())
    out = ok(consent.api("POST", f"/api/consents/{a}/revoke"), 200)
    assert out["status"] == "revoked" and out["revocation_version"] == rl0["version"] + 1
    # at once in its own list
    lst = ok(consent.api("GET", f"/api/consents?subject={PIN}"), 200)["consents"]
    by = {c["jti"]: c for c in lst}
    assert by[a]["status"] == "revoked" and by[a]["revoked_at"] and by[b]["status"] == "active"
    rl1, bits1 = status(consent, raw)
    assert rl1["version"] > rl0["version"] and rl1["lists"][0]["sha256"] != rl0["lists"][0][
        "sha256"]
    assert [revoked(bits1, st[j]) for j in (a, b, other)] == [True, False, False]
    assert datetime.strptime(rl1["generated_at"], "%Y-%m-%dT%H:%M:%SZ")
    # an unchanged list: the same bytes, and 304 to If-None-Match
    etag = '"' + rl1["lists"][0]["sha256"] + '"'
    r = requests.get(consent.url + "/status/0", headers={"If-None-Match": etag}, timeout=5)
    assert r.status_code == 304 and r.content == b""
    ok(consent.api("POST", f"/api/consents/{other}/revoke"), 200)
    rl2, bits2 = status(consent, raw)
    assert rl2["version"] == rl1["version"] + 1
    assert [revoked(bits2, st[j]) for j in (a, b, other)] == [True, False, True]
    refused(consent.api("POST", f"/api/consents/{a}/revoke"), 409, "Client.Conflict")
    refused(consent.api("POST", "/api/consents/no-such-consent/revoke"), 404,
            "Client.NotFound")
    refused(consent.api("POST", "/api/consents/bad%20id/revoke"), 400,
            "Client.InvalidRequest")
    refused(consent.api("GET", f"/api/consents/{b}/revoke"), 405, "Client.MethodNotAllowed")
    for path in ("/status/1", "/status/01", "/status/-1", "/status/x", "/status/",
                 "/status/99999999999999999999", "/revocations"):
        refused(requests.get(consent.url + path, timeout=5), 404, "Client.NotFound")
    # the lists survive a restart, version and all
    assert consent.stop() == 0
    consent.start()
    rl3, bits3 = status(consent, raw)
    assert rl3["version"] == rl2["version"] and bits3 == bits2
    assert rl3["lists"] == rl2["lists"]


def test_a_full_list_is_followed_by_a_new_one(registry, consent):
    """Lists hold 2^20 indexes: the consent after the last index of list 0 is index 0 of
    list 1, and the index names both (the store is set just below the boundary)."""
    register(registry, consent)
    raw = base64.b64decode(conf_consent_key(registry)["sign_key"])
    assert consent.stop() == 0
    db = sqlite3.connect(consent.data_dir / "consent.db")
    with db:
        db.execute("UPDATE meta SET value = ? WHERE key = 'status_next'", (str((1 << 20) - 1),))
    db.close()
    consent.start()
    last = ok(consent.issue(), 201)
    first = ok(consent.issue(), 201)
    assert verify_jws(last["consent"], raw)[1]["status"] == {"list": 0, "idx": (1 << 20) - 1}
    assert verify_jws(first["consent"], raw)[1]["status"] == {"list": 1, "idx": 0}
    ok(consent.api("POST", f"/api/consents/{first['jti']}/revoke"), 200)
    index, bits = status(consent, raw)
    assert len(index["lists"]) == 2
    assert revoked(bits, {"list": 1, "idx": 0}) and not revoked(bits, {"list": 0,
                                                                       "idx": (1 << 20) - 1})
    assert not any(bits[0])


def test_one_subject_is_rate_limited_and_others_are_not(consent):
    """The attack of issue 14 finding 1 against the service alone: one subject loops
    issue/revoke. After the burst (20 actions) it gets 429 with Retry-After, without
    its number in the answer; another subject, in the middle of it, is served."""
    actions = 0
    limited = None
    t0 = time.monotonic()
    for _ in range(30):  # bounded: at most 60 requests
        r = consent.issue()
        if r.status_code == 429:
            limited = r
            break
        actions += 1
        jti = ok(r, 201)["jti"]
        r = consent.api("POST", f"/api/consents/{jti}/revoke")
        if r.status_code == 429:
            limited = r
            break
        ok(r, 200)
        actions += 1
    assert time.monotonic() - t0 < 30
    assert limited is not None and actions == 20, actions
    body = refused(limited, 429, "Client.TooManyRequests")
    assert PIN not in limited.text
    assert 1 <= int(limited.headers["Retry-After"]) <= 60, limited.headers
    # still limited for this subject, for issuing and for revoking
    refused(consent.issue(), 429, "Client.TooManyRequests")
    # every other citizen is served as before
    for pin in ("079099000001", "001203004568"):
        c = ok(consent.issue(subject=pin), 201)
        ok(consent.api("POST", f"/api/consents/{c['jti']}/revoke"), 200)
    assert body["detail"] and "try again" in body["detail"]


REFUSALS = [
    ({"subject": "12345"}, "subject"),
    ({"subject": "00120300456a"}, "subject"),
    ({"subject": None}, "subject"),
    ({"purpose": "Public Service"}, "purpose"),
    ({"purpose": ""}, "purpose"),
    ({"purpose": "x" * 65}, "purpose"),
    ({"valid_to": "2020-01-01T00:00:00Z"}, "past"),
    ({"valid_to": "tomorrow"}, "valid_to"),
    ({"valid_to": None}, "valid_to"),
    ({"valid_from": "2031-01-01T00:00:00Z", "valid_to": "2030-01-01T00:00:00Z"},
     "after valid_from"),
    ({"valid_to": "2099-01-01T00:00:00Z"}, "at most 366 days"),
    ({"consumer": "VN/GOV/MOF"}, "consumer"),
    ({"consumer": "LA/GOV/MOF/enterprise"}, "instance LA"),
    ({"services": []}, "services"),
    ({"services": [SERVICE, SERVICE]}, "appears twice"),
    ({"services": [f"{SERVICE}{i}" for i in range(17)]}, "services"),
    ({"services": ["VN/GOV/BCA/population"]}, "services[0]"),
]


@pytest.mark.parametrize("over,detail", REFUSALS)
def test_issue_refusals(consent, over, detail):
    body = refused(consent.issue(**over), 400, "Client.InvalidRequest", detail)
    assert PIN not in body["detail"]


def test_auth_and_malformed(consent):
    for token in ("", "wrong"):
        refused(consent.api("POST", "/api/consents", token=token,
                            json={"subject": PIN}), 401, "Client.Unauthorized")
    r = requests.post(consent.url + "/api/consents", json={}, timeout=5)
    refused(r, 401, "Client.Unauthorized")
    refused(requests.get(consent.url + f"/api/consents?subject={PIN}"), 401,
            "Client.Unauthorized")
    refused(consent.api("POST", "/api/consents", data="{not json"), 400,
            "Client.InvalidRequest")
    refused(consent.api("GET", "/api/consents"), 400, "Client.InvalidRequest", "subject")
    refused(consent.api("GET", "/api/consents?subject=12"), 400, "Client.InvalidRequest")
    refused(consent.api("DELETE", "/api/consents"), 405, "Client.MethodNotAllowed")
    refused(requests.post(consent.url + "/status"), 405, "Client.MethodNotAllowed")
    refused(requests.post(consent.url + "/status/0"), 405, "Client.MethodNotAllowed")
    refused(requests.get(consent.url + "/nope"), 404, "Client.NotFound")
    # the access log never carries the subject's number
    assert PIN not in consent.stderr_path.read_text()


# ---- the ndx CLI ---------------------------------------------------------------------------

def run_ndx(build_dir, *args, env=None):
    e = dict(os.environ)
    e.pop("NDX_TOKEN_FILE", None)
    e.update(env or {})
    return subprocess.run([str(build_dir / "src" / "cli" / "ndx"), *args],
                          capture_output=True, text=True, timeout=30, env=e)


def test_cli_round_trip(build_dir, registry, consent):
    ok(registry.api("POST", "/api/members", json={"id": "VN/GOV/BCA", "name": "Bộ Công an"}),
       201)
    ok(registry.api("POST", "/api/subsystems", json={"id": ISSUER}), 201)
    reg = {"NDX_REGISTRY": registry.url, "NDX_ADMIN_TOKEN": registry.token}
    pub = str(consent.data_dir / "consent-sign.pub")
    r = run_ndx(build_dir, "consent-service", "add", ISSUER, "--url", consent.url,
                "--sign-key", pub, env=reg)
    assert r.returncode == 0, r.stderr
    assert "added consent service " + ISSUER in r.stdout
    r = run_ndx(build_dir, "consent-service", "list", env=reg)
    assert r.returncode == 0 and ISSUER in r.stdout and consent.url in r.stdout
    assert conf_consent_key(registry) is not None

    svc = {"NDX_CONSENT_URL": consent.url, "NDX_CONSENT_TOKEN": consent.token}
    r = run_ndx(build_dir, "consent", "grant", "--subject", PIN, "--consumer", CONSUMER,
                "--service", SERVICE, "--service", SERVICE2, "--purpose", "public-service",
                "--days", "7", "--json", env=svc)
    assert r.returncode == 0, r.stderr
    granted = json.loads(r.stdout)
    raw = base64.b64decode(conf_consent_key(registry)["sign_key"])
    _, payload = verify_jws(granted["consent"], raw)
    assert payload["services"] == [SERVICE, SERVICE2]
    assert abs(payload["exp"] - payload["nbf"] - 7 * 86400) < 5
    tokfile = consent.data_dir / "admin.token"
    r = run_ndx(build_dir, "consent", "list", "--service-url", consent.url, "--token-file",
                str(tokfile), "--subject", PIN)
    assert r.returncode == 0, r.stderr
    assert granted["jti"] in r.stdout and "active" in r.stdout
    r = run_ndx(build_dir, "consent", "revoke", granted["jti"], env=svc)
    assert r.returncode == 0, r.stderr
    assert "revoked consent " + granted["jti"] in r.stdout
    r = run_ndx(build_dir, "consent", "list", "--subject", PIN, "--json", env=svc)
    assert json.loads(r.stdout)["consents"][0]["status"] == "revoked"
    # refusals come back as one readable line
    r = run_ndx(build_dir, "consent", "grant", "--subject", "123", "--consumer", CONSUMER,
                "--service", SERVICE, "--purpose", "p", "--days", "7", env=svc)
    assert r.returncode == 1 and "400 Client.InvalidRequest" in r.stderr
    r = run_ndx(build_dir, "consent", "list", "--subject", PIN,
                env={"NDX_CONSENT_URL": consent.url, "NDX_CONSENT_TOKEN": ""})
    assert r.returncode == 1 and "NDX_CONSENT_TOKEN" in r.stderr
    r = run_ndx(build_dir, "consent", "grant", "--subject", PIN, env=svc)
    assert r.returncode == 2
    r = run_ndx(build_dir, "consent-service", "remove", ISSUER, env=reg)
    assert r.returncode == 0, r.stderr
    assert conf_consent_key(registry) is None
