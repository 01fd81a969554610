/* Reading a URL path the way the systems behind a gateway may read it. */
#ifndef NDX_URLPATH_H
#define NDX_URLPATH_H

#include <stdbool.h>

/* True when path has a ".." segment (or, with single_too, a "." segment)
 * once "%2e" is read as '.' and "%2f", '\' and "%5c" as separators: a
 * provider system or a proxy in front of it may decode any of these, so a
 * grant for the paths under /a must never reach /b. path NULL reads as "". */
bool ndx_path_has_dot_segment(const char *path, bool single_too);

#endif
