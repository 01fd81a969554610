/* The monitoring service's store (src/monitor/mstore.c): pages of
 * operational records as gateways send them, kept once; records that lack
 * what the figures need refused and counted; the live figures (an exchange
 * counted once although both gateways report it, errors by type, latency
 * percentiles, the busiest services, per agency, an agency's view only of
 * its own); gateways up and down; retention; an older monitor.db opening
 * at its version and going on; the refusals. The same tests run on
 * PostgreSQL in the meson suite pg (mstore_fixture.h), with PostgreSQL's
 * own refusals: a password in the connection string (never printed), a
 * schema newer than the program. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <fcntl.h>
#include <sqlite3.h>

#include "mstore.h"
#include "mstore_fixture.h"
#include "ndx/err.h"

#define NOW 1780000000000LL /* ms */
#define BCA "VN/GOV/BCA"
#define MOF "VN/GOV/MOF"
#define CITIZENS "VN/GOV/BCA/population/citizens"
#define TAXES "VN/GOV/MOF/tax/returns"
#define MOF_TAX "VN/GOV/MOF/tax"
#define BCA_POP "VN/GOV/BCA/population"
#define GW_BCA "VN/GOV/BCA/gw1"
#define GW_MOF "VN/GOV/MOF/gw1"

static int setup(void **state)
{
	return mstore_fixture_setup(state, "test_mstore");
}

static int teardown(void **state)
{
	return mstore_fixture_teardown(state);
}

/* A record as a gateway's /o1/.../records sends it. */
static json_t *rec(long long seq, const char *role, const char *msg, const char *client,
		   const char *service, long long in_ms, int ok, const char *err, long long dur)
{
	return json_pack("{s:I s:s s:s s:s s:s s:s s:s s:s s:s s:I s:I s:I s:I s:I s:I s:b"
			 " s:s? s:i s:I s:I s:I s:n s:n s:b}",
			 "seq", seq, "role", role, "message_id", msg, "client", client,
			 "service", service, "client_gateway", GW_MOF, "service_gateway", GW_BCA,
			 "method", "GET", "path_template", "/{}", "request_in", in_ms,
			 "request_out", in_ms + 1, "response_in", in_ms + dur - 1, "response_out",
			 in_ms + dur, "request_size", (json_int_t)0, "response_size",
			 (json_int_t)120, "success", ok, "error_type", err, "status",
			 ok ? 200 : 403, "duration_ms", dur, "own_ms", (json_int_t)1, "peer_ms",
			 dur - 1, "provider_ms", "purpose", "personal", 0);
}

static void add(struct fx *f, const char *gw, const char *member, json_t *page, size_t want)
{
	size_t added = 99, bad = 99;

	assert_int_equal(mstore_add_page(f->st, gw, member, page, NOW, &added, &bad), NDX_OK);
	assert_int_equal(added, want);
	json_decref(page);
}

static long long num(const json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

static void test_pages_are_kept_once_and_bad_records_refused(void **state)
{
	struct fx *f = *state;
	json_t *page = json_array();
	uint64_t after = 7;
	size_t added, bad;

	assert_int_equal(mstore_cursor(f->st, GW_MOF, &after), NDX_OK);
	assert_int_equal(after, 0);
	json_array_append_new(page, rec(1, "consumer", "m1", MOF_TAX, CITIZENS, NOW - 1000, 1,
					NULL, 20));
	json_array_append_new(page, rec(2, "consumer", "m2", MOF_TAX, CITIZENS, NOW - 900, 1,
					NULL, 30));
	/* a record without seq, an unknown role, no request_in, success not a
	 * boolean, not an object: refused, the others kept */
	json_array_append_new(page, json_pack("{s:s}", "role", "consumer"));
	json_array_append_new(page, rec(3, "spy", "m3", MOF_TAX, CITIZENS, NOW, 1, NULL, 1));
	json_array_append_new(page, json_pack("{s:i s:s s:b}", "seq", 4, "role", "consumer",
					      "success", 1));
	json_array_append_new(page, json_pack("{s:i s:s s:I s:i}", "seq", 5, "role", "provider",
					      "request_in", (json_int_t)NOW, "success", 1));
	json_array_append_new(page, json_string("x"));
	/* dated an hour ahead: it would count in every live window until then */
	json_array_append_new(page, rec(6, "consumer", "m6", MOF_TAX, CITIZENS, NOW + 3600000, 1,
					NULL, 1));
	assert_int_equal(mstore_add_page(f->st, GW_MOF, MOF, page, NOW, &added, &bad), NDX_OK);
	assert_int_equal(added, 2);
	assert_int_equal(bad, 6);
	/* the same page again (a crash between fetch and commit) adds nothing */
	assert_int_equal(mstore_add_page(f->st, GW_MOF, MOF, page, NOW, &added, &bad), NDX_OK);
	assert_int_equal(added, 0);
	json_decref(page);
	/* the refused ones are not asked again: the cursor is the highest seq
	 * seen (the future-dated record 6) */
	assert_int_equal(mstore_cursor(f->st, GW_MOF, &after), NDX_OK);
	assert_int_equal(after, 6);
	/* RFC 3339 times are read too */
	page = json_array();
	json_array_append_new(page, rec(3, "consumer", "m3", MOF_TAX, CITIZENS, 0, 1, NULL, 5));
	json_object_set_new(json_array_get(page, 0), "request_in",
			    json_string("2026-05-28T20:26:39.500Z"));
	add(f, GW_MOF, MOF, page, 1);
}

static void test_live_counts_each_exchange_once(void **state)
{
	struct fx *f = *state;
	json_t *mof = json_array(), *bca = json_array(), *live, *lat, *errs, *svc, *ag;

	/* three exchanges MOF -> BCA, seen by both gateways; one refused by
	 * the provider gateway; one exchange BCA -> MOF seen only by MOF's
	 * gateway as provider (BCA's gateway is not collected yet); one old */
	json_array_append_new(mof, rec(1, "consumer", "a", MOF_TAX, CITIZENS, NOW - 5000, 1, NULL,
				       10));
	json_array_append_new(mof, rec(2, "consumer", "b", MOF_TAX, CITIZENS, NOW - 4000, 1, NULL,
				       20));
	json_array_append_new(mof, rec(3, "consumer", "c", MOF_TAX, CITIZENS, NOW - 3000, 0,
				       "Client.NoGrant", 5));
	json_array_append_new(mof, rec(4, "provider", "d", BCA_POP, TAXES, NOW - 2000, 1, NULL,
				       40));
	json_array_append_new(mof, rec(5, "consumer", "old", MOF_TAX, CITIZENS,
				       NOW - 3600 * 1000, 1, NULL, 10));
	add(f, GW_MOF, MOF, mof, 5);
	json_array_append_new(bca, rec(1, "provider", "a", MOF_TAX, CITIZENS, NOW - 5000, 1, NULL,
				       8));
	json_array_append_new(bca, rec(2, "provider", "b", MOF_TAX, CITIZENS, NOW - 4000, 1, NULL,
				       18));
	json_array_append_new(bca, rec(3, "provider", "c", MOF_TAX, CITIZENS, NOW - 3000, 0,
				       "Client.NoGrant", 3));
	add(f, GW_BCA, BCA, bca, 3);

	assert_int_equal(mstore_live(f->st, NULL, NOW, 60 * 1000, &live), NDX_OK);
	assert_int_equal(num(live, "exchanges"), 4);
	assert_int_equal(num(live, "failed"), 1);
	assert_int_equal(num(live, "window_s"), 60);
	assert_true(json_real_value(json_object_get(live, "per_second")) > 0.066 &&
		    json_real_value(json_object_get(live, "per_second")) < 0.067);
	lat = json_object_get(live, "latency_ms");
	/* durations 5, 10, 20, 40 (the consumer's): nearest rank */
	assert_int_equal(num(lat, "p50"), 10);
	assert_int_equal(num(lat, "p95"), 40);
	assert_int_equal(num(lat, "p99"), 40);
	errs = json_object_get(live, "errors");
	assert_int_equal(json_array_size(errs), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(errs, 0), "type")),
			    "Client.NoGrant");
	assert_int_equal(num(json_array_get(errs, 0), "count"), 1);
	svc = json_object_get(live, "busiest_services");
	assert_string_equal(json_string_value(json_object_get(json_array_get(svc, 0), "service")),
			    CITIZENS);
	assert_int_equal(num(json_array_get(svc, 0), "exchanges"), 3);
	assert_int_equal(num(json_array_get(svc, 0), "failed"), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(svc, 1), "service")),
			    TAXES);
	ag = json_object_get(live, "agencies");
	assert_int_equal(json_array_size(ag), 2);
	for (size_t i = 0; i < 2; i++) {
		const json_t *a = json_array_get(ag, i);
		const char *m = json_string_value(json_object_get(a, "member"));

		if (strcmp(m, MOF) == 0) {
			assert_int_equal(num(a, "as_client"), 3);
			assert_int_equal(num(a, "as_provider"), 1);
		} else {
			assert_string_equal(m, BCA);
			assert_int_equal(num(a, "as_client"), 1);
			assert_int_equal(num(a, "as_provider"), 3);
		}
	}
	assert_int_equal(json_array_size(json_object_get(live, "gateways")), 2);
	json_decref(live);

	/* a window that reaches the old one */
	assert_int_equal(mstore_live(f->st, NULL, NOW, 2 * 3600 * 1000, &live), NDX_OK);
	assert_int_equal(num(live, "exchanges"), 5);
	json_decref(live);
}

static void test_an_agency_sees_only_its_own(void **state)
{
	struct fx *f = *state;
	json_t *mof = json_array(), *live;
	const char *other = "VN/GOV/BTC";

	json_array_append_new(mof, rec(1, "consumer", "a", MOF_TAX, CITIZENS, NOW - 5000, 1, NULL,
				       10));
	json_array_append_new(mof, rec(2, "consumer", "b", "VN/GOV/BTC/land", "VN/GOV/BTC/land/plots",
				       NOW - 4000, 1, NULL, 10));
	add(f, GW_MOF, MOF, mof, 2);
	assert_int_equal(mstore_gateway_failed(f->st, "VN/GOV/BTC/gw1", other, NOW, "503 Server"),
			 NDX_OK);

	assert_int_equal(mstore_live(f->st, BCA, NOW, 60000, &live), NDX_OK);
	assert_int_equal(num(live, "exchanges"), 1);
	assert_int_equal(json_array_size(json_object_get(live, "agencies")), 1);
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(live, "agencies"), 0), "member")),
			    BCA);
	/* no gateway of BCA is collected: none listed, neither MOF's nor BTC's */
	assert_int_equal(json_array_size(json_object_get(live, "gateways")), 0);
	json_decref(live);

	assert_int_equal(mstore_live(f->st, other, NOW, 60000, &live), NDX_OK);
	assert_int_equal(num(live, "exchanges"), 1);
	assert_int_equal(json_array_size(json_object_get(live, "gateways")), 1);
	{
		const json_t *g = json_array_get(json_object_get(live, "gateways"), 0);

		assert_false(json_is_true(json_object_get(g, "up")));
		assert_string_equal(json_string_value(json_object_get(g, "last_error")),
				    "503 Server");
		assert_true(json_is_null(json_object_get(g, "last_ok_ms")));
	}
	json_decref(live);
}

static void test_gateway_up_down_and_prune(void **state)
{
	struct fx *f = *state;
	json_t *page = json_array(), *live, *g;
	uint64_t deleted = 0;

	json_array_append_new(page, rec(1, "consumer", "a", MOF_TAX, CITIZENS, NOW - 10 * 86400000LL,
					1, NULL, 10));
	json_array_append_new(page, rec(2, "consumer", "b", MOF_TAX, CITIZENS, NOW - 1000, 1, NULL,
					10));
	add(f, GW_MOF, MOF, page, 2);
	assert_int_equal(mstore_live(f->st, NULL, NOW, 60000, &live), NDX_OK);
	g = json_array_get(json_object_get(live, "gateways"), 0);
	assert_true(json_is_true(json_object_get(g, "up")));
	assert_int_equal(num(g, "records"), 2);
	json_decref(live);
	/* a failed collection after a good one: down, the last good time kept */
	assert_int_equal(mstore_gateway_failed(f->st, GW_MOF, MOF, NOW + 10000, "own gateway: "
					       "cannot connect"), NDX_OK);
	assert_int_equal(mstore_live(f->st, NULL, NOW, 60000, &live), NDX_OK);
	g = json_array_get(json_object_get(live, "gateways"), 0);
	assert_false(json_is_true(json_object_get(g, "up")));
	assert_int_equal(num(g, "last_ok_ms"), NOW);
	assert_int_equal(num(g, "last_poll_ms"), NOW + 10000);
	json_decref(live);
	assert_int_equal(mstore_prune(f->st, NOW - 7 * 86400000LL, &deleted), NDX_OK);
	assert_int_equal(deleted, 1);
	assert_int_equal(mstore_live(f->st, NULL, NOW, 30 * 86400000LL, &live), NDX_OK);
	assert_int_equal(num(live, "exchanges"), 1);
	assert_true(json_is_null(json_object_get(json_object_get(live, "latency_ms"), "p50")) ==
		    false);
	json_decref(live);
	{
		uint64_t after = 0;

		/* pruning does not send the collector back to the start */
		assert_int_equal(mstore_prune(f->st, NOW + 60000, &deleted), NDX_OK);
		assert_int_equal(mstore_cursor(f->st, GW_MOF, &after), NDX_OK);
		assert_int_equal(after, 2);
	}
}

static void test_empty_window(void **state)
{
	struct fx *f = *state;
	json_t *live;

	assert_int_equal(mstore_live(f->st, NULL, NOW, 60000, &live), NDX_OK);
	assert_int_equal(num(live, "exchanges"), 0);
	assert_true(json_is_null(json_object_get(json_object_get(live, "latency_ms"), "p50")));
	assert_int_equal(json_array_size(json_object_get(live, "errors")), 0);
	json_decref(live);
}

static void test_series(void **state)
{
	struct fx *f = *state;
	json_t *mof = json_array(), *bca = json_array(), *out, *list;
	int64_t now = NOW - NOW % 60000 + 30000; /* half-way through a minute */

	/* minute -1: two exchanges (one failed), each seen by both gateways;
	 * minute -3: one; the others empty; one outside the window */
	json_array_append_new(mof, rec(1, "consumer", "a", MOF_TAX, CITIZENS, now - 60000, 1, NULL,
				       10));
	json_array_append_new(mof, rec(2, "consumer", "b", MOF_TAX, CITIZENS, now - 50000, 0,
				       "Client.NoGrant", 30));
	json_array_append_new(mof, rec(3, "consumer", "c", MOF_TAX, CITIZENS, now - 180000, 1,
				       NULL, 20));
	json_array_append_new(mof, rec(4, "consumer", "d", MOF_TAX, CITIZENS, now - 3600000, 1,
				       NULL, 20));
	add(f, GW_MOF, MOF, mof, 4);
	json_array_append_new(bca, rec(1, "provider", "a", MOF_TAX, CITIZENS, now - 60000, 1, NULL,
				       8));
	add(f, GW_BCA, BCA, bca, 1);

	assert_int_equal(mstore_series(f->st, NULL, now, 5 * 60000, 60000, &out), NDX_OK);
	assert_int_equal(num(out, "step_s"), 60);
	list = json_object_get(out, "series");
	assert_int_equal(json_array_size(list), 5);
	/* oldest first, aligned on the minute, the last one the current minute */
	assert_int_equal(num(json_array_get(list, 4), "t"), now - 30000);
	assert_int_equal(num(json_array_get(list, 0), "t"), now - 30000 - 4 * 60000);
	assert_int_equal(num(json_array_get(list, 3), "exchanges"), 2);
	assert_int_equal(num(json_array_get(list, 3), "failed"), 1);
	assert_int_equal(num(json_array_get(list, 3), "p95_ms"), 30);
	assert_int_equal(num(json_array_get(list, 1), "exchanges"), 1);
	assert_int_equal(num(json_array_get(list, 4), "exchanges"), 0);
	assert_true(json_is_null(json_object_get(json_array_get(list, 4), "p95_ms")));
	json_decref(out);
	/* an agency's series: BHXH has none */
	assert_int_equal(mstore_series(f->st, "VN/GOV/BHXH", now, 5 * 60000, 60000, &out), NDX_OK);
	list = json_object_get(out, "series");
	for (size_t i = 0; i < json_array_size(list); i++)
		assert_int_equal(num(json_array_get(list, i), "exchanges"), 0);
	json_decref(out);
	/* bad shapes */
	assert_int_equal(mstore_series(f->st, NULL, now, 5 * 60000, 70000, &out), NDX_EINVAL);
	assert_int_equal(mstore_series(f->st, NULL, now, 2000 * 1000, 1000, &out), NDX_EINVAL);
	assert_int_equal(mstore_series(f->st, NULL, now, 0, 1000, &out), NDX_EINVAL);
	assert_int_equal(mstore_series(f->st, NULL, now, 60000, 0, &out), NDX_EINVAL);
	assert_null(out);
}

/* Runs mstore_open(loc, create) with stderr going to a file; its result,
 * and what it printed in msg. */
static int open_quietly(const char *loc, bool create, char *msg, size_t cap)
{
	char path[600];
	const char *dir = getenv("NDX_TEST_TMP");
	struct mstore *st = NULL;
	int saved = dup(2), fd, rc;
	ssize_t n;

	snprintf(path, sizeof path, "%s/test_mstore_err_%d", dir ? dir : "/tmp", (int)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	fflush(stderr);
	dup2(fd, 2);
	rc = mstore_open(loc, create, &st);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	lseek(fd, 0, SEEK_SET);
	n = read(fd, msg, cap - 1);
	msg[n > 0 ? n : 0] = '\0';
	close(fd);
	unlink(path);
	mstore_close(st);
	return rc;
}

/* A location that holds no store is not opened (it is made by init);
 * one that holds a store is not made again. */
static void test_no_store_and_no_second(void **state)
{
	struct fx *f = *state;
	char loc[1024], msg[4096];

	mstore_fixture_loc("test_mstore", loc, sizeof loc);
	assert_int_equal(open_quietly(loc, false, msg, sizeof msg), NDX_EIO);
	assert_int_equal(open_quietly(f->path, true, msg, sizeof msg), NDX_EEXIST);
}

/* A monitor.db from before ndx/sqldb.h (its five migrations, a record, a
 * gateway) opens at its version, goes on to the current one and keeps
 * what it held. */
static void test_older_monitor_db_upgrades(void **state)
{
	char loc[1024];
	sqlite3 *db;
	struct mstore *st;
	uint64_t after = 0;
	json_t *live = NULL;

	(void)state;
	mstore_fixture_loc("test_mstore_old", loc, sizeof loc);
	assert_int_equal(sqlite3_open(loc, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE schema_migrations(version INTEGER PRIMARY"
					  " KEY, applied_at TEXT NOT NULL)", NULL, NULL, NULL),
			 SQLITE_OK);
	for (size_t i = 0; i < 5; i++) {
		char sql[64];

		assert_int_equal(sqlite3_exec(db, mstore_db_desc.migrations[i], NULL, NULL, NULL),
				 SQLITE_OK);
		snprintf(sql, sizeof sql, "INSERT INTO schema_migrations VALUES(%zu, 'then')", i + 1);
		assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	}
	assert_int_equal(sqlite3_exec(db, "INSERT INTO records(gateway, seq, role, request_in_ms,"
					  " success, personal) VALUES('" GW_BCA "', 7, 'consumer',"
					  " 1779999999000, 1, 0);"
					  "INSERT INTO gateways(name, member, cursor) VALUES('" GW_BCA
					  "', '" BCA "', 7)", NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(mstore_open(loc, false, &st), NDX_OK);
	assert_int_equal(mstore_cursor(st, GW_BCA, &after), NDX_OK);
	assert_int_equal(after, 7);
	assert_int_equal(mstore_live(st, NULL, NOW, 60000, &live), NDX_OK);
	assert_int_equal(json_integer_value(json_object_get(live, "exchanges")), 1);
	json_decref(live);
	mstore_close(st);
	assert_int_equal(sqlite3_open(loc, &db), SQLITE_OK);
	{
		sqlite3_stmt *s;

		assert_int_equal(sqlite3_prepare_v2(db, "SELECT max(version) FROM schema_migrations",
						    -1, &s, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_step(s), SQLITE_ROW);
		assert_int_equal(sqlite3_column_int(s, 0), (int)mstore_db_desc.n_migrations);
		sqlite3_finalize(s);
	}
	sqlite3_close(db);
	unlink(loc);
}

/* PostgreSQL: a password in the connection string is refused before
 * connecting and never printed; a schema newer than this program and a
 * schema holding another daemon's store are refused. */
static void test_pg_refusals(void **state)
{
	struct fx *f = *state;
	char msg[4096], stmt[300], loc[1024];
	const char *sp;

	assert_int_equal(open_quietly("postgresql://postgres:s3cr3t-pw@127.0.0.1:1/x", true, msg,
				      sizeof msg), NDX_EINVAL);
	assert_non_null(strstr(msg, "password"));
	assert_null(strstr(msg, "s3cr3t-pw"));
	assert_int_equal(open_quietly("postgresql://127.0.0.1:1/x?password=s3cr3t-pw", false, msg,
				      sizeof msg), NDX_EINVAL);
	assert_null(strstr(msg, "s3cr3t-pw"));
	/* the fixture's schema made newer than the program */
	mstore_close(f->st);
	f->st = NULL;
	sp = strstr(f->path, "search_path%3D");
	assert_non_null(sp);
	snprintf(stmt, sizeof stmt, "UPDATE %s.meta SET value = '99' WHERE key = 'pg_schema'",
		 sp + strlen("search_path%3D"));
	mstore_fixture_pg_exec(stmt);
	assert_int_equal(open_quietly(f->path, false, msg, sizeof msg), NDX_EDB);
	assert_non_null(strstr(msg, "newer"));
	/* another daemon's store in a schema of its own */
	mstore_fixture_loc("test_mstore_other", loc, sizeof loc);
	sp = strstr(loc, "search_path%3D") + strlen("search_path%3D");
	snprintf(stmt, sizeof stmt, "CREATE TABLE %s.meta(key text PRIMARY KEY, value text NOT"
		 " NULL); INSERT INTO %s.meta VALUES('kind', 'portal'), ('pg_schema', '1')", sp, sp);
	mstore_fixture_pg_exec(stmt);
	assert_int_equal(open_quietly(loc, false, msg, sizeof msg), NDX_EDB);
	assert_non_null(strstr(msg, "portal"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pages_are_kept_once_and_bad_records_refused,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_live_counts_each_exchange_once, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_an_agency_sees_only_its_own, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gateway_up_down_and_prune, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_window, setup, teardown),
		cmocka_unit_test_setup_teardown(test_series, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_store_and_no_second, setup, teardown),
	};
	const struct CMUnitTest sqlite_only[] = {
		cmocka_unit_test(test_older_monitor_db_upgrades),
	};
	const struct CMUnitTest pg_only[] = {
		cmocka_unit_test_setup_teardown(test_pg_refusals, setup, teardown),
	};
	bool pg;
	int rc = mstore_fixture_engine(&pg);

	if (rc >= 0)
		return rc;
	rc = cmocka_run_group_tests_name(pg ? "mstore_pg" : "mstore_sqlite", tests, NULL, NULL);
	return rc | (pg ? cmocka_run_group_tests_name("mstore_pg_own", pg_only, NULL, NULL)
			: cmocka_run_group_tests_name("mstore_sqlite_own", sqlite_only, NULL, NULL));
}
