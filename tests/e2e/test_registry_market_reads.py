"""The marketplace as the management API reads it (docs/registry-api.md "The
marketplace in the management API"): GET /api/market/datasets and
/api/market/negotiations, for the registry console's marketplace page. A real
registry on loopback; a provider publishes through /market and a consumer
requests through /dsp with their member credentials, as docs/marketplace.md
describes."""

import subprocess
import uuid

import requests

from conftest import registry_exe
from test_registry import CLIENT_MEMBER, MEMBER, SUBSYSTEM, ok, refused

DSP_CONTEXT = "https://w3id.org/dspace/2025/1/context.jsonld"
OPEN = f"{SUBSYSTEM}/open-data"


def member_token(r, build_dir, name, member):
    out = subprocess.run([str(registry_exe(build_dir)), "token", "add", name, "--member", member,
                          "--data", str(r.data_dir)], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return {"Authorization": "Bearer " + out.stdout.strip()}


def market(r, build_dir):
    ok(r.api("POST", "/api/members", json={"id": MEMBER, "name": "Bộ Công an"}), 201)
    ok(r.api("POST", "/api/members", json={"id": CLIENT_MEMBER, "name": "Bộ Tài chính"}), 201)
    ok(r.api("POST", "/api/subsystems", json={"id": SUBSYSTEM}), 201)
    ok(r.api("POST", "/api/services", json={"id": OPEN, "title": "Dữ liệu mở", "personal": False,
                                             "purposes": [], "consent_required": False}), 201)
    bca = member_token(r, build_dir, "bca", MEMBER)
    mof = member_token(r, build_dir, "mof", CLIENT_MEMBER)
    ds = requests.post(r.url + "/market/datasets", headers=bca, timeout=10, json={
        "service": OPEN, "title": {"vi": "Dữ liệu mở", "en": "Open data"},
        "description": {"vi": "Thử", "en": "Test"},
        "license": "https://creativecommons.org/licenses/by/4.0/", "accrual_periodicity": "CONT",
        "offers": [{"@type": "Offer", "permission": [{"action": "use"}]}]})
    assert ds.status_code == 201, ds.text
    offer = ds.json()["hasPolicy"][0]["@id"]
    cpid = f"urn:uuid:{uuid.uuid4()}"
    neg = requests.post(r.url + "/dsp/negotiations/request", headers=mof, timeout=10, json={
        "@context": [DSP_CONTEXT], "@type": "ContractRequestMessage", "consumerPid": cpid,
        "offer": {"@id": offer}, "callbackAddress": "https://mof.example/dsp"})
    assert neg.status_code == 201, neg.text
    return ds.json(), neg.json(), bca


def test_market_reads(registry, build_dir):
    r = registry
    ds, neg, bca = market(r, build_dir)
    datasets = ok(r.api("GET", "/api/market/datasets"), 200)["datasets"]
    assert [d["service"] for d in datasets] == [OPEN]
    d = datasets[0]
    assert d["provider"] == MEMBER and d["provider_name"] == "Bộ Công an"
    assert d["description"]["title"] == {"vi": "Dữ liệu mở", "en": "Open data"}
    assert d["id"] == ds["@id"] and [o["id"] for o in d["offers"]] == [ds["hasPolicy"][0]["@id"]]
    assert ok(r.api("GET", "/api/market/datasets", params={"member": MEMBER}), 200)["datasets"] == datasets
    assert ok(r.api("GET", "/api/market/datasets", params={"member": CLIENT_MEMBER}),
              200)["datasets"] == []

    negs = ok(r.api("GET", "/api/market/negotiations"), 200)["negotiations"]
    assert len(negs) == 1
    n = negs[0]
    assert (n["provider_pid"], n["consumer_pid"]) == (neg["providerPid"], neg["consumerPid"])
    assert (n["consumer"], n["provider"], n["service"], n["state"]) == (
        CLIENT_MEMBER, MEMBER, OPEN, "REQUESTED")
    assert n["agreement_id"] is None
    # Either party's filter finds it; a member in none finds nothing.
    for m in (MEMBER, CLIENT_MEMBER):
        assert ok(r.api("GET", "/api/market/negotiations", params={"member": m}),
                  200)["negotiations"] == negs
    assert ok(r.api("GET", "/api/market/negotiations", params={"member": "VN/GOV/BTC"}),
              200)["negotiations"] == []

    e = refused(r.api("GET", "/api/market/negotiations", params={"member": "VN/GOV"}), 400,
                "Client.InvalidRequest")
    assert e["detail"].startswith("member")
    refused(r.api("POST", "/api/market/negotiations", json={}), 405, "Client.MethodNotAllowed")
    # The invoices recorded (docs/marketplace.md "Invoices and clearing"; recorded and paid
    # in test_market_clearing.py): none here, for anyone; read only.
    assert ok(r.api("GET", "/api/market/invoices"), 200) == {"invoices": []}
    assert ok(r.api("GET", "/api/market/invoices", params={"member": MEMBER}),
              200) == {"invoices": []}
    refused(r.api("GET", "/api/market/invoices", params={"member": "VN/GOV"}), 400,
            "Client.InvalidRequest")
    refused(r.api("POST", "/api/market/invoices", json={}), 405, "Client.MethodNotAllowed")
    refused(r.api("GET", "/api/market/agreements"), 404, "Client.NotFound")
    refused(r.api("GET", "/api/market"), 404, "Client.NotFound")
    # A member credential is no management credential, for reads too.
    assert requests.get(r.url + "/api/market/negotiations", headers=bca, timeout=10).status_code == 403
