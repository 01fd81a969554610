/* The registry as the witness of gateways' message logs (docs/protocol.md
 * "Witnessed tree heads", docs/registry-api.md "POST /witness"): it checks
 * that each tree head a gateway sends extends the history it witnessed
 * before, remembers it and countersigns it with the registry's key. */
#ifndef NDX_REGISTRY_WITNESS_H
#define NDX_REGISTRY_WITNESS_H

#include "ndx/httpd.h"
#include "ndx/key.h"
#include "reg_store.h"

/* Most tree heads one request may carry, and its largest body. */
#define WITNESS_HEADS_MAX 256
#define WITNESS_BODY_MAX (256u * 1024u)

/* POST /witness. key is the registry's signing key (an anchor key), with
 * its private half; st and key are borrowed. Answers 200 with the
 * countersignature, 400 (malformed, a head that does not verify or does
 * not chain), 404 (unknown gateway), 409 (a fork or a rolled-back log:
 * audited; or heads that do not reach the last witnessed one:
 * "witnessed_batch" says where to start), 413, 500. */
void witness_handle(struct store *st, const struct ndx_key *key, const struct ndx_http_req *req,
		    struct ndx_http_resp *resp);

#endif
