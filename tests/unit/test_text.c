/* Unit tests for include/ndx/text.h: which characters a name may hold
 * (finding 8 of issue 14: ESC, CR/LF, U+202E and the other C0/C1 controls
 * and bidirectional overrides are refused) and how a stored bad value is
 * escaped for a terminal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ndx/err.h"
#include "ndx/text.h"

static int check(const char *s, size_t *off, const char **why)
{
	return ndx_text_check(s, strlen(s), off, why);
}

static void test_accepts_names(void **state)
{
	static const char *const ok[] = {
		"Bộ Công an", "Tổng cục Thuế", "Hộ kinh doanh Nguyễn Văn A", "O'Brien & Co. (VN)",
		"東京", "עברית", "مرحبا", "emoji 😀", "tab-free", "",
		"\xe2\x80\x8f" /* U+200F RLM: a mark, not an override */,
	};
	(void)state;
	for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
		assert_int_equal(check(ok[i], NULL, NULL), NDX_OK);
}

static void test_refuses_controls_and_overrides(void **state)
{
	static const struct {
		const char *s;
		size_t off;
	} bad[] = {
		{ "a\x1b[2Jb", 1 },            /* ESC: clear screen */
		{ "name\r\nforged line", 4 },  /* CR */
		{ "x\ny", 1 },                 /* LF */
		{ "tab\there", 3 },
		{ "del\x7f", 3 },
		{ "c1 \xc2\x85 nel", 3 },      /* U+0085 NEL */
		{ "c1 \xc2\x9b", 3 },          /* U+009B CSI */
		{ "gpj\xe2\x80\xae" "exe", 3 }, /* U+202E RLO */
		{ "\xe2\x80\xaa", 0 },         /* U+202A LRE */
		{ "\xe2\x80\xad", 0 },         /* U+202D LRO */
		{ "ab\xe2\x81\xa6", 2 },       /* U+2066 LRI */
		{ "\xe2\x81\xa9", 0 },         /* U+2069 PDI */
		{ "l\xe2\x80\xa8", 1 },        /* U+2028 line separator */
		{ "bad \xff utf8", 4 },
		{ "over \xc0\xaf", 5 },        /* overlong '/' */
		{ "sur \xed\xa0\x80", 4 },     /* a surrogate */
		{ "cut \xe2\x80", 4 },         /* truncated */
	};
	size_t off;
	const char *why;

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		off = 99;
		why = NULL;
		assert_int_equal(check(bad[i].s, &off, &why), NDX_EINVAL);
		assert_int_equal(off, bad[i].off);
		assert_non_null(why);
	}
	/* A NUL inside the length counts. */
	assert_int_equal(ndx_text_check("a\0b", 3, &off, &why), NDX_EINVAL);
	assert_int_equal(off, 1);
	/* Each kind is named. */
	check("\xe2\x80\xae", NULL, &why);
	assert_non_null(strstr(why, "bidirectional"));
	check("\x1b", NULL, &why);
	assert_non_null(strstr(why, "control"));
}

static void expect_escape(const char *in, size_t len, const char *want)
{
	char *got = ndx_text_escape(in, len);
	assert_non_null(got);
	assert_string_equal(got, want);
	/* What comes out is itself acceptable display text. */
	assert_int_equal(ndx_text_check(got, strlen(got), NULL, NULL), NDX_OK);
	free(got);
}

static void test_escape(void **state)
{
	(void)state;
	expect_escape("Bộ Công an", strlen("Bộ Công an"), "Bộ Công an");
	expect_escape("a\x1b[31mred", 9, "a\\x1b[31mred");
	expect_escape("x\r\ny", 4, "x\\x0d\\x0ay");
	expect_escape("gpj\xe2\x80\xae" "exe", 9, "gpj\\u202eexe");
	expect_escape("\xc2\x9b", 2, "\\u009b");
	expect_escape("\xe2\x81\xa7", 3, "\\u2067");
	expect_escape("bad\xff", 4, "bad\\xff");
	expect_escape("a\\b", 3, "a\\\\b");
	expect_escape("n\0ul", 4, "n\\x00ul");
	expect_escape("", 0, "");
}

static void test_escape_json(void **state)
{
	static const char doc[] = "{\n  \"name\":\"gpj\xe2\x80\xae" "exe \\u001b Bộ\",\"c1\":\"\xc2\x9b\x7f\"}";
	char *got;

	(void)state;
	got = ndx_text_escape_json(doc, strlen(doc));
	assert_non_null(got);
	/* Backslashes stay; the override, the C1 control and DEL become
	 * JSON escapes of the same characters. */
	assert_string_equal(got, "{\n  \"name\":\"gpj\\u202eexe \\u001b Bộ\",\"c1\":\"\\u009b\\u007f\"}");
	assert_int_equal(ndx_text_check(got + 4, strlen(got + 4), NULL, NULL), NDX_OK);
	free(got);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepts_names),
		cmocka_unit_test(test_refuses_controls_and_overrides),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_escape_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
