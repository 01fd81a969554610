"""End-to-end tests for ndx-sector: seed a small national dataset, serve the
seven registries, read by id, search names with and without Vietnamese
diacritics, page, refuse invalid writes naming the field, serve the OpenAPI
document, declare every answer's data subjects (Ndx-Data-Subjects) and refuse
reads and writes of records that do not concern the person Ndx-Subject names,
and let `ndx-sector quality` find records planted behind the API's back (with
python's sqlite3)."""

import json
import signal
import sqlite3
import subprocess
import time
import unicodedata

import pytest
import requests

from conftest import free_port

SEED_CITIZENS = 2000
SECTORS = ("population", "civil-status", "enterprise", "tax", "insurance", "land", "vehicles")
START_TIMEOUT = 10.0


def sector_exe(build_dir):
    exe = build_dir / "src" / "sector" / "ndx-sector"
    if not exe.is_file():
        pytest.fail(f"{exe} is missing: build it first", pytrace=False)
    return exe


def run(build_dir, *args, check=True):
    res = subprocess.run([str(sector_exe(build_dir)), *map(str, args)],
                         capture_output=True, text=True, timeout=120)
    if check and res.returncode != 0:
        pytest.fail(f"ndx-sector {' '.join(map(str, args))} exited {res.returncode}:\n"
                    f"{res.stdout}\n{res.stderr}", pytrace=False)
    return res


def fold(text):
    """What the server does to names: marks off, đ -> d, lower case."""
    text = text.replace("đ", "d").replace("Đ", "D")
    text = "".join(c for c in unicodedata.normalize("NFD", text)
                   if not unicodedata.combining(c))
    return " ".join(text.lower().split())


@pytest.fixture(scope="module")
def seeded(build_dir, tmp_path_factory):
    d = tmp_path_factory.mktemp("sector") / "data"
    res = run(build_dir, "seed", "--db-dir", d, "--citizens", SEED_CITIZENS, "--seed", 3,
              "--quiet")
    return d, json.loads(res.stdout)


class Sector:
    def __init__(self, exe, sector, db, workdir, extra=()):
        self.sector = sector
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.stderr_path = workdir / f"{sector}.stderr"
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                [str(exe), "serve", "--sector", sector, "--db", str(db),
                 "--listen", f"127.0.0.1:{self.port}", "--threads", "2", *extra],
                stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"ndx-sector serve exited {self.proc.returncode}:\n{self.tail()}",
                            pytrace=False)
            try:
                if requests.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.05)
        self.proc.kill()
        pytest.fail(f"ndx-sector did not start:\n{self.tail()}", pytrace=False)

    def tail(self):
        return self.stderr_path.read_text(errors="replace")[-3000:]

    def get(self, path, **kw):
        return requests.get(self.url + path, timeout=10, **kw)

    def post(self, path, body, **kw):
        return requests.post(self.url + path, json=body, timeout=10, **kw)

    def put(self, path, body, **kw):
        return requests.put(self.url + path, json=body, timeout=10, **kw)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None


@pytest.fixture(scope="module")
def servers(build_dir, seeded, tmp_path_factory):
    d, _ = seeded
    work = tmp_path_factory.mktemp("sector-logs")
    made = {}
    for s in SECTORS:
        made[s] = Sector(sector_exe(build_dir), s, d / f"{s}.db", work)
    yield made
    codes = {s: srv.stop() for s, srv in made.items()}
    assert all(c == 0 for c in codes.values()), codes


def query(db, sql, *args):
    con = sqlite3.connect(db)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def assert_error(r, status, field=None):
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) >= {"type", "message", "detail"}, body
    assert r.headers.get("X-Road-Error") == body["type"]
    if field:
        assert body["detail"].startswith(field + ":"), body


# ---- seed --------------------------------------------------------------------------

def test_seed_summary(seeded, build_dir):
    d, summary = seeded
    assert summary["citizens"] == SEED_CITIZENS
    assert summary["sectors"]["population"]["rows"]["citizens"] == SEED_CITIZENS
    for s in ("population", "civil-status", "enterprise", "tax", "insurance", "land",
              "vehicles"):
        assert (d / f"{s}.db").is_file()
        assert summary["sectors"][s]["bytes"] > 0
    # Refuses to overwrite.
    res = run(build_dir, "seed", "--db-dir", d, "--citizens", 10, check=False)
    assert res.returncode == 1 and "refusing to overwrite" in res.stderr


# Today's 34 units (src/lib/adminmap.c): the codes, and a few names, enterprise code and plate
# prefixes (the plate of the seat's former province: Lào Cai sits in former Yên Bái, 21).
UNITS = {"001", "004", "008", "011", "012", "014", "015", "019", "020", "022", "024", "025",
         "031", "033", "037", "038", "040", "042", "044", "046", "048", "051", "052", "056",
         "066", "068", "075", "079", "080", "082", "086", "091", "092", "096"}
UNIT_NAMES = {"001": "Thành phố Hà Nội", "031": "Thành phố Hải Phòng", "015": "Tỉnh Lào Cai",
              "079": "Thành phố Hồ Chí Minh", "046": "Thành phố Huế", "092": "Thành phố Cần Thơ"}
ECODE_PREFIX = {"001": "01", "012": "62", "031": "02", "079": "03", "015": "52"}
PLATE = {"031": "15", "015": "21", "079": "51", "001": "29"}


def test_seed_addresses_follow_todays_map(seeded):
    """Addresses are number and street, commune, province (no district), in one of the 34
    units of 1 July 2025; personal numbers keep the 63 former birth-registration codes."""
    d, _ = seeded
    assert len(UNITS) == 34
    with sqlite3.connect(f"file:{d}/population.db?mode=ro", uri=True) as db:
        rows = db.execute("SELECT birth_province, permanent_address, permanent_province, "
                          "household_id, substr(pin, 1, 3) FROM citizens").fetchall()
        households = db.execute("SELECT id, address, province FROM households").fetchall()
    assert {r[2] for r in rows} <= UNITS
    # Births registered in former provinces that are no unit now (Hải Dương, Bình Dương …).
    assert {r[0] for r in rows} - UNITS
    assert all(r[0] == r[4] for r in rows)
    for bp, addr, prov, hh, _ in rows:
        parts = addr.split(", ")
        assert len(parts) == 3, addr
        assert parts[0].startswith("Số ") and " đường " in parts[0], addr
        assert parts[1].startswith(("Phường ", "Xã ")), addr
        assert parts[2].startswith(("Tỉnh ", "Thành phố ")), addr
        assert "Quận" not in addr and "Huyện" not in addr, addr
        if prov in UNIT_NAMES:
            assert parts[2] == UNIT_NAMES[prov], addr
        assert hh is None or hh[1:4] == prov
    assert all(h[0][1:4] == h[2] and h[2] in UNITS and h[1].count(", ") == 2
               for h in households)
    # The Hải Dương area is in Hải Phòng now: its communes appear under Hải Phòng.
    with sqlite3.connect(f"file:{d}/enterprise.db?mode=ro", uri=True) as db:
        ents = db.execute("SELECT code, province FROM enterprises").fetchall()
    assert ents and {p for _, p in ents} <= UNITS
    checked = [(c, p) for c, p in ents if p in ECODE_PREFIX]
    assert checked and all(c[:2] == ECODE_PREFIX[p] for c, p in checked)
    with sqlite3.connect(f"file:{d}/vehicles.db?mode=ro", uri=True) as db:
        plates = db.execute("SELECT plate, owner_province FROM vehicles").fetchall()
    assert {p for _, p in plates} <= UNITS
    checked = [(pl, p) for pl, p in plates if p in PLATE]
    assert checked and all(pl[:2] == PLATE[p] for pl, p in checked)
    with sqlite3.connect(f"file:{d}/tax.db?mode=ro", uri=True) as db:
        offices = {r[0] for r in db.execute("SELECT tax_office FROM taxpayers")}
    with sqlite3.connect(f"file:{d}/land.db?mode=ro", uri=True) as db:
        parcels = db.execute("SELECT id, province FROM parcels").fetchall()
    assert offices <= UNITS
    assert all(i[:3] == p and p in UNITS for i, p in parcels)


def test_help_is_truthful(build_dir):
    res = run(build_dir, "--help")
    for cmd in ("serve", "seed", "quality", "reconcile", "worklist", "correct", "openapi"):
        assert f"ndx-sector {cmd}" in res.stdout
    for cmd, opts in (("serve", ["--sector", "--db", "--listen"]),
                      ("seed", ["--db-dir", "--citizens", "--seed", "--defects"]),
                      ("quality", ["--sector", "--db", "--db-dir", "--stale-days"]),
                      ("reconcile", ["--sector", "--db", "--gateway", "--client", "--service",
                                     "--purpose", "--batch", "--rate", "--truth"]),
                      ("worklist", ["--sector", "--db"]),
                      ("correct", ["--table", "--key", "--field", "--value", "--officer"]),
                      ("openapi", ["--sector"])):
        out = run(build_dir, cmd, "--help").stdout
        for o in opts:
            assert o in out, (cmd, o)
    bad = run(build_dir, "serve", "--sector", "weather", "--db", "/tmp/x.db", check=False)
    assert bad.returncode == 2 and "not one of" in bad.stderr
    for args, why in ((["seed", "--db-dir", "/tmp/x", "--defects", "1.5"], "--defects"),
                      (["seed", "--db-dir", "/tmp/x", "--defects", "nan"], "--defects"),
                      (["reconcile", "--sector", "tax", "--db", "/tmp/x.db", "--gateway",
                        "ftp://x", "--client", "VN/GOV/TCT/tax"], "--gateway"),
                      (["reconcile", "--sector", "tax", "--db", "/tmp/x.db", "--gateway",
                        "http://127.0.0.1:1", "--client", "VN/GOV/TCT/tax", "--batch", "501"],
                       "--batch"),
                      (["reconcile", "--sector", "tax"], "required")):
        bad = run(build_dir, *args, check=False)
        assert bad.returncode == 2 and why in bad.stderr, (args, bad.stderr)
    # The population registry is the reference: nothing of its own to reconcile.
    bad = run(build_dir, "reconcile", "--sector", "population", "--db", "/nonexistent.db",
              "--gateway", "http://127.0.0.1:1", "--client", "VN/GOV/BCA/population",
              check=False)
    assert bad.returncode == 1 and "reference" in bad.stderr, bad.stderr


# ---- reads ---------------------------------------------------------------------------

def test_read_citizen_by_id(seeded, servers):
    d, _ = seeded
    pop = servers["population"]
    pin, name, hh = query(d / "population.db",
                          "SELECT pin, full_name, household_id FROM citizens "
                          "WHERE relation = 'head' LIMIT 1")[0]
    r = pop.get(f"/citizens/{pin}")
    assert r.status_code == 200, r.text
    c = r.json()
    assert c["pin"] == pin and c["full_name"] == name and c["household_id"] == hh
    assert c["relation"] == "head"
    assert c["updated_at"].endswith("Z")
    assert "name_folded" not in c
    h = pop.get(f"/households/{hh}").json()
    assert h["head_pin"] == pin
    members = pop.get("/citizens", params={"household_id": hh}).json()["items"]
    assert pin in [m["pin"] for m in members]
    assert all(m["household_id"] == hh for m in members)
    # A well-formed number nobody has, and malformed ones.
    assert_error(pop.get("/citizens/001099999999"), 404)
    assert_error(pop.get("/citizens/123"), 400, "pin")
    assert_error(pop.get("/citizens/003089012345"), 400, "pin")
    assert_error(pop.get("/weather"), 404)
    assert_error(requests.delete(pop.url + f"/citizens/{pin}", timeout=5), 405)


def test_search_with_and_without_diacritics(seeded, servers):
    d, _ = seeded
    pop = servers["population"]
    rows = query(d / "population.db",
                 "SELECT pin, full_name FROM citizens WHERE full_name LIKE 'Đ%' "
                 "OR full_name LIKE '%ễ%' LIMIT 1")
    pin, name = rows[0]
    plain = fold(name)
    assert plain != name
    found = {}
    for q in (name, plain, plain.upper(), "  " + plain.replace(" ", "   ") + " ",
              unicodedata.normalize("NFD", name)):
        r = pop.get("/citizens", params={"name": q, "limit": 100})
        assert r.status_code == 200, r.text
        found[q] = [c["pin"] for c in r.json()["items"]]
        assert pin in found[q], q
    assert len({tuple(v) for v in found.values()}) == 1
    # The famous example: everything found for "nguyen van an" is a Nguyễn Văn An...
    hits = pop.get("/citizens", params={"name": "nguyen van an", "limit": 100}).json()["items"]
    assert all(fold(c["full_name"]).startswith("nguyen van an") for c in hits)
    # ...and the same as for "Nguyễn Văn An".
    marked = pop.get("/citizens", params={"name": "Nguyễn Văn An", "limit": 100}).json()["items"]
    assert [c["pin"] for c in hits] == [c["pin"] for c in marked]
    # d finds Đ.
    dang = pop.get("/citizens", params={"name": "dang", "limit": 5}).json()["items"]
    assert dang and all(c["full_name"].startswith("Đặng") for c in dang)


def test_paging_and_limits(servers):
    pop = servers["population"]
    first = pop.get("/citizens", params={"name": "nguyen", "limit": 5}).json()
    assert len(first["items"]) == 5 and first["limit"] == 5 and first["next_offset"] == 5
    second = pop.get("/citizens", params={"name": "nguyen", "limit": 5, "offset": 5}).json()
    assert not {c["pin"] for c in first["items"]} & {c["pin"] for c in second["items"]}
    names = [fold(c["full_name"]) for c in first["items"] + second["items"]]
    assert names == sorted(names)
    assert len(pop.get("/citizens").json()["items"]) == 20
    assert_error(pop.get("/citizens", params={"limit": 101}), 400, "limit")
    assert_error(pop.get("/citizens", params={"limit": 0}), 400, "limit")
    assert_error(pop.get("/citizens", params={"offset": 10001}), 400, "offset")
    assert_error(pop.get("/citizens", params={"colour": "red"}), 400, "colour")
    assert_error(pop.get("/citizens", params={"household_id": "X1"}), 400, "household_id")


# ---- writes ----------------------------------------------------------------------------

def citizen(**kw):
    body = {"pin": "001089000001", "full_name": "Nguyễn Văn Thử", "birth_date": "1989-05-06",
            "sex": "male", "birth_province": "001",
            "permanent_address": "Số 1 đường Tràng Tiền, Phường Hàng Bạc, Quận Hoàn Kiếm",
            "permanent_province": "001"}
    body.update(kw)
    return {k: v for k, v in body.items() if v is not None}


def test_write_validation(servers):
    pop = servers["population"]
    refusals = [
        (citizen(pin="00108900000"), "pin"),                   # 11 digits
        (citizen(pin="003089000001"), "pin"),                  # no province 003
        (citizen(pin="001489000001"), "pin"),                  # a century to come
        (citizen(birth_date="1990-05-06"), "pin"),             # PIN says 1989
        (citizen(sex="female"), "pin"),                        # PIN says male
        (citizen(birth_province="079"), "pin"),                # PIN says Hà Nội
        (citizen(birth_date="1989-13-01"), "birth_date"),
        (citizen(sex="m"), "sex"),
        (citizen(full_name=""), "full_name"),
        (citizen(full_name="x" * 101), "full_name"),
        (citizen(full_name=None), "full_name"),
        (citizen(permanent_province="100"), "permanent_province"),
        (citizen(household_id="H00199999999"), "household_id"),  # does not exist
        (citizen(relation="cousin"), "relation"),
        (citizen(nickname="Tí"), "nickname"),
        (citizen(pin=1089000001), "pin"),
    ]
    for body, field in refusals:
        r = pop.post("/citizens", body)
        assert_error(r, 400, field)
        assert r.headers.get("Ndx-Invalid-Field") == field
    r = requests.post(pop.url + "/citizens", data=b"{not json", timeout=5,
                      headers={"Content-Type": "application/json"})
    assert_error(r, 400)
    assert pop.get("/citizens/001089000001").status_code == 404

    r = pop.post("/citizens", citizen())
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["full_name"] == "Nguyễn Văn Thử" and created["updated_at"]
    assert_error(pop.post("/citizens", citizen()), 409)
    hits = pop.get("/citizens", params={"name": "nguyen van thu"}).json()["items"]
    assert "001089000001" in [c["pin"] for c in hits]

    r = pop.put("/citizens/001089000001", dict(created, temporary_address="Số 9 đường Lê Lợi"))
    assert r.status_code == 200, r.text
    assert r.json()["temporary_address"] == "Số 9 đường Lê Lợi"
    assert_error(pop.put("/citizens/001089000001", citizen(pin="001089000002")), 400, "pin")
    assert_error(pop.put("/citizens/001089000002", citizen(pin="001089000002")), 404)

    # A household needs an existing head; then the citizen can join it.
    assert_error(pop.post("/households", {"id": "H00100000001", "head_pin": "001089000009",
                                          "address": "Số 1", "province": "001"}),
                 400, "head_pin")
    r = pop.post("/households", {"id": "H00199999990", "head_pin": "001089000001",
                                 "address": "Số 1", "province": "001"})
    assert r.status_code == 201, r.text
    r = pop.put("/citizens/001089000001",
                citizen(household_id="H00199999990", relation="head"))
    assert r.status_code == 200, r.text


def test_enterprise_registry(seeded, servers):
    d, _ = seeded
    ent = servers["enterprise"]
    code, name, rep = query(d / "enterprise.db",
                            "SELECT code, name, legal_rep_pin FROM enterprises LIMIT 1")[0]
    e = ent.get(f"/enterprises/{code}").json()
    assert e["name"] == name and e["legal_rep_pin"] == rep
    hits = ent.get("/enterprises", params={"name": fold(name)}).json()["items"]
    assert code in [h["code"] for h in hits]
    owners = ent.get("/owners", params={"enterprise_code": code}).json()["items"]
    assert owners and abs(sum(o["share_pct"] for o in owners) - 100) < 1e-6
    # The owners are real citizens of the population registry.
    for o in owners:
        assert query(d / "population.db", "SELECT 1 FROM citizens WHERE pin = ?",
                     o["owner_pin"])
    body = {"code": "0100233480", "name": "Công ty TNHH Thử Nghiệm", "kind": "tnhh-1tv",
            "address": "Số 1", "province": "001", "status": "active",
            "registered_on": "2024-01-02", "legal_rep_pin": rep}
    assert_error(ent.post("/enterprises", body), 400, "code")      # wrong check digit
    assert_error(ent.get("/enterprises/0100233480"), 400, "code")
    body["code"] = "0100233488"
    r = ent.post("/enterprises", body)
    assert r.status_code == 201, r.text
    assert_error(ent.post("/owners", {"enterprise_code": "0100233488", "owner_pin": rep,
                                      "share_pct": 120, "since": "2024-01-02"}),
                 400, "share_pct")
    r = ent.post("/owners", {"enterprise_code": "0100233488", "owner_pin": rep,
                             "share_pct": 100, "since": "2024-01-02"})
    assert r.status_code == 201 and isinstance(r.json()["id"], int)
    assert ent.get(f"/owners/{r.json()['id']}").json()["owner_pin"] == rep


BAD_NAME_CHARACTERS = ["\u202e", "\u202a", "\u202d", "\u2066", "\u2069", "\x1b[2J", "\r\n",
                       "\u0085", "\u009b", "\x7f", "\u2028"]


def test_names_with_controls_or_bidi_overrides_are_refused(seeded, servers):
    """Issue 14, finding 8: a business name shown to officers with U+202E (or another
    bidirectional override or isolate, or a C0/C1 control) is refused with a 400
    naming the field, in the enterprise and population registries; nothing is
    stored; Vietnamese names still pass."""
    d, _ = seeded
    ent, pop = servers["enterprise"], servers["population"]
    rep = query(d / "enterprise.db", "SELECT legal_rep_pin FROM enterprises LIMIT 1")[0][0]
    body = {"code": "0314409058", "name": "Công ty TNHH Thử Nghiệm", "kind": "tnhh-1tv",
            "address": "Số 1", "province": "001", "status": "active",
            "registered_on": "2024-01-02", "legal_rep_pin": rep}
    for bad in BAD_NAME_CHARACTERS:
        for field in ("name", "address"):
            r = ent.post("/enterprises", dict(body, **{field: "Công ty " + bad + "gpj.exe"}))
            assert_error(r, 400, field)
            assert "bidirectional" in r.json()["detail"] or "control" in r.json()["detail"] \
                or "separator" in r.json()["detail"], r.text
        assert_error(pop.post("/citizens", citizen(pin="001089000077",
                                                   full_name="Nguyễn " + bad + "Văn")),
                     400, "full_name")
    for table, col, db in (("enterprises", "name", "enterprise.db"),
                           ("enterprises", "address", "enterprise.db"),
                           ("citizens", "full_name", "population.db")):
        for bad in BAD_NAME_CHARACTERS:
            assert not query(d / db, f"SELECT 1 FROM {table} WHERE instr({col}, ?) > 0", bad), \
                (table, col, bad)
    # A PUT is checked the same way as a POST.
    code = query(d / "enterprise.db", "SELECT code FROM enterprises LIMIT 1")[0][0]
    row = ent.get(f"/enterprises/{code}").json()
    assert_error(ent.put(f"/enterprises/{code}", dict(row, name=row["name"] + "\u202e")),
                 400, "name")
    assert ent.get(f"/enterprises/{code}").json()["name"] == row["name"]


def test_openapi(build_dir, servers):
    for s, srv in servers.items():
        served = srv.get("/openapi.json").json()
        assert served["openapi"].startswith("3.")
        printed = json.loads(run(build_dir, "openapi", "--sector", s).stdout)
        assert printed == served
    paths = servers["population"].get("/openapi.json").json()["paths"]
    assert {"/citizens", "/citizens/{id}", "/households", "/households/{id}"} <= set(paths)
    schemas = servers["population"].get("/openapi.json").json()["components"]["schemas"]
    assert schemas["citizens"]["properties"]["pin"]["pattern"] == "^[0-9]{12}$"
    # The address fields say what they hold: two levels, today's provinces, old rows kept.
    props = schemas["citizens"]["properties"]
    assert "commune" in props["permanent_address"]["description"]
    assert "34 province codes" in props["permanent_province"]["description"]
    assert "63 former codes" in props["permanent_province"]["description"]
    assert "PIN's first 3 digits" in props["birth_province"]["description"]
    assert "34 province codes" in schemas["households"]["properties"]["province"]["description"]
    assert "Error" in schemas
    # The subject headers are described on every operation of every table.
    for (sector, table) in TABLES:
        doc = servers[sector].get("/openapi.json").json()
        assert "Ndx-Data-Subjects" in doc["components"]["headers"]
        ops = [doc["paths"][f"/{table}"]["get"], doc["paths"][f"/{table}"]["post"],
               doc["paths"][f"/{table}/{{id}}"]["get"], doc["paths"][f"/{table}/{{id}}"]["put"]]
        for op in ops:
            ok = [v for k, v in op["responses"].items() if k.startswith("2")]
            assert ok and "Ndx-Data-Subjects" in ok[0]["headers"], (sector, table)
        assert "403" in ops[1]["responses"] and "403" in ops[2]["responses"]


# ---- data subjects ------------------------------------------------------------------------

def declared(r):
    """The set a sector declared in Ndx-Data-Subjects; the header must be there, canonical."""
    text = r.headers.get("Ndx-Data-Subjects")
    assert text is not None, (r.status_code, r.url)
    if text == "none":
        return set()
    pins = text.split(",")
    assert pins == sorted(set(pins)), text
    assert all(len(p) == 12 and p.isdigit() for p in pins), text
    return set(pins)


def people(*values):
    """The individuals among values: 12-digit PINs (enterprise codes have 10)."""
    return {v for v in values if v and len(v) == 12}


def expected_subjects(d, table, row):
    """What each table's record concerns, computed here from the databases with SQL,
    independently of the server."""
    if table == "households":
        members = query(d / "population.db", "SELECT pin FROM citizens WHERE household_id = ?",
                        row["id"])
        return people(row["head_pin"], *(m for (m,) in members))
    if table == "enterprises":
        owners = query(d / "enterprise.db",
                       "SELECT owner_pin FROM owners WHERE enterprise_code = ?", row["code"])
        return people(row["legal_rep_pin"], *(o for (o,) in owners))
    if table == "parcels":
        holders = query(d / "land.db", "SELECT holder_id FROM right_holders WHERE parcel_id = ?",
                        row["id"])
        return people(*(h for (h,) in holders))
    cols = {"citizens": ["pin"], "births": ["child_pin", "father_pin", "mother_pin"],
            "marriages": ["husband_pin", "wife_pin"], "owners": ["owner_pin"],
            "taxpayers": ["tax_id"], "obligations": ["tax_id"], "participants": ["pin"],
            "contributions": ["pin"], "right_holders": ["holder_id"],
            "vehicles": ["owner_id"]}[table]
    return people(*(row.get(c) for c in cols))


def record_path(table, row):
    key = {"citizens": "pin", "households": "id", "enterprises": "code",
           "taxpayers": "tax_id", "participants": "pin", "parcels": "id",
           "vehicles": "plate"}.get(table, "id")
    return f"/{table}/{row[key]}"


TABLES = [("population", "citizens"), ("population", "households"),
          ("civil-status", "births"), ("civil-status", "marriages"),
          ("enterprise", "enterprises"), ("enterprise", "owners"),
          ("tax", "taxpayers"), ("tax", "obligations"),
          ("insurance", "participants"), ("insurance", "contributions"),
          ("land", "parcels"), ("land", "right_holders"), ("vehicles", "vehicles")]


@pytest.mark.parametrize("sector,table", TABLES)
def test_every_table_declares_its_subjects(seeded, servers, sector, table):
    d, _ = seeded
    srv = servers[sector]
    r = srv.get(f"/{table}", params={"limit": 50})
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert items, table
    union = set()
    for item in items:
        union |= expected_subjects(d, table, item)
    assert declared(r) == union
    assert union, table  # every table's first 50 rows concern somebody
    # Each record alone; at least one that concerns somebody.
    for item in items[:10]:
        one = srv.get(record_path(table, item))
        assert one.status_code == 200, one.text
        assert declared(one) == expected_subjects(d, table, item), record_path(table, item)
        want = expected_subjects(d, table, item)
        if want:
            # Read as one of its subjects: the same answer.
            pin = sorted(want)[-1]
            again = srv.get(record_path(table, item), headers={"Ndx-Subject": pin})
            assert again.status_code == 200, again.text
            assert again.json() == one.json() and declared(again) == want


def test_records_of_several_people(seeded, servers):
    d, _ = seeded
    pop, ent, land = servers["population"], servers["enterprise"], servers["land"]
    # The largest household: its head and every member.
    hh, n = query(d / "population.db",
                  "SELECT household_id, count(*) AS n FROM citizens WHERE household_id "
                  "IS NOT NULL GROUP BY household_id ORDER BY n DESC LIMIT 1")[0]
    assert n >= 3
    r = pop.get(f"/households/{hh}")
    members = {p for (p,) in query(d / "population.db",
                                   "SELECT pin FROM citizens WHERE household_id = ?", hh)}
    assert declared(r) == members | {r.json()["head_pin"]}
    # Any member may read it; its list of members is a list (not filtered).
    member = sorted(members - {r.json()["head_pin"]})[0]
    assert pop.get(f"/households/{hh}", headers={"Ndx-Subject": member}).status_code == 200
    ls = pop.get("/citizens", params={"household_id": hh}, headers={"Ndx-Subject": member})
    assert ls.status_code == 200 and declared(ls) == members
    # An enterprise with several owners.
    code, = query(d / "enterprise.db", "SELECT enterprise_code FROM owners GROUP BY "
                  "enterprise_code HAVING count(*) > 1 LIMIT 1")[0]
    e = ent.get(f"/enterprises/{code}")
    owners = {p for (p,) in query(d / "enterprise.db",
                                  "SELECT owner_pin FROM owners WHERE enterprise_code = ?", code)}
    assert declared(e) == owners | {e.json()["legal_rep_pin"]} and len(owners) > 1
    # A parcel held by two people.
    rows = query(d / "land.db", "SELECT parcel_id FROM right_holders WHERE length(holder_id) = 12 "
                 "GROUP BY parcel_id HAVING count(*) > 1 LIMIT 1")
    if rows:
        p = land.get(f"/parcels/{rows[0][0]}")
        assert len(declared(p)) > 1


def test_enterprises_are_nobody(seeded, servers):
    d, _ = seeded
    tax, veh, land = servers["tax"], servers["vehicles"], servers["land"]
    code, = query(d / "tax.db", "SELECT tax_id FROM taxpayers WHERE kind = 'enterprise' "
                  "LIMIT 1")[0]
    r = tax.get(f"/taxpayers/{code}")
    assert r.status_code == 200 and r.headers["Ndx-Data-Subjects"] == "none"
    r = tax.get("/obligations", params={"tax_id": code})
    assert r.status_code == 200 and declared(r) == set()
    # A record of nobody is no one's: read naming a subject, it is refused.
    pin, = query(d / "population.db", "SELECT pin FROM citizens LIMIT 1")[0]
    assert_error(tax.get(f"/taxpayers/{code}", headers={"Ndx-Subject": pin}), 403)
    rows = query(d / "vehicles.db", "SELECT plate FROM vehicles WHERE length(owner_id) = 10 "
                 "LIMIT 1")
    if rows:
        assert veh.get(f"/vehicles/{rows[0][0]}").headers["Ndx-Data-Subjects"] == "none"
    rows = query(d / "land.db", "SELECT holder_id FROM right_holders "
                 "WHERE length(holder_id) = 10 LIMIT 1")
    if rows:
        r = land.get("/right_holders", params={"holder_id": rows[0][0]})
        assert r.status_code == 200 and r.json()["items"] and declared(r) == set()


def test_none_answers(servers):
    pop = servers["population"]
    for path in ("/", "/healthz", "/openapi.json"):
        r = pop.get(path)
        assert r.status_code == 200 and r.headers["Ndx-Data-Subjects"] == "none", path
    empty = pop.get("/citizens", params={"household_id": "H00199999998"})
    assert empty.status_code == 200 and empty.json()["items"] == []
    assert empty.headers["Ndx-Data-Subjects"] == "none"
    errors = [pop.get("/citizens/001099999999"),               # 404
              pop.get("/citizens/123"),                        # 400
              pop.get("/weather"),                             # 404
              pop.get("/citizens", params={"limit": 0}),       # 400
              requests.delete(pop.url + "/citizens", timeout=5),  # 405
              requests.post(pop.url + "/healthz", timeout=5),  # 405
              pop.post("/citizens", citizen(pin="00108900000"))]
    for r in errors:
        assert r.status_code >= 400
        assert r.headers["Ndx-Data-Subjects"] == "none", (r.status_code, r.url)


def assert_mismatch(r, requester, *others):
    """A refusal of a record that is not the requester's: the body names nobody; the
    header declares whom the record concerns (the others), for the gateway's log only,
    so that each of them sees the attempt in their access list (the gateway never passes
    a refusal's subjects on: test_data_subjects.py)."""
    assert_error(r, 403)
    body = r.json()
    assert body["type"] == "Client.SubjectMismatch" and body["detail"] == "Ndx-Subject"
    assert set(others) <= declared(r) <= {requester, *others}, r.headers
    for pin in (requester, *others):
        assert pin not in r.text, pin


def two_people(d):
    (a,), (b,) = query(d / "population.db", "SELECT pin FROM citizens ORDER BY pin LIMIT 2")
    return a, b


def test_mismatched_reads_refused(seeded, servers):
    d, _ = seeded
    pop, ins, veh = servers["population"], servers["insurance"], servers["vehicles"]
    a, b = two_people(d)
    # Another citizen's record.
    assert_mismatch(pop.get(f"/citizens/{b}", headers={"Ndx-Subject": a}), a, b)
    r = pop.get(f"/citizens/{a}", headers={"Ndx-Subject": a})
    assert r.status_code == 200 and declared(r) == {a}
    # Contributions of another PIN.
    (cid, pa), (cid_b, pb) = query(
        d / "insurance.db", "SELECT min(id), pin FROM contributions GROUP BY pin LIMIT 2")
    assert_mismatch(ins.get(f"/contributions/{cid_b}", headers={"Ndx-Subject": pa}), pa, pb)
    assert_mismatch(ins.get(f"/participants/{pb}", headers={"Ndx-Subject": pa}), pa, pb)
    r = ins.get(f"/contributions/{cid}", headers={"Ndx-Subject": pa})
    assert r.status_code == 200 and r.json()["pin"] == pa and declared(r) == {pa}
    # A vehicle of another owner.
    (plate, oa), (plate_b, ob) = query(
        d / "vehicles.db", "SELECT min(plate), owner_id FROM vehicles "
        "WHERE length(owner_id) = 12 GROUP BY owner_id LIMIT 2")
    assert_mismatch(veh.get(f"/vehicles/{plate_b}", headers={"Ndx-Subject": oa}), oa, ob)
    r = veh.get(f"/vehicles/{plate}", headers={"Ndx-Subject": oa})
    assert r.status_code == 200 and declared(r) == {oa}
    # Lists are not filtered here (the gateway decides): they declare whom they hold.
    r = ins.get("/contributions", params={"pin": pb}, headers={"Ndx-Subject": pa})
    assert r.status_code == 200 and declared(r) == {pb}
    # A malformed Ndx-Subject is refused, not echoed, and not taken for none.
    for bad in ("12345", "003089012345", "x" * 12):
        r = pop.get(f"/citizens/{a}", headers={"Ndx-Subject": bad})
        assert_error(r, 400)
        assert bad not in r.text and r.headers["Ndx-Data-Subjects"] == "none"
    assert_error(pop.get("/citizens", headers={"Ndx-Subject": "12345"}), 400)


def test_mismatched_writes_refused(seeded, servers):
    d, _ = seeded
    pop, ins, veh = servers["population"], servers["insurance"], servers["vehicles"]
    a, b = two_people(d)
    # PUT another citizen's record: refused, nothing changed.
    before = pop.get(f"/citizens/{b}").json()
    r = pop.put(f"/citizens/{b}", dict(before, temporary_address="Số 13 phố Huế"),
                headers={"Ndx-Subject": a})
    assert_mismatch(r, a, b)
    assert pop.get(f"/citizens/{b}").json() == before
    # POST a record of someone else: refused, nothing stored.
    other = "001090000011"
    body = citizen(pin=other, birth_date="1990-01-02", full_name="Trần Văn Khác")
    assert_mismatch(pop.post("/citizens", body, headers={"Ndx-Subject": a}), a, other)
    assert_error(pop.get(f"/citizens/{other}"), 404)
    # The same POST naming its own subject is accepted and declared.
    r = pop.post("/citizens", body, headers={"Ndx-Subject": other})
    assert r.status_code == 201 and declared(r) == {other}
    # Contributions: a new span for another PIN, and one moved to another PIN.
    (pa,), (pb,) = query(d / "insurance.db", "SELECT pin FROM participants ORDER BY pin LIMIT 2")
    count = query(d / "insurance.db", "SELECT count(*) FROM contributions")[0][0]
    span = {"pin": pb, "from_period": "2026-01", "monthly_salary": 9000000, "rate_pct": 8}
    assert_mismatch(ins.post("/contributions", span, headers={"Ndx-Subject": pa}), pa, pb)
    assert query(d / "insurance.db", "SELECT count(*) FROM contributions")[0][0] == count
    r = ins.post("/contributions", dict(span, pin=pa), headers={"Ndx-Subject": pa})
    assert r.status_code == 201 and declared(r) == {pa}
    mine = r.json()
    moved = dict(mine, pin=pb)
    assert_mismatch(ins.put(f"/contributions/{mine['id']}", moved,
                            headers={"Ndx-Subject": pa}), pa, pb)
    assert ins.get(f"/contributions/{mine['id']}").json() == mine
    # Vehicles: taking another's (existing record) and giving one's own away (result).
    (plate_a, oa), (plate_b, ob) = query(
        d / "vehicles.db", "SELECT min(plate), owner_id FROM vehicles "
        "WHERE length(owner_id) = 12 GROUP BY owner_id LIMIT 2")
    va, vb = veh.get(f"/vehicles/{plate_a}").json(), veh.get(f"/vehicles/{plate_b}").json()
    assert_mismatch(veh.put(f"/vehicles/{plate_b}", dict(vb, owner_id=oa),
                            headers={"Ndx-Subject": oa}), oa, ob)
    assert_mismatch(veh.put(f"/vehicles/{plate_a}", dict(va, owner_id=ob),
                            headers={"Ndx-Subject": oa}), oa, ob)
    assert veh.get(f"/vehicles/{plate_a}").json() == va
    assert veh.get(f"/vehicles/{plate_b}").json() == vb
    # A write without Ndx-Subject is not checked, and declares both owners it touched.
    r = veh.put(f"/vehicles/{plate_a}", dict(va, owner_id=ob))
    assert r.status_code == 200 and declared(r) == {oa, ob}
    r = veh.put(f"/vehicles/{plate_a}", dict(va, owner_id=oa), headers={"Ndx-Subject": oa})
    assert r.status_code == 403  # it is ob's now
    r = veh.put(f"/vehicles/{plate_a}", dict(va, color="Đỏ"), headers={"Ndx-Subject": ob})
    assert r.status_code == 403  # the result would be oa's again
    r = veh.put(f"/vehicles/{plate_a}", dict(va), headers={"Ndx-Subject": oa})
    assert r.status_code == 403
    r = veh.put(f"/vehicles/{plate_a}", dict(va))
    assert r.status_code == 200 and r.json()["owner_id"] == oa
    # A matching PUT is accepted.
    r = veh.put(f"/vehicles/{plate_a}", dict(va, color="Đỏ"), headers={"Ndx-Subject": oa})
    assert r.status_code == 200 and r.json()["color"] == "Đỏ" and declared(r) == {oa}
    r = pop.put(f"/citizens/{a}", dict(pop.get(f"/citizens/{a}").json(),
                                        temporary_address="Số 5 phố Huế"),
                headers={"Ndx-Subject": a})
    assert r.status_code == 200 and declared(r) == {a}
    # A write refused for another reason still answers none.
    r = pop.put(f"/citizens/{b}", {"pin": b}, headers={"Ndx-Subject": b})
    assert_error(r, 400)
    assert r.headers["Ndx-Data-Subjects"] == "none"


def test_subject_cap(build_dir, tmp_path):
    """A household of 1000 people is declared in full; of 1001 it is refused (a partial
    list would hide the read from the people left out), and so is a write to it."""
    db = tmp_path / "population.db"
    srv = Sector(sector_exe(build_dir), "population", db, tmp_path)
    try:
        hh = "H00100000077"
        pins = [f"001089{i:06d}" for i in range(1, 1002)]
        con = sqlite3.connect(db)
        con.executemany(
            "INSERT INTO citizens(pin, full_name, name_folded, birth_date, sex, "
            "birth_province, permanent_address, permanent_province, household_id, relation, "
            "updated_at) VALUES(?, 'Nguyễn Văn Đông', 'nguyen van dong', '1989-01-01', "
            "'male', '001', 'Số 1', '001', ?, 'other', '2025-01-01T00:00:00Z')",
            [(p, hh) for p in pins[:1000]])
        con.execute("INSERT INTO households(id, head_pin, address, province, updated_at) "
                    "VALUES(?, ?, 'Số 1', '001', '2025-01-01T00:00:00Z')", (hh, pins[0]))
        con.commit()
        r = srv.get(f"/households/{hh}")
        assert r.status_code == 200, r.text
        assert declared(r) == set(pins[:1000])
        con.execute("INSERT INTO citizens(pin, full_name, name_folded, birth_date, sex, "
                    "birth_province, permanent_address, permanent_province, household_id, "
                    "updated_at) VALUES(?, 'Lê Văn Một', 'le van mot', '1989-01-01', 'male', "
                    "'001', 'Số 1', '001', ?, '2025-01-01T00:00:00Z')", (pins[1000], hh))
        con.commit()
        con.close()
        r = srv.get(f"/households/{hh}")
        assert_error(r, 422)
        assert r.json()["type"] == "Client.TooManySubjects"
        assert r.headers["Ndx-Data-Subjects"] == "none"
        assert_error(srv.get(f"/households/{hh}", headers={"Ndx-Subject": pins[0]}), 422)
        # The write is refused before anything is stored.
        body = {"id": hh, "head_pin": pins[0], "address": "Số 2", "province": "001"}
        assert_error(srv.put(f"/households/{hh}", body), 422)
        assert query(db, "SELECT address FROM households WHERE id = ?", hh) == [("Số 1",)]
        # A list of 100 members is within the cap.
        r = srv.get("/citizens", params={"household_id": hh, "limit": 100})
        assert r.status_code == 200 and len(declared(r)) == 100
    finally:
        assert srv.stop() == 0


# ---- quality ----------------------------------------------------------------------------

def test_quality_catches_planted_records(build_dir, seeded, tmp_path):
    src, _ = seeded
    d = tmp_path / "copy"
    d.mkdir()
    # A private copy: the servers above keep the originals open.
    for s in ("population", "enterprise", "civil-status"):
        con = sqlite3.connect(src / f"{s}.db")
        con.execute("VACUUM INTO ?", (str(d / f"{s}.db"),))
        con.close()

    clean = run(build_dir, "quality", "--sector", "population", "--db-dir", d,
                "--stale-days", 3650, check=False)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert json.loads(clean.stdout)["clean"] is True
    assert "clean" in clean.stderr
    # The seed writes today's map only: no address on the former one.
    assert json.loads(clean.stdout)["totals"]["former_map"] == 0
    assert json.loads(clean.stdout)["tables"]["citizens"]["former_map"]["count"] == 0

    # An address written before 1 July 2025 (Hải Dương, now in Hải Phòng) is valid: counted
    # as on the former map, not a finding. Birth provinces (former codes by design) are not.
    con = sqlite3.connect(d / "population.db")
    last, was = con.execute("SELECT max(rowid), (SELECT permanent_province FROM citizens WHERE "
                            "rowid = (SELECT max(rowid) FROM citizens)) FROM citizens").fetchone()
    con.execute("UPDATE citizens SET permanent_province = '030' WHERE rowid = ?", (last,))
    con.commit()
    old = run(build_dir, "quality", "--sector", "population", "--db-dir", d,
              "--stale-days", 3650, check=False)
    rep = json.loads(old.stdout)
    assert rep["clean"] is True and rep["tables"]["citizens"]["former_map"]["count"] == 1
    assert rep["totals"]["former_map"] == 1 and "1 on the former map" in old.stderr
    con.execute("UPDATE citizens SET permanent_province = ? WHERE rowid = ?", (was, last))
    con.commit()
    con.close()

    con = sqlite3.connect(d / "population.db")
    pin, name, bd, sex, prov, addr, pprov, hh = con.execute(
        "SELECT pin, full_name, birth_date, sex, birth_province, permanent_address, "
        "permanent_province, household_id FROM citizens LIMIT 1").fetchone()
    cols = ("pin, full_name, name_folded, birth_date, sex, birth_province, permanent_address, "
            "permanent_province, household_id, relation, updated_at")
    ins = f"INSERT INTO citizens({cols}) VALUES(?,?,?,?,?,?,?,?,?,?,?)"
    # Invalid: province 003 does not exist.
    con.execute(ins, ("003089000123", "Lê Văn Sai", "le van sai", "1989-01-01", "male", "001",
                      "Số 2", "001", hh, "child", "2025-01-01T00:00:00Z"))
    # Duplicate: the same person again under another (valid) number.
    dup_pin = pin[:6] + ("000000" if pin[6:] != "000000" else "000001")
    con.execute(ins, (dup_pin, name, fold(name), bd, sex, prov, addr, pprov, hh, "other",
                      "2025-01-01T00:00:00Z"))
    # Dangling: a household that does not exist.
    con.execute(ins, ("001190000777", "Phạm Thị Lạc", "pham thi lac", "1990-02-02", "female",
                      "001", "Số 3", "001", "H00100999999", "head", "2025-01-01T00:00:00Z"))
    # Stale: untouched since 2012.
    con.execute("UPDATE citizens SET updated_at = '2012-01-01T00:00:00Z' WHERE pin = ?", (pin,))
    con.commit()
    con.close()
    # Across databases: an enterprise owner who is no citizen.
    con = sqlite3.connect(d / "enterprise.db")
    code = con.execute("SELECT code FROM enterprises LIMIT 1").fetchone()[0]
    con.execute("INSERT INTO owners(enterprise_code, owner_pin, share_pct, since, updated_at) "
                "VALUES(?, '001085999999', 1, '2020-01-01', '2025-01-01T00:00:00Z')", (code,))
    con.commit()
    con.close()

    res = run(build_dir, "quality", "--sector", "population", "--db-dir", d,
              "--stale-days", 3650, check=False)
    assert res.returncode == 3, res.stderr
    rep = json.loads(res.stdout)
    assert rep["clean"] is False
    t = rep["tables"]["citizens"]
    assert t["invalid"]["count"] == 1, t["invalid"]
    assert t["invalid"]["samples"][0]["id"] == "003089000123"
    assert t["invalid"]["samples"][0]["field"] == "pin"
    assert t["duplicates"]["groups"] == 1
    assert set(t["duplicates"]["samples"][0]["ids"].split()) == {pin, dup_pin}
    assert t["dangling"]["count"] == 1
    assert t["dangling"]["samples"][0]["value"] == "H00100999999"
    assert t["stale"]["count"] == 1
    assert "NOT clean" in res.stderr

    res = run(build_dir, "quality", "--sector", "enterprise", "--db-dir", d,
              "--stale-days", 3650, check=False)
    assert res.returncode == 3
    dang = json.loads(res.stdout)["tables"]["owners"]["dangling"]
    assert dang["count"] == 1 and dang["samples"][0]["value"] == "001085999999"
    assert dang["samples"][0]["refers_to"] == "population/citizens"
    # Without the directory, other agencies' databases are not consulted.
    res = run(build_dir, "quality", "--sector", "enterprise", "--db", d / "enterprise.db",
              "--stale-days", 3650, check=False)
    dang = json.loads(res.stdout)["tables"]["owners"]["dangling"]
    assert dang["count"] == 0 and dang["skipped"]
    # The wrong sector's database is refused.
    res = run(build_dir, "quality", "--sector", "tax", "--db", d / "enterprise.db", check=False)
    assert res.returncode == 1 and "not a tax database" in res.stderr


def unix_get(sock, path, headers=None):
    """GET path from the HTTP server on the Unix socket sock: (status, body bytes)."""
    import socket as so
    with so.socket(so.AF_UNIX, so.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect(str(sock))
        head = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n{head}Connection: close\r\n\r\n"
                  .encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return int(data.split(b" ", 2)[1]), data.split(b"\r\n\r\n", 1)[1]


def test_serve_on_a_unix_socket_is_private_and_logs_no_pin(build_dir, tmp_path):
    """T33, T34: seed makes a 0700 directory of 0600 databases; serve --listen unix:PATH
    answers on a 0600 socket that another user cannot open, logs the PIN of a read only
    as its keyed tag (key made 0600 beside the database), refuses a socket another
    server listens on, and removes its socket when it stops."""
    import hashlib
    import hmac
    import os
    import re
    d = tmp_path / "new"
    run(build_dir, "seed", "--db-dir", d, "--citizens", 20, "--seed", 5, "--quiet")
    assert d.stat().st_mode & 0o777 == 0o700
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in d.glob("*.db"))
    db = d / "population.db"
    pin = query(db, "SELECT pin FROM citizens ORDER BY rowid LIMIT 1")[0][0]
    rundir = tmp_path / "run"
    rundir.mkdir(mode=0o700)
    sock, log = rundir / "p.sock", tmp_path / "sector.log"
    with open(log, "w") as err:
        p = subprocess.Popen([str(sector_exe(build_dir)), "serve", "--sector", "population",
                              "--db", str(db), "--listen", f"unix:{sock}"],
                             stdout=subprocess.DEVNULL, stderr=err)
    try:
        deadline = time.time() + START_TIMEOUT
        while "listening on unix:" not in log.read_text():
            assert p.poll() is None and time.time() < deadline, log.read_text()
            time.sleep(0.05)
        assert (sock.stat().st_mode & 0o777) == 0o600
        status, body = unix_get(sock, f"/citizens/{pin}", {"Ndx-Subject": pin})
        assert status == 200 and json.loads(body)["pin"] == pin
        if os.getuid() == 0:
            probe = ("import socket,sys\ns=socket.socket(socket.AF_UNIX)\n"
                     "try:\n s.connect(sys.argv[1]); print('connected')\n"
                     "except OSError as e: print(type(e).__name__)\n")
            out = subprocess.run(["python3", "-c", probe, str(sock)], capture_output=True,
                                 text=True, timeout=20, user=65534, group=65534)
            assert out.stdout.strip() == "PermissionError", out
        # A second server on the same socket is refused; the first keeps it.
        res = run(build_dir, "serve", "--sector", "population", "--db", db,
                  "--listen", f"unix:{sock}", check=False)
        assert res.returncode != 0 and "another process listens there" in res.stderr
        assert unix_get(sock, "/healthz")[0] == 200
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=10)
    assert not sock.exists()
    text = log.read_text()
    assert pin not in text and not re.search(r"(?<![0-9A-Za-z:])[0-9]{12}(?![0-9A-Za-z])", text), text
    key = d / "population.db.log-key"
    assert key.stat().st_mode & 0o777 == 0o600
    tag = hmac.new(bytes.fromhex(key.read_text().strip()), pin.encode(),
                   hashlib.sha256).hexdigest()[:12]
    assert f'"path":"/citizens/pin:{tag}"' in text, text
    # Bad unix: addresses are refused before anything starts.
    for bad in ("unix:relative.sock", "unix:/" + "x" * 120):
        res = run(build_dir, "serve", "--sector", "population", "--db", db, "--listen", bad,
                  check=False)
        assert res.returncode == 2 and "unix:" in res.stderr, res.stderr
