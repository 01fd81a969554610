"""The data marketplace in the portal (docs/portal.md "The marketplace",
docs/marketplace.md) end to end: a real registry and gateways (federation.py), a real
ndx-portal whose `market` object points at the registry, and officers of four members
signed in with their passwords. BCA publishes its echo service (an offer for every
class and one only for enterprises) and its citizens service (only for enterprises).

Covered: browsing and a dataset's page without signing in (only the offers open to
every class; a dataset with none is 404); search with and without Vietnamese
diacritics and in capitals, a bad query refused; a state body's officer not seeing
the enterprises' offer, in the list, by the dataset's URL and by requesting its id,
while the bank's officer sees it; BHXH's officer requesting the open offer for its
insurance system, BCA's officer approving it, the negotiation FINALIZED, the grant in
the next signed configuration and the first call through the gateways succeeding;
a counter-offer accepted and a request declined; officers refused acting for another
member or on the wrong side (nothing changes at the registry), a member the portal
holds no credential of, forged fields, no CSRF token, no session.

Publishing (issue 23's portal part): BHXH's officer publishes its records service from
the form's fields with two offers, each field's error said at its field (the portal
reads each offer back with libndx's ODRL parser; the registry's own refusals - another
member's service, no such service, a service already published - at the service
field), the dataset in the catalogue and on the member's published list, withdrawn by
its provider only. Ending an agreement in force by the provider and by the consumer,
after the confirmation the API asks for; a stranger's 404, an ended one's 409, the grant
gone from the next configuration. A counter-offer of validity and price, the
consumer's own counter to it, and the agreement on the consumer's terms. A usage
statement made by the provider's gateway (`ndx market statement`) checked on the page
by either party with the signer's key from the registry's signed configuration; a
forged one (count altered; price or side changed and signed again by its signer)
refused with its reason, a stranger's 404, text that is no statement 422; without the
registry's anchor (or with one that cannot be read) nothing is checked (503).

Invoices: the seller records the invoice of that statement (the registry checks it); seller
and buyer list it, the buyer with its VietQR code drawn and the configured bank's page;
the buyer recording it, a forged statement, an account VietQR cannot carry, missing,
malformed and stray fields, no CSRF token and no session refused."""

import datetime
import json
import subprocess
import sys
import tempfile
import urllib.parse
from pathlib import Path

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

import federation as F  # noqa: E402
import refusals  # noqa: E402
from conftest import free_port  # noqa: E402
import test_market_statement as MS  # noqa: E402
from test_marketplace import member_token  # noqa: E402
from test_portal import CLIENT_ID, CLIENT_SECRET, FakeEid, Proc, exe  # noqa: E402

BANK = "VN/COM/BANK1"
PASSWORD = "mật-khẩu-cán-bộ-chợ"
OFFICERS = {"bca": F.BCA, "bhxh": F.BHXH, "btc": F.BTC, "bank": BANK}
ENROLLED = ("bca", "bhxh", "bank")  # BTC has given the portal no credential
# Officials who sign in with the e-ID (docs/portal.md "Officials"): an agency
# official acts for its member; an operator or auditor is no party; a citizen neither.
AGENCY_OFFICIAL = ("079190000202", "Trần Thị Bảo Hiểm")
AUDITOR = ("048088000303", "Lê Kiểm Toán")
CITIZEN = ("031095000404", "Phạm Công Dân")


OPEN_OFFER = {
    "permission": [{"action": "use", "constraint": [
        {"leftOperand": "purpose", "operator": "isAnyOf",
         "rightOperand": ["public-service", "research"]},
        {"leftOperand": "elapsedTime", "operator": "lteq", "rightOperand": "P30D"},
        {"leftOperand": "count", "operator": "lteq", "rightOperand": 5, "unit": "ndx:perDay"}]}],
    "prohibition": [{"action": "distribute"}],
    "obligation": [{"action": "compensate", "constraint": [
        {"leftOperand": "payAmount", "operator": "eq", "rightOperand": 500,
         "unit": "ndx:VNDPerCall"}]}],
}
ENTERPRISE_ONLY = {"permission": [{"action": "use", "constraint": [
    {"leftOperand": "ndx:consumerClass", "operator": "isAnyOf",
     "rightOperand": ["enterprise"]}]}]}


RECORDS = F.INSURANCE + "/records"


def setup_market(fed):
    fed.ndx("member", "add", BANK, "--name", "Ngân hàng Một")
    fed.ndx("service", "add", RECORDS, "--title", "Hồ sơ bảo hiểm")
    fed.tokens = {n: member_token(fed, n, m) for n, m in OFFICERS.items()}
    auth = {"Authorization": "Bearer " + fed.tokens["bca"]}
    fed.datasets = {}
    for service, title, desc, offers in (
            (F.ECHO, {"vi": "Dịch vụ phản hồi", "en": "Echo service"},
             {"vi": "Trả lại yêu cầu đã gửi", "en": "Returns the request"},
             [OPEN_OFFER, ENTERPRISE_ONLY]),
            (F.CITIZENS, {"vi": "Tra cứu hộ tịch", "en": "Civil status lookup"},
             {"vi": "Đối chiếu họ tên và ngày sinh", "en": "Checks a name and birth date"},
             [ENTERPRISE_ONLY])):
        r = requests.post(fed.registry.url + "/market/datasets", headers=auth, timeout=10, json={
            "service": service, "title": title, "description": desc,
            "theme": ["http://publications.europa.eu/resource/authority/data-theme/GOVE"],
            "license": "https://creativecommons.org/licenses/by/4.0/",
            "accrual_periodicity": "DAILY", "sample": {"ok": True}, "offers": offers})
        assert r.status_code == 201, r.text
        fed.datasets[service] = r.json()
    echo = fed.datasets[F.ECHO]["hasPolicy"]
    fed.open_offer = echo[0]["@id"]
    fed.enterprise_offer = echo[1]["@id"]
    fed.citizens_dataset = fed.datasets[F.CITIZENS]["@id"]
    fed.echo_dataset = fed.datasets[F.ECHO]["@id"]


class Env:
    pass


@pytest.fixture(scope="module")
def env(build_dir):
    with F.running_federation(build_dir, "ndx-portal-market-", setup=setup_market) as fed:
        e = Env()
        e.fed = fed
        e.exe = exe(build_dir, "src", "portal", "ndx-portal")
        d = Path(tempfile.mkdtemp(prefix="ndx-portal-market-"))
        (d / "web").mkdir()
        (d / "web" / "index.html").write_text("<!doctype html><title>ndx</title>")
        (d / "client.secret").write_text(CLIENT_SECRET + "\n")
        e.eid = FakeEid()
        creds = d / "market-credentials"
        creds.mkdir(mode=0o700)
        for who in ENROLLED:
            f = creds / (OFFICERS[who].replace("/", "_") + ".token")
            f.write_text(fed.tokens[who] + "\n")
            f.chmod(0o600)
        e.port = free_port()
        e.url = f"http://127.0.0.1:{e.port}"
        cfg = {"listen": f"127.0.0.1:{e.port}", "public_url": e.url, "data_dir": "data",
               "web_dir": "web",
               "oidc": {"issuer": e.eid.issuer, "client_id": CLIENT_ID,
                        "client_secret_file": "client.secret"},
               # The portal's gateway: BHXH's here, for listClients (the members'
               # names and systems).
               "exchange": {"consumer_url": fed.gateways["BHXH"].url,
                            "client": "VN/GOV/VPCP/portal"},
               "market": {"registry_url": fed.registry.url,
                          "credentials_dir": "market-credentials",
                          "anchor": str(fed.registry.anchor)},
               # The banks an invoice's buyer is offered (test_invoices_...).
               "payment": {"orders_service": "VN/GOV/KBNN/treasury/orders",
                           "banks": [{"name": "Ngân hàng Thử nghiệm",
                                      "url": "http://127.0.0.1:9/pay"}]}}
        e.config = d / "portal.json"
        e.config.write_text(json.dumps(cfg, indent=2))
        pw = d / "pw"
        pw.write_text(PASSWORD + "\n")
        for who, member in OFFICERS.items():
            r = subprocess.run([str(e.exe), "officer", "add", "--config", str(e.config),
                                "--username", f"canbo.{who}", "--name", f"Cán bộ {who}",
                                "--agency", member, "--password-file", str(pw),
                                "--cost", "min"], capture_output=True, text=True, timeout=30)
            assert r.returncode == 0, r.stderr
        for who, role, member in ((AGENCY_OFFICIAL, "agency", F.BHXH),
                                  (AUDITOR, "auditor", "VN/GOV/VPCP")):
            r = subprocess.run([str(e.exe), "official", "add", "--config", str(e.config),
                                "--pin", who[0], "--name", who[1], "--role", role,
                                "--member", member], capture_output=True, text=True, timeout=30)
            assert r.returncode == 0, r.stderr
        e.portal = None
        try:
            e.portal = Proc("portal", [e.exe, "serve", "--config", e.config], e.url, d).start()
            yield e
        finally:
            rc = e.portal.stop() if e.portal else 0
            e.eid.stop()
        assert rc == 0, e.portal.tail()


def officer(env, who):
    s = requests.Session()
    tok = s.get(env.url + "/auth/officer", timeout=10).json()["csrf"]
    r = s.post(env.url + "/auth/officer", json={"username": f"canbo.{who}", "password": PASSWORD},
               headers={"X-CSRF-Token": tok}, timeout=30)
    assert r.status_code == 200, r.text
    s.csrf = r.json()["csrf"]
    return s


def post(env, s, path, body, csrf=True):
    h = {"X-CSRF-Token": s.csrf} if csrf else {}
    return s.post(env.url + path, json=body, headers=h, timeout=30)


def error(r, status, code):
    assert r.status_code == status, f"{r.status_code} {r.text}"
    assert r.json()["error"] == code, r.text
    return r.json()


def datasets(env, s=None, q=None):
    url = env.url + "/api/market/datasets"
    if q is not None:
        url += "?q=" + urllib.parse.quote(q)
    r = (s or requests).get(url, timeout=20)
    assert r.status_code == 200, r.text
    return r.json()["datasets"]


def registry_negotiations(env, who):
    r = requests.get(env.fed.registry.url + "/market/negotiations", timeout=10,
                     headers={"Authorization": "Bearer " + env.fed.tokens[who]})
    assert r.status_code == 200, r.text
    return r.json()["negotiations"]


# ---- browsing ----------------------------------------------------------------------------

def test_browse_without_signing_in(env):
    found = datasets(env)
    # Only the offers open to every class: the echo service's first; the citizens
    # service, offered to enterprises only, is not listed.
    assert [d["id"] for d in found] == [env.fed.echo_dataset]
    d = found[0]
    assert d["title"] == {"vi": "Dịch vụ phản hồi", "en": "Echo service"}
    assert d["publisher"] == {"id": F.BCA, "name": "Bộ Công an"}
    assert [o["id"] for o in d["offers"]] == [env.fed.open_offer]
    terms = d["offers"][0]["terms"]
    assert terms == {"purposes": ["public-service", "research"], "classes":
                     ["state", "enterprise", "research"], "methods": ["GET", "HEAD"],
                     "period": "day", "no_onward_transfer": True, "price_vnd": 500,
                     "price_unit": "call", "validity_days": 30, "max_calls": 5,
                     "max_age_s": None}, terms
    # The dataset's page: its DCAT-AP description and the same offers.
    r = requests.get(f"{env.url}/api/market/datasets/{env.fed.echo_dataset}", timeout=10)
    assert r.status_code == 200, r.text
    page = r.json()
    assert page["frequency"] == "DAILY" and page["sample"] == {"ok": True}
    assert page["license"] == "https://creativecommons.org/licenses/by/4.0/"
    assert page["themes"] == ["http://publications.europa.eu/resource/authority/data-theme/GOVE"]
    assert page["service"] == F.ECHO and page["as"] is None and page["event"] is None
    assert [o["id"] for o in page["offers"]] == [env.fed.open_offer]
    # A dataset whose offers the visitor may not see is not found, like one that
    # does not exist; a malformed id likewise.
    for ident in (env.fed.citizens_dataset, "urn:uuid:00000000-0000-4000-8000-000000000000",
                  "not%20an%20id"):
        error(requests.get(f"{env.url}/api/market/datasets/{ident}", timeout=10),
              404, "not_found")
    # The pages themselves are the web UI's.
    assert requests.get(env.url + "/market", timeout=10).status_code == 200


def test_search_with_and_without_diacritics(env):
    for q in ("phản hồi", "phan hoi", "PHAN HỒI", "trả lại", "tra lai", "echo", "  phan   hoi "):
        assert [d["id"] for d in datasets(env, q=q)] == [env.fed.echo_dataset], q
    for q in ("phan hoi nhanh", "khong co", "hộ tịch"):
        assert datasets(env, q=q) == [], q
    # The bank (an enterprise) finds the civil-status lookup without its accents.
    bank = officer(env, "bank")
    assert [d["id"] for d in datasets(env, bank, q="ho tich")] == [env.fed.citizens_dataset]
    assert [d["id"] for d in datasets(env, bank, q="Hộ Tịch")] == [env.fed.citizens_dataset]
    # A query that is too long, or another parameter: 400, never an unfiltered list.
    error(requests.get(env.url + "/api/market/datasets?q=" + "a" * 201, timeout=10),
          400, "invalid")
    error(requests.get(env.url + "/api/market/datasets?provider=VN/GOV/BCA", timeout=10),
          400, "invalid")
    error(requests.get(env.url + "/api/market/datasets?q=x&q=y", timeout=10), 400, "invalid")


def test_an_excluded_class_does_not_see_the_offer(env):
    bhxh = officer(env, "bhxh")  # a state body
    listed = datasets(env, bhxh)
    assert [d["id"] for d in listed] == [env.fed.echo_dataset]
    assert [o["id"] for o in listed[0]["offers"]] == [env.fed.open_offer]
    # Not by the dataset's URL either …
    error(bhxh.get(f"{env.url}/api/market/datasets/{env.fed.citizens_dataset}", timeout=10),
          404, "not_found")
    page = bhxh.get(f"{env.url}/api/market/datasets/{env.fed.echo_dataset}", timeout=10).json()
    assert [o["id"] for o in page["offers"]] == [env.fed.open_offer] and page["as"] == F.BHXH
    # … nor by asking for the offer's id: no negotiation is started.
    before = len(registry_negotiations(env, "bhxh"))
    error(post(env, bhxh, "/api/market/requests", {"offer": env.fed.enterprise_offer}),
          404, "not_found")
    assert len(registry_negotiations(env, "bhxh")) == before
    # The bank sees both of the echo service's offers and the citizens service.
    bank = officer(env, "bank")
    listed = {d["id"]: d for d in datasets(env, bank)}
    assert set(listed) == {env.fed.echo_dataset, env.fed.citizens_dataset}
    assert [o["id"] for o in listed[env.fed.echo_dataset]["offers"]] == [
        env.fed.open_offer, env.fed.enterprise_offer]
    r = bank.get(f"{env.url}/api/market/datasets/{env.fed.citizens_dataset}", timeout=10)
    assert r.status_code == 200, r.text
    # Terms it does not set are said as null: no limit, free, any purpose.
    assert r.json()["offers"][0]["terms"] == {
        "purposes": [], "classes": ["enterprise"], "methods": ["GET", "HEAD"], "period": None,
        "no_onward_transfer": False, "price_vnd": 0, "price_unit": None,
        "validity_days": None, "max_calls": None, "max_age_s": None}


# ---- requesting and approving ----------------------------------------------------------------

def test_request_approve_finalized_grant_and_first_call(env):
    fed = env.fed
    refusals.check_response(fed.call("BHXH", "GET", F.ECHO, "/x", client=F.INSURANCE,
                                     headers={"Ndx-Purpose": "public-service"}), "NoGrant")
    bhxh, bca = officer(env, "bhxh"), officer(env, "bca")
    # The session names the member the officer acts for; the portal knows its systems.
    assert bhxh.get(env.url + "/api/session", timeout=10).json()["market"] == {
        "member": F.BHXH, "via": "officer"}
    me = bhxh.get(env.url + "/api/market/me", timeout=10).json()
    assert me["member"] == F.BHXH and me["class"] == "state" and me["enrolled"] is True
    assert F.INSURANCE in me["subsystems"] and me["member_name"] == "Bảo hiểm xã hội Việt Nam"
    # BHXH's officer requests the open offer for its insurance system.
    r = post(env, bhxh, "/api/market/requests", {"offer": fed.open_offer, "client": F.INSURANCE})
    assert r.status_code == 201, r.text
    n = r.json()
    assert n["state"] == "REQUESTED" and n["side"] == "consumer" and n["client"] == F.INSURANCE
    pid = n["provider_pid"]
    # The provider's officer sees it waiting, with the requester's name and the terms.
    mine = bca.get(env.url + "/api/market/negotiations", timeout=20).json()
    row = [x for x in mine["negotiations"] if x["provider_pid"] == pid][0]
    assert row["side"] == "provider" and row["state"] == "REQUESTED"
    assert row["consumer_name"] == "Bảo hiểm xã hội Việt Nam"
    assert row["title"]["vi"] == "Dịch vụ phản hồi" and row["terms"]["max_calls"] == 5
    # The requester cannot approve its own request.
    error(post(env, bhxh, f"/api/market/negotiations/{pid}/decision", {"action": "approve"}),
          403, "forbidden")
    # BCA's officer approves: agreed, verified and finalised at the registry.
    r = post(env, bca, f"/api/market/negotiations/{pid}/decision", {"action": "approve"})
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["state"] == "FINALIZED" and done["agreement_state"] == "active", done
    assert done["not_after"]
    at_registry = [x for x in registry_negotiations(env, "bhxh") if x["provider_pid"] == pid][0]
    assert at_registry["state"] == "FINALIZED"
    # The grant is in the next signed configuration, and the first call succeeds.
    conf = fed.conf()
    grants = [g for g in conf["grants"] if g.get("agreement") == done["agreement"]]
    assert len(grants) == 1 and grants[0]["client"] == F.INSURANCE
    assert grants[0]["service"] == F.ECHO
    for gw in fed.gateways.values():
        fed.wait_conf(gw, conf["version"])
    r = fed.call("BHXH", "GET", F.ECHO, "/x", client=F.INSURANCE,
                 headers={"Ndx-Purpose": "public-service"})
    assert r.status_code == 200, f"{r.status_code} {r.text}\n{fed.tails()}"
    # A decided request takes no second approval.
    error(post(env, bca, f"/api/market/negotiations/{pid}/decision", {"action": "approve"}),
          409, "conflict")
    # The registry's audit names both parties' credentials, each for its own messages.
    audit = requests.get(fed.registry.url + "/api/audit?limit=50", timeout=10,
                         headers={"Authorization": "Bearer " + fed.registry.token}).json()
    acts = [(a["action"], a["actor"]) for a in audit["audit"] if a["object"] == pid]
    assert ("negotiation.requested", "bhxh") in acts and ("negotiation.agreed", "bca") in acts
    assert ("negotiation.verified", "bhxh") in acts and ("negotiation.finalized", "bca") in acts


def test_counter_offer_accepted_and_a_request_declined(env):
    bank, bca = officer(env, "bank"), officer(env, "bca")
    r = post(env, bank, "/api/market/requests", {"offer": env.fed.open_offer})
    assert r.status_code == 201, r.text
    pid = r.json()["provider_pid"]
    error(post(env, bca, f"/api/market/negotiations/{pid}/decision",
               {"action": "counter", "max_calls": 0}), 422, "validation")
    r = post(env, bca, f"/api/market/negotiations/{pid}/decision",
             {"action": "counter", "max_calls": 3})
    assert r.status_code == 200 and r.json()["state"] == "OFFERED", r.text
    assert r.json()["offered_by"] == "provider" and r.json()["terms"]["max_calls"] == 3
    # Only the consumer accepts.
    error(post(env, bca, f"/api/market/negotiations/{pid}/decision", {"action": "accept"}),
          403, "forbidden")
    r = post(env, bank, f"/api/market/negotiations/{pid}/decision", {"action": "accept"})
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "FINALIZED" and r.json()["terms"]["max_calls"] == 3
    grants = [g for g in env.fed.conf()["grants"] if g.get("agreement") == r.json()["agreement"]]
    assert len(grants) == 1 and grants[0]["client"] == BANK
    assert grants[0]["policy"]["permission"][0]["constraint"][-1]["rightOperand"] == 3
    # A request the provider declines ends TERMINATED, with its reason.
    r = post(env, bank, "/api/market/requests", {"offer": env.fed.enterprise_offer})
    pid = r.json()["provider_pid"]
    r = post(env, bca, f"/api/market/negotiations/{pid}/decision",
             {"action": "terminate", "reason": "Chưa đủ căn cứ pháp lý"})
    assert r.status_code == 200 and r.json()["state"] == "TERMINATED", r.text
    error(post(env, bca, f"/api/market/negotiations/{pid}/decision", {"action": "terminate"}),
          409, "conflict")


def test_an_officer_acts_only_for_their_own_member(env):
    bhxh, bca, btc = officer(env, "bhxh"), officer(env, "bca"), officer(env, "btc")
    r = post(env, bhxh, "/api/market/requests", {"offer": env.fed.open_offer})
    assert r.status_code == 201, r.text
    pid = r.json()["provider_pid"]
    # BTC is neither party: the negotiation is not found for it, and nothing changes.
    # (BTC has given the portal no credential either: it cannot even list its own.)
    error(post(env, btc, f"/api/market/negotiations/{pid}/decision", {"action": "approve"}),
          403, "not_enrolled")
    error(btc.get(env.url + "/api/market/negotiations", timeout=10), 403, "not_enrolled")
    error(post(env, btc, "/api/market/requests", {"offer": env.fed.open_offer}),
          403, "not_enrolled")
    # The bank is enrolled but no party to it: 404, the registry not asked to act.
    bank = officer(env, "bank")
    error(post(env, bank, f"/api/market/negotiations/{pid}/decision",
               {"action": "terminate"}), 404, "not_found")
    # A body naming another member, or a system of another member, is refused:
    # the member is the session's, never the browser's.
    e = error(post(env, bhxh, "/api/market/requests",
                   {"offer": env.fed.open_offer, "consumer": BANK}), 422, "validation")
    assert e["fields"] == {"consumer": "unknown"}
    e = error(post(env, bhxh, "/api/market/requests",
                   {"offer": env.fed.open_offer, "client": F.TAX}), 422, "validation")
    assert e["fields"] == {"client": "invalid"}
    e = error(post(env, bhxh, "/api/market/requests",
                   {"offer": env.fed.open_offer, "client": F.BHXH + "/nosuch"}),
              422, "validation")
    assert e["fields"] == {"client": "unknown"}
    e = error(post(env, bca, f"/api/market/negotiations/{pid}/decision",
                   {"action": "approve", "member": F.BHXH}), 422, "validation")
    assert e["fields"] == {"member": "unknown"}
    # Without the CSRF token, or without a session: nothing is sent.
    error(post(env, bca, f"/api/market/negotiations/{pid}/decision", {"action": "approve"},
               csrf=False), 403, "csrf")
    error(requests.post(f"{env.url}/api/market/negotiations/{pid}/decision", timeout=10,
                        json={"action": "approve"}), 401, "unauthenticated")
    error(requests.get(env.url + "/api/market/negotiations", timeout=10), 401, "unauthenticated")
    state = [x for x in registry_negotiations(env, "bca") if x["provider_pid"] == pid][0]
    assert state["state"] == "REQUESTED"
    # Each refusal of the gate is on the portal's stderr with who asked.
    assert "ndx-portal: market: refused POST" in env.portal.stderr_path.read_text()


def test_an_agency_official_signed_in_with_the_eid_acts_for_its_member(env):
    def eid_session(who):
        env.eid.user, env.eid.mode = who, "good"
        s = requests.Session()
        r = s.get(env.url + "/auth/login?next=/market/requests", timeout=20)
        assert r.status_code == 200 and urllib.parse.urlsplit(r.url).path == "/market/requests"
        s.csrf = s.get(env.url + "/api/session", timeout=10).json()["csrf"]
        return s

    official = eid_session(AGENCY_OFFICIAL)
    assert official.get(env.url + "/api/session", timeout=10).json()["market"] == {
        "member": F.BHXH, "via": "official"}
    r = post(env, official, "/api/market/requests", {"offer": env.fed.open_offer})
    assert r.status_code == 201 and r.json()["consumer"] == F.BHXH, r.text
    mine = official.get(env.url + "/api/market/negotiations", timeout=20).json()
    assert mine["member"] == F.BHXH and mine["via"] == "official"
    assert r.json()["provider_pid"] in [n["provider_pid"] for n in mine["negotiations"]]
    # An auditor of the operations centre and a citizen are no party: browsing only.
    for who in (AUDITOR, CITIZEN):
        s = eid_session(who)
        assert "market" not in s.get(env.url + "/api/session", timeout=10).json()
        error(s.get(env.url + "/api/market/negotiations", timeout=10), 403, "not_a_party")
        error(post(env, s, "/api/market/requests", {"offer": env.fed.open_offer}),
              403, "not_a_party")
        assert [d["id"] for d in datasets(env, s)] == [env.fed.echo_dataset]


# ---- publishing and withdrawing ---------------------------------------------------------------

PUBLISH_FORM = {
    "service": RECORDS,
    "title_vi": "Hồ sơ tham gia bảo hiểm", "title_en": "Insurance records",
    "description_vi": "Quá trình đóng bảo hiểm xã hội của người lao động",
    "description_en": "A worker's social insurance contributions",
    "themes": ["SOCI", "GOVE"], "license": "https://creativecommons.org/licenses/by/4.0/",
    "frequency": "MONTHLY", "sample": '{"months": 12}',
    "offers": [
        {"purposes": ["public-service"], "classes": ["state"], "methods": ["GET"],
         "validity_days": 365, "max_calls": 100, "period": "hour", "price_vnd": 0,
         "no_onward_transfer": True},
        {"purposes": ["customer-verification", "research"], "classes": ["enterprise", "research"],
         "validity_days": 30, "max_calls": 2000, "period": "month", "price_vnd": 1500000,
         "price_unit": "month", "no_onward_transfer": False, "max_age_minutes": 1440},
    ],
}


def form(**changes):
    f = json.loads(json.dumps(PUBLISH_FORM))
    for k, v in changes.items():
        if k.startswith("offer0_"):
            f["offers"][0][k[7:]] = v
        elif v is None:
            del f[k]
        else:
            f[k] = v
    return f


def registry_dataset_ids(env, who):
    r = requests.post(env.fed.registry.url + "/dsp/catalog/request", timeout=10,
                      headers={"Authorization": "Bearer " + env.fed.tokens[who]},
                      json={"@type": "CatalogRequestMessage"})
    assert r.status_code == 200, r.text
    return {d["@id"]: d for d in r.json()["dataset"]}


def test_publish_and_withdraw_on_the_page(env):
    bhxh, bca, bank = officer(env, "bhxh"), officer(env, "bca"), officer(env, "bank")
    before = set(registry_dataset_ids(env, "bhxh"))
    # Every field's error at once, each at its field; nothing reaches the registry.
    e = error(post(env, bhxh, "/api/market/datasets", form(
        title_en="", description_vi="x" * 4097, frequency="HOURLY", themes=["GOVE", "NOPE"],
        sample="{not json", license=None,
        offer0_purposes=["Public Service"], offer0_validity_days=0, offer0_price_vnd=-5)),
        422, "validation")
    assert e["fields"] == {
        "title_en": "required", "description_vi": "too_long", "frequency": "invalid",
        "themes": "invalid", "sample": "invalid_json", "license": "required",
        "offers.0.price_vnd": "invalid"}, e["fields"]
    # The ODRL parser's refusals, said at the term's field.
    for change, field in ((dict(offer0_purposes=["Public Service"]), "purposes"),
                          (dict(offer0_purposes=["a", "b", "c", "d", "e", "f", "g", "h", "i"]),
                           "purposes"),
                          (dict(offer0_validity_days=0), "validity_days"),
                          (dict(offer0_validity_days=36501), "validity_days"),
                          (dict(offer0_max_calls=0), "max_calls"),
                          (dict(offer0_max_calls=10**9 + 1), "max_calls"),
                          (dict(offer0_max_age_minutes=0), "max_age_minutes"),
                          (dict(offer0_max_age_minutes=36500 * 1440 + 1), "max_age_minutes")):
        e = error(post(env, bhxh, "/api/market/datasets", form(**change)), 422, "validation")
        assert e["fields"] == {f"offers.0.{field}": "invalid"}, (change, e)
    for change, fields in ((dict(offer0_period=None), {"offers.0.period": "required"}),
                           (dict(offer0_price_vnd=10), {"offers.0.price_unit": "required"}),
                           (dict(offer0_classes=[]), {"offers.0.classes": "required"}),
                           (dict(offer0_classes=["citizen"]), {"offers.0.classes": "invalid"}),
                           (dict(offer0_methods=["TRACE"]), {"offers.0.methods": "invalid"}),
                           (dict(offer0_target="x"), {"offers.0.target": "unknown"}),
                           (dict(offers=[]), {"offers": "invalid"}),
                           (dict(title_vi="Tên\u202egiả"), {"title_vi": "invalid_text"})):
        if "offer0_period" in change:
            f = form()
            del f["offers"][0]["period"]
        else:
            f = form(**change)
        e = error(post(env, bhxh, "/api/market/datasets", f), 422, "validation")
        assert e["fields"] == fields, (change, e)
    # The registry's own refusals, at the service field: another member's service
    # (refused by the portal before the registry), one that does not exist, one that
    # already has a dataset (BCA's echo).
    e = error(post(env, bhxh, "/api/market/datasets", form(service=F.ECHO)), 422, "validation")
    assert e["fields"] == {"service": "not_yours"}
    e = error(post(env, bhxh, "/api/market/datasets", form(service=F.INSURANCE + "/nosuch")),
              422, "validation")
    assert e["fields"] == {"service": "unknown"}
    e = error(post(env, bca, "/api/market/datasets", form(service=F.ECHO)), 422, "validation")
    assert e["fields"] == {"service": "has_dataset"}
    assert set(registry_dataset_ids(env, "bhxh")) == before
    # A member the portal holds no credential of, no CSRF token, no session.
    btc = officer(env, "btc")
    error(post(env, btc, "/api/market/datasets", form(service=F.TAX + "/x")), 403,
          "not_enrolled")
    error(post(env, bhxh, "/api/market/datasets", form(), csrf=False), 403, "csrf")
    error(requests.post(env.url + "/api/market/datasets", json=form(), timeout=10),
          401, "unauthenticated")
    # Published: the offers are the registry's canonical ODRL of the form's terms.
    r = post(env, bhxh, "/api/market/datasets", form())
    assert r.status_code == 201, r.text
    d = r.json()
    assert d["service"] == RECORDS and d["frequency"] == "MONTHLY" and d["sample"] == {"months": 12}
    assert d["title"] == {"vi": "Hồ sơ tham gia bảo hiểm", "en": "Insurance records"}
    assert d["themes"] == ["http://publications.europa.eu/resource/authority/data-theme/SOCI",
                           "http://publications.europa.eu/resource/authority/data-theme/GOVE"]
    assert [o["terms"] for o in d["offers"]] == [
        {"purposes": ["public-service"], "classes": ["state"], "methods": ["GET"],
         "period": "hour", "no_onward_transfer": True, "price_vnd": 0, "price_unit": None,
         "validity_days": 365, "max_calls": 100, "max_age_s": None},
        {"purposes": ["customer-verification", "research"], "classes": ["enterprise", "research"],
         "methods": ["GET", "HEAD"], "period": "month", "no_onward_transfer": False,
         "price_vnd": 1500000, "price_unit": "month", "validity_days": 30, "max_calls": 2000,
         "max_age_s": 86400}]
    at_registry = registry_dataset_ids(env, "bhxh")
    assert d["id"] in at_registry and at_registry[d["id"]]["ndx:service"] == RECORDS
    mine = bhxh.get(env.url + "/api/market/published", timeout=10).json()
    assert mine["member"] == F.BHXH and [x["id"] for x in mine["datasets"]] == [d["id"]]
    assert len(mine["datasets"][0]["offers"]) == 2
    # The bank (an enterprise) sees only the offer for its class; BCA's list is its own.
    page = bank.get(f"{env.url}/api/market/datasets/{d['id']}", timeout=10).json()
    assert [o["terms"]["classes"] for o in page["offers"]] == [["enterprise", "research"]]
    assert d["id"] not in [x["id"] for x in bca.get(env.url + "/api/market/published",
                                                     timeout=10).json()["datasets"]]
    # Publishing the same service again: the registry's 409, at the service field.
    e = error(post(env, bhxh, "/api/market/datasets", form()), 422, "validation")
    assert e["fields"] == {"service": "has_dataset"}
    # Only its provider withdraws it: another member's officer is told it is not found.
    wd = f"/api/market/datasets/{d['id']}/withdrawal"
    error(post(env, bank, wd, {}), 404, "not_found")
    error(post(env, bca, wd, {}), 404, "not_found")
    error(post(env, bhxh, wd, {"member": F.BCA}), 422, "validation")
    error(post(env, bhxh, wd, {}, csrf=False), 403, "csrf")
    assert d["id"] in registry_dataset_ids(env, "bhxh")
    r = post(env, bhxh, wd, {})
    assert r.status_code == 200 and r.json() == {"withdrawn": d["id"]}, r.text
    assert d["id"] not in registry_dataset_ids(env, "bhxh")
    assert bhxh.get(env.url + "/api/market/published", timeout=10).json()["datasets"] == []
    error(post(env, bhxh, wd, {}), 404, "not_found")
    audit = requests.get(env.fed.registry.url + "/api/audit?limit=100", timeout=10,
                         headers={"Authorization": "Bearer " + env.fed.registry.token}).json()
    acts = [(a["action"], a["actor"]) for a in audit["audit"] if a["object"] == d["id"]]
    assert ("dataset.publish", "bhxh") in acts and ("dataset.withdraw", "bhxh") in acts


# ---- ending an agreement, counter-offers of every term ------------------------------------------

def agreed(env, consumer, provider, offer, **kw):
    """A negotiation requested by consumer and approved by provider: FINALIZED."""
    r = post(env, consumer, "/api/market/requests", {"offer": offer, **kw})
    assert r.status_code == 201, r.text
    pid = r.json()["provider_pid"]
    r = post(env, provider, f"/api/market/negotiations/{pid}/decision", {"action": "approve"})
    assert r.status_code == 200 and r.json()["state"] == "FINALIZED", r.text
    return r.json()


def test_ending_an_agreement_on_the_page(env):
    bhxh, bca, bank = officer(env, "bhxh"), officer(env, "bca"), officer(env, "bank")
    n = agreed(env, bhxh, bca, env.fed.open_offer)
    aid = n["agreement"]
    end = f"/api/market/agreements/{aid}/termination"
    assert any(g.get("agreement") == aid for g in env.fed.conf()["grants"])
    # The confirmation step is the body's; a stranger is told it is not found; an id
    # that is no agreement likewise; nothing ends.
    e = error(post(env, bca, end, {}), 422, "validation")
    assert e["fields"] == {"confirm": "required"}
    error(post(env, bca, end, {"confirm": True, "member": F.BHXH}), 422, "validation")
    error(post(env, bank, end, {"confirm": True}), 404, "not_found")
    error(post(env, bca, "/api/market/agreements/urn:uuid:00000000-0000-4000-8000-"
                         "000000000000/termination", {"confirm": True}), 404, "not_found")
    error(post(env, bca, end, {"confirm": True}, csrf=False), 403, "csrf")
    error(post(env, officer(env, "btc"), end, {"confirm": True}), 403, "not_enrolled")
    assert any(g.get("agreement") == aid for g in env.fed.conf()["grants"])
    # The provider ends it: terminated, and its grant leaves the next configuration.
    r = post(env, bca, end, {"confirm": True})
    assert r.status_code == 200, r.text
    v = r.json()
    assert v["agreement"] == aid and v["agreement_state"] == "terminated"
    assert v["state"] == "FINALIZED" and v["side"] == "provider"
    conf = env.fed.conf()
    assert conf["version"] >= v["conf_version"]
    assert not any(g.get("agreement") == aid for g in conf["grants"])
    row = [x for x in registry_negotiations(env, "bhxh") if x["agreement_id"] == aid][0]
    assert row["agreement_state"] == "terminated"
    mine = bhxh.get(env.url + "/api/market/negotiations", timeout=20).json()["negotiations"]
    assert [x["agreement_state"] for x in mine if x["agreement"] == aid] == ["terminated"]
    # Not in force any more: 409, from either party.
    error(post(env, bca, end, {"confirm": True}), 409, "not_in_force")
    error(post(env, bhxh, end, {"confirm": True}), 409, "not_in_force")
    # The consumer ends its own agreement too.
    n = agreed(env, bank, bca, env.fed.enterprise_offer)
    r = post(env, bank, f"/api/market/agreements/{n['agreement']}/termination", {"confirm": True})
    assert r.status_code == 200 and r.json()["agreement_state"] == "terminated", r.text
    assert r.json()["side"] == "consumer"
    audit = requests.get(env.fed.registry.url + "/api/audit?limit=100", timeout=10,
                         headers={"Authorization": "Bearer " + env.fed.registry.token}).json()
    acts = {(a["object"], a["actor"]) for a in audit["audit"] if a["action"] ==
            "agreement.terminate"}
    assert (aid, "bca") in acts and (n["agreement"], "bank") in acts


def test_counter_offers_of_validity_and_price_and_the_consumers_counter(env):
    bank, bca = officer(env, "bank"), officer(env, "bca")
    r = post(env, bank, "/api/market/requests", {"offer": env.fed.open_offer})
    assert r.status_code == 201, r.text
    pid = r.json()["provider_pid"]
    dec = f"/api/market/negotiations/{pid}/decision"
    # The consumer cannot counter its own request: it is the provider's turn.
    error(post(env, bank, dec, {"action": "counter", "price_vnd": 100}), 409, "conflict")
    for bad in ({"validity_days": 0}, {"validity_days": 36501}, {"price_vnd": -1},
                {"price_vnd": "100"}, {}):
        error(post(env, bca, dec, {"action": "counter", **bad}), 422, "validation")
    # The provider counters with another validity and price (max calls kept).
    r = post(env, bca, dec, {"action": "counter", "validity_days": 60, "price_vnd": 800})
    assert r.status_code == 200, r.text
    n = r.json()
    assert n["state"] == "OFFERED" and n["offered_by"] == "provider"
    assert (n["terms"]["validity_days"], n["terms"]["price_vnd"], n["terms"]["max_calls"]) == (
        60, 800, 5)
    # Now it is the consumer's turn: the provider cannot counter again, nor approve.
    error(post(env, bca, dec, {"action": "counter", "price_vnd": 900}), 409, "conflict")
    error(post(env, bca, dec, {"action": "approve"}), 409, "conflict")
    error(post(env, bank, dec, {"action": "counter", "max_calls": 0}), 422, "validation")
    # The consumer counters the counter-offer with its own terms.
    r = post(env, bank, dec, {"action": "counter", "max_calls": 4, "price_vnd": 600})
    assert r.status_code == 200, r.text
    n = r.json()
    assert n["state"] == "REQUESTED" and n["offered_by"] == "consumer" and n["side"] == "consumer"
    assert (n["terms"]["validity_days"], n["terms"]["price_vnd"], n["terms"]["max_calls"]) == (
        60, 600, 4)
    error(post(env, bank, dec, {"action": "counter", "max_calls": 3}), 409, "conflict")
    error(post(env, bank, dec, {"action": "approve"}), 403, "forbidden")
    # The provider approves the consumer's terms: the agreement and its grant carry them.
    r = post(env, bca, dec, {"action": "approve"})
    assert r.status_code == 200 and r.json()["state"] == "FINALIZED", r.text
    aid = r.json()["agreement"]
    grant = [g for g in env.fed.conf()["grants"] if g.get("agreement") == aid]
    assert len(grant) == 1
    cs = {c["leftOperand"]: c for c in grant[0]["policy"]["permission"][0]["constraint"]}
    assert cs["count"]["rightOperand"] == 4 and cs["elapsedTime"]["rightOperand"] == "P60D"
    assert grant[0]["policy"]["obligation"][0]["constraint"][0]["rightOperand"] == 600
    # No counter after the agreement.
    error(post(env, bank, dec, {"action": "counter", "max_calls": 3}), 409, "conflict")
    r = post(env, bank, f"/api/market/agreements/{aid}/termination", {"confirm": True})
    assert r.status_code == 200 and r.json()["agreement_state"] == "terminated", r.text


# ---- usage statements -----------------------------------------------------------------------

def test_a_usage_statement_checked_on_the_page(env):
    fed = env.fed
    bhxh, bca, bank = officer(env, "bhxh"), officer(env, "bca"), officer(env, "bank")
    start = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    n = agreed(env, bhxh, bca, fed.open_offer, client=F.INSURANCE)
    conf = fed.conf()
    for gw in fed.gateways.values():
        fed.wait_conf(gw, conf["version"])
    for _ in range(2):
        r = fed.call("BHXH", "GET", F.ECHO, "/x", client=F.INSURANCE,
                     headers={"Ndx-Purpose": "public-service"})
        assert r.status_code == 200, f"{r.status_code} {r.text}\n{fed.tails()}"
    end = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    period = ["--from", start.strftime("%Y-%m-%dT%H:%M:%SZ"),
              "--to", (end + datetime.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")]
    res = MS.make_statement(fed, "BCA", n["agreement"], period)
    assert res.returncode == 0, res.stderr
    st = json.loads(res.stdout)
    assert st["count"] >= 2
    check = "/api/market/statements/check"
    # Either party checks it: signature, proofs, count and amount, with the signer's
    # key from the signed configuration; the own-log comparison is not the portal's.
    for who in (bhxh, bca):
        r = post(env, who, check, {"statement": json.dumps(st)})
        assert r.status_code == 200, r.text
        v = r.json()
        assert v["verified"] is True and v["reason"] is None, v
        assert v["agreement"] == n["agreement"] and v["side"] == "provider"
        assert v["signer"] == st["gateway"] and v["signer"].startswith(F.BCA + "/")
        assert v["count"] == st["count"] and v["amount_vnd"] == st["count"] * 500
        assert v["price_vnd"] == 500 and v["price_unit"] == "ndx:VNDPerCall"
        assert v["own_log"]["compared"] == "no"
        assert len(v["statement_hash"]) == 64
    # A statement object rather than its text is the same.
    r = post(env, bhxh, check, {"statement": st})
    assert r.status_code == 200 and r.json()["verified"] is True, r.text
    # Altered after signing: refused, with the reason.
    forged = dict(st, count=st["count"] + 1, amount_due=(st["count"] + 1) * 500)
    r = post(env, bhxh, check, {"statement": json.dumps(forged)})
    assert r.status_code == 200 and r.json()["verified"] is False, r.text
    assert r.json()["reason"]
    # Signed again by its signer, but at another price, or in the consumer's name.
    for change, word in (({"price": 400, "amount_due": st["count"] * 400}, "price"),
                         ({"side": "consumer"}, "consumer")):
        s2 = MS.resign(fed, "BCA", dict(json.loads(json.dumps(st)), **change))
        r = post(env, bhxh, check, {"statement": s2})
        assert r.status_code == 200 and r.json()["verified"] is False, r.text
        assert word in r.json()["reason"], r.json()
    # Not a party's agreement, not a statement, no session.
    error(post(env, bank, check, {"statement": json.dumps(st)}), 404, "not_found")
    for bad in ("{}", "not json", "", {"format": "x"}):
        e = error(post(env, bhxh, check, {"statement": bad}), 422, "validation")
        assert e["fields"] == {"statement": "invalid"}
    e = error(post(env, bhxh, check, {}), 422, "validation")
    assert e["fields"] == {"statement": "required"}
    error(post(env, bhxh, check, {"statement": st, "member": F.BCA}), 422, "validation")
    error(requests.post(env.url + check, json={"statement": st}, timeout=10), 401,
          "unauthenticated")
    r = post(env, bhxh, f"/api/market/agreements/{n['agreement']}/termination", {"confirm": True})
    assert r.status_code == 200, r.text
    # The statement of an ended agreement is still checked against the registry's record.
    r = post(env, bca, check, {"statement": st})
    assert r.status_code == 200 and r.json()["verified"] is True, r.text
    env.statement = st


def test_statements_need_the_registry_anchor(env):
    """Without market.anchor, or with one that cannot be read, no statement is checked
    (503 no_anchor, never a key taken on trust); a malformed setting stops the start."""
    st = getattr(env, "statement", None)
    assert st, "the statement test made no statement"
    base = json.loads(env.config.read_text())
    d = env.config.parent
    for name, anchor in (("no-anchor", None), ("bad-anchor", "no-such-anchor.json")):
        cfg = json.loads(json.dumps(base))
        if anchor is None:
            del cfg["market"]["anchor"]
        else:
            cfg["market"]["anchor"] = anchor
        port = free_port()
        cfg["listen"], cfg["public_url"] = f"127.0.0.1:{port}", f"http://127.0.0.1:{port}"
        (d / f"{name}.json").write_text(json.dumps(cfg))
        other = Proc(name, [env.exe, "serve", "--config", d / f"{name}.json"],
                     cfg["public_url"], d).start()
        try:
            there = Env()
            there.url = cfg["public_url"]
            bhxh = officer(there, "bhxh")
            error(post(there, bhxh, "/api/market/statements/check", {"statement": st}),
                  503, "no_anchor")
            # The rest of the marketplace works without it.
            assert bhxh.get(there.url + "/api/market/published", timeout=10).status_code == 200
        finally:
            assert other.stop() == 0
    cfg = json.loads(json.dumps(base))
    cfg["market"]["anchor"] = 5
    (d / "anchor-number.json").write_text(json.dumps(cfg))
    r = subprocess.run([str(env.exe), "serve", "--config", str(d / "anchor-number.json")],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode != 0 and "market.anchor" in r.stderr, r.stderr


SELLER_ACCOUNT = {"bin": "970436", "account": "0011004455", "account_name": "BO CONG AN"}


def test_invoices_recorded_and_listed_on_the_page(env):
    """The seller records the invoice of the provider's usage statement (the registry
    checks it, docs/marketplace.md "Invoices and clearing"); seller and buyer list it, the
    buyer with its VietQR code drawn and the banks' pages to pay it; the refusals at their
    fields, and nobody else's."""
    st = getattr(env, "statement", None)
    assert st, "the statement test made no statement"
    bca, bhxh, bank = officer(env, "bca"), officer(env, "bhxh"), officer(env, "bank")
    path = "/api/market/invoices"
    r = post(env, bca, path, {"statement": st, **SELLER_ACCOUNT})
    assert r.status_code == 201, r.text
    inv = r.json()
    assert inv["side"] == "seller" and inv["status"] == "open"
    assert inv["reference"].startswith("MK") and len(inv["reference"]) == 25
    assert inv["amount_vnd"] == st["count"] * 500 and inv["count"] == st["count"]
    assert (inv["seller"], inv["buyer"], inv["agreement"]) == (F.BCA, F.BHXH, st["agreement"])
    # The same statement again: the invoice recorded, not another.
    r = post(env, bca, path, {"statement": json.dumps(st), **SELLER_ACCOUNT})
    assert r.status_code == 200 and r.json()["reference"] == inv["reference"], r.text
    # The seller's list: its side, no code to pay.
    mine = bca.get(env.url + path, timeout=20).json()
    assert mine["member"] == F.BCA
    sold = [i for i in mine["invoices"] if i["reference"] == inv["reference"]]
    assert len(sold) == 1 and sold[0]["side"] == "seller" and "banks" not in sold[0]
    # The buyer's: the code drawn (checked against the amount and reference) and each
    # bank's page for it, coming back to the invoices' page.
    theirs = bhxh.get(env.url + path, timeout=20).json()["invoices"]
    bought = [i for i in theirs if i["reference"] == inv["reference"]]
    assert len(bought) == 1 and bought[0]["side"] == "buyer", theirs
    b = bought[0]
    assert b["svg"].startswith("<svg") and b["vietqr"] == inv["vietqr"]
    assert len(b["banks"]) == 1 and b["banks"][0]["name"] == "Ngân hàng Thử nghiệm"
    link = urllib.parse.urlsplit(b["banks"][0]["url"])
    q = urllib.parse.parse_qs(link.query)
    assert link.path == "/pay" and q["qr"] == [inv["vietqr"]]
    assert q["return"] == [env.url + "/market/invoices"]
    # A member that is neither party sees none of it.
    assert all(i["reference"] != inv["reference"]
               for i in bank.get(env.url + path, timeout=20).json()["invoices"])
    # Refusals: the buyer cannot record the seller's invoice; a forged statement, an
    # account VietQR cannot carry, a missing or malformed field, a stray one, no CSRF
    # token, no session.
    error(post(env, bhxh, path, {"statement": st, **SELLER_ACCOUNT}), 404, "not_found")
    forged = dict(st, count=st["count"] + 1, amount_due=(st["count"] + 1) * 500)
    e = error(post(env, bca, path, {"statement": forged, **SELLER_ACCOUNT}), 422, "validation")
    assert e["fields"] == {"statement": "invalid"}, e
    e = error(post(env, bca, path, {"statement": st, **dict(SELLER_ACCOUNT, account="1" * 30)}),
              422, "validation")
    assert e["fields"] == {"account": "invalid"}, e
    for body, field in (({"bin": "970436", "account": "1"}, "statement"),
                        ({"statement": st, "bin": "97043", "account": "1"}, "bin"),
                        ({"statement": st, "bin": "970436"}, "account")):
        e = error(post(env, bca, path, body), 422, "validation")
        assert field in e["fields"], e
    error(post(env, bca, path, {"statement": st, **SELLER_ACCOUNT, "amount_vnd": 1}), 422,
          "validation")
    error(post(env, bca, path, {"statement": st, **SELLER_ACCOUNT}, csrf=False), 403, "csrf")
    error(requests.get(env.url + path, timeout=10), 401, "unauthenticated")
