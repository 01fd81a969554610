"""The registry on a replicated PostgreSQL (docs/scale.md "Replication and failover"): a
primary with a synchronous standby (streaming replication, `synchronous_standby_names`,
`synchronous_commit = on`), made by this test with Debian's initdb, pg_basebackup and
pg_ctl, and ndx-registry given both servers in one connection string with
`target_session_attrs=read-write`. A change the registry acknowledged, then the loss of the
primary (every one of its processes killed with SIGKILL, as a machine that fails), then the
standby promoted: the registry finds the new primary by itself and the change is there,
in its API and in the signed configuration, and new changes are taken. While the primary
is gone and the standby not yet promoted, the registry refuses changes (503/500 with a
message) rather than acknowledging what no server keeps.

Runs under tests/with-postgres (`make test-pg`) with the other PostgreSQL files, though it
makes its own two servers; skipped (and says so) without NDX_TEST_PG."""

import os
import signal
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

from conftest import Registry, registry_exe  # noqa: E402

PG = os.environ.get("NDX_TEST_PG", "")
pytestmark = pytest.mark.skipif(
    not PG, reason="NDX_TEST_PG is not set: the registry on a replicated PostgreSQL is "
                   "tested under tests/with-postgres (make test-pg)")
STANDBY_NAME = "ndx_standby"
TIMEOUT = 60


def pg_bindir():
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        pytest.skip("no /usr/lib/postgresql/*/bin/initdb (package postgresql)")
    return found[-1].parent


def loopback_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgPair:
    """A primary and its synchronous standby on loopback, in a directory of their own."""

    def __init__(self):
        self.bin = pg_bindir()
        self.dir = Path(tempfile.mkdtemp(prefix="ndx-pgpair-"))
        self.dir.chmod(0o700)
        self.as_pg = []
        if os.geteuid() == 0:  # initdb refuses root: the server runs as postgres
            self.as_pg = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.dir, "postgres", "postgres")
        self.ports = {"primary": loopback_port(), "standby": loopback_port()}
        self.running = set()

    def sh(self, *argv, check=True):
        res = subprocess.run([*self.as_pg, *map(str, argv)], capture_output=True, text=True,
                             timeout=TIMEOUT)
        if check and res.returncode != 0:
            raise RuntimeError(f"{' '.join(map(str, argv))}: {res.stdout}{res.stderr}")
        return res

    def data(self, name):
        return self.dir / name

    def start(self, name):
        self.sh(self.bin / "pg_ctl", "-D", self.data(name), "-l", self.dir / f"{name}.log",
                "-w", "-t", TIMEOUT, "start")
        self.running.add(name)

    def up(self):
        primary = self.data("primary")
        self.sh(self.bin / "initdb", "-D", primary, "-U", "postgres", "-A", "trust", "-E",
                "UTF8", "--locale=C")
        conf = (f"listen_addresses = '127.0.0.1'\nport = {self.ports['primary']}\n"
                f"unix_socket_directories = '{self.dir}'\nfsync = on\n"
                "wal_level = replica\nmax_wal_senders = 4\nsynchronous_commit = on\n")
        self.sh("sh", "-c", f"cat >> {primary}/postgresql.conf <<'EOF'\n{conf}EOF\n"
                f"echo 'host replication postgres 127.0.0.1/32 trust' >> {primary}/pg_hba.conf")
        self.start("primary")
        self.sh(self.bin / "psql", "-X", "-q", "-h", "127.0.0.1", "-p", self.ports["primary"],
                "-U", "postgres", "-d", "postgres", "-c", "CREATE DATABASE ndx")
        self.sh(self.bin / "pg_basebackup", "-h", "127.0.0.1", "-p", self.ports["primary"],
                "-U", "postgres", "-D", self.data("standby"), "-R", "-X", "stream", "-c", "fast",
                "-d", f"application_name={STANDBY_NAME}")
        self.sh("sh", "-c", f"echo 'port = {self.ports['standby']}' >> "
                f"{self.data('standby')}/postgresql.conf")
        self.start("standby")
        # Synchronous only now: with no standby yet, every COMMIT would wait for one. The
        # standby's copy of the settings names none, so once promoted it does not wait for
        # a standby it does not have.
        self.psql("primary", f"ALTER SYSTEM SET synchronous_standby_names = '{STANDBY_NAME}'")
        self.psql("primary", "SELECT pg_reload_conf()")
        deadline = time.monotonic() + TIMEOUT
        while self.psql("primary", "SELECT sync_state FROM pg_stat_replication "
                        f"WHERE application_name = '{STANDBY_NAME}'") != "sync":
            assert time.monotonic() < deadline, "the standby never became synchronous"
            time.sleep(0.2)
        return self

    def psql(self, name, sql):
        res = self.sh(self.bin / "psql", "-X", "-q", "-At", "-h", "127.0.0.1", "-p",
                      self.ports[name], "-U", "postgres", "-d", "ndx", "-c", sql, check=False)
        return res.stdout.strip() if res.returncode == 0 else None

    def conninfo(self):
        """Both servers, the writable one whichever it is (libpq tries them in turn)."""
        p, s = self.ports["primary"], self.ports["standby"]
        return (f"postgresql://postgres@127.0.0.1:{p},127.0.0.1:{s}/ndx"
                "?target_session_attrs=read-write")

    def lose_primary(self):
        """SIGKILL to the primary's postmaster and every process it started: nothing it
        had not handed to the standby or its disk survives."""
        pid = int((self.data("primary") / "postmaster.pid").read_text().split()[0])
        children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True,
                                  text=True).stdout.split()
        for p in [pid, *map(int, children)]:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.running.discard("primary")

    def promote(self):
        self.sh(self.bin / "pg_ctl", "-D", self.data("standby"), "-w", "-t", TIMEOUT,
                "promote")

    def down(self):
        for name in list(self.running):
            self.sh(self.bin / "pg_ctl", "-D", self.data(name), "-m", "immediate", "-w",
                    "stop", check=False)
        self.running.clear()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def pair():
    p = PgPair()
    try:
        yield p.up()
    finally:
        p.down()


@pytest.fixture(scope="module")
def registry(build_dir, pair):
    workdir = Path(tempfile.mkdtemp(prefix="ndx-regfail-"))
    reg = Registry(registry_exe(build_dir), workdir, store=pair.conninfo()).start()
    yield reg
    rc = reg.stop()
    assert rc == 0, f"ndx-registry exited with {rc}:\n{reg.tail()}"
    shutil.rmtree(workdir, ignore_errors=True)


def add_member(reg, member, name):
    return reg.api("POST", "/api/members", json={"id": member, "name": name})


def wait_for(what, check, timeout=TIMEOUT):
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.3)


def test_an_acknowledged_change_survives_the_loss_of_the_primary(registry, pair):
    r = add_member(registry, "VN/GOV/BTP", "Bộ Tư pháp")
    assert r.status_code == 201, r.text
    version = registry.conf_version()
    # The primary is lost right after the acknowledgement: with a synchronous standby,
    # COMMIT returned only once the standby had the change.
    pair.lose_primary()

    # Until a server takes writes again, a change is refused, never acknowledged.
    r = add_member(registry, "VN/GOV/BNV", "Bộ Nội vụ")
    assert r.status_code >= 500, f"{r.status_code} {r.text}"

    pair.promote()
    got = wait_for("the registry reading from the promoted standby",
                   lambda: (lambda r: r if r.status_code == 200 else None)(
                       registry.api("GET", "/api/members/VN/GOV/BTP")))
    assert got.json()["name"] == "Bộ Tư pháp"
    assert registry.conf_version() >= version
    conf = requests.get(registry.url + "/conf", timeout=10).json()
    assert "VN/GOV/BTP" in {m["id"] for m in conf["members"]}

    # And it takes changes on the new primary.
    r = wait_for("a change on the new primary",
                 lambda: (lambda r: r if r.status_code == 201 else None)(
                     add_member(registry, "VN/GOV/BNV", "Bộ Nội vụ")))
    assert pair.psql("standby", "SELECT pg_is_in_recovery()") == "f"
    assert registry.conf_version() > version
    assert "reconnected" in registry.tail(200)
