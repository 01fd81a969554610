/* Sessions and sign-in (docs/portal.md "Sessions", "Citizen sign-in"):
 * the session cookie, the e-ID login and callback, officer sign-in with a
 * password, logout. */
#ifndef NDX_PORTAL_AUTH_H
#define NDX_PORTAL_AUTH_H

#include <jansson.h>

#include "ndx/httpd.h"
#include "portal.h"
#include "store.h"

#define SESSION_COOKIE "ndx_portal_session"
#define SESSION_MAX_S (8 * 3600)

/* The request's live session: NDX_OK with *s filled (psession_clear it),
 * NDX_ENOTFOUND when there is none or it expired. */
int auth_session(const struct portal *p, const struct ndx_http_req *req, struct psession *s);
/* {"authenticated":true,…} of GET /api/session for s. */
json_t *auth_session_json(const struct portal *p, const struct psession *s);
/* Answers every request under /auth/. */
void auth_handle(const struct portal *p, const struct ndx_http_req *req,
		 struct ndx_http_resp *resp);

#endif
