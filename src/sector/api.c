/* The sector HTTP handlers (api.h). Routing is by the raw path; the only
 * ids accepted in it are the schema's formats (digits, letters, '-'), so
 * there is nothing to percent-decode. Validation is table-driven from
 * schema.c, with the few rules that tie fields together written out in
 * check_cross. References inside the same sector's database are checked
 * in the write transaction; references into another agency's database
 * cannot be, and are what `ndx-sector quality` reports. Every answer
 * declares its data subjects (Ndx-Data-Subjects, record_subjects.h), and a
 * request naming one (Ndx-Subject) reaches only records that concern them. */
#include "api.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ndx/fold.h"
#include "ndx/err.h"
#include "ndx/pin.h"
#include "openapi.h"
#include "record_subjects.h"
#include "sec_measures.h"
#include "sec_outbox.h"
#include "sec_verify.h"
#include "sec_worklist_api.h"

#define ID_MAX 64
#define MSG_MAX 256

struct api {
	const struct sector_def *def;
	struct store *st;
	char *openapi;
	size_t openapi_len;
	/* Events (api_set_events): the publishing subsystem, NULL when this
	 * sector publishes none, and the thread that drains the outbox. */
	const char *events_client;
	struct outbox_publisher *publisher;
};

void api_set_events(struct api *api, const char *client, struct outbox_publisher *publisher)
{
	api->events_client = client;
	api->publisher = publisher;
}

int api_new(const struct sector_def *def, struct store *st, struct api **out)
{
	struct api *api = calloc(1, sizeof *api);
	json_t *doc;

	*out = NULL;
	if (!api)
		return NDX_ENOMEM;
	api->def = def;
	api->st = st;
	doc = openapi_build(def);
	api->openapi = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	if (!api->openapi) {
		free(api);
		return NDX_ENOMEM;
	}
	api->openapi_len = strlen(api->openapi);
	*out = api;
	return NDX_OK;
}

void api_free(struct api *api)
{
	if (!api)
		return;
	free(api->openapi);
	free(api);
}

/* ---- validation ----------------------------------------------------------- */

static json_t *refuse(char *field, char *why, size_t cap, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static json_t *refuse(char *field, char *why, size_t cap, const char *name, const char *fmt, ...)
{
	va_list ap;
	snprintf(field, cap, "%s", name);
	va_start(ap, fmt);
	vsnprintf(why, cap, fmt, ap);
	va_end(ap);
	return NULL;
}

static int enum_ok(const struct sector_column *c, const char *v)
{
	for (const char *const *e = c->values; *e; e++)
		if (strcmp(*e, v) == 0)
			return 1;
	return 0;
}

static void enum_list(const struct sector_column *c, char *out, size_t cap)
{
	size_t n = 0;
	out[0] = '\0';
	for (const char *const *e = c->values; *e && n < cap; e++) {
		int w = snprintf(out + n, cap - n, "%s%s", n ? ", " : "", *e);
		if (w < 0)
			break;
		n += (size_t)w;
	}
}

/* Validates one value; returns the value to store (new reference) or NULL
 * after filling why. */
static json_t *check_value(const struct sector_column *c, const json_t *v, char *why, size_t cap)
{
	const char *reason;

	switch (c->type) {
	case COL_INT:
		if (!json_is_integer(v)) {
			snprintf(why, cap, "must be an integer");
			return NULL;
		}
		if ((double)json_integer_value(v) < c->lo || (double)json_integer_value(v) > c->hi) {
			snprintf(why, cap, "must be from %.0f to %.0f", c->lo, c->hi);
			return NULL;
		}
		return json_integer(json_integer_value(v));
	case COL_REAL:
		if (!json_is_number(v) || !isfinite(json_number_value(v))) {
			snprintf(why, cap, "must be a number");
			return NULL;
		}
		if (json_number_value(v) < c->lo || json_number_value(v) > c->hi) {
			snprintf(why, cap, "must be from %g to %g", c->lo, c->hi);
			return NULL;
		}
		return json_real(json_number_value(v));
	default:
		break;
	}
	if (!json_is_string(v)) {
		snprintf(why, cap, "must be a string");
		return NULL;
	}
	if (strlen(json_string_value(v)) != json_string_length(v)) {
		snprintf(why, cap, "must not contain a NUL character");
		return NULL;
	}
	if (c->type == COL_ENUM) {
		if (!enum_ok(c, json_string_value(v))) {
			char list[MSG_MAX];
			enum_list(c, list, sizeof list);
			snprintf(why, cap, "must be one of %s", list);
			return NULL;
		}
	} else if (sector_value_check(c, json_string_value(v), &reason)) {
		if (c->type == COL_TEXT && reason && strcmp(reason, "is too long") == 0)
			snprintf(why, cap, "is longer than %zu bytes", c->max);
		else
			snprintf(why, cap, "%s", reason ? reason : "invalid");
		return NULL;
	}
	return json_string(json_string_value(v));
}

json_t *api_check_value(const struct sector_column *c, const json_t *v, char *why, size_t cap)
{
	return check_value(c, v, why, cap);
}

/* The year of a date already checked as YYYY-MM-DD. */
static int year_of(const char *date)
{
	return (date[0] - '0') * 1000 + (date[1] - '0') * 100 + (date[2] - '0') * 10 +
	       (date[3] - '0');
}

static const char *sget(const json_t *row, const char *name)
{
	return json_string_value(json_object_get(row, name));
}

/* Rules that tie fields of one row together. */
static json_t *check_cross(const struct sector_table *t, json_t *row, char *field, char *why,
			   size_t cap)
{
	const char *pin_field = NULL;
	struct ndx_pin_info info;

	if (strcmp(t->name, "citizens") == 0)
		pin_field = "pin";
	else if (strcmp(t->name, "births") == 0)
		pin_field = "child_pin";
	if (pin_field) {
		const char *pin = sget(row, pin_field), *bd = sget(row, "birth_date"),
			   *sex = sget(row, "sex");
		const char *prov = strcmp(t->name, "citizens") == 0 ? sget(row, "birth_province")
								     : sget(row, "province");
		if (ndx_pin_parse(pin, 0, &info, NULL) == NDX_OK) {
			if (bd && year_of(bd) != info.birth_year)
				return refuse(field, why, cap, pin_field,
					      "digits 4-6 give birth year %d but birth_date is %s",
					      info.birth_year, bd);
			if (sex && (strcmp(sex, "female") == 0) != info.female)
				return refuse(field, why, cap, pin_field,
					      "digit 4 says %s but sex is %s",
					      info.female ? "female" : "male", sex);
			if (prov && strcmp(prov, info.province) != 0)
				return refuse(field, why, cap, pin_field,
					      "starts with province %s but the birth was registered in %s",
					      info.province, prov);
		}
	}
	if (strcmp(t->name, "marriages") == 0 && sget(row, "husband_pin") &&
	    strcmp(sget(row, "husband_pin"), sget(row, "wife_pin")) == 0)
		return refuse(field, why, cap, "wife_pin", "must differ from husband_pin");
	if (strcmp(t->name, "taxpayers") == 0) {
		size_t n = strlen(sget(row, "tax_id"));
		const char *kind = sget(row, "kind");
		if ((n == NDX_PIN_LEN) != (strcmp(kind, "individual") == 0))
			return refuse(field, why, cap, "kind",
				      "a 12-digit tax_id is an individual, a 10-digit one an enterprise");
	}
	if (strcmp(t->name, "citizens") == 0 && sget(row, "deceased_on") &&
	    strcmp(sget(row, "deceased_on"), sget(row, "birth_date")) < 0)
		return refuse(field, why, cap, "deceased_on", "must not be before birth_date");
	if (strcmp(t->name, "deaths") == 0 &&
	    strcmp(sget(row, "registered_on"), sget(row, "died_on")) < 0)
		return refuse(field, why, cap, "registered_on", "must not be before died_on");
	if (strcmp(t->name, "contributions") == 0 && sget(row, "to_period") &&
	    strcmp(sget(row, "to_period"), sget(row, "from_period")) < 0)
		return refuse(field, why, cap, "to_period", "must not be before from_period");
	return row;
}

json_t *api_validate_row(const struct sector_def *def, const struct sector_table *t,
			 const json_t *body, const char *path_id, char *field, char *why,
			 size_t cap)
{
	const char *k;
	const json_t *v;
	json_t *row;

	(void)def;
	if (!json_is_object(body))
		return refuse(field, why, cap, "(body)", "must be a JSON object");
	json_object_foreach((json_t *)body, k, v) {
		if (strcmp(k, "updated_at") == 0 || (!t->key && strcmp(k, "id") == 0))
			continue; /* set by the store; accepted so a GET result can be PUT back */
		if (!sector_column_find(t, k))
			/* The refusal must name the field; "" would name nothing. */
			return refuse(field, why, cap, k[0] ? k : "(empty name)",
				      "is not a field of %s", t->name);
	}
	if (!(row = json_object()))
		return refuse(field, why, cap, "(body)", "out of memory");
	for (size_t j = 0; j < t->ncols; j++) {
		const struct sector_column *c = &t->cols[j];
		json_t *ok;
		v = json_object_get(body, c->name);
		if ((c->flags & COL_ID) && path_id) {
			if (v && !json_is_null(v) &&
			    (!json_is_string(v) || strcmp(json_string_value(v), path_id) != 0)) {
				json_decref(row);
				return refuse(field, why, cap, c->name, "must equal the id in the path");
			}
			json_object_set_new(row, c->name, json_string(path_id));
			continue;
		}
		if (!v || json_is_null(v)) {
			if (c->flags & COL_REQUIRED) {
				json_decref(row);
				return refuse(field, why, cap, c->name, "is required");
			}
			continue;
		}
		if (!(ok = check_value(c, v, why, cap))) {
			snprintf(field, cap, "%s", c->name);
			json_decref(row);
			return NULL;
		}
		json_object_set_new(row, c->name, ok);
	}
	if (!check_cross(t, row, field, why, cap)) {
		json_decref(row);
		return NULL;
	}
	return row;
}

/* ---- answers ------------------------------------------------------------------ */

static void bad_request(struct ndx_http_resp *resp, const char *message, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void bad_request(struct ndx_http_resp *resp, const char *message, const char *fmt, ...)
{
	char detail[2 * MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	ndx_http_resp_error(resp, 400, "Client.InvalidRequest", message, detail);
}

static void internal(struct ndx_http_resp *resp)
{
	ndx_http_resp_error(resp, 500, "Server.Internal", "the store failed", NULL);
}

static void not_found(struct ndx_http_resp *resp, const char *what, const char *id)
{
	char detail[MSG_MAX];
	snprintf(detail, sizeof detail, "%s %s does not exist", what, id);
	ndx_http_resp_error(resp, 404, "Client.NotFound", "not found", detail);
}

static void method_not_allowed(struct ndx_http_resp *resp, const char *allow)
{
	ndx_http_resp_header(resp, "Allow", allow);
	ndx_http_resp_error(resp, 405, "Client.MethodNotAllowed", "method not allowed", allow);
}

/* The message names no one: the record may be another person's. */
static void subject_mismatch(struct ndx_http_resp *resp, const char *message)
{
	ndx_http_resp_error(resp, 403, "Client.SubjectMismatch", message, "Ndx-Subject");
}

/* An answer declares all its subjects or is not given: a partial list
 * would hide a read from the people left out of it. */
static void too_many_subjects(struct ndx_http_resp *resp)
{
	char message[MSG_MAX];
	snprintf(message, sizeof message,
		 "the answer would concern more than %d people, more than one answer may declare",
		 PINSET_MAX);
	ndx_http_resp_error(resp, 422, "Client.TooManySubjects", message, "Ndx-Data-Subjects");
}

/* Answers the failure rc of reading a record or its subjects. */
static void read_failed(struct ndx_http_resp *resp, int rc, const struct sector_table *t,
			const char *id)
{
	if (rc == NDX_ENOTFOUND)
		not_found(resp, t->name, id ? id : "");
	else if (rc == NDX_ETOOBIG)
		too_many_subjects(resp);
	else
		internal(resp);
}

/* The PIN the request names in Ndx-Subject (*out NULL when it names none).
 * Returns 0, or -1 after answering 400 (the value is not echoed). */
static int request_subject(const struct ndx_http_req *req, const char **out,
			   struct ndx_http_resp *resp)
{
	const char *v = ndx_http_header(req, "Ndx-Subject");

	*out = NULL;
	if (!v)
		return 0;
	if (ndx_pin_parse(v, 0, NULL, NULL) != NDX_OK) {
		bad_request(resp, "invalid Ndx-Subject",
			    "Ndx-Subject: expected a 12-digit personal identification number");
		return -1;
	}
	*out = v;
	return 0;
}

/* The key column of t, or NULL for key-less tables. */
static const struct sector_column *key_column(const struct sector_table *t)
{
	return t->key ? sector_column_find(t, t->key) : NULL;
}

/* Checks a path id; answers 400 and returns -1 when malformed. */
static int check_path_id(const struct sector_table *t, const char *id, struct ndx_http_resp *resp)
{
	const struct sector_column *k = key_column(t);
	const char *why = NULL;

	if (k) {
		if (sector_value_check(k, id, &why)) {
			bad_request(resp, "invalid id", "%s: %s", k->name, why ? why : "malformed");
			return -1;
		}
		return 0;
	}
	for (const char *p = id; *p; p++)
		if (*p < '0' || *p > '9' || p - id > 18) {
			bad_request(resp, "invalid id", "id: expected a positive integer");
			return -1;
		}
	return 0;
}

/* ---- list ----------------------------------------------------------------------- */

static int parse_count(const char *s, size_t max, size_t *out)
{
	char *end;
	unsigned long long v;
	if (!s || !*s || *s == '-' || *s == '+')
		return -1;
	v = strtoull(s, &end, 10);
	if (*end || v > max)
		return -1;
	*out = (size_t)v;
	return 0;
}

/* Every query argument must be one the table knows: a misspelt filter
 * silently ignored would answer a different question. */
static int check_query_names(const struct sector_table *t, const char *query,
			     struct ndx_http_resp *resp)
{
	const char *p = query;
	while (*p) {
		size_t n = strcspn(p, "&="), total = strcspn(p, "&");
		char name[64];
		const struct sector_column *c;
		if (n == 0 || n >= sizeof name) {
			bad_request(resp, "invalid query", "a query argument has no usable name");
			return -1;
		}
		memcpy(name, p, n);
		name[n] = '\0';
		if (strcmp(name, "limit") != 0 && strcmp(name, "offset") != 0 &&
		    !(strcmp(name, "name") == 0 && sector_name_column(t)) &&
		    !((c = sector_column_find(t, name)) && (c->flags & COL_FILTER))) {
			bad_request(resp, "invalid query",
				    "%s: not a search argument of %s (see /openapi.json)", name,
				    t->name);
			return -1;
		}
		p += total;
		if (*p == '&')
			p++;
	}
	return 0;
}

/* Lists are not filtered by Ndx-Subject: the gateway decides whether a
 * list about several people may be answered. */
static void handle_list(struct api *api, const struct sector_table *t,
			const struct ndx_http_req *req, struct ndx_http_resp *resp,
			struct pinset *declared)
{
	struct store_query q = { .limit = API_DEFAULT_LIMIT };
	char folded[STORE_FOLDED_MAX];
	const char *name, *lim, *off;
	struct store_conn *c;
	json_t *items = NULL;
	int rc;

	if (check_query_names(t, req->query, resp))
		return;
	lim = ndx_http_query_arg(req, "limit");
	off = ndx_http_query_arg(req, "offset");
	if (lim && (parse_count(lim, API_MAX_LIMIT, &q.limit) || q.limit == 0)) {
		bad_request(resp, "invalid query", "limit: expected an integer from 1 to %d",
			    API_MAX_LIMIT);
		return;
	}
	if (off && parse_count(off, API_MAX_OFFSET, &q.offset)) {
		bad_request(resp, "invalid query",
			    "offset: expected an integer from 0 to %d (narrow the search instead)",
			    API_MAX_OFFSET);
		return;
	}
	if ((name = ndx_http_query_arg(req, "name"))) {
		/* httpd keeps '+' (ids may hold it); in a form-encoded name it
		 * is a space, and no name contains a '+'. */
		char spaced[STORE_FOLDED_MAX];
		snprintf(spaced, sizeof spaced, "%s", name);
		for (char *s = spaced; *s; s++)
			if (*s == '+')
				*s = ' ';
		if (strlen(name) >= sizeof spaced || ndx_fold(spaced, folded, sizeof folded) < 0) {
			bad_request(resp, "invalid query", "name: too long");
			return;
		}
		if (!*folded) {
			bad_request(resp, "invalid query", "name: must not be empty");
			return;
		}
		q.name_prefix = folded;
	}
	for (size_t j = 0; j < t->ncols && q.nfilters < STORE_MAX_FILTERS; j++) {
		const struct sector_column *col = &t->cols[j];
		const char *v, *why = NULL;
		if (!(col->flags & COL_FILTER) || !(v = ndx_http_query_arg(req, col->name)))
			continue;
		if (col->type != COL_TEXT && sector_value_check(col, v, &why)) {
			bad_request(resp, "invalid query", "%s: %s", col->name, why ? why : "malformed");
			return;
		}
		q.filter_cols[q.nfilters] = col->name;
		q.filter_values[q.nfilters++] = v;
	}
	c = store_acquire(api->st);
	rc = store_list(c, t, &q, &items);
	for (size_t i = 0; rc == NDX_OK && i < json_array_size(items); i++)
		rc = record_subjects(c, t, json_array_get(items, i), declared);
	store_release(api->st, c);
	if (rc) {
		json_decref(items);
		read_failed(resp, rc, t, NULL);
		return;
	}
	size_t n = json_array_size(items);
	json_t *next = n == q.limit && q.offset + n <= API_MAX_OFFSET
			       ? json_integer((json_int_t)(q.offset + n))
			       : json_null();
	ndx_http_resp_json(resp, 200,
			   json_pack("{sosIsIso}", "items", items, "limit", (json_int_t)q.limit,
				     "offset", (json_int_t)q.offset, "next_offset", next));
}

/* ---- one record ------------------------------------------------------------------ */

static void handle_get(struct api *api, const struct sector_table *t, const char *id,
		       const char *subject, struct pinset *declared, struct ndx_http_resp *resp)
{
	struct store_conn *c = store_acquire(api->st);
	json_t *row = NULL;
	int rc = store_get(c, t, id, &row);

	json_t *members = NULL;

	if (rc == NDX_OK)
		rc = record_subjects(c, t, row, declared);
	/* A household answers with its members: the people the record
	 * concerns (record_subjects declares each), so that a member sees
	 * theirs, a newborn included (docs/sectors.md "Events"). */
	if (rc == NDX_OK && strcmp(t->name, "households") == 0 &&
	    (rc = store_household_members(c, id, &members)) == NDX_OK)
		json_object_set_new(row, "members", members);
	store_release(api->st, c);
	if (rc)
		read_failed(resp, rc, t, id);
	else if (subject && !pinset_has(declared, subject))
		subject_mismatch(resp, "the record asked for does not concern the person "
				       "Ndx-Subject names");
	else {
		ndx_http_resp_json(resp, 200, row);
		return;
	}
	json_decref(row);
}

/* ---- writes --------------------------------------------------------------------- */

/* Checks the references of row into tables of this sector's own database.
 * Returns 0, or -1 after answering. */
static int check_local_refs(struct api *api, struct store_conn *c, const struct sector_table *t,
			    const json_t *row, struct ndx_http_resp *resp)
{
	size_t slen = strlen(api->def->name);
	for (size_t j = 0; j < t->ncols; j++) {
		const struct sector_column *col = &t->cols[j];
		const char *v = sget(row, col->name);
		const struct sector_table *target;
		const char *tname;
		int rc;
		if (!v || !col->ref || strncmp(col->ref, api->def->name, slen) != 0 ||
		    col->ref[slen] != '/')
			continue;
		tname = col->ref + slen + 1;
		if (!(target = sector_table_find(api->def, tname)) || !target->key)
			continue;
		/* A household may name itself before its head's record points at it. */
		if (target == t)
			continue;
		rc = store_exists(c, target->name, target->key, v);
		if (rc < 0) {
			internal(resp);
			return -1;
		}
		if (rc == 0) {
			bad_request(resp, "invalid field", "%s: %s %s does not exist", col->name,
				    target->name, v);
			ndx_http_resp_header(resp, "Ndx-Invalid-Field", col->name);
			return -1;
		}
	}
	return 0;
}

/* The body of a write as a validated row, or NULL after answering 400. */
static json_t *write_row(struct api *api, const struct sector_table *t, const char *id,
			 const struct ndx_http_req *req, struct ndx_http_resp *resp)
{
	char field[MSG_MAX], why[MSG_MAX];
	json_error_t jerr;
	json_t *body, *row;

	if (!req->body || req->body_len == 0) {
		bad_request(resp, "malformed JSON", "a JSON object body is required");
		return NULL;
	}
	body = json_loadb((const char *)req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (!body) {
		bad_request(resp, "malformed JSON", "line %d column %d: %s", jerr.line, jerr.column,
			    jerr.text);
		return NULL;
	}
	row = api_validate_row(api->def, t, body, id, field, why, sizeof field);
	json_decref(body);
	if (!row) {
		bad_request(resp, "invalid field", "%s: %s", field, why);
		ndx_http_resp_header(resp, "Ndx-Invalid-Field", field);
	}
	return row;
}

/* Adds the subjects of row to declared; *others is set when subject (if
 * any) is not among them. The return values of record_subjects. */
static int subjects_of(struct store_conn *c, const struct sector_table *t, const json_t *row,
		       const char *subject, struct pinset *declared, int *others)
{
	struct pinset *one = pinset_new();
	int rc;

	if (!one)
		return NDX_ENOMEM;
	rc = record_subjects(c, t, row, one);
	if (rc == NDX_OK && subject && !pinset_has(one, subject))
		*others = 1;
	if (rc == NDX_OK)
		rc = pinset_add_all(declared, one);
	pinset_free(one);
	return rc;
}

/* The people a write touches: those of the record as it is (PUT) and as
 * it will be. Both must include the subject the request names; the answer
 * declares them all, since the write changes the data of each. Call inside
 * the write transaction, so that what is checked is what is replaced.
 * Returns 0, or -1 after answering. */
static int check_write_subjects(struct store_conn *c, const struct sector_table *t,
				const char *id, const json_t *row, const char *subject,
				struct pinset *declared, struct ndx_http_resp *resp)
{
	json_t *old = NULL;
	int rc = NDX_OK, others = 0;

	if (id && (rc = store_get(c, t, id, &old)) == NDX_OK)
		rc = subjects_of(c, t, old, subject, declared, &others);
	json_decref(old);
	if (rc == NDX_OK)
		rc = subjects_of(c, t, row, subject, declared, &others);
	if (rc) {
		read_failed(resp, rc, t, id);
		return -1;
	}
	if (others) {
		subject_mismatch(resp, "the record written, as it is or as it would be, does not "
				       "concern the person Ndx-Subject names");
		return -1;
	}
	return 0;
}

/* A person dies once: a second death registration of the same PIN is a
 * conflict, not a second death-registered event. Returns 0, or -1 after
 * answering. */
static int check_one_death(struct store_conn *c, const struct sector_table *t, const char *id,
			   const json_t *row, struct ndx_http_resp *resp)
{
	int rc;

	if (id || strcmp(t->name, "deaths") != 0)
		return 0;
	rc = store_exists(c, "deaths", "pin", sget(row, "pin"));
	if (rc < 0) {
		internal(resp);
		return -1;
	}
	if (rc == 1) {
		ndx_http_resp_error(resp, 409, "Client.Conflict", "already exists",
				    "deaths: the death of this person is already registered");
		return -1;
	}
	return 0;
}

static void handle_write(struct api *api, const struct sector_table *t, const char *id,
			 const char *subject, struct pinset *declared,
			 const struct ndx_http_req *req, struct ndx_http_resp *resp)
{
	char newid[ID_MAX];
	json_t *row, *out = NULL;
	struct store_conn *c;
	int rc, added = 0;

	if (!(row = write_row(api, t, id, req, resp)))
		return;
	c = store_acquire(api->st);
	if (store_begin(c)) {
		store_release(api->st, c);
		json_decref(row);
		internal(resp);
		return;
	}
	if (check_write_subjects(c, t, id, row, subject, declared, resp) ||
	    check_local_refs(api, c, t, row, resp) || check_one_death(c, t, id, row, resp)) {
		store_rollback(c);
		store_release(api->st, c);
		json_decref(row);
		return;
	}
	/* The record and the events it publishes, in the write's
	 * transaction (sec_outbox.h). */
	rc = outbox_put(c, api->def, t, id, row, api->events_client, newid, sizeof newid, &added);
	if (rc == NDX_OK)
		rc = store_commit(c);
	else
		store_rollback(c);
	if (rc == NDX_OK && added)
		outbox_publisher_poke(api->publisher);
	if (rc == NDX_OK)
		rc = store_get(c, t, newid, &out);
	store_release(api->st, c);
	if (rc == NDX_EEXIST) {
		char detail[MSG_MAX];
		snprintf(detail, sizeof detail, "%s %s already exists", t->name,
			 t->key && sget(row, t->key) ? sget(row, t->key) : "");
		ndx_http_resp_error(resp, 409, "Client.Conflict", "already exists", detail);
	} else if (rc == NDX_ENOTFOUND) {
		not_found(resp, t->name, id ? id : "");
	} else if (rc) {
		internal(resp);
	} else {
		ndx_http_resp_json(resp, id ? 200 : 201, out);
	}
	json_decref(row);
}

/* ---- routing --------------------------------------------------------------------- */

static void unknown_resource(struct ndx_http_resp *resp)
{
	ndx_http_resp_error(resp, 404, "Client.NotFound", "no such resource",
			    "see /openapi.json for the resources of this sector");
}

static void handle_index(struct api *api, struct ndx_http_resp *resp)
{
	json_t *tables = json_array();
	for (size_t i = 0; i < api->def->ntables; i++)
		json_array_append_new(tables,
				      json_pack("{ssss}", "name", api->def->tables[i].name, "title",
						api->def->tables[i].title));
	ndx_http_resp_json(resp, 200,
			   json_pack("{sssssssssoss}", "sector", api->def->name, "title",
				     api->def->title, "title_vi", api->def->title_vi, "agency",
				     api->def->agency, "tables", tables, "openapi",
				     "/openapi.json"));
}

/* A request to table t: GET and POST on the collection, GET and PUT on a
 * record (rest: what follows "/T/", NULL for the collection). */
static void route_table(struct api *api, const struct sector_table *t, const char *rest,
			const struct ndx_http_req *req, struct ndx_http_resp *resp,
			struct pinset *declared)
{
	int get = strcmp(req->method, "GET") == 0;
	const char *subject;
	char id[ID_MAX];

	if (!rest) {
		if (!get && strcmp(req->method, "POST") != 0)
			method_not_allowed(resp, "GET, POST");
		else if (request_subject(req, &subject, resp) == 0) {
			if (get)
				handle_list(api, t, req, resp, declared);
			else
				handle_write(api, t, NULL, subject, declared, req, resp);
		}
		return;
	}
	if (strlen(rest) >= sizeof id || strchr(rest, '/')) {
		unknown_resource(resp);
		return;
	}
	snprintf(id, sizeof id, "%s", rest);
	if (!get && strcmp(req->method, "PUT") != 0) {
		method_not_allowed(resp, "GET, PUT");
		return;
	}
	if (check_path_id(t, id, resp) || request_subject(req, &subject, resp))
		return;
	if (get)
		handle_get(api, t, id, subject, declared, resp);
	else
		handle_write(api, t, id, subject, declared, req, resp);
}

static void route(struct api *api, const struct ndx_http_req *req, struct ndx_http_resp *resp,
		  struct pinset *declared)
{
	const char *p = req->path, *slash;
	char tname[ID_MAX];
	const struct sector_table *t;
	size_t n;

	if (strcmp(p, "/healthz") == 0 || strcmp(p, "/openapi.json") == 0 || strcmp(p, "/") == 0) {
		if (strcmp(req->method, "GET") != 0)
			method_not_allowed(resp, "GET");
		else if (strcmp(p, "/healthz") == 0)
			ndx_http_resp_json(resp, 200, json_pack("{ssss}", "status", "ok", "sector",
								api->def->name));
		else if (strcmp(p, "/") == 0)
			handle_index(api, resp);
		else
			ndx_http_resp_bytes(resp, 200, "application/json", api->openapi,
					    api->openapi_len);
		return;
	}
	if (p[0] != '/') {
		unknown_resource(resp);
		return;
	}
	/* The four measures of its reconciliation runs (sec_measures.h). */
	if (strcmp(p, "/measures") == 0) {
		measures_handle(api->def, api->st, req, resp);
		return;
	}
	/* The correction worklist of its reconciliation (sec_worklist_api.h). */
	if (strncmp(p, "/reconcile/", 11) == 0 && strcmp(api->def->name, "population") != 0) {
		worklist_api_handle(api->def, api->st, api->events_client, req, resp, declared);
		return;
	}
	/* The population registry's verification service (sec_verify.h). */
	if (strcmp(p, "/verify") == 0 && strcmp(api->def->name, "population") == 0) {
		verify_handle(api->st, req, resp, declared);
		return;
	}
	p++;
	slash = strchr(p, '/');
	n = slash ? (size_t)(slash - p) : strlen(p);
	if (n == 0 || n >= sizeof tname) {
		unknown_resource(resp);
		return;
	}
	memcpy(tname, p, n);
	tname[n] = '\0';
	if (!(t = sector_table_find(api->def, tname)))
		unknown_resource(resp);
	else
		route_table(api, t, slash && slash[1] ? slash + 1 : NULL, req, resp, declared);
}

/* Sets Ndx-Data-Subjects: the people in declared for a successful answer
 * and for a refusal of a record that is not Ndx-Subject's (403: its gateway
 * logs them, so that each sees the attempt in their access list, and never
 * passes them on), "none" for any other error, whatever the handler had
 * gathered before failing. */
static void declare_subjects(struct ndx_http_resp *resp, const struct pinset *declared)
{
	const char *ctype;
	const void *body;
	size_t len;
	int status = 500;
	char *text = NULL;

	if (ndx_http_resp_view(resp, &status, &ctype, &body, &len) == NDX_OK &&
	    (status < 400 || status == 403) && declared && !(text = pinset_text(declared)))
		internal(resp);
	ndx_http_resp_header(resp, "Ndx-Data-Subjects", text ? text : "none");
	free(text);
}

void api_handle(void *ctx, const struct ndx_http_req *req, struct ndx_http_resp *resp)
{
	struct pinset *declared = pinset_new();

	if (declared)
		route(ctx, req, resp, declared);
	else
		internal(resp);
	declare_subjects(resp, declared);
	pinset_free(declared);
}
