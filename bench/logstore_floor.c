/* What the message log's SQLite store costs a record in CPU, against the
 * cheapest store that keeps the same promise: a bare append-only file that
 * takes each group commit's records with one write and one fdatasync.
 *
 *   logstore_floor DIR GROUP RECORDS [ROUNDS]
 *
 * The SQLite side is the gateway's own store (src/lib/msglog_sqlite.c, WAL,
 * synchronous = FULL): GROUP records a transaction, a tree head every 256
 * records (the default batch), the index of message ids brought up to date
 * every 512 (as the writer does), its checkpoints where SQLite makes them.
 * The append side writes the same fields, each as an 8-byte length and its
 * bytes, GROUP records a write. Both run on this one thread, alternated
 * ROUNDS times (default 3), and each round's CPU (user and system, the
 * kernel's share of the writes and fdatasyncs included) is divided by
 * RECORDS. What is the same in any design is left out of both: the record
 * hash chain, the Merkle tree, the signature of the tree head, the queue.
 * The append side has no index at all, so the difference is an upper bound
 * of what a store of our own could save (bench/README.md "A message log
 * without SQLite: what it could save"). DIR's floor.db* and floor.log are
 * replaced. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "msglog_store.h"
#include "ndx/args.h"
#include "ndx/err.h"
#include "ndx/hash.h"

#define BATCH 256
#define IDS_EVERY 512

static char sig_text[361];

static double thread_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A gateway-sized record: a UUID message id, member and service names, a
 * path, two hashes and two signature objects of ~360 bytes. */
static void fill_entry(struct ndx_msglog_entry *e, uint64_t seq, char id[40])
{
	snprintf(id, 40, "01a2469d-4c6f-762f-a43e-%012" PRIx64, seq);
	memset(e, 0, sizeof *e);
	e->seq = seq;
	e->time_ms = 1796481043578 + (int64_t)seq;
	e->direction = NDX_MSGLOG_PROVIDER;
	e->message_id = id;
	e->client = "VN/GOV/BTC/tax";
	e->service = "VN/GOV/BCA/population/citizens";
	e->method = "GET";
	e->path = "/citizens/079123456789";
	e->subject = e->subjects = e->purpose = e->user_id = e->issue = "";
	e->authenticated = e->represented_party = "";
	e->has_request_hash = e->has_response_hash = true;
	ndx_sha256(id, strlen(id), e->request_hash);
	ndx_sha256(e->request_hash, NDX_SHA256_LEN, e->response_hash);
	e->status = 200;
	e->duration_ms = 1;
	e->request_sig = e->response_sig = sig_text;
	memcpy(e->prev_hash, e->response_hash, NDX_SHA256_LEN);
	ndx_sha256(e->prev_hash, NDX_SHA256_LEN, e->hash);
}

static int run_sqlite(const char *dir, unsigned long long group, unsigned long long n, double *cpu,
		      double *secs)
{
	struct ndx__msglog_store *st = NULL;
	/* a group's records, handed to the store at once as the writer does */
	struct ndx_msglog_entry *ents = calloc(group, sizeof *ents);
	char (*ids)[40] = calloc(group, sizeof *ids);
	char path[4096], side[4200];
	uint64_t seq = 0, batch = 0, first = 1;
	double c0, w0;
	int rc;

	if (ents == NULL || ids == NULL) {
		free(ents);
		free(ids);
		return NDX_ENOMEM;
	}
	snprintf(path, sizeof path, "%s/floor.db", dir);
	unlink(path);
	snprintf(side, sizeof side, "%s-wal", path);
	unlink(side);
	snprintf(side, sizeof side, "%s-shm", path);
	unlink(side);
	rc = ndx__msglog_sqlite_open(path, 0, &st);
	if (rc != NDX_OK) {
		free(ents);
		free(ids);
		return rc;
	}
	c0 = thread_cpu();
	w0 = wall();
	while (seq < n && rc == NDX_OK) {
		size_t k = 0;

		rc = st->ops->begin(st, true);
		for (unsigned long long i = 0; i < group && seq < n && rc == NDX_OK; i++) {
			fill_entry(&ents[k], ++seq, ids[k]);
			k++;
			if (seq - first + 1 == BATCH) {
				struct ndx_msglog_sth sth = { .batch = ++batch, .first_seq = first,
							      .size = BATCH,
							      .time_ms = ents[k - 1].time_ms };

				memcpy(sth.root, ents[k - 1].hash, NDX_SHA256_LEN);
				memset(sth.key_id, 'a', NDX_KEY_ID_HEX_LEN);
				rc = st->ops->put_records(st, ents, k);
				k = 0;
				if (rc == NDX_OK)
					rc = st->ops->put_batch(st, &sth);
				first = seq + 1;
			}
		}
		if (rc == NDX_OK && k > 0)
			rc = st->ops->put_records(st, ents, k);
		rc = rc == NDX_OK ? st->ops->commit(st) : rc;
		if (rc == NDX_OK && seq % IDS_EVERY < group) {
			bool more = true;

			while (rc == NDX_OK && more)
				rc = st->ops->index_ids(st, IDS_EVERY, &more);
		}
	}
	*cpu = thread_cpu() - c0;
	*secs = wall() - w0;
	if (rc != NDX_OK)
		st->ops->rollback(st);
	st->ops->close(st);
	free(ents);
	free(ids);
	return rc;
}

static size_t put_field(uint8_t *out, const void *data, size_t len)
{
	uint64_t l = len;

	for (int i = 7; i >= 0; i--) {
		out[i] = (uint8_t)(l & 0xff);
		l >>= 8;
	}
	memcpy(out + 8, data, len);
	return 8 + len;
}

static size_t put_str(uint8_t *out, const char *s)
{
	return put_field(out, s, strlen(s));
}

/* The record's fields as the canonical encoding of docs/protocol.md writes
 * them: each an 8-byte big-endian length, then its bytes. */
static size_t encode_entry(uint8_t *out, const struct ndx_msglog_entry *e)
{
	size_t n = 0;
	uint8_t num[8 * 4];

	memcpy(num, &e->seq, 8);
	memcpy(num + 8, &e->time_ms, 8);
	memcpy(num + 16, &e->duration_ms, 8);
	memcpy(num + 24, &e->status, sizeof e->status);
	n += put_field(out + n, num, sizeof num);
	n += put_str(out + n, e->message_id);
	n += put_str(out + n, e->client);
	n += put_str(out + n, e->service);
	n += put_str(out + n, e->method);
	n += put_str(out + n, e->path);
	n += put_str(out + n, e->subject);
	n += put_str(out + n, e->subjects);
	n += put_str(out + n, e->purpose);
	n += put_str(out + n, e->user_id);
	n += put_str(out + n, e->issue);
	n += put_str(out + n, e->represented_party);
	n += put_str(out + n, e->authenticated);
	n += put_field(out + n, e->request_hash, NDX_SHA256_LEN);
	n += put_field(out + n, e->response_hash, NDX_SHA256_LEN);
	n += put_str(out + n, e->request_sig);
	n += put_str(out + n, e->response_sig);
	n += put_field(out + n, e->prev_hash, NDX_SHA256_LEN);
	n += put_field(out + n, e->hash, NDX_SHA256_LEN);
	return n;
}

static int run_append(const char *dir, unsigned long long group, unsigned long long n, double *cpu,
		      double *secs)
{
	char path[4096], id[40];
	uint8_t *buf = malloc(group * 2048);
	uint64_t seq = 0;
	double c0, w0;
	int fd, rc = NDX_OK;

	snprintf(path, sizeof path, "%s/floor.log", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0 || buf == NULL) {
		free(buf);
		if (fd >= 0)
			close(fd);
		return NDX_EIO;
	}
	c0 = thread_cpu();
	w0 = wall();
	while (seq < n && rc == NDX_OK) {
		size_t len = 0;

		for (unsigned long long i = 0; i < group && seq < n; i++) {
			struct ndx_msglog_entry e;

			fill_entry(&e, ++seq, id);
			len += encode_entry(buf + len, &e);
		}
		if (write(fd, buf, len) != (ssize_t)len || fdatasync(fd) != 0)
			rc = NDX_EIO;
	}
	*cpu = thread_cpu() - c0;
	*secs = wall() - w0;
	close(fd);
	free(buf);
	return rc;
}

/* Kept so that the compiler builds the records fill_cpu times. */
static volatile uint8_t fill_sink;

/* The cost of building the records alone (ids and hashes), taken off both. */
static double fill_cpu(unsigned long long n)
{
	struct ndx_msglog_entry e;
	char id[40];
	double c0 = thread_cpu();

	for (unsigned long long i = 1; i <= n; i++) {
		fill_entry(&e, i, id);
		fill_sink ^= e.hash[0];
	}
	return thread_cpu() - c0;
}

int main(int argc, char **argv)
{
	unsigned long long group, n, rounds = 3;
	double fill, sum_sql = 0, sum_app = 0;

	if (argc < 4 || argc > 5 || ndx_args_uint(argv[2], 1, 4096, &group) != NDX_OK ||
	    ndx_args_uint(argv[3], 1, 1000000000, &n) != NDX_OK ||
	    (argc == 5 && ndx_args_uint(argv[4], 1, 1000000000, &rounds) != NDX_OK)) {
		fputs("usage: logstore_floor DIR GROUP RECORDS [ROUNDS]\n", stderr);
		return 2;
	}
	memset(sig_text, 'x', sizeof sig_text - 1);
	fill = fill_cpu(n);
	printf("building %llu records alone: %.2f µs CPU a record (taken off below)\n", n,
	       fill * 1e6 / (double)n);
	for (unsigned long long r = 1; r <= rounds; r++) {
		double cpu, secs;
		int rc = run_sqlite(argv[1], group, n, &cpu, &secs);

		if (rc != NDX_OK) {
			fprintf(stderr, "logstore_floor: the SQLite store failed (%d)\n", rc);
			return 1;
		}
		sum_sql += cpu - fill;
		printf("round %llu  sqlite store:  %.2f µs CPU a record, %.3f ms a commit\n", r,
		       (cpu - fill) * 1e6 / (double)n, secs * 1e3 * (double)group / (double)n);
		rc = run_append(argv[1], group, n, &cpu, &secs);
		if (rc != NDX_OK) {
			fprintf(stderr, "logstore_floor: the append-only file failed\n");
			return 1;
		}
		sum_app += cpu - fill;
		printf("round %llu  append-only:   %.2f µs CPU a record, %.3f ms a commit\n", r,
		       (cpu - fill) * 1e6 / (double)n, secs * 1e3 * (double)group / (double)n);
	}
	printf("mean over %llu rounds, %llu records a commit: sqlite %.2f, append-only %.2f,"
	       " difference %.2f µs CPU a record\n", rounds, group,
	       sum_sql * 1e6 / (double)(n * rounds), sum_app * 1e6 / (double)(n * rounds),
	       (sum_sql - sum_app) * 1e6 / (double)(n * rounds));
	return 0;
}
