/* The monitoring service's API for misuse detection (docs/monitoring.md
 * "Procedures and mandates", "Cases"), behind its admin token like
 * /api/live; the portal is its one caller:
 *   POST /api/procedures                the portal's procedures (upsert)
 *   GET  /api/mandates                  the registered mandates
 *   GET  /api/cases[?state&member&kind&limit]
 *   GET  /api/cases/{id}                a case, its history and evidence
 *   POST /api/cases/{id}/triage         confirm | dismiss | escalate
 *   GET  /api/subject-cases?subject=PIN what that citizen sees
 *   POST /api/subject-reports           a read the citizen did not recognise */
#ifndef NDX_MONITOR_CASES_API_H
#define NDX_MONITOR_CASES_API_H

#include <stdbool.h>

#include "cases.h"
#include "mstore.h"
#include "ndx/httpd.h"

/* Answers req when its path is one of the above (true), after checking the
 * bearer token against token_sha256; false (resp untouched) otherwise.
 * Thread-safe (the store's lock). */
bool cases_api_handle(struct mstore *st, const char *token_sha256, cases_namer namer,
		      void *namer_ctx, const struct ndx_http_req *req,
		      struct ndx_http_resp *resp);

#endif
