/* ndx-sector: the reference provider systems (population, civil status,
 * enterprise, tax, social insurance, land, vehicles) with synthetic
 * national data. This file only parses the command line and wires the
 * parts together: schema.c holds the data model, store.c the database,
 * api.c the REST API, openapi.c its description, seed.c the generator and
 * quality.c the quality report. Every file it makes is private to its user
 * (umask 077): the databases hold a whole population. `serve --listen
 * unix:PATH` listens on a Unix domain socket whose mode decides who may
 * connect (the agency's gateway alone), and the access log names a PIN only
 * by its keyed tag (ndx/redact.h). Overview: docs/sectors.md,
 * docs/security.md (T33, T34). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api.h"
#include "ndx/cmd.h"
#include "ndx/args.h"
#include "ndx/err.h"
#include "ndx/httpd.h"
#include "ndx/redact.h"
#include "ndx/sqldb.h"
#include "ndx/text.h"
#include "ndx/unixsock.h"
#include "openapi.h"
#include "quality.h"
#include "schema.h"
#include "sec_apply.h"
#include "sec_metrics.h"
#include "sec_outbox.h"
#include "sec_reconcile.h"
#include "sec_verify.h"
#include "sec_worklist.h"
#include "seed.h"
#include "store.h"

#ifndef NDX_VERSION
#define NDX_VERSION "unknown"
#endif
/* The installed configuration directory (meson.build, docs/install.md). */
#ifndef NDX_CONF_DIR
#define NDX_CONF_DIR "/etc/ndx"
#endif

#define PROG "ndx-sector"
/* A request body the API takes: a /verify batch holds up to
 * VERIFY_MAX_RECORDS records of some 300 bytes each (a tax record with its
 * address); 64 KiB refused batches of 500 as too large, before the API could
 * declare its data subjects, so the gateway saw an undeclared answer. */
#define SECTOR_MAX_BODY_DEFAULT (1024u * 1024u)
_Static_assert(SECTOR_MAX_BODY_DEFAULT >= VERIFY_MAX_RECORDS * 2048u,
	       "a batch of verify records of 2 KiB each fits the default body");
#define SECTORS_TEXT "population|civil-status|enterprise|tax|insurance|land|vehicles"

static const char USAGE[] =
	"usage: " PROG " serve --sector S --db PATH|URL [--listen 127.0.0.1:PORT | unix:PATH]\n"
	"       " PROG " seed --db-dir DIR|URL [--citizens N] [--seed S] [--today YYYY-MM-DD]\n"
	"       " PROG " quality --sector S (--db PATH | --db-dir DIR) [--stale-days N]\n"
	"       " PROG " reconcile --sector S --db PATH|URL --gateway URL --client ID [options]\n"
	"       " PROG " worklist --sector S --db PATH|URL\n"
	"       " PROG " correct --sector S --db PATH|URL --table T --key K --field F --officer NAME\n"
	"                  [--value V] [--events-client ID]\n"
	"       " PROG " openapi --sector S\n"
	"       " PROG " --version | --help\n"
	"S is one of " SECTORS_TEXT ".\n"
	"URL: a postgresql:// connection string (no password: use ~/.pgpass) for a\n"
	"PostgreSQL store instead of SQLite files (every command).\n"
	"Configuration: the command line only, no file. As the systemd service\n"
	"ndx-sector@S.service (docs/install.md) it serves with the options in\n"
	"NDX_SECTOR_OPTIONS of " NDX_CONF_DIR "/sector-S.env.\n"
	"Run `" PROG " COMMAND --help` for the options of a command.\n";

static const char SERVE_HELP[] =
	"usage: " PROG " serve --sector S --db PATH|URL [options]\n"
	"Serves one sector's REST API (described at GET /openapi.json) until SIGINT or\n"
	"SIGTERM. Prints \"" PROG ": S listening on http://ADDR:PORT\" (or unix:PATH) on\n"
	"stderr once ready, then one JSON access-log line per request, a PIN in a path\n"
	"shown only as pin:<keyed hash>. Creates an empty database at PATH (0600) when\n"
	"there is none; refuses a database that holds another sector.\n"
	"  --sector S           " SECTORS_TEXT "\n"
	"  --db PATH            the sector's SQLite database (e.g. DIR/population.db)\n"
	"  --db URL             or a postgresql:// connection string (no password in it:\n"
	"                       ~/.pgpass): the sector's schema there (population,\n"
	"                       civil_status ...), made when missing (events published\n"
	"                       and applied there too, /measures and /reconcile/* read\n"
	"                       there); --log-key is then required\n"
	"  --listen ADDR:PORT   IPv4 address and port (default 127.0.0.1:4600; port 0\n"
	"                       picks a free port)\n"
	"  --listen unix:PATH   a Unix domain socket instead (absolute PATH, at most 107\n"
	"                       bytes): only who may open the file can connect; keep it\n"
	"                       in a 0700 directory and give the gateway's user access;\n"
	"                       the file appears once the socket listens\n"
	"  --socket-mode MODE   the socket file's mode, 0600 (default: this user only)\n"
	"                       or 0660 (and the group, e.g. the gateway's)\n"
	"  --log-key FILE       the secret key of the PIN tags in the access log, made\n"
	"                       (0600) when missing (default: PATH.log-key beside --db)\n"
	"  --threads N          HTTP worker threads and database connections (default 4)\n"
	"  --max-body BYTES     largest request body accepted (default 1048576: a\n"
	"                       reconciliation batch of 500 records with addresses)\n"
	"  --events-gateway URL the consumer port of this agency's gateway\n"
	"                       (http://127.0.0.1:4411): events go through it (docs/events.md)\n"
	"  --events-client ID   the subsystem this registry speaks as there\n"
	"                       (VN/GOV/BTP/civil-status). With both: civil-status publishes\n"
	"                       death-registered and birth-registered, population\n"
	"                       residence-changed, as events of the service ID/TABLE, through\n"
	"                       an outbox in the database written with the record (sent after\n"
	"                       the gateway's 201, retried with back-off); population,\n"
	"                       insurance and tax apply the events they subscribe to from the\n"
	"                       inbox of ID, each once, and acknowledge them\n"
	"  --events-poll-ms MS  how often an idle subscriber pulls its inbox (default 1000)\n";

static const char SEED_HELP[] =
	"usage: " PROG " seed --db-dir DIR|URL [--citizens N] [--seed S] [--today YYYY-MM-DD]\n"
	"                      [--sector S] [--defects RATE [--truth FILE]]\n"
	"Generates one consistent synthetic national dataset into DIR/<sector>.db for all\n"
	"seven sectors: citizens in households, birth and marriage registrations,\n"
	"enterprises owned by those citizens, taxpayers and obligations, insurance\n"
	"history, land parcels and vehicles. Every reference resolves. Refuses when DIR\n"
	"already holds a sector database; a failed run removes what it created.\n"
	"Prints a JSON summary (rows per table, seconds, bytes) on stdout.\n"
	"  --db-dir DIR         output directory (created when missing)\n"
	"  --db-dir URL         or a postgresql:// connection string: each sector a new\n"
	"                       schema named after it (population, civil_status ...),\n"
	"                       loaded with COPY, indexed after the load; refused when\n"
	"                       one exists; \"bytes\" is then its tables with indexes\n"
	"  --sector S           write only sector S (the others are still generated, so\n"
	"                       its data are those of a full run)\n"
	"  --citizens N         number of citizens (default 2000; 10000000 takes minutes)\n"
	"  --seed S             random seed (default 1): same seed and day, same data\n"
	"  --today YYYY-MM-DD   the day the data is generated for (default: today)\n"
	"  --defects RATE       spoil that share (0-1, default 0: clean) of the person\n"
	"                       records of the six registries other than population, as\n"
	"                       real ones are: names without or with wrong diacritics, day\n"
	"                       and month swapped, stale addresses, the same person twice\n"
	"                       (under two numbers or once without one), numbers nobody\n"
	"                       holds, deceased people still active in tax and insurance,\n"
	"                       enterprise owners under a mistyped number; the ground truth\n"
	"                       goes to DIR/" SEED_TRUTH_FILE " (one JSON line a defect:\n"
	"                       sector, table, key, kind, field, true value)\n"
	"  --truth FILE         where the ground truth goes instead (required with\n"
	"                       --defects and a postgresql:// --db-dir); refused when\n"
	"                       it exists\n"
	"  --quiet              no progress lines on stderr\n";

static const char QUALITY_HELP[] =
	"usage: " PROG " quality --sector S (--db PATH | --db-dir DIR) [options]\n"
	"Reports the sector database's invalid records (anything the API would refuse:\n"
	"bad personal numbers, enterprise codes, dates, a PIN contradicting the birth\n"
	"date or sex ...), duplicate records, dangling references and stale records,\n"
	"and counts addresses still on the map before 1 July 2025 (a former province;\n"
	"valid, not a finding). References into other sectors' databases are checked\n"
	"only with --db-dir.\n"
	"Writes the report as JSON on stdout and a summary on stderr. Exit status 0\n"
	"when nothing was found, 3 when something was, 1 on failure, 2 on bad usage.\n"
	"  --sector S           " SECTORS_TEXT "\n"
	"  --db PATH            the sector's database (default DIR/S.db)\n"
	"  --db-dir DIR         directory of all sector databases\n"
	"  --db URL, --db-dir URL  or a postgresql:// connection string: the sector's\n"
	"                       schema there, read in one snapshot; with --db-dir the\n"
	"                       other sectors' schemas of that database are the ones\n"
	"                       referred to\n"
	"  --stale-days N       stale = updated_at older than N days (default 365)\n"
	"  --samples N          examples listed per finding (default 10)\n";

static const char RECONCILE_HELP[] =
	"usage: " PROG " reconcile --sector S --db PATH --gateway URL --client ID [options]\n"
	"Checks the sector's own person records against the population registry's\n"
	"verification service (POST /verify) through this agency's gateway: births\n"
	"(civil-status), owners (enterprise), individual taxpayers (tax), participants\n"
	"(insurance), right holders (land) and vehicle owners (vehicles), each as\n"
	"number, name, birth date, sex, address and living as the table holds them.\n"
	"Sends them in batches at most --rate records a second; the answers and the\n"
	"position reached are committed in the sector's database (tables reconcile_*)\n"
	"batch by batch, so a run stopped at any point (even kill -9) resumes where it\n"
	"stopped when started again: no record is stored twice or skipped (only the\n"
	"batch in flight is asked again). A finished run makes the next start a new one.\n"
	"Writes the report as JSON on stdout: records checked, matches, each kind of\n"
	"mismatch with its field, every finding, candidates for merge, the share of\n"
	"records accurate, sufficient, clean and live; with --truth the precision and\n"
	"recall per kind. Exit status 0 when the run is complete, 1 on\n"
	"failure (the gateway refused or is down: start again to resume), 2 bad usage.\n"
	"  --sector S           civil-status|enterprise|tax|insurance|land|vehicles\n"
	"  --db PATH|URL        the SQLite file, e.g. DIR/tax.db, or a postgresql://\n"
	"                       connection string (no password in it): the sector's\n"
	"                       schema, read in key order as the file is\n"
	"  --gateway URL        the consumer port of this agency's gateway\n"
	"                       (http://127.0.0.1:4411)\n"
	"  --client ID          the subsystem this registry speaks as (VN/GOV/TCT/tax)\n"
	"  --service ID         the verification service (default " RECONCILE_SERVICE ")\n"
	"  --purpose P          the purpose sent (default " RECONCILE_PURPOSE ", a bulk\n"
	"                       purpose of the service)\n"
	"  --batch N            records a request, 1-500 (default 100)\n"
	"  --rate R             records a second at most (default 500; 0: no limit)\n"
	"  --truth FILE         the ground truth of seed --defects (DIR/defects.jsonl):\n"
	"                       adds precision and recall per kind to the report\n"
	"  --quiet              no progress lines on stderr\n";

static const char WORKLIST_HELP[] =
	"usage: " PROG " worklist --sector S --db PATH|URL\n"
	"Prints the correction worklist of the sector as JSON: the findings of its last\n"
	"finished reconciliation run (" PROG " reconcile) that no officer has corrected\n"
	"yet, each a task {table, key, kind, field, candidate_pin?}.\n"
	"  --sector S           civil-status|enterprise|tax|insurance|land|vehicles\n"
	"  --db PATH|URL        the sector's SQLite database or postgresql:// schema\n";

static const char CORRECT_HELP[] =
	"usage: " PROG " correct --sector S --db PATH|URL --table T --key K --field F\n"
	"                  --officer NAME [--value V] [--events-client ID]\n"
	"Corrects one task of the worklist in one action: sets the record's field to the\n"
	"right value, checked and written as the API writes it (the change events such a\n"
	"write publishes are queued in the sector's outbox, and a running `serve\n"
	"--events-gateway` publishes them within 5 s), and logs the correction with the\n"
	"officer, the old and the new value, the time and the ids of those events (table\n"
	"reconcile_corrections), in one transaction. The next reconciliation run checks\n"
	"the record again. Prints the correction as JSON (\"events\": the event ids).\n"
	"Exit status 0, 1 when refused or failed (the reason on stderr), 2 on bad usage.\n"
	"  --sector S           civil-status|enterprise|tax|insurance|land|vehicles\n"
	"  --db PATH|URL        the sector's SQLite database or postgresql:// schema\n"
	"  --table T --key K --field F   the task (as the worklist lists it)\n"
	"  --officer NAME       who corrects (logged)\n"
	"  --value V            the right value, from the person's papers; without it a\n"
	"                       deceased person's record is closed (tax) or marked\n"
	"                       deceased (insurance) and a number becomes the candidate\n"
	"                       the population registry proposed. A record's key (a\n"
	"                       taxpayer's tax_id, a participant's pin) is not corrected:\n"
	"                       the same person twice is merged\n"
	"  --events-client ID   the subsystem the registry publishes as (serve's\n"
	"                       --events-client; default AGENCY/SECTOR, e.g.\n"
	"                       VN/GOV/BTP/civil-status)\n";

static const char OPENAPI_HELP[] =
	"usage: " PROG " openapi --sector S\n"
	"Prints the sector's OpenAPI 3 document (the one served at /openapi.json) on\n"
	"stdout, e.g. to register the service in the registry.\n"
	"  --sector S   " SECTORS_TEXT "\n";


static const struct sector_def *sector_arg(const char *s)
{
	const struct sector_def *d = sector_find(s);
	if (!d)
		fprintf(stderr, PROG ": --sector: \"%s\" is not one of " SECTORS_TEXT "\n", s);
	return d;
}

/* A postgresql:// database that cannot be used as given (a password in
 * it: it belongs in ~/.pgpass; or a string that does not parse): refused
 * before connecting, the reason said and the string never printed. 0 when
 * loc is a SQLite path or a usable string, -1 after the message. */
static int check_db(const char *cmd, const char *opt, const char *loc)
{
	const char *why = NULL;

	if (!loc || !ndx_sqldb_is_pg(loc) || ndx_sqldb_check(loc, &why) == NDX_OK)
		return 0;
	fprintf(stderr, PROG " %s: %s: %s\n", cmd, opt, why ? why : "not a usable connection string");
	return -1;
}

static int parse_listen(const char *s, char *addr, size_t cap, uint16_t *port)
{
	const char *why = NULL;

	if (ndx_args_listen(s, addr, cap, port, &why) != NDX_OK) {
		fprintf(stderr, PROG ": --listen \"%s\": %s\n", s, why);
		return -1;
	}
	return 0;
}

/* unix:PATH (absolute, short enough for sun_path) into path; 1 when s is
 * not a unix: address, -1 after a message when it is a bad one. */
static int parse_unix_listen(const char *s, const char **path)
{
	if (strncmp(s, "unix:", 5) != 0)
		return 1;
	*path = s + 5;
	if ((*path)[0] != '/' || strlen(*path) > NDX_UNIX_PATH_MAX) {
		fprintf(stderr, PROG ": --listen \"%s\": unix: needs an absolute path of at most %d bytes\n",
			s, NDX_UNIX_PATH_MAX);
		return -1;
	}
	return 0;
}

/* The access log's key: --log-key, or the database's path + ".log-key". */
static int load_log_key(const char *key_file, const char *db)
{
	char path[4096];
	int rc, n;

	if (!key_file) {
		n = snprintf(path, sizeof path, "%s.log-key", db);
		if (n < 0 || (size_t)n >= sizeof path) {
			fprintf(stderr, PROG ": --db is too long\n");
			return -1;
		}
		key_file = path;
	}
	if ((rc = ndx_redact_load_key(key_file)) != NDX_OK) {
		fprintf(stderr, PROG ": cannot use the log key %s: %s\n", key_file,
			ndx_strerror(rc));
		return -1;
	}
	return 0;
}

/* The events of a sector that publishes or applies some (docs/sectors.md
 * "Events"): the outbox tables, the publisher draining them, the
 * subscriber applying the inbox. 0, or -1 after a message. */
static int start_events(const struct sector_def *def, struct store *st, struct api *api,
			const char *db, const char *gateway, const char *client, long poll_ms,
			struct outbox_publisher **pub, struct apply_subscriber **sub)
{
	struct store_conn *c;
	int rc, publishes = 0;

	for (size_t i = 0; i < def->ntables; i++)
		publishes |= outbox_table_publishes(def, &def->tables[i]);
	if (!publishes && !apply_sector_subscribes(def)) {
		fprintf(stderr, PROG ": %s neither publishes nor applies events\n", def->name);
		return 0;
	}
	/* On PostgreSQL the schema has its outbox and event_applied
	 * (store_pg.h, version 3). */
	if (!store_engine_pg(st)) {
		c = store_acquire(st);
		rc = outbox_tables(store_conn_db(c));
		store_release(st, c);
		if (rc)
			return -1;
	}
	if (publishes) {
		if (outbox_publisher_start(db, def, gateway, client, PROG, pub))
			return -1;
		api_set_events(api, client, *pub);
	}
	if (apply_sector_subscribes(def) &&
	    apply_subscriber_start(db, def, gateway, client, PROG, poll_ms, *pub, sub))
		return -1;
	fprintf(stderr, PROG ": events through %s as %s:%s%s\n", gateway, client,
		publishes ? " publishing" : "", *sub ? " subscribing" : "");
	return 0;
}

static int cmd_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "sector", required_argument, NULL, 's' },
		{ "db", required_argument, NULL, 'd' },
		{ "listen", required_argument, NULL, 'l' },
		{ "threads", required_argument, NULL, 't' },
		{ "max-body", required_argument, NULL, 'b' },
		{ "socket-mode", required_argument, NULL, 'm' },
		{ "log-key", required_argument, NULL, 'k' },
		{ "events-gateway", required_argument, NULL, 'g' },
		{ "events-client", required_argument, NULL, 'c' },
		{ "events-poll-ms", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *events_gateway = NULL, *events_client = NULL;
	unsigned long long poll_ms = 1000;
	struct outbox_publisher *publisher = NULL;
	struct apply_subscriber *subscriber = NULL;
	const char *sector = NULL, *db = NULL, *listen = "127.0.0.1:4600";
	const char *unix_path = NULL, *log_key = NULL;
	unsigned socket_mode = 0600;
	unsigned long long threads = 4, max_body = SECTOR_MAX_BODY_DEFAULT;
	const struct sector_def *def;
	struct store *st = NULL;
	struct api *api = NULL;
	struct ndx_httpd *srv = NULL;
	char addr[64];
	uint16_t port;
	sigset_t sigs;
	int c, sig, rc = 1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's': sector = optarg; break;
		case 'd': db = optarg; break;
		case 'l': listen = optarg; break;
		case 't':
			if (ndx_args_uint_opt(PROG, "--threads", optarg, 1, 64, &threads))
				return 2;
			break;
		case 'b':
			if (ndx_args_uint_opt(PROG, "--max-body", optarg, 1, 1 << 24, &max_body))
				return 2;
			break;
		case 'm':
			if (strcmp(optarg, "0600") == 0 || strcmp(optarg, "600") == 0) {
				socket_mode = 0600;
			} else if (strcmp(optarg, "0660") == 0 || strcmp(optarg, "660") == 0) {
				socket_mode = 0660;
			} else {
				fprintf(stderr, PROG ": --socket-mode: 0600 or 0660, not \"%s\"\n",
					optarg);
				return 2;
			}
			break;
		case 'k': log_key = optarg; break;
		case 'g': events_gateway = optarg; break;
		case 'c': events_client = optarg; break;
		case 'p':
			if (ndx_args_uint_opt(PROG, "--events-poll-ms", optarg, 10, 600000, &poll_ms))
				return 2;
			break;
		case 'h': fputs(SERVE_HELP, stdout); return 0;
		default: fputs(SERVE_HELP, stderr); return 2;
		}
	}
	if (!events_gateway != !events_client) {
		fprintf(stderr, PROG " serve: --events-gateway and --events-client go together\n");
		return 2;
	}
	if (events_gateway && strncmp(events_gateway, "http://", 7) != 0 &&
	    strncmp(events_gateway, "https://", 8) != 0) {
		fprintf(stderr, PROG " serve: --events-gateway: expected an http:// or https:// URL\n");
		return 2;
	}
	if (!sector || !db || optind != argc) {
		fprintf(stderr, PROG " serve: %s\n%s",
			optind != argc ? "unexpected argument" : "--sector and --db are required",
			SERVE_HELP);
		return 2;
	}
	if (!(def = sector_arg(sector)))
		return 2;
	if (ndx_sqldb_is_pg(db)) {
		/* No file beside which to keep the key. */
		if (!log_key) {
			fprintf(stderr, PROG " serve: --log-key FILE is required with a postgresql:// --db\n");
			return 2;
		}
	}
	switch (parse_unix_listen(listen, &unix_path)) {
	case 0: break;
	case 1:
		if (parse_listen(listen, addr, sizeof addr, &port))
			return 2;
		break;
	default: return 2;
	}
	if (load_log_key(log_key, db))
		return 1;
	if (store_open(db, def, 1, (unsigned)threads, &st) || api_new(def, st, &api))
		goto out;
	if (events_client && start_events(def, st, api, db, events_gateway, events_client,
					  (long)poll_ms, &publisher, &subscriber))
		goto out;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	struct sec_metrics metrics = { .api = api, .st = st, .def = def,
				       .outbox = publisher != NULL };
	struct ndx_httpd_config hcfg = {
		.name = PROG, .bind_addr = unix_path ? NULL : addr, .port = unix_path ? 0 : port,
		.unix_path = unix_path, .unix_mode = socket_mode, .threads = (unsigned)threads,
		.max_body = (size_t)max_body, .handler = sec_metrics_handle, .ctx = &metrics,
		.access_log = 1,
	};
	if (ndx_httpd_start(&hcfg, &srv))
		goto out;
	if (unix_path)
		fprintf(stderr, PROG ": %s listening on unix:%s\n", def->name, unix_path);
	else
		fprintf(stderr, PROG ": %s listening on http://%s:%u\n", def->name, addr,
			(unsigned)ndx_httpd_port(srv));
	if (sigwait(&sigs, &sig) != 0)
		goto out;
	fprintf(stderr, PROG ": %s received, stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
	rc = 0;
out:
	ndx_httpd_stop(srv);
	apply_subscriber_stop(subscriber);
	outbox_publisher_stop(publisher);
	api_free(api);
	store_close(st);
	return rc;
}

static int parse_day(const char *s, time_t *out)
{
	struct tm tm;
	char *end;

	memset(&tm, 0, sizeof tm);
	end = strptime(s, "%Y-%m-%d", &tm);
	if (!end || *end || tm.tm_year < 70 || tm.tm_year > 300) {
		fprintf(stderr, PROG ": --today: expected YYYY-MM-DD, got \"%s\"\n", s);
		return -1;
	}
	tm.tm_hour = 12;
	*out = timegm(&tm);
	return 0;
}

/* --defects RATE: a share from 0 to 1. */
static int parse_rate(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= 0 && v <= 1)) {
		fprintf(stderr, PROG ": --defects: expected a share from 0 to 1 (0.02 = 2 %%), got \"%s\"\n",
			s);
		return -1;
	}
	*out = v;
	return 0;
}

static int cmd_seed(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "db-dir", required_argument, NULL, 'd' },
		{ "citizens", required_argument, NULL, 'n' },
		{ "seed", required_argument, NULL, 's' },
		{ "today", required_argument, NULL, 't' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "defects", required_argument, NULL, 'D' },
		{ "truth", required_argument, NULL, 'T' },
		{ "sector", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct seed_opts o = { .citizens = 2000, .seed = 1, .progress = 1 };
	struct seed_stats stats;
	unsigned long long v;
	json_t *out, *sectors;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': o.dir = optarg; break;
		case 'n':
			if (ndx_args_uint_opt(PROG, "--citizens", optarg, 1, SEED_MAX_CITIZENS, &v))
				return 2;
			o.citizens = v;
			break;
		case 's':
			if (ndx_args_uint_opt(PROG, "--seed", optarg, 0, UINT64_MAX, &v))
				return 2;
			o.seed = v;
			break;
		case 't':
			if (parse_day(optarg, &o.today))
				return 2;
			break;
		case 'q': o.progress = 0; break;
		case 'D':
			if (parse_rate(optarg, &o.defects))
				return 2;
			break;
		case 'S':
			if (!(o.only = sector_arg(optarg)))
				return 2;
			break;
		case 'T': o.truth_path = optarg; break;
		case 'h': fputs(SEED_HELP, stdout); return 0;
		default: fputs(SEED_HELP, stderr); return 2;
		}
	}
	if (!o.dir || optind != argc) {
		fprintf(stderr, PROG " seed: %s\n%s",
			optind != argc ? "unexpected argument" : "--db-dir is required", SEED_HELP);
		return 2;
	}
	if (check_db("seed", "--db-dir", o.dir))
		return 2;
	/* No directory to keep the ground truth in. */
	if (o.defects > 0 && ndx_sqldb_is_pg(o.dir) && !o.truth_path) {
		fprintf(stderr, PROG " seed: --truth FILE is required with --defects and a"
				" postgresql:// --db-dir\n");
		return 2;
	}
	rc = seed_run(&o, &stats);
	if (rc) {
		fprintf(stderr, PROG " seed: failed: %s\n", ndx_strerror(rc));
		return 1;
	}
	sectors = json_object();
	uint64_t total_bytes = 0;
	for (size_t i = 0; i < SECTOR_COUNT; i++) {
		const struct sector_def *d = sector_at(i);
		if (o.only && o.only != d)
			continue;
		json_t *rows = json_object();
		for (size_t t = 0; t < d->ntables; t++)
			json_object_set_new(rows, d->tables[t].name,
					    json_integer((json_int_t)stats.rows[i][t]));
		json_object_set_new(sectors, d->name,
				    json_pack("{sosI}", "rows", rows, "bytes",
					      (json_int_t)stats.bytes[i]));
		total_bytes += stats.bytes[i];
	}
	out = json_pack("{sssIsIsosfsfsfsI}", "db_dir", o.dir, "citizens", (json_int_t)o.citizens,
			"seed", (json_int_t)o.seed, "sectors", sectors, "insert_seconds",
			stats.insert_seconds, "index_seconds", stats.index_seconds,
			"total_seconds", stats.total_seconds, "total_bytes",
			(json_int_t)total_bytes);
	if (out && o.defects > 0) {
		json_t *kinds = json_object();
		for (int k = 0; k < DEFECT_KIND_COUNT; k++)
			json_object_set_new(kinds, defect_kind_name(k),
					    json_integer((json_int_t)stats.defects.count[k]));
		json_object_set_new(out, "defects",
				    json_pack("{sfsssO}", "rate", o.defects, "truth",
					      o.truth_path ? o.truth_path : SEED_TRUTH_FILE, "kinds",
					      kinds));
		json_decref(kinds);
	}
	if (out) {
		json_dumpf(out, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
	}
	json_decref(out);
	fprintf(stderr, PROG " seed: %llu citizens in %.1f s (insert %.1f s, index %.1f s), %.1f MB\n",
		(unsigned long long)o.citizens, stats.total_seconds, stats.insert_seconds,
		stats.index_seconds, (double)total_bytes / 1e6);
	return 0;
}

static int cmd_quality(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "sector", required_argument, NULL, 's' },
		{ "db", required_argument, NULL, 'd' },
		{ "db-dir", required_argument, NULL, 'D' },
		{ "stale-days", required_argument, NULL, 'a' },
		{ "samples", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct quality_opts o = { .stale_days = 365, .samples = 10 };
	const char *sector = NULL;
	char path[4096];
	unsigned long long v;
	json_t *report = NULL;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's': sector = optarg; break;
		case 'd': o.db_path = optarg; break;
		case 'D': o.db_dir = optarg; break;
		case 'a':
			if (ndx_args_uint_opt(PROG, "--stale-days", optarg, 0, 100000, &v))
				return 2;
			o.stale_days = (unsigned)v;
			break;
		case 'n':
			if (ndx_args_uint_opt(PROG, "--samples", optarg, 0, 1000, &v))
				return 2;
			o.samples = (unsigned)v;
			break;
		case 'h': fputs(QUALITY_HELP, stdout); return 0;
		default: fputs(QUALITY_HELP, stderr); return 2;
		}
	}
	if (!sector || (!o.db_path && !o.db_dir) || optind != argc) {
		fprintf(stderr, PROG " quality: %s\n%s",
			optind != argc ? "unexpected argument"
				       : "--sector and one of --db, --db-dir are required",
			QUALITY_HELP);
		return 2;
	}
	if (!(o.def = sector_arg(sector)))
		return 2;
	/* On PostgreSQL the sectors are the schemas of one database: --db-dir
	 * URL reads the sector's and looks up references in the others. */
	if (!o.db_path && ndx_sqldb_is_pg(o.db_dir))
		o.db_path = o.db_dir;
	if (!o.db_path) {
		int n = snprintf(path, sizeof path, "%s/%s.db", o.db_dir, o.def->name);
		if (n < 0 || (size_t)n >= sizeof path) {
			fprintf(stderr, PROG " quality: --db-dir is too long\n");
			return 2;
		}
		o.db_path = path;
	}
	if ((rc = quality_run(&o, &report)))
		return 1;
	json_dumpf(report, stdout, JSON_INDENT(2));
	fputc('\n', stdout);
	quality_print_summary(report, stderr);
	rc = quality_findings(report) ? 3 : 0;
	json_decref(report);
	return rc;
}

static int cmd_reconcile(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "sector", required_argument, NULL, 's' },
		{ "db", required_argument, NULL, 'd' },
		{ "gateway", required_argument, NULL, 'g' },
		{ "client", required_argument, NULL, 'c' },
		{ "service", required_argument, NULL, 'S' },
		{ "purpose", required_argument, NULL, 'p' },
		{ "batch", required_argument, NULL, 'b' },
		{ "rate", required_argument, NULL, 'r' },
		{ "truth", required_argument, NULL, 't' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct reconcile_opts o = { .service = RECONCILE_SERVICE, .purpose = RECONCILE_PURPOSE,
				    .batch = 100, .rate = 500 };
	const char *sector = NULL;
	unsigned long long v;
	json_t *report = NULL;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's': sector = optarg; break;
		case 'd': o.db_path = optarg; break;
		case 'g': o.gateway = optarg; break;
		case 'c': o.client = optarg; break;
		case 'S': o.service = optarg; break;
		case 'p': o.purpose = optarg; break;
		case 'b':
			if (ndx_args_uint_opt(PROG, "--batch", optarg, 1, VERIFY_MAX_RECORDS, &v))
				return 2;
			o.batch = (size_t)v;
			break;
		case 'r':
			if (ndx_args_uint_opt(PROG, "--rate", optarg, 0, 1000000, &v))
				return 2;
			o.rate = (double)v;
			break;
		case 't': o.truth_path = optarg; break;
		case 'q': o.quiet = 1; break;
		case 'h': fputs(RECONCILE_HELP, stdout); return 0;
		default: fputs(RECONCILE_HELP, stderr); return 2;
		}
	}
	if (!sector || !o.db_path || !o.gateway || !o.client || optind != argc) {
		fprintf(stderr, PROG " reconcile: %s\n%s",
			optind != argc ? "unexpected argument"
				       : "--sector, --db, --gateway and --client are required",
			RECONCILE_HELP);
		return 2;
	}
	if (strncmp(o.gateway, "http://", 7) != 0 && strncmp(o.gateway, "https://", 8) != 0) {
		fprintf(stderr, PROG " reconcile: --gateway: expected an http:// or https:// URL\n");
		return 2;
	}
	if (!(o.def = sector_arg(sector)))
		return 2;
	if (check_db("reconcile", "--db", o.db_path))
		return 2;
	if (reconcile_run(&o, &report))
		return 1;
	json_dumpf(report, stdout, JSON_INDENT(2));
	fputc('\n', stdout);
	fprintf(stderr, PROG " reconcile: %s run %lld: %lld records checked, %lld match, %zu findings\n",
		o.def->name, (long long)json_integer_value(json_object_get(report, "run")),
		(long long)json_integer_value(json_object_get(report, "records_checked")),
		(long long)json_integer_value(json_object_get(report, "matches")),
		json_array_size(json_object_get(report, "findings")));
	json_decref(report);
	return 0;
}

static int cmd_worklist(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "sector", required_argument, NULL, 's' },
		{ "db", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct sector_def *def;
	const char *sector = NULL, *db = NULL;
	json_t *out = NULL;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's': sector = optarg; break;
		case 'd': db = optarg; break;
		case 'h': fputs(WORKLIST_HELP, stdout); return 0;
		default: fputs(WORKLIST_HELP, stderr); return 2;
		}
	}
	if (!sector || !db || optind != argc) {
		fprintf(stderr, PROG " worklist: %s\n%s",
			optind != argc ? "unexpected argument" : "--sector and --db are required",
			WORKLIST_HELP);
		return 2;
	}
	if (!(def = sector_arg(sector)))
		return 2;
	if (check_db("worklist", "--db", db))
		return 2;
	if (reconcile_worklist(def, db, &out))
		return 1;
	json_dumpf(out, stdout, JSON_INDENT(2));
	fputc('\n', stdout);
	json_decref(out);
	return 0;
}

static int cmd_correct(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "sector", required_argument, NULL, 's' },
		{ "db", required_argument, NULL, 'd' },
		{ "table", required_argument, NULL, 't' },
		{ "key", required_argument, NULL, 'k' },
		{ "field", required_argument, NULL, 'f' },
		{ "value", required_argument, NULL, 'v' },
		{ "officer", required_argument, NULL, 'o' },
		{ "events-client", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct reconcile_correction r = { 0 };
	const char *sector = NULL;
	json_t *out = NULL;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's': sector = optarg; break;
		case 'd': r.db_path = optarg; break;
		case 't': r.table = optarg; break;
		case 'k': r.key = optarg; break;
		case 'f': r.field = optarg; break;
		case 'v': r.value = optarg; break;
		case 'o': r.officer = optarg; break;
		case 'c': r.events_client = optarg; break;
		case 'h': fputs(CORRECT_HELP, stdout); return 0;
		default: fputs(CORRECT_HELP, stderr); return 2;
		}
	}
	if (!sector || !r.db_path || !r.table || !r.key || !r.field || !r.officer ||
	    optind != argc) {
		fprintf(stderr, PROG " correct: %s\n%s",
			optind != argc ? "unexpected argument"
				       : "--sector, --db, --table, --key, --field and --officer are required",
			CORRECT_HELP);
		return 2;
	}
	const char *why = NULL;
	if (!*r.officer || strlen(r.officer) > 200 ||
	    ndx_text_check(r.officer, strlen(r.officer), NULL, &why) != NDX_OK) {
		fprintf(stderr, PROG " correct: --officer: %s\n",
			why ? why : "a name of 1 to 200 bytes");
		return 2;
	}
	if (!(r.def = sector_arg(sector)))
		return 2;
	if (check_db("correct", "--db", r.db_path))
		return 2;
	if (reconcile_correct(&r, &out))
		return 1;
	json_dumpf(out, stdout, JSON_INDENT(2));
	fputc('\n', stdout);
	json_decref(out);
	return 0;
}

static int cmd_openapi(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "sector", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct sector_def *def;
	const char *sector = NULL;
	json_t *doc;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's': sector = optarg; break;
		case 'h': fputs(OPENAPI_HELP, stdout); return 0;
		default: fputs(OPENAPI_HELP, stderr); return 2;
		}
	}
	if (!sector || optind != argc) {
		fprintf(stderr, PROG " openapi: %s\n%s",
			optind != argc ? "unexpected argument" : "--sector is required", OPENAPI_HELP);
		return 2;
	}
	if (!(def = sector_arg(sector)))
		return 2;
	if (!(doc = openapi_build(def)))
		return 1;
	json_dumpf(doc, stdout, JSON_INDENT(2));
	fputc('\n', stdout);
	json_decref(doc);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct ndx_cmd cmds[] = {
		{ "serve", NULL, cmd_serve },
		{ "seed", NULL, cmd_seed },
		{ "quality", NULL, cmd_quality },
		{ "reconcile", NULL, cmd_reconcile },
		{ "worklist", NULL, cmd_worklist },
		{ "correct", NULL, cmd_correct },
		{ "openapi", NULL, cmd_openapi },
	};

	/* The databases hold a whole population, the log key is a secret:
	 * nothing this daemon makes is for other users (T34). */
	umask(077);
	return ndx_cmd_main(PROG, NDX_VERSION, USAGE, cmds, sizeof cmds / sizeof cmds[0], argc,
			    argv);
}
