/* The consent service's SQLite store (store.h): schema, the issuer and token
 * hash in a meta table, issued consents, and revocations with the list
 * version that gateways use to refuse going backwards. Times are integer
 * seconds (the consent's own NumericDates); the API formats them. A
 * process-wide mutex serialises the read-modify-write of a revocation so
 * that every revocation gets its own version. */
#include "store.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ndx/sqlstore.h"
#include "ndx/err.h"
#include "ndx/timefmt.h"

#define PROG "ndx-consent"

struct cstore {
	sqlite3 *db;
	pthread_mutex_t mu;
	char *issuer;
	char *token_sha256;
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
			 " nbf, exp, jws) VALUES(?,?,?,?,?,?,?,?,?)", &s);
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

static int read_version(struct cstore *st, uint64_t *version)
{
	char *v = NULL, *end;
	unsigned long long n;
	int rc = meta_get(st, "revocation_version", &v);

	if (rc)
		return rc == NDX_ENOTFOUND ? NDX_EDB : rc;
	n = strtoull(v, &end, 10);
	rc = (*end || end == v) ? NDX_EDB : NDX_OK;
	free(v);
	*version = n;
	return rc;
}

int cstore_consent_revoke(struct cstore *st, const char *jti, time_t now, uint64_t *version)
{
	sqlite3_stmt *s = NULL;
	char text[24];
	int rc, step;

	*version = 0;
	pthread_mutex_lock(&st->mu);
	if ((rc = exec_sql(st, "BEGIN IMMEDIATE")))
		goto unlock;
	if ((rc = read_version(st, version)))
		goto rollback;
	if ((rc = prepare(st, "SELECT revoked_at IS NOT NULL FROM consents WHERE jti = ?", &s)))
		goto rollback;
	sqlite3_bind_text(s, 1, jti, -1, SQLITE_STATIC);
	step = sqlite3_step(s);
	if (step == SQLITE_DONE)
		rc = NDX_ENOTFOUND;
	else if (step != SQLITE_ROW)
		rc = db_fail(st, "revoke");
	else if (sqlite3_column_int(s, 0))
		rc = NDX_EEXIST;
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
	pthread_mutex_unlock(&st->mu);
	return NDX_OK;
rollback:
	exec_sql(st, "ROLLBACK");
unlock:
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int cstore_revocations(struct cstore *st, time_t now, uint64_t *version, json_t **jtis)
{
	sqlite3_stmt *s;
	json_t *arr;
	int rc;

	*jtis = NULL;
	if (!(arr = json_array()))
		return NDX_ENOMEM;
	pthread_mutex_lock(&st->mu);
	/* The version and the rows in one read transaction: a revocation
	 * between the two must not give a list that claims a version it lacks. */
	if ((rc = exec_sql(st, "BEGIN")))
		goto unlock;
	if ((rc = read_version(st, version)) ||
	    (rc = prepare(st, "SELECT jti FROM consents WHERE revoked_at IS NOT NULL"
			      " AND exp > ? ORDER BY jti", &s)))
		goto end;
	sqlite3_bind_int64(s, 1, (sqlite3_int64)now);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (json_array_append_new(arr, json_string((const char *)
							   sqlite3_column_text(s, 0)))) {
			rc = NDX_ENOMEM;
			break;
		}
	}
	if (rc != NDX_ENOMEM)
		rc = rc == SQLITE_DONE ? NDX_OK : db_fail(st, "revocations");
	sqlite3_finalize(s);
end:
	exec_sql(st, rc ? "ROLLBACK" : "COMMIT");
unlock:
	pthread_mutex_unlock(&st->mu);
	if (rc)
		json_decref(arr);
	else
		*jtis = arr;
	return rc;
}
