"""The data marketplace (docs/marketplace.md) end to end: a real registry and real
gateways (federation.py). BCA publishes its echo service with two offers; BHXH (a state
body) negotiates an agreement through every state of the Eclipse Dataspace Protocol's
contract negotiation, whose grant then carries BHXH's calls through the gateways up to
the agreed maximum; termination takes the grant away. The protocol cases name the
section of the Dataspace Protocol 2025-1 they come from:

  [CAT-B]  Catalog HTTPS Binding            (specifications/catalog/catalog.binding.https.md)
  [CN-P]   Contract Negotiation Protocol    (specifications/negotiation/contract.negotiation.protocol.md)
  [CN-B]   Contract Negotiation HTTPS Binding (…/contract.negotiation.binding.https.md)
"""

import sqlite3
import subprocess
import time
import uuid

import pytest
import requests

import federation as F
import refusals

DSP_CONTEXT = "https://w3id.org/dspace/2025/1/context.jsonld"
BANK = "VN/COM/BANK1"


def member_token(fed, name, member):
    res = subprocess.run([str(fed.registry.exe), "token", "add", name, "--member", member,
                          "--data", str(fed.registry.data_dir), *fed.registry.store_args()],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr
    return res.stdout.strip()


def setup_market(fed):
    fed.ndx("member", "add", BANK, "--name", "Ngân hàng Một")
    fed.tokens = {n: member_token(fed, n, m) for n, m in
                  (("bca", F.BCA), ("bhxh", F.BHXH), ("btc", F.BTC), ("bank", BANK))}
    # The offer for every class: GET and POST, two calls a day, 30 days, no onward
    # transfer, 500 VND a call. The second only for enterprises.
    fed.open_offer = {
        "@type": "Offer",
        "permission": [{"action": "use", "constraint": [
            {"leftOperand": "ndx:method", "operator": "isAnyOf", "rightOperand": ["GET", "POST"]},
            {"leftOperand": "elapsedTime", "operator": "lteq", "rightOperand": "P30D"},
            {"leftOperand": "count", "operator": "lteq", "rightOperand": 5,
             "unit": "ndx:perDay"}]}],
        "prohibition": [{"action": "distribute"}],
        "obligation": [{"action": "compensate", "constraint": [
            {"leftOperand": "payAmount", "operator": "eq", "rightOperand": 500,
             "unit": "ndx:VNDPerCall"}]}],
    }
    enterprise_offer = {"permission": [{"action": "use", "constraint": [
        {"leftOperand": "ndx:consumerClass", "operator": "isAnyOf",
         "rightOperand": ["enterprise"]}]}]}
    r = post(fed, "/market/datasets", "bca", {
        "service": F.ECHO,
        "title": {"vi": "Dịch vụ phản hồi", "en": "Echo service"},
        "description": {"vi": "Trả lại yêu cầu", "en": "Returns the request"},
        "theme": ["http://publications.europa.eu/resource/authority/data-theme/TECH"],
        "license": "https://creativecommons.org/licenses/by/4.0/",
        "accrual_periodicity": "CONT",
        "sample": {"echo": "xin chào"},
        "offers": [fed.open_offer, enterprise_offer],
    })
    assert r.status_code == 201, r.text
    fed.dataset = r.json()
    fed.offer_ids = [o["@id"] for o in fed.dataset["hasPolicy"]]


@pytest.fixture(scope="module")
def fed(build_dir):
    with F.running_federation(build_dir, "ndx-market-", setup=setup_market) as f:
        yield f


def auth(fed, who):
    return {"Authorization": "Bearer " + (fed.registry.token if who == "admin"
                                          else fed.tokens[who])} if who else {}


def post(fed, path, who, body):
    return requests.post(fed.registry.url + path, json=body, headers=auth(fed, who), timeout=10)


def finalize(fed, neg, agreement):
    """BCA (the provider) agrees on agreement in negotiation neg, BHXH (the consumer)
    verifies, BCA finalizes (Dataspace Protocol, Contract Negotiation); returns the last
    answer, which names the configuration version holding the agreement."""
    cpid = neg["consumerPid"]
    for path, who, body in (
            (f"/dsp/consumer/negotiations/{cpid}/agreement", "bca",
             msg("ContractAgreementMessage", neg, agreement=agreement)),
            (f"/dsp/negotiations/{neg['providerPid']}/agreement/verification", "bhxh",
             msg("ContractAgreementVerificationMessage", neg)),
            (f"/dsp/consumer/negotiations/{cpid}/events", "bca",
             msg("ContractNegotiationEventMessage", neg, eventType="FINALIZED"))):
        r = post(fed, path, who, body)
        assert r.status_code == 200, r.text
    return r


def get(fed, path, who):
    return requests.get(fed.registry.url + path, headers=auth(fed, who), timeout=10)


def catalog(fed, who, filt=None):
    body = {"@context": [DSP_CONTEXT], "@type": "CatalogRequestMessage"}
    if filt is not None:
        body["filter"] = filt
    return post(fed, "/dsp/catalog/request", who, body)


def neg_error(r, status, code):
    """[CN-B] "Contract Negotiation Error": a 4xx with a ContractNegotiationError body."""
    assert r.status_code == status, r.text
    doc = r.json()
    assert doc["@type"] == "ContractNegotiationError", doc
    assert doc["code"] == code and isinstance(doc["reason"], list) and doc["reason"], doc
    assert r.headers["X-Road-Error"] == code
    return doc


def request(fed, who, offer, cpid=None, client=None):
    """[CN-B] "Contract Request Endpoint (init)": POST /negotiations/request."""
    body = {"@context": [DSP_CONTEXT], "@type": "ContractRequestMessage",
            "consumerPid": cpid or f"urn:uuid:{uuid.uuid4()}", "offer": offer,
            "callbackAddress": "https://bhxh.example/dsp"}
    if client:
        body["ndx:client"] = client
    return post(fed, "/dsp/negotiations/request", who, body)


def msg(typ, neg, **kw):
    return {"@context": [DSP_CONTEXT], "@type": typ, "providerPid": neg["providerPid"],
            "consumerPid": neg["consumerPid"], **kw}


def offer_of(fed, offer_id, count):
    """The open offer's terms with another maximum: a proposal or a counter-offer."""
    o = {k: v for k, v in fed.open_offer.items()}
    o["permission"] = [{"action": "use", "constraint": [
        c if c["leftOperand"] != "count" else {**c, "rightOperand": count}
        for c in fed.open_offer["permission"][0]["constraint"]]}]
    o.update({"@id": offer_id, "target": fed.dataset["@id"]})
    return o


def wait_gateways(fed, version):
    for gw in fed.gateways.values():
        fed.wait_conf(gw, version)


# ---- the catalogue ---------------------------------------------------------------------------

def test_catalog_lists_offers_by_consumer_class(fed):
    """[CAT-B] "Catalog Request Endpoint": 200 with a Catalog; an offer for enterprises
    only is not visible to a state body nor to an anonymous caller."""
    seen = {}
    for who in ("bhxh", "bank", None):
        r = catalog(fed, who)
        assert r.status_code == 200, r.text
        cat = r.json()
        assert cat["@type"] == "Catalog" and DSP_CONTEXT in cat["@context"]
        # The registry's public URL (its --url, in the configuration), not the test's port.
        assert cat["service"][0]["endpointURL"] == fed.conf()["registry"]["url"] + "/dsp"
        ds = [d for d in cat["dataset"] if d["ndx:service"] == F.ECHO]
        assert len(ds) == 1, cat
        seen[who] = [o["@id"] for o in ds[0]["hasPolicy"]]
        assert all(o["@type"] == "Offer" and o["permission"][0]["action"] == "use"
                   for o in ds[0]["hasPolicy"])
    assert seen["bank"] == fed.offer_ids
    assert seen["bhxh"] == seen[None] == fed.offer_ids[:1]
    d = fed.dataset
    assert {"@language": "vi", "@value": "Dịch vụ phản hồi"} in d["dct:title"]
    assert d["dct:publisher"]["@id"] == F.BCA and d["adms:sample"] == {"echo": "xin chào"}
    assert d["dct:accrualPeriodicity"]["@id"].endswith("/frequency/CONT")
    # [CAT-B] "Dataset Request Endpoint": the same view of one dataset.
    r = get(fed, "/dsp/catalog/datasets/" + d["@id"], "bhxh")
    assert r.status_code == 200 and [o["@id"] for o in r.json()["hasPolicy"]] == seen["bhxh"]
    r = get(fed, "/dsp/catalog/datasets/urn:uuid:" + str(uuid.uuid4()), "bhxh")
    assert r.status_code == 404 and r.json()["@type"] == "CatalogError"


def test_catalog_search_and_unsupported_filter(fed):
    """[CAT-B]: "If a filter expression is not supported by an implementation, it MUST
    return a HTTP 400 (Bad Request) response"."""
    hit = catalog(fed, "bhxh", [{"ndx:q": "phản hồi"}]).json()["dataset"]
    miss = catalog(fed, "bhxh", [{"ndx:q": "không có"}]).json()["dataset"]
    assert [d["@id"] for d in hit] == [fed.dataset["@id"]] and miss == []
    r = catalog(fed, "bhxh", [{"sparql": "SELECT *"}])
    assert r.status_code == 400 and r.json()["@type"] == "CatalogError", r.text


def test_publishing_is_the_providers_own(fed):
    body = {"service": F.CITIZENS, "title": {"vi": "a", "en": "a"},
            "description": {"vi": "b", "en": "b"}, "license": "x",
            "accrual_periodicity": "DAILY", "offers": [{"permission": [{"action": "use"}]}]}
    assert post(fed, "/market/datasets", "bhxh", body).status_code == 403
    assert post(fed, "/market/datasets", None, body).status_code == 401
    bad = dict(body, offers=[{"permission": [{"action": "use", "constraint": [
        {"leftOperand": "spatial", "operator": "eq", "rightOperand": "EU"}]}]}])
    r = post(fed, "/market/datasets", "bca", bad)
    assert r.status_code == 400 and "leftOperand" in r.json()["detail"], r.text


def test_offer_excluded_by_class_cannot_be_requested(fed):
    """[CN-P] "Contract Request Message": "If the Provider is not aware of the offer.@id
    value, it MUST respond with an error message"; an offer hidden from the caller's
    class is one it cannot know."""
    neg_error(request(fed, "bhxh", {"@id": fed.offer_ids[1]}), 400, "Client.InvalidRequest")
    r = request(fed, "bank", {"@id": fed.offer_ids[1]})
    assert r.status_code == 201 and r.json()["state"] == "REQUESTED", r.text


# ---- a negotiation to an agreement, its grant and its end ------------------------------------

def test_negotiation_through_every_state_then_calls_then_termination(fed):
    # Before any agreement BHXH may not call the echo service.
    refusals.check_response(fed.call("BHXH", "GET", F.ECHO, "/x", client=F.INSURANCE),
                            "NoGrant")
    oid = fed.offer_ids[0]
    # [CN-B] init: 201 with the ContractNegotiation in REQUESTED; the consumer proposes
    # 5 calls a day … (the open offer's own terms with its own @id)
    r = request(fed, "bhxh", offer_of(fed, oid, 5), client=F.INSURANCE)
    assert r.status_code == 201, r.text
    neg = r.json()
    assert neg["@type"] == "ContractNegotiation" and neg["state"] == "REQUESTED"
    assert neg["providerPid"].startswith("urn:uuid:")
    cpid = neg["consumerPid"]
    # … the provider lists its requests (ndx's /market/negotiations) and counters with 2:
    mine = get(fed, "/market/negotiations", "bca").json()["negotiations"]
    assert any(n["provider_pid"] == neg["providerPid"] for n in mine)
    counter = offer_of(fed, f"urn:uuid:{uuid.uuid4()}", 2)
    r = post(fed, f"/dsp/consumer/negotiations/{cpid}/offers", "bca",
             msg("ContractOfferMessage", neg, offer=counter))
    assert r.status_code == 200 and r.json()["state"] == "OFFERED", r.text
    # [CN-B] "Contract Negotiation Event Endpoint": the consumer accepts the counter-offer.
    r = post(fed, f"/dsp/negotiations/{neg['providerPid']}/events", "bhxh",
             msg("ContractNegotiationEventMessage", neg, eventType="ACCEPTED"))
    assert r.status_code == 200 and r.json()["state"] == "ACCEPTED", r.text
    # [CN-P] "Contract Agreement Message": an agreement whose terms are not the accepted
    # offer's is refused; the accepted terms are agreed.
    agreement = {**offer_of(fed, f"urn:uuid:{uuid.uuid4()}", 2), "@type": "Agreement",
                 "timestamp": F.rfc3339(), "assigner": F.BCA, "assignee": F.BHXH}
    wrong = {**agreement, **offer_of(fed, agreement["@id"], 5)}
    neg_error(post(fed, f"/dsp/consumer/negotiations/{cpid}/agreement", "bca",
                   msg("ContractAgreementMessage", neg, agreement=wrong)),
              400, "Client.InvalidRequest")
    r = post(fed, f"/dsp/consumer/negotiations/{cpid}/agreement", "bca",
             msg("ContractAgreementMessage", neg, agreement=agreement))
    assert r.status_code == 200 and r.json()["state"] == "AGREED", r.text
    r = post(fed, f"/dsp/negotiations/{neg['providerPid']}/agreement/verification", "bhxh",
             msg("ContractAgreementVerificationMessage", neg))
    assert r.status_code == 200 and r.json()["state"] == "VERIFIED", r.text
    r = post(fed, f"/dsp/consumer/negotiations/{cpid}/events", "bca",
             msg("ContractNegotiationEventMessage", neg, eventType="FINALIZED"))
    assert r.status_code == 200 and r.json()["state"] == "FINALIZED", r.text
    version = r.json()["ndx:confVersion"]
    # Both sides read the same state ([CN-P] "Both parties have the same state").
    for path, who in ((f"/dsp/negotiations/{neg['providerPid']}", "bhxh"),
                      (f"/dsp/consumer/negotiations/{cpid}", "bca")):
        assert get(fed, path, who).json()["state"] == "FINALIZED"

    # The grant, with its policy, is in the next signed configuration.
    conf = fed.conf()
    assert conf["version"] >= version
    g = [g for g in conf["grants"] if g.get("agreement") == agreement["@id"]]
    assert len(g) == 1 and g[0]["client"] == F.INSURANCE and g[0]["service"] == F.ECHO
    assert g[0]["methods"] == ["GET", "POST"] and g[0]["not_after"]
    assert g[0]["policy"]["permission"][0]["constraint"][-1]["rightOperand"] == 2
    wait_gateways(fed, version)
    # The first call succeeds, and the second; the third is over the agreed maximum.
    for _ in range(2):
        r = fed.call("BHXH", "GET", F.ECHO, "/x", client=F.INSURANCE)
        assert r.status_code == 200, f"{r.status_code} {r.text}\n{fed.tails()}"
    r = fed.call("BHXH", "POST", F.ECHO, "/x", client=F.INSURANCE, data=b"{}")
    doc = refusals.check_response(r, "AgreementLimitExceeded", "provider")
    assert agreement["@id"] in doc["message"]

    # The consumer ends the agreement: the grant leaves the next configuration and the
    # next call is refused.
    r = post(fed, f"/market/agreements/{agreement['@id']}/termination", "btc", {})
    assert r.status_code == 404, r.text
    r = post(fed, f"/market/agreements/{agreement['@id']}/termination", "bhxh", {})
    assert r.status_code == 200, r.text
    assert not any(g.get("agreement") == agreement["@id"] for g in fed.conf()["grants"])
    wait_gateways(fed, r.json()["conf_version"])
    refusals.check_response(fed.call("BHXH", "GET", F.ECHO, "/x", client=F.INSURANCE),
                            "NoGrant")
    assert post(fed, f"/market/agreements/{agreement['@id']}/termination", "bhxh",
                {}).status_code == 409

    # Every step is in the registry's audit trail.
    audit = get(fed, "/api/audit?limit=1000", "admin").json()["audit"]
    actions = [(a["action"], a["object"]) for a in audit]
    for action in ("requested", "offered", "accepted", "agreed", "verified", "finalized"):
        assert ("negotiation." + action, neg["providerPid"]) in actions, action
    assert ("agreement.terminate", agreement["@id"]) in actions
    detail = {a["action"]: a["detail"] for a in audit if a["object"] == neg["providerPid"]}
    assert detail["negotiation.requested"]["to"] == "REQUESTED"
    assert detail["negotiation.requested"]["client"] == F.INSURANCE
    assert detail["negotiation.offered"]["from"] == "REQUESTED"
    assert detail["negotiation.finalized"]["agreement"] == agreement["@id"]
    assert ("dataset.publish", fed.dataset["@id"]) in actions


# ---- refusals ------------------------------------------------------------------------------

def test_illegal_transitions_and_strangers_are_refused(fed):
    r = request(fed, "bhxh", {"@id": fed.offer_ids[0]})
    assert r.status_code == 201, r.text
    neg = r.json()
    ppid, cpid = neg["providerPid"], neg["consumerPid"]
    # [CN-B] "State Transition Errors": 400 with a ContractNegotiationError.
    neg_error(post(fed, f"/dsp/negotiations/{ppid}/agreement/verification", "bhxh",
                   msg("ContractAgreementVerificationMessage", neg)),
              400, "Client.InvalidTransition")
    neg_error(post(fed, f"/dsp/negotiations/{ppid}/events", "bhxh",
                   msg("ContractNegotiationEventMessage", neg, eventType="ACCEPTED")),
              400, "Client.InvalidTransition")
    neg_error(post(fed, f"/dsp/consumer/negotiations/{cpid}/events", "bca",
                   msg("ContractNegotiationEventMessage", neg, eventType="FINALIZED")),
              400, "Client.InvalidTransition")
    # [CN-B] "Unauthorized Access": a member that is not the party gets a 404 — another
    # member, and the consumer on the provider's side of its own negotiation.
    for path, who, body in (
            (f"/dsp/negotiations/{ppid}/termination", "btc",
             msg("ContractNegotiationTerminationMessage", neg)),
            (f"/dsp/consumer/negotiations/{cpid}/offers", "bhxh",
             msg("ContractOfferMessage", neg, offer=offer_of(fed, "urn:x:1", 1)))):
        neg_error(post(fed, path, who, body), 404, "Client.NotFound")
    neg_error(get(fed, f"/dsp/negotiations/{ppid}", "btc"), 404, "Client.NotFound")
    assert get(fed, f"/dsp/negotiations/{ppid}", None).status_code == 401
    assert get(fed, f"/dsp/negotiations/{ppid}", "admin").status_code == 403
    # The pids in the body must name the negotiation of the path.
    neg_error(post(fed, f"/dsp/negotiations/{ppid}/termination", "bhxh",
                   {**msg("ContractNegotiationTerminationMessage", neg), "consumerPid": "x"}),
              400, "Client.InvalidRequest")
    # Bad input is a 400 naming the fault, never a crash: no JSON, a property the
    # message type does not have, the wrong @type for the endpoint.
    r = requests.post(fed.registry.url + f"/dsp/negotiations/{ppid}/events", data=b"{nope",
                      headers=auth(fed, "bhxh"), timeout=10)
    neg_error(r, 400, "Client.InvalidRequest")
    doc = neg_error(post(fed, f"/dsp/negotiations/{ppid}/events", "bhxh",
                         msg("ContractNegotiationEventMessage", neg, eventType="ACCEPTED",
                             extra=1)), 400, "Client.InvalidRequest")
    assert doc["reason"][0].startswith("extra:"), doc
    neg_error(post(fed, f"/dsp/negotiations/{ppid}/events", "bhxh",
                   msg("ContractAgreementVerificationMessage", neg)),
              400, "Client.InvalidRequest")
    # A consumerPid names one negotiation.
    neg_error(request(fed, "bhxh", {"@id": fed.offer_ids[0]}, cpid=cpid), 409,
              "Client.Conflict")
    # [CN-P] "Terminal states are final".
    r = post(fed, f"/dsp/negotiations/{ppid}/termination", "bhxh",
             msg("ContractNegotiationTerminationMessage", neg, code="99",
                 reason=["no longer needed"]))
    assert r.status_code == 200 and r.json()["state"] == "TERMINATED", r.text
    for path, who, body in (
            (f"/dsp/negotiations/{ppid}/termination", "bhxh",
             msg("ContractNegotiationTerminationMessage", neg)),
            (f"/dsp/consumer/negotiations/{cpid}/offers", "bca",
             msg("ContractOfferMessage", neg, offer=offer_of(fed, "urn:x:2", 1)))):
        neg_error(post(fed, path, who, body), 400, "Client.InvalidTransition")


def test_member_credential_is_no_admin(fed):
    r = get(fed, "/api/members", "bca")
    assert r.status_code == 403 and r.headers["X-Road-Error"] == "Client.Forbidden"


def test_dspace_version_metadata(fed):
    r = get(fed, "/.well-known/dspace-version", None)
    assert r.status_code == 200
    assert r.json()["protocolVersions"][0]["path"] == fed.conf()["registry"]["url"] + "/dsp"


def test_agreement_on_the_request_as_it_stands_then_expiry(fed):
    """[CN-P] §States AGREED: "The Provider has accepted the latest Offer" — here the
    consumer's own request, so REQUESTED goes straight to AGREED. Its 30 days are then
    made to have passed (the row's end moved into the past, as the clock would): the
    registry expires it before it serves the next configuration, which no longer
    holds its grant."""
    r = request(fed, "bank", {"@id": fed.offer_ids[0]})
    assert r.status_code == 201, r.text
    neg = r.json()
    cpid = neg["consumerPid"]
    agreement = {**offer_of(fed, f"urn:uuid:{uuid.uuid4()}", 5), "@type": "Agreement",
                 "timestamp": F.rfc3339(), "assigner": F.BCA, "assignee": BANK}
    for path, who, body, state in (
            (f"/dsp/consumer/negotiations/{cpid}/agreement", "bca",
             msg("ContractAgreementMessage", neg, agreement=agreement), "AGREED"),
            (f"/dsp/negotiations/{neg['providerPid']}/agreement/verification", "bank",
             msg("ContractAgreementVerificationMessage", neg), "VERIFIED"),
            (f"/dsp/consumer/negotiations/{cpid}/events", "bca",
             msg("ContractNegotiationEventMessage", neg, eventType="FINALIZED"), "FINALIZED")):
        r = post(fed, path, who, body)
        assert r.status_code == 200 and r.json()["state"] == state, r.text
    grants = [g for g in fed.conf()["grants"] if g.get("agreement") == agreement["@id"]]
    assert len(grants) == 1 and grants[0]["client"] == BANK  # the member itself
    db = sqlite3.connect(fed.registry.data_dir / "registry.db", timeout=10)
    with db:
        db.execute("UPDATE negotiations SET not_after = 1 WHERE agreement_id = ?",
                   (agreement["@id"],))
    db.close()
    assert not any(g.get("agreement") == agreement["@id"] for g in fed.conf()["grants"])
    mine = get(fed, "/market/negotiations", "bank").json()["negotiations"]
    assert [n["agreement_state"] for n in mine
            if n["agreement_id"] == agreement["@id"]] == ["expired"]
    audit = get(fed, "/api/audit?limit=50", "admin").json()["audit"]
    assert any(a["action"] == "agreement.expire" and
               agreement["@id"] in a["detail"]["agreements"] for a in audit)
