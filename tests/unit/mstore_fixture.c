/* mstore_fixture.h */
#include "mstore_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

#include "ndx/err.h"

int mstore_fixture_setup(void **state, const char *prefix)
{
	struct fx *f = calloc(1, sizeof *f);
	const char *dir = getenv("NDX_TEST_TMP");

	assert_non_null(f);
	snprintf(f->path, sizeof f->path, "%s/%s_%d.db", dir ? dir : "/tmp", prefix, getpid());
	unlink(f->path);
	assert_int_equal(mstore_open(f->path, true, &f->st), NDX_OK);
	*state = f;
	return 0;
}

int mstore_fixture_teardown(void **state)
{
	struct fx *f = *state;
	char side[600];

	mstore_close(f->st);
	unlink(f->path);
	snprintf(side, sizeof side, "%s-wal", f->path);
	unlink(side);
	snprintf(side, sizeof side, "%s-shm", f->path);
	unlink(side);
	free(f);
	return 0;
}
