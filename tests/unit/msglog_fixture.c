/* Test helper (not a test, not installed): writes records into a message
 * log through the real library, for the end-to-end tests of `ndx log`
 * (tests/e2e/test_msglog_cli.py) until gateways produce real logs.
 *
 *   msglog_fixture --db PATH --key KEY --count N [--batch-max M]
 *                  [--interval-ms MS] [--pairs] [--hang]
 *
 * Record i (numbering continues after the log's last record) has X-Road-Id
 * msg-i, method PUT for i % 4 == 2 (else GET), path /citizens/<12 digits of
 * i>, with ?fields=name for odd i, subject 001099000123 for every third (the
 * provider declares it too), declared subjects
 * "012345678901,098765432109" for i % 4 == 1 otherwise, an officer's user
 * id and issue for odd i, authenticated 001099000123 for i % 6 == 0,
 * represented party COM/0101234567 for i % 4 == 3 and BTC for i % 6 == 0
 * (otherwise none), no response hash for every fifth. --pairs logs each id
 * twice, consumer then provider. --hang prints "ready" once every record is
 * durable and then waits to be killed (the crash test kills it with
 * SIGKILL, leaving the last batch open). */
#include <getopt.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ndx/err.h"
#include "ndx/hash.h"
#include "ndx/key.h"
#include "ndx/msglog.h"

static int parse_u(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(s, &end, 10);
	return errno == 0 && end != s && *end == '\0' && s[0] != '-' && *out <= max ? 0 : -1;
}

static int append(struct ndx_msglog *log, unsigned long i, enum ndx_msglog_direction dir)
{
	struct ndx_msglog_record r;
	uint8_t req[NDX_SHA256_LEN], resp[NDX_SHA256_LEN];
	char id[32], text[64], path[64];

	snprintf(id, sizeof id, "msg-%lu", i);
	snprintf(text, sizeof text, "request %lu", i);
	ndx_sha256(text, strlen(text), req);
	snprintf(text, sizeof text, "response %lu", i);
	ndx_sha256(text, strlen(text), resp);
	memset(&r, 0, sizeof r);
	r.direction = dir;
	r.message_id = id;
	r.client = "VN/GOV/MOF/enterprise";
	r.service = "VN/GOV/BCA/population/citizens";
	r.subject = i % 3 == 0 ? "001099000123" : NULL;
	r.subjects = i % 3 == 0 ? "001099000123" : i % 4 == 1 ? "012345678901,098765432109" : NULL;
	r.method = i % 4 == 2 ? "PUT" : "GET";
	snprintf(path, sizeof path, "/citizens/%012lu%s", i, i % 2 ? "?fields=name" : "");
	r.path = path;
	r.user_id = i % 2 ? "VN/GOV/BCA/canbo01" : NULL;
	r.issue = i % 2 ? "birth-registration/P00000042" : NULL;
	r.authenticated = i % 6 == 0 ? "001099000123" : NULL;
	r.represented_party = i % 4 == 3 ? "COM/0101234567" : i % 6 == 0 ? "BTC" : NULL;
	r.purpose = "public-service";
	r.request_hash = req;
	r.response_hash = i % 5 == 4 ? NULL : resp;
	r.status = 200;
	r.duration_ms = (int64_t)(i % 97);
	r.request_sig = "{\"alg\":\"Ed25519-batch\",\"tree_size\":1}";
	r.response_sig = "{\"alg\":\"Ed25519-batch\",\"leaf_index\":0}";
	return ndx_msglog_append(log, &r, NULL);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "key", required_argument, NULL, 'k' },
		{ "count", required_argument, NULL, 'n' },
		{ "batch-max", required_argument, NULL, 'b' },
		{ "interval-ms", required_argument, NULL, 'i' },
		{ "pairs", no_argument, NULL, 'p' },
		{ "hang", no_argument, NULL, 'H' },
		{ NULL, 0, NULL, 0 },
	};
	struct ndx_msglog_options opt = { 0 };
	struct ndx_msglog_head head;
	struct ndx_msglog *log = NULL;
	struct ndx_key *key = NULL;
	const char *db = NULL, *keyfile = NULL;
	unsigned long count = 0, v, first;
	int c, rc, pairs = 0, hang = 0;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': db = optarg; break;
		case 'k': keyfile = optarg; break;
		case 'n':
			if (parse_u(optarg, 10000000, &count) != 0)
				goto usage;
			break;
		case 'b':
			if (parse_u(optarg, 1000000, &v) != 0)
				goto usage;
			opt.batch_max = (unsigned)v;
			break;
		case 'i':
			if (parse_u(optarg, 100000000, &v) != 0)
				goto usage;
			opt.batch_interval_ms = (unsigned)v;
			break;
		case 'p': pairs = 1; break;
		case 'H': hang = 1; break;
		default: goto usage;
		}
	}
	if (db == NULL || keyfile == NULL || optind != argc)
		goto usage;
	rc = ndx_key_load(keyfile, &key);
	if (rc != NDX_OK) {
		fprintf(stderr, "msglog_fixture: %s: %s\n", keyfile, ndx_strerror(rc));
		return 1;
	}
	rc = ndx_msglog_open(db, key, &opt, &log);
	if (rc != NDX_OK) {
		fprintf(stderr, "msglog_fixture: %s: %s\n", db, ndx_strerror(rc));
		ndx_key_free(key);
		return 1;
	}
	ndx_msglog_head(log, &head);
	first = (unsigned long)head.last_seq + 1;
	for (unsigned long i = first; i < first + count && rc == NDX_OK; i++) {
		rc = append(log, i, pairs ? NDX_MSGLOG_CONSUMER
					  : (i % 2 ? NDX_MSGLOG_PROVIDER : NDX_MSGLOG_CONSUMER));
		if (rc == NDX_OK && pairs)
			rc = append(log, i, NDX_MSGLOG_PROVIDER);
	}
	if (rc != NDX_OK) {
		fprintf(stderr, "msglog_fixture: append: %s\n", ndx_strerror(rc));
		ndx_msglog_close(log);
		ndx_key_free(key);
		return 1;
	}
	if (hang) {
		printf("ready\n");
		fflush(stdout);
		for (;;)
			pause();
	}
	rc = ndx_msglog_close(log);
	ndx_key_free(key);
	if (rc != NDX_OK) {
		fprintf(stderr, "msglog_fixture: close: %s\n", ndx_strerror(rc));
		return 1;
	}
	return 0;
usage:
	fputs("usage: msglog_fixture --db PATH --key KEY --count N [--batch-max M]\n"
	      "                      [--interval-ms MS] [--pairs] [--hang]\n", stderr);
	return 2;
}
