/* ndx-id: the national e-ID, an OpenID Connect provider for citizens (the
 * VNeID role). This file only parses the command line (init, accounts
 * import, client add, serve) and wires the parts together: store.c keeps
 * accounts, clients, codes, tokens and sessions; oidc.c answers HTTP;
 * page.c renders the sign-in pages; token.c mints secrets and ID tokens;
 * rsa_sign.c keeps the RS256 key.
 * Overview: docs/id.md. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eid_events.h"
#include "eid_metrics.h"
#include "ndx/cmd.h"
#include "ndx/args.h"
#include "ndx/err.h"
#include "ndx/file.h"
#include "ndx/httpd.h"
#include "ndx/key.h"
#include "ndx/password.h"
#include "ndx/pin.h"
#include "ndx/sqldb.h"
#include "ndx/text.h"
#include "oidc.h"
#include "popsource.h"
#include "rsa_sign.h"
#include "store.h"
#include "token.h"

#ifndef NDX_VERSION
#define NDX_VERSION "unknown"
#endif
/* The installed configuration directory (meson.build, docs/install.md). */
#ifndef NDX_CONF_DIR
#define NDX_CONF_DIR "/etc/ndx"
#endif

#define PROG "ndx-id"
#define SIGN_KEY_FILE "id-sign.key"
#define SIGN_PUB_FILE "id-sign.pub"
#define SIGN_RSA_FILE "id-sign-rs256.key" /* PKCS#8 PEM, 0600 */
/* An ID token lives half the SSO session's idle time (oidc.c): a relying
 * party that signs the citizen in again when it ends (docs/portal.md) still
 * finds the session alive while the citizen is active, so no password. */
#define ID_TOKEN_TTL 900
#define PATH_BUF 4096
#define SECRET_FILE_MAX 4096
#define CLIENT_SECRET_MIN 16
#define URIS_MAX 16

static const char USAGE[] =
	"usage: " PROG " init --data DIR [--store DB]\n"
	"       " PROG " accounts import --data DIR [--store DB] --population-db DB\n"
	"                 [--limit N] [--pin PIN]... --password-file F [--cost default|min]\n"
	"       " PROG " client add --data DIR [--store DB] --client-id ID --secret-file F\n"
	"                 --redirect-uri URI [--redirect-uri URI ...]\n"
	"                 [--post-logout-redirect-uri URI ...]\n"
	"                 [--id-token-signed-response-alg EdDSA|RS256]\n"
	"                 [--client-name NAME] [--client-name-en NAME]\n"
	"       " PROG " serve --data DIR [--store DB] --issuer URL [--listen 127.0.0.1:4445]\n"
	"                 [options]\n"
	"       " PROG " --version | --help\n"
	"The national e-ID: an OpenID Connect provider for citizens.\n"
	"Configuration: the command line only, no file. As the systemd service\n"
	"ndx-id.service (docs/install.md) it serves with the options in\n"
	"NDX_ID_OPTIONS of " NDX_CONF_DIR "/id.env.\n"
	"Run `" PROG " COMMAND --help` for the options of a command.\n";

static const char INIT_HELP[] =
	"usage: " PROG " init --data DIR [--store DB]\n"
	"Creates a new e-ID provider in DIR (mode 0700): its database (id.db, or\n"
	"the PostgreSQL database given by --store), the Ed25519 key that signs ID\n"
	"tokens (id-sign.key, mode 0600; id-sign.pub beside it) and the RSA key\n"
	"that signs them for RS256 clients (id-sign-rs256.key, 0600). Refuses a DIR\n"
	"or a database that already holds one.\n"
	"  --data DIR   data directory (required)\n"
	"  --store DB   the provider's database: a SQLite file (default DIR/id.db)\n"
	"               or a postgresql:// connection string (docs/scale.md); a\n"
	"               password belongs in ~/.pgpass or PGPASSFILE, never in the\n"
	"               string (refused). Every later command takes the same --store.\n";

static const char IMPORT_HELP[] =
	"usage: " PROG " accounts import --data DIR [--store DB] --population-db DB\n"
	"                 [--limit N] [--pin PIN]... --password-file F [--cost default|min]\n"
	"Creates sign-in accounts for the first N citizens of the population\n"
	"registry (ordered by PIN) and for each --pin citizen, copying name, birth\n"
	"date and sex as claims. Every\n"
	"account gets the password in F (first line), hashed with Argon2id and its\n"
	"own salt. Running it again updates the accounts (claims and password).\n"
	"  --data DIR             data directory made by `" PROG " init` (required)\n"
	"  --store DB             the database given to init (default DIR/id.db)\n"
	"  --population-db DB     the population registry made by `ndx-sector seed`\n"
	"                         (required): its population.db, or the postgresql://\n"
	"                         connection string of the database it was seeded\n"
	"                         into (schema \"population\"; read-only, no password\n"
	"                         in the string)\n"
	"  --limit N              the first N citizens by PIN, 0..10000000\n"
	"  --pin PIN              and this citizen (repeatable, up to 1000); at least\n"
	"                         one of --limit N (N > 0) and --pin is required\n"
	"  --password-file F      file holding the password (required)\n"
	"  --cost default|min     Argon2id cost: default (t=3, 64 MiB) or min (t=1,\n"
	"                         8 MiB; for demos and tests with many accounts)\n";

static const char CLIENT_HELP[] =
	"usage: " PROG " client add --data DIR [--store DB] --client-id ID --secret-file F\n"
	"                 --redirect-uri URI [--redirect-uri URI ...]\n"
	"                 [--post-logout-redirect-uri URI ...]\n"
	"                 [--id-token-signed-response-alg EdDSA|RS256]\n"
	"                 [--client-name NAME] [--client-name-en NAME]\n"
	"Registers a relying party (or replaces its registration). Only the SHA-256\n"
	"of the secret is stored. Redirect URIs are matched exactly, byte for byte.\n"
	"  --data DIR                      data directory (required)\n"
	"  --store DB                      the database given to init (default\n"
	"                                  DIR/id.db)\n"
	"  --client-id ID                  1..128 characters from A-Z a-z 0-9 - . _ ~ :\n"
	"  --secret-file F                 file holding the client secret (first line,\n"
	"                                  at least 16 bytes)\n"
	"  --redirect-uri URI              an http(s) URI without fragment (repeatable,\n"
	"                                  at least one, at most 16)\n"
	"  --post-logout-redirect-uri URI  where /logout may send the browser back\n"
	"                                  (repeatable, at most 16)\n"
	"  --id-token-signed-response-alg A how its ID tokens are signed: EdDSA\n"
	"                                  (default) or RS256\n"
	"  --client-name NAME              the service's name as people know it, shown\n"
	"                                  on the sign-in page (Vietnamese; 1..200 bytes\n"
	"                                  of UTF-8, no control characters)\n"
	"  --client-name-en NAME           its English name (the page in English falls\n"
	"                                  back to --client-name, then to the client id)\n";

static const char SERVE_HELP[] =
	"usage: " PROG " serve --data DIR [--store DB] --issuer URL [options]\n"
	"Serves the OpenID Connect provider until SIGINT or SIGTERM. Prints\n"
	"\"" PROG ": listening on http://ADDR:PORT\" on stderr once ready.\n"
	"  --data DIR            data directory made by `" PROG " init` (required)\n"
	"  --store DB            the database given to init (default DIR/id.db; a\n"
	"                        postgresql:// connection string: several ndx-id may\n"
	"                        serve one database)\n"
	"  --issuer URL          the issuer identifier, e.g. https://id.example.vn\n"
	"                        (required; endpoints are URL + /authorize, ...)\n"
	"  --listen ADDR:PORT    IPv4 address and port (default 127.0.0.1:4445;\n"
	"                        port 0 picks a free port)\n"
	"  --assets DIR          serve GOV.UK Frontend from DIR under /assets/ (its\n"
	"                        dist/govuk directory); without it pages are unstyled\n"
	"  --threads N           HTTP worker threads (default 4)\n"
	"  --trusted-proxy ADDR  a TLS reverse proxy in front (an IPv4 or IPv6 address;\n"
	"                        up to 8 times): the client of a request from it is the\n"
	"                        last address of its X-Forwarded-For, for the sign-in\n"
	"                        throttle (docs/id.md); from any other peer the header\n"
	"                        is ignored\n"
	"  --code-lifetime N     seconds an authorization code stays valid, 1..600\n"
	"                        (default 60)\n"
	"  --id-token-lifetime N seconds an ID token stays valid (its exp), 1..3600\n"
	"                        (default 900: half the single sign-on's idle time)\n"
	"  --events-gateway URL  the consumer port of the agency's gateway the e-ID sits\n"
	"                        behind (http://127.0.0.1:4410); with --events-client,\n"
	"                        applies the events its subsystem subscribes to:\n"
	"                        death-registered disables the account (docs/id.md)\n"
	"  --events-client ID    the e-ID's subsystem there (VN/GOV/BCA/eid)\n"
	"  --events-poll-ms MS   how often an idle subscriber pulls its inbox (default 1000)\n";



/* Reads the first line of a secret file (without its line end). The
 * caller cleanses and frees *out. */
static int read_secret(const char *opt, const char *path, char **out)
{
	char *data = NULL;
	size_t len = 0;
	int rc = ndx_file_read(path, SECRET_FILE_MAX, &data, &len);

	*out = NULL;
	if (rc) {
		fprintf(stderr, PROG ": %s %s: %s\n", opt, path, ndx_strerror(rc));
		return -1;
	}
	data[strcspn(data, "\r\n")] = '\0';
	if (strlen(data) != strnlen(data, len) || data[0] == '\0') {
		fprintf(stderr, PROG ": %s %s: the first line is empty\n", opt, path);
		OPENSSL_cleanse(data, len);
		free(data);
		return -1;
	}
	*out = data;
	return 0;
}

static void free_secret(char *s)
{
	if (s) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

/* The database's location: --store when given (checked: a connection
 * string with a password is refused before anything is made, and never
 * printed), else DIR/id.db. */
static int store_location(const char *dir, const char *store_loc, char *out, size_t cap)
{
	return ndx_sqldb_location(PROG, dir, IDSTORE_DB_FILE, store_loc, out, cap);
}

static int open_store(const char *dir, const char *store_loc, struct idstore **st)
{
	char db[PATH_BUF];

	if (store_location(dir, store_loc, db, sizeof db))
		return -1;
	return idstore_open(db, st) ? -1 : 0;
}

/* ---- init ------------------------------------------------------------------ */

static int cmd_init(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "store", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL, *store_loc = NULL;
	char db[PATH_BUF], skey[PATH_BUF], spub[PATH_BUF], srsa[PATH_BUF];
	char kid[NDX_KEY_ID_HEX_LEN + 1];
	struct ndx_key *key = NULL;
	struct idrsa_key *rsa = NULL;
	struct idstore *st = NULL;
	int c, made_key = 0, made_pub = 0, made_rsa = 0, pg;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 'S': store_loc = optarg; break;
		case 'h': fputs(INIT_HELP, stdout); return 0;
		default: fputs(INIT_HELP, stderr); return 2;
		}
	}
	if (!dir || optind != argc) {
		fprintf(stderr, PROG " init: %s\n%s",
			dir ? "unexpected argument" : "--data DIR is required", INIT_HELP);
		return 2;
	}
	if (store_location(dir, store_loc, db, sizeof db))
		return 2;
	pg = idstore_loc_is_pg(db);
	if (ndx_args_join(PROG, skey, sizeof skey, dir, SIGN_KEY_FILE) ||
	    ndx_args_join(PROG, spub, sizeof spub, dir, SIGN_PUB_FILE) ||
	    ndx_args_join(PROG, srsa, sizeof srsa, dir, SIGN_RSA_FILE))
		return 1;
	if ((!pg && access(db, F_OK) == 0) || access(skey, F_OK) == 0 || access(srsa, F_OK) == 0) {
		fprintf(stderr, PROG " init: %s already holds an e-ID provider\n", dir);
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
	made_key = 1;
	if ((c = ndx_key_save_public(key, spub))) {
		fprintf(stderr, PROG " init: cannot write %s: %s\n", spub, ndx_strerror(c));
		goto fail;
	}
	made_pub = 1;
	if ((c = idrsa_create(srsa, &rsa))) {
		fprintf(stderr, PROG " init: cannot create %s: %s\n", srsa, ndx_strerror(c));
		goto fail;
	}
	made_rsa = 1;
	if ((c = idstore_create(db, &st))) {
		if (c == NDX_EEXIST && pg)
			fprintf(stderr, PROG " init: the database holds an e-ID provider already: "
					"refusing to overwrite it\n");
		else
			fprintf(stderr, PROG " init: cannot create the database %s: %s\n",
				pg ? "(the connection string)" : db, ndx_strerror(c));
		goto fail;
	}
	/* It holds the password hashes: nobody else reads it. */
	if (!pg)
		chmod(db, 0600);
	ndx_key_id(key, kid);
	printf("e-ID provider initialised in %s\n"
	       "  database     %s\n"
	       "  signing key  %s (public: %s)\n"
	       "  key id       %s\n"
	       "  RS256 key    %s\n"
	       "  RS256 key id %s\n",
	       dir, idstore_name(st), skey, spub, kid, srsa, idrsa_kid(rsa));
	idstore_close(st);
	ndx_key_free(key);
	idrsa_free(rsa);
	return 0;
fail:
	if (made_rsa)
		unlink(srsa);
	idrsa_free(rsa);
	if (made_pub)
		unlink(spub);
	if (made_key)
		unlink(skey);
	ndx_key_free(key);
	return 1;
}

/* ---- accounts import ------------------------------------------------------------ */

struct import_run {
	struct idstore *st;
	const char *password;
	const struct ndx_password_cost *cost;
	unsigned long created, updated;
};

static int import_citizen(void *ud, const struct popsource_citizen *c)
{
	struct import_run *run = ud;
	struct idstore_account a;
	const char *why = NULL;
	int fresh = 0, rc;

	memset(&a, 0, sizeof a);
	if (!c->pin || !c->full_name || !c->birth_date || !c->sex ||
	    ndx_pin_parse(c->pin, 0, NULL, &why) != NDX_OK || strlen(c->full_name) >= sizeof a.name ||
	    strlen(c->birth_date) >= sizeof a.birthdate || strlen(c->sex) >= sizeof a.gender) {
		fprintf(stderr, PROG ": skipping a citizen row: %s\n",
			why ? why : "a field is missing or too long");
		return 0;
	}
	snprintf(a.pin, sizeof a.pin, "%s", c->pin);
	snprintf(a.name, sizeof a.name, "%s", c->full_name);
	snprintf(a.birthdate, sizeof a.birthdate, "%s", c->birth_date);
	snprintf(a.gender, sizeof a.gender, "%s", c->sex);
	if ((rc = ndx_password_hash(run->password, run->cost, a.password_hash))) {
		fprintf(stderr, PROG ": cannot hash the password: %s\n", ndx_strerror(rc));
		return -1;
	}
	if (idstore_account_put(run->st, &a, &fresh))
		return -1;
	if (fresh)
		run->created++;
	else
		run->updated++;
	return 0;
}

/* Every account of one import in one transaction: all or none. */
static int import_rows(struct import_run *run, struct popsource *pop, unsigned long limit,
		       const char *pins_json)
{
	if (idstore_begin(run->st))
		return -1;
	if (popsource_each(pop, limit, pins_json, import_citizen, run)) {
		idstore_rollback(run->st);
		return -1;
	}
	return idstore_commit(run->st) ? -1 : 0;
}

static int cmd_accounts_import(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "store", required_argument, NULL, 'S' },
		{ "population-db", required_argument, NULL, 'p' },
		{ "limit", required_argument, NULL, 'n' },
		{ "pin", required_argument, NULL, 'i' },
		{ "password-file", required_argument, NULL, 'f' },
		{ "cost", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL, *popdb = NULL, *pwfile = NULL, *costname = "default";
	const char *store_loc = NULL;
	const struct ndx_password_cost *cost = &NDX_PASSWORD_COST_DEFAULT;
	unsigned long limit = 0;
	struct import_run run = { .cost = NULL };
	struct idstore *st = NULL;
	struct popsource *pop = NULL;
	char *password = NULL, *pins_text = NULL;
	json_t *pins = json_array();
	int c, rc = 1;

	if (!pins) {
		fprintf(stderr, PROG ": out of memory\n");
		return 1;
	}
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 'S': store_loc = optarg; break;
		case 'p': popdb = optarg; break;
		case 'f': pwfile = optarg; break;
		case 'n':
			if (ndx_args_ulong_opt(PROG, "--limit", optarg, 0, 10000000, &limit)) {
				json_decref(pins);
				return 2;
			}
			break;
		case 'i': {
			const char *why = NULL;
			if (ndx_pin_parse(optarg, 0, NULL, &why) != NDX_OK ||
			    json_array_size(pins) >= 1000) {
				fprintf(stderr, PROG ": --pin: %s\n",
					why ? why : "at most 1000 of them");
				json_decref(pins);
				return 2;
			}
			json_array_append_new(pins, json_string(optarg));
			break;
		}
		case 'c':
			costname = optarg;
			if (strcmp(optarg, "min") == 0) {
				cost = &NDX_PASSWORD_COST_MIN;
			} else if (strcmp(optarg, "default") != 0) {
				fprintf(stderr, PROG ": --cost: expected default or min\n");
				return 2;
			}
			break;
		case 'h': fputs(IMPORT_HELP, stdout); json_decref(pins); return 0;
		default: fputs(IMPORT_HELP, stderr); json_decref(pins); return 2;
		}
	}
	if (!dir || !popdb || !pwfile || (!limit && !json_array_size(pins)) || optind != argc) {
		json_decref(pins);
		fprintf(stderr, PROG " accounts import: %s\n%s",
			!dir		? "--data DIR is required"
			: !popdb	? "--population-db DB is required"
			: !pwfile	? "--password-file F is required"
			: !limit	? "--limit N (N > 0) or --pin PIN is required"
					: "unexpected argument",
			IMPORT_HELP);
		return 2;
	}
	pins_text = json_dumps(pins, JSON_COMPACT);
	json_decref(pins);
	if (!pins_text) {
		fprintf(stderr, PROG ": out of memory\n");
		return 1;
	}
	if (read_secret("--password-file", pwfile, &password)) {
		free(pins_text);
		return 1;
	}
	if (strlen(password) > NDX_PASSWORD_MAX) {
		fprintf(stderr, PROG ": the password is longer than %d bytes\n", NDX_PASSWORD_MAX);
		goto out;
	}
	if ((rc = popsource_open(popdb, &pop))) {
		rc = rc == 2 ? 2 : 1;
		goto out;
	}
	rc = 1;
	if (open_store(dir, store_loc, &st))
		goto out;
	run.st = st;
	run.password = password;
	run.cost = cost;
	if (import_rows(&run, pop, limit, pins_text))
		goto out;
	idstore_meta_set(st, "password_cost", costname);
	printf("imported %lu accounts from %s (%lu new, %lu updated; Argon2id cost %s)\n",
	       run.created + run.updated, popsource_name(pop), run.created, run.updated, costname);
	rc = 0;
out:
	idstore_close(st);
	popsource_close(pop);
	free_secret(password);
	free(pins_text);
	return rc;
}

/* ---- client add -------------------------------------------------------------------- */

static int client_id_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > IDSTORE_CLIENT_ID_MAX)
		return 0;
	for (; *s; s++) {
		char c = *s;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.' || c == '_' || c == '~' || c == ':'))
			return 0;
	}
	return 1;
}

/* An absolute http(s) URI without fragment, with a plain host[:port]
 * authority and only printable ASCII: what /authorize compares byte for
 * byte and what may go into a Location and a CSP header. */
static const char *uri_problem(const char *u)
{
	const char *auth;
	size_t n;

	if (strlen(u) > IDSTORE_URI_MAX)
		return "longer than 2048 characters";
	if (strncmp(u, "https://", 8) == 0)
		auth = u + 8;
	else if (strncmp(u, "http://", 7) == 0)
		auth = u + 7;
	else
		return "not an http:// or https:// URI";
	for (const char *p = u; *p; p++) {
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || strchr("\"<>\\^`{|}", *p))
			return "holds a space, a control or non-ASCII character, or one of \"<>\\^`{|}";
	}
	if (strchr(u, '#'))
		return "holds a fragment";
	n = strcspn(auth, "/?");
	if (n == 0)
		return "has no host";
	for (size_t i = 0; i < n; i++) {
		char c = auth[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '-' || c == ':' || c == '[' || c == ']'))
			return "the host part may hold only letters, digits, '.', '-', ':' and []";
	}
	return NULL;
}

static int add_uri(json_t *list, const char *opt, const char *u)
{
	const char *why = uri_problem(u);

	if (why) {
		fprintf(stderr, PROG ": %s \"%s\": %s\n", opt, u, why);
		return -1;
	}
	if (json_array_size(list) >= URIS_MAX) {
		fprintf(stderr, PROG ": %s: at most %d\n", opt, URIS_MAX);
		return -1;
	}
	if (!idstore_uri_listed(list, u))
		json_array_append_new(list, json_string(u));
	return 0;
}

/* Copies a client's display name into out (IDSTORE_CLIENT_NAME_MAX + 1
 * bytes) after checking it: not empty, not too long, no control or
 * bidirectional override characters (it is shown on a page). */
static int client_name_set(char *out, const char *opt, const char *v)
{
	const char *why = NULL;
	size_t n = strlen(v);

	if (n == 0 || n > IDSTORE_CLIENT_NAME_MAX ||
	    ndx_text_check(v, n, NULL, &why) != NDX_OK) {
		fprintf(stderr, PROG ": %s: 1..%d bytes of UTF-8 text%s%s\n", opt,
			IDSTORE_CLIENT_NAME_MAX, why ? ": " : "", why ? why : "");
		return -1;
	}
	memcpy(out, v, n + 1);
	return 0;
}

static int cmd_client_add(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "store", required_argument, NULL, 'S' },
		{ "client-id", required_argument, NULL, 'i' },
		{ "secret-file", required_argument, NULL, 's' },
		{ "redirect-uri", required_argument, NULL, 'r' },
		{ "post-logout-redirect-uri", required_argument, NULL, 'l' },
		{ "id-token-signed-response-alg", required_argument, NULL, 'A' },
		{ "client-name", required_argument, NULL, 'n' },
		{ "client-name-en", required_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL, *cid = NULL, *sfile = NULL, *store_loc = NULL;
	struct idstore_client cl = { 0 };
	struct idstore *st = NULL;
	char *secret = NULL;
	int c, rc = 2, created = 0;

	cl.redirect_uris = json_array();
	cl.post_logout_uris = json_array();
	if (!cl.redirect_uris || !cl.post_logout_uris)
		goto out;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 'S': store_loc = optarg; break;
		case 'i': cid = optarg; break;
		case 's': sfile = optarg; break;
		case 'r':
			if (add_uri(cl.redirect_uris, "--redirect-uri", optarg))
				goto out;
			break;
		case 'l':
			if (add_uri(cl.post_logout_uris, "--post-logout-redirect-uri", optarg))
				goto out;
			break;
		case 'A':
			if (strcmp(optarg, "EdDSA") != 0 && strcmp(optarg, "RS256") != 0) {
				fprintf(stderr, PROG ": --id-token-signed-response-alg: EdDSA or"
						" RS256\n");
				goto out;
			}
			snprintf(cl.id_token_alg, sizeof cl.id_token_alg, "%s", optarg);
			break;
		case 'n':
		case 'N':
			if (client_name_set(c == 'n' ? cl.name : cl.name_en,
					    c == 'n' ? "--client-name" : "--client-name-en", optarg))
				goto out;
			break;
		case 'h':
			fputs(CLIENT_HELP, stdout);
			rc = 0;
			goto out;
		default: fputs(CLIENT_HELP, stderr); goto out;
		}
	}
	if (!dir || !cid || !sfile || json_array_size(cl.redirect_uris) == 0 || optind != argc) {
		fprintf(stderr, PROG " client add: %s\n%s",
			!dir	 ? "--data DIR is required"
			: !cid	 ? "--client-id is required"
			: !sfile ? "--secret-file is required"
			: optind != argc ? "unexpected argument"
					 : "at least one --redirect-uri is required",
			CLIENT_HELP);
		goto out;
	}
	if (!client_id_ok(cid)) {
		fprintf(stderr, PROG ": --client-id: 1..128 characters from A-Z a-z 0-9 - . _ ~ :\n");
		goto out;
	}
	rc = 1;
	if (read_secret("--secret-file", sfile, &secret))
		goto out;
	if (strlen(secret) < CLIENT_SECRET_MIN) {
		fprintf(stderr, PROG ": the client secret must be at least %d bytes\n",
			CLIENT_SECRET_MIN);
		goto out;
	}
	snprintf(cl.client_id, sizeof cl.client_id, "%s", cid);
	idtok_hash_hex(secret, cl.secret_sha256);
	if (open_store(dir, store_loc, &st) || idstore_client_put(st, &cl, &created))
		goto out;
	printf("client %s %s with %zu redirect URI(s) and %zu post-logout URI(s),"
	       " ID tokens %s\n",
	       cid, created ? "registered" : "updated", json_array_size(cl.redirect_uris),
	       json_array_size(cl.post_logout_uris), cl.id_token_alg[0] ? cl.id_token_alg : "EdDSA");
	rc = 0;
out:
	idstore_close(st);
	idstore_client_clear(&cl);
	free_secret(secret);
	return rc;
}

/* ---- serve ---------------------------------------------------------------------------- */

/* Loads the RS256 key, creating it when a data directory made before RS256
 * lacks it. Returns 0 or -1 (said on stderr). */
static int load_rsa(const char *path, struct idrsa_key **out)
{
	int c = idrsa_load(path, out);

	if (c == NDX_ENOTFOUND) {
		c = idrsa_create(path, out);
		if (c == NDX_OK)
			fprintf(stderr, PROG ": created the RS256 signing key %s (kid %s)\n", path,
				idrsa_kid(*out));
	}
	if (c) {
		fprintf(stderr, PROG ": cannot load the RS256 signing key %s: %s\n", path,
			ndx_strerror(c));
		return -1;
	}
	return 0;
}

static int cmd_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "store", required_argument, NULL, 'S' },
		{ "issuer", required_argument, NULL, 'i' },
		{ "listen", required_argument, NULL, 'l' },
		{ "assets", required_argument, NULL, 'a' },
		{ "threads", required_argument, NULL, 't' },
		{ "code-lifetime", required_argument, NULL, 'c' },
		{ "id-token-lifetime", required_argument, NULL, 'T' },
		{ "events-gateway", required_argument, NULL, 'g' },
		{ "events-client", required_argument, NULL, 'C' },
		{ "events-poll-ms", required_argument, NULL, 'p' },
		{ "trusted-proxy", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL, *issuer = NULL, *listen = "127.0.0.1:4445", *assets = NULL;
	const char *store_loc = NULL;
	const char *why = NULL;
	unsigned long threads = 4, code_ttl = 60, id_ttl = ID_TOKEN_TTL, poll_ms = 1000;
	const char *events_gateway = NULL, *events_client = NULL;
	struct eid_subscriber *subscriber = NULL;
	char addr[64], skey[PATH_BUF], srsa[PATH_BUF];
	uint16_t port;
	struct ndx_key *key = NULL;
	struct idrsa_key *rsa = NULL;
	struct idstore *st = NULL;
	struct ndx_httpd *srv = NULL;
	struct oidc_config cfg;
	struct stat sb;
	sigset_t sigs;
	int c, sig, rc = 1, cfg_ready = 0;

	memset(&cfg, 0, sizeof cfg);
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 'S': store_loc = optarg; break;
		case 'i': issuer = optarg; break;
		case 'l': listen = optarg; break;
		case 'a': assets = optarg; break;
		case 't':
			if (ndx_args_ulong_opt(PROG, "--threads", optarg, 1, 256, &threads))
				return 2;
			break;
		case 'c':
			if (ndx_args_ulong_opt(PROG, "--code-lifetime", optarg, 1, 600, &code_ttl))
				return 2;
			break;
		case 'T':
			if (ndx_args_ulong_opt(PROG, "--id-token-lifetime", optarg, 1, 3600, &id_ttl))
				return 2;
			break;
		case 'g': events_gateway = optarg; break;
		case 'C': events_client = optarg; break;
		case 'p':
			if (ndx_args_ulong_opt(PROG, "--events-poll-ms", optarg, 10, 600000, &poll_ms))
				return 2;
			break;
		case 'P':
			if (signin_proxies_add(&cfg.proxies, optarg, &why) != 0) {
				fprintf(stderr, PROG ": --trusted-proxy \"%s\": %s\n", optarg, why);
				return 2;
			}
			break;
		case 'h': fputs(SERVE_HELP, stdout); return 0;
		default: fputs(SERVE_HELP, stderr); return 2;
		}
	}
	if (!events_gateway != !events_client) {
		fprintf(stderr, PROG " serve: --events-gateway and --events-client go together\n");
		return 2;
	}
	if (!dir || !issuer || optind != argc) {
		fprintf(stderr, PROG " serve: %s\n%s",
			!dir	  ? "--data DIR is required"
			: !issuer ? "--issuer URL is required"
				  : "unexpected argument",
			SERVE_HELP);
		return 2;
	}
	if (ndx_args_listen(listen, addr, sizeof addr, &port, &why) != NDX_OK) {
		fprintf(stderr, PROG ": --listen \"%s\": %s\n", listen, why);
		return 2;
	}
	if (assets && (stat(assets, &sb) != 0 || !S_ISDIR(sb.st_mode))) {
		fprintf(stderr, PROG ": --assets %s: not a directory\n", assets);
		return 2;
	}
	if (ndx_args_join(PROG, skey, sizeof skey, dir, SIGN_KEY_FILE) ||
	    ndx_args_join(PROG, srsa, sizeof srsa, dir, SIGN_RSA_FILE))
		return 1;
	if ((c = ndx_key_load(skey, &key)) || !ndx_key_has_private(key)) {
		fprintf(stderr, PROG ": cannot load the signing key %s: %s\n", skey,
			c ? ndx_strerror(c) : "no private key");
		goto out;
	}
	if (load_rsa(srsa, &rsa))
		goto out;
	if (open_store(dir, store_loc, &st))
		goto out;
	cfg.st = st;
	cfg.key = key;
	cfg.rsa = rsa;
	cfg.assets_dir = assets;
	cfg.code_ttl = (time_t)code_ttl;
	cfg.id_token_ttl = (time_t)id_ttl;
	if (oidc_init(&cfg, issuer, &why) != NDX_OK) {
		fprintf(stderr, PROG ": --issuer \"%s\": %s\n", issuer, why);
		rc = 2;
		goto out;
	}
	cfg_ready = 1;

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	/* Block before the pool threads start so they inherit the mask and
	 * the signals reach sigwait below. */
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	struct ndx_httpd_config hcfg = {
		.name = PROG, .bind_addr = addr, .port = port, .threads = (unsigned)threads,
		.max_body = 64 * 1024, .handler = eid_metrics_handle, .ctx = &cfg, .access_log = 1,
		.strict = 1,
	};
	if (ndx_httpd_start(&hcfg, &srv))
		goto out;
	if (events_client) {
		if (eid_subscriber_start(st, events_gateway, events_client, (long)poll_ms,
					 &subscriber))
			goto out;
		fprintf(stderr, PROG ": events through %s as %s\n", events_gateway, events_client);
	}
	fprintf(stderr, PROG ": issuer %s\n", cfg.issuer);
	fprintf(stderr, PROG ": listening on http://%s:%u\n", addr, (unsigned)ndx_httpd_port(srv));
	if (sigwait(&sigs, &sig) != 0)
		goto out;
	fprintf(stderr, PROG ": %s received, stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
	rc = 0;
out:
	eid_subscriber_stop(subscriber);
	ndx_httpd_stop(srv);
	if (cfg_ready)
		oidc_cleanup(&cfg);
	idstore_close(st);
	ndx_key_free(key);
	idrsa_free(rsa);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct ndx_cmd cmds[] = {
		{ "init", NULL, cmd_init },
		{ "serve", NULL, cmd_serve },
		{ "accounts", "import", cmd_accounts_import },
		{ "client", "add", cmd_client_add },
	};

	return ndx_cmd_main(PROG, NDX_VERSION, USAGE, cmds, sizeof cmds / sizeof cmds[0], argc,
			    argv);
}
