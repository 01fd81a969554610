/* Ed25519 keys through OpenSSL 3 EVP (docs/protocol.md "Signatures"):
 * generation, raw and PEM forms, key files, key ids, signing and
 * verification. A struct ndx_key owns one EVP_PKEY and caches the raw public
 * key and key id at construction, because OpenSSL key decoding and export
 * are slow next to a signature and the gateway needs both on every
 * exchange. Keys are immutable afterwards, so threads may share them.
 *
 * Signing and verification keep their OpenSSL contexts per thread (one
 * for signing, KEPT_VERIFY for verifying, each bound to one key): a
 * context made afresh costs about eight allocations more a signature than
 * one initialised again for the same key (OpenSSL 3's EVP_DigestSignInit
 * with a NULL key), and the gateway's exchange loops sign and verify on
 * every exchange. A context is matched to its key by the key's serial, not
 * its address, so a key freed and another made at the same address never
 * meet the first one's context; a kept context holds a reference to its
 * EVP_PKEY until the thread signs with another key or ends. */
#include "ndx/key.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
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
	uint64_t serial;	/* unique in the process, never 0 */
	bool has_private;
	uint8_t pub[NDX_ED25519_PUBLIC_LEN];
	char id[NDX_KEY_ID_HEX_LEN + 1];
};

static atomic_uint_fast64_t key_serials;

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
	key->serial = atomic_fetch_add_explicit(&key_serials, 1, memory_order_relaxed) + 1;
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

#define KEPT_VERIFY 4

struct kept_ctx {
	uint64_t serial;	/* of the key the context was made for; 0: none */
	EVP_MD_CTX *ctx;
};

struct kept_ctxs {
	struct kept_ctx sign;
	struct kept_ctx verify[KEPT_VERIFY];
	unsigned next;		/* the verifying slot taken next */
};

/* The pointer is kept in a thread-local variable too, so that leak checkers
 * see the main thread's contexts, which no destructor frees, as reachable. */
static _Thread_local struct kept_ctxs *kept;
static pthread_key_t kept_key;
static pthread_once_t kept_once = PTHREAD_ONCE_INIT;
static bool kept_key_ok;

static void kept_free(void *p)
{
	struct kept_ctxs *k = p;

	if (k == NULL)
		return;
	EVP_MD_CTX_free(k->sign.ctx);
	for (size_t i = 0; i < KEPT_VERIFY; i++)
		EVP_MD_CTX_free(k->verify[i].ctx);
	free(k);
}

static void kept_key_create(void)
{
	kept_key_ok = pthread_key_create(&kept_key, kept_free) == 0;
}

/* This thread's contexts, or NULL when they cannot be had (no memory): the
 * caller then makes a context for the one call. */
static struct kept_ctxs *kept_get(void)
{
	if (kept != NULL)
		return kept;
	pthread_once(&kept_once, kept_key_create);
	if (!kept_key_ok)
		return NULL;
	kept = calloc(1, sizeof *kept);
	if (kept != NULL && pthread_setspecific(kept_key, kept) != 0) {
		free(kept);
		kept = NULL;
	}
	return kept;
}

/* A context initialised for signing (verify false) or verifying with key:
 * a kept one initialised again when the slot is key's, else a new one made
 * into the slot (slot NULL: a context for this call alone, which the caller
 * frees). NULL on failure, the slot then empty. */
static EVP_MD_CTX *ctx_for(const struct ndx_key *key, bool verify, struct kept_ctx *slot)
{
	EVP_MD_CTX *ctx;
	int ok;

	if (slot != NULL && slot->serial == key->serial) {
		/* OpenSSL 3: a NULL key keeps the context's key and its
		 * provider context. */
		ok = verify ? EVP_DigestVerifyInit(slot->ctx, NULL, NULL, NULL, NULL)
			    : EVP_DigestSignInit(slot->ctx, NULL, NULL, NULL, NULL);
		if (ok == 1)
			return slot->ctx;
		ERR_clear_error();
	}
	if (slot != NULL) {
		EVP_MD_CTX_free(slot->ctx);
		slot->ctx = NULL;
		slot->serial = 0;
	}
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL)
		return NULL;
	/* Ed25519 is pure: no message digest is named. */
	ok = verify ? EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key->pkey)
		    : EVP_DigestSignInit(ctx, NULL, NULL, NULL, key->pkey);
	if (ok != 1) {
		ERR_clear_error();
		EVP_MD_CTX_free(ctx);
		return NULL;
	}
	if (slot != NULL) {
		slot->ctx = ctx;
		slot->serial = key->serial;
	}
	return ctx;
}

/* The verifying slot for key: its own if it has one, else the next in turn. */
static struct kept_ctx *verify_slot(struct kept_ctxs *k, const struct ndx_key *key)
{
	for (size_t i = 0; i < KEPT_VERIFY; i++)
		if (k->verify[i].serial == key->serial)
			return &k->verify[i];
	k->next = (k->next + 1) % KEPT_VERIFY;
	return &k->verify[k->next];
}

int ndx_sign(const struct ndx_key *key, const void *msg, size_t len,
	     uint8_t sig[NDX_ED25519_SIG_LEN])
{
	static const uint8_t empty = 0;
	size_t siglen = NDX_ED25519_SIG_LEN;
	struct kept_ctxs *k;
	struct kept_ctx *slot;
	EVP_MD_CTX *ctx;
	int rc = NDX_OK;

	if (!key->has_private)
		return NDX_EINVAL;
	k = kept_get();
	slot = k != NULL ? &k->sign : NULL;
	ctx = ctx_for(key, false, slot);
	if (ctx == NULL)
		return NDX_ECRYPTO;
	if (EVP_DigestSign(ctx, sig, &siglen, len ? msg : &empty, len) != 1 ||
	    siglen != NDX_ED25519_SIG_LEN) {
		ERR_clear_error();
		rc = NDX_ECRYPTO;
		if (slot != NULL) {
			/* Not trusted again after a failure. */
			slot->serial = 0;
			EVP_MD_CTX_free(slot->ctx);
			slot->ctx = NULL;
			ctx = NULL;
		}
	}
	if (slot == NULL)
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
	struct kept_ctxs *k = kept_get();
	struct kept_ctx *slot = k != NULL ? verify_slot(k, key) : NULL;
	EVP_MD_CTX *ctx = ctx_for(key, true, slot);
	int rc;

	if (ctx == NULL)
		return NDX_ECRYPTO;
	/* A signature that does not verify leaves the context fit to be
	 * initialised again (tests/unit/test_key.c). */
	if (EVP_DigestVerify(ctx, sig, NDX_ED25519_SIG_LEN, len ? msg : &empty, len) == 1)
		rc = NDX_OK;
	else
		rc = NDX_EBADSIG;
	ERR_clear_error();
	if (slot == NULL)
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
