/* `ndx subject accesses PIN`: who read a citizen's data. The answer is
 * assembled the way the portal assembles it, through the exchange: the
 * consumer gateway's listClients metaservice names every subsystem, each
 * `{member}/transparency` subsystem serves `accesses` (docs/gateway.md
 * "Who read my data"), and each is asked, as the calling subsystem, about
 * this one subject with purpose `transparency` and the citizen's own ID
 * token from the national e-ID (Ndx-Subject-Token: the providers' gateways
 * answer the list to nobody else). Each providing gateway answers from its
 * own message log, so one unreachable agency leaves a hole that is
 * reported, not hidden. The token is read from a file and never printed. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "cli.h"
#include "client.h"
#include "ndx/encode.h"
#include "ndx/err.h"
#include "ndx/file.h"
#include "ndx/id.h"
#include "ndx/pin.h"
#include "ndx/text.h"
#include "ndx/timefmt.h"

#define TRANSPARENCY_SUBSYSTEM "transparency"
#define ACCESSES_SERVICE "accesses"
#define TRANSPARENCY_PURPOSE "transparency"
#define HEADER_MAX (NDX_ID_TEXT_MAX + 32)
/* An ID token of ndx-id is a few hundred bytes; the cap only bounds the read. */
#define ID_TOKEN_MAX 8192u
#define TOKEN_HEADER "Ndx-Subject-Token: "
#define QUERY_MAX 1024

static const char USAGE[] =
	"usage: ndx subject accesses PIN --gateway URL --client ID [--id-token-file FILE]\n"
	"                            [--own include|exclude|only] [--agency ID] [--purpose P]\n"
	"                            [--since TIME] [--until TIME] [--limit N] [--json]\n"
	"Lists the exchanges about the citizen PIN that the agencies' gateways served:\n"
	"when, which client (and for an officer's read through the portal, which officer\n"
	"and which procedure), which service, which purpose, with which outcome; never\n"
	"the data. Every {member}/transparency/accesses service in the configuration\n"
	"is asked through the consumer gateway at URL, as subsystem ID with purpose\n"
	"'transparency' and the citizen's ID token (ID must be granted those services:\n"
	"in the demo, the portal's VN/GOV/VPCP/portal). A provider's gateway answers only\n"
	"with a valid ID token of that citizen from an e-ID of the global configuration\n"
	"(in the demo, `ndx demo id-token` writes one); without one, each refuses and\n"
	"the refusal is reported. The asking is itself logged by every gateway.\n"
	"  --gateway URL        a consumer gateway (default $NDX_GATEWAY)\n"
	"  --client ID          the calling subsystem (default $NDX_CLIENT)\n"
	"  --id-token-file FILE the citizen's OpenID Connect ID token, sent as\n"
	"                       Ndx-Subject-Token and never printed (default\n"
	"                       $NDX_ID_TOKEN_FILE)\n"
	"  --own WHICH          the citizen's own reads (made with their ID token):\n"
	"                       include (the default), exclude, or only them\n"
	"  --agency ID          only reads by this member (VN/GOV/TCT) or subsystem\n"
	"  --purpose P          only reads for this purpose\n"
	"  --since TIME         only reads at or after TIME (2026-12-01T00:00:00Z)\n"
	"  --until TIME         only reads at or before TIME\n"
	"  --limit N            at most N exchanges per agency, the newest, 1 to 1000\n"
	"                       (default 200)\n"
	"  --json               print {\"subject\",\"accesses\",\"truncated\",\"unavailable\"}\n"
	"                       as JSON; each access has provider, time, client, user_id,\n"
	"                       issue, service, service_title, method, purpose, status,\n"
	"                       outcome (returned, no_data, refused), own, message_id\n"
	"  --help               show this help\n"
	"Exit status: 0 all agencies answered, 1 some could not be asked, 2 usage.\n";

struct accesses_query {
	const char *gateway, *client, *pin;
	char *token;               /* the ID token; wiped and freed at the end */
	char query[QUERY_MAX];     /* "?limit=N&own=..." for every provider */
	json_t *accesses;          /* merged answer, each entry with "provider" */
	json_t *truncated;         /* providers that held more than the limit */
	json_t *unavailable;       /* [{"provider","error"}] */
};

/* GET gateway+path with the exchange headers (and the citizen's token when
 * with_token); *out the JSON of a 2xx. On failure err says what happened in
 * one line. */
static int exchange_get(const struct accesses_query *q, const char *path, int with_token,
			json_t **out, char *err, size_t errcap)
{
	char url[2048], client_h[HEADER_MAX], subject_h[64], *token_h = NULL;
	const char *headers[6] = { client_h, subject_h, "Ndx-Purpose: " TRANSPARENCY_PURPOSE,
				   "Accept: application/json", NULL, NULL };
	struct cli_http_request req = { .method = "GET", .url = url, .headers = headers };
	struct cli_http_response resp = { 0 };
	json_error_t jerr;
	int rc;

	*out = NULL;
	snprintf(url, sizeof url, "%s%s", q->gateway, path);
	snprintf(client_h, sizeof client_h, "X-Road-Client: %s", q->client);
	snprintf(subject_h, sizeof subject_h, "Ndx-Subject: %s", q->pin);
	if (with_token && q->token) {
		size_t n = strlen(TOKEN_HEADER) + strlen(q->token) + 1;

		if (!(token_h = malloc(n))) {
			snprintf(err, errcap, "out of memory");
			return NDX_ENOMEM;
		}
		snprintf(token_h, n, TOKEN_HEADER "%s", q->token);
		headers[4] = token_h;
	}
	rc = cli_http(&req, &resp, err, errcap);
	if (token_h) {
		OPENSSL_cleanse(token_h, strlen(token_h));
		free(token_h);
	}
	if (rc != NDX_OK)
		goto out;
	*out = json_loadb(resp.body ? resp.body : "", resp.len, 0, &jerr);
	if (resp.status < 200 || resp.status > 299) {
		const char *type = json_string_value(json_object_get(*out, "type"));
		const char *msg = json_string_value(json_object_get(*out, "message"));
		const char *detail = json_string_value(json_object_get(*out, "detail"));
		/* A gateway's detail starts with its reason (docs/protocol.md
		 * "Errors"): the word an operator looks for. */
		int reason = detail ? (int)strcspn(detail, ":") : 0;
		snprintf(err, errcap, "%ld %s%s%.*s%s%s%s", resp.status, type ? type : "",
			 reason ? " " : "", reason, detail ? detail : "", msg ? ": " : "",
			 msg ? msg : "", "");
		rc = NDX_EPERM;
	} else if (!json_is_object(*out)) {
		snprintf(err, errcap, "the answer is not a JSON object");
		rc = NDX_EINVAL;
	}
	if (rc != NDX_OK) {
		json_decref(*out);
		*out = NULL;
	}
out:
	cli_http_response_free(&resp);
	return rc;
}

static void note_unavailable(struct accesses_query *q, const char *provider, const char *why)
{
	json_array_append_new(q->unavailable,
			      json_pack("{ssss}", "provider", provider, "error", why));
}

static void ask_provider(struct accesses_query *q, const struct ndx_id *sub)
{
	char member[NDX_ID_TEXT_MAX], wire[NDX_ID_TEXT_MAX],
		path[NDX_ID_TEXT_MAX + QUERY_MAX + 32], err[1024];
	struct ndx_id mid;
	json_t *ans = NULL, *e;
	size_t i;

	ndx_id_parent(sub, NDX_ID_MEMBER, &mid);
	ndx_id_format(&mid, member, sizeof member);
	if (ndx_id_format_wire(sub, wire, sizeof wire) < 0) {
		note_unavailable(q, member, "the subsystem id is too long");
		return;
	}
	snprintf(path, sizeof path, "/r1/%s/" ACCESSES_SERVICE "%s", wire, q->query);
	if (exchange_get(q, path, 1, &ans, err, sizeof err) != NDX_OK) {
		note_unavailable(q, member, err);
		return;
	}
	json_array_foreach(json_object_get(ans, "accesses"), i, e) {
		if (json_is_object(e)) {
			json_object_set_new(e, "provider", json_string(member));
			json_array_append(q->accesses, e);
		}
	}
	if (json_is_true(json_object_get(ans, "truncated")))
		json_array_append_new(q->truncated, json_string(member));
	json_decref(ans);
}

static int newest_first(const void *a, const void *b)
{
	const char *ta = json_string_value(json_object_get(*(json_t *const *)a, "time"));
	const char *tb = json_string_value(json_object_get(*(json_t *const *)b, "time"));
	return strcmp(tb ? tb : "", ta ? ta : "");
}

static void sort_newest_first(json_t *arr)
{
	size_t n = json_array_size(arr);
	json_t **v = n ? calloc(n, sizeof *v) : NULL;

	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		v[i] = json_incref(json_array_get(arr, i));
	qsort(v, n, sizeof *v, newest_first);
	json_array_clear(arr);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, v[i]);
	free(v);
}

/* A string of e, escaped for the terminal (include/ndx/text.h): an officer's
 * name or a procedure comes from a consumer's headers, and must not drive
 * the citizen's terminal. The text lives until the eighth call after. */
static const char *field(const json_t *e, const char *key)
{
	static char ring[8][512];
	static unsigned next;
	const char *s = json_string_value(json_object_get(e, key));
	char *safe = s ? ndx_text_escape(s, strlen(s)) : NULL;
	char *out = ring[next++ % 8];

	snprintf(out, sizeof ring[0], "%s", safe ? safe : "");
	free(safe);
	return out;
}

/* What a row's status does not say, on a line of its own under it: the
 * citizen's own read, the officer and the procedure of an officer's read
 * through a portal, an answer that held none of the citizen's data. */
static void print_details(const json_t *e)
{
	const char *user = field(e, "user_id"), *issue = field(e, "issue");
	const char *outcome = field(e, "outcome");
	int own = json_is_true(json_object_get(e, "own"));
	int no_data = strcmp(outcome, "no_data") == 0;
	const char *sep = "";

	if (!own && !user[0] && !issue[0] && !no_data)
		return;
	printf("%-20s  ", "");
	if (own) {
		printf("your own read (with your ID token)");
		sep = "; ";
	}
	if (user[0]) {
		printf("%sofficer %s", sep, user);
		sep = ", ";
	}
	if (issue[0]) {
		printf("%sfor %s", sep, issue);
		sep = "; ";
	}
	if (no_data)
		printf("%sno data of yours returned", sep);
	putchar('\n');
}

static void print_unavailable(const struct accesses_query *q)
{
	const json_t *e;
	size_t i;

	json_array_foreach(q->unavailable, i, e)
		fprintf(stderr, "ndx: %s could not be asked: %s\n", field(e, "provider"),
			field(e, "error"));
}

/* One row an exchange (its status last), and under it what the row does
 * not say. */
static void print_table(const struct accesses_query *q)
{
	const json_t *e;
	size_t i;

	printf("%zu exchange(s) about %s\n", json_array_size(q->accesses), q->pin);
	if (json_array_size(q->accesses))
		printf("%-20s  %-22s  %-36s  %-18s  %s\n", "time", "client", "service", "purpose",
		       "status");
	json_array_foreach(q->accesses, i, e) {
		printf("%-20s  %-22s  %-36s  %-18s  %lld\n", field(e, "time"), field(e, "client"),
		       field(e, "service"), field(e, "purpose"),
		       (long long)json_integer_value(json_object_get(e, "status")));
		print_details(e);
	}
	json_array_foreach(q->truncated, i, e)
		printf("(%s holds more: only its newest are listed; narrow the period or raise "
		       "--limit)\n", json_string_value(e));
	print_unavailable(q);
}

/* Reads the ID token of path into *out (owned, to be wiped): one line of
 * JWS compact characters. Returns 0, or -1 with why set. */
static int read_token(const char *path, char **out, const char **why)
{
	char *data = NULL;
	size_t len = 0, n;

	*out = NULL;
	if (ndx_file_read(path, ID_TOKEN_MAX, &data, &len) != NDX_OK) {
		*why = "cannot be read (or is over 8 KiB)";
		return -1;
	}
	n = len;
	while (n > 0 && (data[n - 1] == '\n' || data[n - 1] == '\r' || data[n - 1] == ' '))
		n--;
	data[n] = '\0';
	if (n == 0 || strspn(data, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				   "0123456789-_.") != n) {
		OPENSSL_cleanse(data, len);
		free(data);
		*why = "does not hold an ID token (a JWS compact token on one line)";
		return -1;
	}
	*out = data;
	return 0;
}

/* Appends "&key=value" (value percent-encoded) to the query. */
static int add_query(struct accesses_query *q, const char *key, const char *value)
{
	char enc[3 * 256];
	size_t used = strlen(q->query);
	int n;

	if (!value)
		return 0;
	if (ndx_pct_encode(value, strlen(value), enc, sizeof enc) < 0)
		return -1;
	n = snprintf(q->query + used, sizeof q->query - used, "&%s=%s", key, enc);
	return n < 0 || (size_t)n >= sizeof q->query - used ? -1 : 0;
}

struct accesses_filters {
	const char *own, *agency, *purpose, *since, *until, *token_file;
	unsigned long limit;
};

/* Checks the filters and writes them into q->query. Returns CLI_EXIT_OK
 * or a usage error (printed). */
static int build_query(struct accesses_query *q, const struct accesses_filters *f)
{
	struct ndx_id id;
	time_t t;

	if (f->own && strcmp(f->own, "include") != 0 && strcmp(f->own, "exclude") != 0 &&
	    strcmp(f->own, "only") != 0)
		return cli_usage_error(USAGE, "--own must be include, exclude or only");
	if (f->agency && ndx_id_parse(f->agency, strlen(f->agency), NDX_ID_MEMBER, &id, NULL) &&
	    ndx_id_parse(f->agency, strlen(f->agency), NDX_ID_SUBSYSTEM, &id, NULL))
		return cli_usage_error(USAGE, "--agency must be a member or subsystem id, not '%s'",
				       f->agency);
	if (f->purpose && (!f->purpose[0] || strlen(f->purpose) > 64 ||
			   strspn(f->purpose, "abcdefghijklmnopqrstuvwxyz0123456789-") !=
				   strlen(f->purpose)))
		return cli_usage_error(USAGE, "--purpose must be 1 to 64 characters from a-z 0-9 -");
	if (f->since && ndx_time_parse(f->since, &t) != NDX_OK)
		return cli_usage_error(USAGE, "--since must be a time like 2026-12-01T00:00:00Z");
	if (f->until && ndx_time_parse(f->until, &t) != NDX_OK)
		return cli_usage_error(USAGE, "--until must be a time like 2026-12-01T00:00:00Z");
	snprintf(q->query, sizeof q->query, "?limit=%lu", f->limit);
	if (add_query(q, "own", f->own) || add_query(q, "client", f->agency) ||
	    add_query(q, "purpose", f->purpose) || add_query(q, "since", f->since) ||
	    add_query(q, "until", f->until))
		return cli_usage_error(USAGE, "the filters are too long");
	return CLI_EXIT_OK;
}

static void print_json(const struct accesses_query *q)
{
	json_t *doc = json_pack("{sssOsOsO}", "subject", q->pin, "accesses", q->accesses,
				"truncated", q->truncated, "unavailable", q->unavailable);
	char *text = doc ? json_dumps(doc, JSON_INDENT(2)) : NULL;

	if (text)
		puts(text);
	free(text);
	json_decref(doc);
	print_unavailable(q);
}

static int accesses(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "gateway", required_argument, NULL, 'g' },
		{ "client", required_argument, NULL, 'c' },
		{ "id-token-file", required_argument, NULL, 't' },
		{ "own", required_argument, NULL, 'o' },
		{ "agency", required_argument, NULL, 'a' },
		{ "purpose", required_argument, NULL, 'p' },
		{ "since", required_argument, NULL, 's' },
		{ "until", required_argument, NULL, 'u' },
		{ "limit", required_argument, NULL, 'l' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct accesses_query q = { .gateway = getenv("NDX_GATEWAY"),
				    .client = getenv("NDX_CLIENT") };
	struct accesses_filters f = { .token_file = getenv("NDX_ID_TOKEN_FILE"), .limit = 200 };
	struct ndx_id cid;
	const char *why = NULL;
	json_t *clients = NULL, *c;
	char err[1024], gw[1024];
	int opt, json = 0, rc = CLI_EXIT_FAIL;
	size_t i;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'g': q.gateway = optarg; break;
		case 'c': q.client = optarg; break;
		case 't': f.token_file = optarg; break;
		case 'o': f.own = optarg; break;
		case 'a': f.agency = optarg; break;
		case 'p': f.purpose = optarg; break;
		case 's': f.since = optarg; break;
		case 'u': f.until = optarg; break;
		case 'l': {
			char *end;
			f.limit = strtoul(optarg, &end, 10);
			if (!optarg[0] || *end || optarg[0] == '-' || f.limit < 1 || f.limit > 1000)
				return cli_usage_error(USAGE, "--limit must be 1 to 1000");
			break;
		}
		case 'j': json = 1; break;
		case 'h': fputs(USAGE, stdout); return CLI_EXIT_OK;
		default: return cli_bad_option(USAGE, argv);
		}
	}
	if (optind + 1 != argc)
		return cli_usage_error(USAGE, "give exactly one personal identification number");
	q.pin = argv[optind];
	if (ndx_pin_parse(q.pin, 0, NULL, &why) != NDX_OK)
		return cli_usage_error(USAGE, "%s is not a personal identification number: %s",
				       q.pin, why);
	if (!q.gateway || !q.gateway[0])
		return cli_usage_error(USAGE, "--gateway (or NDX_GATEWAY) is required");
	if (!q.client || ndx_id_parse(q.client, strlen(q.client), NDX_ID_SUBSYSTEM, &cid, &why))
		return cli_usage_error(USAGE, "--client (or NDX_CLIENT) must be a subsystem id%s%s",
				       why ? ": " : "", why ? why : "");
	if ((rc = build_query(&q, &f)) != CLI_EXIT_OK)
		return rc;
	/* Without a token the question is still asked: each provider's
	 * refusal (Client.SubjectTokenMissing) is reported as such. */
	if (f.token_file && f.token_file[0] && read_token(f.token_file, &q.token, &why) != 0)
		return cli_usage_error(USAGE, "--id-token-file %s %s", f.token_file, why);
	rc = CLI_EXIT_FAIL;
	snprintf(gw, sizeof gw, "%s", q.gateway);
	for (size_t n = strlen(gw); n > 0 && gw[n - 1] == '/'; n--)
		gw[n - 1] = '\0';
	q.gateway = gw;

	q.accesses = json_array();
	q.truncated = json_array();
	q.unavailable = json_array();
	if (!q.accesses || !q.truncated || !q.unavailable) {
		cli_error("out of memory");
		goto out;
	}
	if (exchange_get(&q, "/listClients", 0, &clients, err, sizeof err) != NDX_OK) {
		cli_error("cannot list the subsystems at %s: %s", q.gateway, err);
		goto out;
	}
	/* PR-META Annex B: {"member":[{"id":{object_type, xroad_instance,
	 * member_class, member_code, subsystem_code?}, "name"}]}. */
	json_array_foreach(json_object_get(clients, "member"), i, c) {
		const json_t *ident = json_object_get(c, "id");
		const char *in = json_string_value(json_object_get(ident, "xroad_instance"));
		const char *mc = json_string_value(json_object_get(ident, "member_class"));
		const char *code = json_string_value(json_object_get(ident, "member_code"));
		const char *sc = json_string_value(json_object_get(ident, "subsystem_code"));
		char id[NDX_ID_TEXT_MAX];
		struct ndx_id sub;
		int n;

		if (!in || !mc || !code || !sc || strcmp(sc, TRANSPARENCY_SUBSYSTEM) != 0)
			continue;
		n = snprintf(id, sizeof id, "%s/%s/%s/%s", in, mc, code, sc);
		if (n > 0 && (size_t)n < sizeof id &&
		    ndx_id_parse(id, (size_t)n, NDX_ID_SUBSYSTEM, &sub, NULL) == NDX_OK)
			ask_provider(&q, &sub);
	}
	sort_newest_first(q.accesses);
	if (json)
		print_json(&q);
	else
		print_table(&q);
	rc = json_array_size(q.unavailable) ? CLI_EXIT_FAIL : CLI_EXIT_OK;
out:
	if (q.token) {
		OPENSSL_cleanse(q.token, strlen(q.token));
		free(q.token);
	}
	json_decref(clients);
	json_decref(q.accesses);
	json_decref(q.truncated);
	json_decref(q.unavailable);
	return rc;
}

int cmd_subject(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(USAGE, argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
	}
	if (strcmp(argv[1], "accesses") != 0)
		return cli_usage_error(USAGE, "unknown subject command '%s'", argv[1]);
	return accesses(argc - 1, argv + 1);
}
