/* Opening SQLite databases with ndx's pragmas and versioned migrations
 * (include/ndx/sqlstore.h). */
#include "ndx/sqlstore.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ndx/err.h"
#include "ndx/timefmt.h"

int ndx_sqlstore_fail(sqlite3 *db, const char *prog, const char *what)
{
	fprintf(stderr, "%s: store: %s: %s\n", prog, what, sqlite3_errmsg(db));
	return NDX_EDB;
}

int ndx_sqlstore_exec(sqlite3 *db, const char *prog, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		fprintf(stderr, "%s: store: %s\n", prog, msg ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
		return NDX_EDB;
	}
	return NDX_OK;
}

int ndx_sqlstore_prepare_rows(sqlite3 *db, const char *head, int columns, size_t rows,
			      sqlite3_stmt **out)
{
	size_t head_len = strlen(head);
	/* "(?" then ",?" for each further column and ")", a comma before
	 * every row but the first */
	size_t row_len = 2 + 2 * (size_t)(columns - 1) + 1;
	char *sql, *at;
	int rc;

	*out = NULL;
	if (columns < 1 || rows < 1 ||
	    rows > (size_t)sqlite3_limit(db, SQLITE_LIMIT_VARIABLE_NUMBER, -1) / (size_t)columns)
		return SQLITE_RANGE;
	if ((sql = malloc(head_len + rows * (row_len + 1) + 1)) == NULL)
		return SQLITE_NOMEM;
	memcpy(sql, head, head_len);
	at = sql + head_len;
	for (size_t r = 0; r < rows; r++) {
		if (r > 0)
			*at++ = ',';
		*at++ = '(';
		*at++ = '?';
		for (int c = 1; c < columns; c++) {
			*at++ = ',';
			*at++ = '?';
		}
		*at++ = ')';
	}
	*at = '\0';
	rc = sqlite3_prepare_v3(db, sql, (int)(at - sql), SQLITE_PREPARE_PERSISTENT, out, NULL);
	free(sql);
	if (rc != SQLITE_OK)
		*out = NULL;
	return rc;
}

static int schema_version(sqlite3 *db, const char *prog, int64_t *out)
{
	sqlite3_stmt *s = NULL;
	int rc = NDX_EDB;

	if (sqlite3_prepare_v2(db, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", -1,
			       &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW) {
		*out = sqlite3_column_int64(s, 0);
		rc = NDX_OK;
	} else {
		fprintf(stderr, "%s: store: %s\n", prog, sqlite3_errmsg(db));
	}
	sqlite3_finalize(s);
	return rc;
}

static int record_version(sqlite3 *db, const char *prog, int64_t v)
{
	sqlite3_stmt *s = NULL;
	char now[NDX_TIME_TEXT_LEN];
	int rc = NDX_EDB;

	ndx_time_format(time(NULL), now);
	if (sqlite3_prepare_v2(db, "INSERT INTO schema_migrations(version, applied_at) VALUES(?,?)",
			       -1, &s, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(s, 1, v);
		sqlite3_bind_text(s, 2, now, -1, SQLITE_STATIC);
		if (sqlite3_step(s) == SQLITE_DONE)
			rc = NDX_OK;
	}
	if (rc != NDX_OK)
		fprintf(stderr, "%s: store: %s\n", prog, sqlite3_errmsg(db));
	sqlite3_finalize(s);
	return rc;
}

static int migrate(sqlite3 *db, const char *const *migrations, size_t n, const char *prog)
{
	int64_t have;
	int rc;

	if ((rc = ndx_sqlstore_exec(db, prog, "CREATE TABLE IF NOT EXISTS schema_migrations("
				 "version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")) ||
	    (rc = schema_version(db, prog, &have)))
		return rc;
	if (have > (int64_t)n) {
		fprintf(stderr, "%s: store: schema version %lld is newer than this program (%zu)\n",
			prog, (long long)have, n);
		return NDX_EDB;
	}
	for (int64_t v = have + 1; v <= (int64_t)n; v++) {
		if ((rc = ndx_sqlstore_exec(db, prog, "BEGIN IMMEDIATE")))
			return rc;
		if ((rc = ndx_sqlstore_exec(db, prog, migrations[v - 1])) || (rc = record_version(db, prog, v)) ||
		    (rc = ndx_sqlstore_exec(db, prog, "COMMIT"))) {
			ndx_sqlstore_exec(db, prog, "ROLLBACK");
			return rc;
		}
	}
	return NDX_OK;
}

int ndx_sqlstore_open(const char *path, int flags, const char *const *migrations, size_t n,
		      const char *prog, sqlite3 **out)
{
	sqlite3 *db = NULL;

	*out = NULL;
	if (sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK) {
		fprintf(stderr, "%s: cannot open %s: %s\n", prog, path,
			db ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return db ? NDX_EDB : NDX_ENOMEM;
	}
	sqlite3_busy_timeout(db, 5000);
	if (ndx_sqlstore_exec(db, prog, "PRAGMA journal_mode=WAL") || ndx_sqlstore_exec(db, prog, "PRAGMA synchronous=FULL") ||
	    migrate(db, migrations, n, prog)) {
		sqlite3_close(db);
		return NDX_EDB;
	}
	*out = db;
	return NDX_OK;
}
