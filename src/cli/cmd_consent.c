/* The consent commands of the ndx tool. `consent-service add|list|remove`
 * registers consent services with the registry (docs/registry-api.md), so
 * that gateways trust their keys; `consent grant|revoke|list` speak to one
 * consent service (ndx-consent, docs/protocol.md "Consent artefacts") with
 * its admin token, as the portal will on the citizen's behalf. Each prints a
 * short sentence or table, or with --json the service's own JSON. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "client.h"
#include "ndx/encode.h"
#include "ndx/err.h"
#include "ndx/id.h"
#include "ndx/key.h"
#include "ndx/timefmt.h"

#define DEFAULT_CONSENT_URL "http://127.0.0.1:4500"
#define MAX_SERVICES 16
#define PATH_BUF (NDX_ID_TEXT_MAX * 3 + 64)

static const char SERVICE_USAGE[] =
	"usage: ndx consent-service add ID --url URL --sign-key FILE.pem [options]\n"
	"       ndx consent-service list [options]\n"
	"       ndx consent-service remove ID [options]\n"
	"Registers a consent service (a subsystem that signs consents) with the\n"
	"registry, so that gateways trust its key for consents it issues.\n"
	"  --url URL            where it serves /status, its signed status lists\n"
	"                       (https://, or http:// to a loopback address)\n"
	"  --sign-key FILE.pem  its Ed25519 public key (consent-sign.pub of ndx-consent)\n"
	"Options: --registry URL, --token-file FILE (as for the other admin commands),\n"
	"         --json, --help\n";

static const char CONSENT_USAGE[] =
	"usage: ndx consent grant --subject PIN --consumer ID --service ID [--service ID]...\n"
	"                         --purpose P --days N [--from TIME] [options]\n"
	"       ndx consent list --subject PIN [options]\n"
	"       ndx consent revoke JTI [options]\n"
	"Issues, lists and revokes consents at a consent service (ndx-consent).\n"
	"  --subject PIN      the citizen's 12-digit personal identification number\n"
	"  --consumer ID      the subsystem the consent is given to\n"
	"  --service ID       a service it covers (repeatable, at most 16)\n"
	"  --purpose P        the purpose code (a-z 0-9 -)\n"
	"  --days N           validity in days from --from (1 to 366)\n"
	"  --from TIME        start, RFC 3339 UTC (default now)\n"
	"Options:\n"
	"  --service-url URL  the consent service (default $NDX_CONSENT_URL, else\n"
	"                     " DEFAULT_CONSENT_URL ")\n"
	"  --token-file FILE  file holding its admin token (default: the token itself\n"
	"                     from $NDX_CONSENT_TOKEN)\n"
	"  --json             print the service's JSON answer\n"
	"  --help             show this help\n";

static void print_json(const json_t *doc)
{
	char *text = doc ? json_dumps(doc, JSON_INDENT(2)) : NULL;

	if (text) {
		puts(text);
		free(text);
	}
}

/* One call; body is stolen. Prints the failure. */
static int call(struct cli_api *a, const char *method, const char *path, json_t *body,
		json_t **out)
{
	char err[1024];
	int rc;

	*out = NULL;
	if (!body && strcmp(method, "POST") == 0 && strstr(path, "/revoke") == NULL) {
		cli_error("the arguments are not valid UTF-8 text");
		return CLI_EXIT_FAIL;
	}
	rc = cli_api_call(a, method, path, body, NULL, out, err, sizeof err);
	json_decref(body);
	if (rc != NDX_OK) {
		cli_error("%s", err);
		return CLI_EXIT_FAIL;
	}
	return CLI_EXIT_OK;
}

static int id_wire(const char *text, enum ndx_id_kind kind, char *buf, size_t cap)
{
	struct ndx_id id;
	const char *why = NULL;

	if (ndx_id_parse(text, strlen(text), kind, &id, &why) != NDX_OK) {
		cli_error("invalid id '%s': %s", text, why ? why : "malformed");
		return -1;
	}
	if (ndx_id_format_wire(&id, buf, cap) < 0) {
		cli_error("the id '%s' is too long", text);
		return -1;
	}
	return 0;
}

/* ---- consent-service (registry) ------------------------------------------- */

int cmd_consent_service(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "sign-key", required_argument, NULL, 's' },
		{ "registry", required_argument, NULL, 'R' },
		{ "token-file", required_argument, NULL, 'T' },
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sub, *url = NULL, *keyfile = NULL, *registry = NULL, *token_file = NULL;
	char path[PATH_BUF], wire[NDX_ID_TEXT_MAX * 3];
	struct cli_api a;
	json_t *out = NULL;
	int c, json = 0, rc;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		if (argc >= 2) {
			fputs(SERVICE_USAGE, stdout);
			return CLI_EXIT_OK;
		}
		return cli_usage_error(SERVICE_USAGE, "consent-service: add, list or remove?");
	}
	sub = argv[1];
	argc--;
	argv++;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'u': url = optarg; break;
		case 's': keyfile = optarg; break;
		case 'R': registry = optarg; break;
		case 'T': token_file = optarg; break;
		case 'J': json = 1; break;
		case 'h': fputs(SERVICE_USAGE, stdout); return CLI_EXIT_OK;
		default: return cli_bad_option(SERVICE_USAGE, argv);
		}
	}
	if (strcmp(sub, "list") == 0) {
		if (optind != argc)
			return cli_usage_error(SERVICE_USAGE, "consent-service list takes no ID");
		if (cli_api_open(&a, registry, token_file, 1))
			return CLI_EXIT_FAIL;
		rc = call(&a, "GET", "/api/consent-services", NULL, &out);
		cli_api_close(&a);
		if (rc)
			return rc;
		if (json) {
			print_json(out);
		} else {
			const json_t *list = json_object_get(out, "consent_services"), *e;
			size_t i;

			printf("%-40s  %-40s  %s\n", "ID", "URL", "KEY ID");
			json_array_foreach(list, i, e)
				printf("%-40s  %-40s  %s\n",
				       json_string_value(json_object_get(e, "id")),
				       json_string_value(json_object_get(e, "url")),
				       json_string_value(json_object_get(e, "sign_key_id")));
			if (json_array_size(list) == 0)
				puts("(none)");
		}
		json_decref(out);
		return CLI_EXIT_OK;
	}
	if (strcmp(sub, "add") != 0 && strcmp(sub, "remove") != 0)
		return cli_usage_error(SERVICE_USAGE, "consent-service: unknown subcommand '%s'",
				       sub);
	if (optind != argc - 1)
		return cli_usage_error(SERVICE_USAGE, "consent-service %s needs exactly one ID", sub);
	if (strcmp(sub, "remove") == 0) {
		if (id_wire(argv[optind], NDX_ID_SUBSYSTEM, wire, sizeof wire))
			return CLI_EXIT_FAIL;
		snprintf(path, sizeof path, "/api/consent-services/%s", wire);
		if (cli_api_open(&a, registry, token_file, 1))
			return CLI_EXIT_FAIL;
		rc = call(&a, "DELETE", path, NULL, &out);
		cli_api_close(&a);
		if (rc)
			return rc;
		if (json)
			print_json(out);
		else
			printf("removed consent service %s (configuration version %lld)\n",
			       argv[optind],
			       (long long)json_integer_value(json_object_get(out, "conf_version")));
		json_decref(out);
		return CLI_EXIT_OK;
	}
	if (!url || !keyfile)
		return cli_usage_error(SERVICE_USAGE, "consent-service add needs --url and "
						      "--sign-key");
	{
		struct ndx_key *key = NULL;
		char *pem;

		if ((rc = ndx_key_load(keyfile, &key))) {
			cli_error("cannot load the signing key %s: %s", keyfile, ndx_strerror(rc));
			return CLI_EXIT_FAIL;
		}
		/* Only the public half leaves this machine, whatever file was given. */
		pem = ndx_key_public_pem(key);
		ndx_key_free(key);
		if (!pem) {
			cli_error("out of memory");
			return CLI_EXIT_FAIL;
		}
		if (cli_api_open(&a, registry, token_file, 1)) {
			free(pem);
			return CLI_EXIT_FAIL;
		}
		rc = call(&a, "POST", "/api/consent-services",
			  json_pack("{ss ss ss}", "id", argv[optind], "url", url,
				    "sign_public_key", pem), &out);
		free(pem);
		cli_api_close(&a);
	}
	if (rc)
		return rc;
	if (json)
		print_json(out);
	else
		printf("added consent service %s, key id %s (configuration version %lld)\n",
		       json_string_value(json_object_get(out, "id")),
		       json_string_value(json_object_get(out, "sign_key_id")),
		       (long long)json_integer_value(json_object_get(out, "conf_version")));
	json_decref(out);
	return CLI_EXIT_OK;
}

/* ---- consent (consent service) ------------------------------------------------ */

/* Opens the consent service's API: --service-url or $NDX_CONSENT_URL, and
 * the token from --token-file or $NDX_CONSENT_TOKEN (never the registry's). */
static int open_service(struct cli_api *a, const char *url, const char *token_file)
{
	const char *env = getenv("NDX_CONSENT_TOKEN");

	if (!url || !*url)
		url = getenv("NDX_CONSENT_URL");
	if (!url || !*url)
		url = DEFAULT_CONSENT_URL;
	if (token_file && *token_file)
		return cli_api_open(a, url, token_file, 1);
	if (!env || !*env) {
		cli_error("no consent service token: give --token-file FILE or set "
			  "NDX_CONSENT_TOKEN");
		return -1;
	}
	/* need_token 0: cli_api_open may still pick up the registry's token from
	 * its own variables; the consent service's replaces whatever it found. */
	if (cli_api_open(a, url, NULL, 0))
		return -1;
	free(a->token);
	a->token = strdup(env);
	if (!a->token) {
		cli_error("out of memory");
		cli_api_close(a);
		return -1;
	}
	return 0;
}

static void print_consents(const json_t *list)
{
	const json_t *e;
	size_t i;

	printf("%-36s  %-8s  %-20s  %-20s  %-24s  %-16s  %s\n", "JTI", "STATUS", "VALID FROM",
	       "VALID TO", "CONSUMER", "PURPOSE", "SERVICES");
	json_array_foreach(list, i, e) {
		const json_t *svcs = json_object_get(e, "services"), *s;
		size_t j;

		printf("%-36s  %-8s  %-20s  %-20s  %-24s  %-16s  ",
		       json_string_value(json_object_get(e, "jti")),
		       json_string_value(json_object_get(e, "status")),
		       json_string_value(json_object_get(e, "valid_from")),
		       json_string_value(json_object_get(e, "valid_to")),
		       json_string_value(json_object_get(e, "consumer")),
		       json_string_value(json_object_get(e, "purpose")));
		json_array_foreach(svcs, j, s)
			printf("%s%s", j ? "," : "", json_string_value(s));
		putchar('\n');
	}
	if (json_array_size(list) == 0)
		puts("(none)");
}

int cmd_consent(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "service-url", required_argument, NULL, 'U' },
		{ "token-file", required_argument, NULL, 'T' },
		{ "subject", required_argument, NULL, 'S' },
		{ "consumer", required_argument, NULL, 'C' },
		{ "service", required_argument, NULL, 'v' },
		{ "purpose", required_argument, NULL, 'P' },
		{ "days", required_argument, NULL, 'D' },
		{ "from", required_argument, NULL, 'F' },
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sub, *url = NULL, *token_file = NULL, *subject = NULL, *consumer = NULL;
	const char *purpose = NULL, *days_text = NULL, *from_text = NULL;
	const char *services[MAX_SERVICES];
	size_t nservices = 0;
	char path[PATH_BUF];
	struct cli_api a;
	json_t *out = NULL;
	int c, json = 0, rc;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		if (argc >= 2) {
			fputs(CONSENT_USAGE, stdout);
			return CLI_EXIT_OK;
		}
		return cli_usage_error(CONSENT_USAGE, "consent: grant, list or revoke?");
	}
	sub = argv[1];
	argc--;
	argv++;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'U': url = optarg; break;
		case 'T': token_file = optarg; break;
		case 'S': subject = optarg; break;
		case 'C': consumer = optarg; break;
		case 'v':
			if (nservices == MAX_SERVICES)
				return cli_usage_error(CONSENT_USAGE, "at most %d --service",
						       MAX_SERVICES);
			services[nservices++] = optarg;
			break;
		case 'P': purpose = optarg; break;
		case 'D': days_text = optarg; break;
		case 'F': from_text = optarg; break;
		case 'J': json = 1; break;
		case 'h': fputs(CONSENT_USAGE, stdout); return CLI_EXIT_OK;
		default: return cli_bad_option(CONSENT_USAGE, argv);
		}
	}
	if (strcmp(sub, "grant") == 0) {
		char t_from[NDX_TIME_TEXT_LEN], t_to[NDX_TIME_TEXT_LEN], *end;
		time_t from = time(NULL);
		long days;
		json_t *body, *arr;

		if (optind != argc || !subject || !consumer || !nservices || !purpose || !days_text)
			return cli_usage_error(CONSENT_USAGE, "consent grant needs --subject, "
					       "--consumer, --service, --purpose and --days");
		days = strtol(days_text, &end, 10);
		if (*end || end == days_text || days < 1 || days > 366)
			return cli_usage_error(CONSENT_USAGE, "--days: an integer from 1 to 366");
		if (from_text && ndx_time_parse(from_text, &from) != NDX_OK)
			return cli_usage_error(CONSENT_USAGE, "--from: an RFC 3339 UTC time "
					       "(YYYY-MM-DDTHH:MM:SSZ)");
		ndx_time_format(from, t_from);
		ndx_time_format(from + (time_t)days * 86400, t_to);
		arr = json_array();
		for (size_t i = 0; arr && i < nservices; i++)
			json_array_append_new(arr, json_string(services[i]));
		body = json_pack("{ss ss so ss ss ss}", "subject", subject, "consumer", consumer,
				 "services", arr, "purpose", purpose, "valid_from", t_from,
				 "valid_to", t_to);
		if (open_service(&a, url, token_file)) {
			json_decref(body);
			return CLI_EXIT_FAIL;
		}
		rc = call(&a, "POST", "/api/consents", body, &out);
		cli_api_close(&a);
		if (rc)
			return rc;
		if (json) {
			print_json(out);
		} else {
			printf("granted consent %s (valid %s to %s)\n",
			       json_string_value(json_object_get(out, "jti")),
			       json_string_value(json_object_get(out, "valid_from")),
			       json_string_value(json_object_get(out, "valid_to")));
			printf("%s\n", json_string_value(json_object_get(out, "consent")));
		}
		json_decref(out);
		return CLI_EXIT_OK;
	}
	if (strcmp(sub, "list") == 0) {
		char enc[64];

		if (optind != argc || !subject)
			return cli_usage_error(CONSENT_USAGE, "consent list needs --subject");
		if (ndx_pct_encode(subject, strlen(subject), enc, sizeof enc) < 0)
			return cli_usage_error(CONSENT_USAGE, "--subject is too long");
		snprintf(path, sizeof path, "/api/consents?subject=%s", enc);
		if (open_service(&a, url, token_file))
			return CLI_EXIT_FAIL;
		rc = call(&a, "GET", path, NULL, &out);
		cli_api_close(&a);
		if (rc)
			return rc;
		if (json)
			print_json(out);
		else
			print_consents(json_object_get(out, "consents"));
		json_decref(out);
		return CLI_EXIT_OK;
	}
	if (strcmp(sub, "revoke") == 0) {
		char enc[200];

		if (optind != argc - 1)
			return cli_usage_error(CONSENT_USAGE, "consent revoke needs exactly one JTI");
		if (ndx_pct_encode(argv[optind], strlen(argv[optind]), enc, sizeof enc) < 0)
			return cli_usage_error(CONSENT_USAGE, "the JTI is too long");
		snprintf(path, sizeof path, "/api/consents/%s/revoke", enc);
		if (open_service(&a, url, token_file))
			return CLI_EXIT_FAIL;
		rc = call(&a, "POST", path, NULL, &out);
		cli_api_close(&a);
		if (rc)
			return rc;
		if (json)
			print_json(out);
		else
			printf("revoked consent %s at %s (revocation version %lld)\n",
			       json_string_value(json_object_get(out, "jti")),
			       json_string_value(json_object_get(out, "revoked_at")),
			       (long long)json_integer_value(
				       json_object_get(out, "revocation_version")));
		json_decref(out);
		return CLI_EXIT_OK;
	}
	return cli_usage_error(CONSENT_USAGE, "consent: unknown subcommand '%s'", sub);
}
