/* The officers' correction worklists (docs/portal.md "Correction
 * worklists"): an officer of the agency that runs a registry reads the
 * open tasks of its last reconciliation with the population registry and
 * corrects them one at a time, through the portal's gateway from the
 * registry's reconcile service (docs/sectors.md "Correction worklists"),
 * with X-Road-UserId "{agency member}/{user name}": the registry logs the
 * correction with the officer. */
#ifndef NDX_PORTAL_WORKLIST_H
#define NDX_PORTAL_WORKLIST_H

#include <jansson.h>

#include "ndx/httpd.h"
#include "portal.h"

/* The purpose the reconcile services are called for. */
#define PURPOSE_CORRECTION "data-correction"

/* GET /api/officer/worklist?sector=S&offset=N&limit=N: the registry's
 * answer, {"sector", "agency", "run", "total", "offset", "limit", "tasks"}.
 * sector defaults to the one the officer's agency runs; 403 when the
 * agency runs another (or none), 400 naming a bad argument, 502 when the
 * exchange fails. */
int worklist_get(const struct portal *p, const struct psession *s, const struct ndx_http_req *req,
		 json_t **out, struct perr *e);

/* POST /api/officer/worklist/corrections {"sector"?, "table", "key",
 * "field", "value"?}: the correction as the registry logged it (201), or
 * its refusal as the registry gave it (400, 404, 409, naming the field),
 * 403 as above. */
int worklist_correct(const struct portal *p, const struct psession *s, const json_t *body,
		     json_t **out, int *status, struct perr *e);

#endif
