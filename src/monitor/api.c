/* api.h. Figures only: counts, durations, ids of members, subsystems,
 * services and gateways, error types. The records carry nothing personal
 * (no subject, no user id, no query), and nothing here adds any; the
 * misuse routes, which do show the personal reads of a case to the
 * operator, are cases_api.c's. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "cases.h"
#include "cases_api.h"
#include "indicators_api.h"
#include "ndx/args.h"
#include "ndx/bearer.h"
#include "ndx/err.h"
#include "ndx/id.h"
#include "ndx/prom.h"

#define WINDOW_DEFAULT_S 300
#define WINDOW_MAX_S (31 * 86400)
#define SERIES_WINDOW_DEFAULT_S 3600
#define SERIES_STEP_DEFAULT_S 60

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool is_get(const char *m)
{
	return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
}

static void healthz(const struct mapi_config *cfg, struct ndx_http_resp *resp)
{
	struct collector_stats s;
	bool ok;

	collector_stats(cfg->collector, &s);
	ok = s.conf_version > 0 && s.gateways_down == 0;
	ndx_http_resp_json(resp, 200,
			   json_pack("{s:s s:I s:I s:I s:I s:I s:I s:I s:s?}", "status",
				     ok ? "ok" : "degraded", "conf_version",
				     (json_int_t)s.conf_version, "rounds", (json_int_t)s.rounds,
				     "gateways", (json_int_t)s.gateways, "gateways_down",
				     (json_int_t)s.gateways_down, "records",
				     (json_int_t)s.records, "registries", (json_int_t)s.registries,
				     "registries_down", (json_int_t)s.registries_down, "conf_error",
				     s.conf_error[0] ? s.conf_error : NULL));
}

/* The query arguments window (seconds, default dflt) and member (a member
 * id, canonical into member, "" when absent); false after answering 400. */
static bool window_member(const struct ndx_http_req *req, struct ndx_http_resp *resp,
			  unsigned long long dflt, unsigned long long *window,
			  char member[NDX_ID_TEXT_MAX])
{
	const char *w = ndx_http_query_arg(req, "window"), *m = ndx_http_query_arg(req, "member");
	struct ndx_id id;
	const char *why = NULL;

	*window = dflt;
	member[0] = '\0';
	if (w && ndx_args_uint(w, 1, WINDOW_MAX_S, window) != NDX_OK) {
		ndx_http_resp_error(resp, 400, "Client.InvalidRequest", "invalid window",
				    "window: whole seconds from 1 to 2678400 (31 days)");
		return false;
	}
	if (m && (ndx_id_parse(m, strlen(m), NDX_ID_MEMBER, &id, &why) != NDX_OK ||
		  ndx_id_format(&id, member, NDX_ID_TEXT_MAX) < 0)) {
		ndx_http_resp_error(resp, 400, "Client.InvalidRequest", "invalid member",
				    why ? why : "member: not a member id");
		return false;
	}
	return true;
}

static void store_failed(struct ndx_http_resp *resp)
{
	ndx_http_resp_error(resp, 500, "Server.InternalError", "internal error",
			    "the store could not be read");
}

/* GET /api/live[?window=S][&member=ID] */
static void live(const struct mapi_config *cfg, const struct ndx_http_req *req,
		 struct ndx_http_resp *resp)
{
	unsigned long long window;
	char member[NDX_ID_TEXT_MAX];
	json_t *out = NULL;

	if (!window_member(req, resp, WINDOW_DEFAULT_S, &window, member))
		return;
	if (mstore_live(cfg->st, member[0] ? member : NULL, now_ms(), (int64_t)window * 1000,
			&out) != NDX_OK) {
		store_failed(resp);
		return;
	}
	ndx_http_resp_json(resp, 200, out);
}

/* GET /api/series[?window=S][&step=S][&member=ID]: the window in buckets of
 * step seconds (window a multiple of step, at most MSTORE_SERIES_MAX). */
static void series(const struct mapi_config *cfg, const struct ndx_http_req *req,
		   struct ndx_http_resp *resp)
{
	const char *st = ndx_http_query_arg(req, "step");
	unsigned long long window, step = SERIES_STEP_DEFAULT_S;
	char member[NDX_ID_TEXT_MAX];
	json_t *out = NULL;

	if (!window_member(req, resp, SERIES_WINDOW_DEFAULT_S, &window, member))
		return;
	if (st && ndx_args_uint(st, 1, 86400, &step) != NDX_OK) {
		ndx_http_resp_error(resp, 400, "Client.InvalidRequest", "invalid step",
				    "step: whole seconds from 1 to 86400");
		return;
	}
	if (window % step != 0 || window / step > MSTORE_SERIES_MAX) {
		ndx_http_resp_error(resp, 400, "Client.InvalidRequest", "invalid step",
				    "step: window must be a whole number of steps, at most 1440");
		return;
	}
	if (mstore_series(cfg->st, member[0] ? member : NULL, now_ms(), (int64_t)window * 1000,
			  (int64_t)step * 1000, &out) != NDX_OK) {
		store_failed(resp);
		return;
	}
	ndx_http_resp_json(resp, 200, out);
}

static void case_count(void *ctx, const char *kind, const char *state, uint64_t n)
{
	ndx_prom_u64(ctx, "ndx_monitor_cases_open", (const char *[]){ "kind", kind, "state", state,
								      NULL }, n);
}

/* GET /metrics (docs/operations.md "Monitoring service"): how collection
 * goes, for the operator's own alerting; counts only. */
static void render_metrics(void *ctx, struct ndx_prom *p)
{
	const struct mapi_config *cfg = ctx;
	struct collector_stats s;

	collector_stats(cfg->collector, &s);
	ndx_prom_family(p, "ndx_monitor_rounds_total", NDX_PROM_COUNTER,
			"Collection rounds made.");
	ndx_prom_u64(p, "ndx_monitor_rounds_total", NULL, (uint64_t)s.rounds);
	ndx_prom_family(p, "ndx_monitor_records_total", NDX_PROM_COUNTER,
			"Operational records collected and kept.");
	ndx_prom_u64(p, "ndx_monitor_records_total", NULL, (uint64_t)s.records);
	ndx_prom_family(p, "ndx_monitor_bad_records_total", NDX_PROM_COUNTER,
			"Records refused for lacking what the figures need.");
	ndx_prom_u64(p, "ndx_monitor_bad_records_total", NULL, (uint64_t)s.bad_records);
	ndx_prom_family(p, "ndx_monitor_gateways", NDX_PROM_GAUGE,
			"Gateways in the configuration at the last round, and those that "
			"could not be collected.");
	ndx_prom_u64(p, "ndx_monitor_gateways", (const char *[]){ "state", "all", NULL },
		     s.gateways);
	ndx_prom_u64(p, "ndx_monitor_gateways", (const char *[]){ "state", "down", NULL },
		     s.gateways_down);
	ndx_prom_family(p, "ndx_monitor_registries", NDX_PROM_GAUGE,
			"Registries' measures services in the configuration at the last round,"
			" and those that could not be read.");
	ndx_prom_u64(p, "ndx_monitor_registries", (const char *[]){ "state", "all", NULL },
		     s.registries);
	ndx_prom_u64(p, "ndx_monitor_registries", (const char *[]){ "state", "down", NULL },
		     s.registries_down);
	ndx_prom_family(p, "ndx_monitor_measures_total", NDX_PROM_COUNTER,
			"Registries' measures kept (a row per run and table), by outcome (kept;"
			" a run refused as malformed).");
	ndx_prom_u64(p, "ndx_monitor_measures_total", (const char *[]){ "outcome", "kept", NULL },
		     (uint64_t)s.measures);
	ndx_prom_u64(p, "ndx_monitor_measures_total",
		     (const char *[]){ "outcome", "refused", NULL }, (uint64_t)s.bad_measures);
	ndx_prom_family(p, "ndx_monitor_conf_version", NDX_PROM_GAUGE,
			"Version of the global configuration held (0: none).");
	ndx_prom_u64(p, "ndx_monitor_conf_version", NULL, s.conf_version);
	ndx_prom_family(p, "ndx_monitor_last_round_seconds", NDX_PROM_GAUGE,
			"When the last round ended (Unix time; 0: none yet).");
	ndx_prom_u64(p, "ndx_monitor_last_round_seconds", NULL,
		     (uint64_t)(s.last_round_ms / 1000));
	ndx_prom_family(p, "ndx_monitor_reads_total", NDX_PROM_COUNTER,
			"Personal-data reads collected from the gateways' message logs, by"
			" outcome (kept; refused as malformed).");
	ndx_prom_u64(p, "ndx_monitor_reads_total", (const char *[]){ "outcome", "kept", NULL },
		     (uint64_t)s.reads);
	ndx_prom_u64(p, "ndx_monitor_reads_total", (const char *[]){ "outcome", "refused", NULL },
		     (uint64_t)s.bad_reads);
	ndx_prom_family(p, "ndx_monitor_reads_failures_total", NDX_PROM_COUNTER,
			"Collections of a gateway's personal reads that failed.");
	ndx_prom_u64(p, "ndx_monitor_reads_failures_total", NULL, (uint64_t)s.reads_failed);
	ndx_prom_family(p, "ndx_monitor_findings_total", NDX_PROM_COUNTER,
			"Findings the misuse detector wrote.");
	ndx_prom_u64(p, "ndx_monitor_findings_total", NULL, (uint64_t)s.findings);
	ndx_prom_family(p, "ndx_monitor_analysis_failures_total", NDX_PROM_COUNTER,
			"Misuse analyses that failed (the reads wait for the next round).");
	ndx_prom_u64(p, "ndx_monitor_analysis_failures_total", NULL, (uint64_t)s.analyses_failed);
	ndx_prom_family(p, "ndx_monitor_proofs_total", NDX_PROM_COUNTER,
			"Inclusion proofs of cases' reads, by outcome (kept after checking;"
			" refused for good).");
	ndx_prom_u64(p, "ndx_monitor_proofs_total", (const char *[]){ "outcome", "kept", NULL },
		     (uint64_t)s.proofs);
	ndx_prom_u64(p, "ndx_monitor_proofs_total", (const char *[]){ "outcome", "failed", NULL },
		     (uint64_t)s.proofs_failed);
	ndx_prom_family(p, "ndx_monitor_cases_open", NDX_PROM_GAUGE,
			"Cases not yet confirmed or dismissed, by kind and state (open,"
			" escalated).");
	cases_open_counts(cfg->st, case_count, p);
}

void mapi_handle(void *ctx, const struct ndx_http_req *req, struct ndx_http_resp *resp)
{
	const struct mapi_config *cfg = ctx;

	if (strcmp(req->path, "/metrics") == 0) {
		ndx_httpd_metrics_answer(req, resp, render_metrics, (void *)cfg);
		return;
	}

	if (ind_api_handle(cfg->data_dir, cfg->store_loc, cfg->token_sha256, req, resp))
		return;
	/* the misuse routes take POST too (procedures, triage, reports) */
	if (cases_api_handle(cfg->st, cfg->token_sha256, collector_names, cfg->collector, req,
			     resp))
		return;
	if (!is_get(req->method)) {
		ndx_http_resp_header(resp, "Allow", "GET, HEAD");
		ndx_http_resp_error(resp, 405, "Client.MethodNotAllowed", "method not allowed",
				    "this API answers GET only");
		return;
	}
	if (strcmp(req->path, "/healthz") == 0) {
		healthz(cfg, resp);
		return;
	}
	if (strncmp(req->path, "/api/", 5) == 0 &&
	    !ndx_bearer_check(req, resp, cfg->token_sha256, "ndx-monitor"))
		return;
	if (strcmp(req->path, "/api/live") == 0) {
		live(cfg, req, resp);
		return;
	}
	if (strcmp(req->path, "/api/series") == 0) {
		series(cfg, req, resp);
		return;
	}
	ndx_http_resp_error(resp, 404, "Client.NotFound", "not found", "no such path");
}
