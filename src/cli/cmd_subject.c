/* `ndx subject accesses PIN`: who read a citizen's data. The answer is
 * assembled the way the portal assembles it, through the exchange: the
 * consumer gateway's listClients metaservice names every subsystem, each
 * `{member}/transparency` subsystem serves `accesses` (docs/gateway.md
 * "Who read my data"), and each is asked, as the calling subsystem, about
 * this one subject with purpose `transparency`. Each providing gateway
 * answers from its own message log, so one unreachable agency leaves a
 * hole that is reported, not hidden. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "client.h"
#include "ndx/err.h"
#include "ndx/id.h"
#include "ndx/pin.h"

#define TRANSPARENCY_SUBSYSTEM "transparency"
#define ACCESSES_SERVICE "accesses"
#define TRANSPARENCY_PURPOSE "transparency"
#define HEADER_MAX (NDX_ID_TEXT_MAX + 32)

static const char USAGE[] =
	"usage: ndx subject accesses PIN --gateway URL --client ID [--limit N] [--json]\n"
	"Lists the exchanges about the citizen PIN that the agencies' gateways served:\n"
	"when, which client, which service, which purpose, with which status; never\n"
	"the data. Every {member}/transparency/accesses service in the configuration\n"
	"is asked through the consumer gateway at URL, as subsystem ID with purpose\n"
	"'transparency' (ID must be granted those services: in the demo, the\n"
	"portal's VN/GOV/VPCP/portal). The asking is itself logged by every gateway.\n"
	"  --gateway URL  a consumer gateway (default $NDX_GATEWAY)\n"
	"  --client ID    the calling subsystem (default $NDX_CLIENT)\n"
	"  --limit N      at most N exchanges per agency, 1 to 1000 (default 200)\n"
	"  --json         print {\"subject\",\"accesses\",\"unavailable\"} as JSON\n"
	"  --help         show this help\n"
	"Exit status: 0 all agencies answered, 1 some could not be asked, 2 usage.\n";

struct accesses_query {
	const char *gateway, *client, *pin;
	unsigned long limit;
	json_t *accesses;    /* merged answer, each entry with "provider" */
	json_t *unavailable; /* [{"provider","error"}] */
};

/* GET gateway+path with the exchange headers; *out the JSON of a 2xx. On
 * failure err says what happened in one line. */
static int exchange_get(const struct accesses_query *q, const char *path, json_t **out,
			char *err, size_t errcap)
{
	char url[2048], client_h[HEADER_MAX], subject_h[64];
	const char *headers[] = { client_h, subject_h,
				  "Ndx-Purpose: " TRANSPARENCY_PURPOSE, NULL };
	struct cli_http_request req = { .method = "GET", .url = url, .headers = headers };
	struct cli_http_response resp = { 0 };
	json_error_t jerr;
	int rc;

	*out = NULL;
	snprintf(url, sizeof url, "%s%s", q->gateway, path);
	snprintf(client_h, sizeof client_h, "X-Road-Client: %s", q->client);
	snprintf(subject_h, sizeof subject_h, "Ndx-Subject: %s", q->pin);
	rc = cli_http(&req, &resp, err, errcap);
	if (rc != NDX_OK)
		goto out;
	*out = json_loadb(resp.body ? resp.body : "", resp.len, 0, &jerr);
	if (resp.status < 200 || resp.status > 299) {
		const char *type = json_string_value(json_object_get(*out, "type"));
		const char *msg = json_string_value(json_object_get(*out, "message"));
		snprintf(err, errcap, "%ld %s%s%s", resp.status, type ? type : "",
			 msg ? ": " : "", msg ? msg : "");
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
	char member[NDX_ID_TEXT_MAX], wire[NDX_ID_TEXT_MAX], path[NDX_ID_TEXT_MAX + 64],
		err[1024];
	struct ndx_id mid;
	json_t *ans = NULL, *e;
	size_t i;

	ndx_id_parent(sub, NDX_ID_MEMBER, &mid);
	ndx_id_format(&mid, member, sizeof member);
	if (ndx_id_format_wire(sub, wire, sizeof wire) < 0) {
		note_unavailable(q, member, "the subsystem id is too long");
		return;
	}
	snprintf(path, sizeof path, "/r1/%s/" ACCESSES_SERVICE "?limit=%lu", wire, q->limit);
	if (exchange_get(q, path, &ans, err, sizeof err) != NDX_OK) {
		note_unavailable(q, member, err);
		return;
	}
	json_array_foreach(json_object_get(ans, "accesses"), i, e) {
		if (json_is_object(e)) {
			json_object_set_new(e, "provider", json_string(member));
			json_array_append(q->accesses, e);
		}
	}
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

static void print_table(const struct accesses_query *q)
{
	const json_t *e;
	size_t i;

	printf("%zu exchange(s) about %s\n", json_array_size(q->accesses), q->pin);
	if (json_array_size(q->accesses))
		printf("%-20s  %-22s  %-36s  %-18s  %s\n", "time", "client", "service", "purpose",
		       "status");
	json_array_foreach(q->accesses, i, e) {
		printf("%-20s  %-22s  %-36s  %-18s  %lld\n",
		       json_string_value(json_object_get(e, "time")),
		       json_string_value(json_object_get(e, "client")),
		       json_string_value(json_object_get(e, "service")),
		       json_string_value(json_object_get(e, "purpose")),
		       (long long)json_integer_value(json_object_get(e, "status")));
	}
	json_array_foreach(q->unavailable, i, e)
		fprintf(stderr, "ndx: %s could not be asked: %s\n",
			json_string_value(json_object_get(e, "provider")),
			json_string_value(json_object_get(e, "error")));
}

static int accesses(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "gateway", required_argument, NULL, 'g' },
		{ "client", required_argument, NULL, 'c' },
		{ "limit", required_argument, NULL, 'l' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct accesses_query q = { .gateway = getenv("NDX_GATEWAY"),
				    .client = getenv("NDX_CLIENT"),
				    .limit = 200 };
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
		case 'l': {
			char *end;
			q.limit = strtoul(optarg, &end, 10);
			if (!optarg[0] || *end || optarg[0] == '-' || q.limit < 1 || q.limit > 1000)
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
	snprintf(gw, sizeof gw, "%s", q.gateway);
	for (size_t n = strlen(gw); n > 0 && gw[n - 1] == '/'; n--)
		gw[n - 1] = '\0';
	q.gateway = gw;

	q.accesses = json_array();
	q.unavailable = json_array();
	if (!q.accesses || !q.unavailable) {
		cli_error("out of memory");
		goto out;
	}
	if (exchange_get(&q, "/listClients", &clients, err, sizeof err) != NDX_OK) {
		cli_error("cannot list the subsystems at %s: %s", q.gateway, err);
		goto out;
	}
	json_array_foreach(json_object_get(clients, "clients"), i, c) {
		const char *id = json_string_value(json_object_get(c, "id"));
		struct ndx_id sub;

		if (id && ndx_id_parse(id, strlen(id), NDX_ID_SUBSYSTEM, &sub, NULL) == NDX_OK &&
		    strcmp(sub.subsystem, TRANSPARENCY_SUBSYSTEM) == 0)
			ask_provider(&q, &sub);
	}
	sort_newest_first(q.accesses);
	if (json) {
		json_t *doc = json_pack("{sssOsO}", "subject", q.pin, "accesses", q.accesses,
					"unavailable", q.unavailable);
		char *text = doc ? json_dumps(doc, JSON_INDENT(2)) : NULL;
		if (text)
			puts(text);
		free(text);
		json_decref(doc);
		json_array_foreach(q.unavailable, i, c)
			fprintf(stderr, "ndx: %s could not be asked: %s\n",
				json_string_value(json_object_get(c, "provider")),
				json_string_value(json_object_get(c, "error")));
	} else {
		print_table(&q);
	}
	rc = json_array_size(q.unavailable) ? CLI_EXIT_FAIL : CLI_EXIT_OK;
out:
	json_decref(clients);
	json_decref(q.accesses);
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
