/* GET /healthz on the consumer port (docs/gateway.md "Operations"): whether
 * the gateway can answer exchanges now, and if not, why, in the reasons of
 * errors.h. */
#include <stdio.h>
#include <string.h>

#include "exchlog.h"
#include "gateway.h"
#include "confstate.h"
#include "gw_witness.h"
#include "gw_maintenance.h"
#include "ndx/err.h"
#include "ndx/timefmt.h"
#include "personal.h"
#include "replay.h"

static int problem(json_t *list, const char *code, const char *message)
{
	return json_array_append_new(list, json_pack("{ssss}", "code", code, "message", message));
}

/* Consent-requiring services are refused while an issuer's revocation list
 * is not current: the gateway still serves everything else. */
static void consent_problems(struct gw_ctx *g, const struct ndx_conf *conf, time_t now,
			     json_t *list)
{
	const struct ndx_conf_consent_service *cs;
	char msg[NDX_ID_TEXT_MAX + 96];
	size_t i;

	for (i = 0; (cs = ndx_conf_consent_service_at(conf, i)); i++) {
		if (gw_revocations_current(g->revs, cs->id, now) == NDX_OK)
			continue;
		snprintf(msg, sizeof msg,
			 "no current status lists of %s: its consents are refused", cs->id);
		problem(list, gw_reason_info(GW_R_CONSENT_STATUS_UNKNOWN)->reason, msg);
	}
}

/* GET /healthz: ready or not, and why (docs/gateway.md "Operations"). 503
 * when no exchange can be answered (no valid configuration, the message
 * log cannot be written, the replay cache is full); 200 "degraded" when
 * some are refused (a consent issuer's revocation list is not current, the
 * replay cache is nearly full); 200 "ok" otherwise. */
void gw_healthz(struct gw_ctx *g, const struct gw_view *v, struct ndx_http_resp *resp)
{
	time_t now = time(NULL);
	char exp[NDX_TIME_TEXT_LEN];
	json_t *down, *degraded;
	size_t held;
	const char *status;
	char why[512];

	if (!gw_view_live(v, now)) {
		ndx_http_resp_json(resp, 503,
				   json_pack("{sss[{ssss}]}", "status", "not_ready", "problems", "code",
					     gw_reason_info(GW_R_NO_CONFIGURATION)->reason,
					     "message",
					     "the gateway holds no valid global configuration"));
		return;
	}
	down = json_array();
	degraded = json_array();
	/* The configuration has just become valid and the main thread opens the
	 * gateway port on its next tick: other members cannot call yet. */
	if (!atomic_load(&g->gateway_port_open))
		problem(down, gw_reason_info(GW_R_NO_CONFIGURATION)->reason,
			"the gateway port is not open yet: other members' gateways cannot "
			"call this one");
	if (gw_maintenance_on(g->maint))
		problem(down, gw_reason_info(GW_R_MAINTENANCE)->reason,
			"the gateway is in maintenance: it takes no new exchange");
	if (gw_log_failing(now))
		problem(down, gw_reason_info(GW_R_LOG_UNAVAILABLE)->reason,
			"the message log cannot be written: every exchange is refused");
	if (gw_witness_overdue(g->witness, why, sizeof why))
		problem(down, gw_reason_info(GW_R_WITNESS_UNAVAILABLE)->reason, why);
	held = gw_replay_count(g->replay);
	if (held >= GW_REPLAY_DEFAULT_CAPACITY)
		problem(down, gw_reason_info(GW_R_BUSY)->reason,
			"the replay cache is full: exchanges are refused");
	else if (held >= GW_REPLAY_DEFAULT_CAPACITY / 10 * 9)
		problem(degraded, gw_reason_info(GW_R_BUSY)->reason,
			"the replay cache is over 90% full");
	consent_problems(g, v->c->conf, now, degraded);
	status = json_array_size(down) ? "not_ready" : json_array_size(degraded) ? "degraded"
										  : "ok";
	json_array_extend(down, degraded);
	json_decref(degraded);
	ndx_time_format(ndx_conf_expires_at(v->c->conf), exp);
	ndx_http_resp_json(resp, strcmp(status, "not_ready") == 0 ? 503 : 200,
			   json_pack("{sssIsssoss}", "status", status, "conf_version",
				     (json_int_t)ndx_conf_version(v->c->conf), "conf_expires_at",
				     exp, "problems", down, "replay_cache",
				     held >= GW_REPLAY_DEFAULT_CAPACITY / 10 * 9 ? "high" : "ok"));
}

