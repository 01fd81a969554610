/* The witness of this gateway's message log (docs/protocol.md "Witnessed
 * tree heads", docs/gateway.md "Message log"): a thread sends the tree
 * heads not yet witnessed to the registry every witness_interval_s, checks
 * the countersignature it answers with an anchor key and stores it in the
 * log. When a closed tree head has waited longer than witness_grace_s for
 * its countersignature, exchanges are refused (WitnessUnavailable, errors.h)
 * on both ports until a witness answers again. */
#ifndef NDX_GATEWAY_WITNESS_H
#define NDX_GATEWAY_WITNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gwconfig.h"
#include "ndx/msglog.h"

struct gw_witness;

/* Starts the thread (its first round at once). cfg, log and name
 * ("{member}/{code}") are borrowed and must outlive it. NDX_OK with *out,
 * or NDX_ENOMEM. */
int gw_witness_start(const struct gw_config *cfg, struct ndx_msglog *log, const char *name,
		     struct gw_witness **out);
/* Stops the thread (waiting for a request in flight, at most its timeout)
 * and frees. Accepts NULL. */
void gw_witness_free(struct gw_witness *w);
/* True when exchanges must be refused: a tree head has waited longer than
 * witness_grace_s for its countersignature. why (cap bytes) says since
 * when. Thread-safe, lock-free. Accepts NULL (false). */
bool gw_witness_overdue(const struct gw_witness *w, char *why, size_t cap);
/* The newest batch countersigned (0: none yet), for /healthz and metrics. */
uint64_t gw_witness_batch(const struct gw_witness *w);

#endif
