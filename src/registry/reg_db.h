/* The database engines under the registry's store (reg_store.c): a table of
 * function pointers, as msglog_store.h is for the message log, with one
 * implementation per engine: SQLite (reg_db_sqlite.c, the default: a file
 * in the data directory) and PostgreSQL (reg_db_pg.c, on libpq, chosen by
 * a postgresql:// connection string). reg_store.c holds every query once,
 * in the SQL both engines speak (`?` and `?N` parameters, which the
 * PostgreSQL engine renumbers as `$N`); an engine runs statements, keeps
 * the schema at its version and gives the write transaction the strength
 * of SQLite's BEGIN IMMEDIATE: one writer at a time, durable at COMMIT.
 * Overview: docs/scale.md "The registry on PostgreSQL". */
#ifndef NDX_REGISTRY_REG_DB_H
#define NDX_REGISTRY_REG_DB_H

#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

struct reg_db;

/* Every int function returns NDX_OK or a negative enum ndx_err: NDX_EDB for
 * an engine failure (reported on stderr, never with a password),
 * NDX_EEXIST for a primary or unique key violation. */
struct reg_db_ops {
	/* Frees the engine; an open transaction is rolled back. */
	void (*close)(struct reg_db *db);
	/* Runs one statement. types has one letter per parameter: 's' a
	 * const char * (NULL binds NULL), 'i' an int64_t. When rows is not
	 * NULL, *rows receives a new array of the result's rows, each an
	 * object by column name holding integers, strings and nulls. When
	 * changes is not NULL, *changes receives the number of rows the
	 * statement changed. */
	int (*run)(struct reg_db *db, const char *sql, const char *types, va_list ap,
		   json_t **rows, int64_t *changes);
	/* A write transaction: the database's one writer until commit or
	 * rollback (across every process sharing the database). */
	int (*begin)(struct reg_db *db);
	/* Durable when it returns NDX_OK; on failure the caller rolls back. */
	int (*commit)(struct reg_db *db);
	/* Ends a write transaction or a snapshot, undoing any change. */
	void (*rollback)(struct reg_db *db);
	/* A read transaction: one consistent state until rollback. */
	int (*snapshot)(struct reg_db *db);
};

struct reg_db {
	const struct reg_db_ops *ops;
	char name[300]; /* how messages name the database: never a password */
};

/* Whether loc names a PostgreSQL database (postgresql:// or postgres://)
 * rather than a SQLite file. */
bool reg_db_is_pg(const char *loc);

/* Checks a location before use: a connection string that cannot be parsed
 * or that holds a password (it belongs in a password file, so that the
 * string can be printed) is NDX_EINVAL with the reason in why (static). */
int reg_db_check(const char *loc, const char **why);

/* Opens the database at loc with the registry's schema brought to its
 * current version. create: a new database, NDX_EEXIST when loc already
 * holds one (a SQLite file that exists, a PostgreSQL schema with a
 * registry); otherwise an existing one, NDX_EIO when there is none (a
 * missing file, or a PostgreSQL schema without a registry). A database
 * whose schema is newer than this program's is NDX_EDB. *out is freed
 * with ops->close. */
int reg_db_open(const char *loc, bool create, struct reg_db **out);
int reg_db_sqlite_open(const char *path, bool create, struct reg_db **out);
int reg_db_pg_open(const char *conninfo, bool create, struct reg_db **out);

#endif
