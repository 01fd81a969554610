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
/* GET /api/consents/service?id=SERVICE: what one record of the service
 * holds, the property names of its OpenAPI document's schema for GET
 * /{code}/{id}, fetched with getOpenAPI through the portal's gateway:
 * {"service", "fields": [name, …]}. 400 invalid for an id that is no
 * service id; 502 exchange when the document cannot be had or describes
 * no record. */
int citizen_consent_service(const struct portal *p, const char *id, json_t **out,
			    struct perr *e);
int citizen_consent_revoke(const struct portal *p, const struct psession *s, const char *jti,
			   json_t **out, struct perr *e);

#endif
