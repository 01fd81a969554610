/* GET /metrics of ndx-portal (docs/operations.md "Portal"): the procedures
 * held by kind and state (submitted, approved, rejected ... as
 * docs/portal.md names them), sign-ins by kind and outcome since start, and
 * the HTTP figures of httpd.h; with a monitoring service, the procedures
 * push's figures (procpush.h). Counts only: never an applicant, a subject
 * or an officer's name. A wrapper around portal_handle. */
#include "portal_metrics.h"

#include <stdatomic.h>
#include <string.h>

#include "api.h"
#include "ndx/prom.h"
#include "portal.h"
#include "store.h"

static const char *const KINDS[] = { "citizen", "officer" };
static const char *const OUTCOMES[] = { "succeeded", "failed", "throttled" };
#define NKINDS (sizeof KINDS / sizeof KINDS[0])
#define NOUTCOMES (sizeof OUTCOMES / sizeof OUTCOMES[0])
static atomic_uint_fast64_t signins[NKINDS][NOUTCOMES];

static int index_of(const char *const *list, size_t n, const char *s)
{
	for (size_t i = 0; s && i < n; i++)
		if (strcmp(list[i], s) == 0)
			return (int)i;
	return -1;
}

void portal_metrics_signin(const char *kind, const char *outcome)
{
	int k = index_of(KINDS, NKINDS, kind), o = index_of(OUTCOMES, NOUTCOMES, outcome);

	if (k >= 0 && o >= 0)
		atomic_fetch_add_explicit(&signins[k][o], 1, memory_order_relaxed);
}

static void one_count(void *ud, const char *kind, const char *state, int64_t n)
{
	ndx_prom_i64(ud, "ndx_portal_procedures",
		     (const char *[]){ "kind", kind, "state", state, NULL }, n);
}

static void render(void *ctx, struct ndx_prom *p)
{
	const struct portal *portal = ctx;
	ndx_prom_family(p, "ndx_portal_procedures", NDX_PROM_GAUGE,
			"Procedures (applications) held, by kind and current state.");
	pstore_proc_counts(portal->st, one_count, p);
	ndx_prom_family(p, "ndx_portal_signins_total", NDX_PROM_COUNTER,
			"Sign-ins at the portal since start, by kind of user and outcome.");
	for (size_t k = 0; k < NKINDS; k++)
		for (size_t o = 0; o < NOUTCOMES; o++)
			ndx_prom_u64(p, "ndx_portal_signins_total",
				     (const char *[]){ "kind", KINDS[k], "outcome", OUTCOMES[o],
						       NULL },
				     atomic_load_explicit(&signins[k][o], memory_order_relaxed));
	if (portal->push) {
		struct procpush_figures f;

		procpush_figures(portal->push, &f);
		ndx_prom_family(p, "ndx_portal_procedures_pushed_total", NDX_PROM_COUNTER,
				"Procedures the monitoring service acknowledged since start "
				"(a re-sent one counts again).");
		ndx_prom_u64(p, "ndx_portal_procedures_pushed_total", NULL, f.pushed);
		ndx_prom_family(p, "ndx_portal_procedures_push_failures_total", NDX_PROM_COUNTER,
				"Attempts to push procedures to the monitoring service that failed, "
				"since start.");
		ndx_prom_u64(p, "ndx_portal_procedures_push_failures_total", NULL, f.failures);
		ndx_prom_family(p, "ndx_portal_procedures_push_backlog", NDX_PROM_GAUGE,
				"Procedures new or changed and not yet acknowledged by the monitoring "
				"service, as of the last attempt.");
		ndx_prom_i64(p, "ndx_portal_procedures_push_backlog", NULL, f.backlog);
		ndx_prom_family(p, "ndx_portal_procedures_push_up", NDX_PROM_GAUGE,
				"1 when the last push attempt succeeded (on a node standing by: "
				"when it could read the lease).");
		ndx_prom_i64(p, "ndx_portal_procedures_push_up", NULL, f.up);
		ndx_prom_family(p, "ndx_portal_procedures_push_active", NDX_PROM_GAUGE,
				"1 when this node held the push's lease at the last attempt (one node "
				"of those sharing the store pushes at a time).");
		ndx_prom_i64(p, "ndx_portal_procedures_push_active", NULL, f.active);
	}
}

void portal_metrics_handle(void *ctx, const struct ndx_http_req *req,
			   struct ndx_http_resp *resp)
{
	if (strcmp(req->path, "/metrics") != 0) {
		portal_handle(ctx, req, resp);
		return;
	}
	ndx_httpd_metrics_answer(req, resp, render, ctx);
}
