/* The sign-in throttle shared by ndx-id and ndx-portal
 * (src/id/signin_throttle.c): the source of a request, the client behind a
 * trusted TLS proxy, and the back-off. docs/id.md "Sign-in throttling". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "signin_throttle.h"

static void client_of(const char *remote, const char *fwd, const struct signin_proxies *p,
		      char *out, size_t size, int want_from_header)
{
	int got = signin_client(remote, fwd, fwd ? strlen(fwd) : 0, p, out, size);

	assert_int_equal(got, want_from_header);
}

static void test_source(void **state)
{
	char src[SIGNIN_SOURCE_MAX];

	(void)state;
	signin_source("203.0.113.5:51234", src);
	assert_string_equal(src, "203.0.113.5");
	/* An IPv6 peer counts as its /64: one subscriber's network. */
	signin_source("2001:db8:1:2:3:4:5:6:443", src);
	assert_string_equal(src, "2001:db8:1:2::/64");
	/* An IPv4-mapped IPv6 peer is its IPv4 address. */
	signin_source("::ffff:198.51.100.7:80", src);
	assert_string_equal(src, "198.51.100.7");
}

static void test_proxies_add(void **state)
{
	struct signin_proxies p;
	const char *why = NULL;
	char text[16];

	(void)state;
	memset(&p, 0, sizeof p);
	assert_int_equal(signin_proxies_add(&p, "127.0.0.1", &why), 0);
	assert_int_equal(signin_proxies_add(&p, "::1", &why), 0);
	assert_int_equal(signin_proxies_add(&p, "localhost", &why), -1);
	assert_string_equal(why, "not an IPv4 or IPv6 address");
	assert_int_equal(signin_proxies_add(&p, "10.0.0.1/8", &why), -1);
	assert_int_equal(signin_proxies_add(&p, "", &why), -1);
	for (unsigned i = 2; i < SIGNIN_PROXIES_MAX; i++) {
		snprintf(text, sizeof text, "10.0.0.%u", i);
		assert_int_equal(signin_proxies_add(&p, text, &why), 0);
	}
	assert_int_equal(signin_proxies_add(&p, "10.0.1.1", &why), -1);
	assert_string_equal(why, "too many trusted proxies (at most 8)");
	assert_int_equal(p.n, SIGNIN_PROXIES_MAX);
}

static void test_client_behind_a_trusted_proxy(void **state)
{
	struct signin_proxies p;
	const char *why = NULL;
	char out[96], src[SIGNIN_SOURCE_MAX];

	(void)state;
	memset(&p, 0, sizeof p);
	assert_int_equal(signin_proxies_add(&p, "127.0.0.1", &why), 0);
	/* nginx's `proxy_set_header X-Forwarded-For $remote_addr`: one address. */
	client_of("127.0.0.1:40000", "203.0.113.5", &p, out, sizeof out, 1);
	signin_source(out, src);
	assert_string_equal(src, "203.0.113.5");
	/* $proxy_add_x_forwarded_for appends: only the last entry, the one the
	 * trusted proxy added, counts; what the client sent before it does not. */
	client_of("127.0.0.1:40000", "192.0.2.1, 10.1.1.1 ,\t198.51.100.9 ", &p, out, sizeof out, 1);
	signin_source(out, src);
	assert_string_equal(src, "198.51.100.9");
	client_of("127.0.0.1:40000", "2001:db8:aa:bb::1", &p, out, sizeof out, 1);
	signin_source(out, src);
	assert_string_equal(src, "2001:db8:aa:bb::/64");
	/* A trusted proxy's header that ends with no address: the proxy's own
	 * address, shared by all such requests (the stricter choice). */
	client_of("127.0.0.1:40000", "203.0.113.5, unknown", &p, out, sizeof out, 0);
	assert_string_equal(out, "127.0.0.1:40000");
	client_of("127.0.0.1:40000", "203.0.113.5,", &p, out, sizeof out, 0);
	client_of("127.0.0.1:40000", "", &p, out, sizeof out, 0);
	client_of("127.0.0.1:40000", "[2001:db8::1]:443", &p, out, sizeof out, 0);
	client_of("127.0.0.1:40000", NULL, &p, out, sizeof out, 0);
	assert_string_equal(out, "127.0.0.1:40000");
}

static void test_header_from_others_is_ignored(void **state)
{
	struct signin_proxies none, p;
	const char *why = NULL;
	char out[96];

	(void)state;
	memset(&none, 0, sizeof none);
	memset(&p, 0, sizeof p);
	assert_int_equal(signin_proxies_add(&p, "127.0.0.1", &why), 0);
	/* No proxy trusted: a client naming any source is still itself. */
	client_of("203.0.113.5:5555", "198.51.100.1", &none, out, sizeof out, 0);
	assert_string_equal(out, "203.0.113.5:5555");
	client_of("203.0.113.5:5555", "198.51.100.1", NULL, out, sizeof out, 0);
	/* A peer that is not the trusted proxy. */
	client_of("127.0.0.2:5555", "198.51.100.1", &p, out, sizeof out, 0);
	assert_string_equal(out, "127.0.0.2:5555");
	/* The proxy trusted as IPv4 is the same peer seen IPv4-mapped. */
	client_of("::ffff:127.0.0.1:5555", "198.51.100.1", &p, out, sizeof out, 1);
	assert_string_equal(out, "198.51.100.1:0");
	/* A header longer than any address. */
	client_of("127.0.0.1:5555", "1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa:bbbb:cccc:dddd",
		  &p, out, sizeof out, 0);
}

static void test_wait(void **state)
{
	struct signin_counts c;
	time_t now = 1000000;

	(void)state;
	memset(&c, 0, sizeof c);
	c.source = SIGNIN_SOURCE_FREE - 1;
	c.source_last = now;
	assert_int_equal(signin_wait(&c, now), 0);
	c.source = SIGNIN_SOURCE_FREE;
	assert_int_equal(signin_wait(&c, now), 1);
	c.source = SIGNIN_SOURCE_FREE + 3;
	assert_int_equal(signin_wait(&c, now + 2), 6);
	c.source = SIGNIN_SOURCE_FREE + 40;
	assert_int_equal(signin_wait(&c, now), SIGNIN_BACKOFF_MAX_S);
	/* An account's failures make wait only a source that failed on it. */
	memset(&c, 0, sizeof c);
	c.account = SIGNIN_ACCOUNT_FREE + 2;
	c.account_last = now;
	assert_int_equal(signin_wait(&c, now), 0);
	c.pair = 1;
	assert_int_equal(signin_wait(&c, now), 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_source),
		cmocka_unit_test(test_proxies_add),
		cmocka_unit_test(test_client_behind_a_trusted_proxy),
		cmocka_unit_test(test_header_from_others_is_ignored),
		cmocka_unit_test(test_wait),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
