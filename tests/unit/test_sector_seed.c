/* Unit tests for the sector generator and the checks built on the schema:
 * a small seed (src/sector/seed.h) must be consistent (every household has
 * exactly one head who lives in it, every citizen's PIN agrees with the
 * birth province, sex and birth year, every owner, parent, spouse,
 * employer, right holder, vehicle owner and taxpayer exists), the quality
 * report (quality.h) must find it clean, the same seed must give the same
 * data, and api_validate_row must refuse what it should, naming the field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "api.h"
#include "ndx/err.h"
#include "ndx/pin.h"
#include "quality.h"
#include "seed.h"

#define CITIZENS 3000

static char dir_a[4096], dir_b[4096];

static void make_dir(char *out, size_t cap)
{
	const char *base = getenv("NDX_TEST_TMP");
	snprintf(out, cap, "%s/sector-seed-XXXXXX", base ? base : "/tmp");
	assert_non_null(mkdtemp(out));
}

static void remove_dir(const char *dir)
{
	char path[4200];
	for (size_t i = 0; i < SECTOR_COUNT; i++) {
		snprintf(path, sizeof path, "%s/%s.db", dir, sector_at(i)->name);
		unlink(path);
		snprintf(path, sizeof path, "%s/%s.db-wal", dir, sector_at(i)->name);
		unlink(path);
		snprintf(path, sizeof path, "%s/%s.db-shm", dir, sector_at(i)->name);
		unlink(path);
	}
	rmdir(dir);
}

static int setup(void **state)
{
	struct seed_opts o = { .citizens = CITIZENS, .seed = 7, .today = 1750000000 };
	struct seed_stats st;
	(void)state;
	make_dir(dir_a, sizeof dir_a);
	make_dir(dir_b, sizeof dir_b);
	o.dir = dir_a;
	if (seed_run(&o, &st) != NDX_OK)
		return -1;
	o.dir = dir_b;
	if (seed_run(&o, &st) != NDX_OK)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	remove_dir(dir_a);
	remove_dir(dir_b);
	return 0;
}

/* Opens population.db with every other sector attached under its name. */
static sqlite3 *open_all(const char *dir)
{
	sqlite3 *db = NULL;
	char path[4200], sql[4400];
	snprintf(path, sizeof path, "%s/population.db", dir);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	for (size_t i = 1; i < SECTOR_COUNT; i++) {
		const char *name = sector_at(i)->name;
		snprintf(sql, sizeof sql, "ATTACH DATABASE '%s/%s.db' AS \"%s\"", dir, name, name);
		assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	}
	return db;
}

static long long scalar(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	long long v = -1;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void expect_zero(sqlite3 *db, const char *what, const char *sql)
{
	long long v = scalar(db, sql);
	if (v != 0)
		fail_msg("%s: %lld rows (%s)", what, v, sql);
}

static void test_counts(void **state)
{
	sqlite3 *db = open_all(dir_a);
	(void)state;
	assert_int_equal(scalar(db, "SELECT count(*) FROM citizens"), CITIZENS);
	assert_true(scalar(db, "SELECT count(*) FROM households") > CITIZENS / 6);
	assert_true(scalar(db, "SELECT count(*) FROM \"civil-status\".births") > CITIZENS / 3);
	assert_true(scalar(db, "SELECT count(*) FROM \"civil-status\".marriages") > 100);
	assert_true(scalar(db, "SELECT count(*) FROM enterprise.enterprises") > 5);
	assert_true(scalar(db, "SELECT count(*) FROM tax.taxpayers") > CITIZENS / 4);
	assert_true(scalar(db, "SELECT count(*) FROM insurance.contributions") > 100);
	assert_true(scalar(db, "SELECT count(*) FROM land.right_holders") > 100);
	assert_true(scalar(db, "SELECT count(*) FROM vehicles.vehicles") > 100);
	/* Every table is indexed and in WAL mode after the seed. */
	assert_true(scalar(db, "SELECT count(*) FROM sqlite_master WHERE type = 'index' "
			       "AND name = 'citizens_name'") == 1);
	sqlite3_close(db);
}

static void test_households(void **state)
{
	sqlite3 *db = open_all(dir_a);
	(void)state;
	expect_zero(db, "household heads missing",
		    "SELECT count(*) FROM households h WHERE NOT EXISTS "
		    "(SELECT 1 FROM citizens c WHERE c.pin = h.head_pin)");
	expect_zero(db, "heads not in their household",
		    "SELECT count(*) FROM households h JOIN citizens c ON c.pin = h.head_pin "
		    "WHERE c.household_id != h.id OR c.relation != 'head'");
	expect_zero(db, "households without exactly one head",
		    "SELECT count(*) FROM households h WHERE (SELECT count(*) FROM citizens c "
		    "WHERE c.household_id = h.id AND c.relation = 'head') != 1");
	expect_zero(db, "citizens in a missing household",
		    "SELECT count(*) FROM citizens c WHERE NOT EXISTS "
		    "(SELECT 1 FROM households h WHERE h.id = c.household_id)");
	expect_zero(db, "members living elsewhere than their household",
		    "SELECT count(*) FROM citizens c JOIN households h ON h.id = c.household_id "
		    "WHERE c.permanent_address != h.address OR c.permanent_province != h.province");
	sqlite3_close(db);
}

static void test_pins_match_people(void **state)
{
	sqlite3 *db = open_all(dir_a);
	sqlite3_stmt *st = NULL;
	long long n = 0;
	(void)state;
	assert_int_equal(sqlite3_prepare_v2(db,
					    "SELECT pin, birth_date, sex, birth_province FROM citizens",
					    -1, &st, NULL),
			 SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *pin = (const char *)sqlite3_column_text(st, 0);
		const char *bd = (const char *)sqlite3_column_text(st, 1);
		const char *sex = (const char *)sqlite3_column_text(st, 2);
		const char *prov = (const char *)sqlite3_column_text(st, 3);
		struct ndx_pin_info info;
		const char *why = NULL;
		char year[5];
		if (ndx_pin_parse(pin, 2025, &info, &why) != NDX_OK)
			fail_msg("%s: %s", pin, why);
		snprintf(year, sizeof year, "%d", info.birth_year);
		if (strncmp(bd, year, 4) != 0 || info.female != (strcmp(sex, "female") == 0) ||
		    strcmp(info.province, prov) != 0)
			fail_msg("%s does not match %s %s %s", pin, bd, sex, prov);
		n++;
	}
	sqlite3_finalize(st);
	assert_int_equal(n, CITIZENS);
	expect_zero(db, "duplicate PINs",
		    "SELECT count(*) - count(DISTINCT pin) FROM citizens");
	expect_zero(db, "names without diacritics folded wrongly",
		    "SELECT count(*) FROM citizens WHERE name_folded != lower(name_folded) "
		    "OR name_folded GLOB '*[^a-z ]*'");
	sqlite3_close(db);
}

static void test_references_resolve(void **state)
{
	static const char *const CHECKS[][2] = {
		{ "enterprise legal representatives",
		  "SELECT count(*) FROM enterprise.enterprises e WHERE NOT EXISTS "
		  "(SELECT 1 FROM citizens c WHERE c.pin = e.legal_rep_pin)" },
		{ "enterprise owners",
		  "SELECT count(*) FROM enterprise.owners o WHERE NOT EXISTS "
		  "(SELECT 1 FROM citizens c WHERE c.pin = o.owner_pin) OR NOT EXISTS "
		  "(SELECT 1 FROM enterprise.enterprises e WHERE e.code = o.enterprise_code)" },
		{ "owner shares not summing to 100",
		  "SELECT count(*) FROM (SELECT sum(share_pct) s FROM enterprise.owners "
		  "GROUP BY enterprise_code) WHERE abs(s - 100) > 0.001" },
		{ "births of unknown children or parents",
		  "SELECT count(*) FROM \"civil-status\".births b WHERE NOT EXISTS "
		  "(SELECT 1 FROM citizens c WHERE c.pin = b.child_pin) "
		  "OR (b.father_pin IS NOT NULL AND NOT EXISTS (SELECT 1 FROM citizens c "
		  "WHERE c.pin = b.father_pin AND c.sex = 'male')) "
		  "OR (b.mother_pin IS NOT NULL AND NOT EXISTS (SELECT 1 FROM citizens c "
		  "WHERE c.pin = b.mother_pin AND c.sex = 'female'))" },
		{ "parents younger than 15 at the birth",
		  "SELECT count(*) FROM \"civil-status\".births b JOIN citizens m ON "
		  "m.pin = b.mother_pin WHERE julianday(b.birth_date) - julianday(m.birth_date) "
		  "< 15 * 365" },
		{ "marriages of unknown or same-sex or under-age spouses",
		  "SELECT count(*) FROM \"civil-status\".marriages m WHERE NOT EXISTS "
		  "(SELECT 1 FROM citizens c WHERE c.pin = m.husband_pin AND c.sex = 'male' "
		  "AND date(c.birth_date, '+20 years') <= m.registered_on) OR NOT EXISTS "
		  "(SELECT 1 FROM citizens c WHERE c.pin = m.wife_pin AND c.sex = 'female' "
		  "AND date(c.birth_date, '+18 years') <= m.registered_on)" },
		{ "individual taxpayers who are not citizens",
		  "SELECT count(*) FROM tax.taxpayers t WHERE t.kind = 'individual' AND NOT EXISTS "
		  "(SELECT 1 FROM citizens c WHERE c.pin = t.tax_id)" },
		{ "enterprise taxpayers who are not enterprises",
		  "SELECT count(*) FROM tax.taxpayers t WHERE t.kind = 'enterprise' AND NOT EXISTS "
		  "(SELECT 1 FROM enterprise.enterprises e WHERE e.code = t.tax_id)" },
		{ "obligations of unknown taxpayers",
		  "SELECT count(*) FROM tax.obligations o WHERE NOT EXISTS "
		  "(SELECT 1 FROM tax.taxpayers t WHERE t.tax_id = o.tax_id)" },
		{ "insured persons who are not citizens",
		  "SELECT count(*) FROM insurance.participants p WHERE NOT EXISTS "
		  "(SELECT 1 FROM citizens c WHERE c.pin = p.pin)" },
		{ "contributions to unknown employers or persons",
		  "SELECT count(*) FROM insurance.contributions k WHERE NOT EXISTS "
		  "(SELECT 1 FROM insurance.participants p WHERE p.pin = k.pin) OR "
		  "(k.employer_code IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "
		  "enterprise.enterprises e WHERE e.code = k.employer_code))" },
		{ "right holders who are neither citizens nor enterprises",
		  "SELECT count(*) FROM land.right_holders r WHERE NOT EXISTS "
		  "(SELECT 1 FROM citizens c WHERE c.pin = r.holder_id) AND NOT EXISTS "
		  "(SELECT 1 FROM enterprise.enterprises e WHERE e.code = r.holder_id)" },
		{ "right holders of unknown parcels",
		  "SELECT count(*) FROM land.right_holders r WHERE NOT EXISTS "
		  "(SELECT 1 FROM land.parcels p WHERE p.id = r.parcel_id)" },
		{ "vehicle owners who are neither citizens nor enterprises",
		  "SELECT count(*) FROM vehicles.vehicles v WHERE NOT EXISTS "
		  "(SELECT 1 FROM citizens c WHERE c.pin = v.owner_id) AND NOT EXISTS "
		  "(SELECT 1 FROM enterprise.enterprises e WHERE e.code = v.owner_id)" },
	};
	sqlite3 *db = open_all(dir_a);
	(void)state;
	for (size_t i = 0; i < sizeof CHECKS / sizeof *CHECKS; i++)
		expect_zero(db, CHECKS[i][0], CHECKS[i][1]);
	sqlite3_close(db);
}

static void test_quality_clean(void **state)
{
	(void)state;
	for (size_t i = 0; i < SECTOR_COUNT; i++) {
		char path[4200];
		json_t *report = NULL;
		struct quality_opts o = { .def = sector_at(i), .db_dir = dir_a, .stale_days = 3650,
					  .samples = 3, .now = 1750000000 };
		snprintf(path, sizeof path, "%s/%s.db", dir_a, sector_at(i)->name);
		o.db_path = path;
		assert_int_equal(quality_run(&o, &report), NDX_OK);
		if (quality_findings(report) != 0) {
			char *text = json_dumps(report, JSON_INDENT(1));
			fail_msg("%s is not clean:\n%s", sector_at(i)->name, text);
		}
		json_decref(report);
	}
}

static void test_deterministic_and_no_overwrite(void **state)
{
	struct seed_opts o = { .dir = dir_a, .citizens = 10, .seed = 7 };
	struct seed_stats st;
	sqlite3 *a = open_all(dir_a), *b = open_all(dir_b);
	(void)state;
	/* Same seed, same day: identical rows (updated_at included). */
	const char *sql = "SELECT sum(length(pin || full_name || birth_date || updated_at)) "
			  "+ sum(unicode(substr(full_name, 1, 1))) FROM citizens";
	assert_int_equal(scalar(a, sql), scalar(b, sql));
	sql = "SELECT count(*) FROM vehicles.vehicles";
	assert_int_equal(scalar(a, sql), scalar(b, sql));
	sqlite3_close(a);
	sqlite3_close(b);
	assert_int_equal(seed_run(&o, &st), NDX_EEXIST);
}

static void expect_refusal(const char *table, const char *json, const char *want_field,
			   const char *want_why)
{
	const struct sector_def *def = sector_find(strcmp(table, "enterprises") == 0 ? "enterprise"
											: "population");
	const struct sector_table *t = sector_table_find(def, table);
	json_error_t err;
	json_t *body = json_loads(json, 0, &err), *row;
	char field[256], why[256];
	assert_non_null(body);
	row = api_validate_row(def, t, body, NULL, field, why, sizeof field);
	if (row)
		fail_msg("accepted %s", json);
	assert_string_equal(field, want_field);
	if (!strstr(why, want_why))
		fail_msg("%s: why \"%s\" lacks \"%s\"", json, why, want_why);
	json_decref(body);
}

#define CITIZEN(pin, name, bd, sex, prov)                                                       \
	"{\"pin\":\"" pin "\",\"full_name\":\"" name "\",\"birth_date\":\"" bd "\",\"sex\":\"" sex \
	"\",\"birth_province\":\"" prov "\",\"permanent_address\":\"Số 1 đường Lê Lợi\","       \
	"\"permanent_province\":\"001\"}"

static void test_validation(void **state)
{
	const struct sector_def *pop = sector_find("population");
	const struct sector_table *citizens = sector_table_find(pop, "citizens");
	json_t *body = json_loads(CITIZEN("001089012345", "Nguyễn Văn An", "1989-03-04", "male",
					  "001"),
				  0, NULL);
	char field[256], why[256];
	json_t *row = api_validate_row(pop, citizens, body, NULL, field, why, sizeof field);
	(void)state;
	assert_non_null(row);
	json_decref(row);
	json_decref(body);

	expect_refusal("citizens", CITIZEN("00108901234", "A", "1989-03-04", "male", "001"), "pin",
		       "exactly 12");
	expect_refusal("citizens", CITIZEN("003089012345", "A", "1989-03-04", "male", "001"), "pin",
		       "province");
	expect_refusal("citizens", CITIZEN("001089012345", "A", "1990-03-04", "male", "001"), "pin",
		       "birth year 1989");
	expect_refusal("citizens", CITIZEN("001089012345", "A", "1989-03-04", "female", "001"),
		       "pin", "says male");
	expect_refusal("citizens", CITIZEN("001089012345", "A", "1989-03-04", "male", "079"), "pin",
		       "province 001");
	expect_refusal("citizens", CITIZEN("001089012345", "A", "1989-02-30", "male", "001"),
		       "birth_date", "YYYY-MM-DD");
	expect_refusal("citizens", CITIZEN("001089012345", "A", "1989-03-04", "x", "001"), "sex",
		       "one of male, female");
	expect_refusal("citizens", CITIZEN("001089012345", "", "1989-03-04", "male", "001"),
		       "full_name", "empty");
	expect_refusal("citizens", "{\"pin\":\"001089012345\"}", "full_name", "required");
	expect_refusal("citizens", "{\"pin\":\"001089012345\",\"colour\":1}", "colour",
		       "not a field");
	expect_refusal("citizens", "{\"pin\":1}", "pin", "string");
	expect_refusal("enterprises",
		       "{\"code\":\"0100233480\",\"name\":\"X\",\"kind\":\"co-phan\",\"address\":\"A\","
		       "\"province\":\"001\",\"status\":\"active\",\"registered_on\":\"2020-01-01\","
		       "\"legal_rep_pin\":\"001089012345\"}",
		       "code", "check digit");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counts),
		cmocka_unit_test(test_households),
		cmocka_unit_test(test_pins_match_people),
		cmocka_unit_test(test_references_resolve),
		cmocka_unit_test(test_quality_clean),
		cmocka_unit_test(test_deterministic_and_no_overwrite),
		cmocka_unit_test(test_validation),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
