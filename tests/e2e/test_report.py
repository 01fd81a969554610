"""End-to-end tests of the resolution's indicators, the implementation tracker and the
six-monthly report in ndx-monitor (issue 18; docs/indicators.md): a monitoring service
initialised and serving (its collector pointed at a registry with no gateways), operational
records of the period put in its monitor.db, values and tasks entered through the commands
and through the API, and the refusals of both (no token, an unknown indicator, a bad period,
a bad scope, a percentage over 100, a computed indicator, an unknown task). The report is
generated twice by the command and once by the API: the same bytes each time; its pages
render with pdftoppm and are not blank; pdftotext finds every indicator of the catalogue,
every overdue task and the registries' four measures put in monitor.db."""

import json
import re
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
import requests

from conftest import free_port

REPO = Path(__file__).resolve().parents[2]
CATALOGUE = json.loads((REPO / "src" / "monitor" / "indicators.json").read_text())
PERIOD = "2026-H2"
AUG_MS = 1786752000000  # 2026-08-15T00:00:00Z, inside 2026-H2 in Vietnam time
CLIENT = "VN/GOV/BTTTT/monitoring"


def exe(build_dir):
    return str(Path(build_dir) / "src" / "monitor" / "ndx-monitor")


def run(build_dir, *args, ok=True):
    res = subprocess.run([exe(build_dir), *args], capture_output=True, text=True, timeout=60)
    if ok:
        assert res.returncode == 0, (args, res.stdout, res.stderr)
    return res


def put_records(db):
    """Operational records as the collector keeps them: 40 exchanges MOF -> BCA in August,
    each seen by both gateways, 2 failed; 5 MOF -> BNNMT seen only by the provider."""
    con = sqlite3.connect(db)
    rows = []
    for i in range(1, 41):
        for gw, role, seq in (("VN/GOV/MOF/gw1", "consumer", i), ("VN/GOV/BCA/gw1", "provider", i)):
            rows.append((gw, seq, role, f"m{i}", "VN/GOV/MOF/tax", "VN/GOV/MOF",
                         "VN/GOV/BCA/population/citizens", "VN/GOV/BCA", AUG_MS + i * 1000,
                         0 if i <= 2 else 1, 20 + i))
    for i in range(1, 6):
        rows.append(("VN/GOV/BNNMT/gw1", i, "provider", f"l{i}", "VN/GOV/MOF/tax", "VN/GOV/MOF",
                     "VN/GOV/BNNMT/land/parcels", "VN/GOV/BNNMT", AUG_MS + i * 5000, 1, 300))
    con.executemany(
        "INSERT INTO records(gateway, seq, role, message_id, client, client_member, service,"
        " service_member, request_in_ms, success, duration_ms, personal)"
        " VALUES(?,?,?,?,?,?,?,?,?,?,?,0)", rows)
    con.commit()
    con.close()


def put_measures(db):
    """The registries' measures as the collector keeps them (docs/indicators.md "Registry
    measures"): tax's run 3 in August, 200 taxpayers, 190 clean."""
    con = sqlite3.connect(db)
    con.execute(
        "INSERT INTO registry_measures(service, member, sector, tbl, run, started_at,"
        " finished_at, finished_ms, records, accurate, sufficient, clean, live, collected_ms)"
        " VALUES('VN/GOV/TCT/tax/measures', 'VN/GOV/TCT', 'tax', 'taxpayers', 3,"
        " '2026-08-15T00:00:00Z', '2026-08-15T00:00:00Z', ?, 200, 180, 200, 190, 170, ?)",
        (AUG_MS, AUG_MS))
    con.commit()
    con.close()


class Monitor:
    def __init__(self, build_dir, registry, workdir):
        self.build_dir = build_dir
        self.registry = registry
        self.data = Path(workdir) / "data"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = Path(workdir) / "monitor.log"
        self.proc = None

    def init(self):
        run(self.build_dir, "init", "--data", str(self.data))
        self.token = (self.data / "admin.token").read_text().strip()
        put_records(self.data / "monitor.db")
        put_measures(self.data / "monitor.db")
        return self

    def start(self):
        self.proc = subprocess.Popen(
            [exe(self.build_dir), "serve", "--data", str(self.data), "--anchor",
             str(self.registry.anchor), "--registry", self.registry.url, "--gateway",
             f"http://127.0.0.1:{free_port()}", "--client", CLIENT, "--listen",
             f"127.0.0.1:{self.port}", "--interval", "3600"],
            stdout=subprocess.DEVNULL, stderr=open(self.log, "wb"))
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if "listening on" in self.log.read_text(errors="replace"):
                return self
            assert self.proc.poll() is None, self.log.read_text()
            time.sleep(0.05)
        raise AssertionError("ndx-monitor did not start:\n" + self.log.read_text())

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            assert self.proc.wait(timeout=15) == 0, self.log.read_text()

    def call(self, method, path, token=True, **kw):
        h = {"Authorization": f"Bearer {self.token}"} if token else {}
        return requests.request(method, self.url + path, headers=h, timeout=30, **kw)

    def cmd(self, *args, ok=True):
        """Runs `ndx-monitor WORDS --data DIR OPTIONS` (the words are those before the
        first option)."""
        n = next((i for i, a in enumerate(args) if a.startswith("--")), len(args))
        return run(self.build_dir, *args[:n], "--data", str(self.data), *args[n:], ok=ok)


@pytest.fixture
def mon(build_dir, registry, tmp_path):
    m = Monitor(build_dir, registry, tmp_path).init().start()
    yield m
    m.stop()


def entered_ids():
    return [i["id"] for i in CATALOGUE["indicators"]
            if i["source"] not in ("exchange", "registries")]


def test_catalogue_is_complete_and_honest():
    ids = {i["id"] for i in CATALOGUE["indicators"]}
    for want in ("online_completion", "cashless_payments", "eid_online_services",
                 "prefilled_fields", "qd766_transparency", "qd766_on_time",
                 "qd766_online_services", "qd766_satisfaction", "qd766_digitised"):
        assert want in ids
    for i in CATALOGUE["indicators"]:
        for k in ("id", "name", "definition", "source", "unit", "baseline", "target",
                  "deadline", "direction", "basis"):
            assert k in i, (i["id"], k)
        assert i["name"]["vi"] and i["name"]["en"]
        assert i["source"] in ("exchange", "portal", "eid", "registries", "entered")
        assert i["basis"] and all(b["document"] and b["wording"]["vi"] for b in i["basis"])


def test_commands_enter_values_and_tasks_and_refuse(mon):
    out = mon.cmd("indicator", "set", "--id", "online_completion", "--period", PERIOD,
                  "--scope", "national", "--value", "70", "--source", "Cổng DVCQG",
                  "--by", "Nguyễn Văn A")
    assert "online_completion" in out.stdout
    # a correction is a new row; the history keeps both, the list shows the newest
    mon.cmd("indicator", "set", "--id", "online_completion", "--period", PERIOD, "--scope",
            "national", "--value", "72.5", "--source", "Cổng DVCQG (đính chính)", "--by",
            "Trần Thị B", "--note", "số liệu đính chính")
    hist = json.loads(mon.cmd("indicator", "history", "--id", "online_completion").stdout)
    assert [h["value"] for h in hist] == [70, 72.5]
    assert [h["entered_by"] for h in hist] == ["Nguyễn Văn A", "Trần Thị B"]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", h["entered_at"]) for h in hist)
    view = json.loads(mon.cmd("indicator", "list", "--period", PERIOD, "--json").stdout)
    oc = next(i for i in view["indicators"] if i["id"] == "online_completion")
    nat = oc["scopes"][0]
    assert nat["scope"] == "national" and nat["current"]["value"] == 72.5
    assert nat["current"]["corrections"] == 1
    assert nat["distance"] == 7.5 and nat["met"] is False
    # the computed ones come from monitor.db: 45 exchanges, 2 failed
    vol = next(i for i in view["indicators"] if i["id"] == "exchange_volume")
    assert vol["scopes"][0]["current"]["value"] == 45
    # refusals: each names what is wrong, exit 2, nothing kept
    base = ["--source", "s", "--by", "A"]
    for args, word in (
            (["--id", "nope", "--period", PERIOD, "--scope", "national", "--value", "1"], "--id"),
            (["--id", "online_completion", "--period", "2026-H3", "--scope", "national",
              "--value", "1"], "--period"),
            (["--id", "online_completion", "--period", PERIOD, "--scope", "VN/GOV/BCA/sub",
              "--value", "1"], "--scope"),
            (["--id", "online_completion", "--period", PERIOD, "--scope", "999",
              "--value", "1"], "province"),
            (["--id", "online_completion", "--period", PERIOD, "--scope", "national",
              "--value", "101"], "0 to 100"),
            (["--id", "online_completion", "--period", PERIOD, "--scope", "national",
              "--value", "70,5"], "--value"),
            (["--id", "exchange_success", "--period", PERIOD, "--scope", "national",
              "--value", "99"], "computed")):
        res = mon.cmd("indicator", "set", *args, *base, ok=False)
        assert res.returncode == 2 and word in res.stderr, (args, res.stderr)
    assert len(json.loads(mon.cmd("indicator", "history").stdout)) == 2
    # tasks
    out = mon.cmd("task", "add", "--title", "Kết nối CSDL đất đai", "--lead", "VN/GOV/BNNMT",
                  "--deadline", "2026-09-30", "--by", "A")
    assert "task 1" in out.stdout
    mon.cmd("task", "add", "--title", "Số hóa hộ tịch", "--lead", "VN/GOV/BTP",
            "--deadline", "2027-06-30", "--status", "in_progress", "--by", "A")
    lines = mon.cmd("task", "list", "--as-of", "2026-12-31").stdout.splitlines()
    assert "OVERDUE" in lines[0] and "Kết nối CSDL đất đai" in lines[0]
    assert "OVERDUE" not in lines[1]
    mon.cmd("task", "update", "--id", "1", "--status", "done", "--evidence",
            "https://example.gov.vn/bien-ban", "--by", "B")
    tasks = json.loads(mon.cmd("task", "list", "--as-of", "2026-12-31", "--json").stdout)
    assert tasks[0]["status"] == "done" and tasks[0]["overdue"] is False
    assert tasks[0]["updated_by"] == "B"
    res = mon.cmd("task", "update", "--id", "99", "--status", "done", "--by", "B", ok=False)
    assert res.returncode == 1 and "no task 99" in res.stderr
    for args in (["--title", "x", "--lead", "VN/GOV/BTP/sub", "--deadline", "2026-01-01"],
                 ["--title", "x", "--lead", "VN/GOV/BTP", "--deadline", "2026-02-30"],
                 ["--title", "x", "--lead", "VN/GOV/BTP", "--deadline", "2026-01-01",
                  "--status", "late"]):
        res = mon.cmd("task", "add", *args, "--by", "A", ok=False)
        assert res.returncode == 2, (args, res.stderr)
    res = mon.cmd("report", "--period", "2026-08", "--out", "/dev/null", ok=False)
    assert res.returncode == 2


def test_api_enters_values_and_tasks_and_refuses(mon):
    for method, path in (("GET", "/api/indicators"), ("POST", "/api/indicators/x/values"),
                         ("GET", "/api/tasks"), ("POST", "/api/tasks"),
                         ("POST", "/api/tasks/1"), ("GET", "/api/report?period=2026-H2")):
        r = mon.call(method, path, token=False)
        assert r.status_code == 401 and r.json()["type"] == "Client.Unauthorized", path
    r = requests.get(mon.url + "/api/indicators", timeout=10,
                     headers={"Authorization": "Bearer " + "x" * 43})
    assert r.status_code == 401
    good = {"period": PERIOD, "scope": "VN/GOV/BCA", "value": 85, "source": "Báo cáo BCA",
            "entered_by": "Lê Văn C"}
    r = mon.call("POST", "/api/indicators/online_completion/values", json=good)
    assert r.status_code == 201, r.text
    assert r.json()["scope"] == "VN/GOV/BCA"
    r = mon.call("POST", "/api/indicators/online_completion/values",
                 json={**good, "scope": "079", "value": 64.5, "note": None})
    assert r.status_code == 201, r.text  # a null note is no note
    for path, body, status in (
            ("/api/indicators/nope/values", good, 404),
            ("/api/indicators/online_completion/values", {**good, "period": "2026"}, 400),
            ("/api/indicators/online_completion/values", {**good, "period": "2026-H3"}, 400),
            ("/api/indicators/online_completion/values", {**good, "scope": "Bộ Công an"}, 400),
            ("/api/indicators/online_completion/values", {**good, "scope": "000"}, 400),
            ("/api/indicators/online_completion/values", {**good, "value": 100.01}, 400),
            ("/api/indicators/online_completion/values", {**good, "value": -1}, 400),
            ("/api/indicators/online_completion/values", {**good, "value": "85"}, 400),
            ("/api/indicators/qd766_on_time/values", {**good, "value": 21}, 400),
            ("/api/indicators/exchange_success/values", {**good, "value": 99}, 400),
            ("/api/indicators/online_completion/values", {**good, "entered_by": ""}, 400),
            ("/api/indicators/online_completion/values", {**good, "source": None}, 400)):
        r = mon.call("POST", path, json=body)
        assert r.status_code == status, (path, body, r.text)
        assert r.json()["type"].startswith("Client."), r.text
    r = mon.call("POST", "/api/indicators/online_completion/values", data=b"[1]")
    assert r.status_code == 400
    assert mon.call("GET", "/api/indicators/online_completion/values").status_code == 405
    r = mon.call("GET", "/api/indicators", params={"period": PERIOD})
    assert r.status_code == 200
    oc = next(i for i in r.json()["indicators"] if i["id"] == "online_completion")
    bca = next(s for s in oc["scopes"] if s["scope"] == "VN/GOV/BCA")
    assert bca["current"]["value"] == 85 and bca["rank"] == 1 and bca["met"] is True
    assert mon.call("GET", "/api/indicators", params={"period": "H2"}).status_code == 400
    assert mon.call("GET", "/api/indicators").status_code == 200
    # tasks
    r = mon.call("POST", "/api/tasks", json={"title": "Kết nối CSDL hộ tịch", "lead":
                                             "VN/GOV/BTP", "deadline": "2026-10-31",
                                             "updated_by": "A"})
    assert r.status_code == 201, r.text
    tid = r.json()["id"]
    for body in ({"title": "x", "lead": "VN/GOV/BTP", "deadline": "31/10/2026",
                  "updated_by": "A"},
                 {"title": "x", "lead": "BTP", "deadline": "2026-10-31", "updated_by": "A"},
                 {"title": "", "lead": "VN/GOV/BTP", "deadline": "2026-10-31",
                  "updated_by": "A"},
                 {"title": "x", "lead": "VN/GOV/BTP", "deadline": "2026-10-31"}):
        assert mon.call("POST", "/api/tasks", json=body).status_code == 400, body
    assert mon.call("POST", "/api/tasks/999", json={"status": "done",
                                                   "updated_by": "A"}).status_code == 404
    assert mon.call("POST", "/api/tasks/abc", json={"status": "done",
                                                   "updated_by": "A"}).status_code == 404
    assert mon.call("POST", f"/api/tasks/{tid}", json={"status": "finished",
                                                      "updated_by": "A"}).status_code == 400
    r = mon.call("POST", f"/api/tasks/{tid}", json={"status": "in_progress",
                                                   "evidence": "Công văn 12/BTP",
                                                   "updated_by": "B"})
    assert r.status_code == 200, r.text
    r = mon.call("GET", "/api/tasks", params={"as_of": "2026-12-31"})
    t = r.json()["tasks"][0]
    assert t["status"] == "in_progress" and t["overdue"] is True and t["evidence"]
    assert mon.call("GET", "/api/tasks", params={"as_of": "2026-13-01"}).status_code == 400
    # the report's refusals
    assert mon.call("GET", "/api/report").status_code == 400
    assert mon.call("GET", "/api/report", params={"period": "2026-08"}).status_code == 400
    assert mon.call("DELETE", "/api/report").status_code == 405
    # the live API still answers beside these routes, and only GET
    assert mon.call("GET", "/api/live").status_code == 200
    assert mon.call("POST", "/api/live").status_code == 405
    assert mon.token not in mon.log.read_text()


def pages_not_blank(pdf, outdir):
    """Renders every page to a grey PGM with pdftoppm; returns their count after checking
    each has dark pixels (text, rules, charts) and is mostly white (a page, not a smear)."""
    prefix = outdir / "page"
    subprocess.run(["pdftoppm", "-gray", "-r", "40", str(pdf), str(prefix)], check=True,
                   timeout=120)
    files = sorted(outdir.glob("page-*.pgm"))
    assert files
    for f in files:
        data = f.read_bytes()
        # P5\nW H\n255\n then W*H bytes
        parts = data.split(b"\n", 3)
        assert parts[0] == b"P5"
        w, h = map(int, parts[1].split())
        pix = parts[3][: w * h]
        dark = sum(1 for b in pix if b < 128)
        assert dark > 200, (f.name, dark)
        assert dark < 0.5 * w * h, (f.name, dark)
    return len(files)


def flat(text):
    return re.sub(r"\s+", " ", text)


def test_report_is_reproducible_renders_and_holds_every_indicator(mon, tmp_path):
    # a value for every entered indicator, nationally, for H1 and H2 (the trend), and for
    # two ministries and two provinces (the rankings)
    for n, iid in enumerate(entered_ids()):
        ind = next(i for i in CATALOGUE["indicators"] if i["id"] == iid)
        top = ind["max"]
        for period, share in (("2026-H1", 0.5), (PERIOD, 0.7)):
            mon.cmd("indicator", "set", "--id", iid, "--period", period, "--scope",
                    "national", "--value", f"{top * share:.1f}", "--source",
                    "Báo cáo tổng hợp", "--by", "Nguyễn Văn A")
        for scope, share in (("VN/GOV/BCA", 0.9), ("VN/GOV/BTP", 0.6), ("001", 0.8),
                             ("079", 0.75)):
            r = mon.call("POST", f"/api/indicators/{iid}/values",
                         json={"period": PERIOD, "scope": scope, "value": top * share,
                               "source": "Báo cáo của bộ, tỉnh", "entered_by": "Lê Văn C"})
            assert r.status_code == 201, r.text
    overdue = ["Kết nối CSDL đất đai", "Triển khai thanh toán"]
    mon.cmd("task", "add", "--title", overdue[0], "--lead", "VN/GOV/BNNMT", "--deadline",
            "2026-09-30", "--by", "A")
    mon.cmd("task", "add", "--title", overdue[1], "--lead", "VN/GOV/BTC", "--deadline",
            "2026-12-31", "--status", "in_progress", "--evidence", "Công văn 1/BTC",
            "--by", "A")
    mon.cmd("task", "add", "--title", "Xong rồi", "--lead", "VN/GOV/BTP", "--deadline",
            "2026-08-31", "--status", "done", "--by", "A")
    mon.cmd("task", "add", "--title", "Việc năm sau", "--lead", "VN/GOV/BTP", "--deadline",
            "2027-03-31", "--by", "A")
    a, b = tmp_path / "a.pdf", tmp_path / "b.pdf"
    mon.cmd("report", "--period", PERIOD, "--out", str(a))
    mon.cmd("report", "--period", PERIOD, "--out", str(b))
    assert a.read_bytes() == b.read_bytes()
    r = mon.call("GET", "/api/report", params={"period": PERIOD})
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/pdf"
    assert r.content == a.read_bytes()  # the same data, the same document
    # the document's date is the period's end, not today
    info = subprocess.run(["pdfinfo", str(a)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"CreationDate:\s+Thu Dec 31 16:59:59 2026 UTC", info), info
    pages = tmp_path / "pages"
    pages.mkdir()
    assert pages_not_blank(a, pages) >= 4
    text = flat(subprocess.run(["pdftotext", str(a), "-"], capture_output=True, text=True,
                               check=True).stdout)
    for ind in CATALOGUE["indicators"]:
        assert flat(ind["name"]["vi"]) in text, ind["id"]
    for title in overdue:
        assert title in text, title
    assert "QUÁ HẠN" in text
    assert "Xong rồi" not in text and "Việc năm sau" not in text
    for words in ("BÁO CÁO SÁU THÁNG", "6 tháng cuối năm 2026", "Ký", "Xếp hạng",
                  "TP Hồ Chí Minh", "VN/GOV/BCA", "Mục tiêu", "45 lượt trao đổi"):
        assert words in text, words
    # the registries' four measures, computed from what the registries reported
    assert "đúng, đủ, sạch, sống" in text
    assert "VN/GOV/TCT 200 90 % 100 % 95 % 85 % Toàn quốc 200 90 %" in text, text
    # `ndx report` is the same command (it runs ndx-monitor report in its place)
    d = tmp_path / "d.pdf"
    res = subprocess.run([str(mon.build_dir / "src" / "cli" / "ndx"), "report", "--data",
                          str(mon.data), "--period", PERIOD, "--out", str(d)],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert d.read_bytes() == a.read_bytes()
    res = subprocess.run([str(mon.build_dir / "src" / "cli" / "ndx"), "report", "--period",
                          "2026-13", "--out", str(d)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and "ndx-monitor" in res.stderr, res
    # another half-year is another document
    c = tmp_path / "c.pdf"
    mon.cmd("report", "--period", "2026-H1", "--out", str(c))
    assert c.read_bytes() != a.read_bytes()
