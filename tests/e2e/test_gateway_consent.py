"""End-to-end tests of the provider gateway's checks for personal-data services
(docs/protocol.md "Consent artefacts", "Revocation" and "Errors"): the federation of
federation.py plus a personal, consent-requiring service of BCA, a real ndx-consent
registered in the registry with `ndx consent-service add`, and requests through the
consumer gateway of BTC. Consents are issued by ndx-consent, or signed here in Python
(cryptography's Ed25519, with the service's key file) where a test needs one the service
would not issue (expired, not yet valid, another key, an index of a filled status list).
The attack of issue 14 finding 1 (one citizen looping issue/revoke to switch consent off
for everyone) and a status list of a million revoked consents run here too."""

import base64
import hashlib
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

sys.path.insert(0, str(Path(__file__).resolve().parent))

import federation as F  # noqa: E402
from conftest import Registry, free_port, registry_exe  # noqa: E402
import refusals  # noqa: E402

PEOPLE = F.POPULATION + "/people"          # personal, consent required
HOUSEHOLDS = F.POPULATION + "/households"  # personal, purpose only
ISSUER = F.BCA + "/consent"
DEAD_ISSUER = F.BCA + "/consent2"          # registered, never reachable
BIG_ISSUER = F.BCA + "/consent3"           # a million revoked consents (scale test)
PURPOSE = "public-service"
PIN = "001203004567"
OTHER_PIN = "079190001234"
ATTACKER_PIN = "001099000666"
SIGNED_IDX = (1 << 20) - 1  # the index of consents signed here: never issued, never revoked
POLL_BOUND_S = 14.0  # consent_refresh_s (10 s default) + a fetch + a margin


def b64u(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def rfc3339(dt):
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class ConsentService:
    """ndx-consent: init (key, token) and, unless serve=False, serve on a free port; its
    database is DIR/consent.db, or the PostgreSQL one given as store (a connection
    string: tests/e2e/test_consent_pg.py)."""

    def __init__(self, build_dir, workdir, issuer, store=None):
        self.exe = str(Path(build_dir) / "src" / "consent" / "ndx-consent")
        self.issuer = issuer
        self.store_args = ["--store", store] if store else []
        self.data_dir = Path(workdir) / issuer.replace("/", "_")
        self.stderr_path = Path(workdir) / (issuer.replace("/", "_") + ".stderr")
        res = subprocess.run([self.exe, "init", "--data", str(self.data_dir), "--id", issuer,
                              *self.store_args], capture_output=True, text=True, timeout=30)
        assert res.returncode == 0, res.stderr
        self.token = (self.data_dir / "admin.token").read_text().strip()
        self.pub = self.data_dir / "consent-sign.pub"
        self.key = serialization.load_pem_private_key(
            (self.data_dir / "consent-sign.key").read_bytes(), password=None)
        raw = self.key.public_key().public_bytes(serialization.Encoding.Raw,
                                                 serialization.PublicFormat.Raw)
        self.kid = hashlib.sha256(raw).hexdigest()
        self.proc = None
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self):
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                [self.exe, "serve", "--data", str(self.data_dir), *self.store_args,
                 "--listen", f"127.0.0.1:{self.port}"], stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.stderr_path.read_text()
            try:
                if requests.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.05)
        raise RuntimeError("ndx-consent did not start:\n" + self.stderr_path.read_text())

    def stop(self):
        if self.proc is None:
            return None
        proc, self.proc = self.proc, None
        proc.send_signal(signal.SIGTERM)
        return proc.wait(timeout=10)

    def api(self, method, path, **kw):
        kw.setdefault("timeout", 10)
        return requests.request(method, self.url + path,
                                headers={"Authorization": f"Bearer {self.token}"}, **kw)

    def issue(self, **over):
        body = {"subject": PIN, "consumer": F.TAX, "services": [PEOPLE], "purpose": PURPOSE,
                "valid_to": rfc3339(datetime.now(timezone.utc) + timedelta(days=1))}
        body.update(over)
        resp = self.api("POST", "/api/consents", json=body)
        assert resp.status_code == 201, resp.text
        return resp.json()

    def sign(self, key=None, kid=None, **over):
        """A consent signed here (the gateway cannot tell it from an issued one)."""
        now = int(time.time())
        payload = {"iss": self.issuer, "jti": str(uuid.uuid4()), "sub": PIN,
                   "consumer": F.TAX, "services": [PEOPLE], "purpose": PURPOSE,
                   "iat": now - 5, "nbf": now - 5, "exp": now + 3600,
                   "status": {"list": 0, "idx": SIGNED_IDX}, "ver": 2}
        payload.update(over)
        header = {"alg": "EdDSA", "kid": kid or self.kid, "typ": "ndx-consent+jwt"}
        signing_input = (b64u(F.compact(header)) + "." + b64u(F.compact(payload))).encode()
        sig = (key or self.key).sign(signing_input)
        return signing_input.decode() + "." + b64u(sig)


@pytest.fixture(scope="module")
def env(build_dir):
    if not F.gateway_exe(build_dir).is_file():
        pytest.fail(f"{F.gateway_exe(build_dir)} is missing: build it first", pytrace=False)
    workdir = Path(tempfile.mkdtemp(prefix="ndx-gwconsent-"))
    (workdir / "registry").mkdir()
    reg = Registry(registry_exe(build_dir), workdir / "registry").start()
    problems = []
    cs = None
    try:
        fed = F.Federation(build_dir, reg, workdir / "fed")
        try:
            fed.start()
            cs = ConsentService(build_dir, workdir, ISSUER).start()
            dead = ConsentService(build_dir, workdir, DEAD_ISSUER)
            fed.ndx("service", "add", PEOPLE, "--title", "Hồ sơ cá nhân", "--personal",
                    "--purpose", PURPOSE, "--purpose", "tax-audit", "--consent-required")
            fed.ndx("service", "add", HOUSEHOLDS, "--title", "Hộ gia đình", "--personal",
                    "--purpose", PURPOSE)
            for svc in (PEOPLE, HOUSEHOLDS):
                fed.ndx("grant", "add", "--client", F.TAX, "--service", svc, "--method", "GET")
            fed.ndx("subsystem", "add", ISSUER)
            fed.ndx("subsystem", "add", DEAD_ISSUER)
            fed.ndx("consent-service", "add", ISSUER, "--url", cs.url, "--sign-key", cs.pub)
            fed.ndx("consent-service", "add", DEAD_ISSUER, "--url",
                    f"http://127.0.0.1:{free_port()}", "--sign-key", dead.pub)
            bca = fed.gateways["BCA"]
            for svc in (PEOPLE, HOUSEHOLDS):
                bca.services[svc] = {"backend": fed.citizens.url + "/api", "timeout_ms": 5000}
            bca.write_config()
            bca.proc.send_signal(signal.SIGHUP)
            for gw in fed.gateways.values():
                fed.wait_conf(gw, reg.conf_version())
        except RuntimeError as e:
            problems.extend(fed.close())
            pytest.fail(str(e), pytrace=False)
        yield fed, cs, dead
        problems.extend(fed.close())
        if cs is not None:
            rc = cs.stop()
            if rc != 0:
                problems.append(f"ndx-consent exited with {rc}")
    finally:
        rc = reg.stop()
    if rc not in (0, None):
        problems.append(f"ndx-registry exited with {rc}:\n{reg.tail()}")
    if problems:
        pytest.fail("\n".join(problems) + f"\n(files kept in {workdir})", pytrace=False)
    shutil.rmtree(workdir, ignore_errors=True)


def call(fed, service=PEOPLE, subject=PIN, purpose=PURPOSE, consent=None, path="/p/1"):
    h = {}
    if subject is not None:
        h["Ndx-Subject"] = subject
    if purpose is not None:
        h["Ndx-Purpose"] = purpose
    if consent is not None:
        h["Ndx-Consent"] = consent
    return fed.call("BTC", "GET", service, path, headers=h)


def refused(fed, resp, reason):
    where = f"\n{fed.tails()}"
    doc = refusals.check_response(resp, reason, where=where)
    # Refusals never repeat the personal identification number.
    assert PIN not in resp.text and OTHER_PIN not in resp.text, where
    return doc


def reached(fed, resp):
    xid = resp.request.headers["X-Road-Id"]
    return fed.citizens.received(xid)


def wait_accepted(fed, consent, timeout=POLL_BOUND_S):
    """The first revocation list arrives within one poll: until then consent-requiring
    requests are refused 503 (fail closed)."""
    deadline = time.monotonic() + timeout
    while True:
        resp = call(fed, consent=consent)
        if resp.status_code == 200 or time.monotonic() > deadline:
            return resp
        assert refusals.reason_of(resp) == "ConsentStatusUnknown", \
            f"{resp.status_code} {resp.text}\n{fed.tails()}"
        time.sleep(0.5)


# ---- tests --------------------------------------------------------------------------------

def test_valid_consent_is_accepted(env):
    fed, cs, _ = env
    resp = wait_accepted(fed, cs.issue()["consent"])
    assert resp.status_code == 200, f"{resp.status_code} {resp.text}\n{fed.tails()}"
    assert "X-Road-Error" not in resp.headers
    rec = reached(fed, resp)
    assert len(rec) == 1 and rec[0].header("Ndx-Subject") == PIN, rec


def test_a_consent_from_a_clock_a_little_ahead_is_accepted(env):
    """The consent service's clock may be ahead of the gateway's (the gateway reads
    the kernel's coarse clock; hosts drift): a consent valid from 20 seconds on is
    within the gateway's 60-second leeway (docs/protocol.md "Verification", rule 4;
    RFC 7519 section 4.1.5). One valid from 90 seconds on is refused in
    test_each_consent_refusal_has_its_own_type."""
    fed, cs, _ = env
    wait_accepted(fed, cs.issue()["consent"])
    now = int(time.time())
    resp = call(fed, consent=cs.sign(iat=now + 20, nbf=now + 20, exp=now + 3600))
    assert resp.status_code == 200, f"{resp.status_code} {resp.text}"


def test_subject_and_purpose_are_required(env):
    fed, cs, _ = env
    c = cs.issue()["consent"]
    for svc in (PEOPLE, HOUSEHOLDS):
        r = call(fed, svc, subject=None, consent=c)
        refused(fed, r, "SubjectMissing")
        assert reached(fed, r) == []
        refused(fed, call(fed, svc, subject="12345", consent=c), "SubjectInvalid")
        refused(fed, call(fed, svc, subject="00120300456x", consent=c), "SubjectInvalid")
        refused(fed, call(fed, svc, purpose=None, consent=c), "PurposeMissing")
        refused(fed, call(fed, svc, purpose="marketing", consent=c), "PurposeNotAllowed")


def test_personal_service_without_consent_requirement_needs_no_consent(env):
    fed, _, _ = env
    resp = call(fed, HOUSEHOLDS)
    assert resp.status_code == 200, f"{resp.status_code} {resp.text}\n{fed.tails()}"
    # A service that is not personal imposes nothing.
    resp = fed.call("BTC", "GET", F.CITIZENS, "/citizens/001")
    assert resp.status_code == 200, resp.text


def test_each_consent_refusal_has_its_own_type(env):
    fed, cs, _ = env
    wait_accepted(fed, cs.issue()["consent"])
    now = int(time.time())
    other = ed25519.Ed25519PrivateKey.generate()
    other_kid = hashlib.sha256(other.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)).hexdigest()
    cases = [
        ("missing", None, "ConsentMissing"),
        ("malformed", "not.a-consent", "ConsentMalformed"),
        ("expired", cs.sign(iat=now - 7200, nbf=now - 7200, exp=now - 60),
         "ConsentExpired"),
        ("not yet valid", cs.sign(nbf=now + 3600, exp=now + 7200),
         "ConsentNotYetValid"),
        ("valid beyond the clock leeway", cs.sign(nbf=now + 90, exp=now + 7200),
         "ConsentNotYetValid"),
        ("another subject (issued)", cs.issue(subject=OTHER_PIN)["consent"],
         "ConsentWrongSubject"),
        ("another consumer", cs.sign(consumer=F.INSURANCE), "ConsentWrongConsumer"),
        ("another service", cs.sign(services=[HOUSEHOLDS]), "ConsentServiceNotCovered"),
        ("another purpose", cs.sign(purpose="tax-audit"), "ConsentWrongPurpose"),
        ("wrong key, issuer's kid", cs.sign(key=other), "ConsentBadSignature"),
        ("wrong key, own kid", cs.sign(key=other, kid=other_kid),
         "ConsentBadSignature"),
    ]
    for what, consent, etype in cases:
        resp = call(fed, consent=consent)
        try:
            refused(fed, resp, etype)
        except AssertionError as e:
            raise AssertionError(f"case {what}: {e}") from None
        assert reached(fed, resp) == [], what
    # A consent signed here with the right key passes: the refusals above are the
    # single field each case changed.
    resp = call(fed, consent=cs.sign())
    assert resp.status_code == 200, f"{resp.status_code} {resp.text}"


def test_revoked_consent_is_refused_within_one_poll(env):
    fed, cs, _ = env
    issued = cs.issue()
    assert wait_accepted(fed, issued["consent"]).status_code == 200
    r = cs.api("POST", f"/api/consents/{issued['jti']}/revoke")
    assert r.status_code == 200, r.text
    t0 = time.monotonic()
    while True:
        resp = call(fed, consent=issued["consent"])
        if resp.status_code != 200:
            break
        assert time.monotonic() - t0 < POLL_BOUND_S, "revocation not applied in time"
        time.sleep(0.5)
    refused(fed, resp, "ConsentRevoked")
    assert reached(fed, resp) == []
    # Another consent of the same subject is unaffected.
    assert call(fed, consent=cs.issue()["consent"]).status_code == 200


def test_a_list_the_index_does_not_name_yet_is_not_revoked(env):
    """A consent in a status list that was not in use when the held index was signed
    was issued after it, so it was not revoked then (docs/protocol.md "Revocation"):
    served, not 503 (the first consent of a new list must not wait for a poll)."""
    fed, cs, _ = env
    assert wait_accepted(fed, cs.issue()["consent"]).status_code == 200
    resp = call(fed, consent=cs.sign(status={"list": 7, "idx": 0}))
    assert resp.status_code == 200, f"{resp.status_code} {resp.text}"


def test_unknown_revocation_state_fails_closed(env):
    fed, _, dead = env
    # A consent of a registered issuer whose revocation list was never fetched.
    resp = call(fed, consent=dead.sign())
    refused(fed, resp, "ConsentStatusUnknown")
    assert reached(fed, resp) == []


def test_a_consent_never_covers_another_persons_record(env):
    """The consent names PIN and the request names PIN, but the provider system's answer
    is about OTHER_PIN (or about both): the consent does not cover it (docs/protocol.md
    "Data subjects"), and OTHER_PIN is never told to the consumer."""
    fed, cs, _ = env
    c = cs.issue()["consent"]
    assert wait_accepted(fed, c).status_code == 200
    for declared in (OTHER_PIN, f"{PIN},{OTHER_PIN}"):
        r = call(fed, consent=c, path="/declare/" + declared)
        refused(fed, r, "ConsentWrongSubject")
        assert "Ndx-Data-Subjects" not in r.headers
        assert len(reached(fed, r)) == 1  # the provider was asked; its answer never left
    ok = call(fed, consent=c, path="/declare/" + PIN)
    assert ok.status_code == 200 and ok.headers["Ndx-Data-Subjects"] == PIN, ok.text


def test_one_citizen_cannot_switch_consent_off_for_others(env):
    """Issue 14 finding 1: a citizen loops issue/revoke at the consent service. The
    service rate-limits that citizen (429, Retry-After) after a burst; its status index
    stays small and signed; the gateways keep deciding, so the attacker's revoked
    consents are refused as revoked and other citizens' consent-based exchanges are
    served throughout. Bounded: at most 60 requests to the service, on loopback."""
    fed, cs, _ = env
    theirs = cs.issue()["consent"]
    assert wait_accepted(fed, theirs).status_code == 200
    revoked_consents, limited = [], None
    t0 = time.monotonic()
    for _ in range(30):
        r = cs.api("POST", "/api/consents", json={
            "subject": ATTACKER_PIN, "consumer": F.TAX, "services": [PEOPLE],
            "purpose": PURPOSE,
            "valid_to": rfc3339(datetime.now(timezone.utc) + timedelta(days=366))})
        if r.status_code == 429:
            limited = r
            break
        assert r.status_code == 201, r.text
        c = r.json()
        r = cs.api("POST", f"/api/consents/{c['jti']}/revoke")
        if r.status_code == 429:
            limited = r
            break
        assert r.status_code == 200, r.text
        revoked_consents.append(c["consent"])
    assert time.monotonic() - t0 < 30
    assert limited is not None and len(revoked_consents) == 10, len(revoked_consents)
    assert limited.json()["type"] == "Client.TooManyRequests"
    assert int(limited.headers["Retry-After"]) >= 1
    assert ATTACKER_PIN not in limited.text
    # The signed index is still served, and small.
    r = requests.get(cs.url + "/status", timeout=5)
    assert r.status_code == 200 and len(r.content) < 1024, r.text
    # Other citizens: an existing consent and a new one keep working through the
    # gateways, now and after the revocations have reached them.
    assert call(fed, consent=theirs).status_code == 200
    other = cs.issue(subject=OTHER_PIN)["consent"]
    deadline = time.monotonic() + POLL_BOUND_S
    while True:
        resp = call(fed, subject=ATTACKER_PIN, consent=revoked_consents[-1])
        if refusals.reason_of(resp) or time.monotonic() > deadline:
            break
        assert resp.status_code == 200, f"{resp.status_code} {resp.text}\n{fed.tails()}"
        time.sleep(0.5)
    assert refusals.reason_of(resp) == "ConsentRevoked", resp.text
    for c in revoked_consents[:3]:
        refused(fed, call(fed, subject=ATTACKER_PIN, consent=c), "ConsentRevoked")
    assert call(fed, consent=theirs).status_code == 200
    resp = call(fed, subject=OTHER_PIN, consent=other)
    assert resp.status_code == 200, f"{resp.status_code} {resp.text}\n{fed.tails()}"


MILLION = 1_000_000


CAP = 1 << 20
SPREAD = 2 * CAP  # the million revoked among the indexes of two full lists


def fill_revoked(data_dir, n=MILLION):
    """Writes n revoked consents straight into a stopped consent service's store, as n
    issue/revoke pairs would have left it: at random indexes (seeded) of two full lists,
    so that each list is near half set, the bits DEFLATE cannot shrink (the largest
    lists on the wire). Returns the set of revoked global indexes."""
    chosen = set(random.Random(14).sample(range(SPREAD), n))
    db = sqlite3.connect(data_dir / "consent.db")
    db.execute("PRAGMA synchronous=OFF")
    now = int(time.time())
    with db:
        db.executemany(
            "INSERT INTO consents(jti, subject, consumer, services, purpose, iat, nbf, exp,"
            " jws, revoked_at, status_list, status_idx) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
            ((f"bulk-{i}", "001090000001", F.TAX, f'["{PEOPLE}"]', PURPOSE, now, now,
              now + 86400, "-", now, i // CAP, i % CAP) for i in sorted(chosen)))
        db.execute("UPDATE meta SET value = ? WHERE key = 'status_next'", (str(SPREAD),))
        db.execute("UPDATE meta SET value = ? WHERE key = 'revocation_version'", (str(n + 1),))
    db.close()
    return chosen


def test_a_million_revocations_are_held_and_decided(env, build_dir):
    """A consent service holding 1,000,000 revoked consents: its status list is fetched
    and verified by the provider gateway (the gateway logs how long it took), a revoked
    index is refused as revoked, a consent issued after them is served, and revoking it
    reaches the gateway within one poll."""
    fed, _, _ = env
    big = ConsentService(build_dir, fed.workdir, BIG_ISSUER)
    t0 = time.monotonic()
    chosen = fill_revoked(big.data_dir)
    fill_s = time.monotonic() - t0
    big.start()
    try:
        t0 = time.monotonic()
        index = requests.get(big.url + "/status", timeout=30)
        lists = [requests.get(f"{big.url}/status/{n}", timeout=30) for n in (0, 1)]
        first_s = time.monotonic() - t0
        assert index.status_code == 200, index.text
        assert [x.status_code for x in lists] == [200, 200]
        fed.ndx("subsystem", "add", BIG_ISSUER)
        fed.ndx("consent-service", "add", BIG_ISSUER, "--url", big.url, "--sign-key", big.pub)
        bca = fed.gateways["BCA"]
        fed.wait_conf(bca, fed.registry.conf_version())
        now = int(time.time())
        fresh = big.issue()
        assert fresh["consent"]
        st = {"iss": BIG_ISSUER}
        on = sorted(chosen)
        off = next(i for i in range(CAP, SPREAD) if i not in chosen)
        hit = big.sign(status={"list": on[0] // CAP, "idx": on[0] % CAP}, **st)
        edge = big.sign(status={"list": 1, "idx": on[-1] % CAP}, **st)
        free_idx = big.sign(status={"list": 1, "idx": off % CAP}, iat=now - 5, **st)
        assert fresh["consent"] and on[-1] // CAP == 1
        resp = wait_accepted(fed, fresh["consent"], timeout=POLL_BOUND_S + 10)
        assert resp.status_code == 200, f"{resp.status_code} {resp.text}\n{fed.tails()}"
        refused(fed, call(fed, consent=hit), "ConsentRevoked")
        refused(fed, call(fed, consent=edge), "ConsentRevoked")
        assert call(fed, consent=free_idx).status_code == 200
        r = big.api("POST", f"/api/consents/{fresh['jti']}/revoke")
        assert r.status_code == 200, r.text
        deadline = time.monotonic() + POLL_BOUND_S
        while call(fed, consent=fresh["consent"]).status_code == 200:
            assert time.monotonic() < deadline, "revocation not applied in time"
            time.sleep(0.5)
        refused(fed, call(fed, consent=fresh["consent"]), "ConsentRevoked")
        log = bca.stderr_path.read_text(errors="replace")
        fetches = re.findall(r"consent status of " + re.escape(BIG_ISSUER) +
                             r": (\d+) list\(s\) of (\d+) fetched \((\d+) bytes\) and "
                             r"verified in ([0-9.]+) ms", log)
        assert fetches, fed.tails()
        print(f"\nscale: {MILLION} revoked consents; store filled in {fill_s:.1f} s; "
              f"index {len(index.content)} bytes, lists "
              f"{' + '.join(str(len(x.content)) for x in lists)} bytes on the wire; "
              f"first GET /status + /status/0 + /status/1 (encoding included) "
              f"{first_s * 1000:.0f} ms; "
              f"gateway fetch + verify: " +
              ", ".join(f"{b} bytes in {ms} ms" for _, _, b, ms in fetches))
    finally:
        fed.ndx("consent-service", "remove", BIG_ISSUER, check=False)
        big.stop()
        for gw in fed.gateways.values():
            fed.wait_conf(gw, fed.registry.conf_version())


def test_healthz_names_an_issuer_whose_status_lists_are_not_current(env):
    """DEAD_ISSUER is in the configuration but never reachable (no status lists): its
    consents are refused
    (fail closed), every other exchange is served, and /healthz says exactly that:
    degraded (200, so that a load balancer keeps the gateway), with the reason."""
    fed, cs, _ = env
    assert wait_accepted(fed, cs.issue()["consent"]).status_code == 200
    h = requests.get(fed.gateways["BCA"].url + "/healthz", timeout=5)
    assert h.status_code == 200, h.text
    body = h.json()
    assert body["status"] == "degraded", body
    problems = [p for p in body["problems"] if p["code"] == "ConsentStatusUnknown"]
    # Only the dead issuer (ISSUER is a prefix of DEAD_ISSUER's id).
    assert len(problems) == 1, body
    assert f"lists of {DEAD_ISSUER}:" in problems[0]["message"], body
