/* Unit tests for src/sector/pinset.h, the set of PINs a sector answer
 * declares in Ndx-Data-Subjects: ascending and distinct whatever the
 * order of adding, "none" when empty, only 12-digit numbers, and a cap of
 * PINSET_MAX that refuses the next one (and is remembered) rather than
 * dropping it unnoticed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ndx/err.h"
#include "pinset.h"

static void expect_text(const struct pinset *s, const char *want)
{
	char *text = pinset_text(s);
	assert_non_null(text);
	assert_string_equal(text, want);
	free(text);
}

static void test_empty_is_none(void **state)
{
	struct pinset *s = pinset_new();
	(void)state;
	assert_non_null(s);
	assert_int_equal(pinset_count(s), 0);
	assert_false(pinset_has(s, "001089000001"));
	expect_text(s, "none");
	pinset_free(s);
	pinset_free(NULL);
}

static void test_sorted_distinct(void **state)
{
	struct pinset *s = pinset_new();
	(void)state;
	assert_int_equal(pinset_add(s, "079190000002"), NDX_OK);
	assert_int_equal(pinset_add(s, "001089000001"), NDX_OK);
	assert_int_equal(pinset_add(s, "048301000003"), NDX_OK);
	assert_int_equal(pinset_add(s, "001089000001"), NDX_OK); /* again: no change */
	assert_int_equal(pinset_count(s), 3);
	expect_text(s, "001089000001,048301000003,079190000002");
	assert_true(pinset_has(s, "048301000003"));
	assert_false(pinset_has(s, "048301000004"));
	assert_false(pinset_has(s, "04830100000"));
	assert_false(pinset_has(s, NULL));
	assert_false(pinset_over(s));
	pinset_free(s);
}

static void test_only_twelve_digits(void **state)
{
	struct pinset *s = pinset_new();
	(void)state;
	assert_int_equal(pinset_add(s, "0100233488"), NDX_EINVAL);    /* an enterprise */
	assert_int_equal(pinset_add(s, "0010890000011"), NDX_EINVAL);  /* 13 digits */
	assert_int_equal(pinset_add(s, "00108900000a"), NDX_EINVAL);
	assert_int_equal(pinset_add(s, "001089 00001"), NDX_EINVAL);
	assert_int_equal(pinset_add(s, ""), NDX_EINVAL);
	assert_int_equal(pinset_add(s, NULL), NDX_EINVAL);
	assert_int_equal(pinset_count(s), 0);
	expect_text(s, "none");
	pinset_free(s);
}

static void test_cap(void **state)
{
	struct pinset *s = pinset_new(), *t = pinset_new();
	char pin[24], *text;
	(void)state;
	/* Added in descending order: every insert moves the whole tail. */
	for (int i = PINSET_MAX; i > 0; i--) {
		snprintf(pin, sizeof pin, "001089%06d", i);
		assert_int_equal(pinset_add(s, pin), NDX_OK);
	}
	assert_int_equal(pinset_count(s), PINSET_MAX);
	assert_int_equal(pinset_add(s, "001089000001"), NDX_OK); /* held already */
	assert_false(pinset_over(s));
	assert_int_equal(pinset_add(s, "001089999999"), NDX_ETOOBIG);
	assert_true(pinset_over(s));
	assert_int_equal(pinset_count(s), PINSET_MAX);
	assert_false(pinset_has(s, "001089999999"));
	text = pinset_text(s);
	assert_non_null(text);
	assert_int_equal(strlen(text), PINSET_MAX * 13 - 1);
	assert_memory_equal(text, "001089000001,001089000002,", 26);
	assert_string_equal(text + strlen(text) - 12, "001089001000");
	free(text);

	/* Merging: an over-full source makes the target over-full too. */
	assert_int_equal(pinset_add(t, "079190000002"), NDX_OK);
	assert_int_equal(pinset_add_all(t, s), NDX_ETOOBIG);
	assert_true(pinset_over(t));
	pinset_free(s);
	pinset_free(t);
}

static void test_merge(void **state)
{
	struct pinset *a = pinset_new(), *b = pinset_new();
	(void)state;
	assert_int_equal(pinset_add(a, "079190000002"), NDX_OK);
	assert_int_equal(pinset_add(b, "001089000001"), NDX_OK);
	assert_int_equal(pinset_add(b, "079190000002"), NDX_OK);
	assert_int_equal(pinset_add_all(a, b), NDX_OK);
	expect_text(a, "001089000001,079190000002");
	expect_text(b, "001089000001,079190000002");
	pinset_free(a);
	pinset_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_is_none),
		cmocka_unit_test(test_sorted_distinct),
		cmocka_unit_test(test_only_twelve_digits),
		cmocka_unit_test(test_cap),
		cmocka_unit_test(test_merge),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
