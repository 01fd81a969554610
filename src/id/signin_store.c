/* Reading the failed sign-ins table (signin_store.h). */
#include "signin_store.h"

#include <string.h>

#include "ndx/err.h"
#include "ndx/sqlstore.h"

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
	if (!(rc = count_since(db, prog,
			       "SELECT count(*), coalesce(max(at), 0) FROM signin_failures"
			       " WHERE source = ? AND at >= ?",
			       source, NULL, since, &out->source, &out->source_last)) &&
	    !(rc = count_since(db, prog,
			       "SELECT count(*), coalesce(max(at), 0) FROM signin_failures"
			       " WHERE account = ? AND at >= ?",
			       account, NULL, since, &out->account, &out->account_last)))
		rc = count_since(db, prog,
				 "SELECT count(*) FROM signin_failures"
				 " WHERE account = ? AND at >= ? AND source = ?",
				 account, source, since, &out->pair, NULL);
	return rc;
}
