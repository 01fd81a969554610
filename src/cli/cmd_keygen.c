/* `ndx keygen --out PREFIX`: a new Ed25519 signing key, the private half as
 * PKCS#8 PEM in PREFIX.key (mode 0600, never overwritten) and the public half
 * as PREFIX.pub; prints the key id (docs/protocol.md "Signatures"). */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "ndx/err.h"
#include "ndx/key.h"

static const char usage[] =
	"usage: ndx keygen --out PREFIX\n"
	"\n"
	"Creates a new Ed25519 signing key: PREFIX.key (private, PKCS#8 PEM, mode\n"
	"0600; an existing file is never overwritten) and PREFIX.pub (public PEM).\n"
	"Prints the key id (hex SHA-256 of the raw public key) on stdout.\n"
	"\n"
	"  --out PREFIX   where to write the two files\n"
	"  --help         show this help\n";

int cmd_keygen(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char key_path[PATH_MAX], pub_path[PATH_MAX], id[NDX_KEY_ID_HEX_LEN + 1];
	const char *prefix = NULL;
	struct ndx_key *key = NULL;
	struct stat st;
	int c, rc, n;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o': prefix = optarg; break;
		case 'h': fputs(usage, stdout); return CLI_EXIT_OK;
		default: return cli_bad_option(usage, argv);
		}
	}
	if (optind < argc)
		return cli_usage_error(usage, "unexpected argument '%s'", argv[optind]);
	if (prefix == NULL || prefix[0] == '\0')
		return cli_usage_error(usage, "--out PREFIX is required");
	n = snprintf(key_path, sizeof(key_path), "%s.key", prefix);
	if (n < 0 || (size_t)n >= sizeof(key_path) ||
	    snprintf(pub_path, sizeof(pub_path), "%s.pub", prefix) >= (int)sizeof(pub_path)) {
		cli_error("the path %s is too long", prefix);
		return CLI_EXIT_FAIL;
	}
	/* Checked before generating so that a refusal leaves PREFIX.pub alone. */
	if (lstat(key_path, &st) == 0) {
		cli_error("%s already exists; refusing to overwrite a private key", key_path);
		return CLI_EXIT_FAIL;
	}
	rc = ndx_key_generate(&key);
	if (rc != NDX_OK) {
		cli_error("cannot generate a key: %s", ndx_strerror(rc));
		return CLI_EXIT_FAIL;
	}
	rc = ndx_key_save_private(key, key_path);
	if (rc != NDX_OK) {
		cli_error("cannot write %s: %s", key_path,
			  rc == NDX_EEXIST ? "it already exists; refusing to overwrite a private key"
					   : ndx_strerror(rc));
		ndx_key_free(key);
		return CLI_EXIT_FAIL;
	}
	rc = ndx_key_save_public(key, pub_path);
	if (rc != NDX_OK) {
		cli_error("cannot write %s: %s", pub_path, ndx_strerror(rc));
		/* A private key without its public file is still usable, but a
		 * half-done keygen is confusing: take the private key back. */
		unlink(key_path);
		ndx_key_free(key);
		return CLI_EXIT_FAIL;
	}
	ndx_key_id(key, id);
	ndx_key_free(key);
	printf("%s\n", id);
	return CLI_EXIT_OK;
}
