/* The signature object gateways put in Ndx-Signature and
 * Ndx-Response-Signature (docs/protocol.md "Signature object"): an Ed25519
 * signature over the RFC 6962 root of a batch of message hashes, plus the
 * message's audit path in that batch. A batch of one is the low-load case. */
#ifndef NDX_MSGSIG_H
#define NDX_MSGSIG_H

#include <stddef.h>
#include <stdint.h>

#include "ndx/hash.h"
#include "ndx/key.h"
#include "ndx/merkle.h"

#define NDX_MSGSIG_ALG "Ed25519-batch"
/* Longest signature object text a parser accepts. */
#define NDX_MSGSIG_MAX_TEXT 8192

/* Signs n message hashes as one batch with one Ed25519 signature, and
 * returns one malloc'd compact JSON signature object per hash in out[i]
 * (caller frees each). On failure returns NDX_ENOMEM / NDX_ECRYPTO /
 * NDX_EINVAL (n = 0) and sets every out[i] to NULL. */
int ndx_msgsig_sign_batch(const struct ndx_key *key, const uint8_t (*hashes)[NDX_SHA256_LEN],
			  size_t n, char **out);

/* Signs one hash (a batch of one). Returns the object or NULL. */
char *ndx_msgsig_sign(const struct ndx_key *key, const uint8_t hash[NDX_SHA256_LEN]);

/* Parsed signature object, for callers that cache verified roots. */
struct ndx_msgsig {
	char key_id[NDX_KEY_ID_HEX_LEN + 1];
	uint64_t tree_size;
	uint64_t leaf_index;
	size_t path_len;
	uint8_t path[NDX_MERKLE_MAX_PATH][NDX_SHA256_LEN];
	uint8_t root_signature[NDX_ED25519_SIG_LEN];
};

/* Parses text[0..len) (at most NDX_MSGSIG_MAX_TEXT bytes). NDX_EINVAL with
 * a reason in err for anything malformed: wrong alg, bad base64, index out
 * of range, a path longer than the tree allows. */
int ndx_msgsig_parse(const char *text, size_t len, struct ndx_msgsig *out,
		     char *err, size_t errcap);

/* Verifies that sig covers hash under key: the key id must match (else
 * NDX_ENOTFOUND), the path must lead to a root whose
 * signature verifies (else NDX_EBADSIG). When root_out is not NULL the
 * verified root is written there (for a cache of verified roots). */
int ndx_msgsig_verify(const struct ndx_msgsig *sig, const struct ndx_key *key,
		      const uint8_t hash[NDX_SHA256_LEN], uint8_t root_out[NDX_SHA256_LEN]);

#endif
