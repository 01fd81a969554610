/* What a signed-in citizen sees of their own data (docs/portal.md "API"):
 * the population record and household, social insurance contributions under
 * a consent, and their consents at the consent service. Each function
 * answers with a new JSON value in *out or fills e and returns -1. */
#ifndef NDX_PORTAL_CITIZEN_H
#define NDX_PORTAL_CITIZEN_H

#include <jansson.h>

#include "portal.h"
#include "store.h"

int citizen_profile(const struct portal *p, const struct psession *s, json_t **out,
		    struct perr *e);
int citizen_insurance(const struct portal *p, const struct psession *s, json_t **out,
		      struct perr *e);
int citizen_consents(const struct portal *p, const struct psession *s, json_t **out,
		     struct perr *e);
int citizen_consent_create(const struct portal *p, const struct psession *s,
			   const json_t *body, json_t **out, struct perr *e);
int citizen_consent_revoke(const struct portal *p, const struct psession *s, const char *jti,
			   json_t **out, struct perr *e);

#endif
