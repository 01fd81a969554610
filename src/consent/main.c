/* ndx-consent: a consent service (after India's DEPA). This file only parses
 * the command line (init, serve) and wires the parts together: cons_store.c
 * keeps the consents (on SQLite or PostgreSQL, cons_db.h), api.c answers
 * HTTP and signs consents and the revocation list. Overview:
 * docs/protocol.md "Consent artefacts", docs/scale.md "The consent service
 * on PostgreSQL". */
#include <errno.h>
#include <getopt.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api.h"
#include "cons_metrics.h"
#include "ndx/cmd.h"
#include "ndx/args.h"
#include "ndx/encode.h"
#include "ndx/err.h"
#include "ndx/file.h"
#include "ndx/hash.h"
#include "ndx/httpd.h"
#include "ndx/id.h"
#include "ndx/key.h"
#include "ndx/sqldb.h"
#include "cons_store.h"

#ifndef NDX_VERSION
#define NDX_VERSION "unknown"
#endif
/* The installed configuration directory (meson.build, docs/install.md). */
#ifndef NDX_CONF_DIR
#define NDX_CONF_DIR "/etc/ndx"
#endif

#define PROG "ndx-consent"
#define SIGN_KEY_FILE "consent-sign.key"
#define SIGN_PUB_FILE "consent-sign.pub"
#define TOKEN_FILE "admin.token"
#define TOKEN_BYTES 32
#define PATH_BUF 4096

static const char USAGE[] =
	"usage: " PROG " init --data DIR --id SUBSYSTEM_ID [--store DB]\n"
	"       " PROG " serve --data DIR [--store DB] [--listen 127.0.0.1:4500] [--threads N]\n"
	"       " PROG " --version | --help\n"
	"Configuration: the command line only, no file. As the systemd service\n"
	"ndx-consent.service (docs/install.md) it serves with the options in\n"
	"NDX_CONSENT_OPTIONS of " NDX_CONF_DIR "/consent.env.\n"
	"Run `" PROG " COMMAND --help` for the options of a command.\n";

static const char INIT_HELP[] =
	"usage: " PROG " init --data DIR --id SUBSYSTEM_ID [--store DB]\n"
	"Creates a new consent service in DIR (mode 0700): its database (consent.db,\n"
	"or the PostgreSQL database given by --store), its Ed25519 signing key\n"
	"(consent-sign.key, mode 0600; consent-sign.pub to register with\n"
	"`ndx consent-service add`) and the admin token (admin.token, mode 0600; the\n"
	"database keeps only its SHA-256). Refuses a DIR or a database that already\n"
	"holds one.\n"
	"  --data DIR          data directory (required)\n"
	"  --id SUBSYSTEM_ID   the service's subsystem id, e.g. VN/GOV/BCA/consent\n"
	"                      (required; it is the \"iss\" of every consent)\n"
	"  --store DB          the consents' database: a SQLite file (default\n"
	"                      DIR/consent.db) or a postgresql:// connection string\n"
	"                      (docs/scale.md); a password belongs in ~/.pgpass or\n"
	"                      PGPASSFILE, never in the string (refused)\n";

static const char SERVE_HELP[] =
	"usage: " PROG " serve --data DIR [options]\n"
	"Serves the consent API until SIGINT or SIGTERM. Prints\n"
	"\"" PROG ": listening on http://ADDR:PORT\" on stderr once ready.\n"
	"  --data DIR           data directory made by `" PROG " init` (required)\n"
	"  --store DB           the database given to init (default DIR/consent.db;\n"
	"                       a postgresql:// connection string: one ndx-consent\n"
	"                       serves it, a second is refused)\n"
	"  --listen ADDR:PORT   IPv4 address and port (default 127.0.0.1:4500;\n"
	"                       port 0 picks a free port)\n"
	"  --threads N          HTTP worker threads (default 4)\n"
	"  --rate-burst N       consents one subject may issue or revoke at once\n"
	"                       (default 20; 0 = no limit)\n"
	"  --rate-per-hour N    and then this many an hour (default 60)\n";



/* The database's location: --store when given (checked: a connection
 * string with a password is refused before anything is made, and never
 * printed), else DIR/consent.db. */
static int store_location(const char *dir, const char *store_loc, char *out, size_t cap)
{
	return ndx_sqldb_location(PROG, dir, CSTORE_DB_FILE, store_loc, out, cap);
}

/* ---- init --------------------------------------------------------------------- */

static int cmd_init(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "id", required_argument, NULL, 'i' },
		{ "store", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL, *idtext = NULL, *why = NULL, *store_loc = NULL;
	char db[PATH_BUF], skey[PATH_BUF], spub[PATH_BUF], tokpath[PATH_BUF];
	char canon[NDX_ID_TEXT_MAX], kid[NDX_KEY_ID_HEX_LEN + 1], hex[2 * NDX_SHA256_LEN + 1];
	const char *made[4];
	int nmade = 0, c, rc = 1;
	struct ndx_key *key = NULL;
	struct cstore *st = NULL;
	struct ndx_id id;
	uint8_t raw[TOKEN_BYTES], sha[NDX_SHA256_LEN];
	char *tok = NULL;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 'i': idtext = optarg; break;
		case 's': store_loc = optarg; break;
		case 'h': fputs(INIT_HELP, stdout); return 0;
		default: fputs(INIT_HELP, stderr); return 2;
		}
	}
	if (!dir || !idtext || optind != argc) {
		fprintf(stderr, PROG " init: %s\n%s",
			!dir ? "--data DIR is required" : !idtext ? "--id is required"
								   : "unexpected argument",
			INIT_HELP);
		return 2;
	}
	if (ndx_id_parse(idtext, strlen(idtext), NDX_ID_SUBSYSTEM, &id, &why) != NDX_OK ||
	    ndx_id_format(&id, canon, sizeof canon) < 0) {
		fprintf(stderr, PROG " init: --id: not a subsystem id: %s\n",
			why ? why : "malformed");
		return 2;
	}
	if (store_location(dir, store_loc, db, sizeof db))
		return 2;
	if (ndx_args_join(PROG, skey, sizeof skey, dir, SIGN_KEY_FILE) ||
	    ndx_args_join(PROG, spub, sizeof spub, dir, SIGN_PUB_FILE) ||
	    ndx_args_join(PROG, tokpath, sizeof tokpath, dir, TOKEN_FILE))
		return 1;
	if (access(cstore_loc_is_pg(db) ? skey : db, F_OK) == 0) {
		fprintf(stderr, PROG " init: %s exists: refusing to overwrite a consent service\n",
			cstore_loc_is_pg(db) ? skey : db);
		return 1;
	}
	if (ndx_mkdirs(dir, 0700) != NDX_OK) {
		fprintf(stderr, PROG " init: cannot create %s: %s\n", dir, strerror(errno));
		return 1;
	}
	if ((c = ndx_key_generate(&key)) || (c = ndx_key_save_private(key, skey))) {
		fprintf(stderr, PROG " init: cannot create %s: %s\n", skey, ndx_strerror(c));
		goto fail;
	}
	made[nmade++] = skey;
	if ((c = ndx_key_save_public(key, spub))) {
		fprintf(stderr, PROG " init: cannot write %s: %s\n", spub, ndx_strerror(c));
		goto fail;
	}
	made[nmade++] = spub;
	if (RAND_bytes(raw, sizeof raw) != 1 || !(tok = ndx_b64_encode(raw, sizeof raw, 1))) {
		fprintf(stderr, PROG " init: cannot make a token\n");
		goto fail;
	}
	OPENSSL_cleanse(raw, sizeof raw);
	ndx_sha256(tok, strlen(tok), sha);
	ndx_hex_encode(sha, sizeof sha, hex);
	if ((c = ndx_file_write_atomic(tokpath, tok, strlen(tok), 0600, 1))) {
		fprintf(stderr, PROG " init: cannot create %s: %s\n", tokpath, ndx_strerror(c));
		goto fail;
	}
	made[nmade++] = tokpath;
	if ((c = cstore_create(db, canon, hex, &st))) {
		if (c == NDX_EEXIST && cstore_loc_is_pg(db))
			fprintf(stderr, PROG " init: the database holds a consent service already: "
					"refusing to overwrite it\n");
		else
			fprintf(stderr, PROG " init: cannot create the database %s: %s\n",
				cstore_loc_is_pg(db) ? "(the connection string)" : db,
				ndx_strerror(c));
		goto fail;
	}
	if (!cstore_loc_is_pg(db)) {
		made[nmade++] = db;
		/* It holds the token's hash and every consent: nobody else reads it. */
		chmod(db, 0600);
	}
	ndx_key_id(key, kid);
	printf("consent service %s initialised in %s\n"
	       "  database     %s\n"
	       "  signing key  %s (public: %s)\n"
	       "  key id       %s\n"
	       "  admin token  %s\n",
	       canon, dir, cstore_name(st), skey, spub, kid, tokpath);
	rc = 0;
	goto out;
fail:
	cstore_close(st);
	st = NULL;
	while (nmade > 0)
		unlink(made[--nmade]);
out:
	cstore_close(st);
	ndx_key_free(key);
	if (tok)
		OPENSSL_cleanse(tok, strlen(tok));
	free(tok);
	return rc;
}

/* ---- serve --------------------------------------------------------------------- */

static int parse_listen(const char *s, char *addr, size_t cap, uint16_t *port)
{
	const char *why = NULL;

	if (ndx_args_listen(s, addr, cap, port, &why) != NDX_OK) {
		fprintf(stderr, PROG ": --listen \"%s\": %s\n", s, why);
		return -1;
	}
	return 0;
}

static int cmd_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "store", required_argument, NULL, 's' },
		{ "listen", required_argument, NULL, 'l' },
		{ "threads", required_argument, NULL, 't' },
		{ "rate-burst", required_argument, NULL, 'b' },
		{ "rate-per-hour", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL, *listen = "127.0.0.1:4500", *store_loc = NULL;
	unsigned long threads = 4, burst = SUBJECT_LIMIT_BURST, per_hour = SUBJECT_LIMIT_PER_HOUR;
	struct subject_limit *limit = NULL;
	struct capi_lists *lists = NULL;
	char addr[64], db[PATH_BUF], skey[PATH_BUF];
	uint16_t port;
	struct ndx_key *key = NULL;
	struct cstore *st = NULL;
	struct ndx_httpd *srv = NULL;
	sigset_t sigs;
	int c, sig, rc = 1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 's': store_loc = optarg; break;
		case 'l': listen = optarg; break;
		case 't':
			if (ndx_args_ulong_opt(PROG, "--threads", optarg, 1, 256, &threads))
				return 2;
			break;
		case 'b':
			if (ndx_args_ulong_opt(PROG, "--rate-burst", optarg, 0, 1000000, &burst))
				return 2;
			break;
		case 'r':
			if (ndx_args_ulong_opt(PROG, "--rate-per-hour", optarg, 1, 3600000,
					       &per_hour))
				return 2;
			break;
		case 'h': fputs(SERVE_HELP, stdout); return 0;
		default: fputs(SERVE_HELP, stderr); return 2;
		}
	}
	if (!dir || optind != argc) {
		fprintf(stderr, PROG " serve: %s\n%s",
			dir ? "unexpected argument" : "--data DIR is required", SERVE_HELP);
		return 2;
	}
	if (parse_listen(listen, addr, sizeof addr, &port))
		return 2;
	if (store_location(dir, store_loc, db, sizeof db))
		return 2;
	if (ndx_args_join(PROG, skey, sizeof skey, dir, SIGN_KEY_FILE))
		return 1;
	if ((c = ndx_key_load(skey, &key)) || !ndx_key_has_private(key)) {
		fprintf(stderr, PROG ": cannot load the signing key %s: %s\n", skey,
			c ? ndx_strerror(c) : "no private key");
		goto out;
	}
	if (cstore_open(db, &st))
		goto out;
	if (!(lists = capi_lists_new()) ||
	    (burst && !(limit = subject_limit_new((unsigned)burst, (unsigned)per_hour)))) {
		fprintf(stderr, PROG ": out of memory\n");
		goto out;
	}
	struct capi_config cfg = { .st = st, .key = key, .limit = limit, .lists = lists };

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	/* Block before the pool threads start so they inherit the mask and
	 * the signals reach sigwait below. */
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	struct ndx_httpd_config hcfg = {
		.name = PROG, .bind_addr = addr, .port = port, .threads = (unsigned)threads,
		.max_body = 64 * 1024, .handler = cons_metrics_handle, .ctx = &cfg, .access_log = 1,
	};
	if (ndx_httpd_start(&hcfg, &srv))
		goto out;
	fprintf(stderr, PROG ": consent service %s, database %s\n", cstore_issuer(st),
		cstore_name(st));
	fprintf(stderr, PROG ": listening on http://%s:%u\n", addr, (unsigned)ndx_httpd_port(srv));
	if (sigwait(&sigs, &sig) != 0)
		goto out;
	fprintf(stderr, PROG ": %s received, stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
	rc = 0;
out:
	ndx_httpd_stop(srv);
	cstore_close(st);
	capi_lists_free(lists);
	subject_limit_free(limit);
	ndx_key_free(key);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct ndx_cmd cmds[] = {
		{ "init", NULL, cmd_init },
		{ "serve", NULL, cmd_serve },
	};

	return ndx_cmd_main(PROG, NDX_VERSION, USAGE, cmds, sizeof cmds / sizeof cmds[0], argc,
			    argv);
}
