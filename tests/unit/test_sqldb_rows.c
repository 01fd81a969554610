/* A row's columns as the stores read them (ndx_sqldb_int,
 * ndx_sqldb_is_null), on rows a real SQLite database returned through
 * ndx/sqldb.h, and on the numeric text PostgreSQL's sum() of bigint gives. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "ndx/err.h"
#include "ndx/sqldb.h"

static const char *const MIGRATIONS[] = {
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE t(id INTEGER PRIMARY KEY, n INTEGER, label TEXT)",
};

static const struct ndx_sqldb_desc DESC = {
	.prog = "test_sqldb_rows",
	.what = "test",
	.init_key = "init",
	.migrations = MIGRATIONS,
	.n_migrations = 1,
};

static void test_columns_of_sqlite_rows(void **state)
{
	char path[512];
	struct ndx_sqldb *db = NULL;
	json_t *row = NULL;
	const char *tmp = getenv("NDX_TEST_TMP");

	(void)state;
	snprintf(path, sizeof path, "%s/sqldb_rows_%d.db", tmp ? tmp : "/tmp", (int)getpid());
	unlink(path);
	assert_int_equal(ndx_sqldb_sqlite_open(&DESC, path, true, &db), NDX_OK);
	assert_int_equal(ndx_sqldb_exec(db, "INSERT INTO t(id, n, label) VALUES (?, ?, ?)", "iis",
					(int64_t)1, (int64_t)9007199254740993LL, "x"),
			 NDX_OK);
	assert_int_equal(ndx_sqldb_exec(db, "INSERT INTO t(id, n, label) VALUES (2, NULL, NULL)",
					""),
			 NDX_OK);

	assert_int_equal(ndx_sqldb_query_one(db, &row, "SELECT n, label FROM t WHERE id = 1", ""),
			 NDX_OK);
	/* beyond a double's 2^53, so an integer all the way */
	assert_true(ndx_sqldb_int(row, "n") == 9007199254740993LL);
	assert_false(ndx_sqldb_is_null(row, "n"));
	json_decref(row);

	assert_int_equal(ndx_sqldb_query_one(db, &row, "SELECT n, label FROM t WHERE id = 2", ""),
			 NDX_OK);
	assert_true(ndx_sqldb_is_null(row, "n"));
	assert_int_equal(ndx_sqldb_int(row, "n"), 0);
	assert_true(ndx_sqldb_is_null(row, "absent"));
	assert_int_equal(ndx_sqldb_int(row, "absent"), 0);
	json_decref(row);

	assert_int_equal(ndx_sqldb_query_one(db, &row, "SELECT sum(n) AS s FROM t", ""), NDX_OK);
	assert_true(ndx_sqldb_int(row, "s") == 9007199254740993LL);
	json_decref(row);

	db->ops->close(db);
	unlink(path);
}

/* PostgreSQL's sum() and avg() of bigint are numeric, which libpq gives as
 * text: the value a store reads must be the same as on SQLite. */
static void test_numeric_text(void **state)
{
	json_t *row = json_pack("{sssssssb}", "sum", "12345678901", "neg", "-7", "word", "many",
				"flag", 1);

	(void)state;
	assert_true(ndx_sqldb_int(row, "sum") == 12345678901LL);
	assert_int_equal(ndx_sqldb_int(row, "neg"), -7);
	assert_int_equal(ndx_sqldb_int(row, "word"), 0);
	/* a boolean is not an integer column */
	assert_int_equal(ndx_sqldb_int(row, "flag"), 0);
	json_decref(row);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_columns_of_sqlite_rows),
		cmocka_unit_test(test_numeric_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
