/* `ndx report`: the six-monthly report of the resolution's indicators
 * (docs/indicators.md "The six-monthly report"), a thin hand-over to the
 * monitoring service's own command: `ndx report ARGS` runs
 * `ndx-monitor report ARGS` in place of this process (execv), so that the
 * options, the messages and the exit codes are ndx-monitor's and exist in
 * one place. ndx-monitor is found as every sibling binary is
 * (cli_find_binary: $NDX_BIN_DIR, beside ndx, or the build tree). */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

int cmd_report(int argc, char **argv)
{
	char path[PATH_MAX];
	char **args;

	if (cli_find_binary("ndx-monitor", path, sizeof path) != 0)
		return CLI_EXIT_FAIL;
	/* ndx-monitor, "report", then the words after it, then NULL */
	if (!(args = calloc((size_t)argc + 2, sizeof *args))) {
		cli_error("out of memory");
		return CLI_EXIT_FAIL;
	}
	args[0] = path;
	for (int i = 0; i < argc; i++)
		args[i + 1] = argv[i];
	execv(path, args);
	cli_error("cannot run %s: %s", path, strerror(errno));
	free(args);
	return CLI_EXIT_FAIL;
}
