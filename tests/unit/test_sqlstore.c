/* Unit tests for include/ndx/sqlstore.h's multi-row statements
 * (ndx_sqlstore_prepare_rows): the rows of one statement land as the rows
 * they were bound as, and a statement over the connection's limit of
 * parameters is refused with SQLITE_RANGE rather than prepared short. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "ndx/sqlstore.h"

static sqlite3 *memory_db(void)
{
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
				      "CREATE TABLE t(n INTEGER PRIMARY KEY AUTOINCREMENT,"
				      " a INTEGER NOT NULL, b TEXT, c BLOB)",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	return db;
}

/* Five rows of three columns through one statement, twice: each row keeps
 * its own values, NULLs included, and the AUTOINCREMENT key counts on. */
static void rows_land_as_bound(void **state)
{
	sqlite3 *db = memory_db();
	sqlite3_stmt *ins = NULL, *sel = NULL;
	char text[16];
	int n = 0;
	(void)state;

	assert_int_equal(ndx_sqlstore_prepare_rows(db, "INSERT INTO t(a, b, c) VALUES", 3, 5, &ins),
			 SQLITE_OK);
	assert_int_equal(sqlite3_bind_parameter_count(ins), 15);
	for (int round = 0; round < 2; round++) {
		for (int r = 0; r < 5; r++) {
			int v = round * 5 + r;

			snprintf(text, sizeof text, "row %d", v);
			sqlite3_bind_int(ins, 3 * r + 1, v * 10);
			if (v % 3 == 0)
				sqlite3_bind_null(ins, 3 * r + 2);
			else
				sqlite3_bind_text(ins, 3 * r + 2, text, -1, SQLITE_TRANSIENT);
			sqlite3_bind_blob(ins, 3 * r + 3, &v, sizeof v, SQLITE_TRANSIENT);
		}
		assert_int_equal(sqlite3_step(ins), SQLITE_DONE);
		assert_int_equal(sqlite3_reset(ins), SQLITE_OK);
	}
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT n, a, b, c FROM t ORDER BY n", -1, &sel,
					    NULL),
			 SQLITE_OK);
	while (sqlite3_step(sel) == SQLITE_ROW) {
		int v;

		assert_int_equal(sqlite3_column_int(sel, 0), n + 1);
		assert_int_equal(sqlite3_column_int(sel, 1), n * 10);
		if (n % 3 == 0) {
			assert_int_equal(sqlite3_column_type(sel, 2), SQLITE_NULL);
		} else {
			snprintf(text, sizeof text, "row %d", n);
			assert_string_equal((const char *)sqlite3_column_text(sel, 2), text);
		}
		assert_int_equal(sqlite3_column_bytes(sel, 3), (int)sizeof v);
		memcpy(&v, sqlite3_column_blob(sel, 3), sizeof v);
		assert_int_equal(v, n);
		n++;
	}
	assert_int_equal(n, 10);
	sqlite3_finalize(sel);
	sqlite3_finalize(ins);
	sqlite3_close(db);
}

/* With the limit of parameters at 10: 3 rows of 3 fit, 4 rows do not and
 * are refused with *out NULL; no rows or no columns are refused too. */
static void over_the_parameter_limit_is_refused(void **state)
{
	sqlite3 *db = memory_db();
	sqlite3_stmt *st = (sqlite3_stmt *)&st;
	(void)state;

	sqlite3_limit(db, SQLITE_LIMIT_VARIABLE_NUMBER, 10);
	assert_int_equal(ndx_sqlstore_prepare_rows(db, "INSERT INTO t(a, b, c) VALUES", 3, 3, &st),
			 SQLITE_OK);
	assert_non_null(st);
	sqlite3_finalize(st);
	st = (sqlite3_stmt *)&st;
	assert_int_equal(ndx_sqlstore_prepare_rows(db, "INSERT INTO t(a, b, c) VALUES", 3, 4, &st),
			 SQLITE_RANGE);
	assert_null(st);
	assert_int_equal(ndx_sqlstore_prepare_rows(db, "INSERT INTO t(a, b, c) VALUES", 3, 0, &st),
			 SQLITE_RANGE);
	assert_int_equal(ndx_sqlstore_prepare_rows(db, "INSERT INTO t(a) VALUES", 0, 2, &st),
			 SQLITE_RANGE);
	sqlite3_close(db);
}

/* A head naming columns that are not there: SQLite's own error, *out NULL. */
static void a_bad_head_is_sqlites_error(void **state)
{
	sqlite3 *db = memory_db();
	sqlite3_stmt *st = (sqlite3_stmt *)&st;
	(void)state;

	assert_int_equal(ndx_sqlstore_prepare_rows(db, "INSERT INTO t(a, nope) VALUES", 2, 2, &st),
			 SQLITE_ERROR);
	assert_null(st);
	/* columns that do not match the head's list */
	assert_int_equal(ndx_sqlstore_prepare_rows(db, "INSERT INTO t(a, b) VALUES", 3, 2, &st),
			 SQLITE_ERROR);
	assert_null(st);
	sqlite3_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rows_land_as_bound),
		cmocka_unit_test(over_the_parameter_limit_is_refused),
		cmocka_unit_test(a_bad_head_is_sqlites_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
