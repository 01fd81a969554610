"""ndx-id, the national e-ID (OpenID Connect provider), end to end.

A tiny population registry is seeded with ndx-sector, ndx-id gets accounts for
its first citizens and one registered client, and the tests speak HTTP to the
real process on loopback: discovery, JWKS (Ed25519 and RSA), the authorization
code flow with PKCE done by hand, ID token signature checks (EdDSA and RS256)
with python3-cryptography, the sid claim, refused request objects, and
the refusals (credentials, PKCE, codes, redirect URIs, client secrets,
throttling, logout), and the Argon2id work of an unknown PIN. Overview: docs/id.md.
"""

import base64
import hashlib
import json
import os
import re
import signal
import subprocess
import time
import urllib.parse

import pytest
import requests
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicNumbers

from conftest import free_port

PASSWORD = "mật khẩu thử nghiệm 2026"
CLIENT_ID = "portal"
CLIENT_SECRET = "portal-secret-0123456789abcdef"
RS_CLIENT_ID = "rp-rs256"
RS_CLIENT_SECRET = "rp-rs256-secret-0123456789abcdef"
REDIRECT = "http://127.0.0.1:9/callback"
POST_LOGOUT = "http://127.0.0.1:9/signed-out"
BAD_CREDENTIALS_VI = "Số định danh cá nhân hoặc mật khẩu không đúng"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def pkce():
    verifier = b64url(os.urandom(32))
    return verifier, b64url(hashlib.sha256(verifier.encode()).digest())


class Idp:
    def __init__(self, exe, data, issuer_port, stderr_path, code_lifetime=60, extra=()):
        self.exe = exe
        self.port = issuer_port
        self.url = f"http://127.0.0.1:{issuer_port}"
        self.stderr_path = stderr_path
        with open(stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                [str(exe), "serve", "--data", str(data), "--issuer", self.url,
                 "--listen", f"127.0.0.1:{issuer_port}", "--code-lifetime", str(code_lifetime),
                 *extra],
                stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log()
            try:
                if requests.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except requests.ConnectionError:
                time.sleep(0.05)
        pytest.fail("ndx-id did not start:\n" + self.log())

    def log(self):
        return self.stderr_path.read_text(errors="replace")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        assert self.proc.wait(timeout=10) == 0, self.log()


@pytest.fixture(scope="module")
def setup(build_dir, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("id")
    sector = build_dir / "src" / "sector" / "ndx-sector"
    exe = build_dir / "src" / "id" / "ndx-id"
    subprocess.run([str(sector), "seed", "--db-dir", str(tmp / "pop"), "--citizens", "20"],
                   check=True, capture_output=True, timeout=60)
    popdb = tmp / "pop" / "population.db"
    (tmp / "pw").write_text(PASSWORD + "\n")
    (tmp / "secret").write_text(CLIENT_SECRET + "\n")
    data = tmp / "data"
    run = lambda *a: subprocess.run([str(exe), *a], capture_output=True, text=True, timeout=60)
    r = run("init", "--data", str(data))
    assert r.returncode == 0, r.stderr
    assert (data / "id-sign.key").stat().st_mode & 0o777 == 0o600
    rsa_key = data / "id-sign-rs256.key"
    assert rsa_key.stat().st_mode & 0o777 == 0o600
    assert rsa_key.read_text().startswith("-----BEGIN PRIVATE KEY-----\n")  # PKCS#8
    r = run("accounts", "import", "--data", str(data), "--population-db", str(popdb),
            "--limit", "10", "--password-file", str(tmp / "pw"), "--cost", "min")
    assert r.returncode == 0, r.stderr
    assert "10 new" in r.stdout
    # Idempotent: a second import updates the same accounts.
    r = run("accounts", "import", "--data", str(data), "--population-db", str(popdb),
            "--limit", "10", "--password-file", str(tmp / "pw"), "--cost", "min")
    assert r.returncode == 0 and "0 new, 10 updated" in r.stdout, r.stdout + r.stderr
    r = run("client", "add", "--data", str(data), "--client-id", CLIENT_ID, "--secret-file",
            str(tmp / "secret"), "--redirect-uri", REDIRECT,
            "--post-logout-redirect-uri", POST_LOGOUT,
            "--client-name", "Dịch vụ Thử nghiệm", "--client-name-en", "Test Service")
    assert r.returncode == 0, r.stderr
    assert "ID tokens EdDSA" in r.stdout
    r = run("client", "add", "--data", str(data), "--client-id", "rp-bad", "--secret-file",
            str(tmp / "secret"), "--redirect-uri", REDIRECT, "--client-name", "A\u202eB")
    assert r.returncode != 0 and "--client-name" in r.stderr
    (tmp / "rs-secret").write_text(RS_CLIENT_SECRET + "\n")
    r = run("client", "add", "--data", str(data), "--client-id", RS_CLIENT_ID, "--secret-file",
            str(tmp / "rs-secret"), "--redirect-uri", REDIRECT,
            "--post-logout-redirect-uri", POST_LOGOUT, "--id-token-signed-response-alg", "RS256")
    assert r.returncode == 0 and "ID tokens RS256" in r.stdout, r.stdout + r.stderr
    r = run("client", "add", "--data", str(data), "--client-id", "rp-bad", "--secret-file",
            str(tmp / "rs-secret"), "--redirect-uri", REDIRECT,
            "--id-token-signed-response-alg", "HS256")
    assert r.returncode != 0 and "EdDSA or RS256" in r.stderr
    import sqlite3
    with sqlite3.connect(popdb) as db:
        citizens = db.execute("SELECT pin, full_name, birth_date, sex FROM citizens"
                              " ORDER BY pin").fetchall()
    return {"exe": exe, "data": data, "tmp": tmp, "citizens": citizens}


@pytest.fixture(scope="module")
def idp(setup):
    p = Idp(setup["exe"], setup["data"], free_port(), setup["tmp"] / "idp.stderr")
    yield p
    p.stop()


def authorize(session, idp, challenge, **extra):
    params = {"response_type": "code", "client_id": CLIENT_ID, "redirect_uri": REDIRECT,
              "scope": "openid profile", "state": "st-123", "nonce": "n-456",
              "code_challenge": challenge, "code_challenge_method": "S256"}
    params.update(extra)
    params = {k: v for k, v in params.items() if v is not None}
    return session.get(idp.url + "/authorize", params=params, allow_redirects=False, timeout=10)


def tx_of(page):
    m = re.search(r'name="tx" value="([^"]+)"', page.text)
    assert m, page.text
    return m.group(1)


def sign_in(session, idp, page, pin, password, lang="vi"):
    return session.post(idp.url + "/login", data={"tx": tx_of(page), "lang": lang, "pin": pin,
                                                  "password": password},
                        allow_redirects=False, timeout=10)


def code_from(resp):
    assert resp.status_code == 302, resp.text
    loc = urllib.parse.urlsplit(resp.headers["Location"])
    assert f"{loc.scheme}://{loc.netloc}{loc.path}" == REDIRECT
    return urllib.parse.parse_qs(loc.query)


def get_code(idp, pin, session=None):
    s = session or requests.Session()
    verifier, challenge = pkce()
    page = authorize(s, idp, challenge)
    assert page.status_code == 200
    q = code_from(sign_in(s, idp, page, pin, PASSWORD))
    return q["code"][0], verifier, s


def token(idp, code, verifier, auth=(CLIENT_ID, CLIENT_SECRET), **extra):
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
            "code_verifier": verifier}
    data.update(extra)
    data = {k: v for k, v in data.items() if v is not None}
    return requests.post(idp.url + "/token", data=data, auth=auth, timeout=10)


def b64url_int(text):
    return int.from_bytes(b64url_decode(text), "big")


def verify_jws(idp, jws):
    """Checks jws against the JWKS key its kid names, with the algorithm that key
    declares (a token may not pick another one for a key)."""
    keys = requests.get(idp.url + "/jwks.json", timeout=5).json()["keys"]
    header_b64, payload_b64, sig_b64 = jws.split(".")
    header = json.loads(b64url_decode(header_b64))
    key = next(k for k in keys if k["kid"] == header["kid"])
    assert header["alg"] == key["alg"]
    signed = f"{header_b64}.{payload_b64}".encode()
    if key["kty"] == "RSA":
        pub = RSAPublicNumbers(b64url_int(key["e"]), b64url_int(key["n"])).public_key()
        pub.verify(b64url_decode(sig_b64), signed, padding.PKCS1v15(), hashes.SHA256())
    else:
        pub = Ed25519PublicKey.from_public_bytes(b64url_decode(key["x"]))
        pub.verify(b64url_decode(sig_b64), signed)
    return header, json.loads(b64url_decode(payload_b64))


# ---- discovery and keys ------------------------------------------------------------


def test_discovery(idp):
    d = requests.get(idp.url + "/.well-known/openid-configuration", timeout=5).json()
    assert d["issuer"] == idp.url
    for ep, path in [("authorization_endpoint", "/authorize"), ("token_endpoint", "/token"),
                     ("userinfo_endpoint", "/userinfo"), ("jwks_uri", "/jwks.json"),
                     ("end_session_endpoint", "/logout")]:
        assert d[ep] == idp.url + path
    assert d["response_types_supported"] == ["code"]
    assert d["grant_types_supported"] == ["authorization_code"]
    assert d["subject_types_supported"] == ["public"]
    # OpenID Connect Discovery 1.0 section 3: RS256 MUST be among them.
    assert d["id_token_signing_alg_values_supported"] == ["EdDSA", "RS256"]
    assert d["request_parameter_supported"] is False
    assert d["request_uri_parameter_supported"] is False
    assert "sid" in d["claims_supported"]
    assert d["code_challenge_methods_supported"] == ["S256"]
    assert d["token_endpoint_auth_methods_supported"] == ["client_secret_basic",
                                                          "client_secret_post"]
    assert d["scopes_supported"] == ["openid", "profile"]
    assert {"sub", "name", "birthdate", "gender"} <= set(d["claims_supported"])


def test_jwks(idp):
    keys = requests.get(idp.url + "/jwks.json", timeout=5).json()["keys"]
    assert len(keys) == 2
    k = keys[0]
    assert k["kty"] == "OKP" and k["crv"] == "Ed25519" and k["alg"] == "EdDSA"
    assert len(b64url_decode(k["x"])) == 32 and len(k["kid"]) == 64
    assert "d" not in k
    r = keys[1]
    assert set(r) == {"kty", "n", "e", "kid", "use", "alg"}  # no private members
    assert r["kty"] == "RSA" and r["alg"] == "RS256" and r["use"] == "sig"
    assert b64url_int(r["e"]) == 65537
    assert b64url_int(r["n"]).bit_length() in (2048, 3072)
    assert not b64url_decode(r["n"]).startswith(b"\0")  # RFC 7518 6.3.1.1
    # The kid is the RFC 7638 thumbprint.
    canon = json.dumps({"e": r["e"], "kty": "RSA", "n": r["n"]}, separators=(",", ":"),
                       sort_keys=True)
    assert r["kid"] == b64url(hashlib.sha256(canon.encode()).digest())


# ---- the flow ------------------------------------------------------------------------


def test_code_flow(idp, setup):
    pin, name, birth, sex = setup["citizens"][0]
    s = requests.Session()
    verifier, challenge = pkce()
    page = authorize(s, idp, challenge)
    assert page.status_code == 200
    assert '<html lang="vi"' in page.text and "govuk-input" in page.text
    assert "Content-Security-Policy" in page.headers
    assert "script-src" not in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["Cache-Control"] == "no-store"
    r = sign_in(s, idp, page, pin, PASSWORD)
    q = code_from(r)
    assert q["state"] == ["st-123"] and q["iss"] == [idp.url]
    assert len(q["code"][0]) >= 43
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie

    t = token(idp, q["code"][0], verifier)
    assert t.status_code == 200, t.text
    assert t.headers["Cache-Control"] == "no-store"
    body = t.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 300
    header, claims = verify_jws(idp, body["id_token"])
    assert header["alg"] == "EdDSA"
    assert claims["iss"] == idp.url and claims["aud"] == CLIENT_ID
    assert claims["sub"] == pin and claims["nonce"] == "n-456"
    assert claims["name"] == name and claims["birthdate"] == birth
    assert claims["exp"] - claims["iat"] == 900
    assert abs(claims["auth_time"] - time.time()) < 30
    assert re.fullmatch(r"[0-9a-f]{64}", claims["sid"])
    assert claims["sid"] not in cookie  # names the session without opening it

    u = requests.get(idp.url + "/userinfo",
                     headers={"Authorization": "Bearer " + body["access_token"]}, timeout=5)
    assert u.status_code == 200
    assert u.json() == {"sub": pin, "name": name, "birthdate": birth, "gender": sex}

    # SSO: a second authorization in the same browser skips the form.
    verifier2, challenge2 = pkce()
    r2 = authorize(s, idp, challenge2, state="again")
    q2 = code_from(r2)
    assert q2["state"] == ["again"]
    t2 = token(idp, q2["code"][0], verifier2, auth=None, client_id=CLIENT_ID,
               client_secret=CLIENT_SECRET)  # client_secret_post
    assert t2.status_code == 200, t2.text
    claims2 = verify_jws(idp, t2.json()["id_token"])[1]
    assert claims2["auth_time"] == claims["auth_time"]
    assert claims2["sid"] == claims["sid"]  # the same SSO session


def test_rs256_client(idp, setup):
    """A client registered with RS256 gets RS256 ID tokens; within one SSO session
    both clients' tokens carry the same sid, a new sign-in gets a new one."""
    pin = setup["citizens"][9][0]
    s = requests.Session()
    verifier, challenge = pkce()
    page = authorize(s, idp, challenge, client_id=RS_CLIENT_ID)
    assert page.status_code == 200
    q = code_from(sign_in(s, idp, page, pin, PASSWORD))
    t = token(idp, q["code"][0], verifier, auth=(RS_CLIENT_ID, RS_CLIENT_SECRET))
    assert t.status_code == 200, t.text
    id_token = t.json()["id_token"]
    header, claims = verify_jws(idp, id_token)
    assert header == {"alg": "RS256", "typ": "JWT", "kid": header["kid"]}
    assert claims["aud"] == RS_CLIENT_ID and claims["sub"] == pin
    assert claims["nonce"] == "n-456" and claims["iss"] == idp.url
    assert re.fullmatch(r"[0-9a-f]{64}", claims["sid"])
    # A changed byte breaks the RSA signature.
    h, p, sig = id_token.split(".")
    forged = b64url(json.dumps({**claims, "sub": "000000000000"}).encode())
    with pytest.raises(InvalidSignature):
        verify_jws(idp, f"{h}.{forged}.{sig}")

    # The EdDSA client, in the same browser: SSO, EdDSA, the same sid.
    verifier, challenge = pkce()
    q = code_from(authorize(s, idp, challenge))
    t = token(idp, q["code"][0], verifier)
    header_ed, claims_ed = verify_jws(idp, t.json()["id_token"])
    assert header_ed["alg"] == "EdDSA"
    assert claims_ed["sid"] == claims["sid"]

    # prompt=login starts a new session: a new sid.
    verifier, challenge = pkce()
    page = authorize(s, idp, challenge, client_id=RS_CLIENT_ID, prompt="login")
    q = code_from(sign_in(s, idp, page, pin, PASSWORD))
    t = token(idp, q["code"][0], verifier, auth=(RS_CLIENT_ID, RS_CLIENT_SECRET))
    claims_new = verify_jws(idp, t.json()["id_token"])[1]
    assert claims_new["sid"] != claims["sid"]

    # An RS256 ID token is a valid id_token_hint at logout.
    r = s.get(idp.url + "/logout", params={"id_token_hint": t.json()["id_token"],
                                           "post_logout_redirect_uri": POST_LOGOUT},
              allow_redirects=False, timeout=5)
    assert r.status_code == 302 and r.headers["Location"] == POST_LOGOUT
    # ...but not one whose payload was changed.
    h, p, sig = t.json()["id_token"].split(".")
    r = s.get(idp.url + "/logout", params={"id_token_hint": f"{h}.{forged}.{sig}"},
              allow_redirects=False, timeout=5)
    assert r.status_code == 400


@pytest.mark.parametrize("param,error", [("request_uri", "request_uri_not_supported"),
                                         ("request", "request_not_supported")])
def test_request_objects_are_refused(idp, param, error):
    """OpenID Connect Core section 6: each with its own error, back to the client."""
    value = "urn:example:req" if param == "request_uri" else "eyJhbGciOiJub25lIn0.e30."
    r = authorize(requests.Session(), idp, pkce()[1], **{param: value})
    q = code_from(r)
    assert q["error"] == [error] and q["state"] == ["st-123"] and q["iss"] == [idp.url]
    assert "code" not in q


def test_older_data_dir_gets_an_rsa_key(setup, tmp_path):
    """A data directory made before RS256 (schema version 2, no RSA key) gets its
    RSA key at serve and its clients and codes the new columns: its clients keep
    EdDSA, and a client registered afterwards may ask for RS256."""
    import shutil
    import sqlite3
    data = tmp_path / "data"
    shutil.copytree(setup["data"], data)
    (data / "id-sign-rs256.key").unlink()
    with sqlite3.connect(data / "id.db") as db:
        db.executescript("ALTER TABLE clients DROP COLUMN id_token_alg;"
                         "ALTER TABLE clients DROP COLUMN client_name;"
                         "ALTER TABLE clients DROP COLUMN client_name_en;"
                         "ALTER TABLE codes DROP COLUMN sid;"
                         "DELETE FROM schema_migrations WHERE version > 2;")
    p = Idp(setup["exe"], data, free_port(), tmp_path / "idp.stderr")
    try:
        keys = requests.get(p.url + "/jwks.json", timeout=5).json()["keys"]
        assert [k["alg"] for k in keys] == ["EdDSA", "RS256"]
        assert (data / "id-sign-rs256.key").stat().st_mode & 0o777 == 0o600
        assert "created the RS256 signing key" in p.log()
        pin = setup["citizens"][7][0]
        for client_id, secret, alg in ((CLIENT_ID, CLIENT_SECRET, "EdDSA"),
                                       (RS_CLIENT_ID, RS_CLIENT_SECRET, "EdDSA")):
            s = requests.Session()
            verifier, challenge = pkce()
            page = authorize(s, p, challenge, client_id=client_id)
            q = code_from(sign_in(s, p, page, pin, PASSWORD))
            t = token(p, q["code"][0], verifier, auth=(client_id, secret))
            assert t.status_code == 200, t.text
            header, claims = verify_jws(p, t.json()["id_token"])
            assert header["alg"] == alg and "sid" in claims
    finally:
        p.stop()
    r = subprocess.run([str(setup["exe"]), "client", "add", "--data", str(data),
                        "--client-id", RS_CLIENT_ID, "--secret-file",
                        str(setup["tmp"] / "rs-secret"), "--redirect-uri", REDIRECT,
                        "--id-token-signed-response-alg", "RS256"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and "ID tokens RS256" in r.stdout, r.stderr


def test_english_page(idp):
    _, challenge = pkce()
    page = authorize(requests.Session(), idp, challenge, lang="en")
    assert page.status_code == 200
    assert '<html lang="en"' in page.text and "Sign in" in page.text
    # The switch to Vietnamese keeps the transaction.
    m = re.search(r'href="(/login\?tx=[^"]+)"', page.text)
    vi = requests.get(idp.url + m.group(1).replace("&amp;", "&"), timeout=5)
    assert vi.status_code == 200 and '<html lang="vi"' in vi.text


def test_ui_locales_client_name_and_back_link(idp):
    """OpenID Connect Core 1.0 §3.1.2.1 ui_locales: space-separated tags,
    most preferred first; the first the e-ID speaks wins. The page names
    the client by its registered name and links back to its origin."""
    _, challenge = pkce()
    for locales, want in (("en", "en"), ("vi", "vi"), ("fr en-GB vi", "en"), ("fr", "vi"),
                          ("vi-VN en", "vi")):
        page = authorize(requests.Session(), idp, challenge, ui_locales=locales)
        assert page.status_code == 200, locales
        assert f'<html lang="{want}"' in page.text, locales
    en = authorize(requests.Session(), idp, challenge, ui_locales="en")
    assert "<strong>Test Service</strong>" in en.text and CLIENT_ID not in en.text
    assert 'href="http://127.0.0.1:9/" class="govuk-back-link"' in en.text
    assert "Back to Test Service" in en.text
    vi = authorize(requests.Session(), idp, challenge, ui_locales="vi")
    assert "<strong>Dịch vụ Thử nghiệm</strong>" in vi.text and "Quay lại Dịch vụ Thử nghiệm" in vi.text
    # lang, the page's own switch, outranks ui_locales.
    assert '<html lang="vi"' in authorize(requests.Session(), idp, challenge, ui_locales="en", lang="vi").text


# ---- refusals ------------------------------------------------------------------------


def test_wrong_password_and_unknown_pin_look_the_same(idp, setup):
    pin = setup["citizens"][1][0]
    unknown = setup["citizens"][15][0]  # a citizen beyond --limit: no account
    s = requests.Session()
    _, challenge = pkce()
    page = authorize(s, idp, challenge)
    r1 = sign_in(s, idp, page, pin, "wrong password")
    r2 = sign_in(s, idp, page, unknown, PASSWORD)
    for r in (r1, r2):
        assert r.status_code == 401
        assert BAD_CREDENTIALS_VI in r.text
        assert "govuk-error-summary" in r.text
    strip = lambda t: t.replace(pin, "PIN").replace(unknown, "PIN")
    assert strip(r1.text) == strip(r2.text)
    log = idp.log()
    assert "wrong password" not in log and PASSWORD not in log
    assert pin not in log and unknown not in log
    assert "********" + pin[-4:] in log


def test_echoed_values_are_escaped(idp):
    s = requests.Session()
    _, challenge = pkce()
    page = authorize(s, idp, challenge)
    r = sign_in(s, idp, page, '"><script>alert(1)</script>', "x")
    assert r.status_code == 400
    assert "<script>" not in r.text and "&lt;script&gt;" in r.text
    # What was typed into the PIN field is not logged (it may be a password).
    assert "script" not in idp.log()


def test_pkce_required(idp):
    s = requests.Session()
    r = authorize(s, idp, None)
    q = code_from(r)
    assert q["error"] == ["invalid_request"] and q["state"] == ["st-123"]
    assert "code_challenge" in q["error_description"][0]
    q = code_from(authorize(s, idp, pkce()[1], code_challenge_method="plain"))
    assert q["error"] == ["invalid_request"]
    q = code_from(authorize(s, idp, "too-short"))
    assert q["error"] == ["invalid_request"]
    q = code_from(authorize(s, idp, pkce()[1], scope="profile"))
    assert q["error"] == ["invalid_scope"]
    q = code_from(authorize(s, idp, pkce()[1], response_type="token"))
    assert q["error"] == ["unsupported_response_type"]


def test_wrong_verifier(idp, setup):
    code, _, _ = get_code(idp, setup["citizens"][2][0])
    r = token(idp, code, pkce()[0])
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    r = token(idp, code, None)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def test_missing_verifier(idp, setup):
    code, _, _ = get_code(idp, setup["citizens"][2][0])
    r = token(idp, code, None)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def test_replayed_code_revokes_token(idp, setup):
    code, verifier, _ = get_code(idp, setup["citizens"][3][0])
    first = token(idp, code, verifier)
    assert first.status_code == 200
    at = first.json()["access_token"]
    ok = requests.get(idp.url + "/userinfo", headers={"Authorization": "Bearer " + at},
                      timeout=5)
    assert ok.status_code == 200
    again = token(idp, code, verifier)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    r = requests.get(idp.url + "/userinfo", headers={"Authorization": "Bearer " + at},
                     timeout=5)
    assert r.status_code == 401
    assert 'error="invalid_token"' in r.headers["WWW-Authenticate"]
    assert r.json()["error"] == "invalid_token"


def test_userinfo_bad_token(idp):
    r = requests.get(idp.url + "/userinfo", headers={"Authorization": "Bearer nope"}, timeout=5)
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
    r = requests.get(idp.url + "/userinfo", timeout=5)
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")


def test_expired_code(setup):
    p = Idp(setup["exe"], setup["data"], free_port(), setup["tmp"] / "short.stderr",
            code_lifetime=1)
    try:
        code, verifier, _ = get_code(p, setup["citizens"][4][0])
        time.sleep(2.2)
        r = token(p, code, verifier)
        assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
        assert "expired" in r.json()["error_description"]
    finally:
        p.stop()


def test_unregistered_redirect_uri_is_not_followed(idp):
    r = authorize(requests.Session(), idp, pkce()[1], redirect_uri="http://evil.example/cb")
    assert r.status_code == 400 and "Location" not in r.headers
    assert "text/html" in r.headers["Content-Type"]
    # Nor a prefix of a registered one, nor an unknown client.
    r = authorize(requests.Session(), idp, pkce()[1], redirect_uri=REDIRECT + "/x")
    assert r.status_code == 400 and "Location" not in r.headers
    r = authorize(requests.Session(), idp, pkce()[1], client_id="nobody")
    assert r.status_code == 400 and "Location" not in r.headers


def test_wrong_client_secret(idp, setup):
    code, verifier, _ = get_code(idp, setup["citizens"][4][0])
    r = token(idp, code, verifier, auth=(CLIENT_ID, "not-the-secret-at-all"))
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    r = token(idp, code, verifier, auth=None)
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"


def test_tampered_id_token_does_not_verify(idp, setup):
    code, verifier, _ = get_code(idp, setup["citizens"][5][0])
    jws = token(idp, code, verifier).json()["id_token"]
    h, p, sig = jws.split(".")
    claims = json.loads(b64url_decode(p))
    claims["sub"] = "079000000001"
    forged = f"{h}.{b64url(json.dumps(claims).encode())}.{sig}"
    with pytest.raises(InvalidSignature):
        verify_jws(idp, forged)
    verify_jws(idp, jws)  # the untouched one does


class SourceAdapter(requests.adapters.HTTPAdapter):
    """Connects from a chosen loopback address (all of 127.0.0.0/8 is on lo), so that
    a test can play an attacker at another source than the citizen's."""

    def __init__(self, source):
        self.source = source
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.source, 0)
        super().init_poolmanager(*args, **kwargs)


def session_from(source):
    s = requests.Session()
    s.mount("http://", SourceAdapter(source))
    return s


def guess_until_backed_off(s, idp, page, pins):
    """Wrong passwords from s, each for the next of pins, sleeping through waits of
    up to 2 s, until ndx-id asks for 3 s or more (the back-off's third step): returns
    how many were checked (401) and the last 429. At most len(pins) tries, about 3 s."""
    checked = 0
    for pin in pins:
        r = sign_in(s, idp, page, pin, "guess")
        if r.status_code == 401:
            checked += 1
            continue
        assert r.status_code == 429, r.text
        wait = int(r.headers["Retry-After"])
        assert 1 <= wait <= 900
        if wait >= 3:
            return checked, r
        time.sleep(wait)
    pytest.fail(f"no back-off after {checked} wrong passwords")


def test_strangers_cannot_lock_a_citizen_out(idp, setup):
    """Finding 4 of the attack (issue 14): five wrong passwords from anyone locked a
    citizen out for 15 minutes, the right password too, for ever if repeated. Now they
    slow the guesser down, by source and by PIN (Retry-After 1, 2, 4 … s after 5 for
    one PIN or 10 from one address), and the citizen at an address that has not been
    failing signs in with the right password."""
    pin = setup["citizens"][6][0]
    attacker = session_from("127.0.0.2")
    page = authorize(attacker, idp, pkce()[1])
    checked, r = guess_until_backed_off(attacker, idp, page, [pin] * 12)
    assert checked == 7, checked
    assert "Có quá nhiều lần đăng nhập sai" in r.text
    r = sign_in(attacker, idp, page, pin, PASSWORD)  # even the right password
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 2
    assert "Set-Cookie" not in r.headers
    code, _, _ = get_code(idp, pin, session_from("127.0.0.1"))  # the citizen
    assert code

    # Many PINs (with and without accounts) from one address: 10 free tries, then the
    # address waits whatever PIN it types.
    sprayer = session_from("127.0.0.3")
    page = authorize(sprayer, idp, pkce()[1])
    pins = [c[0] for c in setup["citizens"]]
    checked, _ = guess_until_backed_off(sprayer, idp, page, pins)
    assert checked == 12, checked
    assert sign_in(sprayer, idp, page, setup["citizens"][7][0], PASSWORD).status_code == 429
    code_from(sign_in(requests.Session(), idp, authorize(requests.Session(), idp,
                                                         pkce()[1]),
                      setup["citizens"][7][0], PASSWORD))
    log = idp.log()
    assert "throttled" in log and PASSWORD not in log


def test_behind_a_trusted_proxy_the_client_is_its_forwarded_address(idp, setup):
    """Behind a TLS reverse proxy (deploy/nginx/ndx-public.conf) every request comes from
    the proxy's address: ten wrong passwords from anyone would make every citizen wait.
    With --trusted-proxy the client is the last address of the proxy's X-Forwarded-For:
    the guesser backs off, a citizen coming through the same proxy from elsewhere signs
    in. From a peer that is not a trusted proxy, the header changes nothing: a guesser
    naming a new address on every try still backs off after ten."""
    proxy_idp = Idp(setup["exe"], setup["data"], free_port(), setup["tmp"] / "idp-proxy.stderr",
                    extra=("--trusted-proxy", "127.0.0.9", "--trusted-proxy", "::1"))
    try:
        pin = setup["citizens"][8][0]
        guesser = session_from("127.0.0.9")
        guesser.headers["X-Forwarded-For"] = "192.0.2.77, 203.0.113.5"
        page = authorize(guesser, proxy_idp, pkce()[1])
        pins = [c[0] for c in setup["citizens"]]
        checked, r = guess_until_backed_off(guesser, proxy_idp, page, pins)
        assert checked == 12, checked
        assert sign_in(guesser, proxy_idp, page, pin, PASSWORD).status_code == 429
        assert "failures from 203.0.113.5" in proxy_idp.log()
        # Another citizen through the same proxy: not made to wait.
        citizen = session_from("127.0.0.9")
        citizen.headers["X-Forwarded-For"] = "198.51.100.9"
        code_from(sign_in(citizen, proxy_idp, authorize(citizen, proxy_idp, pkce()[1]),
                          pin, PASSWORD))
    finally:
        proxy_idp.stop()

    # The ndx-id that trusts no proxy: the header is the client's own word.
    spoofer = session_from("127.0.0.10")
    page = authorize(spoofer, idp, pkce()[1])
    waited = None
    for i, p in enumerate([c[0] for c in setup["citizens"]]):
        spoofer.headers["X-Forwarded-For"] = f"198.51.100.{i + 20}"
        r = sign_in(spoofer, idp, page, p, "guess")
        if r.status_code == 429:
            waited = i
            break
        assert r.status_code == 401, r.text
    # After the tenth failure the source waits one second (whole seconds: the next try
    # may fall past it), so the 11th or at the latest the 12th try is the first refused.
    assert waited in (10, 11), waited


def peak_rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def argon2_memory_kib(pid, attempt):
    """How far one call of attempt() raised the process's peak resident memory: the
    Argon2id memory cost of the hash it computed (64 MiB are always mapped anew)."""
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")  # peak := current
    before = peak_rss_kib(pid)
    attempt()
    return peak_rss_kib(pid) - before


def test_unknown_pin_costs_an_account_s_argon2id(setup, tmp_path):
    """Finding 7 of the attack (issue 14), at the e-ID: an unknown PIN must cost the
    Argon2id of a real account. ndx-id took its dummy from an account at start, so one
    started before the accounts were imported checked unknown PINs with no hash at all.
    Now the dummy is the newest account's hash, read at each try. Asserted on the work
    (the memory Argon2id takes: 64 MiB at the default cost), not on time."""
    exe, data = setup["exe"], tmp_path / "data"
    run = lambda *a: subprocess.run([str(exe), *a], capture_output=True, text=True, timeout=60)
    assert run("init", "--data", str(data)).returncode == 0
    idp = Idp(exe, data, free_port(), tmp_path / "idp.stderr")
    try:
        r = run("accounts", "import", "--data", str(data), "--population-db",
                str(setup["tmp"] / "pop" / "population.db"), "--limit", "2",
                "--password-file", str(setup["tmp"] / "pw"))  # the default cost
        assert r.returncode == 0, r.stderr
        r = run("client", "add", "--data", str(data), "--client-id", CLIENT_ID,
                "--secret-file", str(setup["tmp"] / "secret"), "--redirect-uri", REDIRECT)
        assert r.returncode == 0, r.stderr
        s = session_from("127.0.0.5")
        page = authorize(s, idp, pkce()[1])
        attempt = lambda pin: lambda: (
            lambda r: r.status_code == 401 or pytest.fail(r.text))(
                sign_in(s, idp, page, pin, "guess"))
        known = argon2_memory_kib(idp.proc.pid, attempt(setup["citizens"][0][0]))
        unknown = argon2_memory_kib(idp.proc.pid, attempt(setup["citizens"][15][0]))
        assert known > 48 * 1024, known
        assert unknown > 48 * 1024, (unknown, known)
    finally:
        idp.stop()


def test_logout_ends_sso_session(idp, setup):
    code, verifier, s = get_code(idp, setup["citizens"][8][0])
    id_token = token(idp, code, verifier).json()["id_token"]
    old_cookie = s.cookies.get("ndx_id_session")
    assert old_cookie
    # An unregistered post-logout URI is refused without redirecting.
    r = s.get(idp.url + "/logout", params={"id_token_hint": id_token,
                                           "post_logout_redirect_uri": "http://evil.example/"},
              allow_redirects=False, timeout=5)
    assert r.status_code == 400 and "Location" not in r.headers
    r = s.get(idp.url + "/logout", params={"id_token_hint": id_token,
                                           "post_logout_redirect_uri": POST_LOGOUT,
                                           "state": "bye"},
              allow_redirects=False, timeout=5)
    assert r.status_code == 302
    assert r.headers["Location"] == POST_LOGOUT + "?state=bye"
    # The browser's next authorization shows the form again.
    page = authorize(s, idp, pkce()[1])
    assert page.status_code == 200 and 'name="password"' in page.text
    # Even a copy of the old cookie no longer works.
    s2 = requests.Session()
    s2.cookies.set("ndx_id_session", old_cookie)
    page = authorize(s2, idp, pkce()[1])
    assert page.status_code == 200 and 'name="password"' in page.text
    # Without a redirect URI the provider says so itself.
    r = requests.get(idp.url + "/logout", timeout=5)
    assert r.status_code == 200 and "đăng xuất" in r.text


def test_help_is_truthful(setup):
    for args in (["--help"], ["init", "--help"], ["accounts", "import", "--help"],
                 ["client", "add", "--help"], ["serve", "--help"]):
        r = subprocess.run([str(setup["exe"]), *args], capture_output=True, text=True,
                           timeout=10)
        assert r.returncode == 0 and "usage:" in r.stdout
