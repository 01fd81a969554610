/* The web consoles' sign-in, sessions and files, shared by the registry's
 * console (docs/console.md) and each gateway's (docs/gateway-console.md):
 * /console/auth/login, /callback, /me and /logout (OpenID Connect code flow
 * with PKCE at the national e-ID, ndx/oidc_rp.h), sessions in this
 * process's memory, the console's page and its modules (ndx/static_files.h)
 * and the headers every console answer carries. What a signed-in person
 * may do is the daemon's: the role_of callback names their role at each
 * request. Overview: docs/console.md "Sign-in and sessions". */
#ifndef NDX_CONSOLE_AUTH_H
#define NDX_CONSOLE_AUTH_H

#include <stddef.h>

#include "ndx/httpd.h"
#include "ndx/id.h"

#define NDX_CONSOLE_CSRF_LEN 43 /* base64url of 32 bytes */
#define NDX_CONSOLE_ROLE_MAX 24

/* Writes subject's role into role (role_cap bytes), "" when subject is no
 * official, and into member (member_cap bytes) the member the role is
 * limited to (a registry's agency administrator's), "" for none; returns
 * NDX_OK, or an error (then the person has no role for this request).
 * Called from the HTTP threads, so it must be thread-safe. */
typedef int (*ndx_console_role_fn)(void *ud, const char *subject, char *role, size_t role_cap,
				   char *member, size_t member_cap);

struct ndx_console_config {
	const char *prog;          /* names the daemon in its log lines */
	/* The page module (in web_dir) /console/main.mjs redirects to, which
	 * console.html loads: "console.mjs" for the registry. One page serves
	 * every console; the module's own imports resolve from where it is. */
	const char *module;
	const char *web_dir;       /* the web UI (web/: the page and its modules), or NULL */
	const char *assets_dir;    /* GOV.UK Frontend's dist/govuk, or NULL */
	const char *public_url;    /* the daemon as browsers reach it, no trailing '/' */
	const char *issuer, *client_id, *client_secret; /* the e-ID and this client */
	ndx_console_role_fn role_of;
	void *role_ud;             /* borrowed: must outlive the console */
};

struct ndx_console;

/* A console for cfg (strings copied); the directories are resolved with
 * realpath (an unusable one answers 404, with a warning on stderr).
 * NDX_ENOMEM. */
int ndx_console_new(const struct ndx_console_config *cfg, struct ndx_console **out);
/* Accepts NULL. */
void ndx_console_free(struct ndx_console *c);

/* Whether path is a console's (/console or below). */
int ndx_console_path(const char *path);

/* Answers a request for a console path: the auth paths, /console/static/
 * (web_dir), /console/assets/govuk/ (assets_dir), /console/main.mjs (a
 * redirect to the module), any other console.html of web_dir. c
 * NULL answers 404 "the console is not configured" with hint as detail. */
void ndx_console_handle(struct ndx_console *c, const struct ndx_http_req *req,
			struct ndx_http_resp *resp, const char *hint);

/* The headers every console answer carries: no framing by another site,
 * no script but the console's own. */
void ndx_console_headers(struct ndx_http_resp *resp);

/* The signed-in person of a console session. */
struct ndx_console_who {
	char subject[16];
	char name[256];
	char role[NDX_CONSOLE_ROLE_MAX];    /* role_of's answer now; "" for no official */
	char member[NDX_ID_TEXT_MAX];       /* the member the role is limited to, or "" */
	char csrf[NDX_CONSOLE_CSRF_LEN + 1];
};

/* 1 with *who filled when req carries a live session cookie (its role
 * asked of role_of now, so a removed official loses it at once), 0 when it
 * carries none or a dead one (c NULL: 0). */
int ndx_console_session(struct ndx_console *c, const struct ndx_http_req *req,
			struct ndx_console_who *who);

/* Whether req's X-CSRF-Token is who's, compared in constant time. */
int ndx_console_csrf_ok(const struct ndx_console_who *who, const struct ndx_http_req *req);

#endif
