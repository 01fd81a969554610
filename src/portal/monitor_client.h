/* The portal's one way of talking to the monitoring service (ndx-monitor,
 * docs/monitoring.md "The API"): its URL and admin token come from the
 * configuration's monitor object, the token read from its file at each
 * call so that it may be replaced without a restart. Used by the operations
 * centre's proxy (ops.c), the citizen's misuse view (access_list.c) and the
 * procedures push (procpush.c). The token never leaves this file but in
 * the Authorization header: never in an answer, never in a log line. */
#ifndef NDX_PORTAL_MONITOR_CLIENT_H
#define NDX_PORTAL_MONITOR_CLIENT_H

#include <stddef.h>

#include "config.h"
#include "ndx/fetch.h"

/* What went wrong before an answer came back. */
enum monitor_fail {
	MONITOR_OK = 0,
	MONITOR_NOT_CONFIGURED, /* no monitor object */
	MONITOR_TOKEN,          /* the token file cannot be read, or is not one line */
	MONITOR_UNREACHABLE,    /* no answer (refused, timed out, too big) */
	MONITOR_BAD_REQUEST,    /* the URL would be too long, out of memory */
};

/* method (GET/POST) cfg->monitor_url + path_query with the admin token,
 * body (may be NULL) sent as application/json. MONITOR_OK: *out holds the
 * answer whatever its status (the caller frees it with
 * ndx_fetch_resp_free). Otherwise *out is empty and why (why_cap bytes)
 * says what went wrong in words fit for a log line (the file's name, never
 * the token). max_body 0: ndx_fetch's default cap. */
enum monitor_fail monitor_client_call(const struct pconfig *cfg, const char *method,
				      const char *path_query, const char *body, size_t body_len,
				      size_t max_body, long timeout_ms, struct ndx_fetch_resp *out,
				      char *why, size_t why_cap);

#endif
