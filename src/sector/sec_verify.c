/* The verification service of the population registry (sec_verify.h).
 * A record is compared with the citizen holding the number it carries;
 * when it carries none, or one whose holder has another name (or nobody
 * holds it), the registry looks for the one citizen with the same name
 * (folded) and, as sent, the same birth date and sex, or, without a birth
 * date, the same address: that citizen's number is the candidate and the
 * other fields are compared with theirs. Verdicts are constants; the
 * candidate's number is the only value the answer can hold that the
 * request did not. Overview: docs/sectors.md "Verification". */
#include "sec_verify.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "ndx/fold.h"
#include "ndx/err.h"
#include "ndx/pin.h"
#include "schema.h"

#define MSG_MAX 256

const char *verify_name(const char *sent, const char *held)
{
	char a[STORE_FOLDED_MAX], b[STORE_FOLDED_MAX];

	if (strcmp(sent, held) == 0)
		return VERIFY_MATCH;
	if (ndx_fold(sent, a, sizeof a) >= 0 && ndx_fold(held, b, sizeof b) >= 0 &&
	    strcmp(a, b) == 0)
		return VERIFY_MARKS;
	return VERIFY_DIFFERS;
}

const char *verify_date(const char *sent, const char *held)
{
	if (strcmp(sent, held) == 0)
		return VERIFY_MATCH;
	/* YYYY-MM-DD against YYYY-DD-MM. */
	if (strlen(sent) == 10 && strlen(held) == 10 && memcmp(sent, held, 5) == 0 &&
	    memcmp(sent + 5, held + 8, 2) == 0 && memcmp(sent + 8, held + 5, 2) == 0)
		return VERIFY_SWAPPED;
	return VERIFY_DIFFERS;
}

const char *verify_address(const char *sent, const char *held)
{
	char a[STORE_FOLDED_MAX * 2], b[STORE_FOLDED_MAX * 2];

	if (strcmp(sent, held) == 0)
		return VERIFY_MATCH;
	if (ndx_fold(sent, a, sizeof a) >= 0 && ndx_fold(held, b, sizeof b) >= 0 &&
	    strcmp(a, b) == 0)
		return VERIFY_MATCH;
	return VERIFY_DIFFERS;
}

/* ---- the request ------------------------------------------------------------------ */

/* A record's fields and the citizens column each is checked as. */
static const struct {
	const char *field, *column;
} FIELDS[] = {
	{ "pin", "pin" },
	{ "full_name", "full_name" },
	{ "birth_date", "birth_date" },
	{ "sex", "sex" },
	{ "address", "permanent_address" },
};
#define NFIELDS (sizeof FIELDS / sizeof FIELDS[0])

static void invalid(struct ndx_http_resp *resp, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void invalid(struct ndx_http_resp *resp, const char *field, const char *fmt, ...)
{
	char detail[2 * MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	ndx_http_resp_header(resp, "Ndx-Invalid-Field", field);
	ndx_http_resp_error(resp, 400, "Client.InvalidRequest", "invalid verification request",
			    detail);
}

/* Checks record i; 0, or -1 after answering 400. */
static int check_record(const struct sector_table *citizens, size_t i, json_t *rec,
			struct ndx_http_resp *resp)
{
	char field[64], why[MSG_MAX];
	const char *k;
	json_t *v;

	if (!json_is_object(rec)) {
		snprintf(field, sizeof field, "records[%zu]", i);
		invalid(resp, field, "%s: expected an object", field);
		return -1;
	}
	json_object_foreach(rec, k, v) {
		const struct sector_column *col = NULL;
		for (size_t f = 0; f < NFIELDS; f++)
			if (strcmp(k, FIELDS[f].field) == 0)
				col = sector_column_find(citizens, FIELDS[f].column);
		snprintf(field, sizeof field, "records[%zu].%.32s", i, k);
		if (strcmp(k, "living") == 0) {
			if (!json_is_boolean(v)) {
				invalid(resp, field, "%s: must be true or false", field);
				return -1;
			}
			continue;
		}
		if (!col) {
			invalid(resp, field, "%s: unknown field (pin, full_name, birth_date, sex, "
					     "address, living)", field);
			return -1;
		}
		json_t *ok = api_check_value(col, v, why, sizeof why);
		if (!ok) {
			invalid(resp, field, "%s: %s", field, why);
			return -1;
		}
		json_decref(ok);
	}
	if (!json_object_get(rec, "pin") && !json_object_get(rec, "full_name")) {
		snprintf(field, sizeof field, "records[%zu]", i);
		invalid(resp, field, "%s: needs pin or full_name", field);
		return -1;
	}
	return 0;
}

/* The request's records, checked; NULL after answering. */
static json_t *read_records(const struct sector_table *citizens, const struct ndx_http_req *req,
			    struct ndx_http_resp *resp)
{
	json_error_t jerr;
	json_t *body, *records;
	const char *k;
	json_t *v;

	if (!req->body || req->body_len == 0) {
		invalid(resp, "records", "a JSON object {\"records\": [...]} is required");
		return NULL;
	}
	if (!(body = json_loadb((const char *)req->body, req->body_len, JSON_REJECT_DUPLICATES,
				&jerr))) {
		ndx_http_resp_error(resp, 400, "Client.InvalidRequest", "malformed JSON", jerr.text);
		return NULL;
	}
	json_object_foreach(body, k, v) {
		if (strcmp(k, "records") != 0) {
			invalid(resp, "records", "%.32s: unknown field (records)", k);
			json_decref(body);
			return NULL;
		}
	}
	records = json_object_get(body, "records");
	if (!json_is_array(records) || json_array_size(records) == 0) {
		invalid(resp, "records", "records: expected a non-empty array");
		json_decref(body);
		return NULL;
	}
	if (json_array_size(records) > VERIFY_MAX_RECORDS) {
		char detail[MSG_MAX];
		snprintf(detail, sizeof detail, "records: at most %d a request", VERIFY_MAX_RECORDS);
		ndx_http_resp_error(resp, 413, "Client.TooManyRecords", "too many records", detail);
		json_decref(body);
		return NULL;
	}
	for (size_t i = 0; i < json_array_size(records); i++)
		if (check_record(citizens, i, json_array_get(records, i), resp)) {
			json_decref(body);
			return NULL;
		}
	json_incref(records);
	json_decref(body);
	return records;
}

/* ---- one record ------------------------------------------------------------------- */

struct citizen {
	char pin[NDX_PIN_LEN + 1];
	char name[256], birth[16], sex[8], address[512];
	int living;
};

/* The store's citizens lookups (store_citizens, either engine) on one
 * connection, inside one read transaction. */
struct lookups {
	struct store_conn *c;
};

/* At most this many citizens of one name (and birth date, when the record
 * has one) are looked at for a candidate. By name alone a common name is
 * held by thousands in a national registry, so a record with a birth date
 * is looked up by both (the index citizens_name_birth, store.c), and one
 * without a birth date by name and address as written (the index
 * citizens_name_address): at a million citizens the name alone cut off
 * the person in three duplicates of ten under a mistyped number
 * (bench/README.md "Reconciliation at scale"). */
#define CANDIDATES_LOOKED_AT 64
static void citizen_from(const struct store_citizen *s, struct citizen *c)
{
	snprintf(c->pin, sizeof c->pin, "%s", s->pin);
	snprintf(c->name, sizeof c->name, "%s", s->full_name);
	snprintf(c->birth, sizeof c->birth, "%s", s->birth_date);
	snprintf(c->sex, sizeof c->sex, "%s", s->sex);
	snprintf(c->address, sizeof c->address, "%s", s->permanent_address);
	c->living = s->living;
}

struct found {
	struct citizen *c;
	int n;
};

static int keep_first(void *ctx, const struct store_citizen *s)
{
	struct found *f = ctx;

	if (f->n++ == 0)
		citizen_from(s, f->c);
	return NDX_OK;
}

/* The holder of pin: 1 found, 0 none, NDX_EDB. */
static int holder(struct lookups *l, const char *pin, struct citizen *c)
{
	struct found f = { c, 0 };
	int rc = store_citizens(l->c, STORE_BY_PIN, pin, NULL, 1, keep_first, &f);

	return rc ? NDX_EDB : f.n > 0;
}

static const char *sget(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* Does citizen c fit record rec well enough to be its person? */
static int fits(const json_t *rec, const struct citizen *c)
{
	const char *birth = sget(rec, "birth_date"), *sex = sget(rec, "sex"),
		   *addr = sget(rec, "address");

	if (sex && strcmp(sex, c->sex) != 0)
		return 0;
	if (birth)
		return strcmp(birth, c->birth) == 0;
	return addr && strcmp(verify_address(addr, c->address), VERIFY_MATCH) == 0;
}

/* The part of a personal number fixed by the person's own facts (Circular
 * 07/2016/TT-BCA, Article 7): the province where the birth was registered,
 * sex and century, and the year of birth; only the last six digits are
 * drawn. A second number of one person, or one mistyped in its drawn part,
 * keeps it; two people sharing name, birth date and sex but registered in
 * different provinces differ in it. */
#define PIN_FIXED_DIGITS 6

/* The citizens q yields that fit rec: how many, the first of them, and of
 * those at rec's address and those whose number has the fixed part of
 * rec's number, how many and the first. */
struct fitting {
	int found, found_at_address, found_by_number;
	struct citizen first, at_address, by_number;
};

struct scan {
	const json_t *rec;
	const char *addr, *pin;
	struct fitting *f;
};

static int scan_one(void *ctx, const struct store_citizen *s)
{
	struct scan *k = ctx;
	struct fitting *f = k->f;
	struct citizen c;

	citizen_from(s, &c);
	if (!fits(k->rec, &c))
		return NDX_OK;
	if (f->found++ == 0)
		f->first = c;
	if (k->addr && strcmp(verify_address(k->addr, c.address), VERIFY_MATCH) == 0 &&
	    f->found_at_address++ == 0)
		f->at_address = c;
	if (k->pin && strncmp(k->pin, c.pin, PIN_FIXED_DIGITS) == 0 && f->found_by_number++ == 0)
		f->by_number = c;
	return NDX_OK;
}

/* The citizens of lookup by (a, b) that fit rec, into f. */
static int scan(struct lookups *l, enum store_citizens_by by, const char *a, const char *b,
		const json_t *rec, struct fitting *f)
{
	struct scan k = { rec, sget(rec, "address"), sget(rec, "pin"), f };

	if (k.pin && strlen(k.pin) != NDX_PIN_LEN)
		k.pin = NULL;
	return store_citizens(l->c, by, a, b, CANDIDATES_LOOKED_AT, scan_one, &k) ? NDX_EDB
										    : NDX_OK;
}

/* The one citizen fitting rec by folded name (1), none or several (0),
 * NDX_EDB. Several people can share a name, birth date and sex; then the
 * one of them whose address matches the record's is its person, when
 * exactly one does, or else the one whose number has the fixed part of the
 * record's (PIN_FIXED_DIGITS), when exactly one does: at ten million
 * citizens one duplicate in thirty under a second number shared name,
 * birth date and sex with another person, and a birth record has no
 * address (bench/README.md "Reconciliation at scale"). Without a birth
 * date, the address as written is looked for among all of the name first
 * (a common name has more holders than are looked at), then the first of
 * the name compared folded. */
static int candidate(struct lookups *l, const json_t *rec, struct citizen *out)
{
	char folded[STORE_FOLDED_MAX];
	const char *name = sget(rec, "full_name"), *birth = sget(rec, "birth_date"),
		   *addr = sget(rec, "address");
	struct fitting f = { 0 };
	int rc;

	if (!name || ndx_fold(name, folded, sizeof folded) < 0 || !*folded)
		return 0;
	if (birth) {
		rc = scan(l, STORE_BY_NAME_BIRTH, folded, birth, rec, &f);
	} else {
		rc = NDX_OK;
		if (addr)
			rc = scan(l, STORE_BY_NAME_ADDRESS, folded, addr, rec, &f);
		if (rc == NDX_OK && f.found == 0)
			rc = scan(l, STORE_BY_NAME, folded, NULL, rec, &f);
	}
	if (rc != NDX_OK)
		return rc;
	if (f.found == 1)
		*out = f.first;
	else if (f.found_at_address == 1)
		*out = f.at_address;
	else if (f.found_by_number == 1)
		*out = f.by_number;
	else
		return 0;
	return 1;
}

/* Sets the verdict of every field sent but the number against c (NULL:
 * unknown). */
static int compare_fields(json_t *out, const json_t *rec, const struct citizen *c)
{
	const char *v;
	int rc = 0;

	if ((v = sget(rec, "full_name")))
		rc |= json_object_set_new(out, "full_name",
					  json_string(c ? verify_name(v, c->name) : VERIFY_UNKNOWN));
	if ((v = sget(rec, "birth_date")))
		rc |= json_object_set_new(out, "birth_date",
					  json_string(c ? verify_date(v, c->birth) : VERIFY_UNKNOWN));
	if ((v = sget(rec, "sex")))
		rc |= json_object_set_new(
			out, "sex",
			json_string(!c ? VERIFY_UNKNOWN : strcmp(v, c->sex) ? VERIFY_DIFFERS : VERIFY_MATCH));
	if ((v = sget(rec, "address")))
		rc |= json_object_set_new(out, "address",
					  json_string(c ? verify_address(v, c->address) : VERIFY_UNKNOWN));
	json_t *living = json_object_get(rec, "living");
	if (json_is_boolean(living))
		rc |= json_object_set_new(out, "living",
					  json_string(!c ? VERIFY_UNKNOWN
						      : json_is_true(living) == (c->living != 0)
							      ? VERIFY_MATCH
							      : VERIFY_DIFFERS));
	return rc ? NDX_ENOMEM : NDX_OK;
}

/* The answer about one record; the people compared go into declared. */
static int verify_one(struct lookups *l, const json_t *rec, struct pinset *declared, json_t **out)
{
	const char *pin = sget(rec, "pin"), *name = sget(rec, "full_name");
	struct citizen held, cand;
	const struct citizen *against = NULL;
	const char *number = NULL;
	int rc, has = 0, own = 0;

	if (!(*out = json_object()))
		return NDX_ENOMEM;
	if (pin) {
		if ((has = holder(l, pin, &held)) < 0)
			return has;
		/* The number is the person's when its holder has the name sent
		 * (with or without marks) or no name was sent. */
		own = has && (!name || strcmp(verify_name(name, held.name), VERIFY_DIFFERS) != 0);
		number = !has ? VERIFY_UNKNOWN : own ? VERIFY_MATCH : VERIFY_DIFFERS;
		if (has && (rc = pinset_add(declared, held.pin)))
			return rc;
		if (own)
			against = &held;
	}
	if (!own) {
		if ((rc = candidate(l, rec, &cand)) < 0)
			return rc;
		if (rc == 1) {
			against = &cand;
			if ((rc = pinset_add(declared, cand.pin)) ||
			    json_object_set_new(*out, "candidate_pin", json_string(cand.pin)))
				return rc ? rc : NDX_ENOMEM;
		}
	}
	if (number && json_object_set_new(*out, "pin", json_string(number)))
		return NDX_ENOMEM;
	return compare_fields(*out, rec, against);
}

void verify_handle(struct store *st, const struct ndx_http_req *req, struct ndx_http_resp *resp,
		   struct pinset *declared)
{
	const struct sector_table *citizens = sector_table_find(sector_find("population"), "citizens");
	struct lookups l = { 0 };
	struct store_conn *c;
	json_t *records, *results;
	const char *subject;
	int rc = NDX_OK;

	if (strcmp(req->method, "POST") != 0) {
		ndx_http_resp_header(resp, "Allow", "POST");
		ndx_http_resp_error(resp, 405, "Client.MethodNotAllowed", "method not allowed", "POST");
		return;
	}
	/* A request naming one person (Ndx-Subject) may check only them: the
	 * gateway passes a write's answer that declares the subject, and a
	 * check of others under one name would be a bulk read without the
	 * bulk registration (docs/protocol.md "Policy", rule 3). */
	subject = ndx_http_header(req, "Ndx-Subject");
	if (subject && ndx_pin_parse(subject, 0, NULL, NULL) != NDX_OK) {
		invalid(resp, "Ndx-Subject",
			"Ndx-Subject: expected a 12-digit personal identification number");
		return;
	}
	if (!(records = read_records(citizens, req, resp)))
		return;
	if (!(results = json_array())) {
		json_decref(records);
		ndx_http_resp_error(resp, 500, "Server.Internal", "out of memory", NULL);
		return;
	}
	c = store_acquire(st);
	l.c = c;
	/* One read transaction: every record sees the same registry. */
	rc = store_read_begin(c);
	for (size_t i = 0; rc == NDX_OK && i < json_array_size(records); i++) {
		json_t *one = NULL;
		rc = verify_one(&l, json_array_get(records, i), declared, &one);
		if (json_array_append_new(results, one) && rc == NDX_OK)
			rc = NDX_ENOMEM;
	}
	store_read_end(c);
	store_release(st, c);
	json_decref(records);
	if (rc) {
		json_decref(results);
		if (rc == NDX_ETOOBIG)
			ndx_http_resp_error(resp, 422, "Client.TooManySubjects",
					    "the answer would concern too many people",
					    "Ndx-Data-Subjects");
		else
			ndx_http_resp_error(resp, 500, "Server.Internal", "the store failed", NULL);
		return;
	}
	if (subject && (pinset_count(declared) > 1 ||
			(pinset_count(declared) == 1 && !pinset_has(declared, subject)))) {
		/* Refused, declaring whom the records concern, so the gateway
		 * logs the attempt for each of them; the body names no one. */
		json_decref(results);
		ndx_http_resp_error(resp, 403, "Client.SubjectMismatch",
				    "a request naming a subject may check only that person's records",
				    "Ndx-Subject");
		return;
	}
	ndx_http_resp_json(resp, 200, json_pack("{so}", "results", results));
}
