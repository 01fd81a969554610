"""`ndx federation apply|export` against a real ndx-registry (docs/federation-file.md):
a federation file made true through the management API, idempotent, refused as a
whole when it is inconsistent, removals reaching the signed configuration, and an
export that applies as a no-op. One registry for the module, the tests in order."""

import base64
import copy
import json
import os
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID

from conftest import Registry, registry_exe

TIMEOUT = 30
SVC = "VN/GOV/BCA/population/citizens"


def ed25519_pem():
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    pem = key.public_bytes(serialization.Encoding.PEM,
                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return pem, base64.b64encode(raw).decode()


def make_csr():
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gw1")]))
           .sign(key, hashes.SHA256()))
    return csr.public_bytes(serialization.Encoding.PEM).decode()


def federation():
    gw_pem, _ = ed25519_pem()
    cs_pem, _ = ed25519_pem()
    _, idp_raw = ed25519_pem()
    return {
        "format": "ndx-federation/1",
        "members": [{"id": "VN/GOV/BCA", "name": "Bộ Công an"},
                    {"id": "VN/GOV/MOF", "name": "Bộ Tài chính"}],
        "subsystems": [{"id": "VN/GOV/BCA/population"}, {"id": "VN/GOV/BCA/consent"},
                       {"id": "VN/GOV/MOF/tax"}],
        "services": [{"id": SVC, "title": "Dân cư", "personal": True,
                      "purposes": ["tax-assessment", "audit"], "bulk_purposes": ["audit"],
                      "openapi": {"openapi": "3.0.3", "info": {"title": "Dân cư",
                                                               "version": "1"},
                                  "paths": {}}},
                     {"id": "VN/GOV/BCA/population/news", "title": "Tin", "personal": False}],
        "gateways": [{"member": "VN/GOV/BCA", "code": "gw1",
                      "address": "https://127.0.0.1:4431", "sign_public_key": gw_pem,
                      "tls_csr": make_csr()}],
        "consent_services": [{"id": "VN/GOV/BCA/consent", "url": "http://127.0.0.1:4500",
                              "sign_public_key": cs_pem}],
        "id_providers": [{"issuer": "http://127.0.0.1:4600", "sign_key": idp_raw}],
        "embargoes": [{"purpose": "investigation", "seconds": 86400}],
        "event_types": [{"service": "VN/GOV/BCA/population/news", "name": "published",
                         "title": "Bài mới", "schema": {"type": "object"}}],
        "grants": [{"client": "VN/GOV/MOF/tax", "service": SVC, "methods": ["GET"],
                    "paths": ["/citizens/*"]},
                   {"client": "VN/GOV/MOF", "service": "VN/GOV/BCA/population/news",
                    "methods": ["GET", "HEAD"]}],
        "subscriptions": [{"client": "VN/GOV/MOF/tax",
                           "service": "VN/GOV/BCA/population/news", "event": "published",
                           "retry": {"first_s": 2}}],
        "monitoring_client": "VN/GOV/MOF/tax",
    }


class Env:
    def __init__(self, build_dir, registry, workdir, token_name="admin.token"):
        self.exe = build_dir / "src" / "cli" / "ndx"
        self.reg = registry
        self.dir = workdir
        self.token_file = workdir / token_name
        self.token_file.write_text(registry.token + "\n")
        self.fed = federation()

    def ndx(self, *args, token_file=None):
        env = {k: v for k, v in os.environ.items() if not k.startswith("NDX_")}
        return subprocess.run(
            [str(self.exe), "federation", *map(str, args), "--registry", self.reg.url,
             "--token-file", str(token_file or self.token_file)],
            capture_output=True, text=True, timeout=TIMEOUT, env=env)

    def write(self, doc, name="federation.json"):
        path = self.dir / name
        path.write_text(json.dumps(doc, ensure_ascii=False, indent=2))
        return path

    def apply(self, doc, *extra):
        return self.ndx("apply", self.write(doc), *extra)

    def newest_audit(self):
        audit = self.reg.api("GET", "/api/audit?limit=1").json()["audit"]
        return audit[0]["seq"] if audit else 0

    def snapshot(self):
        return self.reg.conf_version(), self.newest_audit()

    def conf_grants(self):
        conf = self.reg.api("GET", "/conf").json()
        return {(g["client"], g["service"]) for g in conf["grants"]}


def ok(res):
    assert res.returncode == 0, f"exit {res.returncode}\n{res.stdout}\n{res.stderr}"
    return res


@pytest.fixture(scope="module")
def env(build_dir, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("federation")
    reg = Registry(registry_exe(build_dir), workdir / "registry")
    reg.start()
    yield Env(build_dir, reg, workdir)
    assert reg.stop() == 0, reg.tail()


def test_apply_creates_then_changes_nothing(env):
    first = ok(env.apply(env.fed))
    lines = first.stdout.splitlines()
    assert lines[0] == "create member VN/GOV/BCA"
    assert "create gateway VN/GOV/BCA gw1" in lines
    assert "create monitoring client VN/GOV/MOF/tax" in lines
    assert lines[-1].startswith("applied 16 changes (configuration version ")
    assert ("VN/GOV/MOF/tax", SVC) in env.conf_grants()
    # Every change is an API change: audited like one.
    actions = [e["action"] for e in env.reg.api("GET", "/api/audit?limit=30").json()["audit"]]
    assert actions[0] == "monitoring.set" and "grant.add" in actions and "member.add" in actions

    before = env.snapshot()
    again = ok(env.apply(env.fed))
    assert again.stdout == "no changes: the registry already matches " \
                           f"{env.dir / 'federation.json'}\n"
    assert env.snapshot() == before


def test_removed_grant_leaves_the_next_configuration(env):
    doc = copy.deepcopy(env.fed)
    doc["grants"] = doc["grants"][1:]
    version = env.reg.conf_version()
    res = ok(env.apply(doc))
    assert res.stdout.splitlines()[0] == \
        f"remove grant VN/GOV/MOF/tax {SVC} GET /citizens/*"
    assert env.reg.conf_version() > version
    assert ("VN/GOV/MOF/tax", SVC) not in env.conf_grants()
    assert ("VN/GOV/MOF", "VN/GOV/BCA/population/news") in env.conf_grants()
    assert env.reg.api("GET", "/api/audit?limit=1").json()["audit"][0]["action"] == \
        "grant.delete"
    ok(env.apply(env.fed))  # back as it was
    assert ("VN/GOV/MOF/tax", SVC) in env.conf_grants()


def test_a_change_the_api_cannot_make_in_place(env):
    """A service's title has no update call: the service is removed and created again,
    and its grant, event type and subscription with it, in an order the API accepts."""
    doc = copy.deepcopy(env.fed)
    doc["services"][1]["title"] = "Tin mới"
    news = "VN/GOV/BCA/population/news"
    res = ok(env.apply(doc))
    assert res.stdout.splitlines()[:-1] == [
        f"remove subscription VN/GOV/MOF/tax {news} published "
        f"(its event type {news} published is created again)",
        f"remove grant VN/GOV/MOF {news} GET,HEAD * (its service {news} is created again)",
        f"remove event type {news} published (its service {news} is created again)",
        f"remove service {news} (title changed)",
        f"create service {news}",
        f"create event type {news} published",
        f"create grant VN/GOV/MOF {news} GET,HEAD *",
        f"create subscription VN/GOV/MOF/tax {news} published",
    ]
    assert env.reg.api("GET", f"/api/services/{news}").json()["title"] == "Tin mới"
    assert ok(env.apply(doc)).stdout.startswith("no changes")
    ok(env.apply(env.fed))


def test_unknown_member_in_grant_is_refused_whole(env):
    doc = copy.deepcopy(env.fed)
    doc["members"].append({"id": "VN/GOV/NEW", "name": "Bộ mới"})
    doc["grants"].append({"client": "VN/GOV/NOPE", "service": SVC, "methods": ["GET"]})
    before = env.snapshot()
    path = env.write(doc)
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1)
                if "VN/GOV/NOPE" in text)
    res = env.ndx("apply", path)
    assert res.returncode == 2, res
    assert res.stderr == (f"ndx: {path}:{line}: grants[2].client: member VN/GOV/NOPE is not "
                          "in members; nothing was applied\n")
    assert "nothing was applied" in res.stderr and res.stdout == ""
    assert env.snapshot() == before
    assert env.reg.api("GET", "/api/members/VN/GOV/NEW").status_code == 404
    # A duplicate and a misspelt field: refused the same way, by place.
    dup = copy.deepcopy(env.fed)
    dup["subsystems"].append({"id": "VN/GOV/MOF/tax"})
    res = env.apply(dup)
    assert res.returncode == 2 and "subsystems[3]: a second subsystem VN/GOV/MOF/tax" in res.stderr
    bad = copy.deepcopy(env.fed)
    bad["services"][1]["titel"] = "x"
    res = env.apply(bad)
    assert res.returncode == 2 and "services[1].titel: not a field of a service" in res.stderr
    (env.dir / "broken.json").write_text('{"format": "ndx-federation/1",\n "members": [\n')
    res = env.ndx("apply", env.dir / "broken.json")
    assert res.returncode == 2 and f"{env.dir / 'broken.json'}:3:" in res.stderr
    res = env.ndx("apply", env.dir / "missing.json")
    assert res.returncode == 1 and "cannot read" in res.stderr and "Traceback" not in res.stderr
    assert env.snapshot() == before


def test_key_no_signature_could_verify_under_is_refused_whole(env):
    """docs/security.md T130: a gateway's key of small order (here the identity point,
    a well-formed SubjectPublicKeyInfo) is refused by place before anything is sent."""
    doc = copy.deepcopy(env.fed)
    b64 = base64.b64encode(bytes.fromhex("302a300506032b6570032100") + bytes([1]) +
                           bytes(31)).decode()
    doc["gateways"][0]["sign_public_key"] = (
        f"-----BEGIN PUBLIC KEY-----\n{b64}\n-----END PUBLIC KEY-----\n")
    before = env.snapshot()
    res = env.apply(doc)
    assert res.returncode == 2, res
    assert "gateways[0].sign_public_key: not a point of prime order on Ed25519's curve" \
        in res.stderr and "nothing was applied" in res.stderr, res.stderr
    assert env.snapshot() == before


def test_dry_run_applies_nothing(env):
    doc = copy.deepcopy(env.fed)
    doc["members"].append({"id": "VN/GOV/NEW", "name": "Bộ mới"})
    doc["embargoes"][0]["seconds"] = 3600
    doc["grants"] = doc["grants"][1:]
    before = env.snapshot()
    res = ok(env.apply(doc, "--dry-run"))
    assert res.stdout.splitlines() == [
        f"remove grant VN/GOV/MOF/tax {SVC} GET /citizens/*",
        "create member VN/GOV/NEW",
        "update embargo investigation (seconds changed)",
        "3 changes planned (dry run: nothing applied)",
    ]
    assert env.snapshot() == before
    assert env.reg.api("GET", "/api/members/VN/GOV/NEW").status_code == 404


def test_export_then_apply_is_a_no_op(env):
    out = env.dir / "exported.json"
    ok(env.ndx("export", "--out", out))
    exported = json.loads(out.read_text())
    assert exported["format"] == "ndx-federation/1"
    assert exported["monitoring_client"] == "VN/GOV/MOF/tax"
    assert exported["services"][0]["openapi"] == env.fed["services"][0]["openapi"]
    assert "tls_csr" not in exported["gateways"][0]
    before = env.snapshot()
    res = ok(env.ndx("apply", out))
    assert res.stdout.startswith("no changes")
    assert env.snapshot() == before
    # Stdout is the same document.
    assert json.loads(ok(env.ndx("export")).stdout) == exported


def test_a_token_without_the_right_is_refused(env):
    bad = env.dir / "wrong.token"
    bad.write_text("not-an-admin-token\n")
    doc = copy.deepcopy(env.fed)
    doc["members"].append({"id": "VN/GOV/NEW", "name": "Bộ mới"})
    before = env.snapshot()
    res = env.ndx("apply", env.write(doc), token_file=bad)
    assert res.returncode == 1 and "401" in res.stderr, res
    assert env.snapshot() == before
    res = env.ndx("export", token_file=bad)
    assert res.returncode == 1 and "401" in res.stderr and res.stdout == ""


def test_demo_file_brings_up_an_empty_registry(env, build_dir):
    """deploy/demo/federation.json on a new registry: all of it is created, and the
    registry then matches it."""
    reg = Registry(registry_exe(build_dir), env.dir / "empty-registry")
    reg.start()
    try:
        sub = Env(build_dir, reg, env.dir, token_name="empty.token")
        demo = Path(__file__).resolve().parents[2] / "deploy" / "demo" / "federation.json"
        doc = json.loads(demo.read_text())
        res = ok(sub.ndx("apply", demo))
        created = sum(len(v) for k, v in doc.items() if isinstance(v, list)) + 1
        assert res.stdout.splitlines()[-1].startswith(f"applied {created} changes")
        assert ok(sub.ndx("apply", demo)).stdout.startswith("no changes")
        conf = reg.api("GET", "/conf").json()
        assert conf["monitoring"] == {"client": doc["monitoring_client"]}
        assert len(conf["grants"]) == len(doc["grants"])
    finally:
        assert reg.stop() == 0, reg.tail()
