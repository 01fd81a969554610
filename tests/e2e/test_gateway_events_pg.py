"""End-to-end test of gateways whose event stores are in PostgreSQL (docs/scale.md "The
gateway's event store", docs/gateway.md `events.store`, src/gateway/evstore_pg.c): a real
federation on loopback whose gateways have `events.store` set to a postgresql://
connection string (a schema each, in the database of NDX_TEST_PG). Events published
through BCA reach the subscribers BTC and BHXH; an event acknowledged to its publisher
survives kill -9 of the publishing gateway before it could be delivered; a second node
of BCA (the same member, code and keys, the files copied) on the same schema shares the
outbox with the first, and every event published through either is delivered once to
each subscriber (each delivery made in one attempt, by one node). Refusals: a connection
string holding a password (never printed), one libpq cannot parse, the message log's
own string, and a server that is not there at start (exit 1, the database named).

Runs under tests/with-postgres (`make test-pg`), which starts the server; skipped (and
says so) without NDX_TEST_PG."""

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

import federation as F  # noqa: E402
import pgschema as P  # noqa: E402
from pgschema import PG, psql  # noqa: E402
import test_events as E  # noqa: E402  (publish, inbox and status helpers)

pytestmark = pytest.mark.skipif(
    not PG, reason="NDX_TEST_PG is not set: the gateways' event stores on PostgreSQL are "
                   "tested under tests/with-postgres (make test-pg)")
CLI_TIMEOUT = 30
A, B = E.A, E.B




class PgEventsGateway(P.StoreInSchema, F.Gateway):
    """federation.Gateway with its event store in a schema of its own (a second node of
    a member: the first node's, fixed_schema)."""

    schema_prefix = "gwev"

    def store_config(self, cfg):
        cfg["events"] = {"store": self.db}


def setup_events(fed):
    fed.ndx("service", "add", E.CIVIL, "--title", "Hộ tịch", "--personal", "--purpose",
            "public-service")
    E.admin(fed, "POST", "/api/event-types", json={
        "service": E.CIVIL, "name": E.DEATH, "title": "Khai tử", "schema": E.DEATH_SCHEMA})
    for client in (F.TAX, F.INSURANCE):
        E.admin(fed, "POST", "/api/subscriptions", json={
            "client": client, "service": E.CIVIL, "event": E.DEATH,
            "purpose": "public-service",
            "retry": {"first_s": 1, "max_s": 1, "give_up_after_s": 600}})
    for gw in fed.gateways.values():
        fed.wait_conf(gw, fed.registry.conf_version())


@pytest.fixture(scope="module")
def fed(build_dir):
    with F.running_federation(build_dir, "ndx-gwevpg-", gateway_class=PgEventsGateway,
                              setup=setup_events) as f:
        yield f


def payload(n, pin=A):
    return {"pin": pin, "died_on": "2026-11-20", "n": n}


def test_events_in_postgresql_reach_every_subscriber(fed):
    bca = fed.gateways["BCA"]
    ids = [E.published(fed, payload(n))["id"] for n in range(5)]
    for gw, client in (("BTC", F.TAX), ("BHXH", F.INSURANCE)):
        got = E.wait_inbox(fed, gw, client, ids)
        assert [e["id"] for e in got] == ids  # one subject: in order
        assert [e["payload"]["n"] for e in got] == list(range(5))
        # the subscriber's inbox is in its own schema
        sub = fed.gateways[gw]
        n = int(psql(sub.db, f"SELECT count(*) FROM inbox WHERE client = '{client}'"))
        assert n >= 5
    for i in ids:
        E.wait_state(fed, i, F.TAX, "delivered")
    # the outbox is in BCA's schema, no event store file anywhere
    for gw in fed.gateways.values():
        assert not (gw.dir / "data" / "events.db").exists(), gw.member
    n = int(psql(bca.db, "SELECT count(*) FROM outbox"))
    assert n >= 5
    counts = dict(x.split("|") for x in psql(bca.db, "SELECT what, n FROM counts").split())
    assert int(counts["0"]) + int(counts["1"]) + int(counts["2"]) == \
        int(psql(bca.db, "SELECT count(*) FROM deliveries"))


def test_an_acknowledged_event_survives_kill_9_of_the_publishing_gateway(fed):
    bca, bhxh = fed.gateways["BCA"], fed.gateways["BHXH"]
    bhxh.kill()  # the subscriber is down: nothing can be delivered to it yet
    try:
        ids = [E.published(fed, payload(n, B), subject=B)["id"] for n in range(10)]
        bca.kill()  # between the acknowledgement and the delivery
        queued = psql(bca.db, "SELECT count(*) FROM deliveries d JOIN outbox o"
                              " ON o.seq = d.seq WHERE d.client = '" + F.INSURANCE +
                              "' AND d.state = 0 AND o.id IN (" +
                              ",".join(f"'{i}'" for i in ids) + ")")
        assert int(queued) == 10
    finally:
        bhxh.start()
    bca.start()
    got = E.wait_inbox(fed, "BHXH", F.INSURANCE, ids, timeout=30)
    assert [e["id"] for e in got] == ids
    E.wait_inbox(fed, "BTC", F.TAX, ids, timeout=30)


def second_node(fed, n1):
    """BCA's node n2: the same member, code, keys and certificate (copied), its own
    data_dir and ports, n1's event store."""
    d = fed.workdir / "BCA_n2"
    d.mkdir()
    for f in n1.dir.iterdir():
        if f.is_file() and (f.name.startswith("sign.") or f.name.startswith(n1.code + ".")):
            shutil.copy2(f, d / f.name)
    ident = F.Identity(F.BCA, n1.code, d, n1.ident.address)
    n2 = PgEventsGateway(n1.exe, ident, n1.subsystems, n1.services, F.free_port(),
                         F.free_port(), n1.registry, n1.limits, n1.conf_refresh_s)
    n2.fixed_schema = n1.schema
    n2.write_config()
    return n2


def test_two_nodes_on_one_schema_deliver_each_event_once(fed):
    n1 = fed.gateways["BCA"]
    n2 = second_node(fed, n1)
    n2.start()
    try:
        fed.wait_conf(n2, fed.registry.conf_version())
        ids = []
        for n in range(30):
            node = (n1, n2)[n % 2]
            r = requests.post(f"{node.url}/e1/{E.CIVIL}/{E.DEATH}",
                              headers={"X-Road-Client": F.POPULATION,
                                       "Content-Type": "application/json",
                                       "Ndx-Data-Subjects": A},
                              data=json.dumps(payload(100 + n)).encode(), timeout=15)
            assert r.status_code == 201, f"{r.status_code} {r.text}\n{node.tail()}"
            ids.append(r.json()["id"])
        for gw, client in (("BTC", F.TAX), ("BHXH", F.INSURANCE)):
            got = E.wait_inbox(fed, gw, client, ids, timeout=30)
            # once each, in the order published (one subject), whichever node took it
            assert [e["id"] for e in got] == ids
        # either node tells where an event is
        for node in (n1, n2):
            r = requests.get(f"{node.url}/e1/events/{ids[1]}",
                             headers={"X-Road-Client": F.POPULATION}, timeout=15)
            assert r.status_code == 200, r.text
        # every delivery made by one node in one attempt: two nodes making one would
        # have recorded two attempts
        deadline = time.monotonic() + 20
        in_list = ",".join(f"'{i}'" for i in ids)
        while True:
            rows = psql(n1.db, "SELECT d.state, d.attempts FROM deliveries d JOIN outbox o"
                               f" ON o.seq = d.seq WHERE o.id IN ({in_list})").split()
            if len(rows) == 60 and all(r.split("|")[0] == "1" for r in rows):
                break
            assert time.monotonic() < deadline, rows
            time.sleep(0.2)
        assert all(r == "1|1" for r in rows), rows
    finally:
        rc = n2.stop()
    assert rc == 0, f"node n2 exited with {rc}:\n{n2.tail()}"


def gateway_check(fed, tmp_path, store, name):
    gw = fed.gateways["BTC"]
    cfg = json.loads(gw.config_path.read_text())
    cfg["events"] = {"store": store}
    path = gw.config_path.parent / name
    path.write_text(json.dumps(cfg))
    exe = Path(fed.build_dir) / "src" / "gateway" / "ndx-gateway"
    return subprocess.run([str(exe), "--config", str(path), "--check"], capture_output=True,
                          text=True, timeout=CLI_TIMEOUT)


def test_connection_strings_that_are_refused(fed, tmp_path):
    gw = fed.gateways["BTC"]
    res = gateway_check(fed, tmp_path, gw.db, "ok.json")
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"event store         {gw.db} (PostgreSQL)" in res.stdout
    res = gateway_check(fed, tmp_path, "postgresql://ndx:s3cret@127.0.0.1:1/ndx", "pw.json")
    out = res.stdout + res.stderr
    assert res.returncode == 1, out
    assert "events.store: the connection string holds a password" in out
    assert "s3cret" not in out
    res = gateway_check(fed, tmp_path, "postgresql://h/db?sslmode", "bad.json")
    assert res.returncode == 1, res.stdout + res.stderr
    assert "events.store: not a valid PostgreSQL connection string" in res.stdout + res.stderr
    gw = fed.gateways["BTC"]
    cfg = json.loads(gw.config_path.read_text())
    cfg["msglog"] = {"store": gw.db}
    cfg["events"] = {"store": gw.db}
    path = gw.config_path.parent / "same.json"
    path.write_text(json.dumps(cfg))
    exe = Path(fed.build_dir) / "src" / "gateway" / "ndx-gateway"
    res = subprocess.run([str(exe), "--config", str(path), "--check"], capture_output=True,
                         text=True, timeout=CLI_TIMEOUT)
    assert res.returncode == 1, res.stdout + res.stderr
    assert "events.store: the connection string of another of the gateway's stores" in \
        res.stdout + res.stderr
    res = gateway_check(fed, tmp_path, 42, "type.json")
    assert res.returncode == 1
    assert "events.store: expected a file path or a postgresql:// connection string" in \
        res.stdout + res.stderr


def test_a_server_that_is_not_there_stops_the_start(fed, tmp_path):
    gw = fed.gateways["BTC"]
    cfg = json.loads(gw.config_path.read_text())
    cfg["events"] = {"store": "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2"}
    cfg["consumer_listen"] = f"127.0.0.1:{F.free_port()}"
    cfg["gateway_listen"] = f"127.0.0.1:{F.free_port()}"
    cfg["data_dir"] = str(tmp_path / "data")
    (tmp_path / "data").mkdir(mode=0o700)
    path = gw.config_path.parent / "unreachable.json"
    path.write_text(json.dumps(cfg))
    exe = Path(fed.build_dir) / "src" / "gateway" / "ndx-gateway"
    res = subprocess.run([str(exe), "--config", str(path)], capture_output=True, text=True,
                         timeout=60, cwd=str(gw.dir))
    out = res.stdout + res.stderr
    assert res.returncode == 1, out
    assert "events" in out and "postgresql://nobody@127.0.0.1:1/none" in out, out
