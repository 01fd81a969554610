/* Unit tests of the gateway's operational monitoring store
 * (src/gateway/opmon.c, compiled into this test): records queued and
 * written, cursor paging, the derived durations and nulls, retention by
 * time and by count, the bounded queue dropping (and counting) what does
 * not fit while the writer is busy, the health data, the query parser and
 * the path template rules that keep personal numbers out of the records.
 *
 * The store's tests run on both engines (tests/unit/store_engines.h): a
 * file (suite unit), or with NDX_TEST_ENGINE=pg a schema of its own in the
 * PostgreSQL database NDX_TEST_PG (suite pg, make test-pg), which adds its
 * refusals (a password in the connection string, never printed; no server;
 * a schema newer than the program) and two gateway nodes writing to one
 * schema, each reading the records of both. */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <pthread.h>
#include <semaphore.h>

#include <cmocka.h>
#include <jansson.h>
#include <sqlite3.h>

#include "store_engines.h"

#include "opmon.h"
#include "ndx/err.h"

#define SVC_A "VN/GOV/BCA/population/citizens"
#define SVC_B "VN/GOV/BCA/population/echo"
#define CLIENT "VN/GOV/BTC/tax"

struct fx {
	char path[1100]; /* a file, or a connection string to a schema of its own */
	struct gw_opmon *m;
};

static const struct gw_opmon_options DEFAULTS = {
	.retention_s = GW_OPMON_RETENTION_S_DEFAULT, .max_records = GW_OPMON_MAX_RECORDS_DEFAULT,
	.queue_cap = GW_OPMON_QUEUE_DEFAULT
};

static int try_open(const char *loc)
{
	struct gw_opmon *m = NULL;
	char err[512] = "";
	int rc = gw_opmon_open(loc, &DEFAULTS, &m, err, sizeof err);

	if (err[0])
		fprintf(stderr, "%s\n", err);
	gw_opmon_close(m);
	return rc;
}

static const struct store_engines ENGINES = {
	.name = "opmon", .what = "gateway opmon store", .schema_prefix = 'o',
	.db_file = "opmon.db", .holds = "gateway opmon store", .try_open = try_open,
	.try_create = try_open,
};

static struct fx *fx_open(struct gw_opmon_options o)
{
	struct fx *f = calloc(1, sizeof *f);
	char err[256] = "";

	assert_non_null(f);
	new_loc(f->path, sizeof f->path);
	if (gw_opmon_open(f->path, &o, &f->m, err, sizeof err) != NDX_OK)
		fail_msg("open: %s", err);
	return f;
}

static struct fx *fx_default(void)
{
	struct gw_opmon_options o = { .retention_s = GW_OPMON_RETENTION_S_DEFAULT,
				      .max_records = GW_OPMON_MAX_RECORDS_DEFAULT,
				      .queue_cap = GW_OPMON_QUEUE_DEFAULT };
	return fx_open(o);
}

static void fx_close(struct fx *f)
{
	const char *suffix[] = { "", "-wal", "-shm" };
	char p[1200];

	gw_opmon_close(f->m);
	for (size_t i = 0; i < sizeof suffix / sizeof *suffix; i++) {
		snprintf(p, sizeof p, "%s%s", f->path, suffix[i]);
		unlink(p);
	}
	free(f);
}

static void add(struct gw_opmon *m, const char *service, int64_t t, bool ok, int64_t dur,
		int64_t size)
{
	struct gw_opmon_in in = {
		.role = GW_OPMON_CONSUMER,
		.message_id = "m",
		.client = CLIENT,
		.service = service,
		.client_gateway = "VN/GOV/BTC/gw1",
		.service_gateway = "VN/GOV/BCA/gw1",
		.method = "GET",
		.path_template = "/citizens/*",
		.request_in = t,
		.request_out = t + 1,
		.response_in = t + 1 + dur / 2,
		.response_out = t + dur,
		.request_size = size,
		.response_size = 2 * size,
		.success = ok,
		.error_type = ok ? NULL : "Server.ServerProxy.AccessDenied",
		.status = ok ? 200 : 500,
		.peer_ms = dur / 2,
		.provider_ms = GW_OPMON_NONE,
		.purpose = "tax",
	};
	gw_opmon_record(m, &in);
}

static json_t *read_json(struct gw_opmon *m, const struct gw_opmon_query *q)
{
	char *text = NULL;
	size_t len = 0;
	json_t *doc;

	assert_int_equal(gw_opmon_query_wait(m, q, "VN/GOV/BTC/gw1", &text, &len), NDX_OK);
	doc = json_loadb(text, len, 0, NULL);
	free(text);
	assert_non_null(doc);
	return doc;
}

static json_t *page(struct gw_opmon *m, int64_t after, int64_t limit)
{
	struct gw_opmon_query q = { .kind = GW_OPMON_Q_RECORDS, .after = after, .limit = limit,
				    .from_ms = GW_OPMON_NONE, .to_ms = GW_OPMON_NONE };
	return read_json(m, &q);
}

static void test_insert_and_cursor_paging(void **state)
{
	struct fx *f = fx_default();
	int64_t now = gw_opmon_now_ms(), after = 0, seen = 0, last = 0;
	json_t *doc, *r;
	(void)state;

	for (int i = 0; i < 25; i++)
		add(f->m, SVC_A, now + i, i % 5 != 0, 40, 10 + i);
	assert_int_equal(gw_opmon_flush(f->m), NDX_OK);
	for (;;) {
		size_t i;

		doc = page(f->m, after, 10);
		assert_string_equal(json_string_value(json_object_get(doc, "gateway")),
				    "VN/GOV/BTC/gw1");
		if (json_array_size(json_object_get(doc, "records")) == 0) {
			assert_int_equal(json_integer_value(json_object_get(doc, "next_after")), after);
			json_decref(doc);
			break;
		}
		assert_true(json_array_size(json_object_get(doc, "records")) <= 10);
		json_array_foreach(json_object_get(doc, "records"), i, r) {
			int64_t seq = json_integer_value(json_object_get(r, "seq"));

			assert_true(seq > last);
			last = seq;
			seen++;
		}
		after = json_integer_value(json_object_get(doc, "next_after"));
		assert_int_equal(after, last);
		json_decref(doc);
	}
	assert_int_equal(seen, 25);
	/* One record's fields: derived durations, nulls, the role's name. */
	doc = page(f->m, 0, 1);
	r = json_array_get(json_object_get(doc, "records"), 0);
	assert_string_equal(json_string_value(json_object_get(r, "role")), "consumer");
	assert_int_equal(json_integer_value(json_object_get(r, "duration_ms")), 40);
	assert_int_equal(json_integer_value(json_object_get(r, "peer_ms")), 20);
	assert_int_equal(json_integer_value(json_object_get(r, "own_ms")), 20);
	assert_true(json_is_null(json_object_get(r, "provider_ms")));
	assert_false(json_is_true(json_object_get(r, "success")));
	assert_string_equal(json_string_value(json_object_get(r, "error_type")),
			    "Server.ServerProxy.AccessDenied");
	assert_int_equal(json_integer_value(json_object_get(r, "request_size")), 10);
	assert_int_equal(json_integer_value(json_object_get(r, "response_size")), 20);
	assert_false(json_is_true(json_object_get(r, "personal")));
	json_decref(doc);
	fx_close(f);
}

/* Every role is stored and read back by its name, the connector's (DSP)
 * included. */
static void test_role_names(void **state)
{
	static const char *const names[] = { "consumer", "provider", "event_out",
					      "event_in", "dsp_out",  "dsp_in" };
	struct fx *f = fx_default();
	int64_t now = gw_opmon_now_ms();
	json_t *doc, *recs;
	(void)state;

	for (int i = 0; i < 6; i++) {
		struct gw_opmon_in in = {
			.role = (enum gw_opmon_role)i,
			.message_id = "m",
			.method = "POST",
			.request_in = now + i,
			.request_out = GW_OPMON_NONE,
			.response_in = GW_OPMON_NONE,
			.response_out = now + i + 1,
			.request_size = 1,
			.response_size = 1,
			.success = true,
			.status = 200,
			.peer_ms = GW_OPMON_NONE,
			.provider_ms = GW_OPMON_NONE,
		};
		gw_opmon_record(f->m, &in);
	}
	assert_int_equal(gw_opmon_flush(f->m), NDX_OK);
	doc = page(f->m, 0, 10);
	recs = json_object_get(doc, "records");
	assert_int_equal(json_array_size(recs), 6);
	for (size_t i = 0; i < 6; i++)
		assert_string_equal(
			json_string_value(json_object_get(json_array_get(recs, i), "role")),
			names[i]);
	json_decref(doc);
	fx_close(f);
}

/* Rows of sqlite_master of the given type and name in the store at path. */
static int count_schema(const char *path, const char *type, const char *name)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int n = -1;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master"
					    " WHERE type = ?1 AND name = ?2", -1, &st, NULL),
			 SQLITE_OK);
	sqlite3_bind_text(st, 1, type, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

/* Migration 2 drops records_service, which no query used: a store made by
 * migration 1 alone (its index put back and its version taken off) loses
 * the index, keeps records_time and its records, and is at version 2. */
static void test_unused_index_dropped(void **state)
{
	struct fx *f = fx_default();
	int64_t now = gw_opmon_now_ms();
	char err[256] = "";
	sqlite3 *db = NULL;
	json_t *doc;
	(void)state;

	assert_int_equal(count_schema(f->path, "index", "records_service"), 0);
	assert_int_equal(count_schema(f->path, "index", "records_time"), 1);
	add(f->m, SVC_A, now, true, 2, 1);
	assert_int_equal(gw_opmon_flush(f->m), NDX_OK);
	gw_opmon_close(f->m);
	f->m = NULL;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE INDEX records_service ON records(service,"
				      " request_in); DELETE FROM schema_migrations WHERE version >= 2",
				      NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(count_schema(f->path, "index", "records_service"), 1);
	assert_int_equal(gw_opmon_open(f->path, &DEFAULTS, &f->m, err, sizeof err), NDX_OK);
	assert_int_equal(count_schema(f->path, "index", "records_service"), 0);
	assert_int_equal(count_schema(f->path, "index", "records_time"), 1);
	doc = page(f->m, 0, 10);
	assert_int_equal(json_array_size(json_object_get(doc, "records")), 1);
	json_decref(doc);
	fx_close(f);
}

static void test_time_window(void **state)
{
	struct fx *f = fx_default();
	int64_t now = gw_opmon_now_ms();
	struct gw_opmon_query q = { .kind = GW_OPMON_Q_RECORDS, .limit = 100,
				    .from_ms = now + 3, .to_ms = now + 7 };
	json_t *doc;
	(void)state;

	for (int i = 0; i < 10; i++)
		add(f->m, SVC_A, now + i, true, 2, 1);
	assert_int_equal(gw_opmon_flush(f->m), NDX_OK);
	doc = read_json(f->m, &q);
	assert_int_equal(json_array_size(json_object_get(doc, "records")), 4);
	json_decref(doc);
	fx_close(f);
}

static void test_retention_by_time(void **state)
{
	struct gw_opmon_options o = { .retention_s = 3600, .max_records = 1000,
				      .queue_cap = 64 };
	struct fx *f = fx_open(o);
	int64_t now = gw_opmon_now_ms();
	struct gw_opmon_stats st;
	json_t *doc, *r;
	size_t i;
	(void)state;

	for (int k = 0; k < 5; k++)
		add(f->m, SVC_A, now - 7200 * 1000 + k, true, 1, 1); /* two hours old */
	for (int k = 0; k < 3; k++)
		add(f->m, SVC_A, now - 60 * 1000 + k, true, 1, 1);
	assert_int_equal(gw_opmon_flush(f->m), NDX_OK);
	assert_int_equal(gw_opmon_prune(f->m, now), NDX_OK);
	doc = page(f->m, 0, 100);
	assert_int_equal(json_array_size(json_object_get(doc, "records")), 3);
	json_array_foreach(json_object_get(doc, "records"), i, r)
		assert_true(json_integer_value(json_object_get(r, "request_in")) >= now - 60000);
	json_decref(doc);
	gw_opmon_stats(&st);
	assert_int_equal(st.pruned, 5);
	fx_close(f);
}

static void test_retention_by_count(void **state)
{
	struct gw_opmon_options o = { .retention_s = 86400, .max_records = 5, .queue_cap = 64 };
	struct fx *f = fx_open(o);
	int64_t now = gw_opmon_now_ms();
	json_t *doc;
	(void)state;

	for (int k = 0; k < 12; k++)
		add(f->m, SVC_A, now + k, true, 1, k);
	assert_int_equal(gw_opmon_flush(f->m), NDX_OK);
	assert_int_equal(gw_opmon_prune(f->m, now), NDX_OK);
	doc = page(f->m, 0, 100);
	assert_int_equal(json_array_size(json_object_get(doc, "records")), 5);
	/* the newest five stay, and seq keeps counting after them */
	assert_int_equal(json_integer_value(json_object_get(
				 json_array_get(json_object_get(doc, "records"), 0), "seq")),
			 8);
	json_decref(doc);
	add(f->m, SVC_A, now + 20, true, 1, 1);
	assert_int_equal(gw_opmon_flush(f->m), NDX_OK);
	doc = page(f->m, 12, 100);
	assert_int_equal(json_integer_value(json_object_get(
				 json_array_get(json_object_get(doc, "records"), 0), "seq")),
			 13);
	json_decref(doc);
	fx_close(f);
}

/* The writer is held inside a read's callback: the queue fills and the
 * rest is dropped, counted, and never blocks the caller. */
static sem_t entered, release;

static void blocking_answer(void *ud, int rc, char *json, size_t len)
{
	(void)ud;
	(void)rc;
	(void)len;
	free(json);
	sem_post(&entered);
	sem_wait(&release);
}

static void test_full_queue_drops(void **state)
{
	struct gw_opmon_options o = { .retention_s = 86400, .max_records = 1000,
				      .queue_cap = 8 };
	struct fx *f = fx_open(o);
	struct gw_opmon_query q = { .kind = GW_OPMON_Q_HEALTH };
	struct gw_opmon_stats st;
	int64_t now = gw_opmon_now_ms();
	json_t *doc;
	(void)state;

	sem_init(&entered, 0, 0);
	sem_init(&release, 0, 0);
	assert_int_equal(gw_opmon_query(f->m, &q, "gw", blocking_answer, NULL), NDX_OK);
	sem_wait(&entered);
	for (int k = 0; k < 11; k++)
		add(f->m, SVC_A, now + k, true, 1, 1);
	gw_opmon_stats(&st);
	assert_int_equal(st.depth, 8);
	assert_int_equal(st.capacity, 8);
	assert_int_equal(st.dropped, 3);
	assert_int_equal(st.recorded, 8);
	sem_post(&release);
	assert_int_equal(gw_opmon_flush(f->m), NDX_OK);
	gw_opmon_stats(&st);
	assert_int_equal(st.depth, 0);
	assert_int_equal(st.written, 8);
	doc = page(f->m, 0, 100);
	assert_int_equal(json_array_size(json_object_get(doc, "records")), 8);
	json_decref(doc);
	sem_destroy(&entered);
	sem_destroy(&release);
	fx_close(f);
}

/* A batch is inserted as statements of 64, 16, 4 and 1 rows; each row
 * must keep its own fields, whichever statement and place in it it had,
 * also when the batch runs over the end of the ring. 150 records in two
 * batches: 60 (16 16 16 4 4 4), then 90 (64 16 4 4 1 1), the second
 * wrapping the ring of 100 slots. */
static void test_every_row_of_a_batch_keeps_its_fields(void **state)
{
	struct gw_opmon_options o = { .retention_s = 86400, .max_records = 1000,
				      .queue_cap = 100 };
	struct fx *f = fx_open(o);
	int64_t now = gw_opmon_now_ms(), after = 0, k = 0;
	const int batches[] = { 60, 90 };
	json_t *doc, *r;
	(void)state;

	for (int b = 0; b < 2; b++) {
		for (int i = 0; i < batches[b]; i++, k++) {
			char id[32];
			struct gw_opmon_in in = {
				.role = k % 2 ? GW_OPMON_PROVIDER : GW_OPMON_CONSUMER,
				.message_id = id, .client = CLIENT,
				.service = k % 3 ? SVC_A : SVC_B,
				.method = "GET", .path_template = "/citizens/*",
				.request_in = now + k, .request_out = GW_OPMON_NONE,
				.response_in = GW_OPMON_NONE, .response_out = now + k + 10,
				.request_size = k, .response_size = 1000 + k, .success = k % 7 != 0,
				.error_type = k % 7 ? NULL : "Server.ServerProxy.AccessDenied",
				.status = k % 7 ? 200 : 403, .peer_ms = k % 10,
				.provider_ms = GW_OPMON_NONE, .personal = k % 5 == 0,
			};
			snprintf(id, sizeof id, "message-%" PRId64, k);
			gw_opmon_record(f->m, &in);
		}
		assert_int_equal(gw_opmon_flush(f->m), NDX_OK);
	}
	k = 0;
	for (;;) {
		size_t i;

		doc = page(f->m, after, 40);
		if (json_array_size(json_object_get(doc, "records")) == 0) {
			json_decref(doc);
			break;
		}
		json_array_foreach(json_object_get(doc, "records"), i, r) {
			char id[32];

			snprintf(id, sizeof id, "message-%" PRId64, k);
			assert_string_equal(json_string_value(json_object_get(r, "message_id")), id);
			assert_string_equal(json_string_value(json_object_get(r, "role")),
					    k % 2 ? "provider" : "consumer");
			assert_string_equal(json_string_value(json_object_get(r, "service")),
					    k % 3 ? SVC_A : SVC_B);
			assert_int_equal(json_integer_value(json_object_get(r, "request_in")), now + k);
			assert_true(json_is_null(json_object_get(r, "request_out")));
			assert_int_equal(json_integer_value(json_object_get(r, "request_size")), k);
			assert_int_equal(json_integer_value(json_object_get(r, "response_size")),
					 1000 + k);
			assert_int_equal(json_integer_value(json_object_get(r, "duration_ms")), 10);
			assert_int_equal(json_integer_value(json_object_get(r, "own_ms")),
					 10 - k % 10);
			assert_int_equal(json_is_true(json_object_get(r, "success")), k % 7 != 0);
			assert_int_equal(json_integer_value(json_object_get(r, "status")),
					 k % 7 ? 200 : 403);
			assert_int_equal(json_is_true(json_object_get(r, "personal")), k % 5 == 0);
			after = json_integer_value(json_object_get(r, "seq"));
			k++;
		}
		json_decref(doc);
	}
	assert_int_equal(k, 150);
	fx_close(f);
}

static void test_health(void **state)
{
	struct fx *f = fx_default();
	int64_t now = gw_opmon_now_ms();
	struct gw_opmon_query q = { .kind = GW_OPMON_Q_HEALTH };
	json_t *doc, *svc, *per;
	size_t i;
	bool found_a = false, found_b = false;
	(void)state;

	add(f->m, SVC_A, now - 1000, true, 10, 100);
	add(f->m, SVC_A, now - 900, true, 30, 300);
	add(f->m, SVC_A, now - 800, false, 20, 200);
	add(f->m, SVC_A, now - 2 * 3600 * 1000, true, 50, 5); /* in the last day only */
	add(f->m, SVC_B, now - 100, true, 7, 7);
	assert_int_equal(gw_opmon_flush(f->m), NDX_OK);
	doc = read_json(f->m, &q);
	json_array_foreach(json_object_get(doc, "services"), i, svc) {
		const char *id = json_string_value(json_object_get(svc, "service"));

		assert_string_equal(json_string_value(json_object_get(svc, "role")), "consumer");
		if (strcmp(id, SVC_A) == 0) {
			found_a = true;
			per = json_object_get(json_object_get(svc, "periods"), "last_10_minutes");
			assert_int_equal(json_integer_value(json_object_get(per, "successful")), 2);
			assert_int_equal(json_integer_value(json_object_get(per, "failed")), 1);
			assert_int_equal(json_integer_value(json_object_get(per, "last_success")),
					 now - 900);
			assert_int_equal(json_integer_value(json_object_get(per, "last_failure")),
					 now - 800);
			assert_int_equal(json_integer_value(json_object_get(
						 json_object_get(per, "duration_ms"), "min")),
					 10);
			assert_int_equal(json_integer_value(json_object_get(
						 json_object_get(per, "duration_ms"), "max")),
					 30);
			assert_true(json_real_value(json_object_get(
					    json_object_get(per, "request_size"), "avg")) == 200.0);
			per = json_object_get(json_object_get(svc, "periods"), "last_day");
			assert_int_equal(json_integer_value(json_object_get(per, "successful")), 3);
		} else {
			assert_string_equal(id, SVC_B);
			found_b = true;
		}
	}
	assert_true(found_a && found_b);
	json_decref(doc);
	fx_close(f);
}

static void test_query_parse(void **state)
{
	struct gw_opmon_query q;
	char err[160], text[160];
	(void)state;

	assert_int_equal(gw_opmon_query_parse(GW_OPMON_Q_RECORDS, NULL, NULL, NULL, NULL, &q, err,
					      sizeof err),
			 NDX_OK);
	assert_int_equal(q.limit, GW_OPMON_PAGE_DEFAULT);
	assert_int_equal(gw_opmon_query_text(&q, text, sizeof text), NDX_OK);
	assert_string_equal(text, "records?after=0&limit=1000");
	assert_int_equal(gw_opmon_query_parse(GW_OPMON_Q_RECORDS, "12", "10000", "5", "9", &q, err,
					      sizeof err),
			 NDX_OK);
	assert_int_equal(gw_opmon_query_text(&q, text, sizeof text), NDX_OK);
	assert_string_equal(text, "records?after=12&limit=10000&from=5&to=9");
	assert_int_equal(gw_opmon_query_parse(GW_OPMON_Q_RECORDS, NULL, "10001", NULL, NULL, &q,
					      err, sizeof err),
			 NDX_EINVAL);
	assert_int_equal(gw_opmon_query_parse(GW_OPMON_Q_RECORDS, NULL, "0", NULL, NULL, &q, err,
					      sizeof err),
			 NDX_EINVAL);
	assert_int_equal(gw_opmon_query_parse(GW_OPMON_Q_RECORDS, "-1", NULL, NULL, NULL, &q, err,
					      sizeof err),
			 NDX_EINVAL);
	assert_int_equal(gw_opmon_query_parse(GW_OPMON_Q_RECORDS, "1 ", NULL, NULL, NULL, &q, err,
					      sizeof err),
			 NDX_EINVAL);
	assert_int_equal(gw_opmon_query_parse(GW_OPMON_Q_HEALTH, NULL, "5", NULL, NULL, &q, err,
					      sizeof err),
			 NDX_EINVAL);
	assert_int_equal(gw_opmon_query_parse(GW_OPMON_Q_HEALTH, NULL, NULL, NULL, NULL, &q, err,
					      sizeof err),
			 NDX_OK);
	assert_int_equal(gw_opmon_query_text(&q, text, sizeof text), NDX_OK);
	assert_string_equal(text, "health");
}

/* The message-log reads: accesses is a cursor (after, limit), proof one seq;
 * each refuses the other's arguments, and neither is the store's. */
static void test_message_log_query_parse(void **state)
{
	struct gw_opmon_query q;
	struct gw_opmon_args a;
	enum gw_opmon_query_kind kind;
	char err[160], text[160], *json = NULL;
	size_t len = 0;
	struct fx *f;

	(void)state;
	assert_int_equal(gw_opmon_query_kind("accesses", &kind), NDX_OK);
	assert_int_equal(kind, GW_OPMON_Q_ACCESSES);
	assert_int_equal(gw_opmon_query_kind("proof", &kind), NDX_OK);
	assert_int_equal(kind, GW_OPMON_Q_PROOF);
	assert_int_equal(gw_opmon_query_kind("records", &kind), NDX_OK);
	assert_int_equal(kind, GW_OPMON_Q_RECORDS);
	assert_int_equal(gw_opmon_query_kind("health", &kind), NDX_OK);
	assert_int_equal(kind, GW_OPMON_Q_HEALTH);
	assert_int_equal(gw_opmon_query_kind("proofs", &kind), NDX_EINVAL);
	assert_int_equal(gw_opmon_query_kind("", &kind), NDX_EINVAL);
	assert_int_equal(gw_opmon_query_kind(NULL, &kind), NDX_EINVAL);

	a = (struct gw_opmon_args){ 0 };
	assert_int_equal(gw_opmon_query_parse_args(GW_OPMON_Q_ACCESSES, &a, &q, err, sizeof err),
			 NDX_OK);
	assert_int_equal(gw_opmon_query_text(&q, text, sizeof text), NDX_OK);
	assert_string_equal(text, "accesses?after=0&limit=1000");
	a = (struct gw_opmon_args){ .after = "41", .limit = "10000" };
	assert_int_equal(gw_opmon_query_parse_args(GW_OPMON_Q_ACCESSES, &a, &q, err, sizeof err),
			 NDX_OK);
	assert_int_equal(gw_opmon_query_text(&q, text, sizeof text), NDX_OK);
	assert_string_equal(text, "accesses?after=41&limit=10000");
	a = (struct gw_opmon_args){ .limit = "0" };
	assert_int_equal(gw_opmon_query_parse_args(GW_OPMON_Q_ACCESSES, &a, &q, err, sizeof err),
			 NDX_EINVAL);
	assert_non_null(strstr(err, "limit"));
	a = (struct gw_opmon_args){ .limit = "10001" };
	assert_int_equal(gw_opmon_query_parse_args(GW_OPMON_Q_ACCESSES, &a, &q, err, sizeof err),
			 NDX_EINVAL);
	a = (struct gw_opmon_args){ .after = "-1" };
	assert_int_equal(gw_opmon_query_parse_args(GW_OPMON_Q_ACCESSES, &a, &q, err, sizeof err),
			 NDX_EINVAL);
	assert_non_null(strstr(err, "after"));
	a = (struct gw_opmon_args){ .after = "" };
	assert_int_equal(gw_opmon_query_parse_args(GW_OPMON_Q_ACCESSES, &a, &q, err, sizeof err),
			 NDX_EINVAL);
	a = (struct gw_opmon_args){ .from = "5" };
	assert_int_equal(gw_opmon_query_parse_args(GW_OPMON_Q_ACCESSES, &a, &q, err, sizeof err),
			 NDX_EINVAL);
	a = (struct gw_opmon_args){ .seq = "5" };
	assert_int_equal(gw_opmon_query_parse_args(GW_OPMON_Q_ACCESSES, &a, &q, err, sizeof err),
			 NDX_EINVAL);

	a = (struct gw_opmon_args){ .seq = "517" };
	assert_int_equal(gw_opmon_query_parse_args(GW_OPMON_Q_PROOF, &a, &q, err, sizeof err),
			 NDX_OK);
	assert_int_equal(q.seq, 517);
	assert_int_equal(gw_opmon_query_text(&q, text, sizeof text), NDX_OK);
	assert_string_equal(text, "proof?seq=517");
	a = (struct gw_opmon_args){ 0 };
	assert_int_equal(gw_opmon_query_parse_args(GW_OPMON_Q_PROOF, &a, &q, err, sizeof err),
			 NDX_EINVAL);
	assert_non_null(strstr(err, "seq"));
	a = (struct gw_opmon_args){ .seq = "0" };
	assert_int_equal(gw_opmon_query_parse_args(GW_OPMON_Q_PROOF, &a, &q, err, sizeof err),
			 NDX_EINVAL);
	a = (struct gw_opmon_args){ .seq = "9223372036854775808" };
	assert_int_equal(gw_opmon_query_parse_args(GW_OPMON_Q_PROOF, &a, &q, err, sizeof err),
			 NDX_EINVAL);
	a = (struct gw_opmon_args){ .seq = "3", .after = "1" };
	assert_int_equal(gw_opmon_query_parse_args(GW_OPMON_Q_PROOF, &a, &q, err, sizeof err),
			 NDX_EINVAL);

	/* The records read keeps its rules: seq is not its argument. */
	a = (struct gw_opmon_args){ .after = "3", .seq = "9" };
	assert_int_equal(gw_opmon_query_parse_args(GW_OPMON_Q_RECORDS, &a, &q, err, sizeof err),
			 NDX_OK);
	assert_int_equal(gw_opmon_query_text(&q, text, sizeof text), NDX_OK);
	assert_string_equal(text, "records?after=3&limit=1000");

	/* The store answers records and health only. */
	f = fx_default();
	a = (struct gw_opmon_args){ .seq = "1" };
	assert_int_equal(gw_opmon_query_parse_args(GW_OPMON_Q_PROOF, &a, &q, err, sizeof err),
			 NDX_OK);
	assert_int_equal(gw_opmon_query_wait(f->m, &q, "VN/GOV/BTC/gw1", &json, &len), NDX_EINVAL);
	assert_null(json);
	fx_close(f);
}

static void test_path_template_redaction(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "/citizens/001099012345", "/citizens/{}" },
		{ "/citizens/001099012345/household", "/citizens/{}/household" },
		{ "/v1/records/abc", "/{}/records/abc" },
		{ "/a%2F001099012345", "/{}" },
		{ "/enterprises/0101234567-001/tax", "/enterprises/{}/tax" },
		{ "", "" },
		{ "/", "/" },
		{ "/plain/path/", "/plain/path/" },
		{ "x7", "{}" },
	};
	char out[GW_OPMON_PATH_CAP], tiny[8], longpath[600];
	(void)state;

	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		gw_opmon_redact_path(cases[i].in, out, sizeof out);
		assert_string_equal(out, cases[i].out);
		/* without a grant's pattern, or with "*", the template is the redaction */
		gw_opmon_path_template(NULL, cases[i].in, out, sizeof out);
		assert_string_equal(out, cases[i].out);
		gw_opmon_path_template("*", cases[i].in, out, sizeof out);
		assert_string_equal(out, cases[i].out);
	}
	/* the grant's pattern is the template, a PIN in it starred out */
	gw_opmon_path_template("/citizens/*", "/citizens/001099012345", out, sizeof out);
	assert_string_equal(out, "/citizens/*");
	gw_opmon_path_template("/c/001099012345/*", "/c/001099012345/x", out, sizeof out);
	assert_string_equal(out, "/c/************/*");
	gw_opmon_redact_path("/abcdefghijkl", tiny, sizeof tiny);
	assert_string_equal(tiny, "/abcdef");
	gw_opmon_redact_path("/abc/001099012345", tiny, sizeof tiny);
	assert_string_equal(tiny, "/abc/{}");
	/* a long path is cut, never a number let through */
	memset(longpath, 0, sizeof longpath);
	for (size_t k = 0; k + 14 < sizeof longpath; k += 14)
		memcpy(longpath + k, "/001099012345x", 14);
	gw_opmon_redact_path(longpath, out, sizeof out);
	assert_null(strpbrk(out, "0123456789"));
}

/* PostgreSQL's refusals: a password in the string (refused before
 * connecting, never printed), a server that is not there (named without a
 * password), a schema newer than this program. A fresh schema is made at
 * open and opened at its version after. */
static void test_pg_refusals(void **state)
{
	char loc[700];
	const char *msg;
	int rc;

	(void)state;
	msg = stderr_of(try_open, "postgresql://gw:s3cr3t-pw@127.0.0.1:1/x", &rc);
	assert_int_equal(rc, NDX_EINVAL);
	assert_non_null(strstr(msg, "password"));
	assert_null(strstr(msg, "s3cr3t-pw"));
	msg = stderr_of(try_open, "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2", &rc);
	assert_int_equal(rc, NDX_EDB);
	assert_non_null(strstr(msg, "postgresql://nobody@127.0.0.1:1/none"));
	new_loc(loc, sizeof loc);
	assert_int_equal(try_open(loc), NDX_OK);
	assert_int_equal(try_open(loc), NDX_OK);
	pg_refuses_newer(loc);
}

/* Two gateway nodes on one schema: each writes its records, either reads
 * them all, in one order. */
static void test_pg_two_nodes(void **state)
{
	struct fx *f = fx_default();
	struct gw_opmon *n2 = NULL;
	char err[256] = "";
	int64_t now = gw_opmon_now_ms();
	json_t *doc, *r;
	size_t i;
	int64_t last = 0;
	(void)state;

	assert_int_equal(gw_opmon_open(f->path, &DEFAULTS, &n2, err, sizeof err), NDX_OK);
	for (int k = 0; k < 4; k++) {
		add(f->m, SVC_A, now + k, true, 1, 1);
		add(n2, SVC_B, now + k, false, 1, 1);
		assert_int_equal(gw_opmon_flush(f->m), NDX_OK);
		assert_int_equal(gw_opmon_flush(n2), NDX_OK);
	}
	doc = page(n2, 0, 100);
	assert_int_equal(json_array_size(json_object_get(doc, "records")), 8);
	json_array_foreach(json_object_get(doc, "records"), i, r) {
		assert_true(json_integer_value(json_object_get(r, "seq")) > last);
		last = json_integer_value(json_object_get(r, "seq"));
	}
	json_decref(doc);
	gw_opmon_close(n2);
	fx_close(f);
}

int main(void)
{
	const struct CMUnitTest both[] = {
		cmocka_unit_test(test_insert_and_cursor_paging),
		cmocka_unit_test(test_role_names),
		cmocka_unit_test(test_time_window),
		cmocka_unit_test(test_retention_by_time),
		cmocka_unit_test(test_retention_by_count),
		cmocka_unit_test(test_full_queue_drops),
		cmocka_unit_test(test_every_row_of_a_batch_keeps_its_fields),
		cmocka_unit_test(test_health),
	};
	/* No store in these: run once. */
	const struct CMUnitTest sqlite_only[] = {
		cmocka_unit_test(test_query_parse),
		cmocka_unit_test(test_path_template_redaction),
		cmocka_unit_test(test_message_log_query_parse),
		cmocka_unit_test(test_sqlite_garbage),
		cmocka_unit_test(test_unused_index_dropped),
	};
	const struct CMUnitTest pg_only[] = {
		cmocka_unit_test(test_pg_refusals),
		cmocka_unit_test(test_pg_two_nodes),
	};

	(void)pg_refusals; /* store_engines.h's: this store is made at open, not by an init */
	(void)run_killed;
	(void)pg_ctl;
	return STORE_ENGINES_MAIN(&ENGINES, both, sqlite_only, pg_only);
}
