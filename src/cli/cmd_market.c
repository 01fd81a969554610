/* `ndx market statement | check-statement | invoice`: metering of the data
 * marketplace from the gateways' message logs (docs/marketplace.md
 * "Metering and statements"; the format: docs/protocol.md "Usage
 * statements"). A statement is made on the gateway's host from its log
 * file, read-only like `ndx log prove`, and signed with the gateway's
 * signing key; the other party checks it with the signer's key from the
 * signed global configuration and compares it with its own log.
 *
 * `ndx market sign-message | check-negotiation`: negotiation messages
 * signed by the member's gateway key, and the check of a whole signed
 * negotiation against the signed configuration (docs/marketplace.md
 * "Signed negotiations"; ndx/negmsg.h, ndx/negchain.h).
 *
 * `ndx market record-agreement`: such a chain, FINALIZED between the
 * members' own connectors, handed to the registry to record. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cli.h"
#include "client.h"
#include "ndx/conf.h"
#include "ndx/err.h"
#include "ndx/file.h"
#include "ndx/key.h"
#include "ndx/msglog.h"
#include "ndx/policy.h"
#include "ndx/timefmt.h"
#include "ndx/usage.h"
#include "ndx/vietqr.h"
#include "ndx/id.h"
#include "ndx/encode.h"
#include "ndx/dspneg.h"
#include "ndx/jws.h"
#include "ndx/negchain.h"
#include "ndx/negmsg.h"

/* A statement of a busy month is large; this caps what check reads. */
#define STATEMENT_MAX (1u << 30)

static const char usage[] =
	"usage: ndx market <statement|check-statement|invoice|sign-message|check-negotiation|\n"
	"                   record-agreement|connector> [arguments]\n"
	"\n"
	"  ndx market statement --db PATH --key SIGN_KEY --conf DIR --anchor ANCHOR\n"
	"                       --agreement ID (--month YYYY-MM | --from TIME --to TIME)\n"
	"                       [--out FILE]\n"
	"      Makes the signed usage statement of one agreement for one period from\n"
	"      this gateway's message log: every exchange of the agreement's client\n"
	"      with its service answered 2xx in the period (X-Road-Id, time, record,\n"
	"      leaf index, record hash and audit path to its batch's signed tree\n"
	"      head), the count, the price of the agreement's policy and the amount\n"
	"      due. The agreement's grant is read from the signed configuration in DIR\n"
	"      (the gateway's data_dir/conf: its last full document and the deltas\n"
	"      it applied since), verified with ANCHOR; the gateway is\n"
	"      the one whose signing key is SIGN_KEY, and it is the provider's or the\n"
	"      consumer's side as its member is the service's or the client's.\n"
	"  ndx market check-statement FILE --db PATH (--conf DIR --anchor ANCHOR | --key PUB)\n"
	"                       [--month YYYY-MM | --from TIME --to TIME]\n"
	"      Checks a statement made by the other side: its signature with the\n"
	"      signer's key from the configuration (or PUB), every exchange's\n"
	"      inclusion proof against the signer's signed tree heads, count and\n"
	"      amount; with --conf, the agreement's parties and price; with a period,\n"
	"      that the statement covers it. Then compares it with this gateway's own\n"
	"      log (PATH) for the same agreement and period and prints a JSON report:\n"
	"      exchanges only in the statement, only in this log, both counts and\n"
	"      amounts.\n"
	"  ndx market invoice FILE (--conf DIR --anchor ANCHOR | --key PUB) --bin BIN\n"
	"                       --account ACCOUNT [--account-name NAME] [--out FILE]\n"
	"                       [--month YYYY-MM | --from TIME --to TIME]\n"
	"                       [--record [--registry URL] [--token-file FILE]]\n"
	"      The invoice of a statement that checks as above: seller, buyer, count and\n"
	"      amount due, a payment reference derived from the statement hash, and\n"
	"      the VietQR payload of the transfer to the seller's account (BIN: the\n"
	"      bank's 6-digit NAPAS BIN). Refused when nothing is due. With --record,\n"
	"      the seller records it in the registry's marketplace (POST\n"
	"      /market/invoices with the seller's member credential in FILE, or\n"
	"      NDX_TOKEN_FILE; URL or NDX_REGISTRY, default http://127.0.0.1:4400),\n"
	"      which checks the statement again, and prints the invoice as recorded,\n"
	"      with its status (open, or paid once a bank's receipt cleared it).\n"
	"  ndx market sign-message --key SIGN_KEY --sender MEMBER --path PATH\n"
	"                       [--previous HASH | --after FILE] [--out FILE] [MESSAGE]\n"
	"      Signs a DSP negotiation message (the JSON object of the plain binding,\n"
	"      from MESSAGE or standard input) with this gateway's signing key for\n"
	"      member MEMBER, to be sent to PATH (/dsp/negotiations/... as the\n"
	"      registry serves it) with Content-Type application/jose. The JWS's\n"
	"      payload is the message with ndx:sender, ndx:path, ndx:previous (HASH,\n"
	"      or the hash of the negotiation's last accepted message in FILE; none\n"
	"      for the first message) and ndx:signedAt (now). Prints the JWS.\n"
	"  ndx market check-negotiation FILE (--conf DIR --anchor ANCHOR | --key PUB...)\n"
	"      Checks a signed negotiation's chain of messages (FILE: the answer of\n"
	"      GET /dsp/negotiations/{providerPid}/messages, a JSON array of the JWS\n"
	"      texts, or one JWS a line): each message's signature with the key of a\n"
	"      gateway of its sender in the configuration (or one of the PUB keys),\n"
	"      each ndx:previous the hash of the message before it, each path the\n"
	"      endpoint of its message and party naming this negotiation, and the\n"
	"      messages a valid run of the DSP state machine, the agreement on the\n"
	"      latest offer's terms. Prints the final state, the parties and the\n"
	"      agreed terms as JSON; the first fault is named otherwise.\n"
	"  ndx market record-agreement FILE [--registry URL] [--conf DIR --anchor ANCHOR]\n"
	"      Hands the chain of a negotiation the two members' connectors held without\n"
	"      the registry, ended FINALIZED, to the registry (POST /dsp/agreements on URL,\n"
	"      or NDX_REGISTRY, default http://127.0.0.1:4400), which checks it against\n"
	"      its own record of the parties' gateway keys and its catalogue and records\n"
	"      the agreement and its grant. FILE: the request body {\"ndx:messages\":\n"
	"      [JWS, ...]}, or any file check-negotiation reads, the consumer's initial\n"
	"      request first. No credential is sent: the parties' signatures are the\n"
	"      authentication. With --conf and --anchor the chain is first checked here\n"
	"      as check-negotiation does, and must end FINALIZED. Prints the agreement id\n"
	"      and the configuration version that carries its grant (or that it was\n"
	"      recorded already); the registry's refusal otherwise.\n"
	"  ndx market connector ACTION [ID] --gateway URL --client SUBSYSTEM [options]\n"
	"      Drives this member's own DSP connector at its gateway: list, show,\n"
	"      messages, start, agree, offer, accept, request, terminate (`ndx market\n"
	"      connector --help`).\n"
	"\n"
	"--month is a calendar month in Vietnam time (from the 1st at 00:00 +07:00);\n"
	"--from and --to are RFC 3339 UTC times (YYYY-MM-DDTHH:MM:SSZ), the period\n"
	"[from, to).\n"
	"\n"
	"Exit status: 0 when the statement, invoice or signed message is made, the\n"
	"statement checks and agrees with this log, the negotiation checks, or the\n"
	"agreement is recorded; 1 when it does not or the registry refuses it (one\n"
	"'ndx: ...' line says why); 2 for a command line that could not be understood.\n";

enum { OPT_DB = 1, OPT_KEY, OPT_CONF, OPT_ANCHOR, OPT_AGREEMENT, OPT_MONTH, OPT_FROM, OPT_TO,
       OPT_OUT, OPT_BIN, OPT_ACCOUNT, OPT_ACCOUNT_NAME, OPT_RECORD, OPT_REGISTRY,
       OPT_TOKEN_FILE, OPT_SENDER, OPT_PATH, OPT_PREVIOUS, OPT_AFTER, OPT_HELP };
#define KEYS_MAX 16

static const struct option opts[] = {
	{ "db", required_argument, NULL, OPT_DB },
	{ "key", required_argument, NULL, OPT_KEY },
	{ "conf", required_argument, NULL, OPT_CONF },
	{ "anchor", required_argument, NULL, OPT_ANCHOR },
	{ "agreement", required_argument, NULL, OPT_AGREEMENT },
	{ "month", required_argument, NULL, OPT_MONTH },
	{ "from", required_argument, NULL, OPT_FROM },
	{ "to", required_argument, NULL, OPT_TO },
	{ "out", required_argument, NULL, OPT_OUT },
	{ "bin", required_argument, NULL, OPT_BIN },
	{ "account", required_argument, NULL, OPT_ACCOUNT },
	{ "account-name", required_argument, NULL, OPT_ACCOUNT_NAME },
	{ "record", no_argument, NULL, OPT_RECORD },
	{ "registry", required_argument, NULL, OPT_REGISTRY },
	{ "token-file", required_argument, NULL, OPT_TOKEN_FILE },
	{ "sender", required_argument, NULL, OPT_SENDER },
	{ "path", required_argument, NULL, OPT_PATH },
	{ "previous", required_argument, NULL, OPT_PREVIOUS },
	{ "after", required_argument, NULL, OPT_AFTER },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

struct args {
	const char *db, *key, *conf, *anchor, *agreement, *month, *from, *to, *out, *file;
	const char *bin, *account, *account_name, *registry, *token_file;
	const char *sender, *path, *previous, *after;
	const char *keys[KEYS_MAX];
	size_t nkeys;
	int help, record;
	bool has_period;
	int64_t from_ms, to_ms;
};

static int parse(int argc, char **argv, struct args *a)
{
	int c;

	memset(a, 0, sizeof *a);
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_DB: a->db = optarg; break;
		case OPT_KEY:
			a->key = optarg;
			if (a->nkeys == KEYS_MAX)
				return cli_usage_error(usage, "at most %d --key", KEYS_MAX);
			a->keys[a->nkeys++] = optarg;
			break;
		case OPT_SENDER: a->sender = optarg; break;
		case OPT_PATH: a->path = optarg; break;
		case OPT_PREVIOUS: a->previous = optarg; break;
		case OPT_AFTER: a->after = optarg; break;
		case OPT_CONF: a->conf = optarg; break;
		case OPT_ANCHOR: a->anchor = optarg; break;
		case OPT_AGREEMENT: a->agreement = optarg; break;
		case OPT_MONTH: a->month = optarg; break;
		case OPT_FROM: a->from = optarg; break;
		case OPT_TO: a->to = optarg; break;
		case OPT_OUT: a->out = optarg; break;
		case OPT_BIN: a->bin = optarg; break;
		case OPT_ACCOUNT: a->account = optarg; break;
		case OPT_ACCOUNT_NAME: a->account_name = optarg; break;
		case OPT_RECORD: a->record = 1; break;
		case OPT_REGISTRY: a->registry = optarg; break;
		case OPT_TOKEN_FILE: a->token_file = optarg; break;
		case 'h':
		case OPT_HELP: a->help = 1; break;
		default: return cli_bad_option(usage, argv);
		}
		if (optarg != NULL && optarg[0] == '\0')
			return cli_usage_error(usage, "%s needs a non-empty value", argv[optind - 1]);
	}
	return cli_one_positional(usage, argc, argv, &a->file);
}

/* The period of --month or --from/--to into a (has_period false: none). */
static int period(struct args *a)
{
	time_t f, t;

	if (a->month != NULL && (a->from != NULL || a->to != NULL))
		return cli_usage_error(usage, "give --month or --from and --to, not both");
	if (a->month != NULL) {
		if (ndx_usage_month_vn(a->month, &a->from_ms, &a->to_ms) != NDX_OK)
			return cli_usage_error(usage, "--month must be YYYY-MM (e.g. 2026-12)");
		a->has_period = true;
		return CLI_EXIT_OK;
	}
	if ((a->from == NULL) != (a->to == NULL))
		return cli_usage_error(usage, "--from and --to go together");
	if (a->from == NULL)
		return CLI_EXIT_OK;
	if (ndx_time_parse(a->from, &f) != NDX_OK || ndx_time_parse(a->to, &t) != NDX_OK)
		return cli_usage_error(usage, "--from and --to must be YYYY-MM-DDTHH:MM:SSZ");
	if (f >= t)
		return cli_usage_error(usage, "--from must be before --to");
	a->from_ms = (int64_t)f * 1000;
	a->to_ms = (int64_t)t * 1000;
	a->has_period = true;
	return CLI_EXIT_OK;
}

static int load_conf(const struct args *a, struct ndx_conf **conf)
{
	struct ndx_anchor *anchor = NULL;
	char why[512];
	int rc;

	if (ndx_anchor_load(a->anchor, &anchor, why, sizeof why) != NDX_OK) {
		cli_error("cannot read the anchor %s: %s", a->anchor, why);
		return CLI_EXIT_FAIL;
	}
	/* A gateway's directory: its last full document and the deltas on it. */
	rc = ndx_conf_load_dir_deltas(a->conf, anchor, time(NULL), conf, NULL, why, sizeof why);
	ndx_anchor_free(anchor);
	if (rc != NDX_OK) {
		cli_error("the configuration in %s: %s", a->conf, why);
		return CLI_EXIT_FAIL;
	}
	return CLI_EXIT_OK;
}

static const struct ndx_conf_grant *grant_of(const struct ndx_conf *conf, const char *agreement)
{
	const struct ndx_conf_grant *g;

	for (size_t i = 0; (g = ndx_conf_grant_at(conf, i)) != NULL; i++)
		if (g->agreement && g->policy && strcmp(g->agreement, agreement) == 0)
			return g;
	return NULL;
}

/* The gateway of the configuration whose signing key has this id. */
static const struct ndx_conf_gateway *gateway_with_key(const struct ndx_conf *conf,
							const char *key_id)
{
	const struct ndx_conf_member *m;
	const struct ndx_conf_gateway *g;

	for (size_t i = 0; (m = ndx_conf_member_at(conf, i)) != NULL; i++)
		for (size_t j = 0; (g = ndx_conf_gateway_of(conf, m->id, j)) != NULL; j++)
			if (g->sign_key_id && strcmp(g->sign_key_id, key_id) == 0)
				return g;
	return NULL;
}

/* The gateway "{member}/{code}" of the configuration. */
static const struct ndx_conf_gateway *gateway_named(const struct ndx_conf *conf, const char *name)
{
	const struct ndx_conf_member *m;
	const struct ndx_conf_gateway *g;
	char full[NDX_MSGLOG_GATEWAY_MAX + 2];

	for (size_t i = 0; (m = ndx_conf_member_at(conf, i)) != NULL; i++)
		for (size_t j = 0; (g = ndx_conf_gateway_of(conf, m->id, j)) != NULL; j++) {
			snprintf(full, sizeof full, "%s/%s", g->member, g->code);
			if (strcmp(full, name) == 0)
				return g;
		}
	return NULL;
}

/* True when id (a client or service id) belongs to member. */
static bool of_member(const char *id, const char *member)
{
	char m[NDX_ID_TEXT_MAX];

	ndx_id_member_text(id, m, sizeof m);
	return m[0] != '\0' && strcmp(m, member) == 0;
}

/* Collects the exchanges of one agreement on one side of a log walk. */
struct collect {
	struct ndx_usage *u;
	int rc;
};

static int collect_one(const struct ndx_msglog_proven *p, void *ctx)
{
	struct collect *c = ctx;
	const struct ndx_msglog_entry *e = p->entry;
	uint8_t path[NDX_MERKLE_MAX_PATH][NDX_SHA256_LEN];
	size_t plen = 0;

	/* An exchange is billable when its record is of this side, of the
	 * agreement's client and service, and answered 2xx: a refusal (the
	 * gateway's or the provider system's) is not a use of the data. */
	if (e->direction != c->u->side || e->status < 200 || e->status > 299 ||
	    strcmp(e->client, c->u->client) != 0 || strcmp(e->service, c->u->service) != 0)
		return 0;
	c->rc = ndx_msglog_proven_path(p, path, &plen);
	if (c->rc == NDX_OK)
		c->rc = ndx_usage_add(c->u, e->message_id, e->time_ms, e->seq, e->hash, p->sth,
				      p->leaf_index, (const uint8_t (*)[NDX_SHA256_LEN])path, plen);
	return c->rc == NDX_OK ? 0 : c->rc;
}

/* Reads u's side of the log at db for u's period into u. */
static int read_log(const char *db, struct ndx_usage *u, struct ndx_msglog_walk_result *res)
{
	struct collect c = { .u = u };
	char err[1024];
	int rc = ndx_msglog_walk_period(db, u->from_ms, u->to_ms, collect_one, &c, res, err,
					sizeof err);

	if (rc != NDX_OK && c.rc == NDX_ETOOBIG) {
		cli_error("more than %u exchanges of agreement %s in the period: state it for "
			  "shorter periods (--from, --to)", NDX_USAGE_EXCHANGES_MAX, u->agreement);
		return CLI_EXIT_FAIL;
	}
	if (rc != NDX_OK) {
		cli_error("%s", err);
		return CLI_EXIT_FAIL;
	}
	if (res->open_records > 0) {
		cli_error("%" PRIu64 " records of the period are not under a signed tree head yet "
			  "(the open batch); try again after the batch interval", res->open_records);
		return CLI_EXIT_FAIL;
	}
	return CLI_EXIT_OK;
}

static int write_out(const char *path, const char *text)
{
	FILE *f = path ? fopen(path, "w") : stdout;
	int ok;

	if (f == NULL) {
		cli_error("cannot write %s: %s", path, strerror(errno));
		return CLI_EXIT_FAIL;
	}
	ok = fputs(text, f) >= 0 && fputc('\n', f) != EOF;
	if (path)
		ok = (fclose(f) == 0) && ok;
	if (!ok) {
		cli_error("cannot write %s", path ? path : "the statement");
		return CLI_EXIT_FAIL;
	}
	return CLI_EXIT_OK;
}

static int market_statement(struct args *a)
{
	const struct ndx_conf_grant *g;
	const struct ndx_conf_gateway *gw;
	struct ndx_msglog_walk_result res = { 0 };
	struct ndx_conf *conf = NULL;
	struct ndx_key *key = NULL;
	struct ndx_usage *u = NULL;
	char kid[NDX_KEY_ID_HEX_LEN + 1], logkid[NDX_KEY_ID_HEX_LEN + 1], name[600], *text;
	enum ndx_msglog_direction side;
	int rc = CLI_EXIT_FAIL;

	if (!a->db || !a->key || !a->conf || !a->anchor || !a->agreement)
		return cli_usage_error(usage, "market statement needs --db, --key, --conf, "
				       "--anchor and --agreement");
	if (a->bin || a->account || a->account_name)
		return cli_usage_error(usage, "market statement takes no --bin, --account or "
				       "--account-name");
	if (a->file)
		return cli_usage_error(usage, "unexpected argument '%s'", a->file);
	if ((rc = period(a)) != CLI_EXIT_OK)
		return rc;
	if (!a->has_period)
		return cli_usage_error(usage, "market statement needs --month or --from and --to");
	rc = CLI_EXIT_FAIL;
	if (ndx_key_load(a->key, &key) != NDX_OK || !ndx_key_has_private(key)) {
		cli_error("cannot read the signing key %s (an Ed25519 private key in PEM)", a->key);
		goto out;
	}
	if (load_conf(a, &conf) != CLI_EXIT_OK)
		goto out;
	ndx_key_id(key, kid);
	if (!(g = grant_of(conf, a->agreement))) {
		cli_error("agreement %s is not in force in the configuration (version %" PRIu64 ")",
			  a->agreement, ndx_conf_version(conf));
		goto out;
	}
	if (!(gw = gateway_with_key(conf, kid))) {
		cli_error("no gateway of the configuration has the signing key %s", kid);
		goto out;
	}
	if (of_member(g->service, gw->member))
		side = NDX_MSGLOG_PROVIDER;
	else if (of_member(g->client, gw->member))
		side = NDX_MSGLOG_CONSUMER;
	else {
		cli_error("gateway %s/%s is a party to neither side of agreement %s", gw->member,
			  gw->code, a->agreement);
		goto out;
	}
	snprintf(name, sizeof name, "%s/%s", gw->member, gw->code);
	u = ndx_usage_new(a->agreement, g->client, g->service, name, side, a->from_ms, a->to_ms,
			  g->policy->price, g->policy->price_unit);
	if (u == NULL) {
		cli_error("out of memory");
		goto out;
	}
	if (read_log(a->db, u, &res) != CLI_EXIT_OK)
		goto out;
	ndx_key_id(res.key, logkid);
	if (strcmp(logkid, kid) != 0) {
		cli_error("the log %s was written with key %s, not with %s", a->db, logkid, kid);
		goto out;
	}
	if (res.head.batch == 0) {
		cli_error("the log %s has no signed tree head yet", a->db);
		goto out;
	}
	if (ndx_usage_sign(u, &res.head, (int64_t)time(NULL) * 1000, key) != NDX_OK) {
		cli_error("cannot sign the statement (amount out of range, or signing failed)");
		goto out;
	}
	if (!(text = ndx_usage_to_json(u))) {
		cli_error("out of memory");
		goto out;
	}
	rc = write_out(a->out, text);
	free(text);
out:
	ndx_usage_free(u);
	ndx_key_free(res.key);
	ndx_key_free(key);
	ndx_conf_free(conf);
	return rc;
}

/* The signer's public key: --key, or the statement's gateway's key in the
 * configuration. */
static int signer_key(const struct args *a, const struct ndx_conf *conf,
		      const struct ndx_usage *u, struct ndx_key **key, const struct ndx_key **use)
{
	const struct ndx_conf_gateway *gw;

	if (a->key) {
		if (ndx_key_load(a->key, key) != NDX_OK) {
			cli_error("cannot read the key %s (an Ed25519 PEM key)", a->key);
			return CLI_EXIT_FAIL;
		}
		*use = *key;
		return CLI_EXIT_OK;
	}
	if (!(gw = gateway_named(conf, u->gateway)) || !gw->sign_key) {
		cli_error("statement refused: its signer %s is not a gateway of the configuration",
			  u->gateway);
		return CLI_EXIT_FAIL;
	}
	*use = gw->sign_key;
	return CLI_EXIT_OK;
}

/* With the configuration: the statement is about the agreement's grant,
 * at its price, and its signer is of the side it says. */
static int check_against_conf(const struct ndx_conf *conf, const struct ndx_usage *u)
{
	const struct ndx_conf_grant *g = grant_of(conf, u->agreement);
	const char *member_end = strrchr(u->gateway, '/');
	char member[600];

	if (g == NULL) {
		cli_error("statement refused: agreement %s is not in force in the configuration",
			  u->agreement);
		return CLI_EXIT_FAIL;
	}
	if (strcmp(g->client, u->client) != 0 || strcmp(g->service, u->service) != 0) {
		cli_error("statement refused: agreement %s is %s calling %s, not %s calling %s",
			  u->agreement, g->client, g->service, u->client, u->service);
		return CLI_EXIT_FAIL;
	}
	if (g->policy->price != u->price || g->policy->price_unit != u->unit) {
		cli_error("statement refused: price %" PRId64 " VND (%s), but the agreement's is %"
			  PRId64 " VND (%s)", u->price, ndx_usage_unit_name(u->unit),
			  g->policy->price, ndx_usage_unit_name(g->policy->price_unit));
		return CLI_EXIT_FAIL;
	}
	snprintf(member, sizeof member, "%.*s", member_end ? (int)(member_end - u->gateway) : 0,
		 u->gateway);
	if (!of_member(u->side == NDX_MSGLOG_PROVIDER ? u->service : u->client, member)) {
		cli_error("statement refused: its signer %s is not the %s of agreement %s",
			  u->gateway, u->side == NDX_MSGLOG_PROVIDER ? "provider" : "consumer",
			  u->agreement);
		return CLI_EXIT_FAIL;
	}
	return CLI_EXIT_OK;
}

static json_t *ids_json(const struct ndx_usage *u, const size_t *ix, size_t n)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < n; i++)
		json_array_append_new(arr, json_string(u->ex[ix[i]].message_id));
	return arr;
}

/* Compares the checked statement with our own side and prints the report;
 * CLI_EXIT_OK when they agree. */
static int compare(const struct ndx_usage *theirs, const struct ndx_usage *ours)
{
	size_t *only_t = NULL, *only_o = NULL, nt = 0, no = 0;
	int64_t own_amount = 0;
	json_t *rep;
	char *text = NULL;
	bool agree;

	if (ndx_usage_diff(theirs, ours, &only_t, &nt, &only_o, &no) != NDX_OK ||
	    ndx_usage_amount(ours, &own_amount) != NDX_OK) {
		free(only_t);
		free(only_o);
		cli_error("out of memory");
		return CLI_EXIT_FAIL;
	}
	agree = nt == 0 && no == 0 && theirs->count == ours->nex && theirs->amount == own_amount;
	rep = json_pack("{s:b, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:o, s:o}", "agree", agree,
			"agreement", theirs->agreement, "signer", theirs->gateway, "side",
			theirs->side == NDX_MSGLOG_PROVIDER ? "provider" : "consumer",
			"from_ms", (json_int_t)theirs->from_ms, "count", (json_int_t)theirs->count,
			"own_count", (json_int_t)ours->nex, "amount_due", (json_int_t)theirs->amount,
			"own_amount", (json_int_t)own_amount, "only_in_statement",
			ids_json(theirs, only_t, nt), "only_in_own_log", ids_json(ours, only_o, no));
	if (rep)
		text = json_dumps(rep, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(rep);
	if (text)
		printf("%s\n", text);
	free(text);
	free(only_t);
	free(only_o);
	if (!agree) {
		fflush(stdout);
		cli_error("the statement does not agree with this log: %zu exchanges only in the "
			  "statement, %zu only in this log; count %" PRIu64 " vs %zu, amount %" PRId64
			  " vs %" PRId64 " VND", nt, no, theirs->count, ours->nex, theirs->amount,
			  own_amount);
		return CLI_EXIT_FAIL;
	}
	return CLI_EXIT_OK;
}

/* Reads a.file and checks it (signature, proofs, count, amount; with the
 * configuration the agreement's parties and price; with a period, that it
 * covers it). On CLI_EXIT_OK *out is the statement (the caller frees it). */
static int verified_statement(const struct args *a, struct ndx_usage **out)
{
	struct ndx_conf *conf = NULL;
	struct ndx_key *key = NULL;
	const struct ndx_key *use = NULL;
	struct ndx_usage *u = NULL;
	char *text = NULL, why[1024];
	size_t len = 0;
	int rc = CLI_EXIT_FAIL;

	*out = NULL;
	if (ndx_file_read(strcmp(a->file, "-") == 0 ? "/dev/stdin" : a->file, STATEMENT_MAX, &text,
			  &len) != NDX_OK) {
		cli_error("cannot read the statement %s", a->file);
		goto out;
	}
	if (ndx_usage_parse(text, len, &u, why, sizeof why) != NDX_OK) {
		cli_error("statement refused: %s", why);
		goto out;
	}
	if (a->conf && (load_conf(a, &conf) != CLI_EXIT_OK || check_against_conf(conf, u)))
		goto out;
	if (signer_key(a, conf, u, &key, &use) != CLI_EXIT_OK)
		goto out;
	if (ndx_usage_check(u, use, why, sizeof why) != NDX_OK) {
		cli_error("statement refused: %s", why);
		goto out;
	}
	if (a->has_period && (a->from_ms != u->from_ms || a->to_ms != u->to_ms)) {
		char f[NDX_TIME_TEXT_LEN], t[NDX_TIME_TEXT_LEN];

		ndx_time_format((time_t)(u->from_ms / 1000), f);
		ndx_time_format((time_t)(u->to_ms / 1000), t);
		cli_error("statement refused: it covers %s to %s, not the period asked", f, t);
		goto out;
	}
	*out = u;
	u = NULL;
	rc = CLI_EXIT_OK;
out:
	free(text);
	ndx_usage_free(u);
	ndx_key_free(key);
	ndx_conf_free(conf);
	return rc;
}

/* The options every reader of a statement shares. */
static int statement_args(struct args *a, const char *sub)
{
	if (!a->file)
		return cli_usage_error(usage, "market %s needs FILE", sub);
	if (a->agreement)
		return cli_usage_error(usage, "market %s does not take --agreement", sub);
	if (!a->key == !a->conf || (a->conf != NULL) != (a->anchor != NULL))
		return cli_usage_error(usage, "market %s needs --conf DIR --anchor ANCHOR, or --key "
				       "PUB", sub);
	return period(a);
}

static int market_check(struct args *a)
{
	struct ndx_msglog_walk_result res = { 0 };
	struct ndx_usage *u = NULL, *own = NULL;
	int rc;

	if ((rc = statement_args(a, "check-statement")) != CLI_EXIT_OK)
		return rc;
	if (!a->db || a->out || a->bin || a->account || a->account_name)
		return cli_usage_error(usage, "market check-statement needs --db, and takes no "
				       "--out, --bin, --account or --account-name");
	if ((rc = verified_statement(a, &u)) != CLI_EXIT_OK)
		return rc;
	rc = CLI_EXIT_FAIL;
	own = ndx_usage_new(u->agreement, u->client, u->service, "-",
			    u->side == NDX_MSGLOG_PROVIDER ? NDX_MSGLOG_CONSUMER
							   : NDX_MSGLOG_PROVIDER,
			    u->from_ms, u->to_ms, u->price, u->unit);
	if (own == NULL)
		cli_error("out of memory");
	else if (read_log(a->db, own, &res) == CLI_EXIT_OK)
		rc = compare(u, own);
	ndx_usage_free(u);
	ndx_usage_free(own);
	ndx_key_free(res.key);
	return rc;
}

/* Records the invoice of u in the registry (POST /market/invoices, the
 * seller's member credential): *inv becomes the invoice as the registry
 * answers it. */
static int record_invoice(const struct args *a, const struct ndx_usage *u, json_t **inv)
{
	struct cli_api api;
	json_t *body = NULL, *st = NULL, *out = NULL;
	char *text = ndx_usage_to_json(u), err[1024];
	long status = 0;
	int rc = CLI_EXIT_FAIL;

	if (!text || !(st = json_loads(text, 0, NULL))) {
		free(text);
		cli_error("out of memory");
		return CLI_EXIT_FAIL;
	}
	free(text);
	body = json_pack("{s:o, s:s, s:s}", "statement", st, "bin", a->bin, "account", a->account);
	if (body && a->account_name)
		json_object_set_new(body, "account_name", json_string(a->account_name));
	if (!body) {
		cli_error("out of memory");
		return CLI_EXIT_FAIL;
	}
	if (cli_api_open(&api, a->registry, a->token_file, 1) != 0) {
		json_decref(body);
		return CLI_EXIT_FAIL;
	}
	if (cli_api_call(&api, "POST", "/market/invoices", body, &status, &out, err, sizeof err) !=
	    NDX_OK)
		cli_error("the registry did not record the invoice: %s", err);
	else if (!json_is_object(out))
		cli_error("the registry answered %ld without the invoice", status);
	else {
		json_decref(*inv);
		*inv = out;
		out = NULL;
		rc = CLI_EXIT_OK;
	}
	json_decref(out);
	json_decref(body);
	cli_api_close(&api);
	return rc;
}

/* The invoice of a checked statement: what is due, to whom, and the
 * VietQR transfer that pays it (docs/marketplace.md "Invoices and clearing";
 * ndx_usage_invoice, shared with the registry's POST /market/invoices). */
static int market_invoice(struct args *a)
{
	struct ndx_usage *u = NULL;
	char *text = NULL, why[512];
	json_t *inv = NULL;
	int rc;

	if ((rc = statement_args(a, "invoice")) != CLI_EXIT_OK)
		return rc;
	if (!a->bin || !a->account || a->db)
		return cli_usage_error(usage, "market invoice needs --bin and --account, and takes "
				       "no --db");
	if (!a->record && (a->registry || a->token_file))
		return cli_usage_error(usage, "market invoice takes --registry and --token-file "
				       "only with --record");
	if ((rc = verified_statement(a, &u)) != CLI_EXIT_OK)
		return rc;
	rc = CLI_EXIT_FAIL;
	switch (ndx_usage_invoice(u, a->bin, a->account, a->account_name, &inv, why, sizeof why)) {
	case NDX_OK:
		break;
	case NDX_EINVAL:
		cli_error("%s", why);
		goto out;
	default:
		cli_error("out of memory");
		goto out;
	}
	if (a->record && record_invoice(a, u, &inv) != CLI_EXIT_OK)
		goto out;
	text = json_dumps(inv, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (text == NULL)
		cli_error("out of memory");
	else
		rc = write_out(a->out, text);
	free(text);
out:
	json_decref(inv);
	ndx_usage_free(u);
	return rc;
}

/* ---- signed negotiations -------------------------------------------------------------- */

/* A message read whole: FILE, or standard input for NULL or "-". */
static int read_input(const char *file, size_t cap, char **text, size_t *len)
{
	const char *path = !file || strcmp(file, "-") == 0 ? "/dev/stdin" : file;

	if (ndx_file_read(path, cap, text, len) != NDX_OK) {
		cli_error("cannot read %s", file && strcmp(file, "-") != 0 ? file
									   : "standard input");
		return CLI_EXIT_FAIL;
	}
	return CLI_EXIT_OK;
}

/* Without trailing newlines (a JWS is one line; a file ends with one). */
static size_t trimmed(const char *text, size_t len)
{
	while (len && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		len--;
	return len;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int market_sign(struct args *a)
{
	struct ndx_key *key = NULL;
	char *msg = NULL, *prev_text = NULL, *jws = NULL, why[512];
	char prev[NDX_NEGMSG_HASH_LEN + 1];
	const char *previous = a->previous;
	size_t len = 0, plen = 0;
	int rc = CLI_EXIT_FAIL;

	if (!a->key || !a->sender || !a->path || a->nkeys != 1)
		return cli_usage_error(usage, "market sign-message needs --key (one), --sender and "
				       "--path");
	if (a->previous && a->after)
		return cli_usage_error(usage, "give --previous or --after, not both");
	if (a->conf || a->anchor || a->db || a->agreement || a->month || a->from || a->to ||
	    a->bin || a->account || a->account_name)
		return cli_usage_error(usage, "market sign-message takes --key, --sender, --path, "
				       "--previous or --after, and --out");
	if (ndx_key_load(a->key, &key) != NDX_OK || !ndx_key_has_private(key)) {
		cli_error("cannot read the signing key %s (the gateway's private Ed25519 PEM key)",
			  a->key);
		goto out;
	}
	if (a->after) {
		if (read_input(a->after, NDX_JWS_MAX_BYTES + 2, &prev_text, &plen) != CLI_EXIT_OK)
			goto out;
		ndx_negmsg_hash(prev_text, trimmed(prev_text, plen), prev);
		previous = prev;
	}
	if (read_input(a->file, NDX_JWS_MAX_BYTES, &msg, &len) != CLI_EXIT_OK)
		goto out;
	switch (ndx_negmsg_sign(key, msg, len, a->sender, a->path, previous, now_ms(), &jws, why,
				sizeof why)) {
	case NDX_OK:
		rc = write_out(a->out, jws);
		break;
	case NDX_ENOMEM:
		cli_error("out of memory");
		break;
	case NDX_ECRYPTO:
		cli_error("signing failed");
		break;
	default:
		cli_error("%s", why);
		break;
	}
out:
	free(jws);
	free(msg);
	free(prev_text);
	ndx_key_free(key);
	return rc;
}

/* The JWS texts of a chain file: the messages endpoint's answer (an
 * object with "messages"), a JSON array of strings, or one JWS a line.
 * *out: a new array of strings. */
static int chain_texts(const char *text, size_t len, json_t **out)
{
	json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL), *list, *v;
	size_t i;

	*out = NULL;
	if (doc) {
		list = json_is_object(doc) ? json_object_get(doc, "messages") : doc;
		if (!json_is_array(list)) {
			json_decref(doc);
			return NDX_EINVAL;
		}
		json_array_foreach(list, i, v)
			if (!json_is_string(v)) {
				json_decref(doc);
				return NDX_EINVAL;
			}
		*out = json_incref(list);
		json_decref(doc);
		return NDX_OK;
	}
	list = json_array();
	for (const char *p = text, *end = text + len; list && p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = trimmed(p, nl ? (size_t)(nl - p) : (size_t)(end - p));
		if (n)
			json_array_append_new(list, json_stringn(p, n));
		p = nl ? nl + 1 : end;
	}
	*out = list;
	return list ? NDX_OK : NDX_ENOMEM;
}

/* The keys check-negotiation checks with: a configuration's gateways, or
 * the --key keys. */
struct chain_keys {
	const struct ndx_conf *conf;
	struct ndx_key *const *keys;
	size_t nkeys;
};

/* ndx_negchain_key_fn over chain_keys. */
static int chain_key(void *ctx, const char *member, const char *kid, const struct ndx_key **key,
		     char *err, size_t errcap)
{
	const struct chain_keys *ck = ctx;
	char id[NDX_KEY_ID_HEX_LEN + 1];

	if (ck->conf) {
		const struct ndx_conf_gateway *gw = gateway_with_key(ck->conf, kid);
		if (!gw || !gw->sign_key || strcmp(gw->member, member) != 0) {
			snprintf(err, errcap, "which is no gateway of its sender %s in the "
				 "configuration", member);
			return NDX_ENOTFOUND;
		}
		*key = gw->sign_key;
		return NDX_OK;
	}
	for (size_t k = 0; k < ck->nkeys; k++) {
		ndx_key_id(ck->keys[k], id);
		if (strcmp(id, kid) == 0) {
			*key = ck->keys[k];
			return NDX_OK;
		}
	}
	snprintf(err, errcap, "none of the --key keys");
	return NDX_ENOTFOUND;
}

static int market_check_negotiation(struct args *a)
{
	struct ndx_conf *conf = NULL;
	struct ndx_key *keys[KEYS_MAX] = { 0 };
	struct ndx_negchain ch = { .state = NDX_NEG_NONE };
	struct chain_keys ck = { .keys = keys, .nkeys = a->nkeys };
	json_t *texts = NULL, *report;
	char *text = NULL, *out;
	size_t len = 0, i;
	int rc = CLI_EXIT_FAIL;

	if (!a->file)
		return cli_usage_error(usage, "market check-negotiation needs FILE");
	if (!a->nkeys == !a->conf || (a->conf != NULL) != (a->anchor != NULL))
		return cli_usage_error(usage, "market check-negotiation needs --conf DIR --anchor "
				       "ANCHOR, or --key PUB...");
	if (a->db || a->agreement || a->month || a->from || a->to || a->out || a->bin ||
	    a->account || a->account_name)
		return cli_usage_error(usage, "market check-negotiation takes FILE and --conf "
				       "--anchor or --key only");
	if (a->conf && load_conf(a, &conf) != CLI_EXIT_OK)
		goto out;
	ck.conf = conf;
	for (i = 0; i < a->nkeys; i++)
		if (ndx_key_load(a->keys[i], &keys[i]) != NDX_OK) {
			cli_error("cannot read the key %s (an Ed25519 PEM key)", a->keys[i]);
			goto out;
		}
	if (read_input(a->file, STATEMENT_MAX, &text, &len) != CLI_EXIT_OK)
		goto out;
	if (chain_texts(text, len, &texts) != NDX_OK || json_array_size(texts) == 0) {
		cli_error("negotiation refused: %s holds no messages (expected the answer of GET "
			  "/dsp/negotiations/{providerPid}/messages, a JSON array of JWS texts, or "
			  "one JWS a line)", a->file);
		goto out;
	}
	switch (ndx_negchain_check(texts, chain_key, &ck, &ch)) {
	case NDX_OK:
		break;
	case NDX_EINVAL:
		cli_error("negotiation refused: %s", ch.why);
		goto out;
	default:
		cli_error("out of memory");
		goto out;
	}
	report = json_pack("{ss sI ss ss ss ss sO* sO*}", "state", ndx_neg_state_name(ch.state),
			   "messages", (json_int_t)json_array_size(texts), "consumer", ch.consumer,
			   "provider", ch.provider, "consumerPid", ch.cpid, "providerPid", ch.ppid,
			   "offer", ch.offer, "agreement", ch.agreement);
	out = report ? json_dumps(report, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	json_decref(report);
	if (!out)
		cli_error("out of memory");
	else
		rc = write_out(NULL, out);
	free(out);
out:
	ndx_negchain_clear(&ch);
	json_decref(texts);
	free(text);
	for (i = 0; i < KEYS_MAX; i++)
		ndx_key_free(keys[i]);
	ndx_conf_free(conf);
	return rc;
}

/* POST /dsp/agreements: a FINALIZED negotiation the connectors held
 * without the registry, recorded (docs/marketplace.md "Recording an
 * agreement the connectors negotiated"). FILE: the body itself, or any
 * chain file check-negotiation reads; with --conf and --anchor the chain
 * is checked here first. */
static int market_record(struct args *a)
{
	struct cli_http_request req = { .method = "POST" };
	struct cli_http_response resp = { 0 };
	struct ndx_conf *conf = NULL;
	struct ndx_negchain ch = { .state = NDX_NEG_NONE };
	struct chain_keys ck = { 0 };
	json_t *texts = NULL, *doc = NULL, *body = NULL, *ans = NULL;
	const json_t *given;
	char *text = NULL, *btext = NULL, *url = NULL, err[512];
	const char *base;
	size_t len = 0, blen;
	int rc = CLI_EXIT_FAIL;

	if (!a->file)
		return cli_usage_error(usage, "market record-agreement needs FILE");
	if ((a->conf != NULL) != (a->anchor != NULL))
		return cli_usage_error(usage, "market record-agreement takes --conf and --anchor "
				       "together");
	if (a->key || a->db || a->agreement || a->month || a->from || a->to || a->out || a->bin ||
	    a->account || a->account_name || a->token_file)
		return cli_usage_error(usage, "market record-agreement takes FILE, --registry, and "
				       "--conf --anchor");
	if (read_input(a->file, STATEMENT_MAX, &text, &len) != CLI_EXIT_OK)
		goto out;
	doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	given = json_is_object(doc) ? json_object_get(doc, "ndx:messages") : NULL;
	if (given) {
		size_t i;
		const json_t *v;
		bool ok = json_is_array(given);
		json_array_foreach(given, i, v)
			ok = ok && json_is_string(v);
		texts = ok ? json_incref((json_t *)given) : NULL;
	} else if (chain_texts(text, len, &texts) != NDX_OK) {
		texts = NULL;
	}
	if (!texts || json_array_size(texts) == 0) {
		cli_error("%s holds no messages (expected {\"ndx:messages\": [JWS, ...]}, the "
			  "answer of GET /dsp/negotiations/{providerPid}/messages, a JSON array of "
			  "JWS texts, or one JWS a line)", a->file);
		goto out;
	}
	if (a->conf) {
		if (load_conf(a, &conf) != CLI_EXIT_OK)
			goto out;
		ck.conf = conf;
		switch (ndx_negchain_check(texts, chain_key, &ck, &ch)) {
		case NDX_OK:
			break;
		case NDX_EINVAL:
			cli_error("negotiation refused: %s", ch.why);
			goto out;
		default:
			cli_error("out of memory");
			goto out;
		}
		if (ch.state != NDX_NEG_FINALIZED) {
			cli_error("negotiation refused: it ends in state %s, not FINALIZED",
				  ndx_neg_state_name(ch.state));
			goto out;
		}
	}
	body = json_pack("{sO}", "ndx:messages", texts);
	btext = body ? json_dumps(body, JSON_COMPACT) : NULL;
	base = a->registry && *a->registry ? a->registry : getenv("NDX_REGISTRY");
	if (!base || !*base)
		base = "http://127.0.0.1:4400";
	if (strncmp(base, "http://", 7) != 0 && strncmp(base, "https://", 8) != 0) {
		cli_error("the registry URL must start with http:// or https:// (got '%s')", base);
		goto out;
	}
	blen = strlen(base);
	while (blen && base[blen - 1] == '/')
		blen--;
	url = malloc(blen + sizeof "/dsp/agreements");
	if (!btext || !url) {
		cli_error("out of memory");
		goto out;
	}
	memcpy(url, base, blen);
	memcpy(url + blen, "/dsp/agreements", sizeof "/dsp/agreements");
	/* No credential: the parties' signatures authenticate the chain. */
	req.url = url;
	req.body = btext;
	req.body_len = strlen(btext);
	if (cli_http(&req, &resp, err, sizeof err) != NDX_OK) {
		cli_error("the registry did not record the agreement: %s", err);
		goto out;
	}
	ans = resp.len ? json_loadb(resp.body, resp.len, 0, NULL) : NULL;
	if (resp.status == 200 || resp.status == 201) {
		const char *id = json_string_value(json_object_get(ans, "ndx:agreementId"));
		json_int_t version = json_integer_value(json_object_get(ans, "ndx:confVersion"));
		if (!id) {
			cli_error("the registry answered %ld without the agreement", resp.status);
			goto out;
		}
		if (version)
			printf("agreement %s recorded (negotiation %s), configuration version "
			       "%" JSON_INTEGER_FORMAT "\n", id,
			       json_string_value(json_object_get(ans, "providerPid")), version);
		else
			printf("agreement %s was recorded already (negotiation %s)\n", id,
			       json_string_value(json_object_get(ans, "providerPid")));
		rc = CLI_EXIT_OK;
	} else {
		const char *code = json_string_value(json_object_get(ans, "code"));
		const char *reason = json_string_value(json_array_get(json_object_get(ans, "reason"),
								      0));
		cli_error("the registry refused the agreement: %ld %s: %s", resp.status,
			  code ? code : "Error", reason ? reason : "(no reason given)");
	}
out:
	cli_http_response_free(&resp);
	json_decref(ans);
	free(url);
	free(btext);
	json_decref(body);
	ndx_negchain_clear(&ch);
	ndx_conf_free(conf);
	json_decref(texts);
	json_decref(doc);
	free(text);
	return rc;
}

int cmd_market(int argc, char **argv)
{
	struct args a;
	const char *sub = argc > 1 ? argv[1] : NULL;
	int rc;

	if (sub == NULL)
		return cli_usage_error(usage, "market needs a command: statement, check-statement, "
				       "invoice, sign-message, check-negotiation, "
				       "record-agreement or connector");
	if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0) {
		fputs(usage, stdout);
		return CLI_EXIT_OK;
	}
	if (strcmp(sub, "connector") == 0)
		return cli_market_connector(argc - 1, argv + 1);
	if (strcmp(sub, "statement") != 0 && strcmp(sub, "check-statement") != 0 &&
	    strcmp(sub, "invoice") != 0 && strcmp(sub, "sign-message") != 0 &&
	    strcmp(sub, "check-negotiation") != 0 && strcmp(sub, "record-agreement") != 0)
		return cli_usage_error(usage, "unknown market command '%s'", sub);
	if ((rc = parse(argc - 1, argv + 1, &a)) != CLI_EXIT_OK)
		return rc;
	if (a.help) {
		fputs(usage, stdout);
		return CLI_EXIT_OK;
	}
	if (strcmp(sub, "invoice") != 0 && (a.record || a.token_file))
		return cli_usage_error(usage, "--record and --token-file are options of market "
				       "invoice");
	if (strcmp(sub, "invoice") != 0 && strcmp(sub, "record-agreement") != 0 && a.registry)
		return cli_usage_error(usage, "--registry is an option of market invoice and "
				       "market record-agreement");
	if (strcmp(sub, "sign-message") != 0 && (a.sender || a.path || a.previous || a.after))
		return cli_usage_error(usage, "--sender, --path, --previous and --after are options "
				       "of market sign-message");
	if (strcmp(sub, "check-negotiation") != 0 && a.nkeys > 1)
		return cli_usage_error(usage, "--key once, except for market check-negotiation");
	if (strcmp(sub, "sign-message") == 0)
		return market_sign(&a);
	if (strcmp(sub, "check-negotiation") == 0)
		return market_check_negotiation(&a);
	if (strcmp(sub, "record-agreement") == 0)
		return market_record(&a);
	if (strcmp(sub, "statement") == 0)
		return market_statement(&a);
	return strcmp(sub, "invoice") == 0 ? market_invoice(&a) : market_check(&a);
}
