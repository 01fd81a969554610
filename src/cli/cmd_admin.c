/* The registry administration commands of the ndx tool: member, subsystem,
 * service, grant, gateway, revoke, audit, embargo and id-provider (event-type
 * and subscription are in cmd_events.c). Each one parses its words, makes
 * one or two calls to the registry's management API (docs/registry-api.md)
 * through client.c and prints either a short sentence, an aligned table, or
 * with --json the registry's own JSON. `gateway add` also makes the gateway's
 * TLS key and CSR locally, so the private key never leaves this machine. */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cli_admin.h"
#include "client.h"
#include "ndx/conf.h"
#include "ndx/encode.h"
#include "ndx/err.h"
#include "ndx/file.h"
#include "ndx/id.h"
#include "ndx/key.h"
#include "ndx/pki.h"
#include "ndx/text.h"

#define OPENAPI_FILE_MAX (4u * 1024u * 1024u)

/* Returns 1 when c was one of the common options. */
int cli_admin_option(int c, struct cli_admin_common *co)
{
	switch (c) {
	case 'R': co->registry = optarg; return 1;
	case 'T': co->token_file = optarg; return 1;
	case 'J': co->json = 1; return 1;
	case 'h': co->help = 1; return 1;
	default: return 0;
	}
}

void cli_admin_start_options(void)
{
	optind = 0;
	opterr = 0;
}

/* ---- output ----------------------------------------------------------- */

/* jansson escapes C0 controls itself but writes C1 controls and
 * bidirectional overrides as they are: those become JSON escapes of the
 * same characters, so a name stored before the registry refused them
 * cannot drive the terminal (docs/security.md T30). */
void cli_admin_print_json(const json_t *doc)
{
	char *text = doc ? json_dumps(doc, JSON_INDENT(2)) : NULL;
	char *safe = text ? ndx_text_escape_json(text, strlen(text)) : NULL;

	if (safe != NULL)
		puts(safe);
	free(safe);
	free(text);
}

/* Display width in code points, so Vietnamese names line up. */
static size_t text_width(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

/* A cell as text (malloc'd): strings as they are, arrays joined by ",",
 * booleans as yes/no, absent values as "-". */
static char *cell_text(const json_t *v)
{
	char buf[64];

	if (v == NULL || json_is_null(v))
		return strdup("-");
	if (json_is_string(v))
		return strdup(json_string_value(v));
	if (json_is_integer(v)) {
		snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
		return strdup(buf);
	}
	if (json_is_boolean(v))
		return strdup(json_is_true(v) ? "yes" : "no");
	if (json_is_array(v) && json_array_size(v) == 0)
		return strdup("-");
	if (json_is_array(v)) {
		size_t i, len = 1;
		const json_t *e;
		char *out, **parts = calloc(json_array_size(v) + 1, sizeof(*parts));

		if (parts == NULL)
			return NULL;
		json_array_foreach(v, i, e) {
			parts[i] = cell_text(e);
			if (parts[i] == NULL)
				break;
			len += strlen(parts[i]) + 1;
		}
		out = malloc(len);
		if (out != NULL) {
			size_t at = 0;

			for (i = 0; i < json_array_size(v) && parts[i]; i++) {
				size_t n = strlen(parts[i]);

				if (i)
					out[at++] = ',';
				memcpy(out + at, parts[i], n);
				at += n;
			}
			out[at] = '\0';
		}
		for (i = 0; i < json_array_size(v); i++)
			free(parts[i]);
		free(parts);
		return out;
	}
	return json_dumps(v, JSON_COMPACT);
}

int cli_admin_print_table(const json_t *rows, const struct cli_admin_column *cols, size_t ncols)
{
	size_t nrows = json_array_size(rows), r, c, width[16] = { 0 };
	char **cells;
	int rc = CLI_EXIT_OK;

	if (ncols > 16)
		return CLI_EXIT_FAIL;
	cells = calloc((nrows ? nrows : 1) * ncols, sizeof(*cells));
	if (cells == NULL) {
		cli_error("out of memory");
		return CLI_EXIT_FAIL;
	}
	for (c = 0; c < ncols; c++)
		width[c] = text_width(cols[c].title);
	for (r = 0; r < nrows; r++) {
		const json_t *row = json_array_get(rows, r);

		for (c = 0; c < ncols; c++) {
			char *raw = cell_text(json_object_get(row, cols[c].key));
			/* A cell is shown escaped: a value stored before the registry
			 * refused controls must not reach the terminal raw. */
			char *t = raw ? ndx_text_escape(raw, strlen(raw)) : NULL;
			size_t w;

			free(raw);
			if (t == NULL) {
				cli_error("out of memory");
				rc = CLI_EXIT_FAIL;
				goto out;
			}
			cells[r * ncols + c] = t;
			w = text_width(t);
			if (w > width[c])
				width[c] = w;
		}
	}
	for (c = 0; c < ncols; c++)
		printf("%s%*s", cols[c].title,
		       c + 1 < ncols ? (int)(width[c] - text_width(cols[c].title) + 2) : 0, "");
	putchar('\n');
	for (r = 0; r < nrows; r++) {
		for (c = 0; c < ncols; c++) {
			const char *t = cells[r * ncols + c];

			printf("%s%*s", t, c + 1 < ncols ? (int)(width[c] - text_width(t) + 2) : 0, "");
		}
		putchar('\n');
	}
	if (nrows == 0)
		puts("(none)");
out:
	for (r = 0; r < nrows * ncols; r++)
		free(cells[r]);
	free(cells);
	return rc;
}

/* ---- talking to the registry ----------------------------------------- */

/* One API call; prints the failure. body is stolen (may be NULL). */
int cli_admin_api(const struct cli_admin_common *co, const char *method, const char *path,
	       json_t *body, json_t **out)
{
	struct cli_api a;
	char err[1024];
	int rc;

	*out = NULL;
	if (body == NULL && (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0)) {
		/* json_pack refuses strings that are not UTF-8. */
		cli_error("the arguments are not valid UTF-8 text");
		return CLI_EXIT_FAIL;
	}
	if (cli_api_open(&a, co->registry, co->token_file, 1) != 0) {
		json_decref(body);
		return CLI_EXIT_FAIL;
	}
	rc = cli_api_call(&a, method, path, body, NULL, out, err, sizeof(err));
	json_decref(body);
	cli_api_close(&a);
	if (rc != NDX_OK) {
		cli_error("%s", err);
		return CLI_EXIT_FAIL;
	}
	return CLI_EXIT_OK;
}

/* A value that is not UTF-8 becomes "" so the registry refuses it by name. */
static void append_string(json_t *arr, const char *s)
{
	json_t *v = json_string(s);

	json_array_append_new(arr, v ? v : json_string(""));
}

/* Writes the wire form (each part percent-encoded) of an id into buf. */
int cli_admin_id_wire(const char *text, enum ndx_id_kind kind, char *buf, size_t cap)
{
	static const char *const kind_name[] = { "", "", "", "member", "subsystem", "service" };
	struct ndx_id id;
	const char *why = NULL;

	if (ndx_id_parse(text, strlen(text), kind, &id, &why) != NDX_OK) {
		cli_error("invalid %s id '%s': %s", kind_name[kind], text, why ? why : "malformed");
		return -1;
	}
	if (ndx_id_format_wire(&id, buf, cap) < 0) {
		cli_error("the id '%s' is too long", text);
		return -1;
	}
	return 0;
}

/* Appends "?name=value" or "&name=value" (value percent-encoded) to path. */
int cli_admin_add_query(char *path, size_t cap, const char *name, const char *value)
{
	char enc[NDX_ID_TEXT_MAX * 3];
	size_t used = strlen(path);
	int n;

	if (value == NULL)
		return 0;
	if (ndx_pct_encode(value, strlen(value), enc, sizeof(enc)) < 0) {
		cli_error("the value of --%s is too long", name);
		return -1;
	}
	n = snprintf(path + used, cap - used, "%c%s=%s", strchr(path, '?') ? '&' : '?', name, enc);
	if (n < 0 || (size_t)n >= cap - used) {
		cli_error("the value of --%s is too long", name);
		return -1;
	}
	return 0;
}

void cli_admin_version_note(const json_t *out)
{
	const json_t *v = json_object_get(out, "conf_version");

	if (json_is_integer(v))
		printf(" (configuration version %lld)", (long long)json_integer_value(v));
	putchar('\n');
}

/* The list commands all look alike: GET, then a table of one array field. */
int cli_admin_list(const struct cli_admin_common *co, const char *path, const char *field,
			  const struct cli_admin_column *cols, size_t ncols)
{
	json_t *out;
	int rc = cli_admin_api(co, "GET", path, NULL, &out);

	if (rc != CLI_EXIT_OK)
		return rc;
	if (co->json) {
		cli_admin_print_json(out);
	} else if (!json_is_array(json_object_get(out, field))) {
		cli_error("the registry's answer has no '%s' list", field);
		rc = CLI_EXIT_FAIL;
	} else {
		rc = cli_admin_print_table(json_object_get(out, field), cols, ncols);
	}
	json_decref(out);
	return rc;
}

/* DELETE path, then "removed WHAT". */
int cli_admin_remove(const struct cli_admin_common *co, const char *path, const char *what)
{
	json_t *out;
	int rc = cli_admin_api(co, "DELETE", path, NULL, &out);

	if (rc != CLI_EXIT_OK)
		return rc;
	if (co->json)
		cli_admin_print_json(out);
	else {
		printf("removed %s", what);
		cli_admin_version_note(out);
	}
	json_decref(out);
	return CLI_EXIT_OK;
}

/* Positional arguments after the options: exactly `want` of them. */
int cli_admin_positionals(int argc, char **argv, int want, const char *usage, const char *names)
{
	if (argc - optind < want)
		return cli_usage_error(usage, "missing %s", names);
	if (argc - optind > want)
		return cli_usage_error(usage, "unexpected argument '%s'", argv[optind + want]);
	return 0;
}

/* ---- member ------------------------------------------------------------ */

static const char member_usage[] =
	"usage: ndx member add ID --name NAME\n"
	"       ndx member list\n"
	"       ndx member remove ID\n"
	"\n"
	"Members are the agencies and enterprises of the federation, named\n"
	"INSTANCE/CLASS/CODE, e.g. VN/GOV/BCA (classes GOV, COM, ORG).\n"
	"  add ID --name NAME   register a member with its display name\n"
	"  list                 list the members\n"
	"  remove ID            remove a member that has no subsystems or gateways\n"
	COMMON_HELP;

static int member_cmd(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' }, COMMON_OPTS, { NULL, 0, NULL, 0 },
	};
	const char *sub = argv[0], *name = NULL;
	struct cli_admin_common co = { 0 };
	char path[PATH_BUF], wire[NDX_ID_TEXT_MAX], what[PATH_BUF];
	json_t *out;
	int c, rc;

	cli_admin_start_options();
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (cli_admin_option(c, &co))
			continue;
		if (c == 'n' && strcmp(sub, "add") == 0)
			name = optarg;
		else
			return cli_bad_option(member_usage, argv);
	}
	if (co.help) {
		fputs(member_usage, stdout);
		return CLI_EXIT_OK;
	}
	if (strcmp(sub, "add") == 0) {
		if ((rc = cli_admin_positionals(argc, argv, 1, member_usage, "the member ID")) != 0)
			return rc;
		if (name == NULL)
			return cli_usage_error(member_usage, "member add needs --name NAME");
		rc = cli_admin_api(&co, "POST", "/api/members",
			 json_pack("{ssss}", "id", argv[optind], "name", name), &out);
		if (rc != CLI_EXIT_OK)
			return rc;
		if (co.json)
			cli_admin_print_json(out);
		else {
			printf("added member %s \"%s\"", argv[optind], name);
			cli_admin_version_note(out);
		}
		json_decref(out);
		return CLI_EXIT_OK;
	}
	if (strcmp(sub, "list") == 0) {
		static const struct cli_admin_column cols[] = {
			{ "ID", "id" }, { "NAME", "name" }, { "CREATED", "created_at" },
		};

		if ((rc = cli_admin_positionals(argc, argv, 0, member_usage, "")) != 0)
			return rc;
		return cli_admin_list(&co, "/api/members", "members", cols, 3);
	}
	if (strcmp(sub, "remove") == 0) {
		if ((rc = cli_admin_positionals(argc, argv, 1, member_usage, "the member ID")) != 0)
			return rc;
		if (cli_admin_id_wire(argv[optind], NDX_ID_MEMBER, wire, sizeof(wire)) != 0)
			return CLI_EXIT_FAIL;
		snprintf(path, sizeof(path), "/api/members/%s", wire);
		snprintf(what, sizeof(what), "member %s", argv[optind]);
		return cli_admin_remove(&co, path, what);
	}
	return cli_usage_error(member_usage, "unknown member command '%s'", sub);
}

/* ---- subsystem --------------------------------------------------------- */

static const char subsystem_usage[] =
	"usage: ndx subsystem add ID\n"
	"       ndx subsystem list [--member ID]\n"
	"       ndx subsystem remove ID\n"
	"\n"
	"Subsystems are a member's information systems, e.g. VN/GOV/BCA/population;\n"
	"they call services and provide them.\n"
	"  add ID               register a subsystem of an existing member\n"
	"  list [--member ID]   list subsystems, optionally of one member\n"
	"  remove ID            remove a subsystem that has no services, grants or\n"
	"                       subscriptions\n"
	COMMON_HELP;

static int subsystem_cmd(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "member", required_argument, NULL, 'm' }, COMMON_OPTS, { NULL, 0, NULL, 0 },
	};
	const char *sub = argv[0], *member = NULL;
	struct cli_admin_common co = { 0 };
	char path[PATH_BUF], wire[NDX_ID_TEXT_MAX], what[PATH_BUF];
	json_t *out;
	int c, rc;

	cli_admin_start_options();
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (cli_admin_option(c, &co))
			continue;
		if (c == 'm' && strcmp(sub, "list") == 0)
			member = optarg;
		else
			return cli_bad_option(subsystem_usage, argv);
	}
	if (co.help) {
		fputs(subsystem_usage, stdout);
		return CLI_EXIT_OK;
	}
	if (strcmp(sub, "add") == 0) {
		if ((rc = cli_admin_positionals(argc, argv, 1, subsystem_usage, "the subsystem ID")) != 0)
			return rc;
		rc = cli_admin_api(&co, "POST", "/api/subsystems", json_pack("{ss}", "id", argv[optind]), &out);
		if (rc != CLI_EXIT_OK)
			return rc;
		if (co.json)
			cli_admin_print_json(out);
		else {
			printf("added subsystem %s", argv[optind]);
			cli_admin_version_note(out);
		}
		json_decref(out);
		return CLI_EXIT_OK;
	}
	if (strcmp(sub, "list") == 0) {
		static const struct cli_admin_column cols[] = { { "ID", "id" }, { "CREATED", "created_at" } };

		if ((rc = cli_admin_positionals(argc, argv, 0, subsystem_usage, "")) != 0)
			return rc;
		snprintf(path, sizeof(path), "/api/subsystems");
		if (cli_admin_add_query(path, sizeof(path), "member", member) != 0)
			return CLI_EXIT_FAIL;
		return cli_admin_list(&co, path, "subsystems", cols, 2);
	}
	if (strcmp(sub, "remove") == 0) {
		if ((rc = cli_admin_positionals(argc, argv, 1, subsystem_usage, "the subsystem ID")) != 0)
			return rc;
		if (cli_admin_id_wire(argv[optind], NDX_ID_SUBSYSTEM, wire, sizeof(wire)) != 0)
			return CLI_EXIT_FAIL;
		snprintf(path, sizeof(path), "/api/subsystems/%s", wire);
		snprintf(what, sizeof(what), "subsystem %s", argv[optind]);
		return cli_admin_remove(&co, path, what);
	}
	return cli_usage_error(subsystem_usage, "unknown subsystem command '%s'", sub);
}

/* ---- service ----------------------------------------------------------- */

static const char service_usage[] =
	"usage: ndx service add ID --title TITLE [--personal] [--purpose P]...\n"
	"                          [--bulk-purpose P]... [--consent-required]\n"
	"                          [--openapi FILE]\n"
	"       ndx service update ID --bulk-purpose P... | --no-bulk-purposes\n"
	"       ndx service list [--subsystem ID]\n"
	"       ndx service remove ID\n"
	"\n"
	"Services are what a subsystem provides, e.g. VN/GOV/BCA/population/citizens.\n"
	"  add ID                  register a service of an existing subsystem\n"
	"    --title TITLE         human-readable title (required)\n"
	"    --personal            the service returns personal data: callers must\n"
	"                          name one of its purposes (give at least one)\n"
	"    --purpose P           a lawful purpose (repeat for several)\n"
	"    --bulk-purpose P      one of its purposes for which an answer may hold\n"
	"                          several people's data (a list or a search), each\n"
	"                          logged; only on a personal service without\n"
	"                          --consent-required (repeat for several)\n"
	"    --consent-required    personal data only with the citizen's live consent\n"
	"    --openapi FILE        the service's OpenAPI description (JSON)\n"
	"  update ID               replace the service's bulk purposes (the one thing\n"
	"                          that changes after registration)\n"
	"    --bulk-purpose P      a bulk purpose (repeat for several)\n"
	"    --no-bulk-purposes    allow no bulk reads any more\n"
	"  list [--subsystem ID]   list services, optionally of one subsystem\n"
	"  remove ID               remove a service no grant names and that has no\n"
	"                          event types\n"
	COMMON_HELP;

static json_t *load_openapi(const char *file)
{
	char *data = NULL;
	size_t len = 0;
	json_error_t jerr;
	json_t *doc;
	int rc = ndx_file_read(file, OPENAPI_FILE_MAX, &data, &len);

	if (rc != NDX_OK) {
		cli_error("cannot read %s: %s", file,
			  rc == NDX_ETOOBIG ? "larger than 4 MiB" : "missing or unreadable");
		return NULL;
	}
	doc = json_loadb(data, len, 0, &jerr);
	free(data);
	if (doc == NULL)
		cli_error("%s is not JSON: line %d: %s", file, jerr.line, jerr.text);
	else if (!json_is_object(doc)) {
		cli_error("%s is not a JSON object", file);
		json_decref(doc);
		doc = NULL;
	}
	return doc;
}

static int service_cmd(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "title", required_argument, NULL, 't' },
		{ "personal", no_argument, NULL, 'p' },
		{ "purpose", required_argument, NULL, 'u' },
		{ "consent-required", no_argument, NULL, 'c' },
		{ "openapi", required_argument, NULL, 'o' },
		{ "subsystem", required_argument, NULL, 's' },
		{ "bulk-purpose", required_argument, NULL, 'b' },
		{ "no-bulk-purposes", no_argument, NULL, 'B' },
		COMMON_OPTS, { NULL, 0, NULL, 0 },
	};
	const char *sub = argv[0], *title = NULL, *openapi = NULL, *subsystem = NULL;
	int personal = 0, consent = 0, no_bulk = 0, c, rc, is_add = strcmp(sub, "add") == 0;
	int is_update = strcmp(sub, "update") == 0;
	struct cli_admin_common co = { 0 };
	char path[PATH_BUF], wire[NDX_ID_TEXT_MAX], what[PATH_BUF];
	json_t *purposes = json_array(), *bulk = json_array(), *body, *out;

	if (purposes == NULL || bulk == NULL) {
		json_decref(purposes);
		json_decref(bulk);
		cli_error("out of memory");
		return CLI_EXIT_FAIL;
	}
	cli_admin_start_options();
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (cli_admin_option(c, &co))
			continue;
		if (is_add && c == 't')
			title = optarg;
		else if (is_add && c == 'p')
			personal = 1;
		else if (is_add && c == 'u')
			append_string(purposes, optarg);
		else if (is_add && c == 'c')
			consent = 1;
		else if (is_add && c == 'o')
			openapi = optarg;
		else if ((is_add || is_update) && c == 'b')
			append_string(bulk, optarg);
		else if (is_update && c == 'B')
			no_bulk = 1;
		else if (c == 's' && strcmp(sub, "list") == 0)
			subsystem = optarg;
		else {
			json_decref(purposes);
			json_decref(bulk);
			return cli_bad_option(service_usage, argv);
		}
	}
	if (co.help) {
		json_decref(purposes);
		json_decref(bulk);
		fputs(service_usage, stdout);
		return CLI_EXIT_OK;
	}
	if (is_update) {
		json_decref(purposes);
		rc = cli_admin_positionals(argc, argv, 1, service_usage, "the service ID");
		if (rc == 0 && (no_bulk ? json_array_size(bulk) > 0 : json_array_size(bulk) == 0))
			rc = cli_usage_error(service_usage, "service update needs --bulk-purpose P "
					     "(repeat for several) or --no-bulk-purposes, not both");
		if (rc == 0 && cli_admin_id_wire(argv[optind], NDX_ID_SERVICE, wire, sizeof(wire)) != 0)
			rc = CLI_EXIT_FAIL;
		if (rc != 0) {
			json_decref(bulk);
			return rc;
		}
		snprintf(path, sizeof(path), "/api/services/%s/bulk-purposes", wire);
		rc = cli_admin_api(&co, "PUT", path, json_pack("{so}", "bulk_purposes", bulk), &out);
		if (rc != CLI_EXIT_OK)
			return rc;
		if (co.json) {
			cli_admin_print_json(out);
		} else {
			char *list = cell_text(json_object_get(out, "bulk_purposes"));

			printf("service %s: bulk purposes %s", argv[optind],
			       list && strcmp(list, "-") != 0 ? list : "none");
			free(list);
			cli_admin_version_note(out);
		}
		json_decref(out);
		return CLI_EXIT_OK;
	}
	if (is_add) {
		if ((rc = cli_admin_positionals(argc, argv, 1, service_usage, "the service ID")) != 0 ||
		    (title == NULL &&
		     (rc = cli_usage_error(service_usage, "service add needs --title TITLE")) != 0)) {
			json_decref(purposes);
			json_decref(bulk);
			return rc;
		}
		body = json_pack("{sssssbsososb}", "id", argv[optind], "title", title,
				 "personal", personal, "purposes", purposes,
				 "bulk_purposes", bulk, "consent_required", consent);
		if (body != NULL && openapi != NULL) {
			json_t *doc = load_openapi(openapi);

			if (doc == NULL) {
				json_decref(body);
				return CLI_EXIT_FAIL;
			}
			json_object_set_new(body, "openapi", doc);
		}
		rc = cli_admin_api(&co, "POST", "/api/services", body, &out);
		if (rc != CLI_EXIT_OK)
			return rc;
		if (co.json)
			cli_admin_print_json(out);
		else {
			printf("added service %s \"%s\"", argv[optind], title);
			cli_admin_version_note(out);
		}
		json_decref(out);
		return CLI_EXIT_OK;
	}
	json_decref(purposes);
	json_decref(bulk);
	if (strcmp(sub, "list") == 0) {
		static const struct cli_admin_column cols[] = {
			{ "ID", "id" }, { "TITLE", "title" }, { "PERSONAL", "personal" },
			{ "PURPOSES", "purposes" }, { "BULK", "bulk_purposes" },
			{ "CONSENT", "consent_required" },
		};

		if ((rc = cli_admin_positionals(argc, argv, 0, service_usage, "")) != 0)
			return rc;
		snprintf(path, sizeof(path), "/api/services");
		if (cli_admin_add_query(path, sizeof(path), "subsystem", subsystem) != 0)
			return CLI_EXIT_FAIL;
		return cli_admin_list(&co, path, "services", cols, 6);
	}
	if (strcmp(sub, "remove") == 0) {
		if ((rc = cli_admin_positionals(argc, argv, 1, service_usage, "the service ID")) != 0)
			return rc;
		if (cli_admin_id_wire(argv[optind], NDX_ID_SERVICE, wire, sizeof(wire)) != 0)
			return CLI_EXIT_FAIL;
		snprintf(path, sizeof(path), "/api/services/%s", wire);
		snprintf(what, sizeof(what), "service %s", argv[optind]);
		return cli_admin_remove(&co, path, what);
	}
	return cli_usage_error(service_usage, "unknown service command '%s'", sub);
}

/* ---- grant ------------------------------------------------------------- */

static const char grant_usage[] =
	"usage: ndx grant add --client SUBSYSTEM_ID --service SERVICE_ID\n"
	"                     [--method M]... [--path P]...\n"
	"       ndx grant list [--client ID] [--service ID]\n"
	"       ndx grant remove N\n"
	"\n"
	"A grant lets a client subsystem call a service.\n"
	"  add                 create a grant\n"
	"    --client ID       the calling subsystem (required)\n"
	"    --service ID      the service (required)\n"
	"    --method M        an allowed HTTP method (repeat; default GET)\n"
	"    --path P          an allowed path pattern after the service id, '*' or\n"
	"                      starting with '/', fnmatch syntax (repeat; default *)\n"
	"  list                list grants, optionally filtered by --client/--service\n"
	"  remove N            remove grant number N\n"
	COMMON_HELP;

static int grant_cmd(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "client", required_argument, NULL, 'c' },
		{ "service", required_argument, NULL, 's' },
		{ "method", required_argument, NULL, 'm' },
		{ "path", required_argument, NULL, 'p' },
		COMMON_OPTS, { NULL, 0, NULL, 0 },
	};
	const char *sub = argv[0], *client = NULL, *service = NULL;
	int is_add = strcmp(sub, "add") == 0, is_list = strcmp(sub, "list") == 0, c, rc;
	struct cli_admin_common co = { 0 };
	char path[PATH_BUF], what[PATH_BUF];
	json_t *methods = json_array(), *paths = json_array(), *out;

	if (methods == NULL || paths == NULL) {
		json_decref(methods);
		json_decref(paths);
		cli_error("out of memory");
		return CLI_EXIT_FAIL;
	}
	cli_admin_start_options();
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (cli_admin_option(c, &co))
			continue;
		if ((is_add || is_list) && c == 'c')
			client = optarg;
		else if ((is_add || is_list) && c == 's')
			service = optarg;
		else if (is_add && c == 'm')
			append_string(methods, optarg);
		else if (is_add && c == 'p')
			append_string(paths, optarg);
		else {
			json_decref(methods);
			json_decref(paths);
			return cli_bad_option(grant_usage, argv);
		}
	}
	if (co.help || !is_add) {
		json_decref(methods);
		json_decref(paths);
	}
	if (co.help) {
		fputs(grant_usage, stdout);
		return CLI_EXIT_OK;
	}
	if (is_add) {
		if ((rc = cli_admin_positionals(argc, argv, 0, grant_usage, "")) != 0 ||
		    ((client == NULL || service == NULL) &&
		     (rc = cli_usage_error(grant_usage, "grant add needs --client and --service")) != 0)) {
			json_decref(methods);
			json_decref(paths);
			return rc;
		}
		if (json_array_size(methods) == 0)
			json_array_append_new(methods, json_string("GET"));
		if (json_array_size(paths) == 0)
			json_array_append_new(paths, json_string("*"));
		rc = cli_admin_api(&co, "POST", "/api/grants",
			 json_pack("{sssssoso}", "client", client, "service", service,
				   "methods", methods, "paths", paths), &out);
		if (rc != CLI_EXIT_OK)
			return rc;
		if (co.json)
			cli_admin_print_json(out);
		else {
			const json_t *id = json_object_get(out, "id");

			printf("added grant %lld: %s -> %s", (long long)json_integer_value(id),
			       client, service);
			cli_admin_version_note(out);
		}
		json_decref(out);
		return CLI_EXIT_OK;
	}
	if (is_list) {
		static const struct cli_admin_column cols[] = {
			{ "ID", "id" }, { "CLIENT", "client" }, { "SERVICE", "service" },
			{ "METHODS", "methods" }, { "PATHS", "paths" },
		};

		if ((rc = cli_admin_positionals(argc, argv, 0, grant_usage, "")) != 0)
			return rc;
		snprintf(path, sizeof(path), "/api/grants");
		if (cli_admin_add_query(path, sizeof(path), "client", client) != 0 ||
		    cli_admin_add_query(path, sizeof(path), "service", service) != 0)
			return CLI_EXIT_FAIL;
		return cli_admin_list(&co, path, "grants", cols, 5);
	}
	if (strcmp(sub, "remove") == 0) {
		char *end = NULL;
		long long n;

		if ((rc = cli_admin_positionals(argc, argv, 1, grant_usage, "the grant number N")) != 0)
			return rc;
		n = strtoll(argv[optind], &end, 10);
		if (end == argv[optind] || *end != '\0' || n <= 0 || n > (long long)1e15)
			return cli_usage_error(grant_usage, "the grant number must be a positive integer, not '%s'",
					       argv[optind]);
		snprintf(path, sizeof(path), "/api/grants/%lld", n);
		snprintf(what, sizeof(what), "grant %lld", n);
		return cli_admin_remove(&co, path, what);
	}
	return cli_usage_error(grant_usage, "unknown grant command '%s'", sub);
}

/* ---- gateway ----------------------------------------------------------- */

static const char gateway_usage[] =
	"usage: ndx gateway add --member ID --code CODE --address https://HOST:PORT\n"
	"                       --sign-key FILE.pem --tls-out PREFIX\n"
	"       ndx gateway list\n"
	"       ndx gateway remove MEMBER_ID CODE\n"
	"\n"
	"Gateways carry a member's exchanges. 'add' makes a TLS key and certificate\n"
	"request here, has the registry's CA sign it, and writes PREFIX.tls.key\n"
	"(mode 0600), PREFIX.tls.pem (the certificate) and PREFIX.ca.pem (the CA).\n"
	"  --member ID          the member running the gateway\n"
	"  --code CODE          the gateway's code within the member, e.g. gw1\n"
	"  --address URL        where other gateways reach it (https://HOST:PORT)\n"
	"  --sign-key FILE.pem  the gateway's Ed25519 key (private or public PEM;\n"
	"                       only the public key is sent)\n"
	"  --tls-out PREFIX     where to write the TLS files (never overwritten)\n"
	"  list                 list the gateways\n"
	"  remove MEMBER_ID CODE  remove a gateway\n"
	COMMON_HELP;

static int write_new_file(const char *path, const char *data, mode_t mode)
{
	int rc = ndx_file_write_atomic(path, data, strlen(data), mode, 1);

	if (rc != NDX_OK)
		cli_error("cannot write %s: %s", path,
			  rc == NDX_EEXIST ? "it already exists" : ndx_strerror(rc));
	return rc;
}

static void free_secret(char *s)
{
	if (s != NULL) {
		memset(s, 0, strlen(s));
		free(s);
	}
}

static int gateway_add(const struct cli_admin_common *co, const char *member, const char *code,
		       const char *address, const char *sign_key, const char *prefix)
{
	char key_path[PATH_MAX], cert_path[PATH_MAX], ca_path[PATH_MAX], cn[2 * NDX_ID_TEXT_MAX];
	const char *paths[3] = { key_path, cert_path, ca_path };
	char *pub_pem = NULL, *tls_key = NULL, *csr = NULL;
	struct ndx_key *key = NULL;
	const char *cert, *ca, *fp;
	json_t *out = NULL;
	struct stat st;
	int rc, i;

	if (snprintf(key_path, sizeof(key_path), "%s.tls.key", prefix) >= (int)sizeof(key_path) ||
	    snprintf(cert_path, sizeof(cert_path), "%s.tls.pem", prefix) >= (int)sizeof(cert_path) ||
	    snprintf(ca_path, sizeof(ca_path), "%s.ca.pem", prefix) >= (int)sizeof(ca_path)) {
		cli_error("the path %s is too long", prefix);
		return CLI_EXIT_FAIL;
	}
	for (i = 0; i < 3; i++) {
		if (lstat(paths[i], &st) == 0) {
			cli_error("%s already exists; refusing to overwrite it", paths[i]);
			return CLI_EXIT_FAIL;
		}
	}
	rc = ndx_key_load(sign_key, &key);
	if (rc != NDX_OK) {
		cli_error("cannot load the signing key %s: %s", sign_key,
			  rc == NDX_EIO ? "missing or unreadable" : "not an Ed25519 PEM key");
		return CLI_EXIT_FAIL;
	}
	pub_pem = ndx_key_public_pem(key);
	ndx_key_free(key);
	snprintf(cn, sizeof(cn), "%s/%s", member, code);
	if (pub_pem == NULL || ndx_pki_csr_create(cn, &tls_key, &csr) != NDX_OK) {
		cli_error("cannot create the TLS key and certificate request");
		rc = CLI_EXIT_FAIL;
		goto out;
	}
	/* The key goes to disk before the registry learns of it: a gateway
	 * registered with a certificate whose key was lost is useless. */
	if (write_new_file(key_path, tls_key, 0600) != NDX_OK) {
		rc = CLI_EXIT_FAIL;
		goto out;
	}
	rc = cli_admin_api(co, "POST", "/api/gateways",
		 json_pack("{ssssssssss}", "member", member, "code", code, "address", address,
			   "sign_public_key", pub_pem, "tls_csr", csr), &out);
	if (rc != CLI_EXIT_OK) {
		unlink(key_path);
		goto out;
	}
	cert = json_string_value(json_object_get(out, "tls_certificate"));
	ca = json_string_value(json_object_get(out, "ca_certificate"));
	fp = json_string_value(json_object_get(out, "tls_cert_sha256"));
	if (cert == NULL || ca == NULL) {
		cli_error("the registry registered the gateway but sent no certificate");
		rc = CLI_EXIT_FAIL;
		goto out;
	}
	if (write_new_file(cert_path, cert, 0644) != NDX_OK ||
	    write_new_file(ca_path, ca, 0644) != NDX_OK) {
		rc = CLI_EXIT_FAIL;
		goto out;
	}
	if (co->json)
		cli_admin_print_json(out);
	else {
		printf("registered gateway %s %s at %s", member, code, address);
		cli_admin_version_note(out);
		printf("  TLS certificate sha256 %s\n  wrote %s, %s, %s\n", fp ? fp : "-",
		       key_path, cert_path, ca_path);
	}
	rc = CLI_EXIT_OK;
out:
	json_decref(out);
	free(pub_pem);
	free_secret(tls_key);
	free(csr);
	return rc;
}

static int gateway_cmd(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "member", required_argument, NULL, 'm' },
		{ "code", required_argument, NULL, 'c' },
		{ "address", required_argument, NULL, 'a' },
		{ "sign-key", required_argument, NULL, 's' },
		{ "tls-out", required_argument, NULL, 'o' },
		COMMON_OPTS, { NULL, 0, NULL, 0 },
	};
	const char *sub = argv[0], *member = NULL, *code = NULL, *address = NULL;
	const char *sign_key = NULL, *prefix = NULL;
	int is_add = strcmp(sub, "add") == 0, c, rc;
	struct cli_admin_common co = { 0 };
	char path[PATH_BUF], wire[NDX_ID_TEXT_MAX], enc[3 * NDX_ID_PART_MAX + 1], what[PATH_BUF];

	cli_admin_start_options();
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (cli_admin_option(c, &co))
			continue;
		if (is_add && c == 'm')
			member = optarg;
		else if (is_add && c == 'c')
			code = optarg;
		else if (is_add && c == 'a')
			address = optarg;
		else if (is_add && c == 's')
			sign_key = optarg;
		else if (is_add && c == 'o')
			prefix = optarg;
		else
			return cli_bad_option(gateway_usage, argv);
	}
	if (co.help) {
		fputs(gateway_usage, stdout);
		return CLI_EXIT_OK;
	}
	if (is_add) {
		if ((rc = cli_admin_positionals(argc, argv, 0, gateway_usage, "")) != 0)
			return rc;
		if (!member || !code || !address || !sign_key || !prefix)
			return cli_usage_error(gateway_usage,
				"gateway add needs --member, --code, --address, --sign-key and --tls-out");
		return gateway_add(&co, member, code, address, sign_key, prefix);
	}
	if (strcmp(sub, "list") == 0) {
		static const struct cli_admin_column cols[] = {
			{ "MEMBER", "member" }, { "CODE", "code" }, { "ADDRESS", "address" },
			{ "SIGN KEY ID", "sign_key_id" }, { "TLS CERT SHA-256", "tls_cert_sha256" },
		};

		if ((rc = cli_admin_positionals(argc, argv, 0, gateway_usage, "")) != 0)
			return rc;
		return cli_admin_list(&co, "/api/gateways", "gateways", cols, 5);
	}
	if (strcmp(sub, "remove") == 0) {
		if ((rc = cli_admin_positionals(argc, argv, 2, gateway_usage, "MEMBER_ID and CODE")) != 0)
			return rc;
		if (cli_admin_id_wire(argv[optind], NDX_ID_MEMBER, wire, sizeof(wire)) != 0)
			return CLI_EXIT_FAIL;
		if (argv[optind + 1][0] == '\0' ||
		    ndx_pct_encode(argv[optind + 1], strlen(argv[optind + 1]), enc, sizeof(enc)) < 0) {
			cli_error("invalid gateway code '%s'", argv[optind + 1]);
			return CLI_EXIT_FAIL;
		}
		snprintf(path, sizeof(path), "/api/gateways/%s/%s", wire, enc);
		snprintf(what, sizeof(what), "gateway %s %s", argv[optind], argv[optind + 1]);
		return cli_admin_remove(&co, path, what);
	}
	return cli_usage_error(gateway_usage, "unknown gateway command '%s'", sub);
}

/* ---- revoke, audit ------------------------------------------------------- */

static const char revoke_usage[] =
	"usage: ndx revoke --kind key|certificate --value HEX --reason TEXT\n"
	"\n"
	"Revokes a gateway signing key (by key id) or a TLS certificate (by the hex\n"
	"SHA-256 of its DER); the next configuration lists it and every gateway\n"
	"refuses it from then on.\n"
	"  --kind key|certificate  what is revoked\n"
	"  --value HEX             the key id or certificate fingerprint\n"
	"  --reason TEXT           why, for the record (e.g. compromised)\n"
	COMMON_HELP;

static int revoke_cmd(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "kind", required_argument, NULL, 'k' },
		{ "value", required_argument, NULL, 'v' },
		{ "reason", required_argument, NULL, 'r' },
		COMMON_OPTS, { NULL, 0, NULL, 0 },
	};
	const char *kind = NULL, *value = NULL, *reason = NULL;
	struct cli_admin_common co = { 0 };
	json_t *out;
	int c, rc;

	cli_admin_start_options();
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (cli_admin_option(c, &co))
			continue;
		if (c == 'k')
			kind = optarg;
		else if (c == 'v')
			value = optarg;
		else if (c == 'r')
			reason = optarg;
		else
			return cli_bad_option(revoke_usage, argv);
	}
	if (co.help) {
		fputs(revoke_usage, stdout);
		return CLI_EXIT_OK;
	}
	if ((rc = cli_admin_positionals(argc, argv, 0, revoke_usage, "")) != 0)
		return rc;
	if (!kind || !value || !reason)
		return cli_usage_error(revoke_usage, "revoke needs --kind, --value and --reason");
	if (strcmp(kind, "key") != 0 && strcmp(kind, "certificate") != 0)
		return cli_usage_error(revoke_usage, "--kind must be key or certificate, not '%s'", kind);
	rc = cli_admin_api(&co, "POST", "/api/revocations",
		 json_pack("{ssssss}", "kind", kind, "value", value, "reason", reason), &out);
	if (rc != CLI_EXIT_OK)
		return rc;
	if (co.json)
		cli_admin_print_json(out);
	else {
		printf("revoked %s %s", kind, value);
		cli_admin_version_note(out);
	}
	json_decref(out);
	return CLI_EXIT_OK;
}

static const char audit_usage[] =
	"usage: ndx audit [--limit N] [--before SEQ]\n"
	"\n"
	"Shows the registry's audit trail, newest first: who changed what, when.\n"
	"  --limit N          at most N entries (default: the registry's default,\n"
	"                     100), fetched in pages of up to 1000\n"
	"  --before SEQ       only entries older than SEQ (to go on from a list)\n"
	COMMON_HELP;

/* Follows the registry's pages (GET /api/audit?before=&limit=, at most
 * AUDIT_PAGE a page) until limit entries or the oldest; *out = {"audit":
 * [...], "next": SEQ or null}, a new reference. */
#define AUDIT_PAGE 1000
static int audit_fetch(const struct cli_admin_common *co, long limit, long long before, json_t **out)
{
	json_t *all = json_array(), *page = NULL, *next = json_null();
	char path[PATH_BUF];
	int rc = CLI_EXIT_OK;

	*out = NULL;
	if (!all) {
		cli_error("out of memory");
		return CLI_EXIT_FAIL;
	}
	do {
		long want = limit - (long)json_array_size(all);

		if (want > AUDIT_PAGE)
			want = AUDIT_PAGE;
		if (before > 0)
			snprintf(path, sizeof(path), "/api/audit?limit=%ld&before=%lld", want, before);
		else
			snprintf(path, sizeof(path), "/api/audit?limit=%ld", want);
		if ((rc = cli_admin_api(co, "GET", path, NULL, &page)) != CLI_EXIT_OK)
			break;
		json_array_extend(all, json_object_get(page, "audit"));
		json_decref(next);
		next = json_incref(json_object_get(page, "next"));
		if (!next)
			next = json_null();
		before = json_is_integer(next) ? (long long)json_integer_value(next) : 0;
		json_decref(page);
		page = NULL;
	} while (before > 0 && (long)json_array_size(all) < limit);
	if (rc != CLI_EXIT_OK) {
		json_decref(all);
		json_decref(next);
		return rc;
	}
	*out = json_pack("{soso}", "audit", all, "next", next);
	return *out ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

static int audit_cmd(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "limit", required_argument, NULL, 'l' },
		{ "before", required_argument, NULL, 'b' },
		COMMON_OPTS,
		{ NULL, 0, NULL, 0 },
	};
	static const struct cli_admin_column cols[] = {
		{ "SEQ", "seq" }, { "TIME", "time" }, { "ACTOR", "actor" }, { "REMOTE", "remote" },
		{ "ACTION", "action" }, { "OBJECT", "object" }, { "DETAIL", "detail" },
	};
	struct cli_admin_common co = { 0 };
	long limit = 100;
	long long before = 0;
	json_t *out = NULL;
	char *end;
	int c, rc;

	cli_admin_start_options();
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (cli_admin_option(c, &co))
			continue;
		if (c == 'l') {
			limit = strtol(optarg, &end, 10);
			if (end == optarg || *end != '\0' || limit < 1 || limit > 1000000)
				return cli_usage_error(audit_usage,
						       "--limit must be a number from 1 to 1000000");
		} else if (c == 'b') {
			before = strtoll(optarg, &end, 10);
			if (end == optarg || *end != '\0' || before < 1)
				return cli_usage_error(audit_usage,
						       "--before must be a positive number");
		} else {
			return cli_bad_option(audit_usage, argv);
		}
	}
	if (co.help) {
		fputs(audit_usage, stdout);
		return CLI_EXIT_OK;
	}
	if ((rc = cli_admin_positionals(argc, argv, 0, audit_usage, "")) != 0)
		return rc;
	if ((rc = audit_fetch(&co, limit, before, &out)) != CLI_EXIT_OK)
		return rc;
	if (co.json) {
		cli_admin_print_json(out);
	} else {
		rc = cli_admin_print_table(json_object_get(out, "audit"), cols, 7);
		if (rc == CLI_EXIT_OK && json_is_integer(json_object_get(out, "next")))
			printf("(older entries: ndx audit --before %lld)\n",
			       (long long)json_integer_value(json_object_get(out, "next")));
	}
	json_decref(out);
	return rc;
}

/* ---- embargo ------------------------------------------------------------ */

static const char embargo_usage[] =
	"usage: ndx embargo set PURPOSE --days N | --seconds N\n"
	"       ndx embargo list\n"
	"       ndx embargo remove PURPOSE\n"
	"\n"
	"An embargo hides the exchanges made for a purpose (an investigation) from\n"
	"the citizens' access lists until the given time after each exchange; the\n"
	"message logs hold them from the first day, and each list shows them once\n"
	"their embargo has ended. The next configuration carries the change.\n"
	"  set PURPOSE          create or change the embargo of a purpose\n"
	"                       (a-z 0-9 -, e.g. investigation)\n"
	"    --days N           for N days (1 to 36525)\n"
	"    --seconds N        for N seconds (1 to 3155760000)\n"
	"  list                 list the embargoes\n"
	"  remove PURPOSE       end the embargo of a purpose: its exchanges show at once\n"
	COMMON_HELP;

/* "30 days" when whole days, else "90 s". */
static void embargo_duration(int64_t seconds, char *buf, size_t cap)
{
	if (seconds % 86400 == 0)
		snprintf(buf, cap, "%lld day%s", (long long)(seconds / 86400),
			 seconds == 86400 ? "" : "s");
	else
		snprintf(buf, cap, "%lld s", (long long)seconds);
}

/* A whole number in [1, max] from an option's text, or -1. */
int64_t cli_admin_count(const char *text, int64_t max)
{
	char *end;
	long long v;

	if (text[0] < '0' || text[0] > '9')
		return -1;
	v = strtoll(text, &end, 10);
	if (*end != '\0' || v < 1 || v > max)
		return -1;
	return (int64_t)v;
}

static int embargo_set(const struct cli_admin_common *co, const char *purpose, int64_t seconds)
{
	char path[PATH_BUF], enc[3 * 64 + 1], dur[48];
	json_t *out;
	int rc;

	if (ndx_pct_encode(purpose, strlen(purpose), enc, sizeof(enc)) < 0) {
		cli_error("the purpose '%.80s' is longer than 64 characters", purpose);
		return CLI_EXIT_FAIL;
	}
	snprintf(path, sizeof(path), "/api/embargoes/%s", enc);
	rc = cli_admin_api(co, "PUT", path, json_pack("{sI}", "seconds", (json_int_t)seconds), &out);
	if (rc != CLI_EXIT_OK)
		return rc;
	if (co->json) {
		cli_admin_print_json(out);
	} else {
		embargo_duration(seconds, dur, sizeof(dur));
		printf("embargo on purpose %s: %s after each exchange", purpose, dur);
		cli_admin_version_note(out);
	}
	json_decref(out);
	return CLI_EXIT_OK;
}

static int embargo_list(const struct cli_admin_common *co)
{
	static const struct cli_admin_column cols[] = {
		{ "PURPOSE", "purpose" }, { "HIDDEN FOR", "hidden_for" }, { "SECONDS", "seconds" },
		{ "CHANGED", "updated_at" },
	};
	const json_t *rows;
	json_t *row, *out;
	size_t i;
	int rc = cli_admin_api(co, "GET", "/api/embargoes", NULL, &out);

	if (rc != CLI_EXIT_OK)
		return rc;
	rows = json_object_get(out, "embargoes");
	if (co->json) {
		cli_admin_print_json(out);
	} else if (!json_is_array(rows)) {
		cli_error("the registry's answer has no 'embargoes' list");
		rc = CLI_EXIT_FAIL;
	} else {
		json_array_foreach(rows, i, row) {
			char dur[48];

			embargo_duration((int64_t)json_integer_value(json_object_get(row, "seconds")),
					 dur, sizeof(dur));
			json_object_set_new(row, "hidden_for", json_string(dur));
		}
		rc = cli_admin_print_table(rows, cols, 4);
	}
	json_decref(out);
	return rc;
}

static int embargo_cmd(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "days", required_argument, NULL, 'd' },
		{ "seconds", required_argument, NULL, 's' },
		COMMON_OPTS, { NULL, 0, NULL, 0 },
	};
	const char *sub = argv[0], *days = NULL, *secs = NULL;
	int is_set = strcmp(sub, "set") == 0, c, rc;
	struct cli_admin_common co = { 0 };
	char path[PATH_BUF], enc[3 * 64 + 1], what[PATH_BUF];
	int64_t seconds;

	cli_admin_start_options();
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (cli_admin_option(c, &co))
			continue;
		if (is_set && c == 'd')
			days = optarg;
		else if (is_set && c == 's')
			secs = optarg;
		else
			return cli_bad_option(embargo_usage, argv);
	}
	if (co.help) {
		fputs(embargo_usage, stdout);
		return CLI_EXIT_OK;
	}
	if (is_set) {
		if ((rc = cli_admin_positionals(argc, argv, 1, embargo_usage, "the PURPOSE")) != 0)
			return rc;
		if ((days == NULL) == (secs == NULL))
			return cli_usage_error(embargo_usage, "embargo set needs --days N or "
					       "--seconds N (one of them)");
		seconds = days ? cli_admin_count(days, NDX_CONF_EMBARGO_MAX_S / 86400)
			       : cli_admin_count(secs, NDX_CONF_EMBARGO_MAX_S);
		if (seconds < 0)
			return cli_usage_error(embargo_usage, "%s must be a whole number from 1 "
					       "to %lld", days ? "--days" : "--seconds",
					       days ? (long long)(NDX_CONF_EMBARGO_MAX_S / 86400)
						    : (long long)NDX_CONF_EMBARGO_MAX_S);
		return embargo_set(&co, argv[optind], days ? seconds * 86400 : seconds);
	}
	if (strcmp(sub, "list") == 0) {
		if ((rc = cli_admin_positionals(argc, argv, 0, embargo_usage, "")) != 0)
			return rc;
		return embargo_list(&co);
	}
	if (strcmp(sub, "remove") == 0) {
		if ((rc = cli_admin_positionals(argc, argv, 1, embargo_usage, "the PURPOSE")) != 0)
			return rc;
		if (ndx_pct_encode(argv[optind], strlen(argv[optind]), enc, sizeof(enc)) < 0) {
			cli_error("the purpose '%.80s' is longer than 64 characters", argv[optind]);
			return CLI_EXIT_FAIL;
		}
		snprintf(path, sizeof(path), "/api/embargoes/%s", enc);
		snprintf(what, sizeof(what), "the embargo on purpose %s", argv[optind]);
		return cli_admin_remove(&co, path, what);
	}
	return cli_usage_error(embargo_usage, "unknown embargo command '%s'", sub);
}

/* ---- id-provider --------------------------------------------------------- */

static const char id_provider_usage[] =
	"usage: ndx id-provider add --issuer URL --public-key FILE\n"
	"       ndx id-provider list\n"
	"       ndx id-provider remove --issuer URL\n"
	"\n"
	"Id providers are the national e-ID (ndx-id): gateways accept a citizen's ID\n"
	"token, and so open that citizen's access list, only when it is signed by\n"
	"the key registered here for the token's issuer. One key per issuer; to\n"
	"change it, remove the issuer and add it again.\n"
	"  add                  register an issuer and its signing key\n"
	"    --issuer URL       the issuer exactly as its tokens' \"iss\" says it:\n"
	"                       https://..., or http://... to a loopback address\n"
	"    --public-key FILE  its Ed25519 public key, PEM (SubjectPublicKeyInfo),\n"
	"                       e.g. id-sign.pub of ndx-id; a private key is refused\n"
	"  list                 list the id providers with their key ids\n"
	"  remove --issuer URL  stop trusting an issuer's tokens\n"
	COMMON_HELP;

static int id_provider_add(const struct cli_admin_common *co, const char *issuer, const char *file)
{
	uint8_t raw[NDX_ED25519_PUBLIC_LEN];
	struct ndx_key *key = NULL;
	json_t *out;
	char *b64;
	int rc = ndx_key_load(file, &key);

	if (rc != NDX_OK) {
		cli_error("cannot load the public key %s: %s", file,
			  rc == NDX_EINVAL ? "not an Ed25519 key in PEM form" : ndx_strerror(rc));
		return CLI_EXIT_FAIL;
	}
	if (ndx_key_has_private(key)) {
		ndx_key_free(key);
		cli_error("%s is a private key: give the id provider's public key "
			  "(e.g. id-sign.pub)", file);
		return CLI_EXIT_FAIL;
	}
	ndx_key_public_raw(key, raw);
	ndx_key_free(key);
	b64 = ndx_b64_encode(raw, sizeof(raw), 0);
	if (b64 == NULL) {
		cli_error("out of memory");
		return CLI_EXIT_FAIL;
	}
	rc = cli_admin_api(co, "POST", "/api/id-providers",
		 json_pack("{ssss}", "issuer", issuer, "sign_key", b64), &out);
	free(b64);
	if (rc != CLI_EXIT_OK)
		return rc;
	if (co->json) {
		cli_admin_print_json(out);
	} else {
		const char *kid = json_string_value(json_object_get(out, "sign_key_id"));

		printf("added id provider %s, key id %s", issuer, kid != NULL ? kid : "?");
		cli_admin_version_note(out);
	}
	json_decref(out);
	return CLI_EXIT_OK;
}

static int id_provider_cmd(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "issuer", required_argument, NULL, 'i' },
		{ "public-key", required_argument, NULL, 'k' },
		COMMON_OPTS, { NULL, 0, NULL, 0 },
	};
	const char *sub = argv[0], *issuer = NULL, *keyfile = NULL;
	int is_add = strcmp(sub, "add") == 0, c, rc;
	struct cli_admin_common co = { 0 };
	char path[PATH_BUF] = "/api/id-providers", what[PATH_BUF];

	cli_admin_start_options();
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (cli_admin_option(c, &co))
			continue;
		if (c == 'i' && strcmp(sub, "list") != 0)
			issuer = optarg;
		else if (c == 'k' && is_add)
			keyfile = optarg;
		else
			return cli_bad_option(id_provider_usage, argv);
	}
	if (co.help) {
		fputs(id_provider_usage, stdout);
		return CLI_EXIT_OK;
	}
	if ((rc = cli_admin_positionals(argc, argv, 0, id_provider_usage, "")) != 0)
		return rc;
	if (is_add) {
		if (issuer == NULL || keyfile == NULL)
			return cli_usage_error(id_provider_usage, "id-provider add needs --issuer "
					       "URL and --public-key FILE");
		return id_provider_add(&co, issuer, keyfile);
	}
	if (strcmp(sub, "list") == 0) {
		static const struct cli_admin_column cols[] = {
			{ "ISSUER", "issuer" }, { "KEY ID", "sign_key_id" }, { "CREATED", "created_at" },
		};

		return cli_admin_list(&co, path, "id_providers", cols, 3);
	}
	if (strcmp(sub, "remove") == 0) {
		if (issuer == NULL)
			return cli_usage_error(id_provider_usage, "id-provider remove needs "
					       "--issuer URL");
		if (cli_admin_add_query(path, sizeof(path), "issuer", issuer) != 0)
			return CLI_EXIT_FAIL;
		snprintf(what, sizeof(what), "id provider %s", issuer);
		return cli_admin_remove(&co, path, what);
	}
	return cli_usage_error(id_provider_usage, "unknown id-provider command '%s'", sub);
}

/* ---- dispatch ------------------------------------------------------------ */

struct group {
	const char *word;
	const char *usage;
	int (*run)(int argc, char **argv);
	/* Its subcommands, NULL-terminated; NULL for a command without any. */
	const char *const *subs;
};

static const char *const add_list_remove[] = { "add", "list", "remove", NULL };
static const char *const service_subs[] = { "add", "update", "list", "remove", NULL };
static const char *const embargo_subs[] = { "set", "list", "remove", NULL };
static const char *const monitoring_subs[] = { "show", "set", "clear", NULL };

static const struct group groups[] = {
	{ "member", member_usage, member_cmd, add_list_remove },
	{ "subsystem", subsystem_usage, subsystem_cmd, add_list_remove },
	{ "service", service_usage, service_cmd, service_subs },
	{ "grant", grant_usage, grant_cmd, add_list_remove },
	{ "gateway", gateway_usage, gateway_cmd, add_list_remove },
	{ "revoke", revoke_usage, revoke_cmd, NULL },
	{ "audit", audit_usage, audit_cmd, NULL },
	{ "embargo", embargo_usage, embargo_cmd, embargo_subs },
	{ "id-provider", id_provider_usage, id_provider_cmd, add_list_remove },
	{ "event-type", cli_event_type_usage, cli_event_type_cmd, add_list_remove },
	{ "subscription", cli_subscription_usage, cli_subscription_cmd, add_list_remove },
	{ "monitoring", cli_monitoring_usage, cli_monitoring_cmd, monitoring_subs },
};

/* "add, list or remove" for the usage errors. */
static void subs_text(const char *const *subs, char *buf, size_t cap)
{
	size_t n = 0, at = 0;

	while (subs[n] != NULL)
		n++;
	buf[0] = '\0';
	for (size_t i = 0; i < n && at < cap; i++) {
		int w = snprintf(buf + at, cap - at, "%s%s", i == 0 ? "" : i + 1 == n ? " or " : ", ",
				 subs[i]);

		if (w < 0)
			break;
		at += (size_t)w;
	}
}

int cli_is_admin_command(const char *word)
{
	size_t i;

	for (i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
		if (strcmp(groups[i].word, word) == 0)
			return 1;
	return 0;
}

int cmd_admin(int argc, char **argv)
{
	const struct group *g = NULL;
	const char *sub;
	char words[64];
	size_t i;

	for (i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
		if (strcmp(groups[i].word, argv[0]) == 0)
			g = &groups[i];
	if (g == NULL)
		return cli_usage_error("usage: ndx --help\n", "unknown command '%s'", argv[0]);
	if (g->subs == NULL)
		return g->run(argc, argv);
	subs_text(g->subs, words, sizeof(words));
	if (argc < 2)
		return cli_usage_error(g->usage, "'ndx %s' needs a command: %s", g->word, words);
	sub = argv[1];
	if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "help") == 0) {
		fputs(g->usage, stdout);
		return CLI_EXIT_OK;
	}
	for (i = 0; g->subs[i] != NULL; i++)
		if (strcmp(sub, g->subs[i]) == 0)
			return g->run(argc - 1, argv + 1);
	return cli_usage_error(g->usage, "unknown %s command '%s'", g->word, sub);
}
