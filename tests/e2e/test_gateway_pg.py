"""End-to-end test of gateways whose message logs are in PostgreSQL (docs/gateway.md
"Message log on PostgreSQL", src/lib/msglog_pg.c): a real federation on loopback whose
gateways have `msglog.store` set to a postgresql:// connection string (a schema each, in
the database of NDX_TEST_PG), exchanges logged on both sides, checked from the outside
with `ndx log verify | prove | check-proof` on the same connection strings; and a
connection string holding a password refused by `ndx-gateway --check`. Runs under
tests/with-postgres (`make test-pg`), which starts the server; skipped (and says so)
without NDX_TEST_PG."""

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import federation as F  # noqa: E402
import pgschema as P  # noqa: E402
from pgschema import PG, psql  # noqa: E402
from federation import CITIZENS  # noqa: E402

pytestmark = pytest.mark.skipif(
    not PG, reason="NDX_TEST_PG is not set: the gateways' message logs on PostgreSQL are "
                   "tested under tests/with-postgres (make test-pg)")
SUBJECT, PURPOSE = "001099000123", "public-service"
CLI_TIMEOUT = 30




class PgGateway(P.StoreInSchema, F.Gateway):
    """federation.Gateway with its message log in a schema of its own."""

    def store_config(self, cfg):
        cfg["msglog"] = {"store": self.db, "batch_max": 64, "batch_interval_ms": 200}


@pytest.fixture(scope="module")
def fed(build_dir):
    with F.running_federation(build_dir, "ndx-gwpg-", gateway_class=PgGateway) as f:
        yield f


def ndx_log(fed, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("NDX_")}
    return subprocess.run([str(F.ndx_exe(fed.build_dir)), "log", *map(str, args)],
                          capture_output=True, text=True, timeout=CLI_TIMEOUT, env=env)


def test_gateways_log_exchanges_in_postgresql(fed, tmp_path):
    btc, bca = fed.gateways["BTC"], fed.gateways["BCA"]
    xids = []
    for i in range(5):
        xid = f"pg-{i}-" + uuid.uuid4().hex
        r = fed.call("BTC", "GET", CITIZENS, "/citizens/001", xid=xid,
                     headers={"Ndx-Subject": SUBJECT, "Ndx-Purpose": PURPOSE})
        assert r.status_code == 200, r.text
        xids.append(xid)
    for gw, direction in ((btc, "consumer"), (bca, "provider")):
        # every exchange is in the gateway's own schema, none in a file
        assert not (gw.dir / "data" / "msglog.db").exists()
        n = int(psql(gw.db, "SELECT count(*) FROM records WHERE message_id LIKE 'pg-%'"))
        assert n == 5, f"{gw.member}: {n} records"
        res = ndx_log(fed, "verify", "--db", gw.db, "--key", gw.ident.sign_pub)
        assert res.returncode == 0, f"{res.stdout}\n{res.stderr}\n{gw.tail()}"
        assert "log OK" in res.stdout
        # a proof once the batch is closed (batch_interval_ms 200)
        for _ in range(100):
            res = ndx_log(fed, "prove", "--db", gw.db, "--id", xids[0], "--direction",
                          direction)
            if res.returncode == 0:
                break
            time.sleep(0.1)
        assert res.returncode == 0, res.stderr
        proof = tmp_path / f"{gw.schema}.json"
        proof.write_text(res.stdout)
        chk = ndx_log(fed, "check-proof", proof, "--key", gw.ident.sign_pub)
        assert chk.returncode == 0, chk.stdout + chk.stderr
        rec = json.loads(res.stdout)["record"]
        assert (rec["direction"], rec["subject"]) == (direction, SUBJECT)


def test_connection_string_with_a_password_is_refused(fed, tmp_path):
    gw = fed.gateways["BTC"]
    cfg = json.loads(gw.config_path.read_text())
    cfg["msglog"]["store"] = "postgresql://ndx:s3cret@127.0.0.1:1/ndx"
    path = gw.config_path.parent / "with-password.json"
    path.write_text(json.dumps(cfg))
    exe = Path(fed.build_dir) / "src" / "gateway" / "ndx-gateway"
    res = subprocess.run([str(exe), "--config", str(path), "--check"], capture_output=True,
                         text=True, timeout=CLI_TIMEOUT)
    assert res.returncode == 1, res.stdout + res.stderr
    assert "msglog.store: the connection string holds a password" in res.stderr + res.stdout
    assert "s3cret" not in res.stderr + res.stdout
