/* The operations centre's API (ops.h). Every request goes through the same
 * gate: a session (401), a citizen's session whose PIN is an official's
 * (403 not_official; looked up at each request, so removing an official
 * takes effect at once), the role's rule for the route and the member
 * (403 forbidden), then one call to the monitoring service with its admin
 * token, read from its file at each call. An agency official's member is
 * put into the monitoring service's query whatever the browser asked; a
 * different member in the query is refused, not silently replaced, so the
 * page never shows figures under the wrong name. The monitoring service's
 * failures become 503 monitor_unavailable (no answer) or 502 monitor (an
 * answer that is not the figures), never its raw body.
 *
 * The misuse cases (docs/portal.md "Misuse cases") follow the same gate: an
 * agency official's member is put into the list's question, and a case
 * page, a proof, a key or a triage of a case whose client_member is another
 * member's is refused 403, checked on the case the monitoring service
 * returns. The triage is the one write: a POST with the session's CSRF
 * token, refused to auditors, whose actor is the official of the session. */
#include "ops.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "auth.h"
#include "ndx/args.h"
#include "ndx/err.h"
#include "ndx/fetch.h"
#include "ndx/file.h"
#include "monitor_client.h"
#include "ndx/id.h"

#define WINDOW_MAX_S (31ull * 86400ull)
#define PDF_MAX (16u * 1024u * 1024u)

int ops_role_known(const char *role)
{
	return strcmp(role, "operator") == 0 || strcmp(role, "agency") == 0 ||
	       strcmp(role, "auditor") == 0;
}

json_t *ops_official_json(const struct portal *p, const struct psession *s)
{
	struct pofficial o;

	if (strcmp(s->kind, "citizen") != 0 || !s->subject[0] ||
	    pstore_official_get(p->st, s->subject, &o) != NDX_OK)
		return NULL;
	return json_pack("{s:s,s:s,s:s}", "role", o.role, "member", o.member, "name", o.name);
}

/* ---- answers --------------------------------------------------------------- */

static void reply(struct ndx_http_resp *resp, int status, const char *code, const char *msg)
{
	struct perr e = { 0 };

	perr_set(&e, status, code, "%s", msg);
	api_reply_error(resp, &e);
}

/* A refusal of the gate, logged: the access log has the status, this line
 * the reason (the role and member, never the PIN). */
static void refuse(const struct ndx_http_req *req, struct ndx_http_resp *resp, int status,
		   const char *code, const char *msg, const char *who)
{
	fprintf(stderr, PORTAL_PROG ": ops: refused %s %s (%s): %s\n", req->method, req->path,
		who, msg);
	reply(resp, status, code, msg);
}

/* ---- the monitoring service ------------------------------------------------ */

/* method monitor_url + path_query (body may be NULL). On 0 *out holds the
 * answer (the caller frees it): a 2xx, or a status in pass (a zero-ended
 * list the caller answers itself, e.g. 404 for a case that does not
 * exist); otherwise the request has been answered: 503 not_configured /
 * monitor_unavailable, 502 monitor, and -1. */
static int monitor_call(const struct portal *p, const char *method, const char *path_query,
			const char *body, size_t max_body, const long *pass,
			struct ndx_fetch_resp *out, struct ndx_http_resp *resp)
{
	char why[512];
	enum monitor_fail f = monitor_client_call(p->cfg, method, path_query, body,
						  body ? strlen(body) : 0, max_body, 15000, out,
						  why, sizeof why);

	switch (f) {
	case MONITOR_OK:
		break;
	case MONITOR_NOT_CONFIGURED:
		reply(resp, 503, "not_configured",
		      "the operations centre is not configured: the portal has no monitor object");
		return -1;
	case MONITOR_BAD_REQUEST:
		reply(resp, 400, "invalid", "the query is too long");
		return -1;
	case MONITOR_TOKEN:
		fprintf(stderr, PORTAL_PROG ": ops: %s\n", why);
		reply(resp, 503, "monitor_unavailable",
		      "the monitoring service's token cannot be read");
		return -1;
	case MONITOR_UNREACHABLE:
		fprintf(stderr, PORTAL_PROG ": ops: the monitoring service %s\n", why);
		reply(resp, 503, "monitor_unavailable", "the monitoring service cannot be reached");
		return -1;
	}
	if (out->status >= 200 && out->status <= 299)
		return 0;
	for (size_t i = 0; pass && pass[i]; i++)
		if (out->status == pass[i])
			return 0;
	/* The path only up to its query: a question may name a person. */
	fprintf(stderr, PORTAL_PROG ": ops: the monitoring service answered %ld %s to %s %.*s\n",
		out->status, out->xroad_error, method, (int)strcspn(path_query, "?"), path_query);
	if (out->status == 401)
		reply(resp, 502, "monitor", "the monitoring service refused the portal's token");
	else if (out->status == 404)
		reply(resp, 502, "monitor", "the monitoring service does not offer this yet");
	else
		reply(resp, 502, "monitor", "the monitoring service could not answer");
	ndx_fetch_resp_free(out);
	return -1;
}

static int monitor_get(const struct portal *p, const char *path_query, size_t max_body,
		       struct ndx_fetch_resp *out, struct ndx_http_resp *resp)
{
	return monitor_call(p, "GET", path_query, NULL, max_body, NULL, out, resp);
}

/* The 200 JSON answer of monitor_get as an object into *out, or answered
 * 502 and -1. */
static int monitor_json(const struct portal *p, const char *path_query, json_t **out,
			struct ndx_http_resp *resp)
{
	struct ndx_fetch_resp r;

	*out = NULL;
	if (monitor_get(p, path_query, 0, &r, resp))
		return -1;
	*out = r.body ? json_loadb(r.body, r.len, 0, NULL) : NULL;
	ndx_fetch_resp_free(&r);
	if (!json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		reply(resp, 502, "monitor", "the monitoring service answered something else");
		return -1;
	}
	return 0;
}

/* ---- the gate -------------------------------------------------------------- */

struct who {
	struct psession s;
	struct pofficial o;
	char label[160]; /* "agency official of VN/GOV/TCT", for the log */
};

int ops_official_gate(const struct portal *p, const struct ndx_http_req *req,
		      struct ndx_http_resp *resp, const char *area, const char *what,
		      struct psession *s, struct pofficial *o)
{
	char msg[160];
	int rc;

	memset(o, 0, sizeof *o);
	if (auth_session(p, req, s) != NDX_OK) {
		fprintf(stderr, PORTAL_PROG ": %s: refused %s %s (no session): sign in first\n",
			area, req->method, req->path);
		reply(resp, 401, "unauthenticated", "sign in first");
		return -1;
	}
	if (strcmp(s->kind, "citizen") != 0) {
		psession_clear(s);
		snprintf(msg, sizeof msg, "%s is for officials signed in with the e-ID", what);
		fprintf(stderr, PORTAL_PROG ": %s: refused %s %s (an officer's session): %s\n",
			area, req->method, req->path, msg);
		reply(resp, 403, "not_official", msg);
		return -1;
	}
	rc = pstore_official_get(p->st, s->subject, o);
	if (rc != NDX_OK) {
		psession_clear(s);
		if (rc == NDX_ENOTFOUND) {
			snprintf(msg, sizeof msg, "this person is not an official of %s", what);
			fprintf(stderr, PORTAL_PROG ": %s: refused %s %s (a citizen): %s\n", area,
				req->method, req->path, msg);
			reply(resp, 403, "not_official", msg);
		} else {
			reply(resp, 500, "internal", "the officials could not be read");
		}
		return -1;
	}
	return 0;
}

/* Fills w for the request's official, or answers (401/403) and -1. */
static int official(const struct portal *p, const struct ndx_http_req *req,
		    struct ndx_http_resp *resp, struct who *w)
{
	memset(w, 0, sizeof *w);
	if (ops_official_gate(p, req, resp, "ops", "the operations centre", &w->s, &w->o))
		return -1;
	snprintf(w->label, sizeof w->label, "%s official of %s", w->o.role, w->o.member);
	return 0;
}

/* The member the figures are for, canonical, into member ("" = the whole
 * federation): an agency official's own, whatever was asked; another
 * member's, or a member that is not an id, is answered (403/400) and -1. */
static int member_for(const struct ndx_http_req *req, struct ndx_http_resp *resp,
		      const struct who *w, char member[NDX_ID_TEXT_MAX])
{
	const char *m = ndx_http_query_arg(req, "member"), *why = NULL;
	struct ndx_id id;

	member[0] = '\0';
	if (m && *m) {
		if (ndx_id_parse(m, strlen(m), NDX_ID_MEMBER, &id, &why) != NDX_OK ||
		    ndx_id_format(&id, member, NDX_ID_TEXT_MAX) < 0) {
			member[0] = '\0';
			reply(resp, 400, "invalid", "member: not a member id");
			return -1;
		}
	}
	if (strcmp(w->o.role, "agency") != 0)
		return 0;
	if (member[0] && strcmp(member, w->o.member) != 0) {
		char msg[256];

		snprintf(msg, sizeof msg, "an agency official sees only %s", w->o.member);
		refuse(req, resp, 403, "forbidden", msg, w->label);
		return -1;
	}
	snprintf(member, NDX_ID_TEXT_MAX, "%s", w->o.member);
	return 0;
}

/* The query argument name as whole seconds within [1, max] (dflt when
 * absent) into *v, or a 400 answered and -1. */
static int seconds_arg(const struct ndx_http_req *req, struct ndx_http_resp *resp,
		       const char *name, unsigned long long dflt, unsigned long long max,
		       unsigned long long *v)
{
	const char *s = ndx_http_query_arg(req, name);
	char msg[128];

	*v = dflt;
	if (!s || !*s)
		return 0;
	if (ndx_args_uint(s, 1, max, v) == NDX_OK)
		return 0;
	snprintf(msg, sizeof msg, "%s: whole seconds from 1 to %llu", name, max);
	reply(resp, 400, "invalid", msg);
	return -1;
}

/* "&member=M" (escaped) or "" into out. */
static int member_query(const char *member, char *out, size_t cap)
{
	char *esc;

	out[0] = '\0';
	if (!member[0])
		return 0;
	if (!(esc = ndx_fetch_escape(member)))
		return -1;
	snprintf(out, cap, "&member=%s", esc);
	free(esc);
	return 0;
}

/* ---- routes -------------------------------------------------------------- */

static void r_session(const struct portal *p, struct who *w, struct ndx_http_resp *resp)
{
	ndx_http_resp_json(resp, 200,
			   json_pack("{s:s,s:s,s:s,s:b,s:b}", "role", w->o.role, "member",
				     w->o.member, "name", w->o.name, "monitor",
				     p->cfg->monitor_url != NULL, "all_members",
				     strcmp(w->o.role, "agency") != 0));
}

/* GET /api/ops/live?window=S[&member=ID] and /api/ops/series?window&step. */
static void r_figures(const struct portal *p, const struct ndx_http_req *req,
		      struct ndx_http_resp *resp, struct who *w, int series)
{
	unsigned long long window, step = 0;
	/* pq holds the path, two numbers and mq: sized so that it always fits */
	char member[NDX_ID_TEXT_MAX], mq[NDX_ID_TEXT_MAX * 3 + 16], pq[sizeof mq + 96];
	json_t *out;

	if (member_for(req, resp, w, member) ||
	    seconds_arg(req, resp, "window", series ? 3600 : 300, WINDOW_MAX_S, &window) ||
	    (series && seconds_arg(req, resp, "step", 60, 86400, &step)))
		return;
	if (member_query(member, mq, sizeof mq)) {
		reply(resp, 500, "internal", "out of memory");
		return;
	}
	if (series)
		snprintf(pq, sizeof pq, "/api/series?window=%llu&step=%llu%s", window, step, mq);
	else
		snprintf(pq, sizeof pq, "/api/live?window=%llu%s", window, mq);
	if (monitor_json(p, pq, &out, resp))
		return;
	json_object_set_new(out, "member", member[0] ? json_string(member) : json_null());
	json_object_set_new(out, "window_s", json_integer((json_int_t)window));
	ndx_http_resp_json(resp, 200, out);
}

/* An agency official sees the indicators nationally and for its own
 * member; provinces and other ministries are the operator's view. */
static void only_scopes(json_t *view, const char *member)
{
	json_t *ind, *scopes;
	size_t i, j;

	json_array_foreach(json_object_get(view, "indicators"), i, ind) {
		scopes = json_object_get(ind, "scopes");
		for (j = json_array_size(scopes); j-- > 0;) {
			const char *sc = json_string_value(json_object_get(json_array_get(scopes, j),
									   "scope"));

			if (!sc || (strcmp(sc, "national") != 0 && strcmp(sc, member) != 0))
				json_array_remove(scopes, j);
		}
	}
}

/* A half-year (2026-H2) or a month (2026-07). */
static int period_ok(const char *s, int half_only)
{
	size_t n = strlen(s);

	if (n != 7 || strspn(s, "0123456789") != 4 || s[4] != '-')
		return 0;
	if (s[5] == 'H')
		return s[6] == '1' || s[6] == '2';
	return !half_only && ((s[5] == '0' && s[6] >= '1' && s[6] <= '9') ||
			      (s[5] == '1' && s[6] >= '0' && s[6] <= '2'));
}

static void r_indicators(const struct portal *p, const struct ndx_http_req *req,
			 struct ndx_http_resp *resp, struct who *w)
{
	const char *period = ndx_http_query_arg(req, "period");
	char pq[64] = "/api/indicators";
	json_t *out;

	if (period && *period) {
		if (!period_ok(period, 0)) {
			reply(resp, 400, "invalid", "period: a half-year (2026-H2) or a month (2026-07)");
			return;
		}
		snprintf(pq, sizeof pq, "/api/indicators?period=%s", period);
	}
	if (monitor_json(p, pq, &out, resp))
		return;
	if (strcmp(w->o.role, "agency") == 0)
		only_scopes(out, w->o.member);
	ndx_http_resp_json(resp, 200, out);
}

static void r_tasks(const struct portal *p, struct ndx_http_resp *resp, struct who *w)
{
	json_t *out, *tasks;
	size_t j;

	if (monitor_json(p, "/api/tasks", &out, resp))
		return;
	/* An agency sees the tasks it leads. */
	tasks = json_object_get(out, "tasks");
	if (strcmp(w->o.role, "agency") == 0)
		for (j = json_array_size(tasks); j-- > 0;) {
			const char *lead = json_string_value(json_object_get(json_array_get(tasks, j),
									     "lead"));

			if (!lead || strcmp(lead, w->o.member) != 0)
				json_array_remove(tasks, j);
		}
	ndx_http_resp_json(resp, 200, out);
}

/* The six-monthly report is the operator's to the Steering Committee: the
 * operator and the auditors download it; an agency does not. */
static void r_report(const struct portal *p, const struct ndx_http_req *req,
		     struct ndx_http_resp *resp, struct who *w)
{
	const char *period = ndx_http_query_arg(req, "period");
	struct ndx_fetch_resp r;
	char pq[64], disp[96];

	if (strcmp(w->o.role, "agency") == 0) {
		refuse(req, resp, 403, "forbidden",
		       "the six-monthly report is the national operator's", w->label);
		return;
	}
	if (!period || !period_ok(period, 1)) {
		reply(resp, 400, "invalid", "period: a half-year, e.g. 2026-H2");
		return;
	}
	snprintf(pq, sizeof pq, "/api/report?period=%s", period);
	if (monitor_get(p, pq, PDF_MAX, &r, resp))
		return;
	if (!r.body || r.len < 5 || memcmp(r.body, "%PDF-", 5) != 0) {
		ndx_fetch_resp_free(&r);
		reply(resp, 502, "monitor", "the monitoring service's report is not a PDF");
		return;
	}
	snprintf(disp, sizeof disp, "attachment; filename=\"ndx-report-%s.pdf\"", period);
	ndx_http_resp_header(resp, "Content-Disposition", disp);
	ndx_http_resp_bytes(resp, 200, "application/pdf", r.body, r.len);
	ndx_fetch_resp_free(&r);
}

/* ---- misuse cases ----------------------------------------------------------- */

static const char *const CASE_STATES[] = { "open", "escalated", "confirmed", "dismissed", "all",
					   NULL };
static const char *const CASE_KINDS[] = { "no-explanation", "bulk", "off-hours",
					  "unusual-province", "repeated-subject", "probing",
					  "replay", "citizen-report", NULL };
static const char *const TRIAGE_ACTIONS[] = { "confirm", "dismiss", "escalate", NULL };

#define CASES_LIMIT_MAX 500
#define REASON_MAX 1000
#define CASE_BODY_MAX (8u * 1024u * 1024u)

static int one_of(const char *s, const char *const *list)
{
	for (size_t i = 0; s && list[i]; i++)
		if (strcmp(s, list[i]) == 0)
			return 1;
	return 0;
}

/* A case id as the monitoring service gives them: 1-64 of A-Z a-z 0-9 . _ : - */
static int case_id_ok(const char *s, size_t n)
{
	if (n == 0 || n > 64)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || strchr("._:-", s[i])))
			return 0;
	return 1;
}

static int final_state(const char *state)
{
	return state && (strcmp(state, "confirmed") == 0 || strcmp(state, "dismissed") == 0);
}

/* Whether the official may see a case of client_member: everyone but an
 * agency official, who sees its own member's. */
static int case_visible(const struct who *w, const char *client_member)
{
	return strcmp(w->o.role, "agency") != 0 ||
	       (client_member && strcmp(client_member, w->o.member) == 0);
}

/* GET /api/ops/cases?state&kind&member&limit: the monitoring service's
 * list, an agency official's member put in whatever was asked. */
static void r_cases(const struct portal *p, const struct ndx_http_req *req,
		    struct ndx_http_resp *resp, struct who *w)
{
	const char *state = ndx_http_query_arg(req, "state"), *kind = ndx_http_query_arg(req, "kind");
	const char *v;
	char member[NDX_ID_TEXT_MAX], mq[NDX_ID_TEXT_MAX * 3 + 16], pq[sizeof mq + 160];
	unsigned long long limit;
	json_t *out, *cases;
	size_t j;

	if (!state || !*state)
		state = "open";
	if (!one_of(state, CASE_STATES)) {
		reply(resp, 400, "invalid", "state: open, escalated, confirmed, dismissed or all");
		return;
	}
	if (kind && *kind && !one_of(kind, CASE_KINDS)) {
		reply(resp, 400, "invalid", "kind: not a kind of case");
		return;
	}
	if (member_for(req, resp, w, member))
		return;
	limit = 200;
	if ((v = ndx_http_query_arg(req, "limit")) && *v &&
	    ndx_args_uint(v, 1, CASES_LIMIT_MAX, &limit) != NDX_OK) {
		reply(resp, 400, "invalid", "limit: a whole number from 1 to 500");
		return;
	}
	if (member_query(member, mq, sizeof mq)) {
		reply(resp, 500, "internal", "out of memory");
		return;
	}
	snprintf(pq, sizeof pq, "/api/cases?state=%s&limit=%llu%s%s%s", state, limit,
		 kind && *kind ? "&kind=" : "", kind && *kind ? kind : "", mq);
	if (monitor_json(p, pq, &out, resp))
		return;
	cases = json_object_get(out, "cases");
	if (!json_is_array(cases)) {
		json_decref(out);
		reply(resp, 502, "monitor", "the monitoring service answered something else");
		return;
	}
	/* The monitoring service was asked for the member's cases only; what
	 * it answers is held to the same rule. */
	for (j = json_array_size(cases); j-- > 0;)
		if (!case_visible(w, json_string_value(json_object_get(json_array_get(cases, j),
									"client_member"))))
			json_array_remove(cases, j);
	json_object_set_new(out, "member", member[0] ? json_string(member) : json_null());
	json_object_set_new(out, "state", json_string(state));
	json_object_set_new(out, "can_triage", json_boolean(strcmp(w->o.role, "auditor") != 0));
	ndx_http_resp_json(resp, 200, out);
}

/* The case id (a path segment) from the monitoring service, held to the
 * official's rule: *out the case, or answered (404, 403, 502...) and -1. */
static int case_get(const struct portal *p, const struct ndx_http_req *req,
		    struct ndx_http_resp *resp, struct who *w, const char *id, json_t **out)
{
	static const long pass[] = { 404, 0 };
	struct ndx_fetch_resp r;
	char pq[128];

	*out = NULL;
	snprintf(pq, sizeof pq, "/api/cases/%s", id);
	if (monitor_call(p, "GET", pq, NULL, CASE_BODY_MAX, pass, &r, resp))
		return -1;
	if (r.status == 404) {
		ndx_fetch_resp_free(&r);
		reply(resp, 404, "not_found", "no such case");
		return -1;
	}
	*out = r.body ? json_loadb(r.body, r.len, 0, NULL) : NULL;
	ndx_fetch_resp_free(&r);
	if (!json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		reply(resp, 502, "monitor", "the monitoring service answered something else");
		return -1;
	}
	if (!case_visible(w, json_string_value(json_object_get(*out, "client_member")))) {
		char msg[256];

		json_decref(*out);
		*out = NULL;
		snprintf(msg, sizeof msg, "an agency official sees only the cases of %s",
			 w->o.member);
		refuse(req, resp, 403, "forbidden", msg, w->label);
		return -1;
	}
	return 0;
}

static void r_case(const struct portal *p, const struct ndx_http_req *req,
		   struct ndx_http_resp *resp, struct who *w, const char *id)
{
	json_t *c;

	if (case_get(p, req, resp, w, id, &c))
		return;
	json_object_set_new(c, "can_triage",
			    json_boolean(strcmp(w->o.role, "auditor") != 0 &&
					 !final_state(json_string_value(json_object_get(c, "state")))));
	ndx_http_resp_json(resp, 200, c);
}

/* The gateway key that checks evidence item ev: the item's own
 * gateway_key, else the case's (one key, or an object by gateway). */
static const char *evidence_key(const json_t *c, const json_t *ev)
{
	const json_t *k = json_object_get(ev, "gateway_key");

	if (json_is_string(k))
		return json_string_value(k);
	k = json_object_get(c, "gateway_key");
	if (json_is_string(k))
		return json_string_value(k);
	if (json_is_object(k))
		return json_string_value(
			json_object_get(k, json_string_value(json_object_get(ev, "gateway"))));
	return NULL;
}

/* GET /api/ops/cases/{id}/proof/{n} and .../key/{n}: evidence item n's
 * inclusion proof as the file `ndx log check-proof proof.json --key
 * gateway.pub` takes, and its gateway's public key, as downloads. */
static void r_case_file(const struct portal *p, const struct ndx_http_req *req,
			struct ndx_http_resp *resp, struct who *w, const char *id,
			const char *n_text, int key)
{
	unsigned long long n;
	json_t *c, *ev, *proof;
	char *text;

	if (ndx_args_uint(n_text, 0, 100000, &n) != NDX_OK) {
		reply(resp, 404, "not_found", "no such evidence");
		return;
	}
	if (case_get(p, req, resp, w, id, &c))
		return;
	ev = json_array_get(json_object_get(c, "evidence"), (size_t)n);
	if (!json_is_object(ev)) {
		json_decref(c);
		reply(resp, 404, "not_found", "no such evidence");
		return;
	}
	if (key) {
		const char *pem = evidence_key(c, ev);

		if (!pem || !*pem) {
			reply(resp, 404, "not_found", "the monitoring service gave no key for this gateway");
		} else {
			ndx_http_resp_header(resp, "Content-Disposition",
					     "attachment; filename=\"gateway.pub\"");
			ndx_http_resp_bytes(resp, 200, "application/x-pem-file", pem, strlen(pem));
		}
		json_decref(c);
		return;
	}
	proof = json_object_get(ev, "proof");
	if (!json_is_object(proof)) {
		json_decref(c);
		reply(resp, 404, "not_found", "this read has no proof");
		return;
	}
	/* The proof object as the monitoring service gave it: the same members
	 * in the same order and values. */
	text = json_dumps(proof, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
	json_decref(c);
	if (!text) {
		reply(resp, 500, "internal", "out of memory");
		return;
	}
	ndx_http_resp_header(resp, "Content-Disposition", "attachment; filename=\"proof.json\"");
	ndx_http_resp_bytes(resp, 200, "application/json", text, strlen(text));
	free(text);
}

/* POST /api/ops/cases/{id}/triage {"action","reason"}: the actor is the
 * signed-in official, whatever the body says. */
static void r_triage(const struct portal *p, const struct ndx_http_req *req,
		     struct ndx_http_resp *resp, struct who *w, const char *id)
{
	static const long pass[] = { 400, 404, 409, 0 };
	const char *action;
	struct ndx_fetch_resp r;
	json_t *body = NULL, *c = NULL, *send, *v;
	char pq[128], actor[512], *text, act[16], reason[REASON_MAX + 1] = "";

	if (!api_csrf_ok(req, &w->s)) {
		reply(resp, 403, "csrf", "the X-CSRF-Token header is missing or wrong");
		return;
	}
	if (strcmp(w->o.role, "auditor") == 0) {
		refuse(req, resp, 403, "forbidden", "an auditor reads the cases and triages none",
		       w->label);
		return;
	}
	if (api_body(req, resp, &body))
		return;
	action = json_string_value(json_object_get(body, "action"));
	v = json_object_get(body, "reason");
	if (!one_of(action, TRIAGE_ACTIONS)) {
		json_decref(body);
		reply(resp, 400, "invalid", "action: confirm, dismiss or escalate");
		return;
	}
	if (v && !json_is_null(v) &&
	    (!json_is_string(v) || strlen(json_string_value(v)) > REASON_MAX)) {
		json_decref(body);
		reply(resp, 400, "invalid", "reason: text of at most 1000 bytes");
		return;
	}
	if (json_is_string(v))
		snprintf(reason, sizeof reason, "%s", json_string_value(v));
	snprintf(act, sizeof act, "%s", action);
	json_decref(body);
	body = NULL;
	action = act;
	/* An agency official triages its own member's cases: checked on the
	 * case itself before anything is changed. */
	if (strcmp(w->o.role, "agency") == 0 && case_get(p, req, resp, w, id, &c)) {
		json_decref(body);
		return;
	}
	json_decref(c);
	snprintf(actor, sizeof actor, "%s (%s, %s)", w->o.name, w->o.role, w->o.member);
	send = json_pack("{s:s,s:s,s:s}", "action", action, "reason", reason, "actor", actor);
	text = send ? json_dumps(send, JSON_COMPACT) : NULL;
	json_decref(send);
	json_decref(body);
	if (!text) {
		reply(resp, 500, "internal", "out of memory");
		return;
	}
	snprintf(pq, sizeof pq, "/api/cases/%s/triage", id);
	if (monitor_call(p, "POST", pq, text, CASE_BODY_MAX, pass, &r, resp)) {
		free(text);
		return;
	}
	free(text);
	if (r.status == 404) {
		reply(resp, 404, "not_found", "no such case");
	} else if (r.status == 409) {
		reply(resp, 409, "case_final",
		      "the case has been confirmed or dismissed already and cannot change");
	} else if (r.status == 400) {
		if (strcmp(action, "dismiss") == 0 && !*reason) {
			struct perr e = { 0 };

			perr_set(&e, 422, "validation", "a dismissal needs a reason");
			e.fields = json_pack("{s:s}", "reason", "required");
			api_reply_error(resp, &e);
		} else {
			reply(resp, 400, "invalid", "the monitoring service refused the triage");
		}
	} else {
		json_t *out = r.body ? json_loadb(r.body, r.len, 0, NULL) : NULL;

		if (!json_is_object(out)) {
			json_decref(out);
			out = json_pack("{s:s}", "status", "ok");
		}
		ndx_http_resp_json(resp, 200, out);
	}
	ndx_fetch_resp_free(&r);
}

/* "cases/{id}[/{sub}[/{n}]]" taken apart; 0 when rest is not one. */
static int case_path(const char *rest, char id[65], char sub[16], char n[16])
{
	const char *a = rest + strlen("cases/"), *b;
	size_t len;

	id[0] = sub[0] = n[0] = '\0';
	if (strncmp(rest, "cases/", 6) != 0)
		return 0;
	len = strcspn(a, "/");
	if (!case_id_ok(a, len))
		return 0;
	memcpy(id, a, len);
	id[len] = '\0';
	if (!a[len])
		return 1;
	b = a + len + 1;
	len = strcspn(b, "/");
	if (len == 0 || len >= 16)
		return 0;
	memcpy(sub, b, len);
	sub[len] = '\0';
	if (!b[len])
		return strcmp(sub, "triage") == 0;
	b += len + 1;
	len = strlen(b);
	if (len == 0 || len >= 16 || strspn(b, "0123456789") != len)
		return 0;
	memcpy(n, b, len + 1);
	return strcmp(sub, "proof") == 0 || strcmp(sub, "key") == 0;
}

void ops_handle(const struct portal *p, const struct ndx_http_req *req,
		struct ndx_http_resp *resp)
{
	const char *rest = req->path + strlen("/api/ops/");
	int get = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
	char id[65], sub[16], n[16];
	int is_case = case_path(rest, id, sub, n), triage = is_case && strcmp(sub, "triage") == 0;
	struct who w;

	if (triage ? strcmp(req->method, "POST") != 0 : !get) {
		ndx_http_resp_header(resp, "Allow", triage ? "POST" : "GET, HEAD");
		reply(resp, 405, "method_not_allowed",
		      triage ? "a triage is a POST"
			     : "the operations centre's API is read-only but for a case's triage");
		return;
	}
	if (!is_case && strcmp(rest, "session") != 0 && strcmp(rest, "live") != 0 &&
	    strcmp(rest, "series") != 0 && strcmp(rest, "indicators") != 0 &&
	    strcmp(rest, "tasks") != 0 && strcmp(rest, "report") != 0 &&
	    strcmp(rest, "cases") != 0) {
		reply(resp, 404, "not_found", "no such route");
		return;
	}
	if (official(p, req, resp, &w))
		return;
	if (is_case && triage)
		r_triage(p, req, resp, &w, id);
	else if (is_case && sub[0])
		r_case_file(p, req, resp, &w, id, n, strcmp(sub, "key") == 0);
	else if (is_case)
		r_case(p, req, resp, &w, id);
	else if (strcmp(rest, "cases") == 0)
		r_cases(p, req, resp, &w);
	else if (strcmp(rest, "session") == 0)
		r_session(p, &w, resp);
	else if (strcmp(rest, "live") == 0)
		r_figures(p, req, resp, &w, 0);
	else if (strcmp(rest, "series") == 0)
		r_figures(p, req, resp, &w, 1);
	else if (strcmp(rest, "indicators") == 0)
		r_indicators(p, req, resp, &w);
	else if (strcmp(rest, "tasks") == 0)
		r_tasks(p, resp, &w);
	else
		r_report(p, req, resp, &w);
	psession_clear(&w.s);
}
