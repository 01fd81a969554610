/* cases_api.h. Refusals are the daemon's X-Road style JSON errors, each
 * naming the field at fault, with one line on stderr (the path and the
 * field, never a personal number: the citizen's routes carry one). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cases.h"
#include "cases_api.h"
#include "misuse.h"
#include "mreads.h"
#include "ndx/args.h"
#include "ndx/bearer.h"
#include "ndx/err.h"
#include "ndx/id.h"
#include "ndx/pin.h"
#include "ndx/text.h"

#define PROG "ndx-monitor"
/* A push of more is split by the portal: the body cap (64 KiB) holds
 * about this many. */
#define PROCEDURES_MAX 500
#define LIMIT_DEFAULT 100
#define LIMIT_MAX 1000
#define NOTE_MAX 1000

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void refuse(const struct ndx_http_req *req, struct ndx_http_resp *resp, int status,
		   const char *type, const char *message, const char *detail)
{
	fprintf(stderr, PROG ": %s %s refused %d: %s\n", req->method, req->path, status, detail);
	ndx_http_resp_error(resp, status, type, message, detail);
}

static void bad(const struct ndx_http_req *req, struct ndx_http_resp *resp, const char *detail)
{
	refuse(req, resp, 400, "Client.InvalidRequest", "invalid request", detail);
}

static void internal(struct ndx_http_resp *resp)
{
	ndx_http_resp_error(resp, 500, "Server.InternalError", "internal error",
			    "the store could not be read or written");
}

static void method_not_allowed(struct ndx_http_resp *resp, const char *allow)
{
	ndx_http_resp_header(resp, "Allow", allow);
	ndx_http_resp_error(resp, 405, "Client.MethodNotAllowed", "method not allowed", allow);
}

static bool is_get(const char *m)
{
	return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
}

static bool is_post(const char *m)
{
	return strcmp(m, "POST") == 0;
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
		bad(req, resp, "the body must be a JSON object");
		return NULL;
	}
	return b;
}

/* An optional string member: NULL when absent or null; false when present
 * but neither. */
static bool opt_str(const json_t *o, const char *k, const char **out)
{
	const json_t *v = json_object_get(o, k);

	*out = json_string_value(v);
	return !v || json_is_null(v) || json_is_string(v);
}

/* ---- procedures and mandates --------------------------------------------------- */

/* POST /api/procedures {"procedures": [{"id", "kind", "subject", "agency",
 * "opened_ms", "closed_ms"}]}: all or none. */
static void post_procedures(struct mstore *st, const struct ndx_http_req *req,
			    struct ndx_http_resp *resp)
{
	json_t *b = body_object(req, resp);
	const json_t *list, *p;
	char detail[256];
	int64_t now = now_ms();
	size_t i;

	if (!b)
		return;
	list = json_object_get(b, "procedures");
	if (!json_is_array(list) || json_array_size(list) > PROCEDURES_MAX) {
		bad(req, resp, "procedures: an array of at most 500 procedures");
		goto out;
	}
	json_array_foreach(list, i, p) {
		const char *why = mreads_procedure_refusal(p, now);

		if (why) {
			snprintf(detail, sizeof detail, "procedures[%zu].%s", i, why);
			bad(req, resp, detail);
			goto out;
		}
	}
	if (mreads_procedures_upsert(st, list, now) != NDX_OK) {
		internal(resp);
		goto out;
	}
	ndx_http_resp_json(resp, 200, json_pack("{s:I}", "procedures",
						(json_int_t)json_array_size(list)));
out:
	json_decref(b);
}

static void get_mandates(struct mstore *st, struct ndx_http_resp *resp)
{
	json_t *out = NULL;

	if (mreads_mandates(st, &out) != NDX_OK)
		internal(resp);
	else
		ndx_http_resp_json(resp, 200, out);
}

/* ---- cases ----------------------------------------------------------------------- */

static bool kind_known(const char *k)
{
	static const char *const kinds[] = {
		MISUSE_NO_EXPLANATION, MISUSE_BULK, MISUSE_OFF_HOURS, MISUSE_PROVINCE,
		MISUSE_REPEATED, MISUSE_PROBING, MISUSE_REPLAY, MISUSE_CITIZEN_REPORT,
	};

	for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
		if (strcmp(k, kinds[i]) == 0)
			return true;
	return false;
}

/* GET /api/cases[?state=S][&member=ID][&kind=K][&limit=N] */
static void get_cases(struct mstore *st, const struct ndx_http_req *req,
		      struct ndx_http_resp *resp)
{
	const char *state = ndx_http_query_arg(req, "state"), *m = ndx_http_query_arg(req, "member");
	const char *kind = ndx_http_query_arg(req, "kind"), *l = ndx_http_query_arg(req, "limit");
	char member[NDX_ID_TEXT_MAX];
	unsigned long long limit = LIMIT_DEFAULT;
	struct ndx_id id;
	json_t *out = NULL;

	if (state && strcmp(state, "open") && strcmp(state, "escalated") &&
	    strcmp(state, "confirmed") && strcmp(state, "dismissed") && strcmp(state, "all")) {
		bad(req, resp, "state: open, escalated, confirmed, dismissed or all");
		return;
	}
	if (m && (ndx_id_parse(m, strlen(m), NDX_ID_MEMBER, &id, NULL) != NDX_OK ||
		  ndx_id_format(&id, member, sizeof member) < 0)) {
		bad(req, resp, "member: a member id (VN/GOV/BCA)");
		return;
	}
	if (kind && !kind_known(kind)) {
		bad(req, resp, "kind: a kind of finding (docs/monitoring.md \"Cases\")");
		return;
	}
	if (l && ndx_args_uint(l, 1, LIMIT_MAX, &limit) != NDX_OK) {
		bad(req, resp, "limit: from 1 to 1000");
		return;
	}
	struct cases_filter f = { .state = state, .member = m ? member : NULL, .kind = kind,
				  .limit = (unsigned)limit };
	if (cases_list(st, &f, &out) != NDX_OK)
		internal(resp);
	else
		ndx_http_resp_json(resp, 200, out);
}

static void no_case(const struct ndx_http_req *req, struct ndx_http_resp *resp)
{
	refuse(req, resp, 404, "Client.NotFound", "no such case", "no case has this number");
}

static void get_case(struct mstore *st, int64_t id, const struct ndx_http_req *req,
		     struct ndx_http_resp *resp)
{
	json_t *out = NULL;
	int rc = cases_get(st, id, &out);

	if (rc == NDX_ENOTFOUND)
		no_case(req, resp);
	else if (rc)
		internal(resp);
	else
		ndx_http_resp_json(resp, 200, out);
}

/* POST /api/cases/{id}/triage {"action", "reason", "actor"} */
static void post_triage(struct mstore *st, int64_t id, const struct ndx_http_req *req,
			struct ndx_http_resp *resp)
{
	json_t *b = body_object(req, resp), *out = NULL;
	const char *action, *reason, *actor, *why = NULL;
	int rc;

	if (!b)
		return;
	if (!opt_str(b, "action", &action) || !opt_str(b, "reason", &reason) ||
	    !opt_str(b, "actor", &actor)) {
		bad(req, resp, "action, reason and actor are strings");
		goto out;
	}
	rc = cases_triage(st, id, action, reason, actor, now_ms(), &why);
	if (rc == NDX_EINVAL)
		bad(req, resp, why);
	else if (rc == NDX_ENOTFOUND)
		no_case(req, resp);
	else if (rc == NDX_EPERM)
		refuse(req, resp, 409, "Client.Conflict", "not allowed in this state", why);
	else if (rc || cases_get(st, id, &out) != NDX_OK)
		internal(resp);
	else
		ndx_http_resp_json(resp, 200, out);
out:
	json_decref(b);
}

/* ---- the citizen ------------------------------------------------------------------ */

static bool pin_ok(const char *s)
{
	return s && ndx_pin_parse(s, 0, NULL, NULL) == NDX_OK;
}

/* GET /api/subject-cases?subject=PIN */
static void get_subject_cases(struct mstore *st, cases_namer namer, void *namer_ctx,
			      const struct ndx_http_req *req, struct ndx_http_resp *resp)
{
	const char *subject = ndx_http_query_arg(req, "subject");
	json_t *out = NULL;

	if (!pin_ok(subject)) {
		bad(req, resp, "subject: a personal identification number (12 digits)");
		return;
	}
	if (cases_subject(st, subject, namer, namer_ctx, &out) != NDX_OK)
		internal(resp);
	else
		ndx_http_resp_json(resp, 200, json_pack("{s:o}", "cases", out));
}

/* POST /api/subject-reports {"subject", "gateway", "seq" | "message_id", "note"?} */
static void post_report(struct mstore *st, const struct ndx_http_req *req,
			struct ndx_http_resp *resp)
{
	json_t *b = body_object(req, resp);
	const char *subject, *gateway, *message_id, *note;
	const json_t *seq;
	char gw[NDX_ID_TEXT_MAX];
	struct ndx_id id;
	int64_t case_id = 0;
	bool created = false;
	int rc;

	if (!b)
		return;
	seq = json_object_get(b, "seq");
	if (!opt_str(b, "subject", &subject) || !pin_ok(subject)) {
		bad(req, resp, "subject: a personal identification number (12 digits)");
	} else if (!opt_str(b, "gateway", &gateway) || !gateway ||
		   ndx_id_parse(gateway, strlen(gateway), NDX_ID_SUBSYSTEM, &id, NULL) != NDX_OK ||
		   ndx_id_format(&id, gw, sizeof gw) < 0) {
		bad(req, resp, "gateway: the gateway's name (VN/GOV/BCA/gw1)");
	} else if (!opt_str(b, "message_id", &message_id) ||
		   (seq && !json_is_null(seq) &&
		    (!json_is_integer(seq) || json_integer_value(seq) < 1)) ||
		   (!json_is_integer(seq) == !message_id) ||
		   (message_id && (!message_id[0] || strlen(message_id) > 256))) {
		bad(req, resp, "seq or message_id: the read's number in the gateway's log (from 1)"
			       " or its message id, one of the two");
	} else if (!opt_str(b, "note", &note) ||
		   (note && (strlen(note) > NOTE_MAX ||
			     ndx_text_check(note, strlen(note), NULL, NULL) != NDX_OK))) {
		bad(req, resp, "note: at most 1000 bytes of text");
	} else if ((rc = cases_report(st, subject, gw,
				      json_is_integer(seq) ? (int64_t)json_integer_value(seq) : 0,
				      message_id, note, now_ms(), &case_id, &created)) ==
		   NDX_ENOTFOUND) {
		refuse(req, resp, 404, "Client.NotFound", "unknown read",
		       "unknown_read: no read of this gateway with this number concerns this"
		       " person");
	} else if (rc) {
		internal(resp);
	} else {
		ndx_http_resp_json(resp, created ? 201 : 200,
				   json_pack("{s:I s:b}", "id", (json_int_t)case_id, "created",
					     created));
	}
	json_decref(b);
}

/* ---- routing ---------------------------------------------------------------------- */

/* "/api/cases/{n}" + suffix: the case number into *id; false when the path
 * is not that shape. *id is 0 for a segment that is not a number. */
static bool case_path(const char *path, const char *suffix, int64_t *id)
{
	const char *p = path + strlen("/api/cases/");
	size_t seg = strcspn(p, "/");
	unsigned long long n;
	char num[32];

	if (strcmp(p + seg, suffix) != 0 || seg == 0)
		return false;
	*id = 0;
	if (seg < sizeof num) {
		memcpy(num, p, seg);
		num[seg] = '\0';
		if (ndx_args_uint(num, 1, INT64_MAX, &n) == NDX_OK)
			*id = (int64_t)n;
	}
	return true;
}

bool cases_api_handle(struct mstore *st, const char *token_sha256, cases_namer namer,
		      void *namer_ctx, const struct ndx_http_req *req,
		      struct ndx_http_resp *resp)
{
	const char *path = req->path;
	int64_t id = 0;
	bool cases = strncmp(path, "/api/cases/", 11) == 0;

	if (strcmp(path, "/api/procedures") != 0 && strcmp(path, "/api/mandates") != 0 &&
	    strcmp(path, "/api/cases") != 0 && !cases &&
	    strcmp(path, "/api/subject-cases") != 0 && strcmp(path, "/api/subject-reports") != 0)
		return false;
	if (!ndx_bearer_check(req, resp, token_sha256, PROG))
		return true;
	if (strcmp(path, "/api/procedures") == 0) {
		if (is_post(req->method))
			post_procedures(st, req, resp);
		else
			method_not_allowed(resp, "POST");
	} else if (strcmp(path, "/api/mandates") == 0) {
		if (is_get(req->method))
			get_mandates(st, resp);
		else
			method_not_allowed(resp, "GET, HEAD");
	} else if (strcmp(path, "/api/cases") == 0) {
		if (is_get(req->method))
			get_cases(st, req, resp);
		else
			method_not_allowed(resp, "GET, HEAD");
	} else if (cases && case_path(path, "", &id)) {
		if (!is_get(req->method))
			method_not_allowed(resp, "GET, HEAD");
		else if (!id)
			no_case(req, resp);
		else
			get_case(st, id, req, resp);
	} else if (cases && case_path(path, "/triage", &id)) {
		if (!is_post(req->method))
			method_not_allowed(resp, "POST");
		else if (!id)
			no_case(req, resp);
		else
			post_triage(st, id, req, resp);
	} else if (strcmp(path, "/api/subject-cases") == 0) {
		if (is_get(req->method))
			get_subject_cases(st, namer, namer_ctx, req, resp);
		else
			method_not_allowed(resp, "GET, HEAD");
	} else if (strcmp(path, "/api/subject-reports") == 0) {
		if (is_post(req->method))
			post_report(st, req, resp);
		else
			method_not_allowed(resp, "POST");
	} else {
		ndx_http_resp_error(resp, 404, "Client.NotFound", "not found", "no such path");
	}
	return true;
}
