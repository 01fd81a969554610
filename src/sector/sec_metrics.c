/* GET /metrics of ndx-sector (docs/operations.md "Sector registries"): the
 * records of each dataset (table), the events still waiting in the outbox
 * for the gateway (sec_outbox.h), and the HTTP figures of httpd.h. Counts
 * only, never a record. A wrapper around api_handle. */
#include "sec_metrics.h"

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "ndx/prom.h"
#include "sec_outbox.h"

/* Rows of a dataset are never deleted (the API has no DELETE, the event
 * rules only update), so the highest rowid is their count, read from the
 * b-tree's edge instead of a scan of up to ten million rows. -1 on error. */
static long long records(sqlite3 *db, const char *table)
{
	char sql[128];
	sqlite3_stmt *s = NULL;
	long long n = -1;

	snprintf(sql, sizeof sql, "SELECT coalesce(max(rowid), 0) FROM %s", table);
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return n;
}

static void render(void *ctx, struct ndx_prom *p)
{
	const struct sec_metrics *m = ctx;
	struct store_conn *c = store_acquire(m->st);
	sqlite3 *db;

	if (!c)
		return;
	db = store_conn_db(c);
	ndx_prom_family(p, "ndx_sector_records", NDX_PROM_GAUGE,
			"Records held, by sector and dataset.");
	for (size_t i = 0; i < m->def->ntables; i++) {
		long long n = records(db, m->def->tables[i].name);
		if (n >= 0)
			ndx_prom_i64(p, "ndx_sector_records",
				     (const char *[]){ "sector", m->def->name, "dataset",
						       m->def->tables[i].name, NULL },
				     n);
	}
	if (m->outbox) {
		long long n = outbox_pending(db);
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
