/* GET /metrics of ndx-consent (docs/operations.md "Consent service"): how
 * many consents it holds by state, the revocation version and status lists
 * gateways fetch, and the HTTP figures of httpd.h. Counts only: never a
 * subject, a consumer or a purpose. A wrapper around capi_handle. */
#include "cons_metrics.h"

#include <string.h>
#include <time.h>

#include "api.h"
#include "ndx/err.h"
#include "ndx/prom.h"
#include "cons_store.h"

static void render(void *ctx, struct ndx_prom *p)
{
	const struct capi_config *cfg = ctx;
	struct cstore_counts c;
	uint64_t version;
	uint32_t nlists;

	if (cstore_counts(cfg->st, time(NULL), &c) == NDX_OK) {
		ndx_prom_family(p, "ndx_consent_consents", NDX_PROM_GAUGE,
				"Consents the service has issued, by state now.");
		ndx_prom_u64(p, "ndx_consent_consents", (const char *[]){ "state", "active", NULL },
			     c.active);
		ndx_prom_u64(p, "ndx_consent_consents", (const char *[]){ "state", "pending", NULL },
			     c.pending);
		ndx_prom_u64(p, "ndx_consent_consents", (const char *[]){ "state", "expired", NULL },
			     c.expired);
		ndx_prom_u64(p, "ndx_consent_consents", (const char *[]){ "state", "revoked", NULL },
			     c.revoked);
	}
	if (cstore_status(cfg->st, &version, &nlists) == NDX_OK) {
		ndx_prom_family(p, "ndx_consent_revocation_version", NDX_PROM_GAUGE,
				"Version of the revocations, which rises with each one.");
		ndx_prom_u64(p, "ndx_consent_revocation_version", NULL, version);
		ndx_prom_family(p, "ndx_consent_status_lists", NDX_PROM_GAUGE,
				"Status lists in use (gateways fetch each).");
		ndx_prom_u64(p, "ndx_consent_status_lists", NULL, nlists);
	}
}

void cons_metrics_handle(void *ctx, const struct ndx_http_req *req, struct ndx_http_resp *resp)
{
	if (strcmp(req->path, "/metrics") != 0) {
		capi_handle(ctx, req, resp);
		return;
	}
	ndx_httpd_metrics_answer(req, resp, render, ctx);
}
