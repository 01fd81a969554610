/* The operations centre's JSON API under /api/ops/ (docs/portal.md "The
 * operations centre"): who the signed-in official is, and the monitoring
 * service's live figures, series, indicators, tasks and six-monthly report,
 * asked by the portal (the only part that holds the monitoring service's
 * token) with the member an agency official may see forced into every
 * question. */
#ifndef NDX_PORTAL_OPS_H
#define NDX_PORTAL_OPS_H

#include <jansson.h>

#include "ndx/httpd.h"
#include "portal.h"
#include "store.h"

/* Answers every request whose path starts with /api/ops/. Refusals (no
 * session 401, not an official or another member's figures 403) are
 * answered as docs/portal.md says and written to stderr beside the access
 * log line, without the person's number. */
void ops_handle(const struct portal *p, const struct ndx_http_req *req,
		struct ndx_http_resp *resp);

/* The "official" object GET /api/session carries for a citizen who is an
 * official ({"role","member","name"}), or NULL when s is not one. */
json_t *ops_official_json(const struct portal *p, const struct psession *s);

/* The request's official (docs/portal.md "Officials"): a session (else 401
 * unauthenticated), a citizen's (else 403 not_official: an officer's
 * session), whose PIN the officials table lists, read now (else 403
 * not_official). On 0, *s and *o are filled (psession_clear(s) after use);
 * on -1 the request has been answered and a line "ndx-portal: AREA:
 * refused METHOD PATH (who): why" written on stderr, never with the PIN.
 * what names the pages in the refusal ("the operations centre"). */
int ops_official_gate(const struct portal *p, const struct ndx_http_req *req,
		      struct ndx_http_resp *resp, const char *area, const char *what,
		      struct psession *s, struct pofficial *o);

/* Whether role is one of operator, agency, auditor. */
int ops_role_known(const char *role);

#endif
