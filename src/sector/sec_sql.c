/* Statements on either engine of the sector store (sec_sql.h). */
#include "sec_sql.h"

#include <stdio.h>
#include <string.h>

#include "ndx/err.h"
#include "store.h"
#include "store_pg.h"

struct sec_sql sec_sql_of(struct store_conn *c, const char *who)
{
	struct sec_sql s = { store_conn_db(c), store_conn_pg(c), who };
	return s;
}

static int db_error(const struct sec_sql *s)
{
	fprintf(stderr, "%s: %s\n", s->who, sqlite3_errmsg(s->db));
	return NDX_EDB;
}

static int prepare(const struct sec_sql *s, const char *sql, int n, const char *const *params,
		   sqlite3_stmt **q)
{
	if (sqlite3_prepare_v2(s->db, sql, -1, q, NULL) != SQLITE_OK)
		return db_error(s);
	for (int i = 0; i < n; i++)
		if (params[i]) /* unbound is NULL */
			sqlite3_bind_text(*q, i + 1, params[i], -1, SQLITE_STATIC);
	return NDX_OK;
}

int sec_sql_exec(const struct sec_sql *s, const char *sql, int n, const char *const *params,
		 long long *changes)
{
	sqlite3_stmt *q = NULL;
	int rc, step;

	if (s->pg)
		return store_pg_exec(s->pg, sql, n, params, changes);
	if ((rc = prepare(s, sql, n, params, &q)))
		return rc;
	step = sqlite3_step(q);
	sqlite3_finalize(q);
	if (step == SQLITE_CONSTRAINT)
		return NDX_EEXIST;
	if (step != SQLITE_DONE && step != SQLITE_ROW)
		return db_error(s);
	if (changes)
		*changes = sqlite3_changes(s->db);
	return NDX_OK;
}

int sec_sql_query(const struct sec_sql *s, const char *sql, int n, const char *const *params,
		  sec_sql_row_fn each, void *ctx)
{
	const char *vals[STORE_PG_QUERY_COLS];
	sqlite3_stmt *q = NULL;
	int rc, step = SQLITE_DONE, nc;

	if (s->pg)
		return store_pg_query(s->pg, sql, n, params, each, ctx);
	if ((rc = prepare(s, sql, n, params, &q)))
		return rc;
	nc = sqlite3_column_count(q);
	if (nc > STORE_PG_QUERY_COLS) {
		sqlite3_finalize(q);
		return NDX_EINVAL;
	}
	while (rc == NDX_OK && (step = sqlite3_step(q)) == SQLITE_ROW) {
		for (int i = 0; i < nc; i++)
			vals[i] = (const char *)sqlite3_column_text(q, i);
		rc = each(ctx, nc, vals);
	}
	if (rc == NDX_OK && step != SQLITE_DONE)
		rc = db_error(s);
	sqlite3_finalize(q);
	return rc;
}

struct first {
	char *out;
	size_t cap;
	int found;
};

static int take_first(void *ctx, int ncols, const char *const *vals)
{
	struct first *f = ctx;

	if (!f->found) {
		snprintf(f->out, f->cap, "%s", ncols > 0 && vals[0] ? vals[0] : "");
		f->found = 1;
	}
	return NDX_OK; /* read to the end: the connection is then ready */
}

int sec_sql_text(const struct sec_sql *s, const char *sql, int n, const char *const *params,
		 char *out, size_t cap)
{
	struct first f = { out, cap, 0 };
	int rc = sec_sql_query(s, sql, n, params, take_first, &f);

	return rc ? rc : f.found;
}

int sec_sql_begin(const struct sec_sql *s)
{
	if (s->pg)
		return store_pg_begin(s->pg);
	return sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK ? NDX_OK
										 : db_error(s);
}

int sec_sql_commit(const struct sec_sql *s)
{
	if (s->pg)
		return store_pg_commit(s->pg);
	if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		int rc = db_error(s);
		sec_sql_rollback(s);
		return rc;
	}
	return NDX_OK;
}

void sec_sql_rollback(const struct sec_sql *s)
{
	if (s->pg) {
		store_pg_rollback(s->pg);
		return;
	}
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}
