/* The exchange's volume and reliability over a period, computed from the
 * operational records the collector keeps in monitor.db (docs/indicators.md
 * "Computed values"). monitor.db is opened on a handle of its own
 * (ndx/sqldb.h with mstore_db_desc) and only read: nothing here writes it,
 * and mstore.c is not involved. */
#ifndef NDX_MONITOR_INDICATORS_OPS_H
#define NDX_MONITOR_INDICATORS_OPS_H

#include <jansson.h>
#include "ndx/sqldb.h"
#include <stdint.h>

/* The exchanges whose request arrived in [from_ms, to_ms), each counted
 * once as the live figures count them (its consumer gateway's record, or
 * its provider's when only that one was collected): {"exchanges",
 * "failed", "success_pct" (null without exchanges), "p95_ms" (nearest rank;
 * null without durations), "members": [the same per member, an exchange
 * counting for its client's and its service's member, ordered by member]}.
 * *out is the caller's. NDX_ENOTFOUND when monitor_db does not exist,
 * NDX_EDB when it cannot be read. */
int ind_exchange_figures(const char *monitor_db, int64_t from_ms, int64_t to_ms, json_t **out);

/* monitor.db (its path) opened through ndx/sqldb.h on a handle of its own,
 * for the figures computed from it (here and indicators_registries.h); an
 * older monitor.db is brought up to date as it opens. NDX_OK; NDX_ENOTFOUND
 * when it does not exist; NDX_EDB. *db (NULL after a failure) is the
 * caller's to close with (*db)->ops->close. */
int ind_open_monitor_db(const char *monitor_db, struct ndx_sqldb **db);

#endif
