/* The registries' four measures over a period, computed from the runs the
 * collector keeps in monitor.db (registry_measures, mmeasures.h;
 * docs/indicators.md "Registry measures"). monitor.db is opened read-only
 * on its own connection, as for the exchange's figures. */
#ifndef NDX_MONITOR_INDICATORS_REGISTRIES_H
#define NDX_MONITOR_INDICATORS_REGISTRIES_H

#include <jansson.h>
#include <stdint.h>

/* For each registry table, its latest run finished in [from_ms, to_ms);
 * over those: {"records", "accurate_pct", "sufficient_pct", "clean_pct",
 * "live_pct" (the records that hold each, over all records, times 100;
 * null without records), "tables" (how many), "members": [the same per
 * member that runs the registry, ordered by member]}. *out is the
 * caller's. NDX_ENOTFOUND when monitor_db does not exist, NDX_EDB when it
 * cannot be read (a monitor.db of before the measures has no runs). */
int ind_registry_figures(const char *monitor_db, int64_t from_ms, int64_t to_ms, json_t **out);

#endif
