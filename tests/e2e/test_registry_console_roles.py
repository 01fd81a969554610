"""End-to-end tests of the registry console's four roles (docs/console.md "Roles"),
enforced by the management API, not only by the pages: each role signs in through
the test e-ID (test_portal.py's FakeEid) and calls /api/ with its console session.

- national operator: changes everything the management API changes; a member, a
  revocation, an embargo and an official made through the console are in the audit
  trail under the official's PIN and name, and the federation changes in the next
  signed configuration (/conf).
- agency administrator (role `agency`, with a member): reads the federation; adds and
  removes its own member's subsystems and services (with their OpenAPI documents),
  sets their bulk purposes, adds and removes the grants on its services; is refused
  (403) another member's, every other change, the officials and the audit trail.
- data protection officer (`dpo`): reads the services (personal-data settings and
  purposes), consent services, embargoes, id providers, the overview and the audit
  trail; is refused (403) every other read and every change.
- auditor: reads everything, changes nothing (and test_registry_console.py).

Besides: `ndx-registry official add --role agency --member ID` and its refusals, the
officials API with a member, /console/auth/me naming the member."""

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
AGENCY = ("079190000505", "Đỗ Quản Trị")
DPO = ("001190000606", "Vũ Bảo Vệ")
TCT, BCA, BHXH = "VN/GOV/TCT", "VN/GOV/BCA", "VN/GOV/BHXH"
SERVICE = "VN/GOV/BCA/population/citizens"          # the agency's (BCA's)
OTHER_SERVICE = "VN/GOV/BHXH/insurance/records"    # another member's
OPENAPI = {"openapi": "3.0.3", "info": {"title": "Hộ tịch", "version": "1"},
           "paths": {"/births": {"get": {"responses": {"200": {"description": "ok"}}}}}}


def official(reg, *args):
    return subprocess.run([str(reg.exe), "official", *args, "--data", str(reg.data_dir)],
                          capture_output=True, text=True, timeout=30)


@pytest.fixture(scope="module")
def env(build_dir, tmp_path_factory):
    work = tmp_path_factory.mktemp("console-roles")
    eid = FakeEid()
    secret = work / "client.secret"
    secret.write_text(CLIENT_SECRET + "\n")
    reg = Registry(registry_exe(build_dir), work, extra=[
        "--console-eid", eid.issuer, "--console-client", CLIENT_ID,
        "--console-secret-file", str(secret), "--web", str(ROOT / "web"),
        "--assets", str(ROOT / "node_modules" / "govuk-frontend" / "dist" / "govuk")])
    reg.start()
    for mid, name in ((TCT, "Cục Thuế"), (BCA, "Bộ Công an"), (BHXH, "Bảo hiểm xã hội")):
        assert reg.api("POST", "/api/members", json={"id": mid, "name": name}).status_code == 201
    for sub in (TCT + "/tax", BCA + "/population", BHXH + "/insurance"):
        assert reg.api("POST", "/api/subsystems", json={"id": sub}).status_code == 201
    for sid in (SERVICE, OTHER_SERVICE):
        r = reg.api("POST", "/api/services", json={"id": sid, "title": "x", "personal": True,
                                                   "purposes": ["tax-assessment", "statistics"],
                                                   "consent_required": False})
        assert r.status_code == 201, r.text
    for who, role, member in ((OPERATOR, "operator", None), (AUDITOR, "auditor", None),
                              (AGENCY, "agency", BCA), (DPO, "dpo", None)):
        args = ["add", who[0], "--name", who[1], "--role", role]
        r = official(reg, *args, *(["--member", member] if member else []))
        assert r.returncode == 0, r.stderr
    reg.eid = eid
    try:
        yield reg
    finally:
        rc = reg.stop()
        eid.stop()
        assert rc == 0, reg.tail()


class Session:
    """A signed-in official's browser: its session cookie and CSRF token."""

    def __init__(self, reg, who):
        reg.eid.user, reg.eid.mode = who, "good"
        self.reg, self.s = reg, requests.Session()
        r = self.s.get(reg.url + "/console/auth/login?next=/console/", timeout=20)
        assert r.status_code == 200 and urllib.parse.urlsplit(r.url).path == "/console/", r.url
        self.me = self.s.get(reg.url + "/console/auth/me", timeout=10).json()

    def call(self, method, path, body=None):
        headers = {} if method in ("GET", "HEAD") else {"X-CSRF-Token": self.me["csrf"]}
        return self.s.request(method, self.reg.url + path, json=body, headers=headers, timeout=10)


def refused(r, status, detail=None):
    assert r.status_code == status, f"{r.status_code} {r.text}"
    if detail:
        assert detail in (r.json().get("detail") or ""), r.text


def conf(reg):
    return requests.get(reg.url + "/conf", timeout=10).json()


def audit(reg, actor, action):
    q = {k: v for k, v in (("actor", actor), ("action", action)) if v}
    return reg.api("GET", "/api/audit?" + urllib.parse.urlencode(q)).json()["audit"]


def test_official_add_member_and_refusals(env):
    r = official(env, "list")
    assert r.returncode == 0
    assert f"{AGENCY[0]}\tagency\t{AGENCY[1]}\t{BCA}" in r.stdout.splitlines()
    assert f"{DPO[0]}\tdpo\t{DPO[1]}" in r.stdout.splitlines()
    for args, text in ((("add", CITIZEN_PIN, "--name", "X", "--role", "agency"), "required"),
                       (("add", CITIZEN_PIN, "--name", "X", "--role", "dpo", "--member", BCA),
                        "only for --role agency"),
                       (("add", CITIZEN_PIN, "--name", "X", "--role", "agency", "--member",
                         "VN/GOV"), "--member"),
                       (("add", CITIZEN_PIN, "--name", "X", "--role", "agency", "--member",
                         "VN/GOV/NONE"), "no member VN/GOV/NONE")):
        r = official(env, *args)
        assert r.returncode != 0 and text in r.stderr, (args, r.stderr)
    assert CITIZEN_PIN not in official(env, "list").stdout
    detail = audit(env, "cli", "official.add")
    assert any(a["object"] == AGENCY[0] and a["detail"]["member"] == BCA for a in detail), detail


CITIZEN_PIN = "031095000404"


def test_me_names_the_member(env):
    assert Session(env, AGENCY).me["member"] == BCA and Session(env, AGENCY).me["role"] == "agency"
    me = Session(env, DPO).me
    assert me["role"] == "dpo" and me["member"] is None


def test_operator_changes_land_in_audit_and_conf(env):
    op = Session(env, OPERATOR)
    actor = f"official:{OPERATOR[0]} ({OPERATOR[1]})"
    before = env.conf_version()
    r = op.call("POST", "/api/members", {"id": "VN/GOV/BTP", "name": "Bộ Tư pháp"})
    assert r.status_code == 201, r.text
    r = op.call("POST", "/api/revocations", {"kind": "key", "value": "ab" * 32,
                                             "reason": "khoá bị lộ"})
    assert r.status_code == 201, r.text
    r = op.call("PUT", "/api/embargoes/investigation", {"seconds": 86400})
    assert r.status_code == 201, r.text
    assert env.conf_version() == before + 3
    doc = conf(env)
    assert any(m["id"] == "VN/GOV/BTP" for m in doc["members"])
    assert any(x["value"] == "ab" * 32 for x in doc["revocations"]), doc["revocations"]
    assert any(x["purpose"] == "investigation" for x in doc["embargoes"]), doc["embargoes"]
    got = {(a["action"], a["object"]) for a in audit(env, OPERATOR[0], "")
           if a["actor"] == actor}
    assert {("member.add", "VN/GOV/BTP"), ("embargo.set", "investigation")} <= got, got
    assert any(a[0] == "revocation.add" for a in got), got
    # An agency administrator through the officials API: a member is required and must exist.
    for body, status in (({"subject": CITIZEN_PIN, "name": "X", "role": "agency"}, 400),
                         ({"subject": CITIZEN_PIN, "name": "X", "role": "dpo", "member": BCA}, 400),
                         ({"subject": CITIZEN_PIN, "name": "X", "role": "agency",
                           "member": "VN/GOV/NONE"}, 404)):
        refused(op.call("POST", "/api/officials", body), status)
    r = op.call("POST", "/api/officials", {"subject": CITIZEN_PIN, "name": "Phạm Cán Bộ",
                                           "role": "agency", "member": "VN/GOV/BTP"})
    assert r.status_code == 201 and r.json()["member"] == "VN/GOV/BTP", r.text
    assert Session(env, (CITIZEN_PIN, "Phạm Cán Bộ")).me["member"] == "VN/GOV/BTP"
    assert op.call("DELETE", f"/api/officials/{CITIZEN_PIN}").status_code == 200
    # Removing what the console added: members and embargoes go from the next configuration.
    assert op.call("DELETE", "/api/embargoes/investigation").status_code == 200
    assert op.call("DELETE", "/api/members/VN/GOV/BTP").status_code == 200
    doc = conf(env)
    assert not any(m["id"] == "VN/GOV/BTP" for m in doc["members"])
    assert not any(x["purpose"] == "investigation" for x in doc["embargoes"])


def test_agency_administrator_changes_only_its_own(env):
    ag = Session(env, AGENCY)
    actor = f"official:{AGENCY[0]} ({AGENCY[1]})"
    # Reads the federation, not the officials or the audit trail.
    for path in ("/api/members", "/api/subsystems", "/api/services", "/api/grants",
                 "/api/gateways", "/api/consent-services", "/api/revocations", "/api/overview",
                 f"/api/services/{SERVICE}"):
        assert ag.call("GET", path).status_code == 200, path
    for path in ("/api/officials", "/api/audit"):
        refused(ag.call("GET", path), 403, "an agency administrator reads neither")
    before = env.conf_version()
    # Another member's, or no member's, is refused whole.
    mine = "an agency administrator changes only"
    for method, path, body in (
            ("POST", "/api/members", {"id": "VN/GOV/X", "name": "x"}),
            ("DELETE", f"/api/members/{BCA}", None),
            ("POST", "/api/subsystems", {"id": TCT + "/other"}),
            ("DELETE", f"/api/subsystems/{BHXH}/insurance", None),
            ("POST", "/api/services", {"id": TCT + "/tax/returns", "title": "x",
                                       "personal": False, "purposes": []}),
            ("DELETE", f"/api/services/{OTHER_SERVICE}", None),
            ("PUT", f"/api/services/{OTHER_SERVICE}/bulk-purposes", {"bulk_purposes": []}),
            ("POST", "/api/grants", {"client": BCA + "/population", "service": OTHER_SERVICE,
                                     "methods": ["GET"]}),
            ("POST", "/api/revocations", {"kind": "key", "value": "cd" * 32, "reason": "x"}),
            ("POST", "/api/gateways", {"member": BCA, "code": "gw9", "address": "x"}),
            ("POST", "/api/consent-services", {"id": BCA + "/population", "url": "x",
                                               "sign_public_key": "x"}),
            ("PUT", "/api/embargoes/x", {"seconds": 5}),
            ("PUT", "/api/monitoring", {"client": BCA + "/population"}),
            ("POST", "/api/officials", {"subject": AGENCY[0], "name": "x", "role": "operator"})):
        refused(ag.call(method, path, body), 403, mine)
    r = env.api("POST", "/api/grants", json={"client": TCT + "/tax", "service": OTHER_SERVICE,
                                             "methods": ["GET"]})
    other_grant = r.json()["id"]
    refused(ag.call("DELETE", f"/api/grants/{other_grant}"), 403, mine)
    assert env.conf_version() == before + 1  # only the admin token's grant
    # Its own: a subsystem, a service with its OpenAPI document, bulk purposes, a grant.
    r = ag.call("POST", "/api/subsystems", {"id": BCA + "/civil"})
    assert r.status_code == 201, r.text
    svc = BCA + "/civil/births"
    r = ag.call("POST", "/api/services", {"id": svc, "title": "Khai sinh", "personal": True,
                                          "purposes": ["tax-assessment", "statistics"],
                                          "consent_required": False, "openapi": OPENAPI})
    assert r.status_code == 201, r.text
    assert requests.get(f"{env.url}/openapi/{svc}", timeout=10).json() == OPENAPI
    r = ag.call("PUT", f"/api/services/{svc}/bulk-purposes", {"bulk_purposes": ["statistics"]})
    assert r.status_code == 200 and r.json()["bulk_purposes"] == ["statistics"], r.text
    r = ag.call("POST", "/api/grants", {"client": TCT + "/tax", "service": svc,
                                        "methods": ["GET"], "paths": ["/births/*"]})
    assert r.status_code == 201, r.text
    gid = r.json()["id"]
    # The API's own refusals still come through to them (a bad id: 400, none: 404).
    refused(ag.call("POST", "/api/subsystems", {"id": "VN/GOV/BCA/bad id"}), 400)
    refused(ag.call("DELETE", "/api/grants/999999"), 404)
    refused(ag.call("POST", "/api/subsystems", {"id": BCA + "/civil"}), 409)
    doc = conf(env)
    assert any(g["client"] == TCT + "/tax" and g["service"] == svc for g in doc["grants"])
    assert any(s["id"] == svc and s["bulk_purposes"] == ["statistics"] for s in doc["services"])
    got = [(a["action"], a["object"]) for a in audit(env, AGENCY[0], "") if a["actor"] == actor]
    assert got[:4] == [("grant.add", str(gid)), ("service.bulk_purposes", svc),
                       ("service.add", svc), ("subsystem.add", BCA + "/civil")], got
    # And removes them again, in the order the API wants.
    for path in (f"/api/grants/{gid}", f"/api/services/{svc}", f"/api/subsystems/{BCA}/civil"):
        r = ag.call("DELETE", path)
        assert r.status_code == 200, (path, r.text)
    doc = conf(env)
    assert not any(g["service"] == svc for g in doc["grants"])
    assert not any(s["id"] == BCA + "/civil" for s in doc["subsystems"])
    assert env.api("DELETE", f"/api/grants/{other_grant}").status_code == 200
    log = env.tail(400)
    assert "console refused POST /api/members for a agency session" in log
    assert AGENCY[0] not in log  # no personal number in the log (T34)


def test_data_protection_officer_reads_personal_data_only(env):
    dpo = Session(env, DPO)
    for path in ("/api/services", f"/api/services/{SERVICE}", "/api/consent-services",
                 "/api/embargoes", "/api/id-providers", "/api/audit", "/api/overview"):
        assert dpo.call("GET", path).status_code == 200, path
    for path in ("/api/members", "/api/subsystems", "/api/grants", "/api/gateways",
                 "/api/revocations", "/api/officials", "/api/subscriptions"):
        refused(dpo.call("GET", path), 403, "a data protection officer reads the personal-data")
    before = env.conf_version()
    for method, path, body in (("PUT", "/api/embargoes/x", {"seconds": 5}),
                               ("PUT", f"/api/services/{SERVICE}/bulk-purposes",
                                {"bulk_purposes": []}),
                               ("DELETE", f"/api/services/{SERVICE}", None),
                               ("POST", "/api/members", {"id": "VN/GOV/X", "name": "x"})):
        refused(dpo.call(method, path, body), 403, "a data protection officer reads only")
    assert env.conf_version() == before


def test_auditor_reads_all_changes_nothing(env):
    au = Session(env, AUDITOR)
    for path in ("/api/members", "/api/grants", "/api/officials", "/api/audit",
                 "/api/consent-services", "/api/revocations"):
        assert au.call("GET", path).status_code == 200, path
    for method, path, body in (("PUT", "/api/embargoes/x", {"seconds": 5}),
                               ("POST", "/api/subsystems", {"id": BCA + "/x"})):
        refused(au.call(method, path, body), 403, "an auditor reads only")


def test_role_change_takes_effect_at_next_request(env):
    ag = Session(env, AGENCY)
    assert ag.call("GET", "/api/members").status_code == 200
    r = official(env, "add", AGENCY[0], "--name", AGENCY[1], "--role", "dpo")
    assert r.returncode == 0, r.stderr
    try:
        refused(ag.call("GET", "/api/members"), 403, "data protection officer")
        refused(ag.call("POST", "/api/subsystems", {"id": BCA + "/y"}), 403)
    finally:
        r = official(env, "add", AGENCY[0], "--name", AGENCY[1], "--role", "agency",
                     "--member", BCA)
        assert r.returncode == 0, r.stderr
