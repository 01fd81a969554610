"""The X-Road conformance suite: one case a file in tests/conformance/ (format in
tests/conformance/README.md), each run against one real federation started for the
whole module (federation.py) plus a scriptable echo provider system (backends.py
ScriptedEcho) behind a few extra services of VN/GOV/BCA, so that a case can say what
the client must get back and what the provider system must (not) have received."""

import codecs
import http.client
import json
import re
import signal
import sys
import time
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import federation as F  # noqa: E402
from backends import ScriptedEcho  # noqa: E402
from conftest import free_port  # noqa: E402

CASES_DIR = Path(__file__).resolve().parents[1] / "conformance"

# The services the cases call, besides federation.py's.
MIRROR = F.POPULATION + "/mirror"          # non-personal, every method, the scripted echo
SLOW = F.POPULATION + "/slow"              # the scripted echo with a 400 ms timeout
DEAD = F.POPULATION + "/dead"              # a backend address where nothing listens
PEOPLE = F.POPULATION + "/people"          # personal, purpose "tax-check"
MEMBER_MIRROR = F.BCA + "/mirror"          # a member-level service (no subsystem code)
AWAY_MEMBER = "VN/COM/0100000009"
AWAY = AWAY_MEMBER + "/away/ping"          # its provider gateway is registered, never run
PURPOSE = "tax-check"
PIN = "001203004567"
ALL_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


# ---- the federation ---------------------------------------------------------------------

def add_mirror(fed):
    """Registers the suite's services on BCA's gateway, all served by one ScriptedEcho
    (fed.mirror), with grants for VN/GOV/BTC/tax (and the member-level client VN/GOV/BTC
    where the registry accepts one). What the registry refused is kept in
    fed.suite_notes (cases that need it then fail and say so)."""
    fed.suite_notes = []
    fed.mirror = ScriptedEcho("mirror").start()

    def try_ndx(*args):
        res = fed.ndx(*args, check=False)
        if res.returncode != 0:
            fed.suite_notes.append(f"ndx {' '.join(args)}: {res.stdout}{res.stderr}".strip())
        return res.returncode == 0

    fed.ndx("service", "add", MIRROR, "--title", "Gương (echo)")
    fed.ndx("service", "add", SLOW, "--title", "Chậm")
    fed.ndx("service", "add", DEAD, "--title", "Không chạy")
    fed.ndx("service", "add", PEOPLE, "--title", "Hồ sơ cá nhân", "--personal",
            "--purpose", PURPOSE)
    methods = [a for m in ALL_METHODS for a in ("--method", m)]
    fed.ndx("grant", "add", "--client", F.TAX, "--service", MIRROR, *methods)
    for svc in (SLOW, DEAD, PEOPLE):
        fed.ndx("grant", "add", "--client", F.TAX, "--service", svc)
    try_ndx("grant", "add", "--client", F.BTC, "--service", MIRROR, *methods)
    member_service = try_ndx("service", "add", MEMBER_MIRROR, "--title", "Gương của bộ")
    if member_service:
        try_ndx("grant", "add", "--client", F.TAX, "--service", MEMBER_MIRROR, *methods)
    fed.ndx("member", "add", AWAY_MEMBER, "--name", "Công ty Vắng mặt")
    fed.ndx("subsystem", "add", AWAY_MEMBER + "/away")
    fed.ndx("service", "add", AWAY, "--title", "Vắng")
    fed.register_gateway("AWAY", AWAY_MEMBER, "gw1", free_port())
    fed.ndx("grant", "add", "--client", F.TAX, "--service", AWAY)
    bca = fed.gateways["BCA"]
    base = fed.mirror.url + "/api"
    bca.services[MIRROR] = {"backend": base, "timeout_ms": 5000}
    bca.services[SLOW] = {"backend": base, "timeout_ms": 400}
    bca.services[DEAD] = {"backend": f"http://127.0.0.1:{free_port()}/api",
                          "timeout_ms": 2000}
    bca.services[PEOPLE] = {"backend": base, "timeout_ms": 5000}
    if member_service:
        bca.services[MEMBER_MIRROR] = {"backend": base, "timeout_ms": 5000}
    reload(bca)
    # The member itself as a client of its gateway (gateway.md "subsystems").
    btc = fed.gateways["BTC"]
    btc.subsystems = list(btc.subsystems) + [F.BTC]
    reload(btc)
    version = fed.registry.conf_version()
    for gw in fed.gateways.values():
        fed.wait_conf(gw, version)


def reload(gw):
    """Writes gw's configuration file and waits until a SIGHUP has made it current."""
    done = "SIGHUP: services, limits and subsystems reloaded"

    def count(text):
        return gw.stderr_path.read_text(errors="replace").count(text)

    before, refused = count(done), count("SIGHUP: keeping")
    gw.write_config()
    gw.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while count(done) == before:
        if time.monotonic() > deadline or count("SIGHUP: keeping") > refused:
            raise RuntimeError(f"{gw.member}'s gateway did not take the suite's "
                               f"configuration:\n{gw.tail()}")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def fed(build_dir):
    with F.running_federation(build_dir, "ndx-conformance-", setup=add_mirror) as f:
        yield f
        f.mirror.stop()


def variables(fed, gw_name):
    gw = fed.gateways[gw_name]
    return {
        "BCA": F.BCA, "BTC": F.BTC, "BHXH": F.BHXH,
        "POPULATION": F.POPULATION, "TAX": F.TAX, "INSURANCE": F.INSURANCE,
        "CITIZENS": F.CITIZENS, "ECHO": F.ECHO,
        "MIRROR": MIRROR, "SLOW": SLOW, "DEAD": DEAD, "PEOPLE": PEOPLE,
        "MEMBER_MIRROR": MEMBER_MIRROR, "AWAY": AWAY,
        "BCA_GW": F.BCA + "/gw1", "BTC_GW": F.BTC + "/gw1",
        "PURPOSE": PURPOSE, "PIN": PIN,
        "XID": "conf-" + uuid.uuid4().hex,
        "GW_HOST": f"127.0.0.1:{gw.consumer_port}",
        "MIRROR_HOST": f"127.0.0.1:{fed.mirror.port}",
    }


# ---- the case files -----------------------------------------------------------------------

SECTIONS = ("request", "reply", "expect", "provider")
KEYS = {
    None: {"spec", "title", "issue", "note"},
    "request": {"gateway", "method", "target", "header", "body", "repeat"},
    "reply": {"status", "header", "body", "delay"},
    "expect": {"status", "header", "header-match", "header-not", "no-header",
               "header-fields", "header-list", "header-count", "body", "body-contains", "json",
               "xml", "xml-root", "xml-ns"},
    "provider": {"received", "method", "target", "header", "header-match", "header-not",
                 "no-header", "header-fields", "header-list", "header-count", "body", "body-contains",
                 "json"},
}


@dataclass
class Case:
    path: Path
    top: list = field(default_factory=list)
    sections: dict = field(default_factory=dict)

    def get(self, section, key, default=None):
        for k, v in self.sections.get(section, []) if section else self.top:
            if k == key:
                return v
        return default

    def all(self, section):
        return self.sections.get(section, [])


def parse_case(path):
    """A case file: `key: value` lines, `[section]` headers, `#` comments."""
    case = Case(path)
    current = None
    for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1].strip()
            if current not in SECTIONS:
                raise ValueError(f"{path.name}:{n}: unknown section [{current}]")
            if current in case.sections:
                raise ValueError(f"{path.name}:{n}: section [{current}] twice")
            case.sections[current] = []
            continue
        key, sep, value = line.partition(":")
        key = key.strip()
        if not sep or key not in KEYS[current]:
            raise ValueError(f"{path.name}:{n}: unknown line in "
                             f"{'[' + current + ']' if current else 'the preamble'}: {raw!r}")
        (case.sections[current] if current else case.top).append((key, value.strip()))
    if not case.get(None, "spec"):
        raise ValueError(f"{path.name}: no spec: line")
    for s in ("request", "expect"):
        if s not in case.sections:
            raise ValueError(f"{path.name}: no [{s}] section")
    return case


VAR = re.compile(r"\$\{([^}]*)\}")


def expand(text, env, resp_headers=None):
    def one(m):
        name = m.group(1)
        if name.startswith("repeat:"):
            _, count, what = name.split(":", 2)
            return what * int(count)
        if name.startswith("resp:"):
            if resp_headers is None:
                raise ValueError(f"${{{name}}} is known in [provider] only")
            got = [v for k, v in resp_headers if k.lower() == name[5:].lower()]
            return got[-1] if got else "(absent)"
        if name not in env:
            raise ValueError(f"unknown variable ${{{name}}}")
        return env[name]
    return VAR.sub(one, text)


def unescape(text):
    """Body values: C-like escapes (\\n \\r \\t \\xHH \\\\), the rest as UTF-8."""
    out = bytearray()
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt == "x":
                out.append(int(text[i + 2:i + 4], 16))
                i += 4
                continue
            out += codecs.decode("\\" + nxt, "unicode_escape").encode("latin-1") \
                if nxt in "nrt0" else nxt.encode()
            i += 2
            continue
        out += c.encode("utf-8")
        i += 1
    return bytes(out)


def split_header(value):
    name, sep, v = value.partition(":")
    if not sep:
        raise ValueError(f"expected 'Name: value', got {value!r}")
    return name.strip(), v.strip()


# ---- sending --------------------------------------------------------------------------------

def send(port, method, target, headers, body):
    """One request, exactly as written: header order, duplicates and values kept; the
    body chunked when the case names Transfer-Encoding: chunked, else Content-Length
    unless the case gives one. Returns (status, [(name, value)], body bytes)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        names = {k.lower() for k, _ in headers}
        conn.putrequest(method, target, skip_host="host" in names, skip_accept_encoding=True)
        for k, v in headers:
            conn.putheader(k, v.encode("utf-8"))
        chunked = any(k.lower() == "transfer-encoding" and "chunked" in v.lower()
                      for k, v in headers)
        if body and not chunked and "content-length" not in names:
            conn.putheader("Content-Length", str(len(body)))
        if chunked:
            data = (b"%x\r\n%s\r\n" % (len(body), body) if body else b"") + b"0\r\n\r\n"
        else:
            data = body or None
        conn.endheaders(data)
        resp = conn.getresponse()
        return resp.status, resp.getheaders(), resp.read()
    finally:
        conn.close()


# ---- checking -------------------------------------------------------------------------------

def raw(v):
    """A received header value (http.client decodes latin-1) back to its bytes."""
    return v.encode("latin-1", "replace")


def check_headers(kind, key, value, headers, problems, where):
    """kind 'client' or 'provider'; headers [(name, value)] as received."""
    def values(name):
        return [raw(v) for k, v in headers if k.lower() == name.lower()]

    if key == "no-header":
        if values(value):
            problems.append(f"{where}: {value} present ({values(value)!r}), expected absent")
        return
    name, want = split_header(value)
    got = values(name)
    if key == "header":
        if want.encode() not in got:
            problems.append(f"{where}: {name}: expected {want!r}, got "
                            f"{[g.decode('utf-8', 'replace') for g in got] or 'absent'}")
    elif key == "header-not":
        if want.encode() in got:
            problems.append(f"{where}: {name}: {want!r} must not be there")
    elif key == "header-match":
        if not any(re.fullmatch(want.encode(), g) for g in got):
            problems.append(f"{where}: {name}: expected to match /{want}/, got "
                            f"{[g.decode('utf-8', 'replace') for g in got] or 'absent'}")
    elif key == "header-count":
        if len(got) != int(want):
            problems.append(f"{where}: {name}: expected {want} field(s), got {got!r}")
    elif key in ("header-fields", "header-list"):
        wants = [w.encode() for w in json.loads(want)]
        if key == "header-fields":
            ok = got == wants
        else:
            ok = b", ".join(got) == b", ".join(wants)
        if not ok:
            problems.append(f"{where}: {name}: expected fields {wants!r}, got {got!r}"
                            if key == "header-fields" else
                            f"{where}: {name}: expected the values {wants!r} (fields joined "
                            f"with ', '), got {got!r}")


def path_tokens(path):
    """`a.b[k=v][k2.x=w].0.c` -> ['a', 'b', ('k','v'), ('k2.x','w'), 0, 'c']."""
    out, i = [], 0
    while i < len(path):
        if path[i] == ".":
            i += 1
        elif path[i] == "[":
            j = path.index("]", i)
            k, _, v = path[i + 1:j].partition("=")
            out.append((k, v))
            i = j + 1
        else:
            m = re.match(r"[^.\[]+", path[i:])
            tok = m.group(0)
            out.append(int(tok) if tok.isdigit() else tok)
            i += len(tok)
    return out


_MISSING = object()


def _text(v):
    """A selector compares a value as text: strings as they are, the rest as JSON."""
    if v is _MISSING:
        return None
    return v if isinstance(v, str) else json.dumps(v)


def walk(doc, path):
    cur = doc
    toks = path_tokens(path) if path not in ("", "$") else []
    i = 0
    while i < len(toks):
        tok = toks[i]
        i += 1
        if isinstance(tok, tuple):
            # Consecutive selectors pick the first element that satisfies them all.
            sels = [tok]
            while i < len(toks) and isinstance(toks[i], tuple):
                sels.append(toks[i])
                i += 1
            items = cur if isinstance(cur, list) else [cur]
            cur = next((it for it in items
                        if all(_text(walk(it, k)) == v for k, v in sels)), _MISSING)
        elif isinstance(tok, int):
            cur = cur[tok] if isinstance(cur, list) and tok < len(cur) else _MISSING
        else:
            cur = cur.get(tok, _MISSING) if isinstance(cur, dict) else _MISSING
        if cur is _MISSING:
            return _MISSING
    return cur


ASSERT = re.compile(r"^(\S+)\s+(==|!=|\^=|~=|exists|absent|is|has)\s*(.*)$")
TYPES = {"string": str, "number": (int, float), "object": dict, "array": list,
         "bool": bool, "null": type(None)}


def check_doc(doc, expr, problems, where):
    m = ASSERT.match(expr)
    if not m:
        problems.append(f"{where}: cannot read assertion {expr!r}")
        return
    path, op, arg = m.groups()
    got = walk(doc, path)
    show = "absent" if got is _MISSING else json.dumps(got, ensure_ascii=False)[:300]
    if op == "exists":
        ok = got is not _MISSING
    elif op == "absent":
        ok = got is _MISSING
    elif op == "is":
        ok = got is not _MISSING and isinstance(got, TYPES[arg]) and not (
            arg == "number" and isinstance(got, bool))
    elif op == "~=":
        ok = isinstance(got, str) and re.fullmatch(arg, got) is not None
    else:
        want = json.loads(arg)
        if op == "==":
            ok = got == want
        elif op == "!=":
            ok = got != want
        elif op == "^=":
            ok = isinstance(got, str) and got.startswith(want)
        else:  # has: a list holding the value
            ok = isinstance(got, list) and want in got
    if not ok:
        problems.append(f"{where}: {path} {op} {arg}: got {show}")


def xml_to_doc(elem):
    """An element as JSON-like data: attributes as "@local", children by local name
    (a list when repeated), a leaf without attributes as its text."""
    local = elem.tag.rsplit("}", 1)[-1]
    children = list(elem)
    if not children and not elem.attrib:
        return local, (elem.text or "")
    d = {}
    for k, v in elem.attrib.items():
        d["@" + k.rsplit("}", 1)[-1]] = v
    groups = {}
    for c in children:
        name, val = xml_to_doc(c)
        groups.setdefault(name, []).append(val)
    for name, vals in groups.items():
        d[name] = vals if len(vals) > 1 else vals[0]
    if elem.text and elem.text.strip():
        d["#text"] = elem.text
    return local, d


def check_body(key, value, body, problems, where, env):
    if key == "body":
        want = unescape(value)
        if body != want:
            problems.append(f"{where}: body: expected {want[:300]!r}, got {body[:300]!r}")
    elif key == "body-contains":
        if value.encode() not in body:
            problems.append(f"{where}: body does not contain {value!r}: {body[:300]!r}")
    elif key == "json":
        try:
            doc = json.loads(body)
        except ValueError:
            problems.append(f"{where}: body is not JSON: {body[:300]!r}")
            return
        check_doc(doc, value, problems, where)


def check_xml(case_expect, body, problems, where, env):
    items = [(k, expand(v, env)) for k, v in case_expect if k.startswith("xml")]
    if not items:
        return
    try:
        root = ET.fromstring(body)
    except ET.ParseError as e:
        problems.append(f"{where}: body is not XML ({e}): {body[:300]!r}")
        return
    _, doc = xml_to_doc(root)
    for k, v in items:
        if k == "xml-root":
            want = v
            got = root.tag if want.startswith("{") else root.tag.rsplit("}", 1)[-1]
            if got != want:
                problems.append(f"{where}: XML root: expected {want}, got {root.tag}")
        elif k == "xml-ns":
            local, ns = v.split(None, 1)
            found = [e.tag for e in root.iter() if e.tag.rsplit("}", 1)[-1] == local]
            bad = [t for t in found if t != f"{{{ns}}}{local}"]
            if not found or bad:
                problems.append(f"{where}: XML <{local}> in namespace {ns}: found "
                                f"{found[:3] or 'none'}")
        else:
            check_doc(doc, v, problems, where)


# ---- the test -------------------------------------------------------------------------------

def case_files():
    return sorted(CASES_DIR.glob("*.case"))


@pytest.mark.parametrize("path", case_files(), ids=lambda p: p.stem)
def test_case(fed, path):
    case = parse_case(path)
    gw_name = case.get("request", "gateway", "BTC")
    env = variables(fed, gw_name)
    req = case.all("request")
    method = expand(case.get("request", "method", "GET"), env)
    target = expand(case.get("request", "target"), env)
    headers = [split_header(expand(v, env)) for k, v in req if k == "header"]
    body = unescape(expand(case.get("request", "body", ""), env))
    repeat = int(case.get("request", "repeat", "1"))

    if "reply" in case.sections:
        rep = case.all("reply")
        fed.mirror.reply = {
            "status": int(case.get("reply", "status", "200")),
            "headers": [split_header(expand(v, env)) for k, v in rep if k == "header"],
            "body": unescape(expand(case.get("reply", "body", ""), env)),
            "delay": float(case.get("reply", "delay", "0")),
        }
    before = len(fed.mirror.received())
    try:
        for _ in range(repeat):
            status, rheaders, rbody = send(fed.gateways[gw_name].consumer_port, method,
                                           target, headers, body)
    except (OSError, http.client.HTTPException) as e:
        pytest.fail(f"{path.name}: {method} {target[:200]}: no HTTP answer: {e!r}\n"
                    f"{fed.tails()}", pytrace=False)
    finally:
        fed.mirror.reply = None
    records = fed.mirror.received()[before:]

    problems = []
    where = "client"
    exp = case.all("expect")
    for k, v in exp:
        v = expand(v, env)
        if k == "status":
            if status != int(v):
                problems.append(f"client: status: expected {v}, got {status}")
        elif k.startswith("header") or k == "no-header":
            check_headers("client", k, v, rheaders, problems, where)
        elif k in ("body", "body-contains", "json"):
            check_body(k, v, rbody, problems, where, env)
    check_xml(exp, rbody, problems, where, env)

    if "provider" in case.sections:
        prov = case.all("provider")
        received = case.get("provider", "received", "yes")
        want_n = {"yes": None, "no": 0}.get(received, None)
        if received not in ("yes", "no"):
            want_n = int(received)
        if want_n == 0:
            if records:
                problems.append(f"provider: expected nothing received, got "
                                f"{[(r.method, r.path) for r in records]}")
        elif not records or (want_n is not None and len(records) != want_n):
            problems.append(f"provider: expected {want_n or 'a'} request(s), got "
                            f"{len(records)}")
        else:
            rec = records[-1]
            where = "provider"
            for k, v in prov:
                v = expand(v, env, rheaders)
                if k == "method":
                    if rec.method != v:
                        problems.append(f"provider: method: expected {v}, got {rec.method}")
                elif k == "target":
                    if raw(rec.path) != v.encode():
                        problems.append(f"provider: target: expected {v!r}, got {rec.path!r}")
                elif k.startswith("header") or k == "no-header":
                    check_headers("provider", k, v, rec.headers, problems, where)
                elif k in ("body", "body-contains", "json"):
                    check_body(k, v, rec.body, problems, where, env)

    if problems:
        shown = "\n".join(f"  {k}: {v.encode('latin-1', 'replace').decode('utf-8', 'replace')}"
                          for k, v in rheaders)
        notes = "\n".join(getattr(fed, "suite_notes", []))
        pytest.fail(f"{path.name} ({case.get(None, 'spec')}): {method} {target[:200]}\n"
                    + "\n".join("- " + p for p in problems)
                    + f"\n\nobserved: {status}\n{shown}\n  body: {rbody[:500]!r}"
                    + (f"\n\nsetup notes:\n{notes}" if notes else "")
                    + f"\n\n{fed.tails()}", pytrace=False)


def test_every_case_parses_and_names_its_spec():
    """A broken file must not hide as a skipped case; every case names its section."""
    files = case_files()
    assert len(files) >= 50, f"only {len(files)} cases in {CASES_DIR}"
    spec = re.compile(r'^(PR-REST|PR-META|PR-MREST|ndx) [0-9A-Z][0-9.]* ".+"$')
    for p in files:
        c = parse_case(p)
        assert spec.match(c.get(None, "spec")), f"{p.name}: spec {c.get(None, 'spec')!r}"
