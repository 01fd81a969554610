/* libFuzzer target for compact JWS (include/ndx/jws.h). The first byte
 * chooses the mode: even - ndx_jws_parse of the rest, then
 * ndx_jws_verify with the fixed key; odd - the rest is a payload signed
 * with the fixed key (ndx_jws_sign), which must parse back to the same
 * payload and verify, and stop verifying when any one character of the
 * serialization changes. Invariants of parsing: only "EdDSA" is ever
 * accepted, the size cap holds, the accessors agree with the header, and
 * verification returns only NDX_OK or NDX_EBADSIG. How to run:
 * tests/fuzz/README.md. */
#include <string.h>

#include "fuzz.h"
#include "ndx/jws.h"

#define ERR_CAP 256

static struct ndx_key *key;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	key = fuzz_key();
	return 0;
}

static void parse_and_verify(const uint8_t *data, size_t size)
{
	char *text = fuzz_strndup(data, size);
	char *err = malloc(ERR_CAP);
	struct ndx_jws *jws = NULL;
	const json_t *hdr;
	const uint8_t *payload;
	size_t plen = (size_t)-1;
	int rc;

	FUZZ_CHECK(err != NULL);
	err[0] = '\0';
	rc = ndx_jws_parse(text, size, &jws, err, ERR_CAP);
	FUZZ_CHECK(strnlen(err, ERR_CAP) < ERR_CAP);
	if (rc != NDX_OK) {
		FUZZ_CHECK(jws == NULL);
		FUZZ_CHECK(rc == NDX_EINVAL || rc == NDX_ETOOBIG || rc == NDX_ENOMEM);
		FUZZ_CHECK(rc != NDX_ETOOBIG || size > NDX_JWS_MAX_BYTES);
		goto out;
	}
	FUZZ_CHECK(jws != NULL && size <= NDX_JWS_MAX_BYTES);
	hdr = ndx_jws_header(jws);
	FUZZ_CHECK(json_is_object(hdr));
	FUZZ_CHECK(strcmp(json_string_value(json_object_get(hdr, "alg")), NDX_JWS_ALG) == 0);
	FUZZ_CHECK(json_object_get(hdr, "crit") == NULL);
	if (ndx_jws_kid(jws))
		FUZZ_CHECK(strcmp(ndx_jws_kid(jws),
				  json_string_value(json_object_get(hdr, "kid"))) == 0);
	if (ndx_jws_typ(jws))
		FUZZ_CHECK(strcmp(ndx_jws_typ(jws),
				  json_string_value(json_object_get(hdr, "typ"))) == 0);
	payload = ndx_jws_payload(jws, &plen);
	FUZZ_CHECK(payload != NULL && plen < size && payload[plen] == '\0');
	rc = ndx_jws_verify(jws, key);
	FUZZ_CHECK(rc == NDX_OK || rc == NDX_EBADSIG);
out:
	ndx_jws_free(jws);
	free(err);
	free(text);
}

static void round_trip(const uint8_t *data, size_t size)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	struct ndx_jws *jws = NULL;
	const uint8_t *payload;
	char *out = NULL, *copy;
	size_t plen, n, at;
	int rc;

	rc = ndx_jws_sign(key, size & 1 ? "ndx-fuzz+jwt" : NULL, data, size, &out);
	if (rc == NDX_ETOOBIG) {
		FUZZ_CHECK(out == NULL && size > NDX_JWS_MAX_BYTES / 2);
		return;
	}
	FUZZ_CHECK(rc == NDX_OK && out != NULL);
	n = strlen(out);
	FUZZ_CHECK(n <= NDX_JWS_MAX_BYTES);
	FUZZ_CHECK(ndx_jws_parse(out, n, &jws, NULL, 0) == NDX_OK);
	payload = ndx_jws_payload(jws, &plen);
	FUZZ_CHECK(plen == size && (size == 0 || memcmp(payload, data, size) == 0));
	FUZZ_CHECK(ndx_jws_verify(jws, key) == NDX_OK);
	ndx_jws_free(jws);
	jws = NULL;

	/* One changed character (never a '.') must break parse or verify. */
	copy = fuzz_strndup((const uint8_t *)out, n);
	at = size ? (size_t)data[0] * 131u % n : n / 2;
	while (copy[at] == '.')
		at = (at + 1) % n;
	for (const char *a = alphabet; *a; a++) {
		if (*a != copy[at]) {
			copy[at] = *a;
			break;
		}
	}
	if (ndx_jws_parse(copy, n, &jws, NULL, 0) == NDX_OK) {
		/* The last base64url character of a part may carry unused bits;
		 * parsing must refuse non-canonical encodings, so an accepted
		 * change is a change of the content. */
		FUZZ_CHECK(ndx_jws_verify(jws, key) == NDX_EBADSIG);
	}
	ndx_jws_free(jws);
	free(copy);
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] & 1)
		round_trip(data + 1, size - 1);
	else
		parse_and_verify(data + 1, size - 1);
	return 0;
}
