/* "Who read my data" (docs/portal.md "The access list"): the signed-in
 * citizen's access list gathered from every member's transparency service
 * (the provider gateways' ndx:subject-accesses, docs/protocol.md), with the
 * citizen's e-ID ID token as Ndx-Subject-Token, filtered and paged by those
 * gateways and merged here newest first, every row in names and words the
 * web UI can show: agency names, the service's title, the outcome, the
 * officer and the procedure of an officer's read. */
#ifndef NDX_PORTAL_ACCESS_LIST_H
#define NDX_PORTAL_ACCESS_LIST_H

#include <jansson.h>

#include "portal.h"
#include "store.h"

#define ACCESS_PER_PAGE 20
#define ACCESS_MAX_PAGES 50 /* 1,000 rows: the most a provider gateway lists */

/* The web UI's filters as they came in the query (NULL or "" = absent):
 * own (include|exclude|only, default exclude), agency (a member id),
 * purpose, from and to (dd/mm/yyyy, Vietnam time), page (1..ACCESS_MAX_PAGES).
 * Borrowed for the call. */
struct access_filter {
	const char *own, *agency, *purpose, *from, *to, *page;
};

/* GET /api/accesses: *out = {"accesses":[…],"total","page","pages",
 * "per_page","truncated","filter":{…},"agencies":[…],"unavailable":[…]}.
 * A filter that does not check: 422 validation with fields. No valid ID
 * token in the session: 401 reauth (nothing is asked). listClients
 * failing: 502 exchange. */
int access_list(const struct portal *p, const struct psession *s, const struct access_filter *f,
		json_t **out, struct perr *e);

#endif
