/* One sector's database: schema from schema.h, a small pool of
 * connections for the HTTP worker threads, and generic reads and writes of
 * rows as jansson objects. Two engines behind this one interface: SQLite
 * (this file's store.c, the default: one file per sector, each sector
 * being a different agency's system) and PostgreSQL (store_pg.c, chosen by
 * a postgresql:// connection string in place of the path: the sector's
 * tables in a schema named after it). Overview: docs/sectors.md "Storage". */
#ifndef NDX_SECTOR_STORE_H
#define NDX_SECTOR_STORE_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "schema.h"
#include "sec_sql.h"

#define STORE_FOLDED_MAX 256 /* bytes of a folded name, NUL included */
#define STORE_MAX_FILTERS 4

struct store;
struct store_conn;

/* Opens (create: creates when missing, with tables and indexes) the
 * database at path for sector def with nconns connections: a SQLite file
 * in WAL mode, or with a postgresql:// connection string the sector's
 * schema in that database (ndx_sqldb_is_pg; a string with a password is
 * refused). NDX_EDB when the database is another sector's or not a sector
 * database, NDX_EIO when it cannot be opened. A message goes to stderr. */
int store_open(const char *path, const struct sector_def *def, int create, unsigned nconns,
	       struct store **out);
/* Accepts NULL. */
void store_close(struct store *st);

/* The path or connection string st was opened with (for a second store
 * on the same database, sec_worklist_api.c). */
const char *store_location(const struct store *st);

/* Takes a connection (waits for a free one) / gives it back. */
struct store_conn *store_acquire(struct store *st);
void store_release(struct store *st, struct store_conn *c);
/* The connection's SQLite handle, for the SQLite side of the features
 * written for both engines (the outbox, applying events, the quality
 * report, reconciliation and its worklists through sec_sql.h); NULL on
 * PostgreSQL. */
sqlite3 *store_conn_db(struct store_conn *c);
/* The connection's PostgreSQL engine (store_pg.h), for the PostgreSQL
 * side of the same features; NULL on SQLite. */
struct store_pg;
struct store_pg *store_conn_pg(struct store_conn *c);
/* 1 when st is on PostgreSQL. For a feature's refusal at its entry only;
 * reads and writes go through the functions below on either engine. */
int store_engine_pg(const struct store *st);

/* Write transaction on a connection: BEGIN IMMEDIATE / COMMIT / ROLLBACK. */
int store_begin(struct store_conn *c);
int store_commit(struct store_conn *c);
void store_rollback(struct store_conn *c);

/* The row of t whose key (or integer id for key-less tables) is id, as a
 * new object (caller releases). NDX_ENOTFOUND, NDX_EDB. */
int store_get(struct store_conn *c, const struct sector_table *t, const char *id, json_t **out);

struct store_query {
	const char *name_prefix;   /* folded; NULL or "" for none */
	/* Equality filters on COL_FILTER columns (names from the schema). */
	const char *filter_cols[STORE_MAX_FILTERS];
	const char *filter_values[STORE_MAX_FILTERS];
	size_t nfilters;
	size_t limit, offset;
};
/* *out = a new array of row objects in name order (with a name prefix) or
 * storage order. */
int store_list(struct store_conn *c, const struct sector_table *t, const struct store_query *q,
	       json_t **out);

/* 1 when a row of table has col = value, 0 when none, NDX_EDB. */
int store_exists(struct store_conn *c, const char *table, const char *col, const char *value);

/* Inserts (id NULL: a new integer id for key-less tables, the key taken
 * from row otherwise) or replaces the row with key/id id, from an object
 * already validated against t. Sets updated_at to now. *out_id receives the
 * key or number (cap bytes). NDX_EEXIST on insert of an existing key,
 * NDX_ENOTFOUND on replace of a missing one, NDX_EDB. Call inside
 * store_begin/store_commit. */
int store_put(struct store_conn *c, const struct sector_table *t, const char *id,
	      const json_t *row, char *out_id, size_t cap);

/* The living members of household id, as an array of {pin, full_name,
 * relation, birth_date} oldest first (what a household's GET answers with
 * its record, api.c; record_subjects declares every one of them).
 * NDX_OK, NDX_ENOMEM, NDX_EDB. */
int store_household_members(struct store_conn *c, const char *id, json_t **out);

/* Calls each(ctx, value) for the col of every row of table whose where_col
 * is value (NULL values as NULL), stopping at its first non-NDX_OK, which
 * is returned. The names come from the static schema. NDX_EDB. */
int store_texts(struct store_conn *c, const char *table, const char *col, const char *where_col,
		const char *value, int (*each)(void *ctx, const char *v), void *ctx);
/* The population registry's citizens as POST /verify reads them
 * (sec_verify.c): by number, by folded name, by folded name and birth date,
 * by folded name and permanent address as written. */
enum store_citizens_by {
	STORE_BY_PIN,
	STORE_BY_NAME,
	STORE_BY_NAME_BIRTH,
	STORE_BY_NAME_ADDRESS,
	STORE_BY_COUNT
};
struct store_citizen {
	const char *pin, *full_name, *birth_date, *sex, *permanent_address; /* never NULL */
	int living;
};
/* Calls each(ctx, citizen) for at most limit citizens whose pin is a
 * (STORE_BY_PIN) or whose name_folded is a, and (BY_NAME_BIRTH) birth_date
 * or (BY_NAME_ADDRESS) permanent_address is b: on SQLite in storage order,
 * on PostgreSQL in number order. Stops at each's first non-NDX_OK, which is
 * returned. The strings last until each returns. NDX_EDB. */
int store_citizens(struct store_conn *c, enum store_citizens_by by, const char *a, const char *b,
		   unsigned limit, int (*each)(void *ctx, const struct store_citizen *cit),
		   void *ctx);
/* One read transaction on c: every read until store_read_end sees the same
 * state of the database. */
int store_read_begin(struct store_conn *c);
void store_read_end(struct store_conn *c);

/* Rows of table, or -1. On PostgreSQL the planner's estimate once the
 * table has been analyzed (a count of 20 million rows would read them all,
 * on every scrape of /metrics), an exact count before. */
long long store_count(struct store_conn *c, const char *table);

/* A bulk load of a new sector database (the seeder): loc a path (a new
 * SQLite file, written without a journal inside one transaction) or a
 * postgresql:// connection string (a new schema, one COPY a table). */
struct store_bulk;
/* NDX_EEXIST when loc already holds the sector (nothing touched). */
int store_bulk_open(const char *loc, const struct sector_def *def, struct store_bulk **out);
/* One row of table (schema order) as store_insert_sql's columns: types
 * 's' text (NULL: null), 'i' int64_t, 'd' double, updated_at last. */
int store_bulk_row(struct store_bulk *b, size_t table, const char *types, va_list ap);
/* The rows are in (committed). */
int store_bulk_end(struct store_bulk *b);
/* Indexes built, statistics gathered, the database ready to serve. */
int store_bulk_index(struct store_bulk *b);
/* Bytes on disk: the file, or the tables with their indexes. */
uint64_t store_bulk_bytes(struct store_bulk *b);
/* The loaded database on its engine (seed --defects, once indexed). */
struct sec_sql store_bulk_sql(struct store_bulk *b);
/* keep = 0: what store_bulk_open created is removed. Accepts NULL. */
void store_bulk_close(struct store_bulk *b, int keep);

/* The smallest string greater than every string starting with p (same
 * length, last byte below 0xff raised by one), or "" when none exists. */
void store_prefix_upper(const char *p, char *out, size_t cap);
/* The CREATE INDEX statements of def's tables, in the SQL both engines
 * speak (pg: PostgreSQL's, whose name index holds the key); malloc'd, NULL
 * on no memory. */
char *store_indexes_sql(const struct sector_def *def, int pg);

/* Schema helpers shared with the seeder (no pool needed): */
/* Creates meta, the tables and (with_indexes) their indexes. */
int store_schema_create(sqlite3 *db, const struct sector_def *def, int with_indexes);
/* Creates the indexes (after a bulk load). */
int store_indexes_create(sqlite3 *db, const struct sector_def *def);
/* "INSERT INTO t(columns..., [name_folded,] updated_at) VALUES(?, ...)"
 * in table column order; malloc'd, caller frees; NULL on no memory. */
char *store_insert_sql(const struct sector_table *t);
/* Inserts row (already valid for t) on db with updated_at now, inside the
 * caller's transaction: what an applied event adds (sec_apply.c).
 * NDX_OK, NDX_EEXIST (the key exists), NDX_ETOOBIG, NDX_ENOMEM, NDX_EDB. */
int store_insert_db(sqlite3 *db, const struct sector_table *t, const json_t *row,
		    const char *now);

#endif
