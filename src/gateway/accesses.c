/* "Who read my data" (DESIGN.md section 6, docs/gateway.md "Subject
 * accesses"): the built-in provider behind a service whose backend is
 * "ndx:subject-accesses". It answers, for the subject the request names in
 * Ndx-Subject, the exchanges this gateway served about them: when, which
 * client, which service, which purpose, with what status. Never the data
 * itself, which the log does not hold. It runs after every check the
 * provider gateway makes (certificate, signature, grant, purpose), so only
 * a subsystem granted the service (the portal) reaches it, and it can only
 * ever answer about the subject its own request names and logs. */
#include <stdlib.h>
#include <string.h>

#include "gateway.h"
#include "ndx/err.h"
#include "ndx/timefmt.h"

#define DEFAULT_LIMIT 200
#define MAX_LIMIT 1000
#define STR_(x) #x
#define STR(x) STR_(x)

/* The newest `limit` entries in a ring: the log hands them out oldest
 * first, the citizen wants the newest first. */
struct collect {
	const struct gw_settings *s;
	json_t **ring;
	size_t limit, next, total;
	int oom;
};

static int collect_one(const struct ndx_msglog_entry *e, void *ctx)
{
	struct collect *c = ctx;
	const struct gw_service *svc;
	char t[NDX_TIME_TEXT_LEN];
	json_t *o;

	/* Only what this gateway served to others: its consumer-side records
	 * are reads its own member made, reported by the providers' gateways.
	 * Looking at the access list is not itself an access to the data. */
	if (e->direction != NDX_MSGLOG_PROVIDER)
		return 0;
	svc = gw_settings_service(c->s, e->service);
	if (svc && svc->builtin)
		return 0;
	ndx_time_format((time_t)(e->time_ms / 1000), t);
	o = json_pack("{sssssssssiss}", "time", t, "client", e->client, "service", e->service,
		      "purpose", e->purpose ? e->purpose : "", "status", e->status, "message_id",
		      e->message_id);
	if (!o) {
		c->oom = 1;
		return 1;
	}
	json_decref(c->ring[c->next]);
	c->ring[c->next] = o;
	c->next = (c->next + 1) % c->limit;
	c->total++;
	return 0;
}

const char *gw_subject_accesses(struct gw_ctx *g, const struct gw_view *v, const char *subject,
				const struct ndx_http_req *req, const char *rest,
				struct ndx_http_resp *resp)
{
	const char *type = NULL;
	struct collect c = { .s = v->s, .limit = DEFAULT_LIMIT };
	const char *lim = ndx_http_query_arg(req, "limit");
	json_t *list = NULL;
	int rc;

	if (strcmp(req->method, "GET") != 0) {
		gw_error_body(resp, 405, "Client.MethodNotAllowed",
			      "the access list is read with GET", req->method);
		return "Client.MethodNotAllowed";
	}
	if (rest[0] && strcmp(rest, "/") != 0) {
		gw_error_body(resp, 404, "Client.NotFound", "the access list has no sub-paths",
			      rest);
		return "Client.NotFound";
	}
	if (lim) {
		char *end;
		unsigned long n = strtoul(lim, &end, 10);
		if (!lim[0] || *end || lim[0] == '-' || n < 1 || n > MAX_LIMIT) {
			gw_error_body(resp, 400, "Client.InvalidRequest",
				      "limit must be an integer from 1 to " STR(MAX_LIMIT), "limit");
			return "Client.InvalidRequest";
		}
		c.limit = n;
	}
	if (!(c.ring = calloc(c.limit, sizeof *c.ring)))
		goto oom;
	rc = ndx_msglog_by_subject(g->log, subject, collect_one, &c);
	if (c.oom)
		goto oom;
	if (rc != NDX_OK) {
		gw_error_body(resp, 503, GW_LOG_UNAVAILABLE, "the message log cannot be read",
			      ndx_strerror(rc));
		type = GW_LOG_UNAVAILABLE;
		goto out;
	}
	if (!(list = json_array()))
		goto oom;
	for (size_t i = 0; i < c.limit && i < c.total; i++) {
		size_t at = (c.next + c.limit - 1 - i) % c.limit;
		if (json_array_append(list, c.ring[at]))
			goto oom;
	}
	ndx_http_resp_json(resp, 200,
			   json_pack("{sssssosIsb}", "subject", subject, "provider", g->cfg->member,
				     "accesses", list, "total", (json_int_t)c.total, "truncated",
				     c.total > c.limit));
	list = NULL;
	goto out;
oom:
	gw_error_body(resp, 500, "Server.Internal", "out of memory", NULL);
	type = "Server.Internal";
out:
	json_decref(list);
	if (c.ring)
		for (size_t i = 0; i < c.limit; i++)
			json_decref(c.ring[i]);
	free(c.ring);
	return type;
}
