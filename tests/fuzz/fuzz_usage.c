/* libFuzzer target for usage statements (include/ndx/usage.h): what `ndx
 * market check-statement` and `invoice` run on a statement the other party
 * hands over — the parser, then every self-check with the fixed key the
 * seed statement was signed with. Answers must be documented codes with
 * their sentence, and a statement that parses must come back the same
 * (same statement hash) through its JSON. How to run: tests/fuzz/README.md. */
#include <string.h>

#include "fuzz.h"
#include "ndx/usage.h"

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
	size_t cap = 1 + size % 331;
	char *text = fuzz_strndup(data, size), *msg = malloc(cap), *again;
	struct ndx_usage *u = NULL, *back = NULL;
	uint8_t h1[NDX_SHA256_LEN], h2[NDX_SHA256_LEN];
	int rc;

	FUZZ_CHECK(msg != NULL);
	msg[0] = 'x';
	/* A failure writes its sentence, cut to any capacity; a success may
	 * leave msg as it was. */
	rc = ndx_usage_parse(text, size, &u, msg, cap);
	FUZZ_CHECK(rc == NDX_OK || rc == NDX_EINVAL || rc == NDX_ETOOBIG || rc == NDX_ENOMEM);
	if (rc == NDX_OK) {
		msg[0] = 'x';
		rc = ndx_usage_check(u, key, msg, cap);
		FUZZ_CHECK(rc == NDX_OK || rc == NDX_EBADSIG);
		FUZZ_CHECK(rc == NDX_OK || (strnlen(msg, cap) < cap && (cap == 1 || msg[0] != '\0')));
		again = ndx_usage_to_json(u);
		FUZZ_CHECK(again != NULL);
		FUZZ_CHECK(ndx_usage_parse(again, strlen(again), &back, msg, cap) == NDX_OK);
		ndx_usage_hash(u, h1);
		ndx_usage_hash(back, h2);
		FUZZ_CHECK(memcmp(h1, h2, sizeof h1) == 0);
		free(again);
	} else {
		FUZZ_CHECK(u == NULL && strnlen(msg, cap) < cap && (cap == 1 || msg[0] != '\0'));
	}
	ndx_usage_free(u);
	ndx_usage_free(back);
	free(msg);
	free(text);
	return 0;
}
