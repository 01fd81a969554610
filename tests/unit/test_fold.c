/* Unit tests for include/ndx/fold.h: every Vietnamese vowel with every tone
 * and vowel mark, in both cases, folds to its bare letter; đ/Đ to d; text
 * in decomposed form (NFD) folds like precomposed text; whitespace is
 * collapsed; the output cap is honoured. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ndx/fold.h"

static void expect(const char *in, const char *want)
{
	char out[512];
	int n = ndx_fold(in, out, sizeof out);
	if (n < 0 || strcmp(out, want) != 0)
		fail_msg("fold(\"%s\") = \"%s\", want \"%s\"", in, out, want);
	assert_int_equal((size_t)n, strlen(want));
}

static void test_all_vowels_all_tones(void **state)
{
	(void)state;
	/* Each row: the base vowel, then the five tones (huyền, sắc, hỏi,
	 * ngã, nặng) of each of its forms. */
	expect("aàáảãạ ăằắẳẵặ âầấẩẫậ", "aaaaaa aaaaaa aaaaaa");
	expect("AÀÁẢÃẠ ĂẰẮẲẴẶ ÂẦẤẨẪẬ", "aaaaaa aaaaaa aaaaaa");
	expect("eèéẻẽẹ êềếểễệ", "eeeeee eeeeee");
	expect("EÈÉẺẼẸ ÊỀẾỂỄỆ", "eeeeee eeeeee");
	expect("iìíỉĩị", "iiiiii");
	expect("IÌÍỈĨỊ", "iiiiii");
	expect("oòóỏõọ ôồốổỗộ ơờớởỡợ", "oooooo oooooo oooooo");
	expect("OÒÓỎÕỌ ÔỒỐỔỖỘ ƠỜỚỞỠỢ", "oooooo oooooo oooooo");
	expect("uùúủũụ ưừứửữự", "uuuuuu uuuuuu");
	expect("UÙÚỦŨỤ ƯỪỨỬỮỰ", "uuuuuu uuuuuu");
	expect("yỳýỷỹỵ", "yyyyyy");
	expect("YỲÝỶỸỴ", "yyyyyy");
	expect("đĐ", "dd");
}

static void test_names(void **state)
{
	(void)state;
	expect("Nguyễn Văn An", "nguyen van an");
	expect("nguyen van an", "nguyen van an");
	expect("NGUYỄN VĂN AN", "nguyen van an");
	expect("Đặng Thị Ánh Tuyết", "dang thi anh tuyet");
	expect("Trương Quốc Đạt", "truong quoc dat");
	expect("Huỳnh Ngọc Hưng", "huynh ngoc hung");
	expect("Công ty TNHH Thương mại Phú Hòa", "cong ty tnhh thuong mai phu hoa");
	/* NFD: base letters followed by combining marks. */
	expect("Nguye\xcc\x82\xcc\x83n", "nguyen");
	expect("Đa\xcc\x80 Na\xcc\x86\xcc\x83ng", "da nang");
	/* Whitespace. */
	expect("  Trần \t  Thị\nBích  ", "tran thi bich");
	expect("", "");
	expect("   ", "");
	/* Digits and punctuation stay; other scripts are copied. */
	expect("Phường 12, Quận 1", "phuong 12, quan 1");
	expect("Zürich 東京", "z\xc3\xbcrich 東京");
}

static void test_bad_input_and_caps(void **state)
{
	char out[8];
	(void)state;
	/* A stray byte is copied rather than lost. */
	expect("a\xff" "b", "a\xff" "b");
	expect("\xc3", "\xc3");
	assert_int_equal(ndx_fold("Nguyễn", out, 7), 6);
	assert_string_equal(out, "nguyen");
	assert_int_equal(ndx_fold("Nguyễn", out, 6), -1);
	assert_int_equal(strlen(out) < 6, 1);
	assert_int_equal(ndx_fold("x", out, 0), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_vowels_all_tones),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_bad_input_and_caps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
