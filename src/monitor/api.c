/* api.h. Figures only: counts, durations, ids of members, subsystems,
 * services and gateways, error types. The records carry nothing personal
 * (no subject, no user id, no query), and nothing here adds any. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "indicators_api.h"
#include "ndx/args.h"
#include "ndx/bearer.h"
#include "ndx/err.h"
#include "ndx/id.h"

#define WINDOW_DEFAULT_S 300
#define WINDOW_MAX_S (31 * 86400)

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
			   json_pack("{s:s s:I s:I s:I s:I s:I s:s?}", "status",
				     ok ? "ok" : "degraded", "conf_version",
				     (json_int_t)s.conf_version, "rounds", (json_int_t)s.rounds,
				     "gateways", (json_int_t)s.gateways, "gateways_down",
				     (json_int_t)s.gateways_down, "records",
				     (json_int_t)s.records, "conf_error",
				     s.conf_error[0] ? s.conf_error : NULL));
}

/* GET /api/live[?window=S][&member=ID] */
static void live(const struct mapi_config *cfg, const struct ndx_http_req *req,
		 struct ndx_http_resp *resp)
{
	const char *w = ndx_http_query_arg(req, "window"), *m = ndx_http_query_arg(req, "member");
	unsigned long long window = WINDOW_DEFAULT_S;
	char member[NDX_ID_TEXT_MAX];
	struct ndx_id id;
	const char *why = NULL;
	json_t *out = NULL;

	if (w && ndx_args_uint(w, 1, WINDOW_MAX_S, &window) != NDX_OK) {
		ndx_http_resp_error(resp, 400, "Client.InvalidRequest", "invalid window",
				    "window: whole seconds from 1 to 2678400 (31 days)");
		return;
	}
	if (m && (ndx_id_parse(m, strlen(m), NDX_ID_MEMBER, &id, &why) != NDX_OK ||
		  ndx_id_format(&id, member, sizeof member) < 0)) {
		ndx_http_resp_error(resp, 400, "Client.InvalidRequest", "invalid member",
				    why ? why : "member: not a member id");
		return;
	}
	if (mstore_live(cfg->st, m ? member : NULL, now_ms(), (int64_t)window * 1000, &out) !=
	    NDX_OK) {
		ndx_http_resp_error(resp, 500, "Server.InternalError", "internal error",
				    "the store could not be read");
		return;
	}
	ndx_http_resp_json(resp, 200, out);
}

void mapi_handle(void *ctx, const struct ndx_http_req *req, struct ndx_http_resp *resp)
{
	const struct mapi_config *cfg = ctx;

	if (ind_api_handle(cfg->data_dir, cfg->token_sha256, req, resp))
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
	ndx_http_resp_error(resp, 404, "Client.NotFound", "not found", "no such path");
}
