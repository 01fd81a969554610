/* The monitoring service's store (monitor.db): the operational records it
 * has collected from every gateway, each gateway's cursor and how its last
 * collection went, and the figures the operations centre shows, computed
 * in SQL over a time window. A database of ndx/sqldb.h (mstore_db_desc):
 * every query once in the SQL its engines take, rows as jansson objects.
 * One connection, one lock: the collector writes, the HTTP threads read. */
#ifndef NDX_MONITOR_MSTORE_H
#define NDX_MONITOR_MSTORE_H

#include <jansson.h>
#include "ndx/sqldb.h"
#include <stdbool.h>
#include <stdint.h>

#define MSTORE_DB_FILE "monitor.db"

/* The rule that counts an exchange once, as SQL over monitor.db's records
 * aliased r: its consumer gateway's record, or its provider gateway's when
 * the consumer's was not collected (both gateways record an exchange). The
 * live figures and the indicators' periods both count with it. */
#define MSTORE_COUNTED_ONCE                                                              \
	"(r.role = 'consumer' OR (r.role = 'provider' AND NOT EXISTS"                     \
	" (SELECT 1 FROM records c WHERE c.role = 'consumer' AND"                         \
	" c.message_id = r.message_id AND c.client = r.client AND c.service = r.service)))"

struct mstore;

/* monitor.db's tables: SQLite migrations (numbered in schema_migrations, an
 * older monitor.db brought up to date as it opens). */
extern const struct ndx_sqldb_desc mstore_db_desc;
/* The same tables, with the serve lock on PostgreSQL (mstore_open_to_serve). */
extern const struct ndx_sqldb_desc mstore_serve_desc;

/* Opens the store at loc (a file path); create: a new one (NDX_EEXIST when
 * loc holds one), otherwise an existing one (NDX_EIO when there is none). */
int mstore_open(const char *loc, bool create, struct mstore **out);
/* As mstore_open of an existing store, for `serve`: on PostgreSQL the
 * schema's serve lock is held while the store is open, so that a second
 * serve on the schema is refused (NDX_EDB, said on stderr). */
int mstore_open_to_serve(const char *loc, struct mstore **out);
void mstore_close(struct mstore *st);
/* How messages name the store: its file, or its database without a
 * password. */
const char *mstore_name(const struct mstore *st);

/* The store's one connection, with its lock held until mstore_unlock:
 * for the modules that keep their own tables in monitor.db (mreads.c,
 * cases.c) and for the misuse detector, which runs on it inside the lock
 * (collect.c), so that no other thread's statement interleaves with its
 * transaction. Hold it for one transaction at most, and never call another
 * mstore_* function while holding it (the lock is not recursive). */
struct ndx_sqldb *mstore_lock(struct mstore *st);
void mstore_unlock(struct mstore *st);

/* db->ops->run for a statement without rows, *changes = the rows it
 * changed. */
int mstore_changes(struct ndx_sqldb *db, int64_t *changes, const char *sql, const char *types,
		   ...);

/* The next record to ask gateway for: the highest seq seen of it (kept,
 * refused or pruned since), 0 = none. */
int mstore_cursor(struct mstore *st, const char *gateway, uint64_t *after);

/* Keeps one page of a gateway's answer: its "records" array, each as the
 * gateway sends it (docs/protocol.md "Operational monitoring"), in one
 * transaction with the gateway's new state. A record already held (same
 * gateway and seq) is skipped; a record missing a required field, or whose
 * request_in is more than 5 minutes after now_ms, is refused and counted in
 * *bad, the rest kept. */
int mstore_add_page(struct mstore *st, const char *gateway, const char *member,
		    const json_t *records, int64_t now_ms, size_t *added, size_t *bad);

/* A collection that failed: kept with its time and reason (no personal data:
 * the reason is the gateway's error type and message). */
int mstore_gateway_failed(struct mstore *st, const char *gateway, const char *member,
			  int64_t now_ms, const char *why);

/* What the operations centre's live view shows over [now - window, now]
 * (docs/operations.md "Live figures"): exchanges (counted once, at the
 * consumer's gateway, or at the provider's when only it is collected), per
 * second, errors by type, latency percentiles, the busiest services, per
 * agency, and every gateway's state. member NULL: the whole federation;
 * otherwise only exchanges whose client or service is of that member, and
 * only that member's gateways. */
int mstore_live(struct mstore *st, const char *member, int64_t now_ms, int64_t window_ms,
		json_t **out);

/* The same exchanges (counted once, member as in mstore_live) over
 * [now - window, now] in buckets of step_ms, oldest first, every bucket
 * present (an empty one counts 0): {"step_s", "series": [{"t" (the
 * bucket's start, Unix ms), "exchanges", "failed", "p95_ms" (null when
 * empty)}]}. At most MSTORE_SERIES_MAX buckets (NDX_EINVAL beyond). */
#define MSTORE_SERIES_MAX 1440
int mstore_series(struct mstore *st, const char *member, int64_t now_ms, int64_t window_ms,
		  int64_t step_ms, json_t **out);

/* Keeps a gateway's own state (the gateway_state object of its health
 * answer: configuration version and expiry, log writable, TLS certificate
 * notAfter, event backlog) with the time it was read; the live figures
 * show it under the gateway as "state". A gateway not yet known is left
 * alone. NDX_EINVAL when state is not an object. */
int mstore_gateway_state(struct mstore *st, const char *gateway, const json_t *state,
			 int64_t now_ms);

/* Deletes records whose request arrived before cutoff_ms; *deleted is how
 * many. */
int mstore_prune(struct mstore *st, int64_t cutoff_ms, uint64_t *deleted);

#endif
