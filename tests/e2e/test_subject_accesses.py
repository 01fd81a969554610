"""End-to-end tests of "who read my data" (docs/gateway.md, "Who read my data: the
subject access list") and of consent in the demo federation: one `ndx demo up` for the
module, exchanges about two citizens through the real gateways, then each provider's
`{member}/transparency/accesses` (answered by the provider gateway from its message log)
and `ndx subject accesses` must list exactly the exchanges about the citizen asked for,
newest first, refusals included, never the data and never the reads of the access list
itself; only the portal may read it, with purpose `transparency`, a subject and that
subject's own ID token from the demo's e-ID (signed here with the e-ID's key file, as
ndx-id signs them; the portal's tests use ndx-id's sign-in itself). Consent:
BHXH's contribution history needs the citizen's consent, issued and revoked at the
demo's ndx-consent with `ndx consent grant/revoke`. The attacks of the "who read my data"
issue against the real sector registries: another person's record under a declared
subject, a list under one subject, one citizen's consent used for another's rows, a write
to another citizen's record."""

import base64
import contextlib
import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives import serialization

from conftest import free_port, free_port_range
import refusals  # noqa: E402

UP_TIMEOUT = 120
PORT_SPAN = 71  # --port-base .. +70 (ndx demo --help)
PORTAL = "VN/GOV/VPCP/portal"
TRANSPARENCY = "transparency"
PROVIDERS = ["VN/GOV/BCA", "VN/GOV/BTP", "VN/GOV/BTC", "VN/GOV/TCT", "VN/GOV/BHXH",
             "VN/GOV/BNNMT", "VN/GOV/CSGT"]
# Every member whose gateway answers the access list: the registries' agencies and the
# State Treasury, whose payment orders name the citizen who pays (docs/payment.md).
ACCESS_LIST_PROVIDERS = PROVIDERS + ["VN/GOV/KBNN"]
CITIZENS = "VN/GOV/BCA/population/citizens"
ENTERPRISES = "VN/GOV/BTC/enterprise/enterprises"
CONTRIBUTIONS = "VN/GOV/BHXH/insurance/contributions"
ENTRY_KEYS = {"time", "client", "service", "service_title", "method", "purpose", "status",
              "outcome", "user_id", "issue", "own", "message_id"}
# The provider gateway fetches revocation lists every consent_refresh_s (10 s default).
REVOCATION_POLL_S = 20


# ---- the federation -----------------------------------------------------------------

def run_ndx(build_dir, *args, timeout=UP_TIMEOUT, env=None):
    e = {k: v for k, v in os.environ.items() if not k.startswith("NDX_")}
    e.update(env or {})
    return subprocess.run([str(build_dir / "src" / "cli" / "ndx"), *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, env=e)


def ok(res):
    assert res.returncode == 0, (f"exit {res.returncode}\nstdout:\n{res.stdout}\n"
                                 f"stderr:\n{res.stderr}")
    return res


def alive(pid):
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def free_port_base():
    return free_port_range(PORT_SPAN)


class Demo:
    def __init__(self, build_dir, d, fed):
        self.build_dir = build_dir
        self.dir = d
        self.fed = fed
        self.consumer = {g["member"]: g["consumer_url"] for g in fed["gateways"]}
        self.sector_dir = Path(fed["sector_dir"])
        consent = fed["apps"]["consent"]
        self.consent_url = consent["url"]
        self.consent_token_file = consent["admin_token_file"]
        eid = fed["apps"]["id"]
        self.issuer = eid["url"]
        self.eid_key = serialization.load_pem_private_key(
            (Path(eid["dir"]) / "id-sign.key").read_bytes(), password=None)
        self.token_dir = Path(d).parent / "tokens"
        self.token_dir.mkdir(exist_ok=True)

    def token(self, pin, **over):
        """pin's ID token as the demo's e-ID signs it (docs/id.md)."""
        raw = self.eid_key.public_key().public_bytes(serialization.Encoding.Raw,
                                                     serialization.PublicFormat.Raw)
        now = int(time.time())
        claims = {"iss": self.issuer, "sub": pin, "aud": "portal", "iat": now - 2,
                  "exp": now + 300}
        claims.update(over)
        header = {"alg": "EdDSA", "kid": hashlib.sha256(raw).hexdigest(), "typ": "JWT"}
        b64 = lambda o: base64.urlsafe_b64encode(  # noqa: E731
            json.dumps(o, separators=(",", ":")).encode()).rstrip(b"=").decode()
        signing_input = b64(header) + "." + b64(claims)
        sig = base64.urlsafe_b64encode(self.eid_key.sign(signing_input.encode()))
        return signing_input + "." + sig.rstrip(b"=").decode()

    def token_file(self, pin):
        f = self.token_dir / f"{pin}.jwt"
        f.write_text(self.token(pin))
        f.chmod(0o600)
        return f

    def exchange(self, client, service, rest, subject=None, purpose=None, method="GET",
                 headers=None, **kw):
        """A request of the information system `client` through its member's consumer
        gateway."""
        member = "/".join(client.split("/")[:3])
        h = {"X-Road-Client": client}
        if subject is not None:
            h["Ndx-Subject"] = subject
        if purpose is not None:
            h["Ndx-Purpose"] = purpose
        h.update(headers or {})
        return requests.request(method, f"{self.consumer[member]}/r1/{service}{rest}",
                                headers=h, timeout=20, **kw)

    def accesses(self, provider, subject, query="", client=PORTAL, purpose=TRANSPARENCY,
                 method="GET", token=True):
        """The provider's access list, asked directly as `client` would, with the
        subject's own ID token (token=True), another (a string) or none (None)."""
        if token is True:
            token = self.token(subject) if subject and len(subject) == 12 else None
        headers = {"Ndx-Subject-Token": token} if token else None
        return self.exchange(client, f"{provider}/{TRANSPARENCY}/accesses", query,
                             subject=subject, purpose=purpose, method=method, headers=headers)

    def accesses_ok(self, provider, subject, query=""):
        resp = self.accesses(provider, subject, query)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["subject"] == subject and body["provider"] == provider, body
        return body

    def cli(self, *args, env=None):
        return run_ndx(self.build_dir, "subject", "accesses", *args, timeout=60, env=env)

    def cli_json(self, pin, *extra):
        res = ok(self.cli(pin, "--gateway", self.consumer["VN/GOV/VPCP"], "--client", PORTAL,
                          "--id-token-file", self.token_file(pin), "--json", *extra))
        doc = json.loads(res.stdout)
        assert doc["subject"] == pin and doc["unavailable"] == [], doc
        return doc

    def sql(self, sector, stmt, *args):
        with sqlite3.connect(f"file:{self.sector_dir}/{sector}.db?mode=ro", uri=True) as db:
            return db.execute(stmt, args).fetchall()


@contextlib.contextmanager
def running_demo(build_dir, d, seed=None):
    """`ndx demo up` in d, over data seeded first with `ndx-sector seed` and the arguments
    seed when given (`demo up` serves data already in DIR/sector), as a Demo; brought down
    at the end, and any process it listed that outlived `demo down` killed."""
    if seed:
        subprocess.run([str(build_dir / "src" / "sector" / "ndx-sector"), "seed", "--db-dir",
                        str(d / "sector"), *seed, "--quiet"], check=True, capture_output=True,
                       timeout=60)
    try:
        ok(run_ndx(build_dir, "demo", "up", "--dir", d, "--port-base", free_port_base()))
        yield Demo(build_dir, d, json.loads((d / "federation.json").read_text()))
    finally:
        fed = d / "federation.json"
        if fed.exists():
            pids = [p["pid"] for p in json.loads(fed.read_text()).get("processes", [])]
            res = run_ndx(build_dir, "demo", "down", "--dir", d)
            for pid in pids:
                if pid and alive(pid):
                    os.kill(pid, signal.SIGKILL)
            assert res.returncode == 0, res.stderr


@pytest.fixture(scope="module")
def demo(build_dir, tmp_path_factory):
    with running_demo(build_dir, tmp_path_factory.mktemp("accesses") / "demo") as d:
        yield d


@pytest.fixture(scope="module")
def people(demo):
    """Citizens of the seeded data, each the legal representative of an enterprise (the
    demo's own try_exchange citizen, the first, is left alone): A and B are read, C gives
    and revokes a consent (and has a contribution history), D is only looked up."""
    # Enterprises whose answer is about their legal representative alone (no other
    # owner), so that a read naming that citizen is lawful.
    reps = demo.sql("enterprise", "SELECT legal_rep_pin, code FROM enterprises e WHERE NOT "
                    "EXISTS (SELECT 1 FROM owners o WHERE o.enterprise_code = e.code AND "
                    "o.owner_pin IS NOT e.legal_rep_pin) ORDER BY rowid")
    try_pin = demo.fed["try_exchange"].rsplit("/", 1)[1]
    reps = [(pin, code) for pin, code in reps if pin != try_pin]
    used = {pin for pin, _ in reps}
    contributors = [pin for (pin,) in demo.sql(
        "insurance", "SELECT DISTINCT pin FROM contributions ORDER BY id") if pin not in used
        and pin != try_pin]
    everyone = [pin for (pin,) in demo.sql("population", "SELECT pin FROM citizens ORDER BY pin")]
    others = [p for p in everyone if p not in used and p not in contributors and p != try_pin]
    assert len(reps) >= 2 and contributors and others
    return {"A": reps[0], "B": reps[1], "C": contributors[0], "D": others[0]}


class Reads:
    """The exchanges made about A (expected in A's lists) and B."""

    def __init__(self):
        self.phases = []  # [[(provider, message_id, (client, service, purpose, status))]]
        self.about_b = []

    def add(self, resp, provider, client, service, purpose, status):
        assert resp.status_code == status, resp.text
        xid = resp.headers.get("X-Road-Id")
        assert xid, dict(resp.headers)
        self.phases[-1].append((provider, xid, (client, service, purpose, status)))

    def ids(self, provider=None):
        return [x for ph in self.phases for p, x, _ in ph if provider in (None, p)]

    def newest_first(self, provider):
        return [(x, what) for ph in reversed(self.phases) for p, x, what in reversed(ph)
                if p == provider]


def next_second():
    """Sleeps a little over a second: the access list's times have a resolution of one
    second, so exchanges more than a second apart have different, ordered times."""
    time.sleep(1.05)


@pytest.fixture(scope="module")
def reads(demo, people):
    """Three phases a second apart (the access list's times have one-second resolution):
    BTC's enterprise registry, then BCA's population registry, then BTC again; refusals
    among them; interleaved, exchanges about B."""
    (a, code_a), (b, code_b) = people["A"], people["B"]
    r = Reads()

    r.phases.append([])
    for client, purpose in (("VN/GOV/TCT/tax", "tax-administration"),
                            ("VN/GOV/BHXH/insurance", "social-insurance")):
        resp = demo.exchange(client, ENTERPRISES, f"/{code_a}", a, purpose)
        r.add(resp, "VN/GOV/BTC", client, ENTERPRISES, purpose, 200)
        assert resp.json()["legal_rep_pin"] == a
    resp = demo.exchange("VN/GOV/TCT/tax", ENTERPRISES, f"/{code_b}", b, "tax-administration")
    assert resp.status_code == 200, resp.text
    r.about_b.append(("VN/GOV/BTC", resp.headers["X-Road-Id"]))
    next_second()

    r.phases.append([])
    for client, purpose in (("VN/GOV/TCT/tax", "tax-administration"),
                            ("VN/GOV/BHXH/insurance", "social-insurance"),
                            ("VN/GOV/BTC/enterprise", "public-service")):
        resp = demo.exchange(client, CITIZENS, f"/{a}", a, purpose)
        r.add(resp, "VN/GOV/BCA", client, CITIZENS, purpose, 200)
        assert resp.json()["pin"] == a
        if client == "VN/GOV/BHXH/insurance":
            resp = demo.exchange(client, CITIZENS, f"/{b}", b, purpose)
            assert resp.status_code == 200, resp.text
            r.about_b.append(("VN/GOV/BCA", resp.headers["X-Road-Id"]))
    # Refused by the provider gateway (a purpose the service does not allow, none at
    # all): logged there, so listed, with the status and purpose asked.
    resp = demo.exchange("VN/GOV/TCT/tax", CITIZENS, f"/{a}", a, "marketing")
    r.add(resp, "VN/GOV/BCA", "VN/GOV/TCT/tax", CITIZENS, "marketing", 500)
    refusals.check_response(resp, "PurposeNotAllowed")
    resp = demo.exchange("VN/GOV/TCT/tax", CITIZENS, f"/{a}", a, None)
    r.add(resp, "VN/GOV/BCA", "VN/GOV/TCT/tax", CITIZENS, "", 500)
    refusals.check_response(resp, "PurposeMissing")
    # Refused by the consumer gateway already (no grant; a method the grant does not
    # allow): the request never reached BCA, whose list therefore does not show it.
    resp = demo.exchange("VN/GOV/BTP/civil-status", CITIZENS, f"/{a}", a, "public-service")
    refusals.check_response(resp, "NoGrant")
    r.consumer_refused = [resp.headers.get("X-Road-Id")]
    resp = demo.exchange("VN/GOV/TCT/tax", CITIZENS, f"/{a}", a, "tax-administration",
                         method="PUT", json={"full_name": "x"})
    refusals.check_response(resp, "NoGrant")
    r.consumer_refused.append(resp.headers.get("X-Road-Id"))
    next_second()

    r.phases.append([])
    resp = demo.exchange("VN/GOV/TCT/tax", ENTERPRISES, f"/{code_a}", a, "law-enforcement")
    r.add(resp, "VN/GOV/BTC", "VN/GOV/TCT/tax", ENTERPRISES, "law-enforcement", 500)
    refusals.check_response(resp, "PurposeNotAllowed")
    resp = demo.exchange(PORTAL, CITIZENS, f"/{a}", a, "public-service")
    r.add(resp, "VN/GOV/BCA", PORTAL, CITIZENS, "public-service", 200)
    return r


def check_entries(entries):
    for e in entries:
        assert ENTRY_KEYS <= set(e), e
        assert "path" not in e, e
        assert isinstance(e["status"], int) and len(e["time"]) == 20 and e["time"][-1] == "Z"


# ---- the access list ----------------------------------------------------------------

def test_each_provider_lists_exactly_its_exchanges_about_the_subject(demo, people, reads):
    a, b = people["A"][0], people["B"][0]
    for provider in PROVIDERS:
        body = demo.accesses_ok(provider, a)
        want = reads.newest_first(provider)
        check_entries(body["accesses"])
        got = [(e["message_id"], (e["client"], e["service"], e["purpose"], e["status"]))
               for e in body["accesses"]]
        assert got == want, (provider, body)
        assert body["total"] == len(want) and body["truncated"] is False, body
        times = [e["time"] for e in body["accesses"]]
        assert times == sorted(times, reverse=True), times
    # The consumer gateways' refusals never reached a provider.
    listed = set(reads.ids())
    assert not listed & set(filter(None, reads.consumer_refused))
    # B's list holds B's exchanges only, and none of A's.
    for provider in ("VN/GOV/BCA", "VN/GOV/BTC"):
        body = demo.accesses_ok(provider, b)
        assert [e["message_id"] for e in body["accesses"]] == [
            x for p, x in reversed(reads.about_b) if p == provider], body
        assert all(e["client"] != PORTAL for e in body["accesses"])


def test_cli_lists_every_providers_exchanges_newest_first(demo, people, reads):
    a, b = people["A"][0], people["B"][0]
    doc = demo.cli_json(a)
    check_entries(doc["accesses"])
    got = doc["accesses"]
    times = [e["time"] for e in got]
    assert times == sorted(times, reverse=True), times
    # Exactly A's exchanges, each once, with who, which service, which purpose, status.
    want = {x: (p, what) for ph in reads.phases for p, x, what in ph}
    assert sorted(e["message_id"] for e in got) == sorted(want), got
    for e in got:
        provider, what = want[e["message_id"]]
        assert e["provider"] == provider
        assert (e["client"], e["service"], e["purpose"], e["status"]) == what
    # Phases a second apart come newest phase first (within one second the CLI cannot
    # order the answers of different providers).
    cut = 0
    for ph in reversed(reads.phases):
        assert {e["message_id"] for e in got[cut:cut + len(ph)]} == {x for _, x, _ in ph}
        cut += len(ph)
    assert not {x for _, x in reads.about_b} & {e["message_id"] for e in got}

    # The lookups just made (this one, the test before) are not listed: asking again
    # gives the same list, in every provider's direct answer too.
    assert demo.cli_json(a)["accesses"] == got
    for provider in PROVIDERS:
        body = demo.accesses_ok(provider, a)
        assert all(e["service"] != f"{provider}/{TRANSPARENCY}/accesses"
                   for e in body["accesses"])
        assert body["total"] == len(reads.newest_first(provider))

    # B: only B's.
    doc_b = demo.cli_json(b)
    assert sorted(e["message_id"] for e in doc_b["accesses"]) == sorted(
        x for _, x in reads.about_b)

    # The table form says the same.
    res = ok(demo.cli(a, "--gateway", demo.consumer["VN/GOV/VPCP"], "--client", PORTAL,
                      "--id-token-file", demo.token_file(a)))
    lines = res.stdout.splitlines()
    assert lines[0] == f"{len(want)} exchange(s) about {a}", res.stdout
    assert lines[1].split() == ["time", "client", "service", "purpose", "status"]
    rows = [ln.split() for ln in lines[2:]]
    assert len(rows) == len(want)
    assert [r[0] for r in rows] == times
    assert sorted((r[1], r[2], r[-1]) for r in rows) == sorted(
        (c, s, str(st)) for _, (c, s, _, st) in want.values())


def test_access_list_holds_no_data(demo, people, reads):
    a, code_a = people["A"]
    name = demo.sql("population", "SELECT full_name FROM citizens WHERE pin = ?", a)[0][0]
    ent = demo.sql("enterprise", "SELECT name, address FROM enterprises WHERE code = ?",
                   code_a)[0]
    texts = [demo.accesses(p, a).text for p in ("VN/GOV/BCA", "VN/GOV/BTC")]
    texts.append(demo.cli(a, "--gateway", demo.consumer["VN/GOV/VPCP"], "--client", PORTAL,
                          "--id-token-file", demo.token_file(a), "--json").stdout)
    for text in texts:
        assert a in text
        for needle in ("full_name", "birth_date", "permanent_address", "legal_rep_pin",
                       name, ent[0], ent[1], code_a):
            assert needle not in text, (needle, text)


def test_limit(demo, people, reads):
    a = people["A"][0]
    newest = reads.newest_first("VN/GOV/BCA")
    body = demo.accesses_ok("VN/GOV/BCA", a, "?limit=1")
    assert [e["message_id"] for e in body["accesses"]] == [newest[0][0]], body
    assert body["total"] == len(newest) and body["truncated"] is True
    body = demo.accesses_ok("VN/GOV/BCA", a, f"?limit={len(newest)}")
    assert len(body["accesses"]) == len(newest) and body["truncated"] is False
    assert demo.accesses_ok("VN/GOV/BCA", a, "?limit=1000")["total"] == len(newest)
    for bad in ("0", "abc", "1001", "-1", ""):
        resp = demo.accesses("VN/GOV/BCA", a, f"?limit={bad}")
        refusals.check_response(resp, "AccessListQuery", where=bad)
        assert resp.json()["detail"].startswith("AccessListQuery: limit"), resp.text
    # The CLI: at most N a provider, still newest first.
    doc = demo.cli_json(a, "--limit", "1")
    assert sorted(e["message_id"] for e in doc["accesses"]) == sorted(
        reads.newest_first(p)[0][0] for p in ("VN/GOV/BCA", "VN/GOV/BTC"))
    for bad in ("0", "1001", "x"):
        res = demo.cli(a, "--gateway", demo.consumer["VN/GOV/VPCP"], "--client", PORTAL,
                       "--limit", bad)
        assert res.returncode == 2 and "--limit" in res.stderr, res.stderr


def test_only_the_portal_reads_access_lists_for_a_named_subject(demo, people):
    d = people["D"]

    def refused(resp, reason):
        refusals.check_response(resp, reason)

    for provider in ("VN/GOV/BCA", "VN/GOV/BHXH"):
        # Another subsystem, with the right purpose: no grant.
        for client in ("VN/GOV/TCT/tax", "VN/GOV/BHXH/insurance"):
            refused(demo.accesses(provider, d, client=client), "NoGrant")
        refused(demo.accesses(provider, None), "SubjectMissing")
        refused(demo.accesses(provider, "123"), "SubjectInvalid")
        refused(demo.accesses(provider, d, purpose="public-service"), "PurposeNotAllowed")
        refused(demo.accesses(provider, d, purpose=None), "PurposeMissing")
        # The portal's grant on the access lists allows GET only, and the grant is
        # checked before the method is (the consumer gateway refuses it already).
        for method in ("POST", "PUT", "DELETE"):
            refused(demo.accesses(provider, d, method=method), "NoGrant")
        refused(demo.accesses(provider, d, "/x"), "AccessListPath")
    # None of those lookups is an exchange about D.
    assert demo.cli_json(d)["accesses"] == []
    assert demo.accesses_ok("VN/GOV/BCA", d)["accesses"] == []


# ---- consent -------------------------------------------------------------------------

def test_consent_grant_and_revoke(demo, people):
    c = people["C"]
    consent = ["--service-url", demo.consent_url, "--token-file", demo.consent_token_file]
    n_rows = len(demo.sql("insurance", "SELECT id FROM contributions WHERE pin = ?", c))
    assert n_rows >= 1

    def read(token=None):
        return demo.exchange(PORTAL, CONTRIBUTIONS, f"?pin={c}", c, "social-insurance",
                             headers={"Ndx-Consent": token} if token else None)

    resp = read()
    refusals.check_response(resp, "ConsentMissing")

    res = ok(run_ndx(demo.build_dir, "consent", "grant", "--subject", c, "--consumer", PORTAL,
                     "--service", CONTRIBUTIONS, "--purpose", "social-insurance", "--days", "1",
                     "--json", *consent))
    granted = json.loads(res.stdout)
    assert granted["subject"] == c and granted["consumer"] == PORTAL
    assert granted["issuer"] == demo.fed["apps"]["consent"]["id"] == "VN/GOV/VPCP/consent"
    token = granted["consent"]
    resp = read(token)
    assert resp.status_code == 200, resp.text
    items = resp.json()["items"]
    assert len(items) == n_rows and all(i["pin"] == c for i in items)
    # Another purpose than the consent's is refused even with it.
    resp = demo.exchange(PORTAL, CONTRIBUTIONS, f"?pin={c}", c, "public-service",
                         headers={"Ndx-Consent": token})
    refusals.check_response(resp, "ConsentWrongPurpose")

    listed = ok(run_ndx(demo.build_dir, "consent", "list", "--subject", c, "--json", *consent))
    assert granted["jti"] in listed.stdout
    ok(run_ndx(demo.build_dir, "consent", "revoke", granted["jti"], *consent))
    deadline = time.monotonic() + REVOCATION_POLL_S
    while True:
        resp = read(token)
        if resp.status_code != 200:
            break
        assert time.monotonic() < deadline, "the revocation was not seen in time"
        time.sleep(0.5)
    refusals.check_response(resp, "ConsentRevoked")

    # C's list at BHXH, newest first: the read refused as revoked, the reads made while
    # the revocation was on its way, the wrong purpose, the consented read, the read
    # without consent.
    entries = demo.accesses_ok("VN/GOV/BHXH", c)["accesses"]
    assert all(e["client"] == PORTAL and e["service"] == CONTRIBUTIONS for e in entries)
    got = [(e["status"], e["purpose"]) for e in entries]
    assert got[0] == (500, "social-insurance"), got
    assert got[-3:] == [(500, "public-service"), (200, "social-insurance"),
                        (500, "social-insurance")], got
    assert set(got[1:-3]) <= {(200, "social-insurance")}, got
    # The others' lists at BHXH do not hold C's exchanges.
    assert demo.accesses_ok("VN/GOV/BHXH", people["D"])["accesses"] == []


# ---- the command line ---------------------------------------------------------------

def test_cli_errors(demo, people):
    a = people["A"][0]
    gw = demo.consumer["VN/GOV/VPCP"]
    for pin in ("123", "00108501234x", "0010850123456"):
        res = demo.cli(pin, "--gateway", gw, "--client", PORTAL)
        assert res.returncode == 2 and "personal identification number" in res.stderr, (
            pin, res.stderr)
    res = demo.cli(a, "--client", PORTAL)
    assert res.returncode == 2 and "--gateway" in res.stderr, res.stderr
    res = demo.cli(a, "--gateway", gw)
    assert res.returncode == 2 and "--client" in res.stderr, res.stderr
    res = demo.cli(a, "--gateway", gw, "--client", "VN/GOV/VPCP")
    assert res.returncode == 2 and "--client" in res.stderr, res.stderr
    res = demo.cli(a, a, "--gateway", gw, "--client", PORTAL)
    assert res.returncode == 2, res.stderr
    res = demo.cli()
    assert res.returncode == 2 and "usage: ndx subject accesses" in res.stderr
    res = ok(demo.cli("--help"))
    assert res.stdout.startswith("usage: ndx subject accesses")
    # The environment gives the defaults.
    doc = json.loads(ok(demo.cli(a, "--json", "--id-token-file", demo.token_file(a),
                                 env={"NDX_GATEWAY": gw, "NDX_CLIENT": PORTAL})).stdout)
    assert len(doc["accesses"]) == len(demo.cli_json(a)["accesses"])

    # A gateway that is not running: exit 1 and say so.
    port = free_port()
    res = demo.cli(a, "--gateway", f"http://127.0.0.1:{port}", "--client", PORTAL)
    assert res.returncode == 1, res.stderr
    assert f"127.0.0.1:{port}" in res.stderr and "cannot" in res.stderr, res.stderr
    assert res.stdout == ""
    # A client without the grants: every provider named as not asked, exit 1.
    res = demo.cli(a, "--gateway", demo.consumer["VN/GOV/TCT"], "--client", "VN/GOV/TCT/tax",
                   "--json")
    assert res.returncode == 1, res.stderr
    doc = json.loads(res.stdout)
    assert doc["accesses"] == []
    assert sorted(u["provider"] for u in doc["unavailable"]) == sorted(ACCESS_LIST_PROVIDERS)
    assert all("NoGrant" in u["error"] for u in doc["unavailable"])
    for p in ACCESS_LIST_PROVIDERS:
        assert f"{p} could not be asked" in res.stderr


# ---- the attacks of the "who read my data" issue, against the real registries -------------

def refused_as(resp, reason, *never):
    refusals.check_response(resp, reason)
    assert "Ndx-Data-Subjects" not in resp.headers, dict(resp.headers)
    for pin in never:
        assert pin not in resp.text, resp.text


def test_reads_of_another_person_are_refused_in_the_demo(demo, people):
    a, d = people["A"][0], people["D"]
    # Another citizen's record under a declared subject: the population registry itself
    # refuses it (docs/sectors.md), and nobody learns whose it was.
    resp = demo.exchange("VN/GOV/TCT/tax", CITIZENS, f"/{d}", a, "tax-administration")
    refused_as(resp, "SubjectMismatch", d)
    # D, whose record was asked for under A's name, sees the refused attempt.
    attempt = [e for e in demo.accesses_ok("VN/GOV/BCA", d)["accesses"]
               if e["message_id"] == resp.headers["X-Road-Id"]]
    assert len(attempt) == 1 and attempt[0]["outcome"] == "refused", attempt
    assert attempt[0]["client"] == "VN/GOV/TCT/tax" and attempt[0]["status"] == 500
    # A list under one declared subject: the registry declares everyone it returns, the
    # provider gateway refuses (citizens has no bulk purpose).
    for query in ("?limit=3", "?limit=100"):
        resp = demo.exchange("VN/GOV/TCT/tax", CITIZENS, query, a, "tax-administration")
        refused_as(resp, "SubjectMismatch")
    # The lawful read of A's own record passes, declared and signed.
    resp = demo.exchange("VN/GOV/TCT/tax", CITIZENS, f"/{a}", a, "tax-administration")
    assert resp.status_code == 200 and resp.headers["Ndx-Data-Subjects"] == a, resp.text


def test_one_citizens_consent_never_reads_anothers_rows(demo, people):
    c = people["C"]
    others = [pin for (pin,) in demo.sql(
        "insurance", "SELECT DISTINCT pin FROM contributions WHERE pin <> ? ORDER BY id "
        "LIMIT 1", c)]
    assert others
    b = others[0]
    consent = ["--service-url", demo.consent_url, "--token-file", demo.consent_token_file]
    granted = json.loads(ok(run_ndx(
        demo.build_dir, "consent", "grant", "--subject", c, "--consumer", PORTAL,
        "--service", CONTRIBUTIONS, "--purpose", "social-insurance", "--days", "1", "--json",
        *consent)).stdout)
    token = {"Ndx-Consent": granted["consent"]}
    deadline = time.monotonic() + REVOCATION_POLL_S
    while True:  # the provider gateway needs its first revocation list of the issuer
        resp = demo.exchange(PORTAL, CONTRIBUTIONS, f"?pin={c}", c, "social-insurance",
                             headers=token)
        if resp.status_code != 503 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert resp.status_code == 200 and resp.headers["Ndx-Data-Subjects"] == c, resp.text
    # C's valid consent, C named, B's rows asked for: the answer is about B.
    resp = demo.exchange(PORTAL, CONTRIBUTIONS, f"?pin={b}", c, "social-insurance",
                         headers=token)
    refused_as(resp, "ConsentWrongSubject", b)
    resp = demo.exchange(PORTAL, CONTRIBUTIONS, "?limit=100", c, "social-insurance",
                         headers=token)
    refused_as(resp, "ConsentWrongSubject", b)
    # B sees the attempt on B's rows in B's list at BHXH, refused.
    listed = demo.accesses_ok("VN/GOV/BHXH", b)["accesses"]
    assert any(e["outcome"] == "refused" and e["client"] == PORTAL and
               e["status"] == 500 for e in listed), listed
    ok(run_ndx(demo.build_dir, "consent", "revoke", granted["jti"], *consent))


def test_a_write_to_another_citizens_record_is_refused_and_changes_nothing(demo, people):
    a, d = people["A"][0], people["D"]
    before = demo.sql("population", "SELECT * FROM citizens WHERE pin = ?", d)
    # D's whole record, valid in every field, with one change: only whose it is stops it.
    with sqlite3.connect(f"file:{demo.sector_dir}/population.db?mode=ro", uri=True) as db:
        db.row_factory = sqlite3.Row
        row = dict(db.execute("SELECT * FROM citizens WHERE pin = ?", (d,)).fetchone())
    record = {k: v for k, v in row.items()
              if v is not None and k not in ("updated_at", "name_folded")}
    record["permanent_address"] = "số 1 phố Giả Mạo, Hà Nội"
    resp = demo.exchange(PORTAL, CITIZENS, f"/{d}", a, "public-service", method="PUT",
                         json=record)
    refused_as(resp, "SubjectMismatch", d)
    assert demo.sql("population", "SELECT * FROM citizens WHERE pin = ?", d) == before


def test_the_access_list_only_with_the_subjects_own_token_in_the_demo(demo, people):
    a, b = people["A"][0], people["B"][0]
    for provider in ("VN/GOV/BCA", "VN/GOV/BHXH"):
        refused_as(demo.accesses(provider, a, token=None), "SubjectTokenMissing",
                   a)
        refused_as(demo.accesses(provider, a, token=demo.token(b)), "SubjectTokenInvalid", a, b)
        refused_as(demo.accesses(provider, a, token=demo.token(a, exp=int(time.time()) - 1)),
                   "SubjectTokenInvalid", a)
    # Without the token file the command line is refused by every provider.
    res = demo.cli(a, "--gateway", demo.consumer["VN/GOV/VPCP"], "--client", PORTAL, "--json")
    assert res.returncode == 1, res.stderr
    assert all("SubjectTokenMissing" in u["error"]
               for u in json.loads(res.stdout)["unavailable"])
