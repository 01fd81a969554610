/* The command word dispatch every ndx daemon's main() shares
 * ("ndx-registry init|serve|token ...", "ndx-id accounts import ..."):
 * --version, --help, a usage error for a missing or unknown word, and the
 * hand-off to the command's own parser, so that every binary answers the
 * same way. */
#ifndef NDX_CMD_H
#define NDX_CMD_H

#include <stddef.h>

struct ndx_cmd {
	const char *word;   /* "serve" */
	const char *sub;    /* second word ("import" of "accounts import"), or NULL */
	/* Gets the words from `word` on (or from `sub` on for a two-word
	 * command): argv[0] is the command word itself. Returns the exit code. */
	int (*run)(int argc, char **argv);
};

/* Runs the command argv names. No word: usage on stderr, 2. --version:
 * "PROG VERSION", 0. --help, -h, help: usage on stdout, 0. A word that
 * needs a second word without one, or an unknown word: a one-line message
 * and the usage on stderr, 2. */
int ndx_cmd_main(const char *prog, const char *version, const char *usage,
		 const struct ndx_cmd *cmds, size_t ncmds, int argc, char **argv);

#endif
