"""End-to-end tests of misuse detection in ndx-portal (docs/portal.md "Misuse cases",
"The citizen's misuse view", "The procedures push"), after real OpenID Connect sign-ins
(the test e-ID of test_portal.py), against a monitoring service played here that keeps
what the portal sends and asks, with which token.

Covered: the procedures push (every procedure and every change sent once, opened and
closed times, the agency and the applicant; the stand-in down: the failure logged once,
nothing lost, resumed; a portal restart resumes from the cursor in portal.db without
sending again what was acknowledged; /metrics); the case pages' API for each role (an
agency official's member forced into the list, another member's case, proof, key and
triage refused 403, the auditor reads and cannot triage), the triage's actor is the
session's official whatever the body says, the monitor's 400 and 409 as what they mean,
the proof and key downloads; the citizen's confirmed cases and reports with the
session's PIN whatever the body says; the monitoring service down (503) and a portal
without one (503 monitor_unavailable, no push thread)."""

import json
import re
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
from test_portal_ops import portal_cmd  # noqa: E402

TCT, BCA = "VN/GOV/TCT", "VN/GOV/BCA"
OPERATOR = ("001085000101", "Nguyễn Văn Vận Hành")
AGENCY = ("079190000202", "Trần Thị Thuế")
AUDITOR = ("048088000303", "Lê Kiểm Toán")
CITIZEN = ("031095000404", "Phạm Công Dân")
OTHER = ("001095000505", "Võ Văn Khác")
TOKEN = "monitor-admin-token-for-the-cases-test"
PASSWORD = "mật-khẩu-cán-bộ"
KEY_PEM = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAtest+key+for+the+stand+in+monitor+only+AAAAAA=\n-----END PUBLIC KEY-----\n"


def make_case(cid, member, subject, state="open", kind="no-explanation"):
    return {"id": cid, "kind": kind, "state": state, "client": f"{member}/app",
            "client_member": member, "user_id": f"{member}/canbo.x", "subject": subject,
            "opened_ms": 1764720000000 + int(cid[1:]) * 1000, "updated_ms": 1764720000000,
            "why": "no open procedure, consent or mandate explains this read", "reads": 1,
            "explanation": "Một cán bộ đã xem dữ liệu của bạn mà không có lý do.",
            "explanation_en": "An officer read your data without a reason."}


class FakeMonitor:
    """The monitoring service's procedures and cases API (the contract of issue 19),
    canned: it keeps every request (method, path, query, body, Authorization)."""

    def __init__(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.calls = []
        self.received = []  # every procedure of every accepted POST /api/procedures
        self.procedures = {}
        self.reports = []
        self.mode = "good"
        self.cases = {c["id"]: c for c in (
            make_case("c1", TCT, CITIZEN[0], "confirmed"),
            make_case("c2", BCA, OTHER[0]),
            make_case("c3", TCT, OTHER[0], kind="bulk"),
            make_case("c4", TCT, OTHER[0], "dismissed"))}
        self.server = None
        self.start()

    def case_doc(self, c):
        proof = {"version": 1, "gateway": f"{c['client_member']}/gw1", "seq": 7,
                 "leaf": "ab" * 32, "path": ["cd" * 32], "root": "ef" * 32,
                 "signature": "Zm9v"}
        return {**c, "history": [{"at_ms": c["opened_ms"], "actor": "ndx-monitor",
                                  "action": "open", "reason": c["why"]}],
                "evidence": [{"time_ms": c["opened_ms"], "gateway": "VN/GOV/BCA/gw1", "seq": 7,
                              "message_id": "m-1", "client": c["client"],
                              "service": "VN/GOV/BCA/population/citizens",
                              "purpose": "public-service", "status": 200,
                              "user_id": c["user_id"], "issue": "", "subjects": [c["subject"]],
                              "explanation": None, "proof": proof, "proof_error": ""}],
                "gateway_key": {"VN/GOV/BCA/gw1": KEY_PEM}}

    def start(self):
        mon = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def answer(self, status, body):
                body = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def handle_any(self, method):
                url = urllib.parse.urlsplit(self.path)
                q = dict(urllib.parse.parse_qsl(url.query))
                n = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(n)) if n else None
                mon.calls.append((method, url.path, q, body, self.headers.get("Authorization")))
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    return self.answer(401, {"type": "Client.Unauthorized"})
                if mon.mode == "error":
                    return self.answer(500, {"type": "Server.InternalError"})
                path = url.path
                if method == "POST" and path == "/api/procedures":
                    for p in body["procedures"]:
                        mon.received.append(p)
                        mon.procedures[p["id"]] = p
                    return self.answer(200, {"stored": len(body["procedures"])})
                if method == "GET" and path == "/api/cases":
                    out = [c for c in mon.cases.values()
                           if q.get("state") in ("all", c["state"])
                           and q.get("member", c["client_member"]) == c["client_member"]
                           and q.get("kind", c["kind"]) == c["kind"]]
                    out.sort(key=lambda c: -c["opened_ms"])
                    return self.answer(200, {"cases": out[:int(q.get("limit", 100))]})
                m = re.fullmatch(r"/api/cases/([^/]+)(/triage)?", path)
                if m and m.group(1) in mon.cases:
                    c = mon.cases[m.group(1)]
                    if method == "GET" and not m.group(2):
                        return self.answer(200, mon.case_doc(c))
                    if method == "POST" and m.group(2):
                        if c["state"] in ("confirmed", "dismissed"):
                            return self.answer(409, {"type": "Client.Conflict"})
                        if body["action"] == "dismiss" and not body.get("reason"):
                            return self.answer(400, {"type": "Client.BadRequest"})
                        c["state"] = {"confirm": "confirmed", "dismiss": "dismissed",
                                      "escalate": "escalated"}[body["action"]]
                        return self.answer(200, mon.case_doc(c))
                if method == "GET" and path == "/api/subject-cases":
                    out = [c for c in mon.cases.values()
                           if c["subject"] == q.get("subject") and c["state"] == "confirmed"]
                    return self.answer(200, {"cases": [mon.case_doc(c) for c in out]})
                if method == "GET" and path == "/api/live":
                    gws = [{"name": f"{BCA}/gw0", "member": BCA},
                           {"name": f"{BCA}/gw1", "member": BCA},
                           {"name": f"{TCT}/gw1", "member": TCT}]
                    return self.answer(200, {"gateways": [g for g in gws if g["member"] ==
                                                          q.get("member", g["member"])]})
                if method == "POST" and path == "/api/subject-reports":
                    # As ndx-monitor: a gateway's name; the read is BCA/gw1's.
                    if body.get("gateway", "").count("/") != 3:
                        return self.answer(400, {"type": "Client.BadRequest"})
                    if body.get("message_id") == "unknown" or body["gateway"] != f"{BCA}/gw1":
                        return self.answer(404, {"type": "Client.NotFound",
                                                 "detail": "unknown_read"})
                    again = any(r["message_id"] == body["message_id"] for r in mon.reports)
                    mon.reports.append(body)
                    return self.answer(200 if again else 201, {"id": 9, "created": not again})
                return self.answer(404, {"type": "Client.NotFound"})

            def do_GET(self):
                self.handle_any("GET")

            def do_POST(self):
                self.handle_any("POST")

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def asked(self, method, path):
        return [c for c in self.calls if c[0] == method and c[1] == path]


class Env:
    pass


def official(env, *args):
    return portal_cmd(env, "official", *args, "--config", str(env.config))


@pytest.fixture(scope="module")
def env(build_dir):
    e = Env()
    e.exe = exe(build_dir, "src", "portal", "ndx-portal")
    e.workdir = Path(tempfile.mkdtemp(prefix="ndx-portal-cases-"))
    e.eid, e.monitor, e.portal = FakeEid(), FakeMonitor(), None
    d = e.workdir
    (d / "web").mkdir()
    (d / "web" / "index.html").write_text("<!doctype html><title>ndx</title>")
    (d / "client.secret").write_text(CLIENT_SECRET + "\n")
    (d / "monitor.token").write_text(TOKEN + "\n")
    e.port = free_port()
    e.url = f"http://127.0.0.1:{e.port}"
    cfg = {"listen": f"127.0.0.1:{e.port}", "public_url": e.url, "data_dir": "data",
           "web_dir": "web",
           "oidc": {"issuer": e.eid.issuer, "client_id": CLIENT_ID,
                    "client_secret_file": "client.secret"},
           "exchange": {"consumer_url": "http://127.0.0.1:9", "client": "VN/GOV/VPCP/portal"},
           "monitor": {"url": e.monitor.url, "token_file": "monitor.token",
                       "push_interval_s": 1}}
    e.config = d / "portal.json"
    e.config.write_text(json.dumps(cfg, indent=2))
    e.cfg = cfg
    for who, role, member in ((OPERATOR, "operator", "VN/GOV/VPCP"), (AGENCY, "agency", TCT),
                              (AUDITOR, "auditor", "VN/GOV/VPCP")):
        r = official(e, "add", "--pin", who[0], "--name", who[1], "--role", role,
                     "--member", member)
        assert r.returncode == 0, r.stderr
    pw = d / "pw"
    pw.write_text(PASSWORD + "\n")
    r = portal_cmd(e, "officer", "add", "--config", str(e.config), "--username", "canbo.bca",
                   "--name", "Cán bộ", "--agency", BCA, "--password-file", str(pw),
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


def sign_in(env, who, url=None):
    url = url or env.url
    env.eid.user, env.eid.mode = who, "good"
    s = requests.Session()
    r = s.get(url + "/auth/login?next=/ops", timeout=20)
    assert r.status_code == 200, r.text
    s.csrf = s.get(url + "/api/session", timeout=10).json()["csrf"]
    return s


def post(s, url, body, csrf=None):
    return s.post(url, json=body, headers={"X-CSRF-Token": csrf or s.csrf}, timeout=30)


def error(r, status, code):
    assert r.status_code == status, f"{r.status_code} {r.text}"
    assert r.json()["error"] == code, r.text
    return r.json()


def eventually(fn, timeout=20, every=0.1):
    end = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > end:
            raise AssertionError(f"not within {timeout} s")
        time.sleep(every)


def stderr(env):
    return env.portal.stderr_path.read_text(errors="replace")


def file_procedure(env, s, n):
    r = post(s, env.url + "/api/procedures", {"kind": "residence-change", "fields": {
        "province": "079", "commune": "Phường Bến Thành", "address": f"{n} Lê Lợi",
        "reason": ""}})
    assert r.status_code == 201, r.text
    return r.json()


def officer_session(env):
    s = requests.Session()
    tok = s.get(env.url + "/auth/officer", timeout=10).json()["csrf"]
    r = s.post(env.url + "/auth/officer", json={"username": "canbo.bca", "password": PASSWORD},
               headers={"X-CSRF-Token": tok}, timeout=20)
    assert r.status_code == 200, r.text
    s.csrf = r.json()["csrf"]
    return s


def metric(env, name):
    text = requests.get(env.url + "/metrics", timeout=10).text
    m = re.search(rf"^{name} (\d+)$", text, re.M)
    assert m, text
    return int(m.group(1))


# ---- the procedures push ----------------------------------------------------------


def test_push_sends_every_procedure_and_change_once(env):
    mon = env.monitor
    s = sign_in(env, CITIZEN)
    procs = [file_procedure(env, s, i) for i in range(3)]
    ids = {p["id"] for p in procs}
    eventually(lambda: ids <= set(mon.procedures))
    for p in procs:
        got = mon.procedures[p["id"]]
        created = int(time.mktime(time.strptime(p["created_at"], "%Y-%m-%dT%H:%M:%SZ"))
                      - time.timezone)
        assert got == {"id": p["id"], "kind": "residence-change", "subject": CITIZEN[0],
                       "agency": BCA, "opened_ms": created * 1000, "closed_ms": None}, got
    # The officer rejects one: it is sent again, closed when it was rejected.
    o = officer_session(env)
    r = post(o, f"{env.url}/api/officer/procedures/{procs[0]['id']}/decision",
             {"decision": "reject", "reason": "Thiếu giấy tờ"})
    assert r.status_code == 200, r.text
    rejected_at = [h for h in r.json()["history"] if h["state"] == "rejected"][0]["at"]
    closed = int(time.mktime(time.strptime(rejected_at, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone)
    eventually(lambda: mon.procedures[procs[0]["id"]]["closed_ms"] is not None)
    assert mon.procedures[procs[0]["id"]]["closed_ms"] == closed * 1000
    time.sleep(2.5)  # more rounds: nothing is sent again
    counts = {i: sum(1 for x in mon.received if x["id"] == i) for i in ids}
    assert counts == {procs[0]["id"]: 2, procs[1]["id"]: 1, procs[2]["id"]: 1}, counts
    assert all(c[4] == f"Bearer {TOKEN}" for c in mon.asked("POST", "/api/procedures"))
    assert metric(env, "ndx_portal_procedures_pushed_total") >= 4
    assert metric(env, "ndx_portal_procedures_push_backlog") == 0
    assert metric(env, "ndx_portal_procedures_push_up") == 1
    assert TOKEN not in stderr(env)


def test_push_resumes_after_the_monitor_was_down(env):
    mon = env.monitor
    s = sign_in(env, CITIZEN)
    failures = metric(env, "ndx_portal_procedures_push_failures_total")
    mon.stop()
    try:
        procs = [file_procedure(env, s, 10 + i) for i in range(2)]
        eventually(lambda: metric(env, "ndx_portal_procedures_push_failures_total")
                   >= failures + 2, timeout=30)
        assert metric(env, "ndx_portal_procedures_push_backlog") == 2
        assert metric(env, "ndx_portal_procedures_push_up") == 0
        # Logged once when it started failing, not at every attempt.
        assert stderr(env).count("procedures push: failing") == 1, stderr(env)
    finally:
        mon.start()
    eventually(lambda: {p["id"] for p in procs} <= set(mon.procedures), timeout=30)
    eventually(lambda: "procedures push: working again" in stderr(env))
    assert stderr(env).count("procedures push: failing") == 1
    assert metric(env, "ndx_portal_procedures_push_backlog") == 0
    # The monitor refusing (a 500) is a failure too, and nothing is lost.
    mon.mode = "error"
    try:
        p = file_procedure(env, s, 20)
        eventually(lambda: metric(env, "ndx_portal_procedures_push_backlog") == 1, timeout=30)
        assert p["id"] not in mon.procedures
    finally:
        mon.mode = "good"
    eventually(lambda: p["id"] in mon.procedures, timeout=30)


def test_push_survives_a_portal_restart(env):
    mon = env.monitor
    s = sign_in(env, CITIZEN)
    eventually(lambda: metric(env, "ndx_portal_procedures_push_backlog") == 0)
    # Filed while the monitor is down, then the portal stops before it comes back.
    mon.stop()
    try:
        procs = [file_procedure(env, s, 30 + i) for i in range(3)]
        assert env.portal.stop() == 0
    finally:
        mon.start()
    before = len(mon.received)
    env.portal.start()
    eventually(lambda: {p["id"] for p in procs} <= set(mon.procedures), timeout=30)
    time.sleep(2.5)
    new = [x["id"] for x in mon.received[before:]]
    # Only what was never acknowledged, each once: the cursor was in portal.db.
    assert sorted(new) == sorted(p["id"] for p in procs), new
    # Every procedure the portal holds is at the monitor.
    mine = s.get(env.url + "/api/procedures", timeout=10).json()["procedures"]
    assert {p["id"] for p in mine} <= set(mon.procedures)


# ---- the case pages' API ----------------------------------------------------------


def test_operator_lists_and_reads_every_case(env):
    s = sign_in(env, OPERATOR)
    r = s.get(env.url + "/api/ops/cases", timeout=10)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert [c["id"] for c in doc["cases"]] == ["c3", "c2"], doc  # open, newest first
    assert doc["can_triage"] is True and doc["state"] == "open"
    assert env.monitor.calls[-1][1:3] == ("/api/cases", {"state": "open", "limit": "200"})
    r = s.get(env.url + "/api/ops/cases?state=all&kind=bulk&member=VN/GOV/TCT&limit=5",
              timeout=10)
    assert [c["id"] for c in r.json()["cases"]] == ["c3"]
    assert env.monitor.calls[-1][2] == {"state": "all", "kind": "bulk", "member": TCT,
                                        "limit": "5"}
    for bad in ("state=nope", "kind=theft", "limit=0", "limit=501", "member=x"):
        error(s.get(f"{env.url}/api/ops/cases?{bad}", timeout=10), 400, "invalid")
    c = s.get(env.url + "/api/ops/cases/c2", timeout=10).json()
    assert c["id"] == "c2" and c["can_triage"] is True and c["evidence"][0]["proof"]
    error(s.get(env.url + "/api/ops/cases/c99", timeout=10), 404, "not_found")
    error(s.get(env.url + "/api/ops/cases/a%2Fb", timeout=10), 404, "not_found")
    # The proof and the gateway's key as files for `ndx log check-proof`.
    r = s.get(env.url + "/api/ops/cases/c2/proof/0", timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/json"
    assert 'filename="proof.json"' in r.headers["Content-Disposition"]
    assert r.json() == env.monitor.case_doc(env.monitor.cases["c2"])["evidence"][0]["proof"]
    assert list(r.json()) == ["version", "gateway", "seq", "leaf", "path", "root", "signature"]
    r = s.get(env.url + "/api/ops/cases/c2/key/0", timeout=10)
    assert r.status_code == 200 and r.text == KEY_PEM
    assert 'filename="gateway.pub"' in r.headers["Content-Disposition"]
    error(s.get(env.url + "/api/ops/cases/c2/proof/1", timeout=10), 404, "not_found")
    # A final case cannot be triaged: the page offers no form.
    assert s.get(env.url + "/api/ops/cases/c4", timeout=10).json()["can_triage"] is False


def test_agency_sees_and_triages_only_its_own(env):
    s = sign_in(env, AGENCY)
    r = s.get(env.url + "/api/ops/cases?state=all", timeout=10)
    assert r.status_code == 200, r.text
    assert {c["client_member"] for c in r.json()["cases"]} == {TCT}
    assert env.monitor.calls[-1][2]["member"] == TCT
    before = len(env.monitor.calls)
    error(s.get(env.url + "/api/ops/cases?member=VN/GOV/BCA", timeout=10), 403, "forbidden")
    assert len(env.monitor.calls) == before
    # Another member's case: its page, proof, key and triage.
    for path in ("c2", "c2/proof/0", "c2/key/0"):
        error(s.get(f"{env.url}/api/ops/cases/{path}", timeout=10), 403, "forbidden")
    error(post(s, env.url + "/api/ops/cases/c2/triage", {"action": "escalate"}), 403,
          "forbidden")
    assert env.monitor.cases["c2"]["state"] == "open"
    assert not [c for c in env.monitor.calls if c[1] == "/api/cases/c2/triage"]
    assert "ops: refused GET /api/ops/cases/c2 (agency official of VN/GOV/TCT)" in stderr(env)
    # Its own: escalated, with the session's official as the actor.
    r = post(s, env.url + "/api/ops/cases/c3/triage",
             {"action": "escalate", "reason": "Cần DPO xem", "actor": "someone else"})
    assert r.status_code == 200, r.text
    sent = env.monitor.asked("POST", "/api/cases/c3/triage")[-1][3]
    assert sent == {"action": "escalate", "reason": "Cần DPO xem",
                    "actor": f"{AGENCY[1]} (agency, {TCT})"}, sent


def test_triage_refusals_mean_what_they_say(env):
    s = sign_in(env, OPERATOR)
    # No CSRF token, a bad action, the monitor's 400 and 409.
    error(post(s, env.url + "/api/ops/cases/c2/triage", {"action": "confirm"}, csrf="x"), 403,
          "csrf")
    error(post(s, env.url + "/api/ops/cases/c2/triage", {"action": "burn"}), 400, "invalid")
    error(s.get(env.url + "/api/ops/cases/c2/triage", timeout=10), 405, "method_not_allowed")
    doc = error(post(s, env.url + "/api/ops/cases/c2/triage", {"action": "dismiss"}), 422,
                "validation")
    assert doc["fields"] == {"reason": "required"}
    error(post(s, env.url + "/api/ops/cases/c1/triage", {"action": "dismiss", "reason": "x"}),
          409, "case_final")
    r = post(s, env.url + "/api/ops/cases/c2/triage",
             {"action": "dismiss", "reason": "Kiểm tra định kỳ có văn bản", "actor": "forged"})
    assert r.status_code == 200, r.text
    sent = env.monitor.asked("POST", "/api/cases/c2/triage")[-1][3]
    assert sent["actor"] == f"{OPERATOR[1]} (operator, VN/GOV/VPCP)", sent
    assert env.monitor.cases["c2"]["state"] == "dismissed"
    error(post(s, env.url + "/api/ops/cases/c2/triage", {"action": "confirm"}), 409,
          "case_final")
    # The auditor reads everything and triages nothing.
    a = sign_in(env, AUDITOR)
    doc = a.get(env.url + "/api/ops/cases?state=all", timeout=10).json()
    assert doc["can_triage"] is False and len(doc["cases"]) == 4
    assert a.get(env.url + "/api/ops/cases/c3", timeout=10).json()["can_triage"] is False
    before = len(env.monitor.calls)
    error(post(a, env.url + "/api/ops/cases/c3/triage", {"action": "confirm"}), 403,
          "forbidden")
    assert len(env.monitor.calls) == before
    # A citizen who is no official.
    c = sign_in(env, CITIZEN)
    error(c.get(env.url + "/api/ops/cases", timeout=10), 403, "not_official")
    error(post(c, env.url + "/api/ops/cases/c3/triage", {"action": "confirm"}), 403,
          "not_official")


# ---- the citizen ------------------------------------------------------------------


def test_citizen_sees_confirmed_cases_and_reports_with_own_pin(env):
    s = sign_in(env, CITIZEN)
    r = s.get(env.url + "/api/me/misuse", timeout=10)
    assert r.status_code == 200, r.text
    cases = r.json()["cases"]
    assert [c["id"] for c in cases] == ["c1"]
    # Only what the citizen may see: never the evidence, the history nor the subject
    # (the stand-in sends them all).
    assert set(cases[0]) == {"id", "kind", "client", "client_member", "opened_ms",
                             "updated_ms", "explanation", "explanation_en"}, cases[0]
    assert cases[0]["explanation"].startswith("Một cán bộ")
    assert env.monitor.calls[-1][2] == {"subject": CITIZEN[0]}
    o = sign_in(env, OTHER)
    assert o.get(env.url + "/api/me/misuse", timeout=10).json()["cases"] == []
    assert env.monitor.calls[-1][2] == {"subject": OTHER[0]}
    # A report: the subject is the session's; a subject in the body is refused.
    doc = error(post(s, env.url + "/api/me/reports", {"gateway": BCA, "message_id": "m-7",
                                                       "subject": OTHER[0]}), 422,
                "validation")
    assert doc["fields"] == {"subject": "unknown"}
    doc = error(post(s, env.url + "/api/me/reports", {"note": 5, "gateway": "x"}), 422,
                "validation")
    assert doc["fields"] == {"note": "invalid", "gateway": "invalid", "message_id": "required"}
    error(post(s, env.url + "/api/me/reports", {"gateway": BCA, "message_id": "m-7"},
               csrf="nope"), 403, "csrf")
    r = post(s, env.url + "/api/me/reports", {"gateway": BCA, "message_id": "m-7",
                                              "note": "Tôi không làm thủ tục nào"})
    assert r.status_code == 201 and r.json() == {"status": "reported", "case": 9}, r.text
    # The access list names the provider; each of its gateways is asked in turn.
    tried = [c[3]["gateway"] for c in env.monitor.asked("POST", "/api/subject-reports")][-2:]
    assert tried == [f"{BCA}/gw0", f"{BCA}/gw1"], tried
    assert env.monitor.reports[-1] == {"subject": CITIZEN[0], "gateway": f"{BCA}/gw1",
                                       "message_id": "m-7", "note": "Tôi không làm thủ tục nào"}
    r = post(s, env.url + "/api/me/reports", {"gateway": f"{BCA}/gw1", "message_id": "m-7"})
    assert r.status_code == 200 and r.json()["status"] == "already_reported", r.text
    assert env.monitor.asked("POST", "/api/subject-reports")[-1][3]["gateway"] == f"{BCA}/gw1"
    error(post(s, env.url + "/api/me/reports", {"gateway": BCA, "message_id": "unknown"}), 404,
          "unknown_read")
    error(post(s, env.url + "/api/me/reports", {"gateway": TCT, "message_id": "m-7"}), 404,
          "unknown_read")
    # An officer's session is no citizen's.
    error(officer_session(env).get(env.url + "/api/me/misuse", timeout=10), 403, "forbidden")


def test_monitor_down_and_not_configured(env):
    s = sign_in(env, OPERATOR)
    env.monitor.stop()
    try:
        error(s.get(env.url + "/api/ops/cases", timeout=10), 503, "monitor_unavailable")
        error(s.get(env.url + "/api/ops/cases/c3", timeout=10), 503, "monitor_unavailable")
        error(post(s, env.url + "/api/ops/cases/c3/triage", {"action": "confirm"}), 503,
              "monitor_unavailable")
        error(s.get(env.url + "/api/me/misuse", timeout=10), 503, "monitor_unavailable")
        error(post(s, env.url + "/api/me/reports", {"gateway": BCA, "message_id": "m-8"}), 503,
              "monitor_unavailable")
    finally:
        env.monitor.start()
    assert s.get(env.url + "/api/ops/cases", timeout=10).status_code == 200
    # Without a monitor object: the citizen's API says so, and no push thread.
    d = env.workdir
    cfg = dict(env.cfg)
    del cfg["monitor"]
    port = free_port()
    cfg["listen"], cfg["public_url"] = f"127.0.0.1:{port}", f"http://127.0.0.1:{port}"
    (d / "bare.json").write_text(json.dumps(cfg))
    bare = Proc("bare-portal", [env.exe, "serve", "--config", d / "bare.json"],
                cfg["public_url"], d).start()
    try:
        c = sign_in(env, CITIZEN, cfg["public_url"])
        error(c.get(cfg["public_url"] + "/api/me/misuse", timeout=10), 503,
              "monitor_unavailable")
        error(post(c, cfg["public_url"] + "/api/me/reports",
                   {"gateway": BCA, "message_id": "m-8"}), 503, "monitor_unavailable")
        o = sign_in(env, OPERATOR, cfg["public_url"])
        error(o.get(cfg["public_url"] + "/api/ops/cases", timeout=10), 503, "not_configured")
        text = requests.get(cfg["public_url"] + "/metrics", timeout=10).text
        assert "procedures_push" not in text
        assert "procedures push" not in bare.stderr_path.read_text()
    finally:
        assert bare.stop() == 0
