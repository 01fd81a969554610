/* The administration of the portal's officers (password accounts) and
 * officials (e-ID persons with a role) through the web pages, under
 * /api/admin/ (docs/portal.md "Administration"): lists, changes and the
 * audit trail of those changes, for officials signed in with the e-ID by
 * the rules of their role. The command line (main.c) stays for the first
 * operator. */
#ifndef NDX_PORTAL_ADMIN_H
#define NDX_PORTAL_ADMIN_H

#include <stddef.h>

#include "ndx/httpd.h"
#include "portal.h"
#include "store.h"

/* Answers every request whose path starts with /api/admin/. */
void admin_handle(const struct portal *p, const struct ndx_http_req *req,
		  struct ndx_http_resp *resp);

/* Whether u is a user name an officer may have: 1-64 of A-Z a-z 0-9 . _ - @. */
int admin_username_ok(const char *u);

/* A new officer's password: 20 random characters of a 32-letter alphabet
 * in groups of four ("abcd-efgh-…", 100 bits), into out (at least 25
 * bytes). NDX_EINVAL when out is too small, NDX_ECRYPTO without
 * randomness. The caller cleanses out after use. */
int admin_password_make(char *out, size_t cap);

#endif
