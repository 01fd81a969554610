/* JSON Web Signature (RFC 7515) in compact serialization, restricted to one
 * algorithm: "EdDSA" with Ed25519 keys (RFC 8037). Parsing is strict: three
 * base64url parts without padding, a protected header that is one JSON
 * object without duplicate members, "alg" exactly "EdDSA" ("none", HMAC and
 * every other algorithm are refused), no "crit", a 64-byte signature and a
 * size cap. The verification key is always the caller's, never one named by
 * the header ("jwk", "jku", "x5u" are ignored). Overview: docs/protocol.md
 * "Consent artefacts". */
#ifndef NDX_JWS_H
#define NDX_JWS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "ndx/key.h"

#define NDX_JWS_ALG "EdDSA"
/* Largest compact serialization ndx_jws_parse accepts or ndx_jws_sign
 * produces, in bytes. */
#define NDX_JWS_MAX_BYTES (16u * 1024u)

struct ndx_jws;

/* Signs payload[0..len) with key under the protected header
 * {"alg":"EdDSA","kid":<ndx_key_id(key)>,"typ":<typ>} (members in that
 * order, compact JSON; "typ" left out when typ is NULL). On success sets *out
 * to the malloc'd NUL-terminated compact serialization (caller frees).
 * Returns NDX_EINVAL for a public-only key, NDX_ETOOBIG when the result would
 * exceed NDX_JWS_MAX_BYTES, NDX_ENOMEM, NDX_ECRYPTO; *out stays NULL then. */
int ndx_jws_sign(const struct ndx_key *key, const char *typ, const void *payload,
		 size_t len, char **out);

/* As ndx_jws_sign with the protected header given as JSON text, used
 * byte for byte (base64url of exactly these bytes). The header must pass
 * the same checks as in ndx_jws_parse, else NDX_EINVAL. This is how a
 * published vector with its own header is reproduced. */
int ndx_jws_sign_header(const struct ndx_key *key, const char *header, size_t header_len,
			const void *payload, size_t len, char **out);

/* Parses text[0..len) strictly (see the top of this file) without checking
 * the signature. On success sets *out to a new object the caller frees with
 * ndx_jws_free; on failure leaves *out NULL, returns NDX_EINVAL (or
 * NDX_ETOOBIG over NDX_JWS_MAX_BYTES, NDX_ENOMEM) and, when err is not
 * NULL, writes the reason into err (errcap bytes). text need not stay valid
 * after the call. */
int ndx_jws_parse(const char *text, size_t len, struct ndx_jws **out, char *err,
		  size_t errcap);

/* Returns NDX_OK when jws carries key's signature over its signing input,
 * NDX_EBADSIG otherwise (including a key that is not the signer's). */
int ndx_jws_verify(const struct ndx_jws *jws, const struct ndx_key *key);

/* Accessors; the results are borrowed and valid while jws lives. */
const json_t *ndx_jws_header(const struct ndx_jws *jws);
/* The header's "kid" / "typ", or NULL when absent. */
const char *ndx_jws_kid(const struct ndx_jws *jws);
const char *ndx_jws_typ(const struct ndx_jws *jws);
/* The decoded payload (*len bytes, followed by a NUL not counted in *len). */
const uint8_t *ndx_jws_payload(const struct ndx_jws *jws, size_t *len);

/* Accepts NULL. */
void ndx_jws_free(struct ndx_jws *jws);

#endif
