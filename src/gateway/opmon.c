/* Operational monitoring records (opmon.h; docs/protocol.md "Operational
 * monitoring"). The exchange paths copy a record into a slot of a ring
 * under a mutex held for the copy only; the writer thread takes every slot
 * waiting, releases the mutex, inserts them in one transaction (WAL,
 * synchronous=NORMAL: these are statistics, a crash may lose the last
 * batch) and only then frees the slots. It wakes when GW_OPMON_BATCH wait
 * (the one producer that fills the batch signals) or GW_OPMON_FLUSH_MS
 * after the last flush, so a record costs no syscall. Reads (a page of
 * records, the health data) run on the same thread, between batches, so
 * that no exchange loop ever waits for SQLite.
 *
 * Or, when opmon.store is a postgresql:// connection string, the same
 * table in a schema of a PostgreSQL database through libndx's engine
 * (ndx/sqldb.h; the pg_* functions below): a batch is one INSERT of a JSON
 * array (json_populate_recordset), so one round trip a batch; the nodes of
 * a gateway cluster may share the schema, each adding its own records,
 * every node's reads and retention then covering them all. */
#include "opmon.h"

#include <assert.h>
#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ndx/args.h"
#include "ndx/conf.h"
#include "ndx/err.h"
#include "ndx/sqldb.h"
#include "ndx/sqlstore.h"

#define PROG "ndx-gateway: opmon"
/* Rows one retention step deletes, so that the queue is served between steps. */
#define PRUNE_CHUNK 20000

static const char *const ROLE_NAMES[] = { "consumer", "provider", "event_out", "event_in",
					  "dsp_out",  "dsp_in" };
#define ROLE_COUNT ((int)(sizeof ROLE_NAMES / sizeof ROLE_NAMES[0]))

/* migrations[i] is schema version i + 1; append, never edit. */
static const char *const MIGRATIONS[] = {
	/* AUTOINCREMENT: a seq is never used twice, even after retention has
	 * removed the newest rows, so a reader's cursor never skips one. */
	"CREATE TABLE records(seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	" role INTEGER NOT NULL, message_id TEXT, client TEXT, service TEXT,"
	" client_gateway TEXT, service_gateway TEXT, method TEXT, path_template TEXT,"
	" request_in INTEGER NOT NULL, request_out INTEGER, response_in INTEGER,"
	" response_out INTEGER, request_size INTEGER, response_size INTEGER,"
	" success INTEGER NOT NULL, error_type TEXT, status INTEGER, duration_ms INTEGER,"
	" own_ms INTEGER, peer_ms INTEGER, provider_ms INTEGER, purpose TEXT,"
	" personal INTEGER NOT NULL);"
	"CREATE INDEX records_time ON records(request_in);"
	"CREATE INDEX records_service ON records(service, request_in);",
	/* No query has ever used records_service (the health report groups
	 * by role first, and every other query goes by seq or request_in),
	 * and it cost each record about 0.9 µs of the gateway's CPU
	 * (bench/README.md "The operational records' unused index"). */
	"DROP INDEX IF EXISTS records_service;",
};

/* One queued record: fixed size, filled by copying. */
struct slot {
	enum gw_opmon_role role;
	char message_id[GW_OPMON_MSGID_CAP];
	char client[GW_OPMON_ID_CAP], service[GW_OPMON_ID_CAP];
	char client_gateway[GW_OPMON_ID_CAP], service_gateway[GW_OPMON_ID_CAP];
	char method[16];
	char path_template[GW_OPMON_PATH_CAP];
	char error_type[GW_OPMON_SHORT_CAP];
	char purpose[GW_OPMON_SHORT_CAP];
	/* which strings are null */
	unsigned nulls;
	int64_t request_in, request_out, response_in, response_out;
	int64_t request_size, response_size;
	int64_t peer_ms, provider_ms;
	int status;
	bool success, personal;
};

enum { N_MESSAGE_ID, N_CLIENT, N_SERVICE, N_CLIENT_GW, N_SERVICE_GW, N_METHOD, N_PATH,
       N_ERROR, N_PURPOSE };

enum job_kind { JOB_QUERY, JOB_FLUSH, JOB_PRUNE };

struct job {
	enum job_kind kind;
	struct gw_opmon_query q;
	char gateway[GW_OPMON_ID_CAP];
	int64_t now_ms;
	gw_opmon_answer_fn done;
	void *ud;
	struct job *next;
};

enum { ST_BEGIN, ST_COMMIT, ST_ROLLBACK, ST_PRUNE_TIME, ST_COUNT_ROWS, ST_PRUNE_COUNT,
       ST_PAGE, ST_HEALTH, ST_N };

#define INSERT_HEAD                                                                          \
	"INSERT INTO records(role, message_id, client, service, client_gateway,"             \
	" service_gateway, method, path_template, request_in, request_out, response_in,"     \
	" response_out, request_size, response_size, success, error_type, status,"           \
	" duration_ms, own_ms, peer_ms, provider_ms, purpose, personal) VALUES"
#define INSERT_COLUMNS 23

/* A batch goes in as INSERTs of these many rows, the largest that fits
 * first. Much of an INSERT's cost is the statement's, not the row's: its
 * step and reset, and with AUTOINCREMENT a read and an update of
 * sqlite_sequence. 64 rows a statement took a record from about 3.4 to
 * 2.5 µs of CPU (bench/README.md "Fewer statements: INSERTs of many
 * rows"). */
static const size_t INSERT_ROWS[] = { 64, 16, 4, 1 };
#define INSERT_SIZES (sizeof INSERT_ROWS / sizeof INSERT_ROWS[0])

static const char *const STATEMENT_SQL[ST_N] = {
	[ST_BEGIN] = "BEGIN",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_PRUNE_TIME] = "DELETE FROM records WHERE seq IN (SELECT seq FROM records"
			  " WHERE request_in < ?1 ORDER BY request_in LIMIT ?2)",
	[ST_COUNT_ROWS] = "SELECT count(*) FROM records",
	[ST_PRUNE_COUNT] = "DELETE FROM records WHERE seq IN (SELECT seq FROM records"
			   " ORDER BY seq LIMIT ?1)",
	[ST_PAGE] = "SELECT seq, role, message_id, client, service, client_gateway,"
		    " service_gateway, method, path_template, request_in, request_out,"
		    " response_in, response_out, request_size, response_size, success,"
		    " error_type, status, duration_ms, own_ms, peer_ms, provider_ms, purpose,"
		    " personal FROM records WHERE seq > ?1 AND request_in >= ?2"
		    " AND request_in < ?3 ORDER BY seq LIMIT ?4",
	[ST_HEALTH] = "SELECT role, service, sum(success), sum(1 - success),"
		      " max(CASE WHEN success THEN request_in END),"
		      " max(CASE WHEN success THEN NULL ELSE request_in END),"
		      " min(duration_ms), avg(duration_ms), max(duration_ms),"
		      " min(request_size), avg(request_size), max(request_size),"
		      " min(response_size), avg(response_size), max(response_size)"
		      " FROM records WHERE request_in >= ?1 GROUP BY role, service"
		      " ORDER BY service, role",
};

/* PostgreSQL schema version n is made by PG_SCHEMA[n-1]; append, never edit.
 * Version 1: SQLite migration 1 in PostgreSQL types. */
#define T "text COLLATE \"C\""
static const char *const PG_SCHEMA[] = {
	"CREATE TABLE IF NOT EXISTS meta(key " T " PRIMARY KEY, value text NOT NULL);"
	"CREATE TABLE records(seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	" role bigint NOT NULL, message_id " T ", client " T ", service " T ","
	" client_gateway " T ", service_gateway " T ", method " T ", path_template " T ","
	" request_in bigint NOT NULL, request_out bigint, response_in bigint,"
	" response_out bigint, request_size bigint, response_size bigint,"
	" success bigint NOT NULL, error_type " T ", status bigint, duration_ms bigint,"
	" own_ms bigint, peer_ms bigint, provider_ms bigint, purpose " T ","
	" personal bigint NOT NULL);"
	"CREATE INDEX records_time ON records(request_in);"
	"CREATE INDEX records_service ON records(service, request_in);"
	"INSERT INTO meta(key, value) VALUES('pg_schema', '1'), ('opmon_store', '1');",
	/* Version 2: SQLite migration 2. */
	"DROP INDEX IF EXISTS records_service;",
};
#undef T

static const struct ndx_sqldb_desc PG_DESC = {
	.prog = PROG,
	.what = "gateway opmon store",
	.init_key = "opmon_store",
	.pg_schema = PG_SCHEMA,
	.n_pg_schema = sizeof PG_SCHEMA / sizeof *PG_SCHEMA,
};

struct gw_opmon {
	sqlite3 *db;
	sqlite3_stmt *st[ST_N];
	sqlite3_stmt *insert[INSERT_SIZES]; /* of INSERT_ROWS[i] rows; NULL = over the
					     * library's limit of parameters */
	struct ndx_sqldb *pg; /* not NULL: the store is on PostgreSQL */
	struct gw_opmon_options opt;
	pthread_t thread;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t wake;   /* the writer: a batch is full, a job, stop */
	pthread_cond_t idle;   /* waiters of a synchronous job */
	struct slot *ring;
	size_t head, count;    /* count includes the slots being written */
	struct job *jobs, **jobs_tail;
	bool stopping;
	int64_t last_prune_ms;
	bool prune_more;       /* the last step stopped at its chunk */
	_Atomic uint64_t recorded, dropped, written, failed, pruned;
};

/* The store the gateway opened: what gw_opmon_stats reads. */
static _Atomic(struct gw_opmon *) current;

int64_t gw_opmon_now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* ---- the producer side ------------------------------------------------------ */

static void put(char *dst, size_t cap, const char *src, unsigned *nulls, int bit)
{
	size_t n;

	if (!src) {
		dst[0] = '\0';
		*nulls |= 1u << bit;
		return;
	}
	n = strnlen(src, cap - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
}

void gw_opmon_record(struct gw_opmon *m, const struct gw_opmon_in *in)
{
	struct slot *s;
	bool signal;

	if (!m)
		return;
	assert(in != NULL);
	pthread_mutex_lock(&m->mu);
	if (m->count == m->opt.queue_cap || m->stopping) {
		pthread_mutex_unlock(&m->mu);
		atomic_fetch_add_explicit(&m->dropped, 1, memory_order_relaxed);
		return;
	}
	s = &m->ring[(m->head + m->count) % m->opt.queue_cap];
	s->nulls = 0;
	s->role = in->role;
	put(s->message_id, sizeof s->message_id, in->message_id, &s->nulls, N_MESSAGE_ID);
	put(s->client, sizeof s->client, in->client, &s->nulls, N_CLIENT);
	put(s->service, sizeof s->service, in->service, &s->nulls, N_SERVICE);
	put(s->client_gateway, sizeof s->client_gateway, in->client_gateway, &s->nulls,
	    N_CLIENT_GW);
	put(s->service_gateway, sizeof s->service_gateway, in->service_gateway, &s->nulls,
	    N_SERVICE_GW);
	put(s->method, sizeof s->method, in->method, &s->nulls, N_METHOD);
	put(s->path_template, sizeof s->path_template, in->path_template, &s->nulls, N_PATH);
	put(s->error_type, sizeof s->error_type, in->error_type, &s->nulls, N_ERROR);
	put(s->purpose, sizeof s->purpose, in->purpose, &s->nulls, N_PURPOSE);
	s->request_in = in->request_in;
	s->request_out = in->request_out;
	s->response_in = in->response_in;
	s->response_out = in->response_out;
	s->request_size = in->request_size;
	s->response_size = in->response_size;
	s->peer_ms = in->peer_ms;
	s->provider_ms = in->provider_ms;
	s->status = in->status;
	s->success = in->success;
	s->personal = in->personal;
	m->count++;
	/* Only the record that fills a batch wakes the writer: the others wait
	 * for its timer, so that a record costs no futex call. */
	signal = m->count == GW_OPMON_BATCH;
	pthread_mutex_unlock(&m->mu);
	atomic_fetch_add_explicit(&m->recorded, 1, memory_order_relaxed);
	if (signal)
		pthread_cond_signal(&m->wake);
}

void gw_opmon_stats(struct gw_opmon_stats *st)
{
	struct gw_opmon *m = atomic_load(&current);

	memset(st, 0, sizeof *st);
	if (!m)
		return;
	st->recorded = atomic_load(&m->recorded);
	st->dropped = atomic_load(&m->dropped);
	st->written = atomic_load(&m->written);
	st->failed = atomic_load(&m->failed);
	st->pruned = atomic_load(&m->pruned);
	pthread_mutex_lock(&m->mu);
	st->depth = m->count;
	pthread_mutex_unlock(&m->mu);
	st->capacity = m->opt.queue_cap;
}

/* ---- the writer: inserts ------------------------------------------------------ */

static int step_done(struct gw_opmon *m, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return ndx_sqlstore_fail(m->db, PROG, what);
	return NDX_OK;
}

static void bind_text(sqlite3_stmt *st, int i, const char *v, bool null)
{
	if (null)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}

static void bind_ms(sqlite3_stmt *st, int i, int64_t v)
{
	if (v < 0)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_int64(st, i, v);
}

/* Binds s as the row whose first parameter is base + 1. */
static void bind_row(sqlite3_stmt *st, int base, const struct slot *s)
{
	int64_t duration = GW_OPMON_NONE, own = GW_OPMON_NONE, waited = 0;

	if (s->response_out >= 0 && s->request_in >= 0 && s->response_out >= s->request_in)
		duration = s->response_out - s->request_in;
	if (duration >= 0) {
		waited = (s->peer_ms > 0 ? s->peer_ms : 0) + (s->provider_ms > 0 ? s->provider_ms : 0);
		own = duration > waited ? duration - waited : 0;
	}
	sqlite3_bind_int(st, base + 1, (int)s->role);
	bind_text(st, base + 2, s->message_id, s->nulls & (1u << N_MESSAGE_ID));
	bind_text(st, base + 3, s->client, s->nulls & (1u << N_CLIENT));
	bind_text(st, base + 4, s->service, s->nulls & (1u << N_SERVICE));
	bind_text(st, base + 5, s->client_gateway, s->nulls & (1u << N_CLIENT_GW));
	bind_text(st, base + 6, s->service_gateway, s->nulls & (1u << N_SERVICE_GW));
	bind_text(st, base + 7, s->method, s->nulls & (1u << N_METHOD));
	bind_text(st, base + 8, s->path_template, s->nulls & (1u << N_PATH));
	sqlite3_bind_int64(st, base + 9, s->request_in < 0 ? 0 : s->request_in);
	bind_ms(st, base + 10, s->request_out);
	bind_ms(st, base + 11, s->response_in);
	bind_ms(st, base + 12, s->response_out);
	bind_ms(st, base + 13, s->request_size);
	bind_ms(st, base + 14, s->response_size);
	sqlite3_bind_int(st, base + 15, s->success ? 1 : 0);
	bind_text(st, base + 16, s->error_type, s->nulls & (1u << N_ERROR));
	if (s->status > 0)
		sqlite3_bind_int(st, base + 17, s->status);
	else
		sqlite3_bind_null(st, base + 17);
	bind_ms(st, base + 18, duration);
	bind_ms(st, base + 19, own);
	bind_ms(st, base + 20, s->peer_ms);
	bind_ms(st, base + 21, s->provider_ms);
	bind_text(st, base + 22, s->purpose, s->nulls & (1u << N_PURPOSE));
	sqlite3_bind_int(st, base + 23, s->personal ? 1 : 0);
}

/* Inserts slots [first, first + INSERT_ROWS[size]) with one statement. */
static int insert_rows(struct gw_opmon *m, size_t size, size_t first)
{
	sqlite3_stmt *st = m->insert[size];

	for (size_t r = 0; r < INSERT_ROWS[size]; r++)
		bind_row(st, (int)(r * INSERT_COLUMNS), &m->ring[(first + r) % m->opt.queue_cap]);
	return step_done(m, st, "insert");
}

/* Prepares the statements of INSERT_ROWS. A size whose parameters pass the
 * library's limit is left NULL and not used; one row always fits (SQLite's
 * limit is at least 999). */
static int prepare_inserts(struct gw_opmon *m)
{
	for (size_t i = 0; i < INSERT_SIZES; i++) {
		int rc = ndx_sqlstore_prepare_rows(m->db, INSERT_HEAD, INSERT_COLUMNS,
						   INSERT_ROWS[i], &m->insert[i]);

		if (rc != SQLITE_OK && rc != SQLITE_RANGE)
			return rc;
	}
	return SQLITE_OK;
}

/* Inserts slots [head, head + n) in one transaction (they are the writer's
 * until it gives them back). */
static int pg_write_batch(struct gw_opmon *m, size_t head, size_t n);

static void write_batch(struct gw_opmon *m, size_t head, size_t n)
{
	size_t ok = 0;

	if (m->pg) {
		ok = pg_write_batch(m, head, n) == NDX_OK ? n : 0;
		atomic_fetch_add(&m->written, ok);
		atomic_fetch_add(&m->failed, n - ok);
		return;
	}
	if (step_done(m, m->st[ST_BEGIN], "begin") != NDX_OK) {
		atomic_fetch_add(&m->failed, n);
		return;
	}
	for (size_t i = 0; i < n;) {
		size_t size = 0;

		while (m->insert[size] == NULL || INSERT_ROWS[size] > n - i)
			size++;
		if (insert_rows(m, size, head + i) == NDX_OK)
			ok += INSERT_ROWS[size];
		i += INSERT_ROWS[size];
	}
	if (step_done(m, m->st[ST_COMMIT], "commit") != NDX_OK) {
		step_done(m, m->st[ST_ROLLBACK], "rollback");
		ok = 0;
	}
	atomic_fetch_add(&m->written, ok);
	atomic_fetch_add(&m->failed, n - ok);
}

/* One step of retention: by time, then by count. Returns true when it
 * stopped at its chunk and there may be more. */
static bool pg_prune_step(struct gw_opmon *m, int64_t now_ms);

static bool prune_step(struct gw_opmon *m, int64_t now_ms)
{
	sqlite3_stmt *st;
	int64_t rows = 0, over;
	int changed;

	if (m->pg)
		return pg_prune_step(m, now_ms);
	st = m->st[ST_PRUNE_TIME];
	sqlite3_bind_int64(st, 1, now_ms - m->opt.retention_s * 1000);
	sqlite3_bind_int(st, 2, PRUNE_CHUNK);
	if (step_done(m, st, "retention by time") != NDX_OK)
		return false;
	changed = sqlite3_changes(m->db);
	atomic_fetch_add(&m->pruned, (uint64_t)changed);
	if (changed == PRUNE_CHUNK)
		return true;
	st = m->st[ST_COUNT_ROWS];
	if (sqlite3_step(st) == SQLITE_ROW)
		rows = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	over = rows - m->opt.max_records;
	if (over <= 0)
		return false;
	st = m->st[ST_PRUNE_COUNT];
	sqlite3_bind_int64(st, 1, over > PRUNE_CHUNK ? PRUNE_CHUNK : over);
	if (step_done(m, st, "retention by count") != NDX_OK)
		return false;
	atomic_fetch_add(&m->pruned, (uint64_t)sqlite3_changes(m->db));
	return over > PRUNE_CHUNK;
}

/* ---- the writer: reads ---------------------------------------------------------- */

static json_t *col_text(sqlite3_stmt *st, int i)
{
	const char *v = (const char *)sqlite3_column_text(st, i);

	return v ? json_string(v) : json_null();
}

static json_t *col_int(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? json_null()
							   : json_integer(sqlite3_column_int64(st, i));
}

static json_t *col_real(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? json_null()
							   : json_real(sqlite3_column_double(st, i));
}

static json_t *pg_read_records(struct gw_opmon *m, const struct gw_opmon_query *q,
			       const char *gateway);

static json_t *read_records(struct gw_opmon *m, const struct gw_opmon_query *q,
			    const char *gateway)
{
	sqlite3_stmt *st = m->st[ST_PAGE];
	json_t *list = json_array(), *doc;
	int64_t next = q->after;
	int rc;

	if (m->pg) {
		json_decref(list);
		return pg_read_records(m, q, gateway);
	}
	sqlite3_bind_int64(st, 1, q->after);
	sqlite3_bind_int64(st, 2, q->from_ms >= 0 ? q->from_ms : INT64_MIN);
	sqlite3_bind_int64(st, 3, q->to_ms >= 0 ? q->to_ms : INT64_MAX);
	sqlite3_bind_int64(st, 4, q->limit);
	while (list && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		int role = sqlite3_column_int(st, 1);
		json_t *r = json_object();

		next = sqlite3_column_int64(st, 0);
		if (!r || json_array_append_new(list, r) != 0) {
			json_decref(list);
			list = NULL;
			break;
		}
		json_object_set_new(r, "seq", json_integer(next));
		json_object_set_new(r, "role", json_string(role >= 0 && role < ROLE_COUNT ? ROLE_NAMES[role]
										: "unknown"));
		json_object_set_new(r, "message_id", col_text(st, 2));
		json_object_set_new(r, "client", col_text(st, 3));
		json_object_set_new(r, "service", col_text(st, 4));
		json_object_set_new(r, "client_gateway", col_text(st, 5));
		json_object_set_new(r, "service_gateway", col_text(st, 6));
		json_object_set_new(r, "method", col_text(st, 7));
		json_object_set_new(r, "path_template", col_text(st, 8));
		json_object_set_new(r, "request_in", col_int(st, 9));
		json_object_set_new(r, "request_out", col_int(st, 10));
		json_object_set_new(r, "response_in", col_int(st, 11));
		json_object_set_new(r, "response_out", col_int(st, 12));
		json_object_set_new(r, "request_size", col_int(st, 13));
		json_object_set_new(r, "response_size", col_int(st, 14));
		json_object_set_new(r, "success", json_boolean(sqlite3_column_int(st, 15)));
		json_object_set_new(r, "error_type", col_text(st, 16));
		json_object_set_new(r, "status", col_int(st, 17));
		json_object_set_new(r, "duration_ms", col_int(st, 18));
		json_object_set_new(r, "own_ms", col_int(st, 19));
		json_object_set_new(r, "peer_ms", col_int(st, 20));
		json_object_set_new(r, "provider_ms", col_int(st, 21));
		json_object_set_new(r, "purpose", col_text(st, 22));
		json_object_set_new(r, "personal", json_boolean(sqlite3_column_int(st, 23)));
	}
	sqlite3_reset(st);
	if (!list)
		return NULL;
	doc = json_pack("{sssosI}", "gateway", gateway, "records", list, "next_after",
			(json_int_t)next);
	return doc;
}

static json_t *stats3(sqlite3_stmt *st, int i)
{
	return json_pack("{sososo}", "min", col_int(st, i), "avg", col_real(st, i + 1), "max",
			 col_int(st, i + 2));
}

/* The health data's periods (X-Road's). */
static const struct {
	const char *name;
	int64_t ms;
} PERIODS[] = { { "last_10_minutes", 600000 }, { "last_hour", 3600000 },
		{ "last_day", 86400000 } };
#define N_PERIODS (sizeof PERIODS / sizeof *PERIODS)

/* The entry of (role, svc) in by_key and list, made when missing; NULL
 * when out of memory. */
static json_t *health_entry(json_t *by_key, json_t *list, int role, const char *svc)
{
	char k[GW_OPMON_ID_CAP + 16];
	json_t *entry;

	snprintf(k, sizeof k, "%d\n%s", role, svc ? svc : "");
	if ((entry = json_object_get(by_key, k)))
		return entry;
	entry = json_pack("{sosss{}}", "service", svc ? json_string(svc) : json_null(), "role",
			  role >= 0 && role < ROLE_COUNT ? ROLE_NAMES[role] : "unknown", "periods");
	if (!entry || json_object_set_new(by_key, k, entry) != 0)
		return NULL;
	json_array_append(list, entry);
	return entry;
}

/* A period without records of a service says so with zeros; then the document. */
static json_t *health_doc(json_t *by_key, json_t *list, const char *gateway, int64_t now)
{
	const char *key;
	json_t *v;

	json_object_foreach(by_key, key, v) {
		json_t *per = json_object_get(v, "periods");

		for (size_t p = 0; p < N_PERIODS; p++)
			if (!json_object_get(per, PERIODS[p].name))
				json_object_set_new(
					per, PERIODS[p].name,
					json_pack("{sisisnsns{snsnsn}s{snsnsn}s{snsnsn}}", "successful",
						  0, "failed", 0, "last_success", "last_failure",
						  "duration_ms", "min", "avg", "max", "request_size",
						  "min", "avg", "max", "response_size", "min", "avg",
						  "max"));
	}
	return json_pack("{sssIsO}", "gateway", gateway, "time", (json_int_t)now, "services", list);
}

static json_t *pg_read_health(struct gw_opmon *m, const char *gateway, int64_t now);

/* Per role and service, the three periods of X-Road's health data. */
static json_t *read_health(struct gw_opmon *m, const char *gateway, int64_t now)
{
	sqlite3_stmt *st = m->st[ST_HEALTH];
	json_t *by_key, *list, *doc = NULL;

	if (m->pg)
		return pg_read_health(m, gateway, now);
	by_key = json_object();
	list = json_array();
	if (!by_key || !list)
		goto out;
	for (size_t p = 0; p < N_PERIODS; p++) {
		sqlite3_bind_int64(st, 1, now - PERIODS[p].ms);
		while (sqlite3_step(st) == SQLITE_ROW) {
			int role = sqlite3_column_int(st, 0);
			const char *svc = (const char *)sqlite3_column_text(st, 1);
			json_t *entry = health_entry(by_key, list, role, svc), *per;

			if (!entry)
				break;
			per = json_pack("{sIsIsoso}", "successful",
					(json_int_t)sqlite3_column_int64(st, 2), "failed",
					(json_int_t)sqlite3_column_int64(st, 3), "last_success",
					col_int(st, 4), "last_failure", col_int(st, 5));
			if (per) {
				json_object_set_new(per, "duration_ms", stats3(st, 6));
				json_object_set_new(per, "request_size", stats3(st, 9));
				json_object_set_new(per, "response_size", stats3(st, 12));
				json_object_set_new(json_object_get(entry, "periods"), PERIODS[p].name,
						    per);
			}
		}
		sqlite3_reset(st);
	}
	doc = health_doc(by_key, list, gateway, now);
out:
	json_decref(by_key);
	json_decref(list);
	return doc;
}

/* ---- PostgreSQL ------------------------------------------------------------------ */

/* One slot as a JSON object of the records table's columns (nulls left out). */
static json_t *slot_json(const struct slot *s)
{
	int64_t duration = GW_OPMON_NONE, own = GW_OPMON_NONE, waited = 0;
	json_t *o = json_object();
	const struct {
		const char *col;
		const char *v;
		int bit;
	} texts[] = {
		{ "message_id", s->message_id, N_MESSAGE_ID }, { "client", s->client, N_CLIENT },
		{ "service", s->service, N_SERVICE },
		{ "client_gateway", s->client_gateway, N_CLIENT_GW },
		{ "service_gateway", s->service_gateway, N_SERVICE_GW },
		{ "method", s->method, N_METHOD }, { "path_template", s->path_template, N_PATH },
		{ "error_type", s->error_type, N_ERROR }, { "purpose", s->purpose, N_PURPOSE },
	};

	if (s->response_out >= 0 && s->request_in >= 0 && s->response_out >= s->request_in)
		duration = s->response_out - s->request_in;
	if (duration >= 0) {
		waited = (s->peer_ms > 0 ? s->peer_ms : 0) + (s->provider_ms > 0 ? s->provider_ms : 0);
		own = duration > waited ? duration - waited : 0;
	}
	const struct {
		const char *col;
		int64_t v;
	} nums[] = {
		{ "request_out", s->request_out }, { "response_in", s->response_in },
		{ "response_out", s->response_out }, { "request_size", s->request_size },
		{ "response_size", s->response_size }, { "duration_ms", duration },
		{ "own_ms", own }, { "peer_ms", s->peer_ms }, { "provider_ms", s->provider_ms },
		{ "status", s->status > 0 ? s->status : -1 },
	};

	if (!o)
		return NULL;
	json_object_set_new(o, "role", json_integer((json_int_t)s->role));
	json_object_set_new(o, "request_in", json_integer(s->request_in < 0 ? 0 : s->request_in));
	json_object_set_new(o, "success", json_integer(s->success ? 1 : 0));
	json_object_set_new(o, "personal", json_integer(s->personal ? 1 : 0));
	for (size_t i = 0; i < sizeof texts / sizeof *texts; i++)
		if (!(s->nulls & (1u << texts[i].bit)))
			json_object_set_new(o, texts[i].col, json_string(texts[i].v));
	for (size_t i = 0; i < sizeof nums / sizeof *nums; i++)
		if (nums[i].v >= 0)
			json_object_set_new(o, nums[i].col, json_integer(nums[i].v));
	return o;
}

/* The batch in one statement and one transaction (the sqldb writers' lock:
 * the nodes sharing the schema take turns). */
static int pg_write_batch(struct gw_opmon *m, size_t head, size_t n)
{
	json_t *arr = json_array();
	char *text = NULL;
	int rc = NDX_ENOMEM;

	for (size_t i = 0; arr && i < n; i++)
		if (json_array_append_new(arr, slot_json(&m->ring[(head + i) % m->opt.queue_cap])))
			goto out;
	if (!arr || !(text = json_dumps(arr, JSON_COMPACT)))
		goto out;
	if ((rc = m->pg->ops->begin(m->pg)) != NDX_OK)
		goto out;
	rc = ndx_sqldb_exec(m->pg, "INSERT INTO records(role, message_id, client, service,"
				   " client_gateway, service_gateway, method, path_template,"
				   " request_in, request_out, response_in, response_out,"
				   " request_size, response_size, success, error_type, status,"
				   " duration_ms, own_ms, peer_ms, provider_ms, purpose, personal)"
				   " SELECT role, message_id, client, service, client_gateway,"
				   " service_gateway, method, path_template, request_in, request_out,"
				   " response_in, response_out, request_size, response_size, success,"
				   " error_type, status, duration_ms, own_ms, peer_ms, provider_ms,"
				   " purpose, personal"
				   " FROM json_populate_recordset(NULL::records, ?1::json)",
			    "s", text);
	if (rc == NDX_OK)
		rc = m->pg->ops->commit(m->pg);
	if (rc != NDX_OK)
		m->pg->ops->rollback(m->pg);
out:
	free(text);
	json_decref(arr);
	return rc;
}

/* A statement's changed rows: -1 when it failed. */
static int64_t pg_changes(struct gw_opmon *m, const char *sql, const char *types, ...)
{
	int64_t changes = 0;
	va_list ap;
	int rc;

	va_start(ap, types);
	rc = m->pg->ops->run(m->pg, sql, types, ap, NULL, &changes);
	va_end(ap);
	return rc == NDX_OK ? changes : -1;
}

static bool pg_prune_step(struct gw_opmon *m, int64_t now_ms)
{
	json_t *row = NULL;
	int64_t changed, rows, over;

	changed = pg_changes(m, "DELETE FROM records WHERE seq IN (SELECT seq FROM records"
				" WHERE request_in < ?1 ORDER BY request_in LIMIT ?2)",
			     "ii", now_ms - m->opt.retention_s * 1000, (int64_t)PRUNE_CHUNK);
	if (changed < 0)
		return false;
	atomic_fetch_add(&m->pruned, (uint64_t)changed);
	if (changed == PRUNE_CHUNK)
		return true;
	if (ndx_sqldb_query_one(m->pg, &row, "SELECT count(*) AS n FROM records", "") != NDX_OK)
		return false;
	rows = (int64_t)json_integer_value(json_object_get(row, "n"));
	json_decref(row);
	over = rows - m->opt.max_records;
	if (over <= 0)
		return false;
	changed = pg_changes(m, "DELETE FROM records WHERE seq IN (SELECT seq FROM records"
				" ORDER BY seq LIMIT ?1)",
			     "i", over > PRUNE_CHUNK ? (int64_t)PRUNE_CHUNK : over);
	if (changed < 0)
		return false;
	atomic_fetch_add(&m->pruned, (uint64_t)changed);
	return over > PRUNE_CHUNK;
}

static json_t *pg_read_records(struct gw_opmon *m, const struct gw_opmon_query *q,
			       const char *gateway)
{
	json_t *rows = NULL, *r;
	int64_t next = q->after;
	size_t i;

	if (ndx_sqldb_query(m->pg, &rows, "SELECT seq, role, message_id, client, service,"
					  " client_gateway, service_gateway, method, path_template,"
					  " request_in, request_out, response_in, response_out,"
					  " request_size, response_size, success, error_type, status,"
					  " duration_ms, own_ms, peer_ms, provider_ms, purpose,"
					  " personal FROM records WHERE seq > ?1 AND request_in >= ?2"
					  " AND request_in < ?3 ORDER BY seq LIMIT ?4",
			    "iiii", q->after, q->from_ms >= 0 ? q->from_ms : INT64_MIN,
			    q->to_ms >= 0 ? q->to_ms : INT64_MAX, q->limit) != NDX_OK)
		return NULL;
	/* The row as read_records makes it: the role's name, two booleans. */
	json_array_foreach(rows, i, r) {
		json_int_t role = json_integer_value(json_object_get(r, "role"));

		next = (int64_t)json_integer_value(json_object_get(r, "seq"));
		json_object_set_new(r, "role", json_string(role >= 0 && role < ROLE_COUNT ? ROLE_NAMES[role]
										: "unknown"));
		json_object_set_new(r, "success",
				    json_boolean(json_integer_value(json_object_get(r, "success"))));
		json_object_set_new(r, "personal",
				    json_boolean(json_integer_value(json_object_get(r, "personal"))));
	}
	return json_pack("{sssosI}", "gateway", gateway, "records", rows, "next_after",
			 (json_int_t)next);
}

/* An average as PostgreSQL's text of a float8: a real, or null. */
static json_t *pg_real(json_t *row, const char *key)
{
	const char *v = json_string_value(json_object_get(row, key));

	return v ? json_real(strtod(v, NULL)) : json_null();
}

static json_t *pg_stats3(json_t *row, const char *col)
{
	char k[3][32];

	snprintf(k[0], sizeof k[0], "%s_min", col);
	snprintf(k[1], sizeof k[1], "%s_avg", col);
	snprintf(k[2], sizeof k[2], "%s_max", col);
	return json_pack("{sOsosO}", "min", json_object_get(row, k[0]), "avg", pg_real(row, k[1]),
			 "max", json_object_get(row, k[2]));
}

static json_t *pg_read_health(struct gw_opmon *m, const char *gateway, int64_t now)
{
	json_t *by_key = json_object(), *list = json_array(), *doc = NULL, *rows, *row;
	size_t i;

	if (!by_key || !list)
		goto out;
	for (size_t p = 0; p < N_PERIODS; p++) {
		rows = NULL;
		if (ndx_sqldb_query(m->pg, &rows,
				    "SELECT role, service, sum(success)::bigint AS ok,"
				    " sum(1 - success)::bigint AS failed,"
				    " max(CASE WHEN success = 1 THEN request_in END) AS last_success,"
				    " max(CASE WHEN success = 1 THEN NULL ELSE request_in END)"
				    " AS last_failure,"
				    " min(duration_ms) AS duration_min,"
				    " avg(duration_ms)::float8 AS duration_avg,"
				    " max(duration_ms) AS duration_max,"
				    " min(request_size) AS request_min,"
				    " avg(request_size)::float8 AS request_avg,"
				    " max(request_size) AS request_max,"
				    " min(response_size) AS response_min,"
				    " avg(response_size)::float8 AS response_avg,"
				    " max(response_size) AS response_max"
				    " FROM records WHERE request_in >= ?1 GROUP BY role, service"
				    " ORDER BY service NULLS FIRST, role",
				    "i", now - PERIODS[p].ms) != NDX_OK)
			goto out;
		json_array_foreach(rows, i, row) {
			json_t *entry = health_entry(
				by_key, list, (int)json_integer_value(json_object_get(row, "role")),
				json_string_value(json_object_get(row, "service")));
			json_t *per;

			if (!entry)
				break;
			per = json_pack("{sIsIsOsO}", "successful",
					json_integer_value(json_object_get(row, "ok")), "failed",
					json_integer_value(json_object_get(row, "failed")),
					"last_success", json_object_get(row, "last_success"),
					"last_failure", json_object_get(row, "last_failure"));
			if (per) {
				json_object_set_new(per, "duration_ms", pg_stats3(row, "duration"));
				json_object_set_new(per, "request_size", pg_stats3(row, "request"));
				json_object_set_new(per, "response_size", pg_stats3(row, "response"));
				json_object_set_new(json_object_get(entry, "periods"), PERIODS[p].name,
						    per);
			}
		}
		json_decref(rows);
	}
	doc = health_doc(by_key, list, gateway, now);
out:
	json_decref(by_key);
	json_decref(list);
	return doc;
}

static void run_query(struct gw_opmon *m, struct job *j)
{
	json_t *doc = j->q.kind == GW_OPMON_Q_HEALTH
			      ? read_health(m, j->gateway, gw_opmon_now_ms())
			      : read_records(m, &j->q, j->gateway);
	char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;

	json_decref(doc);
	j->done(j->ud, text ? NDX_OK : NDX_ENOMEM, text, text ? strlen(text) : 0);
}

/* ---- the writer thread ----------------------------------------------------------- */

static void *writer(void *arg)
{
	struct gw_opmon *m = arg;
	struct timespec deadline;

	for (;;) {
		size_t head, n;
		struct job *jobs;
		bool stop;
		int64_t now;

		clock_gettime(CLOCK_REALTIME, &deadline);
		deadline.tv_nsec += GW_OPMON_FLUSH_MS * 1000000L;
		if (deadline.tv_nsec >= 1000000000L) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000L;
		}
		pthread_mutex_lock(&m->mu);
		while (!m->stopping && !m->jobs && m->count < GW_OPMON_BATCH && !m->prune_more &&
		       pthread_cond_timedwait(&m->wake, &m->mu, &deadline) != ETIMEDOUT)
			;
		head = m->head;
		n = m->count;
		jobs = m->jobs;
		m->jobs = NULL;
		m->jobs_tail = &m->jobs;
		stop = m->stopping;
		pthread_mutex_unlock(&m->mu);
		if (n)
			write_batch(m, head, n);
		pthread_mutex_lock(&m->mu);
		m->head = (m->head + n) % m->opt.queue_cap;
		m->count -= n;
		pthread_mutex_unlock(&m->mu);
		now = gw_opmon_now_ms();
		if (m->prune_more || now - m->last_prune_ms >= GW_OPMON_PRUNE_EVERY_MS) {
			m->prune_more = prune_step(m, now);
			m->last_prune_ms = now;
		}
		while (jobs) {
			struct job *j = jobs;

			jobs = j->next;
			if (j->kind == JOB_QUERY) {
				run_query(m, j);
			} else if (j->kind == JOB_PRUNE) {
				while (prune_step(m, j->now_ms))
					;
				j->done(j->ud, NDX_OK, NULL, 0);
			} else {
				j->done(j->ud, NDX_OK, NULL, 0);
			}
			free(j);
		}
		if (stop) {
			pthread_mutex_lock(&m->mu);
			stop = m->count == 0 && !m->jobs;
			pthread_mutex_unlock(&m->mu);
			if (stop)
				return NULL;
		}
	}
}

static int post(struct gw_opmon *m, struct job *j)
{
	pthread_mutex_lock(&m->mu);
	if (m->stopping) {
		pthread_mutex_unlock(&m->mu);
		free(j);
		return NDX_EINVAL;
	}
	j->next = NULL;
	*m->jobs_tail = j;
	m->jobs_tail = &j->next;
	pthread_cond_signal(&m->wake);
	pthread_mutex_unlock(&m->mu);
	return NDX_OK;
}

int gw_opmon_query(struct gw_opmon *m, const struct gw_opmon_query *q, const char *gateway,
		   gw_opmon_answer_fn done, void *ud)
{
	struct job *j;

	/* accesses and proof are the message log's, not this store's. */
	if (!m || !q || !done || (q->kind != GW_OPMON_Q_RECORDS && q->kind != GW_OPMON_Q_HEALTH))
		return NDX_EINVAL;
	if (!(j = calloc(1, sizeof *j)))
		return NDX_ENOMEM;
	j->kind = JOB_QUERY;
	j->q = *q;
	snprintf(j->gateway, sizeof j->gateway, "%s", gateway ? gateway : "");
	j->done = done;
	j->ud = ud;
	return post(m, j);
}

/* A synchronous job's wait. */
struct waiter {
	struct gw_opmon *m;
	bool done;
	int rc;
	char *json;
	size_t len;
};

static void wake_waiter(void *ud, int rc, char *json, size_t len)
{
	struct waiter *w = ud;

	pthread_mutex_lock(&w->m->mu);
	w->rc = rc;
	w->json = json;
	w->len = len;
	w->done = true;
	pthread_cond_broadcast(&w->m->idle);
	pthread_mutex_unlock(&w->m->mu);
}

static int wait_job(struct gw_opmon *m, struct job *j, struct waiter *w)
{
	int rc;

	w->m = m;
	j->done = wake_waiter;
	j->ud = w;
	if ((rc = post(m, j)) != NDX_OK)
		return rc;
	pthread_mutex_lock(&m->mu);
	while (!w->done)
		pthread_cond_wait(&m->idle, &m->mu);
	pthread_mutex_unlock(&m->mu);
	return w->rc;
}

int gw_opmon_query_wait(struct gw_opmon *m, const struct gw_opmon_query *q, const char *gateway,
			char **json, size_t *len)
{
	struct waiter w = { 0 };
	struct job *j;
	int rc;

	*json = NULL;
	*len = 0;
	if (!m || !q || (q->kind != GW_OPMON_Q_RECORDS && q->kind != GW_OPMON_Q_HEALTH))
		return NDX_EINVAL;
	if (!(j = calloc(1, sizeof *j)))
		return NDX_ENOMEM;
	j->kind = JOB_QUERY;
	j->q = *q;
	snprintf(j->gateway, sizeof j->gateway, "%s", gateway ? gateway : "");
	rc = wait_job(m, j, &w);
	*json = w.json;
	*len = w.len;
	return rc;
}

int gw_opmon_flush(struct gw_opmon *m)
{
	struct waiter w = { 0 };
	struct job *j;

	if (!m || !(j = calloc(1, sizeof *j)))
		return m ? NDX_ENOMEM : NDX_EINVAL;
	j->kind = JOB_FLUSH;
	return wait_job(m, j, &w);
}

int gw_opmon_prune(struct gw_opmon *m, int64_t now_ms)
{
	struct waiter w = { 0 };
	struct job *j;

	if (!m || !(j = calloc(1, sizeof *j)))
		return m ? NDX_ENOMEM : NDX_EINVAL;
	j->kind = JOB_PRUNE;
	j->now_ms = now_ms;
	return wait_job(m, j, &w);
}

/* ---- open and close -------------------------------------------------------------- */

static void store_free(struct gw_opmon *m)
{
	for (int i = 0; i < ST_N; i++)
		sqlite3_finalize(m->st[i]);
	for (size_t i = 0; i < INSERT_SIZES; i++)
		sqlite3_finalize(m->insert[i]);
	sqlite3_close(m->db);
	if (m->pg)
		m->pg->ops->close(m->pg);
	pthread_mutex_destroy(&m->mu);
	pthread_cond_destroy(&m->wake);
	pthread_cond_destroy(&m->idle);
	free(m->ring);
	free(m);
}

int gw_opmon_open(const char *path, const struct gw_opmon_options *opt, struct gw_opmon **out,
		  char *err, size_t errcap)
{
	struct gw_opmon *m;
	int rc;

	*out = NULL;
	if (!path || !opt || opt->retention_s < 1 || opt->max_records < 1 || opt->queue_cap < 1)
		return ndx_fail(err, errcap, NDX_EINVAL, "opmon store: bad options");
	if (!(m = calloc(1, sizeof *m)) || !(m->ring = calloc(opt->queue_cap, sizeof *m->ring))) {
		free(m);
		return ndx_fail(err, errcap, NDX_ENOMEM, "opmon store: out of memory");
	}
	m->opt = *opt;
	m->jobs_tail = &m->jobs;
	pthread_mutex_init(&m->mu, NULL);
	pthread_cond_init(&m->wake, NULL);
	pthread_cond_init(&m->idle, NULL);
	if (ndx_sqldb_is_pg(path)) {
		/* A new schema is made; one made before (by this node or
		 * another of the member's) is opened at its version. */
		rc = ndx_sqldb_pg_open(&PG_DESC, path, true, &m->pg);
		if (rc == NDX_EEXIST)
			rc = ndx_sqldb_pg_open(&PG_DESC, path, false, &m->pg);
		if (rc != NDX_OK) {
			m->pg = NULL;
			store_free(m);
			return ndx_fail(err, errcap, rc == NDX_EINVAL ? NDX_EINVAL : NDX_EDB,
					"opmon store: cannot open it on PostgreSQL or apply its "
					"schema (the reason is on stderr)");
		}
		goto started;
	}
	rc = ndx_sqlstore_open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, MIGRATIONS,
			       sizeof MIGRATIONS / sizeof *MIGRATIONS, PROG, &m->db);
	if (rc != NDX_OK) {
		m->db = NULL;
		store_free(m);
		return ndx_fail(err, errcap, rc,
				"opmon store %s: cannot open it or apply its schema (the reason is "
				"on stderr)", path);
	}
	/* Statistics, not evidence: a crash may lose the last batch, never the
	 * database (WAL stays consistent with synchronous=NORMAL). */
	if (ndx_sqlstore_exec(m->db, PROG, "PRAGMA synchronous=NORMAL") != NDX_OK) {
		store_free(m);
		return ndx_fail(err, errcap, NDX_EDB, "opmon store %s: cannot set it up", path);
	}
	for (int i = 0; i < ST_N; i++)
		if (sqlite3_prepare_v3(m->db, STATEMENT_SQL[i], -1, SQLITE_PREPARE_PERSISTENT,
				       &m->st[i], NULL) != SQLITE_OK) {
			rc = ndx_fail(err, errcap, NDX_EDB, "opmon store %s: %s", path,
				      sqlite3_errmsg(m->db));
			store_free(m);
			return rc;
		}
	if (prepare_inserts(m) != SQLITE_OK) {
		rc = ndx_fail(err, errcap, NDX_EDB, "opmon store %s: %s", path, sqlite3_errmsg(m->db));
		store_free(m);
		return rc;
	}
started:
	/* Retention once now, then at most once a minute on the writer. */
	m->last_prune_ms = gw_opmon_now_ms();
	m->prune_more = prune_step(m, m->last_prune_ms);
	if (pthread_create(&m->thread, NULL, writer, m) != 0) {
		store_free(m);
		return ndx_fail(err, errcap, NDX_ENOMEM, "opmon store: cannot start its thread");
	}
	pthread_setname_np(m->thread, "opmon-writer");
	m->started = true;
	atomic_store(&current, m);
	*out = m;
	return NDX_OK;
}

void gw_opmon_close(struct gw_opmon *m)
{
	struct gw_opmon *expected = m;

	if (!m)
		return;
	atomic_compare_exchange_strong(&current, &expected, NULL);
	pthread_mutex_lock(&m->mu);
	m->stopping = true;
	pthread_cond_signal(&m->wake);
	pthread_mutex_unlock(&m->mu);
	if (m->started)
		pthread_join(m->thread, NULL);
	store_free(m);
}

/* ---- queries and path templates --------------------------------------------------- */

static int parse_ms(const char *text, const char *name, int64_t lo, int64_t hi, int64_t *out,
		    char *err, size_t errcap)
{
	unsigned long long n;

	if (!text)
		return NDX_OK;
	if (ndx_args_uint(text, (unsigned long long)lo, (unsigned long long)hi, &n) != NDX_OK)
		return ndx_fail(err, errcap, NDX_EINVAL, "%s must be an integer from %" PRId64
				" to %" PRId64, name, lo, hi);
	*out = (int64_t)n;
	return NDX_OK;
}

int gw_opmon_query_kind(const char *name, enum gw_opmon_query_kind *kind)
{
	static const char *const names[] = {
		[GW_OPMON_Q_RECORDS] = "records",
		[GW_OPMON_Q_HEALTH] = "health",
		[GW_OPMON_Q_ACCESSES] = "accesses",
		[GW_OPMON_Q_PROOF] = "proof",
	};

	for (size_t i = 0; name && i < sizeof names / sizeof names[0]; i++)
		if (strcmp(name, names[i]) == 0) {
			*kind = (enum gw_opmon_query_kind)i;
			return NDX_OK;
		}
	return NDX_EINVAL;
}

int gw_opmon_query_parse_args(enum gw_opmon_query_kind kind, const struct gw_opmon_args *a,
			      struct gw_opmon_query *q, char *err, size_t errcap)
{
	int rc;

	memset(q, 0, sizeof *q);
	q->kind = kind;
	q->limit = GW_OPMON_PAGE_DEFAULT;
	q->from_ms = q->to_ms = GW_OPMON_NONE;
	switch (kind) {
	case GW_OPMON_Q_HEALTH:
		return a->after || a->limit || a->from || a->to
			       ? ndx_fail(err, errcap, NDX_EINVAL, "health takes no parameters")
			       : NDX_OK;
	case GW_OPMON_Q_RECORDS:
		if ((rc = parse_ms(a->after, "after", 0, INT64_MAX, &q->after, err, errcap)) ||
		    (rc = parse_ms(a->limit, "limit", 1, GW_OPMON_PAGE_MAX, &q->limit, err,
				   errcap)) ||
		    (rc = parse_ms(a->from, "from", 0, INT64_MAX / 2, &q->from_ms, err, errcap)) ||
		    (rc = parse_ms(a->to, "to", 0, INT64_MAX / 2, &q->to_ms, err, errcap)))
			return rc;
		return NDX_OK;
	case GW_OPMON_Q_ACCESSES:
		/* The feed is a cursor over the message log: a time window
		 * would let a reader skip records without knowing it. */
		if (a->from || a->to || a->seq)
			return ndx_fail(err, errcap, NDX_EINVAL,
					"accesses takes after and limit only");
		if ((rc = parse_ms(a->after, "after", 0, INT64_MAX, &q->after, err, errcap)) ||
		    (rc = parse_ms(a->limit, "limit", 1, GW_OPMON_PAGE_MAX, &q->limit, err,
				   errcap)))
			return rc;
		return NDX_OK;
	case GW_OPMON_Q_PROOF:
		if (a->after || a->limit || a->from || a->to)
			return ndx_fail(err, errcap, NDX_EINVAL, "proof takes seq only");
		if (!a->seq)
			return ndx_fail(err, errcap, NDX_EINVAL, "proof needs seq");
		return parse_ms(a->seq, "seq", 1, INT64_MAX, &q->seq, err, errcap);
	}
	return ndx_fail(err, errcap, NDX_EINVAL, "unknown read");
}

int gw_opmon_query_parse(enum gw_opmon_query_kind kind, const char *after, const char *limit,
			 const char *from, const char *to, struct gw_opmon_query *q, char *err,
			 size_t errcap)
{
	struct gw_opmon_args a = { .after = after, .limit = limit, .from = from, .to = to };

	return gw_opmon_query_parse_args(kind, &a, q, err, errcap);
}

int gw_opmon_query_text(const struct gw_opmon_query *q, char *out, size_t cap)
{
	int n;
	char from[40] = "", to[40] = "";

	if (q->kind == GW_OPMON_Q_HEALTH)
		n = snprintf(out, cap, "health");
	else if (q->kind == GW_OPMON_Q_ACCESSES)
		n = snprintf(out, cap, "accesses?after=%" PRId64 "&limit=%" PRId64, q->after,
			     q->limit);
	else if (q->kind == GW_OPMON_Q_PROOF)
		n = snprintf(out, cap, "proof?seq=%" PRId64, q->seq);
	else {
		if (q->from_ms >= 0)
			snprintf(from, sizeof from, "&from=%" PRId64, q->from_ms);
		if (q->to_ms >= 0)
			snprintf(to, sizeof to, "&to=%" PRId64, q->to_ms);
		n = snprintf(out, cap, "records?after=%" PRId64 "&limit=%" PRId64 "%s%s", q->after,
			     q->limit, from, to);
	}
	return n < 0 || (size_t)n >= cap ? NDX_ETOOBIG : NDX_OK;
}

void gw_opmon_redact_path(const char *rest, char *out, size_t cap)
{
	size_t o = 0;
	const char *p = rest ? rest : "";

	assert(cap > 0);
	while (*p && o + 1 < cap) {
		const char *end = strchr(p + 1, '/');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		bool digit = false;

		/* p[0] is '/' except for a first segment without one. */
		for (size_t i = 0; i < n; i++)
			digit |= p[i] >= '0' && p[i] <= '9';
		if (digit) {
			const char *seg = p[0] == '/' ? "/{}" : "{}";
			size_t sl = strlen(seg);

			if (o + sl >= cap)
				break;
			memcpy(out + o, seg, sl);
			o += sl;
		} else {
			size_t take = n < cap - 1 - o ? n : cap - 1 - o;

			memcpy(out + o, p, take);
			o += take;
		}
		p += n;
	}
	out[o] = '\0';
}

/* Stars out every run of exactly 12 digits (a PIN) in s. */
static void star_pins(char *s)
{
	size_t run = 0;

	for (size_t i = 0;; i++) {
		if (s[i] >= '0' && s[i] <= '9') {
			run++;
			continue;
		}
		if (run == 12)
			memset(s + i - run, '*', run);
		run = 0;
		if (!s[i])
			break;
	}
}

void gw_opmon_path_template(const char *grant_pattern, const char *rest, char *out, size_t cap)
{
	const char *path = rest ? rest : "";

	/* A grant on every path ("*") names no template: the path, redacted. */
	if (grant_pattern && strcmp(grant_pattern, "*") != 0) {
		snprintf(out, cap, "%s", grant_pattern);
		star_pins(out);
		return;
	}
	gw_opmon_redact_path(path, out, cap);
}
