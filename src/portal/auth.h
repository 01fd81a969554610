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
/* A citizen's e-ID ID token must still be valid this many seconds when the
 * portal sends it as Ndx-Subject-Token: the provider gateway checks its exp
 * after the request has crossed two gateways. */
#define AUTH_TOKEN_MARGIN_S 60

/* The session's ID token when its exp is at least AUTH_TOKEN_MARGIN_S after
 * now, else NULL (no token, an expired one, or one that cannot be read): the
 * citizen must sign in again (auth_reauth). Borrowed from s. */
const char *auth_subject_token(const struct psession *s, time_t now);
/* Sets e to 401 "reauth" (docs/portal.md "Sessions": the web UI sends the
 * citizen through the e-ID again, without a password while its single
 * sign-on lasts) and returns -1. */
int auth_reauth(struct perr *e);
/* The citizen's fresh ID token into *tok, or auth_reauth(e) and -1. */
int auth_need_token(const struct psession *s, const char **tok, struct perr *e);
/* Answers every request under /auth/. */
void auth_handle(const struct portal *p, const struct ndx_http_req *req,
		 struct ndx_http_resp *resp);

#endif
