/* Files of the web UI: /static/... from web_dir, /assets/govuk/... from
 * assets_dir, and web_dir/index.html for every page route (the UI routes
 * on the client). Overview: docs/portal.md "HTTP surface". */
#ifndef NDX_PORTAL_STATIC_H
#define NDX_PORTAL_STATIC_H

#include "ndx/httpd.h"

/* Serves the file rel (the request path after the prefix, still
 * percent-encoded) from root (a realpath, or NULL: 404). Refuses anything
 * that leaves root (.., symlinks out) with 404. */
void static_serve(const char *root, const char *rel, struct ndx_http_resp *resp);

#endif
