/* The consent service's HTTP API (docs/protocol.md "Consent artefacts",
 * "Revocation"): issuing, listing and revoking consents under /api/ with the
 * admin bearer token, rate-limited per subject, and the public status lists:
 * the signed index /status and the lists /status/{n} it names by digest.
 * One handler for httpd.h. */
#ifndef NDX_CONSENT_API_H
#define NDX_CONSENT_API_H

#include "ndx/httpd.h"
#include "ndx/key.h"
#include "cons_store.h"
#include "subject_limit.h"

/* Longest validity of a consent the service issues (366 days). */
#define CONSENT_MAX_VALIDITY (366 * 86400)

struct capi_lists;

struct capi_config {
	struct cstore *st;
	const struct ndx_key *key; /* the signing key, with its private half */
	struct subject_limit *limit; /* NULL: no limit */
	struct capi_lists *lists;    /* from capi_lists_new */
};

/* The encoded status lists, kept until their bits change. NULL when out of
 * memory. */
struct capi_lists *capi_lists_new(void);
/* Accepts NULL. */
void capi_lists_free(struct capi_lists *c);

/* The ndx_http_handler; ctx is a struct capi_config (borrowed, must outlive
 * the server). */
void capi_handle(void *ctx, const struct ndx_http_req *req, struct ndx_http_resp *resp);

#endif
