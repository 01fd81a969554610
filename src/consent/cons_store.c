/* The consent service's store (cons_store.h) over its two engines
 * (cons_db.h: SQLite by default, PostgreSQL for a postgresql:// location):
 * the issuer and token hash in a meta table, issued consents with their
 * place in the status lists, and revocations with the version that
 * gateways use to refuse going backwards. Every query is here once, in the
 * SQL both engines speak. Times are integer seconds (the consent's own
 * NumericDates); the API formats them. A process-wide mutex serialises the
 * store's calls and guards the status lists' bits, which are held in
 * memory (loaded from the table on first use, then set by each revocation
 * after its commit); the engine's write transaction makes a revocation and
 * its version bump, or an index reservation, one durable step. Overview:
 * docs/protocol.md "Consent artefacts", docs/scale.md "The consent service
 * on PostgreSQL". */
#include "cons_store.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cons_db.h"
#include "ndx/err.h"
#include "ndx/statuslist.h"
#include "ndx/timefmt.h"

#define PROG "ndx-consent"

struct cstore {
	struct ndx_sqldb *db;
	pthread_mutex_t mu;
	char *issuer;
	char *token_sha256;
	/* bits[list]: NULL until first asked for; gen[list] rises with each
	 * change so that the API knows when its encoded copy is stale. */
	uint8_t **bits;
	uint64_t *gen;
	uint32_t nbits;
	uint64_t epoch; /* st->db->epoch when the bits were loaded */
};

static int connect_db(const char *loc, bool create, struct cstore **out)
{
	struct cstore *st;
	int rc;

	*out = NULL;
	if (!(st = calloc(1, sizeof *st)))
		return NDX_ENOMEM;
	/* A revocation, once acknowledged to the subject, must survive a crash:
	 * both engines are durable at COMMIT (ndx/sqldb.h). */
	if ((rc = ndx_sqldb_open(&cons_db_desc, loc, create, &st->db))) {
		free(st);
		return rc;
	}
	pthread_mutex_init(&st->mu, NULL);
	st->epoch = st->db->epoch;
	*out = st;
	return NDX_OK;
}

static int load_meta(struct cstore *st)
{
	int rc = ndx_sqldb_meta_get(st->db, "issuer", &st->issuer);

	if (!rc)
		rc = ndx_sqldb_meta_get(st->db, "token_sha256", &st->token_sha256);
	if (rc == NDX_ENOTFOUND) {
		fprintf(stderr, PROG ": the database has no issuer: not a consent service "
				"database, or its init did not finish\n");
		rc = NDX_EDB;
	}
	return rc;
}

int cstore_create(const char *loc, const char *issuer, const char *token_sha256_hex,
		  struct cstore **out)
{
	struct cstore *st;
	int rc;

	*out = NULL;
	if ((rc = connect_db(loc, true, &st)))
		return rc;
	if ((rc = ndx_sqldb_write(st->db, "INSERT INTO meta(key, value) VALUES('issuer', ?),"
				  " ('token_sha256', ?), ('revocation_version', '1')",
				  "ss", issuer, token_sha256_hex)) ||
	    (rc = load_meta(st)))
		goto fail;
	*out = st;
	return NDX_OK;
fail:
	cstore_close(st);
	return rc;
}

int cstore_open(const char *loc, struct cstore **out)
{
	struct cstore *st;
	int rc;

	*out = NULL;
	if ((rc = connect_db(loc, false, &st)))
		return rc;
	if ((rc = load_meta(st))) {
		cstore_close(st);
		return rc;
	}
	*out = st;
	return NDX_OK;
}

bool cstore_loc_is_pg(const char *loc)
{
	return ndx_sqldb_is_pg(loc);
}

int cstore_loc_check(const char *loc, const char **why)
{
	return ndx_sqldb_check(loc, why);
}

const char *cstore_name(const struct cstore *st)
{
	return st->db->name;
}

void cstore_close(struct cstore *st)
{
	if (!st)
		return;
	st->db->ops->close(st->db);
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
	int rc;

	pthread_mutex_lock(&st->mu);
	rc = ndx_sqldb_exec(st->db, "INSERT INTO consents(jti, subject, consumer, services, purpose, iat,"
			" nbf, exp, jws, status_list, status_idx) VALUES(?,?,?,?,?,?,?,?,?,?,?)",
		    "sssssiiisii", c->jti, c->subject, c->consumer, c->services, c->purpose,
		    (int64_t)c->iat, (int64_t)c->nbf, (int64_t)c->exp, c->jws,
		    (int64_t)c->status_list, (int64_t)c->status_idx);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

static json_t *time_or_null(const json_t *row, const char *col)
{
	char text[NDX_TIME_TEXT_LEN];
	const json_t *v = json_object_get(row, col);

	if (!json_is_integer(v))
		return json_null();
	ndx_time_format((time_t)json_integer_value(v), text);
	return json_string(text);
}

static const char *text_of(const json_t *row, const char *col)
{
	const char *v = json_string_value(json_object_get(row, col));
	return v ? v : "";
}

/* The engine's row in the API's shape (cons_store.h). */
static json_t *consent_row(const json_t *row, time_t now)
{
	time_t nbf = (time_t)ndx_sqldb_int(row, "nbf");
	time_t exp = (time_t)ndx_sqldb_int(row, "exp");
	const char *status = json_is_integer(json_object_get(row, "revoked_at")) ? "revoked"
			     : now >= exp					 ? "expired"
			     : now < nbf					 ? "pending"
										 : "active";
	const char *services = json_string_value(json_object_get(row, "services"));
	json_t *svc = json_loads(services ? services : "[]", 0, NULL);

	if (!svc)
		return NULL;
	return json_pack("{ss ss ss so ss so so so ss so ss}",
			 "jti", text_of(row, "jti"), "subject", text_of(row, "subject"),
			 "consumer", text_of(row, "consumer"), "services", svc,
			 "purpose", text_of(row, "purpose"),
			 "issued_at", time_or_null(row, "iat"), "valid_from", time_or_null(row, "nbf"),
			 "valid_to", time_or_null(row, "exp"), "status", status,
			 "revoked_at", time_or_null(row, "revoked_at"),
			 "consent", text_of(row, "jws"));
}

int cstore_consent_list(struct cstore *st, const char *subject, time_t now, json_t **out)
{
	json_t *rows = NULL, *arr, *row;
	size_t i;
	int rc;

	*out = NULL;
	pthread_mutex_lock(&st->mu);
	rc = ndx_sqldb_query(st->db, &rows, "SELECT jti, subject, consumer, services, purpose, iat, nbf, exp,"
				" jws, revoked_at FROM consents WHERE subject = ?"
				" ORDER BY iat DESC, jti", "s", subject);
	pthread_mutex_unlock(&st->mu);
	if (rc)
		return rc;
	if (!(arr = json_array())) {
		json_decref(rows);
		return NDX_ENOMEM;
	}
	json_array_foreach(rows, i, row) {
		json_t *shaped = consent_row(row, now);
		if (!shaped || json_array_append_new(arr, shaped)) {
			json_decref(rows);
			json_decref(arr);
			return NDX_ENOMEM;
		}
	}
	json_decref(rows);
	*out = arr;
	return NDX_OK;
}

static int read_counter(struct cstore *st, const char *key, uint64_t *version)
{
	char *v = NULL, *end;
	unsigned long long n;
	int rc = ndx_sqldb_meta_get(st->db, key, &v);

	if (rc)
		return rc == NDX_ENOTFOUND ? NDX_EDB : rc;
	n = strtoull(v, &end, 10);
	rc = (*end || end == v) ? NDX_EDB : NDX_OK;
	free(v);
	*version = n;
	return rc;
}

static int write_counter(struct cstore *st, const char *key, uint64_t value)
{
	char text[24];
	int rc;

	snprintf(text, sizeof text, "%llu", (unsigned long long)value);
	rc = ndx_sqldb_change(st->db, "UPDATE meta SET value = ? WHERE key = ?", "ss", text, key);
	return rc == NDX_ENOTFOUND ? NDX_EDB : rc;
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
	uint64_t next = 0;
	int rc;

	pthread_mutex_lock(&st->mu);
	if ((rc = st->db->ops->begin(st->db)))
		goto unlock;
	if ((rc = read_counter(st, "status_next", &next)))
		goto rollback;
	if (next / NDX_STATUSLIST_CAPACITY > NDX_STATUSLIST_MAX_LIST) {
		rc = NDX_ETOOBIG;
		goto rollback;
	}
	if ((rc = write_counter(st, "status_next", next + 1)) ||
	    (rc = st->db->ops->commit(st->db)))
		goto rollback;
	*list = (uint32_t)(next / NDX_STATUSLIST_CAPACITY);
	*idx = (uint32_t)(next % NDX_STATUSLIST_CAPACITY);
	pthread_mutex_unlock(&st->mu);
	return NDX_OK;
rollback:
	st->db->ops->rollback(st->db);
unlock:
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int cstore_consent_subject(struct cstore *st, const char *jti, char *subject, size_t cap)
{
	json_t *row;
	int rc;

	pthread_mutex_lock(&st->mu);
	rc = ndx_sqldb_query_one(st->db, &row, "SELECT subject FROM consents WHERE jti = ?", "s", jti);
	pthread_mutex_unlock(&st->mu);
	if (rc)
		return rc;
	rc = snprintf(subject, cap, "%s", text_of(row, "subject")) < (int)cap ? NDX_OK
									   : NDX_ETOOBIG;
	json_decref(row);
	return rc;
}

/* Makes room for list in st->bits and st->gen. Under st->mu. */
static int grow_lists(struct cstore *st, uint32_t list)
{
	uint8_t **nb;
	uint64_t *ng;

	if (list < st->nbits)
		return NDX_OK;
	if (!(nb = realloc(st->bits, (list + 1) * sizeof *nb)))
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
	return NDX_OK;
}

/* Forgets the held bits when the engine has taken the database anew
 * (ndx/sqldb.h epoch): they are read from the table again, each list's gen
 * rising then. The epoch moves at the engine's next statement; the API
 * makes one (cstore_status) before it answers GET /status or serves a
 * list. Under st->mu. */
static void drop_stale_bits(struct cstore *st)
{
	if (st->epoch == st->db->epoch)
		return;
	for (uint32_t i = 0; i < st->nbits; i++) {
		free(st->bits[i]);
		st->bits[i] = NULL;
	}
	st->epoch = st->db->epoch;
}

/* The bits of list, loaded from the table on first use. Under st->mu. */
static int status_bits_locked(struct cstore *st, uint32_t list, uint8_t **out)
{
	json_t *rows = NULL, *row;
	uint8_t *bits;
	size_t i;
	int rc;

	drop_stale_bits(st);
	if (list < st->nbits && st->bits[list]) {
		*out = st->bits[list];
		return NDX_OK;
	}
	if ((rc = grow_lists(st, list)))
		return rc;
	if ((rc = ndx_sqldb_query(st->db, &rows, "SELECT status_idx FROM consents WHERE revoked_at IS NOT NULL"
				     " AND status_list = ?", "i", (int64_t)list)))
		return rc;
	if (!(bits = calloc(1, NDX_STATUSLIST_BYTES))) {
		json_decref(rows);
		return NDX_ENOMEM;
	}
	json_array_foreach(rows, i, row) {
		json_int_t idx = ndx_sqldb_int(row, "status_idx");
		if (idx >= 0 && idx < (json_int_t)NDX_STATUSLIST_CAPACITY)
			ndx_statuslist_set(bits, NDX_STATUSLIST_BYTES, (uint64_t)idx);
	}
	json_decref(rows);
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
	if ((rc = st->db->ops->snapshot(st->db)) == NDX_OK) {
		if ((rc = read_version(st, version)) == NDX_OK)
			rc = read_counter(st, "status_next", &next);
		st->db->ops->rollback(st->db);
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

/* Reads consent jti for a revocation: NDX_ENOTFOUND, NDX_EEXIST when it is
 * revoked already, else its place in the status lists (*has_status 0 for a
 * consent issued before them). Inside the write transaction. */
static int revoke_target(struct cstore *st, const char *jti, int *has_status, int64_t *list,
			 int64_t *idx)
{
	json_t *row, *l;
	int rc;

	*has_status = 0;
	rc = ndx_sqldb_query_one(st->db, &row, "SELECT revoked_at IS NOT NULL AS revoked, status_list,"
				 " status_idx FROM consents WHERE jti = ?", "s", jti);
	if (rc)
		return rc;
	if (ndx_sqldb_int(row, "revoked")) {
		rc = NDX_EEXIST;
	} else if (json_is_integer(l = json_object_get(row, "status_list"))) {
		*has_status = 1;
		*list = json_integer_value(l);
		*idx = ndx_sqldb_int(row, "status_idx");
	}
	json_decref(row);
	return rc;
}

int cstore_consent_revoke(struct cstore *st, const char *jti, time_t now, uint64_t *version)
{
	int64_t list = 0, idx = 0;
	int rc, has_status = 0;

	*version = 0;
	pthread_mutex_lock(&st->mu);
	if ((rc = st->db->ops->begin(st->db)))
		goto unlock;
	if ((rc = read_version(st, version)) ||
	    (rc = revoke_target(st, jti, &has_status, &list, &idx)))
		goto rollback;
	if ((rc = ndx_sqldb_change(st->db, "UPDATE consents SET revoked_at = ? WHERE jti = ?", "is",
			   (int64_t)now, jti)) ||
	    (rc = write_counter(st, "revocation_version", *version + 1)) ||
	    (rc = st->db->ops->commit(st->db)))
		goto rollback;
	(*version)++;
	/* Held bits follow the table; bits not loaded yet (or dropped as stale)
	 * will be read from it. */
	drop_stale_bits(st);
	if (has_status && list >= 0 && (uint64_t)list < st->nbits && st->bits[list] &&
	    idx >= 0 && idx < (int64_t)NDX_STATUSLIST_CAPACITY) {
		ndx_statuslist_set(st->bits[list], NDX_STATUSLIST_BYTES, (uint64_t)idx);
		st->gen[list]++;
	}
	pthread_mutex_unlock(&st->mu);
	return NDX_OK;
rollback:
	st->db->ops->rollback(st->db);
unlock:
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int cstore_counts(struct cstore *st, time_t now, struct cstore_counts *out)
{
	static const char sql[] =
		"SELECT CASE WHEN revoked_at IS NOT NULL THEN 3 WHEN exp <= ?1 THEN 2"
		" WHEN nbf > ?1 THEN 1 ELSE 0 END AS state, count(*) AS n FROM consents"
		" GROUP BY state";
	json_t *rows = NULL, *row;
	size_t i;
	int rc;

	memset(out, 0, sizeof *out);
	pthread_mutex_lock(&st->mu);
	rc = ndx_sqldb_query(st->db, &rows, sql, "i", (int64_t)now);
	pthread_mutex_unlock(&st->mu);
	if (rc)
		return rc;
	json_array_foreach(rows, i, row) {
		uint64_t n = (uint64_t)ndx_sqldb_int(row, "n");
		switch (ndx_sqldb_int(row, "state")) {
		case 0: out->active = n; break;
		case 1: out->pending = n; break;
		case 2: out->expired = n; break;
		default: out->revoked = n; break;
		}
	}
	json_decref(rows);
	return NDX_OK;
}
