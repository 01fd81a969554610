"""Metering of the data marketplace (docs/marketplace.md "Metering and statements"):
BHXH negotiates a priced agreement for BCA's echo service (test_marketplace.py's
setup), calls it, and both gateways make a signed usage statement of the agreement
from their own message logs (`ndx market statement`); each checks the other's with
`ndx market check-statement` against its own log. A statement altered after signing,
one whose signer drops or invents exchanges and signs again, one of another period,
one signed by another key and one whose proofs point at another tree head are each
refused or reported. The statement hash is recomputed here from docs/protocol.md
"Usage statements" alone, to re-sign the dishonest statements as their signer could."""

import base64
import datetime
import hashlib
import json
import os
import subprocess
import time
import uuid

import pytest

import federation as F
from logspec import field, u64
from test_marketplace import finalize, offer_of, request, setup_market, wait_gateways

CALLS = 4          # the agreement's maximum per day, all used
PRICE = 500        # VND a call (the open offer's price)


def ndx(fed, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("NDX_")}
    return subprocess.run([str(F.ndx_exe(fed.build_dir)), *map(str, args)],
                          capture_output=True, text=True, timeout=60, env=env)


def gw_files(fed, name):
    gw = fed.gateways[name]
    data = gw.dir / "data"
    return {"db": data / "msglog.db", "conf": data / "conf", "key": gw.ident.sign_key,
            "pub": gw.ident.sign_pub}


def period_args(fed):
    return ["--from", fed.period[0], "--to", fed.period[1]]


def make_statement(fed, name, agreement=None, extra=()):
    """`ndx market statement` on gateway name's host; retried while the last calls are
    still in the open batch (the CLI says so and exits 1)."""
    f = gw_files(fed, name)
    args = ["market", "statement", "--db", f["db"], "--key", f["key"], "--conf", f["conf"],
            "--anchor", fed.registry.anchor, "--agreement", agreement or fed.agreement,
            *(extra or period_args(fed))]
    for _ in range(50):
        res = ndx(fed, *args)
        if "not under a signed tree head yet" not in res.stderr:
            return res
        time.sleep(0.1)
    return res


def check(fed, name, statement, extra=None, key=None):
    """`ndx market check-statement` on gateway name's host against its own log."""
    path = fed.workdir / f"statement-{uuid.uuid4().hex}.json"
    path.write_text(statement if isinstance(statement, str) else json.dumps(statement))
    f = gw_files(fed, name)
    who = ["--key", key] if key else ["--conf", f["conf"], "--anchor", fed.registry.anchor]
    return ndx(fed, "market", "check-statement", path, "--db", f["db"], *who,
               *(extra if extra is not None else period_args(fed)))


def b64(s):
    return base64.b64decode(s)


def sth_hash(h):
    msg_ = (field(b"ndx-log-sth-v1") + u64(h["batch"]) + u64(h["first_seq"]) + u64(h["size"])
            + field(bytes.fromhex(h["root"])) + u64(h["time_ms"])
            + field(bytes.fromhex(h["prev_sth_hash"])))
    return hashlib.sha256(msg_ + field(b64(h["signature"]))).digest()


def statement_hash(s):
    """docs/protocol.md "Usage statements", field by field."""
    parts = [field(b"ndx-usage-statement-v1")]
    parts += [field(s[k].encode()) for k in ("agreement", "client", "service", "side",
                                             "gateway")]
    parts += [u64(s["from_ms"]), u64(s["to_ms"]), u64(s["price"]), field(s["unit"].encode()),
              u64(s["count"]), u64(s["amount_due"]), u64(s["made_ms"]),
              field(sth_hash(s["tree_head"])), u64(len(s["exchanges"]))]
    for x in s["exchanges"]:
        parts += [field(x["message_id"].encode()), u64(x["time_ms"]), u64(x["seq"]),
                  u64(x["batch"]), field(bytes.fromhex(x["record_hash"]))]
    return hashlib.sha256(b"".join(parts)).digest()


def resign(fed, name, s):
    """Signs s again with gateway name's own key: what a dishonest signer can do."""
    s["signature"] = base64.b64encode(
        fed.gateways[name].ident.private_key().sign(statement_hash(s))).decode()
    return s


def vn_month(ms):
    t = datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone(datetime.timedelta(hours=7)))
    return f"{t.year:04d}-{t.month:02d}"


@pytest.fixture(scope="module")
def fed(build_dir):
    with F.running_federation(build_dir, "ndx-meter-", setup=setup_market) as f:
        negotiate(f)
        yield f


def negotiate(fed):
    """A priced agreement (500 VND a call, CALLS a day) through every state; then CALLS
    calls, one more refused over the maximum, and the period that holds them."""
    start = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    r = request(fed, "bhxh", offer_of(fed, fed.offer_ids[0], CALLS), client=F.INSURANCE)
    assert r.status_code == 201, r.text
    neg = r.json()
    agreement = {**offer_of(fed, f"urn:uuid:{uuid.uuid4()}", CALLS), "@type": "Agreement",
                 "timestamp": F.rfc3339(), "assigner": F.BCA, "assignee": F.BHXH}
    r = finalize(fed, neg, agreement)
    wait_gateways(fed, r.json()["ndx:confVersion"])
    fed.agreement = agreement["@id"]
    fed.ids = []
    for i in range(CALLS):
        xid = f"meter-{i}-{uuid.uuid4().hex[:8]}"
        r = fed.call("BHXH", "GET", F.ECHO, f"/m{i}", client=F.INSURANCE, xid=xid)
        assert r.status_code == 200, f"{r.status_code} {r.text}\n{fed.tails()}"
        fed.ids.append(xid)
    # Over the maximum: refused, and so on neither side's statement.
    fed.refused_id = "meter-over-" + uuid.uuid4().hex[:8]
    r = fed.call("BHXH", "GET", F.ECHO, "/over", client=F.INSURANCE, xid=fed.refused_id)
    assert r.status_code == 429, r.text
    end = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    fed.period = ((start - datetime.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                  (end + datetime.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ"))
    fed.statements = {}
    for name in ("BCA", "BHXH"):
        res = make_statement(fed, name)
        assert res.returncode == 0, res.stderr
        fed.statements[name] = json.loads(res.stdout)


def test_both_sides_state_the_same_use(fed):
    p, c = fed.statements["BCA"], fed.statements["BHXH"]
    assert p["format"] == c["format"] == "ndx-usage-statement/1"
    assert (p["side"], c["side"]) == ("provider", "consumer")
    assert p["gateway"] == "VN/GOV/BCA/gw1" and c["gateway"].startswith(F.BHXH + "/")
    for s in (p, c):
        assert s["agreement"] == fed.agreement
        assert s["client"] == F.INSURANCE and s["service"] == F.ECHO
        assert [x["message_id"] for x in s["exchanges"]] == fed.ids
        assert s["count"] == CALLS and s["unit"] == "ndx:VNDPerCall" and s["price"] == PRICE
        assert s["amount_due"] == CALLS * PRICE and s["currency"] == "VND"
        # The statement hash documented in docs/protocol.md is what was signed.
        key = fed.gateways["BCA" if s is p else "BHXH"].ident.private_key().public_key()
        key.verify(b64(s["signature"]), statement_hash(s))
    # Each side's statement agrees with the other side's log.
    for signer, checker in (("BCA", "BHXH"), ("BHXH", "BCA")):
        res = check(fed, checker, fed.statements[signer])
        assert res.returncode == 0, res.stderr
        rep = json.loads(res.stdout)
        assert rep["agree"] is True and rep["count"] == rep["own_count"] == CALLS
        assert rep["amount_due"] == rep["own_amount"] == CALLS * PRICE
        assert rep["only_in_statement"] == rep["only_in_own_log"] == []


def test_each_exchange_is_proven_in_the_signers_log(fed):
    """A listed exchange's record is the one `ndx log prove` gives for its X-Road-Id, in
    the batch whose signed tree head the statement carries."""
    s = fed.statements["BCA"]
    x = s["exchanges"][0]
    res = ndx(fed, "log", "prove", "--db", gw_files(fed, "BCA")["db"], "--id", x["message_id"],
              "--direction", "provider")
    assert res.returncode == 0, res.stderr
    proof = json.loads(res.stdout)
    assert proof["record_hash"] == x["record_hash"] and proof["leaf_index"] == x["leaf_index"]
    assert proof["audit_path"] == x["audit_path"]
    assert proof["tree_head"]["batch"] == x["batch"]
    assert proof["tree_head"]["signature"] in [h["signature"] for h in s["tree_heads"]]
    # The statement names exchanges, not what they were about (T62).
    assert set(x) == {"message_id", "time_ms", "time", "seq", "batch", "leaf_index",
                      "record_hash", "audit_path"}
    assert proof["record"]["path"] == "/m0" and "/m0" not in json.dumps(s)


def test_month_in_vietnam_time(fed):
    month = vn_month(fed.statements["BCA"]["exchanges"][0]["time_ms"])
    if vn_month(fed.statements["BCA"]["exchanges"][-1]["time_ms"]) != month:
        pytest.skip("the calls straddle a month's end in Vietnam")
    res = make_statement(fed, "BCA", extra=["--month", month])
    assert res.returncode == 0, res.stderr
    s = json.loads(res.stdout)
    assert s["count"] == CALLS
    y, m = map(int, month.split("-"))
    vn = datetime.timezone(datetime.timedelta(hours=7))
    assert s["from_ms"] == int(datetime.datetime(y, m, 1, tzinfo=vn).timestamp() * 1000)
    res = check(fed, "BHXH", s, extra=["--month", month])
    assert res.returncode == 0, res.stderr
    # Asked about another period, the checker refuses it.
    other = f"{y - 1:04d}-{m:02d}"
    res = check(fed, "BHXH", s, extra=["--month", other])
    assert res.returncode == 1 and "not the period asked" in res.stderr, res.stderr


def refused(fed, statement, want, checker="BHXH", **kw):
    res = check(fed, checker, statement, **kw)
    assert res.returncode == 1, res.stdout + res.stderr
    assert "statement refused" in res.stderr and want in res.stderr, res.stderr
    return res


def test_altered_statements_are_refused(fed):
    base = fed.statements["BCA"]

    def altered(**kw):
        s = json.loads(json.dumps(base))
        s.update(kw)
        return s
    # Altered after signing, in any signed field.
    refused(fed, altered(count=CALLS - 1), "signature does not verify")
    refused(fed, altered(amount_due=PRICE), "signature does not verify")
    # One exchange left out, from a batch that still has another (under load the
    # calls may fall in two batches, and a batch no exchange names is refused first).
    xs = base["exchanges"]
    i = next((i for i, x in enumerate(xs) if sum(y["batch"] == x["batch"] for y in xs) > 1), 0)
    refused(fed, altered(exchanges=xs[:i] + xs[i + 1:]),
            "signature does not verify" if len({x["batch"] for x in xs}) < len(xs)
            else "expected the tree head of each batch")
    refused(fed, altered(from_ms=base["from_ms"] + 1000), "signature does not verify")
    # Signed again by its own signer, the statement still contradicts itself.
    refused(fed, resign(fed, "BCA", altered(count=CALLS - 1)), f"count {CALLS - 1} but")
    refused(fed, resign(fed, "BCA", altered(amount_due=PRICE)), "amount due 500 VND, but")
    s = altered()
    s["exchanges"][1]["record_hash"] = hashlib.sha256(b"no such record").hexdigest()
    refused(fed, resign(fed, "BCA", s), "audit path does not lead")
    # A wrong period: an exchange outside the period it states.
    s = altered(from_ms=base["exchanges"][1]["time_ms"] + 1)
    refused(fed, resign(fed, "BCA", s), "outside the statement's period")
    # A statement signed by another gateway's key in BCA's name.
    refused(fed, resign(fed, "BHXH", altered()), "signature does not verify")
    # Checked with a key that is not the signer's.
    refused(fed, base, "not the signer's key", key=gw_files(fed, "BHXH")["pub"])
    # Made against another price than the agreement's.
    refused(fed, resign(fed, "BCA", altered(price=1, amount_due=CALLS)),
            "but the agreement's is 500 VND")
    # Its signer is no party to the agreement (BTC's gateway signing in BTC's name).
    s = altered(gateway=fed.statements["BHXH"]["gateway"].replace(F.BHXH, F.BTC))
    refused(fed, s, "is not the provider of agreement")
    # A proof against another tree head: every exchange proven against the consumer
    # gateway's signed head (real, but of another log and key).
    s = altered()
    head = fed.statements["BHXH"]["tree_heads"][0]
    for x in s["exchanges"]:
        x["batch"] = head["batch"]
    s["tree_heads"] = [head]
    refused(fed, resign(fed, "BCA", s), f"tree head of batch {head['batch']} does not verify")
    # Not a statement at all.
    refused(fed, "{\"format\": \"ndx-log-proof/3\"}", "format: expected ndx-usage-statement/1")


def test_dropped_and_invented_exchanges_are_reported(fed):
    """The signer re-signs a statement without one exchange and with one invented from
    another record of its log (a real record, proven, under another X-Road-Id): the
    proofs hold, and the comparison with the other side's log names both."""
    s = json.loads(json.dumps(fed.statements["BCA"]))
    dropped = s["exchanges"].pop(1)
    # The refused call's record is in the provider's log, proven like any other.
    res = ndx(fed, "log", "prove", "--db", gw_files(fed, "BCA")["db"], "--id", fed.refused_id,
              "--direction", "provider")
    assert res.returncode == 0, res.stderr
    proof = json.loads(res.stdout)
    rec = proof["record"]
    s["exchanges"].append({"message_id": "invented-" + uuid.uuid4().hex[:6],
                           "time_ms": rec["time_ms"], "time": rec["time"], "seq": rec["seq"],
                           "batch": proof["tree_head"]["batch"],
                           "leaf_index": proof["leaf_index"],
                           "record_hash": proof["record_hash"],
                           "audit_path": proof["audit_path"]})
    head = {k: v for k, v in proof["tree_head"].items() if k != "public_key"}
    if head["batch"] != s["tree_heads"][-1]["batch"]:
        s["tree_heads"].append(head)
    resign(fed, "BCA", s)
    res = check(fed, "BHXH", s)
    assert res.returncode == 1, res.stdout + res.stderr
    rep = json.loads(res.stdout)
    assert rep["agree"] is False
    assert rep["only_in_statement"] == [s["exchanges"][-1]["message_id"]]
    assert rep["only_in_own_log"] == [dropped["message_id"]]
    assert rep["count"] == rep["own_count"] == CALLS
    assert "does not agree with this log" in res.stderr


def test_statement_refusals_at_the_source(fed):
    """Only a party's gateway can state an agreement's use, and only of one in force."""
    res = make_statement(fed, "BCA", agreement="urn:uuid:" + str(uuid.uuid4()))
    assert res.returncode == 1 and "is not in force" in res.stderr, res.stderr
    # BTC's gateway (no party) with its own key and log.
    res = make_statement(fed, "BTC")
    assert res.returncode == 1 and "is a party to neither side" in res.stderr, res.stderr
    # BCA's log signed with BHXH's key: not the log's key.
    f = gw_files(fed, "BCA")
    res = ndx(fed, "market", "statement", "--db", f["db"], "--key",
              gw_files(fed, "BHXH")["key"], "--conf", f["conf"], "--anchor",
              fed.registry.anchor, "--agreement", fed.agreement, *period_args(fed))
    assert res.returncode == 1 and "was written with key" in res.stderr, res.stderr
    for bad in (["--month", "2026-13"], ["--from", fed.period[0]],
                ["--month", "2026-12", "--from", fed.period[0], "--to", fed.period[1]]):
        res = make_statement(fed, "BCA", extra=bad)
        assert res.returncode == 2, res.stderr


def invoice(fed, statement, *extra, who=None):
    path = fed.workdir / f"statement-{uuid.uuid4().hex}.json"
    path.write_text(json.dumps(statement))
    f = gw_files(fed, "BCA")
    who = who or ["--conf", f["conf"], "--anchor", fed.registry.anchor]
    return ndx(fed, "market", "invoice", path, *who, *extra)


def test_invoice_of_a_checked_statement(fed):
    """The invoice of a priced agreement's checked statement: the amount due, a payment
    reference that names the statement, and the VietQR transfer to the seller."""
    s = fed.statements["BHXH"]  # either side's statement, once checked, bills the same
    pay = ["--bin", "970436", "--account", "0011004455", "--account-name", "BO CONG AN"]
    res = invoice(fed, s, *pay)
    assert res.returncode == 0, res.stderr
    inv = json.loads(res.stdout)
    assert inv["format"] == "ndx-invoice/1" and inv["agreement"] == fed.agreement
    assert (inv["seller"], inv["buyer"], inv["client"]) == (F.BCA, F.BHXH, F.INSURANCE)
    assert inv["count"] == CALLS and inv["amount_vnd"] == CALLS * PRICE
    assert inv["statement_hash"] == statement_hash(s).hex()
    assert inv["reference"] == "MK" + statement_hash(s).hex()[:23].upper()
    # VietQR (include/ndx/vietqr.h): the seller's account, the amount (ID 54), the
    # reference as the purpose (ID 62, sub-ID 08).
    qr = inv["vietqr"]
    assert "0010A000000727" in qr and "0006970436" in qr and "01100011004455" in qr
    assert f"5404{CALLS * PRICE}" in qr and "0825" + inv["reference"] in qr
    # Only from a statement that checks, with a transfer that can be made, for something due.
    bad = json.loads(json.dumps(s))
    bad["amount_due"] += PRICE
    res = invoice(fed, bad, *pay)
    assert res.returncode == 1 and "statement refused" in res.stderr, res.stderr
    res = invoice(fed, s, "--bin", "97043", "--account", "0011004455")
    assert res.returncode == 1 and "cannot make the VietQR transfer" in res.stderr
    free = resign(fed, "BHXH", {**json.loads(json.dumps(s)), "price": 0, "unit": "free",
                                "amount_due": 0})
    res = invoice(fed, free, *pay, who=["--key", gw_files(fed, "BHXH")["pub"]])
    assert res.returncode == 1 and "nothing is due" in res.stderr, res.stderr
    res = invoice(fed, s, "--bin", "970436")
    assert res.returncode == 2
