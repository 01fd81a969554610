"""A marketplace invoice paid through the payment platform (docs/marketplace.md "Invoices
and clearing", docs/payment.md "The bank"): the buyer's bank, a real `ndx-pay bank` given
`--registry`, scans the invoice's VietQR code, shows the transfer, and on confirmation
sends its signed receipt to the registry's `POST /market/receipts`, which marks the invoice
paid with the bank's transaction. The same code paid again is refused by the registry and
the bank's page says the invoice was paid by another transaction, nothing debited; a bank
without `--registry` refuses an invoice's code and sends nothing. Its own federation
(test_market_clearing.py's: a registry given the bank's receipt key with `--bank-key`, a
priced agreement, both sides' usage statements), so that the invoice is paid only here."""

import re
import subprocess

import pytest
import requests
from cryptography.hazmat.primitives import serialization

from conftest import free_port
from test_market_clearing import BIN, clearing_federation, recorded
from test_marketplace import get
from test_portal import Proc


@pytest.fixture(scope="module")
def fed(build_dir, tmp_path_factory):
    yield from clearing_federation(build_dir, tmp_path_factory)


def start_bank(build_dir, workdir, fed, registry=True):
    key = workdir / "bank.key"
    key.write_bytes(fed.banks[BIN].private_bytes(serialization.Encoding.PEM,
                                                 serialization.PrivateFormat.PKCS8,
                                                 serialization.NoEncryption()))
    key.chmod(0o600)
    port = free_port()
    # The treasury's route (through a gateway) is never taken here: the port is closed.
    cmd = [build_dir / "src" / "pay" / "ndx-pay", "bank", "--bin", BIN,
           "--name", "Ngân hàng Thử nghiệm", "--key", key,
           "--gateway", f"http://127.0.0.1:{free_port()}", "--client", "VN/COM/0100000099/payments",
           "--receipts-service", "VN/GOV/KBNN/treasury/receipts",
           "--customer-account", "0123456789", "--listen", f"127.0.0.1:{port}"]
    if registry:
        cmd += ["--registry", fed.registry.url]
    return Proc("bank-registry" if registry else "bank-alone", cmd, f"http://127.0.0.1:{port}",
                workdir).start()


def test_the_buyers_bank_pays_an_invoice_to_the_registry(fed, build_dir, tmp_path):
    inv = recorded(fed)
    ref, qr = inv["reference"], inv["vietqr"]
    assert ref.startswith("MK") and inv["status"] == "open"
    bank = start_bank(build_dir, tmp_path, fed)
    try:
        # The confirmation page: the seller's account, the amount, the invoice's reference.
        page = requests.get(bank.url + "/pay", params={"qr": qr}, timeout=10)
        assert page.status_code == 200, page.text
        assert ref in page.text and inv["account"] in page.text
        # Confirmed: the receipt goes to the registry, which marks the invoice paid.
        paid = requests.post(bank.url + "/pay", params={"qr": qr}, timeout=30)
        assert paid.status_code == 200, paid.text + bank.tail()
        assert "Chuyển khoản thành công" in paid.text
        txn = re.search(r"Mã giao dịch ([0-9a-f]{32})", paid.text).group(1)
        for who in ("bca", "bhxh"):  # the seller and the buyer see it paid
            seen = get(fed, f"/market/invoices/{ref}", who).json()
            assert (seen["status"], seen["paid_bank_bin"], seen["paid_txn_id"]) == \
                ("paid", BIN, txn), seen
        assert f"for {ref}: registry answered 200" in bank.tail()
        # The same code again is a second transfer: the registry refuses it, the page
        # says so and that nothing was debited; the invoice keeps the first transaction.
        again = requests.post(bank.url + "/pay", params={"qr": qr}, timeout=30)
        assert again.status_code == 409, again.text
        assert "Hoá đơn này đã được trả bằng một giao dịch khác." in again.text
        assert "Không có khoản tiền nào bị trừ." in again.text
        assert "registry answered 409 already_paid" in bank.tail()
        assert get(fed, f"/market/invoices/{ref}", "bca").json()["paid_txn_id"] == txn
    finally:
        bank.stop()


def test_a_bank_without_the_registry_refuses_an_invoices_code(fed, build_dir, tmp_path):
    inv = recorded(fed)
    bank = start_bank(build_dir, tmp_path, fed, registry=False)
    try:
        r = requests.post(bank.url + "/pay", params={"qr": inv["vietqr"]}, timeout=30)
        assert r.status_code == 409 and "Không có khoản tiền nào bị trừ." in r.text
        assert "a marketplace invoice, and no --registry" in bank.tail()
    finally:
        bank.stop()


def test_the_banks_registry_option_is_checked(build_dir):
    pay = str(build_dir / "src" / "pay" / "ndx-pay")
    res = subprocess.run([pay, "--help"], capture_output=True, text=True, timeout=10)
    assert res.returncode == 0 and "[--registry URL]" in res.stdout
    bad = subprocess.run([pay, "bank", "--bin", BIN, "--name", "B", "--key", "/nonexistent",
                          "--gateway", "http://127.0.0.1:1", "--client", "c",
                          "--receipts-service", "s", "--customer-account", "1",
                          "--registry", "ftp://x"], capture_output=True, text=True, timeout=10)
    assert bad.returncode == 2 and "--registry" in bad.stderr
