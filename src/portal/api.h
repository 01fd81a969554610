/* The portal's HTTP entry point (docs/portal.md "HTTP surface"): security
 * headers on every answer, then /auth/ (auth.c), /api/ (here), /static/
 * and /assets/govuk/ (static.c) and index.html for every page route. */
#ifndef NDX_PORTAL_API_H
#define NDX_PORTAL_API_H

#include "ndx/httpd.h"
#include "portal.h"

/* The ndx_http_handler; ctx is a struct portal (borrowed, outlives the
 * server). */
void portal_handle(void *ctx, const struct ndx_http_req *req, struct ndx_http_resp *resp);

/* Answers e as {"error","message","fields"?}; takes e->fields. */
void api_reply_error(struct ndx_http_resp *resp, struct perr *e);
/* 1 when the request's X-CSRF-Token is the session's csrf (compared in
 * constant time; a session without one matches nothing), else 0. */
int api_csrf_ok(const struct ndx_http_req *req, const struct psession *s);
/* Parses the request body as one JSON object into *out, or answers 400
 * "invalid" and returns -1. */
int api_body(const struct ndx_http_req *req, struct ndx_http_resp *resp, json_t **out);

#endif
