"""End-to-end test of the registry on PostgreSQL (docs/scale.md "The registry on
PostgreSQL"): two ndx-registry processes serving one database (the second from a copy of
the first's data directory: the same keys), a federation whose gateways list both in
`registry_urls`. A change made through either node is seen through the other, both serve
the same signed configuration (same version, same bytes, same signature) and the same
delta from an older version, and after
kill -9 of one node the gateways go on refreshing (and fetching OpenAPI descriptions) from
the other. A negotiation signed end to end (docs/marketplace.md "Signed negotiations")
runs its messages through both nodes by turns; a chain negotiated without the registry,
recorded on one node, is found recorded on the other; one node answers many requests at
once on its one connection. Refusals: init on a
database that holds a registry, a connection string with a password (never printed).
Runs under tests/with-postgres (`make test-pg`); skipped (and says so) without
NDX_TEST_PG."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

import federation as F  # noqa: E402
from conftest import Registry, registry_exe  # noqa: E402
from federation import CITIZENS, POPULATION, TAX  # noqa: E402

PG = os.environ.get("NDX_TEST_PG", "")
pytestmark = pytest.mark.skipif(
    not PG, reason="NDX_TEST_PG is not set: the registry on PostgreSQL is tested under "
                   "tests/with-postgres (make test-pg)")
SCHEMA = f"registry_{os.getpid()}"
SUBJECT, PURPOSE = "001099000123", "public-service"


def psql(conninfo, sql):
    res = subprocess.run(["psql", "-X", "-q", "-At", conninfo, "-c", sql], capture_output=True,
                         text=True, timeout=30)
    assert res.returncode == 0, f"psql {sql}: {res.stderr}"
    return res.stdout.strip()


def store_of(schema):
    sep = "&" if "?" in PG else "?"
    return f"{PG}{sep}options=-csearch_path%3D{schema}"


NODES = []  # [node A, node B]: FailoverGateway lists both


class FailoverGateway(F.Gateway):
    """federation.Gateway listing both registry nodes, A first."""

    def write_config(self):
        super().write_config()
        cfg = json.loads(self.config_path.read_text())
        del cfg["registry_url"]
        cfg["registry_urls"] = [n.url for n in NODES]
        self.config_path.write_text(json.dumps(cfg, indent=2, ensure_ascii=False))


@pytest.fixture(scope="module")
def fed(build_dir):
    workdir = Path(tempfile.mkdtemp(prefix="ndx-regpg-"))
    psql(PG, f"CREATE SCHEMA {SCHEMA}")
    (workdir / "a").mkdir()
    (workdir / "b").mkdir()
    a = Registry(registry_exe(build_dir), workdir / "a", store=store_of(SCHEMA))
    shutil.copytree(a.data_dir, workdir / "b" / "data")
    b = Registry(registry_exe(build_dir), workdir / "b", store=store_of(SCHEMA), init=False)
    NODES[:] = [a.start(), b.start()]
    problems = []
    f = F.Federation(build_dir, a, workdir / "fed")
    orig, F.Gateway = F.Gateway, FailoverGateway
    try:
        try:
            f.start()
        except RuntimeError as e:
            pytest.fail(str(e), pytrace=False)
        finally:
            F.Gateway = orig
        yield f
        problems = f.close()
    finally:
        for n in NODES:
            # Every node is stopped, even when one before it would not stop
            # (Registry.stop kills it and fails): otherwise the rest outlive the run.
            try:
                rc = n.stop()
            except pytest.fail.Exception as e:
                problems.append(str(e))
                continue
            if rc not in (0, None, -signal.SIGKILL):
                problems.append(f"ndx-registry exited with {rc}:\n{n.tail()}")
    if problems:
        pytest.fail("\n".join(problems) + f"\n(files kept in {workdir})", pytrace=False)
    shutil.rmtree(workdir, ignore_errors=True)


def signed_conf(node):
    """(version, body bytes, signature) of node's /conf, the same twice in a row (a
    document re-signed between two reads, at a half-validity, is read again)."""
    for _ in range(3):
        r1 = requests.get(node.url + "/conf", timeout=10)
        r2 = requests.get(node.url + "/conf", timeout=10)
        assert r1.status_code == 200 and r2.status_code == 200, r1.text
        if r1.content == r2.content:
            return (json.loads(r1.content)["version"], r1.content,
                    r1.headers["Ndx-Conf-Signature"])
    raise AssertionError("the configuration changed under every read")


def add_member(node, member_id, name):
    r = node.api("POST", "/api/members", json={"id": member_id, "name": name})
    assert r.status_code == 201, r.text
    return r.json()["conf_version"]


def test_both_nodes_serve_one_registry(fed):
    a, b = NODES
    assert not (a.data_dir / "registry.db").exists()  # the database is PostgreSQL
    # schema 8: the marketplace's tables, the console's officials, the members of agency
    # administrators, event types as datasets, the keys rotations retired, the
    # marketplace's invoices, then signed negotiation messages (src/registry/reg_db.c)
    assert psql(PG, f"SELECT value FROM {SCHEMA}.meta WHERE key = 'pg_schema'") == "8"
    assert psql(PG, "SELECT reference, agreement_id, seller, buyer, from_ms, to_ms, amount_vnd,"
                    " statement_hash, invoice, created_at, paid_at, paid_bank_bin, paid_txn_id"
                    f" FROM {SCHEMA}.market_invoices") == ""
    # the invoices' queries run on PostgreSQL, on both nodes
    for node in NODES:
        r = node.api("GET", "/api/market/invoices")
        assert r.status_code == 200 and r.json() == {"invoices": []}, r.text
        r = requests.get(node.url + "/market/invoices",
                         headers={"Authorization": "Bearer " + node.token}, timeout=10)
        assert r.status_code == 200 and r.json() == {"invoices": []}, r.text
    # a change through one node is seen through the other, both ways
    v1 = add_member(a, "VN/GOV/NODEA", "Thêm qua nút A")
    for node in NODES:
        signed_conf(node)  # each node builds version v1's document
    r = b.api("GET", "/api/members/VN/GOV/NODEA")
    assert r.status_code == 200 and r.json()["name"] == "Thêm qua nút A", r.text
    v2 = add_member(b, "VN/GOV/NODEB", "Thêm qua nút B")
    assert v2 == v1 + 1
    assert a.api("GET", "/api/members/VN/GOV/NODEB").status_code == 200
    assert a.conf_version() == b.conf_version() == v2
    # one signed configuration: same version, same bytes, same signature
    va, body_a, sig_a = signed_conf(a)
    vb, body_b, sig_b = signed_conf(b)
    assert va == vb == v2
    assert body_a == body_b and sig_a == sig_b
    # one delta from v1 (docs/protocol.md "Configuration deltas"): the same bytes and
    # signature from either node, a function of the two documents alone
    da = requests.get(a.url + "/conf", params={"since": v1}, timeout=10)
    db = requests.get(b.url + "/conf", params={"since": v1}, timeout=10)
    assert da.headers.get("Ndx-Conf-Delta-From") == str(v1), da.headers
    assert db.headers.get("Ndx-Conf-Delta-From") == str(v1), db.headers
    assert da.content == db.content
    assert da.headers["Ndx-Conf-Signature"] == db.headers["Ndx-Conf-Signature"]
    # the admin credential of one is the other's (one table)
    assert b.api("GET", "/api/members", token=a.token).status_code == 200
    for gw in fed.gateways.values():
        fed.wait_conf(gw, v2)


def test_signed_negotiation_through_both_nodes(fed):
    """Each message of a signed negotiation through the other node than the last: the
    chain (table negotiation_messages) is one on PostgreSQL, a replayed message is
    refused on the node that did not accept it, the grant is in the configuration and
    the chain read through either node checks with `ndx market check-negotiation`."""
    from test_market_signed import JOSE, check_chain, digest, sign
    from test_marketplace import DSP_CONTEXT, msg, offer_of, setup_market

    setup_market(fed)

    def send(node, who, path, jws):
        return requests.post(node.url + path, data=jws, timeout=10, headers={
            "Authorization": "Bearer " + fed.tokens[who], "Content-Type": JOSE})

    cpid = f"urn:uuid:{os.getpid()}-{time.time_ns()}"
    init = {"@context": [DSP_CONTEXT], "@type": "ContractRequestMessage", "consumerPid": cpid,
            "offer": {"@id": fed.offer_ids[0]}}
    chain = [sign(fed, "BHXH", F.BHXH, "/dsp/negotiations/request", init)]
    r = send(NODES[0], "bhxh", "/dsp/negotiations/request", chain[0])
    assert r.status_code == 201 and r.json()["ndx:signed"] is True, r.text
    neg = r.json()
    ppid = neg["providerPid"]
    agreement = {**offer_of(fed, f"urn:uuid:{os.getpid()}-{time.time_ns()}", 5),
                 "@type": "Agreement", "timestamp": F.rfc3339(), "assigner": F.BCA,
                 "assignee": F.BHXH}
    for i, (gw, sender, who, path, body, state) in enumerate((
            ("BCA", F.BCA, "bca", f"/dsp/consumer/negotiations/{cpid}/agreement",
             msg("ContractAgreementMessage", neg, agreement=agreement), "AGREED"),
            ("BHXH", F.BHXH, "bhxh", f"/dsp/negotiations/{ppid}/agreement/verification",
             msg("ContractAgreementVerificationMessage", neg), "VERIFIED"),
            ("BCA", F.BCA, "bca", f"/dsp/consumer/negotiations/{cpid}/events",
             msg("ContractNegotiationEventMessage", neg, eventType="FINALIZED"),
             "FINALIZED"))):
        jws = sign(fed, gw, sender, path, body, previous=digest(chain[-1]))
        node, other = NODES[(i + 1) % 2], NODES[i % 2]
        r = send(node, who, path, jws)
        assert r.status_code == 200 and r.json()["state"] == state, r.text
        chain.append(jws)
        if state == "VERIFIED":
            r = send(other, who, path, jws)
            assert r.status_code == 409 and r.headers["X-Road-Error"] == \
                "Client.StaleMessage", r.text
    assert psql(PG, f"SELECT count(*) FROM {SCHEMA}.negotiation_messages"
                    f" WHERE provider_pid = '{ppid}'") == "4"
    assert any(g.get("agreement") == agreement["@id"] for g in fed.conf()["grants"])
    fed.wait_conf(fed.gateways["BHXH"], r.json()["ndx:confVersion"])
    for node in NODES:
        r = requests.get(node.url + f"/dsp/negotiations/{ppid}/messages", timeout=10,
                         headers={"Authorization": "Bearer " + fed.tokens["bca"]})
        assert r.status_code == 200 and r.json()["messages"] == chain, r.text
    res = check_chain(fed, r.text)
    assert res.returncode == 0 and json.loads(res.stdout)["state"] == "FINALIZED", res.stderr


def test_recorded_agreement_through_both_nodes(fed):
    """A chain the connectors negotiated without the registry (docs/marketplace.md
    "Recording an agreement the connectors negotiated") recorded on one node: 201; the
    same chain on the other node finds it recorded: 200, one negotiation, its messages
    once on PostgreSQL."""
    from test_market_record import negotiate, record_on
    from test_marketplace import setup_market

    if not hasattr(fed, "offer_ids"):
        setup_market(fed)
    chain, ppid, _, agreement = negotiate(fed)
    r = record_on(NODES[0].url, chain)
    assert r.status_code == 201 and r.json()["ndx:agreementId"] == agreement["@id"], r.text
    r = record_on(NODES[1].url, chain)
    assert r.status_code == 200 and r.json()["ndx:agreementId"] == agreement["@id"], r.text
    assert psql(PG, f"SELECT count(*) FROM {SCHEMA}.negotiation_messages"
                    f" WHERE provider_pid = '{ppid}'") == str(len(chain))
    assert any(g.get("agreement") == agreement["@id"] for g in fed.conf()["grants"])


def test_one_node_answers_many_requests_at_once(fed):
    """Requests at once on one node, on its one PostgreSQL connection: negotiations begun
    (each read back after its commit), /conf (which first expires agreements due) and
    the member list. Before the handle's threads took turns (include/ndx/sqldb.h
    "Threads"), two of them could talk on the connection at once: one answered 500 "the
    store failed", or both waited forever and the node ignored SIGTERM (make test-pg,
    2026-12-06). Every answer is a success and the node still stops when asked (the
    fixture's teardown)."""
    from test_marketplace import DSP_CONTEXT, setup_market

    if not hasattr(fed, "offer_ids"):
        setup_market(fed)
    node = NODES[0]
    store_lines = node.stderr_path.read_text(errors="replace").count(": store ")
    bearer = {"Authorization": "Bearer " + fed.tokens["bhxh"]}

    def one(i):
        with requests.Session() as s:
            out = []
            for j in range(25):
                kind = (i + j) % 3
                if kind == 0:
                    r = s.post(node.url + "/dsp/negotiations/request", headers=bearer,
                               timeout=10, json={
                                   "@context": [DSP_CONTEXT], "@type": "ContractRequestMessage",
                                   "consumerPid": f"urn:uuid:{uuid.uuid4()}",
                                   "offer": {"@id": fed.offer_ids[0]}})
                    out.append((r.status_code == 201 and r.json()["state"] == "REQUESTED",
                                r.text))
                elif kind == 1:
                    r = s.get(node.url + "/conf", timeout=10)
                    out.append((r.status_code == 200, r.text[:200]))
                else:
                    r = s.get(node.url + "/api/members", headers=node.headers(), timeout=10)
                    out.append((r.status_code == 200, r.text[:200]))
            return out

    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = [a for batch in pool.map(one, range(6)) for a in batch]
    bad = [text for ok, text in answers if not ok]
    assert len(answers) == 150 and not bad, bad[:3]
    log = node.stderr_path.read_text(errors="replace")
    assert log.count(": store ") == store_lines, log[-3000:]


def test_gateways_fail_over_when_a_node_is_killed(fed):
    a, b = NODES
    a.proc.send_signal(signal.SIGKILL)
    a.proc.wait(timeout=10)
    v = add_member(b, "VN/GOV/AFTERKILL", "Sau khi nút A dừng")
    for gw in fed.gateways.values():
        fed.wait_conf(gw, v, timeout=15)
        assert f"configuration fetched from {b.url}" in gw.tail(200), gw.tail()
    # and the federation still exchanges
    r = fed.call("BTC", "GET", CITIZENS, "/citizens/001",
                 headers={"Ndx-Subject": SUBJECT, "Ndx-Purpose": PURPOSE})
    assert r.status_code == 200, r.text
    # the OpenAPI metaservice fetches from the node still up (PR-MREST §5)
    r = requests.get(fed.gateways["BTC"].url + f"/r1/{POPULATION}/getOpenAPI",
                     params={"serviceCode": "citizens"}, headers={"X-Road-Client": TAX},
                     timeout=20)
    assert r.status_code == 200, r.text
    assert r.json() == F.CITIZENS_OPENAPI
    # a second change: the gateways keep refreshing from B
    v2 = add_member(b, "VN/GOV/AGAIN", "Lần nữa")
    for gw in fed.gateways.values():
        fed.wait_conf(gw, v2, timeout=15)


def test_init_refused_on_a_database_with_a_registry(fed, tmp_path):
    res = subprocess.run([str(registry_exe(fed.build_dir)), "init", "--data",
                          str(tmp_path / "again"), "--store", store_of(SCHEMA)],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 1, res.stdout + res.stderr
    assert "holds a registry already" in res.stderr
    assert not (tmp_path / "again" / "registry-sign.key").exists()


def test_connection_string_with_a_password_is_refused(fed, tmp_path):
    exe = str(registry_exe(fed.build_dir))
    for cmd in (["init", "--data", str(tmp_path / "pw")],
                ["serve", "--data", str(NODES[1].data_dir)],
                ["token", "add", "x", "--data", str(NODES[1].data_dir)]):
        res = subprocess.run([exe, *cmd, "--store", "postgresql://ndx:s3cret@127.0.0.1:1/ndx"],
                             capture_output=True, text=True, timeout=30)
        assert res.returncode != 0, res.stdout + res.stderr
        assert "holds a password" in res.stderr
        assert "s3cret" not in res.stdout + res.stderr
