/* The administrative map of 1 July 2025 (include/ndx/adminmap.h): 34
 * units, every former province in exactly one, codes unique, and lookups
 * by code and by name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ndx/adminmap.h"
#include "ndx/pin.h"

static void thirty_four_units(void **state)
{
	size_t cities = 0, provinces = 0;

	(void)state;
	assert_null(ndx_admin_province_at(NDX_ADMIN_PROVINCE_COUNT));
	for (size_t i = 0; i < NDX_ADMIN_PROVINCE_COUNT; i++) {
		const struct ndx_admin_province *u = ndx_admin_province_at(i);
		assert_non_null(u);
		assert_int_equal(strlen(u->code), 3);
		assert_int_equal(strlen(u->ecode_prefix), 2);
		assert_true(u->name[0] && u->name_en[0]);
		if (strcmp(u->kind, "Thành phố") == 0)
			cities++;
		else if (strcmp(u->kind, "Tỉnh") == 0)
			provinces++;
		else
			fail_msg("%s: kind %s", u->name, u->kind);
		/* The code is the former code of the seat, listed first. */
		assert_string_equal(u->merged[0], u->code);
		assert_non_null(ndx_province_find(u->code));
		assert_ptr_equal(ndx_admin_province_find(u->code), u);
		if (i > 0)
			assert_true(strcmp(ndx_admin_province_at(i - 1)->code, u->code) < 0);
	}
	assert_int_equal(cities, 6);
	assert_int_equal(provinces, 28);
}

static void every_former_province_in_exactly_one(void **state)
{
	size_t listed = 0;

	(void)state;
	for (size_t k = 0; k < NDX_PROVINCE_COUNT; k++) {
		const char *old = ndx_province_at(k)->code;
		size_t seen = 0;
		for (size_t i = 0; i < NDX_ADMIN_PROVINCE_COUNT; i++)
			for (const char *const *m = ndx_admin_province_at(i)->merged; *m; m++)
				if (strcmp(*m, old) == 0) {
					seen++;
					assert_ptr_equal(ndx_admin_province_of(old), ndx_admin_province_at(i));
					assert_int_equal(ndx_admin_province_index_of(old), (int)i);
				}
		assert_int_equal(seen, 1);
	}
	for (size_t i = 0; i < NDX_ADMIN_PROVINCE_COUNT; i++)
		for (const char *const *m = ndx_admin_province_at(i)->merged; *m; m++)
			listed++;
	assert_int_equal(listed, NDX_PROVINCE_COUNT);
}

static void resolution_examples(void **state)
{
	(void)state;
	/* Lai Châu is unchanged; Hải Dương is now Hải Phòng; Yên Bái's
	 * code 015 is the new Lào Cai's (its seat), and former Lào Cai (010)
	 * is in it. */
	assert_string_equal(ndx_admin_province_of("012")->name, "Lai Châu");
	assert_string_equal(ndx_admin_province_of("012")->ecode_prefix, "62");
	assert_string_equal(ndx_admin_province_of("030")->name, "Hải Phòng");
	assert_string_equal(ndx_admin_province_of("030")->ecode_prefix, "02");
	assert_string_equal(ndx_admin_province_of("010")->code, "015");
	assert_string_equal(ndx_admin_province_of("074")->name, "Hồ Chí Minh");
	assert_string_equal(ndx_admin_province_of("077")->name, "Hồ Chí Minh");
	assert_string_equal(ndx_admin_province_of("046")->kind, "Thành phố");
	/* A former code that is not a current one is not found as current. */
	assert_null(ndx_admin_province_find("030"));
	assert_null(ndx_admin_province_find("010"));
	/* Not a code at all. */
	assert_null(ndx_admin_province_of("999"));
	assert_null(ndx_admin_province_of("03"));
	assert_null(ndx_admin_province_of(""));
	assert_null(ndx_admin_province_of(NULL));
	assert_null(ndx_admin_province_find(NULL));
	assert_int_equal(ndx_admin_province_index_of("abc"), -1);
}

static void by_name(void **state)
{
	(void)state;
	assert_string_equal(ndx_admin_province_by_name("Lai Châu")->code, "012");
	assert_string_equal(ndx_admin_province_by_name("lai chau")->code, "012");
	assert_string_equal(ndx_admin_province_by_name("Tỉnh Lai Châu")->code, "012");
	assert_string_equal(ndx_admin_province_by_name("  TỈNH  LAI CHÂU ")->code, "012");
	assert_string_equal(ndx_admin_province_by_name("Đắk Lắk")->code, "066");
	assert_string_equal(ndx_admin_province_by_name("dak lak")->code, "066");
	assert_string_equal(ndx_admin_province_by_name("Thành phố Hồ Chí Minh")->code, "079");
	assert_string_equal(ndx_admin_province_by_name("TP Hồ Chí Minh")->code, "079");
	assert_string_equal(ndx_admin_province_by_name("Ho Chi Minh City")->code, "079");
	assert_string_equal(ndx_admin_province_by_name("Hanoi")->code, "001");
	assert_string_equal(ndx_admin_province_by_name("Hà Nội")->code, "001");
	/* Former names give the unit they merged into. */
	assert_string_equal(ndx_admin_province_by_name("Hải Dương")->code, "031");
	assert_string_equal(ndx_admin_province_by_name("hai duong")->code, "031");
	assert_string_equal(ndx_admin_province_by_name("Thừa Thiên Huế")->code, "046");
	assert_string_equal(ndx_admin_province_by_name("Bà Rịa - Vũng Tàu")->code, "079");
	assert_string_equal(ndx_admin_province_by_name("Yên Bái")->code, "015");
	assert_string_equal(ndx_admin_province_by_name("Kon Tum")->code, "051");
	/* Every unit by its own names. */
	for (size_t i = 0; i < NDX_ADMIN_PROVINCE_COUNT; i++) {
		const struct ndx_admin_province *u = ndx_admin_province_at(i);
		assert_ptr_equal(ndx_admin_province_by_name(u->name), u);
		assert_ptr_equal(ndx_admin_province_by_name(u->name_en), u);
	}
	assert_null(ndx_admin_province_by_name("Hà Tây"));
	assert_null(ndx_admin_province_by_name("Tỉnh"));
	assert_null(ndx_admin_province_by_name(""));
	assert_null(ndx_admin_province_by_name(NULL));
	char big[300];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = 0;
	assert_null(ndx_admin_province_by_name(big));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(thirty_four_units),
		cmocka_unit_test(every_former_province_in_exactly_one),
		cmocka_unit_test(resolution_examples),
		cmocka_unit_test(by_name),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
