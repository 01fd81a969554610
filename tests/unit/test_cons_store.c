/* Unit tests for the consent service's store (src/consent/cons_store.h) on
 * both of its engines: create and open (and their refusals), consents
 * round tripping in the API's shape with their status at a given time, a
 * duplicate jti refused, status list indexes handed out once each, a
 * revocation raising the version once (a second refused, an unknown jti
 * refused, nothing changed by either), the status lists' bits following
 * revocations and read back from the table by a new handle, the counts for
 * /metrics, and an acknowledged revocation surviving SIGKILL while one
 * begun and never finished leaves nothing.
 *
 * With NDX_TEST_ENGINE=pg (the meson suite pg, make test-pg) every store is
 * a fresh schema of the PostgreSQL database NDX_TEST_PG (tests/with-postgres
 * starts one); the run adds PostgreSQL's own refusals (a password in the
 * connection string, never printed; a schema without a consent service; a
 * schema newer than the program; a second ndx-consent on one schema) and a
 * server that stops and comes back under an open store.
 * Without NDX_TEST_PG that run is skipped (exit 77). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <fcntl.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store_engines.h"

#include "cons_store.h"
#include "ndx/err.h"
#include "ndx/statuslist.h"

#define ISSUER "VN/GOV/BCA/consent"
#define TOKEN_HEX "5f0e6c1d0d7a9f4c0b8e2f1a3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f"
#define NOW ((time_t)1800000000)

static int try_open(const char *loc);
static int try_create(const char *loc);

static const struct store_engines ENGINES = {
	.name = "cons_store", .what = "consent store", .schema_prefix = 'c', .db_file = "consent.db",
	.holds = "consent service", .try_open = try_open, .try_create = try_create,
};

static struct cstore *new_store(char *loc, size_t cap)
{
	struct cstore *st = NULL;

	new_loc(loc, cap);
	assert_int_equal(cstore_create(loc, ISSUER, TOKEN_HEX, &st), NDX_OK);
	return st;
}

/* Issues consent jti of subject as the API does: an index first, then the
 * row; valid [nbf, exp). Returns the index's place through list/idx. */
static void issue(struct cstore *st, const char *jti, const char *subject, time_t iat,
		  time_t nbf, time_t exp, uint32_t *list, uint32_t *idx)
{
	uint32_t l = 0, i = 0;
	char jws[128];

	assert_int_equal(cstore_status_reserve(st, &l, &i), NDX_OK);
	snprintf(jws, sizeof jws, "eyJhbGciOiJFZERTQSJ9.%s.c2ln", jti);
	struct cstore_consent c = {
		.jti = jti, .subject = subject, .consumer = "VN/GOV/BTC/thue",
		.services = "[\"VN/GOV/BCA/cudan/ho-tich\"]", .purpose = "thue-tncn",
		.iat = iat, .nbf = nbf, .exp = exp, .jws = jws, .status_list = l, .status_idx = i,
	};
	assert_int_equal(cstore_consent_add(st, &c), NDX_OK);
	if (list)
		*list = l;
	if (idx)
		*idx = i;
}

static void test_create_open(void **state)
{
	char loc[600];
	struct cstore *st, *again = NULL;
	uint64_t v;
	uint32_t n;

	(void)state;
	st = new_store(loc, sizeof loc);
	assert_string_equal(cstore_issuer(st), ISSUER);
	assert_string_equal(cstore_token_sha256(st), TOKEN_HEX);
	assert_int_equal(cstore_status(st, &v, &n), NDX_OK);
	assert_int_equal(v, 1);
	assert_int_equal(n, 0);
	assert_null(strstr(cstore_name(st), "password"));
	cstore_close(st);
	/* a second create of the same location is refused, the first untouched */
	assert_int_equal(cstore_create(loc, "VN/GOV/XX/other", TOKEN_HEX, &again), NDX_EEXIST);
	assert_null(again);
	assert_int_equal(cstore_open(loc, &st), NDX_OK);
	assert_string_equal(cstore_issuer(st), ISSUER);
	cstore_close(st);
	/* nothing there */
	new_loc(loc, sizeof loc);
	assert_int_equal(cstore_open(loc, &st), NDX_EIO);
	assert_null(st);
	cstore_close(NULL);
}

static void test_consents_round_trip(void **state)
{
	char loc[600], subject[64];
	struct cstore *st = new_store(loc, sizeof loc);
	json_t *rows, *row;
	uint32_t l, i;

	(void)state;
	issue(st, "c-active", "012345678901", NOW - 100, NOW - 100, NOW + 3600, NULL, NULL);
	issue(st, "c-pending", "012345678901", NOW - 50, NOW + 600, NOW + 3600, NULL, NULL);
	issue(st, "c-expired", "012345678901", NOW - 7200, NOW - 7200, NOW - 1, NULL, NULL);
	issue(st, "c-other", "099999999999", NOW, NOW, NOW + 60, NULL, NULL);
	/* a jti issued before is refused, and nothing changes */
	{
		struct cstore_consent dup = {
			.jti = "c-active", .subject = "011111111111", .consumer = "x",
			.services = "[]", .purpose = "p", .iat = NOW, .nbf = NOW, .exp = NOW + 1,
			.jws = "x", .status_list = 0, .status_idx = 99,
		};
		assert_int_equal(cstore_consent_add(st, &dup), NDX_EEXIST);
	}
	/* an index is never given twice: a row reusing one is refused */
	{
		struct cstore_consent reuse = {
			.jti = "c-reuse", .subject = "011111111111", .consumer = "x",
			.services = "[]", .purpose = "p", .iat = NOW, .nbf = NOW, .exp = NOW + 1,
			.jws = "x", .status_list = 0, .status_idx = 0,
		};
		assert_int_equal(cstore_consent_add(st, &reuse), NDX_EEXIST);
	}
	assert_int_equal(cstore_consent_list(st, "012345678901", NOW, &rows), NDX_OK);
	assert_int_equal(json_array_size(rows), 3);
	/* newest first */
	row = json_array_get(rows, 0);
	assert_string_equal(json_string_value(json_object_get(row, "jti")), "c-pending");
	assert_string_equal(json_string_value(json_object_get(row, "status")), "pending");
	row = json_array_get(rows, 1);
	assert_string_equal(json_string_value(json_object_get(row, "jti")), "c-active");
	assert_string_equal(json_string_value(json_object_get(row, "status")), "active");
	assert_string_equal(json_string_value(json_object_get(row, "subject")), "012345678901");
	assert_string_equal(json_string_value(json_object_get(row, "consumer")),
			    "VN/GOV/BTC/thue");
	assert_string_equal(json_string_value(json_object_get(row, "purpose")), "thue-tncn");
	assert_string_equal(json_string_value(json_array_get(json_object_get(row, "services"), 0)),
			    "VN/GOV/BCA/cudan/ho-tich");
	assert_string_equal(json_string_value(json_object_get(row, "consent")),
			    "eyJhbGciOiJFZERTQSJ9.c-active.c2ln");
	/* 1800000000 - 100 = 2027-01-15T07:58:20Z */
	assert_string_equal(json_string_value(json_object_get(row, "issued_at")),
			    "2027-01-15T07:58:20Z");
	assert_true(json_is_null(json_object_get(row, "revoked_at")));
	row = json_array_get(rows, 2);
	assert_string_equal(json_string_value(json_object_get(row, "status")), "expired");
	json_decref(rows);
	assert_int_equal(cstore_consent_list(st, "000000000000", NOW, &rows), NDX_OK);
	assert_int_equal(json_array_size(rows), 0);
	json_decref(rows);
	assert_int_equal(cstore_consent_subject(st, "c-other", subject, sizeof subject), NDX_OK);
	assert_string_equal(subject, "099999999999");
	assert_int_equal(cstore_consent_subject(st, "c-other", subject, 5), NDX_ETOOBIG);
	assert_int_equal(cstore_consent_subject(st, "c-none", subject, sizeof subject),
			 NDX_ENOTFOUND);
	/* indexes 0..3 were handed out in order; the next is 4 */
	assert_int_equal(cstore_status_reserve(st, &l, &i), NDX_OK);
	assert_int_equal(l, 0);
	assert_int_equal(i, 4);
	cstore_close(st);
	/* and after a reopen, 5: a reservation is durable */
	assert_int_equal(cstore_open(loc, &st), NDX_OK);
	assert_int_equal(cstore_status_reserve(st, &l, &i), NDX_OK);
	assert_int_equal(i, 5);
	cstore_close(st);
}

static void test_revoke(void **state)
{
	char loc[600];
	struct cstore *st = new_store(loc, sizeof loc), *other = NULL;
	struct cstore_counts counts;
	uint8_t bits[NDX_STATUSLIST_BYTES];
	uint64_t v, gen0, gen1;
	uint32_t l1, i1, l2, i2, n;
	json_t *rows;

	(void)state;
	issue(st, "r-1", "012345678901", NOW - 10, NOW - 10, NOW + 3600, &l1, &i1);
	issue(st, "r-2", "012345678901", NOW - 5, NOW - 5, NOW + 3600, &l2, &i2);
	issue(st, "r-3", "012345678901", NOW - 1, NOW + 60, NOW + 3600, NULL, NULL);
	assert_int_equal(cstore_status_bits(st, l1, bits, &gen0), NDX_OK);
	assert_int_equal(ndx_statuslist_get(bits, sizeof bits, i1), 0);
	assert_int_equal(cstore_consent_revoke(st, "r-1", NOW, &v), NDX_OK);
	assert_int_equal(v, 2);
	/* the held bits follow, and say so by a new generation */
	assert_int_equal(cstore_status_bits(st, l1, bits, &gen1), NDX_OK);
	assert_true(gen1 != gen0);
	assert_int_equal(ndx_statuslist_get(bits, sizeof bits, i1), 1);
	assert_int_equal(ndx_statuslist_get(bits, sizeof bits, i2), 0);
	/* refusals change nothing */
	assert_int_equal(cstore_consent_revoke(st, "r-1", NOW + 1, &v), NDX_EEXIST);
	assert_int_equal(v, 2);
	assert_int_equal(cstore_consent_revoke(st, "r-none", NOW, &v), NDX_ENOTFOUND);
	assert_int_equal(cstore_status(st, &v, &n), NDX_OK);
	assert_int_equal(v, 2);
	assert_int_equal(n, 1);
	assert_int_equal(cstore_consent_list(st, "012345678901", NOW, &rows), NDX_OK);
	assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 2), "status")),
			    "revoked");
	assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 2),
								  "revoked_at")),
			    "2027-01-15T08:00:00Z");
	json_decref(rows);
	assert_int_equal(cstore_counts(st, NOW, &counts), NDX_OK);
	assert_int_equal(counts.revoked, 1);
	assert_int_equal(counts.active, 1);
	assert_int_equal(counts.pending, 1);
	assert_int_equal(counts.expired, 0);
	assert_int_equal(cstore_counts(st, NOW + 3600, &counts), NDX_OK);
	assert_int_equal(counts.expired, 2);
	assert_int_equal(counts.revoked, 1);
	cstore_close(st);
	/* a new handle reads the bits from the table */
	assert_int_equal(cstore_open(loc, &other), NDX_OK);
	assert_int_equal(cstore_status_bits(other, l1, bits, &gen0), NDX_OK);
	assert_int_equal(ndx_statuslist_get(bits, sizeof bits, i1), 1);
	assert_int_equal(ndx_statuslist_get(bits, sizeof bits, i2), 0);
	assert_int_equal(cstore_consent_revoke(other, "r-2", NOW, &v), NDX_OK);
	assert_int_equal(v, 3);
	assert_int_equal(cstore_status_bits(other, l2, bits, &gen1), NDX_OK);
	assert_int_equal(ndx_statuslist_get(bits, sizeof bits, i2), 1);
	cstore_close(other);
}

/* A revocation acknowledged (cstore_consent_revoke returned) by a process
 * then killed with SIGKILL is there when the database is opened again; an
 * index reservation of the same process too, so that no later consent gets
 * its index. */
/* The process killed in test_kill9_keeps_acknowledged: a revocation and
 * an index reserved, acknowledged (the byte on fd). */
static int kill9_child(const char *loc, int fd)
{
	struct cstore *child = NULL;
	uint64_t cv = 0;
	uint32_t cl, ci;

	if (cstore_open(loc, &child) || cstore_consent_revoke(child, "k-1", NOW, &cv) ||
	    cv != 2 || cstore_status_reserve(child, &cl, &ci) || ci != 2)
		return 1;
	return write(fd, "k", 1) != 1;
}

static void test_kill9_keeps_acknowledged(void **state)
{
	char loc[600];
	struct cstore *st = new_store(loc, sizeof loc);
	uint8_t bits[NDX_STATUSLIST_BYTES];
	uint32_t l, i, n;
	uint64_t v, gen;
	json_t *rows;

	(void)state;
	issue(st, "k-1", "012345678901", NOW, NOW, NOW + 3600, &l, &i);
	issue(st, "k-2", "012345678901", NOW, NOW, NOW + 3600, NULL, NULL);
	cstore_close(st);
	run_killed(loc, kill9_child, 0);
	/* On PostgreSQL, the open waits for the killed process's session to end. */
	assert_int_equal(cstore_open(loc, &st), NDX_OK);
	assert_int_equal(cstore_status(st, &v, &n), NDX_OK);
	assert_int_equal(v, 2);
	assert_int_equal(cstore_status_bits(st, l, bits, &gen), NDX_OK);
	assert_int_equal(ndx_statuslist_get(bits, sizeof bits, i), 1);
	assert_int_equal(cstore_consent_list(st, "012345678901", NOW, &rows), NDX_OK);
	assert_int_equal(json_array_size(rows), 2);
	json_decref(rows);
	assert_int_equal(cstore_status_reserve(st, &l, &i), NDX_OK);
	assert_int_equal(i, 3);
	cstore_close(st);
}

/* A consent.db made before status lists (migration 1 only) opens: its
 * consents keep no index, a revocation of one raises the version, and new
 * consents get indexes from 0. */
static void test_sqlite_migrates_older(void **state)
{
	char loc[600];
	struct cstore *st = NULL;
	sqlite3 *db;
	uint32_t l, i;
	uint64_t v;

	(void)state;
	new_loc(loc, sizeof loc);
	assert_int_equal(sqlite3_open(loc, &db), SQLITE_OK);
	assert_int_equal(
		sqlite3_exec(db,
			     "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
			     "CREATE TABLE consents(jti TEXT PRIMARY KEY, subject TEXT NOT NULL,"
			     " consumer TEXT NOT NULL, services TEXT NOT NULL, purpose TEXT NOT NULL,"
			     " iat INTEGER NOT NULL, nbf INTEGER NOT NULL, exp INTEGER NOT NULL,"
			     " jws TEXT NOT NULL, revoked_at INTEGER);"
			     "CREATE TABLE schema_migrations(version INTEGER PRIMARY KEY,"
			     " applied_at TEXT NOT NULL);"
			     "INSERT INTO schema_migrations VALUES(1, '2026-01-01T00:00:00Z');"
			     "INSERT INTO meta VALUES('issuer', '" ISSUER "'),"
			     " ('token_sha256', '" TOKEN_HEX "'), ('revocation_version', '1');"
			     "INSERT INTO consents VALUES('old', '012345678901', 'c', '[]', 'p',"
			     " 1700000000, 1700000000, 1900000000, 'jws', NULL);",
			     NULL, NULL, NULL),
		SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(cstore_open(loc, &st), NDX_OK);
	assert_int_equal(cstore_consent_revoke(st, "old", NOW, &v), NDX_OK);
	assert_int_equal(v, 2);
	assert_int_equal(cstore_status_reserve(st, &l, &i), NDX_OK);
	assert_int_equal(l, 0);
	assert_int_equal(i, 0);
	cstore_close(st);
}

static int try_open(const char *loc)
{
	struct cstore *st = NULL;
	int rc = cstore_open(loc, &st);
	cstore_close(st);
	return rc;
}

static int try_create(const char *loc)
{
	struct cstore *st = NULL;
	int rc = cstore_create(loc, ISSUER, TOKEN_HEX, &st);
	cstore_close(st);
	return rc;
}

static void test_pg_refusals(void **state)
{
	const char *bad = "postgresql://postgres:s3cr3t-pw@127.0.0.1:1/x";
	char loc[600];
	struct cstore *st = NULL;
	const char *msg, *why;
	int rc;

	(void)state;
	/* the checks the daemon's --store makes */
	assert_true(cstore_loc_is_pg(bad));
	assert_int_equal(cstore_loc_check(bad, &why), NDX_EINVAL);
	assert_null(strstr(why, "s3cr3t-pw"));
	assert_int_equal(cstore_loc_check("postgresql://[bad", &why), NDX_EINVAL);
	/* a password, no server, a schema without a consent service */
	pg_refusals(loc, sizeof loc);
	/* one ndx-consent a schema: a second is refused while the first has it */
	assert_int_equal(cstore_create(loc, ISSUER, TOKEN_HEX, &st), NDX_OK);
	msg = stderr_of(try_open, loc, &rc);
	assert_int_equal(rc, NDX_EDB);
	assert_non_null(strstr(msg, "another ndx-consent"));
	cstore_close(st);
	assert_int_equal(try_open(loc), NDX_OK);
	/* a schema newer than this program */
	pg_refuses_newer(loc);
}

/* The server stops under an open store: calls fail with NDX_EDB, nothing
 * crashes; once it is back the store goes on by itself on a new session,
 * which holds the schema's lock again. A
 * process that wrote while the store had no session (here a revocation
 * through a second handle, between the server's return and the store's
 * next call) is seen: the held status list bits are read again. */
static void test_pg_server_stopped(void **state)
{
	char loc[600], subject[64];
	struct cstore *st = new_store(loc, sizeof loc), *other = NULL;
	uint8_t bits[NDX_STATUSLIST_BYTES];
	uint64_t v, gen0, gen1;
	uint32_t l, i, i1, i2, n;

	(void)state;
	issue(st, "s-1", "012345678901", NOW, NOW, NOW + 3600, NULL, &i1);
	issue(st, "s-2", "012345678901", NOW, NOW, NOW + 3600, NULL, &i2);
	assert_int_equal(cstore_consent_revoke(st, "s-1", NOW, &v), NDX_OK);
	assert_int_equal(cstore_status_bits(st, 0, bits, &gen0), NDX_OK);
	assert_int_equal(ndx_statuslist_get(bits, sizeof bits, i1), 1);
	assert_int_equal(ndx_statuslist_get(bits, sizeof bits, i2), 0);
	pg_ctl("NDX_TEST_PG_STOP");
	assert_int_equal(cstore_consent_subject(st, "s-1", subject, sizeof subject), NDX_EDB);
	assert_int_equal(cstore_status_reserve(st, &l, &i), NDX_EDB);
	pg_ctl("NDX_TEST_PG_START");
	assert_int_equal(cstore_open(loc, &other), NDX_OK);
	assert_int_equal(cstore_consent_revoke(other, "s-2", NOW, &v), NDX_OK);
	assert_int_equal(v, 3);
	cstore_close(other);
	/* as the API answers GET /status, then GET /status/0 */
	assert_int_equal(cstore_status(st, &v, &n), NDX_OK);
	assert_int_equal(v, 3);
	assert_int_equal(cstore_status_bits(st, 0, bits, &gen1), NDX_OK);
	assert_true(gen1 != gen0);
	assert_int_equal(ndx_statuslist_get(bits, sizeof bits, i2), 1);
	assert_int_equal(cstore_status_reserve(st, &l, &i), NDX_OK);
	assert_int_equal(i, 2);
	cstore_close(st);
}

int main(void)
{
	const struct CMUnitTest both[] = {
		cmocka_unit_test(test_create_open),
		cmocka_unit_test(test_consents_round_trip),
		cmocka_unit_test(test_revoke),
		cmocka_unit_test(test_kill9_keeps_acknowledged),
	};
	const struct CMUnitTest sqlite_only[] = { cmocka_unit_test(test_sqlite_garbage),
						  cmocka_unit_test(test_sqlite_migrates_older) };
	/* The server stops last: nothing else runs while it is down. */
	const struct CMUnitTest pg_only[] = { cmocka_unit_test(test_pg_refusals),
					      cmocka_unit_test(test_pg_server_stopped) };

	return STORE_ENGINES_MAIN(&ENGINES, both, sqlite_only, pg_only);
}
