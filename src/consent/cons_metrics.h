/* The consent service's GET /metrics (cons_metrics.c, docs/operations.md). */
#ifndef NDX_CONSENT_CONS_METRICS_H
#define NDX_CONSENT_CONS_METRICS_H

#include "ndx/httpd.h"

/* The consent service's ndx_http_handler; ctx is the struct capi_config
 * of api.h: /metrics here, everything else to capi_handle. */
void cons_metrics_handle(void *ctx, const struct ndx_http_req *req, struct ndx_http_resp *resp);

#endif
