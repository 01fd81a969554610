"""End-to-end tests of `ndx demo up/down/run`: the demo federation comes up with a live
registry holding the Vietnamese agencies, its configuration verifies, a second `up` is
refused while it runs, and `down` stops exactly its processes (and is idempotent)."""

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

from conftest import free_port

UP_TIMEOUT = 60
MEMBERS = {"VN/GOV/BCA": "Bộ Công an", "VN/GOV/BTC": "Bộ Tài chính",
           "VN/GOV/BHXH": "Bảo hiểm xã hội Việt Nam", "VN/GOV/BTP": "Bộ Tư pháp",
           "VN/GOV/VPCP": "Văn phòng Chính phủ"}


def run_ndx(build_dir, *args, timeout=UP_TIMEOUT):
    env = {k: v for k, v in os.environ.items() if not k.startswith("NDX_")}
    return subprocess.run([str(build_dir / "src" / "cli" / "ndx"), *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, env=env)


def ok(res):
    assert res.returncode == 0, f"exit {res.returncode}\nstdout:\n{res.stdout}\nstderr:\n{res.stderr}"
    return res


def alive(pid):
    """A process that exists and is not a zombie (PID 1 in a container may not reap)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def wait_gone(pid, seconds=15):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def demo(build_dir, tmp_path):
    """A demo directory and port; whatever test runs, the federation is brought down."""
    d = tmp_path / "demo"
    port = free_port()
    yield d, port
    fed = d / "federation.json"
    if fed.exists():
        pids = [p["pid"] for p in json.loads(fed.read_text()).get("processes", [])]
        run_ndx(build_dir, "demo", "down", "--dir", d)
        for pid in pids:
            if pid and alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_demo_up_verify_refuse_down(build_dir, demo):
    d, port = demo
    res = ok(run_ndx(build_dir, "demo", "up", "--dir", d, "--port-base", port))
    assert f"http://127.0.0.1:{port}" in res.stdout

    fed = json.loads((d / "federation.json").read_text())
    assert fed["format"] == "ndx-federation/1" and fed["instance"] == "VN"
    assert {m["id"]: m["name"] for m in fed["members"]} == MEMBERS
    subsystems = {s for m in fed["members"] for s in m["subsystems"]}
    assert {"VN/GOV/BCA/population", "VN/GOV/BTC/enterprise", "VN/GOV/BTC/tax",
            "VN/GOV/BHXH/insurance", "VN/GOV/BTP/civil-status",
            "VN/GOV/VPCP/portal"} == subsystems
    reg = fed["registry"]
    assert reg["url"] == f"http://127.0.0.1:{port}"
    pid = reg["pid"]
    assert pid > 0 and alive(pid)
    assert [p["pid"] for p in fed["processes"]] == [pid]
    assert Path(reg["anchor"]).is_file() and Path(reg["log"]).is_file()

    # The registry is live and really holds the federation.
    assert requests.get(reg["url"] + "/healthz", timeout=5).status_code == 200
    token = Path(reg["admin_token_file"]).read_text().strip()
    auth = {"Authorization": f"Bearer {token}"}
    services = requests.get(reg["url"] + "/api/services", headers=auth, timeout=5).json()
    by_id = {s["id"]: s for s in services["services"]}
    citizens = by_id["VN/GOV/BCA/population/citizens"]
    assert citizens["personal"] and set(citizens["purposes"]) == {"public-service",
                                                                  "law-enforcement"}
    assert by_id["VN/GOV/BHXH/insurance/contributions"]["consent_required"]
    assert not by_id["VN/GOV/BTC/enterprise/enterprises"]["personal"]
    grants = requests.get(reg["url"] + "/api/grants", headers=auth, timeout=5).json()["grants"]
    pairs = {(g["client"], g["service"]) for g in grants}
    assert {("VN/GOV/VPCP/portal", s) for s in by_id} <= pairs
    assert ("VN/GOV/BTC/tax", "VN/GOV/BCA/population/citizens") in pairs
    assert ("VN/GOV/BHXH/insurance", "VN/GOV/BCA/population/citizens") in pairs
    assert ("VN/GOV/BTC/tax", "VN/GOV/BTC/enterprise/enterprises") in pairs

    # The fetched configuration verifies with the anchor.
    res = ok(run_ndx(build_dir, "conf", "verify", fed["conf_dir"], "--anchor", reg["anchor"]))
    assert res.stdout.startswith("valid: version ")

    # A second up is refused while it runs, and changes nothing.
    before = (d / "federation.json").read_text()
    res = run_ndx(build_dir, "demo", "up", "--dir", d, "--port-base", port)
    assert res.returncode == 1 and "already running" in res.stderr, res.stderr
    assert (d / "federation.json").read_text() == before
    assert alive(pid)

    # down stops it, marks it stopped, and is idempotent.
    ok(run_ndx(build_dir, "demo", "down", "--dir", d))
    assert wait_gone(pid)
    fed = json.loads((d / "federation.json").read_text())
    assert fed["registry"]["pid"] == 0
    assert all(p["pid"] == 0 and p["stopped"] for p in fed["processes"])
    res = ok(run_ndx(build_dir, "demo", "down", "--dir", d))
    assert "not running" in res.stdout


def test_demo_restarts_idempotently(build_dir, demo):
    d, port = demo
    ok(run_ndx(build_dir, "demo", "up", "--dir", d, "--port-base", port))
    first = json.loads((d / "federation.json").read_text())
    token = Path(first["registry"]["admin_token_file"]).read_text().strip()
    auth = {"Authorization": f"Bearer {token}"}
    url = first["registry"]["url"]
    n_grants = len(requests.get(url + "/api/grants", headers=auth, timeout=5).json()["grants"])
    ok(run_ndx(build_dir, "demo", "down", "--dir", d))
    # Without --port-base it comes back on the port it was set up with.
    ok(run_ndx(build_dir, "demo", "up", "--dir", d))
    second = json.loads((d / "federation.json").read_text())
    assert second["registry"]["url"] == url
    assert second["registry"]["pid"] != first["registry"]["pid"]
    grants = requests.get(url + "/api/grants", headers=auth, timeout=5).json()["grants"]
    assert len(grants) == n_grants
    ok(run_ndx(build_dir, "demo", "down", "--dir", d))


def test_demo_down_without_federation(build_dir, tmp_path):
    res = ok(run_ndx(build_dir, "demo", "down", "--dir", tmp_path / "nothing-here"))
    assert "nothing to stop" in res.stdout


def test_demo_up_on_busy_port_fails_cleanly(build_dir, demo):
    d, _ = demo
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        res = run_ndx(build_dir, "demo", "up", "--dir", d, "--port-base", port)
    assert res.returncode == 1 and str(port) in res.stderr, res.stderr
    assert not (d / "federation.json").exists()


def test_demo_run_stops_on_sigterm(build_dir, demo):
    d, port = demo
    proc = subprocess.Popen([str(build_dir / "src" / "cli" / "ndx"), "demo", "run", "--dir",
                             str(d), "--port-base", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        fed_path = d / "federation.json"
        deadline = time.monotonic() + UP_TIMEOUT
        while time.monotonic() < deadline and not fed_path.exists():
            assert proc.poll() is None, proc.communicate(timeout=5)
            time.sleep(0.1)
        assert fed_path.exists()
        pid = json.loads(fed_path.read_text())["registry"]["pid"]
        assert alive(pid)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert f"http://127.0.0.1:{port}" in out
    assert "conf fetch" in out and "conf verify" in out and "anchor.json" in out
    assert wait_gone(pid)
    assert json.loads(fed_path.read_text())["registry"]["pid"] == 0
