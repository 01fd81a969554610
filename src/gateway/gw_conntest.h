/* The connection test to peer gateways (gw_conntest.c,
 * docs/gateway-console.md "Connection test"), as X-Road 7.8's: a TLS
 * handshake with this gateway's certificate to the peer's address in the
 * global configuration, the peer's certificate against the one the
 * configuration lists (and whether the configuration revokes it or the
 * peer's signing key), and a signed test call (GET /t1/ping on the peer's
 * gateway port) whose signature is verified with the peer's key from the
 * configuration. The provider side of that call is here too. */
#ifndef NDX_GATEWAY_CONNTEST_H
#define NDX_GATEWAY_CONNTEST_H

#include <jansson.h>

#include "gateway.h"

/* GET /t1/ping?nonce=N on the gateway port: for a caller whose client
 * certificate is an unrevoked gateway's of the configuration, 200
 * {"gateway","caller","nonce","time","maintenance"} signed in
 * Ndx-Response-Signature over gw_ping_hash; else a refusal. */
void gw_ping_serve(struct gw_ctx *g, const struct ndx_http_req *req, struct ndx_http_resp *resp);

/* The hash a ping's answer signs: SHA-256 of "ndx-ping-v1\n" caller "\n"
 * answerer "\n" nonce. */
void gw_ping_hash(const char *caller, const char *answerer, const char *nonce,
		  uint8_t out[NDX_SHA256_LEN]);

/* Tests the connection to each peer gateway of the held configuration
 * (every gateway but this one; only MEMBER/CODE only when only is not
 * NULL), one after the other, each within the connect and peer timeouts.
 * Returns {"conf_version", "tested_at", "peers": [result...]}, each result
 * {"gateway", "address", "result": "good" | "revoked" | "certificate_mismatch"
 * | "unreachable" | "tls_failed" | "bad_signature", "tls": {...},
 * "certificate": {...}, "signature": {...}}; NULL when no configuration is
 * held or out of memory (*why says which). Blocks: call it off the
 * exchange ports' threads. */
json_t *gw_conntest_run(struct gw_ctx *g, const char *only, const char **why);

#endif
