/* Unit tests for include/ndx/msglog.h: records and batches round trip,
 * concurrent appends under group commit, reopen and crash recovery,
 * verification naming the first tampered record or batch (rows changed
 * behind the log's back with the sqlite3 API), inclusion proofs and their
 * corruptions, archives as one chain with the live log, and commits that
 * fail (a store wrapper that fails chosen commits) leaving appenders with
 * an error and the log verifiable. Record v2: method, path, declared
 * subjects, user id, issue and authenticated round trip and are hashed,
 * the subject index finds a record by any of its subjects (never by a
 * substring) and verify checks it. Record v3: the represented party
 * round trips, is hashed and proved, and logs of formats ndx-msglog/1 and
 * ndx-msglog/2 are refused untouched. Asynchronous appends: each done is
 * called exactly once, on the writer thread, once the record is in the
 * file; they mix with waiting appends, share a failed group's error, are
 * refused at once (done never called) for bad input or a closing log, and
 * close completes those still queued.
 *
 * The same tests run on both stores: with NDX_TEST_ENGINE=pg (the meson
 * suite pg, make test-pg) every log is a fresh schema of the PostgreSQL
 * database NDX_TEST_PG (tests/with-postgres starts one), rows are changed
 * behind the log's back with libpq instead, and the tests that are about
 * SQLite files alone (missing or garbage files, logs of older formats
 * written as SQLite files) are left out; PostgreSQL's own are added: a
 * writer killed with SIGKILL loses no acknowledged record (both engines),
 * a server that stops gives NDX_EDB and the log goes on once it is back,
 * the password of a connection string never shows in a message. */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <dirent.h>
#include <ftw.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../src/lib/msglog_store.h"
#include "ndx/conf.h"
#include "ndx/encode.h"
#include "ndx/err.h"
#include "ndx/hash.h"
#include "ndx/key.h"
#include "ndx/msglog.h"

#define SUBJECT "001099000123"
#define LIST "012345678901,098765432109"
#define PARTY "COM/0101234567"

static char tmpdir[512];
static struct ndx_key *key, *other_key;
static int case_no;

/* NDX_TEST_PG in the PostgreSQL run (NDX_TEST_ENGINE=pg), else NULL. */
static const char *pg_base;

/* Runs SQL on a PostgreSQL connection string; the result of the last
 * statement (the caller clears it), or a test failure. */
static PGresult *pg_run(const char *conninfo, const char *stmt)
{
	PGconn *c = PQconnectdb(conninfo);
	PGresult *r;

	if (PQstatus(c) != CONNECTION_OK)
		fail_msg("cannot connect to %s: %s", conninfo, PQerrorMessage(c));
	PQclear(PQexec(c, "SET client_min_messages = warning"));
	r = PQexec(c, stmt);
	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", stmt, PQresultErrorMessage(r));
	PQfinish(c);
	return r;
}

/* The schema of test case n of this process. */
static void schema_of(int n, char *out, size_t cap)
{
	snprintf(out, cap, "t%ld_%d", (long)getpid(), n);
}

/* A fresh path for this test's log: in the PostgreSQL run, a log (a name
 * ending in .db) is a connection string to a schema of its own. */
static void new_path(char *out, size_t cap, const char *name)
{
	size_t n = strlen(name);

	++case_no;
	if (pg_base != NULL && n > 3 && strcmp(name + n - 3, ".db") == 0) {
		char schema[64], stmt[100];

		schema_of(case_no, schema, sizeof schema);
		snprintf(stmt, sizeof stmt, "CREATE SCHEMA %s", schema);
		PQclear(pg_run(pg_base, stmt));
		snprintf(out, cap, "%s%coptions=-csearch_path%%3D%s", pg_base,
			 strchr(pg_base, '?') != NULL ? '&' : '?', schema);
		return;
	}
	snprintf(out, cap, "%s/%d-%s", tmpdir, case_no, name);
}

/* The path of record i: per-thread storage, one per i modulo 64 (a record's
 * strings are borrowed until its append returns, and the concurrency tests
 * fill records on several threads at once). */
static const char *path_of(int i)
{
	static _Thread_local char paths[64][64];
	char *p = paths[i % 64];

	snprintf(p, sizeof paths[0], "/citizens/%012d%s", 1099000000 + i,
		 i % 2 ? "?fields=name" : "");
	return p;
}

/* Record i: subject SUBJECT for every third (also declared by the provider),
 * the declared LIST for i % 4 == 1, an officer's user id and issue for odd i,
 * the subject's own e-ID for i % 6 == 0, a PUT for i % 4 == 2, a client
 * acting for the company PARTY for i % 4 == 3 and for the member code BTC
 * (no class) for i % 6 == 0. */
static void fill_record(struct ndx_msglog_record *r, int i, char *id, size_t idcap,
			uint8_t req[NDX_SHA256_LEN], uint8_t resp[NDX_SHA256_LEN])
{
	char text[64];

	snprintf(id, idcap, "msg-%d", i);
	snprintf(text, sizeof text, "request %d", i);
	ndx_sha256(text, strlen(text), req);
	snprintf(text, sizeof text, "response %d", i);
	ndx_sha256(text, strlen(text), resp);
	memset(r, 0, sizeof *r);
	r->time_ms = 1763888451000 + i;
	r->direction = i % 2 ? NDX_MSGLOG_PROVIDER : NDX_MSGLOG_CONSUMER;
	r->message_id = id;
	r->client = "VN/GOV/MOF/enterprise";
	r->service = "VN/GOV/BCA/population/citizens";
	r->subject = i % 3 == 0 ? SUBJECT : NULL;
	r->purpose = "public-service";
	r->request_hash = req;
	r->response_hash = i % 5 == 4 ? NULL : resp;
	r->status = i % 7 == 6 ? 403 : 200;
	r->duration_ms = i;
	r->request_sig = "{\"alg\":\"Ed25519-batch\",\"tree_size\":1}";
	r->response_sig = i % 5 == 4 ? NULL : "{\"alg\":\"Ed25519-batch\",\"leaf_index\":0}";
	r->method = i % 4 == 2 ? "PUT" : "GET";
	r->path = path_of(i);
	r->subjects = i % 3 == 0 ? SUBJECT : i % 4 == 1 ? LIST : NULL;
	r->user_id = i % 2 ? "VN/GOV/BCA/canbo01" : NULL;
	r->issue = i % 2 ? "birth-registration/P00000042" : NULL;
	r->authenticated = i % 6 == 0 ? SUBJECT : NULL;
	r->represented_party = i % 4 == 3 ? PARTY : i % 6 == 0 ? "BTC" : NULL;
}

/* Whether the fields records v2 and v3 added to e are those fill_record
 * gave record e->seq. */
static bool newer_fields_ok(const struct ndx_msglog_entry *e)
{
	struct ndx_msglog_record r;
	uint8_t req[NDX_SHA256_LEN], resp[NDX_SHA256_LEN];
	char id[32];

	fill_record(&r, (int)e->seq, id, sizeof id, req, resp);
#define SAME(f) (strcmp(e->f, r.f != NULL ? r.f : "") == 0)
	return SAME(method) && SAME(path) && SAME(subjects) && SAME(user_id) && SAME(issue) &&
	       SAME(authenticated) && SAME(subject) && SAME(purpose) && SAME(represented_party);
#undef SAME
}

static uint64_t append_one(struct ndx_msglog *log, int i)
{
	struct ndx_msglog_record r;
	uint8_t req[NDX_SHA256_LEN], resp[NDX_SHA256_LEN];
	char id[32];
	uint64_t seq = 0;

	fill_record(&r, i, id, sizeof id, req, resp);
	assert_int_equal(ndx_msglog_append(log, &r, &seq), NDX_OK);
	return seq;
}

/* A closed log of n records (i = 1..n) in batches of batch_max. */
static void make_log(const char *path, int n, unsigned batch_max)
{
	struct ndx_msglog_options opt = { .batch_max = batch_max, .batch_interval_ms = 60000 };
	struct ndx_msglog *log = NULL;

	assert_int_equal(ndx_msglog_open(path, key, &opt, &log), NDX_OK);
	for (int i = 1; i <= n; i++)
		assert_int_equal(append_one(log, i), (uint64_t)i);
	assert_int_equal(ndx_msglog_close(log), NDX_OK);
}

/* The tests' SQLite statements as PostgreSQL reads them: blob literals
 * x'..' become bytea, zeroblob(n) n zero bytes, BLOB bytea. */
static char *pg_dialect(const char *stmt)
{
	size_t n = strlen(stmt);
	char *out = malloc(4 * n + 64), *o = out;

	assert_non_null(out);
	for (const char *p = stmt; *p != '\0';) {
		if ((p[0] == 'x' || p[0] == 'X') && p[1] == '\'' &&
		    (p == stmt || p[-1] == ' ' || p[-1] == '(' || p[-1] == '=')) {
			const char *end = strchr(p + 2, '\'');

			assert_non_null(end);
			o += sprintf(o, "'\\x%.*s'::bytea", (int)(end - p - 2), p + 2);
			p = end + 1;
		} else if (strncmp(p, "zeroblob(32)", 12) == 0) {
			o += sprintf(o, "decode(repeat('00', 32), 'hex')");
			p += 12;
		} else if (strncmp(p, "AS BLOB", 7) == 0) {
			o += sprintf(o, "AS bytea");
			p += 7;
		} else {
			*o++ = *p++;
		}
	}
	*o = '\0';
	return out;
}

static void sql(const char *path, const char *stmt)
{
	sqlite3 *db = NULL;
	char *err = NULL;

	if (ndx__msglog_is_pg(path)) {
		char *t = pg_dialect(stmt);
		PGresult *r = pg_run(path, t);

		assert_int_equal(atoi(PQcmdTuples(r)) > 0 || strncmp(stmt, "CREATE", 6) == 0, 1);
		PQclear(r);
		free(t);
		return;
	}
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_exec(db, stmt, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", stmt, err);
	assert_int_equal(sqlite3_changes(db) > 0 || strncmp(stmt, "CREATE", 6) == 0, 1);
	sqlite3_close(db);
}

/* Verifies and expects the first problem to contain want (NULL: OK). */
static void expect_verify(const char *path, const char *archives, const struct ndx_key *k,
			  const char *want, struct ndx_msglog_verify_result *out)
{
	struct ndx_msglog_verify_result res;
	int rc = ndx_msglog_verify(path, archives, k, &res);

	if (want == NULL) {
		if (rc != NDX_OK)
			fail_msg("verify failed (%d): %s", rc, res.error);
	} else {
		assert_int_equal(rc, NDX_EBADSIG);
		if (strstr(res.error, want) == NULL)
			fail_msg("expected \"%s\" in \"%s\"", want, res.error);
	}
	if (out != NULL)
		*out = res;
}

static int setup(void **state)
{
	const char *base = getenv("NDX_TEST_TMP");

	(void)state;
	if (base == NULL || base[0] == '\0')
		base = "/tmp";
	snprintf(tmpdir, sizeof tmpdir, "%s/test_msglog.XXXXXX", base);
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	if (ndx_key_generate(&key) != NDX_OK || ndx_key_generate(&other_key) != NDX_OK)
		return -1;
	return 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int teardown(void **state)
{
	(void)state;
	/* The PostgreSQL run's schemas go with the test (the server of
	 * tests/with-postgres goes anyway; another one keeps nothing). */
	for (int n = 1; pg_base != NULL && n <= case_no; n++) {
		char schema[64], stmt[120];

		schema_of(n, schema, sizeof schema);
		snprintf(stmt, sizeof stmt, "DROP SCHEMA IF EXISTS %s CASCADE", schema);
		PQclear(pg_run(pg_base, stmt));
	}
	ndx_key_free(key);
	ndx_key_free(other_key);
	return nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- round trip -------------------------------------------------------- */

struct collected {
	int n;
	uint64_t seqs[64];
	bool field_ok;
};

static int collect(const struct ndx_msglog_entry *e, void *ctx)
{
	struct collected *c = ctx;
	uint8_t h[NDX_SHA256_LEN];
	char want[32];

	snprintf(want, sizeof want, "msg-%d", (int)e->seq);
	ndx_msglog_record_hash(e, h);
	if (strcmp(e->message_id, want) != 0 || strcmp(e->subject, SUBJECT) != 0 ||
	    !newer_fields_ok(e) ||
	    memcmp(h, e->hash, sizeof h) != 0 || e->duration_ms != (int64_t)e->seq ||
	    e->has_response_hash != (e->seq % 5 != 4) || !e->has_request_hash)
		c->field_ok = false;
	if (c->n < 64)
		c->seqs[c->n] = e->seq;
	c->n++;
	return 0;
}

static int collect_seq(const struct ndx_msglog_entry *e, void *ctx)
{
	struct collected *c = ctx;

	if (c->n < 64)
		c->seqs[c->n] = e->seq;
	c->n++;
	return 0;
}

static void test_round_trip(void **state)
{
	struct ndx_msglog_options opt = { .batch_max = 4, .batch_interval_ms = 60000 };
	struct ndx_msglog_verify_result res;
	struct ndx_msglog_head head;
	struct collected c = { .field_ok = true };
	struct ndx_msglog *log = NULL;
	char path[600];
	uint8_t m[200];

	(void)state;
	new_path(path, sizeof path, "rt.db");
	assert_int_equal(ndx_msglog_open(path, key, &opt, &log), NDX_OK);
	ndx_msglog_head(log, &head);
	assert_int_equal(head.sth.batch, 0);
	assert_int_equal(head.last_seq, 0);
	for (int i = 1; i <= 10; i++)
		assert_int_equal(append_one(log, i), (uint64_t)i);
	ndx_msglog_head(log, &head);
	assert_int_equal(head.last_seq, 10);
	assert_int_equal(head.covered, 8);
	assert_int_equal(head.sth.batch, 2);
	assert_int_equal(head.sth.first_seq, 5);
	assert_int_equal(head.sth.size, 4);
	assert_int_equal(ndx_msglog_sth_message(&head.sth, m, sizeof m), 166);
	assert_int_equal(ndx_verify(key, m, 166, head.sth.signature), NDX_OK);
	assert_int_equal(ndx_msglog_seal(log), NDX_OK);
	assert_int_equal(ndx_msglog_seal(log), NDX_OK); /* nothing open: a no-op */
	ndx_msglog_head(log, &head);
	assert_int_equal(head.covered, 10);
	assert_int_equal(head.sth.batch, 3);

	assert_int_equal(ndx_msglog_by_subject(log, SUBJECT, collect, &c), NDX_OK);
	assert_true(c.field_ok);
	assert_int_equal(c.n, 3);
	assert_int_equal(c.seqs[0], 3);
	assert_int_equal(c.seqs[1], 6);
	assert_int_equal(c.seqs[2], 9);
	assert_int_equal(ndx_msglog_by_subject(log, "", collect, &c), NDX_EINVAL);
	/* The recent window, newest first, down to since_ms inclusive. */
	memset(&c, 0, sizeof c);
	assert_int_equal(ndx_msglog_recent(log, 1763888451000 + 8, collect_seq, &c), NDX_OK);
	assert_int_equal(c.n, 3);
	assert_int_equal(c.seqs[0], 10);
	assert_int_equal(c.seqs[1], 9);
	assert_int_equal(c.seqs[2], 8);
	memset(&c, 0, sizeof c);
	assert_int_equal(ndx_msglog_recent(log, 1763888451000 + 11, collect_seq, &c), NDX_OK);
	assert_int_equal(c.n, 0);
	memset(&c, 0, sizeof c);
	assert_int_equal(ndx_msglog_recent(log, 0, collect_seq, &c), NDX_OK);
	assert_int_equal(c.n, 10);
	/* A declared subject finds its records: 1 and 5 declare LIST (9 its SUBJECT). */
	memset(&c, 0, sizeof c);
	assert_int_equal(ndx_msglog_by_subject(log, "098765432109", collect_seq, &c), NDX_OK);
	assert_int_equal(c.n, 2);
	assert_int_equal(c.seqs[0], 1);
	assert_int_equal(c.seqs[1], 5);
	assert_int_equal(ndx_msglog_close(log), NDX_OK);

	expect_verify(path, NULL, NULL, NULL, &res);
	assert_int_equal(res.records, 10);
	assert_int_equal(res.batched, 10);
	assert_int_equal(res.batches, 3);
	assert_int_equal(res.first_seq, 1);
	assert_int_equal(res.last_seq, 10);
	assert_int_equal(res.head.batch, 3);
	assert_false(res.anchored);
	expect_verify(path, NULL, key, NULL, NULL);
	/* the JSON of a tree head carries the key when given one */
	{
		char *j = ndx_msglog_sth_json(&res.head, key);

		assert_non_null(j);
		assert_non_null(strstr(j, "\"public_key\""));
		assert_non_null(strstr(j, "\"batch\":3"));
		free(j);
	}
}

struct walk_seen {
	uint64_t seqs[64];
	size_t n;
	size_t stop_after;  /* 0: never */
};

static int walk_cb(const struct ndx_msglog_proven *p, void *ctx)
{
	struct walk_seen *w = ctx;
	uint8_t path[NDX_MERKLE_MAX_PATH][NDX_SHA256_LEN], leaf[NDX_SHA256_LEN];
	size_t plen = 0;

	/* Each record comes with the proof of its place under a signed head. */
	assert_int_equal(p->leaf_index, p->entry->seq - p->sth->first_seq);
	assert_int_equal(ndx_msglog_proven_path(p, path, &plen), NDX_OK);
	ndx_merkle_leaf(p->entry->hash, NDX_SHA256_LEN, leaf);
	assert_int_equal(ndx_merkle_verify(leaf, p->leaf_index, p->sth->size,
					   (const uint8_t (*)[NDX_SHA256_LEN])path, plen,
					   p->sth->root), NDX_OK);
	assert_int_equal(ndx_msglog_sth_check(key, p->sth), NDX_OK);
	w->seqs[w->n++] = p->entry->seq;
	return w->stop_after && w->n == w->stop_after;
}

/* ndx_msglog_walk_period: the records of [from, to) in seq order, each with
 * its batch's head and audit path; a period after every record finds
 * none; a callback stops it; an empty period is refused. */
static void test_walk_period(void **state)
{
	const int64_t t0 = 1763888451000; /* fill_record's first time, minus 1 */
	struct ndx_msglog_walk_result res;
	struct walk_seen w = { 0 };
	char path[600], err[256];

	(void)state;
	new_path(path, sizeof path, "walk.db");
	make_log(path, 20, 4); /* five batches of four */
	assert_int_equal(ndx_msglog_walk_period(path, t0 + 5, t0 + 12, walk_cb, &w, &res, err,
						sizeof err), NDX_OK);
	assert_int_equal(w.n, 7);
	for (size_t i = 0; i < w.n; i++)
		assert_int_equal(w.seqs[i], 5 + i);
	assert_int_equal(res.head.batch, 5);
	assert_int_equal(res.open_records, 0);
	assert_non_null(res.key);
	ndx_key_free(res.key);
	/* Stopped by the callback after two. */
	memset(&w, 0, sizeof w);
	w.stop_after = 2;
	assert_int_equal(ndx_msglog_walk_period(path, t0, t0 + 100, walk_cb, &w, &res, err,
						sizeof err), NDX_OK);
	assert_int_equal(w.n, 2);
	ndx_key_free(res.key);
	/* Every tree head was closed before this period: no batch is read. */
	memset(&w, 0, sizeof w);
	assert_int_equal(ndx_msglog_walk_period(path, INT64_MAX - 2, INT64_MAX - 1, walk_cb, &w,
						&res, err, sizeof err), NDX_OK);
	assert_int_equal(w.n, 0);
	assert_int_equal(res.batches, 0);
	ndx_key_free(res.key);
	assert_int_equal(ndx_msglog_walk_period(path, t0 + 5, t0 + 5, walk_cb, &w, &res, err,
						sizeof err), NDX_EINVAL);
	assert_null(res.key);
}

static void test_bad_input(void **state)
{
	struct ndx_msglog_record r;
	struct ndx_msglog *log = NULL;
	uint8_t req[NDX_SHA256_LEN], resp[NDX_SHA256_LEN];
	char path[600], id[32], *big;

	(void)state;
	new_path(path, sizeof path, "bad.db");
	assert_int_equal(ndx_msglog_open(path, key, NULL, &log), NDX_OK);
	fill_record(&r, 1, id, sizeof id, req, resp);
	r.direction = (enum ndx_msglog_direction)7;
	assert_int_equal(ndx_msglog_append(log, &r, NULL), NDX_EINVAL);
	fill_record(&r, 1, id, sizeof id, req, resp);
	big = malloc(NDX_MSGLOG_FIELD_MAX + 2);
	assert_non_null(big);
	memset(big, 'a', NDX_MSGLOG_FIELD_MAX + 1);
	big[NDX_MSGLOG_FIELD_MAX + 1] = '\0';
	r.request_sig = big;
	assert_int_equal(ndx_msglog_append(log, &r, NULL), NDX_ETOOBIG);
	big[NDX_MSGLOG_FIELD_MAX] = '\0';
	assert_int_equal(ndx_msglog_append(log, &r, NULL), NDX_OK);
	free(big);
	assert_int_equal(ndx_msglog_close(log), NDX_OK);
	expect_verify(path, NULL, NULL, NULL, NULL);

	/* another key may not continue this log */
	assert_int_equal(ndx_msglog_open(path, other_key, NULL, &log), NDX_EPERM);
	assert_null(log);
	/* a public-only key cannot sign tree heads */
	{
		struct ndx_key *pub = NULL;
		uint8_t raw[NDX_ED25519_PUBLIC_LEN];

		ndx_key_public_raw(key, raw);
		assert_int_equal(ndx_key_from_public_raw(raw, &pub), NDX_OK);
		assert_int_equal(ndx_msglog_open(path, pub, NULL, &log), NDX_EINVAL);
		ndx_key_free(pub);
	}
	/* an SQLite file that is not a log, and a file that is not SQLite */
	new_path(path, sizeof path, "other.db");
	sql(path, "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
	{
		struct ndx_msglog_verify_result res;

		assert_int_equal(ndx_msglog_verify(path, NULL, NULL, &res), NDX_EINVAL);
		assert_non_null(strstr(res.error, "not an ndx message log"));
		new_path(path, sizeof path, "missing.db");
		assert_int_equal(ndx_msglog_verify(path, NULL, NULL, &res), NDX_EIO);
		assert_non_null(strstr(res.error, "cannot open"));
	}
	new_path(path, sizeof path, "garbage.db");
	{
		FILE *f = fopen(path, "w");

		assert_non_null(f);
		for (int i = 0; i < 200; i++)
			fputs("not a database at all ", f);
		fclose(f);
	}
	assert_int_equal(ndx_msglog_open(path, key, NULL, &log), NDX_EINVAL);
}

/* ---- concurrency ------------------------------------------------------- */

#define THREADS 4
#define PER_THREAD 500

struct worker {
	struct ndx_msglog *log;
	int base, n, ok, failed;
	uint64_t *seqs;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	for (int i = 0; i < w->n; i++) {
		struct ndx_msglog_record r;
		uint8_t req[NDX_SHA256_LEN], resp[NDX_SHA256_LEN];
		char id[32];
		uint64_t seq = 0;

		fill_record(&r, w->base + i, id, sizeof id, req, resp);
		if (ndx_msglog_append(w->log, &r, &seq) == NDX_OK) {
			w->seqs[w->ok++] = seq;
		} else {
			w->failed++;
		}
	}
	return NULL;
}

static void test_concurrent_appends(void **state)
{
	struct ndx_msglog_options opt = { .batch_max = 64, .batch_interval_ms = 20 };
	struct ndx_msglog_verify_result res;
	struct ndx_msglog_head head;
	struct worker w[THREADS];
	pthread_t t[THREADS];
	struct ndx_msglog *log = NULL;
	uint8_t *seen;
	char path[600];

	(void)state;
	new_path(path, sizeof path, "conc.db");
	assert_int_equal(ndx_msglog_open(path, key, &opt, &log), NDX_OK);
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ .log = log, .base = i * PER_THREAD, .n = PER_THREAD };
		w[i].seqs = calloc(PER_THREAD, sizeof *w[i].seqs);
		assert_non_null(w[i].seqs);
		assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	ndx_msglog_head(log, &head);
	assert_int_equal(head.last_seq, THREADS * PER_THREAD);
	/* group commit: fewer commits than records */
	assert_true(head.commits < THREADS * PER_THREAD);
	assert_int_equal(head.failed_commits, 0);
	assert_int_equal(ndx_msglog_close(log), NDX_OK);

	seen = calloc(THREADS * PER_THREAD + 1, 1);
	assert_non_null(seen);
	for (int i = 0; i < THREADS; i++) {
		assert_int_equal(w[i].ok, PER_THREAD);
		for (int j = 0; j < w[i].ok; j++) {
			assert_in_range(w[i].seqs[j], 1, THREADS * PER_THREAD);
			assert_int_equal(seen[w[i].seqs[j]], 0);
			seen[w[i].seqs[j]] = 1;
			/* each thread's records keep their order */
			if (j > 0)
				assert_true(w[i].seqs[j] > w[i].seqs[j - 1]);
		}
		free(w[i].seqs);
	}
	free(seen);
	expect_verify(path, NULL, key, NULL, &res);
	assert_int_equal(res.records, THREADS * PER_THREAD);
	assert_int_equal(res.batched, THREADS * PER_THREAD);
}

/* Two logs open on one store, as the two nodes of a gateway cluster share
 * one PostgreSQL log (docs/scale.md "Gateway clusters"): each writer
 * continues the head the other moved, so the appends of both, interleaved
 * by their threads, make one chain whose every acknowledged record is
 * there once, under a number nobody else got, in batches whose tree heads
 * chain. */
static void test_two_writers_one_store(void **state)
{
	struct ndx_msglog_options opt = { .batch_max = 16, .batch_interval_ms = 20 };
	struct ndx_msglog_verify_result res;
	struct ndx_msglog_head head;
	struct ndx_msglog *log[2] = { NULL, NULL };
	struct ndx__msglog_store *st = NULL;
	struct worker w[THREADS];
	pthread_t t[THREADS];
	const int per = PER_THREAD / 5;
	uint8_t *seen;
	char path[600];

	(void)state;
	new_path(path, sizeof path, "twowriters.db");
	assert_int_equal(ndx_msglog_open(path, key, &opt, &log[0]), NDX_OK);
	assert_int_equal(ndx_msglog_open(path, key, &opt, &log[1]), NDX_OK);
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ .log = log[i % 2], .base = 1 + i * per, .n = per };
		w[i].seqs = calloc((size_t)per, sizeof *w[i].seqs);
		assert_non_null(w[i].seqs);
		assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	/* Each writer knows at most the head it continued last. */
	for (int l = 0; l < 2; l++) {
		ndx_msglog_head(log[l], &head);
		assert_true(head.last_seq <= (uint64_t)(THREADS * per));
		assert_int_equal(head.failed_commits, 0);
	}
	/* One more record on the writer that wrote least recently: it picks up
	 * where the other left, not where it left itself. */
	assert_int_equal(append_one(log[0], THREADS * per + 1), (uint64_t)(THREADS * per + 1));
	assert_int_equal(ndx_msglog_close(log[1]), NDX_OK);
	assert_int_equal(ndx_msglog_close(log[0]), NDX_OK);

	seen = calloc((size_t)(THREADS * per + 2), 1);
	assert_non_null(seen);
	for (int i = 0; i < THREADS; i++) {
		assert_int_equal(w[i].failed, 0);
		assert_int_equal(w[i].ok, per);
		for (int j = 0; j < w[i].ok; j++) {
			assert_in_range(w[i].seqs[j], 1, THREADS * per);
			assert_int_equal(seen[w[i].seqs[j]], 0);
			seen[w[i].seqs[j]] = 1;
		}
	}
	/* Every acknowledged record is in the log under its number, with the
	 * message id of the append that got that number. */
	assert_int_equal(ndx__msglog_store_open(path, NDX__MSGLOG_READONLY, &st), NDX_OK);
	for (int i = 0; i < THREADS; i++) {
		for (int j = 0; j < w[i].ok; j++) {
			struct ndx__msglog_iter *it = NULL;
			struct ndx_msglog_entry e;
			char id[32];

			snprintf(id, sizeof id, "msg-%d", w[i].base + j);
			assert_int_equal(st->ops->iter_open(st, NDX__Q_RECORDS_BY_ID, 0, id, &it),
					 NDX_OK);
			assert_int_equal(st->ops->iter_record(it, &e), 1);
			assert_int_equal(e.seq, w[i].seqs[j]);
			assert_int_equal(st->ops->iter_record(it, &e), 0);
			st->ops->iter_close(it);
		}
		free(w[i].seqs);
	}
	st->ops->close(st);
	free(seen);
	expect_verify(path, NULL, key, NULL, &res);
	assert_int_equal(res.records, THREADS * per + 1);
	assert_int_equal(res.batched, THREADS * per + 1);
	assert_true(res.batches > 1);
}

/* The replay claims two logs on one PostgreSQL store share: a key claimed
 * through one is held for the other until it expires, then free again; a
 * key is never claimed twice by the same process either. A SQLite log,
 * which one process writes, has none (NDX_ENOTFOUND). */
static void test_replay_claims(void **state)
{
	struct ndx_msglog *log[2] = { NULL, NULL };
	uint8_t k1[NDX_SHA256_LEN], k2[NDX_SHA256_LEN];
	const int64_t t = 1763888451000;
	char path[600];

	(void)state;
	ndx_sha256("request one", 11, k1);
	ndx_sha256("request two", 11, k2);
	new_path(path, sizeof path, "claims.db");
	assert_int_equal(ndx_msglog_open(path, key, NULL, &log[0]), NDX_OK);
	assert_int_equal(ndx_msglog_open(path, key, NULL, &log[1]), NDX_OK);
	if (pg_base == NULL) {
		assert_int_equal(ndx_msglog_claim(log[0], k1, t, t + 1000), NDX_ENOTFOUND);
	} else {
		assert_int_equal(ndx_msglog_claim(log[0], k1, t, t + 1000), NDX_OK);
		assert_int_equal(ndx_msglog_claim(log[1], k1, t + 10, t + 1010), NDX_EEXIST);
		assert_int_equal(ndx_msglog_claim(log[0], k1, t + 999, t + 1999), NDX_EEXIST);
		assert_int_equal(ndx_msglog_claim(log[1], k2, t + 10, t + 1010), NDX_OK);
		/* expired: free again, and held anew */
		assert_int_equal(ndx_msglog_claim(log[1], k1, t + 1000, t + 2000), NDX_OK);
		assert_int_equal(ndx_msglog_claim(log[0], k1, t + 1500, t + 2500), NDX_EEXIST);
	}
	assert_int_equal(ndx_msglog_close(log[1]), NDX_OK);
	assert_int_equal(ndx_msglog_close(log[0]), NDX_OK);
	/* the chain never sees them */
	expect_verify(path, NULL, key, NULL, NULL);
}

/* An agreement's calls counted in the log's database, which two logs on
 * one PostgreSQL store share (the nodes of a gateway cluster): its
 * maximum holds for both together, a call given back can be made again,
 * a new period starts at 0, and two agreements count apart. A SQLite log
 * has none (NDX_ENOTFOUND: the gateway counts in its own memory). */
static void test_agreement_calls(void **state)
{
	struct ndx_msglog *log[2] = { NULL, NULL };
	const int64_t day1 = 1764806400, day2 = day1 + 86400;
	const char *a = "urn:uuid:0c6f3f0e-7d44-4d5e-9a61-2b8d1f0a9c01";
	const char *b = "urn:uuid:0c6f3f0e-7d44-4d5e-9a61-2b8d1f0a9c02";
	char path[600];

	(void)state;
	new_path(path, sizeof path, "calls.db");
	assert_int_equal(ndx_msglog_open(path, key, NULL, &log[0]), NDX_OK);
	assert_int_equal(ndx_msglog_open(path, key, NULL, &log[1]), NDX_OK);
	if (pg_base == NULL) {
		assert_int_equal(ndx_msglog_count_call(log[0], a, day1, 3), NDX_ENOTFOUND);
		assert_int_equal(ndx_msglog_give_back_call(log[0], a, day1), NDX_ENOTFOUND);
	} else {
		assert_int_equal(ndx_msglog_count_call(log[0], a, day1, 3), NDX_OK);
		assert_int_equal(ndx_msglog_count_call(log[1], a, day1, 3), NDX_OK);
		assert_int_equal(ndx_msglog_count_call(log[0], a, day1, 3), NDX_OK);
		/* three counted between them: the fourth is refused by either */
		assert_int_equal(ndx_msglog_count_call(log[1], a, day1, 3), NDX_EPERM);
		assert_int_equal(ndx_msglog_count_call(log[0], a, day1, 3), NDX_EPERM);
		/* another agreement has its own count */
		assert_int_equal(ndx_msglog_count_call(log[1], b, day1, 1), NDX_OK);
		assert_int_equal(ndx_msglog_count_call(log[0], b, day1, 1), NDX_EPERM);
		/* a call given back (an answer refused after it was counted) */
		assert_int_equal(ndx_msglog_give_back_call(log[1], a, day1), NDX_OK);
		assert_int_equal(ndx_msglog_count_call(log[0], a, day1, 3), NDX_OK);
		assert_int_equal(ndx_msglog_count_call(log[1], a, day1, 3), NDX_EPERM);
		/* the next day starts again */
		assert_int_equal(ndx_msglog_count_call(log[1], a, day2, 3), NDX_OK);
		assert_int_equal(ndx_msglog_count_call(log[0], a, day2, 3), NDX_OK);
		/* giving back never goes below nothing */
		assert_int_equal(ndx_msglog_give_back_call(log[0], b, day1), NDX_OK);
		assert_int_equal(ndx_msglog_give_back_call(log[1], b, day1), NDX_OK);
		assert_int_equal(ndx_msglog_count_call(log[0], b, day1, 1), NDX_OK);
		assert_int_equal(ndx_msglog_count_call(log[1], b, day1, 1), NDX_EPERM);
	}
	assert_int_equal(ndx_msglog_close(log[1]), NDX_OK);
	assert_int_equal(ndx_msglog_close(log[0]), NDX_OK);
	/* the chain never sees them */
	expect_verify(path, NULL, key, NULL, NULL);
}

/* ---- reopen, batch interval, crash ------------------------------------ */

static void test_reopen_continues_chain(void **state)
{
	struct ndx_msglog_options opt = { .batch_max = 3, .batch_interval_ms = 60000 };
	struct ndx_msglog_verify_result res;
	struct ndx_msglog_head head;
	struct ndx_msglog *log = NULL;
	char path[600];

	(void)state;
	new_path(path, sizeof path, "reopen.db");
	make_log(path, 5, 3);
	assert_int_equal(ndx_msglog_open(path, key, &opt, &log), NDX_OK);
	ndx_msglog_head(log, &head);
	assert_int_equal(head.last_seq, 5);
	assert_int_equal(head.covered, 5);  /* close sealed records 4..5 */
	assert_int_equal(head.sth.batch, 2);
	for (int i = 6; i <= 9; i++)
		assert_int_equal(append_one(log, i), (uint64_t)i);
	assert_int_equal(ndx_msglog_close(log), NDX_OK);
	expect_verify(path, NULL, NULL, NULL, &res);
	assert_int_equal(res.records, 9);
	assert_int_equal(res.batches, 4); /* 1-3, 4-5, 6-8, 9 */
}

static void test_batch_interval(void **state)
{
	/* 300 ms: long enough that the three appends (each a durable write,
	 * slow under ASan on a loaded machine) land in the same batch. */
	struct ndx_msglog_options opt = { .batch_max = 1000, .batch_interval_ms = 300 };
	struct ndx_msglog_head head;
	struct ndx_msglog *log = NULL;
	char path[600];

	(void)state;
	new_path(path, sizeof path, "interval.db");
	assert_int_equal(ndx_msglog_open(path, key, &opt, &log), NDX_OK);
	for (int i = 1; i <= 3; i++)
		append_one(log, i);
	for (int tries = 0; tries < 500; tries++) {
		ndx_msglog_head(log, &head);
		if (head.covered == 3)
			break;
		usleep(10000);
	}
	assert_int_equal(head.covered, 3);
	assert_int_equal(head.sth.batch, 1);
	assert_int_equal(ndx_msglog_close(log), NDX_OK);
	expect_verify(path, NULL, NULL, NULL, NULL);
}

static void test_crash_leaves_open_batch(void **state)
{
	struct ndx_msglog_options opt = { .batch_max = 8, .batch_interval_ms = 600000 };
	struct ndx_msglog_verify_result res;
	struct ndx_msglog *log = NULL;
	char path[600];
	pid_t pid;
	int status;

	(void)state;
	new_path(path, sizeof path, "crash.db");
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* The child appends and is killed (kill -9) without closing:
		 * records 9..13 are durable but have no tree head. A signal
		 * rather than exit also keeps valgrind from leak-checking a
		 * process that never meant to clean up. */
		if (ndx_msglog_open(path, key, &opt, &log) != NDX_OK)
			_exit(2);
		for (int i = 1; i <= 13; i++) {
			struct ndx_msglog_record r;
			uint8_t req[NDX_SHA256_LEN], resp[NDX_SHA256_LEN];
			char id[32];

			fill_record(&r, i, id, sizeof id, req, resp);
			if (ndx_msglog_append(log, &r, NULL) != NDX_OK)
				_exit(3);
		}
		raise(SIGKILL);
		_exit(4);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
		fail_msg("the child did not die of SIGKILL (status %d)", status);
	expect_verify(path, NULL, NULL, NULL, &res);
	assert_int_equal(res.records, 13);
	assert_int_equal(res.batched, 8);
	/* reopening closes the open batch before it returns */
	assert_int_equal(ndx_msglog_open(path, key, &opt, &log), NDX_OK);
	assert_int_equal(append_one(log, 14), 14);
	assert_int_equal(ndx_msglog_close(log), NDX_OK);
	expect_verify(path, NULL, NULL, NULL, &res);
	assert_int_equal(res.records, 14);
	assert_int_equal(res.batched, 14);
	assert_int_equal(res.batches, 3); /* 1-8, 9-13 (recovery), 14 (close) */
}

/* ---- tampering ---------------------------------------------------------- */

static void tampered(const char *name, const char *stmt, const struct ndx_key *k,
		     const char *want)
{
	char path[600];

	new_path(path, sizeof path, name);
	make_log(path, 40, 8);
	expect_verify(path, NULL, NULL, NULL, NULL);
	if (stmt != NULL)
		sql(path, stmt);
	expect_verify(path, NULL, k, want, NULL);
}

static void test_tamper_field(void **state)
{
	(void)state;
	tampered("t-field.db", "UPDATE records SET client = 'VN/GOV/MOF/enterprisf' WHERE seq = 17",
		 NULL, "record 17: stored hash does not match its contents");
	tampered("t-status.db", "UPDATE records SET status = 500 WHERE seq = 3", NULL,
		 "record 3: stored hash does not match its contents");
	tampered("t-hashbyte.db",
		 "UPDATE records SET request_hash = zeroblob(32) WHERE seq = 33", NULL,
		 "record 33: stored hash does not match its contents");
	tampered("t-short.db", "UPDATE records SET request_hash = x'0011' WHERE seq = 2", NULL,
		 "record 2: malformed row");
	tampered("t-dir.db", "UPDATE records SET direction = 'sideways' WHERE seq = 5", NULL,
		 "record 5: malformed row");
}

/* One byte of each field that record v2 added. */
static void test_tamper_v2_fields(void **state)
{
	static const struct {
		const char *name, *stmt, *want;
	} cases[] = {
		{ "t-method.db", "UPDATE records SET method = 'GEt' WHERE seq = 17",
		  "record 17: stored hash" },
		{ "t-path.db", "UPDATE records SET path = replace(path, 'name', 'namf') WHERE seq = 17",
		  "record 17: stored hash" },
		{ "t-subjects.db",
		  "UPDATE records SET subjects = '012345678901,098765432108' WHERE seq = 17",
		  "record 17: stored hash" },
		{ "t-user.db", "UPDATE records SET user_id = 'VN/GOV/BCA/canbo02' WHERE seq = 17",
		  "record 17: stored hash" },
		{ "t-issue.db",
		  "UPDATE records SET issue = 'birth-registration/P00000043' WHERE seq = 17",
		  "record 17: stored hash" },
		{ "t-auth.db", "UPDATE records SET authenticated = '001099000124' WHERE seq = 18",
		  "record 18: stored hash" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		tampered(cases[i].name, cases[i].stmt, NULL, cases[i].want);
}

/* The field record v3 added: changed, added where there was none, taken out. */
static void test_tamper_v3_fields(void **state)
{
	static const struct {
		const char *name, *stmt, *want;
	} cases[] = {
		{ "t-party.db",
		  "UPDATE records SET represented_party = 'COM/0101234568' WHERE seq = 19",
		  "record 19: stored hash" },
		{ "t-party-added.db", "UPDATE records SET represented_party = 'GOV/BTC' WHERE seq = 17",
		  "record 17: stored hash" },
		{ "t-party-gone.db", "UPDATE records SET represented_party = '' WHERE seq = 18",
		  "record 18: stored hash" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		tampered(cases[i].name, cases[i].stmt, NULL, cases[i].want);
}

/* The represented party is a field of its own in the record hash: "" and
 * NULL hash alike, any other value changes the hash, and moving its bytes
 * into the neighbouring issue field does too. */
static void test_record_hash_covers_represented_party(void **state)
{
	struct ndx_msglog_record r;
	struct ndx_msglog_entry e;
	uint8_t req[NDX_SHA256_LEN], resp[NDX_SHA256_LEN];
	uint8_t none[NDX_SHA256_LEN], empty[NDX_SHA256_LEN], party[NDX_SHA256_LEN];
	uint8_t other[NDX_SHA256_LEN], moved[NDX_SHA256_LEN];
	char id[32];

	(void)state;
	fill_record(&r, 5, id, sizeof id, req, resp); /* odd: an officer's issue, no party */
	memset(&e, 0, sizeof e);
	e.seq = 5;
	e.time_ms = r.time_ms;
	e.direction = r.direction;
	e.message_id = r.message_id;
	e.client = r.client;
	e.service = r.service;
	e.method = r.method;
	e.path = r.path;
	e.issue = "birth-registration/P00000042";
	e.represented_party = NULL;
	ndx_msglog_record_hash(&e, none);
	e.represented_party = "";
	ndx_msglog_record_hash(&e, empty);
	assert_memory_equal(none, empty, sizeof none);
	e.represented_party = PARTY;
	ndx_msglog_record_hash(&e, party);
	assert_memory_not_equal(party, empty, sizeof party);
	e.represented_party = "COM/0101234568";
	ndx_msglog_record_hash(&e, other);
	assert_memory_not_equal(other, party, sizeof other);
	/* the same bytes, one field boundary further on */
	e.issue = "birth-registration/P00000042COM/";
	e.represented_party = "0101234567";
	ndx_msglog_record_hash(&e, moved);
	assert_memory_not_equal(moved, party, sizeof moved);
}

static void test_tamper_delete_and_swap(void **state)
{
	(void)state;
	tampered("t-del.db", "DELETE FROM records WHERE seq = 20", NULL,
		 "missing record 20 (record 19 is followed by record 21)");
	tampered("t-del-last.db", "DELETE FROM records WHERE seq = 40", NULL,
		 "missing record 40 (batch 5 covers records 33..40)");
	tampered("t-swap.db",
		 "CREATE TEMP TABLE t AS SELECT * FROM records WHERE seq IN (5, 6);"
		 "UPDATE records SET (time_ms, direction, message_id, client, service, subject,"
		 " purpose, request_hash, response_hash, status, duration_ms, request_sig,"
		 " response_sig, prev_hash, hash) = (SELECT time_ms, direction, message_id,"
		 " client, service, subject, purpose, request_hash, response_hash, status,"
		 " duration_ms, request_sig, response_sig, prev_hash, hash FROM t"
		 " WHERE t.seq = 11 - records.seq) WHERE seq IN (5, 6)",
		 NULL, "record 5: stored hash does not match its contents");
	tampered("t-renumber.db", "UPDATE records SET seq = 100 WHERE seq = 40", NULL,
		 "missing record 40");
}

/* Rewrites record seq with a new client and a correct hash of its new
 * contents: what an attacker who knows the encoding would do. */
static void rewrite_record(const char *path, uint64_t seq)
{
	struct ndx__msglog_store *st = NULL;
	struct ndx__msglog_iter *it = NULL;
	struct ndx_msglog_entry e;
	uint8_t h[NDX_SHA256_LEN];
	char hex[2 * NDX_SHA256_LEN + 1], stmt[300];

	assert_int_equal(ndx__msglog_store_open(path, NDX__MSGLOG_READONLY, &st), NDX_OK);
	assert_int_equal(st->ops->iter_open(st, NDX__Q_RECORDS_FROM, seq, NULL, &it), NDX_OK);
	assert_int_equal(st->ops->iter_record(it, &e), 1);
	e.client = "VN/COM/EVIL/exfiltrate";
	ndx_msglog_record_hash(&e, h);
	st->ops->iter_close(it);
	st->ops->close(st);
	ndx_hex_encode(h, sizeof h, hex);
	snprintf(stmt, sizeof stmt,
		 "UPDATE records SET client = 'VN/COM/EVIL/exfiltrate', hash = x'%s' WHERE seq = %llu",
		 hex, (unsigned long long)seq);
	sql(path, stmt);
}

/* The SQLite store keeps one prepared statement per query for the next
 * iterator (msglog_sqlite.c): each reuse reads what its own arguments ask
 * for, from the start, whatever the last iterator left half read; two
 * iterators of one query at once each have their own; an iterator still
 * open when its store closes is closed after it. */
static uint64_t first_seq(struct ndx__msglog_store *st, enum ndx__msglog_query q, uint64_t u,
			  const char *text, int *rows)
{
	struct ndx__msglog_iter *it = NULL;
	struct ndx_msglog_entry e;
	uint64_t first = 0;
	int r;

	*rows = 0;
	assert_int_equal(st->ops->iter_open(st, q, u, text, &it), NDX_OK);
	while ((r = st->ops->iter_record(it, &e)) == 1) {
		if (!(*rows)++)
			first = e.seq;
	}
	assert_int_equal(r, 0);
	st->ops->iter_close(it);
	return first;
}

static void test_store_statements_kept(void **state)
{
	struct ndx__msglog_store *st = NULL;
	struct ndx__msglog_iter *a = NULL, *b = NULL;
	struct ndx_msglog_entry e;
	struct ndx_msglog_sth sth;
	char path[600];
	int rows;

	(void)state;
	new_path(path, sizeof path, "kept.db");
	make_log(path, 40, 8);
	assert_int_equal(ndx__msglog_store_open(path, NDX__MSGLOG_READONLY, &st), NDX_OK);
	/* the same query again and again, each time with its own ?1 or ?2 */
	for (uint64_t from = 5; from <= 35; from += 10) {
		assert_int_equal(first_seq(st, NDX__Q_RECORDS_FROM, from, NULL, &rows), from);
		assert_int_equal(rows, (int)(41 - from));
	}
	assert_int_equal(first_seq(st, NDX__Q_RECORDS_BY_ID, 0, "msg-17", &rows), 17);
	assert_int_equal(rows, 1);
	assert_int_equal(first_seq(st, NDX__Q_RECORDS_BY_ID, 0, "msg-3", &rows), 3);
	assert_int_equal(first_seq(st, NDX__Q_RECORDS_BY_ID, 0, "msg-none", &rows), 0);
	assert_int_equal(rows, 0);
	/* one left half read, then the next of the query starts over */
	assert_int_equal(st->ops->iter_open(st, NDX__Q_RECORDS_FROM, 2, NULL, &a), NDX_OK);
	assert_int_equal(st->ops->iter_record(a, &e), 1);
	assert_int_equal(e.seq, 2);
	st->ops->iter_close(a);
	assert_int_equal(first_seq(st, NDX__Q_RECORDS_FROM, 30, NULL, &rows), 30);
	assert_int_equal(rows, 11);
	/* two of one query at once, read in turns */
	assert_int_equal(st->ops->iter_open(st, NDX__Q_RECORDS_FROM, 1, NULL, &a), NDX_OK);
	assert_int_equal(st->ops->iter_open(st, NDX__Q_RECORDS_FROM, 21, NULL, &b), NDX_OK);
	for (uint64_t i = 0; i < 20; i++) {
		assert_int_equal(st->ops->iter_record(a, &e), 1);
		assert_int_equal(e.seq, 1 + i);
		assert_int_equal(st->ops->iter_record(b, &e), 1);
		assert_int_equal(e.seq, 21 + i);
	}
	assert_int_equal(st->ops->iter_record(b, &e), 0);
	st->ops->iter_close(a);
	st->ops->iter_close(b);
	assert_int_equal(first_seq(st, NDX__Q_RECORDS_FROM, 39, NULL, &rows), 39);
	assert_int_equal(rows, 2);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(st->ops->iter_open(st, NDX__Q_BATCH_LAST, 0, NULL, &a), NDX_OK);
		assert_int_equal(st->ops->iter_batch(a, &sth), 1);
		assert_int_equal(sth.batch, 5);
		st->ops->iter_close(a);
	}
	/* the store closed under an open iterator */
	assert_int_equal(st->ops->iter_open(st, NDX__Q_RECORD_LAST, 0, NULL, &a), NDX_OK);
	assert_int_equal(st->ops->iter_record(a, &e), 1);
	assert_int_equal(e.seq, 40);
	st->ops->close(st);
	st->ops->iter_close(a);
}

static void test_tamper_rehashed_record(void **state)
{
	char path[600];

	(void)state;
	new_path(path, sizeof path, "t-rehash.db");
	make_log(path, 40, 8);
	rewrite_record(path, 17);
	expect_verify(path, NULL, NULL, "record 18: prev_hash does not match record 17", NULL);

	/* the last record of a batch: no successor, the root catches it */
	new_path(path, sizeof path, "t-rehash-root.db");
	make_log(path, 40, 8);
	rewrite_record(path, 40);
	expect_verify(path, NULL, NULL, "batch 5: root does not match records 33..40", NULL);

	/* a record in the open batch: caught by the chain link of the next */
	new_path(path, sizeof path, "t-open.db");
	make_log(path, 10, 8);
	{
		struct ndx_msglog_options opt = { .batch_max = 100, .batch_interval_ms = 600000 };
		struct ndx_msglog *log = NULL;

		assert_int_equal(ndx_msglog_open(path, key, &opt, &log), NDX_OK);
		for (int i = 11; i <= 15; i++)
			append_one(log, i);
		/* leave the batch open: verify from another connection now */
		sql(path, "UPDATE records SET purpose = 'marketing' WHERE seq = 13");
		expect_verify(path, NULL, NULL, "record 13: stored hash does not match", NULL);
		sql(path, "UPDATE records SET purpose = 'public-service' WHERE seq = 13");
		expect_verify(path, NULL, NULL, NULL, NULL);
		assert_int_equal(ndx_msglog_close(log), NDX_OK);
	}
	expect_verify(path, NULL, NULL, NULL, NULL);
}

static void test_tamper_tree_heads(void **state)
{
	(void)state;
	tampered("t-root.db", "UPDATE batches SET root = zeroblob(32) WHERE batch = 3", NULL,
		 "batch 3: root does not match records 17..24");
	tampered("t-sig.db",
		 /* Change the last byte whatever it was: a plain x'00' would
		  * leave one signature in 256 untouched. */
		 "UPDATE batches SET signature = CAST(substr(signature, 1, 63) ||"
		 " CASE WHEN substr(signature, 64, 1) = x'00' THEN x'01' ELSE x'00' END"
		 " AS BLOB) WHERE batch = 2",
		 NULL, "batch 2: signature does not verify");
	tampered("t-sig2.db",
		 "UPDATE batches SET signature = (SELECT signature FROM batches WHERE batch = 1)"
		 " WHERE batch = 4",
		 NULL, "batch 4: signature does not verify");
	tampered("t-time.db", "UPDATE batches SET time_ms = time_ms + 1 WHERE batch = 5", NULL,
		 "batch 5: signature does not verify");
	tampered("t-prev.db", "UPDATE batches SET prev_sth_hash = zeroblob(32) WHERE batch = 2",
		 NULL, "batch 2: prev_sth_hash does not match the tree head of batch 1");
	tampered("t-delbatch.db", "DELETE FROM batches WHERE batch = 3", NULL,
		 "missing batch 3 (next is batch 4)");
	tampered("t-movebatch.db", "UPDATE batches SET first_seq = 26 WHERE batch = 4", NULL,
		 "batch 4: starts at record 26, but the previous batch ends at record 24");
	tampered("t-dellast.db", "DELETE FROM batches WHERE batch = 5", NULL, NULL);
	tampered("t-wrongkey.db", NULL, other_key, "batch 1: signed by key");
	tampered("t-kid.db",
		 "UPDATE batches SET key_id = '0000000000000000000000000000000000000000000000000000000000000000'"
		 " WHERE batch = 2",
		 NULL, "batch 2: signed by key 0000");
	tampered("t-size.db", "UPDATE batches SET size = 7 WHERE batch = 1", NULL,
		 "batch 1: root does not match records 1..7");
}

static void test_tamper_dellast_batch_is_reopened(void **state)
{
	struct ndx_msglog_verify_result res;
	struct ndx_msglog *log = NULL;
	char path[600];

	(void)state;
	/* Losing the last tree head leaves its records open; reopening signs
	 * them again, and nothing about them is lost. */
	new_path(path, sizeof path, "t-reseal.db");
	make_log(path, 40, 8);
	sql(path, "DELETE FROM batches WHERE batch = 5");
	expect_verify(path, NULL, NULL, NULL, &res);
	assert_int_equal(res.batched, 32);
	assert_int_equal(ndx_msglog_open(path, key, NULL, &log), NDX_OK);
	assert_int_equal(ndx_msglog_close(log), NDX_OK);
	expect_verify(path, NULL, NULL, NULL, &res);
	assert_int_equal(res.batched, 40);
}

/* ---- subjects ------------------------------------------------------------ */

static int sql_count(const char *path, const char *query)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int n;

	if (ndx__msglog_is_pg(path)) {
		PGresult *r = pg_run(path, query);

		assert_int_equal(PQntuples(r), 1);
		n = atoi(PQgetvalue(r, 0, 0));
		PQclear(r);
		return n;
	}
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, query, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

/* The seqs by_subject hands out for pin, as "1,4" ("" for none). */
static void seqs_of(struct ndx_msglog *log, const char *pin, char *out, size_t cap)
{
	struct collected c = { .n = 0 };
	size_t used = 0;

	assert_int_equal(ndx_msglog_by_subject(log, pin, collect_seq, &c), NDX_OK);
	out[0] = '\0';
	for (int i = 0; i < c.n && i < 64; i++)
		used += (size_t)snprintf(out + used, cap - used, "%s%llu", i ? "," : "",
					 (unsigned long long)c.seqs[i]);
}

static void expect_seqs(struct ndx_msglog *log, const char *pin, const char *want)
{
	char got[256];

	seqs_of(log, pin, got, sizeof got);
	if (strcmp(got, want) != 0)
		fail_msg("by_subject(%s): got [%s], want [%s]", pin, got, want);
}

/* A new log is made of 8 KiB pages (msglog_sqlite.c NEW_LOG_PAGE_SIZE: half
 * the system calls a record of 4 KiB pages cost); a file whose pages are
 * 4 KiB, as every log made before, keeps them and goes on: appends after a
 * reopen continue its chain and it verifies. */
static void test_page_size(void **state)
{
	struct ndx_msglog_verify_result res;
	sqlite3 *db = NULL;
	char fresh[600], older[600];

	(void)state;
	new_path(fresh, sizeof fresh, "pages-new.db");
	make_log(fresh, 3, 2);
	assert_int_equal(sql_count(fresh, "PRAGMA page_size"), 8192);

	new_path(older, sizeof older, "pages-4k.db");
	assert_int_equal(sqlite3_open(older, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA page_size = 4096; PRAGMA journal_mode = WAL;",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	make_log(older, 3, 2);
	{
		struct ndx_msglog_options opt = { .batch_max = 2, .batch_interval_ms = 60000 };
		struct ndx_msglog *log = NULL;

		assert_int_equal(ndx_msglog_open(older, key, &opt, &log), NDX_OK);
		for (int i = 4; i <= 5; i++)
			assert_int_equal(append_one(log, i), (uint64_t)i);
		assert_int_equal(ndx_msglog_close(log), NDX_OK);
	}
	assert_int_equal(sql_count(older, "PRAGMA page_size"), 4096);
	expect_verify(older, NULL, key, NULL, &res);
	assert_int_equal(res.records, 5);
}

/* Threads of this process named name (their /proc comm). */
static int threads_named(const char *name)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		char path[300], comm[32] = "";
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
		f = fopen(path, "r");
		if (f == NULL)
			continue; /* the thread ended */
		if (fgets(comm, sizeof comm, f) != NULL)
			comm[strcspn(comm, "\n")] = '\0';
		fclose(f);
		n += strcmp(comm, name) == 0;
	}
	closedir(d);
	return n;
}

/* An operator's `top -H` or a profile tells the writer from the loops by its
 * name. */
static void test_writer_thread_named(void **state)
{
	struct ndx_msglog_options opt = { .batch_max = 2, .batch_interval_ms = 60000 };
	struct ndx_msglog *log = NULL;
	char path[600];
	int before = threads_named("msglog-writer");

	(void)state;
	new_path(path, sizeof path, "named.db");
	assert_int_equal(ndx_msglog_open(path, key, &opt, &log), NDX_OK);
	assert_int_equal(threads_named("msglog-writer"), before + 1);
	assert_int_equal(ndx_msglog_close(log), NDX_OK);
	assert_int_equal(threads_named("msglog-writer"), before);
}

static int text_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* A writer's group reaches the store as one put_records call, which the
 * SQLite store inserts as statements of 32, 8 and 1 rows, and the subject
 * index rows the same way, 32 at a time. 50 records (32 + 8 + 8 + 1 + 1) whose
 * subject rows run past 32: every field and every subject row is the
 * record's own, whichever statement and place in it it had. */
static void test_put_records_many_at_once(void **state)
{
	enum { N = 50 };
	struct ndx__msglog_store *st = NULL;
	struct ndx__msglog_iter *it = NULL;
	struct ndx_msglog_entry ents[N], e;
	struct ndx_msglog_record r;
	uint8_t req[N][NDX_SHA256_LEN], resp[N][NDX_SHA256_LEN];
	char path[600], id[N][32], want[N * 3][40], got[40];
	const char *subject;
	uint64_t seq;
	int n_want = 0, n_got = 0, rc;

	(void)state;
	new_path(path, sizeof path, "putmany.db");
	assert_int_equal(ndx__msglog_store_open(path, 0, &st), NDX_OK);
	for (int i = 0; i < N; i++) {
		const char *cursor, *elem;
		size_t len;

		fill_record(&r, i + 1, id[i], sizeof id[i], req[i], resp[i]);
		memset(&ents[i], 0, sizeof ents[i]);
		ents[i].seq = (uint64_t)i + 1;
		ents[i].time_ms = r.time_ms;
		ents[i].direction = r.direction;
#define NZ(f) ents[i].f = r.f != NULL ? r.f : ""
		NZ(message_id); NZ(client); NZ(service); NZ(subject); NZ(purpose);
		NZ(method); NZ(path); NZ(subjects); NZ(user_id); NZ(issue);
		NZ(represented_party); NZ(authenticated); NZ(request_sig); NZ(response_sig);
#undef NZ
		ents[i].has_request_hash = true;
		memcpy(ents[i].request_hash, req[i], NDX_SHA256_LEN);
		if ((ents[i].has_response_hash = r.response_hash != NULL))
			memcpy(ents[i].response_hash, resp[i], NDX_SHA256_LEN);
		ents[i].status = r.status;
		ents[i].duration_ms = r.duration_ms;
		ndx_sha256(id[i], strlen(id[i]), ents[i].hash);
		ndx_sha256(ents[i].hash, NDX_SHA256_LEN, ents[i].prev_hash);
		/* the subject rows it must have, in index order (seq, subject) */
		{
			int first = n_want;

			if (ents[i].subject[0] != '\0')
				snprintf(want[n_want++], sizeof want[0], "%d %s", i + 1, ents[i].subject);
			cursor = ents[i].subjects;
			while (ndx__msglog_subjects_next(&cursor, &elem, &len)) {
				bool dup = false;

				snprintf(got, sizeof got, "%d %.*s", i + 1, (int)len, elem);
				for (int k = first; k < n_want; k++)
					dup = dup || strcmp(want[k], got) == 0;
				if (!dup)
					snprintf(want[n_want++], sizeof want[0], "%s", got);
			}
			qsort(want[first], (size_t)(n_want - first), sizeof want[0], text_cmp);
		}
	}
	assert_true(n_want > 32);
	assert_int_equal(st->ops->begin(st, true), NDX_OK);
	assert_int_equal(st->ops->put_records(st, ents, N), NDX_OK);
	assert_int_equal(st->ops->commit(st), NDX_OK);

	assert_int_equal(st->ops->iter_open(st, NDX__Q_RECORDS_FROM, 1, NULL, &it), NDX_OK);
	for (int i = 0; i < N; i++) {
		assert_int_equal(st->ops->iter_record(it, &e), 1);
		assert_int_equal(e.seq, (uint64_t)i + 1);
		assert_string_equal(e.message_id, id[i]);
		assert_int_equal(e.time_ms, ents[i].time_ms);
		assert_int_equal(e.direction, ents[i].direction);
		assert_true(newer_fields_ok(&e));
		assert_string_equal(e.client, ents[i].client);
		assert_string_equal(e.request_sig, ents[i].request_sig);
		assert_string_equal(e.response_sig, ents[i].response_sig);
		assert_int_equal(e.status, ents[i].status);
		assert_int_equal(e.duration_ms, ents[i].duration_ms);
		assert_true(e.has_request_hash);
		assert_memory_equal(e.request_hash, req[i], NDX_SHA256_LEN);
		assert_int_equal(e.has_response_hash, ents[i].has_response_hash);
		if (e.has_response_hash)
			assert_memory_equal(e.response_hash, resp[i], NDX_SHA256_LEN);
		assert_memory_equal(e.hash, ents[i].hash, NDX_SHA256_LEN);
		assert_memory_equal(e.prev_hash, ents[i].prev_hash, NDX_SHA256_LEN);
	}
	assert_int_equal(st->ops->iter_record(it, &e), 0);
	st->ops->iter_close(it);

	assert_int_equal(st->ops->iter_open(st, NDX__Q_SUBJECT_INDEX, 0, NULL, &it), NDX_OK);
	while ((rc = st->ops->iter_subject(it, &seq, &subject)) == 1) {
		assert_true(n_got < n_want);
		snprintf(got, sizeof got, "%" PRIu64 " %s", seq, subject);
		assert_string_equal(got, want[n_got]);
		n_got++;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(n_got, n_want);
	st->ops->iter_close(it);
	st->ops->close(st);
}

static void test_by_subject_declared(void **state)
{
	static const struct {
		const char *subject, *subjects;
	} recs[] = {
		{ SUBJECT, NULL },                      /* 1: claimed only */
		{ NULL, LIST },                         /* 2: declared only (a bulk read) */
		{ "012345678901", "012345678901" },     /* 3: claimed and declared alike */
		{ SUBJECT, "098765432109" },            /* 4: declared someone else */
		{ "", " 098765432109 , 111111111111" }, /* 5: blanks around commas */
	};
	struct ndx_msglog_options opt = { .batch_max = 100, .batch_interval_ms = 600000 };
	struct ndx_msglog *log = NULL;
	char path[600];

	(void)state;
	new_path(path, sizeof path, "subjects.db");
	assert_int_equal(ndx_msglog_open(path, key, &opt, &log), NDX_OK);
	for (size_t i = 0; i < sizeof recs / sizeof recs[0]; i++) {
		struct ndx_msglog_record r;
		uint8_t req[NDX_SHA256_LEN], resp[NDX_SHA256_LEN];
		char id[32];

		fill_record(&r, (int)i + 1, id, sizeof id, req, resp);
		r.subject = recs[i].subject;
		r.subjects = recs[i].subjects;
		assert_int_equal(ndx_msglog_append(log, &r, NULL), (int)NDX_OK);
	}
	expect_seqs(log, "098765432109", "2,4,5");
	expect_seqs(log, "012345678901", "2,3");
	expect_seqs(log, SUBJECT, "1,4");
	expect_seqs(log, "111111111111", "5");
	/* exact elements only: never a substring, a prefix or the whole list */
	expect_seqs(log, "2345678901", "");
	expect_seqs(log, "01234567890", "");
	expect_seqs(log, LIST, "");
	expect_seqs(log, " 098765432109", "");
	assert_int_equal(sql_count(path, "SELECT count(*) FROM record_subjects WHERE seq = 3"), 1);
	assert_int_equal(ndx_msglog_seal(log), NDX_OK);
	expect_verify(path, NULL, NULL, NULL, NULL);

	/* The index is not hashed: verify checks it against the records. */
	sql(path, "DELETE FROM record_subjects WHERE subject = '098765432109' AND seq = 4");
	expect_verify(path, NULL, NULL,
		      "record 4: subject 098765432109 is missing from the subject index", NULL);
	expect_seqs(log, "098765432109", "2,5");
	sql(path, "INSERT INTO record_subjects(subject, seq) VALUES('098765432109', 4)");
	expect_verify(path, NULL, NULL, NULL, NULL);
	/* a row added behind the log's back: reported, and never listed */
	sql(path, "INSERT INTO record_subjects(subject, seq) VALUES('098765432109', 1)");
	expect_verify(path, NULL, NULL,
		      "record 1: the subject index lists 098765432109, which is not among its "
		      "subjects", NULL);
	expect_seqs(log, "098765432109", "2,4,5");
	sql(path, "DELETE FROM record_subjects WHERE subject = '098765432109' AND seq = 1");
	sql(path, "INSERT INTO record_subjects(subject, seq) VALUES('098765432109', 99)");
	expect_verify(path, NULL, NULL,
		      "the subject index lists 098765432109 for record 99, which is not in the log",
		      NULL);
	sql(path, "DELETE FROM record_subjects WHERE seq = 99");
	expect_verify(path, NULL, NULL, NULL, NULL);
	assert_int_equal(ndx_msglog_close(log), NDX_OK);
}

/* A log of the first format, as ndx-msglog/1 wrote it. */
static void make_v1_log(const char *path)
{
	sql(path,
	    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	    "CREATE TABLE records (seq INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL,"
	    " direction TEXT NOT NULL, message_id TEXT NOT NULL, client TEXT NOT NULL,"
	    " service TEXT NOT NULL, subject TEXT NOT NULL, purpose TEXT NOT NULL,"
	    " request_hash BLOB, response_hash BLOB, status INTEGER NOT NULL,"
	    " duration_ms INTEGER NOT NULL, request_sig TEXT NOT NULL, response_sig TEXT NOT NULL,"
	    " prev_hash BLOB NOT NULL, hash BLOB NOT NULL);"
	    "CREATE TABLE batches (batch INTEGER PRIMARY KEY, first_seq INTEGER NOT NULL UNIQUE,"
	    " size INTEGER NOT NULL, root BLOB NOT NULL, time_ms INTEGER NOT NULL,"
	    " key_id TEXT NOT NULL, prev_sth_hash BLOB NOT NULL, signature BLOB NOT NULL);"
	    "INSERT INTO meta VALUES ('format', 'ndx-msglog/1'),"
	    " ('log_id', '00112233445566778899aabbccddeeff'), ('start_seq', '1'),"
	    " ('start_batch', '1'), ('start_prev_hash', hex(zeroblob(32))),"
	    " ('start_prev_sth_hash', hex(zeroblob(32)));");
}

/* A log of the second format, as ndx-msglog/2 wrote it (its records
 * without represented_party), holding one record. */
static void make_v2_log(const char *path)
{
	sql(path,
	    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	    "CREATE TABLE records (seq INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL,"
	    " direction TEXT NOT NULL, message_id TEXT NOT NULL, client TEXT NOT NULL,"
	    " service TEXT NOT NULL, method TEXT NOT NULL, path TEXT NOT NULL,"
	    " subject TEXT NOT NULL, subjects TEXT NOT NULL, purpose TEXT NOT NULL,"
	    " user_id TEXT NOT NULL, issue TEXT NOT NULL, authenticated TEXT NOT NULL,"
	    " request_hash BLOB, response_hash BLOB, status INTEGER NOT NULL,"
	    " duration_ms INTEGER NOT NULL, request_sig TEXT NOT NULL, response_sig TEXT NOT NULL,"
	    " prev_hash BLOB NOT NULL, hash BLOB NOT NULL);"
	    "CREATE INDEX records_message_id ON records(message_id);"
	    "CREATE TABLE record_subjects (subject TEXT NOT NULL, seq INTEGER NOT NULL,"
	    " PRIMARY KEY (subject, seq)) WITHOUT ROWID;"
	    "CREATE TABLE batches (batch INTEGER PRIMARY KEY, first_seq INTEGER NOT NULL UNIQUE,"
	    " size INTEGER NOT NULL, root BLOB NOT NULL, time_ms INTEGER NOT NULL,"
	    " key_id TEXT NOT NULL, prev_sth_hash BLOB NOT NULL, signature BLOB NOT NULL);"
	    "CREATE TABLE witnesses (batch INTEGER PRIMARY KEY, gateway TEXT NOT NULL,"
	    " sth_hash BLOB NOT NULL, time_ms INTEGER NOT NULL, key_id TEXT NOT NULL,"
	    " signature BLOB NOT NULL);"
	    "INSERT INTO meta VALUES ('format', 'ndx-msglog/2'),"
	    " ('log_id', '00112233445566778899aabbccddeeff'), ('start_seq', '1'),"
	    " ('start_batch', '1'), ('start_prev_hash', hex(zeroblob(32))),"
	    " ('start_prev_sth_hash', hex(zeroblob(32)));"
	    "INSERT INTO records VALUES (1, 1763888451001, 'provider', 'msg-1',"
	    " 'VN/GOV/MOF/enterprise', 'VN/GOV/BCA/population/citizens', 'GET', '/citizens',"
	    " '', '', 'public-service', '', '', '', NULL, NULL, 200, 1, '', '',"
	    " zeroblob(32), zeroblob(32));");
}

/* A log of an older format is refused by open and by every log command,
 * with its format named, and left exactly as it was: no table or column of
 * this format is added to it. */
static void expect_refused_untouched(const char *path, const char *dir, const char *format)
{
	struct ndx_msglog_verify_result res;
	struct ndx_msglog_archive_result ar;
	struct ndx_msglog *log = NULL;
	char err[512], query[200], named[64], *json = NULL;
	struct stat before, after;
	int tables = sql_count(path, "SELECT count(*) FROM sqlite_master");

	snprintf(named, sizeof named, "format %s", format);

	assert_int_equal(stat(path, &before), 0);
	assert_int_equal(ndx_msglog_open(path, key, NULL, &log), NDX_EINVAL);
	assert_null(log);
	assert_int_equal(sql_count(path, "SELECT count(*) FROM sqlite_master"), tables);
	assert_int_equal(sql_count(path, "SELECT count(*) FROM pragma_table_info('records')"
				   " WHERE name = 'represented_party'"), 0);
	snprintf(query, sizeof query,
		 "SELECT count(*) FROM meta WHERE key = 'format' AND value = '%s'", format);
	assert_int_equal(sql_count(path, query), 1);
	assert_int_equal(stat(path, &after), 0);
	assert_int_equal(before.st_size, after.st_size);
	/* the log commands name the format */
	assert_int_equal(ndx_msglog_verify(path, NULL, NULL, &res), NDX_EINVAL);
	if (strstr(res.error, named) == NULL || strstr(res.error, "only ndx-msglog/3") == NULL)
		fail_msg("verify: %s", res.error);
	assert_int_equal(ndx_msglog_prove(path, NULL, -1, 1, &json, err, sizeof err), NDX_EINVAL);
	assert_null(json);
	assert_non_null(strstr(err, named));
	assert_int_not_equal(ndx_msglog_archive(path, dir, INT64_MAX, &ar, err, sizeof err), NDX_OK);
	assert_non_null(strstr(err, named));
	assert_int_equal(stat(path, &after), 0);
	assert_int_equal(before.st_size, after.st_size);
	assert_int_equal(sql_count(path, "SELECT count(*) FROM sqlite_master"), tables);
}

static void test_v1_log_refused(void **state)
{
	char path[600], dir[600];

	(void)state;
	new_path(path, sizeof path, "v1.db");
	new_path(dir, sizeof dir, "v1-archive");
	make_v1_log(path);
	expect_refused_untouched(path, dir, "ndx-msglog/1");
	/* none of the /2 tables were added either */
	assert_int_equal(sql_count(path, "SELECT count(*) FROM sqlite_master WHERE name ="
				   " 'record_subjects'"), 0);
}

/* Record v3 handles v2 logs as v2 handled v1 logs: refused, not converted
 * (a chain of two record encodings would not be one log). */
static void test_v2_log_refused(void **state)
{
	char path[600], dir[600];

	(void)state;
	new_path(path, sizeof path, "v2.db");
	new_path(dir, sizeof dir, "v2-archive");
	make_v2_log(path);
	expect_refused_untouched(path, dir, "ndx-msglog/2");
	assert_int_equal(sql_count(path, "SELECT count(*) FROM records"), 1);
}

/* ---- proofs ------------------------------------------------------------- */

static char *proof_of(const char *path, const char *id, int dir, uint64_t seq)
{
	char err[512], *json = NULL;
	int rc = ndx_msglog_prove(path, id, dir, seq, &json, err, sizeof err);

	if (rc != NDX_OK)
		fail_msg("prove failed (%d): %s", rc, err);
	return json;
}

/* Applies edit to the parsed proof and returns check-proof's verdict. */
static int check_edited(const char *proof, void (*edit)(json_t *), char *msg, size_t cap)
{
	json_t *doc = json_loads(proof, 0, NULL);
	char *text;
	int rc;

	assert_non_null(doc);
	if (edit != NULL)
		edit(doc);
	text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	assert_non_null(text);
	rc = ndx_msglog_check_proof(text, strlen(text), key, msg, cap);
	free(text);
	return rc;
}

static void flip_path(json_t *doc)
{
	json_t *path = json_object_get(doc, "audit_path");
	char hex[65];

	snprintf(hex, sizeof hex, "%s", json_string_value(json_array_get(path, 1)));
	hex[10] = hex[10] == '0' ? '1' : '0';
	json_array_set_new(path, 1, json_string(hex));
}

static void wrong_index(json_t *doc)
{
	json_object_set_new(doc, "leaf_index", json_integer(3));
}

static void wrong_index_and_seq(json_t *doc)
{
	json_t *rec = json_object_get(doc, "record");

	json_object_set_new(doc, "leaf_index", json_integer(3));
	json_object_set_new(rec, "seq", json_integer(20));
}

static void truncate_path(json_t *doc)
{
	json_t *path = json_object_get(doc, "audit_path");

	json_array_remove(path, json_array_size(path) - 1);
}

static void change_field(json_t *doc)
{
	json_object_set_new(json_object_get(doc, "record"), "purpose", json_string("marketing"));
}

static void change_root(json_t *doc)
{
	json_t *th = json_object_get(doc, "tree_head");

	json_object_set_new(th, "root", json_string("00000000000000000000000000000000"
						    "00000000000000000000000000000000"));
}

static void change_sig(json_t *doc)
{
	json_t *th = json_object_get(doc, "tree_head");
	char sig[100];

	snprintf(sig, sizeof sig, "%s", json_string_value(json_object_get(th, "signature")));
	sig[5] = sig[5] == 'A' ? 'B' : 'A';
	json_object_set_new(th, "signature", json_string(sig));
}

static void change_time(json_t *doc)
{
	json_t *th = json_object_get(doc, "tree_head");

	json_object_set_new(th, "time_ms", json_integer(1));
}

static void drop_field(json_t *doc)
{
	json_object_del(json_object_get(doc, "record"), "status");
}

static void test_prove_and_check(void **state)
{
	struct {
		void (*edit)(json_t *);
		int rc;
		const char *want;
	} cases[] = {
		{ NULL, NDX_OK, "record 21 (X-Road-Id msg-21, provider) is leaf 4 of batch 3 "
				"(records 17..24)" },
		{ flip_path, NDX_EBADSIG, "audit path does not lead to the tree head's root" },
		{ wrong_index, NDX_EBADSIG, "leaf_index 3 does not place record 21" },
		{ wrong_index_and_seq, NDX_EBADSIG, "do not hash to record_hash" },
		{ truncate_path, NDX_EBADSIG, "audit path has the wrong length (2)" },
		{ change_field, NDX_EBADSIG, "do not hash to record_hash" },
		{ change_root, NDX_EBADSIG, "does not lead to the tree head's root" },
		{ change_sig, NDX_EBADSIG, "tree head signature does not verify" },
		{ change_time, NDX_EBADSIG, "tree head signature does not verify" },
		{ drop_field, NDX_EINVAL, "record.status: expected an integer" },
	};
	char path[600], msg[512], *proof;

	(void)state;
	new_path(path, sizeof path, "prove.db");
	make_log(path, 40, 8);
	proof = proof_of(path, "msg-21", -1, 0);
	assert_non_null(strstr(proof, "\"format\": \"ndx-log-proof/3\""));
	/* record 21: GET, an odd path with a query, SUBJECT declared, the officer */
	assert_non_null(strstr(proof, "\"method\": \"GET\""));
	assert_non_null(strstr(proof, "\"path\": \"/citizens/001099000021?fields=name\""));
	assert_non_null(strstr(proof, "\"subjects\": \"" SUBJECT "\""));
	assert_non_null(strstr(proof, "\"user_id\": \"VN/GOV/BCA/canbo01\""));
	assert_non_null(strstr(proof, "\"issue\": \"birth-registration/P00000042\""));
	assert_non_null(strstr(proof, "\"authenticated\": \"\""));
	assert_non_null(strstr(proof, "\"represented_party\": \"\""));
	/* each v2 and v3 field is covered by record_hash, and required */
	{
		static const char *const v2[] = { "method", "path", "subject", "subjects",
						  "user_id", "issue", "authenticated",
						  "represented_party" };

		for (size_t i = 0; i < sizeof v2 / sizeof v2[0]; i++) {
			json_t *doc = json_loads(proof, 0, NULL), *rec;
			char *text, val[128], want[64];

			assert_non_null(doc);
			rec = json_object_get(doc, "record");
			snprintf(val, sizeof val, "%sx",
				 json_string_value(json_object_get(rec, v2[i])));
			json_object_set_new(rec, v2[i], json_string(val));
			text = json_dumps(doc, JSON_COMPACT);
			assert_int_equal(ndx_msglog_check_proof(text, strlen(text), key, msg,
								sizeof msg), NDX_EBADSIG);
			assert_non_null(strstr(msg, "do not hash to record_hash"));
			free(text);
			json_object_del(rec, v2[i]);
			text = json_dumps(doc, JSON_COMPACT);
			assert_int_equal(ndx_msglog_check_proof(text, strlen(text), key, msg,
								sizeof msg), NDX_EINVAL);
			snprintf(want, sizeof want, "record.%s: expected a string", v2[i]);
			assert_non_null(strstr(msg, want));
			free(text);
			json_decref(doc);
		}
	}
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int rc = check_edited(proof, cases[i].edit, msg, sizeof msg);

		if (rc != cases[i].rc || strstr(msg, cases[i].want) == NULL)
			fail_msg("case %zu: rc %d, \"%s\"; want %d, \"%s\"", i, rc, msg, cases[i].rc,
				 cases[i].want);
	}
	/* another key */
	assert_int_equal(ndx_msglog_check_proof(proof, strlen(proof), other_key, msg, sizeof msg),
			 NDX_EBADSIG);
	assert_non_null(strstr(msg, "names key"));
	/* truncated text, not JSON at all */
	assert_int_equal(ndx_msglog_check_proof(proof, strlen(proof) / 2, key, msg, sizeof msg),
			 NDX_EINVAL);
	assert_non_null(strstr(msg, "not a JSON proof"));
	free(proof);

	/* by seq, a record whose hashes are absent, a batch of one */
	proof = proof_of(path, NULL, -1, 4);
	assert_non_null(strstr(proof, "\"response_hash\": \"\""));
	assert_int_equal(ndx_msglog_check_proof(proof, strlen(proof), key, msg, sizeof msg), NDX_OK);
	free(proof);
	proof = proof_of(path, NULL, -1, 40);
	assert_int_equal(ndx_msglog_check_proof(proof, strlen(proof), key, msg, sizeof msg), NDX_OK);
	free(proof);

	/* record 19 was made for a represented party: the proof carries it */
	proof = proof_of(path, "msg-19", -1, 0);
	assert_non_null(strstr(proof, "\"represented_party\": \"" PARTY "\""));
	assert_int_equal(ndx_msglog_check_proof(proof, strlen(proof), key, msg, sizeof msg), NDX_OK);
	/* a proof of the previous format is refused by its format, not called altered */
	{
		json_t *doc = json_loads(proof, 0, NULL);
		char *text;

		assert_non_null(doc);
		json_object_set_new(doc, "format", json_string("ndx-log-proof/2"));
		json_object_del(json_object_get(doc, "record"), "represented_party");
		text = json_dumps(doc, JSON_COMPACT);
		assert_int_equal(ndx_msglog_check_proof(text, strlen(text), key, msg, sizeof msg),
				 NDX_EINVAL);
		assert_non_null(strstr(msg, "proof.format: expected ndx-log-proof/3"));
		free(text);
		json_decref(doc);
	}
	free(proof);
}

static void test_prove_refusals(void **state)
{
	struct ndx_msglog_options opt = { .batch_max = 100, .batch_interval_ms = 600000 };
	struct ndx_msglog *log = NULL;
	char path[600], err[512], *json = NULL;
	struct ndx_msglog_record r;
	uint8_t req[NDX_SHA256_LEN], resp[NDX_SHA256_LEN];
	char id[32];

	(void)state;
	new_path(path, sizeof path, "prove2.db");
	make_log(path, 5, 4);
	assert_int_equal(ndx_msglog_prove(path, "nope", -1, 0, &json, err, sizeof err),
			 NDX_ENOTFOUND);
	assert_non_null(strstr(err, "no record with X-Road-Id nope"));
	assert_int_equal(ndx_msglog_prove(path, NULL, -1, 99, &json, err, sizeof err),
			 NDX_ENOTFOUND);
	/* the same X-Road-Id logged in both directions */
	assert_int_equal(ndx_msglog_open(path, key, &opt, &log), NDX_OK);
	fill_record(&r, 2, id, sizeof id, req, resp);
	r.direction = NDX_MSGLOG_PROVIDER;
	assert_int_equal(ndx_msglog_append(log, &r, NULL), NDX_OK);
	/* record 6 is in the open batch */
	assert_int_equal(ndx_msglog_prove(path, NULL, -1, 6, &json, err, sizeof err),
			 NDX_ENOTFOUND);
	assert_non_null(strstr(err, "open batch"));
	assert_int_equal(ndx_msglog_seal(log), NDX_OK);
	assert_int_equal(ndx_msglog_prove(path, "msg-2", -1, 0, &json, err, sizeof err),
			 NDX_EINVAL);
	assert_non_null(strstr(err, "2 records have X-Road-Id msg-2: 2 (consumer), 6 (provider)"));
	assert_null(json);
	json = proof_of(path, "msg-2", NDX_MSGLOG_PROVIDER, 0);
	assert_non_null(strstr(json, "\"seq\": 6"));
	free(json);
	assert_int_equal(ndx_msglog_close(log), NDX_OK);
	/* a record altered in the store yields no proof */
	sql(path, "UPDATE records SET subject = 'x' WHERE seq = 3");
	json = NULL;
	assert_int_equal(ndx_msglog_prove(path, "msg-3", -1, 0, &json, err, sizeof err),
			 NDX_EBADSIG);
	assert_null(json);
	assert_non_null(strstr(err, "does not verify"));
}

/* ---- archive ------------------------------------------------------------ */

static void test_archive(void **state)
{
	struct ndx_msglog_archive_result ar;
	struct ndx_msglog_verify_result res;
	struct ndx_msglog_head head;
	struct ndx_msglog *log = NULL;
	char path[600], dir[600], err[512], first_file[4096], *json = NULL;

	(void)state;
	new_path(path, sizeof path, "arch.db");
	new_path(dir, sizeof dir, "archives");
	make_log(path, 40, 8);

	/* nothing older than the epoch */
	assert_int_equal(ndx_msglog_archive(path, dir, 0, &ar, err, sizeof err), NDX_OK);
	assert_int_equal(ar.batches, 0);

	assert_int_equal(ndx_msglog_archive(path, dir, INT64_MAX, &ar, err, sizeof err), NDX_OK);
	assert_int_equal(ar.batches, 5);
	assert_int_equal(ar.records, 40);
	assert_int_equal(ar.first_seq, 1);
	assert_int_equal(ar.last_seq, 40);
	assert_non_null(strstr(ar.file, "/ndx-log-000000000001-000000000005.sqlite"));
	snprintf(first_file, sizeof first_file, "%s", ar.file);
	/* the subject index goes with its records */
	assert_int_equal(sql_count(ar.file, "SELECT count(*) FROM record_subjects"),
			 sql_count(ar.file, "SELECT count(*) FROM records WHERE subject != ''") +
			 sql_count(ar.file, "SELECT count(*) FROM records WHERE subjects = '" LIST "'")
			 * 2);
	assert_int_equal(sql_count(path, "SELECT count(*) FROM record_subjects"), 0);
	/* so does the index of message ids, complete in the archive */
	assert_int_equal(sql_count(ar.file, "SELECT count(*) FROM record_ids"), 40);
	if (!ndx__msglog_is_pg(path))
		assert_int_equal(sql_count(path, "SELECT count(*) FROM record_ids"), 0);
	/* an archive is a new file: 8 KiB pages, as docs/protocol.md says */
	assert_int_equal(sql_count(ar.file, "PRAGMA page_size"), 8192);
	/* the archive is a log of its own; the live log is empty but anchored */
	expect_verify(ar.file, NULL, key, NULL, &res);
	assert_int_equal(res.records, 40);
	expect_verify(path, NULL, NULL, NULL, &res);
	assert_int_equal(res.records, 0);
	assert_true(res.anchored);
	expect_verify(path, dir, key, NULL, &res);
	assert_int_equal(res.records, 40);
	assert_int_equal(res.archives, 1);
	assert_false(res.anchored);

	/* the chain goes on across the archive */
	assert_int_equal(ndx_msglog_open(path, key, NULL, &log), NDX_OK);
	ndx_msglog_head(log, &head);
	assert_int_equal(head.sth.batch, 5);
	assert_int_equal(head.covered, 40);
	for (int i = 41; i <= 50; i++)
		assert_int_equal(append_one(log, i), (uint64_t)i);
	assert_int_equal(ndx_msglog_close(log), NDX_OK);
	expect_verify(path, NULL, NULL, NULL, &res);
	assert_int_equal(res.records, 10);
	assert_int_equal(res.first_seq, 41);
	expect_verify(path, dir, NULL, NULL, &res);
	assert_int_equal(res.records, 50);
	assert_int_equal(ndx_msglog_prove(path, "msg-3", -1, 0, &json, err, sizeof err),
			 NDX_ENOTFOUND);
	json = proof_of(path, "msg-45", -1, 0);
	free(json);

	assert_int_equal(ndx_msglog_archive(path, dir, INT64_MAX, &ar, err, sizeof err), NDX_OK);
	assert_int_equal(ar.first_batch, 6);
	assert_int_equal(ar.last_batch, 6);
	assert_int_equal(ar.first_seq, 41);
	expect_verify(path, dir, key, NULL, &res);
	assert_int_equal(res.records, 50);
	assert_int_equal(res.archives, 2);
	expect_verify(path, dir, other_key, "archive ndx-log-000000000001-000000000005.sqlite: "
		      "batch 1: signed by key", NULL);

	/* damage inside an archive is named with its file */
	sql(ar.file, "UPDATE records SET status = 201 WHERE seq = 44");
	expect_verify(path, dir, NULL, "archive ndx-log-000000000006-000000000006.sqlite: "
		      "record 44: stored hash does not match its contents", NULL);
	sql(ar.file, "UPDATE records SET status = 200 WHERE seq = 44");
	expect_verify(path, dir, NULL, NULL, NULL);

	/* a missing first archive breaks the continuous chain */
	{
		char moved[4200];

		snprintf(moved, sizeof moved, "%s.away", first_file);
		assert_int_equal(rename(first_file, moved), 0);
		expect_verify(path, dir, NULL, "starts at record 41, but no archive holds the "
			      "records before it", NULL);
		assert_int_equal(rename(moved, first_file), 0);
	}
	/* an archive file cannot be reopened for appending */
	assert_int_equal(ndx_msglog_open(first_file, key, NULL, &log), NDX_EINVAL);
	/* a live log that does not verify is not archived */
	new_path(path, sizeof path, "arch-bad.db");
	make_log(path, 16, 8);
	sql(path, "UPDATE records SET status = 201 WHERE seq = 4");
	assert_int_equal(ndx_msglog_archive(path, dir, INT64_MAX, &ar, err, sizeof err),
			 NDX_EBADSIG);
	assert_non_null(strstr(err, "record 4: stored hash"));
}

/* ---- failing commits ------------------------------------------------------ */

/* Forwards everything to an SQLite store but fails chosen commits (after
 * rolling the transaction back, as a full disk would leave it). */
struct failing_store {
	struct ndx__msglog_store base;
	struct ndx__msglog_store *inner;
	pthread_mutex_t lock;
	int commits;
	int fail_from, fail_every; /* fail commit k when k >= fail_from and k % fail_every == 0 */
	int failed;
	/* Under gate_lock: while hold is set, a commit waits (held set) until
	 * it is cleared, parking the writer between taking a group and
	 * finishing it. */
	bool hold, held;
};

/* The hold's lock and condition, static and never destroyed: helgrind
 * reports a condition wait on a mutex later destroyed, even after a join. */
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;

static struct failing_store *fs_of(struct ndx__msglog_store *st)
{
	return (struct failing_store *)st;
}

static void fs_close(struct ndx__msglog_store *st)
{
	struct failing_store *f = fs_of(st);

	f->inner->ops->close(f->inner);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

static int fs_begin(struct ndx__msglog_store *st, bool w)
{
	return fs_of(st)->inner->ops->begin(fs_of(st)->inner, w);
}

static int fs_try_begin_write(struct ndx__msglog_store *st)
{
	return fs_of(st)->inner->ops->try_begin_write(fs_of(st)->inner);
}

static int fs_data_version(struct ndx__msglog_store *st, uint64_t *v)
{
	return fs_of(st)->inner->ops->data_version(fs_of(st)->inner, v);
}

static int fs_commit(struct ndx__msglog_store *st)
{
	struct failing_store *f = fs_of(st);
	bool fail;

	pthread_mutex_lock(&gate_lock);
	if (f->hold) {
		f->held = true;
		pthread_cond_broadcast(&gate_cv);
		while (f->hold)
			pthread_cond_wait(&gate_cv, &gate_lock);
		f->held = false;
	}
	pthread_mutex_unlock(&gate_lock);
	pthread_mutex_lock(&f->lock);
	f->commits++;
	fail = f->fail_every > 0 && f->commits >= f->fail_from && f->commits % f->fail_every == 0;
	if (fail)
		f->failed++;
	pthread_mutex_unlock(&f->lock);
	if (fail) {
		f->inner->ops->rollback(f->inner);
		return NDX_EDB;
	}
	return f->inner->ops->commit(f->inner);
}

static void fs_rollback(struct ndx__msglog_store *st)
{
	fs_of(st)->inner->ops->rollback(fs_of(st)->inner);
}

static int fs_meta_get(struct ndx__msglog_store *st, const char *k, char **v)
{
	return fs_of(st)->inner->ops->meta_get(fs_of(st)->inner, k, v);
}

static int fs_meta_set(struct ndx__msglog_store *st, const char *k, const char *v)
{
	return fs_of(st)->inner->ops->meta_set(fs_of(st)->inner, k, v);
}

static int fs_put_records(struct ndx__msglog_store *st, const struct ndx_msglog_entry *e,
			  size_t n)
{
	return fs_of(st)->inner->ops->put_records(fs_of(st)->inner, e, n);
}

static int fs_put_batch(struct ndx__msglog_store *st, const struct ndx_msglog_sth *s)
{
	return fs_of(st)->inner->ops->put_batch(fs_of(st)->inner, s);
}

static int fs_put_witness(struct ndx__msglog_store *st, const struct ndx_msglog_witness *w)
{
	return fs_of(st)->inner->ops->put_witness(fs_of(st)->inner, w);
}

static int fs_delete_through(struct ndx__msglog_store *st, uint64_t a, uint64_t b)
{
	return fs_of(st)->inner->ops->delete_through(fs_of(st)->inner, a, b);
}

static int fs_iter_open(struct ndx__msglog_store *st, enum ndx__msglog_query q, uint64_t u,
			const char *text, struct ndx__msglog_iter **it)
{
	return fs_of(st)->inner->ops->iter_open(fs_of(st)->inner, q, u, text, it);
}

static struct ndx__msglog_store_ops fs_ops;

static struct failing_store *failing_open(const char *path)
{
	struct failing_store *f = calloc(1, sizeof *f);

	assert_non_null(f);
	assert_int_equal(ndx__msglog_store_open(path, 0, &f->inner), NDX_OK);
	/* Iterators are the inner store's own: borrow its functions. */
	fs_ops = (struct ndx__msglog_store_ops){
		.close = fs_close, .begin = fs_begin, .commit = fs_commit,
		.try_begin_write = f->inner->ops->try_begin_write != NULL ? fs_try_begin_write : NULL,
		.data_version = f->inner->ops->data_version != NULL ? fs_data_version : NULL,
		.rollback = fs_rollback, .meta_get = fs_meta_get, .meta_set = fs_meta_set,
		.put_records = fs_put_records, .put_batch = fs_put_batch,
		.put_witness = fs_put_witness, .delete_through = fs_delete_through, .iter_open = fs_iter_open,
		.iter_record = f->inner->ops->iter_record, .iter_batch = f->inner->ops->iter_batch,
		.iter_subject = f->inner->ops->iter_subject,
		.iter_witness = f->inner->ops->iter_witness, .iter_close = f->inner->ops->iter_close,
	};
	f->base.ops = &fs_ops;
	pthread_mutex_init(&f->lock, NULL);
	return f;
}

/* Makes the next commit wait until release_commit; wait_held returns once
 * the writer is parked in it. */
static void hold_next_commit(struct failing_store *f)
{
	pthread_mutex_lock(&gate_lock);
	f->hold = true;
	pthread_mutex_unlock(&gate_lock);
}

static void wait_held(struct failing_store *f)
{
	pthread_mutex_lock(&gate_lock);
	while (!f->held)
		pthread_cond_wait(&gate_cv, &gate_lock);
	pthread_mutex_unlock(&gate_lock);
}

static void release_commit(struct failing_store *f)
{
	pthread_mutex_lock(&gate_lock);
	f->hold = false;
	pthread_cond_broadcast(&gate_cv);
	pthread_mutex_unlock(&gate_lock);
}

static void test_failed_commit_single(void **state)
{
	struct ndx_msglog_options opt = { .batch_max = 2, .batch_interval_ms = 600000 };
	struct ndx_msglog_verify_result res;
	struct ndx_msglog_head head;
	struct ndx_msglog *log = NULL;
	struct failing_store *f;
	struct ndx_msglog_record r;
	uint8_t req[NDX_SHA256_LEN], resp[NDX_SHA256_LEN];
	char path[600], id[32];
	uint64_t seq = 0;

	(void)state;
	new_path(path, sizeof path, "fail1.db");
	f = failing_open(path);
	assert_int_equal(ndx__msglog_open_store(&f->base, NULL, key, &opt, &log), NDX_OK);
	assert_int_equal(append_one(log, 1), 1);
	/* the next commit (record 2 + closing batch 1) fails */
	pthread_mutex_lock(&f->lock);
	f->fail_from = f->commits + 1;
	f->fail_every = 1;
	pthread_mutex_unlock(&f->lock);
	fill_record(&r, 2, id, sizeof id, req, resp);
	assert_int_equal(ndx_msglog_append(log, &r, &seq), NDX_EDB);
	assert_int_equal(ndx_msglog_append(log, &r, &seq), NDX_EDB);
	ndx_msglog_head(log, &head);
	assert_int_equal(head.last_seq, 1);
	assert_int_equal(head.sth.batch, 0);
	assert_true(head.failed_commits >= 2);
	/* the disk has room again: the chain goes on where it was durable */
	pthread_mutex_lock(&f->lock);
	f->fail_every = 0;
	pthread_mutex_unlock(&f->lock);
	assert_int_equal(ndx_msglog_append(log, &r, &seq), NDX_OK);
	assert_int_equal(seq, 2);
	assert_int_equal(append_one(log, 3), 3);
	ndx_msglog_head(log, &head);
	assert_int_equal(head.sth.batch, 1);
	/* by_subject needs a reader store */
	assert_int_equal(ndx_msglog_by_subject(log, SUBJECT, collect, NULL), NDX_EINVAL);
	assert_int_equal(ndx_msglog_recent(log, 0, collect, NULL), NDX_EINVAL);
	assert_int_equal(ndx_msglog_close(log), NDX_OK);
	expect_verify(path, NULL, key, NULL, &res);
	assert_int_equal(res.records, 3);
	assert_int_equal(res.batched, 3);
}

static void test_failed_commit_concurrent(void **state)
{
	struct ndx_msglog_options opt = { .batch_max = 16, .batch_interval_ms = 5 };
	struct ndx_msglog_verify_result res;
	struct worker w[THREADS];
	pthread_t t[THREADS];
	struct ndx_msglog *log = NULL;
	struct failing_store *f;
	char path[600];
	int ok = 0, failed = 0;

	(void)state;
	new_path(path, sizeof path, "failn.db");
	f = failing_open(path);
	assert_int_equal(ndx__msglog_open_store(&f->base, NULL, key, &opt, &log), NDX_OK);
	pthread_mutex_lock(&f->lock);
	f->fail_from = f->commits + 1;
	f->fail_every = 5;
	pthread_mutex_unlock(&f->lock);
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ .log = log, .base = i * 200, .n = 200 };
		w[i].seqs = calloc(200, sizeof *w[i].seqs);
		assert_non_null(w[i].seqs);
		assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		ok += w[i].ok;
		failed += w[i].failed;
		free(w[i].seqs);
	}
	assert_int_equal(ok + failed, THREADS * 200);
	assert_true(failed > 0);
	assert_true(f->failed > 0);
	pthread_mutex_lock(&f->lock);
	f->fail_every = 0;
	pthread_mutex_unlock(&f->lock);
	assert_int_equal(ndx_msglog_close(log), NDX_OK);
	/* exactly the acknowledged records are in the log, all verifiable */
	expect_verify(path, NULL, key, NULL, &res);
	assert_int_equal(res.records, (uint64_t)ok);
	assert_int_equal(res.batched, (uint64_t)ok);
}

static void test_failed_final_close(void **state)
{
	struct ndx_msglog_options opt = { .batch_max = 100, .batch_interval_ms = 600000 };
	struct ndx_msglog_verify_result res;
	struct ndx_msglog *log = NULL;
	struct failing_store *f;
	char path[600];

	(void)state;
	new_path(path, sizeof path, "failclose.db");
	f = failing_open(path);
	assert_int_equal(ndx__msglog_open_store(&f->base, NULL, key, &opt, &log), NDX_OK);
	for (int i = 1; i <= 5; i++)
		append_one(log, i);
	pthread_mutex_lock(&f->lock);
	f->fail_from = f->commits + 1;
	f->fail_every = 1;
	pthread_mutex_unlock(&f->lock);
	/* closing cannot write the tree head: it says so, records stay */
	assert_int_equal(ndx_msglog_close(log), NDX_EDB);
	expect_verify(path, NULL, NULL, NULL, &res);
	assert_int_equal(res.records, 5);
	assert_int_equal(res.batched, 0);
	/* and the next open seals them */
	assert_int_equal(ndx_msglog_open(path, key, &opt, &log), NDX_OK);
	assert_int_equal(ndx_msglog_close(log), NDX_OK);
	expect_verify(path, NULL, NULL, NULL, &res);
	assert_int_equal(res.batched, 5);
}

/* ---- asynchronous appends --------------------------------------------------- */

/* Counts done calls; the test waits on it, never sleeps. */
struct completions {
	pthread_mutex_t lock;
	pthread_cond_t cv;
	int n;                 /* done calls so far */
	int bad;               /* of those, with rc != NDX_OK (extra_done) */
	const char *check_path; /* when set, done looks the record up in this file */
	bool have_thread;
	pthread_t thread;      /* the thread the first done ran on */
	bool one_thread;       /* every done ran on that thread */
};

/* One asynchronous record: it and its strings live here until its done. */
struct arec {
	struct ndx_msglog_record r;
	char id[32], path[64];
	uint8_t req[NDX_SHA256_LEN], resp[NDX_SHA256_LEN];
	struct completions *c;
	int calls;             /* under c->lock, like the three below */
	int rc;
	uint64_t seq;
	int in_file;           /* with check_path: rows of its seq when done ran */
	pthread_t on;          /* the thread its done ran on */
};

static void completions_init(struct completions *c)
{
	memset(c, 0, sizeof *c);
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cv, NULL);
	c->one_thread = true;
}

static void completions_destroy(struct completions *c)
{
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->cv);
}

static void wait_done(struct completions *c, int n)
{
	pthread_mutex_lock(&c->lock);
	while (c->n < n)
		pthread_cond_wait(&c->cv, &c->lock);
	pthread_mutex_unlock(&c->lock);
}

static int done_count(struct completions *c)
{
	int n;

	pthread_mutex_lock(&c->lock);
	n = c->n;
	pthread_mutex_unlock(&c->lock);
	return n;
}

static void arec_fill(struct arec *a, int i, struct completions *c)
{
	fill_record(&a->r, i, a->id, sizeof a->id, a->req, a->resp);
	snprintf(a->path, sizeof a->path, "%s", a->r.path);
	a->r.path = a->path; /* path_of's buffer is reused 64 records later */
	a->c = c;
	a->calls = 0;
	a->rc = -1;
	a->seq = 0;
	a->in_file = -1;
}

/* Rows of record seq in the file at path, through a connection of its own;
 * -1 when the file cannot be read (no cmocka assertion off the main thread). */
static int rows_of_seq(const char *path, uint64_t seq)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int n = -1;

	if (ndx__msglog_is_pg(path)) {
		char q[100];
		PGresult *r;

		snprintf(q, sizeof q, "SELECT count(*) FROM records WHERE seq = %llu",
			 (unsigned long long)seq);
		r = pg_run(path, q);
		n = atoi(PQgetvalue(r, 0, 0));
		PQclear(r);
		return n;
	}
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, "SELECT count(*) FROM records WHERE seq = ?", -1, &st,
			       NULL) == SQLITE_OK &&
	    sqlite3_bind_int64(st, 1, (sqlite3_int64)seq) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

static void arec_done(void *ud, int rc, uint64_t seq)
{
	struct arec *a = ud;
	struct completions *c = a->c;
	int in_file = c->check_path != NULL && rc == NDX_OK ? rows_of_seq(c->check_path, seq) : -1;

	pthread_mutex_lock(&c->lock);
	a->calls++;
	a->rc = rc;
	a->seq = seq;
	a->in_file = in_file;
	a->on = pthread_self();
	if (!c->have_thread) {
		c->thread = pthread_self();
		c->have_thread = true;
	} else if (!pthread_equal(c->thread, pthread_self())) {
		c->one_thread = false;
	}
	c->n++;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->lock); /* a may be freed from here on */
}

/* For records that share one arec's storage: counts only. */
static void extra_done(void *ud, int rc, uint64_t seq)
{
	struct completions *c = ud;

	pthread_mutex_lock(&c->lock);
	c->n++;
	if (rc != NDX_OK || seq == 0)
		c->bad++;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->lock);
}

struct async_worker {
	struct ndx_msglog *log;
	struct arec *recs;     /* n of them, record numbers base+1 .. base+n */
	struct completions *c;
	int base, n, queued, refused;
	bool inline_odd;       /* every other record through ndx_msglog_append_inline */
};

static void *async_worker_main(void *arg)
{
	struct async_worker *w = arg;

	for (int i = 0; i < w->n; i++) {
		struct arec *a = &w->recs[i];

		arec_fill(a, w->base + i + 1, w->c);
		if ((w->inline_odd && i % 2 == 1
			     ? ndx_msglog_append_inline(w->log, &a->r, arec_done, a)
			     : ndx_msglog_append_async(w->log, &a->r, arec_done, a)) == NDX_OK)
			w->queued++;
		else
			w->refused++;
	}
	return NULL;
}

/* Each done called once, with NDX_OK and a seq in 1..total seen only once
 * (marked in seen), and each worker's records in the order it queued them. */
static void check_async_workers(struct async_worker *w, int nw, uint8_t *seen, uint64_t total)
{
	for (int i = 0; i < nw; i++) {
		assert_int_equal(w[i].queued, w[i].n);
		assert_int_equal(w[i].refused, 0);
		for (int j = 0; j < w[i].n; j++) {
			const struct arec *a = &w[i].recs[j];

			assert_int_equal(a->calls, 1);
			assert_int_equal(a->rc, NDX_OK);
			assert_in_range(a->seq, 1, total);
			assert_int_equal(seen[a->seq], 0);
			seen[a->seq] = 1;
			if (j > 0)
				assert_true(a->seq > w[i].recs[j - 1].seq);
		}
	}
}

/* THREADS threads append PER_THREAD records each, asynchronously or (with
 * inline_odd) every other one through ndx_msglog_append_inline: one
 * verified chain, each done once, each thread's records in its order. */
static void concurrent_async(const char *name, bool inline_odd)
{
	struct ndx_msglog_options opt = { .batch_max = 64, .batch_interval_ms = 20 };
	struct ndx_msglog_verify_result res;
	struct ndx_msglog_head head;
	struct async_worker w[THREADS];
	struct completions c;
	pthread_t t[THREADS];
	struct ndx_msglog *log = NULL;
	struct arec *recs;
	uint8_t *seen;
	char path[600];
	const int total = THREADS * PER_THREAD;

	new_path(path, sizeof path, name);
	completions_init(&c);
	recs = calloc((size_t)total, sizeof *recs);
	seen = calloc((size_t)total + 1, 1);
	assert_non_null(recs);
	assert_non_null(seen);
	assert_int_equal(ndx_msglog_open(path, key, &opt, &log), NDX_OK);
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct async_worker){ .log = log, .recs = recs + i * PER_THREAD, .c = &c,
					      .base = i * PER_THREAD, .n = PER_THREAD,
					      .inline_odd = inline_odd };
		assert_int_equal(pthread_create(&t[i], NULL, async_worker_main, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	wait_done(&c, total);
	ndx_msglog_head(log, &head);
	assert_int_equal(head.last_seq, total);
	assert_int_equal(head.failed_commits, 0);
	if (!inline_odd) {
		assert_true(head.commits < (uint64_t)total); /* group commit */
		/* every done ran on one thread, the writer: neither this one
		 * nor an appender (all joined before their records could all
		 * be done) */
		assert_true(c.one_thread);
		assert_false(pthread_equal(c.thread, pthread_self()));
		for (int i = 0; i < THREADS; i++)
			assert_false(pthread_equal(c.thread, t[i]));
	}
	assert_int_equal(ndx_msglog_close(log), NDX_OK);
	assert_int_equal(c.n, total); /* none more at close */
	check_async_workers(w, THREADS, seen, (uint64_t)total);
	for (int s = 1; s <= total; s++)
		assert_int_equal(seen[s], 1);
	expect_verify(path, NULL, key, NULL, &res);
	assert_int_equal(res.records, total);
	assert_int_equal(res.batched, total);
	free(seen);
	free(recs);
	completions_destroy(&c);
}

static void test_async_concurrent(void **state)
{
	(void)state;
	concurrent_async("async.db", false);
}

static void test_async_mixed(void **state)
{
	struct ndx_msglog_options opt = { .batch_max = 50, .batch_interval_ms = 20 };
	struct ndx_msglog_verify_result res;
	struct async_worker aw[2];
	struct worker sw[2];
	struct completions c;
	pthread_t t[4];
	struct ndx_msglog *log = NULL;
	struct arec *recs, *mine;
	uint64_t *sync_seqs;
	uint8_t *seen;
	char path[600];
	enum { PER = 250, MINE = 50 };
	const int total = 4 * PER + 2 * MINE;

	(void)state;
	new_path(path, sizeof path, "mixed.db");
	completions_init(&c);
	recs = calloc(2 * PER + MINE, sizeof *recs);
	sync_seqs = calloc(MINE, sizeof *sync_seqs);
	seen = calloc((size_t)total + 1, 1);
	assert_non_null(recs);
	assert_non_null(sync_seqs);
	assert_non_null(seen);
	mine = recs + 2 * PER;
	assert_int_equal(ndx_msglog_open(path, key, &opt, &log), NDX_OK);
	for (int i = 0; i < 2; i++) {
		aw[i] = (struct async_worker){ .log = log, .recs = recs + i * PER, .c = &c,
					       .base = i * PER, .n = PER };
		sw[i] = (struct worker){ .log = log, .base = (2 + i) * PER + 1, .n = PER };
		sw[i].seqs = calloc(PER, sizeof *sw[i].seqs);
		assert_non_null(sw[i].seqs);
		assert_int_equal(pthread_create(&t[i], NULL, async_worker_main, &aw[i]), 0);
		assert_int_equal(pthread_create(&t[2 + i], NULL, worker_main, &sw[i]), 0);
	}
	/* This thread alternates: an asynchronous record, then a waiting one,
	 * which returns once everything queued before it is durable. */
	for (int i = 0; i < MINE; i++) {
		struct ndx_msglog_record r;
		uint8_t req[NDX_SHA256_LEN], resp[NDX_SHA256_LEN];
		char id[32];

		arec_fill(&mine[i], 4 * PER + 1 + 2 * i, &c);
		assert_int_equal(ndx_msglog_append_async(log, &mine[i].r, arec_done, &mine[i]),
				 NDX_OK);
		fill_record(&r, 4 * PER + 2 + 2 * i, id, sizeof id, req, resp);
		assert_int_equal(ndx_msglog_append(log, &r, &sync_seqs[i]), NDX_OK);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	wait_done(&c, 2 * PER + MINE);
	assert_int_equal(ndx_msglog_close(log), NDX_OK);
	assert_int_equal(c.n, 2 * PER + MINE);

	check_async_workers(aw, 2, seen, (uint64_t)total);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(sw[i].ok, PER);
		for (int j = 0; j < PER; j++) {
			assert_in_range(sw[i].seqs[j], 1, total);
			assert_int_equal(seen[sw[i].seqs[j]], 0);
			seen[sw[i].seqs[j]] = 1;
		}
		free(sw[i].seqs);
	}
	for (int i = 0; i < MINE; i++) {
		assert_int_equal(mine[i].calls, 1);
		assert_int_equal(mine[i].rc, NDX_OK);
		/* queue order: each one before the waiting append after it */
		assert_true(mine[i].seq < sync_seqs[i]);
		if (i > 0)
			assert_true(mine[i].seq > sync_seqs[i - 1]);
		assert_in_range(sync_seqs[i], 1, total);
		assert_int_equal(seen[mine[i].seq], 0);
		seen[mine[i].seq] = 1;
		assert_int_equal(seen[sync_seqs[i]], 0);
		seen[sync_seqs[i]] = 1;
	}
	for (int s = 1; s <= total; s++)
		assert_int_equal(seen[s], 1);
	expect_verify(path, NULL, key, NULL, &res);
	assert_int_equal(res.records, total);
	assert_int_equal(res.batched, total);
	free(seen);
	free(sync_seqs);
	free(recs);
	completions_destroy(&c);
}

/* done comes once the record is durable: at that moment another connection
 * already reads it from the file, and after close the log verifies with it. */
static void test_async_durable(void **state)
{
	struct ndx_msglog_options opt = { .batch_max = 8, .batch_interval_ms = 600000 };
	struct ndx_msglog_verify_result res;
	struct arec recs[20];
	struct completions c;
	struct ndx_msglog *log = NULL;
	char path[600];

	(void)state;
	new_path(path, sizeof path, "adurable.db");
	completions_init(&c);
	c.check_path = path;
	assert_int_equal(ndx_msglog_open(path, key, &opt, &log), NDX_OK);
	for (int i = 0; i < 20; i++) {
		arec_fill(&recs[i], i + 1, &c);
		assert_int_equal(ndx_msglog_append_async(log, &recs[i].r, arec_done, &recs[i]),
				 NDX_OK);
		if (i % 5 == 4) /* some alone in their group, some several */
			wait_done(&c, i + 1);
	}
	wait_done(&c, 20);
	for (int i = 0; i < 20; i++) {
		assert_int_equal(recs[i].calls, 1);
		assert_int_equal(recs[i].rc, NDX_OK);
		assert_int_equal(recs[i].seq, (uint64_t)i + 1);
		assert_int_equal(recs[i].in_file, 1);
		/* and it is still there, the log still open */
		assert_int_equal(rows_of_seq(path, recs[i].seq), 1);
	}
	assert_int_equal(ndx_msglog_close(log), NDX_OK);
	expect_verify(path, NULL, key, NULL, &res);
	assert_int_equal(res.records, 20);
	assert_int_equal(res.batched, 20);
	assert_int_equal(res.last_seq, 20);
	completions_destroy(&c);
}

/* Refused at once, done never called; the log goes on. */
static void test_async_bad_input(void **state)
{
	struct ndx_msglog_verify_result res;
	struct arec bad_dir, too_big, max_ok, good;
	struct completions c;
	struct ndx_msglog *log = NULL;
	char path[600], *big;

	(void)state;
	new_path(path, sizeof path, "abad.db");
	completions_init(&c);
	assert_int_equal(ndx_msglog_open(path, key, NULL, &log), NDX_OK);
	arec_fill(&bad_dir, 1, &c);
	bad_dir.r.direction = (enum ndx_msglog_direction)7;
	assert_int_equal(ndx_msglog_append_async(log, &bad_dir.r, arec_done, &bad_dir),
			 NDX_EINVAL);
	big = malloc(NDX_MSGLOG_FIELD_MAX + 2);
	assert_non_null(big);
	memset(big, 'a', NDX_MSGLOG_FIELD_MAX + 1);
	big[NDX_MSGLOG_FIELD_MAX + 1] = '\0';
	arec_fill(&too_big, 1, &c);
	too_big.r.response_sig = big;
	assert_int_equal(ndx_msglog_append_async(log, &too_big.r, arec_done, &too_big),
			 NDX_ETOOBIG);
	too_big.r.response_sig = NULL;
	too_big.r.represented_party = big;
	assert_int_equal(ndx_msglog_append_async(log, &too_big.r, arec_done, &too_big),
			 NDX_ETOOBIG);
	/* exactly the longest field is taken */
	arec_fill(&max_ok, 1, &c);
	big[NDX_MSGLOG_FIELD_MAX] = '\0';
	max_ok.r.response_sig = big;
	assert_int_equal(ndx_msglog_append_async(log, &max_ok.r, arec_done, &max_ok), NDX_OK);
	arec_fill(&good, 2, &c);
	assert_int_equal(ndx_msglog_append_async(log, &good.r, arec_done, &good), NDX_OK);
	wait_done(&c, 2);
	free(big); /* only now: borrowed until done */
	assert_int_equal(ndx_msglog_close(log), NDX_OK);
	/* close called every done still due: none for the refused ones */
	assert_int_equal(c.n, 2);
	assert_int_equal(bad_dir.calls, 0);
	assert_int_equal(too_big.calls, 0);
	assert_int_equal(max_ok.calls, 1);
	assert_int_equal(max_ok.rc, NDX_OK);
	assert_int_equal(max_ok.seq, 1);
	assert_int_equal(good.calls, 1);
	assert_int_equal(good.seq, 2);
	expect_verify(path, NULL, key, NULL, &res);
	assert_int_equal(res.records, 2);
	completions_destroy(&c);
}

/* A group that fails fails each of its asynchronous records: done with
 * the error and seq 0, nothing of them in the file; the chain goes on. */
static void test_async_failed_group(void **state)
{
	struct ndx_msglog_options opt = { .batch_max = 100, .batch_interval_ms = 600000 };
	struct ndx_msglog_verify_result res;
	struct arec first, b[3], after;
	struct completions c;
	struct ndx_msglog *log = NULL;
	struct failing_store *f;
	char path[600];

	(void)state;
	new_path(path, sizeof path, "afail.db");
	completions_init(&c);
	f = failing_open(path);
	assert_int_equal(ndx__msglog_open_store(&f->base, NULL, key, &opt, &log), NDX_OK);
	hold_next_commit(f);
	arec_fill(&first, 1, &c);
	assert_int_equal(ndx_msglog_append_async(log, &first.r, arec_done, &first), NDX_OK);
	wait_held(f); /* the writer is inside the commit of first's group */
	for (int i = 0; i < 3; i++) {
		arec_fill(&b[i], 2 + i, &c);
		assert_int_equal(ndx_msglog_append_async(log, &b[i].r, arec_done, &b[i]), NDX_OK);
	}
	/* queued while the writer was busy: the next group, and it fails (the
	 * held commit, first's, is counted once it goes on: commits + 1) */
	pthread_mutex_lock(&f->lock);
	f->fail_from = f->commits + 2;
	f->fail_every = 1;
	pthread_mutex_unlock(&f->lock);
	assert_int_equal(done_count(&c), 0);
	release_commit(f);
	wait_done(&c, 4);
	pthread_mutex_lock(&f->lock);
	f->fail_every = 0;
	pthread_mutex_unlock(&f->lock);
	assert_int_equal(first.calls, 1);
	assert_int_equal(first.rc, NDX_OK);
	assert_int_equal(first.seq, 1);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(b[i].calls, 1);
		assert_int_equal(b[i].rc, NDX_EDB);
		assert_int_equal(b[i].seq, 0);
	}
	assert_int_equal(sql_count(path, "SELECT count(*) FROM records"), 1);
	arec_fill(&after, 2, &c);
	assert_int_equal(ndx_msglog_append_async(log, &after.r, arec_done, &after), NDX_OK);
	wait_done(&c, 5);
	assert_int_equal(after.rc, NDX_OK);
	assert_int_equal(after.seq, 2);
	assert_int_equal(ndx_msglog_close(log), NDX_OK);
	expect_verify(path, NULL, key, NULL, &res);
	assert_int_equal(res.records, 2);
	assert_int_equal(res.batched, 2);
	completions_destroy(&c);
}

struct closer {
	struct ndx_msglog *log;
	pthread_mutex_t lock;
	pthread_cond_t cv;
	bool started;
	int rc;
};

static void *closer_main(void *arg)
{
	struct closer *cl = arg;

	pthread_mutex_lock(&cl->lock);
	cl->started = true;
	pthread_cond_signal(&cl->cv);
	pthread_mutex_unlock(&cl->lock);
	cl->rc = ndx_msglog_close(cl->log);
	return NULL;
}

/* close writes what was queued asynchronously before it and calls every
 * done before it returns; an asynchronous append once it began is refused. */
static void test_async_close(void **state)
{
	struct ndx_msglog_options opt = { .batch_max = 64, .batch_interval_ms = 600000 };
	struct ndx_msglog_verify_result res;
	struct completions c, ex;
	struct closer cl;
	struct ndx_msglog *log = NULL;
	struct failing_store *f;
	struct arec *recs, extra;
	pthread_t t;
	char path[600];
	int extras = 0, rc;
	long tries = 0;
	enum { N = 300, QUEUED = 50 };

	(void)state;
	/* Straight after queueing: nothing waited for but close. */
	new_path(path, sizeof path, "aclose.db");
	completions_init(&c);
	recs = calloc(N, sizeof *recs);
	assert_non_null(recs);
	assert_int_equal(ndx_msglog_open(path, key, &opt, &log), NDX_OK);
	for (int i = 0; i < N; i++) {
		arec_fill(&recs[i], i + 1, &c);
		assert_int_equal(ndx_msglog_append_async(log, &recs[i].r, arec_done, &recs[i]),
				 NDX_OK);
	}
	assert_int_equal(ndx_msglog_close(log), NDX_OK);
	assert_int_equal(c.n, N);
	for (int i = 0; i < N; i++) {
		assert_int_equal(recs[i].calls, 1);
		assert_int_equal(recs[i].rc, NDX_OK);
		assert_int_equal(recs[i].seq, (uint64_t)i + 1);
	}
	expect_verify(path, NULL, key, NULL, &res);
	assert_int_equal(res.records, N);
	assert_int_equal(res.batched, N);
	completions_destroy(&c);

	/* With records still queued when close begins: the writer is parked in
	 * a commit while close starts, and appends go on until refused. */
	new_path(path, sizeof path, "aclose2.db");
	completions_init(&c);
	completions_init(&ex);
	f = failing_open(path);
	assert_int_equal(ndx__msglog_open_store(&f->base, NULL, key, &opt, &log), NDX_OK);
	hold_next_commit(f);
	arec_fill(&recs[0], 1, &c);
	assert_int_equal(ndx_msglog_append_async(log, &recs[0].r, arec_done, &recs[0]), NDX_OK);
	wait_held(f);
	for (int i = 1; i <= QUEUED; i++) {
		arec_fill(&recs[i], i + 1, &c);
		assert_int_equal(ndx_msglog_append_async(log, &recs[i].r, arec_done, &recs[i]),
				 NDX_OK);
	}
	cl = (struct closer){ .log = log };
	pthread_mutex_init(&cl.lock, NULL);
	pthread_cond_init(&cl.cv, NULL);
	assert_int_equal(pthread_create(&t, NULL, closer_main, &cl), 0);
	pthread_mutex_lock(&cl.lock);
	while (!cl.started)
		pthread_cond_wait(&cl.cv, &cl.lock);
	pthread_mutex_unlock(&cl.lock);
	/* close cannot finish while the commit is held, so log stays valid;
	 * each accepted record (all sharing one arec: extra_done only counts)
	 * is due, the first refusal shows close has begun. */
	arec_fill(&extra, QUEUED + 2, &c);
	for (;;) {
		rc = ndx_msglog_append_async(log, &extra.r, extra_done, &ex);
		if (rc != NDX_OK)
			break;
		extras++;
		sched_yield();
		assert_true(++tries < 10000000);
	}
	assert_int_equal(rc, NDX_EINVAL);
	assert_int_equal(done_count(&c), 0);
	release_commit(f);
	pthread_join(t, NULL);
	assert_int_equal(cl.rc, NDX_OK);
	/* all done before close returned, the refused one never */
	assert_int_equal(c.n, QUEUED + 1);
	assert_int_equal(ex.n, extras);
	assert_int_equal(ex.bad, 0);
	for (int i = 0; i <= QUEUED; i++) {
		assert_int_equal(recs[i].calls, 1);
		assert_int_equal(recs[i].rc, NDX_OK);
		assert_int_equal(recs[i].seq, (uint64_t)i + 1);
	}
	expect_verify(path, NULL, key, NULL, &res);
	assert_int_equal(res.records, (uint64_t)(QUEUED + 1 + extras));
	assert_int_equal(res.batched, (uint64_t)(QUEUED + 1 + extras));
	pthread_mutex_destroy(&cl.lock);
	pthread_cond_destroy(&cl.cv);
	completions_destroy(&ex);
	completions_destroy(&c);
	free(recs);
}

/* ---- an appender's own record (ndx_msglog_append_inline) ------------------ */

static void by_id_finds(const char *path, const char *id, uint64_t seq);

/* With the writer idle, each record is written on the appender's thread:
 * durable, and its done called there, before the call returns. */
static void test_inline_alone(void **state)
{
	struct ndx_msglog_options opt = { .batch_max = 8, .batch_interval_ms = 600000 };
	struct ndx_msglog_verify_result res;
	struct ndx_msglog_head head;
	struct arec recs[20];
	struct completions c;
	struct ndx_msglog *log = NULL;
	char path[600];

	(void)state;
	new_path(path, sizeof path, "inline.db");
	completions_init(&c);
	c.check_path = path;
	assert_int_equal(ndx_msglog_open(path, key, &opt, &log), NDX_OK);
	for (int i = 0; i < 20; i++) {
		arec_fill(&recs[i], i + 1, &c);
		assert_int_equal(ndx_msglog_append_inline(log, &recs[i].r, arec_done, &recs[i]),
				 NDX_OK);
		assert_int_equal(done_count(&c), i + 1);
		assert_int_equal(recs[i].rc, NDX_OK);
		assert_int_equal(recs[i].seq, (uint64_t)i + 1);
		assert_int_equal(recs[i].in_file, 1);
		assert_true(pthread_equal(recs[i].on, pthread_self()));
	}
	ndx_msglog_head(log, &head);
	assert_int_equal(head.last_seq, 20);
	assert_int_equal(head.commits, 20); /* each its own group */
	assert_int_equal(head.covered, 16); /* two full batches of 8 signed */
	assert_int_equal(ndx_msglog_close(log), NDX_OK);
	expect_verify(path, NULL, key, NULL, &res);
	assert_int_equal(res.records, 20);
	assert_int_equal(res.batched, 20);
	completions_destroy(&c);
}

/* Appends probes[0..] inline on this thread until one is written here
 * rather than queued, which says that the writer has let go of the writing
 * token (it does so only after calling back the group it wrote). The
 * probes take records first_i, first_i + 1, ...; returns how many. */
static int inline_until_own(struct ndx_msglog *log, struct completions *c, struct arec *probes,
			    int first_i, int max)
{
	for (int i = 0; i < max; i++) {
		int before = done_count(c);

		arec_fill(&probes[i], first_i + i, c);
		assert_int_equal(ndx_msglog_append_inline(log, &probes[i].r, arec_done, &probes[i]),
				 NDX_OK);
		wait_done(c, before + 1);
		assert_int_equal(probes[i].rc, NDX_OK);
		if (pthread_equal(probes[i].on, pthread_self()))
			return i + 1;
		usleep(1000);
	}
	fail_msg("the writer kept the writing token through %d appends", max);
	return max;
}

struct inline_caller {
	struct ndx_msglog *log;
	struct arec *a;
	int rc;
};

static void *inline_caller_main(void *arg)
{
	struct inline_caller *ic = arg;

	ic->rc = ndx_msglog_append_inline(ic->log, &ic->a->r, arec_done, ic->a);
	return NULL;
}

/* Whoever writes holds the log's token: an inline append while the writer
 * is in a commit joins the writer's next group, and the writer waits while
 * an appender writes its own. */
static void test_inline_takes_turns(void **state)
{
	struct ndx_msglog_options opt = { .batch_max = 100, .batch_interval_ms = 600000 };
	struct ndx_msglog_verify_result res;
	struct arec first, second, third, fourth, fifth, *probes;
	struct inline_caller ic;
	struct completions c;
	struct ndx_msglog *log = NULL;
	struct failing_store *f;
	pthread_t t;
	char path[600];
	int k;

	(void)state;
	new_path(path, sizeof path, "iturns.db");
	completions_init(&c);
	f = failing_open(path);
	assert_int_equal(ndx__msglog_open_store(&f->base, NULL, key, &opt, &log), NDX_OK);

	/* The writer thread parked in first's commit: second is queued. */
	hold_next_commit(f);
	arec_fill(&first, 1, &c);
	assert_int_equal(ndx_msglog_append_async(log, &first.r, arec_done, &first), NDX_OK);
	wait_held(f);
	arec_fill(&second, 2, &c);
	assert_int_equal(ndx_msglog_append_inline(log, &second.r, arec_done, &second), NDX_OK);
	assert_int_equal(done_count(&c), 0);
	release_commit(f);
	wait_done(&c, 2);
	assert_int_equal(second.rc, NDX_OK);
	assert_int_equal(second.seq, 2);
	assert_true(pthread_equal(second.on, first.on)); /* the writer's */
	assert_false(pthread_equal(second.on, pthread_self()));
	probes = calloc(100, sizeof *probes);
	assert_non_null(probes);
	k = inline_until_own(log, &c, probes, 3, 100);

	/* An appender parked in its own commit: what comes meanwhile waits
	 * for it, queued, and the writer writes it after. */
	hold_next_commit(f);
	arec_fill(&third, 3 + k, &c);
	ic = (struct inline_caller){ .log = log, .a = &third };
	assert_int_equal(pthread_create(&t, NULL, inline_caller_main, &ic), 0);
	wait_held(f);
	arec_fill(&fourth, 4 + k, &c);
	assert_int_equal(ndx_msglog_append_async(log, &fourth.r, arec_done, &fourth), NDX_OK);
	arec_fill(&fifth, 5 + k, &c);
	assert_int_equal(ndx_msglog_append_inline(log, &fifth.r, arec_done, &fifth), NDX_OK);
	usleep(50000); /* the writer, woken by fourth, must not write before third */
	assert_int_equal(done_count(&c), 2 + k);
	release_commit(f);
	pthread_join(t, NULL);
	assert_int_equal(ic.rc, NDX_OK);
	wait_done(&c, 5 + k);
	assert_int_equal(third.seq, (uint64_t)(3 + k));
	assert_true(pthread_equal(third.on, t));
	assert_int_equal(fourth.seq, (uint64_t)(4 + k));
	assert_int_equal(fifth.seq, (uint64_t)(5 + k));
	assert_true(pthread_equal(fourth.on, first.on));
	assert_true(pthread_equal(fifth.on, first.on));
	assert_int_equal(ndx_msglog_close(log), NDX_OK);
	expect_verify(path, NULL, key, NULL, &res);
	assert_int_equal(res.records, (uint64_t)(5 + k));
	assert_int_equal(res.batched, (uint64_t)(5 + k));
	free(probes);
	completions_destroy(&c);
}

/* A commit of one's own that fails: done says so before the call returns,
 * nothing of it is kept and the next record takes its place in the chain. */
static void test_inline_failed_commit(void **state)
{
	struct ndx_msglog_options opt = { .batch_max = 100, .batch_interval_ms = 600000 };
	struct ndx_msglog_verify_result res;
	struct arec bad, good;
	struct completions c;
	struct ndx_msglog *log = NULL;
	struct failing_store *f;
	char path[600];

	(void)state;
	new_path(path, sizeof path, "ifail.db");
	completions_init(&c);
	f = failing_open(path);
	assert_int_equal(ndx__msglog_open_store(&f->base, NULL, key, &opt, &log), NDX_OK);
	pthread_mutex_lock(&f->lock);
	f->fail_from = f->commits + 1;
	f->fail_every = 1;
	pthread_mutex_unlock(&f->lock);
	arec_fill(&bad, 1, &c);
	assert_int_equal(ndx_msglog_append_inline(log, &bad.r, arec_done, &bad), NDX_OK);
	assert_int_equal(done_count(&c), 1);
	assert_int_equal(bad.rc, NDX_EDB);
	assert_int_equal(bad.seq, 0);
	pthread_mutex_lock(&f->lock);
	f->fail_every = 0;
	pthread_mutex_unlock(&f->lock);
	arec_fill(&good, 2, &c);
	assert_int_equal(ndx_msglog_append_inline(log, &good.r, arec_done, &good), NDX_OK);
	assert_int_equal(good.rc, NDX_OK);
	assert_int_equal(good.seq, 1);
	assert_int_equal(sql_count(path, "SELECT count(*) FROM records"), 1);
	assert_int_equal(ndx_msglog_close(log), NDX_OK);
	expect_verify(path, NULL, key, NULL, &res);
	assert_int_equal(res.records, 1);
	completions_destroy(&c);
}

/* The writer thread did not see the batch open, yet closes and signs it
 * when it is due, and indexes the message ids behind records it did not
 * write. */
static void test_inline_writer_keeps_time(void **state)
{
	struct ndx_msglog_options opt = { .batch_max = 4096, .batch_interval_ms = 200 };
	struct ndx_msglog_head head;
	struct arec recs[3], *more;
	struct completions c;
	struct ndx_msglog *log = NULL;
	char path[600];
	int indexed = 0;

	(void)state;
	new_path(path, sizeof path, "itime.sqlite3");
	completions_init(&c);
	assert_int_equal(ndx_msglog_open(path, key, &opt, &log), NDX_OK);
	for (int i = 0; i < 3; i++) {
		arec_fill(&recs[i], i + 1, &c);
		assert_int_equal(ndx_msglog_append_inline(log, &recs[i].r, arec_done, &recs[i]),
				 NDX_OK);
	}
	for (int tries = 0; tries < 500; tries++) {
		ndx_msglog_head(log, &head);
		if (head.covered == 3)
			break;
		usleep(10000);
	}
	assert_int_equal(head.covered, 3);
	assert_int_equal(head.sth.batch, 1);
	assert_int_equal(ndx_msglog_close(log), NDX_OK);

	/* 600 records one by one: a chunk (512) of ids is due meanwhile */
	opt.batch_interval_ms = 600000;
	assert_int_equal(ndx_msglog_open(path, key, &opt, &log), NDX_OK);
	/* (while the writer indexes, a record is queued: done comes later) */
	more = calloc(600, sizeof *more);
	assert_non_null(more);
	for (int i = 0; i < 600; i++) {
		arec_fill(&more[i], i + 4, &c);
		assert_int_equal(ndx_msglog_append_inline(log, &more[i].r, arec_done, &more[i]),
				 NDX_OK);
	}
	wait_done(&c, 603);
	for (int i = 0; i < 600; i++)
		assert_int_equal(more[i].seq, (uint64_t)i + 4);
	for (int tries = 0; tries < 500 && indexed < 512; tries++) {
		indexed = sql_count(path, "SELECT count(*) FROM record_ids");
		if (indexed < 512)
			usleep(10000);
	}
	assert_true(indexed >= 512);
	by_id_finds(path, "msg-300", 300);
	assert_int_equal(ndx_msglog_close(log), NDX_OK);
	expect_verify(path, NULL, key, NULL, NULL);
	free(more);
	completions_destroy(&c);
}

/* The writer that wakes for a batch due while an appender holds the token
 * waits for the token; the appender wakes it again, so the batch still
 * closes although no record follows. */
static void test_inline_wakes_parked_writer(void **state)
{
	struct ndx_msglog_options opt = { .batch_max = 100, .batch_interval_ms = 200 };
	struct ndx_msglog_head head;
	struct arec first, second;
	struct inline_caller ic;
	struct completions c;
	struct ndx_msglog *log = NULL;
	struct failing_store *f;
	pthread_t t;
	char path[600];

	(void)state;
	new_path(path, sizeof path, "iparked.db");
	completions_init(&c);
	f = failing_open(path);
	assert_int_equal(ndx__msglog_open_store(&f->base, NULL, key, &opt, &log), NDX_OK);
	arec_fill(&first, 1, &c);
	hold_next_commit(f);
	ic = (struct inline_caller){ .log = log, .a = &first };
	assert_int_equal(pthread_create(&t, NULL, inline_caller_main, &ic), 0);
	wait_held(f);
	release_commit(f);
	pthread_join(t, NULL); /* first opened the batch ... */
	hold_next_commit(f);
	arec_fill(&second, 2, &c);
	ic = (struct inline_caller){ .log = log, .a = &second };
	assert_int_equal(pthread_create(&t, NULL, inline_caller_main, &ic), 0);
	wait_held(f);
	/* ... and its batch comes due while second holds the token: the
	 * writer, waking for it, finds the token taken */
	usleep(400000);
	release_commit(f);
	pthread_join(t, NULL);
	assert_int_equal(second.seq, 2);
	for (int tries = 0; tries < 500; tries++) {
		ndx_msglog_head(log, &head);
		if (head.covered == 2)
			break;
		usleep(10000);
	}
	assert_int_equal(head.covered, 2);
	assert_int_equal(ndx_msglog_close(log), NDX_OK);
	completions_destroy(&c);
}

/* Another process holding the write lock, as `ndx log archive` does while
 * it deletes what it archived: the appender does not wait for it (its
 * event loop would stand still for up to the busy timeout, 10 s); the
 * record is queued and the writer thread waits instead. */
static void test_inline_other_process_holds_lock(void **state)
{
	struct ndx_msglog_options opt = { .batch_max = 100, .batch_interval_ms = 600000 };
	struct ndx_msglog_verify_result res;
	struct arec first, second, *again = NULL;
	struct completions c;
	struct ndx_msglog *log = NULL;
	sqlite3 *other = NULL;
	char path[600];
	int n;

	(void)state;
	new_path(path, sizeof path, "ilocked.sqlite3"); /* SQLite's file lock */
	completions_init(&c);
	assert_int_equal(ndx_msglog_open(path, key, &opt, &log), NDX_OK);
	arec_fill(&first, 1, &c);
	assert_int_equal(ndx_msglog_append_inline(log, &first.r, arec_done, &first), NDX_OK);
	assert_true(pthread_equal(first.on, pthread_self()));

	assert_int_equal(sqlite3_open(path, &other), SQLITE_OK);
	assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	arec_fill(&second, 2, &c);
	assert_int_equal(ndx_msglog_append_inline(log, &second.r, arec_done, &second), NDX_OK);
	assert_int_equal(done_count(&c), 1); /* queued, neither failed nor written */
	assert_int_equal(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(other);
	wait_done(&c, 2);
	assert_int_equal(second.rc, NDX_OK);
	assert_int_equal(second.seq, 2);
	assert_false(pthread_equal(second.on, pthread_self()));

	/* The lock released, an appender writes its own again once the
	 * writer has let go of the token. */
	again = calloc(100, sizeof *again);
	assert_non_null(again);
	n = 2 + inline_until_own(log, &c, again, 3, 100);
	assert_int_equal(ndx_msglog_close(log), NDX_OK);
	expect_verify(path, NULL, key, NULL, &res);
	assert_int_equal(res.records, (uint64_t)n);
	free(again);
	completions_destroy(&c);
}

/* Threads mixing records of their own and queued ones. */
static void test_inline_concurrent(void **state)
{
	(void)state;
	concurrent_async("iconc.db", true);
}

/* ---- witnessed tree heads -------------------------------------------------- */

/* docs/protocol.md "Witnessed tree heads": the 116 bytes of this
 * countersignature, their SHA-256 and its Ed25519 signature under RFC 8032
 * section 7.1 TEST 1's key, all computed independently with Python's
 * hashlib and cryptography. */
#define W_MSG_SHA256 "f243a127375aa3484329bab6d3272decc7e4505ac4f9fb2c67b6b059d32a0756"
#define W_SIG_HEX \
	"80ef17ced5695c0d436a2a93c2f02f7257231a1d4711b2bc3311ea2d3e10a956" \
	"e6930895ecb91d7b874306939ba908ac6de160ee06aeacce1fd57ef77a31fa04"
#define W_T1_SEED "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
#define W_T1_KEY_ID "21fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58877ef47f9721b9"

static void test_witness_encoding(void **state)
{
	struct ndx_msglog_witness w, back;
	struct ndx_key *t1 = NULL;
	uint8_t seed[32], m[1024], digest[NDX_SHA256_LEN], sig[NDX_ED25519_SIG_LEN];
	char hex[2 * NDX_SHA256_LEN + 1], err[256], *json;
	size_t n;

	(void)state;
	memset(&w, 0, sizeof w);
	snprintf(w.gateway, sizeof w.gateway, "VN/GOV/BCA/gw1");
	w.batch = 3;
	for (int i = 0; i < NDX_SHA256_LEN; i++)
		w.sth_hash[i] = (uint8_t)i;
	w.time_ms = 1795428175419;
	n = ndx_msglog_witness_message(&w, m, sizeof m);
	assert_int_equal(n, 116);
	ndx_sha256(m, n, digest);
	ndx_hex_encode(digest, sizeof digest, hex);
	assert_string_equal(hex, W_MSG_SHA256);

	assert_int_equal(ndx_hex_decode(W_T1_SEED, 64, seed, sizeof seed), NDX_OK);
	assert_int_equal(ndx_key_from_seed(seed, &t1), NDX_OK);
	assert_int_equal(ndx_msglog_witness_sign(t1, &w), NDX_OK);
	assert_string_equal(w.key_id, W_T1_KEY_ID);
	assert_int_equal(ndx_hex_decode(W_SIG_HEX, 128, sig, sizeof sig), NDX_OK);
	assert_memory_equal(w.signature, sig, sizeof sig);
	assert_int_equal(ndx_msglog_witness_verify(t1, &w), NDX_OK);
	assert_int_equal(ndx_msglog_witness_verify(key, &w), NDX_EBADSIG);

	json = ndx_msglog_witness_json(&w);
	assert_non_null(json);
	assert_int_equal(ndx_msglog_witness_parse(json, strlen(json), &back, err, sizeof err),
			 NDX_OK);
	assert_memory_equal(&back, &w, sizeof w);
	free(json);
	/* every signed field counts */
	back.batch = 4;
	assert_int_equal(ndx_msglog_witness_verify(t1, &back), NDX_EBADSIG);
	back = w;
	snprintf(back.gateway, sizeof back.gateway, "VN/GOV/BCA/gw2");
	assert_int_equal(ndx_msglog_witness_verify(t1, &back), NDX_EBADSIG);
	back = w;
	back.time_ms++;
	assert_int_equal(ndx_msglog_witness_verify(t1, &back), NDX_EBADSIG);
	assert_int_equal(ndx_msglog_witness_parse("{\"format\":\"ndx-witness/2\"}", 26, &back, err,
						  sizeof err), NDX_EINVAL);
	ndx_key_free(t1);
}

/* An anchor holding k alone. */
static struct ndx_anchor *anchor_of(const struct ndx_key *k)
{
	json_t *doc = ndx_anchor_build("VN", "http://127.0.0.1:4400", k);
	char *text = json_dumps(doc, JSON_COMPACT);
	struct ndx_anchor *a = NULL;
	char err[256];

	assert_non_null(text);
	assert_int_equal(ndx_anchor_parse(text, strlen(text), &a, err, sizeof err), NDX_OK);
	free(text);
	json_decref(doc);
	return a;
}

/* Countersigns the heads of batches b of the log at path with wk. */
static void witness_batches(const char *path, const struct ndx_key *wk, const uint64_t *b,
			    size_t nb)
{
	struct ndx_msglog_options opt = { .batch_max = 8, .batch_interval_ms = 60000 };
	struct ndx_msglog *log = NULL;
	struct ndx_msglog_sth heads[16];
	struct ndx_msglog_witness w, last;
	size_t n = 0;

	assert_int_equal(ndx_msglog_open(path, key, &opt, &log), NDX_OK);
	assert_int_equal(ndx_msglog_last_witness(log, &last), NDX_ENOTFOUND);
	assert_int_equal(ndx_msglog_heads(log, 1, heads, 16, &n), NDX_OK);
	for (size_t i = 0; i < nb; i++) {
		memset(&w, 0, sizeof w);
		snprintf(w.gateway, sizeof w.gateway, "VN/GOV/BCA/gw1");
		w.batch = b[i];
		assert_true(b[i] >= 1 && b[i] <= n);
		ndx_msglog_sth_hash(&heads[b[i] - 1], w.sth_hash);
		w.time_ms = heads[b[i] - 1].time_ms + 1000;
		assert_int_equal(ndx_msglog_witness_sign(wk, &w), NDX_OK);
		assert_int_equal(ndx_msglog_add_witness(log, &w), NDX_OK);
	}
	/* a countersignature of another head, or of no head, is not stored */
	w.sth_hash[0] ^= 1;
	assert_int_equal(ndx_msglog_add_witness(log, &w), NDX_EBADSIG);
	w.batch = 99;
	assert_int_equal(ndx_msglog_add_witness(log, &w), NDX_ENOTFOUND);
	assert_int_equal(ndx_msglog_last_witness(log, &last), NDX_OK);
	assert_int_equal(last.batch, b[nb - 1]);
	/* appends go on beside a refused countersignature */
	append_one(log, (int)n * 8 + 1);
	assert_int_equal(ndx_msglog_close(log), NDX_OK);
}

static void expect_witnessed(const char *path, const char *archives,
			     const struct ndx_anchor *a, const char *want,
			     struct ndx_msglog_verify_result *res)
{
	int rc = ndx_msglog_verify_witnessed(path, archives, NULL, a, res);

	if (want == NULL) {
		if (rc != NDX_OK)
			fail_msg("verify failed (%d): %s", rc, res->error);
		return;
	}
	assert_int_equal(rc, NDX_EBADSIG);
	if (strstr(res->error, want) == NULL)
		fail_msg("expected \"%s\" in \"%s\"", want, res->error);
}

static void test_witness_verify(void **state)
{
	static const uint64_t b[] = { 2, 5 };
	struct ndx_msglog_verify_result res;
	struct ndx_msglog_archive_result ar;
	struct ndx_anchor *a = anchor_of(other_key), *wrong = anchor_of(key);
	char path[600], forged[600], cut[600], dir[600], cmd[2048], err[512];

	(void)state;
	new_path(path, sizeof path, "w.db");
	make_log(path, 40, 8);
	witness_batches(path, other_key, b, 2);
	expect_witnessed(path, NULL, a, NULL, &res);
	assert_int_equal(res.witnesses, 2);
	assert_int_equal(res.witnessed_batch, 5);
	assert_string_equal(res.witness_gateway, "VN/GOV/BCA/gw1");
	/* without an anchor the hashes are still compared */
	expect_witnessed(path, NULL, NULL, NULL, &res);
	assert_int_equal(res.witnessed_batch, 5);
	expect_witnessed(path, NULL, wrong, "batch 2: countersigned with key", &res);

	/* The gateway's operator rebuilds another history of as many
	 * batches, signs it with the gateway's own key and keeps the
	 * countersignatures: the log verifies alone, not against them. */
	new_path(forged, sizeof forged, "w-forged.db");
	{
		struct ndx_msglog_options opt = { .batch_max = 8, .batch_interval_ms = 60000 };
		struct ndx_msglog *log = NULL;

		assert_int_equal(ndx_msglog_open(forged, key, &opt, &log), NDX_OK);
		for (int i = 101; i <= 140; i++)
			append_one(log, i);
		assert_int_equal(ndx_msglog_close(log), NDX_OK);
	}
	expect_verify(forged, NULL, NULL, NULL, NULL);
	if (ndx__msglog_is_pg(path))
		snprintf(cmd, sizeof cmd, "INSERT INTO witnesses SELECT * FROM %s.witnesses",
			 strstr(path, "search_path%3D") + strlen("search_path%3D"));
	else
		snprintf(cmd, sizeof cmd,
			 "ATTACH '%s' AS w; INSERT INTO witnesses SELECT * FROM w.witnesses", path);
	sql(forged, cmd);
	expect_witnessed(forged, NULL, a, "batch 2: the witnessed tree head", &res);
	assert_non_null(strstr(res.error, "rewritten or forked"));

	/* batches taken away after they were witnessed */
	new_path(cut, sizeof cut, "w-cut.db");
	make_log(cut, 40, 8);
	witness_batches(cut, other_key, b, 2);
	sql(cut, "DELETE FROM records WHERE seq > 32; DELETE FROM batches WHERE batch >= 5");
	expect_verify(cut, NULL, NULL, "batch 5: countersigned by a witness", NULL);
	expect_witnessed(cut, NULL, a, "batch 5: countersigned by a witness, but the log holds "
			 "no such batch", &res);
	/* a countersignature altered in the file */
	sql(path, "UPDATE witnesses SET time_ms = time_ms + 1 WHERE batch = 5");
	expect_witnessed(path, NULL, a, "batch 5: the countersignature does not verify", &res);
	sql(path, "UPDATE witnesses SET time_ms = time_ms - 1 WHERE batch = 5");

	/* archives carry the countersignatures of their batches */
	new_path(dir, sizeof dir, "w-archives");
	assert_int_equal(ndx_msglog_archive(path, dir, INT64_MAX, &ar, err, sizeof err), NDX_OK);
	assert_int_equal(ar.last_batch, 6);
	assert_int_equal(sql_count(ar.file, "SELECT count(*) FROM witnesses"), 2);
	expect_witnessed(path, dir, a, NULL, &res);
	assert_int_equal(res.witnessed_batch, 5);
	assert_int_equal(res.witnesses, 4); /* the archive's two and the live log's copies */
	expect_witnessed(path, NULL, a, NULL, &res);
	ndx_anchor_free(a);
	ndx_anchor_free(wrong);
}

/* A log no gateway has opened since countersignatures exist has no
 * witnesses table: read-only checks treat it as none witnessed. */
static void test_witness_older_log(void **state)
{
	struct ndx_msglog_verify_result res;
	char path[600];

	(void)state;
	new_path(path, sizeof path, "w-old.db");
	make_log(path, 16, 8);
	sql(path, "CREATE TABLE unrelated(a); DROP TABLE witnesses");
	expect_witnessed(path, NULL, NULL, NULL, &res);
	assert_int_equal(res.witnesses, 0);
	assert_int_equal(res.witnessed_batch, 0);
	assert_int_equal(res.batches, 2);
}

/* Stops the walk once it has seen stop_at records (0: never). */
struct paged {
	uint64_t seqs[64];
	int n, stop_at;
	bool fields_ok;
};

static int collect_page(const struct ndx_msglog_entry *e, void *ctx)
{
	struct paged *p = ctx;
	char want[32];

	snprintf(want, sizeof want, "msg-%d", (int)e->seq);
	/* The entry is the record appended as i = seq: its fields round-trip. */
	if (strcmp(e->message_id, want) != 0 || !newer_fields_ok(e))
		p->fields_ok = false;
	if (p->n < 64)
		p->seqs[p->n] = e->seq;
	p->n++;
	return p->stop_at && p->n >= p->stop_at;
}

static void expect_page(struct ndx_msglog *log, uint64_t after, unsigned limit, int stop_at,
			uint64_t first, int n)
{
	struct paged p = { .stop_at = stop_at, .fields_ok = true };

	assert_int_equal(ndx_msglog_after(log, after, limit, collect_page, &p), NDX_OK);
	assert_int_equal(p.n, n);
	assert_true(p.fields_ok);
	for (int i = 0; i < n; i++)
		assert_int_equal(p.seqs[i], first + (uint64_t)i);
}

static void test_after_pages(void **state)
{
	struct ndx_msglog_options opt = { .batch_max = 4, .batch_interval_ms = 60000 };
	struct ndx_msglog *log = NULL;
	char path[600];

	(void)state;
	new_path(path, sizeof path, "after.db");
	assert_int_equal(ndx_msglog_open(path, key, &opt, &log), NDX_OK);
	expect_page(log, 0, 100, 0, 1, 0); /* an empty log */
	for (int i = 1; i <= 10; i++)
		assert_int_equal(append_one(log, i), (uint64_t)i);
	/* 9 and 10 are in the open batch: durable, so listed all the same. */
	expect_page(log, 0, 4, 0, 1, 4);
	expect_page(log, 4, 4, 0, 5, 4);
	expect_page(log, 8, 4, 0, 9, 2);
	expect_page(log, 3, 100, 0, 4, 7);
	expect_page(log, 10, 100, 0, 11, 0);
	expect_page(log, 1000, 100, 0, 1, 0);
	expect_page(log, UINT64_MAX, 100, 0, 1, 0); /* no seq after the last possible one */
	expect_page(log, 0, 0, 0, 1, 0);            /* limit 0: nothing */
	expect_page(log, 2, 100, 3, 3, 3);          /* the callback stops the walk */
	assert_int_equal(ndx_msglog_close(log), NDX_OK);
}

static void test_after_skips_archived(void **state)
{
	struct ndx_msglog_archive_result ar;
	struct ndx_msglog *log = NULL;
	char path[600], dir[600], err[512];

	(void)state;
	new_path(path, sizeof path, "after-arch.db");
	new_path(dir, sizeof dir, "after-archives");
	make_log(path, 12, 4);
	assert_int_equal(ndx_msglog_archive(path, dir, INT64_MAX, &ar, err, sizeof err), NDX_OK);
	assert_int_equal(ar.last_seq, 12);
	assert_int_equal(ndx_msglog_open(path, key, NULL, &log), NDX_OK);
	assert_int_equal(append_one(log, 13), 13);
	assert_int_equal(append_one(log, 14), 14);
	/* A cursor inside the archived range continues with the live records. */
	expect_page(log, 0, 100, 0, 13, 2);
	expect_page(log, 5, 100, 0, 13, 2);
	expect_page(log, 13, 100, 0, 14, 1);
	assert_int_equal(ndx_msglog_close(log), NDX_OK);
}

/* ---- kill -9 of a writer, both engines ------------------------------------ */

/* A writer process killed with SIGKILL at an arbitrary moment, while it
 * appends: every record whose append had returned (and that it reported
 * through the pipe) is in the log afterwards, and the log verifies. */
static void test_kill9_keeps_acknowledged(void **state)
{
	struct ndx_msglog_options opt = { .batch_max = 16, .batch_interval_ms = 600000 };
	struct ndx_msglog_verify_result res;
	struct ndx_msglog *log = NULL;
	uint64_t acked = 0, got;
	char path[600];
	int fds[2], status;
	pid_t pid;

	(void)state;
	new_path(path, sizeof path, "kill9.db");
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		if (ndx_msglog_open(path, key, &opt, &log) != NDX_OK)
			_exit(2);
		for (int i = 1;; i++) {
			struct ndx_msglog_record r;
			uint8_t req[NDX_SHA256_LEN], resp[NDX_SHA256_LEN];
			char id[32];
			uint64_t seq = 0;

			fill_record(&r, i, id, sizeof id, req, resp);
			if (ndx_msglog_append(log, &r, &seq) != NDX_OK)
				_exit(3);
			/* acknowledged: the appender may now answer its client */
			if (write(fds[1], &seq, sizeof seq) != (ssize_t)sizeof seq)
				_exit(4);
		}
	}
	close(fds[1]);
	/* Kill it somewhere after the 60th acknowledgement, mid-stream. */
	while (acked < 60 && read(fds[0], &got, sizeof got) == (ssize_t)sizeof got)
		acked = got;
	assert_int_equal(kill(pid, SIGKILL), 0);
	while (read(fds[0], &got, sizeof got) == (ssize_t)sizeof got)
		acked = got;
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
		fail_msg("the child did not die of SIGKILL (status %d)", status);
	assert_true(acked >= 60);
	expect_verify(path, NULL, NULL, NULL, &res);
	if (res.records < acked)
		fail_msg("%llu records acknowledged, only %llu in the log",
			 (unsigned long long)acked, (unsigned long long)res.records);
	/* and the log goes on from there */
	assert_int_equal(ndx_msglog_open(path, key, &opt, &log), NDX_OK);
	assert_int_equal(append_one(log, (int)res.records + 1), res.records + 1);
	assert_int_equal(ndx_msglog_close(log), NDX_OK);
	expect_verify(path, NULL, NULL, NULL, NULL);
}

/* ---- PostgreSQL only ---------------------------------------------------- */

static void pg_ctl(const char *var)
{
	const char *cmd = getenv(var);

	if (cmd == NULL || cmd[0] == '\0')
		fail_msg("%s is not set: run the PostgreSQL tests under tests/with-postgres", var);
	assert_int_equal(system(cmd), 0);
}

/* The server stops under a running log: appends fail with NDX_EDB (the
 * server's message on stderr), verify says it cannot read the log, nothing
 * crashes; once the server is back, the writer reconnects and the log goes
 * on, every acknowledged record there. */
static void test_pg_server_stopped(void **state)
{
	struct ndx_msglog_options opt = { .batch_max = 4, .batch_interval_ms = 600000 };
	struct ndx_msglog_verify_result res;
	struct ndx_msglog_record r;
	struct ndx_msglog *log = NULL;
	uint8_t req[NDX_SHA256_LEN], resp[NDX_SHA256_LEN];
	char path[600], id[32];
	struct collected c = { .field_ok = true };

	(void)state;
	new_path(path, sizeof path, "stopped.db");
	assert_int_equal(ndx_msglog_open(path, key, &opt, &log), NDX_OK);
	for (int i = 1; i <= 5; i++)
		assert_int_equal(append_one(log, i), (uint64_t)i);
	pg_ctl("NDX_TEST_PG_STOP");
	fill_record(&r, 6, id, sizeof id, req, resp);
	assert_int_equal(ndx_msglog_append(log, &r, NULL), NDX_EDB);
	assert_int_equal(ndx_msglog_append(log, &r, NULL), NDX_EDB);
	assert_int_equal(ndx_msglog_by_subject(log, SUBJECT, collect, &c), NDX_EDB);
	assert_int_equal(ndx_msglog_verify(path, NULL, NULL, &res), NDX_EDB);
	assert_non_null(strstr(res.error, "cannot open postgresql://postgres@127.0.0.1"));
	pg_ctl("NDX_TEST_PG_START");
	assert_int_equal(append_one(log, 6), 6);
	assert_int_equal(ndx_msglog_by_subject(log, SUBJECT, collect, &c), NDX_OK);
	assert_int_equal(c.n, 2); /* records 3 and 6 */
	/* A restart while the log is idle costs no append at all. */
	pg_ctl("NDX_TEST_PG_STOP");
	pg_ctl("NDX_TEST_PG_START");
	assert_int_equal(append_one(log, 7), 7);
	c.n = 0;
	assert_int_equal(ndx_msglog_by_subject(log, SUBJECT, collect, &c), NDX_OK);
	assert_int_equal(c.n, 2);
	assert_int_equal(ndx_msglog_close(log), NDX_OK);
	expect_verify(path, NULL, NULL, NULL, &res);
	assert_int_equal(res.records, 7);
	assert_int_equal(res.batched, 7);
}

/* What cannot be: an archive in PostgreSQL, a server that is not there
 * (its password never in a message), a database without a log. */
static void test_pg_refusals(void **state)
{
	struct ndx_msglog_verify_result res;
	struct ndx__msglog_store *st = NULL;
	struct ndx_msglog *log = NULL;
	char path[600], name[300];

	(void)state;
	new_path(path, sizeof path, "refused.db");
	assert_int_equal(ndx__msglog_store_open(path, NDX__MSGLOG_ARCHIVE, &st), NDX_EINVAL);
	assert_null(st);
	/* nothing listens on port 1 */
	assert_int_equal(ndx_msglog_open("postgresql://ndx:s3cret-pw@127.0.0.1:1/ndx", key, NULL,
					 &log), NDX_EDB);
	assert_null(log);
	assert_int_equal(ndx_msglog_verify("postgres://ndx:s3cret-pw@127.0.0.1:1/ndx?password=x2",
					   NULL, NULL, &res), NDX_EDB);
	assert_non_null(strstr(res.error, "postgresql://ndx@127.0.0.1:1/ndx"));
	assert_null(strstr(res.error, "s3cret"));
	assert_null(strstr(res.error, "x2"));
	ndx__msglog_pg_name("postgresql://u:pw@h:5/d?password=pw2&sslmode=require", name,
			    sizeof name);
	assert_string_equal(name, "postgresql://u@h:5/d");
	/* an empty schema is not a log to verify, nor a public key enough */
	assert_int_equal(ndx_msglog_verify(path, NULL, NULL, &res), NDX_EINVAL);
	assert_non_null(strstr(res.error, "not an ndx message log"));
	sql(path, "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
	assert_int_equal(ndx_msglog_verify(path, NULL, NULL, &res), NDX_EINVAL);
	assert_non_null(strstr(res.error, "not an ndx message log"));
	/* a log of another format opens for nothing */
	sql(path, "INSERT INTO meta VALUES ('format', 'ndx-msglog/2')");
	assert_int_equal(ndx_msglog_open(path, key, NULL, &log), NDX_EINVAL);
	assert_int_equal(ndx_msglog_verify(path, NULL, NULL, &res), NDX_EINVAL);
	assert_non_null(strstr(res.error, "ndx-msglog/2"));
	assert_int_equal(sql_count(path, "SELECT count(*) FROM meta"), 1);
}

/* A PostgreSQL store's commits wait on the server: an appender's event
 * loop never does, so an inline append is always the writer's to write. */
static void test_pg_inline_queued(void **state)
{
	struct ndx_msglog_options opt = { .batch_max = 4, .batch_interval_ms = 600000 };
	struct ndx_msglog_verify_result res;
	struct arec recs[10];
	struct completions c;
	struct ndx_msglog *log = NULL;
	char path[600];

	(void)state;
	new_path(path, sizeof path, "pginline.db");
	completions_init(&c);
	assert_int_equal(ndx_msglog_open(path, key, &opt, &log), NDX_OK);
	for (int i = 0; i < 10; i++) {
		arec_fill(&recs[i], i + 1, &c);
		assert_int_equal(ndx_msglog_append_inline(log, &recs[i].r, arec_done, &recs[i]),
				 NDX_OK);
		wait_done(&c, i + 1);
		assert_int_equal(recs[i].rc, NDX_OK);
		assert_int_equal(recs[i].seq, (uint64_t)i + 1);
		assert_false(pthread_equal(recs[i].on, pthread_self()));
	}
	assert_int_equal(ndx_msglog_close(log), NDX_OK);
	expect_verify(path, NULL, key, NULL, &res);
	assert_int_equal(res.records, 10);
	assert_int_equal(res.batched, 10);
	completions_destroy(&c);
}

static void test_pg_unset(void **state)
{
	(void)state;
	print_message("NDX_TEST_PG is not set: the PostgreSQL run of the message log's tests "
		      "is skipped (run it with make test-pg, which starts a server)\n");
	skip();
}

/* The index of message ids is written behind the records (msglog.c
 * index_ids, msglog_sqlite.c store_index_ids): a chunk once 512 records
 * wait, the rest when the writer is idle or closes. A lookup by message id
 * finds every record, whether the index holds it yet or not. */
static int64_t ids_to(const char *path)
{
	return sql_count(path, "SELECT ifnull(max(CAST(value AS INTEGER)), 0) FROM meta"
			       " WHERE key = 'ids_indexed_to'");
}

static void by_id_finds(const char *path, const char *id, uint64_t seq)
{
	struct ndx__msglog_store *st = NULL;
	int rows;

	assert_int_equal(ndx__msglog_store_open(path, NDX__MSGLOG_READONLY, &st), NDX_OK);
	assert_int_equal(first_seq(st, NDX__Q_RECORDS_BY_ID, 0, id, &rows), seq);
	assert_int_equal(rows, seq ? 1 : 0);
	st->ops->close(st);
}

static void test_ids_indexed_behind(void **state)
{
	struct ndx_msglog_options opt = { .batch_max = 4096, .batch_interval_ms = 60000 };
	struct ndx_msglog *log = NULL;
	char path[600];
	int indexed;

	(void)state;
	new_path(path, sizeof path, "ids.sqlite3"); /* SQLite's alone */
	assert_int_equal(ndx_msglog_open(path, key, &opt, &log), NDX_OK);
	for (int i = 1; i <= 2100; i++)
		assert_int_equal(append_one(log, i), (uint64_t)i);
	/* chunks indexed while the log is busy, the records after them not yet */
	indexed = sql_count(path, "SELECT count(*) FROM record_ids");
	assert_true(indexed >= 2048 && indexed < 2100);
	assert_int_equal(ids_to(path), indexed);
	by_id_finds(path, "msg-5", 5);
	by_id_finds(path, "msg-2100", 2100); /* past the index */
	by_id_finds(path, "msg-none", 0);
	assert_int_equal(ndx_msglog_close(log), NDX_OK);
	/* closing indexed the rest */
	assert_int_equal(sql_count(path, "SELECT count(*) FROM record_ids"), 2100);
	assert_int_equal(ids_to(path), 2100);
	assert_int_equal(sql_count(path, "SELECT count(*) FROM sqlite_master"
					 " WHERE name = 'records_message_id'"), 0);

	/* an index that lost its last transaction (power cut) still finds all */
	sql(path, "DELETE FROM record_ids WHERE seq > 1000");
	sql(path, "UPDATE meta SET value = '1000' WHERE key = 'ids_indexed_to'");
	by_id_finds(path, "msg-1999", 1999);
	by_id_finds(path, "msg-999", 999);
	/* a log written before record_ids existed: read by its own index ... */
	sql(path, "DROP TABLE record_ids; DELETE FROM meta WHERE key = 'ids_indexed_to'");
	sql(path, "CREATE INDEX records_message_id ON records(message_id)");
	by_id_finds(path, "msg-1500", 1500);
	/* ... which a writer replaces: indexed behind from the first record */
	opt.batch_interval_ms = 60000;
	assert_int_equal(ndx_msglog_open(path, key, &opt, &log), NDX_OK);
	assert_int_equal(append_one(log, 2101), 2101);
	by_id_finds(path, "msg-1500", 1500);
	assert_int_equal(ndx_msglog_close(log), NDX_OK);
	assert_int_equal(sql_count(path, "SELECT count(*) FROM sqlite_master"
					 " WHERE name = 'records_message_id'"), 0);
	assert_int_equal(sql_count(path, "SELECT count(*) FROM record_ids"), 2101);
	assert_int_equal(ids_to(path), 2101);
	by_id_finds(path, "msg-2101", 2101);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_put_records_many_at_once),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_concurrent_appends),
		cmocka_unit_test(test_two_writers_one_store),
		cmocka_unit_test(test_replay_claims),
		cmocka_unit_test(test_agreement_calls),
		cmocka_unit_test(test_reopen_continues_chain),
		cmocka_unit_test(test_batch_interval),
		cmocka_unit_test(test_crash_leaves_open_batch),
		cmocka_unit_test(test_tamper_field),
		cmocka_unit_test(test_tamper_v2_fields),
		cmocka_unit_test(test_tamper_v3_fields),
		cmocka_unit_test(test_record_hash_covers_represented_party),
		cmocka_unit_test(test_by_subject_declared),
		cmocka_unit_test(test_v1_log_refused),
		cmocka_unit_test(test_v2_log_refused),
		cmocka_unit_test(test_tamper_delete_and_swap),
		cmocka_unit_test(test_store_statements_kept),
		cmocka_unit_test(test_page_size),
		cmocka_unit_test(test_writer_thread_named),
		cmocka_unit_test(test_ids_indexed_behind),
		cmocka_unit_test(test_tamper_rehashed_record),
		cmocka_unit_test(test_tamper_tree_heads),
		cmocka_unit_test(test_tamper_dellast_batch_is_reopened),
		cmocka_unit_test(test_prove_and_check),
		cmocka_unit_test(test_prove_refusals),
		cmocka_unit_test(test_walk_period),
		cmocka_unit_test(test_archive),
		cmocka_unit_test(test_failed_commit_single),
		cmocka_unit_test(test_failed_commit_concurrent),
		cmocka_unit_test(test_failed_final_close),
		cmocka_unit_test(test_async_concurrent),
		cmocka_unit_test(test_async_mixed),
		cmocka_unit_test(test_async_durable),
		cmocka_unit_test(test_async_bad_input),
		cmocka_unit_test(test_async_failed_group),
		cmocka_unit_test(test_async_close),
		cmocka_unit_test(test_inline_alone),
		cmocka_unit_test(test_inline_takes_turns),
		cmocka_unit_test(test_inline_failed_commit),
		cmocka_unit_test(test_inline_writer_keeps_time),
		cmocka_unit_test(test_inline_wakes_parked_writer),
		cmocka_unit_test(test_inline_other_process_holds_lock),
		cmocka_unit_test(test_inline_concurrent),
		cmocka_unit_test(test_witness_encoding),
		cmocka_unit_test(test_witness_verify),
		cmocka_unit_test(test_witness_older_log),
		cmocka_unit_test(test_after_pages),
		cmocka_unit_test(test_after_skips_archived),
		cmocka_unit_test(test_kill9_keeps_acknowledged),
	};
	/* Those about SQLite files alone stay out of the PostgreSQL run. */
	static const void *const sqlite_only[] = {
		test_bad_input, test_v1_log_refused, test_v2_log_refused, test_witness_older_log,
		test_store_statements_kept, /* msglog_sqlite.c's kept statements */
		test_page_size,
		/* an appender writes its own record only to SQLite (its test on
		 * PostgreSQL: test_pg_inline_queued) */
		test_inline_alone, test_inline_takes_turns, test_inline_failed_commit,
		test_inline_wakes_parked_writer,
	};
	const struct CMUnitTest pg_own[] = {
		cmocka_unit_test(test_pg_inline_queued),
		cmocka_unit_test(test_pg_refusals),
		cmocka_unit_test(test_pg_server_stopped),
	};
	const struct CMUnitTest unset[] = { cmocka_unit_test(test_pg_unset) };
	struct CMUnitTest pg_tests[sizeof tests / sizeof tests[0] + sizeof pg_own / sizeof pg_own[0]];
	const char *engine = getenv("NDX_TEST_ENGINE");
	size_t n = 0;

	if (engine == NULL || strcmp(engine, "pg") != 0)
		return cmocka_run_group_tests(tests, setup, teardown);
	pg_base = getenv("NDX_TEST_PG");
	if (pg_base == NULL || pg_base[0] == '\0') {
		cmocka_run_group_tests_name("msglog_pg", unset, NULL, NULL);
		return 77; /* meson: skipped */
	}
	for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
		bool keep = true;

		for (size_t j = 0; j < sizeof sqlite_only / sizeof sqlite_only[0]; j++)
			keep = keep && (const void *)tests[i].test_func != sqlite_only[j];
		if (keep)
			pg_tests[n++] = tests[i];
	}
	/* The server stops last: nothing else runs while it is down. */
	for (size_t i = 0; i < sizeof pg_own / sizeof pg_own[0]; i++)
		pg_tests[n++] = pg_own[i];
	return _cmocka_run_group_tests("msglog_pg", pg_tests, n, setup, teardown);
}
