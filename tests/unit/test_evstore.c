/* Unit tests of the gateway's event store (src/gateway/evstore.c, compiled
 * into this test): the outbox with its deliveries, the order rule per
 * subscriber, event type and subject (also against a plain model over a
 * long random run), retries, dead letters and replay, the inbox with
 * duplicate detection, paging and acknowledgements, the counts, and
 * durability across close and reopen. NDX_EVSTORE_BENCH=100000 times
 * due() over that many queued deliveries (printed, never asserted).
 *
 * The same tests run on both engines (tests/unit/store_engines.h): a file
 * (suite unit), or with NDX_TEST_ENGINE=pg a schema of its own in the
 * PostgreSQL database NDX_TEST_PG (suite pg, make test-pg). SQLite alone:
 * files that are not an event store. PostgreSQL alone: its refusals (a
 * password in the connection string, never printed; no server; a schema
 * newer than the program), two gateway nodes on one schema (a due delivery
 * claimed by one of them only, taken again after the lease), and a publish
 * committed by a process then killed with SIGKILL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store_engines.h"

#include "evstore.h"
#include "ndx/err.h"

#define SERVICE "VN/GOV/BTP/civil-status/events"
#define T0 ((int64_t)1767225600000)

struct fx {
	char path[1100]; /* a file, or a connection string to a schema of its own */
	struct gw_evstore *s;
};

static int try_open(const char *loc)
{
	struct gw_evstore *s = NULL;
	char err[512] = "";
	int rc = gw_evstore_open(loc, &s, err, sizeof err);

	if (err[0])
		fprintf(stderr, "%s\n", err);
	gw_evstore_close(s);
	return rc;
}

static const struct store_engines ENGINES = {
	.name = "evstore", .what = "gateway event store", .schema_prefix = 'e',
	.db_file = "events.db", .holds = "gateway event store", .try_open = try_open,
	.try_create = try_open,
};

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	char err[256] = "";

	if (!f)
		return -1;
	new_loc(f->path, sizeof f->path);
	if (gw_evstore_open(f->path, &f->s, err, sizeof err) != NDX_OK) {
		fprintf(stderr, "%s\n", err);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	const char *suffix[] = {"", "-wal", "-shm", ".junk"};
	char p[1200];

	gw_evstore_close(f->s);
	for (size_t i = 0; i < sizeof suffix / sizeof *suffix; i++) {
		snprintf(p, sizeof p, "%s%s", f->path, suffix[i]);
		unlink(p);
	}
	free(f);
	return 0;
}

static void reopen(struct fx *f)
{
	char err[256] = "";

	gw_evstore_close(f->s);
	f->s = NULL;
	assert_int_equal(gw_evstore_open(f->path, &f->s, err, sizeof err), NDX_OK);
	assert_non_null(f->s);
}

/* An event with id "ev-<n>", of type name, about subject; the payload holds
 * bytes that are not text (a NUL among them) and the hash n's pattern. */
static const uint8_t PAYLOAD[] = {'{', '"', 'a', '"', ':', 0, 1, 0xff, '}'};

static void make_event(struct gw_event *ev, int n, const char *name, const char *subject)
{
	memset(ev, 0, sizeof *ev);
	snprintf(ev->id, sizeof ev->id, "ev-%d", n);
	ev->service = SERVICE;
	ev->name = name;
	ev->publisher = "VN/GOV/BTP/civil";
	ev->subject = subject;
	ev->time_ms = T0 + n;
	ev->payload = PAYLOAD;
	ev->payload_len = sizeof PAYLOAD;
	for (int i = 0; i < NDX_SHA256_LEN; i++)
		ev->hash[i] = (uint8_t)(n * 7 + i);
	ev->signature = "{\"alg\":\"EdDSA\",\"sig\":\"x\"}";
}

/* Publishes event n and returns its outbox seq. */
static int64_t publish(struct gw_evstore *s, int n, const char *name, const char *subject)
{
	struct gw_event ev;

	make_event(&ev, n, name, subject);
	assert_int_equal(gw_evstore_publish(s, &ev), NDX_OK);
	assert_true(ev.seq > 0);
	return ev.seq;
}

static void add(struct gw_evstore *s, int64_t seq, const char *client, int64_t next_at)
{
	assert_int_equal(gw_evstore_add_delivery(s, seq, client, "", next_at), NDX_OK);
}

/* The due deliveries at now as "seq/client" joined by spaces, "" when none. */
static void due_text(struct gw_evstore *s, int64_t now, size_t max, const int64_t *skip_seq,
		     const char *const *skip_client, size_t nskip, char *out, size_t cap)
{
	struct gw_due *d = NULL;
	size_t n = 99, used = 0;

	assert_int_equal(gw_evstore_due(s, now, max, skip_seq, skip_client, nskip, &d, &n), NDX_OK);
	assert_true(n <= max);
	out[0] = '\0';
	if (n == 0)
		assert_null(d);
	for (size_t i = 0; i < n; i++)
		used += (size_t)snprintf(out + used, cap - used, "%s%lld/%s", i ? " " : "",
					 (long long)d[i].ev.seq, d[i].client);
	gw_evstore_due_free(d, n);
}

static void assert_due(struct gw_evstore *s, int64_t now, const char *want)
{
	char got[4096];

	due_text(s, now, 64, NULL, NULL, 0, got, sizeof got);
	assert_string_equal(got, want);
}

static void check_event(const struct gw_event *got, int n, const char *name, const char *subject)
{
	struct gw_event want;

	make_event(&want, n, name, subject);
	assert_string_equal(got->id, want.id);
	assert_string_equal(got->service, want.service);
	assert_string_equal(got->name, want.name);
	assert_string_equal(got->publisher, want.publisher);
	assert_string_equal(got->subject, want.subject);
	assert_int_equal(got->time_ms, want.time_ms);
	assert_int_equal(got->payload_len, want.payload_len);
	assert_memory_equal(got->payload, want.payload, want.payload_len);
	assert_memory_equal(got->hash, want.hash, NDX_SHA256_LEN);
	assert_string_equal(got->signature, want.signature);
}

/* ---- outbox --------------------------------------------------------------- */

static void test_publish_round_trip(void **state)
{
	struct fx *f = *state;
	struct gw_due *d = NULL;
	struct gw_event ev;
	size_t n = 0;

	assert_int_equal(gw_evstore_begin(f->s), NDX_OK);
	assert_int_equal(publish(f->s, 1, "death", "001"), 1);
	assert_int_equal(publish(f->s, 2, "birth", ""), 2);
	make_event(&ev, 1, "death", "001");
	assert_int_equal(gw_evstore_publish(f->s, &ev), NDX_EEXIST);
	assert_int_equal(gw_evstore_add_delivery(f->s, 1, "VN/GOV/BCA/population", "death-benefit",
						 T0), NDX_OK);
	add(f->s, 1, "VN/GOV/BHXH/pension", T0);
	add(f->s, 2, "VN/GOV/BCA/population", T0);
	assert_int_equal(gw_evstore_add_delivery(f->s, 1, "VN/GOV/BHXH/pension", "", T0),
			 NDX_EEXIST);
	assert_int_equal(gw_evstore_add_delivery(f->s, 3, "VN/GOV/BHXH/pension", "", T0),
			 NDX_ENOTFOUND);
	/* the refusals left the transaction usable */
	assert_int_equal(gw_evstore_commit(f->s), NDX_OK);

	assert_int_equal(gw_evstore_due(f->s, T0, 64, NULL, NULL, 0, &d, &n), NDX_OK);
	assert_int_equal(n, 3);
	check_event(&d[0].ev, 1, "death", "001");
	assert_int_equal(d[0].ev.seq, 1);
	assert_string_equal(d[0].client, "VN/GOV/BCA/population");
	assert_string_equal(d[0].purpose, "death-benefit");
	assert_int_equal(d[0].attempts, 0);
	assert_int_equal(d[0].first_attempt_ms, 0);
	check_event(&d[1].ev, 1, "death", "001");
	assert_string_equal(d[1].client, "VN/GOV/BHXH/pension");
	assert_string_equal(d[1].purpose, "");
	check_event(&d[2].ev, 2, "birth", "");
	assert_int_equal(d[2].ev.seq, 2);
	gw_evstore_due_free(d, n);

	/* one outbox event by its id, for a repeated publish */
	{
		struct gw_due *one = NULL;

		assert_int_equal(gw_evstore_outbox_get(f->s, "ev-1", &one), NDX_OK);
		check_event(&one->ev, 1, "death", "001");
		assert_string_equal(one->client, "");
		gw_evstore_due_free(one, 1);
		assert_int_equal(gw_evstore_outbox_get(f->s, "ev-999",
						       &one), NDX_ENOTFOUND);
		assert_null(one);
		assert_int_equal(gw_evstore_outbox_get(f->s, "", &one), NDX_EINVAL);
	}

	/* not yet due; an empty payload stays an empty payload */
	assert_due(f->s, T0 - 1, "");
	assert_int_equal(gw_evstore_begin(f->s), NDX_OK);
	make_event(&ev, 3, "birth", "");
	ev.payload = NULL;
	ev.payload_len = 0;
	assert_int_equal(gw_evstore_publish(f->s, &ev), NDX_OK);
	add(f->s, ev.seq, "VN/GOV/BTC/tax", T0);
	assert_int_equal(gw_evstore_commit(f->s), NDX_OK);
	assert_int_equal(gw_evstore_due(f->s, T0, 64, NULL, NULL, 0, &d, &n), NDX_OK);
	assert_int_equal(n, 4);
	assert_int_equal(d[3].ev.payload_len, 0);
	gw_evstore_due_free(d, n);
}

static void test_order_rule(void **state)
{
	struct fx *f = *state;
	int64_t next;

	assert_int_equal(gw_evstore_begin(f->s), NDX_OK);
	publish(f->s, 1, "death", "001");       /* 1 */
	publish(f->s, 2, "death", "001");       /* 2: same subject and type as 1 */
	publish(f->s, 3, "death", "002");       /* 3: another subject */
	publish(f->s, 4, "birth", "001");       /* 4: another type */
	add(f->s, 1, "A", T0 + 1000);           /* the first, not due before T0 + 1000 */
	add(f->s, 2, "A", T0);
	add(f->s, 3, "A", T0);
	add(f->s, 4, "A", T0);
	add(f->s, 2, "B", T0);                  /* B has no earlier delivery of 001 */
	assert_int_equal(gw_evstore_commit(f->s), NDX_OK);

	assert_due(f->s, T0, "2/B 3/A 4/A");
	assert_int_equal(gw_evstore_next_due(f->s, &next), NDX_OK);
	assert_int_equal(next, T0);
	assert_due(f->s, T0 + 1000, "1/A 2/B 3/A 4/A");

	/* 1 retried later: 2 still waits behind it */
	assert_int_equal(gw_evstore_begin(f->s), NDX_OK);
	assert_int_equal(gw_evstore_attempted(f->s, 1, "A", GW_DELIVERY_QUEUED, T0 + 1000,
					      T0 + 5000, "connection refused", NULL), NDX_OK);
	assert_int_equal(gw_evstore_attempted(f->s, 2, "B", GW_DELIVERY_DELIVERED, T0 + 1000, 0,
					      "", "{\"receipt\":1}"), NDX_OK);
	assert_int_equal(gw_evstore_attempted(f->s, 3, "A", GW_DELIVERY_DELIVERED, T0 + 1000, 0,
					      "", "{\"receipt\":3}"), NDX_OK);
	assert_int_equal(gw_evstore_attempted(f->s, 4, "A", GW_DELIVERY_DELIVERED, T0 + 1000, 0,
					      "", "{\"receipt\":4}"), NDX_OK);
	assert_int_equal(gw_evstore_commit(f->s), NDX_OK);
	assert_due(f->s, T0 + 4999, "");
	assert_int_equal(gw_evstore_next_due(f->s, &next), NDX_OK);
	assert_int_equal(next, T0 + 5000);

	/* 1 dead: it no longer holds 2 back */
	assert_int_equal(gw_evstore_begin(f->s), NDX_OK);
	assert_int_equal(gw_evstore_attempted(f->s, 1, "A", GW_DELIVERY_DEAD, T0 + 5000, 0,
					      "gone", NULL), NDX_OK);
	assert_int_equal(gw_evstore_commit(f->s), NDX_OK);
	assert_due(f->s, T0 + 5000, "2/A");

	/* 2 delivered: nothing queued */
	assert_int_equal(gw_evstore_begin(f->s), NDX_OK);
	assert_int_equal(gw_evstore_attempted(f->s, 2, "A", GW_DELIVERY_DELIVERED, T0 + 5000, 0,
					      "", "{\"receipt\":2}"), NDX_OK);
	assert_int_equal(gw_evstore_commit(f->s), NDX_OK);
	assert_due(f->s, INT64_MAX, "");
	assert_int_equal(gw_evstore_next_due(f->s, &next), NDX_OK);
	assert_int_equal(next, INT64_MAX);
}

/* A delivery added out of outbox order still goes first. */
static void test_order_rule_late_add(void **state)
{
	struct fx *f = *state;

	assert_int_equal(gw_evstore_begin(f->s), NDX_OK);
	publish(f->s, 1, "death", "001");
	publish(f->s, 2, "death", "001");
	add(f->s, 2, "A", T0);
	add(f->s, 1, "A", T0 + 100);
	assert_int_equal(gw_evstore_commit(f->s), NDX_OK);
	assert_due(f->s, T0, "");
	assert_due(f->s, T0 + 100, "1/A");
}

static void test_skip(void **state)
{
	struct fx *f = *state;
	const int64_t skip_seq[] = {1, 3};
	const char *const skip_client[] = {"A", "A"};
	char got[256];

	assert_int_equal(gw_evstore_begin(f->s), NDX_OK);
	publish(f->s, 1, "death", "001");
	publish(f->s, 2, "death", "002");
	publish(f->s, 3, "death", "003");
	publish(f->s, 4, "death", "001");
	add(f->s, 1, "A", T0);
	add(f->s, 1, "B", T0);
	add(f->s, 2, "A", T0);
	add(f->s, 3, "A", T0);
	add(f->s, 4, "A", T0);
	assert_int_equal(gw_evstore_commit(f->s), NDX_OK);

	due_text(f->s, T0, 64, skip_seq, skip_client, 2, got, sizeof got);
	/* 1/A is in flight: 4/A still waits behind it */
	assert_string_equal(got, "1/B 2/A");
	due_text(f->s, T0, 1, skip_seq, skip_client, 2, got, sizeof got);
	assert_string_equal(got, "1/B");
	due_text(f->s, T0, 2, NULL, NULL, 0, got, sizeof got);
	assert_string_equal(got, "1/A 1/B");
	due_text(f->s, T0, 0, NULL, NULL, 0, got, sizeof got);
	assert_string_equal(got, "");
}

/* More due heads than due() sorts (it walks them in outbox order then):
 * the same order, the same skips. */
static void test_due_many(void **state)
{
	struct fx *f = *state;
	const int64_t skip_seq[] = {1, 3};
	const char *const skip_client[] = {"A", "B"};
	char got[256], subject[16];

	assert_int_equal(gw_evstore_begin(f->s), NDX_OK);
	for (int i = 1; i <= 1100; i++) {
		snprintf(subject, sizeof subject, "%05d", i);
		publish(f->s, i, "death", subject);
		add(f->s, i, "B", T0);
		add(f->s, i, "A", T0);
	}
	assert_int_equal(gw_evstore_commit(f->s), NDX_OK);
	due_text(f->s, T0, 6, skip_seq, skip_client, 2, got, sizeof got);
	assert_string_equal(got, "1/B 2/A 2/B 3/A 4/A 4/B");
	due_text(f->s, T0 - 1, 6, NULL, NULL, 0, got, sizeof got);
	assert_string_equal(got, "");
}

static void view_of(struct gw_evstore *s, const char *id, const char *client,
		    struct gw_delivery_view *out, char *last_error, size_t cap)
{
	struct gw_delivery_view *v = NULL;
	size_t n = 0;
	char *publisher = NULL;
	bool found = false;

	assert_int_equal(gw_evstore_deliveries_of(s, id, &publisher, &v, &n), NDX_OK);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(v[i].client, client) == 0) {
			*out = v[i];
			snprintf(last_error, cap, "%s", v[i].last_error);
			found = true;
		}
	}
	assert_true(found);
	out->service = out->name = out->subject = out->client = out->purpose = NULL;
	out->last_error = last_error;
	gw_evstore_views_free(v, n);
	free(publisher);
}

static void test_attempts(void **state)
{
	struct fx *f = *state;
	struct gw_delivery_view v;
	struct gw_due *d = NULL;
	struct gw_evstore_counts c;
	char err[128];
	size_t n;

	assert_int_equal(gw_evstore_begin(f->s), NDX_OK);
	publish(f->s, 1, "death", "001");
	publish(f->s, 2, "death", "002");
	add(f->s, 1, "A", T0);
	add(f->s, 2, "A", T0);
	assert_int_equal(gw_evstore_attempted(f->s, 1, "A", GW_DELIVERY_QUEUED, T0 + 10, T0 + 1010,
					      "503 from the subscriber's gateway", NULL), NDX_OK);
	assert_int_equal(gw_evstore_commit(f->s), NDX_OK);
	view_of(f->s, "ev-1", "A", &v, err, sizeof err);
	assert_int_equal(v.state, GW_DELIVERY_QUEUED);
	assert_int_equal(v.attempts, 1);
	assert_int_equal(v.next_at_ms, T0 + 1010);
	assert_int_equal(v.updated_ms, T0 + 10);
	assert_int_equal(v.published_ms, T0 + 1);
	assert_string_equal(v.last_error, "503 from the subscriber's gateway");
	assert_due(f->s, T0 + 1009, "2/A");

	/* the second attempt keeps the first attempt's time */
	assert_int_equal(gw_evstore_begin(f->s), NDX_OK);
	assert_int_equal(gw_evstore_attempted(f->s, 1, "A", GW_DELIVERY_QUEUED, T0 + 1010,
					      T0 + 3010, "timeout", NULL), NDX_OK);
	assert_int_equal(gw_evstore_commit(f->s), NDX_OK);
	assert_int_equal(gw_evstore_due(f->s, T0 + 3010, 1, NULL, NULL, 0, &d, &n), NDX_OK);
	assert_int_equal(n, 1);
	assert_int_equal(d[0].ev.seq, 1);
	assert_int_equal(d[0].attempts, 2);
	assert_int_equal(d[0].first_attempt_ms, T0 + 10);
	gw_evstore_due_free(d, n);

	/* delivered with a receipt; 2 dead */
	assert_int_equal(gw_evstore_begin(f->s), NDX_OK);
	assert_int_equal(gw_evstore_attempted(f->s, 1, "A", GW_DELIVERY_DELIVERED, T0 + 3010, 0,
					      NULL, NULL), NDX_EINVAL);  /* no receipt */
	assert_int_equal(gw_evstore_attempted(f->s, 1, "A", GW_DELIVERY_DELIVERED, T0 + 3010, 0,
					      "", "{\"receipt\":\"r1\"}"), NDX_OK);
	assert_int_equal(gw_evstore_attempted(f->s, 2, "A", GW_DELIVERY_DEAD, T0 + 3020, 0,
					      "retry budget spent", NULL), NDX_OK);
	assert_int_equal(gw_evstore_attempted(f->s, 2, "B", GW_DELIVERY_DEAD, T0, 0, "", NULL),
			 NDX_ENOTFOUND);
	assert_int_equal(gw_evstore_attempted(f->s, 9, "A", GW_DELIVERY_QUEUED, T0, 0, "", NULL),
			 NDX_ENOTFOUND);
	assert_int_equal(gw_evstore_commit(f->s), NDX_OK);
	view_of(f->s, "ev-1", "A", &v, err, sizeof err);
	assert_int_equal(v.state, GW_DELIVERY_DELIVERED);
	assert_int_equal(v.attempts, 3);
	assert_string_equal(v.last_error, "");
	view_of(f->s, "ev-2", "A", &v, err, sizeof err);
	assert_int_equal(v.state, GW_DELIVERY_DEAD);
	assert_int_equal(v.attempts, 1);
	assert_int_equal(v.updated_ms, T0 + 3020);
	assert_string_equal(v.last_error, "retry budget spent");
	assert_due(f->s, INT64_MAX, "");
	assert_int_equal(gw_evstore_counts(f->s, &c), NDX_OK);
	assert_int_equal(c.queued, 0);
	assert_int_equal(c.delivered, 1);
	assert_int_equal(c.dead, 1);
}

static void test_replay(void **state)
{
	struct fx *f = *state;
	struct gw_due *d = NULL;
	size_t n;

	assert_int_equal(gw_evstore_begin(f->s), NDX_OK);
	publish(f->s, 1, "death", "001");
	publish(f->s, 2, "death", "001");
	add(f->s, 1, "A", T0);
	add(f->s, 2, "A", T0);
	assert_int_equal(gw_evstore_attempted(f->s, 1, "A", GW_DELIVERY_QUEUED, T0, T0 + 10, "x",
					      NULL), NDX_OK);
	assert_int_equal(gw_evstore_attempted(f->s, 1, "A", GW_DELIVERY_DEAD, T0 + 10, 0, "y",
					      NULL), NDX_OK);
	assert_int_equal(gw_evstore_replay(f->s, 2, "A", T0), NDX_ENOTFOUND);  /* queued */
	assert_int_equal(gw_evstore_replay(f->s, 1, "B", T0), NDX_ENOTFOUND);  /* none */
	assert_int_equal(gw_evstore_commit(f->s), NDX_OK);
	assert_due(f->s, T0 + 20, "2/A");

	/* replayed, 1 goes first again and holds 2 back */
	assert_int_equal(gw_evstore_begin(f->s), NDX_OK);
	assert_int_equal(gw_evstore_replay(f->s, 1, "A", T0 + 20), NDX_OK);
	assert_int_equal(gw_evstore_commit(f->s), NDX_OK);
	assert_due(f->s, T0 + 19, "");
	assert_int_equal(gw_evstore_due(f->s, T0 + 20, 64, NULL, NULL, 0, &d, &n), NDX_OK);
	assert_int_equal(n, 1);
	assert_int_equal(d[0].ev.seq, 1);
	assert_int_equal(d[0].attempts, 0);
	assert_int_equal(d[0].first_attempt_ms, 0);
	gw_evstore_due_free(d, n);

	assert_int_equal(gw_evstore_begin(f->s), NDX_OK);
	assert_int_equal(gw_evstore_replay(f->s, 1, "A", T0), NDX_ENOTFOUND);  /* not dead now */
	assert_int_equal(gw_evstore_attempted(f->s, 1, "A", GW_DELIVERY_QUEUED, T0 + 20, T0 + 30,
					      "z", NULL), NDX_OK);
	assert_int_equal(gw_evstore_commit(f->s), NDX_OK);
	assert_int_equal(gw_evstore_due(f->s, T0 + 30, 64, NULL, NULL, 0, &d, &n), NDX_OK);
	assert_int_equal(n, 1);
	assert_int_equal(d[0].attempts, 1);
	assert_int_equal(d[0].first_attempt_ms, T0 + 20);  /* counted afresh from the replay */
	gw_evstore_due_free(d, n);
}

static void test_deliveries_of(void **state)
{
	struct fx *f = *state;
	struct gw_delivery_view *v = NULL;
	char *publisher = (char *)"untouched";
	size_t n = 7;

	assert_int_equal(gw_evstore_begin(f->s), NDX_OK);
	publish(f->s, 1, "death", "001");
	publish(f->s, 2, "death", "002");
	add(f->s, 1, "VN/GOV/BTC/tax", T0);
	assert_int_equal(gw_evstore_add_delivery(f->s, 1, "VN/GOV/BCA/population", "registry",
						 T0 + 5), NDX_OK);
	add(f->s, 1, "VN/GOV/BHXH/pension", T0);
	assert_int_equal(gw_evstore_attempted(f->s, 1, "VN/GOV/BHXH/pension", GW_DELIVERY_DEAD,
					      T0 + 9, 0, "410", NULL), NDX_OK);
	assert_int_equal(gw_evstore_commit(f->s), NDX_OK);

	assert_int_equal(gw_evstore_deliveries_of(f->s, "ev-404", &publisher, &v, &n),
			 NDX_ENOTFOUND);
	assert_string_equal(publisher, "untouched");
	assert_null(v);
	assert_int_equal(n, 0);

	assert_int_equal(gw_evstore_deliveries_of(f->s, "ev-1", &publisher, &v, &n), NDX_OK);
	assert_string_equal(publisher, "VN/GOV/BTP/civil");
	free(publisher);
	assert_int_equal(n, 3);
	assert_string_equal(v[0].client, "VN/GOV/BCA/population");
	assert_string_equal(v[0].purpose, "registry");
	assert_int_equal(v[0].next_at_ms, T0 + 5);
	assert_string_equal(v[1].client, "VN/GOV/BHXH/pension");
	assert_int_equal(v[1].state, GW_DELIVERY_DEAD);
	assert_string_equal(v[1].last_error, "410");
	assert_string_equal(v[2].client, "VN/GOV/BTC/tax");
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(v[i].seq, 1);
		assert_string_equal(v[i].id, "ev-1");
		assert_string_equal(v[i].service, SERVICE);
		assert_string_equal(v[i].name, "death");
		assert_string_equal(v[i].subject, "001");
		assert_int_equal(v[i].published_ms, T0 + 1);
	}
	gw_evstore_views_free(v, n);

	/* an event without subscribers; publisher may be NULL */
	assert_int_equal(gw_evstore_deliveries_of(f->s, "ev-2", NULL, &v, &n), NDX_OK);
	assert_int_equal(n, 0);
	assert_null(v);
}

static void test_dead_paging(void **state)
{
	struct fx *f = *state;
	struct gw_delivery_view *v = NULL;
	size_t n;

	assert_int_equal(gw_evstore_begin(f->s), NDX_OK);
	for (int i = 1; i <= 6; i++) {
		char subject[8];

		snprintf(subject, sizeof subject, "%03d", i);
		publish(f->s, i, "death", subject);
		add(f->s, i, "A", T0);
		/* 3 is delivered, the others dead */
		assert_int_equal(gw_evstore_attempted(f->s, i, "A",
						      i == 3 ? GW_DELIVERY_DELIVERED : GW_DELIVERY_DEAD,
						      T0 + i, 0, "e", "{}"), NDX_OK);
	}
	assert_int_equal(gw_evstore_commit(f->s), NDX_OK);

	const int64_t pages[][3] = {{1, 2, 0}, {4, 5, 0}, {6, 0, 0}};
	int64_t after = 0;

	for (size_t p = 0; p < 3; p++) {
		assert_int_equal(gw_evstore_dead(f->s, after, 2, &v, &n), NDX_OK);
		for (size_t i = 0; i < 2 && pages[p][i]; i++) {
			assert_true(i < n);
			assert_int_equal(v[i].seq, pages[p][i]);
			assert_int_equal(v[i].state, GW_DELIVERY_DEAD);
			assert_string_equal(v[i].last_error, "e");
			after = v[i].seq;
		}
		assert_int_equal(n, pages[p][1] ? 2 : 1);
		gw_evstore_views_free(v, n);
	}
	assert_int_equal(gw_evstore_dead(f->s, after, 2, &v, &n), NDX_OK);
	assert_int_equal(n, 0);
	assert_null(v);
	assert_int_equal(gw_evstore_dead(f->s, 0, 0, &v, &n), NDX_OK);
	assert_int_equal(n, 0);
}

/* ---- inbox ---------------------------------------------------------------- */

static int64_t receive(struct gw_evstore *s, int n, const char *client, bool want_dup)
{
	struct gw_event ev;
	bool dup = !want_dup;

	make_event(&ev, n, "death", "001");
	assert_int_equal(gw_evstore_receive(s, &ev, client, "pension", &dup), NDX_OK);
	assert_int_equal(dup, want_dup);
	return ev.seq;
}

static void test_receive_duplicates(void **state)
{
	struct fx *f = *state;
	struct gw_inbox_entry *e = NULL;

	assert_int_equal(gw_evstore_begin(f->s), NDX_OK);
	assert_int_equal(receive(f->s, 1, "A", false), 1);
	assert_int_equal(receive(f->s, 2, "A", false), 2);
	assert_int_equal(receive(f->s, 1, "A", true), 1);   /* the same id again */
	assert_int_equal(receive(f->s, 1, "B", false), 3);  /* the same id, another client */
	assert_int_equal(gw_evstore_commit(f->s), NDX_OK);
	assert_int_equal(gw_evstore_begin(f->s), NDX_OK);
	assert_int_equal(receive(f->s, 2, "A", true), 2);   /* also after a commit */
	assert_int_equal(gw_evstore_commit(f->s), NDX_OK);

	assert_int_equal(gw_evstore_inbox_entry(f->s, "B", "ev-1", &e), NDX_OK);
	check_event(&e->ev, 1, "death", "001");
	assert_int_equal(e->ev.seq, 3);
	assert_string_equal(e->client, "B");
	assert_string_equal(e->purpose, "pension");
	assert_false(e->acknowledged);
	assert_true(e->received_ms > 0);
	gw_evstore_inbox_free(e, 1);
	assert_int_equal(gw_evstore_inbox_entry(f->s, "B", "ev-2", &e), NDX_ENOTFOUND);
	assert_null(e);
}

/* The inbox seqs of client after after, as "1 2 3". */
static void inbox_text(struct gw_evstore *s, const char *client, int64_t after, size_t max,
		       bool unacked, char *out, size_t cap)
{
	struct gw_inbox_entry *e = NULL;
	size_t n = 99, used = 0;

	assert_int_equal(gw_evstore_inbox(s, client, after, max, unacked, &e, &n), NDX_OK);
	out[0] = '\0';
	if (n == 0)
		assert_null(e);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(e[i].client, client);
		assert_true(!unacked || !e[i].acknowledged);
		used += (size_t)snprintf(out + used, cap - used, "%s%lld%s", i ? " " : "",
					 (long long)e[i].ev.seq, e[i].acknowledged ? "+" : "");
	}
	gw_evstore_inbox_free(e, n);
}

static void test_inbox_paging(void **state)
{
	struct fx *f = *state;
	char got[256];

	assert_int_equal(gw_evstore_begin(f->s), NDX_OK);
	for (int i = 1; i <= 5; i++) {
		receive(f->s, i, "A", false);      /* A: 1 3 5 7 9 */
		receive(f->s, 100 + i, "B", false); /* B: 2 4 6 8 10 */
	}
	assert_int_equal(gw_evstore_ack(f->s, "A", "ev-2", T0), NDX_OK);  /* seq 3 */
	assert_int_equal(gw_evstore_ack(f->s, "A", "ev-3", T0), NDX_OK);  /* seq 5 */
	assert_int_equal(gw_evstore_commit(f->s), NDX_OK);

	inbox_text(f->s, "A", 0, 2, false, got, sizeof got);
	assert_string_equal(got, "1 3+");
	inbox_text(f->s, "A", 3, 2, false, got, sizeof got);
	assert_string_equal(got, "5+ 7");
	inbox_text(f->s, "A", 7, 2, false, got, sizeof got);
	assert_string_equal(got, "9");
	inbox_text(f->s, "A", 9, 2, false, got, sizeof got);
	assert_string_equal(got, "");
	inbox_text(f->s, "A", 0, 2, true, got, sizeof got);
	assert_string_equal(got, "1 7");
	inbox_text(f->s, "A", 1, 64, true, got, sizeof got);
	assert_string_equal(got, "7 9");
	inbox_text(f->s, "B", 4, 64, false, got, sizeof got);
	assert_string_equal(got, "6 8 10");
	inbox_text(f->s, "C", 0, 64, false, got, sizeof got);
	assert_string_equal(got, "");
	inbox_text(f->s, "A", 0, 0, false, got, sizeof got);
	assert_string_equal(got, "");
}

static void test_ack(void **state)
{
	struct fx *f = *state;
	struct gw_inbox_entry *e = NULL;

	assert_int_equal(gw_evstore_begin(f->s), NDX_OK);
	receive(f->s, 1, "A", false);
	assert_int_equal(gw_evstore_ack(f->s, "A", "ev-404", T0), NDX_ENOTFOUND);
	assert_int_equal(gw_evstore_ack(f->s, "B", "ev-1", T0), NDX_ENOTFOUND);  /* A's, not B's */
	assert_int_equal(gw_evstore_ack(f->s, "A", "ev-1", T0), NDX_OK);
	assert_int_equal(gw_evstore_ack(f->s, "A", "ev-1", T0 + 1), NDX_OK);     /* twice */
	assert_int_equal(gw_evstore_commit(f->s), NDX_OK);
	assert_int_equal(gw_evstore_inbox_entry(f->s, "A", "ev-1", &e), NDX_OK);
	assert_true(e->acknowledged);
	gw_evstore_inbox_free(e, 1);
}

static void test_counts(void **state)
{
	struct fx *f = *state;
	struct gw_evstore_counts c;

	assert_int_equal(gw_evstore_counts(f->s, &c), NDX_OK);
	assert_int_equal(c.queued + c.delivered + c.dead + c.inbox_unacked, 0);
	assert_int_equal(gw_evstore_begin(f->s), NDX_OK);
	for (int i = 1; i <= 4; i++) {
		publish(f->s, i, "death", "001");
		add(f->s, i, "A", T0);
		add(f->s, i, "B", T0);
	}
	assert_int_equal(gw_evstore_attempted(f->s, 1, "A", GW_DELIVERY_DELIVERED, T0, 0, "", "{}"),
			 NDX_OK);
	assert_int_equal(gw_evstore_attempted(f->s, 1, "B", GW_DELIVERY_DEAD, T0, 0, "", NULL),
			 NDX_OK);
	assert_int_equal(gw_evstore_attempted(f->s, 2, "B", GW_DELIVERY_DEAD, T0, 0, "", NULL),
			 NDX_OK);
	assert_int_equal(gw_evstore_attempted(f->s, 3, "B", GW_DELIVERY_QUEUED, T0, T0, "", NULL),
			 NDX_OK);
	assert_int_equal(gw_evstore_replay(f->s, 2, "B", T0), NDX_OK);
	receive(f->s, 7, "A", false);
	receive(f->s, 8, "A", false);
	receive(f->s, 8, "A", true);
	receive(f->s, 9, "C", false);
	assert_int_equal(gw_evstore_ack(f->s, "A", "ev-7", T0), NDX_OK);
	assert_int_equal(gw_evstore_ack(f->s, "A", "ev-7", T0), NDX_OK);
	/* read inside the transaction too */
	assert_int_equal(gw_evstore_counts(f->s, &c), NDX_OK);
	assert_int_equal(gw_evstore_commit(f->s), NDX_OK);
	assert_int_equal(c.queued, 6);
	assert_int_equal(c.delivered, 1);
	assert_int_equal(c.dead, 1);
	assert_int_equal(c.inbox_unacked, 2);
	assert_int_equal(gw_evstore_counts(f->s, &c), NDX_OK);
	assert_int_equal(c.queued, 6);
}

/* ---- durability ----------------------------------------------------------- */

static void test_durable_reopen(void **state)
{
	struct fx *f = *state;
	struct gw_evstore_counts c;
	struct gw_inbox_entry *e = NULL;
	char *publisher = NULL;
	struct gw_delivery_view *v = NULL;
	size_t n;

	assert_int_equal(gw_evstore_begin(f->s), NDX_OK);
	publish(f->s, 1, "death", "001");
	publish(f->s, 2, "death", "001");
	add(f->s, 1, "A", T0 + 50);
	add(f->s, 2, "A", T0);
	add(f->s, 2, "B", T0);
	assert_int_equal(gw_evstore_attempted(f->s, 2, "B", GW_DELIVERY_DEAD, T0, 0, "e", NULL),
			 NDX_OK);
	receive(f->s, 9, "A", false);
	assert_int_equal(gw_evstore_commit(f->s), NDX_OK);
	reopen(f);

	assert_due(f->s, T0, "");        /* 2/A still behind 1/A */
	assert_due(f->s, T0 + 50, "1/A");
	assert_int_equal(gw_evstore_deliveries_of(f->s, "ev-2", &publisher, &v, &n), NDX_OK);
	assert_int_equal(n, 2);
	assert_int_equal(v[1].state, GW_DELIVERY_DEAD);
	gw_evstore_views_free(v, n);
	free(publisher);
	assert_int_equal(gw_evstore_inbox_entry(f->s, "A", "ev-9", &e), NDX_OK);
	check_event(&e->ev, 9, "death", "001");
	gw_evstore_inbox_free(e, 1);
	assert_int_equal(gw_evstore_counts(f->s, &c), NDX_OK);
	assert_int_equal(c.queued, 2);
	assert_int_equal(c.dead, 1);
	assert_int_equal(c.inbox_unacked, 1);

	/* seqs go on, ids stay taken */
	assert_int_equal(gw_evstore_begin(f->s), NDX_OK);
	assert_int_equal(publish(f->s, 3, "death", "003"), 3);
	struct gw_event ev;

	make_event(&ev, 1, "death", "001");
	assert_int_equal(gw_evstore_publish(f->s, &ev), NDX_EEXIST);
	assert_int_equal(receive(f->s, 9, "A", true), 1);
	assert_int_equal(gw_evstore_commit(f->s), NDX_OK);
}

static void test_rollback(void **state)
{
	struct fx *f = *state;
	struct gw_evstore_counts c;
	struct gw_delivery_view *v = NULL;
	size_t n;

	assert_int_equal(gw_evstore_begin(f->s), NDX_OK);
	publish(f->s, 1, "death", "001");
	add(f->s, 1, "A", T0);
	receive(f->s, 5, "A", false);
	gw_evstore_rollback(f->s);
	assert_due(f->s, INT64_MAX, "");
	assert_int_equal(gw_evstore_deliveries_of(f->s, "ev-1", NULL, &v, &n), NDX_ENOTFOUND);
	assert_int_equal(gw_evstore_counts(f->s, &c), NDX_OK);
	assert_int_equal(c.queued + c.inbox_unacked, 0);
	gw_evstore_rollback(f->s);  /* none open: nothing happens */

	/* close with a transaction open rolls it back */
	assert_int_equal(gw_evstore_begin(f->s), NDX_OK);
	add(f->s, publish(f->s, 1, "death", "001"), "A", T0);
	reopen(f);
	assert_due(f->s, INT64_MAX, "");
	assert_int_equal(gw_evstore_counts(f->s, &c), NDX_OK);
	assert_int_equal(c.queued, 0);

	/* a transaction after a rollback works (on PostgreSQL the seqs that
	 * the rolled back publishes drew are not drawn again: a gap) */
	assert_int_equal(gw_evstore_begin(f->s), NDX_OK);
	int64_t seq = publish(f->s, 1, "death", "001");
	char want[32];

	add(f->s, seq, "A", T0);
	assert_int_equal(gw_evstore_commit(f->s), NDX_OK);
	snprintf(want, sizeof want, "%lld/A", (long long)seq);
	assert_due(f->s, T0, want);
	if (!pg_base)
		assert_int_equal(seq, 1);
}

static void test_reopen_migrated(void **state)
{
	struct fx *f = *state;

	reopen(f);
	reopen(f);
	assert_int_equal(gw_evstore_begin(f->s), NDX_OK);
	assert_int_equal(publish(f->s, 1, "death", "001"), 1);
	assert_int_equal(gw_evstore_commit(f->s), NDX_OK);
}

static void test_not_a_database(void **state)
{
	struct fx *f = *state;
	struct gw_evstore *s = (struct gw_evstore *)f;
	char path[1200], err[512] = "";
	FILE *fp;

	snprintf(path, sizeof path, "%s.junk", f->path);
	assert_non_null(fp = fopen(path, "w"));
	for (int i = 0; i < 200; i++)
		fputs("this is not an SQLite database, only text. ", fp);
	fclose(fp);
	assert_int_equal(gw_evstore_open(path, &s, err, sizeof err), NDX_EDB);
	assert_null(s);
	assert_non_null(strstr(err, path));
	unlink(path);

	/* another program's database, at schema version 1 of its own */
	sqlite3 *db;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE schema_migrations(version INTEGER PRIMARY"
				      " KEY, applied_at TEXT NOT NULL);"
				      "INSERT INTO schema_migrations VALUES(1, 'x');"
				      "CREATE TABLE members(id TEXT)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	err[0] = '\0';
	s = (struct gw_evstore *)f;
	assert_int_equal(gw_evstore_open(path, &s, err, sizeof err), NDX_EDB);
	assert_null(s);
	assert_non_null(strstr(err, "no such table"));

	/* a newer schema than this program knows */
	unlink(path);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE schema_migrations(version INTEGER PRIMARY"
				      " KEY, applied_at TEXT NOT NULL);"
				      "INSERT INTO schema_migrations VALUES(2, 'x');",
				      NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	s = (struct gw_evstore *)f;
	assert_int_equal(gw_evstore_open(path, &s, err, sizeof err), NDX_EDB);
	assert_null(s);
	unlink(path);

	/* a directory that does not exist */
	snprintf(path, sizeof path, "%s/no/such/dir/events.db", tmpdir);
	assert_int_not_equal(gw_evstore_open(path, &s, err, sizeof err), NDX_OK);
	assert_null(s);
}

static void test_bad_input(void **state)
{
	struct fx *f = *state;
	struct gw_evstore *s = f->s, *none = NULL;
	struct gw_event ev;
	struct gw_due *d = NULL;
	struct gw_delivery_view *v = NULL;
	struct gw_inbox_entry *e = NULL;
	struct gw_evstore_counts c;
	const int64_t skip_seq[] = {1};
	const char *const skip_null[] = {NULL};
	bool dup;
	size_t n;
	char err[128];

	assert_int_equal(gw_evstore_open(NULL, &none, err, sizeof err), NDX_EINVAL);
	assert_int_equal(gw_evstore_open("", &none, err, sizeof err), NDX_EINVAL);
	assert_int_equal(gw_evstore_open(f->path, NULL, NULL, 0), NDX_EINVAL);
	gw_evstore_close(NULL);
	assert_int_equal(gw_evstore_begin(NULL), NDX_EINVAL);
	assert_int_equal(gw_evstore_commit(NULL), NDX_EINVAL);
	gw_evstore_rollback(NULL);

	/* writes outside a transaction are refused */
	make_event(&ev, 1, "death", "001");
	assert_int_equal(gw_evstore_publish(s, &ev), NDX_EINVAL);
	assert_int_equal(gw_evstore_commit(s), NDX_EINVAL);

	assert_int_equal(gw_evstore_begin(s), NDX_OK);
	assert_int_equal(gw_evstore_begin(s), NDX_EINVAL);  /* one at a time */
	for (size_t i = 0; i < 4; i++) {
		for (int empty = 0; empty < 2; empty++) {
			make_event(&ev, 1, "death", "001");
			const char **p = i == 0 ? &ev.service : i == 1 ? &ev.name :
					 i == 2 ? &ev.publisher : &ev.signature;

			*p = empty ? "" : NULL;
			assert_int_equal(gw_evstore_publish(s, &ev), NDX_EINVAL);
			assert_int_equal(gw_evstore_receive(s, &ev, "A", "", &dup), NDX_EINVAL);
		}
	}
	make_event(&ev, 1, "death", NULL);
	assert_int_equal(gw_evstore_publish(s, &ev), NDX_EINVAL);
	make_event(&ev, 1, "death", "001");
	ev.id[0] = '\0';
	assert_int_equal(gw_evstore_publish(s, &ev), NDX_EINVAL);
	memset(ev.id, 'x', sizeof ev.id);  /* not terminated */
	assert_int_equal(gw_evstore_publish(s, &ev), NDX_EINVAL);
	make_event(&ev, 1, "death", "001");
	ev.payload = NULL;
	assert_int_equal(gw_evstore_publish(s, &ev), NDX_EINVAL);
	assert_int_equal(gw_evstore_publish(NULL, &ev), NDX_EINVAL);
	assert_int_equal(gw_evstore_publish(s, NULL), NDX_EINVAL);
	make_event(&ev, 1, "death", "001");
	assert_int_equal(gw_evstore_publish(s, &ev), NDX_OK);

	assert_int_equal(gw_evstore_add_delivery(s, 1, NULL, "", T0), NDX_EINVAL);
	assert_int_equal(gw_evstore_add_delivery(s, 1, "", "", T0), NDX_EINVAL);
	assert_int_equal(gw_evstore_add_delivery(s, 1, "A", NULL, T0), NDX_EINVAL);
	assert_int_equal(gw_evstore_attempted(s, 1, NULL, GW_DELIVERY_QUEUED, T0, T0, "", NULL),
			 NDX_EINVAL);
	assert_int_equal(gw_evstore_attempted(s, 1, "", GW_DELIVERY_QUEUED, T0, T0, "", NULL),
			 NDX_EINVAL);
	assert_int_equal(gw_evstore_attempted(s, 1, "A", (enum gw_delivery_state)7, T0, T0, "",
					      NULL), NDX_EINVAL);
	assert_int_equal(gw_evstore_attempted(s, 1, "A", GW_DELIVERY_DELIVERED, T0, T0, "", ""),
			 NDX_EINVAL);
	assert_int_equal(gw_evstore_replay(s, 1, NULL, T0), NDX_EINVAL);
	assert_int_equal(gw_evstore_replay(s, 1, "", T0), NDX_EINVAL);
	assert_int_equal(gw_evstore_receive(s, &ev, NULL, "", &dup), NDX_EINVAL);
	assert_int_equal(gw_evstore_receive(s, &ev, "", "", &dup), NDX_EINVAL);
	assert_int_equal(gw_evstore_receive(s, &ev, "A", NULL, &dup), NDX_EINVAL);
	assert_int_equal(gw_evstore_receive(s, &ev, "A", "", NULL), NDX_EINVAL);
	assert_int_equal(gw_evstore_ack(s, NULL, "ev-1", T0), NDX_EINVAL);
	assert_int_equal(gw_evstore_ack(s, "A", "", T0), NDX_EINVAL);
	assert_int_equal(gw_evstore_commit(s), NDX_OK);

	assert_int_equal(gw_evstore_due(NULL, T0, 1, NULL, NULL, 0, &d, &n), NDX_EINVAL);
	assert_int_equal(gw_evstore_due(s, T0, 1, NULL, NULL, 1, &d, &n), NDX_EINVAL);
	assert_int_equal(gw_evstore_due(s, T0, 1, skip_seq, skip_null, 1, &d, &n), NDX_EINVAL);
	assert_int_equal(gw_evstore_due(s, T0, 1, NULL, NULL, 0, NULL, &n), NDX_EINVAL);
	assert_int_equal(gw_evstore_next_due(s, NULL), NDX_EINVAL);
	assert_int_equal(gw_evstore_deliveries_of(s, NULL, NULL, &v, &n), NDX_EINVAL);
	assert_int_equal(gw_evstore_deliveries_of(s, "", NULL, &v, &n), NDX_EINVAL);
	assert_int_equal(gw_evstore_dead(s, 0, 1, NULL, &n), NDX_EINVAL);
	assert_int_equal(gw_evstore_inbox(s, NULL, 0, 1, false, &e, &n), NDX_EINVAL);
	assert_int_equal(gw_evstore_inbox(s, "", 0, 1, false, &e, &n), NDX_EINVAL);
	assert_int_equal(gw_evstore_inbox_entry(s, "A", NULL, &e), NDX_EINVAL);
	assert_int_equal(gw_evstore_inbox_entry(s, "", "ev-1", &e), NDX_EINVAL);
	assert_int_equal(gw_evstore_counts(s, NULL), NDX_EINVAL);
	assert_int_equal(gw_evstore_counts(NULL, &c), NDX_EINVAL);
	gw_evstore_due_free(NULL, 0);
	gw_evstore_views_free(NULL, 0);
	gw_evstore_inbox_free(NULL, 0);
	assert_string_equal(gw_delivery_state_name(GW_DELIVERY_QUEUED), "queued");
	assert_string_equal(gw_delivery_state_name(GW_DELIVERY_DELIVERED), "delivered");
	assert_string_equal(gw_delivery_state_name(GW_DELIVERY_DEAD), "dead");
}

/* ---- the order rule against a model --------------------------------------- */

#define M_CLIENTS 3
#define M_EVENTS 400

struct m_delivery {
	int64_t seq;
	int client;
	int group;  /* the event's type and subject */
	int state;
	int64_t next_at;
	bool exists;
};

static const char *const M_CLIENT[M_CLIENTS] = {"A", "B", "C"};

#define M_GROUPS 6

/* The earliest queued seq of each (client, group), 0 when none. */
static void model_heads(const struct m_delivery *m, size_t nm, int64_t head[M_CLIENTS][M_GROUPS])
{
	memset(head, 0, sizeof(int64_t) * M_CLIENTS * M_GROUPS);
	for (size_t i = 0; i < nm; i++) {
		int64_t *h = &head[m[i].client][m[i].group];

		if (m[i].exists && m[i].state == GW_DELIVERY_QUEUED && (!*h || m[i].seq < *h))
			*h = m[i].seq;
	}
}

/* The due list by the contract's own words: queued, next_at <= now, no
 * earlier queued delivery of the same client and group; in (seq, client)
 * order. */
static void model_due(const struct m_delivery *m, size_t nm, int64_t now, char *out, size_t cap)
{
	int64_t head[M_CLIENTS][M_GROUPS];
	size_t used = 0;

	model_heads(m, nm, head);
	out[0] = '\0';
	for (size_t i = 0; i < nm; i++) {
		if (m[i].exists && m[i].state == GW_DELIVERY_QUEUED && m[i].next_at <= now &&
		    head[m[i].client][m[i].group] == m[i].seq)
			used += (size_t)snprintf(out + used, cap - used, "%s%lld/%s", used ? " " : "",
						 (long long)m[i].seq, M_CLIENT[m[i].client]);
	}
}

/* The earliest next_at of a delivery that nothing holds back. */
static int64_t model_next(const struct m_delivery *m, size_t nm)
{
	int64_t head[M_CLIENTS][M_GROUPS], next = INT64_MAX;

	model_heads(m, nm, head);
	for (size_t i = 0; i < nm; i++)
		if (m[i].exists && m[i].state == GW_DELIVERY_QUEUED &&
		    head[m[i].client][m[i].group] == m[i].seq && m[i].next_at < next)
			next = m[i].next_at;
	return next;
}

static void test_order_model(void **state)
{
	struct fx *f = *state;
	/* deliveries by (seq - 1) * M_CLIENTS + client: (seq, client) order */
	static struct m_delivery m[M_EVENTS * M_CLIENTS];
	static char want[64 * 1024], got[64 * 1024];
	static int group_of[M_EVENTS + 1];
	const char *names[] = {"death", "birth"}, *subjects[] = {"001", "002", ""};
	int64_t now = T0, nseq = 0;
	unsigned seed = 17;

	memset(m, 0, sizeof m);
	assert_int_equal(gw_evstore_begin(f->s), NDX_OK);
	for (int step = 0; step < 3000; step++) {
		int op = rand_r(&seed) % 10;

		if ((op < 3 || nseq == 0) && nseq < M_EVENTS) {
			int group = rand_r(&seed) % M_GROUPS;

			group_of[nseq + 1] = group;
			assert_int_equal(publish(f->s, (int)nseq + 1, names[group / 3],
						 subjects[group % 3]), nseq + 1);
			nseq++;
			/* deliveries added in any order, sometimes much later */
			for (int c = 0; c < M_CLIENTS; c++) {
				if (rand_r(&seed) % 3 == 0)
					continue;
				struct m_delivery *d = &m[(nseq - 1) * M_CLIENTS + c];

				*d = (struct m_delivery){nseq, c, group, GW_DELIVERY_QUEUED,
							 now + rand_r(&seed) % 40 - 20, true};
				add(f->s, nseq, M_CLIENT[c], d->next_at);
			}
		} else if (op < 8) {
			size_t i = (size_t)rand_r(&seed) % (size_t)(nseq * M_CLIENTS);
			int st = rand_r(&seed) % 4;  /* queued twice as often */
			struct m_delivery *d = &m[i];
			int64_t seq = (int64_t)i / M_CLIENTS + 1, next = now + rand_r(&seed) % 60;
			int rc = gw_evstore_attempted(f->s, seq, M_CLIENT[i % M_CLIENTS],
						      st > 2 ? GW_DELIVERY_QUEUED
							     : (enum gw_delivery_state)st,
						      now, next, "e", "{}");

			if (!d->exists) {
				assert_int_equal(rc, NDX_ENOTFOUND);
				/* a late subscription to an old event */
				if (rand_r(&seed) % 2 == 0) {
					*d = (struct m_delivery){seq, (int)(i % M_CLIENTS),
								 group_of[seq], GW_DELIVERY_QUEUED,
								 now, true};
					add(f->s, seq, M_CLIENT[i % M_CLIENTS], now);
				}
				continue;
			}
			assert_int_equal(rc, NDX_OK);
			d->state = st > 2 ? GW_DELIVERY_QUEUED : st;
			d->next_at = next;
		} else if (op == 8) {
			size_t i = (size_t)rand_r(&seed) % (size_t)(nseq * M_CLIENTS);
			struct m_delivery *d = &m[i];
			int rc = gw_evstore_replay(f->s, (int64_t)i / M_CLIENTS + 1,
						   M_CLIENT[i % M_CLIENTS], now);

			if (d->exists && d->state == GW_DELIVERY_DEAD) {
				assert_int_equal(rc, NDX_OK);
				d->state = GW_DELIVERY_QUEUED;
				d->next_at = now;
			} else {
				assert_int_equal(rc, NDX_ENOTFOUND);
			}
		} else {
			now += rand_r(&seed) % 30;
		}
		if (step % 50 == 0) {
			assert_int_equal(gw_evstore_commit(f->s), NDX_OK);
			assert_int_equal(gw_evstore_begin(f->s), NDX_OK);
		}
		model_due(m, (size_t)nseq * M_CLIENTS, now, want, sizeof want);
		due_text(f->s, now, SIZE_MAX, NULL, NULL, 0, got, sizeof got);
		assert_string_equal(got, want);
		int64_t next;

		assert_int_equal(gw_evstore_next_due(f->s, &next), NDX_OK);
		assert_int_equal(next, model_next(m, (size_t)nseq * M_CLIENTS));
	}
	assert_int_equal(gw_evstore_commit(f->s), NDX_OK);

	struct gw_evstore_counts c, mc = {0};

	for (size_t i = 0; i < (size_t)nseq * M_CLIENTS; i++) {
		if (!m[i].exists)
			continue;
		mc.queued += m[i].state == GW_DELIVERY_QUEUED;
		mc.delivered += m[i].state == GW_DELIVERY_DELIVERED;
		mc.dead += m[i].state == GW_DELIVERY_DEAD;
	}
	assert_int_equal(gw_evstore_counts(f->s, &c), NDX_OK);
	assert_int_equal(c.queued, mc.queued);
	assert_int_equal(c.delivered, mc.delivered);
	assert_int_equal(c.dead, mc.dead);
}

/* ---- scale ----------------------------------------------------------------- */

static double ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* due(max 64) timed over rows queued deliveries, in three shapes: a burst
 * of distinct subjects all due; the same with every delivery backed off (a
 * subscriber that is down: each is the head of its subject's queue); one
 * subject's stream behind a backed-off first delivery. The results are
 * checked; the times only printed. */
static void timed_due(struct gw_evstore *s, int64_t now, size_t want, const char *shape,
		      long rows)
{
	struct gw_due *d = NULL;
	struct timespec t0;
	size_t n;
	double best = 1e9, worst = 0;

	for (int i = 0; i < 5; i++) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		assert_int_equal(gw_evstore_due(s, now, 64, NULL, NULL, 0, &d, &n), NDX_OK);
		double t = ms_since(&t0);

		best = t < best ? t : best;
		worst = t > worst ? t : worst;
		assert_int_equal(n, want);
		gw_evstore_due_free(d, n);
	}
	print_message("evstore: due(64) over %ld queued, %s: %zu due, %.3f ms "
		      "(best of 5; worst %.3f ms)\n", rows, shape, want, best, worst);
}

static void test_scale(void **state)
{
	struct fx *f = *state;
	const char *env = getenv("NDX_EVSTORE_BENCH");
	long rows = env ? strtol(env, NULL, 10) : 0;
	char subject[32];
	struct timespec t0;

	if (rows <= 0 || rows > 10000000)
		rows = 3000;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(gw_evstore_begin(f->s), NDX_OK);
	for (int i = 1; i <= rows; i++) {
		snprintf(subject, sizeof subject, "%09d", i);
		publish(f->s, i, "death", subject);
		add(f->s, i, "A", T0);
		if (i % 256 == 0) {  /* a loop turn's worth a transaction */
			assert_int_equal(gw_evstore_commit(f->s), NDX_OK);
			assert_int_equal(gw_evstore_begin(f->s), NDX_OK);
		}
	}
	assert_int_equal(gw_evstore_commit(f->s), NDX_OK);
	print_message("evstore: %ld events and deliveries in %.0f ms\n", rows, ms_since(&t0));
	timed_due(f->s, T0, 64, "all due, distinct subjects", rows);

	assert_int_equal(gw_evstore_begin(f->s), NDX_OK);
	for (int i = 1; i <= rows; i++)
		assert_int_equal(gw_evstore_attempted(f->s, i, "A", GW_DELIVERY_QUEUED, T0,
						      T0 + 60000, "down", NULL), NDX_OK);
	assert_int_equal(gw_evstore_commit(f->s), NDX_OK);
	timed_due(f->s, T0 + 1, 0, "all backed off, distinct subjects", rows);
	timed_due(f->s, T0 + 60000, 64, "all due again after the back-off", rows);

	assert_int_equal(gw_evstore_begin(f->s), NDX_OK);
	for (int i = 1; i <= rows; i++) {
		assert_int_equal(gw_evstore_attempted(f->s, i, "A", GW_DELIVERY_DELIVERED, T0, 0, "",
						      "{}"), NDX_OK);
		int64_t seq = publish(f->s, (int)rows + i, "birth", "000000001");

		add(f->s, seq, "C", i == 1 ? T0 + 60000 : T0);
	}
	assert_int_equal(gw_evstore_commit(f->s), NDX_OK);
	timed_due(f->s, T0 + 1, 0, "one stream behind a backed-off head", rows);
	timed_due(f->s, T0 + 60000, 1, "one stream, its head due", rows);
	int64_t next;

	assert_int_equal(gw_evstore_next_due(f->s, &next), NDX_OK);
	assert_int_equal(next, T0 + 60000);
}

/* ---- PostgreSQL alone --------------------------------------------------------- */

/* A password in the connection string (refused before connecting, never
 * printed), a server that is not there (named without a password), a
 * schema newer than this program. A fresh schema is made at open. */
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
	msg = stderr_of(try_open, "postgresql://127.0.0.1:1/x?password=s3cr3t-pw", &rc);
	assert_int_equal(rc, NDX_EINVAL);
	assert_null(strstr(msg, "s3cr3t-pw"));
	msg = stderr_of(try_open, "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2", &rc);
	assert_int_equal(rc, NDX_EDB);
	assert_non_null(strstr(msg, "postgresql://nobody@127.0.0.1:1/none"));
	new_loc(loc, sizeof loc);
	assert_int_equal(try_open(loc), NDX_OK);  /* made */
	assert_int_equal(try_open(loc), NDX_OK);  /* opened at its version */
	pg_refuses_newer(loc);
}

/* Two gateway nodes of one member on one schema: both read the same due
 * heads; each delivery is claimed by one of them, the other's claim takes
 * nothing; the commit of the attempt releases the claim; a node that goes
 * away leaves its claims to the other at once. */
static void test_pg_two_nodes(void **state)
{
	struct fx *f = *state;
	struct gw_evstore *b = NULL;
	struct gw_due *da = NULL, *db = NULL;
	size_t na = 0, nb = 0;
	char err[256] = "";

	assert_int_equal(gw_evstore_open(f->path, &b, err, sizeof err), NDX_OK);
	assert_int_equal(gw_evstore_begin(f->s), NDX_OK);
	add(f->s, publish(f->s, 1, "death", "001"), "A", T0);
	add(f->s, publish(f->s, 2, "death", "002"), "A", T0);
	assert_int_equal(gw_evstore_commit(f->s), NDX_OK);
	/* node b publishes too, into the same outbox and order */
	assert_int_equal(gw_evstore_begin(b), NDX_OK);
	add(b, publish(b, 3, "death", "001"), "A", T0);
	add(b, publish(b, 4, "death", "004"), "A", T0);
	assert_int_equal(gw_evstore_commit(b), NDX_OK);

	assert_int_equal(gw_evstore_due(f->s, T0, 2, NULL, NULL, 0, &da, &na), NDX_OK);
	assert_int_equal(gw_evstore_due(b, T0, 64, NULL, NULL, 0, &db, &nb), NDX_OK);
	assert_int_equal(na, 2);   /* 1/A and 2/A (3/A waits behind 1/A) */
	assert_int_equal(nb, 3);   /* 1/A, 2/A and 4/A */
	assert_int_equal(gw_evstore_claim(f->s, da, &na, T0), NDX_OK);
	assert_int_equal(gw_evstore_claim(b, db, &nb, T0), NDX_OK);
	assert_int_equal(na, 2);
	assert_int_equal(nb, 1);
	check_event(&da[0].ev, 1, "death", "001");
	assert_int_equal(db[0].ev.seq, 4);
	gw_evstore_due_free(db, nb);
	/* claimed again by the one that holds it, by nobody else */
	assert_int_equal(gw_evstore_due(b, T0, 64, NULL, NULL, 0, &db, &nb), NDX_OK);
	assert_int_equal(nb, 3);
	assert_int_equal(gw_evstore_claim(b, db, &nb, T0), NDX_OK);
	assert_int_equal(nb, 1);
	gw_evstore_due_free(db, nb);

	/* a delivers 1/A: 3/A becomes the head; a rollback keeps the claim */
	assert_int_equal(gw_evstore_begin(f->s), NDX_OK);
	assert_int_equal(gw_evstore_attempted(f->s, 1, "A", GW_DELIVERY_DELIVERED, T0 + 10, 0, "",
					      "{}"), NDX_OK);
	gw_evstore_rollback(f->s);
	assert_int_equal(gw_evstore_due(b, T0, 1, NULL, NULL, 0, &db, &nb), NDX_OK);
	assert_int_equal(nb, 1);
	assert_int_equal(gw_evstore_claim(b, db, &nb, T0), NDX_OK);
	assert_int_equal(nb, 0);
	gw_evstore_due_free(db, nb);
	assert_int_equal(gw_evstore_begin(f->s), NDX_OK);
	assert_int_equal(gw_evstore_attempted(f->s, 1, "A", GW_DELIVERY_DELIVERED, T0 + 10, 0, "",
					      "{}"), NDX_OK);
	assert_int_equal(gw_evstore_commit(f->s), NDX_OK);
	gw_evstore_due_free(da, na);
	/* 3/A, the new head, is free; 2/A is still a's */
	assert_int_equal(gw_evstore_due(b, T0, 64, NULL, NULL, 0, &db, &nb), NDX_OK);
	assert_int_equal(nb, 3);
	assert_int_equal(gw_evstore_claim(b, db, &nb, T0), NDX_OK);
	assert_int_equal(nb, 2);
	assert_int_equal(db[0].ev.seq, 3);
	assert_int_equal(db[1].ev.seq, 4);
	gw_evstore_due_free(db, nb);
	/* a goes away: its claim on 2/A with it */
	gw_evstore_close(f->s);
	f->s = NULL;
	assert_int_equal(gw_evstore_due(b, T0, 64, NULL, NULL, 0, &db, &nb), NDX_OK);
	assert_int_equal(gw_evstore_claim(b, db, &nb, T0), NDX_OK);
	assert_int_equal(nb, 3);
	gw_evstore_due_free(db, nb);

	struct gw_evstore_counts c;

	assert_int_equal(gw_evstore_counts(b, &c), NDX_OK);
	assert_int_equal(c.queued, 3);
	assert_int_equal(c.delivered, 1);
	/* a claim inside a transaction is refused */
	assert_int_equal(gw_evstore_begin(b), NDX_OK);
	nb = 0;
	assert_int_equal(gw_evstore_claim(b, NULL, &nb, T0), NDX_EINVAL);
	gw_evstore_rollback(b);
	f->s = b;  /* closed by the teardown */
}

/* Publishes and commits ev-1 with its delivery, then begins ev-2 and is
 * killed before committing it. */
static int publish_then_wait(const char *loc, int fd)
{
	struct gw_evstore *s = NULL;
	struct gw_event ev;
	char err[256];

	if (gw_evstore_open(loc, &s, err, sizeof err) || gw_evstore_begin(s))
		return 1;
	make_event(&ev, 1, "death", "001");
	if (gw_evstore_publish(s, &ev) || gw_evstore_add_delivery(s, ev.seq, "A", "", T0) ||
	    gw_evstore_commit(s))
		return 1;
	/* holds the claim on 1/A, as a node in the middle of delivering it */
	struct gw_due *d = NULL;
	size_t n = 0;

	if (gw_evstore_due(s, T0, 8, NULL, NULL, 0, &d, &n) || n != 1 ||
	    gw_evstore_claim(s, d, &n, T0) || n != 1)
		return 1;
	gw_evstore_due_free(d, n);
	make_event(&ev, 2, "death", "002");
	if (gw_evstore_begin(s) || gw_evstore_publish(s, &ev) ||
	    gw_evstore_add_delivery(s, ev.seq, "B", "", T0))
		return 1;
	return write(fd, "x", 1) == 1 ? 0 : 1;
}

/* What a commit acknowledged survives SIGKILL; what was not committed is
 * not there; the killed process's claim is free at once. */
static void test_pg_kill9(void **state)
{
	struct fx *f = *state;
	struct gw_due *d = NULL;
	size_t n = 0;

	run_killed(f->path, publish_then_wait, 0);
	assert_due(f->s, T0, "1/A");
	/* its session ends when the server sees the connection closed */
	for (int i = 0; i < 50 && n == 0; i++) {
		assert_int_equal(gw_evstore_due(f->s, T0, 8, NULL, NULL, 0, &d, &n), NDX_OK);
		assert_int_equal(gw_evstore_claim(f->s, d, &n, T0), NDX_OK);
		gw_evstore_due_free(d, n);
		d = NULL;
		if (n == 0)
			usleep(100000);
	}
	assert_int_equal(n, 1);
	assert_int_equal(gw_evstore_outbox_get(f->s, "ev-2", &d), NDX_ENOTFOUND);
	assert_int_equal(gw_evstore_outbox_get(f->s, "ev-1", &d), NDX_OK);
	check_event(&d->ev, 1, "death", "001");
	gw_evstore_due_free(d, 1);
	/* the killed process's writer lock went with its session */
	assert_int_equal(gw_evstore_begin(f->s), NDX_OK);
	add(f->s, publish(f->s, 3, "death", "003"), "B", T0);
	assert_int_equal(gw_evstore_commit(f->s), NDX_OK);
}

/* The server stops under an open store: reads and writes fail (NDX_EDB),
 * a write transaction begun is rolled back; once it is back, the store
 * goes on with what was committed (the session opened anew). Last: nothing
 * else runs while the server is down. */
static void test_pg_server_stopped(void **state)
{
	struct fx *f = *state;
	struct gw_evstore_counts c;
	struct gw_event ev;

	assert_int_equal(gw_evstore_begin(f->s), NDX_OK);
	add(f->s, publish(f->s, 1, "death", "001"), "A", T0);
	assert_int_equal(gw_evstore_commit(f->s), NDX_OK);
	pg_ctl("NDX_TEST_PG_STOP");
	assert_int_equal(gw_evstore_counts(f->s, &c), NDX_EDB);
	assert_int_not_equal(gw_evstore_begin(f->s), NDX_OK);
	gw_evstore_rollback(f->s);
	pg_ctl("NDX_TEST_PG_START");
	assert_due(f->s, T0, "1/A");
	assert_int_equal(gw_evstore_begin(f->s), NDX_OK);
	make_event(&ev, 2, "death", "002");
	assert_int_equal(gw_evstore_publish(f->s, &ev), NDX_OK);
	assert_int_equal(gw_evstore_commit(f->s), NDX_OK);
	assert_int_equal(gw_evstore_counts(f->s, &c), NDX_OK);
	assert_int_equal(c.queued, 1);
}

/* On SQLite claim keeps every entry (one events thread owns the file). */
static void test_claim_sqlite(void **state)
{
	struct fx *f = *state;
	struct gw_due *d = NULL;
	size_t n = 0;

	assert_int_equal(gw_evstore_begin(f->s), NDX_OK);
	add(f->s, publish(f->s, 1, "death", "001"), "A", T0);
	assert_int_equal(gw_evstore_commit(f->s), NDX_OK);
	assert_int_equal(gw_evstore_due(f->s, T0, 64, NULL, NULL, 0, &d, &n), NDX_OK);
	assert_int_equal(gw_evstore_claim(f->s, d, &n, T0), NDX_OK);
	assert_int_equal(n, 1);
	gw_evstore_due_free(d, n);
	assert_due(f->s, T0, "1/A");
	n = 0;
	assert_int_equal(gw_evstore_claim(NULL, NULL, &n, T0), NDX_EINVAL);
	assert_int_equal(gw_evstore_claim(f->s, NULL, NULL, T0), NDX_EINVAL);
}

int main(void)
{
	const struct CMUnitTest both[] = {
		cmocka_unit_test_setup_teardown(test_publish_round_trip, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_order_rule, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_order_rule_late_add, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_skip, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_due_many, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_attempts, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_replay, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_deliveries_of, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_dead_paging, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_receive_duplicates, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_inbox_paging, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_ack, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_counts, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_durable_reopen, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_rollback, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_reopen_migrated, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_bad_input, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_order_model, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_scale, fx_setup, fx_teardown),
	};
	const struct CMUnitTest sqlite_only[] = {
		cmocka_unit_test(test_sqlite_garbage),
		cmocka_unit_test_setup_teardown(test_not_a_database, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_claim_sqlite, fx_setup, fx_teardown),
	};
	const struct CMUnitTest pg_only[] = {
		cmocka_unit_test(test_pg_refusals),
		cmocka_unit_test_setup_teardown(test_pg_two_nodes, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_pg_kill9, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_pg_server_stopped, fx_setup, fx_teardown),
	};

	(void)pg_refusals; /* store_engines.h's: this store is made at open, not by an init */

	return STORE_ENGINES_MAIN(&ENGINES, both, sqlite_only, pg_only);
}
