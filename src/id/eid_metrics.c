/* GET /metrics of ndx-id (docs/operations.md "e-ID"): sign-ins by outcome
 * (the indicator "electronic identification used for online services"
 * starts here) and token answers, as process counters with relaxed atomics,
 * and the HTTP figures of httpd.h. Never a PIN or a client's secret: the
 * outcomes are the only label. */
#include "eid_metrics.h"

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "ndx/prom.h"
#include "oidc.h"

static const char *const OUTCOMES[EID_SIGNIN_COUNT] = { "succeeded", "failed", "throttled",
							"disabled" };
static atomic_uint_fast64_t signins[EID_SIGNIN_COUNT];
static atomic_uint_fast64_t tokens;

void eid_metrics_signin(enum eid_signin outcome)
{
	if ((unsigned)outcome < EID_SIGNIN_COUNT)
		atomic_fetch_add_explicit(&signins[outcome], 1, memory_order_relaxed);
}

void eid_metrics_token_issued(void)
{
	atomic_fetch_add_explicit(&tokens, 1, memory_order_relaxed);
}

static void render(void *ctx, struct ndx_prom *p)
{
	(void)ctx;
	ndx_prom_family(p, "ndx_id_signins_total", NDX_PROM_COUNTER,
			"Sign-ins with a PIN and a password since start, by outcome.");
	for (int i = 0; i < EID_SIGNIN_COUNT; i++)
		ndx_prom_u64(p, "ndx_id_signins_total",
			     (const char *[]){ "outcome", OUTCOMES[i], NULL },
			     atomic_load_explicit(&signins[i], memory_order_relaxed));
	ndx_prom_family(p, "ndx_id_tokens_issued_total", NDX_PROM_COUNTER,
			"Token answers (access and ID token) to relying parties since start.");
	ndx_prom_u64(p, "ndx_id_tokens_issued_total", NULL,
		     atomic_load_explicit(&tokens, memory_order_relaxed));
}

void eid_metrics_handle(void *ctx, const struct ndx_http_req *req, struct ndx_http_resp *resp)
{
	const struct oidc_config *cfg = ctx;
	const char *path = req->path;
	size_t plen = strlen(cfg->prefix);

	if (plen && strncmp(path, cfg->prefix, plen) == 0 && path[plen] == '/')
		path += plen;
	if (strcmp(path, "/metrics") != 0) {
		oidc_handle(ctx, req, resp);
		return;
	}
	ndx_httpd_metrics_answer(req, resp, render, NULL);
}
