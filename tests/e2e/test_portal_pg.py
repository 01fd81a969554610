"""ndx-portal on PostgreSQL (docs/scale.md "The portal on PostgreSQL"): the federation of
test_portal.py with the portal's store in a schema of its own of the server NDX_TEST_PG,
given as the configuration's "store" (a postgresql:// connection string; data_dir then
holds no portal.db). A citizen's application submitted, held and decided end to end, its
rows read back in the schema with psql; what the portal acknowledged surviving a kill -9
and a restart (the citizen still signed in, the application and its history there); and
the refusals: a connection string with a password (refused before anything is made, the
password never printed), a "store" that is not a connection string, and a schema that
holds another daemon's store. Skipped without NDX_TEST_PG: run under tests/with-postgres
(make test-pg)."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import test_portal as T  # noqa: E402
from pgschema import PG, in_schema, psql  # noqa: E402
from test_portal import (  # noqa: E402
    BCA, BTC, Proc, adults, citizen_login, exe, officer_login, post)

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
