/* Merkle trees as RFC 6962 section 2.1 defines them: leaf and node hashes
 * with distinct prefixes (0x00, 0x01) so that no leaf can pass for a node,
 * the root over n leaves split at the largest power of two below n, audit
 * paths built by the recursive PATH(m, D[n]) of section 2.1.1, and their
 * verification by the bit algorithm of RFC 9162 section 2.1.3.2. Nothing
 * here allocates on the heap except leaf hashes of data over 256 bytes: a
 * root is computed with a stack of at most 64 perfect subtrees, which is
 * why ndx_merkle_root never actually returns NDX_ENOMEM. Used by the
 * signature object (docs/protocol.md "Signature object"). */
#include "ndx/merkle.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ndx/err.h"

/* Leaves of at most this size are hashed from one stack buffer. */
#define LEAF_INLINE_MAX 256

void ndx_merkle_leaf(const void *data, size_t len, uint8_t out[NDX_SHA256_LEN])
{
	uint8_t buf[1 + LEAF_INLINE_MAX];
	struct ndx_sha256 *ctx;

	assert(data != NULL || len == 0);
	buf[0] = 0x00;
	if (len <= LEAF_INLINE_MAX) {
		if (len > 0)
			memcpy(buf + 1, data, len);
		ndx_sha256(buf, 1 + len, out);
		return;
	}
	/* Like hash.c, a digest that cannot be computed stops the process
	 * rather than return a wrong one: there is no error to report. */
	ctx = ndx_sha256_new();
	if (ctx == NULL) {
		fputs("ndx: out of memory hashing a Merkle leaf\n", stderr);
		abort();
	}
	ndx_sha256_update(ctx, buf, 1);
	ndx_sha256_update(ctx, data, len);
	ndx_sha256_final(ctx, out);
	ndx_sha256_free(ctx);
}

void ndx_merkle_node(const uint8_t left[NDX_SHA256_LEN], const uint8_t right[NDX_SHA256_LEN],
		     uint8_t out[NDX_SHA256_LEN])
{
	uint8_t buf[1 + 2 * NDX_SHA256_LEN];

	buf[0] = 0x01;
	memcpy(buf + 1, left, NDX_SHA256_LEN);
	memcpy(buf + 1 + NDX_SHA256_LEN, right, NDX_SHA256_LEN);
	ndx_sha256(buf, sizeof buf, out);
}

/* MTH(D[0:n]) for n >= 1. Leaves are pushed onto a stack of perfect
 * subtrees, merging the top two whenever they have equal size (the binary
 * counter of n); what remains are subtrees of strictly decreasing size,
 * one per set bit of n, and folding them from the right gives exactly the
 * RFC 6962 split at the largest power of two. */
static void mth(const uint8_t (*leaves)[NDX_SHA256_LEN], size_t n, uint8_t out[NDX_SHA256_LEN])
{
	uint8_t stack[NDX_MERKLE_MAX_PATH + 1][NDX_SHA256_LEN];
	size_t top = 0;

	assert(n >= 1);
	for (size_t i = 0; i < n; i++) {
		memcpy(stack[top++], leaves[i], NDX_SHA256_LEN);
		for (size_t count = i + 1; (count & 1) == 0; count >>= 1) {
			ndx_merkle_node(stack[top - 2], stack[top - 1], stack[top - 2]);
			top--;
		}
	}
	while (top > 1) {
		ndx_merkle_node(stack[top - 2], stack[top - 1], stack[top - 2]);
		top--;
	}
	memcpy(out, stack[0], NDX_SHA256_LEN);
}

int ndx_merkle_root(const uint8_t (*leaves)[NDX_SHA256_LEN], size_t n,
		    uint8_t out[NDX_SHA256_LEN])
{
	assert(leaves != NULL || n == 0);
	if (n == 0)
		ndx_sha256("", 0, out);
	else
		mth(leaves, n, out);
	return NDX_OK;
}

/* The largest power of two strictly below n (n >= 2), written so that it
 * cannot overflow for n near SIZE_MAX. */
static size_t split_point(size_t n)
{
	size_t k = 1;

	while (k < n - k)
		k <<= 1;
	return k;
}

int ndx_merkle_audit_path(const uint8_t (*leaves)[NDX_SHA256_LEN], size_t n, size_t index,
			  uint8_t path[][NDX_SHA256_LEN], size_t *path_len)
{
	size_t lo = 0, hi = n, len = 0;

	assert(path != NULL && path_len != NULL);
	*path_len = 0;
	if (index >= n)
		return NDX_EINVAL;
	assert(leaves != NULL);
	/* Walking down from the root collects the siblings top first; RFC
	 * 6962 lists them leaf first, so they are reversed at the end. */
	while (hi - lo > 1) {
		size_t k = split_point(hi - lo);

		assert(len < NDX_MERKLE_MAX_PATH);
		if (index - lo < k) {
			mth(leaves + lo + k, hi - lo - k, path[len++]);
			hi = lo + k;
		} else {
			mth(leaves + lo, k, path[len++]);
			lo += k;
		}
	}
	for (size_t i = 0; i < len / 2; i++) {
		uint8_t tmp[NDX_SHA256_LEN];

		memcpy(tmp, path[i], NDX_SHA256_LEN);
		memcpy(path[i], path[len - 1 - i], NDX_SHA256_LEN);
		memcpy(path[len - 1 - i], tmp, NDX_SHA256_LEN);
	}
	*path_len = len;
	return NDX_OK;
}

/* RFC 9162 section 2.1.3.2 with the path length checked before any hashing,
 * so that a malformed proof is told apart (NDX_EINVAL) from one that merely
 * leads to another root. */
int ndx_merkle_root_from_path(const uint8_t leaf[NDX_SHA256_LEN], uint64_t index, uint64_t size,
		     const uint8_t path[][NDX_SHA256_LEN], size_t path_len,
		     uint8_t out[NDX_SHA256_LEN])
{
	uint64_t fn = index, sn;
	size_t want = 0;

	if (index >= size || path_len > NDX_MERKLE_MAX_PATH)
		return NDX_EINVAL;
	/* The same walk as below without hashing: one path entry per step
	 * until sn reaches 0. */
	for (fn = index, sn = size - 1; sn != 0; fn >>= 1, sn >>= 1) {
		if ((fn & 1) == 0 && fn == sn) {
			while ((fn & 1) == 0 && fn != 0) {
				fn >>= 1;
				sn >>= 1;
			}
		}
		want++;
	}
	if (want != path_len)
		return NDX_EINVAL;

	memcpy(out, leaf, NDX_SHA256_LEN);
	fn = index;
	sn = size - 1;
	for (size_t i = 0; i < path_len; i++) {
		if ((fn & 1) != 0 || fn == sn) {
			ndx_merkle_node(path[i], out, out);
			while ((fn & 1) == 0 && fn != 0) {
				fn >>= 1;
				sn >>= 1;
			}
		} else {
			ndx_merkle_node(out, path[i], out);
		}
		fn >>= 1;
		sn >>= 1;
	}
	assert(sn == 0);
	return NDX_OK;
}

int ndx_merkle_verify(const uint8_t leaf[NDX_SHA256_LEN], uint64_t index, uint64_t size,
		      const uint8_t path[][NDX_SHA256_LEN], size_t path_len,
		      const uint8_t root[NDX_SHA256_LEN])
{
	uint8_t got[NDX_SHA256_LEN];
	int rc;

	assert(leaf != NULL && root != NULL && (path != NULL || path_len == 0));
	rc = ndx_merkle_root_from_path(leaf, index, size, path, path_len, got);
	if (rc != NDX_OK)
		return rc;
	/* Both roots are public; a plain comparison leaks nothing. */
	return memcmp(got, root, NDX_SHA256_LEN) == 0 ? NDX_OK : NDX_EBADSIG;
}
