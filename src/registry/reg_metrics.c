/* GET /metrics of ndx-registry (docs/operations.md "Registry"): the version
 * of the signed global configuration it publishes and the seconds until
 * that document expires (a gateway refuses exchanges once its copy has
 * expired), how many members, subsystems, gateways, services and grants
 * the federation holds, and the HTTP figures of httpd.h. Counts only:
 * nothing here names a member. A wrapper around api_handle, so the API's
 * routing stays as it is. */
#include "reg_metrics.h"

#include <string.h>
#include <time.h>

#include "ndx/err.h"
#include "ndx/prom.h"

static const char *const COUNTED[] = { "members", "subsystems", "gateways", "services",
				       "grants" };
#define NCOUNTED (sizeof COUNTED / sizeof COUNTED[0])

static int read_counts(struct store *st, int64_t out[NCOUNTED])
{
	json_t *row;
	int rc = store_counts(st, &row);

	if (rc)
		return rc;
	for (size_t i = 0; i < NCOUNTED; i++)
		out[i] = json_integer_value(json_object_get(row, COUNTED[i]));
	json_decref(row);
	return NDX_OK;
}

static void render(void *ctx, struct ndx_prom *p)
{
	struct reg_metrics *m = ctx;
	const struct conf_signed *doc = NULL;
	time_t now = time(NULL);
	int64_t counts[NCOUNTED];
	int ok = confgen_get(m->cg, now, &doc) == NDX_OK;

	ndx_prom_family(p, "ndx_registry_conf_available", NDX_PROM_GAUGE,
			"1 when the registry can build and sign the global configuration now, "
			"0 when it cannot (store error, a document that does not validate).");
	ndx_prom_u64(p, "ndx_registry_conf_available", NULL, ok);
	if (ok) {
		ndx_prom_family(p, "ndx_registry_conf_version", NDX_PROM_GAUGE,
				"Version of the global configuration the registry publishes.");
		ndx_prom_u64(p, "ndx_registry_conf_version", NULL, doc->version);
		ndx_prom_family(p, "ndx_registry_conf_expires_in_seconds", NDX_PROM_GAUGE,
				"Seconds until the published configuration expires.");
		ndx_prom_i64(p, "ndx_registry_conf_expires_in_seconds", NULL,
			     (int64_t)(doc->expires_at - now));
		confgen_release(m->cg, doc);
	}
	if (read_counts(m->st, counts) == NDX_OK) {
		ndx_prom_family(p, "ndx_registry_objects", NDX_PROM_GAUGE,
				"What the federation holds, by kind.");
		for (size_t i = 0; i < NCOUNTED; i++)
			ndx_prom_i64(p, "ndx_registry_objects",
				     (const char *[]){ "kind", COUNTED[i], NULL }, counts[i]);
	}
}

void reg_metrics_handle(void *ctx, const struct ndx_http_req *req, struct ndx_http_resp *resp)
{
	struct reg_metrics *m = ctx;

	if (strcmp(req->path, "/metrics") != 0) {
		api_handle(m->api, req, resp);
		return;
	}
	ndx_httpd_metrics_answer(req, resp, render, m);
}
