/* Unit tests for include/ndx/timefmt.h: RFC 3339 UTC on the wire, and the
 * Vietnam-time forms people read (dd/mm/yyyy [HH:MM]) and records get
 * (YYYY-MM-DD), across the UTC day, month and year boundaries that UTC+7
 * moves (issue 22). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "ndx/err.h"
#include "ndx/timefmt.h"

static time_t at(const char *rfc3339)
{
	time_t t = 0;

	assert_int_equal(ndx_time_parse(rfc3339, &t), NDX_OK);
	return t;
}

/* 16:59:59Z is 23:59:59 in Vietnam, 17:00:00Z already the next day. */
static void test_vn_day_boundary(void **state)
{
	char text[NDX_VN_TIME_TEXT_LEN], date[NDX_VN_DATE_LEN];

	(void)state;
	ndx_time_vn_text(at("2026-06-25T16:59:59Z"), 1, text);
	assert_string_equal(text, "25/06/2026 23:59");
	ndx_time_vn_text(at("2026-06-25T17:00:00Z"), 1, text);
	assert_string_equal(text, "26/06/2026 00:00");
	ndx_time_vn_text(at("2026-06-25T19:39:00Z"), 0, text);
	assert_string_equal(text, "26/06/2026");
	ndx_time_vn_iso_date(at("2026-06-25T16:59:59Z"), date);
	assert_string_equal(date, "2026-06-25");
	ndx_time_vn_iso_date(at("2026-06-25T17:00:00Z"), date);
	assert_string_equal(date, "2026-06-26");
}

/* The same moment is one UTC day but the next Vietnam month and year. */
static void test_vn_month_and_year_boundary(void **state)
{
	char text[NDX_VN_TIME_TEXT_LEN], date[NDX_VN_DATE_LEN];

	(void)state;
	ndx_time_vn_text(at("2026-12-31T18:30:00Z"), 1, text);
	assert_string_equal(text, "01/01/2027 01:30");
	ndx_time_vn_iso_date(at("2026-12-31T18:30:00Z"), date);
	assert_string_equal(date, "2027-01-01");
	ndx_time_vn_text(at("2028-02-28T17:00:00Z"), 0, text);
	assert_string_equal(text, "29/02/2028"); /* leap day */
	ndx_time_vn_text(at("1988-10-09T00:00:00Z"), 0, text);
	assert_string_equal(text, "09/10/1988"); /* leading zeros */
	ndx_time_vn_text(at("2026-06-26T02:39:00Z"), 1, text);
	assert_string_equal(text, "26/06/2026 09:39"); /* 24-hour clock */
}

static void test_vn_out_of_range(void **state)
{
	char text[NDX_VN_TIME_TEXT_LEN], date[NDX_VN_DATE_LEN];

	(void)state;
	/* 9999-12-31T17:00:00Z is year 10000 in Vietnam: refused, not cut. */
	ndx_time_vn_text(at("9999-12-31T17:00:00Z"), 1, text);
	assert_string_equal(text, "01/01/0000 00:00");
	ndx_time_vn_iso_date(at("9999-12-31T17:00:00Z"), date);
	assert_string_equal(date, "0000-01-01");
	ndx_time_vn_iso_date(at("9999-12-31T16:59:59Z"), date);
	assert_string_equal(date, "9999-12-31");
}

static void test_rfc3339_round_trip(void **state)
{
	char text[NDX_TIME_TEXT_LEN];
	time_t t = 0;

	(void)state;
	ndx_time_format(at("2026-11-23T09:20:51Z"), text);
	assert_string_equal(text, "2026-11-23T09:20:51Z");
	assert_int_equal(ndx_time_parse("2026-11-23T16:20:51+07:00", &t), NDX_EINVAL);
	assert_int_equal(ndx_time_parse("2026-02-29T00:00:00Z", &t), NDX_EINVAL);
}

/* The digits written one by one are what snprintf's
 * "%04d-%02d-%02dT%02d:%02d:%02dZ" made of gmtime_r's fields, for instants
 * across the range: the edges of the four-digit years, and a walk of odd
 * steps that lands on every field's values; each parses back. */
static void test_format_is_printfs(void **state)
{
	char text[NDX_TIME_TEXT_LEN], want[64];
	time_t first = at("0000-01-01T00:00:00Z"), last = at("9999-12-31T23:59:59Z"), t, back;
	struct tm tm;
	(void)state;

	for (t = first; t <= last - 7777777; t += 7777777 + t % 86399) {
		ndx_time_format(t, text);
		gmtime_r(&t, &tm);
		snprintf(want, sizeof want, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
		assert_string_equal(text, want);
		assert_int_equal(ndx_time_parse(text, &back), NDX_OK);
		assert_int_equal(back, t);
	}
	ndx_time_format(last, text);
	assert_string_equal(text, "9999-12-31T23:59:59Z");
	ndx_time_format(first, text);
	assert_string_equal(text, "0000-01-01T00:00:00Z");
	/* beyond four digits: the fixed stand-in, as before */
	ndx_time_format(last + 1, text);
	assert_string_equal(text, "0000-01-01T00:00:00Z");
}

/* RFC 9110 §5.6.7: the three HTTP-date forms of one instant (the RFC's
 * own example), and what is not one. */
static void test_http_date(void **state)
{
	static const char *const bad[] = {
		"Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 6 Nov 1994 08:49:37 GMT",
		"Sun, 06 Nov 1994 08:49 GMT",    "Sun, 31 Feb 1994 08:49:37 GMT",
		"Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 06 Nov 1994 24:49:37 GMT",
		"1994-11-06T08:49:37Z",          "Xyz, 06 Nov 1994 08:49:37 GMT",
		"Sunday, 06-Nov-94 08:49:37",    "Sun Nov 6 08:49:37 1994",
		"",
	};
	time_t t = 0;

	(void)state;
	assert_int_equal(ndx_time_parse_http("Sun, 06 Nov 1994 08:49:37 GMT", &t), NDX_OK);
	assert_int_equal(t, at("1994-11-06T08:49:37Z"));
	t = 0;
	assert_int_equal(ndx_time_parse_http("Sunday, 06-Nov-94 08:49:37 GMT", &t), NDX_OK);
	assert_int_equal(t, at("1994-11-06T08:49:37Z"));
	t = 0;
	assert_int_equal(ndx_time_parse_http("Sun Nov  6 08:49:37 1994", &t), NDX_OK);
	assert_int_equal(t, at("1994-11-06T08:49:37Z"));
	assert_int_equal(ndx_time_parse_http("Fri, 04 Dec 2026 07:56:51 GMT", &t), NDX_OK);
	assert_int_equal(t, at("2026-12-04T07:56:51Z"));
	assert_int_equal(ndx_time_parse_http("Friday, 04-Dec-26 07:56:51 GMT", &t), NDX_OK);
	assert_int_equal(t, at("2026-12-04T07:56:51Z"));
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		if (ndx_time_parse_http(bad[i], &t) != NDX_EINVAL)
			fail_msg("accepted \"%s\"", bad[i]);
	assert_int_equal(ndx_time_parse_http(NULL, &t), NDX_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vn_day_boundary),
		cmocka_unit_test(test_format_is_printfs),
		cmocka_unit_test(test_vn_month_and_year_boundary),
		cmocka_unit_test(test_vn_out_of_range),
		cmocka_unit_test(test_rfc3339_round_trip),
		cmocka_unit_test(test_http_date),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
