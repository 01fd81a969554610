"""End-to-end tests of ndx-monitor, the operator's monitoring service (issue 18), on a
real federation (federation.py: a registry, gateways of BCA, BTC and BHXH, BTC's gw2
registered but never started): it collects every gateway's operational records through
its own gateway, as the configuration's monitoring client, and serves the live figures
(docs/operations.md "The monitoring service"). Also what it must refuse or survive: no
token, a wrong one; a client that is not the monitoring client reads only its own
member's gateways (the others refuse it through the exchange); a gateway that is down."""

import json
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

import federation as F
from conftest import free_port

START_TIMEOUT = 15.0


def monitor_exe(build_dir):
    return Path(build_dir) / "src" / "monitor" / "ndx-monitor"


class Monitor:
    def __init__(self, build_dir, fed, workdir, client, interval=1, registries=None):
        self.exe = monitor_exe(build_dir)
        self.fed = fed
        self.dir = Path(workdir)
        self.client = client
        self.interval = interval
        self.registries = registries or [fed.registry.url]
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = None
        self.log = self.dir / "monitor.log"
        self.store_args = []  # ["--store", DB] for test_monitor_pg.py

    def init(self):
        res = subprocess.run([str(self.exe), "init", "--data", str(self.dir / "data"),
                              *self.store_args], capture_output=True, text=True, timeout=30)
        assert res.returncode == 0, res.stderr
        self.init_output = res.stdout
        self.token = (self.dir / "data" / "admin.token").read_text().strip()
        assert self.token not in res.stdout + res.stderr
        return self

    def start(self):
        reg = self.fed.registry
        self.proc = subprocess.Popen(
            [str(self.exe), "serve", "--data", str(self.dir / "data"), *self.store_args,
             "--anchor",
             str(reg.anchor), *[a for url in self.registries for a in ("--registry", url)],
             "--gateway", self.fed.gateways["BTC"].url, "--client", self.client, "--listen", f"127.0.0.1:{self.port}", "--interval",
             str(self.interval)],
            stdout=subprocess.DEVNULL, stderr=open(self.log, "wb"))
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if "listening on" in self.log.read_text(errors="replace"):
                return self
            assert self.proc.poll() is None, self.log.read_text()
            time.sleep(0.05)
        raise AssertionError("ndx-monitor did not start:\n" + self.log.read_text())

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            rc = self.proc.wait(timeout=15)
            assert rc == 0, self.log.read_text()

    def get(self, path, token=True, **params):
        h = {"Authorization": f"Bearer {self.token}"} if token else {}
        return requests.get(self.url + path, headers=h, params=params, timeout=10)

    def live(self, **params):
        r = self.get("/api/live", **params)
        assert r.status_code == 200, r.text
        return r.json()

    def wait_round(self, timeout=20.0):
        """Until a round has ended: a round's gateway figures on /healthz are set at
        its end, after the gateways' records (which /api/live shows at once), the
        accesses, the misuse analysis and the proofs."""
        deadline = time.monotonic() + timeout
        while True:
            h = requests.get(self.url + "/healthz", timeout=10).json()
            if h["rounds"] >= 1:
                return h
            assert time.monotonic() < deadline, self.log.read_text()[-3000:]
            time.sleep(0.1)

    def wait(self, pred, what, timeout=20.0):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = self.live(window=600)
            if pred(last):
                return last
            time.sleep(0.2)
        raise AssertionError(f"{what}: last /api/live {json.dumps(last, indent=1)}\n"
                             f"{self.log.read_text()[-3000:]}\n{self.fed.tails()}")


@pytest.fixture(scope="module")
def fed(build_dir):
    with F.running_federation(build_dir, "ndx-monfed-") as f:
        yield f


def gw_by_name(live):
    return {g["name"]: g for g in live["gateways"]}


def test_collects_every_gateway_through_the_exchange(build_dir, fed, tmp_path):
    # a few exchanges BTC -> BCA, one refused by the provider's gateway (no grant)
    for _ in range(5):
        r = fed.call("BTC", "GET", F.CITIZENS, "/citizens/001088012345",
                     headers={"Ndx-Purpose": "public-service"})
        assert r.status_code in (200, 400, 403), r.text
    r = fed.call("BTC", "GET", F.CITIZENS, "/other", headers={"Ndx-Purpose": "x"})
    assert r.status_code >= 400
    v = fed.ndx("monitoring", "set", F.TAX)
    version = int(re.search(r"configuration version (\d+)", v.stdout).group(1))
    for gw in fed.gateways.values():
        fed.wait_conf(gw, version)
    mon = Monitor(build_dir, fed, tmp_path, F.TAX).init().start()
    try:
        live = mon.wait(lambda l: l["exchanges"] >= 6 and all(
            g["up"] for n, g in gw_by_name(l).items() if not n.endswith("gw2")) and
            len(l["gateways"]) == 4, "all running gateways collected")
        names = gw_by_name(live)
        assert set(names) == {F.BCA + "/gw1", F.BTC + "/gw1", F.BTC + "/gw2", F.BHXH + "/gw1"}
        # BTC's gw2 is registered but not running: down, with the reason
        gw2 = names[F.BTC + "/gw2"]
        assert gw2["up"] is False and gw2["last_error"], gw2
        # each running gateway's own state, read from its health answer through
        # the exchange: configuration, log, certificate, event backlog
        live = mon.wait(lambda l: all(g["state"] for n, g in gw_by_name(l).items()
                                      if not n.endswith("gw2")), "gateway states")
        names = gw_by_name(live)
        assert names[F.BTC + "/gw2"]["state"] is None
        for n in (F.BCA + "/gw1", F.BTC + "/gw1", F.BHXH + "/gw1"):
            st = names[n]["state"]
            assert st["conf_version"] >= version and st["log_writable"] is True, st
            assert st["conf_expires_at"] > time.time(), st
            assert st["tls_not_after"] > time.time() + 86400, st
            assert st["events_queued"] == 0 and st["events_dead"] == 0, st
            assert st["as_of_ms"] > 0
        # each exchange counted once, though both gateways recorded it
        bca = names[F.BCA + "/gw1"]
        btc = names[F.BTC + "/gw1"]
        assert bca["records"] >= 5 and btc["records"] >= 6
        assert live["exchanges"] == 6, live
        assert live["failed"] >= 1 and live["errors"]
        assert live["busiest_services"][0]["service"] == F.CITIZENS
        assert live["latency_ms"]["p50"] is not None
        agencies = {a["member"]: a for a in live["agencies"]}
        assert agencies[F.BTC]["as_client"] == 6 and agencies[F.BCA]["as_provider"] == 6
        # an agency's view: only what concerns it
        only = mon.live(window=600, member=F.BHXH)
        assert only["exchanges"] == 0 and [g["name"] for g in only["gateways"]] == \
            [F.BHXH + "/gw1"]
        # nothing personal in what the monitor serves: no PIN from the paths
        assert not re.search(r"\b\d{12}\b", json.dumps(live)), live
        health = mon.wait_round()
        assert health["conf_version"] >= version and health["records"] >= 11
        assert health["gateways"] == 4 and health["gateways_down"] == 1
        assert health["status"] == "degraded"
        # the same exchanges in time buckets: every bucket present, their sum the total
        ser = mon.get("/api/series", window=600, step=60)
        assert ser.status_code == 200, ser.text
        ser = ser.json()
        assert ser["step_s"] == 60 and len(ser["series"]) == 10
        assert sum(b["exchanges"] for b in ser["series"]) == live["exchanges"]
        assert sum(b["failed"] for b in ser["series"]) == live["failed"]
        ts = [b["t"] for b in ser["series"]]
        assert ts == sorted(ts) and all(b - a == 60000 for a, b in zip(ts, ts[1:]))
        bhxh = mon.get("/api/series", window=600, step=60, member=F.BHXH).json()
        assert sum(b["exchanges"] for b in bhxh["series"]) == 0
        # more traffic shows up in the next rounds; nothing is collected twice
        before = live["exchanges"]
        for _ in range(3):
            fed.call("BTC", "GET", F.ECHO, "/x")
        live = mon.wait(lambda l: l["exchanges"] == before + 3, "three more exchanges")
        time.sleep(2.5)
        assert mon.live(window=600)["exchanges"] == before + 3
    finally:
        mon.stop()
        fed.ndx("monitoring", "clear")


def test_without_the_grant_only_its_own_members_gateways(build_dir, fed, tmp_path):
    """A client that is not the monitoring client (BTC's tax subsystem, with no
    monitoring client set) reads BTC's own gateway; BCA's and BHXH's gateways refuse it
    through the exchange, and the monitor keeps them as down with the refusal."""
    v = fed.ndx("monitoring", "show")
    assert "no monitoring client" in v.stdout
    # every gateway holds a configuration without it (test 1 set and cleared it)
    version = fed.conf()["version"]
    for gw in fed.gateways.values():
        fed.wait_conf(gw, version)
    fed.call("BTC", "GET", F.ECHO, "/y")
    mon = Monitor(build_dir, fed, tmp_path, F.TAX).init().start()
    try:
        live = mon.wait(lambda l: len(l["gateways"]) == 4 and
                        all(g["last_poll_ms"] for g in l["gateways"]), "one round")
        names = gw_by_name(live)
        assert names[F.BTC + "/gw1"]["up"] is True and names[F.BTC + "/gw1"]["records"] > 0
        for other in (F.BCA + "/gw1", F.BHXH + "/gw1"):
            g = names[other]
            assert g["up"] is False and g["records"] == 0, g
            # the target gateway's refusal (errors.h: OpmonNotAllowed), passed on by
            # the monitor's own gateway as a provider-side error
            assert "Server.ServerProxy.AccessDenied" in g["last_error"], g
    finally:
        mon.stop()


def test_registry_nodes_are_asked_in_turn(build_dir, fed, tmp_path):
    """With several --registry (registry nodes on one database, docs/scale.md), a node
    that does not answer is passed over for the next, and the switch is logged once."""
    dead = f"http://127.0.0.1:{free_port()}"
    mon = Monitor(build_dir, fed, tmp_path, F.TAX,
                  registries=[dead, fed.registry.url]).init().start()
    try:
        deadline = time.monotonic() + 20
        while True:
            h = requests.get(mon.url + "/healthz", timeout=5).json()
            if h["conf_version"] > 0 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert h["conf_version"] == fed.conf()["version"], (h, mon.log.read_text())
        assert h["conf_error"] is None, h
        log = mon.log.read_text()
        assert log.count(f"configuration fetched from {fed.registry.url} (cannot fetch "
                         f"{dead}/conf") == 1, log
    finally:
        mon.stop()


def test_metrics(build_dir, fed, tmp_path):
    """ndx-monitor's own /metrics, like every daemon's: parses, passes promtool, says how
    collection goes; no token needed, GET only."""
    from test_metrics_daemons import families, promtool_check
    mon = Monitor(build_dir, fed, tmp_path, F.TAX).init().start()
    try:
        mon.wait(lambda l: len(l["gateways"]) == 4, "the gateways collected")
        mon.wait_round()
        r = requests.get(mon.url + "/metrics", timeout=10)
        assert r.status_code == 200
        assert r.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
        promtool_check(r.text, "ndx-monitor")
        f = families(r.text)
        samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
                   for fam in f.values() for s in fam.samples}
        assert samples[("ndx_monitor_rounds_total", ())] >= 1
        assert samples[("ndx_monitor_gateways", (("state", "all"),))] == 4
        assert samples[("ndx_monitor_conf_version", ())] >= 1
        assert "ndx_http_requests_total" in f
        assert requests.post(mon.url + "/metrics", timeout=10).status_code == 405
    finally:
        mon.stop()


def test_api_refusals(build_dir, fed, tmp_path):
    mon = Monitor(build_dir, fed, tmp_path, F.TAX).init().start()
    try:
        r = mon.get("/api/live", token=False)
        assert r.status_code == 401 and r.json()["type"] == "Client.Unauthorized"
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
        r = requests.get(mon.url + "/api/live", timeout=10,
                         headers={"Authorization": "Bearer " + "x" * 43})
        assert r.status_code == 401
        r = requests.get(mon.url + "/api/live", timeout=10,
                         headers={"Authorization": "Basic " + mon.token})
        assert r.status_code == 401
        for bad in ({"window": "0"}, {"window": "-5"}, {"window": "x"},
                    {"window": "99999999"}, {"member": "VN/GOV"}, {"member": "%%"}):
            r = mon.get("/api/live", **bad)
            assert r.status_code == 400, (bad, r.text)
        for bad in ({"step": "0"}, {"step": "7"}, {"window": "600", "step": "7"},
                    {"window": "86400", "step": "1"}, {"member": "x"}):
            r = mon.get("/api/series", **bad)
            assert r.status_code == 400, (bad, r.text)
        assert mon.get("/api/series", token=False).status_code == 401
        r = requests.post(mon.url + "/api/live", timeout=10,
                          headers={"Authorization": f"Bearer {mon.token}"})
        assert r.status_code == 405
        assert mon.get("/api/nope").status_code == 404
        # still serving after all that
        assert mon.get("/api/live").status_code == 200
        assert mon.token not in mon.log.read_text()
    finally:
        mon.stop()


def test_command_line(build_dir, tmp_path):
    exe = str(monitor_exe(build_dir))
    out = subprocess.run([exe, "serve", "--help"], capture_output=True, text=True, timeout=10)
    assert out.returncode == 0
    for opt in ("--data", "--anchor", "--registry", "--gateway", "--client", "--listen",
                "--interval", "--page", "--retention-days"):
        assert opt in out.stdout, opt
    res = subprocess.run([exe, "serve", "--data", str(tmp_path)], capture_output=True,
                         text=True, timeout=10)
    assert res.returncode == 2 and "--anchor FILE is required" in res.stderr
    res = subprocess.run([exe, "serve", "--data", str(tmp_path), "--anchor", "a", "--gateway",
                          "http://127.0.0.1:1", "--client", "VN/GOV"],
                         capture_output=True, text=True, timeout=10)
    assert res.returncode == 2 and "--client" in res.stderr
    res = subprocess.run([exe, "serve", "--data", str(tmp_path / "none"), "--anchor", "a",
                          "--gateway", "http://127.0.0.1:1", "--client", F.TAX],
                         capture_output=True, text=True, timeout=10)
    assert res.returncode == 1 and "init" in res.stderr
    for bad, said in ((["--registry", "ftp://x"], "expected an http"),
                      (["--registry", "http://127.0.0.1:1"] * 9, "at most 8")):
        res = subprocess.run([exe, "serve", "--data", str(tmp_path), "--anchor", "a",
                              "--gateway", "http://127.0.0.1:1", "--client", F.TAX, *bad],
                             capture_output=True, text=True, timeout=10)
        assert res.returncode == 2 and said in res.stderr, res.stderr
    res = subprocess.run([exe, "init", "--data", str(tmp_path / "m")], capture_output=True,
                         text=True, timeout=10)
    assert res.returncode == 0
    assert oct((tmp_path / "m" / "admin.token").stat().st_mode & 0o777) == "0o600"
    res = subprocess.run([exe, "init", "--data", str(tmp_path / "m")], capture_output=True,
                         text=True, timeout=10)
    assert res.returncode == 1 and "refusing" in res.stderr
