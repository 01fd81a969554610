/* The administration of the portal's officers and officials on the web
 * (admin.h; docs/portal.md "Administration"). Every request goes through
 * the same steps: the route and its method (404, 405), the signed-in
 * official (401 unauthenticated, 403 not_official: a citizen who is no
 * official, an officer's session), the CSRF token of a POST (403 csrf), the
 * role's rule (403 forbidden), the body's fields (400 invalid naming each
 * bad field), then one write of the store that records the change in the
 * audit trail in the same transaction. An operator manages every officer
 * and official; an agency official only its own member's officers, and
 * reads its own member's officials and audit rows; an auditor reads
 * everything and changes nothing. An officer's password is made here
 * (never chosen by the admin), answered once and kept only as its
 * Argon2id hash; a reset or a removal ends the officer's sessions. */
#include "admin.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "ndx/err.h"
#include "ndx/id.h"
#include "ndx/password.h"
#include "ndx/pin.h"
#include "ops.h"

#define AUDIT_LIMIT_MAX 500
#define PASSWORD_GROUPS 5 /* of 4 characters: 100 bits */

int admin_username_ok(const char *u)
{
	size_t n = strlen(u);

	if (n == 0 || n > 64)
		return 0;
	for (; *u; u++)
		if (!((*u >= 'A' && *u <= 'Z') || (*u >= 'a' && *u <= 'z') ||
		      (*u >= '0' && *u <= '9') || strchr("._-@", *u)))
			return 0;
	return 1;
}

int admin_password_make(char *out, size_t cap)
{
	/* 32 letters and digits without 0 O 1 l I: read aloud or copied by
	 * hand without doubt; 5 bits each. */
	static const char ALPHA[] = "abcdefghijkmnpqrstuvwxyz23456789";
	unsigned char r[PASSWORD_GROUPS * 4];
	size_t k = 0;

	if (cap < PASSWORD_GROUPS * 5)
		return NDX_EINVAL;
	if (RAND_bytes(r, sizeof r) != 1)
		return NDX_ECRYPTO;
	for (size_t i = 0; i < sizeof r; i++) {
		if (i && i % 4 == 0)
			out[k++] = '-';
		out[k++] = ALPHA[r[i] & 31];
	}
	out[k] = '\0';
	OPENSSL_cleanse(r, sizeof r);
	return NDX_OK;
}

/* ---- answers --------------------------------------------------------------- */

static void reply(struct ndx_http_resp *resp, int status, const char *code, const char *msg)
{
	struct perr e = { 0 };

	perr_set(&e, status, code, "%s", msg);
	api_reply_error(resp, &e);
}

/* status (400 invalid, or 409 conflict) naming each bad field
 * ({"username":"format",…}); takes fields. */
static void reply_fields_status(struct ndx_http_resp *resp, int status, json_t *fields)
{
	struct perr e = { 0 };
	const char *k;
	json_t *v;
	char names[256] = "";

	json_object_foreach(fields, k, v) {
		size_t n = strlen(names);

		snprintf(names + n, sizeof names - n, "%s%s", n ? ", " : "", k);
	}
	perr_set(&e, status, status == 409 ? "conflict" : "invalid", "%s: %s",
		 status == 409 ? "already there" : "bad fields", names);
	e.fields = fields;
	api_reply_error(resp, &e);
}

static void reply_fields(struct ndx_http_resp *resp, json_t *fields)
{
	reply_fields_status(resp, 400, fields);
}

/* A refusal, logged beside the access log line with the role and member of
 * the official (never the PIN). */
static void refuse(const struct ndx_http_req *req, struct ndx_http_resp *resp, int status,
		   const char *code, const char *msg, const char *who)
{
	fprintf(stderr, PORTAL_PROG ": admin: refused %s %s (%s): %s\n", req->method, req->path,
		who, msg);
	reply(resp, status, code, msg);
}

/* ---- the gate -------------------------------------------------------------- */

struct who {
	struct psession s;
	struct pofficial o;
	struct padmin_actor actor;
	char label[160];
};

static int gate(const struct portal *p, const struct ndx_http_req *req,
		struct ndx_http_resp *resp, struct who *w)
{
	memset(w, 0, sizeof *w);
	if (ops_official_gate(p, req, resp, "admin", "the administration", &w->s, &w->o))
		return -1;
	w->actor = (struct padmin_actor){ w->o.pin, w->o.name, w->o.role, w->o.member };
	snprintf(w->label, sizeof w->label, "%s official of %s", w->o.role, w->o.member);
	return 0;
}

static int is(const struct who *w, const char *role)
{
	return strcmp(w->o.role, role) == 0;
}

/* ---- fields ---------------------------------------------------------------- */

/* The body's string field name into out (cap bytes with the NUL), noting
 * "required", "format" or "too_long" into fields. required 0: absent is
 * "" with no note. */
static void text_field(json_t *body, const char *name, int required, char *out, size_t cap,
		       json_t *fields)
{
	json_t *v = json_object_get(body, name);
	const char *s = json_string_value(v);

	out[0] = '\0';
	if (!v || json_is_null(v) || (s && !*s)) {
		if (required)
			json_object_set_new(fields, name, json_string("required"));
		return;
	}
	if (!s || strlen(s) != json_string_length(v)) {
		json_object_set_new(fields, name, json_string("format"));
		return;
	}
	if (strlen(s) >= cap) {
		json_object_set_new(fields, name, json_string("too_long"));
		return;
	}
	snprintf(out, cap, "%s", s);
}

/* Notes every member of body that is not one of names as "unknown". */
static void only_fields(json_t *body, const char *const *names, json_t *fields)
{
	const char *k;
	json_t *v;

	json_object_foreach(body, k, v) {
		size_t i = 0;

		while (names[i] && strcmp(names[i], k) != 0)
			i++;
		if (!names[i])
			json_object_set_new(fields, k, json_string("unknown"));
	}
}

/* A member id in out canonical, or "format" noted. */
static void member_field(const char *name, char *out, size_t cap, json_t *fields)
{
	struct ndx_id id;
	const char *why = NULL;

	if (!out[0] || json_object_get(fields, name))
		return;
	if (ndx_id_parse(out, strlen(out), NDX_ID_MEMBER, &id, &why) != NDX_OK ||
	    ndx_id_format(&id, out, cap) < 0)
		json_object_set_new(fields, name, json_string("format"));
}

/* A path segment percent-decoded into out (cap with the NUL); -1 when it
 * is not one. */
static int segment(const char *s, size_t len, char *out, size_t cap)
{
	size_t k = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned v;

		if (k + 1 >= cap)
			return -1;
		if (s[i] == '%') {
			char hex[3];

			if (i + 2 >= len || strspn(s + i + 1, "0123456789abcdefABCDEF") < 2)
				return -1;
			memcpy(hex, s + i + 1, 2);
			hex[2] = '\0';
			v = (unsigned)strtoul(hex, NULL, 16);
			if (v == 0 || v == '/')
				return -1;
			out[k++] = (char)v;
			i += 2;
		} else {
			out[k++] = s[i];
		}
	}
	out[k] = '\0';
	return k ? 0 : -1;
}

/* ---- officers -------------------------------------------------------------- */

static json_t *visible_officials(const struct portal *p, const struct who *w);

static void r_officers(const struct portal *p, struct ndx_http_resp *resp, struct who *w)
{
	json_t *list;

	if (pstore_officer_list(p->st, is(w, "agency") ? w->o.member : NULL, &list) != NDX_OK) {
		reply(resp, 500, "internal", "the officers could not be read");
		return;
	}
	ndx_http_resp_json(resp, 200,
			   json_pack("{s:o,s:b,s:o}", "officers", list, "can_change",
				     !is(w, "auditor"), "member",
				     is(w, "agency") ? json_string(w->o.member) : json_null()));
}

/* The officer username as stored into *o, refused 404 when there is none
 * and 403 when an agency official asks for another member's. */
static int officer_for(const struct portal *p, const struct ndx_http_req *req,
		       struct ndx_http_resp *resp, struct who *w, const char *username,
		       struct pofficer *o)
{
	int rc = pstore_officer_get(p->st, username, o);

	if (rc == NDX_ENOTFOUND) {
		reply(resp, 404, "not_found", "no such officer");
		return -1;
	}
	if (rc != NDX_OK) {
		reply(resp, 500, "internal", "the officers could not be read");
		return -1;
	}
	if (is(w, "agency") && strcmp(o->agency, w->o.member) != 0) {
		char msg[256];

		snprintf(msg, sizeof msg, "an agency official manages only the officers of %s",
			 w->o.member);
		refuse(req, resp, 403, "forbidden", msg, w->label);
		return -1;
	}
	return 0;
}

/* A new password for o, hashed into hash; the clear one into pw. */
static int new_password(struct ndx_http_resp *resp, char *pw, size_t cap,
			char hash[NDX_PASSWORD_HASH_MAX])
{
	int rc;

	if ((rc = admin_password_make(pw, cap)) != NDX_OK ||
	    (rc = ndx_password_hash(pw, &NDX_PASSWORD_COST_DEFAULT, hash)) != NDX_OK) {
		OPENSSL_cleanse(pw, cap);
		fprintf(stderr, PORTAL_PROG ": admin: cannot make a password: %s\n",
			ndx_strerror(rc));
		reply(resp, 500, "internal", "the password could not be made");
		return -1;
	}
	return 0;
}

static json_t *officer_json(const struct pofficer *o)
{
	return json_pack("{s:s,s:s,s:s}", "username", o->username, "name", o->name, "agency",
			 o->agency);
}

/* POST /api/admin/officers {"username","name","agency"}. */
static void r_officer_add(const struct portal *p, const struct ndx_http_req *req,
			  struct ndx_http_resp *resp, struct who *w, json_t *body)
{
	static const char *const NAMES[] = { "username", "name", "agency", NULL };
	json_t *fields = json_object();
	struct pofficer o;
	char pw[PASSWORD_GROUPS * 5 + 1];
	int rc;

	memset(&o, 0, sizeof o);
	only_fields(body, NAMES, fields);
	text_field(body, "username", 1, o.username, 65, fields);
	text_field(body, "name", 1, o.name, sizeof o.name, fields);
	text_field(body, "agency", !is(w, "agency"), o.agency, sizeof o.agency, fields);
	if (o.username[0] && !admin_username_ok(o.username))
		json_object_set_new(fields, "username", json_string("format"));
	member_field("agency", o.agency, sizeof o.agency, fields);
	if (json_object_size(fields)) {
		reply_fields(resp, fields);
		return;
	}
	json_decref(fields);
	if (is(w, "agency")) {
		if (o.agency[0] && strcmp(o.agency, w->o.member) != 0) {
			char msg[256];

			snprintf(msg, sizeof msg, "an agency official adds officers of %s only",
				 w->o.member);
			refuse(req, resp, 403, "forbidden", msg, w->label);
			return;
		}
		snprintf(o.agency, sizeof o.agency, "%s", w->o.member);
	}
	if (new_password(resp, pw, sizeof pw, o.password_hash))
		return;
	rc = pstore_officer_create(p->st, &o, &w->actor, time(NULL));
	if (rc == NDX_EEXIST) {
		reply_fields_status(resp, 409, json_pack("{s:s}", "username", "duplicate"));
	} else if (rc != NDX_OK) {
		reply(resp, 500, "internal", "the officer could not be stored");
	} else {
		fprintf(stderr, PORTAL_PROG ": admin: officer %s added (%s) by %s\n", o.username,
			o.agency, w->label);
		ndx_http_resp_json(resp, 201, json_pack("{s:o,s:s}", "officer", officer_json(&o),
							 "password", pw));
	}
	OPENSSL_cleanse(pw, sizeof pw);
	OPENSSL_cleanse(o.password_hash, sizeof o.password_hash);
}

/* POST /api/admin/officers/{u} {"name"}: the officer's new name. */
static void r_officer_rename(const struct portal *p, struct ndx_http_resp *resp,
			     struct who *w, const struct pofficer *o, json_t *body)
{
	static const char *const NAMES[] = { "name", NULL };
	json_t *fields = json_object();
	char name[256];
	int rc;

	only_fields(body, NAMES, fields);
	text_field(body, "name", 1, name, sizeof name, fields);
	if (json_object_size(fields)) {
		reply_fields(resp, fields);
		return;
	}
	json_decref(fields);
	rc = pstore_officer_rename(p->st, o, name, &w->actor, time(NULL));
	if (rc == NDX_ENOTFOUND) {
		reply(resp, 404, "not_found", "no such officer");
		return;
	}
	if (rc != NDX_OK) {
		reply(resp, 500, "internal", "the officer could not be stored");
		return;
	}
	fprintf(stderr, PORTAL_PROG ": admin: officer %s renamed by %s\n", o->username, w->label);
	ndx_http_resp_json(resp, 200, json_pack("{s:{s:s,s:s,s:s}}", "officer", "username",
						 o->username, "name", name, "agency", o->agency));
}

/* POST /api/admin/officers/{u}/password: a new password, answered once;
 * the officer's sessions end. */
static void r_officer_password(const struct portal *p, struct ndx_http_resp *resp,
			       struct who *w, const struct pofficer *o)
{
	char pw[PASSWORD_GROUPS * 5 + 1], hash[NDX_PASSWORD_HASH_MAX];
	int rc;

	if (new_password(resp, pw, sizeof pw, hash))
		return;
	rc = pstore_officer_set_password(p->st, o, hash, &w->actor, time(NULL));
	OPENSSL_cleanse(hash, sizeof hash);
	if (rc == NDX_ENOTFOUND)
		reply(resp, 404, "not_found", "no such officer");
	else if (rc != NDX_OK)
		reply(resp, 500, "internal", "the officer could not be stored");
	else {
		fprintf(stderr, PORTAL_PROG ": admin: officer %s's password reset by %s\n",
			o->username, w->label);
		ndx_http_resp_json(resp, 200, json_pack("{s:o,s:s}", "officer", officer_json(o),
							 "password", pw));
	}
	OPENSSL_cleanse(pw, sizeof pw);
}

/* POST /api/admin/officers/{u}/remove: the officer and their sessions go. */
static void r_officer_remove(const struct portal *p, struct ndx_http_resp *resp,
			     struct who *w, const struct pofficer *o)
{
	int rc = pstore_officer_remove(p->st, o, &w->actor, time(NULL));

	if (rc == NDX_ENOTFOUND) {
		reply(resp, 404, "not_found", "no such officer");
		return;
	}
	if (rc != NDX_OK) {
		reply(resp, 500, "internal", "the officer could not be removed");
		return;
	}
	fprintf(stderr, PORTAL_PROG ": admin: officer %s removed by %s\n", o->username, w->label);
	ndx_http_resp_json(resp, 200, json_pack("{s:s,s:o}", "status", "removed", "officer",
						 officer_json(o)));
}

/* ---- officials ------------------------------------------------------------- */

/* "********0101": the PIN as anyone but the operator reads it. */
static void pin_hint(const char *pin, char out[16])
{
	size_t n = strlen(pin);

	snprintf(out, 16, "********%s", n >= 4 ? pin + n - 4 : "");
}

/* The officials w may see (an agency official: its own member's), the PIN
 * whole for an operator and as a hint for the others. */
static json_t *visible_officials(const struct portal *p, const struct who *w)
{
	json_t *all = NULL, *o;
	char hint[16];
	size_t i;

	if (pstore_official_list(p->st, &all) != NDX_OK)
		return NULL;
	for (i = json_array_size(all); i-- > 0;) {
		o = json_array_get(all, i);
		if (is(w, "agency") &&
		    strcmp(json_string_value(json_object_get(o, "member")), w->o.member) != 0) {
			json_array_remove(all, i);
			continue;
		}
		pin_hint(json_string_value(json_object_get(o, "pin")), hint);
		json_object_set_new(o, "pin_hint", json_string(hint));
		json_object_set_new(o, "self", json_boolean(strcmp(json_string_value(
			json_object_get(o, "pin")), w->o.pin) == 0));
		if (!is(w, "operator"))
			json_object_del(o, "pin");
	}
	return all;
}

static void r_officials(const struct portal *p, struct ndx_http_resp *resp, struct who *w)
{
	json_t *list = visible_officials(p, w);

	if (!list) {
		reply(resp, 500, "internal", "the officials could not be read");
		return;
	}
	ndx_http_resp_json(resp, 200,
			   json_pack("{s:o,s:b,s:{s:s,s:s,s:s}}", "officials", list, "can_change",
				     is(w, "operator"), "me", "name", w->o.name, "role", w->o.role,
				     "member", w->o.member));
}

/* The body of an official's add (with_pin) or change into *o, or 400
 * answered and -1. */
static int official_body(struct ndx_http_resp *resp, json_t *body, int with_pin,
			 struct pofficial *o)
{
	static const char *const ADD[] = { "pin", "name", "role", "member", NULL };
	json_t *fields = json_object();
	const char *why = NULL;

	only_fields(body, with_pin ? ADD : ADD + 1, fields);
	if (with_pin) {
		text_field(body, "pin", 1, o->pin, sizeof o->pin, fields);
		if (o->pin[0] && ndx_pin_parse(o->pin, 0, NULL, &why) != NDX_OK)
			json_object_set_new(fields, "pin", json_string("format"));
	}
	text_field(body, "name", 1, o->name, sizeof o->name, fields);
	text_field(body, "role", 1, o->role, sizeof o->role, fields);
	if (o->role[0] && !ops_role_known(o->role))
		json_object_set_new(fields, "role", json_string("format"));
	text_field(body, "member", 1, o->member, sizeof o->member, fields);
	member_field("member", o->member, sizeof o->member, fields);
	if (json_object_size(fields)) {
		reply_fields(resp, fields);
		return -1;
	}
	json_decref(fields);
	return 0;
}

/* Only the operator changes officials. */
static int operator_only(const struct ndx_http_req *req, struct ndx_http_resp *resp,
			 const struct who *w)
{
	if (is(w, "operator"))
		return 0;
	refuse(req, resp, 403, "forbidden", "only the national operator manages officials",
	       w->label);
	return -1;
}

static void official_done(struct ndx_http_resp *resp, int status, const struct pofficial *o)
{
	ndx_http_resp_json(resp, status,
			   json_pack("{s:{s:s,s:s,s:s,s:s}}", "official", "pin", o->pin, "name",
				     o->name, "role", o->role, "member", o->member));
}

/* POST /api/admin/officials {"pin","name","role","member"}. */
static void r_official_add(const struct portal *p, struct ndx_http_resp *resp, struct who *w,
			   json_t *body)
{
	struct pofficial o;
	int rc;

	memset(&o, 0, sizeof o);
	if (official_body(resp, body, 1, &o))
		return;
	rc = pstore_official_create(p->st, &o, &w->actor, time(NULL));
	if (rc == NDX_EEXIST)
		reply_fields_status(resp, 409, json_pack("{s:s}", "pin", "duplicate"));
	else if (rc != NDX_OK)
		reply(resp, 500, "internal", "the official could not be stored");
	else {
		fprintf(stderr, PORTAL_PROG ": admin: official %s added (%s, %s) by %s\n", o.name,
			o.role, o.member, w->label);
		official_done(resp, 201, &o);
	}
}

/* POST /api/admin/officials/{pin} {"name","role","member"} and
 * …/{pin}/remove. */
static void r_official_change(const struct portal *p, const struct ndx_http_req *req,
			      struct ndx_http_resp *resp, struct who *w, const char *pin,
			      json_t *body, int remove)
{
	struct pofficial o, before;
	int rc;

	memset(&o, 0, sizeof o);
	if (!remove && official_body(resp, body, 0, &o))
		return;
	/* The route took only a well-formed number; one that does not fit is
	 * nobody's. */
	if (snprintf(o.pin, sizeof o.pin, "%s", pin) >= (int)sizeof o.pin) {
		reply(resp, 404, "not_found", "no such official");
		return;
	}
	if (remove && strcmp(pin, w->o.pin) == 0) {
		refuse(req, resp, 409, "self", "an official cannot remove themself", w->label);
		return;
	}
	rc = remove ? pstore_official_delete(p->st, pin, &w->actor, time(NULL), &before)
		    : pstore_official_change(p->st, &o, &w->actor, time(NULL), &before);
	if (rc == NDX_ENOTFOUND) {
		reply(resp, 404, "not_found", "no such official");
		return;
	}
	if (rc == NDX_EPERM) {
		refuse(req, resp, 409, "last_operator",
		       "the federation would be left without an operator", w->label);
		return;
	}
	if (rc != NDX_OK) {
		reply(resp, 500, "internal", "the official could not be stored");
		return;
	}
	fprintf(stderr, PORTAL_PROG ": admin: official %s %s by %s\n",
		remove ? before.name : o.name, remove ? "removed" : "changed", w->label);
	if (remove)
		ndx_http_resp_json(resp, 200, json_pack("{s:s}", "status", "removed"));
	else
		official_done(resp, 200, &o);
}

/* ---- the audit trail ------------------------------------------------------- */

static void r_audit(const struct portal *p, const struct ndx_http_req *req,
		    struct ndx_http_resp *resp, struct who *w)
{
	const char *l = ndx_http_query_arg(req, "limit");
	unsigned long limit = 200;
	json_t *rows, *row;
	char hint[16], *end = NULL;
	size_t i;

	if (l && *l) {
		limit = strtoul(l, &end, 10);
		if (*end || limit < 1 || limit > AUDIT_LIMIT_MAX || l[0] == '-' || l[0] == '+') {
			reply_fields(resp, json_pack("{s:s}", "limit", "range"));
			return;
		}
	}
	if (pstore_admin_audit(p->st, is(w, "agency") ? w->o.member : NULL, (unsigned)limit,
			       &rows) != NDX_OK) {
		reply(resp, 500, "internal", "the audit trail could not be read");
		return;
	}
	/* Who made a change is said by name, role and member; an official's
	 * PIN is the operator's to read only. */
	json_array_foreach(rows, i, row) {
		const char *action = json_string_value(json_object_get(row, "action"));

		json_object_del(json_object_get(row, "actor"), "pin");
		if (strncmp(action, "official.", 9) == 0 && !is(w, "operator")) {
			pin_hint(json_string_value(json_object_get(row, "target")), hint);
			json_object_set_new(row, "target", json_string(hint));
		}
	}
	ndx_http_resp_json(resp, 200, json_pack("{s:o}", "entries", rows));
}

/* ---- routing --------------------------------------------------------------- */

void admin_handle(const struct portal *p, const struct ndx_http_req *req,
		  struct ndx_http_resp *resp)
{
	const char *rest = req->path + strlen("/api/admin/");
	int get = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
	int post = strcmp(req->method, "POST") == 0;
	enum { OFFICERS, OFFICIALS, AUDIT } what;
	const char *tail;
	char key[128] = "", sub[16] = "";
	json_t *body = NULL;
	struct pofficer o;
	struct who w;

	if (strncmp(rest, "officers", 8) == 0)
		what = OFFICERS, tail = rest + 8;
	else if (strncmp(rest, "officials", 9) == 0)
		what = OFFICIALS, tail = rest + 9;
	else if (strcmp(rest, "audit") == 0)
		what = AUDIT, tail = rest + 5;
	else
		goto not_found;
	/* tail: "", "/{key}" or "/{key}/{sub}" */
	if (*tail) {
		size_t n;

		if (*tail != '/' || what == AUDIT)
			goto not_found;
		tail++;
		n = strcspn(tail, "/");
		if (segment(tail, n, key, sizeof key))
			goto not_found;
		tail += n;
		if (*tail) {
			tail++;
			if (strcmp(tail, "remove") != 0 &&
			    !(what == OFFICERS && strcmp(tail, "password") == 0))
				goto not_found;
			snprintf(sub, sizeof sub, "%s", tail);
		}
		if (what == OFFICERS ? !admin_username_ok(key)
				     : ndx_pin_parse(key, 0, NULL, NULL) != NDX_OK)
			goto not_found;
	}
	/* Lists and the audit trail are read (GET); everything else a POST. */
	if (!key[0] ? (!get && !(post && what != AUDIT)) : !post) {
		ndx_http_resp_header(resp, "Allow", key[0] ? "POST"
						  : what == AUDIT ? "GET, HEAD" : "GET, HEAD, POST");
		reply(resp, 405, "method_not_allowed", "not with this method");
		return;
	}
	if (gate(p, req, resp, &w))
		return;
	if (get) {
		if (what == OFFICERS)
			r_officers(p, resp, &w);
		else if (what == OFFICIALS)
			r_officials(p, resp, &w);
		else
			r_audit(p, req, resp, &w);
		goto out;
	}
	if (!api_csrf_ok(req, &w.s)) {
		reply(resp, 403, "csrf", "the X-CSRF-Token header is missing or wrong");
		goto out;
	}
	if (is(&w, "auditor")) {
		refuse(req, resp, 403, "forbidden", "an auditor reads and changes nothing", w.label);
		goto out;
	}
	if (what == OFFICIALS && operator_only(req, resp, &w))
		goto out;
	if (what == OFFICERS && key[0] && officer_for(p, req, resp, &w, key, &o))
		goto out;
	/* A body is a JSON object; the password and remove steps take none
	 * (or an empty one). */
	if ((!sub[0] || req->body_len) && api_body(req, resp, &body))
		goto out;
	if (sub[0] && body && json_object_size(body)) {
		reply_fields(resp, json_pack("{s:s}", json_object_iter_key(json_object_iter(body)),
					     "unknown"));
		goto out;
	}
	if (what == OFFICERS && !key[0])
		r_officer_add(p, req, resp, &w, body);
	else if (what == OFFICERS && !sub[0])
		r_officer_rename(p, resp, &w, &o, body);
	else if (what == OFFICERS && strcmp(sub, "password") == 0)
		r_officer_password(p, resp, &w, &o);
	else if (what == OFFICERS)
		r_officer_remove(p, resp, &w, &o);
	else if (!key[0])
		r_official_add(p, resp, &w, body);
	else
		r_official_change(p, req, resp, &w, key, body, sub[0] != 0);
out:
	json_decref(body);
	psession_clear(&w.s);
	return;
not_found:
	reply(resp, 404, "not_found", "no such route");
}
