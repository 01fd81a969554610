/* RFC 3339 UTC timestamps in the one form ndx accepts,
 * "YYYY-MM-DDTHH:MM:SSZ" (docs/protocol.md). Parsing is strict on purpose:
 * signed documents compare times, so two spellings of one instant, offsets,
 * fractions or leap seconds are refused rather than normalised. */
#include "ndx/timefmt.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ndx/err.h"

void ndx_time_format(time_t t, char out[NDX_TIME_TEXT_LEN])
{
	char buf[64];
	struct tm tm;

	/* Four-digit years only, so that every output parses back; nothing
	 * ndx handles lies outside them. */
	if (gmtime_r(&t, &tm) == NULL || tm.tm_year < -1900 || tm.tm_year > 9999 - 1900) {
		memcpy(out, "0000-01-01T00:00:00Z", NDX_TIME_TEXT_LEN);
		return;
	}
	snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	memcpy(out, buf, NDX_TIME_TEXT_LEN);
}

/* t's fields in Vietnam time; false when the year has not four digits. */
static bool vn_fields(time_t t, struct tm *tm)
{
	time_t local;

	if (t > (time_t)INT64_MAX - NDX_VN_UTC_OFFSET_S)
		return false;
	local = t + NDX_VN_UTC_OFFSET_S;
	return gmtime_r(&local, tm) != NULL && tm->tm_year >= -1900 && tm->tm_year <= 9999 - 1900;
}

void ndx_time_vn_iso_date(time_t t, char out[NDX_VN_DATE_LEN])
{
	char buf[64];
	struct tm tm;

	if (!vn_fields(t, &tm)) {
		memcpy(out, "0000-01-01", NDX_VN_DATE_LEN);
		return;
	}
	snprintf(buf, sizeof buf, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday);
	memcpy(out, buf, NDX_VN_DATE_LEN);
}

void ndx_time_vn_text(time_t t, int with_time, char out[NDX_VN_TIME_TEXT_LEN])
{
	struct tm tm;
	unsigned day = 1, mon = 1, year = 0, hour = 0, min = 0;

	/* The fields are range-checked by vn_fields; the modulos only tell
	 * the compiler that nothing can be truncated. */
	if (vn_fields(t, &tm)) {
		day = (unsigned)tm.tm_mday % 100u;
		mon = (unsigned)(tm.tm_mon + 1) % 100u;
		year = (unsigned)(tm.tm_year + 1900) % 10000u;
		hour = (unsigned)tm.tm_hour % 100u;
		min = (unsigned)tm.tm_min % 100u;
	}
	if (with_time)
		snprintf(out, NDX_VN_TIME_TEXT_LEN, "%02u/%02u/%04u %02u:%02u", day, mon, year,
			 hour, min);
	else
		snprintf(out, NDX_VN_TIME_TEXT_LEN, "%02u/%02u/%04u", day, mon, year);
}

/* Reads exactly n decimal digits; sign characters and spaces that
 * strtol would accept are refused. */
static bool digits(const char *s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

static int days_in_month(int year, int month)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return month == 2 && leap ? 29 : days[month - 1];
}

int ndx_time_parse(const char *text, time_t *out)
{
	int year, mon, day, hour, min, sec;
	struct tm tm;
	time_t t;

	if (text == NULL || strlen(text) != NDX_TIME_TEXT_LEN - 1)
		return NDX_EINVAL;
	if (text[4] != '-' || text[7] != '-' || text[10] != 'T' ||
	    text[13] != ':' || text[16] != ':' || text[19] != 'Z')
		return NDX_EINVAL;
	if (!digits(text, 4, &year) || !digits(text + 5, 2, &mon) ||
	    !digits(text + 8, 2, &day) || !digits(text + 11, 2, &hour) ||
	    !digits(text + 14, 2, &min) || !digits(text + 17, 2, &sec))
		return NDX_EINVAL;
	if (mon < 1 || mon > 12 || day < 1 || day > days_in_month(year, mon) ||
	    hour > 23 || min > 59 || sec > 59)
		return NDX_EINVAL;

	memset(&tm, 0, sizeof tm);
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	t = timegm(&tm);
	if (t == (time_t)-1 && !(year == 1969 && mon == 12 && day == 31 &&
				 hour == 23 && min == 59 && sec == 59))
		return NDX_EINVAL;
	*out = t;
	return NDX_OK;
}
