/* The registry's GET /metrics (reg_metrics.c, docs/operations.md): the
 * published configuration's version and expiry, what the federation
 * holds, and the HTTP figures every daemon has. */
#ifndef NDX_REGISTRY_REG_METRICS_H
#define NDX_REGISTRY_REG_METRICS_H

#include "api.h"
#include "confgen.h"
#include "ndx/httpd.h"
#include "reg_store.h"

struct reg_metrics {
	struct api *api; /* every other path */
	struct store *st;
	struct confgen *cg;
};

/* The registry's ndx_http_handler; ctx is a struct reg_metrics (borrowed,
 * must outlive the server): /metrics here, everything else to api_handle. */
void reg_metrics_handle(void *ctx, const struct ndx_http_req *req, struct ndx_http_resp *resp);

#endif
