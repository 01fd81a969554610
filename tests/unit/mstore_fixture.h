/* A fresh monitor.db (src/monitor/mstore.c) for one cmocka test, in
 * $NDX_TEST_TMP (else /tmp), removed with its WAL files afterwards: the
 * store's own tests and the misuse cases' tests start from the same. */
#ifndef NDX_TEST_MSTORE_FIXTURE_H
#define NDX_TEST_MSTORE_FIXTURE_H

#include "mstore.h"

struct fx {
	char path[512];
	struct mstore *st;
};

/* Opens a new store named after prefix and the process; *state the fx. */
int mstore_fixture_setup(void **state, const char *prefix);
int mstore_fixture_teardown(void **state);

#endif
