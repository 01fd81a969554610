"""End-to-end tests of the administration of the portal's officers and officials
(docs/portal.md "Administration", issue 21): real sign-ins of officials through the
OpenID Connect code flow against the test e-ID of test_portal.py, officers signing in
with the passwords the portal made, and the API under /api/admin/.

Covered: each role's allowed and refused actions with their statuses (an operator
manages every officer and official; an agency official only its own member's officers
and reads its own member's officials; an auditor reads and changes nothing; a citizen
who is no official and an officer 403 not_official; no session 401); a write without
the CSRF token refused 403 csrf and nothing changed; bad input 400 naming each field;
the password made by the portal shown once, stored as an Argon2id hash, and working at
the officer's sign-in; a reset password and a removed officer ending the officer's
session at once; an official cannot remove themself nor leave the federation without
an operator; and the audit trail in portal.db and through the API, each change with
the official who made it and when."""

import json
import os
import pwd
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse
from datetime import datetime, timezone
from pathlib import Path

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

from conftest import free_port  # noqa: E402
from test_portal import CLIENT_ID, CLIENT_SECRET, FakeEid, Proc, exe  # noqa: E402

TCT, BCA, VPCP = "VN/GOV/TCT", "VN/GOV/BCA", "VN/GOV/VPCP"
# Valid personal numbers (province, century/sex digit, year, serial).
OPERATOR = ("001085000111", "Nguyễn Quản Trị")
AGENCY = ("079190000212", "Trần Thị Thuế Vụ")
AUDITOR = ("048088000313", "Lê Kiểm Toán Viên")
CITIZEN = ("031095000414", "Phạm Công Dân")
NEWCOMER = ("001190000515", "Đỗ Mới Vào")
OFFICER_PW = "mật-khẩu-cán-bộ-bca"


class Env:
    pass


def portal_cmd(env, *args):
    return subprocess.run([str(env.exe), *args], capture_output=True, text=True, timeout=30)


@pytest.fixture(scope="module")
def env(build_dir):
    e = Env()
    e.exe = exe(build_dir, "src", "portal", "ndx-portal")
    e.workdir = Path(tempfile.mkdtemp(prefix="ndx-portal-admin-"))
    e.eid, e.portal = FakeEid(), None
    d = e.workdir
    (d / "web").mkdir()
    (d / "web" / "index.html").write_text("<!doctype html><title>ndx</title>")
    (d / "client.secret").write_text(CLIENT_SECRET + "\n")
    e.port = free_port()
    e.url = f"http://127.0.0.1:{e.port}"
    cfg = {"listen": f"127.0.0.1:{e.port}", "public_url": e.url, "data_dir": "data",
           "web_dir": "web",
           "oidc": {"issuer": e.eid.issuer, "client_id": CLIENT_ID,
                    "client_secret_file": "client.secret"},
           "exchange": {"consumer_url": "http://127.0.0.1:9", "client": "VN/GOV/VPCP/portal"}}
    e.config = d / "portal.json"
    e.config.write_text(json.dumps(cfg, indent=2))
    e.db = d / "data" / "portal.db"
    # The command line bootstraps: the first operator, and the others for the test.
    for who, role, member in ((OPERATOR, "operator", VPCP), (AGENCY, "agency", TCT),
                              (AUDITOR, "auditor", VPCP)):
        r = portal_cmd(e, "official", "add", "--config", str(e.config), "--pin", who[0],
                       "--name", who[1], "--role", role, "--member", member)
        assert r.returncode == 0, r.stderr
    pw = d / "pw"
    pw.write_text(OFFICER_PW + "\n")
    r = portal_cmd(e, "officer", "add", "--config", str(e.config), "--username", "canbo.bca",
                   "--name", "Cán bộ Công an", "--agency", BCA, "--password-file", str(pw),
                   "--cost", "min")
    assert r.returncode == 0, r.stderr
    try:
        e.portal = Proc("portal", [e.exe, "serve", "--config", e.config], e.url, d).start()
        yield e
    finally:
        rc = e.portal.stop() if e.portal else 0
        e.eid.stop()
    assert rc == 0, e.portal.tail()


class Official:
    """A signed-in official's browser: GET and POST with the session's CSRF token."""

    def __init__(self, env, who):
        env.eid.user, env.eid.mode = who, "good"
        self.env, self.s = env, requests.Session()
        r = self.s.get(env.url + "/auth/login?next=/admin/officers", timeout=20)
        assert r.status_code == 200 and urllib.parse.urlsplit(r.url).path == "/admin/officers", r.url
        self.csrf = self.s.get(env.url + "/api/session", timeout=10).json()["csrf"]

    def get(self, path):
        return self.s.get(self.env.url + path, timeout=10)

    def post(self, path, body=None, csrf=True):
        headers = {"X-CSRF-Token": self.csrf} if csrf else {}
        return self.s.post(self.env.url + path, json=body if body is not None else {},
                           headers=headers, timeout=30)


def officer_session(env, username, password):
    s = requests.Session()
    tok = s.get(env.url + "/auth/officer", timeout=10).json()["csrf"]
    r = s.post(env.url + "/auth/officer", json={"username": username, "password": password},
               headers={"X-CSRF-Token": tok}, timeout=20)
    return s, r


def error(r, status, code):
    assert r.status_code == status, f"{r.status_code} {r.text}"
    assert r.json()["error"] == code, r.text
    return r.json()


def audit_rows(env):
    db = sqlite3.connect(f"file:{env.db}?mode=ro", uri=True)
    try:
        return db.execute("SELECT at, actor_pin, actor_name, actor_role, actor_member, action,"
                          " target, target_name, member, detail FROM admin_audit"
                          " ORDER BY id").fetchall()
    finally:
        db.close()


def officers(env):
    db = sqlite3.connect(f"file:{env.db}?mode=ro", uri=True)
    try:
        return {r[0]: r[1:] for r in db.execute(
            "SELECT username, name, agency, password_hash FROM officers")}
    finally:
        db.close()


def test_who_is_refused(env):
    for path in ("/api/admin/officers", "/api/admin/officials", "/api/admin/audit"):
        error(requests.get(env.url + path, timeout=10), 401, "unauthenticated")
    c = Official(env, CITIZEN)
    for path in ("/api/admin/officers", "/api/admin/officials", "/api/admin/audit"):
        error(c.get(path), 403, "not_official")
    error(c.post("/api/admin/officers", {"username": "x", "name": "X", "agency": TCT}), 403,
          "not_official")
    o, r = officer_session(env, "canbo.bca", OFFICER_PW)
    assert r.status_code == 200, r.text
    error(o.get(env.url + "/api/admin/officers", timeout=10), 403, "not_official")
    text = env.portal.stderr_path.read_text(errors="replace")
    assert "admin: refused GET /api/admin/officers (a citizen)" in text
    assert "(an officer's session)" in text
    assert CITIZEN[0] not in text
    # Routes and methods.
    op = Official(env, OPERATOR)
    error(op.get("/api/admin/nothing"), 404, "not_found")
    error(op.get("/api/admin/officers/canbo.bca/other"), 404, "not_found")
    r = op.s.delete(env.url + "/api/admin/officers/canbo.bca", timeout=10)
    assert r.status_code == 405 and r.headers["Allow"] == "POST", r.text
    r = op.post("/api/admin/audit", {})
    assert r.status_code == 405, r.text


def test_operator_manages_officers(env):
    op = Official(env, OPERATOR)
    r = op.post("/api/admin/officers", {"username": "canbo.thue", "name": "Cán bộ Thuế",
                                        "agency": TCT})
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["officer"] == {"username": "canbo.thue", "name": "Cán bộ Thuế", "agency": TCT}
    password = out["password"]
    assert len(password) == 24 and password.count("-") == 4, password
    # Stored as an Argon2id hash, never in clear.
    stored = officers(env)["canbo.thue"]
    assert stored[1] == TCT and stored[2].startswith("$argon2id$"), stored
    assert password not in stored[2]
    assert password not in env.portal.stderr_path.read_text(errors="replace")
    # The officer signs in with it.
    s, r = officer_session(env, "canbo.thue", password)
    assert r.status_code == 200 and r.json()["agency"] == TCT, r.text
    # Listed; a user name taken is 409 naming the field.
    names = [o["username"] for o in op.get("/api/admin/officers").json()["officers"]]
    assert names == ["canbo.bca", "canbo.thue"], names
    e = error(op.post("/api/admin/officers", {"username": "canbo.thue", "name": "X",
                                              "agency": TCT}), 409, "conflict")
    assert e["fields"] == {"username": "duplicate"}, e
    # Renamed: the open session shows the new name.
    r = op.post("/api/admin/officers/canbo.thue", {"name": "Cán bộ Thuế Mới"})
    assert r.status_code == 200 and r.json()["officer"]["name"] == "Cán bộ Thuế Mới", r.text
    assert s.get(env.url + "/api/session", timeout=10).json()["name"] == "Cán bộ Thuế Mới"
    # A reset password ends the session; the new one works, the old one not.
    r = op.post("/api/admin/officers/canbo.thue/password")
    assert r.status_code == 200, r.text
    again = r.json()["password"]
    assert again != password
    assert s.get(env.url + "/api/session", timeout=10).json() == {"authenticated": False}
    error(s.get(env.url + "/api/officer/procedures", timeout=10), 401, "unauthenticated")
    _, r = officer_session(env, "canbo.thue", password)
    assert r.status_code == 401, r.text
    s, r = officer_session(env, "canbo.thue", again)
    assert r.status_code == 200, r.text
    # Removed: the session ends at once, the sign-in is refused.
    r = op.post("/api/admin/officers/canbo.thue/remove")
    assert r.status_code == 200 and r.json()["status"] == "removed", r.text
    assert s.get(env.url + "/api/session", timeout=10).json() == {"authenticated": False}
    error(s.get(env.url + "/api/officer/procedures", timeout=10), 401, "unauthenticated")
    _, r = officer_session(env, "canbo.thue", again)
    assert r.status_code == 401, r.text
    assert "canbo.thue" not in officers(env)
    error(op.post("/api/admin/officers/canbo.thue/remove"), 404, "not_found")
    error(op.post("/api/admin/officers/canbo.thue", {"name": "X"}), 404, "not_found")


def test_csrf_refused(env):
    op = Official(env, OPERATOR)
    before = officers(env)
    n = len(audit_rows(env))
    for path, body in (("/api/admin/officers", {"username": "canbo.csrf", "name": "X",
                                                "agency": TCT}),
                       ("/api/admin/officers/canbo.bca/password", {}),
                       ("/api/admin/officers/canbo.bca/remove", {}),
                       ("/api/admin/officials", {"pin": NEWCOMER[0], "name": "X",
                                                 "role": "auditor", "member": VPCP})):
        error(op.post(path, body, csrf=False), 403, "csrf")
        r = op.s.post(env.url + path, json=body, headers={"X-CSRF-Token": "0" * 64},
                      timeout=10)
        error(r, 403, "csrf")
    assert officers(env) == before
    assert len(audit_rows(env)) == n
    assert "officials" in op.get("/api/admin/officials").json()


def test_bad_input_names_fields(env):
    op = Official(env, OPERATOR)
    e = error(op.post("/api/admin/officers", {"username": "có dấu", "name": "",
                                              "agency": "VN/GOV", "role": "x"}), 400, "invalid")
    assert e["fields"] == {"username": "format", "name": "required", "agency": "format",
                           "role": "unknown"}, e
    e = error(op.post("/api/admin/officers", {"username": "a" * 65, "name": "X" * 300,
                                              "agency": 5}), 400, "invalid")
    assert e["fields"] == {"username": "too_long", "name": "too_long", "agency": "format"}, e
    e = error(op.post("/api/admin/officers", {}), 400, "invalid")
    assert e["fields"] == {"username": "required", "name": "required", "agency": "required"}
    r = op.s.post(env.url + "/api/admin/officers", data=b"[1]", timeout=10,
                  headers={"X-CSRF-Token": op.csrf, "Content-Type": "application/json"})
    error(r, 400, "invalid")
    e = error(op.post("/api/admin/officials", {"pin": "12345", "name": "X", "role": "king",
                                               "member": "VN"}), 400, "invalid")
    assert e["fields"] == {"pin": "format", "role": "format", "member": "format"}, e
    e = error(op.post(f"/api/admin/officials/{AUDITOR[0]}", {"name": "", "role": "auditor"}),
              400, "invalid")
    assert e["fields"] == {"name": "required", "member": "required"}, e
    e = error(op.post("/api/admin/officers/canbo.bca/password", {"password": "mine"}), 400,
              "invalid")
    assert e["fields"] == {"password": "unknown"}, e
    e = error(op.get("/api/admin/audit?limit=0"), 400, "invalid")
    assert e["fields"] == {"limit": "range"}, e
    error(op.post("/api/admin/officials/12345/remove"), 404, "not_found")


def test_agency_official(env):
    op = Official(env, OPERATOR)
    assert op.post("/api/admin/officers", {"username": "canbo.tct2", "name": "Cán bộ Thuế 2",
                                           "agency": TCT}).status_code == 201
    ag = Official(env, AGENCY)
    out = ag.get("/api/admin/officers").json()
    assert out["can_change"] is True and out["member"] == TCT, out
    assert [o["username"] for o in out["officers"]] == ["canbo.tct2"], out
    # Adds its own member's officer (the agency may be left out), not another's.
    r = ag.post("/api/admin/officers", {"username": "canbo.tct3", "name": "Cán bộ Thuế 3"})
    assert r.status_code == 201 and r.json()["officer"]["agency"] == TCT, r.text
    error(ag.post("/api/admin/officers", {"username": "canbo.bca2", "name": "X",
                                          "agency": BCA}), 403, "forbidden")
    assert "canbo.bca2" not in officers(env)
    assert ag.post("/api/admin/officers/canbo.tct3", {"name": "Cán bộ Ba"}).status_code == 200
    assert ag.post("/api/admin/officers/canbo.tct3/password").status_code == 200
    assert ag.post("/api/admin/officers/canbo.tct3/remove").status_code == 200
    # Another member's officer: refused, untouched.
    before = officers(env)["canbo.bca"]
    for path, body in (("/api/admin/officers/canbo.bca", {"name": "X"}),
                       ("/api/admin/officers/canbo.bca/password", {}),
                       ("/api/admin/officers/canbo.bca/remove", {})):
        error(ag.post(path, body), 403, "forbidden")
    assert officers(env)["canbo.bca"] == before
    assert "admin: refused POST /api/admin/officers/canbo.bca/remove (agency official of " \
           "VN/GOV/TCT)" in env.portal.stderr_path.read_text(errors="replace")
    # Sees its member's officials, without their numbers; changes none.
    out = ag.get("/api/admin/officials").json()
    assert out["can_change"] is False
    assert [(o["name"], o["role"], o["member"]) for o in out["officials"]] == \
        [(AGENCY[1], "agency", TCT)], out
    assert "pin" not in out["officials"][0] and out["officials"][0]["pin_hint"].endswith("0212")
    error(ag.post("/api/admin/officials", {"pin": NEWCOMER[0], "name": "X", "role": "agency",
                                           "member": TCT}), 403, "forbidden")
    error(ag.post(f"/api/admin/officials/{AGENCY[0]}", {"name": "X", "role": "operator",
                                                        "member": TCT}), 403, "forbidden")
    # Its audit trail: its own member's rows only.
    rows = ag.get("/api/admin/audit").json()["entries"]
    assert rows and all(r["member"] == TCT for r in rows), rows
    assert not any(r["target"] == "canbo.bca" for r in rows)


def test_auditor_reads_only(env):
    au = Official(env, AUDITOR)
    out = au.get("/api/admin/officers").json()
    assert out["can_change"] is False and out["member"] is None
    assert "canbo.bca" in [o["username"] for o in out["officers"]]
    out = au.get("/api/admin/officials").json()
    assert out["can_change"] is False and len(out["officials"]) >= 3
    assert all("pin" not in o for o in out["officials"])
    assert au.get("/api/admin/audit").status_code == 200
    before, n = officers(env), len(audit_rows(env))
    for path, body in (("/api/admin/officers", {"username": "canbo.kt", "name": "X",
                                                "agency": TCT}),
                       ("/api/admin/officers/canbo.bca", {"name": "X"}),
                       ("/api/admin/officers/canbo.bca/password", {}),
                       ("/api/admin/officers/canbo.bca/remove", {}),
                       ("/api/admin/officials", {"pin": NEWCOMER[0], "name": "X",
                                                 "role": "auditor", "member": VPCP}),
                       (f"/api/admin/officials/{AGENCY[0]}/remove", {})):
        error(au.post(path, body), 403, "forbidden")
    assert officers(env) == before and len(audit_rows(env)) == n


def test_operator_manages_officials(env):
    op = Official(env, OPERATOR)
    out = op.get("/api/admin/officials").json()
    assert out["can_change"] is True
    mine = [o for o in out["officials"] if o["self"]]
    assert [o["pin"] for o in mine] == [OPERATOR[0]], out
    # A newcomer: added, signs in as an official, changed, removed (effect at once).
    r = op.post("/api/admin/officials", {"pin": NEWCOMER[0], "name": NEWCOMER[1],
                                         "role": "agency", "member": BCA})
    assert r.status_code == 201, r.text
    e = error(op.post("/api/admin/officials", {"pin": NEWCOMER[0], "name": NEWCOMER[1],
                                               "role": "agency", "member": BCA}), 409,
              "conflict")
    assert e["fields"] == {"pin": "duplicate"}
    nc = Official(env, NEWCOMER)
    out = nc.get("/api/admin/officers").json()
    assert out["member"] == BCA and [o["username"] for o in out["officers"]] == ["canbo.bca"]
    r = op.post(f"/api/admin/officials/{NEWCOMER[0]}", {"name": NEWCOMER[1], "role": "auditor",
                                                         "member": VPCP})
    assert r.status_code == 200 and r.json()["official"]["role"] == "auditor", r.text
    assert nc.get("/api/admin/officers").json()["can_change"] is False
    assert op.post(f"/api/admin/officials/{NEWCOMER[0]}/remove").status_code == 200
    error(nc.get("/api/admin/officers"), 403, "not_official")
    error(op.post(f"/api/admin/officials/{NEWCOMER[0]}/remove"), 404, "not_found")
    # Not themself; never the last operator.
    error(op.post(f"/api/admin/officials/{OPERATOR[0]}/remove"), 409, "self")
    error(op.post(f"/api/admin/officials/{OPERATOR[0]}", {"name": OPERATOR[1],
                                                          "role": "auditor",
                                                          "member": VPCP}), 409,
          "last_operator")
    # With a second operator, the first may step down; the second cannot then be demoted.
    assert op.post("/api/admin/officials", {"pin": NEWCOMER[0], "name": NEWCOMER[1],
                                            "role": "operator",
                                            "member": VPCP}).status_code == 201
    nc = Official(env, NEWCOMER)
    r = op.post(f"/api/admin/officials/{OPERATOR[0]}", {"name": OPERATOR[1], "role": "auditor",
                                                         "member": VPCP})
    assert r.status_code == 200, r.text
    error(op.post(f"/api/admin/officials/{NEWCOMER[0]}/remove"), 403, "forbidden")
    error(nc.post(f"/api/admin/officials/{NEWCOMER[0]}", {"name": NEWCOMER[1],
                                                          "role": "agency",
                                                          "member": BCA}), 409,
          "last_operator")
    # Put back as it was.
    assert nc.post(f"/api/admin/officials/{OPERATOR[0]}", {
        "name": OPERATOR[1], "role": "operator", "member": VPCP}).status_code == 200
    assert Official(env, OPERATOR).post(f"/api/admin/officials/{NEWCOMER[0]}/remove") \
        .status_code == 200


def test_audit_trail(env):
    op = Official(env, OPERATOR)
    t0 = int(time.time())
    assert op.post("/api/admin/officers", {"username": "canbo.audit", "name": "Cán bộ Kiểm",
                                           "agency": BCA}).status_code == 201
    assert op.post("/api/admin/officers/canbo.audit", {"name": "Cán bộ Kiểm 2"}) \
        .status_code == 200
    assert op.post("/api/admin/officers/canbo.audit/password").status_code == 200
    assert op.post("/api/admin/officers/canbo.audit/remove").status_code == 200
    t1 = int(time.time())
    rows = [r for r in audit_rows(env) if r[6] == "canbo.audit"]
    assert [r[5] for r in rows] == ["officer.add", "officer.rename", "officer.password",
                                    "officer.remove"], rows
    for r in rows:
        assert t0 <= r[0] <= t1
        assert r[1:5] == (OPERATOR[0], OPERATOR[1], "operator", VPCP), r
        assert r[8] == BCA
    assert '"from":"Cán bộ Kiểm"' in rows[1][9] and '"to":"Cán bộ Kiểm 2"' in rows[1][9]
    # No password, no hash in the trail.
    assert all("argon2" not in r[9] and "password" not in r[9] for r in rows)
    # The changes of the other tests are there too, each by its official.
    actions = {(r[5], r[2]) for r in audit_rows(env)}
    assert ("officer.add", AGENCY[1]) in actions
    assert ("official.add", OPERATOR[1]) in actions
    assert ("official.change", NEWCOMER[1]) in actions
    # Through the API: newest first, the official by name, role and member, no PIN.
    entries = op.get("/api/admin/audit?limit=4").json()["entries"]
    assert [x["action"] for x in entries] == ["officer.remove", "officer.password",
                                              "officer.rename", "officer.add"], entries
    e = entries[0]
    assert e["actor"] == {"name": OPERATOR[1], "role": "operator", "member": VPCP}, e
    assert e["target"] == "canbo.audit" and e["member"] == BCA
    at = datetime.fromisoformat(e["at"].replace("Z", "+00:00"))
    assert abs(at.timestamp() - t1) < 5 and at.tzinfo == timezone.utc
    # Official rows: the operator reads the PIN changed, the auditor only its end.
    full = [x for x in op.get("/api/admin/audit").json()["entries"]
            if x["action"] == "official.add" and x["target_name"] == NEWCOMER[1]]
    assert full and full[0]["target"] == NEWCOMER[0]
    au = Official(env, AUDITOR)
    seen = [x for x in au.get("/api/admin/audit").json()["entries"]
            if x["action"] == "official.add" and x["target_name"] == NEWCOMER[1]]
    assert seen and seen[0]["target"] == "********" + NEWCOMER[0][-4:]
    assert NEWCOMER[0] not in au.get("/api/admin/audit").text


def test_cli_help_says_bootstrap(env):
    r = portal_cmd(env, "--help")
    assert r.returncode == 0 and "/admin/officers" in r.stdout and "first operator" in r.stdout
    r = portal_cmd(env, "official", "--help")
    assert r.returncode == 0 and "first operator" in r.stdout


def test_cli_changes_are_audited(env):
    """`officer add` and `official add|remove` on the command line write their
    row in admin_audit in the same transaction, with the command line as the
    actor ("cli:USER", role cli, no PIN, no member: docs/portal.md
    "Administration"), shown on /admin/audit like the pages' own rows."""
    me = "cli:" + pwd.getpwuid(os.geteuid()).pw_name
    rows = audit_rows(env)
    # The fixture's bootstrap is in the trail too.
    boot = [r for r in rows if r[3] == "cli" and r[5] == "official.add"]
    assert {r[6] for r in boot} >= {OPERATOR[0], AGENCY[0], AUDITOR[0]}, rows
    assert all(r[1] == "" and r[2].startswith(me) and r[4] == "" for r in boot), boot
    assert any(r[3] == "cli" and r[5] == "officer.add" and r[6] == "canbo.bca" for r in rows)

    pw = env.workdir / "pw-cli"
    pw.write_text("mật-khẩu-dòng-lệnh\n")
    add = ("officer", "add", "--config", str(env.config), "--username", "canbo.cli",
           "--agency", BCA, "--password-file", str(pw), "--cost", "min")
    r = portal_cmd(env, *add, "--name", "Cán bộ Dòng Lệnh")
    assert r.returncode == 0 and "added" in r.stdout, r.stderr
    s, r = officer_session(env, "canbo.cli", "mật-khẩu-dòng-lệnh")
    assert r.status_code == 200, r.text
    # Run again (a new name and password): an update, and the session opened
    # with the old password ends, as a reset on the pages.
    pw.write_text("mật-khẩu-mới-dòng-lệnh\n")
    r = portal_cmd(env, *add, "--name", "Cán bộ Dòng Lệnh 2")
    assert r.returncode == 0 and "updated" in r.stdout, r.stderr
    assert s.get(env.url + "/api/session", timeout=10).json() == {"authenticated": False}
    r = portal_cmd(env, "official", "add", "--config", str(env.config), "--pin", CITIZEN[0],
                   "--name", CITIZEN[1], "--role", "auditor", "--member", BCA)
    assert r.returncode == 0, r.stderr
    r = portal_cmd(env, "official", "add", "--config", str(env.config), "--pin", CITIZEN[0],
                   "--name", CITIZEN[1], "--role", "agency", "--member", BCA)
    assert r.returncode == 0 and "updated" in r.stdout, r.stderr
    r = portal_cmd(env, "official", "remove", "--config", str(env.config), "--pin", CITIZEN[0])
    assert r.returncode == 0, r.stderr
    # Refused on the command line: nothing changed, nothing audited.
    before = len(audit_rows(env))
    r = portal_cmd(env, "official", "remove", "--config", str(env.config), "--pin", CITIZEN[0])
    assert r.returncode == 1 and "no official" in r.stderr
    assert len(audit_rows(env)) == before

    mine = [r for r in audit_rows(env) if r[6] in ("canbo.cli", CITIZEN[0])]
    assert [(r[5], r[6]) for r in mine] == [
        ("officer.add", "canbo.cli"), ("officer.update", "canbo.cli"),
        ("official.add", CITIZEN[0]), ("official.change", CITIZEN[0]),
        ("official.remove", CITIZEN[0])], mine
    for r in mine:
        assert r[1:5] == ("", r[2], "cli", "") and r[2].startswith(me), r
        assert r[8] == BCA
        assert "argon2" not in r[9] and "mật-khẩu" not in r[9] and "password" not in r[9]
    assert json.loads(mine[1][9]) == {"from": {"name": "Cán bộ Dòng Lệnh", "agency": BCA},
                                      "to": {"name": "Cán bộ Dòng Lệnh 2", "agency": BCA}}
    assert json.loads(mine[3][9])["from"]["role"] == "auditor"
    assert json.loads(mine[3][9])["to"]["role"] == "agency"

    # Through the API and so on /admin/audit: the command line by its name.
    entries = Official(env, OPERATOR).get("/api/admin/audit?limit=5").json()["entries"]
    assert [x["action"] for x in entries] == ["official.remove", "official.change",
                                              "official.add", "officer.update",
                                              "officer.add"], entries
    assert entries[0]["actor"]["role"] == "cli" and entries[0]["actor"]["name"].startswith(me)
    assert entries[0]["actor"]["member"] == ""
