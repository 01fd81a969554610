/* Unit tests for include/ndx/encode.h (hex, base64 and base64url with the
 * RFC 4648 section 10 vectors, percent encoding), and, since they have no
 * test file of their own, include/ndx/timefmt.h and include/ndx/file.h. */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "ndx/encode.h"
#include "ndx/err.h"
#include "ndx/file.h"
#include "ndx/timefmt.h"

/* ---- hex ---------------------------------------------------------------- */

static void test_hex(void **state)
{
	static const uint8_t bytes[] = { 0x00, 0x01, 0x7f, 0x80, 0xab, 0xff };
	uint8_t out[6];
	char text[13];

	(void)state;
	ndx_hex_encode(bytes, sizeof bytes, text);
	assert_string_equal(text, "00017f80abff");
	assert_int_equal(ndx_hex_decode(text, 12, out, 6), NDX_OK);
	assert_memory_equal(out, bytes, 6);
	assert_int_equal(ndx_hex_decode("00017F80ABFF", 12, out, 6), NDX_OK);
	assert_memory_equal(out, bytes, 6);
	ndx_hex_encode(bytes, 0, text);
	assert_string_equal(text, "");
	assert_int_equal(ndx_hex_decode("", 0, out, 0), NDX_OK);

	/* Wrong length either way, odd length, non-hex characters. */
	assert_int_equal(ndx_hex_decode("00017f80ab", 10, out, 6), NDX_EINVAL);
	assert_int_equal(ndx_hex_decode("00017f80abff00", 14, out, 6), NDX_EINVAL);
	assert_int_equal(ndx_hex_decode("abc", 3, out, 1), NDX_EINVAL);
	assert_int_equal(ndx_hex_decode("0g", 2, out, 1), NDX_EINVAL);
	assert_int_equal(ndx_hex_decode(" 0", 2, out, 1), NDX_EINVAL);
	assert_int_equal(ndx_hex_decode("0x", 2, out, 1), NDX_EINVAL);
	assert_int_equal(ndx_hex_decode("-1", 2, out, 1), NDX_EINVAL);
}

/* ---- base64 ------------------------------------------------------------- */

struct b64_vector {
	const char *raw, *std, *url;
};

/* RFC 4648 section 10, and the same in base64url without padding. */
static const struct b64_vector b64_vectors[] = {
	{ "", "", "" },
	{ "f", "Zg==", "Zg" },
	{ "fo", "Zm8=", "Zm8" },
	{ "foo", "Zm9v", "Zm9v" },
	{ "foob", "Zm9vYg==", "Zm9vYg" },
	{ "fooba", "Zm9vYmE=", "Zm9vYmE" },
	{ "foobar", "Zm9vYmFy", "Zm9vYmFy" },
};

static void test_b64_rfc4648(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof b64_vectors / sizeof b64_vectors[0]; i++) {
		const struct b64_vector *v = &b64_vectors[i];
		size_t rawlen = strlen(v->raw), len = 99;
		uint8_t *dec = NULL;
		char *enc;

		enc = ndx_b64_encode((const uint8_t *)v->raw, rawlen, 0);
		assert_non_null(enc);
		assert_string_equal(enc, v->std);
		free(enc);
		enc = ndx_b64_encode((const uint8_t *)v->raw, rawlen, 1);
		assert_non_null(enc);
		assert_string_equal(enc, v->url);
		free(enc);

		assert_int_equal(ndx_b64_decode(v->std, strlen(v->std), 0, &dec, &len), NDX_OK);
		assert_non_null(dec);
		assert_int_equal(len, rawlen);
		assert_memory_equal(dec, v->raw, rawlen);
		free(dec);
		assert_int_equal(ndx_b64_decode(v->url, strlen(v->url), 1, &dec, &len), NDX_OK);
		assert_int_equal(len, rawlen);
		assert_memory_equal(dec, v->raw, rawlen);
		free(dec);

		/* Into the caller's buffer: that many bytes and no other count. */
		{
			uint8_t out[8];

			memset(out, 0xaa, sizeof out);
			assert_int_equal(ndx_b64_decode_exact(v->std, strlen(v->std), 0, out, rawlen), NDX_OK);
			assert_memory_equal(out, v->raw, rawlen);
			assert_int_equal(out[rawlen], 0xaa);
			assert_int_equal(ndx_b64_decode_exact(v->url, strlen(v->url), 1, out, rawlen), NDX_OK);
			assert_memory_equal(out, v->raw, rawlen);
			assert_int_equal(ndx_b64_decode_exact(v->std, strlen(v->std), 0, out, rawlen + 1),
					 NDX_EINVAL);
			if (rawlen > 0)
				assert_int_equal(ndx_b64_decode_exact(v->std, strlen(v->std), 0, out,
								      rawlen - 1), NDX_EINVAL);
		}
	}
}

static void test_b64_alphabets(void **state)
{
	/* Bytes whose encodings use '+' and '/' (standard) or '-' and '_'. */
	static const uint8_t raw[] = { 0xfb, 0xff, 0xbf, 0xfe };
	uint8_t *dec = NULL;
	size_t len = 0;
	char *enc;

	(void)state;
	enc = ndx_b64_encode(raw, sizeof raw, 0);
	assert_string_equal(enc, "+/+//g==");
	free(enc);
	enc = ndx_b64_encode(raw, sizeof raw, 1);
	assert_string_equal(enc, "-_-__g");
	free(enc);
	assert_int_equal(ndx_b64_decode("+/+//g==", 8, 0, &dec, &len), NDX_OK);
	assert_int_equal(len, 4);
	assert_memory_equal(dec, raw, 4);
	free(dec);
	assert_int_equal(ndx_b64_decode("-_-__g", 6, 1, &dec, &len), NDX_OK);
	assert_int_equal(len, 4);
	assert_memory_equal(dec, raw, 4);
	free(dec);

	/* Round trips of every length up to 300 bytes, both alphabets, and
	 * of lengths either side of each 1,024-character stage the decoder
	 * works through (768 bytes of text each). */
	{
		static uint8_t buf[3 * 768 + 3];

		for (size_t i = 0; i < sizeof buf; i++)
			buf[i] = (uint8_t)(i * 97 + 3);
		/* 0..300, then 766..770, 1534..1538, 2302..2306. */
		for (size_t n = 0; n <= sizeof buf; n = n < 300 ? n + 1 : n == 300 ? 766 : n % 768 == 2 ? n + 764 : n + 1) {
			for (int url = 0; url <= 1; url++) {
				enc = ndx_b64_encode(buf, n, url);
				assert_non_null(enc);
				assert_int_equal(ndx_b64_decode(enc, strlen(enc), url, &dec, &len),
						 NDX_OK);
				assert_int_equal(len, n);
				assert_memory_equal(dec, buf, n);
				memset(dec, 0, n);
				assert_int_equal(ndx_b64_decode_exact(enc, strlen(enc), url, dec, n), NDX_OK);
				assert_memory_equal(dec, buf, n);
				free(dec);
				free(enc);
			}
		}
	}
}

static void expect_b64_bad(const char *text, int url)
{
	uint8_t *dec = (uint8_t *)"not reset";
	size_t len = 99;

	uint8_t out[8];

	if (ndx_b64_decode(text, strlen(text), url, &dec, &len) != NDX_EINVAL)
		fail_msg("accepted \"%s\" (url=%d)", text, url);
	assert_null(dec);
	assert_int_equal(len, 0);
	/* Whatever count of bytes is asked for. */
	for (size_t n = 0; n <= sizeof out; n++) {
		if (ndx_b64_decode_exact(text, strlen(text), url, out, n) != NDX_EINVAL)
			fail_msg("decoded \"%s\" (url=%d) as %zu bytes", text, url, n);
	}
}

static void test_b64_reject(void **state)
{
	(void)state;
	/* Padding missing, short, long or misplaced. */
	expect_b64_bad("Zg", 0);
	expect_b64_bad("Zg=", 0);
	expect_b64_bad("Zg===", 0);
	expect_b64_bad("Z===", 0);
	expect_b64_bad("====", 0);
	expect_b64_bad("Zm9v=", 0);
	expect_b64_bad("Z=g=", 0);
	expect_b64_bad("Zg==Zg==", 0);
	expect_b64_bad("Zm8=Zm8=", 0);
	/* Padding in base64url, one dangling character. */
	expect_b64_bad("Zg==", 1);
	expect_b64_bad("Zm8=", 1);
	expect_b64_bad("Z", 1);
	expect_b64_bad("Zm9vY", 1);
	expect_b64_bad("Zm9vY", 0);
	/* Whitespace, line breaks and characters outside the alphabet. */
	expect_b64_bad(" Zm9v", 0);
	expect_b64_bad("Zm9v ", 0);
	expect_b64_bad("Zm9v\n", 0);
	expect_b64_bad("Zm\n9v", 0);
	expect_b64_bad("Zm9v\r\nYmFy", 0);
	expect_b64_bad("Zm9!", 0);
	expect_b64_bad("Zm9.", 1);
	/* The other alphabet. */
	expect_b64_bad("-_-__g==", 0);
	expect_b64_bad("+/+//g", 1);
	/* Non-zero bits after the last byte ("Zh==" is not "f"). */
	expect_b64_bad("Zh==", 0);
	expect_b64_bad("Zm9=", 0);
	expect_b64_bad("Zh", 1);
	expect_b64_bad("Zm9", 1);
	/* An embedded NUL within the length. */
	{
		uint8_t *dec = NULL;
		size_t len = 0;

		assert_int_equal(ndx_b64_decode("Zm\0v", 4, 0, &dec, &len), NDX_EINVAL);
		assert_null(dec);
	}
}

/* ---- percent encoding --------------------------------------------------- */

static void test_pct_encode(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(ndx_pct_encode("abcXYZ019-._~'()+,=", 19, out, sizeof out), 19);
	assert_string_equal(out, "abcXYZ019-._~'()+,=");
	assert_int_equal(ndx_pct_encode("a/b?c%d e", 9, out, sizeof out), 17);
	assert_string_equal(out, "a%2Fb%3Fc%25d%20e");
	assert_int_equal(ndx_pct_encode("\xc3\xa1", 2, out, sizeof out), 6);
	assert_string_equal(out, "%C3%A1");
	assert_int_equal(ndx_pct_encode("a\0b", 3, out, sizeof out), 5);
	assert_string_equal(out, "a%00b");
	assert_int_equal(ndx_pct_encode("", 0, out, sizeof out), 0);
	assert_string_equal(out, "");

	/* Exactly enough room, and one byte short. */
	assert_int_equal(ndx_pct_encode("ab", 2, out, 3), 2);
	assert_int_equal(ndx_pct_encode("ab", 2, out, 2), NDX_ETOOBIG);
	assert_int_equal(ndx_pct_encode("a?", 2, out, 5), 4);
	assert_int_equal(ndx_pct_encode("a?", 2, out, 4), NDX_ETOOBIG);
	assert_int_equal(ndx_pct_encode("", 0, out, 0), NDX_ETOOBIG);
	assert_int_equal(ndx_pct_encode("", 0, out, 1), 0);
}

static void test_pct_decode(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(ndx_pct_decode("a%2Fb%3fc%25d%20e", 17, out, sizeof out), 9);
	assert_string_equal(out, "a/b?c%d e");
	/* '+' is a plus in a path, not a space. */
	assert_int_equal(ndx_pct_decode("a+b", 3, out, sizeof out), 3);
	assert_string_equal(out, "a+b");
	assert_int_equal(ndx_pct_decode("%C3%a1", 6, out, sizeof out), 2);
	assert_string_equal(out, "\xc3\xa1");
	assert_int_equal(ndx_pct_decode("", 0, out, sizeof out), 0);
	assert_string_equal(out, "");
	/* Only inlen bytes are read. */
	assert_int_equal(ndx_pct_decode("abc%zz", 3, out, sizeof out), 3);
	assert_string_equal(out, "abc");

	/* Bad escapes and encoded NUL. */
	assert_int_equal(ndx_pct_decode("%", 1, out, sizeof out), NDX_EINVAL);
	assert_int_equal(ndx_pct_decode("a%4", 3, out, sizeof out), NDX_EINVAL);
	assert_int_equal(ndx_pct_decode("%G1", 3, out, sizeof out), NDX_EINVAL);
	assert_int_equal(ndx_pct_decode("%1G", 3, out, sizeof out), NDX_EINVAL);
	assert_int_equal(ndx_pct_decode("% 1", 3, out, sizeof out), NDX_EINVAL);
	assert_int_equal(ndx_pct_decode("%-1", 3, out, sizeof out), NDX_EINVAL);
	assert_int_equal(ndx_pct_decode("%00", 3, out, sizeof out), NDX_EINVAL);
	assert_int_equal(ndx_pct_decode("a\0b", 3, out, sizeof out), NDX_EINVAL);

	/* Room for the text and its NUL, and one byte short. */
	assert_int_equal(ndx_pct_decode("a%41b", 5, out, 4), 3);
	assert_string_equal(out, "aAb");
	assert_int_equal(ndx_pct_decode("a%41b", 5, out, 3), NDX_ETOOBIG);
	assert_int_equal(ndx_pct_decode("", 0, out, 0), NDX_ETOOBIG);

	/* Round trip over every byte value but NUL. */
	{
		char raw[255], enc[3 * 255 + 1], back[256];

		for (int i = 0; i < 255; i++)
			raw[i] = (char)(i + 1);
		assert_int_equal(ndx_pct_encode(raw, 255, enc, sizeof enc) > 0, 1);
		assert_int_equal(ndx_pct_decode(enc, strlen(enc), back, sizeof back), 255);
		assert_memory_equal(raw, back, 255);
	}
}

/* ---- RFC 3339 times ----------------------------------------------------- */

static void test_time_round_trip(void **state)
{
	char text[NDX_TIME_TEXT_LEN];
	time_t t;

	(void)state;
	ndx_time_format(0, text);
	assert_string_equal(text, "1970-01-01T00:00:00Z");
	assert_int_equal(ndx_time_parse("1970-01-01T00:00:00Z", &t), NDX_OK);
	assert_int_equal(t, 0);

	assert_int_equal(ndx_time_parse("2026-11-23T09:20:51Z", &t), NDX_OK);
	assert_int_equal(t, 1795425651);
	ndx_time_format(t, text);
	assert_string_equal(text, "2026-11-23T09:20:51Z");

	assert_int_equal(ndx_time_parse("2024-02-29T23:59:59Z", &t), NDX_OK);
	ndx_time_format(t, text);
	assert_string_equal(text, "2024-02-29T23:59:59Z");
	assert_int_equal(ndx_time_parse("2000-02-29T00:00:00Z", &t), NDX_OK);
	assert_int_equal(ndx_time_parse("1969-12-31T23:59:59Z", &t), NDX_OK);
	assert_int_equal(t, -1);
	assert_int_equal(ndx_time_parse("9999-12-31T23:59:59Z", &t), NDX_OK);
	ndx_time_format(t, text);
	assert_string_equal(text, "9999-12-31T23:59:59Z");

	/* Years below 1000 keep four digits. */
	assert_int_equal(ndx_time_parse("0500-06-15T12:00:00Z", &t), NDX_OK);
	ndx_time_format(t, text);
	assert_string_equal(text, "0500-06-15T12:00:00Z");

	for (time_t v = 0; v < 4102444800; v += 86400 * 37 + 3607) {
		time_t back;

		ndx_time_format(v, text);
		assert_int_equal(ndx_time_parse(text, &back), NDX_OK);
		assert_int_equal(back, v);
	}
}

static void test_time_reject(void **state)
{
	static const char *const bad[] = {
		"",
		"2026-11-23",
		"2026-11-23T09:20:51",        /* missing Z */
		"2026-11-23T09:20:51z",
		"2026-11-23T09:20:51+00:00",
		"2026-11-23T09:20:51.5Z",
		"2026-11-23T09:20:51ZZ",       /* trailing characters */
		"2026-11-23T09:20:51Z ",
		" 2026-11-23T09:20:51Z",
		"2026-11-23 09:20:51Z",
		"2026-11-23t09:20:51Z",
		"2026/11/23T09:20:51Z",
		"2026-13-01T00:00:00Z",        /* month 13 */
		"2026-00-01T00:00:00Z",
		"2026-01-00T00:00:00Z",
		"2026-01-32T00:00:00Z",
		"2026-02-29T00:00:00Z",        /* not a leap year */
		"1900-02-29T00:00:00Z",
		"2026-02-30T00:00:00Z",
		"2026-04-31T00:00:00Z",
		"2026-11-23T24:00:00Z",        /* hour 24 */
		"2026-11-23T09:60:00Z",
		"2026-11-23T09:20:60Z",        /* no leap seconds */
		"2026-1-23T09:20:51Z",
		"+026-11-23T09:20:51Z",
		"2026-+1-23T09:20:51Z",
		"2026-11-23T-9:20:51Z",
		"2026-11-23T 9:20:51Z",
		"20261123T092051Z",
		"abcd-ef-ghTij:kl:mnZ",
	};
	time_t t = 12345;

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (ndx_time_parse(bad[i], &t) != NDX_EINVAL)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_int_equal(t, 12345);
	}
	assert_int_equal(ndx_time_parse(NULL, &t), NDX_EINVAL);
}

/* ---- files -------------------------------------------------------------- */

static void test_files(void **state)
{
	const char *base = getenv("NDX_TEST_TMP");
	char dir[1024], deep[1100], path[1200], tmp[1300];
	struct stat st;
	char *data;
	size_t len;

	(void)state;
	if (base == NULL || base[0] == '\0')
		base = "/tmp";
	snprintf(dir, sizeof dir, "%s/test_encode.XXXXXX", base);
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/f.txt", dir);

	assert_int_equal(ndx_file_write_atomic(path, "hello", 5, 0640, 0), NDX_OK);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(ndx_file_read(path, 100, &data, &len), NDX_OK);
	assert_int_equal(len, 5);
	assert_string_equal(data, "hello");
	free(data);
	/* Replacing, then refusing to replace when exclusive. */
	assert_int_equal(ndx_file_write_atomic(path, "bye", 3, 0600, 0), NDX_OK);
	assert_int_equal(ndx_file_write_atomic(path, "no", 2, 0600, 1), NDX_EEXIST);
	assert_int_equal(ndx_file_read(path, 3, &data, &len), NDX_OK);
	assert_string_equal(data, "bye");
	free(data);
	snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
	assert_int_not_equal(stat(tmp, &st), 0);
	/* Cap, missing file, directory, empty file. */
	data = (char *)"x";
	assert_int_equal(ndx_file_read(path, 2, &data, &len), NDX_ETOOBIG);
	assert_null(data);
	assert_int_equal(ndx_file_read("/nonexistent/ndx", 2, &data, &len), NDX_EIO);
	assert_int_equal(ndx_file_read(dir, 2, &data, &len), NDX_EIO);
	assert_int_equal(ndx_file_write_atomic(path, "", 0, 0600, 0), NDX_OK);
	assert_int_equal(ndx_file_read(path, 0, &data, &len), NDX_OK);
	assert_int_equal(len, 0);
	assert_string_equal(data, "");
	free(data);
	unlink(path);
	/* Writing into a missing directory fails cleanly. */
	snprintf(deep, sizeof deep, "%s/a/b/c", dir);
	snprintf(path, sizeof path, "%s/f.txt", deep);
	assert_int_equal(ndx_file_write_atomic(path, "x", 1, 0600, 0), NDX_EIO);
	/* mkdirs, also when it exists and with doubled slashes. */
	assert_int_equal(ndx_mkdirs(deep, 0700), NDX_OK);
	assert_int_equal(ndx_mkdirs(deep, 0700), NDX_OK);
	assert_int_equal(stat(deep, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(ndx_file_write_atomic(path, "x", 1, 0600, 1), NDX_OK);
	/* A file in the way of a directory. */
	snprintf(tmp, sizeof tmp, "%s/f.txt/sub", deep);
	assert_int_equal(ndx_mkdirs(tmp, 0700), NDX_EIO);
	snprintf(tmp, sizeof tmp, "%s//a//b2/", dir);
	assert_int_equal(ndx_mkdirs(tmp, 0700), NDX_OK);
	assert_int_equal(ndx_mkdirs("", 0700), NDX_EIO);

	unlink(path);
	snprintf(tmp, sizeof tmp, "%s/a/b2", dir);
	rmdir(tmp);
	rmdir(deep);
	snprintf(tmp, sizeof tmp, "%s/a/b", dir);
	rmdir(tmp);
	snprintf(tmp, sizeof tmp, "%s/a", dir);
	rmdir(tmp);
	assert_int_equal(rmdir(dir), 0);
}

/* The shape of a cookie's random token: so many base64url characters. */
static void test_b64url_token_ok(void **state)
{
	(void)state;
	assert_true(ndx_b64url_token_ok("aZ09-_", 6, 6));
	assert_false(ndx_b64url_token_ok("aZ09-_", 6, 7));
	assert_false(ndx_b64url_token_ok("aZ09-", 5, 6));
	assert_false(ndx_b64url_token_ok("aZ09+_", 6, 6));
	assert_false(ndx_b64url_token_ok("aZ09=_", 6, 6));
	assert_false(ndx_b64url_token_ok("aZ0 -_", 6, 6));
	assert_false(ndx_b64url_token_ok("a\0b", 3, 3));
	assert_true(ndx_b64url_token_ok("", 0, 0));
}

/* Decimal as printf writes it: the edges of both ranges and every power
 * of ten and its neighbours, compared with snprintf's own text. */
static void test_decimal(void **state)
{
	char want[32], got[NDX_DEC_MAX];
	uint64_t u = 1;
	(void)state;

	assert_int_equal(ndx_dec_u64(UINT64_MAX, got), 20);
	assert_string_equal(got, "18446744073709551615");
	assert_int_equal(ndx_dec_i64(INT64_MIN, got), 20);
	assert_string_equal(got, "-9223372036854775808");
	assert_int_equal(ndx_dec_i64(INT64_MAX, got), 19);
	assert_string_equal(got, "9223372036854775807");
	assert_int_equal(ndx_dec_u64(0, got), 1);
	assert_string_equal(got, "0");
	assert_int_equal(ndx_dec_i64(-1, got), 2);
	assert_string_equal(got, "-1");
	for (int i = 0; i < 20; i++, u *= 10)
		for (int d = -1; d <= 1; d++) {
			uint64_t v = u + (uint64_t)(int64_t)d;
			int64_t sv = (int64_t)(v & (uint64_t)INT64_MAX);

			snprintf(want, sizeof want, "%" PRIu64, v);
			assert_int_equal(ndx_dec_u64(v, got), strlen(want));
			assert_string_equal(got, want);
			snprintf(want, sizeof want, "%" PRId64, -sv);
			assert_int_equal(ndx_dec_i64(-sv, got), strlen(want));
			assert_string_equal(got, want);
		}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_decimal),
		cmocka_unit_test(test_b64_rfc4648),
		cmocka_unit_test(test_b64_alphabets),
		cmocka_unit_test(test_b64url_token_ok),
		cmocka_unit_test(test_b64_reject),
		cmocka_unit_test(test_pct_encode),
		cmocka_unit_test(test_pct_decode),
		cmocka_unit_test(test_time_round_trip),
		cmocka_unit_test(test_time_reject),
		cmocka_unit_test(test_files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
