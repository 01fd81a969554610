/* The SQLite store behind the message log (the interface is
 * msglog_store.h; the log itself is msglog.c, its encodings are
 * docs/protocol.md "Message log"). Live logs run in WAL mode with
 * synchronous=FULL, so a COMMIT that returned is on disk, and one commit
 * covers a whole group of appends; archive files use a rollback journal so
 * that each is one self-contained file. Beside the records, a subject index
 * (record_subjects: the claimed subject and each declared one of a record)
 * is written in the record's own transaction; it is not hashed, so the
 * verifier checks it against the records. Rows are read back exactly as
 * stored: a value of the wrong type or length is reported, never repaired,
 * because the verifier must see what an attacker wrote. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "msglog_store.h"
#include "ndx/err.h"
#include "ndx/sqlstore.h"

#define BUSY_TIMEOUT_MS 10000
/* The page size of a log this store creates (an existing file keeps its
 * own). A record is about 1.3 KiB, most of it its two signatures, so most
 * WAL frames are new pages, and SQLite writes each frame with two system
 * calls and reads and writes it once more at the checkpoint: 8 KiB pages
 * halve those calls for the same bytes. Measured with bench/run at 64
 * connections: about 6 us less CPU an exchange (bench/README.md "The message
 * log's pages at 8 KiB"). */
#define NEW_LOG_PAGE_SIZE "8192"
/* The meta key of the last seq whose message id record_ids holds. */
#define IDS_TO "ids_indexed_to"

static const char schema_sql[] =
	"CREATE TABLE IF NOT EXISTS meta ("
	" key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS records ("
	" seq INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL, direction TEXT NOT NULL,"
	" message_id TEXT NOT NULL, client TEXT NOT NULL, service TEXT NOT NULL,"
	" method TEXT NOT NULL, path TEXT NOT NULL,"
	" subject TEXT NOT NULL, subjects TEXT NOT NULL, purpose TEXT NOT NULL,"
	" user_id TEXT NOT NULL, issue TEXT NOT NULL, represented_party TEXT NOT NULL,"
	" authenticated TEXT NOT NULL,"
	" request_hash BLOB, response_hash BLOB,"
	" status INTEGER NOT NULL, duration_ms INTEGER NOT NULL,"
	" request_sig TEXT NOT NULL, response_sig TEXT NOT NULL,"
	" prev_hash BLOB NOT NULL, hash BLOB NOT NULL);"
	/* The index by message id is written behind the records (record_ids,
	 * store_index_ids): a log made before it had this index in the
	 * records' own transactions, one random page a record. */
	"DROP INDEX IF EXISTS records_message_id;"
	"CREATE TABLE IF NOT EXISTS record_ids ("
	" message_id TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (message_id, seq))"
	" WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS record_subjects ("
	" subject TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (subject, seq))"
	" WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS record_subjects_seq ON record_subjects(seq, subject);"
	"CREATE TABLE IF NOT EXISTS batches ("
	" batch INTEGER PRIMARY KEY, first_seq INTEGER NOT NULL UNIQUE,"
	" size INTEGER NOT NULL, root BLOB NOT NULL, time_ms INTEGER NOT NULL,"
	" key_id TEXT NOT NULL, prev_sth_hash BLOB NOT NULL, signature BLOB NOT NULL);"
	/* Countersignatures of tree heads by a witness (docs/protocol.md
	 * "Witnessed tree heads"); added to older logs when a gateway opens them. */
	"CREATE TABLE IF NOT EXISTS witnesses ("
	" batch INTEGER PRIMARY KEY, gateway TEXT NOT NULL, sth_hash BLOB NOT NULL,"
	" time_ms INTEGER NOT NULL, key_id TEXT NOT NULL, signature BLOB NOT NULL);";

#define RECORD_COLS \
	"seq, time_ms, direction, message_id, client, service, method, path, subject," \
	" subjects, purpose, user_id, issue, represented_party, authenticated, request_hash," \
	" response_hash, status, duration_ms, request_sig, response_sig, prev_hash, hash"
#define BATCH_COLS "batch, first_seq, size, root, time_ms, key_id, prev_sth_hash, signature"
#define WITNESS_COLS "batch, gateway, sth_hash, time_ms, key_id, signature"

enum stmt_id {
	S_BEGIN_W, S_BEGIN_R, S_COMMIT, S_ROLLBACK, S_META_GET, S_META_SET,
	S_PUT_RECORD, S_PUT_SUBJECT, S_PUT_BATCH, S_PUT_WITNESS, S_DEL_RECORDS, S_DEL_SUBJECTS, S_DEL_BATCHES,
	S_IDS_PUT, S_IDS_DEL, S_LAST_SEQ, S_DATA_VERSION,
	S_COUNT
};
/* The statements a store of another format prepares: its meta table only. */
#define S_FOREIGN_COUNT (S_META_SET + 1)

static const char *const stmt_sql[S_COUNT] = {
	[S_BEGIN_W] = "BEGIN IMMEDIATE",
	[S_BEGIN_R] = "BEGIN",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	[S_META_GET] = "SELECT value FROM meta WHERE key = ?1",
	[S_META_SET] = "INSERT INTO meta(key, value) VALUES(?1, ?2)"
		       " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
	[S_PUT_RECORD] = "INSERT INTO records(" RECORD_COLS ") VALUES"
			 "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,"
			 " ?17, ?18, ?19, ?20, ?21, ?22, ?23)",
	[S_PUT_SUBJECT] = "INSERT OR IGNORE INTO record_subjects(subject, seq) VALUES(?1, ?2)",
	[S_PUT_BATCH] = "INSERT INTO batches(" BATCH_COLS ") VALUES"
			"(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[S_PUT_WITNESS] = "INSERT OR REPLACE INTO witnesses(" WITNESS_COLS ") VALUES"
			  "(?1, ?2, ?3, ?4, ?5, ?6)",
	[S_DEL_RECORDS] = "DELETE FROM records WHERE seq <= ?1",
	[S_DEL_SUBJECTS] = "DELETE FROM record_subjects WHERE seq <= ?1",
	[S_DEL_BATCHES] = "DELETE FROM batches WHERE batch <= ?1",
	[S_IDS_PUT] = "INSERT OR IGNORE INTO record_ids(message_id, seq)"
		      " SELECT message_id, seq FROM records WHERE seq > ?1 AND seq <= ?2",
	[S_IDS_DEL] = "DELETE FROM record_ids WHERE seq <= ?1",
	[S_LAST_SEQ] = "SELECT ifnull(max(seq), 0) FROM records",
	[S_DATA_VERSION] = "PRAGMA data_version",
};

static const char *const query_sql[] = {
	[NDX__Q_RECORDS_FROM] = "SELECT " RECORD_COLS " FROM records WHERE seq >= ?1 ORDER BY seq",
	[NDX__Q_RECORD_LAST] = "SELECT " RECORD_COLS " FROM records ORDER BY seq DESC LIMIT 1",
	/* Those the index holds, and those written since it was last
	 * brought up to date (IDS_TO), found by their seq. */
	[NDX__Q_RECORDS_BY_ID] = "SELECT " RECORD_COLS " FROM records WHERE seq IN"
				 " (SELECT seq FROM record_ids WHERE message_id = ?2)"
				 " UNION ALL SELECT " RECORD_COLS " FROM records WHERE seq >"
				 " (SELECT ifnull(max(CAST(value AS INTEGER)), 0) FROM meta"
				 "  WHERE key = '" IDS_TO "')"
				 " AND message_id = ?2 ORDER BY seq",
	[NDX__Q_RECORDS_BY_SUBJECT] = "SELECT " RECORD_COLS " FROM records WHERE seq IN"
				      " (SELECT seq FROM record_subjects WHERE subject = ?2)"
				      " ORDER BY seq",
	[NDX__Q_RECORDS_DESC] = "SELECT " RECORD_COLS " FROM records ORDER BY seq DESC",
	[NDX__Q_BATCHES_FROM] = "SELECT " BATCH_COLS " FROM batches WHERE batch >= ?1 ORDER BY batch",
	[NDX__Q_BATCH_LAST] = "SELECT " BATCH_COLS " FROM batches ORDER BY batch DESC LIMIT 1",
	[NDX__Q_BATCH_OF_SEQ] = "SELECT " BATCH_COLS " FROM batches WHERE first_seq <= ?1"
				" ORDER BY first_seq DESC LIMIT 1",
	[NDX__Q_SUBJECT_INDEX] = "SELECT seq, subject FROM record_subjects ORDER BY seq, subject",
	[NDX__Q_WITNESSES_FROM] = "SELECT " WITNESS_COLS " FROM witnesses WHERE batch >= ?1"
				  " ORDER BY batch",
	[NDX__Q_WITNESS_LAST] = "SELECT " WITNESS_COLS " FROM witnesses ORDER BY batch DESC LIMIT 1",
};

#define Q_COUNT (sizeof query_sql / sizeof query_sql[0])

/* A log a reader opens before any gateway gave it record_ids: by the
 * records' own index of message ids. */
static const char by_id_before_record_ids[] =
	"SELECT " RECORD_COLS " FROM records WHERE message_id = ?2 ORDER BY seq";

/* Rows one INSERT of records, or of subject index rows, takes, largest
 * first. Each statement has its own cost (its step and reset, about a
 * quarter of a one-row INSERT), so the writer's group goes in as few
 * statements as these allow (bench/README.md "Fewer statements: INSERTs
 * of many rows"). */
static const size_t PUT_ROWS[] = { 32, 8, 1 };
#define PUT_SIZES (sizeof PUT_ROWS / sizeof PUT_ROWS[0])
#define RECORD_COLUMNS 23

struct sqlite_store {
	struct ndx__msglog_store base;
	sqlite3 *db;
	sqlite3_stmt *stmt[S_COUNT];
	/* One prepared statement per query, kept by the iterator that closed
	 * last (reset, unbound) for the next one to open: the writer opens two
	 * in a write group after another connection committed (head_current),
	 * and preparing one cost about 115
	 * mallocs and 120,000 instructions, finalizing it 30,000 more
	 * (bench/README.md "One arena per exchange"). NULL: none kept (an
	 * iterator of that query is open, or none was ever). */
	sqlite3_stmt *kept[Q_COUNT];
	unsigned open_iters; /* iterators not yet closed */
	bool closed;         /* store_close came while open_iters > 0 */
	/* Multi-row INSERTs of records and of subject index rows, of
	 * PUT_ROWS[i] rows, prepared when first needed (a writer's only);
	 * [PUT_SIZES - 1] is the one row of S_PUT_RECORD / S_PUT_SUBJECT. */
	sqlite3_stmt *put_records[PUT_SIZES - 1], *put_subjects[PUT_SIZES - 1];
	bool foreign;   /* another format: meta only, never written */
};

struct ndx__msglog_iter {
	sqlite3_stmt *stmt;
	struct sqlite_store *s;
	enum ndx__msglog_query q;
};

static struct sqlite_store *self(struct ndx__msglog_store *st)
{
	return (struct sqlite_store *)st;
}

/* Runs a cached statement that returns no rows. */
static int run(struct sqlite_store *s, enum stmt_id id)
{
	sqlite3_stmt *stmt = s->stmt[id];
	int rc;

	if (stmt == NULL)
		return NDX_EINVAL; /* a store of another format */
	rc = sqlite3_step(stmt);

	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? NDX_OK : NDX_EDB;
}

static void store_close(struct ndx__msglog_store *st)
{
	struct sqlite_store *s = self(st);

	if (s == NULL)
		return;
	for (int i = 0; i < S_COUNT; i++)
		sqlite3_finalize(s->stmt[i]);
	for (size_t i = 0; i + 1 < PUT_SIZES; i++) {
		sqlite3_finalize(s->put_records[i]);
		sqlite3_finalize(s->put_subjects[i]);
	}
	for (size_t i = 0; i < Q_COUNT; i++) {
		sqlite3_finalize(s->kept[i]);
		s->kept[i] = NULL;
	}
	/* sqlite3_close_v2 rolls back an open transaction; with statements
	 * of open iterators left, the connection goes when the last is
	 * finalized, and so does s (store_iter_close). */
	sqlite3_close_v2(s->db);
	if (s->open_iters > 0) {
		s->closed = true;
		return;
	}
	free(s);
}

static int store_begin(struct ndx__msglog_store *st, bool write)
{
	struct sqlite_store *s = self(st);

	/* A store of another format is only read, even by a writer. */
	return run(s, write && !s->foreign ? S_BEGIN_W : S_BEGIN_R);
}

static int store_try_begin_write(struct ndx__msglog_store *st)
{
	struct sqlite_store *s = self(st);
	sqlite3_stmt *stmt = s->stmt[S_BEGIN_W];
	int rc;

	if (s->foreign)
		return store_begin(st, true);
	/* No busy handler for this one statement: SQLite's BUSY at once
	 * rather than its retries for up to BUSY_TIMEOUT_MS. */
	sqlite3_busy_timeout(s->db, 0);
	rc = sqlite3_step(stmt);
	sqlite3_reset(stmt);
	sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
	if (rc == SQLITE_DONE)
		return NDX_OK;
	return (rc & 0xff) == SQLITE_BUSY ? NDX_EBUSY : NDX_EDB;
}

static int store_data_version(struct ndx__msglog_store *st, uint64_t *version)
{
	struct sqlite_store *s = self(st);
	sqlite3_stmt *stmt = s->stmt[S_DATA_VERSION];
	int rc;

	if (stmt == NULL)
		return NDX_EINVAL; /* a store of another format */
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		*version = (uint64_t)sqlite3_column_int64(stmt, 0);
	sqlite3_reset(stmt);
	return rc == SQLITE_ROW ? NDX_OK : NDX_EDB;
}

static int store_commit(struct ndx__msglog_store *st)
{
	return run(self(st), S_COMMIT);
}

static void store_rollback(struct ndx__msglog_store *st)
{
	struct sqlite_store *s = self(st);

	/* After some errors (SQLITE_FULL, SQLITE_IOERR) SQLite has rolled the
	 * transaction back already; a ROLLBACK then fails harmlessly. */
	if (!sqlite3_get_autocommit(s->db))
		(void)run(s, S_ROLLBACK);
}

static int store_meta_get(struct ndx__msglog_store *st, const char *key, char **value)
{
	struct sqlite_store *s = self(st);
	sqlite3_stmt *stmt = s->stmt[S_META_GET];
	int rc;

	*value = NULL;
	sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(stmt, 0);

		*value = strdup(t != NULL ? (const char *)t : "");
		rc = *value != NULL ? NDX_OK : NDX_ENOMEM;
	} else {
		rc = rc == SQLITE_DONE ? NDX_ENOTFOUND : NDX_EDB;
	}
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	return rc;
}

static int store_meta_set(struct ndx__msglog_store *st, const char *key, const char *value)
{
	struct sqlite_store *s = self(st);

	sqlite3_bind_text(s->stmt[S_META_SET], 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(s->stmt[S_META_SET], 2, value, -1, SQLITE_STATIC);
	return run(s, S_META_SET);
}

static const char *direction_text(enum ndx_msglog_direction d)
{
	return d == NDX_MSGLOG_PROVIDER ? "provider" : "consumer";
}

static void bind_str(sqlite3_stmt *stmt, int col, const char *v)
{
	sqlite3_bind_text(stmt, col, v != NULL ? v : "", -1, SQLITE_STATIC);
}

/* Binds e as the record whose first parameter is base + 1; every
 * parameter, so that a statement needs no clearing between uses. */
static void bind_record(sqlite3_stmt *stmt, int base, const struct ndx_msglog_entry *e)
{
	sqlite3_bind_int64(stmt, base + 1, (sqlite3_int64)e->seq);
	sqlite3_bind_int64(stmt, base + 2, e->time_ms);
	bind_str(stmt, base + 3, direction_text(e->direction));
	bind_str(stmt, base + 4, e->message_id);
	bind_str(stmt, base + 5, e->client);
	bind_str(stmt, base + 6, e->service);
	bind_str(stmt, base + 7, e->method);
	bind_str(stmt, base + 8, e->path);
	bind_str(stmt, base + 9, e->subject);
	bind_str(stmt, base + 10, e->subjects);
	bind_str(stmt, base + 11, e->purpose);
	bind_str(stmt, base + 12, e->user_id);
	bind_str(stmt, base + 13, e->issue);
	bind_str(stmt, base + 14, e->represented_party);
	bind_str(stmt, base + 15, e->authenticated);
	if (e->has_request_hash)
		sqlite3_bind_blob(stmt, base + 16, e->request_hash, NDX_SHA256_LEN, SQLITE_STATIC);
	else
		sqlite3_bind_null(stmt, base + 16);
	if (e->has_response_hash)
		sqlite3_bind_blob(stmt, base + 17, e->response_hash, NDX_SHA256_LEN, SQLITE_STATIC);
	else
		sqlite3_bind_null(stmt, base + 17);
	sqlite3_bind_int64(stmt, base + 18, e->status);
	sqlite3_bind_int64(stmt, base + 19, e->duration_ms);
	bind_str(stmt, base + 20, e->request_sig);
	bind_str(stmt, base + 21, e->response_sig);
	sqlite3_bind_blob(stmt, base + 22, e->prev_hash, NDX_SHA256_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(stmt, base + 23, e->hash, NDX_SHA256_LEN, SQLITE_STATIC);
}

/* The statement of PUT_ROWS[size] rows of records (subjects false) or of
 * subject index rows; NULL when it cannot be prepared (SQLITE_RANGE: more
 * parameters than this SQLite allows), which the caller then does not use. */
static sqlite3_stmt *put_stmt(struct sqlite_store *s, size_t size, bool subjects)
{
	sqlite3_stmt **kept;

	if (size == PUT_SIZES - 1)
		return s->stmt[subjects ? S_PUT_SUBJECT : S_PUT_RECORD];
	kept = subjects ? &s->put_subjects[size] : &s->put_records[size];
	if (*kept == NULL)
		(void)ndx_sqlstore_prepare_rows(
			s->db,
			subjects ? "INSERT OR IGNORE INTO record_subjects(subject, seq) VALUES"
				 : "INSERT INTO records(" RECORD_COLS ") VALUES",
			subjects ? 2 : RECORD_COLUMNS, PUT_ROWS[size], kept);
	return *kept;
}

/* The largest size of PUT_ROWS that n rows fill and that is prepared. */
static size_t put_size(struct sqlite_store *s, size_t n, bool subjects)
{
	size_t size = 0;

	while (size + 1 < PUT_SIZES && (PUT_ROWS[size] > n || put_stmt(s, size, subjects) == NULL))
		size++;
	return size;
}

static int step_put(sqlite3_stmt *stmt)
{
	int rc = sqlite3_step(stmt);

	sqlite3_reset(stmt);
	return rc == SQLITE_DONE ? NDX_OK : NDX_EDB;
}

/* One subject index row, to be inserted with the others of its group. */
struct subject_row {
	const char *subject;
	size_t len;
	uint64_t seq;
};

/* Inserts rows[0..n): as many of the largest statements as fit, then
 * smaller ones. A subject repeated within a record is one row (OR IGNORE,
 * which applies row by row inside one statement too). */
static int put_subject_rows(struct sqlite_store *s, const struct subject_row *rows, size_t n)
{
	int rc = NDX_OK;

	for (size_t i = 0; i < n && rc == NDX_OK;) {
		size_t size = put_size(s, n - i, true);
		sqlite3_stmt *stmt = put_stmt(s, size, true);

		for (size_t r = 0; r < PUT_ROWS[size]; r++, i++) {
			sqlite3_bind_text(stmt, (int)(2 * r + 1), rows[i].subject, (int)rows[i].len,
					  SQLITE_STATIC);
			sqlite3_bind_int64(stmt, (int)(2 * r + 2), (sqlite3_int64)rows[i].seq);
		}
		rc = step_put(stmt);
	}
	return rc;
}

static int store_put_records(struct ndx__msglog_store *st, const struct ndx_msglog_entry *e,
			     size_t n)
{
	struct sqlite_store *s = self(st);
	struct subject_row rows[32];
	size_t nrows = 0;
	int rc = NDX_OK;

	if (s->foreign)
		return NDX_EINVAL;
	for (size_t i = 0; i < n && rc == NDX_OK;) {
		size_t size = put_size(s, n - i, false);
		sqlite3_stmt *stmt = put_stmt(s, size, false);

		for (size_t r = 0; r < PUT_ROWS[size]; r++, i++)
			bind_record(stmt, (int)(r * RECORD_COLUMNS), &e[i]);
		rc = step_put(stmt);
	}
	/* The subject and each element of the subjects list, empty ones
	 * left out; full runs of rows go in as they fill. */
	for (size_t i = 0; i < n && rc == NDX_OK; i++) {
		const char *cursor = e[i].subjects, *elem;
		size_t len;

		if (e[i].subject != NULL && e[i].subject[0] != '\0')
			rows[nrows++] = (struct subject_row){ e[i].subject, strlen(e[i].subject),
							      e[i].seq };
		while (rc == NDX_OK) {
			if (nrows == sizeof rows / sizeof rows[0]) {
				rc = put_subject_rows(s, rows, nrows);
				nrows = 0;
			}
			if (rc != NDX_OK || !ndx__msglog_subjects_next(&cursor, &elem, &len))
				break;
			rows[nrows++] = (struct subject_row){ elem, len, e[i].seq };
		}
	}
	if (rc == NDX_OK)
		rc = put_subject_rows(s, rows, nrows);
	return rc;
}

static int store_put_batch(struct ndx__msglog_store *st, const struct ndx_msglog_sth *sth)
{
	struct sqlite_store *s = self(st);
	sqlite3_stmt *stmt = s->stmt[S_PUT_BATCH];

	if (s->foreign)
		return NDX_EINVAL;
	sqlite3_bind_int64(stmt, 1, (sqlite3_int64)sth->batch);
	sqlite3_bind_int64(stmt, 2, (sqlite3_int64)sth->first_seq);
	sqlite3_bind_int64(stmt, 3, (sqlite3_int64)sth->size);
	sqlite3_bind_blob(stmt, 4, sth->root, NDX_SHA256_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 5, sth->time_ms);
	sqlite3_bind_text(stmt, 6, sth->key_id, -1, SQLITE_STATIC);
	sqlite3_bind_blob(stmt, 7, sth->prev_sth_hash, NDX_SHA256_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(stmt, 8, sth->signature, NDX_ED25519_SIG_LEN, SQLITE_STATIC);
	return run(s, S_PUT_BATCH);
}

static int store_put_witness(struct ndx__msglog_store *st, const struct ndx_msglog_witness *w)
{
	struct sqlite_store *s = self(st);
	sqlite3_stmt *stmt = s->stmt[S_PUT_WITNESS];

	if (s->foreign)
		return NDX_EINVAL;
	sqlite3_bind_int64(stmt, 1, w->batch > INT64_MAX ? INT64_MAX : (sqlite3_int64)w->batch);
	sqlite3_bind_text(stmt, 2, w->gateway, -1, SQLITE_STATIC);
	sqlite3_bind_blob(stmt, 3, w->sth_hash, NDX_SHA256_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 4, w->time_ms);
	sqlite3_bind_text(stmt, 5, w->key_id, -1, SQLITE_STATIC);
	sqlite3_bind_blob(stmt, 6, w->signature, NDX_ED25519_SIG_LEN, SQLITE_STATIC);
	return run(s, S_PUT_WITNESS);
}

static int store_delete_through(struct ndx__msglog_store *st, uint64_t last_seq,
				uint64_t last_batch)
{
	struct sqlite_store *s = self(st);
	int rc;

	if (s->foreign)
		return NDX_EINVAL;
	sqlite3_bind_int64(s->stmt[S_DEL_RECORDS], 1, (sqlite3_int64)last_seq);
	rc = run(s, S_DEL_RECORDS);
	if (rc != NDX_OK)
		return rc;
	sqlite3_bind_int64(s->stmt[S_DEL_SUBJECTS], 1, (sqlite3_int64)last_seq);
	rc = run(s, S_DEL_SUBJECTS);
	if (rc != NDX_OK)
		return rc;
	sqlite3_bind_int64(s->stmt[S_IDS_DEL], 1, (sqlite3_int64)last_seq);
	rc = run(s, S_IDS_DEL);
	if (rc != NDX_OK)
		return rc;
	sqlite3_bind_int64(s->stmt[S_DEL_BATCHES], 1, (sqlite3_int64)last_batch);
	return run(s, S_DEL_BATCHES);
}

/* Brings record_ids up to date by at most max records past IDS_TO, in a
 * transaction of its own that does not wait for the disk: the index is
 * derived from the records, so a power cut that loses this transaction
 * loses nothing the next one does not redo (WAL mode keeps the file
 * consistent with synchronous=NORMAL), and a later durable commit syncs
 * the WAL frames before it anyway. Records past IDS_TO are still found
 * by message id, by their seq. */
static int store_index_ids(struct ndx__msglog_store *st, uint64_t max, bool *more)
{
	struct sqlite_store *s = self(st);
	char *to_text = NULL, num[24];
	uint64_t from = 0, last = 0, through;
	int rc;

	*more = false;
	if (s->foreign)
		return NDX_EINVAL;
	if (sqlite3_exec(s->db, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL) != SQLITE_OK)
		return NDX_EDB;
	rc = run(s, S_BEGIN_W);
	if (rc == NDX_OK) {
		rc = store_meta_get(st, IDS_TO, &to_text);
		if (rc == NDX_ENOTFOUND)
			rc = NDX_OK;
		else if (rc == NDX_OK)
			from = strtoull(to_text, NULL, 10);
		free(to_text);
	}
	if (rc == NDX_OK) {
		sqlite3_stmt *q = s->stmt[S_LAST_SEQ];

		rc = sqlite3_step(q) == SQLITE_ROW ? NDX_OK : NDX_EDB;
		if (rc == NDX_OK)
			last = (uint64_t)sqlite3_column_int64(q, 0);
		sqlite3_reset(q);
	}
	through = last - from > max ? from + max : last;
	if (rc == NDX_OK && through > from) {
		sqlite3_bind_int64(s->stmt[S_IDS_PUT], 1, (sqlite3_int64)from);
		sqlite3_bind_int64(s->stmt[S_IDS_PUT], 2, (sqlite3_int64)through);
		rc = run(s, S_IDS_PUT);
		snprintf(num, sizeof num, "%llu", (unsigned long long)through);
		if (rc == NDX_OK)
			rc = store_meta_set(st, IDS_TO, num);
	}
	if (rc == NDX_OK)
		rc = run(s, S_COMMIT);
	if (rc != NDX_OK)
		store_rollback(st);
	if (sqlite3_exec(s->db, "PRAGMA synchronous = FULL", NULL, NULL, NULL) != SQLITE_OK)
		rc = NDX_EDB; /* the caller must not commit records less durably */
	*more = rc == NDX_OK && through < last;
	return rc;
}

static int store_iter_open(struct ndx__msglog_store *st, enum ndx__msglog_query q, uint64_t u,
			   const char *text, struct ndx__msglog_iter **out)
{
	struct sqlite_store *s = self(st);
	struct ndx__msglog_iter *it;

	*out = NULL;
	assert((size_t)q < sizeof query_sql / sizeof query_sql[0]);
	if (s->foreign)
		return NDX_EINVAL;
	it = calloc(1, sizeof *it);
	if (it == NULL)
		return NDX_ENOMEM;
	it->s = s;
	it->q = q;
	if (s->kept[q] != NULL) {
		it->stmt = s->kept[q];
		s->kept[q] = NULL;
	} else if (sqlite3_prepare_v2(s->db, query_sql[q], -1, &it->stmt, NULL) != SQLITE_OK &&
		   (q != NDX__Q_RECORDS_BY_ID || sqlite3_errcode(s->db) != SQLITE_ERROR ||
		    sqlite3_prepare_v2(s->db, by_id_before_record_ids, -1, &it->stmt, NULL) !=
			    SQLITE_OK)) {
		/* A log a reader opens before any gateway added the witnesses
		 * table to it simply holds no countersignature. */
		if ((q == NDX__Q_WITNESSES_FROM || q == NDX__Q_WITNESS_LAST) &&
		    sqlite3_errcode(s->db) == SQLITE_ERROR) {
			s->open_iters++;
			*out = it;
			return NDX_OK;
		}
		free(it);
		return NDX_EDB;
	}
	s->open_iters++;
	if (strstr(query_sql[q], "?1") != NULL)
		sqlite3_bind_int64(it->stmt, 1, u > INT64_MAX ? INT64_MAX : (sqlite3_int64)u);
	if (strstr(query_sql[q], "?2") != NULL)
		sqlite3_bind_text(it->stmt, 2, text != NULL ? text : "", -1, SQLITE_TRANSIENT);
	*out = it;
	return NDX_OK;
}

static const char *col_text(sqlite3_stmt *stmt, int col)
{
	const unsigned char *t = sqlite3_column_text(stmt, col);

	return t != NULL ? (const char *)t : "";
}

/* Copies a blob column of exactly len bytes; false for any other length. */
static bool col_blob(sqlite3_stmt *stmt, int col, uint8_t *out, size_t len)
{
	const void *b = sqlite3_column_blob(stmt, col);

	if (b == NULL || (size_t)sqlite3_column_bytes(stmt, col) != len)
		return false;
	memcpy(out, b, len);
	return true;
}

/* An optional hash column: NULL or empty = none, else exactly 32 bytes. */
static bool col_opt_hash(sqlite3_stmt *stmt, int col, bool *has, uint8_t *out)
{
	*has = false;
	if (sqlite3_column_type(stmt, col) == SQLITE_NULL || sqlite3_column_bytes(stmt, col) == 0)
		return true;
	*has = col_blob(stmt, col, out, NDX_SHA256_LEN);
	return *has;
}

static int step(struct ndx__msglog_iter *it)
{
	int rc;

	if (it->stmt == NULL)
		return 0; /* a query of a table the file does not have */
	rc = sqlite3_step(it->stmt);

	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : NDX_EDB;
}

static int store_iter_record(struct ndx__msglog_iter *it, struct ndx_msglog_entry *e)
{
	sqlite3_stmt *stmt = it->stmt;
	const char *dir;
	sqlite3_int64 status, seq;
	bool ok = true;
	int rc = step(it);

	memset(e, 0, sizeof *e);
	if (rc <= 0)
		return rc;
	seq = sqlite3_column_int64(stmt, 0);
	e->seq = seq > 0 ? (uint64_t)seq : 0;
	e->time_ms = sqlite3_column_int64(stmt, 1);
	dir = col_text(stmt, 2);
	if (strcmp(dir, "consumer") == 0)
		e->direction = NDX_MSGLOG_CONSUMER;
	else if (strcmp(dir, "provider") == 0)
		e->direction = NDX_MSGLOG_PROVIDER;
	else
		ok = false;
	e->message_id = col_text(stmt, 3);
	e->client = col_text(stmt, 4);
	e->service = col_text(stmt, 5);
	e->method = col_text(stmt, 6);
	e->path = col_text(stmt, 7);
	e->subject = col_text(stmt, 8);
	e->subjects = col_text(stmt, 9);
	e->purpose = col_text(stmt, 10);
	e->user_id = col_text(stmt, 11);
	e->issue = col_text(stmt, 12);
	e->represented_party = col_text(stmt, 13);
	e->authenticated = col_text(stmt, 14);
	ok = col_opt_hash(stmt, 15, &e->has_request_hash, e->request_hash) && ok;
	ok = col_opt_hash(stmt, 16, &e->has_response_hash, e->response_hash) && ok;
	status = sqlite3_column_int64(stmt, 17);
	if (status < -2147483647 || status > 2147483647)
		ok = false;
	else
		e->status = (int)status;
	e->duration_ms = sqlite3_column_int64(stmt, 18);
	e->request_sig = col_text(stmt, 19);
	e->response_sig = col_text(stmt, 20);
	ok = col_blob(stmt, 21, e->prev_hash, NDX_SHA256_LEN) && ok;
	ok = col_blob(stmt, 22, e->hash, NDX_SHA256_LEN) && ok;
	if (seq <= 0)
		ok = false;
	return ok ? 1 : NDX_EINVAL;
}

static int store_iter_batch(struct ndx__msglog_iter *it, struct ndx_msglog_sth *sth)
{
	sqlite3_stmt *stmt = it->stmt;
	const char *kid;
	sqlite3_int64 v;
	bool ok = true;
	int rc = step(it);

	memset(sth, 0, sizeof *sth);
	if (rc <= 0)
		return rc;
	v = sqlite3_column_int64(stmt, 0);
	sth->batch = v > 0 ? (uint64_t)v : 0;
	ok = v > 0;
	v = sqlite3_column_int64(stmt, 1);
	sth->first_seq = v > 0 ? (uint64_t)v : 0;
	ok = v > 0 && ok;
	v = sqlite3_column_int64(stmt, 2);
	sth->size = v > 0 ? (uint64_t)v : 0;
	ok = v > 0 && ok;
	ok = col_blob(stmt, 3, sth->root, NDX_SHA256_LEN) && ok;
	sth->time_ms = sqlite3_column_int64(stmt, 4);
	kid = col_text(stmt, 5);
	if (strlen(kid) == NDX_KEY_ID_HEX_LEN)
		memcpy(sth->key_id, kid, NDX_KEY_ID_HEX_LEN + 1);
	else
		ok = false;
	ok = col_blob(stmt, 6, sth->prev_sth_hash, NDX_SHA256_LEN) && ok;
	ok = col_blob(stmt, 7, sth->signature, NDX_ED25519_SIG_LEN) && ok;
	return ok ? 1 : NDX_EINVAL;
}

static int store_iter_witness(struct ndx__msglog_iter *it, struct ndx_msglog_witness *w)
{
	sqlite3_stmt *stmt = it->stmt;
	const char *kid, *gw;
	sqlite3_int64 v;
	bool ok = true;
	int rc = step(it);

	memset(w, 0, sizeof *w);
	if (rc <= 0)
		return rc;
	v = sqlite3_column_int64(stmt, 0);
	w->batch = v > 0 ? (uint64_t)v : 0;
	ok = v > 0;
	gw = col_text(stmt, 1);
	if (strlen(gw) <= NDX_MSGLOG_GATEWAY_MAX)
		memcpy(w->gateway, gw, strlen(gw) + 1);
	else
		ok = false;
	ok = col_blob(stmt, 2, w->sth_hash, NDX_SHA256_LEN) && ok;
	w->time_ms = sqlite3_column_int64(stmt, 3);
	kid = col_text(stmt, 4);
	if (strlen(kid) == NDX_KEY_ID_HEX_LEN)
		memcpy(w->key_id, kid, NDX_KEY_ID_HEX_LEN + 1);
	else
		ok = false;
	ok = col_blob(stmt, 5, w->signature, NDX_ED25519_SIG_LEN) && ok;
	return ok ? 1 : NDX_EINVAL;
}

static int store_iter_subject(struct ndx__msglog_iter *it, uint64_t *seq, const char **subject)
{
	sqlite3_int64 v;
	int rc = step(it);

	*seq = 0;
	*subject = "";
	if (rc <= 0)
		return rc;
	v = sqlite3_column_int64(it->stmt, 0);
	*seq = v > 0 ? (uint64_t)v : 0;
	*subject = col_text(it->stmt, 1);
	return 1;
}

static void store_iter_close(struct ndx__msglog_iter *it)
{
	struct sqlite_store *s;

	if (it == NULL)
		return;
	s = it->s;
	if (it->stmt != NULL && !s->closed && s->kept[it->q] == NULL) {
		/* kept for the next iterator of the query: reset (its read
		 * ends here, as a finalize would end it) and unbound */
		sqlite3_reset(it->stmt);
		sqlite3_clear_bindings(it->stmt);
		s->kept[it->q] = it->stmt;
	} else {
		sqlite3_finalize(it->stmt);
	}
	free(it);
	if (--s->open_iters == 0 && s->closed)
		free(s);
}

static const struct ndx__msglog_store_ops sqlite_ops = {
	.close = store_close,
	.begin = store_begin,
	.try_begin_write = store_try_begin_write,
	.data_version = store_data_version,
	.commit = store_commit,
	.rollback = store_rollback,
	.meta_get = store_meta_get,
	.meta_set = store_meta_set,
	.put_records = store_put_records,
	.put_batch = store_put_batch,
	.put_witness = store_put_witness,
	.delete_through = store_delete_through,
	.index_ids = store_index_ids,
	.iter_open = store_iter_open,
	.iter_record = store_iter_record,
	.iter_batch = store_iter_batch,
	.iter_witness = store_iter_witness,
	.iter_subject = store_iter_subject,
	.iter_close = store_iter_close,
};

/* Whether the file already holds a meta table naming another format than
 * ours. Such a file is opened for its meta only and left exactly as it is:
 * creating our tables in it, or switching its journal, would change a log
 * that this code cannot continue. NDX_EINVAL when it is not a database. */
static int detect_foreign(sqlite3 *db, bool *foreign)
{
	sqlite3_stmt *stmt = NULL;
	int rc;

	*foreign = false;
	rc = sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'format'", -1, &stmt,
				NULL);
	if (rc != SQLITE_OK) {
		/* No meta table yet (a new file) is not an error here. */
		rc = sqlite3_errcode(db);
		return rc == SQLITE_NOTADB ? NDX_EINVAL : rc == SQLITE_ERROR ? NDX_OK : NDX_EDB;
	}
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		const unsigned char *v = sqlite3_column_text(stmt, 0);

		*foreign = v == NULL || strcmp((const char *)v, NDX__MSGLOG_FORMAT) != 0;
		rc = NDX_OK;
	} else {
		rc = rc == SQLITE_DONE ? NDX_OK : sqlite3_errcode(db) == SQLITE_NOTADB ? NDX_EINVAL
										    : NDX_EDB;
	}
	sqlite3_finalize(stmt);
	return rc;
}

int ndx__msglog_sqlite_open(const char *path, int flags, struct ndx__msglog_store **out)
{
	struct sqlite_store *s;
	const char *pragmas;
	int oflags, rc;

	*out = NULL;
	s = calloc(1, sizeof *s);
	if (s == NULL)
		return NDX_ENOMEM;
	s->base.ops = &sqlite_ops;
	oflags = (flags & NDX__MSGLOG_READONLY) ? SQLITE_OPEN_READONLY
						: SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
	rc = sqlite3_open_v2(path, &s->db, oflags | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		rc = rc == SQLITE_CANTOPEN ? NDX_EIO : rc == SQLITE_NOMEM ? NDX_ENOMEM : NDX_EDB;
		goto fail;
	}
	sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
	rc = detect_foreign(s->db, &s->foreign);
	if (rc != NDX_OK)
		goto fail;
	sqlite3_extended_result_codes(s->db, 1);
	if ((flags & NDX__MSGLOG_READONLY) || s->foreign)
		pragmas = "PRAGMA query_only = ON;";
	else if (flags & NDX__MSGLOG_ARCHIVE)
		pragmas = "PRAGMA page_size = " NEW_LOG_PAGE_SIZE ";"
			  " PRAGMA journal_mode = DELETE; PRAGMA synchronous = FULL;";
	else
		/* page_size first: journal_mode = WAL writes a new file's header. */
		pragmas = "PRAGMA page_size = " NEW_LOG_PAGE_SIZE ";"
			  " PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;";
	if (sqlite3_exec(s->db, pragmas, NULL, NULL, NULL) != SQLITE_OK) {
		/* The first statement is where SQLite notices a file that is
		 * not a database at all. */
		rc = sqlite3_errcode(s->db) == SQLITE_NOTADB ? NDX_EINVAL : NDX_EDB;
		goto fail;
	}
	if (!(flags & NDX__MSGLOG_READONLY) && !s->foreign &&
	    sqlite3_exec(s->db, schema_sql, NULL, NULL, NULL) != SQLITE_OK) {
		rc = sqlite3_errcode(s->db) == SQLITE_NOTADB ? NDX_EINVAL : NDX_EDB;
		goto fail;
	}
	for (int i = 0; i < (s->foreign ? S_FOREIGN_COUNT : S_COUNT); i++) {
		if (sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
				       &s->stmt[i], NULL) != SQLITE_OK) {
			/* A database without our tables is not a message log. */
			int ec = sqlite3_errcode(s->db);

			/* ... but a reader of a log no gateway has opened since
			 * countersignatures (or record_ids) exist finds no
			 * witnesses (record_ids) table. */
			if ((i == S_PUT_WITNESS || i == S_IDS_PUT || i == S_IDS_DEL) &&
			    (flags & NDX__MSGLOG_READONLY) && ec == SQLITE_ERROR)
				continue;

			rc = ec == SQLITE_ERROR || ec == SQLITE_NOTADB ? NDX_EINVAL : NDX_EDB;
			goto fail;
		}
	}
	*out = &s->base;
	return NDX_OK;
fail:
	store_close(&s->base);
	return rc;
}
