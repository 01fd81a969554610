/* ndx-id's store (store.h) over its two engines (id_db.h: SQLite by
 * default, PostgreSQL for a postgresql:// location): every query is here
 * once, in the SQL both engines speak. Times are integer seconds. Secrets
 * are looked up by their SHA-256 hex, computed by the caller. A
 * process-wide mutex serialises the calls on the one connection; each
 * compound change (a code's redemption and a replay's revocation of the
 * token issued from it, a token and its code, an event and its effect) is
 * one write transaction of the engine, which on PostgreSQL also serialises
 * it against every other ndx-id on the same schema. The expensive work
 * (Argon2id) happens outside the mutex. Overview: docs/id.md,
 * docs/scale.md "The e-ID on PostgreSQL". */
#include "store.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "id_db.h"
#include "ndx/err.h"
#include "signin_store.h"

#define PROG "ndx-id"

struct idstore {
	struct ndx_sqldb *db;
	pthread_mutex_t mu;
};

/* Columns of accounts added to a SQLite id.db after its migration 3, each
 * when missing (the PostgreSQL schema has them from the start). */
static const char *const ACCOUNT_COLUMNS[] = { "disabled_reason", "disabled_on" };

static void lock(struct idstore *st)
{
	pthread_mutex_lock(&st->mu);
}

static void unlock(struct idstore *st)
{
	pthread_mutex_unlock(&st->mu);
}

/* ---- rows ---------------------------------------------------------------- */

static void col_str(const json_t *row, const char *col, char *out, size_t cap)
{
	const char *v = json_string_value(json_object_get(row, col));

	snprintf(out, cap, "%s", v ? v : "");
}

/* Runs a statement that returns no rows; *n = the rows it changed. */
static int run_changes(struct idstore *st, int64_t *n, const char *sql, const char *types, ...)
{
	va_list ap;
	int rc;

	*n = 0;
	va_start(ap, types);
	rc = st->db->ops->run(st->db, sql, types, ap, NULL, n);
	va_end(ap);
	return rc;
}

/* *found = whether sql, binding key, returns a row. */
static int exists(struct idstore *st, const char *sql, const char *key, int *found)
{
	json_t *rows = NULL;
	int rc = ndx_sqldb_query(st->db, &rows, sql, "s", key);

	*found = !rc && json_array_size(rows) > 0;
	json_decref(rows);
	return rc;
}

/* ---- open ------------------------------------------------------------- */

static int add_account_columns(struct ndx_sqldb *db)
{
	for (size_t i = 0; i < sizeof ACCOUNT_COLUMNS / sizeof *ACCOUNT_COLUMNS; i++) {
		char sql[128];
		json_t *rows = NULL;
		size_t n;
		int rc;

		if ((rc = ndx_sqldb_query(db, &rows,
					  "SELECT 1 AS found FROM pragma_table_info('accounts')"
					  " WHERE name = ?",
					  "s", ACCOUNT_COLUMNS[i])))
			return rc;
		n = json_array_size(rows);
		json_decref(rows);
		if (n)
			continue;
		snprintf(sql, sizeof sql, "ALTER TABLE accounts ADD COLUMN %s TEXT", ACCOUNT_COLUMNS[i]);
		if ((rc = ndx_sqldb_exec(db, sql, "")))
			return rc;
	}
	return NDX_OK;
}

static int connect_db(const char *loc, bool create, struct idstore **out)
{
	struct idstore *st = calloc(1, sizeof *st);
	int rc;

	*out = NULL;
	if (!st)
		return NDX_ENOMEM;
	/* A code used up or an account disabled, once acknowledged, must
	 * survive a crash: both engines are durable at COMMIT (ndx/sqldb.h). */
	if ((rc = ndx_sqldb_open(&id_db_desc, loc, create, &st->db))) {
		free(st);
		return rc;
	}
	if (!ndx_sqldb_is_pg(loc) && (rc = add_account_columns(st->db))) {
		st->db->ops->close(st->db);
		free(st);
		return rc;
	}
	pthread_mutex_init(&st->mu, NULL);
	*out = st;
	return NDX_OK;
}

int idstore_create(const char *loc, struct idstore **out)
{
	struct idstore *st;
	int rc;

	*out = NULL;
	if ((rc = connect_db(loc, true, &st)))
		return rc;
	if ((rc = ndx_sqldb_write(st->db, "INSERT INTO meta(key, value) VALUES('kind', 'ndx-id')",
				  ""))) {
		idstore_close(st);
		if (!ndx_sqldb_is_pg(loc))
			unlink(loc);
		return rc;
	}
	*out = st;
	return NDX_OK;
}

int idstore_open(const char *loc, struct idstore **out)
{
	struct idstore *st;
	char *kind = NULL;
	int rc;

	*out = NULL;
	if ((rc = connect_db(loc, false, &st)))
		return rc;
	rc = idstore_meta_get(st, "kind", &kind);
	if (rc || strcmp(kind, "ndx-id") != 0) {
		fprintf(stderr, PROG ": %s is not an ndx-id database\n", st->db->name);
		free(kind);
		idstore_close(st);
		return NDX_EDB;
	}
	free(kind);
	*out = st;
	return NDX_OK;
}

bool idstore_loc_is_pg(const char *loc)
{
	return ndx_sqldb_is_pg(loc);
}

const char *idstore_name(const struct idstore *st)
{
	return st->db->name;
}

void idstore_close(struct idstore *st)
{
	if (!st)
		return;
	st->db->ops->close(st->db);
	pthread_mutex_destroy(&st->mu);
	free(st);
}

/* ---- meta and bulk ------------------------------------------------------ */

int idstore_meta_get(struct idstore *st, const char *key, char **out)
{
	int rc;

	lock(st);
	rc = ndx_sqldb_meta_get(st->db, key, out);
	unlock(st);
	return rc;
}

int idstore_meta_set(struct idstore *st, const char *key, const char *value)
{
	int rc;

	lock(st);
	rc = ndx_sqldb_exec(st->db,
			    "INSERT INTO meta(key, value) VALUES(?, ?)"
			    " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
			    "ss", key, value);
	unlock(st);
	return rc;
}

int idstore_begin(struct idstore *st)
{
	return st->db->ops->begin(st->db);
}

int idstore_commit(struct idstore *st)
{
	int rc = st->db->ops->commit(st->db);

	if (rc)
		st->db->ops->rollback(st->db);
	return rc;
}

void idstore_rollback(struct idstore *st)
{
	st->db->ops->rollback(st->db);
}

/* ---- accounts ------------------------------------------------------------ */

int idstore_account_put(struct idstore *st, const struct idstore_account *a, int *created)
{
	int rc, found = 0;

	lock(st);
	if ((rc = exists(st, "SELECT 1 AS found FROM accounts WHERE pin = ?", a->pin, &found)) ==
	    NDX_OK)
		rc = ndx_sqldb_exec(st->db,
				    "INSERT INTO accounts(pin, password_hash, name, birthdate, gender,"
				    " updated_at) VALUES(?,?,?,?,?,?)"
				    " ON CONFLICT(pin) DO UPDATE SET password_hash = excluded.password_hash,"
				    " name = excluded.name, birthdate = excluded.birthdate,"
				    " gender = excluded.gender, updated_at = excluded.updated_at",
				    "sssssi", a->pin, a->password_hash, a->name, a->birthdate,
				    a->gender, (int64_t)time(NULL));
	unlock(st);
	if (created)
		*created = !found;
	return rc;
}

int idstore_account_get(struct idstore *st, const char *pin, struct idstore_account *out)
{
	json_t *row = NULL;
	int rc;

	memset(out, 0, sizeof *out);
	lock(st);
	rc = ndx_sqldb_query_one(st->db, &row,
				 "SELECT pin, password_hash, name, birthdate, gender,"
				 " disabled_reason, disabled_on FROM accounts WHERE pin = ?",
				 "s", pin);
	unlock(st);
	if (rc)
		return rc;
	col_str(row, "pin", out->pin, sizeof out->pin);
	col_str(row, "password_hash", out->password_hash, sizeof out->password_hash);
	col_str(row, "name", out->name, sizeof out->name);
	col_str(row, "birthdate", out->birthdate, sizeof out->birthdate);
	col_str(row, "gender", out->gender, sizeof out->gender);
	col_str(row, "disabled_reason", out->disabled_reason, sizeof out->disabled_reason);
	col_str(row, "disabled_on", out->disabled_on, sizeof out->disabled_on);
	json_decref(row);
	return NDX_OK;
}

int idstore_event_disable(struct idstore *st, const char *event_id, const char *event_name,
			  const char *pin, const char *reason, const char *on, time_t now,
			  enum idstore_event_result *res)
{
	int64_t changed = 0;
	int rc, found = 0;

	*res = IDSTORE_EVENT_NO_ACCOUNT;
	lock(st);
	if ((rc = st->db->ops->begin(st->db))) {
		unlock(st);
		return rc;
	}
	if ((rc = exists(st, "SELECT 1 AS found FROM events_applied WHERE id = ?", event_id,
			 &found)))
		goto fail;
	if (found) {
		*res = IDSTORE_EVENT_SEEN;
		st->db->ops->rollback(st->db);
		unlock(st);
		return NDX_OK;
	}
	if ((rc = exists(st, "SELECT 1 AS found FROM accounts WHERE pin = ?", pin, &found)))
		goto fail;
	if (found) {
		if ((rc = run_changes(st, &changed,
				      "UPDATE accounts SET disabled_reason = ?, disabled_on = ?,"
				      " updated_at = ? WHERE pin = ? AND disabled_reason IS NULL",
				      "ssis", reason, on, (int64_t)now, pin)))
			goto fail;
		/* Whoever is signed in as them is signed out, and the access
		 * tokens issued to them stop working at once. */
		if ((rc = ndx_sqldb_exec(st->db, "DELETE FROM sessions WHERE pin = ?", "s", pin)) ||
		    (rc = ndx_sqldb_exec(st->db,
					 "UPDATE tokens SET revoked = 1 WHERE pin = ? AND revoked = 0",
					 "s", pin)))
			goto fail;
		*res = changed ? IDSTORE_EVENT_CHANGED : IDSTORE_EVENT_UNCHANGED;
	}
	if ((rc = ndx_sqldb_exec(st->db,
				 "INSERT INTO events_applied(id, name, applied_at, effect)"
				 " VALUES(?,?,?,?)",
				 "ssis", event_id, event_name, (int64_t)now,
				 *res == IDSTORE_EVENT_CHANGED	   ? "account disabled"
				 : *res == IDSTORE_EVENT_UNCHANGED ? "already disabled"
								   : "no account")) ||
	    (rc = st->db->ops->commit(st->db)))
		goto fail;
	unlock(st);
	return NDX_OK;
fail:
	st->db->ops->rollback(st->db);
	unlock(st);
	*res = IDSTORE_EVENT_NO_ACCOUNT;
	return rc == NDX_EEXIST ? NDX_EDB : rc;
}

int idstore_account_any_hash(struct idstore *st, char out[NDX_PASSWORD_HASH_MAX])
{
	json_t *row = NULL;
	int rc;

	out[0] = '\0';
	lock(st);
	rc = ndx_sqldb_query_one(st->db, &row,
				 "SELECT password_hash FROM accounts"
				 " ORDER BY updated_at DESC, pin DESC LIMIT 1",
				 "");
	unlock(st);
	if (rc)
		return rc;
	col_str(row, "password_hash", out, NDX_PASSWORD_HASH_MAX);
	json_decref(row);
	return NDX_OK;
}

/* ---- clients ------------------------------------------------------------- */

int idstore_client_put(struct idstore *st, const struct idstore_client *c, int *created)
{
	char *ru = json_dumps(c->redirect_uris, JSON_COMPACT);
	char *pl = json_dumps(c->post_logout_uris, JSON_COMPACT);
	int rc, found = 0;

	if (!ru || !pl) {
		free(ru);
		free(pl);
		return NDX_ENOMEM;
	}
	lock(st);
	if ((rc = exists(st, "SELECT 1 AS found FROM clients WHERE client_id = ?", c->client_id,
			 &found)) == NDX_OK)
		rc = ndx_sqldb_exec(st->db,
				    "INSERT INTO clients(client_id, secret_sha256, redirect_uris,"
				    " post_logout_uris, id_token_alg, client_name, client_name_en,"
				    " updated_at) VALUES(?,?,?,?,?,?,?,?)"
				    " ON CONFLICT(client_id) DO UPDATE SET"
				    " secret_sha256 = excluded.secret_sha256,"
				    " redirect_uris = excluded.redirect_uris,"
				    " post_logout_uris = excluded.post_logout_uris,"
				    " id_token_alg = excluded.id_token_alg,"
				    " client_name = excluded.client_name,"
				    " client_name_en = excluded.client_name_en,"
				    " updated_at = excluded.updated_at",
				    "sssssssi", c->client_id, c->secret_sha256, ru, pl,
				    c->id_token_alg[0] ? c->id_token_alg : "EdDSA", c->name, c->name_en,
				    (int64_t)time(NULL));
	unlock(st);
	free(ru);
	free(pl);
	if (created)
		*created = !found;
	return rc;
}

/* A JSON array of strings from a text column; NULL when it is not one. */
static json_t *col_array(const json_t *row, const char *col)
{
	const char *v = json_string_value(json_object_get(row, col));
	json_t *a = v ? json_loads(v, 0, NULL) : NULL;

	if (a && !json_is_array(a)) {
		json_decref(a);
		return NULL;
	}
	return a;
}

int idstore_client_get(struct idstore *st, const char *client_id, struct idstore_client *out)
{
	json_t *row = NULL;
	int rc;

	memset(out, 0, sizeof *out);
	lock(st);
	rc = ndx_sqldb_query_one(st->db, &row,
				 "SELECT client_id, secret_sha256, redirect_uris, post_logout_uris,"
				 " id_token_alg, client_name, client_name_en FROM clients"
				 " WHERE client_id = ?",
				 "s", client_id);
	unlock(st);
	if (rc)
		return rc;
	col_str(row, "client_id", out->client_id, sizeof out->client_id);
	col_str(row, "secret_sha256", out->secret_sha256, sizeof out->secret_sha256);
	out->redirect_uris = col_array(row, "redirect_uris");
	out->post_logout_uris = col_array(row, "post_logout_uris");
	col_str(row, "id_token_alg", out->id_token_alg, sizeof out->id_token_alg);
	col_str(row, "client_name", out->name, sizeof out->name);
	col_str(row, "client_name_en", out->name_en, sizeof out->name_en);
	json_decref(row);
	if (!out->redirect_uris || !out->post_logout_uris) {
		idstore_client_clear(out);
		return NDX_EDB;
	}
	return NDX_OK;
}

void idstore_client_clear(struct idstore_client *c)
{
	json_decref(c->redirect_uris);
	json_decref(c->post_logout_uris);
	c->redirect_uris = NULL;
	c->post_logout_uris = NULL;
}

int idstore_uri_listed(const json_t *list, const char *uri)
{
	size_t i;
	json_t *v;

	json_array_foreach(list, i, v) {
		if (json_is_string(v) && strcmp(json_string_value(v), uri) == 0)
			return 1;
	}
	return 0;
}

/* ---- authorization requests ---------------------------------------------- */

int idstore_authreq_put(struct idstore *st, const char *tx_hash, const struct idstore_authreq *r)
{
	int rc;

	lock(st);
	rc = ndx_sqldb_exec(st->db,
			    "INSERT INTO authreqs(tx_hash, client_id, redirect_uri, scope, state,"
			    " nonce, code_challenge, lang, created) VALUES(?,?,?,?,?,?,?,?,?)",
			    "ssssssssi", tx_hash, r->client_id, r->redirect_uri, r->scope,
			    r->has_state ? r->state : NULL, r->has_nonce ? r->nonce : NULL,
			    r->code_challenge, r->lang, (int64_t)r->created);
	unlock(st);
	return rc;
}

/* The columns client_id, redirect_uri, scope, state, nonce,
 * code_challenge and created of row. */
static void read_req(const json_t *row, struct idstore_authreq *r)
{
	col_str(row, "client_id", r->client_id, sizeof r->client_id);
	col_str(row, "redirect_uri", r->redirect_uri, sizeof r->redirect_uri);
	col_str(row, "scope", r->scope, sizeof r->scope);
	r->has_state = !ndx_sqldb_is_null(row, "state");
	col_str(row, "state", r->state, sizeof r->state);
	r->has_nonce = !ndx_sqldb_is_null(row, "nonce");
	col_str(row, "nonce", r->nonce, sizeof r->nonce);
	col_str(row, "code_challenge", r->code_challenge, sizeof r->code_challenge);
	r->created = (time_t)ndx_sqldb_int(row, "created");
}

int idstore_authreq_get(struct idstore *st, const char *tx_hash, time_t now, time_t max_age,
			struct idstore_authreq *out)
{
	json_t *row = NULL;
	int rc;

	memset(out, 0, sizeof *out);
	lock(st);
	rc = ndx_sqldb_query_one(st->db, &row,
				 "SELECT client_id, redirect_uri, scope, state, nonce, code_challenge,"
				 " created, lang FROM authreqs WHERE tx_hash = ?",
				 "s", tx_hash);
	unlock(st);
	if (rc)
		return rc;
	read_req(row, out);
	col_str(row, "lang", out->lang, sizeof out->lang);
	json_decref(row);
	return out->created + max_age < now ? NDX_ENOTFOUND : NDX_OK;
}

int idstore_authreq_delete(struct idstore *st, const char *tx_hash)
{
	int rc;

	lock(st);
	rc = ndx_sqldb_exec(st->db, "DELETE FROM authreqs WHERE tx_hash = ?", "s", tx_hash);
	unlock(st);
	return rc;
}

/* ---- codes and tokens ------------------------------------------------------ */

int idstore_code_put(struct idstore *st, const char *code_hash, const struct idstore_code *c)
{
	int rc;

	lock(st);
	rc = ndx_sqldb_exec(st->db,
			    "INSERT INTO codes(code_hash, client_id, redirect_uri, scope, state, nonce,"
			    " code_challenge, pin, auth_time, created, exp, sid)"
			    " VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
			    "ssssssssiiis", code_hash, c->req.client_id, c->req.redirect_uri,
			    c->req.scope, c->req.has_state ? c->req.state : NULL,
			    c->req.has_nonce ? c->req.nonce : NULL, c->req.code_challenge, c->pin,
			    (int64_t)c->auth_time, (int64_t)c->req.created, (int64_t)c->exp,
			    c->sid[0] ? c->sid : NULL);
	unlock(st);
	return rc;
}

int idstore_code_redeem(struct idstore *st, const char *code_hash, time_t now,
			struct idstore_code *out)
{
	json_t *row = NULL;
	int rc, used;

	memset(out, 0, sizeof *out);
	lock(st);
	if ((rc = st->db->ops->begin(st->db)))
		goto out;
	if ((rc = ndx_sqldb_query_one(st->db, &row,
				      "SELECT client_id, redirect_uri, scope, state, nonce,"
				      " code_challenge, created, pin, auth_time, exp, used, sid"
				      " FROM codes WHERE code_hash = ?",
				      "s", code_hash)))
		goto rollback;
	read_req(row, &out->req);
	col_str(row, "pin", out->pin, sizeof out->pin);
	out->auth_time = (time_t)ndx_sqldb_int(row, "auth_time");
	out->exp = (time_t)ndx_sqldb_int(row, "exp");
	used = ndx_sqldb_int(row, "used") != 0;
	col_str(row, "sid", out->sid, sizeof out->sid);
	json_decref(row);
	if (used) {
		/* A replay: the code is marked, and the token issued from it
		 * revoked (one issued later is born revoked: idstore_token_put). */
		if ((rc = ndx_sqldb_exec(st->db, "UPDATE codes SET replayed = 1 WHERE code_hash = ?",
					 "s", code_hash)) ||
		    (rc = ndx_sqldb_exec(st->db,
					 "UPDATE tokens SET revoked = 1 WHERE token_hash ="
					 " (SELECT token_hash FROM codes WHERE code_hash = ?)",
					 "s", code_hash)))
			goto rollback;
		rc = NDX_EEXIST;
	} else {
		if ((rc = ndx_sqldb_exec(st->db, "UPDATE codes SET used = 1 WHERE code_hash = ?", "s",
					 code_hash)))
			goto rollback;
		rc = out->exp < now ? NDX_EEXPIRED : NDX_OK;
	}
	if (st->db->ops->commit(st->db) == NDX_OK)
		goto out;
	rc = NDX_EDB;
rollback:
	st->db->ops->rollback(st->db);
out:
	unlock(st);
	return rc;
}

int idstore_token_put(struct idstore *st, const char *token_hash, const char *code_hash,
		      const struct idstore_token *t)
{
	int rc;

	lock(st);
	if ((rc = st->db->ops->begin(st->db)))
		goto out;
	/* A replay that arrived between redemption and now finds no token to
	 * revoke: the token is then born revoked. */
	if ((rc = ndx_sqldb_exec(st->db,
				 "INSERT INTO tokens(token_hash, pin, client_id, scope, exp, revoked)"
				 " VALUES(?,?,?,?,?, COALESCE((SELECT replayed FROM codes"
				 " WHERE code_hash = ?), 0))",
				 "ssssis", token_hash, t->pin, t->client_id, t->scope, (int64_t)t->exp,
				 code_hash)) ||
	    (rc = ndx_sqldb_exec(st->db, "UPDATE codes SET token_hash = ? WHERE code_hash = ?",
				 "ss", token_hash, code_hash)) ||
	    (rc = st->db->ops->commit(st->db)))
		st->db->ops->rollback(st->db);
out:
	unlock(st);
	return rc;
}

int idstore_token_get(struct idstore *st, const char *token_hash, time_t now,
		      struct idstore_token *out)
{
	json_t *row = NULL;
	int rc, revoked;

	memset(out, 0, sizeof *out);
	lock(st);
	rc = ndx_sqldb_query_one(st->db, &row,
				 "SELECT pin, client_id, scope, exp, revoked FROM tokens"
				 " WHERE token_hash = ?",
				 "s", token_hash);
	unlock(st);
	if (rc)
		return rc;
	col_str(row, "pin", out->pin, sizeof out->pin);
	col_str(row, "client_id", out->client_id, sizeof out->client_id);
	col_str(row, "scope", out->scope, sizeof out->scope);
	out->exp = (time_t)ndx_sqldb_int(row, "exp");
	revoked = ndx_sqldb_int(row, "revoked") != 0;
	json_decref(row);
	return revoked ? NDX_EREVOKED : out->exp < now ? NDX_EEXPIRED : NDX_OK;
}

/* ---- sessions ------------------------------------------------------------- */

int idstore_session_put(struct idstore *st, const char *sid_hash, const char *pin,
			time_t auth_time)
{
	int rc;

	lock(st);
	rc = ndx_sqldb_exec(st->db,
			    "INSERT INTO sessions(sid_hash, pin, auth_time, last_seen) VALUES(?,?,?,?)",
			    "ssii", sid_hash, pin, (int64_t)auth_time, (int64_t)auth_time);
	unlock(st);
	return rc;
}

int idstore_session_use(struct idstore *st, const char *sid_hash, time_t now, time_t idle,
			char pin[NDX_PIN_LEN + 1], time_t *auth_time)
{
	json_t *row = NULL;
	int rc;

	pin[0] = '\0';
	lock(st);
	/* One statement checks the idle limit and refreshes last_seen. */
	rc = ndx_sqldb_query_one(st->db, &row,
				 "UPDATE sessions SET last_seen = ?1 WHERE sid_hash = ?2"
				 " AND last_seen + ?3 >= ?1 RETURNING pin, auth_time",
				 "isi", (int64_t)now, sid_hash, (int64_t)idle);
	unlock(st);
	if (rc)
		return rc;
	col_str(row, "pin", pin, NDX_PIN_LEN + 1);
	*auth_time = (time_t)ndx_sqldb_int(row, "auth_time");
	json_decref(row);
	return NDX_OK;
}

int idstore_session_end(struct idstore *st, const char *sid_hash)
{
	int rc;

	lock(st);
	rc = ndx_sqldb_exec(st->db, "DELETE FROM sessions WHERE sid_hash = ?", "s", sid_hash);
	unlock(st);
	return rc;
}

/* ---- failed sign-ins -------------------------------------------------------- */

int idstore_signin_counts(struct idstore *st, const char *account, const char *source,
			  time_t since, struct signin_counts *out)
{
	int rc;

	lock(st);
	rc = signin_counts_read_db(st->db, account, source, since, out);
	unlock(st);
	return rc;
}

int idstore_signin_failed(struct idstore *st, const char *account, const char *source,
			  time_t now)
{
	int rc;

	lock(st);
	rc = ndx_sqldb_exec(st->db, "INSERT INTO signin_failures(account, source, at) VALUES(?, ?, ?)",
			    "ssi", account, source, (int64_t)now);
	unlock(st);
	return rc;
}

void idstore_signin_ok(struct idstore *st, const char *account, const char *source)
{
	lock(st);
	ndx_sqldb_exec(st->db, "DELETE FROM signin_failures WHERE account = ? AND source = ?", "ss",
		       account, source);
	unlock(st);
}

void idstore_purge(struct idstore *st, time_t now, time_t authreq_age, time_t idle,
		   time_t window)
{
	/* Codes stay a while past exp so that a late replay is still
	 * recognised and still revokes its token. */
	const struct {
		const char *sql;
		time_t before;
	} purge[] = {
		{ "DELETE FROM authreqs WHERE created < ?", now - authreq_age },
		{ "DELETE FROM codes WHERE exp < ?", now - 3600 },
		{ "DELETE FROM tokens WHERE exp < ?", now - 3600 },
		{ "DELETE FROM sessions WHERE last_seen < ?", now - idle },
		{ "DELETE FROM signin_failures WHERE at < ?", now - window },
	};

	lock(st);
	for (size_t i = 0; i < sizeof purge / sizeof *purge; i++)
		ndx_sqldb_exec(st->db, purge[i].sql, "i", (int64_t)purge[i].before);
	unlock(st);
}
