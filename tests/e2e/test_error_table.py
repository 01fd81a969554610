"""The gateway's error table (`ndx-gateway --error-table`, src/gateway/errors.c) and the
table in docs/protocol.md "Errors" are the same, row for row; and the table keeps
PR-REST §4.6's rules: Client.* is 400 and the caller's doing, Server.* is 500 except the
documented statuses, the prefix names the side, every reason is one word."""
import re
from pathlib import Path

import refusals

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
DOCUMENTED_STATUSES = {400, 404, 405, 408, 413, 414, 429, 500, 503}


def doc_rows():
    text = DOC.read_text()
    section = text[text.index("\n## Errors\n"):text.index("\n## Message log\n")]
    rows = {}
    for line in section.splitlines():
        m = re.match(r"^\| `(\w+)` \| (\d+) \| `([\w.]+)` \| `([\w.]+)` \| (yes|no) \| (.+) \|$",
                     line)
        if m:
            rows[m.group(1)] = {"status": int(m.group(2)), "consumer_type": m.group(3),
                                "provider_type": m.group(4),
                                "callers_fault": m.group(5) == "yes", "when": m.group(6)}
    return rows


def test_the_document_is_the_code():
    code = {r: {k: v for k, v in row.items() if k != "reason"}
            for r, row in refusals.table().items()}
    doc = doc_rows()
    assert set(doc) == set(code), (f"only in docs: {sorted(set(doc) - set(code))}; "
                                   f"only in the code: {sorted(set(code) - set(doc))}")
    for reason, row in code.items():
        assert doc[reason] == row, (reason, doc[reason], row)


def test_the_table_keeps_pr_rest_rules():
    for reason, row in refusals.table().items():
        assert re.fullmatch(r"[A-Z][A-Za-z]+", reason), reason
        assert row["status"] in DOCUMENTED_STATUSES, (reason, row)
        c, p = row["consumer_type"], row["provider_type"]
        if c.startswith("Client."):
            # The information system's own request: the same type on both sides.
            assert c == p and row["callers_fault"], (reason, row)
            assert row["status"] != 500, (reason, row)
        else:
            assert c.startswith("Server.ClientProxy.") and p.startswith("Server.ServerProxy."), \
                (reason, row)
            assert c.split(".")[-1] == p.split(".")[-1], (reason, row)
            # 503 only for maintenance, which the operator chose.
            assert row["status"] in (500, 429) or (reason, row["status"]) == (
                "Maintenance", 503), (reason, row)
