/* Unit tests for include/ndx/pin.h: the province table, personal
 * identification numbers (valid ones decoded; wrong length, non-digits,
 * unknown province, a sex/century digit or birth year in the future
 * refused) and enterprise codes with their check digit (real codes from
 * python-stdnum's tests; a wrong check digit, all-zero serial, prefixes
 * that have no check digit). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ndx/err.h"
#include "ndx/pin.h"

static void test_provinces(void **state)
{
	(void)state;
	assert_string_equal(ndx_province_find("001")->name, "Hà Nội");
	assert_string_equal(ndx_province_find("079")->name, "TP Hồ Chí Minh");
	assert_string_equal(ndx_province_find("048")->name, "Đà Nẵng");
	assert_string_equal(ndx_province_find("031")->name, "Hải Phòng");
	assert_string_equal(ndx_province_find("096")->name, "Cà Mau");
	assert_null(ndx_province_find("000"));
	assert_null(ndx_province_find("003"));
	assert_null(ndx_province_find("097"));
	assert_null(ndx_province_find("abc"));
	assert_null(ndx_province_find(NULL));
	for (size_t i = 1; i < NDX_PROVINCE_COUNT; i++)
		assert_true(strcmp(ndx_province_at(i - 1)->code, ndx_province_at(i)->code) < 0);
	for (size_t i = 0; i < NDX_PROVINCE_COUNT; i++)
		assert_ptr_equal(ndx_province_find(ndx_province_at(i)->code), ndx_province_at(i));
	assert_null(ndx_province_at(NDX_PROVINCE_COUNT));
}

static void test_pin_valid(void **state)
{
	struct ndx_pin_info info;
	const char *why = "x";

	(void)state;
	assert_int_equal(ndx_pin_parse("001089012345", 2025, &info, &why), NDX_OK);
	assert_null(why);
	assert_string_equal(info.province, "001");
	assert_int_equal(info.female, 0);
	assert_int_equal(info.birth_year, 1989);

	assert_int_equal(ndx_pin_parse("079301000001", 2025, &info, NULL), NDX_OK);
	assert_string_equal(info.province, "079");
	assert_int_equal(info.female, 1);
	assert_int_equal(info.birth_year, 2001);

	assert_int_equal(ndx_pin_parse("048100999999", 2025, &info, NULL), NDX_OK);
	assert_int_equal(info.female, 1);
	assert_int_equal(info.birth_year, 1900);

	/* The current year itself is allowed, the next is not. */
	assert_int_equal(ndx_pin_parse("096225000000", 2025, &info, NULL), NDX_OK);
	assert_int_equal(info.birth_year, 2025);
	/* 0 means this year: a 1980 birth is in the past whenever this runs. */
	assert_int_equal(ndx_pin_parse("001080123456", 0, NULL, NULL), NDX_OK);
}

static void expect_bad_pin(const char *pin, const char *fragment)
{
	const char *why = NULL;
	assert_int_equal(ndx_pin_parse(pin, 2025, NULL, &why), NDX_EINVAL);
	assert_non_null(why);
	if (!strstr(why, fragment))
		fail_msg("%s: \"%s\" does not mention \"%s\"", pin, why, fragment);
}

static void test_pin_invalid(void **state)
{
	(void)state;
	expect_bad_pin("", "exactly 12");
	expect_bad_pin("00108901234", "exactly 12");     /* 11 digits */
	expect_bad_pin("0010890123456", "exactly 12");   /* 13 digits */
	expect_bad_pin("00108901234a", "only the digits");
	expect_bad_pin("001 89012345", "only the digits");
	expect_bad_pin("003089012345", "province");      /* 003 is no province */
	expect_bad_pin("000089012345", "province");
	expect_bad_pin("097089012345", "province");
	expect_bad_pin("999089012345", "province");
	expect_bad_pin("001489012345", "century");       /* 4: a man born in the 2100s */
	expect_bad_pin("001989012345", "century");
	expect_bad_pin("001299012345", "birth year");    /* 2099 */
	expect_bad_pin("001326012345", "birth year");    /* 2026 */
	assert_int_equal(ndx_pin_parse(NULL, 2025, NULL, NULL), NDX_EINVAL);
}

static void test_pin_make(void **state)
{
	char pin[NDX_PIN_LEN + 1];
	struct ndx_pin_info info;

	(void)state;
	assert_int_equal(ndx_pin_make("079", 1, 2003, 42, pin), NDX_OK);
	assert_string_equal(pin, "079303000042");
	assert_int_equal(ndx_pin_make("001", 0, 1955, 999999, pin), NDX_OK);
	assert_string_equal(pin, "001055999999");
	assert_int_equal(ndx_pin_parse(pin, 2025, &info, NULL), NDX_OK);
	assert_int_equal(info.birth_year, 1955);
	assert_int_equal(ndx_pin_make("003", 0, 1955, 1, pin), NDX_EINVAL);
	assert_int_equal(ndx_pin_make("001", 0, 1899, 1, pin), NDX_EINVAL);
	assert_int_equal(ndx_pin_make("001", 0, 1990, 1000000, pin), NDX_EINVAL);
	assert_int_equal(ndx_pin_make("01", 0, 1990, 1, pin), NDX_EINVAL);
}

static void test_ecode(void **state)
{
	const char *why = NULL;
	char code[NDX_ECODE_LEN + 1];

	(void)state;
	/* Real codes (python-stdnum's stdnum/vn/mst.py doctests). */
	assert_int_equal(ndx_ecode_check("0100233488", &why), NDX_OK);
	assert_int_equal(ndx_ecode_check("0314409058", &why), NDX_OK);
	assert_int_equal(ndx_ecode_check("0100112437", &why), NDX_OK);
	assert_int_equal(ndx_ecode_check_digit("010023348"), 8);
	assert_int_equal(ndx_ecode_check_digit("031440905"), 8);

	assert_int_equal(ndx_ecode_check("0100233480", &why), NDX_EINVAL);
	assert_non_null(strstr(why, "check digit"));
	assert_int_equal(ndx_ecode_check("0100233489", &why), NDX_EINVAL);
	assert_int_equal(ndx_ecode_check("010023348", &why), NDX_EINVAL);
	assert_non_null(strstr(why, "exactly 10"));
	assert_int_equal(ndx_ecode_check("01002334881", &why), NDX_EINVAL);
	assert_int_equal(ndx_ecode_check("0314409058002", &why), NDX_EINVAL); /* a branch */
	assert_int_equal(ndx_ecode_check("01002334a8", &why), NDX_EINVAL);
	assert_non_null(strstr(why, "only the digits"));
	assert_int_equal(ndx_ecode_check("0100000003", &why), NDX_EINVAL);
	assert_non_null(strstr(why, "not all zero"));
	assert_int_equal(ndx_ecode_check(NULL, &why), NDX_EINVAL);

	/* A prefix whose weighted sum is 0 mod 11 has no check digit. */
	assert_int_equal(ndx_ecode_check_digit("000000000"), -1);
	assert_int_equal(ndx_ecode_check_digit("00000011"), -1); /* too short */
	assert_int_equal(ndx_ecode_check_digit("0000000x1"), -1);
	assert_int_equal(ndx_ecode_make("010023348", code), NDX_OK);
	assert_string_equal(code, "0100233488");
	/* 0*31 + 1*29 + ... : 11 * k, found by search below */
	for (unsigned n = 1000000; n < 1000200; n++) {
		char p[10];
		snprintf(p, sizeof p, "01%07u", n);
		int d = ndx_ecode_check_digit(p);
		if (d < 0) {
			assert_int_equal(ndx_ecode_make(p, code), NDX_EINVAL);
		} else {
			assert_int_equal(ndx_ecode_make(p, code), NDX_OK);
			assert_int_equal(ndx_ecode_check(code, NULL), NDX_OK);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_provinces), cmocka_unit_test(test_pin_valid),
		cmocka_unit_test(test_pin_invalid), cmocka_unit_test(test_pin_make),
		cmocka_unit_test(test_ecode),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
