/* The indicator, task and report commands (indicators_cmd.h). They work on
 * a monitoring service's data directory directly (indicators.db beside
 * monitor.db), as the operator who holds that directory: whoever may read
 * it is the authorised official the store records as --by. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "indicators.h"
#include "indicators_cmd.h"
#include "mstore.h"
#include "ndx/sqldb.h"
#include "indicators_store.h"
#include "indicators_view.h"
#include "ndx/args.h"
#include "ndx/err.h"
#include "ndx/file.h"
#include "report.h"

#define PROG "ndx-monitor"
#define PATH_BUF 4096

/* Every option any of these commands takes; each command checks which it
 * needs and refuses the rest through its own help. */
struct opts {
	const char *data, *store, *id, *period, *scope, *value, *source, *by, *note, *title, *lead,
		*deadline, *status, *evidence, *as_of, *out, *to;
	int json;
};

enum { O_DATA = 256, O_STORE, O_ID, O_PERIOD, O_SCOPE, O_VALUE, O_SOURCE, O_BY, O_NOTE, O_TITLE,
       O_LEAD, O_DEADLINE, O_STATUS, O_EVIDENCE, O_AS_OF, O_OUT, O_TO, O_JSON, O_HELP };

static const struct option LONGOPTS[] = {
	{ "data", required_argument, NULL, O_DATA },
	{ "store", required_argument, NULL, O_STORE },
	{ "id", required_argument, NULL, O_ID },
	{ "period", required_argument, NULL, O_PERIOD },
	{ "scope", required_argument, NULL, O_SCOPE },
	{ "value", required_argument, NULL, O_VALUE },
	{ "source", required_argument, NULL, O_SOURCE },
	{ "by", required_argument, NULL, O_BY },
	{ "note", required_argument, NULL, O_NOTE },
	{ "title", required_argument, NULL, O_TITLE },
	{ "lead", required_argument, NULL, O_LEAD },
	{ "deadline", required_argument, NULL, O_DEADLINE },
	{ "status", required_argument, NULL, O_STATUS },
	{ "evidence", required_argument, NULL, O_EVIDENCE },
	{ "as-of", required_argument, NULL, O_AS_OF },
	{ "out", required_argument, NULL, O_OUT },
	{ "to", required_argument, NULL, O_TO },
	{ "json", no_argument, NULL, O_JSON },
	{ "help", no_argument, NULL, O_HELP },
	{ NULL, 0, NULL, 0 },
};

/* Parses argv into o, accepting only the options whose codes are listed
 * in allowed (0-terminated); --data is required by every command.
 * Returns -1 after --help (printed), 2 on a usage error, 0 otherwise. */
static int parse(int argc, char **argv, const char *help, const int *allowed, struct opts *o)
{
	int c;

	memset(o, 0, sizeof *o);
	optind = 1;
	opterr = 1;
	while ((c = getopt_long(argc, argv, "", LONGOPTS, NULL)) != -1) {
		bool ok = false;
		const char **slot = NULL;

		if (c == O_HELP) {
			fputs(help, stdout);
			return -1;
		}
		for (const int *a = allowed; *a; a++)
			ok |= *a == c;
		if (!ok) {
			fputs(help, stderr);
			return 2;
		}
		switch (c) {
		case O_DATA: slot = &o->data; break;
		case O_STORE: slot = &o->store; break;
		case O_ID: slot = &o->id; break;
		case O_PERIOD: slot = &o->period; break;
		case O_SCOPE: slot = &o->scope; break;
		case O_VALUE: slot = &o->value; break;
		case O_SOURCE: slot = &o->source; break;
		case O_BY: slot = &o->by; break;
		case O_NOTE: slot = &o->note; break;
		case O_TITLE: slot = &o->title; break;
		case O_LEAD: slot = &o->lead; break;
		case O_DEADLINE: slot = &o->deadline; break;
		case O_STATUS: slot = &o->status; break;
		case O_EVIDENCE: slot = &o->evidence; break;
		case O_AS_OF: slot = &o->as_of; break;
		case O_OUT: slot = &o->out; break;
		case O_TO: slot = &o->to; break;
		case O_JSON: o->json = 1; break;
		default: break;
		}
		if (slot)
			*slot = optarg;
	}
	if (optind != argc) {
		fprintf(stderr, PROG ": unexpected argument \"%s\"\n%s", argv[optind], help);
		return 2;
	}
	if (!o->data) {
		fprintf(stderr, PROG ": --data DIR is required\n%s", help);
		return 2;
	}
	return 0;
}

static int missing(const char *what, const char *help)
{
	fprintf(stderr, PROG ": %s is required\n%s", what, help);
	return 2;
}

/* Opens DIR's indicators.db (created on first use) after checking DIR is
 * a monitoring service's (its monitor.db, or the admin token's hash init
 * writes with any store); fills monitor_db with
 * the store's location (store_loc, else DIR/monitor.db). */
static int open_store(const char *dir, const char *store_loc, struct istore **st,
		      char monitor_db[PATH_BUF])
{
	char path[PATH_BUF], mark[PATH_BUF];

	if (ndx_sqldb_location(PROG, dir, MSTORE_DB_FILE, store_loc, monitor_db, PATH_BUF) ||
	    ndx_args_join(PROG, path, sizeof path, dir, ISTORE_DB_FILE) ||
	    ndx_args_join(PROG, mark, sizeof mark, dir, "admin.token.sha256"))
		return 1;
	if ((ndx_sqldb_is_pg(monitor_db) || access(monitor_db, F_OK) != 0) &&
	    access(mark, F_OK) != 0) {
		fprintf(stderr, PROG ": %s is not a monitoring service's directory (no %s): run `"
				PROG " init --data %s` first\n", dir, MSTORE_DB_FILE, dir);
		return 1;
	}
	return istore_open(path, 1, st) == NDX_OK ? 0 : 1;
}

static void print_json(const json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

	if (s)
		printf("%s\n", s);
	free(s);
}

/* ---- indicator ------------------------------------------------------------------ */

static const char LIST_HELP[] =
	"usage: " PROG " indicator list --data DIR [--store DB] [--period 2026-H2] [--json]\n"
	"Lists the catalogue's indicators with each one's source, target, and its\n"
	"national value for the period (or the latest), and its distance to the\n"
	"target. --json prints the whole view: every scope, trend and rank.\n"
	"  --store DB  the store given to init (default DIR/monitor.db)\n";

int ind_cmd_indicator_list(int argc, char **argv)
{
	static const int allowed[] = { O_DATA, O_STORE, O_PERIOD, O_JSON, 0 };
	struct opts o;
	struct ind_catalogue *cat = NULL;
	struct istore *st = NULL;
	struct ind_period p;
	char mdb[PATH_BUF];
	json_t *view = NULL, *ind;
	size_t i;
	int rc;

	if ((rc = parse(argc, argv, LIST_HELP, allowed, &o)))
		return rc < 0 ? 0 : rc;
	if (o.period && ind_period_parse(o.period, &p) != NDX_OK) {
		fprintf(stderr, PROG ": --period: a month (2026-07) or a half-year (2026-H2)\n");
		return 2;
	}
	if ((rc = open_store(o.data, o.store, &st, mdb)))
		return rc;
	rc = 1;
	struct ind_view_opts vo = { .monitor_db = mdb, .period = o.period ? &p : NULL,
				    .now_s = (int64_t)time(NULL), .st = st };
	if (ind_catalogue_load(&cat) != NDX_OK)
		goto out;
	vo.cat = cat;
	if (ind_view(&vo, &view) != NDX_OK)
		goto out;
	if (o.json) {
		print_json(view);
	} else {
		json_array_foreach(json_object_get(view, "indicators"), i, ind) {
			const json_t *nat = json_array_get(json_object_get(ind, "scopes"), 0);
			const json_t *cur = NULL, *tg = json_object_get(ind, "target");

			if (nat && strcmp(json_string_value(json_object_get(nat, "scope")),
					  "national") == 0)
				cur = json_object_get(nat, "current");
			printf("%-24s %-9s %-8s", json_string_value(json_object_get(ind, "id")),
			       json_string_value(json_object_get(ind, "source")),
			       json_string_value(json_object_get(ind, "unit")));
			if (json_is_object(tg))
				printf(" target %s%g by %s",
				       json_string_value(json_object_get(tg, "op")),
				       json_number_value(json_object_get(tg, "value")),
				       json_string_value(json_object_get(ind, "deadline")));
			else
				printf(" no target");
			if (json_is_object(cur))
				printf("  %s: %g%s", json_string_value(json_object_get(cur, "period")),
				       json_number_value(json_object_get(cur, "value")),
				       !json_is_object(tg) ? ""
				       : json_is_true(json_object_get(nat, "met")) ? " (met)"
										  : " (not met)");
			else
				printf("  no value");
			printf("  %s\n", json_string_value(json_object_get(json_object_get(ind, "name"),
									  "vi")));
		}
	}
	rc = 0;
out:
	json_decref(view);
	ind_catalogue_free(cat);
	istore_close(st);
	return rc;
}

static const char SET_HELP[] =
	"usage: " PROG " indicator set --data DIR --id ID --period P --scope S --value V\n"
	"                            --source TEXT --by NAME [--note TEXT]\n"
	"Enters an indicator's value for a period and scope, kept with who entered\n"
	"it and when. Entering again for the same period and scope is a correction:\n"
	"a new row, the earlier ones stay in the history.\n"
	"  --id ID        an entered indicator of the catalogue (`indicator list`)\n"
	"  --period P     a month (2026-07) or a half-year (2026-H2)\n"
	"  --scope S      national, a member id (VN/GOV/BCA) or a province code (001)\n"
	"  --value V      a number in the indicator's unit (a percentage: 0 to 100)\n"
	"  --source TEXT  where the figure comes from (a report, a system, its date)\n"
	"  --by NAME      the official entering it\n"
	"  --note TEXT    optional\n";

int ind_cmd_indicator_set(int argc, char **argv)
{
	static const int allowed[] = { O_DATA, O_ID, O_PERIOD, O_SCOPE, O_VALUE, O_SOURCE, O_BY,
				       O_NOTE, 0 };
	struct opts o;
	struct ind_catalogue *cat = NULL;
	struct istore *st = NULL;
	struct ind_checked chk;
	const char *field, *why;
	char mdb[PATH_BUF];
	double v;
	int64_t id;
	int rc;

	if ((rc = parse(argc, argv, SET_HELP, allowed, &o)))
		return rc < 0 ? 0 : rc;
	if (!o.id || !o.period || !o.scope || !o.value || !o.source || !o.by)
		return missing(!o.id ? "--id" : !o.period ? "--period" : !o.scope ? "--scope"
			       : !o.value ? "--value" : !o.source ? "--source" : "--by", SET_HELP);
	if (ind_number_parse(o.value, &v) != NDX_OK) {
		fprintf(stderr, PROG ": --value: a decimal number with a point (85.5)\n");
		return 2;
	}
	if (ind_catalogue_load(&cat) != NDX_OK)
		return 1;
	rc = ind_entry_check(cat, o.id, o.period, o.scope, v, o.source, o.by, o.note, &chk,
			     &field, &why);
	if (rc != NDX_OK) {
		fprintf(stderr, PROG ": --%s: %s\n", strcmp(field, "entered_by") == 0 ? "by" : field,
			why);
		ind_catalogue_free(cat);
		return 2;
	}
	if ((rc = open_store(o.data, o.store, &st, mdb))) {
		ind_catalogue_free(cat);
		return rc;
	}
	struct ind_entry e = { .indicator = o.id, .period = o.period, .period_key = chk.key,
			       .scope = chk.scope, .source = o.source, .entered_by = o.by,
			       .note = o.note, .value = v, .entered_at = (int64_t)time(NULL) };
	rc = istore_add_value(st, &e, &id) == NDX_OK ? 0 : 1;
	if (!rc)
		printf("value %lld: %s %s %s = %g\n", (long long)id, o.id, o.period, chk.scope, v);
	istore_close(st);
	ind_catalogue_free(cat);
	return rc;
}

static const char HISTORY_HELP[] =
	"usage: " PROG " indicator history --data DIR [--id ID] [--scope S]\n"
	"Prints every value entered, oldest first, corrections included, as JSON.\n";

int ind_cmd_indicator_history(int argc, char **argv)
{
	static const int allowed[] = { O_DATA, O_ID, O_SCOPE, 0 };
	struct opts o;
	struct istore *st = NULL;
	char mdb[PATH_BUF], scope[IND_SCOPE_MAX];
	enum ind_scope_kind kind;
	const char *why;
	json_t *h = NULL;
	int rc;

	if ((rc = parse(argc, argv, HISTORY_HELP, allowed, &o)))
		return rc < 0 ? 0 : rc;
	if (o.scope && ind_scope_parse(o.scope, scope, &kind, &why) != NDX_OK) {
		fprintf(stderr, PROG ": --%s\n", why);
		return 2;
	}
	if ((rc = open_store(o.data, o.store, &st, mdb)))
		return rc;
	rc = istore_history(st, o.id, o.scope ? scope : NULL, &h) == NDX_OK ? 0 : 1;
	if (!rc)
		print_json(h);
	json_decref(h);
	istore_close(st);
	return rc;
}

/* ---- task ------------------------------------------------------------------------- */

static const char TASK_ADD_HELP[] =
	"usage: " PROG " task add --data DIR --title TEXT --lead MEMBER --deadline YYYY-MM-DD\n"
	"                       --by NAME [--status S] [--evidence TEXT]\n"
	"Adds a task of the resolution's implementation tracker.\n"
	"  --lead MEMBER   the lead agency's member id (VN/GOV/BCA)\n"
	"  --status S      not_started (default), in_progress or done\n"
	"  --evidence TEXT what shows the progress: a document, a URL\n";

static int check_task(const struct opts *o, char lead[IND_SCOPE_MAX], bool adding)
{
	enum ind_scope_kind kind;
	const char *why;

	if (adding && !ind_text_ok(o->title, IND_TEXT_MAX)) {
		fprintf(stderr, PROG ": --title: 1 to 1000 bytes of text\n");
		return 2;
	}
	if (adding && (ind_scope_parse(o->lead, lead, &kind, &why) != NDX_OK ||
		       kind != IND_MEMBER)) {
		fprintf(stderr, PROG ": --lead: a member id (VN/GOV/BCA)\n");
		return 2;
	}
	if (adding && ind_date_check(o->deadline) != NDX_OK) {
		fprintf(stderr, PROG ": --deadline: a date YYYY-MM-DD\n");
		return 2;
	}
	if (o->status && !ind_task_status_ok(o->status)) {
		fprintf(stderr, PROG ": --status: not_started, in_progress or done\n");
		return 2;
	}
	if (o->evidence && !ind_text_ok(o->evidence, IND_TEXT_MAX)) {
		fprintf(stderr, PROG ": --evidence: 1 to 1000 bytes of text\n");
		return 2;
	}
	if (!ind_text_ok(o->by, IND_BY_MAX)) {
		fprintf(stderr, PROG ": --by: the official, 1 to 200 bytes\n");
		return 2;
	}
	return 0;
}

int ind_cmd_task_add(int argc, char **argv)
{
	static const int allowed[] = { O_DATA, O_TITLE, O_LEAD, O_DEADLINE, O_STATUS, O_EVIDENCE,
				       O_BY, 0 };
	struct opts o;
	struct istore *st = NULL;
	char mdb[PATH_BUF], lead[IND_SCOPE_MAX];
	int64_t id;
	int rc;

	if ((rc = parse(argc, argv, TASK_ADD_HELP, allowed, &o)))
		return rc < 0 ? 0 : rc;
	if (!o.title || !o.lead || !o.deadline || !o.by)
		return missing(!o.title ? "--title" : !o.lead ? "--lead"
			       : !o.deadline ? "--deadline" : "--by", TASK_ADD_HELP);
	if ((rc = check_task(&o, lead, true)) || (rc = open_store(o.data, o.store, &st, mdb)))
		return rc;
	rc = istore_task_add(st, o.title, lead, o.deadline, o.status ? o.status : "not_started",
			     o.evidence, o.by, (int64_t)time(NULL), &id) == NDX_OK ? 0 : 1;
	if (!rc)
		printf("task %lld added\n", (long long)id);
	istore_close(st);
	return rc;
}

static const char TASK_LIST_HELP[] =
	"usage: " PROG " task list --data DIR [--as-of YYYY-MM-DD] [--json]\n"
	"Lists the tasks by deadline; a task not done whose deadline is before the\n"
	"--as-of day (default: today in Vietnam) is flagged OVERDUE.\n";

int ind_cmd_task_list(int argc, char **argv)
{
	static const int allowed[] = { O_DATA, O_AS_OF, O_JSON, 0 };
	struct opts o;
	struct istore *st = NULL;
	char mdb[PATH_BUF], today[IND_DATE_MAX];
	json_t *tasks = NULL, *t;
	size_t i;
	int rc;

	if ((rc = parse(argc, argv, TASK_LIST_HELP, allowed, &o)))
		return rc < 0 ? 0 : rc;
	if (o.as_of && ind_date_check(o.as_of) != NDX_OK) {
		fprintf(stderr, PROG ": --as-of: a date YYYY-MM-DD\n");
		return 2;
	}
	ind_date_of((int64_t)time(NULL), today);
	if ((rc = open_store(o.data, o.store, &st, mdb)))
		return rc;
	rc = istore_tasks(st, o.as_of ? o.as_of : today, &tasks) == NDX_OK ? 0 : 1;
	if (!rc && o.json)
		print_json(tasks);
	else if (!rc)
		json_array_foreach(tasks, i, t)
			printf("%-4lld %-8s %s %-11s %-20s %s\n",
			       (long long)json_integer_value(json_object_get(t, "id")),
			       json_is_true(json_object_get(t, "overdue")) ? "OVERDUE" : "",
			       json_string_value(json_object_get(t, "deadline")),
			       json_string_value(json_object_get(t, "status")),
			       json_string_value(json_object_get(t, "lead")),
			       json_string_value(json_object_get(t, "title")));
	json_decref(tasks);
	istore_close(st);
	return rc;
}

static const char TASK_UPDATE_HELP[] =
	"usage: " PROG " task update --data DIR --id N --by NAME [--status S] [--evidence TEXT]\n"
	"Changes a task's status or evidence; every change is kept with who and when.\n";

int ind_cmd_task_update(int argc, char **argv)
{
	static const int allowed[] = { O_DATA, O_ID, O_STATUS, O_EVIDENCE, O_BY, 0 };
	struct opts o;
	struct istore *st = NULL;
	char mdb[PATH_BUF];
	unsigned long long id;
	int rc;

	if ((rc = parse(argc, argv, TASK_UPDATE_HELP, allowed, &o)))
		return rc < 0 ? 0 : rc;
	if (!o.id || !o.by)
		return missing(!o.id ? "--id" : "--by", TASK_UPDATE_HELP);
	if (ndx_args_uint_opt(PROG, "--id", o.id, 1, INT64_MAX, &id))
		return 2;
	if (!o.status && !o.evidence) {
		fprintf(stderr, PROG ": nothing to change: give --status or --evidence\n");
		return 2;
	}
	if ((rc = check_task(&o, NULL, false)) || (rc = open_store(o.data, o.store, &st, mdb)))
		return rc;
	rc = istore_task_update(st, (int64_t)id, o.status, o.evidence, o.by, (int64_t)time(NULL));
	if (rc == NDX_ENOTFOUND)
		fprintf(stderr, PROG ": no task %llu\n", id);
	else if (rc == NDX_OK)
		printf("task %llu updated\n", id);
	istore_close(st);
	return rc == NDX_OK ? 0 : 1;
}

/* ---- report ------------------------------------------------------------------------ */

static const char REPORT_HELP[] =
	"usage: " PROG " report --data DIR [--store DB] --period YYYY-H1|YYYY-H2 --out FILE.pdf\n"
	"       [--to TEXT]\n"
	"Writes the six-monthly report as an A4 PDF: title page with the signature\n"
	"block, summary, each indicator with its trend chart and target, rankings of\n"
	"ministries and provinces, overdue tasks, the exchange's volume and\n"
	"reliability, the registries' four measures per agency. The same data\n"
	"gives the same bytes.\n"
	"  --to TEXT   the addressee (default: the Central Steering Committee)\n"
	"  --store DB  the store given to init (default DIR/monitor.db)\n";

int ind_cmd_report(int argc, char **argv)
{
	static const int allowed[] = { O_DATA, O_STORE, O_PERIOD, O_OUT, O_TO, 0 };
	struct opts o;
	struct ind_catalogue *cat = NULL;
	struct istore *st = NULL;
	struct ind_period p;
	char mdb[PATH_BUF];
	unsigned char *pdf = NULL;
	size_t len = 0;
	int rc;

	if ((rc = parse(argc, argv, REPORT_HELP, allowed, &o)))
		return rc < 0 ? 0 : rc;
	if (!o.period || !o.out)
		return missing(!o.period ? "--period" : "--out", REPORT_HELP);
	if (ind_period_parse(o.period, &p) != NDX_OK || p.kind != IND_HALF) {
		fprintf(stderr, PROG ": --period: a half-year, e.g. 2026-H2\n");
		return 2;
	}
	if (o.to && !ind_text_ok(o.to, 500)) {
		fprintf(stderr, PROG ": --to: 1 to 500 bytes of text\n");
		return 2;
	}
	if ((rc = open_store(o.data, o.store, &st, mdb)))
		return rc;
	rc = 1;
	if (ind_catalogue_load(&cat) != NDX_OK)
		goto out;
	struct report_opts ro = { .cat = cat, .st = st, .monitor_db = mdb, .period = &p,
				  .addressee = o.to };
	if ((rc = report_generate(&ro, &pdf, &len)) != NDX_OK) {
		fprintf(stderr, PROG ": cannot build the report: %s\n", ndx_strerror(rc));
		rc = 1;
		goto out;
	}
	if ((rc = ndx_file_write_atomic(o.out, pdf, len, 0644, 0)) != NDX_OK) {
		fprintf(stderr, PROG ": cannot write %s: %s\n", o.out, ndx_strerror(rc));
		rc = 1;
		goto out;
	}
	printf("report %s written to %s (%zu bytes)\n", o.period, o.out, len);
	rc = 0;
out:
	free(pdf);
	ind_catalogue_free(cat);
	istore_close(st);
	report_release_fonts();
	return rc;
}
