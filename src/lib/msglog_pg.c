/* The PostgreSQL store behind the message log (the interface is
 * msglog_store.h; the SQLite store, msglog_sqlite.c, is the default and
 * the model this one follows). ndx_msglog_open selects it for a path that
 * is a postgresql:// (or postgres://) connection string; the writer thread,
 * the readers and the replay claims each get their own connection. Several
 * gateway processes may write one log (a gateway cluster, docs/scale.md):
 * the write lock below serialises them, and msglog.c continues whatever
 * head the other left.
 *
 * The tables are the SQLite store's in PostgreSQL types: bigint for
 * sequence numbers, batches and times, bytea for hashes and signatures,
 * text for the rest, and the subject index's subject in the "C" collation
 * so that it sorts byte-wise like the verifier's own list. They are
 * created in the first schema of the connection's search_path (a gateway
 * may keep its log in a schema of its own: options=-csearch_path%3Dname).
 *
 * Transactions are as strong as the SQLite store's: a write transaction
 * takes the log's write lock at once, a read transaction is one REPEATABLE
 * READ snapshot, and every session runs with synchronous_commit = on, so a
 * COMMIT that returned is flushed to the server's WAL on disk (and, where
 * the operator configured synchronous replication, to the standby too).
 * Iterators are server-side cursors fetched a page at a time: a walk over
 * a million records never holds more than one page in memory. Every value
 * travels as a parameter of a prepared statement (binary format), never
 * inside SQL text. Errors are NDX_EDB, with the server's message on
 * stderr naming the store by user, host, port and database (never the
 * connection string itself, which may hold a password). Archive files
 * stay SQLite files (NDX__MSGLOG_ARCHIVE is refused here). */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "msglog_store.h"
#include "ndx/err.h"

/* PostgreSQL's type OIDs (server/catalog/pg_type_d.h, fixed since 7.x). */
#define OID_BYTEA 17
#define OID_INT8 20
#define OID_TEXT 25

/* Rows per FETCH of an iterator's cursor. */
#define PAGE_ROWS 512

/* The schema of this store's tables, created once per log. A later change
 * to it bumps PG_SCHEMA_VERSION and adds the statements that bring an
 * older schema up to it (as the SQLite store added the witnesses table);
 * a log whose pg_schema is newer than this code's is opened for meta_get
 * only, like a log of another format. */
#define PG_SCHEMA_VERSION 1

static const char schema_sql[] =
	/* Two gateways creating one log at once would race in CREATE TABLE IF
	 * NOT EXISTS: the creation is serialised on an advisory lock (of this
	 * transaction only) keyed by the schema's name. */
	"BEGIN;"
	"SELECT pg_advisory_xact_lock(hashtext('ndx-msglog:' || current_schema()));"
	"CREATE TABLE IF NOT EXISTS meta ("
	" key text PRIMARY KEY, value text NOT NULL);"
	"CREATE TABLE IF NOT EXISTS records ("
	" seq bigint PRIMARY KEY, time_ms bigint NOT NULL, direction text NOT NULL,"
	" message_id text NOT NULL, client text NOT NULL, service text NOT NULL,"
	" method text NOT NULL, path text NOT NULL,"
	" subject text NOT NULL, subjects text NOT NULL, purpose text NOT NULL,"
	" user_id text NOT NULL, issue text NOT NULL, represented_party text NOT NULL,"
	" authenticated text NOT NULL,"
	" request_hash bytea, response_hash bytea,"
	" status bigint NOT NULL, duration_ms bigint NOT NULL,"
	" request_sig text NOT NULL, response_sig text NOT NULL,"
	" prev_hash bytea NOT NULL, hash bytea NOT NULL);"
	"CREATE INDEX IF NOT EXISTS records_message_id ON records(message_id);"
	"CREATE TABLE IF NOT EXISTS record_subjects ("
	" subject text COLLATE \"C\" NOT NULL, seq bigint NOT NULL, PRIMARY KEY (subject, seq));"
	"CREATE INDEX IF NOT EXISTS record_subjects_seq ON record_subjects(seq, subject);"
	"CREATE TABLE IF NOT EXISTS batches ("
	" batch bigint PRIMARY KEY, first_seq bigint NOT NULL UNIQUE,"
	" size bigint NOT NULL, root bytea NOT NULL, time_ms bigint NOT NULL,"
	" key_id text NOT NULL, prev_sth_hash bytea NOT NULL, signature bytea NOT NULL);"
	"CREATE TABLE IF NOT EXISTS witnesses ("
	" batch bigint PRIMARY KEY, gateway text NOT NULL, sth_hash bytea NOT NULL,"
	" time_ms bigint NOT NULL, key_id text NOT NULL, signature bytea NOT NULL);"
	/* The replay claims of the gateways that share this log (a gateway
	 * cluster, docs/scale.md): a request's replay key, held until it
	 * expires. UNLOGGED: no WAL, so claims cost no fsync and are not
	 * replicated; a server crash or a failover forgets them (each gateway's
	 * own replay cache still holds the requests it accepted). Not part of
	 * the chain: verify never reads it, and a log from before it gets it
	 * here, its pg_schema unchanged. */
	"CREATE UNLOGGED TABLE IF NOT EXISTS replay_claims ("
	" key bytea PRIMARY KEY, expires_ms bigint NOT NULL);"
	/* The calls each marketplace agreement has had in its current period,
	 * counted by every gateway that shares this log (the agreement's
	 * maximum holds for the cluster, not per node: docs/scale.md). Logged,
	 * unlike the claims: a failover keeps the counts. Not part of the chain
	 * either, and added to an older log here, its pg_schema unchanged. */
	"CREATE TABLE IF NOT EXISTS agreement_calls ("
	" agreement text COLLATE \"C\" NOT NULL, period_start bigint NOT NULL,"
	" calls bigint NOT NULL, PRIMARY KEY (agreement, period_start));"
	"INSERT INTO meta(key, value) VALUES ('pg_schema', '1') ON CONFLICT (key) DO NOTHING;"
	"COMMIT";

#define RECORD_COLS \
	"seq, time_ms, direction, message_id, client, service, method, path, subject," \
	" subjects, purpose, user_id, issue, represented_party, authenticated, request_hash," \
	" response_hash, status, duration_ms, request_sig, response_sig, prev_hash, hash"
#define BATCH_COLS "batch, first_seq, size, root, time_ms, key_id, prev_sth_hash, signature"
#define WITNESS_COLS "batch, gateway, sth_hash, time_ms, key_id, signature"

enum stmt_id {
	S_META_GET, S_META_SET,
	S_PUT_RECORD, S_PUT_SUBJECT, S_PUT_BATCH, S_PUT_WITNESS, S_DEL_RECORDS, S_DEL_SUBJECTS,
	S_DEL_BATCHES, S_CLAIM, S_CLAIM_SWEEP, S_CALL_COUNT, S_CALL_GIVE_BACK, S_CALL_SWEEP,
	S_COUNT
};
/* The statements a store of another format prepares: its meta table only. */
#define S_FOREIGN_COUNT (S_META_SET + 1)

static const struct {
	const char *sql;
	int n;
	Oid types[23];
} stmts[S_COUNT] = {
	[S_META_GET] = { "SELECT value FROM meta WHERE key = $1", 1, { OID_TEXT } },
	[S_META_SET] = { "INSERT INTO meta(key, value) VALUES($1, $2)"
			 " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
			 2, { OID_TEXT, OID_TEXT } },
	[S_PUT_RECORD] = { "INSERT INTO records(" RECORD_COLS ") VALUES"
			   "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,"
			   " $16, $17, $18, $19, $20, $21, $22, $23)",
			   23, { OID_INT8, OID_INT8, OID_TEXT, OID_TEXT, OID_TEXT, OID_TEXT,
				 OID_TEXT, OID_TEXT, OID_TEXT, OID_TEXT, OID_TEXT, OID_TEXT,
				 OID_TEXT, OID_TEXT, OID_TEXT, OID_BYTEA, OID_BYTEA, OID_INT8,
				 OID_INT8, OID_TEXT, OID_TEXT, OID_BYTEA, OID_BYTEA } },
	[S_PUT_SUBJECT] = { "INSERT INTO record_subjects(subject, seq) VALUES($1, $2)"
			    " ON CONFLICT DO NOTHING", 2, { OID_TEXT, OID_INT8 } },
	[S_PUT_BATCH] = { "INSERT INTO batches(" BATCH_COLS ") VALUES"
			  "($1, $2, $3, $4, $5, $6, $7, $8)",
			  8, { OID_INT8, OID_INT8, OID_INT8, OID_BYTEA, OID_INT8, OID_TEXT,
			       OID_BYTEA, OID_BYTEA } },
	[S_PUT_WITNESS] = { "INSERT INTO witnesses(" WITNESS_COLS ") VALUES"
			    "($1, $2, $3, $4, $5, $6) ON CONFLICT (batch) DO UPDATE SET"
			    " gateway = excluded.gateway, sth_hash = excluded.sth_hash,"
			    " time_ms = excluded.time_ms, key_id = excluded.key_id,"
			    " signature = excluded.signature",
			    6, { OID_INT8, OID_TEXT, OID_BYTEA, OID_INT8, OID_TEXT, OID_BYTEA } },
	[S_DEL_RECORDS] = { "DELETE FROM records WHERE seq <= $1", 1, { OID_INT8 } },
	[S_DEL_SUBJECTS] = { "DELETE FROM record_subjects WHERE seq <= $1", 1, { OID_INT8 } },
	[S_DEL_BATCHES] = { "DELETE FROM batches WHERE batch <= $1", 1, { OID_INT8 } },
	/* A row comes back when the key was free or its claim had expired;
	 * none when a live claim holds it. */
	[S_CLAIM] = { "INSERT INTO replay_claims(key, expires_ms) VALUES($1, $2)"
		      " ON CONFLICT (key) DO UPDATE SET expires_ms = excluded.expires_ms"
		      " WHERE replay_claims.expires_ms <= $3 RETURNING 1",
		      3, { OID_BYTEA, OID_INT8, OID_INT8 } },
	[S_CLAIM_SWEEP] = { "DELETE FROM replay_claims WHERE expires_ms <= $1", 1, { OID_INT8 } },
	/* A row comes back with the new count when the call was counted;
	 * none when max calls are counted already (the row is then left as
	 * it is). One statement, so two nodes never both take the last call. */
	[S_CALL_COUNT] = { "INSERT INTO agreement_calls(agreement, period_start, calls)"
			   " VALUES($1, $2, 1) ON CONFLICT (agreement, period_start)"
			   " DO UPDATE SET calls = agreement_calls.calls + 1"
			   " WHERE agreement_calls.calls < $3 RETURNING calls",
			   3, { OID_TEXT, OID_INT8, OID_INT8 } },
	[S_CALL_GIVE_BACK] = { "UPDATE agreement_calls SET calls = calls - 1"
			       " WHERE agreement = $1 AND period_start = $2 AND calls > 0",
			       2, { OID_TEXT, OID_INT8 } },
	/* The agreement's earlier periods, once its first call of a new one
	 * is counted. */
	[S_CALL_SWEEP] = { "DELETE FROM agreement_calls WHERE agreement = $1 AND period_start < $2",
			   2, { OID_TEXT, OID_INT8 } },
};

/* Claims between two sweeps of the expired ones. */
#define CLAIM_SWEEP_EVERY 4096

/* Every query takes $1 (bigint) and $2 (text), used or not. */
static const char *const query_sql[] = {
	[NDX__Q_RECORDS_FROM] = "SELECT " RECORD_COLS " FROM records WHERE seq >= $1 ORDER BY seq",
	[NDX__Q_RECORD_LAST] = "SELECT " RECORD_COLS " FROM records ORDER BY seq DESC LIMIT 1",
	[NDX__Q_RECORDS_BY_ID] = "SELECT " RECORD_COLS " FROM records WHERE message_id = $2"
				 " ORDER BY seq",
	[NDX__Q_RECORDS_BY_SUBJECT] = "SELECT " RECORD_COLS " FROM records WHERE seq IN"
				      " (SELECT seq FROM record_subjects WHERE subject = $2)"
				      " ORDER BY seq",
	[NDX__Q_RECORDS_DESC] = "SELECT " RECORD_COLS " FROM records ORDER BY seq DESC",
	[NDX__Q_BATCHES_FROM] = "SELECT " BATCH_COLS " FROM batches WHERE batch >= $1 ORDER BY batch",
	[NDX__Q_BATCH_LAST] = "SELECT " BATCH_COLS " FROM batches ORDER BY batch DESC LIMIT 1",
	[NDX__Q_BATCH_OF_SEQ] = "SELECT " BATCH_COLS " FROM batches WHERE first_seq <= $1"
				" ORDER BY first_seq DESC LIMIT 1",
	[NDX__Q_SUBJECT_INDEX] = "SELECT seq, subject FROM record_subjects ORDER BY seq, subject",
	[NDX__Q_WITNESSES_FROM] = "SELECT " WITNESS_COLS " FROM witnesses WHERE batch >= $1"
				  " ORDER BY batch",
	[NDX__Q_WITNESS_LAST] = "SELECT " WITNESS_COLS " FROM witnesses ORDER BY batch DESC LIMIT 1",
};

enum txn { TXN_NONE, TXN_EXPLICIT, TXN_IMPLICIT };

struct pg_store {
	struct ndx__msglog_store base;
	PGconn *conn;
	char *conninfo;     /* kept to reconnect; never printed */
	char name[300];     /* how messages name the store: no password */
	bool readonly;
	bool foreign;       /* another format: meta only, never written */
	bool prepared;      /* the statements exist in the current session */
	enum txn txn;
	unsigned txn_gen;   /* counts transactions, so a cursor knows whether it is still open */
	unsigned cursors;   /* cursors open in the current transaction */
	unsigned cursor_no; /* names cursors, unique per session */
	unsigned claims;    /* since the last sweep of expired claims */
	bool lazy_commit;   /* this session commits without waiting for the flush */
};

struct ndx__msglog_iter {
	struct pg_store *s;
	PGresult *res;      /* the page at hand (or the single row of a LIMIT 1 query) */
	int row, rows;
	bool cursor;        /* a cursor was declared (else res holds everything) */
	bool done;          /* the cursor is exhausted */
	bool empty;         /* nothing to walk */
	unsigned gen;
	char name[32];
};

static struct pg_store *self(struct ndx__msglog_store *st)
{
	return (struct pg_store *)st;
}

/* Prints a failure with the server's message, naming the store. */
static void report(const struct pg_store *s, const char *what, const PGresult *res)
{
	const char *msg = res != NULL ? PQresultErrorMessage(res) : "";
	size_t n;

	if (msg == NULL || msg[0] == '\0')
		msg = s->conn != NULL ? PQerrorMessage(s->conn) : "out of memory";
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		n--;
	fprintf(stderr, "ndx: message log %s: %s: %.*s\n", s->name, what, (int)n, msg);
}

/* Whether res is a success of the expected kind; reports it when not. */
static bool ok_result(struct pg_store *s, const char *what, PGresult *res, ExecStatusType want)
{
	bool ok = res != NULL && PQresultStatus(res) == want;

	if (!ok)
		report(s, what, res);
	return ok;
}

/* Runs SQL without parameters (transaction control, schema). */
static int exec_simple(struct pg_store *s, const char *sql)
{
	PGresult *res = PQexec(s->conn, sql);
	bool ok = ok_result(s, sql, res, PGRES_COMMAND_OK);

	PQclear(res);
	return ok ? NDX_OK : NDX_EDB;
}

static int prepare_all(struct pg_store *s)
{
	/* A reader never claims: it may open a log from before replay_claims. */
	int count = s->foreign ? S_FOREIGN_COUNT : s->readonly ? S_CLAIM : S_COUNT;

	for (int i = 0; i < count; i++) {
		char name[24]; /* "ndx_s" and any int */
		PGresult *res;
		bool ok;

		snprintf(name, sizeof name, "ndx_s%d", i);
		res = PQprepare(s->conn, name, stmts[i].sql, stmts[i].n, stmts[i].types);
		ok = ok_result(s, "prepare", res, PGRES_COMMAND_OK);
		if (!ok) {
			const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

			/* 42P01 undefined_table: a database without our
			 * tables is not a message log. */
			bool missing = state != NULL && strcmp(state, "42P01") == 0;

			PQclear(res);
			return missing ? NDX_EINVAL : NDX_EDB;
		}
		PQclear(res);
	}
	/* The one-row queries (the writer's recovery, the last witness) are
	 * prepared too; the walks are cursors, whose DECLARE carries the
	 * parameters of its query. */
	for (size_t q = 0; !s->foreign && q < sizeof query_sql / sizeof query_sql[0]; q++) {
		static const Oid types[2] = { OID_INT8, OID_TEXT };
		char name[24];
		PGresult *res;
		bool ok;

		if (strstr(query_sql[q], "LIMIT 1") == NULL)
			continue;
		snprintf(name, sizeof name, "ndx_q%zu", q);
		res = PQprepare(s->conn, name, query_sql[q], 2, types);
		ok = ok_result(s, "prepare", res, PGRES_COMMAND_OK);
		PQclear(res);
		if (!ok)
			return NDX_EDB;
	}
	s->prepared = true;
	return NDX_OK;
}

/* The session's settings: durable commits whatever the server's default,
 * and a reader that can never write. */
static int session_setup(struct pg_store *s)
{
	/* UTF8 whatever PGCLIENTENCODING says: the server never transcodes
	 * what it returns, so a record reads back as the bytes it hashed. */
	int rc = exec_simple(s, "SET synchronous_commit = on; SET client_min_messages = warning;"
			     " SET client_encoding = 'UTF8'");

	if (rc == NDX_OK && s->readonly)
		rc = exec_simple(s, "SET default_transaction_read_only = on");
	return rc;
}

/* Outside a transaction, a connection the server dropped (restart,
 * failover) is opened again, so that a gateway's log recovers by itself
 * once the server is back; statements are prepared again in the new
 * session. */
static int ensure_conn(struct pg_store *s)
{
	if (PQstatus(s->conn) == CONNECTION_OK)
		return NDX_OK;
	if (s->txn != TXN_NONE)
		return NDX_EDB;
	PQreset(s->conn);
	s->prepared = false;
	s->lazy_commit = false;
	if (PQstatus(s->conn) != CONNECTION_OK) {
		report(s, "cannot reconnect", NULL);
		return NDX_EDB;
	}
	fprintf(stderr, "ndx: message log %s: reconnected\n", s->name);
	if (session_setup(s) != NDX_OK)
		return NDX_EDB;
	return prepare_all(s);
}

/* Runs a prepared statement with nparams parameters (binary format);
 * *out gets the result when not NULL (the caller clears it). */
static int run(struct pg_store *s, enum stmt_id id, const char *const *v, const int *len,
	       ExecStatusType want, PGresult **out)
{
	static const int formats[23] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
					 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 };
	char name[24];
	PGresult *res;
	bool ok;

	if (out != NULL)
		*out = NULL;
	if (!s->prepared || (s->foreign && id >= S_FOREIGN_COUNT) ||
	    (s->readonly && id >= S_CLAIM))
		return s->foreign || s->readonly ? NDX_EINVAL : NDX_EDB;
	snprintf(name, sizeof name, "ndx_s%d", (int)id);
	res = PQexecPrepared(s->conn, name, stmts[id].n, v, len, formats, 1);
	ok = ok_result(s, stmts[id].sql, res, want);
	if (ok && out != NULL) {
		*out = res;
		return NDX_OK;
	}
	PQclear(res);
	return ok ? NDX_OK : NDX_EDB;
}

static void put_be64(char *p, int64_t v)
{
	uint64_t u = (uint64_t)v;

	for (int i = 7; i >= 0; i--) {
		p[i] = (char)(u & 0xff);
		u >>= 8;
	}
}

static int64_t get_be64(const char *p)
{
	uint64_t u = 0;

	for (int i = 0; i < 8; i++)
		u = (u << 8) | (uint8_t)p[i];
	return (int64_t)u;
}

/* Parameter builders: values point into caller storage. */
struct params {
	const char *v[23];
	int len[23];
	char ints[23][8];
};

static void p_int(struct params *p, int i, int64_t v)
{
	put_be64(p->ints[i], v);
	p->v[i] = p->ints[i];
	p->len[i] = 8;
}

static void p_str(struct params *p, int i, const char *s)
{
	p->v[i] = s != NULL ? s : "";
	p->len[i] = (int)strlen(p->v[i]);
}

static void p_bytes(struct params *p, int i, const void *b, size_t n)
{
	p->v[i] = b;
	p->len[i] = (int)n;
}

static void p_null(struct params *p, int i)
{
	p->v[i] = NULL;
	p->len[i] = 0;
}

static int64_t clamp_u64(uint64_t u)
{
	return u > INT64_MAX ? INT64_MAX : (int64_t)u;
}

/* ---- transactions ------------------------------------------------------ */

static void txn_end(struct pg_store *s)
{
	s->txn = TXN_NONE;
	s->cursors = 0;
	s->txn_gen++;
}

static int begin_txn(struct pg_store *s, bool write);

static int store_begin(struct ndx__msglog_store *st, bool write)
{
	struct pg_store *s = self(st);
	int rc;

	if (s->txn == TXN_IMPLICIT && !write && s->cursors > 0) {
		/* Iterators opened outside a transaction are still walking:
		 * their snapshot becomes the caller's transaction. */
		s->txn = TXN_EXPLICIT;
		return NDX_OK;
	}
	if (s->txn != TXN_NONE)
		return NDX_EDB;
	rc = ensure_conn(s);
	if (rc != NDX_OK)
		return rc;
	rc = begin_txn(s, write);
	/* A server that restarted while this session was idle is noticed
	 * only now: the session is opened again and the transaction, which
	 * had done nothing yet, begun once more. */
	if (rc != NDX_OK && PQstatus(s->conn) == CONNECTION_BAD && ensure_conn(s) == NDX_OK)
		rc = begin_txn(s, write);
	if (rc != NDX_OK)
		return rc;
	s->txn = TXN_EXPLICIT;
	s->txn_gen++;
	return NDX_OK;
}

static int begin_txn(struct pg_store *s, bool write)
{
	int rc;

	if (write && !s->foreign && !s->readonly) {
		/* The write lock at once, like SQLite's BEGIN IMMEDIATE: an
		 * EXCLUSIVE lock on the log's meta table, which every write
		 * transaction of this store takes first. It conflicts with
		 * itself and with every write of another session to the log,
		 * but not with plain SELECTs, so readers keep their snapshots
		 * while a group commits. A table lock rather than an advisory
		 * one because it is scoped to this log's own tables (two logs in
		 * two schemas of one database never wait for each other, with no
		 * key to choose) and ends with the transaction whatever happens
		 * to the session. READ COMMITTED: once the lock is held every
		 * statement sees all that committed before, e.g. an archive
		 * run's deletions. */
		rc = exec_simple(s, "BEGIN ISOLATION LEVEL READ COMMITTED READ WRITE;"
				    " LOCK TABLE meta IN EXCLUSIVE MODE");
	} else {
		rc = exec_simple(s, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
	}
	if (rc != NDX_OK) {
		/* A BEGIN that ran but whose LOCK failed left a transaction open. */
		if (PQstatus(s->conn) == CONNECTION_OK &&
		    PQtransactionStatus(s->conn) != PQTRANS_IDLE)
			PQclear(PQexec(s->conn, "ROLLBACK"));
	}
	return rc;
}

static int store_commit(struct ndx__msglog_store *st)
{
	struct pg_store *s = self(st);
	PGresult *res;
	bool ok;

	if (s->txn == TXN_NONE)
		return NDX_EDB;
	res = PQexec(s->conn, "COMMIT");
	/* COMMIT of a transaction that failed earlier "succeeds" as a
	 * ROLLBACK: only the tag COMMIT means the work is durable. */
	ok = ok_result(s, "COMMIT", res, PGRES_COMMAND_OK);
	if (ok && strcmp(PQcmdStatus(res), "COMMIT") != 0) {
		fprintf(stderr, "ndx: message log %s: COMMIT: the transaction was rolled back\n",
			s->name);
		ok = false;
	}
	PQclear(res);
	txn_end(s);
	return ok ? NDX_OK : NDX_EDB;
}

static void store_rollback(struct ndx__msglog_store *st)
{
	struct pg_store *s = self(st);

	if (s->txn == TXN_NONE)
		return;
	if (PQstatus(s->conn) == CONNECTION_OK &&
	    PQtransactionStatus(s->conn) != PQTRANS_IDLE)
		PQclear(PQexec(s->conn, "ROLLBACK"));
	txn_end(s);
}

static void store_close(struct ndx__msglog_store *st)
{
	struct pg_store *s = self(st);

	if (s == NULL)
		return;
	/* Closing the session rolls back whatever it left open. */
	PQfinish(s->conn);
	free(s->conninfo);
	free(s);
}

/* ---- meta and writes --------------------------------------------------- */

static int store_meta_get(struct ndx__msglog_store *st, const char *key, char **value)
{
	struct pg_store *s = self(st);
	struct params p;
	PGresult *res = NULL;
	int rc;

	*value = NULL;
	if (s->txn == TXN_NONE && (rc = ensure_conn(s)) != NDX_OK)
		return rc;
	p_str(&p, 0, key);
	rc = run(s, S_META_GET, p.v, p.len, PGRES_TUPLES_OK, &res);
	/* Outside a transaction, a session the server dropped meanwhile is
	 * opened again and the read made once more (as in store_begin). */
	if (rc == NDX_EDB && s->txn == TXN_NONE && PQstatus(s->conn) == CONNECTION_BAD &&
	    ensure_conn(s) == NDX_OK)
		rc = run(s, S_META_GET, p.v, p.len, PGRES_TUPLES_OK, &res);
	if (rc != NDX_OK)
		return rc;
	if (PQntuples(res) == 0) {
		rc = NDX_ENOTFOUND;
	} else {
		*value = strdup(PQgetvalue(res, 0, 0));
		rc = *value != NULL ? NDX_OK : NDX_ENOMEM;
	}
	PQclear(res);
	return rc;
}

static int store_meta_set(struct ndx__msglog_store *st, const char *key, const char *value)
{
	struct pg_store *s = self(st);
	struct params p;
	int rc;

	if (s->foreign || s->readonly)
		return NDX_EINVAL;
	if (s->txn == TXN_NONE && (rc = ensure_conn(s)) != NDX_OK)
		return rc;
	p_str(&p, 0, key);
	p_str(&p, 1, value);
	return run(s, S_META_SET, p.v, p.len, PGRES_COMMAND_OK, NULL);
}

static const char *direction_text(enum ndx_msglog_direction d)
{
	return d == NDX_MSGLOG_PROVIDER ? "provider" : "consumer";
}

/* One subject index row; a repeated subject of a record is one row. The
 * element is not NUL-terminated: its length is the parameter's. */
static int put_subject(struct pg_store *s, uint64_t seq, const char *subject, size_t len)
{
	struct params p;

	p_bytes(&p, 0, subject, len);
	p_int(&p, 1, clamp_u64(seq));
	return run(s, S_PUT_SUBJECT, p.v, p.len, PGRES_COMMAND_OK, NULL);
}

static int put_record(struct ndx__msglog_store *st, const struct ndx_msglog_entry *e)
{
	struct pg_store *s = self(st);
	const char *cursor = e->subjects, *elem;
	struct params p;
	size_t len;
	int rc;

	if (s->foreign || s->readonly)
		return NDX_EINVAL;
	p_int(&p, 0, clamp_u64(e->seq));
	p_int(&p, 1, e->time_ms);
	p_str(&p, 2, direction_text(e->direction));
	p_str(&p, 3, e->message_id);
	p_str(&p, 4, e->client);
	p_str(&p, 5, e->service);
	p_str(&p, 6, e->method);
	p_str(&p, 7, e->path);
	p_str(&p, 8, e->subject);
	p_str(&p, 9, e->subjects);
	p_str(&p, 10, e->purpose);
	p_str(&p, 11, e->user_id);
	p_str(&p, 12, e->issue);
	p_str(&p, 13, e->represented_party);
	p_str(&p, 14, e->authenticated);
	if (e->has_request_hash)
		p_bytes(&p, 15, e->request_hash, NDX_SHA256_LEN);
	else
		p_null(&p, 15);
	if (e->has_response_hash)
		p_bytes(&p, 16, e->response_hash, NDX_SHA256_LEN);
	else
		p_null(&p, 16);
	p_int(&p, 17, e->status);
	p_int(&p, 18, e->duration_ms);
	p_str(&p, 19, e->request_sig);
	p_str(&p, 20, e->response_sig);
	p_bytes(&p, 21, e->prev_hash, NDX_SHA256_LEN);
	p_bytes(&p, 22, e->hash, NDX_SHA256_LEN);
	rc = run(s, S_PUT_RECORD, p.v, p.len, PGRES_COMMAND_OK, NULL);
	if (rc == NDX_OK && e->subject != NULL && e->subject[0] != '\0')
		rc = put_subject(s, e->seq, e->subject, strlen(e->subject));
	while (rc == NDX_OK && ndx__msglog_subjects_next(&cursor, &elem, &len))
		rc = put_subject(s, e->seq, elem, len);
	return rc;
}

/* One statement a record and one a subject row, each a round trip: the
 * PostgreSQL log's commit, not its statements, is what a group waits for. */
static int store_put_records(struct ndx__msglog_store *st, const struct ndx_msglog_entry *e,
			     size_t n)
{
	int rc = NDX_OK;

	for (size_t i = 0; i < n && rc == NDX_OK; i++)
		rc = put_record(st, &e[i]);
	return rc;
}

static int store_put_batch(struct ndx__msglog_store *st, const struct ndx_msglog_sth *sth)
{
	struct pg_store *s = self(st);
	struct params p;

	if (s->foreign || s->readonly)
		return NDX_EINVAL;
	p_int(&p, 0, clamp_u64(sth->batch));
	p_int(&p, 1, clamp_u64(sth->first_seq));
	p_int(&p, 2, clamp_u64(sth->size));
	p_bytes(&p, 3, sth->root, NDX_SHA256_LEN);
	p_int(&p, 4, sth->time_ms);
	p_str(&p, 5, sth->key_id);
	p_bytes(&p, 6, sth->prev_sth_hash, NDX_SHA256_LEN);
	p_bytes(&p, 7, sth->signature, NDX_ED25519_SIG_LEN);
	return run(s, S_PUT_BATCH, p.v, p.len, PGRES_COMMAND_OK, NULL);
}

static int store_put_witness(struct ndx__msglog_store *st, const struct ndx_msglog_witness *w)
{
	struct pg_store *s = self(st);
	struct params p;

	if (s->foreign || s->readonly)
		return NDX_EINVAL;
	p_int(&p, 0, clamp_u64(w->batch));
	p_str(&p, 1, w->gateway);
	p_bytes(&p, 2, w->sth_hash, NDX_SHA256_LEN);
	p_int(&p, 3, w->time_ms);
	p_str(&p, 4, w->key_id);
	p_bytes(&p, 5, w->signature, NDX_ED25519_SIG_LEN);
	return run(s, S_PUT_WITNESS, p.v, p.len, PGRES_COMMAND_OK, NULL);
}

static int store_delete_through(struct ndx__msglog_store *st, uint64_t last_seq,
				uint64_t last_batch)
{
	struct pg_store *s = self(st);
	struct params p;
	int rc;

	if (s->foreign || s->readonly)
		return NDX_EINVAL;
	p_int(&p, 0, clamp_u64(last_seq));
	rc = run(s, S_DEL_RECORDS, p.v, p.len, PGRES_COMMAND_OK, NULL);
	if (rc == NDX_OK)
		rc = run(s, S_DEL_SUBJECTS, p.v, p.len, PGRES_COMMAND_OK, NULL);
	if (rc != NDX_OK)
		return rc;
	p_int(&p, 0, clamp_u64(last_batch));
	return run(s, S_DEL_BATCHES, p.v, p.len, PGRES_COMMAND_OK, NULL);
}

/* Autocommit, outside any transaction of this store's: a claim is seen by
 * the other gateways at once, whatever the caller does next. */
static int store_claim(struct ndx__msglog_store *st, const uint8_t key[NDX_SHA256_LEN],
		       int64_t now_ms, int64_t expires_ms)
{
	struct pg_store *s = self(st);
	struct params p;
	PGresult *res = NULL;
	int rc;

	if (s->foreign || s->readonly || s->txn != TXN_NONE)
		return NDX_EINVAL;
	if ((rc = ensure_conn(s)) != NDX_OK)
		return rc;
	if (++s->claims >= CLAIM_SWEEP_EVERY) {
		s->claims = 0;
		p_int(&p, 0, now_ms);
		/* Only housekeeping: a failure here is retried next time. */
		(void)run(s, S_CLAIM_SWEEP, p.v, p.len, PGRES_COMMAND_OK, NULL);
	}
	p_bytes(&p, 0, key, NDX_SHA256_LEN);
	p_int(&p, 1, expires_ms);
	p_int(&p, 2, now_ms);
	rc = run(s, S_CLAIM, p.v, p.len, PGRES_TUPLES_OK, &res);
	if (rc == NDX_EDB && PQstatus(s->conn) == CONNECTION_BAD && ensure_conn(s) == NDX_OK)
		rc = run(s, S_CLAIM, p.v, p.len, PGRES_TUPLES_OK, &res);
	if (rc != NDX_OK)
		return rc;
	rc = PQntuples(res) == 1 ? NDX_OK : NDX_EEXIST;
	PQclear(res);
	return rc;
}

/* The claims' connection counts agreement calls too, and commits them
 * without waiting for the server's flush: a count is no write anyone was
 * promised, and waiting would hold the calling gateway loop for an fsync
 * per call. A crash of the server may forget the counts of its last
 * moments (at most three times its wal_writer_delay). */
static int lazy_session(struct pg_store *s)
{
	int rc;

	if (s->lazy_commit)
		return NDX_OK;
	if ((rc = exec_simple(s, "SET synchronous_commit = off")) == NDX_OK)
		s->lazy_commit = true;
	return rc;
}

/* Runs a call-count statement in autocommit, once more after the server
 * dropped the connection. */
static int run_call(struct pg_store *s, enum stmt_id id, struct params *p, ExecStatusType want,
		    PGresult **res)
{
	int rc;

	if (s->foreign || s->readonly || s->txn != TXN_NONE)
		return NDX_EINVAL;
	if ((rc = ensure_conn(s)) != NDX_OK || (rc = lazy_session(s)) != NDX_OK)
		return rc;
	rc = run(s, id, p->v, p->len, want, res);
	if (rc == NDX_EDB && PQstatus(s->conn) == CONNECTION_BAD && ensure_conn(s) == NDX_OK &&
	    lazy_session(s) == NDX_OK)
		rc = run(s, id, p->v, p->len, want, res);
	return rc;
}

static int store_count_call(struct ndx__msglog_store *st, const char *agreement,
			    int64_t period_start, int64_t max)
{
	struct pg_store *s = self(st);
	struct params p;
	PGresult *res = NULL;
	int64_t calls;
	int rc;

	p_str(&p, 0, agreement);
	p_int(&p, 1, period_start);
	p_int(&p, 2, max);
	if ((rc = run_call(s, S_CALL_COUNT, &p, PGRES_TUPLES_OK, &res)) != NDX_OK)
		return rc;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return NDX_EPERM;
	}
	calls = PQgetlength(res, 0, 0) == 8 ? get_be64(PQgetvalue(res, 0, 0)) : 0;
	PQclear(res);
	if (calls == 1) {
		/* The period's first call: the earlier periods' rows go. Only
		 * housekeeping: a failure leaves a row that nothing reads. */
		p_str(&p, 0, agreement);
		p_int(&p, 1, period_start);
		(void)run_call(s, S_CALL_SWEEP, &p, PGRES_COMMAND_OK, NULL);
	}
	return NDX_OK;
}

static int store_give_back_call(struct ndx__msglog_store *st, const char *agreement,
				int64_t period_start)
{
	struct params p;

	p_str(&p, 0, agreement);
	p_int(&p, 1, period_start);
	return run_call(self(st), S_CALL_GIVE_BACK, &p, PGRES_COMMAND_OK, NULL);
}

/* ---- iterators --------------------------------------------------------- */

/* Ends the implicit read transaction of iterators opened outside one once
 * the last of them is closed. */
static void implicit_release(struct pg_store *s)
{
	if (s->txn == TXN_IMPLICIT && s->cursors == 0) {
		if (PQstatus(s->conn) == CONNECTION_OK &&
		    PQtransactionStatus(s->conn) != PQTRANS_IDLE)
			PQclear(PQexec(s->conn, "COMMIT"));
		txn_end(s);
	}
}

static int store_iter_open(struct ndx__msglog_store *st, enum ndx__msglog_query q, uint64_t u,
			   const char *text, struct ndx__msglog_iter **out)
{
	static const Oid types[2] = { OID_INT8, OID_TEXT };
	static const int formats[2] = { 1, 1 };
	struct pg_store *s = self(st);
	struct ndx__msglog_iter *it;
	struct params p;
	char sql[1024];
	PGresult *res;
	bool single;
	int rc;

	*out = NULL;
	assert((size_t)q < sizeof query_sql / sizeof query_sql[0]);
	if (s->foreign)
		return NDX_EINVAL;
	it = calloc(1, sizeof *it);
	if (it == NULL)
		return NDX_ENOMEM;
	it->s = s;
	p_int(&p, 0, clamp_u64(u));
	p_str(&p, 1, text);
	single = strstr(query_sql[q], "LIMIT 1") != NULL;
	if (single) {
		char name[24];

		/* One row at most: no cursor, no transaction needed. */
		if (s->txn == TXN_NONE && (rc = ensure_conn(s)) != NDX_OK) {
			free(it);
			return rc;
		}
		snprintf(name, sizeof name, "ndx_q%d", (int)q);
		res = PQexecPrepared(s->conn, name, 2, p.v, p.len, formats, 1);
		if (!ok_result(s, query_sql[q], res, PGRES_TUPLES_OK)) {
			PQclear(res);
			free(it);
			return NDX_EDB;
		}
		it->res = res;
		it->rows = PQntuples(res);
		it->row = -1;
		it->done = true;
		*out = it;
		return NDX_OK;
	}
	if (s->txn == TXN_NONE) {
		/* A cursor lives in a transaction: iterators opened outside
		 * one share a read snapshot that ends with the last of them. */
		rc = store_begin(st, false);
		if (rc != NDX_OK) {
			free(it);
			return rc;
		}
		s->txn = TXN_IMPLICIT;
	}
	snprintf(it->name, sizeof it->name, "ndx_c%u", ++s->cursor_no);
	snprintf(sql, sizeof sql, "DECLARE %s NO SCROLL CURSOR FOR %s", it->name, query_sql[q]);
	res = PQexecParams(s->conn, sql, 2, types, p.v, p.len, formats, 1);
	if (!ok_result(s, "DECLARE", res, PGRES_COMMAND_OK)) {
		PQclear(res);
		free(it);
		implicit_release(s);
		return NDX_EDB;
	}
	PQclear(res);
	it->cursor = true;
	it->gen = s->txn_gen;
	s->cursors++;
	*out = it;
	return NDX_OK;
}

/* Moves to the next row: 1 (it->res row it->row), 0 at the end, NDX_EDB. */
static int step(struct ndx__msglog_iter *it)
{
	struct pg_store *s = it->s;
	char sql[64];

	if (it->res != NULL && it->row + 1 < it->rows) {
		it->row++;
		return 1;
	}
	if (it->done || !it->cursor) {
		it->row = it->rows;
		return 0;
	}
	if (it->gen != s->txn_gen)
		return NDX_EDB; /* its transaction ended under it */
	PQclear(it->res);
	it->res = NULL;
	snprintf(sql, sizeof sql, "FETCH FORWARD %d FROM %s", PAGE_ROWS, it->name);
	it->res = PQexecParams(s->conn, sql, 0, NULL, NULL, NULL, NULL, 1);
	if (!ok_result(s, "FETCH", it->res, PGRES_TUPLES_OK)) {
		PQclear(it->res);
		it->res = NULL;
		it->rows = 0;
		it->done = true;
		return NDX_EDB;
	}
	it->rows = PQntuples(it->res);
	it->row = 0;
	if (it->rows < PAGE_ROWS)
		it->done = true;
	return it->rows > 0 ? 1 : 0;
}

static bool col_null(const struct ndx__msglog_iter *it, int col)
{
	return PQgetisnull(it->res, it->row, col) != 0;
}

/* A bigint column; false when NULL or not 8 bytes. */
static bool col_i64(const struct ndx__msglog_iter *it, int col, int64_t *out)
{
	*out = 0;
	if (col_null(it, col) || PQgetlength(it->res, it->row, col) != 8)
		return false;
	*out = get_be64(PQgetvalue(it->res, it->row, col));
	return true;
}

static const char *col_text(const struct ndx__msglog_iter *it, int col)
{
	/* libpq ends every value with a NUL, binary ones included. */
	return col_null(it, col) ? "" : PQgetvalue(it->res, it->row, col);
}

/* Copies a bytea column of exactly len bytes; false for any other length. */
static bool col_blob(const struct ndx__msglog_iter *it, int col, uint8_t *out, size_t len)
{
	if (col_null(it, col) || (size_t)PQgetlength(it->res, it->row, col) != len)
		return false;
	memcpy(out, PQgetvalue(it->res, it->row, col), len);
	return true;
}

/* An optional hash column: NULL or empty = none, else exactly 32 bytes. */
static bool col_opt_hash(const struct ndx__msglog_iter *it, int col, bool *has, uint8_t *out)
{
	*has = false;
	if (col_null(it, col) || PQgetlength(it->res, it->row, col) == 0)
		return true;
	*has = col_blob(it, col, out, NDX_SHA256_LEN);
	return *has;
}

static int store_iter_record(struct ndx__msglog_iter *it, struct ndx_msglog_entry *e)
{
	const char *dir;
	int64_t status, seq, v;
	bool ok = true;
	int rc = step(it);

	memset(e, 0, sizeof *e);
	if (rc <= 0)
		return rc;
	ok = col_i64(it, 0, &seq);
	e->seq = seq > 0 ? (uint64_t)seq : 0;
	ok = col_i64(it, 1, &v) && ok;
	e->time_ms = v;
	dir = col_text(it, 2);
	if (strcmp(dir, "consumer") == 0)
		e->direction = NDX_MSGLOG_CONSUMER;
	else if (strcmp(dir, "provider") == 0)
		e->direction = NDX_MSGLOG_PROVIDER;
	else
		ok = false;
	e->message_id = col_text(it, 3);
	e->client = col_text(it, 4);
	e->service = col_text(it, 5);
	e->method = col_text(it, 6);
	e->path = col_text(it, 7);
	e->subject = col_text(it, 8);
	e->subjects = col_text(it, 9);
	e->purpose = col_text(it, 10);
	e->user_id = col_text(it, 11);
	e->issue = col_text(it, 12);
	e->represented_party = col_text(it, 13);
	e->authenticated = col_text(it, 14);
	ok = col_opt_hash(it, 15, &e->has_request_hash, e->request_hash) && ok;
	ok = col_opt_hash(it, 16, &e->has_response_hash, e->response_hash) && ok;
	ok = col_i64(it, 17, &status) && ok;
	if (status < -2147483647 || status > 2147483647)
		ok = false;
	else
		e->status = (int)status;
	ok = col_i64(it, 18, &v) && ok;
	e->duration_ms = v;
	e->request_sig = col_text(it, 19);
	e->response_sig = col_text(it, 20);
	ok = col_blob(it, 21, e->prev_hash, NDX_SHA256_LEN) && ok;
	ok = col_blob(it, 22, e->hash, NDX_SHA256_LEN) && ok;
	if (seq <= 0)
		ok = false;
	return ok ? 1 : NDX_EINVAL;
}

static int store_iter_batch(struct ndx__msglog_iter *it, struct ndx_msglog_sth *sth)
{
	const char *kid;
	int64_t v;
	bool ok;
	int rc = step(it);

	memset(sth, 0, sizeof *sth);
	if (rc <= 0)
		return rc;
	ok = col_i64(it, 0, &v) && v > 0;
	sth->batch = v > 0 ? (uint64_t)v : 0;
	ok = col_i64(it, 1, &v) && v > 0 && ok;
	sth->first_seq = v > 0 ? (uint64_t)v : 0;
	ok = col_i64(it, 2, &v) && v > 0 && ok;
	sth->size = v > 0 ? (uint64_t)v : 0;
	ok = col_blob(it, 3, sth->root, NDX_SHA256_LEN) && ok;
	ok = col_i64(it, 4, &v) && ok;
	sth->time_ms = v;
	kid = col_text(it, 5);
	if (strlen(kid) == NDX_KEY_ID_HEX_LEN)
		memcpy(sth->key_id, kid, NDX_KEY_ID_HEX_LEN + 1);
	else
		ok = false;
	ok = col_blob(it, 6, sth->prev_sth_hash, NDX_SHA256_LEN) && ok;
	ok = col_blob(it, 7, sth->signature, NDX_ED25519_SIG_LEN) && ok;
	return ok ? 1 : NDX_EINVAL;
}

static int store_iter_witness(struct ndx__msglog_iter *it, struct ndx_msglog_witness *w)
{
	const char *kid, *gw;
	int64_t v;
	bool ok;
	int rc = step(it);

	memset(w, 0, sizeof *w);
	if (rc <= 0)
		return rc;
	ok = col_i64(it, 0, &v) && v > 0;
	w->batch = v > 0 ? (uint64_t)v : 0;
	gw = col_text(it, 1);
	if (strlen(gw) <= NDX_MSGLOG_GATEWAY_MAX)
		memcpy(w->gateway, gw, strlen(gw) + 1);
	else
		ok = false;
	ok = col_blob(it, 2, w->sth_hash, NDX_SHA256_LEN) && ok;
	ok = col_i64(it, 3, &v) && ok;
	w->time_ms = v;
	kid = col_text(it, 4);
	if (strlen(kid) == NDX_KEY_ID_HEX_LEN)
		memcpy(w->key_id, kid, NDX_KEY_ID_HEX_LEN + 1);
	else
		ok = false;
	ok = col_blob(it, 5, w->signature, NDX_ED25519_SIG_LEN) && ok;
	return ok ? 1 : NDX_EINVAL;
}

static int store_iter_subject(struct ndx__msglog_iter *it, uint64_t *seq, const char **subject)
{
	int64_t v;
	int rc = step(it);

	*seq = 0;
	*subject = "";
	if (rc <= 0)
		return rc;
	(void)col_i64(it, 0, &v);
	*seq = v > 0 ? (uint64_t)v : 0;
	*subject = col_text(it, 1);
	return 1;
}

static void store_iter_close(struct ndx__msglog_iter *it)
{
	struct pg_store *s;

	if (it == NULL)
		return;
	s = it->s;
	PQclear(it->res);
	if (it->cursor && it->gen == s->txn_gen) {
		char sql[64];

		/* In a transaction that failed, CLOSE fails too; the
		 * rollback removes the cursor anyway. */
		if (PQstatus(s->conn) == CONNECTION_OK &&
		    PQtransactionStatus(s->conn) == PQTRANS_INTRANS) {
			snprintf(sql, sizeof sql, "CLOSE %s", it->name);
			PQclear(PQexec(s->conn, sql));
		}
		if (s->cursors > 0)
			s->cursors--;
		implicit_release(s);
	}
	free(it);
}

static const struct ndx__msglog_store_ops pg_ops = {
	.close = store_close,
	.begin = store_begin,
	/* No try_begin_write: every statement waits on the server, so only
	 * the writer thread writes, never an appender's event loop. */
	.commit = store_commit,
	.rollback = store_rollback,
	.meta_get = store_meta_get,
	.meta_set = store_meta_set,
	.put_records = store_put_records,
	.put_batch = store_put_batch,
	.put_witness = store_put_witness,
	.delete_through = store_delete_through,
	.iter_open = store_iter_open,
	.iter_record = store_iter_record,
	.iter_batch = store_iter_batch,
	.iter_witness = store_iter_witness,
	.iter_subject = store_iter_subject,
	.iter_close = store_iter_close,
	.claim = store_claim,
	.count_call = store_count_call,
	.give_back_call = store_give_back_call,
};

/* ---- open -------------------------------------------------------------- */

bool ndx__msglog_is_pg(const char *path)
{
	return path != NULL && (strncmp(path, "postgresql://", 13) == 0 ||
				strncmp(path, "postgres://", 11) == 0);
}

/* "postgresql://user@host:port/dbname" from the connection string's
 * parts: what messages call the store. The password, wherever it was
 * given, is never part of it. */
void ndx__msglog_pg_name(const char *conninfo, char *out, size_t cap)
{
	const char *user = "", *host = "", *port = "", *db = "", *opts = "";
	PQconninfoOption *o = PQconninfoParse(conninfo, NULL);

	for (PQconninfoOption *p = o; p != NULL && p->keyword != NULL; p++) {
		if (p->val == NULL)
			continue;
		if (strcmp(p->keyword, "user") == 0)
			user = p->val;
		else if (strcmp(p->keyword, "host") == 0)
			host = p->val;
		else if (strcmp(p->keyword, "port") == 0)
			port = p->val;
		else if (strcmp(p->keyword, "dbname") == 0)
			db = p->val;
		else if (strcmp(p->keyword, "options") == 0)
			opts = p->val;
	}
	if (o == NULL)
		snprintf(out, cap, "postgresql://(malformed connection string)");
	else
		snprintf(out, cap, "postgresql://%.64s%s%.64s%s%.8s/%.64s%s%.80s", user,
			 user[0] ? "@" : "", host, port[0] ? ":" : "", port, db,
			 opts[0] ? " options " : "", opts);
	PQconninfoFree(o);
}

/* Reads the log's format and schema version; no meta table yet (a new
 * log) is not an error. */
static int detect_foreign(struct pg_store *s, bool *has_meta)
{
	PGresult *res;
	const char *state;
	int rc = NDX_OK;

	*has_meta = false;
	res = PQexec(s->conn, "SELECT key, value FROM meta WHERE key IN ('format', 'pg_schema')");
	if (res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK) {
		*has_meta = true;
		for (int i = 0; i < PQntuples(res); i++) {
			const char *k = PQgetvalue(res, i, 0), *v = PQgetvalue(res, i, 1);

			if (strcmp(k, "format") == 0 && strcmp(v, NDX__MSGLOG_FORMAT) != 0)
				s->foreign = true;
			if (strcmp(k, "pg_schema") == 0 && atoi(v) > PG_SCHEMA_VERSION)
				s->foreign = true;
		}
	} else {
		state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
		/* 42P01: undefined_table. */
		if (state == NULL || strcmp(state, "42P01") != 0) {
			report(s, "cannot read the meta table", res);
			rc = NDX_EDB;
		}
	}
	PQclear(res);
	return rc;
}

int ndx__msglog_pg_open(const char *conninfo, int flags, struct ndx__msglog_store **out)
{
	struct pg_store *s;
	bool has_meta;
	int rc;

	*out = NULL;
	s = calloc(1, sizeof *s);
	if (s == NULL)
		return NDX_ENOMEM;
	s->base.ops = &pg_ops;
	s->readonly = (flags & NDX__MSGLOG_READONLY) != 0;
	ndx__msglog_pg_name(conninfo, s->name, sizeof s->name);
	if (flags & NDX__MSGLOG_ARCHIVE) {
		fprintf(stderr, "ndx: message log %s: archive files are SQLite files, written "
			"to a directory, never to PostgreSQL\n", s->name);
		free(s);
		return NDX_EINVAL;
	}
	s->conninfo = strdup(conninfo);
	if (s->conninfo == NULL) {
		free(s);
		return NDX_ENOMEM;
	}
	{
		/* Defaults the connection string (or PGCONNECT_TIMEOUT) may
		 * override, since later parameters win and the string is
		 * expanded last: a server that is gone is noticed in seconds
		 * (connecting, and on an idle connection by TCP keepalives)
		 * rather than after the kernel's TCP timeouts, with the writer
		 * thread and every appender waiting meanwhile. */
		const char *env_timeout = getenv("PGCONNECT_TIMEOUT");
		const char *const keys[] = { "connect_timeout", "keepalives_idle",
					     "keepalives_interval", "keepalives_count",
					     "fallback_application_name", "dbname", NULL };
		const char *const vals[] = { env_timeout != NULL ? env_timeout : "10", "30", "10", "3",
					     "ndx-msglog", conninfo, NULL };

		s->conn = PQconnectdbParams(keys, vals, 1);
	}
	if (s->conn == NULL) {
		rc = NDX_ENOMEM;
		goto fail;
	}
	if (PQstatus(s->conn) != CONNECTION_OK) {
		report(s, "cannot connect", NULL);
		rc = NDX_EDB;
		goto fail;
	}
	rc = session_setup(s);
	if (rc == NDX_OK)
		rc = detect_foreign(s, &has_meta);
	if (rc != NDX_OK)
		goto fail;
	if (s->readonly && !has_meta) {
		/* A database without our tables is not a message log. */
		rc = NDX_EINVAL;
		goto fail;
	}
	if (!s->readonly && !s->foreign) {
		/* One round trip: the statements stop at the first failure. */
		rc = exec_simple(s, schema_sql);
		if (rc != NDX_OK) {
			if (PQtransactionStatus(s->conn) != PQTRANS_IDLE)
				PQclear(PQexec(s->conn, "ROLLBACK"));
			goto fail;
		}
	}
	rc = prepare_all(s);
	if (rc != NDX_OK)
		goto fail;
	*out = &s->base;
	return NDX_OK;
fail:
	store_close(&s->base);
	return rc;
}
