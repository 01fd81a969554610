/* The e-ID's GET /metrics (eid_metrics.c, docs/operations.md): sign-ins by
 * outcome and tokens issued, counted where they happen (oidc.c). */
#ifndef NDX_ID_EID_METRICS_H
#define NDX_ID_EID_METRICS_H

#include "ndx/httpd.h"

enum eid_signin {
	EID_SIGNIN_SUCCEEDED,     /* password right, account usable: a code was issued */
	EID_SIGNIN_FAILED,        /* unknown PIN or wrong password */
	EID_SIGNIN_THROTTLED,     /* refused before the password was checked (429) */
	EID_SIGNIN_DISABLED,      /* password right, account disabled (deceased, ...) */
	EID_SIGNIN_COUNT
};

/* Counts one sign-in attempt that reached the password check or the
 * throttle; thread-safe. */
void eid_metrics_signin(enum eid_signin outcome);
/* Counts one token answer (access and ID token) at /token. */
void eid_metrics_token_issued(void);

/* ndx-id's ndx_http_handler; ctx is the struct oidc_config of oidc.h:
 * /metrics here (also under the issuer's path prefix), everything else to
 * oidc_handle. */
void eid_metrics_handle(void *ctx, const struct ndx_http_req *req, struct ndx_http_resp *resp);

#endif
