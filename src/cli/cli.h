/* Shared declarations of the ndx command-line tool: the entry point of each
 * command family (main.c dispatches to them), the exit-code convention and the
 * few helpers every command uses for messages and for finding its sibling
 * binaries. Overview: docs/registry-api.md (admin commands), docs/protocol.md
 * (conf fetch/verify). */
#ifndef NDX_CLI_H
#define NDX_CLI_H

#include <stddef.h>
#include <stdint.h>

/* Exit codes: success, a failure the user can read about on stderr, and a
 * command line that could not be understood (usage printed on stderr). */
enum cli_exit {
	CLI_EXIT_OK = 0,
	CLI_EXIT_FAIL = 1,
	CLI_EXIT_USAGE = 2,
};

/* Each cmd_* takes the words after "ndx" (argv[0] is the command word
 * itself) and returns an enum cli_exit. They print their own messages. */
int cmd_keygen(int argc, char **argv);
/* member, subsystem, service, grant, gateway, revoke, audit, embargo,
 * id-provider, event-type, subscription. */
int cmd_admin(int argc, char **argv);
int cmd_conf(int argc, char **argv);
/* federation apply|export: the federation as a file (cmd_federation.c). */
int cmd_federation(int argc, char **argv);
int cmd_demo(int argc, char **argv);
/* `ndx report`: runs `ndx-monitor report` in its place (cmd_report.c). */
int cmd_report(int argc, char **argv);
/* `ndx demo traffic` (cmd_demo_traffic.c); argv[0] is "traffic". */
int cli_demo_traffic(int argc, char **argv);
/* log verify, prove, check-proof, archive (cmd_log.c). */
int cmd_log(int argc, char **argv);
/* market statement, check-statement: usage statements (cmd_market.c). */
int cmd_market(int argc, char **argv);
/* market connector: the member's DSP connector at its gateway
 * (cmd_market_connector.c); argv[0] is "connector". */
int cli_market_connector(int argc, char **argv);
/* testservice: the diagnostic provider system (cmd_testservice.c). */
int cmd_testservice(int argc, char **argv);

/* consent-service add|list|remove (registry) and consent grant|list|revoke
 * (a consent service), in cmd_consent.c. */
int cmd_consent_service(int argc, char **argv);
int cmd_consent(int argc, char **argv);

/* subject accesses: who read a citizen's data (cmd_subject.c). */
int cmd_subject(int argc, char **argv);

/* True when cmd_admin handles this command word. */
int cli_is_admin_command(const char *word);

/* Prints "ndx: <message>" and a newline on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "ndx: <message>", then usage, on stderr; returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *usage, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Describes the option getopt_long just refused (argv[optind - 1] / optopt)
 * in a usage error; returns CLI_EXIT_USAGE. */
int cli_bad_option(const char *usage, char **argv);

/* After a getopt_long loop: the one positional argument (GNU getopt has
 * moved it after the options), if any, into *file; a second one is a usage
 * error (returned). CLI_EXIT_OK otherwise. */
int cli_one_positional(const char *usage, int argc, char **argv, const char **file);
/* Finds the ndx binary `name` (e.g. "ndx-registry"): $NDX_BIN_DIR/name,
 * then next to this executable (readlink /proc/self/exe), then in the build
 * tree layout (../registry/ndx-registry beside src/cli/ndx). Writes the path
 * into buf; returns 0, or -1 with a message on stderr when none exists. */
int cli_find_binary(const char *name, char *buf, size_t cap);
/* This executable's absolute path into buf (falls back to "ndx"). */
void cli_self_path(char *buf, size_t cap);

/* Fetches URL/conf, verifies it against the anchor file at the current time
 * and only then saves it into out_dir (conf.json + conf.sig). Prints a
 * summary on stdout unless quiet. On success stores the version in *version
 * (when not NULL) and returns CLI_EXIT_OK; otherwise prints one "ndx: ..."
 * line, writes nothing and returns CLI_EXIT_FAIL. */
int cli_conf_fetch(const char *registry_url, const char *anchor_path,
		   const char *out_dir, int quiet, uint64_t *version);
/* The same from several nodes of one registry, asked in turn (none given:
 * $NDX_REGISTRY, else every node the anchor lists). */
int cli_conf_fetch_nodes(const char *const *registry_urls, size_t n_urls,
			 const char *anchor_path, const char *out_dir, int quiet,
			 uint64_t *version);

#endif
