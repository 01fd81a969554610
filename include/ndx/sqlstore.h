/* Opening an ndx SQLite database the one way every daemon needs it:
 * serialized connection, a busy timeout, WAL (readers such as `ndx log
 * verify` or a second CLI process work beside the daemon), synchronous=FULL
 * (an acknowledged change survives a crash), and versioned schema
 * migrations recorded in schema_migrations. */
#ifndef NDX_SQLSTORE_H
#define NDX_SQLSTORE_H

#include <sqlite3.h>
#include <stddef.h>

/* Opens path with flags (SQLITE_OPEN_READWRITE, optionally
 * SQLITE_OPEN_CREATE) and applies migrations[have..n) each in its own
 * transaction, where migrations[i] is the SQL of schema version i + 1.
 * A database newer than n versions is refused. Errors are printed to
 * stderr prefixed with prog. Returns NDX_OK with *out set (caller closes
 * with sqlite3_close), or NDX_EDB / NDX_ENOMEM with *out NULL. */
int ndx_sqlstore_open(const char *path, int flags, const char *const *migrations, size_t n,
		      const char *prog, sqlite3 **out);

/* Runs sql (one or more statements without results). On failure prints
 * "PROG: store: MESSAGE" on stderr and returns NDX_EDB; NDX_OK otherwise. */
int ndx_sqlstore_exec(sqlite3 *db, const char *prog, const char *sql);

/* Prints "PROG: store: WHAT: the connection's last error" on stderr and
 * returns NDX_EDB, for `return ndx_sqlstore_fail(...)` on a failed step. */
int ndx_sqlstore_fail(sqlite3 *db, const char *prog, const char *what);

/* Prepares, as a persistent statement of db, head followed by rows groups
 * of columns parameters: "HEAD(?, ...), (?, ...), ...", so that one
 * statement inserts rows rows. A statement's setup (and for an
 * AUTOINCREMENT table its update of sqlite_sequence) is then paid once for
 * all of them. Returns SQLITE_OK with *out set; SQLITE_RANGE with *out NULL
 * when rows * columns passes the connection's limit of parameters; or the
 * error of preparing it (SQLITE_NOMEM among them). */
int ndx_sqlstore_prepare_rows(sqlite3 *db, const char *head, int columns, size_t rows,
			      sqlite3_stmt **out);

#endif
