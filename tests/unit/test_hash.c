/* Unit tests for include/ndx/hash.h: SHA-256 (FIPS 180-2 vectors, one-shot
 * against incremental) and the canonical request and response hashes of
 * docs/protocol.md, checked against an independent encoder written here and
 * against pinned digests (computed outside ndx) so that a format change
 * cannot pass unnoticed. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ndx/encode.h"
#include "ndx/hash.h"

static void assert_hex(const uint8_t d[NDX_SHA256_LEN], const char *want)
{
	char hex[2 * NDX_SHA256_LEN + 1];

	ndx_hex_encode(d, NDX_SHA256_LEN, hex);
	assert_string_equal(hex, want);
}

static void test_sha256_vectors(void **state)
{
	uint8_t d[NDX_SHA256_LEN];
	static const char two_blocks[] =
		"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";

	(void)state;
	ndx_sha256("abc", 3, d);
	assert_hex(d, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	ndx_sha256("", 0, d);
	assert_hex(d, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	ndx_sha256(NULL, 0, d);
	assert_hex(d, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	ndx_sha256(two_blocks, sizeof two_blocks - 1, d);
	assert_hex(d, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void test_sha256_incremental(void **state)
{
	struct ndx_sha256 *ctx = ndx_sha256_new();
	uint8_t one[NDX_SHA256_LEN], inc[NDX_SHA256_LEN];
	uint8_t *buf = malloc(100000);

	(void)state;
	assert_non_null(ctx);
	assert_non_null(buf);
	for (size_t i = 0; i < 100000; i++)
		buf[i] = (uint8_t)(i * 31 + 7);
	ndx_sha256(buf, 100000, one);
	/* Uneven pieces, including empty ones. */
	for (size_t pos = 0, step = 0; pos < 100000; step = (step * 7 + 13) % 4099) {
		size_t n = step < 100000 - pos ? step : 100000 - pos;

		ndx_sha256_update(ctx, buf + pos, n);
		pos += n;
	}
	ndx_sha256_final(ctx, inc);
	assert_memory_equal(one, inc, NDX_SHA256_LEN);

	/* The context is reset after final and can be reused. */
	ndx_sha256_update(ctx, "a", 1);
	ndx_sha256_update(ctx, "bc", 2);
	ndx_sha256_final(ctx, inc);
	assert_hex(inc, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	ndx_sha256_final(ctx, inc);
	assert_hex(inc, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");

	ndx_sha256_free(ctx);
	ndx_sha256_free(NULL);
	free(buf);
}

/* ---- an independent encoder of the canonical layout ------------------- */

struct enc {
	uint8_t buf[4096];
	size_t len;
};

static void enc_field(struct enc *e, const void *data, size_t len)
{
	assert_true(e->len + 8 + len <= sizeof e->buf);
	for (int i = 0; i < 8; i++)
		e->buf[e->len + (size_t)i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
	e->len += 8;
	if (len > 0)
		memcpy(e->buf + e->len, data, len);
	e->len += len;
}

static void enc_str(struct enc *e, const char *s)
{
	enc_field(e, s ? s : "", s ? strlen(s) : 0);
}

static void expected_request(const struct ndx_request_hash_input *in, uint8_t out[32])
{
	struct enc e = { .len = 0 };

	enc_str(&e, "ndx-request-v4");
	enc_str(&e, in->method);
	enc_str(&e, in->service);
	enc_str(&e, in->path);
	enc_str(&e, in->query);
	enc_str(&e, in->client);
	enc_str(&e, in->message_id);
	enc_str(&e, in->user_id);
	enc_str(&e, in->issue);
	enc_str(&e, in->purpose);
	enc_str(&e, in->subject);
	enc_str(&e, in->consent);
	if (in->subject_token != NULL && in->subject_token[0] != '\0') {
		uint8_t d[32];

		ndx_sha256(in->subject_token, strlen(in->subject_token), d);
		enc_field(&e, d, 32);
	} else {
		enc_field(&e, "", 0);
	}
	enc_str(&e, in->timestamp);
	enc_str(&e, in->nonce);
	enc_str(&e, in->gateway);
	enc_str(&e, in->content_type);
	enc_str(&e, in->represented_party);
	enc_field(&e, in->user_headers_sha256, 32);
	enc_field(&e, in->body_sha256, 32);
	ndx_sha256(e.buf, e.len, out);
}

static void expected_response(const struct ndx_response_hash_input *in, uint8_t out[32])
{
	struct enc e = { .len = 0 };
	char status[16];

	snprintf(status, sizeof status, "%d", in->status);
	enc_str(&e, "ndx-response-v3");
	enc_field(&e, in->request_hash, 32);
	enc_str(&e, status);
	enc_str(&e, in->content_type);
	enc_str(&e, in->location);
	enc_str(&e, in->subjects);
	enc_field(&e, in->user_headers_sha256, 32);
	enc_field(&e, in->body_sha256, 32);
	ndx_sha256(e.buf, e.len, out);
}

/* Canonical user header blocks (docs/protocol.md "Headers"): two values
 * of one header stay two lines, in order. */
#define USER_HEADERS                                                               \
	"authorization:Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln\ncache-control:no-cache\n" \
	"x-trace:a\nx-trace:b\n"
#define RESPONSE_USER_HEADERS "etag:\"v1\"\nset-cookie:a=1; Path=/\nset-cookie:b=2\n"

static void sample_request(struct ndx_request_hash_input *in)
{
	memset(in, 0, sizeof *in);
	in->method = "GET";
	in->service = "VN/GOV/BCA/population/citizens";
	in->path = "/citizens/001099012345";
	in->query = "fields=name";
	in->client = "VN/GOV/MOF/enterprise";
	in->message_id = "6f1c2a4e-0d3b-4c8e-9a51-3f2b7d9e8c10";
	in->user_id = "EE12345678901";
	in->issue = "ISSUE-1";
	in->purpose = "public-service";
	in->subject = "001099012345";
	in->consent = NULL;
	in->subject_token = NULL;
	in->timestamp = "2026-11-23T09:20:51Z";
	in->nonce = "5f0c9d2ab7e14c6f8e3a1b2c3d4e5f60";
	in->gateway = "VN/GOV/BCA/gw1";
	in->content_type = NULL;
	in->represented_party = "COM/0101234567";
	ndx_sha256(USER_HEADERS, strlen(USER_HEADERS), in->user_headers_sha256);
	ndx_sha256("", 0, in->body_sha256);
}

/* Digests computed outside ndx (Python hashlib + struct.pack('>Q')) from
 * docs/protocol.md; they change only when the documented layout does.
 * PINNED_REQUEST is sample_request (no Ndx-Subject-Token), PINNED_REQUEST_TOKEN
 * the same with SUBJECT_TOKEN, PINNED_RESPONSE sample_response. */
#define SUBJECT_TOKEN "eyJhbGciOiJFZERTQSIsImtpZCI6ImsxIn0.eyJzdWIiOiIwMDEwOTkwMTIzNDUifQ.c2lnbmF0dXJl"
#define PINNED_REQUEST "051ffb6fac5403e7e0707fc8f491106d5dc9536f3d48682ad558343f4860faae"
#define PINNED_REQUEST_TOKEN "33c403eb66c3000299ba26af1195782818009416140584185e76a3ab736cc77b"
#define PINNED_RESPONSE "2877995d084319146cf6b350a6b43df0be50db8ceb74af6e6ed180031cf65069"
#define PINNED_RESPONSE_NO_SUBJECTS \
	"c96f31d775eaf629c2e8db1d281d68bff927597b8eaf11ef64b8a502aed21a5e"

static void test_request_fixed(void **state)
{
	struct ndx_request_hash_input in;
	uint8_t got[32], want[32];

	(void)state;
	sample_request(&in);
	ndx_request_hash(&in, got);
	expected_request(&in, want);
	assert_memory_equal(got, want, 32);
	assert_hex(got, PINNED_REQUEST);

	/* The subject's ID token counts by its SHA-256; an empty one is absent. */
	in.subject_token = SUBJECT_TOKEN;
	ndx_request_hash(&in, got);
	expected_request(&in, want);
	assert_memory_equal(got, want, 32);
	assert_hex(got, PINNED_REQUEST_TOKEN);
	in.subject_token = "";
	ndx_request_hash(&in, got);
	assert_hex(got, PINNED_REQUEST);
	in.subject_token = NULL;

	/* A POST with a body and every header present. */
	in.method = "POST";
	in.consent = "c-42";
	in.content_type = "application/json";
	ndx_sha256("{\"a\":1}", 7, in.body_sha256);
	ndx_request_hash(&in, got);
	expected_request(&in, want);
	assert_memory_equal(got, want, 32);

	/* Everything absent. */
	memset(&in, 0, sizeof in);
	ndx_request_hash(&in, got);
	expected_request(&in, want);
	assert_memory_equal(got, want, 32);
}

static const size_t string_fields[] = {
	offsetof(struct ndx_request_hash_input, method),
	offsetof(struct ndx_request_hash_input, service),
	offsetof(struct ndx_request_hash_input, path),
	offsetof(struct ndx_request_hash_input, query),
	offsetof(struct ndx_request_hash_input, client),
	offsetof(struct ndx_request_hash_input, message_id),
	offsetof(struct ndx_request_hash_input, user_id),
	offsetof(struct ndx_request_hash_input, issue),
	offsetof(struct ndx_request_hash_input, purpose),
	offsetof(struct ndx_request_hash_input, subject),
	offsetof(struct ndx_request_hash_input, consent),
	offsetof(struct ndx_request_hash_input, subject_token),
	offsetof(struct ndx_request_hash_input, timestamp),
	offsetof(struct ndx_request_hash_input, nonce),
	offsetof(struct ndx_request_hash_input, gateway),
	offsetof(struct ndx_request_hash_input, content_type),
	offsetof(struct ndx_request_hash_input, represented_party),
};
#define N_STRING_FIELDS (sizeof string_fields / sizeof string_fields[0])

static const char **field_ptr(struct ndx_request_hash_input *in, size_t i)
{
	return (const char **)(void *)((char *)in + string_fields[i]);
}

static void test_request_null_is_empty(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_STRING_FIELDS; i++) {
		struct ndx_request_hash_input a, b;
		uint8_t ha[32], hb[32];

		sample_request(&a);
		sample_request(&b);
		*field_ptr(&a, i) = NULL;
		*field_ptr(&b, i) = "";
		ndx_request_hash(&a, ha);
		ndx_request_hash(&b, hb);
		assert_memory_equal(ha, hb, 32);
	}
}

static void test_request_every_field_counts(void **state)
{
	struct ndx_request_hash_input base, in;
	uint8_t h0[32], h[32], seen[N_STRING_FIELDS + 1][32];

	(void)state;
	sample_request(&base);
	ndx_request_hash(&base, h0);
	/* Fields 2..16 of the table: a changed value, and absent vs present. */
	for (size_t i = 0; i < N_STRING_FIELDS; i++) {
		in = base;
		*field_ptr(&in, i) = "changed";
		ndx_request_hash(&in, h);
		assert_memory_not_equal(h, h0, 32);
		memcpy(seen[i], h, 32);

		in = base;
		*field_ptr(&in, i) = *field_ptr(&base, i) ? NULL : "x";
		ndx_request_hash(&in, h);
		assert_memory_not_equal(h, h0, 32);
	}
	/* Field 17, the body digest: one flipped bit. */
	in = base;
	in.body_sha256[31] ^= 0x01;
	ndx_request_hash(&in, h);
	assert_memory_not_equal(h, h0, 32);
	memcpy(seen[N_STRING_FIELDS], h, 32);

	/* The same value in different fields hashes differently. */
	for (size_t i = 0; i < N_STRING_FIELDS + 1; i++)
		for (size_t j = i + 1; j < N_STRING_FIELDS + 1; j++)
			assert_memory_not_equal(seen[i], seen[j], 32);
}

static void test_request_message_id(void **state)
{
	struct ndx_request_hash_input a, b;
	uint8_t ha[32], hb[32];

	(void)state;
	sample_request(&a);
	sample_request(&b);
	b.message_id = "6f1c2a4e-0d3b-4c8e-9a51-3f2b7d9e8c11";
	ndx_request_hash(&a, ha);
	ndx_request_hash(&b, hb);
	assert_memory_not_equal(ha, hb, 32);
}

static void test_request_boundaries(void **state)
{
	struct ndx_request_hash_input a, b;
	uint8_t ha[32], hb[32];

	(void)state;
	sample_request(&a);
	sample_request(&b);
	a.path = "/ab";
	a.query = "c";
	b.path = "/a";
	b.query = "bc";
	ndx_request_hash(&a, ha);
	ndx_request_hash(&b, hb);
	assert_memory_not_equal(ha, hb, 32);

	/* Moving a value into the neighbouring empty field. */
	sample_request(&a);
	sample_request(&b);
	a.purpose = "p";
	a.subject = "";
	b.purpose = "";
	b.subject = "p";
	ndx_request_hash(&a, ha);
	ndx_request_hash(&b, hb);
	assert_memory_not_equal(ha, hb, 32);

	/* A separator inside a value cannot fake a field boundary. */
	sample_request(&a);
	sample_request(&b);
	a.user_id = "u";
	a.issue = "i";
	b.user_id = "u\n";
	b.issue = "i";
	ndx_request_hash(&a, ha);
	ndx_request_hash(&b, hb);
	assert_memory_not_equal(ha, hb, 32);
}

static void sample_response(struct ndx_response_hash_input *in)
{
	struct ndx_request_hash_input req;

	sample_request(&req);
	memset(in, 0, sizeof *in);
	ndx_request_hash(&req, in->request_hash);
	in->status = 200;
	in->content_type = "application/json";
	in->location = NULL;
	in->subjects = "001099012345";
	ndx_sha256(RESPONSE_USER_HEADERS, strlen(RESPONSE_USER_HEADERS), in->user_headers_sha256);
	ndx_sha256("{\"name\":\"Nguyen Van A\"}", 23, in->body_sha256);
}

static void test_response(void **state)
{
	struct ndx_response_hash_input base, in;
	uint8_t h0[32], h[32], want[32];

	(void)state;
	sample_response(&base);
	ndx_response_hash(&base, h0);
	expected_response(&base, want);
	assert_memory_equal(h0, want, 32);
	assert_hex(h0, PINNED_RESPONSE);

	/* Absent is empty. */
	in = base;
	in.location = "";
	ndx_response_hash(&in, h);
	assert_memory_equal(h, h0, 32);
	in.subjects = NULL;
	ndx_response_hash(&in, h);
	assert_hex(h, PINNED_RESPONSE_NO_SUBJECTS);
	in.subjects = "";
	ndx_response_hash(&in, h);
	assert_hex(h, PINNED_RESPONSE_NO_SUBJECTS);
	in.subjects = base.subjects;
	in.content_type = NULL;
	ndx_response_hash(&in, h);
	expected_response(&in, want);
	assert_memory_equal(h, want, 32);
	assert_memory_not_equal(h, h0, 32);

	/* Each field counts. */
	in = base;
	in.request_hash[0] ^= 0x80;
	ndx_response_hash(&in, h);
	assert_memory_not_equal(h, h0, 32);
	in = base;
	in.status = 404;
	ndx_response_hash(&in, h);
	assert_memory_not_equal(h, h0, 32);
	expected_response(&in, want);
	assert_memory_equal(h, want, 32);
	in = base;
	in.content_type = "application/json; charset=utf-8";
	ndx_response_hash(&in, h);
	assert_memory_not_equal(h, h0, 32);
	in = base;
	in.location = "/elsewhere";
	ndx_response_hash(&in, h);
	assert_memory_not_equal(h, h0, 32);
	in = base;
	in.subjects = "001099012345,001099012346";
	ndx_response_hash(&in, h);
	assert_memory_not_equal(h, h0, 32);
	expected_response(&in, want);
	assert_memory_equal(h, want, 32);
	in = base;
	in.body_sha256[0] ^= 0x01;
	ndx_response_hash(&in, h);
	assert_memory_not_equal(h, h0, 32);
	in = base;
	in.user_headers_sha256[31] ^= 0x01;
	ndx_response_hash(&in, h);
	assert_memory_not_equal(h, h0, 32);
	expected_response(&in, want);
	assert_memory_equal(h, want, 32);

	/* Boundary between content type and location. */
	in = base;
	in.content_type = "text/plain";
	in.location = "";
	ndx_response_hash(&in, h0);
	in.content_type = "text/";
	in.location = "plain";
	ndx_response_hash(&in, h);
	assert_memory_not_equal(h, h0, 32);

	/* Boundary between location and subjects. */
	in = base;
	in.location = "/x";
	in.subjects = "";
	ndx_response_hash(&in, h0);
	in.location = "";
	in.subjects = "/x";
	ndx_response_hash(&in, h);
	assert_memory_not_equal(h, h0, 32);
}

/* The one-shot digest and the canonical hashes keep a context each per
 * thread (src/lib/hash.c): from several threads at once, the request hash
 * with a subject token (a one-shot digest taken while the canonical one is
 * open) and the one-shot digest in turn still give the pinned digests, and
 * the contexts go with their threads (valgrind: nothing lost). */
static void *hash_thread(void *p)
{
	int *failures = p;
	struct ndx_request_hash_input in;
	uint8_t d[NDX_SHA256_LEN], want_abc[NDX_SHA256_LEN], want_req[NDX_SHA256_LEN];

	ndx_hex_decode("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
		       64, want_abc, sizeof want_abc);
	ndx_hex_decode(PINNED_REQUEST_TOKEN, 64, want_req, sizeof want_req);
	for (int i = 0; i < 200; i++) {
		sample_request(&in);
		in.subject_token = SUBJECT_TOKEN;
		ndx_request_hash(&in, d);
		if (memcmp(d, want_req, sizeof d) != 0)
			(*failures)++;
		ndx_sha256("abc", 3, d);
		if (memcmp(d, want_abc, sizeof d) != 0)
			(*failures)++;
	}
	return NULL;
}

static void test_kept_contexts_threads(void **state)
{
	enum { NTHREADS = 4 };
	pthread_t t[NTHREADS];
	int failures[NTHREADS + 1] = { 0 };

	(void)state;
	for (int i = 0; i < NTHREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, hash_thread, &failures[i]), 0);
	hash_thread(&failures[NTHREADS]);
	assert_int_equal(failures[NTHREADS], 0);
	for (int i = 0; i < NTHREADS; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(failures[i], 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256_vectors),
		cmocka_unit_test(test_sha256_incremental),
		cmocka_unit_test(test_request_fixed),
		cmocka_unit_test(test_request_null_is_empty),
		cmocka_unit_test(test_request_every_field_counts),
		cmocka_unit_test(test_request_message_id),
		cmocka_unit_test(test_request_boundaries),
		cmocka_unit_test(test_response),
		cmocka_unit_test(test_kept_contexts_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
