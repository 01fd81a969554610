"""End-to-end tests of `ndx demo up/down/run` and `ndx testservice`: the demo federation
comes up with a live registry holding the Vietnamese agencies, one live ndx-gateway per
agency, BCA's population and BTC's enterprise registries served by ndx-sector over seeded
data (their OpenAPI documents registered) and a test service behind every other providing
agency; the exchanges `run` prints (a seeded citizen, a seeded enterprise) work through the
gateways (signed, logged), one without a grant is refused; a second `up` is refused while
it runs, `down` stops exactly its processes (and is idempotent), and a re-up reuses the
keys, certificates and data."""

import hashlib
import json
import os
import random
import re
import shlex
import signal
import socket
import sqlite3
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
# Members with a test service (BTC's for its tax service, beside its sector), and the
# sectors: member -> (sector, its port offset, the table behind the member's service).
TESTSERVICES = {"VN/GOV/BTC": 36, "VN/GOV/BHXH": 32, "VN/GOV/BTP": 33}
SECTORS = {"VN/GOV/BCA": ("population", 30, "citizens"),
           "VN/GOV/BTC": ("enterprise", 31, "enterprises")}
N_PROCS = 5 + len(TESTSERVICES) + len(SECTORS) + 1
CITIZEN = "001099012345"
PORT_SPAN = 40  # --port-base .. +39: registry, consumer +10.., gateway +20.., test services +30..


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


def _bindable(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def free_port_base():
    """A --port-base whose 40 ports (registry, gateways, test services) are free. It is
    taken below the kernel's ephemeral range: there, the local ports of the many client
    connections of a test run (and their TIME_WAIT) would keep taking the demo's ports."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    low = max(low, 11000)
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(10000, low - PORT_SPAN)
        if all(_bindable(base + k) for k in range(PORT_SPAN)):
            return base
    pytest.fail("no free range of ports for the demo federation", pytrace=False)


@pytest.fixture
def demo(build_dir, tmp_path):
    """A demo directory and port; whatever test runs, the federation is brought down."""
    d = tmp_path / "demo"
    port = free_port_base()
    yield d, port
    fed = d / "federation.json"
    if fed.exists():
        pids = [p["pid"] for p in json.loads(fed.read_text()).get("processes", [])]
        run_ndx(build_dir, "demo", "down", "--dir", d)
        for pid in pids:
            if pid and alive(pid):
                os.kill(pid, signal.SIGKILL)


def all_pids(fed):
    return [p["pid"] for p in fed["processes"]]


def curl_line(text, service="VN/GOV/BCA/population/citizens"):
    """A ready-to-paste curl line of `demo up/run` output."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip().startswith("curl -s -H")
             and f"/r1/{service}/" in ln]
    assert lines, text
    return lines[0]


def enterprise_line(text):
    return curl_line(text, "VN/GOV/BTC/enterprise/enterprises")


def curl_as_request(line):
    """Runs a `curl -s -H 'K: V' ... URL` line with requests."""
    words = shlex.split(line)
    assert words[:2] == ["curl", "-s"], words
    headers, i = {}, 2
    while i < len(words) - 1:
        assert words[i] == "-H", words
        k, v = words[i + 1].split(":", 1)
        headers[k.strip()] = v.strip()
        i += 2
    return requests.get(words[-1], headers=headers, timeout=20)


def check_federation_live(fed, port):
    """The registry, 5 gateways, 3 test services and 2 sectors of federation.json are all
    live."""
    reg = fed["registry"]
    assert reg["url"] == f"http://127.0.0.1:{port}"
    gws = {g["member"]: g for g in fed["gateways"]}
    assert set(gws) == set(MEMBERS)
    for i, m in enumerate(MEMBERS):
        g = gws[m]
        assert g["code"] == "gw1"
        assert g["consumer_url"] == f"http://127.0.0.1:{port + 10 + i}"
        assert g["gateway_url"] == f"https://127.0.0.1:{port + 20 + i}"
        assert g["pid"] > 0 and alive(g["pid"]), g
        assert Path(g["config"]).is_file() and Path(g["sign_pub"]).is_file()
        assert Path(g["data_dir"]).is_dir() and Path(g["log"]).is_file()
        cfg = json.loads(Path(g["config"]).read_text())
        assert cfg["member"] == m and cfg["conf_refresh_s"] == 10
        assert cfg["data_dir"] == g["data_dir"] and cfg["anchor"] == reg["anchor"]
        h = requests.get(g["consumer_url"] + "/healthz", timeout=5)
        assert h.status_code == 200 and h.json()["conf_version"] >= 1, h.text
    ts = {t["member"]: t for t in fed["testservices"]}
    assert set(ts) == set(TESTSERVICES)
    for m, t in ts.items():
        assert t["url"] == f"http://127.0.0.1:{port + TESTSERVICES[m]}"
        assert t["pid"] > 0 and alive(t["pid"]), t
        assert requests.get(t["url"] + "/healthz", timeout=5).json()["status"] == "ok"
    sectors = {s["member"]: s for s in fed["sectors"]}
    assert set(sectors) == set(SECTORS)
    for m, s in sectors.items():
        name, offset, _ = SECTORS[m]
        assert s["sector"] == name and s["url"] == f"http://127.0.0.1:{port + offset}"
        assert s["db"] == f"{fed['sector_dir']}/{name}.db" and Path(s["db"]).is_file()
        assert s["pid"] > 0 and alive(s["pid"]), s
        assert requests.get(s["url"] + "/healthz", timeout=5).status_code == 200
    # A sector's service has the sector's table as backend (the gateway appends the
    # path after the service id); every other backend is the member's test service.
    for m, g in gws.items():
        for sid, svc in json.loads(Path(g["config"]).read_text())["services"].items():
            if m in SECTORS and sid.endswith("/" + SECTORS[m][2]):
                assert svc["backend"] == f"{sectors[m]['url']}/{SECTORS[m][2]}", sid
            else:
                assert svc["backend"].startswith(ts[m]["url"] + "/"), sid
    # processes: gateways, then test services and sectors, then the registry (the stop
    # order).
    names = [p["name"] for p in fed["processes"]]
    assert names == (["ndx-gateway"] * 5 + ["ndx testservice"] * len(TESTSERVICES) +
                     ["ndx-sector"] * len(SECTORS) + ["ndx-registry"])
    assert set(all_pids(fed)) == ({g["pid"] for g in gws.values()} |
                                  {t["pid"] for t in ts.values()} |
                                  {s["pid"] for s in sectors.values()} | {reg["pid"]})
    assert all(alive(p) for p in all_pids(fed))
    return gws, ts


def seeded(fed, sector, sql, *args):
    """One row of a seeded sector database, read directly."""
    with sqlite3.connect(f"file:{fed['sector_dir']}/{sector}.db?mode=ro", uri=True) as db:
        return db.execute(sql, args).fetchone()


def check_exchanges(build_dir, fed, gws, line, ent_line):
    """The printed citizen exchange goes through both gateways to BCA's population
    registry and reads a seeded citizen; the enterprise exchange reads a seeded enterprise;
    getOpenAPI gives the population registry's document; an exchange without a grant is
    refused."""
    assert f"X-Road-Client: VN/GOV/BTC/tax" in line and "Ndx-Purpose: tax-administration" in line
    m = re.search(r"/r1/VN/GOV/BCA/population/citizens/(\d{12})$", line)
    assert m, line
    pin = m.group(1)
    assert f"Ndx-Subject: {pin}" in line
    assert line.endswith(f"{gws['VN/GOV/BTC']['consumer_url']}/r1/VN/GOV/BCA/population/"
                         f"citizens/{pin}")
    assert fed["try_exchange"] == line
    row = seeded(fed, "population", "SELECT full_name, birth_date FROM citizens WHERE pin = ?",
                 pin)
    assert row, pin
    resp = curl_as_request(line)
    assert resp.status_code == 200, resp.text
    assert resp.headers["X-Road-Id"] and resp.headers["X-Road-Request-Hash"]
    sig = json.loads(resp.headers["Ndx-Response-Signature"])
    bca_key = hashlib.sha256(base64_pub(gws["VN/GOV/BCA"]["sign_pub"])).hexdigest()
    assert sig["key_id"] == bca_key == gws["VN/GOV/BCA"]["sign_key_id"]
    got = resp.json()
    assert got["pin"] == pin and (got["full_name"], got["birth_date"]) == row, got
    assert got["household_id"] and got["sex"] in ("male", "female")

    # The enterprise exchange: BTC's tax system reads BTC's enterprise registry.
    m = re.search(r"/r1/VN/GOV/BTC/enterprise/enterprises/(\d{10})$", ent_line)
    assert m and "X-Road-Client: VN/GOV/BTC/tax" in ent_line, ent_line
    assert fed["try_enterprise"] == ent_line
    code = m.group(1)
    row = seeded(fed, "enterprise", "SELECT name FROM enterprises WHERE code = ?", code)
    assert row, code
    resp = curl_as_request(ent_line)
    assert resp.status_code == 200, resp.text
    assert resp.json()["code"] == code and resp.json()["name"] == row[0], resp.text
    assert "Ndx-Response-Signature" in resp.headers

    # getOpenAPI answers with the document ndx-sector describes its API with.
    want = json.loads(subprocess.run([str(build_dir / "src" / "sector" / "ndx-sector"),
                                      "openapi", "--sector", "population"],
                                     capture_output=True, text=True, check=True,
                                     timeout=20).stdout)
    resp = requests.get(f"{gws['VN/GOV/BTC']['consumer_url']}/r1/VN/GOV/BCA/population/"
                        f"getOpenAPI?serviceCode=citizens",
                        headers={"X-Road-Client": "VN/GOV/BTC/tax"}, timeout=20)
    assert resp.status_code == 200, resp.text
    assert resp.json() == want
    assert "/citizens/{id}" in resp.json()["paths"]

    # BTP's civil-status system has no grant on BCA's citizens.
    refused = requests.get(f"{gws['VN/GOV/BTP']['consumer_url']}/r1/VN/GOV/BCA/population/"
                           f"citizens/{pin}",
                           headers={"X-Road-Client": "VN/GOV/BTP/civil-status"}, timeout=20)
    assert refused.status_code == 403, refused.text
    assert refused.json()["type"] == "Client.NoGrant"


def base64_pub(pem_path):
    """The raw 32-byte Ed25519 public key of a PEM file."""
    from cryptography.hazmat.primitives import serialization
    key = serialization.load_pem_public_key(Path(pem_path).read_bytes())
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


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
    assert Path(reg["anchor"]).is_file() and Path(reg["log"]).is_file()
    gws, _ = check_federation_live(fed, port)
    for g in gws.values():
        assert g["consumer_url"] in res.stdout

    # The registry is live and really holds the federation.
    assert requests.get(reg["url"] + "/healthz", timeout=5).status_code == 200
    token = Path(reg["admin_token_file"]).read_text().strip()
    auth = {"Authorization": f"Bearer {token}"}
    services = requests.get(reg["url"] + "/api/services", headers=auth, timeout=5).json()
    by_id = {s["id"]: s for s in services["services"]}
    citizens = by_id["VN/GOV/BCA/population/citizens"]
    assert citizens["personal"] and set(citizens["purposes"]) == {
        "public-service", "law-enforcement", "tax-administration", "social-insurance"}
    assert by_id["VN/GOV/BHXH/insurance/contributions"]["consent_required"]
    assert not by_id["VN/GOV/BTC/enterprise/enterprises"]["personal"]
    grants = requests.get(reg["url"] + "/api/grants", headers=auth, timeout=5).json()["grants"]
    pairs = {(g["client"], g["service"]) for g in grants}
    assert {("VN/GOV/VPCP/portal", s) for s in by_id} <= pairs
    assert ("VN/GOV/BTC/tax", "VN/GOV/BCA/population/citizens") in pairs
    assert ("VN/GOV/BHXH/insurance", "VN/GOV/BCA/population/citizens") in pairs
    assert ("VN/GOV/BTC/tax", "VN/GOV/BTC/enterprise/enterprises") in pairs
    assert ("VN/GOV/BTP/civil-status", "VN/GOV/BCA/population/citizens") not in pairs
    registered = requests.get(reg["url"] + "/api/gateways", headers=auth,
                              timeout=5).json()["gateways"]
    assert {(g["member"], g["code"], g["address"], g["sign_key_id"]) for g in registered} == {
        (m, "gw1", g["gateway_url"], g["sign_key_id"]) for m, g in gws.items()}

    # The fetched configuration verifies with the anchor.
    res_v = ok(run_ndx(build_dir, "conf", "verify", fed["conf_dir"], "--anchor", reg["anchor"]))
    assert res_v.stdout.startswith("valid: version ")

    # The registry holds the sectors' OpenAPI documents with their services.
    assert citizens["openapi_sha256"] and by_id["VN/GOV/BTC/enterprise/enterprises"][
        "openapi_sha256"]
    assert requests.get(reg["url"] + "/openapi/VN/GOV/BCA/population/citizens",
                        timeout=5).json()["info"]["title"].startswith("ndx-sector population")

    # The printed exchanges work; one without a grant is refused.
    check_exchanges(build_dir, fed, gws, curl_line(res.stdout), enterprise_line(res.stdout))

    # A second up is refused while it runs, and changes nothing.
    before = (d / "federation.json").read_text()
    res = run_ndx(build_dir, "demo", "up", "--dir", d, "--port-base", port)
    assert res.returncode == 1 and "already running" in res.stderr, res.stderr
    assert (d / "federation.json").read_text() == before
    assert all(alive(p) for p in all_pids(fed))

    # down stops every process, marks them stopped, and is idempotent.
    res = ok(run_ndx(build_dir, "demo", "down", "--dir", d))
    assert res.stdout.count("stopped ndx-gateway") == 5
    assert res.stdout.count("stopped ndx testservice") == len(TESTSERVICES)
    assert res.stdout.count("stopped ndx-sector") == len(SECTORS)
    for p in all_pids(fed):
        assert wait_gone(p), p
    down = json.loads((d / "federation.json").read_text())
    assert down["registry"]["pid"] == 0
    assert all(p["pid"] == 0 and p["stopped"] for p in down["processes"])
    assert all(g["pid"] == 0 for g in down["gateways"] + down["testservices"] +
               down["sectors"])
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
    files = {g["member"]: (Path(g["sign_pub"]).read_bytes(),
                           Path(g["config"]).read_bytes(),
                           (Path(g["config"]).parent / "gw1.tls.pem").read_bytes())
             for g in first["gateways"]}
    # seed writes its summary to its log once: a re-up that seeded again would add one.
    seed_log = d / "logs" / "sector-seed.log"
    seed_summary = seed_log.read_text()
    assert '"citizens": 2000' in seed_summary, seed_summary
    ok(run_ndx(build_dir, "demo", "down", "--dir", d))
    # Without --port-base it comes back on the port it was set up with, with the same
    # keys, certificates and configurations, and registers nothing twice.
    res = ok(run_ndx(build_dir, "demo", "up", "--dir", d))
    second = json.loads((d / "federation.json").read_text())
    assert second["registry"]["url"] == url
    assert second["registry"]["pid"] != first["registry"]["pid"]
    grants = requests.get(url + "/api/grants", headers=auth, timeout=5).json()["grants"]
    assert len(grants) == n_grants
    gws, _ = check_federation_live(second, port)
    for m, g in gws.items():
        assert (Path(g["sign_pub"]).read_bytes(), Path(g["config"]).read_bytes(),
                (Path(g["config"]).parent / "gw1.tls.pem").read_bytes()) == files[m], m
    registered = requests.get(url + "/api/gateways", headers=auth, timeout=5).json()["gateways"]
    assert len(registered) == 5
    # The data is not seeded again: the same citizen is printed.
    assert seed_log.read_text() == seed_summary
    assert second["try_exchange"] == first["try_exchange"]
    assert second["try_enterprise"] == first["try_enterprise"]
    resp = curl_as_request(curl_line(res.stdout))
    assert resp.status_code == 200, resp.text
    assert "Ndx-Response-Signature" in resp.headers
    assert resp.json()["full_name"]
    assert curl_as_request(enterprise_line(res.stdout)).status_code == 200
    ok(run_ndx(build_dir, "demo", "down", "--dir", d))
    for p in all_pids(second):
        assert wait_gone(p), p


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


def test_demo_up_on_busy_gateway_port_fails_cleanly(build_dir, demo):
    d, port = demo
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", port + 21))  # BTC's gateway port
        s.listen(1)
        res = run_ndx(build_dir, "demo", "up", "--dir", d, "--port-base", port)
    assert res.returncode == 1, res.stdout
    assert f"127.0.0.1:{port + 21}" in res.stderr and "VN/GOV/BTC" in res.stderr, res.stderr
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
        fed = json.loads(fed_path.read_text())
        pids = all_pids(fed)
        assert len(pids) == N_PROCS and all(alive(p) for p in pids)
        # The printed lines work as soon as federation.json is there.
        resp = curl_as_request(fed["try_exchange"])
        assert resp.status_code == 200, resp.text
        assert resp.json()["pin"] == fed["try_exchange"].rsplit("/", 1)[1]
        resp = curl_as_request(fed["try_enterprise"])
        assert resp.status_code == 200, resp.text
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert f"http://127.0.0.1:{port}" in out
    assert "conf fetch" in out and "conf verify" in out and "anchor.json" in out
    assert curl_line(out) == fed["try_exchange"]
    assert enterprise_line(out) == fed["try_enterprise"]
    assert "-H 'Ndx-Purpose: tax-administration'" in curl_line(out)
    for g in fed["gateways"]:
        assert g["consumer_url"] in out
    for p in pids:
        assert wait_gone(p), p
    assert json.loads(fed_path.read_text())["registry"]["pid"] == 0


# ---- ndx testservice ----------------------------------------------------------------

def test_testservice_reports_what_it_received(build_dir, tmp_path):
    exe = str(build_dir / "src" / "cli" / "ndx")
    port = free_port()
    err_path = tmp_path / "ts.stderr"
    with open(err_path, "wb") as err:
        proc = subprocess.Popen([exe, "testservice", "--listen", f"127.0.0.1:{port}",
                                 "--name", "dịch vụ thử"], stdout=subprocess.DEVNULL,
                                stderr=err)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 10
        while True:
            assert proc.poll() is None, err_path.read_text()
            try:
                h = requests.get(url + "/healthz", timeout=1)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, err_path.read_text()
                time.sleep(0.05)
        assert h.status_code == 200 and h.json() == {"status": "ok", "service": "dịch vụ thử"}
        assert f"ndx testservice: listening on {url}" in err_path.read_text()

        body = "xin chào".encode() * 100
        resp = requests.post(url + "/a%2Fb/c?x=1&y=%C3%A9", data=body, timeout=5, headers={
            "X-Road-Client": "VN/GOV/BTC/tax", "X-Road-Id": "id-1", "Ndx-Purpose": "p",
            "Ndx-Subject": CITIZEN, "Content-Type": "text/plain; charset=utf-8",
            "X-Other": "not reported"})
        assert resp.status_code == 200 and resp.headers["Content-Type"].startswith(
            "application/json")
        got = resp.json()
        assert got["service"] == "dịch vụ thử"
        assert got["method"] == "POST"
        assert got["path"] == "/a%2Fb/c" and got["query"] == "x=1&y=%C3%A9"
        assert got["headers"] == {"X-Road-Client": "VN/GOV/BTC/tax", "X-Road-Id": "id-1",
                                  "Ndx-Purpose": "p", "Ndx-Subject": CITIZEN,
                                  "Content-Type": "text/plain; charset=utf-8"}
        assert got["body_bytes"] == len(body)
        assert got["body_sha256"] == hashlib.sha256(body).hexdigest()
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", got["received_at"])

        got = requests.delete(url + "/x", timeout=5).json()
        assert got["method"] == "DELETE" and got["query"] == "" and got["headers"] == {}
        assert got["body_sha256"] == hashlib.sha256(b"").hexdigest()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_testservice_help_and_bad_arguments(build_dir):
    res = ok(run_ndx(build_dir, "testservice", "--help"))
    assert res.stdout.startswith("usage: ndx testservice")
    assert "--listen" in res.stdout and "--name" in res.stdout and "/healthz" in res.stdout
    assert "testservice" in ok(run_ndx(build_dir, "--help")).stdout
    for args in (["--listen", "nowhere:80"], ["--listen", "127.0.0.1:70000"], ["extra"],
                 ["--bogus"]):
        res = run_ndx(build_dir, "testservice", *args)
        assert res.returncode == 2 and "usage: ndx testservice" in res.stderr, (args, res.stderr)
