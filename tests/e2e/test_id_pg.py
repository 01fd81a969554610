"""ndx-id, the national e-ID, on PostgreSQL (docs/scale.md "The e-ID on PostgreSQL"):
initialised, given accounts and a client, and served with a postgresql:// --store. A
citizen signs in through the OpenID Connect code flow and the client gets tokens; a
death-registered event from the e-ID's gateway (a stand-in serving the inbox as
docs/events.md describes) disables another citizen's account, and its second delivery
changes nothing; after kill -9 the restarted ndx-id loses nothing it acknowledged: the
access token still works, the used code is still a replay (which revokes the token), the
disabled account stays disabled, and the single sign-on session still signs in without a
password. A second ndx-id on the same schema serves the same citizens. Refusals: init on a
schema that holds an e-ID provider, a connection string with a password (never printed).
Runs under tests/with-postgres (`make test-pg`); skipped (and says so) without
NDX_TEST_PG."""

import http.server
import json
import os
import re
import signal
import subprocess
import threading
import time
import urllib.parse

import pytest
import requests

from conftest import free_port
from test_id import (CLIENT_ID, CLIENT_SECRET, PASSWORD, REDIRECT, Idp, authorize, code_from,
                     get_code, pkce, sign_in, token, verify_jws)

PG = os.environ.get("NDX_TEST_PG", "")
pytestmark = pytest.mark.skipif(
    not PG, reason="NDX_TEST_PG is not set: ndx-id on PostgreSQL is tested under "
                   "tests/with-postgres (make test-pg)")
SCHEMA = f"idpg_{os.getpid()}"
EVENT_ID = "6f1c1f0e-4a52-4c1e-9d1e-1b2c3d4e5f60"
EID_CLIENT = "VN/GOV/BCA/eid"


def psql(sql):
    res = subprocess.run(["psql", "-X", "-q", "-At", PG, "-c", sql], capture_output=True,
                         text=True, timeout=30)
    assert res.returncode == 0, f"psql {sql}: {res.stderr}"
    return res.stdout.strip()


def store_of(schema):
    sep = "&" if "?" in PG else "?"
    return f"{PG}{sep}options=-csearch_path%3D{schema}"


class Inbox:
    """The e-ID's gateway as ndx-id's event subscriber sees it (GET /e1/inbox, POST
    /e1/inbox/{id}/ack): the events offered until acknowledged, and each acknowledgement
    kept."""

    def __init__(self):
        self.events = []
        self.acks = []
        self.lock = threading.Lock()
        inbox = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def reply(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                if not self.path.startswith("/e1/inbox"):
                    return self.reply(404, {"type": "not-found"})
                with inbox.lock:
                    events = [e for e in inbox.events if not e["acknowledged"]]
                    nxt = max([e["seq"] for e in inbox.events], default=0)
                self.reply(200, {"events": events, "next": nxt})

            def do_POST(self):
                m = re.fullmatch(r"/e1/inbox/([^/]+)/ack", self.path)
                if not m:
                    return self.reply(404, {"type": "not-found"})
                with inbox.lock:
                    inbox.acks.append(m.group(1))
                    for e in inbox.events:
                        if e["id"] == m.group(1):
                            e["acknowledged"] = True
                self.reply(200, {"id": m.group(1), "acknowledged": True})

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def offer(self, seq, event_id, pin, died_on):
        with self.lock:
            self.events.append({
                "seq": seq, "id": event_id, "service": "VN/GOV/BTP/hotich/death-registered",
                "event": "death-registered", "publisher": "VN/GOV/BTP/hotich",
                "subject": pin, "purpose": "public-service", "time_ms": int(time.time() * 1000),
                "acknowledged": False, "payload": {"pin": pin, "died_on": died_on}})

    def acked(self, event_id):
        with self.lock:
            return self.acks.count(event_id)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def wait_for(cond, what, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


@pytest.fixture(scope="module")
def env(build_dir, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("idpg")
    exe = build_dir / "src" / "id" / "ndx-id"
    sector = build_dir / "src" / "sector" / "ndx-sector"
    subprocess.run([str(sector), "seed", "--db-dir", str(tmp / "pop"), "--citizens", "8"],
                   check=True, capture_output=True, timeout=60)
    import sqlite3
    with sqlite3.connect(tmp / "pop" / "population.db") as db:
        citizens = db.execute("SELECT pin, full_name, birth_date, sex FROM citizens"
                              " ORDER BY pin LIMIT 4").fetchall()
    (tmp / "pw").write_text(PASSWORD + "\n")
    (tmp / "secret").write_text(CLIENT_SECRET + "\n")
    psql(f"CREATE SCHEMA {SCHEMA}")
    store = store_of(SCHEMA)
    inbox = Inbox()
    run = lambda *a: subprocess.run([str(exe), *a], capture_output=True, text=True, timeout=60)
    yield {"exe": exe, "tmp": tmp, "store": store, "run": run, "citizens": citizens,
           "popdb": tmp / "pop" / "population.db", "inbox": inbox}
    inbox.close()


class PgIdp(Idp):
    def __init__(self, env, data, name, port=None):
        self.name = name
        super().__init__(env["exe"], data, port or free_port(), env["tmp"] / f"{name}.stderr",
                         extra=("--store", env["store"], "--events-gateway", env["inbox"].url,
                                "--events-client", EID_CLIENT, "--events-poll-ms", "50"))


def test_id_on_postgresql(env):
    run, store, tmp = env["run"], env["store"], env["tmp"]
    data = tmp / "data"

    # Refused before anything is made: a password in the connection string.
    bad = PG.replace("postgresql://postgres@", "postgresql://postgres:s3cr3t-pw@")
    assert bad != PG
    r = run("init", "--data", str(tmp / "nodata"), "--store", bad)
    assert r.returncode == 2 and "password" in r.stderr, r.stderr
    assert "s3cr3t-pw" not in r.stdout + r.stderr
    assert not (tmp / "nodata").exists()

    r = run("init", "--data", str(data), "--store", store)
    assert r.returncode == 0, r.stderr
    m = re.search(r"database +(\S+)", r.stdout)
    assert m and m.group(1).startswith("postgresql://") and "password" not in m.group(1)
    assert not (data / "id.db").exists()
    assert psql(f"SELECT value FROM {SCHEMA}.meta WHERE key = 'kind'") == "ndx-id"
    # A second init on the schema is refused, and leaves no keys behind.
    r = run("init", "--data", str(tmp / "data2"), "--store", store)
    assert r.returncode == 1 and "holds an e-ID provider already" in r.stderr, r.stderr
    assert not (tmp / "data2" / "id-sign.key").exists()
    # Without --store the data directory's id.db is meant, and there is none.
    r = run("client", "add", "--data", str(data), "--client-id", CLIENT_ID, "--secret-file",
            str(tmp / "secret"), "--redirect-uri", REDIRECT)
    assert r.returncode == 1 and "does not exist" in r.stderr, r.stderr

    r = run("accounts", "import", "--data", str(data), "--store", store, "--population-db",
            str(env["popdb"]), "--limit", "3", "--password-file", str(tmp / "pw"),
            "--cost", "min")
    assert r.returncode == 0 and "3 new" in r.stdout, r.stdout + r.stderr
    assert psql(f"SELECT count(*) FROM {SCHEMA}.accounts") == "3"
    # Only the password's Argon2id hash is kept.
    assert PASSWORD not in psql(f"SELECT string_agg(password_hash, ',') FROM {SCHEMA}.accounts")
    r = run("client", "add", "--data", str(data), "--store", store, "--client-id", CLIENT_ID,
            "--secret-file", str(tmp / "secret"), "--redirect-uri", REDIRECT)
    assert r.returncode == 0 and "registered" in r.stdout, r.stdout + r.stderr
    assert psql(f"SELECT secret_sha256 FROM {SCHEMA}.clients") != CLIENT_SECRET

    idp = PgIdp(env, data, "idp")
    try:
        (pin, name, birth, sex), (dead_pin, *_), (other_pin, *_) = env["citizens"][:3]
        # The code flow: a code, tokens, the claims.
        code, verifier, browser = get_code(idp, pin)
        t = token(idp, code, verifier)
        assert t.status_code == 200, t.text
        body = t.json()
        _, claims = verify_jws(idp, body["id_token"])
        assert claims["sub"] == pin and claims["name"] == name
        at = body["access_token"]
        u = requests.get(idp.url + "/userinfo", headers={"Authorization": "Bearer " + at},
                         timeout=5)
        assert u.status_code == 200 and u.json()["sub"] == pin
        # Secrets are kept as their SHA-256 only.
        assert psql(f"SELECT count(*) FROM {SCHEMA}.tokens WHERE token_hash = '{at}'") == "0"
        assert psql(f"SELECT count(*) FROM {SCHEMA}.codes WHERE code_hash = '{code}'") == "0"

        # The dead citizen signed in before (a session and a token) ...
        dcode, dverifier, _ = get_code(idp, dead_pin)
        dt = token(idp, dcode, dverifier)
        assert dt.status_code == 200, dt.text
        dat = dt.json()["access_token"]
        # ... then death-registered: the account disabled, its token revoked.
        env["inbox"].offer(1, EVENT_ID, dead_pin, "2026-11-30")
        wait_for(lambda: env["inbox"].acked(EVENT_ID) == 1, "the event was not acknowledged")
        assert "death-registered " + EVENT_ID + ": account disabled" in idp.log()
        row = psql(f"SELECT disabled_reason, disabled_on FROM {SCHEMA}.accounts"
                   f" WHERE pin = '{dead_pin}'")
        assert row == "deceased|2026-11-30"
        r = requests.get(idp.url + "/userinfo", headers={"Authorization": "Bearer " + dat},
                         timeout=5)
        assert r.status_code == 401
        s = requests.Session()
        _, challenge = pkce()
        page = authorize(s, idp, challenge)
        r = sign_in(s, idp, page, dead_pin, PASSWORD)
        assert r.status_code == 403
        # Delivered again (an acknowledgement the gateway lost): applied once.
        with env["inbox"].lock:
            env["inbox"].events[0]["acknowledged"] = False
        wait_for(lambda: env["inbox"].acked(EVENT_ID) == 2, "the redelivery was not acknowledged")
        assert "death-registered " + EVENT_ID + ": applied before" in idp.log()
        assert psql(f"SELECT count(*) FROM {SCHEMA}.events_applied WHERE id = '{EVENT_ID}'") == "1"

        # A code used, then kill -9: nothing acknowledged is lost.
        code2, verifier2, _ = get_code(idp, other_pin)
        t2 = token(idp, code2, verifier2)
        assert t2.status_code == 200, t2.text
        at2 = t2.json()["access_token"]
        idp.proc.send_signal(signal.SIGKILL)
        idp.proc.wait(timeout=10)
        idp = PgIdp(env, data, "idp-restarted", port=idp.port)
        for tok, sub in ((at, pin), (at2, other_pin)):
            u = requests.get(idp.url + "/userinfo", headers={"Authorization": "Bearer " + tok},
                             timeout=5)
            assert u.status_code == 200 and u.json()["sub"] == sub, u.text
        # The browser's single sign-on session: a code without the form.
        _, challenge3 = pkce()
        assert "code" in code_from(authorize(browser, idp, challenge3))
        again = token(idp, code2, verifier2)
        assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
        r = requests.get(idp.url + "/userinfo", headers={"Authorization": "Bearer " + at2},
                         timeout=5)
        assert r.status_code == 401
        assert psql(f"SELECT disabled_reason FROM {SCHEMA}.accounts"
                    f" WHERE pin = '{dead_pin}'") == "deceased"

        # A second ndx-id on the same schema: a code issued by one is redeemed at the
        # other, and used up for both.
        second = Idp(env["exe"], data, free_port(), tmp / "second.stderr",
                     extra=("--store", store))
        try:
            code4, verifier4, _ = get_code(idp, pin)
            t4 = token(second, code4, verifier4)
            assert t4.status_code == 200, t4.text
            again = token(idp, code4, verifier4)
            assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
            # The replay at the first revoked the token the second issued.
            r = requests.get(second.url + "/userinfo",
                             headers={"Authorization": "Bearer " + t4.json()["access_token"]},
                             timeout=5)
            assert r.status_code == 401
        finally:
            second.stop()
    finally:
        if idp.proc.poll() is None:
            idp.stop()
    assert "s3cr3t-pw" not in idp.log()


def test_accounts_imported_from_a_population_on_postgresql(env, build_dir):
    """`accounts import --population-db postgresql://...` reads a population registry that
    `ndx-sector seed --db-dir postgresql://...` put in PostgreSQL (docs/id.md), read-only,
    into an e-ID store on either engine (here SQLite); the same accounts as from the
    registry's SQLite file. Refusals: a password in the string (never printed), a database
    holding no population registry."""
    run, tmp = env["run"], env["tmp"]
    db = f"idpop_{os.getpid()}"
    u = urllib.parse.urlsplit(PG)
    popurl = urllib.parse.urlunsplit((u.scheme, u.netloc, "/" + db, u.query, u.fragment))
    psql(f"DROP DATABASE IF EXISTS {db}")
    psql(f"CREATE DATABASE {db}")
    try:
        sector = build_dir / "src" / "sector" / "ndx-sector"
        data = tmp / "popimport"
        assert run("init", "--data", str(data)).returncode == 0
        importing = lambda loc, *more: run(
            "accounts", "import", "--data", str(data), "--population-db", loc,
            "--password-file", str(tmp / "pw"), "--cost", "min", *more)

        # Nothing seeded yet: no population registry in that database.
        r = importing(popurl, "--limit", "2")
        assert r.returncode == 1 and 'no population registry in its schema "population"' \
            in r.stderr, r.stderr
        res = subprocess.run([str(sector), "seed", "--db-dir", popurl, "--citizens", "12",
                              "--seed", "5", "--sector", "population", "--quiet"],
                             capture_output=True, text=True, timeout=120)
        assert res.returncode == 0, res.stderr
        citizens = [tuple(line.split("|")) for line in subprocess.run(
            ["psql", "-X", "-q", "-At", popurl, "-c",
             "SELECT pin, full_name, birth_date, sex FROM population.citizens ORDER BY pin"],
            capture_output=True, text=True, timeout=30, check=True).stdout.splitlines()]
        assert len(citizens) == 12

        bad = popurl.replace("postgresql://postgres@", "postgresql://postgres:s3cr3t-pw@")
        assert bad != popurl
        r = importing(bad, "--limit", "2")
        assert r.returncode == 2 and "password" in r.stderr, r.stderr
        assert "s3cr3t-pw" not in r.stdout + r.stderr

        # The first five by PIN and one named further on, once each.
        extra = citizens[9][0]
        r = importing(popurl, "--limit", "5", "--pin", extra, "--pin", citizens[0][0])
        assert r.returncode == 0 and "6 new, 0 updated" in r.stdout, r.stdout + r.stderr
        assert "s3cr3t" not in r.stdout and "@" in r.stdout  # named user@host:port/db
        import sqlite3
        with sqlite3.connect(data / "id.db") as idb:
            got = idb.execute("SELECT pin, name, birthdate, gender FROM accounts"
                              " ORDER BY pin").fetchall()
        assert got == citizens[:5] + [citizens[9]]
        # Again: the same accounts updated, none added; the registry unchanged.
        r = importing(popurl, "--limit", "5")
        assert r.returncode == 0 and "0 new, 5 updated" in r.stdout, r.stdout + r.stderr
        after = subprocess.run(["psql", "-X", "-q", "-At", popurl, "-c",
                                "SELECT count(*) FROM population.citizens"],
                               capture_output=True, text=True, timeout=30, check=True)
        assert after.stdout.strip() == "12"
    finally:
        psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
