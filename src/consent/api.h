/* The consent service's HTTP API (docs/protocol.md "Consent artefacts",
 * "Revocation"): issuing, listing and revoking consents under /api/ with the
 * admin bearer token, and the public signed revocation list /revocations.
 * One handler for httpd.h. */
#ifndef NDX_CONSENT_API_H
#define NDX_CONSENT_API_H

#include "ndx/httpd.h"
#include "ndx/key.h"
#include "store.h"

/* Longest validity of a consent the service issues (366 days). */
#define CONSENT_MAX_VALIDITY (366 * 86400)

struct capi_config {
	struct cstore *st;
	const struct ndx_key *key; /* the signing key, with its private half */
};

/* The ndx_http_handler; ctx is a struct capi_config (borrowed, must outlive
 * the server). */
void capi_handle(void *ctx, const struct ndx_http_req *req, struct ndx_http_resp *resp);

#endif
