/* The correction worklist over HTTP (sec_worklist_api.h): a thin layer on
 * reconcile_worklist and reconcile_correct (sec_worklist.h), which do the
 * work exactly as the CLI's `ndx-sector worklist` and `ndx-sector
 * correct` do; here only the request is checked, the answer paged and its
 * people declared. */
#include "sec_worklist_api.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "ndx/err.h"
#include "ndx/text.h"
#include "record_subjects.h"
#include "sec_reconcile.h"
#include "sec_worklist.h"

#define NAME_MAX_LEN 64
#define VALUE_MAX_LEN 512

static void refuse(struct ndx_http_resp *resp, int status, const char *type, const char *message,
		   const char *field, const char *why)
{
	char detail[640];

	snprintf(detail, sizeof detail, "%s: %s", field, why);
	if (field[0])
		ndx_http_resp_header(resp, "Ndx-Invalid-Field", field);
	ndx_http_resp_error(resp, status, type, message, detail);
}

static void bad(struct ndx_http_resp *resp, const char *field, const char *why)
{
	refuse(resp, 400, "Client.InvalidRequest", "invalid request", field, why);
}

static void internal(struct ndx_http_resp *resp)
{
	ndx_http_resp_error(resp, 500, "Server.Internal", "the store failed", NULL);
}

/* The database of st (the path reconcile_worklist and reconcile_correct
 * open: SQLite's file, or the connection string), in out; -1 when it has
 * none (in memory). */
static int db_path(struct store *st, char *out, size_t cap)
{
	struct store_conn *c = store_acquire(st);
	const char *f = store_conn_db(c) ? sqlite3_db_filename(store_conn_db(c), "main")
					 : store_location(st);
	int ok = f && *f && strlen(f) < cap;

	if (ok)
		snprintf(out, cap, "%s", f);
	store_release(st, c);
	return ok ? 0 : -1;
}

static int is_pin(const char *s)
{
	return s && strlen(s) == 12 && strspn(s, "0123456789") == 12;
}

/* A decimal integer in [0, max], all of text. */
static int count_arg(const char *text, long max, long *out)
{
	char *end;
	long v;

	if (!text[0] || text[0] == '-' || text[0] == '+')
		return -1;
	v = strtol(text, &end, 10);
	if (*end || v < 0 || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Adds the people of the record table/key (if it still exists) to s. */
static int record_people(struct store_conn *c, const struct sector_def *def, const char *table,
			 const char *key, struct pinset *s)
{
	const struct sector_table *t = sector_table_find(def, table);
	json_t *row = NULL;
	int rc;

	if (!t)
		return NDX_OK;
	rc = store_get(c, t, key, &row);
	if (rc == NDX_ENOTFOUND)
		return NDX_OK;
	if (rc == NDX_OK)
		rc = record_subjects(c, t, row, s);
	json_decref(row);
	return rc;
}

static void too_many(struct ndx_http_resp *resp)
{
	ndx_http_resp_error(resp, 422, "Client.TooManySubjects",
			    "the answer would concern too many people: ask for a smaller page",
			    "limit");
}

/* GET /reconcile/worklist?offset&limit */
static void handle_worklist(const struct sector_def *def, struct store *st,
			    const struct ndx_http_req *req, struct ndx_http_resp *resp,
			    struct pinset *declared)
{
	static const char *const KNOWN[] = { "offset", "limit", NULL };
	const char *o = ndx_http_query_arg(req, "offset"), *l = ndx_http_query_arg(req, "limit");
	const char *q = req->query;
	long offset = 0, limit = WORKLIST_DEFAULT_LIMIT;
	char path[4096], why[128];
	json_t *doc = NULL, *tasks, *page = NULL, *f;
	struct store_conn *c;
	size_t i, total;
	int rc = NDX_OK;

	while (q && *q) {
		size_t n = strcspn(q, "=&"), k;

		for (k = 0; KNOWN[k] && (strlen(KNOWN[k]) != n || strncmp(KNOWN[k], q, n)); k++)
			;
		if (n && !KNOWN[k]) {
			bad(resp, "query", "unknown argument; known: offset, limit");
			return;
		}
		q += strcspn(q, "&");
		if (*q)
			q++;
	}
	if (o && count_arg(o, WORKLIST_MAX_OFFSET, &offset)) {
		snprintf(why, sizeof why, "expected an integer from 0 to %d", WORKLIST_MAX_OFFSET);
		bad(resp, "offset", why);
		return;
	}
	if (l && (count_arg(l, WORKLIST_MAX_LIMIT, &limit) || limit < 1)) {
		snprintf(why, sizeof why, "expected an integer from 1 to %d", WORKLIST_MAX_LIMIT);
		bad(resp, "limit", why);
		return;
	}
	if (db_path(st, path, sizeof path) || reconcile_worklist(def, path, &doc)) {
		internal(resp);
		return;
	}
	tasks = json_object_get(doc, "tasks");
	total = json_array_size(tasks);
	if (!(page = json_array())) {
		json_decref(doc);
		internal(resp);
		return;
	}
	c = store_acquire(st);
	for (i = (size_t)offset; i < total && i < (size_t)offset + (size_t)limit && rc == NDX_OK; i++) {
		const char *cand;

		f = json_array_get(tasks, i);
		json_array_append(page, f);
		rc = record_people(c, def, json_string_value(json_object_get(f, "table")),
				   json_string_value(json_object_get(f, "key")), declared);
		cand = json_string_value(json_object_get(f, "candidate_pin"));
		if (rc == NDX_OK && is_pin(cand))
			rc = pinset_add(declared, cand);
	}
	store_release(st, c);
	if (rc == NDX_ETOOBIG) {
		too_many(resp);
	} else if (rc) {
		internal(resp);
	} else {
		json_object_set_new(doc, "total", json_integer((json_int_t)total));
		json_object_set_new(doc, "offset", json_integer(offset));
		json_object_set_new(doc, "limit", json_integer(limit));
		json_object_set(doc, "tasks", page);
		ndx_http_resp_json(resp, 200, doc);
		doc = NULL;
	}
	json_decref(page);
	json_decref(doc);
}

/* Member name of body as a string of 1..max bytes the text rule accepts,
 * in *out; NULL when absent and optional. -1 after answering 400. */
static int text_member(const json_t *body, const char *name, size_t max, int required,
		       const char **out, struct ndx_http_resp *resp)
{
	const json_t *v = json_object_get(body, name);
	const char *s, *why = NULL;
	char msg[128];

	*out = NULL;
	if (!v || (json_is_null(v) && !required)) {
		if (required)
			bad(resp, name, "required");
		return required ? -1 : 0;
	}
	s = json_string_value(v);
	if (!s || !*s || json_string_length(v) > max || strlen(s) != json_string_length(v) ||
	    ndx_text_check(s, strlen(s), NULL, &why) != NDX_OK) {
		snprintf(msg, sizeof msg, "%s", why ? why : "expected a string");
		if (!why)
			snprintf(msg, sizeof msg, "expected a string of 1 to %zu bytes", max);
		bad(resp, name, msg);
		return -1;
	}
	*out = s;
	return 0;
}

/* The value checked as the write will check it: the record with the
 * field set to it passes api_validate_row (the same checks as a write of
 * the API), so that a refusal names the field and says why. -1 after
 * answering. */
static int precheck(const struct sector_def *def, struct store *st,
		    const struct reconcile_correction *r, struct ndx_http_resp *resp)
{
	const struct sector_table *t = sector_table_find(def, r->table);
	char field[128], why[256];
	struct store_conn *c;
	json_t *row = NULL, *valid;
	int rc;

	if (!t || !sector_column_find(t, r->field)) {
		bad(resp, "field", "not a column of the table");
		return -1;
	}
	if (!r->value)
		return 0;
	c = store_acquire(st);
	rc = store_get(c, t, r->key, &row);
	store_release(st, c);
	if (rc == NDX_ENOTFOUND) {
		refuse(resp, 404, "Client.NotFound", "no open task", "key",
		       "no such record in the table");
		return -1;
	}
	if (rc) {
		internal(resp);
		return -1;
	}
	json_object_set_new(row, r->field, json_string(r->value));
	valid = api_validate_row(def, t, row, t->key ? r->key : NULL, field, why, sizeof why);
	json_decref(row);
	if (!valid) {
		/* The row's other fields are as they are: the value is at fault. */
		bad(resp, strcmp(field, r->field) == 0 ? "value" : field, why);
		return -1;
	}
	json_decref(valid);
	return 0;
}

/* POST /reconcile/corrections {"table", "key", "field", "value"?} */
static void handle_correction(const struct sector_def *def, struct store *st,
			      const char *events_client, const struct ndx_http_req *req,
			      struct ndx_http_resp *resp, struct pinset *declared)
{
	struct reconcile_correction r = { .def = def, .events_client = events_client };
	const char *key_col = NULL, *pin_col = NULL, *why = NULL, *name;
	char path[4096];
	json_error_t jerr;
	json_t *body, *out = NULL, *v;
	struct store_conn *c;
	int rc;

	r.officer = ndx_http_header(req, "X-Road-UserId");
	if (!r.officer || !*r.officer || strlen(r.officer) > WORKLIST_OFFICER_MAX ||
	    ndx_text_check(r.officer, strlen(r.officer), NULL, &why) != NDX_OK) {
		bad(resp, "X-Road-UserId",
		    why ? why : "required: the officer who corrects, 1 to 200 bytes");
		return;
	}
	body = req->body && req->body_len ? json_loadb((const char *)req->body, req->body_len,
						       JSON_REJECT_DUPLICATES, &jerr)
					  : NULL;
	if (!json_is_object(body)) {
		json_decref(body);
		bad(resp, "body", "a JSON object {table, key, field, value} is required");
		return;
	}
	json_object_foreach(body, name, v)
		if (strcmp(name, "table") && strcmp(name, "key") && strcmp(name, "field") &&
		    strcmp(name, "value")) {
			bad(resp, name, "unknown field; known: table, key, field, value");
			json_decref(body);
			return;
		}
	if (text_member(body, "table", NAME_MAX_LEN, 1, &r.table, resp) ||
	    text_member(body, "key", NAME_MAX_LEN, 1, &r.key, resp) ||
	    text_member(body, "field", NAME_MAX_LEN, 1, &r.field, resp) ||
	    text_member(body, "value", VALUE_MAX_LEN, 0, &r.value, resp))
		goto out;
	if (reconcile_table_columns(def, r.table, &key_col, &pin_col)) {
		bad(resp, "table", "not a table this registry reconciles");
		goto out;
	}
	if (precheck(def, st, &r, resp))
		goto out;
	if (db_path(st, path, sizeof path)) {
		internal(resp);
		goto out;
	}
	r.db_path = path;
	rc = reconcile_correct(&r, &out);
	if (rc == NDX_ENOTFOUND)
		refuse(resp, 404, "Client.NotFound", "no open task", "field",
		       "no open task for this table, key and field in the last finished run "
		       "(corrected already, or not found by it)");
	else if (rc == NDX_EPERM)
		refuse(resp, 409, "Client.Conflict", "not corrected", "field",
		       "the record's key: the same person twice is merged, not corrected");
	else if (rc == NDX_EINVAL)
		bad(resp, "value",
		    r.value ? "refused by the record's checks"
			    : "required for this task: the population registry never tells it");
	else if (rc)
		internal(resp);
	if (rc)
		goto out;
	c = store_acquire(st);
	rc = record_people(c, def, r.table, r.key, declared);
	store_release(st, c);
	for (int i = 0; rc == NDX_OK && i < 2; i++) {
		const char *pin = json_string_value(json_object_get(out, i ? "new_value" : "old_value"));
		if (is_pin(pin))
			rc = pinset_add(declared, pin);
	}
	if (rc == NDX_ETOOBIG) {
		too_many(resp);
	} else if (rc) {
		internal(resp);
	} else {
		ndx_http_resp_json(resp, 201, out);
		out = NULL;
	}
out:
	json_decref(out);
	json_decref(body);
}

/* GET /reconcile/worklist and POST /reconcile/corrections in the sector's
 * OpenAPI document: JSON text read by jansson, written once here. */
#define TEXT_OF_(n) #n
#define TEXT_OF(n) TEXT_OF_(n)
static const char WORKLIST_PATHS[] =
	"{\"/reconcile/worklist\": {\"get\": {\"summary\": \"the open correction tasks\","
	"\"operationId\": \"reconcile_worklist\","
	"\"description\": \"The findings of the sector's last finished reconciliation run "
	"that no correction covers yet (docs/sectors.md 'Correction worklists'), one page at a "
	"time. Every person a task concerns, and every candidate number, is declared in "
	"Ndx-Data-Subjects.\","
	"\"parameters\": [{\"name\": \"offset\", \"in\": \"query\", \"required\": false, "
	"\"schema\": {\"type\": \"integer\", \"minimum\": 0, \"maximum\": "
	TEXT_OF(WORKLIST_MAX_OFFSET) ", \"default\": 0}}, {\"name\": \"limit\", \"in\": "
	"\"query\", \"required\": false, \"schema\": {\"type\": \"integer\", \"minimum\": 1, "
	"\"maximum\": " TEXT_OF(WORKLIST_MAX_LIMIT) ", \"default\": "
	TEXT_OF(WORKLIST_DEFAULT_LIMIT) "}}],"
	"\"responses\": {\"200\": {\"description\": \"a page of tasks\", "
	"\"headers\": {\"Ndx-Data-Subjects\": {\"schema\": {\"type\": \"string\"}}}, "
	"\"content\": {\"application/json\": {\"schema\": {\"type\": \"object\", "
	"\"properties\": {\"sector\": {\"type\": \"string\"}, \"run\": {\"type\": "
	"\"integer\"}, \"total\": {\"type\": \"integer\"}, \"offset\": {\"type\": "
	"\"integer\"}, \"limit\": {\"type\": \"integer\"}, \"tasks\": {\"type\": \"array\", "
	"\"items\": {\"type\": \"object\", \"properties\": {\"table\": {\"type\": \"string\"}, "
	"\"key\": {\"type\": \"string\"}, \"kind\": {\"type\": \"string\"}, \"field\": "
	"{\"type\": \"string\"}, \"candidate_pin\": {\"type\": \"string\", \"pattern\": "
	"\"^[0-9]{12}$\"}}}}}}}}},"
	"\"400\": {\"description\": \"offset or limit out of range (named in "
	"Ndx-Invalid-Field)\"}, \"422\": {\"description\": \"the page concerns too many "
	"people: ask a smaller one\"}}}},"
	"\"/reconcile/corrections\": {\"post\": {\"summary\": \"correct one task\","
	"\"operationId\": \"reconcile_correct\","
	"\"description\": \"Corrects the field of one open task in one action, logged with the "
	"officer named in X-Road-UserId (required). value is the officer's, from the person's "
	"papers; without it, a deceased person's record is closed and a number becomes the "
	"population registry's candidate.\","
	"\"requestBody\": {\"required\": true, \"content\": {\"application/json\": "
	"{\"schema\": {\"type\": \"object\", \"additionalProperties\": false, \"required\": "
	"[\"table\", \"key\", \"field\"], \"properties\": {\"table\": {\"type\": \"string\"}, "
	"\"key\": {\"type\": \"string\"}, \"field\": {\"type\": \"string\"}, \"value\": "
	"{\"type\": \"string\"}}}}}},"
	"\"responses\": {\"200\": {\"description\": \"the correction as logged\", "
	"\"headers\": {\"Ndx-Data-Subjects\": {\"schema\": {\"type\": \"string\"}}}},"
	"\"400\": {\"description\": \"a field or the value is invalid (named in "
	"Ndx-Invalid-Field), or X-Road-UserId is missing\"},"
	"\"404\": {\"description\": \"no such open task in the last finished run\"},"
	"\"409\": {\"description\": \"the field is the record's key: the same person twice is "
	"merged, not corrected\"}}}}}";

int worklist_openapi_paths(json_t *paths)
{
	json_error_t err;
	json_t *p = json_loads(WORKLIST_PATHS, 0, &err);

	if (!p) {
		fprintf(stderr, "ndx-sector: openapi: /reconcile: %s\n", err.text);
		return -1;
	}
	if (json_object_update(paths, p)) {
		json_decref(p);
		return -1;
	}
	json_decref(p);
	return 0;
}

void worklist_api_handle(const struct sector_def *def, struct store *st, const char *events_client,
			 const struct ndx_http_req *req, struct ndx_http_resp *resp,
			 struct pinset *declared)
{
	const char *p = req->path;
	int worklist = strcmp(p, "/reconcile/worklist") == 0;

	if (!worklist && strcmp(p, "/reconcile/corrections") != 0) {
		ndx_http_resp_error(resp, 404, "Client.NotFound", "no such resource",
				    "/reconcile/worklist (GET) or /reconcile/corrections (POST)");
		return;
	}
	if (strcmp(req->method, worklist ? "GET" : "POST") != 0) {
		ndx_http_resp_header(resp, "Allow", worklist ? "GET" : "POST");
		ndx_http_resp_error(resp, 405, "Client.MethodNotAllowed", "method not allowed",
				    worklist ? "GET" : "POST");
		return;
	}
	if (worklist)
		handle_worklist(def, st, req, resp, declared);
	else
		handle_correction(def, st, events_client, req, resp, declared);
}
