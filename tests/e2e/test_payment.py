"""End-to-end tests of online fee payment (docs/payment.md, docs/portal.md "Fees and
payment") with real processes: a registry, three members each behind its own
ndx-gateway (the portal VN/GOV/VPCP, the State Treasury VN/GOV/KBNN running
`ndx-pay treasury`, a demo bank VN/COM/0100000099 running `ndx-pay bank`), ndx-portal
and the test e-ID of test_portal.py.

Covered: a procedure with a fee waits "unpaid" and is not in the officers' queue; the
portal's payment order made at the treasury through the exchange (the same order when
asked again), its VietQR payload checked field by field and its QR image; the bank's
page read from the payload; the bank's signed receipt through the exchange moving the
application on to the officer; attacks: another citizen asking for the payment (404 at
the portal, 404 at the treasury, 409 for an order with another payer), a forged
receipt (another key, a receipt without a signature), a replayed receipt (ignored,
nothing changes), an amount that differs (a receipt, and a re-sealed QR code at the
bank), a second payment of a paid order; reconciliation of the day per agency; a
rejected application's fee refunded (and a receipt for it refused afterwards)."""

import base64
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

sys.path.insert(0, str(Path(__file__).resolve().parent))

import federation as F  # noqa: E402
from conftest import Registry, free_port, registry_exe  # noqa: E402
from test_portal import (CLIENT_SECRET, PASSWORD, Env, FakeEid, Proc, citizen_login,  # noqa: E402
                         error, exe, officer_login, post)

VPCP, KBNN, BANK = "VN/GOV/VPCP", "VN/GOV/KBNN", "VN/COM/0100000099"
PORTAL, TREASURY, PAYMENTS = VPCP + "/portal", KBNN + "/treasury", BANK + "/payments"
ORDERS, RECEIPTS = TREASURY + "/orders", TREASURY + "/receipts"
BANK_BIN, TREASURY_ACCOUNT = "970499", "7111000000001"
FEE = 20000  # the residence change's fee (src/portal/procedures.c)
ANNA = ("001088000101", "Nguyễn Thị An")
BINH = ("079201000303", "Trần Văn Bình")
ANNA_FIELDS = {"province": "079", "commune": "Phường Bến Thành", "address": "12 Lê Lợi",
               "reason": ""}


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def crc16(data):
    crc = 0xFFFF
    for b in data.encode():
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return f"{crc:04X}"


def tlv(payload):
    """The data objects of an EMV payload, {id: value} (one level)."""
    out, i = {}, 0
    while i < len(payload):
        tag, n = payload[i:i + 2], int(payload[i + 2:i + 4])
        out[tag] = payload[i + 4:i + 4 + n]
        i += 4 + n
    return out


def receipt(key, reference, amount, bin_=BANK_BIN, txn=None, typ="ndx-receipt"):
    header = json.dumps({"alg": "EdDSA", "kid": bin_, "typ": typ}, separators=(",", ":"))
    payload = json.dumps({"reference": reference, "amount_vnd": amount, "bank_bin": bin_,
                          "txn_id": txn or uuid.uuid4().hex,
                          "paid_at": "2026-12-03T10:00:00Z"}, separators=(",", ":"))
    signing = b64u(header.encode()) + "." + b64u(payload.encode())
    return signing + "." + b64u(key.sign(signing.encode()))


@pytest.fixture(scope="module")
def env(build_dir):
    for p in (("src", "gateway", "ndx-gateway"), ("src", "pay", "ndx-pay"),
              ("src", "portal", "ndx-portal")):
        exe(build_dir, *p)
    workdir = Path(tempfile.mkdtemp(prefix="ndx-payment-"))
    (workdir / "registry").mkdir()
    e = Env()
    e.eid, e.fed, e.registry, e.procs = FakeEid(), None, None, []
    problems = []
    try:
        try:
            federation(build_dir, workdir, e)
            portal(build_dir, workdir, e)
        except (RuntimeError, AssertionError) as err:
            pytest.fail(f"{err}\n(files kept in {workdir})", pytrace=False)
        yield e
    finally:
        for p in reversed(e.procs):
            rc = p.stop()
            if rc not in (0, None):
                problems.append(f"{p.name} exited with {rc}:\n{p.tail()}")
        if e.fed is not None:
            problems.extend(e.fed.close())
        if e.registry is not None:
            e.registry.stop()
        e.eid.stop()
    if problems:
        pytest.fail("\n".join(problems) + f"\n(files kept in {workdir})", pytrace=False)
    shutil.rmtree(workdir, ignore_errors=True)


def federation(build_dir, workdir, env):
    reg = Registry(registry_exe(build_dir), workdir / "registry").start()
    env.registry = reg
    fed = F.Federation(build_dir, reg, workdir / "fed")
    env.fed = fed
    for member, name in ((VPCP, "Văn phòng Chính phủ"), (KBNN, "Kho bạc Nhà nước"),
                         (BANK, "Ngân hàng Thử nghiệm")):
        fed.ndx("member", "add", member, "--name", name)
    for sub in (PORTAL, TREASURY, PAYMENTS):
        fed.ndx("subsystem", "add", sub)
    fed.ndx("service", "add", ORDERS, "--title", "Lệnh thu lệ phí", "--personal",
            "--purpose", "public-service")
    fed.ndx("service", "add", RECEIPTS, "--title", "Chứng từ nộp tiền")
    fed.ndx("grant", "add", "--client", PORTAL, "--service", ORDERS, "--method", "POST")
    fed.ndx("grant", "add", "--client", PAYMENTS, "--service", RECEIPTS, "--method", "POST")
    # The e-ID whose ID tokens the treasury's gateway accepts as Ndx-Subject-Token.
    r = reg.api("POST", "/api/id-providers",
                json={"issuer": env.eid.issuer,
                      "sign_key": base64.b64encode(env.eid.raw_public).decode()})
    assert r.status_code == 201, r.text

    # The bank's receipt-signing key: the bank holds the private half, the treasury
    # is given the public half.
    env.bank_key = ed25519.Ed25519PrivateKey.generate()
    (workdir / "bank.key").write_bytes(env.bank_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    (workdir / "bank.key").chmod(0o600)
    (workdir / "bank.pub").write_bytes(env.bank_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))

    pay = exe(build_dir, "src", "pay", "ndx-pay")
    tport = free_port()
    env.treasury = Proc("treasury", [pay, "treasury", "--db", workdir / "treasury.db",
                                     "--bin", BANK_BIN, "--account", TREASURY_ACCOUNT,
                                     "--account-name", "KHO BAC NHA NUOC",
                                     "--bank", f"{BANK_BIN}={workdir / 'bank.pub'}",
                                     "--listen", f"127.0.0.1:{tport}"],
                        f"http://127.0.0.1:{tport}", workdir).start()
    env.procs.append(env.treasury)

    services = {"VPCP": {}, "KBNN": {
        ORDERS: {"backend": env.treasury.url + "/orders", "timeout_ms": 5000},
        RECEIPTS: {"backend": env.treasury.url + "/receipts", "timeout_ms": 5000}},
        "BANK": {}}
    subsystems = {"VPCP": ["portal"], "KBNN": ["treasury"], "BANK": ["payments"]}
    members = {"VPCP": VPCP, "KBNN": KBNN, "BANK": BANK}
    ports = {n: (free_port(), free_port()) for n in members}
    for n, member in members.items():
        fed.register_gateway(n, member, "gw1", ports[n][1])
    limits = {"max_body": 65536, "threads": 4, "peer_timeout_ms": 8000,
              "connect_timeout_ms": 1000, "clock_skew_s": 300}
    for n in members:
        gw = F.Gateway(F.gateway_exe(build_dir), fed.idents[n], subsystems[n], services[n],
                       ports[n][0], ports[n][1], reg, limits, 1)
        gw.write_config()
        fed.gateways[n] = gw
    for gw in fed.gateways.values():
        gw.spawn()
    for gw in fed.gateways.values():
        gw.wait_ready()
    for gw in fed.gateways.values():
        fed.wait_conf(gw, reg.conf_version())

    bport = free_port()
    env.bank = Proc("bank", [pay, "bank", "--bin", BANK_BIN, "--name", "Ngân hàng Thử nghiệm",
                             "--key", workdir / "bank.key", "--gateway", fed.gateways["BANK"].url,
                             "--client", PAYMENTS, "--receipts-service", RECEIPTS,
                             "--customer-account", "0123456789",
                             "--listen", f"127.0.0.1:{bport}"],
                    f"http://127.0.0.1:{bport}", workdir).start()
    env.procs.append(env.bank)


def portal(build_dir, workdir, env):
    d = workdir / "portal"
    (d / "web").mkdir(parents=True)
    (d / "web" / "index.html").write_text("<!doctype html><title>Cổng</title>")
    (d / "client.secret").write_text(CLIENT_SECRET + "\n")
    env.port = free_port()
    env.url = f"http://127.0.0.1:{env.port}"
    cfg = {"listen": f"127.0.0.1:{env.port}", "public_url": env.url, "data_dir": "data",
           "web_dir": "web",
           "oidc": {"issuer": env.eid.issuer, "client_id": "portal",
                    "client_secret_file": "client.secret"},
           "exchange": {"consumer_url": env.fed.gateways["VPCP"].url, "client": PORTAL},
           "payment": {"orders_service": ORDERS,
                       "banks": [{"name": "Ngân hàng Thử nghiệm", "url": env.bank.url + "/pay"}]}}
    (d / "portal.json").write_text(json.dumps(cfg))
    portal_exe = exe(build_dir, "src", "portal", "ndx-portal")
    (d / "pw").write_text(PASSWORD + "\n")
    res = subprocess.run([str(portal_exe), "officer", "add", "--config", str(d / "portal.json"),
                          "--username", "canbo.bca", "--name", "Lê Văn Cường", "--agency",
                          "VN/GOV/BCA", "--password-file", str(d / "pw"), "--cost", "min"],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr
    env.portal = Proc("portal", [portal_exe, "serve", "--config", d / "portal.json"], env.url,
                      workdir).start()
    env.procs.append(env.portal)


# ---- helpers ------------------------------------------------------------------------------

def submit(env, who):
    s, csrf = citizen_login(env, who)
    r = post(s, env.url + "/api/procedures", csrf,
             {"kind": "residence-change", "fields": ANNA_FIELDS})
    assert r.status_code == 201, r.text
    return s, r.json()


def payment(env, s, proc_id):
    r = s.get(f"{env.url}/api/procedures/{proc_id}/payment", timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def send_receipt(env, jws):
    return env.fed.call("BANK", "POST", RECEIPTS, client=PAYMENTS,
                        headers={"Content-Type": "application/json"},
                        data=json.dumps({"receipt": jws}))


def bank_pay(env, qr):
    return requests.post(env.bank.url + "/pay", params={"qr": qr}, timeout=30)


@pytest.fixture(scope="module")
def anna(env):
    """Anna's residence change, its payment, and the page of her bank before paying."""
    s, proc = submit(env, ANNA)
    return s, proc, payment(env, s, proc["id"])


# ---- tests ----------------------------------------------------------------------------------

def test_help_is_truthful(build_dir):
    res = subprocess.run([str(exe(build_dir, "src", "pay", "ndx-pay")), "--help"],
                         capture_output=True, text=True, timeout=10)
    assert res.returncode == 0
    for word in ("treasury", "bank", "--bank BIN=PUBLIC_KEY.pem", "/receipts", "/reconciliation",
                 "--receipts-service", "--customer-account"):
        assert word in res.stdout
    bad = subprocess.run([str(exe(build_dir, "src", "pay", "ndx-pay")), "treasury", "--db",
                          "/nonexistent/t.db", "--bin", "97049", "--account", "1",
                          "--account-name", "X"], capture_output=True, text=True, timeout=10)
    assert bad.returncode == 2 and "bin" in bad.stderr


def test_fee_order_and_vietqr(env, anna):
    s, proc, pay = anna
    assert proc["state"] == "unpaid" and proc["fee_vnd"] == FEE
    # Not the officers' yet.
    o, _ = officer_login(env, "canbo.bca")
    queue = o.get(env.url + "/api/officer/procedures", timeout=10).json()["procedures"]
    assert proc["id"] not in {p["id"] for p in queue}
    # The order: the treasury's collection account, this fee, its own reference.
    assert pay["amount_vnd"] == FEE and pay["status"] == "open" and pay["state"] == "unpaid"
    assert pay["account"] == TREASURY_ACCOUNT and pay["bank_bin"] == BANK_BIN
    assert re.fullmatch(r"KB[0-9A-F]{23}", pay["reference"])
    # The VietQR payload, field by field (NAPAS QR format, §5.2), and its CRC.
    q = pay["payload"]
    root = tlv(q[:-8])
    assert q.startswith("000201") and q[-8:-4] == "6304" and q[-4:] == crc16(q[:-4])
    assert root["01"] == "12" and root["53"] == "704" and root["58"] == "VN"
    assert root["54"] == str(FEE)
    mai = tlv(root["38"])
    assert mai["00"] == "A000000727" and mai["02"] == "QRIBFTTA"
    assert tlv(mai["01"]) == {"00": BANK_BIN, "01": TREASURY_ACCOUNT}
    assert tlv(root["62"]) == {"08": pay["reference"]}
    assert pay["svg"].startswith("<svg") and 'role="img"' in pay["svg"]
    assert pay["svg"].count("h1v1h-1z") > 200
    # Asked again: the same order.
    again = payment(env, s, proc["id"])
    assert again["reference"] == pay["reference"] and again["payload"] == q
    # The bank choice opens the bank's page for exactly this code.
    (bank,) = pay["banks"]
    assert bank["name"] == "Ngân hàng Thử nghiệm"
    link = urllib.parse.urlsplit(bank["url"])
    args = urllib.parse.parse_qs(link.query)
    assert args["qr"] == [q] and args["return"][0] == env.url + "/procedures/" + proc["id"]
    page = requests.get(bank["url"], timeout=10)
    assert page.status_code == 200 and "20.000 ₫" in page.text
    assert f'id="reference">{pay["reference"]}<' in page.text and TREASURY_ACCOUNT in page.text
    assert 'id="amount">20.000 ₫<' in page.text


def test_someone_else_cannot_take_the_order(env, anna):
    s, proc, pay = anna
    b, _ = citizen_login(env, BINH)
    error(b.get(f"{env.url}/api/procedures/{proc['id']}/payment", timeout=10), 404, "not_found")
    # Through the exchange as the portal, for Bình: the treasury refuses an order for
    # Anna's procedure with another payer.
    r = env.fed.call("VPCP", "POST", ORDERS, client=PORTAL,
                     headers={"Ndx-Subject": BINH[0], "Ndx-Purpose": "public-service",
                              "Content-Type": "application/json"},
                     data=json.dumps({"procedure_id": proc["id"], "agency": "VN/GOV/BCA",
                                      "amount_vnd": FEE}))
    assert r.status_code == 409 and r.json()["error"] == "conflict", r.text
    # And another member may not ask for orders at all (no grant).
    r = env.fed.call("BANK", "POST", ORDERS, client=PAYMENTS,
                     headers={"Ndx-Subject": ANNA[0], "Ndx-Purpose": "public-service",
                              "Content-Type": "application/json"},
                     data=json.dumps({"procedure_id": proc["id"], "agency": "VN/GOV/BCA",
                                      "amount_vnd": FEE}))
    assert r.json()["type"].endswith("AccessDenied") and "NoGrant" in r.json()["detail"], r.text
    # The treasury answers an order only to its payer.
    oid = requests.post(env.treasury.url + "/orders", headers={"Ndx-Subject": ANNA[0]},
                        json={"procedure_id": proc["id"], "agency": "VN/GOV/BCA",
                              "amount_vnd": FEE}, timeout=10).json()["id"]
    assert requests.get(f"{env.treasury.url}/orders/{oid}", headers={"Ndx-Subject": BINH[0]},
                        timeout=10).status_code == 404
    assert requests.get(f"{env.treasury.url}/orders/{oid}", headers={"Ndx-Subject": ANNA[0]},
                        timeout=10).json()["reference"] == pay["reference"]


def test_forged_and_wrong_receipts_are_refused(env, anna):
    s, proc, pay = anna
    ref = pay["reference"]
    forger = ed25519.Ed25519PrivateKey.generate()
    r = send_receipt(env, receipt(forger, ref, FEE))
    assert r.status_code == 403 and r.json()["error"] == "forged", r.text
    # The bank's key, but claiming to be another bank; or not a receipt.
    r = send_receipt(env, receipt(env.bank_key, ref, FEE, bin_="970436"))
    assert r.status_code == 403, r.text
    r = send_receipt(env, receipt(env.bank_key, ref, FEE, typ="JWT"))
    assert r.status_code == 403, r.text
    # A receipt with its signature cut off, or "alg": "none".
    whole = receipt(env.bank_key, ref, FEE)
    assert send_receipt(env, whole.rsplit(".", 1)[0] + ".").status_code == 400
    none = b64u(b'{"alg":"none","kid":"970499"}') + "." + whole.split(".")[1] + "."
    assert send_receipt(env, none).status_code == 400
    # Signed by the bank, but for another amount.
    r = send_receipt(env, receipt(env.bank_key, ref, FEE - 1))
    assert r.status_code == 409 and r.json()["error"] == "amount_mismatch", r.text
    # A QR code edited for a smaller amount and re-sealed with a right CRC: the bank
    # pays what it says, the treasury refuses it; nothing is paid.
    q = pay["payload"]
    cheap = q[:-8].replace(f"5405{FEE}", "54041000") + "6304"
    cheap += crc16(cheap)
    page = bank_pay(env, cheap)
    assert page.status_code == 409 and "Số tiền không đúng" in page.text
    # A code whose CRC is wrong is refused by the bank before anything is signed.
    assert bank_pay(env, q[:-1] + ("0" if q[-1] != "0" else "1")).status_code == 400
    # No order has this reference.
    r = send_receipt(env, receipt(env.bank_key, "KB" + "0" * 23, FEE))
    assert r.status_code == 404, r.text
    assert payment(env, s, proc["id"])["status"] == "open"


def test_bank_receipt_moves_the_application_on(env, anna):
    s, proc, pay = anna
    page = bank_pay(env, pay["payload"])
    assert page.status_code == 200, page.text
    assert "Chuyển khoản thành công" in page.text
    after = payment(env, s, proc["id"])
    assert after["status"] == "paid" and after["state"] == "submitted"
    doc = s.get(f"{env.url}/api/procedures/{proc['id']}", timeout=10).json()
    assert doc["state"] == "submitted"
    assert [h["state"] for h in doc["history"]] == ["unpaid", "submitted"]
    o, _ = officer_login(env, "canbo.bca")
    queue = o.get(env.url + "/api/officer/procedures", timeout=10).json()["procedures"]
    assert proc["id"] in {p["id"] for p in queue}
    # Paying the paid order again at the bank: refused, nothing taken.
    again = bank_pay(env, pay["payload"])
    assert again.status_code == 409 and "đã được nộp" in again.text


def test_replayed_receipt_is_ignored(env):
    s, proc = submit(env, BINH)
    pay = payment(env, s, proc["id"])
    jws = receipt(env.bank_key, pay["reference"], FEE)
    first = send_receipt(env, jws)
    assert first.status_code == 200 and first.json() == {
        "reference": pay["reference"], "status": "paid", "duplicate": False}, first.text
    paid = payment(env, s, proc["id"])
    assert paid["state"] == "submitted"
    hist = s.get(f"{env.url}/api/procedures/{proc['id']}", timeout=10).json()["history"]
    for _ in range(2):
        r = send_receipt(env, jws)
        assert r.status_code == 200 and r.json()["duplicate"] is True, r.text
    # Another transaction for the same order is a second payment: refused.
    r = send_receipt(env, receipt(env.bank_key, pay["reference"], FEE))
    assert r.status_code == 409 and r.json()["error"] == "already_paid", r.text
    assert payment(env, s, proc["id"])["state"] == "submitted"
    assert s.get(f"{env.url}/api/procedures/{proc['id']}",
                 timeout=10).json()["history"] == hist


def test_reconciliation_per_agency_per_day(env, anna):
    # After the two payments above (run in file order): two orders of BCA paid today.
    today = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 7 * 3600))
    r = requests.get(env.treasury.url + "/reconciliation", params={"date": today}, timeout=10)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["date"] == today
    assert doc["agencies"] == [{"agency": "VN/GOV/BCA", "payments": 2, "total_vnd": 2 * FEE,
                                "refunds": 0, "refunded_vnd": 0, "net_vnd": 2 * FEE}]
    assert requests.get(env.treasury.url + "/reconciliation", params={"date": "2020-01-01"},
                        timeout=10).json()["agencies"] == []
    assert requests.get(env.treasury.url + "/reconciliation", params={"date": "yesterday"},
                        timeout=10).status_code == 400


def test_rejection_refunds_the_fee(env):
    who = ("048195000123", "Phạm Thị Cúc")
    s, proc = submit(env, who)
    pay = payment(env, s, proc["id"])
    assert bank_pay(env, pay["payload"]).status_code == 200
    assert payment(env, s, proc["id"])["state"] == "submitted"
    o, csrf = officer_login(env, "canbo.bca")
    r = post(o, f"{env.url}/api/officer/procedures/{proc['id']}/decision", csrf,
             {"decision": "reject", "reason": "Địa chỉ không có trong bản đồ hành chính"})
    assert r.status_code == 200 and r.json()["state"] == "rejected", r.text
    back = payment(env, s, proc["id"])
    assert back["status"] == "refunded" and back["state"] == "rejected"
    # The notification centre told the payer each step (docs/portal.md "Notifications").
    notes = s.get(f"{env.url}/api/notifications", timeout=10).json()
    assert [n["kind"] for n in notes["notifications"] if n["procedure_id"] == proc["id"]] == \
        ["refunded", "rejected", "paid"]
    assert notes["unread"] >= 3
    # A receipt for the refunded order (the bank's retry, a replay): refused, and
    # nothing is paid again.
    r = send_receipt(env, receipt(env.bank_key, pay["reference"], FEE))
    assert r.status_code == 409 and r.json()["error"] == "closed", r.text
    # The day's account: three payments in, one refunded.
    today = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 7 * 3600))
    doc = requests.get(env.treasury.url + "/reconciliation", params={"date": today},
                       timeout=10).json()
    assert doc["agencies"] == [{"agency": "VN/GOV/BCA", "payments": 3, "total_vnd": 3 * FEE,
                                "refunds": 1, "refunded_vnd": FEE, "net_vnd": 2 * FEE}]
    # Asked again, nothing changes; another payer cannot close it.
    r = requests.post(env.treasury.url + "/orders/refund", headers={"Ndx-Subject": ANNA[0]},
                      json={"procedure_id": proc["id"]}, timeout=10)
    assert r.status_code == 404, r.text
    r = requests.post(env.treasury.url + "/orders/refund", headers={"Ndx-Subject": who[0]},
                      json={"procedure_id": proc["id"]}, timeout=10)
    assert r.status_code == 200 and r.json()["status"] == "refunded", r.text
