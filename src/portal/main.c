/* ndx-portal: the citizen portal and the officers' desk. This file only
 * parses the command line (serve, officer add) and wires the parts
 * together: config.c reads the configuration, store.c keeps sessions and
 * procedures, libndx's oidc_rp.c signs citizens in with the e-ID, exchange.c talks to
 * the portal's gateway and the consent service, procedures.c and citizen.c
 * do the work, api.c / auth.c / static.c answer HTTP. Overview:
 * docs/portal.md. */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"
#include "api.h"
#include "config.h"
#include "ndx/cmd.h"
#include "ndx/err.h"
#include "ndx/file.h"
#include "ndx/httpd.h"
#include "ndx/id.h"
#include "ndx/password.h"
#include "ndx/pin.h"
#include "ndx/oidc_rp.h"
#include "notify.h"
#include "ops.h"
#include "portal.h"
#include "portal_metrics.h"
#include "store.h"

#ifndef NDX_VERSION
#define NDX_VERSION "unknown"
#endif

#define PROG PORTAL_PROG
/* The installed configuration directory (meson.build, docs/install.md). */
#ifndef NDX_CONF_DIR
#define NDX_CONF_DIR "/etc/ndx"
#endif
#define DEFAULT_CONFIG NDX_CONF_DIR "/portal.json"
#define CONFIG_OPT_HELP \
	"  --config FILE         the configuration (default " DEFAULT_CONFIG ")\n"
#define PATH_BUF 4096

static const char USAGE[] =
	"usage: " PROG " serve [--config FILE]\n"
	"       " PROG " officer add [--config FILE] --username U --name NAME --agency MEMBER\n"
	"                           --password-file F [--cost default|min]\n"
	"       " PROG " official add [--config FILE] --pin PIN --name NAME\n"
	"                            --role operator|agency|auditor --member MEMBER\n"
	"       " PROG " official remove [--config FILE] --pin PIN\n"
	"       " PROG " official list [--config FILE]\n"
	"       " PROG " --version | --help\n"
	"The national public-service portal: citizens sign in with the e-ID and file\n"
	"procedures; officers decide them. Every command reads the JSON configuration\n"
	"FILE, by default " DEFAULT_CONFIG " (docs/portal.md, docs/install.md).\n"
	"Officers and officials are managed on the portal's pages /admin/officers and\n"
	"/admin/officials by an operator official (agency officials: their own\n"
	"member's officers); `official add` is for the first operator, before anyone\n"
	"can sign in there, and for scripts (docs/portal.md \"Administration\").\n"
	"Run `" PROG " COMMAND --help` for the options of a command.\n";

static const char SERVE_HELP[] =
	"usage: " PROG " serve [--config FILE]\n"
	"Serves the portal until SIGINT or SIGTERM, as the JSON configuration FILE says\n"
	"(listen address, default 127.0.0.1:4450; public_url; data_dir, where\n"
	"portal.db is created; store, a postgresql:// connection string without a\n"
	"password for the portal's database instead of portal.db, docs/scale.md;\n"
	"web_dir; assets_dir; chart_assets_dir; oidc; exchange;\n"
	"consent_service; monitor, the operations centre's source and where the\n"
	"procedures are pushed for misuse detection; payment; smtp, the server that\n"
	"e-mails citizens who gave an address; holidays_file, the public holidays the\n"
	"processing deadlines skip, a malformed one refused with its line and one\n"
	"without this year a warning; session_minutes).\n"
	"Prints \"" PROG ": listening on http://ADDR:PORT\" on stderr\n"
	"once ready. The e-ID need not be up: it is asked again at the first sign-in.\n"
	CONFIG_OPT_HELP;

static const char OFFICER_HELP[] =
	"usage: " PROG " officer add [--config FILE] --username U --name NAME --agency MEMBER\n"
	"                           --password-file F [--cost default|min]\n"
	"Adds an officer account to the portal's database (store or data_dir of FILE), or\n"
	"replaces the name, agency and password of an existing one. The officer sees\n"
	"and decides the procedures handled by MEMBER (VN/GOV/BTC: household-business,\n"
	"VN/GOV/BCA: residence-change). The password is stored as an Argon2id hash.\n"
	"Officials manage officers on the portal's page /admin/officers, where the\n"
	"password is made by the portal; this command is for bootstrapping and scripts.\n"
	"Replacing an officer ends their open sessions. Each change is in the audit\n"
	"trail (/admin/audit) with the actor cli:USER, the Unix user running this.\n"
	CONFIG_OPT_HELP
	"  --username U          1-64 of A-Z a-z 0-9 . _ - @ (required)\n"
	"  --name NAME           the name shown to citizens and colleagues (required)\n"
	"  --agency MEMBER       a member id, e.g. VN/GOV/BTC (required)\n"
	"  --password-file F     a file holding the password (one line; required)\n"
	"  --cost default|min    Argon2id cost: default (t=3, 64 MiB) or min (t=1,\n"
	"                        8 MiB; for tests and demos only). Default: default\n";

static const char OFFICIAL_HELP[] =
	"usage: " PROG " official add [--config FILE] --pin PIN --name NAME\n"
	"                            --role operator|agency|auditor --member MEMBER\n"
	"       " PROG " official remove [--config FILE] --pin PIN\n"
	"       " PROG " official list [--config FILE]\n"
	"Officials of the operations centre (/ops, docs/portal.md \"Officials\"): people\n"
	"who sign in with the national e-ID (their personal number PIN) and see the\n"
	"exchange's figures. operator: the whole federation; agency: only MEMBER's\n"
	"exchanges; auditor: read-only like operator. add replaces name, role and\n"
	"member of a PIN already listed. Run `official add --role operator` once for\n"
	"the first operator: from then on operators manage officials and officers on\n"
	"the portal's pages /admin/officials and /admin/officers, every change in its\n"
	"audit trail (/admin/audit). Changes made here are in that trail too, with\n"
	"the actor cli:USER, the Unix user running this command.\n"
	CONFIG_OPT_HELP
	"  --pin PIN         the official's 12-digit personal number\n"
	"  --name NAME       the official's name and title, as pages show it\n"
	"  --role ROLE       operator, agency or auditor\n"
	"  --member MEMBER   the member the official works for, e.g. VN/GOV/TCT\n";

static int open_store(const struct pconfig *cfg, struct pstore **st)
{
	char db[PATH_BUF];
	int n;

	if (ndx_mkdirs(cfg->data_dir, 0700) != NDX_OK) {
		fprintf(stderr, PROG ": cannot create %s: %s\n", cfg->data_dir, strerror(errno));
		return -1;
	}
	/* "store" (checked by the configuration: a postgresql:// string
	 * without a password), else DATA/portal.db. */
	n = cfg->store ? snprintf(db, sizeof db, "%s", cfg->store)
		       : snprintf(db, sizeof db, "%s/%s", cfg->data_dir, PSTORE_DB_FILE);
	if (n < 0 || (size_t)n >= sizeof db) {
		fprintf(stderr, PROG ": %s is too long\n", cfg->store ? "store" : "data_dir");
		return -1;
	}
	return pstore_open(db, st) == NDX_OK ? 0 : -1;
}

/* ---- officer add --------------------------------------------------------- */

/* The command line as the audit trail's actor (docs/portal.md
 * "Administration"): name "cli:USER", USER the Unix account the command
 * runs as (its effective uid; "uid N" when it has no name), with "(sudo:
 * NAME)" when root runs it through sudo, which says who asked; role "cli",
 * no PIN and no member. name holds cap bytes and backs by->name. */
static void cli_actor(char *name, size_t cap, struct padmin_actor *by)
{
	struct passwd pw, *res = NULL;
	char buf[2048];
	uid_t uid = geteuid();
	const char *sudo = getenv("SUDO_USER");
	int n;

	if (getpwuid_r(uid, &pw, buf, sizeof buf, &res) == 0 && res)
		n = snprintf(name, cap, "cli:%s", res->pw_name);
	else
		n = snprintf(name, cap, "cli:uid %u", (unsigned)uid);
	if (uid == 0 && sudo && *sudo && n > 0 && (size_t)n < cap)
		snprintf(name + n, cap - (size_t)n, " (sudo: %s)", sudo);
	*by = (struct padmin_actor){ .pin = "", .name = name, .role = "cli", .member = "" };
}

static int cmd_officer(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "username", required_argument, NULL, 'u' },
		{ "name", required_argument, NULL, 'n' },
		{ "agency", required_argument, NULL, 'a' },
		{ "password-file", required_argument, NULL, 'p' },
		{ "cost", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = DEFAULT_CONFIG, *user = NULL, *name = NULL, *agency = NULL, *pwfile = NULL;
	const char *why = NULL;
	const struct ndx_password_cost *cost = &NDX_PASSWORD_COST_DEFAULT;
	struct pconfig *cfg = NULL;
	struct pstore *st = NULL;
	struct pofficer o;
	struct ndx_id id;
	struct padmin_actor by;
	char actor[256];
	char *pw = NULL;
	size_t len;
	int c, rc = 1, replaced;

	if (argc < 2 || strcmp(argv[1], "add") != 0) {
		if (argc >= 2 && strcmp(argv[1], "--help") == 0) {
			fputs(OFFICER_HELP, stdout);
			return 0;
		}
		fputs(OFFICER_HELP, stderr);
		return 2;
	}
	argc--;
	argv++;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'u': user = optarg; break;
		case 'n': name = optarg; break;
		case 'a': agency = optarg; break;
		case 'p': pwfile = optarg; break;
		case 'k':
			if (strcmp(optarg, "default") == 0) {
				cost = &NDX_PASSWORD_COST_DEFAULT;
			} else if (strcmp(optarg, "min") == 0) {
				cost = &NDX_PASSWORD_COST_MIN;
			} else {
				fprintf(stderr, PROG ": --cost: expected default or min\n");
				return 2;
			}
			break;
		case 'h': fputs(OFFICER_HELP, stdout); return 0;
		default: fputs(OFFICER_HELP, stderr); return 2;
		}
	}
	if (!user || !name || !agency || !pwfile || optind != argc) {
		fprintf(stderr, PROG " officer add: %s\n%s",
			optind != argc ? "unexpected argument"
				       : "--username, --name, --agency and "
					 "--password-file are required",
			OFFICER_HELP);
		return 2;
	}
	if (!admin_username_ok(user)) {
		fprintf(stderr, PROG ": --username: 1-64 of A-Z a-z 0-9 . _ - @\n");
		return 2;
	}
	if (!*name || strlen(name) >= sizeof o.name) {
		fprintf(stderr, PROG ": --name: 1-%zu bytes\n", sizeof o.name - 1);
		return 2;
	}
	if (ndx_id_parse(agency, strlen(agency), NDX_ID_MEMBER, &id, &why) != NDX_OK ||
	    strlen(agency) >= sizeof o.agency) {
		fprintf(stderr, PROG ": --agency: not a member id: %s\n", why ? why : "too long");
		return 2;
	}
	if ((c = ndx_file_read(pwfile, NDX_PASSWORD_MAX + 2, &pw, &len)) != NDX_OK) {
		fprintf(stderr, PROG ": cannot read %s: %s\n", pwfile, ndx_strerror(c));
		return 1;
	}
	while (len && (pw[len - 1] == '\n' || pw[len - 1] == '\r'))
		pw[--len] = '\0';
	if (len == 0 || strlen(pw) != len) {
		fprintf(stderr, PROG ": %s: the password is empty or holds a NUL byte\n", pwfile);
		goto out;
	}
	if (pconfig_load(config, &cfg) != NDX_OK || open_store(cfg, &st))
		goto out;
	memset(&o, 0, sizeof o);
	snprintf(o.username, sizeof o.username, "%s", user);
	snprintf(o.name, sizeof o.name, "%s", name);
	snprintf(o.agency, sizeof o.agency, "%s", agency);
	if ((c = ndx_password_hash(pw, cost, o.password_hash)) != NDX_OK) {
		fprintf(stderr, PROG ": cannot hash the password: %s\n", ndx_strerror(c));
		goto out;
	}
	cli_actor(actor, sizeof actor, &by);
	if ((c = pstore_officer_put(st, &o, &by, time(NULL), &replaced)) != NDX_OK) {
		fprintf(stderr, PROG ": cannot store the officer: %s\n", ndx_strerror(c));
		goto out;
	}
	printf("officer %s %s (%s)\n", user, replaced ? "updated" : "added", agency);
	rc = 0;
out:
	if (pw) {
		OPENSSL_cleanse(pw, len);
		free(pw);
	}
	pstore_close(st);
	pconfig_free(cfg);
	return rc;
}

/* ---- official add | remove | list ------------------------------------------ */

static int official_list(struct pstore *st)
{
	json_t *list = NULL, *o;
	size_t i;

	if (pstore_official_list(st, &list) != NDX_OK) {
		fprintf(stderr, PROG ": cannot read the officials\n");
		return 1;
	}
	json_array_foreach(list, i, o)
		printf("%s\t%s\t%s\t%s\n", json_string_value(json_object_get(o, "pin")),
		       json_string_value(json_object_get(o, "role")),
		       json_string_value(json_object_get(o, "member")),
		       json_string_value(json_object_get(o, "name")));
	json_decref(list);
	return 0;
}

/* Checks the options of add (all of them) or remove (pin only) into *o;
 * 2 after a message when one is wrong. */
static int official_check(int adding, const char *pin, const char *name, const char *role,
			  const char *member, struct pofficial *o)
{
	const char *why = NULL;
	struct ndx_id id;

	memset(o, 0, sizeof *o);
	if (!pin || ndx_pin_parse(pin, 0, NULL, &why) != NDX_OK) {
		fprintf(stderr, PROG ": --pin: %s\n", why ? why : "required");
		return 2;
	}
	snprintf(o->pin, sizeof o->pin, "%s", pin);
	if (!adding)
		return 0;
	if (!name || !*name || strlen(name) >= sizeof o->name) {
		fprintf(stderr, PROG ": --name: 1-%zu bytes\n", sizeof o->name - 1);
		return 2;
	}
	if (!role || !ops_role_known(role)) {
		fprintf(stderr, PROG ": --role: operator, agency or auditor\n");
		return 2;
	}
	if (!member || ndx_id_parse(member, strlen(member), NDX_ID_MEMBER, &id, &why) != NDX_OK ||
	    ndx_id_format(&id, o->member, sizeof o->member) < 0) {
		fprintf(stderr, PROG ": --member: not a member id: %s\n", why ? why : "required");
		return 2;
	}
	snprintf(o->name, sizeof o->name, "%s", name);
	snprintf(o->role, sizeof o->role, "%s", role);
	return 0;
}

static int cmd_official(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "pin", required_argument, NULL, 'p' },
		{ "name", required_argument, NULL, 'n' },
		{ "role", required_argument, NULL, 'r' },
		{ "member", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = DEFAULT_CONFIG, *pin = NULL, *name = NULL, *role = NULL, *member = NULL;
	const char *sub = argc >= 2 ? argv[1] : "";
	struct pconfig *cfg = NULL;
	struct pstore *st = NULL;
	struct pofficial o;
	struct padmin_actor by;
	char actor[256];
	int c, rc, replaced;

	if (strcmp(sub, "--help") == 0) {
		fputs(OFFICIAL_HELP, stdout);
		return 0;
	}
	if (strcmp(sub, "add") != 0 && strcmp(sub, "remove") != 0 && strcmp(sub, "list") != 0) {
		fputs(OFFICIAL_HELP, stderr);
		return 2;
	}
	argc--;
	argv++;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'p': pin = optarg; break;
		case 'n': name = optarg; break;
		case 'r': role = optarg; break;
		case 'm': member = optarg; break;
		case 'h': fputs(OFFICIAL_HELP, stdout); return 0;
		default: fputs(OFFICIAL_HELP, stderr); return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, PROG " official %s: unexpected argument\n%s", sub, OFFICIAL_HELP);
		return 2;
	}
	if (strcmp(sub, "list") != 0 &&
	    (rc = official_check(strcmp(sub, "add") == 0, pin, name, role, member, &o)))
		return rc;
	if (pconfig_load(config, &cfg) != NDX_OK || open_store(cfg, &st)) {
		pconfig_free(cfg);
		return 1;
	}
	rc = 1;
	cli_actor(actor, sizeof actor, &by);
	if (strcmp(sub, "list") == 0) {
		rc = official_list(st);
	} else if (strcmp(sub, "remove") == 0) {
		c = pstore_official_remove(st, o.pin, &by, time(NULL));
		if (c == NDX_OK) {
			printf("official removed\n");
			rc = 0;
		} else {
			fprintf(stderr, PROG ": %s\n", c == NDX_ENOTFOUND ? "no official has this PIN"
									  : ndx_strerror(c));
		}
	} else if ((c = pstore_official_put(st, &o, &by, time(NULL), &replaced)) != NDX_OK) {
		fprintf(stderr, PROG ": cannot store the official: %s\n", ndx_strerror(c));
	} else {
		/* Without the PIN: the demo keeps this line in its log (T34). */
		printf("official %s %s (%s, %s)\n", o.name, replaced ? "updated" : "added", o.role,
		       o.member);
		rc = 0;
	}
	pstore_close(st);
	pconfig_free(cfg);
	return rc;
}

/* ---- serve ------------------------------------------------------------------- */

/* A holidays list that names no day of this year (in Vietnam) is a
 * warning, not a refusal: the deadlines then skip weekends only, as
 * without a list, until a list for the year is put in its place. */
static void holidays_warn(const struct pconfig *cfg, time_t now)
{
	time_t vn = now + 7 * 3600;
	struct tm tm;

	gmtime_r(&vn, &tm);
	if (!cfg->holidays_file)
		fprintf(stderr, PROG ": no holidays_file: deadlines skip weekends only\n");
	else if (!holidays_cover_year(&cfg->holidays, tm.tm_year + 1900))
		fprintf(stderr,
			PROG ": warning: %s lists no public holiday in %d: this year's "
			     "deadlines skip weekends only\n",
			cfg->holidays_file, tm.tm_year + 1900);
}

static int cmd_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = DEFAULT_CONFIG;
	struct pconfig *cfg = NULL;
	struct portal portal = { 0 };
	struct ndx_httpd *srv = NULL;
	sigset_t sigs;
	int c, sig, rc = 1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'h': fputs(SERVE_HELP, stdout); return 0;
		default: fputs(SERVE_HELP, stderr); return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, PROG " serve: unexpected argument\n%s", SERVE_HELP);
		return 2;
	}
	if (pconfig_load(config, &cfg) != NDX_OK)
		return 1;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, PROG ": libcurl failed to start\n");
		pconfig_free(cfg);
		return 1;
	}
	portal.cfg = cfg;
	holidays_warn(cfg, time(NULL));
	if (open_store(cfg, &portal.st))
		goto out;
	if ((c = ndx_password_hash("no one's password", &NDX_PASSWORD_COST_DEFAULT,
				   portal.dummy_hash)) != NDX_OK) {
		fprintf(stderr, PROG ": cannot hash: %s\n", ndx_strerror(c));
		goto out;
	}
	{
		char redirect[1024], logout[1024];
		struct ndx_oidc_config ocfg = {
			.prog = PROG, .issuer = cfg->oidc_issuer, .client_id = cfg->oidc_client_id,
			.client_secret = cfg->oidc_client_secret, .redirect_uri = redirect,
			.post_logout_uri = logout,
		};

		snprintf(redirect, sizeof redirect, "%s/auth/callback", cfg->public_url);
		snprintf(logout, sizeof logout, "%s/", cfg->public_url);
		if (ndx_oidc_new(&ocfg, &portal.oidc) != NDX_OK)
			goto out;
	}
	if ((c = ndx_oidc_refresh(portal.oidc, 0)) != NDX_OK)
		fprintf(stderr, PROG ": warning: the e-ID %s is not usable yet (%s); asking again "
				"at the first sign-in\n",
			cfg->oidc_issuer, ndx_strerror(c));

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	/* Block before the pool threads start so they inherit the mask and
	 * the signals reach sigwait below. */
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	struct ndx_httpd_config hcfg = {
		.name = PROG, .bind_addr = cfg->listen_addr, .port = cfg->port,
		.threads = cfg->threads, .max_body = PORTAL_MAX_BODY, .handler = portal_metrics_handle,
		.ctx = &portal, .access_log = 1,
	};
	if (ndx_httpd_start(&hcfg, &srv) != NDX_OK)
		goto out;
	/* Without a monitoring service there is nothing to push to, and no
	 * thread. */
	if (cfg->monitor_url && procpush_start(cfg, portal.st, &portal.push) != NDX_OK)
		goto out;
	if (mailer_start(cfg, portal.st, &portal.mailer) != NDX_OK)
		goto out;
	fprintf(stderr, PROG ": public URL %s, exchange client %s\n", cfg->public_url,
		cfg->client);
	fprintf(stderr, PROG ": listening on http://%s:%u\n", cfg->listen_addr,
		(unsigned)ndx_httpd_port(srv));
	if (sigwait(&sigs, &sig) != 0)
		goto out;
	fprintf(stderr, PROG ": %s received, stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
	rc = 0;
out:
	ndx_httpd_stop(srv);
	procpush_stop(portal.push);
	mailer_stop(portal.mailer);
	ndx_oidc_free(portal.oidc);
	pstore_close(portal.st);
	OPENSSL_cleanse(portal.dummy_hash, sizeof portal.dummy_hash);
	curl_global_cleanup();
	pconfig_free(cfg);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct ndx_cmd cmds[] = {
		{ "serve", NULL, cmd_serve },
		{ "officer", NULL, cmd_officer },
		{ "official", NULL, cmd_official },
	};

	return ndx_cmd_main(PROG, NDX_VERSION, USAGE, cmds, sizeof cmds / sizeof cmds[0], argc,
			    argv);
}
