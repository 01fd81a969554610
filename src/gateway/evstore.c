/* The gateway's event store (evstore.h; the model: docs/events.md): the
 * outbox with one delivery row per subscription, and the inbox, in one
 * SQLite database opened through ndx/sqlstore.h. Every statement is
 * prepared once at open and reset after each use.
 *
 * The order rule (a delivery waits while an earlier queued delivery of the
 * same client, service, event type and subject exists) is kept as a flag:
 * of each such group's queued deliveries exactly the earliest has head = 1,
 * so "due" is a walk of the few heads in outbox order rather than a test of
 * every queued row against its predecessors. A subscriber that has been
 * down for hours leaves thousands of due-looking rows behind one backed-off
 * head; with the flag they cost nothing. The flag is set and cleared by the
 * three operations that move a delivery into or out of the queue (add,
 * attempted, replay), each inside a savepoint so that a failure leaves the
 * caller's transaction as it was. The counts for /metrics are kept by
 * triggers, so that a scrape costs four rows however long the history. */
#include "evstore.h"
#include "evstore_queue.h"
#include "evstore_pg.h"

#include <assert.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ndx/array.h"
#include "ndx/err.h"
#include "ndx/sqldb.h"
#include "ndx/sqlstore.h"

#define PROG GW_PROG ": events store"

/* migrations[i] is schema version i + 1; append, never edit. */
static const char *const MIGRATIONS[] = {
	/* AUTOINCREMENT: a seq is never used twice, even after the newest rows
	 * are deleted, so a subscriber's after_seq never skips a new event. */
	"CREATE TABLE outbox(seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	" id TEXT NOT NULL UNIQUE, service TEXT NOT NULL, name TEXT NOT NULL,"
	" publisher TEXT NOT NULL, subject TEXT NOT NULL, time_ms INTEGER NOT NULL,"
	" payload BLOB NOT NULL, hash BLOB NOT NULL CHECK(length(hash) = 32),"
	" signature TEXT NOT NULL);"
	/* service, name and subject are the event's, copied so that a group's
	 * queue is one index range. state: 0 queued, 1 delivered, 2 dead;
	 * head: 1 on the earliest queued delivery of its group, else 0. */
	"CREATE TABLE deliveries(seq INTEGER NOT NULL REFERENCES outbox(seq),"
	" client TEXT NOT NULL, purpose TEXT NOT NULL,"
	" service TEXT NOT NULL, name TEXT NOT NULL, subject TEXT NOT NULL,"
	" state INTEGER NOT NULL CHECK(state IN (0, 1, 2)),"
	" head INTEGER NOT NULL DEFAULT 0 CHECK(head = 0 OR state = 0),"
	" attempts INTEGER NOT NULL DEFAULT 0, first_attempt_ms INTEGER NOT NULL DEFAULT 0,"
	" next_at_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL,"
	" last_error TEXT NOT NULL DEFAULT '', receipt TEXT,"
	" PRIMARY KEY(seq, client)) WITHOUT ROWID;"
	"CREATE INDEX deliveries_queue ON deliveries(client, service, name, subject, seq)"
	" WHERE state = 0;"
	"CREATE INDEX deliveries_heads ON deliveries(seq, client, next_at_ms) WHERE head = 1;"
	"CREATE INDEX deliveries_heads_next ON deliveries(next_at_ms) WHERE head = 1;"
	"CREATE INDEX deliveries_dead ON deliveries(seq, client) WHERE state = 2;"
	"CREATE TABLE inbox(seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	" id TEXT NOT NULL, client TEXT NOT NULL, purpose TEXT NOT NULL,"
	" service TEXT NOT NULL, name TEXT NOT NULL, publisher TEXT NOT NULL,"
	" subject TEXT NOT NULL, time_ms INTEGER NOT NULL, payload BLOB NOT NULL,"
	" hash BLOB NOT NULL CHECK(length(hash) = 32), signature TEXT NOT NULL,"
	" received_ms INTEGER NOT NULL, acked_ms INTEGER, UNIQUE(id, client));"
	"CREATE INDEX inbox_client ON inbox(client, seq);"
	"CREATE INDEX inbox_unacked ON inbox(client, seq) WHERE acked_ms IS NULL;"
	/* what: 0 queued, 1 delivered, 2 dead (= deliveries.state), 3 inbox unacked. */
	"CREATE TABLE counts(what INTEGER PRIMARY KEY, n INTEGER NOT NULL);"
	"INSERT INTO counts(what, n) VALUES(0, 0), (1, 0), (2, 0), (3, 0);"
	"CREATE TRIGGER deliveries_counts_ins AFTER INSERT ON deliveries BEGIN"
	" UPDATE counts SET n = n + 1 WHERE what = new.state; END;"
	"CREATE TRIGGER deliveries_counts_upd AFTER UPDATE OF state ON deliveries"
	" WHEN old.state != new.state BEGIN"
	" UPDATE counts SET n = n - 1 WHERE what = old.state;"
	" UPDATE counts SET n = n + 1 WHERE what = new.state; END;"
	"CREATE TRIGGER deliveries_counts_del AFTER DELETE ON deliveries BEGIN"
	" UPDATE counts SET n = n - 1 WHERE what = old.state; END;"
	"CREATE TRIGGER inbox_counts_ins AFTER INSERT ON inbox WHEN new.acked_ms IS NULL BEGIN"
	" UPDATE counts SET n = n + 1 WHERE what = 3; END;"
	"CREATE TRIGGER inbox_counts_ack AFTER UPDATE OF acked_ms ON inbox"
	" WHEN old.acked_ms IS NULL AND new.acked_ms IS NOT NULL BEGIN"
	" UPDATE counts SET n = n - 1 WHERE what = 3; END;"
	"CREATE TRIGGER inbox_counts_del AFTER DELETE ON inbox WHEN old.acked_ms IS NULL BEGIN"
	" UPDATE counts SET n = n - 1 WHERE what = 3; END;",
};

/* The columns of an event, in this order, at the start of every query
 * that returns one (read_event), followed by the two text columns of its
 * client and purpose. */
#define EVENT_COLS(p) \
	p "seq, " p "id, " p "service, " p "name, " p "publisher, " p "subject, " p "time_ms, " \
	p "payload, " p "hash, " p "signature"
#define VIEW_COLS \
	"d.seq, o.id, d.service, d.name, d.subject, d.client, d.purpose, d.state, d.attempts," \
	" o.time_ms, d.next_at_ms, d.updated_ms, d.last_error"
#define INBOX_COLS EVENT_COLS("") ", client, purpose, received_ms, acked_ms IS NOT NULL"

/* Every statement the store runs, prepared at open. */
#define STATEMENTS(X) \
	X(BEGIN, "BEGIN IMMEDIATE") \
	X(COMMIT, "COMMIT") \
	X(ROLLBACK, "ROLLBACK") \
	X(SAVEPOINT, "SAVEPOINT evstore_op") \
	X(RELEASE, "RELEASE evstore_op") \
	X(UNDO, "ROLLBACK TO evstore_op") \
	X(PUBLISH, "INSERT INTO outbox(id, service, name, publisher, subject, time_ms," \
		   " payload, hash, signature) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)") \
	/* the earliest queued delivery in the group (seq ?1, client ?2) would join */ \
	X(HEAD_FOR_EVENT, "SELECT d.seq FROM outbox o JOIN deliveries d ON d.client = ?2" \
			  " AND d.service = o.service AND d.name = o.name" \
			  " AND d.subject = o.subject AND d.state = 0" \
			  " WHERE o.seq = ?1 ORDER BY d.seq LIMIT 1") \
	/* the earliest queued delivery in the group of delivery (?1, ?2) */ \
	X(HEAD_FOR_DELIVERY, "SELECT g.seq FROM deliveries r JOIN deliveries g" \
			     " ON g.client = r.client AND g.service = r.service" \
			     " AND g.name = r.name AND g.subject = r.subject AND g.state = 0" \
			     " WHERE r.seq = ?1 AND r.client = ?2 ORDER BY g.seq LIMIT 1") \
	X(ADD_DELIVERY, "INSERT INTO deliveries(seq, client, purpose, service, name, subject," \
			" state, head, next_at_ms, updated_ms)" \
			" SELECT seq, ?2, ?3, service, name, subject, 0, ?4, ?5, ?5" \
			" FROM outbox WHERE seq = ?1") \
	X(SET_HEAD, "UPDATE deliveries SET head = ?3 WHERE seq = ?1 AND client = ?2") \
	X(DELIVERY_STATE, "SELECT state, head FROM deliveries WHERE seq = ?1 AND client = ?2") \
	X(ATTEMPTED, "UPDATE deliveries SET state = ?3, head = ?4, attempts = attempts + 1," \
		     " first_attempt_ms = CASE WHEN attempts = 0 THEN ?5 ELSE first_attempt_ms END," \
		     " updated_ms = ?5, next_at_ms = ?6, last_error = ?7," \
		     " receipt = COALESCE(?8, receipt) WHERE seq = ?1 AND client = ?2") \
	X(REPLAY, "UPDATE deliveries SET state = 0, head = ?3, attempts = 0, first_attempt_ms = 0," \
		  " next_at_ms = ?4, updated_ms = ?4 WHERE seq = ?1 AND client = ?2 AND state = 2") \
	X(DUE, "SELECT " EVENT_COLS("o.") ", d.client, d.purpose, d.attempts, d.first_attempt_ms" \
	       " FROM deliveries d JOIN outbox o ON o.seq = d.seq" \
	       " WHERE d.head = 1 AND d.next_at_ms <= ?1 ORDER BY d.seq, d.client") \
	/* the same when few are due: those few found by time, then sorted */ \
	X(DUE_FEW, "SELECT " EVENT_COLS("o.") ", d.client, d.purpose, d.attempts, d.first_attempt_ms" \
		   " FROM deliveries d INDEXED BY deliveries_heads_next JOIN outbox o ON o.seq = d.seq" \
		   " WHERE d.head = 1 AND d.next_at_ms <= ?1 ORDER BY d.seq, d.client") \
	X(DUE_COUNT, "SELECT COUNT(*) FROM (SELECT 1 FROM deliveries INDEXED BY deliveries_heads_next" \
		     " WHERE head = 1 AND next_at_ms <= ?1 LIMIT ?2)") \
	X(NEXT_DUE, "SELECT MIN(next_at_ms) FROM deliveries WHERE head = 1") \
	X(EVENT_BY_ID, "SELECT seq, publisher FROM outbox WHERE id = ?1") \
	X(OUTBOX_GET, "SELECT " EVENT_COLS("o.") ", '', '', 0, 0 FROM outbox o WHERE o.id = ?1") \
	X(VIEWS_OF, "SELECT " VIEW_COLS " FROM deliveries d JOIN outbox o ON o.seq = d.seq" \
		    " WHERE d.seq = ?1 ORDER BY d.client") \
	X(DEAD, "SELECT " VIEW_COLS " FROM deliveries d JOIN outbox o ON o.seq = d.seq" \
		" WHERE d.state = 2 AND d.seq > ?1 ORDER BY d.seq, d.client LIMIT ?2") \
	X(RECEIVE, "INSERT INTO inbox(id, service, name, publisher, subject, time_ms, payload," \
		   " hash, signature, client, purpose, received_ms)" \
		   " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)") \
	X(INBOX_SEQ, "SELECT seq FROM inbox WHERE id = ?1 AND client = ?2") \
	X(INBOX_ALL, "SELECT " INBOX_COLS " FROM inbox WHERE client = ?1 AND seq > ?2" \
		     " ORDER BY seq LIMIT ?3") \
	X(INBOX_UNACKED, "SELECT " INBOX_COLS " FROM inbox WHERE client = ?1 AND seq > ?2" \
			 " AND acked_ms IS NULL ORDER BY seq LIMIT ?3") \
	X(INBOX_ENTRY, "SELECT " INBOX_COLS " FROM inbox WHERE id = ?2 AND client = ?1") \
	X(ACK, "UPDATE inbox SET acked_ms = ?3 WHERE client = ?1 AND id = ?2 AND acked_ms IS NULL") \
	X(COUNTS, "SELECT what, n FROM counts")

enum stmt_id {
#define X(name, sql) ST_##name,
	STATEMENTS(X)
#undef X
	ST_COUNT
};

static const char *const STATEMENT_SQL[ST_COUNT] = {
#define X(name, sql) sql,
	STATEMENTS(X)
#undef X
};

struct gw_evstore {
	sqlite3 *db;
	sqlite3_stmt *st[ST_COUNT];
	/* Not NULL: the store is on PostgreSQL (evstore_pg.c), and every
	 * function, its arguments checked here, goes there. */
	struct gw_evpg *pg;
};

const char *gw_delivery_state_name(enum gw_delivery_state s)
{
	switch (s) {
	case GW_DELIVERY_QUEUED: return "queued";
	case GW_DELIVERY_DELIVERED: return "delivered";
	case GW_DELIVERY_DEAD: return "dead";
	}
	return "unknown";
}

/* ---- statements ---------------------------------------------------------- */

static int fail(struct gw_evstore *s, const char *what)
{
	fprintf(stderr, PROG ": %s: %s\n", what, sqlite3_errmsg(s->db));
	return NDX_EDB;
}

/* The statement, ready for its parameters (done() left it so). */
static sqlite3_stmt *stmt(struct gw_evstore *s, enum stmt_id id)
{
	return s->st[id];
}

/* Every use of a statement ends here, whatever its outcome, so that no
 * statement holds a read snapshot or a pointer into the caller's strings. */
static void done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* Steps a statement that returns no rows and resets it. Inserts that break
 * a uniqueness constraint give NDX_EEXIST; every other failure NDX_EDB,
 * reported. */
static int run(struct gw_evstore *s, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);
	int ext = sqlite3_extended_errcode(s->db);

	if (rc == SQLITE_DONE) {
		rc = NDX_OK;
	} else if (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY) {
		rc = NDX_EEXIST;
	} else {
		rc = fail(s, what);
	}
	done(st);
	return rc;
}

/* Steps a statement expected to give at most one integer: NDX_OK with *v,
 * NDX_ENOTFOUND when no row (or a NULL), NDX_EDB. Resets it. */
static int one_int(struct gw_evstore *s, sqlite3_stmt *st, const char *what, int64_t *v)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
		*v = sqlite3_column_int64(st, 0);
		rc = NDX_OK;
	} else if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
		rc = NDX_ENOTFOUND;
	} else {
		rc = fail(s, what);
	}
	done(st);
	return rc;
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
	sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}

/* A zero-length payload is bound as an empty blob, not as NULL. */
static void bind_bytes(sqlite3_stmt *st, int i, const void *v, size_t len)
{
	sqlite3_bind_blob64(st, i, len ? v : "", len, SQLITE_STATIC);
}

static bool text_ok(const char *v)
{
	return v != NULL && v[0] != '\0';
}

/* Writes change several rows and so must be inside the caller's
 * transaction (evstore.h); outside one they would each commit (and fsync)
 * alone. */
static int need_transaction(struct gw_evstore *s, const char *what)
{
	if (!sqlite3_get_autocommit(s->db))
		return NDX_OK;
	fprintf(stderr, PROG ": %s outside a transaction (gw_evstore_begin first)\n", what);
	return NDX_EINVAL;
}

/* One operation of several statements: on failure, everything it did is
 * undone and the caller's transaction goes on as before. */
static int op_begin(struct gw_evstore *s)
{
	return run(s, stmt(s, ST_SAVEPOINT), "savepoint");
}

static int op_end(struct gw_evstore *s, int rc)
{
	if (rc != NDX_OK)
		run(s, stmt(s, ST_UNDO), "rollback to savepoint");
	int rc2 = run(s, stmt(s, ST_RELEASE), "release savepoint");
	return rc != NDX_OK ? rc : rc2;
}

/* ---- lists --------------------------------------------------------------- */

/* Makes room for one more element in *list (n used, *cap allocated). */
/* The text columns cols[0..n) of the current row and, when blob_col >= 0,
 * one blob column, copied into one allocation: *dst[i] points at column
 * cols[i] (NUL-terminated), *blob at the blob (also followed by a NUL, so
 * a JSON payload reads as a C string). The allocation starts at *dst[0];
 * freeing that pointer frees them all. */
struct text_col {
	int col;
	const char **dst;
};

#define MAX_PACKED 8

static int pack_row(sqlite3_stmt *st, const struct text_col *cols, size_t n, int blob_col,
		    const uint8_t **blob, size_t *blob_len)
{
	const void *src[MAX_PACKED + 1];
	size_t len[MAX_PACKED + 1], total = 0, m = n;

	assert(n >= 1 && n <= MAX_PACKED);
	for (size_t i = 0; i < n; i++) {
		src[i] = sqlite3_column_text(st, cols[i].col);
		len[i] = (size_t)sqlite3_column_bytes(st, cols[i].col);
		if (!src[i] && sqlite3_errcode(sqlite3_db_handle(st)) == SQLITE_NOMEM)
			return NDX_ENOMEM;
	}
	if (blob_col >= 0) {
		src[m] = sqlite3_column_blob(st, blob_col);
		len[m] = (size_t)sqlite3_column_bytes(st, blob_col);
		m++;
	}
	for (size_t i = 0; i < m; i++)
		total += len[i] + 1;
	char *block = malloc(total), *p = block;

	if (!block)
		return NDX_ENOMEM;
	for (size_t i = 0; i < m; i++) {
		if (len[i])
			memcpy(p, src[i], len[i]);
		p[len[i]] = '\0';
		if (i < n)
			*cols[i].dst = p;
		else
			*blob = (const uint8_t *)p;
		p += len[i] + 1;
	}
	if (blob_col >= 0)
		*blob_len = len[n];
	return NDX_OK;
}

/* Fills ev, *client and *purpose from a row laid out as EVENT_COLS then
 * client and purpose: one allocation, starting at ev->service. */
static int read_event(sqlite3_stmt *st, struct gw_event *ev, const char **client,
		      const char **purpose)
{
	const struct text_col cols[] = {
		{2, &ev->service}, {3, &ev->name}, {4, &ev->publisher}, {5, &ev->subject},
		{9, &ev->signature}, {10, client}, {11, purpose},
	};
	const char *id = (const char *)sqlite3_column_text(st, 1);
	int idlen = sqlite3_column_bytes(st, 1);
	const void *hash = sqlite3_column_blob(st, 8);

	if (!id || idlen >= GW_UUID_LEN || !hash || sqlite3_column_bytes(st, 8) != NDX_SHA256_LEN) {
		fprintf(stderr, PROG ": event %lld: malformed id or hash in the database\n",
			(long long)sqlite3_column_int64(st, 0));
		return NDX_EDB;
	}
	memset(ev, 0, sizeof *ev);
	ev->seq = sqlite3_column_int64(st, 0);
	memcpy(ev->id, id, (size_t)idlen);
	ev->time_ms = sqlite3_column_int64(st, 6);
	memcpy(ev->hash, hash, NDX_SHA256_LEN);
	return pack_row(st, cols, sizeof cols / sizeof *cols, 7, &ev->payload, &ev->payload_len);
}

/* ---- open, close, transactions ------------------------------------------- */

int gw_evstore_open(const char *path, struct gw_evstore **out, char *err, size_t errcap)
{
	struct gw_evstore *s;

	if (out)
		*out = NULL;
	if (!text_ok(path) || !out)
		return ndx_fail(err, errcap, NDX_EINVAL, "events store: no path");
	if (!(s = calloc(1, sizeof *s)))
		return ndx_fail(err, errcap, NDX_ENOMEM, "events store: out of memory");
	if (ndx_sqldb_is_pg(path)) {
		int rc = gw_evpg_open(path, &s->pg, err, errcap);

		if (rc != NDX_OK) {
			free(s);
			return rc;
		}
		*out = s;
		return NDX_OK;
	}
	int rc = ndx_sqlstore_open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, MIGRATIONS,
				   sizeof MIGRATIONS / sizeof *MIGRATIONS, GW_PROG ": events",
				   &s->db);
	if (rc != NDX_OK) {
		free(s);
		return ndx_fail(err, errcap, rc,
				"events store %s: cannot open it or apply its schema "
				"(the reason is on stderr)", path);
	}
	for (int i = 0; i < ST_COUNT; i++) {
		if (sqlite3_prepare_v3(s->db, STATEMENT_SQL[i], -1, SQLITE_PREPARE_PERSISTENT,
				       &s->st[i], NULL) != SQLITE_OK) {
			/* The schema is not ours: another program's database. */
			rc = ndx_fail(err, errcap, NDX_EDB, "events store %s: %s", path,
				      sqlite3_errmsg(s->db));
			gw_evstore_close(s);
			return rc;
		}
	}
	*out = s;
	return NDX_OK;
}

void gw_evstore_close(struct gw_evstore *s)
{
	if (!s)
		return;
	if (s->pg) {
		gw_evpg_close(s->pg);
		free(s);
		return;
	}
	if (s->db && !sqlite3_get_autocommit(s->db))
		run(s, stmt(s, ST_ROLLBACK), "rollback");
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(s->st[i]);
	sqlite3_close(s->db);
	free(s);
}

int gw_evstore_begin(struct gw_evstore *s)
{
	if (!s)
		return NDX_EINVAL;
	if (s->pg)
		return gw_evpg_begin(s->pg);
	if (!sqlite3_get_autocommit(s->db)) {
		fprintf(stderr, PROG ": begin: a transaction is already open\n");
		return NDX_EINVAL;
	}
	return run(s, stmt(s, ST_BEGIN), "begin");
}

int gw_evstore_commit(struct gw_evstore *s)
{
	if (!s)
		return NDX_EINVAL;
	if (s->pg)
		return gw_evpg_commit(s->pg);
	if (sqlite3_get_autocommit(s->db)) {
		fprintf(stderr, PROG ": commit: no transaction is open\n");
		return NDX_EINVAL;
	}
	/* synchronous=FULL (ndx_sqlstore_open): COMMIT returns after the WAL
	 * has been fsynced. */
	int rc = run(s, stmt(s, ST_COMMIT), "commit");

	if (rc != NDX_OK) {
		gw_evstore_rollback(s);
		return NDX_EDB;
	}
	return NDX_OK;
}

void gw_evstore_rollback(struct gw_evstore *s)
{
	if (s && s->pg)
		gw_evpg_rollback(s->pg);
	else if (s && !sqlite3_get_autocommit(s->db))
		run(s, stmt(s, ST_ROLLBACK), "rollback");
}

/* ---- outbox -------------------------------------------------------------- */

static bool event_ok(const struct gw_event *ev)
{
	return ev && ev->id[0] != '\0' && memchr(ev->id, '\0', GW_UUID_LEN) != NULL &&
	       text_ok(ev->service) && text_ok(ev->name) && text_ok(ev->publisher) &&
	       ev->subject != NULL && text_ok(ev->signature) &&
	       (ev->payload != NULL || ev->payload_len == 0);
}

/* Binds ev's fields to parameters 1..9 in the order of PUBLISH and RECEIVE. */
static void bind_event(sqlite3_stmt *st, const struct gw_event *ev)
{
	bind_text(st, 1, ev->id);
	bind_text(st, 2, ev->service);
	bind_text(st, 3, ev->name);
	bind_text(st, 4, ev->publisher);
	bind_text(st, 5, ev->subject);
	sqlite3_bind_int64(st, 6, ev->time_ms);
	bind_bytes(st, 7, ev->payload, ev->payload_len);
	sqlite3_bind_blob(st, 8, ev->hash, NDX_SHA256_LEN, SQLITE_STATIC);
	bind_text(st, 9, ev->signature);
}

int gw_evstore_publish(struct gw_evstore *s, struct gw_event *ev)
{
	int rc;

	if (!s || !event_ok(ev))
		return NDX_EINVAL;
	if (s->pg)
		return gw_evpg_publish(s->pg, ev);
	if ((rc = need_transaction(s, "publish")))
		return rc;
	sqlite3_stmt *st = stmt(s, ST_PUBLISH);

	bind_event(st, ev);
	if ((rc = run(s, st, "publish")) == NDX_OK)
		ev->seq = sqlite3_last_insert_rowid(s->db);
	return rc;
}

/* ---- the queue's statements (evstore_queue.h) ---- */

static int lite_group_head(void *v, bool for_event, int64_t seq, const char *client,
			   int64_t *head)
{
	struct gw_evstore *s = v;
	sqlite3_stmt *st = stmt(s, for_event ? ST_HEAD_FOR_EVENT : ST_HEAD_FOR_DELIVERY);

	sqlite3_bind_int64(st, 1, seq);
	bind_text(st, 2, client);
	return one_int(s, st, "order", head);
}

static int lite_set_head(void *v, int64_t seq, const char *client, int head)
{
	struct gw_evstore *s = v;
	sqlite3_stmt *st = stmt(s, ST_SET_HEAD);

	sqlite3_bind_int64(st, 1, seq);
	bind_text(st, 2, client);
	sqlite3_bind_int(st, 3, head);
	return run(s, st, "order");
}

static int lite_insert(void *v, int64_t seq, const char *client, const char *purpose, int head,
		       int64_t next_at_ms)
{
	struct gw_evstore *s = v;
	sqlite3_stmt *st = stmt(s, ST_ADD_DELIVERY);
	int rc;

	sqlite3_bind_int64(st, 1, seq);
	bind_text(st, 2, client);
	bind_text(st, 3, purpose);
	sqlite3_bind_int(st, 4, head);
	sqlite3_bind_int64(st, 5, next_at_ms);
	if ((rc = run(s, st, "add delivery")))
		return rc;
	return sqlite3_changes(s->db) == 0 ? NDX_ENOTFOUND : NDX_OK;
}

static int lite_state(void *v, int64_t seq, const char *client, int *state, int *head)
{
	struct gw_evstore *s = v;
	sqlite3_stmt *st = stmt(s, ST_DELIVERY_STATE);
	int rc;

	sqlite3_bind_int64(st, 1, seq);
	bind_text(st, 2, client);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		rc = rc == SQLITE_DONE ? NDX_ENOTFOUND : fail(s, "attempted");
		done(st);
		return rc;
	}
	*state = sqlite3_column_int(st, 0);
	*head = sqlite3_column_int(st, 1);
	done(st);
	return NDX_OK;
}

static int lite_attempt(void *v, int64_t seq, const char *client, enum gw_delivery_state state,
			int head, int64_t now_ms, int64_t next_at_ms, const char *error,
			const char *receipt)
{
	struct gw_evstore *s = v;
	sqlite3_stmt *st = stmt(s, ST_ATTEMPTED);

	sqlite3_bind_int64(st, 1, seq);
	bind_text(st, 2, client);
	sqlite3_bind_int(st, 3, (int)state);
	sqlite3_bind_int(st, 4, head);
	sqlite3_bind_int64(st, 5, now_ms);
	sqlite3_bind_int64(st, 6, next_at_ms);
	bind_text(st, 7, error);
	if (receipt)
		bind_text(st, 8, receipt);
	return run(s, st, "attempted");
}

static int lite_requeue(void *v, int64_t seq, const char *client, int head, int64_t now_ms)
{
	struct gw_evstore *s = v;
	sqlite3_stmt *st = stmt(s, ST_REPLAY);
	int rc;

	sqlite3_bind_int64(st, 1, seq);
	bind_text(st, 2, client);
	sqlite3_bind_int(st, 3, head);
	sqlite3_bind_int64(st, 4, now_ms);
	if ((rc = run(s, st, "replay")))
		return rc;
	return sqlite3_changes(s->db) == 0 ? NDX_ENOTFOUND : NDX_OK;
}

static const struct gw_evqueue_ops LITE_QUEUE = {
	.group_head = lite_group_head,
	.set_head = lite_set_head,
	.insert = lite_insert,
	.state = lite_state,
	.attempt = lite_attempt,
	.requeue = lite_requeue,
};

int gw_evstore_add_delivery(struct gw_evstore *s, int64_t seq, const char *client,
			    const char *purpose, int64_t next_at_ms)
{
	int rc;

	if (!s || !text_ok(client) || !purpose)
		return NDX_EINVAL;
	if (s->pg)
		return gw_evpg_add_delivery(s->pg, seq, client, purpose, next_at_ms);
	if ((rc = need_transaction(s, "add delivery")) || (rc = op_begin(s)))
		return rc;
	return op_end(s, gw_evqueue_add(&LITE_QUEUE, s, seq, client, purpose, next_at_ms));
}

int gw_evstore_attempted(struct gw_evstore *s, int64_t seq, const char *client,
			 enum gw_delivery_state state, int64_t now_ms, int64_t next_at_ms,
			 const char *error, const char *receipt)
{
	int rc;

	if (!s || !text_ok(client) ||
	    (state != GW_DELIVERY_QUEUED && state != GW_DELIVERY_DELIVERED &&
	     state != GW_DELIVERY_DEAD) ||
	    (state == GW_DELIVERY_DELIVERED && !text_ok(receipt)))
		return NDX_EINVAL;
	if (s->pg)
		return gw_evpg_attempted(s->pg, seq, client, state, now_ms, next_at_ms, error,
					 receipt);
	if ((rc = need_transaction(s, "attempted")) || (rc = op_begin(s)))
		return rc;
	return op_end(s, gw_evqueue_attempted(&LITE_QUEUE, s, seq, client, state, now_ms,
					      next_at_ms, error, receipt));
}

int gw_evstore_replay(struct gw_evstore *s, int64_t seq, const char *client, int64_t now_ms)
{
	int rc;

	if (!s || !text_ok(client))
		return NDX_EINVAL;
	if (s->pg)
		return gw_evpg_replay(s->pg, seq, client, now_ms);
	if ((rc = need_transaction(s, "replay")) || (rc = op_begin(s)))
		return rc;
	return op_end(s, gw_evqueue_replay(&LITE_QUEUE, s, seq, client, now_ms));
}

/* Up to this many due heads are sorted rather than walked to in order. */
#define DUE_FEW_MAX 1024

static bool skipped(int64_t seq, const char *client, const int64_t *skip_seq,
		    const char *const *skip_client, size_t nskip)
{
	for (size_t i = 0; i < nskip; i++)
		if (skip_seq[i] == seq && strcmp(skip_client[i], client) == 0)
			return true;
	return false;
}

int gw_evstore_due(struct gw_evstore *s, int64_t now_ms, size_t max,
		   const int64_t *skip_seq, const char *const *skip_client, size_t nskip,
		   struct gw_due **out, size_t *n)
{
	struct gw_due *list = NULL;
	size_t cap = 0, k = 0;
	int rc = NDX_OK, step = SQLITE_DONE;

	if (out)
		*out = NULL;
	if (n)
		*n = 0;
	if (!s || !out || !n || (nskip && (!skip_seq || !skip_client)))
		return NDX_EINVAL;
	for (size_t i = 0; i < nskip; i++)
		if (!skip_client[i])
			return NDX_EINVAL;
	if (max == 0)
		return NDX_OK;
	if (s->pg)
		return gw_evpg_due(s->pg, now_ms, max, skip_seq, skip_client, nskip, out, n);
	/* Two ways to the same rows. Walking the heads in outbox order stops
	 * after max, but passes every head that is not due: a subscriber down
	 * for hours leaves one backed-off head per subject (37 ms for 100,000).
	 * When few heads are due, they are found by time and sorted instead. */
	sqlite3_stmt *st = stmt(s, ST_DUE_COUNT);
	int64_t ndue;

	sqlite3_bind_int64(st, 1, now_ms);
	sqlite3_bind_int64(st, 2, DUE_FEW_MAX);
	if ((rc = one_int(s, st, "due", &ndue)))
		return rc;
	st = stmt(s, ndue < DUE_FEW_MAX ? ST_DUE_FEW : ST_DUE);
	sqlite3_bind_int64(st, 1, now_ms);
	while (k < max && (step = sqlite3_step(st)) == SQLITE_ROW) {
		const char *client = (const char *)sqlite3_column_text(st, 10);

		if (client && skipped(sqlite3_column_int64(st, 0), client, skip_seq, skip_client,
				      nskip))
			continue;
		if ((rc = NDX_ARRAY_RESERVE(list, cap, k)))
			break;
		struct gw_due *d = &list[k];

		memset(d, 0, sizeof *d);
		if ((rc = read_event(st, &d->ev, &d->client, &d->purpose)))
			break;
		d->attempts = sqlite3_column_int(st, 12);
		d->first_attempt_ms = sqlite3_column_int64(st, 13);
		k++;
	}
	if (rc == NDX_OK && k < max && step != SQLITE_DONE)
		rc = fail(s, "due");
	done(st);
	if (rc != NDX_OK) {
		gw_evstore_due_free(list, k);
		return rc;
	}
	if (k == 0) {
		free(list);
		list = NULL;
	}
	*out = list;
	*n = k;
	return NDX_OK;
}

int gw_evstore_outbox_get(struct gw_evstore *s, const char *id, struct gw_due **out)
{
	sqlite3_stmt *st;
	struct gw_due *e;
	int rc;

	if (out)
		*out = NULL;
	if (!s || !text_ok(id) || !out)
		return NDX_EINVAL;
	if (s->pg)
		return gw_evpg_outbox_get(s->pg, id, out);
	if (!(e = calloc(1, sizeof *e)))
		return NDX_ENOMEM;
	st = stmt(s, ST_OUTBOX_GET);
	bind_text(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		rc = read_event(st, &e->ev, &e->client, &e->purpose);
	else
		rc = rc == SQLITE_DONE ? NDX_ENOTFOUND : fail(s, "outbox event");
	done(st);
	if (rc != NDX_OK) {
		free(e);
		return rc;
	}
	*out = e;
	return NDX_OK;
}

void gw_evstore_due_free(struct gw_due *list, size_t n)
{
	if (!list)
		return;
	for (size_t i = 0; i < n; i++)
		free((void *)list[i].ev.service);  /* the entry's one allocation (read_event) */
	free(list);
}

int gw_evstore_next_due(struct gw_evstore *s, int64_t *next_at_ms)
{
	if (!s || !next_at_ms)
		return NDX_EINVAL;
	if (s->pg)
		return gw_evpg_next_due(s->pg, next_at_ms);
	int rc = one_int(s, stmt(s, ST_NEXT_DUE), "next due", next_at_ms);

	if (rc == NDX_ENOTFOUND) {
		*next_at_ms = INT64_MAX;
		rc = NDX_OK;
	}
	return rc;
}

int gw_evstore_claim(struct gw_evstore *s, struct gw_due *list, size_t *n, int64_t now_ms)
{
	if (!s || !n || (*n && !list))
		return NDX_EINVAL;
	if (s->pg)
		return gw_evpg_claim(s->pg, list, n, now_ms);
	/* One events thread owns the file: its in-flight list is the claim. */
	return NDX_OK;
}

/* Reads the rows of a VIEWS_OF or DEAD statement (parameters bound) into a list. */
static int read_views(struct gw_evstore *s, sqlite3_stmt *st, const char *what,
		      struct gw_delivery_view **out, size_t *n)
{
	struct gw_delivery_view *list = NULL;
	size_t cap = 0, k = 0;
	int rc = NDX_OK, step;

	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		if ((rc = NDX_ARRAY_RESERVE(list, cap, k)))
			break;
		struct gw_delivery_view *v = &list[k];
		const struct text_col cols[] = {
			{2, &v->service}, {3, &v->name}, {4, &v->subject}, {5, &v->client},
			{6, &v->purpose}, {12, &v->last_error},
		};
		const char *id = (const char *)sqlite3_column_text(st, 1);
		int idlen = sqlite3_column_bytes(st, 1);

		memset(v, 0, sizeof *v);
		if (!id || idlen >= GW_UUID_LEN) {
			rc = fail(s, what);
			break;
		}
		v->seq = sqlite3_column_int64(st, 0);
		memcpy(v->id, id, (size_t)idlen);
		v->state = (enum gw_delivery_state)sqlite3_column_int(st, 7);
		v->attempts = sqlite3_column_int(st, 8);
		v->published_ms = sqlite3_column_int64(st, 9);
		v->next_at_ms = sqlite3_column_int64(st, 10);
		v->updated_ms = sqlite3_column_int64(st, 11);
		if ((rc = pack_row(st, cols, sizeof cols / sizeof *cols, -1, NULL, NULL)))
			break;
		k++;
	}
	if (rc == NDX_OK && step != SQLITE_DONE)
		rc = fail(s, what);
	done(st);
	if (rc != NDX_OK || k == 0) {
		gw_evstore_views_free(list, k);
		list = NULL;
		k = 0;
	}
	*out = list;
	*n = k;
	return rc;
}

int gw_evstore_deliveries_of(struct gw_evstore *s, const char *id, char **publisher,
			     struct gw_delivery_view **out, size_t *n)
{
	sqlite3_stmt *st;
	char *pub = NULL;
	int64_t seq = 0;
	int rc;

	if (out)
		*out = NULL;
	if (n)
		*n = 0;
	if (!s || !text_ok(id) || !out || !n)
		return NDX_EINVAL;
	if (s->pg)
		return gw_evpg_deliveries_of(s->pg, id, publisher, out, n);
	st = stmt(s, ST_EVENT_BY_ID);
	bind_text(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		seq = sqlite3_column_int64(st, 0);
		rc = NDX_OK;
		if (publisher && !(pub = strdup((const char *)sqlite3_column_text(st, 1))))
			rc = NDX_ENOMEM;
	} else {
		rc = rc == SQLITE_DONE ? NDX_ENOTFOUND : fail(s, "deliveries of");
	}
	done(st);
	if (rc != NDX_OK)
		return rc;
	st = stmt(s, ST_VIEWS_OF);
	sqlite3_bind_int64(st, 1, seq);
	if ((rc = read_views(s, st, "deliveries of", out, n))) {
		free(pub);
		return rc;
	}
	if (publisher)
		*publisher = pub;
	return NDX_OK;
}

/* A size_t maximum as an SQL LIMIT. */
static int64_t limit_of(size_t max)
{
	return max > (size_t)INT64_MAX ? INT64_MAX : (int64_t)max;
}

int gw_evstore_dead(struct gw_evstore *s, int64_t after_seq, size_t max,
		    struct gw_delivery_view **out, size_t *n)
{
	if (out)
		*out = NULL;
	if (n)
		*n = 0;
	if (!s || !out || !n)
		return NDX_EINVAL;
	if (max == 0)
		return NDX_OK;
	if (s->pg)
		return gw_evpg_dead(s->pg, after_seq, limit_of(max), out, n);
	sqlite3_stmt *st = stmt(s, ST_DEAD);

	sqlite3_bind_int64(st, 1, after_seq);
	sqlite3_bind_int64(st, 2, limit_of(max));
	return read_views(s, st, "dead", out, n);
}

void gw_evstore_views_free(struct gw_delivery_view *list, size_t n)
{
	if (!list)
		return;
	for (size_t i = 0; i < n; i++)
		free((void *)list[i].service);  /* the entry's one allocation (read_views) */
	free(list);
}

/* ---- inbox --------------------------------------------------------------- */

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int gw_evstore_receive(struct gw_evstore *s, struct gw_event *ev, const char *client,
		       const char *purpose, bool *duplicate)
{
	int rc;

	if (!s || !event_ok(ev) || !text_ok(client) || !purpose || !duplicate)
		return NDX_EINVAL;
	if (s->pg)
		return gw_evpg_receive(s->pg, ev, client, purpose, duplicate);
	if ((rc = need_transaction(s, "receive")))
		return rc;
	/* Looked up first rather than INSERT ... ON CONFLICT DO NOTHING, which
	 * would spend an AUTOINCREMENT seq on each duplicate. */
	sqlite3_stmt *st = stmt(s, ST_INBOX_SEQ);
	int64_t seq;

	bind_text(st, 1, ev->id);
	bind_text(st, 2, client);
	if ((rc = one_int(s, st, "receive", &seq)) == NDX_OK) {
		ev->seq = seq;
		*duplicate = true;
		return NDX_OK;
	}
	if (rc != NDX_ENOTFOUND)
		return rc;
	st = stmt(s, ST_RECEIVE);
	bind_event(st, ev);
	bind_text(st, 10, client);
	bind_text(st, 11, purpose);
	/* evstore.h gives receive no clock: the inbox keeps the wall clock's. */
	sqlite3_bind_int64(st, 12, wall_ms());
	if ((rc = run(s, st, "receive")))
		return rc;
	ev->seq = sqlite3_last_insert_rowid(s->db);
	*duplicate = false;
	return NDX_OK;
}

/* Reads the rows of an INBOX_* statement (parameters bound) into a list. */
static int read_inbox(struct gw_evstore *s, sqlite3_stmt *st, const char *what,
		      struct gw_inbox_entry **out, size_t *n)
{
	struct gw_inbox_entry *list = NULL;
	size_t cap = 0, k = 0;
	int rc = NDX_OK, step;

	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		if ((rc = NDX_ARRAY_RESERVE(list, cap, k)))
			break;
		struct gw_inbox_entry *e = &list[k];

		memset(e, 0, sizeof *e);
		if ((rc = read_event(st, &e->ev, &e->client, &e->purpose)))
			break;
		e->received_ms = sqlite3_column_int64(st, 12);
		e->acknowledged = sqlite3_column_int(st, 13) != 0;
		k++;
	}
	if (rc == NDX_OK && step != SQLITE_DONE)
		rc = fail(s, what);
	done(st);
	if (rc != NDX_OK || k == 0) {
		gw_evstore_inbox_free(list, k);
		list = NULL;
		k = 0;
	}
	*out = list;
	*n = k;
	return rc;
}

int gw_evstore_inbox(struct gw_evstore *s, const char *client, int64_t after_seq, size_t max,
		     bool unacked_only, struct gw_inbox_entry **out, size_t *n)
{
	if (out)
		*out = NULL;
	if (n)
		*n = 0;
	if (!s || !text_ok(client) || !out || !n)
		return NDX_EINVAL;
	if (max == 0)
		return NDX_OK;
	if (s->pg)
		return gw_evpg_inbox(s->pg, client, after_seq, limit_of(max), unacked_only, out, n);
	/* Two statements rather than "(?4 OR acked_ms IS NULL)", so that each
	 * walks its own index: unacked_only skips acknowledged history. */
	sqlite3_stmt *st = stmt(s, unacked_only ? ST_INBOX_UNACKED : ST_INBOX_ALL);

	bind_text(st, 1, client);
	sqlite3_bind_int64(st, 2, after_seq);
	sqlite3_bind_int64(st, 3, limit_of(max));
	return read_inbox(s, st, "inbox", out, n);
}

void gw_evstore_inbox_free(struct gw_inbox_entry *list, size_t n)
{
	if (!list)
		return;
	for (size_t i = 0; i < n; i++)
		free((void *)list[i].ev.service);  /* the entry's one allocation (read_event) */
	free(list);
}

int gw_evstore_ack(struct gw_evstore *s, const char *client, const char *id, int64_t now_ms)
{
	int rc;

	if (!s || !text_ok(client) || !text_ok(id))
		return NDX_EINVAL;
	if (s->pg)
		return gw_evpg_ack(s->pg, client, id, now_ms);
	if ((rc = need_transaction(s, "ack")))
		return rc;
	sqlite3_stmt *st = stmt(s, ST_ACK);

	bind_text(st, 1, client);
	bind_text(st, 2, id);
	sqlite3_bind_int64(st, 3, now_ms);
	if ((rc = run(s, st, "ack")) || sqlite3_changes(s->db) == 1)
		return rc;
	/* Nothing changed: acknowledged before, or not in the inbox. */
	int64_t seq;

	st = stmt(s, ST_INBOX_SEQ);
	bind_text(st, 1, id);
	bind_text(st, 2, client);
	return one_int(s, st, "ack", &seq);
}

int gw_evstore_inbox_entry(struct gw_evstore *s, const char *client, const char *id,
			   struct gw_inbox_entry **out)
{
	size_t n;
	int rc;

	if (out)
		*out = NULL;
	if (!s || !text_ok(client) || !text_ok(id) || !out)
		return NDX_EINVAL;
	if (s->pg)
		return gw_evpg_inbox_entry(s->pg, client, id, out);
	sqlite3_stmt *st = stmt(s, ST_INBOX_ENTRY);

	bind_text(st, 1, client);
	bind_text(st, 2, id);
	if ((rc = read_inbox(s, st, "inbox entry", out, &n)))
		return rc;
	return n ? NDX_OK : NDX_ENOTFOUND;
}

int gw_evstore_counts(struct gw_evstore *s, struct gw_evstore_counts *c)
{
	int step;

	if (!s || !c)
		return NDX_EINVAL;
	if (s->pg)
		return gw_evpg_counts(s->pg, c);
	sqlite3_stmt *st = stmt(s, ST_COUNTS);
	struct gw_evstore_counts got = {0};

	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t v = sqlite3_column_int64(st, 1);
		uint64_t u = v > 0 ? (uint64_t)v : 0;

		switch (sqlite3_column_int(st, 0)) {
		case 0: got.queued = u; break;
		case 1: got.delivered = u; break;
		case 2: got.dead = u; break;
		case 3: got.inbox_unacked = u; break;
		default: break;
		}
	}
	done(st);
	if (step != SQLITE_DONE)
		return fail(s, "counts");
	*c = got;
	return NDX_OK;
}
