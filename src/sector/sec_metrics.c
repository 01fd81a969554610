/* GET /metrics of ndx-sector (docs/operations.md "Sector registries"): the
 * records of each dataset (table), the events still waiting in the outbox
 * for the gateway (sec_outbox.h), and the HTTP figures of httpd.h. Counts
 * only, never a record. A wrapper around api_handle. */
#include "sec_metrics.h"

#include <stdio.h>
#include <string.h>

#include "ndx/prom.h"
#include "sec_outbox.h"

static void render(void *ctx, struct ndx_prom *p)
{
	const struct sec_metrics *m = ctx;
	struct store_conn *c = store_acquire(m->st);

	if (!c)
		return;
	ndx_prom_family(p, "ndx_sector_records", NDX_PROM_GAUGE,
			"Records held, by sector and dataset.");
	for (size_t i = 0; i < m->def->ntables; i++) {
		long long n = store_count(c, m->def->tables[i].name);
		if (n >= 0)
			ndx_prom_i64(p, "ndx_sector_records",
				     (const char *[]){ "sector", m->def->name, "dataset",
						       m->def->tables[i].name, NULL },
				     n);
	}
	if (m->outbox) {
		long long n = outbox_pending_conn(c);
		if (n >= 0) {
			ndx_prom_family(p, "ndx_sector_event_outbox_pending", NDX_PROM_GAUGE,
					"Events written and not yet accepted by the gateway.");
			ndx_prom_i64(p, "ndx_sector_event_outbox_pending", NULL, n);
		}
	}
	store_release(m->st, c);
}

void sec_metrics_handle(void *ctx, const struct ndx_http_req *req, struct ndx_http_resp *resp)
{
	struct sec_metrics *m = ctx;

	if (strcmp(req->path, "/metrics") != 0) {
		api_handle(m->api, req, resp);
		return;
	}
	ndx_httpd_metrics_answer(req, resp, render, m);
}
