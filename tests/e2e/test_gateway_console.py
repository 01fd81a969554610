"""End-to-end tests of a gateway's web console (docs/gateway-console.md) with real
processes: a registry, three gateways (federation.py), BCA's with "console" in its
configuration file, and a test e-ID (test_portal.py's FakeEid) its officials sign in
with (OpenID Connect code flow with PKCE).

Covered: the console is off unless configured (`--check` says so; the exchange ports
never serve it); sign-in round trip and the roles of the officials file, read at every
request; an unsigned visitor 401, a citizen who is no official 403 on every call; an
auditor reads every page, runs a verify of the message log and the connection test, and
is refused maintenance (403); an administrator's change without the CSRF token is
refused; maintenance on refuses a new exchange with its own error on both ports (and
/healthz says so) while an exchange in flight finishes, and off lets them through again;
every change is in the change journal with the official's subject and name; the
connection test reports good peers as good, an unstarted one as unreachable, and, once
the registry revokes a peer's TLS certificate, that peer's certificate as revoked."""

import json
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

import federation  # noqa: E402
import refusals  # noqa: E402
from conftest import free_port  # noqa: E402
from federation import BCA, CITIZENS, ECHO, POPULATION, running_federation  # noqa: E402
from test_portal import CLIENT_ID, CLIENT_SECRET, FakeEid  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
ADMIN = ("001085000202", "Trần Quản Trị")
AUDITOR = ("048088000303", "Lê Kiểm Toán")
CITIZEN = ("031095000404", "Phạm Công Dân")
EID = None  # the test e-ID, made by the module's fixture


def officials_doc(*entries):
    return {"officials": [{"subject": s, "name": n, "role": r} for (s, n), r in entries]}


class ConsoleGateway(federation.Gateway):
    """BCA's gateway with its console on a loopback port of its own."""

    def write_config(self):
        super().write_config()
        if self.member != BCA:
            return
        self.console_port = free_port()
        (self.dir / "console.secret").write_text(CLIENT_SECRET + "\n")
        (self.dir / "officials.json").write_text(json.dumps(
            officials_doc((ADMIN, "administrator"), (AUDITOR, "auditor")), ensure_ascii=False))
        cfg = json.loads(self.config_path.read_text())
        cfg["console"] = {
            "listen": f"127.0.0.1:{self.console_port}", "eid": EID.issuer,
            "client_id": CLIENT_ID, "client_secret_file": "console.secret",
            "officials": "officials.json", "web": str(ROOT / "web"),
            "assets": str(ROOT / "node_modules" / "govuk-frontend" / "dist" / "govuk"),
        }
        self.config_path.write_text(json.dumps(cfg, indent=2, ensure_ascii=False))

    @property
    def console_url(self):
        return f"http://127.0.0.1:{self.console_port}"


@pytest.fixture(scope="module")
def fed(build_dir):
    global EID
    EID = FakeEid()
    try:
        with running_federation(build_dir, "ndx-gwconsole-", gateway_class=ConsoleGateway,
                                federation_kw={"echo_timeout_ms": 10000}) as f:
            f.bca = f.gateways["BCA"]
            yield f
    finally:
        EID.stop()


def sign_in(fed, who):
    EID.user, EID.mode = who, "good"
    s = requests.Session()
    r = s.get(fed.bca.console_url + "/console/auth/login?next=/console/peers", timeout=20)
    assert r.status_code == 200, r.text
    assert urllib.parse.urlsplit(r.url).path == "/console/peers", r.url
    assert EID.redirect_uri == fed.bca.console_url + "/console/auth/callback"
    return s


def me(fed, s):
    return s.get(fed.bca.console_url + "/console/auth/me", timeout=10)


def api(fed, s, method, path, csrf=None, **kw):
    headers = {"X-CSRF-Token": csrf} if csrf else {}
    return s.request(method, fed.bca.console_url + "/console/api" + path, headers=headers,
                     timeout=60, **kw)


def refused(r, status, detail=None):
    assert r.status_code == status, f"{r.status_code} {r.text}"
    if detail:
        assert detail in (r.json().get("detail") or ""), r.text


READS = ("/overview", "/services", "/log", "/maintenance", "/changes")


def test_console_is_off_unless_configured_and_never_on_an_exchange_port(fed, build_dir):
    exe = federation.gateway_exe(build_dir)
    out = subprocess.run([str(exe), "--config", str(fed.gateways["BTC"].config_path), "--check"],
                         capture_output=True, text=True, timeout=30).stdout
    assert "  console             off" in out, out
    out = subprocess.run([str(exe), "--config", str(fed.bca.config_path), "--check"],
                         capture_output=True, text=True, timeout=30).stdout
    assert f"console             http://127.0.0.1:{fed.bca.console_port}/console/" in out, out
    assert "console officials   2" in out, out
    # The consumer port is an exchange port: no console there.
    r = requests.get(fed.bca.url + "/console/auth/me", timeout=10)
    assert r.status_code == 400 and "NotExchange" in r.json()["detail"], r.text
    assert "console.listen" in subprocess.run([str(exe), "--help"], capture_output=True,
                                              text=True, timeout=30).stdout


def test_console_config_is_checked(fed, build_dir):
    """"console" in the file (docs/gateway.md): its required keys, its listen address and
    public URL are refused when the file is read; --check refuses an officials file that
    does not read and a secret file it cannot read."""
    exe = federation.gateway_exe(build_dir)
    base = json.loads(fed.bca.config_path.read_text())
    (fed.bca.dir / "officials-bad.json").write_text(json.dumps(
        officials_doc((("1234", "X"), "administrator"))))
    cases = (
        ({"eid": None}, "console.eid: required"),
        ({"listen": "nowhere"}, "console.listen"),
        ({"public_url": "ftp://x"}, "console.public_url: expected an http"),
        ({"officials": "officials-bad.json"}, "officials[0]: expected a 12-digit subject"),
        ({"officials": "missing.json"}, "missing or unreadable"),
        ({"client_secret_file": "missing.secret"}, "console.client_secret_file"),
    )
    for change, says in cases:
        cfg = json.loads(json.dumps(base))
        cfg["console"].update(change)
        cfg["console"] = {k: v for k, v in cfg["console"].items() if v is not None}
        path = fed.bca.dir / "console-check.json"
        path.write_text(json.dumps(cfg))
        res = subprocess.run([str(exe), "--config", str(path), "--check"],
                             capture_output=True, text=True, timeout=30)
        assert res.returncode == 1, (change, res.stdout + res.stderr)
        assert says in res.stdout + res.stderr, (change, res.stdout + res.stderr)
    cfg = dict(base, console="on")
    path.write_text(json.dumps(cfg))
    res = subprocess.run([str(exe), "--config", str(path), "--check"], capture_output=True,
                         text=True, timeout=30)
    assert res.returncode == 1 and "console: expected an object" in res.stdout + res.stderr


def test_sign_in_round_trip_and_pages(fed):
    s = sign_in(fed, ADMIN)
    cookie = next(c for c in s.cookies if c.name == "ndx_console")
    assert cookie.has_nonstandard_attr("HttpOnly") and not cookie.secure
    body = me(fed, s).json()
    assert (body["subject"], body["name"], body["role"]) == (*ADMIN, "administrator")
    page = s.get(fed.bca.console_url + "/console/maintenance", timeout=10)
    assert page.status_code == 200 and "/console/main.mjs" in page.text
    r = s.get(fed.bca.console_url + "/console/main.mjs", timeout=10, allow_redirects=False)
    assert r.status_code == 302
    assert r.headers["Location"] == "/console/static/gateway-console.mjs"
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    mod = s.get(fed.bca.console_url + "/console/static/gwconsole/peers.mjs", timeout=10)
    assert mod.status_code == 200 and "javascript" in mod.headers["Content-Type"]
    o = api(fed, s, "GET", "/overview").json()
    assert o["gateway"]["name"] == f"{BCA}/gw1"
    assert o["conf"]["version"] >= 1 and o["conf"]["valid"] is True
    assert o["maintenance"] == {"on": False, "since": None, "by": None}
    svc = api(fed, s, "GET", "/services").json()
    assert [x["id"] for x in svc["subsystems"]] == [POPULATION]
    assert {x["id"]: x["registered"] for x in svc["services"]} == {CITIZENS: True, ECHO: True}
    assert {(g["client"], g["service"]) for g in svc["grants_given"]} == {
        (federation.TAX, CITIZENS), (federation.TAX, ECHO)}
    assert svc["grants_held"] == []


def test_unsigned_and_citizen_are_refused(fed):
    for path in READS:
        refused(requests.get(fed.bca.console_url + "/console/api" + path, timeout=10), 401)
    s = sign_in(fed, CITIZEN)
    r = me(fed, s)
    assert r.status_code == 403 and r.json()["name"] == CITIZEN[1]
    csrf = r.json()["csrf"]
    for path in READS:
        refused(api(fed, s, "GET", path), 403, "not an official of this gateway")
    for path in ("/maintenance", "/log/verify", "/peers/test"):
        refused(api(fed, s, "POST", path, csrf, json={"on": True}), 403,
                "not an official of this gateway")


def test_auditor_reads_verifies_tests_and_is_refused_maintenance(fed):
    s = sign_in(fed, AUDITOR)
    w = me(fed, s).json()
    assert w["role"] == "auditor"
    for path in READS:
        assert api(fed, s, "GET", path).status_code == 200, path
    # A few exchanges so that the log has records and a closed batch to check.
    for _ in range(3):
        assert fed.call("BTC", "GET", CITIZENS, "/citizens/1").status_code == 200
    v = api(fed, s, "POST", "/log/verify", w["csrf"], json={})
    assert v.status_code == 200, v.text
    v = v.json()
    assert v["ok"] is True and v["error"] is None and v["records"] >= 3, v
    head = api(fed, s, "GET", "/log").json()
    assert head["records"] >= v["records"]
    refused(api(fed, s, "POST", "/maintenance", w["csrf"], json={"on": True}), 403,
            "an auditor reads only")
    assert api(fed, s, "GET", "/maintenance").json()["on"] is False
    assert api(fed, s, "POST", "/peers/test", w["csrf"], json={}).status_code == 200
    # Without the session's CSRF token, not even a read-only run.
    refused(api(fed, s, "POST", "/log/verify", json={}), 403, "X-CSRF-Token")


def test_roles_are_read_at_every_request(fed):
    s = sign_in(fed, AUDITOR)
    assert me(fed, s).json()["role"] == "auditor"
    path = fed.bca.dir / "officials.json"
    before = path.read_text()
    try:
        path.write_text(json.dumps(officials_doc((ADMIN, "administrator")), ensure_ascii=False))
        assert me(fed, s).status_code == 403
        refused(api(fed, s, "GET", "/overview"), 403)
        path.write_text(json.dumps(officials_doc((ADMIN, "administrator"),
                                                 (AUDITOR, "administrator")),
                                   ensure_ascii=False))
        assert me(fed, s).json()["role"] == "administrator"
    finally:
        path.write_text(before)
    assert me(fed, s).json()["role"] == "auditor"


def test_maintenance_refuses_new_exchanges_finishes_those_in_flight_and_is_journaled(fed):
    s = sign_in(fed, ADMIN)
    csrf = me(fed, s).json()["csrf"]
    refused(api(fed, s, "POST", "/maintenance", json={"on": True}), 403, "X-CSRF-Token")
    refused(api(fed, s, "POST", "/maintenance", csrf, json={"on": "yes"}), 400)
    assert api(fed, s, "GET", "/maintenance").json()["on"] is False
    # An exchange in flight (the backend answers after HANG_S seconds) ...
    slow = {}
    t = threading.Thread(target=lambda: slow.update(r=fed.call("BTC", "GET", ECHO, "/hang",
                                                               timeout=30)))
    t.start()
    time.sleep(1.0)
    r = api(fed, s, "POST", "/maintenance", csrf, json={"on": True})
    assert r.status_code == 200, r.text
    assert r.json()["on"] is True and r.json()["by"] == f"official:{ADMIN[0]} ({ADMIN[1]})"
    # ... a new one is refused on the gateway port (the provider side) ...
    refusals.check_response(fed.call("BTC", "GET", CITIZENS, "/citizens/1"), "Maintenance",
                            side="provider")
    # ... and on the consumer port (the consumer side) ...
    refusals.check_response(fed.call("BCA", "GET", CITIZENS, "/citizens/1", client=POPULATION),
                            "Maintenance", side="consumer")
    h = fed.bca.healthz()
    assert h.status_code == 503 and "Maintenance" in [p["code"] for p in h.json()["problems"]]
    t.join(timeout=30)
    assert slow["r"].status_code == 200, slow["r"].text
    r = api(fed, s, "POST", "/maintenance", csrf, json={"on": False})
    assert r.status_code == 200 and r.json()["on"] is False
    assert fed.call("BTC", "GET", CITIZENS, "/citizens/1").status_code == 200
    assert fed.bca.healthz().status_code == 200
    changes = api(fed, s, "GET", "/changes").json()["changes"]
    actor = f"official:{ADMIN[0]} ({ADMIN[1]})"
    assert [(c["action"], c["actor"]) for c in changes[:2]] == [
        ("maintenance.off", actor), ("maintenance.on", actor)]
    journal = (fed.bca.dir / "data" / "console-changes.jsonl").read_text().splitlines()
    assert [json.loads(x)["action"] for x in journal][-2:] == ["maintenance.on",
                                                               "maintenance.off"]
    # stderr names the official by a keyed tag, never by the number in clear.
    tail = fed.bca.tail(200)
    assert "console: maintenance.on by official:pin:" in tail
    assert ADMIN[0] not in tail


def peer_results(fed, s, csrf):
    r = api(fed, s, "POST", "/peers/test", csrf, json={})
    assert r.status_code == 200, r.text
    return {p["gateway"]: p for p in r.json()["peers"]}


def test_connection_test_good_unreachable_and_revoked(fed):
    s = sign_in(fed, ADMIN)
    csrf = me(fed, s).json()["csrf"]
    peers = peer_results(fed, s, csrf)
    btc, bhxh, gw2 = (f"{federation.BTC}/gw1", f"{federation.BHXH}/gw1",
                      f"{federation.BTC}/gw2")
    assert set(peers) == {btc, bhxh, gw2}, peers
    for name in (btc, bhxh):
        p = peers[name]
        assert p["result"] == "good", p
        assert p["tls"]["ok"] and p["tls"]["protocol"].startswith("TLSv1.")
        assert p["certificate"]["matches"] and not p["certificate"]["revoked"]
        assert p["signature"]["ok"] is True
    assert peers[gw2]["result"] == "unreachable", peers[gw2]
    # The registry revokes BHXH's TLS certificate; BCA's next configuration says so.
    fp = fed.idents["BHXH"].tls_fingerprint()
    r = fed.registry.api("POST", "/api/revocations", json={"kind": "certificate", "value": fp})
    assert r.status_code == 201, r.text
    fed.wait_conf(fed.bca, fed.registry.conf_version())
    peers = peer_results(fed, s, csrf)
    p = peers[bhxh]
    assert p["result"] == "revoked", p
    assert p["certificate"]["revoked"] is True and p["certificate"]["fingerprint"] == fp
    assert peers[btc]["result"] == "good"
    # One peer only, by name.
    r = api(fed, s, "POST", "/peers/test?gateway=" + urllib.parse.quote(btc, safe=""), csrf,
            json={})
    assert [p["gateway"] for p in r.json()["peers"]] == [btc]
