"""End-to-end test of the population registry on PostgreSQL (docs/sectors.md
"Storage", docs/scale.md): `ndx-sector seed --db-dir postgresql://... --sector
population` loads a small population through COPY into the schema population of
a database of its own, `ndx-sector serve --db postgresql://...` serves it, and the
API answers as on SQLite: a citizen by number with its household, a search by name
with and without diacritics in name order, a write read back, the verification
service (POST /verify: a record matched by its number, a candidate found by name and
birth date for an unknown number, differences named). Events (docs/sectors.md
"Storage", "Events"): a death registered in civil-status on PostgreSQL goes into the
schema's event_outbox with the record and reaches a subscriber through the member's
gateway; kept there across a kill -9 between commit and publish, it goes out after the
restart; two processes on one schema publish each event once, in order; a schema of
version 1 is brought to version 4. Applying events on PostgreSQL: a tax registry on
PostgreSQL subscribed to deaths closes the person's tax file, records the event in
tax.event_applied in the same transaction and acknowledges it; the same death
published again changes nothing; killed (-9) after the commit and before the
acknowledgement, restarted, it finds the event applied; two processes on one schema
apply each event once (these two on SQLite too, the same test on a file); a schema of
version 2 is brought to version 4. Refusals: a number nobody has
(404), malformed numbers and queries (400), a second seed over the schema, a
connection string with a password (never printed; serve exits 1, reconcile, worklist,
correct and seed refuse it with exit status 2), serve without --log-key, seed --defects
without --truth. Quality (docs/sectors.md "Quality"): the same planted records found on
both engines. Reconciliation (docs/sectors.md "Defects", "Reconciliation", "Correction
worklists"): `seed --defects` into PostgreSQL writes the same ground truth as into SQLite
files for the same seed; the six registries reconciled from PostgreSQL and from SQLite
(through a demo's gateways to its population registry) give the same findings, merge
candidates, mismatches, measures and precision and recall; /measures and
/reconcile/worklist are served from the schema; a worklist is the same on both engines,
two corrections on PostgreSQL are logged and the next run finds both records right; a
run killed with SIGKILL resumes without a record twice or skipped.
Runs under tests/with-postgres (`make test-pg`); skipped (and says so) without
NDX_TEST_PG."""

import json
import os
import sqlite3
import re
import signal
import subprocess
import sys
import time
import unicodedata
import urllib.parse
from pathlib import Path

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

import federation as F  # noqa: E402
from conftest import free_port  # noqa: E402
from test_data_subjects import admin  # noqa: E402
from test_sector import Sector, assert_error, citizen, fold, run, sector_exe  # noqa: E402

PG = os.environ.get("NDX_TEST_PG", "")
pytestmark = pytest.mark.skipif(
    not PG, reason="NDX_TEST_PG is not set: the sector registries on PostgreSQL are tested "
                   "under tests/with-postgres (make test-pg)")
CITIZENS = 3000
DB = f"sector_{os.getpid()}"


def psql(conninfo, sql):
    res = subprocess.run(["psql", "-X", "-q", "-At", "-F", "\t", conninfo, "-c", sql],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, f"psql {sql}: {res.stderr}"
    return [line.split("\t") for line in res.stdout.splitlines() if line]


def with_db(url, name):
    u = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((u.scheme, u.netloc, "/" + name, u.query, u.fragment))


@pytest.fixture(scope="module")
def url():
    psql(PG, f"DROP DATABASE IF EXISTS {DB}")
    psql(PG, f"CREATE DATABASE {DB}")
    yield with_db(PG, DB)
    psql(PG, f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")


@pytest.fixture(scope="module")
def seeded(build_dir, url):
    res = run(build_dir, "seed", "--db-dir", url, "--citizens", CITIZENS, "--seed", 3,
              "--sector", "population", "--quiet")
    return json.loads(res.stdout)


@pytest.fixture(scope="module")
def pop(build_dir, url, seeded, tmp_path_factory):
    work = tmp_path_factory.mktemp("sector-pg")
    srv = Sector(sector_exe(build_dir), "population", url, work,
                 extra=("--log-key", str(work / "log-key")))
    yield srv
    assert srv.stop() == 0, srv.tail()


def test_seed_on_postgres(seeded, url, build_dir):
    pop = seeded["sectors"]["population"]
    assert list(seeded["sectors"]) == ["population"]  # --sector: that one alone
    assert pop["rows"]["citizens"] == CITIZENS and pop["rows"]["households"] > 0
    # bytes: the tables with their indexes, as the server counts them.
    (size,), = psql(url, "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN"
                         " pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname ="
                         " 'population' AND c.relkind = 'r'")
    assert pop["bytes"] == int(size) > 0
    (n,), = psql(url, "SELECT count(*) FROM population.citizens")
    assert int(n) == CITIZENS
    # The schema is versioned, and its indexes were built after the load.
    assert psql(url, "SELECT key, value FROM population.meta ORDER BY key") == [
        ["pg_schema", "4"], ["sector", "population"]]
    idx = {r[0] for r in psql(url, "SELECT indexname FROM pg_indexes"
                                   " WHERE schemaname = 'population'")}
    assert {"citizens_key", "citizens_name", "citizens_household_id",
            "households_key"} <= idx
    # A second seed over it is refused and leaves it whole.
    res = run(build_dir, "seed", "--db-dir", url, "--citizens", 10, "--sector", "population",
              check=False)
    assert res.returncode == 1 and "schema population exists" in res.stderr
    assert int(psql(url, "SELECT count(*) FROM population.citizens")[0][0]) == CITIZENS


def test_read_by_number_and_household(url, pop):
    pin, name, hh = psql(url, "SELECT pin, full_name, household_id FROM population.citizens"
                              " WHERE relation = 'head' ORDER BY pin LIMIT 1")[0]
    r = pop.get(f"/citizens/{pin}")
    assert r.status_code == 200, r.text
    c = r.json()
    assert c["pin"] == pin and c["full_name"] == name and c["household_id"] == hh
    assert c["updated_at"].endswith("Z") and "name_folded" not in c
    h = pop.get(f"/households/{hh}")
    assert h.status_code == 200, h.text
    assert h.json()["head_pin"] == pin
    assert pin in [m["pin"] for m in h.json()["members"]]
    members = pop.get("/citizens", params={"household_id": hh}).json()["items"]
    assert pin in [m["pin"] for m in members]
    assert_error(pop.get("/citizens/001099999999"), 404)
    assert_error(pop.get("/citizens/123"), 400, "pin")
    assert_error(pop.get("/citizens/003089012345"), 400, "pin")


def test_search_by_name(url, pop):
    pin, name = psql(url, "SELECT pin, full_name FROM population.citizens"
                          " WHERE full_name LIKE 'Đ%' ORDER BY pin LIMIT 1")[0]
    plain = fold(name)
    for q in (name, plain, plain.upper(), unicodedata.normalize("NFD", name)):
        r = pop.get("/citizens", params={"name": q, "limit": 100})
        assert r.status_code == 200, r.text
        assert pin in [c["pin"] for c in r.json()["items"]], q
    first = pop.get("/citizens", params={"name": "nguyen", "limit": 5}).json()
    second = pop.get("/citizens", params={"name": "nguyen", "limit": 5, "offset": 5}).json()
    assert len(first["items"]) == 5 and first["next_offset"] == 5
    names = [fold(c["full_name"]) for c in first["items"] + second["items"]]
    assert names == sorted(names) and all(n.startswith("nguyen") for n in names)
    assert not {c["pin"] for c in first["items"]} & {c["pin"] for c in second["items"]}
    # What the server counts, the API finds: every "nguyen van an" of the registry.
    (n,), = psql(url, "SELECT count(*) FROM population.citizens"
                      " WHERE name_folded LIKE 'nguyen van an%'")
    hits = pop.get("/citizens", params={"name": "nguyen van an", "limit": 100}).json()["items"]
    assert len(hits) == min(int(n), 100)
    # LIKE's wildcards are letters here.
    assert pop.get("/citizens", params={"name": "nguyen_van"}).json()["items"] == []
    assert_error(pop.get("/citizens", params={"limit": 101}), 400, "limit")
    assert_error(pop.get("/citizens", params={"name": "   "}), 400, "name")
    assert_error(pop.get("/citizens", params={"household_id": "X1"}), 400, "household_id")


def test_write_and_read_back(url, pop):
    body = citizen(pin="001089000777", full_name="Nguyễn Văn Thử Pg")
    r = pop.post("/citizens", body)
    assert r.status_code == 201, r.text
    assert pop.post("/citizens", body).status_code == 409
    got = pop.get("/citizens/001089000777").json()
    assert got["full_name"] == "Nguyễn Văn Thử Pg"
    hits = pop.get("/citizens", params={"name": "nguyen van thu pg"}).json()["items"]
    assert [c["pin"] for c in hits] == ["001089000777"]
    # Committed on the server, not only in the daemon.
    assert psql(url, "SELECT full_name FROM population.citizens WHERE pin = '001089000777'"
                ) == [["Nguyễn Văn Thử Pg"]]
    assert_error(pop.post("/citizens", citizen(pin="001089000778", birth_date="1990-05-06")),
                 400, "pin")


def test_verify(url, pop):
    """docs/sectors.md "Verification", on the PostgreSQL store."""
    pin, name, birth, sex, addr = psql(
        url, "SELECT pin, full_name, birth_date, sex, permanent_address FROM"
             " population.citizens WHERE deceased_on IS NULL AND substr(birth_date, 9, 2)"
             " <= '12' AND substr(birth_date, 9, 2) <> substr(birth_date, 6, 2)"
             " ORDER BY pin LIMIT 1")[0]
    (same,), = psql(url, "SELECT count(*) FROM population.citizens WHERE name_folded ="
                         f" (SELECT name_folded FROM population.citizens WHERE pin = '{pin}')"
                         f" AND birth_date = '{birth}' AND sex = '{sex}'")
    assert same == "1"  # the candidate below is then the one person
    swapped = birth[:5] + birth[8:10] + "-" + birth[5:7]  # a day that is also a month
    records = [
        {"pin": pin, "full_name": name, "birth_date": birth, "sex": sex, "address": addr,
         "living": True},
        {"pin": "001099999999", "full_name": fold(name).upper(), "birth_date": birth,
         "sex": sex},
        {"pin": pin, "full_name": name, "birth_date": swapped, "address": "Số 9 đường Khác",
         "living": False},
    ]
    r = pop.post("/verify", {"records": records})
    assert r.status_code == 200, r.text
    res = r.json()["results"]
    assert res[0] == {"pin": "match", "full_name": "match", "birth_date": "match",
                      "sex": "match", "address": "match", "living": "match"}
    assert res[1]["pin"] == "unknown" and res[1]["candidate_pin"] == pin
    assert res[1]["full_name"] == "marks" and res[1]["birth_date"] == "match"
    assert res[2] == {"pin": "match", "full_name": "match", "birth_date": "swapped",
                      "address": "differs", "living": "differs"}
    # The people compared are declared for the gateway to log.
    assert pin in r.headers.get("Ndx-Data-Subjects", "")
    assert_error(pop.post("/verify", {"records": []}), 400, "records")


def test_refusals_that_remain(build_dir, url, pop, tmp_path):
    key = str(tmp_path / "k")
    refused = [
        (["serve", "--sector", "population", "--db", url], "--log-key"),
        # No directory beside the schemas for the ground truth: it is named.
        (["seed", "--db-dir", url, "--citizens", 10, "--defects", "0.1"], "--truth FILE"),
    ]
    for args, why in refused:
        res = run(build_dir, *args, check=False)
        assert res.returncode == 2, (args, res.stderr)
        assert why in res.stderr, (args, res.stderr)
    # A password in the connection string: refused and never printed.
    u = urllib.parse.urlsplit(url)
    secret = urllib.parse.urlunsplit((u.scheme, "postgres:s3cret@" + u.netloc.split("@")[-1],
                                      u.path, u.query, u.fragment))
    res = run(build_dir, "serve", "--sector", "population", "--db", secret, "--log-key", key,
              "--listen", "127.0.0.1:0", check=False)
    assert res.returncode == 1 and "s3cret" not in res.stderr + res.stdout
    assert "password" in res.stderr
    # The commands of reconciliation and the seeder refuse it before connecting (exit 2).
    for args in (["reconcile", "--sector", "tax", "--db", secret, "--gateway",
                  "http://127.0.0.1:1", "--client", "VN/GOV/TCT/tax"],
                 ["worklist", "--sector", "tax", "--db", secret],
                 ["correct", "--sector", "tax", "--db", secret, "--table", "taxpayers", "--key",
                  "1", "--field", "name", "--officer", "A"],
                 ["seed", "--db-dir", secret, "--citizens", 10, "--defects", "0.1", "--truth",
                  tmp_path / "t.jsonl"]):
        res = run(build_dir, *args, check=False)
        assert res.returncode == 2, (args, res.stderr)
        assert "password" in res.stderr and "s3cret" not in res.stderr + res.stdout, args


# ---- events: the outbox on PostgreSQL ----------------------------------------------------

DEATHS = F.POPULATION + "/deaths"  # the service civil-status publishes under: client/table
DEATH = "death-registered"
WAIT = 30.0


def setup_deaths(fed):
    fed.ndx("service", "add", DEATHS, "--title", "Khai tử", "--personal", "--purpose",
            "public-service")
    admin(fed, "POST", "/api/event-types", json={
        "service": DEATHS, "name": DEATH, "schema": {"type": "object"}})
    admin(fed, "POST", "/api/subscriptions", json={
        "client": F.TAX, "service": DEATHS, "event": DEATH, "purpose": "public-service",
        "retry": {"first_s": 1, "max_s": 1, "give_up_after_s": 600}})
    for gw in fed.gateways.values():
        fed.wait_conf(gw, fed.registry.conf_version())


@pytest.fixture(scope="module")
def fed(build_dir):
    with F.running_federation(build_dir, "ndx-sector-pg-", setup=setup_deaths) as f:
        yield f


def civil(build_dir, url, work, gateway, name="civil"):
    work = work / name  # its own stderr file
    work.mkdir()
    return Sector(sector_exe(build_dir), "civil-status", url, work, extra=(
        "--log-key", str(work / "log-key"), "--events-gateway", gateway,
        "--events-client", F.POPULATION))


def tax_inbox(fed):
    r = requests.get(f"{fed.gateways['BTC'].url}/e1/inbox",
                     headers={"X-Road-Client": F.TAX}, params={"limit": 500}, timeout=15)
    assert r.status_code == 200, r.text
    return [e for e in r.json()["events"] if e["service"] == DEATHS]


def wait_for(what, check, seconds=WAIT):
    deadline = time.monotonic() + seconds
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} after {seconds} s")
        time.sleep(0.2)


def death(pin, day="2026-11-20"):
    return {"pin": pin, "full_name": "Trần Văn Mất", "died_on": day, "province": pin[:3],
            "registered_on": day}


def outbox(url):
    return psql(url, "SELECT event_id, name, subject, attempts FROM civil_status.event_outbox"
                     " ORDER BY seq")


def delivered(fed, pins):
    """The tax inbox's death events of pins once all are there, in inbox order."""
    def check():
        got = [e for e in tax_inbox(fed) if e["subject"] in pins]
        return got if {e["subject"] for e in got} >= set(pins) else None
    return wait_for(f"death events of {pins} in the tax inbox", check)


def test_a_death_on_postgres_reaches_the_subscriber(build_dir, url, fed, tmp_path):
    srv = civil(build_dir, url, tmp_path, fed.gateways["BCA"].url)
    try:
        assert "publishing" in srv.tail()
        assert psql(url, "SELECT value FROM civil_status.meta WHERE key = 'pg_schema'") == [["4"]]
        r = srv.post("/deaths", death("001088000101"))
        assert r.status_code == 201, r.text
        e, = delivered(fed, ["001088000101"])
        assert e["event"] == DEATH and e["publisher"] == F.POPULATION
        assert e["payload"]["pin"] == "001088000101" and e["payload"]["died_on"] == "2026-11-20"
        assert e["payload"]["death_id"] == int(r.json()["id"])
        # Deleted once the gateway kept it.
        wait_for("an empty outbox", lambda: outbox(url) == [])
        # A correction of the record is no new death: nothing queued.
        assert srv.put(f"/deaths/{r.json()['id']}",
                       death("001088000101", "2026-11-21")).status_code == 200
        assert outbox(url) == []
    finally:
        assert srv.stop() == 0, srv.tail()


def test_an_event_committed_then_killed_goes_out_after_restart(build_dir, url, fed, tmp_path):
    # The gateway it is given is down: the record and its event are committed, the
    # publish fails, and the process is killed before it could go out.
    down = f"http://127.0.0.1:{free_port()}"
    srv = civil(build_dir, url, tmp_path, down, name="down")
    r = srv.post("/deaths", death("001188000202"))
    assert r.status_code == 201, r.text
    wait_for("a failed attempt", lambda: [x for x in outbox(url) if int(x[3]) >= 1])
    srv.proc.kill()
    srv.proc.wait(timeout=10)
    (event_id, name, subject, _), = outbox(url)
    assert (name, subject) == (DEATH, "001188000202")
    assert "001188000202" not in [e["subject"] for e in tax_inbox(fed)]
    # Restarted with the member's gateway: the kept event goes out under its own id.
    srv = civil(build_dir, url, tmp_path, fed.gateways["BCA"].url, name="up")
    try:
        e, = delivered(fed, ["001188000202"])
        assert e["id"] == event_id
        wait_for("an empty outbox", lambda: outbox(url) == [])
    finally:
        assert srv.stop() == 0, srv.tail()


def test_two_processes_on_one_schema_publish_each_event_once_in_order(build_dir, url, fed,
                                                                       tmp_path):
    gw = fed.gateways["BCA"].url
    a = civil(build_dir, url, tmp_path, gw, name="a")
    b = civil(build_dir, url, tmp_path, gw, name="b")
    pins = [f"0010890{n:05d}" for n in range(300, 312)]
    try:
        for i, pin in enumerate(pins):
            r = (a if i % 2 else b).post("/deaths", death(pin))
            assert r.status_code == 201, r.text
        got = delivered(fed, pins)
        # Once each, kept by the gateway in the order of the commits (its time_ms; the
        # order of the subscriber's inbox is the deliveries', the gateways' business).
        assert sorted(e["subject"] for e in got) == pins
        times = {e["subject"]: e["time_ms"] for e in got}
        assert [times[p] for p in pins] == sorted(times.values()), got
        wait_for("an empty outbox", lambda: outbox(url) == [])
    finally:
        assert a.stop() == 0, a.tail()
        assert b.stop() == 0, b.tail()
    logs = a.stderr_path.read_text() + b.stderr_path.read_text()
    published = re.findall(r"death-registered \d+ published as ([0-9a-f-]{36})", logs)
    assert sorted(published) == sorted(e["id"] for e in got), logs
    assert "duplicate" not in logs


def test_a_version_1_schema_is_brought_to_version_4(build_dir, url, fed, tmp_path):
    # What an older ndx-sector left: no outbox, version 1.
    srv = civil(build_dir, url, tmp_path, fed.gateways["BCA"].url, name="v1")
    assert srv.stop() == 0, srv.tail()
    psql(url, "DROP TABLE civil_status.event_outbox; DROP TABLE civil_status.event_applied;"
              " DROP TABLE civil_status.reconcile_runs, civil_status.reconcile_position,"
              " civil_status.reconcile_results, civil_status.reconcile_corrections;"
              " UPDATE civil_status.meta SET value = '1' WHERE key = 'pg_schema'")
    srv = civil(build_dir, url, tmp_path, fed.gateways["BCA"].url, name="v2")
    try:
        assert ("schema civil_status upgraded from version 1 to 4"
                " (event_outbox, event_applied, reconcile_*)") in srv.tail()
        assert psql(url, "SELECT value FROM civil_status.meta WHERE key = 'pg_schema'") == [["4"]]
        assert psql(url, "SELECT count(*) FROM civil_status.event_applied") == [["0"]]
        r = srv.post("/deaths", death("001089000400"))
        assert r.status_code == 201, r.text
        delivered(fed, ["001089000400"])
    finally:
        assert srv.stop() == 0, srv.tail()


# ---- events: applying them on PostgreSQL ---------------------------------------------------

def tax(build_dir, db, work, gateway, name="tax"):
    """The tax registry on db (PostgreSQL or a SQLite file), subscribed to deaths as the
    tax subsystem."""
    work = work / name
    work.mkdir()
    return Sector(sector_exe(build_dir), "tax", db, work, extra=(
        "--log-key", str(work / "log-key"), "--events-gateway", gateway,
        "--events-client", F.TAX, "--events-poll-ms", "100"))


@pytest.fixture(params=["pg", "sqlite"])
def tax_db(request, url, tmp_path):
    """The tax registry's database for the tests run on both engines: the schema tax
    of the test database, or a SQLite file of the test's own."""
    return url if request.param == "pg" else tmp_path / "tax.db"


def taxpayer(srv, pin):
    r = srv.post("/taxpayers", {"tax_id": pin, "kind": "individual", "name": "Trần Văn Mất",
                                "status": "active", "tax_office": pin[:3],
                                "registered_on": "2020-01-01"})
    assert r.status_code == 201, r.text


def applied(db, event_id):
    """The effects recorded for event_id in the tax registry's event_applied."""
    if str(db).startswith("postgresql://"):
        return psql(db, f"SELECT effect FROM tax.event_applied WHERE id = '{event_id}'")
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as c:
        return [list(r) for r in c.execute("SELECT effect FROM event_applied WHERE id = ?",
                                           (event_id,))]


def closed(srv, pin):
    r = srv.get(f"/taxpayers/{pin}")
    assert r.status_code == 200, r.text
    return r.json() if r.json()["status"] == "closed" else None


def test_a_tax_registry_on_postgres_applies_a_death(build_dir, url, fed, tmp_path):
    pin = "001090000501"
    t = tax(build_dir, url, tmp_path, fed.gateways["BTC"].url)
    c = civil(build_dir, url, tmp_path, fed.gateways["BCA"].url)
    try:
        assert "subscribing" in t.stderr_path.read_text()
        assert psql(url, "SELECT value FROM tax.meta WHERE key = 'pg_schema'") == [["4"]]
        taxpayer(t, pin)
        assert c.post("/deaths", death(pin)).status_code == 201
        e, = delivered(fed, [pin])
        rec = wait_for("the tax file closed", lambda: closed(t, pin))
        wait_for("the event recorded", lambda: applied(url, e["id"]))
        assert applied(url, e["id"]) == [["personal tax file closed"]]
        # Acknowledged once committed (docs/events.md "Receiving").
        wait_for("the acknowledgement", lambda: [x for x in tax_inbox(fed)
                                                 if x["id"] == e["id"] and x["acknowledged"]])
        assert (f"death-registered {e['id']}: personal tax file closed"
                in t.stderr_path.read_text())
        # The same death published again (another event id) changes nothing.
        r = requests.post(f"{fed.gateways['BCA'].url}/e1/{DEATHS}/{DEATH}",
                          headers={"X-Road-Client": F.POPULATION, "Ndx-Data-Subjects": pin},
                          json=e["payload"], timeout=10)
        assert r.status_code == 201, r.text
        again = r.json()["id"]
        wait_for("the second event recorded", lambda: applied(url, again))
        assert applied(url, again) == [["nothing to change"]]
        assert t.get(f"/taxpayers/{pin}").json() == rec  # updated_at included
    finally:
        assert c.stop() == 0, c.tail()
        assert t.stop() == 0, t.tail()


class AckDropper:
    """A gateway in front of the real one that passes the inbox through and fails every
    acknowledgement: the subscriber commits what it applied and is then killed before
    the gateway learns of it, the crash between commit and ack made certain."""

    def __init__(self, upstream):
        import http.server
        import threading

        up = upstream

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def forward(self, method):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else None
                if method == "POST" and self.path.endswith("/ack"):
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                hdrs = {k: v for k, v in self.headers.items()
                        if k.lower() not in ("host", "content-length", "connection")}
                r = requests.request(method, up + self.path, headers=hdrs, data=body,
                                     timeout=15)
                self.send_response(r.status_code)
                self.send_header("Content-Type", r.headers.get("Content-Type",
                                                               "application/json"))
                self.send_header("Content-Length", str(len(r.content)))
                self.end_headers()
                self.wfile.write(r.content)

            def do_GET(self):
                self.forward("GET")

            def do_POST(self):
                self.forward("POST")

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_an_event_applied_then_killed_before_the_ack_is_applied_once(build_dir, url, fed,
                                                                      tax_db, tmp_path):
    pin = "001090000602" if tax_db == url else "001090000603"
    proxy = AckDropper(fed.gateways["BTC"].url)
    c = civil(build_dir, url, tmp_path, fed.gateways["BCA"].url)
    t = tax(build_dir, tax_db, tmp_path, proxy.url, name="noack")
    try:
        taxpayer(t, pin)
        assert c.post("/deaths", death(pin)).status_code == 201
        e, = delivered(fed, [pin])
        rec = wait_for("the tax file closed", lambda: closed(t, pin))
        wait_for("the event recorded", lambda: applied(tax_db, e["id"]))
        t.proc.kill()  # kill -9 after the commit, the acknowledgement never made
        t.proc.wait(timeout=10)
        assert not [x for x in tax_inbox(fed) if x["id"] == e["id"] and x["acknowledged"]]
    finally:
        proxy.close()
        assert c.stop() == 0, c.tail()
    # Restarted: the event comes again, is recognised and acknowledged; nothing changes.
    t = tax(build_dir, tax_db, tmp_path, fed.gateways["BTC"].url, name="again")
    try:
        wait_for("the acknowledgement", lambda: [x for x in tax_inbox(fed)
                                                 if x["id"] == e["id"] and x["acknowledged"]])
        assert f"death-registered {e['id']}: applied before" in t.stderr_path.read_text()
        assert applied(tax_db, e["id"]) == [["personal tax file closed"]]
        assert t.get(f"/taxpayers/{pin}").json() == rec  # updated_at included
    finally:
        assert t.stop() == 0, t.tail()


def test_two_processes_on_one_schema_apply_each_event_once(build_dir, url, fed, tax_db,
                                                          tmp_path):
    first = 700 if tax_db == url else 720
    pins = [f"0010910{n:05d}" for n in range(first, first + 10)]
    gw = fed.gateways["BTC"].url
    a = tax(build_dir, tax_db, tmp_path, gw, name="a")
    b = tax(build_dir, tax_db, tmp_path, gw, name="b")
    c = civil(build_dir, url, tmp_path, fed.gateways["BCA"].url)
    try:
        for i, pin in enumerate(pins):
            taxpayer(a if i % 2 else b, pin)
        for pin in pins:
            assert c.post("/deaths", death(pin)).status_code == 201
        got = delivered(fed, pins)
        for pin in pins:
            wait_for(f"{pin}'s tax file closed", lambda p=pin: closed(a, p))
        ids = [e["id"] for e in got]
        wait_for("every acknowledgement", lambda: all(
            x["acknowledged"] for x in tax_inbox(fed) if x["id"] in ids))
    finally:
        assert c.stop() == 0, c.tail()
        assert a.stop() == 0, a.tail()
        assert b.stop() == 0, b.tail()
    # Each event changed its record once, in one of the two processes; the other, when it
    # had the event too, found it applied.
    logs = a.stderr_path.read_text() + b.stderr_path.read_text()
    for eid in ids:
        assert logs.count(f"death-registered {eid}: personal tax file closed") == 1, logs
        assert applied(tax_db, eid) == [["personal tax file closed"]]


def test_a_version_2_schema_is_brought_to_version_4(build_dir, url, fed, tmp_path):
    # What the previous ndx-sector left: an outbox, no record of applied events.
    t = tax(build_dir, url, tmp_path, fed.gateways["BTC"].url, name="v2")
    assert t.stop() == 0, t.tail()
    psql(url, "DROP TABLE tax.event_applied;"
              " DROP TABLE tax.reconcile_runs, tax.reconcile_position, tax.reconcile_results,"
              " tax.reconcile_corrections;"
              " UPDATE tax.meta SET value = '2' WHERE key = 'pg_schema'")
    pin = "001092000801"
    t = tax(build_dir, url, tmp_path, fed.gateways["BTC"].url, name="v3")
    c = civil(build_dir, url, tmp_path, fed.gateways["BCA"].url)
    try:
        assert ("schema tax upgraded from version 2 to 4 (event_applied, reconcile_*)"
                in t.stderr_path.read_text())
        assert psql(url, "SELECT value FROM tax.meta WHERE key = 'pg_schema'") == [["4"]]
        # The rows of the tables are kept; events are applied (and recorded) again.
        assert t.get("/taxpayers/001090000501").json()["status"] == "closed"
        taxpayer(t, pin)
        assert c.post("/deaths", death(pin)).status_code == 201
        e, = delivered(fed, [pin])
        wait_for("the tax file closed", lambda: closed(t, pin))
        wait_for("the event recorded", lambda: applied(url, e["id"]))
    finally:
        assert c.stop() == 0, c.tail()
        assert t.stop() == 0, t.tail()


# ---- quality on both engines ----------------------------------------------------------------

def sql_at(loc, sector, stmt):
    """Runs stmt (unqualified table names) on sector's tables at loc: a directory of
    SQLite files or a postgresql:// database. Returns the rows as lists of text."""
    if str(loc).startswith("postgresql://"):
        return psql(loc, f"SET search_path = {sector.replace('-', '_')}; {stmt}")
    con = sqlite3.connect(Path(loc) / f"{sector}.db")
    try:
        rows = [[None if v is None else str(v) for v in r] for r in con.execute(stmt)]
        con.commit()
        return rows
    finally:
        con.close()


@pytest.fixture(params=["pg", "sqlite"])
def quality_loc(request, build_dir, tmp_path):
    """A fresh seed of every sector (300 citizens, seed 5) on either engine."""
    if request.param == "pg":
        name = f"{DB}_quality"
        psql(PG, f"DROP DATABASE IF EXISTS {name}")
        psql(PG, f"CREATE DATABASE {name}")
        loc = with_db(PG, name)
    else:
        loc = tmp_path / "dbs"
    run(build_dir, "seed", "--db-dir", loc, "--citizens", 300, "--seed", 5, "--quiet")
    yield loc
    if request.param == "pg":
        psql(PG, f"DROP DATABASE IF EXISTS {DB}_quality WITH (FORCE)")


def test_quality_on_both_engines(build_dir, quality_loc):
    loc = quality_loc
    clean = run(build_dir, "quality", "--sector", "population", "--db-dir", loc,
                "--stale-days", 3650, check=False)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    rep = json.loads(clean.stdout)
    assert rep["clean"] is True and rep["totals"]["former_map"] == 0
    assert rep["tables"]["citizens"]["rows"] == 300

    (pin, name, bd, sex, prov, addr, pprov, hh), = sql_at(
        loc, "population", "SELECT pin, full_name, birth_date, sex, birth_province,"
        " permanent_address, permanent_province, household_id FROM citizens ORDER BY pin"
        " LIMIT 1")
    cols = ("pin, full_name, name_folded, birth_date, sex, birth_province, permanent_address,"
            " permanent_province, household_id, relation, updated_at")
    dup_pin = pin[:6] + ("000000" if pin[6:] != "000000" else "000001")
    rows = [
        # Invalid: province 003 does not exist.
        ("003089000123", "Lê Văn Sai", "le van sai", "1989-01-01", "male", "001", "Số 2",
         "001", hh, "child"),
        # Duplicate: the same person again under another (valid) number.
        (dup_pin, name, fold(name), bd, sex, prov, addr, pprov, hh, "other"),
        # Dangling: a household that does not exist.
        ("001190000777", "Phạm Thị Lạc", "pham thi lac", "1990-02-02", "female", "001", "Số 3",
         "001", "H00100999999", "head"),
    ]
    for r in rows:
        values = ", ".join("'" + v.replace("'", "''") + "'" for v in r)
        sql_at(loc, "population", f"INSERT INTO citizens({cols}) VALUES({values},"
                                  " '2025-01-01T00:00:00Z')")
    # Stale: untouched since 2012.
    sql_at(loc, "population", "UPDATE citizens SET updated_at = '2012-01-01T00:00:00Z'"
                              f" WHERE pin = '{pin}'")
    # Across sectors: an enterprise owner who is no citizen.
    (code,), = sql_at(loc, "enterprise", "SELECT code FROM enterprises ORDER BY code LIMIT 1")
    sql_at(loc, "enterprise", "INSERT INTO owners(enterprise_code, owner_pin, share_pct, since,"
                              f" updated_at) VALUES('{code}', '001085999999', 1, '2020-01-01',"
                              " '2025-01-01T00:00:00Z')")

    res = run(build_dir, "quality", "--sector", "population", "--db-dir", loc,
              "--stale-days", 3650, check=False)
    assert res.returncode == 3, res.stderr
    rep = json.loads(res.stdout)
    assert rep["clean"] is False and rep["tables"]["citizens"]["rows"] == 303
    t = rep["tables"]["citizens"]
    assert t["invalid"]["count"] == 1, t["invalid"]
    assert t["invalid"]["samples"][0]["id"] == "003089000123"
    assert t["invalid"]["samples"][0]["field"] == "pin"
    assert t["duplicates"]["groups"] == 1
    assert set(t["duplicates"]["samples"][0]["ids"].split()) == {pin, dup_pin}
    assert t["dangling"]["count"] == 1
    assert t["dangling"]["samples"][0]["value"] == "H00100999999"
    assert t["stale"]["count"] == 1
    assert rep["totals"] == {"invalid": 1, "duplicate_groups": 1, "dangling": 1, "stale": 1,
                             "former_map": 0}
    assert "NOT clean" in res.stderr

    # Another sector's records: looked up with --db-dir, skipped with --db alone.
    res = run(build_dir, "quality", "--sector", "enterprise", "--db-dir", loc,
              "--stale-days", 3650, check=False)
    assert res.returncode == 3, res.stderr
    dang = json.loads(res.stdout)["tables"]["owners"]["dangling"]
    assert dang["count"] == 1 and dang["samples"][0]["value"] == "001085999999"
    assert dang["samples"][0]["refers_to"] == "population/citizens"
    db = loc if str(loc).startswith("postgresql://") else Path(loc) / "enterprise.db"
    res = run(build_dir, "quality", "--sector", "enterprise", "--db", db, "--stale-days", 3650,
              check=False)
    dang = json.loads(res.stdout)["tables"]["owners"]["dangling"]
    assert dang["count"] == 0 and {"field": "owner_pin", "refers_to": "population/citizens"} \
        in dang["skipped"], dang


# ---- reconciliation, its worklist and corrections on PostgreSQL --------------------------
# docs/sectors.md "Defects", "Reconciliation", "Correction worklists", "Storage": the same
# seed with defects on both engines (the demo's SQLite files, whose population registry
# answers /verify, and the seven schemas of a database of their own), then the same
# reconciliation of the six other registries through the demo's gateways.

def defects_seed():
    from test_reconcile import SEED
    return SEED


@pytest.fixture(scope="module")
def both(build_dir, tmp_path_factory):
    from test_subject_accesses import running_demo
    name = f"{DB}_defects"
    psql(PG, f"DROP DATABASE IF EXISTS {name}")
    psql(PG, f"CREATE DATABASE {name}")
    work = tmp_path_factory.mktemp("reconcile-pg")
    db = with_db(PG, name)
    res = run(build_dir, "seed", "--db-dir", db, *defects_seed(), "--truth",
              work / "defects.jsonl", "--quiet")
    try:
        with running_demo(build_dir, work / "demo", defects_seed()) as demo:
            yield demo, db, work / "defects.jsonl", json.loads(res.stdout)
    finally:
        psql(PG, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def reconcile_cmd(build_dir, demo, sector, db, truth, *extra):
    from test_reconcile import CLIENTS, member_of
    client = CLIENTS[sector]
    return [str(sector_exe(build_dir)), "reconcile", "--sector", sector, "--db", str(db),
            "--gateway", demo.consumer[member_of(client)], "--client", client, "--truth",
            str(truth), "--quiet", "--rate", "0", *extra]


def reconcile_on(build_dir, demo, sector, db, truth, *extra):
    res = subprocess.run(reconcile_cmd(build_dir, demo, sector, db, truth, *extra),
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, (sector, db, res.stderr)
    return json.loads(res.stdout)


# What a report says of the data, whichever engine holds it (not the run's own counters).
SAME = ("records_checked", "matches", "findings", "merge_candidates", "mismatches", "measures",
        "truth")


@pytest.fixture(scope="module")
def reports(build_dir, both):
    from test_reconcile import CLIENTS
    demo, db, truth, _ = both
    out = {}
    for sector in CLIENTS:
        out[sector] = {
            "sqlite": reconcile_on(build_dir, demo, sector, demo.sector_dir / f"{sector}.db",
                                   demo.sector_dir / "defects.jsonl"),
            "pg": reconcile_on(build_dir, demo, sector, db, truth)}
    return out


def test_seed_defects_on_postgres_as_on_sqlite(both):
    demo, db, truth, summary = both
    from test_reconcile import EXPECTED
    # The same records spoiled the same way: the ground truths are the same, line for line.
    lines = truth.read_text()
    assert lines == (demo.sector_dir / "defects.jsonl").read_text()
    kinds = {json.loads(line)["kind"] for line in lines.splitlines()}
    assert kinds == set(EXPECTED)
    assert summary["defects"]["truth"] == str(truth)
    assert sum(summary["defects"]["kinds"].values()) == len(lines.splitlines())
    # And the spoiled values are in the schemas: a name without its marks, a dead person.
    t = next(json.loads(line) for line in lines.splitlines()
             if json.loads(line)["kind"] == "name-marks" and
             json.loads(line)["table"] == "participants")
    (now,), = psql(db, f"SELECT name FROM insurance.participants WHERE pin = '{t['key']}'")
    assert now != t["value"] and fold(now) == fold(t["value"])
    dead = [json.loads(line) for line in lines.splitlines()
            if json.loads(line)["kind"] == "deceased-active"]
    for d in dead:
        assert psql(db, f"SELECT count(*) FROM population.citizens WHERE pin = '{d['key']}'"
                        " AND deceased_on IS NOT NULL") == [["1"]], d
    # The schemas are at the current version with the reconciliation's tables.
    assert psql(db, "SELECT value FROM tax.meta WHERE key = 'pg_schema'") == [["4"]]


def test_reconcile_on_postgres_as_on_sqlite(reports):
    for sector, rep in reports.items():
        for k in SAME:
            assert rep["pg"][k] == rep["sqlite"][k], (sector, k)
        pg = rep["pg"]
        assert pg["run"] == 1 and pg["resumed"] is False
        assert pg["checked_by_this_process"] == pg["records_checked"] > 0, sector
        for kind, m in pg["truth"]["by_defect"].items():
            assert m["recall"] == 1.0 and m["found"] == m["expected"], (sector, kind, m)
    # Not both empty: every kind of finding is there.
    kinds = {f["kind"] for rep in reports.values() for f in rep["pg"]["findings"]}
    assert {"name-marks", "date-swapped", "address-differs", "wrong-number", "missing-number",
            "unknown-number", "deceased-active"} <= kinds
    assert any(rep["pg"]["merge_candidates"] for rep in reports.values())


def test_measures_and_worklist_served_from_postgres(build_dir, both, reports, tmp_path):
    demo, db, _, _ = both
    srv = Sector(sector_exe(build_dir), "tax", db, tmp_path,
                 extra=("--log-key", str(tmp_path / "log-key")))
    try:
        r = srv.get("/measures")
        assert r.status_code == 200, r.text
        (run1,) = r.json()["runs"]
        table = run1["tables"][0]
        assert table["table"] == "taxpayers"
        rep = reports["tax"]["pg"]
        assert table["records"] == rep["records_checked"]
        for m in ("accurate", "sufficient", "clean", "live"):
            assert table[m]["records"] == rep["measures"][m]["records"], m
        r = srv.get("/reconcile/worklist", params={"limit": 200})
        assert r.status_code == 200, r.text
        assert r.json()["total"] == len(rep["findings"]) > 0
        assert [{k: t[k] for k in ("table", "key", "kind", "field")} for t in r.json()["tasks"]] \
            == [{k: f[k] for k in ("table", "key", "kind", "field")}
                for f in rep["findings"][:200]]
    finally:
        assert srv.stop() == 0, srv.tail()


def test_worklist_and_correction_on_postgres(build_dir, both, reports):
    demo, db, truth, _ = both
    sector = "insurance"
    wl = {}
    for engine, loc in (("sqlite", demo.sector_dir / f"{sector}.db"), ("pg", db)):
        res = run(build_dir, "worklist", "--sector", sector, "--db", loc)
        wl[engine] = json.loads(res.stdout)
    # The same tasks: the findings of the last run, none corrected yet.
    assert wl["pg"] == wl["sqlite"]
    assert wl["pg"]["tasks"] == reports[sector]["pg"]["findings"]
    # A name without its marks, corrected from the person's papers (the truth's value).
    lines = [json.loads(line) for line in truth.read_text().splitlines()]
    t = next(x for x in lines if x["sector"] == sector and x["kind"] == "name-marks")
    args = ("correct", "--sector", sector, "--db", db, "--table", t["table"], "--key", t["key"],
            "--field", "name", "--value", t["value"], "--officer", "Nguyễn Thị Lan")
    out = json.loads(run(build_dir, *args).stdout)
    assert out["officer"] == "Nguyễn Thị Lan" and out["new_value"] == t["value"]
    assert out["old_value"] != t["value"] and out["run"] == 1 and out["events"] == []
    assert psql(db, f"SELECT name FROM insurance.participants WHERE pin = '{t['key']}'") == \
        [[t["value"]]]
    assert psql(db, "SELECT record_key, field, officer, events FROM"
                    " insurance.reconcile_corrections") == \
        [[t["key"], "name", "Nguyễn Thị Lan", "[]"]]
    # Corrected once; the task is off the worklist.
    res = run(build_dir, *args, check=False)
    assert res.returncode == 1 and "no open task" in res.stderr
    after = json.loads(run(build_dir, "worklist", "--sector", sector, "--db", db).stdout)
    assert len(after["tasks"]) == len(wl["pg"]["tasks"]) - 1
    # A deceased person's record: marked deceased without a value given.
    d = next(x for x in lines if x["sector"] == sector and x["kind"] == "deceased-active")
    out = json.loads(run(build_dir, "correct", "--sector", sector, "--db", db, "--table",
                         d["table"], "--key", d["key"], "--field", "status", "--officer",
                         "Trần Văn Bình").stdout)
    assert out["new_value"] == "deceased"
    # The next run finds both records right.
    rep = reconcile_on(build_dir, demo, sector, db, truth)
    assert rep["run"] == 2
    left = {(f["key"], f["kind"]) for f in rep["findings"]}
    assert (t["key"], "name-marks") not in left and (d["key"], "deceased-active") not in left
    assert len(rep["findings"]) == len(reports[sector]["pg"]["findings"]) - 2


def test_killed_run_on_postgres_resumes_without_double_or_skip(build_dir, both):
    demo, db, truth, _ = both
    sector = "civil-status"
    births = [r for (r,) in psql(db, "SELECT id FROM civil_status.births ORDER BY id")]
    done = int(psql(db, "SELECT count(*) FROM civil_status.reconcile_runs")[0][0])
    proc = subprocess.Popen(reconcile_cmd(build_dir, demo, sector, db, truth, "--rate", "400",
                                          "--batch", "10"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run_id = None
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            rows = psql(db, "SELECT id FROM civil_status.reconcile_runs"
                            " WHERE finished_at IS NULL")
            if rows:
                run_id = rows[0][0]
                n = psql(db, "SELECT count(*) FROM civil_status.reconcile_results"
                             f" WHERE run = {run_id}")[0][0]
                if int(n) >= 100:
                    break
            time.sleep(0.05)
        assert run_id is not None and proc.poll() is None, "killed too late"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert int(run_id) == done + 1
    keys = "SELECT record_key FROM civil_status.reconcile_results WHERE run = {} ORDER BY rid"
    before = [k for (k,) in psql(db, keys.format(run_id))]
    assert 100 <= len(before) < len(births) and len(before) % 10 == 0
    assert psql(db, "SELECT last_key, done FROM civil_status.reconcile_position"
                    f" WHERE run = {run_id}") == [[before[-1], str(len(before))]]
    rep = reconcile_on(build_dir, demo, sector, db, truth, "--batch", "10")
    assert rep["run"] == int(run_id) and rep["resumed"] is True
    assert rep["checked_by_this_process"] == len(births) - len(before)
    assert [k for (k,) in psql(db, keys.format(run_id))] == births  # each once, none skipped
