/* The registry as the witness of gateways' message logs (docs/protocol.md
 * "Witnessed tree heads", docs/registry-api.md "POST /witness"): it checks
 * that each tree head a gateway sends extends the history it witnessed
 * before, remembers it and countersigns it with the registry's key. */
#ifndef NDX_REGISTRY_WITNESS_H
#define NDX_REGISTRY_WITNESS_H

#include <stdint.h>

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

/* A gateway's current signing key, by its name "{member}/{code}", from
 * the registry's store: *key (free with ndx_key_free) and its key id into
 * kid (NDX_KEY_ID_HEX_LEN + 1 bytes). NDX_ENOTFOUND for an unknown
 * gateway. Call under store_lock. Also used to check usage statements
 * (reg_invoice.c). */
int witness_gateway_key(struct store *st, const char *name, struct ndx_key **key, char *kid);
/* A signing key kid a rotation took from gateway name: *key and
 * *retired_ms (when it was replaced). NDX_ENOTFOUND when the gateway never
 * had it, NDX_EPERM when it is revoked. Call under store_lock. */
int witness_retired_key(struct store *st, const char *name, const char *kid,
			struct ndx_key **key, int64_t *retired_ms);

#endif
