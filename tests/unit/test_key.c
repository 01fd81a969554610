/* Unit tests for include/ndx/key.h: RFC 8032 section 7.1 vectors, signature
 * and message tampering, signatures the same as OpenSSL's both ways, the
 * encodings RFC 8032 section 5.1.7 refuses and small-order keys, public-only
 * keys, PEM files and their modes, foreign key types, key ids. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "ndx/encode.h"
#include "ndx/err.h"
#include "ndx/file.h"
#include "ndx/hash.h"
#include "ndx/key.h"

struct rfc8032_vector {
	const char *seed, *pub, *msg, *sig;
};

/* RFC 8032 section 7.1, TEST 1, TEST 2 and TEST 3. */
static const struct rfc8032_vector vectors[] = {
	{ "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
	  "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
	  "",
	  "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
	  "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b" },
	{ "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
	  "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
	  "72",
	  "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
	  "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00" },
	{ "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
	  "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
	  "af82",
	  "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
	  "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a" },
};

static void unhex(const char *hex, uint8_t *out, size_t len)
{
	assert_int_equal(strlen(hex), 2 * len);
	assert_int_equal(ndx_hex_decode(hex, strlen(hex), out, len), NDX_OK);
}

static void test_rfc8032_vectors(void **state)
{
	(void)state;
	for (size_t v = 0; v < sizeof vectors / sizeof vectors[0]; v++) {
		uint8_t seed[32], pub[32], want_sig[64], sig[64], got_pub[32], msg[2];
		size_t mlen = strlen(vectors[v].msg) / 2;
		struct ndx_key *key = NULL, *pubkey = NULL;

		unhex(vectors[v].seed, seed, sizeof seed);
		unhex(vectors[v].pub, pub, sizeof pub);
		unhex(vectors[v].sig, want_sig, sizeof want_sig);
		unhex(vectors[v].msg, msg, mlen);

		assert_int_equal(ndx_key_from_seed(seed, &key), NDX_OK);
		assert_true(ndx_key_has_private(key));
		ndx_key_public_raw(key, got_pub);
		assert_memory_equal(got_pub, pub, 32);

		assert_int_equal(ndx_sign(key, msg, mlen, sig), NDX_OK);
		assert_memory_equal(sig, want_sig, 64);
		assert_int_equal(ndx_verify(key, msg, mlen, sig), NDX_OK);

		/* A key built from the published public key alone verifies. */
		assert_int_equal(ndx_key_from_public_raw(pub, &pubkey), NDX_OK);
		assert_false(ndx_key_has_private(pubkey));
		assert_true(ndx_key_verifiable(pubkey));
		assert_int_equal(ndx_verify(pubkey, msg, mlen, want_sig), NDX_OK);

		/* Every single flipped bit of the signature is caught. */
		for (size_t bit = 0; bit < 64 * 8; bit += 7) {
			uint8_t bad[64];

			memcpy(bad, want_sig, 64);
			bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			assert_int_equal(ndx_verify(pubkey, msg, mlen, bad), NDX_EBADSIG);
		}
		/* A changed message: a flipped bit, or one byte more. */
		if (mlen > 0) {
			uint8_t bad[2];

			memcpy(bad, msg, mlen);
			bad[0] ^= 0x01;
			assert_int_equal(ndx_verify(pubkey, bad, mlen, want_sig), NDX_EBADSIG);
		}
		{
			uint8_t longer[3] = { 0 };

			memcpy(longer, msg, mlen);
			assert_int_equal(ndx_verify(pubkey, longer, mlen + 1, want_sig),
					 NDX_EBADSIG);
		}
		ndx_key_free(key);
		ndx_key_free(pubkey);
	}
}

static void test_public_only_cannot_sign(void **state)
{
	uint8_t pub[32], sig[64];
	struct ndx_key *key = NULL;
	char path[4096];

	(void)state;
	unhex(vectors[0].pub, pub, sizeof pub);
	assert_int_equal(ndx_key_from_public_raw(pub, &key), NDX_OK);
	memset(sig, 0xaa, sizeof sig);
	assert_int_equal(ndx_sign(key, "x", 1, sig), NDX_EINVAL);
	snprintf(path, sizeof path, "/nonexistent-dir-ndx/key.pem");
	assert_int_equal(ndx_key_save_private(key, path), NDX_EINVAL);
	ndx_key_free(key);
}

static void test_generate_sign_verify(void **state)
{
	struct ndx_key *a = NULL, *b = NULL;
	uint8_t sig[64], pa[32], pb[32];
	static const char msg[] = "ndx exchange";

	(void)state;
	assert_int_equal(ndx_key_generate(&a), NDX_OK);
	assert_int_equal(ndx_key_generate(&b), NDX_OK);
	ndx_key_public_raw(a, pa);
	ndx_key_public_raw(b, pb);
	assert_memory_not_equal(pa, pb, 32);
	assert_int_equal(ndx_sign(a, msg, sizeof msg - 1, sig), NDX_OK);
	assert_int_equal(ndx_verify(a, msg, sizeof msg - 1, sig), NDX_OK);
	assert_int_equal(ndx_verify(b, msg, sizeof msg - 1, sig), NDX_EBADSIG);
	/* NULL with length 0 is the empty message. */
	assert_int_equal(ndx_sign(a, NULL, 0, sig), NDX_OK);
	assert_int_equal(ndx_verify(a, "", 0, sig), NDX_OK);
	ndx_key_free(a);
	ndx_key_free(b);
	ndx_key_free(NULL);
}

/* Many keys in turn: each signs and verifies as itself, refusals between
 * acceptances change nothing, and a key freed and another made (likely at
 * the same address) each get their own key's answer. */
static void make_seed_key(uint8_t fill, struct ndx_key **out, uint8_t pub[32])
{
	uint8_t seed[32];

	memset(seed, fill, sizeof seed);
	assert_int_equal(ndx_key_from_seed(seed, out), NDX_OK);
	ndx_key_public_raw(*out, pub);
}

static void test_keys_in_turn(void **state)
{
	enum { NKEYS = 7 };
	struct ndx_key *priv[NKEYS], *pub[NKEYS], *a = NULL, *c = NULL;
	uint8_t raw[NKEYS][32], sig[NKEYS][64], again[64], pa[32], pc[32];
	static const char msg[] = "keys in turn";

	(void)state;
	for (int i = 0; i < NKEYS; i++) {
		make_seed_key((uint8_t)(i + 1), &priv[i], raw[i]);
		assert_int_equal(ndx_key_from_public_raw(raw[i], &pub[i]), NDX_OK);
		assert_int_equal(ndx_sign(priv[i], msg, sizeof msg - 1, sig[i]), NDX_OK);
	}
	for (int round = 0; round < 3; round++)
		for (int i = 0; i < NKEYS; i++) {
			/* Ed25519 is deterministic: the same signature again. */
			assert_int_equal(ndx_sign(priv[i], msg, sizeof msg - 1, again), NDX_OK);
			assert_memory_equal(again, sig[i], 64);
			assert_int_equal(ndx_verify(pub[i], msg, sizeof msg - 1, sig[i]), NDX_OK);
			/* Another key's signature, then a damaged one: refused,
			 * and the key's own still accepted after them. */
			assert_int_equal(ndx_verify(pub[i], msg, sizeof msg - 1,
						    sig[(i + 1) % NKEYS]), NDX_EBADSIG);
			again[5] ^= 0x10;
			assert_int_equal(ndx_verify(pub[i], msg, sizeof msg - 1, again),
					 NDX_EBADSIG);
			assert_int_equal(ndx_verify(pub[i], msg, sizeof msg - 2, sig[i]),
					 NDX_EBADSIG);
			assert_int_equal(ndx_verify(pub[i], msg, sizeof msg - 1, sig[i]), NDX_OK);
			assert_int_equal(ndx_verify(priv[i], msg, sizeof msg - 1, sig[i]), NDX_OK);
		}
	for (int i = 0; i < NKEYS; i++) {
		ndx_key_free(priv[i]);
		ndx_key_free(pub[i]);
	}

	/* A key freed after signing, another made in its place. */
	assert_int_equal(ndx_key_generate(&a), NDX_OK);
	ndx_key_public_raw(a, pa);
	assert_int_equal(ndx_sign(a, msg, sizeof msg - 1, sig[0]), NDX_OK);
	ndx_key_free(a);
	assert_int_equal(ndx_key_generate(&c), NDX_OK);
	ndx_key_public_raw(c, pc);
	assert_int_equal(ndx_sign(c, msg, sizeof msg - 1, sig[1]), NDX_OK);
	assert_memory_not_equal(sig[0], sig[1], 64);
	assert_int_equal(ndx_verify(c, msg, sizeof msg - 1, sig[1]), NDX_OK);
	assert_int_equal(ndx_verify(c, msg, sizeof msg - 1, sig[0]), NDX_EBADSIG);
	assert_int_equal(ndx_key_from_public_raw(pa, &a), NDX_OK);
	assert_int_equal(ndx_verify(a, msg, sizeof msg - 1, sig[0]), NDX_OK);
	assert_int_equal(ndx_verify(a, msg, sizeof msg - 1, sig[1]), NDX_EBADSIG);
	ndx_key_free(a);
	ndx_key_free(c);
}

/* The same keys from several threads at once (valgrind: nothing lost). */
struct signer_arg {
	struct ndx_key *key, *other;
	const uint8_t *want;
	int failures;
};

static void *signer_thread(void *p)
{
	struct signer_arg *a = p;
	uint8_t sig[64];
	static const char msg[] = "threads";

	for (int i = 0; i < 50; i++) {
		if (ndx_sign(a->key, msg, sizeof msg - 1, sig) != NDX_OK ||
		    memcmp(sig, a->want, 64) != 0 ||
		    ndx_verify(a->key, msg, sizeof msg - 1, sig) != NDX_OK ||
		    ndx_verify(a->other, msg, sizeof msg - 1, sig) != NDX_EBADSIG)
			a->failures++;
	}
	return NULL;
}

static void test_keys_shared_by_threads(void **state)
{
	enum { NTHREADS = 4 };
	struct ndx_key *k1, *k2;
	uint8_t p1[32], p2[32], s1[64], s2[64];
	pthread_t t[NTHREADS];
	struct signer_arg args[NTHREADS];
	static const char msg[] = "threads";

	(void)state;
	make_seed_key(0x31, &k1, p1);
	make_seed_key(0x32, &k2, p2);
	assert_int_equal(ndx_sign(k1, msg, sizeof msg - 1, s1), NDX_OK);
	assert_int_equal(ndx_sign(k2, msg, sizeof msg - 1, s2), NDX_OK);
	for (int i = 0; i < NTHREADS; i++) {
		args[i] = (struct signer_arg){ i % 2 ? k2 : k1, i % 2 ? k1 : k2,
					       i % 2 ? s2 : s1, 0 };
		assert_int_equal(pthread_create(&t[i], NULL, signer_thread, &args[i]), 0);
	}
	for (int i = 0; i < NTHREADS; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(args[i].failures, 0);
	}
	ndx_key_free(k1);
	ndx_key_free(k2);
}

static void test_key_id(void **state)
{
	uint8_t pub[32], digest[32];
	char want[65], got[65];
	struct ndx_key *key = NULL;

	(void)state;
	unhex(vectors[0].seed, pub, sizeof pub);
	assert_int_equal(ndx_key_from_seed(pub, &key), NDX_OK);
	ndx_key_public_raw(key, pub);
	ndx_sha256(pub, sizeof pub, digest);
	ndx_hex_encode(digest, sizeof digest, want);
	ndx_key_id(key, got);
	assert_string_equal(got, want);
	assert_int_equal(strlen(got), NDX_KEY_ID_HEX_LEN);
	ndx_key_free(key);
}

/* ---- files ------------------------------------------------------------ */

static char tmpdir[4096];

static int make_tmpdir(void **state)
{
	const char *base = getenv("NDX_TEST_TMP");

	(void)state;
	if (base == NULL || base[0] == '\0')
		base = "/tmp";
	snprintf(tmpdir, sizeof tmpdir, "%s/test_key.XXXXXX", base);
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int remove_tmpdir(void **state)
{
	static const char *const names[] = { "priv.pem", "pub.pem", "garbage.pem",
					     "rsa.pem", "ec.pem", "ecpub.pem",
					     "rsapub.pem", "big.pem" };
	char path[4200];

	(void)state;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", tmpdir, names[i]);
		unlink(path);
	}
	return rmdir(tmpdir) == 0 ? 0 : -1;
}

static void tmp_path(char *buf, size_t cap, const char *name)
{
	snprintf(buf, cap, "%s/%s", tmpdir, name);
}

static void test_pem_round_trip(void **state)
{
	struct ndx_key *key = NULL, *priv = NULL, *pub = NULL, *frommem = NULL;
	char ppath[4200], upath[4200], id1[65], id2[65];
	uint8_t seed[32], sig[64], before[32], after[32];
	struct stat st;
	char *pem;

	(void)state;
	tmp_path(ppath, sizeof ppath, "priv.pem");
	tmp_path(upath, sizeof upath, "pub.pem");
	unhex(vectors[2].seed, seed, sizeof seed);
	assert_int_equal(ndx_key_from_seed(seed, &key), NDX_OK);

	assert_int_equal(ndx_key_save_private(key, ppath), NDX_OK);
	assert_int_equal(stat(ppath, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	/* Never overwrite a private key, and leave no temporary behind. */
	assert_int_equal(ndx_key_save_private(key, ppath), NDX_EEXIST);
	{
		char tmp[4300];

		snprintf(tmp, sizeof tmp, "%s.tmp.%ld", ppath, (long)getpid());
		assert_int_not_equal(stat(tmp, &st), 0);
	}

	assert_int_equal(ndx_key_save_public(key, upath), NDX_OK);
	assert_int_equal(stat(upath, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	/* The public file may be replaced. */
	assert_int_equal(ndx_key_save_public(key, upath), NDX_OK);

	assert_int_equal(ndx_key_load(ppath, &priv), NDX_OK);
	assert_true(ndx_key_has_private(priv));
	assert_int_equal(ndx_key_load(upath, &pub), NDX_OK);
	assert_false(ndx_key_has_private(pub));

	ndx_key_public_raw(key, before);
	ndx_key_public_raw(priv, after);
	assert_memory_equal(before, after, 32);
	ndx_key_public_raw(pub, after);
	assert_memory_equal(before, after, 32);
	ndx_key_id(key, id1);
	ndx_key_id(pub, id2);
	assert_string_equal(id1, id2);

	/* The loaded private key signs exactly like the original (RFC 8032
	 * TEST 3 message), and the loaded public key verifies it. */
	assert_int_equal(ndx_sign(priv, "\xaf\x82", 2, sig), NDX_OK);
	{
		uint8_t want[64];

		unhex(vectors[2].sig, want, sizeof want);
		assert_memory_equal(sig, want, 64);
	}
	assert_int_equal(ndx_verify(pub, "\xaf\x82", 2, sig), NDX_OK);

	pem = ndx_key_public_pem(key);
	assert_non_null(pem);
	assert_non_null(strstr(pem, "-----BEGIN PUBLIC KEY-----"));
	assert_int_equal(ndx_key_from_pem(pem, strlen(pem), &frommem), NDX_OK);
	assert_false(ndx_key_has_private(frommem));
	ndx_key_id(frommem, id2);
	assert_string_equal(id1, id2);
	free(pem);

	{
		char *text;
		size_t len;

		assert_int_equal(ndx_file_read(ppath, 65536, &text, &len), NDX_OK);
		assert_non_null(strstr(text, "-----BEGIN PRIVATE KEY-----"));
		free(text);
	}

	ndx_key_free(key);
	ndx_key_free(priv);
	ndx_key_free(pub);
	ndx_key_free(frommem);
}

static void write_pem(const char *name, EVP_PKEY *pkey, int private_part)
{
	char path[4200];
	FILE *f;

	tmp_path(path, sizeof path, name);
	f = fopen(path, "w");
	assert_non_null(f);
	if (private_part)
		assert_int_equal(PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL), 1);
	else
		assert_int_equal(PEM_write_PUBKEY(f, pkey), 1);
	assert_int_equal(fclose(f), 0);
}

static void expect_load(const char *name, int want)
{
	struct ndx_key *key = (struct ndx_key *)&key; /* must be reset to NULL */
	char path[4200];

	tmp_path(path, sizeof path, name);
	assert_int_equal(ndx_key_load(path, &key), want);
	assert_null(key);
}

static void test_foreign_and_garbage(void **state)
{
	EVP_PKEY *rsa, *ec;
	struct ndx_key *key = NULL;
	static const char garbage[] =
		"-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n";
	char path[4200];

	(void)state;
	rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	assert_non_null(rsa);
	assert_non_null(ec);
	write_pem("rsa.pem", rsa, 1);
	write_pem("rsapub.pem", rsa, 0);
	write_pem("ec.pem", ec, 1);
	write_pem("ecpub.pem", ec, 0);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ec);
	expect_load("rsa.pem", NDX_EINVAL);
	expect_load("rsapub.pem", NDX_EINVAL);
	expect_load("ec.pem", NDX_EINVAL);
	expect_load("ecpub.pem", NDX_EINVAL);

	tmp_path(path, sizeof path, "garbage.pem");
	assert_int_equal(ndx_file_write_atomic(path, garbage, sizeof garbage - 1, 0600, 0), NDX_OK);
	expect_load("garbage.pem", NDX_EINVAL);
	expect_load("missing.pem", NDX_EIO);

	/* Not PEM at all, empty, and a file far larger than any key. */
	assert_int_equal(ndx_key_from_pem("hello", 5, &key), NDX_EINVAL);
	assert_null(key);
	assert_int_equal(ndx_key_from_pem("", 0, &key), NDX_EINVAL);
	assert_null(key);
	{
		size_t n = 200 * 1024;
		char *big = malloc(n);

		assert_non_null(big);
		memset(big, 'A', n);
		tmp_path(path, sizeof path, "big.pem");
		assert_int_equal(ndx_file_write_atomic(path, big, n, 0600, 0), NDX_OK);
		free(big);
		expect_load("big.pem", NDX_EINVAL);
	}
}

/* ndx signs and verifies through libsodium, keys through OpenSSL
 * (src/lib/key.c). Ed25519 is deterministic (RFC 8032 section 5.1.6), so
 * for random keys and messages of every length class the signature is
 * OpenSSL's byte for byte, and each verifies the other's. */
static void test_same_signatures_as_openssl(void **state)
{
	static const size_t lens[] = { 0, 1, 31, 32, 64, 1000, 70000 };
	uint8_t *msg = malloc(70000);

	(void)state;
	assert_non_null(msg);
	for (size_t i = 0; i < 70000; i++)
		msg[i] = (uint8_t)(i * 131 + 7);
	for (int round = 0; round < 8; round++) {
		EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		uint8_t seed[32], ours[64], theirs[64];
		size_t seedlen = sizeof seed;
		struct ndx_key *key = NULL;

		assert_non_null(pkey);
		assert_int_equal(EVP_PKEY_get_raw_private_key(pkey, seed, &seedlen), 1);
		assert_int_equal(ndx_key_from_seed(seed, &key), NDX_OK);
		for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++) {
			EVP_MD_CTX *ctx = EVP_MD_CTX_new();
			size_t siglen = sizeof theirs;
			const size_t len = lens[l];

			assert_int_equal(ndx_sign(key, msg, len, ours), NDX_OK);
			assert_int_equal(EVP_DigestSignInit(ctx, NULL, NULL, NULL, pkey), 1);
			assert_int_equal(EVP_DigestSign(ctx, theirs, &siglen, msg, len), 1);
			assert_memory_equal(ours, theirs, 64);
			EVP_MD_CTX_free(ctx);
			ctx = EVP_MD_CTX_new();
			assert_int_equal(EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pkey), 1);
			assert_int_equal(EVP_DigestVerify(ctx, ours, 64, msg, len), 1);
			EVP_MD_CTX_free(ctx);
			assert_int_equal(ndx_verify(key, msg, len, theirs), NDX_OK);
		}
		ndx_key_free(key);
		EVP_PKEY_free(pkey);
	}
	free(msg);
}

/* RFC 8032 section 5.1.7, step 1: "If any of the decodings fail
 * (including S being out of range), the signature is invalid". S + L is
 * the same scalar modulo L, so only the range check refuses it; an R that
 * is no point, and a public key that is no point, decode to nothing. */
static void test_encodings_refused(void **state)
{
	/* L = 2^252 + 27742317777372353535851937790883648493, little-endian. */
	static const uint8_t order[32] = {
		0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2,
		0xde, 0xf9, 0xde, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
	};
	static const char msg[] = "decodings";
	struct ndx_key *key = NULL, *nokey = NULL;
	uint8_t pub[32], sig[64], bad[64];
	unsigned carry = 0;

	(void)state;
	make_seed_key(0x51, &key, pub);
	assert_int_equal(ndx_sign(key, msg, sizeof msg - 1, sig), NDX_OK);
	assert_int_equal(ndx_verify(key, msg, sizeof msg - 1, sig), NDX_OK);
	/* S + L: the test key's S is below 2^253 - L, so the sum fits. */
	memcpy(bad, sig, 64);
	for (int i = 0; i < 32; i++) {
		unsigned v = bad[32 + i] + order[i] + carry;

		bad[32 + i] = (uint8_t)v;
		carry = v >> 8;
	}
	assert_int_equal(carry, 0);
	assert_int_equal(ndx_verify(key, msg, sizeof msg - 1, bad), NDX_EBADSIG);
	/* R with y = 2^255 - 1, which is not below p: no point's encoding. */
	memcpy(bad, sig, 64);
	memset(bad, 0xff, 31);
	bad[31] = 0x7f;
	assert_int_equal(ndx_verify(key, msg, sizeof msg - 1, bad), NDX_EBADSIG);
	/* A public key with y = 2: (y^2 - 1) / (d y^2 + 1) is no square mod p,
	 * so no point of the curve has it. */
	memset(pub, 0, sizeof pub);
	pub[0] = 2;
	assert_int_equal(ndx_key_from_public_raw(pub, &nokey), NDX_OK);
	assert_false(ndx_key_verifiable(nokey));
	assert_true(ndx_key_verifiable(key));
	assert_int_equal(ndx_verify(nokey, msg, sizeof msg - 1, sig), NDX_EBADSIG);
	ndx_key_free(nokey);
	ndx_key_free(key);
}

/* A public key of small order (here the identity point, y = 1) with R the
 * identity and S = 0 satisfies RFC 8032's equation [S]B = R + [k]A for
 * every message: a "signature" that binds its signer to nothing. OpenSSL
 * 3.0 accepts it (checked here, so that the test says why ndx verifies
 * elsewhere); ndx refuses it, and the same signature with any other
 * small-order key (the point of order 2, y = -1). */
static void test_small_order_key_refused(void **state)
{
	static const char *const msgs[] = { "pay 1 VND", "pay 1,000,000,000 VND" };
	uint8_t identity[32] = { 1 }, order2[32], sig[64] = { 1 };
	struct ndx_key *key = NULL;
	EVP_PKEY *pkey;

	(void)state;
	pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, identity, 32);
	assert_non_null(pkey);
	for (size_t i = 0; i < 2; i++) {
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();

		assert_int_equal(EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pkey), 1);
		assert_int_equal(EVP_DigestVerify(ctx, sig, 64, (const uint8_t *)msgs[i],
						  strlen(msgs[i])), 1);
		EVP_MD_CTX_free(ctx);
	}
	EVP_PKEY_free(pkey);
	assert_int_equal(ndx_key_from_public_raw(identity, &key), NDX_OK);
	assert_false(ndx_key_verifiable(key));
	for (size_t i = 0; i < 2; i++)
		assert_int_equal(ndx_verify(key, msgs[i], strlen(msgs[i]), sig), NDX_EBADSIG);
	ndx_key_free(key);
	/* y = p - 1 = 2^255 - 20: the point (0, -1), of order 2. */
	memset(order2, 0xff, sizeof order2);
	order2[0] = 0xec;
	order2[31] = 0x7f;
	assert_int_equal(ndx_key_from_public_raw(order2, &key), NDX_OK);
	assert_false(ndx_key_verifiable(key));
	for (size_t i = 0; i < 2; i++)
		assert_int_equal(ndx_verify(key, msgs[i], strlen(msgs[i]), sig), NDX_EBADSIG);
	ndx_key_free(key);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc8032_vectors),
		cmocka_unit_test(test_public_only_cannot_sign),
		cmocka_unit_test(test_generate_sign_verify),
		cmocka_unit_test(test_keys_in_turn),
		cmocka_unit_test(test_keys_shared_by_threads),
		cmocka_unit_test(test_same_signatures_as_openssl),
		cmocka_unit_test(test_encodings_refused),
		cmocka_unit_test(test_small_order_key_refused),
		cmocka_unit_test(test_key_id),
		cmocka_unit_test(test_pem_round_trip),
		cmocka_unit_test(test_foreign_and_garbage),
	};

	return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
