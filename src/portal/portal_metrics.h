/* The portal's GET /metrics (portal_metrics.c, docs/operations.md):
 * procedures by kind and state, sign-ins, and the HTTP figures of httpd.h. */
#ifndef NDX_PORTAL_PORTAL_METRICS_H
#define NDX_PORTAL_PORTAL_METRICS_H

#include "ndx/httpd.h"

/* Counts a sign-in: kind "citizen" or "officer"; outcome "succeeded",
 * "failed" (wrong name or password) or "throttled". Thread-safe; other
 * values are not counted. */
void portal_metrics_signin(const char *kind, const char *outcome);

/* ndx-portal's ndx_http_handler; ctx is the struct portal of portal.h:
 * /metrics here, everything else to portal_handle. */
void portal_metrics_handle(void *ctx, const struct ndx_http_req *req,
			   struct ndx_http_resp *resp);

#endif
