/* The connector's runtime in the gateway (connector.c; the store and
 * protocol logic are connector.h): its thread, and the two entry points of
 * the ports. docs/marketplace.md "Members' own connectors". */
#ifndef NDX_GATEWAY_CONNECTOR_RT_H
#define NDX_GATEWAY_CONNECTOR_RT_H

#include <stdbool.h>
#include <stddef.h>

#include "confstate.h"
#include "ndx/httpd.h"
#include "ndx/negmsg.h"

struct gw_ctx;
struct gw_connector;

/* The service every member's connector answers as, after the member id,
 * in both gateways' message log records of a message ("{member}/"
 * GW_CONN_SERVICE): a reserved subsystem and service code. */
#define GW_CONN_SERVICE NDX_CONNECTOR_SUBSYSTEM "/dsp"
/* The gateway port's prefix of a message: POST /n1{DSP path}. */
#define GW_CONN_PORT_PREFIX "/n1/"

/* Opens data_dir/connector.db and starts the thread. NDX_OK, or an error
 * with why. */
int gw_connector_start(struct gw_ctx *g, struct gw_connector **out, char *why, size_t cap);
/* Answers what it holds and stops the thread; deliveries in flight stay
 * in the outbox. Accepts NULL. */
void gw_connector_stop(struct gw_connector *c);
/* After the loops have stopped. Accepts NULL. */
void gw_connector_free(struct gw_connector *c);

/* The gateway port: a message of another member's gateway. Answers now
 * or defers. */
void gw_connector_deliver(struct gw_ctx *g, const struct ndx_http_req *req,
			  struct ndx_http_resp *resp);
/* The consumer port: /ndx/connector/negotiations... for the gateway's own
 * subsystems (X-Road-Client). False when the path is not the connector's. */
bool gw_connector_local(struct gw_ctx *g, const struct gw_view *v, const struct ndx_http_req *req,
			struct ndx_http_resp *resp, bool tls);

#endif
