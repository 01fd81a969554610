"""End-to-end tests of the operations centre's API in ndx-portal (docs/portal.md "The
operations centre", "Officials"): the `official` commands, and the role rules through
the API after real sign-ins (the OpenID Connect code flow with PKCE against the test
e-ID of test_portal.py, whose ID tokens the portal verifies), with a monitoring
service played here that records what the portal asks it and with which token.

Covered: official add/list/remove and their refusals; a citizen who is no official,
an officer with a password and no session refused (401/403, each refusal on the
portal's stderr); an operator reads the whole federation or any member, and the
report PDF; an agency official's member forced into every question to the monitoring
service, another member refused with 403, the indicators and tasks cut to its own,
the report refused; removing an official takes effect at the next request; the
monitoring service down (503 monitor_unavailable), refusing the token or answering
garbage (502 monitor); a portal without the monitor object (503 not_configured); the
charting package's files served from their own directory only."""

import http.client
import json
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

from conftest import free_port  # noqa: E402
from test_portal import CLIENT_ID, CLIENT_SECRET, FakeEid, Proc, exe  # noqa: E402

TCT, BCA = "VN/GOV/TCT", "VN/GOV/BCA"
# Valid personal numbers (province, century/sex digit, year, serial).
OPERATOR = ("001085000101", "Nguyễn Văn Vận Hành")
AGENCY = ("079190000202", "Trần Thị Thuế")
AUDITOR = ("048088000303", "Lê Kiểm Toán")
CITIZEN = ("031095000404", "Phạm Công Dân")
TOKEN = "monitor-admin-token-for-the-test"


class FakeMonitor:
    """ndx-monitor's API as docs/monitoring.md gives it, canned: it keeps every request
    (path, query, Authorization) and can be told to answer 500 or garbage."""

    def __init__(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.calls = []
        self.mode = "good"
        mon = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def answer(self, status, body, ctype="application/json"):
                if isinstance(body, (dict, list)):
                    body = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                q = dict(urllib.parse.parse_qsl(url.query))
                mon.calls.append((url.path, q, self.headers.get("Authorization")))
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    return self.answer(401, {"type": "Client.Unauthorized"})
                if mon.mode == "error":
                    return self.answer(500, {"type": "Server.InternalError"})
                if mon.mode == "garbage":
                    return self.answer(200, b"<html>not json</html>", "text/html")
                if url.path == "/api/live":
                    return self.answer(200, {"exchanges": 12, "per_second": 0.04, "failed": 1,
                                             "errors": [{"type": "NoGrant", "count": 1}],
                                             "latency_ms": {"p50": 5, "p95": 9, "p99": 12},
                                             "busiest_services": [], "agencies": [],
                                             "gateways": []})
                if url.path == "/api/series":
                    return self.answer(200, {"step_s": int(q.get("step", 60)), "series": []})
                if url.path == "/api/indicators":
                    scopes = [{"scope": s} for s in ("national", TCT, BCA, "001")]
                    return self.answer(200, {"period": "2026-H2", "indicators": [
                        {"id": "x", "scopes": scopes}]})
                if url.path == "/api/tasks":
                    return self.answer(200, {"as_of": "2026-09-01", "tasks": [
                        {"id": 1, "lead": TCT}, {"id": 2, "lead": BCA}]})
                if url.path == "/api/report":
                    return self.answer(200, b"%PDF-1.4\n% test\n", "application/pdf")
                return self.answer(404, {"type": "Client.NotFound"})

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def last(self):
        return self.calls[-1]

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


class Env:
    pass


def portal_cmd(env, *args):
    return subprocess.run([str(env.exe), *args], capture_output=True, text=True, timeout=30)


def official(env, *args):
    return portal_cmd(env, "official", *args, "--config", str(env.config))


@pytest.fixture(scope="module")
def env(build_dir):
    e = Env()
    e.exe = exe(build_dir, "src", "portal", "ndx-portal")
    e.workdir = Path(tempfile.mkdtemp(prefix="ndx-portal-ops-"))
    e.eid, e.monitor, e.portal = FakeEid(), FakeMonitor(), None
    d = e.workdir
    (d / "web").mkdir()
    (d / "web" / "index.html").write_text("<!doctype html><title>ndx</title>")
    charts = d / "node_modules" / "chart.js" / "dist"
    charts.mkdir(parents=True)
    (charts / "chart.umd.min.js").write_text("/* Chart.js */\n")
    (d / "node_modules" / "chart.js" / "package.json").write_text("{}\n")
    (d / "client.secret").write_text(CLIENT_SECRET + "\n")
    (d / "monitor.token").write_text(TOKEN + "\n")
    e.port = free_port()
    e.url = f"http://127.0.0.1:{e.port}"
    cfg = {"listen": f"127.0.0.1:{e.port}", "public_url": e.url, "data_dir": "data",
           "web_dir": "web", "chart_assets_dir": "node_modules/chart.js/dist",
           "oidc": {"issuer": e.eid.issuer, "client_id": CLIENT_ID,
                    "client_secret_file": "client.secret"},
           "exchange": {"consumer_url": "http://127.0.0.1:9", "client": "VN/GOV/VPCP/portal"},
           "monitor": {"url": e.monitor.url, "token_file": "monitor.token"}}
    e.config = d / "portal.json"
    e.config.write_text(json.dumps(cfg, indent=2))
    e.cfg = cfg
    for who, role, member in ((OPERATOR, "operator", "VN/GOV/VPCP"), (AGENCY, "agency", TCT),
                              (AUDITOR, "auditor", "VN/GOV/VPCP")):
        r = official(e, "add", "--pin", who[0], "--name", who[1], "--role", role,
                     "--member", member)
        assert r.returncode == 0, r.stderr
        assert r.stdout == f"official {who[1]} added ({role}, {member})\n", r.stdout
    pw = d / "pw"
    pw.write_text("mật-khẩu-cán-bộ\n")
    r = portal_cmd(e, "officer", "add", "--config", str(e.config), "--username", "canbo.tct",
                   "--name", "Cán bộ", "--agency", TCT, "--password-file", str(pw),
                   "--cost", "min")
    assert r.returncode == 0, r.stderr
    try:
        e.portal = Proc("portal", [e.exe, "serve", "--config", e.config], e.url, d).start()
        yield e
    finally:
        rc = e.portal.stop() if e.portal else 0
        e.monitor.stop()
        e.eid.stop()
    assert rc == 0, e.portal.tail()


def sign_in(env, who):
    env.eid.user, env.eid.mode = who, "good"
    s = requests.Session()
    r = s.get(env.url + "/auth/login?next=/ops", timeout=20)
    assert r.status_code == 200 and urllib.parse.urlsplit(r.url).path == "/ops", r.url
    return s


def error(r, status, code):
    assert r.status_code == status, f"{r.status_code} {r.text}"
    assert r.json()["error"] == code, r.text
    return r.json()


def stderr_has(env, text, timeout=5):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if text in env.portal.stderr_path.read_text(errors="replace"):
            return True
        time.sleep(0.05)
    return False


def test_official_commands(env):
    r = official(env, "list")
    assert r.returncode == 0, r.stderr
    rows = [ln.split("\t") for ln in r.stdout.splitlines()]
    assert rows == sorted([[OPERATOR[0], "operator", "VN/GOV/VPCP", OPERATOR[1]],
                           [AGENCY[0], "agency", TCT, AGENCY[1]],
                           [AUDITOR[0], "auditor", "VN/GOV/VPCP", AUDITOR[1]]]), rows
    r = official(env, "add", "--pin", AGENCY[0], "--name", AGENCY[1], "--role", "agency",
                 "--member", TCT)
    assert r.returncode == 0 and "updated" in r.stdout, r.stdout + r.stderr
    for bad, why in ((["--pin", "12345"], "--pin"),
                     (["--pin", CITIZEN[0], "--role", "king"], "--role"),
                     (["--pin", CITIZEN[0], "--role", "agency", "--member", "VN/GOV"], "--member"),
                     (["--pin", CITIZEN[0], "--role", "agency", "--member", TCT, "--name", ""],
                      "--name")):
        args = {"--name": "X", "--role": "agency", "--member": TCT}
        it = iter(bad)
        args.update(dict(zip(it, it)))
        flat = [x for kv in args.items() for x in kv]
        r = official(env, "add", *flat)
        assert r.returncode == 2 and why in r.stderr, (bad, r.stderr)
    r = official(env, "remove", "--pin", CITIZEN[0])
    assert r.returncode == 1 and "no official" in r.stderr, r.stderr
    r = portal_cmd(env, "official", "--help")
    assert r.returncode == 0 and "operator, agency or auditor" in r.stdout


def test_who_is_refused(env):
    # No session.
    error(requests.get(env.url + "/api/ops/live", timeout=10), 401, "unauthenticated")
    # A citizen who is no official.
    s = sign_in(env, CITIZEN)
    assert "official" not in s.get(env.url + "/api/session", timeout=10).json()
    for route in ("session", "live", "series", "indicators", "tasks", "report?period=2026-H2"):
        error(s.get(f"{env.url}/api/ops/{route}", timeout=10), 403, "not_official")
    assert stderr_has(env, "ops: refused GET /api/ops/live (a citizen)")
    assert CITIZEN[0] not in env.portal.stderr_path.read_text(errors="replace")
    # An officer with a password is no official either.
    o = requests.Session()
    tok = o.get(env.url + "/auth/officer", timeout=10).json()["csrf"]
    r = o.post(env.url + "/auth/officer", json={"username": "canbo.tct",
                                                "password": "mật-khẩu-cán-bộ"},
               headers={"X-CSRF-Token": tok}, timeout=20)
    assert r.status_code == 200, r.text
    error(o.get(env.url + "/api/ops/live", timeout=10), 403, "not_official")
    assert stderr_has(env, "(an officer's session)")
    # Read-only.
    s = sign_in(env, OPERATOR)
    csrf = s.get(env.url + "/api/session", timeout=10).json()["csrf"]
    r = s.post(env.url + "/api/ops/live", json={}, headers={"X-CSRF-Token": csrf}, timeout=10)
    assert r.status_code == 405, r.text


def test_operator_sees_everything(env):
    s = sign_in(env, OPERATOR)
    info = s.get(env.url + "/api/session", timeout=10).json()
    assert info["official"] == {"role": "operator", "member": "VN/GOV/VPCP",
                                "name": OPERATOR[1]}, info
    me = s.get(env.url + "/api/ops/session", timeout=10).json()
    assert me["role"] == "operator" and me["all_members"] and me["monitor"], me
    live = s.get(env.url + "/api/ops/live?window=600", timeout=10)
    assert live.status_code == 200, live.text
    assert live.json()["exchanges"] == 12 and live.json()["member"] is None
    assert env.monitor.last() == ("/api/live", {"window": "600"}, f"Bearer {TOKEN}")
    r = s.get(env.url + "/api/ops/live?window=60&member=VN/GOV/BCA", timeout=10)
    assert r.status_code == 200 and r.json()["member"] == BCA, r.text
    assert env.monitor.last()[1] == {"window": "60", "member": BCA}
    r = s.get(env.url + "/api/ops/series?window=600&step=10", timeout=10)
    assert r.status_code == 200 and r.json()["step_s"] == 10, r.text
    assert env.monitor.last()[:2] == ("/api/series", {"window": "600", "step": "10"})
    ind = s.get(env.url + "/api/ops/indicators", timeout=10).json()
    assert [x["scope"] for x in ind["indicators"][0]["scopes"]] == ["national", TCT, BCA, "001"]
    assert len(s.get(env.url + "/api/ops/tasks", timeout=10).json()["tasks"]) == 2
    r = s.get(env.url + "/api/ops/report?period=2026-H2", timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/pdf", r.text
    assert r.content.startswith(b"%PDF-")
    assert "ndx-report-2026-H2.pdf" in r.headers["Content-Disposition"]
    for bad in ("live?window=0", "live?window=abc", "live?window=99999999",
                "live?member=not-a-member", "series?step=0", "report?period=2026-H3",
                "report?period=2026-07", "indicators?period=2026-13"):
        error(s.get(f"{env.url}/api/ops/{bad}", timeout=10), 400, "invalid")
    # The auditor reads like the operator.
    a = sign_in(env, AUDITOR)
    assert a.get(env.url + "/api/ops/live?member=VN/GOV/BCA", timeout=10).status_code == 200
    assert a.get(env.url + "/api/ops/report?period=2026-H2", timeout=10).status_code == 200


def test_agency_sees_only_its_own(env):
    s = sign_in(env, AGENCY)
    me = s.get(env.url + "/api/ops/session", timeout=10).json()
    assert me["role"] == "agency" and me["member"] == TCT and not me["all_members"], me
    r = s.get(env.url + "/api/ops/live", timeout=10)
    assert r.status_code == 200 and r.json()["member"] == TCT, r.text
    assert env.monitor.last()[1] == {"window": "300", "member": TCT}
    r = s.get(env.url + "/api/ops/live?member=VN/GOV/TCT&window=30", timeout=10)
    assert r.status_code == 200 and env.monitor.last()[1] == {"window": "30", "member": TCT}
    r = s.get(env.url + "/api/ops/series?window=600&step=10", timeout=10)
    assert r.status_code == 200 and env.monitor.last()[1]["member"] == TCT
    before = len(env.monitor.calls)
    error(s.get(env.url + "/api/ops/live?member=VN/GOV/BCA", timeout=10), 403, "forbidden")
    error(s.get(env.url + "/api/ops/series?member=VN/GOV/BCA", timeout=10), 403, "forbidden")
    error(s.get(env.url + "/api/ops/report?period=2026-H2", timeout=10), 403, "forbidden")
    assert len(env.monitor.calls) == before, "a refused question reached the monitor"
    assert stderr_has(env, "ops: refused GET /api/ops/live (agency official of VN/GOV/TCT)")
    assert stderr_has(env, "ops: refused GET /api/ops/report (agency official of VN/GOV/TCT)")
    ind = s.get(env.url + "/api/ops/indicators", timeout=10).json()
    assert [x["scope"] for x in ind["indicators"][0]["scopes"]] == ["national", TCT]
    assert [t["lead"] for t in s.get(env.url + "/api/ops/tasks", timeout=10).json()["tasks"]] \
        == [TCT]
    # Removed: the next request is refused, the session stays a citizen's.
    r = official(env, "remove", "--pin", AGENCY[0])
    assert r.returncode == 0, r.stderr
    try:
        error(s.get(env.url + "/api/ops/live", timeout=10), 403, "not_official")
        assert s.get(env.url + "/api/session", timeout=10).json()["authenticated"]
    finally:
        r = official(env, "add", "--pin", AGENCY[0], "--name", AGENCY[1], "--role", "agency",
                     "--member", TCT)
        assert r.returncode == 0, r.stderr


def test_monitor_failures_are_clear(env):
    s = sign_in(env, OPERATOR)
    env.monitor.mode = "error"
    try:
        doc = error(s.get(env.url + "/api/ops/live", timeout=10), 502, "monitor")
        assert "Server.InternalError" not in doc["message"]
        env.monitor.mode = "garbage"
        error(s.get(env.url + "/api/ops/live", timeout=10), 502, "monitor")
        error(s.get(env.url + "/api/ops/report?period=2026-H2", timeout=10), 502, "monitor")
    finally:
        env.monitor.mode = "good"
    token = env.workdir / "monitor.token"
    token.write_text("a-wrong-token\n")
    try:
        doc = error(s.get(env.url + "/api/ops/live", timeout=10), 502, "monitor")
        assert "token" in doc["message"]
    finally:
        token.write_text(TOKEN + "\n")
    # A new token is read at the next call, without a restart.
    assert s.get(env.url + "/api/ops/live", timeout=10).status_code == 200
    # Last: the monitoring service stops for good.
    env.monitor.stop()
    doc = error(s.get(env.url + "/api/ops/live", timeout=10), 503, "monitor_unavailable")
    assert "cannot be reached" in doc["message"]
    assert stderr_has(env, "ops: the monitoring service")


def test_not_configured_and_chart_files(env, build_dir):
    # The charting package's directory is served, nothing beside it.
    r = requests.get(env.url + "/assets/chartjs/chart.umd.min.js", timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/javascript")
    for path in ("/assets/chartjs/../package.json", "/assets/chartjs/%2e%2e/package.json",
                 "/assets/chartjs/", "/assets/chartjs/../../../portal.json",
                 "/assets/chartjs/%2e%2e/%2e%2e/%2e%2e/portal.json"):
        conn = http.client.HTTPConnection("127.0.0.1", env.port, timeout=10)
        try:
            conn.request("GET", path)  # as sent: no client-side dot-segment removal
            assert conn.getresponse().status == 404, path
        finally:
            conn.close()
    # Without the monitor object the official is told the centre is not configured.
    d = env.workdir
    cfg = dict(env.cfg)
    del cfg["monitor"]
    port = free_port()
    cfg["listen"], cfg["public_url"] = f"127.0.0.1:{port}", f"http://127.0.0.1:{port}"
    (d / "bare.json").write_text(json.dumps(cfg))
    bare = Proc("bare-portal", [env.exe, "serve", "--config", d / "bare.json"],
                cfg["public_url"], d).start()
    try:
        env.eid.user = OPERATOR
        s = requests.Session()
        assert s.get(cfg["public_url"] + "/auth/login", timeout=20).status_code == 200
        me = s.get(cfg["public_url"] + "/api/ops/session", timeout=10).json()
        assert me["role"] == "operator" and me["monitor"] is False, me
        error(s.get(cfg["public_url"] + "/api/ops/live", timeout=10), 503, "not_configured")
    finally:
        assert bare.stop() == 0
