/* Unit tests for include/ndx/merkle.h: the Certificate Transparency /
 * trillian RFC 6962 vectors (the eight leaf inputs of CT's merkle tests,
 * the roots of the trees over their first 0..8, the inclusion proofs of
 * transparency-dev/merkle proof/verify_test.go), a straight recursive
 * MTH written here from the RFC text compared with the library for sizes
 * 0..70, and every (index, size) up to 20 taken round trip through
 * verification, with each kind of corrupted proof refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ndx/encode.h"
#include "ndx/err.h"
#include "ndx/hash.h"
#include "ndx/merkle.h"

typedef uint8_t hash_t[NDX_SHA256_LEN];

/* google/certificate-transparency cpp/merkletree/merkle_tree_test.cc and
 * trillian / transparency-dev/merkle testonly/constants.go LeafInputs(). */
static const struct {
	const char *data;
	size_t len;
} ct_leaves[8] = {
	{ "", 0 },
	{ "\x00", 1 },
	{ "\x10", 1 },
	{ "\x20\x21", 2 },
	{ "\x30\x31", 2 },
	{ "\x40\x41\x42\x43", 4 },
	{ "\x50\x51\x52\x53\x54\x55\x56\x57", 8 },
	{ "\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f", 16 },
};

/* MTH(D[0:n]) for n = 0..8: testonly/constants.go RootHashes() (the same
 * values as CT's kSHA256Roots); n = 0 is SHA-256 of the empty string. */
static const char *const ct_roots[9] = {
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
	"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
	"aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
	"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
	"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
	"76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
	"ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
	"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

/* transparency-dev/merkle proof/verify_test.go inclusionProofs (there with
 * 1-based leaf numbers; here 0-based indices), also in AOSP avb's
 * libavb_aftl tests, which take them from trillian's log_verifier_test.go. */
static const struct {
	size_t index, size, len;
	const char *path[3];
} ct_proofs[] = {
	{ 0, 1, 0, { NULL } },
	{ 0, 8, 3,
	  { "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
	    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
	    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4" } },
	{ 5, 8, 3,
	  { "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
	    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
	    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7" } },
	{ 2, 3, 1,
	  { "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125" } },
	{ 1, 5, 3,
	  { "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
	    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
	    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b" } },
};

static void unhex(const char *hex, uint8_t out[NDX_SHA256_LEN])
{
	assert_int_equal(ndx_hex_decode(hex, strlen(hex), out, NDX_SHA256_LEN), NDX_OK);
}

static void assert_hex(const uint8_t d[NDX_SHA256_LEN], const char *want)
{
	char hex[2 * NDX_SHA256_LEN + 1];

	ndx_hex_encode(d, NDX_SHA256_LEN, hex);
	assert_string_equal(hex, want);
}

static void ct_leaf_hashes(hash_t out[8])
{
	for (size_t i = 0; i < 8; i++)
		ndx_merkle_leaf(ct_leaves[i].data, ct_leaves[i].len, out[i]);
}

/* MTH of RFC 6962 section 2.1, transcribed without cleverness. */
static void ref_mth(const hash_t *leaves, size_t n, uint8_t out[NDX_SHA256_LEN])
{
	uint8_t left[NDX_SHA256_LEN], right[NDX_SHA256_LEN];
	size_t k = 1;

	if (n == 0) {
		ndx_sha256("", 0, out);
		return;
	}
	if (n == 1) {
		memcpy(out, leaves[0], NDX_SHA256_LEN);
		return;
	}
	while (2 * k < n)
		k *= 2;
	ref_mth(leaves, k, left);
	ref_mth(leaves + k, n - k, right);
	ndx_merkle_node(left, right, out);
}

static void test_leaf_and_node(void **state)
{
	uint8_t h[NDX_SHA256_LEN], a[NDX_SHA256_LEN], b[NDX_SHA256_LEN], buf[65];
	uint8_t *big = malloc(1000);

	(void)state;
	assert_non_null(big);
	/* RFC 6962 leaf hash of the empty input (trillian's rfc6962 tests). */
	ndx_merkle_leaf("", 0, h);
	assert_hex(h, "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
	ndx_merkle_leaf(NULL, 0, h);
	assert_hex(h, "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
	/* transparency-dev/merkle rfc6962_test.go: HashLeaf("L123456"). */
	ndx_merkle_leaf("L123456", 7, h);
	assert_hex(h, "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56");

	/* Leaves past the inline buffer take the incremental path. */
	for (size_t len = 250; len < 270; len++) {
		big[0] = 0x00;
		for (size_t i = 0; i < len; i++)
			big[1 + i] = (uint8_t)(i * 13 + len);
		ndx_sha256(big, len + 1, a);
		ndx_merkle_leaf(big + 1, len, b);
		assert_memory_equal(a, b, NDX_SHA256_LEN);
	}

	memset(a, 0xaa, sizeof a);
	memset(b, 0x55, sizeof b);
	buf[0] = 0x01;
	memcpy(buf + 1, a, 32);
	memcpy(buf + 33, b, 32);
	ndx_sha256(buf, sizeof buf, h);
	ndx_merkle_node(a, b, a);	/* out may alias an input */
	assert_memory_equal(a, h, NDX_SHA256_LEN);
	free(big);
}

static void test_ct_roots(void **state)
{
	hash_t leaves[8];
	uint8_t root[NDX_SHA256_LEN];

	(void)state;
	ct_leaf_hashes(leaves);
	for (size_t n = 0; n <= 8; n++) {
		assert_int_equal(ndx_merkle_root(leaves, n, root), NDX_OK);
		assert_hex(root, ct_roots[n]);
	}
	assert_int_equal(ndx_merkle_root(NULL, 0, root), NDX_OK);
	assert_hex(root, ct_roots[0]);
}

static void test_ct_inclusion_proofs(void **state)
{
	hash_t leaves[8], path[NDX_MERKLE_MAX_PATH], want[3];
	uint8_t root[NDX_SHA256_LEN];
	size_t len;

	(void)state;
	ct_leaf_hashes(leaves);
	for (size_t c = 0; c < sizeof ct_proofs / sizeof ct_proofs[0]; c++) {
		size_t i = ct_proofs[c].index, n = ct_proofs[c].size;

		for (size_t j = 0; j < ct_proofs[c].len; j++)
			unhex(ct_proofs[c].path[j], want[j]);
		assert_int_equal(ndx_merkle_audit_path(leaves, n, i, path, &len), NDX_OK);
		assert_int_equal(len, ct_proofs[c].len);
		for (size_t j = 0; j < len; j++)
			assert_memory_equal(path[j], want[j], NDX_SHA256_LEN);
		unhex(ct_roots[n], root);
		assert_int_equal(ndx_merkle_verify(leaves[i], i, n, want, len, root), NDX_OK);
	}
}

static void test_root_matches_reference(void **state)
{
	hash_t leaves[70];
	uint8_t a[NDX_SHA256_LEN], b[NDX_SHA256_LEN];

	(void)state;
	for (size_t i = 0; i < 70; i++) {
		uint8_t data[2] = { (uint8_t)i, (uint8_t)(i * 7) };

		ndx_merkle_leaf(data, sizeof data, leaves[i]);
	}
	for (size_t n = 0; n <= 70; n++) {
		ref_mth(leaves, n, a);
		assert_int_equal(ndx_merkle_root(leaves, n, b), NDX_OK);
		assert_memory_equal(a, b, NDX_SHA256_LEN);
	}
}

/* Every way of damaging the proof of leaf i in the tree over leaves[0:n]. */
static void check_corruptions(const hash_t *leaves, size_t n, size_t i, const hash_t *path,
			      size_t len, const uint8_t root[NDX_SHA256_LEN])
{
	hash_t bad[NDX_MERKLE_MAX_PATH + 1];
	uint8_t leaf[NDX_SHA256_LEN], r[NDX_SHA256_LEN];

	memcpy(bad, path, len * sizeof *path);
	for (size_t j = 0; j < len; j++) {
		for (int bit = 0; bit < 256; bit += 37) {
			bad[j][bit / 8] ^= (uint8_t)(1u << (bit % 8));
			assert_int_equal(ndx_merkle_verify(leaves[i], i, n, bad, len, root),
					 NDX_EBADSIG);
			bad[j][bit / 8] ^= (uint8_t)(1u << (bit % 8));
		}
	}
	memcpy(leaf, leaves[i], sizeof leaf);
	leaf[31] ^= 0x01;
	assert_int_equal(ndx_merkle_verify(leaf, i, n, path, len, root), NDX_EBADSIG);
	memcpy(r, root, sizeof r);
	r[0] ^= 0x80;
	assert_int_equal(ndx_merkle_verify(leaves[i], i, n, path, len, r), NDX_EBADSIG);
	/* Another leaf of the tree does not pass with i's path. */
	for (size_t j = 0; j < n; j++) {
		if (j != i)
			assert_int_equal(ndx_merkle_verify(leaves[j], i, n, path, len, root),
					 NDX_EBADSIG);
	}
	/* Claiming another position fails, as malformed or as a wrong root. */
	for (size_t j = 0; j < n; j++) {
		if (j != i)
			assert_int_not_equal(ndx_merkle_verify(leaves[i], j, n, path, len, root),
					     NDX_OK);
	}
	/* Claiming another tree size fails against the root of that size. */
	for (size_t m = i + 1; m <= 21; m++) {
		uint8_t other[NDX_SHA256_LEN];

		if (m == n)
			continue;
		assert_int_equal(ndx_merkle_root(leaves, m, other), NDX_OK);
		assert_int_not_equal(ndx_merkle_verify(leaves[i], i, m, path, len, other), NDX_OK);
	}
	if (len > 0)
		assert_int_equal(ndx_merkle_verify(leaves[i], i, n, path, len - 1, root),
				 NDX_EINVAL);
	memcpy(bad[len], root, NDX_SHA256_LEN);
	assert_int_equal(ndx_merkle_verify(leaves[i], i, n, bad, len + 1, root), NDX_EINVAL);
	assert_int_equal(ndx_merkle_verify(leaves[i], n, n, path, len, root), NDX_EINVAL);
	assert_int_equal(ndx_merkle_verify(leaves[i], n + 5, n, path, len, root), NDX_EINVAL);
}

static void test_round_trip_all(void **state)
{
	hash_t leaves[21], path[NDX_MERKLE_MAX_PATH];
	uint8_t root[NDX_SHA256_LEN];
	size_t len;

	(void)state;
	for (size_t i = 0; i < 21; i++) {
		char data[16];
		int l = snprintf(data, sizeof data, "leaf %zu", i);

		ndx_merkle_leaf(data, (size_t)l, leaves[i]);
	}
	for (size_t n = 1; n <= 20; n++) {
		size_t depth = 0;

		while (((size_t)1 << depth) < n)
			depth++;
		assert_int_equal(ndx_merkle_root(leaves, n, root), NDX_OK);
		for (size_t i = 0; i < n; i++) {
			assert_int_equal(ndx_merkle_audit_path(leaves, n, i, path, &len), NDX_OK);
			/* No leaf is deeper than ceil(log2 n); only a tree of
			 * one has a leaf at the root. */
			assert_true(len <= depth && (len >= 1 || n == 1));
			assert_int_equal(ndx_merkle_verify(leaves[i], i, n, path, len, root),
					 NDX_OK);
			check_corruptions(leaves, n, i, path, len, root);
		}
		len = 99;
		assert_int_equal(ndx_merkle_audit_path(leaves, n, n, path, &len), NDX_EINVAL);
		assert_int_equal(len, 0);
	}
}

static void test_edges(void **state)
{
	hash_t leaves[1], path[NDX_MERKLE_MAX_PATH + 1];
	uint8_t root[NDX_SHA256_LEN];
	size_t len = 7;

	(void)state;
	memset(path, 0, sizeof path);
	assert_int_equal(ndx_merkle_audit_path(NULL, 0, 0, path, &len), NDX_EINVAL);
	assert_int_equal(len, 0);
	ndx_merkle_leaf("x", 1, leaves[0]);
	assert_int_equal(ndx_merkle_audit_path(leaves, 1, 0, path, &len), NDX_OK);
	assert_int_equal(len, 0);
	/* A tree of one: the root is the leaf hash itself. */
	assert_int_equal(ndx_merkle_root(leaves, 1, root), NDX_OK);
	assert_memory_equal(root, leaves[0], NDX_SHA256_LEN);
	assert_int_equal(ndx_merkle_verify(leaves[0], 0, 1, NULL, 0, root), NDX_OK);
	assert_int_equal(ndx_merkle_verify(leaves[0], 0, 0, NULL, 0, root), NDX_EINVAL);
	assert_int_equal(ndx_merkle_verify(leaves[0], UINT64_MAX, UINT64_MAX, path, 64, root),
			 NDX_EINVAL);
	/* The largest trees: 64 entries for the last leaf of 2^64-1 leaves is
	 * the right length (so the root merely differs), 65 never is. */
	assert_int_equal(ndx_merkle_verify(leaves[0], UINT64_MAX - 1, UINT64_MAX, path, 63, root),
			 NDX_EBADSIG);
	assert_int_equal(ndx_merkle_verify(leaves[0], 0, UINT64_MAX, path, 64, root),
			 NDX_EBADSIG);
	assert_int_equal(ndx_merkle_verify(leaves[0], 0, UINT64_MAX, path, 65, root),
			 NDX_EINVAL);
	assert_int_equal(ndx_merkle_verify(leaves[0], 0, (uint64_t)1 << 32, path, 32, root),
			 NDX_EBADSIG);
	assert_int_equal(ndx_merkle_verify(leaves[0], 0, (uint64_t)1 << 32, path, 31, root),
			 NDX_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_leaf_and_node),
		cmocka_unit_test(test_ct_roots),
		cmocka_unit_test(test_ct_inclusion_proofs),
		cmocka_unit_test(test_root_matches_reference),
		cmocka_unit_test(test_round_trip_all),
		cmocka_unit_test(test_edges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
