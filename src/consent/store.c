/* The consent service's SQLite store (store.h): schema, the issuer and token
 * hash in a meta table, issued consents with their place in the status
 * lists, and revocations with the version that gateways use to refuse going
 * backwards. Times are integer seconds (the consent's own NumericDates); the
 * API formats them. A process-wide mutex serialises the read-modify-write of
 * a revocation and of an index reservation, and guards the status lists'
 * bits, which are held in memory (loaded from the table on first use, then
 * set by each revocation after its commit). */
#include "store.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ndx/sqlstore.h"
#include "ndx/err.h"
#include "ndx/statuslist.h"
#include "ndx/timefmt.h"

#define PROG "ndx-consent"

struct cstore {
	sqlite3 *db;
	pthread_mutex_t mu;
	char *issuer;
	char *token_sha256;
	/* bits[list]: NULL until first asked for; gen[list] rises with each
	 * change so that the API knows when its encoded copy is stale. */
	uint8_t **bits;
	uint64_t *gen;
	uint32_t nbits;
};

/* migrations[i] is schema version i + 1; append, never edit. */
static const char *const MIGRATIONS[] = {
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS consents(jti TEXT PRIMARY KEY, subject TEXT NOT NULL,"
	" consumer TEXT NOT NULL, services TEXT NOT NULL, purpose TEXT NOT NULL,"
	" iat INTEGER NOT NULL, nbf INTEGER NOT NULL, exp INTEGER NOT NULL,"
	" jws TEXT NOT NULL, revoked_at INTEGER);"
	"CREATE INDEX IF NOT EXISTS consents_subject ON consents(subject);"
	"CREATE INDEX IF NOT EXISTS consents_revoked ON consents(revoked_at)"
	" WHERE revoked_at IS NOT NULL;",
	/* 2: status lists (docs/protocol.md "Revocation"). Consents issued
	 * before keep NULL: they are version 1 and gateways refuse them. */
	"ALTER TABLE consents ADD COLUMN status_list INTEGER;"
	"ALTER TABLE consents ADD COLUMN status_idx INTEGER;"
	"CREATE UNIQUE INDEX consents_status ON consents(status_list, status_idx);"
	"CREATE INDEX consents_status_revoked ON consents(status_list, status_idx)"
	" WHERE revoked_at IS NOT NULL;"
	"INSERT OR IGNORE INTO meta(key, value) VALUES('status_next', '0');",
};

static int db_fail(struct cstore *st, const char *what)
{
	return ndx_sqlstore_fail(st->db, PROG, what);
}

static int exec_sql(struct cstore *st, const char *sql)
{
	return ndx_sqlstore_exec(st->db, PROG, sql);
}

static int prepare(struct cstore *st, const char *sql, sqlite3_stmt **s)
{
	if (sqlite3_prepare_v2(st->db, sql, -1, s, NULL) != SQLITE_OK)
		return db_fail(st, "prepare");
	return NDX_OK;
}

static int meta_get(struct cstore *st, const char *key, char **out)
{
	sqlite3_stmt *s;
	int rc;

	*out = NULL;
	if ((rc = prepare(st, "SELECT value FROM meta WHERE key = ?", &s)))
		return rc;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*out = strdup((const char *)sqlite3_column_text(s, 0));
		rc = *out ? NDX_OK : NDX_ENOMEM;
	} else {
		rc = rc == SQLITE_DONE ? NDX_ENOTFOUND : db_fail(st, "meta");
	}
	sqlite3_finalize(s);
	return rc;
}

static int meta_set(struct cstore *st, const char *key, const char *value)
{
	sqlite3_stmt *s;
	int rc;

	if ((rc = prepare(st, "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)", &s)))
		return rc;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, value, -1, SQLITE_STATIC);
	rc = sqlite3_step(s) == SQLITE_DONE ? NDX_OK : db_fail(st, "meta");
	sqlite3_finalize(s);
	return rc;
}

static int connect_db(const char *path, int flags, struct cstore **out)
{
	struct cstore *st = calloc(1, sizeof *st);

	*out = NULL;
	if (!st)
		return NDX_ENOMEM;
	/* A revocation, once acknowledged to the subject, must survive a crash:
	 * ndx_sqlstore_open sets synchronous=FULL. */
	if (ndx_sqlstore_open(path, flags, MIGRATIONS, sizeof MIGRATIONS / sizeof *MIGRATIONS,
			      PROG, &st->db) != NDX_OK) {
		free(st);
		return NDX_EDB;
	}
	pthread_mutex_init(&st->mu, NULL);
	*out = st;
	return NDX_OK;
}

static int load_meta(struct cstore *st)
{
	int rc = meta_get(st, "issuer", &st->issuer);

	if (!rc)
		rc = meta_get(st, "token_sha256", &st->token_sha256);
	if (rc == NDX_ENOTFOUND) {
		fprintf(stderr, PROG ": the database has no issuer: not a consent service "
				"database, or its init did not finish\n");
		rc = NDX_EDB;
	}
	return rc;
}

int cstore_create(const char *path, const char *issuer, const char *token_sha256_hex,
		  struct cstore **out)
{
	struct cstore *st;
	int rc;

	*out = NULL;
	if (access(path, F_OK) == 0)
		return NDX_EEXIST;
	if ((rc = connect_db(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &st)))
		return rc;
	if ((rc = exec_sql(st, "BEGIN IMMEDIATE")))
		goto fail;
	if ((rc = meta_set(st, "issuer", issuer)) ||
	    (rc = meta_set(st, "token_sha256", token_sha256_hex)) ||
	    (rc = meta_set(st, "revocation_version", "1")) || (rc = exec_sql(st, "COMMIT"))) {
		exec_sql(st, "ROLLBACK");
		goto fail;
	}
	if ((rc = load_meta(st)))
		goto fail;
	*out = st;
	return NDX_OK;
fail:
	cstore_close(st);
	return rc;
}

int cstore_open(const char *path, struct cstore **out)
{
	struct cstore *st;
	int rc;

	*out = NULL;
	if (access(path, F_OK) != 0) {
		fprintf(stderr, PROG ": %s does not exist (run `" PROG " init` first)\n", path);
		return NDX_EIO;
	}
	if ((rc = connect_db(path, SQLITE_OPEN_READWRITE, &st)))
		return rc;
	if ((rc = load_meta(st))) {
		cstore_close(st);
		return rc;
	}
	*out = st;
	return NDX_OK;
}

void cstore_close(struct cstore *st)
{
	if (!st)
		return;
	sqlite3_close(st->db);
	pthread_mutex_destroy(&st->mu);
	for (uint32_t i = 0; i < st->nbits; i++)
		free(st->bits[i]);
	free(st->bits);
	free(st->gen);
	free(st->issuer);
	free(st->token_sha256);
	free(st);
}

const char *cstore_issuer(const struct cstore *st)
{
	return st->issuer;
}

const char *cstore_token_sha256(const struct cstore *st)
{
	return st->token_sha256;
}

int cstore_consent_add(struct cstore *st, const struct cstore_consent *c)
{
	sqlite3_stmt *s;
	int rc;

	pthread_mutex_lock(&st->mu);
	rc = prepare(st, "INSERT INTO consents(jti, subject, consumer, services, purpose, iat,"
			 " nbf, exp, jws, status_list, status_idx) VALUES(?,?,?,?,?,?,?,?,?,?,?)",
		     &s);
	if (rc) {
		pthread_mutex_unlock(&st->mu);
		return rc;
	}
	sqlite3_bind_text(s, 1, c->jti, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, c->subject, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, c->consumer, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, c->services, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, c->purpose, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 6, (sqlite3_int64)c->iat);
	sqlite3_bind_int64(s, 7, (sqlite3_int64)c->nbf);
	sqlite3_bind_int64(s, 8, (sqlite3_int64)c->exp);
	sqlite3_bind_text(s, 9, c->jws, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 10, (sqlite3_int64)c->status_list);
	sqlite3_bind_int64(s, 11, (sqlite3_int64)c->status_idx);
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE)
		rc = NDX_OK;
	else if ((rc & 0xff) == SQLITE_CONSTRAINT)
		rc = NDX_EEXIST;
	else
		rc = db_fail(st, "insert");
	sqlite3_finalize(s);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

static json_t *time_or_null(sqlite3_stmt *s, int col)
{
	char text[NDX_TIME_TEXT_LEN];

	if (sqlite3_column_type(s, col) == SQLITE_NULL)
		return json_null();
	ndx_time_format((time_t)sqlite3_column_int64(s, col), text);
	return json_string(text);
}

static json_t *consent_row(sqlite3_stmt *s, time_t now)
{
	const char *services = (const char *)sqlite3_column_text(s, 3);
	time_t nbf = (time_t)sqlite3_column_int64(s, 6), exp = (time_t)sqlite3_column_int64(s, 7);
	const char *status = sqlite3_column_type(s, 9) != SQLITE_NULL ? "revoked"
			     : now >= exp			   ? "expired"
			     : now < nbf			   ? "pending"
								   : "active";
	json_t *svc = json_loads(services ? services : "[]", 0, NULL);

	if (!svc)
		return NULL;
	return json_pack("{ss ss ss so ss so so so ss so ss}",
			 "jti", (const char *)sqlite3_column_text(s, 0),
			 "subject", (const char *)sqlite3_column_text(s, 1),
			 "consumer", (const char *)sqlite3_column_text(s, 2),
			 "services", svc,
			 "purpose", (const char *)sqlite3_column_text(s, 4),
			 "issued_at", time_or_null(s, 5), "valid_from", time_or_null(s, 6),
			 "valid_to", time_or_null(s, 7), "status", status,
			 "revoked_at", time_or_null(s, 9),
			 "consent", (const char *)sqlite3_column_text(s, 8));
}

int cstore_consent_list(struct cstore *st, const char *subject, time_t now, json_t **out)
{
	sqlite3_stmt *s;
	json_t *arr;
	int rc;

	*out = NULL;
	if (!(arr = json_array()))
		return NDX_ENOMEM;
	pthread_mutex_lock(&st->mu);
	rc = prepare(st, "SELECT jti, subject, consumer, services, purpose, iat, nbf, exp, jws,"
			 " revoked_at FROM consents WHERE subject = ? ORDER BY iat DESC, jti",
		     &s);
	if (rc) {
		pthread_mutex_unlock(&st->mu);
		json_decref(arr);
		return rc;
	}
	sqlite3_bind_text(s, 1, subject, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		json_t *row = consent_row(s, now);
		if (!row || json_array_append_new(arr, row)) {
			rc = NDX_ENOMEM;
			goto out;
		}
	}
	rc = rc == SQLITE_DONE ? NDX_OK : db_fail(st, "list");
out:
	sqlite3_finalize(s);
	pthread_mutex_unlock(&st->mu);
	if (rc)
		json_decref(arr);
	else
		*out = arr;
	return rc;
}

static int read_counter(struct cstore *st, const char *key, uint64_t *version)
{
	char *v = NULL, *end;
	unsigned long long n;
	int rc = meta_get(st, key, &v);

	if (rc)
		return rc == NDX_ENOTFOUND ? NDX_EDB : rc;
	n = strtoull(v, &end, 10);
	rc = (*end || end == v) ? NDX_EDB : NDX_OK;
	free(v);
	*version = n;
	return rc;
}

static int read_version(struct cstore *st, uint64_t *version)
{
	return read_counter(st, "revocation_version", version);
}

/* Lists in use: every index below status_next has been handed out. */
static uint32_t lists_in_use(uint64_t next)
{
	return (uint32_t)((next + NDX_STATUSLIST_CAPACITY - 1) / NDX_STATUSLIST_CAPACITY);
}

int cstore_status_reserve(struct cstore *st, uint32_t *list, uint32_t *idx)
{
	char text[24];
	uint64_t next = 0;
	int rc;

	pthread_mutex_lock(&st->mu);
	if ((rc = exec_sql(st, "BEGIN IMMEDIATE")))
		goto unlock;
	if ((rc = read_counter(st, "status_next", &next)))
		goto rollback;
	if (next / NDX_STATUSLIST_CAPACITY > NDX_STATUSLIST_MAX_LIST) {
		rc = NDX_ETOOBIG;
		goto rollback;
	}
	snprintf(text, sizeof text, "%llu", (unsigned long long)(next + 1));
	if ((rc = meta_set(st, "status_next", text)) || (rc = exec_sql(st, "COMMIT")))
		goto rollback;
	*list = (uint32_t)(next / NDX_STATUSLIST_CAPACITY);
	*idx = (uint32_t)(next % NDX_STATUSLIST_CAPACITY);
	pthread_mutex_unlock(&st->mu);
	return NDX_OK;
rollback:
	exec_sql(st, "ROLLBACK");
unlock:
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int cstore_consent_subject(struct cstore *st, const char *jti, char *subject, size_t cap)
{
	sqlite3_stmt *s;
	int rc;

	pthread_mutex_lock(&st->mu);
	if ((rc = prepare(st, "SELECT subject FROM consents WHERE jti = ?", &s)) == NDX_OK) {
		sqlite3_bind_text(s, 1, jti, -1, SQLITE_STATIC);
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW)
			rc = snprintf(subject, cap, "%s", (const char *)sqlite3_column_text(s, 0)) <
					     (int)cap
				     ? NDX_OK
				     : NDX_ETOOBIG;
		else
			rc = rc == SQLITE_DONE ? NDX_ENOTFOUND : db_fail(st, "subject");
		sqlite3_finalize(s);
	}
	pthread_mutex_unlock(&st->mu);
	return rc;
}

/* The bits of list, loaded from the table on first use. Under st->mu. */
static int status_bits_locked(struct cstore *st, uint32_t list, uint8_t **out)
{
	sqlite3_stmt *s;
	uint8_t *bits;
	int rc;

	if (list < st->nbits && st->bits[list]) {
		*out = st->bits[list];
		return NDX_OK;
	}
	if (list >= st->nbits) {
		uint8_t **nb = realloc(st->bits, (list + 1) * sizeof *nb);
		uint64_t *ng;

		if (!nb)
			return NDX_ENOMEM;
		st->bits = nb;
		if (!(ng = realloc(st->gen, (list + 1) * sizeof *ng)))
			return NDX_ENOMEM;
		st->gen = ng;
		for (uint32_t i = st->nbits; i <= list; i++) {
			st->bits[i] = NULL;
			st->gen[i] = 0;
		}
		st->nbits = list + 1;
	}
	if (!(bits = calloc(1, NDX_STATUSLIST_BYTES)))
		return NDX_ENOMEM;
	if ((rc = prepare(st, "SELECT status_idx FROM consents WHERE revoked_at IS NOT NULL"
			      " AND status_list = ?", &s))) {
		free(bits);
		return rc;
	}
	sqlite3_bind_int64(s, 1, (sqlite3_int64)list);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		sqlite3_int64 idx = sqlite3_column_int64(s, 0);
		if (idx >= 0 && idx < (sqlite3_int64)NDX_STATUSLIST_CAPACITY)
			ndx_statuslist_set(bits, NDX_STATUSLIST_BYTES, (uint64_t)idx);
	}
	rc = rc == SQLITE_DONE ? NDX_OK : db_fail(st, "status list");
	sqlite3_finalize(s);
	if (rc) {
		free(bits);
		return rc;
	}
	st->bits[list] = bits;
	st->gen[list]++;
	*out = bits;
	return NDX_OK;
}

int cstore_status(struct cstore *st, uint64_t *version, uint32_t *nlists)
{
	uint64_t next = 0;
	int rc;

	pthread_mutex_lock(&st->mu);
	if ((rc = exec_sql(st, "BEGIN")) == NDX_OK) {
		if ((rc = read_version(st, version)) == NDX_OK)
			rc = read_counter(st, "status_next", &next);
		exec_sql(st, rc ? "ROLLBACK" : "COMMIT");
	}
	pthread_mutex_unlock(&st->mu);
	*nlists = rc ? 0 : lists_in_use(next);
	return rc;
}

int cstore_status_bits(struct cstore *st, uint32_t list, uint8_t *out, uint64_t *gen)
{
	uint8_t *bits;
	int rc;

	pthread_mutex_lock(&st->mu);
	rc = status_bits_locked(st, list, &bits);
	if (rc == NDX_OK) {
		if (out)
			memcpy(out, bits, NDX_STATUSLIST_BYTES);
		*gen = st->gen[list];
	}
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int cstore_consent_revoke(struct cstore *st, const char *jti, time_t now, uint64_t *version)
{
	sqlite3_stmt *s = NULL;
	sqlite3_int64 list = 0, idx = 0;
	char text[24];
	int rc, step, has_status = 0;

	*version = 0;
	pthread_mutex_lock(&st->mu);
	if ((rc = exec_sql(st, "BEGIN IMMEDIATE")))
		goto unlock;
	if ((rc = read_version(st, version)))
		goto rollback;
	if ((rc = prepare(st, "SELECT revoked_at IS NOT NULL, status_list, status_idx"
			      " FROM consents WHERE jti = ?", &s)))
		goto rollback;
	sqlite3_bind_text(s, 1, jti, -1, SQLITE_STATIC);
	step = sqlite3_step(s);
	if (step == SQLITE_DONE)
		rc = NDX_ENOTFOUND;
	else if (step != SQLITE_ROW)
		rc = db_fail(st, "revoke");
	else if (sqlite3_column_int(s, 0))
		rc = NDX_EEXIST;
	else if (sqlite3_column_type(s, 1) != SQLITE_NULL) {
		has_status = 1;
		list = sqlite3_column_int64(s, 1);
		idx = sqlite3_column_int64(s, 2);
	}
	sqlite3_finalize(s);
	s = NULL;
	if (rc)
		goto rollback;
	if ((rc = prepare(st, "UPDATE consents SET revoked_at = ? WHERE jti = ?", &s)))
		goto rollback;
	sqlite3_bind_int64(s, 1, (sqlite3_int64)now);
	sqlite3_bind_text(s, 2, jti, -1, SQLITE_STATIC);
	rc = sqlite3_step(s) == SQLITE_DONE ? NDX_OK : db_fail(st, "revoke");
	sqlite3_finalize(s);
	if (rc)
		goto rollback;
	snprintf(text, sizeof text, "%llu", (unsigned long long)(*version + 1));
	if ((rc = meta_set(st, "revocation_version", text)) || (rc = exec_sql(st, "COMMIT")))
		goto rollback;
	(*version)++;
	/* Held bits follow the table; bits not loaded yet will be read from it. */
	if (has_status && list >= 0 && (uint64_t)list < st->nbits && st->bits[list] &&
	    idx >= 0 && idx < (sqlite3_int64)NDX_STATUSLIST_CAPACITY) {
		ndx_statuslist_set(st->bits[list], NDX_STATUSLIST_BYTES, (uint64_t)idx);
		st->gen[list]++;
	}
	pthread_mutex_unlock(&st->mu);
	return NDX_OK;
rollback:
	exec_sql(st, "ROLLBACK");
unlock:
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int cstore_counts(struct cstore *st, time_t now, struct cstore_counts *out)
{
	static const char sql[] =
		"SELECT CASE WHEN revoked_at IS NOT NULL THEN 3 WHEN exp <= ?1 THEN 2"
		" WHEN nbf > ?1 THEN 1 ELSE 0 END AS state, count(*) FROM consents GROUP BY state";
	sqlite3_stmt *s;
	int rc, step;

	memset(out, 0, sizeof *out);
	pthread_mutex_lock(&st->mu);
	rc = prepare(st, sql, &s);
	if (rc == NDX_OK) {
		sqlite3_bind_int64(s, 1, (sqlite3_int64)now);
		while ((step = sqlite3_step(s)) == SQLITE_ROW) {
			uint64_t n = (uint64_t)sqlite3_column_int64(s, 1);
			switch (sqlite3_column_int(s, 0)) {
			case 0: out->active = n; break;
			case 1: out->pending = n; break;
			case 2: out->expired = n; break;
			default: out->revoked = n; break;
			}
		}
		if (step != SQLITE_DONE) {
			memset(out, 0, sizeof *out);
			rc = db_fail(st, "count");
		}
		sqlite3_finalize(s);
	}
	pthread_mutex_unlock(&st->mu);
	return rc;
}
