/* Unit tests for Argon2id password hashing (src/lib/password.c): the
 * reference implementation's published vector, round trips, refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ndx/err.h"
#include "ndx/password.h"

/* From the Argon2 reference implementation's test.c (argon2id, v=0x13,
 * t=2, m=2^16, p=1, password "password", salt "somesalt"). */
static const char REFERENCE[] =
	"$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc";

static void test_reference_vector(void **state)
{
	(void)state;
	assert_int_equal(ndx_password_verify(REFERENCE, "password"), NDX_OK);
	assert_int_equal(ndx_password_verify(REFERENCE, "Password"), NDX_EPERM);
	assert_int_equal(ndx_password_verify(REFERENCE, "password "), NDX_EPERM);
}

static void test_round_trip_and_fresh_salt(void **state)
{
	char a[NDX_PASSWORD_HASH_MAX], b[NDX_PASSWORD_HASH_MAX];

	(void)state;
	assert_int_equal(ndx_password_hash("Mật khẩu 123", &NDX_PASSWORD_COST_MIN, a), NDX_OK);
	assert_int_equal(ndx_password_hash("Mật khẩu 123", &NDX_PASSWORD_COST_MIN, b), NDX_OK);
	assert_true(strncmp(a, "$argon2id$v=19$m=8192,t=1,p=1$", 30) == 0);
	assert_string_not_equal(a, b); /* a fresh salt every time */
	assert_int_equal(ndx_password_verify(a, "Mật khẩu 123"), NDX_OK);
	assert_int_equal(ndx_password_verify(b, "Mật khẩu 123"), NDX_OK);
	assert_int_equal(ndx_password_verify(a, "Mat khau 123"), NDX_EPERM);
}

static void test_refusals(void **state)
{
	char out[NDX_PASSWORD_HASH_MAX], tamper[sizeof REFERENCE];
	static char big[NDX_PASSWORD_MAX + 2];
	struct ndx_password_cost weak = { 1, 1024, 1 };

	(void)state;
	memset(big, 'x', sizeof big - 1);
	assert_int_equal(ndx_password_hash("", &NDX_PASSWORD_COST_MIN, out), NDX_EINVAL);
	assert_int_equal(ndx_password_hash(big, &NDX_PASSWORD_COST_MIN, out), NDX_EINVAL);
	assert_int_equal(ndx_password_hash("pw", &weak, out), NDX_EINVAL);
	assert_int_equal(ndx_password_hash("pw", NULL, out), NDX_EINVAL);
	assert_int_equal(ndx_password_verify(REFERENCE, big), NDX_EINVAL);
	assert_int_equal(ndx_password_verify("", "password"), NDX_EINVAL);
	assert_int_equal(ndx_password_verify("$argon2i$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$x",
					     "password"), NDX_EINVAL);
	assert_int_equal(ndx_password_verify("$argon2id$v=19$m=65536,t=2,p=1$garbage", "password"),
			 NDX_EINVAL);
	/* A changed hash byte is a mismatch, not a crash. */
	memcpy(tamper, REFERENCE, sizeof REFERENCE);
	tamper[sizeof REFERENCE - 3] = tamper[sizeof REFERENCE - 3] == 'A' ? 'B' : 'A';
	assert_int_equal(ndx_password_verify(tamper, "password"), NDX_EPERM);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reference_vector),
		cmocka_unit_test(test_round_trip_and_fresh_salt),
		cmocka_unit_test(test_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
