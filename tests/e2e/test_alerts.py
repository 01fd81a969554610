"""The Prometheus alert rules of deploy/prometheus/ (issue 18; docs/operations.md
"Alerts"): `promtool check rules` accepts them, `promtool test rules` runs the unit
test of each rule, and NdxMessageLogUnavailable fires for real: a Prometheus server
(Debian's prometheus, on loopback, its storage in a temporary directory, scraping and
evaluating every second) scrapes a real gateway of the e2e federation; the gateway's
message log is then made unwritable the way test_gateway_log.py does it (its data
directory on a 1 MiB tmpfs, filled up), and Prometheus' HTTP API must show the alert
firing within a bounded time, and not before."""
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

import federation as F
from conftest import free_port
from federation import CITIZENS
# The small tmpfs, filling it, and a gateway whose data directory can move there.
from test_gateway_log import LogGateway, fill, restart_with, restore, tiny_fs  # noqa: F401

RULES_DIR = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
RULES = RULES_DIR / "ndx-alerts.yml"
RULES_TEST = RULES_DIR / "ndx-alerts.test.yml"
ALERT = "NdxMessageLogUnavailable"
FIRE_WITHIN_S = 60


def tool(name):
    path = shutil.which(name)
    if not path:
        pytest.fail(f"{name} is missing: run scripts/install-deps (Debian's prometheus)",
                    pytrace=False)
    return path


def test_rules_pass_promtool_check():
    r = subprocess.run([tool("promtool"), "check", "rules", str(RULES)], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS" in r.stdout


def test_each_rule_has_a_passing_unit_test():
    r = subprocess.run([tool("promtool"), "test", "rules", RULES_TEST.name],
                       capture_output=True, text=True, timeout=120, cwd=RULES_DIR)
    assert r.returncode == 0, r.stdout + r.stderr
    # Every alert of the rules file is exercised by the test file.
    alerts = {line.split(":", 1)[1].strip() for line in RULES.read_text().splitlines()
              if line.strip().startswith("- alert:")}
    tested = {line.split(":", 1)[1].strip() for line in RULES_TEST.read_text().splitlines()
              if line.strip().startswith("alertname:")}
    assert alerts and alerts == tested, (alerts - tested, tested - alerts)


class Prometheus:
    """A prometheus server on loopback scraping one target every second, with the ndx
    rules evaluated every second, its data in a temporary directory."""

    def __init__(self, workdir, target):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.dir = Path(workdir)
        config = self.dir / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
            "  evaluation_interval: 1s\n"
            f"rule_files:\n  - {RULES}\n"
            "scrape_configs:\n  - job_name: ndx-gateway\n"
            f"    static_configs:\n      - targets: ['{target}']\n")
        self.stderr_path = self.dir / "prometheus.stderr"
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                [tool("prometheus"), f"--config.file={config}",
                 f"--storage.tsdb.path={self.dir / 'data'}",
                 f"--web.listen-address=127.0.0.1:{self.port}",
                 "--storage.tsdb.retention.time=1h"],
                stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.tail()
            try:
                if requests.get(self.url + "/-/ready", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        pytest.fail("prometheus did not get ready:\n" + self.tail(), pytrace=False)

    def tail(self, n=20):
        return "\n".join(self.stderr_path.read_text(errors="replace").splitlines()[-n:])

    def query(self, q):
        r = requests.get(self.url + "/api/v1/query", params={"query": q}, timeout=5)
        assert r.status_code == 200, r.text
        return r.json()["data"]["result"]

    def alerts(self, name):
        r = requests.get(self.url + "/api/v1/alerts", timeout=5)
        assert r.status_code == 200, r.text
        return [a for a in r.json()["data"]["alerts"] if a["labels"]["alertname"] == name]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(scope="module")
def fed(build_dir):
    with F.running_federation(build_dir, "ndx-alerts-", gateway_class=LogGateway) as f:
        yield f


def test_log_unavailable_alert_fires_when_the_gateway_log_stops(fed, tiny_fs, tmp_path):
    gw = fed.gateways["BTC"]  # the consumer gateway of fed.call's exchanges
    target = f"127.0.0.1:{gw.consumer_port}"
    prom = None
    try:
        restart_with(fed, gw, data_dir=tiny_fs / "data")
        r = fed.call("BTC", "GET", CITIZENS, "/citizens/001")
        assert r.status_code == 200, r.text
        prom = Prometheus(tmp_path, target)

        # Before: the log is writable, scraped as such and evaluated; no alert.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            seen = prom.query(f'ndx_gateway_msglog_writable{{instance="{target}"}}')
            if seen and seen[0]["value"][1] == "1":
                break
            time.sleep(0.2)
        else:
            pytest.fail("prometheus never scraped the gateway's ndx_gateway_msglog_writable:\n"
                        + prom.tail(), pytrace=False)
        time.sleep(2.5)  # at least two rule evaluations on the scraped value
        assert prom.alerts(ALERT) == []

        # The log stops: its disk is full, every exchange is refused.
        fill(tiny_fs)
        firing = []
        deadline = time.monotonic() + FIRE_WITHIN_S
        while time.monotonic() < deadline and not firing:
            try:
                # Keep the gateway appending (each refused LogUnavailable), so that the
                # gauge stays 0 however long Prometheus takes.
                fed.call("BTC", "GET", CITIZENS, "/citizens/002", timeout=15)
            except requests.RequestException:
                pass
            firing = [a for a in prom.alerts(ALERT) if a["state"] == "firing"]
            time.sleep(0.5)
        assert firing, (f"{ALERT} did not fire within {FIRE_WITHIN_S} s; alerts: "
                        f"{prom.alerts(ALERT)}\n{prom.tail()}\n{gw.tail(20)}")
        (alert,) = firing
        assert alert["labels"]["instance"] == target
        assert alert["labels"]["job"] == "ndx-gateway"
        assert alert["labels"]["severity"] == "page"
        assert "cannot write its message log" in alert["annotations"]["summary"]
        text = requests.get(gw.url + "/metrics", timeout=5).text
        assert "\nndx_gateway_msglog_writable 0\n" in text
    finally:
        if prom is not None:
            prom.stop()
        if (tiny_fs / "filler").exists():
            os.unlink(tiny_fs / "filler")
        restore(fed, gw)
