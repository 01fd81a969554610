"""GET /metrics on every daemon (issue 18; docs/operations.md): the registry, the
gateways, the consent service, the sector registries, the e-ID and the portal, each
started for real on loopback and given real traffic first (citizens and officers
signing in, reads through the gateways, a consent issued, an e-ID sign-in and a wrong
password). Each daemon's text must parse with the Prometheus text-format parser of
prometheus_client and pass `promtool check metrics`, carry the HTTP figures every
daemon shares and its own, answer only GET, and never hold a personal number: no PIN
used in the traffic anywhere in it, and no 12-digit number in any label value."""
import re
import shutil
import subprocess
import time

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from conftest import free_port
from test_consent_service import ConsentService
import test_id as ID
# The portal's federation: registry, four gateways, three sector registries, the portal
# (module-scoped fixture, started once for this file too).
from test_portal import env, adults, citizen_login, officer_attempt, officer_login  # noqa: F401

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
TWELVE_DIGITS = re.compile(r"(?<!\d)\d{12}(?!\d)")


def families(text):
    """The families of text by name; a counter also under its name with _total, which
    prometheus_client takes off the family (not off its samples)."""
    out = {}
    for f in text_string_to_metric_families(text):
        out[f.name] = f
        if f.type == "counter":
            out[f.name + "_total"] = f
    return out


def value(fams, family, **labels):
    """The value of the one sample of family whose labels include labels."""
    found = [s.value for s in fams[family].samples
             if all(s.labels.get(k) == v for k, v in labels.items())
             and not s.name.endswith(("_bucket", "_sum", "_count", "_created"))]
    assert len(found) == 1, (family, labels, fams[family].samples)
    return found[0]


def promtool_check(text, who):
    if not shutil.which("promtool"):
        pytest.fail("promtool is missing: run scripts/install-deps (Debian's prometheus)",
                    pytrace=False)
    r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, f"{who}: promtool check metrics:\n{r.stdout}{r.stderr}"


def scrape(url, who, gateway=False):
    r = requests.get(url + "/metrics", timeout=10)
    assert r.status_code == 200, f"{who}: {r.status_code} {r.text}"
    assert r.headers["Content-Type"] == CONTENT_TYPE, (who, r.headers["Content-Type"])
    promtool_check(r.text, who)
    fams = families(r.text)
    # The figures every daemon shares (src/lib/httpd.c).
    for f in ("ndx_http_requests_total", "ndx_http_request_duration_seconds",
              "ndx_http_requests_in_flight", "process_start_time_seconds"):
        assert f in fams, (who, f)
    started = value(fams, "process_start_time_seconds")
    assert time.time() - 3600 < started <= time.time() + 1, (who, started)
    return r.text, fams


@pytest.fixture(scope="module")
def eid(build_dir, tmp_path_factory):
    """A real ndx-id with accounts for ten seeded citizens (as test_id.py sets it up)."""
    tmp = tmp_path_factory.mktemp("metrics-id")
    sector = build_dir / "src" / "sector" / "ndx-sector"
    exe = build_dir / "src" / "id" / "ndx-id"
    subprocess.run([str(sector), "seed", "--db-dir", str(tmp / "pop"), "--citizens", "10"],
                   check=True, capture_output=True, timeout=60)
    (tmp / "pw").write_text(ID.PASSWORD + "\n")
    (tmp / "secret").write_text(ID.CLIENT_SECRET + "\n")
    data = tmp / "data"
    for args in (["init", "--data", str(data)],
                 ["accounts", "import", "--data", str(data), "--population-db",
                  str(tmp / "pop" / "population.db"), "--limit", "3", "--password-file",
                  str(tmp / "pw"), "--cost", "min"],
                 ["client", "add", "--data", str(data), "--client-id", ID.CLIENT_ID,
                  "--secret-file", str(tmp / "secret"), "--redirect-uri", ID.REDIRECT]):
        r = subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
    import sqlite3
    with sqlite3.connect(tmp / "pop" / "population.db") as db:
        pins = [p for (p,) in db.execute("SELECT pin FROM citizens ORDER BY pin LIMIT 3")]
    p = ID.Idp(exe, data, free_port(), tmp / "idp.stderr")
    p.pins = pins
    yield p
    p.stop()


@pytest.fixture(scope="module")
def consent(build_dir, tmp_path_factory):
    cs = ConsentService(build_dir / "src" / "consent" / "ndx-consent",
                        tmp_path_factory.mktemp("metrics-consent")).start()
    yield cs
    assert cs.stop() == 0, cs.stderr_path.read_text()


@pytest.fixture(scope="module")
def traffic(env, eid, consent):
    """Real traffic on every daemon; returns the PINs it carried."""
    pins = set()
    # Portal: a citizen signs in (their profile is read through the portal's
    # gateway from the population registry), an officer signs in, one fails.
    (pin, _name), = adults(env, 1)
    pins.add(pin)
    s, _csrf = citizen_login(env, (pin, _name))
    r = s.get(env.url + "/api/profile", timeout=20)
    assert r.status_code == 200, r.text
    officer_login(env, "canbo.btc")
    r = officer_attempt(env, requests.Session(), "canbo.btc", "not the password")
    assert r.status_code == 401, r.text
    # e-ID: a sign-in and its tokens, and a wrong password.
    code, verifier, _ = ID.get_code(eid, eid.pins[0])
    assert ID.token(eid, code, verifier).status_code == 200
    sess = requests.Session()
    _v, challenge = ID.pkce()
    page = ID.authorize(sess, eid, challenge)
    assert ID.sign_in(sess, eid, page, eid.pins[1], "wrong password").status_code == 401
    pins.update(eid.pins[:2])
    # Consent service: a consent about a citizen.
    r = consent.issue()
    assert r.status_code == 201, r.text
    pins.add(r.json().get("subject", "001203004567"))
    pins.add("001203004567")
    return pins


def test_every_daemon_metrics_parse_and_hold_their_figures(env, eid, consent, traffic):
    texts = {}
    now = time.time()

    text, f = scrape(env.registry.url, "registry")
    texts["registry"] = text
    assert value(f, "ndx_registry_conf_available") == 1
    assert value(f, "ndx_registry_conf_version") >= 1
    assert 0 < value(f, "ndx_registry_conf_expires_in_seconds") <= 600
    assert value(f, "ndx_registry_objects", kind="members") == 4
    assert value(f, "ndx_registry_objects", kind="gateways") == 4
    assert value(f, "ndx_registry_objects", kind="grants") >= 5
    port = str(env.registry.port)
    assert value(f, "ndx_http_requests_total", port=port, method="GET", code="2xx") >= 1

    for name, gw in env.fed.gateways.items():
        text, f = scrape(gw.url, f"gateway {name}", gateway=True)
        texts[f"gateway {name}"] = text
        assert value(f, "ndx_gateway_msglog_writable") == 1
        assert value(f, "ndx_gateway_conf_expires_in_seconds") > 0
        assert value(f, "ndx_gateway_conf_version") >= 1
        not_after = value(f, "ndx_http_tls_cert_not_after_seconds", port=str(gw.gateway_port))
        assert not_after > now + 86400, not_after
        assert "ndx_gateway_errors_total" in f and "ndx_gateway_event_outbox" in f
        # the operational records: queued, none dropped
        assert value(f, "ndx_gateway_opmon_dropped_total") == 0
        assert value(f, "ndx_gateway_opmon_queue_depth") >= 0
    f = families(texts["gateway VPCP"])
    assert value(f, "ndx_gateway_requests_total", role="consumer",
                 service="VN/GOV/BCA/population/citizens", status="200") >= 1

    for sector, proc in env.sectors.items():
        text, f = scrape(proc.url, f"sector {sector}")
        texts[f"sector {sector}"] = text
        assert all(s.labels["sector"] == sector for s in f["ndx_sector_records"].samples)
    f = families(texts["sector population"])
    assert value(f, "ndx_sector_records", dataset="citizens") == 50

    text, f = scrape(eid.url, "e-ID")
    texts["e-ID"] = text
    assert value(f, "ndx_id_signins_total", outcome="succeeded") >= 1
    assert value(f, "ndx_id_signins_total", outcome="failed") >= 1
    assert value(f, "ndx_id_tokens_issued_total") >= 1

    text, f = scrape(consent.url, "consent")
    texts["consent"] = text
    assert value(f, "ndx_consent_consents", state="active") >= 1
    assert value(f, "ndx_consent_consents", state="revoked") == 0

    text, f = scrape(env.url, "portal")
    texts["portal"] = text
    assert value(f, "ndx_portal_signins_total", kind="citizen", outcome="succeeded") >= 1
    assert value(f, "ndx_portal_signins_total", kind="officer", outcome="succeeded") >= 1
    assert value(f, "ndx_portal_signins_total", kind="officer", outcome="failed") >= 1

    # Counts and times only: no PIN of the traffic, no 12-digit label value.
    for who, text in texts.items():
        for pin in traffic:
            assert pin not in text, f"{who}: a PIN in /metrics"
        for fam in families(text).values():
            for s in fam.samples:
                for k, v in s.labels.items():
                    assert not TWELVE_DIGITS.search(v), (who, s.name, k, v)


def test_metrics_answers_get_only(env, eid, consent):
    for who, url in (("registry", env.registry.url), ("consent", consent.url),
                     ("e-ID", eid.url), ("portal", env.url),
                     ("sector", env.sectors["population"].url)):
        r = requests.post(url + "/metrics", data=b"", timeout=10)
        assert r.status_code == 405, (who, r.status_code, r.text)
        assert r.headers.get("Allow") == "GET", who
    # the gateway's consumer port: its own refusal (BadMethod), GET and HEAD allowed
    for name, gw in env.fed.gateways.items():
        r = requests.post(gw.url + "/metrics", data=b"", timeout=10)
        assert r.status_code == 405 and r.headers.get("X-Road-Error"), (name, r.text)
        assert r.headers.get("Allow") == "GET, HEAD", name
