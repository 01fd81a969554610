"""End-to-end tests of the registries' four measures in the operations centre (issue 24;
docs/sectors.md "The four measures", docs/indicators.md "Registry measures"): one `ndx demo
up` over data seeded with defects, then `ndx-sector reconcile` of tax and insurance. Must
show: each registry's GET /measures, read through the exchange by the monitoring client
VN/GOV/VPCP/monitoring, gives the run's counts as the command's report does and no personal
data; after a collection round of the demo's ndx-monitor, its indicators API gives
registry_accurate / sufficient / clean / live per agency (the report's share times 100) and
nationally (pooled over records), and /metrics counts the measures kept; the refusals: a
member without the grant (insurance reading tax's measures, the portal) is refused by the
exchange, a limit out of range is refused by the registry naming the argument."""

import json
import re
import subprocess
import time

import pytest
import requests

import refusals
from test_subject_accesses import running_demo

SEED = ["--citizens", "1000", "--seed", "1", "--defects", "0.06", "--today", "2026-11-15"]
MONITORING = "VN/GOV/VPCP/monitoring"
CLIENTS = {"tax": "VN/GOV/TCT/tax", "insurance": "VN/GOV/BHXH/insurance"}
MEASURES = ("accurate", "sufficient", "clean", "live")
COLLECT_TIMEOUT_S = 60  # the demo's monitor reads the measures every 30 s


def member_of(client):
    return "/".join(client.split("/")[:3])


@pytest.fixture(scope="module")
def demo(build_dir, tmp_path_factory):
    with running_demo(build_dir, tmp_path_factory.mktemp("measures") / "demo", SEED) as d:
        yield d


@pytest.fixture(scope="module")
def reports(demo):
    out = {}
    for sector, client in CLIENTS.items():
        res = subprocess.run(
            [str(demo.build_dir / "src" / "sector" / "ndx-sector"), "reconcile", "--sector",
             sector, "--db", str(demo.sector_dir / f"{sector}.db"), "--gateway",
             demo.consumer[member_of(client)], "--client", client, "--rate", "0", "--quiet"],
            capture_output=True, text=True, timeout=60)
        assert res.returncode == 0, res.stderr
        out[sector] = json.loads(res.stdout)
    return out


def monitor(demo):
    mon = demo.fed["apps"]["monitor"]
    token = (demo.dir / "monitor" / "admin.token").read_text().strip()
    return mon["url"], {"Authorization": f"Bearer {token}"}


def measures_service(sector):
    return f"{CLIENTS[sector]}/measures"


# ---- the registry's read, through the exchange -------------------------------------------

def only_counts(doc):
    """The answer holds these fields alone: its strings are the sector, the agency, table
    names and RFC 3339 times; everything else a number."""
    if set(doc) != {"sector", "agency", "runs", "next_after"}:
        return False
    for run in doc["runs"]:
        if set(run) != {"run", "started_at", "finished_at", "tables"}:
            return False
        if not all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", run[k])
                   for k in ("started_at", "finished_at")):
            return False
        for t in run["tables"]:
            if set(t) != {"table", *MEASURES, "records"} or not re.fullmatch(r"[a-z_]+",
                                                                             t["table"]):
                return False
            if not all(set(t[m]) == {"records", "share"} for m in MEASURES):
                return False
    return True


def test_measures_read_through_the_exchange(demo, reports):
    for sector, rep in reports.items():
        r = demo.exchange(MONITORING, measures_service(sector), "")
        assert r.status_code == 200, r.text
        doc = r.json()
        assert doc["sector"] == sector and doc["agency"] == member_of(CLIENTS[sector])
        run = doc["runs"][-1]
        assert run["run"] == rep["run"] and doc["next_after"] == rep["run"]
        records = sum(t["records"] for t in run["tables"])
        assert records == rep["records_checked"]
        for m in MEASURES:
            assert sum(t[m]["records"] for t in run["tables"]) == rep["measures"][m]["records"]
        # the seeded defects show: some measure short of every record
        assert min(rep["measures"][m]["records"] for m in MEASURES) < records
        # counts only: no personal number, no name, no key of a record
        assert only_counts(doc), r.text
        assert r.headers.get("Ndx-Data-Subjects") in (None, "none", "")
        # past the last run: nothing
        r = demo.exchange(MONITORING, measures_service(sector), f"?after={rep['run']}")
        assert r.status_code == 200 and r.json()["runs"] == []


def test_refused_without_the_grant(demo, reports):
    # insurance has no grant to tax's measures: the exchange refuses, the registry never
    # sees the request
    r = demo.exchange("VN/GOV/BHXH/insurance", measures_service("tax"), "")
    refusals.check_response(r, "NoGrant", where="insurance reading tax's measures")
    assert "runs" not in r.text
    # nor the portal, which may read every other service of the demo
    r = demo.exchange("VN/GOV/VPCP/portal", measures_service("insurance"), "")
    refusals.check_response(r, "NoGrant", where="the portal reading insurance's measures")


def test_bad_arguments_refused(demo, reports):
    r = demo.exchange(MONITORING, measures_service("tax"), "?limit=1000")
    assert r.status_code == 400
    assert "limit" in r.json()["detail"]
    r = demo.exchange(MONITORING, measures_service("tax"), "?after=-1")
    assert r.status_code == 400
    assert "after" in r.json()["detail"]


# ---- the monitoring service --------------------------------------------------------------

def registry_view(url, headers):
    view = requests.get(f"{url}/api/indicators", headers=headers, timeout=20)
    assert view.status_code == 200, view.text
    return {i["id"]: i for i in view.json()["indicators"] if i["id"].startswith("registry_")}


def current(ind, scope):
    for s in ind["scopes"]:
        if s["scope"] == scope:
            return s["current"]
    return None


def test_indicators_after_a_collection_round(demo, reports):
    url, headers = monitor(demo)
    deadline = time.time() + COLLECT_TIMEOUT_S
    while True:
        inds = registry_view(url, headers)
        if all(current(inds[f"registry_{m}"], "VN/GOV/BHXH") for m in MEASURES) and \
                all(current(inds[f"registry_{m}"], "VN/GOV/TCT") for m in MEASURES):
            break
        assert time.time() < deadline, "no collection round brought the measures"
        time.sleep(1)
    assert set(inds) == {f"registry_{m}" for m in MEASURES}
    total = sum(rep["records_checked"] for rep in reports.values())
    for m in MEASURES:
        ind = inds[f"registry_{m}"]
        assert ind["source"] == "registries" and ind["unit"] == "percent"
        for sector, rep in reports.items():
            cur = current(ind, member_of(CLIENTS[sector]))
            assert cur["source"] == "registries" and cur["entered_by"] is None
            assert cur["value"] == pytest.approx(100 * rep["measures"][m]["share"], abs=1e-9)
        pooled = 100 * sum(rep["measures"][m]["records"] for rep in reports.values()) / total
        assert current(ind, "national")["value"] == pytest.approx(pooled, abs=1e-9)
        # ranked among the agencies that reported
        ranks = sorted(s["rank"] for s in ind["scopes"] if s["kind"] == "member")
        assert ranks == [1, 2]
    # a computed indicator cannot be entered
    r = requests.post(f"{url}/api/indicators/registry_clean/values", headers=headers,
                      json={"period": "2026-H2", "scope": "national", "value": 100,
                            "source": "x", "entered_by": "y"}, timeout=20)
    assert r.status_code == 400, r.text
    # the service says what it read
    health = requests.get(f"{url}/healthz", timeout=20).json()
    assert health["registries"] == 6 and health["registries_down"] == 0
    metrics = requests.get(f"{url}/metrics", headers=headers, timeout=20).text
    kept = re.search(r'ndx_monitor_measures_total\{outcome="kept"\} (\d+)', metrics)
    assert kept and int(kept.group(1)) >= 2, metrics
