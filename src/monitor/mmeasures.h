/* The registries' four measures in monitor.db (docs/indicators.md
 * "Registry measures"): what each sector registry's measures service
 * (GET /measures, the sector API's, read through the exchange by the
 * collector) says of its finished reconciliation runs, a row per run and
 * table, kept over time (not pruned with the records: a handful of rows a
 * run). Each function takes the store's lock (mstore_lock) for its own
 * transaction. */
#ifndef NDX_MONITOR_MMEASURES_H
#define NDX_MONITOR_MMEASURES_H

#include <jansson.h>
#include <stdint.h>

#include "mstore.h"

/* The code a service has when it is a registry's measures service. */
#define MMEASURES_SERVICE_CODE "measures"

/* The highest run of service kept, 0 = none. NDX_OK or NDX_EDB. */
int mmeasures_cursor(struct mstore *st, const char *service, uint64_t *after);

/* Checks one run of a measures answer ({"run", "started_at", "finished_at",
 * "tables": [{"table", "records", "accurate": {"records"}, "sufficient",
 * "clean", "live"}]}); NULL when it is good, else a static sentence that
 * starts with the field at fault. A measure's records must lie in 0 ..
 * the table's records; finished_at must be RFC 3339 and not after
 * now_ms + 5 minutes. */
const char *mmeasures_run_refusal(const json_t *run, int64_t now_ms);

/* Keeps the runs of one answer ({"sector", "runs": [...]}) of service
 * (whose member is member) in one transaction: a run already held is
 * skipped, a malformed one refused and counted in *bad with a line on
 * stderr naming the field. The service's cursor becomes the highest run
 * seen. NDX_OK, NDX_EINVAL (no sector or no runs list: nothing kept),
 * NDX_EDB. */
int mmeasures_add(struct mstore *st, const char *service, const char *member,
		  const json_t *answer, int64_t now_ms, size_t *added, size_t *bad);

/* Records that service could not be read (why: a short sentence, never
 * data). NDX_OK or NDX_EDB. */
int mmeasures_failed(struct mstore *st, const char *service, const char *member,
		     int64_t now_ms, const char *why);

#endif
