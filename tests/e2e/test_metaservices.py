"""The X-Road metaservices on a gateway's consumer port (docs/protocol.md "Metaservices"),
checked against the published specifications, each test naming its section:

  PR-META   X-Road: Service Metadata Protocol, v2.16 (listClients: §2, Annex A XML
            schema, Annex B OpenAPI definition, Annex C.1 example answers)
  PR-MREST  X-Road: Service Metadata Protocol for REST, v0.8 (listMethods and
            allowedMethods: §4, Annex A, Annex B.1/B.2; getOpenAPI: §5)
  PR-REST   X-Road: Message Protocol for REST (§4.3 X-Road-Client, §4.6 errors)

A real federation on loopback (federation.py), plus a member with no subsystem whose
name holds every character XML must escape, and a second grant of TAX on echo."""

import http.client
import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

import federation as F  # noqa: E402
from federation import (BCA, BHXH, BTC, CITIZENS, ECHO, INSURANCE,  # noqa: E402
                        MEMBER_NAMES, POPULATION, TAX, raw_http)

XROAD_NS = "http://x-road.eu/xsd/xroad.xsd"   # PR-META Annex A targetNamespace
ID_NS = "http://x-road.eu/xsd/identifiers"    # PR-META Annex A, the identifiers' schema
XMLY = "VN/COM/XMLY"
XMLY_NAME = "Công ty \"A&B\" <Ltd> 'x' >"
INSTANCE = "VN"


def _setup(f):
    f.ndx("member", "add", XMLY, "--name", XMLY_NAME)
    f.ndx("grant", "add", "--client", TAX, "--service", ECHO, "--method", "DELETE",
          "--method", "GET", "--path", "/items/*", "--path", "/one/?")
    for gw in f.gateways.values():
        f.wait_conf(gw, f.registry.conf_version())


@pytest.fixture(scope="module")
def fed(build_dir):
    with F.running_federation(build_dir, "ndx-meta-", setup=_setup) as f:
        yield f


def url(fed, path, gw="BTC"):
    return fed.gateways[gw].url + path


def ok(fed, resp):
    assert resp.status_code == 200, f"{resp.status_code} {resp.text[:400]}\n{fed.tails()}"
    assert "X-Road-Error" not in resp.headers
    return resp


def refused(fed, resp, status, xroad_type, reason):
    """PR-REST §4.6: an error carries X-Road-Error = type and a body {type, message,
    detail}; ndx's detail is a string that begins with its reason word."""
    where = f"\n{resp.status_code} {resp.headers} {resp.text[:400]}\n{fed.tails()}"
    assert resp.status_code == status, where
    assert resp.headers.get("X-Road-Error") == xroad_type, where
    doc = resp.json()
    assert doc["type"] == xroad_type, where
    assert isinstance(doc["message"], str) and doc["message"], where
    assert isinstance(doc["detail"], str), where
    assert doc["detail"] == reason or doc["detail"].startswith(reason + ": "), where
    return doc


def expected_clients(fed):
    """The clients of the federation as PR-META Annex C.1 lists them: each member, then
    its subsystems, with the member's name on both, members in the order of the global
    configuration."""
    subsystems = {BCA: ["population"], BTC: ["tax"], BHXH: ["insurance"], XMLY: []}
    order = [m["id"] for m in fed.conf()["members"]]
    assert sorted(order) == sorted(subsystems)
    out = []
    for member in order:
        inst, cls, code = member.split("/")
        name = MEMBER_NAMES.get(member, XMLY_NAME)
        out.append({"id": {"object_type": "MEMBER", "xroad_instance": inst,
                           "member_class": cls, "member_code": code}, "name": name})
        for s in subsystems[member]:
            out.append({"id": {"object_type": "SUBSYSTEM", "xroad_instance": inst,
                               "member_class": cls, "member_code": code,
                               "subsystem_code": s}, "name": name})
    return out


def xml_clients(body):
    """PR-META Annex A: clientList of member (ClientType: id, name?, subsystemName?), id of
    XRoadClientIdentifierType (objectType attribute, xRoadInstance, memberClass,
    memberCode, subsystemCode?), read back into the JSON form of Annex B."""
    root = ET.fromstring(body)
    assert root.tag == f"{{{XROAD_NS}}}clientList", root.tag
    out = []
    for m in root:
        assert m.tag == f"{{{XROAD_NS}}}member", m.tag
        kids = list(m)
        assert kids and kids[0].tag == f"{{{XROAD_NS}}}id", [k.tag for k in kids]
        ident = kids[0]
        entry = {"id": {"object_type": ident.attrib[f"{{{ID_NS}}}objectType"]}}
        order = [c.tag for c in ident]
        want = [f"{{{ID_NS}}}{t}" for t in ("xRoadInstance", "memberClass", "memberCode")]
        if entry["id"]["object_type"] == "SUBSYSTEM":
            want.append(f"{{{ID_NS}}}subsystemCode")
        assert order == want, order
        for c, key in zip(ident, ("xroad_instance", "member_class", "member_code",
                                  "subsystem_code")):
            entry["id"][key] = c.text
        for c in kids[1:]:
            key = {f"{{{XROAD_NS}}}name": "name",
                   f"{{{XROAD_NS}}}subsystemName": "subsystem_name"}[c.tag]
            entry[key] = c.text
        out.append(entry)
    return out


# ---- listClients (PR-META §2) --------------------------------------------------------------

def test_list_clients_xml_by_default(fed):
    """PR-META §2: without `Accept: application/json` the answer is text/xml holding the
    clientList element of Annex A; it lists members and subsystems (Annex C.1)."""
    resp = ok(fed, requests.get(url(fed, "/listClients"), timeout=10))
    assert resp.headers["Content-Type"].split(";")[0].strip() == "text/xml"
    assert resp.content.startswith(b"<?xml version=\"1.0\" encoding=\"UTF-8\"")
    assert xml_clients(resp.content) == expected_clients(fed)


def test_list_clients_xml_escapes_names(fed):
    """PR-META Annex A: name is xs:string; a name holding & < > " ' is escaped and reads
    back unchanged."""
    resp = ok(fed, requests.get(url(fed, "/listClients"), headers={"Accept": "text/xml"},
                                timeout=10))
    assert b"&amp;" in resp.content and b"&lt;Ltd&gt;" in resp.content
    assert "<Ltd>".encode() not in resp.content
    names = {e["name"] for e in xml_clients(resp.content)}
    assert XMLY_NAME in names


def test_list_clients_json(fed):
    """PR-META §2 and Annex B (OpenAPI clientList / xroadIdentifier), example C.1: with
    `Accept: application/json` the answer is application/json {"member": [{"id":
    {object_type, xroad_instance, member_class, member_code, subsystem_code?}, "name"}]}."""
    resp = ok(fed, requests.get(url(fed, "/listClients"),
                                headers={"Accept": "application/json"}, timeout=10))
    assert resp.headers["Content-Type"].startswith("application/json")
    doc = resp.json()
    assert list(doc) == ["member"]
    assert doc["member"] == expected_clients(fed)
    # Members without a subsystem appear as MEMBER too.
    assert {"object_type": "MEMBER", "xroad_instance": "VN", "member_class": "COM",
            "member_code": "XMLY"} in [m["id"] for m in doc["member"]]


@pytest.mark.parametrize("accept,json_form", [
    ("application/json", True),
    ("Application/JSON; charset=utf-8", True),
    ("text/xml;q=0.5, application/json", True),
    ("application/json;q=0", False),
    ("application/json; q=0.000", False),
    ("text/xml", False),
    ("*/*", False),
    ("application/xml", False),
])
def test_list_clients_accept(fed, accept, json_form):
    """PR-META §2: "If the header value is application/json, the Security Server must
    produce an application/json response ... Otherwise ... text/xml"."""
    resp = ok(fed, requests.get(url(fed, "/listClients"), headers={"Accept": accept},
                                timeout=10))
    if json_form:
        assert resp.headers["Content-Type"].startswith("application/json")
        assert resp.json()["member"] == expected_clients(fed)
    else:
        assert resp.headers["Content-Type"].startswith("text/xml")
        assert xml_clients(resp.content) == expected_clients(fed)


def test_list_clients_x_road_instance(fed):
    """PR-META §2 and Annex B: the query parameter xRoadInstance selects the instance
    whose clients are listed; this gateway holds only instance VN's configuration, so
    another instance has no clients."""
    h = {"Accept": "application/json"}
    resp = ok(fed, requests.get(url(fed, "/listClients"), params={"xRoadInstance": INSTANCE},
                                headers=h, timeout=10))
    assert resp.json()["member"] == expected_clients(fed)
    resp = ok(fed, requests.get(url(fed, "/listClients"), params={"xRoadInstance": "AA"},
                                headers=h, timeout=10))
    assert resp.json() == {"member": []}
    resp = ok(fed, requests.get(url(fed, "/listClients"), params={"xRoadInstance": "AA"},
                                timeout=10))
    assert xml_clients(resp.content) == []


@pytest.mark.parametrize("query", ["xRoadInstance=", "xRoadInstance=A%2FB",
                                   "xRoadInstance=" + "A" * 65,
                                   "xRoadInstance=%01"])
def test_list_clients_malformed_instance(fed, query):
    """PR-META §2 names xRoadInstance a code that identifies the instance: a value that
    cannot be one is a bad request (PR-REST §4.6: Client.* with 400)."""
    refused(fed, requests.get(url(fed, "/listClients?" + query), timeout=10), 400,
            "Client.BadRequest", "MetaserviceQuery")


# ---- listMethods, allowedMethods (PR-MREST §4) ---------------------------------------------

def service(code, stype, endpoints, subsystem=POPULATION):
    inst, cls, member, sub = subsystem.split("/")
    return {"object_type": "SERVICE", "xroad_instance": inst, "member_class": cls,
            "member_code": member, "subsystem_code": sub, "service_code": code,
            "service_type": stype,
            "endpoint_list": [{"method": m, "path": p} for m, p in endpoints]}


def test_list_methods(fed):
    """PR-MREST §4 and Annex B.1: GET /r1/{provider subsystem}/listMethods with
    X-Road-Client answers {"service": [...]} with every service of the provider, typed
    OPENAPI when it has an OpenAPI description else REST, each with its endpoint_list
    (a service declares no endpoints in ndx: X-Road's default endpoint, any method and
    any path). The metaservices themselves are not listed."""
    resp = ok(fed, requests.get(url(fed, f"/r1/{POPULATION}/listMethods"),
                                headers={"X-Road-Client": TAX}, timeout=10))
    assert resp.headers["Content-Type"].startswith("application/json")
    assert resp.json() == {"service": [
        service("citizens", "OPENAPI", [("*", "**")]),
        service("echo", "REST", [("*", "**")]),
    ]}
    resp = ok(fed, requests.get(url(fed, f"/r1/{TAX}/listMethods"),
                                headers={"X-Road-Client": TAX}, timeout=10))
    assert resp.json() == {"service": []}


def test_allowed_methods(fed):
    """PR-MREST §4 and Annex B.2: allowedMethods lists the provider's services the caller
    may invoke, each with the endpoints its grants open (methods times paths; ndx's '*',
    which also matches '/', is X-Road's "**")."""
    resp = ok(fed, requests.get(url(fed, f"/r1/{POPULATION}/allowedMethods"),
                                headers={"X-Road-Client": TAX}, timeout=10))
    assert resp.headers["Content-Type"].startswith("application/json")
    assert resp.json() == {"service": [
        service("citizens", "OPENAPI", [("GET", "/citizens/**")]),
        service("echo", "REST", [("GET", "**"), ("POST", "**"), ("DELETE", "/items/**"),
                                 ("DELETE", "/one/?"), ("GET", "/items/**"),
                                 ("GET", "/one/?")]),
    ]}
    # The endpoints allowedMethods names are the ones the exchange lets through.
    assert fed.call("BTC", "DELETE", ECHO, "/items/a/b").status_code == 200
    assert fed.call("BTC", "GET", CITIZENS, "/citizens/001").status_code == 200


def test_allowed_methods_without_grants_is_empty(fed):
    """PR-MREST §4: allowedMethods lists only what the caller has permission to invoke:
    a client with no grant on the provider gets an empty list, not an error."""
    resp = ok(fed, requests.get(url(fed, f"/r1/{POPULATION}/allowedMethods", "BHXH"),
                                headers={"X-Road-Client": INSURANCE}, timeout=10))
    assert resp.json() == {"service": []}
    # A provider the caller has no grant on, at its own gateway.
    resp = ok(fed, requests.get(url(fed, f"/r1/{INSURANCE}/allowedMethods"),
                                headers={"X-Road-Client": TAX}, timeout=10))
    assert resp.json() == {"service": []}


def test_member_level_client(fed):
    """PR-REST §4.3: "Including the subsystem code is OPTIONAL" in X-Road-Client. A
    member id parses, and is a client where the gateway's configuration lists it, as for
    an exchange (test_member_client.py and the conformance suite's member-level cases
    show a listed member served); BTC's gateway here lists subsystems only."""
    for member in (BTC, BCA):
        refused(fed, requests.get(url(fed, f"/r1/{POPULATION}/allowedMethods"),
                                  headers={"X-Road-Client": member}, timeout=10),
                500, "Server.ClientProxy.UnknownMember", "UnknownClient")


def test_last_x_road_client_counts(fed):
    """PR-REST §4.3: of several X-Road-Client headers the last one is the client."""
    conn = http.client.HTTPConnection("127.0.0.1", fed.gateways["BTC"].consumer_port,
                                      timeout=10)
    try:
        conn.putrequest("GET", f"/r1/{POPULATION}/allowedMethods")
        conn.putheader("X-Road-Client", INSURANCE)
        conn.putheader("X-Road-Client", TAX)
        conn.endheaders()
        r = conn.getresponse()
        body = r.read()
    finally:
        conn.close()
    assert r.status == 200, body
    assert [s["service_code"] for s in json.loads(body)["service"]] == ["citizens", "echo"]


def test_get_openapi(fed):
    """PR-MREST §5: getOpenAPI?serviceCode=X answers the service's OpenAPI description."""
    resp = ok(fed, requests.get(url(fed, f"/r1/{POPULATION}/getOpenAPI"),
                                params={"serviceCode": "citizens"},
                                headers={"X-Road-Client": TAX}, timeout=10))
    assert resp.json() == F.CITIZENS_OPENAPI


# ---- refusals (PR-REST §4.6) -----------------------------------------------------------

@pytest.mark.parametrize("path", ["/listClients", f"/r1/{POPULATION}/listMethods",
                                  f"/r1/{POPULATION}/allowedMethods",
                                  f"/r1/{POPULATION}/getOpenAPI?serviceCode=citizens"])
def test_wrong_method(fed, path):
    """PR-META §2 ("HTTP GET request") and PR-MREST Annex A (get only): another method is
    refused, naming the allowed ones, and never reaches a provider."""
    resp = requests.post(url(fed, path), headers={"X-Road-Client": TAX}, data=b"x",
                         timeout=10)
    refused(fed, resp, 405, "Client.BadRequest", "BadMethod")
    assert resp.headers.get("Allow") == "GET, HEAD"


@pytest.mark.parametrize("target", ["/r1/VN/GOV//population/listMethods",
                                    "/r1/VN/GOV/B%20CA/population/allowedMethods",
                                    "/r1/VN/GOV/BCA/" + "p" * 65 + "/getOpenAPI"])
def test_malformed_provider_id(fed, target):
    """PR-MREST Annex A: /{xRoadInstance}/{memberClass}/{memberCode}/{subsystemCode}/...;
    a provider id that is not one is a bad request (PR-REST §4.6)."""
    st, headers, body = raw_http(fed.gateways["BTC"].consumer_port, "GET", target,
                                 {"X-Road-Client": TAX})
    resp = requests.Response()
    resp.status_code, resp._content = st, body
    resp.headers.update(headers)
    refused(fed, resp, 400, "Client.BadRequest", "InvalidService")


def test_unknown_provider(fed):
    """PR-MREST §4: the serviceId names the service provider; one that is not in the
    global configuration is an unknown service (PR-REST §4.6: Server.ClientProxy.*)."""
    for name in ("listMethods", "allowedMethods"):
        doc = refused(fed, requests.get(url(fed, f"/r1/{BCA}/nothing/{name}"),
                                        headers={"X-Road-Client": TAX}, timeout=10),
                      500, "Server.ClientProxy.UnknownService", "UnknownService")
        assert doc["detail"] == f"UnknownService: {BCA}/nothing"


@pytest.mark.parametrize("name", ["listMethods", "allowedMethods", "getOpenAPI"])
def test_x_road_client_required(fed, name):
    """PR-MREST §4-5 call the metaservices regular X-Road REST services, and PR-REST §4.3
    makes X-Road-Client mandatory: missing or malformed is Client.InvalidClientIdentifier;
    a client that is not one of this gateway's is Server.ClientProxy.UnknownMember."""
    u = url(fed, f"/r1/{POPULATION}/{name}?serviceCode=citizens")
    refused(fed, requests.get(u, timeout=10), 400, "Client.InvalidClientIdentifier",
            "InvalidClient")
    refused(fed, requests.get(u, headers={"X-Road-Client": "VN/GOV"}, timeout=10), 400,
            "Client.InvalidClientIdentifier", "InvalidClient")
    refused(fed, requests.get(u, headers={"X-Road-Client": TAX + "/x/y"}, timeout=10), 400,
            "Client.InvalidClientIdentifier", "InvalidClient")
    doc = refused(fed, requests.get(u, headers={"X-Road-Client": INSURANCE}, timeout=10),
                  500, "Server.ClientProxy.UnknownMember", "UnknownClient")
    assert doc["detail"] == f"UnknownClient: {INSURANCE}"


def test_get_openapi_refusals(fed):
    """PR-MREST §5: "The query parameters must contain serviceCode=xxx" naming a REST
    service of the provider that has an OpenAPI description."""
    u = url(fed, f"/r1/{POPULATION}/getOpenAPI")
    h = {"X-Road-Client": TAX}
    refused(fed, requests.get(u, headers=h, timeout=10), 400, "Client.BadRequest",
            "MetaserviceQuery")
    refused(fed, requests.get(u + "?serviceCode=a%2Fb", headers=h, timeout=10), 400,
            "Client.BadRequest", "InvalidService")
    refused(fed, requests.get(u, params={"serviceCode": "nothing"}, headers=h, timeout=10),
            500, "Server.ClientProxy.UnknownService", "UnknownService")
    refused(fed, requests.get(u, params={"serviceCode": "echo"}, headers=h, timeout=10),
            500, "Server.ClientProxy.UnknownService", "UnknownService")


def test_get_openapi_registry_down(fed):
    """PR-MREST §5: the description comes from outside the gateway (ndx: the registry);
    when that cannot be reached the answer is a network error (PR-REST §4.6), and
    listMethods, answered from the held configuration, still works."""
    F.stop_registry(fed.registry)
    try:
        refused(fed, requests.get(url(fed, f"/r1/{POPULATION}/getOpenAPI"),
                                  params={"serviceCode": "citizens"},
                                  headers={"X-Road-Client": TAX}, timeout=20),
                500, "Server.ClientProxy.NetworkError", "RegistryUnreachable")
        ok(fed, requests.get(url(fed, f"/r1/{POPULATION}/listMethods"),
                             headers={"X-Road-Client": TAX}, timeout=10))
    finally:
        F.start_registry_same_port(fed.registry)
