"""Event types as datasets (docs/marketplace.md "Event types as datasets", docs/events.md)
end to end: BCA registers the event type echo-changed of its echo service and publishes
it in the catalogue, beside the echo service's own dataset; BHXH negotiates an agreement
for it through every state of the Dataspace Protocol negotiation, for its insurance
subsystem; the agreement becomes a subscription of the next signed configuration, so an
event BCA publishes reaches BHXH's inbox; ending the agreement takes the subscription
away, and the next event goes to nobody. Terms a subscription cannot be held to (a call
count, methods, a data age, a price per call) are refused when offered and when proposed.
"""

import time
import uuid

import pytest
import requests

import federation as F
from test_marketplace import DSP_CONTEXT, auth, finalize, member_token, msg, post

EVENT = "echo-changed"
SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}}



def monthly_offer(**extra):
    o = {"@type": "Offer", "permission": [{"action": "use", "constraint": [
        {"leftOperand": "elapsedTime", "operator": "lteq", "rightOperand": "P30D"}]}],
        "obligation": [{"action": "compensate", "constraint": [
            {"leftOperand": "payAmount", "operator": "eq", "rightOperand": 100000,
             "unit": "ndx:VNDPerMonth"}]}]}
    o.update(extra)
    return o


def dataset_body(event=None, offers=None):
    body = {"service": F.ECHO,
            "title": {"vi": "Thay đổi phản hồi", "en": "Echo changes"},
            "description": {"vi": "Sự kiện khi bản ghi đổi", "en": "An event per change"},
            "license": "https://creativecommons.org/licenses/by/4.0/",
            "accrual_periodicity": "CONT",
            "offers": offers or [monthly_offer()]}
    if event is not None:
        body["event"] = event
    return body


def setup_market(fed):
    fed.tokens = {n: member_token(fed, n, m) for n, m in (("bca", F.BCA), ("bhxh", F.BHXH))}
    r = post(fed, "/api/event-types", "admin",
             {"service": F.ECHO, "name": EVENT, "schema": SCHEMA})
    assert r.status_code == 201, r.text
    for gw in fed.gateways.values():
        fed.wait_conf(gw, fed.registry.conf_version())


@pytest.fixture(scope="module")
def fed(build_dir):
    with F.running_federation(build_dir, "ndx-mkev-", setup=setup_market) as f:
        yield f


def publish_event(fed, n):
    r = requests.post(f"{fed.gateways['BCA'].url}/e1/{F.ECHO}/{EVENT}", timeout=15,
                      json={"n": n}, headers={"X-Road-Client": F.POPULATION})
    assert r.status_code == 201, f"{r.status_code} {r.text}\n{fed.tails()}"
    return r.json()


def inbox_ids(fed):
    r = requests.get(f"{fed.gateways['BHXH'].url}/e1/inbox",
                     headers={"X-Road-Client": F.INSURANCE}, params={"limit": 500}, timeout=15)
    assert r.status_code == 200, r.text
    return [e["id"] for e in r.json()["events"]]


def subscriptions_of(fed):
    return [s for s in fed.conf().get("subscriptions", [])
            if s["client"] == F.INSURANCE and s["service"] == F.ECHO and s["event"] == EVENT]


def test_publishing_an_event_type(fed):
    # Terms a subscription is not held to are refused, each naming the offer.
    for bad, word in (
            (monthly_offer(permission=[{"action": "use", "constraint": [
                {"leftOperand": "count", "operator": "lteq", "rightOperand": 5,
                 "unit": "ndx:perDay"}]}]), "count"),
            (monthly_offer(permission=[{"action": "use", "constraint": [
                {"leftOperand": "ndx:dataAge", "operator": "lteq",
                 "rightOperand": "PT1H"}]}]), "ndx:dataAge"),
            (monthly_offer(permission=[{"action": "use", "constraint": [
                {"leftOperand": "purpose", "operator": "eq",
                 "rightOperand": "research"}]}]), "not personal")):
        r = post(fed, "/market/datasets", "bca", dataset_body(EVENT, [monthly_offer(), bad]))
        assert r.status_code == 400 and "offers[1]" in r.json()["detail"] \
            and word in r.json()["detail"], r.text
    r = post(fed, "/market/datasets", "bca", dataset_body("no-such-event"))
    assert r.status_code == 404, r.text
    # The event type's dataset and the service's own live side by side; each once.
    r = post(fed, "/market/datasets", "bca", dataset_body(EVENT))
    assert r.status_code == 201, r.text
    fed.dataset = r.json()
    assert fed.dataset["ndx:eventType"] == EVENT and fed.dataset["ndx:service"] == F.ECHO
    assert fed.dataset["distribution"][0]["format"] == "ndx:events"
    assert post(fed, "/market/datasets", "bca", dataset_body(EVENT)).status_code == 409
    r = post(fed, "/market/datasets", "bca", dataset_body())
    assert r.status_code == 201 and "ndx:eventType" not in r.json(), r.text
    cat = post(fed, "/dsp/catalog/request", "bhxh",
               {"@context": [DSP_CONTEXT], "@type": "CatalogRequestMessage"}).json()
    # The catalogue lists both, the service's first.
    mine = [(d["ndx:service"], d.get("ndx:eventType", "")) for d in cat["dataset"]]
    assert mine == [(F.ECHO, ""), (F.ECHO, EVENT)], mine
    # The event type cannot be deleted while the catalogue offers it.
    r = requests.delete(f"{fed.registry.url}/api/event-types/{F.ECHO}/{EVENT}",
                        headers=auth(fed, "admin"), timeout=10)
    assert r.status_code == 409 and "catalogue" in r.text, r.text


def test_agreement_is_a_subscription_until_terminated(fed):
    offer = fed.dataset["hasPolicy"][0]
    # Nobody subscribes yet: an event goes to nobody.
    assert publish_event(fed, 1)["subscriptions"] == 0

    def request(client):
        body = {"@context": [DSP_CONTEXT], "@type": "ContractRequestMessage",
                "consumerPid": f"urn:uuid:{uuid.uuid4()}", "offer": {"@id": offer["@id"]},
                "callbackAddress": "https://bhxh.example/dsp"}
        if client:
            body["ndx:client"] = client
        return post(fed, "/dsp/negotiations/request", "bhxh", body)

    # A subscription is a subsystem's: the member itself is refused.
    r = request(None)
    assert r.status_code == 400 and "subsystem" in r.json()["reason"][0], r.text
    r = request(F.INSURANCE)
    assert r.status_code == 201, r.text
    neg = r.json()
    cpid = neg["consumerPid"]
    # A counter-offer with a call count is refused: the subscription cannot keep it.
    counter = {**monthly_offer(permission=[{"action": "use", "constraint": [
        {"leftOperand": "count", "operator": "lteq", "rightOperand": 5,
         "unit": "ndx:perDay"}]}]), "@id": f"urn:uuid:{uuid.uuid4()}",
        "target": fed.dataset["@id"]}
    r = post(fed, f"/dsp/consumer/negotiations/{cpid}/offers", "bca",
             msg("ContractOfferMessage", neg, offer=counter))
    assert r.status_code == 400 and "subscription" in r.json()["reason"][0], r.text
    agreement = {**monthly_offer(), "@id": f"urn:uuid:{uuid.uuid4()}",
                 "target": fed.dataset["@id"], "@type": "Agreement",
                 "timestamp": F.rfc3339(), "assigner": F.BCA, "assignee": F.BHXH}
    r = finalize(fed, neg, agreement)
    version = r.json()["ndx:confVersion"]
    # The next configuration holds the subscription, and no grant for the agreement.
    conf = fed.conf()
    assert subscriptions_of(fed) == [{"client": F.INSURANCE, "service": F.ECHO,
                                      "event": EVENT}], conf.get("subscriptions")
    assert not any(g.get("agreement") == agreement["@id"] for g in conf["grants"])
    for gw in fed.gateways.values():
        fed.wait_conf(gw, version)
    sent = publish_event(fed, 2)
    assert sent["subscriptions"] == 1, sent
    deadline = time.monotonic() + 20
    while sent["id"] not in inbox_ids(fed):
        assert time.monotonic() < deadline, f"not delivered\n{fed.tails()}"
        time.sleep(0.2)

    # BHXH ends the agreement: the subscription leaves the next configuration.
    r = post(fed, f"/market/agreements/{agreement['@id']}/termination", "bhxh", {})
    assert r.status_code == 200, r.text
    assert subscriptions_of(fed) == []
    for gw in fed.gateways.values():
        fed.wait_conf(gw, r.json()["conf_version"])
    after = publish_event(fed, 3)
    assert after["subscriptions"] == 0, after
