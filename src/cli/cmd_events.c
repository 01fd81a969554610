/* The event commands of the ndx tool: `event-type add|list|remove` registers
 * the events a provider's service publishes, each with the JSON Schema of
 * its payload, and `subscription add|list|remove` the grants that let a
 * subsystem receive them (docs/registry-api.md "Event types and
 * subscriptions", docs/protocol.md "The global configuration"). Like the
 * other admin commands (cli_admin.h) each makes one management API call and
 * prints a sentence, a table or with --json the registry's JSON. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_admin.h"
#include "ndx/conf.h"
#include "ndx/encode.h"
#include "ndx/err.h"
#include "ndx/file.h"
#include "ndx/id.h"

/* A schema file is read whole and sent as it is; the registry refuses one
 * over its own limit (64 KiB serialised) with the reason. */
#define SCHEMA_FILE_MAX (1024u * 1024u)

/* ---- event-type ------------------------------------------------------------ */

const char cli_event_type_usage[] =
	"usage: ndx event-type add --service SERVICE_ID --name NAME [--title TITLE]\n"
	"                          --schema FILE\n"
	"       ndx event-type list [--service SERVICE_ID]\n"
	"       ndx event-type remove SERVICE_ID NAME\n"
	"\n"
	"An event type is an event a provider's service publishes (a death was\n"
	"registered), with the JSON Schema every payload must satisfy. It goes into\n"
	"the signed global configuration; subscribers need a subscription to it.\n"
	"  add                 register an event type\n"
	"    --service ID      the service that publishes it (required)\n"
	"    --name NAME       1 to 64 characters from a-z 0-9 . -, the first a letter\n"
	"                      or digit, unique within the service (required)\n"
	"    --title TITLE     what the event means, for people (optional)\n"
	"    --schema FILE     a JSON Schema (draft 7) object for the payload (required);\n"
	"                      $ref only to \"#...\" inside it, at most 64 KiB\n"
	"  list                list event types, optionally of one --service\n"
	"  remove SERVICE_ID NAME\n"
	"                      remove an event type no subscription names\n"
	COMMON_HELP;

static json_t *load_schema(const char *file)
{
	char *data = NULL;
	size_t len = 0;
	json_error_t jerr;
	json_t *doc;
	int rc = ndx_file_read(file, SCHEMA_FILE_MAX, &data, &len);

	if (rc != NDX_OK) {
		cli_error("cannot read %s: %s", file,
			  rc == NDX_ETOOBIG ? "larger than 1 MiB" : "missing or unreadable");
		return NULL;
	}
	doc = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
	free(data);
	if (doc == NULL) {
		cli_error("%s is not JSON: line %d: %s", file, jerr.line, jerr.text);
	} else if (!json_is_object(doc)) {
		cli_error("%s is not a JSON object (a JSON Schema)", file);
		json_decref(doc);
		doc = NULL;
	}
	return doc;
}

static int event_type_add(const struct cli_admin_common *co, const char *service,
			  const char *name, const char *title, const char *file)
{
	json_t *schema = load_schema(file), *body, *out;
	int rc;

	if (schema == NULL)
		return CLI_EXIT_FAIL;
	body = json_pack("{ss ss ss? so}", "service", service, "name", name, "title", title,
			 "schema", schema);
	rc = cli_admin_api(co, "POST", "/api/event-types", body, &out);
	if (rc != CLI_EXIT_OK)
		return rc;
	if (co->json) {
		cli_admin_print_json(out);
	} else {
		printf("added event type %s of %s", name, service);
		cli_admin_version_note(out);
	}
	json_decref(out);
	return CLI_EXIT_OK;
}

static int event_type_remove(const struct cli_admin_common *co, const char *service,
			     const char *name)
{
	char path[PATH_BUF], wire[NDX_ID_TEXT_MAX], enc[3 * NDX_CONF_EVENT_NAME_MAX + 1];
	char what[PATH_BUF];

	if (cli_admin_id_wire(service, NDX_ID_SERVICE, wire, sizeof(wire)) != 0)
		return CLI_EXIT_FAIL;
	if (!ndx_conf_event_name_ok(name) ||
	    ndx_pct_encode(name, strlen(name), enc, sizeof(enc)) < 0) {
		cli_error("invalid event type name '%.80s': 1 to 64 characters from a-z 0-9 . -",
			  name);
		return CLI_EXIT_FAIL;
	}
	snprintf(path, sizeof(path), "/api/event-types/%s/%s", wire, enc);
	snprintf(what, sizeof(what), "event type %s of %s", name, service);
	return cli_admin_remove(co, path, what);
}

int cli_event_type_cmd(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "service", required_argument, NULL, 's' },
		{ "name", required_argument, NULL, 'n' },
		{ "title", required_argument, NULL, 't' },
		{ "schema", required_argument, NULL, 'S' },
		COMMON_OPTS, { NULL, 0, NULL, 0 },
	};
	static const struct cli_admin_column cols[] = {
		{ "SERVICE", "service" }, { "NAME", "name" }, { "TITLE", "title" },
		{ "CREATED", "created_at" },
	};
	const char *sub = argv[0], *service = NULL, *name = NULL, *title = NULL, *schema = NULL;
	int is_add = strcmp(sub, "add") == 0, is_list = strcmp(sub, "list") == 0, c, rc;
	struct cli_admin_common co = { 0 };
	char path[PATH_BUF];

	cli_admin_start_options();
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (cli_admin_option(c, &co))
			continue;
		if ((is_add || is_list) && c == 's')
			service = optarg;
		else if (is_add && c == 'n')
			name = optarg;
		else if (is_add && c == 't')
			title = optarg;
		else if (is_add && c == 'S')
			schema = optarg;
		else
			return cli_bad_option(cli_event_type_usage, argv);
	}
	if (co.help) {
		fputs(cli_event_type_usage, stdout);
		return CLI_EXIT_OK;
	}
	if (is_add) {
		if ((rc = cli_admin_positionals(argc, argv, 0, cli_event_type_usage, "")) != 0)
			return rc;
		if (service == NULL || name == NULL || schema == NULL)
			return cli_usage_error(cli_event_type_usage,
					       "event-type add needs --service, --name and --schema");
		return event_type_add(&co, service, name, title, schema);
	}
	if (is_list) {
		if ((rc = cli_admin_positionals(argc, argv, 0, cli_event_type_usage, "")) != 0)
			return rc;
		snprintf(path, sizeof(path), "/api/event-types");
		if (cli_admin_add_query(path, sizeof(path), "service", service) != 0)
			return CLI_EXIT_FAIL;
		return cli_admin_list(&co, path, "event_types", cols, 4);
	}
	if (strcmp(sub, "remove") == 0) {
		if ((rc = cli_admin_positionals(argc, argv, 2, cli_event_type_usage,
						"SERVICE_ID and NAME")) != 0)
			return rc;
		return event_type_remove(&co, argv[optind], argv[optind + 1]);
	}
	return cli_usage_error(cli_event_type_usage, "unknown event-type command '%s'", sub);
}

/* ---- subscription ------------------------------------------------------------ */

const char cli_subscription_usage[] =
	"usage: ndx subscription add --client SUBSYSTEM_ID --service SERVICE_ID\n"
	"                            --event NAME [--purpose P]\n"
	"                            [--retry-first S] [--retry-max S] [--give-up-after S]\n"
	"       ndx subscription list [--client ID] [--service ID]\n"
	"       ndx subscription remove N\n"
	"\n"
	"A subscription lets a client subsystem receive an event type of a service;\n"
	"without one no gateway delivers the event to it.\n"
	"  add                 create a subscription\n"
	"    --client ID       the receiving subsystem (required; not a member)\n"
	"    --service ID      the service whose event it is (required)\n"
	"    --event NAME      the event type's name (required)\n"
	"    --purpose P       required when the service returns personal data, and\n"
	"                      then one of its purposes; not allowed otherwise\n"
	"    --retry-first S   seconds before the first retry of a failed delivery\n"
	"                      (default 1)\n"
	"    --retry-max S     longest wait between retries (the wait grows up to it)\n"
	"                      (default 300; first <= max <= 86400)\n"
	"    --give-up-after S seconds after which an undelivered event goes to the\n"
	"                      dead-letter list (default 86400; max <= S <= 2592000)\n"
	"  list                list subscriptions, optionally by --client/--service\n"
	"  remove N            remove subscription number N\n"
	COMMON_HELP;

/* "1/300/86400" for the table. */
static void retry_text(json_t *row)
{
	const json_t *r = json_object_get(row, "retry");
	char buf[96];

	snprintf(buf, sizeof(buf), "%lld/%lld/%lld",
		 (long long)json_integer_value(json_object_get(r, "first_s")),
		 (long long)json_integer_value(json_object_get(r, "max_s")),
		 (long long)json_integer_value(json_object_get(r, "give_up_after_s")));
	json_object_set_new(row, "retry_text", json_string(buf));
}

static int subscription_list(const struct cli_admin_common *co, const char *client,
			     const char *service)
{
	static const struct cli_admin_column cols[] = {
		{ "ID", "id" }, { "CLIENT", "client" }, { "SERVICE", "service" },
		{ "EVENT", "event" }, { "PURPOSE", "purpose" },
		{ "RETRY FIRST/MAX/GIVE-UP (S)", "retry_text" },
	};
	char path[PATH_BUF] = "/api/subscriptions";
	const json_t *rows;
	json_t *row, *out;
	size_t i;
	int rc;

	if (cli_admin_add_query(path, sizeof(path), "client", client) != 0 ||
	    cli_admin_add_query(path, sizeof(path), "service", service) != 0)
		return CLI_EXIT_FAIL;
	if ((rc = cli_admin_api(co, "GET", path, NULL, &out)) != CLI_EXIT_OK)
		return rc;
	rows = json_object_get(out, "subscriptions");
	if (co->json) {
		cli_admin_print_json(out);
	} else if (!json_is_array(rows)) {
		cli_error("the registry's answer has no 'subscriptions' list");
		rc = CLI_EXIT_FAIL;
	} else {
		json_array_foreach(rows, i, row)
			retry_text(row);
		rc = cli_admin_print_table(rows, cols, 6);
	}
	json_decref(out);
	return rc;
}

struct sub_args {
	const char *client, *service, *event, *purpose;
	int64_t retry[3]; /* first, max, give up; 0 = the registry's default */
};

static int subscription_add(const struct cli_admin_common *co, const struct sub_args *a)
{
	static const char *const keys[] = { "first_s", "max_s", "give_up_after_s" };
	json_t *body, *retry = json_object(), *out;
	int rc;

	for (int i = 0; retry != NULL && i < 3; i++)
		if (a->retry[i] > 0)
			json_object_set_new(retry, keys[i], json_integer((json_int_t)a->retry[i]));
	body = json_pack("{ss ss ss ss?}", "client", a->client, "service", a->service, "event",
			 a->event, "purpose", a->purpose);
	if (body != NULL && json_object_size(retry) > 0)
		json_object_set(body, "retry", retry);
	json_decref(retry);
	rc = cli_admin_api(co, "POST", "/api/subscriptions", body, &out);
	if (rc != CLI_EXIT_OK)
		return rc;
	if (co->json) {
		cli_admin_print_json(out);
	} else {
		printf("added subscription %lld: %s <- %s of %s",
		       (long long)json_integer_value(json_object_get(out, "id")), a->client,
		       a->event, a->service);
		cli_admin_version_note(out);
	}
	json_decref(out);
	return CLI_EXIT_OK;
}

int cli_subscription_cmd(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "client", required_argument, NULL, 'c' },
		{ "service", required_argument, NULL, 's' },
		{ "event", required_argument, NULL, 'e' },
		{ "purpose", required_argument, NULL, 'p' },
		{ "retry-first", required_argument, NULL, '1' },
		{ "retry-max", required_argument, NULL, '2' },
		{ "give-up-after", required_argument, NULL, '3' },
		COMMON_OPTS, { NULL, 0, NULL, 0 },
	};
	static const char *const retry_opt[] = { "--retry-first", "--retry-max",
						 "--give-up-after" };
	const char *sub = argv[0];
	int is_add = strcmp(sub, "add") == 0, is_list = strcmp(sub, "list") == 0, c, rc;
	struct cli_admin_common co = { 0 };
	struct sub_args a = { 0 };
	char path[PATH_BUF], what[64];

	cli_admin_start_options();
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (cli_admin_option(c, &co))
			continue;
		if ((is_add || is_list) && c == 'c')
			a.client = optarg;
		else if ((is_add || is_list) && c == 's')
			a.service = optarg;
		else if (is_add && c == 'e')
			a.event = optarg;
		else if (is_add && c == 'p')
			a.purpose = optarg;
		else if (is_add && c >= '1' && c <= '3') {
			a.retry[c - '1'] = cli_admin_count(optarg, NDX_CONF_GIVE_UP_LIMIT_S);
			if (a.retry[c - '1'] < 0)
				return cli_usage_error(cli_subscription_usage,
						       "%s needs a whole number of seconds from 1 "
						       "to %lld, not '%s'", retry_opt[c - '1'],
						       (long long)NDX_CONF_GIVE_UP_LIMIT_S, optarg);
		} else {
			return cli_bad_option(cli_subscription_usage, argv);
		}
	}
	if (co.help) {
		fputs(cli_subscription_usage, stdout);
		return CLI_EXIT_OK;
	}
	if (is_add) {
		if ((rc = cli_admin_positionals(argc, argv, 0, cli_subscription_usage, "")) != 0)
			return rc;
		if (a.client == NULL || a.service == NULL || a.event == NULL)
			return cli_usage_error(cli_subscription_usage, "subscription add needs "
					       "--client, --service and --event");
		return subscription_add(&co, &a);
	}
	if (is_list) {
		if ((rc = cli_admin_positionals(argc, argv, 0, cli_subscription_usage, "")) != 0)
			return rc;
		return subscription_list(&co, a.client, a.service);
	}
	if (strcmp(sub, "remove") == 0) {
		int64_t n;

		if ((rc = cli_admin_positionals(argc, argv, 1, cli_subscription_usage,
						"the subscription number N")) != 0)
			return rc;
		n = cli_admin_count(argv[optind], (int64_t)1e15);
		if (n < 0)
			return cli_usage_error(cli_subscription_usage, "the subscription number "
					       "must be a positive integer, not '%s'", argv[optind]);
		snprintf(path, sizeof(path), "/api/subscriptions/%lld", (long long)n);
		snprintf(what, sizeof(what), "subscription %lld", (long long)n);
		return cli_admin_remove(&co, path, what);
	}
	return cli_usage_error(cli_subscription_usage, "unknown subscription command '%s'", sub);
}
