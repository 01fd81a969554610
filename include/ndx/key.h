/* Ed25519 signing keys: generation, PEM files (PKCS#8 private keys written
 * with mode 0600, SubjectPublicKeyInfo public keys), raw 32-byte forms and key
 * ids through OpenSSL 3 EVP; signing and verification through libsodium
 * (src/lib/key.c says why). A key is parsed once and
 * reused: struct ndx_key is immutable after creation and may be shared by
 * threads for signing and verification. Overview: docs/protocol.md
 * "Signatures". */
#ifndef NDX_KEY_H
#define NDX_KEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NDX_ED25519_PUBLIC_LEN 32
#define NDX_ED25519_SEED_LEN 32
#define NDX_ED25519_SIG_LEN 64
/* Key id: lower-case hex SHA-256 of the raw 32-byte public key. */
#define NDX_KEY_ID_HEX_LEN 64

struct ndx_key;

/* Each constructor sets *out to a new key the caller frees with ndx_key_free,
 * or leaves it NULL and returns NDX_EINVAL (not an Ed25519 key, bad PEM),
 * NDX_EIO (file unreadable), NDX_ENOMEM or NDX_ECRYPTO. */
int ndx_key_generate(struct ndx_key **out);
int ndx_key_from_seed(const uint8_t seed[NDX_ED25519_SEED_LEN], struct ndx_key **out);
int ndx_key_from_public_raw(const uint8_t pub[NDX_ED25519_PUBLIC_LEN], struct ndx_key **out);
/* Accepts a PEM private key (the public half is derived) or public key. */
int ndx_key_from_pem(const char *pem, size_t len, struct ndx_key **out);
int ndx_key_load(const char *path, struct ndx_key **out);

/* Writes the private key as PKCS#8 PEM to path, created with mode 0600; fails
 * with NDX_EEXIST rather than overwrite an existing file, NDX_EINVAL for a
 * public-only key. The file is written to a temporary name and renamed, so a
 * crash never leaves half a key. */
int ndx_key_save_private(const struct ndx_key *key, const char *path);
/* Writes the public key as PEM (mode 0644), replacing any existing file. */
int ndx_key_save_public(const struct ndx_key *key, const char *path);
/* Returns a malloc'd PEM of the public key (caller frees) or NULL. */
char *ndx_key_public_pem(const struct ndx_key *key);

bool ndx_key_has_private(const struct ndx_key *key);
/* Whether a signature could ever verify under key: its public key is the
 * canonical encoding of a curve point of prime order. A key that is no
 * point verifies nothing; one of small order (docs/security.md T130) is
 * refused by ndx_verify whatever it signed. Costs a scalar multiplication
 * (tens of µs): for checking a key when it is registered, not on each use. */
bool ndx_key_verifiable(const struct ndx_key *key);
void ndx_key_public_raw(const struct ndx_key *key, uint8_t out[NDX_ED25519_PUBLIC_LEN]);
/* Writes the key id (NDX_KEY_ID_HEX_LEN hex digits + NUL) into out. */
void ndx_key_id(const struct ndx_key *key, char out[NDX_KEY_ID_HEX_LEN + 1]);

/* Signs msg (pure Ed25519, RFC 8032). Returns NDX_OK, NDX_EINVAL for a
 * public-only key, NDX_ECRYPTO. */
int ndx_sign(const struct ndx_key *key, const void *msg, size_t len,
	     uint8_t sig[NDX_ED25519_SIG_LEN]);
/* Returns NDX_OK when sig is key's signature of msg, NDX_EBADSIG otherwise. */
int ndx_verify(const struct ndx_key *key, const void *msg, size_t len,
	       const uint8_t sig[NDX_ED25519_SIG_LEN]);

/* Accepts NULL. */
void ndx_key_free(struct ndx_key *key);

#endif
