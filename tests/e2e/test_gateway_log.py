"""End-to-end tests of the message log inside ndx-gateway (docs/gateway.md "Message log",
docs/protocol.md "Message log"): a real federation on loopback (federation.py) whose
gateways log every exchange; the logs are checked from the outside with `ndx log verify
| prove | check-proof`, Python's sqlite3 (read-only, or on copies for tampering) and an
independent Python check of the signed tree head. Fault tests: kill -9 of the provider
gateway under load, a full disk (a small tmpfs) under either gateway."""

import base64
import errno
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ed25519

sys.path.insert(0, str(Path(__file__).resolve().parent))

import federation as F  # noqa: E402
from federation import (CITIZENS, ECHO, TAX, gateway_request,  # noqa: E402
                        tls_context)
import refusals  # noqa: E402

CLI_TIMEOUT = 30
BATCH_INTERVAL_MS = 200  # proofs need a closed batch: keep the wait short
SUBJECT, PURPOSE = "001099000123", "public-service"


class LogGateway(F.Gateway):
    """federation.Gateway plus the "msglog" key and a data_dir that a test may move (to a
    small tmpfs); everything else as federation.py writes it."""

    data_dir_override = None
    threads_override = None

    def write_config(self):
        super().write_config()
        cfg = json.loads(self.config_path.read_text())
        cfg["msglog"] = {"batch_max": 64, "batch_interval_ms": BATCH_INTERVAL_MS}
        if self.data_dir_override:
            cfg["data_dir"] = str(self.data_dir_override)
        if self.threads_override:
            cfg["limits"] = dict(cfg["limits"], threads=self.threads_override)
        self.config_path.write_text(json.dumps(cfg, indent=2, ensure_ascii=False))

    @property
    def data_dir(self):
        return Path(self.data_dir_override) if self.data_dir_override else self.dir / "data"

    @property
    def db(self):
        return self.data_dir / "msglog.db"


@pytest.fixture(scope="module")
def fed(build_dir):
    with F.running_federation(build_dir, "ndx-gwlog-", gateway_class=LogGateway) as f:
        yield f


# ---- helpers ---------------------------------------------------------------------------

def ndx_log(fed, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("NDX_")}
    return subprocess.run([str(F.ndx_exe(fed.build_dir)), "log", *map(str, args)],
                          capture_output=True, text=True, timeout=CLI_TIMEOUT, env=env)


def verify_ok(fed, gw, db=None):
    res = ndx_log(fed, "verify", "--db", db or gw.db, "--key", gw.ident.sign_pub)
    assert res.returncode == 0, f"ndx log verify {db or gw.db}: exit {res.returncode}\n" \
                                f"{res.stdout}\n{res.stderr}\n{gw.tail()}"
    return res.stdout


def head(gw):
    r = requests.get(gw.url + "/admin/log/head", timeout=5)
    assert r.status_code == 200, r.text
    return r.json()


def wait_sealed(gw, timeout=10.0):
    """Waits until every durable record is under a signed tree head; returns the head."""
    deadline = time.monotonic() + timeout
    while True:
        h = head(gw)
        if h["covered"] == h["records"]:
            return h
        if time.monotonic() > deadline:
            raise AssertionError(f"{gw.member}: records {h['records']} still not covered "
                                 f"after {timeout} s: {h}")
        time.sleep(0.05)


def prove(fed, gw, xid, direction, tmp_path):
    """`ndx log prove` + `ndx log check-proof` with the gateway's public key; returns the
    proof document."""
    res = ndx_log(fed, "prove", "--db", gw.db, "--id", xid, "--direction", direction)
    assert res.returncode == 0, f"prove {xid} in {gw.member}'s log: {res.stderr}"
    proof = tmp_path / f"{gw.code}-{gw.ident.member.replace('/', '_')}-{xid}.json"
    proof.write_text(res.stdout)
    chk = ndx_log(fed, "check-proof", proof, "--key", gw.ident.sign_pub)
    assert chk.returncode == 0, f"check-proof {xid}: {chk.stdout}\n{chk.stderr}"
    return json.loads(res.stdout)


def not_in_log(fed, gw, xid):
    res = ndx_log(fed, "prove", "--db", gw.db, "--id", xid)
    assert res.returncode == 1 and xid in res.stderr, \
        f"{xid} in {gw.member}'s log? {res.stdout}\n{res.stderr}"


def gateway_key(fed, name):
    """(raw public key, key id) of gateway `name` as the signed global configuration has
    them: the key a verifier trusts."""
    kid = fed.idents[name].key_id()
    keys = {k: raw for raw, k in fed.gateway_keys(fed.idents[name].member)}
    assert kid in keys, f"{name}'s key {kid} is not in the configuration"
    return keys[kid], kid


def message_ids(db, direction):
    """{message_id: [status, ...]} of one direction, read through a read-only connection
    (safe while the gateway writes: WAL)."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        out = {}
        for mid, status in con.execute(
                "SELECT message_id, status FROM records WHERE direction = ?", (direction,)):
            out.setdefault(mid, []).append(status)
        return out
    finally:
        con.close()


def field(b):
    return len(b).to_bytes(8, "big") + b


def u64(v):
    return field((v % (1 << 64)).to_bytes(8, "big"))


def sth_message(h):
    """The 166 bytes a tree head's signature covers (protocol.md "Batches and signed tree
    heads")."""
    return (field(b"ndx-log-sth-v1") + u64(h["batch"]) + u64(h["first_seq"]) +
            u64(h["size"]) + field(bytes.fromhex(h["root"])) + u64(h["time_ms"]) +
            field(bytes.fromhex(h["prev_sth_hash"])))


def metric(text, name, labels=""):
    m = re.search(rf"^{re.escape(name + labels)} (\S+)$", text, re.M)
    assert m, f"{name}{labels} not in /metrics:\n{text}"
    return float(m.group(1))


# ---- exchanges, logged on both sides ----------------------------------------------------

@pytest.fixture(scope="module")
def run(fed):
    """A run of exchanges: a GET with subject and purpose, a POST, a refusal by the
    consumer gateway (no grant), a refusal by the provider gateway (no grant, asked by a
    gateway played here), and a provider system error passed back. Waits until both logs
    have closed their batches."""
    out = {}
    xid = "log-get-" + uuid.uuid4().hex
    r = fed.call("BTC", "GET", CITIZENS, "/citizens/001", xid=xid,
                 headers={"Ndx-Subject": SUBJECT, "Ndx-Purpose": PURPOSE,
                          "X-Road-UserId": "VN/GOV/BTC/canbo01", "X-Road-Issue": "HS-42"})
    assert r.status_code == 200, r.text
    out["get"] = (xid, r)
    xid = "log-post-" + uuid.uuid4().hex
    r = fed.call("BTC", "POST", ECHO, "/things", xid=xid, data=b'{"a":1}',
                 headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    out["post"] = (xid, r)
    xid = "log-404-" + uuid.uuid4().hex
    r = fed.call("BTC", "GET", ECHO, "/x/status/404", xid=xid)
    assert r.status_code == 404, r.text
    out["backend404"] = (xid, r)
    xid = "log-cnogrant-" + uuid.uuid4().hex
    r = fed.call("BTC", "GET", CITIZENS, "/other/1", xid=xid)
    refusals.check_response(r, "NoGrant", side="consumer")
    out["consumer_refusal"] = (xid, r)
    ident = fed.idents["BTC"]
    ctx = tls_context(ident.ca_pem, ident.tls_cert, ident.tls_key)
    xid = "log-pnogrant-" + uuid.uuid4().hex
    st, hdrs, body, rh = gateway_request(fed.gateways["BCA"].gateway_port, ctx, "GET",
                                         CITIZENS, "/other/1", xid=xid,
                                         sign_with=ident.private_key())
    refusals.check(st, hdrs, body, "NoGrant", side="provider")
    out["provider_refusal"] = (xid, (st, hdrs, body, rh))
    for n in ("BTC", "BCA"):
        wait_sealed(fed.gateways[n])
    return out


def test_both_gateways_log_every_exchange_and_prove_it(fed, run, tmp_path):
    btc, bca = fed.gateways["BTC"], fed.gateways["BCA"]
    # Verify while the gateways run (WAL readers), against the key from outside.
    verify_ok(fed, btc)
    verify_ok(fed, bca)
    for name in ("get", "post", "backend404"):
        xid, r = run[name]
        c = prove(fed, btc, xid, "consumer", tmp_path)["record"]
        p = prove(fed, bca, xid, "provider", tmp_path)["record"]
        req_hash = base64.b64decode(r.headers["X-Road-Request-Hash"]).hex()
        for rec, direction in ((c, "consumer"), (p, "provider")):
            assert rec["direction"] == direction
            assert rec["message_id"] == xid
            assert rec["client"] == TAX
            assert rec["service"] == (CITIZENS if name == "get" else ECHO)
            assert rec["status"] == r.status_code
            assert rec["request_hash"] == req_hash
            assert rec["response_signature"] == r.headers["Ndx-Response-Signature"]
            assert rec["duration_ms"] >= 0
        # One exchange, one request signature and one response hash on both sides.
        assert c["request_signature"] and c["request_signature"] == p["request_signature"]
        assert c["response_hash"] and c["response_hash"] == p["response_hash"]
        resp_hash = F.response_hash(bytes.fromhex(req_hash), r.status_code,
                                    r.headers.get("Content-Type"), r.headers.get("Location"),
                                    r.content)
        assert c["response_hash"] == resp_hash.hex()
        # The consumer gateway's own request signature verifies over the request hash.
        raw, kid = gateway_key(fed, "BTC")
        F.verify_signature_object(c["request_signature"], raw, kid, bytes.fromhex(req_hash))
    get_c = prove(fed, btc, run["get"][0], "consumer", tmp_path)["record"]
    get_p = prove(fed, bca, run["get"][0], "provider", tmp_path)["record"]
    for rec in (get_c, get_p):
        assert (rec["subject"], rec["purpose"]) == (SUBJECT, PURPOSE)

    # Refused by the consumer gateway: logged there (no hashes), never reached BCA.
    xid, r = run["consumer_refusal"]
    c = prove(fed, btc, xid, "consumer", tmp_path)["record"]
    assert (c["status"], c["request_hash"], c["response_hash"]) == (500, "", "")
    assert (c["client"], c["service"]) == (TAX, CITIZENS)
    not_in_log(fed, bca, xid)

    # Refused by the provider gateway: logged with the hash of the signed refusal.
    xid, (st, hdrs, body, rh) = run["provider_refusal"]
    p = prove(fed, bca, xid, "provider", tmp_path)["record"]
    assert p["status"] == 500
    assert p["request_hash"] == rh.hex()
    assert p["response_hash"] == F.response_hash(rh, 500, hdrs.get("content-type"), None,
                                                 body).hex()
    assert p["response_signature"] == hdrs["ndx-response-signature"]
    not_in_log(fed, btc, xid)


def test_head_endpoint_signature_verifies_and_metrics_show_the_log(fed, run):
    for n in ("BTC", "BCA"):
        gw = fed.gateways[n]
        h = wait_sealed(gw)
        assert h["batch"] >= 1 and h["size"] >= 1 and h["covered"] >= 1
        assert h["covered"] == h["first_seq"] + h["size"] - 1
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", h["time"])
        # The key comes from the signed global configuration, not from the document.
        raw, kid = gateway_key(fed, n)
        assert h["key_id"] == kid
        msg = sth_message(h)
        assert len(msg) == 166
        ed25519.Ed25519PublicKey.from_public_bytes(raw).verify(
            base64.b64decode(h["signature"], validate=True), msg)
        text = requests.get(gw.url + "/metrics", timeout=5).text
        assert metric(text, "ndx_gateway_msglog_size") == h["covered"]
        assert metric(text, "ndx_gateway_msglog_batch") == h["batch"]
        assert metric(text, "ndx_gateway_msglog_records_total") == h["records"]
        assert metric(text, "ndx_gateway_msglog_commits_total") >= 1
        assert metric(text, "ndx_gateway_msglog_failed_commits_total") == 0
        assert "# TYPE ndx_gateway_msglog_records_total counter" in text
        # every successful commit timed once, in one bucket, its time in the sum
        commit = "ndx_gateway_msglog_commit_duration_seconds"
        assert f"# TYPE {commit} histogram" in text
        commits = metric(text, "ndx_gateway_msglog_commits_total")
        assert metric(text, commit + "_count") == commits
        assert metric(text, commit + "_bucket", '{le="+Inf"}') == commits
        assert 0 <= metric(text, commit + "_bucket", '{le="0.00025"}') <= commits
        assert metric(text, commit + "_sum") > 0
    r = requests.post(fed.gateways["BTC"].url + "/admin/log/head", timeout=5)
    assert r.status_code == 405


# ---- tampering, on copies ----------------------------------------------------------------

def snapshot(src, dst):
    """A consistent copy of a live WAL database (SQLite's backup API)."""
    s = sqlite3.connect(f"file:{src}?mode=ro", uri=True, timeout=10)
    d = sqlite3.connect(dst)
    try:
        s.backup(d)
        d.execute("PRAGMA journal_mode = DELETE")
    finally:
        s.close()
        d.close()


def flip_byte(col):
    """Changes one byte in the middle of a field of record :seq (text stays text)."""
    def edit(con, seq):
        v, = con.execute(f"SELECT {col} FROM records WHERE seq = ?", (seq,)).fetchone()
        b = bytearray(v.encode() if isinstance(v, str) else v)
        assert b, f"{col} of record {seq} is empty"
        b[len(b) // 2] ^= 0x01
        nv = b.decode() if isinstance(v, str) else bytes(b)
        con.execute(f"UPDATE records SET {col} = ? WHERE seq = ?", (nv, seq))
    return edit


def sql(*stmts):
    def edit(con, seq):
        for stmt in stmts:
            con.execute(stmt, {"seq": seq})
    return edit


TAMPERING = {
    **{col: flip_byte(col) for col in ("message_id", "client", "service", "method", "path",
                                       "subject", "purpose", "user_id", "issue",
                                       "request_hash", "response_hash",
                                       "request_sig", "response_sig", "prev_hash")},
    "status": sql("UPDATE records SET status = status + 1 WHERE seq = :seq"),
    "time_ms": sql("UPDATE records SET time_ms = time_ms + 1 WHERE seq = :seq"),
    "delete": sql("DELETE FROM records WHERE seq = :seq"),
    "swap": sql(
        "CREATE TEMP TABLE t AS SELECT * FROM records WHERE seq IN (:seq, :seq + 1)",
        "DELETE FROM records WHERE seq IN (:seq, :seq + 1)",
        "INSERT INTO records SELECT CASE seq WHEN :seq THEN :seq + 1 ELSE :seq END, "
        "time_ms, direction, message_id, client, service, method, path, subject, subjects, "
        "purpose, user_id, issue, represented_party, authenticated, request_hash, "
        "response_hash, status, duration_ms, request_sig, response_sig, prev_hash, hash "
        "FROM t"),
}


@pytest.mark.parametrize("what", sorted(TAMPERING))
def test_tampering_with_a_gateway_log_is_caught_and_named(fed, run, tmp_path, what):
    btc = fed.gateways["BTC"]
    copy = tmp_path / "msglog.db"
    snapshot(btc.db, copy)
    verify_ok(fed, btc, copy)  # the copy is a good log
    con = sqlite3.connect(copy)
    # The signed GET of the run: every field is set.
    seq, = con.execute("SELECT seq FROM records WHERE message_id = ? AND direction = "
                       "'consumer'", (run["get"][0],)).fetchone()
    before = con.execute("SELECT * FROM records WHERE seq = ?", (seq,)).fetchone()
    TAMPERING[what](con, seq)
    con.commit()
    after = con.execute("SELECT * FROM records WHERE seq = ?", (seq,)).fetchone()
    con.close()
    assert after != before, f"{what}: nothing changed"
    res = ndx_log(fed, "verify", "--db", copy, "--key", btc.ident.sign_pub)
    assert res.returncode == 1, f"{what}: verify passed a tampered log\n{res.stdout}"
    assert f"record {seq}" in res.stderr or f"record {seq + 1}" in res.stderr, \
        f"{what}: {res.stderr!r} does not name record {seq}"


# ---- kill -9 under load ------------------------------------------------------------------

@pytest.mark.parametrize("victim", ["provider", "consumer"])
def test_kill_9_under_load_loses_no_answered_exchange(fed, victim):
    """kill -9 of either gateway in the middle of a bounded load (4 clients x 100
    requests, each client stopping half a second after the kill, at most 20 s): every
    exchange a client saw answered 2xx is in both logs, both logs verify, and the killed
    gateway comes back with its log."""
    btc, bca = fed.gateways["BTC"], fed.gateways["BCA"]
    killed = bca if victim == "provider" else btc
    answered, seen, lock = [], [], threading.Lock()
    attempts = [0]
    # The load goes on until just after the kill, however slow the machine: a load
    # that stopped by the clock before the kill would test nothing.
    give_up_at = time.monotonic() + 20.0
    killed_at = []
    under_way = threading.Event()  # a quarter of the load is through: kill now

    def worker(n):
        s = requests.Session()
        for i in range(100):
            if time.monotonic() > give_up_at or (
                    killed_at and time.monotonic() > killed_at[0] + 0.5):
                return
            xid = f"load-{n}-{i}-{uuid.uuid4().hex[:8]}"
            with lock:
                attempts[0] += 1
            try:
                r = s.get(f"{btc.url}/r1/{CITIZENS}/citizens/{i:03d}", timeout=10,
                          headers={"X-Road-Client": TAX, "X-Road-Id": xid})
            except requests.RequestException:
                continue  # the consumer gateway died under this request
            with lock:
                seen.append((xid, r.status_code))
                if 200 <= r.status_code < 300:
                    answered.append(xid)
                if len(seen) >= 100:
                    under_way.set()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    try:
        under_way.wait(timeout=15.0)
        killed.kill()
        killed_at.append(time.monotonic())
    finally:
        for t in threads:
            t.join(timeout=30)
    try:
        assert not any(t.is_alive() for t in threads), "load threads did not finish"
        assert answered, f"nothing answered 2xx before the kill: {seen[:10]}"
        assert len(answered) < attempts[0], "the kill refused nothing: it came too late"
    finally:
        killed.spawn().wait_ready()
    # Nothing the client saw answered is missing from either log.
    wait_sealed(btc)
    wait_sealed(bca)
    verify_ok(fed, btc)
    verify_ok(fed, bca)
    cons = message_ids(btc.db, "consumer")
    prov = message_ids(bca.db, "provider")
    missing_c = [x for x in answered if x not in cons]
    missing_p = [x for x in answered if x not in prov]
    assert not missing_c and not missing_p, \
        f"answered 2xx but not logged: consumer {missing_c[:5]}, provider {missing_p[:5]}"
    for x in answered:
        assert 200 in cons[x] and 200 in prov[x], (x, cons[x], prov[x])
    print(f"kill -9 of the {victim} under load: {attempts[0]} sent, {len(seen)} answered, "
          f"{len(answered)} of them 2xx")
    # Every exchange the client saw got exactly one consumer record.
    for x, status in seen:
        assert cons.get(x) == [status], (x, status, cons.get(x))


# ---- a full disk -------------------------------------------------------------------------

@pytest.fixture
def tiny_fs():
    d = Path(tempfile.mkdtemp(prefix="ndx-tinyfs-"))
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", str(d)],
                         capture_output=True, text=True, timeout=10)
    if res.returncode != 0:
        os.rmdir(d)
        pytest.skip(f"cannot mount a small tmpfs for the disk-full test: {res.stderr.strip()}")
    try:
        yield d
    finally:
        subprocess.run(["umount", "-l", str(d)], timeout=10)
        os.rmdir(d)


def fill(d):
    """Writes d/filler until the filesystem is full."""
    fd = os.open(d / "filler", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        chunk = b"\0" * 4096
        while True:
            try:
                if os.write(fd, chunk) < len(chunk):
                    chunk = b"\0"  # the last bytes of the last page
            except OSError as e:
                assert e.errno == errno.ENOSPC, e
                if len(chunk) == 1:
                    break
                chunk = b"\0"
    finally:
        os.close(fd)
    assert os.statvfs(d).f_bavail == 0


def restart_with(fed, gw, data_dir=None, threads=None):
    """Restarts gw with its data_dir and limits.threads overridden (None: as
    federation.py writes them)."""
    rc = gw.stop()
    assert rc == 0, f"{gw.member} exited {rc} on SIGTERM:\n{gw.tail()}"
    gw.data_dir_override = data_dir
    gw.threads_override = threads
    gw.write_config()
    gw.spawn().wait_ready()
    fed.wait_conf(gw, fed.registry.conf_version())


def restore(fed, gw):
    """Stops gw however a test left it and starts it on the module's configuration."""
    gw.stop()
    gw.data_dir_override = gw.threads_override = None
    gw.write_config()
    gw.spawn().wait_ready()
    fed.wait_conf(gw, fed.registry.conf_version())


@pytest.mark.parametrize("role", ["provider", "consumer"])
def test_full_disk_refuses_with_log_unavailable_then_recovers(fed, tiny_fs, role):
    gw = fed.gateways["BCA" if role == "provider" else "BTC"]
    data = tiny_fs / "data"
    try:
        restart_with(fed, gw, data_dir=data)
        r = fed.call("BTC", "GET", CITIZENS, "/citizens/001")
        assert r.status_code == 200, r.text
        fill(tiny_fs)
        statuses = []
        for _ in range(5):
            xid = "full-" + uuid.uuid4().hex
            try:
                r = fed.call("BTC", "GET", CITIZENS, "/citizens/002", xid=xid, timeout=15)
                statuses.append(r.status_code)
                refusals.check_response(r, "LogUnavailable", where=fed.tails())
                assert r.headers["X-Road-Id"] == xid
            except requests.RequestException as e:
                statuses.append(repr(e))
        assert statuses == [500] * 5, statuses
        text = requests.get(gw.url + "/metrics", timeout=5).text
        assert metric(text, "ndx_gateway_msglog_failed_commits_total") >= 1
        proxy = "ServerProxy" if role == "provider" else "ClientProxy"
        assert metric(text, "ndx_gateway_errors_total",
                      f'{{side="{role}",type="Server.{proxy}.LoggingFailed",'
                      'reason="LogUnavailable"}') >= 5
        assert "append failed" in gw.tail(50)
        # /healthz says so, for an operator and a load balancer (docs/gateway.md).
        h = requests.get(gw.url + "/healthz", timeout=5)
        assert h.status_code == 503, h.text
        assert h.json()["status"] == "not_ready"
        assert [p["code"] for p in h.json()["problems"]] == ["LogUnavailable"], h.text
        # Space again: exchanges work without a restart, and the log holds.
        os.unlink(tiny_fs / "filler")
        xid = "after-" + uuid.uuid4().hex
        r = fed.call("BTC", "GET", CITIZENS, "/citizens/003", xid=xid)
        assert r.status_code == 200, r.text
        assert "appends work again" in gw.tail(50)
        h = requests.get(gw.url + "/healthz", timeout=5)
        assert h.status_code == 200 and h.json()["status"] == "ok", h.text
        wait_sealed(gw)
        verify_ok(fed, gw)
        ids = message_ids(gw.db, role)
        assert xid in ids and not any(k.startswith("full-") for k in ids), ids
    finally:
        if (tiny_fs / "filler").exists():
            os.unlink(tiny_fs / "filler")
        restore(fed, gw)


# ---- another process holding the log ------------------------------------------------------

def test_a_lone_exchange_leaves_its_loop_free_while_another_process_holds_the_log(fed):
    """docs/gateway.md "The lone exchange's record": a gateway with one exchange in flight
    commits its record on the exchange's loop, but never waits there for another process.
    While a connection of this test holds the consumer gateway's log's write lock (as
    `ndx log archive` does while it deletes what it archived), the record waits on the
    log's writer thread: the gateway's only loop still answers /healthz, and the exchange
    is answered, and logged, once the lock is let go. Had the loop waited, /healthz would
    have waited with it, for up to SQLite's 10 s busy timeout, and the exchange failed."""
    gw, provider = fed.gateways["BTC"], fed.gateways["BCA"]
    xid = "locked-" + uuid.uuid4().hex
    outcome = {}

    def exchange():
        try:
            outcome["r"] = fed.call("BTC", "GET", CITIZENS, "/citizens/001", xid=xid,
                                    timeout=30)
        except requests.RequestException as e:
            outcome["r"] = e

    try:
        restart_with(fed, gw, threads=1)
        con = sqlite3.connect(gw.db, timeout=10, isolation_level=None)
        con.execute("BEGIN IMMEDIATE")
        t = threading.Thread(target=exchange)
        try:
            t.start()
            # The provider logs before it answers: once its record is there, the
            # consumer has the answer and goes on to log its own.
            deadline = time.monotonic() + 15
            while xid not in message_ids(provider.db, "provider"):
                assert time.monotonic() < deadline, f"{xid} never reached the provider"
                time.sleep(0.05)
            time.sleep(0.5)
            assert "r" not in outcome, outcome  # still waiting for its record
            h = requests.get(gw.url + "/healthz", timeout=5)
            assert h.status_code == 200, h.text
            assert "r" not in outcome, outcome
        finally:
            con.execute("ROLLBACK")
            con.close()
            t.join(40)
        r = outcome["r"]
        assert isinstance(r, requests.Response) and r.status_code == 200, \
            f"{r!r}\n{gw.tail()}"
        assert message_ids(gw.db, "consumer").get(xid) == [200]
    finally:
        restore(fed, gw)


# ---- after SIGTERM -------------------------------------------------------------------------

def test_logs_verify_after_sigterm_and_reopen(fed, run):
    for n in ("BTC", "BCA"):
        gw = fed.gateways[n]
        before = head(gw)["records"]
        rc = gw.stop()
        assert rc == 0, f"{n} exited {rc}:\n{gw.tail()}"
        out = verify_ok(fed, gw)
        assert f"{before} under" in out or f"records: {before} checked" in out, out
        assert not Path(str(gw.db) + "-wal").exists() or \
            Path(str(gw.db) + "-wal").stat().st_size == 0
        gw.spawn().wait_ready()
        h = head(gw)
        assert h["records"] == before and h["covered"] == before, h
