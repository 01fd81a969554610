/* What the registry administration commands share (cmd_admin.c defines
 * it; cmd_events.c uses it too): the common options (--registry,
 * --token-file, --json, --help), one management API call, and the ways an
 * answer is printed (a sentence with the configuration version, an aligned
 * table, or the registry's JSON escaped for the terminal). Overview:
 * docs/registry-api.md. */
#ifndef NDX_CLI_ADMIN_H
#define NDX_CLI_ADMIN_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "ndx/id.h"

#define PATH_BUF 2048

#define COMMON_HELP \
	"\nCommon options:\n" \
	"  --registry URL     registry base URL (default $NDX_REGISTRY, else\n" \
	"                     http://127.0.0.1:4400)\n" \
	"  --token-file FILE  file holding the admin token (default $NDX_TOKEN_FILE;\n" \
	"                     otherwise the token is taken from $NDX_ADMIN_TOKEN)\n" \
	"  --json             print the registry's JSON answer instead of text\n" \
	"  --help             show this help\n"

/* The getopt_long entries of the common options (cli_admin_option reads
 * them). */
#define COMMON_OPTS \
	{ "registry", required_argument, NULL, 'R' }, \
	{ "token-file", required_argument, NULL, 'T' }, \
	{ "json", no_argument, NULL, 'J' }, \
	{ "help", no_argument, NULL, 'h' }

struct cli_admin_common {
	const char *registry;
	const char *token_file;
	int json;
	int help;
};

/* A table column: its title and the field of each row it shows. */
struct cli_admin_column {
	const char *title;
	const char *key;
};

/* Returns 1 when c (from getopt_long) was one of the common options. */
int cli_admin_option(int c, struct cli_admin_common *co);
/* Resets getopt for a new parse, errors reported by the caller. */
void cli_admin_start_options(void);
/* Prints doc indented, with controls and bidirectional overrides escaped. */
void cli_admin_print_json(const json_t *doc);
/* Prints rows (an array of objects) as an aligned table of at most 16
 * columns, each cell escaped; "(none)" when empty. Returns a cli_exit. */
int cli_admin_print_table(const json_t *rows, const struct cli_admin_column *cols,
			  size_t ncols);
/* One call to the management API; body is stolen (may be NULL; NULL for
 * POST or PUT means json_pack failed on text that is not UTF-8). *out is
 * the answer (caller releases). Prints the failure; returns a cli_exit. */
int cli_admin_api(const struct cli_admin_common *co, const char *method, const char *path,
		  json_t *body, json_t **out);
/* The wire form (each part percent-encoded) of an id of kind into buf;
 * 0, or -1 after printing why. */
int cli_admin_id_wire(const char *text, enum ndx_id_kind kind, char *buf, size_t cap);
/* Appends "?name=value" or "&name=value" (value percent-encoded) to path
 * when value is not NULL; 0, or -1 after printing why. */
int cli_admin_add_query(char *path, size_t cap, const char *name, const char *value);
/* Prints " (configuration version N)" from an answer, and a newline. */
void cli_admin_version_note(const json_t *out);
/* GET path, then a table of its array field (or --json). */
int cli_admin_list(const struct cli_admin_common *co, const char *path, const char *field,
		   const struct cli_admin_column *cols, size_t ncols);
/* DELETE path, then "removed WHAT". */
int cli_admin_remove(const struct cli_admin_common *co, const char *path, const char *what);
/* Exactly `want` positional arguments after the options; 0 or a usage
 * error (CLI_EXIT_USAGE) naming `names`. */
int cli_admin_positionals(int argc, char **argv, int want, const char *usage,
			  const char *names);
/* A whole number in [1, max] from an option's text, or -1. */
int64_t cli_admin_count(const char *text, int64_t max);

/* event-type and subscription (cmd_events.c): argv[0] is the subcommand
 * (add, list, remove); they return a cli_exit. */
extern const char cli_event_type_usage[];
extern const char cli_subscription_usage[];
int cli_event_type_cmd(int argc, char **argv);
int cli_subscription_cmd(int argc, char **argv);
/* monitoring (cmd_monitoring.c): argv[0] is show, set or clear. */
extern const char cli_monitoring_usage[];
int cli_monitoring_cmd(int argc, char **argv);

#endif
