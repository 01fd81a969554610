/* A federation file checked and compared with the registry (pure logic of
 * `ndx federation apply|export`): each kind of thing the management API
 * manages has a canonical form, one normaliser turns both the file's items
 * and the registry's rows into it, and the plan is the difference between
 * the state the file asks for and the registry's, in an order the API
 * accepts. Overview and format: docs/federation-file.md. */
#include "federation_plan.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ndx/conf.h"
#include "ndx/encode.h"
#include "ndx/err.h"
#include "ndx/id.h"
#include "ndx/key.h"
#include "ndx/text.h"

#define NAME_MAX_BYTES 512
#define PEM_MAX 8192

struct kind_info {
	const char *section;
	const char *singular;
	const char *fields[8]; /* NULL-terminated; the file form */
	const char *keys[5];   /* NULL-terminated; what names an item */
};

static const struct kind_info KINDS[FED_NKINDS] = {
	[FED_MEMBER] = { "members", "member", { "id", "name" }, { "id" } },
	[FED_SUBSYSTEM] = { "subsystems", "subsystem", { "id" }, { "id" } },
	[FED_SERVICE] = { "services", "service",
			  { "id", "title", "personal", "purposes", "bulk_purposes",
			    "consent_required", "openapi" },
			  { "id" } },
	[FED_GATEWAY] = { "gateways", "gateway",
			  { "member", "code", "address", "sign_public_key", "tls_csr" },
			  { "member", "code" } },
	[FED_CONSENT_SERVICE] = { "consent_services", "consent service",
				  { "id", "url", "sign_public_key" }, { "id" } },
	[FED_ID_PROVIDER] = { "id_providers", "id provider", { "issuer", "sign_key" },
			      { "issuer" } },
	[FED_EMBARGO] = { "embargoes", "embargo", { "purpose", "seconds" }, { "purpose" } },
	[FED_EVENT_TYPE] = { "event_types", "event type", { "service", "name", "title", "schema" },
			     { "service", "name" } },
	[FED_GRANT] = { "grants", "grant", { "client", "service", "methods", "paths" },
			{ "client", "service", "methods", "paths" } },
	[FED_SUBSCRIPTION] = { "subscriptions", "subscription",
			       { "client", "service", "event", "purpose", "retry" },
			       { "client", "service", "event" } },
	[FED_MONITORING] = { "monitoring_client", "monitoring client", { "client" },
			     { "client" } },
};

const char *fed_section(enum fed_kind kind)
{
	return KINDS[kind].section;
}

const char *fed_singular(enum fed_kind kind)
{
	return KINDS[kind].singular;
}

__attribute__((format(printf, 5, 6))) static int fail(char *err, size_t cap, const char *path,
						      const char *field, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(err, cap, "%s%s%s: ", path, field ? "." : "", field ? field : "");

	if (n < 0 || (size_t)n >= cap)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err + n, cap - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

/* ---- field getters ---------------------------------------------------------------- */

static int check_fields(const json_t *in, enum fed_kind kind, const char *path, char *err,
			size_t cap)
{
	const char *name;
	json_t *v;

	if (!json_is_object(in))
		return fail(err, cap, path, NULL, "must be an object");
	json_object_foreach((json_t *)in, name, v) {
		size_t i;
		for (i = 0; KINDS[kind].fields[i]; i++)
			if (strcmp(name, KINDS[kind].fields[i]) == 0)
				break;
		if (!KINDS[kind].fields[i])
			return fail(err, cap, path, name, "not a field of a %s", KINDS[kind].singular);
	}
	return 0;
}

/* A string field: 1 when present, 0 when absent (or null and !required),
 * -1 after writing why. */
static int get_str(const json_t *in, const char *name, int required, size_t max,
		   const char *path, const char **out, char *err, size_t cap)
{
	const json_t *v = json_object_get(in, name);

	*out = NULL;
	if (!v || json_is_null(v)) {
		if (required)
			return fail(err, cap, path, name, "missing");
		return 0;
	}
	if (!json_is_string(v) || json_string_length(v) == 0)
		return fail(err, cap, path, name, "must be a non-empty string");
	if (json_string_length(v) > max)
		return fail(err, cap, path, name, "longer than %zu bytes", max);
	if (strlen(json_string_value(v)) != json_string_length(v))
		return fail(err, cap, path, name, "holds a NUL character");
	*out = json_string_value(v);
	return 1;
}

static int get_text(const json_t *in, const char *name, int required, const char *path,
		    const char **out, char *err, size_t cap)
{
	size_t off;
	const char *why;
	int rc = get_str(in, name, required, NAME_MAX_BYTES, path, out, err, cap);

	if (rc == 1 && ndx_text_check(*out, strlen(*out), &off, &why) != NDX_OK)
		return fail(err, cap, path, name, "%s at byte %zu is not allowed", why, off);
	return rc;
}

static int get_bool(const json_t *in, const char *name, const char *path, int *out, char *err,
		    size_t cap)
{
	const json_t *v = json_object_get(in, name);

	*out = 0;
	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return fail(err, cap, path, name, "must be true or false");
	*out = json_is_true(v);
	return 0;
}

/* An id of the given kind, canonical text into buf. */
static int get_id(const json_t *in, const char *name, enum ndx_id_kind kind, const char *path,
		  char *buf, size_t bufcap, char *err, size_t cap)
{
	static const char *const kind_name[] = { "", "", "", "member", "subsystem", "service" };
	struct ndx_id id;
	const char *s, *why = NULL;

	if (get_str(in, name, 1, NDX_ID_TEXT_MAX, path, &s, err, cap) < 0)
		return -1;
	if (ndx_id_parse(s, strlen(s), kind, &id, &why) != NDX_OK)
		return fail(err, cap, path, name, "not a %s id (%s)", kind_name[kind],
			    why ? why : "malformed");
	if (ndx_id_format(&id, buf, bufcap) < 0)
		return fail(err, cap, path, name, "too long");
	return 0;
}

static int purpose_ok(const char *s)
{
	return ndx_purpose_valid(s);
}

static int method_ok(const char *s)
{
	return ndx_grant_method_valid(s);
}

static int path_pattern_ok(const char *s)
{
	return ndx_grant_path_valid(s);
}

static int event_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64 || !((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')))
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '.' || *s == '-'))
			return 0;
	return 1;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A list of strings each accepted by ok, sorted (order carries no meaning
 * to the registry), none twice. Absent: a copy of dflt, or an error when
 * dflt is NULL. */
static json_t *get_list(const json_t *in, const char *name, int (*ok)(const char *),
			const char *rule, const char *dflt, const char *path, char *err, size_t cap)
{
	const json_t *v = json_object_get(in, name);
	const char **s;
	json_t *out;
	size_t n, i;

	if (!v || json_is_null(v)) {
		if (!dflt) {
			fail(err, cap, path, name, "missing");
			return NULL;
		}
		return dflt[0] ? json_pack("[s]", dflt) : json_array();
	}
	if (!json_is_array(v)) {
		fail(err, cap, path, name, "must be an array of strings");
		return NULL;
	}
	n = json_array_size(v);
	s = calloc(n + 1, sizeof *s);
	if (!s) {
		fail(err, cap, path, name, "out of memory");
		return NULL;
	}
	for (i = 0; i < n; i++) {
		const json_t *e = json_array_get(v, i);
		char where[64];
		snprintf(where, sizeof where, "%s[%zu]", name, i);
		if (!json_is_string(e) || !ok(json_string_value(e)) ||
		    strlen(json_string_value(e)) != json_string_length(e)) {
			fail(err, cap, path, where, "%s", rule);
			free(s);
			return NULL;
		}
		s[i] = json_string_value(e);
	}
	qsort(s, n, sizeof *s, cmp_str);
	out = json_array();
	for (i = 0; out && i < n; i++) {
		if (i > 0 && strcmp(s[i], s[i - 1]) == 0) {
			fail(err, cap, path, name, "lists \"%s\" twice", s[i]);
			json_decref(out);
			out = NULL;
			break;
		}
		if (json_array_append_new(out, json_string(s[i]))) {
			fail(err, cap, path, name, "out of memory");
			json_decref(out);
			out = NULL;
		}
	}
	free(s);
	return out;
}

/* An Ed25519 public key in PEM, rewritten in ndx's own PEM form so that the
 * file's and the registry's compare as text. */
static json_t *get_pem(const json_t *in, const char *name, const char *path, char *err, size_t cap)
{
	struct ndx_key *key = NULL;
	const char *s;
	char *pem;
	json_t *out;

	if (get_str(in, name, 1, PEM_MAX, path, &s, err, cap) < 0)
		return NULL;
	if (ndx_key_from_pem(s, strlen(s), &key) != NDX_OK) {
		fail(err, cap, path, name, "not an Ed25519 key in PEM form");
		return NULL;
	}
	if (ndx_key_has_private(key)) {
		ndx_key_free(key);
		fail(err, cap, path, name, "a private key: give the public key");
		return NULL;
	}
	if (!ndx_key_verifiable(key)) {
		ndx_key_free(key);
		fail(err, cap, path, name,
		     "not a point of prime order on Ed25519's curve: no signature could be verified with it");
		return NULL;
	}
	pem = ndx_key_public_pem(key);
	ndx_key_free(key);
	out = pem ? json_string(pem) : NULL;
	free(pem);
	if (!out)
		fail(err, cap, path, name, "out of memory");
	return out;
}

static int url_ok(const char *s)
{
	return strncmp(s, "https://", 8) == 0 || strncmp(s, "http://", 7) == 0;
}

/* ---- one normaliser a kind ---------------------------------------------------------- */

static json_t *norm_member(const json_t *in, const char *path, char *err, size_t cap)
{
	char id[NDX_ID_TEXT_MAX];
	const char *name;

	if (get_id(in, "id", NDX_ID_MEMBER, path, id, sizeof id, err, cap) < 0 ||
	    get_text(in, "name", 1, path, &name, err, cap) < 0)
		return NULL;
	return json_pack("{ssss}", "id", id, "name", name);
}

static json_t *norm_subsystem(const json_t *in, const char *path, char *err, size_t cap)
{
	char id[NDX_ID_TEXT_MAX];

	if (get_id(in, "id", NDX_ID_SUBSYSTEM, path, id, sizeof id, err, cap) < 0)
		return NULL;
	return json_pack("{ss}", "id", id);
}

static json_t *norm_service(const json_t *in, const char *path, char *err, size_t cap)
{
	static const char rule[] = "a purpose is 1 to 64 characters from a-z 0-9 -";
	char id[NDX_ID_TEXT_MAX];
	const char *title;
	int personal, consent;
	json_t *purposes = NULL, *bulk = NULL, *openapi = json_object_get(in, "openapi");
	size_t i;

	if (get_id(in, "id", NDX_ID_SERVICE, path, id, sizeof id, err, cap) < 0 ||
	    get_text(in, "title", 1, path, &title, err, cap) < 0 ||
	    get_bool(in, "personal", path, &personal, err, cap) < 0 ||
	    get_bool(in, "consent_required", path, &consent, err, cap) < 0 ||
	    !(purposes = get_list(in, "purposes", purpose_ok, rule, "", path, err, cap)) ||
	    !(bulk = get_list(in, "bulk_purposes", purpose_ok, rule, "", path, err, cap)))
		goto bad;
	if (personal && json_array_size(purposes) == 0) {
		fail(err, cap, path, "purposes", "a personal service needs at least one purpose");
		goto bad;
	}
	if (consent && !personal) {
		fail(err, cap, path, "consent_required", "only a personal service can require consent");
		goto bad;
	}
	if (json_array_size(bulk) > 0 && (!personal || consent)) {
		fail(err, cap, path, "bulk_purposes",
		     "only a personal service without consent_required may have bulk purposes");
		goto bad;
	}
	for (i = 0; i < json_array_size(bulk); i++) {
		const char *b = json_string_value(json_array_get(bulk, i));
		size_t j;
		for (j = 0; j < json_array_size(purposes); j++)
			if (strcmp(b, json_string_value(json_array_get(purposes, j))) == 0)
				break;
		if (j == json_array_size(purposes)) {
			fail(err, cap, path, "bulk_purposes", "\"%s\" is not one of its purposes", b);
			goto bad;
		}
	}
	if (openapi && !json_is_null(openapi) && !json_is_object(openapi)) {
		fail(err, cap, path, "openapi", "must be a JSON object (the OpenAPI document)");
		goto bad;
	}
	return json_pack("{sssssbsososbso}", "id", id, "title", title, "personal", personal,
			 "purposes", purposes, "bulk_purposes", bulk, "consent_required", consent,
			 "openapi",
			 json_is_object(openapi) ? json_deep_copy(openapi) : json_null());
bad:
	json_decref(purposes);
	json_decref(bulk);
	return NULL;
}

static json_t *norm_gateway(const json_t *in, const char *path, char *err, size_t cap)
{
	char member[NDX_ID_TEXT_MAX], sub[NDX_ID_TEXT_MAX * 2];
	const char *code, *address, *csr;
	struct ndx_id id;
	json_t *key, *out;

	if (get_id(in, "member", NDX_ID_MEMBER, path, member, sizeof member, err, cap) < 0 ||
	    get_str(in, "code", 1, NDX_ID_PART_MAX * 3, path, &code, err, cap) < 0 ||
	    get_text(in, "address", 1, path, &address, err, cap) < 0 ||
	    get_str(in, "tls_csr", 0, PEM_MAX * 2, path, &csr, err, cap) < 0)
		return NULL;
	/* A code has the alphabet of an id's part. */
	snprintf(sub, sizeof sub, "%s/%s", member, code);
	if (ndx_id_parse(sub, strlen(sub), NDX_ID_SUBSYSTEM, &id, NULL) != NDX_OK) {
		fail(err, cap, path, "code", "not a gateway code (1 to 64 characters from "
					     "A-Z a-z 0-9 ' ( ) + , - . = ?)");
		return NULL;
	}
	if (!(key = get_pem(in, "sign_public_key", path, err, cap)))
		return NULL;
	out = json_pack("{sssssssoss*}", "member", member, "code", id.subsystem, "address", address,
			"sign_public_key", key, "tls_csr", csr);
	return out;
}

static json_t *norm_consent_service(const json_t *in, const char *path, char *err, size_t cap)
{
	char id[NDX_ID_TEXT_MAX];
	const char *url;
	json_t *key;

	if (get_id(in, "id", NDX_ID_SUBSYSTEM, path, id, sizeof id, err, cap) < 0 ||
	    get_text(in, "url", 1, path, &url, err, cap) < 0)
		return NULL;
	if (!url_ok(url)) {
		fail(err, cap, path, "url", "must start with https:// (or http:// to a loopback host)");
		return NULL;
	}
	if (!(key = get_pem(in, "sign_public_key", path, err, cap)))
		return NULL;
	return json_pack("{ssssso}", "id", id, "url", url, "sign_public_key", key);
}

static json_t *norm_id_provider(const json_t *in, const char *path, char *err, size_t cap)
{
	const char *issuer, *key;
	uint8_t *raw = NULL;
	size_t rawlen = 0;

	if (get_text(in, "issuer", 1, path, &issuer, err, cap) < 0 ||
	    get_str(in, "sign_key", 1, 128, path, &key, err, cap) < 0)
		return NULL;
	if (!url_ok(issuer)) {
		fail(err, cap, path, "issuer", "must start with https:// (or http:// to a loopback host)");
		return NULL;
	}
	if (ndx_b64_decode(key, strlen(key), 0, &raw, &rawlen) != NDX_OK ||
	    rawlen != NDX_ED25519_PUBLIC_LEN) {
		free(raw);
		fail(err, cap, path, "sign_key", "not the base64 of a raw 32-byte Ed25519 public key");
		return NULL;
	}
	free(raw);
	return json_pack("{ssss}", "issuer", issuer, "sign_key", key);
}

static int get_int(const json_t *in, const char *name, json_int_t lo, json_int_t hi,
		   json_int_t dflt, int required, const char *path, json_int_t *out, char *err,
		   size_t cap)
{
	const json_t *v = json_object_get(in, name);

	*out = dflt;
	if (!v) {
		if (required)
			return fail(err, cap, path, name, "missing");
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
		return fail(err, cap, path, name, "must be a whole number from %lld to %lld",
			    (long long)lo, (long long)hi);
	*out = json_integer_value(v);
	return 0;
}

static json_t *norm_embargo(const json_t *in, const char *path, char *err, size_t cap)
{
	const char *purpose;
	json_int_t seconds;

	if (get_str(in, "purpose", 1, NDX_PURPOSE_MAX, path, &purpose, err, cap) < 0 ||
	    get_int(in, "seconds", 1, 3155760000LL, 0, 1, path, &seconds, err, cap) < 0)
		return NULL;
	if (!purpose_ok(purpose)) {
		fail(err, cap, path, "purpose", "a purpose is 1 to 64 characters from a-z 0-9 -");
		return NULL;
	}
	return json_pack("{sssI}", "purpose", purpose, "seconds", seconds);
}

static json_t *norm_event_type(const json_t *in, const char *path, char *err, size_t cap)
{
	char service[NDX_ID_TEXT_MAX];
	const char *name, *title;
	const json_t *schema = json_object_get(in, "schema");

	if (get_id(in, "service", NDX_ID_SERVICE, path, service, sizeof service, err, cap) < 0 ||
	    get_str(in, "name", 1, 64, path, &name, err, cap) < 0 ||
	    get_text(in, "title", 0, path, &title, err, cap) < 0)
		return NULL;
	if (!event_name_ok(name)) {
		fail(err, cap, path, "name", "1 to 64 characters from a-z 0-9 . -, the first a "
					     "letter or digit");
		return NULL;
	}
	if (!json_is_object(schema)) {
		fail(err, cap, path, "schema", schema ? "must be a JSON Schema object" : "missing");
		return NULL;
	}
	return json_pack("{sssssOso}", "service", service, "name", name, "schema", schema, "title",
			 title ? json_string(title) : json_null());
}

static json_t *norm_grant(const json_t *in, const char *path, char *err, size_t cap)
{
	char client[NDX_ID_TEXT_MAX], service[NDX_ID_TEXT_MAX], tmp[64];
	json_t *methods = NULL, *paths = NULL;
	const char *c;

	if (get_str(in, "client", 1, NDX_ID_TEXT_MAX, path, &c, err, cap) < 0)
		return NULL;
	if (get_id(in, "client", NDX_ID_SUBSYSTEM, path, client, sizeof client, tmp, sizeof tmp) < 0 &&
	    get_id(in, "client", NDX_ID_MEMBER, path, client, sizeof client, tmp, sizeof tmp) < 0) {
		fail(err, cap, path, "client", "not a subsystem or member id");
		return NULL;
	}
	if (get_id(in, "service", NDX_ID_SERVICE, path, service, sizeof service, err, cap) < 0 ||
	    !(methods = get_list(in, "methods", method_ok,
				 "methods are GET HEAD POST PUT PATCH DELETE OPTIONS", NULL, path,
				 err, cap)) ||
	    !(paths = get_list(in, "paths", path_pattern_ok,
			       "a path pattern is \"*\" or starts with \"/\"", "*", path, err, cap)))
		goto bad;
	if (json_array_size(methods) == 0 || json_array_size(paths) == 0) {
		fail(err, cap, path, json_array_size(methods) ? "paths" : "methods", "is empty");
		goto bad;
	}
	return json_pack("{sssssoso}", "client", client, "service", service, "methods", methods,
			 "paths", paths);
bad:
	json_decref(methods);
	json_decref(paths);
	return NULL;
}

static json_t *norm_subscription(const json_t *in, const char *path, char *err, size_t cap)
{
	char client[NDX_ID_TEXT_MAX], service[NDX_ID_TEXT_MAX], rpath[256];
	const char *event, *purpose, *name;
	const json_t *retry = json_object_get(in, "retry"), *v;
	json_int_t first, max, give_up;

	if (get_id(in, "client", NDX_ID_SUBSYSTEM, path, client, sizeof client, err, cap) < 0 ||
	    get_id(in, "service", NDX_ID_SERVICE, path, service, sizeof service, err, cap) < 0 ||
	    get_str(in, "event", 1, 64, path, &event, err, cap) < 0 ||
	    get_str(in, "purpose", 0, NDX_PURPOSE_MAX, path, &purpose, err, cap) < 0)
		return NULL;
	if (purpose && !purpose_ok(purpose)) {
		fail(err, cap, path, "purpose", "a purpose is 1 to 64 characters from a-z 0-9 -");
		return NULL;
	}
	if (!event_name_ok(event)) {
		fail(err, cap, path, "event", "not an event type name");
		return NULL;
	}
	if (retry && !json_is_null(retry) && !json_is_object(retry)) {
		fail(err, cap, path, "retry", "must be an object");
		return NULL;
	}
	snprintf(rpath, sizeof rpath, "%s.retry", path);
	if (json_is_object(retry))
		json_object_foreach((json_t *)retry, name, v) {
			if (strcmp(name, "first_s") && strcmp(name, "max_s") &&
			    strcmp(name, "give_up_after_s")) {
				fail(err, cap, rpath, name, "not a field of retry");
				return NULL;
			}
		}
	if (get_int(retry, "first_s", 1, 86400, 1, 0, rpath, &first, err, cap) < 0 ||
	    get_int(retry, "max_s", 1, 86400, 300, 0, rpath, &max, err, cap) < 0 ||
	    get_int(retry, "give_up_after_s", 1, 2592000, 86400, 0, rpath, &give_up, err, cap) < 0)
		return NULL;
	if (first > max || max > give_up) {
		fail(err, cap, path, "retry", "needs first_s <= max_s <= give_up_after_s");
		return NULL;
	}
	return json_pack("{sssssssos{sIsIsI}}", "client", client, "service", service, "event", event,
			 "purpose", purpose ? json_string(purpose) : json_null(), "retry", "first_s",
			 first, "max_s", max, "give_up_after_s", give_up);
}

static json_t *norm_monitoring(const json_t *in, const char *path, char *err, size_t cap)
{
	char id[NDX_ID_TEXT_MAX];

	if (get_id(in, "client", NDX_ID_SUBSYSTEM, path, id, sizeof id, err, cap) < 0)
		return NULL;
	return json_pack("{ss}", "client", id);
}

typedef json_t *(*norm_fn)(const json_t *in, const char *path, char *err, size_t cap);

static const norm_fn NORM[FED_NKINDS] = {
	[FED_MEMBER] = norm_member,
	[FED_SUBSYSTEM] = norm_subsystem,
	[FED_SERVICE] = norm_service,
	[FED_GATEWAY] = norm_gateway,
	[FED_CONSENT_SERVICE] = norm_consent_service,
	[FED_ID_PROVIDER] = norm_id_provider,
	[FED_EMBARGO] = norm_embargo,
	[FED_EVENT_TYPE] = norm_event_type,
	[FED_GRANT] = norm_grant,
	[FED_SUBSCRIPTION] = norm_subscription,
	[FED_MONITORING] = norm_monitoring,
};

/* ---- keys, comparison --------------------------------------------------------------- */

/* The text that names an item within its kind ("VN/GOV/BCA/x/y name" for an
 * event type, every field for a grant), into buf. */
static int item_key(enum fed_kind kind, const json_t *item, char *buf, size_t cap)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; KINDS[kind].keys[i]; i++) {
		const json_t *v = json_object_get(item, KINDS[kind].keys[i]);
		int n;
		if (json_is_array(v)) {
			for (size_t j = 0; j < json_array_size(v) && used < cap; j++) {
				n = snprintf(buf + used, cap - used, "%s%s", j ? "," : (i ? " " : ""),
					     json_string_value(json_array_get(v, j)));
				used += n > 0 ? (size_t)n : 0;
			}
			continue;
		}
		if (used >= cap)
			break;
		n = snprintf(buf + used, cap - used, "%s%s", i ? " " : "",
			     json_is_string(v) ? json_string_value(v) : "");
		used += n > 0 ? (size_t)n : 0;
	}
	return used < cap ? 0 : -1;
}

/* Whether a field is the item's own data (not "_path"/"_ref", not the CSR
 * that only registering a gateway needs). */
static int compared(const char *name)
{
	return name[0] != '_' && strcmp(name, "tls_csr") != 0;
}

/* Names the fields in which want and have differ, comma-separated, into
 * buf; returns how many. */
static int diff_fields(const json_t *want, const json_t *have, char *buf, size_t cap)
{
	const char *name;
	json_t *v;
	size_t used = 0;
	int n = 0;

	buf[0] = '\0';
	json_object_foreach((json_t *)want, name, v) {
		if (!compared(name) || json_equal(v, json_object_get(have, name)))
			continue;
		if (used < cap) {
			int w = snprintf(buf + used, cap - used, "%s%s", n ? ", " : "", name);
			used += w > 0 ? (size_t)w : 0;
		}
		n++;
	}
	return n;
}

/* ---- the file as a whole ------------------------------------------------------------ */

/* A lookup of a section: key text -> item. New reference. */
static json_t *index_of(enum fed_kind kind, const json_t *items)
{
	json_t *idx = json_object();
	char key[4096];
	size_t i;
	json_t *it;

	json_array_foreach(items, i, it) {
		item_key(kind, it, key, sizeof key);
		json_object_set(idx, key, it);
	}
	return idx;
}

/* Where an item came from: its place in the file, or what the registry
 * holds (a kind the file leaves out keeps the registry's items). */
static const char *where(enum fed_kind kind, const json_t *item, char *buf, size_t cap)
{
	const char *p = json_string_value(json_object_get(item, "_path"));
	char key[1024];

	if (p)
		return p;
	item_key(kind, item, key, sizeof key);
	snprintf(buf, cap, "the registry's %s %s (kept: the file has no %s)", KINDS[kind].singular,
		 key, KINDS[kind].section);
	return buf;
}

static int parent_text(const char *id, enum ndx_id_kind kind, char *buf, size_t cap)
{
	struct ndx_id full, parent;
	enum ndx_id_kind own = kind == NDX_ID_MEMBER ? NDX_ID_SUBSYSTEM : NDX_ID_SERVICE;

	if (ndx_id_parse(id, strlen(id), own, &full, NULL) != NDX_OK ||
	    ndx_id_parent(&full, kind, &parent) != NDX_OK || ndx_id_format(&parent, buf, cap) < 0)
		return -1;
	return 0;
}

/* Checks that every reference of a section present in st resolves in the
 * section it names, when st has that section. */
static int check_refs(const json_t *st, char *err, size_t cap)
{
	json_t *idx[FED_NKINDS] = { 0 };
	char wbuf[1200], parent[NDX_ID_TEXT_MAX], key[4096];
	const json_t *it;
	size_t i;
	int rc = -1;

#define SECTION(k) json_object_get(st, KINDS[k].section)
#define MISSING(k, text) (idx[k] && !json_object_get(idx[k], (text)))
	for (int k = 0; k < FED_NKINDS; k++)
		if (SECTION(k) && !(idx[k] = index_of((enum fed_kind)k, SECTION(k)))) {
			fail(err, cap, "(state)", NULL, "out of memory");
			goto out;
		}
	json_array_foreach(SECTION(FED_SUBSYSTEM), i, it) {
		const char *id = json_string_value(json_object_get(it, "id"));
		if (parent_text(id, NDX_ID_MEMBER, parent, sizeof parent) == 0 &&
		    MISSING(FED_MEMBER, parent)) {
			fail(err, cap, where(FED_SUBSYSTEM, it, wbuf, sizeof wbuf), "id",
			     "member %s is not in members", parent);
			goto out;
		}
	}
	json_array_foreach(SECTION(FED_SERVICE), i, it) {
		const char *id = json_string_value(json_object_get(it, "id"));
		if (parent_text(id, NDX_ID_SUBSYSTEM, parent, sizeof parent) == 0 &&
		    MISSING(FED_SUBSYSTEM, parent)) {
			fail(err, cap, where(FED_SERVICE, it, wbuf, sizeof wbuf), "id",
			     "subsystem %s is not in subsystems", parent);
			goto out;
		}
	}
	json_array_foreach(SECTION(FED_GATEWAY), i, it) {
		const char *m = json_string_value(json_object_get(it, "member"));
		if (MISSING(FED_MEMBER, m)) {
			fail(err, cap, where(FED_GATEWAY, it, wbuf, sizeof wbuf), "member",
			     "member %s is not in members", m);
			goto out;
		}
	}
	json_array_foreach(SECTION(FED_CONSENT_SERVICE), i, it) {
		const char *id = json_string_value(json_object_get(it, "id"));
		if (MISSING(FED_SUBSYSTEM, id)) {
			fail(err, cap, where(FED_CONSENT_SERVICE, it, wbuf, sizeof wbuf), "id",
			     "subsystem %s is not in subsystems", id);
			goto out;
		}
	}
	json_array_foreach(SECTION(FED_EVENT_TYPE), i, it) {
		const char *s = json_string_value(json_object_get(it, "service"));
		if (MISSING(FED_SERVICE, s)) {
			fail(err, cap, where(FED_EVENT_TYPE, it, wbuf, sizeof wbuf), "service",
			     "service %s is not in services", s);
			goto out;
		}
	}
	json_array_foreach(SECTION(FED_GRANT), i, it) {
		const char *c = json_string_value(json_object_get(it, "client"));
		const char *s = json_string_value(json_object_get(it, "service"));
		struct ndx_id cid;
		enum fed_kind ck = ndx_id_parse(c, strlen(c), NDX_ID_MEMBER, &cid, NULL) == NDX_OK
					   ? FED_MEMBER
					   : FED_SUBSYSTEM;
		if (MISSING(ck, c)) {
			fail(err, cap, where(FED_GRANT, it, wbuf, sizeof wbuf), "client", "%s %s is not in %s",
			     KINDS[ck].singular, c, KINDS[ck].section);
			goto out;
		}
		if (MISSING(FED_SERVICE, s)) {
			fail(err, cap, where(FED_GRANT, it, wbuf, sizeof wbuf), "service",
			     "service %s is not in services", s);
			goto out;
		}
	}
	json_array_foreach(SECTION(FED_SUBSCRIPTION), i, it) {
		const char *c = json_string_value(json_object_get(it, "client"));
		const char *s = json_string_value(json_object_get(it, "service"));
		const json_t *purpose = json_object_get(it, "purpose"), *svc;
		if (MISSING(FED_SUBSYSTEM, c)) {
			fail(err, cap, where(FED_SUBSCRIPTION, it, wbuf, sizeof wbuf), "client",
			     "subsystem %s is not in subsystems", c);
			goto out;
		}
		snprintf(key, sizeof key, "%s %s", s,
			 json_string_value(json_object_get(it, "event")));
		if (MISSING(FED_EVENT_TYPE, key)) {
			fail(err, cap, where(FED_SUBSCRIPTION, it, wbuf, sizeof wbuf), "event",
			     "event type %s is not in event_types", key);
			goto out;
		}
		if (!idx[FED_SERVICE] || !(svc = json_object_get(idx[FED_SERVICE], s)))
			continue;
		if (json_is_true(json_object_get(svc, "personal"))) {
			const json_t *ps = json_object_get(svc, "purposes"), *p;
			size_t j, found = 0;
			json_array_foreach(ps, j, p)
				found |= json_equal(p, purpose);
			if (!found) {
				fail(err, cap, where(FED_SUBSCRIPTION, it, wbuf, sizeof wbuf), "purpose",
				     "service %s is personal: one of its purposes is needed", s);
				goto out;
			}
		} else if (!json_is_null(purpose)) {
			fail(err, cap, where(FED_SUBSCRIPTION, it, wbuf, sizeof wbuf), "purpose",
			     "service %s is not personal: no purpose is allowed", s);
			goto out;
		}
	}
	json_array_foreach(SECTION(FED_MONITORING), i, it) {
		const char *c = json_string_value(json_object_get(it, "client"));
		if (MISSING(FED_SUBSYSTEM, c)) {
			fail(err, cap, "monitoring_client", NULL, "subsystem %s is not in subsystems", c);
			goto out;
		}
	}
	rc = 0;
out:
	for (int k = 0; k < FED_NKINDS; k++)
		json_decref(idx[k]);
	return rc;
#undef SECTION
#undef MISSING
}

/* Normalises the items of one section (in is the file's array) into out,
 * each with "_path", refusing an item named twice. */
static json_t *norm_section(enum fed_kind kind, const json_t *in, char *err, size_t cap)
{
	const char *sec = KINDS[kind].section;
	json_t *out, *seen, *it;
	char path[128], key[4096];
	size_t i;

	if (!json_is_array(in)) {
		fail(err, cap, sec, NULL, "must be an array");
		return NULL;
	}
	out = json_array();
	seen = json_object();
	if (!out || !seen) {
		fail(err, cap, sec, NULL, "out of memory");
		goto bad;
	}
	json_array_foreach(in, i, it) {
		json_t *n;
		const json_t *first;
		snprintf(path, sizeof path, "%s[%zu]", sec, i);
		err[0] = '\0';
		if (check_fields(it, kind, path, err, cap) < 0)
			goto bad;
		if (!(n = NORM[kind](it, path, err, cap))) {
			if (!err[0])
				fail(err, cap, path, NULL, "out of memory");
			goto bad;
		}
		if (item_key(kind, n, key, sizeof key) != 0) {
			fail(err, cap, path, NULL, "longer than %zu bytes in all", sizeof key - 1);
			json_decref(n);
			goto bad;
		}
		if ((first = json_object_get(seen, key))) {
			fail(err, cap, path, NULL, "a second %s %s (the first is %s)", KINDS[kind].singular,
			     key, json_string_value(first));
			json_decref(n);
			goto bad;
		}
		if (json_object_set_new(n, "_path", json_string(path)) ||
		    json_object_set_new(seen, key, json_string(path)) || json_array_append_new(out, n)) {
			fail(err, cap, path, NULL, "out of memory");
			goto bad;
		}
	}
	json_decref(seen);
	return out;
bad:
	json_decref(seen);
	json_decref(out);
	return NULL;
}

int fed_validate(const json_t *doc, json_t **out, char *err, size_t errcap)
{
	const char *name;
	json_t *v, *canon;

	*out = NULL;
	if (!json_is_object(doc))
		return fail(err, errcap, "(top)", NULL, "a federation file is a JSON object");
	json_object_foreach((json_t *)doc, name, v) {
		int k;
		if (strcmp(name, "format") == 0)
			continue;
		for (k = 0; k < FED_NKINDS; k++)
			if (strcmp(name, KINDS[k].section) == 0)
				break;
		if (k == FED_NKINDS)
			return fail(err, errcap, name, NULL, "not a section of a federation file");
	}
	v = json_object_get(doc, "format");
	if (!json_is_string(v) || strcmp(json_string_value(v), FED_FORMAT) != 0)
		return fail(err, errcap, "format", NULL, "must be \"%s\"", FED_FORMAT);
	if (!(canon = json_object()))
		return fail(err, errcap, "(top)", NULL, "out of memory");
	for (int k = 0; k < FED_NKINDS; k++) {
		const json_t *sec = json_object_get(doc, KINDS[k].section);
		json_t *items;
		if (!sec)
			continue;
		if (k == FED_MONITORING) {
			/* "monitoring_client": "ID" | null, one item or none. */
			json_t *wrap;
			if (!json_is_null(sec) && !json_is_string(sec)) {
				json_decref(canon);
				return fail(err, errcap, "monitoring_client", NULL,
					    "a subsystem id or null");
			}
			wrap = json_is_null(sec) ? json_array() : json_pack("[{sO}]", "client", sec);
			items = wrap ? norm_section(FED_MONITORING, wrap, err, errcap) : NULL;
			json_decref(wrap);
			if (items && json_array_size(items))
				json_object_set_new(json_array_get(items, 0), "_path",
						    json_string("monitoring_client"));
		} else {
			items = norm_section((enum fed_kind)k, sec, err, errcap);
		}
		if (!items || json_object_set_new(canon, KINDS[k].section, items)) {
			json_decref(canon);
			return -1;
		}
	}
	if (check_refs(canon, err, errcap) < 0) {
		json_decref(canon);
		return -1;
	}
	*out = canon;
	return 0;
}

/* ---- the registry's state ------------------------------------------------------------ */

/* A raw Ed25519 key (base64) as ndx writes its PEM; NULL when it is not one. */
static json_t *pem_of_raw(const char *b64)
{
	struct ndx_key *key = NULL;
	uint8_t *raw = NULL;
	size_t len = 0;
	char *pem = NULL;
	json_t *out = NULL;

	if (b64 && ndx_b64_decode(b64, strlen(b64), 0, &raw, &len) == NDX_OK &&
	    len == NDX_ED25519_PUBLIC_LEN && ndx_key_from_public_raw(raw, &key) == NDX_OK &&
	    (pem = ndx_key_public_pem(key)))
		out = json_string(pem);
	free(pem);
	free(raw);
	ndx_key_free(key);
	return out;
}

/* The file form of one registry row of kind (the fields of the file, keys
 * turned into PEM), and in *ref what its DELETE names. New reference. */
static json_t *row_to_file(enum fed_kind kind, const json_t *row, json_t **ref)
{
	json_t *f = json_object();

	*ref = NULL;
	if (!f)
		return NULL;
	for (size_t i = 0; KINDS[kind].fields[i]; i++) {
		json_t *v = json_object_get(row, KINDS[kind].fields[i]);
		if (v && !json_is_null(v))
			json_object_set(f, KINDS[kind].fields[i], v);
	}
	switch (kind) {
	case FED_GATEWAY:
	case FED_CONSENT_SERVICE: {
		json_t *pem = pem_of_raw(json_string_value(json_object_get(row, "sign_key")));
		if (pem)
			json_object_set_new(f, "sign_public_key", pem);
		break;
	}
	case FED_GRANT:
	case FED_SUBSCRIPTION:
		*ref = json_incref(json_object_get(row, "id"));
		break;
	default:
		break;
	}
	return f;
}

int fed_from_registry(const json_t *raw, json_t **out, char *err, size_t errcap)
{
	json_t *canon = json_object();

	*out = NULL;
	if (!canon)
		return fail(err, errcap, "registry", NULL, "out of memory");
	for (int k = 0; k < FED_NKINDS; k++) {
		const json_t *rows = json_object_get(raw, KINDS[k].section), *row;
		json_t *items = json_array(), *wrap = NULL;
		char path[128], key[4096];
		size_t i;

		if (k == FED_MONITORING) {
			wrap = json_is_string(rows) ? json_pack("[{sO}]", "client", rows) : json_array();
			rows = wrap;
		}
		if (!items || json_object_set_new(canon, KINDS[k].section, items) || !json_is_array(rows)) {
			json_decref(wrap);
			json_decref(canon);
			return fail(err, errcap, "registry", KINDS[k].section, "missing from its answers");
		}
		json_array_foreach(rows, i, row) {
			json_t *ref, *f = row_to_file((enum fed_kind)k, row, &ref), *n;
			snprintf(path, sizeof path, "the registry's %s[%zu]", KINDS[k].section, i);
			n = f ? NORM[k](f, path, err, errcap) : NULL;
			json_decref(f);
			if (n && item_key((enum fed_kind)k, n, key, sizeof key) != 0) {
				fail(err, errcap, path, NULL, "longer than %zu bytes in all",
				     sizeof key - 1);
				json_decref(n);
				n = NULL;
			}
			if (!n)
				json_decref(ref);
			if (!n || (ref && json_object_set_new(n, "_ref", ref)) ||
			    json_array_append_new(items, n)) {
				json_decref(wrap);
				json_decref(canon);
				return -1;
			}
		}
		json_decref(wrap);
	}
	*out = canon;
	return 0;
}

/* ---- the plan ------------------------------------------------------------------------ */

static int add_step(json_t *steps, const char *op, enum fed_kind kind, const json_t *want,
		    const json_t *have, const char *why)
{
	char key[4096], line[4600];
	json_t *step;

	item_key(kind, want ? want : have, key, sizeof key);
	snprintf(line, sizeof line, "%s %s %s%s%s%s", op, KINDS[kind].singular, key,
		 why ? " (" : "", why ? why : "", why ? ")" : "");
	step = json_pack("{sssiss}", "op", op, "kind", (int)kind, "line", line);
	if (!step || (want && json_object_set(step, "want", (json_t *)want)) ||
	    (have && json_object_set(step, "have", (json_t *)have)) ||
	    json_array_append_new(steps, step))
		return -1;
	return 0;
}

/* What becomes of each item of the target state: key -> {"op", "why"}
 * where op is "same", "create", "update" or "replace". */
static int classify(enum fed_kind kind, const json_t *target, const json_t *hidx, json_t *state,
		    char *err, size_t cap)
{
	char key[4096], fields[512], why[700], wbuf[1200];
	const json_t *it;
	size_t i;

	json_array_foreach(target, i, it) {
		const json_t *h;
		const char *op = "same";
		item_key(kind, it, key, sizeof key);
		h = json_object_get(hidx, key);
		why[0] = '\0';
		if (!h) {
			op = "create";
			if (kind == FED_GATEWAY && !json_object_get(it, "tls_csr"))
				return fail(err, cap, where(kind, it, wbuf, sizeof wbuf), "tls_csr",
					    "missing: the registry has no gateway %s, and registering "
					    "one needs its certificate request", key);
		} else if (diff_fields(it, h, fields, sizeof fields) > 0) {
			snprintf(why, sizeof why, "%s changed", fields);
			if ((kind == FED_SERVICE && strcmp(fields, "bulk_purposes") == 0) ||
			    kind == FED_EMBARGO)
				op = "update";
			else if (kind == FED_MEMBER)
				return fail(err, cap, where(kind, it, wbuf, sizeof wbuf), "name",
					    "the registry calls member %s \"%s\": the management API "
					    "cannot rename a member",
					    key, json_string_value(json_object_get(h, "name")));
			else if (kind == FED_GATEWAY && !json_object_get(it, "tls_csr"))
				return fail(err, cap, where(kind, it, wbuf, sizeof wbuf), NULL,
					    "%s differs from the registry's gateway %s: registering it "
					    "again needs its tls_csr", fields, key);
			else
				op = "replace";
		}
		if (json_object_set_new(state, key, json_pack("{ssss}", "op", op, "why", why)))
			return fail(err, cap, KINDS[kind].section, NULL, "out of memory");
	}
	return 0;
}

static const char *op_of(const json_t *state, const char *key)
{
	return json_string_value(json_object_get(json_object_get(state, key), "op"));
}

/* A thing created again takes the things that name it along: a service its
 * grants and event types, an event type its subscriptions (the API refuses
 * to delete what is still named). */
static void cascade(const json_t *target[FED_NKINDS], json_t *state[FED_NKINDS])
{
	char key[4096], pkey[4096], why[4200];
	int changed = 1;

	while (changed) {
		changed = 0;
		for (int k = FED_EVENT_TYPE; k <= FED_SUBSCRIPTION; k++) {
			const json_t *it;
			size_t i;
			enum fed_kind parent = k == FED_SUBSCRIPTION ? FED_EVENT_TYPE : FED_SERVICE;
			json_array_foreach(target[k], i, it) {
				const char *svc = json_string_value(json_object_get(it, "service"));
				const char *op;
				item_key((enum fed_kind)k, it, key, sizeof key);
				if (strcmp(op_of(state[k], key), "same") != 0 &&
				    strcmp(op_of(state[k], key), "update") != 0)
					continue;
				if (k == FED_SUBSCRIPTION)
					snprintf(pkey, sizeof pkey, "%s %s", svc,
						 json_string_value(json_object_get(it, "event")));
				else
					snprintf(pkey, sizeof pkey, "%s", svc);
				op = op_of(state[parent], pkey);
				if (!op || strcmp(op, "replace") != 0)
					continue;
				snprintf(why, sizeof why, "its %s %s is created again",
					 KINDS[parent].singular, pkey);
				json_object_set_new(state[k], key,
						    json_pack("{ssss}", "op", "replace", "why", why));
				changed = 1;
			}
		}
	}
}

/* Removals, the dependents first: what the target lacks, and the old form
 * of what is created again. */
static int emit_removals(json_t *steps, const json_t *have, json_t *const tidx[FED_NKINDS],
			 json_t *const state[FED_NKINDS])
{
	char key[4096];

	for (int k = FED_NKINDS - 1; k >= 0; k--) {
		const json_t *it;
		size_t i;
		json_array_foreach(json_object_get(have, KINDS[k].section), i, it) {
			const json_t *st;
			int rc = 0;
			item_key((enum fed_kind)k, it, key, sizeof key);
			st = json_object_get(state[k], key);
			if (!json_object_get(tidx[k], key))
				rc = add_step(steps, "remove", (enum fed_kind)k, NULL, it, NULL);
			else if (strcmp(json_string_value(json_object_get(st, "op")), "replace") == 0)
				rc = add_step(steps, "remove", (enum fed_kind)k, NULL, it,
					      json_string_value(json_object_get(st, "why")));
			if (rc < 0)
				return -1;
		}
	}
	return 0;
}

/* Creations and updates, what is named first. */
static int emit_creations(json_t *steps, const json_t *const target[FED_NKINDS],
			  json_t *const hidx[FED_NKINDS], json_t *const state[FED_NKINDS])
{
	char key[4096];

	for (int k = 0; k < FED_NKINDS; k++) {
		const json_t *it;
		size_t i;
		json_array_foreach(target[k], i, it) {
			const json_t *st;
			const char *op;
			int rc = 0;
			item_key((enum fed_kind)k, it, key, sizeof key);
			st = json_object_get(state[k], key);
			op = json_string_value(json_object_get(st, "op"));
			if (strcmp(op, "create") == 0 || strcmp(op, "replace") == 0)
				rc = add_step(steps, "create", (enum fed_kind)k, it, NULL, NULL);
			else if (strcmp(op, "update") == 0)
				rc = add_step(steps, "update", (enum fed_kind)k, it,
					      json_object_get(hidx[k], key),
					      json_string_value(json_object_get(st, "why")));
			if (rc < 0)
				return -1;
		}
	}
	return 0;
}

int fed_plan(const json_t *want, const json_t *have, json_t **out, char *err, size_t errcap)
{
	const json_t *target[FED_NKINDS];
	json_t *tdoc = json_object(), *hidx[FED_NKINDS] = { 0 }, *tidx[FED_NKINDS] = { 0 };
	json_t *state[FED_NKINDS] = { 0 }, *steps = json_array();

	*out = NULL;
	if (!tdoc || !steps) {
		fail(err, errcap, "(plan)", NULL, "out of memory");
		goto done;
	}
	for (int k = 0; k < FED_NKINDS; k++) {
		const json_t *w = json_object_get(want, KINDS[k].section);
		target[k] = w ? w : json_object_get(have, KINDS[k].section);
		if (!target[k] || json_object_set(tdoc, KINDS[k].section, (json_t *)target[k]) ||
		    !(hidx[k] = index_of((enum fed_kind)k, json_object_get(have, KINDS[k].section))) ||
		    !(tidx[k] = index_of((enum fed_kind)k, target[k])) || !(state[k] = json_object())) {
			fail(err, errcap, "(plan)", NULL, "out of memory or %s missing", KINDS[k].section);
			goto done;
		}
	}
	if (check_refs(tdoc, err, errcap) < 0)
		goto done;
	for (int k = 0; k < FED_NKINDS; k++)
		if (classify((enum fed_kind)k, target[k], hidx[k], state[k], err, errcap) < 0)
			goto done;
	cascade(target, state);
	if (emit_removals(steps, have, tidx, state) < 0 ||
	    emit_creations(steps, target, hidx, state) < 0) {
		fail(err, errcap, "(plan)", NULL, "out of memory");
		goto done;
	}
	*out = steps;
	steps = NULL;
done:
	for (int k = 0; k < FED_NKINDS; k++) {
		json_decref(hidx[k]);
		json_decref(tidx[k]);
		json_decref(state[k]);
	}
	json_decref(tdoc);
	json_decref(steps);
	return *out ? 0 : -1;
}

/* ---- export and bodies ---------------------------------------------------------------- */

/* A copy of item without "_" fields, tls_csr unless keep_csr, and nulls. */
static json_t *clean_copy(const json_t *item, int keep_csr)
{
	json_t *c = json_object(), *v;
	const char *name;

	if (!c)
		return NULL;
	json_object_foreach((json_t *)item, name, v) {
		if (name[0] == '_' || json_is_null(v) || (!keep_csr && strcmp(name, "tls_csr") == 0))
			continue;
		if (json_object_set(c, name, v)) {
			json_decref(c);
			return NULL;
		}
	}
	return c;
}

json_t *fed_export(const json_t *canon)
{
	json_t *doc = json_pack("{ss}", "format", FED_FORMAT);

	for (int k = 0; doc && k < FED_NKINDS; k++) {
		const json_t *items = json_object_get(canon, KINDS[k].section), *it;
		json_t *arr;
		size_t i;

		if (k == FED_MONITORING) {
			const json_t *c = json_object_get(json_array_get(items, 0), "client");
			if (json_object_set_new(doc, KINDS[k].section, c ? json_copy((json_t *)c)
									  : json_null()))
				goto bad;
			continue;
		}
		if (!(arr = json_array()) || json_object_set_new(doc, KINDS[k].section, arr))
			goto bad;
		json_array_foreach(items, i, it)
			if (json_array_append_new(arr, clean_copy(it, 0)))
				goto bad;
	}
	return doc;
bad:
	json_decref(doc);
	return NULL;
}

json_t *fed_step_body(const json_t *step)
{
	const json_t *want = json_object_get(step, "want");
	json_int_t kind = json_integer_value(json_object_get(step, "kind"));
	const char *op = json_string_value(json_object_get(step, "op"));

	if (!want)
		return NULL;
	if (kind == FED_EMBARGO)
		return json_pack("{sO}", "seconds", json_object_get(want, "seconds"));
	if (kind == FED_SERVICE && op && strcmp(op, "update") == 0)
		return json_pack("{sO}", "bulk_purposes", json_object_get(want, "bulk_purposes"));
	return clean_copy(want, 1);
}

/* ---- where in the file ---------------------------------------------------------------- */

/* The value at PATH (err's prefix, `name[i].name…`) in doc, or NULL. */
static const json_t *value_at(const json_t *doc, const char *err)
{
	const char *end = strstr(err, ": "), *p = err;
	const json_t *v = doc;

	if (!end)
		return NULL;
	while (p < end && v) {
		size_t n = strcspn(p, ".[:");
		char name[128];

		if (n == 0 || n >= sizeof name || p + n > end)
			return NULL;
		memcpy(name, p, n);
		name[n] = '\0';
		v = json_object_get(v, name);
		p += n;
		while (v && p < end && *p == '[') {
			char *stop;
			unsigned long i = strtoul(p + 1, &stop, 10);
			if (stop == p + 1 || *stop != ']')
				return NULL;
			v = json_array_get(v, i);
			p = stop + 1;
		}
		if (p < end && *p == '.')
			p++;
		else if (p != end)
			return NULL;
	}
	return v;
}

int fed_line(const json_t *doc, const char *text, size_t len, const char *err)
{
	const json_t *v = value_at(doc, err);
	char *want;
	size_t wlen, found = 0, at = 0;
	int line = 1;

	if (!v || json_is_object(v) || json_is_array(v) || json_is_null(v))
		return 0;
	want = json_dumps(v, JSON_ENCODE_ANY);
	if (!want)
		return 0;
	wlen = strlen(want);
	for (size_t i = 0; wlen > 0 && i + wlen <= len; i++)
		if (memcmp(text + i, want, wlen) == 0) {
			found++;
			at = i;
		}
	free(want);
	if (found != 1)
		return 0;
	for (size_t i = 0; i < at; i++)
		line += text[i] == '\n';
	return line;
}
