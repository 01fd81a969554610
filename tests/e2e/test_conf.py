"""End-to-end tests of `ndx conf fetch` and `ndx conf verify` against a real registry:
the happy path, version increase, and every way a saved configuration can go bad
(changed bytes, changed signature, foreign key, expiry, missing file)."""

import base64
import hashlib
import json
import os
import subprocess
import time

import pytest
from cryptography.hazmat.primitives import serialization

TIMEOUT = 30


def run_ndx(build_dir, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("NDX_")}
    return subprocess.run([str(build_dir / "src" / "cli" / "ndx"), *map(str, args)],
                          capture_output=True, text=True, timeout=TIMEOUT, env=env)


def ok(res):
    assert res.returncode == 0, f"exit {res.returncode}\nstdout:\n{res.stdout}\nstderr:\n{res.stderr}"
    return res


def refused(res, *needles):
    assert res.returncode != 0, f"unexpectedly accepted:\n{res.stdout}"
    assert res.returncode == 1, f"exit {res.returncode}\n{res.stderr}"
    assert res.stderr.startswith("ndx: "), res.stderr
    for n in needles:
        assert n in res.stderr, f"{n!r} not in {res.stderr!r}"
    return res.stderr


def fetch(build_dir, registry, out, anchor=None):
    return run_ndx(build_dir, "conf", "fetch", "--registry", registry.url,
                   "--anchor", anchor or registry.anchor, "--out", out)


def verify(build_dir, conf_dir, anchor, *extra):
    return run_ndx(build_dir, "conf", "verify", conf_dir, "--anchor", anchor, *extra)


def test_fetch_and_verify(build_dir, registry, tmp_path):
    out = tmp_path / "conf"
    res = ok(fetch(build_dir, registry, out))
    version = registry.conf_version()
    assert f"version {version}" in res.stdout
    assert "expires" in res.stdout and "members" in res.stdout
    body = (out / "conf.json").read_bytes()
    assert json.loads(body)["version"] == version
    sig = json.loads((out / "conf.sig").read_text())
    assert sig["alg"] == "Ed25519"
    res = ok(verify(build_dir, out, registry.anchor))
    assert res.stdout.startswith(f"valid: version {version}, expires ")


def test_new_fetch_has_higher_version(build_dir, registry, tmp_path):
    out = tmp_path / "conf"
    ok(fetch(build_dir, registry, out))
    v1 = json.loads((out / "conf.json").read_bytes())["version"]
    r = registry.api("POST", "/api/members", json={"id": "VN/GOV/BCA", "name": "Bộ Công an"})
    assert r.status_code == 201, r.text
    ok(fetch(build_dir, registry, out))
    doc = json.loads((out / "conf.json").read_bytes())
    assert doc["version"] > v1
    assert [m["id"] for m in doc["members"]] == ["VN/GOV/BCA"]
    assert f"version {doc['version']}" in ok(verify(build_dir, out, registry.anchor)).stdout


@pytest.fixture
def saved(build_dir, registry, tmp_path):
    """A fetched configuration with something in it."""
    registry.api("POST", "/api/members", json={"id": "VN/GOV/BCA", "name": "Bộ Công an"})
    registry.api("POST", "/api/subsystems", json={"id": "VN/GOV/BCA/population"})
    out = tmp_path / "conf"
    ok(fetch(build_dir, registry, out))
    return out


@pytest.mark.parametrize("where", [0, 1, 10, "middle", -2, -1])
def test_changed_byte_of_conf_json_is_refused(build_dir, registry, saved, where):
    path = saved / "conf.json"
    data = bytearray(path.read_bytes())
    i = len(data) // 2 if where == "middle" else where
    # Stay printable so the change is a plausible edit, not just broken JSON.
    data[i] = ord("x") if data[i] != ord("x") else ord("y")
    path.write_bytes(bytes(data))
    refused(verify(build_dir, saved, registry.anchor), "signature")


def test_changed_version_number_is_refused(build_dir, registry, saved):
    path = saved / "conf.json"
    doc = path.read_text()
    v = json.loads(doc)["version"]
    path.write_text(doc.replace(f'"version":{v}', f'"version":{v + 1}', 1)
                    .replace(f'"version": {v}', f'"version": {v + 1}', 1))
    assert path.read_text() != doc
    refused(verify(build_dir, saved, registry.anchor), "signature")


def test_changed_signature_is_refused(build_dir, registry, saved):
    path = saved / "conf.sig"
    sig = json.loads(path.read_text())
    raw = bytearray(base64.b64decode(sig["signature"]))
    raw[5] ^= 0x01
    sig["signature"] = base64.b64encode(bytes(raw)).decode()
    path.write_text(json.dumps(sig, separators=(",", ":")))
    refused(verify(build_dir, saved, registry.anchor), "signature")


def test_garbled_signature_file_is_refused(build_dir, registry, saved):
    (saved / "conf.sig").write_text("not a signature")
    refused(verify(build_dir, saved, registry.anchor), "signature")


def foreign_anchor(build_dir, registry, tmp_path):
    """The registry's anchor with its key replaced by one made with ndx keygen."""
    ok(run_ndx(build_dir, "keygen", "--out", tmp_path / "other"))
    pub = serialization.load_pem_public_key((tmp_path / "other.pub").read_bytes())
    raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    anchor = json.loads(registry.anchor.read_text())
    anchor["keys"] = [{"key_id": hashlib.sha256(raw).hexdigest(),
                       "public_key": base64.b64encode(raw).decode()}]
    path = tmp_path / "other-anchor.json"
    path.write_text(json.dumps(anchor))
    return path


def test_anchor_with_other_key_is_refused(build_dir, registry, saved, tmp_path):
    anchor = foreign_anchor(build_dir, registry, tmp_path)
    refused(verify(build_dir, saved, anchor), "unknown key")


def test_fetch_with_wrong_anchor_writes_nothing(build_dir, registry, tmp_path):
    anchor = foreign_anchor(build_dir, registry, tmp_path)
    out = tmp_path / "never"
    err = refused(fetch(build_dir, registry, out, anchor=anchor), "unknown key")
    assert "nothing written" in err
    assert not out.exists()


def test_fetch_does_not_replace_good_copy_on_failure(build_dir, registry, saved, tmp_path):
    before = (saved / "conf.json").read_bytes(), (saved / "conf.sig").read_bytes()
    registry.api("POST", "/api/members", json={"id": "VN/GOV/BTC", "name": "Bộ Tài chính"})
    anchor = foreign_anchor(build_dir, registry, tmp_path)
    refused(fetch(build_dir, registry, saved, anchor=anchor))
    assert ((saved / "conf.json").read_bytes(), (saved / "conf.sig").read_bytes()) == before
    assert sorted(p.name for p in saved.iterdir()) == ["conf.json", "conf.sig"]


def test_missing_file_is_refused(build_dir, registry, saved):
    (saved / "conf.sig").unlink()
    refused(verify(build_dir, saved, registry.anchor), "missing")


def test_verify_at_a_given_time(build_dir, registry, saved):
    doc = json.loads((saved / "conf.json").read_bytes())
    ok(verify(build_dir, saved, registry.anchor, "--at", doc["generated_at"]))
    refused(verify(build_dir, saved, registry.anchor, "--at", doc["expires_at"]), "expired")
    refused(verify(build_dir, saved, registry.anchor, "--at", "2099-01-01T00:00:00Z"), "expired")


def test_expired_configuration_is_refused(build_dir, registry_factory, tmp_path):
    reg = registry_factory(conf_validity=2)
    out = tmp_path / "conf"
    ok(fetch(build_dir, reg, out))
    time.sleep(3)
    refused(verify(build_dir, out, reg.anchor), "expired")


def test_registry_down_fetch_fails_cleanly(build_dir, registry, tmp_path):
    url = registry.url
    registry.stop()
    out = tmp_path / "conf"
    res = run_ndx(build_dir, "conf", "fetch", "--registry", url, "--anchor", registry.anchor,
                  "--out", out)
    refused(res, "cannot connect")
    assert not out.exists()
