/* Ed25519 keys through OpenSSL 3 EVP (docs/protocol.md "Signatures"):
 * generation, raw and PEM forms, key files, key ids, signing and
 * verification. A struct ndx_key owns one EVP_PKEY and caches the raw public
 * key and key id at construction, because OpenSSL key decoding and export
 * are slow next to a signature and the gateway needs both on every
 * exchange. Keys are immutable afterwards, so threads may share them. */
#include "ndx/key.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

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
	char id[NDX_KEY_ID_HEX_LEN + 1];
};

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
	size_t siglen = NDX_ED25519_SIG_LEN;
	EVP_MD_CTX *ctx;
	int rc = NDX_OK;

	if (!key->has_private)
		return NDX_EINVAL;
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL)
		return NDX_ENOMEM;
	/* Ed25519 is pure: no message digest is named. */
	if (EVP_DigestSignInit(ctx, NULL, NULL, NULL, key->pkey) != 1 ||
	    EVP_DigestSign(ctx, sig, &siglen, len ? msg : &empty, len) != 1 ||
	    siglen != NDX_ED25519_SIG_LEN) {
		ERR_clear_error();
		rc = NDX_ECRYPTO;
	}
	EVP_MD_CTX_free(ctx);
	return rc;
}

/* Failures to set up verification (allocation, OpenSSL) give NDX_ECRYPTO
 * rather than NDX_EBADSIG, so that logs do not blame the peer for them; both
 * are refusals. */
int ndx_verify(const struct ndx_key *key, const void *msg, size_t len,
	       const uint8_t sig[NDX_ED25519_SIG_LEN])
{
	static const uint8_t empty = 0;
	EVP_MD_CTX *ctx;
	int rc;

	ctx = EVP_MD_CTX_new();
	if (ctx == NULL)
		return NDX_ECRYPTO;
	if (EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key->pkey) != 1)
		rc = NDX_ECRYPTO;
	else if (EVP_DigestVerify(ctx, sig, NDX_ED25519_SIG_LEN, len ? msg : &empty, len) == 1)
		rc = NDX_OK;
	else
		rc = NDX_EBADSIG;
	ERR_clear_error();
	EVP_MD_CTX_free(ctx);
	return rc;
}

void ndx_key_free(struct ndx_key *key)
{
	if (key == NULL)
		return;
	EVP_PKEY_free(key->pkey);
	free(key);
}
