/* Unit tests for listen addresses and bounded integers (src/lib/args.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ndx/args.h"
#include "ndx/err.h"

static void test_listen_accepts(void **state)
{
	char addr[64];
	uint16_t port = 1;

	(void)state;
	assert_int_equal(ndx_args_listen("127.0.0.1:4400", addr, sizeof addr, &port, NULL), NDX_OK);
	assert_string_equal(addr, "127.0.0.1");
	assert_int_equal(port, 4400);
	assert_int_equal(ndx_args_listen("0.0.0.0:0", addr, sizeof addr, &port, NULL), NDX_OK);
	assert_string_equal(addr, "0.0.0.0");
	assert_int_equal(port, 0);
	/* A port alone means loopback: servers bind to loopback by default. */
	assert_int_equal(ndx_args_listen("65535", addr, sizeof addr, &port, NULL), NDX_OK);
	assert_string_equal(addr, "127.0.0.1");
	assert_int_equal(port, 65535);
}

static void test_listen_refuses(void **state)
{
	static const char *bad[] = {
		"", ":4400", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1:+80",
		"127.0.0.1: 80", "127.0.0.1:80x", "localhost:80", "300.0.0.1:80", "::1:80",
		"127.0.0.1:99999999999999999999999",
	};
	char addr[64];
	uint16_t port;
	const char *why;

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		why = NULL;
		if (ndx_args_listen(bad[i], addr, sizeof addr, &port, &why) != NDX_EINVAL)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_non_null(why);
	}
	/* The address must fit the caller's buffer. */
	assert_int_equal(ndx_args_listen("127.0.0.1:80", addr, 9, &port, NULL), NDX_EINVAL);
	assert_int_equal(ndx_args_listen("127.0.0.1:80", addr, 10, &port, NULL), NDX_OK);
}

static void test_uint(void **state)
{
	unsigned long long v = 0;

	(void)state;
	assert_int_equal(ndx_args_uint("0", 0, 10, &v), NDX_OK);
	assert_int_equal(v, 0);
	assert_int_equal(ndx_args_uint("10", 0, 10, &v), NDX_OK);
	assert_int_equal(v, 10);
	assert_int_equal(ndx_args_uint("18446744073709551615", 0, UINT64_MAX, &v), NDX_OK);
	assert_int_equal(ndx_args_uint("11", 0, 10, &v), NDX_EINVAL);
	assert_int_equal(ndx_args_uint("4", 5, 10, &v), NDX_EINVAL);
	assert_int_equal(ndx_args_uint("18446744073709551616", 0, UINT64_MAX, &v), NDX_EINVAL);
	assert_int_equal(ndx_args_uint("-1", 0, 10, &v), NDX_EINVAL);
	assert_int_equal(ndx_args_uint("+1", 0, 10, &v), NDX_EINVAL);
	assert_int_equal(ndx_args_uint(" 1", 0, 10, &v), NDX_EINVAL);
	assert_int_equal(ndx_args_uint("1 ", 0, 10, &v), NDX_EINVAL);
	assert_int_equal(ndx_args_uint("", 0, 10, &v), NDX_EINVAL);
	assert_int_equal(ndx_args_uint("0x10", 0, 100, &v), NDX_EINVAL);
}

static void test_option_helpers(void **state)
{
	unsigned long long v = 0;
	unsigned long u = 0;
	char path[16];

	(void)state;
	/* The messages go to stderr; the results are what is checked. */
	assert_int_equal(ndx_args_uint_opt("t", "--n", "42", 1, 100, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(ndx_args_uint_opt("t", "--n", "0", 1, 100, &v), -1);
	assert_int_equal(ndx_args_uint_opt("t", "--n", "4x", 1, 100, &v), -1);
	assert_int_equal(ndx_args_ulong_opt("t", "--n", "7", 0, 10, &u), 0);
	assert_int_equal(u, 7);
	assert_int_equal(ndx_args_ulong_opt("t", "--n", "11", 0, 10, &u), -1);
	assert_int_equal(ndx_args_join("t", path, sizeof path, "/a/b", "c.db"), 0);
	assert_string_equal(path, "/a/b/c.db");
	assert_int_equal(ndx_args_join("t", path, sizeof path, "/a/long/dir", "file.db"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_option_helpers),
		cmocka_unit_test(test_listen_accepts),
		cmocka_unit_test(test_listen_refuses),
		cmocka_unit_test(test_uint),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
