"""Recording an agreement the connectors negotiated (docs/marketplace.md "Recording an
agreement the connectors negotiated") end to end: a real registry and real gateways
(federation.py). BHXH (the consumer) and BCA (the provider) negotiate without the
registry, each message signed by `ndx market sign-message` with the sender's own gateway
key as their connectors would, with pids they choose; BCA hands the FINALIZED chain to
POST /dsp/agreements (`ndx market record-agreement`). The registry records it once (the
same chain again: 200; another under the same providerPid: 409), its grant carries
BHXH's calls through the gateways, termination takes it away; a chain with a message
altered or dropped, one that stops before FINALIZED, an agreement on terms nobody
offered, a message signed by another member's gateway and a consumer whose class the
offer excludes are each refused with the signed relay path's code."""

import json
import uuid

import pytest
import requests

import federation as F
import refusals
from test_market_signed import b64d, b64e, digest, ndx, sign
from test_marketplace import (DSP_CONTEXT, get, neg_error, offer_of, post, setup_market,
                              wait_gateways)


@pytest.fixture(scope="module")
def fed(build_dir):
    with F.running_federation(build_dir, "ndx-market-record-", setup=setup_market) as f:
        yield f


def negotiate(fed, offer_id=None, proposed=5, offered=2, agreed=2, upto=6, signer=None,
              counter=True, ppid=None):
    """A negotiation held between the two members' connectors, never the registry: the
    chain of its signed messages (the first upto of them), its pids and agreement.
    counter=False: the consumer asks for the catalogue's offer as it stands and the
    provider agrees without an offer of its own. signer: {member: gateway} signs the
    member's messages with another gateway's key."""
    oid = offer_id or fed.offer_ids[0]
    cpid, ppid = f"urn:uuid:{uuid.uuid4()}", ppid or f"urn:uuid:{uuid.uuid4()}"
    neg = {"providerPid": ppid, "consumerPid": cpid}

    def m(typ, **kw):
        return {"@context": [DSP_CONTEXT], "@type": typ, **neg, **kw}

    init = {"@context": [DSP_CONTEXT], "@type": "ContractRequestMessage", "consumerPid": cpid,
            "offer": offer_of(fed, oid, proposed) if counter else {"@id": oid},
            "callbackAddress": "https://bhxh.example/dsp", "ndx:client": F.INSURANCE}
    agreement = {**offer_of(fed, f"urn:uuid:{uuid.uuid4()}", agreed), "@type": "Agreement",
                 "timestamp": F.rfc3339(), "assigner": F.BCA, "assignee": F.BHXH}
    steps = [("BHXH", F.BHXH, "/dsp/negotiations/request", init)]
    if counter:
        steps += [("BCA", F.BCA, f"/dsp/consumer/negotiations/{cpid}/offers",
                   m("ContractOfferMessage",
                     offer=offer_of(fed, f"urn:uuid:{uuid.uuid4()}", offered))),
                  ("BHXH", F.BHXH, f"/dsp/negotiations/{ppid}/events",
                   m("ContractNegotiationEventMessage", eventType="ACCEPTED"))]
    steps += [("BCA", F.BCA, f"/dsp/consumer/negotiations/{cpid}/agreement",
               m("ContractAgreementMessage", agreement=agreement)),
              ("BHXH", F.BHXH, f"/dsp/negotiations/{ppid}/agreement/verification",
               m("ContractAgreementVerificationMessage")),
              ("BCA", F.BCA, f"/dsp/consumer/negotiations/{cpid}/events",
               m("ContractNegotiationEventMessage", eventType="FINALIZED"))]
    chain = []
    for gw, sender, path, body in steps[:upto]:
        gw = (signer or {}).get(sender, gw)
        chain.append(sign(fed, gw, sender, path, body,
                          previous=digest(chain[-1]) if chain else None))
    return chain, ppid, cpid, agreement


def record_on(url, chain, headers=None):
    """POST /dsp/agreements to the registry at url."""
    return requests.post(url + "/dsp/agreements", json={"ndx:messages": chain},
                         headers=headers or {}, timeout=10)


def record(fed, chain, who=None):
    """POST /dsp/agreements, with who's credential (ignored) or none."""
    return record_on(fed.registry.url, chain,
                     {"Authorization": "Bearer " + fed.tokens[who]} if who else None)


def record_cli(fed, chain, *extra):
    path = fed.workdir / f"record-{uuid.uuid4().hex}.json"
    path.write_text(json.dumps(chain))
    return ndx(fed, "market", "record-agreement", path, "--registry", fed.registry.url, *extra)


def test_recorded_chain_is_granted_once_then_terminated(fed):
    refusals.check_response(fed.call("BHXH", "GET", F.ECHO, "/x", client=F.INSURANCE),
                            "NoGrant")
    chain, ppid, cpid, agreement = negotiate(fed)
    # The provider's connector hands it in: checked first against the configuration.
    gw = fed.gateways["BCA"]
    res = record_cli(fed, chain, "--conf", gw.dir / "data" / "conf", "--anchor",
                     fed.registry.anchor)
    assert res.returncode == 0, res.stderr
    assert agreement["@id"] in res.stdout and "configuration version" in res.stdout
    version = int(res.stdout.strip().rsplit(" ", 1)[1])
    # The grant is in the next signed configuration, as a relayed negotiation's.
    grants = [g for g in fed.conf()["grants"] if g.get("agreement") == agreement["@id"]]
    assert len(grants) == 1 and grants[0]["client"] == F.INSURANCE, grants
    assert grants[0]["service"] == F.ECHO and grants[0]["not_after"]
    assert grants[0]["policy"]["permission"][0]["constraint"][-1]["rightOperand"] == 2
    wait_gateways(fed, version)
    r = fed.call("BHXH", "GET", F.ECHO, "/x", client=F.INSURANCE)
    assert r.status_code == 200, f"{r.status_code} {r.text}\n{fed.tails()}"

    # The same chain again (a member's credential, if sent, changes nothing): 200, as
    # recorded, no new version.
    r = record(fed, chain, who="btc")
    assert r.status_code == 200, r.text
    assert r.json()["ndx:agreementId"] == agreement["@id"] and r.json()["state"] == "FINALIZED"
    assert "ndx:confVersion" not in r.json()
    res = record_cli(fed, chain)
    assert res.returncode == 0 and "recorded already" in res.stdout, res.stderr
    # Another negotiation of the parties under the same providerPid: 409.
    other, _, _, _ = negotiate(fed, ppid=ppid)
    neg_error(record(fed, other), 409, "Client.Conflict")

    # Either party reads the chain the registry holds; a stranger does not.
    r = get(fed, f"/dsp/negotiations/{ppid}/messages", "bhxh")
    assert r.status_code == 200 and r.json()["messages"] == chain, r.text
    assert r.json()["consumerPid"] == cpid
    neg_error(get(fed, f"/dsp/negotiations/{ppid}/messages", "btc"), 404, "Client.NotFound")
    assert get(fed, f"/dsp/negotiations/{ppid}", "bca").json()["state"] == "FINALIZED"

    # Ended like any other agreement: the grant leaves the configuration.
    r = post(fed, f"/market/agreements/{agreement['@id']}/termination", "bca", {})
    assert r.status_code == 200, r.text
    assert not any(g.get("agreement") == agreement["@id"] for g in fed.conf()["grants"])
    wait_gateways(fed, r.json()["conf_version"])
    refusals.check_response(fed.call("BHXH", "GET", F.ECHO, "/x", client=F.INSURANCE),
                            "NoGrant")
    audit = get(fed, "/api/audit?limit=1000", "admin").json()["audit"]
    rec = [a for a in audit if a["action"] == "agreement.record" and a["object"] == ppid]
    assert len(rec) == 1 and rec[0]["detail"]["message"] == digest(chain[-1]), rec


def test_refused_chains_leave_nothing(fed):
    before = fed.registry.conf_version()
    chain, ppid, _, _ = negotiate(fed)
    # A message altered after signing (the agreement's maximum raised) …
    h, p, s = chain[3].split(".")
    body = json.loads(b64d(p))
    body["agreement"]["permission"][0]["constraint"][-1]["rightOperand"] = 1000
    altered = chain[:3] + [".".join((h, b64e(json.dumps(body).encode()), s))] + chain[4:]
    doc = neg_error(record(fed, altered), 403, "Client.BadSignature")
    assert "message 4" in doc["reason"][0]
    # … one dropped (the consumer's acceptance) …
    doc = neg_error(record(fed, chain[:2] + chain[3:]), 409, "Client.StaleMessage")
    assert "message 3 does not follow message 2" in doc["reason"][0]
    # … a chain that stops at VERIFIED …
    doc = neg_error(record(fed, chain[:5]), 400, "Client.InvalidTransition")
    assert "VERIFIED" in doc["reason"][0]
    # … and the CLI says the registry's reason and exits 1.
    res = record_cli(fed, chain[:5])
    assert res.returncode == 1 and "Client.InvalidTransition" in res.stderr, res.stderr
    assert get(fed, f"/dsp/negotiations/{ppid}", "bhxh").status_code == 404

    # An agreement on terms nobody offered: not the counter-offer's …
    bad, _, _, _ = negotiate(fed, offered=2, agreed=1000)
    doc = neg_error(record(fed, bad), 400, "Client.InvalidRequest")
    assert "latest offer" in doc["reason"][0]
    # … nor, with no offer but the catalogue's, the catalogue's.
    bad, _, _, _ = negotiate(fed, counter=False, agreed=1000)
    doc = neg_error(record(fed, bad), 400, "Client.InvalidRequest")
    assert "nobody offered" in doc["reason"][0]
    # (the catalogue's own terms, not countered, are recorded)
    good, _, _, ag = negotiate(fed, counter=False, agreed=5)
    r = record(fed, good)
    assert r.status_code == 201 and r.json()["ndx:agreementId"] == ag["@id"], r.text
    assert post(fed, f"/market/agreements/{ag['@id']}/termination", "bhxh",
                {}).status_code == 200

    # A message signed by another member's gateway (BTC's key in BCA's name).
    forged, _, _, _ = negotiate(fed, signer={F.BCA: "BTC"})
    doc = neg_error(record(fed, forged), 403, "Client.UnknownSigner")
    assert "message 2" in doc["reason"][0]
    # A consumer whose class the offer excludes (the enterprises' offer, BHXH a state body).
    excl, _, _, _ = negotiate(fed, offer_id=fed.offer_ids[1], counter=False)
    neg_error(record(fed, excl), 403, "Client.Forbidden")
    # An offer the catalogue does not have.
    unknown, _, _, _ = negotiate(fed, offer_id=f"urn:uuid:{uuid.uuid4()}", counter=False)
    neg_error(record(fed, unknown), 404, "Client.NotFound")
    # Bodies that are no chain.
    for body in ({}, {"ndx:messages": []}, {"ndx:messages": [1]},
                 {"ndx:messages": chain, "extra": 1}):
        r = requests.post(fed.registry.url + "/dsp/agreements", json=body, timeout=10)
        neg_error(r, 400, "Client.InvalidRequest")
    r = requests.post(fed.registry.url + "/dsp/agreements", data=b"x" * (2 << 20),
                      headers={"Content-Type": "application/json"}, timeout=10)
    assert r.status_code == 413, r.text
    assert requests.get(fed.registry.url + "/dsp/agreements", timeout=10).status_code == 405
    # None of them changed the configuration but the one recorded and ended (two versions).
    assert fed.registry.conf_version() == before + 2
