"""End-to-end tests of the registry side of operational monitoring (issue 18): the
operator names its monitoring subsystem, the one client that may read every gateway's
operational records (X-Road's monitoringClient), through the management API
(docs/registry-api.md "The monitoring client") and `ndx monitoring`; the signed global
configuration carries it as monitoring.client; and what an administrator's mistakes or an
attacker's tries do to it."""

import json
import subprocess

import requests

# the registry's answers, its refusals, the verified configuration and the CLI as
# the event-type tests read them
from test_events_registry import conf, ok, refused, run_ndx

OPERATOR = "VN/GOV/BTTTT"
MONITORING = "VN/GOV/BTTTT/monitoring"
OTHER = "VN/GOV/BTTTT/portal"


def populate(r):
    ok(r.api("POST", "/api/members", json={"id": OPERATOR, "name": "Bộ TT&TT"}), 201)
    for sub in (MONITORING, OTHER):
        ok(r.api("POST", "/api/subsystems", json={"id": sub}), 201)


def test_the_monitoring_client_is_in_the_signed_configuration(registry):
    r = registry
    populate(r)
    assert ok(r.api("GET", "/api/monitoring"), 200) == {"client": None}
    assert "monitoring" not in conf(r)      # absent until set: older gateways read as before
    v = r.conf_version()
    body = ok(r.api("PUT", "/api/monitoring", json={"client": MONITORING}), 201)
    assert body["client"] == MONITORING and body["conf_version"] == v + 1
    assert conf(r)["monitoring"] == {"client": MONITORING}
    assert ok(r.api("GET", "/api/monitoring"), 200) == {"client": MONITORING}
    # replacing it is a change (200), with the previous one in the audit trail
    assert ok(r.api("PUT", "/api/monitoring", json={"client": OTHER}), 200)["client"] == OTHER
    assert conf(r)["monitoring"] == {"client": OTHER}
    audit = ok(r.api("GET", "/api/audit?limit=2"), 200)["audit"]
    assert [(a["action"], a["object"]) for a in audit] == [
        ("monitoring.set", OTHER), ("monitoring.set", MONITORING)]
    assert audit[0]["detail"]["previous"] == MONITORING
    ok(r.api("DELETE", "/api/monitoring"), 200)
    assert "monitoring" not in conf(r)
    assert ok(r.api("GET", "/api/monitoring"), 200) == {"client": None}
    refused(r.api("DELETE", "/api/monitoring"), 404, "Client.NotFound", "no monitoring client")
    assert ok(r.api("GET", "/api/audit?limit=1"), 200)["audit"][0]["action"] == \
        "monitoring.clear"


def test_refusals(registry):
    r = registry
    populate(r)
    v = r.conf_version()
    # a subsystem the registry does not hold
    refused(r.api("PUT", "/api/monitoring", json={"client": "VN/GOV/BTTTT/nope"}), 404,
            "Client.NotFound", "VN/GOV/BTTTT/nope")
    # a member is not a subsystem; another instance; not a string; unknown field
    refused(r.api("PUT", "/api/monitoring", json={"client": OPERATOR}), 400,
            "Client.InvalidRequest", "client")
    refused(r.api("PUT", "/api/monitoring", json={"client": "XX/GOV/BTTTT/monitoring"}), 400,
            "Client.InvalidRequest", "instance")
    refused(r.api("PUT", "/api/monitoring", json={"client": 7}), 400, "Client.InvalidRequest")
    refused(r.api("PUT", "/api/monitoring", json={"client": MONITORING, "all": True}), 400,
            "Client.InvalidRequest", "all")
    refused(r.api("PUT", "/api/monitoring", data=b"{"), 400, "Client.InvalidRequest")
    refused(r.api("POST", "/api/monitoring", json={"client": MONITORING}), 405,
            "Client.MethodNotAllowed")
    refused(r.api("GET", "/api/monitoring/x"), 404, "Client.NotFound")
    assert r.conf_version() == v
    # without the admin token nothing is read or changed
    resp = requests.put(r.url + "/api/monitoring", json={"client": MONITORING}, timeout=10)
    assert resp.status_code == 401
    assert requests.get(r.url + "/api/monitoring", timeout=10).status_code == 401
    assert "monitoring" not in conf(r)
    # the monitoring client cannot be deleted from under the configuration
    ok(r.api("PUT", "/api/monitoring", json={"client": MONITORING}), 201)
    refused(r.api("DELETE", f"/api/subsystems/{MONITORING}"), 409, "Client.Conflict",
            "monitoring client")
    ok(r.api("DELETE", "/api/monitoring"), 200)
    ok(r.api("DELETE", f"/api/subsystems/{MONITORING}"), 200)


def test_cli(build_dir, registry):
    r = registry
    populate(r)
    res = run_ndx(build_dir, r, "monitoring", "show")
    assert res.returncode == 0 and "no monitoring client is set" in res.stdout
    res = run_ndx(build_dir, r, "monitoring", "set", MONITORING)
    assert res.returncode == 0, res.stderr
    assert f"monitoring client: {MONITORING}" in res.stdout
    assert "configuration version" in res.stdout
    res = run_ndx(build_dir, r, "monitoring", "show", "--json")
    assert json.loads(res.stdout) == {"client": MONITORING}
    # the registry's refusal comes back as one line, exit 1
    res = run_ndx(build_dir, r, "monitoring", "set", "VN/GOV/BTTTT/nope")
    assert res.returncode == 1 and res.stderr.startswith("ndx: ") and "404" in res.stderr
    # a malformed id is a usage error before any call
    res = run_ndx(build_dir, r, "monitoring", "set", "VN/GOV")
    assert res.returncode == 2, res
    res = run_ndx(build_dir, r, "monitoring", "set")
    assert res.returncode == 2 and "CLIENT_ID" in res.stderr
    res = run_ndx(build_dir, r, "monitoring", "clear")
    assert res.returncode == 0 and "removed the monitoring client" in res.stdout
    assert "monitoring" not in conf(r)
    out = run_ndx(build_dir, r, "monitoring", "--help").stdout
    assert "set CLIENT_ID" in out and "every gateway" in out
    top = subprocess.run([str(build_dir / "src" / "cli" / "ndx"), "--help"],
                         capture_output=True, text=True, timeout=30).stdout
    assert "monitoring" in top
