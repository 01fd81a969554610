/* "Who read my data" (DESIGN.md section 6, docs/gateway.md "Subject
 * accesses"): the built-in provider behind a service whose backend is
 * "ndx:subject-accesses". It answers, for the subject the request names in
 * Ndx-Subject, the exchanges this gateway served about them, whether the
 * consumer named them or the provider system declared them among the
 * subjects of its answer: when, which client, which service, which purpose,
 * which officer and procedure, what happened, and whether it was the
 * subject's own request (proven by their e-ID token). Never the data, nor
 * the request path (which may name someone else). Exchanges for a purpose
 * under an embargo of the global configuration stay out of the list until
 * the embargo has passed; the log holds them from the first day. It runs
 * after every check of the provider gateway (certificate, signature, grant,
 * purpose, and the subject's own ID token: provider.c), so it only ever
 * answers the subject themself. */
#include <stdlib.h>
#include <string.h>

#include "gateway.h"
#include "confstate.h"
#include "gwconfig.h"
#include "ndx/err.h"
#include "ndx/timefmt.h"
#include "subjects.h"

#define DEFAULT_LIMIT 200
#define MAX_LIMIT 1000
#define STR_(x) #x
#define STR(x) STR_(x)

enum own_filter { OWN_INCLUDE, OWN_EXCLUDE, OWN_ONLY };

struct filters {
	enum own_filter own;
	const char *client;  /* a subsystem id, or a member id that is its prefix */
	const char *purpose;
	int64_t since_ms, until_ms;
};

/* The newest `limit` entries in a ring: the log hands them out oldest
 * first, the citizen wants the newest first. */
struct collect {
	const struct gw_settings *s;
	const struct ndx_conf *conf;
	const char *subject;
	struct filters f;
	int64_t now_ms;
	json_t **ring;
	size_t limit, next, total;
	int oom;
};

static bool client_matches(const char *client, const char *want)
{
	size_t n = strlen(want);

	return strncmp(client, want, n) == 0 && (client[n] == '\0' || client[n] == '/');
}

/* The purpose's embargo, counted from the exchange, has not ended. */
static bool embargoed(const struct collect *c, const struct ndx_msglog_entry *e)
{
	int64_t s = e->purpose && e->purpose[0] ? ndx_conf_embargo_s(c->conf, e->purpose) : 0;

	return s > 0 && e->time_ms + s * 1000 > c->now_ms;
}

static const char *outcome(const struct collect *c, const struct ndx_msglog_entry *e)
{
	if (e->status >= 400)
		return "refused";
	if (gw_subjects_has(e->subjects, c->subject))
		return "returned";
	return "no_data";
}

static bool wanted(const struct collect *c, const struct ndx_msglog_entry *e, bool own)
{
	const struct gw_service *svc;

	/* Only what this gateway served to others: its consumer-side records
	 * are reads its own member made, reported by the providers' gateways.
	 * Looking at the access list is not itself an access to the data. */
	if (e->direction != NDX_MSGLOG_PROVIDER)
		return false;
	svc = gw_settings_service(c->s, e->service);
	if (svc && svc->builtin)
		return false;
	if (embargoed(c, e))
		return false;
	if ((c->f.own == OWN_EXCLUDE && own) || (c->f.own == OWN_ONLY && !own))
		return false;
	if (c->f.client && !client_matches(e->client, c->f.client))
		return false;
	if (c->f.purpose && strcmp(e->purpose ? e->purpose : "", c->f.purpose) != 0)
		return false;
	return e->time_ms >= c->f.since_ms && e->time_ms <= c->f.until_ms;
}

static const char *nz(const char *s)
{
	return s ? s : "";
}

static int collect_one(const struct ndx_msglog_entry *e, void *ctx)
{
	struct collect *c = ctx;
	const struct ndx_conf_service *svc;
	const char *title;
	char t[NDX_TIME_TEXT_LEN];
	bool own = e->authenticated && strcmp(e->authenticated, c->subject) == 0;
	json_t *o;

	if (!wanted(c, e, own))
		return 0;
	svc = ndx_conf_service_of(c->conf, e->service);
	title = svc ? svc->title : NULL;
	ndx_time_format((time_t)(e->time_ms / 1000), t);
	o = json_pack("{sssssssssssssssisssssbss}", "time", t, "client", e->client, "service",
		      e->service, "service_title", nz(title), "method", nz(e->method), "purpose",
		      nz(e->purpose), "outcome", outcome(c, e), "status", e->status, "user_id",
		      nz(e->user_id), "issue", nz(e->issue), "own", own, "message_id",
		      nz(e->message_id));
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

/* The access list is the provider side of an exchange. */
static enum gw_reason answer_refusal(struct ndx_http_resp *resp, const struct ndx_http_req *req,
				     enum gw_reason r, const char *specifics, const char *message)
{
	gw_refusal_body(resp, req, r, GW_SIDE_PROVIDER, specifics, "%s", message);
	return r;
}

/* Reads the query into c; returns GW_R_COUNT, or the refusal's reason
 * (resp set). */
static enum gw_reason read_query(const struct ndx_http_req *req, struct collect *c,
				 struct ndx_http_resp *resp)
{
	const char *lim = ndx_http_query_arg(req, "limit");
	const char *own = ndx_http_query_arg(req, "own");
	const char *since = ndx_http_query_arg(req, "since");
	const char *until = ndx_http_query_arg(req, "until");
	time_t t;

	if (lim) {
		char *end;
		unsigned long n = strtoul(lim, &end, 10);
		if (!lim[0] || *end || lim[0] == '-' || n < 1 || n > MAX_LIMIT)
			return answer_refusal(resp, req, GW_R_ACCESS_LIST_QUERY, "limit", "limit must be an integer from 1 to " STR(MAX_LIMIT));
		c->limit = n;
	}
	if (!own || strcmp(own, "include") == 0)
		c->f.own = OWN_INCLUDE;
	else if (strcmp(own, "exclude") == 0)
		c->f.own = OWN_EXCLUDE;
	else if (strcmp(own, "only") == 0)
		c->f.own = OWN_ONLY;
	else
		return answer_refusal(resp, req, GW_R_ACCESS_LIST_QUERY, "own", "own must be include, exclude or only");
	c->f.client = ndx_http_query_arg(req, "client");
	if (c->f.client && !c->f.client[0])
		c->f.client = NULL;
	c->f.purpose = ndx_http_query_arg(req, "purpose");
	if (c->f.purpose && !c->f.purpose[0])
		c->f.purpose = NULL;
	c->f.since_ms = INT64_MIN;
	c->f.until_ms = INT64_MAX;
	if (since) {
		if (ndx_time_parse(since, &t) != NDX_OK)
			return answer_refusal(resp, req, GW_R_ACCESS_LIST_QUERY, "since", "since must be an RFC 3339 time in UTC");
		c->f.since_ms = (int64_t)t * 1000;
	}
	if (until) {
		if (ndx_time_parse(until, &t) != NDX_OK)
			return answer_refusal(resp, req, GW_R_ACCESS_LIST_QUERY, "until", "until must be an RFC 3339 time in UTC");
		c->f.until_ms = (int64_t)t * 1000 + 999;
	}
	return GW_R_COUNT;
}

enum gw_reason gw_subject_accesses(struct gw_ctx *g, const struct gw_view *v, const char *subject,
				const struct ndx_http_req *req, const char *rest,
				struct ndx_http_resp *resp)
{
	enum gw_reason type = GW_R_COUNT;
	struct collect c = { .s = v->s, .conf = v->c->conf, .subject = subject,
			     .limit = DEFAULT_LIMIT, .now_ms = (int64_t)time(NULL) * 1000 };
	json_t *list = NULL;
	int rc;

	if (strcmp(req->method, "GET") != 0) {
		return answer_refusal(resp, req, GW_R_ACCESS_LIST_METHOD, req->method,
				      "the access list is read with GET");
	}
	if (rest[0] && strcmp(rest, "/") != 0) {
		return answer_refusal(resp, req, GW_R_ACCESS_LIST_PATH, rest,
				      "the access list has no sub-paths");
	}
	if ((type = read_query(req, &c, resp)) != GW_R_COUNT)
		return type;
	if (!(c.ring = calloc(c.limit, sizeof *c.ring)))
		goto oom;
	rc = ndx_msglog_by_subject(g->log, subject, collect_one, &c);
	if (c.oom)
		goto oom;
	if (rc != NDX_OK) {
		type = answer_refusal(resp, req, GW_R_LOG_UNAVAILABLE, ndx_strerror(rc),
				      "the message log cannot be read");
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
	type = answer_refusal(resp, req, GW_R_INTERNAL, NULL, "out of memory");
out:
	json_decref(list);
	if (c.ring)
		for (size_t i = 0; i < c.limit; i++)
			json_decref(c.ring[i]);
	free(c.ring);
	return type;
}
