"""The end-to-end tests of operational monitoring (test_opmon.py) again, with every
gateway's records in PostgreSQL (`opmon.store` a postgresql:// connection string, a
schema each in the database of NDX_TEST_PG; docs/scale.md "The gateway's operational
monitoring on PostgreSQL"): the records match the exchanges, the reads and their
refusals, the signed answers, the health numbers and retention are the same; and the
records are in the schema, no opmon.db anywhere. Runs under tests/with-postgres
(`make test-pg`); skipped (and says so) without NDX_TEST_PG."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import federation as F  # noqa: E402
import pgschema as P  # noqa: E402
from pgschema import PG, psql  # noqa: E402
import test_opmon as O  # noqa: E402
from test_opmon import (  # noqa: E402,F401  (collected here, on this module's fed)
    test_records_match_the_exchanges_made, test_a_member_reads_its_own_records_but_not_another_agencys,
    test_the_monitoring_client_reads_every_gateway, test_local_callers_without_the_right_are_refused,
    test_a_signed_answer_and_a_replay, test_forged_queries_are_refused,
    test_health_numbers_match_the_exchanges, test_retention_prunes_old_records)

pytestmark = pytest.mark.skipif(
    not PG, reason="NDX_TEST_PG is not set: the gateways' opmon stores on PostgreSQL are "
                   "tested under tests/with-postgres (make test-pg)")




class PgOpmonGateway(P.StoreInSchema, O.OpmonGateway):
    """test_opmon's gateway with its opmon records in a schema of its own."""

    schema_prefix = "gwop"

    def store_config(self, cfg):
        cfg.setdefault("opmon", {})["store"] = self.db


@pytest.fixture(scope="module")
def fed(build_dir):
    with F.running_federation(build_dir, "ndx-opmonpg-", gateway_class=PgOpmonGateway,
                              setup=O._setup) as f:
        yield f


def test_the_records_are_in_postgresql(fed):
    r = fed.call("BTC", "GET", F.CITIZENS, "/citizens/7")
    assert r.status_code == 200
    xid = r.request.headers["X-Road-Id"]
    O.records_of(fed, "BTC", "BTC", F.TAX, {xid}, 1)
    for name in ("BTC", "BCA"):
        gw = fed.gateways[name]
        assert not (gw.dir / "data" / "opmon.db").exists()
        n = int(psql(gw.db, f"SELECT count(*) FROM records WHERE message_id = '{xid}'"))
        assert n == 1, f"{name}: {n}"
    gw = fed.gateways["BTC"]
    cfg = json.loads(gw.config_path.read_text())
    exe = Path(fed.build_dir) / "src" / "gateway" / "ndx-gateway"
    res = subprocess.run([str(exe), "--config", str(gw.config_path), "--check"],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"opmon store         {gw.db} (PostgreSQL)" in res.stdout
    for store, why in (("postgresql://ndx:s3cret@127.0.0.1:1/ndx",
                        "opmon.store: the connection string holds a password"),
                       (gw.db + "x", None)):
        cfg["opmon"] = {"store": store}
        if why is None:  # the event store's own string
            cfg["events"] = {"store": store}
            why = "opmon.store: the connection string of another of the gateway's stores"
        path = gw.config_path.parent / "opmon-check.json"
        path.write_text(json.dumps(cfg))
        res = subprocess.run([str(exe), "--config", str(path), "--check"], capture_output=True,
                             text=True, timeout=30)
        assert res.returncode == 1, res.stdout + res.stderr
        assert why in res.stdout + res.stderr
        assert "s3cret" not in res.stdout + res.stderr
