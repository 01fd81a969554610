/* The procedures (procedures.h). A procedure's fields are checked here
 * against docs/portal.md; registry data is read and written only through
 * the exchange, with the applicant as Ndx-Subject and "public-service" as
 * purpose. An approval first claims the procedure (submitted|failed ->
 * approved in one transaction, so two officers cannot both approve), then
 * writes, then records completed or failed. The writes are made so that a
 * retried approval after a failure finishes the job rather than doing it
 * twice: the enterprise code allocated for the procedure is kept in its
 * working notes, and each record is looked up before it is created. */
#include "procedures.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "exchange.h"
#include "ndx/adminmap.h"
#include "ndx/encode.h"
#include "ndx/err.h"
#include "ndx/fetch.h"
#include "ndx/fold.h"
#include "ndx/pin.h"
#include "ndx/text.h"
#include "ndx/timefmt.h"
#include "ndx/vietqr.h"
#include "notify.h"
#include "pay_qr.h"

#define KIND_BUSINESS "household-business"
#define KIND_RESIDENCE "residence-change"
#define AGENCY_BUSINESS "VN/GOV/BTC"
#define AGENCY_RESIDENCE "VN/GOV/BCA"
#define ECODE_TRIES 10
#define NAME_SEARCH_LIMIT 100
#define COMMUNE_MAX 100 /* characters: "Phường Dịch Vọng", "Đặc khu Phú Quốc" */
#define ADDRESS_MAX 300 /* characters, the registries' address column */
/* Bytes of an address with its commune and province (4 bytes a character). */
#define FULL_ADDRESS_CAP ((ADDRESS_MAX + COMMUNE_MAX + 32) * 4)

static const char *const STATES[] = { "unpaid", "submitted", "information_requested", "approved",
				      "completed", "rejected", "failed", NULL };

static void name_agency(const json_t *clients, json_t *proc)
{
	const char *agency = json_string_value(json_object_get(proc, "agency"));
	const char *name = agency ? exchange_member_name(clients, agency) : "";

	if (*name)
		json_object_set_new(proc, "agency_name", json_string(name));
}

void proc_name_agencies(const struct portal *p, json_t *doc)
{
	json_t *clients = NULL, *list = json_object_get(doc, "procedures"), *proc;
	size_t i;

	if (!doc || exchange_list_clients(p, &clients) != NDX_OK)
		return;
	if (json_is_array(list))
		json_array_foreach(list, i, proc)
			name_agency(clients, proc);
	else
		name_agency(clients, doc);
	json_decref(clients);
}

int proc_state_known(const char *state)
{
	for (size_t i = 0; STATES[i]; i++)
		if (strcmp(state, STATES[i]) == 0)
			return 1;
	return 0;
}

/* The legal fee (lệ phí) of each procedure, VND. Provinces set these fees
 * within the Ministry of Finance's ranges (Circular 85/2019/TT-BTC); these
 * are the demo's figures. 0: free. */
static long long kind_fee(const char *kind)
{
	if (strcmp(kind, KIND_BUSINESS) == 0)
		return 100000;
	if (strcmp(kind, KIND_RESIDENCE) == 0)
		return 20000;
	return 0;
}

static void fee_of(json_t *proc)
{
	const char *kind = json_string_value(json_object_get(proc, "kind"));

	if (kind)
		json_object_set_new(proc, "fee_vnd", json_integer(kind_fee(kind)));
}

void proc_add_fees(json_t *doc)
{
	json_t *list = json_object_get(doc, "procedures"), *proc;
	size_t i;

	if (json_is_array(list))
		json_array_foreach(list, i, proc)
			fee_of(proc);
	else if (doc)
		fee_of(doc);
}

/* How many working days the agency has to decide a procedure, counted
 * from the day after it reached the officers (submitted_at), and the
 * legal text that sets the figure. Saturdays and Sundays are not working
 * days, nor the public holidays of the configuration's holidays_file
 * (holidays.h); without one, around Tết the deadline shown is earlier than
 * the law's, never later. */
static const struct {
	const char *kind;
	int days;
	const char *basis;
} DEADLINES[] = {
	/* A household business is registered within 3 working days of a
	 * complete application. */
	{ KIND_BUSINESS, 3, "Nghị định 01/2021/NĐ-CP, Điều 87" },
	/* Permanent residence is registered within 7 working days. */
	{ KIND_RESIDENCE, 7, "Luật Cư trú 2020, Điều 22" },
};

#define VN_OFFSET (7 * 3600)
#define DAY 86400

/* The Vietnamese calendar day of t, as seconds at its UTC midnight. */
static time_t vn_day(time_t t)
{
	return ((t + VN_OFFSET) / DAY) * DAY;
}

/* Whether day (a Vietnamese day as from vn_day) is a working day: Monday
 * to Friday and not one of h's public holidays. */
static int working_day(const struct holidays *h, time_t day)
{
	struct tm tm;

	gmtime_r(&day, &tm);
	return tm.tm_wday != 0 && tm.tm_wday != 6 && !holidays_has(h, (long)(day / DAY));
}

/* Working days after day0's and up to day1's, both Vietnamese days as
 * from vn_day. */
static int working_days_between(const struct holidays *h, time_t day0, time_t day1)
{
	int n = 0;

	for (time_t d = day0 + DAY; d <= day1; d += DAY)
		n += working_day(h, d);
	return n;
}

/* The working days procedure proc waited on its citizen: for each request
 * for more information, those after the day it was asked up to the day
 * it was answered (today while unanswered). The deadline is moved on by
 * as many (docs/portal.md "More information": a pause, our choice). */
static int paused_days(const struct holidays *h, const json_t *proc, time_t now)
{
	const json_t *reqs = json_object_get(proc, "information_requests"), *r;
	size_t i;
	int n = 0;

	json_array_foreach(reqs, i, r) {
		const char *asked = json_string_value(json_object_get(r, "asked_at"));
		const char *answered = json_string_value(json_object_get(r, "answered_at"));
		time_t a, b = now;

		if (!asked || ndx_time_parse(asked, &a) != NDX_OK ||
		    (answered && ndx_time_parse(answered, &b) != NDX_OK))
			continue;
		n += working_days_between(h, vn_day(a), vn_day(b));
	}
	return n;
}

static void deadline_of(const struct holidays *h, json_t *proc, time_t now)
{
	const char *kind = json_string_value(json_object_get(proc, "kind"));
	const char *at = json_string_value(json_object_get(proc, "submitted_at"));
	const char *state = json_string_value(json_object_get(proc, "state"));
	char date[NDX_VN_DATE_LEN];
	time_t t0, day;
	size_t i;
	int left, open, paused, waiting;

	for (i = 0; kind && i < sizeof DEADLINES / sizeof *DEADLINES; i++)
		if (strcmp(kind, DEADLINES[i].kind) == 0)
			break;
	if (!kind || i == sizeof DEADLINES / sizeof *DEADLINES || !at ||
	    ndx_time_parse(at, &t0) != NDX_OK) {
		json_object_set_new(proc, "deadline", json_null());
		return;
	}
	day = vn_day(t0);
	paused = paused_days(h, proc, now);
	for (left = DEADLINES[i].days + paused; left > 0;) {
		day += DAY;
		left -= working_day(h, day);
	}
	/* day is the deadline's midnight in Vietnam, as UTC seconds. */
	ndx_time_vn_iso_date(day - VN_OFFSET, date);
	waiting = state && strcmp(state, "information_requested") == 0;
	open = state && (strcmp(state, "submitted") == 0 || strcmp(state, "failed") == 0 ||
			 strcmp(state, "approved") == 0);
	json_object_set_new(proc, "deadline",
			    json_pack("{s:s,s:i,s:s,s:b,s:i,s:b}", "date", date, "working_days",
				      DEADLINES[i].days, "basis", DEADLINES[i].basis, "overdue",
				      open && vn_day(now) > day, "paused_days", paused, "paused",
				      waiting));
}

void proc_add_deadlines(const struct pconfig *cfg, json_t *doc, time_t now)
{
	json_t *list = json_object_get(doc, "procedures"), *proc;
	size_t i;

	if (json_is_array(list))
		json_array_foreach(list, i, proc)
			deadline_of(&cfg->holidays, proc, now);
	else if (doc)
		deadline_of(&cfg->holidays, doc, now);
}

/* What only officers read: who holds it, and the asking officer's user
 * name (the citizen reads the officer's name). */
static void citizen_view(json_t *proc)
{
	json_t *reqs = json_object_get(proc, "information_requests"), *r;
	size_t i;

	json_object_del(proc, "assigned_to");
	json_array_foreach(reqs, i, r)
		json_object_del(json_object_get(r, "asked_by"), "username");
}

void proc_for_citizen(json_t *doc)
{
	json_t *list = json_object_get(doc, "procedures"), *proc;
	size_t i;

	if (json_is_array(list))
		json_array_foreach(list, i, proc)
			citizen_view(proc);
	else if (doc)
		citizen_view(doc);
}

struct who;
static int close_order(const struct portal *p, const json_t *proc, const struct who *w,
		       const char *reason, json_t **order);

/* The answer of GET …/payment from the treasury's order. */
static int payment_doc(const struct portal *p, const char *id, const json_t *order,
		       const char *state, json_t **out, struct perr *e)
{
	const char *payload = json_string_value(json_object_get(order, "vietqr"));
	const char *ref = json_string_value(json_object_get(order, "reference"));
	json_int_t amount = json_integer_value(json_object_get(order, "amount_vnd"));
	struct ndx_vietqr q;
	char label[160], back[512];
	char *svg;

	/* The code shown is the treasury's, read back and checked: a payload
	 * that is not a VietQR for this order's amount is never shown. */
	if (!payload || !ref || ndx_vietqr_decode(payload, &q, NULL) != NDX_OK ||
	    q.amount_vnd != (uint64_t)amount || strcmp(q.reference, ref) != 0) {
		fprintf(stderr, "ndx-portal: payment of %s: the treasury's order is malformed\n", id);
		return perr_set(e, 502, "exchange", "the payment order could not be read");
	}
	snprintf(label, sizeof label, "VietQR: %lld VND, %s", (long long)amount, ref);
	snprintf(back, sizeof back, "%s/procedures/%s", p->cfg->public_url, id);
	if (!(svg = pay_qr_svg(payload, label)))
		return perr_set(e, 500, "internal", "the payment code could not be drawn");
	*out = json_pack("{s:I,s:s,s:O,s:s,s:O,s:O,s:s,s:s,s:o,s:s}", "amount_vnd", amount,
			 "reference", ref, "status", json_object_get(order, "status"),
			 "bank_bin", q.bin, "account", json_object_get(order, "account"),
			 "account_name", json_object_get(order, "account_name"), "payload", payload,
			 "svg", svg, "banks", pay_bank_choices(p->cfg, back, payload), "state", state);
	free(svg);
	return *out ? 0 : perr_set(e, 500, "internal", "out of memory");
}

/* The treasury's payment order of procedure proc (made on first call,
 * the same one after), through the exchange with the applicant as
 * Ndx-Subject: a new *order, or e set. */
static int fetch_order(const struct portal *p, const struct psession *s, const json_t *proc,
		       long long fee, json_t **order, struct perr *e)
{
	const char *svc = p->cfg->pay_orders_service;
	json_t *body = json_pack("{s:O,s:O,s:I}", "procedure_id", json_object_get(proc, "id"),
				 "agency", json_object_get(proc, "agency"), "amount_vnd",
				 (json_int_t)fee);
	struct xcall c = { .method = "POST", .service = svc, .path = "", .subject = s->subject,
			   .purpose = PURPOSE_SERVICE,
			   .subject_token = auth_subject_token(s, time(NULL)), .body = body };
	struct xresult r = { 0 };
	int rc;

	*order = NULL;
	if (!body)
		return perr_set(e, 500, "internal", "out of memory");
	rc = exchange_call(p, &c, &r);
	json_decref(body);
	if (rc != NDX_OK || (r.status != 200 && r.status != 201) || !json_is_object(r.json)) {
		exchange_fail(e, svc, rc, &r);
		xresult_free(&r);
		return -1;
	}
	*order = json_incref(r.json);
	xresult_free(&r);
	return 0;
}

int proc_payment(const struct portal *p, const struct psession *s, const char *id,
		 json_t **out, struct perr *e)
{
	json_t *proc = NULL, *order = NULL;
	int rc = pstore_proc_get(p->st, id, &proc);
	static const char *const UNPAID[] = { "unpaid", NULL };
	const char *state;
	char actor[64];
	long long fee;

	*out = NULL;
	if (rc == NDX_OK && !proc_visible(s, proc))
		rc = NDX_ENOTFOUND;
	if (rc != NDX_OK) {
		json_decref(proc);
		if (rc != NDX_ENOTFOUND)
			return perr_set(e, 500, "internal", "the procedure could not be read");
		return perr_set(e, 404, "not_found", "no such procedure");
	}
	fee = kind_fee(json_string_value(json_object_get(proc, "kind")));
	if (fee == 0 || !p->cfg->pay_orders_service) {
		json_decref(proc);
		return fee == 0 ? perr_set(e, 404, "not_found", "this procedure has no fee")
				: perr_set(e, 503, "payment_unavailable",
					   "fees cannot be paid online here; pay at the agency");
	}
	if (fetch_order(p, s, proc, fee, &order, e)) {
		json_decref(proc);
		return -1;
	}
	state = json_string_value(json_object_get(proc, "state"));
	/* A rejected procedure's fee goes back: when the refund at the
	 * rejection failed, asking here asks again. */
	if (strcmp(state, "rejected") == 0 &&
	    strcmp(json_string_value(json_object_get(order, "status")) ? json_string_value(json_object_get(order, "status")) : "", "paid") == 0)
		close_order(p, proc, NULL, "rejected", &order);
	/* Paid at the treasury (a bank's verified receipt): the procedure
	 * goes on to the officers, once. */
	const char *paid = json_string_value(json_object_get(order, "status"));
	const char *ref = json_string_value(json_object_get(order, "reference"));
	if (strcmp(state, "unpaid") == 0 && paid && strcmp(paid, "paid") == 0) {
		snprintf(actor, sizeof actor, "treasury:%s", ref ? ref : "");
		rc = pstore_proc_transition(p->st, id, UNPAID, "submitted", actor, "Đã nộp lệ phí", NULL,
					    time(NULL));
		if (rc == NDX_OK)
			notify_citizen(p, proc, "paid");
		if (rc == NDX_OK || rc == NDX_EPERM)
			state = "submitted";
	}
	rc = payment_doc(p, id, order, state, out, e);
	json_decref(order);
	json_decref(proc);
	return rc;
}

static const char *kind_agency(const char *kind)
{
	if (strcmp(kind, KIND_BUSINESS) == 0)
		return AGENCY_BUSINESS;
	if (strcmp(kind, KIND_RESIDENCE) == 0)
		return AGENCY_RESIDENCE;
	return NULL;
}

int proc_visible(const struct psession *s, const json_t *proc)
{
	const char *want = strcmp(s->kind, "citizen") == 0 ? s->subject : s->agency;
	const char *have = json_string_value(
		json_object_get(proc, strcmp(s->kind, "citizen") == 0 ? "subject" : "agency"));

	return want[0] && have && strcmp(want, have) == 0;
}

/* ---- field rules ------------------------------------------------------------ */

static size_t utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

static void field_error(json_t *errs, const char *field, const char *code)
{
	if (!json_object_get(errs, field))
		json_object_set_new(errs, field, json_string(code));
}

/* Whether t is display text (ndx_text_check), or with lines, display text
 * in lines separated by LF (a CR before an LF is taken out of t first). */
static int text_ok(char *t, int lines)
{
	char *r, *w, *line;

	if (!lines)
		return ndx_text_check(t, strlen(t), NULL, NULL) == NDX_OK;
	for (r = w = t; *r; r++)
		if (!(r[0] == '\r' && r[1] == '\n'))
			*w++ = *r;
	*w = '\0';
	for (line = t;;) {
		size_t n = strcspn(line, "\n");

		if (ndx_text_check(line, n, NULL, NULL) != NDX_OK)
			return 0;
		if (!line[n])
			return 1;
		line += n + 1;
	}
}

static void text_field_lines(const json_t *in, json_t *clean, json_t *errs, const char *name,
			     size_t min, size_t max, int lines);

/* A text field of min..max characters, trimmed of surrounding spaces, into
 * clean (a new member). */
static void text_field(const json_t *in, json_t *clean, json_t *errs, const char *name,
		       size_t min, size_t max)
{
	text_field_lines(in, clean, errs, name, min, max, 0);
}

/* text_field, with lines: several lines (a question, an answer typed in a
 * text area), each display text. */
static void text_field_lines(const json_t *in, json_t *clean, json_t *errs, const char *name,
			     size_t min, size_t max, int lines)
{
	const json_t *v = json_object_get(in, name);
	const char *s, *end;
	char *t;

	if (!v || json_is_null(v)) {
		if (min)
			field_error(errs, name, "required");
		else
			json_object_set_new(clean, name, json_string(""));
		return;
	}
	if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
		field_error(errs, name, "invalid");
		return;
	}
	s = json_string_value(v);
	while (*s == ' ' || (lines && (*s == '\n' || *s == '\r')))
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || (lines && (end[-1] == '\n' || end[-1] == '\r'))))
		end--;
	if (!(t = strndup(s, (size_t)(end - s)))) {
		field_error(errs, name, "invalid");
		return;
	}
	/* What the registries store (src/sector/schema.c COL_TEXT): no
	 * control character and no bidirectional override, which would make
	 * an address read differently on an officer's page (T58). */
	if (!text_ok(t, lines))
		field_error(errs, name, "invalid");
	else if (utf8_chars(t) < min)
		field_error(errs, name, "required");
	else if (utf8_chars(t) > max)
		field_error(errs, name, "too_long");
	else
		json_object_set_new(clean, name, json_string(t));
	free(t);
}

/* One of today's 34 provinces (adminmap.h). A former province's code is
 * refused with its own reason: the applicant picked an old list. */
static void province_field(const json_t *in, json_t *clean, json_t *errs, const char *name)
{
	const json_t *v = json_object_get(in, name);
	const char *s = json_string_value(v);

	if (!v || json_is_null(v) || (s && !*s))
		field_error(errs, name, "required");
	else if (!s || strlen(s) != 3 || !ndx_province_find(s))
		field_error(errs, name, "invalid");
	else if (!ndx_admin_province_find(s))
		field_error(errs, name, "former_province");
	else
		json_object_set_new(clean, name, json_string(s));
}

/* The address the registries store: "number and street, commune, Tỉnh X"
 * (two levels since 1 July 2025). An application filed before the commune
 * was asked for has none: its address is written as given. Returns the
 * length in characters; out is truncated only when cap is too small. */
static size_t full_address(const json_t *f, char *out, size_t cap)
{
	const char *addr = json_string_value(json_object_get(f, "address"));
	const char *commune = json_string_value(json_object_get(f, "commune"));
	const char *prov = json_string_value(json_object_get(f, "province"));
	const struct ndx_admin_province *u = prov && strlen(prov) == 3 ? ndx_admin_province_of(prov)
								      : NULL;

	if (commune && *commune && u)
		snprintf(out, cap, "%s, %s, %s %s", addr ? addr : "", commune, u->kind, u->name);
	else
		snprintf(out, cap, "%s", addr ? addr : "");
	return utf8_chars(out);
}

/* An integer 1..10^12, given as a JSON integer or a string of digits (what
 * an HTML form sends). */
static void capital_field(const json_t *in, json_t *clean, json_t *errs, const char *name)
{
	const json_t *v = json_object_get(in, name);
	unsigned long long n = 0;

	if (!v || json_is_null(v) || (json_is_string(v) && !*json_string_value(v))) {
		field_error(errs, name, "required");
		return;
	}
	if (json_is_integer(v)) {
		if (json_integer_value(v) < 1 || json_integer_value(v) > 1000000000000LL) {
			field_error(errs, name, "out_of_range");
			return;
		}
		n = (unsigned long long)json_integer_value(v);
	} else if (!json_is_string(v) || strspn(json_string_value(v), "0123456789") !=
						 strlen(json_string_value(v)) ||
		   strlen(json_string_value(v)) > 13) {
		field_error(errs, name, "invalid");
		return;
	} else {
		n = strtoull(json_string_value(v), NULL, 10);
		if (n < 1 || n > 1000000000000ULL) {
			field_error(errs, name, "out_of_range");
			return;
		}
	}
	json_object_set_new(clean, name, json_integer((json_int_t)n));
}

static void unknown_fields(const json_t *in, json_t *errs, const char *const *known)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)in, k, v) {
		size_t i;

		(void)v;
		for (i = 0; known[i] && strcmp(known[i], k) != 0; i++)
			;
		if (!known[i])
			field_error(errs, k, "unknown");
	}
}

/* Checks in against kind's rules; on success *clean is the stored form. */
static int validate(const char *kind, const json_t *in, json_t **clean, struct perr *e)
{
	static const char *const business[] = { "business_name", "business_line", "province",
						"commune", "address", "capital_vnd", NULL };
	static const char *const residence[] = { "province", "commune", "address", "reason", NULL };
	json_t *errs = json_object(), *c = json_object();

	*clean = NULL;
	if (!errs || !c) {
		json_decref(errs);
		json_decref(c);
		return perr_set(e, 500, "internal", "out of memory");
	}
	if (strcmp(kind, KIND_BUSINESS) == 0) {
		text_field(in, c, errs, "business_name", 1, 200);
		text_field(in, c, errs, "business_line", 1, 200);
		province_field(in, c, errs, "province");
		text_field(in, c, errs, "commune", 1, COMMUNE_MAX);
		text_field(in, c, errs, "address", 1, ADDRESS_MAX);
		capital_field(in, c, errs, "capital_vnd");
		unknown_fields(in, errs, business);
	} else {
		province_field(in, c, errs, "province");
		text_field(in, c, errs, "commune", 1, COMMUNE_MAX);
		text_field(in, c, errs, "address", 1, ADDRESS_MAX);
		text_field(in, c, errs, "reason", 0, 300);
		unknown_fields(in, errs, residence);
	}
	if (!json_object_size(errs)) {
		/* The registries hold 300 characters of address, all parts. */
		char full[FULL_ADDRESS_CAP];
		if (full_address(c, full, sizeof full) > 300)
			field_error(errs, "address", "too_long");
	}
	if (json_object_size(errs)) {
		json_decref(c);
		perr_set(e, 422, "validation", "some fields are not valid");
		e->fields = errs;
		return -1;
	}
	json_decref(errs);
	*clean = c;
	return 0;
}

/* ---- registry calls ------------------------------------------------------------ */

/* On whose behalf a registry call is made: the citizen's own (token, their
 * ID token) or an officer's work on a procedure (user_id, issue). */
struct who {
	const char *token;
	char user_id[300];
	char issue[128];
};

/* The officer of session s working on procedure proc. */
static void officer_who(const struct psession *s, const json_t *proc, struct who *w)
{
	const char *kind = json_string_value(json_object_get(proc, "kind"));
	const char *id = json_string_value(json_object_get(proc, "id"));

	memset(w, 0, sizeof *w);
	snprintf(w->user_id, sizeof w->user_id, "%s/%s", s->agency, s->username);
	snprintf(w->issue, sizeof w->issue, "%s/%s", kind ? kind : "", id ? id : "");
}

static int call(const struct portal *p, const char *method, const char *service,
		const char *path, const char *subject, const struct who *w, const json_t *body,
		struct xresult *r, struct perr *e)
{
	struct xcall c = { .method = method, .service = service, .path = path,
			   .subject = subject, .purpose = PURPOSE_SERVICE, .body = body,
			   .subject_token = w->token, .user_id = w->user_id[0] ? w->user_id : NULL,
			   .issue = w->issue[0] ? w->issue : NULL };
	int rc = exchange_call(p, &c, r);

	if (rc != NDX_OK) {
		xresult_free(r);
		return exchange_fail(e, service, rc, r);
	}
	return 0;
}

/* GET the citizen's population record into *out; 404 as not_found. */
static int read_citizen(const struct portal *p, const char *pin, const struct who *w,
			json_t **out, struct perr *e)
{
	struct xresult r;
	char path[32];

	*out = NULL;
	snprintf(path, sizeof path, "/%s", pin);
	if (call(p, "GET", SVC_CITIZENS, path, pin, w, NULL, &r, e))
		return -1;
	if (r.status == 404 && strcmp(r.type, "Client.NotFound") == 0) {
		xresult_free(&r);
		return perr_set(e, 404, "not_found", "the population registry has no record");
	}
	if (r.status != 200 || !json_is_object(r.json)) {
		exchange_fail(e, SVC_CITIZENS, NDX_OK, &r);
		xresult_free(&r);
		return -1;
	}
	*out = json_incref(r.json);
	xresult_free(&r);
	return 0;
}

static const char *str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

int proc_prefill(const struct portal *p, const struct psession *s, const char *kind,
		 json_t **out, struct perr *e)
{
	struct who w = { 0 };
	json_t *cit, *f;

	*out = NULL;
	if (!kind_agency(kind))
		return perr_set(e, 404, "not_found", "no such procedure kind");
	if (auth_need_token(s, &w.token, e) || read_citizen(p, s->subject, &w, &cit, e))
		return -1;
	if (strcmp(kind, KIND_BUSINESS) == 0)
		f = json_pack("{s:s,s:s,s:s,s:s}", "owner_name", str(cit, "full_name"),
			      "owner_pin", s->subject, "owner_birth_date", str(cit, "birth_date"),
			      "owner_address", str(cit, "permanent_address"));
	else
		f = json_pack("{s:s,s:s}", "permanent_address", str(cit, "permanent_address"),
			      "permanent_province", str(cit, "permanent_province"));
	json_decref(cit);
	if (!f || !(*out = json_pack("{s:o}", "fields", f)))
		return perr_set(e, 500, "internal", "out of memory");
	return 0;
}

/* 1 when the enterprise registry holds an enterprise whose name folds to
 * the same text as name, 0 when not, -1 (e set) when it cannot be asked. */
static int name_taken(const struct portal *p, const char *subject, const struct who *w,
		      const char *name, struct perr *e)
{
	char want[800], have[800], *esc = ndx_fetch_escape(name), *path;
	struct xresult r;
	const json_t *items, *it;
	size_t i, n;
	int taken = 0;

	if (!esc)
		return perr_set(e, 500, "internal", "out of memory");
	n = strlen(esc) + 32;
	if (!(path = malloc(n))) {
		free(esc);
		return perr_set(e, 500, "internal", "out of memory");
	}
	snprintf(path, n, "?name=%s&limit=%d", esc, NAME_SEARCH_LIMIT);
	free(esc);
	if (call(p, "GET", SVC_ENTERPRISES, path, subject, w, NULL, &r, e)) {
		free(path);
		return -1;
	}
	free(path);
	items = json_object_get(r.json, "items");
	if (r.status != 200 || !json_is_array(items)) {
		exchange_fail(e, SVC_ENTERPRISES, NDX_OK, &r);
		xresult_free(&r);
		return -1;
	}
	if (ndx_fold(name, want, sizeof want) < 0)
		want[0] = '\0';
	json_array_foreach(items, i, it) {
		const char *nm = json_string_value(json_object_get(it, "name"));

		if (nm && ndx_fold(nm, have, sizeof have) >= 0 && strcmp(want, have) == 0)
			taken = 1;
	}
	xresult_free(&r);
	return taken;
}

static int new_id(char out[37])
{
	uint8_t b[16];
	char hex[33];

	if (RAND_bytes(b, sizeof b) != 1)
		return -1;
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
	ndx_hex_encode(b, sizeof b, hex);
	snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16,
		 hex + 20);
	return 0;
}

int proc_submit(const struct portal *p, const struct psession *s, const json_t *body,
		json_t **out, struct perr *e)
{
	const char *kind = json_string_value(json_object_get(body, "kind"));
	const json_t *fields = json_object_get(body, "fields");
	char id[37], actor[64];
	json_t *clean = NULL;
	int rc;

	*out = NULL;
	if (!json_is_object(body) || !json_is_object(fields) || !json_is_string(json_object_get(body, "kind")))
		return perr_set(e, 400, "invalid", "expected {\"kind\", \"fields\": {…}}");
	if (!kind_agency(kind)) {
		perr_set(e, 422, "validation", "unknown procedure kind");
		e->fields = json_pack("{s:s}", "kind", "invalid");
		return -1;
	}
	if (validate(kind, fields, &clean, e))
		return -1;
	if (strcmp(kind, KIND_BUSINESS) == 0) {
		/* The name search is no read of the citizen's record: it carries
		 * their token while it is valid, and a form filled slowly is not
		 * sent back for a new sign-in. */
		struct who w = { .token = auth_subject_token(s, time(NULL)) };

		rc = name_taken(p, s->subject, &w, str(clean, "business_name"), e);
		if (rc) {
			json_decref(clean);
			if (rc < 0)
				return -1;
			perr_set(e, 409, "conflict", "an enterprise with this name is registered");
			e->fields = json_pack("{s:s}", "business_name", "duplicate");
			return -1;
		}
	}
	if (new_id(id)) {
		json_decref(clean);
		return perr_set(e, 500, "internal", "no randomness");
	}
	snprintf(actor, sizeof actor, "citizen:%s", s->subject);
	struct pproc_new np = { .id = id, .kind = kind, .subject = s->subject,
				.applicant_name = s->name, .agency = kind_agency(kind),
				.actor = actor, .fields = clean,
				/* With a fee to pay online, the officers see the
				 * application once the treasury has the money. */
				.state = kind_fee(kind) && p->cfg->pay_orders_service ? "unpaid"
										       : "submitted" };
	rc = pstore_proc_insert(p->st, &np, time(NULL));
	json_decref(clean);
	if (rc == NDX_ETOOBIG)
		return perr_set(e, 503, "busy", "no more applications can be numbered today");
	if (rc != NDX_OK || pstore_proc_get(p->st, id, out) != NDX_OK)
		return perr_set(e, 500, "internal", "the procedure could not be stored");
	return 0;
}

/* ---- approval: the registry writes ------------------------------------------------- */

/* The registration date a registry record gets: today in Vietnam, not in
 * UTC (an approval at 06:00 Vietnam time is 23:00 UTC the day before). */
static void today(char out[NDX_VN_DATE_LEN])
{
	ndx_time_vn_iso_date(time(NULL), out);
}

/* 2xx of a write, else e set. */
static int wrote(const char *service, struct xresult *r, struct perr *e)
{
	int ok = r->status >= 200 && r->status < 300;

	if (!ok)
		exchange_fail(e, service, NDX_OK, r);
	xresult_free(r);
	return ok ? 0 : -1;
}

/* A fresh enterprise code: the prefix of the tax office of the business's
 * province (adminmap.h) and 7 random serial digits, completed with its
 * check digit. */
static int allocate_code(const char *prefix, char out[NDX_ECODE_LEN + 1])
{
	for (int i = 0; i < 100; i++) {
		uint8_t b[8];
		char first9[10];
		unsigned long long v;

		if (RAND_bytes(b, sizeof b) != 1)
			return -1;
		v = 0;
		for (size_t k = 0; k < sizeof b; k++)
			v = (v << 8) | b[k];
		v %= 10000000ULL;
		if (v == 0)
			continue;
		snprintf(first9, sizeof first9, "%.2s%07llu", prefix, v);
		if (ndx_ecode_make(first9, out) == NDX_OK)
			return 0;
	}
	return -1;
}

static int approve_business(const struct portal *p, const struct who *w, const char *id,
			    const json_t *proc, json_t **result, struct perr *e)
{
	const json_t *f = json_object_get(proc, "fields");
	const char *pin = str(proc, "subject");
	/* An application filed before 1 July 2025's map may name a former
	 * province: the enterprise is registered in the unit it is part of. */
	const struct ndx_admin_province *u = ndx_admin_province_of(str(f, "province"));
	char code[NDX_ECODE_LEN + 1] = "", date[11], path[64], addr[FULL_ADDRESS_CAP];
	json_t *work = NULL, *ent = NULL, *own = NULL, *tax = NULL;
	struct xresult r;
	int rc = -1, created = 0;

	if (!u)
		return perr_set(e, 500, "internal", "the application names no province");
	full_address(f, addr, sizeof addr);
	today(date);
	if (pstore_proc_work_get(p->st, id, &work) != NDX_OK)
		return perr_set(e, 500, "internal", "the procedure could not be read");
	snprintf(code, sizeof code, "%s", str(work, "enterprise_code"));
	ent = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "code", code, "name",
			str(f, "business_name"), "kind", "tu-nhan", "address", addr, "province",
			u->code, "status", "active", "registered_on", date,
			"legal_rep_pin", pin);
	if (!ent) {
		perr_set(e, 500, "internal", "out of memory");
		goto out;
	}
	if (code[0]) {
		/* A retry: the code was allocated (and perhaps written) before. */
		snprintf(path, sizeof path, "/%s", code);
		if (call(p, "GET", SVC_ENTERPRISES, path, pin, w, NULL, &r, e))
			goto out;
		created = r.status == 200;
		if (!created && r.status != 404) {
			wrote(SVC_ENTERPRISES, &r, e);
			goto out;
		}
		xresult_free(&r);
		if (!created) {
			if (call(p, "POST", SVC_ENTERPRISES, "", pin, w, ent, &r, e) ||
			    wrote(SVC_ENTERPRISES, &r, e))
				goto out;
		}
	} else {
		for (int i = 0; i < ECODE_TRIES && !created; i++) {
			if (allocate_code(u->ecode_prefix, code)) {
				perr_set(e, 500, "internal", "no randomness");
				goto out;
			}
			json_object_set_new(work, "enterprise_code", json_string(code));
			json_object_set_new(ent, "code", json_string(code));
			if (pstore_proc_work_set(p->st, id, work) != NDX_OK) {
				perr_set(e, 500, "internal", "the procedure could not be stored");
				goto out;
			}
			if (call(p, "POST", SVC_ENTERPRISES, "", pin, w, ent, &r, e))
				goto out;
			if (r.status == 409) {
				xresult_free(&r); /* the code is taken: draw another */
				continue;
			}
			if (wrote(SVC_ENTERPRISES, &r, e))
				goto out;
			created = 1;
		}
		if (!created) {
			perr_set(e, 502, "exchange", "%s: no free enterprise code after %d tries",
				 SVC_ENTERPRISES, ECODE_TRIES);
			goto out;
		}
	}

	snprintf(path, sizeof path, "?enterprise_code=%s", code);
	if (call(p, "GET", SVC_OWNERS, path, pin, w, NULL, &r, e))
		goto out;
	if (r.status != 200) {
		wrote(SVC_OWNERS, &r, e);
		goto out;
	}
	created = json_array_size(json_object_get(r.json, "items")) > 0;
	xresult_free(&r);
	if (!created) {
		own = json_pack("{s:s,s:s,s:f,s:s}", "enterprise_code", code, "owner_pin", pin,
				"share_pct", 100.0, "since", date);
		if (!own || call(p, "POST", SVC_OWNERS, "", pin, w, own, &r, e) ||
		    wrote(SVC_OWNERS, &r, e))
			goto out;
	}

	/* The enterprise's taxpayer record is nobody's personal data: it names
	 * no subject (the tax registry would refuse the applicant as one). */
	snprintf(path, sizeof path, "/%s", code);
	if (call(p, "GET", SVC_TAXPAYERS, path, NULL, w, NULL, &r, e))
		goto out;
	created = r.status == 200;
	if (!created && r.status != 404) {
		wrote(SVC_TAXPAYERS, &r, e);
		goto out;
	}
	xresult_free(&r);
	if (!created) {
		tax = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "tax_id", code, "kind", "enterprise",
				"name", str(f, "business_name"), "status", "active", "tax_office",
				u->code, "registered_on", date);
		if (!tax || call(p, "POST", SVC_TAXPAYERS, "", NULL, w, tax, &r, e) ||
		    wrote(SVC_TAXPAYERS, &r, e))
			goto out;
	}
	if (!(*result = json_pack("{s:s}", "enterprise_code", code))) {
		perr_set(e, 500, "internal", "out of memory");
		goto out;
	}
	rc = 0;
out:
	json_decref(work);
	json_decref(ent);
	json_decref(own);
	json_decref(tax);
	return rc;
}

/* A fresh household code in province prov: H, the province code and 8
 * random digits (schema.c COL_HOUSEHOLD). */
static int allocate_household(const char *prov, char out[13])
{
	uint8_t b[8];
	unsigned long long v = 0;

	if (RAND_bytes(b, sizeof b) != 1)
		return -1;
	for (size_t k = 0; k < sizeof b; k++)
		v = (v << 8) | b[k];
	snprintf(out, 13, "H%.3s%08llu", prov, v % 100000000ULL);
	return 0;
}

/* The household the citizen pin moves into in province prov at address
 * addr: one they head, registered in that province. Its code is kept in
 * the procedure's work first, so that approving again after a failure
 * uses (or makes) the same household. */
static int new_household(const struct portal *p, const struct who *w, const char *id,
			 const char *pin, const char *prov, const char *addr, char hid[13],
			 struct perr *e)
{
	json_t *work = NULL, *hh = NULL;
	struct xresult r;
	char path[32];
	int rc = -1, made = 0;

	if (pstore_proc_work_get(p->st, id, &work) != NDX_OK)
		return perr_set(e, 500, "internal", "the procedure could not be read");
	snprintf(hid, 13, "%s", str(work, "household_id"));
	if (hid[0] && strncmp(hid + 1, prov, 3) == 0) {
		/* A retry: the household was allocated (and perhaps written) before. */
		snprintf(path, sizeof path, "/%s", hid);
		if (call(p, "GET", SVC_HOUSEHOLDS, path, pin, w, NULL, &r, e))
			goto out;
		made = r.status == 200;
		if (!made && r.status != 404) {
			wrote(SVC_HOUSEHOLDS, &r, e);
			goto out;
		}
		xresult_free(&r);
	} else {
		hid[0] = '\0';
	}
	for (int i = 0; i < ECODE_TRIES && !made; i++) {
		if (!hid[0] || i > 0) {
			if (allocate_household(prov, hid)) {
				perr_set(e, 500, "internal", "no randomness");
				goto out;
			}
			json_object_set_new(work, "household_id", json_string(hid));
			if (pstore_proc_work_set(p->st, id, work) != NDX_OK) {
				perr_set(e, 500, "internal", "the procedure could not be stored");
				goto out;
			}
		}
		json_decref(hh);
		if (!(hh = json_pack("{s:s,s:s,s:s,s:s}", "id", hid, "head_pin", pin, "address", addr,
				     "province", prov))) {
			perr_set(e, 500, "internal", "out of memory");
			goto out;
		}
		if (call(p, "POST", SVC_HOUSEHOLDS, "", pin, w, hh, &r, e))
			goto out;
		if (r.status == 409) {
			xresult_free(&r); /* the code is taken: draw another */
			continue;
		}
		if (wrote(SVC_HOUSEHOLDS, &r, e))
			goto out;
		made = 1;
	}
	if (!made) {
		perr_set(e, 502, "exchange", "%s: no free household code after %d tries",
			 SVC_HOUSEHOLDS, ECODE_TRIES);
		goto out;
	}
	rc = 0;
out:
	json_decref(work);
	json_decref(hh);
	return rc;
}

/* A change of permanent residence. Within the province the citizen stays
 * in their household; to another province (or without a household) they
 * head a new household registered there at the new address: the
 * household's province follows the residence (docs/portal.md). */
static int approve_residence(const struct portal *p, const struct who *w, const char *id,
			     const json_t *proc, json_t **result, struct perr *e)
{
	const json_t *f = json_object_get(proc, "fields");
	const char *pin = str(proc, "subject");
	const struct ndx_admin_province *u = ndx_admin_province_of(str(f, "province"));
	const char *prov;
	struct xresult r;
	char path[32], hid[13] = "", addr[FULL_ADDRESS_CAP];
	json_t *cit;

	if (!u)
		return perr_set(e, 500, "internal", "the application names no province");
	prov = u->code;
	full_address(f, addr, sizeof addr);
	if (read_citizen(p, pin, w, &cit, e))
		return -1;
	snprintf(hid, sizeof hid, "%s", str(cit, "household_id"));
	/* A household's code names the province it is registered in (H, the
	 * province code, 8 digits), and a household never moves province: a
	 * citizen who does gets a new one. So the code says where it is,
	 * without a read of the household (whose answer holds every member,
	 * which not every federation allows the portal). A household
	 * registered before 1 July 2025 names a former province: it is in
	 * the unit that province is part of today. */
	if (strlen(hid) != 12 || ndx_admin_province_of(hid + 1) != u) {
		if (new_household(p, w, id, pin, prov, addr, hid, e)) {
			json_decref(cit);
			return -1;
		}
		json_object_set_new(cit, "household_id", json_string(hid));
		json_object_set_new(cit, "relation", json_string("head"));
	}
	json_object_set_new(cit, "permanent_address", json_string(addr));
	json_object_set_new(cit, "permanent_province", json_string(prov));
	snprintf(path, sizeof path, "/%s", pin);
	if (call(p, "PUT", SVC_CITIZENS, path, pin, w, cit, &r, e)) {
		json_decref(cit);
		return -1;
	}
	json_decref(cit);
	if (wrote(SVC_CITIZENS, &r, e))
		return -1;
	if (!(*result = json_pack("{s:s}", "permanent_address", addr)))
		return perr_set(e, 500, "internal", "out of memory");
	return 0;
}

/* The 409 of an officer's step on procedure id that someone else
 * changed first, with what it is now in fields: "state" (it is no longer
 * awaiting this step) or "assigned_to" (another officer holds it). */
static int conflict_now(const struct portal *p, const char *id, int rc, struct perr *e)
{
	json_t *proc = NULL;
	const json_t *holder;

	if (pstore_proc_get(p->st, id, &proc) != NDX_OK)
		return perr_set(e, 500, "internal", "the procedure could not be read");
	holder = json_object_get(proc, "assigned_to");
	if (rc == NDX_EEXIST) {
		perr_set(e, 409, "conflict", "another officer holds this application: %s (%s)",
			 str(holder, "name"), str(holder, "username"));
		e->fields = json_pack("{s:s}", "assigned_to", str(holder, "username"));
	} else {
		perr_set(e, 409, "conflict", "the application is %s now, not awaiting this step",
			 str(proc, "state"));
		e->fields = json_pack("{s:s}", "state", str(proc, "state"));
	}
	json_decref(proc);
	return -1;
}

static int transition_error(const struct portal *p, const char *id, int rc, struct perr *e)
{
	if (rc == NDX_EPERM || rc == NDX_EEXIST)
		return conflict_now(p, id, rc, e);
	if (rc == NDX_ENOTFOUND)
		return perr_set(e, 404, "not_found", "no such procedure");
	return perr_set(e, 500, "internal", "the procedure could not be stored");
}

/* Another officer than session s's holds proc. */
static int held_by_other(const struct psession *s, const json_t *proc)
{
	const char *u = str(json_object_get(proc, "assigned_to"), "username");

	return *u && strcmp(u, s->username) != 0;
}

int proc_hold(const struct portal *p, const struct psession *s, const char *id,
	      const json_t *body, json_t **out, struct perr *e)
{
	static const char *const open[] = { "submitted", "failed", NULL };
	const char *action = json_string_value(json_object_get(body, "action"));
	const struct pholder by = { .username = s->username, .name = s->name };
	json_t *proc = NULL;
	int rc;

	*out = NULL;
	if (pstore_proc_get(p->st, id, &proc) != NDX_OK || !proc_visible(s, proc)) {
		json_decref(proc);
		return perr_set(e, 404, "not_found", "no such procedure");
	}
	json_decref(proc);
	if (!action || (strcmp(action, "take") != 0 && strcmp(action, "release") != 0) ||
	    json_object_size(body) != 1) {
		perr_set(e, 422, "validation", "expected {\"action\": \"take\" or \"release\"}");
		e->fields = json_pack("{s:s}", "action", action ? "invalid" : "required");
		return -1;
	}
	rc = pstore_proc_hold(p->st, id, open, &by, strcmp(action, "release") == 0, time(NULL));
	if (rc != NDX_OK)
		return transition_error(p, id, rc, e);
	fprintf(stderr, "ndx-portal: procedure %s %s by officer %s\n", id,
		strcmp(action, "take") == 0 ? "taken" : "released", s->username);
	if (pstore_proc_get(p->st, id, out) != NDX_OK)
		return perr_set(e, 500, "internal", "the procedure could not be read");
	return 0;
}

/* Asks the treasury to close the order of rejected procedure proc (a paid
 * one is refunded, an open one cancelled), as w (NULL: the portal itself);
 * on success *order (may be NULL) is replaced by the closed order. 0, or
 * -1 after the failure is logged: a later GET …/payment asks again. */
static int close_order(const struct portal *p, const json_t *proc, const struct who *w,
		       const char *reason, json_t **order)
{
	const char *svc = p->cfg->pay_orders_service, *id = str(proc, "id");
	struct who none = { 0 };
	struct xresult r = { 0 };
	struct perr e = { 0 };
	json_t *body;

	if (!svc || kind_fee(str(proc, "kind")) == 0)
		return 0;
	body = json_pack("{s:s,s:s}", "procedure_id", id, "reason", reason ? reason : "");
	if (!body || call(p, "POST", svc, "/refund", str(proc, "subject"), w ? w : &none, body,
			  &r, &e)) {
		json_decref(body);
		fprintf(stderr, "ndx-portal: the fee of %s: no refund yet (%s)\n", id,
			body ? e.message : "out of memory");
		return -1;
	}
	json_decref(body);
	if (r.status != 200 || !json_is_object(r.json)) {
		exchange_fail(&e, svc, NDX_OK, &r);
		fprintf(stderr, "ndx-portal: the fee of %s: no refund yet (%s)\n", id, e.message);
		xresult_free(&r);
		return -1;
	}
	fprintf(stderr, "ndx-portal: the fee of %s: order %s\n", id,
		json_string_value(json_object_get(r.json, "status")));
	if (strcmp(str(r.json, "status"), "refunded") == 0)
		notify_citizen(p, proc, "refunded");
	if (order) {
		json_decref(*order);
		*order = json_incref(r.json);
	}
	xresult_free(&r);
	return 0;
}

int proc_decide(const struct portal *p, const struct psession *s, const char *id,
		const json_t *body, json_t **out, struct perr *e)
{
	static const char *const from_submitted[] = { "submitted", NULL };
	static const char *const from_approvable[] = { "submitted", "failed", NULL };
	static const char *const from_approved[] = { "approved", NULL };
	const char *decision = json_string_value(json_object_get(body, "decision"));
	const struct pholder by = { .username = s->username, .name = s->name };
	json_t *proc = NULL, *reason_clean = NULL, *errs = NULL, *result = NULL;
	char actor[192];
	struct who w;
	int rc, ret = -1;

	*out = NULL;
	if (!json_is_object(body))
		return perr_set(e, 400, "invalid", "expected {\"decision\", \"reason\"}");
	if (pstore_proc_get(p->st, id, &proc) != NDX_OK || !proc_visible(s, proc)) {
		json_decref(proc);
		return perr_set(e, 404, "not_found", "no such procedure");
	}
	snprintf(actor, sizeof actor, "officer:%s", s->username);
	officer_who(s, proc, &w);
	/* Another officer's application is theirs to decide: refused here,
	 * before any registry is asked, and again in the transition's own
	 * transaction (pstore_proc_decide) for one taken meanwhile. */
	if (held_by_other(s, proc)) {
		conflict_now(p, id, NDX_EEXIST, e);
		goto out;
	}
	if (!decision || (strcmp(decision, "approve") != 0 && strcmp(decision, "reject") != 0)) {
		perr_set(e, 422, "validation", "decision must be approve or reject");
		e->fields = json_pack("{s:s}", "decision", decision ? "invalid" : "required");
		goto out;
	}
	if (strcmp(decision, "reject") == 0) {
		errs = json_object();
		reason_clean = json_object();
		if (!errs || !reason_clean) {
			perr_set(e, 500, "internal", "out of memory");
			goto out;
		}
		text_field(body, reason_clean, errs, "reason", 1, 500);
		if (json_object_size(errs)) {
			perr_set(e, 422, "validation", "a rejection needs a reason");
			e->fields = json_incref(errs);
			goto out;
		}
		rc = pstore_proc_decide(p->st, id, from_submitted, "rejected", actor, &by,
					str(reason_clean, "reason"), NULL, time(NULL));
		if (rc != NDX_OK) {
			transition_error(p, id, rc, e);
			goto out;
		}
		notify_citizen(p, proc, "rejected");
		/* The fee goes back to the payer (docs/payment.md). */
		close_order(p, proc, &w, str(reason_clean, "reason"), NULL);
		goto answer;
	}
	/* Approve. A household business named like a registered enterprise
	 * (registered since it was filed) is refused before anything is
	 * written, unless this is a retry of our own earlier write. */
	if (strcmp(str(proc, "kind"), KIND_BUSINESS) == 0 && strcmp(str(proc, "state"), "submitted") == 0) {
		rc = name_taken(p, str(proc, "subject"), &w,
				str(json_object_get(proc, "fields"), "business_name"), e);
		if (rc) {
			if (rc > 0) {
				perr_set(e, 409, "conflict",
					 "an enterprise with this name has been registered meanwhile");
				e->fields = json_pack("{s:s}", "business_name", "duplicate");
			}
			goto out;
		}
	}
	rc = pstore_proc_decide(p->st, id, from_approvable, "approved", actor, &by, NULL, NULL,
				time(NULL));
	if (rc != NDX_OK) {
		transition_error(p, id, rc, e);
		goto out;
	}
	if (strcmp(str(proc, "kind"), KIND_BUSINESS) == 0)
		rc = approve_business(p, &w, id, proc, &result, e);
	else
		rc = approve_residence(p, &w, id, proc, &result, e);
	if (rc) {
		/* The write failed: the procedure says so, and the officer may
		 * approve again. */
		pstore_proc_transition(p->st, id, from_approved, "failed", PORTAL_PROG, e->message,
				       NULL, time(NULL));
		goto out;
	}
	rc = pstore_proc_transition(p->st, id, from_approved, "completed", PORTAL_PROG, NULL,
				    result, time(NULL));
	if (rc != NDX_OK) {
		transition_error(p, id, rc, e);
		goto out;
	}
	notify_citizen(p, proc, "completed");
answer:
	json_decref(proc);
	proc = NULL;
	if (pstore_proc_get(p->st, id, out) != NDX_OK) {
		perr_set(e, 500, "internal", "the procedure could not be read");
		goto out;
	}
	ret = 0;
out:
	json_decref(proc);
	json_decref(reason_clean);
	json_decref(errs);
	json_decref(result);
	return ret;
}

int proc_officer_view(const struct portal *p, const struct psession *s, json_t *proc)
{
	const char *pin = str(proc, "subject");
	const char *name = str(json_object_get(proc, "fields"), "business_name");
	struct perr e = { 0 };
	struct who w;
	json_t *cit = NULL, *check;
	int taken;

	officer_who(s, proc, &w);
	/* A household business still to be decided: whether its name is
	 * registered now (an approval would then be refused), asked the
	 * enterprise registry as at the approval. */
	if (strcmp(str(proc, "kind"), KIND_BUSINESS) == 0 &&
	    strcmp(str(proc, "state"), "submitted") == 0) {
		taken = name_taken(p, pin, &w, name, &e);
		json_decref(e.fields);
		e.fields = NULL;
		check = taken < 0 ? json_null()
				  : json_pack("{s:s,s:b}", "business_name", name, "registered", taken);
		if (!check || json_object_set_new(proc, "name_check", check))
			return -1;
	}
	if (read_citizen(p, pin, &w, &cit, &e)) {
		/* The file stands without it: the officer sees that the registry
		 * could not be read, never why in X-Road terms. */
		json_decref(e.fields);
		return json_object_set_new(proc, "applicant_record", json_null()) ? -1 : 0;
	}
	return json_object_set_new(proc, "applicant_record", cit) ? -1 : 0;
}

/* ---- more information -------------------------------------------------------------- */

int proc_request_info(const struct portal *p, const struct psession *s, const char *id,
		      const json_t *body, json_t **out, struct perr *e)
{
	const struct pholder by = { .username = s->username, .name = s->name };
	json_t *proc = NULL, *clean = json_object(), *errs = json_object();
	int rc, ret = -1;

	*out = NULL;
	if (!clean || !errs) {
		perr_set(e, 500, "internal", "out of memory");
		goto out;
	}
	if (pstore_proc_get(p->st, id, &proc) != NDX_OK || !proc_visible(s, proc)) {
		perr_set(e, 404, "not_found", "no such procedure");
		goto out;
	}
	if (held_by_other(s, proc)) {
		conflict_now(p, id, NDX_EEXIST, e);
		goto out;
	}
	text_field_lines(body, clean, errs, "question", 1, 1000, 1);
	unknown_fields(body, errs, (const char *const[]){ "question", NULL });
	if (json_object_size(errs)) {
		perr_set(e, 422, "validation", "a request needs the question to the citizen");
		e->fields = json_incref(errs);
		goto out;
	}
	rc = pstore_info_ask(p->st, id, &by, str(clean, "question"), time(NULL));
	if (rc != NDX_OK) {
		transition_error(p, id, rc, e);
		goto out;
	}
	fprintf(stderr, PORTAL_PROG ": procedure %s: more information asked by officer %s\n", id,
		s->username);
	notify_citizen(p, proc, "information_requested");
	if (pstore_proc_get(p->st, id, out) != NDX_OK) {
		perr_set(e, 500, "internal", "the procedure could not be read");
		goto out;
	}
	ret = 0;
out:
	json_decref(proc);
	json_decref(clean);
	json_decref(errs);
	return ret;
}

#define ANSWER_FILES_MAX PSTORE_ATTACH_PER_PROC

int proc_answer(const struct portal *p, const struct psession *s, const char *id,
		const json_t *body, json_t **out, struct perr *e)
{
	const json_t *files = json_object_get(body, "attachments"), *f;
	const char *ids[ANSWER_FILES_MAX + 1] = { 0 };
	json_t *clean = json_object(), *errs = json_object(), *proc = NULL;
	size_t i;
	int rc, ret = -1;

	*out = NULL;
	if (!clean || !errs) {
		perr_set(e, 500, "internal", "out of memory");
		goto out;
	}
	/* Another's application is no one's business here: the same 404 as
	 * one that does not exist. */
	if (pstore_proc_get(p->st, id, &proc) != NDX_OK || !proc_visible(s, proc)) {
		perr_set(e, 404, "not_found", "no such procedure");
		goto out;
	}
	text_field_lines(body, clean, errs, "answer", 1, 2000, 1);
	unknown_fields(body, errs, (const char *const[]){ "answer", "attachments", NULL });
	if (files && (!json_is_array(files) || json_array_size(files) > ANSWER_FILES_MAX))
		field_error(errs, "attachments", "invalid");
	json_array_foreach(files, i, f) {
		if (i >= ANSWER_FILES_MAX || !json_is_string(f)) {
			field_error(errs, "attachments", "invalid");
			break;
		}
		ids[i] = json_string_value(f);
	}
	if (json_object_size(errs)) {
		perr_set(e, 422, "validation", "an answer needs its text");
		e->fields = json_incref(errs);
		goto out;
	}
	rc = pstore_info_answer(p->st, id, s->subject, str(clean, "answer"), ids, time(NULL));
	if (rc == NDX_EPERM) {
		perr_set(e, 409, "conflict", "nothing is asked of you on this application now");
		e->fields = json_pack("{s:s}", "state", str(proc, "state"));
		goto out;
	}
	if (rc == NDX_EINVAL) {
		perr_set(e, 422, "validation", "an attachment is not this application's, or is "
					       "another answer's");
		e->fields = json_pack("{s:s}", "attachments", "invalid");
		goto out;
	}
	if (rc != NDX_OK) {
		transition_error(p, id, rc, e);
		goto out;
	}
	fprintf(stderr, PORTAL_PROG ": procedure %s: the citizen answered; back with the officers\n",
		id);
	if (pstore_proc_get(p->st, id, out) != NDX_OK) {
		perr_set(e, 500, "internal", "the procedure could not be read");
		goto out;
	}
	ret = 0;
out:
	json_decref(proc);
	json_decref(clean);
	json_decref(errs);
	return ret;
}
