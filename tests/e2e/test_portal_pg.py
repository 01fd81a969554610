"""ndx-portal on PostgreSQL (docs/scale.md "The portal on PostgreSQL"): the federation of
test_portal.py with the portal's store in a schema of its own of the server NDX_TEST_PG,
given as the configuration's "store" (a postgresql:// connection string; data_dir then
holds no portal.db). A citizen's application submitted, held and decided end to end, its
rows read back in the schema with psql; what the portal acknowledged surviving a kill -9
and a restart (the citizen still signed in, the application and its history there); and
the refusals: a connection string with a password (refused before anything is made, the
password never printed), a "store" that is not a connection string, and a schema that
holds another daemon's store. And two nodes on the schema with one configuration (their
listening port aside), both sending e-mail through one SMTP server (Debian's
python3-aiosmtpd, as in test_portal_notifications.py) and pushing to one monitoring
service: every e-mail is sent once, by one node or the other, and when one node is killed
with kill -9 in the middle of a message the other keeps sending and sends that one too
once its claim has run out; one node pushes at a time, and the other takes the push over
once a killed node's lease has run out. Skipped without NDX_TEST_PG: run under
tests/with-postgres (make test-pg)."""

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from aiosmtpd.controller import Controller  # noqa: E402

import test_portal as T  # noqa: E402
from conftest import free_port  # noqa: E402
from pgschema import PG, in_schema, psql  # noqa: E402
from test_portal import (  # noqa: E402
    BCA, BTC, Proc, adults, citizen_login, exe, officer_login, post)
from test_portal_notifications import Inbox  # noqa: E402

pytestmark = pytest.mark.skipif(
    not PG, reason="NDX_TEST_PG is not set: ndx-portal on PostgreSQL is tested under "
                   "tests/with-postgres (make test-pg)")
SCHEMA = f"portalpg_{os.getpid()}"


def portal_cli(env, config, *args):
    return subprocess.run([str(exe(env.build_dir, "src", "portal", "ndx-portal")), *args,
                           "--config", str(config)], capture_output=True, text=True, timeout=60)


def add_officers(env, config):
    for user, name, agency in (("canbo.btc", "Trần Thị Bích", BTC),
                               ("canbo.bca", "Lê Văn Cường", BCA)):
        res = subprocess.run([str(exe(env.build_dir, "src", "portal", "ndx-portal")), "officer",
                              "add", "--config", str(config), "--username", user, "--name",
                              name, "--agency", agency, "--password-file",
                              str(env.portal_dir / "pw"), "--cost", "min"],
                             capture_output=True, text=True, timeout=30)
        assert res.returncode == 0, res.stderr


def start_portal(env, workdir):
    env.portal = Proc("portal-pg", [exe(env.build_dir, "src", "portal", "ndx-portal"), "serve",
                                    "--config", env.config], env.url, workdir).start()


@pytest.fixture(scope="module")
def env(build_dir):
    """test_portal.py's federation, its portal moved to PostgreSQL: started as there
    (on SQLite), stopped, given "store" and a fresh data_dir, its officers added
    again, started."""
    for p in (("src", "gateway", "ndx-gateway"), ("src", "sector", "ndx-sector"),
              ("src", "portal", "ndx-portal")):
        exe(build_dir, *p)
    workdir = Path(tempfile.mkdtemp(prefix="ndx-portal-pg-"))
    (workdir / "registry").mkdir()
    e = T.Env()
    e.build_dir, e.workdir = build_dir, workdir
    e.fed = e.registry = e.portal = None
    e.sectors = {}
    e.eid = T.FakeEid()
    problems = []
    try:
        try:
            T.build_federation(build_dir, workdir, e)
            T.write_portal(build_dir, workdir, e, e.eid.issuer)
            assert e.portal.stop() == 0
            psql(PG, f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE; CREATE SCHEMA {SCHEMA}")
            cfg = json.loads(Path(e.config).read_text())
            cfg["data_dir"] = "data-pg"
            cfg["store"] = in_schema(SCHEMA)
            e.config = e.portal_dir / "portal-pg.json"
            e.config.write_text(json.dumps(cfg, indent=2))
            add_officers(e, e.config)
            start_portal(e, workdir)
        except (RuntimeError, AssertionError) as err:
            pytest.fail(f"{err}\n(files kept in {workdir})", pytrace=False)
        yield e
    finally:
        if e.portal is not None:
            rc = e.portal.stop()
            if rc != 0:
                problems.append(f"ndx-portal exited with {rc}:\n{e.portal.tail()}")
        if e.fed is not None:
            problems.extend(e.fed.close())
        for s in e.sectors.values():
            s.stop()
        if e.registry is not None:
            e.registry.stop()
        e.eid.stop()
        psql(PG, f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    if problems:
        pytest.fail("\n".join(problems) + f"\n(files kept in {workdir})", pytrace=False)
    shutil.rmtree(workdir, ignore_errors=True)


def in_pg(sql):
    return psql(in_schema(SCHEMA), sql)


def submit_residence(env, who):
    s, csrf = citizen_login(env, who)
    r = post(s, env.url + "/api/procedures", csrf, {"kind": "residence-change", "fields": {
        "province": "048", "commune": "Phường Hải Châu", "address": "45 Bạch Đằng",
        "reason": "chuyển công tác"}})
    assert r.status_code == 201, r.text
    return s, csrf, r.json()


def test_submitted_and_decided_on_postgresql(env):
    who = adults(env, 38)[20]
    s, _, p = submit_residence(env, who)
    assert p["state"] == "submitted" and p["reference"].startswith("HS")
    # The rows are in the schema, and no portal.db was made.
    assert in_pg(f"SELECT state || ' ' || reference FROM procedures WHERE id = '{p['id']}'") \
        == f"submitted {p['reference']}"
    assert not (env.portal_dir / "data-pg" / "portal.db").exists()
    assert in_pg("SELECT value FROM meta WHERE key = 'kind'") == "ndx-portal"
    bca, bca_csrf = officer_login(env, "canbo.bca")
    r = post(bca, env.url + f"/api/officer/procedures/{p['id']}/assignment", bca_csrf,
             {"action": "take"})
    assert r.status_code == 200, r.text
    assert r.json()["assigned_to"]["username"] == "canbo.bca"
    r = post(bca, env.url + f"/api/officer/procedures/{p['id']}/decision", bca_csrf,
             {"decision": "approve"})
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "completed"
    # The citizen reads the decision; deciding twice is refused.
    got = s.get(env.url + f"/api/procedures/{p['id']}", timeout=20).json()
    assert got["state"] == "completed"
    states = [h["state"] for h in got["history"]]
    assert states[0] == "submitted" and states[-1] == "completed", states
    r = post(bca, env.url + f"/api/officer/procedures/{p['id']}/decision", bca_csrf,
             {"decision": "reject", "reason": "x"})
    assert r.status_code == 409, r.text
    assert in_pg(f"SELECT string_agg(state, ',' ORDER BY seq) FROM history"
                 f" WHERE procedure_id = '{p['id']}'") == ",".join(states)
    assert in_pg("SELECT count(*) FROM admin_audit WHERE action = 'officer.add'") == "2"


def test_acknowledged_write_survives_kill9(env):
    who = adults(env, 38)[21]
    s, csrf, p = submit_residence(env, who)
    # The answer came: the write is committed. The process dies at once.
    env.portal.proc.send_signal(signal.SIGKILL)
    env.portal.proc.wait(timeout=10)
    env.portal.proc = None
    start_portal(env, env.workdir)
    # The session is in the store too: the citizen is still signed in.
    got = s.get(env.url + f"/api/procedures/{p['id']}", timeout=20)
    assert got.status_code == 200, got.text
    assert got.json()["reference"] == p["reference"]
    assert [h["state"] for h in got.json()["history"]] == ["submitted"]
    mine = s.get(env.url + "/api/procedures", timeout=20).json()["procedures"]
    assert p["id"] in [q["id"] for q in mine]
    # And it goes on: the next application gets the next number of the day.
    r = post(s, env.url + "/api/procedures", csrf, {"kind": "residence-change", "fields": {
        "province": "001", "commune": "Phường Hoàn Kiếm", "address": "5 Tràng Thi"}})
    assert r.status_code == 201, r.text
    assert int(r.json()["reference"][-5:]) == int(p["reference"][-5:]) + 1


def test_refusals(env, tmp_path):
    base = json.loads(Path(env.config).read_text())

    def config_with(store):
        cfg = dict(base, store=store, data_dir=str(tmp_path / "data"))
        path = env.portal_dir / "portal-refusal.json"  # its relative paths are the portal's
        path.write_text(json.dumps(cfg))
        return path

    # A password in the connection string: refused before anything is made, never printed.
    bad = in_schema(SCHEMA).replace("postgresql://postgres@", "postgresql://postgres:s3cr3t-pw@")
    assert bad != in_schema(SCHEMA)
    for store in (bad, in_schema(SCHEMA) + "&password=s3cr3t-pw"):
        res = portal_cli(env, config_with(store), "official", "list")
        assert res.returncode != 0, res
        assert "password" in res.stderr and "s3cr3t-pw" not in res.stderr + res.stdout
    res = portal_cli(env, config_with(str(tmp_path / "x.db")), "official", "list")
    assert res.returncode != 0 and "postgresql://" in res.stderr, res
    # A schema that holds another daemon's store (an e-ID's meta) is not taken.
    other = f"{SCHEMA}_id"
    psql(PG, f"DROP SCHEMA IF EXISTS {other} CASCADE; CREATE SCHEMA {other};"
             f"CREATE TABLE {other}.meta(key text PRIMARY KEY, value text NOT NULL);"
             f"INSERT INTO {other}.meta VALUES('pg_schema', '1'), ('kind', 'ndx-id')")
    try:
        res = portal_cli(env, config_with(in_schema(other)), "official", "list")
        assert res.returncode != 0, res
        assert "not an ndx-portal database" in res.stderr, res.stderr
        assert psql(PG, "SELECT count(*) FROM information_schema.tables WHERE"
                        f" table_schema = '{other}'") == "1"
    finally:
        psql(PG, f"DROP SCHEMA IF EXISTS {other} CASCADE")
    # The portal itself is unharmed: the officers still sign in.
    officer_login(env, "canbo.btc")


# ---- two nodes, one outbox ----------------------------------------------------------


class SlowInbox(Inbox):
    """The SMTP server of both nodes: each message takes DELAY s to accept (so that one
    node alone cannot empty a burst before the other's mailer looks at the outbox), and
    the conversation of a message to `hold` waits at RCPT TO until `release` (so that the
    node sending it can be killed mid-send, before it has sent anything)."""

    DELAY = 0.3

    def __init__(self):
        super().__init__()
        self.hold = None
        self.holding = threading.Event()
        self.release = threading.Event()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address == self.hold and not self.release.is_set():
            self.holding.set()
            while not self.release.is_set():
                await asyncio.sleep(0.05)
            return "451 4.3.0 try again later"  # to a node that is gone by now
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(self.DELAY)
        return await super().handle_DATA(server, session, envelope)

    def outbox_ids(self, rcpt):
        """The outbox id of each message to rcpt received (Message-ID <ID.RANDOM@...>)."""
        return [int(m[2]["Message-ID"].strip("<>").split(".")[0])
                for m in self.messages if rcpt in m[1]]


MON_TOKEN = "monitor-token-of-the-two-nodes-test"


class SlowMonitor:
    """The monitoring service's POST /api/procedures: each answer takes DELAY s, and it
    counts the requests in flight at once (more than one: two nodes pushing at once)."""

    DELAY = 0.5

    def __init__(self):
        self.received, self.inflight, self.max_inflight = [], 0, 0
        self.lock = threading.Lock()
        mon = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(n))
                with mon.lock:
                    mon.inflight += 1
                    mon.max_inflight = max(mon.max_inflight, mon.inflight)
                time.sleep(mon.DELAY)
                ok = (self.path == "/api/procedures" and
                      self.headers.get("Authorization") == f"Bearer {MON_TOKEN}")
                with mon.lock:
                    mon.inflight -= 1
                    if ok:
                        mon.received.extend(p["id"] for p in body["procedures"])
                out = json.dumps({"stored": len(body["procedures"])} if ok else {}).encode()
                self.send_response(200 if ok else 401)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        class Server(ThreadingHTTPServer):
            daemon_threads = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def nodes(env):
    """env.portal restarted with "smtp" and "monitor" and a second ndx-portal with the
    same configuration but its listening port, on the same schema; both stopped
    afterwards and env.portal started again as it was."""
    inbox = SlowInbox()
    ctl = Controller(inbox, hostname="127.0.0.1", port=free_port())
    ctl.start()
    inbox.monitor = SlowMonitor()
    (env.portal_dir / "monitor.token").write_text(MON_TOKEN + "\n")
    plain = env.config
    cfg = json.loads(Path(plain).read_text())
    cfg["smtp"] = {"host": "127.0.0.1", "port": ctl.port, "from": "no-reply@dichvucong.example",
                   "starttls": False}
    cfg["monitor"] = {"url": inbox.monitor.url, "token_file": "monitor.token",
                      "push_interval_s": 1}
    a_cfg, b_cfg = env.portal_dir / "portal-pg-a.json", env.portal_dir / "portal-pg-b.json"
    a_cfg.write_text(json.dumps(cfg, indent=2))
    b_port = free_port()
    b_cfg.write_text(json.dumps(dict(cfg, listen=f"127.0.0.1:{b_port}"), indent=2))
    exe_path = exe(env.build_dir, "src", "portal", "ndx-portal")
    b = Proc("portal-pg-b", [exe_path, "serve", "--config", b_cfg], f"http://127.0.0.1:{b_port}",
             env.workdir)
    assert env.portal.stop() == 0
    env.config = a_cfg
    problems = []
    try:
        start_portal(env, env.workdir)
        b.start()
        inbox.nodes = [env.portal, b]
        yield inbox
    finally:
        for n in (b, env.portal):
            rc = n.stop()
            if rc not in (0, None):
                problems.append(f"{n.name} exited with {rc}:\n{n.tail()}")
        ctl.stop()
        inbox.monitor.stop()
        env.config = plain
        start_portal(env, env.workdir)
    assert not problems, problems


def node_of(claimed_by, procs):
    """The Proc whose process made the claim (claimed_by is HOST:PID:RANDOM)."""
    pid = int(claimed_by.split(":")[1])
    got = [p for p in procs if p.proc is not None and p.proc.pid == pid]
    assert len(got) == 1, (claimed_by, [p.proc and p.proc.pid for p in procs])
    return got[0]


def queue_mails(rcpt, n):
    """n e-mails to rcpt in the outbox, due now, as pstore_notify queues them."""
    ids = in_pg(f"WITH n AS (INSERT INTO notifications(subject, procedure_id, kind, created_at)"
                f" SELECT 'x', 'x', 'completed', extract(epoch FROM now())::bigint"
                f" FROM generate_series(1, {n}) RETURNING id)"
                f" INSERT INTO outbox(notification_id, rcpt, title, body, created_at, next_at)"
                f" SELECT id, '{rcpt}', 'Ho so', 'b', extract(epoch FROM now())::bigint,"
                f" extract(epoch FROM now())::bigint FROM n RETURNING id")
    return sorted(int(i) for i in ids.split())


def eventually_pg(sql, want, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = in_pg(sql)
        if got == want:
            return
        time.sleep(0.2)
    raise AssertionError(f"{sql}: {got!r}, not {want!r} within {timeout} s")


def test_two_nodes_send_each_email_once(env, nodes):
    a, b = nodes.nodes
    b_url = b.url
    pids = {str(n.proc.pid) for n in nodes.nodes}
    who = adults(env, 38)[22]
    addr = "hai.nodes@example.vn"
    s, csrf = citizen_login(env, who)
    # The address given through one node, applications decided through either.
    r = post(s, b_url + "/api/me/contact", csrf, {"email": addr, "consent": True})
    assert r.status_code == 200, r.text
    procs = [submit_residence(env, who)[2] for _ in range(4)]
    bca, bca_csrf = officer_login(env, "canbo.bca")
    for i, p in enumerate(procs):
        url = (env.url, b_url)[i % 2]
        r = post(bca, url + f"/api/officer/procedures/{p['id']}/decision", bca_csrf,
                 {"decision": "approve"})
        assert r.status_code == 200 and r.json()["state"] == "completed", r.text
    # A burst in the outbox: both mailers find it (each looks at least every 5 s; the
    # SMTP server's DELAY makes one node alone take longer than that).
    burst = queue_mails("burst@example.vn", 30)
    nodes.wait(addr, 4, timeout=60)
    nodes.wait("burst@example.vn", 30, timeout=120)
    eventually_pg(f"SELECT count(*) FROM outbox WHERE rcpt IN ('{addr}', 'burst@example.vn')"
                  " AND sent_at IS NULL", "0")
    # Both nodes stopped (a message in flight finishes first): what the server has is all.
    assert a.stop() == 0 and b.stop() == 0
    sent = nodes.outbox_ids("burst@example.vn")
    assert sorted(sent) == burst, sent  # each once
    assert len(nodes.outbox_ids(addr)) == 4
    assert len(set(nodes.outbox_ids(addr))) == 4
    rows = in_pg("SELECT attempts || ' ' || claimed_by FROM outbox WHERE rcpt IN"
                 f" ('{addr}', 'burst@example.vn')").splitlines()
    assert len(rows) == 34 and all(r.startswith("1 ") for r in rows), rows
    # Each node sent its share, named by its process.
    assert {r.split()[1].split(":")[1] for r in rows} == pids, (rows, pids)
    assert addr not in a.stderr_path.read_text() + b.stderr_path.read_text()


def test_a_node_killed_mid_send_leaves_the_email_to_the_other(env, nodes):
    nodes.hold = "held@example.vn"
    (held,) = queue_mails("held@example.vn", 1)
    # One node is in the SMTP conversation of the held message: kill -9 it there.
    assert nodes.holding.wait(30), "no node sent the held e-mail"
    claimed = in_pg(f"SELECT claimed_by FROM outbox WHERE id = {held}")
    victim = node_of(claimed, nodes.nodes)
    survivor = [n for n in nodes.nodes if n is not victim][0]
    survivor_pid = survivor.proc.pid
    victim.proc.kill()
    victim.proc.wait(timeout=10)
    victim.proc = None
    nodes.release.set()
    # The other node goes on sending at once ...
    after = queue_mails("after@example.vn", 3)
    nodes.wait("after@example.vn", 3, timeout=60)
    # ... and sends the held one once the dead node's claim has run out (45 s).
    nodes.wait("held@example.vn", 1, timeout=150)
    eventually_pg("SELECT count(*) FROM outbox WHERE rcpt IN ('held@example.vn',"
                  " 'after@example.vn') AND sent_at IS NULL", "0")
    assert survivor.stop() == 0
    assert nodes.outbox_ids("held@example.vn") == [held]
    assert sorted(nodes.outbox_ids("after@example.vn")) == after
    # Sent by the survivor, in one recorded attempt: the killed node's never was.
    row = in_pg(f"SELECT attempts || ' ' || claimed_by FROM outbox WHERE id = {held}")
    assert row.startswith("1 ") and row.split()[1].split(":")[1] == str(survivor_pid), row


def push_active(node):
    text = requests.get(node.url + "/metrics", timeout=10).text
    m = re.search(r"^ndx_portal_procedures_push_active (\d+)$", text, re.M)
    assert m, text
    return int(m.group(1))


def eventually(fn, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = fn()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout} s")


def test_two_nodes_push_from_one_at_a_time(env, nodes):
    mon = nodes.monitor
    # Every procedure of the schema reaches the (new) monitoring service, each once.
    ids = set(in_pg("SELECT id FROM procedures").split())
    eventually(lambda: ids <= set(mon.received))
    # One node pushes, the other stands by.
    eventually(lambda: sorted(push_active(n) for n in nodes.nodes) == [0, 1])
    active = [n for n in nodes.nodes if push_active(n) == 1][0]
    standby = [n for n in nodes.nodes if n is not active][0]
    assert "procedures push: this node pushes" in active.stderr_path.read_text()
    assert "another node pushes; this one stands by" in standby.stderr_path.read_text()
    # The pushing node dies; an application filed through the other reaches the monitoring
    # service once the dead node's lease has run out (a period and 30 s).
    s, csrf = citizen_login(env, adults(env, 38)[23])
    active.proc.kill()
    active.proc.wait(timeout=10)
    active.proc = None
    r = post(s, standby.url + "/api/procedures", csrf, {"kind": "residence-change", "fields": {
        "province": "001", "commune": "Phường Hoàn Kiếm", "address": "9 Tràng Thi"}})
    assert r.status_code == 201, r.text
    new = r.json()["id"]
    eventually(lambda: new in mon.received, timeout=120)
    eventually(lambda: push_active(standby) == 1)
    # Never two pushes at once, and nothing sent twice (no procedure changed meanwhile).
    assert mon.max_inflight == 1
    assert sorted(mon.received) == sorted(ids | {new})
