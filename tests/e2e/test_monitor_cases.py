"""End-to-end tests of ndx-monitor's misuse cases (issue 19, docs/monitoring.md "Procedures
and mandates", "Cases") on a real federation (federation.py) with BCA serving a personal
service and BHXH's gateway holding the operator's monitoring subsystem, through which
ndx-monitor collects every gateway's personal reads (GET /o1/{gateway}/accesses) and the
inclusion proofs of its cases' reads (GET /o1/{gateway}/proof).

What it shows: the portal's procedures pushed through the API and a mandate registered
with the CLI explain the reads they cover; an officer's read of a person with no open
procedure becomes an open no-explanation case whose evidence carries the message log's
inclusion proof (not ready while BCA's batch is open, asked again until it is), which
`ndx log check-proof` accepts with the case's gateway_key (and refuses with another
gateway's key); the triage's refusals (a dismissal without reason,
a second escalation, anything after a confirmation, an unknown action or case); the
citizen sees the confirmed case and only their own reads; a citizen's report of a read
opens one case, a second report finds it again, a read of someone else is unknown; bad
procedures are refused naming the field; /metrics counts the open cases; a bulk lookup
under a mandate is a bulk case, an officer naming the mandate's purpose is unexplained,
and a case dismissed with a reason stays dismissed through more reads and a restart."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

import federation as F  # noqa: E402
from test_monitor import Monitor  # noqa: E402  (init, start, stop, get)

MONITOR = F.BHXH + "/monitoring"
PERSONS = F.POPULATION + "/persons"   # personal: one person an answer
A, B, C = "001088000101", "001188000202", "079201000303"
OFFICER = "VN/GOV/BTC/canbo07"
PROC_KIND, PROC_ID = "tax-audit", "2026-0042"


def admin(fed, method, path, **kw):
    resp = requests.request(method, fed.registry.url + path, timeout=10,
                            headers={"Authorization": f"Bearer {fed.registry.token}"}, **kw)
    assert resp.status_code in (200, 201, 204), f"{method} {path}: {resp.status_code} {resp.text}"
    return resp


class UnsealedGateway(F.Gateway):
    """BCA's message log seals a batch only when the gateway stops (never by size nor
    time during a test), so that a proof is not ready until the test restarts it."""

    def write_config(self):
        super().write_config()
        if self.member == F.BCA:
            cfg = json.loads(self.config_path.read_text())
            cfg["msglog"] = {"batch_max": 1 << 20, "batch_interval_ms": 3600000}
            self.config_path.write_text(json.dumps(cfg, indent=2, ensure_ascii=False))


def configure(fed):
    fed.ndx("subsystem", "add", MONITOR)
    admin(fed, "PUT", "/api/monitoring", json={"client": MONITOR})
    fed.ndx("service", "add", PERSONS, "--title", "Hồ sơ cá nhân", "--personal",
            "--purpose", "tax-administration", "--purpose", "periodic-check")
    fed.ndx("grant", "add", "--client", F.TAX, "--service", PERSONS, "--method", "GET")
    bca, bhxh = fed.gateways["BCA"], fed.gateways["BHXH"]
    bca.services[PERSONS] = {"backend": fed.citizens.url + "/api", "timeout_ms": 5000}
    bca.write_config()
    bca.proc.send_signal(signal.SIGHUP)
    bhxh.subsystems = ["insurance", "monitoring"]
    bhxh.stop()
    bhxh.write_config()
    bhxh.start()
    for gw in fed.gateways.values():
        fed.wait_conf(gw, fed.registry.conf_version())


@pytest.fixture(scope="module")
def fed(build_dir):
    with F.running_federation(build_dir, "ndx-moncases-", gateway_class=UnsealedGateway,
                              setup=configure) as f:
        yield f


class CaseMonitor(Monitor):
    """test_monitor's Monitor through BHXH's gateway as the monitoring client, analysing
    reads as soon as they are collected."""

    def start(self):
        reg = self.fed.registry
        self.proc = subprocess.Popen(
            [str(self.exe), "serve", "--data", str(self.dir / "data"), "--anchor",
             str(reg.anchor), "--registry", reg.url, "--gateway",
             self.fed.gateways["BHXH"].url, "--client", MONITOR, "--listen",
             f"127.0.0.1:{self.port}", "--interval", "1", "--analysis-delay", "0"],
            stdout=subprocess.DEVNULL, stderr=open(self.log, "wb"))
        deadline = time.monotonic() + 15
        while "listening on" not in self.log.read_text(errors="replace"):
            assert self.proc.poll() is None and time.monotonic() < deadline, \
                self.log.read_text()
            time.sleep(0.05)
        return self

    def post(self, path, body, token=True):
        h = {"Authorization": f"Bearer {self.token}"} if token else {}
        return requests.post(self.url + path, headers=h, json=body, timeout=10)

    def cli(self, *args):
        return subprocess.run([str(self.exe), *args, "--data", str(self.dir / "data")],
                              capture_output=True, text=True, timeout=30)

    def until(self, fn, what, timeout=40.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = fn()
            if got:
                return got
            time.sleep(0.3)
        raise AssertionError(f"{what}\n{self.log.read_text()[-4000:]}\n{self.fed.tails()}")


def read_person(fed, pin, purpose, user=None, issue=None):
    h = {"Ndx-Purpose": purpose, "Ndx-Subject": pin}
    if user:
        h["X-Road-UserId"] = user
    if issue:
        h["X-Road-Issue"] = issue
    r = fed.call("BTC", "GET", PERSONS, "/persons/" + pin, headers=h)
    assert r.status_code == 200, r.text
    return r.request.headers["X-Road-Id"]


@pytest.fixture(scope="module")
def world(build_dir, fed, tmp_path_factory):
    """The monitor, its procedures and mandate, and three reads: explained by the
    procedure, explained by the mandate, explained by nothing."""
    mon = CaseMonitor(build_dir, fed, tmp_path_factory.mktemp("moncases"), MONITOR).init()
    now = int(time.time() * 1000)
    mon.start()
    try:
        r = mon.post("/api/procedures", {"procedures": [
            {"id": PROC_ID, "kind": PROC_KIND, "subject": A, "agency": F.BTC,
             "opened_ms": now - 3600_000, "closed_ms": None}]}, token=False)
        assert r.status_code == 401, r.text
        r = mon.post("/api/procedures", {"procedures": [
            {"id": PROC_ID, "kind": PROC_KIND, "subject": A, "agency": F.BTC,
             "opened_ms": now - 3600_000, "closed_ms": None},
            {"id": "2026-0001", "kind": PROC_KIND, "subject": C, "agency": F.BTC,
             "opened_ms": now - 7200_000, "closed_ms": now - 7100_000}]})
        assert r.status_code == 200 and r.json() == {"procedures": 2}, r.text
        # the portal pushes again what changed: idempotent
        r = mon.post("/api/procedures", {"procedures": [
            {"id": PROC_ID, "kind": PROC_KIND, "subject": A, "agency": F.BTC,
             "opened_ms": now - 3600_000, "closed_ms": None}]})
        assert r.status_code == 200, r.text
        res = mon.cli("mandate", "add", "--client", F.TAX, "--service", PERSONS,
                      "--purpose", "periodic-check", "--basis",
                      "Luật Quản lý thuế 2019, điều 17")
        assert res.returncode == 0 and "mandate 1 added" in res.stdout, res.stderr
        reads = {
            "procedure": read_person(fed, A, "tax-administration", OFFICER,
                                     f"{PROC_KIND}/{PROC_ID}"),
            "mandate": read_person(fed, B, "periodic-check"),
            # C's only procedure closed two hours ago: nothing explains this
            "flagged": read_person(fed, C, "tax-administration", OFFICER),
        }
        yield mon, reads
    finally:
        mon.stop()


def all_cases(mon):
    r = mon.get("/api/cases", state="all", limit=1000)
    assert r.status_code == 200, r.text
    return r.json()["cases"]


def case(mon, cid):
    r = mon.get(f"/api/cases/{cid}")
    assert r.status_code == 200, r.text
    return r.json()


def case_of(mon, message_id):
    for c in all_cases(mon):
        full = case(mon, c["id"])
        if any(e["message_id"] == message_id for e in full["evidence"]):
            return full
    return None


def proven(mon, cid):
    c = case(mon, cid)
    return c if c["evidence"] and all(e["proof"] for e in c["evidence"]) else None


def check_proof(build_dir, workdir, ev, key):
    proof, pub = Path(workdir) / "proof.json", Path(workdir) / "gateway.pub"
    proof.write_text(json.dumps(ev["proof"]))
    pub.write_text(key)
    return subprocess.run([str(F.ndx_exe(build_dir)), "log", "check-proof", str(proof),
                           "--key", str(pub)], capture_output=True, text=True, timeout=30)


def test_unexplained_read_is_a_case_with_proofs_that_check(build_dir, fed, world, tmp_path):
    mon, reads = world
    flagged = mon.until(lambda: case_of(mon, reads["flagged"]), "no case for the unexplained read")
    assert flagged["kind"] == "no-explanation" and flagged["state"] == "open", flagged
    assert flagged["client"] == F.TAX and flagged["client_member"] == F.BTC, flagged
    assert flagged["user_id"] == OFFICER and flagged["why"], flagged
    assert flagged["history"][0]["action"] == "open", flagged["history"]
    # the reads the procedure and the mandate explain are in no case
    for k in ("procedure", "mandate"):
        assert case_of(mon, reads[k]) is None, k
    # BCA's batch is not sealed yet: the proof is not ready, and is asked again
    def not_ready():
        ev = case(mon, flagged["id"])["evidence"][0]
        return ev if ev["proof_error"] else None
    ev = mon.until(not_ready, "no attempt at the proof")
    assert "ProofNotReady" in ev["proof_error"] and ev["pending"] is True, ev
    assert ev["proof"] is None and ev["gateway_key"] is None, ev
    # a gateway that stops seals its open batch: the next attempts get the proof
    bca = fed.gateways["BCA"]
    assert bca.stop() == 0, bca.tail()
    bca.start()
    c = mon.until(lambda: proven(mon, flagged["id"]), "the proof was not fetched")
    ev = next(e for e in c["evidence"] if e["message_id"] == reads["flagged"])
    assert ev["gateway"] == F.BCA + "/gw1" and ev["service"] == PERSONS, ev
    assert ev["subjects"] == [C] and ev["user_id"] == OFFICER, ev
    assert ev["purpose"] == "tax-administration" and ev["status"] == 200, ev
    assert ev["explanation"] is None and ev["proof_error"] is None, ev
    assert ev["proof"]["record"]["seq"] == ev["seq"], ev
    assert c["gateway_key"] == ev["gateway_key"] and "PUBLIC KEY" in c["gateway_key"], c
    res = check_proof(build_dir, tmp_path, ev, c["gateway_key"])
    assert res.returncode == 0 and "proof OK" in res.stdout, res.stdout + res.stderr
    # the key is BCA's own: BTC's gateway key does not make it hold
    other = fed.idents["BTC"].sign_pub.read_text()
    res = check_proof(build_dir, tmp_path, ev, other)
    assert res.returncode == 1 and "does not hold" in res.stderr, res.stdout + res.stderr
    # the operator's list: open cases by default, filtered by member and kind
    r = mon.get("/api/cases")
    assert r.status_code == 200 and flagged["id"] in [x["id"] for x in r.json()["cases"]]
    listed = next(x for x in r.json()["cases"] if x["id"] == flagged["id"])
    assert listed["reads"] >= 1 and listed["opened_ms"] > 0, listed
    assert mon.get("/api/cases", member=F.BCA).json()["cases"] == []
    assert flagged["id"] in [x["id"] for x in
                             mon.get("/api/cases", member=F.BTC, kind="no-explanation")
                             .json()["cases"]]
    for bad in ({"state": "closed"}, {"member": "VN"}, {"kind": "evil"}, {"limit": "0"}):
        r = mon.get("/api/cases", **bad)
        assert r.status_code == 400 and r.headers["X-Road-Error"] == "Client.InvalidRequest", r.text
    # /metrics: the open case counted by kind
    m = requests.get(mon.url + "/metrics", timeout=5).text
    assert 'ndx_monitor_cases_open{kind="no-explanation",state="open"}' in m, m
    assert "ndx_monitor_reads_total{outcome=\"kept\"}" in m and \
        "ndx_monitor_proofs_total{outcome=\"kept\"}" in m, m


def test_triage_refusals_and_the_citizen_view(fed, world):
    mon, reads = world
    flagged = mon.until(lambda: case_of(mon, reads["flagged"]), "no case")
    cid = flagged["id"]
    tri = f"/api/cases/{cid}/triage"
    r = mon.post(tri, {"action": "dismiss", "reason": "", "actor": "op"})
    assert r.status_code == 400 and "reason" in r.json()["detail"], r.text
    r = mon.post(tri, {"action": "close", "actor": "op"})
    assert r.status_code == 400 and "action" in r.json()["detail"], r.text
    r = mon.post(tri, {"action": "confirm"})
    assert r.status_code == 400 and "actor" in r.json()["detail"], r.text
    r = mon.post("/api/cases/999999/triage", {"action": "confirm", "actor": "op"})
    assert r.status_code == 404, r.text
    assert mon.get("/api/cases/999999").status_code == 404
    assert mon.get(f"/api/cases/{cid}/triage").status_code == 405
    r = mon.post(tri, {"action": "escalate", "actor": "Nguyễn Văn An",
                       "reason": "cho thanh tra Bộ"})
    assert r.status_code == 200 and r.json()["state"] == "escalated", r.text
    r = mon.post(tri, {"action": "escalate", "actor": "op"})
    assert r.status_code == 409 and r.headers["X-Road-Error"] == "Client.Conflict", r.text
    # the citizen sees nothing while it is not confirmed
    assert mon.get("/api/subject-cases", subject=C).json() == {"cases": []}
    r = mon.post(tri, {"action": "confirm", "actor": "op", "reason": "no procedure"})
    assert r.status_code == 200 and r.json()["state"] == "confirmed", r.text
    assert [h["action"] for h in r.json()["history"]] == ["open", "escalate", "confirm"]
    r = mon.post(tri, {"action": "dismiss", "actor": "op", "reason": "second thoughts"})
    assert r.status_code == 409, r.text
    assert case(mon, cid)["state"] == "confirmed"
    # the citizen: the confirmed case, their own read, plain sentences, no proof
    r = mon.get("/api/subject-cases", subject=C)
    assert r.status_code == 200, r.text
    got = [x for x in r.json()["cases"] if x["id"] == cid]
    assert len(got) == 1, r.json()
    seen = got[0]
    assert seen["kind"] == "no-explanation" and seen["client_member"] == F.BTC, seen
    assert seen["service"] == PERSONS and seen["confirmed_ms"] >= seen["opened_ms"], seen
    assert [x["purpose"] for x in seen["reads"]] == ["tax-administration"], seen
    # plain sentences name the agency and the service as the configuration does
    assert F.MEMBER_NAMES[F.BTC] in seen["explanation"], seen
    assert "Hồ sơ cá nhân" in seen["explanation"] and "xác nhận" in seen["explanation"], seen
    assert F.MEMBER_NAMES[F.BTC] in seen["explanation_en"], seen
    assert "misuse" in seen["explanation_en"], seen
    assert F.BTC not in seen["explanation"] + seen["explanation_en"], seen
    text = r.text
    for absent in (A, B, OFFICER, "proof", "gateway_key"):
        assert absent not in text, absent
    # A's read was explained: A sees no case
    assert mon.get("/api/subject-cases", subject=A).json() == {"cases": []}
    assert mon.get("/api/subject-cases", subject="123").status_code == 400


def test_citizen_report_is_one_case_with_its_proof(fed, world):
    mon, reads = world
    gw = F.BCA + "/gw1"
    mon.until(lambda: case_of(mon, reads["flagged"]), "reads not collected yet")
    body = {"subject": A, "gateway": gw, "message_id": reads["procedure"],
            "note": "Tôi không có hồ sơ thuế nào"}
    r = mon.post("/api/subject-reports", body)
    assert r.status_code == 201 and r.json()["created"] is True, r.text
    cid = r.json()["id"]
    r = mon.post("/api/subject-reports", dict(body, note="lần nữa"))
    assert r.status_code == 200 and r.json() == {"id": cid, "created": False}, r.text
    c = case(mon, cid)
    assert c["kind"] == "citizen-report" and c["state"] == "open", c
    assert c["history"][0]["actor"] == "citizen", c
    assert c["history"][0]["reason"] == "Tôi không có hồ sơ thuế nào", c
    ev = c["evidence"][0]
    assert ev["message_id"] == reads["procedure"], ev
    assert ev["explanation"] == {"how": "procedure", "ref": PROC_ID}, ev
    # by seq: the same read, the same case
    r = mon.post("/api/subject-reports", {"subject": A, "gateway": gw, "seq": ev["seq"]})
    assert r.status_code == 200 and r.json()["id"] == cid, r.text
    # B cannot report A's read; a read that does not exist is unknown too
    r = mon.post("/api/subject-reports", dict(body, subject=B))
    assert r.status_code == 404 and r.json()["detail"].startswith("unknown_read"), r.text
    r = mon.post("/api/subject-reports", {"subject": A, "gateway": gw, "seq": 999999})
    assert r.status_code == 404, r.text
    for bad in ({"subject": A, "gateway": gw},
                {"subject": A, "gateway": gw, "seq": 1, "message_id": "x"},
                {"subject": "1", "gateway": gw, "seq": 1},
                {"subject": A, "gateway": "nope", "seq": 1}):
        r = mon.post("/api/subject-reports", bad)
        assert r.status_code == 400, (bad, r.text)
    # its evidence is fetched like any case's
    mon.until(lambda: proven(mon, cid), "the report's proof was not fetched")


def test_procedures_and_mandates_refusals(fed, world):
    mon, _ = world
    now = int(time.time() * 1000)
    good = {"id": "p-9", "kind": "k", "subject": A, "agency": F.BTC, "opened_ms": now,
            "closed_ms": None}
    for field, value in (("subject", "12345"), ("agency", "VN/GOV/BTC/tax"),
                         ("opened_ms", "yesterday"), ("closed_ms", now - 86400_000),
                         ("id", "")):
        r = mon.post("/api/procedures", {"procedures": [good, dict(good, **{field: value})]})
        assert r.status_code == 400, r.text
        assert r.json()["detail"].startswith(f"procedures[1].{field}"), r.text
    r = mon.post("/api/procedures", {"procs": []})
    assert r.status_code == 400, r.text
    r = requests.post(mon.url + "/api/procedures", data=b"{", timeout=5,
                      headers={"Authorization": f"Bearer {mon.token}"})
    assert r.status_code == 400, r.text
    assert requests.get(mon.url + "/api/procedures", timeout=5,
                        headers={"Authorization": f"Bearer {mon.token}"}).status_code == 405
    # mandates: the CLI's, through the API; a duplicate and a bad id refused
    r = mon.get("/api/mandates")
    assert r.status_code == 200, r.text
    ms = r.json()["mandates"]
    assert [(m["client"], m["service"], m["purpose"]) for m in ms] == \
        [(F.TAX, PERSONS, "periodic-check")], ms
    res = mon.cli("mandate", "add", "--client", F.TAX, "--service", PERSONS, "--purpose",
                  "periodic-check", "--basis", "again")
    assert res.returncode == 1 and "exists already" in res.stderr, res.stderr
    res = mon.cli("mandate", "add", "--client", F.TAX, "--service", "VN/GOV", "--purpose",
                  "p", "--basis", "b")
    assert res.returncode == 2 and "--service" in res.stderr, res.stderr
    res = mon.cli("mandate", "list")
    assert res.returncode == 0 and "periodic-check" in res.stdout, res.stdout
    res = mon.cli("mandate", "remove", "--id", "77")
    assert res.returncode == 1 and "no mandate 77" in res.stderr, res.stderr
    help_ = subprocess.run([str(mon.exe), "mandate", "add", "--help"], capture_output=True,
                           text=True, timeout=10)
    assert help_.returncode == 0 and "--basis TEXT" in help_.stdout


def settled(mon, rounds=2):
    """Waits for `rounds` whole collection rounds (each collects, analyses, fetches
    proofs) to end after now, so that what was read before is analysed."""
    def count():
        return requests.get(mon.url + "/healthz", timeout=10).json()["rounds"]
    start = count()
    mon.until(lambda: count() >= start + rounds, f"{rounds} rounds did not end")


def bulk_pins(first, n):
    # Hải Phòng (031) births, none of them A, B or C
    return [f"03109{first + i:07d}" for i in range(n)]


def test_bulk_lookup_is_flagged_and_a_dismissal_stays(fed, world):
    """The tax department's system reads 121 people in a minute under its
    periodic-check mandate: each read is explained (weakly, by the mandate), but the
    client read more people in an hour than max(60, 2 x its baseline of none), so
    the bulk rule opens a case (121 guarantees one hour window holds 61 or more, however
    the minute falls on the hour). The operator dismisses it with a reason; more reads
    of the same kind and a restart of the service (its day caches rebuilt) do not
    reopen it nor open another. An officer naming the mandate's purpose is no system:
    nothing explains the read."""
    mon, reads = world
    bulk = [read_person(fed, pin, "periodic-check") for pin in bulk_pins(0, 121)]
    officer_read = read_person(fed, "031090009999", "periodic-check", "VN/GOV/BTC/canbo12")

    def bulk_case():
        for c in all_cases(mon):
            if c["kind"] == "bulk" and c["client"] == F.TAX and c["user_id"] == "":
                return case(mon, c["id"])
        return None
    c = mon.until(bulk_case, "no bulk case for the tax department's 121 reads")
    assert c["state"] == "open" and c["client_member"] == F.BTC, c
    assert c["reads"] >= 61 and "the limit was 60" in c["why"], c
    # the evidence is the case's first 20 reads (docs/monitoring.md "Cases")
    held = {e["message_id"] for e in c["evidence"]}
    assert len(c["evidence"]) == 20 and len(held & set(bulk)) >= 17, c["evidence"]
    ev = next(e for e in c["evidence"] if e["message_id"] in bulk)
    assert ev["explanation"]["how"] == "mandate" and ev["purpose"] == "periodic-check", ev
    # the officer's read under the mandate's purpose is unexplained
    o = mon.until(lambda: case_of(mon, officer_read), "the officer's read made no case")
    assert o["kind"] == "no-explanation" and o["user_id"] == "VN/GOV/BTC/canbo12", o
    assert next(e for e in o["evidence"]
                if e["message_id"] == officer_read)["explanation"] is None, o
    # the mandate explained every one of the system's reads: none is in such a case
    unexplained = [case(mon, x["id"]) for x in all_cases(mon) if x["kind"] == "no-explanation"]
    assert not [e for u in unexplained for e in u["evidence"] if e["message_id"] in bulk]

    reason = "Đợt đối chiếu định kỳ tháng 12 theo kế hoạch đã báo trước"
    r = mon.post(f"/api/cases/{c['id']}/triage",
                 {"action": "dismiss", "actor": "Trần Thị Bình", "reason": reason})
    assert r.status_code == 200 and r.json()["state"] == "dismissed", r.text

    def still_dismissed():
        got = case(mon, c["id"])
        assert got["state"] == "dismissed", got
        assert [(h["action"], h["reason"]) for h in got["history"]][1:] == \
            [("dismiss", reason)], got["history"]
        others = [x for x in mon.get("/api/cases", kind="bulk").json()["cases"]
                  if x["client"] == F.TAX]
        assert others == [], others
    still_dismissed()
    # more of the same (most likely in the same hour): analysed, nothing reopened
    [read_person(fed, pin, "periodic-check") for pin in bulk_pins(200, 10)]
    settled(mon)
    still_dismissed()
    mon.stop()
    mon.start()
    settled(mon)
    still_dismissed()
