"""A marketplace agreement's data-age limit (docs/marketplace.md "The ODRL subset",
`ndx:dataAge`) end to end: BCA offers its echo service with answers no older than an
hour; BHXH agrees to it through every state of the Dataspace Protocol negotiation; the
grant carries the limit in the signed configuration, and BCA's gateway holds each
answer of its provider system against it. An answer an hour old or younger is
delivered; an older one, or one that does not say how old it is (no Last-Modified,
RFC 9110 §8.8.2), is refused `AgreementDataTooOld` instead, and the refusal, signed by
the provider gateway, is what both gateways log for the exchange.
"""

import sqlite3
import time
import uuid

import pytest

import federation as F
import refusals
from test_marketplace import DSP_CONTEXT, finalize, member_token, post

HOUR = 3600



def fresh_offer(offer_id=None, target=None):
    o = {"@type": "Offer", "permission": [{"action": "use", "constraint": [
        {"leftOperand": "ndx:dataAge", "operator": "lteq", "rightOperand": "PT60M"},
        {"leftOperand": "count", "operator": "lteq", "rightOperand": 100,
         "unit": "ndx:perDay"}]}]}
    if offer_id:
        o.update({"@id": offer_id, "target": target})
    return o


def setup_market(fed):
    fed.tokens = {n: member_token(fed, n, m) for n, m in (("bca", F.BCA), ("bhxh", F.BHXH))}
    r = post(fed, "/market/datasets", "bca", {
        "service": F.ECHO,
        "title": {"vi": "Dịch vụ phản hồi", "en": "Echo service"},
        "description": {"vi": "Trả lại yêu cầu", "en": "Returns the request"},
        "license": "https://creativecommons.org/licenses/by/4.0/",
        "accrual_periodicity": "CONT",
        "offers": [fresh_offer()],
    })
    assert r.status_code == 201, r.text
    fed.dataset = r.json()
    offer = fed.dataset["hasPolicy"][0]
    # The registry writes the limit back in its canonical form: an hour.
    assert {"leftOperand": "ndx:dataAge", "operator": "lteq", "rightOperand": "PT1H"} in \
        offer["permission"][0]["constraint"], offer
    r = post(fed, "/dsp/negotiations/request", "bhxh", {
        "@context": [DSP_CONTEXT], "@type": "ContractRequestMessage",
        "consumerPid": f"urn:uuid:{uuid.uuid4()}", "ndx:client": F.INSURANCE,
        "offer": {"@id": offer["@id"]}, "callbackAddress": "https://bhxh.example/dsp"})
    assert r.status_code == 201, r.text
    neg = r.json()
    agreement = {**fresh_offer(f"urn:uuid:{uuid.uuid4()}", fed.dataset["@id"]),
                 "@type": "Agreement", "timestamp": F.rfc3339(), "assigner": F.BCA,
                 "assignee": F.BHXH}
    r = finalize(fed, neg, agreement)
    for gw in fed.gateways.values():
        fed.wait_conf(gw, r.json()["ndx:confVersion"])
    fed.agreement = agreement["@id"]


@pytest.fixture(scope="module")
def fed(build_dir):
    with F.running_federation(build_dir, "ndx-age-", setup=setup_market) as f:
        yield f


def records(fed, name, xid, direction):
    """(status, response_hash, response_sig) of the exchange xid in gateway name's
    message log (read-only: the gateway keeps writing)."""
    db = fed.gateways[name].dir / "data" / "msglog.db"
    deadline = time.monotonic() + 5
    while True:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
        try:
            rows = con.execute("SELECT status, response_hash, response_sig FROM records "
                               "WHERE message_id = ? AND direction = ?",
                               (xid, direction)).fetchall()
        finally:
            con.close()
        if rows or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


def both_logs(fed, xid):
    """The provider's and the consumer's record of xid: one each, the same answer."""
    p = records(fed, "BCA", xid, "provider")
    c = records(fed, "BHXH", xid, "consumer")
    assert len(p) == 1 and len(c) == 1, (p, c)
    assert p[0][1] and p[0][1] == c[0][1] and p[0][2] == c[0][2], (p, c)
    return p[0][0], c[0][0]


def call(fed, path, xid):
    return fed.call("BHXH", "GET", F.ECHO, path, client=F.INSURANCE, xid=xid)


def test_the_limit_is_in_the_signed_configuration(fed):
    g = [g for g in fed.conf()["grants"] if g.get("agreement") == fed.agreement]
    assert len(g) == 1 and g[0]["client"] == F.INSURANCE, g
    assert {"leftOperand": "ndx:dataAge", "operator": "lteq", "rightOperand": "PT1H"} in \
        g[0]["policy"]["permission"][0]["constraint"], g


def test_fresh_answer_is_delivered(fed):
    xid = "age-fresh-" + uuid.uuid4().hex[:8]
    r = call(fed, "/modified/60", xid)
    assert r.status_code == 200, f"{r.status_code} {r.text}\n{fed.tails()}"
    assert r.json()["path"].endswith("/modified/60")
    # Last-Modified goes on as the provider system said it, under the provider
    # gateway's response signature (a user header): the consumer holds the proof.
    assert r.headers["Last-Modified"].endswith(" GMT") and r.headers["Ndx-Response-Signature"]
    assert both_logs(fed, xid) == (200, 200)
    # An hour old to the minute is still within the limit.
    r = call(fed, f"/modified/{HOUR - 60}", "age-edge-" + uuid.uuid4().hex[:8])
    assert r.status_code == 200, r.text


def test_stale_answer_is_refused_with_its_own_reason(fed):
    xid = "age-stale-" + uuid.uuid4().hex[:8]
    r = call(fed, f"/modified/{2 * HOUR}", xid)
    doc = refusals.check_response(r, "AgreementDataTooOld", "provider")
    assert fed.agreement in doc["message"] and "PT1H" in doc["message"], doc
    assert "last modified at" in doc["message"], doc
    # The provider system was asked and answered; its answer did not go on.
    assert fed.echo.received(xid), "the provider system never got the call"
    assert "body_b64" not in r.text and "/modified/" not in r.text
    # The refusal is what both sides logged for the exchange, signed by the provider.
    assert both_logs(fed, xid) == (500, 500)


def test_undated_answer_is_refused(fed):
    xid = "age-undated-" + uuid.uuid4().hex[:8]
    r = call(fed, "/plain", xid)
    doc = refusals.check_response(r, "AgreementDataTooOld", "provider")
    assert "no Last-Modified" in doc["message"], doc
    assert both_logs(fed, xid) == (500, 500)


def test_error_answers_carry_no_data_and_pass(fed):
    r = call(fed, "/status/404", "age-404-" + uuid.uuid4().hex[:8])
    assert r.status_code == 404 and r.json() == {"error": "status 404"}, r.text


def test_operators_grant_is_not_held_to_the_limit(fed):
    # BTC's operator grant on the same service carries no policy: any answer goes on.
    r = fed.call("BTC", "GET", F.ECHO, f"/modified/{2 * HOUR}", client=F.TAX)
    assert r.status_code == 200, r.text
    r = fed.call("BTC", "GET", F.ECHO, "/plain", client=F.TAX)
    assert r.status_code == 200, r.text
