/* Command word dispatch for the daemons' main() (include/ndx/cmd.h). */
#include <stdio.h>
#include <string.h>

#include "ndx/cmd.h"

int ndx_cmd_main(const char *prog, const char *version, const char *usage,
		 const struct ndx_cmd *cmds, size_t ncmds, int argc, char **argv)
{
	const char *needs_sub = NULL;

	if (argc < 2) {
		fputs(usage, stderr);
		return 2;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("%s %s\n", prog, version);
		return 0;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		fputs(usage, stdout);
		return 0;
	}
	for (size_t i = 0; i < ncmds; i++) {
		if (strcmp(argv[1], cmds[i].word) != 0)
			continue;
		if (!cmds[i].sub)
			return cmds[i].run(argc - 1, argv + 1);
		if (argc >= 3 && strcmp(argv[2], cmds[i].sub) == 0)
			return cmds[i].run(argc - 2, argv + 2);
		needs_sub = cmds[i].sub;
	}
	if (needs_sub)
		fprintf(stderr, "%s: \"%s\" needs a subcommand (%s)\n%s", prog, argv[1], needs_sub,
			usage);
	else
		fprintf(stderr, "%s: unknown command \"%s\"\n%s", prog, argv[1], usage);
	return 2;
}
