/* Compact JWS with EdDSA/Ed25519 (RFC 7515, RFC 8037): signing, strict
 * parsing and verification (docs/protocol.md "Consent artefacts"). Only one
 * algorithm exists here on purpose: algorithm agility is how "alg":"none"
 * and HMAC-with-a-public-key forgeries happen, so anything but "EdDSA" is a
 * syntax error, and the key always comes from the caller. Base64url and the
 * signature itself are the encode.c and key.c primitives; JSON is
 * jansson. */
#include "ndx/jws.h"

#include <assert.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ndx/encode.h"
#include "ndx/err.h"

struct ndx_jws {
	json_t *header;
	uint8_t *payload; /* decoded, NUL-terminated */
	size_t payload_len;
	char *signing_input; /* "BASE64URL(header).BASE64URL(payload)" */
	size_t signing_input_len;
	uint8_t sig[NDX_ED25519_SIG_LEN];
};

/* The rules every protected header obeys, whether we parse it or sign it. */
static int check_header(const json_t *h, char *err, size_t errcap)
{
	const json_t *alg = json_object_get(h, "alg"), *v;

	if (!json_is_object(h))
		return ndx_fail(err, errcap, NDX_EINVAL, "protected header: not a JSON object");
	if (!json_is_string(alg))
		return ndx_fail(err, errcap, NDX_EINVAL, "protected header: \"alg\" missing");
	if (strcmp(json_string_value(alg), NDX_JWS_ALG) != 0 ||
	    json_string_length(alg) != strlen(NDX_JWS_ALG))
		return ndx_fail(err, errcap, NDX_EINVAL, "protected header: alg \"%.32s\" is not "
			    "accepted (only " NDX_JWS_ALG ")", json_string_value(alg));
	/* RFC 7515 section 4.1.11: a recipient that does not understand a
	 * listed extension must refuse; we understand none. */
	if (json_object_get(h, "crit") != NULL)
		return ndx_fail(err, errcap, NDX_EINVAL, "protected header: \"crit\" is not supported");
	v = json_object_get(h, "kid");
	if (v != NULL && !json_is_string(v))
		return ndx_fail(err, errcap, NDX_EINVAL, "protected header: \"kid\" is not a string");
	v = json_object_get(h, "typ");
	if (v != NULL && !json_is_string(v))
		return ndx_fail(err, errcap, NDX_EINVAL, "protected header: \"typ\" is not a string");
	return NDX_OK;
}

static json_t *load_header(const uint8_t *data, size_t len, char *err, size_t errcap)
{
	json_error_t je;
	json_t *h;

	/* Duplicate members are refused: two readers must never see two
	 * different "alg" values in one header. */
	h = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &je);
	if (h == NULL)
		ndx_fail(err, errcap, NDX_EINVAL, "protected header: invalid JSON: %s", je.text);
	return h;
}

int ndx_jws_sign_header(const struct ndx_key *key, const char *header, size_t header_len,
			const void *payload, size_t len, char **out)
{
	char *h64 = NULL, *p64 = NULL, *s64 = NULL, *text = NULL;
	uint8_t sig[NDX_ED25519_SIG_LEN];
	size_t hl, pl, sl, total;
	json_t *h;
	int rc;

	assert(key != NULL && out != NULL);
	assert(header != NULL && (payload != NULL || len == 0));
	*out = NULL;
	if (!ndx_key_has_private(key))
		return NDX_EINVAL;
	/* Bound the work before encoding: base64 grows by 4/3. */
	if (header_len > NDX_JWS_MAX_BYTES || len > NDX_JWS_MAX_BYTES)
		return NDX_ETOOBIG;
	h = load_header((const uint8_t *)header, header_len, NULL, 0);
	if (h == NULL)
		return NDX_EINVAL;
	rc = check_header(h, NULL, 0);
	json_decref(h);
	if (rc != NDX_OK)
		return rc;

	h64 = ndx_b64_encode((const uint8_t *)header, header_len, 1);
	p64 = ndx_b64_encode(payload, len, 1);
	if (h64 == NULL || p64 == NULL) {
		rc = NDX_ENOMEM;
		goto out;
	}
	hl = strlen(h64);
	pl = strlen(p64);
	/* 86 characters of base64url for the 64-byte signature. */
	total = hl + 1 + pl + 1 + 86;
	if (total > NDX_JWS_MAX_BYTES) {
		rc = NDX_ETOOBIG;
		goto out;
	}
	text = malloc(total + 1);
	if (text == NULL) {
		rc = NDX_ENOMEM;
		goto out;
	}
	memcpy(text, h64, hl);
	text[hl] = '.';
	memcpy(text + hl + 1, p64, pl);
	rc = ndx_sign(key, text, hl + 1 + pl, sig);
	if (rc != NDX_OK)
		goto out;
	s64 = ndx_b64_encode(sig, sizeof sig, 1);
	if (s64 == NULL) {
		rc = NDX_ENOMEM;
		goto out;
	}
	sl = strlen(s64);
	assert(sl == 86);
	text[hl + 1 + pl] = '.';
	memcpy(text + hl + 1 + pl + 1, s64, sl + 1);
	*out = text;
	text = NULL;
	rc = NDX_OK;
out:
	free(h64);
	free(p64);
	free(s64);
	free(text);
	return rc;
}

int ndx_jws_sign(const struct ndx_key *key, const char *typ, const void *payload,
		 size_t len, char **out)
{
	char kid[NDX_KEY_ID_HEX_LEN + 1];
	char *header;
	json_t *h;
	int rc;

	assert(key != NULL && out != NULL);
	*out = NULL;
	ndx_key_id(key, kid);
	/* jansson keeps insertion order, so the header reads alg, kid, typ. */
	h = json_pack("{ssss}", "alg", NDX_JWS_ALG, "kid", kid);
	if (h == NULL)
		return NDX_ENOMEM;
	if (typ != NULL && json_object_set_new(h, "typ", json_string(typ)) != 0) {
		json_decref(h);
		/* json_string refuses text that is not UTF-8. */
		return NDX_EINVAL;
	}
	header = json_dumps(h, JSON_COMPACT);
	json_decref(h);
	if (header == NULL)
		return NDX_ENOMEM;
	rc = ndx_jws_sign_header(key, header, strlen(header), payload, len, out);
	free(header);
	return rc;
}

/* Decodes one base64url part; names the part in the error. */
static int decode_part(const char *p, size_t n, const char *name, uint8_t **out,
		       size_t *outlen, char *err, size_t errcap)
{
	int rc = ndx_b64_decode(p, n, 1, out, outlen);

	if (rc == NDX_EINVAL)
		return ndx_fail(err, errcap, rc, "%s: not base64url without padding", name);
	return rc;
}

int ndx_jws_parse(const char *text, size_t len, struct ndx_jws **out, char *err,
		  size_t errcap)
{
	const char *dot1, *dot2;
	uint8_t *hraw = NULL, *sraw = NULL;
	size_t hlen = 0, slen = 0;
	struct ndx_jws *jws;
	int rc;

	assert(text != NULL || len == 0);
	assert(out != NULL);
	*out = NULL;
	if (len > NDX_JWS_MAX_BYTES)
		return ndx_fail(err, errcap, NDX_ETOOBIG, "JWS is %zu bytes, over the limit of %u",
			    len, NDX_JWS_MAX_BYTES);
	if (len == 0)
		return ndx_fail(err, errcap, NDX_EINVAL, "JWS is empty");
	if (memchr(text, '\0', len) != NULL)
		return ndx_fail(err, errcap, NDX_EINVAL, "JWS contains a NUL byte");
	dot1 = memchr(text, '.', len);
	dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - text)) : NULL;
	if (dot2 == NULL)
		return ndx_fail(err, errcap, NDX_EINVAL, "JWS compact form needs three parts "
			    "separated by '.'");
	if (memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - text)) != NULL)
		return ndx_fail(err, errcap, NDX_EINVAL, "JWS compact form has more than three parts "
			    "(a JWE or a JSON serialization is not accepted)");
	if (dot1 == text)
		return ndx_fail(err, errcap, NDX_EINVAL, "protected header: empty");

	jws = calloc(1, sizeof *jws);
	if (jws == NULL)
		return NDX_ENOMEM;
	rc = decode_part(text, (size_t)(dot1 - text), "protected header", &hraw, &hlen,
			 err, errcap);
	if (rc != NDX_OK)
		goto fail;
	rc = decode_part(dot1 + 1, (size_t)(dot2 - dot1 - 1), "payload", &jws->payload,
			 &jws->payload_len, err, errcap);
	if (rc != NDX_OK)
		goto fail;
	rc = decode_part(dot2 + 1, len - (size_t)(dot2 + 1 - text), "signature", &sraw, &slen,
			 err, errcap);
	if (rc != NDX_OK)
		goto fail;
	if (slen != NDX_ED25519_SIG_LEN) {
		rc = ndx_fail(err, errcap, NDX_EINVAL, "signature: %zu bytes, an Ed25519 signature "
			  "has 64", slen);
		goto fail;
	}
	memcpy(jws->sig, sraw, slen);

	jws->header = load_header(hraw, hlen, err, errcap);
	if (jws->header == NULL) {
		rc = NDX_EINVAL;
		goto fail;
	}
	rc = check_header(jws->header, err, errcap);
	if (rc != NDX_OK)
		goto fail;

	/* The decoder's buffer has room for at least one more byte only when
	 * padding was implied, so terminate a copy instead. */
	{
		uint8_t *p = realloc(jws->payload, jws->payload_len + 1);

		if (p == NULL) {
			rc = NDX_ENOMEM;
			goto fail;
		}
		p[jws->payload_len] = '\0';
		jws->payload = p;
	}
	jws->signing_input_len = (size_t)(dot2 - text);
	jws->signing_input = malloc(jws->signing_input_len);
	if (jws->signing_input == NULL) {
		rc = NDX_ENOMEM;
		goto fail;
	}
	memcpy(jws->signing_input, text, jws->signing_input_len);
	free(hraw);
	free(sraw);
	*out = jws;
	return NDX_OK;
fail:
	free(hraw);
	free(sraw);
	ndx_jws_free(jws);
	return rc;
}

int ndx_jws_verify(const struct ndx_jws *jws, const struct ndx_key *key)
{
	assert(jws != NULL && key != NULL);
	return ndx_verify(key, jws->signing_input, jws->signing_input_len, jws->sig) == NDX_OK
		       ? NDX_OK
		       : NDX_EBADSIG;
}

const json_t *ndx_jws_header(const struct ndx_jws *jws)
{
	return jws->header;
}

const char *ndx_jws_kid(const struct ndx_jws *jws)
{
	return json_string_value(json_object_get(jws->header, "kid"));
}

const char *ndx_jws_typ(const struct ndx_jws *jws)
{
	return json_string_value(json_object_get(jws->header, "typ"));
}

const uint8_t *ndx_jws_payload(const struct ndx_jws *jws, size_t *len)
{
	*len = jws->payload_len;
	return jws->payload;
}

void ndx_jws_free(struct ndx_jws *jws)
{
	if (jws == NULL)
		return;
	json_decref(jws->header);
	free(jws->payload);
	free(jws->signing_input);
	free(jws);
}
