/* The storage interface behind the message log (msglog.c): a table of
 * function pointers so that the SQLite store (msglog_sqlite.c) can be
 * joined by a PostgreSQL one without touching the chain, batch and proof
 * logic. A store is used by one thread at a time; msglog.c gives the writer
 * thread, the readers and (for a store with claim) the replay claims
 * separate stores. Internal to libndx (and its unit
 * tests, which wrap a store to inject failures). */
#ifndef NDX_MSGLOG_STORE_H
#define NDX_MSGLOG_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ndx/msglog.h"

/* The meta table's format of the logs this code reads and writes. A store
 * holding another format opens only for meta_get (so that msglog.c can say
 * which format it found) and is never changed. */
#define NDX__MSGLOG_FORMAT "ndx-msglog/3"

struct ndx__msglog_store;
struct ndx__msglog_iter;

/* What an iterator walks. u and text are the query's argument. */
enum ndx__msglog_query {
	NDX__Q_RECORDS_FROM,     /* records with seq >= u, ascending */
	NDX__Q_RECORD_LAST,      /* the record with the highest seq */
	NDX__Q_RECORDS_BY_ID,    /* records with message_id = text, ascending */
	NDX__Q_RECORDS_BY_SUBJECT, /* records whose subject index holds text, ascending */
	NDX__Q_RECORDS_DESC,     /* all records, newest (highest seq) first */
	NDX__Q_BATCHES_FROM,     /* batches with batch >= u, ascending */
	NDX__Q_BATCH_LAST,       /* the batch with the highest number */
	NDX__Q_BATCH_OF_SEQ,     /* the batch with the largest first_seq <= u */
	NDX__Q_SUBJECT_INDEX,    /* subject index rows, by seq then subject (iter_subject) */
	NDX__Q_WITNESSES_FROM,   /* countersignatures with batch >= u, ascending (iter_witness) */
	NDX__Q_WITNESS_LAST,     /* the countersignature of the highest batch (iter_witness) */
};

/* Every int function returns NDX_OK or a negative enum ndx_err (NDX_EDB
 * for a store failure, NDX_ENOTFOUND where said). */
struct ndx__msglog_store_ops {
	/* Frees the store; a transaction still open is rolled back. */
	void (*close)(struct ndx__msglog_store *st);
	/* write selects a write transaction (taking the write lock at once);
	 * otherwise a read transaction giving one consistent snapshot. */
	int (*begin)(struct ndx__msglog_store *st, bool write);
	/* A write transaction only if the write lock is free now: NDX_EBUSY,
	 * with no transaction begun, when another connection holds it. NULL
	 * for a store whose every statement may wait on a server
	 * (PostgreSQL): the log then writes only on its writer thread. */
	int (*try_begin_write)(struct ndx__msglog_store *st);
	/* In a write transaction: a number that differs from the one read in
	 * this store's previous transaction whenever another connection
	 * committed since, and stays the same across this store's own
	 * commits (it may change for less, e.g. another connection's
	 * checkpoint: that costs the caller a needless look). NULL for a
	 * store that cannot tell (PostgreSQL): the writer then compares the
	 * store's head with its own in every group. */
	int (*data_version)(struct ndx__msglog_store *st, uint64_t *version);
	/* Durable when it returns NDX_OK. On failure the caller rolls back. */
	int (*commit)(struct ndx__msglog_store *st);
	/* Never fails in a way the caller could act on. */
	void (*rollback)(struct ndx__msglog_store *st);
	/* *value is malloc'd (caller frees); NDX_ENOTFOUND when absent. */
	int (*meta_get)(struct ndx__msglog_store *st, const char *key, char **value);
	int (*meta_set)(struct ndx__msglog_store *st, const char *key, const char *value);
	/* Writes the records e[0..n), in seq order, and their subject index
	 * rows (the subject and each element of the subjects list, distinct
	 * within a record, empty ones left out), in the caller's transaction.
	 * n records at once let a store insert them with fewer statements. */
	int (*put_records)(struct ndx__msglog_store *st, const struct ndx_msglog_entry *e,
			   size_t n);
	int (*put_batch)(struct ndx__msglog_store *st, const struct ndx_msglog_sth *sth);
	/* Writes (or replaces) the countersignature of w->batch. */
	int (*put_witness)(struct ndx__msglog_store *st, const struct ndx_msglog_witness *w);
	/* Deletes records (and their subject index rows) with seq <= last_seq
	 * and batches <= last_batch. */
	int (*delete_through)(struct ndx__msglog_store *st, uint64_t last_seq, uint64_t last_batch);
	/* Brings the index of message ids up to date by at most max records,
	 * in a transaction of its own (outside the caller's) that may be less
	 * durable than a record's: *more is set when records are left past
	 * it. NDX__Q_RECORDS_BY_ID finds every record whether indexed or not.
	 * NULL for a store that indexes them in each record's transaction. */
	int (*index_ids)(struct ndx__msglog_store *st, uint64_t max, bool *more);
	/* Starts a query; *it is freed with iter_close. Several iterators may
	 * be open at once on one store. */
	int (*iter_open)(struct ndx__msglog_store *st, enum ndx__msglog_query q, uint64_t u,
			 const char *text, struct ndx__msglog_iter **it);
	/* Next row: 1 with *e filled (strings valid until the next call or
	 * iter_close), 0 at the end, or an error. A row whose blobs have the
	 * wrong length gives NDX_EINVAL with e->seq set, so that a verifier can
	 * name it. */
	int (*iter_record)(struct ndx__msglog_iter *it, struct ndx_msglog_entry *e);
	int (*iter_batch)(struct ndx__msglog_iter *it, struct ndx_msglog_sth *sth);
	/* Next countersignature: 1 with *w filled, 0 at the end, NDX_EINVAL
	 * for a malformed row (w->batch set), or an error. A log written
	 * before countersignatures existed has none (0 at once). */
	int (*iter_witness)(struct ndx__msglog_iter *it, struct ndx_msglog_witness *w);
	/* Next subject index row: 1 with *seq and *subject (valid until the
	 * next call or iter_close), 0 at the end, or an error. */
	int (*iter_subject)(struct ndx__msglog_iter *it, uint64_t *seq, const char **subject);
	/* Accepts NULL. */
	void (*iter_close)(struct ndx__msglog_iter *it);
	/* Claims key for every process writing this log until expires_ms, in
	 * a transaction of its own (outside the caller's): NDX_OK when it was
	 * free or its claim had expired by now_ms, NDX_EEXIST when a live claim
	 * holds it. NULL for a store that only one process writes (SQLite). */
	int (*claim)(struct ndx__msglog_store *st, const uint8_t key[NDX_SHA256_LEN],
		     int64_t now_ms, int64_t expires_ms);
	/* Counts one call of a marketplace agreement in the period that
	 * starts at period_start (Unix seconds) for every process writing
	 * this log, unless max calls are counted there already, in a
	 * transaction of its own: NDX_OK when counted, NDX_EPERM when the
	 * maximum is used up. give_back_call takes one counted call of that
	 * period back (a call refused after it was counted). NULL for a store
	 * that only one process writes (SQLite). */
	int (*count_call)(struct ndx__msglog_store *st, const char *agreement,
			  int64_t period_start, int64_t max);
	int (*give_back_call)(struct ndx__msglog_store *st, const char *agreement,
			      int64_t period_start);
};

/* Every store starts with this, so a wrapper can forward to another. */
struct ndx__msglog_store {
	const struct ndx__msglog_store_ops *ops;
};

/* Walks the elements of a subjects list ("a,b,c"; blanks around commas
 * are skipped, empty elements left out): *cursor starts at the list (NULL
 * = empty); each call that returns true sets *elem and *len to the next
 * element (not NUL-terminated). The one rule by which a store writes the
 * subject index and the verifier checks it. */
static inline bool ndx__msglog_subjects_next(const char **cursor, const char **elem, size_t *len)
{
	const char *p = *cursor;

	while (p != NULL && *p != '\0') {
		const char *start, *end;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		start = p;
		while (*p != '\0' && *p != ',')
			p++;
		end = p;
		while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		if (end > start) {
			*cursor = p;
			*elem = start;
			*len = (size_t)(end - start);
			return true;
		}
	}
	*cursor = p;
	return false;
}

/* Open flags of a store (ARCHIVE: SQLite only). */
enum {
	NDX__MSGLOG_READONLY = 1, /* read-only connection to an existing file */
	NDX__MSGLOG_ARCHIVE = 2,  /* a new self-contained file: rollback journal, not WAL */
};

/* Opens the SQLite store at path (created with the schema unless
 * READONLY). A file whose meta table names another format than
 * NDX__MSGLOG_FORMAT opens untouched, for meta_get only. Returns NDX_OK with
 * *out, NDX_EIO (missing or unreadable file), NDX_EINVAL (not a message
 * log), NDX_EDB, NDX_ENOMEM. */
int ndx__msglog_sqlite_open(const char *path, int flags, struct ndx__msglog_store **out);

/* Whether path is a PostgreSQL connection string (postgresql:// or
 * postgres://) rather than a file path. */
bool ndx__msglog_is_pg(const char *path);

/* Opens the PostgreSQL store (msglog_pg.c) of the connection string
 * conninfo, creating its tables unless READONLY; ARCHIVE is refused with
 * NDX_EINVAL (archives are SQLite files). Returns as ndx__msglog_sqlite_open
 * does (NDX_EDB when the server cannot be reached; its message on stderr). */
int ndx__msglog_pg_open(const char *conninfo, int flags, struct ndx__msglog_store **out);

/* How messages name the store of a connection string: user, host, port,
 * database and options, never a password. */
void ndx__msglog_pg_name(const char *conninfo, char *out, size_t cap);

/* The store of path: PostgreSQL for a connection string, else SQLite. */
int ndx__msglog_store_open(const char *path, int flags, struct ndx__msglog_store **out);

/* ndx_msglog_open over given stores: w is used by the writer thread only,
 * r (read-only, may be NULL: ndx_msglog_by_subject then fails with
 * NDX_EINVAL) by readers. Takes ownership of both, also on failure. */
int ndx__msglog_open_store(struct ndx__msglog_store *w, struct ndx__msglog_store *r,
			   const struct ndx_key *key, const struct ndx_msglog_options *opt,
			   struct ndx_msglog **out);

#endif
