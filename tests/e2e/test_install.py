"""`meson install` into a temporary root (what `make install DESTDIR=... PREFIX=...`
runs), then what landed: the binaries, their man pages, the web UI, the systemd
units (`systemd-analyze verify`, with no warning, and `systemd-analyze security
--offline=true`, whose scores docs/install.md lists), the users, the example
configuration, where each installed daemon reads its configuration from
(docs/install.md), and the nginx example for TLS on the public faces, run by
nginx in front of a registry. A few seconds: nothing is built."""

import http.server
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest
import requests

from conftest import free_port

REPO = Path(__file__).resolve().parents[2]
BINARIES = ["ndx", "ndx-registry", "ndx-gateway", "ndx-consent", "ndx-sector", "ndx-id",
            "ndx-portal", "ndx-monitor"]
# unit file -> the instance verified and scored, the binary it starts, its state
# directory, the environment file of its options and that file's variable
UNITS = {
    "ndx-registry.service": ("ndx-registry.service", "ndx-registry", "ndx/registry",
                             "registry.env", "NDX_REGISTRY_OPTIONS"),
    "ndx-gateway@.service": ("ndx-gateway@bca.service", "ndx-gateway", "ndx/gateway-%i",
                             None, None),
    "ndx-consent.service": ("ndx-consent.service", "ndx-consent", "ndx/consent",
                            "consent.env", "NDX_CONSENT_OPTIONS"),
    "ndx-sector@.service": ("ndx-sector@population.service", "ndx-sector", "ndx/sector",
                            "sector-%i.env", "NDX_SECTOR_OPTIONS"),
    "ndx-id.service": ("ndx-id.service", "ndx-id", "ndx/id", "id.env", "NDX_ID_OPTIONS"),
    "ndx-portal.service": ("ndx-portal.service", "ndx-portal", "ndx/portal", None, None),
    "ndx-monitor.service": ("ndx-monitor.service", "ndx-monitor", "ndx/monitor",
                            "monitor.env", "NDX_MONITOR_OPTIONS"),
}
HARDENING = ["NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
             "PrivateDevices=yes", "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
             "SystemCallFilter=@system-service", "CapabilityBoundingSet=",
             "ConfigurationDirectory=ndx"]


def run(*args, **kw):
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=60,
                          check=False, **kw)


@pytest.fixture(scope="module")
def inst(build_dir, tmp_path_factory):
    """The build installed into a temporary root: (root, {option: absolute path})."""
    res = run("meson", "introspect", "--buildoptions", build_dir)
    assert res.returncode == 0, res.stderr
    opts = {o["name"]: o["value"] for o in json.loads(res.stdout)}
    prefix = Path(opts["prefix"])
    paths = {k: prefix / opts[k] for k in ("bindir", "mandir", "datadir", "sysconfdir")}
    paths["prefix"] = prefix
    root = tmp_path_factory.mktemp("root")
    res = run("meson", "install", "-C", build_dir, "--no-rebuild", "--quiet",
              "--destdir", root)
    assert res.returncode == 0, res.stdout + res.stderr
    return root, paths


def under(root, path):
    return root / Path(path).relative_to("/")


def test_binaries_and_man_pages(inst):
    root, p = inst
    for b in BINARIES:
        exe = under(root, p["bindir"] / b)
        res = run(exe, "--version")
        assert res.returncode == 0 and res.stdout.startswith(b + " "), (b, res.stderr)
        page = under(root, p["mandir"] / "man1" / (b + ".1"))
        assert page.is_file(), page
        res = run("groff", "-man", "-Tutf8", "-ww", "-z", page)
        assert res.returncode == 0 and res.stderr == "", (page, res.stderr)
        text = run("groff", "-man", "-Tutf8", "-P", "-cbou", page).stdout
        # The page says what the binary's --help says: every option of the
        # top-level help and of serve's (the daemons') is on it.
        helps = run(exe, "--help").stdout
        if b not in ("ndx", "ndx-gateway"):
            helps += run(exe, "serve", "--help").stdout
        for opt in set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]+", helps)):
            assert opt in text, (b, opt)
    assert set(p.name for p in under(root, p["bindir"]).iterdir()) == set(BINARIES)


def test_web_assets(inst):
    root, p = inst
    share = under(root, p["datadir"] / "ndx")
    for f in (REPO / "web").rglob("*"):
        if f.is_file():
            got = share / "web" / f.relative_to(REPO / "web")
            assert got.read_bytes() == f.read_bytes(), got
    # The npm packages are installed when `npm ci` has brought them (make install
    # runs it first): GOV.UK Frontend's dist/govuk and Chart.js's dist.
    nm = REPO / "node_modules"
    for src, dst, probe in (("govuk-frontend/dist/govuk", "govuk-frontend",
                             "govuk-frontend.min.css"),
                            ("chart.js/dist", "chart.js", "chart.umd.min.js")):
        if (nm / src).is_dir():
            assert (share / dst / probe).read_bytes() == (nm / src / probe).read_bytes()
        else:
            assert not (share / dst).exists()


def unit_files(inst):
    root, p = inst
    return {u: under(root, p["prefix"] / "lib/systemd/system" / u) for u in UNITS}


def test_units_hardened_and_verified(inst, tmp_path):
    root, p = inst
    files = unit_files(inst)
    assert set(f.name for f in next(iter(files.values())).parent.iterdir()) == set(UNITS)
    copies = tmp_path / "units"
    copies.mkdir()
    for u, f in files.items():
        text = f.read_text()
        instance, binary, state, env, var = UNITS[u]
        lines = text.splitlines()
        for h in HARDENING + [f"StateDirectory={state}"]:
            assert h in lines, (u, h)
        assert re.search(r"^User=ndx-[a-z]+$", text, re.M), u
        start = next(line for line in lines if line.startswith("ExecStart="))
        assert start.startswith(f"ExecStart={p['bindir'] / binary} "), start
        if env:
            assert f"EnvironmentFile=-%E/ndx/{env}" in lines and f"${var}" in start, u
        # Every man page the unit's Documentation= names is installed.
        for page in re.findall(r"man:([\w-]+)\((\d)\)", text):
            assert under(root, p["mandir"] / f"man{page[1]}" / f"{page[0]}.{page[1]}").is_file()
        # systemd-analyze checks that ExecStart's binary exists on this machine:
        # the copies name the installed one under the temporary root.
        (copies / u).write_text(text.replace(f"={p['bindir']}/",
                                             f"={under(root, p['bindir'])}/"))
    names = [UNITS[u][0] for u in UNITS]
    res = run("systemd-analyze", "verify", "--man=no", *names, cwd=copies)
    assert res.returncode == 0 and res.stdout == "" and res.stderr == "", res.stdout + res.stderr

    scores = {}
    for name in names:
        res = run("systemd-analyze", "security", "--offline=true", "--no-pager", name,
                  cwd=copies)
        m = re.search(r"Overall exposure level for \S+: (\d+\.\d)", res.stdout)
        assert res.returncode == 0 and m, res.stdout + res.stderr
        scores[name] = m.group(1)
        assert float(m.group(1)) <= 2.0, (name, m.group(1))
    # docs/install.md lists the scores for the systemd it names.
    doc = (REPO / "docs" / "install.md").read_text()
    ver = re.search(r"`systemd-analyze\s+security\s+--offline=true`\s+of\s+systemd\s+(\d+)", doc)
    assert ver, "docs/install.md names the systemd version of its scores"
    here = run("systemd-analyze", "--version").stdout.split()[1]
    if here == ver.group(1):
        listed = dict(re.findall(r"^\| `([\w@.-]+)` \| (\d+\.\d) \|", doc, re.M))
        assert listed == scores, (listed, scores)


def test_users(inst, tmp_path):
    """systemd-sysusers makes every unit's user from the installed sysusers.d file,
    into an empty root of its own, and puts the gateway's user in group ndx-sector."""
    root, p = inst
    conf = under(root, p["prefix"] / "lib/sysusers.d/ndx.conf")
    (tmp_path / "etc").mkdir()
    res = run("systemd-sysusers", f"--root={tmp_path}", conf)
    assert res.returncode == 0 and "warn" not in res.stderr.lower(), res.stderr
    users = {line.split(":")[0]: line.split(":")[6]
             for line in (tmp_path / "etc/passwd").read_text().splitlines()}
    for f in unit_files(inst).values():
        user = re.search(r"^User=(\S+)$", f.read_text(), re.M).group(1)
        assert users.get(user) == "/usr/sbin/nologin", (f.name, user)
    groups = {line.split(":")[0]: line.split(":")[3].split(",")
              for line in (tmp_path / "etc/group").read_text().splitlines()}
    assert groups["ndx-sector"] == ["ndx-gateway"]


def test_example_configuration(inst):
    root, p = inst
    ex = under(root, p["datadir"] / "doc/ndx/examples/etc/ndx")
    for name in ("gateway-bca.json", "portal.json"):
        doc = json.loads((ex / name).read_text())
        assert "@" not in json.dumps(doc).replace("VN/GOV", ""), name  # all substituted
    assert json.loads((ex / "gateway-bca.json").read_text())["data_dir"] == \
        "/var/lib/ndx/gateway-bca"
    portal = json.loads((ex / "portal.json").read_text())
    assert portal["data_dir"] == "/var/lib/ndx/portal"
    assert portal["web_dir"] == str(p["datadir"] / "ndx" / "web")
    # The public holidays the deadlines skip, shipped and named (docs/portal.md "Deadline").
    assert portal["holidays_file"] == str(p["datadir"] / "ndx" / "holidays-vn.txt")
    assert under(root, p["datadir"] / "ndx" / "holidays-vn.txt").read_text().count("\n20") >= 30
    for u, (_, _, _, env, var) in UNITS.items():
        if not env:
            continue
        f = ex / env.replace("%i", "population")
        settings = [line for line in f.read_text().splitlines()
                    if line.strip() and not line.startswith("#")]
        assert len(settings) == 1 and settings[0].startswith(var + "="), (f, settings)
        assert "@" not in settings[0], f


def test_default_configuration_location(inst, tmp_path):
    """Every daemon's --help says where its configuration is read from; the two
    with a configuration file read it there without --config."""
    root, p = inst
    conf_dir = p["sysconfdir"] / "ndx"
    for b in BINARIES[1:]:
        out = run(under(root, p["bindir"] / b), "--help").stdout
        assert str(conf_dir) + "/" in out, (b, out)
    gw = under(root, p["bindir"] / "ndx-gateway")
    if not (conf_dir / "gateway.json").exists():
        res = run(gw, "--check")
        assert res.returncode == 1 and f"{conf_dir}/gateway.json" in res.stderr, res.stderr
    if not (conf_dir / "portal.json").exists():
        res = run(under(root, p["bindir"] / "ndx-portal"), "serve")
        assert res.returncode == 1 and f"{conf_dir}/portal.json" in res.stderr, res.stderr
    # --config still names another file.
    res = run(gw, "--check", "--config", tmp_path / "nothere.json")
    assert res.returncode == 1 and "nothere.json" in res.stderr


def _tls_cert(d, name):
    """A self-signed P-256 certificate for name, as the nginx example names its files."""
    key, crt = d / f"{name}.key.pem", d / f"{name}.fullchain.pem"
    res = run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
              "-nodes", "-days", "1", "-subj", f"/CN={name}", "-addext",
              f"subjectAltName=DNS:{name}", "-keyout", key, "-out", crt)
    assert res.returncode == 0, res.stderr
    return crt


class _EchoHeaders(http.server.BaseHTTPRequestHandler):
    """The upstream of the portal's server block: answers with the headers it got."""

    def do_GET(self):
        body = json.dumps({k.lower(): v for k, v in self.headers.items()}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_nginx_example_serves_only_the_public_faces(inst, registry):
    """deploy/nginx/ndx-public.conf, as installed, run by Debian's nginx on loopback
    ports with self-signed certificates: the registry's signed configuration over TLS
    and HTTP/2, its management API not at all, writes refused; the portal's upstream
    gets X-Forwarded-For set to the address nginx saw, whatever the client sent (what
    the e-ID's --trusted-proxy and the portal's trusted_proxies rely on), and HSTS;
    plain HTTP redirects to https."""
    root, p = inst
    conf = under(root, p["datadir"] / "doc/ndx/examples/nginx/ndx-public.conf").read_text()
    d = Path(tempfile.mkdtemp(prefix="ndx-nginx-"))
    os.chmod(d, 0o755)  # nginx's workers run as nobody when root starts it
    echo = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _EchoHeaders)
    threading.Thread(target=echo.serve_forever, daemon=True).start()
    tls, plain = free_port(), free_port()
    certs = d / "certs"
    certs.mkdir()
    names = ("dichvucong.example.gov.vn", "id.example.gov.vn", "conf.example.gov.vn")
    for n in names:
        _tls_cert(certs, n)
    conf = conf.replace("server 127.0.0.1:4450;", f"server 127.0.0.1:{echo.server_port};")
    conf = conf.replace("server 127.0.0.1:4445;", f"server 127.0.0.1:{echo.server_port};")
    conf = conf.replace("server 127.0.0.1:4400;", f"server 127.0.0.1:{registry.port};")
    conf = conf.replace("/etc/ssl/ndx/", f"{certs}/")
    conf = re.sub(r"^\s*listen \[::\]:\d+.*$", "", conf, flags=re.M)
    conf = conf.replace("listen 443 ssl http2;", f"listen 127.0.0.1:{tls} ssl http2;")
    conf = conf.replace("listen 80;", f"listen 127.0.0.1:{plain};")
    assert "4450" not in conf and "/etc/ssl" not in conf and "[::]" not in conf
    (d / "ndx-public.conf").write_text(conf)
    for t in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (d / "tmp" / t).mkdir(parents=True)
    (d / "nginx.conf").write_text(
        f"pid {d}/nginx.pid;\nerror_log {d}/error.log;\nevents {{}}\n"
        f"http {{\n  access_log {d}/access.log;\n  client_body_temp_path {d}/tmp/body;\n"
        f"  proxy_temp_path {d}/tmp/proxy;\n  fastcgi_temp_path {d}/tmp/fastcgi;\n"
        f"  uwsgi_temp_path {d}/tmp/uwsgi;\n  scgi_temp_path {d}/tmp/scgi;\n"
        f"  include {d}/ndx-public.conf;\n}}\n")
    res = run("nginx", "-t", "-p", d, "-c", d / "nginx.conf", "-e", d / "error.log")
    assert res.returncode == 0, res.stderr
    nginx = subprocess.Popen(["nginx", "-p", str(d), "-c", str(d / "nginx.conf"), "-e",
                              str(d / "error.log"), "-g", "daemon off;"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def curl(name, path, *extra, port=tls, scheme="https"):
        res = run("curl", "-s", "--resolve", f"{name}:{port}:127.0.0.1", "--cacert",
                  certs / f"{name}.fullchain.pem", "-D", "-", "-w",
                  "\n%{http_code} %{http_version}", *extra, f"{scheme}://{name}:{port}{path}")
        assert res.returncode == 0, res.stderr
        head, _, rest = res.stdout.partition("\n\n")  # text mode: \r\n read as \n
        body, _, status = rest.rpartition("\n")
        return head.lower(), body, status

    try:
        deadline = time.monotonic() + 10
        while run("curl", "-s", "-o", "/dev/null", f"http://127.0.0.1:{plain}/").returncode:
            assert nginx.poll() is None and time.monotonic() < deadline, nginx.stderr.read()
            time.sleep(0.05)
        conf_name, portal_name = names[2], names[0]
        head, body, status = curl(conf_name, "/conf")
        assert status == "200 2", status
        direct = requests.get(registry.url + "/conf", timeout=10)
        assert body.encode() == direct.content
        assert f"ndx-conf-signature: {direct.headers['Ndx-Conf-Signature']}".lower() in head
        assert "strict-transport-security: max-age=63072000" in head
        for path in ("/api/members", "/api/audit", "/healthz", "/"):
            _, _, status = curl(conf_name, path, "-H",
                                f"Authorization: Bearer {registry.token}")
            assert status.startswith("404 "), (path, status)
        _, _, status = curl(conf_name, "/conf", "-X", "POST", "-d", "{}")
        assert status.startswith("403 "), status
        assert "/api/" not in registry.tail()

        head, body, status = curl(portal_name, "/profile", "-H",
                                  "X-Forwarded-For: 203.0.113.9")
        got = json.loads(body)
        assert status == "200 2" and got["x-forwarded-for"] == "127.0.0.1", got
        assert got["x-forwarded-proto"] == "https" and got["host"] == portal_name, got
        head, _, status = curl(names[1], "/authorize?x=1", port=plain, scheme="http")
        assert status.startswith("301 ") and \
            f"location: https://{names[1]}/authorize?x=1" in head, head
    finally:
        nginx.terminate()
        nginx.wait(timeout=10)
        echo.shutdown()
        shutil.rmtree(d, ignore_errors=True)
