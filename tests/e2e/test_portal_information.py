"""More information and attachments on the officers' desk (docs/portal.md "More
information" and "Attachments", issue 22), in the federation of test_portal.py: an
officer asks the citizen a question (submitted -> information_requested), the citizen
reads it and answers with a file, and the application is back in the officers' queue
with the answer and the file's SHA-256; the deadline pauses while the citizen is asked;
the refusals (another citizen's application, nothing asked, an officer who does not hold
it or is of another agency); files checked by their content (PDF, JPEG, PNG; a size
limit) and downloaded only by their citizen and the agency's officers; and migration 9 of
portal.db."""

import base64
import datetime
import hashlib
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_portal import (  # noqa: E402,F401  (env is the module's fixture)
    adults, citizen_login, env, error, exe, officer_login, post)
from test_portal_officer import (  # noqa: E402
    decide, hold, queue, second_btc_officer, submit_business)

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
       b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa75"
       b"\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82")
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
LIMIT = 2 * 1024 * 1024


def residence(env, who):
    """who files a change of residence: (session, csrf, procedure)."""
    s, csrf = citizen_login(env, who)
    r = post(s, env.url + "/api/procedures", csrf, {"kind": "residence-change", "fields": {
        "province": "001", "commune": "Phường Hoàn Kiếm", "address": "5 Tràng Thi"}})
    assert r.status_code == 201, r.text
    return s, csrf, r.json()


def ask(s, csrf, env, pid, question):
    return post(s, env.url + f"/api/officer/procedures/{pid}/information-request", csrf,
                {"question": question})


def answer(s, csrf, env, pid, text, files=None):
    body = {"answer": text}
    if files is not None:
        body["attachments"] = files
    return post(s, env.url + f"/api/procedures/{pid}/answer", csrf, body)


def attach(s, csrf, env, pid, name, data):
    return post(s, env.url + f"/api/procedures/{pid}/attachments", csrf,
                {"name": name, "content_base64": base64.b64encode(data).decode()})


def test_officer_asks_and_the_citizen_answers_with_a_file(env):
    who = adults(env, 38)[0]
    s, csrf, p = residence(env, who)
    bca, ocsrf = officer_login(env, "canbo.bca")
    question = "Xin bổ sung bản chụp hợp đồng thuê nhà tại địa chỉ mới."
    r = ask(bca, ocsrf, env, p["id"], question)
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["state"] == "information_requested"
    # The asking officer holds it from then on.
    assert got["assigned_to"]["username"] == "canbo.bca"
    assert got["information_requests"][0]["question"] == question
    assert got["information_requests"][0]["answered_at"] is None
    assert got["deadline"]["paused"] is True
    assert [h["state"] for h in got["history"]] == ["submitted", "information_requested"]
    assert got["history"][-1]["note"] == question
    # It has left the officers' queue of submitted applications, and is listed by its state.
    assert p["id"] not in [q["id"] for q in queue(bca, env)]
    assert p["id"] in [q["id"] for q in queue(bca, env, status="information_requested")]

    # The citizen reads the question (the officer's name, not their user name).
    mine = s.get(env.url + f"/api/procedures/{p['id']}", timeout=10).json()
    assert mine["state"] == "information_requested"
    req = mine["information_requests"][0]
    assert req["question"] == question and req["asked_by"] == {"name": "Lê Văn Cường"}
    assert "assigned_to" not in mine

    # ... attaches the contract, and answers.
    r = attach(s, csrf, env, p["id"], "hợp đồng thuê nhà.pdf", PDF)
    assert r.status_code == 201, r.text
    f = r.json()
    assert f["media_type"] == "application/pdf" and f["size"] == len(PDF)
    assert f["sha256"] == hashlib.sha256(PDF).hexdigest()
    r = answer(s, csrf, env, p["id"], "Tôi gửi kèm hợp đồng thuê nhà.", [f["id"]])
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "submitted"

    # Back in the officers' queue, with the answer and the file's hash.
    assert p["id"] in [q["id"] for q in queue(bca, env)]
    off = bca.get(env.url + f"/api/procedures/{p['id']}?applicant=0", timeout=10).json()
    req = off["information_requests"][0]
    assert req["answer"] == "Tôi gửi kèm hợp đồng thuê nhà." and req["answered_at"]
    assert off["attachments"] == [dict(f, uploaded_at=off["attachments"][0]["uploaded_at"],
                                       uploaded_by=f"citizen:{who[0]}", request_seq=1)]
    assert off["deadline"]["paused"] is False
    assert [h["state"] for h in off["history"]] == ["submitted", "information_requested",
                                                    "submitted"]
    # The officer downloads the file: the bytes sent, as an attachment.
    r = bca.get(env.url + f"/api/procedures/{p['id']}/attachments/{f['id']}", timeout=10)
    assert r.status_code == 200 and r.content == PDF
    assert r.headers["Content-Type"] == "application/pdf"
    assert r.headers["Content-Disposition"].startswith("attachment;")
    assert r.headers["X-Content-SHA256"] == f["sha256"]
    # ... and decides.
    r = decide(bca, ocsrf, env, p["id"], {"decision": "approve"})
    assert r.status_code == 200 and r.json()["state"] == "completed", r.text


def test_refusals_of_asking_and_answering(env):
    owner, other = adults(env, 38)[1:3]
    s, csrf, p = residence(env, owner)
    s_other, csrf_other = citizen_login(env, other)
    bca, ocsrf = officer_login(env, "canbo.bca")
    btc, bcsrf = officer_login(env, "canbo.btc")
    # Nothing asked yet: the citizen's answer is refused, and names the state.
    doc = error(answer(s, csrf, env, p["id"], "Trả lời"), 409, "conflict")
    assert doc["fields"] == {"state": "submitted"}
    # An officer must say what is asked; another agency's officer does not see it.
    doc = error(ask(bca, ocsrf, env, p["id"], "  "), 422, "validation")
    assert doc["fields"] == {"question": "required"}
    error(post(bca, env.url + f"/api/officer/procedures/{p['id']}/information-request", ocsrf,
               {"question": "x", "extra": 1}), 422, "validation")
    error(ask(btc, bcsrf, env, p["id"], "Câu hỏi"), 404, "not_found")
    # A citizen cannot use the officers' route.
    error(ask(s, csrf, env, p["id"], "Câu hỏi"), 403, "forbidden")
    # A question is text in lines: a bidirectional override or a control character is
    # refused (T58), line breaks are kept (CRLF as LF).
    for bad in ("Ngày \u202enào?", "Ngày\x07nào?"):
        doc = error(ask(bca, ocsrf, env, p["id"], bad), 422, "validation")
        assert doc["fields"] == {"question": "invalid"}
    r = ask(bca, ocsrf, env, p["id"], "Ngày chuyển đến là ngày nào?\r\nKèm giấy tờ gì?\n")
    assert r.status_code == 200, r.text
    assert r.json()["information_requests"][0]["question"] == \
        "Ngày chuyển đến là ngày nào?\nKèm giấy tờ gì?"
    # Asking twice: it is no longer submitted.
    doc = error(ask(bca, ocsrf, env, p["id"], "Lần hai"), 409, "conflict")
    assert doc["fields"] == {"state": "information_requested"}
    # Another citizen cannot answer (nor learn that the application exists).
    error(answer(s_other, csrf_other, env, p["id"], "Không phải của tôi"), 404, "not_found")
    error(answer(s_other, csrf_other, env, "no-such-id", "x"), 404, "not_found")
    error(attach(s_other, csrf_other, env, p["id"], "a.pdf", PDF), 404, "not_found")
    # An officer cannot answer for the citizen; an empty answer is refused.
    error(answer(bca, ocsrf, env, p["id"], "x"), 403, "forbidden")
    doc = error(answer(s, csrf, env, p["id"], ""), 422, "validation")
    assert doc["fields"] == {"answer": "required"}
    # A file id that is not this application's is refused, and nothing moves.
    doc = error(answer(s, csrf, env, p["id"], "Ngày 1/12", ["0" * 32]), 422, "validation")
    assert doc["fields"] == {"attachments": "invalid"}
    assert s.get(env.url + f"/api/procedures/{p['id']}", timeout=10).json()["state"] == \
        "information_requested"
    error(answer(s, csrf, env, p["id"], "Ngày\x011/12"), 422, "validation")
    r = answer(s, csrf, env, p["id"], "Ngày 1/12.\nKèm hợp đồng.")
    assert r.status_code == 200, r.text
    assert r.json()["information_requests"][0]["answer"] == "Ngày 1/12.\nKèm hợp đồng."
    # Answered: a second answer is refused.
    error(answer(s, csrf, env, p["id"], "Lại"), 409, "conflict")


def test_an_officer_who_does_not_hold_it_cannot_ask(env):
    _, p = submit_business(env, adults(env, 38)[3], "Hộ kinh doanh Hỏi Thêm")
    btc, csrf = officer_login(env, "canbo.btc")
    other, ocsrf = second_btc_officer(env)
    assert hold(other, ocsrf, env, p["id"], "take").status_code == 200
    doc = error(ask(btc, csrf, env, p["id"], "Ngành nghề cụ thể là gì?"), 409, "conflict")
    assert doc["fields"] == {"assigned_to": SECOND_BTC_USER}
    # The holder may ask; the other officer still cannot decide it while it waits.
    assert ask(other, ocsrf, env, p["id"], "Ngành nghề cụ thể là gì?").status_code == 200
    error(decide(other, ocsrf, env, p["id"], {"decision": "approve"}), 409, "conflict")


SECOND_BTC_USER = "canbo2.btc"


def test_the_deadline_pauses_while_the_citizen_is_asked(env):
    """The deadline moves on by the working days between the day of the question and the
    day of the answer (docs/portal.md: a pause, our choice)."""
    who = adults(env, 38)[4]
    s, csrf, p = residence(env, who)
    bca, ocsrf = officer_login(env, "canbo.bca")
    before = bca.get(env.url + f"/api/procedures/{p['id']}?applicant=0", timeout=10).json()
    assert before["deadline"]["paused_days"] == 0
    assert ask(bca, ocsrf, env, p["id"], "Bổ sung giấy tờ").status_code == 200
    assert answer(s, csrf, env, p["id"], "Đã bổ sung").status_code == 200
    db = env.portal_dir / "data" / "portal.db"
    # Asked on a Monday, answered on the Thursday after: 3 working days of pause.
    monday = datetime.datetime(2026, 11, 2, 3, 0, tzinfo=datetime.timezone.utc)
    asked = int(monday.timestamp())
    answered = asked + 3 * 86400
    with sqlite3.connect(db, timeout=10) as c:
        c.execute("UPDATE procedures SET submitted_at = ? WHERE id = ?", (asked - 3600, p["id"]))
        c.execute("UPDATE info_requests SET asked_at = ?, answered_at = ? WHERE"
                  " procedure_id = ?", (asked, answered, p["id"]))
    got = bca.get(env.url + f"/api/procedures/{p['id']}?applicant=0", timeout=10).json()
    assert got["deadline"]["paused_days"] == 3
    # 7 working days from Monday 2 November is Wednesday 11; three more is Monday 16.
    assert got["deadline"]["date"] == "2026-11-16", got["deadline"]


def test_attachments_are_checked_by_their_content(env):
    who, other = adults(env, 38)[5:7]
    s, csrf, p = residence(env, who)
    s_other, _ = citizen_login(env, other)
    bca, _ = officer_login(env, "canbo.bca")
    btc, _ = officer_login(env, "canbo.btc")
    for name, data, typ in (("anh.png", PNG, "image/png"), ("Ảnh CCCD.JPG", JPEG, "image/jpeg")):
        r = attach(s, csrf, env, p["id"], name, data)
        assert r.status_code == 201, r.text
        assert r.json()["media_type"] == typ
    # Text named .pdf, a PNG named .pdf, an executable, a name without extension.
    doc = error(attach(s, csrf, env, p["id"], "giay-to.pdf", b"hello, not a pdf"), 415,
                "unsupported_type")
    assert "not a PDF, JPEG or PNG" in doc["message"]
    doc = error(attach(s, csrf, env, p["id"], "anh.pdf", PNG), 415, "unsupported_type")
    assert "image/png" in doc["message"]
    error(attach(s, csrf, env, p["id"], "run.exe", b"MZ\x90\x00"), 415, "unsupported_type")
    error(attach(s, csrf, env, p["id"], "no-extension", PDF), 415, "unsupported_type")
    # Over the limit: 413, by the length alone and after decoding.
    error(attach(s, csrf, env, p["id"], "big.pdf", PDF + b"0" * LIMIT), 413, "too_large")
    # Bad names and bad base64.
    error(attach(s, csrf, env, p["id"], "../x.pdf", PDF), 422, "validation")
    error(attach(s, csrf, env, p["id"], "", PDF), 422, "validation")
    error(post(s, env.url + f"/api/procedures/{p['id']}/attachments", csrf,
               {"name": "a.pdf", "content_base64": "%%%"}), 422, "validation")
    files = s.get(env.url + f"/api/procedures/{p['id']}", timeout=10).json()["attachments"]
    assert [f["media_type"] for f in files] == ["image/png", "image/jpeg"]
    url = env.url + f"/api/procedures/{p['id']}/attachments/{files[0]['id']}"
    # Downloads: the citizen and the agency's officer; nobody else.
    r = s.get(url, timeout=10)
    assert r.status_code == 200 and r.content == PNG
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert bca.get(url, timeout=10).content == PNG
    error(s_other.get(url, timeout=10), 404, "not_found")
    error(btc.get(url, timeout=10), 404, "not_found")
    error(s.get(env.url + f"/api/procedures/{p['id']}/attachments/{'0' * 32}", timeout=10),
          404, "not_found")
    error(requests.get(url, timeout=10), 401, "unauthenticated")
    # A decided application takes no more files.
    r = decide(bca, officer_login(env, "canbo.bca", bca)[1], env, p["id"],
               {"decision": "reject", "reason": "Thiếu giấy tờ"})
    assert r.status_code == 200, r.text
    error(attach(s, csrf, env, p["id"], "late.pdf", PDF), 409, "conflict")


def test_migration_9_upgrades_a_schema_8_portal_db(env, tmp_path):
    """A portal.db of schema 8 (before requests, attachments and notifications) is
    migrated on open: its applications are kept, with no requests or files."""
    _, _, p = residence(env, adults(env, 38)[7])
    db_path = tmp_path / "data" / "portal.db"
    db_path.parent.mkdir()
    with sqlite3.connect(env.portal_dir / "data" / "portal.db", timeout=10) as live, \
            sqlite3.connect(db_path) as old:
        live.backup(old)
    with sqlite3.connect(db_path) as old:
        # Back to schema 8: the later migrations' tables go too (10: admin_audit;
        # 11, the store on both engines: meta and the creation orders; 12, several
        # nodes: the leases, and the outbox's claims, which go with the outbox).
        old.execute("DROP TABLE meta")
        old.execute("DROP TABLE leases")
        old.execute("ALTER TABLE procedures DROP COLUMN created_seq")
        old.execute("ALTER TABLE officers DROP COLUMN seq")
        for t in ("info_requests", "attachments", "contacts", "notifications", "outbox",
                  "admin_audit"):
            old.execute(f"DROP TABLE {t}")
        old.execute("DELETE FROM schema_migrations WHERE version >= 9")
        assert old.execute("SELECT MAX(version) FROM schema_migrations").fetchone()[0] == 8
    cfg = json.loads(Path(env.config).read_text())
    cfg["data_dir"] = str(tmp_path / "data")
    cfg["oidc"]["client_secret_file"] = str(env.portal_dir / "client.secret")
    cfg["web_dir"] = str(env.portal_dir / "web")
    cfg["assets_dir"] = str(env.portal_dir / "govuk")
    (tmp_path / "portal.json").write_text(json.dumps(cfg))
    res = subprocess.run([str(exe(env.build_dir, "src", "portal", "ndx-portal")), "officer",
                          "add", "--config", str(tmp_path / "portal.json"), "--username",
                          "canbo.moi9", "--name", "Cán bộ mới", "--agency", "VN/GOV/BCA",
                          "--password-file", str(env.portal_dir / "pw"), "--cost", "min"],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr
    with sqlite3.connect(db_path) as db:
        # 9 and every later migration (10: the administration's audit trail).
        assert db.execute("SELECT MAX(version) FROM schema_migrations").fetchone()[0] >= 9
        assert db.execute("SELECT version FROM schema_migrations WHERE version = 9").fetchone()
        assert db.execute("SELECT state FROM procedures WHERE id = ?",
                          (p["id"],)).fetchone()[0] == "submitted"
        for t in ("info_requests", "attachments", "contacts", "notifications", "outbox"):
            assert db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] == 0
        cols = [r[1] for r in db.execute("PRAGMA table_info(attachments)")]
        assert {"sha256", "data", "media_type", "size"} <= set(cols)
