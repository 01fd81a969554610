/* The consent service's HTTP handlers (api.h). Every input is checked here
 * with the rules a gateway applies (include/ndx/consent.h), so the service
 * never signs a consent a gateway would refuse as malformed; refusals are
 * X-Road style errors naming the field. Issuing, listing and revoking need
 * the admin bearer token (only its SHA-256 is kept, compared in constant
 * time), and issuing and revoking take a token from the subject's own bucket
 * (subject_limit.h). The status lists are public, since gateways fetch them
 * without credentials and the signed index is what they trust: it is signed
 * afresh on every request and names each list by the SHA-256 of its exact
 * bytes, so the large lists are encoded once per change and served as they
 * are. Overview: docs/protocol.md "Consent artefacts", "Revocation". */
#include "api.h"
#include "ndx/bearer.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ndx/consent.h"
#include "ndx/encode.h"
#include "ndx/err.h"
#include "ndx/hash.h"
#include "ndx/id.h"
#include "ndx/jws.h"
#include "ndx/statuslist.h"
#include "ndx/timefmt.h"

#define STATUS_INDEX_TYP "ndx-status-index+jwt"

/* The wall clock in seconds, read exactly: time(2) reads the kernel's coarse
 * clock, up to a tick behind, so just after a second boundary it could be a
 * second behind the client that sent "now + 366 days" and refuse a consent
 * of the longest validity as one second too long. */
static time_t wall_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec;
}

/* One list's encoded document, valid while gen matches the store's. */
struct list_copy {
	uint64_t gen;
	char *body;
	size_t len;
	char sha256[2 * NDX_SHA256_LEN + 1];
};

struct capi_lists {
	pthread_mutex_t mu;
	struct list_copy *v;
	uint32_t n;
};

struct capi_lists *capi_lists_new(void)
{
	struct capi_lists *c = calloc(1, sizeof *c);

	if (c)
		pthread_mutex_init(&c->mu, NULL);
	return c;
}

void capi_lists_free(struct capi_lists *c)
{
	if (!c)
		return;
	for (uint32_t i = 0; i < c->n; i++)
		free(c->v[i].body);
	free(c->v);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

/* ---- answers ------------------------------------------------------------ */

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

static void internal(struct ndx_http_resp *resp, const char *detail)
{
	ndx_http_resp_error(resp, 500, "Server.Internal", "the consent service failed", detail);
}

static void method_not_allowed(struct ndx_http_resp *resp, const char *allow)
{
	ndx_http_resp_error(resp, 405, "Client.MethodNotAllowed", "method not allowed", allow);
	ndx_http_resp_header(resp, "Allow", allow);
}

static void not_found(struct ndx_http_resp *resp, const char *path)
{
	ndx_http_resp_error(resp, 404, "Client.NotFound", "no such path", path);
}

/* Takes a token from subject's bucket; 0, or -1 after answering 429. The
 * detail names no number: the caller knows whose action it was. */
static int rate_limited(const struct capi_config *cfg, const char *subject,
			struct ndx_http_resp *resp)
{
	struct timespec ts;
	unsigned retry = 0;
	char text[16], detail[160];

	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (subject_limit_take(cfg->limit, subject, (double)ts.tv_sec + ts.tv_nsec / 1e9, &retry))
		return 0;
	snprintf(text, sizeof text, "%u", retry);
	snprintf(detail, sizeof detail, "this subject has issued or revoked too many consents "
		 "in a short time; try again in %u s", retry);
	ndx_http_resp_error(resp, 429, "Client.TooManyRequests", "too many requests", detail);
	ndx_http_resp_header(resp, "Retry-After", text);
	return -1;
}

/* ---- authentication ------------------------------------------------------ */

static int authenticate(const struct capi_config *cfg, const struct ndx_http_req *req,
			struct ndx_http_resp *resp)
{
	return ndx_bearer_check(req, resp, cstore_token_sha256(cfg->st), "ndx-consent");
}

/* ---- input rules ------------------------------------------------------------ */

static int pin_ok(const char *s)
{
	if (strlen(s) != NDX_CONSENT_PIN_LEN)
		return 0;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

static int purpose_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > NDX_CONSENT_PURPOSE_MAX)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-'))
			return 0;
	return 1;
}

static int jti_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > NDX_CONSENT_JTI_MAX)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9') || strchr("-_.:", *s)))
			return 0;
	return 1;
}

/* The issuer's instance, the first part of its id. */
static void issuer_instance(const struct capi_config *cfg, char *out, size_t cap)
{
	const char *iss = cstore_issuer(cfg->st);
	size_t n = strcspn(iss, "/");

	snprintf(out, cap, "%.*s", (int)n, iss);
}

/* Parses v (a JSON string) as an id of kind into canonical canon
 * (NDX_ID_TEXT_MAX bytes) of the issuer's instance; answers 400 naming field. */
static int id_field(const struct capi_config *cfg, struct ndx_http_resp *resp,
		    const char *field, const json_t *v, enum ndx_id_kind kind, char *canon)
{
	char inst[NDX_ID_PART_MAX + 1];
	const char *why = NULL;
	struct ndx_id id;

	if (!json_is_string(v)) {
		bad_request(resp, v ? "invalid field" : "missing field", "%s: %s", field,
			    v ? "expected a string" : "is required");
		return -1;
	}
	if (ndx_id_parse(json_string_value(v), json_string_length(v), kind, &id, &why) !=
		    NDX_OK ||
	    ndx_id_format(&id, canon, NDX_ID_TEXT_MAX) < 0) {
		bad_request(resp, kind == NDX_ID_SERVICE ? "invalid service id"
							 : "invalid subsystem id",
			    "%s: %s", field, why ? why : "malformed");
		return -1;
	}
	issuer_instance(cfg, inst, sizeof inst);
	if (strcmp(id.instance, inst) != 0) {
		bad_request(resp, kind == NDX_ID_SERVICE ? "invalid service id"
							 : "invalid subsystem id",
			    "%s: instance %s is not this consent service's instance %s", field,
			    id.instance, inst);
		return -1;
	}
	return 0;
}

/* An optional RFC 3339 time field; returns 1 (set), 0 (absent) or -1 (400). */
static int time_field(struct ndx_http_resp *resp, const json_t *o, const char *field,
		      time_t *out)
{
	const json_t *v = json_object_get(o, field);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v) || ndx_time_parse(json_string_value(v), out) != NDX_OK) {
		bad_request(resp, "invalid field",
			    "%s: expected an RFC 3339 UTC time (YYYY-MM-DDTHH:MM:SSZ)", field);
		return -1;
	}
	return 1;
}

static int new_jti(char out[37])
{
	uint8_t b[16];
	char hex[33];

	if (RAND_bytes(b, sizeof b) != 1)
		return -1;
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	ndx_hex_encode(b, sizeof b, hex);
	snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16,
		 hex + 20);
	return 0;
}

/* ---- POST /api/consents ---------------------------------------------------- */

struct issue {
	char consumer[NDX_ID_TEXT_MAX];
	char services[NDX_CONSENT_MAX_SERVICES][NDX_ID_TEXT_MAX];
	const char *svc_ptrs[NDX_CONSENT_MAX_SERVICES];
	size_t n_services;
	const char *subject, *purpose;
	time_t nbf, exp;
};

/* Reads and checks the request into is; 0, or -1 after answering 400. */
static int read_issue(const struct capi_config *cfg, const json_t *body, time_t now,
		      struct ndx_http_resp *resp, struct issue *is)
{
	const json_t *v = json_object_get(body, "subject"), *svcs, *e;
	size_t i, j;
	int r;

	if (!json_is_string(v) || !pin_ok(json_string_value(v))) {
		bad_request(resp, v ? "invalid subject" : "missing field",
			    "subject: a personal identification number of exactly %d digits",
			    NDX_CONSENT_PIN_LEN);
		return -1;
	}
	is->subject = json_string_value(v);
	if (id_field(cfg, resp, "consumer", json_object_get(body, "consumer"), NDX_ID_SUBSYSTEM,
		     is->consumer))
		return -1;
	svcs = json_object_get(body, "services");
	if (!json_is_array(svcs) || json_array_size(svcs) == 0 ||
	    json_array_size(svcs) > NDX_CONSENT_MAX_SERVICES) {
		bad_request(resp, svcs ? "invalid field" : "missing field",
			    "services: an array of 1 to %d service ids", NDX_CONSENT_MAX_SERVICES);
		return -1;
	}
	json_array_foreach(svcs, i, e) {
		char field[32];

		snprintf(field, sizeof field, "services[%zu]", i);
		if (id_field(cfg, resp, field, e, NDX_ID_SERVICE, is->services[i]))
			return -1;
		for (j = 0; j < i; j++)
			if (strcmp(is->services[j], is->services[i]) == 0) {
				bad_request(resp, "invalid field", "%s: %s appears twice", field,
					    is->services[i]);
				return -1;
			}
		is->svc_ptrs[i] = is->services[i];
	}
	is->n_services = json_array_size(svcs);
	v = json_object_get(body, "purpose");
	if (!json_is_string(v) || !purpose_ok(json_string_value(v))) {
		bad_request(resp, v ? "invalid purpose" : "missing field",
			    "purpose: 1 to %d characters from a-z 0-9 -", NDX_CONSENT_PURPOSE_MAX);
		return -1;
	}
	is->purpose = json_string_value(v);
	is->nbf = now;
	if (time_field(resp, body, "valid_from", &is->nbf) < 0 ||
	    (r = time_field(resp, body, "valid_to", &is->exp)) < 0)
		return -1;
	if (r == 0) {
		bad_request(resp, "missing field", "valid_to is required");
		return -1;
	}
	if (is->exp <= now) {
		bad_request(resp, "invalid validity", "valid_to is in the past");
		return -1;
	}
	if (is->exp <= is->nbf) {
		bad_request(resp, "invalid validity", "valid_to must be after valid_from");
		return -1;
	}
	if (is->exp - is->nbf > CONSENT_MAX_VALIDITY ||
	    is->nbf > now + CONSENT_MAX_VALIDITY) {
		bad_request(resp, "invalid validity",
			    "a consent is valid for at most %d days and starts within that time",
			    CONSENT_MAX_VALIDITY / 86400);
		return -1;
	}
	return 0;
}

static void consents_issue(const struct capi_config *cfg, const struct ndx_http_req *req,
			   struct ndx_http_resp *resp)
{
	json_error_t jerr;
	json_t *body, *services_json = NULL;
	struct issue is;
	char jti[37], err[256] = "", *jws = NULL, *svc_text = NULL;
	char t_iat[NDX_TIME_TEXT_LEN], t_nbf[NDX_TIME_TEXT_LEN], t_exp[NDX_TIME_TEXT_LEN];
	time_t now = wall_now();
	uint32_t status_list = 0, status_idx = 0;
	int rc;

	if (!req->body || req->body_len == 0) {
		bad_request(resp, "malformed JSON", "a JSON object body is required");
		return;
	}
	body = json_loadb((const char *)req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(body)) {
		bad_request(resp, "malformed JSON", "%s",
			    body ? "the body must be a JSON object" : jerr.text);
		json_decref(body);
		return;
	}
	memset(&is, 0, sizeof is);
	if (read_issue(cfg, body, now, resp, &is) || rate_limited(cfg, is.subject, resp))
		goto out;
	rc = cstore_status_reserve(cfg->st, &status_list, &status_idx);
	if (rc) {
		internal(resp, rc == NDX_ETOOBIG ? "every status list index is used"
						 : "the store failed; no consent was issued");
		goto out;
	}
	if (new_jti(jti)) {
		internal(resp, "no randomness for a consent id");
		goto out;
	}
	struct ndx_consent_fields f = {
		.iss = cstore_issuer(cfg->st), .jti = jti, .sub = is.subject,
		.consumer = is.consumer, .services = is.svc_ptrs, .n_services = is.n_services,
		.purpose = is.purpose, .iat = now, .nbf = is.nbf, .exp = is.exp,
		.status_list = status_list, .status_idx = status_idx,
	};
	rc = ndx_consent_sign(cfg->key, &f, &jws, err, sizeof err);
	if (rc == NDX_EINVAL || rc == NDX_ETOOBIG) {
		bad_request(resp, rc == NDX_ETOOBIG ? "consent too large" : "invalid consent",
			    "%s", rc == NDX_ETOOBIG ? "the signed consent would exceed 1024 bytes: "
						      "fewer services" : err);
		goto out;
	}
	if (rc) {
		internal(resp, "cannot sign the consent");
		goto out;
	}
	services_json = json_array();
	for (size_t i = 0; services_json && i < is.n_services; i++)
		json_array_append_new(services_json, json_string(is.services[i]));
	svc_text = services_json ? json_dumps(services_json, JSON_COMPACT) : NULL;
	if (!svc_text) {
		internal(resp, "out of memory");
		goto out;
	}
	struct cstore_consent row = {
		.jti = jti, .subject = is.subject, .consumer = is.consumer, .services = svc_text,
		.purpose = is.purpose, .iat = now, .nbf = is.nbf, .exp = is.exp, .jws = jws,
		.status_list = status_list, .status_idx = status_idx,
	};
	if ((rc = cstore_consent_add(cfg->st, &row))) {
		internal(resp, "the store failed; no consent was issued");
		goto out;
	}
	ndx_time_format(now, t_iat);
	ndx_time_format(is.nbf, t_nbf);
	ndx_time_format(is.exp, t_exp);
	ndx_http_resp_json(resp, 201, json_pack("{ss ss ss ss sO ss ss ss ss ss}", "jti", jti,
						"issuer", cstore_issuer(cfg->st),
						"subject", is.subject, "consumer", is.consumer,
						"services", services_json, "purpose", is.purpose,
						"issued_at", t_iat, "valid_from", t_nbf,
						"valid_to", t_exp, "consent", jws));
	/* The subject's number is personal data: the access log line carries
	 * only the jti. */
	fprintf(stderr, "ndx-consent: issued consent %s\n", jti);
out:
	free(jws);
	free(svc_text);
	json_decref(services_json);
	json_decref(body);
}

/* ---- GET /api/consents?subject=PIN ----------------------------------------- */

static void consents_list(const struct capi_config *cfg, const struct ndx_http_req *req,
			  struct ndx_http_resp *resp)
{
	const char *sub = ndx_http_query_arg(req, "subject");
	json_t *rows;

	if (!sub || !pin_ok(sub)) {
		bad_request(resp, sub ? "invalid subject" : "missing query",
			    "subject: a personal identification number of exactly %d digits",
			    NDX_CONSENT_PIN_LEN);
		return;
	}
	if (cstore_consent_list(cfg->st, sub, time(NULL), &rows)) {
		internal(resp, "the store failed");
		return;
	}
	ndx_http_resp_json(resp, 200, json_pack("{ss so}", "subject", sub, "consents", rows));
}

/* ---- POST /api/consents/{jti}/revoke --------------------------------------- */

static void consents_revoke(const struct capi_config *cfg, const char *jti,
			    struct ndx_http_resp *resp)
{
	char t[NDX_TIME_TEXT_LEN], detail[128];
	time_t now = wall_now();
	char subject[NDX_CONSENT_PIN_LEN + 1];
	uint64_t version;
	int rc;

	rc = cstore_consent_subject(cfg->st, jti, subject, sizeof subject);
	if (rc == NDX_OK) {
		if (rate_limited(cfg, subject, resp))
			return;
		rc = cstore_consent_revoke(cfg->st, jti, now, &version);
	}
	if (rc == NDX_ENOTFOUND) {
		snprintf(detail, sizeof detail, "consent %s does not exist", jti);
		ndx_http_resp_error(resp, 404, "Client.NotFound", "not found", detail);
		return;
	}
	if (rc == NDX_EEXIST) {
		snprintf(detail, sizeof detail, "consent %s is revoked already", jti);
		ndx_http_resp_error(resp, 409, "Client.Conflict", "already revoked", detail);
		return;
	}
	if (rc) {
		internal(resp, "the store failed; the consent was not revoked");
		return;
	}
	ndx_time_format(now, t);
	ndx_http_resp_json(resp, 200, json_pack("{ss ss ss sI}", "jti", jti, "status", "revoked",
						"revoked_at", t, "revocation_version",
						(json_int_t)version));
	fprintf(stderr, "ndx-consent: revoked consent %s (revocation version %llu)\n", jti,
		(unsigned long long)version);
}

/* ---- GET /status, GET /status/{list} ------------------------------------ */

/* Brings the encoded copy of list up to date with the store; under c->mu. */
static int list_refresh(const struct capi_config *cfg, uint32_t list)
{
	struct capi_lists *c = cfg->lists;
	struct list_copy *lc;
	uint8_t *bits, sha[NDX_SHA256_LEN];
	uint64_t gen;
	char *body;
	size_t len;
	int rc;

	if (list >= c->n) {
		struct list_copy *nv = realloc(c->v, (list + 1) * sizeof *nv);
		if (!nv)
			return NDX_ENOMEM;
		memset(nv + c->n, 0, (list + 1 - c->n) * sizeof *nv);
		c->v = nv;
		c->n = list + 1;
	}
	lc = &c->v[list];
	if ((rc = cstore_status_bits(cfg->st, list, NULL, &gen)))
		return rc;
	if (lc->body && lc->gen == gen)
		return NDX_OK;
	if (!(bits = malloc(NDX_STATUSLIST_BYTES)))
		return NDX_ENOMEM;
	if ((rc = cstore_status_bits(cfg->st, list, bits, &gen)) == NDX_OK)
		rc = ndx_statuslist_write(cstore_issuer(cfg->st), list, bits, &body, &len);
	free(bits);
	if (rc)
		return rc;
	free(lc->body);
	lc->body = body;
	lc->len = len;
	lc->gen = gen;
	ndx_sha256(body, len, sha);
	ndx_hex_encode(sha, sizeof sha, lc->sha256);
	return NDX_OK;
}

static void status_index(const struct capi_config *cfg, struct ndx_http_resp *resp)
{
	char gen[NDX_TIME_TEXT_LEN], *payload = NULL, *jws = NULL;
	time_t now = wall_now();
	uint64_t version;
	uint32_t nlists;
	json_t *lists, *doc;
	int rc = NDX_ENOMEM;

	if (cstore_status(cfg->st, &version, &nlists)) {
		internal(resp, "the store failed");
		return;
	}
	if (!(lists = json_array())) {
		internal(resp, "out of memory");
		return;
	}
	pthread_mutex_lock(&cfg->lists->mu);
	for (uint32_t i = 0; i < nlists; i++) {
		if ((rc = list_refresh(cfg, i)) ||
		    json_array_append_new(lists, json_pack("{sI ss}", "list", (json_int_t)i,
							   "sha256", cfg->lists->v[i].sha256))) {
			rc = rc ? rc : NDX_ENOMEM;
			break;
		}
		rc = NDX_OK;
	}
	pthread_mutex_unlock(&cfg->lists->mu);
	if (nlists && rc) {
		json_decref(lists);
		internal(resp, "cannot encode the status lists");
		return;
	}
	ndx_time_format(now, gen);
	/* Signed afresh on every request: generated_at is what a gateway
	 * measures the age of its state by; the lists are bound by digest. */
	doc = json_pack("{ss sI ss sI so}", "issuer", cstore_issuer(cfg->st), "version",
			(json_int_t)version, "generated_at", gen, "capacity",
			(json_int_t)NDX_STATUSLIST_CAPACITY, "lists", lists);
	payload = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	if (!payload) {
		internal(resp, "out of memory");
		return;
	}
	rc = ndx_jws_sign(cfg->key, STATUS_INDEX_TYP, payload, strlen(payload), &jws);
	free(payload);
	if (rc) {
		internal(resp, rc == NDX_ETOOBIG ? "the status index exceeds the JWS size cap"
						 : "cannot sign the status index");
		return;
	}
	ndx_http_resp_bytes(resp, 200, "application/jose", jws, strlen(jws));
	ndx_http_resp_header(resp, "Cache-Control", "no-store");
	free(jws);
}

static void status_list(const struct capi_config *cfg, const struct ndx_http_req *req,
			const char *arg, struct ndx_http_resp *resp)
{
	const char *inm = ndx_http_header(req, "If-None-Match");
	char etag[2 * NDX_SHA256_LEN + 3], *end = NULL;
	unsigned long n;
	uint64_t version;
	uint32_t nlists;

	errno = 0;
	n = *arg >= '0' && *arg <= '9' && (arg[0] != '0' || !arg[1]) ? strtoul(arg, &end, 10) : 0;
	if (!end || *end || errno || cstore_status(cfg->st, &version, &nlists) || n >= nlists) {
		not_found(resp, req->path);
		return;
	}
	pthread_mutex_lock(&cfg->lists->mu);
	if (list_refresh(cfg, (uint32_t)n)) {
		pthread_mutex_unlock(&cfg->lists->mu);
		internal(resp, "cannot encode the status list");
		return;
	}
	snprintf(etag, sizeof etag, "\"%s\"", cfg->lists->v[n].sha256);
	/* The index names the digest a gateway wants; the ETag lets any other
	 * client ask only for a change. */
	if (inm && strcmp(inm, etag) == 0)
		ndx_http_resp_bytes(resp, 304, NDX_STATUSLIST_MEDIA_TYPE, "", 0);
	else
		ndx_http_resp_bytes(resp, 200, NDX_STATUSLIST_MEDIA_TYPE, cfg->lists->v[n].body,
				    cfg->lists->v[n].len);
	pthread_mutex_unlock(&cfg->lists->mu);
	ndx_http_resp_header(resp, "ETag", etag);
	ndx_http_resp_header(resp, "Cache-Control", "no-cache");
}

/* ---- routing ------------------------------------------------------------------ */

static int is_get(const char *m)
{
	return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
}

static void route_api(const struct capi_config *cfg, const struct ndx_http_req *req,
		      struct ndx_http_resp *resp)
{
	const char *p = req->path + strlen("/api/consents"), *m = req->method;
	char jti[NDX_CONSENT_JTI_MAX + 1];
	size_t n;

	if (strncmp(req->path, "/api/consents", 13) != 0 || (*p && *p != '/')) {
		not_found(resp, req->path);
		return;
	}
	if (!*p) {
		if (strcmp(m, "POST") == 0)
			consents_issue(cfg, req, resp);
		else if (is_get(m))
			consents_list(cfg, req, resp);
		else
			method_not_allowed(resp, "GET, HEAD, POST");
		return;
	}
	p++;
	n = strcspn(p, "/");
	if (strcmp(p + n, "/revoke") != 0) {
		not_found(resp, req->path);
		return;
	}
	if (n == 0 || n > NDX_CONSENT_JTI_MAX) {
		bad_request(resp, "invalid consent id", "a jti is 1 to %d characters from "
							"A-Z a-z 0-9 - _ . :", NDX_CONSENT_JTI_MAX);
		return;
	}
	memcpy(jti, p, n);
	jti[n] = '\0';
	if (!jti_ok(jti)) {
		bad_request(resp, "invalid consent id", "a jti is 1 to %d characters from "
							"A-Z a-z 0-9 - _ . :", NDX_CONSENT_JTI_MAX);
		return;
	}
	if (strcmp(m, "POST") != 0) {
		method_not_allowed(resp, "POST");
		return;
	}
	consents_revoke(cfg, jti, resp);
}

void capi_handle(void *ctx, const struct ndx_http_req *req, struct ndx_http_resp *resp)
{
	const struct capi_config *cfg = ctx;
	const char *p = req->path;

	if (strncmp(p, "/api/", 5) == 0 || strcmp(p, "/api") == 0) {
		/* Authenticate first: nothing about the API leaks to anonymous callers. */
		if (authenticate(cfg, req, resp))
			route_api(cfg, req, resp);
		return;
	}
	if (strncmp(p, "/status/", 8) == 0) {
		if (!is_get(req->method))
			method_not_allowed(resp, "GET, HEAD");
		else
			status_list(cfg, req, p + 8, resp);
		return;
	}
	if (strcmp(p, "/healthz") == 0 || strcmp(p, "/status") == 0) {
		if (!is_get(req->method)) {
			method_not_allowed(resp, "GET, HEAD");
		} else if (p[1] == 'h') {
			char kid[NDX_KEY_ID_HEX_LEN + 1];

			ndx_key_id(cfg->key, kid);
			ndx_http_resp_json(resp, 200, json_pack("{ss ss ss}", "status", "ok",
								"issuer", cstore_issuer(cfg->st),
								"key_id", kid));
		} else {
			status_index(cfg, resp);
		}
		return;
	}
	not_found(resp, p);
}
