/* Ed25519 keys (docs/protocol.md "Signatures"): generation, raw and PEM
 * forms, key files and key ids through OpenSSL 3 EVP; signing and
 * verification through libsodium. A struct ndx_key owns one EVP_PKEY and
 * caches the raw public key, the key id and (for a private key) libsodium's
 * secret key at construction, because OpenSSL key decoding and export are
 * slow next to a signature and the gateway needs them on every exchange.
 * Keys are immutable afterwards, so threads may share them.
 *
 * Why libsodium for the two operations: on the machines ndx is measured on
 * its Ed25519 signs about 1.8 times and verifies about 1.7 times as fast as
 * OpenSSL 3.0's (bench/README.md "Ed25519 through libsodium"), and the
 * gateway signs and verifies on every exchange. Ed25519 signatures are
 * deterministic (RFC 8032 section 5.1.6), so the bytes are OpenSSL's
 * (tests/unit/test_key.c checks both ways). Its verification is stricter
 * than OpenSSL's where RFC 8032 leaves room: it refuses public keys and R
 * points of small order, whose signatures can hold for any message, so a
 * key that signs nothing in particular is never taken as a signer. */
#include "ndx/key.h"

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sodium.h>

#include "ndx/encode.h"
#include "ndx/err.h"
#include "ndx/file.h"
#include "ndx/hash.h"

/* A PEM key is a few hundred bytes; anything this large is not one. */
#define KEY_FILE_MAX (64u * 1024u)

struct ndx_key {
	EVP_PKEY *pkey;
	bool has_private;
	uint8_t pub[NDX_ED25519_PUBLIC_LEN];
	/* libsodium's form of a private key: the seed, then pub. */
	uint8_t secret[crypto_sign_SECRETKEYBYTES];
	char id[NDX_KEY_ID_HEX_LEN + 1];
};

static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;
static bool sodium_ok;

static void sodium_start(void)
{
	sodium_ok = sodium_init() >= 0;
}

/* The secret key libsodium signs with, from the private key's seed; it
 * must give the public key OpenSSL derived, or the key is refused. */
static int secret_from_pkey(EVP_PKEY *pkey, struct ndx_key *key)
{
	uint8_t seed[NDX_ED25519_SEED_LEN], pub[crypto_sign_PUBLICKEYBYTES];
	size_t len = sizeof seed;
	int rc = NDX_OK;

	if (EVP_PKEY_get_raw_private_key(pkey, seed, &len) != 1 || len != sizeof seed) {
		ERR_clear_error();
		rc = NDX_ECRYPTO;
	} else if (crypto_sign_seed_keypair(pub, key->secret, seed) != 0 ||
		   sodium_memcmp(pub, key->pub, sizeof pub) != 0) {
		rc = NDX_ECRYPTO;
	}
	sodium_memzero(seed, sizeof seed);
	return rc;
}

/* Takes ownership of pkey whatever happens. */
static int key_wrap(EVP_PKEY *pkey, bool has_private, struct ndx_key **out)
{
	struct ndx_key *key;
	uint8_t digest[NDX_SHA256_LEN];
	size_t len = NDX_ED25519_PUBLIC_LEN;

	if (!EVP_PKEY_is_a(pkey, "ED25519")) {
		EVP_PKEY_free(pkey);
		return NDX_EINVAL;
	}
	pthread_once(&sodium_once, sodium_start);
	if (!sodium_ok) {
		EVP_PKEY_free(pkey);
		return NDX_ECRYPTO;
	}
	key = calloc(1, sizeof *key);
	if (key == NULL) {
		EVP_PKEY_free(pkey);
		return NDX_ENOMEM;
	}
	if (EVP_PKEY_get_raw_public_key(pkey, key->pub, &len) != 1 ||
	    len != NDX_ED25519_PUBLIC_LEN) {
		ERR_clear_error();
		EVP_PKEY_free(pkey);
		free(key);
		return NDX_ECRYPTO;
	}
	/* Trust the key object, not the decoder that produced it, about
	 * whether there is a private half. */
	len = 0;
	if (has_private && EVP_PKEY_get_raw_private_key(pkey, NULL, &len) != 1) {
		ERR_clear_error();
		has_private = false;
	}
	if (has_private && secret_from_pkey(pkey, key) != NDX_OK) {
		EVP_PKEY_free(pkey);
		sodium_memzero(key, sizeof *key);
		free(key);
		return NDX_ECRYPTO;
	}
	key->pkey = pkey;
	key->has_private = has_private;
	ndx_sha256(key->pub, sizeof key->pub, digest);
	ndx_hex_encode(digest, sizeof digest, key->id);
	*out = key;
	return NDX_OK;
}

int ndx_key_generate(struct ndx_key **out)
{
	EVP_PKEY *pkey;

	*out = NULL;
	pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (pkey == NULL) {
		ERR_clear_error();
		return NDX_ECRYPTO;
	}
	return key_wrap(pkey, true, out);
}

int ndx_key_from_seed(const uint8_t seed[NDX_ED25519_SEED_LEN], struct ndx_key **out)
{
	EVP_PKEY *pkey;

	*out = NULL;
	pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, NDX_ED25519_SEED_LEN);
	if (pkey == NULL) {
		ERR_clear_error();
		return NDX_ECRYPTO;
	}
	return key_wrap(pkey, true, out);
}

int ndx_key_from_public_raw(const uint8_t pub[NDX_ED25519_PUBLIC_LEN], struct ndx_key **out)
{
	EVP_PKEY *pkey;

	*out = NULL;
	pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, NDX_ED25519_PUBLIC_LEN);
	if (pkey == NULL) {
		ERR_clear_error();
		return NDX_EINVAL;
	}
	return key_wrap(pkey, false, out);
}

/* OpenSSL's default callback would prompt on the terminal for an encrypted
 * key; ndx keys are never encrypted, so refuse instead. */
static int no_password(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

int ndx_key_from_pem(const char *pem, size_t len, struct ndx_key **out)
{
	EVP_PKEY *pkey;
	bool has_private = true;
	BIO *bio;

	*out = NULL;
	if (len > INT_MAX)
		return NDX_EINVAL;
	bio = BIO_new_mem_buf(pem, (int)len);
	if (bio == NULL)
		return NDX_ENOMEM;
	pkey = PEM_read_bio_PrivateKey(bio, NULL, no_password, NULL);
	if (pkey == NULL) {
		/* Not a private key: start over and look for a public one. */
		has_private = false;
		if (BIO_reset(bio) == 1)
			pkey = PEM_read_bio_PUBKEY(bio, NULL, no_password, NULL);
	}
	BIO_free(bio);
	ERR_clear_error();
	if (pkey == NULL)
		return NDX_EINVAL;
	return key_wrap(pkey, has_private, out);
}

int ndx_key_load(const char *path, struct ndx_key **out)
{
	char *pem;
	size_t len;
	int rc;

	*out = NULL;
	rc = ndx_file_read(path, KEY_FILE_MAX, &pem, &len);
	if (rc == NDX_ETOOBIG)
		return NDX_EINVAL;
	if (rc != NDX_OK)
		return rc;
	rc = ndx_key_from_pem(pem, len, out);
	OPENSSL_cleanse(pem, len);
	free(pem);
	return rc;
}

/* Runs the PEM writer into memory; *bio_out owns the bytes at *data. */
static int pem_to_mem(const struct ndx_key *key, bool private_part, BIO **bio_out,
		      char **data, size_t *len)
{
	BIO *bio = BIO_new(BIO_s_mem());
	long n;
	int ok;

	*bio_out = NULL;
	if (bio == NULL)
		return NDX_ENOMEM;
	if (private_part)
		ok = PEM_write_bio_PrivateKey(bio, key->pkey, NULL, NULL, 0, NULL, NULL);
	else
		ok = PEM_write_bio_PUBKEY(bio, key->pkey);
	n = BIO_get_mem_data(bio, data);
	if (ok != 1 || n <= 0) {
		ERR_clear_error();
		BIO_free(bio);
		return NDX_ECRYPTO;
	}
	*len = (size_t)n;
	*bio_out = bio;
	return NDX_OK;
}

int ndx_key_save_private(const struct ndx_key *key, const char *path)
{
	BIO *bio;
	char *data;
	size_t len;
	int rc;

	if (!key->has_private)
		return NDX_EINVAL;
	rc = pem_to_mem(key, true, &bio, &data, &len);
	if (rc != NDX_OK)
		return rc;
	rc = ndx_file_write_atomic(path, data, len, 0600, 1);
	/* A memory BIO clears its buffer when freed. */
	BIO_free(bio);
	return rc;
}

int ndx_key_save_public(const struct ndx_key *key, const char *path)
{
	BIO *bio;
	char *data;
	size_t len;
	int rc;

	rc = pem_to_mem(key, false, &bio, &data, &len);
	if (rc != NDX_OK)
		return rc;
	rc = ndx_file_write_atomic(path, data, len, 0644, 0);
	BIO_free(bio);
	return rc;
}

char *ndx_key_public_pem(const struct ndx_key *key)
{
	BIO *bio;
	char *data, *copy;
	size_t len;

	if (pem_to_mem(key, false, &bio, &data, &len) != NDX_OK)
		return NULL;
	copy = malloc(len + 1);
	if (copy != NULL) {
		memcpy(copy, data, len);
		copy[len] = '\0';
	}
	BIO_free(bio);
	return copy;
}

bool ndx_key_has_private(const struct ndx_key *key)
{
	return key->has_private;
}

bool ndx_key_verifiable(const struct ndx_key *key)
{
	return crypto_core_ed25519_is_valid_point(key->pub) == 1;
}

void ndx_key_public_raw(const struct ndx_key *key, uint8_t out[NDX_ED25519_PUBLIC_LEN])
{
	memcpy(out, key->pub, NDX_ED25519_PUBLIC_LEN);
}

void ndx_key_id(const struct ndx_key *key, char out[NDX_KEY_ID_HEX_LEN + 1])
{
	memcpy(out, key->id, NDX_KEY_ID_HEX_LEN + 1);
}

int ndx_sign(const struct ndx_key *key, const void *msg, size_t len,
	     uint8_t sig[NDX_ED25519_SIG_LEN])
{
	static const uint8_t empty = 0;

	if (!key->has_private)
		return NDX_EINVAL;
	if (crypto_sign_detached(sig, NULL, len ? msg : &empty, len, key->secret) != 0)
		return NDX_ECRYPTO;
	return NDX_OK;
}

int ndx_verify(const struct ndx_key *key, const void *msg, size_t len,
	       const uint8_t sig[NDX_ED25519_SIG_LEN])
{
	static const uint8_t empty = 0;

	if (crypto_sign_verify_detached(sig, len ? msg : &empty, len, key->pub) != 0)
		return NDX_EBADSIG;
	return NDX_OK;
}

void ndx_key_free(struct ndx_key *key)
{
	if (key == NULL)
		return;
	EVP_PKEY_free(key->pkey);
	sodium_memzero(key->secret, sizeof key->secret);
	free(key);
}
