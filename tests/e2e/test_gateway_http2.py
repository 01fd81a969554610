"""HTTP/2 between gateways (docs/gateway.md "http", issue 16): two gateways on h2o
exchange over HTTP/2 (the provider's access log and ndx_http_requests_http2_total say
so), a provider's refusals hold on HTTP/2 streams, and a gateway on libmicrohttpd
still interoperates over HTTP/1.1, in both directions. The engines are set here per
gateway, whatever NDX_GATEWAY_HTTP_ENGINE says."""

import json
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

import federation as F  # noqa: E402
from federation import BCA, CITIZENS, ECHO, INSURANCE, TAX  # noqa: E402

# The HTTP settings of each gateway: BCA provides, BTC and BHXH consume.
HTTP = {"BCA": {"engine": "h2o"}, "BTC": {"engine": "h2o"},
        "BHXH": {"engine": "microhttpd"}}


class EngineGateway(F.Gateway):
    def write_config(self):
        super().write_config()
        cfg = json.loads(self.config_path.read_text())
        name = {BCA: "BCA", F.BTC: "BTC", F.BHXH: "BHXH"}[self.member]
        cfg["http"] = HTTP[name]
        self.config_path.write_text(json.dumps(cfg, indent=2, ensure_ascii=False))


def _grant_insurance(f):
    f.ndx("grant", "add", "--client", INSURANCE, "--service", ECHO, "--method", "GET")
    version = f.registry.conf_version()
    for gw in f.gateways.values():
        f.wait_conf(gw, version)


@pytest.fixture(scope="module")
def fed(build_dir):
    with F.running_federation(build_dir, "ndx-gwh2-", gateway_class=EngineGateway,
                              setup=_grant_insurance) as f:
        yield f


def access_lines(gw):
    return gw.access_lines()


def metric(gw, name, port):
    text = requests.get(gw.url + "/metrics", timeout=10).text
    for line in text.splitlines():
        if line.startswith(f'{name}{{port="{port}"}} '):
            return int(float(line.split()[-1]))
    return 0


def test_two_h2o_gateways_exchange_over_http2(fed):
    bca = fed.gateways["BCA"]
    assert "(HTTP/2 offered)" in bca.stderr_path.read_text(errors="replace")
    before = metric(bca, "ndx_http_requests_http2_total", bca.gateway_port)
    xids = ["h2-" + uuid.uuid4().hex for _ in range(8)]
    with ThreadPoolExecutor(8) as pool:
        resps = list(pool.map(lambda x: fed.call("BTC", "GET", CITIZENS, "/citizens/1",
                                                 xid=x), xids))
    for r in resps:
        assert r.status_code == 200, (r.status_code, r.text, fed.tails())
    for x in xids:
        assert len(fed.citizens.received(x)) == 1
    assert metric(bca, "ndx_http_requests_http2_total", bca.gateway_port) >= before + 8
    lines = bca.wait_access_lines(lambda x: x.get("path", "").startswith("/r1/" + CITIZENS),
                                  count=8)
    assert len(lines) >= 8 and all(x.get("protocol") == "HTTP/2" for x in lines), lines


def curl_h2(fed, name, port, path, headers=(), cert=True):
    """curl(1) over HTTP/2 to a gateway port with gateway `name`'s identity (or none):
    (http version, status, headers text, body)."""
    ident = fed.idents[name]
    args = ["curl", "-sk", "--http2", "--max-time", "10", "-D", "-", "-o", "/dev/stderr",
            "-w", "\n%{http_version} %{http_code}"]
    if cert:
        args += ["--cert", str(ident.tls_cert), "--key", str(ident.tls_key)]
    for h in headers:
        args += ["-H", h]
    res = subprocess.run(args + [f"https://127.0.0.1:{port}{path}"], capture_output=True,
                         timeout=20)
    head, _, tail = res.stdout.decode().rpartition("\n")
    version, status = tail.split()
    return version, int(status), head.lower(), res.stderr


def test_the_gateway_port_refuses_on_http2_streams(fed):
    bca = fed.gateways["BCA"]
    xid = "h2-unsigned-" + uuid.uuid4().hex
    hdrs = (f"X-Road-Client: {TAX}", f"X-Road-Id: {xid}")
    # a registered gateway's certificate, but no signature
    version, status, head, body = curl_h2(fed, "BTC", bca.gateway_port,
                                          f"/r1/{CITIZENS}/citizens/1", hdrs)
    assert version == "2" and status >= 400, (version, status, body)
    err = json.loads(body)
    assert f"x-road-error: {err['type'].lower()}" in head, head
    # no client certificate at all
    version, status2, head2, body2 = curl_h2(fed, "BTC", bca.gateway_port,
                                             f"/r1/{CITIZENS}/citizens/1", hdrs, cert=False)
    assert version == "2" and status2 >= 400, (version, status2, body2)
    err2 = json.loads(body2)
    assert err2["type"] and err2["type"] != err["type"], (err, err2)
    assert fed.citizens.received(xid) == []
    lines = bca.wait_access_lines(lambda x: x.get("error_type") in (err["type"], err2["type"])
                                  and x.get("protocol") == "HTTP/2", count=2)
    assert len(lines) >= 2, access_lines(bca)[-5:]


def test_a_microhttpd_consumer_calls_over_http1(fed):
    bca = fed.gateways["BCA"]
    before = metric(bca, "ndx_http_requests_http2_total", bca.gateway_port)
    n_lines = len(access_lines(bca))
    r = fed.call("BHXH", "GET", ECHO, "/via-mhd", client=INSURANCE)
    assert r.status_code == 200, (r.status_code, r.text, fed.tails())
    assert metric(bca, "ndx_http_requests_http2_total", bca.gateway_port) == before
    new = bca.wait_access_lines(lambda x: x.get("path", "").startswith("/r1/"), skip=n_lines)
    assert new and all("protocol" not in x for x in new), new


def test_an_h2o_consumer_falls_back_to_http1_with_a_microhttpd_provider(fed):
    bca = fed.gateways["BCA"]
    assert bca.stop() == 0
    HTTP["BCA"] = {"engine": "microhttpd"}
    try:
        bca.write_config()
        bca.start()
        assert "(HTTP/2 offered)" not in bca.stderr_path.read_text(errors="replace")
        xid = "h1-" + uuid.uuid4().hex
        r = fed.call("BTC", "GET", CITIZENS, "/citizens/2", xid=xid)
        assert r.status_code == 200, (r.status_code, r.text, fed.tails())
        assert len(fed.citizens.received(xid)) == 1
        lines = bca.wait_access_lines(lambda x: x.get("path", "").startswith("/r1/"))
        assert lines and all("protocol" not in x for x in lines), lines
        # curl asked for h2 and was not offered it
        version, status, _, _ = curl_h2(fed, "BTC", bca.gateway_port, "/healthz")
        assert version == "1.1", (version, status)
    finally:
        HTTP["BCA"] = {"engine": "h2o"}


def test_peer_http2_needs_h2o(fed):
    gw = fed.gateways["BTC"]
    res = subprocess.run([str(F.gateway_exe(fed.build_dir)), "--config", str(gw.config_path),
                          "--check"], capture_output=True, text=True, timeout=30,
                         cwd=str(gw.dir))
    assert res.returncode == 0, (res.stdout, res.stderr)
    assert "(h2o) (HTTP/2 between gateways)" in res.stdout, res.stdout
    bad = json.loads(gw.config_path.read_text())
    for http, why in (({"engine": "microhttpd", "peer_http2": True}, "needs http.engine"),
                      ({"engine": "h2o", "peer_http2": "yes"}, "expected true or false")):
        bad["http"] = http
        p = fed.gateways["BTC"].dir / "bad.json"
        p.write_text(json.dumps(bad))
        res = subprocess.run([str(F.gateway_exe(fed.build_dir)), "--config", str(p), "--check"],
                             capture_output=True, text=True, timeout=30,
                             cwd=str(fed.gateways["BTC"].dir))
        assert res.returncode != 0 and why in res.stderr + res.stdout, (res.stdout, res.stderr)
