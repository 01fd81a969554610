/* The PostgreSQL engine of the sector store (store.h), on libpq, chosen by
 * a postgresql:// connection string in place of the database path. Only
 * store.c calls it (callers see store.h), and sec_outbox.c its outbox
 * functions (store_conn_pg). A sector's tables live in
 * the schema named after the sector (population, civil_status, ...) of
 * the connection's database; its meta table holds the sector and the
 * schema version (pg_schema). Overview: docs/sectors.md "Storage",
 * docs/scale.md. */
#ifndef NDX_SECTOR_STORE_PG_H
#define NDX_SECTOR_STORE_PG_H

#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>

#include "schema.h"

struct store_query;
struct store_pg; /* one connection */

/* The current version of the PostgreSQL schema (meta row pg_schema). */
/* 1: meta and the tables; 2: the events' outbox (event_outbox); 3: the
 * events applied (event_applied, sec_apply.h); 4: the reconciliation's
 * runs, positions, results and corrections (sec_reconcile.h). An older
 * schema is brought up to date by the first store_pg_open, in one
 * transaction. */
#define STORE_PG_SCHEMA_VERSION 4

/* One connection to the sector def's schema at conninfo. create: the
 * schema, tables and indexes are made when missing (the first connection
 * of serve). NDX_EDB when the schema holds another sector, is not a
 * sector's (or a seed that did not finish) or is newer than the program's;
 * NDX_EIO when the server cannot be reached. A message goes to stderr,
 * naming the database by user, host, port and name only. */
int store_pg_open(const char *conninfo, const struct sector_def *def, int create,
		  struct store_pg **out);
void store_pg_close(struct store_pg *p);

int store_pg_begin(struct store_pg *p);
int store_pg_commit(struct store_pg *p);
void store_pg_rollback(struct store_pg *p);

int store_pg_get(struct store_pg *p, const struct sector_table *t, const char *id, json_t **out);
int store_pg_list(struct store_pg *p, const struct sector_table *t, const struct store_query *q,
		  json_t **out);
int store_pg_exists(struct store_pg *p, const char *table, const char *col, const char *value);
int store_pg_put(struct store_pg *p, const struct sector_table *t, const char *id,
		 const json_t *row, char *out_id, size_t cap);
int store_pg_household_members(struct store_pg *p, const char *id, json_t **out);
int store_pg_texts(struct store_pg *p, const char *table, const char *col, const char *where_col,
		   const char *value, int (*each)(void *ctx, const char *v), void *ctx);
long long store_pg_count(struct store_pg *p, const char *table);
struct store_citizen;
int store_pg_citizens(struct store_pg *p, int by, const char *a, const char *b, unsigned limit,
		      int (*each)(void *ctx, const struct store_citizen *cit), void *ctx);
/* A REPEATABLE READ, READ ONLY transaction; ended by store_pg_rollback. */
int store_pg_read_begin(struct store_pg *p);

/* One statement of a feature written for both engines (applying events,
 * sec_apply.c): sql in SQLite's numbered parameters ?1..?9 (sent as $1..),
 * each parameter text (NULL: SQL NULL; cast in the SQL where a column is
 * not text), at most STORE_PG_EXEC_MAX. *changes (may be NULL) gets the
 * rows the statement touched. NDX_OK, NDX_EEXIST on a unique key, NDX_EDB
 * (reported), NDX_ENOMEM. */
#define STORE_PG_EXEC_MAX 16
int store_pg_exec(struct store_pg *p, const char *sql, int n, const char *const *params,
		  long long *changes);

/* A query of a feature written for both engines (quality.c), its SQL and
 * parameters as store_pg_exec's: each(ctx, ncols, vals) for every row as
 * it arrives (single-row mode: memory for one row), its values text as
 * PostgreSQL writes them (NULL: SQL NULL), valid until each returns, at
 * most STORE_PG_QUERY_COLS of them; stops calling at each's first
 * non-NDX_OK, which is returned. NDX_OK, NDX_EDB (reported), NDX_ENOMEM. */
#define STORE_PG_QUERY_COLS 64
int store_pg_query(struct store_pg *p, const char *sql, int n, const char *const *params,
		   int (*each)(void *ctx, int ncols, const char *const *vals), void *ctx);

/* The outbox (sec_outbox.h) on PostgreSQL. Adds one event inside the
 * write transaction of its record (store_pg_begin): NDX_OK, NDX_EDB. */
int store_pg_outbox_add(struct store_pg *p, const char *service, const char *name,
			const char *subject, const char *payload, const char *created_at,
			const char *event_id);
/* Rows queued, or -1. */
long long store_pg_outbox_pending(struct store_pg *p);
/* The oldest queued event, its strings valid until store_pg_outbox_end. */
struct store_pg_outbox_row {
	long long seq, next_at_ms;
	unsigned attempts;
	const char *service, *name, *subject, *payload, *event_id;
	void *res;
};
/* Takes the drain's turn - a transaction holding the schema's outbox lock
 * (pg_try_advisory_xact_lock, never waited for), so that of several
 * processes on one schema one drains at a time, in order - and reads the
 * oldest row into *row. The turn lasts until store_pg_outbox_end. NDX_OK;
 * NDX_ENOTFOUND when the outbox is empty, NDX_EPERM when another
 * connection has the turn, NDX_EDB (the turn is over in all three). */
int store_pg_outbox_head(struct store_pg *p, struct store_pg_outbox_row *row);
/* Ends the turn: outcome > 0 deletes the row (published), < 0 records a
 * failed attempt (attempts, next_at_ms, err), 0 leaves it as it was.
 * NDX_OK, NDX_EDB. */
int store_pg_outbox_end(struct store_pg *p, struct store_pg_outbox_row *row, int outcome,
			unsigned attempts, long long next_at_ms, const char *err);

/* A bulk load into a new schema (the seeder): one COPY a table. */
struct store_pg_bulk;
/* NDX_EEXIST when the sector's schema exists. */
int store_pg_bulk_open(const char *conninfo, const struct sector_def *def,
		       struct store_pg_bulk **out);
int store_pg_bulk_row(struct store_pg_bulk *b, size_t table, const char *types, va_list ap);
/* Ends the COPYs: the rows are in. */
int store_pg_bulk_end(struct store_pg_bulk *b);
/* Builds the indexes, analyzes, and marks the schema finished. */
int store_pg_bulk_index(struct store_pg_bulk *b);
/* The bulk's own connection as a store_pg (the seeder's defects, after
 * store_pg_bulk_index: the schema's write lock, store_pg_exec and
 * store_pg_query); it lasts as long as b, and is not closed by itself. */
struct store_pg *store_pg_bulk_conn(struct store_pg_bulk *b);
/* Tables and indexes on disk (pg_total_relation_size), bytes. */
uint64_t store_pg_bulk_bytes(struct store_pg_bulk *b);
/* keep = 0: the schema is dropped (a failed seed). Accepts NULL. */
void store_pg_bulk_close(struct store_pg_bulk *b, int keep);

#endif
