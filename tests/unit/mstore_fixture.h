/* A fresh monitor store (src/monitor/mstore.c) for one cmocka test: a
 * monitor.db in $NDX_TEST_TMP (else /tmp), removed with its WAL files
 * afterwards, or with NDX_TEST_ENGINE=pg (the meson suite pg) a schema of
 * its own in the PostgreSQL database NDX_TEST_PG (tests/with-postgres
 * starts one): the store's own tests and the misuse cases' tests start
 * from the same on either engine. */
#ifndef NDX_TEST_MSTORE_FIXTURE_H
#define NDX_TEST_MSTORE_FIXTURE_H

#include <stdbool.h>

#include "mstore.h"

struct fx {
	char path[1024]; /* the file, or the connection string */
	struct mstore *st;
};

/* For main: 77 (meson: skipped, with a line saying why) when the pg run
 * has no server, else -1 with *pg telling the engine of the run. */
int mstore_fixture_engine(bool *pg);

/* A new location of the run's engine into out (a schema made for it). */
void mstore_fixture_loc(const char *prefix, char *out, size_t cap);

/* Opens a new store named after prefix and the process; *state the fx. */
int mstore_fixture_setup(void **state, const char *prefix);
int mstore_fixture_teardown(void **state);

/* Runs a statement on the PostgreSQL database NDX_TEST_PG (pg run only). */
void mstore_fixture_pg_exec(const char *stmt);

#endif
