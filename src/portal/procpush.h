/* The procedures push (docs/portal.md "The procedures push"): a background
 * thread that sends the portal's procedures, new and changed, to the
 * monitoring service (POST /api/procedures, an idempotent upsert), so that
 * its misuse detector knows which agency has an open procedure for which
 * citizen. A cursor in portal.db (the last change number the monitoring
 * service acknowledged) makes it resume where it stopped, after a failure
 * or a restart; a batch is sent again until it is acknowledged, so nothing
 * is lost and a re-send is harmless. It never blocks a request: it holds
 * the store's lock only for its own short reads. With several nodes on one
 * store, one pushes at a time: the holder of a lease in the store, which
 * another node takes over when it runs out. */
#ifndef NDX_PORTAL_PROCPUSH_H
#define NDX_PORTAL_PROCPUSH_H

#include <stdint.h>

#include "config.h"
#include "store.h"

struct procpush;

/* Starts the thread for cfg's monitor (cfg and st are borrowed and must
 * outlive procpush_stop). NDX_OK, NDX_EINVAL when cfg has no monitor,
 * NDX_ENOMEM or NDX_EIO (the thread could not start; message on stderr). */
int procpush_start(const struct pconfig *cfg, struct pstore *st, struct procpush **out);

/* Stops the thread (an attempt under way finishes first, at most its
 * timeout), gives up the push's lease when this node held it, so that
 * another node takes over at once, and frees pp. Accepts NULL. */
void procpush_stop(struct procpush *pp);

/* For /metrics: procedures the monitoring service acknowledged since start,
 * attempts that failed since start, procedures waiting to be sent (as of the
 * last attempt), whether the last attempt succeeded (on a node standing by:
 * whether it could read the lease) and whether this node held the push's
 * lease at its last attempt. pp may be NULL (all 0). */
struct procpush_figures {
	uint64_t pushed, failures;
	int64_t backlog;
	int up, active;
};
void procpush_figures(const struct procpush *pp, struct procpush_figures *f);

#endif
