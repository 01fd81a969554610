"""End-to-end tests of the life events of `ndx demo` (issue 17): one real demo federation
(registry, eight gateways, seven ndx-sector registries, the e-ID, the portal) for the whole
module. A death registered at the civil status registry's own API is published through its
transactional outbox to BTP's gateway (docs/events.md "Publishing": kept once the gateway
answered 201), delivered to each subscriber's gateway (docs/events.md "Delivery"), pulled
and acknowledged by each subscriber system (docs/events.md "Receiving"): the population
registry marks the citizen deceased, social insurance stops them, the tax department closes
their personal tax file and the e-ID refuses their sign-in. Each delivery is a message-log
record on both gateways (docs/protocol.md "Events", "Records"). The same death again changes
nothing; a subscriber that was stopped catches up from its unacknowledged inbox; a death
registered while the publishing gateway is down waits in the outbox and is not lost."""

import json
import os
import shlex
import signal
import socket
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
import requests

from test_demo import bring_down, free_port_base, ok, portal_citizen, run_ndx, wait_gone

WAIT = 40  # seconds: an effect of a published event must show within this
CIVIL = "VN/GOV/BTP/civil-status"
DEATHS = CIVIL + "/deaths"
SUBSCRIBERS = {  # subscriber subsystem -> member whose gateway holds its inbox
    "VN/GOV/BCA/population": "VN/GOV/BCA",
    "VN/GOV/BCA/eid": "VN/GOV/BCA",
    "VN/GOV/BHXH/insurance": "VN/GOV/BHXH",
    "VN/GOV/TCT/tax": "VN/GOV/TCT",
}


def unix_request(sock, method, path, body=None):
    """An HTTP/1.1 request to the server on the Unix socket sock: (status, JSON or None)."""
    data = json.dumps(body, ensure_ascii=False).encode() if body is not None else b""
    head = (f"{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(sock)
        s.sendall(head.encode() + data)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    status = int(out.split(b" ", 2)[1])
    payload = out.split(b"\r\n\r\n", 1)[1]
    try:
        return status, json.loads(payload)
    except ValueError:
        return status, None


class Demo:
    def __init__(self, build_dir, d, out):
        self.build_dir, self.dir, self.out = build_dir, d, out
        self.fed = json.loads((d / "federation.json").read_text())
        self.gws = {g["member"]: g for g in self.fed["gateways"]}
        self.sectors = {s["sector"]: s for s in self.fed["sectors"]}
        self.restarted = []  # processes a test started again, stopped at the end

    def sock(self, sector):
        return self.sectors[sector]["socket"]

    def record(self, sector, table, key):
        status, doc = unix_request(self.sock(sector), "GET", f"/{table}/{key}")
        assert status == 200, (sector, table, doc)
        return doc

    def inbox(self, client, unacked=0):
        g = self.gws[{**SUBSCRIBERS, **MOVERS}[client]]  # every subscriber of the demo
        r = requests.get(f"{g['consumer_url']}/e1/inbox?limit=500&unacked={unacked}",
                         headers={"X-Road-Client": client}, timeout=10)
        assert r.status_code == 200, r.text
        return r.json()["events"]

    def db(self, sector):
        return sqlite3.connect(f"file:{self.sectors[sector]['db']}?mode=ro", uri=True)


@pytest.fixture(scope="module")
def demo(build_dir, tmp_path_factory):
    d = tmp_path_factory.mktemp("life") / "demo"
    port = free_port_base()
    state = None
    try:
        res = ok(run_ndx(build_dir, "demo", "up", "--dir", d, "--port-base", port))
        state = Demo(build_dir, d, res.stdout)
        yield state
    finally:
        for p in state.restarted if state else []:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(15)
                except subprocess.TimeoutExpired:
                    p.kill()
        bring_down(build_dir, d)


def wait_for(what, check, seconds=WAIT):
    """Polls check() until it returns a true value; fails naming what after seconds."""
    deadline = time.monotonic() + seconds
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.2)
    pytest.fail(f"{what} within {seconds} s (last: {last!r})")


def answers_health(p, sock, log):
    """Whether the restarted sector p answers /healthz on sock; fails at once,
    with the end of its log, if p has exited."""
    if p.poll() is not None:
        tail = Path(log).read_text(errors="replace")[-2000:]
        pytest.fail(f"the restarted sector exited with {p.returncode}:\n{tail}")
    if not os.path.exists(sock):
        return False
    # The socket file appears only once it listens (src/lib/unixsock.c), so a
    # refusal here is an answer of its own, not a start still under way.
    return unix_request(sock, "GET", "/healthz")[0] == 200


def register_line(out):
    lines = [ln.strip() for ln in out.splitlines() if "http://civil-status/deaths" in ln]
    assert len(lines) == 1, out
    return lines[0]


def run_register_line(demo, line):
    """Runs the printed `curl --unix-socket SOCK ... -d BODY URL` line (without curl)."""
    words = shlex.split(line)
    assert words[:2] == ["curl", "-s"] and "--unix-socket" in words and "-d" in words, words
    sock = words[words.index("--unix-socket") + 1]
    body = json.loads(words[words.index("-d") + 1])
    assert sock == demo.sock("civil-status") and words[-1] == "http://civil-status/deaths"
    return unix_request(sock, "POST", "/deaths", body), body


def died(demo, pin, day):
    """The three registries' effects of a death (docs/sectors.md "Events")."""
    return (demo.record("population", "citizens", pin)["deceased_on"] == day,
            demo.record("insurance", "participants", pin)["status"] == "deceased",
            demo.record("tax", "taxpayers", pin)["status"] == "closed")


def event_of(demo, client, pin, name="death-registered"):
    """The ids of the events about pin in client's inbox."""
    return [e["id"] for e in demo.inbox(client) if e["subject"] == pin and e["event"] == name]


def msglog_records(demo, member, message_id):
    g = demo.gws[member]
    with sqlite3.connect(f"file:{g['data_dir']}/msglog.db?mode=ro", uri=True) as db:
        return db.execute("SELECT direction, client, service, method, path, subject, purpose "
                          "FROM records WHERE message_id = ?", (message_id,)).fetchall()


def candidates(demo, exclude):
    """Citizens alive with an active personal tax file and an insurance record that is
    not stopped, in the population registry's order."""
    status, page = unix_request(demo.sock("population"), "GET", "/citizens?limit=100")
    assert status == 200
    for c in page["items"]:
        if c["pin"] in exclude or c.get("deceased_on"):
            continue
        t, tax = unix_request(demo.sock("tax"), "GET", f"/taxpayers/{c['pin']}")
        i, ins = unix_request(demo.sock("insurance"), "GET", f"/participants/{c['pin']}")
        if t == 200 and tax["status"] == "active" and i == 200 and ins["status"] != "deceased":
            yield c


def register_death(demo, citizen, day="2026-11-20"):
    body = {"pin": citizen["pin"], "full_name": citizen["full_name"], "died_on": day,
            "province": citizen["pin"][:3], "registered_on": day}
    status, doc = unix_request(demo.sock("civil-status"), "POST", "/deaths", body)
    assert status == 201, doc
    return body


def cmdline(pid):
    return [a.decode() for a in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if a]


def stop(pid):
    os.kill(pid, signal.SIGTERM)
    assert wait_gone(pid, 20), pid


def restart(demo, argv, log):
    """Starts argv again as the demo did (its own session, output appended to its log)."""
    with open(log, "ab") as f:
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=f, stderr=f,
                             start_new_session=True)
    demo.restarted.append(p)
    return p


# ---- the printed death ------------------------------------------------------------------

def test_up_prints_a_death_and_where_to_see_it(demo):
    td = demo.fed["try_death"]
    line = register_line(demo.out)
    assert line == td["register"] and td["pin"] in line
    for key, (sector, table) in {"population": ("population", "citizens"),
                                 "insurance": ("insurance", "participants"),
                                 "tax": ("tax", "taxpayers")}.items():
        assert td[key] == (f"curl -s --unix-socket {demo.sock(sector)} "
                           f"http://{sector}/{table}/{td['pin']}"), td
        assert td[key] in demo.out
    assert td["eid"].endswith(f"demo id-token --dir {demo.fed['dir']} --pin {td['pin']}")
    assert td["eid"] in demo.out and td["inbox"] in demo.out
    # The citizen is alive and can sign in before: the effects below are the event's.
    assert died(demo, td["pin"], "") == (False, False, False)
    # The registry holds the event types with their schemas and the four subscriptions.
    reg = demo.fed["registry"]
    auth = {"Authorization": f"Bearer {Path(reg['admin_token_file']).read_text().strip()}"}
    types = requests.get(reg["url"] + "/api/event-types", headers=auth, timeout=10).json()
    names = {(t["service"], t["name"]): t for t in types["event_types"]}
    assert {(DEATHS, "death-registered"), (CIVIL + "/births", "birth-registered"),
            ("VN/GOV/BCA/population/citizens", "residence-changed")} <= set(names)
    schema = names[(DEATHS, "death-registered")]["schema"]
    assert schema["properties"]["pin"] == {"$ref": "#/definitions/pin"}
    assert schema["definitions"]["pin"]["pattern"] == "^[0-9]{12}$"
    subs = requests.get(reg["url"] + "/api/subscriptions", headers=auth, timeout=10).json()
    deaths = {s["client"]: s for s in subs["subscriptions"] if s["service"] == DEATHS}
    assert set(deaths) == set(SUBSCRIBERS), deaths
    assert all(s["purpose"] == "public-service" for s in deaths.values())


def test_a_death_reaches_every_registry_and_the_eid(demo):
    td = demo.fed["try_death"]
    (status, doc), body = run_register_line(demo, td["register"])
    assert status == 201 and doc["pin"] == td["pin"], doc
    day = body["died_on"]
    # Each subscriber applies it from its own subscription, within seconds.
    wait_for("the death in population, insurance and tax",
             lambda: died(demo, td["pin"], day) == (True, True, True))
    # The e-ID refuses the sign-in, saying why (docs/id.md "Events").
    def refused():
        res = subprocess.run(shlex.split(td["eid"]), capture_output=True, text=True,
                             timeout=60)
        return res.returncode != 0 and "disabled" in res.stderr and res
    res = wait_for("the e-ID refusing the sign-in", refused)
    assert "death of its holder" in res.stderr, res.stderr
    # Every subscriber acknowledged it: what it applied is committed (docs/events.md
    # "Receiving": acknowledge what you have processed).
    ids = set()
    for client in SUBSCRIBERS:
        got = wait_for(f"{client} acknowledging", lambda c=client: [
            e for e in demo.inbox(c) if e["subject"] == td["pin"] and e["acknowledged"]])
        assert len(got) == 1 and got[0]["publisher"] == CIVIL, got
        assert got[0]["purpose"] == "public-service" and got[0]["service"] == DEATHS
        assert got[0]["payload"]["died_on"] == day
        ids.add(got[0]["id"])
    assert len(ids) == 1  # one event, one id, four deliveries
    eid = ids.pop()
    # The publisher sees each delivery made (docs/events.md "Where is my event?").
    st = requests.get(f"{demo.gws['VN/GOV/BTP']['consumer_url']}/e1/events/{eid}",
                      headers={"X-Road-Client": CIVIL}, timeout=10).json()
    assert {d["subscriber"]: d["state"] for d in st["deliveries"]} == {
        c: "delivered" for c in SUBSCRIBERS}, st
    # Each delivery is in the message log of both gateways (docs/protocol.md "Records").
    sent = msglog_records(demo, "VN/GOV/BTP", eid)
    assert sorted(r[1] for r in sent) == sorted(SUBSCRIBERS), sent
    for r in sent:
        assert r[0] == "provider" and r[2] == DEATHS and r[3] == "EVENT", r
        assert r[4] == "/death-registered" and r[5] == td["pin"] and r[6] == "public-service"
    for client, member in SUBSCRIBERS.items():
        got = [r for r in msglog_records(demo, member, eid) if r[1] == client]
        assert len(got) == 1 and got[0][0] == "consumer" and got[0][3] == "EVENT", got
    # The outbox is empty once the gateway kept the event.
    with demo.db("civil-status") as db:
        assert db.execute("SELECT count(*) FROM event_outbox").fetchone()[0] == 0
    for sector in ("population", "insurance", "tax"):
        with demo.db(sector) as db:
            assert db.execute("SELECT effect FROM event_applied WHERE id = ?",
                              (eid,)).fetchall() != [], sector


def test_the_same_death_again_changes_nothing(demo):
    td = demo.fed["try_death"]
    pin = td["pin"]
    before = {s: demo.record(s, t, pin) for s, t in (("population", "citizens"),
                                                    ("insurance", "participants"),
                                                    ("tax", "taxpayers"))}
    assert before["population"]["deceased_on"], before
    # A person dies once: the registry refuses a second registration.
    status, doc = unix_request(demo.sock("civil-status"), "POST", "/deaths",
                               json.loads(shlex.split(td["register"])[-2]))
    assert status == 409, doc
    # The same death delivered again (published once more, as a publisher that lost the
    # gateway's answer would: docs/events.md "Publishing") changes nothing in any registry.
    first = event_of(demo, "VN/GOV/TCT/tax", pin)
    payload = [e for e in demo.inbox("VN/GOV/TCT/tax") if e["id"] == first[0]][0]["payload"]
    r = requests.post(f"{demo.gws['VN/GOV/BTP']['consumer_url']}/e1/{DEATHS}/death-registered",
                      headers={"X-Road-Client": CIVIL, "Ndx-Data-Subjects": pin},
                      json=payload, timeout=10)
    assert r.status_code == 201, r.text
    again = r.json()["id"]
    for client in SUBSCRIBERS:
        wait_for(f"{client} acknowledging the second delivery", lambda c=client: [
            e for e in demo.inbox(c) if e["id"] == again and e["acknowledged"]])
    for s, t in (("population", "citizens"), ("insurance", "participants"),
                 ("tax", "taxpayers")):
        assert demo.record(s, t, pin) == before[s], s  # updated_at included
        with demo.db(s) as db:
            assert db.execute("SELECT effect FROM event_applied WHERE id = ?",
                              (again,)).fetchone() == ("nothing to change",), s
    # Acknowledging the first again is still one acknowledgement.
    g = demo.gws["VN/GOV/TCT"]
    a = requests.post(f"{g['consumer_url']}/e1/inbox/{first[0]}/ack",
                      headers={"X-Road-Client": "VN/GOV/TCT/tax"}, timeout=10)
    assert a.status_code == 200, a.text


# ---- the printed change of permanent residence -----------------------------------------

CITIZENS = "VN/GOV/BCA/population/citizens"
MOVERS = {"VN/GOV/TCT/tax": "VN/GOV/TCT", "VN/GOV/BHXH/insurance": "VN/GOV/BHXH",
          "VN/GOV/CSGT/vehicles": "VN/GOV/CSGT"}


def addresses(demo, pin):
    """The (address, province) tax, insurance and each vehicle hold for pin."""
    tax = demo.record("tax", "taxpayers", pin)
    ins = demo.record("insurance", "participants", pin)
    status, veh = unix_request(demo.sock("vehicles"), "GET", f"/vehicles?owner_id={pin}")
    assert status == 200 and veh["items"], veh
    return ([(tax["address"], tax["province"]), (ins["address"], ins["province"])] +
            [(v["owner_address"], v["owner_province"]) for v in veh["items"]])


def move_line(out):
    lines = [ln.strip() for ln in out.splitlines()
             if "-X PUT" in ln and "http://population/citizens/" in ln]
    assert len(lines) == 1, out
    return lines[0]


def test_up_prints_a_residence_change_and_where_to_see_it(demo):
    tr = demo.fed["try_residence"]
    pin = tr["pin"]
    line = move_line(demo.out)
    assert line == tr["move"] and line.endswith(f"http://population/citizens/{pin}")
    for key in ("tax", "insurance", "vehicles"):
        assert tr[key] in demo.out and pin in tr[key], tr
    # The seed gave every registry the citizen's own address (docs/sectors.md).
    cit = demo.record("population", "citizens", pin)
    held = addresses(demo, pin)
    assert set(held) == {(cit["permanent_address"], cit["permanent_province"])}, held
    assert tr["province"] != cit["permanent_province"]
    # Three subscriptions to residence-changed, purpose public-service.
    reg = demo.fed["registry"]
    auth = {"Authorization": f"Bearer {Path(reg['admin_token_file']).read_text().strip()}"}
    subs = requests.get(reg["url"] + "/api/subscriptions", headers=auth, timeout=10).json()
    moved = {s["client"]: s for s in subs["subscriptions"]
             if s["service"] == CITIZENS and s["event"] == "residence-changed"}
    assert set(moved) == set(MOVERS), moved
    assert all(s["event"] == "residence-changed" and s["purpose"] == "public-service"
               for s in moved.values())


def test_a_residence_change_to_an_invalid_province_is_refused_before_publishing(demo):
    tr = demo.fed["try_residence"]
    words = shlex.split(tr["move"])
    body = dict(json.loads(words[words.index("-d") + 1]), permanent_province="999")
    before = event_of(demo, "VN/GOV/TCT/tax", tr["pin"], "residence-changed")
    status, doc = unix_request(demo.sock("population"), "PUT", f"/citizens/{tr['pin']}", body)
    assert status == 400 and "permanent_province" in json.dumps(doc), doc
    assert demo.record("population", "citizens", tr["pin"])["household_id"] != body[
        "household_id"]
    with demo.db("population") as db:
        assert db.execute("SELECT count(*) FROM event_outbox").fetchone()[0] == 0
    assert demo.record("population", "citizens", tr["pin"])["permanent_province"] != "999"
    time.sleep(1)
    assert event_of(demo, "VN/GOV/TCT/tax", tr["pin"], "residence-changed") == before


def test_a_residence_change_reaches_tax_insurance_and_vehicles(demo):
    tr = demo.fed["try_residence"]
    pin = tr["pin"]
    words = shlex.split(tr["move"])
    assert words[:4] == ["curl", "-s", "-X", "PUT"] and "--unix-socket" in words, words
    assert words[words.index("--unix-socket") + 1] == demo.sock("population")
    body = json.loads(words[words.index("-d") + 1])
    # First the household they head in the new province (printed before the PUT).
    hh_words = shlex.split(tr["household"])
    assert hh_words[-1] == "http://population/households" and hh_words[-1] in demo.out
    hh = json.loads(hh_words[hh_words.index("-d") + 1])
    assert hh["head_pin"] == pin and hh["province"] == tr["province"] == hh["id"][1:4]
    status, doc = unix_request(demo.sock("population"), "POST", "/households", hh)
    assert status == 201, doc
    assert body["household_id"] == hh["id"] and body["relation"] == "head"
    status, doc = unix_request(demo.sock("population"), "PUT", f"/citizens/{pin}", body)
    assert status == 200, doc
    new = (tr["address"], tr["province"])
    wait_for("the new address in tax, insurance and vehicles",
             lambda: set(addresses(demo, pin)) == {new})
    ids = set()
    for client in MOVERS:
        got = wait_for(f"{client} acknowledging", lambda c=client: [
            e for e in demo.inbox(c) if e["subject"] == pin and e["acknowledged"] and
            e["event"] == "residence-changed"])
        assert len(got) == 1 and got[0]["publisher"] == "VN/GOV/BCA/population", got
        assert got[0]["payload"]["permanent_province"] == tr["province"]
        ids.add(got[0]["id"])
    assert len(ids) == 1  # one event, published under the outbox's own id
    with demo.db("population") as db:
        assert db.execute("SELECT count(*) FROM event_outbox").fetchone()[0] == 0
    for sector in ("tax", "insurance", "vehicles"):
        with demo.db(sector) as db:
            assert db.execute("SELECT effect FROM event_applied WHERE id = ?",
                              (next(iter(ids)),)).fetchone()[0].endswith("updated"), sector


def test_a_name_corrected_in_the_population_registry_reaches_tax_and_insurance(demo):
    """A correction of who a citizen is in the population registry (here the name, as
    reconciliation finds it wrong: docs/sectors.md "Correction worklists") publishes
    citizen-corrected through its outbox, and tax and social insurance correct the name they
    copied, folded twin included (a search by the new name finds the record). A change of
    the address alone publishes no correction."""
    taken = {demo.fed["try_death"]["pin"], demo.fed["try_residence"]["pin"]}
    with demo.db("tax") as db:
        taxed = {p for (p,) in db.execute(
            "SELECT tax_id FROM taxpayers WHERE kind = 'individual' AND status <> 'closed'")}
    with demo.db("insurance") as db:
        insured = {p for (p,) in db.execute(
            "SELECT pin FROM participants WHERE status <> 'deceased'")}
    with demo.db("population") as db:
        living = {p for (p,) in db.execute(
            "SELECT pin FROM citizens WHERE deceased_on IS NULL")}
    pin = sorted((taxed & insured & living) - taken)[0]
    cit = demo.record("population", "citizens", pin)
    new_name = cit["full_name"] + " Đính Chính"
    status, doc = unix_request(demo.sock("population"), "PUT", f"/citizens/{pin}",
                               {**cit, "full_name": new_name})
    assert status == 200, doc
    wait_for("the corrected name in tax and insurance", lambda: (
        demo.record("tax", "taxpayers", pin)["name"] == new_name and
        demo.record("insurance", "participants", pin)["name"] == new_name))
    for client in ("VN/GOV/TCT/tax", "VN/GOV/BHXH/insurance"):
        got = wait_for(f"{client} acknowledging", lambda c=client: [
            e for e in demo.inbox(c) if e["subject"] == pin and e["acknowledged"] and
            e["event"] == "citizen-corrected"])
        assert len(got) == 1 and got[0]["payload"]["corrected"] == ["full_name"], got
        assert got[0]["payload"]["full_name"] == new_name
    # The folded twin follows: the tax registry's search by name finds the new name.
    status, page = unix_request(demo.sock("tax"), "GET",
                                "/taxpayers?name=" + requests.utils.quote(new_name))
    assert status == 200 and pin in [t["tax_id"] for t in page["items"]], page
    # The same record with only a new address: no correction is published.
    status, doc = unix_request(demo.sock("population"), "PUT", f"/citizens/{pin}",
                               {**demo.record("population", "citizens", pin),
                                "temporary_address": "Số 2 phố Tràng Tiền, Phường Hoàn Kiếm, "
                                                     "Thành phố Hà Nội"})
    assert status == 200, doc
    with demo.db("population") as db:
        wait_for("the outbox drained", lambda: db.execute(
            "SELECT count(*) FROM event_outbox").fetchone()[0] == 0)
    assert len([e for e in demo.inbox("VN/GOV/TCT/tax") if e["subject"] == pin and
                e["event"] == "citizen-corrected"]) == 1


def test_the_portal_residence_change_moves_the_household_too(demo):
    """The portal's procedure (docs/portal.md): to another province the citizen heads a
    household registered there; the profile shows it."""
    fed = demo.fed
    taken = {demo.fed["try_death"]["pin"], fed["try_residence"]["pin"]}
    taken |= {a["pin"] for a in fed["apps"]["id"]["demo_accounts"]}
    # The e-ID has accounts for the first 50 citizens by number (ndx-id accounts import).
    with demo.db("population") as db:
        pin, old_hh = next(r for r in db.execute(
            "SELECT pin, household_id FROM citizens WHERE household_id IS NOT NULL AND"
            " deceased_on IS NULL AND permanent_province <> '048' AND pin IN"
            " (SELECT pin FROM citizens ORDER BY pin LIMIT 50) ORDER BY pin")
            if r[0] not in taken)
    portal = fed["apps"]["portal"]["url"]
    s = portal_citizen(fed, pin)
    csrf = s.get(portal + "/api/session", timeout=10).json()["csrf"]
    fields = {"province": "048", "commune": "Phường Hải Châu", "address": "Số 45 đường Bạch Đằng",
              "reason": "chuyển công tác"}
    # Stored as one address, commune and province (two levels since 1 July 2025).
    full = "Số 45 đường Bạch Đằng, Phường Hải Châu, Thành phố Đà Nẵng"
    r = s.post(portal + "/api/procedures", json={"kind": "residence-change", "fields": fields},
               headers={"X-CSRF-Token": csrf}, timeout=30)
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    # The fee first (docs/payment.md): the VietQR code paid at the demo's bank.
    pay = s.get(portal + f"/api/procedures/{pid}/payment", timeout=30)
    assert pay.status_code == 200, pay.text
    r = requests.post(fed["apps"]["bank"]["url"] + "/pay", params={"qr": pay.json()["payload"]},
                      timeout=30)
    assert r.status_code == 200, r.text
    assert s.get(portal + f"/api/procedures/{pid}/payment", timeout=30).json()["state"] == \
        "submitted"
    o = requests.Session()
    tok = o.get(portal + "/auth/officer", timeout=10).json()["csrf"]
    r = o.post(portal + "/auth/officer", json={"username": "canbo.bca",
                                                "password": "ndx-demo-2026"},
               headers={"X-CSRF-Token": tok}, timeout=20)
    assert r.status_code == 200, r.text
    r = o.post(portal + f"/api/officer/procedures/{pid}/decision", json={"decision": "approve"},
               headers={"X-CSRF-Token": r.json()["csrf"]}, timeout=60)
    assert r.status_code == 200 and r.json()["state"] == "completed", r.text
    cit = demo.record("population", "citizens", pin)
    assert cit["permanent_province"] == "048" and cit["household_id"] != old_hh, cit
    assert cit["household_id"].startswith("H048") and cit["relation"] == "head"
    hh = demo.record("population", "households", cit["household_id"])
    assert (hh["province"], hh["address"], hh["head_pin"]) == ("048", full, pin)
    prof = s.get(portal + "/api/profile", timeout=30).json()
    assert prof["household"]["province"] == "048", prof


# ---- the printed birth ------------------------------------------------------------------

BIRTHS = CIVIL + "/births"


def children(demo, tb):
    """The records of the printed child in the mother's household."""
    status, page = unix_request(demo.sock("population"), "GET",
                                f"/citizens?household_id={tb['household']}&limit=100")
    assert status == 200, page
    return [c for c in page["items"] if c["full_name"] == tb["child_name"]]


def test_a_birth_reaches_population_and_insurance(demo):
    tb = demo.fed["try_birth"]
    lines = [ln.strip() for ln in demo.out.splitlines() if "http://civil-status/births" in ln]
    assert lines == [tb["register"]], demo.out
    assert tb["population"] in demo.out and tb["insurance"] in demo.out
    # Population subscribes to birth-registered, insurance to citizen-registered.
    reg = demo.fed["registry"]
    auth = {"Authorization": f"Bearer {Path(reg['admin_token_file']).read_text().strip()}"}
    subs = requests.get(reg["url"] + "/api/subscriptions", headers=auth, timeout=10).json()
    got = {(s["client"], s["service"], s["event"], s["purpose"]) for s in subs["subscriptions"]}
    assert {("VN/GOV/BCA/population", BIRTHS, "birth-registered", "public-service"),
            ("VN/GOV/BHXH/insurance", CITIZENS, "citizen-registered", "public-service")} <= got
    assert children(demo, tb) == []
    words = shlex.split(tb["register"])
    body = json.loads(words[words.index("-d") + 1])
    assert "child_pin" not in body and body["mother_pin"] == tb["mother_pin"]
    status, doc = unix_request(demo.sock("civil-status"), "POST", "/births", body)
    assert status == 201, doc
    kid = wait_for("the child in the mother's household", lambda: children(demo, tb))
    assert len(kid) == 1, kid
    kid = kid[0]
    mother = demo.record("population", "citizens", tb["mother_pin"])
    pin = kid["pin"]
    # A valid number: the province of registration, a girl born this year (digit 4: 3 for
    # a woman born in the 2000s), checked by the registry's own format on the way in.
    assert len(pin) == 12 and pin[:3] == body["province"] and pin[3] == "3"
    assert pin[4:6] == body["birth_date"][2:4]
    assert (kid["birth_date"], kid["sex"], kid["birth_province"]) == (
        body["birth_date"], "female", body["province"])
    assert kid["household_id"] == mother["household_id"] == tb["household"]
    assert kid["relation"] in ("child", "grandchild")
    assert kid["permanent_address"] == mother["permanent_address"]
    # Social insurance issues the child's health insurance card.
    card = wait_for("the child's card", lambda: unix_request(
        demo.sock("insurance"), "GET", f"/participants/{pin}")[1] if unix_request(
        demo.sock("insurance"), "GET", f"/participants/{pin}")[0] == 200 else None)
    assert card["status"] == "health-card" and card["name"] == tb["child_name"], card
    assert card["first_period"] == body["birth_date"][:7]
    ins = shlex.split(tb["insurance"])
    res = subprocess.run(ins, capture_output=True, text=True, timeout=30)
    assert res.returncode == 0 and pin in res.stdout, (ins, res)
    ev = wait_for("insurance acknowledging citizen-registered", lambda: [
        e for e in demo.inbox("VN/GOV/BHXH/insurance") if e["subject"] == pin and
        e["event"] == "citizen-registered" and e["acknowledged"]])
    assert ev[0]["publisher"] == "VN/GOV/BCA/population", ev
    with demo.db("population") as db:
        assert db.execute("SELECT count(*) FROM event_outbox").fetchone()[0] == 0


def test_the_same_birth_again_changes_nothing(demo):
    tb = demo.fed["try_birth"]
    kid = children(demo, tb)
    assert len(kid) == 1, kid
    pin = kid[0]["pin"]
    before = (kid[0], demo.record("insurance", "participants", pin))
    first = wait_for("population acknowledging the birth", lambda: [
        e for e in demo.inbox("VN/GOV/BCA/population")
        if e["event"] == "birth-registered" and e["acknowledged"] and
        e["payload"]["child_name"] == tb["child_name"]])
    assert len(first) == 1, first
    # Published once more (a publisher that lost the gateway's answer): another event id,
    # the same birth; the population registry finds the record it made.
    r = requests.post(f"{demo.gws['VN/GOV/BTP']['consumer_url']}/e1/{BIRTHS}/birth-registered",
                      headers={"X-Road-Client": CIVIL, "Ndx-Data-Subjects": tb["mother_pin"]},
                      json=first[0]["payload"], timeout=10)
    assert r.status_code == 201, r.text
    again = r.json()["id"]
    wait_for("population acknowledging the second delivery", lambda: [
        e for e in demo.inbox("VN/GOV/BCA/population") if e["id"] == again and
        e["acknowledged"]])
    with demo.db("population") as db:
        assert db.execute("SELECT effect FROM event_applied WHERE id = ?",
                          (again,)).fetchone() == ("nothing to change",)
        assert db.execute("SELECT count(*) FROM event_outbox").fetchone()[0] == 0
    assert children(demo, tb) == [before[0]]
    assert demo.record("insurance", "participants", pin) == before[1]
    assert len([e for e in demo.inbox("VN/GOV/BHXH/insurance")
                if e["subject"] == pin and e["event"] == "citizen-registered"]) == 1


def test_the_mothers_portal_shows_the_child(demo):
    """The portal's profile reads the household through the exchange (purpose
    public-service, a multi-person answer the households service allows): the household
    answers with its members, the newborn among them."""
    tb = demo.fed["try_birth"]
    kid = children(demo, tb)
    assert len(kid) == 1, kid
    s = portal_citizen(demo.fed, tb["mother_pin"])
    prof = s.get(demo.fed["apps"]["portal"]["url"] + "/api/profile", timeout=30).json()
    assert prof["household"]["id"] == tb["household"], prof
    members = {m["pin"]: m for m in prof["household"]["members"]}
    assert tb["mother_pin"] in members
    assert members[kid[0]["pin"]] == {"pin": kid[0]["pin"], "full_name": tb["child_name"],
                                      "relation": kid[0]["relation"],
                                      "birth_date": kid[0]["birth_date"]}
    assert tb["portal"] == demo.fed["apps"]["portal"]["url"] + "/profile"
    assert tb["portal"] in demo.out and f"as {tb['mother_pin']}, password" in demo.out


def test_a_subscriber_that_was_stopped_catches_up(demo):
    exclude = {demo.fed["try_death"]["pin"]}
    citizen = next(candidates(demo, exclude))
    ins = demo.sectors["insurance"]
    argv = cmdline(ins["pid"])
    stop(ins["pid"])
    day = register_death(demo, citizen)["died_on"]
    pin = citizen["pin"]
    # The others apply it meanwhile; the insurance gateway holds it, unacknowledged.
    wait_for("population and tax", lambda: (
        demo.record("population", "citizens", pin)["deceased_on"] == day and
        demo.record("tax", "taxpayers", pin)["status"] == "closed"))
    wait_for("the insurance inbox holding it",
             lambda: [e for e in demo.inbox("VN/GOV/BHXH/insurance", unacked=1)
                      if e["subject"] == pin])
    p = restart(demo, argv, ins["log"])
    wait_for("the restarted insurance registry answering",
             lambda: answers_health(p, ins["socket"], ins["log"]))
    wait_for("insurance catching up", lambda: died(demo, pin, day) == (True, True, True))
    assert not [e for e in demo.inbox("VN/GOV/BHXH/insurance", unacked=1)
                if e["subject"] == pin]


def test_a_death_registered_while_the_gateway_is_down_is_not_lost(demo):
    exclude = {demo.fed["try_death"]["pin"]}
    citizen = next(candidates(demo, exclude))
    g = demo.gws["VN/GOV/BTP"]
    argv = cmdline(g["pid"])
    stop(g["pid"])
    # The registry records the death all the same; its event waits in the outbox,
    # written in the same transaction (docs/sectors.md "Events").
    day = register_death(demo, citizen, "2026-11-21")["died_on"]
    pin = citizen["pin"]

    def outbox():
        with demo.db("civil-status") as db:
            return db.execute("SELECT name, subject, attempts FROM event_outbox").fetchall()
    rows = wait_for("a failed attempt counted", lambda: [r for r in outbox() if r[2] >= 1])
    assert rows[0][:2] == ("death-registered", pin), rows
    assert died(demo, pin, day) == (False, False, False)
    p = restart(demo, argv, g["log"])
    wait_for("the gateway answering", lambda: p.poll() is None and _healthy(g["consumer_url"]))
    wait_for("the death everywhere", lambda: died(demo, pin, day) == (True, True, True))
    assert outbox() == []


def _healthy(url):
    try:
        return requests.get(url + "/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False
