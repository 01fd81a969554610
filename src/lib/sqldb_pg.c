/* The PostgreSQL engine of ndx/sqldb.h, on libpq: several processes on
 * one database, each daemon's tables in the first schema of the
 * connection's search_path, at the version its descriptor's pg_schema
 * list makes (the meta row pg_schema holds it).
 *
 * A write transaction first takes a transaction-scoped advisory lock keyed
 * by 'PROG:' and the schema, as SQLite's BEGIN IMMEDIATE makes one writer
 * per file, so that a change and what goes with it (an audit entry, a new
 * configuration version, a revocation's version bump) are one step. Every
 * session runs with synchronous_commit = on: a COMMIT that returned is on
 * the server's disk. A read snapshot is one REPEATABLE READ transaction.
 * With a serve_lock the handle also holds a session-level advisory lock on
 * the schema while open, so that one process serves it and a second is
 * refused. Values travel as typed parameters (PQexecParams), never inside
 * SQL text. A connection the server dropped is opened again before the
 * next statement outside a transaction (the serve lock taken again with
 * it). Messages name the database by user, host, port and database, never
 * by the connection string, which ndx_sqldb_check refuses when it holds a
 * password. Threads take turns on the one connection (sqldb_turn.h). */
#include "ndx/sqldb.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "ndx/err.h"
#include "sqldb_turn.h"

#define OID_BOOL 16
#define OID_INT8 20
#define OID_INT2 21
#define OID_INT4 23
#define OID_TEXT 25

#define MAX_PARAMS 32 /* the monitor's records: 27 columns */

struct pg_db {
	struct ndx_sqldb base;
	PGconn *conn;
	/* One thread's statement or transaction at a time (sqldb_turn.h):
	 * libpq's connection is not to be used by two threads at once. */
	struct sqldb_turn turn; /* turn.kept: a transaction is open */
	bool locked; /* the session holds the schema's serve lock (take_session_lock) */
	/* BEGIN and the writers' advisory lock keyed by 'PROG:' and the
	 * schema, for a write transaction and for the migration. */
	char begin_write[200];
	char begin_migrate[160];
};

static struct pg_db *self(struct ndx_sqldb *db)
{
	return (struct pg_db *)db;
}

static void report(struct pg_db *s, const char *what, const PGresult *res)
{
	const char *msg = res ? PQresultErrorMessage(res) : "";
	size_t n;

	if (!msg || !msg[0])
		msg = s->conn ? PQerrorMessage(s->conn) : "out of memory";
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		n--;
	fprintf(stderr, "%s: store %s: %s: %.*s\n", s->base.desc->prog, s->base.name, what,
		(int)n, msg);
}

static int exec_simple(struct pg_db *s, const char *what, const char *sql)
{
	PGresult *res = PQexec(s->conn, sql);
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	int rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? NDX_OK : NDX_EDB;

	if (rc)
		report(s, what, res);
	PQclear(res);
	return rc;
}

static int session_setup(struct pg_db *s)
{
	return exec_simple(s, "session", "SET synchronous_commit = on;"
			   " SET client_min_messages = warning; SET client_encoding = 'UTF8'");
}

/* The schema's serve lock (ndx_sqldb_desc): one process a schema. A
 * process killed with SIGKILL holds it until the server notices its
 * connection closed, in milliseconds, so a holder is waited for up to
 * LOCK_WAIT_TRIES tenths of a second before the refusal. */
#define LOCK_WAIT_TRIES 20

static int take_session_lock(struct pg_db *s)
{
	static const struct timespec tenth = { 0, 100 * 1000 * 1000 };

	for (int i = 0; i < LOCK_WAIT_TRIES; i++) {
		PGresult *res = PQexecParams(s->conn, "SELECT pg_try_advisory_lock(hashtext("
						     "$1::text || ':' || current_schema()))", 1, NULL,
					     &s->base.desc->serve_lock, NULL, NULL, 0);
		bool ok = res && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;
		bool got = ok && PQgetvalue(res, 0, 0)[0] == 't';

		if (!ok)
			report(s, "cannot take the schema's lock", res);
		PQclear(res);
		if (!ok)
			return NDX_EDB;
		if (got)
			return NDX_OK;
		nanosleep(&tenth, NULL);
	}
	fprintf(stderr, "%s: store %s: another %s has this database open "
			"(one process serves a %s's schema)\n", s->base.desc->prog, s->base.name,
		s->base.desc->prog, s->base.desc->what);
	return NDX_EDB;
}

/* A new session takes the lock again; until it has it, every call fails
 * (and tries once more). */
static int ensure_lock(struct pg_db *s)
{
	if (s->locked || !s->base.desc->serve_lock)
		return NDX_OK;
	if (take_session_lock(s))
		return NDX_EDB;
	s->locked = true;
	s->base.epoch++;
	return NDX_OK;
}

/* Outside a transaction, a dropped connection is opened again, with the
 * schema's session lock. */
static int ensure_conn(struct pg_db *s)
{
	if (PQstatus(s->conn) == CONNECTION_OK)
		return ensure_lock(s);
	if (s->turn.kept)
		return NDX_EDB;
	PQreset(s->conn);
	if (PQstatus(s->conn) != CONNECTION_OK) {
		report(s, "cannot reconnect", NULL);
		return NDX_EDB;
	}
	fprintf(stderr, "%s: store %s: reconnected\n", s->base.desc->prog, s->base.name);
	s->locked = false;
	if (session_setup(s))
		return NDX_EDB;
	return ensure_lock(s);
}

/* Whether res failed because the connection was lost outside a
 * transaction (the server restarted while this process was idle): then the
 * statement may run again on a new connection, nothing having been done. */
static bool lost_idle(struct pg_db *s, PGresult *res)
{
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;

	return !s->turn.kept && st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK &&
	       PQstatus(s->conn) == CONNECTION_BAD;
}

/* exec_simple, run once more on a new connection when the first attempt
 * found the connection lost (transaction control only: nothing was done). */
static int exec_control(struct pg_db *s, const char *what, const char *sql)
{
	PGresult *res = PQexec(s->conn, sql);
	ExecStatusType st;
	int rc;

	if (lost_idle(s, res)) {
		PQclear(res);
		res = ensure_conn(s) ? NULL : PQexec(s->conn, sql);
	}
	st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? NDX_OK : NDX_EDB;
	if (rc)
		report(s, what, res);
	PQclear(res);
	return rc;
}

/* The statement with `?N` as `$N` and each bare `?` as the next number.
 * The stores' SQL has no `?` inside string literals. */
static char *renumber(const char *sql)
{
	size_t n = strlen(sql);
	size_t cap = 3 * n + 1, at = 0;
	char *out = malloc(cap);
	int next = 1;

	if (!out)
		return NULL;
	for (const char *p = sql; *p; p++) {
		if (*p != '?') {
			out[at++] = *p;
			continue;
		}
		out[at++] = '$';
		if (p[1] >= '0' && p[1] <= '9')
			continue;
		/* At most two digits (MAX_PARAMS), in the room of 3 bytes a `?`. */
		at += (size_t)snprintf(out + at, cap - at, "%d", next++);
	}
	out[at] = '\0';
	return out;
}

static json_t *cell(const PGresult *res, int r, int c)
{
	const char *v;

	if (PQgetisnull(res, r, c))
		return json_null();
	v = PQgetvalue(res, r, c);
	switch (PQftype(res, c)) {
	case OID_INT2:
	case OID_INT4:
	case OID_INT8:
		return json_integer((json_int_t)strtoll(v, NULL, 10));
	case OID_BOOL:
		return json_integer(v[0] == 't');
	default:
		return json_stringn(v, (size_t)PQgetlength(res, r, c));
	}
}

static json_t *result_rows(const PGresult *res)
{
	json_t *arr = json_array();

	for (int r = 0; arr && r < PQntuples(res); r++) {
		json_t *o = json_object();
		for (int c = 0; o && c < PQnfields(res); c++) {
			json_t *v = cell(res, r, c);
			if (!v || json_object_set_new(o, PQfname(res, c), v)) {
				json_decref(o);
				o = NULL;
			}
		}
		if (!o || json_array_append_new(arr, o)) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

static int run_turn(struct pg_db *s, const char *sql, const char *types, va_list ap,
		    json_t **rows, int64_t *changes)
{
	char nums[MAX_PARAMS][24];
	const char *vals[MAX_PARAMS];
	Oid oids[MAX_PARAMS];
	int n = 0, rc;
	char *text;
	PGresult *res;
	ExecStatusType st;

	if (rows)
		*rows = NULL;
	if (strlen(types) > MAX_PARAMS)
		return NDX_EINVAL;
	for (const char *t = types; *t; t++, n++) {
		if (*t == 's') {
			vals[n] = va_arg(ap, const char *);
			oids[n] = OID_TEXT;
		} else {
			snprintf(nums[n], sizeof nums[n], "%" PRId64, va_arg(ap, int64_t));
			vals[n] = nums[n];
			oids[n] = OID_INT8;
		}
	}
	if ((rc = ensure_conn(s)))
		return rc;
	if (!(text = renumber(sql)))
		return NDX_ENOMEM;
	res = PQexecParams(s->conn, text, n, oids, vals, NULL, NULL, 0);
	if (strncmp(sql, "SELECT", 6) == 0 && lost_idle(s, res)) {
		/* A server restarted while we were idle: a read runs once more,
		 * reconnected (a write outside a transaction might have been
		 * committed before the connection broke, so it is not repeated). */
		PQclear(res);
		res = ensure_conn(s) ? NULL : PQexecParams(s->conn, text, n, oids, vals, NULL, NULL, 0);
	}
	free(text);
	st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
		/* 23505: unique_violation. */
		rc = state && strcmp(state, "23505") == 0 ? NDX_EEXIST : NDX_EDB;
		if (rc == NDX_EDB)
			report(s, "statement", res);
		PQclear(res);
		return rc;
	}
	if (rows && !(*rows = result_rows(res))) {
		PQclear(res);
		return NDX_ENOMEM;
	}
	if (changes) {
		const char *c = PQcmdTuples(res);
		*changes = c && c[0] ? strtoll(c, NULL, 10) : 0;
	}
	PQclear(res);
	return NDX_OK;
}

static int p_run(struct ndx_sqldb *db, const char *sql, const char *types, va_list ap,
		 json_t **rows, int64_t *changes)
{
	struct pg_db *s = self(db);
	int rc;

	sqldb_turn_take(&s->turn);
	rc = run_turn(s, sql, types, ap, rows, changes);
	sqldb_turn_give(&s->turn);
	return rc;
}

/* BEGIN (sql), the transaction keeping the turn when it succeeded. */
static int begin_turn(struct pg_db *s, const char *sql)
{
	int rc;

	sqldb_turn_take(&s->turn);
	rc = ensure_conn(s);
	if (!rc)
		rc = exec_control(s, "begin", sql);
	if (rc && PQstatus(s->conn) == CONNECTION_OK &&
	    PQtransactionStatus(s->conn) != PQTRANS_IDLE)
		PQclear(PQexec(s->conn, "ROLLBACK"));
	if (!rc)
		sqldb_turn_keep(&s->turn);
	sqldb_turn_give(&s->turn);
	return rc;
}

static int p_begin(struct ndx_sqldb *db)
{
	return begin_turn(self(db), self(db)->begin_write);
}

static int p_commit(struct ndx_sqldb *db)
{
	struct pg_db *s = self(db);
	PGresult *res;
	int rc;

	sqldb_turn_take(&s->turn);
	res = PQexec(s->conn, "COMMIT");
	rc = res && PQresultStatus(res) == PGRES_COMMAND_OK ? NDX_OK : NDX_EDB;
	if (rc) {
		report(s, "commit", res);
	} else if (strcmp(PQcmdStatus(res), "COMMIT") != 0 ||
		   PQtransactionStatus(s->conn) != PQTRANS_IDLE) {
		/* A COMMIT of a transaction a failed statement spoiled succeeds
		 * as a ROLLBACK: nothing of it is durable. */
		fprintf(stderr, "%s: store %s: commit: the transaction was rolled back (a "
				"statement in it failed)\n", s->base.desc->prog, s->base.name);
		rc = NDX_EDB;
	}
	PQclear(res);
	/* Ended either way, so that no path keeps the turn from the others. */
	if (rc && PQstatus(s->conn) == CONNECTION_OK &&
	    PQtransactionStatus(s->conn) != PQTRANS_IDLE)
		PQclear(PQexec(s->conn, "ROLLBACK"));
	sqldb_turn_end(&s->turn);
	sqldb_turn_give(&s->turn);
	return rc;
}

static void p_rollback(struct ndx_sqldb *db)
{
	struct pg_db *s = self(db);

	sqldb_turn_take(&s->turn);
	if (PQstatus(s->conn) == CONNECTION_OK && PQtransactionStatus(s->conn) != PQTRANS_IDLE)
		PQclear(PQexec(s->conn, "ROLLBACK"));
	sqldb_turn_end(&s->turn);
	sqldb_turn_give(&s->turn);
}

static int p_snapshot(struct ndx_sqldb *db)
{
	return begin_turn(self(db), "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
}

static void p_close(struct ndx_sqldb *db)
{
	if (!db)
		return;
	p_rollback(db);
	PQfinish(self(db)->conn);
	sqldb_turn_destroy(&self(db)->turn);
	free(db);
}

static const struct ndx_sqldb_ops pg_ops = {
	.close = p_close,
	.run = p_run,
	.begin = p_begin,
	.commit = p_commit,
	.rollback = p_rollback,
	.snapshot = p_snapshot,
};

bool ndx_sqldb_is_pg(const char *loc)
{
	return loc && (strncmp(loc, "postgresql://", 13) == 0 || strncmp(loc, "postgres://", 11) == 0);
}

int ndx_sqldb_check(const char *loc, const char **why)
{
	PQconninfoOption *o;
	bool pw = false;

	*why = NULL;
	if (!ndx_sqldb_is_pg(loc))
		return NDX_OK;
	o = PQconninfoParse(loc, NULL);
	if (!o) {
		*why = "not a valid PostgreSQL connection string";
		return NDX_EINVAL;
	}
	for (PQconninfoOption *p = o; p->keyword; p++)
		pw = pw || (strcmp(p->keyword, "password") == 0 && p->val);
	PQconninfoFree(o);
	if (pw) {
		*why = "the connection string holds a password: put it in a password file "
		       "(PGPASSFILE or ~/.pgpass) instead, so that it is never printed";
		return NDX_EINVAL;
	}
	return NDX_OK;
}

/* "postgresql://user@host:port/dbname": what messages call the database. */
static void pg_name(const char *conninfo, char *out, size_t cap)
{
	const char *user = "", *host = "", *port = "", *db = "";
	PQconninfoOption *o = PQconninfoParse(conninfo, NULL);

	for (PQconninfoOption *p = o; p && p->keyword; p++) {
		if (!p->val)
			continue;
		if (strcmp(p->keyword, "user") == 0)
			user = p->val;
		else if (strcmp(p->keyword, "host") == 0)
			host = p->val;
		else if (strcmp(p->keyword, "port") == 0)
			port = p->val;
		else if (strcmp(p->keyword, "dbname") == 0)
			db = p->val;
	}
	if (!o)
		snprintf(out, cap, "postgresql://(malformed connection string)");
	else
		snprintf(out, cap, "postgresql://%.64s%s%.64s%s%.8s/%.64s", user, user[0] ? "@" : "",
			 host, port[0] ? ":" : "", port, db);
	PQconninfoFree(o);
}

/* The schema version (0: no tables) and whether the descriptor's init
 * marker was ever written (init finished). */
static int read_version(struct pg_db *s, long *version, bool *has_init)
{
	PGresult *res;
	int rc = NDX_OK;

	*version = 0;
	*has_init = false;
	/* Asked first, since a failed query would end the transaction. */
	res = PQexec(s->conn, "SELECT to_regclass('meta') IS NOT NULL");
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		report(s, "cannot read the catalog", res);
		PQclear(res);
		return NDX_EDB;
	}
	if (PQgetvalue(res, 0, 0)[0] != 't') {
		PQclear(res);
		return NDX_OK;
	}
	PQclear(res);
	res = PQexecParams(s->conn, "SELECT key, value FROM meta WHERE key IN ('pg_schema', $1)", 1,
			   NULL, &s->base.desc->init_key, NULL, NULL, 0);
	if (res && PQresultStatus(res) == PGRES_TUPLES_OK) {
		for (int i = 0; i < PQntuples(res); i++) {
			if (strcmp(PQgetvalue(res, i, 0), "pg_schema") == 0)
				*version = strtol(PQgetvalue(res, i, 1), NULL, 10);
			else
				*has_init = true;
		}
	} else {
		report(s, "cannot read the meta table", res);
		rc = NDX_EDB;
	}
	PQclear(res);
	return rc;
}

/* Brings the schema up to the descriptor's version in one transaction, under the
 * advisory lock that writers take, so that two processes starting at once do
 * it once. */
static int migrate(struct pg_db *s, bool create)
{
	const struct ndx_sqldb_desc *d = s->base.desc;
	long v;
	bool inst;
	int rc;

	if ((rc = exec_simple(s, "begin", s->begin_migrate)))
		goto fail;
	if ((rc = read_version(s, &v, &inst)))
		goto fail;
	if (create && inst) {
		rc = NDX_EEXIST;
		goto fail;
	}
	if (!create && !inst) {
		fprintf(stderr, "%s: store %s holds no %s (run `%s init --store` first)\n", d->prog,
			s->base.name, d->what, d->prog);
		rc = NDX_EIO;
		goto fail;
	}
	if (v > (long)d->n_pg_schema) {
		fprintf(stderr, "%s: store %s: schema version %ld is newer than this "
				"program (%d)\n", d->prog, s->base.name, v, (int)d->n_pg_schema);
		rc = NDX_EDB;
		goto fail;
	}
	for (; v < (long)d->n_pg_schema; v++) {
		char set[96];
		if ((rc = exec_simple(s, "schema", d->pg_schema[v])))
			goto fail;
		snprintf(set, sizeof set, "UPDATE meta SET value = '%ld' WHERE key = 'pg_schema'", v + 1);
		if ((rc = exec_simple(s, "schema", set)))
			goto fail;
	}
	if ((rc = exec_simple(s, "commit", "COMMIT")))
		goto fail;
	return NDX_OK;
fail:
	PQclear(PQexec(s->conn, "ROLLBACK"));
	return rc;
}

int ndx_sqldb_pg_open(const struct ndx_sqldb_desc *d, const char *conninfo, bool create,
		      struct ndx_sqldb **out)
{
	static const char *const keys[] = { "connect_timeout", "keepalives_idle",
					    "keepalives_interval", "keepalives_count",
					    "fallback_application_name", "dbname", NULL };
	const char *vals[7];
	const char *why, *env_timeout = getenv("PGCONNECT_TIMEOUT");
	struct pg_db *s;
	int rc;

	*out = NULL;
	s = calloc(1, sizeof *s);
	if (!s)
		return NDX_ENOMEM;
	s->base.ops = &pg_ops;
	s->base.desc = d;
	snprintf(s->begin_write, sizeof s->begin_write, "BEGIN ISOLATION LEVEL READ COMMITTED;"
		 " SELECT pg_advisory_xact_lock(hashtext('%.60s:' || current_schema()))", d->prog);
	snprintf(s->begin_migrate, sizeof s->begin_migrate,
		 "BEGIN; SELECT pg_advisory_xact_lock(hashtext('%.60s:' || current_schema()))",
		 d->prog);
	pg_name(conninfo, s->base.name, sizeof s->base.name);
	if ((rc = ndx_sqldb_check(conninfo, &why))) {
		fprintf(stderr, "%s: store %s: %s\n", d->prog, s->base.name, why);
		free(s);
		return rc;
	}
	/* Defaults the connection string may override (it is expanded last):
	 * a server that is gone is noticed in seconds. */
	vals[0] = env_timeout ? env_timeout : "10";
	vals[1] = "30";
	vals[2] = "10";
	vals[3] = "3";
	vals[4] = d->prog;
	vals[5] = conninfo;
	vals[6] = NULL;
	if (sqldb_turn_init(&s->turn)) {
		free(s);
		return NDX_ENOMEM;
	}
	s->conn = PQconnectdbParams(keys, vals, 1);
	if (!s->conn) {
		rc = NDX_ENOMEM;
		goto fail;
	}
	if (PQstatus(s->conn) != CONNECTION_OK) {
		report(s, "cannot connect", NULL);
		rc = NDX_EDB;
		goto fail;
	}
	if ((rc = session_setup(s)) || (rc = migrate(s, create)) || (rc = ensure_lock(s)))
		goto fail;
	*out = &s->base;
	return NDX_OK;
fail:
	PQfinish(s->conn);
	sqldb_turn_destroy(&s->turn);
	free(s);
	return rc;
}
