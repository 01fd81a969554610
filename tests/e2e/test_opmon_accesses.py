"""End-to-end tests of the misuse-detection reads of operational monitoring
(docs/protocol.md "Operational monitoring", docs/security.md T47): `accesses`, the
personal-data reads a provider gateway served, taken from its message log (who read
whom, when, for which purpose, which officer and procedure), and `proof`, the message
log's inclusion proof of one such read, both read through the exchange like `records`:
the member itself and the configuration's monitoring client, nobody else.

Against federation.py's federation plus BCA's personal services (as test_data_subjects.py
sets them up: the provider system declares the subjects of each answer), BCA's access
list (`ndx:subject-accesses`) read by BTC's portal with a citizen's e-ID token played
here, and BHXH holding the operator's monitoring subsystem. BCA's message log closes a
batch every 4 records and never by time, so that whether a record is under a signed tree
head yet is known to the test, not left to a timer."""

import base64
import json
import signal
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

import federation as F  # noqa: E402
import refusals  # noqa: E402
from test_opmon import direct_query  # noqa: E402  (a signed /o1/query as a gateway sends it)
from test_data_subjects import ISSUER, EId  # noqa: E402  (the e-ID's key and its tokens)

MONITOR = F.BHXH + "/monitoring"
PERSONS = F.POPULATION + "/persons"      # personal, one person an answer
REGISTER = F.POPULATION + "/register"    # personal, bulk reads for "statistics"
ACCESSES = F.BCA + "/transparency/accesses"
CONSENTED = F.POPULATION + "/health-records"  # personal, only under the subject's consent
CIVIL = F.POPULATION + "/civil-status"   # personal, publishes death-registered
DEATH = "death-registered"
PORTAL = F.BTC + "/portal"
A, B, C = "001088000101", "001188000202", "079201000303"
OFFICER, ISSUE = "VN/GOV/BTC/canbo07", "tax-audit/2026-0042"
BATCH_MAX = 4
ACCESS_KEYS = {"seq", "time_ms", "message_id", "client", "service", "method", "purpose",
               "status", "error_type", "subjects", "user_id", "issue", "own", "event",
               "consent"}


class BatchedGateway(F.Gateway):
    """BCA's gateway closes a message-log batch every BATCH_MAX records, never by time."""

    def write_config(self):
        super().write_config()
        if self.member == F.BCA:
            cfg = json.loads(self.config_path.read_text())
            cfg["msglog"] = {"batch_max": BATCH_MAX, "batch_interval_ms": 3600000}
            self.config_path.write_text(json.dumps(cfg, indent=2, ensure_ascii=False))


def admin(fed, method, path, **kw):
    resp = requests.request(method, fed.registry.url + path, timeout=10,
                            headers={"Authorization": f"Bearer {fed.registry.token}"}, **kw)
    assert resp.status_code in (200, 201, 204), f"{method} {path}: {resp.status_code} {resp.text}"
    return resp


def setup(eid):
    def run(fed):
        fed.ndx("subsystem", "add", MONITOR)
        admin(fed, "PUT", "/api/monitoring", json={"client": MONITOR})
        fed.ndx("service", "add", PERSONS, "--title", "Hồ sơ cá nhân", "--personal",
                "--purpose", "tax-administration")
        admin(fed, "POST", "/api/services", json={
            "id": REGISTER, "title": "Sổ đăng ký", "personal": True,
            "purposes": ["statistics"], "bulk_purposes": ["statistics"]})
        fed.ndx("service", "add", CONSENTED, "--title", "Hồ sơ sức khỏe", "--personal",
                "--purpose", "tax-administration", "--consent-required")
        fed.ndx("service", "add", CIVIL, "--title", "Hộ tịch", "--personal", "--purpose",
                "tax-administration")
        admin(fed, "POST", "/api/event-types", json={
            "service": CIVIL, "name": DEATH, "title": "Khai tử",
            "schema": {"type": "object", "properties": {"pin": {"type": "string"}}}})
        admin(fed, "POST", "/api/subscriptions", json={
            "client": F.TAX, "service": CIVIL, "event": DEATH, "purpose": "tax-administration"})
        fed.ndx("subsystem", "add", F.BCA + "/transparency")
        fed.ndx("subsystem", "add", PORTAL)
        fed.ndx("service", "add", ACCESSES, "--title", "Ai đã xem dữ liệu của tôi",
                "--personal", "--purpose", "transparency")
        for svc in (PERSONS, REGISTER, CONSENTED):
            fed.ndx("grant", "add", "--client", F.TAX, "--service", svc, "--method", "GET")
        fed.ndx("grant", "add", "--client", PORTAL, "--service", ACCESSES, "--method", "GET")
        admin(fed, "POST", "/api/id-providers",
              json={"issuer": ISSUER, "sign_key": base64.b64encode(eid.raw).decode()})
        bca, btc, bhxh = fed.gateways["BCA"], fed.gateways["BTC"], fed.gateways["BHXH"]
        for svc in (PERSONS, REGISTER, CONSENTED, CIVIL):
            bca.services[svc] = {"backend": fed.citizens.url + "/api", "timeout_ms": 5000}
        bca.services[ACCESSES] = {"backend": "ndx:subject-accesses"}
        bca.subsystems = ["population", "transparency"]
        btc.subsystems = ["tax", "portal"]
        for gw in (bca, btc):
            gw.write_config()
            gw.proc.send_signal(signal.SIGHUP)
        bhxh.subsystems = ["insurance", "monitoring"]
        bhxh.stop()
        bhxh.write_config()
        bhxh.start()
        for gw in fed.gateways.values():
            fed.wait_conf(gw, fed.registry.conf_version())
    return run


@pytest.fixture(scope="module")
def eid():
    return EId()


@pytest.fixture(scope="module")
def fed(build_dir, eid):
    with F.running_federation(build_dir, "ndx-opmon-acc-", gateway_class=BatchedGateway,
                              setup=setup(eid)) as f:
        yield f


def gw_name(f, n):
    gw = f.gateways[n]
    return f"{gw.member}/{gw.code}"


def read(f, via, target, client, what="accesses", params=None):
    return requests.get(f"{f.gateways[via].url}/o1/{gw_name(f, target)}/{what}",
                        headers={"X-Road-Client": client}, params=params, timeout=20)


def personal(fed, service, path, subject, purpose, headers=None):
    h = {"Ndx-Purpose": purpose}
    if subject is not None:
        h["Ndx-Subject"] = subject
    h.update(headers or {})
    return fed.call("BTC", "GET", service, path, headers=h)


def declare(*pins):
    return "/declare/" + urllib.parse.quote(",".join(pins), safe="")


def all_accesses(fed, via="BHXH", client=MONITOR, limit=10000):
    """Every access of BCA's gateway, paging with next_after until the page is empty and
    the cursor has passed the records the log held when we started. (Each read is itself
    a record of BCA's log, scanned by the next page: the cursor never stops moving.)"""
    after, out = 0, []
    end = log_head(fed.gateways["BCA"])["records"]
    for _ in range(10 * end + 10):
        r = read(fed, via, "BCA", client, params={"after": after, "limit": limit})
        assert r.status_code == 200, r.text
        doc = r.json()
        assert doc["gateway"] == gw_name(fed, "BCA"), doc
        assert len(doc["accesses"]) <= limit, doc
        for a in doc["accesses"]:
            assert after < a["seq"] <= doc["next_after"], (after, a, doc["next_after"])
        out += doc["accesses"]
        if not doc["accesses"] and doc["next_after"] >= end:
            return out
        assert doc["next_after"] > after, doc
        after = doc["next_after"]
    raise AssertionError(f"paging did not reach record {end} of BCA's log (at {after})")


def log_head(gw):
    resp = requests.get(gw.url + "/admin/log/head", timeout=5)
    assert resp.status_code == 200, resp.text
    return resp.json()


def wait_log(gw, n, timeout=5.0):
    deadline = time.monotonic() + timeout
    while log_head(gw)["records"] < n and time.monotonic() < deadline:
        time.sleep(0.05)
    return log_head(gw)["records"]


def seal_through(fed, seq):
    """Non-personal exchanges served by BCA until record seq is under a tree head."""
    for _ in range(BATCH_MAX + 1):
        if log_head(fed.gateways["BCA"])["covered"] >= seq:
            return
        r = fed.call("BTC", "GET", F.ECHO, "/fill")
        assert r.status_code == 200, r.text
    raise AssertionError(f"record {seq} of BCA's log is not sealed: {log_head(fed.gateways['BCA'])}")


@pytest.fixture(scope="module")
def reads(fed, eid):
    """The exchanges every test looks for, made once: message id -> response."""
    officer = {"X-Road-UserId": OFFICER, "X-Road-Issue": ISSUE}
    made = {}
    r = personal(fed, PERSONS, "/persons/" + A, A, "tax-administration", officer)
    assert r.status_code == 200 and r.headers["Ndx-Data-Subjects"] == A, r.text
    made["one"] = r
    # a bulk read under C that the provider declares to be about A and B
    r = personal(fed, REGISTER, declare(B, A), C, "statistics")
    assert r.status_code == 200, r.text
    made["bulk"] = r
    # an answer about someone else: refused, but logged with the people declared
    r = personal(fed, PERSONS, declare(B), A, "tax-administration", officer)
    refusals.check_response(r, "SubjectMismatch", side="provider")
    made["refused"] = r
    # non-personal: no subject named, none declared
    r = fed.call("BTC", "GET", F.ECHO, "/plain")
    assert r.status_code == 200, r.text
    made["plain"] = r
    r = fed.call("BTC", "GET", F.CITIZENS, "/citizens/" + A)
    assert r.status_code == 200, r.text
    made["citizens"] = r
    # the citizen looking at their own access list: no read of their data
    r = fed.call("BTC", "GET", ACCESSES, "", client=PORTAL,
                 headers={"Ndx-Subject": A, "Ndx-Purpose": "transparency",
                          "Ndx-Subject-Token": eid.token(A)})
    assert r.status_code == 200, r.text
    made["access_list"] = r
    # a consent-only service without the consent: refused by BCA, logged about A
    r = personal(fed, CONSENTED, "/records/" + A, A, "tax-administration", officer)
    refusals.check_response(r, "ConsentMissing", side="provider")
    made["consent"] = r
    ids = {k: r.request.headers["X-Road-Id"] for k, r in made.items()}
    # an event about A that BCA's gateway delivers to BTC's tax subsystem
    r = requests.post(f"{fed.gateways['BCA'].url}/e1/{CIVIL}/{DEATH}", timeout=15,
                      headers={"X-Road-Client": F.POPULATION,
                               "Content-Type": "application/json", "Ndx-Data-Subjects": A},
                      data=json.dumps({"pin": A}).encode())
    assert r.status_code == 201, r.text
    ids["event"] = r.json()["id"]
    return ids


def test_personal_reads_appear_with_their_subjects_officer_and_issue(fed, reads):
    got = all_accesses(fed)
    by_id = {a["message_id"]: a for a in got}
    for a in got:
        assert set(a) == ACCESS_KEYS, a
        assert a["subjects"] == sorted(set(a["subjects"])) and a["subjects"], a
    one = by_id[reads["one"]]
    assert one["client"] == F.TAX and one["service"] == PERSONS, one
    assert one["method"] == "GET" and one["purpose"] == "tax-administration", one
    assert one["status"] == 200 and one["error_type"] == "", one
    assert one["subjects"] == [A], one
    assert one["user_id"] == OFFICER and one["issue"] == ISSUE, one
    assert one["own"] is False and one["event"] is False and one["consent"] is False, one
    assert one["time_ms"] > 0
    # Ndx-Subject and the declared subjects together, each once, ascending
    bulk = by_id[reads["bulk"]]
    assert bulk["subjects"] == sorted([A, B, C]), bulk
    assert bulk["user_id"] == "" and bulk["issue"] == "", bulk
    # a refused read is an access attempt all the same
    refused = by_id[reads["refused"]]
    assert refused["status"] == 500 and refused["subjects"] == [A, B], refused
    assert refused["user_id"] == OFFICER, refused
    # neither non-personal exchanges nor the access list nor the monitoring reads
    for k in ("plain", "citizens", "access_list"):
        assert reads[k] not in by_id, (k, by_id.get(reads[k]))
    assert all(a["service"] != ACCESSES and not a["service"].endswith("/gw1") for a in got)
    # the same through BCA's own client on its own gateway
    own = {a["message_id"] for a in all_accesses(fed, via="BCA", client=F.POPULATION)}
    assert {reads["one"], reads["bulk"], reads["refused"]} <= own


def test_an_event_delivery_and_a_consent_service_are_marked(fed, reads):
    # the delivery is logged by BCA once BTC's signed receipt came back
    deadline = time.monotonic() + 20
    while True:
        by_id = {a["message_id"]: a for a in all_accesses(fed)}
        if reads["event"] in by_id or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    ev = by_id.get(reads["event"])
    assert ev is not None, f"no delivery of {reads['event']} in BCA's accesses\n{fed.tails()}"
    assert ev["event"] is True and ev["method"] == "EVENT", ev
    assert ev["client"] == F.TAX and ev["service"] == CIVIL, ev
    assert ev["subjects"] == [A] and ev["purpose"] == "tax-administration", ev
    assert ev["consent"] is False and ev["own"] is False, ev
    assert all(a["event"] is False for a in by_id.values() if a is not ev)
    consent = by_id[reads["consent"]]
    assert consent["consent"] is True and consent["status"] == 500, consent
    assert consent["subjects"] == [A] and consent["event"] is False, consent
    assert by_id[reads["one"]]["consent"] is False


def test_paging_returns_each_access_once(fed, reads):
    whole = all_accesses(fed)
    paged = all_accesses(fed, limit=1)
    assert [a["seq"] for a in paged] == [a["seq"] for a in whole]
    assert len({a["seq"] for a in paged}) == len(paged)
    assert [a["message_id"] for a in paged] == [a["message_id"] for a in whole]
    # past the end: nothing, and the cursor stays
    end = read(fed, "BHXH", "BCA", MONITOR, params={"after": 10**12}).json()
    assert end["accesses"] == [] and end["next_after"] == 10**12, end
    # next_after moves over the non-personal records it scanned, never back
    last = whole[-1]["seq"]
    doc = read(fed, "BHXH", "BCA", MONITOR, params={"after": last}).json()
    assert doc["accesses"] == [] and doc["next_after"] >= last, doc


def test_who_may_read(fed, reads):
    bhxh, bca = fed.gateways["BHXH"], fed.gateways["BCA"]
    before_bhxh, before_bca = log_head(bhxh)["records"], log_head(bca)["records"]
    r = read(fed, "BHXH", "BCA", MONITOR, params={"limit": 1})
    assert r.status_code == 200, r.text
    # both message logs hold the read
    assert wait_log(bhxh, before_bhxh + 1) == before_bhxh + 1
    assert wait_log(bca, before_bca + 1) == before_bca + 1
    # another member's client, through its own gateway: refused by the target
    for via, client in (("BTC", F.TAX), ("BHXH", F.INSURANCE)):
        for what, params in (("accesses", None), ("proof", {"seq": 1})):
            r = read(fed, via, "BCA", client, what, params)
            doc = refusals.check_response(r, "OpmonNotAllowed", side="provider")
            assert "accesses" not in doc and "record" not in doc, doc
            assert A not in r.text
    # a gateway speaking for the monitoring client it does not hold
    st, hdrs, body, _ = direct_query(fed, "BTC", "BCA", MONITOR,
                                     query="accesses?after=0&limit=5")
    refusals.check(st, hdrs, body, "UnknownClient", side="provider")


def test_a_proof_through_the_exchange_checks_with_the_gateways_key(fed, reads, tmp_path):
    seq = {a["message_id"]: a["seq"] for a in all_accesses(fed)}[reads["one"]]
    seal_through(fed, seq)
    r = read(fed, "BHXH", "BCA", MONITOR, "proof", {"seq": seq})
    assert r.status_code == 200, r.text
    proof = r.json()
    assert proof["format"] == "ndx-log-proof/3", proof
    assert proof["record"]["seq"] == seq and proof["record"]["message_id"] == reads["one"]
    assert proof["record"]["user_id"] == OFFICER and proof["record"]["subjects"] == A
    ndx = Path(fed.build_dir) / "src" / "cli" / "ndx"
    pub = fed.idents["BCA"].sign_pub
    # the very bytes `ndx log prove` prints of BCA's log
    res = subprocess.run([str(ndx), "log", "prove", "--db",
                          str(fed.gateways["BCA"].dir / "data" / "msglog.db"), "--seq", str(seq)],
                         capture_output=True, timeout=30)
    assert res.returncode == 0, res.stderr
    assert r.content == res.stdout
    good = tmp_path / "proof.json"
    good.write_bytes(r.content)
    res = subprocess.run([str(ndx), "log", "check-proof", str(good), "--key", str(pub)],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stdout + res.stderr
    # another gateway's key does not check it
    res = subprocess.run([str(ndx), "log", "check-proof", str(good), "--key",
                          str(fed.idents["BTC"].sign_pub)],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode != 0, res.stdout
    # an officer's name changed after the fact is caught
    proof["record"]["user_id"] = "VN/GOV/BTC/someone-else"
    bad = tmp_path / "tampered.json"
    bad.write_text(json.dumps(proof))
    res = subprocess.run([str(ndx), "log", "check-proof", str(bad), "--key", str(pub)],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode != 0, res.stdout


def test_a_proof_not_sealed_yet_or_beyond_the_log_is_refused(fed, reads):
    bca = fed.gateways["BCA"]
    head = log_head(bca)
    if head["covered"] == head["records"]:
        r = fed.call("BTC", "GET", F.ECHO, "/open")
        assert r.status_code == 200, r.text
        head = log_head(bca)
    # the newest record waits for its batch (closed every BATCH_MAX records only)
    assert head["records"] > head["covered"], head
    r = read(fed, "BHXH", "BCA", MONITOR, "proof", {"seq": head["records"]})
    doc = refusals.check_response(r, "ProofNotReady", side="provider")
    assert "retry" in doc["message"], doc
    # once sealed, the same record is proven
    seal_through(fed, head["records"])
    r = read(fed, "BHXH", "BCA", MONITOR, "proof", {"seq": head["records"]})
    assert r.status_code == 200 and r.json()["record"]["seq"] == head["records"], r.text
    # beyond the end of the log
    r = read(fed, "BHXH", "BCA", MONITOR, "proof", {"seq": 10**9})
    refusals.check_response(r, "ProofNotFound")
    assert r.status_code == 404, r.status_code


def test_malformed_reads_are_refused(fed):
    for what, params in (("accesses", {"limit": "0"}), ("accesses", {"limit": "10001"}),
                         ("accesses", {"after": "-1"}), ("accesses", {"after": "x"}),
                         ("accesses", {"from": "5"}), ("proof", None),
                         ("proof", {"seq": "0"}), ("proof", {"seq": "-3"}),
                         ("proof", {"seq": "1", "after": "2"}), ("bogus", None)):
        # refused by the gateway asked, before the target is
        r = read(fed, "BHXH", "BCA", MONITOR, what, params)
        refusals.check_response(r, "OpmonQuery", side="consumer", where=f"{what} {params}")
    # and by the target, when a gateway sends it anyway (signed, logged)
    for query in ("accesses?after=0&limit=0", "accesses?after=-1&limit=5", "proof?seq=0",
                  "proof", "bogus"):
        st, hdrs, body, _ = direct_query(fed, "BHXH", "BCA", MONITOR, query=query)
        refusals.check(st, hdrs, body, "OpmonQuery", side="provider", where=query)
        assert "ndx-response-signature" in hdrs, query
