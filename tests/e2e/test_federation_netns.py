"""A federation across hosts (issue 20, docs/scale.md "A federation across hosts"): the
federation of federation.py with the registry and each agency's gateway in a network
namespace of its own, each with its own address on a bridge, as separate machines on one
network would be. Nothing in it talks over loopback: the gateways reach the registry
and each other at their namespace addresses, the backends are reached at the bridge's.
The provider BCA is registered behind a relay on the network (netns.DelayRelay) that
plays a long link's latency when a test asks it to.

What must still work there, and what a network does to it:
  - an exchange, its message log on both sides, and the provider's backend seeing the
    provider gateway's host (not the consumer's) as its caller;
  - a configuration update (a grant removed, then given again) reaching every host;
  - an event published on one host delivered to a subscriber on another;
  - a host cut off (its link down): the consumer's gateway answers with a NetworkError
    in bounded time, never hangs, and exchanges resume once the link is back;
  - 5 ms and 50 ms each way between the two agencies (the relay), and on every host's
    link (`tc netem`, where the kernel has it): everything above still holds (timings
    are for `make bench-hosts`, not asserted here).

The test creates its namespaces, veth pairs and bridge, and removes them at the end,
whatever happens (and those a killed run left, named after a process that is gone). It
needs root and a kernel that allows network namespaces; without them it is skipped and
says why. The netem cases also need the kernel's netem queueing discipline (sch_netem);
a kernel without it skips those two only, naming the module."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

import federation as F  # noqa: E402
from netns import DelayRelay, Hosts, namespaces_refused  # noqa: E402

HOSTS = ("registry", "BCA", "BTC", "BHXH")
ECHO_EVENT = "echo-changed"


@pytest.fixture(scope="module")
def hosts():
    why = namespaces_refused()
    if why:
        pytest.skip(f"the federation across hosts is not tested: {why}")
    h = Hosts(HOSTS)
    try:
        yield h.up()
    finally:
        h.down()


@pytest.fixture(scope="module")
def fed(build_dir, hosts):
    relays = []

    def address_of(name, port):
        """BCA (the provider) is registered behind a relay on the network, which adds
        the latency of a long link when a test asks it to (0 ms until then)."""
        if name != "BCA":
            return f"https://{hosts.place(name)[0]}:{port}"
        relays.append(DelayRelay(hosts.gateway_ip, (hosts.ip["BCA"], port)).start())
        return f"https://{hosts.gateway_ip}:{relays[-1].port}"

    def setup(f):
        admin(f, "POST", "/api/event-types",
              json={"service": F.ECHO, "name": ECHO_EVENT, "schema": {"type": "object"}})
        admin(f, "POST", "/api/subscriptions",
              json={"client": F.INSURANCE, "service": F.ECHO, "event": ECHO_EVENT})
        for gw in f.gateways.values():
            f.wait_conf(gw, f.registry.conf_version())
        f.relay = relays[0]

    try:
        with F.running_federation(
                build_dir, "ndx-netns-", setup=setup,
                registry_kw={"host": hosts.ip["registry"],
                             "launcher": hosts.launcher("registry")},
                federation_kw={"peer_timeout_ms": 3000, "placement": hosts.place,
                               "backend_host": hosts.gateway_ip,
                               "address_of": address_of}) as f:
            yield f
    finally:
        for relay in relays:
            relay.stop()


def admin(fed, method, path, **kw):
    """The registry's management API (docs/registry-api.md), across the network."""
    resp = requests.request(method, fed.registry.url + path, timeout=10,
                            headers={"Authorization": f"Bearer {fed.registry.token}"}, **kw)
    assert resp.status_code in (200, 201), f"{method} {path}: {resp.status_code} {resp.text}"
    return resp.json()


def test_every_host_has_its_own_address_and_nothing_listens_on_loopback(fed, hosts):
    conf = fed.conf()
    addresses = {g["member"]: g["address"] for g in conf["gateways"] if g["code"] == "gw1"}
    assert addresses[F.BCA] == f"https://{hosts.gateway_ip}:{fed.relay.port}", addresses
    for name, member in (("BCA", F.BCA), ("BTC", F.BTC), ("BHXH", F.BHXH)):
        if name != "BCA":
            assert addresses[member].startswith(f"https://{hosts.ip[name]}:"), addresses
        # The daemons run in their namespaces: this namespace's loopback has nothing
        # on their ports.
        gw = fed.gateways[name]
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{gw.consumer_port}/healthz", timeout=2)
    assert fed.registry.url.startswith(f"http://{hosts.ip['registry']}:")


def test_an_exchange_crosses_hosts_and_is_logged_on_both(fed, hosts):
    xid = "netns-" + os.urandom(6).hex()
    r = fed.call("BTC", "GET", F.ECHO, "/hello", xid=xid)
    assert r.status_code == 200, f"{r.status_code} {r.text}\n{fed.tails()}"
    rec = fed.echo.wait_for(xid)
    assert rec, "the provider's backend did not see the exchange"
    # The backend's caller is the provider gateway's host, not the consumer's.
    assert rec[0].client_ip == hosts.ip["BCA"], rec[0].client_ip
    for name, direction in (("BTC", "consumer"), ("BCA", "provider")):
        db = fed.gateways[name].dir / "data" / "msglog.db"
        deadline = time.monotonic() + 15
        while True:  # proved once its batch is signed (msglog.batch_interval_ms)
            res = subprocess.run([str(F.ndx_exe(fed.build_dir)), "log", "prove", "--db",
                                  str(db), "--id", xid, "--direction", direction],
                                 capture_output=True, text=True, timeout=30)
            if res.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert res.returncode == 0, f"{name}'s log: {res.stderr}"
        assert json.loads(res.stdout)["record"]["message_id"] == xid, res.stdout


def test_a_configuration_update_reaches_every_host(fed):
    assert fed.call("BTC", "GET", F.ECHO, "/x").status_code == 200
    grants = admin(fed, "GET", "/api/grants")["grants"]
    echo = [g for g in grants if g["client"] == F.TAX and g["service"] == F.ECHO]
    assert len(echo) == 1, grants
    admin(fed, "DELETE", f"/api/grants/{echo[0]['id']}")
    try:
        version = fed.registry.conf_version()
        for gw in fed.gateways.values():
            fed.wait_conf(gw, version)
        r = fed.call("BTC", "GET", F.ECHO, "/x")
        assert r.status_code == 500 and r.headers.get("X-Road-Error", "").endswith(
            "AccessDenied"), f"{r.status_code} {r.headers} {r.text}"
    finally:
        fed.ndx("grant", "add", "--client", F.TAX, "--service", F.ECHO, "--method", "GET",
                "--method", "POST")
    version = fed.registry.conf_version()
    for gw in fed.gateways.values():
        fed.wait_conf(gw, version)
    assert fed.call("BTC", "GET", F.ECHO, "/x").status_code == 200


def publish_and_receive(fed, n):
    r = requests.post(f"{fed.gateways['BCA'].url}/e1/{F.ECHO}/{ECHO_EVENT}",
                      headers={"X-Road-Client": F.POPULATION,
                               "Content-Type": "application/json"},
                      data=json.dumps({"n": n}), timeout=15)
    assert r.status_code == 201, f"{r.status_code} {r.text}\n{fed.tails()}"
    event_id = r.json()["id"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        got = requests.get(f"{fed.gateways['BHXH'].url}/e1/inbox",
                           headers={"X-Road-Client": F.INSURANCE},
                           params={"limit": 500}, timeout=15)
        assert got.status_code == 200, got.text
        mine = [e for e in got.json()["events"] if e["id"] == event_id]
        if mine:
            assert mine[0]["payload"] == {"n": n}
            return
        time.sleep(0.2)
    raise AssertionError(f"event {event_id} did not reach BHXH's host\n{fed.tails()}")


def test_an_event_published_on_one_host_reaches_a_subscriber_on_another(fed):
    publish_and_receive(fed, 1)


def test_a_host_cut_off_gives_a_network_error_and_exchanges_resume_when_it_is_back(fed, hosts):
    assert fed.call("BTC", "GET", F.ECHO, "/before").status_code == 200
    hosts.link("BCA", "down")
    try:
        started = time.monotonic()
        r = fed.call("BTC", "GET", F.ECHO, "/cut", timeout=30)
        took = time.monotonic() - started
        assert r.status_code == 500, f"{r.status_code} {r.text}"
        assert r.headers.get("X-Road-Error", "").endswith("NetworkError"), r.headers
        # bounded by the consumer gateway's own timeouts, whatever the network does
        assert took < 25, took
    finally:
        hosts.link("BCA", "up")
    deadline = time.monotonic() + 20
    while True:
        r = fed.call("BTC", "GET", F.ECHO, "/after")
        if r.status_code == 200:
            break
        assert time.monotonic() < deadline, f"no exchange after the link came back: {r.text}"
        time.sleep(0.5)


def still_works(fed, n):
    started = time.monotonic()
    r = fed.call("BTC", "GET", F.ECHO, "/far")
    assert r.status_code == 200, f"{r.status_code} {r.text}\n{fed.tails()}"
    elapsed = time.monotonic() - started
    r = fed.call("BTC", "POST", F.ECHO, "/far", data=b"x" * 20000)
    assert r.status_code == 200, f"{r.status_code} {r.text}"
    publish_and_receive(fed, n)
    return elapsed


@pytest.mark.parametrize("ms", [5, 50])
def test_with_latency_between_the_agencies_everything_still_works(fed, ms):
    fed.relay.set_delay(ms)
    try:
        # An exchange crosses the link at least once each way; no timing is asserted
        # beyond that floor (bench/hosts measures).
        assert still_works(fed, ms) >= 2 * ms / 1000
    finally:
        fed.relay.set_delay(0)


@pytest.mark.parametrize("ms", [5, 50])
def test_with_netem_latency_on_every_host_everything_still_works(fed, hosts, ms):
    if not hosts.delay(ms):
        hosts.delay(0)
        pytest.skip("the kernel's own latency (tc netem) is not tested: this kernel has no "
                    "netem queueing discipline (module sch_netem); the relay's latency is")
    try:
        still_works(fed, 1000 + ms)
    finally:
        hosts.delay(0)
