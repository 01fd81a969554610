/* The misuse commands (misuse_cmd.h).
 *
 * Input of `misuse import --input DIR` (what bench/misuse/generate.py
 * writes; every file optional but reads.jsonl), one JSON object a line:
 *
 *   reads.jsonl       {"gateway", "seq", "time_ms", "message_id", "client",
 *                      "service", "method", "purpose", "status", "user_id",
 *                      "issue", "own", "event", "consent", "error_type",
 *                      "subjects": ["079201000303", ...]}
 *                     (user_id, issue, error_type default to "", own, event,
 *                      consent to 0, method to "GET"; the reads table's id
 *                      is the line order, client_member the client's first
 *                      three parts)
 *   procedures.jsonl  {"id", "kind", "subject", "agency", "opened_ms",
 *                      "closed_ms" (null or absent while open)}
 *   mandates.jsonl    {"client", "service", "purpose", "basis", "created_ms"}
 *
 * Other files in DIR (the generator's labels) are not read. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "misuse.h"
#include "misuse_cmd.h"
#include "mstore.h"
#include "ndx/args.h"
#include "ndx/err.h"
#include "ndx/sqldb.h"

#define PROG "ndx-monitor"
#define PATH_BUF 4096

static const char IMPORT_HELP[] =
	"usage: " PROG " misuse import --db FILE --input DIR\n"
	"Loads a month of personal-data reads into an analysis database for the\n"
	"misuse detector (created with the detector's tables when FILE does not\n"
	"exist; appended to otherwise). DIR holds JSON lines files: reads.jsonl\n"
	"(required), procedures.jsonl and mandates.jsonl (optional); their fields\n"
	"are in src/monitor/misuse_cmd.c and bench/README.md \"Misuse detection\".\n"
	"Everything is loaded in one transaction: a bad line loads nothing.\n"
	"  --db FILE           the analysis database (a SQLite file)\n"
	"  --input DIR         the directory of the JSON lines files\n";

static const char ANALYSE_HELP[] =
	"usage: " PROG " misuse analyse --db FILE [--until MS] [--json]\n"
	"Runs the misuse detector over the reads of FILE not analysed yet (made by\n"
	"`" PROG " misuse import`, or a copy of monitor.db): writes explanations and\n"
	"findings, then prints the reads, the share of successful reads explained\n"
	"by each kind of explanation, the findings by kind and the time taken\n"
	"(wall clock and CPU). The file is opened through the SQLite engine of the\n"
	"store the monitoring service uses (ndx/sqldb.h).\n"
	"  --db FILE           the analysis database (a SQLite file)\n"
	"  --until MS          analyse only reads dated up to this Unix time in ms\n"
	"                      (default: every read)\n"
	"  --json              print the summary as one JSON object\n";

enum { O_DB = 256, O_INPUT, O_UNTIL, O_JSON, O_HELP };

static const struct option LONGOPTS[] = {
	{ "db", required_argument, NULL, O_DB },
	{ "input", required_argument, NULL, O_INPUT },
	{ "until", required_argument, NULL, O_UNTIL },
	{ "json", no_argument, NULL, O_JSON },
	{ "help", no_argument, NULL, O_HELP },
	{ NULL, 0, NULL, 0 },
};

struct opts {
	const char *db, *input, *until;
	int json;
};

/* Returns -1 after --help, 2 on a usage error, 0 otherwise. */
static int parse(int argc, char **argv, const char *help, bool import, struct opts *o)
{
	int c;

	memset(o, 0, sizeof *o);
	optind = 1;
	opterr = 1;
	while ((c = getopt_long(argc, argv, "", LONGOPTS, NULL)) != -1) {
		switch (c) {
		case O_HELP:
			fputs(help, stdout);
			return -1;
		case O_DB:
			o->db = optarg;
			break;
		case O_INPUT:
			if (!import)
				goto usage;
			o->input = optarg;
			break;
		case O_UNTIL:
			if (import)
				goto usage;
			o->until = optarg;
			break;
		case O_JSON:
			if (import)
				goto usage;
			o->json = 1;
			break;
		default:
			goto usage;
		}
	}
	if (optind != argc) {
		fprintf(stderr, PROG ": unexpected argument \"%s\"\n%s", argv[optind], help);
		return 2;
	}
	if (!o->db) {
		fprintf(stderr, PROG ": --db FILE is required\n%s", help);
		return 2;
	}
	if (import && !o->input) {
		fprintf(stderr, PROG ": --input DIR is required\n%s", help);
		return 2;
	}
	return 0;
usage:
	fputs(help, stderr);
	return 2;
}

/* ---- import ------------------------------------------------------------ */

struct line_ctx {
	const char *file;
	size_t line;
};

static int bad(const struct line_ctx *l, const char *field, const char *what)
{
	fprintf(stderr, PROG ": %s:%zu: %s%s%s\n", l->file, l->line, field ? field : "",
		field ? ": " : "", what);
	return -1;
}

/* A string field; absent gives def (NULL def: required). */
static int get_str(const struct line_ctx *l, json_t *o, const char *name, const char *def,
		   const char **out)
{
	json_t *v = json_object_get(o, name);

	if (!v || json_is_null(v)) {
		if (!def)
			return bad(l, name, "missing");
		*out = def;
		return 0;
	}
	if (!json_is_string(v))
		return bad(l, name, "expected a string");
	if (strlen(json_string_value(v)) != json_string_length(v))
		return bad(l, name, "holds a NUL byte");
	*out = json_string_value(v);
	return 0;
}

/* An integer field in [min, max]; absent gives *def (NULL def: required). */
static int get_int(const struct line_ctx *l, json_t *o, const char *name, const int64_t *def,
		   int64_t min, int64_t max, int64_t *out)
{
	json_t *v = json_object_get(o, name);

	if (!v || json_is_null(v)) {
		if (!def)
			return bad(l, name, "missing");
		*out = *def;
		return 0;
	}
	if (json_is_boolean(v)) {
		*out = json_is_true(v);
	} else if (json_is_integer(v)) {
		*out = json_integer_value(v);
	} else {
		return bad(l, name, "expected an integer");
	}
	if (*out < min || *out > max)
		return bad(l, name, "out of range");
	return 0;
}

/* The member of a client id: its first three parts. */
static int client_member(const char *client, char *out, size_t cap)
{
	const char *p = client;
	int parts = 0;

	for (; *p; p++)
		if (*p == '/' && ++parts == 3)
			break;
	if (parts < 2 || p == client || (size_t)(p - client) >= cap)
		return -1;
	memcpy(out, client, (size_t)(p - client));
	out[p - client] = 0;
	return 0;
}

typedef int (*line_fn)(sqlite3 *db, sqlite3_stmt **st, const struct line_ctx *l, json_t *o);

static const int64_t ZERO = 0;
static const int64_t MS_MAX = 253402300799999LL; /* 9999-12-31 */

static int import_read(sqlite3 *db, sqlite3_stmt **st, const struct line_ctx *l, json_t *o)
{
	const char *gateway, *message_id, *client, *service, *method, *purpose, *user_id, *issue,
		*error_type;
	int64_t seq, time_ms, status, own, event, consent, id;
	char member[512];
	json_t *subjects;
	size_t i;
	json_t *s;

	if (get_str(l, o, "gateway", NULL, &gateway) || get_int(l, o, "seq", NULL, 0, INT64_MAX, &seq) ||
	    get_int(l, o, "time_ms", NULL, 0, MS_MAX, &time_ms) ||
	    get_str(l, o, "message_id", "", &message_id) || get_str(l, o, "client", NULL, &client) ||
	    get_str(l, o, "service", NULL, &service) || get_str(l, o, "method", "GET", &method) ||
	    get_str(l, o, "purpose", "", &purpose) ||
	    get_int(l, o, "status", NULL, 100, 599, &status) ||
	    get_str(l, o, "user_id", "", &user_id) || get_str(l, o, "issue", "", &issue) ||
	    get_int(l, o, "own", &ZERO, 0, 1, &own) || get_int(l, o, "event", &ZERO, 0, 1, &event) ||
	    get_int(l, o, "consent", &ZERO, 0, 1, &consent) ||
	    get_str(l, o, "error_type", "", &error_type))
		return -1;
	if (client_member(client, member, sizeof member) != 0)
		return bad(l, "client", "not an instance/class/member[/subsystem] id");
	subjects = json_object_get(o, "subjects");
	if (subjects && !json_is_array(subjects))
		return bad(l, "subjects", "expected an array of strings");
	if (!st[0] &&
	    sqlite3_prepare_v2(db,
			       "INSERT INTO reads(gateway, seq, time_ms, message_id, client,"
			       " client_member, service, method, purpose, status, user_id, issue, own,"
			       " event, consent, error_type) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
			       -1, &st[0], NULL) != SQLITE_OK)
		return bad(l, NULL, sqlite3_errmsg(db));
	if (!st[1] && sqlite3_prepare_v2(db,
					 "INSERT OR IGNORE INTO read_subjects(read_id, subject)"
					 " VALUES (?, ?)",
					 -1, &st[1], NULL) != SQLITE_OK)
		return bad(l, NULL, sqlite3_errmsg(db));
	sqlite3_reset(st[0]);
	sqlite3_bind_text(st[0], 1, gateway, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st[0], 2, seq);
	sqlite3_bind_int64(st[0], 3, time_ms);
	sqlite3_bind_text(st[0], 4, message_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st[0], 5, client, -1, SQLITE_STATIC);
	sqlite3_bind_text(st[0], 6, member, -1, SQLITE_STATIC);
	sqlite3_bind_text(st[0], 7, service, -1, SQLITE_STATIC);
	sqlite3_bind_text(st[0], 8, method, -1, SQLITE_STATIC);
	sqlite3_bind_text(st[0], 9, purpose, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st[0], 10, status);
	sqlite3_bind_text(st[0], 11, user_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st[0], 12, issue, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st[0], 13, own);
	sqlite3_bind_int64(st[0], 14, event);
	sqlite3_bind_int64(st[0], 15, consent);
	sqlite3_bind_text(st[0], 16, error_type, -1, SQLITE_STATIC);
	if (sqlite3_step(st[0]) != SQLITE_DONE)
		return bad(l, NULL, sqlite3_errmsg(db));
	id = sqlite3_last_insert_rowid(db);
	json_array_foreach(subjects, i, s)
	{
		if (!json_is_string(s) || json_string_length(s) == 0 ||
		    strlen(json_string_value(s)) != json_string_length(s))
			return bad(l, "subjects", "expected an array of non-empty strings");
		sqlite3_reset(st[1]);
		sqlite3_bind_int64(st[1], 1, id);
		sqlite3_bind_text(st[1], 2, json_string_value(s), -1, SQLITE_STATIC);
		if (sqlite3_step(st[1]) != SQLITE_DONE)
			return bad(l, NULL, sqlite3_errmsg(db));
	}
	return 0;
}

static int import_procedure(sqlite3 *db, sqlite3_stmt **st, const struct line_ctx *l, json_t *o)
{
	const char *id, *kind, *subject, *agency;
	int64_t opened, closed;
	const int64_t none = -1;

	if (get_str(l, o, "id", NULL, &id) || get_str(l, o, "kind", NULL, &kind) ||
	    get_str(l, o, "subject", NULL, &subject) || get_str(l, o, "agency", NULL, &agency) ||
	    get_int(l, o, "opened_ms", NULL, 0, MS_MAX, &opened) ||
	    get_int(l, o, "closed_ms", &none, -1, MS_MAX, &closed))
		return -1;
	if (closed >= 0 && closed < opened)
		return bad(l, "closed_ms", "before opened_ms");
	if (!st[0] && sqlite3_prepare_v2(db,
					 "INSERT INTO procedures(id, kind, subject, agency, opened_ms,"
					 " closed_ms) VALUES (?,?,?,?,?,?)",
					 -1, &st[0], NULL) != SQLITE_OK)
		return bad(l, NULL, sqlite3_errmsg(db));
	sqlite3_reset(st[0]);
	sqlite3_bind_text(st[0], 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st[0], 2, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st[0], 3, subject, -1, SQLITE_STATIC);
	sqlite3_bind_text(st[0], 4, agency, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st[0], 5, opened);
	if (closed >= 0)
		sqlite3_bind_int64(st[0], 6, closed);
	else
		sqlite3_bind_null(st[0], 6);
	if (sqlite3_step(st[0]) != SQLITE_DONE)
		return bad(l, NULL, sqlite3_errmsg(db));
	return 0;
}

static int import_mandate(sqlite3 *db, sqlite3_stmt **st, const struct line_ctx *l, json_t *o)
{
	const char *client, *service, *purpose, *basis;
	int64_t created;

	if (get_str(l, o, "client", NULL, &client) || get_str(l, o, "service", NULL, &service) ||
	    get_str(l, o, "purpose", NULL, &purpose) || get_str(l, o, "basis", "", &basis) ||
	    get_int(l, o, "created_ms", &ZERO, 0, MS_MAX, &created))
		return -1;
	if (!st[0] && sqlite3_prepare_v2(db,
					 "INSERT INTO mandates(client, service, purpose, basis,"
					 " created_ms) VALUES (?,?,?,?,?)",
					 -1, &st[0], NULL) != SQLITE_OK)
		return bad(l, NULL, sqlite3_errmsg(db));
	sqlite3_reset(st[0]);
	sqlite3_bind_text(st[0], 1, client, -1, SQLITE_STATIC);
	sqlite3_bind_text(st[0], 2, service, -1, SQLITE_STATIC);
	sqlite3_bind_text(st[0], 3, purpose, -1, SQLITE_STATIC);
	sqlite3_bind_text(st[0], 4, basis, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st[0], 5, created);
	if (sqlite3_step(st[0]) != SQLITE_DONE)
		return bad(l, NULL, sqlite3_errmsg(db));
	return 0;
}

/* Loads one file; a missing optional file loads nothing. *count: lines. */
static int import_file(sqlite3 *db, const char *dir, const char *name, bool required, line_fn fn,
		       size_t *count)
{
	char path[PATH_BUF];
	sqlite3_stmt *st[2] = { NULL, NULL };
	struct line_ctx l = { path, 0 };
	char *buf = NULL;
	size_t cap = 0;
	ssize_t len;
	FILE *f;
	int rc = -1;

	*count = 0;
	if (ndx_args_join(PROG, path, sizeof path, dir, name))
		return -1;
	if (!(f = fopen(path, "r"))) {
		if (errno == ENOENT && !required)
			return 0;
		fprintf(stderr, PROG ": %s: %s\n", path, strerror(errno));
		return -1;
	}
	while ((len = getline(&buf, &cap, f)) != -1) {
		json_error_t je;
		json_t *o;
		int r;

		l.line++;
		while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
			buf[--len] = 0;
		if (len == 0)
			continue;
		o = json_loadb(buf, (size_t)len, JSON_REJECT_DUPLICATES, &je);
		if (!o) {
			bad(&l, NULL, je.text);
			goto out;
		}
		if (!json_is_object(o)) {
			json_decref(o);
			bad(&l, NULL, "expected a JSON object");
			goto out;
		}
		r = fn(db, st, &l, o);
		json_decref(o);
		if (r != 0)
			goto out;
		(*count)++;
	}
	if (ferror(f)) {
		fprintf(stderr, PROG ": %s: read error\n", path);
		goto out;
	}
	rc = 0;
out:
	free(buf);
	fclose(f);
	sqlite3_finalize(st[0]);
	sqlite3_finalize(st[1]);
	return rc;
}

/* An analysis database on the SQLite engine of ndx/sqldb.h: the
 * detector's tables as its one migration. */
static const char *const ANALYSIS_TABLES[] = { MISUSE_SCHEMA_SQL };
static const struct ndx_sqldb_desc ANALYSIS_DESC = {
	.prog = PROG,
	.what = "analysis database",
	.init_key = "kind",
	.migrations = ANALYSIS_TABLES,
	.n_migrations = 1,
};

/* Opens FILE; create: make it with the detector's tables when absent. */
static int open_db(const char *path, bool create, sqlite3 **db)
{
	bool exists = access(path, F_OK) == 0;
	int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
	sqlite3_stmt *st = NULL;
	int ok;

	*db = NULL;
	if (!exists && !create) {
		fprintf(stderr, PROG ": %s: no such database (make one with `" PROG
				" misuse import`)\n", path);
		return -1;
	}
	if (!exists) {
		/* made with the detector's tables as migration 1 of the SQLite
		 * engine, so that `misuse analyse` opens it through ndx/sqldb.h */
		struct ndx_sqldb *made;

		if (ndx_sqldb_sqlite_open(&ANALYSIS_DESC, path, true, &made) != NDX_OK) {
			fprintf(stderr, PROG ": %s: cannot make the tables\n", path);
			return -1;
		}
		made->ops->close(made);
	}
	if (sqlite3_open_v2(path, db, flags, NULL) != SQLITE_OK) {
		fprintf(stderr, PROG ": %s: %s\n", path, *db ? sqlite3_errmsg(*db) : "cannot open");
		goto fail;
	}
	sqlite3_busy_timeout(*db, 5000);
	sqlite3_exec(*db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
			  " PRAGMA temp_store=MEMORY; PRAGMA cache_size=-262144",
		     NULL, NULL, NULL);
	if (sqlite3_prepare_v2(*db,
			       "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN"
			       " ('reads', 'read_subjects', 'procedures', 'mandates', 'explanations',"
			       " 'findings', 'finding_reads', 'misuse_state')",
			       -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		fprintf(stderr, PROG ": %s: not a database: %s\n", path, sqlite3_errmsg(*db));
		sqlite3_finalize(st);
		goto fail;
	}
	ok = sqlite3_column_int(st, 0) == 8;
	sqlite3_finalize(st);
	if (!ok) {
		fprintf(stderr, PROG ": %s: not an analysis database (the detector's tables are"
				" missing)\n", path);
		goto fail;
	}
	return 0;
fail:
	sqlite3_close(*db);
	*db = NULL;
	return -1;
}

int misuse_cmd_import(int argc, char **argv)
{
	struct opts o;
	sqlite3 *db = NULL;
	size_t nreads = 0, nproc = 0, nmand = 0;
	int rc = parse(argc, argv, IMPORT_HELP, true, &o);

	if (rc)
		return rc < 0 ? 0 : rc;
	if (access(o.input, R_OK | X_OK) != 0) {
		fprintf(stderr, PROG ": --input %s: %s\n", o.input, strerror(errno));
		return 1;
	}
	if (open_db(o.db, true, &db) != 0)
		return 1;
	rc = 1;
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		fprintf(stderr, PROG ": %s: %s\n", o.db, sqlite3_errmsg(db));
		goto out;
	}
	if (import_file(db, o.input, "mandates.jsonl", false, import_mandate, &nmand) ||
	    import_file(db, o.input, "procedures.jsonl", false, import_procedure, &nproc) ||
	    import_file(db, o.input, "reads.jsonl", true, import_read, &nreads)) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		goto out;
	}
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		fprintf(stderr, PROG ": %s: %s\n", o.db, sqlite3_errmsg(db));
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		goto out;
	}
	printf("imported %zu reads, %zu procedures, %zu mandates into %s\n", nreads, nproc, nmand,
	       o.db);
	rc = 0;
out:
	sqlite3_close(db);
	return rc;
}

/* ---- analyse ------------------------------------------------------------ */

/* Opens an analysis database (or a copy of monitor.db) through the SQLite
 * engine of ndx/sqldb.h with the descriptor that made it: monitor.db's
 * when its migrations go beyond the analysis database's one. A database
 * made by `misuse import` before the engine numbered its migrations gets
 * migration 1 recorded (its tables are checked first). */
static int open_analysis(const char *path, struct ndx_sqldb **out)
{
	const struct ndx_sqldb_desc *d = &ANALYSIS_DESC;
	sqlite3 *raw = NULL;
	sqlite3_stmt *st = NULL;
	int64_t version = -1;

	*out = NULL;
	if (open_db(path, false, &raw) != 0)
		return -1;
	if (sqlite3_prepare_v2(raw, "SELECT max(version) FROM schema_migrations", -1, &st,
			       NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (version < 0 &&
	    sqlite3_exec(raw, "CREATE TABLE IF NOT EXISTS schema_migrations(version INTEGER"
			      " PRIMARY KEY, applied_at TEXT NOT NULL);"
			      "INSERT INTO schema_migrations VALUES(1, datetime('now'))",
			 NULL, NULL, NULL) != SQLITE_OK) {
		fprintf(stderr, PROG ": %s: %s\n", path, sqlite3_errmsg(raw));
		sqlite3_close(raw);
		return -1;
	}
	sqlite3_close(raw);
	if (version > 1)
		d = &mstore_db_desc;
	if (ndx_sqldb_sqlite_open(d, path, false, out) != NDX_OK ||
	    ndx_sqldb_exec(*out, "PRAGMA synchronous=NORMAL", "") != NDX_OK ||
	    ndx_sqldb_exec(*out, "PRAGMA temp_store=MEMORY", "") != NDX_OK ||
	    ndx_sqldb_exec(*out, "PRAGMA cache_size=-262144", "") != NDX_OK) {
		if (*out)
			(*out)->ops->close(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

/* The one integer of a statement's row (arg bound to ?1 when it has one),
 * -1 when it fails. */
static int64_t scalar(struct ndx_sqldb *db, const char *sql, const char *types, ...)
{
	json_t *rows = NULL;
	va_list ap;
	int64_t v = -1;

	va_start(ap, types);
	if (ndx_sqldb_queryv(db, &rows, sql, types, ap) == NDX_OK)
		v = (int64_t)json_integer_value(json_object_get(json_array_get(rows, 0), "v"));
	va_end(ap);
	json_decref(rows);
	return v;
}

static double clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int misuse_cmd_analyse(int argc, char **argv)
{
	static const char *const HOWS[] = { "own", "subscription", "consent", "procedure",
					    "mandate" };
	static const char *const KINDS[] = { MISUSE_NO_EXPLANATION, MISUSE_BULK, MISUSE_OFF_HOURS,
					     MISUSE_PROVINCE, MISUSE_REPEATED, MISUSE_PROBING,
					     MISUSE_REPLAY, MISUSE_CITIZEN_REPORT };
	struct misuse_options mo;
	struct opts o;
	struct ndx_sqldb *db = NULL;
	unsigned written = 0;
	int64_t before, after, total, ok_reads, explained = 0;
	double t0, c0, secs, cpu;
	json_t *out = NULL, *hows = NULL, *kinds = NULL;
	int rc = parse(argc, argv, ANALYSE_HELP, false, &o);

	if (rc)
		return rc < 0 ? 0 : rc;
	misuse_options_default(&mo);
	if (o.until) {
		unsigned long long v;
		if (ndx_args_uint_opt(PROG, "--until", o.until, 1, (unsigned long long)MS_MAX, &v))
			return 2;
		mo.now_ms = (int64_t)v;
	}
	if (open_analysis(o.db, &db) != 0)
		return 1;
	rc = 1;
	before = scalar(db, "SELECT coalesce((SELECT v FROM misuse_state"
			    " WHERE k = 'analysed_read_id'), 0) AS v", "");
	t0 = clock_s(CLOCK_MONOTONIC);
	c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
	if (misuse_analyse(db, &mo, &written) != NDX_OK) {
		fprintf(stderr, PROG ": %s: the analysis failed\n", o.db);
		goto out;
	}
	secs = clock_s(CLOCK_MONOTONIC) - t0;
	cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
	after = scalar(db, "SELECT coalesce((SELECT v FROM misuse_state"
			   " WHERE k = 'analysed_read_id'), 0) AS v", "");
	total = scalar(db, "SELECT count(*) AS v FROM reads WHERE id <= ?", "i", after);
	ok_reads = scalar(db, "SELECT count(*) AS v FROM reads WHERE id <= ? AND status < 400", "i",
			  after);
	if (!(out = json_object()) || !(hows = json_object()) || !(kinds = json_object()))
		goto oom;
	for (size_t i = 0; i < sizeof HOWS / sizeof HOWS[0]; i++) {
		int64_t n = scalar(db, "SELECT count(*) AS v FROM explanations e JOIN reads r"
				       " ON r.id = e.read_id WHERE e.how = ? AND r.status < 400",
				   "s", HOWS[i]);

		if (n < 0 || json_object_set_new(hows, HOWS[i], json_integer(n)))
			goto oom;
		explained += n;
	}
	for (size_t i = 0; i < sizeof KINDS / sizeof KINDS[0]; i++) {
		int64_t n = scalar(db, "SELECT count(*) AS v FROM findings WHERE kind = ?", "s",
				   KINDS[i]);

		if (n < 0 || json_object_set_new(kinds, KINDS[i], json_integer(n)))
			goto oom;
	}
	if (total < 0 || ok_reads < 0 || before < 0)
		goto oom;
	if (json_object_set_new(out, "reads", json_integer(total)) ||
	    json_object_set_new(out, "analysed", json_integer(after - before)) ||
	    json_object_set_new(out, "successful", json_integer(ok_reads)) ||
	    json_object_set_new(out, "explained", json_integer(explained)) ||
	    json_object_set_new(out, "explained_share",
				json_real(ok_reads ? (double)explained / (double)ok_reads : 0)) ||
	    json_object_set(out, "explained_by", hows) ||
	    json_object_set_new(out, "new_findings", json_integer(written)) ||
	    json_object_set(out, "findings", kinds) ||
	    json_object_set_new(out, "seconds", json_real(secs)) ||
	    json_object_set_new(out, "cpu_seconds", json_real(cpu)) ||
	    json_object_set_new(out, "reads_per_s",
				json_real(secs > 0 ? (double)(after - before) / secs : 0)))
		goto oom;
	if (o.json) {
		char *s = json_dumps(out, JSON_COMPACT);
		if (!s)
			goto oom;
		puts(s);
		free(s);
	} else {
		const char *k;
		json_t *v;

		printf("reads: %" PRId64 " (%" PRId64 " analysed now in %.2f s, %.2f s of CPU,"
		       " %.0f reads/s)\n",
		       total, after - before, secs, cpu,
		       secs > 0 ? (double)(after - before) / secs : 0);
		printf("successful reads explained: %" PRId64 " of %" PRId64 " (%.2f%%)\n",
		       explained, ok_reads,
		       ok_reads ? 100.0 * (double)explained / (double)ok_reads : 0.0);
		json_object_foreach(hows, k, v)
			printf("  %-13s %" JSON_INTEGER_FORMAT "\n", k, json_integer_value(v));
		printf("findings: %u new\n", written);
		json_object_foreach(kinds, k, v)
			printf("  %-17s %" JSON_INTEGER_FORMAT "\n", k, json_integer_value(v));
	}
	rc = 0;
	goto out;
oom:
	fprintf(stderr, PROG ": %s: cannot read the summary\n", o.db);
out:
	json_decref(out);
	json_decref(hows);
	json_decref(kinds);
	db->ops->close(db);
	return rc;
}
