/* The citizen's access list (access_list.h, docs/portal.md "The access
 * list"). Each provider gateway filters its own log (own, client, purpose,
 * since, until) and answers its newest rows with their total; for page n the
 * portal asks every provider for its newest n pages' worth, merges them newest
 * first and keeps page n, so the page is exact whatever the providers' mix.
 * Dates people type (dd/mm/yyyy) are days in Vietnam time (UTC+7, no
 * daylight saving) and become RFC 3339 UTC bounds here. The citizen's ID
 * token is checked before anything is asked: an expired one is never sent. */
#include "access_list.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "exchange.h"
#include "monitor_client.h"
#include "ndx/fetch.h"
#include "ndx/err.h"
#include "ndx/id.h"
#include "ndx/timefmt.h"

#define TRANSPARENCY_CODE "transparency"
#define VN_OFFSET_S (7 * 3600)
#define PURPOSE_MAX 64
#define DAY_TEXT 32

struct query {
	const char *own;
	char agency[NDX_ID_TEXT_MAX];
	char purpose[PURPOSE_MAX + 1];
	char from[DAY_TEXT], to[DAY_TEXT]; /* dd/mm/yyyy, "" when none */
	char since[NDX_TIME_TEXT_LEN], until[NDX_TIME_TEXT_LEN]; /* "" when none */
	int page;
};

static const char *str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

static int oom(struct perr *e)
{
	return perr_set(e, 500, "internal", "out of memory");
}

static int given(const char *v)
{
	return v && *v;
}

/* ---- the filters ---------------------------------------------------------------- */

/* "d/m/yyyy" or "dd/mm/yyyy", a real calendar day: *day = its Vietnam
 * midnight as UTC seconds; the canonical "dd/mm/yyyy" into text. */
static int parse_day(const char *in, time_t *day, char text[DAY_TEXT])
{
	int d = 0, m = 0, y = 0, nd = 0, nm = 0, ny = 0;
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	const char *c = in;
	struct tm tm = { 0 };

	for (; *c >= '0' && *c <= '9' && nd < 2; c++, nd++)
		d = d * 10 + (*c - '0');
	if (!nd || *c++ != '/')
		return -1;
	for (; *c >= '0' && *c <= '9' && nm < 2; c++, nm++)
		m = m * 10 + (*c - '0');
	if (!nm || *c++ != '/')
		return -1;
	for (; *c >= '0' && *c <= '9' && ny < 4; c++, ny++)
		y = y * 10 + (*c - '0');
	if (ny != 4 || *c || y < 1970 || m < 1 || m > 12 || d < 1)
		return -1;
	if (d > mdays[m - 1] + (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)))
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = m - 1;
	tm.tm_mday = d;
	*day = timegm(&tm) - VN_OFFSET_S;
	snprintf(text, DAY_TEXT, "%02d/%02d/%04d", d, m, y);
	return 0;
}

static void field_error(json_t *errs, const char *field, const char *code)
{
	if (!json_object_get(errs, field))
		json_object_set_new(errs, field, json_string(code));
}

static int check_filter(const struct access_filter *f, struct query *q, struct perr *e)
{
	json_t *errs = json_object();
	time_t from = 0, to = 0;
	struct ndx_id id;

	memset(q, 0, sizeof *q);
	q->own = "exclude";
	q->page = 1;
	if (!errs)
		return oom(e);
	if (given(f->own)) {
		if (strcmp(f->own, "include") == 0 || strcmp(f->own, "exclude") == 0 ||
		    strcmp(f->own, "only") == 0)
			q->own = strcmp(f->own, "include") == 0	  ? "include"
				 : strcmp(f->own, "only") == 0 ? "only"
							       : "exclude";
		else
			field_error(errs, "own", "invalid");
	}
	if (given(f->agency)) {
		if (strlen(f->agency) < sizeof q->agency &&
		    ndx_id_parse(f->agency, strlen(f->agency), NDX_ID_MEMBER, &id, NULL) == NDX_OK)
			snprintf(q->agency, sizeof q->agency, "%s", f->agency);
		else
			field_error(errs, "agency", "invalid");
	}
	if (given(f->purpose)) {
		size_t n = strlen(f->purpose);

		if (n <= PURPOSE_MAX &&
		    strspn(f->purpose, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				       "0123456789-_.:") == n)
			snprintf(q->purpose, sizeof q->purpose, "%s", f->purpose);
		else
			field_error(errs, "purpose", n > PURPOSE_MAX ? "too_long" : "invalid");
	}
	if (given(f->from)) {
		if (strlen(f->from) > 10 || parse_day(f->from, &from, q->from))
			field_error(errs, "from", "invalid");
		else
			ndx_time_format(from, q->since);
	}
	if (given(f->to)) {
		if (strlen(f->to) > 10 || parse_day(f->to, &to, q->to))
			field_error(errs, "to", "invalid");
		else
			ndx_time_format(to + 86400 - 1, q->until); /* the whole day */
	}
	if (q->since[0] && q->until[0] && to < from)
		field_error(errs, "to", "out_of_range");
	if (given(f->page)) {
		char *end;
		long n = strtol(f->page, &end, 10);

		if (*end || strlen(f->page) > 4 || f->page[0] == '-' || f->page[0] == '+')
			field_error(errs, "page", "invalid");
		else if (n < 1 || n > ACCESS_MAX_PAGES)
			field_error(errs, "page", "out_of_range");
		else
			q->page = (int)n;
	}
	if (json_object_size(errs)) {
		perr_set(e, 422, "validation", "some filters are not valid");
		e->fields = errs;
		return -1;
	}
	json_decref(errs);
	return 0;
}

/* "?limit=…&own=…[&client=…][&purpose=…][&since=…][&until=…]" (malloc'd). */
static char *provider_query(const struct query *q)
{
	char *agency = ndx_fetch_escape(q->agency), *purpose = ndx_fetch_escape(q->purpose), *out = NULL;
	size_t n;

	if (agency && purpose) {
		n = strlen(agency) + strlen(purpose) + 160;
		if ((out = malloc(n)))
			snprintf(out, n, "?limit=%d&own=%s%s%s%s%s%s%s%s%s",
				 q->page * ACCESS_PER_PAGE, q->own, q->agency[0] ? "&client=" : "",
				 agency, q->purpose[0] ? "&purpose=" : "", purpose,
				 q->since[0] ? "&since=" : "", q->since,
				 q->until[0] ? "&until=" : "", q->until);
	}
	free(agency);
	free(purpose);
	return out;
}

/* ---- names --------------------------------------------------------------------- */

/* The member id (first three parts) of a member, subsystem or user id into
 * out; "" when id has fewer than three parts. Returns the rest after it
 * (after its '/'), or "" when none. */
static const char *member_of(const char *id, char *out, size_t cap)
{
	const char *q = id;
	size_t parts = 0;

	for (; *q; q++)
		if (*q == '/' && ++parts == 3)
			break;
	if (parts < 2) {
		out[0] = '\0';
		return "";
	}
	snprintf(out, cap, "%.*s", (int)(q - id), id);
	return *q ? q + 1 : "";
}

/* The members of the federation with their names, once each, for the
 * agency filter. */
static json_t *agencies(const json_t *clients)
{
	json_t *out = json_array(), *c;
	size_t i;

	json_array_foreach(clients, i, c) {
		char member[NDX_ID_TEXT_MAX];
		const json_t *have;
		size_t j;
		int seen = 0;

		member_of(str(c, "id"), member, sizeof member);
		if (!member[0])
			continue;
		json_array_foreach(out, j, have)
			seen |= strcmp(str(have, "id"), member) == 0;
		if (!seen && out)
			json_array_append_new(out, json_pack("{s:s,s:s}", "id", member, "name",
							     str(c, "member_name")));
	}
	return out;
}

/* One provider's entry as the web UI shows it: names instead of ids where
 * the federation has them, the outcome in one word, the officer and the
 * procedure of an officer's read taken apart. */
static json_t *row(const json_t *a, const json_t *clients, const char *provider)
{
	char cm[NDX_ID_TEXT_MAX], om[NDX_ID_TEXT_MAX];
	const char *user_id = str(a, "user_id"), *issue = str(a, "issue");
	const char *outcome = str(a, "outcome");
	const json_t *status = json_object_get(a, "status");
	json_int_t st = json_is_integer(status) ? json_integer_value(status) : 0;
	json_t *officer = json_null(), *procedure = json_null(), *r;

	member_of(str(a, "client"), cm, sizeof cm);
	if (!*outcome) /* a gateway from before the outcome was listed */
		outcome = st >= 400 ? (st == 404 ? "no_data" : "refused") : "returned";
	if (*user_id) {
		const char *user = member_of(user_id, om, sizeof om);

		officer = json_pack("{s:s,s:s,s:s}", "agency", om, "agency_name",
				    exchange_member_name(clients, om), "user", om[0] ? user : user_id);
	}
	if (*issue) {
		const char *slash = strchr(issue, '/');

		procedure = slash ? json_pack("{s:s%,s:s}", "kind", issue, (size_t)(slash - issue),
					      "id", slash + 1)
				  : json_pack("{s:s,s:s}", "kind", "", "id", issue);
	}
	r = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:I,s:s,s:o*,s:o*}", "time",
		      str(a, "time"), "provider", provider, "provider_name",
		      exchange_member_name(clients, provider), "client", str(a, "client"), "agency", cm,
		      "agency_name", exchange_member_name(clients, cm), "service", str(a, "service"),
		      "service_title", str(a, "service_title"), "purpose", str(a, "purpose"),
		      "outcome", outcome, "own", json_is_true(json_object_get(a, "own")), "status",
		      st, "message_id", str(a, "message_id"), "officer", officer, "procedure",
		      procedure);
	return r;
}

/* Newest first; rows of one second keep their provider's order (its log's),
 * providers in the configuration's order. The key is the same whatever the
 * number of rows asked for, so page n of a longer merge starts where page
 * n - 1 of a shorter one ended. */
struct ranked {
	const json_t *row;
	size_t provider, at;
};

static int by_time_desc(const void *a, const void *b)
{
	const struct ranked *x = a, *y = b;
	int c = strcmp(str(y->row, "time"), str(x->row, "time"));

	if (c)
		return c;
	if (x->provider != y->provider)
		return x->provider < y->provider ? -1 : 1;
	return x->at < y->at ? -1 : x->at > y->at;
}

/* ---- gathering ------------------------------------------------------------------ */

struct gathered {
	json_t *rows;        /* every provider's rows */
	struct ranked *rank; /* beside rows */
	size_t providers;
	json_t *unavailable; /* [{"provider","provider_name","reason","error"}] */
	long long total;
	int truncated;
};

/* Why a provider's list is missing, in a word the web UI translates:
 * "unreachable", "sign_in_refused" (its gateway did not accept the ID
 * token), "refused", "unexpected". error keeps the X-Road type for people
 * who run the portal; the web UI never shows it. */
static void unavailable(struct gathered *g, const json_t *clients, const char *provider,
			const char *reason, const char *error)
{
	json_array_append_new(g->unavailable,
			      json_pack("{s:s,s:s,s:s,s:s}", "provider", provider, "provider_name",
					exchange_member_name(clients, provider), "reason", reason, "error",
					error));
}

static void ask_provider(const struct portal *p, const struct psession *s, const char *token,
			 const char *query, const char *member, const json_t *clients,
			 struct gathered *g)
{
	char service[NDX_ID_TEXT_MAX + 32];
	struct xresult r;
	const json_t *list, *a, *total;
	size_t i;
	int rc;

	snprintf(service, sizeof service, "%s/" TRANSPARENCY_CODE "/accesses", member);
	struct xcall c = { .method = "GET", .service = service, .path = query,
			   .subject = s->subject, .purpose = PURPOSE_TRANSPARENCY,
			   .subject_token = token };
	rc = exchange_call(p, &c, &r);
	list = json_object_get(r.json, "accesses");
	if (rc != NDX_OK) {
		unavailable(g, clients, member, "unreachable", "");
	} else if (r.status == 200 && json_is_array(list)) {
		json_array_foreach(list, i, a) {
			struct ranked *more;
			size_t n = json_array_size(g->rows);

			if (!json_is_object(a) || !(more = realloc(g->rank, (n + 1) * sizeof *more)))
				continue;
			g->rank = more;
			if (json_array_append_new(g->rows, row(a, clients, member)))
				continue;
			g->rank[n] = (struct ranked){ .row = json_array_get(g->rows, n),
						      .provider = g->providers, .at = i };
		}
		g->providers++;
		total = json_object_get(r.json, "total");
		g->total += json_is_integer(total) && json_integer_value(total) >= 0
				    ? json_integer_value(total)
				    : (json_int_t)json_array_size(list);
		g->truncated |= json_is_true(json_object_get(r.json, "truncated"));
	} else if (strncmp(r.reason, "SubjectToken", 12) == 0) {
		unavailable(g, clients, member, "sign_in_refused", r.reason);
	} else {
		/* A gateway's refusal names its reason; only a gateway that cannot
		 * reach the provider (or none at all) is "unreachable". */
		bool down = r.status == 0 || strstr(r.type, "NetworkError") ||
			    (!r.type[0] && r.status >= 500);
		unavailable(g, clients, member, down ? "unreachable" : r.type[0] ? "refused"
									  : "unexpected",
			    r.reason[0] ? r.reason : r.type);
	}
	xresult_free(&r);
}

/* The page `page` of g's rows, newest first. */
static json_t *page_of(struct gathered *g, int page)
{
	size_t n = json_array_size(g->rows), i, first = (size_t)(page - 1) * ACCESS_PER_PAGE;
	json_t *out = json_array();

	if (!out)
		return NULL;
	if (n)
		qsort(g->rank, n, sizeof *g->rank, by_time_desc);
	for (i = first; i < n && i < first + ACCESS_PER_PAGE; i++)
		json_array_append(out, (json_t *)g->rank[i].row);
	return out;
}

int access_list(const struct portal *p, const struct psession *s, const struct access_filter *f,
		json_t **out, struct perr *e)
{
	struct gathered g = { 0 };
	struct query q;
	const char *token;
	json_t *clients = NULL, *c, *page = NULL, *filter;
	char *query = NULL;
	long long pages;
	size_t i;
	int rc;

	*out = NULL;
	if (check_filter(f, &q, e) || auth_need_token(s, &token, e))
		return -1;
	if ((rc = exchange_list_clients(p, &clients)))
		return perr_set(e, 502, "exchange", "listClients: %s",
				rc == NDX_ENET ? "gateway unreachable" : "unexpected answer");
	g.rows = json_array();
	g.unavailable = json_array();
	if (!g.rows || !g.unavailable || !(query = provider_query(&q)))
		goto nomem;
	json_array_foreach(clients, i, c) {
		const char *id = str(c, "id");
		const char *slash = strrchr(id, '/');
		char member[NDX_ID_TEXT_MAX];

		if (!slash || strcmp(slash + 1, TRANSPARENCY_CODE) != 0 ||
		    (size_t)(slash - id) >= sizeof member)
			continue;
		snprintf(member, sizeof member, "%.*s", (int)(slash - id), id);
		ask_provider(p, s, token, query, member, clients, &g);
	}
	if (!(page = page_of(&g, q.page)))
		goto nomem;
	pages = (g.total + ACCESS_PER_PAGE - 1) / ACCESS_PER_PAGE;
	filter = json_pack("{s:s,s:s,s:s,s:s,s:s}", "own", q.own, "agency", q.agency, "purpose",
			   q.purpose, "from", q.from, "to", q.to);
	*out = json_pack("{s:o,s:I,s:i,s:I,s:i,s:b,s:o*,s:o*,s:O}", "accesses", page, "total",
			 (json_int_t)g.total, "page", q.page, "pages",
			 (json_int_t)(pages > ACCESS_MAX_PAGES ? ACCESS_MAX_PAGES : pages),
			 "per_page", ACCESS_PER_PAGE, "truncated",
			 g.truncated || g.total > (long long)ACCESS_MAX_PAGES * ACCESS_PER_PAGE,
			 "filter", filter, "agencies", agencies(clients), "unavailable",
			 g.unavailable);
	free(query);
	free(g.rank);
	json_decref(g.rows);
	json_decref(g.unavailable);
	json_decref(clients);
	return *out ? 0 : oom(e);
nomem:
	free(query);
	free(g.rank);
	json_decref(g.rows);
	json_decref(g.unavailable);
	json_decref(clients);
	return oom(e);
}

/* ---- misuse: the citizen's confirmed cases and reports ---------------------------- */

/* A monitoring service failure in the citizen's words: 503
 * monitor_unavailable when there is none or it cannot be reached, 502
 * monitor when it answered something else. */
static int monitor_failed(enum monitor_fail f, const char *why, struct perr *e)
{
	if (f != MONITOR_NOT_CONFIGURED)
		fprintf(stderr, "ndx-portal: misuse: %s\n", why);
	if (f == MONITOR_BAD_REQUEST)
		return oom(e);
	return perr_set(e, 503, "monitor_unavailable",
			"the monitoring service is not available");
}

/* The members of a subject case the citizen may see: what was found and
 * when, in words; never the evidence (other people may be in it). */
static json_t *citizen_case(const json_t *c)
{
	static const char *const keep[] = { "id", "kind", "client", "client_member",
					    "service", "opened_ms", "updated_ms",
					    "confirmed_ms", "explanation", "explanation_en",
					    NULL };
	json_t *o = json_object();

	for (size_t i = 0; o && keep[i]; i++) {
		json_t *v = json_object_get(c, keep[i]);

		if (json_is_string(v) || json_is_integer(v))
			json_object_set(o, keep[i], v);
	}
	return o;
}

int access_misuse(const struct portal *p, const struct psession *s, json_t **out,
		  struct perr *e)
{
	struct ndx_fetch_resp r;
	char pq[64], why[512];
	enum monitor_fail f;
	json_t *doc, *list, *c;
	size_t i;

	*out = NULL;
	snprintf(pq, sizeof pq, "/api/subject-cases?subject=%s", s->subject);
	f = monitor_client_call(p->cfg, "GET", pq, NULL, 0, 0, 10000, &r, why, sizeof why);
	if (f != MONITOR_OK)
		return monitor_failed(f, why, e);
	doc = r.status == 200 && r.body ? json_loadb(r.body, r.len, 0, NULL) : NULL;
	if (r.status != 200)
		fprintf(stderr, "ndx-portal: misuse: the monitoring service answered %ld to "
				"/api/subject-cases\n", r.status);
	ndx_fetch_resp_free(&r);
	list = json_object_get(doc, "cases");
	if (!json_is_array(list)) {
		json_decref(doc);
		return perr_set(e, 502, "monitor", "the monitoring service answered something else");
	}
	if (!(*out = json_pack("{s:[]}", "cases"))) {
		json_decref(doc);
		return oom(e);
	}
	json_array_foreach(list, i, c)
		if (json_is_object(c))
			json_array_append_new(json_object_get(*out, "cases"), citizen_case(c));
	json_decref(doc);
	return 0;
}

#define NOTE_MAX 500
#define MESSAGE_ID_MAX 128

static int report_fields(const json_t *body, const char **gateway, const char **message_id,
			 const char **note, struct perr *e)
{
	json_t *errs = json_object(), *v;
	const char *k;
	struct ndx_id id;

	*gateway = *message_id = *note = NULL;
	if (!errs)
		return oom(e);
	json_object_foreach((json_t *)body, k, v)
		if (strcmp(k, "gateway") != 0 && strcmp(k, "message_id") != 0 &&
		    strcmp(k, "note") != 0)
			field_error(errs, k, "unknown"); /* the subject is the session's */
	*gateway = json_string_value(json_object_get(body, "gateway"));
	if (!*gateway || !**gateway)
		field_error(errs, "gateway", "required");
	else if (strlen(*gateway) >= NDX_ID_TEXT_MAX ||
		 (ndx_id_parse(*gateway, strlen(*gateway), NDX_ID_MEMBER, &id, NULL) != NDX_OK &&
		  ndx_id_parse(*gateway, strlen(*gateway), NDX_ID_SUBSYSTEM, &id, NULL) != NDX_OK))
		field_error(errs, "gateway", "invalid");
	*message_id = json_string_value(json_object_get(body, "message_id"));
	if (!*message_id || !**message_id)
		field_error(errs, "message_id", "required");
	else if (strlen(*message_id) > MESSAGE_ID_MAX ||
		 strspn(*message_id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				     "0123456789-_.:") != strlen(*message_id))
		field_error(errs, "message_id", "invalid");
	v = json_object_get(body, "note");
	if (v && !json_is_null(v) && !json_is_string(v))
		field_error(errs, "note", "invalid");
	else if (json_is_string(v) && strlen(json_string_value(v)) > NOTE_MAX)
		field_error(errs, "note", "too_long");
	*note = json_is_string(v) ? json_string_value(v) : "";
	if (json_object_size(errs)) {
		perr_set(e, 422, "validation", "the report is not complete");
		e->fields = errs;
		return -1;
	}
	json_decref(errs);
	return 0;
}

/* The names of member's gateways as the monitoring service collects them
 * (its /api/live lists them): the access list names the provider, a
 * member; the monitoring service knows a read by its gateway's name. A new
 * array (empty when it lists none), or NULL with e set. */
static json_t *member_gateways(const struct portal *p, const char *member, struct perr *e)
{
	struct ndx_fetch_resp r;
	enum monitor_fail f;
	json_t *doc, *names, *gw;
	char *esc = ndx_fetch_escape(member), pq[NDX_ID_TEXT_MAX * 3 + 64], why[512];
	size_t i;

	if (!esc) {
		oom(e);
		return NULL;
	}
	snprintf(pq, sizeof pq, "/api/live?window=1&member=%s", esc);
	free(esc);
	f = monitor_client_call(p->cfg, "GET", pq, NULL, 0, 0, 10000, &r, why, sizeof why);
	if (f != MONITOR_OK) {
		monitor_failed(f, why, e);
		return NULL;
	}
	doc = r.status == 200 && r.body ? json_loadb(r.body, r.len, 0, NULL) : NULL;
	ndx_fetch_resp_free(&r);
	if (!json_is_array(json_object_get(doc, "gateways")) || !(names = json_array())) {
		json_decref(doc);
		perr_set(e, 502, "monitor", "the monitoring service answered something else");
		return NULL;
	}
	json_array_foreach(json_object_get(doc, "gateways"), i, gw) {
		const char *name = str(gw, "name");

		if (strcmp(str(gw, "member"), member) == 0 && *name)
			json_array_append_new(names, json_string(name));
	}
	json_decref(doc);
	return names;
}

/* POSTs the report to the monitoring service as gateway's: 0 with *r (the
 * caller frees it), or -1 with e set. */
static int report_send(const struct portal *p, const struct psession *s, const char *gateway,
		       const char *message_id, const char *note, struct ndx_fetch_resp *r,
		       struct perr *e)
{
	enum monitor_fail f;
	json_t *send;
	char *text, why[512];

	/* The person reporting is the signed-in citizen, never one the page
	 * names. */
	send = json_pack("{s:s,s:s,s:s,s:s}", "subject", s->subject, "gateway", gateway,
			 "message_id", message_id, "note", note);
	text = send ? json_dumps(send, JSON_COMPACT) : NULL;
	json_decref(send);
	if (!text)
		return oom(e);
	f = monitor_client_call(p->cfg, "POST", "/api/subject-reports", text, strlen(text), 0,
				10000, r, why, sizeof why);
	free(text);
	return f == MONITOR_OK ? 0 : monitor_failed(f, why, e);
}

int access_report(const struct portal *p, const struct psession *s, const json_t *body,
		  json_t **out, int *status, struct perr *e)
{
	const char *gateway, *message_id, *note;
	struct ndx_fetch_resp r = { 0 };
	json_t *doc, *id, *names;
	struct ndx_id gid;
	size_t i;

	*out = NULL;
	if (report_fields(body, &gateway, &message_id, &note, e))
		return -1;
	/* A member (the access list's provider): each of its gateways in turn
	 * until one knows the read; a gateway's name: that one. */
	if (ndx_id_parse(gateway, strlen(gateway), NDX_ID_MEMBER, &gid, NULL) == NDX_OK) {
		if (!(names = member_gateways(p, gateway, e)))
			return -1;
	} else if (!(names = json_pack("[s]", gateway))) {
		return oom(e);
	}
	r.status = 404;
	for (i = 0; i < json_array_size(names) && r.status == 404; i++) {
		ndx_fetch_resp_free(&r);
		if (report_send(p, s, json_string_value(json_array_get(names, i)), message_id, note,
				&r, e)) {
			json_decref(names);
			return -1;
		}
	}
	json_decref(names);
	if (r.status == 404) {
		ndx_fetch_resp_free(&r);
		return perr_set(e, 404, "unknown_read",
				"the monitoring service does not know this read (yet)");
	}
	if (r.status != 200 && r.status != 201) {
		fprintf(stderr, "ndx-portal: misuse: the monitoring service answered %ld to "
				"/api/subject-reports\n", r.status);
		ndx_fetch_resp_free(&r);
		return perr_set(e, 502, "monitor", "the monitoring service did not take the report");
	}
	doc = r.body ? json_loadb(r.body, r.len, 0, NULL) : NULL;
	id = json_object_get(doc, "id");
	if (!id)
		id = json_object_get(json_object_get(doc, "case"), "id");
	*status = (int)r.status;
	*out = json_pack("{s:s,s:O*}", "status", r.status == 201 ? "reported" : "already_reported",
			 "case", (json_is_string(id) || json_is_integer(id)) ? id : NULL);
	json_decref(doc);
	ndx_fetch_resp_free(&r);
	return *out ? 0 : oom(e);
}
