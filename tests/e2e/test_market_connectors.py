"""Members' own connectors (docs/marketplace.md "Members' own connectors") end to end: a
real registry and real gateways (federation.py). BHXH's gateway (the consumer) and BCA's
(the provider) negotiate peer to peer, each message a JWS signed by the sender's gateway
key and carried gateway to gateway over the exchange (POST /n1{DSP path} on the gateway
port), logged in both gateways' message logs. The registry sees nothing until the
provider's connector sends it the FINALIZED chain. Refused at a connector: a message
whose signature does not verify, one signed by a key of no gateway of its sender, one out
of turn, one that does not follow the last. A provider gateway killed (SIGKILL) while a
negotiation waits goes on with it after its restart."""

import base64
import hashlib
import http.client
import json
import sqlite3
import subprocess
import time
import uuid

import pytest
import requests

import federation as F
import pgschema as P
from pgschema import PG
import refusals
from test_market_signed import digest, ndx, sign
from test_marketplace import DSP_CONTEXT, get, post, setup_market, wait_gateways

PREFIX = "/ndx/connector/negotiations"


@pytest.fixture(scope="module")
def fed(build_dir):
    with F.running_federation(build_dir, "ndx-market-conn-", setup=setup_market) as f:
        yield f


def local(fed, gw, method, path="", body=None, client=None):
    client = client or {"BHXH": F.INSURANCE, "BCA": F.POPULATION, "BTC": F.TAX}[gw]
    return requests.request(method, fed.gateways[gw].url + PREFIX + path, json=body,
                            headers={"X-Road-Client": client}, timeout=15)


def wait_for(fed, gw, nid, pred, timeout=20.0):
    deadline = time.monotonic() + timeout
    while True:
        r = local(fed, gw, "GET", f"/{nid}")
        assert r.status_code == 200, r.text
        neg = r.json()
        if pred(neg):
            return neg
        if time.monotonic() > deadline:
            raise AssertionError(f"{gw}'s negotiation {nid} stays {neg}\n"
                                 f"{fed.gateways[gw].tail()}")
        time.sleep(0.1)


def by_pid(fed, gw, key, pid):
    r = local(fed, gw, "GET")
    assert r.status_code == 200, r.text
    found = [n for n in r.json()["negotiations"] if n[key] == pid]
    assert len(found) == 1, r.text
    return found[0]


def log_rows(fed, gw, path):
    db = fed.gateways[gw].dir / "data" / "msglog.db"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
        return c.execute("SELECT direction, client, service, method, path, status FROM records"
                         " WHERE service LIKE '%/ndx.connector/dsp' AND path = ?",
                         (path,)).fetchall()


def gateway_name(fed, gw):
    g = fed.gateways[gw]
    return f"{g.member}/{g.code}"


def opmon_rows(fed, gw, role, pred=lambda rows: True, timeout=10.0):
    """gw's operational monitoring records of role, read as its member reads them
    (docs/protocol.md "Operational monitoring"), once pred holds of them: the
    records reach the store within the writer's batch time."""
    client = {"BHXH": F.INSURANCE, "BCA": F.POPULATION, "BTC": F.TAX}[gw]
    g = fed.gateways[gw]
    deadline = time.monotonic() + timeout
    while True:
        r = requests.get(f"{g.url}/o1/{g.member}/{g.code}/records",
                         headers={"X-Road-Client": client}, params={"limit": 10000},
                         timeout=20)
        assert r.status_code == 200, r.text
        rows = [x for x in r.json()["records"] if x["role"] == role]
        if pred(rows) or time.monotonic() > deadline:
            return rows
        time.sleep(0.1)


def deliver(fed, as_gw, to_gw, path, jws, receipt=None, cert=True, sig_by=None, xid=None):
    """POST /n1{path} to to_gw's gateway port as gateway as_gw would: its TLS
    certificate, an X-Road-Id (xid, else a fresh UUID) and its Ndx-Signature over the
    body. receipt: a list that receives (Ndx-Response-Signature, the answer's bytes)."""
    ident = fed.gateways[as_gw].ident
    body = jws.encode()
    signer = fed.gateways[sig_by or as_gw].ident
    sig = F.compact(F.sign_object(signer.private_key(), hashlib.sha256(body).digest()))
    ctx = (F.tls_context(ident.ca_pem, ident.tls_cert, ident.tls_key) if cert
           else F.tls_context(ident.ca_pem))
    conn = http.client.HTTPSConnection("127.0.0.1", fed.gateways[to_gw].gateway_port,
                                       context=ctx, timeout=15)
    try:
        conn.request("POST", "/n1" + path, body=body,
                     headers={"Content-Type": "application/jose",
                              "X-Road-Id": xid or str(uuid.uuid4()), "Ndx-Signature": sig})
        resp = conn.getresponse()
        raw = resp.read()
        if receipt is not None:
            receipt.append((resp.getheader("Ndx-Response-Signature"), raw))
        return resp.status, json.loads(raw or b"null")
    finally:
        conn.close()


def start(fed, terms=None, offer=None):
    body = {"dataset": fed.dataset["@id"], "offer": offer or fed.offer_ids[0]}
    if terms is not None:
        body["terms"] = terms
    r = local(fed, "BHXH", "POST", "", body)
    assert r.status_code == 201, r.text
    neg = r.json()
    assert neg["role"] == "consumer" and neg["state"] == "REQUESTED"
    assert neg["counterparty"] == F.BCA and neg["client"] == F.INSURANCE
    return neg


def terms_with_count(fed, count):
    return {"permission": [{"action": "use", "constraint": [
        c if c["leftOperand"] != "count" else {**c, "rightOperand": count}
        for c in fed.open_offer["permission"][0]["constraint"]]}],
        "prohibition": fed.open_offer["prohibition"],
        "obligation": fed.open_offer["obligation"]}


def check_output(fed, gw):
    res = subprocess.run([str(F.gateway_exe(fed.build_dir)), "--config",
                          str(fed.gateways[gw].config_path), "--check"],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout


def test_local_endpoints_refuse_what_they_cannot_do(fed):
    # The store's default: data_dir/connector.db (docs/gateway.md connector.store).
    gw = fed.gateways["BHXH"]
    assert (f"connector store     {gw.dir / 'data' / 'connector.db'} (exists)"
            in check_output(fed, "BHXH"))
    # No X-Road-Client, or a subsystem of another gateway.
    r = requests.get(fed.gateways["BHXH"].url + PREFIX, timeout=5)
    assert r.status_code == 400, r.text
    assert r.headers["X-Road-Error"] == "Client.InvalidClientIdentifier"
    # As the gateway refuses any call of a client it does not serve (errors.h).
    r = local(fed, "BHXH", "GET", client=F.TAX)
    assert r.status_code == 500, r.text
    assert r.headers["X-Road-Error"] == "Server.ClientProxy.UnknownMember"
    # A dataset the catalogue does not have, an offer it does not have, no body.
    r = local(fed, "BHXH", "POST", "", {"dataset": "urn:uuid:" + str(uuid.uuid4()),
                                        "offer": fed.offer_ids[0]})
    assert r.status_code == 404 and r.json()["@type"] == "ContractNegotiationError", r.text
    r = local(fed, "BHXH", "POST", "", {"dataset": fed.dataset["@id"], "offer": "urn:x"})
    assert r.status_code == 404, r.text
    r = local(fed, "BHXH", "POST", "", {})
    assert r.status_code == 400 and r.json()["code"] == "Client.InvalidRequest", r.text
    assert local(fed, "BHXH", "GET", "/999999").status_code == 404
    # The same through `ndx market connector`.
    gw = ("--gateway", fed.gateways["BHXH"].url)
    res = ndx(fed, "market", "connector", "list", *gw, "--client", F.INSURANCE)
    assert res.returncode == 0 and "negotiations" in json.loads(res.stdout), res.stderr
    res = ndx(fed, "market", "connector", "show", "999999", *gw, "--client", F.INSURANCE)
    assert res.returncode == 1 and "404 Client.NotFound" in res.stderr, res.stderr
    res = ndx(fed, "market", "connector", "list", *gw)
    assert res.returncode == 2 and "--client" in res.stderr, res.stderr
    res = ndx(fed, "market", "connector", "start", *gw, "--client", F.INSURANCE)
    assert res.returncode == 2 and "--dataset" in res.stderr, res.stderr


def test_catalogue_offer_agreed_and_finalized_by_the_connectors(fed):
    refusals.check_response(fed.call("BHXH", "GET", F.ECHO, "/x", client=F.INSURANCE),
                            "NoGrant")
    neg = start(fed)
    cpid = neg["consumerPid"]
    done = wait_for(fed, "BHXH", neg["id"], lambda n: n["state"] == "FINALIZED")
    ppid = done["providerPid"]
    assert ppid and done["agreement"]["assigner"] == F.BCA
    assert done["agreement"]["assignee"] == F.BHXH
    assert done["agreement"]["permission"] == fed.open_offer["permission"]
    prov = by_pid(fed, "BCA", "providerPid", ppid)
    assert prov["role"] == "provider" and prov["consumerPid"] == cpid
    assert prov["state"] == "FINALIZED" and prov["counterparty"] == F.BHXH
    # Both hold the same chain of four signed messages, which checks against the signed
    # configuration as one negotiation.
    chains = [local(fed, gw, "GET", f"/{n['id']}/messages").json()["messages"]
              for gw, n in (("BHXH", done), ("BCA", prov))]
    assert chains[0] == chains[1] and len(chains[0]) == 4
    path = fed.workdir / f"chain-{uuid.uuid4().hex}.json"
    path.write_text(json.dumps(chains[0]))
    gw = fed.gateways["BHXH"]
    res = ndx(fed, "market", "check-negotiation", path, "--conf", gw.dir / "data" / "conf",
              "--anchor", fed.registry.anchor)
    assert res.returncode == 0, res.stdout + res.stderr
    assert json.loads(res.stdout)["state"] == "FINALIZED"
    # The provider's connector handed the chain to the registry, which recorded it as it
    # is: the agreement's grant is in the next configuration, and BHXH's first call
    # goes through both gateways.
    prov = wait_for(fed, "BCA", prov["id"], lambda n: n["registry"] != "pending")
    assert prov["registry"] == "recorded", prov
    assert prov["agreementId"] == done["agreement"]["@id"] and prov["confVersion"] > 0
    r = get(fed, f"/dsp/negotiations/{ppid}", "bhxh")
    assert r.status_code == 200 and r.json()["state"] == "FINALIZED", r.text
    r = get(fed, f"/dsp/negotiations/{ppid}/messages", "bca")
    assert r.status_code == 200 and r.json()["messages"] == chains[0], r.text
    wait_gateways(fed, prov["confVersion"])
    r = fed.call("BHXH", "GET", F.ECHO, "/x", client=F.INSURANCE)
    assert r.status_code == 200, f"{r.status_code} {r.text}\n{fed.tails()}"
    # Each message travelled once as an exchange, logged by both gateways: the
    # sender's record as the client, the receiver's as the service's provider.
    member = {"BHXH": F.BHXH, "BCA": F.BCA}
    for p, sender, receiver in (("/dsp/negotiations/request", "BHXH", "BCA"),
                                (f"/dsp/consumer/negotiations/{cpid}/agreement", "BCA", "BHXH"),
                                (f"/dsp/negotiations/{ppid}/agreement/verification",
                                 "BHXH", "BCA"),
                                (f"/dsp/consumer/negotiations/{cpid}/events", "BCA", "BHXH")):
        out = [r for r in log_rows(fed, sender, p) if r[0] == "consumer"]
        inn = [r for r in log_rows(fed, receiver, p) if r[0] == "provider"]
        assert out and inn, (p, out, inn)
        for rows in (out, inn):
            assert rows[-1][1] == member[sender] and rows[-1][3] == "POST"
            assert rows[-1][2] == member[receiver] + "/ndx.connector/dsp"
            assert rows[-1][5] == (201 if p.endswith("/request") else 200)
    # And once in each gateway's operational monitoring records: an attempt to
    # deliver (dsp_out) at the sender, the message received (dsp_in) at the
    # receiver, under one message id, the pids in the path replaced.
    for template, sender, receiver in (
            ("/dsp/negotiations/request", "BHXH", "BCA"),
            ("/dsp/consumer/negotiations/{}/agreement", "BCA", "BHXH"),
            ("/dsp/negotiations/{}/agreement/verification", "BHXH", "BCA"),
            ("/dsp/consumer/negotiations/{}/events", "BCA", "BHXH")):
        out = [r for r in opmon_rows(fed, sender, "dsp_out",
                                     lambda rows: any(r["path_template"] == template
                                                      for r in rows))
               if r["path_template"] == template]
        assert out, (template, sender)
        mine = out[-1]
        inn = [r for r in opmon_rows(fed, receiver, "dsp_in",
                                     lambda rows: any(r["message_id"] == mine["message_id"]
                                                      for r in rows))
               if r["message_id"] == mine["message_id"]]
        assert len(inn) == 1, (template, inn)
        for r in (mine, inn[0]):
            assert r["success"] is True and r["error_type"] is None, r
            assert r["client"] == member[sender], r
            assert r["service"] == member[receiver] + "/ndx.connector/dsp", r
            assert r["method"] == "POST" and r["path_template"] == template, r
            assert r["status"] == (201 if template.endswith("/request") else 200), r
            assert r["client_gateway"] == gateway_name(fed, sender), r
            assert r["service_gateway"] == gateway_name(fed, receiver), r
            assert not r["personal"], r
            assert cpid not in json.dumps(r) and ppid not in json.dumps(r), r
        assert mine["peer_ms"] is not None and mine["response_in"] is not None, mine
        assert inn[0]["request_out"] is None and inn[0]["response_out"] is not None


def test_registry_sees_nothing_until_the_chain(fed):
    """A proposal (other terms than the catalogue's) waits for BCA's officer: meanwhile
    the registry has no negotiation of that providerPid; BCA counters, BHXH accepts,
    then everything else goes by itself."""
    neg = start(fed, terms=terms_with_count(fed, 9))
    mine = wait_for(fed, "BHXH", neg["id"], lambda n: n["providerPid"])
    prov = by_pid(fed, "BCA", "providerPid", mine["providerPid"])
    assert prov["state"] == "REQUESTED" and prov["waiting"] == "approve"
    r = get(fed, f"/dsp/negotiations/{mine['providerPid']}", "bhxh")
    assert r.status_code == 404, r.text
    # A consumer cannot agree, nor a provider accept.
    assert local(fed, "BHXH", "POST", f"/{neg['id']}/agree", {}).status_code == 404
    r = local(fed, "BCA", "POST", f"/{prov['id']}/accept", {})
    assert r.status_code == 404, r.text
    # BCA's officer counters with 3 a day, with `ndx market connector` on its gateway.
    counter = {"@id": f"urn:uuid:{uuid.uuid4()}", "@type": "Offer",
               **terms_with_count(fed, 3)}
    terms_file = fed.workdir / f"counter-{uuid.uuid4().hex}.json"
    terms_file.write_text(json.dumps(counter))
    bca = ("--gateway", fed.gateways["BCA"].url, "--client", F.POPULATION)
    # The consumer's step is not the provider's: refused, exit 1 with the code.
    res = ndx(fed, "market", "connector", "accept", prov["id"], *bca)
    assert res.returncode == 1 and "Client.NotFound" in res.stderr, res.stderr
    res = ndx(fed, "market", "connector", "offer", prov["id"], *bca)
    assert res.returncode == 2 and "--terms" in res.stderr, res.stderr
    res = ndx(fed, "market", "connector", "offer", prov["id"], "--terms", terms_file, *bca)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["state"] == "OFFERED"
    offered = wait_for(fed, "BHXH", neg["id"], lambda n: n["state"] == "OFFERED")
    assert offered["waiting"] == "accept"
    assert offered["offer"]["permission"] == counter["permission"]
    res = ndx(fed, "market", "connector", "accept", neg["id"], "--gateway",
              fed.gateways["BHXH"].url, "--client", F.INSURANCE)
    assert res.returncode == 0 and json.loads(res.stdout)["state"] == "ACCEPTED", res.stderr
    done = wait_for(fed, "BHXH", neg["id"], lambda n: n["state"] == "FINALIZED")
    assert done["agreement"]["permission"] == counter["permission"]
    rec = wait_for(fed, "BCA", prov["id"], lambda n: n["registry"] != "pending")
    assert rec["registry"] == "recorded", rec
    r = get(fed, f"/dsp/negotiations/{mine['providerPid']}", "bhxh")
    assert r.status_code == 200 and r.json()["state"] == "FINALIZED", r.text
    # Out of turn at the local endpoint: nothing moves a FINALIZED negotiation.
    r = local(fed, "BHXH", "POST", f"/{neg['id']}/terminate", {})
    assert r.status_code == 400 and r.json()["code"] == "Client.InvalidTransition", r.text


def test_messages_refused_at_the_connector(fed):
    """Messages delivered to BHXH's connector by BCA's gateway (its TLS certificate and
    exchange signature) for a negotiation waiting at BCA: each refused with the code of
    the registry's signed path, and the negotiation as it was."""
    neg = start(fed, terms=terms_with_count(fed, 8))
    mine = wait_for(fed, "BHXH", neg["id"], lambda n: n["providerPid"])
    cpid, ppid = mine["consumerPid"], mine["providerPid"]
    chain = local(fed, "BHXH", "GET", f"/{neg['id']}/messages").json()["messages"]
    last = digest(chain[-1])
    path = f"/dsp/consumer/negotiations/{cpid}/offers"
    counter = {"@context": [DSP_CONTEXT], "@type": "ContractOfferMessage",
               "providerPid": ppid, "consumerPid": cpid,
               "offer": {"@id": f"urn:uuid:{uuid.uuid4()}", "@type": "Offer",
                         "target": fed.dataset["@id"], **terms_with_count(fed, 2)}}
    genuine = sign(fed, "BCA", F.BCA, path, counter, previous=last)
    # The delivery itself: no gateway certificate, or an exchange signature by another
    # gateway than the calling one.
    unauthenticated_id = str(uuid.uuid4()).upper()  # RFC 9562 section 4: either case
    status, doc = deliver(fed, "BCA", "BHXH", path, genuine, cert=False,
                          xid=unauthenticated_id)
    assert (status, doc["code"]) == (401, "Client.Unauthenticated"), doc
    status, doc = deliver(fed, "BCA", "BHXH", path, genuine, sig_by="BTC")
    assert (status, doc["code"]) == (403, "Client.BadSignature"), doc
    # An X-Road-Id that is no UUID (here carrying the consumer's pid, which no record
    # may keep): not taken, as an unsigned delivery.
    status, doc = deliver(fed, "BCA", "BHXH", path, genuine, xid=f"id-{cpid}")
    assert (status, doc["code"]) == (403, "Client.BadSignature"), doc
    # Signed with BTC's gateway key in BCA's name.
    status, doc = deliver(fed, "BCA", "BHXH", path,
                          sign(fed, "BTC", F.BCA, path, counter, previous=last))
    assert (status, doc["code"]) == (403, "Client.UnknownSigner"), doc
    # Signed by BCA, then altered.
    h, p, s = sign(fed, "BCA", F.BCA, path, counter, previous=last).split(".")
    payload = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
    payload["offer"]["permission"][0]["constraint"][-1]["rightOperand"] = 1000
    forged = ".".join((h, base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()
                       .rstrip("="), s))
    status, doc = deliver(fed, "BCA", "BHXH", path, forged)
    assert (status, doc["code"]) == (403, "Client.BadSignature"), doc
    # In BHXH's name, delivered by BCA's gateway.
    status, doc = deliver(fed, "BCA", "BHXH", path,
                          sign(fed, "BHXH", F.BHXH, path, counter, previous=last))
    assert (status, doc["code"]) == (403, "Client.WrongSender"), doc
    # Out of turn: a FINALIZED while REQUESTED.
    fin_path = f"/dsp/consumer/negotiations/{cpid}/events"
    fin = {"@context": [DSP_CONTEXT], "@type": "ContractNegotiationEventMessage",
           "providerPid": ppid, "consumerPid": cpid, "eventType": "FINALIZED"}
    status, doc = deliver(fed, "BCA", "BHXH", fin_path,
                          sign(fed, "BCA", F.BCA, fin_path, fin, previous=last))
    assert (status, doc["code"]) == (400, "Client.InvalidTransition"), doc
    # Not after the last message.
    status, doc = deliver(fed, "BCA", "BHXH", path,
                          sign(fed, "BCA", F.BCA, path, counter, previous=digest("x")))
    assert (status, doc["code"]) == (409, "Client.StaleMessage"), doc
    # Signed for another endpoint than the one it is delivered to; its X-Road-Id of a
    # UUID's length and characters but not its layout (RFC 9562 section 4: 8-4-4-4-12).
    status, doc = deliver(fed, "BCA", "BHXH", path,
                          sign(fed, "BCA", F.BCA, fin_path, counter, previous=last),
                          xid="-" * 4 + "0" * 32)
    assert (status, doc["code"]) == (400, "Client.WrongPath"), doc
    after = local(fed, "BHXH", "GET", f"/{neg['id']}").json()
    assert after["state"] == "REQUESTED" and after["messages"] == 1
    # Each refusal is an operational monitoring record of BHXH's gateway (dsp_in),
    # failed, with its code; without a gateway certificate the sender is not known.
    codes = ["Client.Unauthenticated", "Client.BadSignature", "Client.UnknownSigner",
             "Client.WrongSender", "Client.InvalidTransition", "Client.StaleMessage",
             "Client.WrongPath"]
    refused = opmon_rows(fed, "BHXH", "dsp_in",
                         lambda rows: all(any(r["error_type"] == c for r in rows)
                                          for c in codes))
    for c in codes:
        rows = [r for r in refused if r["error_type"] == c]
        assert rows and all(r["success"] is False and r["status"] >= 400 for r in rows), c
        assert all(r["client"] == (None if c == "Client.Unauthenticated" else F.BCA)
                   for r in rows), (c, rows)
        assert all(r["service"] == F.BHXH + "/ndx.connector/dsp" for r in rows), (c, rows)
    # The sender's X-Road-Id is kept when it has a UUID's shape, and left out when not.
    assert any(r.get("message_id") == unauthenticated_id for r in refused), refused
    bad = [r for r in refused if r["error_type"] == "Client.BadSignature"]
    assert len(bad) == 3 and sum(r.get("message_id") is None for r in bad) == 1, bad
    wrong_path = [r for r in refused if r["error_type"] == "Client.WrongPath"]
    assert wrong_path and all(r.get("message_id") is None for r in wrong_path), wrong_path
    assert cpid not in json.dumps(opmon_rows(fed, "BHXH", "dsp_in")), "a pid in a record"
    # The genuine one is taken, with BHXH's gateway's receipt of that very message.
    got = []
    jws = sign(fed, "BCA", F.BCA, path, counter, previous=last)
    status, doc = deliver(fed, "BCA", "BHXH", path, jws, receipt=got)
    assert status == 200 and doc["state"] == "OFFERED", doc
    bhxh = fed.gateways["BHXH"].ident
    raw_pub = bhxh.private_key().public_key().public_bytes(
        F.serialization.Encoding.Raw, F.serialization.PublicFormat.Raw)
    F.verify_signature_object(got[0][0], raw_pub, bhxh.key_id(),
                              hashlib.sha256(hashlib.sha256(jws.encode()).digest()
                                             + got[0][1]).digest())
    assert local(fed, "BHXH", "GET", f"/{neg['id']}").json()["state"] == "OFFERED"


def test_provider_killed_mid_negotiation_goes_on_after_restart(fed):
    neg = start(fed, terms=terms_with_count(fed, 7))
    mine = wait_for(fed, "BHXH", neg["id"], lambda n: n["providerPid"])
    bca = fed.gateways["BCA"]
    prov = by_pid(fed, "BCA", "providerPid", mine["providerPid"])
    assert prov["state"] == "REQUESTED"
    bca.kill()
    bca.start()
    prov = by_pid(fed, "BCA", "providerPid", mine["providerPid"])
    assert prov["state"] == "REQUESTED" and prov["messages"] == 1
    r = local(fed, "BCA", "POST", f"/{prov['id']}/agree", {})
    assert r.status_code == 200 and r.json()["state"] == "AGREED", r.text
    # Killed again before its agreement may have gone out: the outbox keeps it.
    bca.kill()
    bca.start()
    done = wait_for(fed, "BHXH", neg["id"], lambda n: n["state"] == "FINALIZED", timeout=40)
    assert done["agreement"]["permission"] == terms_with_count(fed, 7)["permission"]
    assert by_pid(fed, "BCA", "providerPid", mine["providerPid"])["state"] == "FINALIZED"


def with_credentials(fed, tokens):
    """Restarts BHXH's and BCA's gateways with connector.credential naming a file that
    holds tokens[gw] (no key when tokens[gw] is None)."""
    for name in ("BHXH", "BCA"):
        gw = fed.gateways[name]
        cfg = json.loads(gw.config_path.read_text())
        cfg.pop("connector", None)
        if tokens.get(name) is not None:
            cred = gw.dir / "registry.credential"
            cred.write_text(tokens[name] + "\n")
            cred.chmod(0o600)
            cfg["connector"] = {"credential": cred.name}
        gw.config_path.write_text(json.dumps(cfg, indent=2, ensure_ascii=False))
        gw.stop()
        gw.start()


def test_offer_for_one_class_with_the_members_credential(fed):
    """An offer for state bodies only is not in the catalogue the registry shows anyone:
    without connector.credential BHXH's connector cannot start on it (404); with a
    credential the registry refuses, the start says so (502) and the credential is
    never printed; with BHXH's and BCA's own credentials the connectors read the offer,
    agree on it by themselves and the registry records the chain (its class check
    passes for BHXH, a state body)."""
    r = post(fed, "/market/datasets", "bca", {
        "service": F.CITIZENS,
        "title": {"vi": "Tra cứu công dân", "en": "Citizen lookup"},
        "description": {"vi": "Chỉ cho cơ quan nhà nước", "en": "For state bodies only"},
        "theme": ["http://publications.europa.eu/resource/authority/data-theme/GOVE"],
        "license": "https://creativecommons.org/licenses/by/4.0/",
        "accrual_periodicity": "CONT",
        "offers": [{"permission": [{"action": "use", "constraint": [
            {"leftOperand": "ndx:consumerClass", "operator": "isAnyOf",
             "rightOperand": ["state"]}]}]}],
    })
    assert r.status_code == 201, r.text
    ds = r.json()
    body = {"dataset": ds["@id"], "offer": ds["hasPolicy"][0]["@id"]}
    assert get(fed, f"/dsp/catalog/datasets/{ds['@id']}", None).json().get("hasPolicy",
                                                                          []) == []
    r = local(fed, "BHXH", "POST", "", body)
    assert r.status_code == 404, r.text
    secret = "not-a-credential-" + uuid.uuid4().hex
    try:
        with_credentials(fed, {"BHXH": secret})
        out = check_output(fed, "BHXH")
        assert "with the member's credential" in out and secret not in out
        r = local(fed, "BHXH", "POST", "", body)
        assert r.status_code == 502 and "connector.credential" in r.text, r.text
        assert secret not in r.text and secret not in fed.gateways["BHXH"].tail(200)
        with_credentials(fed, {"BHXH": fed.tokens["bhxh"], "BCA": fed.tokens["bca"]})
        r = local(fed, "BHXH", "POST", "", body)
        assert r.status_code == 201, r.text
        done = wait_for(fed, "BHXH", r.json()["id"], lambda n: n["state"] == "FINALIZED",
                        timeout=40)
        prov = by_pid(fed, "BCA", "providerPid", done["providerPid"])
        prov = wait_for(fed, "BCA", prov["id"], lambda n: n["registry"] != "pending")
        assert prov["registry"] == "recorded", prov
        r = get(fed, f"/dsp/negotiations/{done['providerPid']}", "bhxh")
        assert r.status_code == 200 and r.json()["state"] == "FINALIZED", r.text
    finally:
        with_credentials(fed, {})
    assert "public offers only" in check_output(fed, "BHXH")


# ---- the connectors' stores on PostgreSQL ---------------------------------------------------

class PgConnectorGateway(P.StoreInSchema, F.Gateway):
    """federation.Gateway with its connector's store in a schema of its own."""

    schema_prefix = "gwconn"

    def store_config(self, cfg):
        cfg["connector"] = {"store": self.db}


@pytest.fixture(scope="module")
def fed_pg(build_dir):
    if not PG:
        pytest.skip("NDX_TEST_PG is not set: the connectors' stores on PostgreSQL are "
                    "tested under tests/with-postgres")
    with F.running_federation(build_dir, "ndx-market-conn-pg-", setup=setup_market,
                              gateway_class=PgConnectorGateway) as f:
        yield f


def test_on_postgresql_through_a_kill(fed_pg):
    fed = fed_pg
    assert not (fed.gateways["BCA"].dir / "data" / "connector.db").exists()
    out = check_output(fed, "BCA")
    assert "connector store" in out and "(PostgreSQL)" in out.split("connector store")[1]
    assert "password" not in out
    neg = start(fed, terms=terms_with_count(fed, 6))
    mine = wait_for(fed, "BHXH", neg["id"], lambda n: n["providerPid"])
    bca = fed.gateways["BCA"]
    bca.kill()
    bca.start()
    prov = by_pid(fed, "BCA", "providerPid", mine["providerPid"])
    assert prov["state"] == "REQUESTED" and prov["waiting"] == "approve"
    r = local(fed, "BCA", "POST", f"/{prov['id']}/agree", {})
    assert r.status_code == 200, r.text
    done = wait_for(fed, "BHXH", neg["id"], lambda n: n["state"] == "FINALIZED", timeout=40)
    assert done["agreement"]["permission"] == terms_with_count(fed, 6)["permission"]
    auto = start(fed)
    assert wait_for(fed, "BHXH", auto["id"], lambda n: n["state"] == "FINALIZED")
