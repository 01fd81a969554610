/* ndx-monitor: the operator's monitoring service, a member system of the
 * exchange like any other. It collects every gateway's operational records
 * and personal-data reads through its own gateway as the configuration's
 * monitoring client (collect.c), keeps them (mstore.c, mreads.c), runs the
 * misuse detector and keeps its cases (cases.c), and serves the figures
 * and the cases the operations centre shows (api.c, cases_api.c). This
 * file parses the command line (init, serve, mandate) and wires the parts
 * together. Overview: docs/operations.md "The monitoring
 * service". */
#include <errno.h>
#include <getopt.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api.h"
#include "collect.h"
#include "indicators_cmd.h"
#include "mandate_cmd.h"
#include "misuse_cmd.h"
#include "mstore.h"
#include "ndx/sqldb.h"
#include "report.h"
#include "ndx/args.h"
#include "ndx/bearer.h"
#include "ndx/cmd.h"
#include "ndx/conf.h"
#include "ndx/err.h"
#include "ndx/file.h"
#include "ndx/httpd.h"
#include "ndx/id.h"

#ifndef NDX_VERSION
#define NDX_VERSION "unknown"
#endif
/* The installed configuration directory (meson.build, docs/install.md). */
#ifndef NDX_CONF_DIR
#define NDX_CONF_DIR "/etc/ndx"
#endif

#define PROG "ndx-monitor"
#define TOKEN_FILE "admin.token"
#define TOKEN_SHA_FILE "admin.token.sha256"
#define PATH_BUF 4096

static const char USAGE[] =
	"usage: " PROG " init --data DIR [--store DB]\n"
	"       " PROG " serve --data DIR --anchor FILE --gateway URL --client ID [options]\n"
	"       " PROG " indicator list|set|history --data DIR ...\n"
	"       " PROG " task add|list|update --data DIR ...\n"
	"       " PROG " report --data DIR --period 2026-H2 --out FILE.pdf\n"
	"       " PROG " mandate add|list|remove --data DIR ...\n"
	"       " PROG " misuse import --db FILE --input DIR\n"
	"       " PROG " misuse analyse --db FILE [--until MS] [--json]\n"
	"       " PROG " --version | --help\n"
	"Configuration: the command line only, no file. As the systemd service\n"
	"ndx-monitor.service (docs/install.md) it serves with the options in\n"
	"NDX_MONITOR_OPTIONS of " NDX_CONF_DIR "/monitor.env.\n"
	"Run `" PROG " COMMAND --help` for the options of a command.\n";

static const char INIT_HELP[] =
	"usage: " PROG " init --data DIR [--store DB]\n"
	"Creates a monitoring service in DIR (mode 0700): its store (monitor.db,\n"
	"or the PostgreSQL database given by --store) and the admin token of its\n"
	"API (admin.token, mode 0600; the service keeps only its SHA-256, in\n"
	"admin.token.sha256). Refuses a DIR or a store that already holds one.\n"
	"  --data DIR          data directory (required)\n"
	"  --store DB          the store: a SQLite file (default DIR/monitor.db) or a\n"
	"                      PostgreSQL database, postgresql://USER@HOST/DB (no\n"
	"                      password in it: ~/.pgpass or PGPASSFILE);\n"
	"                      options=-csearch_path%3Dname gives it a schema of\n"
	"                      its own\n";

static const char SERVE_HELP[] =
	"usage: " PROG " serve --data DIR --anchor FILE --gateway URL --client ID [options]\n"
	"Collects the operational records and the personal-data reads of every\n"
	"gateway in the global configuration through the exchange, runs the misuse\n"
	"detector over the reads, opens a case for each finding with the reads'\n"
	"inclusion proofs, and serves the live figures and the cases, until\n"
	"SIGINT or SIGTERM. Prints \"" PROG ": listening on http://ADDR:PORT\" on\n"
	"stderr once ready.\n"
	"  --data DIR           data directory made by `" PROG " init` (required)\n"
	"  --store DB           the store given to init (default DIR/monitor.db);\n"
	"                       one serve a PostgreSQL schema, a second refused\n"
	"  --anchor FILE        the instance's trust anchor: the configuration is\n"
	"                       taken only when its signature verifies (required)\n"
	"  --registry URL       where to fetch the configuration (default: every\n"
	"                       node the anchor lists); up to 8 times for registry\n"
	"                       nodes on one database: the one that answered last\n"
	"                       is asked first, then each other in turn\n"
	"  --gateway URL        the consumer port of this service's own gateway,\n"
	"                       e.g. http://127.0.0.1:4411 (required)\n"
	"  --client ID          the subsystem it speaks as: the configuration's\n"
	"                       monitoring client, e.g. VN/GOV/BTTTT/monitoring\n"
	"                       (required)\n"
	"  --listen ADDR:PORT   IPv4 address and port of the API (default\n"
	"                       127.0.0.1:4700; port 0 picks a free port)\n"
	"  --interval S         seconds between collection rounds (default 10)\n"
	"  --page N             records (and reads) asked per request (default 1000,\n"
	"                       1..10000)\n"
	"  --retention-days N   keep records this many days (default 200, 1..3660);\n"
	"                       personal reads too, but for those of a finding\n"
	"  --analysis-delay S   analyse a read once it is S seconds old, so that the\n"
	"                       portal's procedure opened just before it has arrived\n"
	"                       (default 60, 0..3600)\n"
	"  --measures-interval S\n"
	"                       read the registries' measures services every S\n"
	"                       seconds, at the first round after (default 3600,\n"
	"                       1..86400): each read is an exchange\n";

/* ---- init ---------------------------------------------------------------------- */

static int cmd_init(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "store", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL, *store_loc = NULL;
	char db[PATH_BUF], tokpath[PATH_BUF], shapath[PATH_BUF], hex[65];
	char *tok = NULL;
	struct mstore *st = NULL;
	int c, rc = 1, made = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 's': store_loc = optarg; break;
		case 'h': fputs(INIT_HELP, stdout); return 0;
		default: fputs(INIT_HELP, stderr); return 2;
		}
	}
	if (!dir || optind != argc) {
		fprintf(stderr, PROG " init: %s\n%s",
			dir ? "unexpected argument" : "--data DIR is required", INIT_HELP);
		return 2;
	}
	if (ndx_sqldb_location(PROG, dir, MSTORE_DB_FILE, store_loc, db, sizeof db) ||
	    ndx_args_join(PROG, tokpath, sizeof tokpath, dir, TOKEN_FILE) ||
	    ndx_args_join(PROG, shapath, sizeof shapath, dir, TOKEN_SHA_FILE))
		return 1;
	/* on PostgreSQL the directory's token is what an earlier init left */
	if (access(ndx_sqldb_is_pg(db) ? tokpath : db, F_OK) == 0) {
		fprintf(stderr, PROG " init: %s exists: refusing to overwrite a monitoring "
				"service\n", ndx_sqldb_is_pg(db) ? tokpath : db);
		return 1;
	}
	if (ndx_mkdirs(dir, 0700) != NDX_OK) {
		fprintf(stderr, PROG " init: cannot create %s: %s\n", dir, strerror(errno));
		return 1;
	}
	if ((c = ndx_bearer_new(&tok, hex)) ||
	    (c = ndx_file_write_atomic(tokpath, tok, strlen(tok), 0600, 1))) {
		fprintf(stderr, PROG " init: cannot create %s: %s\n", tokpath, ndx_strerror(c));
		goto out;
	}
	made = 1;
	if ((c = ndx_file_write_atomic(shapath, hex, strlen(hex), 0600, 1))) {
		fprintf(stderr, PROG " init: cannot create %s: %s\n", shapath, ndx_strerror(c));
		goto out;
	}
	made = 2;
	if ((c = mstore_open(db, true, &st)) != NDX_OK) {
		if (c == NDX_EEXIST)
			fprintf(stderr, PROG " init: the store already holds a monitoring service:"
					" refusing to overwrite it\n");
		goto out;
	}
	if (!ndx_sqldb_is_pg(db))
		chmod(db, 0600);
	printf("monitoring service initialised in %s\n"
	       "  database     %s\n"
	       "  admin token  %s\n",
	       dir, mstore_name(st), tokpath);
	rc = 0;
out:
	if (rc && made > 1)
		unlink(shapath);
	if (rc && made > 0)
		unlink(tokpath);
	mstore_close(st);
	if (tok)
		OPENSSL_cleanse(tok, strlen(tok));
	free(tok);
	return rc;
}

/* ---- serve ---------------------------------------------------------------------- */

static int cmd_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "store", required_argument, NULL, 's' },
		{ "anchor", required_argument, NULL, 'a' },
		{ "registry", required_argument, NULL, 'r' },
		{ "gateway", required_argument, NULL, 'g' },
		{ "client", required_argument, NULL, 'c' },
		{ "listen", required_argument, NULL, 'l' },
		{ "interval", required_argument, NULL, 'i' },
		{ "page", required_argument, NULL, 'p' },
		{ "retention-days", required_argument, NULL, 'k' },
		{ "analysis-delay", required_argument, NULL, 'y' },
		{ "measures-interval", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *registry[COLLECT_REGISTRIES_MAX];
	size_t n_registry = 0;
	const char *dir = NULL, *anchor_path = NULL, *gateway = NULL, *store_loc = NULL,
		   *client = NULL, *listen = "127.0.0.1:4700", *why = NULL;
	unsigned long interval = 10, page = 1000, keep = 200, delay = 60, measures = 3600;
	char addr[64], db[PATH_BUF], shapath[PATH_BUF], err[512], canon[NDX_ID_TEXT_MAX];
	char *sha = NULL;
	size_t shalen = 0;
	uint16_t port;
	struct ndx_anchor *anchor = NULL;
	struct mstore *st = NULL;
	struct collector *col = NULL;
	struct ndx_httpd *srv = NULL;
	struct ndx_id id;
	sigset_t sigs;
	int c, sig, rc = 1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 's': store_loc = optarg; break;
		case 'a': anchor_path = optarg; break;
		case 'r':
			if (n_registry == COLLECT_REGISTRIES_MAX) {
				fprintf(stderr, PROG " serve: --registry: at most %d\n",
					COLLECT_REGISTRIES_MAX);
				return 2;
			}
			if (strncmp(optarg, "http://", 7) != 0 &&
			    strncmp(optarg, "https://", 8) != 0) {
				fprintf(stderr, PROG " serve: --registry: expected an http:// or "
						     "https:// URL\n");
				return 2;
			}
			registry[n_registry++] = optarg;
			break;
		case 'g': gateway = optarg; break;
		case 'c': client = optarg; break;
		case 'l': listen = optarg; break;
		case 'i':
			if (ndx_args_ulong_opt(PROG, "--interval", optarg, 1, 86400, &interval))
				return 2;
			break;
		case 'p':
			if (ndx_args_ulong_opt(PROG, "--page", optarg, 1, 10000, &page))
				return 2;
			break;
		case 'k':
			if (ndx_args_ulong_opt(PROG, "--retention-days", optarg, 1, 3660, &keep))
				return 2;
			break;
		case 'y':
			if (ndx_args_ulong_opt(PROG, "--analysis-delay", optarg, 0, 3600, &delay))
				return 2;
			break;
		case 'm':
			if (ndx_args_ulong_opt(PROG, "--measures-interval", optarg, 1, 86400,
					       &measures))
				return 2;
			break;
		case 'h': fputs(SERVE_HELP, stdout); return 0;
		default: fputs(SERVE_HELP, stderr); return 2;
		}
	}
	if (!dir || !anchor_path || !gateway || !client || optind != argc) {
		fprintf(stderr, PROG " serve: %s\n%s",
			!dir ? "--data DIR is required" : !anchor_path ? "--anchor FILE is required"
			: !gateway ? "--gateway URL is required" : !client ? "--client ID is required"
			: "unexpected argument",
			SERVE_HELP);
		return 2;
	}
	if (ndx_id_parse(client, strlen(client), NDX_ID_SUBSYSTEM, &id, &why) != NDX_OK ||
	    ndx_id_format(&id, canon, sizeof canon) < 0) {
		fprintf(stderr, PROG " serve: --client: not a subsystem id: %s\n",
			why ? why : "malformed");
		return 2;
	}
	if (ndx_args_listen(listen, addr, sizeof addr, &port, &why) != NDX_OK) {
		fprintf(stderr, PROG ": --listen \"%s\": %s\n", listen, why);
		return 2;
	}
	if (strncmp(gateway, "http://", 7) != 0 && strncmp(gateway, "https://", 8) != 0) {
		fprintf(stderr, PROG " serve: --gateway: expected an http:// or https:// URL\n");
		return 2;
	}
	if (ndx_sqldb_location(PROG, dir, MSTORE_DB_FILE, store_loc, db, sizeof db) ||
	    ndx_args_join(PROG, shapath, sizeof shapath, dir, TOKEN_SHA_FILE))
		return 1;
	if (!ndx_sqldb_is_pg(db) && access(db, F_OK) != 0) {
		fprintf(stderr, PROG ": %s does not exist: run `" PROG " init --data %s` first\n",
			db, dir);
		return 1;
	}
	if ((c = ndx_file_read(shapath, 128, &sha, &shalen)) != NDX_OK || shalen != 64) {
		fprintf(stderr, PROG ": cannot read the admin token's hash %s: %s\n", shapath,
			c ? ndx_strerror(c) : "not 64 hex digits");
		goto out;
	}
	if (ndx_anchor_load(anchor_path, &anchor, err, sizeof err) != NDX_OK) {
		fprintf(stderr, PROG ": cannot load the anchor %s: %s\n", anchor_path, err);
		goto out;
	}
	if (mstore_open_to_serve(db, &st) != NDX_OK)
		goto out;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	/* Blocked before any thread starts, so that they inherit the mask and
	 * the signals reach sigwait below. */
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	struct collector_config ccfg = {
		.st = st, .anchor = anchor, .registry_urls = registry,
		.n_registry_urls = n_registry, .gateway_url = gateway,
		.client = canon, .interval_s = (unsigned)interval,
		.retention_days = (unsigned)keep, .page = (unsigned)page,
		.analysis_delay_s = (unsigned)delay, .measures_interval_s = (unsigned)measures,
	};
	if ((c = collector_start(&ccfg, &col)) != NDX_OK) {
		fprintf(stderr, PROG ": cannot start the collector: %s\n", ndx_strerror(c));
		goto out;
	}
	struct mapi_config acfg = { .st = st, .collector = col, .token_sha256 = sha,
				     .data_dir = dir, .store_loc = db };
	struct ndx_httpd_config hcfg = {
		.name = PROG, .bind_addr = addr, .port = port, .threads = 2,
		/* an indicator value's note or a task's evidence: text people
		 * write, in Vietnamese, possibly \u-escaped */
		.max_body = 64 * 1024, .handler = mapi_handle, .ctx = &acfg, .access_log = 1,
	};
	if (ndx_httpd_start(&hcfg, &srv))
		goto out;
	fprintf(stderr, PROG ": collecting as %s through %s\n", canon, gateway);
	fprintf(stderr, PROG ": listening on http://%s:%u\n", addr, (unsigned)ndx_httpd_port(srv));
	if (sigwait(&sigs, &sig) != 0)
		goto out;
	fprintf(stderr, PROG ": %s received, stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
	rc = 0;
out:
	ndx_httpd_stop(srv);
	/* The reports /api/report drew built font caches for the process. */
	report_release_fonts();
	collector_stop(col);
	mstore_close(st);
	ndx_anchor_free(anchor);
	free(sha);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct ndx_cmd cmds[] = {
		{ "init", NULL, cmd_init },
		{ "serve", NULL, cmd_serve },
		{ "indicator", "list", ind_cmd_indicator_list },
		{ "indicator", "set", ind_cmd_indicator_set },
		{ "indicator", "history", ind_cmd_indicator_history },
		{ "task", "add", ind_cmd_task_add },
		{ "task", "list", ind_cmd_task_list },
		{ "task", "update", ind_cmd_task_update },
		{ "report", NULL, ind_cmd_report },
		{ "mandate", "add", mandate_cmd_add },
		{ "mandate", "list", mandate_cmd_list },
		{ "mandate", "remove", mandate_cmd_remove },
		{ "misuse", "import", misuse_cmd_import },
		{ "misuse", "analyse", misuse_cmd_analyse },
	};

	return ndx_cmd_main(PROG, NDX_VERSION, USAGE, cmds, sizeof cmds / sizeof cmds[0], argc,
			    argv);
}
