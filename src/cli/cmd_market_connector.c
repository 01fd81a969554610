/* `ndx market connector`: the member's own DSP connector at its gateway,
 * driven through the gateway's consumer port (/ndx/connector/negotiations,
 * docs/marketplace.md "Members' own connectors"). One request per run; the
 * gateway's JSON answer is printed. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "client.h"
#include "ndx/err.h"

static const char usage[] =
	"usage: ndx market connector ACTION [ID] --gateway URL --client SUBSYSTEM [options]\n"
	"\n"
	"Drives this member's DSP connector at its gateway (the consumer port's\n"
	"/ndx/connector/negotiations, docs/marketplace.md \"Members' own connectors\")\n"
	"as the subsystem SUBSYSTEM (X-Road-Client). ACTION:\n"
	"  list                         this gateway's negotiations, newest first\n"
	"  show ID                      one negotiation (state, pids, offer, agreement,\n"
	"                               waiting, registry)\n"
	"  messages ID                  its chain of signed messages\n"
	"  start --dataset ID --offer ID [--terms FILE]\n"
	"                               as consumer: request the catalogue offer of the\n"
	"                               dataset (or propose FILE's permission,\n"
	"                               prohibition, obligation instead)\n"
	"  agree ID                     as provider: agree to the latest offer\n"
	"  offer ID --terms FILE        as provider: counter with FILE's offer\n"
	"  accept ID                    as consumer: accept the provider's offer\n"
	"  request ID --terms FILE      as consumer: counter with FILE's offer\n"
	"  terminate ID [--reason TEXT] either side: end the negotiation\n"
	"URL: the gateway's consumer port (or NDX_GATEWAY, default\n"
	"http://127.0.0.1:8080). Prints the gateway's JSON answer. Exit status 0 when\n"
	"the gateway took it, 1 when it refused (one 'ndx: ...' line with its code and\n"
	"reason), 2 for a command line that could not be understood.\n";

enum { OPT_GATEWAY = 1, OPT_CLIENT, OPT_DATASET, OPT_OFFER, OPT_TERMS, OPT_REASON, OPT_HELP };

static json_t *load_terms(const char *path)
{
	json_error_t e;
	json_t *t = json_load_file(path, JSON_REJECT_DUPLICATES, &e);

	if (!json_is_object(t)) {
		cli_error("--terms %s: expected a JSON object: %s", path, t ? "not an object" : e.text);
		json_decref(t);
		return NULL;
	}
	return t;
}

int cli_market_connector(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "gateway", required_argument, NULL, OPT_GATEWAY },
		{ "client", required_argument, NULL, OPT_CLIENT },
		{ "dataset", required_argument, NULL, OPT_DATASET },
		{ "offer", required_argument, NULL, OPT_OFFER },
		{ "terms", required_argument, NULL, OPT_TERMS },
		{ "reason", required_argument, NULL, OPT_REASON },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	const char *gateway = NULL, *client = NULL, *dataset = NULL, *offer = NULL,
		   *terms = NULL, *reason = NULL, *action, *id = NULL, *method = "POST", *suffix = "";
	char url[2048], header[512], err[256];
	const char *headers[2] = { header, NULL };
	struct cli_http_request req = { 0 };
	struct cli_http_response resp = { 0 };
	json_t *body = NULL, *ans = NULL, *t = NULL;
	char *btext = NULL;
	size_t blen;
	int c, rc = CLI_EXIT_FAIL;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case OPT_GATEWAY: gateway = optarg; break;
		case OPT_CLIENT: client = optarg; break;
		case OPT_DATASET: dataset = optarg; break;
		case OPT_OFFER: offer = optarg; break;
		case OPT_TERMS: terms = optarg; break;
		case OPT_REASON: reason = optarg; break;
		case OPT_HELP: fputs(usage, stdout); return CLI_EXIT_OK;
		default: return cli_bad_option(usage, argv);
		}
	}
	if (optind >= argc)
		return cli_usage_error(usage, "market connector needs an action");
	action = argv[optind++];
	if (optind < argc)
		id = argv[optind++];
	if (optind < argc)
		return cli_usage_error(usage, "unexpected argument '%s'", argv[optind]);
	if (!client)
		return cli_usage_error(usage, "--client SUBSYSTEM is required");
	if (strcmp(action, "list") == 0 || strcmp(action, "start") == 0) {
		if (id)
			return cli_usage_error(usage, "market connector %s takes no ID", action);
	} else if (!id || !*id || strspn(id, "0123456789") != strlen(id)) {
		return cli_usage_error(usage, "market connector %s needs the negotiation's ID (a "
				       "number, from list)", action);
	}
	if (strcmp(action, "start") == 0) {
		if (!dataset || !offer)
			return cli_usage_error(usage, "market connector start needs --dataset and --offer");
		body = json_pack("{ssss}", "dataset", dataset, "offer", offer);
		if (terms && (!(t = load_terms(terms)) || json_object_set(body, "terms", t)))
			goto out;
	} else if (dataset || offer) {
		return cli_usage_error(usage, "--dataset and --offer are options of start");
	} else if (strcmp(action, "list") == 0 || strcmp(action, "show") == 0 ||
		   strcmp(action, "messages") == 0) {
		method = "GET";
		suffix = strcmp(action, "messages") == 0 ? "/messages" : "";
	} else if (strcmp(action, "offer") == 0 || strcmp(action, "request") == 0) {
		if (!terms)
			return cli_usage_error(usage, "market connector %s needs --terms FILE", action);
		if (!(t = load_terms(terms)))
			goto out;
		body = json_pack("{sO}", "offer", t);
	} else if (strcmp(action, "agree") == 0 || strcmp(action, "accept") == 0 ||
		   strcmp(action, "terminate") == 0) {
		body = reason && strcmp(action, "terminate") == 0
			       ? json_pack("{ss}", "reason", reason)
			       : json_object();
	} else {
		return cli_usage_error(usage, "unknown market connector action '%s'", action);
	}
	if (reason && strcmp(action, "terminate") != 0)
		return cli_usage_error(usage, "--reason is an option of terminate");
	if (terms && strcmp(action, "start") != 0 && strcmp(action, "offer") != 0 &&
	    strcmp(action, "request") != 0)
		return cli_usage_error(usage, "--terms is an option of start, offer and request");
	if (!gateway || !*gateway)
		gateway = getenv("NDX_GATEWAY");
	if (!gateway || !*gateway)
		gateway = "http://127.0.0.1:8080";
	if (strncmp(gateway, "http://", 7) != 0 && strncmp(gateway, "https://", 8) != 0) {
		cli_error("the gateway URL must start with http:// or https:// (got '%s')", gateway);
		goto out;
	}
	blen = strlen(gateway);
	while (blen && gateway[blen - 1] == '/')
		blen--;
	snprintf(url, sizeof url, "%.*s/ndx/connector/negotiations%s%s%s", (int)blen, gateway,
		 id ? "/" : "", id ? id : "",
		 strcmp(method, "POST") == 0 && id ? "" : suffix);
	if (strcmp(method, "POST") == 0 && id) {
		size_t n = strlen(url);

		snprintf(url + n, sizeof url - n, "/%s", action);
	}
	if (snprintf(header, sizeof header, "X-Road-Client: %s", client) >= (int)sizeof header ||
	    strpbrk(client, "\r\n")) {
		cli_error("--client: not a subsystem id");
		goto out;
	}
	if (body && !(btext = json_dumps(body, JSON_COMPACT))) {
		cli_error("out of memory");
		goto out;
	}
	req.method = method;
	req.url = url;
	req.body = btext;
	req.body_len = btext ? strlen(btext) : 0;
	req.headers = headers;
	if (cli_http(&req, &resp, err, sizeof err) != NDX_OK) {
		cli_error("the gateway cannot be reached: %s", err);
		goto out;
	}
	ans = resp.len ? json_loadb(resp.body, resp.len, 0, NULL) : NULL;
	if (resp.status >= 200 && resp.status < 300 && ans) {
		char *text = json_dumps(ans, JSON_INDENT(2));

		if (text)
			printf("%s\n", text);
		free(text);
		rc = CLI_EXIT_OK;
	} else {
		const char *code = json_string_value(json_object_get(ans, "code"));
		const json_t *r = json_object_get(ans, "reason");
		const char *why = json_is_array(r) ? json_string_value(json_array_get(r, 0))
						   : json_string_value(json_object_get(ans, "message"));

		if (!code)
			code = json_string_value(json_object_get(ans, "type"));
		cli_error("the connector refused: %ld %s: %s", resp.status, code ? code : "Error",
			  why ? why : "(no reason given)");
	}
out:
	cli_http_response_free(&resp);
	json_decref(ans);
	json_decref(body);
	json_decref(t);
	free(btext);
	return rc;
}
