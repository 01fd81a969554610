/* Reading the failed sign-ins table (signin_store.h): the same three
 * queries on a SQLite handle (ndx-portal) and on an ndx/sqldb.h engine
 * (ndx-id, SQLite or PostgreSQL). */
#include "signin_store.h"

#include <jansson.h>
#include <string.h>

#include "ndx/err.h"
#include "ndx/sqlstore.h"

/* Parameters: the source or the account, since, and for the pair the source. */
static const char SQL_SOURCE[] = "SELECT count(*) AS n, coalesce(max(at), 0) AS last"
				 " FROM signin_failures WHERE source = ? AND at >= ?";
static const char SQL_ACCOUNT[] = "SELECT count(*) AS n, coalesce(max(at), 0) AS last"
				  " FROM signin_failures WHERE account = ? AND at >= ?";
static const char SQL_PAIR[] = "SELECT count(*) AS n FROM signin_failures"
			       " WHERE account = ? AND at >= ? AND source = ?";

static int count_since(sqlite3 *db, const char *prog, const char *sql, const char *a,
		       const char *b, time_t since, unsigned *count, time_t *last)
{
	sqlite3_stmt *q = NULL;
	int rc = NDX_OK;

	if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
		return ndx_sqlstore_fail(db, prog, "sign-in failures");
	sqlite3_bind_text(q, 1, a, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, (sqlite3_int64)since);
	if (b)
		sqlite3_bind_text(q, 3, b, -1, SQLITE_STATIC);
	if (sqlite3_step(q) == SQLITE_ROW) {
		*count = (unsigned)sqlite3_column_int64(q, 0);
		if (last)
			*last = (time_t)sqlite3_column_int64(q, 1);
	} else {
		rc = ndx_sqlstore_fail(db, prog, "sign-in failures");
	}
	sqlite3_finalize(q);
	return rc;
}

int signin_counts_read(sqlite3 *db, const char *prog, const char *account, const char *source,
		       time_t since, struct signin_counts *out)
{
	int rc;

	memset(out, 0, sizeof *out);
	if (!(rc = count_since(db, prog, SQL_SOURCE, source, NULL, since, &out->source,
			       &out->source_last)) &&
	    !(rc = count_since(db, prog, SQL_ACCOUNT, account, NULL, since, &out->account,
			       &out->account_last)))
		rc = count_since(db, prog, SQL_PAIR, account, source, since, &out->pair, NULL);
	return rc;
}

/* One count (and newest time) from row; NDX_EDB when the row lacks them. */
static int take(json_t *row, unsigned *count, time_t *last)
{
	json_t *n = json_object_get(row, "n"), *l = json_object_get(row, "last");
	int rc = json_is_integer(n) && (!last || json_is_integer(l)) ? NDX_OK : NDX_EDB;

	if (!rc) {
		*count = (unsigned)json_integer_value(n);
		if (last)
			*last = (time_t)json_integer_value(l);
	}
	json_decref(row);
	return rc;
}

int signin_counts_read_db(struct ndx_sqldb *db, const char *account, const char *source,
			  time_t since, struct signin_counts *out)
{
	json_t *row = NULL;
	int rc;

	memset(out, 0, sizeof *out);
	if ((rc = ndx_sqldb_query_one(db, &row, SQL_SOURCE, "si", source, (int64_t)since)) ||
	    (rc = take(row, &out->source, &out->source_last)))
		return rc;
	if ((rc = ndx_sqldb_query_one(db, &row, SQL_ACCOUNT, "si", account, (int64_t)since)) ||
	    (rc = take(row, &out->account, &out->account_last)))
		return rc;
	if ((rc = ndx_sqldb_query_one(db, &row, SQL_PAIR, "sis", account, (int64_t)since,
				      source)))
		return rc;
	return take(row, &out->pair, NULL);
}
