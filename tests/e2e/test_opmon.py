"""End-to-end tests of operational monitoring (docs/protocol.md "Operational monitoring",
docs/security.md T41-T44): every gateway keeps a record per exchange in opmon.db, and the
records are read through the exchange itself: a member from its own gateways, the
operator's monitoring client (the configuration's monitoring.client) from every gateway,
nobody else. Against federation.py's federation, with BHXH also holding the operator's
monitoring subsystem VN/GOV/BHXH/monitoring."""

import hashlib
import json
import struct
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

import federation as F  # noqa: E402
import refusals  # noqa: E402

PIN = "001099012345"
MONITOR = F.BHXH + "/monitoring"


class OpmonGateway(F.Gateway):
    """A Gateway whose configuration file carries an "opmon" object (retention_s)."""
    retention_s = None

    def write_config(self):
        super().write_config()
        if self.retention_s is not None:
            cfg = json.loads(self.config_path.read_text())
            cfg["opmon"] = {"retention_s": self.retention_s, "max_records": 100000}
            self.config_path.write_text(json.dumps(cfg, indent=2, ensure_ascii=False))


def _setup(f):
    f.ndx("subsystem", "add", MONITOR)
    r = f.registry.api("PUT", "/api/monitoring", json={"client": MONITOR})
    assert r.status_code in (200, 201, 204), r.text
    bhxh = f.gateways["BHXH"]
    bhxh.subsystems = ["insurance", "monitoring"]
    bhxh.stop()
    bhxh.write_config()
    bhxh.start()
    for gw in f.gateways.values():
        f.wait_conf(gw, f.registry.conf_version())


@pytest.fixture(scope="module")
def fed(build_dir):
    with F.running_federation(build_dir, "ndx-opmon-", gateway_class=OpmonGateway,
                              setup=_setup) as f:
        yield f


def gw_name(f, n):
    gw = f.gateways[n]
    return f"{gw.member}/{gw.code}"


def read(f, via, target, client, what="records", params=None, xid=None):
    headers = {"X-Road-Client": client}
    if xid:
        headers["X-Road-Id"] = xid
    return requests.get(f"{f.gateways[via].url}/o1/{gw_name(f, target)}/{what}",
                        headers=headers, params=params, timeout=20)


def records_of(f, via, target, client, ids, n, role=None, timeout=10.0):
    """The records of target with message ids in ids (and role), once there are n."""
    deadline = time.monotonic() + timeout
    while True:
        resp = read(f, via, target, client, params={"limit": 10000})
        assert resp.status_code == 200, resp.text
        doc = resp.json()
        found = [r for r in doc["records"] if r["message_id"] in ids
                 and (role is None or r["role"] == role)]
        if len(found) >= n or time.monotonic() > deadline:
            return found, resp.text
        time.sleep(0.1)


def log_records(gw):
    resp = requests.get(gw.url + "/admin/log/head", timeout=5)
    assert resp.status_code == 200, resp.text
    return resp.json()["records"]


def wait_log(gw, n, timeout=5.0):
    deadline = time.monotonic() + timeout
    while log_records(gw) < n and time.monotonic() < deadline:
        time.sleep(0.05)
    return log_records(gw)


def test_records_match_the_exchanges_made(fed):
    calls = []
    for i in range(3):
        r = fed.call("BTC", "GET", F.CITIZENS, f"/citizens/{PIN}", params={"pin": PIN})
        assert r.status_code == 200, r.text
        calls.append((r.request.headers["X-Road-Id"], "GET", F.CITIZENS, b"", r))
    body = json.dumps({"pin": PIN, "n": 1}).encode()
    r = fed.call("BTC", "POST", F.ECHO, f"/x/{PIN}", data=body,
                 headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    calls.append((r.request.headers["X-Road-Id"], "POST", F.ECHO, body, r))
    refused = fed.call("BTC", "GET", F.CITIZENS, f"/other/{PIN}")
    refusals.check_response(refused, "NoGrant", side="consumer")
    refused_id = refused.request.headers["X-Road-Id"]
    ids = {c[0] for c in calls} | {refused_id}

    mine, text = records_of(fed, "BTC", "BTC", F.TAX, ids, len(ids), role="consumer")
    assert PIN not in text
    assert len(mine) == len(ids), text
    by_id = {r["message_id"]: r for r in mine}
    for xid, method, service, sent, resp in calls:
        rec = by_id[xid]
        assert rec["client"] == F.TAX and rec["service"] == service, rec
        assert rec["method"] == method and rec["status"] == resp.status_code, rec
        assert rec["request_size"] == len(sent), rec
        assert rec["response_size"] == len(resp.content), rec
        assert rec["success"] is True and rec["error_type"] is None, rec
        assert rec["client_gateway"] == gw_name(fed, "BTC"), rec
        assert rec["service_gateway"] == gw_name(fed, "BCA"), rec
        assert (rec["request_in"] <= rec["request_out"] <= rec["response_in"] <=
                rec["response_out"]), rec
        assert rec["duration_ms"] == rec["response_out"] - rec["request_in"], rec
        assert rec["peer_ms"] == rec["response_in"] - rec["request_out"], rec
        assert rec["provider_ms"] is None and rec["own_ms"] >= 0, rec
        assert rec["personal"] is False, rec
    # The grant's pattern, never the raw path; the query never.
    assert by_id[calls[0][0]]["path_template"] == "/citizens/*"
    assert by_id[calls[3][0]]["path_template"] == "/x/{}"
    rec = by_id[refused_id]
    assert rec["success"] is False and rec["status"] == 500, rec
    assert rec["error_type"] == "Server.ClientProxy.AccessDenied", rec
    assert rec["request_out"] is None and rec["response_in"] is None, rec
    assert rec["service_gateway"] is None and rec["path_template"] == "/other/{}", rec

    # The provider's side of the same exchanges, read by BCA's own client.
    theirs, text = records_of(fed, "BCA", "BCA", F.POPULATION, ids, len(calls),
                              role="provider")
    assert PIN not in text
    assert {r["message_id"] for r in theirs} == {c[0] for c in calls}, text
    for rec in theirs:
        assert rec["client"] == F.TAX and rec["client_gateway"] == gw_name(fed, "BTC"), rec
        assert rec["success"] and rec["status"] == 200, rec
        assert rec["provider_ms"] is not None and rec["provider_ms"] >= 0, rec
        assert (rec["request_in"] <= rec["request_out"] <= rec["response_in"] <=
                rec["response_out"]), rec


def test_a_member_reads_its_own_records_but_not_another_agencys(fed):
    btc, bca = fed.gateways["BTC"], fed.gateways["BCA"]
    # its own gateway, through itself: answered there, logged once
    before = log_records(btc)
    r = read(fed, "BTC", "BTC", F.TAX)
    assert r.status_code == 200 and r.json()["gateway"] == gw_name(fed, "BTC"), r.text
    assert wait_log(btc, before + 1) == before + 1
    # another agency's gateway: refused by that gateway, through the exchange
    before_btc, before_bca = log_records(btc), log_records(bca)
    xid = "opmon-" + uuid.uuid4().hex
    r = read(fed, "BTC", "BCA", F.TAX, xid=xid)
    doc = refusals.check_response(r, "OpmonNotAllowed", side="provider")
    assert r.headers["X-Road-Error"] == "Server.ServerProxy.AccessDenied", r.headers
    assert "records" not in doc
    # both message logs hold the read
    assert wait_log(btc, before_btc + 1) == before_btc + 1
    assert wait_log(bca, before_bca + 1) == before_bca + 1
    # the health data is refused the same way
    refusals.check_response(read(fed, "BTC", "BCA", F.TAX, "health"), "OpmonNotAllowed",
                            side="provider")
    # a member with no gateway of its own to speak for: BHXH's ordinary subsystem
    refusals.check_response(read(fed, "BHXH", "BCA", F.INSURANCE), "OpmonNotAllowed",
                            side="provider")


def test_the_monitoring_client_reads_every_gateway(fed):
    for n in ("BCA", "BTC", "BHXH"):
        r = read(fed, "BHXH", n, MONITOR)
        assert r.status_code == 200, (n, r.text)
        assert r.json()["gateway"] == gw_name(fed, n)
        h = read(fed, "BHXH", n, MONITOR, "health")
        assert h.status_code == 200 and "services" in h.json(), h.text
    # cursor paging through another gateway
    first = read(fed, "BHXH", "BCA", MONITOR, params={"limit": 2}).json()
    assert len(first["records"]) == 2
    nxt = read(fed, "BHXH", "BCA", MONITOR,
               params={"after": first["next_after"], "limit": 2}).json()
    assert nxt["records"][0]["seq"] > first["records"][-1]["seq"]


def test_local_callers_without_the_right_are_refused(fed):
    url = fed.gateways["BCA"].url + f"/o1/{gw_name(fed, 'BCA')}/records"
    # no client, a stranger's client, another member's subsystem on this gateway
    refusals.check_response(requests.get(url, timeout=10), "InvalidClient", side="consumer")
    for client in (F.TAX, MONITOR, "VN/GOV/BCA/nosuch"):
        r = requests.get(url, headers={"X-Road-Client": client}, timeout=10)
        refusals.check_response(r, "UnknownClient", side="consumer")
    r = requests.post(url, headers={"X-Road-Client": F.POPULATION}, timeout=10)
    refusals.check_response(r, "BadMethod", side="consumer")
    for params in ({"limit": "0"}, {"limit": "10001"}, {"after": "-1"}, {"from": "x"}):
        r = requests.get(url, headers={"X-Road-Client": F.POPULATION}, params=params,
                         timeout=10)
        refusals.check_response(r, "OpmonQuery", side="consumer")
    r = requests.get(fed.gateways["BCA"].url + "/o1/VN/GOV/BCA/gw9/records",
                     headers={"X-Road-Client": F.POPULATION}, timeout=10)
    refusals.check_response(r, "UnknownGateway", side="consumer")
    r = requests.get(fed.gateways["BCA"].url + "/o1/VN/GOV/BCA/records",
                     headers={"X-Road-Client": F.POPULATION}, timeout=10)
    refusals.check_response(r, "OpmonQuery", side="consumer")


# ---- the gateway port, spoken to directly --------------------------------------------------

def _field(b):
    b = b.encode() if isinstance(b, str) else b
    return struct.pack(">Q", len(b)) + b


def query_hash(client, xid, gateway, caller, query, timestamp, nonce):
    return hashlib.sha256(b"".join(_field(x) for x in (
        "ndx-opmon-query-v1", client, xid, gateway, caller, query, timestamp, nonce))).digest()


def direct_query(fed, as_member, target, client, query="records?after=0&limit=5", key=None,
                 timestamp=None, gateway=None, nonce=None, xid=None, cert=True):
    """A /o1/query to target's gateway port as as_member's gateway would send it."""
    import http.client
    ident = fed.idents[as_member]
    ctx = (F.tls_context(ident.ca_pem, ident.tls_cert, ident.tls_key) if cert
           else F.tls_context(ident.ca_pem))
    xid = xid or "py-" + uuid.uuid4().hex
    timestamp = timestamp or F.rfc3339()
    nonce = nonce or str(uuid.uuid4())
    gateway = gateway or gw_name(fed, target)
    caller = f"{ident.member}/{ident.code}"
    h = query_hash(client, xid, gateway, caller, query, timestamp, nonce)
    sig = F.compact(F.sign_object(key or ident.private_key(), h))
    headers = {"X-Road-Client": client, "X-Road-Id": xid, "Ndx-Timestamp": timestamp,
               "Ndx-Nonce": nonce, "Ndx-Gateway": gateway, "Ndx-Signature": sig}
    conn = http.client.HTTPSConnection("127.0.0.1", fed.gateways[target].gateway_port,
                                       context=ctx, timeout=15)
    try:
        conn.request("GET", "/o1/query/" + query, headers=headers)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read(), h
    finally:
        conn.close()


def test_a_signed_answer_and_a_replay(fed):
    st, hdrs, body, h = direct_query(fed, "BHXH", "BCA", MONITOR)
    assert st == 200, body
    doc = json.loads(body)
    assert doc["gateway"] == gw_name(fed, "BCA")
    # the answer is signed by BCA's gateway over the response hash of the read
    key_raw, key_id = fed.gateway_keys(F.BCA)[0]
    rh = F.response_hash(h, 200, hdrs.get("content-type"), None, body)
    F.verify_signature_object(hdrs["ndx-response-signature"], key_raw, key_id, rh)
    # the same signed read again: refused, signed
    xid, ts, nonce = "py-" + uuid.uuid4().hex, F.rfc3339(), str(uuid.uuid4())
    st1, _, body1, _ = direct_query(fed, "BHXH", "BCA", MONITOR, xid=xid, timestamp=ts,
                                    nonce=nonce)
    assert st1 == 200, body1
    st2, hdrs2, body2, _ = direct_query(fed, "BHXH", "BCA", MONITOR, xid=xid, timestamp=ts,
                                        nonce=nonce)
    refusals.check(st2, hdrs2, body2, "Replay", side="provider")
    assert "ndx-response-signature" in hdrs2


def test_forged_queries_are_refused(fed):
    from cryptography.hazmat.primitives.asymmetric import ed25519
    # signed by a key that is not the calling gateway's
    st, hdrs, body, _ = direct_query(fed, "BHXH", "BCA", MONITOR,
                                     key=ed25519.Ed25519PrivateKey.generate())
    refusals.check(st, hdrs, body, "BadSignature", side="provider")
    # a gateway speaking for another member's client (the monitoring client itself)
    st, hdrs, body, _ = direct_query(fed, "BTC", "BCA", MONITOR)
    refusals.check(st, hdrs, body, "UnknownClient", side="provider")
    # a member's own gateway, its own client: not the target's member
    st, hdrs, body, _ = direct_query(fed, "BTC", "BCA", F.TAX)
    refusals.check(st, hdrs, body, "OpmonNotAllowed", side="provider")
    # stale, signed for another gateway, no certificate
    st, hdrs, body, _ = direct_query(fed, "BHXH", "BCA", MONITOR,
                                     timestamp="2020-01-01T00:00:00Z")
    refusals.check(st, hdrs, body, "StaleTimestamp", side="provider")
    st, hdrs, body, _ = direct_query(fed, "BHXH", "BCA", MONITOR, gateway="VN/GOV/BCA/gw9")
    refusals.check(st, hdrs, body, "WrongGateway", side="provider")
    try:
        st, hdrs, body, _ = direct_query(fed, "BHXH", "BCA", MONITOR, cert=False)
    except OSError:
        pass  # the handshake itself was refused
    else:
        refusals.check(st, hdrs, body, "Unauthenticated", side="provider")
    # a well-signed query the target does not take
    st, hdrs, body, _ = direct_query(fed, "BHXH", "BCA", MONITOR, query="health?limit=5")
    refusals.check(st, hdrs, body, "OpmonQuery", side="provider")


def test_health_numbers_match_the_exchanges(fed):
    def echo_entry():
        r = read(fed, "BCA", "BCA", F.POPULATION, "health")
        assert r.status_code == 200, r.text
        for s in r.json()["services"]:
            if s["service"] == F.ECHO and s["role"] == "provider":
                return s["periods"]["last_10_minutes"]
        return {"successful": 0, "failed": 0}

    before = echo_entry()
    sizes = []
    for n in (5, 50, 500):
        body = b"y" * n
        r = fed.call("BTC", "POST", F.ECHO, "/size", data=body,
                     headers={"Content-Type": "application/octet-stream"})
        assert r.status_code == 200, r.text
        sizes.append(n)
    deadline = time.monotonic() + 5
    while True:
        after = echo_entry()
        if after["successful"] >= before["successful"] + 3 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert after["successful"] == before["successful"] + 3, (before, after)
    assert after["failed"] == before["failed"]
    assert after["request_size"]["max"] >= 500
    assert after["last_success"] is not None
    assert after["duration_ms"]["min"] is not None


def test_retention_prunes_old_records(fed):
    btc = fed.gateways["BTC"]
    r = fed.call("BTC", "GET", F.CITIZENS, "/citizens/1")
    assert r.status_code == 200
    assert read(fed, "BTC", "BTC", F.TAX).json()["records"]
    btc.stop()
    btc.retention_s = 1
    btc.write_config()
    time.sleep(1.5)
    btc.start()
    try:
        assert read(fed, "BTC", "BTC", F.TAX).json()["records"] == []
        r = fed.call("BTC", "GET", F.CITIZENS, "/citizens/2")
        assert r.status_code == 200
        found, text = records_of(fed, "BTC", "BTC", F.TAX, {r.request.headers["X-Road-Id"]}, 1)
        assert len(found) == 1, text
        # seq keeps counting after the pruned ones
        assert found[0]["seq"] > 1
    finally:
        btc.stop()
        btc.retention_s = None
        btc.write_config()
        btc.start()
