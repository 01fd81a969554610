"""End-to-end tests of the registry side of live data (issue 17): event types of
services with the JSON Schema of their payload, subscriptions (grants to receive an
event type, with a purpose for personal data), both in the signed global
configuration, through the management API (docs/registry-api.md "Event types and
subscriptions") and the ndx CLI; and what an attacker would try against them."""

import base64
import hashlib
import json
import os
import socket
import sqlite3
import subprocess
import threading

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ed25519

MEMBER = "VN/GOV/BCA"
SUBSYSTEM = "VN/GOV/BCA/population"
CITIZENS = "VN/GOV/BCA/population/citizens"      # personal: public-service, statistics
REGISTRY_SVC = "VN/GOV/BCA/population/stats"     # not personal
CLIENT_MEMBER = "VN/GOV/MOF"
CLIENT = "VN/GOV/MOF/tax"
OTHER_CLIENT = "VN/GOV/MOF/enterprise"
DEATH = "death-registered"

SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "required": ["subject", "died_on"],
    "properties": {
        "subject": {"type": "string", "pattern": "^[0-9]{12}$"},
        "died_on": {"type": "string", "format": "date"},
        "place": {"$ref": "#/definitions/place"},
    },
    "definitions": {"place": {"type": "string", "maxLength": 200}},
    "additionalProperties": False,
}


# ---- helpers (local: conftest.py and federation.py are shared) -----------------------

def ok(resp, status):
    assert resp.status_code == status, f"{resp.status_code} {resp.text}"
    return resp.json()


def refused(resp, status, error_type, *needles):
    assert resp.status_code == status, f"{resp.status_code} {resp.text}"
    body = resp.json()
    assert body["type"] == error_type, body
    assert resp.headers.get("X-Road-Error") == error_type
    text = body["message"] + " " + body["detail"]
    for n in needles:
        assert n in text, f"{n!r} not in {text!r}"
    return body


def conf(r):
    """GET /conf, its signature verified with the anchor's key as a gateway would."""
    resp = requests.get(r.url + "/conf", timeout=10)
    assert resp.status_code == 200, resp.text
    anchor = json.loads(r.anchor.read_text())
    sig = json.loads(resp.headers["Ndx-Conf-Signature"])
    keys = {k["key_id"]: base64.b64decode(k["public_key"]) for k in anchor["keys"]}
    raw = keys[sig["key_id"]]
    assert hashlib.sha256(raw).hexdigest() == sig["key_id"]
    ed25519.Ed25519PublicKey.from_public_bytes(raw).verify(
        base64.b64decode(sig["signature"]), resp.content)
    return json.loads(resp.content)


def populate(r):
    """A provider with a personal and a non-personal service, two client subsystems."""
    ok(r.api("POST", "/api/members", json={"id": MEMBER, "name": "Bộ Công an"}), 201)
    ok(r.api("POST", "/api/members", json={"id": CLIENT_MEMBER, "name": "Bộ Tài chính"}), 201)
    for sub in (SUBSYSTEM, CLIENT, OTHER_CLIENT):
        ok(r.api("POST", "/api/subsystems", json={"id": sub}), 201)
    ok(r.api("POST", "/api/services", json={
        "id": CITIZENS, "title": "Tra cứu công dân", "personal": True,
        "purposes": ["public-service", "statistics"]}), 201)
    ok(r.api("POST", "/api/services", json={
        "id": REGISTRY_SVC, "title": "Thống kê", "personal": False}), 201)


def add_event_type(r, service=CITIZENS, name=DEATH, schema=None, **extra):
    body = {"service": service, "name": name,
            "schema": SCHEMA if schema is None else schema, **extra}
    return r.api("POST", "/api/event-types", json=body)


def add_subscription(r, client=CLIENT, service=CITIZENS, event=DEATH, **extra):
    return r.api("POST", "/api/subscriptions",
                 json={"client": client, "service": service, "event": event, **extra})


# ---- event types --------------------------------------------------------------------

def test_event_type_is_in_the_signed_configuration_with_its_schema(registry):
    r = registry
    populate(r)
    before = r.conf_version()
    et = ok(add_event_type(r, title="Một người đã mất"), 201)
    assert et["service"] == CITIZENS and et["name"] == DEATH
    assert et["title"] == "Một người đã mất"
    assert et["schema"] == SCHEMA
    assert et["conf_version"] == before + 1
    # one without a title
    ok(add_event_type(r, service=REGISTRY_SVC, name="report.published",
                      schema={"type": "object"}), 201)

    doc = conf(r)
    assert doc["version"] == before + 2
    assert doc["event_types"] == [
        {"service": CITIZENS, "name": DEATH, "title": "Một người đã mất", "schema": SCHEMA},
        {"service": REGISTRY_SVC, "name": "report.published", "title": None,
         "schema": {"type": "object"}},
    ]
    assert doc["subscriptions"] == []

    assert ok(r.api("GET", f"/api/event-types/{CITIZENS}/{DEATH}"), 200)["schema"] == SCHEMA
    names = [e["name"] for e in ok(r.api("GET", "/api/event-types"), 200)["event_types"]]
    assert names == [DEATH, "report.published"]
    only = ok(r.api("GET", f"/api/event-types?service={REGISTRY_SVC}"), 200)["event_types"]
    assert [e["name"] for e in only] == ["report.published"]
    # the service id may be percent-encoded part by part in the path
    enc = CITIZENS.replace("citizens", "%63itizens")
    assert ok(r.api("GET", f"/api/event-types/{enc}/{DEATH}"), 200)["name"] == DEATH


def test_event_type_refusals(registry):
    r = registry
    populate(r)
    v = r.conf_version()
    refused(add_event_type(r, service="VN/GOV/BCA/population/nope"), 404, "Client.NotFound",
            "service VN/GOV/BCA/population/nope does not exist")
    refused(add_event_type(r, service="VN/GOV/BCA/population"), 400,
            "Client.InvalidRequest", "service: expected 5 parts")
    refused(r.api("POST", "/api/event-types", json={"service": CITIZENS, "name": DEATH}),
            400, "Client.InvalidRequest", "schema is required")
    for bad in ([], "{}", 42, True):
        refused(add_event_type(r, schema=bad), 400, "Client.InvalidRequest",
                "invalid schema", "schema: must be a JSON Schema object")
    refused(add_event_type(r, extra_field=1), 400, "Client.InvalidRequest",
            "extra_field: not a field of this request")
    refused(add_event_type(r, title="Bộ\x1b[2J"), 400, "Client.InvalidRequest",
            "title: ")
    assert r.conf_version() == v
    ok(add_event_type(r), 201)
    refused(add_event_type(r), 409, "Client.Conflict",
            f"event type {CITIZENS}/{DEATH} already exists")
    refused(r.api("GET", f"/api/event-types/{CITIZENS}/birth-registered"), 404,
            "Client.NotFound")
    refused(r.api("PUT", f"/api/event-types/{CITIZENS}/{DEATH}", json={}), 405,
            "Client.MethodNotAllowed")


@pytest.mark.parametrize("schema,needle", [
    ({"$ref": "#/definitions/missing"}, "schema: "),          # does not resolve
    ({"type": "object", "properties": {"a": {"pattern": "(unclosed"}}}, "schema: "),
    ({"type": "no-such-type"}, "schema: "),
    ({"$ref": "#"}, "schema: "),                               # a cycle that never ends
    ({"minLength": -1}, "schema: "),
])
def test_a_schema_that_does_not_compile_is_400_with_the_reason(registry, schema, needle):
    r = registry
    populate(r)
    v = r.conf_version()
    body = refused(add_event_type(r, schema=schema), 400, "Client.InvalidRequest",
                   "invalid schema", needle)
    assert len(body["detail"]) > len("schema: ")
    assert r.conf_version() == v
    assert conf(r)["event_types"] == []


def test_a_remote_ref_is_refused_and_never_fetched(registry):
    """An attacker's schema pointing at a server: the registry refuses it without
    connecting (a fetch would be server-side request forgery from the registry)."""
    r = registry
    populate(r)
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    srv.settimeout(0.2)
    port = srv.getsockname()[1]
    hits = []

    def accept():
        try:
            while True:
                conn, _ = srv.accept()
                hits.append(conn.recv(1024))
                conn.close()
        except OSError:
            pass

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        for ref in (f"http://127.0.0.1:{port}/schema.json",
                    f"http://127.0.0.1:{port}/schema.json#/definitions/x",
                    "file:///etc/passwd", "https://json-schema.org/draft-07/schema",
                    f"//127.0.0.1:{port}/x", "other.json#/a"):
            for schema in ({"$ref": ref},
                           {"type": "object", "properties": {"a": {"$ref": ref}}},
                           {"definitions": {"a": {"$ref": ref}}, "$ref": "#/definitions/a"}):
                refused(add_event_type(r, schema=schema), 400, "Client.InvalidRequest",
                        "invalid schema")
    finally:
        t.join(0.5)
        srv.close()
    assert hits == []
    assert conf(r)["event_types"] == []


def test_huge_and_deep_schemas(registry_factory):
    r = registry_factory()
    populate(r)
    # over the API's body limit (default 1 MiB): 413 before anything is parsed
    big = {"type": "object", "description": "x" * (1100 * 1024)}
    refused(add_event_type(r, schema=big), 413, "Client.TooLarge")
    # under the body limit but over the schema limit (64 KiB): 400 naming it
    mid = {"type": "object", "description": "x" * (100 * 1024)}
    refused(add_event_type(r, schema=mid), 400, "Client.InvalidRequest", "invalid schema")
    # many properties, each small: the serialised size counts
    wide = {"type": "object",
            "properties": {f"p{i:05d}": {"type": "string"} for i in range(4000)}}
    refused(add_event_type(r, schema=wide), 400, "Client.InvalidRequest", "invalid schema")
    # nesting deeper than the compiler allows
    deep = {"type": "object"}
    for _ in range(200):
        deep = {"type": "object", "properties": {"a": deep}}
    refused(add_event_type(r, schema=deep), 400, "Client.InvalidRequest", "invalid schema")
    # a large but fair schema is accepted
    fair = {"type": "object",
            "properties": {f"p{i:04d}": {"type": "string"} for i in range(500)}}
    ok(add_event_type(r, schema=fair), 201)
    assert conf(r)["event_types"][0]["schema"] == fair
    # with a smaller body limit the 413 comes sooner
    small = registry_factory(max_body=4096)
    populate(small)
    refused(add_event_type(small, schema={"description": "y" * 5000}), 413,
            "Client.TooLarge")


@pytest.mark.parametrize("name", ["Death", "a/b", "..", ".", "-x", "", "a b",
                                  "ch\u1ebft", "x" * 65, "a\x00b", "death/../x"])
def test_bad_event_type_names_are_refused(registry, name):
    r = registry
    populate(r)
    # jansson refuses a NUL in any string of the body before a field is read
    nul = "\x00" in name
    refused(add_event_type(r, name=name), 400, "Client.InvalidRequest",
            "malformed JSON" if nul else "name")
    refused(add_subscription(r, event=name), 400, "Client.InvalidRequest",
            "malformed JSON" if nul else "event")
    assert conf(r)["event_types"] == []


@pytest.mark.parametrize("path", [
    f"{CITIZENS}/..",
    f"{CITIZENS}/%2E%2E",
    f"{CITIZENS}/a%2Fb",
    f"{CITIZENS}/{DEATH}%2F..",
    f"{CITIZENS}/{DEATH}/extra",
    f"{CITIZENS}",
    f"{MEMBER}/{DEATH}",
    "VN/GOV/BCA/population%2Fcitizens/" + DEATH,
    f"{CITIZENS}/DEATH-REGISTERED",
])
def test_event_type_paths_that_try_to_escape(registry, path):
    """Dot segments, encoded slashes and extra segments in the path name no event
    type: 400 (or 404 for a well-formed name that is not there), never another
    object, and nothing is deleted."""
    r = registry
    populate(r)
    ok(add_event_type(r), 201)
    for method in ("GET", "DELETE"):
        resp = r.api(method, f"/api/event-types/{path}")
        assert resp.status_code in (400, 404), f"{method} {path}: {resp.status_code} {resp.text}"
    assert [e["name"] for e in conf(r)["event_types"]] == [DEATH]


# ---- authentication ---------------------------------------------------------------------

def test_management_needs_the_admin_token(registry):
    """Every token the registry holds is an admin credential (ndx-registry token add);
    there is no member-level token, so an agency that is a member has no way in
    without one. Without a valid bearer token: 401, and nothing changes."""
    r = registry
    populate(r)
    ok(add_event_type(r), 201)
    v = r.conf_version()
    bad = [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer " + r.token[:-1] + ("A" if r.token[-1] != "A" else "B")},
        {"Authorization": "Bearer " + r.token + "x"},
        {"Authorization": "Basic " + base64.b64encode(b"admin:" + r.token.encode()).decode()},
        {"Authorization": "Token " + r.token},
    ]
    calls = [
        ("GET", "/api/event-types", None),
        ("POST", "/api/event-types", {"service": CITIZENS, "name": "x", "schema": {}}),
        ("GET", f"/api/event-types/{CITIZENS}/{DEATH}", None),
        ("DELETE", f"/api/event-types/{CITIZENS}/{DEATH}", None),
        ("GET", "/api/subscriptions", None),
        ("POST", "/api/subscriptions", {"client": CLIENT, "service": CITIZENS,
                                        "event": DEATH, "purpose": "public-service"}),
        ("DELETE", "/api/subscriptions/1", None),
    ]
    for headers in bad:
        for method, path, body in calls:
            resp = requests.request(method, r.url + path, headers=headers, json=body,
                                    timeout=10)
            refused(resp, 401, "Client.Unauthorized")
            assert "event" not in resp.text.lower() or "Bearer" in resp.text
    assert r.conf_version() == v
    assert ok(r.api("GET", "/api/subscriptions"), 200)["subscriptions"] == []


# ---- subscriptions ------------------------------------------------------------------------

def test_subscription_purpose_follows_the_rules_of_reads(registry):
    r = registry
    populate(r)
    ok(add_event_type(r), 201)
    ok(add_event_type(r, service=REGISTRY_SVC, name="report.published",
                      schema={"type": "object"}), 201)
    v = r.conf_version()
    refused(add_subscription(r), 400, "Client.InvalidRequest",
            f"purpose: {CITIZENS} is a personal-data service")
    refused(add_subscription(r, purpose=None), 400, "Client.InvalidRequest", "purpose")
    refused(add_subscription(r, purpose="marketing"), 400, "Client.InvalidRequest",
            f"purpose: marketing is not one of the purposes of {CITIZENS}")
    refused(add_subscription(r, purpose="Public Service"), 400, "Client.InvalidRequest",
            "purpose: ")
    refused(add_subscription(r, service=REGISTRY_SVC, event="report.published",
                             purpose="public-service"), 400, "Client.InvalidRequest",
            f"purpose: {REGISTRY_SVC} is not a personal-data service")
    assert r.conf_version() == v

    s = ok(add_subscription(r, purpose="public-service"), 201)
    assert isinstance(s["id"], int) and s["id"] > 0
    assert s["client"] == CLIENT and s["event"] == DEATH and s["purpose"] == "public-service"
    assert s["retry"] == {"first_s": 1, "max_s": 300, "give_up_after_s": 86400}
    assert s["conf_version"] == v + 1
    s2 = ok(add_subscription(r, client=OTHER_CLIENT, service=REGISTRY_SVC,
                             event="report.published",
                             retry={"first_s": 5, "max_s": 600, "give_up_after_s": 604800}),
            201)
    assert s2["purpose"] is None
    doc = conf(r)
    assert doc["subscriptions"] == [
        {"client": CLIENT, "service": CITIZENS, "event": DEATH, "purpose": "public-service",
         "retry": {"first_s": 1, "max_s": 300, "give_up_after_s": 86400}},
        {"client": OTHER_CLIENT, "service": REGISTRY_SVC, "event": "report.published",
         "purpose": None,
         "retry": {"first_s": 5, "max_s": 600, "give_up_after_s": 604800}},
    ]
    assert ok(r.api("GET", f"/api/subscriptions/{s['id']}"), 200)["event"] == DEATH
    mine = ok(r.api("GET", f"/api/subscriptions?client={OTHER_CLIENT}"), 200)["subscriptions"]
    assert [x["id"] for x in mine] == [s2["id"]]
    theirs = ok(r.api("GET", f"/api/subscriptions?service={CITIZENS}"), 200)["subscriptions"]
    assert [x["id"] for x in theirs] == [s["id"]]
    refused(r.api("GET", "/api/subscriptions?client=VN/GOV"), 400, "Client.InvalidRequest")


def test_no_subscription_to_a_service_that_reads_only_under_consent(registry):
    """docs/protocol.md "The global configuration": a consent allows reads about one
    subject; a subscription would stream every subject's events past it."""
    r = registry
    populate(r)
    ok(r.api("POST", "/api/services", json={
        "id": SUBSYSTEM + "/health", "title": "Hồ sơ sức khỏe", "personal": True,
        "purposes": ["public-service"], "consent_required": True}), 201)
    ok(add_event_type(r, service=SUBSYSTEM + "/health", name="visit"), 201)
    v = r.conf_version()
    refused(add_subscription(r, service=SUBSYSTEM + "/health", event="visit",
                             purpose="public-service"), 400, "Client.InvalidRequest",
            "consent")
    assert r.conf_version() == v and conf(r)["subscriptions"] == []


def test_subscription_refusals(registry):
    r = registry
    populate(r)
    ok(add_event_type(r), 201)
    p = {"purpose": "public-service"}
    v = r.conf_version()
    refused(add_subscription(r, event="birth-registered", **p), 404, "Client.NotFound",
            f"event type {CITIZENS}/birth-registered does not exist")
    # an event type of another service is not this service's
    refused(add_subscription(r, service=REGISTRY_SVC, **p), 404, "Client.NotFound",
            f"event type {REGISTRY_SVC}/{DEATH}")
    refused(add_subscription(r, client="VN/GOV/MOF/nope", **p), 404, "Client.NotFound",
            "subsystem VN/GOV/MOF/nope does not exist")
    refused(add_subscription(r, service="VN/GOV/BCA/population/nope", **p), 404,
            "Client.NotFound", "service VN/GOV/BCA/population/nope does not exist")
    # a member is not a subscriber: events go to a subsystem
    refused(add_subscription(r, client=CLIENT_MEMBER, **p), 400, "Client.InvalidRequest",
            "client: expected 4 parts")
    refused(add_subscription(r, client="LA/GOV/MOF/tax", **p), 400, "Client.InvalidRequest",
            "instance LA")
    for retry, needle in (
            ([], "retry must be an object"),
            ({"first_s": 0}, "retry.first_s"),
            ({"first_s": -5}, "retry.first_s"),
            ({"first_s": "1"}, "retry.first_s"),
            ({"first_s": 1.5}, "retry.first_s"),
            ({"max_s": True}, "retry.max_s"),
            ({"max_s": 86401, "give_up_after_s": 100000}, "max_s"),
            ({"first_s": 10, "max_s": 5}, "first_s (10) <= max_s (5)"),
            ({"first_s": 400}, "first_s (400) <= max_s (300)"),
            ({"max_s": 600, "give_up_after_s": 599}, "retry.give_up_after_s: 599"),
            ({"give_up_after_s": 2592001}, "retry.give_up_after_s"),
            ({"give_up_after_s": 2 ** 63 - 1}, "retry.give_up_after_s"),
            ({"backoff": 2}, "retry.backoff: not a field")):
        refused(add_subscription(r, retry=retry, **p), 400, "Client.InvalidRequest", needle)
    refused(add_subscription(r, methods=["GET"], **p), 400, "Client.InvalidRequest",
            "methods: not a field")
    assert r.conf_version() == v
    # the widest retry is accepted
    s = ok(add_subscription(r, retry={"first_s": 86400, "max_s": 86400,
                                      "give_up_after_s": 2592000}, **p), 201)
    refused(add_subscription(r, **p), 409, "Client.Conflict", "already exists")
    refused(add_subscription(r, purpose="statistics"), 409, "Client.Conflict")
    for bad in ("0", "-1", "abc", "1.5", "99999999999999999999"):
        refused(r.api("GET", f"/api/subscriptions/{bad}"), 400, "Client.InvalidRequest",
                "subscription id")
    refused(r.api("GET", f"/api/subscriptions/{s['id'] + 100}"), 404, "Client.NotFound")


def test_deletes_keep_references_whole(registry):
    r = registry
    populate(r)
    ok(add_event_type(r), 201)
    s = ok(add_subscription(r, purpose="public-service"), 201)
    refused(r.api("DELETE", f"/api/event-types/{CITIZENS}/{DEATH}"), 409, "Client.Conflict",
            "subscriptions still name the event type")
    refused(r.api("DELETE", f"/api/services/{CITIZENS}"), 409, "Client.Conflict",
            "event types")
    refused(r.api("DELETE", f"/api/subsystems/{CLIENT}"), 409, "Client.Conflict",
            "subscriptions still name the subsystem")
    assert len(conf(r)["subscriptions"]) == 1

    v = r.conf_version()
    gone = ok(r.api("DELETE", f"/api/subscriptions/{s['id']}"), 200)
    assert gone["deleted"] == str(s["id"]) and gone["conf_version"] == v + 1
    refused(r.api("DELETE", f"/api/subscriptions/{s['id']}"), 404, "Client.NotFound")
    gone = ok(r.api("DELETE", f"/api/event-types/{CITIZENS}/{DEATH}"), 200)
    assert gone["deleted"] == f"{CITIZENS}/{DEATH}" and gone["conf_version"] == v + 2
    refused(r.api("DELETE", f"/api/event-types/{CITIZENS}/{DEATH}"), 404, "Client.NotFound")
    doc = conf(r)
    assert doc["event_types"] == [] and doc["subscriptions"] == []
    # now the service and the subsystem can go
    ok(r.api("DELETE", f"/api/subsystems/{CLIENT}"), 200)
    ok(r.api("DELETE", f"/api/services/{CITIZENS}"), 200)


def test_audit_trail_shows_every_change(registry):
    r = registry
    populate(r)
    ok(add_event_type(r, title="Khai tử"), 201)
    s = ok(add_subscription(r, purpose="public-service", retry={"max_s": 60}), 201)
    ok(r.api("DELETE", f"/api/subscriptions/{s['id']}"), 200)
    ok(r.api("DELETE", f"/api/event-types/{CITIZENS}/{DEATH}"), 200)
    audit = ok(r.api("GET", "/api/audit?limit=4"), 200)["audit"]
    assert [(a["action"], a["object"]) for a in audit] == [
        ("event_type.delete", f"{CITIZENS}/{DEATH}"),
        ("subscription.delete", str(s["id"])),
        ("subscription.add", str(s["id"])),
        ("event_type.add", f"{CITIZENS}/{DEATH}"),
    ]
    actor = audit[0]["actor"]
    assert actor and all(a["actor"] == actor for a in audit)
    assert all(a["remote"].startswith("127.0.0.1:") for a in audit)
    add_et = audit[3]["detail"]
    canon = json.dumps(SCHEMA, separators=(",", ":"))
    # the audit names the schema by the SHA-256 of its compact form; the schema
    # itself is in the configuration
    assert add_et == {"title": "Khai tử",
                      "schema_sha256": hashlib.sha256(canon.encode()).hexdigest()}
    add_sub = audit[2]["detail"]
    assert add_sub == {"client": CLIENT, "service": CITIZENS, "event": DEATH,
                       "purpose": "public-service",
                       "retry": {"first_s": 1, "max_s": 60, "give_up_after_s": 86400}}


def test_event_types_and_subscriptions_survive_a_restart(registry):
    r = registry
    populate(r)
    ok(add_event_type(r), 201)
    ok(add_subscription(r, purpose="statistics", retry={"first_s": 2}), 201)
    before = conf(r)
    r.restart()
    after = conf(r)
    for field in ("event_types", "subscriptions"):
        assert after[field] == before[field], field


def test_store_migrates_a_database_from_before_issue_17(registry):
    """A registry database at schema version 4 (no event_types, subscriptions) opens,
    gains both empty, keeps its services, and the deletes that now check them work."""
    r = registry
    populate(r)
    assert r.stop() == 0
    db = sqlite3.connect(r.data_dir / "registry.db")
    db.executescript("DROP TABLE event_types; DROP TABLE subscriptions;"
                     "DELETE FROM schema_migrations WHERE version >= 5;")
    db.close()
    r.start()
    doc = conf(r)
    assert doc["event_types"] == [] and doc["subscriptions"] == []
    assert [s["id"] for s in doc["services"]] == [CITIZENS, REGISTRY_SVC]
    ok(add_event_type(r), 201)
    ok(add_subscription(r, purpose="public-service"), 201)
    ok(r.api("DELETE", f"/api/services/{REGISTRY_SVC}"), 200)


# ---- CLI ------------------------------------------------------------------------------------

def run_ndx(build_dir, registry, *args):
    e = {k: v for k, v in os.environ.items() if not k.startswith("NDX_")}
    e["NDX_ADMIN_TOKEN"] = registry.token
    res = subprocess.run([str(build_dir / "src" / "cli" / "ndx"), *map(str, args),
                          "--registry", registry.url],
                         capture_output=True, text=True, timeout=30, env=e)
    assert registry.token not in res.stdout + res.stderr
    return res


def cli_ok(res):
    assert res.returncode == 0, f"exit {res.returncode}\n{res.stdout}\n{res.stderr}"
    return res.stdout


def cli_failed(res, *needles):
    assert res.returncode == 1, f"exit {res.returncode}\n{res.stdout}\n{res.stderr}"
    line = res.stderr.strip()
    assert line.startswith("ndx: ") and "\n" not in line, res.stderr
    for n in needles:
        assert n in line, f"{n!r} not in {line!r}"


def test_cli_round_trip(build_dir, registry, tmp_path):
    r = registry
    populate(r)
    schema = tmp_path / "death.json"
    schema.write_text(json.dumps(SCHEMA))
    out = cli_ok(run_ndx(build_dir, r, "event-type", "add", "--service", CITIZENS,
                         "--name", DEATH, "--title", "Khai tử", "--schema", schema))
    assert f"added event type {DEATH} of {CITIZENS}" in out
    assert "configuration version" in out
    out = cli_ok(run_ndx(build_dir, r, "event-type", "list"))
    assert DEATH in out and "Khai tử" in out and CITIZENS in out
    listed = json.loads(cli_ok(run_ndx(build_dir, r, "event-type", "list", "--service",
                                       CITIZENS, "--json")))
    assert listed["event_types"][0]["schema"] == SCHEMA

    # a refusal of the registry comes back as one line
    cli_failed(run_ndx(build_dir, r, "subscription", "add", "--client", CLIENT,
                       "--service", CITIZENS, "--event", DEATH),
               "400", "purpose")
    out = cli_ok(run_ndx(build_dir, r, "subscription", "add", "--client", CLIENT,
                         "--service", CITIZENS, "--event", DEATH, "--purpose",
                         "public-service", "--retry-first", "2", "--retry-max", "120",
                         "--give-up-after", "3600"))
    assert f"added subscription 1: {CLIENT} <- {DEATH} of {CITIZENS}" in out
    out = cli_ok(run_ndx(build_dir, r, "subscription", "list", "--client", CLIENT))
    assert "public-service" in out and "2/120/3600" in out
    assert conf(r)["subscriptions"][0]["retry"] == {"first_s": 2, "max_s": 120,
                                                    "give_up_after_s": 3600}
    cli_failed(run_ndx(build_dir, r, "event-type", "remove", CITIZENS, DEATH),
               "409", "subscriptions still name the event type")
    out = cli_ok(run_ndx(build_dir, r, "subscription", "remove", "1"))
    assert "removed subscription 1" in out
    out = cli_ok(run_ndx(build_dir, r, "event-type", "remove", CITIZENS, DEATH))
    assert f"removed event type {DEATH} of {CITIZENS}" in out
    assert "(none)" in cli_ok(run_ndx(build_dir, r, "event-type", "list"))
    assert "(none)" in cli_ok(run_ndx(build_dir, r, "subscription", "list"))
    actions = [a["action"] for a in ok(r.api("GET", "/api/audit?limit=4"), 200)["audit"]]
    assert actions == ["event_type.delete", "subscription.delete", "subscription.add",
                       "event_type.add"]


def test_cli_help_and_usage(build_dir, registry, tmp_path):
    r = registry
    for word, needles in (("event-type", ["--service", "--name", "--schema", "--title",
                                          "remove SERVICE_ID NAME", "JSON Schema"]),
                          ("subscription", ["--client", "--event", "--purpose",
                                            "--retry-first", "--retry-max",
                                            "--give-up-after", "remove N"])):
        for args in ((word, "--help"), (word, "add", "--help"), (word, "list", "--help")):
            out = cli_ok(run_ndx(build_dir, r, *args))
            for n in needles:
                assert n in out, (args, n)
    top = subprocess.run([str(build_dir / "src" / "cli" / "ndx"), "--help"],
                         capture_output=True, text=True, timeout=30)
    assert "event-type" in top.stdout and "subscription" in top.stdout
    res = run_ndx(build_dir, r, "event-type", "add", "--service", CITIZENS)
    assert res.returncode == 2 and "needs --service, --name and --schema" in res.stderr
    res = run_ndx(build_dir, r, "subscription", "add", "--client", CLIENT,
                  "--service", CITIZENS, "--event", DEATH, "--retry-max", "0")
    assert res.returncode == 2 and "--retry-max" in res.stderr
    res = run_ndx(build_dir, r, "subscription", "remove", "x")
    assert res.returncode == 2
    res = run_ndx(build_dir, r, "event-type", "remove", CITIZENS)
    assert res.returncode == 2
    cli_failed(run_ndx(build_dir, r, "event-type", "remove", CITIZENS, "a/b"),
               "invalid event type name")
    cli_failed(run_ndx(build_dir, r, "event-type", "add", "--service", CITIZENS, "--name",
                       DEATH, "--schema", tmp_path / "missing.json"), "cannot read")
    notjson = tmp_path / "x.json"
    notjson.write_text("[1, 2]")
    cli_failed(run_ndx(build_dir, r, "event-type", "add", "--service", CITIZENS, "--name",
                       DEATH, "--schema", notjson), "not a JSON object")
