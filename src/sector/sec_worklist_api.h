/* The correction worklist over HTTP (docs/sectors.md "Correction
 * worklists"): GET /reconcile/worklist?offset=N&limit=N answers the open
 * tasks of the sector's last finished reconciliation run, as `ndx-sector
 * worklist` prints them, one page at a time; POST /reconcile/corrections
 * with {"table", "key", "field", "value"?} corrects one of them in one
 * action (reconcile_correct, sec_worklist.h), logged with the officer the
 * request names in X-Road-UserId (required: the portal's officers' desk
 * sends "{agency member}/{user name}"). Published as the registry's
 * reconcile service, granted to the portal alone. Every answer declares
 * the people its tasks or its correction concern (Ndx-Data-Subjects). */
#ifndef NDX_SECTOR_SEC_WORKLIST_API_H
#define NDX_SECTOR_SEC_WORKLIST_API_H

#include "ndx/httpd.h"
#include "pinset.h"
#include "schema.h"
#include "store.h"

#define WORKLIST_DEFAULT_LIMIT 50
#define WORKLIST_MAX_LIMIT 200
#define WORKLIST_MAX_OFFSET 100000
#define WORKLIST_OFFICER_MAX 200

/* Handles a request whose path starts with "/reconcile": the two routes
 * above, 404 for another path under it, 405 for another method. 400 names
 * the field or argument at fault, 404 when the task is not open in the
 * last finished run, 409 when the field is the record's key (the same
 * person twice is merged, not corrected), 422 when a page concerns more
 * than PINSET_MAX people. def and st are borrowed; events_client the
 * subsystem the sector publishes its events as (NULL: AGENCY/SECTOR); the
 * people of a successful answer go into declared. */
void worklist_api_handle(const struct sector_def *def, struct store *st, const char *events_client,
			 const struct ndx_http_req *req, struct ndx_http_resp *resp,
			 struct pinset *declared);

/* Adds the two routes to an OpenAPI document's paths: 0, or -1 (said on
 * stderr). */
int worklist_openapi_paths(json_t *paths);

#endif
