/* `ndx monitoring show|set|clear`: the operator's monitoring subsystem, the
 * one client that may read every gateway's operational records (the global
 * configuration's monitoring.client; docs/registry-api.md "The monitoring
 * client"). A member's own clients read its own gateways' records without
 * it. One management API call each, like the other admin commands. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_admin.h"
#include "ndx/id.h"

const char cli_monitoring_usage[] =
	"usage: ndx monitoring show\n"
	"       ndx monitoring set CLIENT_ID\n"
	"       ndx monitoring clear\n"
	"\n"
	"The monitoring client is the operator's monitoring subsystem: the one client\n"
	"that may read the operational records of every gateway, through the\n"
	"exchange. Each member's own subsystems read its own gateways' records\n"
	"without it. The next configuration carries the change.\n"
	"  show                 print the monitoring client, or that none is set\n"
	"  set CLIENT_ID        make subsystem CLIENT_ID (e.g. VN/GOV/BTTTT/monitoring)\n"
	"                       the monitoring client; it must be registered\n"
	"  clear                name no monitoring client\n"
	COMMON_HELP;

static int monitoring_show(const struct cli_admin_common *co)
{
	json_t *out;
	const char *client;
	int rc = cli_admin_api(co, "GET", "/api/monitoring", NULL, &out);

	if (rc != CLI_EXIT_OK)
		return rc;
	client = json_string_value(json_object_get(out, "client"));
	if (co->json)
		cli_admin_print_json(out);
	else if (client)
		printf("monitoring client: %s\n", client);
	else
		printf("no monitoring client is set\n");
	json_decref(out);
	return CLI_EXIT_OK;
}

static int monitoring_set(const struct cli_admin_common *co, const char *client)
{
	char wire[NDX_ID_TEXT_MAX];
	json_t *out;
	int rc;

	/* Checked here for a clear message; the registry checks it again. */
	if (cli_admin_id_wire(client, NDX_ID_SUBSYSTEM, wire, sizeof wire) != 0)
		return CLI_EXIT_USAGE;
	rc = cli_admin_api(co, "PUT", "/api/monitoring", json_pack("{ss}", "client", client), &out);
	if (rc != CLI_EXIT_OK)
		return rc;
	if (co->json) {
		cli_admin_print_json(out);
	} else {
		printf("monitoring client: %s", client);
		cli_admin_version_note(out);
	}
	json_decref(out);
	return CLI_EXIT_OK;
}

int cli_monitoring_cmd(int argc, char **argv)
{
	static const struct option opts[] = { COMMON_OPTS, { NULL, 0, NULL, 0 } };
	const char *sub = argv[0];
	struct cli_admin_common co = { 0 };
	int c, rc;

	cli_admin_start_options();
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1)
		if (!cli_admin_option(c, &co))
			return cli_bad_option(cli_monitoring_usage, argv);
	if (co.help) {
		fputs(cli_monitoring_usage, stdout);
		return CLI_EXIT_OK;
	}
	if (strcmp(sub, "show") == 0) {
		if ((rc = cli_admin_positionals(argc, argv, 0, cli_monitoring_usage, "")) != 0)
			return rc;
		return monitoring_show(&co);
	}
	if (strcmp(sub, "set") == 0) {
		if ((rc = cli_admin_positionals(argc, argv, 1, cli_monitoring_usage,
						"the CLIENT_ID")) != 0)
			return rc;
		return monitoring_set(&co, argv[optind]);
	}
	if (strcmp(sub, "clear") == 0) {
		if ((rc = cli_admin_positionals(argc, argv, 0, cli_monitoring_usage, "")) != 0)
			return rc;
		return cli_admin_remove(&co, "/api/monitoring", "the monitoring client");
	}
	return cli_usage_error(cli_monitoring_usage, "unknown monitoring command '%s'", sub);
}
