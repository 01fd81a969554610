/* The indicators' routes (indicators_api.h). A request opens indicators.db
 * for itself and closes it: the routes are rare (an official entering a
 * figure, a page load, a report), and one connection per request keeps
 * them free of shared state. Refusals are the daemon's JSON errors, each
 * naming the field at fault. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "indicators.h"
#include "indicators_api.h"
#include "mstore.h"
#include "indicators_store.h"
#include "indicators_view.h"
#include "ndx/args.h"
#include "ndx/bearer.h"
#include "ndx/err.h"
#include "report.h"

#define PATH_BUF 4096

struct ctx {
	struct ind_catalogue *cat;
	struct istore *st;
	char monitor_db[PATH_BUF];
};

static void bad(struct ndx_http_resp *resp, const char *detail)
{
	ndx_http_resp_error(resp, 400, "Client.InvalidRequest", "invalid request", detail);
}

static void internal(struct ndx_http_resp *resp)
{
	ndx_http_resp_error(resp, 500, "Server.InternalError", "internal error",
			    "the indicators' store could not be read or written");
}

static int open_ctx(const char *dir, const char *monitor_db, struct ctx *c)
{
	char path[PATH_BUF];

	memset(c, 0, sizeof *c);
	if (snprintf(path, sizeof path, "%s/%s", dir, ISTORE_DB_FILE) >= (int)sizeof path ||
	    snprintf(c->monitor_db, sizeof c->monitor_db, "%s", monitor_db) >=
		    (int)sizeof c->monitor_db)
		return NDX_EINVAL;
	if (ind_catalogue_load(&c->cat) != NDX_OK)
		return NDX_EINVAL;
	if (istore_open(path, 1, &c->st) != NDX_OK) {
		ind_catalogue_free(c->cat);
		return NDX_EDB;
	}
	return NDX_OK;
}

static void close_ctx(struct ctx *c)
{
	istore_close(c->st);
	ind_catalogue_free(c->cat);
}

/* The request's JSON object body, or NULL with a 400 answered. */
static json_t *body_object(const struct ndx_http_req *req, struct ndx_http_resp *resp)
{
	json_error_t e;
	json_t *b = req->body ? json_loadb((const char *)req->body, req->body_len,
					   JSON_REJECT_DUPLICATES, &e)
			      : NULL;

	if (!json_is_object(b)) {
		json_decref(b);
		bad(resp, "the body must be a JSON object");
		return NULL;
	}
	return b;
}

/* An optional string member: NULL when absent or null; false when present
 * but neither a string nor null. */
static bool opt_str(const json_t *o, const char *k, const char **out)
{
	const json_t *v = json_object_get(o, k);

	*out = json_string_value(v);
	return !v || json_is_null(v) || json_is_string(v);
}

/* ---- indicators ----------------------------------------------------------------- */

static void get_indicators(struct ctx *c, const struct ndx_http_req *req,
			   struct ndx_http_resp *resp)
{
	const char *ps = ndx_http_query_arg(req, "period");
	struct ind_period p;
	struct ind_view_opts vo = { .cat = c->cat, .st = c->st, .monitor_db = c->monitor_db,
				    .now_s = (int64_t)time(NULL) };
	json_t *view;

	if (ps && ind_period_parse(ps, &p) != NDX_OK) {
		bad(resp, "period: a month (2026-07) or a half-year (2026-H2)");
		return;
	}
	vo.period = ps ? &p : NULL;
	if (ind_view(&vo, &view) != NDX_OK) {
		internal(resp);
		return;
	}
	ndx_http_resp_json(resp, 200, view);
}

/* POST /api/indicators/{id}/values {"period", "scope", "value", "source",
 * "entered_by", "note"?} */
static void post_value(struct ctx *c, const char *id, const struct ndx_http_req *req,
		       struct ndx_http_resp *resp)
{
	json_t *b = body_object(req, resp);
	const char *period, *scope, *source, *by, *note, *field = NULL, *why = NULL;
	struct ind_checked chk;
	int64_t row;
	int rc;

	if (!b)
		return;
	if (!ind_catalogue_find(c->cat, id)) {
		ndx_http_resp_error(resp, 404, "Client.NotFound", "no such indicator",
				    "no indicator of the catalogue has this id");
		goto out;
	}
	if (!opt_str(b, "period", &period) || !opt_str(b, "scope", &scope) ||
	    !opt_str(b, "source", &source) || !opt_str(b, "entered_by", &by) ||
	    !opt_str(b, "note", &note) || !json_is_number(json_object_get(b, "value"))) {
		bad(resp, "period, scope, source, entered_by and note are strings, value a number");
		goto out;
	}
	rc = ind_entry_check(c->cat, id, period, scope,
			     json_number_value(json_object_get(b, "value")), source, by, note,
			     &chk, &field, &why);
	if (rc != NDX_OK) {
		bad(resp, why);
		goto out;
	}
	struct ind_entry e = { .indicator = id, .period = period, .period_key = chk.key,
			       .scope = chk.scope, .source = source, .entered_by = by,
			       .note = note, .value = json_number_value(json_object_get(b, "value")),
			       .entered_at = (int64_t)time(NULL) };
	if (istore_add_value(c->st, &e, &row) != NDX_OK) {
		internal(resp);
		goto out;
	}
	ndx_http_resp_json(resp, 201,
			   json_pack("{s:I s:s s:s s:s s:f}", "id", (json_int_t)row, "indicator",
				     id, "period", period, "scope", chk.scope, "value", e.value));
out:
	json_decref(b);
}

/* ---- tasks ------------------------------------------------------------------------ */

static void get_tasks(struct ctx *c, const struct ndx_http_req *req, struct ndx_http_resp *resp)
{
	const char *as_of = ndx_http_query_arg(req, "as_of");
	char today[IND_DATE_MAX];
	json_t *tasks;

	if (as_of && ind_date_check(as_of) != NDX_OK) {
		bad(resp, "as_of: a date YYYY-MM-DD");
		return;
	}
	ind_date_of((int64_t)time(NULL), today);
	if (istore_tasks(c->st, as_of ? as_of : today, &tasks) != NDX_OK) {
		internal(resp);
		return;
	}
	ndx_http_resp_json(resp, 200, json_pack("{s:s s:o}", "as_of", as_of ? as_of : today,
						"tasks", tasks));
}

static const char *task_refusal(const char *title, const char *lead, const char *deadline,
				const char *status, const char *evidence, const char *by,
				bool adding, char canon[IND_SCOPE_MAX])
{
	enum ind_scope_kind kind;
	const char *why;

	if (adding && !ind_text_ok(title, IND_TEXT_MAX))
		return "title: 1 to 1000 bytes of text";
	if (adding && (ind_scope_parse(lead, canon, &kind, &why) != NDX_OK || kind != IND_MEMBER))
		return "lead: the lead agency's member id (VN/GOV/BCA)";
	if (adding && ind_date_check(deadline) != NDX_OK)
		return "deadline: a date YYYY-MM-DD";
	if (status && !ind_task_status_ok(status))
		return "status: not_started, in_progress or done";
	if (evidence && !ind_text_ok(evidence, IND_TEXT_MAX))
		return "evidence: 1 to 1000 bytes of text";
	if (!ind_text_ok(by, IND_BY_MAX))
		return "updated_by: the official, 1 to 200 bytes";
	return NULL;
}

/* POST /api/tasks {"title", "lead", "deadline", "status"?, "evidence"?, "updated_by"} */
static void post_task(struct ctx *c, const struct ndx_http_req *req, struct ndx_http_resp *resp)
{
	json_t *b = body_object(req, resp);
	const char *title, *lead, *deadline, *status, *evidence, *by, *why;
	char canon[IND_SCOPE_MAX];
	int64_t id;

	if (!b)
		return;
	if (!opt_str(b, "title", &title) || !opt_str(b, "lead", &lead) ||
	    !opt_str(b, "deadline", &deadline) || !opt_str(b, "status", &status) ||
	    !opt_str(b, "evidence", &evidence) || !opt_str(b, "updated_by", &by))
		why = "every field is a string";
	else
		why = task_refusal(title, lead, deadline, status, evidence, by, true, canon);
	if (why)
		bad(resp, why);
	else if (istore_task_add(c->st, title, canon, deadline, status ? status : "not_started",
				 evidence, by, (int64_t)time(NULL), &id) != NDX_OK)
		internal(resp);
	else
		ndx_http_resp_json(resp, 201, json_pack("{s:I}", "id", (json_int_t)id));
	json_decref(b);
}

/* POST /api/tasks/{n} {"status"?, "evidence"?, "updated_by"} */
static void post_task_update(struct ctx *c, const char *n, const struct ndx_http_req *req,
			     struct ndx_http_resp *resp)
{
	unsigned long long id;
	json_t *b;
	const char *status, *evidence, *by, *why;
	int rc;

	if (ndx_args_uint(n, 1, INT64_MAX, &id) != NDX_OK) {
		ndx_http_resp_error(resp, 404, "Client.NotFound", "no such task",
				    "a task is named by its number");
		return;
	}
	if (!(b = body_object(req, resp)))
		return;
	if (!opt_str(b, "status", &status) || !opt_str(b, "evidence", &evidence) ||
	    !opt_str(b, "updated_by", &by))
		why = "every field is a string";
	else if (!status && !evidence)
		why = "nothing to change: give status or evidence";
	else
		why = task_refusal(NULL, NULL, NULL, status, evidence, by, false, NULL);
	if (why) {
		bad(resp, why);
	} else if ((rc = istore_task_update(c->st, (int64_t)id, status, evidence, by,
					    (int64_t)time(NULL))) == NDX_ENOTFOUND) {
		ndx_http_resp_error(resp, 404, "Client.NotFound", "no such task",
				    "no task has this number");
	} else if (rc) {
		internal(resp);
	} else {
		ndx_http_resp_json(resp, 200, json_pack("{s:I}", "id", (json_int_t)id));
	}
	json_decref(b);
}

/* ---- the report -------------------------------------------------------------------- */

static void get_report(struct ctx *c, const struct ndx_http_req *req, struct ndx_http_resp *resp)
{
	const char *ps = ndx_http_query_arg(req, "period");
	struct ind_period p;
	unsigned char *pdf = NULL;
	size_t len = 0;
	char disp[80];

	if (!ps || ind_period_parse(ps, &p) != NDX_OK || p.kind != IND_HALF) {
		bad(resp, "period: a half-year, e.g. 2026-H2");
		return;
	}
	struct report_opts ro = { .cat = c->cat, .st = c->st, .monitor_db = c->monitor_db,
				  .period = &p };
	if (report_generate(&ro, &pdf, &len) != NDX_OK) {
		internal(resp);
		return;
	}
	snprintf(disp, sizeof disp, "attachment; filename=\"ndx-report-%s.pdf\"", ps);
	ndx_http_resp_header(resp, "Content-Disposition", disp);
	ndx_http_resp_bytes(resp, 200, "application/pdf", pdf, len);
	free(pdf);
}

/* ---- routing ---------------------------------------------------------------------- */

static bool is_get(const char *m)
{
	return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
}

static void method_not_allowed(struct ndx_http_resp *resp, const char *allow)
{
	ndx_http_resp_header(resp, "Allow", allow);
	ndx_http_resp_error(resp, 405, "Client.MethodNotAllowed", "method not allowed", allow);
}

/* One path segment after prefix, written into out; false when the rest is
 * not "SEG" + suffix exactly. */
static bool segment(const char *path, const char *prefix, const char *suffix, char *out,
		    size_t cap)
{
	size_t pl = strlen(prefix), sl = strlen(suffix), len = strlen(path), seg;

	if (len <= pl + sl || strncmp(path, prefix, pl) != 0 ||
	    strcmp(path + len - sl, suffix) != 0)
		return false;
	seg = len - pl - sl;
	if (seg >= cap || memchr(path + pl, '/', seg))
		return false;
	memcpy(out, path + pl, seg);
	out[seg] = '\0';
	return true;
}

bool ind_api_handle(const char *data_dir, const char *monitor_db, const char *token_sha256,
		    const struct ndx_http_req *req, struct ndx_http_resp *resp)
{
	const char *path = req->path;
	char seg[128];
	struct ctx c;

	if (strcmp(path, "/api/indicators") != 0 && strncmp(path, "/api/indicators/", 16) != 0 &&
	    strcmp(path, "/api/tasks") != 0 && strncmp(path, "/api/tasks/", 11) != 0 &&
	    strcmp(path, "/api/report") != 0)
		return false;
	if (!ndx_bearer_check(req, resp, token_sha256, "ndx-monitor"))
		return true;
	if (open_ctx(data_dir, monitor_db, &c) != NDX_OK) {
		internal(resp);
		return true;
	}
	if (strcmp(path, "/api/indicators") == 0) {
		if (is_get(req->method))
			get_indicators(&c, req, resp);
		else
			method_not_allowed(resp, "GET, HEAD");
	} else if (segment(path, "/api/indicators/", "/values", seg, sizeof seg)) {
		if (strcmp(req->method, "POST") == 0)
			post_value(&c, seg, req, resp);
		else
			method_not_allowed(resp, "POST");
	} else if (strcmp(path, "/api/tasks") == 0) {
		if (is_get(req->method))
			get_tasks(&c, req, resp);
		else if (strcmp(req->method, "POST") == 0)
			post_task(&c, req, resp);
		else
			method_not_allowed(resp, "GET, HEAD, POST");
	} else if (segment(path, "/api/tasks/", "", seg, sizeof seg)) {
		if (strcmp(req->method, "POST") == 0)
			post_task_update(&c, seg, req, resp);
		else
			method_not_allowed(resp, "POST");
	} else if (strcmp(path, "/api/report") == 0) {
		if (is_get(req->method))
			get_report(&c, req, resp);
		else
			method_not_allowed(resp, "GET, HEAD");
	} else {
		ndx_http_resp_error(resp, 404, "Client.NotFound", "not found", "no such path");
	}
	close_ctx(&c);
	return true;
}
