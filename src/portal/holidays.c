/* The public holidays list (holidays.h). */
#include "holidays.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ndx/err.h"
#include "ndx/file.h"

static int cmp_day(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return (x > y) - (x < y);
}

/* "YYYY-MM-DD" at s (10 bytes) as days since 1970-01-01, or -1 when it is
 * not a date of the Gregorian calendar from 2000 to 2099. */
static long parse_date(const char *s)
{
	int y, m, d;
	struct tm tm = { 0 };
	time_t t;

	for (int i = 0; i < 10; i++)
		if (i == 4 || i == 7 ? s[i] != '-' : (s[i] < '0' || s[i] > '9'))
			return -1;
	y = atoi(s);
	m = (s[5] - '0') * 10 + (s[6] - '0');
	d = (s[8] - '0') * 10 + (s[9] - '0');
	if (y < 2000 || y > 2099 || m < 1 || m > 12 || d < 1 || d > 31)
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = m - 1;
	tm.tm_mday = d;
	t = timegm(&tm);
	/* timegm normalises 2025-02-30 to 2025-03-02: refuse what moved. */
	if (t == (time_t)-1 || tm.tm_mday != d || tm.tm_mon != m - 1)
		return -1;
	return (long)(t / 86400);
}

int holidays_parse(const char *name, const char *text, size_t len, struct holidays *out,
		   char *err, size_t cap)
{
	const char *p = text, *end = text + len;
	size_t line = 0;
	long *days = NULL;
	size_t n = 0;

	out->days = NULL;
	out->n = 0;
	if (memchr(text, '\0', len)) {
		snprintf(err, cap, "%s: the file holds a NUL byte", name);
		return NDX_EINVAL;
	}
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p)), *s = p;
		long day;

		if (!eol)
			eol = end;
		line++;
		p = eol + 1;
		while (s < eol && (*s == ' ' || *s == '\t'))
			s++;
		if (s == eol || *s == '#' || (*s == '\r' && s + 1 == eol))
			continue;
		if (eol - s < 10 || (day = parse_date(s)) < 0 ||
		    (eol - s > 10 && s[10] != ' ' && s[10] != '\t' && s[10] != '\r')) {
			snprintf(err, cap, "%s:%zu: expected a date YYYY-MM-DD (2000 to 2099), "
				 "then a blank and the holiday's name", name, line);
			free(days);
			return NDX_EINVAL;
		}
		if (n == HOLIDAYS_MAX) {
			snprintf(err, cap, "%s:%zu: more than %d dates", name, line, HOLIDAYS_MAX);
			free(days);
			return NDX_EINVAL;
		}
		if (n % 64 == 0) {
			long *more = realloc(days, (n + 64) * sizeof *days);
			if (!more) {
				free(days);
				snprintf(err, cap, "%s: out of memory", name);
				return NDX_ENOMEM;
			}
			days = more;
		}
		days[n++] = day;
	}
	if (n)
		qsort(days, n, sizeof *days, cmp_day);
	out->days = days;
	out->n = n;
	return NDX_OK;
}

int holidays_load(const char *path, struct holidays *out, char *err, size_t cap)
{
	char *text = NULL;
	size_t len = 0;
	int rc;

	out->days = NULL;
	out->n = 0;
	errno = 0;
	if ((rc = ndx_file_read(path, HOLIDAYS_FILE_MAX, &text, &len)) != NDX_OK) {
		/* open's reason ("No such file or directory") when there is one */
		snprintf(err, cap, "%s: cannot read: %s", path,
			 rc == NDX_EIO && errno ? strerror(errno) : ndx_strerror(rc));
		return rc;
	}
	rc = holidays_parse(path, text, len, out, err, cap);
	free(text);
	return rc;
}

int holidays_has(const struct holidays *h, long day)
{
	return h && h->n && bsearch(&day, h->days, h->n, sizeof *h->days, cmp_day) != NULL;
}

int holidays_cover_year(const struct holidays *h, int year)
{
	for (size_t i = 0; h && i < h->n; i++) {
		time_t t = (time_t)h->days[i] * 86400;
		struct tm tm;

		gmtime_r(&t, &tm);
		if (tm.tm_year + 1900 == year)
			return 1;
	}
	return 0;
}

void holidays_free(struct holidays *h)
{
	if (!h)
		return;
	free(h->days);
	h->days = NULL;
	h->n = 0;
}
