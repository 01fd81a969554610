/* The registry's SQLite engine (reg_db.h): one file in the data directory,
 * WAL so that `ndx-registry token add` writes while serve runs, FULL sync
 * so that an acknowledged change survives a crash, migrations numbered by
 * PRAGMA user_version (ndx/sqlstore.h). Overview: docs/scale.md "The
 * registry on PostgreSQL". */
#include "reg_db.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ndx/err.h"
#include "ndx/sqlstore.h"

struct sqlite_db {
	struct reg_db base;
	sqlite3 *db;
};

/* Migration n (1-based) is MIGRATIONS[n-1]; append, never edit. The
 * PostgreSQL engine's schema (reg_db_pg.c) is the same tables. */
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
	/* Issue 20: when the configuration version last changed (Unix
	 * seconds), from which every registry node on one database derives
	 * the same generated_at (confgen.c). A database made before it takes
	 * the time of the migration. */
	"INSERT OR IGNORE INTO meta(key, value) SELECT 'conf_changed_at',"
	" CAST(strftime('%s', 'now') AS TEXT) WHERE EXISTS"
	" (SELECT 1 FROM meta WHERE key = 'instance');",
};

static struct sqlite_db *self(struct reg_db *db)
{
	return (struct sqlite_db *)db;
}

static void db_error(struct sqlite_db *s, const char *what)
{
	fprintf(stderr, "ndx-registry: store %s: %s: %s\n", s->base.name, what,
		sqlite3_errmsg(s->db));
}

static int bind_all(struct sqlite_db *s, sqlite3_stmt *st, const char *types, va_list ap)
{
	int i = 1;

	for (const char *t = types; *t; t++, i++) {
		int rc;
		if (*t == 's') {
			const char *v = va_arg(ap, const char *);
			rc = v ? sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT)
			       : sqlite3_bind_null(st, i);
		} else {
			rc = sqlite3_bind_int64(st, i, va_arg(ap, int64_t));
		}
		if (rc != SQLITE_OK) {
			db_error(s, "bind");
			return NDX_EDB;
		}
	}
	return NDX_OK;
}

static json_t *row_to_json(sqlite3_stmt *st)
{
	json_t *o = json_object();
	int n = sqlite3_column_count(st);

	for (int i = 0; o && i < n; i++) {
		json_t *v;
		switch (sqlite3_column_type(st, i)) {
		case SQLITE_INTEGER:
			v = json_integer((json_int_t)sqlite3_column_int64(st, i));
			break;
		case SQLITE_NULL:
			v = json_null();
			break;
		default: {
			const char *text = (const char *)sqlite3_column_text(st, i);
			v = json_stringn(text ? text : "",
					 text ? (size_t)sqlite3_column_bytes(st, i) : 0);
			break;
		}
		}
		if (!v || json_object_set_new(o, sqlite3_column_name(st, i), v)) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

static int s_run(struct reg_db *db, const char *sql, const char *types, va_list ap,
		 json_t **rows, int64_t *changes)
{
	struct sqlite_db *s = self(db);
	sqlite3_stmt *st;
	json_t *arr = NULL;
	int rc;

	if (rows)
		*rows = NULL;
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		db_error(s, "prepare");
		return NDX_EDB;
	}
	if ((rc = bind_all(s, st, types, ap))) {
		sqlite3_finalize(st);
		return rc;
	}
	if (rows && !(arr = json_array())) {
		sqlite3_finalize(st);
		return NDX_ENOMEM;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *row;
		if (!arr)
			continue;
		row = row_to_json(st);
		if (!row || json_array_append_new(arr, row)) {
			sqlite3_finalize(st);
			json_decref(arr);
			return NDX_ENOMEM;
		}
	}
	if (rc == SQLITE_DONE) {
		rc = NDX_OK;
	} else if ((rc & 0xff) == SQLITE_CONSTRAINT) {
		rc = NDX_EEXIST; /* the only constraints are primary and unique keys */
	} else {
		db_error(s, "step");
		rc = NDX_EDB;
	}
	sqlite3_finalize(st);
	if (rc) {
		json_decref(arr);
		return rc;
	}
	if (changes)
		*changes = sqlite3_changes(s->db);
	if (rows)
		*rows = arr;
	return NDX_OK;
}

static int s_exec(struct sqlite_db *s, const char *sql)
{
	return ndx_sqlstore_exec(s->db, "ndx-registry", sql);
}

static int s_begin(struct reg_db *db)
{
	return s_exec(self(db), "BEGIN IMMEDIATE");
}

static int s_commit(struct reg_db *db)
{
	return s_exec(self(db), "COMMIT");
}

/* Deferred: the first read takes the snapshot. */
static int s_snapshot(struct reg_db *db)
{
	return s_exec(self(db), "BEGIN");
}

static void s_rollback(struct reg_db *db)
{
	if (!sqlite3_get_autocommit(self(db)->db))
		s_exec(self(db), "ROLLBACK");
}

static void s_close(struct reg_db *db)
{
	if (!db)
		return;
	sqlite3_close(self(db)->db);
	free(db);
}

static const struct reg_db_ops sqlite_ops = {
	.close = s_close,
	.run = s_run,
	.begin = s_begin,
	.commit = s_commit,
	.rollback = s_rollback,
	.snapshot = s_snapshot,
};

int reg_db_sqlite_open(const char *path, bool create, struct reg_db **out)
{
	struct sqlite_db *s;
	int exists = access(path, F_OK) == 0;

	*out = NULL;
	if (create && exists)
		return NDX_EEXIST;
	if (!create && !exists) {
		fprintf(stderr, "ndx-registry: %s does not exist (run `ndx-registry init` first)\n",
			path);
		return NDX_EIO;
	}
	s = calloc(1, sizeof *s);
	if (!s)
		return NDX_ENOMEM;
	s->base.ops = &sqlite_ops;
	snprintf(s->base.name, sizeof s->base.name, "%s", path);
	if (ndx_sqlstore_open(path, SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0),
			      MIGRATIONS, sizeof MIGRATIONS / sizeof *MIGRATIONS, "ndx-registry",
			      &s->db) != NDX_OK) {
		free(s);
		return NDX_EDB;
	}
	*out = &s->base;
	return NDX_OK;
}
