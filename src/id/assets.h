/* Static files under /assets/: GOV.UK Frontend's stylesheet, fonts and
 * images, read from the directory given with `ndx-id serve --assets`.
 * Overview: docs/id.md. */
#ifndef NDX_ID_ASSETS_H
#define NDX_ID_ASSETS_H

#include "ndx/httpd.h"

/* Answers a GET of /assets/<rel> from dir: the file dir/<rel>, or else
 * dir/assets/<rel> (where govuk-frontend keeps fonts and images, which its
 * stylesheet names as /assets/fonts/... ). Only plain names with a known
 * extension (css, woff, woff2, svg, png, ico) are served; anything else,
 * ".." included, is a 404. */
void idassets_serve(const char *dir, const char *rel, struct ndx_http_resp *resp);

#endif
