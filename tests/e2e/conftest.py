"""Fixtures shared by the end-to-end tests: real ndx processes on loopback.

build_dir        the meson build directory (env NDX_BUILD_DIR, default <repo>/build)
free_port()      a free TCP port on 127.0.0.1 (plain function: `from conftest import free_port`)
registry_factory registry_factory(conf_validity=600, max_body=None, threads=None) starts a
                 fresh registry (init + serve) in its own temporary directory
registry         registry_factory() with the defaults

Registry(exe, workdir, store=DB) keeps its database at DB (a postgresql:// connection
string: test_registry_pg.py); init=False serves a data directory copied from another node
of the same database instead of making one.
A registry object has url, data_dir (Path), token (str), anchor (Path), proc, port,
stderr_path, and helpers: api(method, path, token=..., **requests kwargs), tail(),
restart(), stop(). Teardown sends SIGTERM, waits (kill after 10 s) and asserts exit 0.
"""

import os
import random
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0


def _ephemeral_range():
    try:
        lo, hi = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(lo), int(hi)
    except (OSError, ValueError):
        return 32768, 60999


_handed_out = set()


def _port_slice(span=1):
    """The ports this process may hand out: below the kernel's ephemeral range (a port
    picked there, bind to port 0, can be taken by any outgoing connection, libcurl's or
    the tests', before the server meant to get it binds it), and, when pytest-xdist runs
    the suite on several workers (make test does), a slice of its own for each worker, so
    that two workers never pick the same port between checking it and binding it."""
    lo, _ = _ephemeral_range()
    first, last = 10000, min(lo, 32768) - span
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    index = int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0
    if workers > 1:
        width = (last - first) // workers
        first += index * width
        last = first + width - 1
    return first, last


_handed_out = set()


def free_port():
    """Returns a TCP port that was free on 127.0.0.1 a moment ago, never one handed out
    before in this run, from this worker's slice (_port_slice)."""
    first, last = _port_slice()
    for _ in range(2000):
        port = random.randint(first, last)
        if port in _handed_out:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError("no free port found below the ephemeral range")


def free_port_range(span):
    """The first of `span` consecutive ports that are all free (as free_port), e.g. a
    demo federation's --port-base."""
    first, last = _port_slice(span)
    for _ in range(500):
        base = random.randint(first, last)
        ports = range(base, base + span)
        if any(p in _handed_out for p in ports):
            continue
        ok = True
        for p in ports:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    s.bind(("127.0.0.1", p))
                except OSError:
                    ok = False
                    break
        if ok:
            _handed_out.update(ports)
            return base
    raise RuntimeError(f"no {span} free consecutive ports below the ephemeral range")


@pytest.fixture(scope="session")
def build_dir():
    d = Path(os.environ.get("NDX_BUILD_DIR", REPO / "build")).resolve()
    exe = d / "src" / "registry" / "ndx-registry"
    if not exe.is_file():
        pytest.fail(f"{exe} is missing: build first (ninja -C {d}) or set NDX_BUILD_DIR",
                    pytrace=False)
    return d


def registry_exe(build_dir):
    return build_dir / "src" / "registry" / "ndx-registry"


class Registry:
    def __init__(self, exe, workdir, conf_validity=600, max_body=None, threads=None,
                 store=None, init=True, host="127.0.0.1", launcher=(), port=None, urls=()):
        self.exe = Path(exe)
        # Where serve listens and what it runs under (test_federation_netns.py: an
        # address of a network namespace and `ip netns exec NS`).
        self.host, self.launcher = host, tuple(launcher)
        self.fixed_port = port  # serve on this port (one the anchor names), else a free one
        self.workdir = Path(workdir)
        self.data_dir = self.workdir / "data"
        self.anchor = self.data_dir / "anchor.json"
        self.conf_validity = conf_validity
        self.max_body = max_body
        self.threads = threads
        self.store = store
        self.proc = None
        self.port = None
        self.url = None
        self.stderr_path = None
        self.starts = 0
        if not init:
            self.init_output = ""
            self.token = (self.data_dir / "admin.token").read_text().strip()
            return
        init = subprocess.run(
            [str(self.exe), "init", "--data", str(self.data_dir), *self.store_args(),
             *[arg for u in urls for arg in ("--url", u)]],
            capture_output=True, text=True, timeout=30)
        if init.returncode != 0:
            pytest.fail(f"ndx-registry init failed ({init.returncode}):\n"
                        f"{init.stdout}\n{init.stderr}", pytrace=False)
        self.init_output = init.stdout
        self.token = (self.data_dir / "admin.token").read_text().strip()

    def store_args(self):
        return ["--store", self.store] if self.store else []

    def start(self):
        self.starts += 1
        self.port = self.fixed_port or free_port()
        self.url = f"http://{self.host}:{self.port}"
        self.stderr_path = self.workdir / f"registry-{self.starts}.stderr"
        cmd = [*self.launcher, str(self.exe), "serve", "--data", str(self.data_dir),
               "--listen", f"{self.host}:{self.port}",
               "--conf-validity", str(self.conf_validity), *self.store_args()]
        if self.max_body is not None:
            cmd += ["--max-body", str(self.max_body)]
        if self.threads is not None:
            cmd += ["--threads", str(self.threads)]
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"ndx-registry serve exited with {self.proc.returncode}:\n"
                            f"{self.tail()}", pytrace=False)
            try:
                if requests.get(self.url + "/healthz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.05)
        else:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(f"ndx-registry did not answer /healthz in {START_TIMEOUT} s:\n"
                        f"{self.tail()}", pytrace=False)
        # The daemon says where it listens once its port is open, and a pool
        # thread may answer the first request before the main thread has
        # written that line (seen under ASan): wait for it, within the start
        # deadline.
        line = f"ndx-registry: listening on {self.url}"
        while line not in self.stderr_path.read_text(errors="replace").splitlines():
            assert time.monotonic() < deadline, self.tail()
            time.sleep(0.02)
        return self

    def tail(self, lines=40):
        if not self.stderr_path or not self.stderr_path.exists():
            return "(no stderr)"
        text = self.stderr_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def stop(self):
        """SIGTERM, wait, and return the exit status (None when not running)."""
        if self.proc is None:
            return None
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                pytest.fail(f"ndx-registry ignored SIGTERM for {STOP_TIMEOUT} s:\n"
                            f"{self.tail()}", pytrace=False)
        return proc.returncode

    def restart(self):
        rc = self.stop()
        assert rc == 0, f"ndx-registry exited with {rc}:\n{self.tail()}"
        return self.start()

    def headers(self, token=None):
        return {"Authorization": f"Bearer {self.token if token is None else token}"}

    def api(self, method, path, token=None, **kw):
        """A management call with the admin token (or the given one)."""
        headers = dict(self.headers(token))
        headers.update(kw.pop("headers", {}))
        kw.setdefault("timeout", 10)
        return requests.request(method, self.url + path, headers=headers, **kw)

    def conf_version(self):
        return requests.get(self.url + "/healthz", timeout=5).json()["conf_version"]


@pytest.fixture
def registry_factory(build_dir, tmp_path):
    made = []

    def make(conf_validity=600, max_body=None, threads=None):
        workdir = tmp_path / f"registry{len(made)}"
        workdir.mkdir()
        r = Registry(registry_exe(build_dir), workdir, conf_validity=conf_validity,
                     max_body=max_body, threads=threads)
        made.append(r)
        return r.start()

    yield make
    failures = []
    for r in made:
        rc = r.stop()
        if rc not in (0, None):
            failures.append(f"ndx-registry exited with {rc}:\n{r.tail()}")
    if failures:
        pytest.fail("\n".join(failures), pytrace=False)


@pytest.fixture
def registry(registry_factory):
    return registry_factory()
