/* Static files of a web UI (the portal's and the registry console's): a
 * request path is served from a root directory, never from outside it.
 * Overview: docs/portal.md "HTTP surface", docs/console.md. */
#ifndef NDX_STATIC_FILES_H
#define NDX_STATIC_FILES_H

#include "ndx/httpd.h"

/* Serves the file rel (the request path after the prefix, still
 * percent-encoded) from root (a realpath, or NULL: 404). Refuses anything
 * that leaves root (.., symlinks out) with 404. */
void ndx_static_serve(const char *root, const char *rel, struct ndx_http_resp *resp);

#endif
