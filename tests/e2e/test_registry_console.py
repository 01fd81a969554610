"""End-to-end tests of the registry's web console (docs/console.md): officials sign
in through an e-ID (the OpenID Connect code flow with PKCE, against the test e-ID of
test_portal.py whose ID tokens the registry verifies) and the management API accepts
their session besides the bearer tokens.

Covered: `ndx-registry official add|remove|list` and their refusals; the sign-in round
trip (cookies HttpOnly and SameSite, the page and its assets served); a callback
without the browser's login cookie, or replayed, signs no one in; an unsigned visitor
gets 401 from /console/auth/me and the API; a citizen who is no official 403 on every
API call; an auditor reads and is refused every change with 403; an operator's change
without the session's CSRF token is refused, with it lands in the audit trail with the
person's subject and name and in the next configuration; removing an official takes
effect at their next request; the audit filters (actor, action, time) and their bad
input; the officials API; a console not configured answers 404 with what to give."""

import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

from conftest import Registry, registry_exe  # noqa: E402
from test_portal import CLIENT_ID, CLIENT_SECRET, FakeEid  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
OPERATOR = ("001085000101", "Nguyễn Văn Vận Hành")
AUDITOR = ("048088000303", "Lê Kiểm Toán")
CITIZEN = ("031095000404", "Phạm Công Dân")
TCT, BCA = "VN/GOV/TCT", "VN/GOV/BCA"
SERVICE = "VN/GOV/BCA/population/citizens"


def official(reg, *args):
    return subprocess.run([str(reg.exe), "official", *args, "--data", str(reg.data_dir)],
                          capture_output=True, text=True, timeout=30)


@pytest.fixture(scope="module")
def env(build_dir, tmp_path_factory):
    work = tmp_path_factory.mktemp("console")
    eid = FakeEid()
    secret = work / "client.secret"
    secret.write_text(CLIENT_SECRET + "\n")
    reg = Registry(registry_exe(build_dir), work, extra=[
        "--console-eid", eid.issuer, "--console-client", CLIENT_ID,
        "--console-secret-file", str(secret), "--web", str(ROOT / "web"),
        "--assets", str(ROOT / "node_modules" / "govuk-frontend" / "dist" / "govuk")])
    for who, role in ((OPERATOR, "operator"), (AUDITOR, "auditor")):
        r = official(reg, "add", who[0], "--name", who[1], "--role", role)
        assert r.returncode == 0, r.stderr
        assert r.stdout == f"official {who[1]} added ({role})\n"
    reg.start()
    for body in ({"id": TCT, "name": "Cục Thuế"}, {"id": BCA, "name": "Bộ Công an"}):
        assert reg.api("POST", "/api/members", json=body).status_code == 201
    for sub in (TCT + "/tax", BCA + "/population"):
        assert reg.api("POST", "/api/subsystems", json={"id": sub}).status_code == 201
    r = reg.api("POST", "/api/services", json={"id": SERVICE, "title": "Công dân",
                                                "personal": False, "purposes": []})
    assert r.status_code == 201, r.text
    reg.eid = eid
    try:
        yield reg
    finally:
        rc = reg.stop()
        eid.stop()
        assert rc == 0, reg.tail()


def sign_in(reg, who):
    reg.eid.user, reg.eid.mode = who, "good"
    s = requests.Session()
    r = s.get(reg.url + "/console/auth/login?next=/console/grants", timeout=20)
    assert r.status_code == 200, r.text
    assert urllib.parse.urlsplit(r.url).path == "/console/grants", r.url
    return s


def me(reg, s):
    return s.get(reg.url + "/console/auth/me", timeout=10)


def refused(r, status, detail=None):
    assert r.status_code == status, f"{r.status_code} {r.text}"
    if detail:
        assert detail in (r.json().get("detail") or ""), r.text


def test_official_commands(env):
    r = official(env, "list")
    assert r.returncode == 0
    assert r.stdout.splitlines() == [f"{OPERATOR[0]}\toperator\t{OPERATOR[1]}",
                                     f"{AUDITOR[0]}\tauditor\t{AUDITOR[1]}"]
    for args, text in ((("add", "12345", "--name", "X", "--role", "operator"), "PIN"),
                       (("add", CITIZEN[0], "--name", "X", "--role", "admin"), "--role"),
                       (("add", CITIZEN[0], "--role", "auditor"), "--name"),
                       (("remove", CITIZEN[0]), "no such official")):
        r = official(env, *args)
        assert r.returncode != 0 and text in r.stderr, (args, r.stderr)
    audit = env.api("GET", "/api/audit?action=official").json()["audit"]
    assert [(a["action"], a["object"], a["actor"]) for a in audit][-2:] == [
        ("official.add", AUDITOR[0], "cli"), ("official.add", OPERATOR[0], "cli")]


def test_sign_in_round_trip_and_pages(env):
    s = sign_in(env, OPERATOR)
    cookie = next(c for c in s.cookies if c.name == "ndx_console")
    assert cookie.has_nonstandard_attr("HttpOnly") and not cookie.secure
    r = me(env, s)
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    body = r.json()
    assert (body["subject"], body["name"], body["role"]) == (*OPERATOR, "operator")
    assert len(body["csrf"]) == 43
    # The redirect uri the registry gave the e-ID is its own callback.
    assert env.eid.redirect_uri == env.url + "/console/auth/callback"
    # Every console path is the page; its module and the design system are served.
    page = s.get(env.url + "/console/audit", timeout=10)
    assert page.status_code == 200 and "/console/main.mjs" in page.text
    # The one console page's module is the registry's.
    r = requests.get(env.url + "/console/main.mjs", timeout=10, allow_redirects=False)
    assert r.status_code == 302 and r.headers["Location"] == "/console/static/console.mjs"
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    for path in ("/console/static/console.mjs", "/console/static/console/grants.mjs",
                 "/console/assets/govuk/govuk-frontend.min.css"):
        assert requests.get(env.url + path, timeout=10).status_code == 200, path
    refused(requests.get(env.url + "/console/static/../../data/admin.token", timeout=10), 404)
    refused(requests.get(env.url + "/console/static/%2e%2e/README.md", timeout=10), 404)
    r = s.get(env.url + "/api/overview", timeout=10)
    assert r.status_code == 200, r.text
    o = r.json()
    assert o["counts"]["members"] == 2 and o["counts"]["services"] == 1
    assert o["conf_version"] == env.conf_version() and o["expires_at"] > o["generated_at"]


def test_login_csrf_and_replay(env):
    env.eid.user, env.eid.mode = OPERATOR, "good"
    s = requests.Session()
    r = s.get(env.url + "/console/auth/login", allow_redirects=False, timeout=10)
    assert r.status_code == 302
    assert r.headers["Set-Cookie"].endswith("; Path=/console/auth; HttpOnly; SameSite=Lax; Max-Age=600")
    # The e-ID's answer comes back, the session cookie is Strict.
    cb = requests.get(s.get(r.headers["Location"], allow_redirects=False, timeout=10)
                      .headers["Location"], allow_redirects=False, timeout=10,
                      cookies={c.name: c.value for c in s.cookies})
    assert any(h.startswith("ndx_console=") and h.endswith("; Path=/; HttpOnly; SameSite=Strict")
               for h in cb.raw.headers.getlist("Set-Cookie")), cb.raw.headers.getlist("Set-Cookie")
    r = s.get(env.url + "/console/auth/login", allow_redirects=False, timeout=10)
    r = s.get(r.headers["Location"], allow_redirects=False, timeout=10)
    callback = r.headers["Location"]
    # Another browser (no login cookie) opening the callback is not signed in.
    other = requests.Session()
    r = other.get(callback, allow_redirects=False, timeout=10)
    assert r.status_code == 302 and "error=state_invalid" in r.headers["Location"]
    assert not any(c.name == "ndx_console" for c in other.cookies)
    # The browser that started it is signed in, once: the same callback again
    # (its state already taken) signs no one in.
    r = s.get(callback, allow_redirects=False, timeout=10)
    assert r.status_code == 302 and r.headers["Location"] == "/console/", r.headers
    assert me(env, s).json()["subject"] == OPERATOR[0]
    r = s.get(callback, allow_redirects=False, timeout=10)
    assert "error=state_invalid" in r.headers["Location"]
    # A login cookie of another browser does not fit the state either.
    r = s.get(env.url + "/console/auth/login", allow_redirects=False, timeout=10)
    callback = s.get(r.headers["Location"], allow_redirects=False, timeout=10).headers["Location"]
    other.cookies.set("ndx_console_login", "B" * 43, path="/console/auth")
    r = other.get(callback, allow_redirects=False, timeout=10)
    assert "error=state_invalid" in r.headers["Location"]


def test_unsigned_and_citizen_refused(env):
    refused(requests.get(env.url + "/console/auth/me", timeout=10), 401)
    refused(requests.get(env.url + "/api/grants", timeout=10), 401)
    # A forged session cookie is no session.
    r = requests.get(env.url + "/api/grants", cookies={"ndx_console": "A" * 43}, timeout=10)
    refused(r, 401)
    s = sign_in(env, CITIZEN)
    r = me(env, s)
    assert r.status_code == 403 and r.json()["name"] == CITIZEN[1] and r.json()["role"] == ""
    refused(s.get(env.url + "/api/grants", timeout=10), 403, "not an official")
    csrf = r.json()["csrf"]
    refused(s.post(env.url + "/api/members", json={"id": "VN/GOV/X", "name": "x"},
                   headers={"X-CSRF-Token": csrf}, timeout=10), 403, "not an official")
    log = env.tail(400)
    assert "console refused GET /api/grants for a non-official session" in log
    assert CITIZEN[0] not in log  # no personal number in the log (T34)


def test_auditor_reads_only(env):
    s = sign_in(env, AUDITOR)
    csrf = me(env, s).json()["csrf"]
    assert s.get(env.url + "/api/grants", timeout=10).status_code == 200
    assert s.get(env.url + "/api/audit", timeout=10).status_code == 200
    before = env.conf_version()
    for method, path, body in (("POST", "/api/grants", {"client": TCT + "/tax", "service": SERVICE,
                                                         "methods": ["GET"]}),
                               ("DELETE", "/api/members/" + TCT, None),
                               ("POST", "/api/officials", {"subject": AUDITOR[0],
                                                           "name": "x", "role": "operator"})):
        r = s.request(method, env.url + path, json=body, headers={"X-CSRF-Token": csrf},
                      timeout=10)
        refused(r, 403, "an auditor reads only")
    assert env.conf_version() == before
    assert me(env, s).json()["role"] == "auditor"


def test_operator_change_needs_csrf_and_is_audited(env):
    s = sign_in(env, OPERATOR)
    csrf = me(env, s).json()["csrf"]
    grant = {"client": TCT + "/tax", "service": SERVICE, "methods": ["GET"], "paths": ["/citizens/*"]}
    before = env.conf_version()
    refused(s.post(env.url + "/api/grants", json=grant, timeout=10), 403, "CSRF")
    refused(s.post(env.url + "/api/grants", json=grant, headers={"X-CSRF-Token": "x" * 43},
                   timeout=10), 403, "CSRF")
    # A cookie sent with a bearer token is not what authenticates: the token is.
    refused(s.post(env.url + "/api/grants", json=grant, timeout=10,
                   headers={"Authorization": "Bearer wrong", "X-CSRF-Token": csrf}), 401)
    assert env.conf_version() == before
    r = s.post(env.url + "/api/grants", json=grant, headers={"X-CSRF-Token": csrf}, timeout=10)
    assert r.status_code == 201, r.text
    gid = r.json()["id"]
    assert r.json()["conf_version"] == before + 1
    conf = requests.get(env.url + "/conf", timeout=10).json()
    assert any(g["client"] == TCT + "/tax" and g["service"] == SERVICE
               for g in conf["grants"]), conf["grants"]
    r = s.delete(env.url + f"/api/grants/{gid}", headers={"X-CSRF-Token": csrf}, timeout=10)
    assert r.status_code == 200, r.text
    actor = f"official:{OPERATOR[0]} ({OPERATOR[1]})"
    audit = s.get(env.url + "/api/audit", params={"actor": OPERATOR[0], "action": "grant"},
                  timeout=10).json()["audit"]
    assert [(a["action"], a["object"], a["actor"]) for a in audit] == [
        ("grant.delete", str(gid), actor), ("grant.add", str(gid), actor)]
    assert audit[0]["remote"].startswith("127.0.0.1:")
    conf = requests.get(env.url + "/conf", timeout=10).json()
    assert not any(g["client"] == TCT + "/tax" for g in conf["grants"])


def test_audit_filters(env):
    api = env.api
    rows = api("GET", "/api/audit?action=member.add").json()["audit"]
    assert {a["object"] for a in rows} == {TCT, BCA}
    assert api("GET", "/api/audit?action=member").json()["audit"] == \
        api("GET", "/api/audit?action=member.add").json()["audit"]
    # "grant" is grant.add and grant.delete, never an action that only starts so.
    assert all(a["action"].startswith("grant.") for a in api("GET", "/api/audit?action=grant").json()["audit"])
    assert api("GET", "/api/audit?actor=%25").json()["audit"] == []  # a literal %, no wildcard
    assert api("GET", "/api/audit?until=2000-01-01T00:00:00Z").json()["audit"] == []
    every = api("GET", "/api/audit?limit=1000").json()["audit"]
    assert api("GET", "/api/audit?limit=1000&since=2000-01-01T00:00:00Z").json()["audit"] == every
    for q in ("since=yesterday", "until=2026-13-01T00:00:00Z", "actor=" + "a" * 300, "limit=0"):
        r = api("GET", "/api/audit?" + q)
        assert r.status_code == 400, (q, r.text)


def test_officials_api_and_removal(env):
    s = sign_in(env, OPERATOR)
    csrf = me(env, s).json()["csrf"]
    h = {"X-CSRF-Token": csrf}
    other = ("079190000202", "Trần Thị Kiểm")
    for bad in ({"subject": "123", "name": "x", "role": "auditor"},
                {"subject": other[0], "name": "x", "role": "root"},
                {"subject": other[0], "name": "x", "role": "auditor", "extra": 1}):
        refused(s.post(env.url + "/api/officials", json=bad, headers=h, timeout=10), 400)
    r = s.post(env.url + "/api/officials", json={"subject": other[0], "name": other[1],
                                                 "role": "auditor"}, headers=h, timeout=10)
    assert r.status_code == 201 and r.json()["role"] == "auditor", r.text
    them = sign_in(env, other)
    assert me(env, them).json()["role"] == "auditor"
    r = s.delete(env.url + f"/api/officials/{other[0]}", headers=h, timeout=10)
    assert r.status_code == 200, r.text
    # Their session is still a session, but no longer an official's.
    refused(them.get(env.url + "/api/grants", timeout=10), 403, "not an official")
    refused(s.delete(env.url + f"/api/officials/{other[0]}", headers=h, timeout=10), 404)
    actions = [(a["action"], a["actor"]) for a in
               env.api("GET", f"/api/audit?action=official&actor={OPERATOR[0]}").json()["audit"]]
    assert [a for a, _ in actions] == ["official.remove", "official.add"]
    # Sign-out ends the session at once.
    r = them.post(env.url + "/console/auth/logout", timeout=10)
    refused(r, 403)
    r = them.post(env.url + "/console/auth/logout", headers={"X-CSRF-Token": me(env, them).json()["csrf"]},
                  timeout=10)
    assert r.status_code == 200 and r.json()["logout_url"].startswith(env.eid.issuer + "/logout")
    refused(me(env, them), 401)


def test_cookies_secure_behind_https(build_dir, tmp_path):
    """With an https public URL (a TLS proxy in front) the console's cookies are Secure
    and the e-ID is told the https callback."""
    eid = FakeEid()
    secret = tmp_path / "client.secret"
    secret.write_text(CLIENT_SECRET + "\n")
    reg = Registry(registry_exe(build_dir), tmp_path, extra=[
        "--console-eid", eid.issuer, "--console-client", CLIENT_ID,
        "--console-secret-file", str(secret), "--public-url", "https://registry.example.vn"])
    try:
        reg.start()
        r = requests.get(reg.url + "/console/auth/login", allow_redirects=False, timeout=10)
        assert r.status_code == 302
        assert r.headers["Set-Cookie"].endswith("; SameSite=Lax; Max-Age=600; Secure")
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(r.headers["Location"]).query))
        assert q["redirect_uri"] == "https://registry.example.vn/console/auth/callback"
    finally:
        assert reg.stop() == 0, reg.tail()
        eid.stop()
    bad = subprocess.run([str(reg.exe), "serve", "--data", str(reg.data_dir), "--console-eid",
                          eid.issuer], capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2 and "together" in bad.stderr


def test_console_not_configured(registry):
    r = requests.get(registry.url + "/console/", timeout=10)
    refused(r, 404, "--console-eid")
    # Without a console a cookie is nothing: the API still wants its token.
    refused(requests.get(registry.url + "/api/grants", cookies={"ndx_console": "A" * 43},
                         timeout=10), 401)
