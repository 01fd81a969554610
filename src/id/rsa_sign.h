/* ndx-id's RS256 key: the RSA key beside the Ed25519 one, for relying
 * parties that registered id_token_signed_response_alg RS256 (OpenID
 * Connect Discovery 1.0 section 3 makes RS256 mandatory to offer). Its
 * file is PKCS#8 PEM, mode 0600; its JWK (kty RSA, n, e, kid, use, alg) is
 * published beside the Ed25519 one; ID tokens for such clients are JWS
 * RS256 (RSASSA-PKCS1-v1_5 with SHA-256, RFC 7518 section 3.3). libndx's
 * jws.c stays EdDSA-only: this is the one place that knows RSA. Overview:
 * docs/id.md. */
#ifndef NDX_ID_RSA_SIGN_H
#define NDX_ID_RSA_SIGN_H

#include <jansson.h>
#include <stddef.h>

#define IDRSA_BITS 2048
#define IDRSA_KID_LEN 43 /* base64url of a SHA-256 JWK thumbprint (RFC 7638) */

struct idrsa_key;

/* Generates a key and writes it to path (which must not exist: NDX_EEXIST)
 * as PKCS#8 PEM, mode 0600. NDX_ECRYPTO, NDX_EIO, NDX_ENOMEM otherwise.
 * *out is NULL on failure; free with idrsa_free. */
int idrsa_create(const char *path, struct idrsa_key **out);
/* Loads the private key at path: NDX_ENOTFOUND when the file does not
 * exist, NDX_EIO when it cannot be read, NDX_ECRYPTO when it is not an
 * RSA private key of at least 2048 bits. */
int idrsa_load(const char *path, struct idrsa_key **out);
void idrsa_free(struct idrsa_key *k);

/* The key's kid (its RFC 7638 thumbprint), NUL-terminated. */
const char *idrsa_kid(const struct idrsa_key *k);
/* The public JWK {kty RSA, n, e, kid, use sig, alg RS256}, new reference,
 * or NULL when out of memory. */
json_t *idrsa_jwk(const struct idrsa_key *k);

/* Signs payload (a JSON text) as a compact JWS RS256 with header
 * {"alg":"RS256","typ":typ,"kid":kid}; *out is malloc'd (caller frees).
 * NDX_ENOMEM, NDX_ECRYPTO. */
int idrsa_sign(const struct idrsa_key *k, const char *typ, const char *payload, char **out);
/* Checks that jws is a compact JWS RS256 signed by k (header alg RS256,
 * no other algorithm accepted) and returns its payload in *payload
 * (malloc'd, NUL-terminated, caller frees). NDX_EINVAL when malformed,
 * NDX_EBADSIG when the signature does not verify, NDX_ENOMEM. */
int idrsa_verify(const struct idrsa_key *k, const char *jws, char **payload, size_t *len);

#endif
