/* The exchange's volume and reliability over a period, computed from the
 * operational records the collector keeps in monitor.db (docs/indicators.md
 * "Computed values"). monitor.db is opened read-only on its own connection:
 * nothing here writes it, and mstore.c is not involved. */
#ifndef NDX_MONITOR_INDICATORS_OPS_H
#define NDX_MONITOR_INDICATORS_OPS_H

#include <jansson.h>
#include <sqlite3.h>
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

/* monitor.db opened read-only on a connection of its own, with a busy
 * timeout of 5 s, for the figures computed from it (here and
 * indicators_registries.h). NDX_OK; NDX_ENOTFOUND when it does not exist;
 * NDX_EDB. *db is the caller's to close, also after a failure (NULL or a
 * handle sqlite3_close takes). */
int ind_open_monitor_db(const char *monitor_db, sqlite3 **db);

#endif
