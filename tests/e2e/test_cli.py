"""End-to-end tests of the ndx command-line tool: keygen, the registry administration
commands against a real ndx-registry, help texts, usage errors and failure messages."""

import base64
import hashlib
import json
import os
import stat
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from conftest import free_port

TIMEOUT = 30


def ndx_exe(build_dir):
    return build_dir / "src" / "cli" / "ndx"


def run_ndx(build_dir, *args, env=None, token=None, cwd=None):
    """Runs ndx with a clean NDX_* environment; token sets NDX_ADMIN_TOKEN."""
    e = {k: v for k, v in os.environ.items() if not k.startswith("NDX_")}
    if token is not None:
        e["NDX_ADMIN_TOKEN"] = token
    e.update(env or {})
    return subprocess.run([str(ndx_exe(build_dir)), *map(str, args)], capture_output=True,
                          text=True, timeout=TIMEOUT, env=e, cwd=cwd)


def ok(res):
    assert res.returncode == 0, f"exit {res.returncode}\nstdout:\n{res.stdout}\nstderr:\n{res.stderr}"
    return res


def failed(res, *needles):
    """Exit 1, exactly one 'ndx: ' line on stderr, containing every needle."""
    assert res.returncode == 1, f"exit {res.returncode}\nstdout:\n{res.stdout}\nstderr:\n{res.stderr}"
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ndx: "), res.stderr
    for n in needles:
        assert n in lines[0], f"{n!r} not in {lines[0]!r}"
    return lines[0]


@pytest.fixture
def admin(build_dir, registry):
    """Runs an admin command against the registry fixture with its token."""
    def call(*args, **kw):
        res = run_ndx(build_dir, *args, "--registry", registry.url, token=registry.token, **kw)
        assert registry.token not in res.stdout and registry.token not in res.stderr
        return res
    return call


# ---- keygen -------------------------------------------------------------------------

def test_keygen_writes_key_pair_with_modes(build_dir, tmp_path):
    res = ok(run_ndx(build_dir, "keygen", "--out", tmp_path / "gw"))
    key_id = res.stdout.strip()
    assert len(key_id) == 64 and all(c in "0123456789abcdef" for c in key_id)
    key, pub = tmp_path / "gw.key", tmp_path / "gw.pub"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert "PRIVATE KEY" in key.read_text()
    loaded = serialization.load_pem_public_key(pub.read_bytes())
    raw = loaded.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert hashlib.sha256(raw).hexdigest() == key_id


def test_keygen_refuses_to_overwrite(build_dir, tmp_path):
    ok(run_ndx(build_dir, "keygen", "--out", tmp_path / "gw"))
    before = (tmp_path / "gw.key").read_bytes()
    before_pub = (tmp_path / "gw.pub").read_bytes()
    failed(run_ndx(build_dir, "keygen", "--out", tmp_path / "gw"), "gw.key", "exists")
    assert (tmp_path / "gw.key").read_bytes() == before
    assert (tmp_path / "gw.pub").read_bytes() == before_pub


def test_keygen_needs_out(build_dir):
    res = run_ndx(build_dir, "keygen")
    assert res.returncode == 2 and "--out" in res.stderr and "usage:" in res.stderr


# ---- help and usage -------------------------------------------------------------------

COMMANDS = ["keygen", "member", "subsystem", "service", "grant", "gateway", "revoke",
            "audit", "embargo", "id-provider", "conf", "demo", "market"]


def test_top_level_help_lists_every_command(build_dir):
    res = ok(run_ndx(build_dir, "--help"))
    for cmd in COMMANDS:
        assert f"\n  {cmd} " in res.stdout, cmd


@pytest.mark.parametrize("args", [
    ["keygen", "--help"], ["member", "--help"], ["member", "add", "--help"],
    ["member", "list", "--help"], ["member", "remove", "--help"],
    ["subsystem", "--help"], ["subsystem", "list", "--help"],
    ["service", "--help"], ["service", "add", "--help"],
    ["grant", "--help"], ["grant", "add", "--help"],
    ["gateway", "--help"], ["gateway", "add", "--help"],
    ["revoke", "--help"], ["audit", "--help"], ["service", "update", "--help"],
    ["embargo", "--help"], ["embargo", "set", "--help"], ["embargo", "list", "--help"],
    ["embargo", "remove", "--help"], ["id-provider", "--help"],
    ["id-provider", "add", "--help"], ["id-provider", "list", "--help"],
    ["id-provider", "remove", "--help"],
    ["conf", "--help"], ["conf", "fetch", "--help"], ["conf", "verify", "--help"],
    ["demo", "--help"], ["demo", "up", "--help"], ["demo", "down", "--help"],
    ["demo", "run", "--help"], ["help"],
    ["market", "--help"], ["market", "statement", "--help"],
    ["market", "check-statement", "--help"], ["market", "invoice", "--help"],
])
def test_every_help_exits_0(build_dir, args):
    res = ok(run_ndx(build_dir, *args))
    assert res.stdout.startswith("usage: ndx"), res.stdout
    assert res.stderr == ""


@pytest.mark.parametrize("args", [
    [], ["frobnicate"], ["member"], ["member", "frob"], ["member", "add", "--bogus"],
    ["member", "add", "VN/GOV/X"], ["member", "list", "extra"], ["grant", "remove", "abc"],
    ["conf"], ["conf", "fetch", "--out", "x"], ["conf", "verify", "--anchor", "a"],
    ["conf", "verify", "d", "--anchor", "a", "--at", "yesterday"],
    ["demo", "up"], ["demo", "sideways", "--dir", "x"], ["demo", "up", "--dir", "x", "--port-base", "0"],
    ["revoke", "--kind", "cat", "--value", "00", "--reason", "r"], ["keygen", "--out"],
    ["embargo"], ["embargo", "add", "x"], ["embargo", "set", "investigation"],
    ["embargo", "set", "investigation", "--days", "1", "--seconds", "5"],
    ["embargo", "set", "investigation", "--days", "0"],
    ["embargo", "set", "investigation", "--seconds", "-5"],
    ["embargo", "set", "investigation", "--days", "36526"],
    ["embargo", "set", "investigation", "--seconds", "1.5"],
    ["embargo", "set", "--days", "3"], ["embargo", "remove"],
    ["id-provider"], ["id-provider", "add", "--issuer", "https://id.gov.vn"],
    ["id-provider", "add", "--public-key", "k.pub"], ["id-provider", "remove"],
    ["id-provider", "list", "--issuer", "x"],
    ["service", "update", "VN/GOV/BCA/population/citizens"],
    ["service", "update", "VN/GOV/BCA/population/citizens", "--bulk-purpose", "a",
     "--no-bulk-purposes"],
    ["service", "list", "--bulk-purpose", "a"],
    ["market"], ["market", "bill"], ["market", "statement", "--db", "x"],
    ["market", "statement", "--db", "l", "--key", "k", "--conf", "c", "--anchor", "a",
     "--agreement", "x"],
    ["market", "check-statement", "s.json"],
    ["market", "check-statement", "s.json", "--db", "l", "--key", "k", "--conf", "c"],
    ["market", "check-statement", "s.json", "--db", "l", "--key", "k", "--agreement", "x"],
    ["market", "statement", "--bogus"],
    ["market", "invoice", "s.json", "--key", "k", "--bin", "970436"],
    ["market", "invoice", "s.json", "--key", "k", "--bin", "970436", "--account", "1",
     "--db", "l"],
    ["market", "statement", "--db", "l", "--key", "k", "--conf", "c", "--anchor", "a",
     "--agreement", "x", "--month", "2026-12", "--bin", "970436"],
])
def test_usage_errors_exit_2(build_dir, args):
    res = run_ndx(build_dir, *args)
    assert res.returncode == 2, f"{args}: exit {res.returncode}\n{res.stderr}"
    assert res.stderr.startswith("ndx: ") and "usage: ndx" in res.stderr
    assert res.stdout == ""


# ---- admin commands ---------------------------------------------------------------------

def test_member_add_list_remove(admin):
    res = ok(admin("member", "add", "VN/GOV/BCA", "--name", "Bộ Công an"))
    assert "VN/GOV/BCA" in res.stdout
    ok(admin("member", "add", "VN/COM/0101", "--name", "Công ty A"))
    table = ok(admin("member", "list")).stdout.splitlines()
    assert table[0].split() == ["ID", "NAME", "CREATED"]
    rows = {line.split()[0]: line for line in table[1:]}
    assert "Bộ Công an" in rows["VN/GOV/BCA"] and "VN/COM/0101" in rows
    # Columns line up even with Vietnamese names.
    assert len({line.index(line.split()[-1]) for line in table[1:]}) == 1
    listed = json.loads(ok(admin("member", "list", "--json")).stdout)
    assert {m["id"] for m in listed["members"]} == {"VN/GOV/BCA", "VN/COM/0101"}
    ok(admin("member", "remove", "VN/COM/0101"))
    listed = json.loads(ok(admin("member", "list", "--json")).stdout)
    assert [m["id"] for m in listed["members"]] == ["VN/GOV/BCA"]


def test_subsystem_service_grant(admin, registry, tmp_path):
    ok(admin("member", "add", "VN/GOV/BCA", "--name", "Bộ Công an"))
    ok(admin("member", "add", "VN/GOV/BTC", "--name", "Bộ Tài chính"))
    ok(admin("subsystem", "add", "VN/GOV/BCA/population"))
    ok(admin("subsystem", "add", "VN/GOV/BTC/tax"))
    out = ok(admin("subsystem", "list", "--member", "VN/GOV/BTC")).stdout
    assert "VN/GOV/BTC/tax" in out and "VN/GOV/BCA/population" not in out

    openapi = tmp_path / "openapi.json"
    openapi.write_text(json.dumps({"openapi": "3.0.3", "info": {"title": "t", "version": "1"},
                                   "paths": {}}))
    ok(admin("service", "add", "VN/GOV/BCA/population/citizens", "--title",
             "Tra cứu thông tin công dân", "--personal", "--purpose", "public-service",
             "--purpose", "law-enforcement", "--consent-required", "--openapi", openapi))
    svc = json.loads(ok(admin("service", "list", "--json")).stdout)["services"]
    assert len(svc) == 1
    assert svc[0]["personal"] is True and svc[0]["consent_required"] is True
    assert svc[0]["purposes"] == ["public-service", "law-enforcement"]
    table = ok(admin("service", "list")).stdout
    assert "public-service,law-enforcement" in table and "Tra cứu thông tin công dân" in table

    res = ok(admin("grant", "add", "--client", "VN/GOV/BTC/tax", "--service",
                   "VN/GOV/BCA/population/citizens"))
    assert "grant" in res.stdout
    grants = json.loads(ok(admin("grant", "list", "--json")).stdout)["grants"]
    assert len(grants) == 1
    assert grants[0]["methods"] == ["GET"] and grants[0]["paths"] == ["*"]
    ok(admin("grant", "add", "--client", "VN/GOV/BTC/tax", "--service",
             "VN/GOV/BCA/population/citizens", "--method", "GET", "--method", "POST",
             "--path", "/citizens/*"))
    grants = json.loads(ok(admin("grant", "list", "--client", "VN/GOV/BTC/tax", "--json")).stdout)
    second = [g for g in grants["grants"] if g["methods"] == ["GET", "POST"]]
    assert len(second) == 1 and second[0]["paths"] == ["/citizens/*"]

    # Dependents block removal, with the registry's reason.
    failed(admin("service", "remove", "VN/GOV/BCA/population/citizens"), "409",
           "Client.Conflict")
    for g in json.loads(ok(admin("grant", "list", "--json")).stdout)["grants"]:
        ok(admin("grant", "remove", g["id"]))
    assert "(none)" in ok(admin("grant", "list")).stdout
    ok(admin("service", "remove", "VN/GOV/BCA/population/citizens"))
    ok(admin("subsystem", "remove", "VN/GOV/BCA/population"))
    ok(admin("member", "remove", "VN/GOV/BCA"))


def test_gateway_add_list_remove(admin, build_dir, registry, tmp_path):
    ok(admin("member", "add", "VN/GOV/BCA", "--name", "Bộ Công an"))
    key_id = ok(run_ndx(build_dir, "keygen", "--out", tmp_path / "sign")).stdout.strip()
    prefix = tmp_path / "gw1"
    res = ok(admin("gateway", "add", "--member", "VN/GOV/BCA", "--code", "gw1", "--address",
                   "https://127.0.0.1:4431", "--sign-key", tmp_path / "sign.pub",
                   "--tls-out", prefix))
    tls_key = tmp_path / "gw1.tls.key"
    cert_pem = (tmp_path / "gw1.tls.pem").read_bytes()
    ca_pem = (tmp_path / "gw1.ca.pem").read_bytes()
    assert stat.S_IMODE(tls_key.stat().st_mode) == 0o600
    cert = x509.load_pem_x509_certificate(cert_pem)
    ca = x509.load_pem_x509_certificate(ca_pem)
    assert cert.issuer == ca.subject
    # The certificate is for the key that stayed here.
    priv = serialization.load_pem_private_key(tls_key.read_bytes(), password=None)
    assert priv.public_key().public_numbers() == cert.public_key().public_numbers()
    fp = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
    assert fp in res.stdout

    gws = json.loads(ok(admin("gateway", "list", "--json")).stdout)["gateways"]
    assert len(gws) == 1 and gws[0]["code"] == "gw1"
    assert gws[0]["tls_cert_sha256"] == fp and gws[0]["sign_key_id"] == key_id
    table = ok(admin("gateway", "list")).stdout
    assert "https://127.0.0.1:4431" in table and key_id in table

    # The TLS files are never overwritten, and a refusal registers nothing.
    failed(admin("gateway", "add", "--member", "VN/GOV/BCA", "--code", "gw2", "--address",
                 "https://127.0.0.1:4432", "--sign-key", tmp_path / "sign.key",
                 "--tls-out", prefix), "exists")
    assert len(json.loads(ok(admin("gateway", "list", "--json")).stdout)["gateways"]) == 1
    # A registry refusal leaves no TLS key behind.
    failed(admin("gateway", "add", "--member", "VN/GOV/NOPE", "--code", "gw1", "--address",
                 "https://127.0.0.1:4432", "--sign-key", tmp_path / "sign.key",
                 "--tls-out", tmp_path / "gw3"))
    assert not list(tmp_path.glob("gw3*"))

    ok(admin("gateway", "remove", "VN/GOV/BCA", "gw1"))
    assert json.loads(ok(admin("gateway", "list", "--json")).stdout)["gateways"] == []


def test_revoke_and_audit(admin):
    value = "ab" * 32
    ok(admin("revoke", "--kind", "key", "--value", value, "--reason", "compromised"))
    ok(admin("member", "add", "VN/GOV/BCA", "--name", "Bộ Công an"))
    audit = json.loads(ok(admin("audit", "--json")).stdout)["audit"]
    assert len(audit) >= 2
    table = ok(admin("audit", "--limit", "1")).stdout.splitlines()
    assert table[0].split()[:2] == ["SEQ", "TIME"] and len(table) == 3
    assert "VN/GOV/BCA" in table[1]
    # The last line says how to go on from there.
    seq = table[1].split()[0]
    assert table[2] == f"(older entries: ndx audit --before {seq})"


def test_api_errors_are_one_clear_line(admin):
    ok(admin("member", "add", "VN/GOV/BCA", "--name", "Bộ Công an"))
    failed(admin("member", "add", "VN/GOV/BCA", "--name", "again"), "409 Client.Conflict:")
    failed(admin("member", "add", "VN/XXX/BCA", "--name", "x"), "400 Client.InvalidRequest:")
    failed(admin("subsystem", "add", "VN/GOV/NOPE/sub"), "404")
    failed(admin("grant", "remove", "999"), "404 Client.NotFound")
    failed(admin("member", "remove", "VN/GOV/"), "invalid member id")


def test_token_sources(build_dir, registry, tmp_path):
    res = run_ndx(build_dir, "member", "list", "--registry", registry.url)
    failed(res, "no admin token")
    token_file = tmp_path / "token"
    token_file.write_text(registry.token + "\n")
    ok(run_ndx(build_dir, "member", "list", "--registry", registry.url, "--token-file", token_file))
    ok(run_ndx(build_dir, "member", "list", env={"NDX_REGISTRY": registry.url,
                                                  "NDX_TOKEN_FILE": str(token_file)}))
    failed(run_ndx(build_dir, "member", "list", "--registry", registry.url, token="wrong-token"),
           "401 Client.Unauthorized")
    failed(run_ndx(build_dir, "member", "list", "--registry", registry.url, "--token-file",
                   tmp_path / "missing"), "token file")


def test_registry_down_is_a_clear_error(build_dir):
    port = free_port()
    res = run_ndx(build_dir, "member", "list", "--registry", f"http://127.0.0.1:{port}",
                  token="t")
    failed(res, "cannot connect", str(port))


# ---- bulk purposes, embargoes, id providers (issue 13) -------------------------------------

def test_service_bulk_purposes(admin, registry):
    svc = "VN/GOV/BCA/population/citizens"
    ok(admin("member", "add", "VN/GOV/BCA", "--name", "Bộ Công an"))
    ok(admin("subsystem", "add", "VN/GOV/BCA/population"))
    ok(admin("service", "add", svc, "--title", "Công dân", "--personal",
             "--purpose", "public-service", "--purpose", "statistics",
             "--bulk-purpose", "statistics"))
    got = json.loads(ok(admin("service", "list", "--json")).stdout)["services"][0]
    assert got["bulk_purposes"] == ["statistics"]
    table = ok(admin("service", "list")).stdout.splitlines()
    assert "BULK" in table[0].split() and "statistics" in table[1]
    out = ok(admin("service", "update", svc, "--bulk-purpose", "public-service",
                   "--bulk-purpose", "statistics")).stdout
    assert "bulk purposes public-service,statistics" in out and "configuration version" in out
    conf = registry.api("GET", "/api/services/" + svc).json()
    assert conf["bulk_purposes"] == ["public-service", "statistics"]
    assert "bulk purposes none" in ok(admin("service", "update", svc, "--no-bulk-purposes")).stdout
    assert registry.api("GET", "/api/services/" + svc).json()["bulk_purposes"] == []
    # The registry's refusals come through as one line.
    failed(admin("service", "update", svc, "--bulk-purpose", "marketing"),
           "400 Client.InvalidRequest", "marketing is not one of the service's purposes")
    failed(admin("service", "add", svc + "2", "--title", "x", "--personal", "--purpose", "a",
                 "--consent-required", "--bulk-purpose", "a"), "requires consent")


def test_embargo_set_list_remove(admin, registry):
    out = ok(admin("embargo", "set", "investigation", "--days", "30")).stdout
    assert "investigation: 30 days" in out and "configuration version" in out
    ok(admin("embargo", "set", "audit-check", "--seconds", "90"))
    table = ok(admin("embargo", "list")).stdout.splitlines()
    assert table[0].split()[:3] == ["PURPOSE", "HIDDEN", "FOR"]
    rows = {line.split()[0]: line for line in table[1:]}
    assert "30 days" in rows["investigation"] and "2592000" in rows["investigation"]
    assert "90 s" in rows["audit-check"]
    listed = json.loads(ok(admin("embargo", "list", "--json")).stdout)["embargoes"]
    assert [(e["purpose"], e["seconds"]) for e in listed] == [("audit-check", 90),
                                                             ("investigation", 2592000)]
    ok(admin("embargo", "set", "investigation", "--seconds", "60"))
    conf = registry.api("GET", "/api/embargoes/investigation").json()
    assert conf["seconds"] == 60
    assert "removed the embargo on purpose audit-check" in \
        ok(admin("embargo", "remove", "audit-check")).stdout
    failed(admin("embargo", "remove", "audit-check"), "404 Client.NotFound")
    failed(admin("embargo", "set", "Investigation", "--days", "1"), "400", "purpose")
    import requests
    doc = requests.get(registry.url + "/conf", timeout=5).json()
    assert doc["embargoes"] == [{"purpose": "investigation", "seconds": 60}]


def test_id_provider_add_list_remove(admin, build_dir, registry, tmp_path):
    ok(run_ndx(build_dir, "keygen", "--out", tmp_path / "id-sign"))
    pub = tmp_path / "id-sign.pub"
    raw = serialization.load_pem_public_key(pub.read_bytes()).public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    kid = hashlib.sha256(raw).hexdigest()
    out = ok(admin("id-provider", "add", "--issuer", "http://127.0.0.1:4445",
                   "--public-key", pub)).stdout
    assert kid in out and "configuration version" in out
    table = ok(admin("id-provider", "list")).stdout.splitlines()
    assert table[0].split()[:3] == ["ISSUER", "KEY", "ID"]
    assert "http://127.0.0.1:4445" in table[1] and kid in table[1]
    import requests
    doc = requests.get(registry.url + "/conf", timeout=5).json()
    assert doc["id_providers"] == [{"issuer": "http://127.0.0.1:4445",
                                    "sign_key": base64.b64encode(raw).decode(),
                                    "sign_key_id": kid}]
    failed(admin("id-provider", "add", "--issuer", "http://127.0.0.1:4445",
                 "--public-key", pub), "409 Client.Conflict")
    # A private key never leaves this machine; a file that is no key is refused.
    failed(admin("id-provider", "add", "--issuer", "https://id.gov.vn", "--public-key",
                 tmp_path / "id-sign.key"), "is a private key")
    (tmp_path / "junk.pub").write_text("not a key\n")
    failed(admin("id-provider", "add", "--issuer", "https://id.gov.vn", "--public-key",
                 tmp_path / "junk.pub"), "cannot load the public key")
    failed(admin("id-provider", "add", "--issuer", "http://id.gov.vn", "--public-key", pub),
           "400", "loopback")
    assert "removed id provider http://127.0.0.1:4445" in \
        ok(admin("id-provider", "remove", "--issuer", "http://127.0.0.1:4445")).stdout
    assert json.loads(ok(admin("id-provider", "list", "--json")).stdout)["id_providers"] == []
    failed(admin("id-provider", "remove", "--issuer", "http://127.0.0.1:4445"), "404")


# ---- issue 14 ------------------------------------------------------------------------------

def test_stored_control_characters_print_escaped(admin, registry):
    """Finding 8: a name with ESC, CR/LF, a C1 control or U+202E stored by an older
    registry (written straight into its database here, since the API now refuses
    it) is printed escaped in tables and in --json, never raw."""
    import sqlite3
    ok(admin("member", "add", "VN/GOV/BCA", "--name", "Bộ Công an"))
    bad = "Evil\x1b[2J\x1b]0;pwned\x07\r\nVN/GOV/FAKE \u202egpj.exe \u009b31m"
    db = sqlite3.connect(registry.data_dir / "registry.db", timeout=10)
    db.execute("INSERT INTO members(id, name, created_at) VALUES(?, ?, ?)",
               ("VN/GOV/EVIL", bad, "2026-01-01T00:00:00Z"))
    db.commit()
    db.close()
    out = ok(admin("member", "list")).stdout
    for raw in ("\x1b", "\x07", "\r", "\u202e", "\u009b"):
        assert raw not in out, repr(out)
    lines = out.splitlines()
    assert len(lines) == 3, lines  # the header and two rows: no forged line
    evil = next(line for line in lines if line.startswith("VN/GOV/EVIL"))
    assert "Evil\\x1b[2J\\x1b]0;pwned\\x07\\x0d\\x0aVN/GOV/FAKE \\u202egpj.exe \\u009b31m" \
        in evil, evil
    assert "Bộ Công an" in out
    js = ok(admin("member", "list", "--json")).stdout
    for raw in ("\x1b", "\x07", "\r", "\u202e", "\u009b"):
        assert raw not in js, repr(js)
    # ... and the JSON still says exactly what is stored.
    names = {m["id"]: m["name"] for m in json.loads(js)["members"]}
    assert names["VN/GOV/EVIL"] == bad and names["VN/GOV/BCA"] == "Bộ Công an"
    # The registry refuses the same name today.
    failed(admin("member", "add", "VN/GOV/EVIL2", "--name", "a\x1bb"), "name:", "control")


def test_audit_follows_pages(admin):
    """Finding 11: ndx audit --limit N gathers N entries across the registry's pages
    of at most 1000; --before goes on from a cursor."""
    for i in range(12):
        ok(admin("embargo", "set", f"p{i}", "--seconds", "60"))
    everything = json.loads(ok(admin("audit", "--json", "--limit", "1000000")).stdout)
    assert len(everything["audit"]) == 13 and everything["next"] is None
    seqs = [a["seq"] for a in everything["audit"]]
    part = json.loads(ok(admin("audit", "--json", "--limit", "5", "--before",
                               str(seqs[3]))).stdout)
    assert [a["seq"] for a in part["audit"]] == seqs[4:9] and part["next"] == seqs[8]
