/* libFuzzer target for the offline inclusion-proof checker of
 * include/ndx/msglog.h (ndx_msglog_check_proof, what `ndx log check-proof`
 * runs on a proof someone hands over) with the fixed key the seed proofs
 * were made with. The answer must be a documented code with its sentence
 * in msg, whatever the capacity of msg. How to run: tests/fuzz/README.md. */
#include <string.h>

#include "fuzz.h"
#include "ndx/msglog.h"

static struct ndx_key *key;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	key = fuzz_key();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The message buffer's capacity varies with the input so that
	 * truncation at every length is tried; heap-allocated to size. */
	size_t cap = 1 + size % 331;
	char *text = fuzz_strndup(data, size);
	char *msg = malloc(cap);
	int rc;

	FUZZ_CHECK(msg != NULL);
	msg[0] = 'x';
	rc = ndx_msglog_check_proof(text, size, key, msg, cap);
	FUZZ_CHECK(rc == NDX_OK || rc == NDX_EINVAL || rc == NDX_EBADSIG);
	FUZZ_CHECK(strnlen(msg, cap) < cap);
	FUZZ_CHECK(cap == 1 || msg[0] != '\0');
	free(msg);
	free(text);
	return 0;
}
