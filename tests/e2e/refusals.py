"""The gateway's refusals as the gateway itself lists them (`ndx-gateway --error-table`,
docs/protocol.md "Errors"), and one check of a refusal against that table.

PR-REST §4.6: a refusal made by a gateway carries X-Road-Error (= type), a body with
type, message and detail, and the status of its category; ndx puts its finer reason
first in `detail` ("NoGrant: GET /x"). A test names the reason; the table says which
type and status the reason has, so a test never repeats the mapping."""
import functools
import json
import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


@functools.lru_cache(maxsize=1)
def table():
    """reason -> {"consumer_type", "provider_type", "status", "callers_fault", "when"}."""
    build = Path(os.environ.get("NDX_BUILD_DIR", REPO / "build")).resolve()
    out = subprocess.run([str(build / "src" / "gateway" / "ndx-gateway"), "--error-table"],
                         check=True, capture_output=True, text=True, timeout=30).stdout
    rows = [json.loads(line) for line in out.splitlines() if line.strip()]
    return {r["reason"]: r for r in rows}


def types_of(reason, side=None):
    row = table()[reason]
    if side == "consumer":
        return (row["consumer_type"],)
    if side == "provider":
        return (row["provider_type"],)
    return (row["consumer_type"], row["provider_type"])


def check(status, headers, body, reasons, side=None, where=""):
    """Asserts a refusal for one of reasons (a name or a tuple of names), refused on side
    ("consumer", "provider" or None for either); returns the parsed body. headers None:
    only status and body are known (a raw socket read), their checks are skipped."""
    reasons = reasons if isinstance(reasons, tuple) else (reasons,)
    raw = headers is None
    headers = {k.lower(): v for k, v in dict(headers or {}).items()}
    text = body.decode("utf-8", "replace") if isinstance(body, (bytes, bytearray)) else body
    where = f"{where}\n{status} {headers.get('content-type')} {text[:400]!r}"
    assert raw or (headers.get("content-type") or "").startswith("application/json"), where
    doc = json.loads(text)
    detail = doc.get("detail")
    assert isinstance(detail, str), "detail must be a string" + where
    reason = detail.split(":", 1)[0]
    assert reason in reasons, f"expected reason {reasons}, got {reason!r}" + where
    assert status == table()[reason]["status"], f"status of {reason}" + where
    assert doc.get("type") in types_of(reason, side), f"type of {reason} ({side})" + where
    assert raw or headers.get("x-road-error") == doc["type"], "X-Road-Error != type" + where
    assert isinstance(doc.get("message"), str) and doc["message"], where
    return doc


def check_response(resp, reasons, side=None, where=""):
    """check() for a requests.Response."""
    return check(resp.status_code, resp.headers, resp.text, reasons, side, where)


def reason_of(resp):
    """The reason of a gateway's refusal (requests.Response), None for any other answer."""
    if "X-Road-Error" not in resp.headers:
        return None
    try:
        detail = resp.json().get("detail")
    except ValueError:
        return None
    return detail.split(":", 1)[0] if isinstance(detail, str) else None


def blames_caller(body):
    """True when body (bytes or text) is a gateway's refusal whose reason the table marks
    as the caller's own doing: what a malformed or forged request must get, never a
    gateway failure."""
    text = body.decode("utf-8", "replace") if isinstance(body, (bytes, bytearray)) else body
    try:
        detail = json.loads(text).get("detail")
    except ValueError:
        return False
    row = table().get(detail.split(":", 1)[0]) if isinstance(detail, str) else None
    return bool(row and row["callers_fault"])
