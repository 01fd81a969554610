/* ndx-registry: the federation's central authority. This file only parses
 * the command line (init, serve, token add) and wires the parts together:
 * reg_store.c keeps the data (on SQLite or PostgreSQL, reg_db.h over ndx/sqldb.h), api.c
 * answers HTTP, confgen.c builds and signs the global configuration. Overview: docs/architecture.md "ndx-registry" and
 * docs/registry-api.md. */
#include <errno.h>
#include <getopt.h>
#include <openssl/rand.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api.h"
#include "reg_console.h"
#include "confgen.h"
#include "ndx/cmd.h"
#include "ndx/args.h"
#include "ndx/conf.h"
#include "ndx/encode.h"
#include "ndx/err.h"
#include "ndx/id.h"
#include "ndx/file.h"
#include "ndx/hash.h"
#include "ndx/httpd.h"
#include "ndx/key.h"
#include "ndx/pin.h"
#include "ndx/pki.h"
#include "ndx/receipt.h"
#include "ndx/sqldb.h"
#include "reg_metrics.h"
#include "reg_store.h"

#ifndef NDX_VERSION
#define NDX_VERSION "unknown"
#endif
/* The installed configuration directory (meson.build, docs/install.md). */
#ifndef NDX_CONF_DIR
#define NDX_CONF_DIR "/etc/ndx"
#endif

#define PROG "ndx-registry"
#define SIGN_KEY_FILE "registry-sign.key"
#define SIGN_PUB_FILE "registry-sign.pub"
#define CA_KEY_FILE "ca.key"
#define CA_CERT_FILE "ca.pem"
#define ANCHOR_FILE "anchor.json"
#define TOKEN_FILE "admin.token"
#define CA_DAYS 3650
#define SMALL_FILE_MAX (1024 * 1024)
#define TOKEN_BYTES 32

static const char USAGE[] =
	"usage: " PROG " init --data DIR [--store DB] [--instance VN] [--url URL]...\n"
	"       " PROG " serve --data DIR [--store DB] [--listen 127.0.0.1:4400]\n"
	"                    [--conf-validity SECONDS] [--threads N] [--max-body BYTES]\n"
	"                    [--console-eid ISSUER --console-client ID\n"
	"                     --console-secret-file FILE] [--public-url URL]\n"
	"                    [--web DIR] [--assets DIR]\n"
	"       " PROG " token add NAME --data DIR [--store DB] [--member ID]\n"
	"       " PROG " official add PIN --name NAME --role ROLE [--member ID] --data DIR\n"
	"       " PROG " official remove PIN --data DIR | official list --data DIR\n"
	"       " PROG " --version | --help\n"
	"The web console for officials (docs/console.md) is at /console/ when serve\n"
	"is given the --console-* options.\n"
	"Configuration: the command line only, no file. As the systemd service\n"
	"ndx-registry.service (docs/install.md) it serves with the options in\n"
	"NDX_REGISTRY_OPTIONS of " NDX_CONF_DIR "/registry.env.\n"
	"Run `" PROG " COMMAND --help` for the options of a command.\n";

static const char INIT_HELP[] =
	"usage: " PROG " init --data DIR [--store DB] [--instance VN] [--url URL]...\n"
	"Creates a new registry in DIR (mode 0700): its database (registry.db, or the\n"
	"PostgreSQL database given by --store), the registry's Ed25519\n"
	"signing key (registry-sign.key, registry-sign.pub), the instance CA (ca.key,\n"
	"ca.pem), the trust anchor (anchor.json) and the first admin credential\n"
	"(admin.token, named \"admin\"; the database keeps only its SHA-256).\n"
	"Refuses to touch a DIR or a database that already holds a registry. A second\n"
	"registry node on the same PostgreSQL database is not initialised: it is\n"
	"served from a copy of DIR (the same keys) with the same --store.\n"
	"  --data DIR         data directory (required)\n"
	"  --store DB         the registry's database: a SQLite file (default\n"
	"                     DIR/registry.db) or a postgresql:// connection string,\n"
	"                     which several registry nodes may share (docs/scale.md);\n"
	"                     a password belongs in ~/.pgpass or PGPASSFILE, never in\n"
	"                     the string (refused)\n"
	"  --instance CODE    instance identifier (default VN)\n"
	"  --url URL          the registry's public URL written into the anchor and\n"
	"                     the configuration (default http://127.0.0.1:4400); given\n"
	"                     up to 8 times, one for each registry node: the anchor\n"
	"                     lists them all (registry_urls), the first is the\n"
	"                     configuration's, and gateways, the monitoring service\n"
	"                     and `ndx conf fetch` ask them in turn\n";

static const char SERVE_HELP[] =
	"usage: " PROG " serve --data DIR [options]\n"
	"Serves the registry API (docs/registry-api.md) until SIGINT or SIGTERM.\n"
	"Prints \"" PROG ": listening on http://ADDR:PORT\" on stderr once ready, then one\n"
	"JSON access-log line per request.\n"
	"  --data DIR             data directory made by `" PROG " init` (required)\n"
	"  --store DB             the database given to init (default DIR/registry.db;\n"
	"                         a postgresql:// connection string: every node of the\n"
	"                         database serves the same signed configuration)\n"
	"  --listen ADDR:PORT     IPv4 address and port (default 127.0.0.1:4400;\n"
	"                         port 0 picks a free port)\n"
	"  --conf-validity SECS   lifetime of a signed configuration (default 600)\n"
	"  --threads N            HTTP worker threads (default 4)\n"
	"  --max-body BYTES       largest request body accepted (default 1048576)\n"
	"  --bank-key BIN=FILE    a member bank's receipt-signing public key (an Ed25519\n"
	"                         PEM, as `ndx keygen` writes) under its 6-digit BIN;\n"
	"                         POST /market/receipts takes the receipts it signs\n"
	"                         (docs/marketplace.md \"Invoices and clearing\").\n"
	"                         Repeatable, at most 16 banks; without it every\n"
	"                         receipt is refused\n"
	"The web console (docs/console.md), at /console/ when all three are given:\n"
	"  --console-eid ISSUER   the national e-ID (ndx-id) officials sign in with\n"
	"  --console-client ID    the registry's OpenID Connect client id there\n"
	"  --console-secret-file FILE  its client secret (one line)\n"
	"  --public-url URL       the registry as browsers reach it (default\n"
	"                         http://ADDR:PORT of --listen); https makes the\n"
	"                         console's cookies Secure\n"
	"  --web DIR              the web UI's files, console.html and its modules\n"
	"                         (default " NDX_DATA_DIR "/web)\n"
	"  --assets DIR           GOV.UK Frontend's dist/govuk (default\n"
	"                         " NDX_DATA_DIR "/govuk-frontend)\n"
	"Officials who may sign in are added with `" PROG " official add`.\n";

static const char OFFICIAL_HELP[] =
	"usage: " PROG " official add PIN --name NAME --role ROLE [--member ID] --data DIR\n"
	"                           [--store DB]\n"
	"       " PROG " official remove PIN --data DIR [--store DB]\n"
	"       " PROG " official list --data DIR [--store DB]\n"
	"The officials who may sign in to the web console (docs/console.md) with the\n"
	"national e-ID: PIN is their personal identification number (the e-ID's\n"
	"subject). An operator may change the registry through the console, an\n"
	"auditor only read it, an agency administrator change their member's\n"
	"subsystems, services and the grants on them, a data protection officer read\n"
	"the personal-data settings, consent services and the audit trail. Adding an\n"
	"official who exists changes their name, role and member. Each change is in\n"
	"the audit trail (actor \"cli\"); it takes effect at the official's next\n"
	"request, also while the registry runs. `list` prints PIN, role, name and an\n"
	"agency administrator's member, tab-separated.\n"
	"  --name NAME    the official's name, shown in the console and the audit trail\n"
	"  --role ROLE    operator, auditor, agency (administrator) or dpo (data\n"
	"                 protection officer)\n"
	"  --member ID    the member an agency administrator administers (an existing\n"
	"                 member, e.g. VN/GOV/BCA); only with --role agency\n"
	"  --data DIR     data directory (required)\n"
	"  --store DB     the database given to init (default DIR/registry.db)\n";

static const char TOKEN_HELP[] =
	"usage: " PROG " token add NAME --data DIR [--store DB] [--member ID]\n"
	"Creates a new admin credential called NAME (1-64 of A-Z a-z 0-9 . _ -) and\n"
	"prints its token once on stdout; the database keeps only its SHA-256. Audit\n"
	"entries of changes made with it name NAME. Works while the registry runs.\n"
	"  --data DIR   data directory (required)\n"
	"  --store DB   the database given to init (default DIR/registry.db)\n"
	"  --member ID  a member's credential instead (VN/COM/BANK1): it acts for that\n"
	"               member in the data marketplace (/market, /dsp:\n"
	"               docs/marketplace.md) and cannot use the management API\n";

/* ---- small helpers ----------------------------------------------------- */

/* The database's location: --store when given (checked: a connection
 * string with a password is refused before anything is made), else
 * DIR/registry.db. */
static int store_location(const char *dir, const char *store_loc, char *out, size_t cap)
{
	return ndx_sqldb_location(PROG, dir, STORE_DB_FILE, store_loc, out, cap);
}


static int name_ok(const char *s, size_t max, const char *extra)
{
	size_t n = strlen(s);
	if (n == 0 || n > max)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9') || strchr(extra, *s)))
			return 0;
	return 1;
}

/* The first line of a secret file (at most 4 KiB), malloc'd; NULL after
 * saying why. */
static char *read_secret(const char *path)
{
	char *text = NULL;
	int rc = ndx_file_read_secret(path, &text);

	if (rc == NDX_EINVAL)
		fprintf(stderr, PROG ": the secret file %s is empty\n", path);
	else if (rc != NDX_OK)
		fprintf(stderr, PROG ": cannot read the secret file %s\n", path);
	return text;
}

/* A new random admin token (base64url of 32 bytes, malloc'd) and the hex
 * SHA-256 that the store keeps. */
static char *new_token(char hex[2 * NDX_SHA256_LEN + 1])
{
	uint8_t raw[TOKEN_BYTES], sha[NDX_SHA256_LEN];
	char *tok;

	if (RAND_bytes(raw, sizeof raw) != 1) {
		fprintf(stderr, PROG ": no randomness for a token\n");
		return NULL;
	}
	tok = ndx_b64_encode(raw, sizeof raw, 1);
	OPENSSL_cleanse(raw, sizeof raw);
	if (!tok)
		return NULL;
	ndx_sha256(tok, strlen(tok), sha);
	ndx_hex_encode(sha, sizeof sha, hex);
	return tok;
}

/* ---- init ------------------------------------------------------------------ */

struct created {
	char paths[8][4096];
	int n;
};

static void remember(struct created *c, const char *path)
{
	if (c->n < 8)
		snprintf(c->paths[c->n++], sizeof c->paths[0], "%s", path);
}

static int cmd_init(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "store", required_argument, NULL, 's' },
		{ "instance", required_argument, NULL, 'i' },
		{ "url", required_argument, NULL, 'u' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL, *instance = "VN", *url = "http://127.0.0.1:4400", *store_loc = NULL;
	const char *urls[NDX_ANCHOR_URLS_MAX] = { 0 };
	size_t nurls = 0;
	char db[4096], skey[4096], spub[4096], cakey[4096], cacert[4096], anchor[4096],
		tokpath[4096], key_id[NDX_KEY_ID_HEX_LEN + 1], hex[2 * NDX_SHA256_LEN + 1];
	struct created made = { .n = 0 };
	struct ndx_key *key = NULL;
	struct store *st = NULL;
	char *ca_key = NULL, *ca_pem = NULL, *anchor_text = NULL, *tok = NULL;
	char cn[128];
	json_t *anchor_doc = NULL;
	int c, rc = 1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 's': store_loc = optarg; break;
		case 'i': instance = optarg; break;
		case 'u':
			if (nurls == NDX_ANCHOR_URLS_MAX) {
				fprintf(stderr, PROG " init: --url: at most %d registry nodes\n",
					NDX_ANCHOR_URLS_MAX);
				return 2;
			}
			urls[nurls++] = optarg;
			break;
		case 'h': fputs(INIT_HELP, stdout); return 0;
		default: fputs(INIT_HELP, stderr); return 2;
		}
	}
	if (!dir || optind != argc) {
		fprintf(stderr, PROG " init: %s\n%s",
			dir ? "unexpected argument" : "--data DIR is required", INIT_HELP);
		return 2;
	}
	if (!name_ok(instance, 64, "'()+,-.=?")) {
		fprintf(stderr, PROG " init: --instance: 1 to 64 characters from "
				"A-Z a-z 0-9 ' ( ) + , - . = ?\n");
		return 2;
	}
	if (nurls == 0)
		urls[nurls++] = url;
	url = urls[0];
	for (size_t i = 0; i < nurls; i++) {
		if (strncmp(urls[i], "http://", 7) != 0 && strncmp(urls[i], "https://", 8) != 0) {
			fprintf(stderr, PROG " init: --url must start with http:// or https://\n");
			return 2;
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(urls[i], urls[j]) == 0) {
				fprintf(stderr, PROG " init: --url %s given twice\n", urls[i]);
				return 2;
			}
	}
	if (store_location(dir, store_loc, db, sizeof db) ||
	    ndx_args_join(PROG, skey, sizeof skey, dir, SIGN_KEY_FILE) ||
	    ndx_args_join(PROG, spub, sizeof spub, dir, SIGN_PUB_FILE) ||
	    ndx_args_join(PROG, cakey, sizeof cakey, dir, CA_KEY_FILE) ||
	    ndx_args_join(PROG, cacert, sizeof cacert, dir, CA_CERT_FILE) ||
	    ndx_args_join(PROG, anchor, sizeof anchor, dir, ANCHOR_FILE) ||
	    ndx_args_join(PROG, tokpath, sizeof tokpath, dir, TOKEN_FILE))
		return 1;
	if (!ndx_sqldb_is_pg(db) && access(db, F_OK) == 0) {
		fprintf(stderr, PROG " init: %s exists: refusing to overwrite an existing registry\n",
			db);
		return 1;
	}
	if (ndx_mkdirs(dir, 0700) != NDX_OK) {
		fprintf(stderr, PROG " init: cannot create %s: %s\n", dir, strerror(errno));
		return 1;
	}
	/* Every file is created exclusively, so a stray one from an earlier,
	 * failed init stops us rather than being silently mixed in. */
	if ((rc = ndx_key_generate(&key)) || (rc = ndx_key_save_private(key, skey))) {
		fprintf(stderr, PROG " init: cannot create %s: %s\n", skey, ndx_strerror(rc));
		goto fail;
	}
	remember(&made, skey);
	if ((rc = ndx_key_save_public(key, spub))) {
		fprintf(stderr, PROG " init: cannot write %s: %s\n", spub, ndx_strerror(rc));
		goto fail;
	}
	remember(&made, spub);
	snprintf(cn, sizeof cn, "ndx %s instance CA", instance);
	if ((rc = ndx_pki_ca_create(cn, CA_DAYS, &ca_key, &ca_pem))) {
		fprintf(stderr, PROG " init: cannot create the CA: %s\n", ndx_strerror(rc));
		goto fail;
	}
	if ((rc = ndx_file_write_atomic(cakey, ca_key, strlen(ca_key), 0600, 1))) {
		fprintf(stderr, PROG " init: cannot create %s: %s\n", cakey, ndx_strerror(rc));
		goto fail;
	}
	remember(&made, cakey);
	if ((rc = ndx_file_write_atomic(cacert, ca_pem, strlen(ca_pem), 0644, 1))) {
		fprintf(stderr, PROG " init: cannot create %s: %s\n", cacert, ndx_strerror(rc));
		goto fail;
	}
	remember(&made, cacert);
	anchor_doc = ndx_anchor_build_nodes(instance, urls, nurls, key);
	anchor_text = anchor_doc ? json_dumps(anchor_doc, JSON_INDENT(2)) : NULL;
	if (!anchor_text) {
		fprintf(stderr, PROG " init: cannot build the anchor\n");
		goto fail;
	}
	if ((rc = ndx_file_write_atomic(anchor, anchor_text, strlen(anchor_text), 0644, 1))) {
		fprintf(stderr, PROG " init: cannot create %s: %s\n", anchor, ndx_strerror(rc));
		goto fail;
	}
	remember(&made, anchor);
	if (!(tok = new_token(hex)))
		goto fail;
	if ((rc = ndx_file_write_atomic(tokpath, tok, strlen(tok), 0600, 1))) {
		fprintf(stderr, PROG " init: cannot create %s: %s\n", tokpath, ndx_strerror(rc));
		goto fail;
	}
	remember(&made, tokpath);
	rc = store_create(db, instance, url, &st);
	if (!rc && !ndx_sqldb_is_pg(db)) {
		remember(&made, db);
		/* It holds credential hashes: nobody else reads it. */
		chmod(db, 0600);
	}
	if (rc == NDX_EEXIST && ndx_sqldb_is_pg(db)) {
		fprintf(stderr, PROG " init: the database holds a registry already: refusing to "
				"overwrite it (serve another node from a copy of its data directory)\n");
		goto fail;
	}
	if (rc || (rc = store_token_add(st, "admin", hex, NULL, "init"))) {
		/* A PostgreSQL registry half made stays: init refuses it from now
		 * on, and its schema is dropped by hand. */
		fprintf(stderr, PROG " init: cannot create the database %s: %s\n",
			st ? store_name(st) : ndx_sqldb_is_pg(db) ? "(the connection string)" : db,
			ndx_strerror(rc));
		goto fail;
	}
	ndx_key_id(key, key_id);
	printf("registry initialised in %s\n"
	       "  database        %s\n"
	       "  signing key     %s (public: %s)\n"
	       "  registry key id %s\n"
	       "  CA certificate  %s (key: %s)\n"
	       "  anchor          %s\n"
	       "  admin token     %s (name \"admin\")\n",
	       dir, store_name(st), skey, spub, key_id, cacert, cakey, anchor, tokpath);
	rc = 0;
	goto out;
fail:
	rc = 1;
	store_close(st);
	st = NULL;
	for (int i = made.n - 1; i >= 0; i--) {
		unlink(made.paths[i]);
		if (strcmp(made.paths[i], db) == 0) {
			char extra[4200];
			snprintf(extra, sizeof extra, "%s-wal", db);
			unlink(extra);
			snprintf(extra, sizeof extra, "%s-shm", db);
			unlink(extra);
		}
	}
out:
	store_close(st);
	ndx_key_free(key);
	free(ca_key);
	free(ca_pem);
	free(anchor_text);
	free(tok);
	json_decref(anchor_doc);
	return rc;
}

/* ---- serve ----------------------------------------------------------------- */

struct serve_files {
	struct ndx_key *key;
	char *ca_key;
	char *ca_pem;
	char *anchor;
	size_t anchor_len;
};

static void serve_files_free(struct serve_files *f)
{
	ndx_key_free(f->key);
	if (f->ca_key)
		OPENSSL_cleanse(f->ca_key, strlen(f->ca_key));
	free(f->ca_key);
	free(f->ca_pem);
	free(f->anchor);
}

/* Loads the keys and documents once, and checks that the anchor names the
 * signing key and the store's instance (else gateways would refuse every
 * configuration we sign). */
static int load_files(const char *dir, const struct store *st, struct serve_files *f)
{
	char path[4096], key_id[NDX_KEY_ID_HEX_LEN + 1], err[256];
	struct ndx_anchor *a = NULL;
	size_t len;
	int rc;

	if (ndx_args_join(PROG, path, sizeof path, dir, SIGN_KEY_FILE))
		return -1;
	if ((rc = ndx_key_load(path, &f->key)) || !ndx_key_has_private(f->key)) {
		fprintf(stderr, PROG ": cannot load the signing key %s: %s\n", path,
			rc ? ndx_strerror(rc) : "no private key");
		return -1;
	}
	if (ndx_args_join(PROG, path, sizeof path, dir, CA_KEY_FILE) ||
	    (rc = ndx_file_read(path, SMALL_FILE_MAX, &f->ca_key, &len))) {
		fprintf(stderr, PROG ": cannot read %s\n", path);
		return -1;
	}
	if (ndx_args_join(PROG, path, sizeof path, dir, CA_CERT_FILE) ||
	    (rc = ndx_file_read(path, SMALL_FILE_MAX, &f->ca_pem, &len))) {
		fprintf(stderr, PROG ": cannot read %s\n", path);
		return -1;
	}
	if (ndx_args_join(PROG, path, sizeof path, dir, ANCHOR_FILE) ||
	    (rc = ndx_file_read(path, SMALL_FILE_MAX, &f->anchor, &f->anchor_len))) {
		fprintf(stderr, PROG ": cannot read %s\n", path);
		return -1;
	}
	if ((rc = ndx_anchor_parse(f->anchor, f->anchor_len, &a, err, sizeof err))) {
		fprintf(stderr, PROG ": %s: %s\n", path, err);
		return -1;
	}
	ndx_key_id(f->key, key_id);
	rc = 0;
	if (!ndx_anchor_key(a, key_id)) {
		fprintf(stderr, PROG ": %s does not list the signing key %s\n", path, key_id);
		rc = -1;
	} else if (strcmp(ndx_anchor_instance(a), store_instance(st)) != 0) {
		fprintf(stderr, PROG ": %s is for instance %s, the database for %s\n", path,
			ndx_anchor_instance(a), store_instance(st));
		rc = -1;
	}
	ndx_anchor_free(a);
	return rc;
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

static int cmd_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "store", required_argument, NULL, 's' },
		{ "listen", required_argument, NULL, 'l' },
		{ "conf-validity", required_argument, NULL, 'v' },
		{ "threads", required_argument, NULL, 't' },
		{ "max-body", required_argument, NULL, 'b' },
		{ "console-eid", required_argument, NULL, 'E' },
		{ "console-client", required_argument, NULL, 'C' },
		{ "console-secret-file", required_argument, NULL, 'S' },
		{ "public-url", required_argument, NULL, 'P' },
		{ "web", required_argument, NULL, 'W' },
		{ "assets", required_argument, NULL, 'A' },
		{ "bank-key", required_argument, NULL, 'K' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ndx_receipt_bank banks[NDX_RECEIPT_BANKS_MAX];
	size_t nbanks = 0;
	char bank_err[512];
	const char *dir = NULL, *listen = "127.0.0.1:4400", *store_loc = NULL;
	const char *eid = NULL, *client = NULL, *secret_file = NULL, *public_url = NULL;
	const char *web = NDX_DATA_DIR "/web", *assets = NDX_DATA_DIR "/govuk-frontend";
	char *secret = NULL, url_buf[128];
	struct ndx_console *console = NULL;
	unsigned long validity = 600, threads = 4, max_body = 1048576;
	char addr[64], db[4096];
	uint16_t port;
	struct serve_files files = { 0 };
	struct store *st = NULL;
	struct confgen *cg = NULL;
	struct api *api = NULL;
	struct ndx_httpd *srv = NULL;
	const struct conf_signed *doc;
	sigset_t sigs;
	int c, sig, rc = 1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 's': store_loc = optarg; break;
		case 'l': listen = optarg; break;
		case 'v':
			if (ndx_args_ulong_opt(PROG, "--conf-validity", optarg, 2, 30UL * 86400, &validity))
				return 2;
			break;
		case 't':
			if (ndx_args_ulong_opt(PROG, "--threads", optarg, 1, 256, &threads))
				return 2;
			break;
		case 'b':
			if (ndx_args_ulong_opt(PROG, "--max-body", optarg, 1, 1UL << 30, &max_body))
				return 2;
			break;
		case 'E': eid = optarg; break;
		case 'C': client = optarg; break;
		case 'S': secret_file = optarg; break;
		case 'P': public_url = optarg; break;
		case 'W': web = optarg; break;
		case 'A': assets = optarg; break;
		case 'K':
			if (nbanks == NDX_RECEIPT_BANKS_MAX) {
				fprintf(stderr, PROG " serve: --bank-key: at most %d banks\n",
					NDX_RECEIPT_BANKS_MAX);
				rc = 2;
				goto out;
			}
			for (size_t i = 0; i < nbanks; i++)
				if (strncmp(banks[i].bin, optarg, NDX_VIETQR_BIN_LEN) == 0 &&
				    optarg[NDX_VIETQR_BIN_LEN] == '=') {
					fprintf(stderr, PROG " serve: --bank-key: bank %s given twice\n",
						banks[i].bin);
					rc = 2;
					goto out;
				}
			if (ndx_receipt_bank_parse(optarg, &banks[nbanks], bank_err,
						   sizeof bank_err) != NDX_OK) {
				fprintf(stderr, PROG " serve: --bank-key: %s\n", bank_err);
				rc = 2;
				goto out;
			}
			nbanks++;
			break;
		case 'h': fputs(SERVE_HELP, stdout); rc = 0; goto out;
		default: fputs(SERVE_HELP, stderr); rc = 2; goto out;
		}
	}
	if (!dir || optind != argc) {
		fprintf(stderr, PROG " serve: %s\n%s",
			dir ? "unexpected argument" : "--data DIR is required", SERVE_HELP);
		rc = 2;
		goto out;
	}
	if (parse_listen(listen, addr, sizeof addr, &port)) {
		rc = 2;
		goto out;
	}
	if ((eid || client || secret_file) && !(eid && client && secret_file)) {
		fprintf(stderr, PROG " serve: the console needs --console-eid, --console-client "
				"and --console-secret-file together\n");
		rc = 2;
		goto out;
	}
	if (public_url && strncmp(public_url, "http://", 7) != 0 &&
	    strncmp(public_url, "https://", 8) != 0) {
		fprintf(stderr, PROG " serve: --public-url: an http:// or https:// URL\n");
		rc = 2;
		goto out;
	}
	if (store_location(dir, store_loc, db, sizeof db) || store_open(db, &st) ||
	    load_files(dir, st, &files))
		goto out;
	if (confgen_new(st, files.key, files.ca_pem, (unsigned)validity, &cg))
		goto out;
	/* Build once now: a store that cannot give a valid configuration is
	 * reported at start, though we still serve so that it can be fixed. */
	if (confgen_get(cg, time(NULL), &doc) == NDX_OK)
		confgen_release(cg, doc);
	struct api_config acfg = {
		.st = st, .cg = cg, .anchor_json = files.anchor, .anchor_len = files.anchor_len,
		.ca_pem = files.ca_pem, .ca_key_pem = files.ca_key,
		.conf_validity = (unsigned)validity, .sign_key = files.key,
		.banks = banks, .nbanks = nbanks,
	};
	if (eid) {
		if (!(secret = read_secret(secret_file)))
			goto out;
		if (!public_url) {
			snprintf(url_buf, sizeof url_buf, "http://%s:%u", addr, (unsigned)port);
			public_url = url_buf;
		}
		struct ndx_console_config ccfg = {
			.prog = PROG, .module = "console.mjs", .role_of = reg_console_role,
			.role_ud = st, .web_dir = web, .assets_dir = assets, .public_url = public_url,
			.issuer = eid, .client_id = client, .client_secret = secret,
		};
		if (ndx_console_new(&ccfg, &console))
			goto out;
		acfg.console = console;
	}
	if (api_new(&acfg, &api))
		goto out;

	/* Blocked before the pool threads exist, so that they inherit the
	 * mask and only sigwait below ever sees these signals. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct reg_metrics metrics = { .api = api, .st = st, .cg = cg };
	struct ndx_httpd_config hcfg = {
		.name = PROG, .bind_addr = addr, .port = port, .threads = (unsigned)threads,
		.max_body = max_body, .handler = reg_metrics_handle, .ctx = &metrics,
		.access_log = 1,
	};
	if (ndx_httpd_start(&hcfg, &srv))
		goto out;
	fprintf(stderr, PROG ": listening on http://%s:%u\n", addr, (unsigned)ndx_httpd_port(srv));
	if (sigwait(&sigs, &sig) != 0)
		goto out;
	fprintf(stderr, PROG ": %s received, stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
	rc = 0;
out:
	ndx_httpd_stop(srv);
	api_free(api);
	ndx_console_free(console);
	if (secret)
		OPENSSL_cleanse(secret, strlen(secret));
	free(secret);
	confgen_free(cg);
	store_close(st);
	serve_files_free(&files);
	for (size_t i = 0; i < nbanks; i++)
		ndx_key_free(banks[i].key);
	return rc;
}

/* ---- token add ---------------------------------------------------------------- */

static int cmd_token(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "store", required_argument, NULL, 's' },
		{ "member", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL, *name, *store_loc = NULL, *member_arg = NULL;
	char db[4096], hex[2 * NDX_SHA256_LEN + 1], member[NDX_ID_TEXT_MAX] = "";
	struct ndx_id mid;
	struct store *st = NULL;
	char *tok = NULL;
	int c, rc;

	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		fputs(TOKEN_HELP, stdout);
		return 0;
	}
	if (argc < 2 || strcmp(argv[1], "add") != 0) {
		fprintf(stderr, PROG " token: the only subcommand is `add`\n%s", TOKEN_HELP);
		return 2;
	}
	argc--;
	argv++;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 's': store_loc = optarg; break;
		case 'm': member_arg = optarg; break;
		case 'h': fputs(TOKEN_HELP, stdout); return 0;
		default: fputs(TOKEN_HELP, stderr); return 2;
		}
	}
	if (!dir || optind != argc - 1) {
		fprintf(stderr, PROG " token add: %s\n%s",
			dir ? "exactly one NAME is required" : "--data DIR is required", TOKEN_HELP);
		return 2;
	}
	name = argv[optind];
	if (!name_ok(name, 64, "._-")) {
		fprintf(stderr, PROG " token add: NAME: 1 to 64 characters from A-Z a-z 0-9 . _ -\n");
		return 2;
	}
	if (member_arg && (ndx_id_parse(member_arg, strlen(member_arg), NDX_ID_MEMBER, &mid, NULL) ||
			   ndx_id_format(&mid, member, sizeof member) < 0)) {
		fprintf(stderr, PROG " token add: --member: %s is not a member id\n", member_arg);
		return 2;
	}
	if (store_location(dir, store_loc, db, sizeof db) || store_open(db, &st))
		return 1;
	rc = 1;
	if (member_arg && store_member_exists(st, member) != 1) {
		fprintf(stderr, PROG " token add: --member: no member %s in the registry\n", member);
		goto out;
	}
	if (!(tok = new_token(hex)))
		goto out;
	c = store_token_add(st, name, hex, member_arg ? member : NULL, "cli");
	if (c == NDX_EEXIST) {
		fprintf(stderr, PROG " token add: a credential named \"%s\" exists already\n", name);
		goto out;
	}
	if (c) {
		fprintf(stderr, PROG " token add: %s\n", ndx_strerror(c));
		goto out;
	}
	printf("%s\n", tok);
	fprintf(stderr, PROG ": credential \"%s\" created; the token above is shown only once\n",
		name);
	rc = 0;
out:
	if (tok)
		OPENSSL_cleanse(tok, strlen(tok));
	free(tok);
	store_close(st);
	return rc;
}

/* ---- official add | remove | list ------------------------------------------------ */

static int cmd_official(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "store", required_argument, NULL, 's' },
		{ "name", required_argument, NULL, 'n' },
		{ "role", required_argument, NULL, 'r' },
		{ "member", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL, *store_loc = NULL, *name = NULL, *role = NULL, *sub, *why = NULL;
	const char *member_arg = NULL;
	char db[4096], member[NDX_ID_TEXT_MAX] = "";
	struct ndx_id mid;
	struct store *st = NULL;
	json_t *rows = NULL, *row;
	size_t i;
	int c, rc = 1;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(OFFICIAL_HELP, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	sub = argv[1];
	argc--;
	argv++;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 's': store_loc = optarg; break;
		case 'n': name = optarg; break;
		case 'r': role = optarg; break;
		case 'm': member_arg = optarg; break;
		case 'h': fputs(OFFICIAL_HELP, stdout); return 0;
		default: fputs(OFFICIAL_HELP, stderr); return 2;
		}
	}
	if (!dir) {
		fprintf(stderr, PROG " official: --data DIR is required\n%s", OFFICIAL_HELP);
		return 2;
	}
	if (strcmp(sub, "list") == 0 ? optind != argc
	    : (strcmp(sub, "add") != 0 && strcmp(sub, "remove") != 0) || optind != argc - 1) {
		fprintf(stderr, PROG " official: add PIN, remove PIN or list\n%s", OFFICIAL_HELP);
		return 2;
	}
	if (strcmp(sub, "list") != 0 && ndx_pin_parse(argv[optind], 0, NULL, &why) != NDX_OK) {
		fprintf(stderr, PROG " official %s: PIN: %s\n", sub, why ? why : "malformed");
		return 2;
	}
	if (strcmp(sub, "add") == 0 &&
	    (!name || !*name || strlen(name) > 256 || !role ||
	     (strcmp(role, "operator") != 0 && strcmp(role, "auditor") != 0 &&
	      strcmp(role, "agency") != 0 && strcmp(role, "dpo") != 0))) {
		fprintf(stderr, PROG " official add: --name NAME (1-256 bytes) and --role operator, "
				"auditor, agency or dpo are required\n");
		return 2;
	}
	if (strcmp(sub, "add") == 0 && !member_arg != (strcmp(role, "agency") != 0)) {
		fprintf(stderr, PROG " official add: --member ID %s\n",
			member_arg ? "is only for --role agency" : "is required with --role agency");
		return 2;
	}
	if (member_arg && (strcmp(sub, "add") != 0 ||
			   ndx_id_parse(member_arg, strlen(member_arg), NDX_ID_MEMBER, &mid, &why) ||
			   ndx_id_format(&mid, member, sizeof member) < 0)) {
		fprintf(stderr, PROG " official %s: --member: %s\n", sub,
			strcmp(sub, "add") != 0 ? "only with add" : why ? why : "too long");
		return 2;
	}
	if (store_location(dir, store_loc, db, sizeof db) || store_open(db, &st))
		return 1;
	if (member[0] && store_member_exists(st, member) != 1) {
		fprintf(stderr, PROG " official add: --member: no member %s in the registry\n", member);
		store_close(st);
		return 1;
	}
	if (strcmp(sub, "list") == 0) {
		if ((c = store_official_list(st, &rows)) == NDX_OK) {
			json_array_foreach(rows, i, row) {
				const char *m = json_string_value(json_object_get(row, "member"));
				printf("%s\t%s\t%s%s%s\n",
				       json_string_value(json_object_get(row, "subject")),
				       json_string_value(json_object_get(row, "role")),
				       json_string_value(json_object_get(row, "name")), m ? "\t" : "",
				       m ? m : "");
			}
			json_decref(rows);
			rc = 0;
		}
	} else if (strcmp(sub, "add") == 0) {
		c = store_official_put(st, argv[optind], name, role, member[0] ? member : NULL, "cli",
				       "local");
		if (c == NDX_OK) {
			/* The name, not the number: a demo keeps this line in a log,
			 * and no log holds a personal number in clear (T34). */
			printf("official %s added (%s)\n", name, role);
			rc = 0;
		}
	} else {
		c = store_official_remove(st, argv[optind], "cli", "local");
		if (c == NDX_ENOTFOUND)
			fprintf(stderr, PROG " official remove: no such official\n");
		else if (c == NDX_OK && printf("official removed\n") > 0)
			rc = 0;
	}
	if (rc && c != NDX_ENOTFOUND)
		fprintf(stderr, PROG " official %s: %s\n", sub, ndx_strerror(c));
	store_close(st);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct ndx_cmd cmds[] = {
		{ "init", NULL, cmd_init },
		{ "serve", NULL, cmd_serve },
		{ "token", NULL, cmd_token },
		{ "official", NULL, cmd_official },
	};

	return ndx_cmd_main(PROG, NDX_VERSION, USAGE, cmds, sizeof cmds / sizeof cmds[0], argc,
			    argv);
}
