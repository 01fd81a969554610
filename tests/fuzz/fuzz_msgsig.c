/* libFuzzer target for the batch signature object of include/ndx/msgsig.h:
 * ndx_msgsig_parse, and for every object it accepts ndx_msgsig_verify with
 * the fixed key and message hash of the seeds. Verification must return a
 * documented code, and one that succeeds must fail for any other hash. How
 * to run: tests/fuzz/README.md. */
#include <string.h>

#include "fuzz.h"
#include "ndx/msgsig.h"

#define ERR_CAP 256

static struct ndx_key *key;
static uint8_t hash[NDX_SHA256_LEN];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	key = fuzz_key();
	fuzz_message_hash(hash);
	return 0;
}

static bool lower_hex(const char *s, size_t n)
{
	if (strnlen(s, n + 1) != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_strndup(data, size);
	char *err = malloc(ERR_CAP);
	struct ndx_msgsig *sig = malloc(sizeof *sig);
	uint8_t root[NDX_SHA256_LEN], other[NDX_SHA256_LEN];
	int rc;

	FUZZ_CHECK(err != NULL && sig != NULL);
	rc = ndx_msgsig_parse(text, size, sig, err, ERR_CAP);
	FUZZ_CHECK(strnlen(err, ERR_CAP) < ERR_CAP);
	if (rc != NDX_OK) {
		FUZZ_CHECK(rc == NDX_EINVAL && err[0] != '\0');
		goto out;
	}
	FUZZ_CHECK(size <= NDX_MSGSIG_MAX_TEXT);
	FUZZ_CHECK(lower_hex(sig->key_id, NDX_KEY_ID_HEX_LEN));
	FUZZ_CHECK(sig->tree_size >= 1 && sig->leaf_index < sig->tree_size);
	FUZZ_CHECK(sig->path_len <= NDX_MERKLE_MAX_PATH);

	rc = ndx_msgsig_verify(sig, key, hash, root);
	/* A parsed object is well-formed, so never NDX_EINVAL here. */
	FUZZ_CHECK(rc == NDX_OK || rc == NDX_ENOTFOUND || rc == NDX_EBADSIG);
	if (rc == NDX_OK) {
		memcpy(other, hash, sizeof other);
		other[0] ^= 0x80;
		FUZZ_CHECK(ndx_msgsig_verify(sig, key, other, NULL) == NDX_EBADSIG);
		FUZZ_CHECK(ndx_msgsig_verify(sig, key, hash, NULL) == NDX_OK);
	}
out:
	free(sig);
	free(err);
	free(text);
	return 0;
}
