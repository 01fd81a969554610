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
 * answer that is not the figures), never its raw body. */
#include "ops.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "auth.h"
#include "ndx/args.h"
#include "ndx/err.h"
#include "ndx/fetch.h"
#include "ndx/file.h"
#include "ndx/id.h"

#define TOKEN_MAX 4096
#define URL_MAX 2048
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

/* The admin token from its file, trimmed, into a new string; NULL (after a
 * line on stderr) when it cannot be read. */
static char *monitor_token(const struct portal *p)
{
	char *text = NULL;
	size_t len = 0;
	int rc = ndx_file_read(p->cfg->monitor_token_file, TOKEN_MAX, &text, &len);

	if (rc != NDX_OK) {
		fprintf(stderr, PORTAL_PROG ": ops: cannot read monitor.token_file %s: %s\n",
			p->cfg->monitor_token_file, ndx_strerror(rc));
		return NULL;
	}
	while (len && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
		text[--len] = '\0';
	if (len == 0 || strlen(text) != len || strpbrk(text, "\r\n")) {
		fprintf(stderr, PORTAL_PROG ": ops: monitor.token_file %s is empty or not one line\n",
			p->cfg->monitor_token_file);
		OPENSSL_cleanse(text, len);
		free(text);
		return NULL;
	}
	return text;
}

/* GET monitor_url + path_query. On NDX_OK *out holds the 200 answer (the
 * caller frees it); otherwise the request has been answered: 503
 * not_configured / monitor_unavailable, 502 monitor. */
static int monitor_get(const struct portal *p, const char *path_query, size_t max_body,
		       struct ndx_fetch_resp *out, struct ndx_http_resp *resp)
{
	char url[URL_MAX], auth[TOKEN_MAX + 32];
	const char *headers[] = { auth, "Accept: application/json", NULL };
	char *token;
	int rc;

	memset(out, 0, sizeof *out);
	if (!p->cfg->monitor_url) {
		reply(resp, 503, "not_configured",
		      "the operations centre is not configured: the portal has no monitor object");
		return -1;
	}
	if (snprintf(url, sizeof url, "%s%s", p->cfg->monitor_url, path_query) >= (int)sizeof url) {
		reply(resp, 400, "invalid", "the query is too long");
		return -1;
	}
	if (!(token = monitor_token(p))) {
		reply(resp, 503, "monitor_unavailable",
		      "the monitoring service's token cannot be read");
		return -1;
	}
	snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
	OPENSSL_cleanse(token, strlen(token));
	free(token);
	struct ndx_fetch_req r = { .method = "GET", .url = url, .headers = headers,
				   .timeout_ms = 15000, .max_body = max_body };
	rc = ndx_fetch(&r, out);
	OPENSSL_cleanse(auth, sizeof auth);
	if (rc != NDX_OK) {
		fprintf(stderr, PORTAL_PROG ": ops: the monitoring service %s: %s\n",
			p->cfg->monitor_url, ndx_strerror(rc));
		reply(resp, 503, "monitor_unavailable", "the monitoring service cannot be reached");
		return -1;
	}
	if (out->status == 200)
		return 0;
	fprintf(stderr, PORTAL_PROG ": ops: the monitoring service answered %ld %s to %s\n",
		out->status, out->xroad_error, path_query);
	if (out->status == 401)
		reply(resp, 502, "monitor", "the monitoring service refused the portal's token");
	else if (out->status == 404)
		reply(resp, 502, "monitor", "the monitoring service does not offer this yet");
	else
		reply(resp, 502, "monitor", "the monitoring service could not answer");
	ndx_fetch_resp_free(out);
	return -1;
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

/* Fills w for the request's official, or answers (401/403) and -1. */
static int official(const struct portal *p, const struct ndx_http_req *req,
		    struct ndx_http_resp *resp, struct who *w)
{
	int rc;

	memset(w, 0, sizeof *w);
	if (auth_session(p, req, &w->s) != NDX_OK) {
		refuse(req, resp, 401, "unauthenticated", "sign in first", "no session");
		return -1;
	}
	if (strcmp(w->s.kind, "citizen") != 0) {
		psession_clear(&w->s);
		refuse(req, resp, 403, "not_official",
		       "the operations centre is for officials signed in with the e-ID",
		       "an officer's session");
		return -1;
	}
	rc = pstore_official_get(p->st, w->s.subject, &w->o);
	if (rc != NDX_OK) {
		psession_clear(&w->s);
		if (rc == NDX_ENOTFOUND)
			refuse(req, resp, 403, "not_official",
			       "this person is not an official of the operations centre",
			       "a citizen");
		else
			reply(resp, 500, "internal", "the officials could not be read");
		return -1;
	}
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

void ops_handle(const struct portal *p, const struct ndx_http_req *req,
		struct ndx_http_resp *resp)
{
	const char *rest = req->path + strlen("/api/ops/");
	int get = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
	struct who w;

	if (!get) {
		ndx_http_resp_header(resp, "Allow", "GET, HEAD");
		reply(resp, 405, "method_not_allowed", "the operations centre's API is read-only");
		return;
	}
	if (strcmp(rest, "session") != 0 && strcmp(rest, "live") != 0 &&
	    strcmp(rest, "series") != 0 && strcmp(rest, "indicators") != 0 &&
	    strcmp(rest, "tasks") != 0 && strcmp(rest, "report") != 0) {
		reply(resp, 404, "not_found", "no such route");
		return;
	}
	if (official(p, req, resp, &w))
		return;
	if (strcmp(rest, "session") == 0)
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
