/* The registry's HTTP handlers (api.h, docs/registry-api.md). Routing is by
 * the raw path (docs/registry-api.md, including consent services, bulk
 * purposes, embargoes, id providers, event types and subscriptions): ids inside it stay percent-encoded until ndx_id_parse
 * decodes each part, so an encoded '/' can never split an id. Every input
 * is checked here before the store sees it, and every refusal names the
 * field at fault. Management calls need an admin bearer token (only token
 * hashes are kept, compared in constant time) or the console session of an
 * official (reg_console.c): every change from a session carries its CSRF
 * token, and the official's role decides (role_refusal, docs/console.md
 * "Roles"): an operator may change, an auditor only read, an agency
 * administrator change their own member's subsystems, services and grants,
 * a data protection officer read the personal-data settings. */
#include "api.h"
#include "ndx/bearer.h"
#include "reg_console.h"
#include "reg_market.h"
#include "reg_invoice.h"
#include "reg_market_store.h"
#include "reg_witness.h"

#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdarg.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ndx/conf.h"
#include "ndx/encode.h"
#include "ndx/err.h"
#include "ndx/hash.h"
#include "ndx/id.h"
#include "ndx/key.h"
#include "ndx/negmsg.h"
#include "ndx/pin.h"
#include "ndx/pki.h"
#include "ndx/schema.h"
#include "ndx/text.h"
#include "ndx/timefmt.h"

#define NAME_MAX_BYTES 256
#define ADDRESS_MAX_BYTES 512
#define TOKEN_NAME_MAX 64
#define TLS_CERT_DAYS 365
#define AUDIT_DEFAULT_LIMIT 100
#define AUDIT_MAX_LIMIT 1000
/* An audit actor: a credential's name, or "official:" the e-ID subject and
 * the official's name in brackets (docs/console.md "The audit trail"). */
#define ACTOR_MAX 320
/* PUT /api/services/{id}/bulk-purposes: a service id has five parts, so a
 * sixth segment is never part of it. */
#define BULK_SUFFIX "/bulk-purposes"
#define ROTATION_SUFFIX "/rotation"

struct token {
	char name[TOKEN_NAME_MAX + 1];
	char member[NDX_ID_TEXT_MAX]; /* "" for an admin credential */
	uint8_t sha[NDX_SHA256_LEN];
};

struct api {
	struct api_config cfg;
	pthread_mutex_t tok_mu;
	struct token *tokens;
	size_t ntokens;
};

/* ---- errors --------------------------------------------------------------- */

static void bad_request(struct ndx_http_resp *resp, const char *message, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void bad_request(struct ndx_http_resp *resp, const char *message, const char *fmt, ...)
{
	char detail[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	ndx_http_resp_error(resp, 400, "Client.InvalidRequest", message, detail);
}

static void not_found(struct ndx_http_resp *resp, const char *what, const char *id)
{
	char detail[2 * NDX_ID_TEXT_MAX + 128];
	snprintf(detail, sizeof detail, "%s %s does not exist", what, id);
	ndx_http_resp_error(resp, 404, "Client.NotFound", "not found", detail);
}

static void internal(struct ndx_http_resp *resp)
{
	ndx_http_resp_error(resp, 500, "Server.Internal", "the store failed",
			    "the change was rolled back");
}

/* Answers for a failed store call (after any rollback). */
static void store_failed(struct ndx_http_resp *resp, int rc, const char *what, const char *id)
{
	char detail[2 * NDX_ID_TEXT_MAX + 128];
	if (rc == NDX_EEXIST) {
		snprintf(detail, sizeof detail, "%s %s already exists", what, id);
		ndx_http_resp_error(resp, 409, "Client.Conflict", "already exists", detail);
	} else if (rc == NDX_ENOTFOUND) {
		not_found(resp, what, id);
	} else {
		internal(resp);
	}
}

static void method_not_allowed(struct ndx_http_resp *resp, const char *allow)
{
	ndx_http_resp_error(resp, 405, "Client.MethodNotAllowed", "method not allowed", allow);
	ndx_http_resp_header(resp, "Allow", allow);
}

/* ---- input checks ------------------------------------------------------------ */

static const char *id_kind_name(enum ndx_id_kind kind)
{
	switch (kind) {
	case NDX_ID_MEMBER: return "member id";
	case NDX_ID_SUBSYSTEM: return "subsystem id";
	default: return "service id";
	}
}

static int class_ok(const char *cls)
{
	static const char *const classes[] = REGISTRY_MEMBER_CLASSES;
	for (size_t i = 0; i < sizeof classes / sizeof *classes; i++)
		if (strcmp(cls, classes[i]) == 0)
			return 1;
	return 0;
}

/* Parses text as an id of kind of this registry's instance into canon
 * (NDX_ID_TEXT_MAX bytes). On failure answers 400 naming field. */
static int check_id(struct api *api, struct ndx_http_resp *resp, const char *field,
		    const char *text, size_t len, enum ndx_id_kind kind, char *canon)
{
	struct ndx_id id;
	const char *why = NULL;
	char message[64];

	snprintf(message, sizeof message, "invalid %s", id_kind_name(kind));
	if (ndx_id_parse(text, len, kind, &id, &why) != NDX_OK) {
		bad_request(resp, message, "%s: %s", field, why ? why : "malformed");
		return -1;
	}
	if (strcmp(id.instance, store_instance(api->cfg.st)) != 0) {
		bad_request(resp, message, "%s: instance %s is not this registry's instance %s",
			    field, id.instance, store_instance(api->cfg.st));
		return -1;
	}
	if (!class_ok(id.member_class)) {
		bad_request(resp, message, "%s: member class %s is not one of GOV, COM, ORG", field,
			    id.member_class);
		return -1;
	}
	if (ndx_id_format(&id, canon, NDX_ID_TEXT_MAX) < 0) {
		bad_request(resp, message, "%s: too long", field);
		return -1;
	}
	return 0;
}

/* A grant's client is a member (3 parts: PR-REST's member-level client,
 * the member itself) or a subsystem (4). Any other text is checked as a
 * subsystem id, whose parser names what is wrong. */
static enum ndx_id_kind client_kind(const char *text)
{
	size_t parts = 1;

	for (; *text; text++)
		parts += *text == '/';
	return parts == NDX_ID_MEMBER ? NDX_ID_MEMBER : NDX_ID_SUBSYSTEM;
}

/* A grant's client as check_id, of the kind its parts say (*kind). */
static int check_client(struct api *api, struct ndx_http_resp *resp, const char *text,
			enum ndx_id_kind *kind, char *canon)
{
	size_t parts = 1;

	for (const char *p = text; *p; p++)
		parts += *p == '/';
	if (parts != NDX_ID_MEMBER && parts != NDX_ID_SUBSYSTEM) {
		bad_request(resp, "invalid client id",
			    "client: expected 3 parts (member id) or 4 parts (subsystem id), "
			    "found %zu", parts);
		return -1;
	}
	*kind = client_kind(text);
	return check_id(api, resp, "client", text, strlen(text), *kind, canon);
}

/* One id part (a gateway code): 1..64 of A-Z a-z 0-9 ' ( ) + , - . = ? */
static int part_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > NDX_ID_PART_MAX)
		return 0;
	for (; *s; s++) {
		char c = *s;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      strchr("'()+,-.=?", c)))
			return 0;
	}
	return 1;
}

static int purpose_ok(const char *s)
{
	return ndx_purpose_valid(s);
}

static int is_get(const char *m)
{
	return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
}

static int method_ok(const char *s)
{
	return ndx_grant_method_valid(s);
}

static int path_pattern_ok(const char *s)
{
	return ndx_grant_path_valid(s);
}

/* The members a body may have; a NULL-terminated list per kind of body. */
static const char *const MEMBER_FIELDS[] = { "id", "name", NULL };
static const char *const SUBSYSTEM_FIELDS[] = { "id", NULL };
static const char *const GATEWAY_FIELDS[] = { "member", "code", "address", "sign_public_key",
					      "tls_csr", NULL };
static const char *const SERVICE_FIELDS[] = { "id", "title", "personal", "purposes",
					      "bulk_purposes", "consent_required", "openapi",
					      NULL };
static const char *const BULK_FIELDS[] = { "bulk_purposes", NULL };
static const char *const ROTATION_FIELDS[] = { "sign_public_key", "tls_csr", "revoke_old", "reason",
					       NULL };
static const char *const GRANT_FIELDS[] = { "client", "service", "methods", "paths", NULL };
static const char *const REVOCATION_FIELDS[] = { "kind", "value", "reason", NULL };
static const char *const CONSENT_SERVICE_FIELDS[] = { "id", "url", "sign_public_key", NULL };
static const char *const EMBARGO_FIELDS[] = { "seconds", NULL };
static const char *const ID_PROVIDER_FIELDS[] = { "issuer", "sign_key", "sign_key_id", NULL };
static const char *const EVENT_TYPE_FIELDS[] = { "service", "name", "title", "schema", NULL };
static const char *const OFFICIAL_FIELDS[] = { "subject", "name", "role", "member", NULL };
static const char *const SUBSCRIPTION_FIELDS[] = { "client", "service", "event", "purpose",
						   "retry", NULL };

/* The request body as a JSON object with no member outside allowed (a
 * misspelt optional field must not be dropped in silence: "bulk_purpose"
 * would register a service with none), or NULL after answering 400 naming
 * the field. */
static json_t *body_object(const struct ndx_http_req *req, struct ndx_http_resp *resp,
			   const char *const *allowed)
{
	json_error_t jerr;
	json_t *o;
	const char *key;
	json_t *v;

	if (!req->body || req->body_len == 0) {
		bad_request(resp, "malformed JSON", "a JSON object body is required");
		return NULL;
	}
	o = json_loadb((const char *)req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (!o) {
		bad_request(resp, "malformed JSON", "line %d column %d: %s", jerr.line, jerr.column,
			    jerr.text);
		return NULL;
	}
	if (!json_is_object(o)) {
		json_decref(o);
		bad_request(resp, "malformed JSON", "the body must be a JSON object");
		return NULL;
	}
	json_object_foreach(o, key, v) {
		size_t i = 0;
		while (allowed[i] && strcmp(allowed[i], key) != 0)
			i++;
		if (!allowed[i]) {
			char *shown = ndx_text_escape(key, strlen(key));
			bad_request(resp, "unknown field", "%.128s: not a field of this request",
				    shown ? shown : "?");
			free(shown);
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

/* A string field of at most max bytes; required ones must be non-empty.
 * Returns 1 and sets *out (borrowed from o), 0 when absent and optional,
 * -1 after answering 400. Any text but PEM goes through str_field. */
static int str_field_raw(struct ndx_http_resp *resp, const json_t *o, const char *field,
			 int required, size_t max, const char **out)
{
	const json_t *v = json_object_get(o, field);
	*out = NULL;
	if (!v || json_is_null(v)) {
		if (!required)
			return 0;
		bad_request(resp, "missing field", "%s is required", field);
		return -1;
	}
	if (!json_is_string(v)) {
		bad_request(resp, "invalid field", "%s must be a string", field);
		return -1;
	}
	if (required && json_string_length(v) == 0) {
		bad_request(resp, "invalid field", "%s must not be empty", field);
		return -1;
	}
	if (json_string_length(v) > max) {
		bad_request(resp, "invalid field", "%s is longer than %zu bytes", field, max);
		return -1;
	}
	if (strlen(json_string_value(v)) != json_string_length(v)) {
		bad_request(resp, "invalid field", "%s contains a NUL character", field);
		return -1;
	}
	*out = json_string_value(v);
	return 1;
}

/* As str_field_raw, for text that is shown to people (names, titles,
 * reasons, addresses): no control character, bidirectional override or
 * isolate (include/ndx/text.h), so that a stored value can neither drive
 * an operator's terminal nor read backwards on an officer's page. */
static int str_field(struct ndx_http_resp *resp, const json_t *o, const char *field,
		     int required, size_t max, const char **out)
{
	int rc = str_field_raw(resp, o, field, required, max, out);
	size_t at = 0;
	const char *why = NULL;

	if (rc == 1 && ndx_text_check(*out, strlen(*out), &at, &why) != NDX_OK) {
		bad_request(resp, "invalid field", "%s: %s at byte %zu is not allowed", field, why,
			    at);
		*out = NULL;
		return -1;
	}
	return rc;
}

/* A boolean field (default false). Returns 0/1 or -1 after answering 400. */
static int bool_field(struct ndx_http_resp *resp, const json_t *o, const char *field)
{
	const json_t *v = json_object_get(o, field);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v)) {
		bad_request(resp, "invalid field", "%s must be true or false", field);
		return -1;
	}
	return json_is_true(v);
}

/* An array of distinct strings each accepted by ok; returns it borrowed or
 * NULL after answering 400. An absent field is an empty array when
 * allow_absent, else an error; min is the least number of elements. */
static const json_t *str_array_field(struct ndx_http_resp *resp, const json_t *o,
				     const char *field, int (*ok)(const char *),
				     const char *rule, size_t min, const json_t *absent)
{
	const json_t *v = json_object_get(o, field);
	size_t i, j;
	const json_t *e;

	if (!v || json_is_null(v)) {
		if (absent)
			return absent;
		bad_request(resp, "missing field", "%s is required", field);
		return NULL;
	}
	if (!json_is_array(v)) {
		bad_request(resp, "invalid field", "%s must be an array of strings", field);
		return NULL;
	}
	if (json_array_size(v) < min) {
		bad_request(resp, "invalid field", "%s needs at least %zu element%s", field, min,
			    min == 1 ? "" : "s");
		return NULL;
	}
	json_array_foreach(v, i, e) {
		if (!json_is_string(e) || strlen(json_string_value(e)) != json_string_length(e) ||
		    !ok(json_string_value(e))) {
			bad_request(resp, "invalid field", "%s[%zu]: %s", field, i, rule);
			return NULL;
		}
		for (j = 0; j < i; j++)
			if (json_equal(e, json_array_get(v, j))) {
				bad_request(resp, "invalid field", "%s[%zu]: %s appears twice", field,
					    i, json_string_value(e));
				return NULL;
			}
	}
	return v;
}

/* Answers 201/200 with obj (stolen) plus conf_version. */
static void answer_change(struct ndx_http_resp *resp, int status, json_t *obj, uint64_t version)
{
	if (!obj) {
		internal(resp);
		return;
	}
	json_object_set_new(obj, "conf_version", json_integer((json_int_t)version));
	ndx_http_resp_json(resp, status, obj);
}

/* rows is passed by address: the caller's list call fills it in the same
 * argument list, and C leaves the order of argument evaluation open. */
static void answer_list(struct ndx_http_resp *resp, const char *name, int rc, json_t **rows)
{
	if (rc) {
		internal(resp);
		return;
	}
	ndx_http_resp_json(resp, 200, json_pack("{so}", name, *rows));
}

static void answer_deleted(struct ndx_http_resp *resp, const char *what, uint64_t version)
{
	ndx_http_resp_json(resp, 200, json_pack("{sssI}", "deleted", what, "conf_version",
						(json_int_t)version));
}

/* Adds the validity of the gateway's TLS certificate to gw (a row of
 * store_gateway_*): "tls_not_before" and "tls_not_after" as
 * YYYY-MM-DDTHH:MM:SSZ, null when the stored PEM does not parse. */
static void gateway_validity(json_t *gw)
{
	const char *pem = json_string_value(json_object_get(gw, "tls_certificate"));
	BIO *bio = pem ? BIO_new_mem_buf(pem, -1) : NULL;
	X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	const ASN1_TIME *when[2] = { x ? X509_get0_notBefore(x) : NULL,
				     x ? X509_get0_notAfter(x) : NULL };
	const char *names[2] = { "tls_not_before", "tls_not_after" };

	for (int i = 0; i < 2; i++) {
		struct tm tm;
		char text[32];

		if (when[i] && ASN1_TIME_to_tm(when[i], &tm) == 1 &&
		    strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm) > 0)
			json_object_set_new(gw, names[i], json_string(text));
		else
			json_object_set_new(gw, names[i], json_null());
	}
	BIO_free(bio);
	X509_free(x);
}

/* gateway_validity on every gateway of the array rows. */
static void gateways_validity(json_t *rows)
{
	size_t i;
	json_t *row;

	json_array_foreach(rows, i, row)
		gateway_validity(row);
}

/* ---- authentication ---------------------------------------------------------------- */

static int load_tokens(struct api *api)
{
	json_t *rows;
	struct token *t;
	size_t i, n;
	const json_t *row;
	int rc = store_tokens(api->cfg.st, &rows);

	if (rc)
		return rc;
	n = json_array_size(rows);
	t = calloc(n ? n : 1, sizeof *t);
	if (!t) {
		json_decref(rows);
		return NDX_ENOMEM;
	}
	json_array_foreach(rows, i, row) {
		const char *name = json_string_value(json_object_get(row, "name"));
		const char *hex = json_string_value(json_object_get(row, "sha256"));
		const char *member = json_string_value(json_object_get(row, "member"));
		snprintf(t[i].name, sizeof t[i].name, "%s", name ? name : "?");
		snprintf(t[i].member, sizeof t[i].member, "%s", member ? member : "");
		if (!hex || ndx_hex_decode(hex, strlen(hex), t[i].sha, sizeof t[i].sha)) {
			/* An unreadable hash can match nothing: random bytes. */
			RAND_bytes(t[i].sha, sizeof t[i].sha);
		}
	}
	json_decref(rows);
	pthread_mutex_lock(&api->tok_mu);
	free(api->tokens);
	api->tokens = t;
	api->ntokens = n;
	pthread_mutex_unlock(&api->tok_mu);
	return NDX_OK;
}

static int match_token(struct api *api, const uint8_t sha[NDX_SHA256_LEN], char *name,
		       char *member)
{
	int found = 0;
	pthread_mutex_lock(&api->tok_mu);
	/* Scan them all: the time taken does not say which one matched. */
	for (size_t i = 0; i < api->ntokens; i++)
		if (CRYPTO_memcmp(api->tokens[i].sha, sha, NDX_SHA256_LEN) == 0 && !found) {
			snprintf(name, TOKEN_NAME_MAX + 1, "%s", api->tokens[i].name);
			snprintf(member, NDX_ID_TEXT_MAX, "%s", api->tokens[i].member);
			found = 1;
		}
	pthread_mutex_unlock(&api->tok_mu);
	return found;
}

/* Sets name (TOKEN_NAME_MAX + 1 bytes) to the credential's name and member
 * (NDX_ID_TEXT_MAX bytes) to its member ("" for an admin credential) and
 * returns 1, or answers 401 and returns 0. */
static int authenticate(struct api *api, const struct ndx_http_req *req,
			struct ndx_http_resp *resp, char *name, char *member)
{
	uint8_t sha[NDX_SHA256_LEN];
	const char *why;

	/* A credential added by `ndx-registry token add` while we run is only
	 * in the database: reload once on a miss. */
	if (ndx_bearer_token_sha(req, sha, &why) &&
	    (match_token(api, sha, name, member) ||
	     (load_tokens(api) == NDX_OK && match_token(api, sha, name, member))))
		return 1;
	ndx_bearer_refuse(resp, why, "ndx-registry");
	return 0;
}

/* ---- what each official's role may do (docs/console.md "Roles") ---------- */

/* The member that the id text[0..len) of the given kind belongs to, in
 * canonical form (NDX_ID_TEXT_MAX bytes); 0, or -1 when the text is no such
 * id (the route then refuses it with the same parser's 400). */
static int member_of(const char *text, size_t len, enum ndx_id_kind kind, char *member)
{
	struct ndx_id id, m;

	if (ndx_id_parse(text, len, kind, &id, NULL) != NDX_OK ||
	    ndx_id_parent(&id, NDX_ID_MEMBER, &m) != NDX_OK ||
	    ndx_id_format(&m, member, NDX_ID_TEXT_MAX) < 0)
		return -1;
	return 0;
}

/* The string field of the request's JSON body, or NULL when the body is no
 * object or has no such string (the route then answers its 400). The
 * string lives as long as *doc, which the caller frees. */
static const char *body_string(const struct ndx_http_req *req, const char *field, json_t **doc)
{
	*doc = req->body && req->body_len
		       ? json_loadb((const char *)req->body, req->body_len, JSON_REJECT_DUPLICATES, NULL)
		       : NULL;
	return json_string_value(json_object_get(*doc, field));
}

/* Whether the change req asks for touches only what belongs to member:
 * its subsystems, its services (their bulk purposes too) and the grants on
 * its services, the grants it gives. 1 when it does, and when the request
 * names no valid object (the route refuses it then, as for anyone);
 * 0 otherwise. coll is the collection (clen bytes), sub what follows it. */
static int agency_owns(struct api *api, const struct ndx_http_req *req, const char *coll,
		       size_t clen, const char *sub, const char *member)
{
	char owner[NDX_ID_TEXT_MAX];
	const char *m = req->method, *text;
	json_t *doc = NULL, *grant = NULL;
	size_t sl = sub ? strlen(sub) : 0, bl = strlen(BULK_SUFFIX);
	enum ndx_id_kind kind;
	int own = 0, known;

#define COLL(name) (clen == strlen(name) && strncmp(coll, name, clen) == 0)
	if (COLL("subsystems") || COLL("services")) {
		kind = COLL("subsystems") ? NDX_ID_SUBSYSTEM : NDX_ID_SERVICE;
		if (!sub && strcmp(m, "POST") == 0) {
			text = body_string(req, "id", &doc);
			known = text && member_of(text, strlen(text), kind, owner) == 0;
		} else if (sub && strcmp(m, "DELETE") == 0) {
			known = member_of(sub, sl, kind, owner) == 0;
		} else if (kind == NDX_ID_SERVICE && sl > bl && strcmp(m, "PUT") == 0 &&
			   strcmp(sub + sl - bl, BULK_SUFFIX) == 0) {
			known = member_of(sub, sl - bl, kind, owner) == 0;
		} else {
			return 0;
		}
	} else if (COLL("grants")) {
		if (!sub && strcmp(m, "POST") == 0) {
			text = body_string(req, "service", &doc);
		} else if (sub && strcmp(m, "DELETE") == 0) {
			char *end;
			long long n = strtoll(sub, &end, 10);
			text = NULL;
			if (*sub >= '1' && *sub <= '9' && !*end && sl <= 18 &&
			    store_grant_get(api->cfg.st, n, &grant) == NDX_OK)
				text = json_string_value(json_object_get(grant, "service"));
		} else {
			return 0;
		}
		known = text && member_of(text, strlen(text), NDX_ID_SERVICE, owner) == 0;
	} else {
		return 0;
	}
#undef COLL
	own = !known || strcmp(owner, member) == 0;
	json_decref(doc);
	json_decref(grant);
	return own;
}

/* Why the role of w may not make request req, or NULL when it may
 * (docs/console.md "Roles"): an operator may do everything, an auditor
 * read everything, a data protection officer read the personal-data
 * settings, purposes, consent services and the audit trail, an agency
 * administrator read the federation (not the officials or the audit
 * trail) and change what belongs to their member. */
static const char *role_refusal(struct api *api, const struct ndx_http_req *req,
				const struct ndx_console_who *w)
{
	static const char *const dpo_reads[] = { "overview", "services", "consent-services",
						 "embargoes", "id-providers", "audit", NULL };
	const char *rest = req->path[4] ? req->path + 5 : "";
	const char *slash = strchr(rest, '/');
	size_t clen = slash ? (size_t)(slash - rest) : strlen(rest);
	int get = is_get(req->method);

	if (!w->role[0])
		return "not an official of the registry";
	if (strcmp(w->role, "operator") == 0)
		return NULL;
	if (strcmp(w->role, "auditor") == 0)
		return get ? NULL : "an auditor reads only";
	if (strcmp(w->role, "dpo") == 0) {
		if (!get)
			return "a data protection officer reads only";
		for (size_t i = 0; dpo_reads[i]; i++)
			if (clen == strlen(dpo_reads[i]) && strncmp(rest, dpo_reads[i], clen) == 0)
				return NULL;
		return "a data protection officer reads the personal-data settings, purposes, "
		       "consent services and the audit trail only";
	}
	if (strcmp(w->role, "agency") == 0 && w->member[0]) {
		if (get && clen == 6 && strncmp(rest, "market", 6) == 0) {
			/* Negotiations are between two members: the other
			 * members' are not theirs to read (a member credential
			 * sees only its own, docs/marketplace.md). */
			const char *q = ndx_http_query_arg(req, "member");
			char owner[NDX_ID_TEXT_MAX];

			return q && member_of(q, strlen(q), NDX_ID_MEMBER, owner) == 0 &&
					       strcmp(owner, w->member) == 0
				       ? NULL
				       : "an agency administrator reads only their own member's "
					 "marketplace (member=their member)";
		}
		if (get)
			return (clen == 9 && strncmp(rest, "officials", 9) == 0) ||
					       (clen == 5 && strncmp(rest, "audit", 5) == 0)
				       ? "an agency administrator reads neither the officials nor "
					 "the audit trail"
				       : NULL;
		return agency_owns(api, req, rest, clen, slash ? slash + 1 : NULL, w->member)
			       ? NULL
			       : "an agency administrator changes only their own member's "
				 "subsystems, services and the grants on its services";
	}
	return "not an official of the registry";
}

/* Whether req carries a console session (api->cfg.console). When it does:
 * actor (ACTOR_MAX bytes) is set to "official:SUBJECT (NAME)" for a call
 * the official's role may make (role_refusal), or left "" after a refusal
 * was answered (403 for no official, for what the role may not do, for a
 * change without the session's CSRF token), each refusal logged. Returns 0
 * (nothing answered) without a session. */
static int official_call(struct api *api, const struct ndx_http_req *req,
			 struct ndx_http_resp *resp, char *actor)
{
	struct ndx_console_who w;
	const char *why = NULL;

	actor[0] = '\0';
	if (!ndx_console_session(api->cfg.console, req, &w))
		return 0;
	/* The CSRF token first: without it, not even the role's answer. */
	if (w.role[0] && !is_get(req->method) && !ndx_console_csrf_ok(&w, req))
		why = "the X-CSRF-Token header is missing or wrong";
	else
		why = role_refusal(api, req, &w);
	if (why) {
		/* Without the personal number: no log holds one in clear (T34). */
		fprintf(stderr, "ndx-registry: console refused %s %s for a %s session: %s\n",
			req->method, req->path, w.role[0] ? w.role : "non-official", why);
		ndx_http_resp_error(resp, 403, strstr(why, "CSRF") ? "Client.Csrf" : "Client.Forbidden",
				    "forbidden", why);
		return 1;
	}
	snprintf(actor, ACTOR_MAX, "official:%s (%s)", w.subject, w.name);
	return 1;
}

/* ---- members ------------------------------------------------------------------------ */

struct call {
	struct api *api;
	const struct ndx_http_req *req;
	struct ndx_http_resp *resp;
	const char *actor;
};

static void members_add(struct call *c)
{
	char id[NDX_ID_TEXT_MAX];
	const char *text, *name;
	json_t *body = body_object(c->req, c->resp, MEMBER_FIELDS), *obj = NULL, *detail;
	uint64_t version;
	int rc;

	if (!body)
		return;
	if (str_field(c->resp, body, "id", 1, NDX_ID_TEXT_MAX, &text) < 0 ||
	    check_id(c->api, c->resp, "id", text, strlen(text), NDX_ID_MEMBER, id) ||
	    str_field(c->resp, body, "name", 1, NAME_MAX_BYTES, &name) < 0)
		goto out;
	if ((rc = store_begin(c->api->cfg.st))) {
		internal(c->resp);
		goto out;
	}
	if ((rc = store_member_add(c->api->cfg.st, id, name))) {
		store_rollback(c->api->cfg.st);
		store_failed(c->resp, rc, "member", id);
		goto out;
	}
	detail = json_pack("{ss}", "name", name);
	rc = store_commit(c->api->cfg.st, c->actor, c->req->remote_addr, "member.add", id, detail,
			  &version);
	json_decref(detail);
	if (rc || store_member_get(c->api->cfg.st, id, &obj)) {
		internal(c->resp);
		goto out;
	}
	answer_change(c->resp, 201, obj, version);
out:
	json_decref(body);
}

static void members_get(struct call *c, const char *id)
{
	json_t *obj = NULL, *subs = NULL, *gws = NULL;
	int rc;

	store_lock(c->api->cfg.st);
	rc = store_member_get(c->api->cfg.st, id, &obj);
	if (!rc && !(rc = store_subsystem_list(c->api->cfg.st, id, &subs)))
		rc = store_gateway_list(c->api->cfg.st, id, &gws);
	store_unlock(c->api->cfg.st);
	if (rc) {
		json_decref(subs);
		json_decref(gws);
		json_decref(obj);
		store_failed(c->resp, rc, "member", id);
		return;
	}
	gateways_validity(gws);
	json_object_set_new(obj, "subsystems", subs);
	json_object_set_new(obj, "gateways", gws);
	ndx_http_resp_json(c->resp, 200, obj);
}

/* The shared shape of every DELETE of a string-keyed object. */
static void delete_obj(struct call *c, const char *what, const char *action, const char *id,
		       int (*del)(struct store *, const char *, const char **))
{
	const char *why = NULL;
	uint64_t version;
	int rc;

	if (store_begin(c->api->cfg.st)) {
		internal(c->resp);
		return;
	}
	rc = del(c->api->cfg.st, id, &why);
	if (rc) {
		store_rollback(c->api->cfg.st);
		if (rc == NDX_EEXIST)
			ndx_http_resp_error(c->resp, 409, "Client.Conflict", "still referenced", why);
		else
			store_failed(c->resp, rc, what, id);
		return;
	}
	if (store_commit(c->api->cfg.st, c->actor, c->req->remote_addr, action, id, NULL,
			 &version)) {
		internal(c->resp);
		return;
	}
	answer_deleted(c->resp, id, version);
}

/* ---- subsystems ------------------------------------------------------------------------ */

static int parent_id(const char *canon, enum ndx_id_kind child, enum ndx_id_kind parent,
		     char *out)
{
	struct ndx_id id, p;
	if (ndx_id_parse(canon, strlen(canon), child, &id, NULL) ||
	    ndx_id_parent(&id, parent, &p) || ndx_id_format(&p, out, NDX_ID_TEXT_MAX) < 0)
		return -1;
	return 0;
}

static void subsystems_add(struct call *c)
{
	char id[NDX_ID_TEXT_MAX], member[NDX_ID_TEXT_MAX];
	struct ndx_id parsed;
	const char *text;
	json_t *body = body_object(c->req, c->resp, SUBSYSTEM_FIELDS), *obj = NULL;
	struct store *st = c->api->cfg.st;
	uint64_t version;
	int rc;

	if (!body)
		return;
	if (str_field(c->resp, body, "id", 1, NDX_ID_TEXT_MAX, &text) < 0 ||
	    check_id(c->api, c->resp, "id", text, strlen(text), NDX_ID_SUBSYSTEM, id))
		goto out;
	if (ndx_id_parse(text, strlen(text), NDX_ID_SUBSYSTEM, &parsed, NULL) != NDX_OK) {
		internal(c->resp);
		goto out;
	}
	if (strcmp(parsed.subsystem, NDX_CONNECTOR_SUBSYSTEM) == 0) {
		/* Its service would be answered by the member's gateway itself,
		 * never by this subsystem's system (docs/marketplace.md). */
		bad_request(c->resp, "invalid subsystem",
			    "id: %s is reserved for the members' DSP connectors",
			    NDX_CONNECTOR_SUBSYSTEM);
		goto out;
	}
	if (parent_id(id, NDX_ID_SUBSYSTEM, NDX_ID_MEMBER, member)) {
		internal(c->resp);
		goto out;
	}
	if (store_begin(st)) {
		internal(c->resp);
		goto out;
	}
	rc = store_member_exists(st, member);
	if (rc != 1) {
		store_rollback(st);
		if (rc == 0)
			not_found(c->resp, "member", member);
		else
			internal(c->resp);
		goto out;
	}
	if ((rc = store_subsystem_add(st, id, member))) {
		store_rollback(st);
		store_failed(c->resp, rc, "subsystem", id);
		goto out;
	}
	if (store_commit(st, c->actor, c->req->remote_addr, "subsystem.add", id, NULL, &version) ||
	    store_subsystem_get(st, id, &obj)) {
		internal(c->resp);
		goto out;
	}
	answer_change(c->resp, 201, obj, version);
out:
	json_decref(body);
}

/* ---- one key, one holder -------------------------------------------------------------- */

/* A key proves who signed: one registered for two members' gateways would
 * let either pass for the other (a consumer's requests, a provider's
 * answers, a log signed by "someone"), and a gateway's key that is also a
 * consent service's or an e-ID's would let the gateway mint consents or ID
 * tokens. So a signing key has one holder: a member's own gateways may share
 * theirs (the member's choice, one signer), nobody else. Called inside the
 * change's transaction, after the new row is in (so that a duplicate is
 * still "already exists"); returns 0, or -1 after answering 409 (naming
 * field and the holder) or 500: the caller rolls back. member is the member
 * of the gateway being added, or NULL; self_role and self name the row just
 * added. */
static int key_unclaimed(struct call *c, const char *field, const char *key_id,
			 const char *member, const char *self_role, const char *self)
{
	json_t *rows = NULL, *row;
	char detail[NDX_ID_TEXT_MAX + 2 * ADDRESS_MAX_BYTES];
	size_t i;

	if (store_key_holders(c->api->cfg.st, key_id, &rows)) {
		internal(c->resp);
		return -1;
	}
	json_array_foreach(rows, i, row) {
		const char *role = json_string_value(json_object_get(row, "role"));
		const char *holder = json_string_value(json_object_get(row, "holder"));
		const char *owner = json_string_value(json_object_get(row, "member"));
		int gateway = role && strcmp(role, "gateway") == 0;

		if ((member && gateway && owner && strcmp(owner, member) == 0) ||
		    (role && holder && strcmp(role, self_role) == 0 && strcmp(holder, self) == 0))
			continue;
		snprintf(detail, sizeof detail,
			 "%s: key %s is already the signing key of %s %s%s", field, key_id,
			 role ? role : "?", holder ? holder : "?",
			 member && gateway ? ", a gateway of another member"
					   : "; a key has one role, register a new key");
		json_decref(rows);
		ndx_http_resp_error(c->resp, 409, "Client.Conflict", "key already registered",
				    detail);
		return -1;
	}
	json_decref(rows);
	return 0;
}

/* SHA-256 of the DER SubjectPublicKeyInfo of the (first) certificate in pem:
 * certificates are issued anew on every registration, so a TLS identity
 * is compared by its key. Returns 0 or -1. */
static int cert_key_sha256(const char *pem, uint8_t out[NDX_SHA256_LEN])
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	EVP_PKEY *pk = x ? X509_get0_pubkey(x) : NULL;
	unsigned char *der = NULL;
	int n = pk ? i2d_PUBKEY(pk, &der) : -1;

	BIO_free(bio);
	X509_free(x);
	if (n <= 0)
		return -1;
	ndx_sha256(der, (size_t)n, out);
	OPENSSL_free(der);
	return 0;
}

/* The TLS key of cert (just issued for a gateway of member) must not be
 * that of another member's gateway: whoever holds it could then connect as
 * either. Inside the transaction; 0, or -1 after answering 409 or 500. */
static int tls_key_unclaimed(struct call *c, const char *cert, const char *member)
{
	uint8_t mine[NDX_SHA256_LEN], theirs[NDX_SHA256_LEN];
	json_t *rows = NULL, *row;
	char detail[2 * NDX_ID_TEXT_MAX + 160];
	size_t i;

	if (cert_key_sha256(cert, mine) || store_gateway_list(c->api->cfg.st, NULL, &rows)) {
		internal(c->resp);
		return -1;
	}
	json_array_foreach(rows, i, row) {
		const char *owner = json_string_value(json_object_get(row, "member"));
		const char *pem = json_string_value(json_object_get(row, "tls_certificate"));
		const char *code = json_string_value(json_object_get(row, "code"));

		if (!owner || !pem || strcmp(owner, member) == 0 || cert_key_sha256(pem, theirs) ||
		    CRYPTO_memcmp(mine, theirs, sizeof mine) != 0)
			continue;
		snprintf(detail, sizeof detail,
			 "tls_csr: its key is already the TLS key of gateway %s/%s, a gateway of "
			 "another member",
			 owner, code ? code : "?");
		json_decref(rows);
		ndx_http_resp_error(c->resp, 409, "Client.Conflict", "key already registered",
				    detail);
		return -1;
	}
	json_decref(rows);
	return 0;
}

/* ---- gateways ---------------------------------------------------------------------------- */

/* Copies the host of an http:// or https:// URL into host (cap bytes):
 * brackets of an IPv6 literal dropped. Returns 0, or -1 with *why set. */
static int url_host(const char *url, char *host, size_t cap, const char **why)
{
	const char *p = url + (strncmp(url, "https://", 8) == 0 ? 8 : 7), *end;
	size_t n;

	if (*p == '[') {
		p++;
		end = strchr(p, ']');
		if (!end) {
			*why = "address: unterminated IPv6 literal";
			return -1;
		}
		if (end[1] && !strchr(":/?#", end[1])) {
			*why = "address: unexpected character after the IPv6 literal";
			return -1;
		}
	} else {
		end = p + strcspn(p, ":/?#");
	}
	n = (size_t)(end - p);
	if (n == 0 || n >= cap) {
		*why = n ? "address: host name too long" : "address: no host";
		return -1;
	}
	memcpy(host, p, n);
	host[n] = '\0';
	for (const char *h = host; *h; h++)
		if (!((*h >= 'a' && *h <= 'z') || (*h >= 'A' && *h <= 'Z') ||
		      (*h >= '0' && *h <= '9') || *h == '.' || *h == '-' || *h == ':')) {
			*why = "address: the host may hold only letters, digits, '.', '-' "
			       "(or an IP literal)";
			return -1;
		}
	if (strchr(url, '@')) {
		*why = "address: user information is not allowed";
		return -1;
	}
	return 0;
}

static uint64_t random_serial(void)
{
	uint64_t s = 0;
	if (RAND_bytes((unsigned char *)&s, sizeof s) != 1)
		s = (uint64_t)time(NULL);
	s &= 0x7fffffffffffffffULL; /* positive, as X.509 wants */
	return s ? s : 1;
}

/* The answer to a gateway's registration or rotation: the gateway as stored
 * now, with its certificate's validity, the CA certificate and, after a
 * rotation, what it revoked; and the configuration version. */
static void answer_gateway(struct call *c, const char *member, const char *code, int status,
			   uint64_t version, json_t *revoked)
{
	json_t *obj = NULL;

	if (store_gateway_get(c->api->cfg.st, member, code, &obj)) {
		internal(c->resp);
		return;
	}
	gateway_validity(obj);
	json_object_set_new(obj, "ca_certificate", json_string(c->api->cfg.ca_pem));
	if (revoked)
		json_object_set(obj, "revoked", revoked);
	answer_change(c->resp, status, obj, version);
}

/* A public key no signature could verify under (docs/security.md T130):
 * refused when it is registered rather than at every exchange it signs. */
static bool refuse_unverifiable(struct call *c, const struct ndx_key *key, const char *field)
{
	if (ndx_key_verifiable(key))
		return false;
	bad_request(c->resp, "invalid signing key",
		    "%s: not a point of prime order on Ed25519's curve (small order or no point);"
		    " no signature could be verified with it", field);
	return true;
}

static void gateways_add(struct call *c)
{
	char member[NDX_ID_TEXT_MAX], host[256], fp[NDX_CERT_FINGERPRINT_HEX_LEN + 1];
	char key_id[NDX_KEY_ID_HEX_LEN + 1], object[NDX_ID_TEXT_MAX + NDX_ID_PART_MAX + 2];
	uint8_t raw[NDX_ED25519_PUBLIC_LEN];
	const char *text, *code, *address, *pem, *csr, *why = NULL;
	json_t *body = body_object(c->req, c->resp, GATEWAY_FIELDS), *detail;
	struct store *st = c->api->cfg.st;
	struct ndx_key *key = NULL;
	char *cert = NULL, *key_b64 = NULL;
	uint64_t version;
	int rc;

	if (!body)
		return;
	if (str_field(c->resp, body, "member", 1, NDX_ID_TEXT_MAX, &text) < 0 ||
	    check_id(c->api, c->resp, "member", text, strlen(text), NDX_ID_MEMBER, member) ||
	    str_field(c->resp, body, "code", 1, NDX_ID_PART_MAX, &code) < 0 ||
	    str_field(c->resp, body, "address", 1, ADDRESS_MAX_BYTES, &address) < 0 ||
	    str_field_raw(c->resp, body, "sign_public_key", 1, 16384, &pem) < 0 ||
	    str_field_raw(c->resp, body, "tls_csr", 1, 65536, &csr) < 0)
		goto out;
	if (!part_ok(code)) {
		bad_request(c->resp, "invalid gateway code",
			    "code: 1 to 64 characters from A-Z a-z 0-9 ' ( ) + , - . = ?");
		goto out;
	}
	if (strncmp(address, "https://", 8) != 0) {
		bad_request(c->resp, "invalid address", "address: must start with https://");
		goto out;
	}
	if (url_host(address, host, sizeof host, &why)) {
		bad_request(c->resp, "invalid address", "%s", why);
		goto out;
	}
	if (ndx_key_from_pem(pem, strlen(pem), &key) != NDX_OK) {
		bad_request(c->resp, "invalid signing key",
			    "sign_public_key: not an Ed25519 public key in PEM form");
		goto out;
	}
	if (ndx_key_has_private(key)) {
		bad_request(c->resp, "invalid signing key",
			    "sign_public_key: this is a private key; send only the public key "
			    "(and consider this one exposed)");
		goto out;
	}
	if (refuse_unverifiable(c, key, "sign_public_key"))
		goto out;
	ndx_key_public_raw(key, raw);
	ndx_key_id(key, key_id);
	key_b64 = ndx_b64_encode(raw, sizeof raw, 0);
	if (!key_b64) {
		internal(c->resp);
		goto out;
	}
	snprintf(object, sizeof object, "%s/%s", member, code);
	rc = ndx_pki_sign_csr(c->api->cfg.ca_key_pem, c->api->cfg.ca_pem, csr, object, host,
			      TLS_CERT_DAYS, random_serial(), &cert);
	if (rc == NDX_EINVAL) {
		bad_request(c->resp, "invalid certificate request",
			    "tls_csr: not a PEM certificate signing request with a valid "
			    "self-signature");
		goto out;
	}
	if (rc || ndx_pki_cert_fingerprint(cert, fp)) {
		internal(c->resp);
		goto out;
	}
	if (store_begin(st)) {
		internal(c->resp);
		goto out;
	}
	rc = store_member_exists(st, member);
	if (rc != 1) {
		store_rollback(st);
		if (rc == 0)
			not_found(c->resp, "member", member);
		else
			internal(c->resp);
		goto out;
	}
	struct store_gateway gw = {
		.member = member, .code = code, .address = address, .sign_key = key_b64,
		.sign_key_id = key_id, .tls_cert = cert, .tls_cert_sha256 = fp,
	};
	if ((rc = store_gateway_add(st, &gw))) {
		store_rollback(st);
		store_failed(c->resp, rc, "gateway", object);
		goto out;
	}
	if (key_unclaimed(c, "sign_public_key", key_id, member, "gateway", object) ||
	    tls_key_unclaimed(c, cert, member)) {
		store_rollback(st);
		goto out;
	}
	detail = json_pack("{ssssss}", "address", address, "sign_key_id", key_id,
			   "tls_cert_sha256", fp);
	rc = store_commit(st, c->actor, c->req->remote_addr, "gateway.add", object, detail,
			  &version);
	json_decref(detail);
	if (rc)
		internal(c->resp);
	else
		answer_gateway(c, member, code, 201, version, NULL);
out:
	ndx_key_free(key);
	free(cert);
	free(key_b64);
	json_decref(body);
}

/* Splits "{memberId}/{code}" of a path. Returns 0 or answers 400. */
static int gateway_path(struct call *c, const char *sub, char *member, char *code, size_t cap)
{
	struct ndx_id id;
	size_t used = 0;
	const char *why = NULL;
	long n;

	if (ndx_id_parse_prefix(sub, strlen(sub), NDX_ID_MEMBER, &id, &used, &why) ||
	    sub[used] != '/') {
		bad_request(c->resp, "invalid gateway", "expected /api/gateways/{memberId}/{code}%s%s",
			    why ? ": " : "", why ? why : "");
		return -1;
	}
	n = ndx_pct_decode(sub + used + 1, strlen(sub + used + 1), code, cap);
	if (n < 0 || !part_ok(code)) {
		bad_request(c->resp, "invalid gateway code",
			    "code: 1 to 64 characters from A-Z a-z 0-9 ' ( ) + , - . = ?");
		return -1;
	}
	if (ndx_id_format(&id, member, NDX_ID_TEXT_MAX) < 0) {
		bad_request(c->resp, "invalid member id", "too long");
		return -1;
	}
	return check_id(c->api, c->resp, "member", member, strlen(member), NDX_ID_MEMBER, member);
}

static void gateways_one(struct call *c, const char *sub, int del)
{
	char member[NDX_ID_TEXT_MAX], code[3 * NDX_ID_PART_MAX + 1];
	char object[NDX_ID_TEXT_MAX + sizeof code + 1];
	struct store *st = c->api->cfg.st;
	json_t *obj;
	uint64_t version;
	int rc;

	if (gateway_path(c, sub, member, code, sizeof code))
		return;
	snprintf(object, sizeof object, "%s/%s", member, code);
	if (!del) {
		if ((rc = store_gateway_get(st, member, code, &obj))) {
			store_failed(c->resp, rc, "gateway", object);
		} else {
			gateway_validity(obj);
			ndx_http_resp_json(c->resp, 200, obj);
		}
		return;
	}
	if (store_begin(st)) {
		internal(c->resp);
		return;
	}
	if ((rc = store_gateway_delete(st, member, code))) {
		store_rollback(st);
		store_failed(c->resp, rc, "gateway", object);
		return;
	}
	if (store_commit(st, c->actor, c->req->remote_addr, "gateway.delete", object, NULL,
			 &version)) {
		internal(c->resp);
		return;
	}
	answer_deleted(c->resp, object, version);
}

/* ---- key and certificate rotation ---------------------------------------------------- */


/* The new signing key of a rotation: an Ed25519 public key in PEM, not the
 * gateway's current key nor a revoked one. Sets key_id and *b64 (the
 * caller frees) and returns 0, or answers 400 / 500 and returns -1. */
static int rotation_key(struct call *c, const char *pem, const char *old_id, char *key_id,
			char **b64)
{
	uint8_t raw[NDX_ED25519_PUBLIC_LEN];
	struct ndx_key *key = NULL;
	int revoked;

	*b64 = NULL;
	if (ndx_key_from_pem(pem, strlen(pem), &key) != NDX_OK) {
		bad_request(c->resp, "invalid signing key",
			    "sign_public_key: not an Ed25519 public key in PEM form");
		return -1;
	}
	if (ndx_key_has_private(key)) {
		ndx_key_free(key);
		bad_request(c->resp, "invalid signing key",
			    "sign_public_key: this is a private key; send only the public key "
			    "(and consider this one exposed)");
		return -1;
	}
	if (refuse_unverifiable(c, key, "sign_public_key")) {
		ndx_key_free(key);
		return -1;
	}
	ndx_key_public_raw(key, raw);
	ndx_key_id(key, key_id);
	ndx_key_free(key);
	if (old_id && strcmp(key_id, old_id) == 0) {
		bad_request(c->resp, "invalid signing key",
			    "sign_public_key: this is the gateway's current key; a rotation "
			    "needs a new one");
		return -1;
	}
	if ((revoked = store_revocation_has(c->api->cfg.st, "key", key_id)) != 0) {
		if (revoked < 0)
			internal(c->resp);
		else
			bad_request(c->resp, "invalid signing key",
				    "sign_public_key: key %s is revoked", key_id);
		return -1;
	}
	if (!(*b64 = ndx_b64_encode(raw, sizeof raw, 0))) {
		internal(c->resp);
		return -1;
	}
	return 0;
}

/* Adds kind:value to the revocation list (unless it is there already) and
 * its object to the array done. Inside the transaction; 0 or -1. */
static int revoke_old(struct store *st, const char *kind, const char *value,
		      const char *reason, json_t *done)
{
	json_t *obj = NULL;
	char object[80];
	int there = store_revocation_has(st, kind, value);

	if (there < 0)
		return -1;
	if (!there && store_revocation_add(st, kind, value, reason, &obj))
		return -1;
	json_decref(obj);
	snprintf(object, sizeof object, "%s:%s", kind, value);
	json_array_append_new(done, json_string(object));
	return 0;
}

/* The old signing key of a rotation may be revoked only when no other
 * holder is left (another gateway of the same member may share it, see
 * key_unclaimed): revoking it would cut that one off. 0, or -1 after
 * answering 409 or 500. */
static int old_key_free(struct call *c, const char *old_id)
{
	json_t *rows = NULL;
	char detail[NDX_ID_TEXT_MAX + 200];
	const char *holder;

	if (store_key_holders(c->api->cfg.st, old_id, &rows)) {
		internal(c->resp);
		return -1;
	}
	if (!json_array_size(rows)) {
		json_decref(rows);
		return 0;
	}
	holder = json_string_value(json_object_get(json_array_get(rows, 0), "holder"));
	snprintf(detail, sizeof detail,
		 "revoke_old: the old key %s is still the signing key of %s; rotate it there "
		 "first, or rotate without revoking",
		 old_id, holder ? holder : "another holder");
	json_decref(rows);
	ndx_http_resp_error(c->resp, 409, "Client.Conflict", "key still in use", detail);
	return -1;
}

/* POST /api/gateways/{memberId}/{code}/rotation (docs/registry-api.md "Key
 * and certificate rotation"): a new signing key, a new TLS certificate
 * (the registry's CA signs the request for the gateway's address) or both,
 * in place, in one transaction; with revoke_old the replaced key and
 * certificate are revoked in the same one. Audited as gateway.rotate with
 * the old and new key ids and fingerprints. sub[0..len) is the gateway's
 * part of the path. */
static void gateways_rotate(struct call *c, const char *sub, size_t len)
{
	char member[NDX_ID_TEXT_MAX], code[3 * NDX_ID_PART_MAX + 1], host[256];
	char object[NDX_ID_TEXT_MAX + sizeof code + 1], path[NDX_ID_TEXT_MAX + sizeof code + 1];
	char key_id[NDX_KEY_ID_HEX_LEN + 1], fp[NDX_CERT_FINGERPRINT_HEX_LEN + 1];
	char old_key_id[NDX_KEY_ID_HEX_LEN + 1], old_fp[NDX_CERT_FINGERPRINT_HEX_LEN + 1];
	const char *pem = NULL, *csr = NULL, *reason = NULL, *why = NULL;
	json_t *body = body_object(c->req, c->resp, ROTATION_FIELDS), *gw = NULL;
	json_t *revoked = json_array(), *detail;
	struct store *st = c->api->cfg.st;
	char *key_b64 = NULL, *cert = NULL;
	uint64_t version;
	int rc, revoke;

	if (!body || !revoked)
		goto out;
	if (len >= sizeof path) {
		bad_request(c->resp, "invalid gateway", "expected /api/gateways/{memberId}/{code}"
			    ROTATION_SUFFIX);
		goto out;
	}
	memcpy(path, sub, len);
	path[len] = '\0';
	if (gateway_path(c, path, member, code, sizeof code) ||
	    str_field_raw(c->resp, body, "sign_public_key", 0, 16384, &pem) < 0 ||
	    str_field_raw(c->resp, body, "tls_csr", 0, 65536, &csr) < 0 ||
	    (revoke = bool_field(c->resp, body, "revoke_old")) < 0 ||
	    str_field(c->resp, body, "reason", 0, NAME_MAX_BYTES, &reason) < 0)
		goto out;
	if ((!pem || !*pem) && (!csr || !*csr)) {
		bad_request(c->resp, "nothing to rotate",
			    "sign_public_key: give a new signing key, a new tls_csr or both");
		goto out;
	}
	if (reason && !revoke) {
		bad_request(c->resp, "invalid field", "reason: only with revoke_old");
		goto out;
	}
	snprintf(object, sizeof object, "%s/%s", member, code);
	if (store_begin(st)) {
		internal(c->resp);
		goto out;
	}
	if ((rc = store_gateway_get(st, member, code, &gw))) {
		store_rollback(st);
		store_failed(c->resp, rc, "gateway", object);
		goto out;
	}
	snprintf(old_key_id, sizeof old_key_id, "%s",
		 json_string_value(json_object_get(gw, "sign_key_id")));
	snprintf(old_fp, sizeof old_fp, "%s",
		 json_string_value(json_object_get(gw, "tls_cert_sha256")));
	snprintf(key_id, sizeof key_id, "%s", old_key_id);
	snprintf(fp, sizeof fp, "%s", old_fp);
	if (pem && *pem && rotation_key(c, pem, old_key_id, key_id, &key_b64)) {
		store_rollback(st);
		goto out;
	}
	if (csr && *csr) {
		const char *address = json_string_value(json_object_get(gw, "address"));

		if (!address || url_host(address, host, sizeof host, &why)) {
			store_rollback(st);
			internal(c->resp);
			goto out;
		}
		rc = ndx_pki_sign_csr(c->api->cfg.ca_key_pem, c->api->cfg.ca_pem, csr, object,
				      host, TLS_CERT_DAYS, random_serial(), &cert);
		if (rc == NDX_EINVAL) {
			store_rollback(st);
			bad_request(c->resp, "invalid certificate request",
				    "tls_csr: not a PEM certificate signing request with a valid "
				    "self-signature");
			goto out;
		}
		if (rc || ndx_pki_cert_fingerprint(cert, fp)) {
			store_rollback(st);
			internal(c->resp);
			goto out;
		}
	}
	struct store_gateway next = {
		.member = member, .code = code,
		.sign_key = key_b64 ? key_b64 : json_string_value(json_object_get(gw, "sign_key")),
		.sign_key_id = key_id,
		.tls_cert = cert ? cert : json_string_value(json_object_get(gw, "tls_certificate")),
		.tls_cert_sha256 = fp,
	};
	if ((rc = store_gateway_rekey(st, &next))) {
		store_rollback(st);
		store_failed(c->resp, rc, "gateway", object);
		goto out;
	}
	/* The tree heads the replaced key signed before now stay witnessable. */
	if (key_b64) {
		struct timespec now;

		clock_gettime(CLOCK_REALTIME, &now);
		if (store_gateway_retire_key(st, member, code,
					     json_string_value(json_object_get(gw, "sign_key")),
					     old_key_id,
					     (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000)) {
			store_rollback(st);
			internal(c->resp);
			goto out;
		}
	}
	if ((key_b64 && key_unclaimed(c, "sign_public_key", key_id, member, "gateway", object)) ||
	    (cert && tls_key_unclaimed(c, cert, member)) ||
	    (revoke && key_b64 && old_key_free(c, old_key_id))) {
		store_rollback(st);
		goto out;
	}
	if (revoke && ((key_b64 && revoke_old(st, "key", old_key_id, reason ? reason : "", revoked)) ||
		       (cert && revoke_old(st, "certificate", old_fp, reason ? reason : "", revoked)))) {
		store_rollback(st);
		internal(c->resp);
		goto out;
	}
	detail = json_pack("{sssssssssO}", "old_sign_key_id", old_key_id, "sign_key_id", key_id,
			   "old_tls_cert_sha256", old_fp, "tls_cert_sha256", fp, "revoked", revoked);
	if (detail && reason)
		json_object_set_new(detail, "reason", json_string(reason));
	rc = store_commit(st, c->actor, c->req->remote_addr, "gateway.rotate", object, detail,
			  &version);
	json_decref(detail);
	if (rc)
		internal(c->resp);
	else
		answer_gateway(c, member, code, 200, version, revoked);
out:
	free(key_b64);
	free(cert);
	json_decref(gw);
	json_decref(revoked);
	json_decref(body);
}

/* ---- services ------------------------------------------------------------------------------ */

/* The rules of docs/protocol.md for services[].bulk_purposes: a bulk read
 * concerns several people, so only a personal service without consent (a
 * consent covers one subject) may allow one, and only for its own purposes.
 * Returns 0, or -1 after answering 400. */
static int check_bulk(struct ndx_http_resp *resp, int personal, int consent,
		      const json_t *purposes, const json_t *bulk)
{
	const json_t *p, *q;
	size_t i, j;

	if (json_array_size(bulk) == 0)
		return 0;
	if (!personal) {
		bad_request(resp, "invalid field", "bulk_purposes: only a personal service can "
						   "allow bulk reads");
		return -1;
	}
	if (consent) {
		bad_request(resp, "invalid field", "bulk_purposes: not allowed on a service that "
						   "requires consent (a consent covers one "
						   "citizen)");
		return -1;
	}
	json_array_foreach(bulk, i, p) {
		int found = 0;

		json_array_foreach(purposes, j, q)
			found |= json_equal(p, q);
		if (!found) {
			bad_request(resp, "invalid field", "bulk_purposes[%zu]: %s is not one of "
							   "the service's purposes", i,
				    json_string_value(p));
			return -1;
		}
	}
	return 0;
}

/* PUT /api/services/{id}/bulk-purposes {"bulk_purposes":[...]}: replaces the
 * purposes for which the service may answer about several people. */
static void services_set_bulk(struct call *c, const char *text, size_t len)
{
	char id[NDX_ID_TEXT_MAX];
	json_t *body = NULL, *svc = NULL, *obj = NULL, *detail;
	const json_t *bulk;
	struct store *st = c->api->cfg.st;
	uint64_t version;
	int rc;

	if (strcmp(c->req->method, "PUT") != 0) {
		method_not_allowed(c->resp, "PUT");
		return;
	}
	if (check_id(c->api, c->resp, "path", text, len, NDX_ID_SERVICE, id) ||
	    !(body = body_object(c->req, c->resp, BULK_FIELDS)))
		return;
	bulk = str_array_field(c->resp, body, "bulk_purposes", purpose_ok,
			       "a purpose is 1 to 64 characters from a-z 0-9 -", 0, NULL);
	if (!bulk)
		goto out;
	if (store_begin(st)) {
		internal(c->resp);
		goto out;
	}
	if ((rc = store_service_get(st, id, &svc))) {
		store_rollback(st);
		store_failed(c->resp, rc, "service", id);
		goto out;
	}
	if (check_bulk(c->resp, json_is_true(json_object_get(svc, "personal")),
		       json_is_true(json_object_get(svc, "consent_required")),
		       json_object_get(svc, "purposes"), bulk)) {
		store_rollback(st);
		goto out;
	}
	if ((rc = store_service_set_bulk(st, id, bulk))) {
		store_rollback(st);
		store_failed(c->resp, rc, "service", id);
		goto out;
	}
	detail = json_pack("{sOsO}", "bulk_purposes", bulk, "previous",
			   json_object_get(svc, "bulk_purposes"));
	rc = store_commit(st, c->actor, c->req->remote_addr, "service.bulk_purposes", id, detail,
			  &version);
	json_decref(detail);
	if (rc || store_service_get(st, id, &obj)) {
		internal(c->resp);
		goto out;
	}
	answer_change(c->resp, 200, obj, version);
out:
	json_decref(svc);
	json_decref(body);
}

static void services_add(struct call *c)
{
	char id[NDX_ID_TEXT_MAX], subsystem[NDX_ID_TEXT_MAX], sha_hex[2 * NDX_SHA256_LEN + 1];
	const char *text, *title;
	json_t *body = body_object(c->req, c->resp, SERVICE_FIELDS), *obj = NULL;
	json_t *empty = json_array(), *detail;
	const json_t *purposes, *bulk, *openapi;
	struct store *st = c->api->cfg.st;
	char *openapi_text = NULL;
	uint64_t version;
	int personal, consent, rc;

	if (!body)
		goto out;
	if (!empty) {
		internal(c->resp);
		goto out;
	}
	if (str_field(c->resp, body, "id", 1, NDX_ID_TEXT_MAX, &text) < 0 ||
	    check_id(c->api, c->resp, "id", text, strlen(text), NDX_ID_SERVICE, id) ||
	    str_field(c->resp, body, "title", 1, NAME_MAX_BYTES, &title) < 0 ||
	    (personal = bool_field(c->resp, body, "personal")) < 0 ||
	    (consent = bool_field(c->resp, body, "consent_required")) < 0)
		goto out;
	purposes = str_array_field(c->resp, body, "purposes", purpose_ok,
				   "a purpose is 1 to 64 characters from a-z 0-9 -",
				   personal ? 1 : 0, empty);
	if (!purposes)
		goto out;
	if (personal && json_array_size(purposes) == 0) {
		bad_request(c->resp, "invalid field", "purposes: a personal service needs at least "
						       "one purpose");
		goto out;
	}
	if (consent && !personal) {
		bad_request(c->resp, "invalid field",
			    "consent_required: only a personal service can require consent");
		goto out;
	}
	bulk = str_array_field(c->resp, body, "bulk_purposes", purpose_ok,
			       "a purpose is 1 to 64 characters from a-z 0-9 -", 0, empty);
	if (!bulk || check_bulk(c->resp, personal, consent, purposes, bulk))
		goto out;
	openapi = json_object_get(body, "openapi");
	if (openapi && !json_is_null(openapi)) {
		uint8_t sha[NDX_SHA256_LEN];
		if (!json_is_object(openapi)) {
			bad_request(c->resp, "invalid field", "openapi must be a JSON object");
			goto out;
		}
		openapi_text = json_dumps(openapi, JSON_COMPACT);
		if (!openapi_text) {
			internal(c->resp);
			goto out;
		}
		ndx_sha256(openapi_text, strlen(openapi_text), sha);
		ndx_hex_encode(sha, sizeof sha, sha_hex);
	}
	if (parent_id(id, NDX_ID_SERVICE, NDX_ID_SUBSYSTEM, subsystem) || store_begin(st)) {
		internal(c->resp);
		goto out;
	}
	rc = store_subsystem_exists(st, subsystem);
	if (rc != 1) {
		store_rollback(st);
		if (rc == 0)
			not_found(c->resp, "subsystem", subsystem);
		else
			internal(c->resp);
		goto out;
	}
	struct store_service svc = {
		.id = id, .subsystem = subsystem, .title = title, .personal = personal,
		.purposes = purposes, .bulk_purposes = bulk, .consent_required = consent,
		.openapi = openapi_text,
		.openapi_sha256 = openapi_text ? sha_hex : NULL,
	};
	if ((rc = store_service_add(st, &svc))) {
		store_rollback(st);
		store_failed(c->resp, rc, "service", id);
		goto out;
	}
	detail = json_pack("{sssbsOsOsbss?}", "title", title, "personal", personal, "purposes",
			   purposes, "bulk_purposes", bulk, "consent_required", consent,
			   "openapi_sha256", openapi_text ? sha_hex : NULL);
	rc = store_commit(st, c->actor, c->req->remote_addr, "service.add", id, detail, &version);
	json_decref(detail);
	if (rc || store_service_get(st, id, &obj)) {
		internal(c->resp);
		goto out;
	}
	answer_change(c->resp, 201, obj, version);
out:
	free(openapi_text);
	json_decref(empty);
	json_decref(body);
}

/* ---- grants --------------------------------------------------------------------------------- */

static void grants_add(struct call *c)
{
	char client[NDX_ID_TEXT_MAX], service[NDX_ID_TEXT_MAX], object[32];
	const char *text;
	json_t *body = body_object(c->req, c->resp, GRANT_FIELDS), *obj = NULL, *star = NULL;
	json_t *detail;
	const json_t *methods, *paths;
	struct store *st = c->api->cfg.st;
	enum ndx_id_kind kind = NDX_ID_SUBSYSTEM;
	uint64_t version;
	int64_t id;
	int rc;

	if (!body)
		return;
	if (str_field(c->resp, body, "client", 1, NDX_ID_TEXT_MAX, &text) < 0 ||
	    check_client(c->api, c->resp, text, &kind, client) ||
	    str_field(c->resp, body, "service", 1, NDX_ID_TEXT_MAX, &text) < 0 ||
	    check_id(c->api, c->resp, "service", text, strlen(text), NDX_ID_SERVICE, service))
		goto out;
	methods = str_array_field(c->resp, body, "methods", method_ok,
				  "methods are GET HEAD POST PUT PATCH DELETE OPTIONS", 1, NULL);
	if (!methods)
		goto out;
	/* Without paths a grant covers the whole service. */
	star = json_pack("[s]", "*");
	paths = str_array_field(c->resp, body, "paths", path_pattern_ok,
				"a path pattern is \"*\" or starts with \"/\"", 1,
				json_object_get(body, "paths") ? NULL : star);
	if (!paths)
		goto out;
	if (store_begin(st)) {
		internal(c->resp);
		goto out;
	}
	rc = kind == NDX_ID_MEMBER ? store_member_exists(st, client)
				   : store_subsystem_exists(st, client);
	if (rc == 1) {
		rc = store_service_exists(st, service);
		if (rc == 0) {
			store_rollback(st);
			not_found(c->resp, "service", service);
			goto out;
		}
	} else if (rc == 0) {
		store_rollback(st);
		not_found(c->resp, kind == NDX_ID_MEMBER ? "member" : "subsystem", client);
		goto out;
	}
	if (rc != 1) {
		store_rollback(st);
		internal(c->resp);
		goto out;
	}
	if ((rc = store_grant_add(st, client, service, methods, paths, &id))) {
		store_rollback(st);
		internal(c->resp);
		goto out;
	}
	snprintf(object, sizeof object, "%lld", (long long)id);
	detail = json_pack("{sssssOsO}", "client", client, "service", service, "methods", methods,
			   "paths", paths);
	rc = store_commit(st, c->actor, c->req->remote_addr, "grant.add", object, detail, &version);
	json_decref(detail);
	if (rc || store_grant_get(st, id, &obj)) {
		internal(c->resp);
		goto out;
	}
	answer_change(c->resp, 201, obj, version);
out:
	json_decref(star);
	json_decref(body);
}

/* The number of a grant or subscription (what) in a path. Returns 0, or -1
 * after answering 400. */
static int parse_number(struct call *c, const char *s, const char *what, int64_t *out)
{
	char message[64];
	char *end;
	long long v;

	snprintf(message, sizeof message, "invalid %s id", what);
	if (*s < '1' || *s > '9' || strlen(s) > 18) {
		bad_request(c->resp, message, "a %s id is a positive integer", what);
		return -1;
	}
	v = strtoll(s, &end, 10);
	if (*end) {
		bad_request(c->resp, message, "a %s id is a positive integer", what);
		return -1;
	}
	*out = v;
	return 0;
}

/* GET or DELETE of a row known by its number (a grant, a subscription):
 * what names it in answers and the audit ("grant"), its store calls and
 * the audit action of a delete. */
static void numbered_one(struct call *c, const char *sub, int del, const char *what,
			 int (*get)(struct store *, int64_t, json_t **),
			 int (*remove)(struct store *, int64_t), const char *action)
{
	struct store *st = c->api->cfg.st;
	json_t *obj;
	uint64_t version;
	int64_t id;
	int rc;

	if (parse_number(c, sub, what, &id))
		return;
	if (!del) {
		if ((rc = get(st, id, &obj)))
			store_failed(c->resp, rc, what, sub);
		else
			ndx_http_resp_json(c->resp, 200, obj);
		return;
	}
	if (store_begin(st)) {
		internal(c->resp);
		return;
	}
	if ((rc = remove(st, id))) {
		store_rollback(st);
		store_failed(c->resp, rc, what, sub);
		return;
	}
	if (store_commit(st, c->actor, c->req->remote_addr, action, sub, NULL, &version)) {
		internal(c->resp);
		return;
	}
	answer_deleted(c->resp, sub, version);
}

static void grants_one(struct call *c, const char *sub, int del)
{
	numbered_one(c, sub, del, "grant", store_grant_get, store_grant_delete, "grant.delete");
}

/* ---- revocations ------------------------------------------------------------------------------ */

static void revocations_add(struct call *c)
{
	char value[65], object[80];
	const char *kind, *text, *reason;
	json_t *body = body_object(c->req, c->resp, REVOCATION_FIELDS), *obj = NULL, *detail;
	struct store *st = c->api->cfg.st;
	uint8_t raw[32];
	uint64_t version;
	int rc;

	if (!body)
		return;
	if (str_field(c->resp, body, "kind", 1, 32, &kind) < 0)
		goto out;
	if (strcmp(kind, "key") != 0 && strcmp(kind, "certificate") != 0) {
		bad_request(c->resp, "invalid field", "kind must be \"key\" or \"certificate\"");
		goto out;
	}
	if (str_field(c->resp, body, "value", 1, 64, &text) < 0 ||
	    str_field(c->resp, body, "reason", 0, NAME_MAX_BYTES, &reason) < 0)
		goto out;
	if (strlen(text) != 64 || ndx_hex_decode(text, 64, raw, sizeof raw)) {
		bad_request(c->resp, "invalid field",
			    "value: 64 hex digits (a key id or a certificate SHA-256 fingerprint)");
		goto out;
	}
	ndx_hex_encode(raw, sizeof raw, value);
	snprintf(object, sizeof object, "%s:%s", kind, value);
	if (store_begin(st)) {
		internal(c->resp);
		goto out;
	}
	if ((rc = store_revocation_add(st, kind, value, reason ? reason : "", &obj))) {
		store_rollback(st);
		store_failed(c->resp, rc, "revocation", object);
		goto out;
	}
	detail = json_pack("{ss}", "reason", reason ? reason : "");
	rc = store_commit(st, c->actor, c->req->remote_addr, "revocation.add", object, detail,
			  &version);
	json_decref(detail);
	if (rc) {
		json_decref(obj);
		internal(c->resp);
		goto out;
	}
	answer_change(c->resp, 201, obj, version);
out:
	json_decref(body);
}

/* ---- consent services ------------------------------------------------------------------------ */

/* Plain http is allowed only to this machine: a consent service's key
 * already protects what it publishes, but its revocation list must not be
 * blockable by anyone on the path, and loopback is the demo's case. */
static int loopback_host(const char *host)
{
	return strcmp(host, "localhost") == 0 || strcmp(host, "::1") == 0 ||
	       strncmp(host, "127.", 4) == 0;
}

static void consent_services_add(struct call *c)
{
	char id[NDX_ID_TEXT_MAX], host[256], key_id[NDX_KEY_ID_HEX_LEN + 1];
	uint8_t raw[NDX_ED25519_PUBLIC_LEN];
	const char *text, *url, *pem, *why = NULL;
	json_t *body = body_object(c->req, c->resp, CONSENT_SERVICE_FIELDS), *obj = NULL, *detail;
	struct store *st = c->api->cfg.st;
	struct ndx_key *key = NULL;
	char *key_b64 = NULL;
	uint64_t version;
	int rc, https;

	if (!body)
		return;
	if (str_field(c->resp, body, "id", 1, NDX_ID_TEXT_MAX, &text) < 0 ||
	    check_id(c->api, c->resp, "id", text, strlen(text), NDX_ID_SUBSYSTEM, id) ||
	    str_field(c->resp, body, "url", 1, ADDRESS_MAX_BYTES, &url) < 0 ||
	    str_field_raw(c->resp, body, "sign_public_key", 1, 16384, &pem) < 0)
		goto out;
	https = strncmp(url, "https://", 8) == 0;
	if (!https && strncmp(url, "http://", 7) != 0) {
		bad_request(c->resp, "invalid url", "url: must start with https:// (or http:// "
						     "to a loopback address)");
		goto out;
	}
	if (url_host(url, host, sizeof host, &why)) {
		bad_request(c->resp, "invalid url", "url%s", why + strlen("address"));
		goto out;
	}
	if (!https && !loopback_host(host)) {
		bad_request(c->resp, "invalid url",
			    "url: plain http:// is allowed only to a loopback address");
		goto out;
	}
	if (ndx_key_from_pem(pem, strlen(pem), &key) != NDX_OK) {
		bad_request(c->resp, "invalid signing key",
			    "sign_public_key: not an Ed25519 public key in PEM form");
		goto out;
	}
	if (ndx_key_has_private(key)) {
		bad_request(c->resp, "invalid signing key",
			    "sign_public_key: this is a private key; send only the public key "
			    "(and consider this one exposed)");
		goto out;
	}
	if (refuse_unverifiable(c, key, "sign_public_key"))
		goto out;
	ndx_key_public_raw(key, raw);
	ndx_key_id(key, key_id);
	key_b64 = ndx_b64_encode(raw, sizeof raw, 0);
	if (!key_b64 || store_begin(st)) {
		internal(c->resp);
		goto out;
	}
	rc = store_subsystem_exists(st, id);
	if (rc != 1) {
		store_rollback(st);
		if (rc == 0)
			not_found(c->resp, "subsystem", id);
		else
			internal(c->resp);
		goto out;
	}
	struct store_consent_service cs = {
		.id = id, .url = url, .sign_key = key_b64, .sign_key_id = key_id,
	};
	if ((rc = store_consent_service_add(st, &cs))) {
		store_rollback(st);
		store_failed(c->resp, rc, "consent service", id);
		goto out;
	}
	if (key_unclaimed(c, "sign_public_key", key_id, NULL, "consent service", id)) {
		store_rollback(st);
		goto out;
	}
	detail = json_pack("{ssss}", "url", url, "sign_key_id", key_id);
	rc = store_commit(st, c->actor, c->req->remote_addr, "consent_service.add", id, detail,
			  &version);
	json_decref(detail);
	if (rc || store_consent_service_get(st, id, &obj)) {
		internal(c->resp);
		goto out;
	}
	answer_change(c->resp, 201, obj, version);
out:
	ndx_key_free(key);
	free(key_b64);
	json_decref(body);
}

/* ---- embargoes --------------------------------------------------------------------------------- */

/* PUT /api/embargoes/{purpose} {"seconds":N}: exchanges for purpose stay out
 * of the subject's access list for N seconds after they happened. */
static void embargoes_set(struct call *c, const char *purpose)
{
	json_t *body = body_object(c->req, c->resp, EMBARGO_FIELDS), *obj = NULL, *old = NULL;
	json_t *detail;
	const json_t *v;
	struct store *st = c->api->cfg.st;
	uint64_t version;
	int64_t seconds;
	int rc, created = 0;

	if (!body)
		return;
	v = json_object_get(body, "seconds");
	if (!v || json_is_null(v)) {
		bad_request(c->resp, "missing field", "seconds is required");
		goto out;
	}
	if (!json_is_integer(v) || json_integer_value(v) < 1 ||
	    json_integer_value(v) > NDX_CONF_EMBARGO_MAX_S) {
		bad_request(c->resp, "invalid field", "seconds: an integer from 1 to %lld "
						      "(100 years)",
			    (long long)NDX_CONF_EMBARGO_MAX_S);
		goto out;
	}
	seconds = (int64_t)json_integer_value(v);
	if (store_begin(st)) {
		internal(c->resp);
		goto out;
	}
	rc = store_embargo_get(st, purpose, &old);
	if (rc == NDX_ENOTFOUND)
		rc = NDX_OK;
	if (rc || (rc = store_embargo_set(st, purpose, seconds, &created))) {
		store_rollback(st);
		internal(c->resp);
		goto out;
	}
	detail = json_pack("{sIso*}", "seconds", (json_int_t)seconds, "previous",
			   old ? json_incref(json_object_get(old, "seconds")) : json_null());
	rc = store_commit(st, c->actor, c->req->remote_addr, "embargo.set", purpose, detail,
			  &version);
	json_decref(detail);
	if (rc || store_embargo_get(st, purpose, &obj)) {
		internal(c->resp);
		goto out;
	}
	answer_change(c->resp, created ? 201 : 200, obj, version);
out:
	json_decref(old);
	json_decref(body);
}

static void route_embargoes(struct call *c, const char *sub)
{
	const char *m = c->req->method;
	json_t *rows = NULL, *obj;
	int rc;

	if (!sub) {
		if (is_get(m))
			answer_list(c->resp, "embargoes", store_embargo_list(c->api->cfg.st, &rows),
				    &rows);
		else
			method_not_allowed(c->resp, "GET, HEAD");
		return;
	}
	if (!is_get(m) && strcmp(m, "PUT") != 0 && strcmp(m, "DELETE") != 0) {
		method_not_allowed(c->resp, "GET, HEAD, PUT, DELETE");
		return;
	}
	if (!purpose_ok(sub)) {
		bad_request(c->resp, "invalid purpose",
			    "path: a purpose is 1 to 64 characters from a-z 0-9 -");
		return;
	}
	if (strcmp(m, "PUT") == 0)
		embargoes_set(c, sub);
	else if (strcmp(m, "DELETE") == 0)
		delete_obj(c, "embargo", "embargo.delete", sub, store_embargo_delete);
	else if ((rc = store_embargo_get(c->api->cfg.st, sub, &obj)))
		store_failed(c->resp, rc, "embargo", sub);
	else
		ndx_http_resp_json(c->resp, 200, obj);
}

/* ---- the monitoring client ---------------------------------------------------------------------- */

static const char *const MONITORING_FIELDS[] = { "client", NULL };

/* PUT /api/monitoring {"client": ID}: the operator's monitoring subsystem,
 * the one client that may read every gateway's operational records. */
static void monitoring_set(struct call *c)
{
	char client[NDX_ID_TEXT_MAX];
	const char *text;
	char *old = NULL;
	json_t *body = body_object(c->req, c->resp, MONITORING_FIELDS), *detail;
	struct store *st = c->api->cfg.st;
	uint64_t version;
	int rc;

	if (!body)
		return;
	if (str_field(c->resp, body, "client", 1, NDX_ID_TEXT_MAX, &text) < 0 ||
	    check_id(c->api, c->resp, "client", text, strlen(text), NDX_ID_SUBSYSTEM, client))
		goto out;
	if (store_begin(st)) {
		internal(c->resp);
		goto out;
	}
	rc = store_monitoring_get(st, &old);
	if (rc == NDX_ENOTFOUND)
		rc = NDX_OK;
	if (rc || (rc = store_monitoring_set(st, client))) {
		store_rollback(st);
		if (rc == NDX_ENOTFOUND)
			store_failed(c->resp, rc, "subsystem", client);
		else
			internal(c->resp);
		goto out;
	}
	detail = json_pack("{ss so*}", "client", client, "previous",
			   old ? json_string(old) : json_null());
	rc = store_commit(st, c->actor, c->req->remote_addr, "monitoring.set", client, detail,
			  &version);
	json_decref(detail);
	if (rc) {
		internal(c->resp);
		goto out;
	}
	answer_change(c->resp, old ? 200 : 201, json_pack("{ss}", "client", client), version);
out:
	free(old);
	json_decref(body);
}

static void monitoring_clear(struct call *c)
{
	struct store *st = c->api->cfg.st;
	uint64_t version;
	int rc;

	if (store_begin(st)) {
		internal(c->resp);
		return;
	}
	if ((rc = store_monitoring_clear(st))) {
		store_rollback(st);
		if (rc == NDX_ENOTFOUND)
			ndx_http_resp_error(c->resp, 404, "Client.NotFound", "not found",
					    "no monitoring client is set");
		else
			internal(c->resp);
		return;
	}
	if (store_commit(st, c->actor, c->req->remote_addr, "monitoring.clear", "monitoring",
			 NULL, &version)) {
		internal(c->resp);
		return;
	}
	answer_change(c->resp, 200, json_pack("{sn}", "client"), version);
}

static void route_monitoring(struct call *c)
{
	const char *m = c->req->method;
	char *client = NULL;
	int rc;

	if (strcmp(m, "PUT") == 0) {
		monitoring_set(c);
	} else if (strcmp(m, "DELETE") == 0) {
		monitoring_clear(c);
	} else if (!is_get(m)) {
		method_not_allowed(c->resp, "GET, HEAD, PUT, DELETE");
	} else if ((rc = store_monitoring_get(c->api->cfg.st, &client)) &&
		   rc != NDX_ENOTFOUND) {
		internal(c->resp);
	} else {
		ndx_http_resp_json(c->resp, 200,
				   client ? json_pack("{ss}", "client", client)
					  : json_pack("{sn}", "client"));
		free(client);
	}
}

/* ---- id providers ------------------------------------------------------------------------------ */

/* An OpenID Connect issuer (the iss of its ID tokens, compared as an exact
 * string): https://, or http:// to a loopback host as in the demo, with no
 * user information, query, fragment, spaces or control characters. Returns
 * 0, or -1 after answering 400. */
static int check_issuer(struct ndx_http_resp *resp, const char *issuer)
{
	char host[256];
	const char *why = NULL;
	int https = strncmp(issuer, "https://", 8) == 0;

	if (!https && strncmp(issuer, "http://", 7) != 0) {
		bad_request(resp, "invalid issuer", "issuer: must start with https:// (or http:// "
						    "to a loopback address)");
		return -1;
	}
	for (const unsigned char *p = (const unsigned char *)issuer; *p; p++)
		if (*p <= 0x20 || *p == 0x7f) {
			bad_request(resp, "invalid issuer",
				    "issuer: no spaces or control characters");
			return -1;
		}
	if (strpbrk(issuer, "?#")) {
		bad_request(resp, "invalid issuer", "issuer: no query or fragment (OpenID "
						    "Connect issuers have neither)");
		return -1;
	}
	if (url_host(issuer, host, sizeof host, &why)) {
		bad_request(resp, "invalid issuer", "issuer%s", why + strlen("address"));
		return -1;
	}
	if (!https && !loopback_host(host)) {
		bad_request(resp, "invalid issuer",
			    "issuer: plain http:// is allowed only to a loopback address");
		return -1;
	}
	return 0;
}

/* POST /api/id-providers {"issuer":URL,"sign_key":"<base64 raw Ed25519>"}:
 * the registry computes sign_key_id; one key per issuer. */
static void id_providers_add(struct call *c)
{
	char key_id[NDX_KEY_ID_HEX_LEN + 1];
	uint8_t *raw = NULL;
	size_t rawlen = 0;
	const char *issuer, *b64, *kid;
	json_t *body = body_object(c->req, c->resp, ID_PROVIDER_FIELDS), *obj = NULL, *detail;
	struct store *st = c->api->cfg.st;
	struct ndx_key *key = NULL;
	char *key_b64 = NULL;
	uint64_t version;
	int rc;

	if (!body)
		return;
	if (str_field(c->resp, body, "issuer", 1, ADDRESS_MAX_BYTES, &issuer) < 0 ||
	    check_issuer(c->resp, issuer) ||
	    str_field_raw(c->resp, body, "sign_key", 1, 128, &b64) < 0 ||
	    str_field_raw(c->resp, body, "sign_key_id", 0, 128, &kid) < 0)
		goto out;
	if (ndx_b64_decode(b64, strlen(b64), 0, &raw, &rawlen) != NDX_OK ||
	    rawlen != NDX_ED25519_PUBLIC_LEN || ndx_key_from_public_raw(raw, &key) != NDX_OK) {
		bad_request(c->resp, "invalid signing key",
			    "sign_key: expected base64 of a 32-byte Ed25519 public key");
		goto out;
	}
	if (refuse_unverifiable(c, key, "sign_key"))
		goto out;
	ndx_key_id(key, key_id);
	if (kid && strcmp(kid, key_id) != 0) {
		bad_request(c->resp, "invalid signing key",
			    "sign_key_id: does not match sign_key (its key id is %s)", key_id);
		goto out;
	}
	key_b64 = ndx_b64_encode(raw, rawlen, 0);
	if (!key_b64 || store_begin(st)) {
		internal(c->resp);
		goto out;
	}
	if ((rc = store_id_provider_add(st, issuer, key_b64, key_id))) {
		store_rollback(st);
		store_failed(c->resp, rc, "id provider", issuer);
		goto out;
	}
	if (key_unclaimed(c, "sign_key", key_id, NULL, "id provider", issuer)) {
		store_rollback(st);
		goto out;
	}
	detail = json_pack("{ss}", "sign_key_id", key_id);
	rc = store_commit(st, c->actor, c->req->remote_addr, "id_provider.add", issuer, detail,
			  &version);
	json_decref(detail);
	if (rc || store_id_provider_get(st, issuer, &obj)) {
		internal(c->resp);
		goto out;
	}
	answer_change(c->resp, 201, obj, version);
out:
	ndx_key_free(key);
	free(raw);
	free(key_b64);
	json_decref(body);
}

static void route_id_providers(struct call *c, const char *sub)
{
	const char *m = c->req->method, *issuer;
	json_t *rows = NULL;

	if (sub) {
		ndx_http_resp_error(c->resp, 404, "Client.NotFound", "no such path",
				    "an id provider is named by ?issuer=URL");
		return;
	}
	if (strcmp(m, "POST") == 0) {
		id_providers_add(c);
		return;
	}
	if (is_get(m)) {
		answer_list(c->resp, "id_providers", store_id_provider_list(c->api->cfg.st, &rows),
			    &rows);
		return;
	}
	if (strcmp(m, "DELETE") != 0) {
		method_not_allowed(c->resp, "GET, HEAD, POST, DELETE");
		return;
	}
	issuer = ndx_http_query_arg(c->req, "issuer");
	if (!issuer || !*issuer) {
		bad_request(c->resp, "invalid query", "issuer: the issuer URL to remove is "
						      "required (percent-encoded)");
		return;
	}
	delete_obj(c, "id provider", "id_provider.delete", issuer, store_id_provider_delete);
}

/* ---- event types ------------------------------------------------------------------------------ */

#define EVENT_NAME_RULE "1 to 64 characters from a-z 0-9 . -, the first a letter or digit"

/* An event type's name from field of o; 0, or -1 after answering 400. */
static int event_name_field(struct ndx_http_resp *resp, const json_t *o, const char *field,
			    const char **out)
{
	if (str_field_raw(resp, o, field, 1, NDX_CONF_EVENT_NAME_MAX, out) < 0)
		return -1;
	if (!ndx_conf_event_name_ok(*out)) {
		bad_request(resp, "invalid event type name", "%s: " EVENT_NAME_RULE, field);
		return -1;
	}
	return 0;
}

/* The "service/name" form that names an event type in paths and the audit. */
static void event_object(char *buf, size_t cap, const char *service, const char *name)
{
	snprintf(buf, cap, "%s/%s", service, name);
}

/* POST /api/event-types {"service","name","title"?,"schema"}: the schema
 * must compile (ndx_schema_compile: draft 7, local $refs only, size and
 * depth bounded) before anything is stored. */
static void event_types_add(struct call *c)
{
	char service[NDX_ID_TEXT_MAX], object[NDX_ID_TEXT_MAX + NDX_CONF_EVENT_NAME_MAX + 2];
	char why[512] = "", sha_hex[2 * NDX_SHA256_LEN + 1];
	uint8_t sha[NDX_SHA256_LEN];
	const char *text, *name, *title;
	const json_t *schema;
	json_t *body = body_object(c->req, c->resp, EVENT_TYPE_FIELDS), *obj = NULL, *detail;
	struct store *st = c->api->cfg.st;
	struct ndx_schema *compiled = NULL;
	char *schema_text = NULL;
	uint64_t version;
	int rc;

	if (!body)
		return;
	if (str_field(c->resp, body, "service", 1, NDX_ID_TEXT_MAX, &text) < 0 ||
	    check_id(c->api, c->resp, "service", text, strlen(text), NDX_ID_SERVICE, service) ||
	    event_name_field(c->resp, body, "name", &name) ||
	    str_field(c->resp, body, "title", 0, NAME_MAX_BYTES, &title) < 0)
		goto out;
	schema = json_object_get(body, "schema");
	if (!schema || json_is_null(schema)) {
		bad_request(c->resp, "missing field", "schema is required");
		goto out;
	}
	if (!json_is_object(schema)) {
		bad_request(c->resp, "invalid schema", "schema: must be a JSON Schema object");
		goto out;
	}
	rc = ndx_schema_compile(schema, &compiled, why, sizeof why);
	ndx_schema_free(compiled);
	if (rc == NDX_EINVAL) {
		bad_request(c->resp, "invalid schema", "schema: %s", why);
		goto out;
	}
	schema_text = rc ? NULL : json_dumps(schema, JSON_COMPACT);
	if (!schema_text) {
		internal(c->resp);
		goto out;
	}
	ndx_sha256(schema_text, strlen(schema_text), sha);
	ndx_hex_encode(sha, sizeof sha, sha_hex);
	event_object(object, sizeof object, service, name);
	if (store_begin(st)) {
		internal(c->resp);
		goto out;
	}
	rc = store_service_exists(st, service);
	if (rc != 1) {
		store_rollback(st);
		if (rc == 0)
			not_found(c->resp, "service", service);
		else
			internal(c->resp);
		goto out;
	}
	if ((rc = store_event_type_add(st, service, name, title, schema_text))) {
		store_rollback(st);
		store_failed(c->resp, rc, "event type", object);
		goto out;
	}
	detail = json_pack("{ss?ss}", "title", title, "schema_sha256", sha_hex);
	rc = store_commit(st, c->actor, c->req->remote_addr, "event_type.add", object, detail,
			  &version);
	json_decref(detail);
	if (rc || store_event_type_get(st, service, name, &obj)) {
		internal(c->resp);
		goto out;
	}
	answer_change(c->resp, 201, obj, version);
out:
	free(schema_text);
	json_decref(body);
}

/* Splits "{serviceId}/{name}" of a path: the name is the last segment (a
 * name has no '/', and a service id has exactly five parts). Returns 0, or
 * -1 after answering 400. */
static int event_type_path(struct call *c, const char *sub, char *service, char *name,
			   size_t cap)
{
	const char *slash = strrchr(sub, '/');
	long n;

	if (!slash) {
		bad_request(c->resp, "invalid event type",
			    "expected /api/event-types/{serviceId}/{name}");
		return -1;
	}
	n = ndx_pct_decode(slash + 1, strlen(slash + 1), name, cap);
	if (n < 0 || (size_t)n != strlen(name) || !ndx_conf_event_name_ok(name)) {
		bad_request(c->resp, "invalid event type name", "name: " EVENT_NAME_RULE);
		return -1;
	}
	return check_id(c->api, c->resp, "path", sub, (size_t)(slash - sub), NDX_ID_SERVICE,
			service);
}

static void event_types_one(struct call *c, const char *sub, int del)
{
	char service[NDX_ID_TEXT_MAX], name[3 * NDX_CONF_EVENT_NAME_MAX + 1];
	char object[NDX_ID_TEXT_MAX + sizeof name + 1];
	struct store *st = c->api->cfg.st;
	const char *why = NULL;
	json_t *obj;
	uint64_t version;
	int rc;

	if (event_type_path(c, sub, service, name, sizeof name))
		return;
	event_object(object, sizeof object, service, name);
	if (!del) {
		if ((rc = store_event_type_get(st, service, name, &obj)))
			store_failed(c->resp, rc, "event type", object);
		else
			ndx_http_resp_json(c->resp, 200, obj);
		return;
	}
	if (store_begin(st)) {
		internal(c->resp);
		return;
	}
	if ((rc = store_event_type_delete(st, service, name, &why))) {
		store_rollback(st);
		if (rc == NDX_EEXIST)
			ndx_http_resp_error(c->resp, 409, "Client.Conflict", "still referenced", why);
		else
			store_failed(c->resp, rc, "event type", object);
		return;
	}
	if (store_commit(st, c->actor, c->req->remote_addr, "event_type.delete", object, NULL,
			 &version)) {
		internal(c->resp);
		return;
	}
	answer_deleted(c->resp, object, version);
}

/* ---- subscriptions ---------------------------------------------------------------------------- */

static const char *const RETRY_FIELDS[] = { "first_s", "max_s", "give_up_after_s", NULL };

/* A subscription's "retry" (optional, each member too; defaults 1 / 300 /
 * 86400 s) under the rules of docs/protocol.md. Returns 0, or -1 after
 * answering 400 naming the member. */
static int retry_field(struct ndx_http_resp *resp, const json_t *body,
		       struct store_subscription *sub)
{
	int64_t *out[] = { &sub->retry_first_s, &sub->retry_max_s, &sub->give_up_after_s };
	const json_t *retry = json_object_get(body, "retry"), *v;
	const char *key;

	sub->retry_first_s = NDX_CONF_RETRY_FIRST_S;
	sub->retry_max_s = NDX_CONF_RETRY_MAX_S;
	sub->give_up_after_s = NDX_CONF_GIVE_UP_AFTER_S;
	if (!retry || json_is_null(retry))
		return 0;
	if (!json_is_object(retry)) {
		bad_request(resp, "invalid field", "retry must be an object {first_s, max_s, "
						   "give_up_after_s}");
		return -1;
	}
	json_object_foreach((json_t *)retry, key, v) {
		size_t i = 0;

		while (RETRY_FIELDS[i] && strcmp(RETRY_FIELDS[i], key) != 0)
			i++;
		if (!RETRY_FIELDS[i]) {
			char *shown = ndx_text_escape(key, strlen(key));
			bad_request(resp, "unknown field", "retry.%.128s: not a field of this request",
				    shown ? shown : "?");
			free(shown);
			return -1;
		}
		if (json_is_null(v))
			continue;
		if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		    json_integer_value(v) > NDX_CONF_GIVE_UP_LIMIT_S) {
			bad_request(resp, "invalid field", "retry.%s: an integer number of seconds "
							   "from 1 to %lld", key,
				    (long long)(i == 2 ? NDX_CONF_GIVE_UP_LIMIT_S
						       : NDX_CONF_RETRY_MAX_LIMIT_S));
			return -1;
		}
		*out[i] = (int64_t)json_integer_value(v);
	}
	if (sub->retry_max_s > NDX_CONF_RETRY_MAX_LIMIT_S || sub->retry_first_s > sub->retry_max_s) {
		bad_request(resp, "invalid field", "retry: first_s (%lld) <= max_s (%lld) <= %d "
						   "is required", (long long)sub->retry_first_s,
			    (long long)sub->retry_max_s, NDX_CONF_RETRY_MAX_LIMIT_S);
		return -1;
	}
	if (sub->give_up_after_s < sub->retry_max_s) {
		bad_request(resp, "invalid field", "retry.give_up_after_s: %lld is less than max_s "
						   "(%lld)", (long long)sub->give_up_after_s,
			    (long long)sub->retry_max_s);
		return -1;
	}
	return 0;
}

/* The rule of reads for a subscription's purpose: required exactly when the
 * service is personal, and then one of its purposes. svc is the stored
 * service. Returns 0, or -1 after answering 400. */
static int check_sub_purpose(struct ndx_http_resp *resp, const json_t *svc, const char *id,
			     const char *purpose)
{
	const json_t *purposes = json_object_get(svc, "purposes"), *p;
	size_t i;

	if (!json_is_true(json_object_get(svc, "personal"))) {
		if (!purpose)
			return 0;
		bad_request(resp, "invalid field", "purpose: %s is not a personal-data service; a "
						   "subscription to it has no purpose", id);
		return -1;
	}
	if (!purpose) {
		bad_request(resp, "missing field", "purpose: %s is a personal-data service; name "
						   "one of its purposes", id);
		return -1;
	}
	/* A consent covers reads one subject at a time: nothing could allow
	 * the stream of every citizen's events it would take. */
	if (json_is_true(json_object_get(svc, "consent_required"))) {
		bad_request(resp, "invalid field", "service: %s reads only under each subject's "
						   "consent; its events cannot be subscribed to", id);
		return -1;
	}
	json_array_foreach(purposes, i, p)
		if (json_is_string(p) && strcmp(json_string_value(p), purpose) == 0)
			return 0;
	bad_request(resp, "invalid field", "purpose: %s is not one of the purposes of %s",
		    purpose, id);
	return -1;
}

/* The checks of a new subscription that need the store, inside the
 * change's transaction: the subsystem, the service and the event type
 * exist (404), the purpose fits the service (400). Returns 0, or -1 after
 * answering (the caller rolls back). */
static int subscription_refs(struct call *c, const struct store_subscription *sub,
			     const char *object)
{
	struct store *st = c->api->cfg.st;
	json_t *svc = NULL;
	int rc = store_subsystem_exists(st, sub->client);

	if (rc != 1) {
		if (rc == 0)
			not_found(c->resp, "subsystem", sub->client);
		else
			internal(c->resp);
		return -1;
	}
	if ((rc = store_service_get(st, sub->service, &svc))) {
		store_failed(c->resp, rc, "service", sub->service);
		return -1;
	}
	rc = store_event_type_exists(st, sub->service, sub->event);
	if (rc != 1) {
		json_decref(svc);
		if (rc == 0)
			not_found(c->resp, "event type", object);
		else
			internal(c->resp);
		return -1;
	}
	rc = check_sub_purpose(c->resp, svc, sub->service, sub->purpose);
	json_decref(svc);
	return rc;
}

/* POST /api/subscriptions {"client","service","event","purpose"?,"retry"?}. */
static void subscriptions_add(struct call *c)
{
	char client[NDX_ID_TEXT_MAX], service[NDX_ID_TEXT_MAX], id_text[32];
	char object[NDX_ID_TEXT_MAX + NDX_CONF_EVENT_NAME_MAX + 2];
	const char *text;
	json_t *body = body_object(c->req, c->resp, SUBSCRIPTION_FIELDS), *obj = NULL, *detail;
	struct store *st = c->api->cfg.st;
	struct store_subscription sub = { .client = client, .service = service };
	uint64_t version;
	int64_t id;
	int rc;

	if (!body)
		return;
	if (str_field(c->resp, body, "client", 1, NDX_ID_TEXT_MAX, &text) < 0 ||
	    check_id(c->api, c->resp, "client", text, strlen(text), NDX_ID_SUBSYSTEM, client) ||
	    str_field(c->resp, body, "service", 1, NDX_ID_TEXT_MAX, &text) < 0 ||
	    check_id(c->api, c->resp, "service", text, strlen(text), NDX_ID_SERVICE, service) ||
	    event_name_field(c->resp, body, "event", &sub.event) ||
	    str_field_raw(c->resp, body, "purpose", 0, NDX_PURPOSE_MAX, &sub.purpose) < 0 ||
	    retry_field(c->resp, body, &sub))
		goto out;
	if (sub.purpose && !purpose_ok(sub.purpose)) {
		bad_request(c->resp, "invalid field",
			    "purpose: 1 to 64 characters from a-z 0-9 -");
		goto out;
	}
	event_object(object, sizeof object, service, sub.event);
	if (store_begin(st)) {
		internal(c->resp);
		goto out;
	}
	if (subscription_refs(c, &sub, object)) {
		store_rollback(st);
		goto out;
	}
	if ((rc = store_subscription_add(st, &sub, &id))) {
		char what[sizeof object + NDX_ID_TEXT_MAX + 32];

		store_rollback(st);
		snprintf(what, sizeof what, "%s to %s", client, object);
		store_failed(c->resp, rc, "subscription of", what);
		goto out;
	}
	snprintf(id_text, sizeof id_text, "%lld", (long long)id);
	detail = json_pack("{ss ss ss ss? s{sI sI sI}}", "client", client, "service", service, "event",
			   sub.event, "purpose", sub.purpose, "retry",
			   "first_s", (json_int_t)sub.retry_first_s,
			   "max_s", (json_int_t)sub.retry_max_s,
			   "give_up_after_s", (json_int_t)sub.give_up_after_s);
	rc = store_commit(st, c->actor, c->req->remote_addr, "subscription.add", id_text, detail,
			  &version);
	json_decref(detail);
	if (rc || store_subscription_get(st, id, &obj)) {
		internal(c->resp);
		goto out;
	}
	answer_change(c->resp, 201, obj, version);
out:
	json_decref(body);
}

static void subscriptions_one(struct call *c, const char *sub, int del)
{
	numbered_one(c, sub, del, "subscription", store_subscription_get,
		     store_subscription_delete, "subscription.delete");
}

/* ---- routing ----------------------------------------------------------------------------------- */

/* Parses an id from a URL path segment, answering 400 on failure. */
static int path_id(struct call *c, const char *sub, enum ndx_id_kind kind, char *canon)
{
	return check_id(c->api, c->resp, "path", sub, strlen(sub), kind, canon);
}

/* True when the raw query holds an argument called name (unencoded). */
static int query_has(const char *q, const char *name)
{
	size_t n = strlen(name);
	while (*q) {
		if (strncmp(q, name, n) == 0 && (q[n] == '=' || q[n] == '&' || !q[n]))
			return 1;
		q = strchr(q, '&');
		if (!q)
			return 0;
		q++;
	}
	return 0;
}

/* A query argument naming an id, or NULL for none; *bad set after 400. */
static const char *query_id(struct call *c, const char *name, enum ndx_id_kind kind,
			    char *canon, int *bad)
{
	const char *v = ndx_http_query_arg(c->req, name);
	*bad = 0;
	if (!v) {
		/* ndx_http_query_arg also gives NULL for an argument that is
		 * present but badly encoded: that must not widen the list. */
		if (query_has(c->req->query, name)) {
			bad_request(c->resp, "invalid query", "%s: bad percent-encoding", name);
			*bad = 1;
		}
		return NULL;
	}
	if (check_id(c->api, c->resp, name, v, strlen(v), kind, canon)) {
		*bad = 1;
		return NULL;
	}
	return canon;
}

/* A positive integer query argument up to max, or dflt when absent.
 * Returns 0, or -1 after answering 400. */
static int query_count(struct call *c, const char *name, int64_t max, int64_t dflt,
		       int64_t *out)
{
	const char *v = ndx_http_query_arg(c->req, name);
	char *end;
	long long n;

	*out = dflt;
	if (!v) {
		if (!query_has(c->req->query, name))
			return 0;
		v = "";
	}
	n = strtoll(v, &end, 10);
	if (!*v || *end || *v < '1' || *v > '9' || strlen(v) > 18 || n > max) {
		bad_request(c->resp, "invalid query", "%s: an integer from 1 to %lld", name,
			    (long long)max);
		return -1;
	}
	*out = n;
	return 0;
}

/* GET /api/audit[?limit=N][&before=SEQ]: newest first, a page of at most
 * limit entries older than before; "next" is the before of the following
 * page, or null after the oldest entry. One more row than asked for tells
 * whether there is a next page. */
static void audit_page(struct call *c)
{
	static const char *const texts[] = { "actor", "action" };
	static const char *const times[] = { "since", "until" };
	const char *v[2], *tv[2];
	char canon[2][NDX_TIME_TEXT_LEN];
	json_t *rows = NULL, *last;
	int64_t limit, before;
	size_t n;

	if (query_count(c, "limit", AUDIT_MAX_LIMIT, AUDIT_DEFAULT_LIMIT, &limit) ||
	    query_count(c, "before", INT64_MAX / 2, 0, &before))
		return;
	for (int i = 0; i < 2; i++) {
		v[i] = ndx_http_query_arg(c->req, texts[i]);
		if ((!v[i] && query_has(c->req->query, texts[i])) || (v[i] && strlen(v[i]) > 256)) {
			bad_request(c->resp, "invalid query", "%s: at most 256 bytes, percent-encoded",
				    texts[i]);
			return;
		}
		if (v[i] && !*v[i])
			v[i] = NULL;
	}
	for (int i = 0; i < 2; i++) {
		time_t t;

		tv[i] = ndx_http_query_arg(c->req, times[i]);
		if (tv[i] && !*tv[i])
			tv[i] = NULL;
		if ((!tv[i] && query_has(c->req->query, times[i]) &&
		     ndx_http_query_arg(c->req, times[i]) == NULL) ||
		    (tv[i] && ndx_time_parse(tv[i], &t) != NDX_OK)) {
			bad_request(c->resp, "invalid query", "%s: a time as 2026-12-03T10:00:00Z",
				    times[i]);
			return;
		}
		if (tv[i]) {
			ndx_time_format(t, canon[i]);
			tv[i] = canon[i];
		}
	}
	struct store_audit_filter f = { .actor = v[0], .action = v[1], .since = tv[0],
					.until = tv[1] };
	if (store_audit_search(c->api->cfg.st, &f, before, (int)limit + 1, &rows)) {
		internal(c->resp);
		return;
	}
	n = json_array_size(rows);
	if (n > (size_t)limit) {
		json_array_remove(rows, n - 1);
		last = json_array_get(rows, (size_t)limit - 1);
		ndx_http_resp_json(c->resp, 200,
				   json_pack("{soso}", "audit", rows, "next",
					     json_incref(json_object_get(last, "seq"))));
	} else {
		ndx_http_resp_json(c->resp, 200, json_pack("{sosn}", "audit", rows, "next"));
	}
}

/* GET /api/overview: the configuration's version, when it last changed,
 * when the document served now expires, and how many of each object the
 * registry holds. */
static void overview(struct call *c)
{
	const struct conf_signed *doc;
	char gen[NDX_TIME_TEXT_LEN], exp[NDX_TIME_TEXT_LEN];
	json_t *counts = NULL;

	if (confgen_get(c->api->cfg.cg, time(NULL), &doc)) {
		internal(c->resp);
		return;
	}
	ndx_time_format(doc->generated_at, gen);
	ndx_time_format(doc->expires_at, exp);
	json_t *o = json_pack("{sIssss}", "conf_version", (json_int_t)doc->version,
			      "generated_at", gen, "expires_at", exp);
	confgen_release(c->api->cfg.cg, doc);
	if (!o || store_counts(c->api->cfg.st, &counts)) {
		json_decref(o);
		internal(c->resp);
		return;
	}
	json_object_set_new(o, "instance", json_string(store_instance(c->api->cfg.st)));
	json_object_set_new(o, "counts", counts);
	ndx_http_resp_json(c->resp, 200, o);
}

/* A console official's role: the four the console knows. */
static int role_ok(const char *r)
{
	return strcmp(r, "operator") == 0 || strcmp(r, "auditor") == 0 ||
	       strcmp(r, "agency") == 0 || strcmp(r, "dpo") == 0;
}

/* /api/officials[/{subject}]: the console's officials (docs/console.md
 * "Roles"). Changes are audited but are no part of the configuration. */
static void route_officials(struct call *c, const char *sub)
{
	const char *m = c->req->method, *subject, *name, *role, *text = NULL, *why = NULL;
	char member[NDX_ID_TEXT_MAX];
	json_t *rows = NULL, *body, *obj = NULL;
	int rc;

	if (sub) {
		if (strcmp(m, "DELETE") != 0) {
			method_not_allowed(c->resp, "DELETE");
			return;
		}
		if (ndx_pin_parse(sub, 0, NULL, &why) != NDX_OK) {
			bad_request(c->resp, "invalid subject", "path: %s", why ? why : "malformed");
			return;
		}
		rc = store_official_remove(c->api->cfg.st, sub, c->actor, c->req->remote_addr);
		if (rc)
			store_failed(c->resp, rc, "official", sub);
		else
			ndx_http_resp_json(c->resp, 200, json_pack("{ss}", "deleted", sub));
		return;
	}
	if (is_get(m)) {
		answer_list(c->resp, "officials", store_official_list(c->api->cfg.st, &rows), &rows);
		return;
	}
	if (strcmp(m, "POST") != 0) {
		method_not_allowed(c->resp, "GET, HEAD, POST");
		return;
	}
	if (!(body = body_object(c->req, c->resp, OFFICIAL_FIELDS)))
		return;
	if (str_field(c->resp, body, "subject", 1, 15, &subject) < 0 ||
	    str_field(c->resp, body, "name", 1, NAME_MAX_BYTES, &name) < 0 ||
	    str_field(c->resp, body, "role", 1, 15, &role) < 0)
		goto out;
	if (ndx_pin_parse(subject, 0, NULL, &why) != NDX_OK) {
		bad_request(c->resp, "invalid subject", "subject: %s", why ? why : "malformed");
		goto out;
	}
	if (!role_ok(role)) {
		bad_request(c->resp, "invalid role", "role: operator, auditor, agency or dpo");
		goto out;
	}
	/* An agency administrator administers one member, which exists; the
	 * other roles have none. */
	if ((rc = str_field(c->resp, body, "member", 0, NDX_ID_TEXT_MAX, &text)) < 0)
		goto out;
	if (strcmp(role, "agency") == 0 && !rc) {
		bad_request(c->resp, "invalid official", "member: an agency administrator's member is required");
		goto out;
	}
	if (strcmp(role, "agency") != 0 && rc) {
		bad_request(c->resp, "invalid official", "member: only an agency administrator has one");
		goto out;
	}
	if (text) {
		if (check_id(c->api, c->resp, "member", text, strlen(text), NDX_ID_MEMBER, member))
			goto out;
		if ((rc = store_member_exists(c->api->cfg.st, member)) != 1) {
			if (rc == 0)
				not_found(c->resp, "member", member);
			else
				internal(c->resp);
			goto out;
		}
	}
	if (store_official_put(c->api->cfg.st, subject, name, role, text ? member : NULL,
			       c->actor, c->req->remote_addr) ||
	    store_official_get(c->api->cfg.st, subject, &obj)) {
		internal(c->resp);
		goto out;
	}
	ndx_http_resp_json(c->resp, 201, obj);
out:
	json_decref(body);
}

static void route_event_types(struct call *c, const char *sub)
{
	const char *m = c->req->method;
	char f1[NDX_ID_TEXT_MAX];
	const char *q1;
	json_t *rows = NULL;
	int bad;

	if (!sub) {
		if (is_get(m)) {
			q1 = query_id(c, "service", NDX_ID_SERVICE, f1, &bad);
			if (!bad)
				answer_list(c->resp, "event_types",
					    store_event_type_list(c->api->cfg.st, q1, &rows), &rows);
		} else if (strcmp(m, "POST") == 0) {
			event_types_add(c);
		} else {
			method_not_allowed(c->resp, "GET, HEAD, POST");
		}
	} else if (is_get(m) || strcmp(m, "DELETE") == 0) {
		event_types_one(c, sub, !is_get(m));
	} else {
		method_not_allowed(c->resp, "GET, HEAD, DELETE");
	}
}

static void route_subscriptions(struct call *c, const char *sub)
{
	const char *m = c->req->method;
	char f1[NDX_ID_TEXT_MAX], f2[NDX_ID_TEXT_MAX];
	const char *q1, *q2;
	json_t *rows = NULL;
	int bad;

	if (!sub) {
		if (is_get(m)) {
			q1 = query_id(c, "client", NDX_ID_SUBSYSTEM, f1, &bad);
			if (bad)
				return;
			q2 = query_id(c, "service", NDX_ID_SERVICE, f2, &bad);
			if (!bad)
				answer_list(c->resp, "subscriptions",
					    store_subscription_list(c->api->cfg.st, q1, q2, &rows),
					    &rows);
		} else if (strcmp(m, "POST") == 0) {
			subscriptions_add(c);
		} else {
			method_not_allowed(c->resp, "GET, HEAD, POST");
		}
	} else if (is_get(m) || strcmp(m, "DELETE") == 0) {
		subscriptions_one(c, sub, !is_get(m));
	} else {
		method_not_allowed(c->resp, "GET, HEAD, DELETE");
	}
}

/* ---- the marketplace as officials read it ------------------------------------------------- */

/* The datasets in rows whose provider is member (all for NULL), each with
 * its offers (from all, the offer rows) as "offers". Returns a new array
 * or NULL. */
static json_t *datasets_with_offers(json_t *rows, json_t *all, const char *member)
{
	json_t *out = json_array(), *row, *offer;
	size_t i, j;

	if (!out)
		return NULL;
	json_array_foreach(rows, i, row) {
		const char *id = json_string_value(json_object_get(row, "id"));
		const char *provider = json_string_value(json_object_get(row, "provider"));
		json_t *offers = json_array();

		if (!id || (member && (!provider || strcmp(provider, member) != 0))) {
			json_decref(offers);
			continue;
		}
		json_array_foreach(all, j, offer) {
			const char *ds = json_string_value(json_object_get(offer, "dataset"));
			if (ds && strcmp(ds, id) == 0)
				json_array_append(offers, offer);
		}
		json_object_set_new(row, "offers", offers);
		json_array_append(out, row);
	}
	return out;
}

/* GET /api/market/datasets[?member=ID] and GET
 * /api/market/negotiations[?member=ID] (docs/registry-api.md "The
 * marketplace in the management API"): the catalogue with every offer,
 * and the negotiations with their agreements, and GET
 * /api/market/invoices[?member=ID], of one member (the provider of a
 * dataset; either party of a negotiation or invoice) or of all. Read only: the
 * marketplace's changes are the members' own, under /dsp and /market. */
static void market_reads(struct call *c, const char *sub)
{
	char canon[NDX_ID_TEXT_MAX];
	struct store *st = c->api->cfg.st;
	json_t *rows = NULL, *offers = NULL, *out = NULL;
	const char *member, *name;
	int bad, rc;

	if (!sub || (strcmp(sub, "datasets") != 0 && strcmp(sub, "negotiations") != 0 &&
		     strcmp(sub, "invoices") != 0)) {
		ndx_http_resp_error(c->resp, 404, "Client.NotFound", "no such path", c->req->path);
		return;
	}
	if (!is_get(c->req->method)) {
		method_not_allowed(c->resp, "GET, HEAD");
		return;
	}
	member = query_id(c, "member", NDX_ID_MEMBER, canon, &bad);
	if (bad)
		return;
	if (strcmp(sub, "invoices") == 0) {
		/* invoice_list_json takes the store lock itself. */
		rc = invoice_list_json(st, member, &out);
		answer_list(c->resp, "invoices", rc, &out);
		return;
	}
	store_lock(st);
	if (strcmp(sub, "datasets") == 0) {
		name = "datasets";
		rc = mstore_dataset_list(st, &rows);
		if (!rc)
			rc = mstore_offer_list(st, NULL, &offers);
		if (!rc && !(out = datasets_with_offers(rows, offers, member)))
			rc = NDX_ENOMEM;
	} else {
		name = "negotiations";
		rc = mstore_neg_list(st, member, &out);
	}
	store_unlock(st);
	json_decref(rows);
	json_decref(offers);
	answer_list(c->resp, name, rc, &out);
}

static void route_api(struct call *c, const char *rest)
{
	const char *m = c->req->method;
	const char *slash = strchr(rest, '/');
	size_t clen = slash ? (size_t)(slash - rest) : strlen(rest);
	const char *sub = slash ? slash + 1 : NULL;
	struct store *st = c->api->cfg.st;
	char id[NDX_ID_TEXT_MAX], f1[NDX_ID_TEXT_MAX], f2[NDX_ID_TEXT_MAX];
	const char *q1, *q2;
	json_t *rows = NULL, *obj;
	int bad, rc;

#define IS(name) (clen == strlen(name) && strncmp(rest, name, clen) == 0)
	if (sub && !*sub)
		goto notfound;
	if (IS("members")) {
		if (!sub) {
			if (is_get(m))
				answer_list(c->resp, "members", store_member_list(st, &rows), &rows);
			else if (strcmp(m, "POST") == 0)
				members_add(c);
			else
				method_not_allowed(c->resp, "GET, HEAD, POST");
		} else if (is_get(m) || strcmp(m, "DELETE") == 0) {
			if (path_id(c, sub, NDX_ID_MEMBER, id))
				return;
			if (is_get(m))
				members_get(c, id);
			else
				delete_obj(c, "member", "member.delete", id, store_member_delete);
		} else {
			method_not_allowed(c->resp, "GET, HEAD, DELETE");
		}
	} else if (IS("subsystems")) {
		if (!sub) {
			if (is_get(m)) {
				q1 = query_id(c, "member", NDX_ID_MEMBER, f1, &bad);
				if (!bad)
					answer_list(c->resp, "subsystems",
						    store_subsystem_list(st, q1, &rows), &rows);
			} else if (strcmp(m, "POST") == 0) {
				subsystems_add(c);
			} else {
				method_not_allowed(c->resp, "GET, HEAD, POST");
			}
		} else if (is_get(m) || strcmp(m, "DELETE") == 0) {
			if (path_id(c, sub, NDX_ID_SUBSYSTEM, id))
				return;
			if (!is_get(m)) {
				delete_obj(c, "subsystem", "subsystem.delete", id,
					   store_subsystem_delete);
			} else if ((rc = store_subsystem_get(st, id, &obj))) {
				store_failed(c->resp, rc, "subsystem", id);
			} else {
				ndx_http_resp_json(c->resp, 200, obj);
			}
		} else {
			method_not_allowed(c->resp, "GET, HEAD, DELETE");
		}
	} else if (IS("gateways")) {
		if (!sub) {
			if (is_get(m)) {
				q1 = query_id(c, "member", NDX_ID_MEMBER, f1, &bad);
				if (!bad) {
					rc = store_gateway_list(st, q1, &rows);
					if (!rc)
						gateways_validity(rows);
					answer_list(c->resp, "gateways", rc, &rows);
				}
			} else if (strcmp(m, "POST") == 0) {
				gateways_add(c);
			} else {
				method_not_allowed(c->resp, "GET, HEAD, POST");
			}
		} else if (strlen(sub) > strlen(ROTATION_SUFFIX) &&
			   strcmp(sub + strlen(sub) - strlen(ROTATION_SUFFIX), ROTATION_SUFFIX) == 0) {
			if (strcmp(m, "POST") == 0)
				gateways_rotate(c, sub, strlen(sub) - strlen(ROTATION_SUFFIX));
			else
				method_not_allowed(c->resp, "POST");
		} else if (is_get(m) || strcmp(m, "DELETE") == 0) {
			gateways_one(c, sub, !is_get(m));
		} else {
			method_not_allowed(c->resp, "GET, HEAD, DELETE");
		}
	} else if (IS("services")) {
		size_t sl = sub ? strlen(sub) : 0, bl = strlen(BULK_SUFFIX);

		if (sl > bl && strcmp(sub + sl - bl, BULK_SUFFIX) == 0) {
			services_set_bulk(c, sub, sl - bl);
		} else if (!sub) {
			if (is_get(m)) {
				q1 = query_id(c, "subsystem", NDX_ID_SUBSYSTEM, f1, &bad);
				if (!bad)
					answer_list(c->resp, "services",
						    store_service_list(st, q1, &rows), &rows);
			} else if (strcmp(m, "POST") == 0) {
				services_add(c);
			} else {
				method_not_allowed(c->resp, "GET, HEAD, POST");
			}
		} else if (is_get(m) || strcmp(m, "DELETE") == 0) {
			if (path_id(c, sub, NDX_ID_SERVICE, id))
				return;
			if (!is_get(m)) {
				delete_obj(c, "service", "service.delete", id, store_service_delete);
			} else if ((rc = store_service_get(st, id, &obj))) {
				store_failed(c->resp, rc, "service", id);
			} else {
				ndx_http_resp_json(c->resp, 200, obj);
			}
		} else {
			method_not_allowed(c->resp, "GET, HEAD, DELETE");
		}
	} else if (IS("grants")) {
		if (!sub) {
			if (is_get(m)) {
				q1 = ndx_http_query_arg(c->req, "client");
				q1 = query_id(c, "client", client_kind(q1 ? q1 : ""), f1, &bad);
				if (bad)
					return;
				q2 = query_id(c, "service", NDX_ID_SERVICE, f2, &bad);
				if (!bad)
					answer_list(c->resp, "grants",
						    store_grant_list(st, q1, q2, &rows), &rows);
			} else if (strcmp(m, "POST") == 0) {
				grants_add(c);
			} else {
				method_not_allowed(c->resp, "GET, HEAD, POST");
			}
		} else if (is_get(m) || strcmp(m, "DELETE") == 0) {
			grants_one(c, sub, !is_get(m));
		} else {
			method_not_allowed(c->resp, "GET, HEAD, DELETE");
		}
	} else if (IS("revocations") && !sub) {
		if (is_get(m))
			answer_list(c->resp, "revocations", store_revocation_list(st, &rows), &rows);
		else if (strcmp(m, "POST") == 0)
			revocations_add(c);
		else
			method_not_allowed(c->resp, "GET, HEAD, POST");
	} else if (IS("consent-services")) {
		if (!sub) {
			if (is_get(m))
				answer_list(c->resp, "consent_services",
					    store_consent_service_list(st, &rows), &rows);
			else if (strcmp(m, "POST") == 0)
				consent_services_add(c);
			else
				method_not_allowed(c->resp, "GET, HEAD, POST");
		} else if (is_get(m) || strcmp(m, "DELETE") == 0) {
			if (path_id(c, sub, NDX_ID_SUBSYSTEM, id))
				return;
			if (!is_get(m)) {
				delete_obj(c, "consent service", "consent_service.delete", id,
					   store_consent_service_delete);
			} else if ((rc = store_consent_service_get(st, id, &obj))) {
				store_failed(c->resp, rc, "consent service", id);
			} else {
				ndx_http_resp_json(c->resp, 200, obj);
			}
		} else {
			method_not_allowed(c->resp, "GET, HEAD, DELETE");
		}
	} else if (IS("embargoes")) {
		route_embargoes(c, sub);
	} else if (IS("id-providers")) {
		route_id_providers(c, sub);
	} else if (IS("event-types")) {
		route_event_types(c, sub);
	} else if (IS("subscriptions")) {
		route_subscriptions(c, sub);
	} else if (IS("monitoring") && !sub) {
		route_monitoring(c);
	} else if (IS("overview") && !sub) {
		if (is_get(m))
			overview(c);
		else
			method_not_allowed(c->resp, "GET, HEAD");
	} else if (IS("officials")) {
		route_officials(c, sub);
	} else if (IS("market")) {
		market_reads(c, sub);
	} else if (IS("audit") && !sub) {
		if (is_get(m))
			audit_page(c);
		else
			method_not_allowed(c->resp, "GET, HEAD");
	} else {
		goto notfound;
	}
	return;
#undef IS
notfound:
	ndx_http_resp_error(c->resp, 404, "Client.NotFound", "no such path", c->req->path);
}

/* ---- public endpoints ------------------------------------------------------------------------ */

/* GET /conf[?since=V]: the signed document, or, when the caller names the
 * version it holds (V) and this node still has that version's document,
 * the signed delta from it (docs/protocol.md "Configuration deltas"). */
static void serve_conf(struct api *api, const struct ndx_http_req *req,
		       struct ndx_http_resp *resp)
{
	const struct conf_signed *doc;
	const struct conf_delta *delta = NULL;
	char etag[64], cache[64], from[32];
	const char *inm, *since = ndx_http_query_arg(req, "since");
	unsigned max_age = api->cfg.conf_validity / 4;
	uint64_t v = 0;
	int rc;

	if (since) {
		char *end;
		unsigned long long x;

		errno = 0;
		x = strtoull(since, &end, 10);
		if (errno || end == since || *end || *since == '-' || *since == '+' || x == 0) {
			ndx_http_resp_error(resp, 400, "Client.BadRequest", "bad request",
					    "since must be a positive version number");
			return;
		}
		v = (uint64_t)x;
	}
	rc = v ? confgen_get_delta(api->cfg.cg, time(NULL), v, &doc, &delta)
	       : confgen_get(api->cfg.cg, time(NULL), &doc);
	if (rc) {
		ndx_http_resp_error(resp, 500, "Server.Internal",
				    "cannot produce the configuration", "see the registry's log");
		return;
	}
	snprintf(etag, sizeof etag, "\"%llu-%lld\"", (unsigned long long)doc->version,
		 (long long)doc->generated_at);
	snprintf(cache, sizeof cache, "public, max-age=%u", max_age > 60 ? 60 : max_age);
	inm = ndx_http_header(req, "If-None-Match");
	if (inm && strcmp(inm, etag) == 0) {
		ndx_http_resp_bytes(resp, 304, "application/json", "", 0);
		delta = NULL;
	} else if (delta) {
		ndx_http_resp_bytes(resp, 200, "application/json", delta->body, delta->len);
	} else {
		ndx_http_resp_bytes(resp, 200, "application/json", doc->body, doc->len);
	}
	if (delta) {
		snprintf(from, sizeof from, "%llu", (unsigned long long)delta->from_version);
		ndx_http_resp_header(resp, "Ndx-Conf-Signature", delta->sig);
		ndx_http_resp_header(resp, "Ndx-Conf-Delta-From", from);
	} else {
		ndx_http_resp_header(resp, "Ndx-Conf-Signature", doc->sig);
	}
	ndx_http_resp_header(resp, "ETag", etag);
	ndx_http_resp_header(resp, "Cache-Control", cache);
	confgen_release(api->cfg.cg, doc);
}

static void serve_openapi(struct api *api, const struct ndx_http_req *req,
			  struct ndx_http_resp *resp, const char *sub)
{
	struct call c = { .api = api, .req = req, .resp = resp };
	char id[NDX_ID_TEXT_MAX];
	char *text;
	size_t len;
	int rc;

	if (path_id(&c, sub, NDX_ID_SERVICE, id))
		return;
	rc = store_service_openapi(api->cfg.st, id, &text, &len);
	if (rc == NDX_ENOTFOUND) {
		char detail[2 * NDX_ID_TEXT_MAX + 128];
		snprintf(detail, sizeof detail, "no OpenAPI document for service %s", id);
		ndx_http_resp_error(resp, 404, "Client.NotFound", "not found", detail);
		return;
	}
	if (rc) {
		internal(resp);
		return;
	}
	ndx_http_resp_bytes(resp, 200, "application/json", text, len);
	free(text);
}

void api_handle(void *ctx, const struct ndx_http_req *req, struct ndx_http_resp *resp)
{
	struct api *api = ctx;
	const char *p = req->path;

	if (strncmp(p, "/api/", 5) == 0 || strcmp(p, "/api") == 0) {
		char actor[ACTOR_MAX], member[NDX_ID_TEXT_MAX];
		struct call c = { .api = api, .req = req, .resp = resp, .actor = actor };
		/* Authenticate before looking at the path, so that nothing about
		 * the management API leaks to an anonymous caller. A bearer token
		 * wins over a cookie; without one, a console session may do. */
		if (!ndx_http_header(req, "Authorization") && official_call(api, req, resp, actor)) {
			if (actor[0])
				route_api(&c, p[4] ? p + 5 : "");
			return;
		}
		if (!authenticate(api, req, resp, actor, member))
			return;
		if (member[0]) {
			ndx_http_resp_error(resp, 403, "Client.Forbidden", "not an admin credential",
					    "a member's credential acts in the marketplace only");
			return;
		}
		route_api(&c, p[4] ? p + 5 : "");
		return;
	}
	if (ndx_console_path(p)) {
		ndx_console_handle(api->cfg.console, req, resp, REG_CONSOLE_HINT);
		return;
	}
	if (market_path(p)) {
		char actor[TOKEN_NAME_MAX + 1], member[NDX_ID_TEXT_MAX];
		struct market_caller who = { 0 };
		/* The catalogue is open to anonymous callers; a credential that
		 * is sent must be valid. */
		if (ndx_http_header(req, "Authorization")) {
			if (!authenticate(api, req, resp, actor, member))
				return;
			who.name = actor;
			who.member = member[0] ? member : NULL;
		}
		if (invoice_path(p))
			invoice_handle(api->cfg.st, &who, api->cfg.banks, api->cfg.nbanks, req,
				       resp);
		else
			market_handle(api->cfg.st, &who, req, resp);
		return;
	}
	if (strcmp(p, "/witness") == 0) {
		witness_handle(api->cfg.st, api->cfg.sign_key, req, resp);
		return;
	}
	if (strcmp(p, "/healthz") == 0 || strcmp(p, "/conf") == 0 || strcmp(p, "/anchor") == 0 ||
	    strcmp(p, "/ca.pem") == 0 || strncmp(p, "/openapi/", 9) == 0) {
		if (!is_get(req->method)) {
			method_not_allowed(resp, "GET, HEAD");
			return;
		}
		if (strcmp(p, "/healthz") == 0) {
			uint64_t v;
			if (store_conf_version(api->cfg.st, &v))
				internal(resp);
			else
				ndx_http_resp_json(resp, 200, json_pack("{sssI}", "status", "ok",
									"conf_version", (json_int_t)v));
		} else if (strcmp(p, "/conf") == 0) {
			/* An agreement that has run out leaves the configuration
			 * before it is served (docs/marketplace.md). */
			if (market_expire(api->cfg.st, time(NULL)))
				fprintf(stderr, "ndx-registry: cannot expire marketplace agreements\n");
			serve_conf(api, req, resp);
		} else if (strcmp(p, "/anchor") == 0) {
			ndx_http_resp_bytes(resp, 200, "application/json", api->cfg.anchor_json,
					    api->cfg.anchor_len);
		} else if (strcmp(p, "/ca.pem") == 0) {
			ndx_http_resp_bytes(resp, 200, "application/x-pem-file", api->cfg.ca_pem,
					    strlen(api->cfg.ca_pem));
		} else {
			serve_openapi(api, req, resp, p + 9);
		}
		return;
	}
	ndx_http_resp_error(resp, 404, "Client.NotFound", "no such path", p);
}

int api_new(const struct api_config *cfg, struct api **out)
{
	struct api *api = calloc(1, sizeof *api);
	int rc;

	*out = NULL;
	if (!api)
		return NDX_ENOMEM;
	api->cfg = *cfg;
	pthread_mutex_init(&api->tok_mu, NULL);
	if ((rc = load_tokens(api))) {
		api_free(api);
		return rc;
	}
	*out = api;
	return NDX_OK;
}

void api_free(struct api *api)
{
	if (!api)
		return;
	free(api->tokens);
	pthread_mutex_destroy(&api->tok_mu);
	free(api);
}
