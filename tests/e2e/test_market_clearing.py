"""The marketplace's clearing (docs/marketplace.md "Invoices and clearing") end to end: a
real registry started with two member banks' receipt keys (`--bank-key BIN=FILE`), real
gateways, a priced agreement (500 VND a call) used CALLS times, both sides' signed usage
statements (test_market_statement.py's negotiate). The seller records the invoice of a
statement with `POST /market/invoices` — checked as `ndx market invoice` checks it, the
same invoice — and a bank's signed receipt (docs/payment.md "Receipts": a JWS, EdDSA,
kid the bank's BIN, typ ndx-receipt) posted to `POST /market/receipts` marks it paid.
Refusals: a statement that does not check, one with nothing due, another statement for the
same agreement and period, someone other than the seller recording; receipts with a bad
signature, from an unknown bank, of another typ, for another amount or an unknown
reference, and a second payment of a paid invoice. Who sees which invoice: the seller and
the buyer theirs, a stranger none, an admin all."""

import base64
import json
import subprocess
import uuid

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

import federation as F
from test_market_statement import (CALLS, PRICE, gw_files, invoice, make_statement, negotiate,
                                   resign, statement_hash)
from test_marketplace import BANK, auth, get, post, setup_market

BIN, OTHER_BIN, UNKNOWN_BIN = "970436", "970422", "970499"
ACCOUNT = {"bin": "970436", "account": "0011004455", "account_name": "BO CONG AN"}


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def receipt(key, reference, amount, bin_=BIN, txn=None, typ="ndx-receipt"):
    """A bank's receipt as docs/payment.md "Receipts" defines it."""
    header = json.dumps({"alg": "EdDSA", "kid": bin_, "typ": typ}, separators=(",", ":"))
    payload = json.dumps({"reference": reference, "amount_vnd": amount, "bank_bin": bin_,
                          "txn_id": txn or uuid.uuid4().hex, "paid_at": F.rfc3339(),
                          "to_account": ACCOUNT["account"]}, separators=(",", ":"))
    signing = b64u(header.encode()) + "." + b64u(payload.encode())
    return signing + "." + b64u(key.sign(signing.encode()))


def pem_public(key):
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


def clearing_federation(build_dir, tmp_path_factory):
    """A federation whose registry knows both banks' receipt keys, with BHXH's agreement
    to BCA's priced service used and both sides' statements made (f.statements)."""
    keys = tmp_path_factory.mktemp("banks")
    banks = {b: ed25519.Ed25519PrivateKey.generate() for b in (BIN, OTHER_BIN)}
    extra = []
    for b, k in banks.items():
        (keys / f"{b}.pub").write_bytes(pem_public(k))
        extra += ["--bank-key", f"{b}={keys / f'{b}.pub'}"]
    with F.running_federation(build_dir, "ndx-clear-", setup=setup_market,
                              registry_kw={"extra": extra}) as f:
        f.banks = banks
        negotiate(f)
        yield f


@pytest.fixture(scope="module")
def fed(build_dir, tmp_path_factory):
    yield from clearing_federation(build_dir, tmp_path_factory)


def record(fed, statement, who="bca", **account):
    return post(fed, "/market/invoices", who,
                {"statement": statement, **(account or ACCOUNT)})


def recorded(fed):
    """The invoice of BHXH's (the buyer's) statement, recorded by BCA (the seller): 201
    the first time, the same invoice (200) after."""
    r = record(fed, fed.statements["BHXH"])
    assert r.status_code in (200, 201), r.text
    return r.json()


def send(fed, jws):
    return requests.post(fed.registry.url + "/market/receipts", json={"receipt": jws},
                         timeout=10)


def refused(r, status, message, words):
    assert r.status_code == status, r.text
    doc = r.json()
    assert doc["message"] == message, doc
    assert words in doc["detail"], doc
    assert r.headers["X-Road-Error"] == doc["type"]


def test_invoice_recorded_as_the_cli_makes_it(fed):
    s = fed.statements["BHXH"]
    r = record(fed, s)
    assert r.status_code == 201, r.text
    inv = r.json()
    # The same document `ndx market invoice` makes of the statement (one computation,
    # ndx_usage_invoice), with its state.
    res = invoice(fed, s, "--bin", ACCOUNT["bin"], "--account", ACCOUNT["account"],
                  "--account-name", ACCOUNT["account_name"])
    assert res.returncode == 0, res.stderr
    assert {k: v for k, v in inv.items()
            if k not in ("status", "recorded_at")} == json.loads(res.stdout)
    assert inv["status"] == "open" and "paid_at" not in inv
    assert (inv["seller"], inv["buyer"], inv["agreement"]) == (F.BCA, F.BHXH, fed.agreement)
    assert inv["count"] == CALLS and inv["amount_vnd"] == CALLS * PRICE
    assert inv["reference"] == "MK" + statement_hash(s).hex()[:23].upper()
    # The same statement again: the invoice as recorded (idempotent), whatever account.
    r = record(fed, json.dumps(s), bin="970422", account="99")
    assert r.status_code == 200 and r.json() == inv, r.text
    # The other side's statement of the same agreement and period: another statement; one
    # of a period that overlaps the invoiced one would bill its exchanges again.
    refused(record(fed, fed.statements["BCA"]), 409, "invoiced already", inv["reference"])
    res = make_statement(fed, "BCA", extra=["--from", fed.period[0],
                                            "--to", "2099-01-01T00:00:00Z"])
    assert res.returncode == 0, res.stderr
    refused(record(fed, json.loads(res.stdout)), 409, "invoiced already", inv["reference"])
    # Recorded once, in the audit trail.
    r = fed.registry.api("GET", "/api/audit?action=invoice.record")
    assert r.status_code == 200
    entries = r.json()["audit"]
    assert [e["object"] for e in entries] == [inv["reference"]]


def test_invoice_refusals(fed):
    s = fed.statements["BHXH"]
    # Only the seller, with its member credential.
    assert post(fed, "/market/invoices", None, {"statement": s, **ACCOUNT}).status_code == 401
    refused(record(fed, s, "admin"), 403, "not a seller", "seller")
    refused(record(fed, s, "bhxh"), 404, "not found", "provider")
    refused(record(fed, s, "btc"), 404, "not found", "provider")
    # A statement that does not check: altered after signing; signed by a key that is not
    # its gateway's; a price that is not the agreement's.
    bad = json.loads(json.dumps(s))
    bad["amount_due"] += PRICE
    refused(record(fed, bad), 400, "statement refused", "")
    forged = resign(fed, "BCA", json.loads(json.dumps(s)))  # BCA's key, BHXH's gateway
    refused(record(fed, forged), 400, "statement refused", "")
    cheap = resign(fed, "BHXH", {**json.loads(json.dumps(s)), "price": 1,
                                 "amount_due": CALLS})
    refused(record(fed, cheap), 400, "statement refused", "price 1 VND")
    refused(record(fed, "not a statement"), 400, "statement refused", "")
    # Nothing due: a real statement of a period without use.
    res = make_statement(fed, "BCA", extra=["--from", "2020-01-01T00:00:00Z",
                                            "--to", "2020-01-02T00:00:00Z"])
    assert res.returncode == 0, res.stderr
    refused(record(fed, json.loads(res.stdout)), 400, "no invoice", "nothing is due")
    # An account VietQR cannot carry; a request without one; stray fields.
    refused(record(fed, s, bin="97043", account="1"), 400, "no invoice", "VietQR")
    refused(post(fed, "/market/invoices", "bca", {"statement": s}), 400, "invalid invoice",
            "bin")
    refused(post(fed, "/market/invoices", "bca", {"statement": s, "amount": 1, **ACCOUNT}),
            400, "invalid invoice", "amount")
    log = fed.registry.stderr_path.read_text(errors="replace")
    assert "POST /market/invoices refused 400 statement refused" in log


def test_who_sees_which_invoice(fed):
    inv = recorded(fed)
    ref = inv["reference"]
    for who in ("bca", "bhxh"):
        r = get(fed, "/market/invoices", who)
        assert r.status_code == 200 and [i["reference"] for i in r.json()["invoices"]] == [ref]
        r = get(fed, f"/market/invoices/{ref}", who)
        assert r.status_code == 200 and r.json()["reference"] == ref, r.text
    r = get(fed, f"/market/invoices?member={F.BCA}", "bca")
    assert r.status_code == 200 and len(r.json()["invoices"]) == 1
    # A stranger sees none, and not another member's.
    for who in ("btc", "bank"):
        r = get(fed, "/market/invoices", who)
        assert r.status_code == 200 and r.json() == {"invoices": []}, r.text
        assert get(fed, f"/market/invoices/{ref}", who).status_code == 404
    assert get(fed, f"/market/invoices?member={F.BCA}", "btc").status_code == 403
    assert get(fed, "/market/invoices?member=VN/GOV", "admin").status_code == 400
    assert get(fed, "/market/invoices", None).status_code == 401
    # An admin sees all, or one member's; the console reads them (auditors included).
    r = get(fed, "/market/invoices", "admin")
    assert [i["reference"] for i in r.json()["invoices"]] == [ref]
    r = get(fed, f"/market/invoices?member={BANK}", "admin")
    assert r.json() == {"invoices": []}
    r = fed.registry.api("GET", f"/api/market/invoices?member={F.BHXH}")
    assert r.status_code == 200 and [i["reference"] for i in r.json()["invoices"]] == [ref]
    assert get(fed, "/market/invoices/MK" + "0" * 23, "admin").status_code == 404
    assert requests.delete(fed.registry.url + "/market/invoices", headers=auth(fed, "bca"),
                           timeout=10).status_code == 405


def test_receipts_refused(fed):
    ref = recorded(fed)["reference"]
    amount = CALLS * PRICE
    forger = ed25519.Ed25519PrivateKey.generate()
    # A bad signature: another key under the bank's BIN; a bank's key under another
    # bank's BIN.
    refused(send(fed, receipt(forger, ref, amount)), 403, "forged", "does not verify")
    refused(send(fed, receipt(fed.banks[BIN], ref, amount, bin_=OTHER_BIN)), 403, "forged",
            f"bank {OTHER_BIN}'s key")
    # A bank the registry was not given.
    refused(send(fed, receipt(forger, ref, amount, bin_=UNKNOWN_BIN)), 403, "forged",
            f"no member bank with BIN {UNKNOWN_BIN}")
    # Not a receipt.
    refused(send(fed, receipt(fed.banks[BIN], ref, amount, typ="JWT")), 403, "forged",
            "typ JWT")
    # Not a JWS: no signature, "alg": "none", no receipt at all.
    whole = receipt(fed.banks[BIN], ref, amount)
    refused(send(fed, whole.rsplit(".", 1)[0] + "."), 400, "invalid", "not a JWS")
    none = b64u(b'{"alg":"none","kid":"970436","typ":"ndx-receipt"}') + "." + \
        whole.split(".")[1] + "."
    refused(send(fed, none), 400, "invalid", "not a JWS")
    refused(requests.post(fed.registry.url + "/market/receipts", json={"jws": whole},
                          timeout=10), 400, "invalid", "receipt")
    # Another amount; a reference no invoice has.
    refused(send(fed, receipt(fed.banks[BIN], ref, amount - 1)), 409, "amount_mismatch",
            f"asks {amount} VND")
    refused(send(fed, receipt(fed.banks[BIN], "MK" + "0" * 23, amount)), 404, "not_found",
            "MK" + "0" * 23)
    # None of them paid it.
    assert get(fed, f"/market/invoices/{ref}", "bca").json()["status"] == "open"
    log = fed.registry.stderr_path.read_text(errors="replace")
    for line in ("POST /market/receipts refused 403 forged", "refused 409 amount_mismatch",
                 "refused 404 not_found", "refused 400 invalid"):
        assert line in log, log[-3000:]


def test_receipt_marks_the_invoice_paid_once(fed):
    ref = recorded(fed)["reference"]
    amount = CALLS * PRICE
    txn = "FT" + uuid.uuid4().hex[:16].upper()
    jws = receipt(fed.banks[BIN], ref, amount, txn=txn)
    r = send(fed, jws)
    assert r.status_code == 200, r.text
    paid = r.json()
    assert paid["reference"] == ref and paid["status"] == "paid" and paid["duplicate"] is False
    assert (paid["paid_bank_bin"], paid["paid_txn_id"]) == (BIN, txn) and paid["paid_at"]
    # As the seller and the buyer see it.
    for who in ("bca", "bhxh"):
        inv = get(fed, f"/market/invoices/{ref}", who).json()
        assert (inv["status"], inv["paid_txn_id"], inv["paid_at"]) == \
            ("paid", txn, paid["paid_at"])
    # The same receipt again changes nothing.
    r = send(fed, jws)
    assert r.status_code == 200 and r.json()["duplicate"] is True, r.text
    assert r.json()["paid_at"] == paid["paid_at"]
    # Another transaction for the paid invoice: a second payment, for the bank to return;
    # also from the other bank.
    refused(send(fed, receipt(fed.banks[BIN], ref, amount)), 409, "already_paid", txn)
    refused(send(fed, receipt(fed.banks[OTHER_BIN], ref, amount, bin_=OTHER_BIN)), 409,
            "already_paid", txn)
    r = fed.registry.api("GET", "/api/audit?action=invoice.paid")
    assert [e["object"] for e in r.json()["audit"]] == [ref]
    # Recording the statement again answers the paid invoice.
    r = record(fed, fed.statements["BHXH"])
    assert r.status_code == 200 and r.json()["status"] == "paid", r.text


def test_cli_records_the_invoice(fed):
    """`ndx market invoice --record`: the seller's command records the invoice in the
    registry and prints it as recorded (here the one already recorded, and paid)."""
    tokens = fed.workdir / "tokens"
    tokens.mkdir(exist_ok=True)
    for who in ("bca", "bhxh"):
        (tokens / who).write_text(fed.tokens[who] + "\n")
    pay = ["--bin", ACCOUNT["bin"], "--account", ACCOUNT["account"]]
    reg = ["--record", "--registry", fed.registry.url]
    res = invoice(fed, fed.statements["BHXH"], *pay, *reg, "--token-file", tokens / "bca")
    assert res.returncode == 0, res.stderr
    inv = json.loads(res.stdout)
    assert inv["reference"] == recorded(fed)["reference"] and inv["status"] in ("open", "paid")
    # The buyer cannot record it: the registry's refusal, said.
    res = invoice(fed, fed.statements["BHXH"], *pay, *reg, "--token-file", tokens / "bhxh")
    assert res.returncode == 1 and "404" in res.stderr and "provider" in res.stderr
    # --registry without --record, or on another subcommand, is a usage error.
    res = invoice(fed, fed.statements["BHXH"], *pay, "--registry", fed.registry.url)
    assert res.returncode == 2
    res = subprocess.run([str(F.ndx_exe(fed.build_dir)), "market", "--help"],
                         capture_output=True, text=True, timeout=10)
    assert "--record" in res.stdout and "/market/invoices" in res.stdout


def test_serve_help_names_the_bank_keys(fed):
    res = subprocess.run([str(fed.registry.exe), "serve", "--help"], capture_output=True,
                         text=True, timeout=10)
    assert res.returncode == 0 and "--bank-key BIN=FILE" in res.stdout
    bad = subprocess.run([str(fed.registry.exe), "serve", "--data", "/nonexistent",
                          "--bank-key", "97043=x.pem"], capture_output=True, text=True,
                         timeout=10)
    assert bad.returncode == 2 and "--bank-key" in bad.stderr
    missing = subprocess.run([str(fed.registry.exe), "serve", "--data", "/nonexistent",
                              "--bank-key", f"{BIN}={gw_files(fed, 'BCA')['db']}.none"],
                             capture_output=True, text=True, timeout=10)
    assert missing.returncode == 2 and "cannot read the key" in missing.stderr
