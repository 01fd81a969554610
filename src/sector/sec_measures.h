/* The four measures read (docs/sectors.md "The four measures"): GET
 * /measures?after=RUN&limit=N answers, for each finished reconciliation run
 * kept in the sector's database past run RUN (oldest first), per table the
 * records checked and how many of them, and which share, are accurate,
 * sufficient, clean and live. Counts only: no record, key or number, so
 * the answer carries no personal data. The operator's monitoring service
 * reads it through the exchange (docs/indicators.md "Registry measures"). */
#ifndef NDX_SECTOR_SEC_MEASURES_H
#define NDX_SECTOR_SEC_MEASURES_H

#include <jansson.h>
#include <sqlite3.h>

#include "ndx/httpd.h"
#include "schema.h"
#include "store.h"

#define MEASURES_DEFAULT_LIMIT 10
#define MEASURES_MAX_LIMIT 100

/* The answer for runs finished with an id above after, at most limit
 * (1..MEASURES_MAX_LIMIT), oldest first: {"sector", "agency", "runs":
 * [{"run", "started_at", "finished_at", "tables": [{"table", "records",
 * "accurate": {"records", "share"}, "sufficient", "clean", "live"}]}],
 * "next_after"} (share null for a table of no record; next_after the last
 * run given, else after). A database where no run was ever made gives no
 * runs. Reads only, on either engine (s: sec_sql.h). *out is the caller's. NDX_OK, NDX_EDB, NDX_ENOMEM. */
struct sec_sql;
int measures_build(const struct sector_def *def, const struct sec_sql *s, long long after,
		   unsigned limit, json_t **out);

/* The OpenAPI path item of GET /measures (a new object), NULL when out of
 * memory or the text does not parse (a message on stderr). */
json_t *measures_openapi_path(void);

/* The handler of GET /measures on one of st's connections: 400 naming the
 * argument for a bad after or limit, 405 for another method, 500 when the
 * store fails. def and st are borrowed. */
void measures_handle(const struct sector_def *def, struct store *st,
		     const struct ndx_http_req *req, struct ndx_http_resp *resp);

#endif
