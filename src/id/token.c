/* Secrets, PKCE, ID tokens and the JWK set (token.h). Random bytes come
 * from OpenSSL's CSPRNG, hashes from libndx's SHA-256, signatures from
 * libndx's JWS (EdDSA only) or rsa_sign.c (RS256). The key id in each token's header is libndx's
 * ndx_key_id, the same one the JWK set publishes, so a relying party finds
 * the key by kid. Overview: docs/id.md. */
#include "token.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "ndx/encode.h"
#include "ndx/err.h"
#include "ndx/hash.h"
#include "ndx/jws.h"

int idtok_random(char out[IDTOK_SECRET_LEN + 1])
{
	uint8_t raw[32];
	char *b;

	out[0] = '\0';
	if (RAND_bytes(raw, sizeof raw) != 1)
		return NDX_ECRYPTO;
	b = ndx_b64_encode(raw, sizeof raw, 1);
	OPENSSL_cleanse(raw, sizeof raw);
	if (!b)
		return NDX_ENOMEM;
	memcpy(out, b, IDTOK_SECRET_LEN);
	out[IDTOK_SECRET_LEN] = '\0';
	OPENSSL_cleanse(b, strlen(b));
	free(b);
	return NDX_OK;
}

void idtok_hash_hex(const char *text, char out[IDSTORE_HASH_HEX])
{
	uint8_t md[NDX_SHA256_LEN];

	ndx_sha256(text, strlen(text), md);
	ndx_hex_encode(md, sizeof md, out);
}

int idtok_hash_equal(const char *a, const char *b)
{
	if (strlen(a) != IDSTORE_HASH_HEX - 1 || strlen(b) != IDSTORE_HASH_HEX - 1)
		return 0;
	return CRYPTO_memcmp(a, b, IDSTORE_HASH_HEX - 1) == 0;
}

static int b64url_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

int idtok_challenge_valid(const char *s)
{
	size_t n = strlen(s);

	if (n != 43)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (!b64url_char((unsigned char)s[i]))
			return 0;
	}
	return 1;
}

int idtok_pkce_check(const char *verifier, const char *challenge)
{
	size_t n = strlen(verifier);
	uint8_t md[NDX_SHA256_LEN];
	char *b;
	int ok;

	if (n < 43 || n > 128)
		return NDX_EINVAL;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)verifier[i];

		if (!b64url_char(c) && c != '.' && c != '~')
			return NDX_EINVAL;
	}
	ndx_sha256(verifier, n, md);
	if (!(b = ndx_b64_encode(md, sizeof md, 1)))
		return NDX_ENOMEM;
	ok = strlen(challenge) == strlen(b) && CRYPTO_memcmp(b, challenge, strlen(b)) == 0;
	free(b);
	return ok ? NDX_OK : NDX_EBADSIG;
}

void idtok_sid(const char *session_hash, char out[IDSTORE_HASH_HEX])
{
	idtok_hash_hex(session_hash, out);
}

int idtok_id_token(const struct idtok_keys *keys, const char *alg,
		   const struct idtok_claims *c, char **out)
{
	json_t *p = json_object();
	char *text;
	int rc;

	*out = NULL;
	if (!p)
		return NDX_ENOMEM;
	json_object_set_new(p, "iss", json_string(c->issuer));
	json_object_set_new(p, "sub", json_string(c->account->pin));
	json_object_set_new(p, "aud", json_string(c->client_id));
	json_object_set_new(p, "exp", json_integer((json_int_t)(c->now + c->ttl)));
	json_object_set_new(p, "iat", json_integer((json_int_t)c->now));
	json_object_set_new(p, "auth_time", json_integer((json_int_t)c->auth_time));
	if (c->nonce)
		json_object_set_new(p, "nonce", json_string(c->nonce));
	if (c->sid && c->sid[0])
		json_object_set_new(p, "sid", json_string(c->sid));
	if (c->profile) {
		json_object_set_new(p, "name", json_string(c->account->name));
		json_object_set_new(p, "birthdate", json_string(c->account->birthdate));
	}
	text = json_dumps(p, JSON_COMPACT);
	json_decref(p);
	if (!text)
		return NDX_ENOMEM;
	if (alg && strcmp(alg, "RS256") == 0)
		rc = idrsa_sign(keys->rsa, "JWT", text, out);
	else
		rc = ndx_jws_sign(keys->ed25519, "JWT", text, strlen(text), out);
	free(text);
	return rc;
}

json_t *idtok_jwks(const struct idtok_keys *keys)
{
	const struct ndx_key *key = keys->ed25519;
	uint8_t pub[NDX_ED25519_PUBLIC_LEN];
	char kid[NDX_KEY_ID_HEX_LEN + 1];
	char *x;
	json_t *jwk;

	ndx_key_public_raw(key, pub);
	ndx_key_id(key, kid);
	if (!(x = ndx_b64_encode(pub, sizeof pub, 1)))
		return NULL;
	jwk = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "kty", "OKP", "crv", "Ed25519", "x", x,
			"kid", kid, "use", "sig", "alg", "EdDSA");
	free(x);
	if (!jwk)
		return NULL;
	return json_pack("{s:[o, o]}", "keys", jwk, idrsa_jwk(keys->rsa));
}
