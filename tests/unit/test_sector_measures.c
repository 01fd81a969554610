/* Unit tests for the four measures read (src/sector/sec_measures.c,
 * docs/sectors.md "The four measures"): on a tax database made by the real
 * store and reconciliation tables, GET /measures's answer counts each
 * finished run's records per table as the report does (accurate,
 * sufficient, clean, live, with their shares), leaves out a run not
 * finished, pages with after and limit, names no record or number, and
 * gives no runs for a registry never reconciled (on SQLite without making
 * its tables); every sector's OpenAPI document describes it. The same
 * cases run on PostgreSQL with NDX_TEST_ENGINE=pg (the meson suite pg):
 * the tax schema of the database NDX_TEST_PG, dropped before each case;
 * without NDX_TEST_PG that run is skipped (exit 77). */
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
#include <sqlite3.h>

#include "ndx/err.h"
#include "pg_exec.h"
#include "openapi.h"
#include "sec_measures.h"
#include "sec_reconcile.h"
#include "sec_sql.h"
#include "store.h"

static const char *pg_base; /* NDX_TEST_PG in the pg run, else NULL */

struct fx {
	char path[600];
	const struct sector_def *def;
	struct store *st;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	const char *dir = getenv("NDX_TEST_TMP");
	char side[700];

	if (pg_base) {
		test_pg_exec(pg_base, "DROP SCHEMA IF EXISTS tax CASCADE");
		snprintf(f->path, sizeof f->path, "%s", pg_base);
	} else {
		snprintf(f->path, sizeof f->path, "%s/test_measures_%d.db", dir ? dir : "/tmp",
			 getpid());
	}
	unlink(f->path);
	snprintf(side, sizeof side, "%s-wal", f->path);
	unlink(side);
	f->def = sector_find("tax");
	assert_non_null(f->def);
	assert_int_equal(store_open(f->path, f->def, 1, 1, &f->st), NDX_OK);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char side[700];

	store_close(f->st);
	unlink(f->path);
	snprintf(side, sizeof side, "%s-wal", f->path);
	unlink(side);
	snprintf(side, sizeof side, "%s-shm", f->path);
	unlink(side);
	free(f);
	return 0;
}

static void exec_ok(const struct sec_sql *s, const char *sql)
{
	if (sec_sql_exec(s, sql, 0, NULL, NULL) != NDX_OK)
		fail_msg("%s", sql);
}

/* One stored answer of run about taxpayer rid (the table the tax
 * registry reconciles: number, name, address, living). */
static void result(const struct sec_sql *s, int run, int rid, const char *pin, const char *answer)
{
	char sql[1024];

	snprintf(sql, sizeof sql,
		 "INSERT INTO reconcile_results(run, tbl, rid, record_key, pin, result) VALUES("
		 "%d, 'taxpayers', %d, 'K%d', %s, '%s')",
		 run, rid, rid, pin, answer);
	exec_ok(s, sql);
}

#define GOOD "{\"pin\":\"match\",\"full_name\":\"match\",\"address\":\"match\",\"living\":\"match\"}"

static void write_runs(struct fx *f)
{
	struct store_conn *c = store_acquire(f->st);
	struct sec_sql s = sec_sql_of(c, "test");
	const struct sec_sql *db = &s;

	assert_int_equal(reconcile_tables(db), NDX_OK);
	exec_ok(db, "INSERT INTO reconcile_runs(id, started_at, finished_at) VALUES"
		    "(1, '2026-08-01T01:00:00Z', '2026-08-01T01:05:00Z'),"
		    "(2, '2026-09-01T01:00:00Z', '2026-09-01T01:04:00Z'),"
		    "(3, '2026-10-01T01:00:00Z', NULL)");
	/* run 1: four records. 1 agrees everywhere; 2 has the name without
	 * its marks and a stale address (not accurate, not live); 3 has a
	 * number nobody holds (not clean); 4 has no number (not sufficient,
	 * not clean). */
	result(db, 1, 1, "'001190000001'", GOOD);
	result(db, 1, 2, "'001190000002'",
	       "{\"pin\":\"match\",\"full_name\":\"marks\",\"address\":\"differs\",\"living\":\"match\"}");
	result(db, 1, 3, "'001190000003'", "{\"pin\":\"unknown\",\"full_name\":\"match\",\"address\":\"match\",\"living\":\"match\"}");
	result(db, 1, 4, "NULL", "{\"full_name\":\"match\",\"address\":\"match\",\"living\":\"match\"}");
	/* run 2: the same four after corrections, all agreeing but one dead
	 * person's record still active */
	for (int i = 1; i <= 3; i++)
		result(db, 2, i, "'001190000001'", GOOD);
	result(db, 2, 4, "'001190000004'",
	       "{\"pin\":\"match\",\"full_name\":\"match\",\"address\":\"match\",\"living\":\"differs\"}");
	/* run 3 is in flight: never shown */
	result(db, 3, 1, "'001190000001'", GOOD);
	store_release(f->st, c);
}

static json_int_t count_of(const json_t *table, const char *measure)
{
	return json_integer_value(json_object_get(json_object_get(table, measure), "records"));
}

static double share_of(const json_t *table, const char *measure)
{
	return json_number_value(json_object_get(json_object_get(table, measure), "share"));
}

static void test_measures_of_finished_runs(void **state)
{
	struct fx *f = *state;
	struct store_conn *c;
	struct sec_sql s;
	json_t *doc;
	const json_t *runs, *t;
	char *text;

	write_runs(f);
	c = store_acquire(f->st);
	s = sec_sql_of(c, "test");
	assert_int_equal(measures_build(f->def, &s, 0, 10, &doc), NDX_OK);
	assert_string_equal(json_string_value(json_object_get(doc, "sector")), "tax");
	assert_string_equal(json_string_value(json_object_get(doc, "agency")), "VN/GOV/TCT");
	runs = json_object_get(doc, "runs");
	assert_int_equal(json_array_size(runs), 2); /* run 3 is not finished */
	assert_int_equal(json_integer_value(json_object_get(doc, "next_after")), 2);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(runs, 0), "run")), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(runs, 0),
							      "finished_at")),
			    "2026-08-01T01:05:00Z");
	t = json_array_get(json_object_get(json_array_get(runs, 0), "tables"), 0);
	assert_string_equal(json_string_value(json_object_get(t, "table")), "taxpayers");
	assert_int_equal(json_integer_value(json_object_get(t, "records")), 4);
	assert_int_equal(count_of(t, "accurate"), 3);
	assert_int_equal(count_of(t, "sufficient"), 3);
	assert_int_equal(count_of(t, "clean"), 2);
	assert_int_equal(count_of(t, "live"), 3);
	assert_true(share_of(t, "clean") == 0.5);
	assert_true(share_of(t, "accurate") == 0.75);
	t = json_array_get(json_object_get(json_array_get(runs, 1), "tables"), 0);
	assert_int_equal(count_of(t, "accurate"), 4);
	assert_int_equal(count_of(t, "clean"), 4);
	assert_int_equal(count_of(t, "live"), 3);
	/* counts only: no key, number or name of anyone */
	text = json_dumps(doc, JSON_COMPACT);
	assert_null(strstr(text, "001190000"));
	assert_null(strstr(text, "\"K1\""));
	free(text);
	json_decref(doc);
	/* paging: after run 1, one at a time */
	assert_int_equal(measures_build(f->def, &s, 1, 1, &doc), NDX_OK);
	runs = json_object_get(doc, "runs");
	assert_int_equal(json_array_size(runs), 1);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(runs, 0), "run")), 2);
	json_decref(doc);
	assert_int_equal(measures_build(f->def, &s, 2, 10, &doc), NDX_OK);
	assert_int_equal(json_array_size(json_object_get(doc, "runs")), 0);
	assert_int_equal(json_integer_value(json_object_get(doc, "next_after")), 2);
	json_decref(doc);
	store_release(f->st, c);
}

static void test_never_reconciled(void **state)
{
	struct fx *f = *state;
	struct store_conn *c = store_acquire(f->st);
	struct sec_sql s = sec_sql_of(c, "test");
	sqlite3_stmt *q;
	json_t *doc;

	assert_int_equal(measures_build(f->def, &s, 0, 10, &doc), NDX_OK);
	assert_int_equal(json_array_size(json_object_get(doc, "runs")), 0);
	json_decref(doc);
	/* the read made no table (PostgreSQL's come with the schema) */
	if (pg_base) {
		store_release(f->st, c);
		return;
	}
	assert_int_equal(sqlite3_prepare_v2(store_conn_db(c),
					    "SELECT 1 FROM sqlite_master WHERE name = 'reconcile_runs'",
					    -1, &q, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_DONE);
	sqlite3_finalize(q);
	store_release(f->st, c);
}

static void test_openapi_describes_measures(void **state)
{
	(void)state;
	for (size_t i = 0; sector_at(i); i++) {
		json_t *doc = openapi_build(sector_at(i));
		const json_t *get = json_object_get(
			json_object_get(json_object_get(doc, "paths"), "/measures"), "get");

		assert_non_null(get);
		assert_string_equal(json_string_value(json_object_get(get, "operationId")),
				    "measures");
		assert_int_equal(json_array_size(json_object_get(get, "parameters")), 2);
		json_decref(doc);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_measures_of_finished_runs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_never_reconciled, setup, teardown),
		cmocka_unit_test(test_openapi_describes_measures),
	};
	const char *engine = getenv("NDX_TEST_ENGINE");

	if (engine && strcmp(engine, "pg") == 0) {
		pg_base = getenv("NDX_TEST_PG");
		if (!pg_base || !*pg_base) {
			printf("NDX_TEST_PG is not set: the PostgreSQL run of the measures' tests is"
			       " skipped (run it with make test-pg, which starts a server)\n");
			return 77;
		}
		return cmocka_run_group_tests_name("sector_measures_pg", tests, NULL, NULL);
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
