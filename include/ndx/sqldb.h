/* A daemon's database on one of two engines, for a store that holds every
 * query once in the SQL both speak (`?` and `?N` parameters, which the
 * PostgreSQL engine renumbers as `$N`): SQLite (sqldb_sqlite.c, the
 * default: a file in the data directory, WAL, FULL sync, migrations by
 * ndx/sqlstore.h) and PostgreSQL (sqldb_pg.c, on libpq, chosen by a
 * postgresql:// connection string; a library of its own beside libndx, as
 * the message log's PostgreSQL store is). An engine runs statements, keeps
 * the schema at its version and gives the write transaction the strength
 * of SQLite's BEGIN IMMEDIATE: one writer at a time, durable at COMMIT.
 * What differs between daemons (their name, their tables, the meta key
 * that marks a finished init) is a descriptor, struct ndx_sqldb_desc.
 * Users: the registry (src/registry/reg_db.c), the consent service
 * (src/consent/cons_db.c), the e-ID (src/id/id_db.c), the portal
 * (src/portal/portal_db.c) and the monitoring service
 * (src/monitor/mon_db.c). Overview: docs/scale.md.
 *
 * On PostgreSQL the tables live in the first schema of the connection's
 * search_path (options=-csearch_path%3Dname gives a daemon a schema of its
 * own), in PostgreSQL types; the meta row pg_schema holds their version,
 * raised by the statements that bring an older schema up to date, and a
 * schema newer than the program's is refused. A write transaction first
 * takes a transaction-scoped advisory lock keyed by 'PROG:' and the
 * schema; every session runs with synchronous_commit = on; a read snapshot
 * is one REPEATABLE READ transaction; values travel as typed parameters. A
 * connection the server dropped is opened again before the next statement
 * outside a transaction. Messages name the database by user, host, port
 * and database, never by the connection string, which ndx_sqldb_check
 * refuses when it holds a password.
 *
 * Threads: a handle may be shared by a daemon's threads. A transaction or
 * snapshot belongs to the thread that began it until it ends, and another
 * thread's call waits for that end: its statement never runs inside a
 * transaction it did not begin (reading what is not committed, or undone
 * by the other's rollback), and on PostgreSQL two threads never talk on
 * the one connection at once (src/lib/sqldb_turn.h). A thread must not
 * wait for another thread while its own transaction is open. */
#ifndef NDX_SQLDB_H
#define NDX_SQLDB_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_t; /* rows come back as jansson arrays of objects */
struct ndx_sqldb;

/* What a daemon's database is. Every string is a constant of the program. */
struct ndx_sqldb_desc {
	/* The program ("ndx-registry"): the prefix of messages, the
	 * PostgreSQL application_name and the advisory lock's key. */
	const char *prog;
	/* What the database holds ("registry"), for "holds no registry". */
	const char *what;
	/* The meta key whose row marks a finished init ("instance"): create
	 * refuses a PostgreSQL schema with it, open one without it. */
	const char *init_key;
	/* SQLite: migration n (1-based) is migrations[n-1]; append, never
	 * edit. The tables need a meta(key, value). */
	const char *const *migrations;
	size_t n_migrations;
	/* PostgreSQL: schema version n is made by pg_schema[n-1] from n-1;
	 * append, never edit. Version 1 creates meta (IF NOT EXISTS) and
	 * inserts its pg_schema row. */
	const char *const *pg_schema;
	size_t n_pg_schema;
	/* NULL, or the key of a session-level advisory lock held while the
	 * handle is open ("ndx-consent-serve"): for a daemon that keeps state
	 * in memory, so that a second process on the same schema is refused
	 * (NDX_EDB, after waiting a few seconds for a killed one's session to
	 * end). Taken again with every new session, which raises epoch. */
	const char *serve_lock;
	/* NULL, or what ndx_sqldb_query and ndx_sqldb_query_one do to each
	 * row before returning it (the registry parses its JSON columns and
	 * turns its flags into booleans); NDX_OK or an error. */
	int (*shape_row)(struct json_t *row);
};

/* Every int function returns NDX_OK or a negative enum ndx_err: NDX_EDB for
 * an engine failure (reported on stderr, never with a password),
 * NDX_EEXIST for a primary or unique key violation. */
struct ndx_sqldb_ops {
	/* Frees the engine; an open transaction is rolled back. */
	void (*close)(struct ndx_sqldb *db);
	/* Runs one statement. types has one letter per parameter: 's' a
	 * const char * (NULL binds NULL), 'i' an int64_t. When rows is not
	 * NULL, *rows receives a new array of the result's rows, each an
	 * object by column name holding integers, strings and nulls (a
	 * PostgreSQL boolean as 0 or 1). When changes is not NULL, *changes
	 * receives the number of rows the statement changed. */
	int (*run)(struct ndx_sqldb *db, const char *sql, const char *types, va_list ap,
		   struct json_t **rows, int64_t *changes);
	/* A write transaction: the database's one writer until commit or
	 * rollback (across every process sharing the database), and the
	 * handle this thread's until then. */
	int (*begin)(struct ndx_sqldb *db);
	/* Durable when it returns NDX_OK; otherwise rolled back (a rollback
	 * by the caller after it does nothing more). Ends the transaction
	 * either way. */
	int (*commit)(struct ndx_sqldb *db);
	/* Ends a write transaction or a snapshot, undoing any change. */
	void (*rollback)(struct ndx_sqldb *db);
	/* A read transaction: one consistent state until rollback. */
	int (*snapshot)(struct ndx_sqldb *db);
};

struct ndx_sqldb {
	const struct ndx_sqldb_ops *ops;
	const struct ndx_sqldb_desc *desc;
	char name[300]; /* how messages name the database: never a password */
	/* Raised each time the engine has had to take the database again
	 * with a serve_lock (a PostgreSQL session opened anew after the
	 * server dropped it): another process may have written in between,
	 * so what the store holds in memory is read again. Otherwise 0. */
	uint64_t epoch;
};

/* Whether loc names a PostgreSQL database (postgresql:// or postgres://)
 * rather than a SQLite file. */
bool ndx_sqldb_is_pg(const char *loc);

/* Checks a location before use: a connection string that cannot be parsed
 * or that holds a password (it belongs in a password file, so that the
 * string can be printed) is NDX_EINVAL with the reason in why (static). */
int ndx_sqldb_check(const char *loc, const char **why);

/* Opens the database at loc (checked first with ndx_sqldb_check, the
 * reason printed as "PROG: store: REASON"; ndx_sqldb_is_pg chooses the
 * engine) with d's schema brought to its current version. create: a new database,
 * NDX_EEXIST when loc already holds one (a SQLite file that exists, a
 * PostgreSQL schema with d->init_key in meta); otherwise an existing one,
 * NDX_EIO when there is none. A database whose schema is newer than the
 * program's is NDX_EDB. *out is freed with ops->close. */
int ndx_sqldb_open(const struct ndx_sqldb_desc *d, const char *loc, bool create,
		   struct ndx_sqldb **out);
int ndx_sqldb_sqlite_open(const struct ndx_sqldb_desc *d, const char *path, bool create,
			  struct ndx_sqldb **out);
int ndx_sqldb_pg_open(const struct ndx_sqldb_desc *d, const char *conninfo, bool create,
		      struct ndx_sqldb **out);

/* ops->run for a statement's rows: *rows = a new array of them, each
 * passed through d->shape_row. */
int ndx_sqldb_query(struct ndx_sqldb *db, struct json_t **rows, const char *sql,
		    const char *types, ...);
int ndx_sqldb_queryv(struct ndx_sqldb *db, struct json_t **rows, const char *sql,
		     const char *types, va_list ap);
/* As ndx_sqldb_query for the first row: *row = a new reference to it,
 * NDX_ENOTFOUND when there is none. */
int ndx_sqldb_query_one(struct ndx_sqldb *db, struct json_t **row, const char *sql,
			const char *types, ...);

/* A row's integer column: 0 when it is missing or NULL. PostgreSQL's
 * sums and averages of bigint arrive as numeric text, read here too, so
 * that a store reads a column the same way on both engines. */
int64_t ndx_sqldb_int(const struct json_t *row, const char *col);
/* Whether a row's column is missing or NULL. */
int ndx_sqldb_is_null(const struct json_t *row, const char *col);

/* ops->run for a statement that returns no rows. A key violation is
 * NDX_EEXIST. */
int ndx_sqldb_exec(struct ndx_sqldb *db, const char *sql, const char *types, ...);
/* As ndx_sqldb_exec; NDX_ENOTFOUND when the statement changed no row. */
int ndx_sqldb_change(struct ndx_sqldb *db, const char *sql, const char *types, ...);

/* One statement in a write transaction of its own (begin, run, commit;
 * rolled back on failure). */
int ndx_sqldb_write(struct ndx_sqldb *db, const char *sql, const char *types, ...);

/* *out = a copy of the value of the meta table's row key (NULL with
 * NDX_ENOTFOUND when there is none). */
int ndx_sqldb_meta_get(struct ndx_sqldb *db, const char *key, char **out);

/* A daemon's --store option into out: store_loc when given (checked with
 * ndx_sqldb_check, so that a connection string with a password is refused
 * before anything is made, and never printed), else DIR/file. On failure
 * prints "PROG: --store: REASON" and returns -1; 0 otherwise. */
int ndx_sqldb_location(const char *prog, const char *dir, const char *file,
		       const char *store_loc, char *out, size_t cap);

#endif
