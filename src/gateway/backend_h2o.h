/* The provider gateway's hop to its own provider systems over h2o 2.2.5's
 * HTTP/1.1 client (h2o_http1client), on the exchange loop's thread: for
 * "unix:" backends and "http://" ones named by address (backend.c keeps
 * libcurl for "https://" and for host names).
 * No h2o type here: they stay in backend_h2o.c. */
#ifndef NDX_GATEWAY_BACKEND_H2O_H
#define NDX_GATEWAY_BACKEND_H2O_H

#include <stdbool.h>

#include "xfer.h"

struct gw_loop;
struct gw_bh2o;

/* Whether the hop goes over h2o for this backend: "unix:", or "http://"
 * naming an IPv4 or IPv6 address. Not a host name: h2o 2.2.5 connects to
 * one of a name's addresses picked at random (h2o_hostinfo_select_one) and
 * tries no other, where libcurl tries each in turn ("localhost" is often
 * ::1 and 127.0.0.1); such a backend stays on libcurl, as "https://"
 * does. */
bool gw_bh2o_serves(const char *backend);
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
