/* Message log throughput: records appended per second by T threads at once
 * (group commit: one fsync covers every record queued meanwhile) and
 * records verified per second by ndx_msglog_verify, on a fresh log.
 *
 *   msglog_bench DIR|CONNINFO THREADS RECORDS_PER_THREAD [BATCH_MAX [WRITERS]]
 *
 * WRITERS (default 1) logs are opened on the same store, as the nodes of a
 * gateway cluster share one PostgreSQL log (docs/scale.md "Gateway
 * clusters"), each with its writer thread and connections; the threads
 * append through them in turn (thread i through log i % WRITERS), so the
 * figure includes the writers' taking turns at the log's lock and reloading
 * the head the other moved. BATCH_MAX 0 keeps the default.
 *
 * DIR must exist; the log is DIR/bench-T.db (removed first). Given a
 * postgresql:// connection string instead, the log is the PostgreSQL store
 * (src/lib/msglog_pg.c) in the schema bench_T of that database (dropped
 * and created first). The records are gateway-sized: ids, hashes and two
 * signature objects of ~300 bytes. Also reports the log's size on disk per
 * record: the SQLite file, or pg_total_relation_size of the log's tables
 * (indexes and TOAST included). */
#include <errno.h>
#include <stdbool.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "ndx/err.h"
#include "ndx/hash.h"
#include "ndx/key.h"
#include "ndx/msglog.h"

struct worker {
	struct ndx_msglog *log;
	unsigned long base, n;
	int rc;
};

static char sig_text[320];

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *run(void *arg)
{
	struct worker *w = arg;

	for (unsigned long i = 0; i < w->n; i++) {
		struct ndx_msglog_record r;
		uint8_t req[NDX_SHA256_LEN], resp[NDX_SHA256_LEN];
		char id[40];

		snprintf(id, sizeof id, "bench-%lu", w->base + i);
		ndx_sha256(id, strlen(id), req);
		ndx_sha256(req, sizeof req, resp);
		memset(&r, 0, sizeof r);
		r.direction = NDX_MSGLOG_PROVIDER;
		r.message_id = id;
		r.client = "VN/GOV/MOF/enterprise";
		r.service = "VN/GOV/BCA/population/citizens";
		r.subject = "001099000123";
		r.purpose = "public-service";
		r.request_hash = req;
		r.response_hash = resp;
		r.status = 200;
		r.duration_ms = 3;
		r.request_sig = sig_text;
		r.response_sig = sig_text;
		w->rc = ndx_msglog_append(w->log, &r, NULL);
		if (w->rc != NDX_OK)
			break;
	}
	return NULL;
}

/* Runs SQL on a connection string; the first column of the first row of
 * its result (malloc'd), "" for none, NULL on failure (printed). */
static char *pg_one(const char *conninfo, const char *sql)
{
	PGconn *c = PQconnectdb(conninfo);
	PGresult *r = NULL;
	char *out = NULL;

	if (PQstatus(c) == CONNECTION_OK) {
		PQclear(PQexec(c, "SET client_min_messages = warning"));
		r = PQexec(c, sql);
	}
	if (r != NULL && (PQresultStatus(r) == PGRES_TUPLES_OK ||
			  PQresultStatus(r) == PGRES_COMMAND_OK))
		out = strdup(PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "");
	else
		fprintf(stderr, "msglog_bench: %s: %s", sql,
			r != NULL ? PQresultErrorMessage(r) : PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
	return out;
}

static bool is_pg(const char *s)
{
	return strncmp(s, "postgresql://", 13) == 0 || strncmp(s, "postgres://", 11) == 0;
}

static int parse_ul(const char *s, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(s, &end, 10);
	return errno == 0 && end != s && *end == '\0' && s[0] != '-' && *out > 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct ndx_msglog_options opt = { 0 };
	struct ndx_msglog_verify_result vr;
	struct ndx_msglog_head head;
	struct ndx_msglog *logs[16] = { NULL };
	uint64_t commits = 0;
	struct ndx_key *key = NULL;
	struct worker *w;
	pthread_t *t;
	unsigned long threads, per, bmax = 0, writers = 1;
	char path[4096], *v;
	double t0, dt, bytes = 0;
	int rc, bad = 0;

	if (argc < 4 || argc > 6 || parse_ul(argv[2], &threads) != 0 || threads > 1024 ||
	    parse_ul(argv[3], &per) != 0 ||
	    (argc >= 5 && strcmp(argv[4], "0") != 0 && parse_ul(argv[4], &bmax) != 0) ||
	    (argc == 6 && (parse_ul(argv[5], &writers) != 0 || writers > 16))) {
		fputs("usage: msglog_bench DIR THREADS RECORDS_PER_THREAD [BATCH_MAX [WRITERS]]\n",
		      stderr);
		return 2;
	}
	opt.batch_max = (unsigned)bmax;
	memset(sig_text, 'x', sizeof sig_text - 1);
	if (is_pg(argv[1])) {
		char sql[200];

		snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS bench_%lu CASCADE;"
			 " CREATE SCHEMA bench_%lu", threads, threads);
		v = pg_one(argv[1], sql);
		if (v == NULL)
			return 1;
		free(v);
		snprintf(path, sizeof path, "%s%coptions=-csearch_path%%3Dbench_%lu", argv[1],
			 strchr(argv[1], '?') != NULL ? '&' : '?', threads);
	} else {
		snprintf(path, sizeof path, "%s/bench-%lu.db", argv[1], threads);
		unlink(path);
	}
	if (!is_pg(argv[1])) {
		char side[4200];

		snprintf(side, sizeof side, "%s-wal", path);
		unlink(side);
		snprintf(side, sizeof side, "%s-shm", path);
		unlink(side);
	}
	if (ndx_key_generate(&key) != NDX_OK)
		return 1;
	for (unsigned long i = 0; i < writers; i++) {
		if (ndx_msglog_open(path, key, &opt, &logs[i]) != NDX_OK) {
			fprintf(stderr, "msglog_bench: cannot open %s\n",
				is_pg(path) ? "the log" : path);
			return 1;
		}
	}
	w = calloc(threads, sizeof *w);
	t = calloc(threads, sizeof *t);
	if (w == NULL || t == NULL)
		return 1;
	t0 = now();
	for (unsigned long i = 0; i < threads; i++) {
		w[i] = (struct worker){ .log = logs[i % writers], .base = i * per, .n = per };
		pthread_create(&t[i], NULL, run, &w[i]);
	}
	for (unsigned long i = 0; i < threads; i++) {
		pthread_join(t[i], NULL);
		bad |= w[i].rc != NDX_OK;
	}
	dt = now() - t0;
	rc = NDX_OK;
	for (unsigned long i = 0; i < writers; i++) {
		ndx_msglog_head(logs[i], &head);
		commits += head.commits;
		if (ndx_msglog_close(logs[i]) != NDX_OK)
			rc = NDX_EDB;
	}
	head.last_seq = (uint64_t)threads * per;
	if (bad || rc != NDX_OK) {
		fprintf(stderr, "msglog_bench: an append or close failed\n");
		return 1;
	}
	printf("append: %lu threads x %lu records = %" PRIu64 " in %.3f s through %lu writer%s: "
	       "%.0f records/s, %" PRIu64 " commits (%.1f records per fsync)\n", threads, per,
	       head.last_seq, dt, writers, writers > 1 ? "s" : "", (double)head.last_seq / dt,
	       commits, commits ? (double)head.last_seq / (double)commits : 0.0);
	rc = ndx_msglog_verify(path, NULL, key, &vr);
	if (rc != NDX_OK) {
		fprintf(stderr, "msglog_bench: verify: %s\n", vr.error);
		return 1;
	}
	printf("verify: %" PRIu64 " records, %" PRIu64 " batches in %.3f s: %.0f records/s\n",
	       vr.records, vr.batches, vr.seconds, (double)vr.records / vr.seconds);
	if (is_pg(path)) {
		v = pg_one(path, "SELECT pg_total_relation_size('meta') +"
			   " pg_total_relation_size('records') + pg_total_relation_size('record_subjects')"
			   " + pg_total_relation_size('batches') + pg_total_relation_size('witnesses')");
		if (v == NULL)
			return 1;
		bytes = atof(v);
		free(v);
	} else {
		struct stat sb;

		if (stat(path, &sb) == 0)
			bytes = (double)sb.st_size;
	}
	printf("size: %.0f bytes for %" PRIu64 " records: %.0f bytes/record\n", bytes, vr.records,
	       vr.records ? bytes / (double)vr.records : 0.0);
	free(w);
	free(t);
	ndx_key_free(key);
	return 0;
}
