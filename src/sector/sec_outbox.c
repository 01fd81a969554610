/* The sector's transactional outbox and its publisher (sec_outbox.h). The
 * outbox rules - which write of which table publishes which event with
 * which payload - are the table RULES below; the payloads follow the event
 * types' schemas that `ndx demo` registers (docs/sectors.md "Events").
 * Overview: docs/events.md "Publishing". */
#include "sec_outbox.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ndx/err.h"
#include "ndx/evclient.h"
#include "ndx/sqldb.h"
#include "ndx/sqlstore.h"
#include "ndx/timefmt.h"
#include "store.h"
#include "store_pg.h"

#define PROG "ndx-sector"
#define SERVICE_MAX 256

/* 1 when table t of db has column c, 0 when not, -1 on error. */
static int has_column(sqlite3 *db, const char *t, const char *c)
{
	char sql[128];
	sqlite3_stmt *q = NULL;
	int found = 0, step;

	snprintf(sql, sizeof sql, "PRAGMA table_info(%s)", t);
	if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
		return -1;
	while ((step = sqlite3_step(q)) == SQLITE_ROW)
		if (sqlite3_column_text(q, 1) && strcmp((const char *)sqlite3_column_text(q, 1), c) == 0)
			found = 1;
	sqlite3_finalize(q);
	return step == SQLITE_DONE ? found : -1;
}

int outbox_tables(sqlite3 *db)
{
	int rc = ndx_sqlstore_exec(
		db, PROG,
		"CREATE TABLE IF NOT EXISTS event_outbox(seq INTEGER PRIMARY KEY AUTOINCREMENT,"
		" service TEXT NOT NULL, name TEXT NOT NULL, subject TEXT NOT NULL,"
		" payload TEXT NOT NULL, created_at TEXT NOT NULL,"
		" attempts INTEGER NOT NULL DEFAULT 0, next_at_ms INTEGER NOT NULL DEFAULT 0,"
		" last_error TEXT, event_id TEXT);"
		"CREATE TABLE IF NOT EXISTS event_applied(id TEXT PRIMARY KEY,"
		" name TEXT NOT NULL, applied_at TEXT NOT NULL, effect TEXT NOT NULL);");
	int has;

	if (rc)
		return rc;
	/* An outbox of an older version has no event ids: the column is
	 * added, and its rows get theirs when they are next drained. */
	if ((has = has_column(db, "event_outbox", "event_id")) < 0)
		return ndx_sqlstore_fail(db, PROG, "outbox");
	return has ? NDX_OK
		   : ndx_sqlstore_exec(db, PROG, "ALTER TABLE event_outbox ADD COLUMN event_id TEXT");
}

/* ---- rules ------------------------------------------------------------------ */

/* What a write produces: NULL payload for none. */
typedef json_t *(*payload_fn)(const json_t *old, const json_t *row, const char *id,
			      const char **subject);

static const char *sget(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* A payload of the row's strings named in fields (NULL-terminated), those
 * present; NULL when out of memory. */
static json_t *payload_of(const json_t *row, const char *const *fields)
{
	json_t *p = json_object();

	for (size_t i = 0; p && fields[i]; i++) {
		const char *v = sget(row, fields[i]);

		if (v)
			json_object_set_new(p, fields[i], json_string(v));
	}
	return p;
}

static json_t *death_registered(const json_t *old, const json_t *row, const char *id,
				const char **subject)
{
	static const char *const fields[] = {
		"pin", "full_name", "died_on", "registered_on", "province", NULL
	};
	json_t *p;

	if (old)
		return NULL; /* a correction of the record is no new death */
	*subject = sget(row, "pin");
	if (!(p = payload_of(row, fields)))
		return NULL;
	json_object_set_new(p, "death_id", json_integer(strtoll(id, NULL, 10)));
	return p;
}

static json_t *birth_registered(const json_t *old, const json_t *row, const char *id,
				const char **subject)
{
	static const char *const fields[] = {
		"child_pin", "child_name", "birth_date", "sex", "province", "father_pin",
		"mother_pin", "registered_on", NULL
	};
	json_t *p;

	if (old)
		return NULL;
	/* The child's number is the population registry's to issue (from
	 * this event) when the registration has none: then the event is
	 * about the mother, else the father. */
	*subject = sget(row, "child_pin");
	if (!*subject)
		*subject = sget(row, "mother_pin") ? sget(row, "mother_pin") : sget(row, "father_pin");
	if (!*subject)
		return NULL;
	if (!(p = payload_of(row, fields)))
		return NULL;
	json_object_set_new(p, "birth_id", json_integer(strtoll(id, NULL, 10)));
	return p;
}

static int same(const json_t *a, const json_t *b, const char *k)
{
	const char *x = sget(a, k), *y = sget(b, k);
	return x == y || (x && y && strcmp(x, y) == 0);
}

/* A change of permanent residence: the address or its province changed
 * (not the first record: a new citizen is a birth or an arrival). */
static json_t *residence_changed(const json_t *old, const json_t *row, const char *id,
				 const char **subject)
{
	static const char *const fields[] = {
		"pin", "permanent_address", "permanent_province", "household_id", NULL
	};
	json_t *p;

	(void)id;
	if (!old || (same(old, row, "permanent_address") && same(old, row, "permanent_province")))
		return NULL;
	*subject = sget(row, "pin");
	if (!(p = payload_of(row, fields)))
		return NULL;
	if (sget(old, "permanent_province"))
		json_object_set_new(p, "previous_province",
				    json_string(sget(old, "permanent_province")));
	return p;
}

/* A new citizen (a birth the population registry recorded from
 * birth-registered, or any record added): the record's facts. */
static json_t *citizen_registered(const json_t *old, const json_t *row, const char *id,
				  const char **subject)
{
	static const char *const fields[] = {
		"pin", "full_name", "birth_date", "sex", "birth_province", "permanent_address",
		"permanent_province", "household_id", "relation", NULL
	};
	json_t *p;

	(void)id;
	if (old)
		return NULL;
	*subject = sget(row, "pin");
	if (!(p = payload_of(row, fields)))
		return NULL;
	return p;
}

/* A correction of who a citizen is: the name, birth date or sex of an
 * existing record changed (reconciliation's corrections of the reference
 * registry reach the registries that copied them). The new facts, and
 * which of them changed. */
static json_t *citizen_corrected(const json_t *old, const json_t *row, const char *id,
				 const char **subject)
{
	static const char *const fields[] = { "pin", "full_name", "birth_date", "sex", NULL };
	static const char *const corrected[] = { "full_name", "birth_date", "sex" };
	json_t *p, *which;

	(void)id;
	if (!old)
		return NULL;
	if (!(which = json_array()))
		return NULL;
	for (size_t i = 0; i < sizeof corrected / sizeof *corrected; i++)
		if (!same(old, row, corrected[i]) &&
		    json_array_append_new(which, json_string(corrected[i]))) {
			json_decref(which);
			return NULL;
		}
	if (json_array_size(which) == 0) {
		json_decref(which);
		return NULL;
	}
	*subject = sget(row, "pin");
	if (!(p = payload_of(row, fields))) {
		json_decref(which);
		return NULL;
	}
	json_object_set_new(p, "corrected", which);
	return p;
}

struct rule {
	const char *sector, *table, *event;
	payload_fn payload;
};

static const struct rule RULES[] = {
	{ "civil-status", "deaths", "death-registered", death_registered },
	{ "civil-status", "births", "birth-registered", birth_registered },
	{ "population", "citizens", "residence-changed", residence_changed },
	{ "population", "citizens", "citizen-registered", citizen_registered },
	{ "population", "citizens", "citizen-corrected", citizen_corrected },
};

int outbox_table_publishes(const struct sector_def *def, const struct sector_table *t)
{
	for (size_t i = 0; i < sizeof RULES / sizeof *RULES; i++)
		if (strcmp(RULES[i].sector, def->name) == 0 && strcmp(RULES[i].table, t->name) == 0)
			return 1;
	return 0;
}

/* Adds one event to the outbox of db (SQLite) or pg (PostgreSQL), inside
 * the caller's write transaction. */
static int add_row(sqlite3 *db, struct store_pg *pg, const char *service, const char *name,
		   const char *subject, const char *payload, const char *now, const char *event_id)
{
	sqlite3_stmt *q = NULL;
	int rc = NDX_OK;

	if (pg)
		return store_pg_outbox_add(pg, service, name, subject, payload, now, event_id);
	if (sqlite3_prepare_v2(db,
			       "INSERT INTO event_outbox(service, name, subject, payload,"
			       " created_at, event_id) VALUES(?, ?, ?, ?, ?, ?)",
			       -1, &q, NULL) != SQLITE_OK)
		return ndx_sqlstore_fail(db, PROG, "outbox");
	sqlite3_bind_text(q, 1, service, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, subject, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, payload, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 5, now, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 6, event_id, -1, SQLITE_STATIC);
	if (sqlite3_step(q) != SQLITE_DONE)
		rc = ndx_sqlstore_fail(db, PROG, "outbox");
	sqlite3_finalize(q);
	return rc;
}

static int on_write(sqlite3 *db, struct store_pg *pg, const struct sector_def *def,
		    const struct sector_table *t, const json_t *old, const json_t *row,
		    const char *id, const char *client, int *added)
{
	char service[SERVICE_MAX], now[NDX_TIME_TEXT_LEN], event_id[37];
	int rc = NDX_OK;

	*added = 0;
	ndx_time_format(time(NULL), now);
	for (size_t i = 0; i < sizeof RULES / sizeof *RULES && rc == NDX_OK; i++) {
		const struct rule *r = &RULES[i];
		const char *subject = NULL;
		char *text;
		json_t *p;

		if (strcmp(r->sector, def->name) != 0 || strcmp(r->table, t->name) != 0)
			continue;
		if (!(p = r->payload(old, row, id, &subject)))
			continue;
		snprintf(service, sizeof service, "%s/%s", client, t->name);
		/* The event's id is drawn now and kept with it, so that every
		 * attempt to publish it names the same event. */
		if ((rc = ndx_evclient_uuid(event_id))) {
			json_decref(p);
			return rc;
		}
		text = json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS);
		json_decref(p);
		if (!text)
			return NDX_ENOMEM;
		rc = add_row(db, pg, service, r->event, subject ? subject : "", text, now, event_id);
		if (rc == NDX_OK)
			(*added)++;
		free(text);
	}
	return rc;
}

int outbox_on_write(sqlite3 *db, const struct sector_def *def, const struct sector_table *t,
		    const json_t *old, const json_t *row, const char *id, const char *client,
		    int *added)
{
	return on_write(db, NULL, def, t, old, row, id, client, added);
}

int outbox_on_write_pg(struct store_pg *pg, const struct sector_def *def,
		       const struct sector_table *t, const json_t *old, const json_t *row,
		       const char *id, const char *client, int *added)
{
	return on_write(NULL, pg, def, t, old, row, id, client, added);
}

int outbox_put(struct store_conn *c, const struct sector_def *def, const struct sector_table *t,
	       const char *id, const json_t *row, const char *client, char *newid, size_t cap,
	       int *added)
{
	int publishes = client && outbox_table_publishes(def, t);
	json_t *old = NULL;
	int rc = NDX_OK;

	*added = 0;
	if (id && publishes)
		rc = store_get(c, t, id, &old);
	if (rc == NDX_OK)
		rc = store_put(c, t, id, row, newid, cap);
	if (rc == NDX_OK && publishes)
		rc = on_write(store_conn_db(c), store_conn_pg(c), def, t, old, row, newid, client,
			      added);
	json_decref(old);
	return rc;
}

/* ---- drain ------------------------------------------------------------------- */

/* Gives the row seq an event id when it has none (a row an older version
 * wrote): kept before the first attempt, so every attempt uses it. */
static int name_row(sqlite3 *db, long long seq, char id[37])
{
	sqlite3_stmt *u = NULL;
	int step;

	if (ndx_evclient_uuid(id))
		return NDX_ECRYPTO;
	if (sqlite3_prepare_v2(db, "UPDATE event_outbox SET event_id = ? WHERE seq = ?", -1, &u,
			       NULL) != SQLITE_OK)
		return ndx_sqlstore_fail(db, PROG, "outbox");
	sqlite3_bind_text(u, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(u, 2, seq);
	step = sqlite3_step(u);
	sqlite3_finalize(u);
	return step == SQLITE_DONE ? NDX_OK : ndx_sqlstore_fail(db, PROG, "outbox");
}

static int drain_one(sqlite3 *db, outbox_publish_fn publish, void *ctx, long long now_ms,
		     int *published, long long *wake_ms)
{
	char drawn[37];
	sqlite3_stmt *q = NULL, *u = NULL;
	struct outbox_event ev;
	char err[512] = "";
	long long next;
	int step, rc;

	*published = 0;
	if (sqlite3_prepare_v2(db,
			       "SELECT seq, service, name, subject, payload, attempts, next_at_ms,"
			       " event_id FROM event_outbox ORDER BY seq LIMIT 1",
			       -1, &q, NULL) != SQLITE_OK)
		return ndx_sqlstore_fail(db, PROG, "outbox");
	step = sqlite3_step(q);
	if (step != SQLITE_ROW) {
		sqlite3_finalize(q);
		*wake_ms = -1;
		return step == SQLITE_DONE ? NDX_OK : ndx_sqlstore_fail(db, PROG, "outbox");
	}
	next = sqlite3_column_int64(q, 6);
	if (next > now_ms) {
		*wake_ms = next;
		sqlite3_finalize(q);
		return NDX_OK;
	}
	ev.seq = sqlite3_column_int64(q, 0);
	ev.service = (const char *)sqlite3_column_text(q, 1);
	ev.name = (const char *)sqlite3_column_text(q, 2);
	ev.subject = (const char *)sqlite3_column_text(q, 3);
	ev.payload = (const char *)sqlite3_column_text(q, 4);
	ev.attempts = (unsigned)sqlite3_column_int64(q, 5);
	ev.event_id = (const char *)sqlite3_column_text(q, 7);
	if (!ev.event_id || !ndx_evclient_is_uuid(ev.event_id)) {
		if ((rc = name_row(db, ev.seq, drawn))) {
			sqlite3_finalize(q);
			return rc;
		}
		ev.event_id = drawn;
	}
	rc = publish(ctx, &ev, err, sizeof err);
	if (rc == NDX_OK) {
		*published = 1;
		*wake_ms = now_ms;
		sqlite3_finalize(q);
		if (sqlite3_prepare_v2(db, "DELETE FROM event_outbox WHERE seq = ?", -1, &u,
				       NULL) != SQLITE_OK)
			return ndx_sqlstore_fail(db, PROG, "outbox");
		sqlite3_bind_int64(u, 1, ev.seq);
	} else {
		unsigned attempts = ev.attempts + 1;
		long long seq = ev.seq;

		*wake_ms = now_ms + ndx_evclient_backoff_ms(attempts, OUTBOX_FIRST_BACKOFF_MS,
							    OUTBOX_MAX_BACKOFF_MS);
		fprintf(stderr, PROG ": events: %s %lld not published (attempt %u; next in %lld ms): "
				"%s\n", ev.name, seq, attempts, *wake_ms - now_ms, err);
		sqlite3_finalize(q);
		if (sqlite3_prepare_v2(db,
				       "UPDATE event_outbox SET attempts = ?, next_at_ms = ?,"
				       " last_error = ? WHERE seq = ?",
				       -1, &u, NULL) != SQLITE_OK)
			return ndx_sqlstore_fail(db, PROG, "outbox");
		sqlite3_bind_int64(u, 1, attempts);
		sqlite3_bind_int64(u, 2, *wake_ms);
		sqlite3_bind_text(u, 3, err, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(u, 4, seq);
	}
	step = sqlite3_step(u);
	sqlite3_finalize(u);
	return step == SQLITE_DONE ? NDX_OK : ndx_sqlstore_fail(db, PROG, "outbox");
}

/* One turn of the drain on PostgreSQL: the row stays locked by the turn
 * (store_pg_outbox_head) while it is published, so no other process
 * publishes it, nor the one after it, meanwhile. */
static int drain_one_pg(struct store_pg *pg, outbox_publish_fn publish, void *ctx,
			long long now_ms, int *published, long long *wake_ms)
{
	struct store_pg_outbox_row row;
	struct outbox_event ev;
	char err[512] = "";
	unsigned attempts;
	int rc;

	*published = 0;
	rc = store_pg_outbox_head(pg, &row);
	if (rc == NDX_ENOTFOUND) {
		*wake_ms = -1;
		return NDX_OK;
	}
	if (rc == NDX_EPERM) {
		/* Another process drains this schema: look again shortly, in
		 * case it stops. */
		*wake_ms = now_ms + OUTBOX_FIRST_BACKOFF_MS;
		return NDX_OK;
	}
	if (rc)
		return rc;
	if (row.next_at_ms > now_ms) {
		*wake_ms = row.next_at_ms;
		return store_pg_outbox_end(pg, &row, 0, 0, 0, NULL);
	}
	ev = (struct outbox_event){ .seq = row.seq, .service = row.service, .name = row.name,
				    .subject = row.subject, .payload = row.payload,
				    .event_id = row.event_id, .attempts = row.attempts };
	if (publish(ctx, &ev, err, sizeof err) == NDX_OK) {
		*published = 1;
		*wake_ms = now_ms;
		return store_pg_outbox_end(pg, &row, 1, 0, 0, NULL);
	}
	attempts = row.attempts + 1;
	*wake_ms = now_ms +
		   ndx_evclient_backoff_ms(attempts, OUTBOX_FIRST_BACKOFF_MS, OUTBOX_MAX_BACKOFF_MS);
	fprintf(stderr, PROG ": events: %s %lld not published (attempt %u; next in %lld ms): %s\n",
		row.name, row.seq, attempts, *wake_ms - now_ms, err);
	return store_pg_outbox_end(pg, &row, -1, attempts, *wake_ms, err);
}

int outbox_drain_conn(struct store_conn *c, outbox_publish_fn publish, void *ctx,
		      long long now_ms, unsigned *published, long long *wake_ms)
{
	struct store_pg *pg = store_conn_pg(c);
	int one = 1, rc = NDX_OK;

	if (!pg)
		return outbox_drain(store_conn_db(c), publish, ctx, now_ms, published, wake_ms);
	*published = 0;
	*wake_ms = -1;
	while (one && rc == NDX_OK) {
		rc = drain_one_pg(pg, publish, ctx, now_ms, &one, wake_ms);
		*published += (unsigned)one;
	}
	return rc;
}

long long outbox_pending_conn(struct store_conn *c)
{
	return store_conn_pg(c) ? store_pg_outbox_pending(store_conn_pg(c))
				: outbox_pending(store_conn_db(c));
}

int outbox_drain(sqlite3 *db, outbox_publish_fn publish, void *ctx, long long now_ms,
		 unsigned *published, long long *wake_ms)
{
	int one = 1, rc = NDX_OK;

	*published = 0;
	*wake_ms = -1;
	while (one && rc == NDX_OK) {
		rc = drain_one(db, publish, ctx, now_ms, &one, wake_ms);
		*published += (unsigned)one;
	}
	return rc;
}

long long outbox_pending(sqlite3 *db)
{
	sqlite3_stmt *q = NULL;
	long long n = -1;

	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM event_outbox", -1, &q, NULL) == SQLITE_OK &&
	    sqlite3_step(q) == SQLITE_ROW)
		n = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return n;
}

/* ---- the publisher thread --------------------------------------------------- */

struct outbox_publisher {
	sqlite3 *db;       /* SQLite: its own connection */
	struct store *st;  /* PostgreSQL: its own one-connection store */
	struct ndx_evclient *client;
	char *prog;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop, poked;
};

static long long mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The outbox keeps next_at_ms in wall-clock time, so that it means the
 * same after a restart. */
static long long wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int publish_http(void *ctx, const struct outbox_event *ev, char *err, size_t errcap)
{
	struct outbox_publisher *p = ctx;
	char id[NDX_EVCLIENT_ID_MAX];
	long status = 0;
	int rc = ndx_evclient_publish(p->client, ev->service, ev->name, ev->subject, ev->payload,
				      strlen(ev->payload), ev->event_id, id, &status, err, errcap);

	if (rc == NDX_OK)
		fprintf(stderr, "%s: events: %s %lld published as %s%s\n", p->prog, ev->name,
			ev->seq, id, status == 200 ? " (kept before: duplicate)" : "");
	return rc;
}

static void *publisher_main(void *arg)
{
	struct outbox_publisher *p = arg;
	/* A drain that cannot read its own table (the database busy or
	 * broken) waits too, rather than spinning. */
	const long long idle_ms = 5000;

	for (;;) {
		unsigned published = 0;
		long long wake = -1, now = wall_ms(), wait;
		struct timespec until;
		int stop;

		if (p->st) {
			struct store_conn *c = store_acquire(p->st);

			if (outbox_drain_conn(c, publish_http, p, now, &published, &wake))
				wake = now + idle_ms;
			store_release(p->st, c);
		} else if (outbox_drain(p->db, publish_http, p, now, &published, &wake) != NDX_OK)
			wake = now + idle_ms;
		wait = wake < 0 ? idle_ms : wake - now;
		if (wait < 0)
			wait = 0;
		wait += mono_ms();
		until.tv_sec = (time_t)(wait / 1000);
		until.tv_nsec = (long)(wait % 1000) * 1000000L;
		pthread_mutex_lock(&p->mu);
		while (!p->stop && !p->poked)
			if (pthread_cond_timedwait(&p->cv, &p->mu, &until) == ETIMEDOUT)
				break;
		p->poked = 0;
		stop = p->stop;
		pthread_mutex_unlock(&p->mu);
		if (stop)
			break;
	}
	return NULL;
}

static void publisher_free(struct outbox_publisher *p)
{
	ndx_evclient_free(p->client);
	sqlite3_close(p->db);
	store_close(p->st);
	free(p->prog);
	free(p);
}

int outbox_publisher_start(const char *db_path, const struct sector_def *def,
			   const char *gateway_url, const char *client, const char *prog,
			   struct outbox_publisher **out)
{
	struct ndx_evclient_config cc = { .gateway_url = gateway_url, .client = client };
	struct outbox_publisher *p;
	pthread_condattr_t ca;
	int rc;

	*out = NULL;
	if (!(p = calloc(1, sizeof *p)) || !(p->prog = strdup(prog))) {
		free(p);
		return NDX_ENOMEM;
	}
	if (ndx_sqldb_is_pg(db_path)) {
		if ((rc = store_open(db_path, def, 0, 1, &p->st))) {
			publisher_free(p);
			return rc;
		}
	} else if (sqlite3_open_v2(db_path, &p->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
				   NULL) != SQLITE_OK) {
		fprintf(stderr, "%s: events: cannot open %s\n", prog, db_path);
		publisher_free(p);
		return NDX_EDB;
	}
	if (p->db)
		sqlite3_busy_timeout(p->db, 5000);
	if ((rc = ndx_evclient_new(&cc, &p->client))) {
		publisher_free(p);
		return rc;
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&p->thread, NULL, publisher_main, p) != 0) {
		pthread_mutex_destroy(&p->mu);
		pthread_cond_destroy(&p->cv);
		publisher_free(p);
		return NDX_EIO;
	}
	*out = p;
	return NDX_OK;
}

void outbox_publisher_poke(struct outbox_publisher *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->poked = 1;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

void outbox_publisher_stop(struct outbox_publisher *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	pthread_join(p->thread, NULL);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	publisher_free(p);
}
