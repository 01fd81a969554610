/* The statements of the reconciliation, its measures, worklists and
 * corrections, and of seed --defects, written once for both engines of the
 * sector store: in the SQL SQLite and PostgreSQL both speak, with SQLite's
 * numbered parameters ?1..?n, every parameter text (NULL: SQL NULL; cast
 * in the SQL where a column is not text, CAST(?1 AS bigint), which both
 * read), every value read as text (NULL for NULL; an integer in decimal).
 * On SQLite a prepared statement stepped; on PostgreSQL store_pg_exec and
 * store_pg_query (a row at a time: single-row mode). Overview:
 * docs/sectors.md "Storage". */
#ifndef NDX_SECTOR_SEC_SQL_H
#define NDX_SECTOR_SEC_SQL_H

#include <sqlite3.h>
#include <stddef.h>

struct store_conn;
struct store_pg;

/* One connection of either engine; who prefixes the messages
 * ("ndx-sector reconcile"). */
struct sec_sql {
	sqlite3 *db;         /* SQLite, or */
	struct store_pg *pg; /* PostgreSQL */
	const char *who;
};

/* The connection c of the store, on its engine. */
struct sec_sql sec_sql_of(struct store_conn *c, const char *who);

/* Runs sql (no row expected) with n text parameters; *changes (may be
 * NULL) gets the rows it touched. NDX_OK, NDX_EEXIST (a unique key or
 * another constraint refused it), NDX_EDB (said on stderr), NDX_ENOMEM. */
int sec_sql_exec(const struct sec_sql *s, const char *sql, int n, const char *const *params,
		 long long *changes);

/* Calls each(ctx, ncols, vals) for every row of sql, stopping at its
 * first non-NDX_OK, which is returned. The values last until each
 * returns. No other statement may run on s while a query's rows come
 * (on PostgreSQL the connection is busy until the last). NDX_EDB. */
typedef int (*sec_sql_row_fn)(void *ctx, int ncols, const char *const *vals);
int sec_sql_query(const struct sec_sql *s, const char *sql, int n, const char *const *params,
		  sec_sql_row_fn each, void *ctx);

/* The first column of the first row of sql into out (cap bytes; "" for
 * NULL): 1 when there was a row, 0 when none, NDX_EDB. */
int sec_sql_text(const struct sec_sql *s, const char *sql, int n, const char *const *params,
		 char *out, size_t cap);

/* A write transaction (SQLite: BEGIN IMMEDIATE; PostgreSQL: with the
 * schema's write lock, store_pg_begin), its commit and rollback. */
int sec_sql_begin(const struct sec_sql *s);
int sec_sql_commit(const struct sec_sql *s);
void sec_sql_rollback(const struct sec_sql *s);

#endif
