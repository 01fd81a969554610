/* mstore_fixture.h */
#include "mstore_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ndx/err.h"
#include "pg_exec.h"

static const char *pg_base; /* NDX_TEST_PG in the pg run */
static int cases;

int mstore_fixture_engine(bool *pg)
{
	const char *engine = getenv("NDX_TEST_ENGINE");

	*pg = engine && strcmp(engine, "pg") == 0;
	if (!*pg)
		return -1;
	pg_base = getenv("NDX_TEST_PG");
	if (!pg_base || !pg_base[0]) {
		printf("NDX_TEST_PG is not set: the PostgreSQL run of the monitor store's tests is"
		       " skipped (run it with make test-pg, which starts a server)\n");
		return 77;
	}
	return -1;
}

void mstore_fixture_pg_exec(const char *stmt)
{
	test_pg_exec(pg_base, stmt);
}

void mstore_fixture_loc(const char *prefix, char *out, size_t cap)
{
	const char *dir = getenv("NDX_TEST_TMP");

	cases++;
	if (pg_base) {
		char stmt[200];

		snprintf(stmt, sizeof stmt, "CREATE SCHEMA %s_%d_%d", prefix, (int)getpid(), cases);
		mstore_fixture_pg_exec(stmt);
		snprintf(out, cap, "%s%coptions=-csearch_path%%3D%s_%d_%d", pg_base,
			 strchr(pg_base, '?') ? '&' : '?', prefix, (int)getpid(), cases);
		return;
	}
	snprintf(out, cap, "%s/%s_%d_%d.db", dir ? dir : "/tmp", prefix, (int)getpid(), cases);
	unlink(out);
}

int mstore_fixture_setup(void **state, const char *prefix)
{
	struct fx *f = calloc(1, sizeof *f);

	assert_non_null(f);
	mstore_fixture_loc(prefix, f->path, sizeof f->path);
	assert_int_equal(mstore_open(f->path, true, &f->st), NDX_OK);
	*state = f;
	return 0;
}

int mstore_fixture_teardown(void **state)
{
	struct fx *f = *state;
	char side[1100];

	mstore_close(f->st);
	if (!pg_base) {
		unlink(f->path);
		snprintf(side, sizeof side, "%s-wal", f->path);
		unlink(side);
		snprintf(side, sizeof side, "%s-shm", f->path);
		unlink(side);
	}
	free(f);
	return 0;
}
