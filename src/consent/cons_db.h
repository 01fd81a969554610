/* The database engines under the consent service's store (cons_store.c): a
 * table of function pointers with one implementation per engine, as
 * src/registry/reg_db.h is for the registry: SQLite (cons_db_sqlite.c, the
 * default: consent.db in the data directory) and PostgreSQL (cons_db_pg.c,
 * on libpq, chosen by a postgresql:// connection string). cons_store.c
 * holds every query once, in the SQL both engines speak (`?` and `?N`
 * parameters, which the PostgreSQL engine renumbers as `$N`); an engine
 * runs statements, keeps the schema at its version and gives the write
 * transaction the strength of SQLite's BEGIN IMMEDIATE: one writer at a
 * time, durable at COMMIT. Overview: docs/scale.md "The consent service on
 * PostgreSQL". */
#ifndef NDX_CONSENT_CONS_DB_H
#define NDX_CONSENT_CONS_DB_H

#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

struct cons_db;

/* Every int function returns NDX_OK or a negative enum ndx_err: NDX_EDB for
 * an engine failure (reported on stderr, never with a password),
 * NDX_EEXIST for a primary or unique key violation. */
struct cons_db_ops {
	/* Frees the engine; an open transaction is rolled back. */
	void (*close)(struct cons_db *db);
	/* Runs one statement. types has one letter per parameter: 's' a
	 * const char * (NULL binds NULL), 'i' an int64_t. When rows is not
	 * NULL, *rows receives a new array of the result's rows, each an
	 * object by column name holding integers, strings and nulls (a
	 * PostgreSQL boolean as 0 or 1). When changes is not NULL, *changes
	 * receives the number of rows the statement changed. */
	int (*run)(struct cons_db *db, const char *sql, const char *types, va_list ap,
		   json_t **rows, int64_t *changes);
	/* A write transaction: the database's one writer until commit or
	 * rollback. */
	int (*begin)(struct cons_db *db);
	/* Durable when it returns NDX_OK; on failure the caller rolls back. */
	int (*commit)(struct cons_db *db);
	/* Ends a write transaction or a snapshot, undoing any change. */
	void (*rollback)(struct cons_db *db);
	/* A read transaction: one consistent state until rollback. */
	int (*snapshot)(struct cons_db *db);
};

struct cons_db {
	const struct cons_db_ops *ops;
	char name[300]; /* how messages name the database: never a password */
	/* Raised each time the engine has had to take the database again (a
	 * PostgreSQL session opened anew after the server dropped it): another
	 * process may have written in between, so what the store holds in
	 * memory is read again. SQLite's stays 0. */
	uint64_t epoch;
};

/* Whether loc names a PostgreSQL database (postgresql:// or postgres://)
 * rather than a SQLite file. */
bool cons_db_is_pg(const char *loc);

/* Checks a location before use: a connection string that cannot be parsed
 * or that holds a password (it belongs in a password file, so that the
 * string can be printed) is NDX_EINVAL with the reason in why (static). */
int cons_db_check(const char *loc, const char **why);

/* Opens the database at loc with the consent service's schema brought to
 * its current version. create: a new database, NDX_EEXIST when loc already
 * holds one (a SQLite file that exists, a PostgreSQL schema with a consent
 * service); otherwise an existing one, NDX_EIO when there is none (a
 * missing file, or a PostgreSQL schema without a consent service). A
 * database whose schema is newer than this program's is NDX_EDB. On
 * PostgreSQL the handle also holds the schema's session lock until close:
 * the status lists' bits are kept in memory (cons_store.c), so a second
 * ndx-consent on the same schema is refused (NDX_EDB, after waiting a few
 * seconds for a killed one's session to end) rather than left to serve
 * bits that miss the first one's revocations. *out is freed with
 * ops->close. */
int cons_db_sqlite_open(const char *path, bool create, struct cons_db **out);
int cons_db_pg_open(const char *conninfo, bool create, struct cons_db **out);

#endif
