/* The monitoring service's HTTP API (docs/operations.md "The monitoring
 * service"): /healthz for anyone who can reach it, and, with the admin
 * bearer token, the live figures the operations centre shows. */
#ifndef NDX_MONITOR_API_H
#define NDX_MONITOR_API_H

#include "collect.h"
#include "mstore.h"
#include "ndx/httpd.h"

struct mapi_config {
	struct mstore *st;
	struct collector *collector;
	const char *token_sha256;   /* hex SHA-256 of the admin token */
	const char *data_dir;       /* indicators.db (indicators_api.h) */
	const char *store_loc;      /* monitor.db or its connection string */
};

void mapi_handle(void *ctx, const struct ndx_http_req *req, struct ndx_http_resp *resp);

#endif
