/* libFuzzer target for the round trip of include/ndx/msgsig.h: a batch of
 * 1..64 message hashes (count and hash bytes from the input) is signed with
 * ndx_msgsig_sign_batch, and every object it returns must parse with
 * ndx_msgsig_parse, name its own leaf, verify for its own hash, lead to the
 * same root as merkle.c's ndx_merkle_root over the batch (the two tree
 * builders must agree), and fail for a different hash. How to run:
 * tests/fuzz/README.md. */
#include <string.h>

#include "fuzz.h"
#include "ndx/merkle.h"
#include "ndx/msgsig.h"

#define MAX_BATCH 64

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
	uint8_t (*hashes)[NDX_SHA256_LEN], (*leaves)[NDX_SHA256_LEN];
	uint8_t want[NDX_SHA256_LEN], root[NDX_SHA256_LEN];
	char kid[NDX_KEY_ID_HEX_LEN + 1], err[256], **objs;
	struct ndx_msgsig *sig;
	size_t n;

	if (size == 0)
		return 0;
	n = 1 + data[0] % MAX_BATCH;
	hashes = calloc(n, NDX_SHA256_LEN);
	leaves = calloc(n, NDX_SHA256_LEN);
	objs = calloc(n, sizeof *objs);
	sig = malloc(sizeof *sig);
	FUZZ_CHECK(hashes != NULL && leaves != NULL && objs != NULL && sig != NULL);
	/* The rest of the input, repeated, spells the hashes; equal hashes
	 * in one batch are allowed and must work too. */
	for (size_t i = 0; i < n * NDX_SHA256_LEN && size > 1; i++)
		hashes[i / NDX_SHA256_LEN][i % NDX_SHA256_LEN] = data[1 + i % (size - 1)];
	for (size_t i = 0; i < n; i++)
		ndx_merkle_leaf(hashes[i], NDX_SHA256_LEN, leaves[i]);
	FUZZ_CHECK(ndx_merkle_root((const uint8_t (*)[NDX_SHA256_LEN])leaves, n, want) == NDX_OK);
	ndx_key_id(key, kid);

	FUZZ_CHECK(ndx_msgsig_sign_batch(key, (const uint8_t (*)[NDX_SHA256_LEN])hashes, n,
					 objs) == NDX_OK);
	for (size_t i = 0; i < n; i++) {
		FUZZ_CHECK(objs[i] != NULL);
		FUZZ_CHECK(ndx_msgsig_parse(objs[i], strlen(objs[i]), sig, err, sizeof err) == NDX_OK);
		FUZZ_CHECK(strcmp(sig->key_id, kid) == 0);
		FUZZ_CHECK(sig->tree_size == n && sig->leaf_index == i);
		FUZZ_CHECK(ndx_msgsig_verify(sig, key, hashes[i], root) == NDX_OK);
		FUZZ_CHECK(memcmp(root, want, sizeof root) == 0);
		if (memcmp(hashes[i], hashes[(i + 1) % n], NDX_SHA256_LEN) != 0)
			FUZZ_CHECK(ndx_msgsig_verify(sig, key, hashes[(i + 1) % n], NULL) ==
				   NDX_EBADSIG);
		free(objs[i]);
	}
	free(sig);
	free(objs);
	free(leaves);
	free(hashes);
	return 0;
}
