/* `ndx federation apply|export`: a federation kept as a file (members,
 * subsystems, services, gateways, grants, consent services, id providers,
 * embargoes, event types, subscriptions, the monitoring client) made true in
 * the registry through its management API, and the registry's state written
 * out in the same form. This file reads the registry and runs the plan's
 * calls; checking the file and computing the plan is federation_plan.c.
 * Format and removal rule: docs/federation-file.md. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_admin.h"
#include "client.h"
#include "federation_apply.h"
#include "federation_plan.h"
#include "ndx/encode.h"
#include "ndx/err.h"
#include "ndx/file.h"
#include "ndx/id.h"

static const char usage_text[] =
	"usage: ndx federation apply FILE [--dry-run] [--registry URL] [--token-file FILE]\n"
	"       ndx federation export [--out FILE] [--registry URL] [--token-file FILE]\n"
	"\n"
	"A federation declared as data (docs/federation-file.md): a JSON file, format\n"
	"\"ndx-federation/1\", with the sections members, subsystems, services, gateways,\n"
	"consent_services, id_providers, embargoes, event_types, grants, subscriptions\n"
	"and monitoring_client.\n"
	"  apply FILE      check FILE as a whole, then make the registry match it through\n"
	"                  its management API, one audited call a change, printing one\n"
	"                  line a change (create, update, remove). A section the file\n"
	"                  leaves out is left as it is; in a section it has, what the\n"
	"                  file does not list is removed. A second run changes nothing.\n"
	"  --dry-run       print the plan and change nothing\n"
	"  export          write the registry's federation in the same form (stdout, or\n"
	"                  --out FILE); applying it to the same registry changes nothing\n"
	"  --out FILE      where export writes\n"
	"\n"
	"Exit status: 0 done (or nothing to do), 1 the registry refused or could not\n"
	"be reached, 2 a command line or a file that is refused as a whole (nothing\n"
	"applied; the message names the file's place, e.g. grants[2].client, and\n"
	"its line when the value there is written once in the file).\n"
	"\nCommon options:\n"
	"  --registry URL     registry base URL (default $NDX_REGISTRY, else\n"
	"                     http://127.0.0.1:4400)\n"
	"  --token-file FILE  file holding the admin token (default $NDX_TOKEN_FILE;\n"
	"                     otherwise the token is taken from $NDX_ADMIN_TOKEN)\n"
	"  --help             show this help\n";

/* GET path and return its field (new reference), or NULL after printing. */
static json_t *get_field(const struct cli_api *api, const char *path, const char *field)
{
	char err[1024];
	json_t *out = NULL, *v;

	if (cli_api_call(api, "GET", path, NULL, NULL, &out, err, sizeof err) != NDX_OK) {
		cli_error("%s: %s", path, err);
		return NULL;
	}
	v = json_incref(json_object_get(out, field));
	json_decref(out);
	if (!v)
		cli_error("%s: the answer has no \"%s\"", path, field);
	return v;
}

/* Each service with an OpenAPI document gets it under "openapi". */
static int fetch_openapi(const struct cli_api *api, json_t *services)
{
	char wire[NDX_ID_TEXT_MAX], path[PATH_BUF], err[1024];
	json_t *svc;
	size_t i;

	json_array_foreach(services, i, svc) {
		json_t *doc = NULL;
		const char *id = json_string_value(json_object_get(svc, "id"));
		if (json_is_null(json_object_get(svc, "openapi_sha256")) ||
		    !json_object_get(svc, "openapi_sha256"))
			continue;
		if (!id || cli_admin_id_wire(id, NDX_ID_SERVICE, wire, sizeof wire) != 0)
			return -1;
		snprintf(path, sizeof path, "/openapi/%s", wire);
		if (cli_api_call(api, "GET", path, NULL, NULL, &doc, err, sizeof err) != NDX_OK) {
			cli_error("%s: %s", path, err);
			return -1;
		}
		if (json_object_set_new(svc, "openapi", doc))
			return -1;
	}
	return 0;
}

/* The registry's state in the canonical form, or NULL after printing. */
static json_t *fetch_state(const struct cli_api *api)
{
	static const struct {
		enum fed_kind kind;
		const char *path, *field;
	} lists[] = {
		{ FED_MEMBER, "/api/members", "members" },
		{ FED_SUBSYSTEM, "/api/subsystems", "subsystems" },
		{ FED_SERVICE, "/api/services", "services" },
		{ FED_GATEWAY, "/api/gateways", "gateways" },
		{ FED_CONSENT_SERVICE, "/api/consent-services", "consent_services" },
		{ FED_ID_PROVIDER, "/api/id-providers", "id_providers" },
		{ FED_EMBARGO, "/api/embargoes", "embargoes" },
		{ FED_EVENT_TYPE, "/api/event-types", "event_types" },
		{ FED_GRANT, "/api/grants", "grants" },
		{ FED_SUBSCRIPTION, "/api/subscriptions", "subscriptions" },
		{ FED_MONITORING, "/api/monitoring", "client" },
	};
	json_t *raw = json_object(), *canon = NULL;
	char err[1024];

	if (!raw)
		return NULL;
	for (size_t i = 0; i < sizeof lists / sizeof *lists; i++) {
		json_t *v = get_field(api, lists[i].path, lists[i].field);
		if (!v || json_object_set_new(raw, fed_section(lists[i].kind), v))
			goto out;
		if (lists[i].kind == FED_SERVICE && fetch_openapi(api, v) != 0)
			goto out;
	}
	if (fed_from_registry(raw, &canon, err, sizeof err) != 0)
		cli_error("cannot read the registry's state: %s", err);
out:
	json_decref(raw);
	return canon;
}

/* The method and path of a step into method/path; -1 after printing. */
static int step_call(const json_t *step, const char **method, char *path, size_t cap)
{
	const char *op = json_string_value(json_object_get(step, "op"));
	enum fed_kind kind = (enum fed_kind)json_integer_value(json_object_get(step, "kind"));
	const json_t *item = json_object_get(step, strcmp(op, "remove") == 0 ? "have" : "want");
	char wire[NDX_ID_TEXT_MAX], enc[NDX_ID_TEXT_MAX * 3];
	const char *id = json_string_value(json_object_get(item, "id"));
	int remove = strcmp(op, "remove") == 0;
	static const char *const base[FED_NKINDS] = {
		[FED_MEMBER] = "/api/members", [FED_SUBSYSTEM] = "/api/subsystems",
		[FED_SERVICE] = "/api/services", [FED_GATEWAY] = "/api/gateways",
		[FED_CONSENT_SERVICE] = "/api/consent-services",
		[FED_ID_PROVIDER] = "/api/id-providers", [FED_EMBARGO] = "/api/embargoes",
		[FED_EVENT_TYPE] = "/api/event-types", [FED_GRANT] = "/api/grants",
		[FED_SUBSCRIPTION] = "/api/subscriptions", [FED_MONITORING] = "/api/monitoring",
	};
	static const enum ndx_id_kind id_kind[FED_NKINDS] = {
		[FED_MEMBER] = NDX_ID_MEMBER, [FED_SUBSYSTEM] = NDX_ID_SUBSYSTEM,
		[FED_SERVICE] = NDX_ID_SERVICE, [FED_CONSENT_SERVICE] = NDX_ID_SUBSYSTEM,
	};
	const json_t *ref;
	int n = 0;

	*method = remove ? "DELETE" : strcmp(op, "update") == 0 ? "PUT" : "POST";
	switch (kind) {
	case FED_MEMBER:
	case FED_SUBSYSTEM:
	case FED_SERVICE:
	case FED_CONSENT_SERVICE:
		if (!remove && strcmp(op, "update") != 0) {
			n = snprintf(path, cap, "%s", base[kind]);
			break;
		}
		if (!id || cli_admin_id_wire(id, id_kind[kind], wire, sizeof wire) != 0)
			return -1;
		n = snprintf(path, cap, "%s/%s%s", base[kind], wire, remove ? "" : "/bulk-purposes");
		break;
	case FED_GATEWAY: {
		const char *member = json_string_value(json_object_get(item, "member"));
		const char *code = json_string_value(json_object_get(item, "code"));
		if (!remove) {
			n = snprintf(path, cap, "%s", base[kind]);
			break;
		}
		if (!member || !code || cli_admin_id_wire(member, NDX_ID_MEMBER, wire, sizeof wire) ||
		    ndx_pct_encode(code, strlen(code), enc, sizeof enc) < 0)
			return -1;
		n = snprintf(path, cap, "%s/%s/%s", base[kind], wire, enc);
		break;
	}
	case FED_ID_PROVIDER:
		n = snprintf(path, cap, "%s", base[kind]);
		if (remove && cli_admin_add_query(path, cap, "issuer",
						  json_string_value(json_object_get(item, "issuer"))))
			return -1;
		break;
	case FED_EMBARGO: {
		const char *p = json_string_value(json_object_get(item, "purpose"));
		*method = remove ? "DELETE" : "PUT";
		n = snprintf(path, cap, "%s/%s", base[kind], p ? p : "");
		break;
	}
	case FED_EVENT_TYPE: {
		const char *svc = json_string_value(json_object_get(item, "service"));
		const char *name = json_string_value(json_object_get(item, "name"));
		if (!remove) {
			n = snprintf(path, cap, "%s", base[kind]);
			break;
		}
		if (!svc || !name || cli_admin_id_wire(svc, NDX_ID_SERVICE, wire, sizeof wire))
			return -1;
		n = snprintf(path, cap, "%s/%s/%s", base[kind], wire, name);
		break;
	}
	case FED_GRANT:
	case FED_SUBSCRIPTION:
		ref = json_object_get(item, "_ref");
		if (remove && !json_is_integer(ref)) {
			cli_error("the registry's %s has no number", fed_singular(kind));
			return -1;
		}
		n = remove ? snprintf(path, cap, "%s/%lld", base[kind],
				      (long long)json_integer_value(ref))
			   : snprintf(path, cap, "%s", base[kind]);
		break;
	case FED_MONITORING:
		*method = remove ? "DELETE" : "PUT";
		n = snprintf(path, cap, "%s", base[kind]);
		break;
	default:
		return -1;
	}
	if (n < 0 || (size_t)n >= cap) {
		cli_error("a path for '%s' is too long", json_string_value(json_object_get(step, "line")));
		return -1;
	}
	return 0;
}

/* Runs the steps in order; stops at the first refusal. Each change's line
 * goes to report (NULL: none). */
static int run_steps(const struct cli_api *api, const json_t *steps, FILE *report)
{
	char path[PATH_BUF], err[1024];
	const json_t *step;
	json_int_t version = -1;
	size_t i;

	json_array_foreach(steps, i, step) {
		const char *method, *line = json_string_value(json_object_get(step, "line"));
		json_t *body = NULL, *out = NULL;
		int rc;

		if (step_call(step, &method, path, sizeof path) != 0)
			return CLI_EXIT_FAIL;
		if (strcmp(method, "DELETE") != 0 && !(body = fed_step_body(step))) {
			cli_error("out of memory");
			return CLI_EXIT_FAIL;
		}
		rc = cli_api_call(api, method, path, body, NULL, &out, err, sizeof err);
		json_decref(body);
		if (rc != NDX_OK) {
			cli_error("%s: %s; %zu of %zu changes were applied (run apply again once "
				  "the cause is fixed)", line, err, i, json_array_size(steps));
			json_decref(out);
			return CLI_EXIT_FAIL;
		}
		if (json_is_integer(json_object_get(out, "conf_version")))
			version = json_integer_value(json_object_get(out, "conf_version"));
		json_decref(out);
		if (report)
			fprintf(report, "%s\n", line);
	}
	if (!report)
		return CLI_EXIT_OK;
	fprintf(report, "applied %zu change%s", json_array_size(steps),
		json_array_size(steps) == 1 ? "" : "s");
	if (version >= 0)
		fprintf(report, " (configuration version %lld)", (long long)version);
	fputc('\n', report);
	return CLI_EXIT_OK;
}

/* Prints why the file is refused, with the line when fed_line finds it. */
static int refuse(const char *file, const json_t *doc, const char *text, size_t len,
		  const char *err)
{
	int line = fed_line(doc, text, len, err);

	if (line > 0)
		cli_error("%s:%d: %s; nothing was applied", file, line, err);
	else
		cli_error("%s: %s; nothing was applied", file, err);
	return CLI_EXIT_USAGE;
}

int fed_apply_text(const struct cli_api *api, const char *file, const char *text, size_t len,
		   int dry_run, FILE *report, size_t *changes)
{
	json_error_t jerr;
	json_t *doc = NULL, *want = NULL, *have = NULL, *steps = NULL;
	char err[2048];
	const json_t *step;
	size_t i;
	int rc = CLI_EXIT_USAGE;

	if (changes)
		*changes = 0;
	doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!doc) {
		cli_error("%s:%d:%d: %s; nothing was applied", file, jerr.line, jerr.column,
			  jerr.text);
		goto out;
	}
	if (fed_validate(doc, &want, err, sizeof err) != 0) {
		rc = refuse(file, doc, text, len, err);
		goto out;
	}
	if (!(have = fetch_state(api))) {
		rc = CLI_EXIT_FAIL;
		goto out;
	}
	if (fed_plan(want, have, &steps, err, sizeof err) != 0) {
		rc = refuse(file, doc, text, len, err);
		goto out;
	}
	if (json_array_size(steps) == 0) {
		if (report)
			fprintf(report, "no changes: the registry already matches %s\n", file);
		rc = CLI_EXIT_OK;
	} else if (dry_run) {
		if (report) {
			json_array_foreach(steps, i, step)
				fprintf(report, "%s\n",
					json_string_value(json_object_get(step, "line")));
			fprintf(report, "%zu change%s planned (dry run: nothing applied)\n",
				json_array_size(steps), json_array_size(steps) == 1 ? "" : "s");
		}
		rc = CLI_EXIT_OK;
	} else if ((rc = run_steps(api, steps, report)) == CLI_EXIT_OK && changes) {
		*changes = json_array_size(steps);
	}
out:
	json_decref(doc);
	json_decref(want);
	json_decref(have);
	json_decref(steps);
	return rc;
}

static int apply(const char *file, int dry_run, const char *registry, const char *token_file)
{
	struct cli_api api = { 0 };
	char *text = NULL;
	size_t len = 0;
	int rc;

	if ((rc = ndx_file_read(file, FED_FILE_MAX, &text, &len)) != NDX_OK) {
		cli_error("cannot read %s: %s", file, ndx_strerror(rc));
		return CLI_EXIT_FAIL;
	}
	if (cli_api_open(&api, registry, token_file, 1) != 0) {
		free(text);
		return CLI_EXIT_FAIL;
	}
	rc = fed_apply_text(&api, file, text, len, dry_run, stdout, NULL);
	cli_api_close(&api);
	free(text);
	return rc;
}

static int export(const char *out_path, const char *registry, const char *token_file)
{
	struct cli_api api;
	json_t *have, *doc;
	char *text;
	FILE *f = stdout;
	int rc = CLI_EXIT_FAIL;

	if (cli_api_open(&api, registry, token_file, 1) != 0)
		return CLI_EXIT_FAIL;
	have = fetch_state(&api);
	cli_api_close(&api);
	if (!have)
		return CLI_EXIT_FAIL;
	doc = fed_export(have);
	json_decref(have);
	text = doc ? json_dumps(doc, JSON_INDENT(2)) : NULL;
	json_decref(doc);
	if (!text) {
		cli_error("out of memory");
		return CLI_EXIT_FAIL;
	}
	if (out_path && !(f = fopen(out_path, "w"))) {
		cli_error("cannot write %s: %m", out_path);
		free(text);
		return CLI_EXIT_FAIL;
	}
	if (fputs(text, f) != EOF && fputc('\n', f) != EOF && fflush(f) == 0)
		rc = CLI_EXIT_OK;
	/* One close whatever happened; a failed close loses what was written. */
	if (f != stdout && fclose(f) != 0)
		rc = CLI_EXIT_FAIL;
	if (rc != CLI_EXIT_OK)
		cli_error("cannot write %s: %m", out_path ? out_path : "stdout");
	free(text);
	return rc;
}

int cmd_federation(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "registry", required_argument, NULL, 'R' },
		{ "token-file", required_argument, NULL, 'T' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "out", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *registry = NULL, *token_file = NULL, *out = NULL, *sub;
	int c, dry_run = 0;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		if (argc >= 2) {
			fputs(usage_text, stdout);
			return CLI_EXIT_OK;
		}
		return cli_usage_error(usage_text, "federation needs apply or export");
	}
	sub = argv[1];
	if (strcmp(sub, "apply") != 0 && strcmp(sub, "export") != 0)
		return cli_usage_error(usage_text, "unknown federation command '%s'", sub);
	argc--;
	argv++;
	cli_admin_start_options();
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'R': registry = optarg; break;
		case 'T': token_file = optarg; break;
		case 'n': dry_run = 1; break;
		case 'o': out = optarg; break;
		case 'h': fputs(usage_text, stdout); return CLI_EXIT_OK;
		default: return cli_bad_option(usage_text, argv);
		}
	}
	if (strcmp(sub, "apply") == 0) {
		if (out)
			return cli_usage_error(usage_text, "--out is an option of export");
		if (optind + 1 != argc)
			return cli_usage_error(usage_text, "apply needs exactly one FILE");
		return apply(argv[optind], dry_run, registry, token_file);
	}
	if (dry_run)
		return cli_usage_error(usage_text, "--dry-run is an option of apply");
	if (optind != argc)
		return cli_usage_error(usage_text, "export takes no FILE (use --out FILE)");
	return export(out, registry, token_file);
}
