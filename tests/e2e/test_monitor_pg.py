"""ndx-monitor with its store on PostgreSQL (`--store` a postgresql:// connection string,
a schema of its own in the database of NDX_TEST_PG; docs/monitoring.md): on a real
federation (federation.py) it collects every running gateway's records through its own
gateway, answers its live view from the schema, and after kill -9 a new process on the
same schema answers with everything it had acknowledged, no monitor.db anywhere. Also
the refusals: a password in the string (never printed), init on a schema that holds a
monitoring service already, a second serve on a schema one serves. Runs under tests/with-postgres (`make test-pg`); skipped
(and says so) without NDX_TEST_PG."""

import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import federation as F  # noqa: E402
from pgschema import PG, in_schema, psql  # noqa: E402
from test_monitor import Monitor, gw_by_name  # noqa: E402

pytestmark = pytest.mark.skipif(
    not PG, reason="NDX_TEST_PG is not set: the monitoring service on PostgreSQL is tested "
                   "under tests/with-postgres (make test-pg)")


class PgMonitor(Monitor):
    """test_monitor's Monitor with --store on init and serve."""

    def __init__(self, *args, store, **kw):
        super().__init__(*args, **kw)
        self.store_args = ["--store", store]


@pytest.fixture(scope="module")
def fed(build_dir):
    with F.running_federation(build_dir, "ndx-monpg-") as f:
        yield f


def test_collects_into_postgresql_and_survives_kill9(build_dir, fed, tmp_path):
    schema = "mon_pg_1"
    psql(PG, f"CREATE SCHEMA {schema}")
    store = in_schema(schema)
    for _ in range(5):
        r = fed.call("BTC", "GET", F.CITIZENS, "/citizens/001088012345",
                     headers={"Ndx-Purpose": "public-service"})
        assert r.status_code in (200, 400, 403), r.text
    v = fed.ndx("monitoring", "set", F.TAX)
    version = int(re.search(r"configuration version (\d+)", v.stdout).group(1))
    for gw in fed.gateways.values():
        fed.wait_conf(gw, version)
    mon = PgMonitor(build_dir, fed, tmp_path, F.TAX, store=store).init()
    # named by its database, never by the string's options
    assert "postgresql://" in mon.init_output and "search_path" not in mon.init_output
    mon.start()
    live = mon.wait(lambda l: l["exchanges"] >= 5 and all(
        g["up"] for n, g in gw_by_name(l).items() if not n.endswith("gw2")) and
        len(l["gateways"]) == 4, "all running gateways collected")
    mon.wait_round()
    held = int(psql(store, "SELECT count(*) FROM records"))
    assert held >= 10, held
    assert int(psql(store, "SELECT count(*) FROM gateways")) == 4
    assert not (tmp_path / "data" / "monitor.db").exists()
    # kill -9: what the store acknowledged is there for the next process
    mon.proc.send_signal(signal.SIGKILL)
    mon.proc.wait(timeout=10)
    assert int(psql(store, "SELECT count(*) FROM records")) >= held
    # the same data directory and store, a new process
    again = PgMonitor(build_dir, fed, tmp_path, F.TAX, store=store)
    again.token = mon.token
    again.log = tmp_path / "monitor-again.log"
    again.start()
    try:
        after = again.live(window=600)
        assert after["exchanges"] >= live["exchanges"], after
        assert set(gw_by_name(after)) == set(gw_by_name(live))
        # a second collector on the schema is refused while one serves it
        # (it would fetch every record again and race for the cursors) ...
        second = PgMonitor(build_dir, fed, tmp_path, F.TAX, store=store)
        second.log = tmp_path / "monitor-second.log"
        with pytest.raises(AssertionError, match="another ndx-monitor has this database open"):
            second.start()
        assert second.proc.wait(timeout=10) == 1
        # ... and the commands that read beside it are not
        res = subprocess.run([str(mon.exe), "mandate", "list", "--data",
                              str(tmp_path / "data"), "--store", store, "--json"],
                             capture_output=True, text=True, timeout=30)
        assert res.returncode == 0, res.stderr
    finally:
        again.stop()
    # a second init on the schema is refused; the mandates come from it too
    res = subprocess.run([str(mon.exe), "init", "--data", str(tmp_path / "other"), "--store",
                          store], capture_output=True, text=True, timeout=30)
    assert res.returncode == 1 and "already holds" in res.stderr, res.stderr
    res = subprocess.run([str(mon.exe), "mandate", "list", "--data", str(tmp_path / "data"),
                          "--store", store, "--json"], capture_output=True, text=True,
                         timeout=30)
    assert res.returncode == 0 and '"mandates": []' in res.stdout, res.stdout + res.stderr


def test_a_password_in_the_store_is_refused_and_never_printed(build_dir, tmp_path):
    exe = Path(build_dir) / "src" / "monitor" / "ndx-monitor"
    for cmd in (["init"], ["mandate", "list"], ["indicator", "list"]):
        res = subprocess.run([str(exe), *cmd, "--data", str(tmp_path / "d"), "--store",
                              "postgresql://ndx:s3cr3t-pw@127.0.0.1:1/ndx"],
                             capture_output=True, text=True, timeout=30)
        assert res.returncode != 0, (cmd, res.stdout)
        assert "password" in res.stderr and "s3cr3t-pw" not in res.stdout + res.stderr, cmd
    assert not (tmp_path / "d").exists()
