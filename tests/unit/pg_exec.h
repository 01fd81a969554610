/* One statement on a connection of its own to the PostgreSQL test server
 * (tests/with-postgres): a test's schema made or dropped outside the store
 * under test. A failure fails the test. Included after cmocka.h by the
 * stores' tests that run on both engines. */
#ifndef NDX_TEST_PG_EXEC_H
#define NDX_TEST_PG_EXEC_H

#include <libpq-fe.h>

static inline void test_pg_exec(const char *conninfo, const char *stmt)
{
	PGconn *c = PQconnectdb(conninfo);
	PGresult *r;

	if (PQstatus(c) != CONNECTION_OK)
		fail_msg("cannot connect: %s", PQerrorMessage(c));
	PQclear(PQexec(c, "SET client_min_messages = warning"));
	r = PQexec(c, stmt);
	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", stmt, PQresultErrorMessage(r));
	PQclear(r);
	PQfinish(c);
}

#endif
