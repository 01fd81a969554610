/* RFC 3339 UTC timestamps ("2026-11-23T09:20:51Z"), the only time format on
 * ndx's wire and in its documents. */
#ifndef NDX_TIMEFMT_H
#define NDX_TIMEFMT_H

#include <time.h>

#define NDX_TIME_TEXT_LEN 21 /* "YYYY-MM-DDTHH:MM:SSZ" + NUL */

/* Formats t as UTC into out. */
void ndx_time_format(time_t t, char out[NDX_TIME_TEXT_LEN]);
/* Parses exactly "YYYY-MM-DDTHH:MM:SSZ" (fields range-checked). Returns
 * NDX_OK with *out set, or NDX_EINVAL. */
int ndx_time_parse(const char *text, time_t *out);

#endif
