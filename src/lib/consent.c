/* Consent artefacts (docs/protocol.md "Consent artefacts"): building and
 * signing the JWT-like payload, strict parsing, and the provider gateway's
 * check of one consent against one request, with a distinct refusal for
 * each way it can fail. The JWS layer is jws.c; this file decides what the
 * payload means. One validator serves both signing and parsing so that a
 * consent service can never issue what a gateway would call malformed. */
#include "ndx/consent.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "ndx/err.h"
#include "ndx/id.h"
#include "ndx/jws.h"
#include "ndx/statuslist.h"
#include "ndx/timefmt.h"

/* 9999-12-31T23:59:59Z: RFC 3339 cannot write a later time. */
#define TIME_MAX_SECONDS 253402300799LL

static const char *const refusal_names[] = {
	[NDX_CONSENT_ACCEPTED] = "consent_accepted",
	[NDX_CONSENT_MALFORMED] = "consent_malformed",
	[NDX_CONSENT_UNKNOWN_KEY] = "consent_unknown_key",
	[NDX_CONSENT_BAD_SIGNATURE] = "consent_bad_signature",
	[NDX_CONSENT_NOT_YET_VALID] = "consent_not_yet_valid",
	[NDX_CONSENT_EXPIRED] = "consent_expired",
	[NDX_CONSENT_WRONG_SUBJECT] = "consent_wrong_subject",
	[NDX_CONSENT_WRONG_CONSUMER] = "consent_wrong_consumer",
	[NDX_CONSENT_SERVICE_NOT_COVERED] = "consent_service_not_covered",
	[NDX_CONSENT_WRONG_PURPOSE] = "consent_wrong_purpose",
	[NDX_CONSENT_REVOKED] = "consent_revoked",
};

/* The payload's members, all required; anything else is refused, because
 * "ver" is how the format grows, not silently ignored extras. */
static const char *const payload_members[] = {
	"iss", "jti", "sub", "consumer", "services", "purpose", "iat", "nbf", "exp", "status", "ver",
};

const char *ndx_consent_refusal_name(enum ndx_consent_refusal r)
{
	if ((unsigned)r >= sizeof refusal_names / sizeof refusal_names[0])
		return "consent_unknown_refusal";
	return refusal_names[r];
}

/* ---- field rules (shared by signing and parsing) -------------------- */

static int check_id(const char *field, const char *s, enum ndx_id_kind kind, char *err,
		    size_t errcap)
{
	char canon[NDX_ID_TEXT_MAX];
	struct ndx_id id;
	const char *why = NULL;

	if (s == NULL)
		return ndx_fail(err, errcap, NDX_EINVAL, "%s: missing", field);
	if (ndx_id_parse(s, strlen(s), kind, &id, &why) != NDX_OK)
		return ndx_fail(err, errcap, NDX_EINVAL, "%s: %s", field,
			    why ? why : "not a valid id");
	/* Ids are compared as strings against the request, so only the one
	 * canonical spelling is accepted (no percent-encoding). */
	if (ndx_id_format(&id, canon, sizeof canon) < 0 || strcmp(canon, s) != 0)
		return ndx_fail(err, errcap, NDX_EINVAL, "%s: not in canonical form", field);
	return NDX_OK;
}

static int check_pin(const char *s, char *err, size_t errcap)
{
	size_t i;

	if (s == NULL)
		return ndx_fail(err, errcap, NDX_EINVAL, "sub: missing");
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9' || i >= NDX_CONSENT_PIN_LEN)
			break;
	}
	if (i != NDX_CONSENT_PIN_LEN || s[i] != '\0')
		return ndx_fail(err, errcap, NDX_EINVAL, "sub: expected %d ASCII digits",
			    NDX_CONSENT_PIN_LEN);
	return NDX_OK;
}

static int check_chars(const char *field, const char *s, size_t max, const char *allowed,
		       const char *desc, char *err, size_t errcap)
{
	size_t n;

	if (s == NULL)
		return ndx_fail(err, errcap, NDX_EINVAL, "%s: missing", field);
	n = strlen(s);
	if (n == 0 || n > max || strspn(s, allowed) != n)
		return ndx_fail(err, errcap, NDX_EINVAL, "%s: expected 1 to %zu characters from %s",
			    field, max, desc);
	return NDX_OK;
}

static int check_jti(const char *s, char *err, size_t errcap)
{
	return check_chars("jti", s, NDX_CONSENT_JTI_MAX,
			   "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.:",
			   "A-Z a-z 0-9 - _ . :", err, errcap);
}

static int check_purpose(const char *s, char *err, size_t errcap)
{
	return check_chars("purpose", s, NDX_CONSENT_PURPOSE_MAX,
			   "abcdefghijklmnopqrstuvwxyz0123456789-", "a-z 0-9 -", err, errcap);
}

static int check_times(long long iat, long long nbf, long long exp, char *err, size_t errcap)
{
	const char *bad = iat < 0 || iat > TIME_MAX_SECONDS   ? "iat"
			  : nbf < 0 || nbf > TIME_MAX_SECONDS ? "nbf"
			  : exp < 0 || exp > TIME_MAX_SECONDS ? "exp"
							      : NULL;

	if (bad != NULL)
		return ndx_fail(err, errcap, NDX_EINVAL, "%s: outside 0..%lld seconds since the epoch",
			    bad, TIME_MAX_SECONDS);
	if (nbf >= exp)
		return ndx_fail(err, errcap, NDX_EINVAL, "nbf: not before exp");
	if (iat > exp)
		return ndx_fail(err, errcap, NDX_EINVAL, "iat: after exp");
	return NDX_OK;
}

static int check_services(const char *const *svc, size_t n, char *err, size_t errcap)
{
	char field[32];
	int rc;

	if (n == 0 || n > NDX_CONSENT_MAX_SERVICES)
		return ndx_fail(err, errcap, NDX_EINVAL, "services: expected 1 to %d service ids",
			    NDX_CONSENT_MAX_SERVICES);
	for (size_t i = 0; i < n; i++) {
		snprintf(field, sizeof field, "services[%zu]", i);
		if ((rc = check_id(field, svc[i], NDX_ID_SERVICE, err, errcap)) != NDX_OK)
			return rc;
		for (size_t j = 0; j < i; j++) {
			if (strcmp(svc[i], svc[j]) == 0)
				return ndx_fail(err, errcap, NDX_EINVAL, "%s: listed twice", field);
		}
	}
	return NDX_OK;
}

static int check_status(uint64_t list, uint64_t idx, char *err, size_t errcap)
{
	if (list > NDX_STATUSLIST_MAX_LIST)
		return ndx_fail(err, errcap, NDX_EINVAL, "status.list: expected 0..%u",
			    NDX_STATUSLIST_MAX_LIST);
	if (idx >= NDX_STATUSLIST_CAPACITY)
		return ndx_fail(err, errcap, NDX_EINVAL, "status.idx: expected 0..%u",
			    NDX_STATUSLIST_CAPACITY - 1);
	return NDX_OK;
}

static int check_fields(const struct ndx_consent_fields *f, char *err, size_t errcap)
{
	int rc;

	if ((rc = check_id("iss", f->iss, NDX_ID_SUBSYSTEM, err, errcap)) != NDX_OK ||
	    (rc = check_jti(f->jti, err, errcap)) != NDX_OK ||
	    (rc = check_pin(f->sub, err, errcap)) != NDX_OK ||
	    (rc = check_id("consumer", f->consumer, NDX_ID_SUBSYSTEM, err, errcap)) != NDX_OK ||
	    (rc = check_services(f->services, f->n_services, err, errcap)) != NDX_OK ||
	    (rc = check_purpose(f->purpose, err, errcap)) != NDX_OK ||
	    (rc = check_status(f->status_list, f->status_idx, err, errcap)) != NDX_OK)
		return rc;
	return check_times((long long)f->iat, (long long)f->nbf, (long long)f->exp, err, errcap);
}

/* ---- signing -------------------------------------------------------- */

/* A random UUID v4 (RFC 9562 section 5.4) as the default jti. */
static int make_jti(char out[37])
{
	unsigned char b[16];

	if (RAND_bytes(b, sizeof b) != 1)
		return NDX_ECRYPTO;
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11],
		 b[12], b[13], b[14], b[15]);
	return NDX_OK;
}

int ndx_consent_sign(const struct ndx_key *key, const struct ndx_consent_fields *fields,
		     char **jws_text, char *err, size_t errcap)
{
	struct ndx_consent_fields f;
	char jti[37], *payload = NULL, *text = NULL;
	json_t *doc = NULL, *svc = NULL;
	int rc;

	assert(key != NULL && fields != NULL && jws_text != NULL);
	*jws_text = NULL;
	if (!ndx_key_has_private(key))
		return ndx_fail(err, errcap, NDX_EINVAL, "the signing key has no private half");
	f = *fields;
	if (f.jti == NULL) {
		if ((rc = make_jti(jti)) != NDX_OK)
			return ndx_fail(err, errcap, rc, "no random bytes for a jti");
		f.jti = jti;
	}
	if ((rc = check_fields(&f, err, errcap)) != NDX_OK)
		return rc;

	/* Every string is ASCII now, so a NULL from jansson means memory. */
	svc = json_array();
	if (svc == NULL)
		goto nomem;
	for (size_t i = 0; i < f.n_services; i++) {
		if (json_array_append_new(svc, json_string(f.services[i])) != 0)
			goto nomem;
	}
	/* Member order is fixed (jansson keeps insertion order), so the same
	 * fields always give the same bytes. */
	doc = json_pack("{s:s, s:s, s:s, s:s, s:O, s:s, s:I, s:I, s:I, s:{s:I, s:I}, s:i}",
			"iss", f.iss, "jti", f.jti, "sub", f.sub, "consumer", f.consumer,
			"services", svc, "purpose", f.purpose, "iat", (json_int_t)f.iat,
			"nbf", (json_int_t)f.nbf, "exp", (json_int_t)f.exp, "status", "list",
			(json_int_t)f.status_list, "idx", (json_int_t)f.status_idx, "ver",
			NDX_CONSENT_VERSION);
	if (doc == NULL)
		goto nomem;
	payload = json_dumps(doc, JSON_COMPACT);
	if (payload == NULL)
		goto nomem;
	rc = ndx_jws_sign(key, NDX_CONSENT_TYP, payload, strlen(payload), &text);
	if (rc == NDX_OK && strlen(text) > NDX_CONSENT_MAX_TEXT)
		rc = NDX_ETOOBIG;
	if (rc == NDX_ETOOBIG)
		ndx_fail(err, errcap, rc, "the consent would exceed %d bytes", NDX_CONSENT_MAX_TEXT);
	else if (rc != NDX_OK)
		ndx_fail(err, errcap, rc, "signing failed: %s", ndx_strerror(rc));
	goto out;
nomem:
	rc = ndx_fail(err, errcap, NDX_ENOMEM, "out of memory");
out:
	json_decref(svc);
	json_decref(doc);
	free(payload);
	if (rc == NDX_OK)
		*jws_text = text;
	else
		free(text);
	return rc;
}

/* ---- parsing -------------------------------------------------------- */

static bool is_lower_hex(const char *s, size_t n)
{
	return strlen(s) == n && strspn(s, "0123456789abcdef") == n;
}

/* Reads a required string member; NULL (with the reason in err) if absent
 * or of another type. */
static const char *get_string(const json_t *doc, const char *name, char *err, size_t errcap)
{
	const json_t *v = json_object_get(doc, name);

	if (v == NULL)
		ndx_fail(err, errcap, NDX_EINVAL, "%s: missing", name);
	else if (!json_is_string(v))
		ndx_fail(err, errcap, NDX_EINVAL, "%s: expected a string", name);
	return json_string_value(v);
}

static int get_integer(const json_t *doc, const char *name, long long *out, char *err,
		       size_t errcap)
{
	const json_t *v = json_object_get(doc, name);

	/* A JWT NumericDate may carry a fraction; ndx's are whole seconds and a
	 * real number is refused rather than rounded. */
	if (!json_is_integer(v))
		return ndx_fail(err, errcap, NDX_EINVAL, "%s: expected an integer", name);
	*out = (long long)json_integer_value(v);
	return NDX_OK;
}

/* "status": exactly {"list":L,"idx":N}, both integers in range. */
static int read_status(const json_t *st, struct ndx_consent *c, char *err, size_t errcap)
{
	const json_t *list = json_object_get(st, "list"), *idx = json_object_get(st, "idx");
	int rc;

	if (!json_is_object(st) || json_object_size(st) != 2 || !json_is_integer(list) ||
	    !json_is_integer(idx))
		return ndx_fail(err, errcap, NDX_EINVAL,
			    "status: expected {\"list\":integer,\"idx\":integer}");
	/* A negative value checks as out of range, never as a large index. */
	rc = check_status(json_integer_value(list) < 0 ? UINT64_MAX
						       : (uint64_t)json_integer_value(list),
			  json_integer_value(idx) < 0 ? UINT64_MAX
						      : (uint64_t)json_integer_value(idx),
			  err, errcap);
	if (rc != NDX_OK)
		return rc;
	c->status_list = (uint32_t)json_integer_value(list);
	c->status_idx = (uint32_t)json_integer_value(idx);
	return NDX_OK;
}

/* Fills c from its payload JSON, checking every rule. */
static int read_payload(struct ndx_consent *c, char *err, size_t errcap)
{
	const json_t *doc = c->payload_, *svc, *v;
	long long iat = 0, nbf = 0, exp = 0, ver = 0;
	const char *key;
	size_t i;
	int rc;

	if (!json_is_object(doc))
		return ndx_fail(err, errcap, NDX_EINVAL, "payload: not a JSON object");
	json_object_foreach((json_t *)doc, key, v) {
		for (i = 0; i < sizeof payload_members / sizeof payload_members[0]; i++) {
			if (strcmp(key, payload_members[i]) == 0)
				break;
		}
		if (i == sizeof payload_members / sizeof payload_members[0])
			return ndx_fail(err, errcap, NDX_EINVAL, "payload: unknown member \"%.64s\"",
				    key);
	}
	if ((rc = get_integer(doc, "ver", &ver, err, errcap)) != NDX_OK)
		return rc;
	if (ver != NDX_CONSENT_VERSION)
		return ndx_fail(err, errcap, NDX_EINVAL, "ver: version %lld is not supported", ver);
	c->ver = (int)ver;
	if ((c->iss = get_string(doc, "iss", err, errcap)) == NULL ||
	    (c->jti = get_string(doc, "jti", err, errcap)) == NULL ||
	    (c->sub = get_string(doc, "sub", err, errcap)) == NULL ||
	    (c->consumer = get_string(doc, "consumer", err, errcap)) == NULL ||
	    (c->purpose = get_string(doc, "purpose", err, errcap)) == NULL)
		return NDX_EINVAL;
	svc = json_object_get(doc, "services");
	if (!json_is_array(svc))
		return ndx_fail(err, errcap, NDX_EINVAL, "services: expected an array");
	c->n_services = json_array_size(svc);
	if (c->n_services == 0 || c->n_services > NDX_CONSENT_MAX_SERVICES)
		return ndx_fail(err, errcap, NDX_EINVAL, "services: expected 1 to %d service ids",
			    NDX_CONSENT_MAX_SERVICES);
	c->services = calloc(c->n_services, sizeof *c->services);
	if (c->services == NULL)
		return ndx_fail(err, errcap, NDX_ENOMEM, "out of memory");
	json_array_foreach(svc, i, v) {
		if (!json_is_string(v))
			return ndx_fail(err, errcap, NDX_EINVAL, "services[%zu]: expected a string", i);
		c->services[i] = json_string_value(v);
	}
	if ((rc = get_integer(doc, "iat", &iat, err, errcap)) != NDX_OK ||
	    (rc = get_integer(doc, "nbf", &nbf, err, errcap)) != NDX_OK ||
	    (rc = get_integer(doc, "exp", &exp, err, errcap)) != NDX_OK ||
	    (rc = read_status(json_object_get(doc, "status"), c, err, errcap)) != NDX_OK)
		return rc;

	struct ndx_consent_fields f = {
		.iss = c->iss, .jti = c->jti, .sub = c->sub, .consumer = c->consumer,
		.services = c->services, .n_services = c->n_services, .purpose = c->purpose,
		.iat = (time_t)iat, .nbf = (time_t)nbf, .exp = (time_t)exp,
		.status_list = c->status_list, .status_idx = c->status_idx,
	};
	/* Range first: time_t is 64 bits here, but the check must not rely on
	 * the cast above for out-of-range values. */
	if ((rc = check_times(iat, nbf, exp, err, errcap)) != NDX_OK ||
	    (rc = check_fields(&f, err, errcap)) != NDX_OK)
		return rc;
	c->iat = f.iat;
	c->nbf = f.nbf;
	c->exp = f.exp;
	return NDX_OK;
}

/* Parses text into a consent and keeps the JWS for the signature check
 * (*jws_out may be NULL when the caller does not want it). */
static int parse_consent(const char *text, size_t len, struct ndx_consent **out,
			 struct ndx_jws **jws_out, char *err, size_t errcap)
{
	struct ndx_jws *jws = NULL;
	struct ndx_consent *c;
	const uint8_t *payload;
	const char *typ, *kid;
	json_error_t je;
	size_t plen;
	int rc;

	*out = NULL;
	if (jws_out != NULL)
		*jws_out = NULL;
	if (len > NDX_CONSENT_MAX_TEXT)
		return ndx_fail(err, errcap, NDX_EINVAL, "consent is %zu bytes, over the limit of %d",
			    len, NDX_CONSENT_MAX_TEXT);
	rc = ndx_jws_parse(text, len, &jws, err, errcap);
	if (rc == NDX_ETOOBIG)
		rc = NDX_EINVAL;
	if (rc != NDX_OK)
		return rc;
	typ = ndx_jws_typ(jws);
	kid = ndx_jws_kid(jws);
	/* typ keeps a JWS that the same key signed for another purpose from
	 * passing as a consent. */
	if (typ == NULL || strcmp(typ, NDX_CONSENT_TYP) != 0) {
		ndx_jws_free(jws);
		return ndx_fail(err, errcap, NDX_EINVAL, "protected header: typ must be \"%s\"",
			    NDX_CONSENT_TYP);
	}
	if (kid == NULL || !is_lower_hex(kid, NDX_KEY_ID_HEX_LEN)) {
		ndx_jws_free(jws);
		return ndx_fail(err, errcap, NDX_EINVAL, "protected header: kid must be a key id "
			    "(%d lower-case hex digits)", NDX_KEY_ID_HEX_LEN);
	}
	c = calloc(1, sizeof *c);
	if (c == NULL) {
		ndx_jws_free(jws);
		return ndx_fail(err, errcap, NDX_ENOMEM, "out of memory");
	}
	memcpy(c->kid_, kid, NDX_KEY_ID_HEX_LEN + 1);
	c->kid = c->kid_;
	payload = ndx_jws_payload(jws, &plen);
	c->payload_ = json_loadb((const char *)payload, plen, JSON_REJECT_DUPLICATES, &je);
	if (c->payload_ == NULL)
		rc = ndx_fail(err, errcap, NDX_EINVAL, "payload: invalid JSON: %s", je.text);
	else
		rc = read_payload(c, err, errcap);
	if (rc != NDX_OK) {
		ndx_consent_free(c);
		ndx_jws_free(jws);
		return rc;
	}
	*out = c;
	if (jws_out != NULL)
		*jws_out = jws;
	else
		ndx_jws_free(jws);
	return NDX_OK;
}

int ndx_consent_parse(const char *text, size_t len, struct ndx_consent **out, char *err,
		      size_t errcap)
{
	assert(text != NULL || len == 0);
	assert(out != NULL);
	return parse_consent(text, len, out, NULL, err, errcap);
}

/* ---- verification --------------------------------------------------- */

bool ndx_consent_covers(const struct ndx_consent *c, const char *service)
{
	if (service == NULL)
		return false;
	for (size_t i = 0; i < c->n_services; i++) {
		if (strcmp(c->services[i], service) == 0)
			return true;
	}
	return false;
}

static bool same(const char *want, const char *got)
{
	return got != NULL && strcmp(want, got) == 0;
}

int ndx_consent_verify(const char *text, size_t len, const struct ndx_consent_request *req,
		       const struct ndx_consent_trust *trust, struct ndx_consent **out,
		       enum ndx_consent_refusal *refusal, char *err, size_t errcap)
{
	enum ndx_consent_refusal why = NDX_CONSENT_ACCEPTED;
	char when[NDX_TIME_TEXT_LEN];
	const struct ndx_key *key;
	struct ndx_consent *c = NULL;
	struct ndx_jws *jws = NULL;
	bool revoked = false;
	int rc;

	assert(text != NULL || len == 0);
	assert(req != NULL && trust != NULL && refusal != NULL);
	assert(trust->key_lookup != NULL && trust->is_revoked != NULL);
	*refusal = NDX_CONSENT_ACCEPTED;
	if (out != NULL)
		*out = NULL;

	rc = parse_consent(text, len, &c, &jws, err, errcap);
	if (rc == NDX_EINVAL) {
		why = NDX_CONSENT_MALFORMED;
		goto refuse;
	}
	if (rc != NDX_OK)
		return rc;

	key = trust->key_lookup(trust->ctx, c->kid, c->iss);
	if (key == NULL) {
		why = NDX_CONSENT_UNKNOWN_KEY;
		ndx_fail(err, errcap, 0, "key %.16s... is not a consent key of %s", c->kid, c->iss);
		goto refuse;
	}
	if (ndx_jws_verify(jws, key) != NDX_OK) {
		why = NDX_CONSENT_BAD_SIGNATURE;
		ndx_fail(err, errcap, 0, "the consent's signature does not verify");
		goto refuse;
	}
	/* nbf and exp are both in [0, 9999-12-31] and leeway is unsigned int,
	 * so neither subtraction below can overflow a 64-bit time_t. */
	if (c->nbf - (time_t)req->leeway > req->now) {
		ndx_time_format(c->nbf, when);
		why = NDX_CONSENT_NOT_YET_VALID;
		ndx_fail(err, errcap, 0, "the consent is valid from %s", when);
		goto refuse;
	}
	if (req->now >= c->exp) {
		ndx_time_format(c->exp, when);
		why = NDX_CONSENT_EXPIRED;
		ndx_fail(err, errcap, 0, "the consent expired at %s", when);
		goto refuse;
	}
	/* Neither PIN goes into the message: the reader may be told a consent
	 * does not fit, not whose it is. */
	if (!same(c->sub, req->subject)) {
		why = NDX_CONSENT_WRONG_SUBJECT;
		ndx_fail(err, errcap, 0, "the consent is for another subject than Ndx-Subject");
		goto refuse;
	}
	if (!same(c->consumer, req->consumer)) {
		why = NDX_CONSENT_WRONG_CONSUMER;
		ndx_fail(err, errcap, 0, "the consent is given to %s, not to the calling client",
		     c->consumer);
		goto refuse;
	}
	if (!ndx_consent_covers(c, req->service)) {
		why = NDX_CONSENT_SERVICE_NOT_COVERED;
		ndx_fail(err, errcap, 0, "the consent does not cover service %s",
		     req->service ? req->service : "(none)");
		goto refuse;
	}
	if (!same(c->purpose, req->purpose)) {
		why = NDX_CONSENT_WRONG_PURPOSE;
		ndx_fail(err, errcap, 0, "the consent is for purpose \"%s\", not for Ndx-Purpose",
		     c->purpose);
		goto refuse;
	}
	/* Last, because it is the one check that asks outside state. */
	rc = trust->is_revoked(trust->ctx, c->iss, c->status_list, c->status_idx, &revoked);
	if (rc != NDX_OK) {
		/* Keep NDX_EPERM meaning "refused with a reason". */
		if (rc >= 0 || rc == NDX_EPERM)
			rc = NDX_EIO;
		ndx_fail(err, errcap, rc, "the revocation state of consent %s is unknown", c->jti);
		ndx_consent_free(c);
		ndx_jws_free(jws);
		return rc;
	}
	if (revoked) {
		why = NDX_CONSENT_REVOKED;
		ndx_fail(err, errcap, 0, "consent %s has been revoked", c->jti);
		goto refuse;
	}
	ndx_jws_free(jws);
	if (out != NULL)
		*out = c;
	else
		ndx_consent_free(c);
	return NDX_OK;
refuse:
	ndx_consent_free(c);
	ndx_jws_free(jws);
	*refusal = why;
	return NDX_EPERM;
}

void ndx_consent_free(struct ndx_consent *c)
{
	if (c == NULL)
		return;
	free(c->services);
	json_decref(c->payload_);
	free(c);
}
