"""Notifications and e-mail of ndx-portal (docs/portal.md "Notifications and e-mail",
issue 22) in the federation of test_portal.py, with a real SMTP server on loopback
(Debian's python3-aiosmtpd): a citizen gives an e-mail address with their consent (none is
kept without it); an officer's request for more information and a decision reach them in
the portal's notification centre (unread count, list, mark read) and by e-mail, the mail
naming the application and linking to it but carrying neither the question nor the
reason; a citizen who gave no address gets no e-mail; with the SMTP server down the
decision is made at once and the e-mail waits in the outbox and is retried until it is
delivered."""

import email
import email.policy
import socket
import sqlite3
import subprocess
import sys
import time
import json
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from aiosmtpd.controller import Controller  # noqa: E402

from test_portal import (  # noqa: E402,F401  (env is the module's fixture)
    adults, citizen_login, env, error, exe, officer_login, post)
from test_portal_officer import decide  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """aiosmtpd's handler: every message received, parsed."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), msg))
        return "250 Message accepted for delivery"

    def wait(self, rcpt, n=1, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = [m for m in self.messages if rcpt in m[1]]
            if len(got) >= n:
                return got
            time.sleep(0.1)
        raise AssertionError(f"no e-mail to {rcpt} within {timeout} s: {self.messages}")


@pytest.fixture(scope="module")
def smtp(env):
    """A real SMTP server on loopback, and the portal restarted to send through it."""
    inbox = Inbox()
    port = free_port()
    ctl = Controller(inbox, hostname="127.0.0.1", port=port)
    ctl.start()
    cfg = json.loads(Path(env.config).read_text())
    cfg["smtp"] = {"host": "127.0.0.1", "port": port, "from": "no-reply@dichvucong.example",
                   "starttls": False}
    Path(env.config).write_text(json.dumps(cfg))
    env.portal.stop()
    env.portal.start()
    inbox.controller, inbox.port = ctl, port
    yield inbox
    if inbox.controller is not None:
        inbox.controller.stop()


def contact(s, csrf, env, body):
    return post(s, env.url + "/api/me/contact", csrf, body)


def residence(env, who):
    s, csrf = citizen_login(env, who)
    r = post(s, env.url + "/api/procedures", csrf, {"kind": "residence-change", "fields": {
        "province": "001", "commune": "Phường Hoàn Kiếm", "address": "7 Tràng Thi"}})
    assert r.status_code == 201, r.text
    return s, csrf, r.json()


def notes(s, env):
    r = s.get(env.url + "/api/notifications", timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def body_text(msg):
    return msg.get_body(preferencelist=("plain",)).get_content()


def test_an_address_is_kept_only_with_consent(env, smtp):
    s, csrf = citizen_login(env, adults(env, 38)[10])
    got = s.get(env.url + "/api/me/contact", timeout=10).json()
    assert got == {"email": None, "consent": False, "email_enabled": True}
    doc = error(contact(s, csrf, env, {"email": "an@example.vn"}), 422, "validation")
    assert doc["fields"] == {"consent": "required"}
    for bad in ("an", "an@", "a n@example.vn", "an@example.vn\r\nBcc: x@y.z", "<an@example.vn>",
                "an@@example.vn", "x" * 250 + "@example.vn"):
        doc = error(contact(s, csrf, env, {"email": bad, "consent": True}), 422, "validation")
        assert doc["fields"] == {"email": "invalid"}, bad
    error(contact(s, csrf, env, {"email": "an@example.vn", "consent": True, "x": 1}), 422,
          "validation")
    r = contact(s, csrf, env, {"email": "an@example.vn", "consent": True})
    assert r.status_code == 200 and r.json()["email"] == "an@example.vn", r.text
    # Withdrawing consent forgets the address.
    r = contact(s, csrf, env, {"email": "an@example.vn", "consent": False})
    assert r.json() == {"email": None, "consent": False, "email_enabled": True}
    o, ocsrf = officer_login(env, "canbo.bca")
    error(o.get(env.url + "/api/notifications", timeout=10), 403, "forbidden")
    error(contact(o, ocsrf, env, {"email": "a@b.vn", "consent": True}), 403, "forbidden")


def test_request_and_decision_reach_the_citizen_in_the_portal_and_by_email(env, smtp):
    who = adults(env, 38)[11]
    addr = "binh.nguyen@example.vn"
    s, csrf, p = residence(env, who)
    assert contact(s, csrf, env, {"email": addr, "consent": True}).status_code == 200
    assert notes(s, env) == {"unread": 0, "notifications": []}
    bca, ocsrf = officer_login(env, "canbo.bca")
    question = "Xin gửi bản chụp sổ đỏ của căn nhà"
    r = post(bca, env.url + f"/api/officer/procedures/{p['id']}/information-request", ocsrf,
             {"question": question})
    assert r.status_code == 200, r.text

    # In the portal: one unread notification naming the application.
    n = notes(s, env)
    assert n["unread"] == 1
    first = n["notifications"][0]
    assert first["kind"] == "information_requested" and first["procedure_id"] == p["id"]
    assert first["reference"] == p["reference"] and first["read"] is False
    # By e-mail, through the real SMTP server.
    mail_from, rcpts, msg = smtp.wait(addr)[0]
    assert mail_from == "no-reply@dichvucong.example" and rcpts == [addr]
    assert p["reference"] in msg["Subject"] and "bổ sung" in msg["Subject"]
    text = body_text(msg)
    assert f"{env.url}/procedures/{p['id']}" in text
    assert question not in text and who[0] not in text  # the question stays in the portal

    # Mark read; someone else's notification is not theirs to mark.
    other, ocs = citizen_login(env, adults(env, 38)[12])
    error(post(other, env.url + f"/api/notifications/{first['id']}/read", ocs, {}), 404,
          "not_found")
    error(post(other, env.url + "/api/notifications/abc/read", ocs, {}), 404, "not_found")
    s, csrf = citizen_login(env, who)
    r = post(s, env.url + f"/api/notifications/{first['id']}/read", csrf, {})
    assert r.status_code == 200 and r.json()["unread"] == 0, r.text
    assert r.json()["notifications"][0]["read"] is True

    # The citizen answers; the officer rejects: a second notification and e-mail.
    r = post(s, env.url + f"/api/procedures/{p['id']}/answer", csrf, {"answer": "Đã gửi"})
    assert r.status_code == 200, r.text
    reason = "Địa chỉ không khớp sổ đỏ"
    r = decide(bca, ocsrf, env, p["id"], {"decision": "reject", "reason": reason})
    assert r.status_code == 200, r.text
    n = notes(s, env)
    assert [x["kind"] for x in n["notifications"]] == ["rejected", "information_requested"]
    assert n["unread"] == 1
    msg = smtp.wait(addr, 2)[1][2]
    assert "từ chối" in msg["Subject"] and reason not in body_text(msg)
    r = post(s, env.url + "/api/notifications/all/read", csrf, {})
    assert r.json()["unread"] == 0


def test_no_email_without_an_address(env, smtp):
    who = adults(env, 38)[13]
    s, csrf, p = residence(env, who)
    bca, ocsrf = officer_login(env, "canbo.bca")
    r = decide(bca, ocsrf, env, p["id"], {"decision": "approve"})
    assert r.status_code == 200 and r.json()["state"] == "completed", r.text
    n = notes(s, env)
    assert [x["kind"] for x in n["notifications"]] == ["completed"]
    with sqlite3.connect(env.portal_dir / "data" / "portal.db", timeout=10) as db:
        assert db.execute("SELECT COUNT(*) FROM outbox o JOIN notifications n ON"
                          " n.id = o.notification_id WHERE n.procedure_id = ?",
                          (p["id"],)).fetchone()[0] == 0


def test_a_down_mail_server_never_blocks_a_decision_and_the_mail_is_retried(env, smtp):
    who = adults(env, 38)[14]
    addr = "cuc.pham@example.vn"
    s, csrf, p = residence(env, who)
    assert contact(s, csrf, env, {"email": addr, "consent": True}).status_code == 200
    smtp.controller.stop()
    smtp.controller = None
    bca, ocsrf = officer_login(env, "canbo.bca")
    t0 = time.monotonic()
    r = decide(bca, ocsrf, env, p["id"], {"decision": "approve"})
    assert r.status_code == 200 and r.json()["state"] == "completed", r.text
    assert time.monotonic() - t0 < 10
    db = env.portal_dir / "data" / "portal.db"
    q = ("SELECT o.attempts, o.sent_at, o.last_error FROM outbox o JOIN notifications n ON"
         " n.id = o.notification_id WHERE n.procedure_id = ?")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with sqlite3.connect(db, timeout=10) as c:
            row = c.execute(q, (p["id"],)).fetchone()
        if row and row[0] >= 1:
            break
        time.sleep(0.2)
    assert row[0] >= 1 and row[1] is None and row[2], row
    assert "e-mail" in env.portal.tail(200) and "failed" in env.portal.tail(200)
    assert addr not in env.portal.stderr_path.read_text()  # logged by number only
    # The server is back: the outbox delivers it.
    ctl = Controller(smtp, hostname="127.0.0.1", port=smtp.port)
    ctl.start()
    smtp.controller = ctl
    msg = smtp.wait(addr, 1, timeout=40)[0][2]
    assert p["reference"] in msg["Subject"]
    # The server has the mail before the outbox records it sent (the sender commits
    # once the SMTP conversation ended): wait for that commit.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with sqlite3.connect(db, timeout=10) as c:
            row = c.execute(q, (p["id"],)).fetchone()
        if row[1] is not None:
            break
        time.sleep(0.1)
    assert row[1] is not None and row[2] is None


@pytest.mark.parametrize("smtp_cfg, message", [
    ({"port": 25, "from": "a@b.vn"}, '"smtp.host" must be a host name or address'),
    ({"host": "127.0.0.1", "port": 0, "from": "a@b.vn"}, '"smtp.port" must be an integer'),
    ({"host": "127.0.0.1", "from": "Cổng <a@b.vn>"}, '"smtp.from" must be an e-mail address'),
    ({"host": "127.0.0.1", "from": "a@b.vn\r\nBcc: x@y.z"}, '"smtp.from" must be an e-mail'),
    ({"host": "127.0.0.1", "from": "a@b.vn", "starttls": "yes"}, '"smtp.starttls" must be true'),
    ("smtp.example", '"smtp" must be an object'),
])
def test_a_bad_smtp_configuration_is_refused_at_start(env, tmp_path, smtp_cfg, message):
    cfg = json.loads(Path(env.config).read_text())
    cfg["smtp"] = smtp_cfg
    cfg["data_dir"] = str(tmp_path / "data")
    cfg["oidc"]["client_secret_file"] = str(env.portal_dir / "client.secret")
    cfg["web_dir"] = str(env.portal_dir / "web")
    cfg["assets_dir"] = str(env.portal_dir / "govuk")
    (tmp_path / "portal.json").write_text(json.dumps(cfg))
    r = subprocess.run([str(exe(env.build_dir, "src", "portal", "ndx-portal")), "serve",
                        "--config", str(tmp_path / "portal.json")],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and message in r.stderr, r.stderr
