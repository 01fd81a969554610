"""Signed negotiations (docs/marketplace.md "Signed negotiations") end to end: a real
registry and real gateways (federation.py). BHXH (the consumer) and BCA (the provider)
negotiate through every state to FINALIZED, each message a JWS signed by `ndx market
sign-message` with the signing key of the sender's own gateway; the registry refuses a
message signed with another member's gateway key, a bad signature, a wrong ndx:path, a
stale or replayed ndx:previous and a plain message in the signed negotiation; the chain
read back from GET /dsp/negotiations/{providerPid}/messages (by either party only) checks
with `ndx market check-negotiation` against the signed configuration, and a chain with
one message altered, dropped or moved does not."""

import base64
import hashlib
import json
import os
import subprocess
import uuid

import pytest
import requests

import federation as F
from test_marketplace import (DSP_CONTEXT, auth, get, msg, neg_error, offer_of, post,
                              setup_market, wait_gateways)

JOSE = "application/jose"


@pytest.fixture(scope="module")
def fed(build_dir):
    with F.running_federation(build_dir, "ndx-market-signed-", setup=setup_market) as f:
        yield f


def ndx(fed, *args, stdin=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("NDX_")}
    return subprocess.run([str(F.ndx_exe(fed.build_dir)), *map(str, args)], input=stdin,
                          capture_output=True, text=True, timeout=60, env=env)


def digest(jws):
    return base64.urlsafe_b64encode(hashlib.sha256(jws.encode()).digest()).decode().rstrip("=")


def sign(fed, gateway, sender, path, message, previous=None):
    """`ndx market sign-message` on gateway's host, with its signing key."""
    args = ["market", "sign-message", "--key", fed.gateways[gateway].ident.sign_key,
            "--sender", sender, "--path", path]
    if previous:
        args += ["--previous", previous]
    res = ndx(fed, *args, stdin=json.dumps(message))
    assert res.returncode == 0, res.stderr
    return res.stdout.strip()


def send(fed, who, path, jws):
    return requests.post(fed.registry.url + path, data=jws,
                         headers={**auth(fed, who), "Content-Type": JOSE}, timeout=10)


def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def b64e(b):
    return base64.urlsafe_b64encode(b).decode().rstrip("=")


def check_chain(fed, chain, *who):
    path = fed.workdir / f"chain-{uuid.uuid4().hex}.json"
    path.write_text(json.dumps(chain) if not isinstance(chain, str) else chain)
    gw = fed.gateways["BHXH"]
    who = who or ("--conf", gw.dir / "data" / "conf", "--anchor", fed.registry.anchor)
    return ndx(fed, "market", "check-negotiation", path, *who)


def test_signed_negotiation_through_every_state_then_checked(fed):
    oid = fed.offer_ids[0]
    cpid = f"urn:uuid:{uuid.uuid4()}"
    init = {"@context": [DSP_CONTEXT], "@type": "ContractRequestMessage", "consumerPid": cpid,
            "offer": offer_of(fed, oid, 5), "callbackAddress": "https://bhxh.example/dsp",
            "ndx:client": F.INSURANCE}
    # The consumer's first message, signed by BHXH's gateway key: a signed negotiation.
    m1 = sign(fed, "BHXH", F.BHXH, "/dsp/negotiations/request", init)
    r = send(fed, "bhxh", "/dsp/negotiations/request", m1)
    assert r.status_code == 201, r.text
    neg = r.json()
    assert neg["state"] == "REQUESTED" and neg["ndx:signed"] is True
    ppid = neg["providerPid"]
    offers_path = f"/dsp/consumer/negotiations/{cpid}/offers"
    counter = msg("ContractOfferMessage", neg, offer=offer_of(fed, f"urn:uuid:{uuid.uuid4()}", 2))

    # Refusals of the provider's counter-offer, each leaving the negotiation as it was:
    # a plain message in a signed negotiation …
    neg_error(post(fed, offers_path, "bca", counter), 400, "Client.SignatureRequired")
    # … one signed with another member's gateway key (BTC's, in BCA's name) …
    forged = sign(fed, "BTC", F.BCA, offers_path, counter, previous=digest(m1))
    neg_error(send(fed, "bca", offers_path, forged), 403, "Client.UnknownSigner")
    # … one whose signature does not verify (its payload changed after signing) …
    h, p, s = sign(fed, "BCA", F.BCA, offers_path, counter, previous=digest(m1)).split(".")
    altered = json.loads(b64d(p))
    altered["offer"]["permission"][0]["constraint"][-1]["rightOperand"] = 1000
    doc = neg_error(send(fed, "bca", offers_path,
                         ".".join((h, b64e(json.dumps(altered).encode()), s))),
                    403, "Client.BadSignature")
    assert "does not verify" in doc["reason"][0]
    # … one signed for another endpoint …
    wrong_path = sign(fed, "BCA", F.BCA, f"/dsp/consumer/negotiations/{cpid}/agreement",
                      counter, previous=digest(m1))
    neg_error(send(fed, "bca", offers_path, wrong_path), 400,
              "Client.WrongPath")
    # … one that does not follow the last accepted message (none, or another) …
    for prev in (None, digest("another message")):
        neg_error(send(fed, "bca", offers_path,
                       sign(fed, "BCA", F.BCA, offers_path, counter, previous=prev)),
                  409, "Client.StaleMessage")
    # … and one in another member's name than the credential's.
    neg_error(send(fed, "bca", offers_path,
                   sign(fed, "BCA", F.BHXH, offers_path, counter, previous=digest(m1))),
              403, "Client.WrongSender")
    assert get(fed, f"/dsp/negotiations/{ppid}", "bhxh").json()["state"] == "REQUESTED"

    # The negotiation, each message signed by its sender's gateway after the last one.
    chain = [m1]
    agreement = {**offer_of(fed, f"urn:uuid:{uuid.uuid4()}", 2), "@type": "Agreement",
                 "timestamp": F.rfc3339(), "assigner": F.BCA, "assignee": F.BHXH}
    steps = (
        ("BCA", F.BCA, "bca", offers_path, counter, "OFFERED"),
        ("BHXH", F.BHXH, "bhxh", f"/dsp/negotiations/{ppid}/events",
         msg("ContractNegotiationEventMessage", neg, eventType="ACCEPTED"), "ACCEPTED"),
        ("BCA", F.BCA, "bca", f"/dsp/consumer/negotiations/{cpid}/agreement",
         msg("ContractAgreementMessage", neg, agreement=agreement), "AGREED"),
        ("BHXH", F.BHXH, "bhxh", f"/dsp/negotiations/{ppid}/agreement/verification",
         msg("ContractAgreementVerificationMessage", neg), "VERIFIED"),
        ("BCA", F.BCA, "bca", f"/dsp/consumer/negotiations/{cpid}/events",
         msg("ContractNegotiationEventMessage", neg, eventType="FINALIZED"), "FINALIZED"),
    )
    for gw, sender, who, path, body, state in steps:
        jws = sign(fed, gw, sender, path, body, previous=digest(chain[-1]))
        r = send(fed, who, path, jws)
        assert r.status_code == 200, r.text
        assert r.json()["state"] == state and r.json()["ndx:signed"] is True
        chain.append(jws)
        if state == "ACCEPTED":
            # The same message again no longer follows the last accepted one.
            neg_error(send(fed, who, path, jws), 409, "Client.StaleMessage")
    version = r.json()["ndx:confVersion"]
    # The agreement's grant is in the configuration, as for a plain negotiation.
    grants = [g for g in fed.conf()["grants"] if g.get("agreement") == agreement["@id"]]
    assert len(grants) == 1 and grants[0]["client"] == F.INSURANCE
    wait_gateways(fed, version)
    assert get(fed, f"/dsp/consumer/negotiations/{cpid}", "bca").json()["ndx:signed"] is True

    # The chain, to either party; 404 to a stranger, 401 without a credential.
    answers = [get(fed, f"/dsp/negotiations/{ppid}/messages", who) for who in ("bhxh", "bca")]
    for r in answers:
        assert r.status_code == 200, r.text
        assert r.json()["messages"] == chain and r.json()["ndx:signed"] is True
        assert r.json()["providerPid"] == ppid and r.json()["consumerPid"] == cpid
    neg_error(get(fed, f"/dsp/negotiations/{ppid}/messages", "btc"), 404, "Client.NotFound")
    assert get(fed, f"/dsp/negotiations/{ppid}/messages", None).status_code == 401

    # Anyone holding the signed configuration checks the whole negotiation.
    res = check_chain(fed, answers[0].text)
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["state"] == "FINALIZED" and report["messages"] == 6
    assert report["consumer"] == F.BHXH and report["provider"] == F.BCA
    assert report["providerPid"] == ppid and report["consumerPid"] == cpid
    assert report["agreement"]["@id"] == agreement["@id"]
    assert report["agreement"]["permission"][0]["constraint"][-1]["rightOperand"] == 2
    # … or with the two gateways' public keys, one JWS a line.
    res = check_chain(fed, "\n".join(chain) + "\n",
                      "--key", fed.gateways["BHXH"].ident.sign_pub,
                      "--key", fed.gateways["BCA"].ident.sign_pub)
    assert res.returncode == 0 and json.loads(res.stdout)["state"] == "FINALIZED", res.stderr

    # A chain with one message altered (the agreement's maximum raised) …
    h, p, s = chain[3].split(".")
    body = json.loads(b64d(p))
    body["agreement"]["permission"][0]["constraint"][-1]["rightOperand"] = 1000
    altered = chain[:3] + [".".join((h, b64e(json.dumps(body).encode()), s))] + chain[4:]
    res = check_chain(fed, altered)
    assert res.returncode == 1 and "message 4" in res.stderr, res.stderr
    assert "signature does not verify" in res.stderr
    # … one dropped (the consumer's acceptance) …
    res = check_chain(fed, chain[:2] + chain[3:])
    assert res.returncode == 1 and "message 3 does not follow message 2" in res.stderr, \
        res.stderr
    # … two swapped …
    res = check_chain(fed, chain[:1] + [chain[2], chain[1]] + chain[3:])
    assert res.returncode == 1 and "message 2 does not follow" in res.stderr, res.stderr
    # … and one checked with keys that are not its signer's: each refused.
    res = check_chain(fed, chain, "--key", fed.gateways["BHXH"].ident.sign_pub)
    assert res.returncode == 1 and "message 2" in res.stderr and "none of the --key" \
        in res.stderr, res.stderr


def test_plain_negotiation_stays_plain(fed):
    """A negotiation begun with a plain message takes no signed one (its chain could
    not start at its first message), and its chain is empty."""
    cpid = f"urn:uuid:{uuid.uuid4()}"
    r = post(fed, "/dsp/negotiations/request", "bhxh",
             {"@context": [DSP_CONTEXT], "@type": "ContractRequestMessage", "consumerPid": cpid,
              "offer": {"@id": fed.offer_ids[0]}})
    assert r.status_code == 201 and "ndx:signed" not in r.json(), r.text
    neg = r.json()
    path = f"/dsp/consumer/negotiations/{cpid}/offers"
    jws = sign(fed, "BCA", F.BCA, path,
               msg("ContractOfferMessage", neg,
                   offer=offer_of(fed, f"urn:uuid:{uuid.uuid4()}", 1)))
    neg_error(send(fed, "bca", path, jws), 400, "Client.NotSignedNegotiation")
    r = get(fed, f"/dsp/negotiations/{neg['providerPid']}/messages", "bca")
    assert r.status_code == 200 and r.json()["messages"] == [] \
        and r.json()["ndx:signed"] is False, r.text


def test_malformed_signed_messages_are_refused(fed):
    """Bad input is a 400 naming the fault, never a crash; the CLI refuses what it
    cannot sign."""
    for body in (b"", b"not a jws", b"a.b.c", b"{}"):
        r = requests.post(fed.registry.url + "/dsp/negotiations/request", data=body,
                          headers={**auth(fed, "bhxh"), "Content-Type": JOSE}, timeout=10)
        neg_error(r, 400, "Client.InvalidRequest")
    # A first message that names a previous one.
    init = {"@context": [DSP_CONTEXT], "@type": "ContractRequestMessage",
            "consumerPid": f"urn:uuid:{uuid.uuid4()}", "offer": {"@id": fed.offer_ids[0]}}
    jws = sign(fed, "BHXH", F.BHXH, "/dsp/negotiations/request", init,
               previous=digest("x"))
    doc = neg_error(send(fed, "bhxh", "/dsp/negotiations/request", jws), 400,
                    "Client.InvalidRequest")
    assert "ndx:previous" in doc["reason"][0]
    res = ndx(fed, "market", "sign-message", "--key", fed.gateways["BHXH"].ident.sign_key,
              "--sender", F.BHXH, "--path", "/market/negotiations", stdin="{}")
    assert res.returncode == 1 and "path" in res.stderr, res.stderr
    res = ndx(fed, "market", "sign-message", "--key", fed.gateways["BHXH"].ident.sign_pub,
              "--sender", F.BHXH, "--path", "/dsp/negotiations/request", stdin="{}")
    assert res.returncode == 1 and "private" in res.stderr, res.stderr
    res = ndx(fed, "market", "sign-message", "--sender", F.BHXH)
    assert res.returncode == 2
