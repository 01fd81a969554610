/* A sector registry's GET /metrics (sec_metrics.c, docs/operations.md). */
#ifndef NDX_SECTOR_SEC_METRICS_H
#define NDX_SECTOR_SEC_METRICS_H

#include <stdbool.h>

#include "api.h"
#include "ndx/httpd.h"
#include "schema.h"
#include "store.h"

struct sec_metrics {
	struct api *api; /* every other path */
	struct store *st;
	const struct sector_def *def;
	bool outbox; /* it publishes events through an outbox (sec_outbox.h) */
};

/* ndx-sector's ndx_http_handler; ctx is a struct sec_metrics (borrowed,
 * must outlive the server): /metrics here, everything else to api_handle. */
void sec_metrics_handle(void *ctx, const struct ndx_http_req *req, struct ndx_http_resp *resp);

#endif
