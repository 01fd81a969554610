/* The ndx command-line tool's entry point: reads the first word, hands the
 * rest of the command line to the command family that owns it (cmd_*.c), and
 * holds the few helpers they share for messages and for finding sibling
 * binaries. Exit codes: 0 success, 1 failure (one "ndx: ..." line on
 * stderr), 2 a command line that could not be understood (usage on stderr). */
#include <curl/curl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char usage_text[] =
	"usage: ndx <command> [arguments]\n"
	"\n"
	"Keys:\n"
	"  keygen      create an Ed25519 signing key pair (PREFIX.key, PREFIX.pub)\n"
	"\n"
	"Registry administration (need an admin token):\n"
	"  member      add, list or remove members (agencies, enterprises)\n"
	"  subsystem   add, list or remove subsystems of a member\n"
	"  service     add, update, list or remove services of a subsystem\n"
	"  grant       add, list or remove access grants (client -> service)\n"
	"  gateway     register (with a TLS certificate), list or remove gateways\n"
	"  revoke      revoke a signing key or a TLS certificate\n"
	"  audit       show the registry's audit trail\n"
	"  embargo     set, list or remove embargoes on purposes (investigations)\n"
	"  id-provider add, list or remove the e-ID issuers whose tokens gateways trust\n"
	"  consent-service  register, list or remove consent services\n"
	"  event-type  add, list or remove the event types of services (live data)\n"
	"  subscription add, list or remove subscriptions to event types\n"
	"  monitoring  show, set or clear the operator's monitoring client\n"
	"  federation  apply a federation file to the registry, or export it as one\n"
	"\n"
	"Operations centre:\n"
	"  report      the six-monthly report of the resolution's indicators as a PDF\n"
	"              (ndx-monitor report --data DIR --period 2026-H2 --out FILE.pdf)\n"
	"\n"
	"Consent (needs the consent service's token):\n"
	"  consent     grant, list or revoke a citizen's consents\n"
	"Transparency (through a consumer gateway):\n"
	"  subject     subject accesses PIN: who read a citizen's data\n"
	"\n"
	"Global configuration:\n"
	"  conf        fetch the signed configuration, or verify a saved copy\n"
	"\n"
	"Message log:\n"
	"  log         verify a gateway's message log, prove a record, check a proof, archive\n"
	"  market      a signed usage statement of an agreement from a gateway's log; check one;\n"
	"              sign a negotiation message, check a signed negotiation\n"
	"\n"
	"Demo federation:\n"
	"  demo        bring a local demo federation up, down, run it in the foreground, or sign\n"
	"              a demo citizen in for an ID token (id-token)\n"
	"  testservice a diagnostic provider system that answers with what it received\n"
	"\n"
	"Run 'ndx <command> --help' for the arguments of a command.\n"
	"Admin commands read --registry URL (default $NDX_REGISTRY, else\n"
	"http://127.0.0.1:4400) and --token-file FILE (default $NDX_TOKEN_FILE),\n"
	"or the token itself from $NDX_ADMIN_TOKEN.\n";

void cli_error(const char *fmt, ...)
{
	va_list ap;

	fputs("ndx: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_usage_error(const char *usage, const char *fmt, ...)
{
	va_list ap;

	fputs("ndx: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fputs(usage, stderr);
	return CLI_EXIT_USAGE;
}

int cli_bad_option(const char *usage, char **argv)
{
	const char *word = optind > 0 ? argv[optind - 1] : "";

	if (optopt != 0 && word != NULL && word[0] == '-' && word[1] != '-')
		return cli_usage_error(usage, "unknown option or missing value: -%c", optopt);
	return cli_usage_error(usage, "unknown option or missing value: %s", word ? word : "");
}

int cli_one_positional(const char *usage, int argc, char **argv, const char **file)
{
	if (optind < argc)
		*file = argv[optind++];
	if (optind < argc)
		return cli_usage_error(usage, "unexpected argument '%s'", argv[optind]);
	return CLI_EXIT_OK;
}

void cli_self_path(char *buf, size_t cap)
{
	ssize_t n = readlink("/proc/self/exe", buf, cap - 1);

	if (n <= 0 || (size_t)n >= cap - 1) {
		snprintf(buf, cap, "ndx");
		return;
	}
	buf[n] = '\0';
}

static int is_executable(const char *path)
{
	return access(path, X_OK) == 0;
}

int cli_find_binary(const char *name, char *buf, size_t cap)
{
	char self[PATH_MAX], *slash;
	const char *env = getenv("NDX_BIN_DIR");
	const char *sub = strncmp(name, "ndx-", 4) == 0 ? name + 4 : name;
	int n;

	if (env != NULL && env[0] != '\0') {
		n = snprintf(buf, cap, "%s/%s", env, name);
		if (n > 0 && (size_t)n < cap && is_executable(buf))
			return 0;
	}
	cli_self_path(self, sizeof(self));
	slash = strrchr(self, '/');
	if (slash != NULL) {
		*slash = '\0';
		n = snprintf(buf, cap, "%s/%s", self, name);
		if (n > 0 && (size_t)n < cap && is_executable(buf))
			return 0;
		/* The meson build tree: src/cli/ndx beside src/registry/ndx-registry. */
		n = snprintf(buf, cap, "%s/../%s/%s", self, sub, name);
		if (n > 0 && (size_t)n < cap && is_executable(buf))
			return 0;
	}
	cli_error("cannot find the %s binary next to %s (set NDX_BIN_DIR to its directory)",
		  name, slash ? self : "ndx");
	return -1;
}

int main(int argc, char **argv)
{
	const char *cmd;
	int rc;

	if (argc < 2)
		return cli_usage_error(usage_text, "no command given");
	cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
		fputs(usage_text, stdout);
		return CLI_EXIT_OK;
	}
	if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
		puts("ndx 0.1.0");
		return CLI_EXIT_OK;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		cli_error("cannot initialise libcurl");
		return CLI_EXIT_FAIL;
	}
	if (strcmp(cmd, "keygen") == 0)
		rc = cmd_keygen(argc - 1, argv + 1);
	else if (cli_is_admin_command(cmd))
		rc = cmd_admin(argc - 1, argv + 1);
	else if (strcmp(cmd, "consent-service") == 0)
		rc = cmd_consent_service(argc - 1, argv + 1);
	else if (strcmp(cmd, "consent") == 0)
		rc = cmd_consent(argc - 1, argv + 1);
	else if (strcmp(cmd, "subject") == 0)
		rc = cmd_subject(argc - 1, argv + 1);
	else if (strcmp(cmd, "federation") == 0)
		rc = cmd_federation(argc - 1, argv + 1);
	else if (strcmp(cmd, "conf") == 0)
		rc = cmd_conf(argc - 1, argv + 1);
	else if (strcmp(cmd, "demo") == 0)
		rc = cmd_demo(argc - 1, argv + 1);
	else if (strcmp(cmd, "report") == 0)
		rc = cmd_report(argc - 1, argv + 1);
	else if (strcmp(cmd, "log") == 0)
		rc = cmd_log(argc - 1, argv + 1);
	else if (strcmp(cmd, "market") == 0)
		rc = cmd_market(argc - 1, argv + 1);
	else if (strcmp(cmd, "testservice") == 0)
		rc = cmd_testservice(argc - 1, argv + 1);
	else
		rc = cli_usage_error(usage_text, "unknown command '%s'", cmd);
	curl_global_cleanup();
	return rc;
}
