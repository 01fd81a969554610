/* The SQLite engine of ndx/sqldb.h: one file in the data directory, WAL
 * so that a CLI command writes while serve runs, FULL sync so that an
 * acknowledged change survives a crash, migrations numbered by PRAGMA
 * user_version (ndx/sqlstore.h) from the daemon's descriptor. */
#include "ndx/sqldb.h"

#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ndx/err.h"
#include "ndx/sqlstore.h"
#include "sqldb_turn.h"

struct sqlite_db {
	struct ndx_sqldb base;
	sqlite3 *db;
	/* One thread's statement or transaction at a time (sqldb_turn.h):
	 * SQLite's own mutex serialises calls, not transactions. */
	struct sqldb_turn turn;
};

static struct sqlite_db *self(struct ndx_sqldb *db)
{
	return (struct sqlite_db *)db;
}

static void db_error(struct sqlite_db *s, const char *what)
{
	fprintf(stderr, "%s: store %s: %s: %s\n", s->base.desc->prog, s->base.name, what,
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

static int run_turn(struct sqlite_db *s, const char *sql, const char *types, va_list ap,
		    json_t **rows, int64_t *changes)
{
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

static int s_run(struct ndx_sqldb *db, const char *sql, const char *types, va_list ap,
		 json_t **rows, int64_t *changes)
{
	struct sqlite_db *s = self(db);
	int rc;

	sqldb_turn_take(&s->turn);
	rc = run_turn(s, sql, types, ap, rows, changes);
	sqldb_turn_give(&s->turn);
	return rc;
}

static int s_exec(struct sqlite_db *s, const char *sql)
{
	return ndx_sqlstore_exec(s->db, s->base.desc->prog, sql);
}

/* BEGIN (sql), the transaction keeping the turn when it succeeded. */
static int begin_turn(struct sqlite_db *s, const char *sql)
{
	int rc;

	sqldb_turn_take(&s->turn);
	rc = s_exec(s, sql);
	if (!rc)
		sqldb_turn_keep(&s->turn);
	sqldb_turn_give(&s->turn);
	return rc;
}

static int s_begin(struct ndx_sqldb *db)
{
	return begin_turn(self(db), "BEGIN IMMEDIATE");
}

/* A COMMIT that failed (SQLITE_BUSY) would leave the transaction open: it
 * is rolled back, so that no path keeps the turn from the others. */
static int s_commit(struct ndx_sqldb *db)
{
	struct sqlite_db *s = self(db);
	int rc;

	sqldb_turn_take(&s->turn);
	rc = s_exec(s, "COMMIT");
	if (!sqlite3_get_autocommit(s->db))
		s_exec(s, "ROLLBACK");
	sqldb_turn_end(&s->turn);
	sqldb_turn_give(&s->turn);
	return rc;
}

/* Deferred: the first read takes the snapshot. */
static int s_snapshot(struct ndx_sqldb *db)
{
	return begin_turn(self(db), "BEGIN");
}

static void s_rollback(struct ndx_sqldb *db)
{
	struct sqlite_db *s = self(db);

	sqldb_turn_take(&s->turn);
	if (!sqlite3_get_autocommit(s->db))
		s_exec(s, "ROLLBACK");
	sqldb_turn_end(&s->turn);
	sqldb_turn_give(&s->turn);
}

static void s_close(struct ndx_sqldb *db)
{
	if (!db)
		return;
	s_rollback(db);
	sqlite3_close(self(db)->db);
	sqldb_turn_destroy(&self(db)->turn);
	free(db);
}

static const struct ndx_sqldb_ops sqlite_ops = {
	.close = s_close,
	.run = s_run,
	.begin = s_begin,
	.commit = s_commit,
	.rollback = s_rollback,
	.snapshot = s_snapshot,
};

int ndx_sqldb_sqlite_open(const struct ndx_sqldb_desc *d, const char *path, bool create,
			  struct ndx_sqldb **out)
{
	struct sqlite_db *s;
	int exists = access(path, F_OK) == 0;

	*out = NULL;
	if (create && exists)
		return NDX_EEXIST;
	if (!create && !exists) {
		fprintf(stderr, "%s: %s does not exist (run `%s init` first)\n", d->prog, path,
			d->prog);
		return NDX_EIO;
	}
	s = calloc(1, sizeof *s);
	if (!s)
		return NDX_ENOMEM;
	s->base.ops = &sqlite_ops;
	s->base.desc = d;
	snprintf(s->base.name, sizeof s->base.name, "%s", path);
	if (sqldb_turn_init(&s->turn)) {
		free(s);
		return NDX_ENOMEM;
	}
	if (ndx_sqlstore_open(path, SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0),
			      d->migrations, d->n_migrations, d->prog,
			      &s->db) != NDX_OK) {
		sqldb_turn_destroy(&s->turn);
		free(s);
		return NDX_EDB;
	}
	*out = &s->base;
	return NDX_OK;
}
