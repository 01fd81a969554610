/* The gateway's reading of Ndx-Data-Subjects (src/gateway/subjects.c):
 * the canonical text that is signed and logged, the refusals, and the
 * element tests the provider's policy and the access list rely on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ndx/err.h"
#include "subjects.h"

#define A "001088000001"
#define B "001188000002"
#define C "079201000003"

static char out[GW_SUBJECTS_TEXT_MAX];

static void canonical(const char *in, const char *want, size_t want_n)
{
	const char *why = "x";
	size_t n = 99;

	assert_int_equal(gw_subjects_canonical(in, out, sizeof out, &n, &why), NDX_OK);
	assert_string_equal(out, want);
	assert_int_equal(n, want_n);
	assert_null(why);
}

static void refused(const char *in, int rc)
{
	const char *why = NULL;
	size_t n = 99;

	assert_int_equal(gw_subjects_canonical(in, out, sizeof out, &n, &why), rc);
	assert_string_equal(out, "");
	assert_int_equal(n, 0);
	assert_non_null(why);
	/* The sentence never repeats a number it was given. */
	assert_null(strstr(why, "0010"));
}

static void test_canonical_form(void **state)
{
	(void)state;
	canonical(A, A, 1);
	canonical(C "," A "," B, A "," B "," C, 3);
	canonical(" " B " , " A "\t", A "," B, 2);
	canonical(A "," A "," A, A, 1);
	canonical("none", "", 0);
	canonical("  none ", "", 0);
}

static void test_refusals(void **state)
{
	(void)state;
	refused(NULL, NDX_EINVAL);
	refused("", NDX_EINVAL);
	refused("   ", NDX_EINVAL);
	refused(A ",", NDX_EINVAL);
	refused("," A, NDX_EINVAL);
	refused(A ",," B, NDX_EINVAL);
	refused("00108800000", NDX_EINVAL);   /* 11 digits */
	refused("0010880000012", NDX_EINVAL); /* 13 digits */
	refused("00108800000x", NDX_EINVAL);
	refused("999088000001", NDX_EINVAL);  /* no such province */
	refused(A " " B, NDX_EINVAL);
	refused("none," A, NDX_EINVAL);
	refused("None", NDX_EINVAL);
	refused("all", NDX_EINVAL);
}

static void test_cap(void **state)
{
	size_t cap = (GW_SUBJECTS_MAX + 1) * 13 + 1, n;
	char *in = malloc(cap), *p = in;
	const char *why;

	(void)state;
	assert_non_null(in);
	for (int i = 0; i < GW_SUBJECTS_MAX; i++)
		p += sprintf(p, "%s001088%06d", i ? "," : "", i);
	assert_int_equal(gw_subjects_canonical(in, out, sizeof out, &n, &why), NDX_OK);
	assert_int_equal(n, GW_SUBJECTS_MAX);
	assert_int_equal(strlen(out), GW_SUBJECTS_MAX * 13 - 1);
	sprintf(p, ",001088%06d", GW_SUBJECTS_MAX);
	refused(in, NDX_ETOOBIG);
	/* Too little room for the canonical text is refused, never cut. */
	{
		char small[20];
		assert_int_equal(gw_subjects_canonical(A "," B, small, sizeof small, &n, &why),
				 NDX_ETOOBIG);
		assert_string_equal(small, "");
	}
	free(in);
}

static void test_has_is_by_element(void **state)
{
	(void)state;
	assert_true(gw_subjects_has(A "," B, A));
	assert_true(gw_subjects_has(A "," B, B));
	assert_false(gw_subjects_has(A "," B, C));
	/* Never part of an element, never across the comma. */
	assert_false(gw_subjects_has(A "," B, "01088000001"));
	assert_false(gw_subjects_has(A "," B, "0001," "0011"));
	assert_false(gw_subjects_has(A, ""));
	assert_false(gw_subjects_has("", A));
	assert_false(gw_subjects_has(NULL, A));
}

static void test_only(void **state)
{
	(void)state;
	assert_true(gw_subjects_only("", A));
	assert_true(gw_subjects_only(NULL, A));
	assert_true(gw_subjects_only(A, A));
	assert_false(gw_subjects_only(B, A));
	assert_false(gw_subjects_only(A "," B, A));
	assert_false(gw_subjects_only(A, NULL));
	assert_false(gw_subjects_only(A, ""));
	assert_true(gw_subjects_only("", NULL));
}

static void test_redact_pins(void **state)
{
	char a[] = "GET /citizens/" A "?x=" B, b[] = "/p/0010880000011/1234567890123", c[] = A;
	char d[] = "", e[] = "/enterprises/0100000001";

	(void)state;
	gw_redact_pins(a);
	assert_string_equal(a, "GET /citizens/************?x=************");
	gw_redact_pins(b); /* 13 digits is not a number of a person */
	assert_string_equal(b, "/p/0010880000011/1234567890123");
	gw_redact_pins(c);
	assert_string_equal(c, "************");
	gw_redact_pins(d);
	gw_redact_pins(e);
	assert_string_equal(e, "/enterprises/0100000001");
	gw_redact_pins(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_canonical_form),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_cap),
		cmocka_unit_test(test_has_is_by_element),
		cmocka_unit_test(test_only),
		cmocka_unit_test(test_redact_pins),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
