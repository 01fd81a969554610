/* Public holidays in processing deadlines (docs/portal.md "Deadline"): a
 * dated list the configuration names ("holidays_file"), because Tết and
 * the Hùng Kings' day follow the lunar calendar and the Government sets the
 * days around them each year (Bộ luật Lao động 2019, Điều 112). A day on
 * the list is no working day, whatever its weekday. */
#ifndef NDX_PORTAL_HOLIDAYS_H
#define NDX_PORTAL_HOLIDAYS_H

#include <stddef.h>

struct holidays {
	long *days; /* Vietnamese dates as days since 1970-01-01, sorted */
	size_t n;
};

#define HOLIDAYS_MAX 2000   /* dates in one file */
#define HOLIDAYS_FILE_MAX (256 * 1024)

/* Parses text (a file's contents; name is the file for messages): one date
 * a line, "YYYY-MM-DD" then optionally blanks and the holiday's name;
 * blank lines and lines starting with '#' are skipped. On a malformed line
 * writes "NAME:LINE: what is wrong" into err and returns NDX_EINVAL;
 * NDX_ENOMEM. *out is empty on failure. */
int holidays_parse(const char *name, const char *text, size_t len, struct holidays *out,
		   char *err, size_t cap);
/* Reads path and parses it as above (NDX_EIO and friends when it cannot
 * be read, err saying so). */
int holidays_load(const char *path, struct holidays *out, char *err, size_t cap);
/* Whether day (days since 1970-01-01 of a Vietnamese date) is listed. */
int holidays_has(const struct holidays *h, long day);
/* Whether the list names any day of year (the file then "covers" it). */
int holidays_cover_year(const struct holidays *h, int year);
void holidays_free(struct holidays *h);

#endif
