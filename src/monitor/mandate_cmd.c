/* mandate_cmd.h. The commands work on the data directory directly, beside
 * a running service (monitor.db is in WAL mode): whoever may write that
 * directory is the operator. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mandate_cmd.h"
#include "mreads.h"
#include "mstore.h"
#include "ndx/args.h"
#include "ndx/err.h"
#include "ndx/sqldb.h"
#include "ndx/text.h"

#define PROG "ndx-monitor"
#define PATH_BUF 4096

static const char ADD_HELP[] =
	"usage: " PROG " mandate add --data DIR [--store DB] --client ID --service ID --purpose P --basis TEXT\n"
	"Registers a mandate: CLIENT may read SERVICE for PURPOSE without a procedure\n"
	"of the citizen's (e.g. the tax department's periodic checks), on the legal\n"
	"BASIS named. The misuse detector counts the reads made after it was added\n"
	"as explained (reads made before stay as they were). Prints the mandate's\n"
	"number. One mandate per client, service and purpose.\n"
	"  --data DIR        data directory made by `" PROG " init` (required)\n"
	"  --store DB        the store given to init (default DIR/monitor.db)\n"
	"  --client ID       the reading member or subsystem, e.g. VN/GOV/MOF/tax\n"
	"  --service ID      the service read, e.g. VN/GOV/BCA/population/citizens\n"
	"  --purpose P       the purpose the reads declare (Ndx-Purpose)\n"
	"  --basis TEXT      the legal basis, e.g. \"Luật Quản lý thuế 2019, điều 17\"\n";

static const char LIST_HELP[] =
	"usage: " PROG " mandate list --data DIR [--store DB] [--json]\n"
	"Lists the registered mandates: number, client, service, purpose, basis.\n"
	"  --data DIR        data directory made by `" PROG " init` (required)\n"
	"  --store DB        the store given to init (default DIR/monitor.db)\n"
	"  --json            print {\"mandates\": [...]} as GET /api/mandates does\n";

static const char REMOVE_HELP[] =
	"usage: " PROG " mandate remove --data DIR [--store DB] --id N\n"
	"Removes mandate N. Reads already analysed keep their explanation; later\n"
	"reads of that client, service and purpose need another one.\n"
	"  --data DIR        data directory made by `" PROG " init` (required)\n"
	"  --store DB        the store given to init (default DIR/monitor.db)\n"
	"  --id N            the mandate's number (from `" PROG " mandate list`)\n";

struct opts {
	const char *data, *store, *client, *service, *purpose, *basis, *id;
	int json;
};

enum { O_DATA = 256, O_STORE, O_CLIENT, O_SERVICE, O_PURPOSE, O_BASIS, O_ID, O_JSON, O_HELP };

/* Parses argv accepting only the options in allowed (0-terminated).
 * -1 after --help, 2 on a usage error, 0 otherwise. */
static int parse(int argc, char **argv, const char *help, const int *allowed, struct opts *o)
{
	static const struct option longopts[] = {
		{ "data", required_argument, NULL, O_DATA },
		{ "store", required_argument, NULL, O_STORE },
		{ "client", required_argument, NULL, O_CLIENT },
		{ "service", required_argument, NULL, O_SERVICE },
		{ "purpose", required_argument, NULL, O_PURPOSE },
		{ "basis", required_argument, NULL, O_BASIS },
		{ "id", required_argument, NULL, O_ID },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof *o);
	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		bool ok = false;

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
		case O_DATA: o->data = optarg; break;
		case O_STORE: o->store = optarg; break;
		case O_CLIENT: o->client = optarg; break;
		case O_SERVICE: o->service = optarg; break;
		case O_PURPOSE: o->purpose = optarg; break;
		case O_BASIS: o->basis = optarg; break;
		case O_ID: o->id = optarg; break;
		case O_JSON: o->json = 1; break;
		default: break;
		}
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

static int open_store(const char *dir, const char *store_loc, struct mstore **st)
{
	char db[PATH_BUF];

	*st = NULL;
	if (ndx_sqldb_location(PROG, dir, MSTORE_DB_FILE, store_loc, db, sizeof db))
		return 1;
	if (!ndx_sqldb_is_pg(db) && access(db, F_OK) != 0) {
		fprintf(stderr, PROG ": %s does not exist: run `" PROG " init --data %s` first\n",
			db, dir);
		return 1;
	}
	return mstore_open(db, false, st) == NDX_OK ? 0 : 1;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int mandate_cmd_add(int argc, char **argv)
{
	static const int allowed[] = { O_DATA, O_STORE, O_CLIENT, O_SERVICE, O_PURPOSE, O_BASIS, 0 };
	struct opts o;
	struct mstore *st;
	const char *why = NULL;
	int64_t id;
	int rc = parse(argc, argv, ADD_HELP, allowed, &o);

	if (rc)
		return rc < 0 ? 0 : rc;
	if (!o.client || !o.service || !o.purpose || !o.basis) {
		fprintf(stderr, PROG ": %s is required\n%s",
			!o.client ? "--client" : !o.service ? "--service"
			: !o.purpose ? "--purpose" : "--basis", ADD_HELP);
		return 2;
	}
	if (open_store(o.data, o.store, &st))
		return 1;
	rc = mreads_mandate_add(st, o.client, o.service, o.purpose, o.basis, now_ms(), &id, &why);
	mstore_close(st);
	if (rc == NDX_EINVAL) {
		fprintf(stderr, PROG " mandate add: --%s\n", why);
		return 2;
	}
	if (rc == NDX_EEXIST) {
		fprintf(stderr, PROG " mandate add: a mandate for this client, service and purpose"
				" exists already (`" PROG " mandate list`)\n");
		return 1;
	}
	if (rc)
		return 1;
	printf("mandate %lld added\n", (long long)id);
	return 0;
}

/* A stored value on a terminal: escaped when it holds what could move the
 * cursor (the store checks on the way in; this is the second fence). */
static void put(const char *s)
{
	char *e = ndx_text_escape(s, strlen(s));

	fputs(e ? e : "?", stdout);
	free(e);
}

int mandate_cmd_list(int argc, char **argv)
{
	static const int allowed[] = { O_DATA, O_STORE, O_JSON, 0 };
	struct opts o;
	struct mstore *st;
	json_t *out = NULL, *m;
	size_t i;
	int rc = parse(argc, argv, LIST_HELP, allowed, &o);

	if (rc)
		return rc < 0 ? 0 : rc;
	if (open_store(o.data, o.store, &st))
		return 1;
	rc = mreads_mandates(st, &out);
	mstore_close(st);
	if (rc)
		return 1;
	if (o.json) {
		char *text = json_dumps(out, JSON_INDENT(2) | JSON_SORT_KEYS);

		if (text)
			puts(text);
		free(text);
		json_decref(out);
		return text ? 0 : 1;
	}
	json_array_foreach(json_object_get(out, "mandates"), i, m) {
		printf("%lld  ", (long long)json_integer_value(json_object_get(m, "id")));
		put(json_string_value(json_object_get(m, "client")));
		fputs("  ", stdout);
		put(json_string_value(json_object_get(m, "service")));
		fputs("  purpose ", stdout);
		put(json_string_value(json_object_get(m, "purpose")));
		fputs("  basis ", stdout);
		put(json_string_value(json_object_get(m, "basis")));
		fputc('\n', stdout);
	}
	if (json_array_size(json_object_get(out, "mandates")) == 0)
		puts("no mandates");
	json_decref(out);
	return 0;
}

int mandate_cmd_remove(int argc, char **argv)
{
	static const int allowed[] = { O_DATA, O_STORE, O_ID, 0 };
	unsigned long long id;
	struct opts o;
	struct mstore *st;
	int rc = parse(argc, argv, REMOVE_HELP, allowed, &o);

	if (rc)
		return rc < 0 ? 0 : rc;
	if (!o.id) {
		fprintf(stderr, PROG ": --id is required\n%s", REMOVE_HELP);
		return 2;
	}
	if (ndx_args_uint_opt(PROG, "--id", o.id, 1, INT64_MAX, &id))
		return 2;
	if (open_store(o.data, o.store, &st))
		return 1;
	rc = mreads_mandate_remove(st, (int64_t)id);
	mstore_close(st);
	if (rc == NDX_ENOTFOUND) {
		fprintf(stderr, PROG " mandate remove: no mandate %llu\n", id);
		return 1;
	}
	if (rc)
		return 1;
	printf("mandate %llu removed\n", id);
	return 0;
}
