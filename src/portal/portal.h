/* What the parts of ndx-portal share: the running portal (configuration,
 * store, e-ID relying party) and the error an API request ends with.
 * Overview: docs/portal.md. */
#ifndef NDX_PORTAL_H
#define NDX_PORTAL_H

#include <jansson.h>

#include "config.h"
#include "ndx/password.h"
#include "ndx/oidc_rp.h"
#include "procpush.h"
#include "store.h"

#define PORTAL_PROG "ndx-portal"
/* The largest request body: an attachment (PSTORE_ATTACH_MAX bytes) as
 * base64 in JSON, with room for its name. */
#define PORTAL_MAX_BODY (PSTORE_ATTACH_MAX / 3 * 4 + 64 * 1024)

struct portal {
	const struct pconfig *cfg;
	struct pstore *st;
	struct ndx_oidc *oidc;
	/* The procedures push to the monitoring service (procpush.h); NULL
	 * without a monitor in the configuration. */
	struct procpush *push;
	/* The e-mail sender (notify.h); NULL without "smtp". */
	struct mailer *mailer;
	/* A hash of no one's password at the default cost, for an unknown
	 * name while there are no officers; otherwise an unknown name is
	 * checked against a stored officer's hash (auth.c), at their cost. */
	char dummy_hash[NDX_PASSWORD_HASH_MAX];
};

/* An API refusal: status, code (docs/portal.md "HTTP surface"), message and,
 * for 422, the fields (owned; api_reply_error steals it). */
struct perr {
	int status;
	const char *code;
	char message[256];
	json_t *fields;
};

/* Fills e (printf-style message) and returns -1, for `return perr_set(...)`. */
int perr_set(struct perr *e, int status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
