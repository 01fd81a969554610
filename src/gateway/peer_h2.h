/* The consumer gateway's HTTP/2 client towards provider gateways
 * (peer_h2.c): nghttp2 over TLS sockets of the exchange loop, one
 * multiplexed connection per gateway address per loop, kept and reused,
 * each call a stream. peer.c sends through it when http.peer_http2 is on
 * and the gateway's address names its host by an IP address; a gateway
 * that offers no "h2" by ALPN, and an address with a host name, stay on
 * libcurl (peer.c). No nghttp2 or OpenSSL type here. */
#ifndef NDX_GATEWAY_PEER_H2_H
#define NDX_GATEWAY_PEER_H2_H

#include <stdbool.h>

#include "xfer.h"

struct gw_loop;
struct gw_ph2;

/* Whether url ("https://HOST:PORT/...") goes over this client: HOST an
 * IPv4 or a bracketed IPv6 address. */
bool gw_ph2_serves(const char *url);
/* Sends call (signed for the gateway of call->url, its headers set) as a
 * stream on l's client, made at first use: the answer into call->r, then
 * gw_peer_sent(call, result) on l's thread (inside this call when it fails
 * at once, as peer.c's own failures end the call); or, when the gateway
 * turns out to speak HTTP/1.1 only (nothing sent), gw_peer_send_curl(call).
 * Loop thread only. */
void gw_ph2_send(struct gw_loop *l, struct gw_peer_call *call);
/* Writes what the loop turn queued on the client's connections (the
 * loop's before-sleep hook). Accepts NULL. */
void gw_ph2_flush(struct gw_ph2 *c);
/* On the loop's thread at stop: every stream still running ends with
 * GW_XFER_FAILED, the connections close. Accepts NULL. */
void gw_ph2_stop(struct gw_ph2 *c);
/* After the loop's thread ended. Accepts NULL. */
void gw_ph2_free(struct gw_ph2 *c);

/* peer.c's, for peer_h2.c: the end of one gateway's try (moves on to the
 * next gateway on GW_XFER_CONNECT); the same try over libcurl; and the
 * check of the answering gateway: the gateway of call->conf whose TLS
 * certificate has the SHA-256 fingerprint fp (hex), of call->member,
 * neither it nor its signing key revoked, or NULL. */
void gw_peer_sent(struct gw_peer_call *call, enum gw_xfer_result res);
void gw_peer_send_curl(struct gw_peer_call *call);
const struct ndx_conf_gateway *gw_peer_allowed(const struct gw_peer_call *call, const char *fp);

#endif
