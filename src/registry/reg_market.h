/* The data marketplace in the registry (docs/marketplace.md): the
 * catalogue providers publish their datasets and offers in, listed and
 * searched through the Dataspace Protocol's catalog HTTPS binding
 * (/dsp/catalog/...), the contract negotiations of its negotiation HTTPS
 * binding (/dsp/negotiations/..., and /dsp/consumer/negotiations/... where
 * the registry holds the consumer's side), and the agreements they end in,
 * which become grants of the global configuration; POST /dsp/agreements
 * records the agreement of a negotiation the members' own connectors held
 * from its signed chain. */
#ifndef NDX_REGISTRY_REG_MARKET_H
#define NDX_REGISTRY_REG_MARKET_H

#include <jansson.h>
#include <stdbool.h>
#include <time.h>

#include "ndx/httpd.h"
#include "reg_store.h"

/* Who calls: name NULL for an anonymous caller; member NULL with a name
 * for an admin credential. Borrowed for the call. */
struct market_caller {
	const char *name;
	const char *member;
};

/* True for the paths market_handle answers: /dsp/..., /market/... and
 * /.well-known/dspace-version. */
bool market_path(const char *path);
/* Answers one request on a market_path. */
void market_handle(struct store *st, const struct market_caller *who,
		   const struct ndx_http_req *req, struct ndx_http_resp *resp);
/* Ends the agreements in force whose end is at or before now: each leaves
 * the configuration (its version is raised once, audited as
 * agreement.expire). NDX_OK when there was nothing to do. */
int market_expire(struct store *st, time_t now);
/* The grants the agreements in force make, in the global configuration's
 * shape ({client, service, methods, paths, agreement, policy,
 * not_after}), as a new array in *out, and the subscriptions an event
 * type's agreements make ({client, service, event, purpose}) as a new
 * array in *subs (docs/marketplace.md "Event types as datasets"). Call it
 * inside the confgen's snapshot. */
int market_conf_grants(struct store *st, json_t **out, json_t **subs);

#endif
