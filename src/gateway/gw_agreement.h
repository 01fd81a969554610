/* Marketplace agreements at the provider gateway (docs/marketplace.md
 * "At the gateway"): the grant a finalised agreement made carries its
 * usage policy in the global configuration, and every exchange under it
 * is checked against the policy's end, purposes and maximum calls per
 * period. The calls are counted per agreement and period: in the
 * message log's database when the log is one several gateway processes
 * share (PostgreSQL: the nodes of a cluster), else in this process's
 * memory. */
#ifndef NDX_GATEWAY_GW_AGREEMENT_H
#define NDX_GATEWAY_GW_AGREEMENT_H

#include <stddef.h>
#include <time.h>

#include "errors.h"
#include "ndx/conf.h"

struct ndx_msglog;

/* Admits one call of client to service (method, path after the service
 * id, the request's Ndx-Purpose or NULL) at now: GW_R_COUNT when no
 * agreement governs the grant that allows it, or when the policy lets it
 * through (the call is then counted); else the refusal's reason, with a
 * sentence for the caller in msg (cap bytes). log: the gateway's message
 * log (NULL: count in memory); one it shares with other processes counts
 * the call there, and a failure of it refuses the call
 * (GW_R_LOG_UNAVAILABLE). Thread-safe. */
enum gw_reason gw_agreement_admit(struct ndx_msglog *log, const struct ndx_conf *conf,
				  const char *client, const char *service, const char *method,
				  const char *path, const char *purpose, time_t now, char *msg,
				  size_t cap);

/* The data-age limit (ndx:dataAge) of the agreement behind the grant that
 * allowed client's call (as for gw_agreement_admit) on the provider
 * system's answer: its status and Last-Modified (NULL when it has none).
 * GW_R_COUNT when no agreement governs the grant, it has no limit, the
 * answer is no 2xx or is young enough; else GW_R_AGREEMENT_DATA_AGE with
 * a sentence for the caller in msg (cap bytes): the answer is then not
 * delivered, and the call gw_agreement_admit counted is given back.
 * Thread-safe. */
enum gw_reason gw_agreement_check_answer(struct ndx_msglog *log, const struct ndx_conf *conf,
					 const char *client, const char *service,
					 const char *method, const char *path, long status,
					 const char *last_modified, time_t now, char *msg,
					 size_t cap);

/* Forgets every count (for tests). */
void gw_agreement_reset(void);

#endif
