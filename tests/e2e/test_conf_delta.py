"""Configuration deltas end to end (docs/protocol.md "Configuration deltas"): a real
registry and three gateways polling every second. A grant made through the registry
reaches the gateways as a signed delta (their metrics and log say so) and takes effect;
the registry answers a delta on ?since=V and the full document without it (what the
monitoring service and `ndx conf fetch` read); after a registry restart the node no
longer holds the gateways' version and they take the full document; a delta forged on
the way (a proxy in front of the registry) is refused and the gateway keeps its
configuration; a gateway killed with -9 after deltas restarts on the full document plus
the deltas it saved."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

import federation as F
from federation import ECHO, INSURANCE


@pytest.fixture(scope="module")
def fed(build_dir):
    with F.running_federation(build_dir, "ndx-confdelta-") as f:
        yield f


def metric(gw, name, kind=None):
    text = requests.get(gw.url + "/metrics", timeout=10).text
    want = f'{name}{{kind="{kind}"}}' if kind else name
    for line in text.splitlines():
        if line.split(" ")[0] == want:
            return float(line.split()[-1])
    raise AssertionError(f"{want} not in /metrics:\n{text}")


def remove_grants(fed, client, service):
    grants = json.loads(fed.ndx("grant", "list", "--service", service, "--json").stdout)
    for g in grants["grants"]:
        if g["client"] == client:
            fed.ndx("grant", "remove", g["id"])


def wait_for(pred, what, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def all_at(fed, version):
    for gw in fed.gateways.values():
        fed.wait_conf(gw, version)


def test_grant_reaches_gateways_as_a_delta(fed):
    all_at(fed, fed.registry.conf_version())
    before = {n: metric(gw, "ndx_gateway_conf_updates_total", "delta")
              for n, gw in fed.gateways.items()}
    full_before = metric(fed.gateways["BCA"], "ndx_gateway_conf_updates_total", "full")
    refused = fed.call("BHXH", "GET", ECHO, "/x", client=INSURANCE)
    assert "AccessDenied" in refused.text and "NoGrant" in refused.text, refused.text
    fed.ndx("grant", "add", "--client", INSURANCE, "--service", ECHO, "--method", "GET")
    version = fed.registry.conf_version()
    all_at(fed, version)
    for n, gw in fed.gateways.items():
        assert metric(gw, "ndx_gateway_conf_updates_total", "delta") > before[n], gw.tail()
        assert f"configuration version {version} " in gw.tail(40), gw.tail(40)
        assert "from a delta of" in gw.tail(40), gw.tail(40)
    assert metric(fed.gateways["BCA"], "ndx_gateway_conf_updates_total", "full") == full_before
    resp = fed.call("BHXH", "GET", ECHO, "/x", client=INSURANCE)
    assert resp.status_code == 200, resp.text


def test_registry_serves_delta_on_since_and_full_without(fed):
    version = fed.registry.conf_version()
    full = requests.get(fed.registry.url + "/conf", timeout=10)
    assert full.status_code == 200 and json.loads(full.content)["version"] == version
    assert "Ndx-Conf-Delta-From" not in full.headers
    fed.ndx("grant", "add", "--client", INSURANCE, "--service", ECHO, "--method", "POST")
    new = fed.registry.conf_version()
    d = requests.get(fed.registry.url + "/conf", params={"since": version}, timeout=10)
    assert d.status_code == 200 and d.headers["Ndx-Conf-Delta-From"] == str(version)
    body = json.loads(d.content)
    assert body["format"] == "ndx-conf-delta/1"
    assert (body["from_version"], body["to_version"]) == (version, new)
    assert list(body["lists"]) == ["grants"], body
    assert len(d.content) < len(full.content) / 2
    # The same bytes for every gateway that asks (cut once per version and period).
    again = requests.get(fed.registry.url + "/conf", params={"since": version}, timeout=10)
    assert again.content == d.content
    assert again.headers["Ndx-Conf-Signature"] == d.headers["Ndx-Conf-Signature"]
    # A version this node never made: the full document; nonsense: 400.
    r = requests.get(fed.registry.url + "/conf", params={"since": new + 1000}, timeout=10)
    assert r.status_code == 200 and "Ndx-Conf-Delta-From" not in r.headers
    assert json.loads(r.content)["format"] == "ndx-conf/1"
    for bad in ("-1", "0", "x", "1e3", "99999999999999999999999"):
        r = requests.get(fed.registry.url + "/conf", params={"since": bad}, timeout=10)
        assert r.status_code == 400, (bad, r.status_code)
    all_at(fed, new)


def test_registry_restart_gateways_take_the_full_document(fed):
    """A restarted node holds only the documents it built since: gateways that ask for a
    delta from a version made before the restart get the full document. The gateways are
    stopped while the change is made, so that the restarted node never builds the
    version they hold."""
    all_at(fed, fed.registry.conf_version())
    for gw in fed.gateways.values():
        gw.stop()
    remove_grants(fed, INSURANCE, ECHO)
    F.stop_registry(fed.registry)
    F.start_registry_same_port(fed.registry)
    version = fed.registry.conf_version()
    for gw in fed.gateways.values():
        gw.start()
    all_at(fed, version)
    for gw in fed.gateways.values():
        assert metric(gw, "ndx_gateway_conf_updates_total", "full") >= 1, gw.tail()
        assert metric(gw, "ndx_gateway_conf_updates_total", "delta") == 0, gw.tail()
        assert f"configuration version {version} (expires" in gw.tail(40), gw.tail(40)
    resp = fed.call("BHXH", "GET", ECHO, "/x", client=INSURANCE)
    assert "NoGrant" in resp.text, resp.text


class ForgingProxy:
    """Forwards /conf to the registry; a delta comes back with one byte changed (a
    grant's method), its signature kept. Full documents pass unchanged."""

    def __init__(self, upstream):
        self.forged = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() in ("if-none-match",)}
                r = requests.get(upstream + self.path, headers=headers, timeout=10)
                body = r.content
                if "Ndx-Conf-Delta-From" in r.headers:
                    body = body.replace(b'"GET"', b'"PUT"', 1)
                    proxy.forged += 1
                self.send_response(r.status_code)
                for k in ("Ndx-Conf-Signature", "Ndx-Conf-Delta-From", "ETag"):
                    if k in r.headers:
                        self.send_header(k, r.headers[k])
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def point_at(gw, url):
    cfg = json.loads(gw.config_path.read_text())
    cfg["registry_url"] = url
    gw.config_path.write_text(json.dumps(cfg, indent=2, ensure_ascii=False))
    gw.stop()
    gw.start()


def test_forged_delta_is_refused_and_configuration_kept(fed):
    gw = fed.gateways["BHXH"]
    all_at(fed, fed.registry.conf_version())
    proxy = ForgingProxy(fed.registry.url)
    try:
        point_at(gw, proxy.url)
        held = gw.healthz().json()["conf_version"]
        refused_before = metric(gw, "ndx_gateway_conf_deltas_refused_total")
        fed.ndx("grant", "add", "--client", INSURANCE, "--service", ECHO, "--method", "GET")
        new = fed.registry.conf_version()
        fed.wait_conf(fed.gateways["BCA"], new)
        wait_for(lambda: metric(gw, "ndx_gateway_conf_deltas_refused_total") > refused_before,
                 "the forged delta to be refused")
        assert proxy.forged >= 1
        time.sleep(1.5)  # more polls: still refused, never taken
        assert gw.healthz().json()["conf_version"] == held
        assert "signature does not verify" in gw.tail(40), gw.tail(40)
        assert "keeping the held configuration" in gw.tail(40), gw.tail(40)
        # The gateway still works on what it holds: the new grant is not in force there.
        resp = fed.call("BHXH", "GET", ECHO, "/x", client=INSURANCE)
        assert "NoGrant" in resp.text, resp.text
    finally:
        point_at(gw, fed.registry.url)
        proxy.stop()
    fed.wait_conf(gw, fed.registry.conf_version())


def test_kill9_after_deltas_restarts_on_the_saved_chain(fed):
    gw = fed.gateways["BTC"]
    all_at(fed, fed.registry.conf_version())
    remove_grants(fed, INSURANCE, ECHO)
    version = fed.registry.conf_version()
    fed.wait_conf(gw, version)
    data = gw.dir / "data" / "conf"
    assert (data / "conf.delta.1").is_file(), sorted(p.name for p in data.iterdir())
    F.stop_registry(fed.registry)
    try:
        gw.kill()
        gw.start()  # the registry is down: what it holds comes from its files
        assert gw.healthz().json()["conf_version"] == version, gw.tail()
    finally:
        F.start_registry_same_port(fed.registry)
