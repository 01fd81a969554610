/* Unit tests for include/ndx/statuslist.h: the bit layout and compressed
 * encoding of draft-ietf-oauth-status-list (its published 1-bit example),
 * the decoder's refusals (wrong length, trailing bytes, not ZLIB, a zip
 * bomb), list documents written and parsed back, the parser's refusals, and
 * a list of 1,000,000 revoked indexes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "ndx/encode.h"
#include "ndx/err.h"
#include "ndx/statuslist.h"

#define ISS "VN/GOV/BCA/consent"

/* draft-ietf-oauth-status-list, section 4.1 ("Status List in JSON Format"),
 * the example with "bits":1: statuses 1,0,0,1,1,1,0,1, 1,1,0,0,0,1,0,1 at
 * indexes 0..15 are the bytes b9 a3, and "lst":"eNrbuRgAAhcBXQ" is their
 * ZLIB form (section 4: index i is bit i % 8, least significant first, of
 * byte i / 8). */
static const int draft_status[16] = { 1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1 };
static const uint8_t draft_bytes[2] = { 0xb9, 0xa3 };
#define DRAFT_LST "eNrbuRgAAhcBXQ"

static void test_draft_vector_decodes(void **state)
{
	uint8_t *bits = NULL;

	(void)state;
	assert_int_equal(ndx_statuslist_decode(DRAFT_LST, strlen(DRAFT_LST), 2, &bits), NDX_OK);
	assert_memory_equal(bits, draft_bytes, 2);
	for (int i = 0; i < 16; i++)
		assert_int_equal(ndx_statuslist_get(bits, 2, (uint64_t)i), draft_status[i]);
	/* Past the end: never revoked, never read. */
	assert_false(ndx_statuslist_get(bits, 2, 16));
	assert_false(ndx_statuslist_get(bits, 2, UINT64_MAX));
	free(bits);
	/* The same stream asked for another length is refused. */
	assert_int_equal(ndx_statuslist_decode(DRAFT_LST, strlen(DRAFT_LST), 1, &bits),
			 NDX_EINVAL);
	assert_null(bits);
	assert_int_equal(ndx_statuslist_decode(DRAFT_LST, strlen(DRAFT_LST), 3, &bits),
			 NDX_EINVAL);
	assert_null(bits);
}

static void test_draft_vector_encodes(void **state)
{
	uint8_t bits[2] = { 0, 0 };
	char *lst = NULL;

	(void)state;
	for (int i = 0; i < 16; i++) {
		if (draft_status[i])
			ndx_statuslist_set(bits, sizeof bits, (uint64_t)i);
	}
	assert_memory_equal(bits, draft_bytes, 2);
	/* zlib at best compression writes exactly the draft's text. */
	assert_int_equal(ndx_statuslist_encode(bits, sizeof bits, &lst), NDX_OK);
	assert_string_equal(lst, DRAFT_LST);
	free(lst);
}

/* base64url of a ZLIB stream of in[0..n) followed by extra[0..nextra). */
static char *zlib_b64(const uint8_t *in, size_t n, const uint8_t *extra, size_t nextra)
{
	uLongf zlen = compressBound((uLong)n) + nextra;
	uint8_t *z = malloc(zlen);
	char *out;

	assert_non_null(z);
	assert_int_equal(compress2(z, &zlen, in, (uLong)n, 9), Z_OK);
	if (nextra)
		memcpy(z + zlen, extra, nextra);
	out = ndx_b64_encode(z, zlen + nextra, 1);
	free(z);
	assert_non_null(out);
	return out;
}

static void test_decode_refusals(void **state)
{
	static const uint8_t junk[1] = { 0 };
	uint8_t *bits = NULL, *big;
	char *t;

	(void)state;
	/* Not base64url; base64 with padding; not ZLIB; a cut stream. */
	assert_int_equal(ndx_statuslist_decode("eNrb*RgAAhcBXQ", 14, 2, &bits), NDX_EINVAL);
	assert_int_equal(ndx_statuslist_decode("eNrbuRgAAhcBXQ==", 16, 2, &bits), NDX_EINVAL);
	assert_int_equal(ndx_statuslist_decode("AAAA", 4, 2, &bits), NDX_EINVAL);
	assert_int_equal(ndx_statuslist_decode("eNrbuRgAAhc", 11, 2, &bits), NDX_EINVAL);
	assert_int_equal(ndx_statuslist_decode("", 0, 2, &bits), NDX_EINVAL);
	assert_null(bits);
	/* Bytes after the end of the stream. */
	t = zlib_b64(draft_bytes, 2, junk, 1);
	assert_int_equal(ndx_statuslist_decode(t, strlen(t), 2, &bits), NDX_EINVAL);
	free(t);
	/* A zip bomb: 64 MiB of zeros is a small stream, and is refused after
	 * inflating no more than one list's size + 1. */
	big = calloc(1, 64u << 20);
	assert_non_null(big);
	t = zlib_b64(big, 64u << 20, NULL, 0);
	free(big);
	assert_true(strlen(t) < 128 * 1024);
	assert_int_equal(ndx_statuslist_decode(t, strlen(t), NDX_STATUSLIST_BYTES, &bits),
			 NDX_EINVAL);
	assert_null(bits);
	free(t);
}

static void test_document_round_trip_million(void **state)
{
	struct ndx_statuslist *l = NULL;
	uint8_t *bits = calloc(1, NDX_STATUSLIST_BYTES);
	char *text = NULL, err[256] = "";
	size_t len = 0, n = 0;

	(void)state;
	assert_non_null(bits);
	/* 1,000,000 revoked of the 1,048,576 indexes: all but every 50th. */
	for (uint64_t i = 0; i < NDX_STATUSLIST_CAPACITY && n < 1000000; i++) {
		if (i % 50 != 49) {
			ndx_statuslist_set(bits, NDX_STATUSLIST_BYTES, i);
			n++;
		}
	}
	assert_int_equal(n, 1000000);
	assert_int_equal(ndx_statuslist_write(ISS, 3, bits, &text, &len), NDX_OK);
	assert_true(len < NDX_STATUSLIST_MAX_DOC);
	assert_int_equal(ndx_statuslist_parse(text, len, &l, err, sizeof err), NDX_OK);
	assert_string_equal(l->issuer, ISS);
	assert_int_equal(l->list, 3);
	assert_memory_equal(l->bits, bits, NDX_STATUSLIST_BYTES);
	assert_true(ndx_statuslist_get(l->bits, NDX_STATUSLIST_BYTES, 0));
	assert_false(ndx_statuslist_get(l->bits, NDX_STATUSLIST_BYTES, 49));
	assert_true(ndx_statuslist_get(l->bits, NDX_STATUSLIST_BYTES, 999998));
	assert_false(ndx_statuslist_get(l->bits, NDX_STATUSLIST_BYTES, NDX_STATUSLIST_CAPACITY - 1));
	ndx_statuslist_free(l);
	free(text);
	free(bits);
	ndx_statuslist_free(NULL);
}

static void test_worst_case_fits(void **state)
{
	uint8_t *bits = malloc(NDX_STATUSLIST_BYTES);
	char *text = NULL;
	size_t len = 0;
	uint32_t x = 2463534242u;

	(void)state;
	assert_non_null(bits);
	/* Incompressible bits (xorshift): the largest document there can be. */
	for (size_t i = 0; i < NDX_STATUSLIST_BYTES; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		bits[i] = (uint8_t)x;
	}
	assert_int_equal(ndx_statuslist_write(ISS, 0, bits, &text, &len), NDX_OK);
	assert_true(len <= NDX_STATUSLIST_MAX_DOC);
	free(text);
	free(bits);
}

static void test_parse_refusals(void **state)
{
	static const char *const docs[] = {
		"[]",
		"{}",
		"not json",
		/* each member wrong in turn */
		"{\"issuer\":1,\"list\":0,\"bits\":1,\"size\":1048576,\"lst\":\"x\"}",
		"{\"issuer\":\"" ISS "\",\"list\":-1,\"bits\":1,\"size\":1048576,\"lst\":\"x\"}",
		"{\"issuer\":\"" ISS "\",\"list\":1048576,\"bits\":1,\"size\":1048576,\"lst\":\"x\"}",
		"{\"issuer\":\"" ISS "\",\"list\":0,\"bits\":2,\"size\":1048576,\"lst\":\"x\"}",
		"{\"issuer\":\"" ISS "\",\"list\":0,\"bits\":1,\"size\":16,\"lst\":\"" DRAFT_LST "\"}",
		"{\"issuer\":\"" ISS "\",\"list\":0,\"bits\":1,\"size\":1048576,\"lst\":\"" DRAFT_LST
		"\"}",
		"{\"issuer\":\"" ISS "\",\"list\":0,\"bits\":1,\"size\":1048576}",
		/* an unknown member, a duplicate */
		"{\"issuer\":\"" ISS "\",\"list\":0,\"bits\":1,\"size\":1048576,\"lst\":\"x\","
		"\"ttl\":1}",
		"{\"issuer\":\"" ISS "\",\"list\":0,\"list\":1,\"bits\":1,\"size\":1048576,"
		"\"lst\":\"x\"}",
	};
	struct ndx_statuslist *l = NULL;
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
		err[0] = '\0';
		assert_int_equal(ndx_statuslist_parse(docs[i], strlen(docs[i]), &l, err, sizeof err),
				 NDX_EINVAL);
		assert_null(l);
		assert_true(err[0] != '\0');
	}
	{
		size_t n = NDX_STATUSLIST_MAX_DOC + 1;
		char *big = malloc(n);

		assert_non_null(big);
		memset(big, ' ', n);
		assert_int_equal(ndx_statuslist_parse(big, n, &l, NULL, 0), NDX_ETOOBIG);
		free(big);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_draft_vector_decodes),
		cmocka_unit_test(test_draft_vector_encodes),
		cmocka_unit_test(test_decode_refusals),
		cmocka_unit_test(test_document_round_trip_million),
		cmocka_unit_test(test_worst_case_fits),
		cmocka_unit_test(test_parse_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
