/* Unit tests for include/ndx/msgsig.h: batches of 1, 2, 3, 7 and 16
 * hashes signed and every object verified for its own hash and refused for
 * the others'; tampered signatures and paths; foreign keys; and the strict
 * parser fed every kind of malformed object (wrong alg, missing, unknown
 * and duplicate members, bad base64, wrong lengths, out-of-range numbers,
 * oversized and non-object text). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "ndx/encode.h"
#include "ndx/err.h"
#include "ndx/hash.h"
#include "ndx/key.h"
#include "ndx/merkle.h"
#include "ndx/msgsig.h"

typedef uint8_t hash_t[NDX_SHA256_LEN];

struct keys {
	struct ndx_key *a, *b, *a_pub;
};

static int setup(void **state)
{
	static const uint8_t seed_a[NDX_ED25519_SEED_LEN] = { 1, 2, 3, 4 };
	static const uint8_t seed_b[NDX_ED25519_SEED_LEN] = { 9, 8, 7, 6 };
	struct keys *k = calloc(1, sizeof *k);
	uint8_t pub[NDX_ED25519_PUBLIC_LEN];

	if (k == NULL || ndx_key_from_seed(seed_a, &k->a) != NDX_OK ||
	    ndx_key_from_seed(seed_b, &k->b) != NDX_OK)
		return -1;
	ndx_key_public_raw(k->a, pub);
	if (ndx_key_from_public_raw(pub, &k->a_pub) != NDX_OK)
		return -1;
	*state = k;
	return 0;
}

static int teardown(void **state)
{
	struct keys *k = *state;

	ndx_key_free(k->a);
	ndx_key_free(k->b);
	ndx_key_free(k->a_pub);
	free(k);
	return 0;
}

static void make_hashes(hash_t *h, size_t n, unsigned salt)
{
	for (size_t i = 0; i < n; i++) {
		char msg[32];
		int len = snprintf(msg, sizeof msg, "message %u/%zu", salt, i);

		ndx_sha256(msg, (size_t)len, h[i]);
	}
}

static int parse(const char *text, struct ndx_msgsig *sig)
{
	char err[256];
	int rc = ndx_msgsig_parse(text, strlen(text), sig, err, sizeof err);

	if (rc == NDX_OK)
		assert_string_equal(err, "");
	else
		assert_true(err[0] != '\0');
	return rc;
}

static void check_batch(const struct keys *k, size_t n)
{
	hash_t *h = calloc(n, sizeof *h), *leaves = calloc(n, sizeof *leaves);
	char **out = calloc(n, sizeof *out);
	struct ndx_msgsig *sig = malloc(sizeof *sig);
	char kid[NDX_KEY_ID_HEX_LEN + 1];
	uint8_t root[NDX_SHA256_LEN], got[NDX_SHA256_LEN];

	assert_non_null(h);
	assert_non_null(leaves);
	assert_non_null(out);
	assert_non_null(sig);
	make_hashes(h, n, (unsigned)n);
	for (size_t i = 0; i < n; i++)
		ndx_merkle_leaf(h[i], NDX_SHA256_LEN, leaves[i]);
	assert_int_equal(ndx_merkle_root(leaves, n, root), NDX_OK);
	ndx_key_id(k->a, kid);

	assert_int_equal(ndx_msgsig_sign_batch(k->a, h, n, out), NDX_OK);
	for (size_t i = 0; i < n; i++) {
		uint8_t path[NDX_MERKLE_MAX_PATH][NDX_SHA256_LEN];
		size_t len;

		assert_non_null(out[i]);
		assert_true(strlen(out[i]) <= NDX_MSGSIG_MAX_TEXT);
		{
			/* Written as text, the object is byte for byte what
			 * jansson writes for it (members in their order). */
			json_t *o = json_loads(out[i], JSON_REJECT_DUPLICATES, NULL);
			char *again;

			assert_non_null(o);
			again = json_dumps(o, JSON_COMPACT);
			assert_non_null(again);
			assert_string_equal(out[i], again);
			free(again);
			json_decref(o);
		}
		assert_int_equal(parse(out[i], sig), NDX_OK);
		assert_string_equal(sig->key_id, kid);
		assert_int_equal(sig->tree_size, n);
		assert_int_equal(sig->leaf_index, i);
		/* The path is the one merkle.h builds for the same leaves. */
		assert_int_equal(ndx_merkle_audit_path(leaves, n, i, path, &len), NDX_OK);
		assert_int_equal(sig->path_len, len);
		assert_memory_equal(sig->path, path, len * NDX_SHA256_LEN);
		/* The signature is over "ndx-batch-v1", the tree size (8 bytes,
		 * big endian) and the RFC 6962 root (docs/protocol.md), not over
		 * the root alone nor with another size. */
		{
			uint8_t msg[12 + 8 + NDX_SHA256_LEN];

			memcpy(msg, "ndx-batch-v1", 12);
			for (int b = 0; b < 8; b++)
				msg[12 + b] = (uint8_t)((uint64_t)n >> (8 * (7 - b)));
			memcpy(msg + 20, root, NDX_SHA256_LEN);
			assert_int_equal(ndx_verify(k->a, msg, sizeof msg, sig->root_signature),
					 NDX_OK);
			msg[19] ^= 0x01;
			assert_int_equal(ndx_verify(k->a, msg, sizeof msg, sig->root_signature),
					 NDX_EBADSIG);
			assert_int_not_equal(ndx_verify(k->a, root, NDX_SHA256_LEN,
							sig->root_signature),
					     NDX_OK);
		}

		memset(got, 0, sizeof got);
		assert_int_equal(ndx_msgsig_verify(sig, k->a, h[i], got), NDX_OK);
		assert_memory_equal(got, root, NDX_SHA256_LEN);
		assert_int_equal(ndx_msgsig_verify(sig, k->a_pub, h[i], NULL), NDX_OK);
		for (size_t j = 0; j < n; j++) {
			if (j != i)
				assert_int_equal(ndx_msgsig_verify(sig, k->a, h[j], NULL),
						 NDX_EBADSIG);
		}
		/* Tampering, one bit at a time. */
		sig->root_signature[i % NDX_ED25519_SIG_LEN] ^= 0x04;
		memset(got, 0, sizeof got);
		assert_int_equal(ndx_msgsig_verify(sig, k->a, h[i], got), NDX_EBADSIG);
		sig->root_signature[i % NDX_ED25519_SIG_LEN] ^= 0x04;
		for (size_t p = 0; p < sig->path_len; p++) {
			sig->path[p][(p * 5) % NDX_SHA256_LEN] ^= 0x10;
			memset(got, 0, sizeof got);
			assert_int_equal(ndx_msgsig_verify(sig, k->a, h[i], got), NDX_EBADSIG);
			sig->path[p][(p * 5) % NDX_SHA256_LEN] ^= 0x10;
		}
		/* Nothing is written for a refused object. */
		for (size_t b = 0; b < NDX_SHA256_LEN; b++)
			assert_int_equal(got[b], 0);
		assert_int_equal(ndx_msgsig_verify(sig, k->b, h[i], NULL), NDX_ENOTFOUND);
		/* A struct not from the parser with a path of the wrong length. */
		if (sig->path_len > 0) {
			sig->path_len--;
			assert_int_equal(ndx_msgsig_verify(sig, k->a, h[i], NULL), NDX_EINVAL);
			sig->path_len++;
		}
		sig->leaf_index = sig->tree_size;
		assert_int_equal(ndx_msgsig_verify(sig, k->a, h[i], NULL), NDX_EINVAL);
		free(out[i]);
	}
	free(sig);
	free(out);
	free(leaves);
	free(h);
}

static void test_batches(void **state)
{
	/* 5, 9, 11, 13, 17, 23 and 33 overflowed the tree array before the
	 * fix for the fuzz_msgsig_batch finding (tests/fuzz/README.md). */
	static const size_t sizes[] = { 1, 2, 3, 5, 7, 9, 11, 13, 16, 17, 23, 33 };

	for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
		check_batch(*state, sizes[s]);
}

static void test_single(void **state)
{
	const struct keys *k = *state;
	hash_t h;
	char kid[NDX_KEY_ID_HEX_LEN + 1], want[256];
	char *one, *batch[1];
	struct ndx_msgsig sig;
	uint8_t root[NDX_SHA256_LEN], leaf[NDX_SHA256_LEN];

	make_hashes(&h, 1, 99);
	one = ndx_msgsig_sign(k->a, h);
	assert_non_null(one);
	/* Ed25519 is deterministic: a batch of one gives the same text. */
	assert_int_equal(ndx_msgsig_sign_batch(k->a, &h, 1, batch), NDX_OK);
	assert_string_equal(one, batch[0]);
	/* The shape docs/protocol.md shows, in its member order. */
	ndx_key_id(k->a, kid);
	snprintf(want, sizeof want,
		 "{\"alg\":\"Ed25519-batch\",\"key_id\":\"%s\",\"tree_size\":1,"
		 "\"leaf_index\":0,\"audit_path\":[],\"root_signature\":\"",
		 kid);
	assert_int_equal(strncmp(one, want, strlen(want)), 0);
	assert_int_equal(parse(one, &sig), NDX_OK);
	assert_int_equal(sig.path_len, 0);
	/* At low load the root is the leaf hash of the message hash. */
	assert_int_equal(ndx_msgsig_verify(&sig, k->a, h, root), NDX_OK);
	ndx_merkle_leaf(h, NDX_SHA256_LEN, leaf);
	assert_memory_equal(root, leaf, NDX_SHA256_LEN);
	free(one);
	free(batch[0]);
}

static void test_sign_failures(void **state)
{
	const struct keys *k = *state;
	hash_t h[3];
	char *out[3] = { (char *)"x", (char *)"y", (char *)"z" };

	make_hashes(h, 3, 1);
	/* A public-only key cannot sign; every out[i] is left NULL. */
	assert_int_not_equal(ndx_msgsig_sign_batch(k->a_pub, h, 3, out), NDX_OK);
	for (size_t i = 0; i < 3; i++)
		assert_null(out[i]);
	assert_null(ndx_msgsig_sign(k->a_pub, h[0]));
	assert_int_equal(ndx_msgsig_sign_batch(k->a, h, 0, out), NDX_EINVAL);
}

/* A valid object (leaf 1 of a batch of 3) as a jansson tree to damage. */
static json_t *valid_object(const struct keys *k)
{
	hash_t h[3];
	char *out[3];
	json_t *o;

	make_hashes(h, 3, 3);
	assert_int_equal(ndx_msgsig_sign_batch(k->a, h, 3, out), NDX_OK);
	o = json_loads(out[1], 0, NULL);
	assert_non_null(o);
	for (size_t i = 0; i < 3; i++)
		free(out[i]);
	return o;
}

/* Dumps o (consuming it) and expects the parser to refuse it. */
static void expect_refused(json_t *o)
{
	char *text = json_dumps(o, JSON_COMPACT);
	struct ndx_msgsig sig;

	assert_non_null(text);
	assert_int_equal(parse(text, &sig), NDX_EINVAL);
	assert_int_equal(sig.tree_size, 0);
	free(text);
	json_decref(o);
}

static void test_parse_rejects(void **state)
{
	static const char *const members[] = {
		"alg", "key_id", "tree_size", "leaf_index", "audit_path", "root_signature",
	};
	const struct keys *k = *state;
	struct ndx_msgsig sig;
	json_t *o, *arr;
	char *text, *dup;
	char err[256];
	size_t len;

	/* The untouched object parses, so each refusal below is its change's. */
	o = valid_object(k);
	text = json_dumps(o, JSON_COMPACT);
	if (text == NULL)
		fail();
	assert_int_equal(parse(text, &sig), NDX_OK);
	assert_int_equal(sig.path_len, 2);

	/* Duplicate member: the same "alg" once more before the brace. */
	len = strlen(text);
	dup = malloc(len + 32);
	assert_non_null(dup);
	memcpy(dup, text, len - 1);
	snprintf(dup + len - 1, 32, ",\"alg\":\"Ed25519-batch\"}");
	assert_int_equal(parse(dup, &sig), NDX_EINVAL);
	/* Trailing bytes after the object. */
	memcpy(dup, text, len);
	memcpy(dup + len, " x", 3);
	assert_int_equal(parse(dup, &sig), NDX_EINVAL);
	/* The length bounds the text: the object without its brace is cut. */
	assert_int_equal(ndx_msgsig_parse(text, len - 1, &sig, err, sizeof err), NDX_EINVAL);
	/* And nothing past len is read. */
	memcpy(dup, text, len);
	memcpy(dup + len, "garbage", 8);
	assert_int_equal(ndx_msgsig_parse(dup, len, &sig, err, sizeof err), NDX_OK);
	free(dup);
	free(text);
	json_decref(o);

	for (size_t m = 0; m < sizeof members / sizeof members[0]; m++) {
		o = valid_object(k);
		json_object_del(o, members[m]);
		expect_refused(o);
	}

	o = valid_object(k);
	json_object_set_new(o, "extra", json_true());
	expect_refused(o);

	o = valid_object(k);
	json_object_set_new(o, "alg", json_string("Ed25519"));
	expect_refused(o);
	o = valid_object(k);
	json_object_set_new(o, "alg", json_integer(1));
	expect_refused(o);

	o = valid_object(k);
	json_object_set_new(o, "key_id", json_string("abcd"));
	expect_refused(o);
	o = valid_object(k);
	text = strdup(json_string_value(json_object_get(o, "key_id")));
	assert_non_null(text);
	for (char *c = text; *c; c++)
		*c = (*c >= 'a' && *c <= 'f') ? (char)(*c - 'a' + 'A') : *c;
	json_object_set_new(o, "key_id", json_string(text));
	free(text);
	expect_refused(o);

	/* Numbers: out of range, negative, not integers. */
	o = valid_object(k);
	json_object_set_new(o, "leaf_index", json_integer(3));
	expect_refused(o);
	o = valid_object(k);
	json_object_set_new(o, "leaf_index", json_integer(7));
	expect_refused(o);
	o = valid_object(k);
	json_object_set_new(o, "leaf_index", json_integer(-1));
	expect_refused(o);
	o = valid_object(k);
	json_object_set_new(o, "leaf_index", json_string("1"));
	expect_refused(o);
	o = valid_object(k);
	json_object_set_new(o, "tree_size", json_integer(0));
	expect_refused(o);
	o = valid_object(k);
	json_object_set_new(o, "tree_size", json_real(3.0));
	expect_refused(o);
	o = valid_object(k);
	json_object_set_new(o, "tree_size", json_integer((json_int_t)1 << 33));
	expect_refused(o);

	/* Path of the wrong length for leaf 1 of 3: one short, one extra. */
	o = valid_object(k);
	json_array_remove(json_object_get(o, "audit_path"), 1);
	expect_refused(o);
	o = valid_object(k);
	arr = json_object_get(o, "audit_path");
	json_array_append(arr, json_array_get(arr, 0));
	expect_refused(o);
	/* The same path is too long for a tree of 2. */
	o = valid_object(k);
	json_object_set_new(o, "tree_size", json_integer(2));
	expect_refused(o);
	o = valid_object(k);
	json_object_set_new(o, "audit_path", json_object());
	expect_refused(o);

	/* Path entries: bad base64, wrong decoded length, not a string. */
	o = valid_object(k);
	json_array_set_new(json_object_get(o, "audit_path"), 0,
			   json_string("not base64 at all!!!!!!!!!!!!!!!!!!!!!!!!!="));
	expect_refused(o);
	o = valid_object(k);
	/* 31 bytes of zeros. */
	json_array_set_new(json_object_get(o, "audit_path"), 0,
			   json_string("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="));
	expect_refused(o);
	o = valid_object(k);
	/* 32 bytes without the padding. */
	json_array_set_new(json_object_get(o, "audit_path"), 0,
			   json_string("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
	expect_refused(o);
	o = valid_object(k);
	json_array_set_new(json_object_get(o, "audit_path"), 1, json_integer(0));
	expect_refused(o);

	/* root_signature: bad base64, 63 bytes, base64url spelling. */
	o = valid_object(k);
	json_object_set_new(o, "root_signature", json_string("@@@@"));
	expect_refused(o);
	o = valid_object(k);
	{
		uint8_t zero[64] = { 0 };
		char *b64 = ndx_b64_encode(zero, 63, 0);

		assert_non_null(b64);
		json_object_set_new(o, "root_signature", json_string(b64));
		free(b64);
	}
	expect_refused(o);
	o = valid_object(k);
	{
		uint8_t ff[64];
		char *b64;

		memset(ff, 0xfb, sizeof ff);
		b64 = ndx_b64_encode(ff, 64, 1);
		assert_non_null(b64);
		json_object_set_new(o, "root_signature", json_string(b64));
		free(b64);
	}
	expect_refused(o);

	/* Not an object at all, or not JSON. */
	assert_int_equal(parse("[]", &sig), NDX_EINVAL);
	assert_int_equal(parse("42", &sig), NDX_EINVAL);
	assert_int_equal(parse("\"Ed25519-batch\"", &sig), NDX_EINVAL);
	assert_int_equal(parse("null", &sig), NDX_EINVAL);
	assert_int_equal(parse("{", &sig), NDX_EINVAL);
	assert_int_equal(parse("", &sig), NDX_EINVAL);
	assert_int_equal(parse("{}", &sig), NDX_EINVAL);
	assert_int_equal(ndx_msgsig_parse(NULL, 0, &sig, err, sizeof err), NDX_EINVAL);
	/* No error buffer is fine. */
	assert_int_equal(ndx_msgsig_parse("[]", 2, &sig, NULL, 0), NDX_EINVAL);
}

static void test_parse_size_limits(void **state)
{
	const struct keys *k = *state;
	struct ndx_msgsig sig;
	json_t *o = valid_object(k), *arr;
	char *text = json_dumps(o, JSON_COMPACT), *big;
	size_t len;
	char err[256];

	if (text == NULL)
		fail();
	len = strlen(text);

	/* Whitespace pads a valid object to exactly the cap, then one more. */
	big = malloc(NDX_MSGSIG_MAX_TEXT + 2);
	assert_non_null(big);
	memset(big, ' ', NDX_MSGSIG_MAX_TEXT + 1);
	memcpy(big, text, len);
	big[NDX_MSGSIG_MAX_TEXT + 1] = '\0';
	assert_int_equal(ndx_msgsig_parse(big, NDX_MSGSIG_MAX_TEXT, &sig, err, sizeof err),
			 NDX_OK);
	assert_int_equal(ndx_msgsig_parse(big, NDX_MSGSIG_MAX_TEXT + 1, &sig, err, sizeof err),
			 NDX_EINVAL);
	assert_true(err[0] != '\0');
	free(big);
	free(text);

	/* The largest tree accepted, 2^32 leaves: leaf 0 needs 32 entries. */
	arr = json_array();
	assert_non_null(arr);
	for (int i = 0; i < 32; i++)
		json_array_append_new(arr, json_string("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="));
	json_object_set_new(o, "audit_path", arr);
	json_object_set_new(o, "leaf_index", json_integer(0));
	json_object_set_new(o, "tree_size", json_integer((json_int_t)1 << 32));
	text = json_dumps(o, JSON_COMPACT);
	assert_int_equal(parse(text, &sig), NDX_OK);
	assert_int_equal(sig.path_len, 32);
	/* Well formed, so verification gets as far as the signature. */
	assert_int_equal(ndx_msgsig_verify(&sig, k->a, sig.path[0], NULL), NDX_EBADSIG);
	free(text);
	json_object_set_new(o, "tree_size", json_integer(((json_int_t)1 << 32) + 1));
	expect_refused(o);
}

/* The signer's own spelling is read without a JSON tree (src/lib/msgsig.c);
 * any other spelling goes through jansson. Both must give the same struct
 * for the same object, and every refusal must stay a refusal: each signed
 * object of several batches parsed as written and re-spelled (a space
 * after the brace, the members reversed), every prefix of one refused,
 * and the near misses of that spelling (leading zeros, out-of-range
 * numbers, upper-case hex, escapes, short base64) decided as jansson
 * decides them. */
static char *respelled(const char *text, bool reverse)
{
	json_t *o = json_loads(text, JSON_REJECT_DUPLICATES, NULL), *r;
	const char *name;
	json_t *v;
	char *out;

	assert_non_null(o);
	if (!reverse) {
		out = json_dumps(o, JSON_INDENT(1));
		json_decref(o);
		return out;
	}
	r = json_object();
	for (size_t i = json_object_size(o); i-- > 0;) {
		size_t j = 0;

		json_object_foreach(o, name, v) {
			if (j++ == i)
				json_object_set(r, name, v);
		}
	}
	out = json_dumps(r, JSON_COMPACT);
	json_decref(r);
	json_decref(o);
	return out;
}

static void expect_text_refused(const char *text)
{
	struct ndx_msgsig sig;

	assert_int_equal(parse(text, &sig), NDX_EINVAL);
}

/* text with the first occurrence of from replaced by to. */
static char *replaced(const char *text, const char *from, const char *to)
{
	const char *at = strstr(text, from);
	size_t len = strlen(text), fl = strlen(from), tl = strlen(to);
	char *out;

	assert_non_null(at);
	out = malloc(len - fl + tl + 1);
	assert_non_null(out);
	memcpy(out, text, (size_t)(at - text));
	memcpy(out + (at - text), to, tl);
	memcpy(out + (at - text) + tl, at + fl, len - (size_t)(at - text) - fl + 1);
	return out;
}

static void test_parse_spellings(void **state)
{
	static const size_t sizes[] = { 1, 2, 5, 16, 33 };
	const struct keys *k = *state;
	struct ndx_msgsig a, b;
	hash_t h[33];
	char *out[33], *t, *text, num[64];
	bool slash_seen = false;

	for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
		size_t n = sizes[s];

		make_hashes(h, n, (unsigned)(100 + n));
		assert_int_equal(ndx_msgsig_sign_batch(k->a, h, n, out), NDX_OK);
		for (size_t i = 0; i < n; i++) {
			memset(&a, 0xa5, sizeof a);
			assert_int_equal(parse(out[i], &a), NDX_OK);
			assert_int_equal(ndx_msgsig_verify(&a, k->a, h[i], NULL), NDX_OK);
			for (int rev = 0; rev < 2; rev++) {
				t = respelled(out[i], rev);
				assert_non_null(t);
				assert_string_not_equal(t, out[i]);
				memset(&b, 0x5a, sizeof b);
				assert_int_equal(parse(t, &b), NDX_OK);
				assert_memory_equal(&a, &b, sizeof a);
				free(t);
			}
			/* A '/' of the base64 written "\/" is the same string to
			 * JSON, and so the same object. */
			{
				const char *sl = strchr(out[i], '/');

				if (sl != NULL) {
					slash_seen = true;
					t = replaced(out[i], "/", "\\/");
					memset(&b, 0x5a, sizeof b);
					assert_int_equal(parse(t, &b), NDX_OK);
					assert_memory_equal(&a, &b, sizeof a);
					free(t);
				}
			}
			/* The last batch's first and last stay for below. */
			if (s + 1 < sizeof sizes / sizeof sizes[0] || (i != 0 && i + 1 < n))
				free(out[i]);
		}
	}
	assert_true(slash_seen);

	/* The last object, leaf 32 of 33 (a path of one): every prefix is
	 * refused, so is every prefix of a longer one. */
	text = out[32];
	for (size_t len = 0; len < strlen(text); len++) {
		char err[256];

		assert_int_equal(ndx_msgsig_parse(text, len, &a, err, sizeof err),
				 NDX_EINVAL);
	}
	assert_int_equal(parse(out[0], &a), NDX_OK);
	for (size_t len = 0; len < strlen(out[0]); len++) {
		char err[256];

		assert_int_equal(ndx_msgsig_parse(out[0], len, &a, err, sizeof err),
				 NDX_EINVAL);
	}

	/* Near misses of the spelling, each refused. */
	assert_int_equal(parse(text, &a), NDX_OK);
	snprintf(num, sizeof num, "\"tree_size\":%llu",
		 (unsigned long long)(UINT64_C(1) << 32) + 1);
	{
		const char *const misses[][2] = {
			{ "\"tree_size\":33", "\"tree_size\":033" },
			{ "\"tree_size\":33", "\"tree_size\":33.0" },
			{ "\"tree_size\":33", "\"tree_size\":-33" },
			{ "\"tree_size\":33", "\"tree_size\":0" },
			{ "\"tree_size\":33", num },
			{ "\"tree_size\":33", "\"tree_size\":99999999999999999999" },
			{ "\"leaf_index\":32", "\"leaf_index\":33" },
			{ "\"leaf_index\":32", "\"leaf_index\":032" },
			/* a path entry one character short, and its padding gone */
			{ "=\"],", "\"]," },
			{ "=\"}", "\"}" },
			{ "=\"}", "=\"}}" },
			{ "\"root_signature\":\"", "\"root_signature\":\"\\u0041" },
		};

		for (size_t i = 0; i < sizeof misses / sizeof misses[0]; i++) {
			t = replaced(text, misses[i][0], misses[i][1]);
			expect_text_refused(t);
			free(t);
		}
	}
	/* Leaf 31 of 33 needs a path of 2: one is too few. */
	t = replaced(text, "\"leaf_index\":32", "\"leaf_index\":31");
	expect_text_refused(t);
	free(t);
	t = replaced(text, "{\"alg\":", "{\"alg\" :");
	memset(&b, 0x5a, sizeof b);
	assert_int_equal(parse(t, &b), NDX_OK);
	assert_memory_equal(&a, &b, sizeof a);
	free(t);
	{
		/* The key id in upper case. */
		const char *kid = strstr(text, "\"key_id\":\"") + 10;
		char *up = strdup(text);
		size_t at = (size_t)(kid - text);

		assert_non_null(up);
		for (size_t i = at; i < at + NDX_KEY_ID_HEX_LEN; i++)
			if (up[i] >= 'a' && up[i] <= 'f')
				up[i] = (char)(up[i] - 'a' + 'A');
		assert_string_not_equal(up, text);
		expect_text_refused(up);
		free(up);
		/* White space after the object is still the object. */
		t = replaced(text, "=\"}", "=\" }");
		assert_int_equal(parse(t, &b), NDX_OK);
		free(t);
		t = replaced(text, "=\"}", "=\"}\n");
		assert_int_equal(parse(t, &b), NDX_OK);
		free(t);
	}
	free(out[0]);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batches),
		cmocka_unit_test(test_single),
		cmocka_unit_test(test_sign_failures),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_parse_size_limits),
		cmocka_unit_test(test_parse_spellings),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
