"""End-to-end test of a gateway cluster (docs/scale.md "Gateway clusters"): the provider
member VN/GOV/BCA's gateway is two ndx-gateway nodes behind HAProxy (tcp mode, a
configuration this test writes, health checks on each node's /healthz), sharing one
message log in PostgreSQL (a schema of NDX_TEST_PG), one signing key and one TLS
identity (the files copied, as an operator copies them); the registry lists one
address, HAProxy's frontend. Each node names its own path on the provider systems
(/n1, /n2), so that a test can tell which node served an exchange.

Under a bounded load from the consumer gateway (BTC) one node is killed with SIGKILL
while exchanges are in flight on it. Then: every exchange the consumer got a 200 for
is in the shared log exactly once; the exchanges that were in flight on the killed node
got an error, never a 200, and were never executed again by the other node (the
shared replay claims refuse the copy a retry sends there); `ndx log verify` passes on
the connection string; the other node kept serving; the killed node, started again,
takes its share once HAProxy sees it healthy. And a signed request accepted by one
node is a replay for the other, and a marketplace agreement's maximum calls hold for
both nodes together.

Runs under tests/with-postgres (`make test-pg`); skipped, with the reason, without
NDX_TEST_PG or without haproxy (scripts/install-deps installs it)."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

import federation as F  # noqa: E402
import refusals  # noqa: E402
from backends import ScriptedEcho  # noqa: E402

PG = os.environ.get("NDX_TEST_PG", "")
HAPROXY = shutil.which("haproxy") or next(
    (p for p in ("/usr/sbin/haproxy",) if os.access(p, os.X_OK)), None)
pytestmark = [
    pytest.mark.skipif(not PG, reason="NDX_TEST_PG is not set: the gateway cluster shares "
                                      "a PostgreSQL message log and runs under "
                                      "tests/with-postgres (make test-pg)"),
    pytest.mark.skipif(HAPROXY is None, reason="haproxy is not installed (scripts/install-deps "
                                               "installs it): the cluster's load balancer"),
]

SUBJECT, PURPOSE = "001099000123", "public-service"
PERSONAL = {"Ndx-Subject": SUBJECT, "Ndx-Purpose": PURPOSE}
CLI_TIMEOUT = 30
SCHEMA = "gwcl_" + uuid.uuid4().hex[:8]
SLOW_S = 2.5  # how long the slow provider system holds an exchange
LOAD_MAX = 200  # exchanges per load thread at most
# The slow provider system behind population/echo: the exchanges that are in flight
# on a node when it is killed.
SLOW = ScriptedEcho("slow")
EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "haproxy" / "ndx-gateway.cfg"


def psql(sql):
    res = subprocess.run(["psql", "-X", "-q", "-At", PG, "-c", sql], capture_output=True,
                         text=True, timeout=CLI_TIMEOUT)
    assert res.returncode == 0, f"psql {sql}: {res.stderr}"
    return res.stdout.strip()


def log_db():
    sep = "&" if "?" in PG else "?"
    return f"{PG}{sep}options=-csearch_path%3D{SCHEMA}"


class ClusterGateway(F.Gateway):
    """federation.Gateway; BCA's is node n1 of the cluster: it listens on a port of its
    own, its registered address (gateway_port as the Federation chose it) becoming
    HAProxy's frontend, and its log is the shared one."""

    node = "n1"

    def write_config(self):
        super().write_config()
        if self.member != F.BCA:
            return
        if not hasattr(self, "frontend_port"):
            self.frontend_port, self.gateway_port = self.gateway_port, F.free_port()
        cfg = json.loads(self.config_path.read_text())
        cfg["gateway_listen"] = f"127.0.0.1:{self.gateway_port}"
        cfg["msglog"] = {"store": log_db(), "batch_max": 64, "batch_interval_ms": 200}
        cfg["services"][F.CITIZENS]["backend"] += "/" + self.node
        cfg["services"][F.ECHO] = {"backend": f"{SLOW.url}/{self.node}", "timeout_ms": 8000}
        self.config_path.write_text(json.dumps(cfg, indent=2, ensure_ascii=False))


def second_node(fed, n1):
    """Node n2: the same member, code, keys and certificate (copied), its own data_dir
    and ports, the same log."""
    d = fed.workdir / "BCA_n2"
    d.mkdir()
    for f in n1.dir.iterdir():
        if f.is_file() and (f.name.startswith("sign.") or f.name.startswith(n1.code + ".")):
            shutil.copy2(f, d / f.name)
    ident = F.Identity(F.BCA, n1.code, d, n1.ident.address)
    n2 = ClusterGateway(n1.exe, ident, n1.subsystems, n1.services, F.free_port(),
                        F.free_port(), n1.registry, n1.limits, n1.conf_refresh_s)
    n2.node, n2.frontend_port = "n2", n1.frontend_port
    n2.write_config()
    return n2


class HAProxy:
    """Debian's haproxy in the foreground (-db) with the configuration of
    deploy/haproxy/ndx-gateway.cfg cut down to loopback: tcp mode (TLS goes through to
    the nodes), least connections, a node out after two failed /healthz checks (its
    connections cut), a refused connection retried on the other node."""

    def __init__(self, workdir, front, nodes):
        self.dir, self.front, self.nodes = Path(workdir), front, nodes
        self.sock = self.dir / "haproxy.sock"
        self.cfg = self.dir / "haproxy.cfg"
        self.proc = None

    def write(self):
        """deploy/haproxy/ndx-gateway.cfg with loopback addresses, this test's ports and
        socket, checks every 200 ms, 512 connections (within a test's file limit), and
        no user switch or syslog."""
        text = EXAMPLE.read_text()
        servers = "\n".join(
            f"    server {g.node} 127.0.0.1:{g.gateway_port} check port {g.consumer_port}"
            for g in self.nodes)
        edits = [("    bind 203.0.113.10:8443", f"    bind 127.0.0.1:{self.front}"),
                 ("    server node1 10.0.0.11:8443 check port 8080\n"
                  "    server node2 10.0.0.12:8443 check port 8080", servers),
                 ("default-server inter 2s", "default-server inter 200ms"),
                 ("    maxconn 20000\n", "    maxconn 512\n"),
                 ("/run/haproxy/admin.sock", str(self.sock)),
                 ("    user haproxy\n    group haproxy\n", ""),
                 ("    log /dev/log local0\n", ""), ("    log global\n", ""),
                 ("    option tcplog\n", "")]
        for old, new in edits:
            assert old in text, f"{EXAMPLE} no longer holds {old!r}"
            text = text.replace(old, new)
        self.cfg.write_text(text)

    def start(self):
        self.write()
        self.err = open(self.dir / "haproxy.stderr", "wb")
        self.proc = subprocess.Popen([HAPROXY, "-db", "-f", str(self.cfg)],
                                     stdout=subprocess.DEVNULL, stderr=self.err)
        self.wait_states({g.node: "UP" for g in self.nodes})
        return self

    def states(self):
        """{server name: status} from the stats socket."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        try:
            s.connect(str(self.sock))
            s.sendall(b"show stat\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        finally:
            s.close()
        lines = data.decode().splitlines()
        head = lines[0].lstrip("# ").split(",")
        out = {}
        for line in lines[1:]:
            row = dict(zip(head, line.split(",")))
            if row.get("pxname") == "ndx_gateway_nodes" and row.get("svname") not in ("BACKEND", None):
                out[row["svname"]] = row["status"].split()[0]
        return out

    def wait_states(self, want, timeout=15):
        deadline, last = time.monotonic() + timeout, None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"haproxy exited with {self.proc.returncode}: "
                                   f"{(self.dir / 'haproxy.stderr').read_text()}")
            try:
                last = self.states()
                if all(last.get(k) == v for k, v in want.items()):
                    return last
            except (OSError, IndexError):
                pass
            time.sleep(0.05)
        raise AssertionError(f"haproxy's servers did not reach {want} in {timeout} s: {last}")

    def stop(self):
        if self.proc is None:
            return None
        proc, self.proc = self.proc, None
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        self.err.close()
        return proc.returncode


class Cluster:
    def __init__(self, fed, nodes, haproxy):
        self.fed, self.nodes, self.haproxy = fed, nodes, haproxy


@pytest.fixture(scope="module")
def cluster(build_dir):
    psql(f"CREATE SCHEMA {SCHEMA}")
    SLOW.start()
    try:
        with F.running_federation(build_dir, "ndx-gwcl-", gateway_class=ClusterGateway) as fed:
            n1 = fed.gateways["BCA"]
            n2 = second_node(fed, n1)
            hap = HAProxy(fed.workdir, n1.frontend_port, [n1, n2])
            try:
                n2.start()
                hap.start()
            except BaseException:
                # running_federation stops its gateways only after a yield.
                hap.stop()
                n2.stop()
                fed.close()
                raise
            try:
                yield Cluster(fed, {"n1": n1, "n2": n2}, hap)
            finally:
                hap.stop()
                rc = n2.stop()
            assert rc in (0, None), f"node n2 exited with {rc}:\n{n2.tail()}"
    finally:
        SLOW.stop()


def ndx_log(fed, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("NDX_")}
    return subprocess.run([str(F.ndx_exe(fed.build_dir)), "log", *map(str, args)],
                          capture_output=True, text=True, timeout=CLI_TIMEOUT, env=env)


def provider_records(served=True):
    """X-Road-Id -> number of provider records in the shared log of exchanges served
    (status 200), or refused (served False: refusals are logged too)."""
    cond = "status = 200" if served else "status <> 200"
    out = psql(f"SELECT message_id, count(*) FROM {SCHEMA}.records "
               f"WHERE direction = 'provider' AND {cond} GROUP BY message_id")
    return {line.split("|")[0]: int(line.split("|")[1]) for line in out.splitlines() if line}


def call_citizen(fed, xid):
    try:
        r = fed.call("BTC", "GET", F.CITIZENS, "/citizens/001", xid=xid, headers=PERSONAL,
                     timeout=20)
        return r.status_code, time.monotonic()
    except requests.RequestException:
        return None, time.monotonic()


def served_by(backend, xid):
    """The nodes whose path the provider system saw xid under."""
    return {r.path.split("/")[2] if r.path.startswith("/api/") else r.path.split("/")[1]
            for r in backend.received(xid)}


def test_kill_one_node_under_load(cluster):
    fed, hap = cluster.fed, cluster.haproxy
    results, lock = [], threading.Lock()
    slow_results = {}
    SLOW.reply = {"status": 200, "headers": [("Content-Type", "application/json")],
                  "body": b'{"slow": true}', "delay": SLOW_S}

    stop = threading.Event()

    # Bounded: each thread stops once told to (when enough was answered after the
    # kill) and after LOAD_MAX exchanges whatever happens.
    def load(t):
        for i in range(LOAD_MAX):
            if stop.is_set():
                break
            xid = f"load-{t}-{i}-" + uuid.uuid4().hex[:8]
            st, at = call_citizen(fed, xid)
            with lock:
                results.append((xid, st, at))

    def slow(i):
        xid = f"slow-{i}-" + uuid.uuid4().hex[:8]
        try:
            r = fed.call("BTC", "GET", F.ECHO, f"/slow/{i}", xid=xid, timeout=20)
            slow_results[xid] = r.status_code
        except requests.RequestException:
            slow_results[xid] = None

    loaders = [threading.Thread(target=load, args=(t,)) for t in range(3)]
    for th in loaders:
        th.start()
    while len(results) < 60 and any(th.is_alive() for th in loaders):
        time.sleep(0.01)
    slows = [threading.Thread(target=slow, args=(i,)) for i in range(6)]
    for th in slows:
        th.start()
    # Kill a node while a slow exchange is in flight on it (its provider system holds
    # it SLOW_S seconds): the first node the slow provider system heard from.
    deadline = time.monotonic() + 10
    while not SLOW.received() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert SLOW.received(), "no slow exchange reached a node"
    time.sleep(0.2)
    victim_name = SLOW.received()[0].path.split("/")[1]
    victim = cluster.nodes[victim_name]
    other_name = "n2" if victim_name == "n1" else "n1"
    in_flight = {r.header("X-Road-Id") for r in SLOW.received()
                 if r.path.split("/")[1] == victim_name}
    victim.kill()
    killed_at = time.monotonic()
    while any(th.is_alive() for th in loaders):
        with lock:
            if sum(1 for _, _, at in results if at > killed_at) >= 60:
                break
        time.sleep(0.01)
    stop.set()
    for th in loaders + slows:
        th.join(timeout=60)
    SLOW.reply = None

    logged = provider_records()
    ok = [xid for xid, st, _ in results if st == 200] + \
         [xid for xid, st in slow_results.items() if st == 200]
    # Every exchange the consumer got a 200 for is in the shared log, once.
    missing = [x for x in ok if logged.get(x, 0) != 1]
    assert not missing, f"{len(missing)} acknowledged exchanges not logged once: {missing[:5]}"
    # The exchanges in flight on the killed node: an error, never a 200, and never
    # executed again by the other node (a retry's copy is a replay there).
    assert in_flight
    for xid in in_flight:
        assert slow_results.get(xid) != 200, f"{xid} was in flight on the killed node"
        assert other_name not in served_by(SLOW, xid), f"{xid} was executed twice"
        assert xid not in logged, f"{xid}: its provider system had not answered yet"
    # The other node kept serving: exchanges after the kill were answered.
    assert any(st == 200 and at > killed_at for _, st, at in results), \
        "no exchange succeeded after the kill"
    hap.wait_states({victim_name: "DOWN", other_name: "UP"})
    after = [call_citizen(fed, "after-" + uuid.uuid4().hex)[0] for _ in range(10)]
    assert after == [200] * 10, after
    # Both nodes served part of the load before the kill.
    nodes = set()
    for xid in ok[:50]:
        nodes |= served_by(fed.citizens, xid)
    assert nodes == {"n1", "n2"}, nodes
    # One chain, whoever wrote it.
    res = ndx_log(fed, "verify", "--db", log_db(), "--key", victim.ident.sign_pub)
    assert res.returncode == 0, f"{res.stdout}\n{res.stderr}"
    assert "log OK" in res.stdout

    # The killed node, started again, joins: HAProxy sees it healthy and gives it its
    # share of new connections (each signed request here comes on a connection of its
    # own, as from a consumer gateway that just started).
    victim.start()
    hap.wait_states({"n1": "UP", "n2": "UP"})
    ident = fed.idents["BTC"]
    ctx, key = F.tls_context(ident.ca_pem, ident.tls_cert, ident.tls_key), ident.private_key()
    rejoined = []
    for _ in range(4):
        xid = "rejoin-" + uuid.uuid4().hex
        st, _, body, _ = F.gateway_request(victim.frontend_port, ctx, "GET", F.CITIZENS,
                                           "/citizens/001", xid=xid, headers=PERSONAL,
                                           sign_with=key)
        assert st == 200, body
        rejoined.append(xid)
    assert any(victim_name in served_by(fed.citizens, x) for x in rejoined)
    logged = provider_records()
    assert all(logged.get(x) == 1 for x in rejoined)
    res = ndx_log(fed, "verify", "--db", log_db(), "--key", victim.ident.sign_pub)
    assert res.returncode == 0, f"{res.stdout}\n{res.stderr}"


def test_the_example_configuration_is_valid():
    res = subprocess.run([HAPROXY, "-c", "-f", str(EXAMPLE)], capture_output=True, text=True,
                         timeout=CLI_TIMEOUT)
    assert res.returncode == 0, res.stdout + res.stderr


def test_a_request_accepted_by_one_node_is_a_replay_for_the_other(cluster):
    fed = cluster.fed
    n1, n2 = cluster.nodes["n1"], cluster.nodes["n2"]
    for n in (n1, n2):  # both up (the test before restarted one)
        n.wait_ready()
        F.GATEWAY_NAMES[n.gateway_port] = f"{F.BCA}/{n.code}"
    ident = fed.idents["BTC"]
    ctx, key = F.tls_context(ident.ca_pem, ident.tls_cert, ident.tls_key), ident.private_key()
    xid, ts = "replay-" + uuid.uuid4().hex, F.rfc3339()

    def send(node):
        return F.gateway_request(node.gateway_port, ctx, "GET", F.CITIZENS, "/citizens/001",
                                 xid=xid, headers=PERSONAL, sign_with=key, timestamp=ts)

    st, _, body, _ = send(n1)
    assert st == 200, body
    # The same signed bytes to the other node: refused there too, not executed.
    st, hdrs, body, _ = send(n2)
    refusals.check(st, hdrs, body, "Replay", side="provider")
    assert served_by(fed.citizens, xid) == {"n1"}
    st, hdrs, body, _ = send(n1)
    refusals.check(st, hdrs, body, "Replay", side="provider")
    assert provider_records().get(xid) == 1
    assert provider_records(served=False).get(xid) == 2  # both refusals, logged


def test_an_agreements_maximum_holds_for_the_whole_cluster(cluster):
    """docs/scale.md "Gateway clusters": a marketplace agreement's calls are counted in the
    shared log's database, not by each node, so its maximum (docs/marketplace.md, ODRL
    `count`) holds for the cluster: with three calls a day agreed and the calls sent to
    the two nodes in turn, the fourth is refused AgreementLimitExceeded by whichever node
    gets it (each node counting its own would let six through)."""
    from test_marketplace import finalize, member_token, post, request
    fed = cluster.fed
    n1, n2 = cluster.nodes["n1"], cluster.nodes["n2"]
    for n in (n1, n2):
        n.wait_ready()
        F.GATEWAY_NAMES[n.gateway_port] = f"{F.BCA}/{n.code}"
    fed.tokens = {n: member_token(fed, f"cl-{n}", m) for n, m in (("bca", F.BCA),
                                                                   ("bhxh", F.BHXH))}
    r = post(fed, "/market/datasets", "bca", {
        "service": F.ECHO, "title": {"vi": "Phản hồi", "en": "Echo"},
        "description": {"vi": "Trả lại yêu cầu", "en": "Returns the request"},
        "license": "https://creativecommons.org/licenses/by/4.0/",
        "accrual_periodicity": "CONT",
        "offers": [{"@type": "Offer", "permission": [{"action": "use", "constraint": [
            {"leftOperand": "count", "operator": "lteq", "rightOperand": 3,
             "unit": "ndx:perDay"}]}]}]})
    assert r.status_code == 201, r.text
    dataset = r.json()
    offer = {**dataset["hasPolicy"][0], "target": dataset["@id"]}
    r = request(fed, "bhxh", offer, client=F.INSURANCE)
    assert r.status_code == 201, r.text
    agreement = {**offer, "@id": f"urn:uuid:{uuid.uuid4()}", "@type": "Agreement",
                 "timestamp": F.rfc3339(), "assigner": F.BCA, "assignee": F.BHXH}
    version = finalize(fed, r.json(), agreement).json()["ndx:confVersion"]
    for n in (n1, n2):
        fed.wait_conf(n, version)

    ident = fed.idents["BHXH"]
    ctx, key = F.tls_context(ident.ca_pem, ident.tls_cert, ident.tls_key), ident.private_key()
    for i, node in enumerate((n1, n2, n1, n2, n1)):
        st, hdrs, body, _ = F.gateway_request(node.gateway_port, ctx, "GET", F.ECHO, "/x",
                                              client=F.INSURANCE, sign_with=key)
        if i < 3:
            assert st == 200, f"call {i + 1} on {node.code}: {st} {body}"
        else:
            doc = refusals.check(st, hdrs, body, "AgreementLimitExceeded", side="provider")
            assert agreement["@id"] in doc["message"]
    assert psql(f"SELECT calls FROM {SCHEMA}.agreement_calls"
                f" WHERE agreement = '{agreement['@id']}'") == "3"
