/* The reconciliation run (sec_reconcile.h), the same on both engines of
 * the sector store (sec_sql.h). The sector's person records are read table
 * by table in the order of their key (a key-less table's integer id, a
 * keyed table's key, both served by an index on either engine); each batch
 * is posted to the verification service through the agency's gateway, and
 * its answers and the position reached (the last key, and the records
 * done) are committed together in the sector's database (tables
 * reconcile_runs, reconcile_position, reconcile_results), so a run killed
 * at any point resumes after the last committed batch: a record is never
 * skipped, and its result is stored once (the primary key, the record's
 * place in the run, refuses a second). Only the batch in flight at a kill
 * is asked again. The report is made from the stored results, so it covers
 * the whole run, before and after a crash. Overview: docs/sectors.md
 * "Reconciliation". */
#include "sec_reconcile.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ndx/err.h"
#include "ndx/fetch.h"
#include "ndx/timefmt.h"
#include "sec_verify.h"
#include "store.h"

/* ---- what each sector sends ----------------------------------------------------- */

/* One table of person records: its key (NULL: the integer id) and the
 * columns sent as the service's fields (NULL: not held), living an SQL
 * expression true while the record holds the person as alive, where the
 * rows that are about a person. */
struct view {
	const char *sector, *table, *key, *pin, *name, *birth, *sex, *address, *living, *where;
};

static const struct view VIEWS[] = {
	{ "civil-status", "births", NULL, "child_pin", "child_name", "birth_date", "sex", NULL, NULL,
	  "1 = 1" },
	{ "enterprise", "owners", NULL, "owner_pin", NULL, NULL, NULL, NULL, NULL,
	  "length(owner_pin) = 12" },
	{ "tax", "taxpayers", "tax_id", "tax_id", "name", NULL, NULL, "address",
	  "status <> 'closed'", "kind = 'individual'" },
	{ "insurance", "participants", "pin", "pin", "name", NULL, NULL, "address",
	  "status <> 'deceased'", "1 = 1" },
	{ "land", "right_holders", NULL, "holder_id", NULL, NULL, NULL, NULL, NULL,
	  "length(holder_id) = 12" },
	{ "vehicles", "vehicles", "plate", "owner_id", NULL, NULL, NULL, "owner_address", NULL,
	  "length(owner_id) = 12" },
};
#define NVIEWS (sizeof VIEWS / sizeof VIEWS[0])

/* The sector column an answer's field is about. */
static const char *column_of(const struct view *v, const char *field)
{
	if (strcmp(field, "pin") == 0)
		return v->pin;
	if (strcmp(field, "full_name") == 0)
		return v->name;
	if (strcmp(field, "birth_date") == 0)
		return v->birth;
	if (strcmp(field, "sex") == 0)
		return v->sex;
	if (strcmp(field, "address") == 0)
		return v->address;
	return "status"; /* living */
}

/* ---- findings ------------------------------------------------------------------- */

static int is(const json_t *result, const char *field, const char *verdict)
{
	const char *v = json_string_value(json_object_get(result, field));
	return v && strcmp(v, verdict) == 0;
}

size_t reconcile_findings(const json_t *result, int pin_sent, struct reconcile_finding *out)
{
	size_t n = 0;
	int cand = json_is_string(json_object_get(result, "candidate_pin"));

#define ADD(k, f) (out[n].kind = (k), out[n].field = (f), n++)
	if (!pin_sent)
		ADD("missing-number", "pin");
	else if (is(result, "pin", VERIFY_DIFFERS) || (is(result, "pin", VERIFY_UNKNOWN) && cand))
		ADD("wrong-number", "pin");
	else if (is(result, "pin", VERIFY_UNKNOWN))
		ADD("unknown-number", "pin");
	if (is(result, "full_name", VERIFY_MARKS))
		ADD("name-marks", "full_name");
	else if (is(result, "full_name", VERIFY_DIFFERS))
		ADD("name-differs", "full_name");
	if (is(result, "birth_date", VERIFY_SWAPPED))
		ADD("date-swapped", "birth_date");
	else if (is(result, "birth_date", VERIFY_DIFFERS))
		ADD("date-differs", "birth_date");
	if (is(result, "sex", VERIFY_DIFFERS))
		ADD("sex-differs", "sex");
	if (is(result, "address", VERIFY_DIFFERS))
		ADD("address-differs", "address");
	if (is(result, "living", VERIFY_DIFFERS))
		ADD("deceased-active", "living");
#undef ADD
	return n;
}

unsigned reconcile_measure_faults(const json_t *result, int pin_sent, int holds_name,
				  int holds_birth, int holds_sex, int holds_address)
{
	struct reconcile_finding f[RECONCILE_FINDINGS_MAX];
	size_t n = reconcile_findings(result, pin_sent, f);
	unsigned faults = 0;

	/* Sufficient: the record holds each field its table has for a person. */
	if (!pin_sent || (holds_name && !json_object_get(result, "full_name")) ||
	    (holds_birth && !json_object_get(result, "birth_date")) ||
	    (holds_sex && !json_object_get(result, "sex")) ||
	    (holds_address && !json_object_get(result, "address")))
		faults |= RECONCILE_NOT_SUFFICIENT;
	for (size_t i = 0; i < n; i++) {
		const char *k = f[i].kind;
		if (strcmp(f[i].field, "pin") == 0)
			faults |= RECONCILE_NOT_CLEAN; /* dangling, duplicate or missing */
		else if (strcmp(k, "deceased-active") == 0 || strcmp(k, "address-differs") == 0)
			faults |= RECONCILE_NOT_LIVE; /* a death or a move not followed */
		else
			faults |= RECONCILE_NOT_ACCURATE; /* name, date, sex */
	}
	return faults;
}

const char *reconcile_expected(const char *defect_kind)
{
	static const char *const MAP[][2] = {
		{ "name-marks", "name-marks" },
		{ "date-swapped", "date-swapped" },
		{ "stale-address", "address-differs" },
		{ "duplicate-number", "wrong-number" },
		{ "duplicate-no-number", "missing-number" },
		{ "nonexistent-citizen", "unknown-number" },
		{ "deceased-active", "deceased-active" },
		{ "wrong-owner-number", "unknown-number" },
	};
	for (size_t i = 0; i < sizeof MAP / sizeof MAP[0]; i++)
		if (strcmp(MAP[i][0], defect_kind) == 0)
			return MAP[i][1];
	return NULL;
}

/* ---- the progress tables ----------------------------------------------------------- */

/* SQLite's (PostgreSQL's are made with the schema, store_pg.c, version 4).
 * rid: the record's place in the run, in reading order. */
static const char PROGRESS_SQL[] =
	"CREATE TABLE IF NOT EXISTS reconcile_runs(id INTEGER PRIMARY KEY, started_at TEXT NOT NULL,"
	" finished_at TEXT);"
	"CREATE TABLE IF NOT EXISTS reconcile_position(run INTEGER NOT NULL, tbl TEXT NOT NULL,"
	" last_key TEXT NOT NULL, done INTEGER NOT NULL, PRIMARY KEY(run, tbl));"
	"CREATE TABLE IF NOT EXISTS reconcile_results(run INTEGER NOT NULL, tbl TEXT NOT NULL,"
	" rid INTEGER NOT NULL, record_key TEXT NOT NULL, pin TEXT, result TEXT NOT NULL,"
	" PRIMARY KEY(run, tbl, rid));"
	"CREATE TABLE IF NOT EXISTS reconcile_corrections(id INTEGER PRIMARY KEY,"
	" run INTEGER NOT NULL, tbl TEXT NOT NULL, record_key TEXT NOT NULL, field TEXT NOT NULL,"
	" kind TEXT NOT NULL, old_value TEXT, new_value TEXT NOT NULL, officer TEXT NOT NULL,"
	" corrected_at TEXT NOT NULL, events TEXT, UNIQUE(run, tbl, record_key, field));";

/* An older version kept a run's position as a SQLite rowid (table
 * reconcile_cursor): its finished runs stay as they are (their rid is the
 * reading order the report keeps), a run it left unfinished is dropped,
 * and the next run starts afresh. */
static const char CURSOR_UPGRADE_SQL[] =
	"BEGIN IMMEDIATE;"
	"DELETE FROM reconcile_results WHERE run IN (SELECT id FROM reconcile_runs"
	" WHERE finished_at IS NULL);"
	"DELETE FROM reconcile_runs WHERE finished_at IS NULL;"
	"DROP TABLE reconcile_cursor;"
	"COMMIT";

static int sqlite_exec(sqlite3 *db, const char *sql)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK)
		return NDX_OK;
	fprintf(stderr, "ndx-sector reconcile: %s\n", sqlite3_errmsg(db));
	if (!sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return NDX_EDB;
}

/* Whether SQLite's db has table name: 1, 0, NDX_EDB. */
static int sqlite_has_table(sqlite3 *db, const char *name)
{
	sqlite3_stmt *q = NULL;
	int rc;

	if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
			       -1, &q, NULL) != SQLITE_OK)
		return NDX_EDB;
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : NDX_EDB;
}

int reconcile_tables(const struct sec_sql *s)
{
	sqlite3_stmt *q = NULL;
	int rc, has;

	if (s->pg)
		return NDX_OK;
	if ((rc = sqlite_exec(s->db, PROGRESS_SQL)))
		return rc;
	if ((has = sqlite_has_table(s->db, "reconcile_cursor")) < 0)
		return NDX_EDB;
	if (has && (rc = sqlite_exec(s->db, CURSOR_UPGRADE_SQL)))
		return rc;
	/* A correction log of an older version has no events column (the ids
	 * of the events a correction published): it is added, NULL in the
	 * old rows. */
	has = sqlite3_prepare_v2(s->db, "SELECT events FROM reconcile_corrections", -1, &q, NULL) ==
	      SQLITE_OK;
	sqlite3_finalize(q);
	return has ? NDX_OK
		   : sqlite_exec(s->db, "ALTER TABLE reconcile_corrections ADD COLUMN events TEXT");
}

int reconcile_has_runs(const struct sec_sql *s, int *has)
{
	int a, b;

	*has = 1;
	if (s->pg)
		return NDX_OK;
	if ((a = sqlite_has_table(s->db, "reconcile_runs")) < 0 ||
	    (b = sqlite_has_table(s->db, "reconcile_results")) < 0) {
		fprintf(stderr, "%s: %s\n", s->who, sqlite3_errmsg(s->db));
		return NDX_EDB;
	}
	*has = a && b;
	return NDX_OK;
}

/* Row readers for the queries below. */
static int read_ll(void *ctx, int ncols, const char *const *vals)
{
	long long *v = ctx;

	if (ncols > 0 && vals[0])
		*v = strtoll(vals[0], NULL, 10);
	return NDX_OK;
}

/* The unfinished run, or a new one: *run its id. */
static int open_run(const struct sec_sql *s, long long *run, int *resumed)
{
	char now[NDX_TIME_TEXT_LEN];
	const char *params[1] = { now };
	int rc;

	*run = 0;
	if ((rc = reconcile_tables(s)))
		return rc;
	if ((rc = sec_sql_query(s, "SELECT id FROM reconcile_runs WHERE finished_at IS NULL "
				   "ORDER BY id DESC LIMIT 1", 0, NULL, read_ll, run)))
		return rc;
	*resumed = *run != 0;
	if (*resumed)
		return NDX_OK;
	ndx_time_format(time(NULL), now);
	if ((rc = sec_sql_query(s, "INSERT INTO reconcile_runs(started_at) VALUES(?1) RETURNING id",
				1, params, read_ll, run)))
		return rc;
	return *run ? NDX_OK : NDX_EDB;
}

struct position {
	char last_key[256];
	long long done;
};

static int read_position(void *ctx, int ncols, const char *const *vals)
{
	struct position *p = ctx;

	if (ncols >= 2 && vals[0] && vals[1]) {
		snprintf(p->last_key, sizeof p->last_key, "%s", vals[0]);
		p->done = strtoll(vals[1], NULL, 10);
	}
	return NDX_OK;
}

/* Where run is in v's table: the last key read ("" before the first;
 * a key-less table's "0") and the records done. */
static int position_of(const struct sec_sql *s, long long run, const struct view *v,
		       struct position *p)
{
	char r[24];
	const char *params[2] = { r, v->table };

	snprintf(p->last_key, sizeof p->last_key, "%s", v->key ? "" : "0");
	p->done = 0;
	snprintf(r, sizeof r, "%lld", run);
	return sec_sql_query(s, "SELECT last_key, done FROM reconcile_position "
				"WHERE run = CAST(?1 AS bigint) AND tbl = ?2", 2, params,
			     read_position, p);
}

/* ---- one batch --------------------------------------------------------------------- */

struct batch {
	size_t n;
	char *key[VERIFY_MAX_RECORDS];
	char *pin[VERIFY_MAX_RECORDS];
	json_t *records; /* the request's array */
	int failed;      /* no memory while reading */
};

static void batch_clear(struct batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		free(b->key[i]);
		free(b->pin[i]);
	}
	b->n = 0;
	b->failed = 0;
	json_decref(b->records);
	b->records = NULL;
}

/* The SELECT of the next records of v after a key (?1), in key order. */
static char *select_sql(const struct view *v, size_t limit)
{
	char *sql = NULL, living[160];
	size_t len = 0;
	FILE *f = open_memstream(&sql, &len);

	if (!f)
		return NULL;
	if (v->living)
		snprintf(living, sizeof living, "CASE WHEN %s THEN 1 ELSE 0 END", v->living);
	else
		snprintf(living, sizeof living, "NULL");
	fprintf(f, "SELECT %s, %s, %s, %s, %s, %s, %s FROM %s WHERE %s > %s AND (%s) "
		   "ORDER BY %s LIMIT %zu",
		v->key ? v->key : "id", v->pin, v->name ? v->name : "NULL",
		v->birth ? v->birth : "NULL", v->sex ? v->sex : "NULL",
		v->address ? v->address : "NULL", living, v->table, v->key ? v->key : "id",
		v->key ? "?1" : "CAST(?1 AS bigint)", v->where, v->key ? v->key : "id", limit);
	if (fclose(f) != 0) {
		free(sql);
		return NULL;
	}
	return sql;
}

static int batch_row(void *ctx, int ncols, const char *const *vals)
{
	static const char *const FIELDS[] = { "pin", "full_name", "birth_date", "sex", "address" };
	struct batch *b = ctx;
	json_t *rec;
	size_t i = b->n;

	if (ncols < 7 || b->failed || i >= VERIFY_MAX_RECORDS)
		return NDX_OK;
	if (!(rec = json_object())) {
		b->failed = 1;
		return NDX_OK;
	}
	b->key[i] = vals[0] ? strdup(vals[0]) : NULL;
	b->pin[i] = vals[1] ? strdup(vals[1]) : NULL;
	b->n++;
	for (int f = 0; f < 5; f++)
		if (vals[1 + f] && *vals[1 + f])
			json_object_set_new(rec, FIELDS[f], json_string(vals[1 + f]));
	if (vals[6] && strcmp(vals[6], "1") == 0)
		json_object_set_new(rec, "living", json_true());
	if (!b->key[i] || (vals[1] && !b->pin[i]) || json_array_append_new(b->records, rec))
		b->failed = 1;
	return NDX_OK; /* read to the end: the connection is then ready */
}

/* Reads the next batch after key after into b; b->n 0 at the end. */
static int read_batch(const struct sec_sql *s, const struct view *v, size_t limit,
		      const char *after, struct batch *b)
{
	const char *params[1] = { after };
	char *sql = select_sql(v, limit);
	int rc;

	if (!sql)
		return NDX_ENOMEM;
	if (!(b->records = json_array())) {
		free(sql);
		return NDX_ENOMEM;
	}
	rc = sec_sql_query(s, sql, 1, params, batch_row, b);
	free(sql);
	return rc ? rc : b->failed ? NDX_ENOMEM : NDX_OK;
}

/* Posts the batch; *results the answer's array (new reference). */
static int ask(const struct reconcile_opts *o, const struct batch *b, json_t **results)
{
	char url[2048], client[512], purpose[512];
	const char *headers[] = { client, purpose, "Content-Type: application/json", NULL };
	struct ndx_fetch_resp resp = { 0 };
	json_t *body = json_pack("{sO}", "records", b->records), *doc;
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	int rc;

	json_decref(body);
	if (!text)
		return NDX_ENOMEM;
	snprintf(url, sizeof url, "%s/r1/%s", o->gateway, o->service);
	snprintf(client, sizeof client, "X-Road-Client: %s", o->client);
	snprintf(purpose, sizeof purpose, "Ndx-Purpose: %s", o->purpose);
	struct ndx_fetch_req req = { .method = "POST", .url = url, .headers = headers, .body = text,
				     .body_len = strlen(text), .timeout_ms = 60000 };
	rc = ndx_fetch(&req, &resp);
	free(text);
	if (rc) {
		fprintf(stderr, "ndx-sector reconcile: %s: %s\n", url, ndx_strerror(rc));
		return rc == NDX_ENET ? NDX_ENET : rc;
	}
	if (resp.status != 200) {
		fprintf(stderr, "ndx-sector reconcile: %s answered %ld %s: %.300s\n", url, resp.status,
			resp.xroad_error, resp.body ? resp.body : "");
		ndx_fetch_resp_free(&resp);
		return NDX_EPERM;
	}
	doc = resp.body ? json_loadb(resp.body, resp.len, 0, NULL) : NULL;
	ndx_fetch_resp_free(&resp);
	*results = json_incref(json_object_get(doc, "results"));
	json_decref(doc);
	if (!json_is_array(*results) || json_array_size(*results) != b->n) {
		fprintf(stderr, "ndx-sector reconcile: %s: the answer is not one result a record\n",
			url);
		json_decref(*results);
		*results = NULL;
		return NDX_EPERM;
	}
	return NDX_OK;
}

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Waits until sending n more records keeps the rate. */
static void pace(const struct reconcile_opts *o, double t0, unsigned long long sent, size_t n)
{
	if (o->rate <= 0)
		return;
	/* A batch leaves once the records before it have had their time. */
	(void)n;
	double wait = t0 + (double)sent / o->rate - now_s();
	if (wait > 0) {
		struct timespec ts = { (time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9) };
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
	}
}

/* Stores the answers and the position reached, in one transaction. */
static int commit_batch(const struct sec_sql *s, long long run, const struct view *v,
			const struct batch *b, const json_t *results, long long done)
{
	char r[24], rid[24];
	int rc = sec_sql_begin(s);

	if (rc)
		return rc;
	snprintf(r, sizeof r, "%lld", run);
	for (size_t i = 0; rc == NDX_OK && i < b->n; i++) {
		char *text = json_dumps(json_array_get(results, i), JSON_COMPACT);
		if (!text) {
			rc = NDX_ENOMEM;
			break;
		}
		snprintf(rid, sizeof rid, "%lld", done + (long long)i + 1);
		const char *params[6] = { r, v->table, rid, b->key[i], b->pin[i], text };
		rc = sec_sql_exec(s, "INSERT INTO reconcile_results(run, tbl, rid, record_key, pin, "
				     "result) VALUES(CAST(?1 AS bigint), ?2, CAST(?3 AS bigint), ?4, ?5, ?6)",
				  6, params, NULL);
		free(text);
	}
	if (rc == NDX_OK) {
		snprintf(rid, sizeof rid, "%lld", done + (long long)b->n);
		const char *params[4] = { r, v->table, b->key[b->n - 1], rid };
		rc = sec_sql_exec(s, "INSERT INTO reconcile_position(run, tbl, last_key, done) "
				     "VALUES(CAST(?1 AS bigint), ?2, ?3, CAST(?4 AS bigint)) "
				     "ON CONFLICT(run, tbl) DO UPDATE SET last_key = excluded.last_key, "
				     "done = excluded.done",
				  4, params, NULL);
	}
	if (rc == NDX_OK)
		return sec_sql_commit(s);
	sec_sql_rollback(s);
	return rc == NDX_EEXIST ? NDX_EDB : rc;
}

struct progress {
	double t0;
	unsigned long long sent, batches;
};

static int run_view(const struct reconcile_opts *o, const struct sec_sql *s, long long run,
		    const struct view *v, struct progress *p)
{
	struct batch *b = calloc(1, sizeof *b);
	struct position pos;
	int rc;

	if (!b)
		return NDX_ENOMEM;
	if ((rc = position_of(s, run, v, &pos)))
		goto out;
	for (;;) {
		json_t *results = NULL;
		if ((rc = read_batch(s, v, o->batch, pos.last_key, b)) || b->n == 0)
			break;
		/* The position must hold the last key whole (the schema's keys
		 * are far shorter). */
		if (strlen(b->key[b->n - 1]) >= sizeof pos.last_key) {
			fprintf(stderr, "ndx-sector reconcile: %s: a key longer than %zu bytes\n",
				v->table, sizeof pos.last_key - 1);
			rc = NDX_EINVAL;
			break;
		}
		pace(o, p->t0, p->sent, b->n);
		if ((rc = ask(o, b, &results)))
			break;
		rc = commit_batch(s, run, v, b, results, pos.done);
		json_decref(results);
		if (rc)
			break;
		pos.done += (long long)b->n;
		snprintf(pos.last_key, sizeof pos.last_key, "%s", b->key[b->n - 1]);
		p->sent += b->n;
		p->batches++;
		if (!o->quiet)
			fprintf(stderr, "ndx-sector reconcile: %s: %llu records checked (%.0f/s)\n",
				v->table, p->sent, (double)p->sent / (now_s() - p->t0 + 1e-9));
		batch_clear(b);
	}
out:
	batch_clear(b);
	free(b);
	return rc;
}

/* ---- the report ---------------------------------------------------------------------- */

/* Truth: "table\tkey\tfield" -> expected finding kind, and the counts. */
struct truth {
	json_t *expected; /* object: "table\tkey\tfield" -> defect kind */
	json_t *by_kind;  /* defect kind -> {"expected", "found"} */
};

static int load_truth(const char *path, const char *sector, struct truth *t)
{
	FILE *f = fopen(path, "r");
	char line[4096];

	if (!f) {
		fprintf(stderr, "ndx-sector reconcile: --truth %s: %s\n", path, strerror(errno));
		return NDX_EIO;
	}
	t->expected = json_object();
	t->by_kind = json_object();
	while (fgets(line, sizeof line, f)) {
		json_t *o = json_loads(line, 0, NULL);
		const char *s = json_string_value(json_object_get(o, "sector")),
			   *tb = json_string_value(json_object_get(o, "table")),
			   *k = json_string_value(json_object_get(o, "key")),
			   *kind = json_string_value(json_object_get(o, "kind")),
			   *fl = json_string_value(json_object_get(o, "field"));
		if (s && tb && k && kind && fl && strcmp(s, sector) == 0 && reconcile_expected(kind)) {
			char id[512];
			snprintf(id, sizeof id, "%s\t%s\t%s", tb, k, fl);
			json_object_set_new(t->expected, id, json_string(kind));
			json_t *c = json_object_get(t->by_kind, kind);
			if (!c)
				json_object_set_new(t->by_kind, kind,
						    c = json_pack("{sisi}", "expected", 0, "found", 0));
			json_object_set_new(c, "expected",
					    json_integer(json_integer_value(json_object_get(c, "expected")) + 1));
		}
		json_decref(o);
	}
	int bad = ferror(f);
	fclose(f);
	if (bad || !t->expected || !t->by_kind) {
		fprintf(stderr, "ndx-sector reconcile: --truth %s: cannot read it\n", path);
		return NDX_EIO;
	}
	return NDX_OK;
}

static void count_into(json_t *obj, const char *key, const char *sub, json_int_t add)
{
	json_t *c = json_object_get(obj, key);
	if (!c)
		json_object_set_new(obj, key, c = json_object());
	json_object_set_new(c, sub, json_integer(json_integer_value(json_object_get(c, sub)) + add));
}

/* The keys of the other records of v's table holding pin (a merge
 * candidate's), in key order. */
static int add_key(void *ctx, int ncols, const char *const *vals)
{
	json_t *keys = ctx;

	if (ncols > 0 && vals[0] && json_array_append_new(keys, json_string(vals[0])))
		return NDX_ENOMEM;
	return NDX_OK;
}

static int holders_of(const struct sec_sql *s, const struct view *v, const char *pin,
		      const char *key, json_t *keys)
{
	char sql[256];
	const char *params[2] = { pin, key };
	const char *k = v->key ? v->key : "id";

	snprintf(sql, sizeof sql, "SELECT %s FROM %s WHERE %s = ?1 AND %s <> %s ORDER BY %s LIMIT 10",
		 k, v->table, v->pin, k, v->key ? "?2" : "CAST(?2 AS bigint)", k);
	return sec_sql_query(s, sql, 2, params, add_key, keys);
}

struct report_ctx {
	const struct view *v;
	struct truth *truth;
	json_t *findings, *kinds, *by_finding, *measures;
	json_t *cands; /* [key, candidate] of the results with a candidate */
	json_int_t checked, matches;
};

static int report_row(void *ctx, int ncols, const char *const *vals)
{
	static const char *const MEASURES[] = { "accurate", "sufficient", "clean", "live" };
	struct report_ctx *x = ctx;
	const struct view *v = x->v;
	struct reconcile_finding f[RECONCILE_FINDINGS_MAX];
	const char *key, *cand;
	json_t *res;
	size_t n;
	int pin_sent;

	if (ncols < 4 || !vals[1] || !vals[3])
		return NDX_OK;
	key = vals[1];
	pin_sent = vals[2] != NULL;
	res = json_loads(vals[3], 0, NULL);
	n = reconcile_findings(res, pin_sent, f);
	cand = json_string_value(json_object_get(res, "candidate_pin"));
	x->checked++;
	x->matches += n == 0;
	unsigned faults = reconcile_measure_faults(res, pin_sent, v->name != NULL, v->birth != NULL,
						   v->sex != NULL, v->address != NULL);
	for (unsigned m = 0; m < 4; m++)
		count_into(x->measures, MEASURES[m], "records", !(faults & (1u << m)));
	for (size_t i = 0; i < n; i++) {
		const char *col = column_of(v, f[i].field);
		json_t *one = json_pack("{ssssssss}", "table", v->table, "key", key, "kind",
					f[i].kind, "field", col);
		if (one && cand && strcmp(f[i].field, "pin") == 0)
			json_object_set_new(one, "candidate_pin", json_string(cand));
		json_array_append_new(x->findings, one);
		char id[512];
		snprintf(id, sizeof id, "%s\t%s", f[i].kind, col);
		count_into(x->kinds, id, "count", 1);
		if (x->truth->expected) {
			snprintf(id, sizeof id, "%s\t%s\t%s", v->table, key, col);
			const char *dk = json_string_value(json_object_get(x->truth->expected, id));
			int right = dk && strcmp(reconcile_expected(dk), f[i].kind) == 0;
			count_into(x->by_finding, f[i].kind, "count", 1);
			count_into(x->by_finding, f[i].kind, "true", right);
			if (right)
				count_into(x->truth->by_kind, dk, "found", 1);
		}
	}
	if (cand)
		json_array_append_new(x->cands, json_pack("[ss]", key, cand));
	json_decref(res);
	return NDX_OK;
}

/* Adds the findings of every stored result of run to report: the results
 * streamed in the run's order, then the other holders of each candidate
 * number (a second statement: none runs while a query's rows come). */
static int report_results(const struct sec_sql *s, long long run, const struct view *v,
			  struct truth *truth, json_t *report)
{
	struct report_ctx x = {
		.v = v, .truth = truth,
		.findings = json_object_get(json_object_get(report, "findings"), "items"),
		.kinds = json_object_get(report, "mismatches"),
		.by_finding = json_object_get(report, "by_finding"),
		.measures = json_object_get(report, "measures"),
		.cands = json_array(),
	};
	json_t *merges = json_object_get(report, "merge_candidates"), *c;
	char r[24];
	const char *params[2] = { r, v->table };
	size_t i;
	int rc;

	if (!x.cands)
		return NDX_ENOMEM;
	snprintf(r, sizeof r, "%lld", run);
	rc = sec_sql_query(s, "SELECT rid, record_key, pin, result FROM reconcile_results "
			      "WHERE run = CAST(?1 AS bigint) AND tbl = ?2 ORDER BY rid",
			   2, params, report_row, &x);
	json_array_foreach(x.cands, i, c) {
		const char *key = json_string_value(json_array_get(c, 0)),
			   *cand = json_string_value(json_array_get(c, 1));
		json_t *same = json_array();
		if (rc == NDX_OK && (!same || !key || !cand))
			rc = NDX_ENOMEM;
		if (rc == NDX_OK)
			rc = holders_of(s, v, cand, key, same);
		if (rc == NDX_OK && json_array_size(same))
			json_array_append_new(merges, json_pack("{sssssssO}", "table", v->table, "key",
								key, "candidate_pin", cand,
								"same_person_as", same));
		json_decref(same);
	}
	json_decref(x.cands);
	if (rc)
		return rc;
	json_object_set_new(report, "records_checked",
			    json_integer(json_integer_value(json_object_get(report, "records_checked")) +
					 x.checked));
	json_object_set_new(report, "matches",
			    json_integer(json_integer_value(json_object_get(report, "matches")) +
					 x.matches));
	return NDX_OK;
}

static double ratio(json_int_t a, json_int_t b)
{
	return b ? (double)a / (double)b : 1.0;
}

/* "kind\tfield" -> count into [{kind, field, count}]; precision and recall. */
static void finish_report(json_t *report, struct truth *truth)
{
	json_t *kinds = json_object_get(report, "mismatches"), *list = json_array(), *v;
	const char *k;

	json_object_foreach(kinds, k, v) {
		const char *tab = strchr(k, '\t');
		json_array_append_new(list, json_pack("{ss#sssO}", "kind", k, (int)(tab - k), "field",
						      tab + 1, "count", json_object_get(v, "count")));
	}
	json_object_set_new(report, "mismatches", list);
	json_int_t checked = json_integer_value(json_object_get(report, "records_checked"));
	json_object_foreach(json_object_get(report, "measures"), k, v)
		json_object_set_new(v, "share",
				    json_real(ratio(json_integer_value(json_object_get(v, "records")),
						    checked)));
	json_object_set_new(report, "findings",
			    json_incref(json_object_get(json_object_get(report, "findings"), "items")));
	if (!truth->expected) {
		json_object_del(report, "by_finding");
		return;
	}
	json_t *by_finding = json_object_get(report, "by_finding");
	json_object_foreach(by_finding, k, v) {
		json_int_t c = json_integer_value(json_object_get(v, "count")),
			   t = json_integer_value(json_object_get(v, "true"));
		json_object_set_new(v, "precision", json_real(ratio(t, c)));
	}
	json_object_foreach(truth->by_kind, k, v) {
		json_int_t e = json_integer_value(json_object_get(v, "expected")),
			   f = json_integer_value(json_object_get(v, "found"));
		if (!json_object_get(v, "found"))
			json_object_set_new(v, "found", json_integer(0));
		json_object_set_new(v, "reported_as", json_string(reconcile_expected(k)));
		json_object_set_new(v, "recall", json_real(ratio(f, e)));
	}
	json_object_set_new(report, "truth", json_pack("{sOsO}", "by_defect", truth->by_kind,
							"by_finding", by_finding));
	json_object_del(report, "by_finding");
}

/* ---- the run -------------------------------------------------------------------------- */

static int finish_run(const struct sec_sql *s, long long run)
{
	char now[NDX_TIME_TEXT_LEN], r[24];
	const char *params[2] = { now, r };

	ndx_time_format(time(NULL), now);
	snprintf(r, sizeof r, "%lld", run);
	return sec_sql_exec(s, "UPDATE reconcile_runs SET finished_at = ?1 WHERE id = CAST(?2 AS bigint)",
			    2, params, NULL);
}

int reconcile_run(const struct reconcile_opts *o, json_t **report)
{
	struct truth truth = { 0 };
	struct progress p = { .t0 = now_s() };
	struct store *st = NULL;
	struct store_conn *c = NULL;
	struct sec_sql s;
	long long run = 0;
	int rc, resumed = 0;
	size_t nv = 0;
	const struct view *views[NVIEWS];

	*report = NULL;
	for (size_t i = 0; i < NVIEWS; i++)
		if (strcmp(VIEWS[i].sector, o->def->name) == 0)
			views[nv++] = &VIEWS[i];
	if (nv == 0) {
		fprintf(stderr, "ndx-sector reconcile: %s is the reference, or holds no person records "
				"to reconcile\n", o->def->name);
		return NDX_EINVAL;
	}
	if (o->truth_path && (rc = load_truth(o->truth_path, o->def->name, &truth)))
		goto out;
	if ((rc = store_open(o->db_path, o->def, 0, 1, &st)))
		goto out;
	c = store_acquire(st);
	s = sec_sql_of(c, "ndx-sector reconcile");
	if ((rc = open_run(&s, &run, &resumed)))
		goto out;
	if (!o->quiet)
		fprintf(stderr, "ndx-sector reconcile: %s run %lld%s\n", o->def->name, run,
			resumed ? " (resumed)" : "");
	for (size_t i = 0; rc == NDX_OK && i < nv; i++)
		rc = run_view(o, &s, run, views[i], &p);
	if (rc == NDX_OK)
		rc = finish_run(&s, run);
	if (rc)
		goto out;
	*report = json_pack("{sssIsbsisis{s[]}s[]s{}s{}s{}sIsIsf}", "sector", o->def->name, "run",
			    (json_int_t)run, "resumed", resumed, "records_checked", 0, "matches", 0,
			    "findings", "items", "merge_candidates", "mismatches", "by_finding",
			    "measures",
			    "checked_by_this_process", (json_int_t)p.sent, "batches_by_this_process",
			    (json_int_t)p.batches, "seconds", now_s() - p.t0);
	if (!*report) {
		rc = NDX_ENOMEM;
		goto out;
	}
	for (size_t i = 0; rc == NDX_OK && i < nv; i++)
		rc = report_results(&s, run, views[i], &truth, *report);
	if (rc == NDX_OK)
		finish_report(*report, &truth);
out:
	if (rc) {
		json_decref(*report);
		*report = NULL;
	}
	json_decref(truth.expected);
	json_decref(truth.by_kind);
	if (c)
		store_release(st, c);
	store_close(st);
	return rc;
}

/* ---- what the correction worklists and the measures read -------------------------------- */

int reconcile_last_finished(const struct sec_sql *s, long long *run)
{
	*run = 0;
	return sec_sql_query(s, "SELECT max(id) FROM reconcile_runs WHERE finished_at IS NOT NULL", 0,
			     NULL, read_ll, run);
}

int reconcile_run_findings(const struct sector_def *def, const struct sec_sql *s, long long run,
			   json_t **findings)
{
	struct truth none = { 0 };
	json_t *rep;
	int rc = NDX_OK;

	*findings = NULL;
	rep = json_pack("{sisis{s[]}s[]s{}s{}s{}}", "records_checked", 0, "matches", 0, "findings",
			"items", "merge_candidates", "mismatches", "by_finding", "measures");
	if (!rep)
		return NDX_ENOMEM;
	for (size_t i = 0; rc == NDX_OK && i < NVIEWS; i++)
		if (strcmp(VIEWS[i].sector, def->name) == 0)
			rc = report_results(s, run, &VIEWS[i], &none, rep);
	if (rc == NDX_OK)
		*findings = json_incref(json_object_get(json_object_get(rep, "findings"), "items"));
	json_decref(rep);
	return rc;
}

int reconcile_run_measures(const struct sector_def *def, const struct sec_sql *s, long long run,
			   json_t **tables)
{
	static const char *const MEASURES[] = { "accurate", "sufficient", "clean", "live" };
	struct truth none = { 0 };
	json_t *list = json_array();
	int rc = list ? NDX_OK : NDX_ENOMEM;

	*tables = NULL;
	for (size_t i = 0; rc == NDX_OK && i < NVIEWS; i++) {
		json_t *rep, *one;

		if (strcmp(VIEWS[i].sector, def->name) != 0)
			continue;
		rep = json_pack("{sisis{s[]}s[]s{}s{}s{}}", "records_checked", 0, "matches", 0,
				"findings", "items", "merge_candidates", "mismatches", "by_finding",
				"measures");
		if (!rep) {
			rc = NDX_ENOMEM;
			break;
		}
		rc = report_results(s, run, &VIEWS[i], &none, rep);
		one = rc ? NULL : json_pack("{sssO}", "table", VIEWS[i].table, "records",
					  json_object_get(rep, "records_checked"));
		for (size_t m = 0; one && m < 4; m++) {
			json_t *c = json_object_get(json_object_get(json_object_get(rep, "measures"),
								    MEASURES[m]), "records");
			json_object_set_new(one, MEASURES[m],
					    json_integer(json_is_integer(c) ? json_integer_value(c) : 0));
		}
		if (!rc && (!one || json_array_append_new(list, one)))
			rc = NDX_ENOMEM;
		json_decref(rep);
	}
	if (rc == NDX_OK)
		*tables = list;
	else
		json_decref(list);
	return rc;
}

int reconcile_table_columns(const struct sector_def *def, const char *table, const char **key,
			    const char **pin)
{
	for (size_t k = 0; k < NVIEWS; k++)
		if (strcmp(VIEWS[k].sector, def->name) == 0 && strcmp(VIEWS[k].table, table) == 0) {
			*key = VIEWS[k].key;
			*pin = VIEWS[k].pin;
			return NDX_OK;
		}
	return NDX_ENOTFOUND;
}
