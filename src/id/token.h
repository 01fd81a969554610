/* What ndx-id mints and checks: random secrets (transaction ids, codes,
 * access tokens, session ids), their stored SHA-256 form, PKCE (RFC 7636,
 * S256 only), ID tokens (JWS EdDSA, RFC 8037, or RS256 for the clients that
 * registered it, rsa_sign.h) and the JWK set that publishes both keys.
 * Overview: docs/id.md. */
#ifndef NDX_ID_TOKEN_H
#define NDX_ID_TOKEN_H

#include <jansson.h>
#include <time.h>

#include "ndx/key.h"
#include "rsa_sign.h"
#include "store.h"

#define IDTOK_SECRET_LEN 43 /* base64url of 32 random bytes */

/* Writes a fresh 256-bit secret, base64url, into out. NDX_OK or
 * NDX_ECRYPTO when the system has no randomness. */
int idtok_random(char out[IDTOK_SECRET_LEN + 1]);
/* The hex SHA-256 of text: how secrets are stored and looked up. */
void idtok_hash_hex(const char *text, char out[IDSTORE_HASH_HEX]);
/* Compares two hex SHA-256 strings in constant time; non-zero when equal. */
int idtok_hash_equal(const char *a, const char *b);

/* Non-zero when s is a valid S256 code_challenge (43 base64url chars). */
int idtok_challenge_valid(const char *s);
/* Checks a code_verifier against challenge: NDX_OK, NDX_EINVAL when the
 * verifier is not 43-128 unreserved characters, NDX_EBADSIG when
 * BASE64URL(SHA256(verifier)) differs from challenge. */
int idtok_pkce_check(const char *verifier, const char *challenge);

/* The sid claim of the SSO session whose cookie hashes to session_hash:
 * the SHA-256 hex of that hash, stable for the session's life, naming it
 * without opening it (neither the cookie nor the store's key). */
void idtok_sid(const char *session_hash, char out[IDSTORE_HASH_HEX]);

/* The two signing keys; borrowed. */
struct idtok_keys {
	const struct ndx_key *ed25519;
	const struct idrsa_key *rsa;
};

struct idtok_claims {
	const char *issuer;
	const char *client_id;
	const struct idstore_account *account;
	const char *nonce; /* NULL: none */
	const char *sid;   /* NULL or "": none */
	int profile;       /* non-zero: name and birthdate too */
	time_t auth_time, now, ttl;
};
/* Signs an ID token with alg ("RS256", or EdDSA for anything else: the
 * client's registration); *out is malloc'd (caller frees). Errors as
 * ndx_jws_sign or idrsa_sign, NDX_ENOMEM. */
int idtok_id_token(const struct idtok_keys *keys, const char *alg,
		   const struct idtok_claims *c, char **out);

/* The JWK set {"keys":[{OKP Ed25519 ...}, {RSA ...}]}, new reference, or
 * NULL. */
json_t *idtok_jwks(const struct idtok_keys *keys);

#endif
