/* The sector store on PostgreSQL (store_pg.h). The SQL is the SQLite
 * store's, built from the same static schema (store.c), in PostgreSQL
 * types: integers bigint, reals double precision, everything else text;
 * name_folded in the "C" collation so that a prefix is a byte range, as
 * in SQLite, served by the same index. Values are always parameters
 * (PQexecParams), never SQL text; the only names spliced into SQL come
 * from the static schema. Keyed tables carry their key in a plain column
 * with a unique index built after a bulk load, as in SQLite; a list
 * without a name prefix comes in key (or id) order, the order an index
 * gives for free (SQLite's is its rowid).
 *
 * A write transaction takes a transaction-scoped advisory lock keyed by
 * the schema first: one writer at a time, as SQLite's BEGIN IMMEDIATE,
 * and every session runs with synchronous_commit = on, so a COMMIT that
 * returned is on the server's disk. A connection the server dropped is
 * opened again before the next statement outside a transaction. */
#include "store_pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "ndx/buf.h"
#include "ndx/err.h"
#include "ndx/fold.h"
#include "ndx/sqldb.h"
#include "ndx/timefmt.h"
#include "store.h"

#define PROG "ndx-sector"
#define MAX_PARAMS 48
#define COPY_BUF (256u * 1024u)

struct store_pg {
	PGconn *conn;
	const struct sector_def *def;
	char schema[64];
	char name[300]; /* user@host:port/db, never a password */
	int in_txn;
};

/* ---- naming, messages, statements -------------------------------------------- */

/* The sector's schema: its name with '-' as '_' (civil-status: civil_status). */
static void schema_name(const struct sector_def *def, char *out, size_t cap)
{
	size_t i;

	for (i = 0; def->name[i] && i + 1 < cap; i++)
		out[i] = def->name[i] == '-' ? '_' : def->name[i];
	out[i] = '\0';
}

static void conn_name(PGconn *c, char *out, size_t cap)
{
	const char *host = PQhost(c);

	snprintf(out, cap, "%s@%s:%s/%s", PQuser(c) ? PQuser(c) : "?",
		 host && host[0] == '/' ? "(socket)" : host ? host : "?", PQport(c) ? PQport(c) : "?",
		 PQdb(c) ? PQdb(c) : "?");
}

static void report(const char *name, const char *what, PGconn *c, const PGresult *res)
{
	const char *msg = res ? PQresultErrorMessage(res) : "";
	size_t n;

	if (!msg || !msg[0])
		msg = c ? PQerrorMessage(c) : "out of memory";
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		n--;
	fprintf(stderr, PROG ": store %s: %s: %.*s\n", name, what, (int)n, msg);
}

static int ok(const PGresult *res)
{
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

static int is_unique_violation(const PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	return state && strcmp(state, "23505") == 0;
}

/* Connects and sets the session: the sector's schema first in the
 * search_path, synchronous commits, UTF-8. NDX_EIO when unreachable. */
static int connect_schema(const char *conninfo, const char *schema, PGconn **out, char *name,
			  size_t cap)
{
	char sql[256];
	PGconn *c;
	PGresult *res;
	const char *why = NULL;

	*out = NULL;
	if (ndx_sqldb_check(conninfo, &why) != NDX_OK) {
		fprintf(stderr, PROG ": store: %s\n", why);
		return NDX_EINVAL;
	}
	c = PQconnectdb(conninfo);
	if (!c || PQstatus(c) != CONNECTION_OK) {
		const char *msg = c ? PQerrorMessage(c) : "out of memory";
		size_t n = strlen(msg);
		while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
			n--;
		fprintf(stderr, PROG ": store: cannot connect to PostgreSQL: %.*s\n", (int)n, msg);
		PQfinish(c);
		return NDX_EIO;
	}
	conn_name(c, name, cap);
	snprintf(sql, sizeof sql,
		 "SET search_path = \"%s\"; SET synchronous_commit = on;"
		 " SET client_min_messages = warning; SET client_encoding = 'UTF8';"
		 " SET application_name = '" PROG "'",
		 schema);
	res = PQexec(c, sql);
	if (!ok(res)) {
		report(name, "session", c, res);
		PQclear(res);
		PQfinish(c);
		return NDX_EDB;
	}
	PQclear(res);
	*out = c;
	return NDX_OK;
}

/* Outside a transaction, a dropped connection is opened again. */
static int ensure_conn(struct store_pg *p)
{
	char sql[128];
	PGresult *res;

	if (PQstatus(p->conn) == CONNECTION_OK)
		return NDX_OK;
	if (p->in_txn)
		return NDX_EDB;
	PQreset(p->conn);
	if (PQstatus(p->conn) != CONNECTION_OK) {
		report(p->name, "cannot reconnect", p->conn, NULL);
		return NDX_EDB;
	}
	snprintf(sql, sizeof sql, "SET search_path = \"%s\"; SET synchronous_commit = on",
		 p->schema);
	res = PQexec(p->conn, sql);
	int rc = ok(res) ? NDX_OK : NDX_EDB;
	if (rc)
		report(p->name, "session", p->conn, res);
	PQclear(res);
	return rc;
}

/* Runs sql with n text parameters (NULL: SQL NULL); *res holds the result
 * (caller clears) when the statement succeeded. NDX_EEXIST on a unique
 * key, NDX_EDB otherwise (reported). */
static int run(struct store_pg *p, const char *what, const char *sql, int n,
	       const char *const *params, PGresult **res)
{
	PGresult *r;

	*res = NULL;
	if (ensure_conn(p))
		return NDX_EDB;
	r = PQexecParams(p->conn, sql, n, NULL, params, NULL, NULL, 0);
	if (!ok(r) && !p->in_txn && PQstatus(p->conn) == CONNECTION_BAD && !ensure_conn(p)) {
		PQclear(r);
		r = PQexecParams(p->conn, sql, n, NULL, params, NULL, NULL, 0);
	}
	if (!ok(r)) {
		int rc = is_unique_violation(r) ? NDX_EEXIST : NDX_EDB;
		if (rc == NDX_EDB)
			report(p->name, what, p->conn, r);
		PQclear(r);
		return rc;
	}
	*res = r;
	return NDX_OK;
}

static int exec_simple(PGconn *c, const char *name, const char *what, const char *sql)
{
	PGresult *res = PQexec(c, sql);
	int rc = ok(res) ? NDX_OK : is_unique_violation(res) ? NDX_EEXIST : NDX_EDB;

	if (rc == NDX_EDB)
		report(name, what, c, res);
	PQclear(res);
	return rc;
}

/* ---- schema ------------------------------------------------------------------- */

static const char *pg_type(enum col_type t)
{
	return t == COL_INT ? "bigint" : t == COL_REAL ? "double precision" : "text";
}

/* The outbox of the sector's events (sec_outbox.h), added by version 2:
 * seq in the order of the writes' commits (a write holds the schema's
 * write lock, store_pg_begin, so the identity is drawn in commit order). */
#define OUTBOX_TABLE_SQL                                                                   \
	"CREATE TABLE IF NOT EXISTS \"%s\".event_outbox(seq bigint GENERATED ALWAYS AS"     \
	" IDENTITY PRIMARY KEY, service text NOT NULL, name text NOT NULL, subject text"    \
	" NOT NULL, payload text NOT NULL, created_at text NOT NULL, attempts integer NOT"  \
	" NULL DEFAULT 0, next_at_ms bigint NOT NULL DEFAULT 0, last_error text, event_id"  \
	" text NOT NULL);"

/* The record of the events the sector applied (sec_apply.h), added by
 * version 3: one row an event id, written in the transaction of the
 * change it made. */
#define APPLIED_TABLE_SQL                                                                  \
	"CREATE TABLE IF NOT EXISTS \"%s\".event_applied(id text PRIMARY KEY, name text"     \
	" NOT NULL, applied_at text NOT NULL, effect text NOT NULL);"

/* The reconciliation's own tables (sec_reconcile.h), added by version 4:
 * its runs, the position each run reached in each table (the last key
 * read, in the key's order, and the records done), the answers stored
 * (rid: the record's place in the run's reading order) and the
 * corrections made from them. SQLite's are those of sec_reconcile.c,
 * made by the first run. */
#define RECONCILE_TABLES_SQL                                                               \
	"CREATE TABLE IF NOT EXISTS \"%s\".reconcile_runs(id bigint GENERATED BY DEFAULT AS"  \
	" IDENTITY PRIMARY KEY, started_at text NOT NULL, finished_at text);"                \
	"CREATE TABLE IF NOT EXISTS \"%s\".reconcile_position(run bigint NOT NULL, tbl text"  \
	" NOT NULL, last_key text NOT NULL, done bigint NOT NULL, PRIMARY KEY(run, tbl));"  \
	"CREATE TABLE IF NOT EXISTS \"%s\".reconcile_results(run bigint NOT NULL, tbl text"   \
	" NOT NULL, rid bigint NOT NULL, record_key text NOT NULL, pin text, result text"   \
	" NOT NULL, PRIMARY KEY(run, tbl, rid));"                                            \
	"CREATE TABLE IF NOT EXISTS \"%s\".reconcile_corrections(id bigint GENERATED BY"     \
	" DEFAULT AS IDENTITY PRIMARY KEY, run bigint NOT NULL, tbl text NOT NULL,"          \
	" record_key text NOT NULL, field text NOT NULL, kind text NOT NULL, old_value text," \
	" new_value text NOT NULL, officer text NOT NULL, corrected_at text NOT NULL,"       \
	" events text, UNIQUE(run, tbl, record_key, field));"

/* The current version: meta, the tables (no indexes: store_indexes_sql
 * adds them), the outbox (version 2), the applied events (version 3), the
 * reconciliation's tables (version 4). */
static char *schema_sql(const struct sector_def *def, const char *schema)
{
	size_t cap = 8192, len = 0;
	char *s = malloc(cap);

	if (!s)
		return NULL;
#define ADD(...)                                                                         \
	do {                                                                             \
		int n_ = snprintf(s + len, cap - len, __VA_ARGS__);                      \
		if (n_ < 0 || (size_t)n_ >= cap - len) {                                 \
			free(s);                                                         \
			return NULL;                                                     \
		}                                                                        \
		len += (size_t)n_;                                                       \
	} while (0)
	ADD("CREATE SCHEMA \"%s\";"
	    "CREATE TABLE \"%s\".meta(key text PRIMARY KEY, value text NOT NULL);"
	    "INSERT INTO \"%s\".meta VALUES('pg_schema', '%d');" OUTBOX_TABLE_SQL
	    APPLIED_TABLE_SQL RECONCILE_TABLES_SQL,
	    schema, schema, schema, STORE_PG_SCHEMA_VERSION, schema, schema, schema, schema, schema,
	    schema);
	for (size_t i = 0; i < def->ntables; i++) {
		const struct sector_table *t = &def->tables[i];
		ADD("CREATE TABLE \"%s\".%s(", schema, t->name);
		if (!t->key)
			ADD("id bigint GENERATED BY DEFAULT AS IDENTITY, ");
		for (size_t j = 0; j < t->ncols; j++) {
			const struct sector_column *c = &t->cols[j];
			ADD("%s %s%s, ", c->name, pg_type(c->type),
			    (c->flags & COL_REQUIRED) ? " NOT NULL" : "");
			if (c->flags & COL_NAME)
				ADD("name_folded text COLLATE \"C\" NOT NULL, ");
		}
		ADD("updated_at text NOT NULL);");
	}
#undef ADD
	return s;
}

/* The indexes: the SQLite store's (store_indexes_sql), and a key-less
 * table's id as its primary key. */
static int build_indexes(PGconn *c, const char *name, const struct sector_def *def)
{
	char sql[256];
	char *text;
	int rc;

	for (size_t i = 0; i < def->ntables; i++) {
		if (def->tables[i].key)
			continue;
		snprintf(sql, sizeof sql,
			 "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid ="
			 " '%s'::regclass AND contype = 'p') THEN ALTER TABLE %s ADD PRIMARY KEY (id);"
			 " END IF; END $$",
			 def->tables[i].name, def->tables[i].name);
		if ((rc = exec_simple(c, name, "index", sql)))
			return rc;
	}
	if (!(text = store_indexes_sql(def, 1)))
		return NDX_ENOMEM;
	rc = exec_simple(c, name, "index", text);
	free(text);
	return rc;
}

/* The meta row key of the current schema, or NULL (none, or no meta). */
static char *meta_get(PGconn *c, const char *schema, const char *key)
{
	const char *params[2] = { schema, key };
	PGresult *res;
	char *v = NULL;

	res = PQexecParams(c,
			   "SELECT value FROM meta WHERE key = $2 AND EXISTS (SELECT 1 FROM"
			   " pg_namespace WHERE nspname = $1)",
			   2, NULL, params, NULL, NULL, 0);
	if (ok(res) && PQntuples(res) == 1)
		v = strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

static int schema_exists(PGconn *c, const char *schema)
{
	const char *params[1] = { schema };
	PGresult *res = PQexecParams(c, "SELECT 1 FROM pg_namespace WHERE nspname = $1", 1, NULL,
				     params, NULL, NULL, 0);
	int r = !ok(res) ? NDX_EDB : PQntuples(res) > 0;

	PQclear(res);
	return r;
}

/* One step of an upgrade, inside schema_ready's transaction. */
static int upgrade_step(struct store_pg *p, const char *sql)
{
	return exec_simple(p->conn, p->name, "schema upgrade", sql) ? NDX_EDB : NDX_OK;
}

/* Makes the schema when missing (create) and checks it is the sector's at
 * a version this program knows. Serialized by an advisory lock so that
 * two first starts do not both create. */
static int schema_ready(struct store_pg *p, int create)
{
	char lock[160];
	char *sector = NULL, *version = NULL, *text;
	int rc, exists;

	snprintf(lock, sizeof lock, "BEGIN; SELECT pg_advisory_xact_lock(hashtext('" PROG ":%s'))",
		 p->schema);
	if ((rc = exec_simple(p->conn, p->name, "schema", lock)))
		return rc;
	if ((exists = schema_exists(p->conn, p->schema)) < 0) {
		rc = NDX_EDB;
		goto out;
	}
	if (!exists && !create) {
		fprintf(stderr, PROG ": store %s: no schema %s (seed or serve it first)\n", p->name,
			p->schema);
		rc = NDX_EIO;
		goto out;
	}
	if (!exists) {
		if (!(text = schema_sql(p->def, p->schema))) {
			rc = NDX_ENOMEM;
			goto out;
		}
		rc = exec_simple(p->conn, p->name, "schema", text);
		free(text);
		if (rc || (rc = build_indexes(p->conn, p->name, p->def)))
			goto out;
		const char *params[1] = { p->def->name };
		PGresult *res = PQexecParams(p->conn, "INSERT INTO meta VALUES('sector', $1)", 1,
					     NULL, params, NULL, NULL, 0);
		rc = ok(res) ? NDX_OK : NDX_EDB;
		if (rc)
			report(p->name, "schema", p->conn, res);
		PQclear(res);
		if (rc)
			goto out;
	}
	sector = meta_get(p->conn, p->schema, "sector");
	version = meta_get(p->conn, p->schema, "pg_schema");
	if (!sector) {
		fprintf(stderr, PROG ": store %s: schema %s is not a sector database"
				" (or its seed did not finish)\n", p->name, p->schema);
		rc = NDX_EDB;
	} else if (strcmp(sector, p->def->name) != 0) {
		fprintf(stderr, PROG ": store %s: schema %s holds the %s sector, not %s\n", p->name,
			p->schema, sector, p->def->name);
		rc = NDX_EDB;
	} else if (!version || atoi(version) > STORE_PG_SCHEMA_VERSION || atoi(version) < 1) {
		fprintf(stderr, PROG ": store %s: schema %s is at version %s, this program knows"
				" up to %d\n", p->name, p->schema, version ? version : "(none)",
			STORE_PG_SCHEMA_VERSION);
		rc = NDX_EDB;
	}
	/* An older version is brought up to date here, in this transaction
	 * (under the lock: one process upgrades, and a failed step leaves the
	 * schema as it was). 1 -> 2: the outbox; 2 -> 3: the applied events;
	 * 3 -> 4: the reconciliation's tables. */
	if (rc == NDX_OK && atoi(version) < STORE_PG_SCHEMA_VERSION) {
		char sql[2048];
		int from = atoi(version);

		snprintf(sql, sizeof sql, OUTBOX_TABLE_SQL, p->schema);
		if (from < 2 && (rc = upgrade_step(p, sql)))
			goto out;
		snprintf(sql, sizeof sql, APPLIED_TABLE_SQL, p->schema);
		if (from < 3 && (rc = upgrade_step(p, sql)))
			goto out;
		snprintf(sql, sizeof sql, RECONCILE_TABLES_SQL, p->schema, p->schema, p->schema,
			 p->schema);
		if (from < 4 && (rc = upgrade_step(p, sql)))
			goto out;
		snprintf(sql, sizeof sql, "UPDATE \"%s\".meta SET value = '%d' WHERE key = 'pg_schema'",
			 p->schema, STORE_PG_SCHEMA_VERSION);
		if ((rc = exec_simple(p->conn, p->name, "schema upgrade", sql)) == NDX_OK)
			fprintf(stderr, PROG ": store %s: schema %s upgraded from version %d to %d"
					" (%s)\n", p->name, p->schema, from, STORE_PG_SCHEMA_VERSION,
				from < 2   ? "event_outbox, event_applied, reconcile_*"
				: from < 3 ? "event_applied, reconcile_*"
					   : "reconcile_*");
		else
			rc = NDX_EDB;
	}
out:
	free(sector);
	free(version);
	if (exec_simple(p->conn, p->name, "schema", rc ? "ROLLBACK" : "COMMIT") && !rc)
		rc = NDX_EDB;
	return rc;
}

int store_pg_open(const char *conninfo, const struct sector_def *def, int create,
		  struct store_pg **out)
{
	struct store_pg *p;
	int rc;

	*out = NULL;
	if (!(p = calloc(1, sizeof *p)))
		return NDX_ENOMEM;
	p->def = def;
	schema_name(def, p->schema, sizeof p->schema);
	if ((rc = connect_schema(conninfo, p->schema, &p->conn, p->name, sizeof p->name)) ||
	    (rc = schema_ready(p, create))) {
		store_pg_close(p);
		return rc;
	}
	*out = p;
	return NDX_OK;
}

void store_pg_close(struct store_pg *p)
{
	if (!p)
		return;
	PQfinish(p->conn);
	free(p);
}

/* ---- transactions ------------------------------------------------------------------ */

int store_pg_begin(struct store_pg *p)
{
	char sql[160];
	int rc;

	if (ensure_conn(p))
		return NDX_EDB;
	snprintf(sql, sizeof sql, "BEGIN; SELECT pg_advisory_xact_lock(hashtext('" PROG ":%s'))",
		 p->schema);
	if ((rc = exec_simple(p->conn, p->name, "begin", sql)) == NDX_OK)
		p->in_txn = 1;
	else
		exec_simple(p->conn, p->name, "rollback", "ROLLBACK");
	return rc;
}

int store_pg_commit(struct store_pg *p)
{
	int rc = exec_simple(p->conn, p->name, "commit", "COMMIT");

	if (rc)
		store_pg_rollback(p);
	p->in_txn = 0;
	return rc ? NDX_EDB : NDX_OK;
}

void store_pg_rollback(struct store_pg *p)
{
	if (PQtransactionStatus(p->conn) != PQTRANS_IDLE) {
		PGresult *res = PQexec(p->conn, "ROLLBACK");
		PQclear(res);
	}
	p->in_txn = 0;
}

/* ---- reads ------------------------------------------------------------------------- */

static void select_columns(struct ndx_text *s, const struct sector_table *t)
{
	ndx_text_addf(s, "SELECT %s", t->key ? t->key : "id");
	for (size_t j = 0; j < t->ncols; j++)
		ndx_text_addf(s, ", %s", t->cols[j].name);
	ndx_text_addf(s, ", updated_at FROM %s", t->name);
}

static json_t *row_object(const PGresult *res, int r, const struct sector_table *t)
{
	json_t *o = json_object();
	int col = 1;

	if (!o)
		return NULL;
	if (!t->key)
		json_object_set_new(o, "id", json_integer(strtoll(PQgetvalue(res, r, 0), NULL, 10)));
	for (size_t j = 0; j < t->ncols; j++, col++) {
		const struct sector_column *c = &t->cols[j];
		const char *v = PQgetvalue(res, r, col);
		json_t *jv;
		if (PQgetisnull(res, r, col))
			jv = json_null();
		else if (c->type == COL_INT)
			jv = json_integer(strtoll(v, NULL, 10));
		else if (c->type == COL_REAL)
			jv = json_real(strtod(v, NULL));
		else
			jv = json_stringn(v, (size_t)PQgetlength(res, r, col));
		json_object_set_new(o, c->name, jv ? jv : json_null());
	}
	json_object_set_new(o, "updated_at", json_string(PQgetvalue(res, r, col)));
	return o;
}

/* A key-less table's id as the decimal text of a positive integer, or 0. */
static int id_number(const char *id, long long *n)
{
	char *end;

	*n = strtoll(id, &end, 10);
	return *id != '\0' && !*end && *n > 0;
}

int store_pg_get(struct store_pg *p, const struct sector_table *t, const char *id, json_t **out)
{
	struct ndx_text s = NDX_TEXT_INIT;
	const char *params[1] = { id };
	PGresult *res;
	char *sql;
	long long n;
	int rc;

	*out = NULL;
	if (!t->key && !id_number(id, &n))
		return NDX_ENOTFOUND;
	select_columns(&s, t);
	ndx_text_addf(&s, " WHERE %s = $1", t->key ? t->key : "id");
	if (!(sql = ndx_text_take(&s)))
		return NDX_ENOMEM;
	rc = run(p, "get", sql, 1, params, &res);
	free(sql);
	if (rc)
		return rc == NDX_EEXIST ? NDX_EDB : rc;
	if (PQntuples(res) == 0)
		rc = NDX_ENOTFOUND;
	else
		rc = (*out = row_object(res, 0, t)) ? NDX_OK : NDX_ENOMEM;
	PQclear(res);
	return rc;
}

static int utf8_valid(const char *p)
{
	const unsigned char *s = (const unsigned char *)p;

	while (*s) {
		int n = *s < 0x80 ? 0 : (*s & 0xe0) == 0xc0 ? 1 : (*s & 0xf0) == 0xe0 ? 2
			: (*s & 0xf8) == 0xf0 ? 3 : -1;
		if (n < 0 || (n == 1 && *s < 0xc2) || (n == 3 && *s > 0xf4))
			return 0;
		s++;
		for (int i = 0; i < n; i++, s++)
			if ((*s & 0xc0) != 0x80)
				return 0;
	}
	return 1;
}

/* p with LIKE's metacharacters escaped, then '%'. -1 when it does not fit. */
static int like_prefix(const char *p, char *out, size_t cap)
{
	size_t n = 0;

	for (; *p; p++) {
		if (n + 3 >= cap)
			return -1;
		if (*p == '%' || *p == '_' || *p == '\\')
			out[n++] = '\\';
		out[n++] = *p;
	}
	out[n++] = '%';
	out[n] = '\0';
	return 0;
}

int store_pg_list(struct store_pg *p, const struct sector_table *t, const struct store_query *q,
		  json_t **out)
{
	struct ndx_text s = NDX_TEXT_INIT;
	const char *params[STORE_MAX_FILTERS + 4];
	char pattern[2 * STORE_FOLDED_MAX + 2], limit[24], offset[24];
	const char *order = t->key ? t->key : "id";
	int n = 0, rc, by_name = q->name_prefix && *q->name_prefix;
	PGresult *res;
	json_t *arr;
	char *sql;

	*out = NULL;
	/* Every stored name is UTF-8 (the server refuses anything else): a
	 * prefix that is not starts none of them. */
	if (by_name && !utf8_valid(q->name_prefix))
		return (*out = json_array()) ? NDX_OK : NDX_ENOMEM;
	select_columns(&s, t);
	ndx_text_addf(&s, " WHERE true");
	if (by_name) {
		/* LIKE 'prefix%' in the "C" collation: the planner makes it
		 * the byte range of SQLite's store (>= prefix, < the next
		 * string), on the same index, with an upper bound that stays
		 * UTF-8. */
		if (like_prefix(q->name_prefix, pattern, sizeof pattern))
			return NDX_ETOOBIG;
		params[n++] = pattern;
		ndx_text_addf(&s, " AND name_folded LIKE $%d", n);
	}
	for (size_t i = 0; i < q->nfilters && i < STORE_MAX_FILTERS; i++) {
		params[n++] = q->filter_values[i];
		ndx_text_addf(&s, " AND %s = $%d", q->filter_cols[i], n);
	}
	snprintf(limit, sizeof limit, "%zu", q->limit);
	snprintf(offset, sizeof offset, "%zu", q->offset);
	params[n++] = limit;
	params[n++] = offset;
	if (by_name)
		ndx_text_addf(&s, " ORDER BY name_folded, %s", order);
	else
		ndx_text_addf(&s, " ORDER BY %s", order);
	ndx_text_addf(&s, " LIMIT $%d OFFSET $%d", n - 1, n);
	if (!(sql = ndx_text_take(&s)))
		return NDX_ENOMEM;
	rc = run(p, "list", sql, n, params, &res);
	free(sql);
	if (rc)
		return NDX_EDB;
	if (!(arr = json_array())) {
		PQclear(res);
		return NDX_ENOMEM;
	}
	for (int r = 0; r < PQntuples(res); r++) {
		json_t *o = row_object(res, r, t);
		if (!o || json_array_append_new(arr, o)) {
			PQclear(res);
			json_decref(arr);
			return NDX_ENOMEM;
		}
	}
	PQclear(res);
	*out = arr;
	return NDX_OK;
}

int store_pg_household_members(struct store_pg *p, const char *id, json_t **out)
{
	static const char *const COLS[] = { "pin", "full_name", "relation", "birth_date" };
	const char *params[1] = { id };
	PGresult *res;
	json_t *list;
	int rc;

	*out = NULL;
	if ((rc = run(p, "household",
		      "SELECT pin, full_name, relation, birth_date FROM citizens"
		      " WHERE household_id = $1 AND deceased_on IS NULL ORDER BY birth_date, pin",
		      1, params, &res)))
		return NDX_EDB;
	if (!(list = json_array())) {
		PQclear(res);
		return NDX_ENOMEM;
	}
	for (int r = 0; r < PQntuples(res); r++) {
		json_t *m = json_object();
		if (!m || json_array_append_new(list, m)) {
			PQclear(res);
			json_decref(list);
			return NDX_ENOMEM;
		}
		for (int i = 0; i < 4; i++)
			if (!PQgetisnull(res, r, i))
				json_object_set_new(m, COLS[i], json_string(PQgetvalue(res, r, i)));
	}
	PQclear(res);
	*out = list;
	return NDX_OK;
}

int store_pg_exists(struct store_pg *p, const char *table, const char *col, const char *value)
{
	char sql[256];
	const char *params[1] = { value };
	PGresult *res;
	int r;

	snprintf(sql, sizeof sql, "SELECT 1 FROM %s WHERE %s = $1 LIMIT 1", table, col);
	if (run(p, "exists", sql, 1, params, &res))
		return NDX_EDB;
	r = PQntuples(res) > 0;
	PQclear(res);
	return r;
}

int store_pg_texts(struct store_pg *p, const char *table, const char *col, const char *where_col,
		   const char *value, int (*each)(void *ctx, const char *v), void *ctx)
{
	char sql[256];
	const char *params[1] = { value };
	PGresult *res;
	int rc = NDX_OK;

	snprintf(sql, sizeof sql, "SELECT %s FROM %s WHERE %s = $1", col, table, where_col);
	if (run(p, "select", sql, 1, params, &res))
		return NDX_EDB;
	for (int r = 0; r < PQntuples(res) && rc == NDX_OK; r++)
		rc = each(ctx, PQgetisnull(res, r, 0) ? NULL : PQgetvalue(res, r, 0));
	PQclear(res);
	return rc;
}

long long store_pg_count(struct store_pg *p, const char *table)
{
	char sql[512];
	PGresult *res;
	long long n;

	snprintf(sql, sizeof sql,
		 "SELECT CASE WHEN c.reltuples >= 0 THEN c.reltuples::bigint"
		 " ELSE (SELECT count(*) FROM %s) END FROM pg_class c WHERE c.oid = '%s'::regclass",
		 table, table);
	if (run(p, "count", sql, 0, NULL, &res))
		return -1;
	n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return n;
}

int store_pg_citizens(struct store_pg *p, int by, const char *a, const char *b, unsigned limit,
		      int (*each)(void *ctx, const struct store_citizen *cit), void *ctx)
{
#define COLS "SELECT pin, full_name, birth_date, sex, permanent_address, deceased_on IS NULL" \
	     " FROM citizens WHERE "
	/* Ties in number order: the index (name_folded, pin) serves a name
	 * alone in that order; birth date and address pick few enough. */
	static const char *const SQL[STORE_BY_COUNT] = {
		COLS "pin = $1 LIMIT $2",
		COLS "name_folded = $1 ORDER BY pin LIMIT $2",
		COLS "name_folded = $1 AND birth_date = $2 ORDER BY pin LIMIT $3",
		COLS "name_folded = $1 AND permanent_address = $2 ORDER BY pin LIMIT $3",
	};
#undef COLS
	char lim[16];
	int two = by == STORE_BY_PIN || by == STORE_BY_NAME;
	const char *params[3] = { a, two ? lim : b, lim };
	PGresult *res;
	int rc = NDX_OK;

	if (by < 0 || by >= STORE_BY_COUNT)
		return NDX_EINVAL;
	snprintf(lim, sizeof lim, "%u", limit);
	if (run(p, "citizens", SQL[by], two ? 2 : 3, params, &res))
		return NDX_EDB;
	for (int r = 0; r < PQntuples(res) && rc == NDX_OK; r++) {
		struct store_citizen cit = {
			PQgetvalue(res, r, 0), PQgetvalue(res, r, 1), PQgetvalue(res, r, 2),
			PQgetvalue(res, r, 3), PQgetvalue(res, r, 4), PQgetvalue(res, r, 5)[0] == 't',
		};
		rc = each(ctx, &cit);
	}
	PQclear(res);
	return rc;
}

int store_pg_read_begin(struct store_pg *p)
{
	if (ensure_conn(p))
		return NDX_EDB;
	if (exec_simple(p->conn, p->name, "snapshot",
			"BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
		return NDX_EDB;
	p->in_txn = 1;
	return NDX_OK;
}

/* ---- writes ------------------------------------------------------------------------ */

/* The row's values as text parameters in column order (the folded name
 * after its column), then updated_at. vals holds the numbers' texts. */
static int row_params(const struct sector_table *t, const json_t *row, const char **params,
		      int *n, char (*vals)[32], char *folded, size_t folded_cap)
{
	for (size_t j = 0; j < t->ncols; j++) {
		const struct sector_column *c = &t->cols[j];
		const json_t *v = json_object_get(row, c->name);
		if (*n + 3 > MAX_PARAMS)
			return NDX_ETOOBIG;
		if (!v || json_is_null(v)) {
			params[*n] = NULL;
		} else if (json_is_integer(v)) {
			snprintf(vals[*n], 32, "%lld", (long long)json_integer_value(v));
			params[*n] = vals[*n];
		} else if (json_is_number(v)) {
			snprintf(vals[*n], 32, "%.17g", json_number_value(v));
			params[*n] = vals[*n];
		} else {
			params[*n] = json_string_value(v);
		}
		(*n)++;
		if (c->flags & COL_NAME) {
			if (ndx_fold(v && json_is_string(v) ? json_string_value(v) : "", folded,
				     folded_cap) < 0)
				return NDX_ETOOBIG;
			params[(*n)++] = folded;
		}
	}
	return NDX_OK;
}

/* The INSERT (a key-less table's returning the new id) or the UPDATE of
 * store_pg_put, for n parameters in row_params' order, updated_at, and
 * for an UPDATE the key last. malloc'd, NULL on no memory. */
static char *put_sql(const struct sector_table *t, int update, int n)
{
	struct ndx_text s = NDX_TEXT_INIT;
	int k = 0;

	if (!update) {
		ndx_text_addf(&s, "INSERT INTO %s(", t->name);
		for (size_t j = 0; j < t->ncols; j++) {
			ndx_text_addf(&s, "%s, ", t->cols[j].name);
			if (t->cols[j].flags & COL_NAME)
				ndx_text_addf(&s, "name_folded, ");
		}
		ndx_text_addf(&s, "updated_at) VALUES(");
		for (int i = 1; i < n; i++)
			ndx_text_addf(&s, "$%d, ", i);
		ndx_text_addf(&s, "$%d)%s", n, t->key ? "" : " RETURNING id");
		return ndx_text_take(&s);
	}
	ndx_text_addf(&s, "UPDATE %s SET ", t->name);
	for (size_t j = 0; j < t->ncols; j++) {
		ndx_text_addf(&s, "%s = $%d, ", t->cols[j].name, ++k);
		if (t->cols[j].flags & COL_NAME)
			ndx_text_addf(&s, "name_folded = $%d, ", ++k);
	}
	ndx_text_addf(&s, "updated_at = $%d WHERE %s = $%d", k + 1, t->key ? t->key : "id", k + 2);
	return ndx_text_take(&s);
}

int store_pg_put(struct store_pg *p, const struct sector_table *t, const char *id,
		 const json_t *row, char *out_id, size_t cap)
{
	const char *params[MAX_PARAMS];
	char vals[MAX_PARAMS][32], now[NDX_TIME_TEXT_LEN], folded[STORE_FOLDED_MAX], numtext[32];
	const char *key_value = NULL;
	long long num = 0;
	int rc, n = 0;
	PGresult *res;
	char *sql;

	ndx_time_format(time(NULL), now);
	if (t->key) {
		key_value = id ? id : json_string_value(json_object_get(row, t->key));
		if (!key_value)
			return NDX_EINVAL;
		if ((rc = store_pg_exists(p, t->name, t->key, key_value)) < 0)
			return rc;
		if (!id && rc == 1)
			return NDX_EEXIST;
		if (id && rc == 0)
			return NDX_ENOTFOUND;
	} else if (id) {
		if (!id_number(id, &num))
			return NDX_ENOTFOUND;
		snprintf(numtext, sizeof numtext, "%lld", num);
		if ((rc = store_pg_exists(p, t->name, "id", numtext)) < 0)
			return rc;
		if (rc == 0)
			return NDX_ENOTFOUND;
	}
	if ((rc = row_params(t, row, params, &n, vals, folded, sizeof folded)))
		return rc;
	params[n++] = now;
	if (id)
		params[n++] = t->key ? id : numtext;
	if (!(sql = put_sql(t, id != NULL, n)))
		return NDX_ENOMEM;
	rc = run(p, "put", sql, n, params, &res);
	free(sql);
	if (rc)
		return rc;
	if (t->key)
		snprintf(out_id, cap, "%s", key_value);
	else if (id)
		snprintf(out_id, cap, "%lld", num);
	else
		snprintf(out_id, cap, "%s", PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : "");
	PQclear(res);
	return NDX_OK;
}

/* ---- statements of the features written once for both engines ---------------- */

/* sql with SQLite's numbered parameters ?N written as PostgreSQL's $N
 * (malloc'd; NULL when out of memory). The SQL is the program's own, with
 * no '?' but its parameters'. */
static char *numbered(const char *sql)
{
	char *q = strdup(sql);

	for (char *c = q; c && *c; c++)
		if (*c == '?' && c[1] >= '1' && c[1] <= '9')
			*c = '$';
	return q;
}

int store_pg_exec(struct store_pg *p, const char *sql, int n, const char *const *params,
		  long long *changes)
{
	/* Every parameter text (TEXTOID, catalog/pg_type_d.h, not in libpq's
	 * headers): a ?N a statement does not use still has a type. */
	enum { TEXT_OID = 25 };
	static const Oid TEXT[STORE_PG_EXEC_MAX] = {
		TEXT_OID, TEXT_OID, TEXT_OID, TEXT_OID, TEXT_OID, TEXT_OID, TEXT_OID, TEXT_OID,
		TEXT_OID, TEXT_OID, TEXT_OID, TEXT_OID, TEXT_OID, TEXT_OID, TEXT_OID, TEXT_OID
	};
	PGresult *res;
	char *q;
	int rc = NDX_OK;

	if (n < 0 || n > STORE_PG_EXEC_MAX)
		return NDX_EINVAL;
	if (!(q = numbered(sql)))
		return NDX_ENOMEM;
	if (ensure_conn(p)) {
		free(q);
		return NDX_EDB;
	}
	res = PQexecParams(p->conn, q, n, TEXT, params, NULL, NULL, 0);
	free(q);
	if (!ok(res)) {
		rc = is_unique_violation(res) ? NDX_EEXIST : NDX_EDB;
		if (rc == NDX_EDB)
			report(p->name, "statement", p->conn, res);
	} else if (changes) {
		*changes = atoll(PQcmdTuples(res));
	}
	PQclear(res);
	return rc;
}

int store_pg_query(struct store_pg *p, const char *sql, int n, const char *const *params,
		   int (*each)(void *ctx, int ncols, const char *const *vals), void *ctx)
{
	const char *vals[STORE_PG_QUERY_COLS];
	PGresult *res;
	char *q;
	int rc = NDX_OK, sent;

	if (n < 0 || n > STORE_PG_EXEC_MAX)
		return NDX_EINVAL;
	if (!(q = numbered(sql)))
		return NDX_ENOMEM;
	if (ensure_conn(p)) {
		free(q);
		return NDX_EDB;
	}
	/* One row at a time (a table of 20 million rows is never held whole);
	 * every result is read to the end, so the connection is ready after. */
	sent = PQsendQueryParams(p->conn, q, n, NULL, params, NULL, NULL, 0) &&
	       PQsetSingleRowMode(p->conn);
	free(q);
	if (!sent) {
		report(p->name, "query", p->conn, NULL);
		while ((res = PQgetResult(p->conn)))
			PQclear(res);
		return NDX_EDB;
	}
	while ((res = PQgetResult(p->conn))) {
		ExecStatusType st = PQresultStatus(res);

		if (st == PGRES_SINGLE_TUPLE && rc == NDX_OK) {
			int nc = PQnfields(res);

			if (nc > STORE_PG_QUERY_COLS) {
				rc = NDX_EINVAL;
			} else {
				for (int i = 0; i < nc; i++)
					vals[i] = PQgetisnull(res, 0, i) ? NULL : PQgetvalue(res, 0, i);
				rc = each(ctx, nc, vals);
			}
		} else if (st != PGRES_SINGLE_TUPLE && st != PGRES_TUPLES_OK && rc == NDX_OK) {
			report(p->name, "query", p->conn, res);
			rc = NDX_EDB;
		}
		PQclear(res);
	}
	return rc;
}

/* ---- the outbox (sec_outbox.h) -------------------------------------------------- */

int store_pg_outbox_add(struct store_pg *p, const char *service, const char *name,
			const char *subject, const char *payload, const char *created_at,
			const char *event_id)
{
	const char *params[6] = { service, name, subject, payload, created_at, event_id };
	PGresult *res;
	int rc;

	if (!p->in_txn)
		return NDX_EDB; /* only beside the record, in its write transaction */
	rc = run(p, "outbox", "INSERT INTO event_outbox(service, name, subject, payload, created_at,"
			      " event_id) VALUES($1, $2, $3, $4, $5, $6)",
		 6, params, &res);
	PQclear(res);
	return rc == NDX_OK ? NDX_OK : NDX_EDB;
}

long long store_pg_outbox_pending(struct store_pg *p)
{
	PGresult *res;
	long long n = -1;

	if (run(p, "outbox", "SELECT count(*) FROM event_outbox", 0, NULL, &res) == NDX_OK) {
		n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		PQclear(res);
	}
	return n;
}

int store_pg_outbox_head(struct store_pg *p, struct store_pg_outbox_row *row)
{
	char sql[160];
	PGresult *res;
	int rc;

	memset(row, 0, sizeof *row);
	if (ensure_conn(p))
		return NDX_EDB;
	/* The drain's turn: a lock of its own (not the writers' of
	 * store_pg_begin, which a publish would hold up), tried, not waited
	 * for; it goes with the transaction, so with the connection of a
	 * process that dies. */
	snprintf(sql, sizeof sql,
		 "BEGIN; SELECT pg_try_advisory_xact_lock(hashtext('" PROG ":%s:outbox'))",
		 p->schema);
	res = PQexec(p->conn, sql);
	if (!ok(res) || PQntuples(res) != 1) {
		report(p->name, "outbox", p->conn, res);
		PQclear(res);
		store_pg_rollback(p);
		return NDX_EDB;
	}
	rc = strcmp(PQgetvalue(res, 0, 0), "t") == 0 ? NDX_OK : NDX_EPERM;
	PQclear(res);
	if (rc) {
		store_pg_rollback(p);
		return rc;
	}
	p->in_txn = 1;
	if ((rc = run(p, "outbox",
		      "SELECT seq, service, name, subject, payload, attempts, next_at_ms, event_id"
		      " FROM event_outbox ORDER BY seq LIMIT 1",
		      0, NULL, &res))) {
		store_pg_rollback(p);
		return NDX_EDB;
	}
	if (PQntuples(res) == 0) {
		PQclear(res);
		store_pg_rollback(p);
		return NDX_ENOTFOUND;
	}
	row->res = res;
	row->seq = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	row->service = PQgetvalue(res, 0, 1);
	row->name = PQgetvalue(res, 0, 2);
	row->subject = PQgetvalue(res, 0, 3);
	row->payload = PQgetvalue(res, 0, 4);
	row->attempts = (unsigned)strtoul(PQgetvalue(res, 0, 5), NULL, 10);
	row->next_at_ms = strtoll(PQgetvalue(res, 0, 6), NULL, 10);
	row->event_id = PQgetvalue(res, 0, 7);
	return NDX_OK;
}

int store_pg_outbox_end(struct store_pg *p, struct store_pg_outbox_row *row, int outcome,
			unsigned attempts, long long next_at_ms, const char *err)
{
	char seq[32], att[32], next[32];
	PGresult *res;
	int rc = NDX_OK;

	snprintf(seq, sizeof seq, "%lld", row->seq);
	snprintf(att, sizeof att, "%u", attempts);
	snprintf(next, sizeof next, "%lld", next_at_ms);
	PQclear(row->res);
	row->res = NULL;
	if (outcome > 0) {
		const char *params[1] = { seq };
		rc = run(p, "outbox", "DELETE FROM event_outbox WHERE seq = $1", 1, params, &res);
	} else if (outcome < 0) {
		const char *params[4] = { att, next, err, seq };
		rc = run(p, "outbox",
			 "UPDATE event_outbox SET attempts = $1, next_at_ms = $2, last_error = $3"
			 " WHERE seq = $4",
			 4, params, &res);
	} else {
		store_pg_rollback(p);
		return NDX_OK;
	}
	if (rc) {
		store_pg_rollback(p);
		return NDX_EDB;
	}
	PQclear(res);
	return store_pg_commit(p);
}

/* ---- bulk load ------------------------------------------------------------------- */

struct copy {
	PGconn *conn;
	char *buf;
	size_t len;
	int open;
};

struct store_pg_bulk {
	const struct sector_def *def;
	char schema[64];
	char name[300];
	PGconn *conn; /* the schema's own: DDL, size, drop */
	struct copy copy[8];
	size_t ncopy;
	int created;
	struct store_pg view; /* conn as a store_pg, for seed --defects */
};

static int copy_flush(struct store_pg_bulk *b, struct copy *c)
{
	if (c->len && PQputCopyData(c->conn, c->buf, (int)c->len) != 1) {
		report(b->name, "copy", c->conn, NULL);
		return NDX_EDB;
	}
	c->len = 0;
	return NDX_OK;
}

int store_pg_bulk_open(const char *conninfo, const struct sector_def *def,
		       struct store_pg_bulk **out)
{
	struct store_pg_bulk *b;
	char *text;
	int rc;

	*out = NULL;
	if (def->ntables > sizeof b->copy / sizeof *b->copy)
		return NDX_EINVAL;
	if (!(b = calloc(1, sizeof *b)))
		return NDX_ENOMEM;
	b->def = def;
	schema_name(def, b->schema, sizeof b->schema);
	if ((rc = connect_schema(conninfo, b->schema, &b->conn, b->name, sizeof b->name)))
		goto fail;
	if ((rc = schema_exists(b->conn, b->schema)) != 0) {
		if (rc > 0)
			fprintf(stderr, PROG " seed: store %s: schema %s exists: refusing to"
					" overwrite\n", b->name, b->schema);
		rc = rc > 0 ? NDX_EEXIST : NDX_EDB;
		goto fail;
	}
	if (!(text = schema_sql(def, b->schema))) {
		rc = NDX_ENOMEM;
		goto fail;
	}
	rc = exec_simple(b->conn, b->name, "schema", text);
	free(text);
	if (rc) {
		rc = rc == NDX_EEXIST ? NDX_EEXIST : NDX_EDB;
		goto fail;
	}
	b->created = 1;
	for (size_t i = 0; i < def->ntables; i++) {
		const struct sector_table *t = &def->tables[i];
		struct copy *c = &b->copy[i];
		struct ndx_text s = NDX_TEXT_INIT;
		char name[300];
		PGresult *res;

		b->ncopy++;
		if ((rc = connect_schema(conninfo, b->schema, &c->conn, name, sizeof name)))
			goto fail;
		/* Nothing to protect while the schema is being born: a
		 * failed seed drops it. */
		if ((rc = exec_simple(c->conn, b->name, "copy", "SET synchronous_commit = off")))
			goto fail;
		if (!(c->buf = malloc(COPY_BUF))) {
			rc = NDX_ENOMEM;
			goto fail;
		}
		ndx_text_addf(&s, "COPY %s(", t->name);
		for (size_t j = 0; j < t->ncols; j++) {
			ndx_text_addf(&s, "%s, ", t->cols[j].name);
			if (t->cols[j].flags & COL_NAME)
				ndx_text_addf(&s, "name_folded, ");
		}
		ndx_text_addf(&s, "updated_at) FROM STDIN");
		if (!(text = ndx_text_take(&s))) {
			rc = NDX_ENOMEM;
			goto fail;
		}
		res = PQexec(c->conn, text);
		free(text);
		if (!res || PQresultStatus(res) != PGRES_COPY_IN) {
			report(b->name, "copy", c->conn, res);
			PQclear(res);
			rc = NDX_EDB;
			goto fail;
		}
		PQclear(res);
		c->open = 1;
	}
	*out = b;
	return NDX_OK;
fail:
	store_pg_bulk_close(b, 0);
	return rc;
}

/* Appends v to the COPY text row, escaped (backslash, tab, newline, CR). */
static int copy_text(struct store_pg_bulk *b, struct copy *c, const char *v)
{
	for (const char *q = v; *q; q++) {
		if (c->len + 2 >= COPY_BUF && copy_flush(b, c))
			return NDX_EDB;
		switch (*q) {
		case '\\': c->buf[c->len++] = '\\'; c->buf[c->len++] = '\\'; break;
		case '\t': c->buf[c->len++] = '\\'; c->buf[c->len++] = 't'; break;
		case '\n': c->buf[c->len++] = '\\'; c->buf[c->len++] = 'n'; break;
		case '\r': c->buf[c->len++] = '\\'; c->buf[c->len++] = 'r'; break;
		default: c->buf[c->len++] = *q; break;
		}
	}
	return NDX_OK;
}

int store_pg_bulk_row(struct store_pg_bulk *b, size_t table, const char *types, va_list ap)
{
	struct copy *c;
	char num[40];

	if (table >= b->ncopy)
		return NDX_EINVAL;
	c = &b->copy[table];
	for (const char *t = types; *t; t++) {
		const char *v;
		if (*t == 's') {
			v = va_arg(ap, const char *);
		} else if (*t == 'i') {
			snprintf(num, sizeof num, "%lld", (long long)va_arg(ap, int64_t));
			v = num;
		} else {
			snprintf(num, sizeof num, "%.17g", va_arg(ap, double));
			v = num;
		}
		if (c->len + 4 >= COPY_BUF && copy_flush(b, c))
			return NDX_EDB;
		if (t != types)
			c->buf[c->len++] = '\t';
		if (!v) {
			c->buf[c->len++] = '\\';
			c->buf[c->len++] = 'N';
		} else if (copy_text(b, c, v)) {
			return NDX_EDB;
		}
	}
	if (c->len + 1 >= COPY_BUF && copy_flush(b, c))
		return NDX_EDB;
	c->buf[c->len++] = '\n';
	return NDX_OK;
}

int store_pg_bulk_end(struct store_pg_bulk *b)
{
	int rc = NDX_OK;

	for (size_t i = 0; i < b->ncopy; i++) {
		struct copy *c = &b->copy[i];
		PGresult *res;
		if (!c->open)
			continue;
		c->open = 0;
		if (copy_flush(b, c) || PQputCopyEnd(c->conn, NULL) != 1) {
			report(b->name, "copy", c->conn, NULL);
			rc = NDX_EDB;
			continue;
		}
		while ((res = PQgetResult(c->conn))) {
			if (PQresultStatus(res) != PGRES_COMMAND_OK) {
				report(b->name, "copy", c->conn, res);
				rc = NDX_EDB;
			}
			PQclear(res);
		}
	}
	return rc;
}

int store_pg_bulk_index(struct store_pg_bulk *b)
{
	const char *params[1] = { b->def->name };
	PGresult *res;
	int rc;

	/* More memory for the sorts of the index builds than a session's
	 * default 64 MB (bench/README.md "Population registry on
	 * PostgreSQL"). */
	if ((rc = exec_simple(b->conn, b->name, "index",
			      "SET maintenance_work_mem = '512MB'")) ||
	    (rc = build_indexes(b->conn, b->name, b->def)) ||
	    (rc = exec_simple(b->conn, b->name, "analyze", "ANALYZE")))
		return NDX_EDB;
	res = PQexecParams(b->conn, "INSERT INTO meta VALUES('sector', $1)", 1, NULL, params, NULL,
			   NULL, 0);
	rc = ok(res) ? NDX_OK : NDX_EDB;
	if (rc)
		report(b->name, "meta", b->conn, res);
	PQclear(res);
	return rc;
}

struct store_pg *store_pg_bulk_conn(struct store_pg_bulk *b)
{
	b->view.conn = b->conn;
	b->view.def = b->def;
	snprintf(b->view.schema, sizeof b->view.schema, "%s", b->schema);
	snprintf(b->view.name, sizeof b->view.name, "%s", b->name);
	return &b->view;
}

uint64_t store_pg_bulk_bytes(struct store_pg_bulk *b)
{
	const char *params[1] = { b->schema };
	PGresult *res = PQexecParams(b->conn,
				     "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM"
				     " pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
				     " WHERE n.nspname = $1 AND c.relkind = 'r'",
				     1, NULL, params, NULL, NULL, 0);
	uint64_t n = ok(res) && PQntuples(res) == 1 ? strtoull(PQgetvalue(res, 0, 0), NULL, 10) : 0;

	PQclear(res);
	return n;
}

void store_pg_bulk_close(struct store_pg_bulk *b, int keep)
{
	char sql[128];

	if (!b)
		return;
	for (size_t i = 0; i < b->ncopy; i++) {
		if (b->copy[i].open && b->copy[i].conn)
			PQputCopyEnd(b->copy[i].conn, "seed failed");
		PQfinish(b->copy[i].conn);
		free(b->copy[i].buf);
	}
	if (!keep && b->created && b->conn) {
		snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS \"%s\" CASCADE", b->schema);
		exec_simple(b->conn, b->name, "drop", sql);
	}
	PQfinish(b->conn);
	free(b);
}
