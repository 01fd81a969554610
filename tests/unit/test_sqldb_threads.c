/* Threads sharing one ndx/sqldb.h handle (include/ndx/sqldb.h "Threads",
 * src/lib/sqldb_turn.h), on SQLite (suite unit) and on PostgreSQL (suite
 * pg, a schema of NDX_TEST_PG each; skipped without it). The registry on
 * PostgreSQL read a negotiation back after its commit while another
 * thread's request was inside a statement on the same connection: libpq
 * took the two conversations for one, and both threads waited for an
 * answer forever (make test-pg, 2026-12-06). Here one thread's
 * transactions, committed and rolled back by turns, run beside threads
 * that read and write outside any transaction:
 * - a reader never sees a row of a transaction not yet committed;
 * - a write outside every transaction is never undone by another
 *   thread's rollback;
 * - no statement fails, and every thread ends;
 * - while a thread's transaction or snapshot is open, another thread's
 *   statement waits for it to end;
 * - a commit that fails (a statement in the transaction failed, on
 *   PostgreSQL) ends the transaction, so the other threads go on. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ndx/err.h"
#include "ndx/sqldb.h"
#include "pg_exec.h"

static const char *const MIGRATIONS[] = {
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE changes(id INTEGER PRIMARY KEY, state TEXT NOT NULL);"
	"CREATE TABLE outside(id INTEGER PRIMARY KEY, n INTEGER NOT NULL)",
};

static const char *const PG_SCHEMA[] = {
	"CREATE TABLE IF NOT EXISTS meta(key text PRIMARY KEY, value text NOT NULL);"
	"CREATE TABLE changes(id bigint PRIMARY KEY, state text NOT NULL);"
	"CREATE TABLE outside(id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	" n bigint NOT NULL);"
	"INSERT INTO meta(key, value) VALUES('pg_schema', '1');",
};

static const struct ndx_sqldb_desc DESC = {
	.prog = "test_sqldb_threads",
	.what = "test database",
	.init_key = "init",
	.migrations = MIGRATIONS,
	.n_migrations = 1,
	.pg_schema = PG_SCHEMA,
	.n_pg_schema = 1,
};

/* Transactions of the writer; odd ones are rolled back. */
#define ROUNDS 120
/* Single statements of the thread writing outside transactions. */
#define OUTSIDE 120

static const char *pg_base; /* NDX_TEST_PG in the pg run */
static int opened;

struct fx {
	char loc[1100];
	char schema[64];
	struct ndx_sqldb *db;
	atomic_bool writer_done;
	atomic_int failures;    /* statements that failed */
	atomic_int uncommitted; /* rows of an open transaction a reader saw */
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	const char *dir = getenv("NDX_TEST_TMP");

	assert_non_null(f);
	opened++;
	if (pg_base) {
		char stmt[120];

		snprintf(f->schema, sizeof f->schema, "sqldb_threads_%d_%d", (int)getpid(), opened);
		snprintf(stmt, sizeof stmt, "CREATE SCHEMA %s", f->schema);
		test_pg_exec(pg_base, stmt);
		snprintf(f->loc, sizeof f->loc, "%s%coptions=-csearch_path%%3D%s", pg_base,
			 strchr(pg_base, '?') ? '&' : '?', f->schema);
	} else {
		snprintf(f->loc, sizeof f->loc, "%s/sqldb_threads_%d_%d.db", dir ? dir : "/tmp",
			 (int)getpid(), opened);
		unlink(f->loc);
	}
	assert_int_equal(ndx_sqldb_open(&DESC, f->loc, true, &f->db), NDX_OK);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char side[1200];

	f->db->ops->close(f->db);
	if (pg_base) {
		snprintf(side, sizeof side, "DROP SCHEMA %s CASCADE", f->schema);
		test_pg_exec(pg_base, side);
	} else {
		unlink(f->loc);
		snprintf(side, sizeof side, "%s-wal", f->loc);
		unlink(side);
		snprintf(side, sizeof side, "%s-shm", f->loc);
		unlink(side);
	}
	free(f);
	return 0;
}

static int64_t count(struct ndx_sqldb *db, const char *sql)
{
	json_t *row = NULL;
	int64_t n;

	assert_int_equal(ndx_sqldb_query_one(db, &row, sql, ""), NDX_OK);
	n = ndx_sqldb_int(row, "n");
	json_decref(row);
	return n;
}

static void pause_us(long us)
{
	struct timespec ts = { 0, us * 1000 };

	nanosleep(&ts, NULL);
}

/* Each round: a row written as 'open', a pause with it uncommitted, then
 * committed as 'committed' or rolled back. */
static void *writer(void *arg)
{
	struct fx *f = arg;

	for (int i = 0; i < ROUNDS; i++) {
		if (f->db->ops->begin(f->db) ||
		    ndx_sqldb_exec(f->db, "INSERT INTO changes(id, state) VALUES(?, 'open')", "i",
				   (int64_t)i)) {
			atomic_fetch_add(&f->failures, 1);
			f->db->ops->rollback(f->db);
			continue;
		}
		pause_us(300);
		if (i % 2) {
			f->db->ops->rollback(f->db);
			continue;
		}
		if (ndx_sqldb_exec(f->db, "UPDATE changes SET state = 'committed' WHERE id = ?", "i",
				   (int64_t)i) ||
		    f->db->ops->commit(f->db))
			atomic_fetch_add(&f->failures, 1);
	}
	atomic_store(&f->writer_done, true);
	return NULL;
}

static void *reader(void *arg)
{
	struct fx *f = arg;

	while (!atomic_load(&f->writer_done)) {
		json_t *row = NULL;

		if (ndx_sqldb_query_one(f->db, &row,
					"SELECT count(*) AS n FROM changes WHERE state = 'open'", "")) {
			atomic_fetch_add(&f->failures, 1);
			continue;
		}
		atomic_fetch_add(&f->uncommitted, (int)ndx_sqldb_int(row, "n"));
		json_decref(row);
		/* A pause, so that the readers do not starve the writer of the
		 * turn under valgrind, which runs one thread at a time. */
		pause_us(100);
	}
	return NULL;
}

static void *outside_writer(void *arg)
{
	struct fx *f = arg;

	for (int i = 0; i < OUTSIDE; i++) {
		if (ndx_sqldb_exec(f->db, "INSERT INTO outside(n) VALUES(?)", "i", (int64_t)i))
			atomic_fetch_add(&f->failures, 1);
		pause_us(200);
	}
	return NULL;
}

static void test_statements_outside_keep_out_of_a_transaction(void **state)
{
	struct fx *f = *state;
	pthread_t w, r1, r2, o;

	assert_int_equal(pthread_create(&w, NULL, writer, f), 0);
	assert_int_equal(pthread_create(&r1, NULL, reader, f), 0);
	assert_int_equal(pthread_create(&r2, NULL, reader, f), 0);
	assert_int_equal(pthread_create(&o, NULL, outside_writer, f), 0);
	pthread_join(w, NULL);
	pthread_join(r1, NULL);
	pthread_join(r2, NULL);
	pthread_join(o, NULL);

	assert_int_equal(atomic_load(&f->failures), 0);
	assert_int_equal(atomic_load(&f->uncommitted), 0);
	/* The even rounds, committed; nothing of the odd ones. */
	assert_int_equal(count(f->db, "SELECT count(*) AS n FROM changes"), ROUNDS / 2);
	assert_int_equal(count(f->db, "SELECT count(*) AS n FROM changes"
				      " WHERE state = 'committed' AND id % 2 = 0"),
			 ROUNDS / 2);
	/* Every write outside a transaction, though half the writer's
	 * transactions were rolled back meanwhile. */
	assert_int_equal(count(f->db, "SELECT count(*) AS n FROM outside"), OUTSIDE);
}

struct waiter {
	struct ndx_sqldb *db;
	atomic_bool done;
	int rc;
};

static void *insert_outside(void *arg)
{
	struct waiter *w = arg;

	w->rc = ndx_sqldb_exec(w->db, "INSERT INTO outside(n) VALUES(7)", "");
	atomic_store(&w->done, true);
	return NULL;
}

/* begin or snapshot held by this thread: another thread's insert returns
 * only after it ends. */
static void held_then_ended(struct fx *f, int (*open_txn)(struct ndx_sqldb *))
{
	struct waiter w = { .db = f->db };
	pthread_t t;

	assert_int_equal(open_txn(f->db), NDX_OK);
	assert_int_equal(count(f->db, "SELECT count(*) AS n FROM outside"), 0);
	assert_int_equal(pthread_create(&t, NULL, insert_outside, &w), 0);
	pause_us(100 * 1000);
	/* Not a speed: while the transaction is open the insert cannot have
	 * returned, however long the pause. */
	assert_false(atomic_load(&w.done));
	assert_int_equal(count(f->db, "SELECT count(*) AS n FROM outside"), 0);
	f->db->ops->rollback(f->db);
	pthread_join(t, NULL);
	assert_true(atomic_load(&w.done));
	assert_int_equal(w.rc, NDX_OK);
	assert_int_equal(count(f->db, "SELECT count(*) AS n FROM outside"), 1);
}

static void test_another_thread_waits_for_a_write_transaction(void **state)
{
	struct fx *f = *state;

	held_then_ended(f, f->db->ops->begin);
}

static void test_another_thread_waits_for_a_snapshot(void **state)
{
	struct fx *f = *state;

	held_then_ended(f, f->db->ops->snapshot);
}

/* On PostgreSQL a failed statement spoils the transaction and its COMMIT
 * fails; the transaction ends there, and another thread goes on without
 * this one rolling back. On SQLite the failed statement leaves the
 * transaction good and it commits. */
static void test_a_failed_commit_ends_the_transaction(void **state)
{
	struct fx *f = *state;
	struct waiter w = { .db = f->db };
	pthread_t t;

	assert_int_equal(f->db->ops->begin(f->db), NDX_OK);
	assert_int_equal(ndx_sqldb_exec(f->db, "INSERT INTO changes(id, state) VALUES(1, 'a')", ""),
			 NDX_OK);
	assert_int_equal(ndx_sqldb_exec(f->db, "INSERT INTO changes(id, state) VALUES(1, 'b')", ""),
			 NDX_EEXIST);
	assert_int_equal(f->db->ops->commit(f->db), pg_base ? NDX_EDB : NDX_OK);
	assert_int_equal(pthread_create(&t, NULL, insert_outside, &w), 0);
	pthread_join(t, NULL);
	assert_int_equal(w.rc, NDX_OK);
	assert_int_equal(count(f->db, "SELECT count(*) AS n FROM changes"), pg_base ? 0 : 1);
	/* The caller's rollback after a commit does nothing more. */
	f->db->ops->rollback(f->db);
	assert_int_equal(count(f->db, "SELECT count(*) AS n FROM outside"), 1);
}

int main(void)
{
	const char *engine = getenv("NDX_TEST_ENGINE");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_statements_outside_keep_out_of_a_transaction,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_another_thread_waits_for_a_write_transaction,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_another_thread_waits_for_a_snapshot, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_a_failed_commit_ends_the_transaction, setup,
						teardown),
	};

	if (engine && strcmp(engine, "pg") == 0) {
		pg_base = getenv("NDX_TEST_PG");
		if (!pg_base || !pg_base[0]) {
			printf("NDX_TEST_PG is not set: the PostgreSQL run of the shared handle's "
			       "tests is skipped (run it with make test-pg, which starts a server)\n");
			return 77;
		}
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
