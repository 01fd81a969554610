/* What conf.c and confdelta.c share inside libndx: building a configuration
 * from a document already in memory, the signature and freshness steps of
 * ndx_conf_verify, and the per-entry hashes a delta is checked with
 * (docs/protocol.md "Configuration deltas"). */
#ifndef NDX_CONF_INT_H
#define NDX_CONF_INT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "ndx/conf.h"


/* Validates doc and builds a configuration over it, as ndx_conf_parse does
 * over bytes; takes over the caller's reference to doc (also on failure).
 * When doc's member classes, members, subsystems, gateways and services
 * are the very jansson values of like's document (may be NULL), their
 * indexes are shared with like rather than built again; like is then
 * changed (its indexes move to a shared owner) and must be used by this
 * thread only for that moment — its readers see the same values. */
int ndx__conf_from_json(json_t *doc, struct ndx_conf *like, struct ndx_conf **out, char *err,
			size_t errcap);
/* Steps 1-3 of the verification (signature object, key of the anchor,
 * signature over data); `what` names the document in messages. */
int ndx__conf_check_sig(const uint8_t *data, size_t len, const char *sig,
			const struct ndx_anchor *anchor, const char *what, char *err,
			size_t errcap);
/* Steps 5-6: the anchor's instance, not expired, not from the future. */
int ndx__conf_check_fresh(const struct ndx_conf *c, const struct ndx_anchor *anchor,
			  time_t now, char *err, size_t errcap);
/* conf.json and conf.sig of dir, signature checked and parsed, without
 * the instance and expiry checks of ndx__conf_check_fresh. */
int ndx__conf_load_base(const char *dir, const struct ndx_anchor *anchor,
			struct ndx_conf **out, char *err, size_t errcap);
/* The configuration's tree (NULL until made); the slot is written only by
 * the one thread that applies deltas to it. */
struct ndx_conf_tree **ndx__conf_tree_slot(struct ndx_conf *conf);

#endif
