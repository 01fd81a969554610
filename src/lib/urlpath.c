/* URL paths (ndx/urlpath.h). */
#include "ndx/urlpath.h"

/* "%" hi lo, lo matched in either case. */
static bool pct_is(const char *p, char hi, char lo)
{
	return p[0] == '%' && p[1] == hi && (p[2] == lo || p[2] == (char)(lo - 'a' + 'A'));
}

bool ndx_path_has_dot_segment(const char *path, bool single_too)
{
	int dots = 0;
	bool other = false;

	for (const char *p = path ? path : "";;) {
		if (*p == '\0' || *p == '/' || *p == '\\' || pct_is(p, '2', 'f') ||
		    pct_is(p, '5', 'c')) {
			if ((dots == 2 || (single_too && dots == 1)) && !other)
				return true;
			if (*p == '\0')
				return false;
			dots = 0;
			other = false;
			p += *p == '%' ? 3 : 1;
		} else if (*p == '.' || pct_is(p, '2', 'e')) {
			dots++;
			p += *p == '%' ? 3 : 1;
		} else {
			other = true;
			p++;
		}
	}
}
