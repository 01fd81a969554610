"""A real ndx federation on loopback for the gateway end-to-end tests, built only with
the shipped binaries and documented interfaces (docs/gateway.md, docs/protocol.md,
docs/registry-api.md, docs/federation-file.md): a registry (conftest's Registry), the
federation file federation.json beside this one (members, subsystems, services, grants)
applied with `ndx federation apply`, one ndx-gateway per member registered with
`ndx gateway add` (its keys and certificate are made per run), and recording provider
systems (backends.py). Also the protocol pieces a test needs to check a gateway from the
outside: the canonical hashes, the batch signature object and a Python client that
speaks to a gateway port as a member gateway would.

    VN/GOV/BCA  (Bộ Công an)     provider: population/citizens -> backend "citizens",
                                           population/echo     -> backend "echo"
    VN/GOV/BTC  (Bộ Tài chính)    consumer tax: GET /citizens/* on citizens, GET+POST * on echo
    VN/GOV/BHXH (BHXH Việt Nam)   consumer insurance: no grant at all

Plus BTC's second gateway identity "gw2", registered (keys, certificate) but not run:
tests use it from Python and revoke it.
"""

import base64
import contextlib
import hashlib
import http.client
import json
import os
import signal
import ssl
import struct
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID

sys.path.insert(0, str(Path(__file__).resolve().parent))

from backends import Backend  # noqa: E402

START_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0
CLI_TIMEOUT = 30

BCA, BTC, BHXH = "VN/GOV/BCA", "VN/GOV/BTC", "VN/GOV/BHXH"
POPULATION, TAX, INSURANCE = BCA + "/population", BTC + "/tax", BHXH + "/insurance"
CITIZENS, ECHO = POPULATION + "/citizens", POPULATION + "/echo"

# The federation's declarative part, as data (docs/federation-file.md): what the ids
# above name, with the members' names, the services and the grants. Federation applies
# it before it registers the gateways; test_gateway.py checks that it declares what the
# constants here and the docstring say, and that it still matches the running registry.
FEDERATION_FILE = Path(__file__).resolve().parent / "federation.json"
FEDERATION = json.loads(FEDERATION_FILE.read_text(encoding="utf-8"))
MEMBER_NAMES = {m["id"]: m["name"] for m in FEDERATION["members"]}
CITIZENS_OPENAPI = next(s["openapi"] for s in FEDERATION["services"] if s["id"] == CITIZENS)


from conftest import free_port  # noqa: E402,F401  (one allocator for the whole run)
from conftest import Registry, registry_exe  # noqa: E402


def gateway_exe(build_dir):
    return Path(build_dir) / "src" / "gateway" / "ndx-gateway"


def ndx_exe(build_dir):
    return Path(build_dir) / "src" / "cli" / "ndx"


# ---- protocol (docs/protocol.md) --------------------------------------------------------

def _field(b):
    if isinstance(b, str):
        b = b.encode()
    return struct.pack(">Q", len(b)) + b


def request_hash(method, service, path="", query="", client="", message_id="", user_id="",
                 issue="", purpose="", subject="", consent="", timestamp="",
                 content_type="", body=b"", *, gateway="", subject_token=None,
                 represented_party="", user_headers=(), nonce=""):
    """The canonical request hash, "Canonical hashes" of protocol.md (None = absent).
    gateway is the provider gateway it is signed for, "{member}/{code}";
    subject_token the Ndx-Subject-Token value, hashed as its SHA-256 (None or "" = absent);
    user_headers the (name, value) pairs of the user headers, in order ("Headers")."""
    fields = ["ndx-request-v4", method, service, path, query, client, message_id, user_id,
              issue, purpose, subject, consent]
    data = b"".join(_field(f or "") for f in fields)
    data += _field(hashlib.sha256(subject_token.encode()).digest() if subject_token else b"")
    data += b"".join(_field(f or "") for f in (timestamp, nonce, gateway, content_type,
                                                represented_party))
    data += _field(user_headers_hash(user_headers))
    data += _field(hashlib.sha256(body or b"").digest())
    return hashlib.sha256(data).digest()


# PR-REST 4.3 "Filtered headers", "Specially handled headers" and X-Road's own headers,
# which never pass as user headers; Ndx-* is ndx's namespace (protocol.md "Headers").
NOT_USER_HEADERS = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
    "transfer-encoding", "upgrade", "host", "user-agent", "server", "content-length", "expect",
    "content-type", "proxy-connection", "x-road-client", "x-road-service", "x-road-id",
    "x-road-userid", "x-road-issue", "x-road-request-hash", "x-road-request-id",
    "x-road-error", "x-road-represented-party", "x-road-security-server"}
NOT_USER_RESPONSE_HEADERS = NOT_USER_HEADERS | {"location", "date"}


def user_headers_of(pairs, response=False):
    """The user headers among (name, value) pairs, in order, as protocol.md "Headers" says
    a gateway takes them (the names a Connection header lists are hop-by-hop too)."""
    pairs = list(pairs)
    hop = {t.strip().lower() for n, v in pairs if n.lower() == "connection"
           for t in v.split(",")}
    skip = (NOT_USER_RESPONSE_HEADERS if response else NOT_USER_HEADERS) | hop
    return [(n, v) for n, v in pairs
            if n.lower() not in skip and not n.lower().startswith("ndx-")]


def signed_user_headers(pairs, listed):
    """The user headers a gateway signed: those named in its Ndx-Headers (None: none)."""
    names = {n.strip().lower() for n in (listed or "").split(",") if n.strip()}
    return [(n, v) for n, v in user_headers_of(pairs) if n.lower() in names]


def user_headers_hash(pairs):
    """SHA-256 of the canonical block of user headers: "name:value\n" each, the name in
    lower case, in order (protocol.md "Headers")."""
    block = b"".join(n.lower().encode() + b":" + v.encode() + b"\n" for n, v in pairs)
    return hashlib.sha256(block).digest()


def response_hash(req_hash, status, content_type="", location="", body=b"", *, subjects="",
                  user_headers=()):
    """The canonical response hash; subjects is the canonical Ndx-Data-Subjects list,
    user_headers the response's user headers as (name, value) pairs."""
    data = (_field("ndx-response-v3") + _field(req_hash) + _field(str(status)) +
            _field(content_type or "") + _field(location or "") + _field(subjects or "") +
            _field(user_headers_hash(user_headers)) +
            _field(hashlib.sha256(body or b"").digest()))
    return hashlib.sha256(data).digest()


def leaf_hash(h):
    return hashlib.sha256(b"\x00" + h).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def fold_audit_path(leaf, index, size, path):
    """The root an audit path leads to (RFC 9162 2.1.3.2, paths as RFC 6962 2.1.1)."""
    if index >= size:
        raise ValueError(f"leaf_index {index} >= tree_size {size}")
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            raise ValueError("audit path too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ValueError("audit path too short")
    return r


def verify_signature_object(text, public_raw, key_id, msg_hash):
    """Checks a compact signature object over msg_hash; raises on any failure."""
    sig = json.loads(text)
    assert sig["alg"] == "Ed25519-batch", sig
    assert sig["key_id"] == key_id, f"key_id {sig['key_id']} is not the signer's {key_id}"
    assert hashlib.sha256(public_raw).hexdigest() == key_id
    path = [base64.b64decode(p, validate=True) for p in sig["audit_path"]]
    assert all(len(p) == 32 for p in path)
    root = fold_audit_path(leaf_hash(msg_hash), int(sig["leaf_index"]), int(sig["tree_size"]),
                           path)
    raw_sig = base64.b64decode(sig["root_signature"], validate=True)
    assert len(raw_sig) == 64
    ed25519.Ed25519PublicKey.from_public_bytes(public_raw).verify(
        raw_sig, batch_root_message(root, int(sig["tree_size"])))
    return sig


def batch_root_message(root, tree_size):
    """What a batch's root signature covers (protocol.md "Signature object")."""
    return b"ndx-batch-v1" + struct.pack(">Q", tree_size) + root


def sign_object(private_key, msg_hash):
    """A batch-of-one signature object, as a gateway at low load makes it."""
    raw = private_key.public_key().public_bytes(serialization.Encoding.Raw,
                                                serialization.PublicFormat.Raw)
    root = leaf_hash(msg_hash)
    return {"alg": "Ed25519-batch", "key_id": hashlib.sha256(raw).hexdigest(),
            "tree_size": 1, "leaf_index": 0, "audit_path": [],
            "root_signature": base64.b64encode(
                private_key.sign(batch_root_message(root, 1))).decode()}


def compact(obj):
    return json.dumps(obj, separators=(",", ":"))


def rfc3339(t=None):
    t = datetime.now(timezone.utc) if t is None else t
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def cert_fingerprint(pem_bytes):
    cert = x509.load_pem_x509_certificate(pem_bytes)
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def foreign_ca_cert(workdir, cn="impostor gw"):
    """A key and certificate from a CA that is not the instance CA; returns (pem, key)."""
    workdir = Path(workdir)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ndx VN instance CA")])
    now = datetime.now(timezone.utc)
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - timedelta(hours=1)).not_valid_after(now + timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
            .issuer_name(ca.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(hours=1)).not_valid_after(now + timedelta(days=1))
            .sign(ca_key, hashes.SHA256()))
    pem, kpem = workdir / "foreign.tls.pem", workdir / "foreign.tls.key"
    pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM) +
                    ca.public_bytes(serialization.Encoding.PEM))
    kpem.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    os.chmod(kpem, 0o600)
    return pem, kpem


# ---- processes ----------------------------------------------------------------------------

class Identity:
    """A registered gateway identity: Ed25519 sign key and CA-issued TLS files."""

    def __init__(self, member, code, directory, address):
        self.member, self.code, self.dir, self.address = member, code, Path(directory), address
        self.sign_key = self.dir / "sign.key"
        self.sign_pub = self.dir / "sign.pub"
        self.tls_prefix = self.dir / code
        self.tls_key = self.dir / f"{code}.tls.key"
        self.tls_cert = self.dir / f"{code}.tls.pem"
        self.ca_pem = self.dir / f"{code}.ca.pem"

    def private_key(self):
        return serialization.load_pem_private_key(self.sign_key.read_bytes(), password=None)

    def key_id(self):
        raw = self.private_key().public_key().public_bytes(serialization.Encoding.Raw,
                                                           serialization.PublicFormat.Raw)
        return hashlib.sha256(raw).hexdigest()

    def tls_fingerprint(self):
        return cert_fingerprint(self.tls_cert.read_bytes())


class Gateway:
    """One ndx-gateway process with its configuration file (docs/gateway.md)."""

    def __init__(self, exe, ident, subsystems, services, consumer_port, gateway_port,
                 registry, limits, conf_refresh_s):
        self.exe, self.ident = Path(exe), ident
        self.member, self.code, self.dir = ident.member, ident.code, ident.dir
        self.subsystems, self.services = subsystems, services
        self.consumer_port, self.gateway_port = consumer_port, gateway_port
        self.registry, self.limits, self.conf_refresh_s = registry, limits, conf_refresh_s
        self.config_path = self.dir / "gateway.json"
        self.proc = None
        self.starts = 0
        self.stderr_path = None
        self.exit_codes = []
        # Where its ports listen and what it runs under: Federation.placement.
        self.host, self.launcher = "127.0.0.1", ()

    @property
    def url(self):
        return f"http://{self.host}:{self.consumer_port}"

    def write_config(self):
        (self.dir / "data").mkdir(mode=0o700, exist_ok=True)
        cfg = {
            "member": self.member, "code": self.code, "subsystems": self.subsystems,
            "data_dir": "data", "anchor": str(self.registry.anchor),
            "registry_url": self.registry.url,
            "sign_key": self.ident.sign_key.name, "tls_key": self.ident.tls_key.name,
            "tls_cert": self.ident.tls_cert.name,
            "consumer_listen": f"{self.host}:{self.consumer_port}",
            "gateway_listen": f"{self.host}:{self.gateway_port}",
            "services": self.services, "limits": self.limits,
            "conf_refresh_s": self.conf_refresh_s,
        }
        # NDX_GATEWAY_HTTP_ENGINE=microhttpd runs every gateway's ports on
        # libmicrohttpd instead of h2o (docs/gateway.md "http";
        # `make test-e2e-microhttpd`).
        engine = os.environ.get("NDX_GATEWAY_HTTP_ENGINE")
        if engine:
            cfg["http"] = {"engine": engine}
        self.config_path.write_text(json.dumps(cfg, indent=2, ensure_ascii=False))

    def spawn(self):
        self.starts += 1
        self.stderr_path = self.dir / f"gateway-{self.starts}.stderr"
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen([*self.launcher, str(self.exe), "--config",
                                          str(self.config_path)],
                                         stdout=subprocess.DEVNULL, stderr=err,
                                         cwd=str(self.dir))
        return self

    def wait_ready(self, timeout=START_TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ndx-gateway {self.member}/{self.code} exited with "
                                   f"{self.proc.returncode}:\n{self.tail()}")
            try:
                if requests.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"ndx-gateway {self.member}/{self.code} did not answer /healthz "
                           f"200 in {timeout} s:\n{self.tail()}")

    def start(self):
        return self.spawn().wait_ready()

    def healthz(self):
        return requests.get(self.url + "/healthz", timeout=5)

    def tail(self, lines=25):
        if not self.stderr_path or not self.stderr_path.exists():
            return "(no stderr)"
        text = self.stderr_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def access_lines(self):
        """The JSON lines on this gateway's stderr so far (its access log, and any
        other JSON line it writes there)."""
        out = []
        if not self.stderr_path or not self.stderr_path.exists():
            return out
        for line in self.stderr_path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
        return out

    def wait_access_lines(self, match=lambda x: True, count=1, skip=0, timeout=5.0):
        """The access lines (after the first `skip`) for which match is true, as soon
        as there are `count` of them, or those there are once timeout has passed (the
        caller asserts). The ports on h2o write the lines of an event-loop turn at the
        end of the turn (src/lib/httpd_common.c "the access log of an event loop's
        turn"), a moment after the answers left: a test that has its answer waits for
        its line rather than reading the log once."""
        deadline = time.monotonic() + timeout
        while True:
            lines = [x for x in self.access_lines()[skip:] if match(x)]
            if len(lines) >= count or time.monotonic() > deadline:
                return lines
            time.sleep(0.05)

    def stop(self):
        """SIGTERM, wait (SIGKILL after STOP_TIMEOUT); returns the exit status."""
        if self.proc is None:
            return None
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                self.exit_codes.append("ignored SIGTERM")
                return "ignored SIGTERM"
        self.exit_codes.append(proc.returncode)
        return proc.returncode

    def kill(self):
        """SIGKILL (a crash), wait."""
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        proc.kill()
        proc.wait()


def stop_registry(registry):
    rc = registry.stop()
    assert rc == 0, f"ndx-registry exited with {rc}:\n{registry.tail()}"


def start_registry_same_port(registry):
    """Starts a stopped conftest Registry again on its old port (the gateways' configured
    registry_url): conftest's start() picks a fresh port through its free_port()."""
    port = registry.port
    mod = sys.modules[type(registry).__module__]
    orig = mod.free_port
    mod.free_port = lambda: port
    try:
        deadline = time.monotonic() + 5
        while True:
            try:
                return registry.start()
            except BaseException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    finally:
        mod.free_port = orig


class Federation:
    """Applies FEDERATION_FILE (members, subsystems, services, grants) and registers the
    gateways through the `ndx` CLI against `registry` (a started conftest Registry),
    writes the gateway configuration files and starts the gateways."""

    def __init__(self, build_dir, registry, workdir, max_body=65536, echo_timeout_ms=1500,
                 conf_refresh_s=1, peer_timeout_ms=8000, placement=None, backend_host=None,
                 address_of=None):
        """placement(name) gives the (address, launcher argv prefix) of gateway `name`
        ("BCA", "BTC", "BHXH"), default loopback and none; the backends listen on
        backend_host (default loopback): test_federation_netns.py puts each agency in a
        network namespace of its own. address_of(name, port) is the address registered
        for the gateway (default https:// its placement's address and port; bench/hosts
        registers a relay that delays the traffic in front of one)."""
        self.build_dir = Path(build_dir)
        self.placement = placement or (lambda name: ("127.0.0.1", ()))
        self.address_of = address_of or (
            lambda name, port: f"https://{self.placement(name)[0]}:{port}")
        backend_host = backend_host or "127.0.0.1"
        self.registry = registry
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.max_body = max_body
        self.echo_timeout_ms = echo_timeout_ms
        self.conf_refresh_s = conf_refresh_s
        self.peer_timeout_ms = peer_timeout_ms
        self.citizens = Backend("citizens", big_size=max_body + 4096, host=backend_host)
        self.echo = Backend("echo", big_size=max_body + 4096, host=backend_host)
        self.gateways = {}
        self.idents = {}

    # -- the CLI -----------------------------------------------------------------------------

    def ndx(self, *args, check=True):
        env = {k: v for k, v in os.environ.items() if not k.startswith("NDX_")}
        env["NDX_ADMIN_TOKEN"] = self.registry.token
        res = subprocess.run([str(ndx_exe(self.build_dir)), *map(str, args),
                              "--registry", self.registry.url],
                             capture_output=True, text=True, timeout=CLI_TIMEOUT, env=env)
        if check and res.returncode != 0:
            raise RuntimeError(f"ndx {' '.join(map(str, args))} exited {res.returncode}:\n"
                               f"{res.stdout}\n{res.stderr}")
        return res

    def keygen(self, prefix):
        env = {k: v for k, v in os.environ.items() if not k.startswith("NDX_")}
        res = subprocess.run([str(ndx_exe(self.build_dir)), "keygen", "--out", str(prefix)],
                             capture_output=True, text=True, timeout=CLI_TIMEOUT, env=env)
        if res.returncode != 0:
            raise RuntimeError(f"ndx keygen failed: {res.stderr}")
        return res.stdout.strip()

    def register_gateway(self, name, member, code, gateway_port):
        d = self.workdir / name
        d.mkdir(parents=True, exist_ok=True)
        ident = Identity(member, code, d, self.address_of(name, gateway_port))
        self.keygen(d / "sign")
        self.ndx("gateway", "add", "--member", member, "--code", code, "--address",
                 ident.address, "--sign-key", ident.sign_pub, "--tls-out", ident.tls_prefix)
        self.idents[name] = ident
        GATEWAY_NAMES[gateway_port] = f"{member}/{code}"
        return ident

    # -- life cycle --------------------------------------------------------------------------

    def start(self):
        exe = gateway_exe(self.build_dir)
        if not exe.is_file():
            raise RuntimeError(f"{exe} is missing: build it first")
        self.citizens.start()
        self.echo.start()
        try:
            self._register_and_start(exe)
        except BaseException:
            self.close()
            raise
        return self

    def _register_and_start(self, exe):
        # Members, subsystems, services and grants: one apply of the file. It has no
        # `gateways` section, so apply leaves the gateways alone; they are registered
        # after it, each with the keys and certificate made for this run.
        self.ndx("federation", "apply", FEDERATION_FILE)
        ports = {n: (free_port(), free_port()) for n in ("BCA", "BTC", "BHXH")}
        for n, member in (("BCA", BCA), ("BTC", BTC), ("BHXH", BHXH)):
            self.register_gateway(n, member, "gw1", ports[n][1])
        self.register_gateway("BTC_gw2", BTC, "gw2", free_port())
        limits = {"max_body": self.max_body, "threads": 4,
                  "peer_timeout_ms": self.peer_timeout_ms, "connect_timeout_ms": 1000,
                  "clock_skew_s": 300}
        services = {
            "BCA": {CITIZENS: {"backend": self.citizens.url + "/api", "timeout_ms": 5000},
                    ECHO: {"backend": self.echo.url + "/api",
                           "timeout_ms": self.echo_timeout_ms}},
            "BTC": {}, "BHXH": {},
        }
        subsystems = {"BCA": ["population"], "BTC": ["tax"], "BHXH": ["insurance"]}
        for n in ("BCA", "BTC", "BHXH"):
            gw = Gateway(gateway_exe(self.build_dir), self.idents[n], subsystems[n],
                         services[n], ports[n][0], ports[n][1], self.registry, limits,
                         self.conf_refresh_s)
            gw.host, gw.launcher = self.placement(n)
            gw.write_config()
            self.gateways[n] = gw
        for gw in self.gateways.values():
            gw.spawn()
        for gw in self.gateways.values():
            gw.wait_ready()

    def close(self):
        """Stops every gateway and backend; returns a list of problems (non-zero exits)."""
        problems = []
        for n, gw in self.gateways.items():
            rc = gw.stop()
            if rc not in (0, None):
                problems.append(f"ndx-gateway {n} exited with {rc} on SIGTERM:\n{gw.tail()}")
        self.citizens.stop()
        self.echo.stop()
        return problems

    # -- looking at it --------------------------------------------------------------------

    def tails(self):
        out = []
        for n, gw in self.gateways.items():
            out.append(f"--- ndx-gateway {n} stderr ---\n{gw.tail(12)}")
        return "\n".join(out)

    def conf(self):
        resp = requests.get(self.registry.url + "/conf", timeout=10)
        assert resp.status_code == 200, resp.text
        return json.loads(resp.content)

    def gateway_keys(self, member):
        """[(sign_key raw, sign_key_id)] of the member's gateways in the current conf."""
        return [(base64.b64decode(g["sign_key"]), g["sign_key_id"])
                for g in self.conf()["gateways"] if g["member"] == member]

    def wait_conf(self, gw, version, timeout=10.0):
        """Waits until gateway gw reports conf_version >= version on /healthz."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                last = gw.healthz()
                if last.status_code == 200 and last.json().get("conf_version", 0) >= version:
                    return last.json()
            except (requests.RequestException, ValueError):
                pass
            time.sleep(0.1)
        raise AssertionError(f"{gw.member}/{gw.code} did not reach conf_version {version} in "
                             f"{timeout} s (last /healthz: "
                             f"{last.status_code if last is not None else None} "
                             f"{last.text if last is not None else ''})\n{gw.tail()}")

    # -- the consumer API -------------------------------------------------------------------

    def call(self, gw, method, service, path="", client=TAX, xid=None, headers=None,
             data=None, params=None, timeout=20, **kw):
        """A consumer API call through gateway gw ("BTC", ...). xid: None = a fresh unique
        X-Road-Id, False = none sent, else the value."""
        h = {}
        if client is not None:
            h["X-Road-Client"] = client
        if xid is None:
            xid = "t-" + uuid.uuid4().hex
        if xid is not False:
            h["X-Road-Id"] = xid
        h.update(headers or {})
        url = f"{self.gateways[gw].url}/r1/{service}{path}"
        return requests.request(method, url, headers=h, data=data, params=params,
                                timeout=timeout, allow_redirects=False, **kw)


def raw_http(port, method, target, headers, body=None, timeout=20):
    """A request with an exact target (no client-side re-encoding); returns
    (status, headers dict lower-cased, body bytes)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.putrequest(method, target, skip_accept_encoding=True)
        for k, v in headers.items():
            conn.putheader(k, v)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


# ---- acting as a member gateway (docs/protocol.md "Gateway to gateway") ------------------

def tls_context(ca_pem, cert=None, key=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False  # the instance CA names gateways, not host names
    ctx.load_verify_locations(str(ca_pem))
    if cert is not None:
        ctx.load_cert_chain(str(cert), str(key))
    return ctx


# port -> "{member}/{code}" of every gateway registered by a Federation: the name a
# request sent to that port is signed for (Ndx-Gateway).
GATEWAY_NAMES = {}


def gateway_request(gateway_port, ctx, method, service, path="", query="", client=TAX,
                    xid=None, headers=None, body=b"", sign_with=None, timestamp=None,
                    tamper=None, content_type=None, timeout=15, gateway=None,
                    signed_user_headers_override=None, conn=None):
    """Sends one gateway-to-gateway request as a consumer gateway would: the consumer
    request plus Ndx-Timestamp, Ndx-Gateway and Ndx-Signature over the request hash.
    sign_with is an Ed25519 private key (None: no Ndx-Signature); tamper(sig_dict) may
    spoil the object. gateway names the gateway the request is signed for (default: the
    one registered at gateway_port). Returns (status, headers lower-cased, body, request
    hash). conn: an open http.client.HTTPSConnection to the gateway port to send it on,
    kept open (keep-alive) for the caller; None: a connection of its own, closed after."""
    xid = xid or "py-" + uuid.uuid4().hex
    timestamp = timestamp or rfc3339()
    gateway = GATEWAY_NAMES.get(gateway_port, "") if gateway is None else gateway
    extra = dict(headers or {})
    h = {"X-Road-Client": client, "X-Road-Id": xid, "Ndx-Timestamp": timestamp,
         "Ndx-Gateway": gateway}
    h.update(extra)
    if content_type:
        h["Content-Type"] = content_type
    rh = request_hash(method, service, path, query, client, xid,
                      extra.get("X-Road-UserId"), extra.get("X-Road-Issue"),
                      extra.get("Ndx-Purpose"), extra.get("Ndx-Subject"),
                      extra.get("Ndx-Consent"), timestamp, content_type, body,
                      gateway=gateway, nonce=extra.get("Ndx-Nonce", ""),
                      represented_party=extra.get("X-Road-Represented-Party", ""),
                      user_headers=signed_user_headers(extra.items(),
                                                       extra.get("Ndx-Headers"))
                      if signed_user_headers_override is None
                      else signed_user_headers_override)
    if sign_with is not None:
        obj = sign_object(sign_with, rh)
        if tamper:
            tamper(obj)
        h["Ndx-Signature"] = compact(obj)
    target = f"/r1/{service}{path}" + (f"?{query}" if query else "")
    own = conn is None
    if own:
        conn = http.client.HTTPSConnection("127.0.0.1", gateway_port, context=ctx,
                                           timeout=timeout)
    try:
        conn.putrequest(method, target, skip_accept_encoding=True)
        for k, v in h.items():
            conn.putheader(k, v)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read(), rh
    finally:
        if own:
            conn.close()


# ---- a provider gateway played by Python (to test the consumer gateway's checks) ----------

FAKE_MEMBER = "VN/COM/0100000001"
FAKE_SUBSYSTEM = FAKE_MEMBER + "/sim"
FAKE_SERVICE = FAKE_SUBSYSTEM + "/echo"
FAKE_BODY = b'{"fake":true}'


class FakeProviderGateway:
    """A gateway port written from protocol.md: mutual TLS with a registered identity,
    answers every exchange with FAKE_BODY and a response signature spoilt as `mode`
    says: "good", "flipped" (a byte of root_signature), "missing", "other-key" (a valid
    signature by an unregistered key under its own key id), "wrong-hash" (a valid
    signature over another response hash). Records (method, target, headers)."""

    def __init__(self, ident):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        self.ident = ident
        self.mode = "good"
        self.records = []
        self.key = ident.private_key()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _any(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                fake.records.append((self.command, self.path, dict(self.headers.items()),
                                     body))
                target, _, query = self.path.partition("?")
                prefix = "/r1/" + FAKE_SERVICE
                path = target[len(prefix):] if target.startswith(prefix) else target
                h = self.headers
                rh = request_hash(self.command, FAKE_SERVICE, path, query,
                                  h.get("X-Road-Client"), h.get("X-Road-Id"),
                                  h.get("X-Road-UserId"), h.get("X-Road-Issue"),
                                  h.get("Ndx-Purpose"), h.get("Ndx-Subject"),
                                  h.get("Ndx-Consent"), h.get("Ndx-Timestamp"),
                                  h.get("Content-Type"), body,
                                  gateway=h.get("Ndx-Gateway") or "",
                                  nonce=h.get("Ndx-Nonce") or "",
                                  represented_party=h.get("X-Road-Represented-Party") or "",
                                  user_headers=signed_user_headers(self.headers.items(),
                                                                   h.get("Ndx-Headers")))
                # The answer's one user header; "header-changed" signs another value
                # than it sends, "header-added" sends one more than it signs.
                user = [("ETag", '"v1"')]
                sent_user = {"header-changed": [("ETag", '"v2"')],
                             "header-added": user + [("Set-Cookie", "admin=1")]}.get(
                                 fake.mode, user)
                resp_h = response_hash(rh, 200, "application/json", None, FAKE_BODY,
                                       user_headers=user)
                if fake.mode == "other-key":
                    sig = compact(sign_object(ed25519.Ed25519PrivateKey.generate(), resp_h))
                elif fake.mode == "wrong-hash":
                    sig = compact(sign_object(fake.key, response_hash(rh, 201)))
                else:
                    obj = sign_object(fake.key, resp_h)
                    if fake.mode == "flipped":
                        raw = bytearray(base64.b64decode(obj["root_signature"]))
                        raw[7] ^= 0x80
                        obj["root_signature"] = base64.b64encode(bytes(raw)).decode()
                    sig = compact(obj)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(FAKE_BODY)))
                self.send_header("X-Road-Request-Hash", base64.b64encode(rh).decode())
                self.send_header("X-Road-Request-Id", str(uuid.uuid4()))
                self.send_header("Ndx-Headers", ",".join(n.lower() for n, _ in sent_user))
                for n, v in sent_user:
                    self.send_header(n, v)
                if fake.mode != "missing":
                    self.send_header("Ndx-Response-Signature", sig)
                self.end_headers()
                self.wfile.write(FAKE_BODY)

            do_GET = do_POST = _any

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True

            def handle_error(self, request, client_address):
                pass

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(ident.tls_cert), str(ident.tls_key))
        ctx.load_verify_locations(str(ident.ca_pem))
        ctx.verify_mode = ssl.CERT_REQUIRED
        port = int(ident.address.rsplit(":", 1)[1])
        self.server = Server(("127.0.0.1", port), Handler)
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def add_fake_provider(fed):
    """Registers FAKE_MEMBER with a service granted to TAX and a gateway played by
    FakeProviderGateway; returns it once the consumer gateway BTC holds the new conf."""
    fed.ndx("member", "add", FAKE_MEMBER, "--name", "Công ty Mô phỏng")
    fed.ndx("subsystem", "add", FAKE_SUBSYSTEM)
    fed.ndx("service", "add", FAKE_SERVICE, "--title", "Mô phỏng")
    ident = fed.register_gateway("FAKE", FAKE_MEMBER, "gw1", free_port())
    fed.ndx("grant", "add", "--client", TAX, "--service", FAKE_SERVICE, "--method", "GET")
    fake = FakeProviderGateway(ident)
    fed.wait_conf(fed.gateways["BTC"], fed.registry.conf_version())
    return fake


def remove_fake_provider(fed):
    grants = json.loads(fed.ndx("grant", "list", "--service", FAKE_SERVICE, "--json").stdout)
    for g in grants["grants"]:
        fed.ndx("grant", "remove", g["id"])
    fed.ndx("gateway", "remove", FAKE_MEMBER, "gw1", check=False)
    fed.ndx("service", "remove", FAKE_SERVICE, check=False)
    fed.ndx("subsystem", "remove", FAKE_SUBSYSTEM, check=False)
    fed.ndx("member", "remove", FAKE_MEMBER, check=False)
    for gw in fed.gateways.values():
        fed.wait_conf(gw, fed.registry.conf_version())


@contextlib.contextmanager
def running_federation(build_dir, prefix, gateway_class=None, setup=None, registry_kw=None,
                       federation_kw=None):
    """A registry and a started Federation in a fresh directory, for a module fixture.
    gateway_class replaces Gateway while the gateways are made; setup(f) runs once
    they are up; registry_kw and federation_kw go to Registry and Federation. On the way
    out every process is stopped: a non-zero exit fails the module (its files are kept),
    else the directory is removed."""
    global Gateway
    if not gateway_exe(build_dir).is_file():
        pytest.fail(f"{gateway_exe(build_dir)} is missing: build it first", pytrace=False)
    # Not under pytest's basetemp: other pytest sessions on this machine rotate it away.
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    (workdir / "registry").mkdir()
    reg = Registry(registry_exe(build_dir), workdir / "registry", **(registry_kw or {})).start()
    problems = []
    try:
        f = Federation(build_dir, reg, workdir / "fed", **(federation_kw or {}))
        orig = Gateway
        try:
            if gateway_class is not None:
                Gateway = gateway_class
            f.start()
            if setup is not None:
                try:
                    setup(f)
                except BaseException:
                    # Any failure, not only a RuntimeError: no gateway may outlive it.
                    f.close()
                    raise
        except RuntimeError as e:
            pytest.fail(str(e), pytrace=False)
        finally:
            Gateway = orig
        yield f
        problems = f.close()
    finally:
        rc = reg.stop()
    if rc not in (0, None):
        problems.append(f"ndx-registry exited with {rc}:\n{reg.tail()}")
    if problems:
        pytest.fail("\n".join(problems) + f"\n(files kept in {workdir})", pytrace=False)
    shutil.rmtree(workdir, ignore_errors=True)
