"""End-to-end tests of `ndx demo up/down/run` and `ndx testservice`. One `demo up` for
most of the module: a live registry holding the eight Vietnamese members; each of the
seven providing agencies (BCA population, BTP civil status, BTC enterprises, TCT tax,
BHXH insurance, BNNMT land, CSGT vehicles) serves its seeded registry with its own
ndx-sector behind its own ndx-gateway, plus its built-in access list ("who read my data")
for the portal only; VPCP has the portal and the consent service (ndx-consent, registered
with the registry). The grants carry their methods; the exchanges and the access-list
command that `up` prints work; a second `up` is refused while it runs, as is a taken port
or a bad --port-base; `down` stops exactly its processes in order (portal and e-ID, then
gateways, then sectors and the consent service, then the registry) and is idempotent; a
re-up reuses keys, certificates and data. Processes and apps the demo may add (ndx-id,
ndx-portal) are checked only as far as they are listed. Under the rules of who read my
data: the e-ID is registered as an id provider (its key in the signed configuration), bulk
reads are registered only where the demo's flows need them, the printed reads are about
the printed citizen alone, the first up leaves an officer's read of that citizen in the
portal, and the printed access-list line works with the ID token `ndx demo id-token`
writes. In the data marketplace, two enterprises (class COM: the bank and a logistics
company) hold agreements negotiated at up on the address check and the business-registry
feed, each message signed by its sender's gateway (the printed check-negotiation line
checks one), whose grants carry their calls."""

import base64
import datetime
import hashlib
import hmac
import json
import os
import re
import shlex
import signal
import socket
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from conftest import free_port, free_port_range
import refusals  # noqa: E402

UP_TIMEOUT = 120
# In the port order of `ndx demo --help`: consumer ports +10.., gateway ports +20..
MEMBERS = {"VN/GOV/BCA": "Bộ Công an", "VN/GOV/BTP": "Bộ Tư pháp",
           "VN/GOV/BTC": "Bộ Tài chính", "VN/GOV/TCT": "Cục Thuế",
           "VN/GOV/BHXH": "Bảo hiểm xã hội Việt Nam",
           "VN/GOV/BNNMT": "Bộ Nông nghiệp và Môi trường",
           "VN/GOV/CSGT": "Cục Cảnh sát giao thông", "VN/GOV/VPCP": "Văn phòng Chính phủ",
           "VN/GOV/KBNN": "Kho bạc Nhà nước", "VN/COM/0100000099": "Ngân hàng Thử nghiệm",
           "VN/COM/0100000088": "Công ty Giao vận Thử nghiệm"}
# member -> (sector, port offset, {service id: table})
SECTORS = {
    "VN/GOV/BCA": ("population", 30, {"population/citizens": "citizens",
                                      "population/households": "households"}),
    "VN/GOV/BTP": ("civil-status", 31, {"civil-status/births": "births",
                                        "civil-status/marriages": "marriages",
                                        "civil-status/deaths": "deaths"}),
    "VN/GOV/BTC": ("enterprise", 32, {"enterprise/enterprises": "enterprises",
                                      "enterprise/owners": "owners"}),
    "VN/GOV/TCT": ("tax", 33, {"tax/taxpayers": "taxpayers",
                               "tax/obligations": "obligations"}),
    "VN/GOV/BHXH": ("insurance", 34, {"insurance/participants": "participants",
                                      "insurance/contributions": "contributions"}),
    "VN/GOV/BNNMT": ("land", 35, {"land/parcels": "parcels",
                                  "land/right-holders": "right_holders"}),
    "VN/GOV/CSGT": ("vehicles", 36, {"vehicles/vehicles": "vehicles"}),
}
# Services a sector serves beside its tables: the population registry's verification
# service (docs/sectors.md "Verification"), path /verify; every other registry's four
# measures (docs/sectors.md "The four measures"), path /measures.
EXTRA_SERVICES = {"VN/GOV/BCA": {"population/verify": "verify"},
                  "VN/GOV/BTP": {"civil-status/measures": "measures"},
                  "VN/GOV/BTC": {"enterprise/measures": "measures"},
                  "VN/GOV/TCT": {"tax/measures": "measures"},
                  "VN/GOV/BHXH": {"insurance/measures": "measures"},
                  "VN/GOV/BNNMT": {"land/measures": "measures"},
                  "VN/GOV/CSGT": {"vehicles/measures": "measures"}}
# ... and its correction worklist (docs/sectors.md "Correction worklists"), path
# /reconcile: the portal's officers' desk alone reads and writes it.
for _m, _svcs in list(EXTRA_SERVICES.items()):
    for _sid in list(_svcs):
        if _sid.endswith("/measures"):
            _svcs[_sid.replace("/measures", "/reconcile")] = "reconcile"
MEASURES_SERVICES = {f"{m}/{s}" for m, svcs in EXTRA_SERVICES.items() for s in svcs
                     if s.endswith("/measures")}
RECONCILE_SERVICES = {f"{m}/{s}" for m, svcs in EXTRA_SERVICES.items() for s in svcs
                      if s.endswith("/reconcile")}
# Subsystems that serve nothing: the e-ID, behind BCA's gateway, receives events.
EXTRA_SUBSYSTEMS = {"VN/GOV/BCA": {"VN/GOV/BCA/eid"}}
# Tables the seed leaves empty: deaths come from the printed life event.
EMPTY_TABLES = {"deaths"}
PORTAL = "VN/GOV/VPCP/portal"
CONSENT = "VN/GOV/VPCP/consent"
MONITORING = "VN/GOV/VPCP/monitoring"
ACCESS_LISTS = ({f"{m}/transparency/accesses" for m in SECTORS} |
                {"VN/GOV/KBNN/transparency/accesses"})
SECTOR_SERVICES = {f"{m}/{s}" for m, (_, _, svcs) in SECTORS.items() for s in svcs}
APP_OFFSETS = {"consent": 40, "id": 45, "portal": 50, "monitor": 55, "treasury": 38,
               "bank": 39}
# Processes and how many: the ones the demo always has; ndx-id and ndx-portal may be
# listed too (at most one each). The stop order, by group.
PROCS = {"ndx-gateway": 11, "ndx-sector": 7, "ndx-consent": 1, "ndx-registry": 1,
         "ndx-pay": 2}
OPTIONAL_PROCS = {"ndx-id", "ndx-portal", "ndx-monitor"}
STOP_GROUP = {"ndx-portal": 0, "ndx-id": 0, "ndx-monitor": 0, "ndx-gateway": 1, "ndx-sector": 2,
              "ndx-consent": 2, "ndx-pay": 2, "ndx-registry": 3}
CITIZEN = "001099012345"
PORT_SPAN = 71  # --port-base .. +70 (the gateways' consoles at +60..70)


def run_ndx(build_dir, *args, timeout=UP_TIMEOUT):
    env = {k: v for k, v in os.environ.items() if not k.startswith("NDX_")}
    return subprocess.run([str(build_dir / "src" / "cli" / "ndx"), *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, env=env)


def ok(res):
    assert res.returncode == 0, (f"exit {res.returncode}\nstdout:\n{res.stdout}\n"
                                 f"stderr:\n{res.stderr}")
    return res


def alive(pid):
    """A process that exists and is not a zombie (PID 1 in a container may not reap)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def wait_gone(pid, seconds=15):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.1)
    return False


def free_port_base():
    return free_port_range(PORT_SPAN)


def bring_down(build_dir, d):
    """demo down, and SIGKILL for whatever it left."""
    fed = d / "federation.json"
    if not fed.exists():
        return None
    pids = [p["pid"] for p in json.loads(fed.read_text()).get("processes", [])]
    res = run_ndx(build_dir, "demo", "down", "--dir", d)
    for pid in pids:
        if pid and alive(pid):
            os.kill(pid, signal.SIGKILL)
    return res


@pytest.fixture
def demo(build_dir, tmp_path):
    """A demo directory and port; whatever test runs, the federation is brought down."""
    d = tmp_path / "demo"
    port = free_port_base()
    yield d, port
    bring_down(build_dir, d)


class Up:
    def __init__(self, build_dir, d, port, out):
        self.build_dir, self.dir, self.port, self.out = build_dir, d, port, out
        self.fed = json.loads((d / "federation.json").read_text())
        self.gws = {g["member"]: g for g in self.fed["gateways"]}
        reg = self.fed["registry"]
        self.url = reg["url"]
        self.auth = {"Authorization": f"Bearer {Path(reg['admin_token_file']).read_text().strip()}"}

    def api(self, path):
        resp = requests.get(self.url + path, headers=self.auth, timeout=10)
        assert resp.status_code == 200, resp.text
        return resp.json()


@pytest.fixture(scope="module")
def up(build_dir, tmp_path_factory):
    """One federation for the module's tests, which run in order: the last one brings it
    down and up again."""
    d = tmp_path_factory.mktemp("demo") / "demo"
    port = free_port_base()
    try:
        res = ok(run_ndx(build_dir, "demo", "up", "--dir", d, "--port-base", port))
        yield Up(build_dir, d, port, res.stdout)
    finally:
        bring_down(build_dir, d)


def all_pids(fed):
    return [p["pid"] for p in fed["processes"]]


def lines_with(text, needle):
    return [ln.strip() for ln in text.splitlines() if needle in ln]


def curl_line(text, service="VN/GOV/BCA/population/citizens"):
    """A ready-to-paste curl line of `demo up/run` output."""
    lines = [ln for ln in lines_with(text, f"/r1/{service}/") if ln.startswith("curl -s -H")]
    assert lines, text
    return lines[0]


def enterprise_line(text):
    return curl_line(text, "VN/GOV/BTC/enterprise/enterprises")


def accesses_line(text):
    lines = [ln for ln in lines_with(text, " subject accesses ")]
    assert len(lines) == 1, text
    return lines[0]


def id_token_line(text):
    # (the life event's line names another citizen with --pin: test_life_events.py)
    lines = [ln for ln in lines_with(text, " demo id-token ") if " --pin " not in ln]
    assert len(lines) == 1, text
    return lines[0]


def run_id_token_line(line):
    """Runs the printed `ndx demo id-token ...` line: the citizen's ID token, in a file."""
    words = shlex.split(line)
    assert Path(words[0]).name == "ndx" and words[1:3] == ["demo", "id-token"], words
    res = subprocess.run(words, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    return res


def curl_as_request(line):
    """Runs a `curl -s -H 'K: V' ... URL` line with requests."""
    words = shlex.split(line)
    assert words[:2] == ["curl", "-s"], words
    headers, i = {}, 2
    while i < len(words) - 1:
        assert words[i] == "-H", words
        k, v = words[i + 1].split(":", 1)
        headers[k.strip()] = v.strip()
        i += 2
    return requests.get(words[-1], headers=headers, timeout=20)


def run_accesses_line(line, *extra, token_line=None):
    """Runs the printed `ndx subject accesses ...` line with --json (and extra options),
    after the printed `ndx demo id-token` line when given."""
    if token_line:
        run_id_token_line(token_line)
    words = shlex.split(line)
    assert Path(words[0]).name == "ndx" and words[1:3] == ["subject", "accesses"], words
    res = subprocess.run(words + ["--json", *extra], capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def officer_reads(doc):
    """The access-list entries of officers' reads through the portal."""
    return [e for e in doc["accesses"] if e.get("user_id")]


def seeded(fed, sector, sql, *args):
    """Rows of a seeded sector database, read directly."""
    with sqlite3.connect(f"file:{fed['sector_dir']}/{sector}.db?mode=ro", uri=True) as db:
        return db.execute(sql, args).fetchall()


def base64_pub(pem_path):
    """The raw 32-byte Ed25519 public key of a PEM file."""
    from cryptography.hazmat.primitives import serialization
    key = serialization.load_pem_public_key(Path(pem_path).read_bytes())
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def unix_get(sock, path, headers=None):
    """GET path from the HTTP server on the Unix socket sock: (status, body)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect(sock)
        head = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n{head}Connection: close\r\n\r\n"
                  .encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    status = int(data.split(b" ", 2)[1])
    return status, data.split(b"\r\n\r\n", 1)[1]


def check_federation_live(fed, port):
    """Every member's gateway, every sector, the consent service and the registry of
    federation.json are live on their ports; every process it lists is alive."""
    reg = fed["registry"]
    assert reg["url"] == f"http://127.0.0.1:{port}"
    assert reg["pid"] > 0 and alive(reg["pid"])
    assert Path(reg["anchor"]).is_file() and Path(reg["log"]).is_file()
    gws = {g["member"]: g for g in fed["gateways"]}
    assert list(gws) == list(MEMBERS)
    for i, m in enumerate(MEMBERS):
        g = gws[m]
        assert g["code"] == "gw1"
        # The eleventh (the logistics company) on +56 and +57: +10..+29 are full.
        assert g["consumer_url"] == f"http://127.0.0.1:{port + (10 + i if i < 10 else 56)}"
        assert g["gateway_url"] == f"https://127.0.0.1:{port + (20 + i if i < 10 else 57)}"
        assert g["pid"] > 0 and alive(g["pid"]), g
        assert Path(g["config"]).is_file() and Path(g["sign_pub"]).is_file()
        assert Path(g["data_dir"]).is_dir() and Path(g["log"]).is_file()
        assert Path(g["tls_cert"]).is_file()
        h = requests.get(g["consumer_url"] + "/healthz", timeout=5)
        assert h.status_code == 200 and h.json()["conf_version"] >= 1, h.text
    sectors = {s["member"]: s for s in fed["sectors"]}
    assert set(sectors) == set(SECTORS)
    for m, s in sectors.items():
        name, offset, _ = SECTORS[m]
        # On a Unix socket in the sector directory, not on a port (T33).
        sock = f"{fed['sector_dir']}/{name}.sock"
        assert s["sector"] == name and s["socket"] == sock and s["url"] == f"unix:{sock}:"
        assert s["db"] == f"{fed['sector_dir']}/{name}.db" and Path(s["db"]).is_file()
        assert s["pid"] > 0 and alive(s["pid"]), s
        assert unix_get(sock, "/healthz")[0] == 200
    apps = fed["apps"]
    assert "testservices" not in fed
    assert set(apps) >= {"consent"} and set(apps) <= set(APP_OFFSETS), apps
    for key, app in apps.items():
        assert app["url"] == f"http://127.0.0.1:{port + APP_OFFSETS[key]}", app
        assert app["pid"] > 0 and alive(app["pid"]), app
        assert Path(app["log"]).is_file() and Path(app["dir"]).is_dir()
    consent = apps["consent"]
    assert consent["name"] == "ndx-consent" and consent["id"] == CONSENT
    assert Path(consent["admin_token_file"]).is_file()
    h = requests.get(consent["url"] + "/healthz", timeout=5)
    assert h.status_code == 200 and h.json()["issuer"] == CONSENT, h.text

    # processes: exactly these, every one alive, each pid once.
    names = [p["name"] for p in fed["processes"]]
    for name, count in PROCS.items():
        assert names.count(name) == count, names
    extra = [n for n in names if n not in PROCS]
    assert set(extra) <= OPTIONAL_PROCS and len(extra) == len(set(extra)), names
    assert all(p["pid"] > 0 and alive(p["pid"]) for p in fed["processes"]), fed["processes"]
    assert len(set(all_pids(fed))) == len(names)
    assert set(all_pids(fed)) == ({g["pid"] for g in gws.values()} |
                                  {s["pid"] for s in sectors.values()} |
                                  {a["pid"] for a in apps.values()} | {reg["pid"]})
    return gws, sectors


# ---- one federation ------------------------------------------------------------------

def test_up_describes_a_live_federation(up):
    fed, port = up.fed, up.port
    assert fed["format"] == "ndx-federation/1" and fed["instance"] == "VN"
    assert fed["dir"] == str(up.dir.resolve()) and fed["stopped"] is False
    assert [m["id"] for m in fed["members"]] == list(MEMBERS)
    assert {m["id"]: m["name"] for m in fed["members"]} == MEMBERS
    subsystems = {m["id"]: set(m["subsystems"]) for m in fed["members"]}
    for m, (_, _, svcs) in SECTORS.items():
        assert subsystems[m] == {f"{m}/{s.split('/')[0]}" for s in svcs} | {
            f"{m}/transparency"} | EXTRA_SUBSYSTEMS.get(m, set()), m
    assert subsystems["VN/GOV/VPCP"] == {PORTAL, CONSENT, MONITORING}
    gws, _ = check_federation_live(fed, port)
    # What up printed: the registry, every gateway, the consent service.
    assert f"http://127.0.0.1:{port}" in up.out
    for g in gws.values():
        assert g["consumer_url"] in up.out and g["gateway_url"] in up.out
    assert fed["apps"]["consent"]["url"] in up.out and CONSENT in up.out
    # The data was seeded once, with the documented size.
    seed_log = up.dir / "logs" / "sector-seed.log"
    assert '"citizens": 2000' in seed_log.read_text()
    res_v = ok(run_ndx(up.build_dir, "conf", "verify", fed["conf_dir"], "--anchor",
                       fed["registry"]["anchor"]))
    assert res_v.stdout.startswith("valid: version ")


def test_gateways_serve_the_sectors_and_the_access_lists(up):
    fed = up.fed
    sectors = {s["member"]: s for s in fed["sectors"]}
    for m, g in up.gws.items():
        cfg = json.loads(Path(g["config"]).read_text())
        assert cfg["member"] == m and cfg["code"] == "gw1" and cfg["conf_refresh_s"] == 10
        assert cfg["data_dir"] == g["data_dir"] and cfg["anchor"] == fed["registry"]["anchor"]
        assert cfg["registry_url"] == up.url
        assert set(cfg["subsystems"]) == {s.rsplit("/", 1)[1] for m2 in fed["members"]
                                          if m2["id"] == m for s in m2["subsystems"]}
        services = cfg["services"]
        if m == "VN/GOV/KBNN":
            # The treasury's services are ndx-pay's (docs/payment.md).
            treasury = fed["apps"]["treasury"]["url"]
            assert services == {f"{m}/treasury/{r}": {"backend": f"{treasury}/{r}",
                                                      "timeout_ms": 10000}
                                for r in ("orders", "receipts")} | {
                f"{m}/transparency/accesses": {"backend": "ndx:subject-accesses",
                                               "timeout_ms": 10000}}, services
            continue
        if m not in SECTORS:
            assert services == {}, (m, services)  # VPCP and the bank only consume
            continue
        name, _, tables = SECTORS[m]
        extra = EXTRA_SERVICES.get(m, {})
        want = {f"{m}/{s}" for s in tables} | {f"{m}/transparency/accesses"} | {
            f"{m}/{s}" for s in extra}
        assert set(services) == want, (m, services)
        for sid, path in extra.items():
            assert services[f"{m}/{sid}"]["backend"] == f"{sectors[m]['url']}/{path}", sid
        # A sector's service has its table behind it (the gateway appends the path after
        # the service id); the access list is the gateway's own.
        for sid, table in tables.items():
            assert services[f"{m}/{sid}"]["backend"] == f"{sectors[m]['url']}/{table}", sid
            assert seeded(fed, name, "SELECT name FROM sqlite_master WHERE type = 'table' "
                                     "AND name = ?", table), (name, table)
            if table not in EMPTY_TABLES:
                assert seeded(fed, name, f"SELECT count(*) FROM {table}")[0][0] > 0, table
        assert services[f"{m}/transparency/accesses"]["backend"] == "ndx:subject-accesses"


def test_registry_holds_the_federation(up):
    fed = up.fed
    by_id = {s["id"]: s for s in up.api("/api/services")["services"]}
    assert SECTOR_SERVICES | ACCESS_LISTS <= set(by_id), sorted(by_id)
    assert {s["id"] for s in fed["services"]} == set(by_id)
    citizens = by_id["VN/GOV/BCA/population/citizens"]
    assert citizens["personal"] and set(citizens["purposes"]) == {
        "public-service", "law-enforcement", "tax-administration", "social-insurance"}
    assert by_id["VN/GOV/BHXH/insurance/contributions"]["consent_required"]
    assert not by_id["VN/GOV/BNNMT/land/parcels"]["personal"]
    assert by_id["VN/GOV/BTC/enterprise/enterprises"]["personal"]
    for sid in ACCESS_LISTS:
        s = by_id[sid]
        assert s["personal"] and s["purposes"] == ["transparency"], s
        assert not s["consent_required"]
    # The sectors' OpenAPI documents are registered with their services.
    for sid in SECTOR_SERVICES:
        assert by_id[sid]["openapi_sha256"], sid
    doc = requests.get(up.url + "/openapi/VN/GOV/BCA/population/citizens", timeout=5).json()
    assert doc["info"]["title"].startswith("ndx-sector population")

    # Grants, with their methods.
    grants = {(g["client"], g["service"]): sorted(g["methods"])
              for g in up.api("/api/grants")["grants"]}
    assert all(g["paths"] == ["*"] for g in up.api("/api/grants")["grants"])
    for client in ("VN/GOV/TCT/tax", "VN/GOV/BHXH/insurance"):
        for sid in ("VN/GOV/BCA/population/citizens", "VN/GOV/BTC/enterprise/enterprises"):
            assert grants[(client, sid)] == ["GET"], (client, sid)
    assert grants[("VN/GOV/BTC/enterprise", "VN/GOV/BCA/population/citizens")] == ["GET"]
    assert ("VN/GOV/BTP/civil-status", "VN/GOV/BCA/population/citizens") not in grants
    # The portal: GET on every service but the registries' measures, and writes where its
    # procedures write.
    for sid in set(by_id) - MEASURES_SERVICES:
        assert "GET" in grants[(PORTAL, sid)], sid
    # The registries' measures: to the monitoring client only, to read
    for (client, sid), methods in grants.items():
        if sid in MEASURES_SERVICES:
            assert client == MONITORING and methods == ["GET"], (client, sid)
    for sid in MEASURES_SERVICES:
        assert grants[(MONITORING, sid)] == ["GET"] and not by_id[sid]["personal"], sid
    assert grants[(PORTAL, "VN/GOV/BCA/population/citizens")] == ["GET", "PUT"]
    # (households: a residence change to another province registers one)
    for sid in ("VN/GOV/BTC/enterprise/enterprises", "VN/GOV/BTC/enterprise/owners",
                "VN/GOV/TCT/tax/taxpayers", "VN/GOV/BCA/population/households"):
        assert grants[(PORTAL, sid)] == ["GET", "POST"], sid
    # (the treasury's orders: the portal orders a procedure's fee)
    assert grants[(PORTAL, "VN/GOV/KBNN/treasury/orders")] == ["GET", "POST"]
    # The registries' worklists: to the portal only, to read and correct.
    for (client, sid), methods in grants.items():
        if sid in RECONCILE_SERVICES:
            assert client == PORTAL and methods == ["GET", "POST"], (client, sid)
    for sid in RECONCILE_SERVICES:
        assert grants[(PORTAL, sid)] == ["GET", "POST"] and by_id[sid]["personal"], sid
    for sid in set(by_id) - MEASURES_SERVICES - RECONCILE_SERVICES - {
                             "VN/GOV/BCA/population/citizens",
                             "VN/GOV/BTC/enterprise/enterprises",
                             "VN/GOV/BTC/enterprise/owners", "VN/GOV/TCT/tax/taxpayers",
                             "VN/GOV/BCA/population/households",
                             "VN/GOV/KBNN/treasury/orders"}:
        assert grants[(PORTAL, sid)] == ["GET"], sid
    # The bank sends receipts to the treasury, nothing else.
    assert grants[("VN/COM/0100000099/payments", "VN/GOV/KBNN/treasury/receipts")] == ["POST"]
    # The access lists: to the portal only.
    for (client, sid) in grants:
        if sid in ACCESS_LISTS:
            assert client == PORTAL, (client, sid)
    # federation.json says the same: the grants of the applied file are the registry's
    # (an agreement's grant is not among them: the signed configuration takes it from
    # the agreement).
    described = {(g["client"], g["service"]): sorted(g["methods"]) for g in fed["grants"]}
    assert described == grants

    # Gateways and the consent service are registered as federation.json has them.
    registered = up.api("/api/gateways")["gateways"]
    assert {(g["member"], g["code"], g["address"], g["sign_key_id"]) for g in registered} == {
        (m, "gw1", g["gateway_url"], g["sign_key_id"]) for m, g in up.gws.items()}
    consents = {c["id"]: c for c in up.api("/api/consent-services")["consent_services"]}
    assert consents[CONSENT]["url"] == fed["apps"]["consent"]["url"]
    assert requests.get(fed["apps"]["consent"]["url"] + "/healthz",
                        timeout=5).json()["key_id"] == consents[CONSENT]["sign_key_id"]


def test_federation_file_matches_and_exports(up, tmp_path):
    """up brought the federation deploy/demo/federation.json declares up (without the
    keys and addresses each demo directory makes: gateways, consent service, id
    provider); the OpenAPI documents it holds are those the sector registries of this
    build serve; an export of the running demo applies as a no-op
    (docs/federation-file.md)."""
    token = up.dir / "registry" / "admin.token"
    common = ["--registry", up.url, "--token-file", token]
    path = Path(__file__).resolve().parents[2] / "deploy" / "demo" / "federation.json"
    res = ok(run_ndx(up.build_dir, "federation", "apply", path, *common))
    assert res.stdout.startswith("no changes"), res.stdout
    declared = json.loads(path.read_text())
    sockets = {s["member"]: s["socket"] for s in up.fed["sectors"]}
    documented = 0
    for svc in declared["services"]:
        member = "/".join(svc["id"].split("/")[:3])
        if member not in sockets or svc["id"].split("/")[3] == "transparency":
            continue
        status, body = unix_get(sockets[member], "/openapi.json")
        assert status == 200, (svc["id"], body[:200])
        assert svc.get("openapi") == json.loads(body), (
            f"{svc['id']}: its OpenAPI document in {path} is not the one its sector serves; "
            "make the file again (docs/federation-file.md)")
        documented += 1
    assert documented == len(SECTOR_SERVICES) + sum(map(len, EXTRA_SERVICES.values()))
    out = tmp_path / "exported.json"
    ok(run_ndx(up.build_dir, "federation", "export", "--out", out, *common))
    exported = json.loads(out.read_text())
    assert len(exported["gateways"]) == len(MEMBERS)
    res = ok(run_ndx(up.build_dir, "federation", "apply", out, *common))
    assert res.stdout.startswith("no changes"), res.stdout


# The marketplace (docs/marketplace.md): the bank's customer desk and the logistics
# company's delivery system each bought, by a negotiation up made through the registry's
# Dataspace Protocol endpoints, the population registry's address check and the
# enterprise registry's feed.
BANK, LOGISTICS = "VN/COM/0100000099", "VN/COM/0100000088"
BUYERS = {BANK: f"{BANK}/customers", LOGISTICS: f"{LOGISTICS}/delivery"}
VERIFY, ENTERPRISES = "VN/GOV/BCA/population/verify", "VN/GOV/BTC/enterprise/enterprises"
MARKET_PURPOSE = "customer-verification"


def market_token(up, member):
    return (up.dir / "market" / (member.replace("/", "_") + ".token")).read_text().strip()


def test_enterprises_buy_in_the_marketplace(up):
    """Two enterprises (class COM) are members of the signed configuration, each with an
    agreement FINALIZED on each offer, whose grant carries its policy; a first call of
    each through the exchange succeeds and is metered against its agreement; a service
    they did not agree on, or another purpose than the agreed one, is refused."""
    fed = up.fed
    conf = json.loads((Path(fed["conf_dir"]) / "conf.json").read_text())
    conf = conf.get("conf", conf)
    members = {m["id"]: m["name"] for m in conf["members"]}
    assert members[BANK] == MEMBERS[BANK] and members[LOGISTICS] == MEMBERS[LOGISTICS]
    assert all(m.split("/")[1] == "COM" for m in BUYERS)
    # The address check is offered to enterprises alone: the bank sees its offer, a
    # state body (BTC) does not.
    def offers_seen(member):
        r = requests.post(up.url + "/dsp/catalog/request", timeout=10, json={
            "@context": ["https://w3id.org/dspace/2025/1/context.jsonld"],
            "@type": "CatalogRequestMessage", "filter": [{"ndx:service": VERIFY}]},
            headers={"Authorization": "Bearer " + market_token(up, member)})
        assert r.status_code == 200, r.text
        return [o for d in r.json()["dataset"] for o in d["hasPolicy"]]
    assert len(offers_seen(BANK)) == 1 and offers_seen("VN/GOV/BTC") == []
    agreements = {}
    for member, client in BUYERS.items():
        r = requests.get(up.url + "/market/negotiations", timeout=10,
                         headers={"Authorization": "Bearer " + market_token(up, member)})
        assert r.status_code == 200, r.text
        for sid in (VERIFY, ENTERPRISES):
            done = [n for n in r.json()["negotiations"] if n["client"] == client
                    and n["service"] == sid and n["state"] == "FINALIZED"
                    and n["agreement_state"] == "active"]
            assert len(done) == 1, (client, sid, r.json())
            agreements[(client, sid)] = done[0]["agreement_id"]
    # Each agreement's grant, with its policy, in the signed configuration.
    by_agreement = {g["agreement"]: g for g in conf["grants"] if g.get("agreement")}
    for (client, sid), aid in agreements.items():
        g = by_agreement[aid]
        assert (g["client"], g["service"]) == (client, sid)
        assert g["methods"] == (["POST"] if sid == VERIFY else ["GET"]) and g["not_after"]
        perm = {c["leftOperand"]: c["rightOperand"]
                for c in g["policy"]["permission"][0]["constraint"]}
        assert MARKET_PURPOSE in json.dumps(perm["purpose"]), perm
    # The audit trail shows the negotiations, and no operator granted these clients.
    finalized = up.api("/api/audit?limit=1000&action=negotiation.finalized")["audit"]
    assert set(agreements.values()) <= {(a["detail"] or {}).get("agreement")
                                        for a in finalized}
    added = up.api("/api/audit?limit=1000&action=grant.add")["audit"]
    assert not any(client in json.dumps(a) for a in added for client in BUYERS.values())

    # A living citizen and their permanent address, and an enterprise and its legal
    # representative, none of whom the federation's printed flows name (their access
    # lists are checked exactly by the tests that follow).
    named = json.dumps(fed)
    db = sqlite3.connect(f"file:{fed['sector_dir']}/population.db?mode=ro", uri=True)
    pin, address = next(r for r in db.execute(
        "SELECT pin, permanent_address FROM citizens WHERE deceased_on IS NULL "
        "ORDER BY pin DESC") if r[0] not in named)
    db.close()
    db = sqlite3.connect(f"file:{fed['sector_dir']}/enterprise.db?mode=ro", uri=True)
    code, rep = next(r for r in db.execute(
        "SELECT code, legal_rep_pin FROM enterprises WHERE status = 'active' ORDER BY code "
        "DESC") if r[1] not in named and r[1] != pin and r[0] not in named)
    db.close()
    for member, client in BUYERS.items():
        url = up.gws[member]["consumer_url"]
        hdr = {"X-Road-Client": client, "Ndx-Purpose": MARKET_PURPOSE}
        r = requests.post(f"{url}/r1/{VERIFY}", timeout=20,
                          headers={**hdr, "Ndx-Subject": pin},
                          json={"records": [{"pin": pin, "address": address}]})
        assert r.status_code == 200, (member, r.status_code, r.text)
        assert r.json()["results"][0]["address"] == "match", r.text
        r = requests.post(f"{url}/r1/{VERIFY}", timeout=20,
                          headers={**hdr, "Ndx-Subject": pin},
                          json={"records": [{"pin": pin, "address": "Số 1 phố Không Có"}]})
        assert r.status_code == 200 and r.json()["results"][0]["address"] == "differs", r.text
        assert address not in r.text  # a verdict, never the registry's value
        r = requests.get(f"{url}/r1/{ENTERPRISES}/{code}", timeout=20,
                         headers={**hdr, "Ndx-Subject": rep})
        assert r.status_code == 200, (member, r.status_code, r.text)
        # Refused: a service they did not agree on; another purpose than the agreed one;
        # a method the agreement does not name.
        r = requests.get(f"{url}/r1/VN/GOV/BCA/population/citizens/{pin}", timeout=20,
                         headers={**hdr, "Ndx-Subject": pin})
        assert refusals.reason_of(r) == "NoGrant", r.text
        r = requests.get(f"{url}/r1/{ENTERPRISES}/{code}", timeout=20,
                         headers={**hdr, "Ndx-Purpose": "public-service",
                                  "Ndx-Subject": rep})
        assert r.status_code >= 400 and refusals.reason_of(r), r.text
        assert "items" not in r.text and rep not in r.text
        r = requests.post(f"{url}/r1/{ENTERPRISES}", timeout=20,
                          headers={**hdr, "Ndx-Subject": rep}, json={})
        assert r.status_code >= 400 and refusals.reason_of(r), r.text
    # What up prints: the logistics company's read of the printed enterprise, which
    # works as printed (not run here: the printed citizen's access list is checked
    # exactly below).
    line, = [ln for ln in lines_with(up.out, f"/r1/{ENTERPRISES}/")
             if f"X-Road-Client: {BUYERS[LOGISTICS]}" in ln]
    assert line.startswith("curl -s -H") and f"Ndx-Purpose: {MARKET_PURPOSE}" in line
    assert up.gws[LOGISTICS]["consumer_url"] + "/r1/" in line


def jws_payload(jws):
    p = jws.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))


def jws_with_payload(jws, payload):
    h, _, s = jws.split(".")
    p = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
    return ".".join((h, p, s))


def test_enterprise_agreements_were_negotiated_signed(up, tmp_path):
    """The enterprises' four agreements are signed negotiations (docs/marketplace.md "In
    the demo"): the registry answers each with ndx:signed, and its chain, the registry's
    own, is in DIR/market (0600): four messages, the consumer's signed in its name and
    the provider's in the provider's. The printed check-negotiation line, run as printed,
    checks the logistics company's agreement on the feed against the signed
    configuration (FINALIZED); a copy of that chain with the agreement altered is
    refused."""
    providers = {VERIFY: "VN/GOV/BCA", ENTERPRISES: "VN/GOV/BTC"}
    chains = {}
    for member, client in BUYERS.items():
        hdr = {"Authorization": "Bearer " + market_token(up, member)}
        r = requests.get(up.url + "/market/negotiations", timeout=10, headers=hdr)
        assert r.status_code == 200, r.text
        for sid, provider in providers.items():
            n, = [n for n in r.json()["negotiations"] if n["client"] == client
                  and n["service"] == sid and n["state"] == "FINALIZED"
                  and n["agreement_state"] == "active"]
            ppid = n["provider_pid"]
            neg = requests.get(f"{up.url}/dsp/negotiations/{ppid}", timeout=10, headers=hdr)
            assert neg.status_code == 200 and neg.json()["ndx:signed"] is True, neg.text
            msgs = requests.get(f"{up.url}/dsp/negotiations/{ppid}/messages", timeout=10,
                                headers=hdr)
            assert msgs.status_code == 200, msgs.text
            path = up.dir / "market" / f"{ppid}.chain.json"
            assert path.stat().st_mode & 0o777 == 0o600
            chain = json.loads(path.read_text())
            assert chain == msgs.json() and chain["ndx:signed"] is True
            assert [jws_payload(m)["ndx:sender"] for m in chain["messages"]] == \
                [member, provider, member, provider]
            chains[(member, sid)] = path
    assert len(set(chains.values())) == 4

    line, = lines_with(up.out, " market check-negotiation ")
    words = shlex.split(line)
    assert Path(words[0]).name == "ndx" and words[1:3] == ["market", "check-negotiation"]
    assert words[3] == str(chains[(LOGISTICS, ENTERPRISES)]), line
    env = {k: v for k, v in os.environ.items() if not k.startswith("NDX_")}
    res = subprocess.run(words, capture_output=True, text=True, timeout=60, env=env)
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["state"] == "FINALIZED" and report["messages"] == 4
    assert report["consumer"] == LOGISTICS and report["provider"] == providers[ENTERPRISES]

    # The provider's agreement (message 2) with its price lowered after signing.
    chain = json.loads(Path(words[3]).read_text())
    body = jws_payload(chain["messages"][1])
    body["agreement"]["obligation"][0]["constraint"][0]["rightOperand"] = 1
    chain["messages"][1] = jws_with_payload(chain["messages"][1], body)
    altered = tmp_path / "altered.chain.json"
    altered.write_text(json.dumps(chain))
    res = subprocess.run(words[:3] + [str(altered)] + words[4:], capture_output=True,
                         text=True, timeout=60, env=env)
    assert res.returncode == 1, (res.stdout, res.stderr)
    assert "message 2" in res.stderr and "signature does not verify" in res.stderr, res.stderr
    assert res.stdout == ""


def test_a_usage_statement_checks_in_the_demo_portal(up):
    """The demo's portal has the registry's anchor (market.anchor), so an officer of a
    party checks a usage statement there (docs/portal.md "The marketplace"): the
    population registry's gateway states the bank's use of the address check (the
    calls of the test above), BCA's officer finds it verified, and an altered copy
    refused."""
    fed, bca = up.fed, up.gws["VN/GOV/BCA"]
    r = requests.get(up.url + "/market/negotiations", timeout=10,
                     headers={"Authorization": "Bearer " + market_token(up, BANK)})
    aid, = [n["agreement_id"] for n in r.json()["negotiations"]
            if n["client"] == BUYERS[BANK] and n["service"] == VERIFY
            and n["agreement_state"] == "active"]
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    period = ["--from", (now - datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
              "--to", (now + datetime.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")]
    key = Path(bca["sign_pub"]).with_name("sign.key")
    for _ in range(100):  # until the last calls are under a signed tree head
        res = run_ndx(up.build_dir, "market", "statement", "--db",
                      Path(bca["data_dir"]) / "msglog.db", "--key", key, "--conf",
                      Path(bca["data_dir"]) / "conf", "--anchor", fed["registry"]["anchor"],
                      "--agreement", aid, *period)
        if "not under a signed tree head yet" not in res.stderr:
            break
        time.sleep(0.2)
    assert res.returncode == 0, res.stderr
    statement = json.loads(res.stdout)
    assert statement["count"] >= 2, statement
    portal = fed["apps"]["portal"]["url"]
    s = requests.Session()
    tok = s.get(portal + "/auth/officer", timeout=10).json()["csrf"]
    r = s.post(portal + "/auth/officer", json={"username": "canbo.bca",
                                               "password": "ndx-demo-2026"},
               headers={"X-CSRF-Token": tok}, timeout=30)
    assert r.status_code == 200, r.text
    csrf = {"X-CSRF-Token": r.json()["csrf"]}
    check = portal + "/api/market/statements/check"
    r = s.post(check, json={"statement": statement}, headers=csrf, timeout=30)
    assert r.status_code == 200, r.text
    v = r.json()
    assert v["verified"] is True and v["agreement"] == aid and v["side"] == "provider", v
    assert v["count"] == statement["count"] and v["signer"].startswith("VN/GOV/BCA/")
    forged = dict(statement, count=statement["count"] + 1)
    r = s.post(check, json={"statement": forged}, headers=csrf, timeout=30)
    assert r.status_code == 200 and r.json()["verified"] is False and r.json()["reason"]


BULK = {"VN/GOV/BCA/population/households": ["public-service"],
        "VN/GOV/BCA/population/verify": ["data-reconciliation"],
        "VN/GOV/BTC/enterprise/enterprises": ["public-service"],
        "VN/GOV/TCT/tax/taxpayers": ["public-service"],
        **{sid: ["data-correction"] for sid in RECONCILE_SERVICES}}


def test_bulk_purposes_and_the_id_provider_are_in_the_signed_conf(up):
    """Bulk reads only where a demo flow needs them (the portal shows a citizen their
    household, searches enterprise names and reads and writes the new enterprise's
    taxpayer record, naming no one, for the household-business procedure); the e-ID's
    issuer and signing key in the registry and in the signed configuration."""
    fed = up.fed
    by_id = {s["id"]: s for s in up.api("/api/services")["services"]}
    for sid, s in by_id.items():
        assert (s.get("bulk_purposes") or []) == BULK.get(sid, []), (sid, s)
    conf = json.loads((Path(fed["conf_dir"]) / "conf.json").read_text())
    conf = conf.get("conf", conf)
    for s in conf["services"]:
        assert (s.get("bulk_purposes") or []) == BULK.get(s["id"], []), s
    assert fed["services"] == [
        {**s, "bulk_purposes": BULK.get(s["id"], [])} for s in fed["services"]]

    eid = fed["apps"]["id"]
    # The Ed25519 key (the RSA one beside it signs RS256 clients' tokens only).
    jwk, = [k for k in requests.get(eid["url"] + "/jwks.json", timeout=5).json()["keys"]
            if k["kty"] == "OKP"]
    raw = base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4))
    want = {"issuer": eid["url"], "sign_key": base64.b64encode(raw).decode(),
            "sign_key_id": jwk["kid"]}
    assert hashlib.sha256(raw).hexdigest() == jwk["kid"]
    registered = up.api("/api/id-providers")["id_providers"]
    assert [{k: p[k] for k in want} for p in registered] == [want], registered
    assert conf["id_providers"] == [want], conf["id_providers"]
    # What GET /conf serves now (a gateway's source) says the same.
    live = requests.get(up.url + "/conf", timeout=5).json()
    live = live.get("conf", live)
    assert live["id_providers"] == [want]
    assert {s["id"]: s.get("bulk_purposes") or [] for s in live["services"]
            if s.get("bulk_purposes")} == BULK


def test_operations_centre_figures_move(up):
    """The monitoring service up prints collects every gateway through the operator's
    gateway as the monitoring client; the printed exchange shows up in its live
    figures, counted once, and one agency's view holds only what concerns it."""
    fed, out = up.fed, up.out
    mon = fed["apps"]["monitor"]
    assert mon["name"] == "ndx-monitor" and mon["client"] == MONITORING
    token = Path(mon["admin_token_file"]).read_text().strip()
    assert oct(Path(mon["admin_token_file"]).stat().st_mode & 0o777) == "0o600"
    assert token not in out
    live_lines = [ln for ln in lines_with(out, "/api/live") if ln.startswith("curl -s -H")]
    assert len(live_lines) == 1 and mon["url"] in live_lines[0], out
    assert up.api("/api/monitoring")["client"] == MONITORING
    h = {"Authorization": f"Bearer {token}"}

    def live(**params):
        r = requests.get(mon["url"] + "/api/live", headers=h, params=params, timeout=10)
        assert r.status_code == 200, r.text
        return r.json()

    # counted as TCT's client exchanges: the monitoring service's own reads of TCT's
    # measures (every 30 s in the demo) are exchanges TCT answers
    def as_client(figures):
        return sum(a["as_client"] for a in figures["agencies"] if a["member"] == "VN/GOV/TCT")

    before = as_client(live(window=3600, member="VN/GOV/TCT"))
    # An exchange about no one (the other tests count the printed citizen's reads):
    # the tax department asks for a vehicle it holds no grant on, refused by its own
    # gateway, which records it.
    tct_gw = {g["member"]: g for g in fed["gateways"]}["VN/GOV/TCT"]
    resp = requests.get(tct_gw["consumer_url"] + "/r1/VN/GOV/CSGT/vehicles/vehicles/29A12345",
                        headers={"X-Road-Client": "VN/GOV/TCT/tax"}, timeout=10)
    assert resp.headers.get("X-Road-Error") == "Server.ClientProxy.AccessDenied", resp.text
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        tct = live(window=3600, member="VN/GOV/TCT")
        if as_client(tct) == before + 1:
            break
        time.sleep(0.5)
    assert as_client(tct) == before + 1, tct
    assert [a["member"] for a in tct["agencies"]] == ["VN/GOV/TCT"]
    assert [g["name"] for g in tct["gateways"]] == ["VN/GOV/TCT/gw1"]
    assert sum(e["count"] for e in tct["errors"]) >= 1 and tct["failed"] >= 1, tct
    everyone = live(window=3600)
    assert {g["name"] for g in everyone["gateways"]} == {f"{m}/gw1" for m in MEMBERS}
    assert all(g["up"] for g in everyone["gateways"]), everyone["gateways"]
    assert any(s["service"] == "VN/GOV/CSGT/vehicles/vehicles"
               for s in everyone["busiest_services"])
    assert not re.search(r"\b\d{12}\b", json.dumps(everyone))
    assert requests.get(mon["url"] + "/api/live", timeout=10).status_code == 401


def test_traffic_moves_the_figures(up):
    """`ndx demo traffic` (what `make demo` runs in the background): bounded, through
    the callers' own gateways, mostly answered, about one in ten refused; the monitoring
    service counts them; the named citizens are never among them."""
    fed = up.fed
    mon = fed["apps"]["monitor"]
    h = {"Authorization": "Bearer " + Path(mon["admin_token_file"]).read_text().strip()}

    def exchanges():
        r = requests.get(mon["url"] + "/api/live", headers=h, params={"window": 3600},
                         timeout=10)
        assert r.status_code == 200, r.text
        return r.json()["exchanges"]

    before = exchanges()
    res = ok(run_ndx(up.build_dir, "demo", "traffic", "--dir", up.dir, "--seconds", "3",
                     "--rate", "10"))
    m = re.search(r"traffic done: (\d+) exchanges, (\d+) answered, (\d+) refused, "
                  r"(\d+) failed", res.stdout)
    assert m, res.stdout
    sent, answered, refusals, failed = map(int, m.groups())
    # bounded: never more than the rate allows (30, and one at the start); how many
    # fit in 3 s depends on the machine's load (19 under a loaded CI run), so no floor
    assert 1 <= sent <= 31 and failed == 0, res.stdout
    assert answered > refusals > 0 or (answered > 0 and sent < 40), res.stdout
    assert answered + refusals == sent
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and exchanges() < before + sent:
        time.sleep(0.5)
    assert exchanges() >= before + sent
    # bounded and checked before anything is sent
    for bad in (("--seconds", "0"), ("--seconds", "86401"), ("--rate", "51"),
                ("--rate", "x")):
        res = run_ndx(up.build_dir, "demo", "traffic", "--dir", up.dir, *bad)
        assert res.returncode == 2 and bad[0] in res.stderr, res
    res = run_ndx(up.build_dir, "demo", "traffic", "--dir", up.dir / "nothing")
    assert res.returncode == 1 and "no running demo federation" in res.stderr


def test_printed_exchanges_work(up):
    fed, gws, out = up.fed, up.gws, up.out
    line, ent_line, acc_line = curl_line(out), enterprise_line(out), accesses_line(out)
    tok_line = id_token_line(out)
    assert (fed["try_exchange"], fed["try_enterprise"], fed["try_accesses"],
            fed["try_id_token"]) == (line, ent_line, acc_line, tok_line)
    m = re.search(r"/r1/VN/GOV/BCA/population/citizens/(\d{12})$", line)
    assert m, line
    pin = m.group(1)
    for ln in (line, ent_line):
        assert "-H 'X-Road-Client: VN/GOV/TCT/tax'" in ln, ln
        assert "-H 'Ndx-Purpose: tax-administration'" in ln, ln
        assert f"-H 'Ndx-Subject: {pin}'" in ln, ln
        assert f" {gws['VN/GOV/TCT']['consumer_url']}/r1/" in ln, ln

    # The citizen, through TCT's and BCA's gateways, signed by BCA's.
    row = seeded(fed, "population", "SELECT full_name, birth_date FROM citizens WHERE pin = ?",
                 pin)
    assert row, pin
    resp = curl_as_request(line)
    assert resp.status_code == 200, resp.text
    assert resp.headers["X-Road-Id"] and resp.headers["X-Road-Request-Hash"]
    sig = json.loads(resp.headers["Ndx-Response-Signature"])
    bca_key = hashlib.sha256(base64_pub(gws["VN/GOV/BCA"]["sign_pub"])).hexdigest()
    assert sig["key_id"] == bca_key == gws["VN/GOV/BCA"]["sign_key_id"]
    got = resp.json()
    assert got["pin"] == pin and (got["full_name"], got["birth_date"]) == row[0], got
    assert resp.headers["Ndx-Data-Subjects"] == pin
    ids = {resp.headers["X-Road-Id"]}

    # The enterprise whose legal representative that citizen is, from BTC's registry.
    m = re.search(r"/r1/VN/GOV/BTC/enterprise/enterprises/(\d{10})$", ent_line)
    assert m, ent_line
    code = m.group(1)
    row = seeded(fed, "enterprise", "SELECT name, legal_rep_pin FROM enterprises WHERE code = ?",
                 code)
    assert row and row[0][1] == pin, (code, row)
    # About that citizen alone: every owner of it is that citizen too (or there is none),
    # so the read is lawful under Ndx-Subject without a bulk registration.
    assert {o for (o,) in seeded(fed, "enterprise", "SELECT owner_pin FROM owners WHERE "
                                 "enterprise_code = ?", code)} <= {pin}
    resp = curl_as_request(ent_line)
    assert resp.status_code == 200, resp.text
    assert resp.json()["code"] == code and resp.json()["name"] == row[0][0], resp.text
    assert resp.json()["legal_rep_pin"] == pin
    assert resp.headers["Ndx-Data-Subjects"] == pin
    sig = json.loads(resp.headers["Ndx-Response-Signature"])
    assert sig["key_id"] == gws["VN/GOV/BTC"]["sign_key_id"]
    ids.add(resp.headers["X-Road-Id"])

    # The access-list line, with the ID token the id-token line writes: both reads, and
    # the officer's read of the citizen's record the first up left in the portal (and
    # nothing else: nothing else read it).
    token_file = Path(fed["dir"]) / "citizen.id-token"
    assert acc_line.endswith(f"subject accesses {pin} --gateway "
                             f"{gws['VN/GOV/VPCP']['consumer_url']} --client {PORTAL} "
                             f"--id-token-file {token_file}"), acc_line
    assert tok_line.endswith(f" demo id-token --dir {fed['dir']}"), tok_line
    res = run_id_token_line(tok_line)
    assert token_file.stat().st_mode & 0o777 == 0o600
    token = token_file.read_text().strip()
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "==="))
    assert claims["sub"] == pin and claims["iss"] == fed["apps"]["id"]["url"], claims
    assert str(token_file) in res.stdout and token not in res.stdout + res.stderr
    doc = run_accesses_line(acc_line)
    assert doc["subject"] == pin and doc["unavailable"] == [] and doc["truncated"] == []
    proc = fed["apps"]["portal"]["demo_procedure"]
    assert proc["subject"] == pin and proc["kind"] == "residence-change"
    officer, = officer_reads(doc)
    assert {k: officer[k] for k in ("provider", "client", "service", "purpose", "status",
                                    "outcome", "own", "user_id", "issue")} == {
        "provider": "VN/GOV/BCA", "client": PORTAL, "service": "VN/GOV/BCA/population/citizens",
        "purpose": "public-service", "status": 200, "outcome": "returned", "own": False,
        "user_id": "VN/GOV/BCA/canbo.bca", "issue": f"residence-change/{proc['id']}"}, officer
    assert {e["message_id"] for e in doc["accesses"]} == ids | {officer["message_id"]}, doc
    assert {(e["provider"], e["client"], e["service"], e["purpose"], e["status"],
             e["outcome"], e["own"], e["user_id"])
            for e in doc["accesses"] if e is not officer} == {
        ("VN/GOV/BCA", "VN/GOV/TCT/tax", "VN/GOV/BCA/population/citizens",
         "tax-administration", 200, "returned", False, ""),
        ("VN/GOV/BTC", "VN/GOV/TCT/tax", "VN/GOV/BTC/enterprise/enterprises",
         "tax-administration", 200, "returned", False, "")}

    # The filters reach the providers' gateways.
    def ids_with(*extra):
        return {e["message_id"] for e in run_accesses_line(acc_line, *extra)["accesses"]}
    assert ids_with("--agency", "VN/GOV/TCT") == ids
    assert ids_with("--agency", "VN/GOV/TCT/tax", "--purpose", "tax-administration") == ids
    assert ids_with("--purpose", "public-service") == {officer["message_id"]}
    assert ids_with("--own", "only") == set()
    assert ids_with("--own", "exclude", "--limit", "1000") == ids | {officer["message_id"]}
    assert ids_with("--since", "2999-01-01T00:00:00Z") == set()
    assert ids_with("--until", "2000-01-01T00:00:00Z") == set()
    # The table says who read, the officer and the procedure included; never the token.
    words = shlex.split(acc_line)
    res = subprocess.run(words, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == f"3 exchange(s) about {pin}", res.stdout
    assert lines[1].split() == ["time", "client", "service", "purpose", "status"]
    officer_row = [i for i, ln in enumerate(lines) if ln.split()[1:2] == [PORTAL]]
    assert len(officer_row) == 1, res.stdout
    assert lines[officer_row[0] + 1].split() == [
        "officer", "VN/GOV/BCA/canbo.bca,", "for", f"residence-change/{proc['id']}"], res.stdout
    assert len(lines) == 6 and token not in res.stdout + res.stderr
    # Without the citizen's token, or with another citizen's, every provider refuses.
    res = subprocess.run(words[:-2] + ["--json"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 1, res.stderr
    refused = json.loads(res.stdout)
    assert refused["accesses"] == [] and len(refused["unavailable"]) == len(ACCESS_LISTS)
    assert all("SubjectTokenMissing" in u["error"] for u in refused["unavailable"]), refused
    other = fed["apps"]["id"]["demo_accounts"][1]["pin"]
    other_file = Path(fed["dir"]) / "other.id-token"
    res = subprocess.run(shlex.split(tok_line) + ["--pin", other, "--out", str(other_file)],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and other_file.is_file(), res.stderr
    res = subprocess.run(words[:-1] + [str(other_file), "--json"], capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 1, res.stderr
    refused = json.loads(res.stdout)
    assert refused["accesses"] == [] and len(refused["unavailable"]) == len(ACCESS_LISTS)
    assert all("SubjectTokenInvalid" in u["error"] for u in refused["unavailable"]), refused

    # getOpenAPI answers with the document ndx-sector describes its API with.
    want = json.loads(subprocess.run([str(up.build_dir / "src" / "sector" / "ndx-sector"),
                                      "openapi", "--sector", "population"],
                                     capture_output=True, text=True, check=True,
                                     timeout=20).stdout)
    resp = requests.get(f"{gws['VN/GOV/TCT']['consumer_url']}/r1/VN/GOV/BCA/population/"
                        f"getOpenAPI?serviceCode=citizens",
                        headers={"X-Road-Client": "VN/GOV/TCT/tax"}, timeout=20)
    assert resp.status_code == 200, resp.text
    assert resp.json() == want and "/citizens/{id}" in resp.json()["paths"]

    # Every sector answers through its gateway (the portal may read all of them), but a
    # list that holds people other than the subject named only where the service is
    # registered for bulk reads with the purpose.
    for member, (name, _, tables) in SECTORS.items():
        for sid, table in tables.items():
            resp = requests.get(f"{gws['VN/GOV/VPCP']['consumer_url']}/r1/{member}/{sid}"
                                f"?limit=1", headers={"X-Road-Client": PORTAL,
                                                      "Ndx-Purpose": "public-service",
                                                      "Ndx-Subject": pin}, timeout=20)
            declared = {p for p in resp.headers.get("Ndx-Data-Subjects", "").split(",") if p}
            if sid == "insurance/contributions":  # needs the citizen's consent
                refusals.check_response(resp, "ConsentMissing")
            elif f"{member}/{sid}" in BULK:
                assert resp.status_code == 200, (sid, resp.text)
                assert len(resp.json()["items"]) == 1, (sid, resp.text)
            elif resp.status_code == 200:
                assert declared <= {pin}, (sid, declared)
                assert len(resp.json()["items"]) == (0 if table in EMPTY_TABLES else 1), (
                    sid, resp.text)
            else:
                refusals.check_response(resp, "SubjectMismatch", where=sid)
                assert "items" not in resp.text

    # Refused: BTP's civil-status system has no grant on BCA's citizens; TCT's grant
    # allows GET only.
    refused = requests.get(f"{gws['VN/GOV/BTP']['consumer_url']}/r1/VN/GOV/BCA/population/"
                           f"citizens/{pin}",
                           headers={"X-Road-Client": "VN/GOV/BTP/civil-status",
                                    "Ndx-Purpose": "public-service", "Ndx-Subject": pin},
                           timeout=20)
    assert refusals.reason_of(refused) == "NoGrant", refused.text
    refused = requests.put(f"{gws['VN/GOV/TCT']['consumer_url']}/r1/VN/GOV/BCA/population/"
                           f"citizens/{pin}", json={"full_name": "x"},
                           headers={"X-Road-Client": "VN/GOV/TCT/tax",
                                    "Ndx-Purpose": "tax-administration", "Ndx-Subject": pin},
                           timeout=20)
    assert refusals.reason_of(refused) == "NoGrant", refused.text
    assert seeded(fed, "population", "SELECT full_name FROM citizens WHERE pin = ?",
                  pin)[0][0] == got["full_name"]


def portal_citizen(fed, pin):
    """A portal session of the citizen pin, signed in through the e-ID as a browser is."""
    portal, eid = fed["apps"]["portal"]["url"], fed["apps"]["id"]["url"]
    s = requests.Session()
    page = s.get(portal + "/auth/login", timeout=20)
    form = {m.group(1): m.group(2) for m in
            re.finditer(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)"', page.text)}
    form.update({"pin": pin, "password": "ndx-demo-2026"})
    s.post(eid + "/login", data=form, timeout=20)
    assert s.get(portal + "/api/session", timeout=10).json()["subject"] == pin
    return s


def test_portal_access_list_of_the_printed_citizen(up):
    """The portal's "who read my data" for the printed citizen (after the printed reads):
    the tax department's reads and the officer's read with the officer and the procedure;
    the citizen's own views only under the filter."""
    fed = up.fed
    pin = fed["try_exchange"].rsplit("/", 1)[1]
    portal = fed["apps"]["portal"]["url"]
    proc = fed["apps"]["portal"]["demo_procedure"]
    s = portal_citizen(fed, pin)
    assert s.get(portal + "/api/profile", timeout=30).status_code == 200  # own views
    listed = s.get(portal + "/api/accesses", timeout=60).json()
    assert listed["unavailable"] == []
    rows = listed["accesses"]
    tax = [e for e in rows if e["client"] == "VN/GOV/TCT/tax"]
    assert {(e["service"], e["outcome"]) for e in tax} == {
        ("VN/GOV/BCA/population/citizens", "returned"),
        ("VN/GOV/BTC/enterprise/enterprises", "returned")}, rows
    officer = [e for e in rows if e.get("officer")]
    assert len(officer) == 1, rows
    assert officer[0]["officer"]["user"] == "canbo.bca"
    assert officer[0]["officer"]["agency"] == "VN/GOV/BCA"
    assert officer[0]["procedure"] == {"kind": "residence-change", "id": proc["id"]}
    assert not any(e["own"] for e in rows)
    own = s.get(portal + "/api/accesses", params={"own": "only"}, timeout=60).json()
    assert own["accesses"] and all(e["own"] for e in own["accesses"]), own


def test_operations_centre_is_printed_with_its_officials(up):
    """Up prints the operations centre's URL and the sign-ins of its two officials (an
    operator and the tax department's agency official), citizens with e-ID accounts whose
    data no printed line is about; federation.json lists them; signed in through the
    e-ID, the operator reads the whole federation's figures through the portal and the
    agency official only its own, another agency's refused."""
    fed, out = up.fed, up.out
    portal = fed["apps"]["portal"]
    officials = portal["officials"]
    assert [(o["role"], o["member"]) for o in officials] == [("operator", "VN/GOV/VPCP"),
                                                            ("agency", "VN/GOV/TCT")]
    op, ag = officials
    assert portal["ops_url"] == portal["url"] + "/ops"
    want = (f"The operations centre: {portal['url']}/ops — sign in with the e-ID as "
            f"{op['pin']} (operator) or\n  {ag['pin']} (agency VN/GOV/TCT), password "
            "ndx-demo-2026\n")
    assert want in out, out
    named = {a["pin"] for a in fed["apps"]["id"]["demo_accounts"]}
    named |= {fed["try_death"]["pin"], fed["try_residence"]["pin"],
              fed["try_birth"]["mother_pin"]}
    assert not named & {op["pin"], ag["pin"]} and op["pin"] != ag["pin"]
    for o in officials:
        pw = Path(o["password_file"])
        assert pw.read_text().strip() == "ndx-demo-2026" and pw.stat().st_mode & 0o777 == 0o600
    listed = run_ndx_portal(up, "official", "list", "--config",
                            str(Path(portal["dir"]) / "portal.json"))
    assert sorted(ln.split("\t")[:3] for ln in listed.splitlines()) == sorted(
        [[op["pin"], "operator", "VN/GOV/VPCP"], [ag["pin"], "agency", "VN/GOV/TCT"]])

    s = portal_citizen(fed, op["pin"])
    assert s.get(portal["url"] + "/api/session", timeout=10).json()["official"]["role"] \
        == "operator"
    live = s.get(portal["url"] + "/api/ops/live?window=3600", timeout=20)
    assert live.status_code == 200, live.text
    assert {g["name"] for g in live.json()["gateways"]} == {f"{m}/gw1" for m in MEMBERS}
    s = portal_citizen(fed, ag["pin"])
    live = s.get(portal["url"] + "/api/ops/live?window=3600", timeout=20)
    assert live.status_code == 200, live.text
    assert [g["name"] for g in live.json()["gateways"]] == ["VN/GOV/TCT/gw1"]
    r = s.get(portal["url"] + "/api/ops/live?member=VN/GOV/BCA", timeout=20)
    assert r.status_code == 403 and r.json()["error"] == "forbidden", r.text
    # A citizen who is no official.
    s = portal_citizen(fed, fed["apps"]["id"]["demo_accounts"][1]["pin"])
    r = s.get(portal["url"] + "/api/ops/live", timeout=20)
    assert r.status_code == 403 and r.json()["error"] == "not_official", r.text


def console_session(fed, url, pin):
    """A session of the gateway console at url, signed in through the demo's e-ID as a
    browser is (docs/gateway-console.md "Sign-in and sessions")."""
    eid = fed["apps"]["id"]["url"]
    s = requests.Session()
    page = s.get(url + "/console/auth/login", timeout=20)
    assert page.url.startswith(eid), page.url
    form = {m.group(1): m.group(2) for m in
            re.finditer(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)"', page.text)}
    form.update({"pin": pin, "password": "ndx-demo-2026"})
    r = s.post(eid + "/login", data=form, timeout=20)
    assert r.url.startswith(url + "/console/"), r.url
    return s


def test_gateway_consoles_are_on(up):
    """Every gateway of the demo serves its web console (docs/gateway-console.md) on its
    own port, PORT+60 onwards: up prints each address, federation.json lists it, the
    sign-in goes through the demo's e-ID with the gateway's own client; the tax
    department's official administers TCT's gateway, the national operator audits it
    (and administers VPCP's), a citizen who is no official of the gateway is refused."""
    fed, out = up.fed, up.out
    gws = {g["member"]: g for g in fed["gateways"]}
    assert len(gws) == len(MEMBERS)
    for i, m in enumerate(MEMBERS):
        url = gws[m]["console_url"]
        assert url == f"http://127.0.0.1:{up.port + 60 + i}", (m, url)
        assert re.search(rf"^  {re.escape(m)} +{re.escape(url)}/console/$", out, re.M), (m, out)
        r = requests.get(url + "/console/auth/login", allow_redirects=False, timeout=10)
        assert r.status_code == 302, r.text
        loc = r.headers["Location"]
        assert loc.startswith(fed["apps"]["id"]["url"] + "/authorize?"), loc
        code = m.rsplit("/", 1)[1].lower()
        assert f"client_id=gateway-{code}-console" in loc, loc
        assert requests.get(url + "/console/api/overview", timeout=10).status_code == 401
    op, ag = fed["apps"]["portal"]["officials"]
    tct, vpcp = gws["VN/GOV/TCT"]["console_url"], gws["VN/GOV/VPCP"]["console_url"]
    s = console_session(fed, tct, ag["pin"])
    me = s.get(tct + "/console/auth/me", timeout=10).json()
    assert me["role"] == "administrator" and me["subject"] == ag["pin"], me
    ov = s.get(tct + "/console/api/overview", timeout=10)
    assert ov.status_code == 200 and ov.json()["gateway"]["member"] == "VN/GOV/TCT", ov.text
    s = console_session(fed, tct, op["pin"])
    assert s.get(tct + "/console/auth/me", timeout=10).json()["role"] == "auditor"
    r = s.post(tct + "/console/api/maintenance", json={"on": True}, timeout=10,
               headers={"X-CSRF-Token": s.get(tct + "/console/auth/me", timeout=10)
                        .json()["csrf"]})
    assert r.status_code == 403, r.text
    s = console_session(fed, vpcp, op["pin"])
    assert s.get(vpcp + "/console/auth/me", timeout=10).json()["role"] == "administrator"
    citizen = fed["apps"]["id"]["demo_accounts"][1]["pin"]
    s = console_session(fed, tct, citizen)
    assert s.get(tct + "/console/api/overview", timeout=10).status_code == 403


def test_accounts_lists_every_sign_in(up):
    """`ndx demo accounts` lists who can sign in and where, from federation.json: the
    password (read from its 0600 file), the citizens by number at the e-ID, the officers
    at /officer and the officials at /ops, each as the portal itself lists them."""
    fed = up.fed
    portal = fed["apps"]["portal"]
    out = ok(run_ndx(up.build_dir, "demo", "accounts", "--dir", fed["dir"])).stdout
    assert out.startswith("Password of every account: ndx-demo-2026 (from "), out
    assert f"sign in at {portal['url']} with the national e-ID" in out
    lines = out.splitlines()
    for acc in fed["apps"]["id"]["demo_accounts"]:
        assert any(ln.split()[:1] == [acc["pin"]] and acc["name"] in ln for ln in lines), acc
    assert "and the first 50 citizens of the population registry" in out
    assert f"sign in at {portal['url']}/officer" in out
    for o in portal["officers"]:
        assert any(ln.split()[:1] == [o["username"]] and ln.endswith(o["agency"])
                   for ln in lines), o
    listed = run_ndx_portal(up, "official", "list", "--config",
                            str(Path(portal["dir"]) / "portal.json"))
    for ln in listed.splitlines():
        pin, role, member = ln.split("\t")[:3]
        assert any(l.split()[:1] == [pin] and l.endswith(f"{role} of {member}")
                   for l in lines), (ln, out)
    assert f"sign in at {portal['url']}/ops" in out
    # The registry console's officials, as the registry itself lists them: the
    # operations centre's two, an operator and an auditor (docs/console.md).
    console = fed["registry"]["console"]
    assert console["url"] == fed["registry"]["url"] + "/console/"
    assert f"sign in at {console['url']} with the national e-ID" in out
    exe = Path(up.build_dir) / "src" / "registry" / "ndx-registry"
    listed = subprocess.run([str(exe), "official", "list", "--data", fed["registry"]["data_dir"]],
                            capture_output=True, text=True, timeout=30)
    assert listed.returncode == 0, listed.stderr
    rows = [ln.split("\t") for ln in listed.stdout.splitlines()]
    assert sorted(r[1] for r in rows) == ["auditor", "operator"], rows
    assert {(o["pin"], o["role"]) for o in console["officials"]} == {(r[0], r[1]) for r in rows}
    for pin, role, name in rows:
        assert any(l.split()[:1] == [pin] and l.endswith(f"{name}, {role}") for l in lines), out
    # The console's e-ID sign-in starts: the registry sends the browser to the demo's e-ID.
    r = requests.get(console["url"] + "auth/login", allow_redirects=False, timeout=10)
    assert r.status_code == 302 and r.headers["Location"].startswith(fed["apps"]["id"]["url"])


def run_ndx_portal(up, *args):
    exe = Path(up.build_dir) / "src" / "portal" / "ndx-portal"
    res = subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr
    return res.stdout


# Public by design (served by the registry or sent in every handshake), made 0644 by the
# tools that write them; they still sit in 0700 directories.
PUBLIC_FILES = re.compile(r"(\.pub|ca\.pem|\.tls\.pem|anchor\.json|/conf/conf\.(json|sig))$")


def demo_pins(fed):
    """The demo citizens' PINs that federation.json names, and the first 50 with accounts."""
    pins = {a["pin"] for a in fed["apps"]["id"]["demo_accounts"]}
    pins |= {r[0] for r in seeded(fed, "population",
                                  "SELECT pin FROM citizens ORDER BY rowid LIMIT 60")}
    return pins


def test_demo_files_are_private_and_hold_no_password(up):
    """T34: every directory the demo and its daemons make is 0700, every file holding a
    secret or personal data 0600 (keys, databases, logs, configurations, sockets), and
    federation.json names the files that hold the demo's password, never the password."""
    bad_dirs, bad_files = [], []
    for root, dirs, files in os.walk(up.dir):
        for d in dirs:
            if os.lstat(os.path.join(root, d)).st_mode & 0o077:
                bad_dirs.append(os.path.join(root, d))
        for f in files:
            path = os.path.join(root, f)
            mode = os.lstat(path).st_mode & 0o777
            if mode & 0o077 and not PUBLIC_FILES.search(path):
                bad_files.append(f"{path} {mode:o}")
    assert os.stat(up.dir).st_mode & 0o777 == 0o700
    assert not bad_dirs and not bad_files, (bad_dirs, bad_files)
    for pattern in ("sector/*.db", "logs/*.log", "gateways/*/data/msglog.db",
                    "gateways/*/gateway.json", "gateways/*/sign.key", "federation.json"):
        found = list(up.dir.glob(pattern))
        assert found and all(p.stat().st_mode & 0o777 == 0o600 for p in found), pattern
    text = (up.dir / "federation.json").read_text()
    assert "ndx-demo-2026" not in text and '"password"' not in text
    fed = up.fed
    for who in fed["apps"]["id"]["demo_accounts"] + fed["apps"]["portal"]["officers"]:
        pw = Path(who["password_file"])
        assert pw.read_text().strip() == "ndx-demo-2026" and pw.stat().st_mode & 0o777 == 0o600


def test_no_pin_in_clear_in_any_log(up):
    """T34: after the printed exchanges, sign-ins and the officer's read, no log of the
    demo holds a demo citizen's PIN; the sectors' and gateways' access logs show the
    keyed tag instead (pin:<12 hex>), the same tag for the same person in one daemon,
    and the tag's key is the daemon's own 0600 file."""
    fed = up.fed
    pin = fed["apps"]["id"]["demo_accounts"][0]["pin"]
    tax = up.gws["VN/GOV/TCT"]["consumer_url"]
    for _ in range(2):
        r = requests.get(f"{tax}/r1/VN/GOV/BCA/population/citizens/{pin}",
                         headers={"X-Road-Client": "VN/GOV/TCT/tax",
                                  "Ndx-Purpose": "tax-administration", "Ndx-Subject": pin},
                         timeout=20)
        assert r.status_code == 200, r.text
    pins = demo_pins(fed)
    logs = sorted((up.dir / "logs").glob("*.log"))
    assert len(logs) >= 17, logs
    for log in logs:
        text = log.read_text(errors="replace")
        leaked = {p for p in pins if p in text}
        assert not leaked, f"{log} holds {sorted(leaked)[:3]}"
        # Twelve digits standing alone: not a run inside a hex key id or UUID, nor a
        # keyed tag ("pin:" and 12 hex digits, which may all be decimal ones).
        assert not re.search(r"(?<![0-9A-Za-z:])[0-9]{12}(?![0-9A-Za-z])", text), log
    lines = [json.loads(l) for l in
             (up.dir / "logs" / "sector-population.log").read_text().splitlines()
             if l.startswith("{")]
    tags = {l["path"] for l in lines if l.get("path", "").startswith("/citizens/pin:")}
    assert len(tags) >= 1 and all(re.fullmatch(r"/citizens/pin:[0-9a-f]{12}", t) for t in tags)
    key = Path(fed["sector_dir"]) / "population.db.log-key"
    assert key.stat().st_mode & 0o777 == 0o600
    want = hmac.new(bytes.fromhex(key.read_text().strip()), pin.encode(),
                    hashlib.sha256).hexdigest()[:12]
    assert f"/citizens/pin:{want}" in tags, tags


def test_sectors_answer_only_their_gateway(up):
    """T33: a sector registry listens on no port, only on a 0600 Unix socket in a 0700
    directory: another local user cannot connect (the attack: read or write the
    population directly, unlogged), while its gateway still serves exchanges."""
    fed = up.fed
    # The ports the sectors had: nothing listens there now.
    for offset in range(30, 37):
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", up.port + offset)) != 0, offset
    sector_dir = Path(fed["sector_dir"])
    assert sector_dir.stat().st_mode & 0o777 == 0o700
    for s in fed["sectors"]:
        st = os.lstat(s["socket"])
        assert (st.st_mode & 0o170000) == 0o140000 and st.st_mode & 0o777 == 0o600, s
        assert st.st_uid == os.getuid()
    sock = next(s["socket"] for s in fed["sectors"] if s["sector"] == "population")
    pin = fed["apps"]["id"]["demo_accounts"][0]["pin"]
    if os.getuid() == 0:
        # As another user (nobody), connecting is refused by the file permissions.
        probe = ("import socket,sys\ns=socket.socket(socket.AF_UNIX)\n"
                 "try:\n s.connect(sys.argv[1]); print('connected')\n"
                 "except OSError as e: print(type(e).__name__)\n")
        out = subprocess.run(["python3", "-c", probe, sock], capture_output=True, text=True,
                             timeout=20, user=65534, group=65534)
        assert out.stdout.strip() == "PermissionError", out
    # The gateway reaches it.
    r = requests.get(f"{up.gws['VN/GOV/TCT']['consumer_url']}/r1/VN/GOV/BCA/population/"
                     f"citizens/{pin}",
                     headers={"X-Road-Client": "VN/GOV/TCT/tax",
                              "Ndx-Purpose": "tax-administration", "Ndx-Subject": pin},
                     timeout=20)
    assert r.status_code == 200 and r.json()["pin"] == pin, r.text


def test_second_up_is_refused_while_running(up):
    before = (up.dir / "federation.json").read_text()
    for args in ([], ["--port-base", up.port], ["--port-base", free_port_base()]):
        res = run_ndx(up.build_dir, "demo", "up", "--dir", up.dir, *args)
        assert res.returncode == 1 and "already running" in res.stderr, res.stderr
    res = run_ndx(up.build_dir, "demo", "run", "--dir", up.dir)
    assert res.returncode == 1 and "already running" in res.stderr, res.stderr
    assert (up.dir / "federation.json").read_text() == before
    check_federation_live(up.fed, up.port)


class Watch:
    """Notes when each pid stops being alive, polling every few milliseconds."""

    def __init__(self, pids):
        self.gone = {}
        self.pids = list(pids)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop.is_set() and len(self.gone) < len(self.pids):
            now = time.monotonic()
            for p in self.pids:
                if p not in self.gone and not alive(p):
                    self.gone[p] = now
            time.sleep(0.002)

    def finish(self):
        self.stop.set()
        self.thread.join(timeout=5)
        return self.gone


def test_down_stops_in_order_and_up_reuses_everything(up):
    d, port, first = up.dir, up.port, up.fed
    n_grants = len(up.api("/api/grants")["grants"])
    n_services = len(up.api("/api/services")["services"])
    files = {g["member"]: (Path(g["sign_pub"]).read_bytes(), Path(g["config"]).read_bytes(),
                           Path(g["tls_cert"]).read_bytes()) for g in first["gateways"]}
    seed_log = d / "logs" / "sector-seed.log"
    seed_summary = seed_log.read_text()
    consent_token = Path(first["apps"]["consent"]["admin_token_file"]).read_text()
    listed = {e["message_id"] for e in run_accesses_line(
        first["try_accesses"], token_line=first["try_id_token"])["accesses"]}
    n_id_providers = len(up.api("/api/id-providers")["id_providers"])

    # down: every process, in groups (portal and e-ID, gateways, sectors and the consent
    # service, the registry), each group gone before the next one is asked to stop.
    procs = [(p["name"], p["pid"]) for p in first["processes"]]
    watch = Watch(pid for _, pid in procs)
    res = ok(run_ndx(up.build_dir, "demo", "down", "--dir", d))
    for _, pid in procs:
        assert wait_gone(pid), pid
    gone = watch.finish()
    assert set(gone) == {pid for _, pid in procs}
    for name_a, pid_a in procs:
        for name_b, pid_b in procs:
            if STOP_GROUP[name_a] < STOP_GROUP[name_b]:
                assert gone[pid_a] <= gone[pid_b], (name_a, name_b, gone)
    for name, count in PROCS.items():
        assert res.stdout.count(f"stopped {name} (pid ") == count, res.stdout
    down = json.loads((d / "federation.json").read_text())
    assert down["stopped"] is True and down["stopped_at"]
    assert down["registry"]["pid"] == 0
    assert all(p["pid"] == 0 and p["stopped"] for p in down["processes"])
    assert all(x["pid"] == 0 for x in down["gateways"] + down["sectors"] +
               list(down["apps"].values()))
    res = ok(run_ndx(up.build_dir, "demo", "down", "--dir", d))
    assert "not running" in res.stdout

    # Without --port-base it comes back on the port it was set up with, with the same
    # keys, certificates, configurations and data, and registers nothing twice.
    res = ok(run_ndx(up.build_dir, "demo", "up", "--dir", d))
    assert f"{len(up.api('/api/grants')['grants'])} grants" in res.stdout
    second = json.loads((d / "federation.json").read_text())
    assert second["registry"]["url"] == up.url
    assert second["registry"]["pid"] != first["registry"]["pid"]
    gws, _ = check_federation_live(second, port)
    for m, g in gws.items():
        assert (Path(g["sign_pub"]).read_bytes(), Path(g["config"]).read_bytes(),
                Path(g["tls_cert"]).read_bytes()) == files[m], m
    assert len(up.api("/api/grants")["grants"]) == n_grants
    assert len(up.api("/api/services")["services"]) == n_services
    assert len(up.api("/api/gateways")["gateways"]) == len(MEMBERS)
    assert len(up.api("/api/consent-services")["consent_services"]) == 1
    assert Path(second["apps"]["consent"]["admin_token_file"]).read_text() == consent_token
    assert seed_log.read_text() == seed_summary
    for key in ("try_exchange", "try_enterprise", "try_accesses", "try_id_token"):
        assert second[key] == first[key], key
    # The enterprises' agreements are not negotiated again: the same chain to check.
    assert lines_with(res.stdout, " market check-negotiation ") == \
        lines_with(up.out, " market check-negotiation ")
    # The e-ID is registered once, the officer's read is not made again.
    assert len(up.api("/api/id-providers")["id_providers"]) == n_id_providers == 1
    assert second["apps"]["portal"]["demo_procedure"] == first["apps"]["portal"][
        "demo_procedure"]
    resp = curl_as_request(curl_line(res.stdout))
    assert resp.status_code == 200, resp.text
    assert resp.json()["full_name"] and "Ndx-Response-Signature" in resp.headers
    new = {resp.headers["X-Road-Id"]}
    resp = curl_as_request(enterprise_line(res.stdout))
    assert resp.status_code == 200, resp.text
    new.add(resp.headers["X-Road-Id"])
    # The message logs were kept: the exchanges of before the restart are still listed,
    # beside the new ones.
    doc = run_accesses_line(accesses_line(res.stdout), token_line=id_token_line(res.stdout))
    assert {e["message_id"] for e in doc["accesses"]} == listed | new, doc
    assert len(listed) >= 2
    ok(run_ndx(up.build_dir, "demo", "down", "--dir", d))
    for p in all_pids(second):
        assert wait_gone(p), p


# ---- refusals, each on its own directory --------------------------------------------

def test_demo_down_without_federation(build_dir, tmp_path):
    res = ok(run_ndx(build_dir, "demo", "down", "--dir", tmp_path / "nothing-here"))
    assert "nothing to stop" in res.stdout


def test_demo_up_on_busy_ports_fails_cleanly(build_dir, demo):
    d, port = demo
    # The registry's port, BTC's gateway port (BTC is third), the consumer port of BHXH
    # (fifth), the consent service's. (The sectors have Unix sockets, no ports.)
    cases = [(port, "the registry's port"), (port + 22, "the gateway port of VN/GOV/BTC"),
             (port + 14, "the consumer port of VN/GOV/BHXH"), (port + 40, "ndx-consent")]
    for busy, what in cases:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", busy))
            s.listen(1)
            res = run_ndx(build_dir, "demo", "up", "--dir", d, "--port-base", port)
        assert res.returncode == 1, res.stdout
        assert f"127.0.0.1:{busy}" in res.stderr and what in res.stderr, (what, res.stderr)
        assert "in use" in res.stderr
        assert not (d / "federation.json").exists()


def test_demo_bad_arguments(build_dir, tmp_path):
    d = tmp_path / "bad"
    for bad in ("0", "abc", "70000", "-5", "", "4400x"):
        res = run_ndx(build_dir, "demo", "up", "--dir", d, "--port-base", bad)
        assert res.returncode == 2 and "--port-base" in res.stderr, (bad, res.stderr)
        assert "usage: ndx demo" in res.stderr
    # Room for PORT+59.
    res = run_ndx(build_dir, "demo", "up", "--dir", d, "--port-base", 65535 - PORT_SPAN + 2)
    assert res.returncode == 1 and f"at most {65535 - PORT_SPAN + 1}" in res.stderr, res.stderr
    assert not (d / "federation.json").exists()
    for args in (["up"], ["down"], ["run"], ["id-token"], ["up", "--dir", d, "extra"],
                 ["down", "--dir", d, "--port-base", "5000"], ["sideways", "--dir", d],
                 ["up", "--dir", d, "--bogus"], ["up", "--dir", d, "--pin", CITIZEN],
                 ["id-token", "--dir", d, "--port-base", "5000"],
                 ["accounts"], ["accounts", "--dir", d, "--port-base", "5000"],
                 ["accounts", "--dir", d, "--pin", CITIZEN],
                 ["down", "--dir", d, "--out", "x"], []):
        res = run_ndx(build_dir, "demo", *args)
        assert res.returncode == 2 and "usage: ndx demo" in res.stderr, (args, res.stderr)
    # id-token needs a running demo, accounts one set up.
    for sub in ("id-token", "accounts"):
        res = run_ndx(build_dir, "demo", sub, "--dir", d)
        assert res.returncode == 1 and "no demo federation" in res.stderr, (sub, res.stderr)
    res = ok(run_ndx(build_dir, "demo", "--help"))
    assert res.stdout.startswith("usage: ndx demo up")
    assert "id-token" in res.stdout and "id provider" in res.stdout
    for word in ("PORT+40", "ndx-consent", "access list", "BHXH", "CSGT", "BNNMT", "PORT+60..70",
                 "gateway-console.md", "admin/officers"):
        assert word in res.stdout, word


def test_demo_refuses_a_federation_file_it_cannot_run(build_dir, tmp_path):
    """--federation FILE is checked whole before anything starts or is written: a file
    the format refuses (docs/federation-file.md), a member the demo runs no gateway for,
    a member it runs one for that the file leaves out, a service nothing in the demo
    answers. Each is refused with exit 2, naming the file, and DIR is not made."""
    demo_file = Path(__file__).resolve().parents[2] / "deploy" / "demo" / "federation.json"
    base = json.loads(demo_file.read_text())
    logistics = "VN/COM/0100000088"

    def without(doc, member):
        keep = {}
        for section, items in doc.items():
            if not isinstance(items, list):
                keep[section] = items
                continue
            keep[section] = [i for i in items if not any(
                isinstance(v, str) and (v == member or v.startswith(member + "/"))
                for v in i.values())]
        return keep

    stranger = json.loads(json.dumps(base))
    stranger["members"].append({"id": "VN/COM/0100000077", "name": "Công ty Lạ"})
    unserved = json.loads(json.dumps(base))
    unserved["services"].append({"id": "VN/GOV/VPCP/portal/forms", "title": "Biểu mẫu"})
    unknown_field = json.loads(json.dumps(base))
    unknown_field["members"][0]["colour"] = "red"
    cases = [
        ("{\"format\": ", "federation.json:1:"),
        (json.dumps(unknown_field, ensure_ascii=False), "members[0]"),
        (json.dumps(stranger, ensure_ascii=False),
         "member VN/COM/0100000077 has no gateway in the demo"),
        (json.dumps(without(base, logistics), ensure_ascii=False),
         f"the demo runs a gateway for {logistics}, which the file does not declare"),
        (json.dumps(unserved, ensure_ascii=False),
         "nothing in the demo answers service VN/GOV/VPCP/portal/forms"),
    ]
    for text, says in cases:
        f = tmp_path / "federation.json"
        f.write_text(text)
        d = tmp_path / "dir"
        res = run_ndx(build_dir, "demo", "up", "--dir", d, "--federation", f)
        assert res.returncode == 2, (says, res.stdout, res.stderr)
        assert says in res.stderr and str(f) in res.stderr, (says, res.stderr)
        assert not d.exists(), says
    res = run_ndx(build_dir, "demo", "up", "--dir", tmp_path / "dir", "--federation",
                  tmp_path / "missing.json")
    assert res.returncode == 2 and "cannot read the demo's federation file" in res.stderr
    for sub in ("down", "accounts", "id-token"):
        res = run_ndx(build_dir, "demo", sub, "--dir", tmp_path / "dir", "--federation",
                      demo_file)
        assert res.returncode == 2 and "usage: ndx demo" in res.stderr, (sub, res.stderr)


def test_demo_run_stops_on_sigterm_when_make_dies(build_dir, demo):
    """`make demo` runs `ndx demo run` from a shell under make, and GNU make, sent
    SIGTERM, dies without passing it on: demo run takes its parent's death as SIGTERM
    (PR_SET_PDEATHSIG) and stops the whole federation in order. The parent here is a
    shell as make's recipe runs it, killed with SIGKILL."""
    d, port = demo
    proc = subprocess.Popen(["sh", "-c", '"$@"; echo "demo run exited $?"', "sh",
                             str(build_dir / "src" / "cli" / "ndx"), "demo", "run", "--dir",
                             str(d), "--port-base", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        fed_path = d / "federation.json"
        deadline = time.monotonic() + UP_TIMEOUT
        while time.monotonic() < deadline and not fed_path.exists():
            assert proc.poll() is None, proc.communicate(timeout=5)
            time.sleep(0.1)
        assert fed_path.exists()
        fed = json.loads(fed_path.read_text())
        check_federation_live(fed, port)
        pids = all_pids(fed)
        # The printed lines work as soon as federation.json is there.
        resp = curl_as_request(fed["try_exchange"])
        assert resp.status_code == 200, resp.text
        assert resp.json()["pin"] == fed["try_exchange"].rsplit("/", 1)[1]
        resp = curl_as_request(fed["try_enterprise"])
        assert resp.status_code == 200, resp.text
        doc = run_accesses_line(fed["try_accesses"], token_line=fed["try_id_token"])
        assert len(doc["accesses"]) == 3 and len(officer_reads(doc)) == 1, doc
        proc.kill()  # the shell: demo run is left without its parent
        out, err = proc.communicate(timeout=90)  # EOF once demo run has stopped everything
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)
    assert proc.returncode == -signal.SIGKILL, err
    assert "\nndx demo: stopping\n" in out, out[-2000:]
    assert f"http://127.0.0.1:{port}" in out
    assert "conf fetch" in out and "conf verify" in out and "anchor.json" in out
    assert curl_line(out) == fed["try_exchange"]
    assert enterprise_line(out) == fed["try_enterprise"]
    assert accesses_line(out) == fed["try_accesses"]
    assert id_token_line(out) == fed["try_id_token"]
    for g in fed["gateways"]:
        assert g["consumer_url"] in out
    for name, count in PROCS.items():
        assert out.count(f"stopped {name} (pid ") == count, out
    for p in pids:
        assert wait_gone(p), p
    assert json.loads(fed_path.read_text())["registry"]["pid"] == 0


# ---- ndx testservice ----------------------------------------------------------------

def test_testservice_reports_what_it_received(build_dir, tmp_path):
    exe = str(build_dir / "src" / "cli" / "ndx")
    port = free_port()
    err_path = tmp_path / "ts.stderr"
    with open(err_path, "wb") as err:
        proc = subprocess.Popen([exe, "testservice", "--listen", f"127.0.0.1:{port}",
                                 "--name", "dịch vụ thử"], stdout=subprocess.DEVNULL,
                                stderr=err)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 10
        while True:
            assert proc.poll() is None, err_path.read_text()
            try:
                h = requests.get(url + "/healthz", timeout=1)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, err_path.read_text()
                time.sleep(0.05)
        assert h.status_code == 200 and h.json() == {"status": "ok", "service": "dịch vụ thử"}
        # The server answers as soon as it listens, a moment before the line is written.
        deadline = time.monotonic() + 10
        while f"ndx testservice: listening on {url}" not in err_path.read_text():
            assert time.monotonic() < deadline, err_path.read_text()
            time.sleep(0.05)

        body = "xin chào".encode() * 100
        resp = requests.post(url + "/a%2Fb/c?x=1&y=%C3%A9", data=body, timeout=5, headers={
            "X-Road-Client": "VN/GOV/BTC/tax", "X-Road-Id": "id-1", "Ndx-Purpose": "p",
            "Ndx-Subject": CITIZEN, "Content-Type": "text/plain; charset=utf-8",
            "X-Other": "not reported"})
        assert resp.status_code == 200 and resp.headers["Content-Type"].startswith(
            "application/json")
        got = resp.json()
        assert got["service"] == "dịch vụ thử"
        assert got["method"] == "POST"
        assert got["path"] == "/a%2Fb/c" and got["query"] == "x=1&y=%C3%A9"
        assert got["headers"] == {"X-Road-Client": "VN/GOV/BTC/tax", "X-Road-Id": "id-1",
                                  "Ndx-Purpose": "p", "Ndx-Subject": CITIZEN,
                                  "Content-Type": "text/plain; charset=utf-8"}
        assert got["body_bytes"] == len(body)
        assert got["body_sha256"] == hashlib.sha256(body).hexdigest()
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", got["received_at"])

        got = requests.delete(url + "/x", timeout=5).json()
        assert got["method"] == "DELETE" and got["query"] == "" and got["headers"] == {}
        assert got["body_sha256"] == hashlib.sha256(b"").hexdigest()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_testservice_help_and_bad_arguments(build_dir):
    res = ok(run_ndx(build_dir, "testservice", "--help"))
    assert res.stdout.startswith("usage: ndx testservice")
    assert "--listen" in res.stdout and "--name" in res.stdout and "/healthz" in res.stdout
    assert "testservice" in ok(run_ndx(build_dir, "--help")).stdout
    for args in (["--listen", "nowhere:80"], ["--listen", "127.0.0.1:70000"], ["extra"],
                 ["--bogus"]):
        res = run_ndx(build_dir, "testservice", *args)
        assert res.returncode == 2 and "usage: ndx testservice" in res.stderr, (args, res.stderr)
