/* Unit tests for reconciliation with the population registry
 * (docs/sectors.md "Defects", "Verification", "Reconciliation"): the
 * defect injection's pure rules (spoiled names fold to the same key, a
 * swapped date is another valid date), a seed with --defects (the same
 * seed gives the same defects and truth, every truth line describes the
 * database as spoiled, a rate of 0 leaves the data clean and writes no
 * truth), the verification service's matching rules, how a service
 * answer becomes findings of the report, a correction as one transaction,
 * and the progress tables of an older version brought up to date. With
 * NDX_TEST_ENGINE=pg (the meson suite pg) the same seed with --defects into
 * the PostgreSQL database NDX_TEST_PG writes the same ground truth as into
 * SQLite files, each line describing the schemas as spoiled, and a
 * correction on PostgreSQL is one transaction too (the sectors' schemas
 * dropped before each case; without NDX_TEST_PG that run is skipped, exit
 * 77). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "ndx/fold.h"
#include "openapi.h"
#include "ndx/err.h"
#include "sec_reconcile.h"
#include "sec_verify.h"
#include "sec_worklist_api.h"
#include "seed.h"
#include "seed_defects.h"
#include "sec_outbox.h"
#include "sec_sql.h"
#include "sec_worklist.h"
#include "store.h"

static const char *pg_base; /* NDX_TEST_PG in the pg run, else NULL */

static PGconn *pg_connect(void)
{
	PGconn *c = PQconnectdb(pg_base);

	if (PQstatus(c) != CONNECTION_OK)
		fail_msg("cannot connect: %s", PQerrorMessage(c));
	PQclear(PQexec(c, "SET client_min_messages = warning"));
	return c;
}

static void pg_exec(const char *stmt)
{
	PGconn *c = pg_connect();
	PGresult *r = PQexec(c, stmt);

	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", stmt, PQresultErrorMessage(r));
	PQclear(r);
	PQfinish(c);
}

/* The sectors' schemas dropped: a seed or a store of its own. */
static void pg_drop_sectors(void)
{
	pg_exec("DROP SCHEMA IF EXISTS population, civil_status, enterprise, tax, insurance, land,"
		" vehicles CASCADE");
}

#define CITIZENS 1500

static void fold(const char *in, char *out)
{
	assert_true(ndx_fold(in, out, 256) >= 0);
}

static void test_name_strip(void **state)
{
	char out[256], a[256], b[256];
	(void)state;
	assert_int_equal(defect_name("Nguyễn Văn Đức", DEFECT_NAME_STRIP, 0, out, sizeof out), 1);
	assert_string_equal(out, "Nguyen Van Duc");
	assert_int_equal(defect_name("Đặng Thị Ánh", DEFECT_NAME_STRIP, 5, out, sizeof out), 1);
	assert_string_equal(out, "Dang Thi Anh");
	/* Nothing to strip: unchanged, and said so. */
	assert_int_equal(defect_name("Lan Anh", DEFECT_NAME_STRIP, 0, out, sizeof out), 0);
	assert_string_equal(out, "Lan Anh");
	fold("Nguyễn Văn Đức", a);
	fold("Nguyen Van Duc", b);
	assert_string_equal(a, b);
}

static void test_name_wrong(void **state)
{
	static const char *const NAMES[] = { "Nguyễn Văn Đức", "Trần Thị Hồng Nhung", "Lê Hoàng",
					     "Phạm Ngọc Ánh", "Vũ Quý" };
	char out[256], a[256], b[256], stripped[256];
	(void)state;
	for (size_t i = 0; i < sizeof NAMES / sizeof NAMES[0]; i++)
		for (uint64_t pick = 0; pick < 2000; pick += 97) {
			assert_int_equal(defect_name(NAMES[i], DEFECT_NAME_WRONG, pick, out, sizeof out),
					 1);
			assert_string_not_equal(out, NAMES[i]);
			/* Wrong marks, not none: it is not the stripped name. */
			defect_name(NAMES[i], DEFECT_NAME_STRIP, 0, stripped, sizeof stripped);
			assert_string_not_equal(out, stripped);
			fold(NAMES[i], a);
			fold(out, b);
			assert_string_equal(a, b);
			assert_string_equal(verify_name(out, NAMES[i]), VERIFY_MARKS);
		}
	/* A name without a tone falls back to stripping its vowel marks. */
	assert_int_equal(defect_name("Đăng", DEFECT_NAME_WRONG, 3, out, sizeof out), 1);
	assert_string_equal(out, "Dang");
}

static void test_name_cap(void **state)
{
	char out[8];
	(void)state;
	assert_int_equal(defect_name("Nguyễn Văn Đức", DEFECT_NAME_STRIP, 0, out, sizeof out), -1);
	assert_int_equal(defect_name("Nguyễn", DEFECT_NAME_WRONG, 0, out, 0), -1);
}

static void test_swap_date(void **state)
{
	char out[11] = "untouched";
	(void)state;
	assert_int_equal(defect_swap_date("1990-05-03", out), 1);
	assert_string_equal(out, "1990-03-05");
	assert_string_equal(verify_date("1990-03-05", "1990-05-03"), VERIFY_SWAPPED);
	snprintf(out, sizeof out, "untouched");
	assert_int_equal(defect_swap_date("1990-05-13", out), 0); /* day 13: no month 13 */
	assert_int_equal(defect_swap_date("1990-05-05", out), 0); /* the same date */
	assert_int_equal(defect_swap_date("1990-5-3", out), 0);
	assert_int_equal(defect_swap_date("1990-05-03x", out), 0);
	assert_int_equal(defect_swap_date("", out), 0);
	assert_string_equal(out, "untouched");
}

static void test_verify_rules(void **state)
{
	(void)state;
	assert_string_equal(verify_name("Nguyễn Văn An", "Nguyễn Văn An"), VERIFY_MATCH);
	assert_string_equal(verify_name("NGUYEN VAN AN", "Nguyễn Văn An"), VERIFY_MARKS);
	assert_string_equal(verify_name("Nguyễn Văn Anh", "Nguyễn Văn An"), VERIFY_DIFFERS);
	assert_string_equal(verify_name("", "Nguyễn Văn An"), VERIFY_DIFFERS);
	assert_string_equal(verify_date("1990-05-03", "1990-05-03"), VERIFY_MATCH);
	assert_string_equal(verify_date("1990-05-04", "1990-05-03"), VERIFY_DIFFERS);
	assert_string_equal(verify_date("1991-03-05", "1990-05-03"), VERIFY_DIFFERS);
	assert_string_equal(verify_date("short", "1990-05-03"), VERIFY_DIFFERS);
	assert_string_equal(verify_address("Số 5 đường Láng, Đống Đa, Thành phố Hà Nội",
					   "so 5  duong lang, dong da, thanh pho ha noi"),
			    VERIFY_MATCH);
	assert_string_equal(verify_address("Số 6 đường Láng", "Số 5 đường Láng"), VERIFY_DIFFERS);
}

static size_t findings(const char *json, int pin_sent, struct reconcile_finding *f)
{
	json_t *o = json_loads(json, 0, NULL);
	assert_non_null(o);
	size_t n = reconcile_findings(o, pin_sent, f);
	json_decref(o);
	return n;
}

static void test_findings(void **state)
{
	struct reconcile_finding f[RECONCILE_FINDINGS_MAX];
	(void)state;
	assert_int_equal(findings("{\"pin\":\"match\",\"full_name\":\"match\",\"living\":\"match\"}", 1,
				  f),
			 0);
	assert_int_equal(findings("{\"pin\":\"match\",\"full_name\":\"marks\",\"birth_date\":"
				  "\"swapped\",\"address\":\"differs\",\"living\":\"differs\","
				  "\"sex\":\"differs\"}",
				  1, f),
			 5);
	assert_string_equal(f[0].kind, "name-marks");
	assert_string_equal(f[0].field, "full_name");
	assert_string_equal(f[1].kind, "date-swapped");
	assert_string_equal(f[2].kind, "sex-differs");
	assert_string_equal(f[3].kind, "address-differs");
	assert_string_equal(f[4].kind, "deceased-active");
	assert_string_equal(f[4].field, "living");
	assert_int_equal(findings("{\"pin\":\"unknown\"}", 1, f), 1);
	assert_string_equal(f[0].kind, "unknown-number");
	assert_int_equal(findings("{\"pin\":\"unknown\",\"candidate_pin\":\"001090000001\","
				  "\"full_name\":\"match\"}", 1, f), 1);
	assert_string_equal(f[0].kind, "wrong-number");
	assert_int_equal(findings("{\"pin\":\"differs\",\"full_name\":\"unknown\"}", 1, f), 1);
	assert_string_equal(f[0].kind, "wrong-number");
	assert_int_equal(findings("{\"candidate_pin\":\"001090000001\",\"full_name\":\"match\"}", 0, f),
			 1);
	assert_string_equal(f[0].kind, "missing-number");
	assert_string_equal(f[0].field, "pin");
	assert_int_equal(findings("{\"full_name\":\"unknown\",\"birth_date\":\"differs\"}", 0, f), 2);
	assert_string_equal(f[1].kind, "date-differs");
	/* Every kind of defect has the finding it is expected to give. */
	for (int k = 0; k < DEFECT_KIND_COUNT; k++)
		assert_non_null(reconcile_expected(defect_kind_name(k)));
	assert_null(reconcile_expected("no-such-kind"));
	assert_null(defect_kind_name(DEFECT_KIND_COUNT));
}

static unsigned faults(const char *json, int pin_sent, int name, int birth, int sex, int addr)
{
	json_t *o = json_loads(json, 0, NULL);
	assert_non_null(o);
	unsigned f = reconcile_measure_faults(o, pin_sent, name, birth, sex, addr);
	json_decref(o);
	return f;
}

static void test_measures(void **state)
{
	(void)state;
	/* A taxpayer record (number, name, address) agreeing everywhere. */
	assert_int_equal(faults("{\"pin\":\"match\",\"full_name\":\"match\",\"address\":"
				"\"match\",\"living\":\"match\"}", 1, 1, 0, 0, 1),
			 0);
	/* Without its address: not sufficient, the rest holds. */
	assert_int_equal(faults("{\"pin\":\"match\",\"full_name\":\"match\"}", 1, 1, 0, 0, 1),
			 RECONCILE_NOT_SUFFICIENT);
	assert_int_equal(faults("{\"pin\":\"match\",\"full_name\":\"marks\",\"address\":"
				"\"differs\",\"living\":\"differs\"}", 1, 1, 0, 0, 1),
			 RECONCILE_NOT_ACCURATE | RECONCILE_NOT_LIVE);
	assert_int_equal(faults("{\"pin\":\"unknown\"}", 1, 0, 0, 0, 0), RECONCILE_NOT_CLEAN);
	/* A birth without a number: neither sufficient nor clean. */
	assert_int_equal(faults("{\"candidate_pin\":\"001090000001\",\"full_name\":\"match\","
				"\"birth_date\":\"swapped\",\"sex\":\"match\"}", 0, 1, 1, 1, 0),
			 RECONCILE_NOT_SUFFICIENT | RECONCILE_NOT_CLEAN | RECONCILE_NOT_ACCURATE);
}

static void test_openapi_verify(void **state)
{
	json_t *pop = openapi_build(sector_find("population")), *tax = openapi_build(sector_find("tax"));
	(void)state;
	assert_non_null(pop);
	assert_non_null(tax);
	json_t *post = json_object_get(json_object_get(json_object_get(pop, "paths"), "/verify"),
				       "post");
	assert_non_null(post);
	json_t *records = json_object_get(post, "requestBody");
	static const char *const PATH[] = { "content", "application/json", "schema", "properties",
					    "records" };
	for (size_t i = 0; i < sizeof PATH / sizeof PATH[0]; i++)
		records = json_object_get(records, PATH[i]);
	assert_int_equal(json_integer_value(json_object_get(records, "maxItems")), VERIFY_MAX_RECORDS);
	/* Only the population registry verifies. */
	assert_null(json_object_get(json_object_get(tax, "paths"), "/verify"));
	/* The reconciled registries describe their worklist routes, with the
	 * limits the handler enforces; the reference registry has none. */
	json_t *wl = json_object_get(json_object_get(json_object_get(tax, "paths"),
						     "/reconcile/worklist"), "get");
	assert_non_null(wl);
	json_t *limit = json_array_get(json_object_get(wl, "parameters"), 1);
	assert_string_equal(json_string_value(json_object_get(limit, "name")), "limit");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(limit, "schema"),
							    "maximum")),
			 WORKLIST_MAX_LIMIT);
	assert_non_null(json_object_get(json_object_get(json_object_get(tax, "paths"),
							"/reconcile/corrections"), "post"));
	assert_null(json_object_get(json_object_get(pop, "paths"), "/reconcile/worklist"));
	json_decref(pop);
	json_decref(tax);
}

/* ---- a seed with defects ---------------------------------------------------------- */

static void make_dir(char *out, size_t cap)
{
	const char *base = getenv("NDX_TEST_TMP");
	snprintf(out, cap, "%s/sector-defects-XXXXXX", base ? base : "/tmp");
	assert_non_null(mkdtemp(out));
}

static void remove_dir(const char *dir)
{
	char path[4200];
	for (size_t i = 0; i < SECTOR_COUNT; i++) {
		static const char *const EXT[] = { "", "-wal", "-shm" };
		for (size_t e = 0; e < 3; e++) {
			snprintf(path, sizeof path, "%s/%s.db%s", dir, sector_at(i)->name, EXT[e]);
			unlink(path);
		}
	}
	snprintf(path, sizeof path, "%s/" SEED_TRUTH_FILE, dir);
	unlink(path);
	rmdir(dir);
}

static char *slurp_file(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	char *text = calloc(1, 1 << 22);
	assert_non_null(text);
	size_t n = fread(text, 1, (1 << 22) - 1, f);
	fclose(f);
	text[n] = '\0';
	return text;
}

static char *slurp(const char *dir)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/" SEED_TRUTH_FILE, dir);
	return slurp_file(path);
}

static void seed_into(const char *dir, uint64_t seed, double rate, struct seed_stats *st)
{
	struct seed_opts o = { .dir = dir, .citizens = CITIZENS, .seed = seed,
			       .today = 1764590400 /* 2025-12-01 */, .defects = rate };
	assert_int_equal(seed_run(&o, st), NDX_OK);
}

/* The value of column field of the record key of table in dir/sector.db. */
static char *db_value(const char *dir, const char *sector, const char *table, const char *key,
		      const char *field)
{
	char path[4200], sql[256];
	sqlite3 *db;
	sqlite3_stmt *q;
	char *v = NULL;
	const char *keycol = strcmp(table, "taxpayers") == 0      ? "tax_id"
			     : strcmp(table, "participants") == 0 ? "pin"
			     : strcmp(table, "vehicles") == 0     ? "plate"
								  : "id";
	if (pg_base && strncmp(dir, "postgresql://", 13) == 0) {
		char schema[32];
		size_t i;
		for (i = 0; sector[i] && i + 1 < sizeof schema; i++)
			schema[i] = sector[i] == '-' ? '_' : sector[i];
		schema[i] = '\0';
		snprintf(sql, sizeof sql, "SELECT %s FROM %s.%s WHERE %s = $1", field, schema, table,
			 keycol);
		PGconn *c = pg_connect();
		const char *params[1] = { key };
		PGresult *r = PQexecParams(c, sql, 1, NULL, params, NULL, NULL, 0);
		assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
		assert_int_equal(PQntuples(r), 1);
		if (!PQgetisnull(r, 0, 0))
			v = strdup(PQgetvalue(r, 0, 0));
		PQclear(r);
		PQfinish(c);
		return v;
	}
	snprintf(path, sizeof path, "%s/%s.db", dir, sector);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	snprintf(sql, sizeof sql, "SELECT %s FROM %s WHERE %s = ?", field, table, keycol);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
	sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	if (sqlite3_column_text(q, 0))
		v = strdup((const char *)sqlite3_column_text(q, 0));
	sqlite3_finalize(q);
	sqlite3_close(db);
	return v;
}

/* Checks that each line of the truth text describes the database at loc
 * (a directory, or a connection string) as spoiled; the lines. */
static uint64_t check_truth(const char *loc, char *text)
{
	uint64_t lines = 0;

	for (char *line = text, *end; *line; line = end + 1) {
		end = strchr(line, '\n');
		assert_non_null(end);
		*end = '\0';
		json_t *o = json_loads(line, 0, NULL);
		assert_non_null(o);
		const char *sector = json_string_value(json_object_get(o, "sector")),
			   *table = json_string_value(json_object_get(o, "table")),
			   *key = json_string_value(json_object_get(o, "key")),
			   *kind = json_string_value(json_object_get(o, "kind")),
			   *field = json_string_value(json_object_get(o, "field")),
			   *truth = json_string_value(json_object_get(o, "value"));
		assert_true(sector && table && key && kind && field && truth);
		char *now = db_value(loc, sector, table, key, field);
		if (strcmp(kind, "duplicate-no-number") == 0)
			assert_null(now);
		else
			assert_non_null(now);
		if (now)
			assert_string_not_equal(now, truth);
		if (strcmp(kind, "name-marks") == 0)
			assert_string_equal(verify_name(now, truth), VERIFY_MARKS);
		if (strcmp(kind, "date-swapped") == 0)
			assert_string_equal(verify_date(now, truth), VERIFY_SWAPPED);
		free(now);
		json_decref(o);
		lines++;
	}
	return lines;
}

static void test_seed_defects(void **state)
{
	char a[4096], b[4096], c[4096];
	struct seed_stats sa, sb, sc;
	uint64_t lines = 0, total = 0;
	(void)state;

	make_dir(a, sizeof a);
	make_dir(b, sizeof b);
	make_dir(c, sizeof c);
	seed_into(a, 9, 0.05, &sa);
	seed_into(b, 9, 0.05, &sb);
	seed_into(c, 9, 0, &sc);
	char *ta = slurp(a), *tb = slurp(b), *tc = slurp(c);
	/* Deterministic; clean without --defects. */
	assert_non_null(ta);
	assert_non_null(tb);
	assert_null(tc);
	assert_string_equal(ta, tb);
	for (int k = 0; k < DEFECT_KIND_COUNT; k++) {
		assert_true(sa.defects.count[k] == sb.defects.count[k]);
		total += sa.defects.count[k];
		assert_true(sc.defects.count[k] == 0);
		if (k != DEFECT_WRONG_OWNER) /* few enterprises in a small seed */
			assert_true(sa.defects.count[k] > 0);
	}
	/* Each line describes the spoiled database. */
	lines = check_truth(a, ta);
	assert_true(lines == total);
	free(ta);
	free(tb);
	remove_dir(a);
	remove_dir(b);
	remove_dir(c);
}

/* The same seed with defects into PostgreSQL: the same truth, line for line
 * (records chosen in key order on both engines), each line describing the
 * schemas as spoiled; without a truth file it is refused, nothing made. */
static void test_seed_defects_pg(void **state)
{
	char a[4096], truth[4200];
	struct seed_stats sa, sp;
	uint64_t total = 0;
	(void)state;

	make_dir(a, sizeof a);
	seed_into(a, 9, 0.05, &sa);
	pg_drop_sectors();
	snprintf(truth, sizeof truth, "%s/pg-defects.jsonl", a);
	struct seed_opts o = { .dir = pg_base, .citizens = CITIZENS, .seed = 9,
			       .today = 1764590400 /* 2025-12-01 */, .defects = 0.05 };
	assert_int_equal(seed_run(&o, &sp), NDX_EINVAL); /* no --truth */
	o.truth_path = truth;
	assert_int_equal(seed_run(&o, &sp), NDX_OK);
	char *ta = slurp(a), *tp = slurp_file(truth);
	assert_non_null(ta);
	assert_non_null(tp);
	assert_string_equal(tp, ta);
	for (int k = 0; k < DEFECT_KIND_COUNT; k++) {
		assert_true(sp.defects.count[k] == sa.defects.count[k]);
		total += sp.defects.count[k];
	}
	assert_true(total > 0);
	assert_true(check_truth(pg_base, tp) == total);
	free(ta);
	free(tp);
	unlink(truth);
	remove_dir(a);
	pg_drop_sectors();
}

/* ---- corrections (docs/sectors.md "Correction worklists") -------------------------- */

static long long count_of(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *q = NULL;
	long long n = -1;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
	if (sqlite3_step(q) == SQLITE_ROW)
		n = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	sqlite3_close(db);
	return n;
}

static void exec_on(const char *path, const char *sql)
{
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

#define PART_PIN "070182917807"
#define NAME_IS(n) "SELECT count(*) FROM participants WHERE name = '" n "'"

/* A correction is one transaction: the record, the events it queues and its
 * log row, or nothing (the log refusing the row leaves the record as it
 * was); a refused value changes nothing; the log of an older version gets
 * its events column; a task is corrected once. */
static void test_correction_is_one_transaction(void **state)
{
	const struct sector_def *def = sector_find("insurance");
	char dir[4096], path[4200], newid[64];
	struct store *st = NULL;
	struct store_conn *c;
	json_t *row, *out = NULL;
	sqlite3 *db;
	int added = -1;

	(void)state;
	make_dir(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/insurance.db", dir);
	assert_int_equal(store_open(path, def, 1, 1, &st), NDX_OK);
	c = store_acquire(st);
	db = store_conn_db(c);
	row = json_pack("{ss ss ss ss}", "pin", PART_PIN, "name", "Phan Thi Phuong", "status",
			"retired", "first_period", "2005-01");
	assert_int_equal(store_begin(c), NDX_OK);
	assert_int_equal(outbox_put(c, def, sector_table_find(def, "participants"), NULL, row,
				    NULL, newid, sizeof newid, &added), NDX_OK);
	assert_int_equal(store_commit(c), NDX_OK);
	json_decref(row);
	/* A finished run that found the name spoiled, and the correction log
	 * of an older version (no events column) holding one correction. */
	assert_int_equal(sqlite3_exec(db,
		"CREATE TABLE reconcile_corrections(id INTEGER PRIMARY KEY,"
		" run INTEGER NOT NULL, tbl TEXT NOT NULL, record_key TEXT NOT NULL,"
		" field TEXT NOT NULL, kind TEXT NOT NULL, old_value TEXT, new_value TEXT NOT NULL,"
		" officer TEXT NOT NULL, corrected_at TEXT NOT NULL,"
		" UNIQUE(run, tbl, record_key, field));"
		"INSERT INTO reconcile_corrections(run, tbl, record_key, field, kind, new_value,"
		" officer, corrected_at) VALUES(0, 'participants', 'x', 'name', 'name-marks', 'y',"
		" 'earlier', '2026-01-01T00:00:00Z');"
		"CREATE TABLE reconcile_runs(id INTEGER PRIMARY KEY, started_at TEXT NOT NULL,"
		" finished_at TEXT);"
		"CREATE TABLE reconcile_results(run INTEGER NOT NULL, tbl TEXT NOT NULL,"
		" rid INTEGER NOT NULL, record_key TEXT NOT NULL, pin TEXT, result TEXT NOT NULL,"
		" PRIMARY KEY(run, tbl, rid));"
		"INSERT INTO reconcile_runs VALUES(1, '2026-12-01T00:00:00Z', '2026-12-01T00:01:00Z');"
		"INSERT INTO reconcile_results VALUES(1, 'participants', 1, '" PART_PIN "', '"
		PART_PIN "', '{\"pin\":\"match\",\"full_name\":\"marks\",\"living\":\"match\"}');",
		NULL, NULL, NULL), SQLITE_OK);
	store_release(st, c);
	store_close(st);

	struct reconcile_correction r = {
		.def = def, .db_path = path, .table = "participants", .key = PART_PIN,
		.field = "name", .value = "Phan Thị Phương", .officer = "Nguyễn Thị Lan",
	};
	json_t *wl = NULL;
	assert_int_equal(reconcile_worklist(def, path, &wl), NDX_OK);
	assert_int_equal(json_array_size(json_object_get(wl, "tasks")), 1);
	json_decref(wl);

	/* The log refuses the row (a full disk, say): the record is as it was. */
	exec_on(path, "CREATE TRIGGER no_log BEFORE INSERT ON reconcile_corrections "
		      "BEGIN SELECT RAISE(ABORT, 'disk full'); END");
	assert_int_equal(reconcile_correct(&r, &out), NDX_EDB);
	assert_null(out);
	assert_int_equal(count_of(path, NAME_IS("Phan Thi Phuong")), 1);
	exec_on(path, "DROP TRIGGER no_log");

	/* A value the API refuses: nothing changes. */
	r.value = "A\xe2\x80\xae" "B";
	assert_int_equal(reconcile_correct(&r, &out), NDX_EINVAL);
	assert_int_equal(count_of(path, NAME_IS("Phan Thi Phuong")), 1);
	assert_int_equal(count_of(path, "SELECT count(*) FROM reconcile_corrections"), 1);

	/* Corrected: the record, and its log row naming the events it queued
	 * (a participant's change publishes none, as through the API). */
	r.value = "Phan Thị Phương";
	assert_int_equal(reconcile_correct(&r, &out), NDX_OK);
	assert_non_null(out);
	assert_string_equal(json_string_value(json_object_get(out, "officer")), "Nguyễn Thị Lan");
	assert_true(json_is_array(json_object_get(out, "events")));
	assert_int_equal(json_array_size(json_object_get(out, "events")), 0);
	json_decref(out);
	out = NULL;
	assert_int_equal(count_of(path, NAME_IS("Phan Thị Phương")), 1);
	assert_int_equal(count_of(path, "SELECT count(*) FROM reconcile_corrections WHERE run = 1"
				       " AND officer = 'Nguyễn Thị Lan' AND events = '[]'"
				       " AND old_value = 'Phan Thi Phuong'"), 1);
	assert_int_equal(count_of(path, "SELECT count(*) FROM reconcile_corrections"
				       " WHERE events IS NULL"), 1);
	/* Corrected once. */
	assert_int_equal(reconcile_correct(&r, &out), NDX_ENOTFOUND);
	assert_null(out);

	static const char *const EXT[] = { "", "-wal", "-shm" };
	for (size_t e = 0; e < 3; e++) {
		snprintf(path, sizeof path, "%s/insurance.db%s", dir, EXT[e]);
		unlink(path);
	}
	rmdir(dir);
}

/* Progress tables of an older version (the position a SQLite rowid, table
 * reconcile_cursor): its finished run is kept, the run it left unfinished
 * is dropped with its results, and the position is kept by key after. */
static void test_old_progress_upgraded(void **state)
{
	const struct sector_def *def = sector_find("insurance");
	char dir[4096], path[4200];
	struct store *st = NULL;
	json_t *wl = NULL;

	(void)state;
	make_dir(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/insurance.db", dir);
	assert_int_equal(store_open(path, def, 1, 1, &st), NDX_OK);
	store_close(st);
	exec_on(path,
		"CREATE TABLE reconcile_runs(id INTEGER PRIMARY KEY, started_at TEXT NOT NULL,"
		" finished_at TEXT);"
		"CREATE TABLE reconcile_cursor(run INTEGER NOT NULL, tbl TEXT NOT NULL,"
		" last_rowid INTEGER NOT NULL, PRIMARY KEY(run, tbl));"
		"CREATE TABLE reconcile_results(run INTEGER NOT NULL, tbl TEXT NOT NULL,"
		" rid INTEGER NOT NULL, record_key TEXT NOT NULL, pin TEXT, result TEXT NOT NULL,"
		" PRIMARY KEY(run, tbl, rid));"
		"INSERT INTO reconcile_runs VALUES(1, '2026-12-01T00:00:00Z', '2026-12-01T00:01:00Z'),"
		" (2, '2026-12-02T00:00:00Z', NULL);"
		"INSERT INTO reconcile_results VALUES(1, 'participants', 7, '" PART_PIN "', '"
		PART_PIN "', '{\"pin\":\"match\",\"full_name\":\"marks\",\"living\":\"match\"}'),"
		" (2, 'participants', 7, '" PART_PIN "', '" PART_PIN "', '{\"pin\":\"match\"}');"
		"INSERT INTO reconcile_cursor VALUES(2, 'participants', 7);");
	assert_int_equal(reconcile_worklist(def, path, &wl), NDX_OK);
	assert_int_equal(json_integer_value(json_object_get(wl, "run")), 1);
	assert_int_equal(json_array_size(json_object_get(wl, "tasks")), 1);
	json_decref(wl);
	assert_int_equal(count_of(path, "SELECT count(*) FROM sqlite_master WHERE name ="
				       " 'reconcile_cursor'"), 0);
	assert_int_equal(count_of(path, "SELECT count(*) FROM sqlite_master WHERE name ="
				       " 'reconcile_position'"), 1);
	assert_int_equal(count_of(path, "SELECT count(*) FROM reconcile_runs"), 1);
	assert_int_equal(count_of(path, "SELECT count(*) FROM reconcile_results WHERE run = 1"
				       " AND rid = 7"), 1);
	assert_int_equal(count_of(path, "SELECT count(*) FROM reconcile_results"), 1);

	static const char *const EXT[] = { "", "-wal", "-shm" };
	for (size_t e = 0; e < 3; e++) {
		snprintf(path, sizeof path, "%s/insurance.db%s", dir, EXT[e]);
		unlink(path);
	}
	rmdir(dir);
}

static long long pg_count(const char *sql)
{
	PGconn *c = pg_connect();
	PGresult *r = PQexec(c, sql);
	long long n = -1;

	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
		n = atoll(PQgetvalue(r, 0, 0));
	PQclear(r);
	PQfinish(c);
	return n;
}

#define PG_NAME_IS(n) "SELECT count(*) FROM insurance.participants WHERE name = '" n "'"

/* A correction on PostgreSQL is one transaction too: the log refusing its
 * row leaves the record as it was, a refused value changes nothing, a
 * correction writes the record and its log row, and a task is corrected
 * once. */
static void test_correction_pg(void **state)
{
	const struct sector_def *def = sector_find("insurance");
	struct store *st = NULL;
	struct store_conn *c;
	struct sec_sql s;
	json_t *row, *out = NULL, *wl = NULL;
	char newid[64];
	int added = -1;

	(void)state;
	pg_drop_sectors();
	assert_int_equal(store_open(pg_base, def, 1, 1, &st), NDX_OK);
	c = store_acquire(st);
	row = json_pack("{ss ss ss ss}", "pin", PART_PIN, "name", "Phan Thi Phuong", "status",
			"retired", "first_period", "2005-01");
	assert_int_equal(store_begin(c), NDX_OK);
	assert_int_equal(outbox_put(c, def, sector_table_find(def, "participants"), NULL, row,
				    NULL, newid, sizeof newid, &added), NDX_OK);
	assert_int_equal(store_commit(c), NDX_OK);
	json_decref(row);
	/* A finished run that found the name spoiled. */
	s = sec_sql_of(c, "test");
	assert_int_equal(sec_sql_exec(&s, "INSERT INTO reconcile_runs VALUES(1,"
					  " '2026-12-01T00:00:00Z', '2026-12-01T00:01:00Z')",
				      0, NULL, NULL), NDX_OK);
	assert_int_equal(sec_sql_exec(&s, "INSERT INTO reconcile_results VALUES(1, 'participants', 1,"
					  " '" PART_PIN "', '" PART_PIN "', '{\"pin\":\"match\","
					  "\"full_name\":\"marks\",\"living\":\"match\"}')",
				      0, NULL, NULL), NDX_OK);
	store_release(st, c);
	store_close(st);

	struct reconcile_correction r = {
		.def = def, .db_path = pg_base, .table = "participants", .key = PART_PIN,
		.field = "name", .value = "Phan Thị Phương", .officer = "Nguyễn Thị Lan",
	};
	assert_int_equal(reconcile_worklist(def, pg_base, &wl), NDX_OK);
	assert_int_equal(json_array_size(json_object_get(wl, "tasks")), 1);
	json_decref(wl);

	/* The log refuses the row: the record is as it was. */
	pg_exec("CREATE FUNCTION insurance.no_log() RETURNS trigger LANGUAGE plpgsql AS"
		" $$BEGIN RAISE EXCEPTION 'disk full'; END$$;"
		"CREATE TRIGGER no_log BEFORE INSERT ON insurance.reconcile_corrections"
		" FOR EACH ROW EXECUTE FUNCTION insurance.no_log()");
	assert_int_equal(reconcile_correct(&r, &out), NDX_EDB);
	assert_null(out);
	assert_int_equal(pg_count(PG_NAME_IS("Phan Thi Phuong")), 1);
	pg_exec("DROP TRIGGER no_log ON insurance.reconcile_corrections");

	/* A value the API refuses: nothing changes. */
	r.value = "A\xe2\x80\xae" "B";
	assert_int_equal(reconcile_correct(&r, &out), NDX_EINVAL);
	assert_int_equal(pg_count(PG_NAME_IS("Phan Thi Phuong")), 1);
	assert_int_equal(pg_count("SELECT count(*) FROM insurance.reconcile_corrections"), 0);

	/* Corrected: the record and its log row. */
	r.value = "Phan Thị Phương";
	assert_int_equal(reconcile_correct(&r, &out), NDX_OK);
	assert_non_null(out);
	assert_int_equal(json_array_size(json_object_get(out, "events")), 0);
	json_decref(out);
	out = NULL;
	assert_int_equal(pg_count(PG_NAME_IS("Phan Thị Phương")), 1);
	assert_int_equal(pg_count("SELECT count(*) FROM insurance.reconcile_corrections WHERE"
				  " run = 1 AND officer = 'Nguyễn Thị Lan' AND events = '[]'"
				  " AND old_value = 'Phan Thi Phuong'"), 1);
	/* Corrected once. */
	assert_int_equal(reconcile_correct(&r, &out), NDX_ENOTFOUND);
	assert_null(out);
	pg_drop_sectors();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_strip),
		cmocka_unit_test(test_name_wrong),
		cmocka_unit_test(test_name_cap),
		cmocka_unit_test(test_swap_date),
		cmocka_unit_test(test_verify_rules),
		cmocka_unit_test(test_findings),
		cmocka_unit_test(test_measures),
		cmocka_unit_test(test_openapi_verify),
		cmocka_unit_test(test_seed_defects),
		cmocka_unit_test(test_correction_is_one_transaction),
		cmocka_unit_test(test_old_progress_upgraded),
	};
	const struct CMUnitTest pg_tests[] = {
		cmocka_unit_test(test_seed_defects_pg),
		cmocka_unit_test(test_correction_pg),
	};
	const char *engine = getenv("NDX_TEST_ENGINE");

	if (engine && strcmp(engine, "pg") == 0) {
		pg_base = getenv("NDX_TEST_PG");
		if (!pg_base || !*pg_base) {
			printf("NDX_TEST_PG is not set: the PostgreSQL run of the reconciliation's"
			       " tests is skipped (run it with make test-pg, which starts a server)\n");
			return 77;
		}
		return cmocka_run_group_tests_name("sector_reconcile_pg", pg_tests, NULL, NULL);
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
