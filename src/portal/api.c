/* The portal's HTTP entry point and its JSON API (api.h). Routing is a
 * table: a method, a pattern of path segments ('*' takes one id-like
 * segment) and who may call it. The checks run in one order for every
 * route: session (401), kind of session (403 forbidden), CSRF token for
 * POST (403 csrf), a JSON object body (400), then the route. Errors are
 * {"error","message","fields"?}; answers under /api/ and /auth/ are never
 * cached. */
#include "api.h"

#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "access_list.h"
#include "admin.h"
#include "attach.h"
#include "auth.h"
#include "citizen.h"
#include "ndx/adminmap.h"
#include "ndx/err.h"
#include "ndx/pin.h"
#include "notify.h"
#include "market.h"
#include "ops.h"
#include "procedures.h"
#include "worklist.h"
#include "ndx/static_files.h"

#define MAX_SEGS 6
#define SEG_MAX 64

int perr_set(struct perr *e, int status, const char *code, const char *fmt, ...)
{
	va_list ap;

	e->status = status;
	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof e->message, fmt, ap);
	va_end(ap);
	return -1;
}

void api_reply_error(struct ndx_http_resp *resp, struct perr *e)
{
	json_t *o = json_pack("{s:s,s:s}", "error", e->code ? e->code : "internal", "message",
			      e->message);

	if (o && e->fields)
		json_object_set(o, "fields", e->fields);
	json_decref(e->fields);
	e->fields = NULL;
	ndx_http_resp_json(resp, e->status ? e->status : 500, o);
}

static void fail(struct ndx_http_resp *resp, int status, const char *code, const char *msg)
{
	struct perr e = { 0 };

	perr_set(&e, status, code, "%s", msg);
	api_reply_error(resp, &e);
}

int api_csrf_ok(const struct ndx_http_req *req, const struct psession *s)
{
	const char *tok = ndx_http_header(req, "X-CSRF-Token");
	size_t n = strlen(s->csrf);

	return tok && n && strlen(tok) == n && CRYPTO_memcmp(tok, s->csrf, n) == 0;
}

int api_body(const struct ndx_http_req *req, struct ndx_http_resp *resp, json_t **out)
{
	json_error_t err;

	*out = NULL;
	if (req->body && req->body_len)
		*out = json_loadb((const char *)req->body, req->body_len, JSON_REJECT_DUPLICATES,
				  &err);
	if (!json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		fail(resp, 400, "invalid", "the body must be one JSON object");
		return -1;
	}
	return 0;
}

/* ---- routes ---------------------------------------------------------------- */

struct call {
	const struct portal *p;
	const struct ndx_http_req *req;
	struct ndx_http_resp *resp; /* for a route that answers other than JSON */
	struct psession *s;
	const char *arg, *arg2; /* the path's first and second '*' */
	json_t *body;
};

/* A route's status when it has answered resp itself. */
#define ANSWERED 0

typedef int (*route_fn)(struct call *c, json_t **out, int *status, struct perr *e);

static int r_profile(struct call *c, json_t **out, int *status, struct perr *e)
{
	(void)status;
	return citizen_profile(c->p, c->s, out, e);
}

static int r_insurance(struct call *c, json_t **out, int *status, struct perr *e)
{
	(void)status;
	return citizen_insurance(c->p, c->s, out, e);
}

static int r_accesses(struct call *c, json_t **out, int *status, struct perr *e)
{
	const struct access_filter f = {
		.own = ndx_http_query_arg(c->req, "own"),
		.agency = ndx_http_query_arg(c->req, "agency"),
		.purpose = ndx_http_query_arg(c->req, "purpose"),
		.from = ndx_http_query_arg(c->req, "from"),
		.to = ndx_http_query_arg(c->req, "to"),
		.page = ndx_http_query_arg(c->req, "page"),
	};

	(void)status;
	return access_list(c->p, c->s, &f, out, e);
}

static int r_misuse(struct call *c, json_t **out, int *status, struct perr *e)
{
	(void)status;
	return access_misuse(c->p, c->s, out, e);
}

static int r_report(struct call *c, json_t **out, int *status, struct perr *e)
{
	return access_report(c->p, c->s, c->body, out, status, e);
}

static int r_consents(struct call *c, json_t **out, int *status, struct perr *e)
{
	(void)status;
	return citizen_consents(c->p, c->s, out, e);
}

static int r_consent_service(struct call *c, json_t **out, int *status, struct perr *e)
{
	(void)status;
	return citizen_consent_service(c->p, ndx_http_query_arg(c->req, "id"), out, e);
}

static int r_consent_new(struct call *c, json_t **out, int *status, struct perr *e)
{
	*status = 201;
	return citizen_consent_create(c->p, c->s, c->body, out, e);
}

static int r_consent_revoke(struct call *c, json_t **out, int *status, struct perr *e)
{
	(void)status;
	return citizen_consent_revoke(c->p, c->s, c->arg, out, e);
}

static int r_prefill(struct call *c, json_t **out, int *status, struct perr *e)
{
	(void)status;
	return proc_prefill(c->p, c->s, c->arg, out, e);
}

static int r_procedures(struct call *c, json_t **out, int *status, struct perr *e)
{
	(void)status;
	if (pstore_proc_list(c->p->st, c->s->subject, NULL, NULL, out) != NDX_OK)
		return perr_set(e, 500, "internal", "the procedures could not be read");
	proc_name_agencies(c->p, *out);
	proc_add_fees(*out);
	proc_for_citizen(*out);
	return 0;
}

static int r_submit(struct call *c, json_t **out, int *status, struct perr *e)
{
	*status = 201;
	if (proc_submit(c->p, c->s, c->body, out, e))
		return -1;
	proc_name_agencies(c->p, *out);
	proc_add_fees(*out);
	proc_for_citizen(*out);
	return 0;
}

static int r_procedure(struct call *c, json_t **out, int *status, struct perr *e)
{
	int rc = pstore_proc_get(c->p->st, c->arg, out);

	(void)status;
	if (rc == NDX_OK && proc_visible(c->s, *out)) {
		/* An officer opening the file reads the applicant's record: a
		 * read the citizen's access list shows with the officer's name
		 * and the procedure;
		 * ?applicant=0: the procedure alone, as a page reads it again
		 * after a refused step (no second read of the citizen). */
		const char *again = ndx_http_query_arg(c->req, "applicant");

		if (again && strcmp(again, "0") != 0) {
			json_decref(*out);
			*out = NULL;
			return perr_set(e, 400, "invalid", "applicant must be 0 when given");
		}
		if (strcmp(c->s->kind, "officer") == 0 && !again &&
		    proc_officer_view(c->p, c->s, *out)) {
			json_decref(*out);
			*out = NULL;
			return perr_set(e, 500, "internal", "out of memory");
		}
		proc_name_agencies(c->p, *out);
		proc_add_fees(*out);
		if (strcmp(c->s->kind, "officer") == 0)
			proc_add_deadlines(c->p->cfg, *out, time(NULL));
		else
			proc_for_citizen(*out);
		return 0;
	}
	json_decref(*out);
	*out = NULL;
	if (rc != NDX_OK && rc != NDX_ENOTFOUND)
		return perr_set(e, 500, "internal", "the procedure could not be read");
	return perr_set(e, 404, "not_found", "no such procedure");
}

static int r_payment(struct call *c, json_t **out, int *status, struct perr *e)
{
	(void)status;
	return proc_payment(c->p, c->s, c->arg, out, e);
}

/* One query parameter of the officers' queue: absent (NULL), or at most
 * max bytes of characters from allowed, else a 400 naming it. */
static int queue_arg(const struct ndx_http_req *req, const char *name, size_t max,
		     const char *allowed, const char **out, struct perr *e)
{
	const char *v = ndx_http_query_arg(req, name);

	*out = v;
	if (!v)
		return 0;
	if (!*v || strlen(v) > max || strspn(v, allowed) != strlen(v))
		return perr_set(e, 400, "invalid", "%s: at most %zu characters of [%s]", name,
				max, allowed);
	return 0;
}

#define QUEUE_LIMIT_MAX 500

/* GET /api/officer/procedures?status&kind&ref&assigned&limit
 * (docs/portal.md): every parameter checked, an unknown one refused, so
 * that a typo is never an unfiltered list. */
static int r_queue(struct call *c, json_t **out, int *status, struct perr *e)
{
	static const char *const KNOWN[] = { "status", "kind", "ref", "assigned", "limit", NULL };
	static const char *const KINDS[] = { "household-business", "residence-change", NULL };
	const char *state, *kind, *ref, *assigned, *limit, *q = c->req->query;
	char refup[PSTORE_REFERENCE_LEN];
	struct pproc_query f = { .agency = c->s->agency, .limit = QUEUE_LIMIT_MAX };
	size_t i;

	(void)status;
	/* Names only: values are checked one by one below. */
	while (q && *q) {
		size_t n = strcspn(q, "=&");

		for (i = 0; KNOWN[i] && (strlen(KNOWN[i]) != n || strncmp(KNOWN[i], q, n)); i++)
			;
		if (n && !KNOWN[i])
			return perr_set(e, 400, "invalid",
					"unknown parameter; known: status, kind, ref, assigned, limit");
		q += strcspn(q, "&");
		if (*q)
			q++;
	}
	if (queue_arg(c->req, "status", 24, "abcdefghijklmnopqrstuvwxyz_", &state, e) ||
	    queue_arg(c->req, "kind", 32, "abcdefghijklmnopqrstuvwxyz-", &kind, e) ||
	    queue_arg(c->req, "ref", PSTORE_REFERENCE_LEN - 1,
		      "0123456789-ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", &ref, e) ||
	    queue_arg(c->req, "assigned", 8, "abcdefghijklmnopqrstuvwxyz", &assigned, e) ||
	    queue_arg(c->req, "limit", 3, "0123456789", &limit, e))
		return -1;
	if (!state)
		state = "submitted";
	if (strcmp(state, "all") != 0 && !proc_state_known(state))
		return perr_set(e, 400, "invalid", "status must be a procedure state or all");
	f.state = strcmp(state, "all") == 0 ? NULL : state;
	for (i = 0; kind && KINDS[i] && strcmp(kind, KINDS[i]) != 0; i++)
		;
	if (kind && !KINDS[i])
		return perr_set(e, 400, "invalid", "kind must be household-business or residence-change");
	f.kind = kind;
	if (ref) {
		/* Application numbers are upper case ("HS261203-00042"): what
		 * was typed matches as a prefix, in any case. */
		for (i = 0; ref[i]; i++)
			refup[i] = (char)(ref[i] >= 'a' && ref[i] <= 'z' ? ref[i] - 32 : ref[i]);
		refup[i] = '\0';
		f.reference = refup;
	}
	if (assigned && strcmp(assigned, "me") == 0)
		f.assignee = c->s->username;
	else if (assigned && strcmp(assigned, "none") == 0)
		f.assignee = "";
	else if (assigned && strcmp(assigned, "any") != 0)
		return perr_set(e, 400, "invalid", "assigned must be me, none or any");
	if (limit) {
		long n = strtol(limit, NULL, 10);

		if (n < 1 || n > QUEUE_LIMIT_MAX)
			return perr_set(e, 400, "invalid", "limit must be 1 to %d", QUEUE_LIMIT_MAX);
		f.limit = (unsigned)n;
	}
	if (pstore_proc_search(c->p->st, &f, out) != NDX_OK)
		return perr_set(e, 500, "internal", "the procedures could not be read");
	proc_name_agencies(c->p, *out);
	proc_add_fees(*out);
	proc_add_deadlines(c->p->cfg, *out, time(NULL));
	return 0;
}

static int r_decide(struct call *c, json_t **out, int *status, struct perr *e)
{
	(void)status;
	if (proc_decide(c->p, c->s, c->arg, c->body, out, e))
		return -1;
	proc_name_agencies(c->p, *out);
	proc_add_fees(*out);
	proc_add_deadlines(c->p->cfg, *out, time(NULL));
	return 0;
}

static int r_hold(struct call *c, json_t **out, int *status, struct perr *e)
{
	(void)status;
	if (proc_hold(c->p, c->s, c->arg, c->body, out, e))
		return -1;
	proc_name_agencies(c->p, *out);
	proc_add_fees(*out);
	proc_add_deadlines(c->p->cfg, *out, time(NULL));
	return 0;
}

static int r_request_info(struct call *c, json_t **out, int *status, struct perr *e)
{
	(void)status;
	if (proc_request_info(c->p, c->s, c->arg, c->body, out, e))
		return -1;
	proc_name_agencies(c->p, *out);
	proc_add_fees(*out);
	proc_add_deadlines(c->p->cfg, *out, time(NULL));
	return 0;
}

static int r_answer(struct call *c, json_t **out, int *status, struct perr *e)
{
	(void)status;
	if (proc_answer(c->p, c->s, c->arg, c->body, out, e))
		return -1;
	proc_name_agencies(c->p, *out);
	proc_add_fees(*out);
	proc_for_citizen(*out);
	return 0;
}

static int r_attach(struct call *c, json_t **out, int *status, struct perr *e)
{
	*status = 201;
	return attach_upload(c->p, c->s, c->arg, c->body, out, e);
}

static int r_download(struct call *c, json_t **out, int *status, struct perr *e)
{
	*out = NULL;
	if (attach_download(c->p, c->s, c->arg, c->arg2, c->resp, e))
		return -1;
	*status = ANSWERED;
	return 0;
}

#define NOTIFICATIONS_SHOWN 50

static int r_notifications(struct call *c, json_t **out, int *status, struct perr *e)
{
	(void)status;
	if (pstore_notifications(c->p->st, c->s->subject, NOTIFICATIONS_SHOWN, out) != NDX_OK)
		return perr_set(e, 500, "internal", "the notifications could not be read");
	return 0;
}

/* POST /api/notifications/{id|all}/read. */
static int r_notification_read(struct call *c, json_t **out, int *status, struct perr *e)
{
	long long id = 0;
	char *end = NULL;
	int rc;

	(void)status;
	if (strcmp(c->arg, "all") != 0) {
		id = strtoll(c->arg, &end, 10);
		if (!end || *end || id < 1)
			return perr_set(e, 404, "not_found", "no such notification");
	}
	rc = pstore_notification_read(c->p->st, c->s->subject, id, time(NULL));
	if (rc == NDX_ENOTFOUND)
		return perr_set(e, 404, "not_found", "no such notification");
	if (rc != NDX_OK)
		return perr_set(e, 500, "internal", "the notification could not be stored");
	return r_notifications(c, out, status, e);
}

static json_t *contact_doc(const struct portal *p, const char *subject)
{
	char email[256];
	int rc = pstore_contact_get(p->st, subject, email, sizeof email);

	return json_pack("{s:o,s:b,s:b}", "email", rc == NDX_OK ? json_string(email) : json_null(),
			 "consent", rc == NDX_OK, "email_enabled", p->cfg->smtp_host != NULL);
}

static int r_contact(struct call *c, json_t **out, int *status, struct perr *e)
{
	(void)status;
	if (!(*out = contact_doc(c->p, c->s->subject)))
		return perr_set(e, 500, "internal", "out of memory");
	return 0;
}

/* POST /api/me/contact {"email", "consent"}: an address is kept only with
 * consent true; {"email": null} (or consent false) forgets it. */
static int r_contact_set(struct call *c, json_t **out, int *status, struct perr *e)
{
	const json_t *em = json_object_get(c->body, "email"), *ok = json_object_get(c->body, "consent");
	const char *k;
	json_t *v;

	json_object_foreach(c->body, k, v) {
		if (strcmp(k, "email") != 0 && strcmp(k, "consent") != 0) {
			perr_set(e, 422, "validation", "unknown field");
			e->fields = json_pack("{s:s}", k, "unknown");
			return -1;
		}
	}
	if (!ok || !json_is_boolean(ok)) {
		perr_set(e, 422, "validation", "consent (true or false) is required");
		e->fields = json_pack("{s:s}", "consent", "required");
		return -1;
	}
	if (json_is_true(ok) && (!json_is_string(em) || !notify_email_ok(json_string_value(em)))) {
		perr_set(e, 422, "validation", "an e-mail address like ten@example.vn is required");
		e->fields = json_pack("{s:s}", "email", json_is_string(em) && *json_string_value(em)
								? "invalid" : "required");
		return -1;
	}
	if (pstore_contact_set(c->p->st, c->s->subject,
			       json_is_true(ok) ? json_string_value(em) : NULL, time(NULL)) != NDX_OK)
		return perr_set(e, 500, "internal", "the address could not be stored");
	return r_contact(c, out, status, e);
}

static int r_worklist(struct call *c, json_t **out, int *status, struct perr *e)
{
	(void)status;
	return worklist_get(c->p, c->s, c->req, out, e);
}

static int r_correct(struct call *c, json_t **out, int *status, struct perr *e)
{
	return worklist_correct(c->p, c->s, c->body, out, status, e);
}

enum who { SIGNED_IN, CITIZEN, OFFICER };

static const struct route {
	const char *method;
	const char *pattern;
	enum who who;
	route_fn fn;
} ROUTES[] = {
	{ "GET", "profile", CITIZEN, r_profile },
	{ "GET", "insurance", CITIZEN, r_insurance },
	{ "GET", "accesses", CITIZEN, r_accesses },
	{ "GET", "me/misuse", CITIZEN, r_misuse },
	{ "POST", "me/reports", CITIZEN, r_report },
	{ "GET", "consents", CITIZEN, r_consents },
	{ "POST", "consents", CITIZEN, r_consent_new },
	{ "GET", "consents/service", CITIZEN, r_consent_service },
	{ "POST", "consents/*/revoke", CITIZEN, r_consent_revoke },
	{ "GET", "prefill/*", CITIZEN, r_prefill },
	{ "GET", "procedures", CITIZEN, r_procedures },
	{ "POST", "procedures", CITIZEN, r_submit },
	{ "GET", "procedures/*", SIGNED_IN, r_procedure },
	{ "GET", "procedures/*/payment", CITIZEN, r_payment },
	{ "GET", "officer/procedures", OFFICER, r_queue },
	{ "POST", "officer/procedures/*/decision", OFFICER, r_decide },
	{ "POST", "officer/procedures/*/assignment", OFFICER, r_hold },
	{ "POST", "officer/procedures/*/information-request", OFFICER, r_request_info },
	{ "POST", "procedures/*/answer", CITIZEN, r_answer },
	{ "POST", "procedures/*/attachments", CITIZEN, r_attach },
	{ "GET", "procedures/*/attachments/*", SIGNED_IN, r_download },
	{ "GET", "notifications", CITIZEN, r_notifications },
	{ "POST", "notifications/*/read", CITIZEN, r_notification_read },
	{ "GET", "me/contact", CITIZEN, r_contact },
	{ "POST", "me/contact", CITIZEN, r_contact_set },
	{ "GET", "officer/worklist", OFFICER, r_worklist },
	{ "POST", "officer/worklist/corrections", OFFICER, r_correct },
};

static int id_segment(const char *s, size_t n)
{
	if (n == 0 || n > SEG_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || strchr("-_.:", s[i])))
			return 0;
	return 1;
}

/* Whether rest (the path after /api/) matches pattern; the first '*'
 * segment is copied into arg[0], a second into arg[1]. */
static int match(const char *pattern, const char *rest, char arg[2][SEG_MAX + 1])
{
	int star = 0;

	while (*pattern && *rest) {
		size_t pn = strcspn(pattern, "/"), rn = strcspn(rest, "/");

		if (pn == 1 && *pattern == '*') {
			if (!id_segment(rest, rn) || star > 1)
				return 0;
			memcpy(arg[star], rest, rn);
			arg[star++][rn] = '\0';
		} else if (pn != rn || strncmp(pattern, rest, pn) != 0) {
			return 0;
		}
		pattern += pn;
		rest += rn;
		if (*pattern != *rest)
			return 0;
		if (*pattern == '/') {
			pattern++;
			rest++;
		}
	}
	return !*pattern && !*rest;
}

/* GET /api/provinces: today's 34 units (code, name, English name, kind,
 * the former provinces merged into each), the addresses' provinces; and
 * the 63 former provinces (code, name, the unit each is in now), which
 * personal numbers' birth-registration codes and addresses written before
 * 1 July 2025 name. NULL when out of memory. */
static json_t *provinces_doc(void)
{
	json_t *units = json_array(), *former = json_array();

	for (size_t i = 0; units && i < NDX_ADMIN_PROVINCE_COUNT; i++) {
		const struct ndx_admin_province *u = ndx_admin_province_at(i);
		json_t *merged = json_array();
		for (const char *const *m = u->merged; merged && *m; m++)
			json_array_append_new(merged, json_string(*m));
		json_array_append_new(units, json_pack("{sssssssssO}", "code", u->code, "name",
						       u->name, "name_en", u->name_en, "kind",
						       u->kind, "merged", merged));
		json_decref(merged);
	}
	for (size_t i = 0; former && i < NDX_PROVINCE_COUNT; i++) {
		const struct ndx_province *o = ndx_province_at(i);
		json_array_append_new(former, json_pack("{ssssss}", "code", o->code, "name", o->name,
							"now", ndx_admin_province_of(o->code)->code));
	}
	if (!units || !former) {
		json_decref(units);
		json_decref(former);
		return NULL;
	}
	return json_pack("{soso}", "provinces", units, "former", former);
}

static void api_route(const struct portal *p, const struct ndx_http_req *req,
		      struct ndx_http_resp *resp)
{
	const char *rest = req->path + strlen("/api/");
	const struct route *r = NULL;
	char arg[2][SEG_MAX + 1] = { "", "" };
	struct psession s;
	struct perr e = { 0 };
	struct call c = { .p = p, .req = req, .resp = resp, .s = &s };
	json_t *out = NULL;
	int status = 200, have, is_post = strcmp(req->method, "POST") == 0;

	/* Public and the same for everyone: the province tables of libndx,
	 * so that the web UI holds no second copy. */
	if (strcmp(rest, "provinces") == 0 && strcmp(req->method, "GET") == 0) {
		json_t *doc = provinces_doc();
		ndx_http_resp_json(resp, doc ? 200 : 500,
				   doc ? doc
				       : json_pack("{ssss}", "error", "internal", "message",
						   "out of memory"));
		return;
	}
	if (strncmp(rest, "market/", 7) == 0) {
		market_handle(p, req, resp);
		return;
	}
	if (strncmp(rest, "ops/", 4) == 0) {
		ops_handle(p, req, resp);
		return;
	}
	if (strncmp(rest, "admin/", 6) == 0) {
		admin_handle(p, req, resp);
		return;
	}
	if (strcmp(rest, "session") == 0 && strcmp(req->method, "GET") == 0) {
		if (auth_session(p, req, &s) == NDX_OK) {
			json_t *o = auth_session_json(p, &s), *off = ops_official_json(p, &s);
			json_t *party = market_party_json(p, &s);

			/* A member's officer or official may act in the
			 * marketplace: the web UI offers its requests. */
			if (o && party)
				json_object_set_new(o, "market", party);
			else
				json_decref(party);

			/* An official (the operations centre) is named in the
			 * session so that the web UI offers its pages. */
			if (o && off)
				json_object_set_new(o, "official", off);
			else
				json_decref(off);
			ndx_http_resp_json(resp, 200, o);
			psession_clear(&s);
		} else {
			ndx_http_resp_json(resp, 200, json_pack("{s:b}", "authenticated", 0));
		}
		return;
	}
	for (size_t i = 0; i < sizeof ROUTES / sizeof *ROUTES && !r; i++)
		if (strcmp(ROUTES[i].method, req->method) == 0 && match(ROUTES[i].pattern, rest, arg))
			r = &ROUTES[i];
	if (!r) {
		fail(resp, 404, "not_found", "no such route");
		return;
	}
	have = auth_session(p, req, &s) == NDX_OK;
	if (!have) {
		fail(resp, 401, "unauthenticated", "sign in first");
		return;
	}
	if ((r->who == CITIZEN && strcmp(s.kind, "citizen") != 0) ||
	    (r->who == OFFICER && strcmp(s.kind, "officer") != 0)) {
		fail(resp, 403, "forbidden", r->who == CITIZEN ? "for citizens only"
							       : "for officers only");
		goto out;
	}
	if (is_post) {
		if (!api_csrf_ok(req, &s)) {
			fail(resp, 403, "csrf", "the X-CSRF-Token header is missing or wrong");
			goto out;
		}
		if (req->body_len || strcmp(r->pattern, "consents/*/revoke") != 0) {
			if (api_body(req, resp, &c.body))
				goto out;
		}
	}
	c.arg = arg[0];
	c.arg2 = arg[1];
	if (r->fn(&c, &out, &status, &e))
		api_reply_error(resp, &e);
	else if (status != ANSWERED)
		ndx_http_resp_json(resp, status, out);
out:
	json_decref(c.body);
	psession_clear(&s);
}

/* ---- the entry point --------------------------------------------------------- */

static int prefixed(const char *path, const char *prefix)
{
	return strncmp(path, prefix, strlen(prefix)) == 0;
}

void portal_handle(void *ctx, const struct ndx_http_req *req, struct ndx_http_resp *resp)
{
	const struct portal *p = ctx;
	const char *path = req->path;
	int get = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;

	ndx_http_resp_header(resp, "Content-Security-Policy",
			     "default-src 'self'; frame-ancestors 'none'");
	ndx_http_resp_header(resp, "X-Content-Type-Options", "nosniff");
	ndx_http_resp_header(resp, "X-Frame-Options", "DENY");
	ndx_http_resp_header(resp, "Referrer-Policy", "no-referrer");
	if (prefixed(path, "/api/") || prefixed(path, "/auth/") || strcmp(path, "/healthz") == 0)
		ndx_http_resp_header(resp, "Cache-Control", "no-store");

	if (prefixed(path, "/api/"))
		api_route(p, req, resp);
	else if (prefixed(path, "/auth/"))
		auth_handle(p, req, resp);
	else if (get && strcmp(path, "/healthz") == 0)
		ndx_http_resp_json(resp, 200, json_pack("{s:s}", "status", "ok"));
	else if (get && prefixed(path, "/static/"))
		ndx_static_serve(p->cfg->web_dir, path + strlen("/static/"), resp);
	else if (get && prefixed(path, "/assets/govuk/"))
		ndx_static_serve(p->cfg->assets_dir, path + strlen("/assets/govuk/"), resp);
	else if (get && prefixed(path, "/assets/chartjs/"))
		ndx_static_serve(p->cfg->chart_dir, path + strlen("/assets/chartjs/"), resp);
	else if (get)
		ndx_static_serve(p->cfg->web_dir, "index.html", resp);
	else
		fail(resp, 404, "not_found", "no such route");
}
