/* Applying a federation file (docs/federation-file.md) to a registry, for
 * `ndx federation apply` and for `ndx demo up`, which brings its federation
 * up from deploy/demo/federation.json the same way. cmd_federation.c
 * defines it. */
#ifndef NDX_CLI_FEDERATION_APPLY_H
#define NDX_CLI_FEDERATION_APPLY_H

#include <stddef.h>
#include <stdio.h>

#include "client.h"

/* Largest federation file read (the demo's, OpenAPI documents and all, is
 * about 600 kB). */
#define FED_FILE_MAX (64u * 1024u * 1024u)

/* Checks text[0..len), read from file (the name errors give, with the
 * line), as a whole, then makes the registry behind api match it: one
 * audited management API call a change. Each change's line goes to report
 * (NULL: nothing is printed but errors). dry_run: the plan is printed to
 * report and nothing changes. *changes (may be NULL) is the number of
 * changes made. Returns a cli_exit: CLI_EXIT_USAGE for a file refused as a
 * whole (nothing applied), CLI_EXIT_FAIL when the registry refused or could
 * not be reached (the changes before that one stay made). */
int fed_apply_text(const struct cli_api *api, const char *file, const char *text, size_t len,
		   int dry_run, FILE *report, size_t *changes);

#endif
