/* The registry's web console (docs/console.md): its pages and assets under
 * /console/, the officials' sign-in through the national e-ID (OpenID
 * Connect, libndx's ndx/oidc_rp.h) and their sessions, which the management
 * API (api.c) accepts besides its bearer tokens. Sessions live in this
 * process's memory. */
#ifndef NDX_REGISTRY_CONSOLE_H
#define NDX_REGISTRY_CONSOLE_H

#include "ndx/httpd.h"
#include "ndx/id.h"
#include "reg_store.h"

#define CONSOLE_CSRF_LEN 43 /* base64url of 32 bytes */

struct console_config {
	struct store *st;
	const char *web_dir;       /* the web UI (web/: console.html and modules), or NULL */
	const char *assets_dir;    /* GOV.UK Frontend's dist/govuk, or NULL */
	const char *public_url;    /* the registry as browsers reach it, no trailing '/' */
	const char *issuer, *client_id, *client_secret; /* the e-ID and this client */
};

struct console;

/* A console for cfg (strings copied; st borrowed, must outlive it); the
 * directories are resolved with realpath (an unusable one answers 404).
 * NDX_ENOMEM. */
int console_new(const struct console_config *cfg, struct console **out);
/* Accepts NULL. */
void console_free(struct console *c);

/* Whether path is the console's (/console or below). */
int console_path(const char *path);

/* Answers a request for a console path; c NULL answers 404 "not
 * configured". */
void console_handle(struct console *c, const struct ndx_http_req *req,
		    struct ndx_http_resp *resp);

/* The signed-in person of a console session. */
struct console_who {
	char subject[16];
	char name[256];
	char role[16];                      /* "operator", "auditor", "agency", "dpo", or "" (no official) */
	char member[NDX_ID_TEXT_MAX];       /* an agency administrator's member, else "" */
	char csrf[CONSOLE_CSRF_LEN + 1];
};

/* 1 with *who filled when req carries a live session cookie (its role
 * read from the store now, so a removed official loses it at once), 0
 * when it carries none or a dead one. */
int console_session(struct console *c, const struct ndx_http_req *req, struct console_who *who);

#endif
