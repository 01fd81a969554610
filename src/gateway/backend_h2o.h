/* The provider gateway's hop to its own provider systems over h2o 2.2.5's
 * HTTP/1.1 client (h2o_http1client), on the exchange loop's thread: for
 * "http://" and "unix:" backends (backend.c keeps libcurl for "https://").
 * No h2o type here: they stay in backend_h2o.c. */
#ifndef NDX_GATEWAY_BACKEND_H2O_H
#define NDX_GATEWAY_BACKEND_H2O_H

#include "xfer.h"

struct gw_loop;
struct gw_bh2o;

/* Starts call (gw_backend_start's contract: call->done once, on l's
 * thread, possibly inside this call). The loop's client is made at first
 * use. */
void gw_bh2o_start(struct gw_loop *l, struct gw_backend_call *call, struct gw_xfer_resp *r);
/* On the loop's thread at stop: every call still running ends with
 * GW_XFER_FAILED. Accepts NULL. */
void gw_bh2o_stop(struct gw_bh2o *b);
/* After the loop's thread ended. Accepts NULL. */
void gw_bh2o_free(struct gw_bh2o *b);

#endif
