/* The registry's SQLite store (store.h): schema and versioned migrations,
 * the change transaction (row, audit entry and configuration version
 * together), and one small function per query. Rows are converted to
 * jansson objects by column name, so the SELECT aliases below are the field
 * names the management API answers with (docs/registry-api.md). Referential
 * checks live here in code rather than in SQLite foreign keys so that each
 * refusal can say what still refers to what. */
#include "store.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ndx/sqlstore.h"
#include "ndx/err.h"
#include "ndx/timefmt.h"

struct store {
	sqlite3 *db;
	pthread_mutex_t mu;
	char *instance;
	char *registry_url;
};

/* Migration n (1-based) is MIGRATIONS[n-1]; append, never edit. */
static const char *const MIGRATIONS[] = {
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE members(id TEXT PRIMARY KEY, name TEXT NOT NULL,"
	" created_at TEXT NOT NULL);"
	"CREATE TABLE subsystems(id TEXT PRIMARY KEY, member TEXT NOT NULL,"
	" created_at TEXT NOT NULL);"
	"CREATE INDEX subsystems_member ON subsystems(member);"
	"CREATE TABLE gateways(member TEXT NOT NULL, code TEXT NOT NULL,"
	" address TEXT NOT NULL, sign_key TEXT NOT NULL, sign_key_id TEXT NOT NULL,"
	" tls_cert TEXT NOT NULL, tls_cert_sha256 TEXT NOT NULL, created_at TEXT NOT NULL,"
	" PRIMARY KEY(member, code));"
	"CREATE TABLE services(id TEXT PRIMARY KEY, subsystem TEXT NOT NULL,"
	" title TEXT NOT NULL, personal INTEGER NOT NULL, purposes TEXT NOT NULL,"
	" consent_required INTEGER NOT NULL, openapi TEXT, openapi_sha256 TEXT,"
	" created_at TEXT NOT NULL);"
	"CREATE INDEX services_subsystem ON services(subsystem);"
	"CREATE TABLE grants(id INTEGER PRIMARY KEY AUTOINCREMENT, client TEXT NOT NULL,"
	" service TEXT NOT NULL, methods TEXT NOT NULL, paths TEXT NOT NULL,"
	" created_at TEXT NOT NULL);"
	"CREATE INDEX grants_client ON grants(client);"
	"CREATE INDEX grants_service ON grants(service);"
	"CREATE TABLE revocations(id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL,"
	" value TEXT NOT NULL, reason TEXT NOT NULL, revoked_at TEXT NOT NULL,"
	" UNIQUE(kind, value));"
	"CREATE TABLE admin_tokens(name TEXT PRIMARY KEY, sha256 TEXT NOT NULL,"
	" created_at TEXT NOT NULL);"
	"CREATE TABLE audit(seq INTEGER PRIMARY KEY AUTOINCREMENT, time TEXT NOT NULL,"
	" actor TEXT NOT NULL, remote TEXT NOT NULL, action TEXT NOT NULL,"
	" object TEXT NOT NULL, detail TEXT NOT NULL);",
	"CREATE TABLE consent_services(id TEXT PRIMARY KEY, url TEXT NOT NULL,"
	" sign_key TEXT NOT NULL, sign_key_id TEXT NOT NULL, created_at TEXT NOT NULL);",
	/* Issue 13: bulk reads, embargoed purposes, the national e-ID's keys. */
	"ALTER TABLE services ADD COLUMN bulk_purposes TEXT NOT NULL DEFAULT '[]';"
	"CREATE TABLE embargoes(purpose TEXT PRIMARY KEY, seconds INTEGER NOT NULL,"
	" created_at TEXT NOT NULL, updated_at TEXT NOT NULL);"
	"CREATE TABLE id_providers(issuer TEXT PRIMARY KEY, sign_key TEXT NOT NULL,"
	" sign_key_id TEXT NOT NULL, created_at TEXT NOT NULL);",
	/* Issue 14, finding 12: the tree heads the registry witnessed (reg_witness.c). */
	"CREATE TABLE witnessed(gateway TEXT NOT NULL, batch INTEGER NOT NULL,"
	" sth_hash TEXT NOT NULL, time_ms INTEGER NOT NULL, PRIMARY KEY(gateway, batch));",
	/* Issue 17: event types of services and the subscriptions to them. IF NOT
	 * EXISTS so that a database whose later migrations are replayed (the
	 * migration tests of earlier issues do that) opens as well. */
	"CREATE TABLE IF NOT EXISTS event_types(service TEXT NOT NULL, name TEXT NOT NULL, title TEXT,"
	" schema TEXT NOT NULL, created_at TEXT NOT NULL, PRIMARY KEY(service, name));"
	"CREATE TABLE IF NOT EXISTS subscriptions(id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" client TEXT NOT NULL, service TEXT NOT NULL, event TEXT NOT NULL, purpose TEXT,"
	" retry_first_s INTEGER NOT NULL, retry_max_s INTEGER NOT NULL,"
	" give_up_after_s INTEGER NOT NULL, created_at TEXT NOT NULL,"
	" UNIQUE(client, service, event));"
	"CREATE INDEX IF NOT EXISTS subscriptions_event ON subscriptions(service, event);",
};

/* Columns holding JSON text and 0/1 flags, converted for the API. */
static const char *const JSON_COLUMNS[] = { "purposes", "bulk_purposes", "methods", "paths",
					    "detail", "schema", "retry" };
static const char *const BOOL_COLUMNS[] = { "personal", "consent_required" };

static void db_error(struct store *st, const char *what)
{
	fprintf(stderr, "ndx-registry: store: %s: %s\n", what, sqlite3_errmsg(st->db));
}

static void now_text(char out[NDX_TIME_TEXT_LEN])
{
	ndx_time_format(time(NULL), out);
}

static char *dup_str(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = malloc(n);
	if (d)
		memcpy(d, s, n);
	return d;
}

/* ---- statement helpers -------------------------------------------------- */

/* types: one letter per parameter, 's' = const char * (NULL binds NULL),
 * 'i' = int64_t. */
static int prepv(struct store *st, sqlite3_stmt **out, const char *sql, const char *types,
		 va_list ap)
{
	sqlite3_stmt *s;
	int i = 1;

	*out = NULL;
	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
		db_error(st, "prepare");
		return NDX_EDB;
	}
	for (const char *t = types; *t; t++, i++) {
		int rc;
		if (*t == 's') {
			const char *v = va_arg(ap, const char *);
			rc = v ? sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT)
			       : sqlite3_bind_null(s, i);
		} else {
			rc = sqlite3_bind_int64(s, i, va_arg(ap, int64_t));
		}
		if (rc != SQLITE_OK) {
			db_error(st, "bind");
			sqlite3_finalize(s);
			return NDX_EDB;
		}
	}
	*out = s;
	return NDX_OK;
}

/* Runs a statement that returns no rows. A constraint violation is
 * NDX_EEXIST (the only constraints are primary and unique keys). */
static int exec_p(struct store *st, const char *sql, const char *types, ...)
{
	sqlite3_stmt *s;
	va_list ap;
	int rc;

	va_start(ap, types);
	rc = prepv(st, &s, sql, types, ap);
	va_end(ap);
	if (rc)
		return rc;
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		rc = NDX_OK;
	} else if ((rc & 0xff) == SQLITE_CONSTRAINT) {
		rc = NDX_EEXIST;
	} else {
		db_error(st, "step");
		rc = NDX_EDB;
	}
	sqlite3_finalize(s);
	return rc;
}

static int is_in(const char *name, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(name, list[i]) == 0)
			return 1;
	return 0;
}

static json_t *row_to_json(sqlite3_stmt *s)
{
	json_t *o = json_object();
	int n = sqlite3_column_count(s);

	if (!o)
		return NULL;
	for (int i = 0; i < n; i++) {
		const char *name = sqlite3_column_name(s, i);
		json_t *v = NULL;
		switch (sqlite3_column_type(s, i)) {
		case SQLITE_INTEGER:
			if (is_in(name, BOOL_COLUMNS, sizeof BOOL_COLUMNS / sizeof *BOOL_COLUMNS))
				v = json_boolean(sqlite3_column_int64(s, i) != 0);
			else
				v = json_integer((json_int_t)sqlite3_column_int64(s, i));
			break;
		case SQLITE_NULL:
			v = json_null();
			break;
		default: {
			const char *text = (const char *)sqlite3_column_text(s, i);
			size_t len = (size_t)sqlite3_column_bytes(s, i);
			if (is_in(name, JSON_COLUMNS, sizeof JSON_COLUMNS / sizeof *JSON_COLUMNS))
				v = json_loadb(text ? text : "null", text ? len : 4,
					       JSON_DECODE_ANY, NULL);
			else
				v = json_stringn(text ? text : "", text ? len : 0);
			break;
		}
		}
		if (!v || json_object_set_new(o, name, v)) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

/* Collects every row into a new array (*out). */
static int query_rows(struct store *st, json_t **out, const char *sql, const char *types, ...)
{
	sqlite3_stmt *s;
	va_list ap;
	json_t *arr;
	int rc;

	*out = NULL;
	va_start(ap, types);
	rc = prepv(st, &s, sql, types, ap);
	va_end(ap);
	if (rc)
		return rc;
	arr = json_array();
	if (!arr) {
		sqlite3_finalize(s);
		return NDX_ENOMEM;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		json_t *row = row_to_json(s);
		if (!row || json_array_append_new(arr, row)) {
			sqlite3_finalize(s);
			json_decref(arr);
			return NDX_ENOMEM;
		}
	}
	if (rc != SQLITE_DONE) {
		db_error(st, "query");
		sqlite3_finalize(s);
		json_decref(arr);
		return NDX_EDB;
	}
	sqlite3_finalize(s);
	*out = arr;
	return NDX_OK;
}

/* As query_rows for exactly one row (NDX_ENOTFOUND when none). */
static int query_one(struct store *st, json_t **out, const char *sql, const char *types, ...)
{
	sqlite3_stmt *s;
	va_list ap;
	int rc;

	*out = NULL;
	va_start(ap, types);
	rc = prepv(st, &s, sql, types, ap);
	va_end(ap);
	if (rc)
		return rc;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*out = row_to_json(s);
		rc = *out ? NDX_OK : NDX_ENOMEM;
	} else if (rc == SQLITE_DONE) {
		rc = NDX_ENOTFOUND;
	} else {
		db_error(st, "query");
		rc = NDX_EDB;
	}
	sqlite3_finalize(s);
	return rc;
}

/* Returns the first column of the first row as an integer (0 when there is
 * no row) in *out. */
static int query_int(struct store *st, int64_t *out, const char *sql, const char *types, ...)
{
	sqlite3_stmt *s;
	va_list ap;
	int rc;

	*out = 0;
	va_start(ap, types);
	rc = prepv(st, &s, sql, types, ap);
	va_end(ap);
	if (rc)
		return rc;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*out = sqlite3_column_int64(s, 0);
		rc = NDX_OK;
	} else if (rc == SQLITE_DONE) {
		rc = NDX_OK;
	} else {
		db_error(st, "query");
		rc = NDX_EDB;
	}
	sqlite3_finalize(s);
	return rc;
}

static int exec_sql(struct store *st, const char *sql)
{
	return ndx_sqlstore_exec(st->db, "ndx-registry", sql);
}

/* ---- open, create ------------------------------------------------------- */

static int meta_get(struct store *st, const char *key, char **out)
{
	sqlite3_stmt *s;
	int rc;

	*out = NULL;
	if (sqlite3_prepare_v2(st->db, "SELECT value FROM meta WHERE key = ?", -1, &s, NULL)) {
		db_error(st, "prepare");
		return NDX_EDB;
	}
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*out = dup_str((const char *)sqlite3_column_text(s, 0));
		rc = *out ? NDX_OK : NDX_ENOMEM;
	} else {
		rc = rc == SQLITE_DONE ? NDX_ENOTFOUND : NDX_EDB;
	}
	sqlite3_finalize(s);
	return rc;
}

static int store_connect(const char *path, int flags, struct store **out)
{
	struct store *st;
	pthread_mutexattr_t attr;

	*out = NULL;
	st = calloc(1, sizeof *st);
	if (!st)
		return NDX_ENOMEM;
	/* WAL lets `ndx-registry token add` write while serve runs; FULL
	 * sync because a registry change, once acknowledged, must survive. */
	if (ndx_sqlstore_open(path, flags, MIGRATIONS, sizeof MIGRATIONS / sizeof *MIGRATIONS,
			      "ndx-registry", &st->db) != NDX_OK) {
		free(st);
		return NDX_EDB;
	}
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&st->mu, &attr);
	pthread_mutexattr_destroy(&attr);
	*out = st;
	return NDX_OK;
}

static int load_meta(struct store *st)
{
	int rc = meta_get(st, "instance", &st->instance);
	if (!rc)
		rc = meta_get(st, "registry_url", &st->registry_url);
	if (rc == NDX_ENOTFOUND) {
		fprintf(stderr, "ndx-registry: the database has no instance: not a registry "
				"database, or its init did not finish\n");
		rc = NDX_EDB;
	}
	return rc;
}

int store_create(const char *path, const char *instance, const char *registry_url,
		 struct store **out)
{
	struct store *st;
	int rc;

	*out = NULL;
	if (access(path, F_OK) == 0)
		return NDX_EEXIST;
	rc = store_connect(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &st);
	if (rc)
		return rc;
	if ((rc = exec_sql(st, "BEGIN IMMEDIATE")))
		goto fail;
	if ((rc = exec_p(st, "INSERT INTO meta(key, value) VALUES('instance', ?),"
			     " ('registry_url', ?), ('conf_version', '1')",
			 "ss", instance, registry_url)) ||
	    (rc = exec_sql(st, "COMMIT"))) {
		exec_sql(st, "ROLLBACK");
		goto fail;
	}
	if ((rc = load_meta(st)))
		goto fail;
	*out = st;
	return NDX_OK;
fail:
	store_close(st);
	return rc ? rc : NDX_EDB;
}

int store_open(const char *path, struct store **out)
{
	struct store *st;
	int rc;

	*out = NULL;
	if (access(path, F_OK) != 0) {
		fprintf(stderr, "ndx-registry: %s does not exist (run `ndx-registry init` first)\n",
			path);
		return NDX_EIO;
	}
	rc = store_connect(path, SQLITE_OPEN_READWRITE, &st);
	if (rc)
		return rc;
	if ((rc = load_meta(st))) {
		store_close(st);
		return rc;
	}
	*out = st;
	return NDX_OK;
}

void store_close(struct store *st)
{
	if (!st)
		return;
	sqlite3_close(st->db);
	pthread_mutex_destroy(&st->mu);
	free(st->instance);
	free(st->registry_url);
	free(st);
}

const char *store_instance(const struct store *st)
{
	return st->instance;
}

const char *store_registry_url(const struct store *st)
{
	return st->registry_url;
}

void store_lock(struct store *st)
{
	pthread_mutex_lock(&st->mu);
}

void store_unlock(struct store *st)
{
	pthread_mutex_unlock(&st->mu);
}

/* ---- changes ---------------------------------------------------------------- */

int store_begin(struct store *st)
{
	store_lock(st);
	if (exec_sql(st, "BEGIN IMMEDIATE")) {
		store_unlock(st);
		return NDX_EDB;
	}
	return NDX_OK;
}

void store_rollback(struct store *st)
{
	exec_sql(st, "ROLLBACK");
	store_unlock(st);
}

static int write_audit(struct store *st, const char *actor, const char *remote,
		       const char *action, const char *object, const json_t *detail)
{
	char now[NDX_TIME_TEXT_LEN];
	char *text = detail ? json_dumps(detail, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	int rc;

	if (detail && !text)
		return NDX_ENOMEM;
	now_text(now);
	rc = exec_p(st, "INSERT INTO audit(time, actor, remote, action, object, detail)"
			" VALUES(?,?,?,?,?,?)",
		    "ssssss", now, actor, remote ? remote : "", action, object,
		    text ? text : "{}");
	free(text);
	return rc;
}

int store_audit_event(struct store *st, const char *actor, const char *remote,
		      const char *action, const char *object, const json_t *detail)
{
	int rc;

	store_lock(st);
	rc = write_audit(st, actor, remote, action, object, detail);
	store_unlock(st);
	return rc;
}

struct sqlite3 *store_db(struct store *st)
{
	return st->db;
}

int store_commit(struct store *st, const char *actor, const char *remote, const char *action,
		 const char *object, const json_t *detail, uint64_t *version)
{
	int64_t v;
	int rc;

	if ((rc = write_audit(st, actor, remote, action, object, detail)) ||
	    (rc = exec_sql(st, "UPDATE meta SET value = CAST(value AS INTEGER) + 1"
			       " WHERE key = 'conf_version'")) ||
	    (rc = query_int(st, &v, "SELECT CAST(value AS INTEGER) FROM meta"
				    " WHERE key = 'conf_version'", "")) ||
	    (rc = exec_sql(st, "COMMIT"))) {
		store_rollback(st);
		return rc == NDX_EEXIST ? NDX_EDB : rc;
	}
	if (version)
		*version = (uint64_t)v;
	store_unlock(st);
	return NDX_OK;
}

int store_conf_version(struct store *st, uint64_t *out)
{
	int64_t v;
	int rc;

	store_lock(st);
	rc = query_int(st, &v, "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'conf_version'",
		       "");
	store_unlock(st);
	*out = rc ? 0 : (uint64_t)v;
	return rc;
}

/* ---- admin credentials ---------------------------------------------------- */

int store_token_add(struct store *st, const char *name, const char *sha256_hex,
		    const char *actor)
{
	char now[NDX_TIME_TEXT_LEN];
	json_t *detail;
	int rc;

	now_text(now);
	if ((rc = store_begin(st)))
		return rc;
	detail = json_pack("{ss}", "name", name);
	rc = exec_p(st, "INSERT INTO admin_tokens(name, sha256, created_at) VALUES(?,?,?)",
		    "sss", name, sha256_hex, now);
	if (!rc)
		rc = write_audit(st, actor, "local", "token.add", name, detail);
	json_decref(detail);
	if (!rc)
		rc = exec_sql(st, "COMMIT");
	if (rc) {
		store_rollback(st);
		return rc;
	}
	store_unlock(st);
	return NDX_OK;
}

int store_tokens(struct store *st, json_t **out)
{
	int rc;
	store_lock(st);
	rc = query_rows(st, out, "SELECT name, sha256 FROM admin_tokens ORDER BY name", "");
	store_unlock(st);
	return rc;
}

/* ---- members ---------------------------------------------------------------- */

int store_member_add(struct store *st, const char *id, const char *name)
{
	char now[NDX_TIME_TEXT_LEN];
	now_text(now);
	return exec_p(st, "INSERT INTO members(id, name, created_at) VALUES(?,?,?)", "sss", id,
		      name, now);
}

int store_member_get(struct store *st, const char *id, json_t **out)
{
	int rc;
	store_lock(st);
	rc = query_one(st, out, "SELECT id, name, created_at FROM members WHERE id = ?", "s", id);
	store_unlock(st);
	return rc;
}

int store_member_list(struct store *st, json_t **out)
{
	int rc;
	store_lock(st);
	rc = query_rows(st, out, "SELECT id, name, created_at FROM members ORDER BY id", "");
	store_unlock(st);
	return rc;
}

static int exists(struct store *st, const char *sql, const char *a, const char *b)
{
	int64_t n;
	int rc;
	store_lock(st);
	rc = b ? query_int(st, &n, sql, "ss", a, b) : query_int(st, &n, sql, "s", a);
	store_unlock(st);
	return rc ? rc : n > 0;
}

int store_member_exists(struct store *st, const char *id)
{
	return exists(st, "SELECT COUNT(*) FROM members WHERE id = ?", id, NULL);
}

int store_member_delete(struct store *st, const char *id, const char **why)
{
	int rc;
	*why = NULL;
	if ((rc = exists(st, "SELECT COUNT(*) FROM subsystems WHERE member = ?", id, NULL))) {
		*why = "the member still has subsystems; delete them first";
		return rc < 0 ? rc : NDX_EEXIST;
	}
	if ((rc = exists(st, "SELECT COUNT(*) FROM gateways WHERE member = ?", id, NULL))) {
		*why = "the member still has gateways; delete them first";
		return rc < 0 ? rc : NDX_EEXIST;
	}
	/* A member-level client (PR-REST 4.1) holds grants as the member. */
	if ((rc = exists(st, "SELECT COUNT(*) FROM grants WHERE client = ?", id, NULL))) {
		*why = "grants still name the member as client; delete them first";
		return rc < 0 ? rc : NDX_EEXIST;
	}
	if ((rc = exec_p(st, "DELETE FROM members WHERE id = ?", "s", id)))
		return rc;
	return sqlite3_changes(st->db) ? NDX_OK : NDX_ENOTFOUND;
}

/* ---- subsystems --------------------------------------------------------------- */

int store_subsystem_add(struct store *st, const char *id, const char *member)
{
	char now[NDX_TIME_TEXT_LEN];
	now_text(now);
	return exec_p(st, "INSERT INTO subsystems(id, member, created_at) VALUES(?,?,?)", "sss",
		      id, member, now);
}

int store_subsystem_get(struct store *st, const char *id, json_t **out)
{
	int rc;
	store_lock(st);
	rc = query_one(st, out, "SELECT id, member, created_at FROM subsystems WHERE id = ?", "s",
		       id);
	store_unlock(st);
	return rc;
}

int store_subsystem_list(struct store *st, const char *member, json_t **out)
{
	int rc;
	store_lock(st);
	rc = member ? query_rows(st, out, "SELECT id, member, created_at FROM subsystems"
					  " WHERE member = ? ORDER BY id", "s", member)
		    : query_rows(st, out, "SELECT id, member, created_at FROM subsystems"
					  " ORDER BY id", "");
	store_unlock(st);
	return rc;
}

int store_subsystem_exists(struct store *st, const char *id)
{
	return exists(st, "SELECT COUNT(*) FROM subsystems WHERE id = ?", id, NULL);
}

int store_subsystem_delete(struct store *st, const char *id, const char **why)
{
	int rc;
	*why = NULL;
	if ((rc = exists(st, "SELECT COUNT(*) FROM services WHERE subsystem = ?", id, NULL))) {
		*why = "the subsystem still provides services; delete them first";
		return rc < 0 ? rc : NDX_EEXIST;
	}
	if ((rc = exists(st, "SELECT COUNT(*) FROM grants WHERE client = ?", id, NULL))) {
		*why = "grants still name the subsystem as client; delete them first";
		return rc < 0 ? rc : NDX_EEXIST;
	}
	if ((rc = exists(st, "SELECT COUNT(*) FROM consent_services WHERE id = ?", id, NULL))) {
		*why = "the subsystem is registered as a consent service; remove that first";
		return rc < 0 ? rc : NDX_EEXIST;
	}
	if ((rc = exists(st, "SELECT COUNT(*) FROM subscriptions WHERE client = ?", id, NULL))) {
		*why = "subscriptions still name the subsystem as client; delete them first";
		return rc < 0 ? rc : NDX_EEXIST;
	}
	if ((rc = exists(st, "SELECT COUNT(*) FROM meta WHERE key = 'monitoring_client'"
			     " AND value = ?", id, NULL))) {
		*why = "the subsystem is the operator's monitoring client; clear that first";
		return rc < 0 ? rc : NDX_EEXIST;
	}
	if ((rc = exec_p(st, "DELETE FROM subsystems WHERE id = ?", "s", id)))
		return rc;
	return sqlite3_changes(st->db) ? NDX_OK : NDX_ENOTFOUND;
}

/* ---- the monitoring client --------------------------------------------------- */

int store_monitoring_get(struct store *st, char **client)
{
	int rc;

	store_lock(st);
	rc = meta_get(st, "monitoring_client", client);
	store_unlock(st);
	return rc;
}

int store_monitoring_set(struct store *st, const char *client)
{
	int rc = store_subsystem_exists(st, client);

	if (rc < 0)
		return rc;
	if (rc == 0)
		return NDX_ENOTFOUND;
	return exec_p(st, "INSERT INTO meta(key, value) VALUES('monitoring_client', ?)"
			  " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
		      "s", client);
}

int store_monitoring_clear(struct store *st)
{
	int rc = exec_p(st, "DELETE FROM meta WHERE key = 'monitoring_client'", "");

	if (rc)
		return rc;
	return sqlite3_changes(st->db) ? NDX_OK : NDX_ENOTFOUND;
}

/* ---- gateways ------------------------------------------------------------------ */

#define GATEWAY_COLUMNS                                                                    \
	"member, code, address, sign_key, sign_key_id, tls_cert_sha256,"                     \
	" tls_cert AS tls_certificate, created_at"

int store_gateway_add(struct store *st, const struct store_gateway *gw)
{
	char now[NDX_TIME_TEXT_LEN];
	now_text(now);
	return exec_p(st, "INSERT INTO gateways(member, code, address, sign_key, sign_key_id,"
			  " tls_cert, tls_cert_sha256, created_at) VALUES(?,?,?,?,?,?,?,?)",
		      "ssssssss", gw->member, gw->code, gw->address, gw->sign_key,
		      gw->sign_key_id, gw->tls_cert, gw->tls_cert_sha256, now);
}

int store_gateway_get(struct store *st, const char *member, const char *code, json_t **out)
{
	int rc;
	store_lock(st);
	rc = query_one(st, out, "SELECT " GATEWAY_COLUMNS " FROM gateways"
				" WHERE member = ? AND code = ?", "ss", member, code);
	store_unlock(st);
	return rc;
}

int store_gateway_list(struct store *st, const char *member, json_t **out)
{
	int rc;
	store_lock(st);
	rc = member ? query_rows(st, out, "SELECT " GATEWAY_COLUMNS " FROM gateways"
					  " WHERE member = ? ORDER BY member, code", "s", member)
		    : query_rows(st, out, "SELECT " GATEWAY_COLUMNS " FROM gateways"
					  " ORDER BY member, code", "");
	store_unlock(st);
	return rc;
}

int store_gateway_delete(struct store *st, const char *member, const char *code)
{
	int rc = exec_p(st, "DELETE FROM gateways WHERE member = ? AND code = ?", "ss", member,
			code);
	if (rc)
		return rc;
	return sqlite3_changes(st->db) ? NDX_OK : NDX_ENOTFOUND;
}

/* ---- services ------------------------------------------------------------------ */

#define SERVICE_COLUMNS                                                                    \
	"id, subsystem, title, personal, purposes, bulk_purposes, consent_required,"            \
	" openapi_sha256, created_at"

int store_service_add(struct store *st, const struct store_service *svc)
{
	char now[NDX_TIME_TEXT_LEN];
	char *purposes = json_dumps(svc->purposes, JSON_COMPACT);
	char *bulk = svc->bulk_purposes ? json_dumps(svc->bulk_purposes, JSON_COMPACT)
					: dup_str("[]");
	int rc = NDX_ENOMEM;

	now_text(now);
	if (purposes && bulk)
		rc = exec_p(st, "INSERT INTO services(id, subsystem, title, personal, purposes,"
				" bulk_purposes, consent_required, openapi, openapi_sha256,"
				" created_at) VALUES(?,?,?,?,?,?,?,?,?,?)",
			    "sssississs", svc->id, svc->subsystem, svc->title,
			    (int64_t)(svc->personal != 0), purposes, bulk,
			    (int64_t)(svc->consent_required != 0), svc->openapi,
			    svc->openapi_sha256, now);
	free(purposes);
	free(bulk);
	return rc;
}

int store_service_set_bulk(struct store *st, const char *id, const json_t *bulk_purposes)
{
	char *bulk = json_dumps(bulk_purposes, JSON_COMPACT);
	int rc;

	if (!bulk)
		return NDX_ENOMEM;
	rc = exec_p(st, "UPDATE services SET bulk_purposes = ? WHERE id = ?", "ss", bulk, id);
	free(bulk);
	if (rc)
		return rc;
	return sqlite3_changes(st->db) ? NDX_OK : NDX_ENOTFOUND;
}

int store_service_get(struct store *st, const char *id, json_t **out)
{
	int rc;
	store_lock(st);
	rc = query_one(st, out, "SELECT " SERVICE_COLUMNS " FROM services WHERE id = ?", "s", id);
	store_unlock(st);
	return rc;
}

int store_service_list(struct store *st, const char *subsystem, json_t **out)
{
	int rc;
	store_lock(st);
	rc = subsystem ? query_rows(st, out, "SELECT " SERVICE_COLUMNS " FROM services"
					     " WHERE subsystem = ? ORDER BY id", "s", subsystem)
		       : query_rows(st, out, "SELECT " SERVICE_COLUMNS " FROM services"
					     " ORDER BY id", "");
	store_unlock(st);
	return rc;
}

int store_service_exists(struct store *st, const char *id)
{
	return exists(st, "SELECT COUNT(*) FROM services WHERE id = ?", id, NULL);
}

int store_service_delete(struct store *st, const char *id, const char **why)
{
	int rc;
	*why = NULL;
	if ((rc = exists(st, "SELECT COUNT(*) FROM grants WHERE service = ?", id, NULL))) {
		*why = "grants still name the service; delete them first";
		return rc < 0 ? rc : NDX_EEXIST;
	}
	if ((rc = exists(st, "SELECT COUNT(*) FROM event_types WHERE service = ?", id, NULL))) {
		*why = "the service still has event types; delete them first";
		return rc < 0 ? rc : NDX_EEXIST;
	}
	if ((rc = exec_p(st, "DELETE FROM services WHERE id = ?", "s", id)))
		return rc;
	return sqlite3_changes(st->db) ? NDX_OK : NDX_ENOTFOUND;
}

int store_service_openapi(struct store *st, const char *id, char **text, size_t *len)
{
	sqlite3_stmt *s;
	int rc;

	*text = NULL;
	*len = 0;
	store_lock(st);
	if (sqlite3_prepare_v2(st->db, "SELECT openapi FROM services WHERE id = ?", -1, &s,
			       NULL) != SQLITE_OK) {
		db_error(st, "prepare");
		store_unlock(st);
		return NDX_EDB;
	}
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL) {
		size_t n = (size_t)sqlite3_column_bytes(s, 0);
		const void *p = sqlite3_column_text(s, 0);
		*text = malloc(n + 1);
		if (*text) {
			memcpy(*text, p, n);
			(*text)[n] = '\0';
			*len = n;
			rc = NDX_OK;
		} else {
			rc = NDX_ENOMEM;
		}
	} else if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
		rc = NDX_ENOTFOUND;
	} else {
		db_error(st, "query");
		rc = NDX_EDB;
	}
	sqlite3_finalize(s);
	store_unlock(st);
	return rc;
}

/* ---- grants ---------------------------------------------------------------------- */

#define GRANT_COLUMNS "id, client, service, methods, paths, created_at"

int store_grant_add(struct store *st, const char *client, const char *service,
		    const json_t *methods, const json_t *paths, int64_t *id)
{
	char now[NDX_TIME_TEXT_LEN];
	char *m = json_dumps(methods, JSON_COMPACT);
	char *p = json_dumps(paths, JSON_COMPACT);
	int rc = NDX_ENOMEM;

	now_text(now);
	if (m && p)
		rc = exec_p(st, "INSERT INTO grants(client, service, methods, paths, created_at)"
				" VALUES(?,?,?,?,?)", "sssss", client, service, m, p, now);
	free(m);
	free(p);
	if (!rc)
		*id = sqlite3_last_insert_rowid(st->db);
	return rc;
}

int store_grant_get(struct store *st, int64_t id, json_t **out)
{
	int rc;
	store_lock(st);
	rc = query_one(st, out, "SELECT " GRANT_COLUMNS " FROM grants WHERE id = ?", "i", id);
	store_unlock(st);
	return rc;
}

int store_grant_list(struct store *st, const char *client, const char *service, json_t **out)
{
	int rc;
	store_lock(st);
	rc = query_rows(st, out, "SELECT " GRANT_COLUMNS " FROM grants"
				 " WHERE (?1 IS NULL OR client = ?1) AND (?2 IS NULL OR service = ?2)"
				 " ORDER BY id", "ss", client, service);
	store_unlock(st);
	return rc;
}

int store_grant_delete(struct store *st, int64_t id)
{
	int rc = exec_p(st, "DELETE FROM grants WHERE id = ?", "i", id);
	if (rc)
		return rc;
	return sqlite3_changes(st->db) ? NDX_OK : NDX_ENOTFOUND;
}

/* ---- revocations ------------------------------------------------------------------ */

int store_revocation_add(struct store *st, const char *kind, const char *value,
			 const char *reason, json_t **out)
{
	char now[NDX_TIME_TEXT_LEN];
	int rc;

	*out = NULL;
	now_text(now);
	rc = exec_p(st, "INSERT INTO revocations(kind, value, reason, revoked_at) VALUES(?,?,?,?)",
		    "ssss", kind, value, reason, now);
	if (rc)
		return rc;
	return query_one(st, out, "SELECT kind, value, revoked_at, reason FROM revocations"
				  " WHERE id = ?", "i", (int64_t)sqlite3_last_insert_rowid(st->db));
}

int store_revocation_list(struct store *st, json_t **out)
{
	int rc;
	store_lock(st);
	rc = query_rows(st, out, "SELECT kind, value, revoked_at, reason FROM revocations"
				 " ORDER BY kind, value", "");
	store_unlock(st);
	return rc;
}

/* ---- consent services ------------------------------------------------------------- */

#define CONSENT_SERVICE_COLUMNS "id, url, sign_key, sign_key_id, created_at"

int store_consent_service_add(struct store *st, const struct store_consent_service *cs)
{
	char now[NDX_TIME_TEXT_LEN];
	now_text(now);
	return exec_p(st, "INSERT INTO consent_services(id, url, sign_key, sign_key_id,"
			  " created_at) VALUES(?,?,?,?,?)",
		      "sssss", cs->id, cs->url, cs->sign_key, cs->sign_key_id, now);
}

int store_consent_service_get(struct store *st, const char *id, json_t **out)
{
	int rc;
	store_lock(st);
	rc = query_one(st, out, "SELECT " CONSENT_SERVICE_COLUMNS " FROM consent_services"
				" WHERE id = ?", "s", id);
	store_unlock(st);
	return rc;
}

int store_consent_service_list(struct store *st, json_t **out)
{
	int rc;
	store_lock(st);
	rc = query_rows(st, out, "SELECT " CONSENT_SERVICE_COLUMNS " FROM consent_services"
				 " ORDER BY id", "");
	store_unlock(st);
	return rc;
}

int store_consent_service_delete(struct store *st, const char *id, const char **why)
{
	int rc;
	*why = NULL;
	if ((rc = exec_p(st, "DELETE FROM consent_services WHERE id = ?", "s", id)))
		return rc;
	return sqlite3_changes(st->db) ? NDX_OK : NDX_ENOTFOUND;
}

/* ---- embargoes ---------------------------------------------------------------------- */

#define EMBARGO_COLUMNS "purpose, seconds, created_at, updated_at"

int store_embargo_set(struct store *st, const char *purpose, int64_t seconds, int *created)
{
	char now[NDX_TIME_TEXT_LEN];
	int64_t n;
	int rc;

	now_text(now);
	if ((rc = query_int(st, &n, "SELECT COUNT(*) FROM embargoes WHERE purpose = ?", "s",
			    purpose)))
		return rc;
	*created = n == 0;
	if (n == 0)
		return exec_p(st, "INSERT INTO embargoes(purpose, seconds, created_at, updated_at)"
				  " VALUES(?,?,?,?)", "siss", purpose, seconds, now, now);
	return exec_p(st, "UPDATE embargoes SET seconds = ?, updated_at = ? WHERE purpose = ?",
		      "iss", seconds, now, purpose);
}

int store_embargo_get(struct store *st, const char *purpose, json_t **out)
{
	int rc;
	store_lock(st);
	rc = query_one(st, out, "SELECT " EMBARGO_COLUMNS " FROM embargoes WHERE purpose = ?", "s",
		       purpose);
	store_unlock(st);
	return rc;
}

int store_embargo_list(struct store *st, json_t **out)
{
	int rc;
	store_lock(st);
	rc = query_rows(st, out, "SELECT " EMBARGO_COLUMNS " FROM embargoes ORDER BY purpose", "");
	store_unlock(st);
	return rc;
}

int store_embargo_delete(struct store *st, const char *purpose, const char **why)
{
	int rc;
	*why = NULL;
	if ((rc = exec_p(st, "DELETE FROM embargoes WHERE purpose = ?", "s", purpose)))
		return rc;
	return sqlite3_changes(st->db) ? NDX_OK : NDX_ENOTFOUND;
}

/* ---- id providers -------------------------------------------------------------------- */

#define ID_PROVIDER_COLUMNS "issuer, sign_key, sign_key_id, created_at"

int store_id_provider_add(struct store *st, const char *issuer, const char *sign_key,
			  const char *sign_key_id)
{
	char now[NDX_TIME_TEXT_LEN];
	now_text(now);
	return exec_p(st, "INSERT INTO id_providers(issuer, sign_key, sign_key_id, created_at)"
			  " VALUES(?,?,?,?)", "ssss", issuer, sign_key, sign_key_id, now);
}

int store_id_provider_get(struct store *st, const char *issuer, json_t **out)
{
	int rc;
	store_lock(st);
	rc = query_one(st, out, "SELECT " ID_PROVIDER_COLUMNS " FROM id_providers"
				" WHERE issuer = ?", "s", issuer);
	store_unlock(st);
	return rc;
}

int store_id_provider_list(struct store *st, json_t **out)
{
	int rc;
	store_lock(st);
	rc = query_rows(st, out, "SELECT " ID_PROVIDER_COLUMNS " FROM id_providers"
				 " ORDER BY issuer", "");
	store_unlock(st);
	return rc;
}

int store_id_provider_delete(struct store *st, const char *issuer, const char **why)
{
	int rc;
	*why = NULL;
	if ((rc = exec_p(st, "DELETE FROM id_providers WHERE issuer = ?", "s", issuer)))
		return rc;
	return sqlite3_changes(st->db) ? NDX_OK : NDX_ENOTFOUND;
}

/* ---- event types and subscriptions ---------------------------------------------------- */

#define EVENT_TYPE_COLUMNS "service, name, title, schema, created_at"
#define SUBSCRIPTION_COLUMNS                                                               \
	"id, client, service, event, purpose, json_object('first_s', retry_first_s,"        \
	" 'max_s', retry_max_s, 'give_up_after_s', give_up_after_s) AS retry, created_at"

int store_event_type_add(struct store *st, const char *service, const char *name,
			 const char *title, const char *schema)
{
	char now[NDX_TIME_TEXT_LEN];
	now_text(now);
	return exec_p(st, "INSERT INTO event_types(service, name, title, schema, created_at)"
			  " VALUES(?,?,?,?,?)", "sssss", service, name, title, schema, now);
}

int store_event_type_get(struct store *st, const char *service, const char *name,
			 json_t **out)
{
	int rc;
	store_lock(st);
	rc = query_one(st, out, "SELECT " EVENT_TYPE_COLUMNS " FROM event_types"
				" WHERE service = ? AND name = ?", "ss", service, name);
	store_unlock(st);
	return rc;
}

int store_event_type_list(struct store *st, const char *service, json_t **out)
{
	int rc;
	store_lock(st);
	rc = query_rows(st, out, "SELECT " EVENT_TYPE_COLUMNS " FROM event_types"
				 " WHERE ?1 IS NULL OR service = ?1 ORDER BY service, name", "s",
			service);
	store_unlock(st);
	return rc;
}

int store_event_type_exists(struct store *st, const char *service, const char *name)
{
	return exists(st, "SELECT COUNT(*) FROM event_types WHERE service = ? AND name = ?",
		      service, name);
}

int store_event_type_delete(struct store *st, const char *service, const char *name,
			    const char **why)
{
	int rc;
	*why = NULL;
	if ((rc = exists(st, "SELECT COUNT(*) FROM subscriptions WHERE service = ? AND event = ?",
			 service, name))) {
		*why = "subscriptions still name the event type; delete them first";
		return rc < 0 ? rc : NDX_EEXIST;
	}
	if ((rc = exec_p(st, "DELETE FROM event_types WHERE service = ? AND name = ?", "ss",
			 service, name)))
		return rc;
	return sqlite3_changes(st->db) ? NDX_OK : NDX_ENOTFOUND;
}

int store_subscription_add(struct store *st, const struct store_subscription *sub,
			   int64_t *id)
{
	char now[NDX_TIME_TEXT_LEN];
	int rc;

	now_text(now);
	rc = exec_p(st, "INSERT INTO subscriptions(client, service, event, purpose, retry_first_s,"
			" retry_max_s, give_up_after_s, created_at) VALUES(?,?,?,?,?,?,?,?)",
		    "ssssiiis", sub->client, sub->service, sub->event, sub->purpose,
		    sub->retry_first_s, sub->retry_max_s, sub->give_up_after_s, now);
	if (!rc)
		*id = sqlite3_last_insert_rowid(st->db);
	return rc;
}

int store_subscription_get(struct store *st, int64_t id, json_t **out)
{
	int rc;
	store_lock(st);
	rc = query_one(st, out, "SELECT " SUBSCRIPTION_COLUMNS " FROM subscriptions WHERE id = ?",
		       "i", id);
	store_unlock(st);
	return rc;
}

int store_subscription_list(struct store *st, const char *client, const char *service,
			    json_t **out)
{
	int rc;
	store_lock(st);
	rc = query_rows(st, out, "SELECT " SUBSCRIPTION_COLUMNS " FROM subscriptions"
				 " WHERE (?1 IS NULL OR client = ?1) AND (?2 IS NULL OR service = ?2)"
				 " ORDER BY id", "ss", client, service);
	store_unlock(st);
	return rc;
}

int store_subscription_delete(struct store *st, int64_t id)
{
	int rc = exec_p(st, "DELETE FROM subscriptions WHERE id = ?", "i", id);
	if (rc)
		return rc;
	return sqlite3_changes(st->db) ? NDX_OK : NDX_ENOTFOUND;
}

/* ---- audit -------------------------------------------------------------------------- */

int store_audit_list(struct store *st, int64_t before, int limit, json_t **out)
{
	int rc;
	store_lock(st);
	rc = query_rows(st, out, "SELECT seq, time, actor, remote, action, object, detail"
				 " FROM audit WHERE ?1 = 0 OR seq < ?1 ORDER BY seq DESC LIMIT ?2",
			"ii", before, (int64_t)limit);
	store_unlock(st);
	return rc;
}

/* ---- keys ----------------------------------------------------------------------------- */

int store_key_holders(struct store *st, const char *sign_key_id, json_t **out)
{
	int rc;
	store_lock(st);
	rc = query_rows(st, out,
			"SELECT 'gateway' AS role, member || '/' || code AS holder, member"
			" FROM gateways WHERE sign_key_id = ?1"
			" UNION ALL SELECT 'consent service', id, '' FROM consent_services"
			" WHERE sign_key_id = ?1"
			" UNION ALL SELECT 'id provider', issuer, '' FROM id_providers"
			" WHERE sign_key_id = ?1",
			"s", sign_key_id);
	store_unlock(st);
	return rc;
}
