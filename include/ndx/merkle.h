/* Merkle trees hashed as RFC 6962 section 2.1 (leaf = SHA-256(0x00 || data),
 * node = SHA-256(0x01 || left || right), the tree over n leaves split at the
 * largest power of two smaller than n): roots, audit paths and their
 * verification. Used by batch signing (docs/protocol.md "Signature object")
 * and the message log. */
#ifndef NDX_MERKLE_H
#define NDX_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#include "ndx/hash.h"

/* An audit path of a tree of up to 2^64 leaves has at most 64 entries. */
#define NDX_MERKLE_MAX_PATH 64

/* leaf = SHA-256(0x00 || data) */
void ndx_merkle_leaf(const void *data, size_t len, uint8_t out[NDX_SHA256_LEN]);
/* node = SHA-256(0x01 || left || right) */
void ndx_merkle_node(const uint8_t left[NDX_SHA256_LEN], const uint8_t right[NDX_SHA256_LEN],
		     uint8_t out[NDX_SHA256_LEN]);

/* Root over n leaf hashes (already leaf-hashed). n = 0 gives SHA-256 of the
 * empty string, as RFC 6962 defines. Returns NDX_OK or NDX_ENOMEM. */
int ndx_merkle_root(const uint8_t (*leaves)[NDX_SHA256_LEN], size_t n,
		    uint8_t out[NDX_SHA256_LEN]);

/* Audit path (RFC 6962 2.1.1) of leaf `index` in the tree over n leaf
 * hashes: writes up to NDX_MERKLE_MAX_PATH hashes into path and their
 * number into *path_len. NDX_EINVAL when index >= n. */
int ndx_merkle_audit_path(const uint8_t (*leaves)[NDX_SHA256_LEN], size_t n, size_t index,
			  uint8_t path[][NDX_SHA256_LEN], size_t *path_len);

/* Computes into out the root that an audit path leads to from a leaf hash
 * (RFC 9162 section 2.1.3.2), for callers that check a signature over that
 * root. NDX_EINVAL when index >= size or the path has the wrong length for
 * (index, size). */
int ndx_merkle_root_from_path(const uint8_t leaf[NDX_SHA256_LEN], uint64_t index, uint64_t size,
			      const uint8_t path[][NDX_SHA256_LEN], size_t path_len,
			      uint8_t out[NDX_SHA256_LEN]);

/* Recomputes the root from a leaf hash, its index, the tree size and an
 * audit path (RFC 9162 section 2.1.3.2 algorithm). Returns NDX_OK when it
 * equals root, NDX_EBADSIG when it does not, NDX_EINVAL when index >= size
 * or the path has the wrong length for (index, size). */
int ndx_merkle_verify(const uint8_t leaf[NDX_SHA256_LEN], uint64_t index, uint64_t size,
		      const uint8_t path[][NDX_SHA256_LEN], size_t path_len,
		      const uint8_t root[NDX_SHA256_LEN]);

#endif
