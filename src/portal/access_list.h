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

/* GET /api/me/misuse: *out = {"cases":[{"id","kind","client",
 * "client_member","service","opened_ms","updated_ms","confirmed_ms",
 * "explanation","explanation_en"}]} (those the monitoring service gave)
 * the misuse cases about the signed-in citizen the operator has confirmed
 * (the monitoring service's /api/subject-cases, asked with the session's
 * PIN), without their evidence. No monitoring service configured or
 * reachable: 503 monitor_unavailable; a wrong answer: 502 monitor. */
int access_misuse(const struct portal *p, const struct psession *s, json_t **out,
		  struct perr *e);

/* POST /api/me/reports {"gateway","message_id","note"?}: the signed-in
 * citizen does not recognise a read of the access list (gateway = the
 * row's provider, message_id = its message id); sent to the monitoring
 * service's /api/subject-reports with the session's PIN as the subject.
 * *status 201 (a case opened: {"status":"reported","case"}) or 200 (the
 * same read reported before: "already_reported"). 422 validation (a
 * missing or bad field, any other field: "unknown"), 404 unknown_read,
 * 503 monitor_unavailable, 502 monitor. */
int access_report(const struct portal *p, const struct psession *s, const json_t *body,
		  json_t **out, int *status, struct perr *e);

#endif
