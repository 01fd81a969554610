"""End-to-end test of the consent service on PostgreSQL (docs/scale.md "The consent
service on PostgreSQL"): ndx-consent initialised and served with a postgresql:// --store,
registered in the registry of a federation (federation.py) beside a personal,
consent-requiring service of BCA. A consent issued through it is honoured by the
gateways, a revocation through it is applied by them, and both survive kill -9 of
ndx-consent: restarted on the same database it serves the same consents, the same
revocation version and status list bits, hands out no index twice, and the gateways go on
honouring the consent. Refusals: init on a database that holds a consent service, a
connection string with a password (never printed), a second ndx-consent on the database
while one serves it. Runs under tests/with-postgres (`make test-pg`); skipped (and says
so) without NDX_TEST_PG."""

import base64
import json
import os
import signal
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

import federation as F  # noqa: E402
from test_gateway_consent import (PEOPLE, PIN, PURPOSE, ConsentService, call,  # noqa: E402
                                  refused, reached)

PG = os.environ.get("NDX_TEST_PG", "")
pytestmark = pytest.mark.skipif(
    not PG, reason="NDX_TEST_PG is not set: the consent service on PostgreSQL is tested "
                   "under tests/with-postgres (make test-pg)")
ISSUER = F.BCA + "/consent"
SCHEMA = f"consent_{os.getpid()}"
REFRESH_S = 1  # the gateways' consent_refresh_s: a revocation applies within a second


def psql(conninfo, sql):
    res = subprocess.run(["psql", "-X", "-q", "-At", conninfo, "-c", sql], capture_output=True,
                         text=True, timeout=30)
    assert res.returncode == 0, f"psql {sql}: {res.stderr}"
    return res.stdout.strip()


def store_of(schema):
    sep = "&" if "?" in PG else "?"
    return f"{PG}{sep}options=-csearch_path%3D{schema}"


class FastRevocationGateway(F.Gateway):
    """federation.Gateway fetching the status lists every REFRESH_S."""

    def write_config(self):
        super().write_config()
        cfg = json.loads(self.config_path.read_text())
        cfg["consent_refresh_s"] = REFRESH_S
        self.config_path.write_text(json.dumps(cfg, indent=2, ensure_ascii=False))


CS = []  # the consent service, for the fixture to stop


def add_consent_service(fed):
    psql(PG, f"CREATE SCHEMA {SCHEMA}")
    cs = ConsentService(fed.build_dir, fed.workdir, ISSUER, store=store_of(SCHEMA)).start()
    CS[:] = [cs]
    fed.ndx("service", "add", PEOPLE, "--title", "Hồ sơ cá nhân", "--personal",
            "--purpose", PURPOSE, "--consent-required")
    fed.ndx("grant", "add", "--client", F.TAX, "--service", PEOPLE, "--method", "GET")
    fed.ndx("subsystem", "add", ISSUER)
    fed.ndx("consent-service", "add", ISSUER, "--url", cs.url, "--sign-key", cs.pub)
    bca = fed.gateways["BCA"]
    bca.services[PEOPLE] = {"backend": fed.citizens.url + "/api", "timeout_ms": 5000}
    bca.write_config()
    bca.proc.send_signal(signal.SIGHUP)
    for gw in fed.gateways.values():
        fed.wait_conf(gw, fed.registry.conf_version())


@pytest.fixture(scope="module")
def env(build_dir):
    with F.running_federation(build_dir, "ndx-conspg-", gateway_class=FastRevocationGateway,
                              setup=add_consent_service) as fed:
        yield fed, CS[0]
        rc = CS[0].stop()
        assert rc in (0, None), CS[0].stderr_path.read_text()


def wait_status(fed, consent, accepted, timeout=10.0):
    """The gateways' answer to a request carrying consent, once it is accepted (200)
    or refused as wanted, or the time is up."""
    deadline = time.monotonic() + timeout
    while True:
        resp = call(fed, consent=consent)
        if (resp.status_code == 200) == accepted or time.monotonic() > deadline:
            return resp
        time.sleep(0.2)


def status_list_bit(cs, idx):
    """Bit idx of status list 0 as ndx-consent serves it (bit i % 8 of byte i / 8;
    test_consent_service.py checks the list against the signed index)."""
    r = requests.get(cs.url + "/status/0", timeout=5)
    assert r.status_code == 200, r.text
    lst = r.json()["lst"]
    bits = zlib.decompress(base64.urlsafe_b64decode(lst + "=" * (-len(lst) % 4)))
    return (bits[idx // 8] >> (idx % 8)) & 1


def jws_payload(compact):
    payload = compact.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def status_index(cs):
    """The status index's payload (its revocation version and each list's digest; an
    unverified read: test_consent_service.py checks the signature)."""
    r = requests.get(cs.url + "/status", timeout=5)
    assert r.status_code == 200, r.text
    return jws_payload(r.text)


def status_idx(consent_jws):
    return jws_payload(consent_jws)["status"]["idx"]


def test_consent_on_postgresql_is_honoured_and_survives_kill9(env):
    fed, cs = env
    assert not (cs.data_dir / "consent.db").exists()  # the database is PostgreSQL
    assert psql(PG, f"SELECT value FROM {SCHEMA}.meta WHERE key = 'pg_schema'") == "1"
    kept, revoked = cs.issue(), cs.issue()
    resp = wait_status(fed, kept["consent"], True)
    assert resp.status_code == 200, f"{resp.status_code} {resp.text}\n{fed.tails()}"
    assert len(reached(fed, resp)) == 1
    r = cs.api("POST", f"/api/consents/{revoked['jti']}/revoke")
    assert r.status_code == 200, r.text
    before = status_index(cs)
    assert before["version"] == 2  # 1 at init, raised by the revocation
    assert psql(PG, f"SELECT count(*) FROM {SCHEMA}.consents WHERE revoked_at IS NOT NULL"
                    f" AND jti = '{revoked['jti']}'") == "1"
    # kill -9 right after the acknowledgement, then the same database again
    cs.proc.send_signal(signal.SIGKILL)
    cs.proc.wait(timeout=10)
    cs.proc = None
    cs.start()
    after = status_index(cs)
    assert after["version"] == before["version"] and after["lists"] == before["lists"]
    assert status_list_bit(cs, status_idx(revoked["consent"])) == 1
    assert status_list_bit(cs, status_idx(kept["consent"])) == 0
    r = cs.api("GET", f"/api/consents?subject={PIN}")
    assert r.status_code == 200, r.text
    states = {c["jti"]: c["status"] for c in r.json()["consents"]}
    assert states[kept["jti"]] == "active" and states[revoked["jti"]] == "revoked"
    # the gateways honour the kept consent and refuse the revoked one
    assert call(fed, consent=kept["consent"]).status_code == 200
    resp = wait_status(fed, revoked["consent"], False)
    refused(fed, resp, "ConsentRevoked")
    assert reached(fed, resp) == []
    # a consent issued after the restart gets an index of its own, and is honoured
    fresh = cs.issue()
    used = {status_idx(kept["consent"]), status_idx(revoked["consent"])}
    assert status_idx(fresh["consent"]) not in used
    assert wait_status(fed, fresh["consent"], True).status_code == 200


def test_refusals(env, tmp_path):
    fed, cs = env
    exe = cs.exe
    # init on a database that holds a consent service: refused, nothing left behind
    res = subprocess.run([exe, "init", "--data", str(tmp_path / "again"), "--id", ISSUER,
                          "--store", store_of(SCHEMA)], capture_output=True, text=True,
                         timeout=30)
    assert res.returncode == 1, res.stderr
    assert "holds a consent service already" in res.stderr
    assert not (tmp_path / "again" / "consent-sign.key").exists()
    # a password in the connection string: refused before anything is made, never printed
    for store in ("postgresql://ndx:s3cr3t-pw@127.0.0.1:1/ndx",
                  "postgresql://127.0.0.1:1/ndx?password=s3cr3t-pw"):
        for cmd in (["init", "--data", str(tmp_path / "pw"), "--id", ISSUER],
                    ["serve", "--data", str(cs.data_dir)]):
            res = subprocess.run([exe, *cmd, "--store", store], capture_output=True,
                                 text=True, timeout=30)
            assert res.returncode == 2, res.stderr
            assert "password" in res.stderr and "s3cr3t-pw" not in res.stderr
    assert not (tmp_path / "pw").exists()
    # a second ndx-consent on the database while one serves it
    res = subprocess.run([exe, "serve", "--data", str(cs.data_dir), "--store",
                          store_of(SCHEMA), "--listen", "127.0.0.1:0"],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 1, res.stderr
    assert "another ndx-consent has this database open" in res.stderr
    assert cs.api("GET", f"/api/consents?subject={PIN}").status_code == 200
