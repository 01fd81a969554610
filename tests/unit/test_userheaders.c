/* User-defined headers (src/gateway/userheaders.c): which pass (PR-REST
 * 4.3 "User defined headers", "Filtered headers", "Specially handled
 * headers"), their canonical block and its hash (docs/protocol.md
 * "Headers"), the Ndx-Headers list, the limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ndx/err.h"
#include "ndx/hash.h"
#include "userheaders.h"

static bool passes(enum gw_uh_dir d, const char *name, const char *connection)
{
	return gw_uh_passes(d, name, strlen(name), connection);
}

static void test_which_pass(void **state)
{
	static const char *const user[] = { "Authorization", "Cache-Control", "Pragma",
					    "If-None-Match", "ETag", "Set-Cookie", "Cookie",
					    "X-Powered-By", "Accept", "Accept-Language",
					    "X-Road-Extension", "Proxy-Foo" };
	static const char *const never[] = {
		"Connection", "keep-alive", "Proxy-Authenticate", "Proxy-Authorization", "TE",
		"Trailer", "Transfer-Encoding", "Upgrade", "Host", "User-Agent", "Server",
		"Content-Length", "Expect", "Content-Type", "X-Road-Client", "x-road-id",
		"X-Road-UserId", "X-Road-Issue", "X-Road-Request-Hash", "X-Road-Request-Id",
		"X-Road-Error", "X-Road-Represented-Party", "X-Road-Security-Server",
		"X-Road-Service", "Ndx-Purpose", "ndx-anything", "Ndx-Headers"
	};

	(void)state;
	for (size_t i = 0; i < sizeof user / sizeof user[0]; i++) {
		assert_true(passes(GW_UH_REQUEST, user[i], NULL));
		assert_true(passes(GW_UH_RESPONSE, user[i], NULL));
	}
	for (size_t i = 0; i < sizeof never / sizeof never[0]; i++) {
		assert_false(passes(GW_UH_REQUEST, never[i], NULL));
		assert_false(passes(GW_UH_RESPONSE, never[i], NULL));
	}
	/* Answers: Location and Date are the gateways' own. */
	assert_true(passes(GW_UH_REQUEST, "Date", NULL));
	assert_false(passes(GW_UH_RESPONSE, "Date", NULL));
	assert_false(passes(GW_UH_RESPONSE, "Location", NULL));
	/* RFC 9110 7.6.1: what Connection names is hop-by-hop. */
	assert_false(passes(GW_UH_REQUEST, "X-Foo", "close, X-Foo"));
	assert_true(passes(GW_UH_REQUEST, "X-Foo-Bar", "close, X-Foo"));
	assert_false(passes(GW_UH_REQUEST, "", NULL));
}

static void test_add_refuses_what_cannot_pass(void **state)
{
	struct gw_uh_list l = { 0 };

	(void)state;
	assert_int_equal(gw_uh_add(&l, "X-A", 3, "v", 1), NDX_OK);
	assert_int_equal(gw_uh_add(&l, "X A", 3, "v", 1), NDX_EINVAL);
	assert_int_equal(gw_uh_add(&l, "X:A", 3, "v", 1), NDX_EINVAL);
	assert_int_equal(gw_uh_add(&l, "", 0, "v", 1), NDX_EINVAL);
	assert_int_equal(gw_uh_add(&l, "X-B", 3, "a\rb", 3), NDX_EINVAL);
	assert_int_equal(gw_uh_add(&l, "X-B", 3, "a\nb", 3), NDX_EINVAL);
	assert_int_equal(gw_uh_add(&l, "X-B", 3, "a\0b", 3), NDX_EINVAL);
	/* An empty value is a value. */
	assert_int_equal(gw_uh_add(&l, "X-Empty", 7, "", 0), NDX_OK);
	assert_int_equal(l.n, 2);
	gw_uh_free(&l);
}

static void test_limits(void **state)
{
	struct gw_uh_list l = { 0 };
	char big[GW_UH_MAX_BYTES];

	(void)state;
	for (int i = 0; i < GW_UH_MAX_COUNT; i++)
		assert_int_equal(gw_uh_add(&l, "X-N", 3, "v", 1), NDX_OK);
	assert_int_equal(gw_uh_add(&l, "X-N", 3, "v", 1), NDX_ETOOBIG);
	gw_uh_free(&l);
	memset(big, 'a', sizeof big);
	assert_int_equal(gw_uh_add(&l, "X-B", 3, big, sizeof big - 3), NDX_OK);
	assert_int_equal(gw_uh_add(&l, "X", 1, "", 0), NDX_ETOOBIG);
	gw_uh_free(&l);
}

static void test_block_hash(void **state)
{
	static const char block[] =
		"authorization:Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln\ncache-control:no-cache\n"
		"x-trace:a\nx-trace:b\n";
	struct gw_uh_list l = { 0 }, swapped = { 0 };
	uint8_t got[NDX_SHA256_LEN], want[NDX_SHA256_LEN];

	(void)state;
	assert_int_equal(gw_uh_add(&l, "Authorization", 13,
				   "Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln", 36), NDX_OK);
	assert_int_equal(gw_uh_add(&l, "Cache-Control", 13, "no-cache", 8), NDX_OK);
	assert_int_equal(gw_uh_add(&l, "X-Trace", 7, "a", 1), NDX_OK);
	assert_int_equal(gw_uh_add(&l, "X-TRACE", 7, "b", 1), NDX_OK);
	/* "name:value\n" each, the name in lower case, in order. */
	gw_uh_hash(&l, got);
	ndx_sha256(block, sizeof block - 1, want);
	assert_memory_equal(got, want, sizeof got);
	/* Order counts: a header's values are not a set. */
	assert_int_equal(gw_uh_add(&swapped, "Authorization", 13,
				   "Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln", 36), NDX_OK);
	assert_int_equal(gw_uh_add(&swapped, "Cache-Control", 13, "no-cache", 8), NDX_OK);
	assert_int_equal(gw_uh_add(&swapped, "X-Trace", 7, "b", 1), NDX_OK);
	assert_int_equal(gw_uh_add(&swapped, "X-Trace", 7, "a", 1), NDX_OK);
	gw_uh_hash(&swapped, want);
	assert_memory_not_equal(got, want, sizeof got);
	/* The empty list hashes the empty block. */
	gw_uh_free(&swapped);
	gw_uh_hash(&swapped, got);
	ndx_sha256("", 0, want);
	assert_memory_equal(got, want, sizeof got);
	gw_uh_free(&l);
}

/* A block past the 2 KiB built on the stack is hashed a piece at a time
 * (src/gateway/userheaders.c): the same digest as the block at once, on
 * both sides of the boundary. */
static void test_block_hash_large(void **state)
{
	static char value[8192];
	char *block = malloc(sizeof value + 64);
	uint8_t got[NDX_SHA256_LEN], want[NDX_SHA256_LEN];
	/* "X-Big:" + value + "\n" around 2048 bytes, then far past it. */
	static const size_t lens[] = { 2040, 2041, 2042, 2043, 8000 };

	(void)state;
	assert_non_null(block);
	for (size_t i = 0; i < sizeof value; i++)
		value[i] = (char)('a' + i % 26);
	for (size_t t = 0; t < sizeof lens / sizeof lens[0]; t++) {
		struct gw_uh_list l = { 0 };
		int n;

		assert_int_equal(gw_uh_add(&l, "X-Big", 5, value, lens[t]), NDX_OK);
		gw_uh_hash(&l, got);
		n = snprintf(block, sizeof value + 64, "x-big:%.*s\n", (int)lens[t], value);
		assert_true(n > 0);
		ndx_sha256(block, (size_t)n, want);
		assert_memory_equal(got, want, sizeof got);
		gw_uh_free(&l);
	}
	free(block);
}

static void test_names_and_select(void **state)
{
	struct gw_uh_list l = { 0 }, out = { 0 };
	char *names;

	(void)state;
	assert_int_equal(gw_uh_add(&l, "X-Trace", 7, "a", 1), NDX_OK);
	assert_int_equal(gw_uh_add(&l, "ETag", 4, "\"v1\"", 4), NDX_OK);
	assert_int_equal(gw_uh_add(&l, "x-trace", 7, "b", 1), NDX_OK);
	assert_int_equal(gw_uh_add(&l, "X-Hop", 5, "1", 1), NDX_OK);
	names = gw_uh_names(&l);
	assert_string_equal(names, "x-trace,etag,x-hop");
	assert_true(gw_uh_listed(names, "ETAG", 4));
	assert_true(gw_uh_listed(" etag , x-trace", "X-Trace", 7));
	assert_false(gw_uh_listed(names, "X-Tra", 5));
	assert_false(gw_uh_listed(NULL, "X-Trace", 7));
	free(names);
	/* Only what Ndx-Headers names, without what Connection names. */
	assert_int_equal(gw_uh_select(&l, "X-Hop", "x-trace,x-hop", &out), NDX_OK);
	assert_int_equal(out.n, 2);
	assert_string_equal(out.v[0].value, "a");
	assert_string_equal(out.v[1].value, "b");
	gw_uh_free(&out);
	assert_int_equal(gw_uh_select(&l, NULL, "", &out), NDX_OK);
	assert_int_equal(out.n, 0);
	assert_int_equal(gw_uh_select(&l, NULL, NULL, &out), NDX_OK);
	assert_int_equal(out.n, 4);
	gw_uh_free(&out);
	gw_uh_free(&l);
	names = gw_uh_names(&l);
	assert_string_equal(names, "");
	free(names);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_which_pass),
		cmocka_unit_test(test_add_refuses_what_cannot_pass),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_block_hash),
		cmocka_unit_test(test_block_hash_large),
		cmocka_unit_test(test_names_and_select),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
