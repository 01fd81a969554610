/* The anchor and the signed global configuration (docs/protocol.md "The
 * anchor" and "The global configuration"): parsing and validating both
 * documents, the detached Ed25519 signature over the exact bytes of
 * conf.json, the six verification steps, and the indexes a gateway consults
 * on every request (members, subsystems, services, gateways by TLS
 * fingerprint and by member, grants by client and service, revocations,
 * consent services' signing keys, bulk purposes, embargoes by purpose,
 * id providers' signing keys, event types by (service, name), subscriptions
 * by (client, service, name) and by event type).
 * Everything is built once at load; afterwards a struct ndx_conf is only
 * read, so threads share it without locks. */
#include "ndx/conf.h"
#include "ndx/urlpath.h"
#include "conf_int.h"

#include <assert.h>
#include <stdatomic.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ndx/encode.h"
#include "ndx/err.h"
#include "ndx/file.h"
#include "ndx/id.h"
#include "ndx/policy.h"
#include "ndx/timefmt.h"

/* A signature object is ~200 bytes; anything much larger is not one. */
#define SIG_MAX_BYTES 4096u
/* The registry may run a little ahead of a gateway's clock. */
#define CLOCK_SKEW_SECONDS 300
/* "client\nservice": two canonical ids and a separator. */
#define GRANT_KEY_MAX (2 * NDX_ID_TEXT_MAX + 2)
/* "client\nservice\nname": the grant key, a separator and an event name. */
#define EVENT_KEY_MAX (GRANT_KEY_MAX + NDX_CONF_EVENT_NAME_MAX + 1)

static const char *const http_methods[] = {
	"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS",
};

struct anchor_key {
	char id[NDX_KEY_ID_HEX_LEN + 1];
	struct ndx_key *key;
};

struct ndx_anchor {
	char *instance;
	char *registry_urls[NDX_ANCHOR_URLS_MAX]; /* [0] is registry_url */
	size_t n_registry_urls;
	size_t nkeys;
	struct anchor_key *keys;
};

struct ndx_conf {
	json_t *doc;           /* owns every object the lookups hand out */
	uint64_t version;
	const char *instance;  /* borrowed from doc */
	time_t generated_at, expires_at;
	json_t *members;       /* canonical id -> member object */
	json_t *subsystems;    /* canonical id -> subsystem object */
	json_t *services;      /* canonical id -> service object */
	json_t *gw_index;      /* tls_cert_sha256 -> integer index into "gateways" */
	json_t *gw_of;         /* member id -> array of indexes into "gateways" */
	json_t *grants;        /* "client\nservice" -> array of indexes into grant */
	json_t *revoked;       /* revoked value -> true */
	const json_t *gateways;/* borrowed from doc */
	size_t ngw;
	struct ndx_key **gw_keys; /* parallel to gateways */
	struct ndx_conf_gateway *gw; /* parallel to gateways: the typed view */
	struct ndx_conf_service *svc; /* parallel to "services": the typed view */
	struct ndx_conf_member *mem;  /* parallel to "members" */
	size_t nmem;
	json_t *mem_index;     /* canonical id -> integer index into mem */
	json_t *sub_index;     /* canonical id -> integer index into sub */
	struct ndx_conf_subsystem *sub; /* parallel to "subsystems" */
	size_t nsub;
	struct ndx_conf_grant *grant; /* parallel to "grants" */
	size_t ngrant;
	size_t nsvc;
	json_t *svc_index;     /* canonical id -> integer index into svc */
	const char *ca_pem;    /* registry.ca_certificate, borrowed; NULL = none */
	const json_t *consent_services; /* borrowed from doc */
	size_t ncs;
	struct ndx_key **cs_keys; /* parallel to consent_services */
	struct ndx_conf_consent_service *cs; /* parallel to consent_services */
	json_t *embargo;       /* purpose -> embargo object */
	const json_t *id_providers; /* borrowed from doc, NULL when absent */
	size_t nidp;
	struct ndx_key **idp_keys; /* parallel to id_providers */
	struct ndx_conf_event_type *evt; /* parallel to "event_types" */
	size_t nevt;
	json_t *evt_index;     /* "service\nname" -> integer index into evt */
	struct ndx_conf_subscription *subs; /* parallel to "subscriptions" */
	size_t nsubs;
	json_t *subs_index;    /* "client\nservice\nname" -> integer index into subs */
	json_t *subs_of;       /* "service\nname" -> array of indexes into subs */
	const char *monitoring_client; /* monitoring.client, borrowed; NULL = none */
	/* The SHA-256 of each list entry (confdelta.c), made when a delta is
	 * first applied to this configuration; NULL until then. */
	struct ndx_conf_tree *tree;
	/* When not NULL, the indexes of members, subsystems, gateways and
	 * services above are shared with other configurations whose lists are
	 * the same values (a delta that changed none of them) and belong to
	 * base. */
	struct conf_base *base;
};

/* The shared owner of the first four sections' indexes. */
struct conf_base {
	atomic_uint refs;
	struct ndx_conf *owner; /* only those fields set */
};

struct ndx_conf_tree **ndx__conf_tree_slot(struct ndx_conf *conf)
{
	return &conf->tree;
}

/* Where validation errors go. */
struct errbuf {
	char *buf;
	size_t cap;
};

__attribute__((format(printf, 3, 4)))
static int fail(struct errbuf *e, int rc, const char *fmt, ...)
{
	va_list ap;

	if (e->buf != NULL && e->cap > 0) {
		va_start(ap, fmt);
		vsnprintf(e->buf, e->cap, fmt, ap);
		va_end(ap);
	}
	return rc;
}

static bool is_lower_hex(const char *s, size_t n)
{
	if (strlen(s) != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}
	return true;
}

/* Short form of a key id for error sentences: enough to compare by eye. */
static void short_id(const char *id, char out[20])
{
	snprintf(out, 20, "%.16s%s", id, strlen(id) > 16 ? "\xe2\x80\xa6" : "");
}

/* A single id part (instance, member class, gateway code) follows the same
 * character rules as the parts of an id; reuse ndx_id_parse rather than
 * restate them, and insist on the canonical (unescaped) spelling. */
static bool part_ok(const char *s, const char **why)
{
	char text[3 * NDX_ID_PART_MAX + 8];
	struct ndx_id id;
	int n;

	if (strchr(s, '/') != NULL || strchr(s, '%') != NULL) {
		*why = strchr(s, '/') != NULL ? "character '/' is not allowed"
					      : "character '%' is not allowed";
		return false;
	}
	if (*s == '\0') {
		*why = "is empty";
		return false;
	}
	n = snprintf(text, sizeof text, "%s/X/X", s);
	if (n < 0 || (size_t)n >= sizeof text) {
		*why = "is longer than 64 characters";
		return false;
	}
	if (ndx_id_parse(text, (size_t)n, NDX_ID_MEMBER, &id, why) != NDX_OK)
		return false;
	return true;
}

/* ---- small typed getters with element-naming errors ------------------ */

static int get_string(struct errbuf *e, const json_t *obj, const char *where,
		      const char *field, bool required, const char **out)
{
	const json_t *v = json_object_get(obj, field);

	*out = NULL;
	/* null stands for "absent" in optional fields: the registry writes
	 * every field of a row, null where the row has no value. */
	if (v == NULL || (json_is_null(v) && !required)) {
		if (required)
			return fail(e, NDX_EINVAL, "%s%s%s: missing", where, *where ? "." : "",
				    field);
		return NDX_OK;
	}
	if (!json_is_string(v))
		return fail(e, NDX_EINVAL, "%s%s%s: expected a string", where,
			    *where ? "." : "", field);
	*out = json_string_value(v);
	return NDX_OK;
}

static int get_array(struct errbuf *e, const json_t *obj, const char *where,
		     const char *field, const json_t **out)
{
	const json_t *v = json_object_get(obj, field);

	if (v == NULL)
		return fail(e, NDX_EINVAL, "%s%s%s: missing", where, *where ? "." : "", field);
	if (!json_is_array(v))
		return fail(e, NDX_EINVAL, "%s%s%s: expected an array", where,
			    *where ? "." : "", field);
	*out = v;
	return NDX_OK;
}

static int check_optional_bool(struct errbuf *e, const json_t *obj, const char *where,
			       const char *field)
{
	const json_t *v = json_object_get(obj, field);

	if (v != NULL && !json_is_null(v) && !json_is_boolean(v))
		return fail(e, NDX_EINVAL, "%s.%s: expected true or false", where, field);
	return NDX_OK;
}

static int get_time(struct errbuf *e, const json_t *obj, const char *where,
		    const char *field, bool required, time_t *out)
{
	const char *s;
	int rc = get_string(e, obj, where, field, required, &s);

	if (rc != NDX_OK || s == NULL)
		return rc;
	if (ndx_time_parse(s, out) != NDX_OK)
		return fail(e, NDX_EINVAL, "%s%s%s: \"%.40s\" is not an RFC 3339 UTC time "
			    "(YYYY-MM-DDTHH:MM:SSZ)", where, *where ? "." : "", field, s);
	return NDX_OK;
}

/* Reads obj.field as an id of the given kind in canonical form and of the
 * configuration's instance; *text points into the document. */
static int get_id(struct errbuf *e, const json_t *obj, const char *where,
		  const char *field, enum ndx_id_kind kind, const char *instance,
		  const char **text, struct ndx_id *id)
{
	char canon[NDX_ID_TEXT_MAX];
	const char *why = NULL;
	int rc = get_string(e, obj, where, field, true, text);

	if (rc != NDX_OK)
		return rc;
	if (ndx_id_parse(*text, strlen(*text), kind, id, &why) != NDX_OK)
		return fail(e, NDX_EINVAL, "%s.%s: %s", where, field,
			    why != NULL ? why : "malformed id");
	if (ndx_id_format(id, canon, sizeof canon) < 0 || strcmp(canon, *text) != 0)
		return fail(e, NDX_EINVAL, "%s.%s: %.200s is not in canonical form "
			    "(percent-escapes are for URLs only)", where, field, *text);
	if (strcmp(id->instance, instance) != 0)
		return fail(e, NDX_EINVAL, "%s.%s: instance %s is not this configuration's "
			    "instance %s", where, field, id->instance, instance);
	return NDX_OK;
}

/* json_object_set that reports allocation failure as NDX_ENOMEM. */
static int index_put(struct errbuf *e, json_t *index, const char *key, json_t *value)
{
	if (json_object_set(index, key, value) != 0)
		return fail(e, NDX_ENOMEM, "out of memory while indexing the configuration");
	return NDX_OK;
}

static int ensure_object(struct errbuf *e, const json_t *v, const char *where)
{
	if (!json_is_object(v))
		return fail(e, NDX_EINVAL, "%s: expected an object", where);
	return NDX_OK;
}

/* An optional array: absent or null leaves *out NULL (the same as empty). */
static int get_optional_array(struct errbuf *e, const json_t *obj, const char *where,
			      const char *field, const json_t **out)
{
	const json_t *v = json_object_get(obj, field);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return NDX_OK;
	if (!json_is_array(v))
		return fail(e, NDX_EINVAL, "%s%s%s: expected an array", where,
			    *where ? "." : "", field);
	*out = v;
	return NDX_OK;
}

/* The sign_key / sign_key_id pair of a gateway, consent service or id
 * provider: decodes the key once into *key (caller frees, also on failure)
 * and checks that the id is the key's. */
static int parse_sign_key(struct errbuf *e, const char *where, const char *sk,
			  const char *skid, struct ndx_key **key)
{
	char kid[NDX_KEY_ID_HEX_LEN + 1];
	uint8_t *raw = NULL;
	size_t rawlen = 0;
	int rc;

	if (ndx_b64_decode(sk, strlen(sk), 0, &raw, &rawlen) != NDX_OK ||
	    rawlen != NDX_ED25519_PUBLIC_LEN) {
		free(raw);
		return fail(e, NDX_EINVAL, "%s.sign_key: expected base64 of a 32-byte "
			    "Ed25519 public key", where);
	}
	rc = ndx_key_from_public_raw(raw, key);
	free(raw);
	if (rc != NDX_OK)
		return fail(e, rc == NDX_ENOMEM ? rc : NDX_EINVAL,
			    "%s.sign_key: not a usable Ed25519 public key", where);
	ndx_key_id(*key, kid);
	if (strcmp(kid, skid) != 0)
		return fail(e, NDX_EINVAL, "%s.sign_key_id: does not match sign_key "
			    "(its key id is %s)", where, kid);
	return NDX_OK;
}

/* ---- configuration ---------------------------------------------------- */

/* Frees the indexes of members, subsystems, gateways and services. */
static void free_base_fields(struct ndx_conf *conf)
{
	for (size_t i = 0; i < conf->ngw && conf->gw_keys != NULL; i++)
		ndx_key_free(conf->gw_keys[i]);
	free(conf->gw_keys);
	free(conf->gw);
	for (size_t i = 0; i < conf->nsvc && conf->svc != NULL; i++) {
		free((void *)conf->svc[i].purposes);
		free((void *)conf->svc[i].bulk_purposes);
	}
	free(conf->svc);
	json_decref(conf->svc_index);
	free(conf->mem);
	json_decref(conf->mem_index);
	json_decref(conf->sub_index);
	free(conf->sub);
	json_decref(conf->members);
	json_decref(conf->subsystems);
	json_decref(conf->services);
	json_decref(conf->gw_index);
	json_decref(conf->gw_of);
}

static void base_release(struct conf_base *b)
{
	if (b && atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1) {
		free_base_fields(b->owner);
		free(b->owner);
		free(b);
	}
}

/* Gives c the indexes of held's first four sections, shared (held's move
 * to a conf_base the first time). Returns NDX_ENOMEM or NDX_OK. */
static int share_base(struct ndx_conf *held, struct ndx_conf *c)
{
	if (!held->base) {
		struct conf_base *b = calloc(1, sizeof *b);
		struct ndx_conf *o = calloc(1, sizeof *o);

		if (!b || !o) {
			free(b);
			free(o);
			return NDX_ENOMEM;
		}
		*o = *held;
		atomic_init(&b->refs, 1);
		b->owner = o;
		held->base = b;
	}
	atomic_fetch_add_explicit(&held->base->refs, 1, memory_order_relaxed);
	c->base = held->base;
	c->members = held->members;
	c->mem = held->mem;
	c->nmem = held->nmem;
	c->mem_index = held->mem_index;
	c->subsystems = held->subsystems;
	c->sub = held->sub;
	c->nsub = held->nsub;
	c->sub_index = held->sub_index;
	c->gateways = held->gateways;
	c->ngw = held->ngw;
	c->gw_keys = held->gw_keys;
	c->gw = held->gw;
	c->gw_index = held->gw_index;
	c->gw_of = held->gw_of;
	c->services = held->services;
	c->svc = held->svc;
	c->nsvc = held->nsvc;
	c->svc_index = held->svc_index;
	return NDX_OK;
}

/* True when doc's first four sections (and what they are checked
 * against) are the very values of held's document. */
static bool same_base(const struct ndx_conf *held, const struct ndx_conf *c)
{
	static const char *const keys[] = { "member_classes", "members", "subsystems",
					    "gateways", "services" };

	if (!held || strcmp(held->instance, c->instance) != 0)
		return false;
	for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
		if (json_object_get(held->doc, keys[i]) != json_object_get(c->doc, keys[i]) ||
		    json_object_get(c->doc, keys[i]) == NULL)
			return false;
	return true;
}

void ndx_conf_free(struct ndx_conf *conf)
{
	if (conf == NULL)
		return;
	if (conf->base)
		base_release(conf->base);
	else
		free_base_fields(conf);
	for (size_t i = 0; i < conf->ngrant && conf->grant != NULL; i++) {
		free((void *)conf->grant[i].methods);
		free((void *)conf->grant[i].paths);
		free((void *)conf->grant[i].policy);
	}
	free(conf->grant);
	for (size_t i = 0; i < conf->ncs && conf->cs_keys != NULL; i++)
		ndx_key_free(conf->cs_keys[i]);
	free(conf->cs_keys);
	free(conf->cs);
	for (size_t i = 0; i < conf->nidp && conf->idp_keys != NULL; i++)
		ndx_key_free(conf->idp_keys[i]);
	free(conf->idp_keys);
	free(conf->evt);
	json_decref(conf->evt_index);
	free(conf->subs);
	json_decref(conf->subs_index);
	json_decref(conf->subs_of);
	json_decref(conf->embargo);
	json_decref(conf->grants);
	json_decref(conf->revoked);
	ndx_conf_tree_free(conf->tree);
	json_decref(conf->doc);
	free(conf);
}

static int parse_header(struct errbuf *e, struct ndx_conf *c)
{
	const json_t *doc = c->doc, *v;
	const char *s, *why = NULL;
	int rc;

	if ((rc = get_string(e, doc, "", "format", true, &s)) != NDX_OK)
		return rc;
	if (strcmp(s, NDX_CONF_FORMAT) != 0)
		return fail(e, NDX_EINVAL, "format: expected \"%s\", found \"%.40s\"",
			    NDX_CONF_FORMAT, s);
	if ((rc = get_string(e, doc, "", "instance", true, &s)) != NDX_OK)
		return rc;
	if (!part_ok(s, &why))
		return fail(e, NDX_EINVAL, "instance: %s", why);
	c->instance = s;
	v = json_object_get(doc, "version");
	if (v == NULL)
		return fail(e, NDX_EINVAL, "version: missing");
	if (!json_is_integer(v) || json_integer_value(v) <= 0)
		return fail(e, NDX_EINVAL, "version: expected a positive integer");
	c->version = (uint64_t)json_integer_value(v);
	if ((rc = get_time(e, doc, "", "generated_at", true, &c->generated_at)) != NDX_OK)
		return rc;
	if ((rc = get_time(e, doc, "", "expires_at", true, &c->expires_at)) != NDX_OK)
		return rc;
	if (c->generated_at >= c->expires_at)
		return fail(e, NDX_EINVAL, "expires_at: must be after generated_at");
	v = json_object_get(doc, "registry");
	if (v != NULL) {
		if ((rc = ensure_object(e, v, "registry")) != NDX_OK ||
		    (rc = get_string(e, v, "registry", "url", false, &s)) != NDX_OK)
			return rc;
		v = json_object_get(v, "ca_certificate");
		if (v != NULL && !json_is_string(v) && !json_is_null(v))
			return fail(e, NDX_EINVAL, "registry.ca_certificate: expected a "
				    "PEM string or null");
		c->ca_pem = json_string_value(v);
	}
	return NDX_OK;
}

static int parse_members(struct errbuf *e, struct ndx_conf *c)
{
	const json_t *classes, *list, *v;
	char where[64];
	size_t i, j;
	int rc;

	if ((rc = get_array(e, c->doc, "", "member_classes", &classes)) != NDX_OK)
		return rc;
	json_array_foreach(classes, i, v) {
		const char *why = NULL;

		if (!json_is_string(v))
			return fail(e, NDX_EINVAL, "member_classes[%zu]: expected a string", i);
		if (!part_ok(json_string_value(v), &why))
			return fail(e, NDX_EINVAL, "member_classes[%zu]: %s", i, why);
		for (j = 0; j < i; j++)
			if (strcmp(json_string_value(json_array_get(classes, j)),
				   json_string_value(v)) == 0)
				return fail(e, NDX_EINVAL, "member_classes[%zu]: %s is listed "
					    "twice", i, json_string_value(v));
	}

	if ((rc = get_array(e, c->doc, "", "members", &list)) != NDX_OK)
		return rc;
	c->nmem = json_array_size(list);
	if (c->nmem > 0 && !(c->mem = calloc(c->nmem, sizeof *c->mem)))
		return fail(e, NDX_ENOMEM, "out of memory");
	json_array_foreach(list, i, v) {
		struct ndx_id id;
		const char *text, *name;
		bool known = false;

		snprintf(where, sizeof where, "members[%zu]", i);
		if ((rc = ensure_object(e, v, where)) != NDX_OK ||
		    (rc = get_id(e, v, where, "id", NDX_ID_MEMBER, c->instance, &text, &id)) != NDX_OK ||
		    (rc = get_string(e, v, where, "name", false, &name)) != NDX_OK)
			return rc;
		for (j = 0; j < json_array_size(classes); j++)
			if (strcmp(json_string_value(json_array_get(classes, j)),
				   id.member_class) == 0)
				known = true;
		if (!known)
			return fail(e, NDX_EINVAL, "%s.id: member class %s is not in "
				    "member_classes", where, id.member_class);
		if (json_object_get(c->members, text) != NULL)
			return fail(e, NDX_EINVAL, "%s.id: %s is listed twice", where, text);
		if ((rc = index_put(e, c->members, text, (json_t *)v)) != NDX_OK)
			return rc;
		c->mem[i] = (struct ndx_conf_member){ .id = text, .name = name };
		if (json_object_set_new(c->mem_index, text, json_integer((json_int_t)i)) != 0)
			return fail(e, NDX_ENOMEM, "out of memory while indexing the "
				    "configuration");
	}
	return NDX_OK;
}

static int parse_subsystems(struct errbuf *e, struct ndx_conf *c)
{
	const json_t *list, *v;
	char where[64], parent[NDX_ID_TEXT_MAX];
	size_t i;
	int rc;

	if ((rc = get_array(e, c->doc, "", "subsystems", &list)) != NDX_OK)
		return rc;
	c->nsub = json_array_size(list);
	if (c->nsub > 0 && !(c->sub = calloc(c->nsub, sizeof *c->sub)))
		return fail(e, NDX_ENOMEM, "out of memory");
	json_array_foreach(list, i, v) {
		struct ndx_id id, pid;
		const char *text;

		snprintf(where, sizeof where, "subsystems[%zu]", i);
		if ((rc = ensure_object(e, v, where)) != NDX_OK ||
		    (rc = get_id(e, v, where, "id", NDX_ID_SUBSYSTEM, c->instance, &text, &id)) != NDX_OK)
			return rc;
		if (ndx_id_parent(&id, NDX_ID_MEMBER, &pid) != NDX_OK ||
		    ndx_id_format(&pid, parent, sizeof parent) < 0)
			return fail(e, NDX_EINVAL, "%s.id: cannot derive its member", where);
		if (json_object_get(c->members, parent) == NULL)
			return fail(e, NDX_EINVAL, "%s.id: member %s is not in this "
				    "configuration", where, parent);
		if (json_object_get(c->subsystems, text) != NULL)
			return fail(e, NDX_EINVAL, "%s.id: %s is listed twice", where, text);
		if ((rc = index_put(e, c->subsystems, text, (json_t *)v)) != NDX_OK)
			return rc;
		if (json_object_set_new(c->sub_index, text, json_integer((json_int_t)i)) != 0)
			return fail(e, NDX_ENOMEM, "out of memory while indexing the "
				    "configuration");
		c->sub[i] = (struct ndx_conf_subsystem){
			.id = text,
			.member = c->mem[json_integer_value(json_object_get(c->mem_index, parent))].id,
			.name = json_string_value(json_object_get(v, "name")),
		};
	}
	return NDX_OK;
}

static int parse_gateway(struct errbuf *e, struct ndx_conf *c, size_t i, const json_t *v)
{
	struct ndx_id id;
	char where[64];
	const char *member, *code, *addr, *fp, *sk, *skid, *why = NULL;
	json_t *arr, *idx;
	const json_t *other;
	size_t k;
	int rc;

	snprintf(where, sizeof where, "gateways[%zu]", i);
	if ((rc = ensure_object(e, v, where)) != NDX_OK ||
	    (rc = get_id(e, v, where, "member", NDX_ID_MEMBER, c->instance, &member, &id)) != NDX_OK ||
	    (rc = get_string(e, v, where, "code", true, &code)) != NDX_OK ||
	    (rc = get_string(e, v, where, "address", true, &addr)) != NDX_OK ||
	    (rc = get_string(e, v, where, "tls_cert_sha256", true, &fp)) != NDX_OK ||
	    (rc = get_string(e, v, where, "sign_key", true, &sk)) != NDX_OK ||
	    (rc = get_string(e, v, where, "sign_key_id", true, &skid)) != NDX_OK)
		return rc;
	if (json_object_get(c->members, member) == NULL)
		return fail(e, NDX_EINVAL, "%s.member: %s is not a member in this "
			    "configuration", where, member);
	if (!part_ok(code, &why))
		return fail(e, NDX_EINVAL, "%s.code: %s", where, why);
	if (*addr == '\0')
		return fail(e, NDX_EINVAL, "%s.address: is empty", where);
	if (!is_lower_hex(fp, 64))
		return fail(e, NDX_EINVAL, "%s.tls_cert_sha256: expected 64 lower-case hex "
			    "digits", where);
	if ((rc = parse_sign_key(e, where, sk, skid, &c->gw_keys[i])) != NDX_OK)
		return rc;
	if (json_object_get(c->gw_index, fp) != NULL)
		return fail(e, NDX_EINVAL, "%s.tls_cert_sha256: another gateway has the "
			    "same certificate", where);
	/* Uniqueness by (member, code): a member has few gateways, so scan. */
	arr = json_object_get(c->gw_of, member);
	json_array_foreach(arr, k, other) {
		const char *oc = c->gw[json_integer_value(other)].code;

		if (oc != NULL && strcmp(oc, code) == 0)
			return fail(e, NDX_EINVAL, "%s: member %s has two gateways with "
				    "code %s", where, member, code);
	}
	c->gw[i] = (struct ndx_conf_gateway){ .member = member, .code = code, .address = addr,
					      .tls_cert_sha256 = fp, .sign_key_id = skid,
					      .sign_key = c->gw_keys[i] };
	idx = json_integer((json_int_t)i);
	if (idx == NULL || json_object_set_new(c->gw_index, fp, idx) != 0)
		return fail(e, NDX_ENOMEM, "out of memory while indexing the configuration");
	if (arr == NULL) {
		arr = json_array();
		if (arr == NULL || json_object_set_new(c->gw_of, member, arr) != 0)
			return fail(e, NDX_ENOMEM, "out of memory while indexing the "
				    "configuration");
	}
	if (json_array_append_new(arr, json_integer((json_int_t)i)) != 0)
		return fail(e, NDX_ENOMEM, "out of memory while indexing the configuration");
	return NDX_OK;
}

static int parse_gateways(struct errbuf *e, struct ndx_conf *c)
{
	const json_t *list, *v;
	size_t i;
	int rc;

	if ((rc = get_array(e, c->doc, "", "gateways", &list)) != NDX_OK)
		return rc;
	c->gateways = list;
	c->ngw = json_array_size(list);
	if (c->ngw > 0) {
		c->gw_keys = calloc(c->ngw, sizeof *c->gw_keys);
		c->gw = calloc(c->ngw, sizeof *c->gw);
		if (c->gw_keys == NULL || c->gw == NULL)
			return fail(e, NDX_ENOMEM, "out of memory");
	}
	json_array_foreach(list, i, v) {
		if ((rc = parse_gateway(e, c, i, v)) != NDX_OK)
			return rc;
	}
	return NDX_OK;
}

static bool string_in(const json_t *list, const char *s)
{
	const json_t *v;
	size_t i;

	json_array_foreach(list, i, v) {
		if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
			return true;
	}
	return false;
}

/* services[].bulk_purposes (optional): distinct purposes of the service for
 * which an answer may concern several people. Only a personal service
 * without consent may have any: consent is for one subject, and a service
 * that is not personal has no subjects to list. */
static int parse_bulk_purposes(struct errbuf *e, const json_t *svc, const char *where)
{
	const json_t *bulk, *purposes = json_object_get(svc, "purposes"), *p;
	size_t j, k;
	int rc;

	if ((rc = get_optional_array(e, svc, where, "bulk_purposes", &bulk)) != NDX_OK)
		return rc;
	if (json_array_size(bulk) == 0)
		return NDX_OK;
	if (!json_is_true(json_object_get(svc, "personal")))
		return fail(e, NDX_EINVAL, "%s.bulk_purposes: only a personal service may "
			    "have bulk purposes", where);
	if (json_is_true(json_object_get(svc, "consent_required")))
		return fail(e, NDX_EINVAL, "%s.bulk_purposes: not allowed on a service that "
			    "requires consent (a consent covers one subject)", where);
	json_array_foreach(bulk, j, p) {
		const char *s = json_string_value(p);

		if (s == NULL || *s == '\0')
			return fail(e, NDX_EINVAL, "%s.bulk_purposes[%zu]: expected a non-empty "
				    "string", where, j);
		if (!string_in(purposes, s))
			return fail(e, NDX_EINVAL, "%s.bulk_purposes[%zu]: %.80s is not one of "
				    "the service's purposes", where, j, s);
		for (k = 0; k < j; k++)
			if (strcmp(json_string_value(json_array_get(bulk, k)), s) == 0)
				return fail(e, NDX_EINVAL, "%s.bulk_purposes[%zu]: %.80s is "
					    "listed twice", where, j, s);
	}
	return NDX_OK;
}

/* A checked array of non-empty strings as a malloc'd array of borrowed
 * pointers (*out NULL when n is 0). */
static int string_list(struct errbuf *e, const json_t *arr, const char *const **out, size_t *n)
{
	const char **v;
	const json_t *p;
	size_t i;

	*out = NULL;
	*n = json_is_array(arr) ? json_array_size(arr) : 0;
	if (*n == 0)
		return NDX_OK;
	if (!(v = calloc(*n, sizeof *v)))
		return fail(e, NDX_ENOMEM, "out of memory");
	json_array_foreach(arr, i, p)
		v[i] = json_string_value(p);
	*out = v;
	return NDX_OK;
}

/* The typed view of services[i] (already checked). */
static int service_view(struct errbuf *e, struct ndx_conf *c, size_t i, const char *id,
			const json_t *v)
{
	struct ndx_conf_service *s = &c->svc[i];
	json_t *idx;
	int rc;

	s->id = id;
	s->title = json_string_value(json_object_get(v, "title"));
	s->openapi_sha256 = json_string_value(json_object_get(v, "openapi_sha256"));
	s->personal = json_is_true(json_object_get(v, "personal"));
	s->consent_required = json_is_true(json_object_get(v, "consent_required"));
	if ((rc = string_list(e, json_object_get(v, "purposes"), &s->purposes, &s->npurposes)) !=
		    NDX_OK ||
	    (rc = string_list(e, json_object_get(v, "bulk_purposes"), &s->bulk_purposes,
			      &s->nbulk_purposes)) != NDX_OK)
		return rc;
	idx = json_integer((json_int_t)i);
	if (idx == NULL || json_object_set_new(c->svc_index, id, idx) != 0)
		return fail(e, NDX_ENOMEM, "out of memory while indexing the configuration");
	return NDX_OK;
}

static int parse_services(struct errbuf *e, struct ndx_conf *c)
{
	const json_t *list, *v, *f;
	char where[64], parent[NDX_ID_TEXT_MAX];
	size_t i, j;
	int rc;

	if ((rc = get_array(e, c->doc, "", "services", &list)) != NDX_OK)
		return rc;
	c->nsvc = json_array_size(list);
	if (c->nsvc > 0 && !(c->svc = calloc(c->nsvc, sizeof *c->svc)))
		return fail(e, NDX_ENOMEM, "out of memory");
	json_array_foreach(list, i, v) {
		struct ndx_id id, pid;
		const char *text, *s;

		snprintf(where, sizeof where, "services[%zu]", i);
		if ((rc = ensure_object(e, v, where)) != NDX_OK ||
		    (rc = get_id(e, v, where, "id", NDX_ID_SERVICE, c->instance, &text, &id)) != NDX_OK ||
		    (rc = get_string(e, v, where, "title", false, &s)) != NDX_OK ||
		    (rc = check_optional_bool(e, v, where, "personal")) != NDX_OK ||
		    (rc = check_optional_bool(e, v, where, "consent_required")) != NDX_OK)
			return rc;
		if (ndx_id_parent(&id, NDX_ID_SUBSYSTEM, &pid) != NDX_OK ||
		    ndx_id_format(&pid, parent, sizeof parent) < 0)
			return fail(e, NDX_EINVAL, "%s.id: cannot derive its subsystem", where);
		if (json_object_get(c->subsystems, parent) == NULL)
			return fail(e, NDX_EINVAL, "%s.id: subsystem %s is not in this "
				    "configuration", where, parent);
		f = json_object_get(v, "purposes");
		if (f != NULL && !json_is_null(f)) {
			const json_t *p;

			if (!json_is_array(f))
				return fail(e, NDX_EINVAL, "%s.purposes: expected an array", where);
			json_array_foreach(f, j, p) {
				if (!json_is_string(p) || json_string_length(p) == 0)
					return fail(e, NDX_EINVAL, "%s.purposes[%zu]: expected a "
						    "non-empty string", where, j);
			}
		}
		if ((rc = parse_bulk_purposes(e, v, where)) != NDX_OK)
			return rc;
		f = json_object_get(v, "openapi_sha256");
		if (f != NULL && !json_is_null(f) &&
		    !(json_is_string(f) && is_lower_hex(json_string_value(f), 64)))
			return fail(e, NDX_EINVAL, "%s.openapi_sha256: expected 64 lower-case "
				    "hex digits or null", where);
		if (json_object_get(c->services, text) != NULL)
			return fail(e, NDX_EINVAL, "%s.id: %s is listed twice", where, text);
		if ((rc = index_put(e, c->services, text, (json_t *)v)) != NDX_OK ||
		    (rc = service_view(e, c, i, text, v)) != NDX_OK)
			return rc;
	}
	return NDX_OK;
}

bool ndx_grant_method_valid(const char *m)
{
	for (size_t i = 0; i < sizeof http_methods / sizeof http_methods[0]; i++)
		if (strcmp(m, http_methods[i]) == 0)
			return true;
	return false;
}

bool ndx_purpose_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > NDX_PURPOSE_MAX)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-'))
			return false;
	return true;
}

bool ndx_grant_path_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > NDX_GRANT_PATH_MAX || (strcmp(s, "*") != 0 && s[0] != '/'))
		return false;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

/* A client is a member (3 parts: PR-REST's member-level client) or a
 * subsystem (4); anything else is read as a subsystem id, whose parser
 * then names what is wrong. */
static enum ndx_id_kind client_kind(const json_t *client)
{
	const char *s = json_string_value(client);
	size_t parts = 1;

	for (; s && *s; s++)
		parts += *s == '/';
	return parts == NDX_ID_MEMBER ? NDX_ID_MEMBER : NDX_ID_SUBSYSTEM;
}

/* A marketplace agreement's grant (docs/marketplace.md): "agreement" (its
 * id), "policy" (its ODRL, in the subset of ndx/policy.h) and "not_after"
 * come together or not at all; an operator's grant has none of them. */
static int parse_grant_agreement(struct errbuf *e, struct ndx_conf_grant *g, const char *where,
				 const json_t *v)
{
	const json_t *id = json_object_get(v, "agreement"), *pol = json_object_get(v, "policy");
	const json_t *na = json_object_get(v, "not_after");
	struct ndx_policy *p;
	char err[256];
	time_t t = 0;

	if (id == NULL && pol == NULL && na == NULL)
		return NDX_OK;
	if (!json_is_string(id) || json_string_length(id) == 0 || json_string_length(id) > 256)
		return fail(e, NDX_EINVAL, "%s.agreement: expected the agreement's id", where);
	if (na != NULL && !json_is_null(na) &&
	    (!json_is_string(na) || ndx_time_parse(json_string_value(na), &t) != NDX_OK))
		return fail(e, NDX_EINVAL, "%s.not_after: expected an RFC 3339 time or null", where);
	if (!(p = malloc(sizeof *p)))
		return fail(e, NDX_ENOMEM, "out of memory");
	if (ndx_policy_from_odrl(pol, p, err, sizeof err) != NDX_OK) {
		free(p);
		return fail(e, NDX_EINVAL, "%s.policy: %s", where, err);
	}
	g->agreement = json_string_value(id);
	g->policy = p;
	g->not_after = t;
	return NDX_OK;
}

/* "a\nb", or "a\nb\nc" when c is not NULL, into key: the keys of the
 * document's indexes of grants and events. Joined, not formatted: a gateway
 * looks a grant up several times an exchange. False when it does not fit. */
static bool index_key(char *key, size_t cap, const char *a, const char *b, const char *c)
{
	const char *part[3] = { a, b, c };
	size_t at = 0;

	for (int i = 0; i < 3 && part[i] != NULL; i++) {
		size_t len = strlen(part[i]);

		if (at + (i > 0) + len >= cap)
			return false;
		if (i > 0)
			key[at++] = '\n';
		memcpy(key + at, part[i], len);
		at += len;
	}
	key[at] = '\0';
	return true;
}

static int parse_grant(struct errbuf *e, struct ndx_conf *c, size_t i, const json_t *v)
{
	struct ndx_id cid, sid;
	const char *client, *service;
	const json_t *methods = NULL, *paths = NULL, *m;
	char where[64], key[GRANT_KEY_MAX];
	json_t *arr;
	size_t j;
	int rc;

	snprintf(where, sizeof where, "grants[%zu]", i);
	if ((rc = ensure_object(e, v, where)) != NDX_OK ||
	    (rc = get_id(e, v, where, "client", client_kind(json_object_get(v, "client")),
			 c->instance, &client, &cid)) != NDX_OK ||
	    (rc = get_id(e, v, where, "service", NDX_ID_SERVICE, c->instance, &service, &sid)) != NDX_OK)
		return rc;
	if (json_object_get(cid.kind == NDX_ID_MEMBER ? c->members : c->subsystems, client) == NULL)
		return fail(e, NDX_EINVAL, "%s.client: %s is not a %s in this configuration", where,
			    client, cid.kind == NDX_ID_MEMBER ? "member" : "subsystem");
	if (json_object_get(c->services, service) == NULL)
		return fail(e, NDX_EINVAL, "%s.service: %s is not a service in this "
			    "configuration", where, service);
	if ((rc = get_array(e, v, where, "methods", &methods)) != NDX_OK ||
	    (rc = get_array(e, v, where, "paths", &paths)) != NDX_OK)
		return rc;
	if (json_array_size(methods) == 0)
		return fail(e, NDX_EINVAL, "%s.methods: is empty", where);
	json_array_foreach(methods, j, m) {
		if (!json_is_string(m) || !ndx_grant_method_valid(json_string_value(m)))
			return fail(e, NDX_EINVAL, "%s.methods[%zu]: expected one of GET HEAD "
				    "POST PUT PATCH DELETE OPTIONS", where, j);
	}
	if (json_array_size(paths) == 0)
		return fail(e, NDX_EINVAL, "%s.paths: is empty", where);
	json_array_foreach(paths, j, m) {
		const char *p = json_string_value(m);

		if (p == NULL || (strcmp(p, "*") != 0 && p[0] != '/'))
			return fail(e, NDX_EINVAL, "%s.paths[%zu]: expected \"*\" or a "
				    "pattern starting with '/'", where, j);
	}
	c->grant[i].client = client;
	c->grant[i].service = service;
	if ((rc = string_list(e, methods, &c->grant[i].methods, &c->grant[i].nmethods)) != NDX_OK ||
	    (rc = string_list(e, paths, &c->grant[i].paths, &c->grant[i].npaths)) != NDX_OK)
		return rc;
	if ((rc = parse_grant_agreement(e, &c->grant[i], where, v)) != NDX_OK)
		return rc;
	if (!index_key(key, sizeof key, client, service, NULL))
		return fail(e, NDX_EINVAL, "%s: client and service are too long", where);
	arr = json_object_get(c->grants, key);
	if (arr == NULL) {
		arr = json_array();
		if (arr == NULL || json_object_set_new(c->grants, key, arr) != 0)
			return fail(e, NDX_ENOMEM, "out of memory while indexing the "
				    "configuration");
	}
	if (json_array_append_new(arr, json_integer((json_int_t)i)) != 0)
		return fail(e, NDX_ENOMEM, "out of memory while indexing the configuration");
	return NDX_OK;
}

static int parse_grants_revocations(struct errbuf *e, struct ndx_conf *c)
{
	const json_t *list, *v;
	char where[64];
	size_t i;
	int rc;

	if ((rc = get_array(e, c->doc, "", "grants", &list)) != NDX_OK)
		return rc;
	c->ngrant = json_array_size(list);
	if (c->ngrant > 0 && !(c->grant = calloc(c->ngrant, sizeof *c->grant)))
		return fail(e, NDX_ENOMEM, "out of memory");
	json_array_foreach(list, i, v) {
		if ((rc = parse_grant(e, c, i, v)) != NDX_OK)
			return rc;
	}
	if ((rc = get_array(e, c->doc, "", "revocations", &list)) != NDX_OK)
		return rc;
	json_array_foreach(list, i, v) {
		const char *kind, *value, *reason;
		time_t at;

		snprintf(where, sizeof where, "revocations[%zu]", i);
		if ((rc = ensure_object(e, v, where)) != NDX_OK ||
		    (rc = get_string(e, v, where, "kind", true, &kind)) != NDX_OK ||
		    (rc = get_string(e, v, where, "value", true, &value)) != NDX_OK ||
		    (rc = get_string(e, v, where, "reason", false, &reason)) != NDX_OK ||
		    (rc = get_time(e, v, where, "revoked_at", false, &at)) != NDX_OK)
			return rc;
		if (strcmp(kind, "key") != 0 && strcmp(kind, "certificate") != 0)
			return fail(e, NDX_EINVAL, "%s.kind: expected \"key\" or "
				    "\"certificate\", found \"%.40s\"", where, kind);
		if (!is_lower_hex(value, 64))
			return fail(e, NDX_EINVAL, "%s.value: expected 64 lower-case hex "
				    "digits (a key id or certificate fingerprint)", where);
		if ((rc = index_put(e, c->revoked, value, json_true())) != NDX_OK)
			return rc;
	}
	return NDX_OK;
}

/* A consent service signs consents and revocation lists with its own key;
 * gateways trust a consent only under the key listed here for its issuer. */
static int parse_consent_service(struct errbuf *e, struct ndx_conf *c, size_t i,
				 const json_t *v)
{
	struct ndx_id id;
	char where[64];
	const char *text, *url, *sk, *skid;
	size_t j;
	int rc;

	snprintf(where, sizeof where, "consent_services[%zu]", i);
	if ((rc = ensure_object(e, v, where)) != NDX_OK ||
	    (rc = get_id(e, v, where, "id", NDX_ID_SUBSYSTEM, c->instance, &text, &id)) != NDX_OK ||
	    (rc = get_string(e, v, where, "url", true, &url)) != NDX_OK ||
	    (rc = get_string(e, v, where, "sign_key", true, &sk)) != NDX_OK ||
	    (rc = get_string(e, v, where, "sign_key_id", true, &skid)) != NDX_OK)
		return rc;
	if (json_object_get(c->subsystems, text) == NULL)
		return fail(e, NDX_EINVAL, "%s.id: %s is not a subsystem in this "
			    "configuration", where, text);
	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
		return fail(e, NDX_EINVAL, "%s.url: expected an http:// or https:// URL", where);
	for (j = 0; j < i; j++) {
		const char *other = json_string_value(
			json_object_get(json_array_get(c->consent_services, j), "id"));

		if (other != NULL && strcmp(other, text) == 0)
			return fail(e, NDX_EINVAL, "%s.id: %s is listed twice", where, text);
	}
	if ((rc = parse_sign_key(e, where, sk, skid, &c->cs_keys[i])) != NDX_OK)
		return rc;
	c->cs[i] = (struct ndx_conf_consent_service){ .id = text, .url = url, .sign_key_id = skid,
						      .sign_key = c->cs_keys[i] };
	return NDX_OK;
}

static int parse_consent_services(struct errbuf *e, struct ndx_conf *c)
{
	const json_t *list, *v;
	size_t i;
	int rc;

	if ((rc = get_array(e, c->doc, "", "consent_services", &list)) != NDX_OK)
		return rc;
	c->consent_services = list;
	c->ncs = json_array_size(list);
	if (c->ncs > 0) {
		c->cs_keys = calloc(c->ncs, sizeof *c->cs_keys);
		c->cs = calloc(c->ncs, sizeof *c->cs);
		if (c->cs_keys == NULL || c->cs == NULL) {
			c->ncs = 0;
			return fail(e, NDX_ENOMEM, "out of memory");
		}
	}
	json_array_foreach(list, i, v) {
		if ((rc = parse_consent_service(e, c, i, v)) != NDX_OK)
			return rc;
	}
	return NDX_OK;
}

/* embargoes (optional): purposes whose exchanges the subject's access list
 * shows only `seconds` after they happened. The upper bound keeps
 * time + seconds far from overflow in every caller. */
static int parse_embargoes(struct errbuf *e, struct ndx_conf *c)
{
	const json_t *list, *v, *secs;
	char where[64];
	size_t i;
	int rc;

	if ((rc = get_optional_array(e, c->doc, "", "embargoes", &list)) != NDX_OK)
		return rc;
	json_array_foreach(list, i, v) {
		const char *purpose;

		snprintf(where, sizeof where, "embargoes[%zu]", i);
		if ((rc = ensure_object(e, v, where)) != NDX_OK ||
		    (rc = get_string(e, v, where, "purpose", true, &purpose)) != NDX_OK)
			return rc;
		if (!purpose || *purpose == '\0')
			return fail(e, NDX_EINVAL, "%s.purpose: is empty", where);
		secs = json_object_get(v, "seconds");
		if (secs == NULL)
			return fail(e, NDX_EINVAL, "%s.seconds: missing", where);
		if (!json_is_integer(secs) || json_integer_value(secs) < 1 ||
		    json_integer_value(secs) > NDX_CONF_EMBARGO_MAX_S)
			return fail(e, NDX_EINVAL, "%s.seconds: expected an integer from 1 to "
				    "%lld", where, (long long)NDX_CONF_EMBARGO_MAX_S);
		if (json_object_get(c->embargo, purpose) != NULL)
			return fail(e, NDX_EINVAL, "%s.purpose: %.80s is listed twice", where,
				    purpose);
		if ((rc = index_put(e, c->embargo, purpose, (json_t *)v)) != NDX_OK)
			return rc;
	}
	return NDX_OK;
}

/* An OpenID Connect issuer is compared as an exact string; require an
 * http(s) URL with a host and nothing a header or log line could split on. */
static bool issuer_ok(const char *s)
{
	const char *rest;

	if (strncmp(s, "https://", 8) == 0)
		rest = s + 8;
	else if (strncmp(s, "http://", 7) == 0)
		rest = s + 7;
	else
		return false;
	if (*rest == '\0' || *rest == '/' || strlen(s) > 2048)
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p <= 0x20 || *p == 0x7f)
			return false;
	return true;
}

/* id_providers (optional): national e-ID issuers whose ID tokens a provider
 * gateway accepts for the subject's access list, each under one key. */
static int parse_id_provider(struct errbuf *e, struct ndx_conf *c, size_t i,
			     const json_t *v)
{
	char where[64];
	const char *iss, *sk, *skid;
	int rc;

	snprintf(where, sizeof where, "id_providers[%zu]", i);
	if ((rc = ensure_object(e, v, where)) != NDX_OK ||
	    (rc = get_string(e, v, where, "issuer", true, &iss)) != NDX_OK ||
	    (rc = get_string(e, v, where, "sign_key", true, &sk)) != NDX_OK ||
	    (rc = get_string(e, v, where, "sign_key_id", true, &skid)) != NDX_OK)
		return rc;
	if (!issuer_ok(iss))
		return fail(e, NDX_EINVAL, "%s.issuer: expected an http:// or https:// URL "
			    "with a host and no spaces", where);
	for (size_t j = 0; j < i; j++) {
		const char *other = json_string_value(
			json_object_get(json_array_get(c->id_providers, j), "issuer"));

		if (other != NULL && strcmp(other, iss) == 0)
			return fail(e, NDX_EINVAL, "%s.issuer: %.200s is listed twice", where,
				    iss);
	}
	return parse_sign_key(e, where, sk, skid, &c->idp_keys[i]);
}

static int parse_id_providers(struct errbuf *e, struct ndx_conf *c)
{
	const json_t *list, *v;
	size_t i;
	int rc;

	if ((rc = get_optional_array(e, c->doc, "", "id_providers", &list)) != NDX_OK)
		return rc;
	c->id_providers = list;
	if (json_array_size(list) == 0)
		return NDX_OK;
	c->idp_keys = calloc(json_array_size(list), sizeof *c->idp_keys);
	if (c->idp_keys == NULL)
		return fail(e, NDX_ENOMEM, "out of memory");
	c->nidp = json_array_size(list);
	json_array_foreach(list, i, v) {
		if ((rc = parse_id_provider(e, c, i, v)) != NDX_OK)
			return rc;
	}
	return NDX_OK;
}

/* ---- events ------------------------------------------------------------ */

bool ndx_conf_event_name_ok(const char *name)
{
	size_t n;

	if (name == NULL || !((name[0] >= 'a' && name[0] <= 'z') ||
			      (name[0] >= '0' && name[0] <= '9')))
		return false;
	for (n = 1; name[n] != '\0'; n++) {
		char ch = name[n];

		if (n >= NDX_CONF_EVENT_NAME_MAX)
			return false;
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' ||
		      ch == '-'))
			return false;
	}
	return true;
}

/* event_types[i]: a named, schema-described event of a service of this
 * document; (service, name) is unique. */
static int parse_event_type(struct errbuf *e, struct ndx_conf *c, size_t i, const json_t *v)
{
	struct ndx_id sid;
	char where[64], key[EVENT_KEY_MAX];
	const char *service, *name, *title;
	const json_t *schema;
	json_t *idx;
	int rc;

	snprintf(where, sizeof where, "event_types[%zu]", i);
	if ((rc = ensure_object(e, v, where)) != NDX_OK ||
	    (rc = get_id(e, v, where, "service", NDX_ID_SERVICE, c->instance, &service, &sid)) != NDX_OK ||
	    (rc = get_string(e, v, where, "name", true, &name)) != NDX_OK ||
	    (rc = get_string(e, v, where, "title", false, &title)) != NDX_OK)
		return rc;
	if (json_object_get(c->services, service) == NULL)
		return fail(e, NDX_EINVAL, "%s.service: %s is not a service in this "
			    "configuration", where, service);
	if (!ndx_conf_event_name_ok(name))
		return fail(e, NDX_EINVAL, "%s.name: \"%.80s\" is not an event type name "
			    "([a-z0-9][a-z0-9.-]{0,63})", where, name);
	schema = json_object_get(v, "schema");
	if (schema == NULL)
		return fail(e, NDX_EINVAL, "%s.schema: missing", where);
	if (!json_is_object(schema))
		return fail(e, NDX_EINVAL, "%s.schema: expected a JSON Schema object", where);
	if (!index_key(key, sizeof key, service, name, NULL))
		return fail(e, NDX_EINVAL, "%s: service id and name are too long", where);
	if (json_object_get(c->evt_index, key) != NULL)
		return fail(e, NDX_EINVAL, "%s.name: %s of %s is listed twice", where, name,
			    service);
	idx = json_integer((json_int_t)i);
	if (idx == NULL || json_object_set_new(c->evt_index, key, idx) != 0)
		return fail(e, NDX_ENOMEM, "out of memory while indexing the configuration");
	c->evt[i] = (struct ndx_conf_event_type){ .service = service, .name = name,
						  .title = title, .schema = schema };
	return NDX_OK;
}

static int parse_event_types(struct errbuf *e, struct ndx_conf *c)
{
	const json_t *list, *v;
	size_t i;
	int rc;

	if ((rc = get_optional_array(e, c->doc, "", "event_types", &list)) != NDX_OK)
		return rc;
	c->nevt = json_array_size(list);
	if (c->nevt > 0 && !(c->evt = calloc(c->nevt, sizeof *c->evt))) {
		c->nevt = 0;
		return fail(e, NDX_ENOMEM, "out of memory");
	}
	json_array_foreach(list, i, v) {
		if ((rc = parse_event_type(e, c, i, v)) != NDX_OK)
			return rc;
	}
	return NDX_OK;
}

/* subscriptions[i].retry (optional, each field too): integers with
 * 1 <= first_s <= max_s <= 1 day and max_s <= give_up_after_s <= 30 days. */
static int parse_retry(struct errbuf *e, const json_t *v, const char *where,
		       struct ndx_conf_subscription *s)
{
	static const char *const fields[] = { "first_s", "max_s", "give_up_after_s" };
	int64_t *out[] = { &s->retry_first_s, &s->retry_max_s, &s->give_up_after_s };
	const json_t *retry = json_object_get(v, "retry");

	s->retry_first_s = NDX_CONF_RETRY_FIRST_S;
	s->retry_max_s = NDX_CONF_RETRY_MAX_S;
	s->give_up_after_s = NDX_CONF_GIVE_UP_AFTER_S;
	if (retry == NULL || json_is_null(retry))
		return NDX_OK;
	if (!json_is_object(retry))
		return fail(e, NDX_EINVAL, "%s.retry: expected an object", where);
	for (size_t k = 0; k < 3; k++) {
		const json_t *f = json_object_get(retry, fields[k]);

		if (f == NULL || json_is_null(f))
			continue;
		if (!json_is_integer(f) || json_integer_value(f) < 1)
			return fail(e, NDX_EINVAL, "%s.retry.%s: expected an integer number of "
				    "seconds from 1", where, fields[k]);
		*out[k] = (int64_t)json_integer_value(f);
	}
	if (s->retry_max_s > NDX_CONF_RETRY_MAX_LIMIT_S)
		return fail(e, NDX_EINVAL, "%s.retry.max_s: at most %d", where,
			    NDX_CONF_RETRY_MAX_LIMIT_S);
	if (s->retry_first_s > s->retry_max_s)
		return fail(e, NDX_EINVAL, "%s.retry.first_s: %lld is more than max_s %lld",
			    where, (long long)s->retry_first_s, (long long)s->retry_max_s);
	if (s->give_up_after_s < s->retry_max_s)
		return fail(e, NDX_EINVAL, "%s.retry.give_up_after_s: %lld is less than max_s "
			    "%lld", where, (long long)s->give_up_after_s,
			    (long long)s->retry_max_s);
	if (s->give_up_after_s > NDX_CONF_GIVE_UP_LIMIT_S)
		return fail(e, NDX_EINVAL, "%s.retry.give_up_after_s: at most %lld (30 days)",
			    where, (long long)NDX_CONF_GIVE_UP_LIMIT_S);
	return NDX_OK;
}

/* subscriptions[i].purpose: required exactly when the service is personal,
 * and then one of its purposes (the same rule as a read). */
static int parse_sub_purpose(struct errbuf *e, const json_t *v, const char *where,
			     const struct ndx_conf_service *svc, const char **purpose)
{
	int rc = get_string(e, v, where, "purpose", false, purpose);

	if (rc != NDX_OK)
		return rc;
	if (!svc->personal) {
		if (*purpose != NULL)
			return fail(e, NDX_EINVAL, "%s.purpose: %s is not a personal-data "
				    "service; a subscription to it has no purpose", where, svc->id);
		return NDX_OK;
	}
	if (*purpose == NULL)
		return fail(e, NDX_EINVAL, "%s.purpose: missing (%s is a personal-data "
			    "service)", where, svc->id);
	if (svc->consent_required)
		return fail(e, NDX_EINVAL, "%s.service: %s reads only under each subject's "
			    "consent; its events cannot be subscribed to", where, svc->id);
	if (!ndx_conf_service_has_purpose(svc, *purpose))
		return fail(e, NDX_EINVAL, "%s.purpose: %.80s is not one of the purposes of %s",
			    where, *purpose, svc->id);
	return NDX_OK;
}

/* Appends subscription i to the list of its event type. */
static int index_subscriber(struct errbuf *e, struct ndx_conf *c, const char *evkey, size_t i)
{
	json_t *arr = json_object_get(c->subs_of, evkey);

	if (arr == NULL) {
		arr = json_array();
		if (arr == NULL || json_object_set_new(c->subs_of, evkey, arr) != 0)
			return fail(e, NDX_ENOMEM, "out of memory while indexing the "
				    "configuration");
	}
	if (json_array_append_new(arr, json_integer((json_int_t)i)) != 0)
		return fail(e, NDX_ENOMEM, "out of memory while indexing the configuration");
	return NDX_OK;
}

static int parse_subscription(struct errbuf *e, struct ndx_conf *c, size_t i, const json_t *v)
{
	struct ndx_conf_subscription *s = &c->subs[i];
	struct ndx_id cid, sid;
	char where[64], evkey[EVENT_KEY_MAX], key[EVENT_KEY_MAX];
	const char *client, *service, *event, *purpose;
	const struct ndx_conf_service *svc;
	json_t *idx;
	int rc;

	snprintf(where, sizeof where, "subscriptions[%zu]", i);
	if ((rc = ensure_object(e, v, where)) != NDX_OK ||
	    (rc = get_id(e, v, where, "client", NDX_ID_SUBSYSTEM, c->instance, &client, &cid)) != NDX_OK ||
	    (rc = get_id(e, v, where, "service", NDX_ID_SERVICE, c->instance, &service, &sid)) != NDX_OK ||
	    (rc = get_string(e, v, where, "event", true, &event)) != NDX_OK)
		return rc;
	if (json_object_get(c->subsystems, client) == NULL)
		return fail(e, NDX_EINVAL, "%s.client: %s is not a subsystem in this "
			    "configuration", where, client);
	if ((svc = ndx_conf_service_of(c, service)) == NULL)
		return fail(e, NDX_EINVAL, "%s.service: %s is not a service in this "
			    "configuration", where, service);
	if (!index_key(evkey, sizeof evkey, service, event, NULL) ||
	    json_object_get(c->evt_index, evkey) == NULL)
		return fail(e, NDX_EINVAL, "%s.event: %.80s is not an event type of %s in this "
			    "configuration", where, event, service);
	if ((rc = parse_sub_purpose(e, v, where, svc, &purpose)) != NDX_OK ||
	    (rc = parse_retry(e, v, where, s)) != NDX_OK)
		return rc;
	if (!index_key(key, sizeof key, client, service, event))
		return fail(e, NDX_EINVAL, "%s: ids and name are too long", where);
	if (json_object_get(c->subs_index, key) != NULL)
		return fail(e, NDX_EINVAL, "%s: %s subscribes to %s of %s twice", where, client,
			    event, service);
	idx = json_integer((json_int_t)i);
	if (idx == NULL || json_object_set_new(c->subs_index, key, idx) != 0)
		return fail(e, NDX_ENOMEM, "out of memory while indexing the configuration");
	s->client = client;
	s->service = service;
	s->event = event;
	s->purpose = purpose;
	return index_subscriber(e, c, evkey, i);
}

static int parse_subscriptions(struct errbuf *e, struct ndx_conf *c)
{
	const json_t *list, *v;
	size_t i;
	int rc;

	if ((rc = get_optional_array(e, c->doc, "", "subscriptions", &list)) != NDX_OK)
		return rc;
	c->nsubs = json_array_size(list);
	if (c->nsubs > 0 && !(c->subs = calloc(c->nsubs, sizeof *c->subs))) {
		c->nsubs = 0;
		return fail(e, NDX_ENOMEM, "out of memory");
	}
	json_array_foreach(list, i, v) {
		if ((rc = parse_subscription(e, c, i, v)) != NDX_OK)
			return rc;
	}
	return NDX_OK;
}

/* monitoring (optional): the operator's monitoring subsystem, the one client
 * that may read every gateway's operational records (X-Road's
 * monitoringClient). A member's own clients read its own gateways' records
 * without being named here. */
static int parse_monitoring(struct errbuf *e, struct ndx_conf *c)
{
	const json_t *m = json_object_get(c->doc, "monitoring");
	struct ndx_id id;
	const char *client;
	int rc;

	if (m == NULL || json_is_null(m))
		return NDX_OK;
	if ((rc = ensure_object(e, m, "monitoring")) != NDX_OK)
		return rc;
	if (json_object_get(m, "client") == NULL || json_is_null(json_object_get(m, "client")))
		return NDX_OK;
	if ((rc = get_id(e, m, "monitoring", "client", NDX_ID_SUBSYSTEM, c->instance, &client,
			 &id)) != NDX_OK)
		return rc;
	if (json_object_get(c->subsystems, client) == NULL)
		return fail(e, NDX_EINVAL, "monitoring.client: %s is not a subsystem in this "
			    "configuration", client);
	c->monitoring_client = client;
	return NDX_OK;
}

/* Members, subsystems, gateways and services, with their indexes. */
static int parse_base(struct errbuf *e, struct ndx_conf *c)
{
	int rc;

	c->members = json_object();
	c->subsystems = json_object();
	c->services = json_object();
	c->gw_index = json_object();
	c->gw_of = json_object();
	c->svc_index = json_object();
	c->mem_index = json_object();
	c->sub_index = json_object();
	if (c->members == NULL || c->subsystems == NULL || c->services == NULL ||
	    c->gw_index == NULL || c->gw_of == NULL || c->svc_index == NULL ||
	    c->mem_index == NULL || c->sub_index == NULL)
		return fail(e, NDX_ENOMEM, "out of memory");
	if ((rc = parse_members(e, c)) != NDX_OK ||
	    (rc = parse_subsystems(e, c)) != NDX_OK ||
	    (rc = parse_gateways(e, c)) != NDX_OK)
		return rc;
	return parse_services(e, c);
}

/* Validates doc and builds every index over it; takes over the caller's
 * reference to doc (released on failure too). */
static int conf_build(json_t *doc, struct ndx_conf *like, struct ndx_conf **out,
		      struct errbuf *e)
{
	struct ndx_conf *c;
	int rc;

	*out = NULL;
	c = calloc(1, sizeof *c);
	if (c == NULL) {
		json_decref(doc);
		return fail(e, NDX_ENOMEM, "out of memory");
	}
	c->doc = doc;
	if (!json_is_object(c->doc)) {
		ndx_conf_free(c);
		return fail(e, NDX_EINVAL, "configuration is not a JSON object");
	}
	c->grants = json_object();
	c->revoked = json_object();
	c->embargo = json_object();
	c->evt_index = json_object();
	c->subs_index = json_object();
	c->subs_of = json_object();
	if (c->embargo == NULL || c->evt_index == NULL || c->subs_index == NULL ||
	    c->subs_of == NULL || c->grants == NULL || c->revoked == NULL) {
		ndx_conf_free(c);
		return fail(e, NDX_ENOMEM, "out of memory");
	}
	if ((rc = parse_header(e, c)) == NDX_OK)
		rc = same_base(like, c) ? share_base(like, c) : parse_base(e, c);
	if (rc != NDX_OK ||
	    (rc = parse_grants_revocations(e, c)) != NDX_OK ||
	    (rc = parse_consent_services(e, c)) != NDX_OK ||
	    (rc = parse_embargoes(e, c)) != NDX_OK ||
	    (rc = parse_id_providers(e, c)) != NDX_OK ||
	    (rc = parse_event_types(e, c)) != NDX_OK ||
	    (rc = parse_subscriptions(e, c)) != NDX_OK ||
	    (rc = parse_monitoring(e, c)) != NDX_OK) {
		ndx_conf_free(c);
		return rc;
	}
	*out = c;
	return NDX_OK;
}

static int conf_parse(const uint8_t *data, size_t len, struct ndx_conf **out,
		      struct errbuf *e)
{
	json_error_t jerr;
	json_t *doc;

	*out = NULL;
	if (len > NDX_CONF_MAX_BYTES)
		return fail(e, NDX_ETOOBIG, "configuration is larger than %u bytes",
			    NDX_CONF_MAX_BYTES);
	doc = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &jerr);
	if (doc == NULL)
		return fail(e, NDX_EINVAL, "configuration is not valid JSON: %s "
			    "(line %d, column %d)", jerr.text, jerr.line, jerr.column);
	return conf_build(doc, NULL, out, e);
}

int ndx__conf_from_json(json_t *doc, struct ndx_conf *like, struct ndx_conf **out, char *err,
			size_t errcap)
{
	struct errbuf e = { err, errcap };

	assert(doc != NULL && out != NULL);
	if (err != NULL && errcap > 0)
		err[0] = '\0';
	return conf_build(doc, like, out, &e);
}

int ndx_conf_parse(const uint8_t *data, size_t len, struct ndx_conf **out,
		   char *err, size_t errcap)
{
	struct errbuf e = { err, errcap };

	assert(data != NULL || len == 0);
	assert(out != NULL);
	if (err != NULL && errcap > 0)
		err[0] = '\0';
	return conf_parse(data == NULL ? (const uint8_t *)"" : data, len, out, &e);
}

/* Step 1 of docs/protocol.md: the signature object. */
static int parse_sig(struct errbuf *e, const char *sig, char key_id[NDX_KEY_ID_HEX_LEN + 1],
		     uint8_t out[NDX_ED25519_SIG_LEN])
{
	json_error_t jerr;
	json_t *o;
	const char *alg, *kid, *b64;
	uint8_t *raw = NULL;
	size_t rawlen = 0;
	int rc = NDX_EINVAL;

	if (sig == NULL || strlen(sig) > SIG_MAX_BYTES)
		return fail(e, NDX_EINVAL, "signature object is missing or too large");
	o = json_loads(sig, JSON_REJECT_DUPLICATES, &jerr);
	if (o == NULL)
		return fail(e, NDX_EINVAL, "signature object is not valid JSON: %s", jerr.text);
	if (!json_is_object(o)) {
		fail(e, NDX_EINVAL, "signature object is not a JSON object");
		goto out;
	}
	alg = json_string_value(json_object_get(o, "alg"));
	kid = json_string_value(json_object_get(o, "key_id"));
	b64 = json_string_value(json_object_get(o, "signature"));
	if (alg == NULL || strcmp(alg, "Ed25519") != 0) {
		fail(e, NDX_EINVAL, "signature object: alg must be \"Ed25519\"");
		goto out;
	}
	if (kid == NULL || !is_lower_hex(kid, NDX_KEY_ID_HEX_LEN)) {
		fail(e, NDX_EINVAL, "signature object: key_id must be 64 lower-case hex digits");
		goto out;
	}
	if (b64 == NULL || ndx_b64_decode(b64, strlen(b64), 0, &raw, &rawlen) != NDX_OK ||
	    rawlen != NDX_ED25519_SIG_LEN) {
		fail(e, NDX_EINVAL, "signature object: signature must be base64 of 64 bytes");
		goto out;
	}
	memcpy(out, raw, NDX_ED25519_SIG_LEN);
	memcpy(key_id, kid, NDX_KEY_ID_HEX_LEN + 1);
	rc = NDX_OK;
out:
	free(raw);
	json_decref(o);
	return rc;
}

int ndx__conf_check_sig(const uint8_t *data, size_t len, const char *sig,
			const struct ndx_anchor *anchor, const char *what, char *err,
			size_t errcap)
{
	struct errbuf e = { err, errcap };
	char kid[NDX_KEY_ID_HEX_LEN + 1], shortkid[20];
	uint8_t raw[NDX_ED25519_SIG_LEN];
	const struct ndx_key *key;
	int rc;

	if ((rc = parse_sig(&e, sig, kid, raw)) != NDX_OK)
		return rc;
	short_id(kid, shortkid);
	key = ndx_anchor_key(anchor, kid);
	if (key == NULL)
		return fail(&e, NDX_ENOTFOUND, "%s is signed with key %s, which "
			    "is not a key of the anchor", what, shortkid);
	if (len > NDX_CONF_MAX_BYTES)
		return fail(&e, NDX_ETOOBIG, "%s is larger than %u bytes", what,
			    NDX_CONF_MAX_BYTES);
	if (ndx_verify(key, data, len, raw) != NDX_OK)
		return fail(&e, NDX_EBADSIG, "signature does not verify with registry key %s",
			    shortkid);
	return NDX_OK;
}

int ndx__conf_check_fresh(const struct ndx_conf *c, const struct ndx_anchor *anchor,
			  time_t now, char *err, size_t errcap)
{
	struct errbuf e = { err, errcap };
	char t1[NDX_TIME_TEXT_LEN], t2[NDX_TIME_TEXT_LEN];

	if (strcmp(c->instance, anchor->instance) != 0)
		return fail(&e, NDX_EINVAL, "configuration is for instance %s, the anchor is "
			    "for %s", c->instance, anchor->instance);
	if (c->expires_at <= now) {
		ndx_time_format(c->expires_at, t1);
		ndx_time_format(now, t2);
		return fail(&e, NDX_EEXPIRED, "configuration expired at %s (now %s)", t1, t2);
	}
	if (c->generated_at > now + CLOCK_SKEW_SECONDS) {
		ndx_time_format(c->generated_at, t1);
		ndx_time_format(now, t2);
		return fail(&e, NDX_EEXPIRED, "configuration generated at %s, more than %d s "
			    "in the future (now %s): check the clocks", t1, CLOCK_SKEW_SECONDS,
			    t2);
	}
	return NDX_OK;
}

int ndx_conf_verify(const uint8_t *data, size_t len, const char *sig,
		    const struct ndx_anchor *anchor, time_t now,
		    struct ndx_conf **out, char *err, size_t errcap)
{
	struct errbuf e = { err, errcap };
	struct ndx_conf *c = NULL;
	int rc;

	assert(anchor != NULL && out != NULL);
	assert(data != NULL || len == 0);
	*out = NULL;
	if (err != NULL && errcap > 0)
		err[0] = '\0';
	if (data == NULL)
		data = (const uint8_t *)"";
	if ((rc = ndx__conf_check_sig(data, len, sig, anchor, "configuration", err,
				      errcap)) != NDX_OK)
		return rc;
	if ((rc = conf_parse(data, len, &c, &e)) != NDX_OK)
		return rc;
	if ((rc = ndx__conf_check_fresh(c, anchor, now, err, errcap)) != NDX_OK) {
		ndx_conf_free(c);
		return rc;
	}
	*out = c;
	return NDX_OK;
}

char *ndx_conf_sign(const struct ndx_key *key, const void *data, size_t len)
{
	uint8_t sig[NDX_ED25519_SIG_LEN];
	char kid[NDX_KEY_ID_HEX_LEN + 1], *b64, *text;
	json_t *o;

	assert(key != NULL);
	if (ndx_sign(key, data == NULL ? "" : data, len, sig) != NDX_OK)
		return NULL;
	b64 = ndx_b64_encode(sig, sizeof sig, 0);
	if (b64 == NULL)
		return NULL;
	ndx_key_id(key, kid);
	o = json_pack("{s:s, s:s, s:s}", "alg", "Ed25519", "key_id", kid, "signature", b64);
	free(b64);
	if (o == NULL)
		return NULL;
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return text;
}

static int join_path(char *buf, size_t cap, const char *dir, const char *name)
{
	int n = snprintf(buf, cap, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= cap ? NDX_EINVAL : NDX_OK;
}

/* conf.json and conf.sig of dir, verified; fresh false leaves out steps 5-6
 * (the caller checks the result of the deltas it applies on top). */
static int load_dir(const char *dir, const struct ndx_anchor *anchor, time_t now, bool fresh,
		    struct ndx_conf **out, char *err, size_t errcap)
{
	struct errbuf e = { err, errcap };
	char pconf[PATH_MAX], psig[PATH_MAX], *data = NULL, *sig = NULL;
	size_t len = 0, siglen = 0;
	int rc;

	assert(dir != NULL && anchor != NULL && out != NULL);
	*out = NULL;
	if (join_path(pconf, sizeof pconf, dir, NDX_CONF_FILE) != NDX_OK ||
	    join_path(psig, sizeof psig, dir, NDX_CONF_SIG_FILE) != NDX_OK)
		return fail(&e, NDX_EINVAL, "directory name is too long");
	rc = ndx_file_read(pconf, NDX_CONF_MAX_BYTES, &data, &len);
	if (rc != NDX_OK)
		return fail(&e, rc, "cannot read %s: %s", pconf, ndx_strerror(rc));
	rc = ndx_file_read(psig, SIG_MAX_BYTES, &sig, &siglen);
	if (rc != NDX_OK) {
		free(data);
		return fail(&e, rc, "cannot read %s: %s", psig, ndx_strerror(rc));
	}
	if (strlen(sig) != siglen)
		rc = fail(&e, NDX_EINVAL, "%s contains a NUL byte", psig);
	else if (fresh)
		rc = ndx_conf_verify((const uint8_t *)data, len, sig, anchor, now, out,
				     err, errcap);
	else if ((rc = ndx__conf_check_sig((const uint8_t *)data, len, sig, anchor,
					   "configuration", err, errcap)) == NDX_OK)
		rc = conf_parse((const uint8_t *)data, len, out, &e);
	free(data);
	free(sig);
	return rc;
}

int ndx_conf_load_dir(const char *dir, const struct ndx_anchor *anchor, time_t now,
		      struct ndx_conf **out, char *err, size_t errcap)
{
	return load_dir(dir, anchor, now, true, out, err, errcap);
}

int ndx__conf_load_base(const char *dir, const struct ndx_anchor *anchor,
			struct ndx_conf **out, char *err, size_t errcap)
{
	return load_dir(dir, anchor, 0, false, out, err, errcap);
}

int ndx_conf_save_dir(const char *dir, const uint8_t *data, size_t len, const char *sig)
{
	char pconf[PATH_MAX], psig[PATH_MAX];
	int rc;

	assert(dir != NULL && sig != NULL);
	assert(data != NULL || len == 0);
	if (join_path(pconf, sizeof pconf, dir, NDX_CONF_FILE) != NDX_OK ||
	    join_path(psig, sizeof psig, dir, NDX_CONF_SIG_FILE) != NDX_OK)
		return NDX_EINVAL;
	if ((rc = ndx_mkdirs(dir, 0755)) != NDX_OK)
		return rc;
	/* Two renames are not one atomic step: a crash in between leaves a
	 * pair that fails verification, which a loader treats like a missing
	 * configuration rather than trusting either half. */
	if ((rc = ndx_file_write_atomic(pconf, data == NULL ? "" : (const void *)data, len,
					0644, 0)) != NDX_OK)
		return rc;
	return ndx_file_write_atomic(psig, sig, strlen(sig), 0644, 0);
}

uint64_t ndx_conf_version(const struct ndx_conf *conf)
{
	return conf->version;
}

const char *ndx_conf_instance(const struct ndx_conf *conf)
{
	return conf->instance;
}

time_t ndx_conf_generated_at(const struct ndx_conf *conf)
{
	return conf->generated_at;
}

time_t ndx_conf_expires_at(const struct ndx_conf *conf)
{
	return conf->expires_at;
}

const json_t *ndx_conf_json(const struct ndx_conf *conf)
{
	return conf->doc;
}

const struct ndx_conf_member *ndx_conf_member(const struct ndx_conf *conf, const char *member_id)
{
	const json_t *idx;

	assert(conf != NULL);
	idx = member_id == NULL ? NULL : json_object_get(conf->mem_index, member_id);
	return idx != NULL ? &conf->mem[json_integer_value(idx)] : NULL;
}

const struct ndx_conf_subsystem *ndx_conf_subsystem(const struct ndx_conf *conf,
						    const char *subsystem_id)
{
	const json_t *idx;

	assert(conf != NULL);
	idx = subsystem_id == NULL ? NULL : json_object_get(conf->sub_index, subsystem_id);
	return idx != NULL ? &conf->sub[json_integer_value(idx)] : NULL;
}

bool ndx_conf_has_client(const struct ndx_conf *conf, const char *client_id)
{
	/* Ids of the two kinds differ in their number of parts, so a text
	 * names at most one of them. */
	return ndx_conf_subsystem(conf, client_id) != NULL ||
	       ndx_conf_member(conf, client_id) != NULL;
}

const struct ndx_conf_gateway *ndx_conf_gateway_by_cert(const struct ndx_conf *conf,
							const char *cert_sha256)
{
	const json_t *idx;

	assert(conf != NULL);
	if (cert_sha256 == NULL)
		return NULL;
	idx = json_object_get(conf->gw_index, cert_sha256);
	if (idx == NULL)
		return NULL;
	return &conf->gw[json_integer_value(idx)];
}

const struct ndx_conf_member *ndx_conf_member_at(const struct ndx_conf *conf, size_t i)
{
	assert(conf != NULL);
	return i < conf->nmem ? &conf->mem[i] : NULL;
}

const struct ndx_conf_subsystem *ndx_conf_subsystem_at(const struct ndx_conf *conf, size_t i)
{
	assert(conf != NULL);
	return i < conf->nsub ? &conf->sub[i] : NULL;
}

const struct ndx_conf_service *ndx_conf_service_at(const struct ndx_conf *conf, size_t i)
{
	assert(conf != NULL);
	return i < conf->nsvc ? &conf->svc[i] : NULL;
}

const struct ndx_conf_grant *ndx_conf_grant_at(const struct ndx_conf *conf, size_t i)
{
	assert(conf != NULL);
	return i < conf->ngrant ? &conf->grant[i] : NULL;
}

const struct ndx_conf_service *ndx_conf_service_of(const struct ndx_conf *conf,
						   const char *service_id)
{
	const json_t *idx;

	assert(conf != NULL);
	idx = service_id == NULL ? NULL : json_object_get(conf->svc_index, service_id);
	return idx != NULL ? &conf->svc[json_integer_value(idx)] : NULL;
}

bool ndx_conf_service_has_purpose(const struct ndx_conf_service *svc, const char *purpose)
{
	for (size_t i = 0; svc && purpose && i < svc->npurposes; i++)
		if (strcmp(svc->purposes[i], purpose) == 0)
			return true;
	return false;
}

const struct ndx_conf_gateway *ndx_conf_gateway_of(const struct ndx_conf *conf,
						   const char *member_id, size_t i)
{
	const json_t *idx;

	assert(conf != NULL);
	idx = member_id == NULL ? NULL : json_array_get(json_object_get(conf->gw_of, member_id), i);
	return idx != NULL ? &conf->gw[json_integer_value(idx)] : NULL;
}

const char *ndx_conf_ca_certificate(const struct ndx_conf *conf)
{
	assert(conf != NULL);
	return conf->ca_pem;
}

bool ndx_conf_grant_allows(const struct ndx_conf *conf, const char *client,
			   const char *service, const char *method, const char *path)
{
	return ndx_conf_grant_match(conf, client, service, method, path) != NULL;
}

const char *ndx_conf_grant_match(const struct ndx_conf *conf, const char *client,
				 const char *service, const char *method, const char *path)
{
	const char *pattern = NULL;

	return ndx_conf_grant_find(conf, client, service, method, path, &pattern) ? pattern : NULL;
}

const struct ndx_conf_grant *ndx_conf_grant_find(const struct ndx_conf *conf, const char *client,
						 const char *service, const char *method,
						 const char *path, const char **pattern)
{
	char key[GRANT_KEY_MAX];
	const json_t *grants, *g;
	size_t i;

	assert(conf != NULL);
	if (client == NULL || service == NULL || method == NULL)
		return NULL;
	if (path == NULL)
		path = "";
	if (ndx_path_has_dot_segment(path, false))
		return NULL;
	if (!index_key(key, sizeof key, client, service, NULL))
		return NULL;
	grants = json_object_get(conf->grants, key);
	json_array_foreach(grants, i, g) {
		const struct ndx_conf_grant *gr = &conf->grant[json_integer_value(g)];
		bool method_ok = false;

		for (size_t j = 0; j < gr->nmethods && !method_ok; j++)
			method_ok = strcmp(gr->methods[j], method) == 0;
		if (!method_ok)
			continue;
		for (size_t j = 0; j < gr->npaths; j++) {
			const char *pat = gr->paths[j];

			if (strcmp(pat, "*") == 0 || fnmatch(pat, path, 0) == 0) {
				if (pattern)
					*pattern = pat;
				return gr;
			}
		}
	}
	return NULL;
}

bool ndx_conf_is_revoked(const struct ndx_conf *conf, const char *key_id_or_fingerprint)
{
	assert(conf != NULL);
	return key_id_or_fingerprint != NULL &&
	       json_object_get(conf->revoked, key_id_or_fingerprint) != NULL;
}

const struct ndx_key *ndx_conf_consent_key(const struct ndx_conf *conf, const char *issuer_id,
					   const char *key_id)
{
	assert(conf != NULL);
	if (issuer_id == NULL || key_id == NULL)
		return NULL;
	/* A handful of consent services: a scan is cheaper than an index. */
	for (size_t i = 0; i < conf->ncs; i++) {
		const json_t *cs = json_array_get(conf->consent_services, i);
		const char *id = json_string_value(json_object_get(cs, "id"));
		const char *kid = json_string_value(json_object_get(cs, "sign_key_id"));

		if (id != NULL && kid != NULL && strcmp(id, issuer_id) == 0 &&
		    strcmp(kid, key_id) == 0)
			return conf->cs_keys[i];
	}
	return NULL;
}

const struct ndx_conf_consent_service *ndx_conf_consent_service(const struct ndx_conf *conf,
								const char *issuer_id)
{
	assert(conf != NULL);
	for (size_t i = 0; issuer_id != NULL && i < conf->ncs; i++)
		if (strcmp(conf->cs[i].id, issuer_id) == 0)
			return &conf->cs[i];
	return NULL;
}

const struct ndx_conf_consent_service *ndx_conf_consent_service_at(const struct ndx_conf *conf,
								   size_t i)
{
	assert(conf != NULL);
	return i < conf->ncs ? &conf->cs[i] : NULL;
}

bool ndx_conf_bulk_allowed(const struct ndx_conf *conf, const char *service_id,
			   const char *purpose)
{
	assert(conf != NULL);
	if (service_id == NULL || purpose == NULL)
		return false;
	return string_in(json_object_get(json_object_get(conf->services, service_id),
					 "bulk_purposes"), purpose);
}

int64_t ndx_conf_embargo_s(const struct ndx_conf *conf, const char *purpose)
{
	assert(conf != NULL);
	if (purpose == NULL)
		return 0;
	return (int64_t)json_integer_value(
		json_object_get(json_object_get(conf->embargo, purpose), "seconds"));
}

const struct ndx_key *ndx_conf_id_provider_key(const struct ndx_conf *conf,
					       const char *issuer, const char *kid)
{
	assert(conf != NULL);
	if (issuer == NULL)
		return NULL;
	/* One or two national e-IDs: a scan is cheaper than an index. */
	for (size_t i = 0; i < conf->nidp; i++) {
		const json_t *p = json_array_get(conf->id_providers, i);
		const char *iss = json_string_value(json_object_get(p, "issuer"));
		const char *skid = json_string_value(json_object_get(p, "sign_key_id"));

		if (iss == NULL || strcmp(iss, issuer) != 0)
			continue;
		if (kid != NULL && (skid == NULL || strcmp(skid, kid) != 0))
			return NULL;
		return conf->idp_keys[i];
	}
	return NULL;
}

const struct ndx_conf_event_type *ndx_conf_event_type_at(const struct ndx_conf *conf, size_t i)
{
	assert(conf != NULL);
	return i < conf->nevt ? &conf->evt[i] : NULL;
}

const struct ndx_conf_event_type *ndx_conf_event_type(const struct ndx_conf *conf,
						      const char *service, const char *name)
{
	char key[EVENT_KEY_MAX];
	const json_t *idx;

	assert(conf != NULL);
	if (service == NULL || name == NULL || !index_key(key, sizeof key, service, name, NULL))
		return NULL;
	idx = json_object_get(conf->evt_index, key);
	return idx != NULL ? &conf->evt[json_integer_value(idx)] : NULL;
}

const struct ndx_conf_subscription *ndx_conf_subscription_at(const struct ndx_conf *conf,
							     size_t i)
{
	assert(conf != NULL);
	return i < conf->nsubs ? &conf->subs[i] : NULL;
}

const struct ndx_conf_subscription *ndx_conf_subscriber_of(const struct ndx_conf *conf,
							   const char *service, const char *name,
							   size_t i)
{
	char key[EVENT_KEY_MAX];
	const json_t *idx;

	assert(conf != NULL);
	if (service == NULL || name == NULL || !index_key(key, sizeof key, service, name, NULL))
		return NULL;
	idx = json_array_get(json_object_get(conf->subs_of, key), i);
	return idx != NULL ? &conf->subs[json_integer_value(idx)] : NULL;
}

const struct ndx_conf_subscription *ndx_conf_subscription(const struct ndx_conf *conf,
							  const char *client, const char *service,
							  const char *name)
{
	char key[EVENT_KEY_MAX];
	const json_t *idx;

	assert(conf != NULL);
	if (client == NULL || service == NULL || name == NULL ||
	    !index_key(key, sizeof key, client, service, name))
		return NULL;
	idx = json_object_get(conf->subs_index, key);
	return idx != NULL ? &conf->subs[json_integer_value(idx)] : NULL;
}

/* ---- anchor ----------------------------------------------------------- */

void ndx_anchor_free(struct ndx_anchor *a)
{
	if (a == NULL)
		return;
	for (size_t i = 0; i < a->nkeys; i++)
		ndx_key_free(a->keys[i].key);
	free(a->keys);
	free(a->instance);
	for (size_t i = 0; i < a->n_registry_urls; i++)
		free(a->registry_urls[i]);
	free(a);
}

static bool http_url(const char *u)
{
	return strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0;
}

/* registry_url, and registry_urls when the anchor lists several nodes: it
 * must begin with registry_url, so that a reader that knows only
 * registry_url still asks the first node. */
static int anchor_urls(struct errbuf *e, struct ndx_anchor *a, const char *url,
		       const json_t *list)
{
	size_t n = list ? json_array_size(list) : 1;

	if (!http_url(url))
		return fail(e, NDX_EINVAL, "anchor.registry_url: expected an http:// or https:// URL");
	if (list && (!json_is_array(list) || n == 0 || n > NDX_ANCHOR_URLS_MAX))
		return fail(e, NDX_EINVAL, "anchor.registry_urls: expected an array of 1 to %d URLs",
			    NDX_ANCHOR_URLS_MAX);
	for (size_t i = 0; i < n; i++) {
		const char *u = list ? json_string_value(json_array_get(list, i)) : url;

		if (!u || !http_url(u))
			return fail(e, NDX_EINVAL, "anchor.registry_urls[%zu]: expected an http:// or "
				    "https:// URL", i);
		if (i == 0 && strcmp(u, url) != 0)
			return fail(e, NDX_EINVAL, "anchor.registry_urls[0]: must be registry_url");
		for (size_t j = 0; j < i; j++)
			if (strcmp(a->registry_urls[j], u) == 0)
				return fail(e, NDX_EINVAL, "anchor.registry_urls[%zu]: listed twice",
					    i);
		if (!(a->registry_urls[i] = strdup(u)))
			return fail(e, NDX_ENOMEM, "out of memory");
		a->n_registry_urls = i + 1;
	}
	return NDX_OK;
}

static int anchor_keys(struct errbuf *e, struct ndx_anchor *a, const json_t *keys)
{
	const json_t *k;
	char where[32];
	size_t i;
	int rc;

	if (json_array_size(keys) == 0)
		return fail(e, NDX_EINVAL, "anchor keys: is empty");
	a->keys = calloc(json_array_size(keys), sizeof *a->keys);
	if (a->keys == NULL)
		return fail(e, NDX_ENOMEM, "out of memory");
	json_array_foreach(keys, i, k) {
		const char *kid, *pub;
		uint8_t *raw = NULL;
		size_t rawlen = 0;
		struct anchor_key *slot = &a->keys[i];

		snprintf(where, sizeof where, "keys[%zu]", i);
		if ((rc = ensure_object(e, k, where)) != NDX_OK ||
		    (rc = get_string(e, k, where, "key_id", true, &kid)) != NDX_OK ||
		    (rc = get_string(e, k, where, "public_key", true, &pub)) != NDX_OK)
			return rc;
		if (ndx_b64_decode(pub, strlen(pub), 0, &raw, &rawlen) != NDX_OK ||
		    rawlen != NDX_ED25519_PUBLIC_LEN) {
			free(raw);
			return fail(e, NDX_EINVAL, "%s.public_key: expected base64 of a 32-byte "
				    "Ed25519 public key", where);
		}
		rc = ndx_key_from_public_raw(raw, &slot->key);
		free(raw);
		if (rc != NDX_OK)
			return fail(e, rc == NDX_ENOMEM ? rc : NDX_EINVAL,
				    "%s.public_key: not a usable Ed25519 public key", where);
		a->nkeys = i + 1;
		ndx_key_id(slot->key, slot->id);
		if (strcmp(slot->id, kid) != 0)
			return fail(e, NDX_EINVAL, "%s.key_id: does not match public_key (its "
				    "key id is %s)", where, slot->id);
		for (size_t j = 0; j < i; j++)
			if (strcmp(a->keys[j].id, slot->id) == 0)
				return fail(e, NDX_EINVAL, "%s: key is listed twice", where);
	}
	return NDX_OK;
}

int ndx_anchor_parse(const char *data, size_t len, struct ndx_anchor **out,
		     char *err, size_t errcap)
{
	struct errbuf e = { err, errcap };
	struct ndx_anchor *a = NULL;
	json_error_t jerr;
	json_t *doc;
	const json_t *keys;
	const char *fmt, *inst, *url, *why = NULL;
	time_t t;
	int rc;

	assert(out != NULL);
	assert(data != NULL || len == 0);
	*out = NULL;
	if (err != NULL && errcap > 0)
		err[0] = '\0';
	doc = json_loadb(data == NULL ? "" : data, len, JSON_REJECT_DUPLICATES, &jerr);
	if (doc == NULL)
		return fail(&e, NDX_EINVAL, "anchor is not valid JSON: %s (line %d, column %d)",
			    jerr.text, jerr.line, jerr.column);
	if (!json_is_object(doc)) {
		rc = fail(&e, NDX_EINVAL, "anchor is not a JSON object");
		goto out;
	}
	if ((rc = get_string(&e, doc, "anchor", "format", true, &fmt)) != NDX_OK ||
	    (rc = get_string(&e, doc, "anchor", "instance", true, &inst)) != NDX_OK ||
	    (rc = get_string(&e, doc, "anchor", "registry_url", true, &url)) != NDX_OK ||
	    (rc = get_time(&e, doc, "anchor", "generated_at", false, &t)) != NDX_OK ||
	    (rc = get_array(&e, doc, "anchor", "keys", &keys)) != NDX_OK)
		goto out;
	if (strcmp(fmt, NDX_ANCHOR_FORMAT) != 0) {
		rc = fail(&e, NDX_EINVAL, "anchor.format: expected \"%s\"", NDX_ANCHOR_FORMAT);
		goto out;
	}
	if (!part_ok(inst, &why)) {
		rc = fail(&e, NDX_EINVAL, "anchor.instance: %s", why);
		goto out;
	}
	a = calloc(1, sizeof *a);
	if (a == NULL || (a->instance = strdup(inst)) == NULL) {
		rc = fail(&e, NDX_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = anchor_urls(&e, a, url, json_object_get(doc, "registry_urls"))) != NDX_OK ||
	    (rc = anchor_keys(&e, a, keys)) != NDX_OK)
		goto out;
	*out = a;
	a = NULL;
out:
	ndx_anchor_free(a);
	json_decref(doc);
	return rc;
}

int ndx_anchor_load(const char *path, struct ndx_anchor **out, char *err, size_t errcap)
{
	struct errbuf e = { err, errcap };
	char *data = NULL;
	size_t len = 0;
	int rc;

	assert(path != NULL && out != NULL);
	*out = NULL;
	/* An anchor holds a handful of keys; 1 MiB is generous. */
	rc = ndx_file_read(path, 1u << 20, &data, &len);
	if (rc != NDX_OK)
		return fail(&e, rc, "cannot read %s: %s", path, ndx_strerror(rc));
	rc = ndx_anchor_parse(data, len, out, err, errcap);
	free(data);
	return rc;
}

const char *ndx_anchor_instance(const struct ndx_anchor *a)
{
	return a->instance;
}

const char *ndx_anchor_registry_url(const struct ndx_anchor *a)
{
	return a->registry_urls[0];
}

size_t ndx_anchor_registry_url_count(const struct ndx_anchor *a)
{
	return a->n_registry_urls;
}

const char *ndx_anchor_registry_url_at(const struct ndx_anchor *a, size_t i)
{
	return i < a->n_registry_urls ? a->registry_urls[i] : NULL;
}

const struct ndx_key *ndx_anchor_key(const struct ndx_anchor *a, const char *key_id)
{
	assert(a != NULL);
	if (key_id == NULL)
		return NULL;
	for (size_t i = 0; i < a->nkeys; i++)
		if (strcmp(a->keys[i].id, key_id) == 0)
			return a->keys[i].key;
	return NULL;
}

json_t *ndx_anchor_build(const char *instance, const char *registry_url,
			 const struct ndx_key *key)
{
	assert(registry_url != NULL);
	return ndx_anchor_build_nodes(instance, &registry_url, 1, key);
}

json_t *ndx_anchor_build_nodes(const char *instance, const char *const *registry_urls,
			       size_t n_urls, const struct ndx_key *key)
{
	uint8_t raw[NDX_ED25519_PUBLIC_LEN];
	char kid[NDX_KEY_ID_HEX_LEN + 1], now[NDX_TIME_TEXT_LEN], *b64;
	json_t *doc, *list = NULL;

	assert(instance != NULL && registry_urls != NULL && key != NULL);
	assert(n_urls >= 1 && n_urls <= NDX_ANCHOR_URLS_MAX);
	ndx_key_public_raw(key, raw);
	ndx_key_id(key, kid);
	ndx_time_format(time(NULL), now);
	b64 = ndx_b64_encode(raw, sizeof raw, 0);
	if (b64 == NULL)
		return NULL;
	doc = json_pack("{s:s, s:s, s:s, s:s, s:[{s:s, s:s}]}",
			"format", NDX_ANCHOR_FORMAT, "instance", instance,
			"registry_url", registry_urls[0], "generated_at", now,
			"keys", "key_id", kid, "public_key", b64);
	free(b64);
	if (doc && n_urls > 1) {
		list = json_array();
		for (size_t i = 0; list && i < n_urls; i++)
			if (json_array_append_new(list, json_string(registry_urls[i]))) {
				json_decref(list);
				list = NULL;
			}
		if (!list || json_object_set_new(doc, "registry_urls", list)) {
			json_decref(doc);
			return NULL;
		}
	}
	return doc;
}

const char *ndx_conf_monitoring_client(const struct ndx_conf *conf)
{
	return conf ? conf->monitoring_client : NULL;
}
