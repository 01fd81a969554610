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
#include <jansson.h>

#include "ndx/buf.h"
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

/* ndx_text_json_string against jansson itself: what json_dumps writes for
 * json_stringn(s, len), or NULL when jansson refuses s. */
static void expect_like_jansson(const char *s, size_t len)
{
	json_t *j = json_stringn(s, len);
	char *want = j ? json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
	struct ndx_buf b = NDX_BUF_INIT(NDX_BUF_NO_CAP);
	int rc;

	ndx_buf_append_str(&b, "x");
	rc = ndx_text_json_string(&b, s, len);
	if (want) {
		assert_int_equal(rc, NDX_OK);
		assert_int_equal(b.len, 1 + strlen(want));
		assert_memory_equal(b.data + 1, want, strlen(want));
	} else {
		/* Refused, and nothing appended. */
		assert_int_equal(rc, NDX_EINVAL);
		assert_int_equal(b.len, 1);
		assert_string_equal(b.data, "x");
	}
	free(want);
	json_decref(j);
	ndx_buf_free(&b);
}

static void test_json_string(void **state)
{
	static const char *const cases[] = {
		"", "plain", "a\"b\\c/d", "\b\f\n\r\t", "\x01\x1f\x7f",
		"Bộ Công an", "gpj\xe2\x80\xae" "exe", "\xf0\x9f\x98\x80",
		"/r1/VN/GOV/BCA/citizens/079123456789?x=%22",
		"\xc0\xaf",         /* overlong '/' */
		"\xed\xa0\x80",     /* a surrogate */
		"\xf4\x90\x80\x80", /* above U+10FFFF */
		"ok\xe2\x82",       /* truncated */
		"\xff", "\x80",
	};
	unsigned char two[2];

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
		expect_like_jansson(cases[i], strlen(cases[i]));
	expect_like_jansson("n\0ul", 4);
	/* Every byte alone, and every pair of bytes. */
	for (unsigned a = 0; a < 256; a++) {
		two[0] = (unsigned char)a;
		expect_like_jansson((const char *)two, 1);
		for (unsigned c = 0; c < 256; c++) {
			two[1] = (unsigned char)c;
			expect_like_jansson((const char *)two, 2);
		}
	}
}

static void test_json_string_cap(void **state)
{
	struct ndx_buf b = NDX_BUF_INIT(8);

	(void)state;
	assert_int_equal(ndx_text_json_string(&b, "abc", 3), NDX_OK);
	assert_string_equal(b.data, "\"abc\"");
	/* Over the cap: b keeps what it held. */
	assert_int_equal(ndx_text_json_string(&b, "a\n", 2), NDX_ETOOBIG);
	assert_int_equal(b.len, 5);
	assert_string_equal(b.data, "\"abc\"");
	ndx_buf_free(&b);
}

/* A token: 1..max bytes, none a space, a C0 control character or DEL; a
 * byte above 0x7f is the caller's to judge (UTF-8 passes). */
static void test_is_token(void **state)
{
	(void)state;
	assert_true(ndx_text_is_token("MK0A1B", 6));
	assert_true(ndx_text_is_token("h\xc3\xb4", 3));
	assert_false(ndx_text_is_token("MK0A1B", 5));
	assert_false(ndx_text_is_token("", 5));
	assert_false(ndx_text_is_token(NULL, 5));
	assert_false(ndx_text_is_token("a b", 5));
	assert_false(ndx_text_is_token("a\tb", 5));
	assert_false(ndx_text_is_token("a\x7f", 5));
	assert_false(ndx_text_is_token("\x1f", 5));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepts_names),
		cmocka_unit_test(test_refuses_controls_and_overrides),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_escape_json),
		cmocka_unit_test(test_json_string),
		cmocka_unit_test(test_json_string_cap),
		cmocka_unit_test(test_is_token),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
