"""Witnessed tree heads (docs/protocol.md "Witnessed tree heads", docs/security.md T37):
the registry countersigns every gateway's message log heads, `ndx log verify --anchor`
checks the countersignatures, a log rewritten and re-signed with the gateway's own key
is caught (the registry refuses its heads with 409 and audits them; verify names the
batch), and a gateway that no witness answers for witness_grace_s refuses exchanges with
503 Server.WitnessUnavailable until the registry is back. Loopback only, bounded."""

import base64
import hashlib
import json
import os
import sqlite3
import subprocess
import time

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ed25519

import federation as F
# The encodings written from docs/protocol.md alone, apart from the C code.
from logspec import merkle_root, record_hash, sth_hash, sth_message, witness_message
from federation import BHXH, CITIZENS, INSURANCE
import refusals  # noqa: E402

GRACE_S = 3
CLI_TIMEOUT = 30
SUBJECT, PURPOSE = "001099000123", "public-service"


class WitnessGateway(F.Gateway):
    """federation.Gateway with short batches, a witness round every second and a short
    grace."""

    def write_config(self):
        super().write_config()
        cfg = json.loads(self.config_path.read_text())
        cfg["msglog"] = {"batch_max": 64, "batch_interval_ms": 200}
        cfg["witness_interval_s"] = 1
        cfg["witness_grace_s"] = GRACE_S
        self.config_path.write_text(json.dumps(cfg, indent=2, ensure_ascii=False))

    @property
    def db(self):
        return self.dir / "data" / "msglog.db"


@pytest.fixture(scope="module")
def fed(build_dir):
    with F.running_federation(build_dir, "ndx-witness-", gateway_class=WitnessGateway) as f:
        yield f


# ---- helpers ---------------------------------------------------------------------------

def rows(db, query):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute(query)]
    finally:
        con.close()


def newest(db):
    """(newest batch, newest batch countersigned) of a gateway's log."""
    b = rows(db, "SELECT coalesce(max(batch), 0) AS b FROM batches")[0]["b"]
    w = rows(db, "SELECT coalesce(max(batch), 0) AS b FROM witnesses")[0]["b"]
    return b, w


def wait_witnessed(gw, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        b, w = newest(gw.db)
        if b > 0 and w == b:
            return b
        time.sleep(0.2)
    raise AssertionError(f"{gw.member}/{gw.code}: batches {newest(gw.db)} not witnessed in "
                         f"{timeout} s\n{gw.tail()}")


def ndx_log(fed, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("NDX_")}
    return subprocess.run([str(F.ndx_exe(fed.build_dir)), "log", *map(str, args)],
                          capture_output=True, text=True, timeout=CLI_TIMEOUT, env=env)


def read_citizen(fed):
    return fed.call("BTC", "GET", CITIZENS, "/citizens/001",
                    headers={"Ndx-Subject": SUBJECT, "Ndx-Purpose": PURPOSE})


def anchor_key(fed):
    doc = json.loads(fed.registry.anchor.read_text())
    return {k["key_id"]: ed25519.Ed25519PublicKey.from_public_bytes(
        base64.b64decode(k["public_key"])) for k in doc["keys"]}


# ---- tests -----------------------------------------------------------------------------

def test_tree_heads_are_witnessed_and_verify_reports_them(fed):
    for _ in range(3):
        r = read_citizen(fed)
        assert r.status_code == 200, r.text
    for n in ("BTC", "BCA"):
        gw = fed.gateways[n]
        batch = wait_witnessed(gw)
        # the countersignature, checked here from the documented encoding alone
        w = rows(gw.db, f"SELECT * FROM witnesses WHERE batch = {batch}")[0]
        b = rows(gw.db, f"SELECT * FROM batches WHERE batch = {batch}")[0]
        assert w["gateway"] == f"{gw.member}/{gw.code}"
        assert w["sth_hash"] == sth_hash(b)
        key = anchor_key(fed)[w["key_id"]]
        key.verify(w["signature"], witness_message(w["gateway"], batch, w["sth_hash"],
                                                   w["time_ms"]))
        res = ndx_log(fed, "verify", "--db", gw.db, "--key", gw.ident.sign_pub,
                      "--anchor", fed.registry.anchor)
        assert res.returncode == 0, res.stdout + res.stderr
        assert f"witnessed: batch {batch} (of {gw.member}/{gw.code})" in res.stdout
        assert "verified with the anchor" in res.stdout
        assert "log OK" in res.stdout
    # the registry remembers what it witnessed
    seen = rows(fed.registry.data_dir / "registry.db",
                "SELECT gateway, max(batch) AS b FROM witnessed GROUP BY gateway")
    assert {r["gateway"] for r in seen} >= {"VN/GOV/BTC/gw1", "VN/GOV/BCA/gw1"}


def test_the_witness_refuses_strangers_and_heads_that_do_not_verify(fed):
    url = fed.registry.url + "/witness"
    gw = fed.gateways["BTC"]
    wait_witnessed(gw)
    b = rows(gw.db, "SELECT * FROM batches ORDER BY batch DESC LIMIT 1")[0]
    head = {"batch": b["batch"], "first_seq": b["first_seq"], "size": b["size"],
            "root": b["root"].hex(), "time_ms": b["time_ms"],
            "prev_sth_hash": b["prev_sth_hash"].hex(), "key_id": b["key_id"],
            "signature": base64.b64encode(b["signature"]).decode()}
    r = requests.post(url, json={"gateway": "VN/GOV/BTC/gw9", "heads": [head]}, timeout=10)
    assert r.status_code == 404, r.text
    # the same head sent again is countersigned again (nothing forked)
    r = requests.post(url, json={"gateway": "VN/GOV/BTC/gw1", "heads": [head]}, timeout=10)
    assert r.status_code == 200, r.text
    assert r.json()["batch"] == b["batch"]
    # BCA's name on BTC's head: the signature does not verify with BCA's key
    r = requests.post(url, json={"gateway": "VN/GOV/BCA/gw1", "heads": [head]}, timeout=10)
    assert r.status_code == 400 and "does not verify" in r.json()["detail"], r.text
    r = requests.post(url, data=b"x" * (300 * 1024), timeout=10)
    assert r.status_code == 413, r.text
    r = requests.get(url, timeout=10)
    assert r.status_code == 405


def rewrite_log(db, private_key):
    """The gateway's operator rebuilds another history (every purpose changed) with the
    gateway's own key: records re-hashed, batch roots recomputed, tree heads re-signed.
    The countersignatures stay as they were (nobody but the registry can make them)."""
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    records = [dict(r) for r in con.execute("SELECT * FROM records ORDER BY seq")]
    batches = [dict(b) for b in con.execute("SELECT * FROM batches ORDER BY batch")]
    prev = bytes(32)
    for r in records:
        r["purpose"] = "rewritten"
        r["prev_hash"] = prev
        r["hash"] = prev = record_hash(r)
        con.execute("UPDATE records SET purpose = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                    (r["purpose"], r["prev_hash"], r["hash"], r["seq"]))
    by_seq = {r["seq"]: r for r in records}
    prev_sth = bytes(32)
    for b in batches:
        b["root"] = merkle_root([hashlib.sha256(b"\x00" + by_seq[s]["hash"]).digest()
                                 for s in range(b["first_seq"], b["first_seq"] + b["size"])])
        b["prev_sth_hash"] = prev_sth
        b["signature"] = private_key.sign(sth_message(b))
        prev_sth = sth_hash(b)
        con.execute("UPDATE batches SET root = ?, prev_sth_hash = ?, signature = ? "
                    "WHERE batch = ?", (b["root"], b["prev_sth_hash"], b["signature"],
                                        b["batch"]))
    con.commit()
    con.close()
    return batches


def test_a_rewritten_log_is_refused_by_the_witness_and_named_by_verify(fed):
    gw = fed.gateways["BHXH"]
    # BHXH's insurance has no grant: each call is a logged refusal
    for _ in range(2):
        r = fed.call("BHXH", "GET", CITIZENS, "/citizens/001", client=INSURANCE)
        assert refusals.reason_of(r) == "NoGrant", r.text
    witnessed = wait_witnessed(gw)
    assert gw.stop() == 0
    batches = rewrite_log(gw.db, gw.ident.private_key())
    # alone, the forged log verifies with the gateway's key...
    con = sqlite3.connect(gw.db)
    con.execute("CREATE TABLE keep AS SELECT * FROM witnesses")
    con.execute("DELETE FROM witnesses")
    con.commit()
    con.close()
    res = ndx_log(fed, "verify", "--db", gw.db, "--key", gw.ident.sign_pub)
    assert res.returncode == 0, res.stdout + res.stderr
    con = sqlite3.connect(gw.db)
    con.execute("INSERT INTO witnesses SELECT * FROM keep")
    con.execute("DROP TABLE keep")
    con.commit()
    con.close()
    # ...but not against what the witness countersigned: verify names the batch
    first = rows(gw.db, "SELECT min(batch) AS b FROM witnesses")[0]["b"]
    res = ndx_log(fed, "verify", "--db", gw.db, "--key", gw.ident.sign_pub,
                  "--anchor", fed.registry.anchor)
    assert res.returncode == 1, res.stdout + res.stderr
    assert f"batch {first}: the witnessed tree head" in res.stderr, res.stderr
    assert "rewritten or forked" in res.stderr

    # the registry refuses the forged heads with 409 and audits the fork
    def wire(b):
        return {"batch": b["batch"], "first_seq": b["first_seq"], "size": b["size"],
                "root": b["root"].hex(), "time_ms": b["time_ms"],
                "prev_sth_hash": b["prev_sth_hash"].hex(), "key_id": b["key_id"],
                "signature": base64.b64encode(b["signature"]).decode()}
    r = requests.post(fed.registry.url + "/witness",
                      json={"gateway": f"{BHXH}/gw1", "heads": [wire(b) for b in batches]},
                      timeout=10)
    assert r.status_code == 409, r.text
    assert r.json()["message"] == "forked history"
    assert "rewritten or forked" in r.json()["detail"]
    audit = fed.registry.api("GET", "/api/audit").json()["audit"]
    assert any(a["action"] == "witness.fork" and a["object"] == f"{BHXH}/gw1" for a in audit)

    # the gateway started on its forged log is refused too, and says so
    gw.start()
    r = fed.call("BHXH", "GET", CITIZENS, "/citizens/001", client=INSURANCE)
    assert refusals.reason_of(r) == "NoGrant", r.text  # a new tree head for the witness
    deadline = time.monotonic() + 10
    while "ALARM" not in gw.tail(50) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "ALARM: the registry refuses our tree heads (409)" in gw.tail(50), gw.tail(50)
    assert newest(gw.db)[1] == witnessed  # nothing new was countersigned
    assert gw.stop() == 0
    # put back a log that goes on (the module's other tests and its clean exit)
    for f in gw.db.parent.glob("msglog.db*"):
        f.unlink()


def test_no_witness_past_the_grace_refuses_until_the_registry_returns(fed):
    btc, bca = fed.gateways["BTC"], fed.gateways["BCA"]
    r = read_citizen(fed)
    assert r.status_code == 200, r.text
    wait_witnessed(btc)
    wait_witnessed(bca)
    F.stop_registry(fed.registry)
    try:
        # exchanges go on within the grace: their heads wait for the witness
        r = read_citizen(fed)
        assert r.status_code == 200, r.text
        time.sleep(GRACE_S + 2.5)
        r = read_citizen(fed)
        refusals.check_response(r, "WitnessUnavailable", side="consumer")
        assert "no witness has countersigned" in r.json()["message"]
        assert "refused until the registry answers" in r.json()["message"]
        h = btc.healthz()
        assert h.status_code == 503, h.text
        assert any(p["code"] == "WitnessUnavailable" for p in h.json()["problems"])
    finally:
        F.start_registry_same_port(fed.registry)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        r = read_citizen(fed)
        if r.status_code == 200:
            break
        time.sleep(0.3)
    assert r.status_code == 200, r.text + "\n" + fed.tails()
    wait_witnessed(btc)
    assert "witnessed by the registry" in btc.tail(40)
