"""End-to-end tests of the correction worklists at the portal's officers' desk (issue 24,
docs/sectors.md "Correction worklists", docs/portal.md "Correction worklists"): one
`ndx demo up` over data seeded with defects, the insurance registry reconciled with the
population registry, then through the portal as an officer of its agency (VN/GOV/BHXH): the
worklist lists the run's findings as `ndx-sector worklist` does; a correction made there is
logged in the registry's reconcile_corrections with the officer, and the next run reads it
as a match. Refused: an officer of another agency (403), no session (401), no CSRF token
(403), a field the table does not have or a value its checks refuse (400, naming it), a
task that is not open (404), the record's key (409); and the registry's reconcile service
called by any system but the portal (NoGrant at the gateways)."""

import json
import socket
import subprocess
from pathlib import Path

import pytest
import requests

from test_reconcile import SEED, reconcile, truth_lines
from test_subject_accesses import running_demo

SECTOR, AGENCY, OFFICER = "insurance", "VN/GOV/BHXH", "canbo.bhxh"
SERVICE = f"{AGENCY}/insurance/reconcile"


@pytest.fixture(scope="module")
def demo(build_dir, tmp_path_factory):
    with running_demo(build_dir, tmp_path_factory.mktemp("worklist") / "demo", SEED) as demo:
        portal = demo.fed["apps"]["portal"]
        pw = portal["officers"][0]["password_file"]
        # An officer of the registry's agency, and one of another agency.
        for user, name, agency in ((OFFICER, "Đỗ Thị Hoa (Thu BHXH)", AGENCY),
                                   ("canbo.tct", "Vũ Văn Thuế", "VN/GOV/TCT")):
            res = subprocess.run([str(build_dir / "src" / "portal" / "ndx-portal"), "officer",
                                  "add", "--config", str(Path(portal["dir"]) / "portal.json"),
                                  "--username", user, "--name", name, "--agency", agency,
                                  "--password-file", pw, "--cost", "min"],
                                 capture_output=True, text=True, timeout=30)
            assert res.returncode == 0, res.stderr
        yield demo


@pytest.fixture(scope="module")
def run(demo):
    # The tax registry too: its record's key is the taxpayer's number.
    reconcile(demo, "tax", "--rate", "0")
    return reconcile(demo, SECTOR, "--rate", "0")


def login(demo, user):
    portal = demo.fed["apps"]["portal"]
    pw = Path(portal["officers"][0]["password_file"]).read_text().strip()
    s = requests.Session()
    tok = s.get(portal["url"] + "/auth/officer", timeout=10).json()["csrf"]
    r = s.post(portal["url"] + "/auth/officer", json={"username": user, "password": pw},
               headers={"X-CSRF-Token": tok}, timeout=20)
    assert r.status_code == 200, r.text
    return s, r.json()["csrf"]


def url(demo, rest):
    return demo.fed["apps"]["portal"]["url"] + "/api/officer/" + rest


def worklist_cli(demo, sector=SECTOR):
    res = subprocess.run([str(demo.build_dir / "src" / "sector" / "ndx-sector"), "worklist",
                          "--sector", sector, "--db", str(demo.sector_dir / f"{sector}.db")],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def correct(s, csrf, demo, body):
    return s.post(url(demo, "worklist/corrections"), json=body,
                  headers={"X-CSRF-Token": csrf}, timeout=30)


def task_body(task, **over):
    return dict({k: task[k] for k in ("table", "key", "field")}, **over)


def sector_raw(demo, method, path, headers=None, body=None):
    """A request straight to the insurance registry's socket: (status, headers, JSON)."""
    sock = {s["sector"]: s for s in demo.fed["sectors"]}[SECTOR]["socket"]
    data = json.dumps(body, ensure_ascii=False).encode() if body is not None else b""
    head = f"{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
    for k, v in (headers or {}).items():
        head += f"{k}: {v}\r\n"
    head += f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
        c.settimeout(10)
        c.connect(sock)
        c.sendall(head.encode("utf-8") + data)
        out = b""
        while chunk := c.recv(65536):
            out += chunk
    top, payload = out.split(b"\r\n\r\n", 1)
    lines = top.decode().split("\r\n")
    hdrs = {ln.split(":", 1)[0].lower(): ln.split(":", 1)[1].strip() for ln in lines[1:]}
    return int(lines[0].split()[1]), hdrs, json.loads(payload)


def test_worklist_lists_the_findings_of_the_run(demo, run):
    s, _ = login(demo, OFFICER)
    r = s.get(url(demo, "worklist"), params={"sector": SECTOR, "limit": "200"}, timeout=30)
    assert r.status_code == 200, r.text
    doc = r.json()
    cli = worklist_cli(demo)
    assert doc["run"] == run["run"] == cli["run"] and doc["agency"] == AGENCY
    assert doc["total"] == len(cli["tasks"]) == len(run["findings"]) > 0
    assert doc["tasks"] == cli["tasks"][:200]
    # Paged: the second task alone, then past the end.
    r = s.get(url(demo, "worklist"), params={"offset": "1", "limit": "1"}, timeout=30)
    assert r.status_code == 200 and r.json()["tasks"] == cli["tasks"][1:2], r.text
    r = s.get(url(demo, "worklist"), params={"offset": str(doc["total"])}, timeout=30)
    assert r.status_code == 200 and r.json()["tasks"] == [], r.text
    # The registry declares the people its answer names: each task's candidate number.
    status, hdrs, body = sector_raw(demo, "GET", "/reconcile/worklist?limit=200")
    assert status == 200 and body["tasks"] == cli["tasks"][:200]
    declared = set(hdrs["ndx-data-subjects"].split(","))
    cands = {t["candidate_pin"] for t in body["tasks"] if "candidate_pin" in t}
    assert cands <= declared, (cands, declared)
    keys = {t["key"] for t in body["tasks"] if len(t["key"]) == 12}
    assert keys <= declared


def test_refusals(demo, run):
    s, csrf = login(demo, OFFICER)
    tasks = worklist_cli(demo)["tasks"]
    name = next(t for t in tasks if t["kind"] == "name-marks")
    # No session, an officer of another agency, no CSRF token.
    r = requests.get(url(demo, "worklist"), params={"sector": SECTOR}, timeout=10)
    assert r.status_code == 401 and r.json()["error"] == "unauthenticated", r.text
    btc, btc_csrf = login(demo, "canbo.btc")
    r = btc.get(url(demo, "worklist"), params={"sector": SECTOR}, timeout=10)
    assert r.status_code == 403 and r.json()["error"] == "forbidden", r.text
    r = correct(btc, btc_csrf, demo, task_body(name, sector=SECTOR, value="Ai Đó"))
    assert r.status_code == 403 and r.json()["error"] == "forbidden", r.text
    r = s.post(url(demo, "worklist/corrections"), json=task_body(name, value="X"), timeout=10)
    assert r.status_code == 403 and r.json()["error"] == "csrf", r.text
    r = s.get(url(demo, "worklist"), params={"sector": "nowhere"}, timeout=10)
    assert r.status_code == 400 and "sector" in r.json()["message"], r.text
    r = s.get(url(demo, "worklist"), params={"limit": "0"}, timeout=10)
    assert r.status_code == 400 and "limit" in r.json()["message"], r.text
    # Bad fields, each named.
    r = correct(s, csrf, demo, task_body(name, field="colour", value="X"))
    assert r.status_code == 400 and r.json()["message"].startswith("field:"), r.text
    r = correct(s, csrf, demo, task_body(name, value="A\u202eB"))
    assert r.status_code == 400 and r.json()["message"].startswith("value:"), r.text
    r = correct(s, csrf, demo, task_body(name))
    assert r.status_code == 400 and r.json()["message"].startswith("value:"), r.text
    r = correct(s, csrf, demo, task_body(name, table="contributions", value="X"))
    assert r.status_code == 400 and r.json()["message"].startswith("table:"), r.text
    r = correct(s, csrf, demo, task_body(name, value="X", extra=1))
    assert r.status_code == 400 and "extra" in r.json()["message"], r.text
    # A record with no task: not open (404).
    clean = next(p for (p,) in demo.sql(SECTOR, "SELECT pin FROM participants ORDER BY rowid")
                 if not any(t["key"] == p for t in tasks))
    r = correct(s, csrf, demo, task_body(name, key=clean, value="Ai Đó"))
    assert r.status_code == 404 and r.json()["error"] == "not_found", r.text
    # The record's key: merged, not corrected (409); the tax registry's officer.
    tct, tct_csrf = login(demo, "canbo.tct")
    r = tct.get(url(demo, "worklist"), params={"limit": "200"}, timeout=30)
    assert r.status_code == 200 and r.json()["tasks"] == worklist_cli(demo, "tax")["tasks"][:200]
    wrong = next(t for t in r.json()["tasks"] if t["field"] == "tax_id" and "candidate_pin" in t)
    r = correct(tct, tct_csrf, demo, task_body(wrong, sector="tax"))
    assert r.status_code == 409 and r.json()["error"] == "conflict", r.text
    assert r.json()["message"].startswith("field:"), r.text
    assert demo.sql("tax", "SELECT count(*) FROM reconcile_corrections") == [(0,)]
    # Nothing was written by any of them.
    assert demo.sql(SECTOR, "SELECT count(*) FROM reconcile_corrections") == [(0,)]
    # The registry itself wants the officer.
    status, hdrs, body = sector_raw(demo, "POST", "/reconcile/corrections",
                                    body=task_body(name, value="Ai Đó"))
    assert status == 400 and body["detail"].startswith("X-Road-UserId"), body
    assert hdrs["ndx-data-subjects"] == "none"
    # Any system but the portal is refused by the gateways.
    for client in ("VN/GOV/TCT/tax", "VN/GOV/BHXH/insurance", "VN/GOV/VPCP/monitoring"):
        r = demo.exchange(client, SERVICE, "/worklist", purpose="data-correction")
        assert r.status_code >= 400 and "NoGrant" in r.text, (client, r.text)
        assert "tasks" not in r.text
        r = demo.exchange(client, SERVICE, "/corrections", purpose="data-correction",
                          method="POST", headers={"X-Road-UserId": f"{client}/x"},
                          json=task_body(name, value="Ai Đó"))
        assert r.status_code >= 400 and "NoGrant" in r.text, (client, r.text)
    assert demo.sql(SECTOR, "SELECT count(*) FROM reconcile_corrections") == [(0,)]


def test_correction_logged_with_the_officer_and_a_match_next_run(demo, run):
    s, csrf = login(demo, OFFICER)
    tasks = worklist_cli(demo)["tasks"]
    truth = {(t["table"], t["key"], t["field"]): t for t in truth_lines(demo)
             if t["sector"] == SECTOR}
    name = next(t for t in tasks if t["kind"] == "name-marks")
    right = truth[(name["table"], name["key"], "name")]["value"]
    r = correct(s, csrf, demo, task_body(name, sector=SECTOR, value=right))
    assert r.status_code == 201, r.text
    done = r.json()
    assert done["officer"] == f"{AGENCY}/{OFFICER}" and done["new_value"] == right
    assert done["kind"] == "name-marks" and done["sector"] == SECTOR
    assert demo.sql(SECTOR, "SELECT record_key, field, new_value, officer FROM "
                    "reconcile_corrections") == [(name["key"], "name", right,
                                                  f"{AGENCY}/{OFFICER}")]
    # Corrected once: the task is no longer open.
    r = correct(s, csrf, demo, task_body(name, value=right))
    assert r.status_code == 404, r.text
    r = s.get(url(demo, "worklist"), params={"limit": "200"}, timeout=30)
    assert r.json()["total"] == len(tasks) - 1
    # The next run reads the corrected record as a match.
    rep = reconcile(demo, SECTOR, "--rate", "0")
    assert rep["run"] == run["run"] + 1
    assert (name["key"], "name") not in {(f["key"], f["field"]) for f in rep["findings"]}
    assert rep["matches"] == run["matches"] + 1
