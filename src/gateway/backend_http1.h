/* The provider gateway's hop to its own provider systems over an HTTP/1.1
 * client of ndx's own on the exchange loop's thread (sockets watched by the
 * ndx_loop, answers parsed by llhttp): for "unix:" backends and "http://"
 * ones named by address (backend.c keeps libcurl for "https://" and for
 * host names). No llhttp type here: they stay in backend_http1.c. */
#ifndef NDX_GATEWAY_BACKEND_HTTP1_H
#define NDX_GATEWAY_BACKEND_HTTP1_H

#include <stdbool.h>

#include "xfer.h"

struct gw_loop;
struct gw_bh1;

/* Whether the hop goes over this client for this backend: "unix:", or
 * "http://" naming an IPv4 or IPv6 address. Not a host name: libcurl tries
 * each of a name's addresses in turn ("localhost" is often ::1 and
 * 127.0.0.1), which this client does not; such a backend stays on libcurl,
 * as "https://" does. */
bool gw_bh1_serves(const char *backend);
/* Starts call (gw_backend_start's contract: call->done once, on l's
 * thread, possibly inside this call). The loop's client is made at first
 * use. */
void gw_bh1_start(struct gw_loop *l, struct gw_backend_call *call, struct gw_xfer_resp *r);
/* On the loop's thread at stop: every call still running ends with
 * GW_XFER_FAILED, every kept connection is closed. Accepts NULL. */
void gw_bh1_stop(struct gw_bh1 *b);
/* After the loop's thread ended. Accepts NULL. */
void gw_bh1_free(struct gw_bh1 *b);

#endif
