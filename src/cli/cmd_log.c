/* `ndx log verify | prove | check-proof | archive`: the operator's and the
 * auditor's view of a gateway's message log (include/ndx/msglog.h; the
 * formats are docs/protocol.md "Message log"). Everything here works on
 * the log file alone, read-only except for archive, and is safe while the
 * gateway keeps appending. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cli.h"
#include "ndx/conf.h"
#include "ndx/encode.h"
#include "ndx/err.h"
#include "ndx/file.h"
#include "ndx/key.h"
#include "ndx/msglog.h"
#include "ndx/timefmt.h"

/* A proof holds two signature objects and a few ids: far below this. */
#define PROOF_MAX (16u << 20)

static const char usage[] =
	"usage: ndx log <verify|prove|check-proof|archive> [arguments]\n"
	"\n"
	"  ndx log verify --db PATH [--key PUB] [--archive DIR] [--anchor ANCHOR]\n"
	"      Recomputes every record hash and the record chain, every batch root,\n"
	"      tree head signature and the tree head chain; names the first bad record\n"
	"      or batch. --key checks against an outside public key (the strong check;\n"
	"      default: the key stored in the log when it was created). --archive also\n"
	"      checks the archive files in DIR and the live log as one chain. Every\n"
	"      countersignature a witness (the registry) gave a tree head must be of\n"
	"      the log's own head; --anchor also checks its signature with the\n"
	"      registry's keys and reports the newest batch witnessed.\n"
	"  ndx log prove --db PATH (--id X-ROAD-ID [--direction consumer|provider] | --seq N)\n"
	"      Prints the inclusion proof (JSON) of one record: its fields (among them\n"
	"      method, path, subject, the subjects the provider declared, purpose, user\n"
	"      id, issue, the represented party and the subject authenticated by e-ID),\n"
	"      its leaf index and audit path, and its batch's signed tree head.\n"
	"  ndx log check-proof FILE --key PUB\n"
	"      Checks a proof offline with nothing but the gateway's public key\n"
	"      (FILE - reads standard input) and prints the exchange it proves.\n"
	"  ndx log archive --db PATH --out DIR [--older-than DAYS]\n"
	"      Moves closed batches (all, or those whose tree head is older than DAYS\n"
	"      days) into one self-contained archive file in DIR, then deletes them\n"
	"      from the live log.\n"
	"\n"
	"PATH is the log's SQLite file, or a postgresql:// connection string for a log\n"
	"kept in PostgreSQL (docs/gateway.md \"Message log on PostgreSQL\"; archive\n"
	"files stay SQLite files in DIR).\n"
	"\n"
	"Logs of format ndx-msglog/3 (written since record v3) only: an older log is\n"
	"refused with its format named.\n"
	"\n"
	"Exit status: 0 when everything holds, 1 when it does not (one 'ndx: ...'\n"
	"line says what), 2 for a command line that could not be understood.\n";

enum { OPT_DB = 1, OPT_KEY, OPT_ARCHIVE, OPT_ID, OPT_DIRECTION, OPT_SEQ, OPT_OUT,
       OPT_OLDER, OPT_ANCHOR, OPT_HELP };

static const struct option opts[] = {
	{ "db", required_argument, NULL, OPT_DB },
	{ "key", required_argument, NULL, OPT_KEY },
	{ "archive", required_argument, NULL, OPT_ARCHIVE },
	{ "id", required_argument, NULL, OPT_ID },
	{ "direction", required_argument, NULL, OPT_DIRECTION },
	{ "seq", required_argument, NULL, OPT_SEQ },
	{ "out", required_argument, NULL, OPT_OUT },
	{ "older-than", required_argument, NULL, OPT_OLDER },
	{ "anchor", required_argument, NULL, OPT_ANCHOR },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

struct args {
	const char *db, *key, *archive, *id, *direction, *seq, *out, *older, *anchor;
	const char *file;
	int help;
};

/* Parses the options every subcommand shares; which of them a subcommand
 * accepts is checked by the subcommand. At most one positional (FILE),
 * before or after the options (GNU getopt permutes). */
static int parse(int argc, char **argv, struct args *a)
{
	int c;

	memset(a, 0, sizeof *a);
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_DB: a->db = optarg; break;
		case OPT_KEY: a->key = optarg; break;
		case OPT_ARCHIVE: a->archive = optarg; break;
		case OPT_ID: a->id = optarg; break;
		case OPT_DIRECTION: a->direction = optarg; break;
		case OPT_SEQ: a->seq = optarg; break;
		case OPT_OUT: a->out = optarg; break;
		case OPT_OLDER: a->older = optarg; break;
		case OPT_ANCHOR: a->anchor = optarg; break;
		case 'h':
		case OPT_HELP: a->help = 1; break;
		default: return cli_bad_option(usage, argv);
		}
		if (optarg != NULL && optarg[0] == '\0')
			return cli_usage_error(usage, "%s needs a non-empty value", argv[optind - 1]);
	}
	return cli_one_positional(usage, argc, argv, &a->file);
}

/* Refuses options the subcommand does not take (named in allowed). */
static int only(const struct args *a, const char *allowed, const char *sub)
{
	struct { const char *v, *name; } all[] = {
		{ a->db, "db" }, { a->key, "key" }, { a->archive, "archive" }, { a->id, "id" },
		{ a->direction, "direction" }, { a->seq, "seq" }, { a->out, "out" },
		{ a->older, "older-than" }, { a->anchor, "anchor" },
	};

	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
		char word[32];

		snprintf(word, sizeof word, " %s ", all[i].name);
		if (all[i].v != NULL && strstr(allowed, word) == NULL)
			return cli_usage_error(usage, "log %s does not take --%s", sub, all[i].name);
	}
	return CLI_EXIT_OK;
}

static int load_key(const char *path, struct ndx_key **key)
{
	int rc = ndx_key_load(path, key);

	if (rc != NDX_OK) {
		cli_error("cannot read the key %s: %s", path,
			  rc == NDX_EIO ? "no such file or not readable"
			  : rc == NDX_EINVAL ? "not an Ed25519 PEM key" : ndx_strerror(rc));
		return CLI_EXIT_FAIL;
	}
	return CLI_EXIT_OK;
}

static int log_verify(const struct args *a)
{
	struct ndx_msglog_verify_result res;
	struct ndx_key *key = NULL;
	struct ndx_anchor *anchor = NULL;
	char why[512];
	int rc;

	if (a->db == NULL)
		return cli_usage_error(usage, "log verify needs --db PATH");
	if (a->file != NULL)
		return cli_usage_error(usage, "unexpected argument '%s'", a->file);
	if (a->key != NULL && load_key(a->key, &key) != CLI_EXIT_OK)
		return CLI_EXIT_FAIL;
	if (a->anchor != NULL && ndx_anchor_load(a->anchor, &anchor, why, sizeof why) != NDX_OK) {
		ndx_key_free(key);
		cli_error("cannot read the anchor %s: %s", a->anchor, why);
		return CLI_EXIT_FAIL;
	}
	rc = ndx_msglog_verify_witnessed(a->db, a->archive, key, anchor, &res);
	ndx_key_free(key);
	ndx_anchor_free(anchor);
	if (res.archives > 0)
		printf("archives: %" PRIu64 " files\n", res.archives);
	if (res.records > 0)
		printf("records: %" PRIu64 " checked (%" PRIu64 "..%" PRIu64 "), %" PRIu64
		       " under %" PRIu64 " tree heads, %" PRIu64 " in the open batch\n",
		       res.records, res.first_seq, res.last_seq, res.batched, res.batches,
		       res.records - res.batched);
	else if (rc == NDX_OK)
		printf("records: none in the live log\n");
	if (res.head.batch > 0) {
		char root[2 * NDX_SHA256_LEN + 1];

		ndx_hex_encode(res.head.root, NDX_SHA256_LEN, root);
		printf("latest tree head: batch %" PRIu64 ", records %" PRIu64 "..%" PRIu64
		       ", root %s\n", res.head.batch, res.head.first_seq,
		       res.head.first_seq + res.head.size - 1, root);
	}
	if (res.key_id[0] != '\0')
		printf("key: %s%s\n", res.key_id, a->key != NULL ? " (given)" : " (stored in the log)");
	if (res.witnessed_batch > 0) {
		char t[NDX_TIME_TEXT_LEN];

		ndx_time_format((time_t)(res.witnessed_ms / 1000), t);
		printf("witnessed: batch %" PRIu64 " (of %s) countersigned at %s, %" PRIu64
		       " countersignatures%s\n", res.witnessed_batch, res.witness_gateway, t,
		       res.witnesses, a->anchor != NULL ? " verified with the anchor" : " (hashes "
		       "compared; add --anchor to check their signatures)");
		if (res.head.batch > res.witnessed_batch)
			printf("witnessed: batches %" PRIu64 "..%" PRIu64 " not countersigned yet\n",
			       res.witnessed_batch + 1, res.head.batch);
	} else if (rc == NDX_OK && res.head.batch > 0) {
		printf("witnessed: no tree head of this log has been countersigned by a witness\n");
	}
	if (res.seconds > 0 && res.records > 0)
		printf("speed: %.0f records/s (%.3f s)\n", (double)res.records / res.seconds,
		       res.seconds);
	if (rc != NDX_OK) {
		fflush(stdout);
		cli_error("%s", res.error);
		return CLI_EXIT_FAIL;
	}
	if (res.anchored)
		printf("note: records before %" PRIu64 " were archived; add --archive DIR to check "
		       "the chain from record 1\n", res.first_seq > 0 ? res.first_seq : 1);
	printf("log OK\n");
	return CLI_EXIT_OK;
}

static int log_prove(const struct args *a)
{
	char err[1024], *json = NULL, *end;
	unsigned long long seq = 0;
	int dir = -1, rc;

	if (a->db == NULL)
		return cli_usage_error(usage, "log prove needs --db PATH");
	if (a->file != NULL)
		return cli_usage_error(usage, "unexpected argument '%s'", a->file);
	if ((a->id == NULL) == (a->seq == NULL))
		return cli_usage_error(usage, "log prove needs exactly one of --id X-ROAD-ID and --seq N");
	if (a->direction != NULL) {
		if (strcmp(a->direction, "consumer") == 0)
			dir = NDX_MSGLOG_CONSUMER;
		else if (strcmp(a->direction, "provider") == 0)
			dir = NDX_MSGLOG_PROVIDER;
		else
			return cli_usage_error(usage, "--direction must be consumer or provider");
	}
	if (a->seq != NULL) {
		errno = 0;
		seq = strtoull(a->seq, &end, 10);
		if (errno != 0 || *end != '\0' || a->seq[0] == '-' || seq == 0 || seq > INT64_MAX)
			return cli_usage_error(usage, "--seq must be a positive integer");
	}
	rc = ndx_msglog_prove(a->db, a->id, dir, seq, &json, err, sizeof err);
	if (rc != NDX_OK) {
		cli_error("%s", err);
		return CLI_EXIT_FAIL;
	}
	printf("%s\n", json);
	free(json);
	return CLI_EXIT_OK;
}

/* Prints the exchange a proof that held is about. Its text was checked,
 * so every field is there; "-" stands for an empty one. */
static void print_proven(const char *text, size_t len)
{
	json_t *doc = json_loadb(text, len, 0, NULL);
	const json_t *r = json_object_get(doc, "record");

#define F(k) (json_string_value(json_object_get(r, k)) != NULL && \
	      json_string_value(json_object_get(r, k))[0] != '\0' \
	      ? json_string_value(json_object_get(r, k)) : "-")
	if (json_is_object(r)) {
		printf("exchange: %s %s %s, status %" JSON_INTEGER_FORMAT ", %s\n", F("direction"),
		       F("method"), F("path"), json_integer_value(json_object_get(r, "status")),
		       F("time"));
		printf("client: %s  service: %s\n", F("client"), F("service"));
		printf("subject: %s  subjects: %s  authenticated: %s\n", F("subject"),
		       F("subjects"), F("authenticated"));
		printf("purpose: %s  user id: %s  issue: %s\n", F("purpose"), F("user_id"),
		       F("issue"));
		printf("represented party: %s\n", F("represented_party"));
	}
#undef F
	json_decref(doc);
}

static int log_check_proof(const struct args *a)
{
	struct ndx_key *key = NULL;
	char msg[1024], *text = NULL;
	const char *path;
	size_t len = 0;
	int rc;

	if (a->file == NULL)
		return cli_usage_error(usage, "log check-proof needs the proof FILE");
	if (a->key == NULL)
		return cli_usage_error(usage, "log check-proof needs --key PUB (the gateway's public key)");
	path = strcmp(a->file, "-") == 0 ? "/dev/stdin" : a->file;
	rc = ndx_file_read(path, PROOF_MAX, &text, &len);
	if (rc != NDX_OK) {
		cli_error("cannot read %s: %s", a->file,
			  rc == NDX_ETOOBIG ? "larger than any proof" : "no such file or not readable");
		return CLI_EXIT_FAIL;
	}
	if (load_key(a->key, &key) != CLI_EXIT_OK) {
		free(text);
		return CLI_EXIT_FAIL;
	}
	rc = ndx_msglog_check_proof(text, len, key, msg, sizeof msg);
	ndx_key_free(key);
	if (rc != NDX_OK) {
		free(text);
		cli_error("proof does not hold: %s", msg);
		return CLI_EXIT_FAIL;
	}
	printf("proof OK: %s\n", msg);
	print_proven(text, len);
	free(text);
	return CLI_EXIT_OK;
}

static int log_archive(const struct args *a)
{
	struct ndx_msglog_archive_result res;
	int64_t before = INT64_MAX;
	char err[1024], *end;
	int rc;

	if (a->db == NULL || a->out == NULL)
		return cli_usage_error(usage, "log archive needs --db PATH and --out DIR");
	if (a->file != NULL)
		return cli_usage_error(usage, "unexpected argument '%s'", a->file);
	if (a->older != NULL) {
		unsigned long days;
		struct timespec ts;

		errno = 0;
		days = strtoul(a->older, &end, 10);
		if (errno != 0 || *end != '\0' || a->older[0] == '-' || days > 36500)
			return cli_usage_error(usage, "--older-than must be a number of days (0..36500)");
		clock_gettime(CLOCK_REALTIME, &ts);
		before = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 - (int64_t)days * 86400000;
	}
	rc = ndx_msglog_archive(a->db, a->out, before, &res, err, sizeof err);
	if (rc != NDX_OK) {
		cli_error("%s", err);
		return CLI_EXIT_FAIL;
	}
	if (res.batches == 0) {
		printf("nothing to archive: no closed batch%s\n",
		       a->older != NULL ? " is that old" : "");
		return CLI_EXIT_OK;
	}
	printf("archived batches %" PRIu64 "..%" PRIu64 " (records %" PRIu64 "..%" PRIu64
	       ", %" PRIu64 " records) to %s\n", res.first_batch, res.last_batch, res.first_seq,
	       res.last_seq, res.records, res.file);
	return CLI_EXIT_OK;
}

int cmd_log(int argc, char **argv)
{
	const char *sub;
	struct args a;
	int rc;

	if (argc < 2)
		return cli_usage_error(usage, "log needs a subcommand");
	sub = argv[1];
	if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "help") == 0) {
		fputs(usage, stdout);
		return CLI_EXIT_OK;
	}
	rc = parse(argc - 1, argv + 1, &a);
	if (rc != CLI_EXIT_OK)
		return rc;
	if (a.help) {
		fputs(usage, stdout);
		return CLI_EXIT_OK;
	}
	if (strcmp(sub, "verify") == 0) {
		rc = only(&a, " db key archive anchor ", sub);
		return rc != CLI_EXIT_OK ? rc : log_verify(&a);
	}
	if (strcmp(sub, "prove") == 0) {
		rc = only(&a, " db id direction seq ", sub);
		return rc != CLI_EXIT_OK ? rc : log_prove(&a);
	}
	if (strcmp(sub, "check-proof") == 0) {
		rc = only(&a, " key ", sub);
		return rc != CLI_EXIT_OK ? rc : log_check_proof(&a);
	}
	if (strcmp(sub, "archive") == 0) {
		rc = only(&a, " db out older-than ", sub);
		return rc != CLI_EXIT_OK ? rc : log_archive(&a);
	}
	return cli_usage_error(usage, "unknown log subcommand '%s'", sub);
}
