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

/* v (0 <= v < 10^n) as n decimal digits, zero-padded, at out. */
static void put_digits(char *out, int v, int n)
{
	for (int i = n - 1; i >= 0; i--) {
		out[i] = (char)('0' + v % 10);
		v /= 10;
	}
}

void ndx_time_format(time_t t, char out[NDX_TIME_TEXT_LEN])
{
	struct tm tm;

	/* Four-digit years only, so that every output parses back; nothing
	 * ndx handles lies outside them. */
	if (gmtime_r(&t, &tm) == NULL || tm.tm_year < -1900 || tm.tm_year > 9999 - 1900) {
		memcpy(out, "0000-01-01T00:00:00Z", NDX_TIME_TEXT_LEN);
		return;
	}
	/* Digit by digit rather than with snprintf, which cost ten times
	 * as much: a gateway writes one on every exchange. */
	put_digits(out, tm.tm_year + 1900, 4);
	out[4] = '-';
	put_digits(out + 5, tm.tm_mon + 1, 2);
	out[7] = '-';
	put_digits(out + 8, tm.tm_mday, 2);
	out[10] = 'T';
	put_digits(out + 11, tm.tm_hour, 2);
	out[13] = ':';
	put_digits(out + 14, tm.tm_min, 2);
	out[16] = ':';
	put_digits(out + 17, tm.tm_sec, 2);
	out[19] = 'Z';
	out[20] = '\0';
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

static int month_of(const char *s)
{
	static const char names[] = "JanFebMarAprMayJunJulAugSepOctNovDec";

	for (int i = 0; i < 12; i++)
		if (strncmp(s, names + 3 * i, 3) == 0)
			return i + 1;
	return 0;
}

static bool day_name(const char *s, size_t n)
{
	static const char *const names[] = { "Monday", "Tuesday", "Wednesday", "Thursday",
					     "Friday", "Saturday", "Sunday" };

	for (size_t i = 0; i < 7; i++)
		if ((n == 3 && strncmp(s, names[i], 3) == 0) ||
		    (strlen(names[i]) == n && strncmp(s, names[i], n) == 0))
			return true;
	return false;
}

/* "HH:MM:SS" at s. */
static bool clock_of(const char *s, int *h, int *m, int *sec)
{
	return digits(s, 2, h) && s[2] == ':' && digits(s + 3, 2, m) && s[5] == ':' &&
	       digits(s + 6, 2, sec) && *h <= 23 && *m <= 59 && *sec <= 60;
}

int ndx_time_parse_http(const char *text, time_t *out)
{
	int year, mon, day, hour, min, sec;
	const char *comma, *p;
	char iso[NDX_TIME_TEXT_LEN + 8];
	size_t len;

	if (!text)
		return NDX_EINVAL;
	len = strlen(text);
	comma = strchr(text, ',');
	if (comma && (size_t)(comma - text) == 3 && len == 29) {
		/* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
		p = text + 4;
		if (!day_name(text, 3) || p[0] != ' ' || !digits(p + 1, 2, &day) || p[3] != ' ' ||
		    !(mon = month_of(p + 4)) || p[7] != ' ' || !digits(p + 8, 4, &year) ||
		    p[12] != ' ' || !clock_of(p + 13, &hour, &min, &sec) ||
		    strcmp(p + 21, " GMT") != 0)
			return NDX_EINVAL;
	} else if (comma && day_name(text, (size_t)(comma - text)) &&
		   len == (size_t)(comma - text) + 24) {
		/* RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT" */
		p = comma + 1;
		if (p[0] != ' ' || !digits(p + 1, 2, &day) || p[3] != '-' ||
		    !(mon = month_of(p + 4)) || p[7] != '-' || !digits(p + 8, 2, &year) ||
		    p[10] != ' ' || !clock_of(p + 11, &hour, &min, &sec) ||
		    strcmp(p + 19, " GMT") != 0)
			return NDX_EINVAL;
		year += year < 70 ? 2000 : 1900;
	} else if (!comma && len == 24) {
		/* asctime: "Sun Nov  6 08:49:37 1994" */
		p = text + 3;
		if (!day_name(text, 3) || p[0] != ' ' || !(mon = month_of(p + 1)) || p[4] != ' ' ||
		    !(p[5] == ' ' ? digits(p + 6, 1, &day) : digits(p + 5, 2, &day)) ||
		    p[7] != ' ' || !clock_of(p + 8, &hour, &min, &sec) || p[16] != ' ' ||
		    !digits(p + 17, 4, &year))
			return NDX_EINVAL;
	} else {
		return NDX_EINVAL;
	}
	if (sec == 60) /* a leap second: the instant before the next minute */
		sec = 59;
	snprintf(iso, sizeof iso, "%04d-%02d-%02dT%02d:%02d:%02dZ", year, mon, day, hour, min,
		 sec);
	return ndx_time_parse(iso, out);
}
