/* ndx-id's SQLite store (store.h). Times are integer seconds. Secrets are
 * looked up by their SHA-256 hex, computed by the caller. A process-wide
 * mutex serialises every call, so a code's redemption and a replay's
 * revocation of the token issued from it can never interleave; the
 * expensive work (Argon2id) happens outside it. Overview: docs/id.md. */
#include "store.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ndx/err.h"
#include "ndx/sqlstore.h"
#include "signin_store.h"

#define PROG "ndx-id"

struct idstore {
	sqlite3 *db;
	pthread_mutex_t mu;
};

/* migrations[i] is schema version i + 1; append, never edit. */
static const char *const MIGRATIONS[] = {
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE accounts(pin TEXT PRIMARY KEY, password_hash TEXT NOT NULL,"
	" name TEXT NOT NULL, birthdate TEXT NOT NULL, gender TEXT NOT NULL,"
	" updated_at INTEGER NOT NULL);"
	"CREATE TABLE clients(client_id TEXT PRIMARY KEY, secret_sha256 TEXT NOT NULL,"
	" redirect_uris TEXT NOT NULL, post_logout_uris TEXT NOT NULL,"
	" updated_at INTEGER NOT NULL);"
	"CREATE TABLE authreqs(tx_hash TEXT PRIMARY KEY, client_id TEXT NOT NULL,"
	" redirect_uri TEXT NOT NULL, scope TEXT NOT NULL, state TEXT, nonce TEXT,"
	" code_challenge TEXT NOT NULL, lang TEXT NOT NULL, created INTEGER NOT NULL);"
	"CREATE INDEX authreqs_created ON authreqs(created);"
	"CREATE TABLE codes(code_hash TEXT PRIMARY KEY, client_id TEXT NOT NULL,"
	" redirect_uri TEXT NOT NULL, scope TEXT NOT NULL, state TEXT, nonce TEXT,"
	" code_challenge TEXT NOT NULL, pin TEXT NOT NULL, auth_time INTEGER NOT NULL,"
	" created INTEGER NOT NULL, exp INTEGER NOT NULL,"
	" used INTEGER NOT NULL DEFAULT 0, replayed INTEGER NOT NULL DEFAULT 0,"
	" token_hash TEXT);"
	"CREATE INDEX codes_exp ON codes(exp);"
	"CREATE TABLE tokens(token_hash TEXT PRIMARY KEY, pin TEXT NOT NULL,"
	" client_id TEXT NOT NULL, scope TEXT NOT NULL, exp INTEGER NOT NULL,"
	" revoked INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX tokens_exp ON tokens(exp);"
	"CREATE TABLE sessions(sid_hash TEXT PRIMARY KEY, pin TEXT NOT NULL,"
	" auth_time INTEGER NOT NULL, last_seen INTEGER NOT NULL);"
	"CREATE INDEX sessions_seen ON sessions(last_seen);"
	"CREATE TABLE login_failures(key TEXT NOT NULL, at INTEGER NOT NULL);"
	"CREATE INDEX login_failures_key ON login_failures(key, at);"
	"CREATE TABLE lockouts(key TEXT PRIMARY KEY, until INTEGER NOT NULL);",
	/* 2: failures by PIN and source for the throttle that replaced the
	 * lockout (signin_throttle.h). */
	"DROP TABLE login_failures; DROP TABLE lockouts;"
	"CREATE TABLE signin_failures(account TEXT NOT NULL, source TEXT NOT NULL,"
	" at INTEGER NOT NULL);"
	"CREATE INDEX signin_failures_account ON signin_failures(account, at);"
	"CREATE INDEX signin_failures_source ON signin_failures(source, at);",
	/* 3: the ID token algorithm a client registered (RS256 beside EdDSA)
	 * and the sid claim of the session a code was issued from. */
	"ALTER TABLE clients ADD COLUMN id_token_alg TEXT NOT NULL DEFAULT 'EdDSA';"
	"ALTER TABLE codes ADD COLUMN sid TEXT;",
	/* 4: the ids of the events applied, so that a second delivery
	 * changes nothing (docs/id.md "Events"); the accounts' columns
	 * disabled_reason and disabled_on are added by add_account_columns,
	 * which a migration run again over a database that has them survives. */
	"CREATE TABLE IF NOT EXISTS events_applied(id TEXT PRIMARY KEY, name TEXT NOT NULL,"
	" applied_at INTEGER NOT NULL, effect TEXT NOT NULL);",
	/* 5: the name a client registered for people (OpenID Connect Dynamic
	 * Client Registration's client_name, and client_name#en), shown on
	 * the sign-in page instead of the client id. */
	"ALTER TABLE clients ADD COLUMN client_name TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE clients ADD COLUMN client_name_en TEXT NOT NULL DEFAULT '';",
};

/* Columns of accounts added after version 3, each when missing. */
static const char *const ACCOUNT_COLUMNS[] = { "disabled_reason", "disabled_on" };

static int db_fail(struct idstore *st, const char *what)
{
	return ndx_sqlstore_fail(st->db, PROG, what);
}

static int exec_sql(struct idstore *st, const char *sql)
{
	return ndx_sqlstore_exec(st->db, PROG, sql);
}

static int prepare(struct idstore *st, const char *sql, sqlite3_stmt **s)
{
	if (sqlite3_prepare_v2(st->db, sql, -1, s, NULL) != SQLITE_OK) {
		*s = NULL;
		return db_fail(st, "prepare");
	}
	return NDX_OK;
}

/* Runs a statement that returns no rows. */
static int step_done(struct idstore *st, sqlite3_stmt *s, const char *what)
{
	int rc = sqlite3_step(s) == SQLITE_DONE ? NDX_OK : db_fail(st, what);

	sqlite3_finalize(s);
	return rc;
}

static void copy_col(sqlite3_stmt *s, int col, char *out, size_t cap)
{
	const unsigned char *v = sqlite3_column_text(s, col);

	snprintf(out, cap, "%s", v ? (const char *)v : "");
}

static void bind_opt(sqlite3_stmt *s, int i, int has, const char *v)
{
	if (has)
		sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, i);
}

static void lock(struct idstore *st)
{
	pthread_mutex_lock(&st->mu);
}

static void unlock(struct idstore *st)
{
	pthread_mutex_unlock(&st->mu);
}

/* ---- open ------------------------------------------------------------- */

static int add_account_columns(sqlite3 *db)
{
	for (size_t i = 0; i < sizeof ACCOUNT_COLUMNS / sizeof *ACCOUNT_COLUMNS; i++) {
		char sql[128];
		sqlite3_stmt *q = NULL;
		int found = 0, step;

		if (sqlite3_prepare_v2(db, "SELECT 1 FROM pragma_table_info('accounts') WHERE name = ?",
				       -1, &q, NULL) != SQLITE_OK)
			return ndx_sqlstore_fail(db, PROG, "accounts");
		sqlite3_bind_text(q, 1, ACCOUNT_COLUMNS[i], -1, SQLITE_STATIC);
		step = sqlite3_step(q);
		found = step == SQLITE_ROW;
		sqlite3_finalize(q);
		if (step != SQLITE_ROW && step != SQLITE_DONE)
			return ndx_sqlstore_fail(db, PROG, "accounts");
		if (found)
			continue;
		snprintf(sql, sizeof sql, "ALTER TABLE accounts ADD COLUMN %s TEXT", ACCOUNT_COLUMNS[i]);
		if (ndx_sqlstore_exec(db, PROG, sql) != NDX_OK)
			return NDX_EDB;
	}
	return NDX_OK;
}

static int connect_db(const char *path, int flags, struct idstore **out)
{
	struct idstore *st = calloc(1, sizeof *st);

	*out = NULL;
	if (!st)
		return NDX_ENOMEM;
	if (ndx_sqlstore_open(path, flags, MIGRATIONS, sizeof MIGRATIONS / sizeof *MIGRATIONS,
			      PROG, &st->db) != NDX_OK) {
		free(st);
		return NDX_EDB;
	}
	if (add_account_columns(st->db) != NDX_OK) {
		sqlite3_close(st->db);
		free(st);
		return NDX_EDB;
	}
	pthread_mutex_init(&st->mu, NULL);
	*out = st;
	return NDX_OK;
}

int idstore_create(const char *path, struct idstore **out)
{
	struct idstore *st;
	int rc;

	*out = NULL;
	if (access(path, F_OK) == 0)
		return NDX_EEXIST;
	if ((rc = connect_db(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &st)))
		return rc;
	if ((rc = idstore_meta_set(st, "kind", "ndx-id"))) {
		idstore_close(st);
		unlink(path);
		return rc;
	}
	*out = st;
	return NDX_OK;
}

int idstore_open(const char *path, struct idstore **out)
{
	struct idstore *st;
	char *kind = NULL;
	int rc;

	*out = NULL;
	if (access(path, F_OK) != 0) {
		fprintf(stderr, PROG ": %s does not exist (run `" PROG " init` first)\n", path);
		return NDX_EIO;
	}
	if ((rc = connect_db(path, SQLITE_OPEN_READWRITE, &st)))
		return rc;
	rc = idstore_meta_get(st, "kind", &kind);
	if (rc || strcmp(kind, "ndx-id") != 0) {
		fprintf(stderr, PROG ": %s is not an ndx-id database\n", path);
		free(kind);
		idstore_close(st);
		return NDX_EDB;
	}
	free(kind);
	*out = st;
	return NDX_OK;
}

void idstore_close(struct idstore *st)
{
	if (!st)
		return;
	sqlite3_close(st->db);
	pthread_mutex_destroy(&st->mu);
	free(st);
}

/* ---- meta and bulk ------------------------------------------------------ */

int idstore_meta_get(struct idstore *st, const char *key, char **out)
{
	sqlite3_stmt *s;
	int rc;

	*out = NULL;
	lock(st);
	if ((rc = prepare(st, "SELECT value FROM meta WHERE key = ?", &s)) == NDX_OK) {
		sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			*out = strdup((const char *)sqlite3_column_text(s, 0));
			rc = *out ? NDX_OK : NDX_ENOMEM;
		} else {
			rc = rc == SQLITE_DONE ? NDX_ENOTFOUND : db_fail(st, "meta");
		}
		sqlite3_finalize(s);
	}
	unlock(st);
	return rc;
}

int idstore_meta_set(struct idstore *st, const char *key, const char *value)
{
	sqlite3_stmt *s;
	int rc;

	lock(st);
	if ((rc = prepare(st, "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)", &s)) ==
	    NDX_OK) {
		sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, value, -1, SQLITE_STATIC);
		rc = step_done(st, s, "meta");
	}
	unlock(st);
	return rc;
}

int idstore_begin(struct idstore *st)
{
	return exec_sql(st, "BEGIN IMMEDIATE");
}

int idstore_commit(struct idstore *st)
{
	return exec_sql(st, "COMMIT");
}

void idstore_rollback(struct idstore *st)
{
	exec_sql(st, "ROLLBACK");
}

/* ---- accounts ------------------------------------------------------------ */

static int exists(struct idstore *st, const char *sql, const char *key, int *found)
{
	sqlite3_stmt *s;
	int rc;

	if ((rc = prepare(st, sql, &s)))
		return rc;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	*found = rc == SQLITE_ROW;
	rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? NDX_OK : db_fail(st, "lookup");
	sqlite3_finalize(s);
	return rc;
}

int idstore_account_put(struct idstore *st, const struct idstore_account *a, int *created)
{
	sqlite3_stmt *s;
	int rc, found = 0;

	lock(st);
	if ((rc = exists(st, "SELECT 1 FROM accounts WHERE pin = ?", a->pin, &found)) == NDX_OK &&
	    (rc = prepare(st,
			  "INSERT INTO accounts(pin, password_hash, name, birthdate, gender,"
			  " updated_at) VALUES(?,?,?,?,?,strftime('%s','now'))"
			  " ON CONFLICT(pin) DO UPDATE SET password_hash = excluded.password_hash,"
			  " name = excluded.name, birthdate = excluded.birthdate,"
			  " gender = excluded.gender, updated_at = excluded.updated_at",
			  &s)) == NDX_OK) {
		sqlite3_bind_text(s, 1, a->pin, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, a->password_hash, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 3, a->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 4, a->birthdate, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 5, a->gender, -1, SQLITE_STATIC);
		rc = step_done(st, s, "account");
	}
	unlock(st);
	if (created)
		*created = !found;
	return rc;
}

int idstore_account_get(struct idstore *st, const char *pin, struct idstore_account *out)
{
	sqlite3_stmt *s;
	int rc;

	memset(out, 0, sizeof *out);
	lock(st);
	if ((rc = prepare(st,
			  "SELECT pin, password_hash, name, birthdate, gender,"
			  " disabled_reason, disabled_on FROM accounts WHERE pin = ?",
			  &s)) == NDX_OK) {
		sqlite3_bind_text(s, 1, pin, -1, SQLITE_STATIC);
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			copy_col(s, 0, out->pin, sizeof out->pin);
			copy_col(s, 1, out->password_hash, sizeof out->password_hash);
			copy_col(s, 2, out->name, sizeof out->name);
			copy_col(s, 3, out->birthdate, sizeof out->birthdate);
			copy_col(s, 4, out->gender, sizeof out->gender);
			copy_col(s, 5, out->disabled_reason, sizeof out->disabled_reason);
			copy_col(s, 6, out->disabled_on, sizeof out->disabled_on);
			rc = NDX_OK;
		} else {
			rc = rc == SQLITE_DONE ? NDX_ENOTFOUND : db_fail(st, "account");
		}
		sqlite3_finalize(s);
	}
	unlock(st);
	return rc;
}

/* Runs sql binding pin as ?1; the number of rows changed, or -1. */
static int exec_pin(struct idstore *st, const char *sql, const char *pin)
{
	sqlite3_stmt *s;

	if (prepare(st, sql, &s))
		return -1;
	sqlite3_bind_text(s, 1, pin, -1, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_DONE) {
		sqlite3_finalize(s);
		db_fail(st, "disable");
		return -1;
	}
	sqlite3_finalize(s);
	return sqlite3_changes(st->db);
}

int idstore_event_disable(struct idstore *st, const char *event_id, const char *event_name,
			  const char *pin, const char *reason, const char *on, time_t now,
			  enum idstore_event_result *res)
{
	sqlite3_stmt *s;
	int rc, found = 0, changed = 0;

	*res = IDSTORE_EVENT_NO_ACCOUNT;
	lock(st);
	if ((rc = exec_sql(st, "BEGIN IMMEDIATE"))) {
		unlock(st);
		return rc;
	}
	if ((rc = exists(st, "SELECT 1 FROM events_applied WHERE id = ?", event_id, &found)))
		goto fail;
	if (found) {
		*res = IDSTORE_EVENT_SEEN;
		exec_sql(st, "ROLLBACK");
		unlock(st);
		return NDX_OK;
	}
	if ((rc = exists(st, "SELECT 1 FROM accounts WHERE pin = ?", pin, &found)))
		goto fail;
	if (found) {
		if ((rc = prepare(st,
				  "UPDATE accounts SET disabled_reason = ?, disabled_on = ?,"
				  " updated_at = ? WHERE pin = ? AND disabled_reason IS NULL",
				  &s)))
			goto fail;
		sqlite3_bind_text(s, 1, reason, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, on, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 3, (sqlite3_int64)now);
		sqlite3_bind_text(s, 4, pin, -1, SQLITE_STATIC);
		if ((rc = step_done(st, s, "disable")))
			goto fail;
		changed = sqlite3_changes(st->db);
		/* Whoever is signed in as them is signed out, and the access
		 * tokens issued to them stop working at once. */
		if (exec_pin(st, "DELETE FROM sessions WHERE pin = ?", pin) < 0 ||
		    exec_pin(st, "UPDATE tokens SET revoked = 1 WHERE pin = ? AND revoked = 0", pin) <
			    0) {
			rc = NDX_EDB;
			goto fail;
		}
		*res = changed ? IDSTORE_EVENT_CHANGED : IDSTORE_EVENT_UNCHANGED;
	}
	if ((rc = prepare(st,
			  "INSERT INTO events_applied(id, name, applied_at, effect) VALUES(?,?,?,?)",
			  &s)))
		goto fail;
	sqlite3_bind_text(s, 1, event_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, event_name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)now);
	sqlite3_bind_text(s, 4,
			  *res == IDSTORE_EVENT_CHANGED	    ? "account disabled"
			  : *res == IDSTORE_EVENT_UNCHANGED ? "already disabled"
							    : "no account",
			  -1, SQLITE_STATIC);
	if ((rc = step_done(st, s, "disable")) || (rc = exec_sql(st, "COMMIT")))
		goto fail;
	unlock(st);
	return NDX_OK;
fail:
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	unlock(st);
	return rc ? rc : NDX_EDB;
}

int idstore_account_any_hash(struct idstore *st, char out[NDX_PASSWORD_HASH_MAX])
{
	sqlite3_stmt *s;
	int rc;

	out[0] = '\0';
	lock(st);
	if ((rc = prepare(st, "SELECT password_hash FROM accounts ORDER BY rowid DESC LIMIT 1", &s)) == NDX_OK) {
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			copy_col(s, 0, out, NDX_PASSWORD_HASH_MAX);
			rc = NDX_OK;
		} else {
			rc = rc == SQLITE_DONE ? NDX_ENOTFOUND : db_fail(st, "account");
		}
		sqlite3_finalize(s);
	}
	unlock(st);
	return rc;
}

/* ---- clients ------------------------------------------------------------- */

int idstore_client_put(struct idstore *st, const struct idstore_client *c, int *created)
{
	char *ru = json_dumps(c->redirect_uris, JSON_COMPACT);
	char *pl = json_dumps(c->post_logout_uris, JSON_COMPACT);
	sqlite3_stmt *s;
	int rc, found = 0;

	if (!ru || !pl) {
		free(ru);
		free(pl);
		return NDX_ENOMEM;
	}
	lock(st);
	if ((rc = exists(st, "SELECT 1 FROM clients WHERE client_id = ?", c->client_id, &found)) ==
		    NDX_OK &&
	    (rc = prepare(st,
			  "INSERT OR REPLACE INTO clients(client_id, secret_sha256, redirect_uris,"
			  " post_logout_uris, id_token_alg, client_name, client_name_en, updated_at)"
			  " VALUES(?,?,?,?,?,?,?,strftime('%s','now'))",
			  &s)) == NDX_OK) {
		sqlite3_bind_text(s, 1, c->client_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, c->secret_sha256, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 3, ru, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 4, pl, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 5, c->id_token_alg[0] ? c->id_token_alg : "EdDSA", -1,
				  SQLITE_STATIC);
		sqlite3_bind_text(s, 6, c->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 7, c->name_en, -1, SQLITE_STATIC);
		rc = step_done(st, s, "client");
	}
	unlock(st);
	free(ru);
	free(pl);
	if (created)
		*created = !found;
	return rc;
}

int idstore_client_get(struct idstore *st, const char *client_id, struct idstore_client *out)
{
	sqlite3_stmt *s;
	int rc;

	memset(out, 0, sizeof *out);
	lock(st);
	if ((rc = prepare(st,
			  "SELECT client_id, secret_sha256, redirect_uris, post_logout_uris,"
			  " id_token_alg, client_name, client_name_en FROM clients WHERE client_id = ?",
			  &s)) == NDX_OK) {
		sqlite3_bind_text(s, 1, client_id, -1, SQLITE_STATIC);
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			copy_col(s, 0, out->client_id, sizeof out->client_id);
			copy_col(s, 1, out->secret_sha256, sizeof out->secret_sha256);
			out->redirect_uris =
				json_loads((const char *)sqlite3_column_text(s, 2), 0, NULL);
			out->post_logout_uris =
				json_loads((const char *)sqlite3_column_text(s, 3), 0, NULL);
			copy_col(s, 4, out->id_token_alg, sizeof out->id_token_alg);
			copy_col(s, 5, out->name, sizeof out->name);
			copy_col(s, 6, out->name_en, sizeof out->name_en);
			rc = json_is_array(out->redirect_uris) &&
					     json_is_array(out->post_logout_uris)
				     ? NDX_OK
				     : NDX_EDB;
		} else {
			rc = rc == SQLITE_DONE ? NDX_ENOTFOUND : db_fail(st, "client");
		}
		sqlite3_finalize(s);
	}
	unlock(st);
	if (rc)
		idstore_client_clear(out);
	return rc;
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
	sqlite3_stmt *s;
	int rc;

	lock(st);
	if ((rc = prepare(st,
			  "INSERT INTO authreqs(tx_hash, client_id, redirect_uri, scope, state,"
			  " nonce, code_challenge, lang, created) VALUES(?,?,?,?,?,?,?,?,?)",
			  &s)) == NDX_OK) {
		sqlite3_bind_text(s, 1, tx_hash, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, r->client_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 3, r->redirect_uri, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 4, r->scope, -1, SQLITE_STATIC);
		bind_opt(s, 5, r->has_state, r->state);
		bind_opt(s, 6, r->has_nonce, r->nonce);
		sqlite3_bind_text(s, 7, r->code_challenge, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 8, r->lang, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 9, (sqlite3_int64)r->created);
		rc = step_done(st, s, "authorization request");
	}
	unlock(st);
	return rc;
}

/* Columns 0..6: client_id, redirect_uri, scope, state, nonce,
 * code_challenge, created. */
static void read_req(sqlite3_stmt *s, struct idstore_authreq *r)
{
	copy_col(s, 0, r->client_id, sizeof r->client_id);
	copy_col(s, 1, r->redirect_uri, sizeof r->redirect_uri);
	copy_col(s, 2, r->scope, sizeof r->scope);
	r->has_state = sqlite3_column_type(s, 3) != SQLITE_NULL;
	copy_col(s, 3, r->state, sizeof r->state);
	r->has_nonce = sqlite3_column_type(s, 4) != SQLITE_NULL;
	copy_col(s, 4, r->nonce, sizeof r->nonce);
	copy_col(s, 5, r->code_challenge, sizeof r->code_challenge);
	r->created = (time_t)sqlite3_column_int64(s, 6);
}

int idstore_authreq_get(struct idstore *st, const char *tx_hash, time_t now, time_t max_age,
			struct idstore_authreq *out)
{
	sqlite3_stmt *s;
	int rc;

	memset(out, 0, sizeof *out);
	lock(st);
	if ((rc = prepare(st,
			  "SELECT client_id, redirect_uri, scope, state, nonce, code_challenge,"
			  " created, lang FROM authreqs WHERE tx_hash = ?",
			  &s)) == NDX_OK) {
		sqlite3_bind_text(s, 1, tx_hash, -1, SQLITE_STATIC);
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			read_req(s, out);
			copy_col(s, 7, out->lang, sizeof out->lang);
			rc = out->created + max_age < now ? NDX_ENOTFOUND : NDX_OK;
		} else {
			rc = rc == SQLITE_DONE ? NDX_ENOTFOUND : db_fail(st, "authorization request");
		}
		sqlite3_finalize(s);
	}
	unlock(st);
	return rc;
}

int idstore_authreq_delete(struct idstore *st, const char *tx_hash)
{
	sqlite3_stmt *s;
	int rc;

	lock(st);
	if ((rc = prepare(st, "DELETE FROM authreqs WHERE tx_hash = ?", &s)) == NDX_OK) {
		sqlite3_bind_text(s, 1, tx_hash, -1, SQLITE_STATIC);
		rc = step_done(st, s, "authorization request");
	}
	unlock(st);
	return rc;
}

/* ---- codes and tokens ------------------------------------------------------ */

int idstore_code_put(struct idstore *st, const char *code_hash, const struct idstore_code *c)
{
	sqlite3_stmt *s;
	int rc;

	lock(st);
	if ((rc = prepare(st,
			  "INSERT INTO codes(code_hash, client_id, redirect_uri, scope, state, nonce,"
			  " code_challenge, pin, auth_time, created, exp, sid)"
			  " VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
			  &s)) == NDX_OK) {
		sqlite3_bind_text(s, 1, code_hash, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, c->req.client_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 3, c->req.redirect_uri, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 4, c->req.scope, -1, SQLITE_STATIC);
		bind_opt(s, 5, c->req.has_state, c->req.state);
		bind_opt(s, 6, c->req.has_nonce, c->req.nonce);
		sqlite3_bind_text(s, 7, c->req.code_challenge, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 8, c->pin, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 9, (sqlite3_int64)c->auth_time);
		sqlite3_bind_int64(s, 10, (sqlite3_int64)c->req.created);
		sqlite3_bind_int64(s, 11, (sqlite3_int64)c->exp);
		bind_opt(s, 12, c->sid[0] != '\0', c->sid);
		rc = step_done(st, s, "code");
	}
	unlock(st);
	return rc;
}

static int code_replayed(struct idstore *st, const char *code_hash)
{
	sqlite3_stmt *s;
	int rc;

	if ((rc = prepare(st, "UPDATE codes SET replayed = 1 WHERE code_hash = ?", &s)))
		return rc;
	sqlite3_bind_text(s, 1, code_hash, -1, SQLITE_STATIC);
	if ((rc = step_done(st, s, "code")))
		return rc;
	if ((rc = prepare(st,
			  "UPDATE tokens SET revoked = 1 WHERE token_hash ="
			  " (SELECT token_hash FROM codes WHERE code_hash = ?)",
			  &s)))
		return rc;
	sqlite3_bind_text(s, 1, code_hash, -1, SQLITE_STATIC);
	return step_done(st, s, "token");
}

int idstore_code_redeem(struct idstore *st, const char *code_hash, time_t now,
			struct idstore_code *out)
{
	sqlite3_stmt *s = NULL;
	int rc, used = 0;

	memset(out, 0, sizeof *out);
	lock(st);
	if ((rc = exec_sql(st, "BEGIN IMMEDIATE")))
		goto out;
	if ((rc = prepare(st,
			  "SELECT client_id, redirect_uri, scope, state, nonce, code_challenge,"
			  " created, pin, auth_time, exp, used, sid FROM codes WHERE code_hash = ?",
			  &s)))
		goto rollback;
	sqlite3_bind_text(s, 1, code_hash, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		rc = rc == SQLITE_DONE ? NDX_ENOTFOUND : db_fail(st, "code");
		goto rollback;
	}
	read_req(s, &out->req);
	copy_col(s, 7, out->pin, sizeof out->pin);
	out->auth_time = (time_t)sqlite3_column_int64(s, 8);
	out->exp = (time_t)sqlite3_column_int64(s, 9);
	used = sqlite3_column_int(s, 10);
	copy_col(s, 11, out->sid, sizeof out->sid);
	sqlite3_finalize(s);
	s = NULL;
	if (used) {
		if ((rc = code_replayed(st, code_hash)))
			goto rollback;
		rc = NDX_EEXIST;
	} else {
		if ((rc = prepare(st, "UPDATE codes SET used = 1 WHERE code_hash = ?", &s)))
			goto rollback;
		sqlite3_bind_text(s, 1, code_hash, -1, SQLITE_STATIC);
		rc = step_done(st, s, "code");
		s = NULL;
		if (rc)
			goto rollback;
		rc = out->exp < now ? NDX_EEXPIRED : NDX_OK;
	}
	if (exec_sql(st, "COMMIT") == NDX_OK)
		goto out;
	rc = NDX_EDB;
rollback:
	sqlite3_finalize(s);
	exec_sql(st, "ROLLBACK");
out:
	unlock(st);
	return rc;
}

int idstore_token_put(struct idstore *st, const char *token_hash, const char *code_hash,
		      const struct idstore_token *t)
{
	sqlite3_stmt *s;
	int rc;

	lock(st);
	if ((rc = exec_sql(st, "BEGIN IMMEDIATE")))
		goto out;
	/* A replay that arrived between redemption and now finds no token to
	 * revoke: the token is then born revoked. */
	if ((rc = prepare(st,
			  "INSERT INTO tokens(token_hash, pin, client_id, scope, exp, revoked)"
			  " VALUES(?,?,?,?,?, COALESCE((SELECT replayed FROM codes"
			  " WHERE code_hash = ?), 0))",
			  &s)))
		goto rollback;
	sqlite3_bind_text(s, 1, token_hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, t->pin, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, t->client_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, t->scope, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, (sqlite3_int64)t->exp);
	sqlite3_bind_text(s, 6, code_hash, -1, SQLITE_STATIC);
	if ((rc = step_done(st, s, "token")))
		goto rollback;
	if ((rc = prepare(st, "UPDATE codes SET token_hash = ? WHERE code_hash = ?", &s)))
		goto rollback;
	sqlite3_bind_text(s, 1, token_hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, code_hash, -1, SQLITE_STATIC);
	if ((rc = step_done(st, s, "code")))
		goto rollback;
	if ((rc = exec_sql(st, "COMMIT")) == NDX_OK)
		goto out;
rollback:
	exec_sql(st, "ROLLBACK");
out:
	unlock(st);
	return rc;
}

int idstore_token_get(struct idstore *st, const char *token_hash, time_t now,
		      struct idstore_token *out)
{
	sqlite3_stmt *s;
	int rc;

	memset(out, 0, sizeof *out);
	lock(st);
	if ((rc = prepare(st,
			  "SELECT pin, client_id, scope, exp, revoked FROM tokens"
			  " WHERE token_hash = ?",
			  &s)) == NDX_OK) {
		sqlite3_bind_text(s, 1, token_hash, -1, SQLITE_STATIC);
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			copy_col(s, 0, out->pin, sizeof out->pin);
			copy_col(s, 1, out->client_id, sizeof out->client_id);
			copy_col(s, 2, out->scope, sizeof out->scope);
			out->exp = (time_t)sqlite3_column_int64(s, 3);
			rc = sqlite3_column_int(s, 4) ? NDX_EREVOKED
			     : out->exp < now	      ? NDX_EEXPIRED
						      : NDX_OK;
		} else {
			rc = rc == SQLITE_DONE ? NDX_ENOTFOUND : db_fail(st, "token");
		}
		sqlite3_finalize(s);
	}
	unlock(st);
	return rc;
}

/* ---- sessions ------------------------------------------------------------- */

int idstore_session_put(struct idstore *st, const char *sid_hash, const char *pin,
			time_t auth_time)
{
	sqlite3_stmt *s;
	int rc;

	lock(st);
	if ((rc = prepare(st,
			  "INSERT INTO sessions(sid_hash, pin, auth_time, last_seen) VALUES(?,?,?,?)",
			  &s)) == NDX_OK) {
		sqlite3_bind_text(s, 1, sid_hash, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, pin, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 3, (sqlite3_int64)auth_time);
		sqlite3_bind_int64(s, 4, (sqlite3_int64)auth_time);
		rc = step_done(st, s, "session");
	}
	unlock(st);
	return rc;
}

int idstore_session_use(struct idstore *st, const char *sid_hash, time_t now, time_t idle,
			char pin[NDX_PIN_LEN + 1], time_t *auth_time)
{
	sqlite3_stmt *s;
	int rc;

	pin[0] = '\0';
	lock(st);
	/* One statement checks the idle limit and refreshes last_seen. */
	if ((rc = prepare(st,
			  "UPDATE sessions SET last_seen = ?1 WHERE sid_hash = ?2"
			  " AND last_seen + ?3 >= ?1 RETURNING pin, auth_time",
			  &s)) == NDX_OK) {
		sqlite3_bind_int64(s, 1, (sqlite3_int64)now);
		sqlite3_bind_text(s, 2, sid_hash, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 3, (sqlite3_int64)idle);
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			copy_col(s, 0, pin, NDX_PIN_LEN + 1);
			*auth_time = (time_t)sqlite3_column_int64(s, 1);
			rc = sqlite3_step(s) == SQLITE_DONE ? NDX_OK : db_fail(st, "session");
		} else {
			rc = rc == SQLITE_DONE ? NDX_ENOTFOUND : db_fail(st, "session");
		}
		sqlite3_finalize(s);
	}
	unlock(st);
	return rc;
}

int idstore_session_end(struct idstore *st, const char *sid_hash)
{
	sqlite3_stmt *s;
	int rc;

	lock(st);
	if ((rc = prepare(st, "DELETE FROM sessions WHERE sid_hash = ?", &s)) == NDX_OK) {
		sqlite3_bind_text(s, 1, sid_hash, -1, SQLITE_STATIC);
		rc = step_done(st, s, "session");
	}
	unlock(st);
	return rc;
}

/* ---- failed sign-ins -------------------------------------------------------- */

int idstore_signin_counts(struct idstore *st, const char *account, const char *source,
			  time_t since, struct signin_counts *out)
{
	int rc;

	lock(st);
	rc = signin_counts_read(st->db, PROG, account, source, since, out);
	unlock(st);
	return rc;
}

int idstore_signin_failed(struct idstore *st, const char *account, const char *source,
			  time_t now)
{
	sqlite3_stmt *s;
	int rc;

	lock(st);
	if ((rc = prepare(st, "INSERT INTO signin_failures(account, source, at) VALUES(?, ?, ?)",
			  &s)) == NDX_OK) {
		sqlite3_bind_text(s, 1, account, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, source, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 3, (sqlite3_int64)now);
		rc = step_done(st, s, "sign-in failure");
	}
	unlock(st);
	return rc;
}

void idstore_signin_ok(struct idstore *st, const char *account, const char *source)
{
	sqlite3_stmt *s;

	lock(st);
	if (prepare(st, "DELETE FROM signin_failures WHERE account = ? AND source = ?", &s) ==
	    NDX_OK) {
		sqlite3_bind_text(s, 1, account, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, source, -1, SQLITE_STATIC);
		step_done(st, s, "sign-in failures clear");
	}
	unlock(st);
}

void idstore_purge(struct idstore *st, time_t now, time_t authreq_age, time_t idle,
		   time_t window)
{
	static const char *const SQL[] = {
		"DELETE FROM authreqs WHERE created < ?1 - ?2",
		/* Codes stay a while past exp so that a late replay is still
		 * recognised and still revokes its token. */
		"DELETE FROM codes WHERE exp < ?1 - 3600",
		"DELETE FROM tokens WHERE exp < ?1 - 3600",
		"DELETE FROM sessions WHERE last_seen < ?1 - ?3",
		"DELETE FROM signin_failures WHERE at < ?1 - ?4",
	};
	sqlite3_stmt *s;

	lock(st);
	for (size_t i = 0; i < sizeof SQL / sizeof *SQL; i++) {
		if (prepare(st, SQL[i], &s) != NDX_OK)
			continue;
		sqlite3_bind_int64(s, 1, (sqlite3_int64)now);
		if (sqlite3_bind_parameter_count(s) >= 2)
			sqlite3_bind_int64(s, 2, (sqlite3_int64)authreq_age);
		if (sqlite3_bind_parameter_count(s) >= 3)
			sqlite3_bind_int64(s, 3, (sqlite3_int64)idle);
		if (sqlite3_bind_parameter_count(s) >= 4)
			sqlite3_bind_int64(s, 4, (sqlite3_int64)window);
		step_done(st, s, "purge");
	}
	unlock(st);
}
