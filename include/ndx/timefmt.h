/* RFC 3339 UTC timestamps ("2026-11-23T09:20:51Z"), the only time format on
 * ndx's wire and in its documents; and the two forms of a moment in Vietnam
 * time: the calendar date a record gets ("2026-11-23") and the text people
 * read ("23/11/2026 16:20"). */
#ifndef NDX_TIMEFMT_H
#define NDX_TIMEFMT_H

#include <time.h>

#define NDX_TIME_TEXT_LEN 21 /* "YYYY-MM-DDTHH:MM:SSZ" + NUL */

/* Formats t as UTC into out. */
void ndx_time_format(time_t t, char out[NDX_TIME_TEXT_LEN]);
/* Parses exactly "YYYY-MM-DDTHH:MM:SSZ" (fields range-checked). Returns
 * NDX_OK with *out set, or NDX_EINVAL. */
int ndx_time_parse(const char *text, time_t *out);
/* Parses an HTTP-date (RFC 9110 §5.6.7): the IMF-fixdate
 * "Sun, 06 Nov 1994 08:49:37 GMT" and the two obsolete forms a recipient
 * must accept, RFC 850 "Sunday, 06-Nov-94 08:49:37 GMT" (a two-digit year
 * below 70 is 20yy, else 19yy) and asctime "Sun Nov  6 08:49:37 1994".
 * The day name is not checked against the date. NDX_OK with *out set, or
 * NDX_EINVAL. */
int ndx_time_parse_http(const char *text, time_t *out);

/* Vietnam time (Asia/Ho_Chi_Minh) is UTC+7 all year: no daylight saving
 * since 1975, so a fixed offset is exact for every date ndx handles. */
#define NDX_VN_UTC_OFFSET_S (7 * 3600)
#define NDX_VN_DATE_LEN 11      /* "YYYY-MM-DD" or "dd/mm/yyyy" + NUL */
#define NDX_VN_TIME_TEXT_LEN 17 /* "dd/mm/yyyy HH:MM" + NUL */

/* The calendar date of t in Vietnam as "YYYY-MM-DD" (a registration date,
 * a "today" written to a registry). Years outside 0000-9999 give
 * "0000-01-01". */
void ndx_time_vn_iso_date(time_t t, char out[NDX_VN_DATE_LEN]);
/* t for people, Vietnamese convention: "dd/mm/yyyy" in Vietnam time, with
 * " HH:MM" (24-hour) when with_time. Years outside 0000-9999 give
 * "01/01/0000". */
void ndx_time_vn_text(time_t t, int with_time, char out[NDX_VN_TIME_TEXT_LEN]);

#endif
