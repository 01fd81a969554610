/* Unit tests for include/ndx/jws.h: the RFC 8037 appendix A.4/A.5 vector
 * byte for byte, the header ndx writes, and the refusals a strict parser
 * owes: "none", HMAC, crit, duplicate members, bad base64url, a wrong
 * number of parts, the size cap, and tampered signatures, payloads and
 * headers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ndx/encode.h"
#include "ndx/err.h"
#include "ndx/jws.h"
#include "ndx/key.h"

/* RFC 8037 appendix A.1 (private key "d", public key "x"; the same key as
 * RFC 8032 section 7.1 TEST 1) and appendix A.4 (the JWS of "Example of
 * Ed25519 signing" under the header {"alg":"EdDSA"}). */
#define A1_D "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
#define A1_X "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
#define A4_HEADER "{\"alg\":\"EdDSA\"}"
#define A4_PAYLOAD "Example of Ed25519 signing"
#define A4_HEADER_B64 "eyJhbGciOiJFZERTQSJ9"
#define A4_PAYLOAD_B64 "RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"
#define A4_SIG_B64                                                                          \
	"hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
#define A4_JWS A4_HEADER_B64 "." A4_PAYLOAD_B64 "." A4_SIG_B64

/* RFC 8032 section 7.1 TEST 1 in hex, to tie A.1 to the RFC 8032 vector. */
#define T1_SEED_HEX "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
#define T1_PUB_HEX "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"

struct keys {
	struct ndx_key *priv, *pub, *other;
};

static void b64u_raw(const char *s, uint8_t *out, size_t want)
{
	uint8_t *raw = NULL;
	size_t len = 0;

	assert_int_equal(ndx_b64_decode(s, strlen(s), 1, &raw, &len), NDX_OK);
	assert_int_equal(len, want);
	memcpy(out, raw, len);
	free(raw);
}

static int setup(void **state)
{
	struct keys *k = calloc(1, sizeof *k);
	uint8_t d[32], x[32];

	if (k == NULL)
		return -1;
	b64u_raw(A1_D, d, sizeof d);
	b64u_raw(A1_X, x, sizeof x);
	if (ndx_key_from_seed(d, &k->priv) != NDX_OK ||
	    ndx_key_from_public_raw(x, &k->pub) != NDX_OK || ndx_key_generate(&k->other) != NDX_OK)
		return -1;
	*state = k;
	return 0;
}

static int teardown(void **state)
{
	struct keys *k = *state;

	ndx_key_free(k->priv);
	ndx_key_free(k->pub);
	ndx_key_free(k->other);
	free(k);
	return 0;
}

/* Joins three already-encoded parts. */
static char *join3(const char *h, const char *p, const char *s)
{
	size_t n = strlen(h) + strlen(p) + strlen(s) + 3;
	char *t = malloc(n);

	assert_non_null(t);
	snprintf(t, n, "%s.%s.%s", h, p, s);
	return t;
}

/* A compact JWS with raw header and payload text and the base64url
 * signature sig (unsigned: for parser tests). */
static char *forge(const char *header, const char *payload, const char *sig)
{
	char *h = ndx_b64_encode((const uint8_t *)header, strlen(header), 1);
	char *p = ndx_b64_encode((const uint8_t *)payload, strlen(payload), 1);
	char *t;

	assert_non_null(h);
	assert_non_null(p);
	t = join3(h, p, sig);
	free(h);
	free(p);
	return t;
}

static int parse_rc(const char *text, char *err, size_t errcap)
{
	struct ndx_jws *jws = NULL;
	int rc = ndx_jws_parse(text, strlen(text), &jws, err, errcap);

	if (rc != NDX_OK)
		assert_null(jws);
	ndx_jws_free(jws);
	return rc;
}

static void test_rfc8037_a1_key(void **state)
{
	struct keys *k = *state;
	uint8_t seed[32], pub[32], want[32], got[32];

	/* A.1's d and x are RFC 8032 TEST 1's secret and public key. */
	b64u_raw(A1_D, seed, sizeof seed);
	b64u_raw(A1_X, pub, sizeof pub);
	assert_int_equal(ndx_hex_decode(T1_SEED_HEX, 64, want, 32), NDX_OK);
	assert_memory_equal(seed, want, 32);
	assert_int_equal(ndx_hex_decode(T1_PUB_HEX, 64, want, 32), NDX_OK);
	assert_memory_equal(pub, want, 32);
	ndx_key_public_raw(k->priv, got);
	assert_memory_equal(got, pub, 32);
}

static void test_rfc8037_a4_sign(void **state)
{
	struct keys *k = *state;
	char *out = NULL;

	assert_int_equal(ndx_jws_sign_header(k->priv, A4_HEADER, strlen(A4_HEADER), A4_PAYLOAD,
					     strlen(A4_PAYLOAD), &out),
			 NDX_OK);
	assert_string_equal(out, A4_JWS);
	free(out);
}

static void test_rfc8037_a5_verify(void **state)
{
	struct keys *k = *state;
	struct ndx_jws *jws = NULL;
	const uint8_t *p;
	size_t plen;

	assert_int_equal(ndx_jws_parse(A4_JWS, strlen(A4_JWS), &jws, NULL, 0), NDX_OK);
	assert_int_equal(ndx_jws_verify(jws, k->pub), NDX_OK);
	assert_int_equal(ndx_jws_verify(jws, k->priv), NDX_OK);
	assert_int_equal(ndx_jws_verify(jws, k->other), NDX_EBADSIG);
	p = ndx_jws_payload(jws, &plen);
	assert_int_equal(plen, strlen(A4_PAYLOAD));
	assert_memory_equal(p, A4_PAYLOAD, plen);
	assert_int_equal(p[plen], '\0');
	assert_null(ndx_jws_kid(jws));
	assert_null(ndx_jws_typ(jws));
	assert_string_equal(json_string_value(json_object_get(ndx_jws_header(jws), "alg")),
			    "EdDSA");
	ndx_jws_free(jws);
}

static void test_sign_header_and_round_trip(void **state)
{
	struct keys *k = *state;
	char kid[NDX_KEY_ID_HEX_LEN + 1], want[256], *out = NULL, *hdr;
	struct ndx_jws *jws = NULL;
	const uint8_t *p;
	size_t plen;

	ndx_key_id(k->priv, kid);
	assert_int_equal(ndx_jws_sign(k->priv, "ndx-consent+jwt", "{}", 2, &out), NDX_OK);
	/* The header is exactly these bytes, members in this order. */
	snprintf(want, sizeof want, "{\"alg\":\"EdDSA\",\"kid\":\"%s\",\"typ\":\"ndx-consent+jwt\"}",
		 kid);
	hdr = ndx_b64_encode((const uint8_t *)want, strlen(want), 1);
	assert_non_null(hdr);
	assert_memory_equal(out, hdr, strlen(hdr));
	assert_int_equal(out[strlen(hdr)], '.');
	free(hdr);

	assert_int_equal(ndx_jws_parse(out, strlen(out), &jws, NULL, 0), NDX_OK);
	assert_int_equal(ndx_jws_verify(jws, k->pub), NDX_OK);
	assert_string_equal(ndx_jws_kid(jws), kid);
	assert_string_equal(ndx_jws_typ(jws), "ndx-consent+jwt");
	p = ndx_jws_payload(jws, &plen);
	assert_int_equal(plen, 2);
	assert_memory_equal(p, "{}", 2);
	ndx_jws_free(jws);
	free(out);

	/* No typ: header is alg and kid only; an empty payload is allowed. */
	assert_int_equal(ndx_jws_sign(k->priv, NULL, "", 0, &out), NDX_OK);
	assert_int_equal(ndx_jws_parse(out, strlen(out), &jws, NULL, 0), NDX_OK);
	assert_null(ndx_jws_typ(jws));
	assert_int_equal(ndx_jws_verify(jws, k->priv), NDX_OK);
	ndx_jws_payload(jws, &plen);
	assert_int_equal(plen, 0);
	ndx_jws_free(jws);
	free(out);
}

static void test_sign_refusals(void **state)
{
	struct keys *k = *state;
	char *out = (char *)"untouched", *big;
	const char *none = "{\"alg\":\"none\"}", *crit = "{\"alg\":\"EdDSA\",\"crit\":[\"b64\"]}";

	assert_int_equal(ndx_jws_sign(k->pub, NULL, "x", 1, &out), NDX_EINVAL);
	assert_null(out);
	assert_int_equal(ndx_jws_sign_header(k->priv, none, strlen(none), "x", 1, &out),
			 NDX_EINVAL);
	assert_null(out);
	assert_int_equal(ndx_jws_sign_header(k->priv, crit, strlen(crit), "x", 1, &out),
			 NDX_EINVAL);
	assert_int_equal(ndx_jws_sign_header(k->priv, "{", 1, "x", 1, &out), NDX_EINVAL);
	assert_int_equal(ndx_jws_sign(k->priv, "bad\xff", "x", 1, &out), NDX_EINVAL);
	big = calloc(1, NDX_JWS_MAX_BYTES);
	assert_non_null(big);
	memset(big, 'a', NDX_JWS_MAX_BYTES - 1);
	assert_int_equal(ndx_jws_sign(k->priv, NULL, big, NDX_JWS_MAX_BYTES - 1, &out),
			 NDX_ETOOBIG);
	assert_null(out);
	free(big);
}

static void test_refuse_alg_none(void **state)
{
	char err[256], *t;

	(void)state;
	/* The classic: "none" with an empty signature ... */
	t = join3("eyJhbGciOiJub25lIn0", A4_PAYLOAD_B64, "");
	assert_int_equal(parse_rc(t, err, sizeof err), NDX_EINVAL);
	free(t);
	/* ... and with a signature-sized tail, so only alg can be the reason. */
	t = forge("{\"alg\":\"none\"}", A4_PAYLOAD, A4_SIG_B64);
	assert_int_equal(parse_rc(t, err, sizeof err), NDX_EINVAL);
	assert_non_null(strstr(err, "alg \"none\" is not accepted"));
	free(t);
	/* Nor any other spelling. */
	t = forge("{\"alg\":\"NONE\"}", A4_PAYLOAD, A4_SIG_B64);
	assert_int_equal(parse_rc(t, err, sizeof err), NDX_EINVAL);
	free(t);
	t = forge("{\"alg\":\"eddsa\"}", A4_PAYLOAD, A4_SIG_B64);
	assert_int_equal(parse_rc(t, err, sizeof err), NDX_EINVAL);
	free(t);
	t = forge("{\"typ\":\"JWT\"}", A4_PAYLOAD, A4_SIG_B64);
	assert_int_equal(parse_rc(t, err, sizeof err), NDX_EINVAL);
	assert_non_null(strstr(err, "\"alg\" missing"));
	free(t);
	t = forge("{\"alg\":null}", A4_PAYLOAD, A4_SIG_B64);
	assert_int_equal(parse_rc(t, err, sizeof err), NDX_EINVAL);
	free(t);
}

static void test_refuse_alg_hs256(void **state)
{
	char err[256], *t;

	(void)state;
	/* RFC 7515 appendix A.1's HS256 JWS: refused (its MAC is 32 bytes). */
	t = join3("eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9",
		  "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb"
		  "290Ijp0cnVlfQ",
		  "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
	assert_int_equal(parse_rc(t, err, sizeof err), NDX_EINVAL);
	free(t);
	/* With a 64-byte tail the header itself is what is refused: an HMAC
	 * keyed with our public key must never be checked at all. */
	t = forge("{\"alg\":\"HS256\"}", A4_PAYLOAD, A4_SIG_B64);
	assert_int_equal(parse_rc(t, err, sizeof err), NDX_EINVAL);
	assert_non_null(strstr(err, "alg \"HS256\" is not accepted"));
	free(t);
	t = forge("{\"alg\":\"ES256\"}", A4_PAYLOAD, A4_SIG_B64);
	assert_int_equal(parse_rc(t, err, sizeof err), NDX_EINVAL);
	free(t);
	t = forge("{\"alg\":\"Ed25519\"}", A4_PAYLOAD, A4_SIG_B64);
	assert_int_equal(parse_rc(t, err, sizeof err), NDX_EINVAL);
	free(t);
}

static void test_refuse_bad_header(void **state)
{
	static const char *const headers[] = {
		"{\"alg\":\"EdDSA\",\"crit\":[\"exp\"]}",   /* crit: not supported */
		"{\"alg\":\"EdDSA\",\"alg\":\"none\"}",     /* duplicate member */
		"{\"alg\":\"EdDSA\",\"kid\":7}",            /* kid not a string */
		"{\"alg\":\"EdDSA\",\"typ\":[\"JWT\"]}",    /* typ not a string */
		"[\"EdDSA\"]",                              /* not an object */
		"{\"alg\":\"EdDSA\"} {}",                   /* trailing data */
		"{\"alg\":\"EdDSA\"",                       /* not JSON */
		"{\"alg\":\"EdD\\u0000SA\"}",               /* NUL in a string */
		"",                                         /* empty */
	};
	char err[256], *t;

	(void)state;
	for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
		t = forge(headers[i], A4_PAYLOAD, A4_SIG_B64);
		err[0] = '\0';
		assert_int_equal(parse_rc(t, err, sizeof err), NDX_EINVAL);
		assert_true(err[0] != '\0');
		free(t);
	}
}

static void test_refuse_bad_base64(void **state)
{
	static const char *const texts[] = {
		/* padding */
		"eyJhbGciOiJFZERTQSJ9=." A4_PAYLOAD_B64 "." A4_SIG_B64,
		A4_HEADER_B64 "." A4_PAYLOAD_B64 "=." A4_SIG_B64,
		A4_HEADER_B64 "." A4_PAYLOAD_B64 "." A4_SIG_B64 "==",
		/* the standard alphabet's + and / */
		A4_HEADER_B64 "." A4_PAYLOAD_B64 "."
			      "hgyY0il/MGCjP0JzlnLWG1PPOt7+09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7"
			      "sVvpAr_MuM0KAg",
		/* characters outside any alphabet, whitespace */
		A4_HEADER_B64 ".RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc*." A4_SIG_B64,
		A4_HEADER_B64 " ." A4_PAYLOAD_B64 "." A4_SIG_B64,
		A4_HEADER_B64 "." A4_PAYLOAD_B64 "." A4_SIG_B64 "\n",
		/* a non-canonical last character (unused bits set) */
		A4_HEADER_B64 "." A4_PAYLOAD_B64 "."
			      "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7"
			      "sVvpAr_MuM0KAh",
		/* an impossible length */
		A4_HEADER_B64 "." A4_PAYLOAD_B64 "." A4_SIG_B64 "A",
		/* a signature one byte short */
		A4_HEADER_B64 "." A4_PAYLOAD_B64 "."
			      "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7"
			      "sVvpAr_MuM0K",
	};
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
		assert_int_equal(parse_rc(texts[i], err, sizeof err), NDX_EINVAL);
}

static void test_refuse_part_count(void **state)
{
	static const char *const texts[] = {
		A4_JWS ".",
		A4_JWS "." A4_SIG_B64,
		/* five parts: the shape of a JWE */
		A4_HEADER_B64 ".." A4_PAYLOAD_B64 ".." A4_SIG_B64,
		A4_HEADER_B64 "." A4_PAYLOAD_B64,
		A4_HEADER_B64 A4_PAYLOAD_B64 A4_SIG_B64,
		"." A4_PAYLOAD_B64 "." A4_SIG_B64,
		"..",
		"",
	};
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
		assert_int_equal(parse_rc(texts[i], err, sizeof err), NDX_EINVAL);
	/* A JSON serialization is not compact. */
	assert_int_equal(parse_rc("{\"payload\":\"" A4_PAYLOAD_B64 "\"}", err, sizeof err),
			 NDX_EINVAL);
}

static void test_refuse_nul_and_size(void **state)
{
	struct ndx_jws *jws = NULL;
	char text[] = A4_JWS, err[256], *big;

	(void)state;
	/* A NUL inside the given length is not silently cut. */
	text[5] = '\0';
	assert_int_equal(ndx_jws_parse(text, sizeof text - 1, &jws, err, sizeof err), NDX_EINVAL);
	assert_null(jws);
	big = malloc(NDX_JWS_MAX_BYTES + 2);
	assert_non_null(big);
	memset(big, 'A', NDX_JWS_MAX_BYTES + 1);
	big[NDX_JWS_MAX_BYTES + 1] = '\0';
	assert_int_equal(ndx_jws_parse(big, NDX_JWS_MAX_BYTES + 1, &jws, err, sizeof err),
			 NDX_ETOOBIG);
	assert_null(jws);
	free(big);
}

/* Parses text (which must be well formed) and returns the verify result. */
static int verify_rc(const char *text, const struct ndx_key *key)
{
	struct ndx_jws *jws = NULL;
	int rc;

	assert_int_equal(ndx_jws_parse(text, strlen(text), &jws, NULL, 0), NDX_OK);
	rc = ndx_jws_verify(jws, key);
	ndx_jws_free(jws);
	return rc;
}

static void test_refuse_flipped_signature(void **state)
{
	struct keys *k = *state;
	uint8_t sig[64];
	char *s64, *t;

	b64u_raw(A4_SIG_B64, sig, sizeof sig);
	for (size_t byte = 0; byte < sizeof sig; byte += 21) {
		sig[byte] ^= 0x01;
		s64 = ndx_b64_encode(sig, sizeof sig, 1);
		assert_non_null(s64);
		t = join3(A4_HEADER_B64, A4_PAYLOAD_B64, s64);
		assert_int_equal(verify_rc(t, k->pub), NDX_EBADSIG);
		free(t);
		free(s64);
		sig[byte] ^= 0x01;
	}
	/* The last byte carries S's top bits: flip its high bit too. */
	sig[63] ^= 0x80;
	s64 = ndx_b64_encode(sig, sizeof sig, 1);
	assert_non_null(s64);
	t = join3(A4_HEADER_B64, A4_PAYLOAD_B64, s64);
	assert_int_equal(verify_rc(t, k->pub), NDX_EBADSIG);
	free(t);
	free(s64);
}

static void test_refuse_changed_payload(void **state)
{
	struct keys *k = *state;
	char *t;

	t = forge(A4_HEADER, "Example of Ed25519 signinG", A4_SIG_B64);
	assert_int_equal(verify_rc(t, k->pub), NDX_EBADSIG);
	free(t);
	t = forge(A4_HEADER, "", A4_SIG_B64);
	assert_int_equal(verify_rc(t, k->pub), NDX_EBADSIG);
	free(t);
}

static void test_refuse_changed_header(void **state)
{
	struct keys *k = *state;
	char *t;

	/* Same meaning, other bytes: the signature covers the bytes. */
	t = forge("{\"alg\":\"EdDSA\" }", A4_PAYLOAD, A4_SIG_B64);
	assert_int_equal(verify_rc(t, k->pub), NDX_EBADSIG);
	free(t);
	t = forge("{\"alg\":\"EdDSA\",\"kid\":\"someone-else\"}", A4_PAYLOAD, A4_SIG_B64);
	assert_int_equal(verify_rc(t, k->pub), NDX_EBADSIG);
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc8037_a1_key),
		cmocka_unit_test(test_rfc8037_a4_sign),
		cmocka_unit_test(test_rfc8037_a5_verify),
		cmocka_unit_test(test_sign_header_and_round_trip),
		cmocka_unit_test(test_sign_refusals),
		cmocka_unit_test(test_refuse_alg_none),
		cmocka_unit_test(test_refuse_alg_hs256),
		cmocka_unit_test(test_refuse_bad_header),
		cmocka_unit_test(test_refuse_bad_base64),
		cmocka_unit_test(test_refuse_part_count),
		cmocka_unit_test(test_refuse_nul_and_size),
		cmocka_unit_test(test_refuse_flipped_signature),
		cmocka_unit_test(test_refuse_changed_payload),
		cmocka_unit_test(test_refuse_changed_header),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
