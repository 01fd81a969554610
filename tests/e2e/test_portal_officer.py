"""The officers' desk of ndx-portal (docs/portal.md "The officers' desk", issue 22) in
the federation of test_portal.py: the file's check of the business name against the
enterprise registry, an approval the API refuses because the business name was
registered meanwhile (409 with the field and the application still submitted), the
processing deadline in working days from the procedure's definition (overdue ones
flagged), the queue's server-side search and filters with their refusals (400), and
assignment: an officer takes an application, the queue names who holds it, and a
decision or a take by another officer is refused (409) by the API."""

import datetime
import json
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_portal import (  # noqa: E402,F401  (env is the module's fixture)
    BTC, BUSINESS, HOLIDAYS, adults, citizen_login, env, error, exe, officer_login,
    post)

SECOND_BTC = "canbo2.btc"


def submit_business(env, who, name):
    s, csrf = citizen_login(env, who)
    r = post(s, env.url + "/api/procedures", csrf,
             {"kind": "household-business", "fields": dict(BUSINESS, business_name=name)})
    assert r.status_code == 201, r.text
    return s, r.json()


def submit_residence(env, who):
    s, csrf = citizen_login(env, who)
    r = post(s, env.url + "/api/procedures", csrf, {"kind": "residence-change", "fields": {
        "province": "001", "commune": "Phường Hoàn Kiếm", "address": "5 Tràng Thi"}})
    assert r.status_code == 201, r.text
    return s, r.json()


def decide(s, csrf, env, pid, body):
    return post(s, env.url + f"/api/officer/procedures/{pid}/decision", csrf, body)


def hold(s, csrf, env, pid, action):
    return post(s, env.url + f"/api/officer/procedures/{pid}/assignment", csrf,
                {"action": action})


def queue(s, env, **params):
    r = s.get(env.url + "/api/officer/procedures", params=params, timeout=20)
    assert r.status_code == 200, r.text
    return r.json()["procedures"]


def second_btc_officer(env):
    """A second officer of the enterprise registry's agency (added once)."""
    d = env.portal_dir
    res = subprocess.run([str(exe(env.build_dir, "src", "portal", "ndx-portal")), "officer",
                          "add", "--config", str(env.config), "--username", SECOND_BTC,
                          "--name", "Phạm Quốc Dũng", "--agency", BTC, "--password-file",
                          str(d / "pw"), "--cost", "min"],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr
    return officer_login(env, SECOND_BTC)


def working_days_after(start, n, holidays=frozenset(datetime.date.fromisoformat(h)
                                                     for h in HOLIDAYS)):
    d = start
    while n:
        d += datetime.timedelta(days=1)
        if d.weekday() < 5 and d not in holidays:
            n -= 1
    return d


def vn_date(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone(datetime.timedelta(hours=7))).date()


# ---- the refused approval ----------------------------------------------------------------

def test_approval_refused_when_the_name_was_registered_meanwhile(env):
    """Two people apply for the same business name before either is registered (both
    accepted: the name was free). The first is approved; approving the second is refused
    with 409, the field that is in conflict, and nothing written: it is still submitted,
    and can then be rejected with a reason."""
    name = "Hộ kinh doanh Bún Chả " + uuid.uuid4().hex[:8]
    first, second = adults(env, 12)[10:12]
    _, a = submit_business(env, first, name)
    s_b, b = submit_business(env, second, name)
    btc, csrf = officer_login(env, "canbo.btc")
    # Opening the file, the officer sees that the name is free now.
    got = btc.get(env.url + f"/api/procedures/{b['id']}", timeout=30).json()
    assert got["name_check"] == {"business_name": name, "registered": False}
    r = decide(btc, csrf, env, a["id"], {"decision": "approve"})
    assert r.status_code == 200 and r.json()["state"] == "completed", r.text
    # ... and, opening it again, that it is registered now.
    got = btc.get(env.url + f"/api/procedures/{b['id']}", timeout=30).json()
    assert got["name_check"] == {"business_name": name, "registered": True}
    assert got["applicant_record"]["pin"] == second[0]
    # Read again without the file's reads (as the page does after a refusal).
    got = btc.get(env.url + f"/api/procedures/{b['id']}?applicant=0", timeout=30).json()
    assert "name_check" not in got and "applicant_record" not in got
    assert got["state"] == "submitted" and got["deadline"]["working_days"] == 3
    error(btc.get(env.url + f"/api/procedures/{b['id']}?applicant=1", timeout=30), 400,
          "invalid")
    assert "name_check" not in s_b.get(env.url + f"/api/procedures/{b['id']}", timeout=10).json()

    doc = error(decide(btc, csrf, env, b["id"], {"decision": "approve"}), 409, "conflict")
    assert doc["fields"] == {"business_name": "duplicate"}, doc
    assert "registered meanwhile" in doc["message"]
    assert second[0] not in doc["message"]
    now = btc.get(env.url + f"/api/procedures/{b['id']}", timeout=30).json()
    assert now["state"] == "submitted" and now["result"] is None
    assert [h["state"] for h in now["history"]] == ["submitted"]
    # Nothing was registered for the second application.
    items = requests.get(env.sectors["enterprise"].url + "/enterprises",
                         params={"name": name}, timeout=10).json()["items"]
    assert [e["code"] for e in items] == [r.json()["result"]["enterprise_code"]]
    # The officer tells the applicant why.
    r = decide(btc, csrf, env, b["id"], {"decision": "reject",
                                         "reason": "Tên hộ kinh doanh đã được đăng ký"})
    assert r.status_code == 200 and r.json()["state"] == "rejected", r.text
    mine = s_b.get(env.url + f"/api/procedures/{b['id']}", timeout=10).json()
    assert mine["state"] == "rejected"


def test_a_decision_on_a_decided_application_names_its_state(env):
    _, p = submit_residence(env, adults(env, 14)[13])
    bca, csrf = officer_login(env, "canbo.bca")
    r = decide(bca, csrf, env, p["id"], {"decision": "reject", "reason": "Thiếu giấy tờ"})
    assert r.status_code == 200, r.text
    doc = error(decide(bca, csrf, env, p["id"], {"decision": "approve"}), 409, "conflict")
    assert doc["fields"] == {"state": "rejected"}, doc
    assert "rejected" in doc["message"]


# ---- the deadline --------------------------------------------------------------------------

def test_deadline_in_working_days_and_overdue(env):
    btc, _ = officer_login(env, "canbo.btc")
    bca, _ = officer_login(env, "canbo.bca")
    _, biz = submit_business(env, adults(env, 15)[14], "Tiệm may Cô Hoa " + uuid.uuid4().hex[:6])
    _, res = submit_residence(env, adults(env, 16)[15])
    today = vn_date(time.time())
    for s, p, days, basis in ((btc, biz, 3, "Nghị định 01/2021/NĐ-CP, Điều 87"),
                              (bca, res, 7, "Luật Cư trú 2020, Điều 22")):
        got = s.get(env.url + f"/api/procedures/{p['id']}", timeout=30).json()
        assert got["deadline"] == {"date": working_days_after(today, days).isoformat(),
                                   "working_days": days, "basis": basis, "overdue": False,
                                   "paused_days": 0, "paused": False}
        listed = [q for q in queue(s, env) if q["id"] == p["id"]]
        assert listed and listed[0]["deadline"] == got["deadline"]

    # Filed (and paid) on Friday 2026-11-06 in Vietnam: 3 working days later is Wednesday
    # 2026-11-11 (the weekend does not count), long past now.
    friday = int(datetime.datetime(2026, 11, 6, 9, 0, tzinfo=datetime.timezone(
        datetime.timedelta(hours=7))).timestamp())
    with sqlite3.connect(env.portal_dir / "data" / "portal.db", timeout=10) as db:
        db.execute("UPDATE procedures SET submitted_at = ?, created_at = ? WHERE id = ?",
                   (friday, friday, biz["id"]))
    got = btc.get(env.url + f"/api/procedures/{biz['id']}", timeout=30).json()
    assert got["deadline"]["date"] == "2026-11-11" and got["deadline"]["overdue"] is True
    assert [q["deadline"]["overdue"] for q in queue(btc, env) if q["id"] == biz["id"]] == [True]
    # Decided, it is no longer overdue (nothing is left to do).
    btc, csrf = officer_login(env, "canbo.btc")
    r = decide(btc, csrf, env, biz["id"], {"decision": "reject", "reason": "Quá hạn bổ sung"})
    assert r.status_code == 200 and r.json()["deadline"]["overdue"] is False, r.text


def test_deadline_moves_past_the_public_holidays(env):
    """docs/portal.md "Deadline": the days of the configuration's holidays_file are no
    working days. Filed (and paid) on Thursday 4 February 2027, before the test's Tết
    (Friday 5, then Monday 8 to Thursday 11 February): 3 working days later is Tuesday
    16 February, not Tuesday 9 as weekends alone would make it."""
    btc, _ = officer_login(env, "canbo.btc")
    _, biz = submit_business(env, adults(env, 9)[8], "Tiệm hoa Tết " + uuid.uuid4().hex[:6])
    thursday = int(datetime.datetime(2027, 2, 4, 9, 0, tzinfo=datetime.timezone(
        datetime.timedelta(hours=7))).timestamp())
    with sqlite3.connect(env.portal_dir / "data" / "portal.db", timeout=10) as db:
        db.execute("UPDATE procedures SET submitted_at = ?, created_at = ? WHERE id = ?",
                   (thursday, thursday, biz["id"]))
    got = btc.get(env.url + f"/api/procedures/{biz['id']}", timeout=30).json()
    assert working_days_after(datetime.date(2027, 2, 4), 3, frozenset()).isoformat() == \
        "2027-02-09"
    assert got["deadline"]["date"] == "2027-02-16", got["deadline"]
    assert got["deadline"]["working_days"] == 3 and got["deadline"]["overdue"] is False
    listed = [q for q in queue(btc, env) if q["id"] == biz["id"]]
    assert listed and listed[0]["deadline"]["date"] == "2027-02-16"


# ---- search and filters --------------------------------------------------------------------

def test_queue_search_and_filters(env):
    btc, _ = officer_login(env, "canbo.btc")
    _, p = submit_business(env, adults(env, 17)[16], "Quán cà phê Sáng " + uuid.uuid4().hex[:6])
    ref = p["reference"]
    # By application number: exact, a prefix, in lower case.
    assert [q["id"] for q in queue(btc, env, ref=ref)] == [p["id"]]
    assert p["id"] in [q["id"] for q in queue(btc, env, ref=ref[:8].lower())]
    assert queue(btc, env, ref="HS000101-99999") == []
    # By procedure and state.
    assert p["id"] in [q["id"] for q in queue(btc, env, kind="household-business")]
    assert queue(btc, env, kind="residence-change") == []  # BTC handles none
    assert p["id"] not in [q["id"] for q in queue(btc, env, status="completed")]
    every = queue(btc, env, status="all")
    assert p["id"] in [q["id"] for q in every]
    assert len({q["state"] for q in every}) > 1
    assert all(q["agency"] == BTC for q in every)
    assert len(queue(btc, env, status="all", limit="1")) == 1
    # Another agency's application is never found, whatever the filter.
    bca, _ = officer_login(env, "canbo.bca")
    assert queue(bca, env, ref=ref, status="all") == []

    url = env.url + "/api/officer/procedures"
    for params, words in (({"status": "bogus"}, "status"),
                          ({"status": ""}, "status"),
                          ({"kind": "passport"}, "kind"),
                          ({"ref": "HS'; DROP TABLE procedures;--"}, "ref"),
                          ({"ref": "H" * 40}, "ref"),
                          ({"assigned": "someone"}, "assigned"),
                          ({"limit": "0"}, "limit"),
                          ({"limit": "501"}, "limit"),
                          ({"limit": "ten"}, "limit"),
                          ({"sort": "newest"}, "unknown parameter")):
        doc = error(btc.get(url, params=params, timeout=10), 400, "invalid")
        assert words in doc["message"], (params, doc)
    # A citizen has no queue.
    s, _ = citizen_login(env, adults(env, 17)[16])
    error(s.get(url, timeout=10), 403, "forbidden")


# ---- assignment ----------------------------------------------------------------------------

def test_assignment_is_enforced_by_the_api(env):
    who = adults(env, 19)[18]
    s, p = submit_business(env, who, "Tạp hóa Minh Châu " + uuid.uuid4().hex[:6])
    pid = p["id"]
    a, a_csrf = officer_login(env, "canbo.btc")
    b, b_csrf = second_btc_officer(env)

    assert a.get(env.url + f"/api/procedures/{pid}", timeout=30).json()["assigned_to"] is None
    assert pid in [q["id"] for q in queue(a, env, assigned="none")]
    r = hold(a, a_csrf, env, pid, "take")
    assert r.status_code == 200, r.text
    holder = r.json()["assigned_to"]
    assert holder["username"] == "canbo.btc" and holder["name"] == "Trần Thị Bích"
    # Taking one's own again changes nothing.
    assert hold(a, a_csrf, env, pid, "take").json()["assigned_to"] == holder
    # The queue shows who holds it, to everyone of the agency; "assigned to me".
    listed = [q for q in queue(b, env) if q["id"] == pid]
    assert listed[0]["assigned_to"]["username"] == "canbo.btc"
    assert pid in [q["id"] for q in queue(a, env, assigned="me")]
    assert pid not in [q["id"] for q in queue(b, env, assigned="me")]
    assert pid not in [q["id"] for q in queue(a, env, assigned="none")]

    # The other officer can neither take it, nor release it, nor decide it.
    for r in (hold(b, b_csrf, env, pid, "take"), hold(b, b_csrf, env, pid, "release"),
              decide(b, b_csrf, env, pid, {"decision": "approve"}),
              decide(b, b_csrf, env, pid, {"decision": "reject", "reason": "không"})):
        doc = error(r, 409, "conflict")
        assert doc["fields"] == {"assigned_to": "canbo.btc"}, doc
        assert "Trần Thị Bích" in doc["message"]
    now = a.get(env.url + f"/api/procedures/{pid}", timeout=30).json()
    assert now["state"] == "submitted" and len(now["history"]) == 1
    # The citizen never sees who holds it.
    mine = s.get(env.url + f"/api/procedures/{pid}", timeout=10).json()
    assert "assigned_to" not in mine
    assert all("assigned_to" not in q for q in
               s.get(env.url + "/api/procedures", timeout=10).json()["procedures"])

    # Bad requests.
    error(post(a, env.url + f"/api/officer/procedures/{pid}/assignment", a_csrf,
               {"action": "steal"}), 422, "validation")
    error(post(a, env.url + f"/api/officer/procedures/{pid}/assignment", a_csrf, {}),
          422, "validation")
    error(a.post(env.url + f"/api/officer/procedures/{pid}/assignment",
                 json={"action": "take"}, timeout=10), 403, "csrf")
    bca, bca_csrf = officer_login(env, "canbo.bca")
    error(hold(bca, bca_csrf, env, pid, "take"), 404, "not_found")

    # Released, the other officer takes it and decides it.
    r = hold(a, a_csrf, env, pid, "release")
    assert r.status_code == 200 and r.json()["assigned_to"] is None, r.text
    assert hold(b, b_csrf, env, pid, "take").status_code == 200
    r = decide(b, b_csrf, env, pid, {"decision": "approve"})
    assert r.status_code == 200 and r.json()["state"] == "completed", r.text
    assert r.json()["assigned_to"]["username"] == SECOND_BTC
    assert r.json()["history"][1]["actor"] == f"officer:{SECOND_BTC}"
    # Decided, it can no longer be taken.
    doc = error(hold(b, b_csrf, env, pid, "release"), 409, "conflict")
    assert doc["fields"] == {"state": "completed"}


def test_deciding_an_application_nobody_held_makes_it_the_officers(env):
    _, p = submit_residence(env, adults(env, 21)[20])
    bca, csrf = officer_login(env, "canbo.bca")
    r = decide(bca, csrf, env, p["id"], {"decision": "reject", "reason": "Sai địa chỉ"})
    assert r.status_code == 200, r.text
    assert r.json()["assigned_to"]["username"] == "canbo.bca"
    assert p["id"] in [q["id"] for q in queue(bca, env, status="rejected", assigned="me")]


# ---- the store's migration -------------------------------------------------------------------

def test_migration_8_dates_older_applications_from_their_history(env, tmp_path):
    """A portal.db of schema 7 (before the officers' desk) is migrated on open: nobody
    holds its applications, and each one's submitted_at is the first "submitted" of its
    history (an application still waiting for its fee has none)."""
    _, p = submit_residence(env, adults(env, 23)[22])
    _, q = submit_residence(env, adults(env, 24)[23])
    db_path = tmp_path / "data" / "portal.db"
    db_path.parent.mkdir()
    with sqlite3.connect(env.portal_dir / "data" / "portal.db", timeout=10) as live, \
            sqlite3.connect(db_path) as old:
        live.backup(old)
    with sqlite3.connect(db_path) as old:
        old.execute("DROP INDEX procedures_assignee")
        # Migration 11's (the store on both engines): meta and the creation orders;
        # 12's (several nodes): the leases (the outbox's claims go with the outbox).
        old.execute("DROP TABLE meta")
        old.execute("DROP TABLE leases")
        old.execute("ALTER TABLE procedures DROP COLUMN created_seq")
        old.execute("ALTER TABLE officers DROP COLUMN seq")
        for col in ("assignee", "assignee_name", "assigned_at", "submitted_at"):
            old.execute(f"ALTER TABLE procedures DROP COLUMN {col}")
        # Back to schema 7: migration 9's tables (test_portal_information.py) and
        # 10's (the administration's audit trail, test_portal_admin.py) go too.
        for t in ("info_requests", "attachments", "contacts", "notifications", "outbox",
                  "admin_audit"):
            old.execute(f"DROP TABLE {t}")
        old.execute("DELETE FROM schema_migrations WHERE version >= 8")
        # q was filed unpaid and paid an hour later; p was filed and never paid.
        old.execute("UPDATE history SET state = 'unpaid', at = at - 3600 WHERE procedure_id = ?",
                    (q["id"],))
        old.execute("INSERT INTO history(procedure_id, seq, at, state, actor) SELECT id, 2,"
                    " created_at, 'submitted', 'treasury:x' FROM procedures WHERE id = ?",
                    (q["id"],))
        old.execute("UPDATE history SET state = 'unpaid' WHERE procedure_id = ?", (p["id"],))
        old.execute("UPDATE procedures SET state = 'unpaid' WHERE id = ?", (p["id"],))
    cfg = json.loads(Path(env.config).read_text())
    cfg["data_dir"] = str(tmp_path / "data")
    cfg["oidc"]["client_secret_file"] = str(env.portal_dir / "client.secret")
    cfg["web_dir"] = str(env.portal_dir / "web")
    cfg["assets_dir"] = str(env.portal_dir / "govuk")
    cfg["holidays_file"] = str(env.portal_dir / "holidays.txt")
    (tmp_path / "portal.json").write_text(json.dumps(cfg))
    res = subprocess.run([str(exe(env.build_dir, "src", "portal", "ndx-portal")), "officer",
                          "add", "--config", str(tmp_path / "portal.json"), "--username",
                          "canbo.moi", "--name", "Cán bộ mới", "--agency", BTC,
                          "--password-file", str(env.portal_dir / "pw"), "--cost", "min"],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr
    with sqlite3.connect(db_path) as db:
        # 8 and every later migration (9: test_portal_information.py).
        assert db.execute("SELECT MAX(version) FROM schema_migrations").fetchone()[0] >= 8
        rows = dict(((r[0], r[1:]) for r in db.execute(
            "SELECT id, submitted_at, assignee, assigned_at FROM procedures")))
        first = dict(db.execute("SELECT procedure_id, MIN(at) FROM history WHERE state ="
                                " 'submitted' GROUP BY procedure_id").fetchall())
        created = db.execute("SELECT created_at FROM procedures WHERE id = ?",
                             (q["id"],)).fetchone()[0]
    assert rows[p["id"]] == (None, "", None)
    assert rows[q["id"]] == (created, "", None)
    assert all(r[0] == first.get(pid) for pid, r in rows.items())
    assert len(rows) > 2
