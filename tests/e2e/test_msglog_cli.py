"""End-to-end tests of `ndx log verify | prove | check-proof | archive` against message
logs written by the real library (tests/unit/msglog_fixture, built beside the unit
tests), tampered with through Python's sqlite3 module. A second, independent
implementation of the docs/protocol.md "Message log" encodings (record hash, Merkle
root, tree head signature) checks that the document and the code agree."""

import base64
import hashlib
import json
import os
import signal
import sqlite3
import subprocess

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

# The encodings written from docs/protocol.md alone, apart from the C code.
from logspec import field, merkle_root, record_hash, sth_hash, sth_message, witness_message

TIMEOUT = 60


def ndx_exe(build_dir):
    return build_dir / "src" / "cli" / "ndx"


def fixture_exe(build_dir):
    exe = build_dir / "tests" / "unit" / "msglog_fixture"
    if not exe.is_file():
        pytest.fail(f"{exe} is missing: build it (ninja -C {build_dir} "
                    "tests/unit/msglog_fixture)", pytrace=False)
    return exe


def run_ndx(build_dir, *args, stdin=None):
    e = {k: v for k, v in os.environ.items() if not k.startswith("NDX_")}
    return subprocess.run([str(ndx_exe(build_dir)), *map(str, args)], capture_output=True,
                          text=True, timeout=TIMEOUT, env=e, input=stdin)


def ok(res):
    assert res.returncode == 0, f"exit {res.returncode}\nstdout:\n{res.stdout}\nstderr:\n{res.stderr}"
    return res


def failed(res, *needles):
    """Exit 1 and exactly one 'ndx: ' line on stderr containing every needle."""
    assert res.returncode == 1, f"exit {res.returncode}\nstdout:\n{res.stdout}\nstderr:\n{res.stderr}"
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ndx: "), res.stderr
    for n in needles:
        assert n in lines[0], f"{n!r} not in {lines[0]!r}"
    return lines[0]


def usage_error(res, needle):
    assert res.returncode == 2, f"exit {res.returncode}\n{res.stderr}"
    assert needle in res.stderr and "usage: ndx log" in res.stderr, res.stderr


class Gateway:
    """A key pair and a log file written by msglog_fixture."""

    def __init__(self, build_dir, d):
        self.build_dir = build_dir
        self.dir = d
        self.db = d / "log.db"
        ok(run_ndx(build_dir, "keygen", "--out", d / "gw"))
        self.key = d / "gw.key"
        self.pub = d / "gw.pub"

    def append(self, count, batch_max=16, *extra):
        res = subprocess.run([str(fixture_exe(self.build_dir)), "--db", str(self.db),
                              "--key", str(self.key), "--count", str(count),
                              "--batch-max", str(batch_max), "--interval-ms", "600000",
                              *map(str, extra)],
                             capture_output=True, text=True, timeout=TIMEOUT)
        assert res.returncode == 0, res.stderr
        return self

    def log(self, *args, **kw):
        return run_ndx(self.build_dir, "log", *args, **kw)

    def verify(self, *extra):
        return self.log("verify", "--db", self.db, *extra)

    def sql(self, stmt, *params):
        con = sqlite3.connect(self.db)
        try:
            cur = con.execute(stmt, params)
            con.commit()
            assert cur.rowcount != 0, stmt
        finally:
            con.close()


@pytest.fixture
def gw(build_dir, tmp_path):
    return Gateway(build_dir, tmp_path)


@pytest.fixture
def other_pub(build_dir, tmp_path):
    d = tmp_path / "other"
    d.mkdir()
    ok(run_ndx(build_dir, "keygen", "--out", d / "k"))
    return d / "k.pub"


def test_documented_encodings_match_the_library(gw):
    gw.append(100, 16)
    pub = serialization.load_pem_public_key(gw.pub.read_bytes())
    con = sqlite3.connect(gw.db)
    con.row_factory = sqlite3.Row
    records = [dict(r) for r in con.execute("SELECT * FROM records ORDER BY seq")]
    batches = [dict(b) for b in con.execute("SELECT * FROM batches ORDER BY batch")]
    meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
    con.close()
    assert meta["format"] == "ndx-msglog/3"
    assert meta["key_id"] == hashlib.sha256(pub.public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)).hexdigest()
    prev = bytes(32)
    for r in records:
        assert r["prev_hash"] == prev
        assert record_hash(r) == r["hash"], r["seq"]
        prev = r["hash"]
    # the fixture's v2 fields reached the store (and so the hashes above)
    r = records[20]  # msg-21: odd, i % 3 == 0
    assert (r["method"], r["path"], r["subject"], r["subjects"], r["user_id"], r["issue"],
            r["authenticated"]) == ("GET", "/citizens/000000000021?fields=name", "001099000123",
                                    "001099000123", "VN/GOV/BCA/canbo01",
                                    "birth-registration/P00000042", "")
    assert (records[17]["method"], records[17]["authenticated"]) == ("PUT", "001099000123")
    # record v3: the represented party (msg-19: i % 4 == 3, msg-18: i % 6 == 0)
    assert [records[i]["represented_party"] for i in (17, 18, 20)] == [
        "BTC", "COM/0101234567", ""]
    # the subject index: the claimed subject and each declared one, once a record
    con = sqlite3.connect(gw.db)
    index = set(con.execute("SELECT subject, seq FROM record_subjects").fetchall())
    con.close()
    want = set()
    for r in records:
        for s in [r["subject"]] + r["subjects"].split(","):
            if s:
                want.add((s, r["seq"]))
    assert index == want
    prev_sth = bytes(32)
    by_seq = {r["seq"]: r for r in records}
    assert [b["size"] for b in batches] == [16] * 6 + [4]
    for b in batches:
        leaves = [hashlib.sha256(b"\x00" + by_seq[s]["hash"]).digest()
                  for s in range(b["first_seq"], b["first_seq"] + b["size"])]
        assert merkle_root(leaves) == b["root"]
        assert b["prev_sth_hash"] == prev_sth
        msg = sth_message(b)
        assert len(msg) == 166
        pub.verify(b["signature"], msg)  # raises when it does not verify
        prev_sth = hashlib.sha256(msg + field(b["signature"])).digest()


# ---- verify ----------------------------------------------------------------------

def test_verify_ok_prints_counts_and_speed(gw):
    gw.append(100, 16)
    res = ok(gw.verify())
    assert "records: 100 checked (1..100), 100 under 7 tree heads, 0 in the open batch" in res.stdout
    assert "latest tree head: batch 7, records 97..100, root " in res.stdout
    assert "records/s" in res.stdout
    assert "(stored in the log)" in res.stdout
    assert res.stdout.strip().endswith("log OK")
    res = ok(gw.verify("--key", gw.pub))
    assert "(given)" in res.stdout


def test_verify_with_another_key_fails(gw, other_pub):
    gw.append(20, 16)
    failed(gw.verify("--key", other_pub), "batch 1: signed by key")


@pytest.mark.parametrize("stmt,want", [
    ("UPDATE records SET client = 'VN/GOV/MOF/enterprisE' WHERE seq = 17",
     "record 17: stored hash does not match its contents"),
    ("UPDATE records SET subject = '001099000124' WHERE seq = 33",
     "record 33: stored hash does not match its contents"),
    ("UPDATE records SET response_hash = NULL WHERE seq = 50",
     "record 50: stored hash does not match its contents"),
    ("DELETE FROM records WHERE seq = 40",
     "missing record 40 (record 39 is followed by record 41)"),
    ("UPDATE records SET hash = (SELECT hash FROM records WHERE seq = 3) WHERE seq = 70",
     "record 70: stored hash does not match its contents"),
    ("UPDATE batches SET root = zeroblob(32) WHERE batch = 3",
     "batch 3: root does not match records 33..48"),
    ("UPDATE batches SET signature = (SELECT signature FROM batches WHERE batch = 2) "
     "WHERE batch = 3", "batch 3: signature does not verify"),
    ("UPDATE batches SET prev_sth_hash = zeroblob(32) WHERE batch = 4",
     "batch 4: prev_sth_hash does not match the tree head of batch 3"),
    ("DELETE FROM batches WHERE batch = 2", "missing batch 2 (next is batch 3)"),
    ("UPDATE records SET request_hash = x'00' WHERE seq = 9", "record 9: malformed row"),
    ("UPDATE records SET method = 'PUt' WHERE seq = 14",
     "record 14: stored hash does not match its contents"),
    ("UPDATE records SET path = '/citizens/000000000016' WHERE seq = 15",
     "record 15: stored hash does not match its contents"),
    ("UPDATE records SET subjects = '012345678901,098765432108' WHERE seq = 13",
     "record 13: stored hash does not match its contents"),
    ("UPDATE records SET user_id = 'VN/GOV/BCA/canbo02' WHERE seq = 11",
     "record 11: stored hash does not match its contents"),
    ("UPDATE records SET issue = 'birth-registration/P00000043' WHERE seq = 11",
     "record 11: stored hash does not match its contents"),
    ("UPDATE records SET authenticated = '001099000124' WHERE seq = 12",
     "record 12: stored hash does not match its contents"),
    ("UPDATE records SET represented_party = 'COM/0101234568' WHERE seq = 19",
     "record 19: stored hash does not match its contents"),
    ("UPDATE records SET represented_party = 'GOV/BTC' WHERE seq = 13",
     "record 13: stored hash does not match its contents"),
    ("DELETE FROM record_subjects WHERE subject = '098765432109' AND seq = 13",
     "record 13: subject 098765432109 is missing from the subject index"),
    ("INSERT INTO record_subjects(subject, seq) VALUES ('070182917807', 7)",
     "record 7: the subject index lists 070182917807, which is not among its subjects"),
])
def test_verify_names_the_first_damage(gw, stmt, want):
    gw.append(100, 16)
    ok(gw.verify())
    gw.sql(stmt)
    res = gw.verify()
    failed(res, want)
    assert "log OK" not in res.stdout


def test_rehashed_record_is_caught_by_the_next_link(gw):
    gw.append(100, 16)
    con = sqlite3.connect(gw.db)
    con.row_factory = sqlite3.Row
    r = dict(con.execute("SELECT * FROM records WHERE seq = 20").fetchone())
    r["purpose"] = "marketing"
    con.execute("UPDATE records SET purpose = ?, hash = ? WHERE seq = 20",
                (r["purpose"], record_hash(r)))
    con.commit()
    con.close()
    failed(gw.verify(), "record 21: prev_hash does not match record 20")


def test_verify_refuses_what_is_not_a_log(gw, tmp_path):
    failed(gw.log("verify", "--db", tmp_path / "nope.db"), "cannot open", "nope.db")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database " * 100)
    failed(gw.log("verify", "--db", junk), "is not an ndx message log")
    failed(gw.log("verify", "--db", junk, "--key", tmp_path / "missing.pub"),
           "cannot read the key")


# The first two formats as they were written: /1 before records held method, path and
# subjects, /2 before they held the represented party.
OLD_FORMATS = {
    "ndx-msglog/1": "CREATE TABLE records (seq INTEGER PRIMARY KEY, subject TEXT NOT NULL);",
    "ndx-msglog/2": (
        "CREATE TABLE records (seq INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL,"
        " direction TEXT NOT NULL, message_id TEXT NOT NULL, client TEXT NOT NULL,"
        " service TEXT NOT NULL, method TEXT NOT NULL, path TEXT NOT NULL,"
        " subject TEXT NOT NULL, subjects TEXT NOT NULL, purpose TEXT NOT NULL,"
        " user_id TEXT NOT NULL, issue TEXT NOT NULL, authenticated TEXT NOT NULL,"
        " request_hash BLOB, response_hash BLOB, status INTEGER NOT NULL,"
        " duration_ms INTEGER NOT NULL, request_sig TEXT NOT NULL,"
        " response_sig TEXT NOT NULL, prev_hash BLOB NOT NULL, hash BLOB NOT NULL);"
        "CREATE TABLE record_subjects (subject TEXT NOT NULL, seq INTEGER NOT NULL,"
        " PRIMARY KEY (subject, seq)) WITHOUT ROWID;"
        "CREATE TABLE batches (batch INTEGER PRIMARY KEY, first_seq INTEGER NOT NULL UNIQUE,"
        " size INTEGER NOT NULL, root BLOB NOT NULL, time_ms INTEGER NOT NULL,"
        " key_id TEXT NOT NULL, prev_sth_hash BLOB NOT NULL, signature BLOB NOT NULL);"),
}


@pytest.mark.parametrize("fmt", sorted(OLD_FORMATS))
def test_a_log_of_an_older_format_is_refused_untouched(gw, tmp_path, fmt):
    old = tmp_path / "old.db"
    con = sqlite3.connect(old)
    con.executescript(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        + OLD_FORMATS[fmt] + f"INSERT INTO meta VALUES ('format', '{fmt}');")
    con.close()
    before = old.read_bytes()
    for args in (("verify", "--db", old), ("prove", "--db", old, "--seq", "1"),
                 ("archive", "--db", old, "--out", tmp_path / "a")):
        failed(gw.log(*args), f"format {fmt}", "only ndx-msglog/3")
    assert old.read_bytes() == before


# ---- prove and check-proof -----------------------------------------------------

def prove(gw, *args):
    res = ok(gw.log("prove", "--db", gw.db, *args))
    return json.loads(res.stdout)


def check(gw, proof, key=None, tmp_name="proof.json"):
    p = gw.dir / tmp_name
    p.write_text(json.dumps(proof) if not isinstance(proof, str) else proof)
    return gw.log("check-proof", p, "--key", key or gw.pub)


def test_prove_and_check_offline(gw):
    gw.append(100, 16)
    proof = prove(gw, "--id", "msg-37")
    assert proof["format"] == "ndx-log-proof/3"
    rec = proof["record"]
    assert rec["seq"] == 37 and rec["message_id"] == "msg-37"
    assert (rec["method"], rec["path"], rec["subject"], rec["subjects"], rec["user_id"],
            rec["issue"], rec["represented_party"], rec["authenticated"]) == (
        "GET", "/citizens/000000000037?fields=name", "", "012345678901,098765432109",
        "VN/GOV/BCA/canbo01", "birth-registration/P00000042", "", "")
    assert proof["leaf_index"] == 4
    assert len(proof["audit_path"]) == 4
    th = proof["tree_head"]
    assert (th["batch"], th["first_seq"], th["size"]) == (3, 33, 16)
    assert th["key_id"] and th["public_key"] and th["signature"]
    res = ok(check(gw, proof))
    assert "proof OK: record 37 (X-Road-Id msg-37, provider) is leaf 4 of batch 3" in res.stdout
    assert "exchange: provider GET /citizens/000000000037?fields=name, status 200" in res.stdout
    assert "subject: -  subjects: 012345678901,098765432109  authenticated: -" in res.stdout
    assert ("purpose: public-service  user id: VN/GOV/BCA/canbo01  "
            "issue: birth-registration/P00000042") in res.stdout
    assert "represented party: -" in res.stdout
    # the documented record hash, recomputed here from the proof's fields
    r = dict(proof["record"])
    for k in ("request_hash", "response_hash", "prev_hash"):
        r[k] = bytes.fromhex(r[k]) if r[k] else b""
    r["request_sig"], r["response_sig"] = r.pop("request_signature"), r.pop("response_signature")
    assert record_hash(r).hex() == proof["record_hash"]
    # from standard input, and by --seq
    text = json.dumps(prove(gw, "--seq", "100"))
    res = ok(gw.log("check-proof", "-", "--key", gw.pub, stdin=text))
    assert "record 100" in res.stdout
    # a client acting for a third party (X-Road-Represented-Party): proved and shown
    proof = prove(gw, "--id", "msg-39")
    assert proof["record"]["represented_party"] == "COM/0101234567"
    res = ok(check(gw, proof))
    assert "represented party: COM/0101234567" in res.stdout
    r = dict(proof["record"])
    for k in ("request_hash", "response_hash", "prev_hash"):
        r[k] = bytes.fromhex(r[k]) if r[k] else b""
    r["request_sig"], r["response_sig"] = r.pop("request_signature"), r.pop("response_signature")
    assert record_hash(r).hex() == proof["record_hash"]


def flip(hexstr, i=0):
    c = "1" if hexstr[i] != "1" else "2"
    return hexstr[:i] + c + hexstr[i + 1:]


@pytest.mark.parametrize("name,edit,want", [
    ("bit flip in path", lambda p: p["audit_path"].__setitem__(2, flip(p["audit_path"][2], 7)),
     "the audit path does not lead to the tree head's root"),
    ("wrong index", lambda p: p.__setitem__("leaf_index", 5),
     "leaf_index 5 does not place record 37"),
    ("truncated path", lambda p: p["audit_path"].pop(),
     "the audit path has the wrong length (3)"),
    ("longer path", lambda p: p["audit_path"].append(p["audit_path"][0]),
     "the audit path has the wrong length (5)"),
    ("changed field", lambda p: p["record"].__setitem__("client", "VN/COM/EVIL/x"),
     "do not hash to record_hash"),
    ("changed status", lambda p: p["record"].__setitem__("status", 500),
     "do not hash to record_hash"),
    ("changed method", lambda p: p["record"].__setitem__("method", "PUT"),
     "do not hash to record_hash"),
    ("changed path", lambda p: p["record"].__setitem__("path", "/citizens/070182917807"),
     "do not hash to record_hash"),
    ("changed subjects", lambda p: p["record"].__setitem__("subjects", "012345678901"),
     "do not hash to record_hash"),
    ("changed user id", lambda p: p["record"].__setitem__("user_id", ""),
     "do not hash to record_hash"),
    ("changed issue", lambda p: p["record"].__setitem__("issue", "x"),
     "do not hash to record_hash"),
    ("changed authenticated", lambda p: p["record"].__setitem__("authenticated", "012345678901"),
     "do not hash to record_hash"),
    ("added represented party",
     lambda p: p["record"].__setitem__("represented_party", "COM/0101234567"),
     "do not hash to record_hash"),
    ("missing represented party", lambda p: p["record"].pop("represented_party"),
     "record.represented_party: expected a string"),
    ("older proof format", lambda p: p.__setitem__("format", "ndx-log-proof/2"),
     "proof.format: expected ndx-log-proof/3"),
    ("missing subjects", lambda p: p["record"].pop("subjects"),
     "record.subjects: expected a string"),
    ("changed root", lambda p: p["tree_head"].__setitem__("root", flip(p["tree_head"]["root"])),
     "does not lead to the tree head's root"),
    ("changed tree size", lambda p: p["tree_head"].__setitem__("size", 17),
     "the audit path has the wrong length"),
    ("changed time", lambda p: p["tree_head"].__setitem__("time_ms", 1),
     "the tree head signature does not verify"),
    ("missing field", lambda p: p["record"].pop("purpose"), "record.purpose: expected a string"),
    ("bad hex", lambda p: p.__setitem__("record_hash", "xyz"), "proof.record_hash: expected 32 bytes"),
])
def test_corrupted_proofs_fail(gw, name, edit, want):
    gw.append(100, 16)
    proof = prove(gw, "--id", "msg-37")
    edit(proof)
    failed(check(gw, proof), "proof does not hold", want)


def test_proof_with_another_key_or_truncated_text_fails(gw, other_pub):
    gw.append(40, 16)
    proof = prove(gw, "--id", "msg-5")
    failed(check(gw, proof, key=other_pub), "the tree head names key")
    text = json.dumps(proof)
    failed(check(gw, text[: len(text) // 2]), "not a JSON proof")


def test_prove_directions_and_refusals(gw):
    gw.append(10, 4, "--pairs")  # each id twice: consumer then provider
    failed(gw.log("prove", "--db", gw.db, "--id", "msg-3"),
           "2 records have X-Road-Id msg-3: 5 (consumer), 6 (provider)", "--direction")
    p = prove(gw, "--id", "msg-3", "--direction", "provider")
    assert p["record"]["seq"] == 6 and p["record"]["direction"] == "provider"
    ok(check(gw, p))
    failed(gw.log("prove", "--db", gw.db, "--id", "msg-999"), "no record with X-Road-Id msg-999")
    failed(gw.log("prove", "--db", gw.db, "--seq", "999"), "no record 999")
    gw.sql("UPDATE records SET purpose = 'x' WHERE seq = 2")
    failed(gw.log("prove", "--db", gw.db, "--seq", "2"), "does not verify")


# ---- kill -9 -------------------------------------------------------------------

def test_kill_9_loses_no_acknowledged_record(gw, build_dir):
    gw.append(32, 16)
    proc = subprocess.Popen([str(fixture_exe(build_dir)), "--db", str(gw.db), "--key",
                             str(gw.key), "--count", "50", "--batch-max", "1000",
                             "--interval-ms", "600000", "--hang"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=TIMEOUT)
    res = ok(gw.verify("--key", gw.pub))
    assert "82 checked (1..82), 32 under 2 tree heads, 50 in the open batch" in res.stdout
    failed(gw.log("prove", "--db", gw.db, "--id", "msg-60"), "open batch")
    gw.append(0)  # reopening seals what the crash left open
    res = ok(gw.verify("--key", gw.pub))
    assert "82 checked (1..82), 82 under 3 tree heads, 0 in the open batch" in res.stdout
    ok(check(gw, prove(gw, "--id", "msg-60")))


# ---- archive -------------------------------------------------------------------

def test_archive_and_verify_as_one_chain(gw, other_pub):
    arch = gw.dir / "archive"
    gw.append(100, 16)
    res = ok(gw.log("archive", "--db", gw.db, "--out", arch, "--older-than", "1"))
    assert "nothing to archive" in res.stdout
    res = ok(gw.log("archive", "--db", gw.db, "--out", arch))
    assert "archived batches 1..7 (records 1..100, 100 records)" in res.stdout
    first = arch / "ndx-log-000000000001-000000000007.sqlite"
    assert first.is_file()
    con = sqlite3.connect(gw.db)
    assert con.execute("SELECT count(*) FROM records").fetchone()[0] == 0
    con.close()
    res = ok(gw.verify())
    assert "records before" in res.stdout and "--archive" in res.stdout
    # the archive is a self-contained log file of its own
    ok(gw.log("verify", "--db", first, "--key", gw.pub))

    gw.append(40, 16)  # msg-101.. go on in the live log
    res = ok(gw.verify("--archive", arch))
    assert "archives: 1 files" in res.stdout
    assert "140 checked (1..140)" in res.stdout
    res = ok(gw.log("archive", "--db", gw.db, "--out", arch, "--older-than", "0"))
    assert "archived batches 8..10 (records 101..140, 40 records)" in res.stdout
    gw.append(5, 16)
    res = ok(gw.verify("--archive", arch, "--key", gw.pub))
    assert "archives: 2 files" in res.stdout and "145 checked (1..145)" in res.stdout
    failed(gw.verify("--archive", arch, "--key", other_pub), "archive ndx-log-000000000001",
           "batch 1: signed by key")
    ok(check(gw, prove(gw, "--id", "msg-143")))
    failed(gw.log("prove", "--db", gw.db, "--id", "msg-3"), "no record with X-Road-Id msg-3")

    # damage in an archive is named with the file; a missing file breaks the chain
    con = sqlite3.connect(first)
    con.execute("UPDATE records SET status = 201 WHERE seq = 12")
    con.commit()
    con.close()
    failed(gw.verify("--archive", arch),
           "archive ndx-log-000000000001-000000000007.sqlite: record 12: stored hash")
    first.unlink()
    failed(gw.verify("--archive", arch), "starts at record 101, but no archive holds the "
           "records before it")


def test_archive_refuses_a_damaged_log(gw):
    gw.append(40, 16)
    gw.sql("UPDATE records SET status = 500 WHERE seq = 4")
    failed(gw.log("archive", "--db", gw.db, "--out", gw.dir / "a"),
           "does not verify, nothing archived", "record 4")
    assert not (gw.dir / "a").exists() or not any((gw.dir / "a").iterdir())


# ---- command line --------------------------------------------------------------

def test_usage_errors(gw, build_dir):
    usage_error(run_ndx(build_dir, "log"), "log needs a subcommand")
    usage_error(run_ndx(build_dir, "log", "frobnicate"), "unknown log subcommand")
    usage_error(run_ndx(build_dir, "log", "verify"), "needs --db")
    usage_error(run_ndx(build_dir, "log", "prove", "--db", gw.db), "exactly one of --id")
    usage_error(run_ndx(build_dir, "log", "prove", "--db", gw.db, "--id", "x", "--direction",
                        "up"), "--direction must be")
    usage_error(run_ndx(build_dir, "log", "prove", "--db", gw.db, "--seq", "-1"), "--seq")
    usage_error(run_ndx(build_dir, "log", "check-proof", "p.json"), "needs --key")
    usage_error(run_ndx(build_dir, "log", "verify", "--db", gw.db, "--out", "x"),
                "does not take --out")
    usage_error(run_ndx(build_dir, "log", "archive", "--db", gw.db, "--out", "x",
                        "--older-than", "soon"), "--older-than")
    res = ok(run_ndx(build_dir, "log", "--help"))
    assert "ndx log verify --db PATH" in res.stdout
    assert "ndx-msglog/3" in res.stdout and "subjects the provider" in res.stdout
    assert "represented party" in res.stdout
    assert "log " in ok(run_ndx(build_dir, "--help")).stdout


# ---- witnessed tree heads (docs/protocol.md "Witnessed tree heads") -------------------

def anchor_file(path, private_key):
    raw = private_key.public_key().public_bytes(serialization.Encoding.Raw,
                                                serialization.PublicFormat.Raw)
    path.write_text(json.dumps({
        "format": "ndx-anchor/1", "instance": "VN", "registry_url": "http://127.0.0.1:4400",
        "generated_at": "2026-11-23T09:00:00Z",
        "keys": [{"key_id": hashlib.sha256(raw).hexdigest(),
                  "public_key": base64.b64encode(raw).decode()}]}))
    return hashlib.sha256(raw).hexdigest()


def countersign(gw, witness_key, key_id, batch, gateway="VN/GOV/BCA/gw1", tweak=False):
    """Writes a countersignature of the log's tree head of batch, made here from the
    documented encoding alone, as the gateway stores the registry's."""
    con = sqlite3.connect(gw.db)
    con.row_factory = sqlite3.Row
    b = dict(con.execute("SELECT * FROM batches WHERE batch = ?", (batch,)).fetchone())
    h = sth_hash(b)
    if tweak:
        h = bytes([h[0] ^ 1]) + h[1:]
    t = b["time_ms"] + 500
    sig = witness_key.sign(witness_message(gateway, batch, h, t))
    con.execute("INSERT INTO witnesses(batch, gateway, sth_hash, time_ms, key_id, signature)"
                " VALUES (?, ?, ?, ?, ?, ?)", (batch, gateway, h, t, key_id, sig))
    con.commit()
    con.close()


def test_verify_checks_countersignatures_with_the_anchor(gw, tmp_path):
    gw.append(40, 8)
    res = ok(gw.verify())
    assert "witnessed: no tree head of this log has been countersigned" in res.stdout
    reg = ed25519.Ed25519PrivateKey.generate()
    kid = anchor_file(tmp_path / "anchor.json", reg)
    anchor_file(tmp_path / "other-anchor.json", ed25519.Ed25519PrivateKey.generate())
    countersign(gw, reg, kid, 2)
    countersign(gw, reg, kid, 4)
    res = ok(gw.verify("--key", gw.pub, "--anchor", tmp_path / "anchor.json"))
    assert "witnessed: batch 4 (of VN/GOV/BCA/gw1) countersigned at " in res.stdout
    assert "2 countersignatures verified with the anchor" in res.stdout
    assert "witnessed: batches 5..5 not countersigned yet" in res.stdout
    failed(gw.verify("--anchor", tmp_path / "other-anchor.json"),
           "batch 2: countersigned with key", "not a key of the anchor")
    failed(gw.verify("--anchor", tmp_path / "missing.json"), "cannot read the anchor")
    usage_error(gw.log("prove", "--db", gw.db, "--seq", "1", "--anchor", tmp_path),
                "does not take --anchor")
    # a countersignature of another head than the log's: the history was rewritten
    gw.sql("DELETE FROM witnesses WHERE batch = 4")
    countersign(gw, reg, kid, 4, tweak=True)
    failed(gw.verify("--anchor", tmp_path / "anchor.json"),
           "batch 4: the witnessed tree head", "rewritten or forked")
