/* The data marketplace's HTTP side (reg_market.h, docs/marketplace.md).
 *
 *   /.well-known/dspace-version         DSP 2025-1 "Exposure of Versions"
 *   /dsp/catalog/...                    DSP catalog HTTPS binding
 *   /dsp/negotiations/...               DSP negotiation HTTPS binding, provider paths
 *   /dsp/consumer/negotiations/...      its consumer (callback) paths
 *   /dsp/agreements                     ndx's: the signed chain of a negotiation the
 *                                       members' connectors held, recorded at FINALIZED
 *   /market/...                         ndx's own: publishing, listing, ending agreements
 *
 * The registry keeps one record of each negotiation and acts as both
 * parties' connector: the consumer's member calls the provider paths, the
 * provider's member the consumer paths, each with its member credential.
 * Every message goes through ndx_neg_next (dspneg.c); every policy through
 * the ODRL subset's one reader (policy.c). Each accepted message is one
 * transaction with its audit entry; the one that finalises an agreement
 * raises the configuration version, which then carries the agreement's
 * grant (market_conf_grants). A negotiation held between the members' own
 * connectors is recorded whole once FINALIZED (agreement_record): its
 * chain checked by ndx_negchain_check (negchain.c) against the gateway
 * keys in the store, then the same rows and grant. */
#include "reg_market.h"

#include <openssl/rand.h>
#include <stdarg.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ndx/bearer.h"
#include "ndx/dspneg.h"
#include "ndx/encode.h"
#include "ndx/err.h"
#include "ndx/fold.h"
#include "ndx/id.h"
#include "ndx/negchain.h"
#include "ndx/negmsg.h"
#include "ndx/policy.h"
#include "ndx/text.h"
#include "ndx/timefmt.h"
#include "reg_market_store.h"

#define DSP_CONTEXT "https://w3id.org/dspace/2025/1/context.jsonld"
#define NDX_NS "https://ndx.gov.vn/ns/market#"
#define PID_MAX 256
#define TITLE_MAX 256
#define DESCRIPTION_MAX 4096
#define THEMES_MAX 8
#define THEME_MAX 128
#define LICENSE_MAX 512
#define SAMPLE_MAX 16384
#define OFFERS_MAX 8
#define CALLBACK_MAX 512
#define REASON_MAX 512
#define FREQUENCY_IRI "http://publications.europa.eu/resource/authority/frequency/"

static const char *const FREQUENCIES[] = { "CONT", "DAILY", "WEEKLY", "MONTHLY", "QUARTERLY",
					   "ANNUAL", "IRREG", "UNKNOWN", NULL };

struct mcall {
	struct store *st;
	const struct market_caller *who;
	const struct ndx_http_req *req;
	struct ndx_http_resp *resp;
};

/* ---- answers ------------------------------------------------------------------ */

static json_t *context(void)
{
	return json_pack("[s{ssssssssss}]", DSP_CONTEXT, "dct", "http://purl.org/dc/terms/", "dcat",
			 "http://www.w3.org/ns/dcat#", "adms", "http://www.w3.org/ns/adms#", "foaf",
			 "http://xmlns.com/foaf/0.1/", "ndx", NDX_NS);
}

/* A DSP error object (ContractNegotiationError, CatalogError) with code
 * the registry's error type, also sent as X-Road-Error like every other
 * refusal of the registry. neg (a negotiation row, may be NULL) gives the
 * pids. */
static void dsp_error(struct mcall *c, int status, const char *type, const char *code,
		      const json_t *neg, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void dsp_error(struct mcall *c, int status, const char *type, const char *code,
		      const json_t *neg, const char *fmt, ...)
{
	char reason[768];
	va_list ap;
	json_t *body;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof reason, fmt, ap);
	va_end(ap);
	body = json_pack("{s[s]sssss[s]}", "@context", DSP_CONTEXT, "@type", type, "code", code,
			 "reason", reason);
	if (body && neg) {
		json_object_set(body, "providerPid", json_object_get(neg, "provider_pid"));
		json_object_set(body, "consumerPid", json_object_get(neg, "consumer_pid"));
	}
	ndx_http_resp_json(c->resp, status, body);
	ndx_http_resp_header(c->resp, "X-Road-Error", code);
}

#define NEG_ERROR "ContractNegotiationError"
#define CAT_ERROR "CatalogError"

static void internal(struct mcall *c)
{
	ndx_http_resp_error(c->resp, 500, "Server.Internal", "the store failed",
			    "the change was rolled back");
}

/* ---- input -------------------------------------------------------------------------- */

/* The body as a JSON object, or NULL after answering 400 (DSP's error
 * type when dsp_type is not NULL). */
static json_t *body_object(struct mcall *c, const char *dsp_type)
{
	json_error_t jerr;
	json_t *o = NULL;

	if (c->req->body && c->req->body_len)
		o = json_loadb((const char *)c->req->body, c->req->body_len, JSON_REJECT_DUPLICATES,
			       &jerr);
	if (json_is_object(o))
		return o;
	json_decref(o);
	if (dsp_type)
		dsp_error(c, 400, dsp_type, "Client.InvalidRequest", NULL,
			  "the body must be a JSON object");
	else
		ndx_http_resp_error(c->resp, 400, "Client.InvalidRequest", "malformed JSON",
				    "the body must be a JSON object");
	return NULL;
}

/* The name of the first key of o not in allowed (NULL-terminated), or NULL. */
static const char *stray_key(const json_t *o, const char *const *allowed)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)o, k, v) {
		const char *const *a;
		for (a = allowed; *a && strcmp(*a, k) != 0; a++)
			;
		if (!*a)
			return k;
	}
	return NULL;
}

/* True when v is the DSP type name, bare (2025-1) or "dspace:"-prefixed
 * (the 2024-1 spelling). */
static bool is_type(const json_t *v, const char *name)
{
	const char *s = json_string_value(v);
	if (s && strncmp(s, "dspace:", 7) == 0)
		s += 7;
	return s && strcmp(s, name) == 0;
}

/* A string field of 1..max bytes of display text, or NULL (absent, or
 * after *bad is set to the reason). */
static const char *text_field(const json_t *o, const char *name, size_t max, const char **bad)
{
	const json_t *v = json_object_get(o, name);
	const char *s = json_string_value(v);

	*bad = NULL;
	if (!v)
		return NULL;
	if (!s || json_string_length(v) == 0 || json_string_length(v) > max ||
	    ndx_text_check(s, json_string_length(v), NULL, NULL)) {
		*bad = name;
		return NULL;
	}
	return s;
}

static unsigned member_class(const char *member)
{
	struct ndx_id id;

	if (!member || ndx_id_parse(member, strlen(member), NDX_ID_MEMBER, &id, NULL))
		return 0;
	return ndx_policy_class_of_member(id.member_class);
}

/* The member of a subsystem or service id ("" when it is none). */
static void member_of(const char *id_text, enum ndx_id_kind kind, char out[NDX_ID_TEXT_MAX])
{
	struct ndx_id id;

	out[0] = '\0';
	if (!ndx_id_parse(id_text, strlen(id_text), kind, &id, NULL))
		snprintf(out, NDX_ID_TEXT_MAX, "%s/%s/%s", id.instance, id.member_class,
			 id.member_code);
}

/* A new "urn:uuid:" of a random (version 4) UUID. */
static int new_urn(char out[48])
{
	unsigned char b[16];

	if (RAND_bytes(b, sizeof b) != 1)
		return NDX_ECRYPTO;
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, 48, "urn:uuid:%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		 "%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8],
		 b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
	return NDX_OK;
}

/* ---- the catalogue ------------------------------------------------------------------ */

static json_t *lang_values(const json_t *pair)
{
	return json_pack("[{ssss}{ssss}]", "@language", "vi", "@value",
			 json_string_value(json_object_get(pair, "vi")), "@language", "en",
			 "@value", json_string_value(json_object_get(pair, "en")));
}

/* Whether the caller sees an offer for the classes mask: the provider
 * and admins see every offer, a member those for its class, an anonymous
 * caller those open to every class. */
static bool offer_visible(const struct market_caller *who, const char *provider,
			  unsigned classes)
{
	if (who->name && (!who->member || (provider && strcmp(who->member, provider) == 0)))
		return true;
	if (!who->name)
		return classes == NDX_CLASS_ALL;
	return (classes & member_class(who->member)) != 0;
}

/* The DSP Offer of an offer row: its canonical ODRL, @id and @type. */
static json_t *offer_json(const json_t *row)
{
	json_t *o = json_deep_copy(json_object_get(row, "policy"));
	if (o) {
		json_object_set(o, "@id", json_object_get(row, "id"));
		json_object_set_new(o, "@type", json_string("Offer"));
	}
	return o;
}

/* The DCAT-AP Dataset of a dataset row with the offers its caller may
 * see, into *out (a new reference), or *out NULL when it may see none. */
static int dataset_json(struct mcall *c, const json_t *row, json_t **out)
{
	const char *provider = json_string_value(json_object_get(row, "provider"));
	const json_t *d = json_object_get(row, "description"), *o;
	json_t *offers = NULL, *policies, *ds;
	size_t i;
	int rc;

	*out = NULL;
	if ((rc = mstore_offer_list(c->st, json_string_value(json_object_get(row, "id")), &offers)))
		return rc;
	policies = json_array();
	json_array_foreach(offers, i, o)
		if (offer_visible(c->who, provider,
				  (unsigned)json_integer_value(json_object_get(o, "classes"))))
			json_array_append_new(policies, offer_json(o));
	json_decref(offers);
	if (!policies)
		return NDX_ENOMEM;
	if (json_array_size(policies) == 0) {
		json_decref(policies);
		return NDX_OK;
	}
	ds = json_pack("{sO ss so so s{sOss} sO sO s{ss+} sO so s[{ss ss ss+}]}",
		       "@id", json_object_get(row, "id"), "@type", "Dataset",
		       "dct:title", lang_values(json_object_get(d, "title")),
		       "dct:description", lang_values(json_object_get(d, "description")),
		       "dct:publisher", "@id", json_object_get(row, "provider"), "foaf:name",
		       json_string_value(json_object_get(row, "provider_name")),
		       "dcat:theme", json_object_get(d, "theme"),
		       "dct:license", json_object_get(d, "license"),
		       "dct:accrualPeriodicity", "@id", FREQUENCY_IRI,
		       json_string_value(json_object_get(d, "accrual_periodicity")),
		       "ndx:service", json_object_get(row, "service"),
		       "hasPolicy", policies,
		       "distribution", "@type", "Distribution", "format", "ndx:X-Road-REST",
		       "accessService", "urn:ndx:exchange:", store_instance(c->st));
	if (ds && json_object_get(d, "sample"))
		json_object_set(ds, "adms:sample", json_object_get(d, "sample"));
	/* An event type's dataset: delivered as events, not called. */
	if (ds && json_string_length(json_object_get(row, "event"))) {
		json_object_set(ds, "ndx:eventType", json_object_get(row, "event"));
		json_object_set_new(json_array_get(json_object_get(ds, "distribution"), 0),
				    "format", json_string("ndx:events"));
	}
	*out = ds;
	return ds ? NDX_OK : NDX_ENOMEM;
}

/* True when q is in a title or description of d, both folded (ndx_fold:
 * case and Vietnamese diacritics ignored, so "ho tich" finds "Hộ tịch").
 * Folding never lengthens the text, and each fits its buffer. */
static bool text_matches(const json_t *d, const char *q)
{
	static const char *const fields[] = { "title", "description" };
	char fq[DESCRIPTION_MAX + 1], ft[DESCRIPTION_MAX + 1];

	if (ndx_fold(q, fq, sizeof fq) < 0)
		return false;
	for (size_t f = 0; f < 2; f++)
		for (size_t l = 0; l < 2; l++) {
			const char *t = json_string_value(
				json_object_get(json_object_get(d, fields[f]), l ? "en" : "vi"));
			if (t && ndx_fold(t, ft, sizeof ft) >= 0 && strstr(ft, fq))
				return true;
		}
	return false;
}

/* True when the dataset row passes every filter element (checked). */
static bool dataset_matches(const json_t *row, const json_t *filter)
{
	const json_t *f, *d = json_object_get(row, "description");
	size_t i;

	json_array_foreach(filter, i, f) {
		const char *q = json_string_value(json_object_get(f, "ndx:q"));
		const char *p = json_string_value(json_object_get(f, "ndx:provider"));
		const char *s = json_string_value(json_object_get(f, "ndx:service"));
		if (p && strcmp(p, json_string_value(json_object_get(row, "provider"))) != 0)
			return false;
		if (s && strcmp(s, json_string_value(json_object_get(row, "service"))) != 0)
			return false;
		if (q && !text_matches(d, q))
			return false;
	}
	return true;
}

/* DSP catalog HTTPS binding §Catalog Request Endpoint. The filter is an
 * array of objects each with one of ndx:q (text in the titles and
 * descriptions), ndx:provider, ndx:service; "If a filter expression is not
 * supported by an implementation, it MUST return a HTTP 400". */
static void catalog_request(struct mcall *c)
{
	static const char *const keys[] = { "@context", "@type", "filter", NULL };
	static const char *const fkeys[] = { "ndx:q", "ndx:provider", "ndx:service", NULL };
	json_t *body = body_object(c, CAT_ERROR), *rows = NULL, *datasets, *cat, *row, *f, *filter;
	const char *stray;
	size_t i;
	int rc;

	if (!body)
		return;
	if ((stray = stray_key(body, keys)) || !is_type(json_object_get(body, "@type"),
							 "CatalogRequestMessage")) {
		dsp_error(c, 400, CAT_ERROR, "Client.InvalidRequest", NULL,
			  stray ? "%s: not a property of a CatalogRequestMessage"
				: "@type: expected CatalogRequestMessage", stray);
		goto out;
	}
	filter = json_object_get(body, "filter");
	if (filter && !json_is_array(filter)) {
		dsp_error(c, 400, CAT_ERROR, "Client.InvalidRequest", NULL, "filter: expected an array");
		goto out;
	}
	json_array_foreach(filter, i, f) {
		const char *k = json_is_object(f) && json_object_size(f) == 1
					? json_object_iter_key(json_object_iter(f)) : NULL;
		if (!k || stray_key(f, fkeys) || !json_is_string(json_object_get(f, k))) {
			dsp_error(c, 400, CAT_ERROR, "Client.InvalidRequest", NULL,
				  "filter[%zu]: not supported; a filter is an object with one of "
				  "ndx:q, ndx:provider, ndx:service and a string", i);
			goto out;
		}
	}
	datasets = json_array();
	store_lock(c->st);
	rc = datasets ? mstore_dataset_list(c->st, &rows) : NDX_ENOMEM;
	json_array_foreach(rows, i, row) {
		json_t *ds = NULL;
		if (rc || !dataset_matches(row, filter))
			continue;
		if (!(rc = dataset_json(c, row, &ds)) && ds)
			json_array_append_new(datasets, ds);
	}
	store_unlock(c->st);
	json_decref(rows);
	if (rc) {
		json_decref(datasets);
		internal(c);
		goto out;
	}
	cat = json_pack("{so ss+ ss ss+ s[{ss+ ss ss+}] so}", "@context", context(),
			"@id", "urn:ndx:catalog:", store_instance(c->st), "@type", "Catalog",
			"participantId", "urn:ndx:exchange:", store_instance(c->st),
			"service", "@id", "urn:ndx:exchange:", store_instance(c->st), "@type",
			"DataService", "endpointURL", store_registry_url(c->st), "/dsp",
			"dataset", datasets);
	if (cat)
		ndx_http_resp_json(c->resp, 200, cat);
	else
		internal(c);
out:
	json_decref(body);
}

/* DSP catalog HTTPS binding §Dataset Request Endpoint. */
static void catalog_dataset(struct mcall *c, const char *id)
{
	json_t *row = NULL, *ds = NULL;
	int rc;

	store_lock(c->st);
	rc = mstore_dataset_get(c->st, id, &row);
	if (!rc)
		rc = dataset_json(c, row, &ds);
	store_unlock(c->st);
	json_decref(row);
	if (rc && rc != NDX_ENOTFOUND) {
		internal(c);
		return;
	}
	if (!ds) {
		dsp_error(c, 404, CAT_ERROR, "Client.NotFound", NULL, "no dataset %s", id);
		return;
	}
	json_object_set_new(ds, "@context", context());
	ndx_http_resp_json(c->resp, 200, ds);
}

/* ---- publishing (ndx's own) ---------------------------------------------------------- */

/* {"vi": text, "en": text}, each 1..max bytes; NULL after answering 400. */
static json_t *lang_pair(struct mcall *c, const json_t *body, const char *name, size_t max)
{
	const json_t *v = json_object_get(body, name);
	static const char *const keys[] = { "vi", "en", NULL };
	const char *bad, *vi, *en;

	if (!json_is_object(v) || stray_key(v, keys) ||
	    !(vi = text_field(v, "vi", max, &bad)) || !(en = text_field(v, "en", max, &bad))) {
		ndx_http_resp_error(c->resp, 400, "Client.InvalidRequest", "invalid field",
				    "expected {\"vi\": text, \"en\": text} for this field, each "
				    "1 to a few thousand bytes of display text");
		return NULL;
	}
	return json_pack("{ssss}", "vi", vi, "en", en);
}

/* The description the catalogue keeps of a dataset (title, description,
 * theme, license, accrual_periodicity, sample), or NULL after 400. */
static json_t *description(struct mcall *c, const json_t *body)
{
	const json_t *theme = json_object_get(body, "theme"), *v;
	const char *lic, *freq = json_string_value(json_object_get(body, "accrual_periodicity"));
	const char *bad;
	json_t *title, *desc, *d = NULL, *sample = json_object_get(body, "sample");
	char *sample_text;
	size_t i, n = 0;

	if (!(title = lang_pair(c, body, "title", TITLE_MAX)))
		return NULL;
	if (!(desc = lang_pair(c, body, "description", DESCRIPTION_MAX)))
		goto out;
	if (theme && (!json_is_array(theme) || json_array_size(theme) > THEMES_MAX))
		goto bad_theme;
	json_array_foreach(theme, i, v)
		if (!json_is_string(v) || json_string_length(v) == 0 ||
		    json_string_length(v) > THEME_MAX ||
		    ndx_text_check(json_string_value(v), json_string_length(v), NULL, NULL))
			goto bad_theme;
	if (!(lic = text_field(body, "license", LICENSE_MAX, &bad))) {
		ndx_http_resp_error(c->resp, 400, "Client.InvalidRequest", "invalid field",
				    "license: expected the licence's IRI or name (1 to 512 bytes)");
		goto out;
	}
	while (freq && FREQUENCIES[n] && strcmp(FREQUENCIES[n], freq) != 0)
		n++;
	if (!freq || !FREQUENCIES[n]) {
		ndx_http_resp_error(c->resp, 400, "Client.InvalidRequest", "invalid field",
				    "accrual_periodicity: expected one of CONT DAILY WEEKLY MONTHLY "
				    "QUARTERLY ANNUAL IRREG UNKNOWN (the EU frequency vocabulary)");
		goto out;
	}
	sample_text = sample ? json_dumps(sample, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	n = sample_text ? strlen(sample_text) : 0;
	free(sample_text);
	if (n > SAMPLE_MAX) {
		ndx_http_resp_error(c->resp, 400, "Client.InvalidRequest", "invalid field",
				    "sample: at most 16384 bytes of JSON");
		goto out;
	}
	d = json_pack("{sO sO so ss ss so*}", "title", title, "description", desc, "theme",
		      theme ? json_deep_copy(theme) : json_array(), "license", lic,
		      "accrual_periodicity", freq, "sample", sample ? json_deep_copy(sample) : NULL);
	if (!d)
		internal(c);
	goto out;
bad_theme:
	ndx_http_resp_error(c->resp, 400, "Client.InvalidRequest", "invalid field",
			    "theme: expected an array of at most 8 themes, each 1 to 128 bytes");
out:
	json_decref(title);
	json_decref(desc);
	return d;
}

/* The canonical ODRL of published offer i, or NULL after answering 400. */
static json_t *published_offer(struct mcall *c, const json_t *o, size_t i, unsigned *classes)
{
	static const char *const keys[] = { "@type", "permission", "prohibition", "obligation",
					    NULL };
	struct ndx_policy p;
	char err[256];
	const char *stray = json_is_object(o) ? stray_key(o, keys) : NULL;
	json_t *out;

	char detail[300];

	if (stray || !json_is_object(o) ||
	    (json_object_get(o, "@type") && !is_type(json_object_get(o, "@type"), "Offer"))) {
		if (stray)
			snprintf(detail, sizeof detail, "offers[%zu].%s: a published offer has "
				 "@type, permission, prohibition and obligation only (the registry "
				 "names it)", i, stray);
		else
			snprintf(detail, sizeof detail, "offers[%zu]: expected an ODRL Offer", i);
		ndx_http_resp_error(c->resp, 400, "Client.InvalidRequest", "invalid offer", detail);
		return NULL;
	}
	if (ndx_policy_from_odrl(o, &p, err, sizeof err)) {
		snprintf(detail, sizeof detail, "offers[%zu].%s", i, err);
		ndx_http_resp_error(c->resp, 400, "Client.InvalidRequest", "invalid offer", detail);
		return NULL;
	}
	*classes = p.classes;
	if (!(out = ndx_policy_to_odrl(&p)))
		internal(c);
	return out;
}

/* Answers 401 for an anonymous caller and 403 for a member that is not
 * provider (NULL: any member is refused), returning false. */
/* An event type's offers (docs/marketplace.md "Event types as datasets"):
 * the agreement becomes a subscription, which has one purpose exactly when
 * the service is personal (one of the service's), and no method, call
 * count, data age or price per call, none of which a delivery is held to.
 * True when every offer fits, else answers 400 naming the offer. */
/* Why p cannot be an event type's terms (svc the service's row), or NULL. */
static const char *event_policy_why(const struct ndx_policy *p, const json_t *svc)
{
	const json_t *purposes = json_object_get(svc, "purposes"), *v;
	bool personal = json_is_true(json_object_get(svc, "personal"));
	size_t k;

	if (p->max_calls || p->max_age_s || p->methods != (NDX_METHOD_GET | NDX_METHOD_HEAD) ||
	    p->price_unit == NDX_PRICE_PER_CALL)
		return "an event type's terms have no count, ndx:method, ndx:dataAge or price per "
		       "call: its agreement is a subscription, not calls";
	if (personal && p->npurposes != 1)
		return "the event type's service is personal: its terms name exactly one purpose, "
		       "the subscription's";
	if (!personal && p->npurposes)
		return "the event type's service is not personal: its terms name no purpose";
	json_array_foreach(purposes, k, v)
		if (json_string_value(v) && strcmp(json_string_value(v), p->purposes[0]) == 0)
			return NULL;
	return p->npurposes ? "the purpose is not one of the service's" : NULL;
}

static bool event_offers_fit(struct mcall *c, const json_t *offers, const json_t *svc)
{
	const json_t *o;
	struct ndx_policy p;
	char detail[300], err[256];
	size_t i;

	json_array_foreach(offers, i, o) {
		const char *why = NULL;

		if (ndx_policy_from_odrl(json_object_get(o, "policy"), &p, err, sizeof err))
			why = err;
		else
			why = event_policy_why(&p, svc);
		if (why) {
			snprintf(detail, sizeof detail, "offers[%zu]: %s", i, why);
			ndx_http_resp_error(c->resp, 400, "Client.InvalidRequest", "invalid offer",
					    detail);
			return false;
		}
	}
	return true;
}

static bool may_act_for(struct mcall *c, const char *provider)
{
	if (!c->who->name) {
		ndx_bearer_refuse(c->resp, "a member or admin credential is required",
				  "ndx-registry");
		return false;
	}
	if (c->who->member && (!provider || strcmp(c->who->member, provider) != 0)) {
		ndx_http_resp_error(c->resp, 403, "Client.Forbidden", "not yours",
				    "a member publishes and withdraws only its own services' datasets");
		return false;
	}
	return true;
}

static const char *actor(struct mcall *c)
{
	return c->who->name ? c->who->name : "anonymous";
}

static void datasets_publish(struct mcall *c)
{
	static const char *const keys[] = { "service", "event", "title", "description", "theme",
					    "license", "accrual_periodicity", "sample", "offers",
					    NULL };
	char provider[NDX_ID_TEXT_MAX], dsid[48], oid[48];
	json_t *body = body_object(c, NULL), *desc = NULL, *offers = NULL, *ds = NULL, *row = NULL;
	json_t *svc = NULL;
	const json_t *list, *o;
	const char *service, *event = NULL, *stray, *bad;
	char *text = NULL;
	size_t i;
	int rc;

	if (!body)
		return;
	if ((stray = stray_key(body, keys))) {
		ndx_http_resp_error(c->resp, 400, "Client.InvalidRequest", "unknown field", stray);
		goto out;
	}
	service = text_field(body, "service", NDX_ID_TEXT_MAX, &bad);
	member_of(service ? service : "", NDX_ID_SERVICE, provider);
	if (!service || !provider[0]) {
		ndx_http_resp_error(c->resp, 400, "Client.InvalidRequest", "invalid field",
				    "service: expected a service id");
		goto out;
	}
	if (json_object_get(body, "event") &&
	    !(event = text_field(body, "event", 64, &bad))) {
		ndx_http_resp_error(c->resp, 400, "Client.InvalidRequest", "invalid field",
				    "event: expected the name of an event type of the service");
		goto out;
	}
	if (!may_act_for(c, provider) || !(desc = description(c, body)))
		goto out;
	list = json_object_get(body, "offers");
	if (!json_is_array(list) || json_array_size(list) == 0 ||
	    json_array_size(list) > OFFERS_MAX) {
		ndx_http_resp_error(c->resp, 400, "Client.InvalidRequest", "invalid field",
				    "offers: expected 1 to 8 offers");
		goto out;
	}
	offers = json_array();
	json_array_foreach(list, i, o) {
		unsigned classes = 0;
		json_t *p = published_offer(c, o, i, &classes);
		if (!p)
			goto out;
		json_array_append_new(offers, json_pack("{sosI}", "policy", p, "classes",
							(json_int_t)classes));
	}
	if (event) {
		rc = store_service_get(c->st, service, &svc);
		if (!rc) {
			store_lock(c->st);
			if (store_event_type_exists(c->st, service, event) == 0)
				rc = NDX_ENOTFOUND;
			store_unlock(c->st);
		}
		if (rc == NDX_ENOTFOUND) {
			ndx_http_resp_error(c->resp, 404, "Client.NotFound", "not found",
					    "no such event type of the service");
			goto out;
		}
		if (rc) {
			internal(c);
			goto out;
		}
		if (!event_offers_fit(c, offers, svc))
			goto out;
	}
	if (!(text = json_dumps(desc, JSON_COMPACT)) || new_urn(dsid) || store_begin(c->st)) {
		internal(c);
		goto out;
	}
	rc = store_service_exists(c->st, service);
	if (rc != 1) {
		store_rollback(c->st);
		if (rc == 0)
			ndx_http_resp_error(c->resp, 404, "Client.NotFound", "not found",
					    "no such service");
		else
			internal(c);
		goto out;
	}
	rc = mstore_dataset_add(c->st, dsid, service, event, provider, text);
	json_array_foreach(offers, i, o) {
		char *pt = NULL;
		if (!rc && (rc = new_urn(oid)) == NDX_OK &&
		    (pt = json_dumps(json_object_get(o, "policy"), JSON_COMPACT)))
			rc = mstore_offer_add(c->st, oid, dsid, pt,
					      json_integer_value(json_object_get(o, "classes")),
					      (int64_t)i);
		else if (!rc)
			rc = NDX_ENOMEM;
		free(pt);
	}
	if (rc) {
		store_rollback(c->st);
		if (rc == NDX_EEXIST)
			ndx_http_resp_error(c->resp, 409, "Client.Conflict", "already exists",
					    event ? "the event type already has a dataset in the "
						    "catalogue; withdraw it first"
						  : "the service already has a dataset in the "
						    "catalogue; withdraw it first");
		else
			internal(c);
		goto out;
	}
	ds = json_pack("{ss ss* ss sI ss*}", "service", service, "event", event, "provider",
		       provider, "offers", (json_int_t)json_array_size(offers), "member",
		       c->who->member);
	rc = store_commit_audited(c->st, actor(c), c->req->remote_addr, "dataset.publish", dsid, ds);
	json_decref(ds);
	ds = NULL;
	if (rc) {
		internal(c);
		goto out;
	}
	store_lock(c->st);
	rc = mstore_dataset_get(c->st, dsid, &row);
	if (!rc)
		rc = dataset_json(c, row, &ds);
	store_unlock(c->st);
	if (rc || !ds)
		internal(c);
	else
		ndx_http_resp_json(c->resp, 201, ds);
out:
	free(text);
	json_decref(svc);
	json_decref(row);
	json_decref(offers);
	json_decref(desc);
	json_decref(body);
}

static void datasets_withdraw(struct mcall *c, const char *id)
{
	json_t *row = NULL, *detail;
	int rc;

	if (!c->who->name) {
		may_act_for(c, NULL);
		return;
	}
	if (store_begin(c->st)) {
		internal(c);
		return;
	}
	if ((rc = mstore_dataset_get(c->st, id, &row))) {
		store_rollback(c->st);
		if (rc == NDX_ENOTFOUND)
			ndx_http_resp_error(c->resp, 404, "Client.NotFound", "not found",
					    "no such dataset");
		else
			internal(c);
		return;
	}
	if (!may_act_for(c, json_string_value(json_object_get(row, "provider")))) {
		store_rollback(c->st);
		json_decref(row);
		return;
	}
	detail = json_pack("{sO}", "service", json_object_get(row, "service"));
	json_decref(row);
	if ((rc = mstore_dataset_delete(c->st, id)))
		store_rollback(c->st);
	else
		rc = store_commit_audited(c->st, actor(c), c->req->remote_addr, "dataset.withdraw",
					  id, detail);
	if (rc) {
		internal(c);
	} else {
		ndx_http_resp_json(c->resp, 200, json_pack("{ss}", "deleted", id));
	}
	json_decref(detail);
}

/* ---- negotiations ----------------------------------------------------------------- */

/* DSP negotiation protocol §ContractNegotiation. */
static json_t *negotiation_json(const json_t *row)
{
	return json_pack("{s[s]sssOsOsO}", "@context", DSP_CONTEXT, "@type", "ContractNegotiation",
			 "providerPid", json_object_get(row, "provider_pid"), "consumerPid",
			 json_object_get(row, "consumer_pid"), "state", json_object_get(row, "state"));
}

/* A negotiation row in the /market listing's shape: the row, its latest
 * offer and agreement, and not_after as RFC 3339 text. */
static json_t *negotiation_listed(const json_t *row)
{
	json_t *o = json_deep_copy(row);
	json_int_t na = json_integer_value(json_object_get(row, "not_after"));
	char when[NDX_TIME_TEXT_LEN];

	if (o && na) {
		ndx_time_format((time_t)na, when);
		json_object_set_new(o, "not_after", json_string(when));
	} else if (o) {
		json_object_set_new(o, "not_after", json_null());
	}
	return o;
}

/* The policy an Offer or Agreement in a message states, with its target
 * checked against the negotiation's dataset; *canon receives the canonical
 * ODRL (a new reference). NDX_EINVAL after answering 400. */
static int message_policy(struct mcall *c, const json_t *neg, const json_t *odrl,
			  const char *what, const char *dataset, struct ndx_policy *p,
			  json_t **canon)
{
	char err[256];
	const char *id = json_string_value(json_object_get(odrl, "@id"));
	const char *target = json_string_value(json_object_get(odrl, "target"));

	*canon = NULL;
	if (!json_is_object(odrl) || !id || !*id || strlen(id) > PID_MAX) {
		dsp_error(c, 400, NEG_ERROR, "Client.InvalidRequest", neg,
			  "%s: expected an object with an @id", what);
		return NDX_EINVAL;
	}
	if (!target || strcmp(target, dataset) != 0) {
		dsp_error(c, 400, NEG_ERROR, "Client.InvalidRequest", neg,
			  "%s.target: expected the dataset %s", what, dataset);
		return NDX_EINVAL;
	}
	if (ndx_policy_from_odrl(odrl, p, err, sizeof err)) {
		dsp_error(c, 400, NEG_ERROR, "Client.InvalidRequest", neg, "%s.%s", what, err);
		return NDX_EINVAL;
	}
	if (neg) {
		/* An event type's negotiation: its terms stay a subscription's. */
		json_t *ev = NULL, *svc = NULL;
		const char *why = NULL;
		int rc = mstore_neg_event(c->st,
					  json_string_value(json_object_get(neg, "provider_pid")),
					  &ev);
		if (!rc)
			rc = store_service_get(c->st,
					       json_string_value(json_object_get(neg, "service")), &svc);
		if (!rc)
			why = event_policy_why(p, svc);
		json_decref(ev);
		json_decref(svc);
		if (rc && rc != NDX_ENOTFOUND)
			return rc;
		if (why) {
			dsp_error(c, 400, NEG_ERROR, "Client.InvalidRequest", neg, "%s: %s", what,
				  why);
			return NDX_EINVAL;
		}
	}
	if (!(*canon = ndx_policy_to_odrl(p)))
		return NDX_ENOMEM;
	json_object_set_new(*canon, "@id", json_string(id));
	json_object_set_new(*canon, "@type", json_string(strcmp(what, "agreement") == 0 ? "Agreement"
										    : "Offer"));
	json_object_set_new(*canon, "target", json_string(dataset));
	return NDX_OK;
}

/* A mstore_neg view of a row (strings borrowed from it). */
static void neg_view(const json_t *row, struct mstore_neg *n)
{
#define S(f) json_string_value(json_object_get(row, f))
	*n = (struct mstore_neg){
		.provider_pid = S("provider_pid"), .consumer_pid = S("consumer_pid"),
		.consumer = S("consumer"), .client = S("client"), .provider = S("provider"),
		.dataset = S("dataset"), .service = S("service"), .offer_id = S("offer_id"),
		.offered_by = S("offered_by"), .state = S("state"), .callback = S("callback"),
		.agreement_id = S("agreement_id"), .agreement_state = S("agreement_state"),
		.not_after = json_integer_value(json_object_get(row, "not_after")),
	};
#undef S
}

/* The caller as a negotiating member: NULL after answering 401 (none) or
 * 403 (an admin credential: the operator is no party). */
static const char *participant(struct mcall *c)
{
	if (!c->who->name) {
		ndx_bearer_refuse(c->resp, "a member credential is required", "ndx-registry");
		return NULL;
	}
	if (!c->who->member) {
		dsp_error(c, 403, NEG_ERROR, "Client.Forbidden", NULL,
			  "an admin credential is no party to a negotiation");
		return NULL;
	}
	return c->who->member;
}

/* The grant's client of an initial request: "ndx:client", the member
 * itself or one of its subsystems (default: the member). */
static int request_client(struct mcall *c, const json_t *body, const char *member,
			  char out[NDX_ID_TEXT_MAX])
{
	const json_t *v = json_object_get(body, "ndx:client");
	const char *s = json_string_value(v);
	char owner[NDX_ID_TEXT_MAX];

	if (!v) {
		snprintf(out, NDX_ID_TEXT_MAX, "%s", member);
		return NDX_OK;
	}
	if (s && strcmp(s, member) == 0) {
		snprintf(out, NDX_ID_TEXT_MAX, "%s", s);
		return NDX_OK;
	}
	member_of(s ? s : "", NDX_ID_SUBSYSTEM, owner);
	if (!s || strcmp(owner, member) != 0 || store_subsystem_exists(c->st, s) != 1) {
		dsp_error(c, 400, NEG_ERROR, "Client.InvalidRequest", NULL,
			  "ndx:client: expected %s or one of its subsystems", member);
		return NDX_EINVAL;
	}
	snprintf(out, NDX_ID_TEXT_MAX, "%s", s);
	return NDX_OK;
}

/* ---- signed messages (docs/marketplace.md "Signed negotiations") ---------------------- */

/* A signed message as received: the parsed JWS and its text. */
struct signed_msg {
	struct ndx_negmsg *m;
	const char *text;
	size_t len;
};

/* True when the request's body is a JWS compact serialization
 * (Content-Type application/jose, parameters allowed). */
static bool is_jose(const struct ndx_http_req *req)
{
	const char *ct = ndx_http_header(req, "Content-Type");
	size_t n = sizeof "application/jose" - 1;

	return ct && strncasecmp(ct, "application/jose", n) == 0 &&
	       (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* The body of a negotiation message as a JSON object: the plain binding's
 * JSON, or the DSP message a signed one carries (sm->m set then). NULL
 * after answering 400. */
static json_t *message_body(struct mcall *c, struct signed_msg *sm)
{
	char why[300];
	int rc;

	memset(sm, 0, sizeof *sm);
	if (!is_jose(c->req))
		return body_object(c, NEG_ERROR);
	sm->text = (const char *)c->req->body;
	sm->len = c->req->body ? c->req->body_len : 0;
	/* A compact JWS is one line; the trailing newline a file keeps is not part of it. */
	while (sm->len && (sm->text[sm->len - 1] == '\n' || sm->text[sm->len - 1] == '\r'))
		sm->len--;
	rc = sm->len ? ndx_negmsg_parse(sm->text, sm->len, &sm->m, why, sizeof why) : NDX_EINVAL;
	if (rc == NDX_ENOMEM) {
		internal(c);
		return NULL;
	}
	if (rc) {
		dsp_error(c, 400, NEG_ERROR, "Client.InvalidRequest", NULL,
			  "the signed message is refused: %s", sm->len ? why : "the body is empty");
		return NULL;
	}
	return json_incref(sm->m->message);
}

/* An Ed25519 public key from its base64 text (the gateways table's). */
static int gateway_key(const char *b64, struct ndx_key **key)
{
	uint8_t *raw = NULL;
	size_t rawlen = 0;
	int rc = NDX_EDB;

	if (b64 && ndx_b64_decode(b64, strlen(b64), 0, &raw, &rawlen) == NDX_OK &&
	    rawlen == NDX_ED25519_PUBLIC_LEN)
		rc = ndx_key_from_public_raw(raw, key);
	free(raw);
	return rc;
}

/* Checks a signed message inside the caller's transaction: its sender is
 * the credential's member (the party the path requires, which the caller
 * checked), its kid the current signing key of one of the sender's
 * gateways, not revoked, and the signature verifies; ndx:path is the
 * request's path; ndx:previous is previous (NULL: the first message,
 * which has none). NDX_OK, or NDX_EINVAL after answering (the caller rolls
 * back), or a store error (not answered). */
static int signed_check(struct mcall *c, const struct signed_msg *sm, const json_t *neg,
			const char *member, const char *previous)
{
	const struct ndx_negmsg *m = sm->m;
	struct ndx_key *key = NULL;
	json_t *gw = NULL;
	int rc, revoked;

	if (strcmp(m->sender, member) != 0) {
		dsp_error(c, 403, NEG_ERROR, "Client.WrongSender", neg,
			  "ndx:sender %s is not the caller's member %s", m->sender, member);
		return NDX_EINVAL;
	}
	rc = mstore_gateway_by_key(c->st, member, m->kid, &gw);
	if (rc == NDX_ENOTFOUND) {
		dsp_error(c, 403, NEG_ERROR, "Client.UnknownSigner", neg,
			  "kid %.64s is the signing key of no gateway of %s", m->kid, member);
		return NDX_EINVAL;
	}
	if (rc)
		return rc;
	revoked = store_revocation_has(c->st, "key", m->kid);
	rc = revoked < 0 ? NDX_EDB : gateway_key(json_string_value(json_object_get(gw, "sign_key")),
						 &key);
	json_decref(gw);
	if (rc)
		return rc;
	if (revoked) {
		ndx_key_free(key);
		dsp_error(c, 403, NEG_ERROR, "Client.UnknownSigner", neg,
			  "kid %.64s is a revoked key", m->kid);
		return NDX_EINVAL;
	}
	rc = ndx_negmsg_verify(m, key);
	ndx_key_free(key);
	if (rc) {
		dsp_error(c, 403, NEG_ERROR, "Client.BadSignature", neg,
			  "the signature does not verify with the key %.64s of %s's gateway",
			  m->kid, member);
		return NDX_EINVAL;
	}
	if (strcmp(m->path, c->req->path) != 0) {
		dsp_error(c, 400, NEG_ERROR, "Client.WrongPath", neg,
			  "ndx:path %s is not this request's path", m->path);
		return NDX_EINVAL;
	}
	if (!previous && m->has_previous) {
		dsp_error(c, 400, NEG_ERROR, "Client.InvalidRequest", neg,
			  "ndx:previous: the first message of a negotiation has none");
		return NDX_EINVAL;
	}
	if (previous && (!m->has_previous || strcmp(m->previous, previous) != 0)) {
		dsp_error(c, 409, NEG_ERROR, "Client.StaleMessage", neg,
			  "ndx:previous must be %s, the hash of the negotiation's last accepted "
			  "message (a replayed or out-of-order message)", previous);
		return NDX_EINVAL;
	}
	return NDX_OK;
}

/* DSP negotiation HTTPS binding §Contract Request Endpoint (init):
 * POST /negotiations/request, answered 201 with the ContractNegotiation. */
static void negotiation_init(struct mcall *c)
{
	static const char *const keys[] = { "@context", "@type", "consumerPid", "offer",
					    "callbackAddress", "ndx:client", NULL };
	const char *member = participant(c), *cpid, *stray, *bad, *offer_id, *callback;
	const char *event;
	char client[NDX_ID_TEXT_MAX], ppid[48];
	json_t *body = NULL, *offer_row = NULL, *ds_row = NULL, *canon = NULL, *row = NULL,
	       *detail = NULL;
	const json_t *offer;
	struct ndx_policy p;
	struct mstore_neg n;
	const char *provider;
	struct signed_msg sm = { 0 };
	json_t *ans;
	char *pt = NULL;
	int rc;

	if (!member || !(body = message_body(c, &sm)))
		goto out;
	if ((stray = stray_key(body, keys)) ||
	    !is_type(json_object_get(body, "@type"), "ContractRequestMessage")) {
		dsp_error(c, 400, NEG_ERROR, "Client.InvalidRequest", NULL,
			  stray && strcmp(stray, "providerPid") == 0
				  ? "providerPid: an initial request has none; a request in a "
				    "negotiation goes to /negotiations/{providerPid}/request"
			  : stray ? "%s: not a property of an initial ContractRequestMessage"
				  : "@type: expected ContractRequestMessage", stray);
		goto out;
	}
	cpid = text_field(body, "consumerPid", PID_MAX, &bad);
	callback = text_field(body, "callbackAddress", CALLBACK_MAX, &bad);
	offer = json_object_get(body, "offer");
	offer_id = json_string_value(json_object_get(offer, "@id"));
	/* The consumerPid is a path segment of the consumer's endpoints. */
	if (cpid && strpbrk(cpid, "/?#% "))
		cpid = NULL;
	if (!cpid || bad || !offer_id) {
		dsp_error(c, 400, NEG_ERROR, "Client.InvalidRequest", NULL, "%s",
			  !cpid ? "consumerPid: expected the consumer's id of the negotiation "
				  "(an IRI without / ? # % or spaces)"
			  : bad ? "callbackAddress: expected a URL of at most 512 bytes"
				: "offer.@id: expected the id of an offer of the catalogue");
		goto out;
	}
	if (store_begin(c->st)) {
		internal(c);
		goto out;
	}
	if (sm.m && (rc = signed_check(c, &sm, NULL, member, NULL))) {
		store_rollback(c->st);
		if (rc != NDX_EINVAL)
			internal(c);
		goto out;
	}
	/* "If the Provider is not aware of the offer.@id value, it MUST
	 * respond with an error message": an offer the caller may not see is
	 * one it cannot know. */
	rc = mstore_offer_get(c->st, offer_id, &offer_row);
	if (!rc)
		rc = mstore_dataset_get(c->st, json_string_value(json_object_get(offer_row, "dataset")),
					&ds_row);
	provider = ds_row ? json_string_value(json_object_get(ds_row, "provider")) : NULL;
	if (rc == NDX_ENOTFOUND ||
	    (!rc && !offer_visible(c->who, provider,
				   (unsigned)json_integer_value(json_object_get(offer_row, "classes"))))) {
		store_rollback(c->st);
		dsp_error(c, 400, NEG_ERROR, "Client.InvalidRequest", NULL,
			  "offer.@id: %s is not an offer of the catalogue", offer_id);
		goto out;
	}
	if (rc) {
		store_rollback(c->st);
		internal(c);
		goto out;
	}
	if (strcmp(provider, member) == 0) {
		store_rollback(c->st);
		dsp_error(c, 400, NEG_ERROR, "Client.InvalidRequest", NULL,
			  "the offer is the caller's own");
		goto out;
	}
	if (request_client(c, body, member, client)) {
		store_rollback(c->st);
		goto out;
	}
	event = json_string_value(json_object_get(ds_row, "event"));
	if (event && !*event)
		event = NULL;
	if (event && strcmp(client, member) == 0) {
		store_rollback(c->st);
		dsp_error(c, 400, NEG_ERROR, "Client.InvalidRequest", NULL,
			  "ndx:client: an event type's agreement is a subscription, which a "
			  "subsystem of %s holds; name it", member);
		goto out;
	}
	/* Terms of its own in the request are the consumer's proposal;
	 * without them it asks for the catalogue's offer as it stands. */
	if (json_object_get(offer, "permission")) {
		if ((rc = message_policy(c, NULL, offer, "offer",
					 json_string_value(json_object_get(ds_row, "id")), &p, &canon))) {
			store_rollback(c->st);
			if (rc != NDX_EINVAL)
				internal(c);
			goto out;
		}
	} else {
		canon = json_deep_copy(json_object_get(offer_row, "policy"));
		json_object_set_new(canon, "@id", json_string(offer_id));
		json_object_set_new(canon, "@type", json_string("Offer"));
		json_object_set(canon, "target", json_object_get(ds_row, "id"));
	}
	if (event && json_object_get(offer, "permission")) {
		json_t *svc = NULL;
		const char *why = NULL;
		if (!(rc = store_service_get(c->st, json_string_value(json_object_get(ds_row,
										      "service")),
					     &svc)))
			why = event_policy_why(&p, svc);
		json_decref(svc);
		if (rc || why) {
			store_rollback(c->st);
			if (rc)
				internal(c);
			else
				dsp_error(c, 400, NEG_ERROR, "Client.InvalidRequest", NULL,
					  "offer: %s", why);
			goto out;
		}
	}
	n = (struct mstore_neg){
		.provider_pid = ppid, .consumer_pid = cpid, .consumer = member, .client = client,
		.provider = provider, .dataset = json_string_value(json_object_get(ds_row, "id")),
		.service = json_string_value(json_object_get(ds_row, "service")),
		.offer_id = offer_id, .offered_by = "consumer", .event = event,
		.state = ndx_neg_state_name(ndx_neg_next(NDX_NEG_NONE, NDX_NEG_CONSUMER,
							 NDX_NEG_MSG_REQUEST)),
		.callback = callback ? callback : "",
	};
	pt = canon ? json_dumps(canon, JSON_COMPACT) : NULL;
	n.policy = pt;
	rc = !pt || new_urn(ppid) ? NDX_ENOMEM : mstore_neg_add(c->st, &n);
	/* A signed first message makes a signed negotiation: its chain starts here. */
	if (!rc && sm.m)
		rc = mstore_neg_message_add(c->st, ppid, 1, sm.m->sender, sm.m->hash, sm.text);
	detail = json_pack("{ss ss ss ss ss ss ss}", "consumerPid", cpid, "consumer", member, "client",
			   client, "provider", provider, "offer", offer_id, "from", "NONE", "to",
			   n.state);
	if (detail && sm.m)
		json_object_set_new(detail, "message", json_string(sm.m->hash));
	if (!rc)
		rc = store_commit_audited(c->st, actor(c), c->req->remote_addr,
					  "negotiation.requested", ppid, detail);
	else
		store_rollback(c->st);
	free(pt);
	if (rc == NDX_EEXIST) {
		dsp_error(c, 409, NEG_ERROR, "Client.Conflict", NULL,
			  sm.m ? "consumerPid %s names another negotiation already, or the signed "
				 "message was accepted before"
			       : "consumerPid %s names another negotiation already", cpid);
		goto out;
	}
	if (rc || mstore_neg_get(c->st, ppid, 0, &row)) {
		internal(c);
		goto out;
	}
	ans = negotiation_json(row);
	if (ans && sm.m)
		json_object_set_new(ans, "ndx:signed", json_true());
	ndx_http_resp_json(c->resp, 201, ans);
out:
	ndx_negmsg_free(sm.m);
	json_decref(detail);
	json_decref(row);
	json_decref(canon);
	json_decref(ds_row);
	json_decref(offer_row);
	json_decref(body);
}

struct neg_msg {
	enum ndx_neg_msg msg;
	enum ndx_neg_role role;
	const char *type;         /* its @type */
	const char *event;        /* its eventType, for the event messages */
	const char *const *keys;  /* its properties */
};

static const char *const K_OFFER[] = { "@context", "@type", "providerPid", "consumerPid",
				       "offer", "callbackAddress", NULL };
static const char *const K_EVENT[] = { "@context", "@type", "providerPid", "consumerPid",
				       "eventType", NULL };
static const char *const K_AGREEMENT[] = { "@context", "@type", "providerPid", "consumerPid",
					   "agreement", "callbackAddress", NULL };
static const char *const K_PIDS[] = { "@context", "@type", "providerPid", "consumerPid", NULL };
static const char *const K_TERMINATION[] = { "@context", "@type", "providerPid",
					     "consumerPid", "code", "reason", NULL };

static const struct neg_msg MSG_REQUEST = { NDX_NEG_MSG_REQUEST, NDX_NEG_CONSUMER,
					    "ContractRequestMessage", NULL, K_OFFER };
static const struct neg_msg MSG_OFFER = { NDX_NEG_MSG_OFFER, NDX_NEG_PROVIDER,
					  "ContractOfferMessage", NULL, K_OFFER };
static const struct neg_msg MSG_ACCEPTED = { NDX_NEG_MSG_ACCEPTED, NDX_NEG_CONSUMER,
					     "ContractNegotiationEventMessage", "ACCEPTED",
					     K_EVENT };
static const struct neg_msg MSG_AGREEMENT = { NDX_NEG_MSG_AGREEMENT, NDX_NEG_PROVIDER,
					      "ContractAgreementMessage", NULL, K_AGREEMENT };
static const struct neg_msg MSG_VERIFICATION = { NDX_NEG_MSG_VERIFICATION, NDX_NEG_CONSUMER,
						 "ContractAgreementVerificationMessage", NULL,
						 K_PIDS };
static const struct neg_msg MSG_FINALIZED = { NDX_NEG_MSG_FINALIZED, NDX_NEG_PROVIDER,
					      "ContractNegotiationEventMessage", "FINALIZED",
					      K_EVENT };
static const struct neg_msg MSG_TERM_C = { NDX_NEG_MSG_TERMINATION, NDX_NEG_CONSUMER,
					   "ContractNegotiationTerminationMessage", NULL,
					   K_TERMINATION };
static const struct neg_msg MSG_TERM_P = { NDX_NEG_MSG_TERMINATION, NDX_NEG_PROVIDER,
					   "ContractNegotiationTerminationMessage", NULL,
					   K_TERMINATION };
static const struct neg_msg *const NEG_MSGS[] = { &MSG_REQUEST,      &MSG_OFFER,
						  &MSG_ACCEPTED,     &MSG_AGREEMENT,
						  &MSG_VERIFICATION, &MSG_FINALIZED,
						  &MSG_TERM_C,       &MSG_TERM_P };

/* The message's form: @type, eventType, its properties, and the two pids
 * naming this negotiation. false after answering 400. */
static bool message_form(struct mcall *c, const json_t *body, const json_t *neg,
			 const struct neg_msg *m)
{
	const char *stray = stray_key(body, m->keys);
	const json_t *ev = json_object_get(body, "eventType");

	if (stray) {
		dsp_error(c, 400, NEG_ERROR, "Client.InvalidRequest", neg,
			  "%s: not a property of a %s", stray, m->type);
		return false;
	}
	if (!is_type(json_object_get(body, "@type"), m->type)) {
		dsp_error(c, 400, NEG_ERROR, "Client.InvalidRequest", neg,
			  "@type: expected %s on this endpoint", m->type);
		return false;
	}
	if (m->event && !is_type(ev, m->event)) {
		dsp_error(c, 400, NEG_ERROR, "Client.InvalidRequest", neg,
			  "eventType: expected %s on this endpoint", m->event);
		return false;
	}
	if (!json_equal(json_object_get(body, "providerPid"), json_object_get(neg, "provider_pid")) ||
	    !json_equal(json_object_get(body, "consumerPid"), json_object_get(neg, "consumer_pid"))) {
		dsp_error(c, 400, NEG_ERROR, "Client.InvalidRequest", neg,
			  "providerPid and consumerPid must name this negotiation");
		return false;
	}
	return true;
}

/* ContractAgreementMessage: "The message MUST contain an Agreement", with
 * timestamp, assigner, assignee and target (DSP negotiation protocol
 * §Contract Agreement Message); ndx also requires its terms to be the
 * latest offer's, so that what was agreed is what was offered. */
static int agreement_of(struct mcall *c, const json_t *body, const json_t *neg, json_t **canon)
{
	const json_t *a = json_object_get(body, "agreement");
	const char *ts = json_string_value(json_object_get(a, "timestamp"));
	const char *assigner = json_string_value(json_object_get(a, "assigner"));
	const char *assignee = json_string_value(json_object_get(a, "assignee"));
	struct ndx_policy p, latest;
	char err[256];
	time_t t;
	int rc;

	if ((rc = message_policy(c, neg, a, "agreement",
				 json_string_value(json_object_get(neg, "dataset")), &p, canon)))
		return rc;
	if (!ts || ndx_time_parse(ts, &t) || !assigner || !assignee ||
	    strcmp(assigner, json_string_value(json_object_get(neg, "provider"))) != 0 ||
	    strcmp(assignee, json_string_value(json_object_get(neg, "consumer"))) != 0) {
		dsp_error(c, 400, NEG_ERROR, "Client.InvalidRequest", neg,
			  "agreement: expected a timestamp (RFC 3339), the provider's member id as "
			  "assigner and the consumer's as assignee");
		return NDX_EINVAL;
	}
	if (ndx_policy_from_odrl(json_object_get(neg, "policy"), &latest, err, sizeof err))
		return NDX_EDB;
	if (!ndx_policy_equal(&p, &latest)) {
		dsp_error(c, 400, NEG_ERROR, "Client.InvalidRequest", neg,
			  "agreement: its terms differ from the latest offer's");
		return NDX_EINVAL;
	}
	json_object_set_new(*canon, "timestamp", json_string(ts));
	json_object_set_new(*canon, "assigner", json_string(assigner));
	json_object_set_new(*canon, "assignee", json_string(assignee));
	return NDX_OK;
}

/* One message on an existing negotiation: pid is the providerPid (the
 * consumer's messages, provider paths) or the consumerPid (the provider's,
 * consumer paths). */
static void negotiation_message(struct mcall *c, const char *pid, const struct neg_msg *m)
{
	const char *member = participant(c);
	json_t *body = NULL, *neg = NULL, *canon = NULL, *detail = NULL, *after = NULL;
	enum ndx_neg_state from, to;
	struct mstore_neg n;
	char *pt = NULL, *at = NULL, *old_policy = NULL, *old_agreement = NULL;
	const json_t *old_ag;
	json_t *ans;
	struct ndx_policy p;
	const char *party;
	char err[256];
	uint64_t version = 0;
	struct signed_msg sm = { 0 };
	json_t *last = NULL;
	int64_t seq = 0;
	bool msg_conflict = false;
	int rc;

	if (!member || !(body = message_body(c, &sm)))
		goto out;
	if (store_begin(c->st)) {
		internal(c);
		goto out;
	}
	rc = mstore_neg_get(c->st, pid, m->role == NDX_NEG_PROVIDER, &neg);
	party = neg ? json_string_value(json_object_get(neg, m->role == NDX_NEG_PROVIDER
								  ? "provider" : "consumer"))
		    : NULL;
	/* DSP negotiation HTTPS binding §Object Not Found and §Unauthorized
	 * Access: both are a 404. */
	if (rc == NDX_ENOTFOUND || (!rc && strcmp(party, member) != 0)) {
		store_rollback(c->st);
		dsp_error(c, 404, NEG_ERROR, "Client.NotFound", NULL, "no negotiation %s of yours",
			  pid);
		goto out;
	}
	if (rc) {
		store_rollback(c->st);
		internal(c);
		goto out;
	}
	/* A negotiation whose first message was signed takes signed messages
	 * only, each after the last accepted one; one begun plain stays plain. */
	rc = mstore_neg_message_last(c->st, json_string_value(json_object_get(neg, "provider_pid")),
				     &last);
	if (rc && rc != NDX_ENOTFOUND) {
		store_rollback(c->st);
		internal(c);
		goto out;
	}
	if (!rc && !sm.m) {
		store_rollback(c->st);
		dsp_error(c, 400, NEG_ERROR, "Client.SignatureRequired", neg,
			  "the negotiation is signed: every message is a JWS (Content-Type "
			  "application/jose) signed with a key of one of the sender's gateways");
		goto out;
	}
	if (rc && sm.m) {
		store_rollback(c->st);
		dsp_error(c, 400, NEG_ERROR, "Client.NotSignedNegotiation", neg,
			  "the negotiation began with a plain message: its messages stay plain");
		goto out;
	}
	if (sm.m) {
		seq = json_integer_value(json_object_get(last, "seq")) + 1;
		if ((rc = signed_check(c, &sm, neg, member,
				       json_string_value(json_object_get(last, "hash"))))) {
			store_rollback(c->st);
			if (rc != NDX_EINVAL)
				internal(c);
			goto out;
		}
	}
	if (!message_form(c, body, neg, m)) {
		store_rollback(c->st);
		goto out;
	}
	from = ndx_neg_state_of(json_string_value(json_object_get(neg, "state")));
	to = ndx_neg_next(from, m->role, m->msg);
	/* DSP negotiation HTTPS binding §State Transition Errors: 400. */
	if (to == NDX_NEG_NONE) {
		store_rollback(c->st);
		dsp_error(c, 400, NEG_ERROR, "Client.InvalidTransition", neg,
			  "a %s%s%s from the %s is not allowed in state %s", m->type,
			  m->event ? " " : "", m->event ? m->event : "",
			  m->role == NDX_NEG_PROVIDER ? "provider" : "consumer",
			  ndx_neg_state_name(from));
		goto out;
	}
	neg_view(neg, &n);
	n.state = ndx_neg_state_name(to);
	detail = json_pack("{sOsOsssssOsO}", "consumerPid", json_object_get(neg, "consumer_pid"),
			   "service", json_object_get(neg, "service"), "from",
			   ndx_neg_state_name(from), "to", n.state, "consumer",
			   json_object_get(neg, "consumer"), "provider",
			   json_object_get(neg, "provider"));
	rc = NDX_OK;
	if (m->msg == NDX_NEG_MSG_REQUEST || m->msg == NDX_NEG_MSG_OFFER) {
		rc = message_policy(c, neg, json_object_get(body, "offer"), "offer",
				    n.dataset, &p, &canon);
		n.offered_by = m->role == NDX_NEG_PROVIDER ? "provider" : "consumer";
	} else if (m->msg == NDX_NEG_MSG_AGREEMENT) {
		rc = agreement_of(c, body, neg, &canon);
		if (!rc) {
			n.agreement_id = json_string_value(json_object_get(canon, "@id"));
			at = json_dumps(canon, JSON_COMPACT);
			rc = at ? NDX_OK : NDX_ENOMEM;
		}
	} else if (m->msg == NDX_NEG_MSG_FINALIZED) {
		rc = ndx_policy_from_odrl(json_object_get(neg, "agreement"), &p, err, sizeof err)
			     ? NDX_EDB : NDX_OK;
		n.agreement_state = "active";
		if (!rc && p.validity_days)
			n.not_after = (int64_t)time(NULL) + p.validity_days * 86400;
		json_object_set(detail, "agreement", json_object_get(neg, "agreement_id"));
		json_object_set(detail, "client", json_object_get(neg, "client"));
	} else if (m->msg == NDX_NEG_MSG_TERMINATION) {
		const json_t *code = json_object_get(body, "code");
		const json_t *reason = json_object_get(body, "reason");
		if ((code && !json_is_string(code)) || (reason && !json_is_array(reason))) {
			dsp_error(c, 400, NEG_ERROR, "Client.InvalidRequest", neg,
				  "code: expected a string; reason: expected an array");
			rc = NDX_EINVAL;
		} else {
			json_object_set(detail, "code", code ? (json_t *)code : json_null());
			json_object_set(detail, "reason", reason ? (json_t *)reason : json_null());
		}
	}
	if (!rc && canon && m->msg != NDX_NEG_MSG_AGREEMENT) {
		pt = json_dumps(canon, JSON_COMPACT);
		rc = pt ? NDX_OK : NDX_ENOMEM;
	}
	if (rc) {
		store_rollback(c->st);
		if (rc != NDX_EINVAL)
			internal(c);
		goto out;
	}
	/* Untouched fields keep the row's values: its JSON columns as text. */
	old_policy = json_dumps(json_object_get(neg, "policy"), JSON_COMPACT);
	old_ag = json_object_get(neg, "agreement");
	old_agreement = old_ag && !json_is_null(old_ag) ? json_dumps(old_ag, JSON_COMPACT) : NULL;
	n.policy = pt ? pt : old_policy;
	n.agreement = at ? at : old_agreement;
	rc = n.policy ? mstore_neg_update(c->st, &n) : NDX_ENOMEM;
	if (!rc && sm.m) {
		rc = mstore_neg_message_add(c->st, n.provider_pid, seq, sm.m->sender, sm.m->hash,
					    sm.text);
		msg_conflict = rc == NDX_EEXIST;
		if (detail)
			json_object_set_new(detail, "message", json_string(sm.m->hash));
	}
	if (!rc && m->msg == NDX_NEG_MSG_FINALIZED)
		/* The agreement's grant enters the configuration: a new version. */
		rc = store_commit(c->st, actor(c), c->req->remote_addr, "negotiation.finalized",
				  n.provider_pid, detail, &version);
	else if (!rc)
		rc = store_commit_audited(c->st, actor(c), c->req->remote_addr,
					  m->msg == NDX_NEG_MSG_TERMINATION ? "negotiation.terminated"
					  : m->msg == NDX_NEG_MSG_AGREEMENT  ? "negotiation.agreed"
					  : m->msg == NDX_NEG_MSG_OFFER      ? "negotiation.offered"
					  : m->msg == NDX_NEG_MSG_REQUEST    ? "negotiation.requested"
					  : m->msg == NDX_NEG_MSG_ACCEPTED   ? "negotiation.accepted"
									     : "negotiation.verified",
					  n.provider_pid, detail);
	else
		store_rollback(c->st);
	free(old_policy);
	free(old_agreement);
	if (msg_conflict) {
		dsp_error(c, 409, NEG_ERROR, "Client.StaleMessage", neg,
			  "another message was accepted after the one ndx:previous names, or this "
			  "message was accepted before");
		goto out;
	}
	if (rc == NDX_EEXIST) {
		dsp_error(c, 409, NEG_ERROR, "Client.Conflict", neg,
			  "agreement.@id names another agreement already");
		goto out;
	}
	if (rc || mstore_neg_get(c->st, n.provider_pid, 0, &after)) {
		internal(c);
		goto out;
	}
	ans = negotiation_json(after);
	if (ans && version)
		json_object_set_new(ans, "ndx:confVersion", json_integer((json_int_t)version));
	if (ans && sm.m)
		json_object_set_new(ans, "ndx:signed", json_true());
	ndx_http_resp_json(c->resp, 200, ans);
out:
	ndx_negmsg_free(sm.m);
	json_decref(last);
	free(pt);
	free(at);
	json_decref(after);
	json_decref(detail);
	json_decref(canon);
	json_decref(neg);
	json_decref(body);
}

/* DSP negotiation HTTPS binding §Contract Negotiation Endpoint, on either
 * side: either party may read it. */
static void negotiation_get(struct mcall *c, const char *pid, int by_consumer)
{
	const char *member = participant(c);
	json_t *neg = NULL, *last = NULL, *ans;
	int rc, lrc = NDX_ENOTFOUND;

	if (!member)
		return;
	store_lock(c->st);
	rc = mstore_neg_get(c->st, pid, by_consumer, &neg);
	if (!rc)
		lrc = mstore_neg_message_last(
			c->st, json_string_value(json_object_get(neg, "provider_pid")), &last);
	store_unlock(c->st);
	json_decref(last);
	if (!rc && lrc && lrc != NDX_ENOTFOUND)
		rc = lrc;
	if (rc == NDX_ENOTFOUND ||
	    (!rc && strcmp(json_string_value(json_object_get(neg, "consumer")), member) != 0 &&
	     strcmp(json_string_value(json_object_get(neg, "provider")), member) != 0)) {
		dsp_error(c, 404, NEG_ERROR, "Client.NotFound", NULL, "no negotiation %s of yours",
			  pid);
	} else if (rc) {
		internal(c);
	} else {
		ans = negotiation_json(neg);
		if (ans && lrc == NDX_OK)
			json_object_set_new(ans, "ndx:signed", json_true());
		ndx_http_resp_json(c->resp, 200, ans);
	}
	json_decref(neg);
}

/* ---- agreements the connectors negotiated (docs/marketplace.md "Recording an
 * agreement the connectors negotiated") ---------------------------------------------- */

#define RECORD_BODY_MAX (1u << 20)
#define RECORD_MESSAGES_MAX 64

/* ndx_negchain_key_fn over the registry's store: the current signing key
 * of a gateway of member, not revoked. The key is held in the context
 * until the next call or the end. */
struct record_keys {
	struct store *st;
	struct ndx_key *key;
};

static int record_key(void *ctx, const char *member, const char *kid, const struct ndx_key **key,
		      char *err, size_t errcap)
{
	struct record_keys *rk = ctx;
	json_t *gw = NULL;
	int rc, revoked;

	ndx_key_free(rk->key);
	rk->key = NULL;
	rc = mstore_gateway_by_key(rk->st, member, kid, &gw);
	if (rc == NDX_ENOTFOUND) {
		snprintf(err, errcap, "the signing key of no gateway of its sender %s", member);
		return NDX_ENOTFOUND;
	}
	if (rc)
		return rc;
	revoked = store_revocation_has(rk->st, "key", kid);
	rc = revoked < 0 ? NDX_EDB
			 : gateway_key(json_string_value(json_object_get(gw, "sign_key")), &rk->key);
	json_decref(gw);
	if (rc)
		return rc;
	if (revoked) {
		snprintf(err, errcap, "a revoked key");
		return NDX_ENOTFOUND;
	}
	*key = rk->key;
	return NDX_OK;
}

/* Answers a refused chain with the signed relay path's code for its fault. */
static void chain_refused(struct mcall *c, const struct ndx_negchain *ch)
{
	int status = 400;
	const char *code = "Client.InvalidRequest";

	switch (ch->fault) {
	case NDX_NEGCHAIN_UNKNOWN_SIGNER:
		status = 403, code = "Client.UnknownSigner";
		break;
	case NDX_NEGCHAIN_BAD_SIGNATURE:
		status = 403, code = "Client.BadSignature";
		break;
	case NDX_NEGCHAIN_WRONG_SENDER:
		status = 403, code = "Client.WrongSender";
		break;
	case NDX_NEGCHAIN_BROKEN:
		status = 409, code = "Client.StaleMessage";
		break;
	case NDX_NEGCHAIN_WRONG_PATH:
		code = "Client.WrongPath";
		break;
	case NDX_NEGCHAIN_TRANSITION:
		code = "Client.InvalidTransition";
		break;
	default:
		break;
	}
	dsp_error(c, status, NEG_ERROR, code, NULL, "the chain is refused: %s", ch->why);
}

/* The ContractNegotiation answer of a recorded agreement. */
static void record_answer(struct mcall *c, int status, const json_t *row, uint64_t version)
{
	json_t *ans = negotiation_json(row);

	if (ans) {
		json_object_set(ans, "ndx:agreementId", json_object_get(row, "agreement_id"));
		if (version)
			json_object_set_new(ans, "ndx:confVersion", json_integer((json_int_t)version));
		json_object_set_new(ans, "ndx:signed", json_true());
	}
	ndx_http_resp_json(c->resp, status, ans);
}

/* Whether the chain recorded for the negotiation is texts exactly. */
static int same_chain(struct mcall *c, const char *ppid, const json_t *texts, bool *same)
{
	json_t *rows = NULL;
	size_t i;
	int rc = mstore_neg_messages(c->st, ppid, &rows);

	*same = false;
	if (rc)
		return rc;
	*same = json_array_size(rows) == json_array_size(texts);
	for (i = 0; *same && i < json_array_size(rows); i++)
		*same = json_equal(json_object_get(json_array_get(rows, i), "jws"),
				   json_array_get(texts, i));
	json_decref(rows);
	return NDX_OK;
}

/* POST /dsp/agreements: the chain of a negotiation the two members'
 * connectors held without the registry, handed in once FINALIZED; the
 * registry checks it against its own record of the parties' gateway keys
 * and the catalogue, and records the negotiation, its messages, the
 * agreement and its grant in one change. No credential: the two parties'
 * signatures are the authentication. */
static void agreement_record(struct mcall *c)
{
	static const char *const keys[] = { "@context", "ndx:messages", NULL };
	struct record_keys rk = { .st = c->st };
	struct ndx_negchain ch = { 0 };
	json_t *body = NULL, *texts, *row = NULL, *offer_row = NULL, *ds_row = NULL, *canon = NULL,
	       *terms = NULL, *detail = NULL, *v;
	const json_t *offer, *ag;
	const char *offer_id, *provider, *event, *ts, *assigner, *assignee, *callback, *stray;
	char client[NDX_ID_TEXT_MAX], err[256];
	char *pt = NULL, *at = NULL;
	struct ndx_policy p, offered;
	struct mstore_neg n;
	uint64_t version = 0;
	unsigned classes;
	size_t i;
	time_t t;
	bool same;
	int rc;

	if (c->req->body_len > RECORD_BODY_MAX) {
		dsp_error(c, 413, NEG_ERROR, "Client.TooLarge", NULL,
			  "the body is at most %u bytes", RECORD_BODY_MAX);
		return;
	}
	if (!(body = body_object(c, NEG_ERROR)))
		return;
	texts = json_object_get(body, "ndx:messages");
	stray = stray_key(body, keys);
	if (stray || !json_is_array(texts) || json_array_size(texts) == 0 ||
	    json_array_size(texts) > RECORD_MESSAGES_MAX) {
		if (stray)
			dsp_error(c, 400, NEG_ERROR, "Client.InvalidRequest", NULL,
				  "%s: the body has ndx:messages only", stray);
		else
			dsp_error(c, 400, NEG_ERROR, "Client.InvalidRequest", NULL,
				  "ndx:messages: expected the negotiation's signed messages (1 to %d "
				  "JWS texts), the consumer's initial request first",
				  RECORD_MESSAGES_MAX);
		goto out;
	}
	json_array_foreach(texts, i, v)
		if (!json_is_string(v)) {
			dsp_error(c, 400, NEG_ERROR, "Client.InvalidRequest", NULL,
				  "ndx:messages[%zu]: expected a JWS text", i);
			goto out;
		}
	if (store_begin(c->st)) {
		internal(c);
		goto out;
	}
	/* The chain, with the keys the parties' gateways have now. */
	rc = ndx_negchain_check(texts, record_key, &rk, &ch);
	if (rc == NDX_EINVAL) {
		store_rollback(c->st);
		chain_refused(c, &ch);
		goto out;
	}
	if (rc)
		goto fail;
	if (ch.state != NDX_NEG_FINALIZED) {
		store_rollback(c->st);
		dsp_error(c, 400, NEG_ERROR, "Client.InvalidTransition", NULL,
			  "the chain ends in state %s: only a FINALIZED negotiation's agreement "
			  "is recorded", ndx_neg_state_name(ch.state));
		goto out;
	}
	if (!ch.ppid[0] || strpbrk(ch.ppid, "/?#% ") || strpbrk(ch.cpid, "/?#% ")) {
		store_rollback(c->st);
		dsp_error(c, 400, NEG_ERROR, "Client.InvalidRequest", NULL,
			  "providerPid and consumerPid: expected IRIs without / ? # %% or spaces");
		goto out;
	}
	/* The same chain again is answered as recorded; another under its providerPid is not. */
	rc = mstore_neg_get(c->st, ch.ppid, 0, &row);
	if (!rc) {
		if ((rc = same_chain(c, ch.ppid, texts, &same)))
			goto fail;
		store_rollback(c->st);
		if (same)
			record_answer(c, 200, row, 0);
		else
			dsp_error(c, 409, NEG_ERROR, "Client.Conflict", row,
				  "providerPid %s names another negotiation already", ch.ppid);
		goto out;
	}
	if (rc != NDX_ENOTFOUND)
		goto fail;
	/* The offer the consumer asked for, published by the provider, open to its class. */
	offer = json_object_get(ch.request, "offer");
	offer_id = json_string_value(json_object_get(offer, "@id"));
	rc = offer_id ? mstore_offer_get(c->st, offer_id, &offer_row) : NDX_ENOTFOUND;
	if (!rc)
		rc = mstore_dataset_get(c->st,
					json_string_value(json_object_get(offer_row, "dataset")),
					&ds_row);
	if (rc == NDX_ENOTFOUND) {
		store_rollback(c->st);
		dsp_error(c, 404, NEG_ERROR, "Client.NotFound", NULL,
			  "offer.@id: %s is not an offer of the catalogue (unknown or withdrawn)",
			  offer_id ? offer_id : "(none)");
		goto out;
	}
	if (rc)
		goto fail;
	provider = json_string_value(json_object_get(ds_row, "provider"));
	if (strcmp(provider, ch.provider) != 0) {
		store_rollback(c->st);
		dsp_error(c, 403, NEG_ERROR, "Client.WrongSender", NULL,
			  "the provider's messages are %s's, but %s publishes the offer %s",
			  ch.provider, provider, offer_id);
		goto out;
	}
	classes = (unsigned)json_integer_value(json_object_get(offer_row, "classes"));
	if (!(classes & member_class(ch.consumer))) {
		store_rollback(c->st);
		dsp_error(c, 403, NEG_ERROR, "Client.Forbidden", NULL,
			  "the offer %s is not open to the consumer %s's member class", offer_id,
			  ch.consumer);
		goto out;
	}
	if (request_client(c, ch.request, ch.consumer, client)) {
		store_rollback(c->st);
		goto out;
	}
	event = json_string_value(json_object_get(ds_row, "event"));
	if (event && !*event)
		event = NULL;
	if (event && strcmp(client, ch.consumer) == 0) {
		store_rollback(c->st);
		dsp_error(c, 400, NEG_ERROR, "Client.InvalidRequest", NULL,
			  "ndx:client: an event type's agreement is a subscription, which a "
			  "subsystem of %s holds; name it", ch.consumer);
		goto out;
	}
	/* The agreement as the relay's ContractAgreementMessage takes it. */
	ag = ch.agreement;
	if ((rc = message_policy(c, NULL, ag, "agreement",
				 json_string_value(json_object_get(ds_row, "id")), &p, &canon))) {
		store_rollback(c->st);
		if (rc != NDX_EINVAL)
			internal(c);
		goto out;
	}
	ts = json_string_value(json_object_get(ag, "timestamp"));
	assigner = json_string_value(json_object_get(ag, "assigner"));
	assignee = json_string_value(json_object_get(ag, "assignee"));
	if (!ts || ndx_time_parse(ts, &t) || !assigner || !assignee ||
	    strcmp(assigner, ch.provider) != 0 || strcmp(assignee, ch.consumer) != 0) {
		store_rollback(c->st);
		dsp_error(c, 400, NEG_ERROR, "Client.InvalidRequest", NULL,
			  "agreement: expected a timestamp (RFC 3339), the provider's member id as "
			  "assigner and the consumer's as assignee");
		goto out;
	}
	/* Nobody offered other terms: the agreement is on the catalogue's offer. */
	if (!ch.offer &&
	    (ndx_policy_from_odrl(json_object_get(offer_row, "policy"), &offered, err, sizeof err) ||
	     !ndx_policy_equal(&p, &offered))) {
		store_rollback(c->st);
		dsp_error(c, 400, NEG_ERROR, "Client.InvalidRequest", NULL,
			  "agreement: its terms are not the offer's %s, and nobody offered others",
			  offer_id);
		goto out;
	}
	if (event) {
		json_t *svc = NULL;
		const char *why = NULL;
		if (!(rc = store_service_get(c->st,
					     json_string_value(json_object_get(ds_row, "service")),
					     &svc)))
			why = event_policy_why(&p, svc);
		json_decref(svc);
		if (rc)
			goto fail;
		if (why) {
			store_rollback(c->st);
			dsp_error(c, 400, NEG_ERROR, "Client.InvalidRequest", NULL, "agreement: %s",
				  why);
			goto out;
		}
	}
	json_object_set_new(canon, "timestamp", json_string(ts));
	json_object_set_new(canon, "assigner", json_string(assigner));
	json_object_set_new(canon, "assignee", json_string(assignee));
	/* The latest terms offered: the agreement's, which are the same. */
	terms = ndx_policy_to_odrl(&p);
	if (terms) {
		json_object_set_new(terms, "@id", json_string(offer_id));
		json_object_set_new(terms, "@type", json_string("Offer"));
		json_object_set(terms, "target", json_object_get(ds_row, "id"));
	}
	pt = terms ? json_dumps(terms, JSON_COMPACT) : NULL;
	at = json_dumps(canon, JSON_COMPACT);
	if (!pt || !at) {
		rc = NDX_ENOMEM;
		goto fail;
	}
	callback = json_string_value(json_object_get(ch.request, "callbackAddress"));
	n = (struct mstore_neg){
		.provider_pid = ch.ppid, .consumer_pid = ch.cpid, .consumer = ch.consumer,
		.client = client, .provider = ch.provider,
		.dataset = json_string_value(json_object_get(ds_row, "id")),
		.service = json_string_value(json_object_get(ds_row, "service")),
		.offer_id = offer_id, .event = event, .policy = pt,
		.offered_by = ch.offer && ch.offered_by == NDX_NEG_PROVIDER ? "provider" : "consumer",
		.state = ndx_neg_state_name(NDX_NEG_FINALIZED),
		.callback = callback && strlen(callback) <= CALLBACK_MAX ? callback : "",
		.agreement_id = json_string_value(json_object_get(canon, "@id")), .agreement = at,
		.agreement_state = "active",
		.not_after = p.validity_days ? (int64_t)time(NULL) + p.validity_days * 86400 : 0,
	};
	rc = mstore_neg_add(c->st, &n);
	if (!rc)
		rc = mstore_neg_update(c->st, &n);
	json_array_foreach(texts, i, v)
		if (!rc)
			rc = mstore_neg_message_add(
				c->st, ch.ppid, (int64_t)i + 1,
				json_string_value(json_object_get(json_array_get(ch.steps, i),
								  "sender")),
				json_string_value(json_object_get(json_array_get(ch.steps, i), "hash")),
				json_string_value(v));
	detail = json_pack("{ss ss ss ss ss ss ss ss ss}", "consumerPid", ch.cpid, "consumer",
			   ch.consumer, "client", client, "provider", ch.provider, "offer", offer_id,
			   "service", n.service, "agreement", n.agreement_id, "to", n.state,
			   "message", ch.last_hash);
	/* The agreement's grant enters the configuration: a new version. */
	if (!rc)
		rc = store_commit(c->st, ch.provider, c->req->remote_addr, "agreement.record",
				  ch.ppid, detail, &version);
	else
		store_rollback(c->st);
	json_decref(row);
	row = NULL;
	if (rc == NDX_EEXIST) {
		/* The same chain recorded at once through another node is recorded. */
		store_lock(c->st);
		rc = mstore_neg_get(c->st, ch.ppid, 0, &row);
		if (!rc)
			rc = same_chain(c, ch.ppid, texts, &same);
		store_unlock(c->st);
		if (!rc && same)
			record_answer(c, 200, row, 0);
		else if (!rc || rc == NDX_ENOTFOUND)
			dsp_error(c, 409, NEG_ERROR, "Client.Conflict", NULL,
				  "providerPid %s, consumerPid %s or agreement %s is another "
				  "negotiation's already", ch.ppid, ch.cpid, n.agreement_id);
		else
			internal(c);
		goto out;
	}
	if (rc || mstore_neg_get(c->st, ch.ppid, 0, &row)) {
		internal(c);
		goto out;
	}
	record_answer(c, 201, row, version);
	goto out;
fail:
	store_rollback(c->st);
	internal(c);
out:
	free(pt);
	free(at);
	ndx_key_free(rk.key);
	ndx_negchain_clear(&ch);
	json_decref(detail);
	json_decref(terms);
	json_decref(canon);
	json_decref(ds_row);
	json_decref(offer_row);
	json_decref(row);
	json_decref(body);
}

/* GET /dsp/negotiations/{providerPid}/messages: the chain of a signed
 * negotiation, the JWS texts in the order accepted (empty for a plain
 * one); either party, 404 to anyone else as for the negotiation. */
static void negotiation_messages_get(struct mcall *c, const char *pid)
{
	const char *member = participant(c);
	json_t *neg = NULL, *rows = NULL, *list, *row, *ans = NULL;
	size_t i;
	int rc;

	if (!member)
		return;
	store_lock(c->st);
	rc = mstore_neg_get(c->st, pid, 0, &neg);
	if (!rc)
		rc = mstore_neg_messages(c->st, pid, &rows);
	store_unlock(c->st);
	if (rc == NDX_ENOTFOUND ||
	    (!rc && strcmp(json_string_value(json_object_get(neg, "consumer")), member) != 0 &&
	     strcmp(json_string_value(json_object_get(neg, "provider")), member) != 0)) {
		dsp_error(c, 404, NEG_ERROR, "Client.NotFound", NULL, "no negotiation %s of yours",
			  pid);
		goto out;
	}
	list = rc ? NULL : json_array();
	json_array_foreach(rows, i, row)
		json_array_append(list, json_object_get(row, "jws"));
	if (list)
		ans = json_pack("{s[s] ss sO sO sb so}", "@context", DSP_CONTEXT, "@type",
				"ndx:NegotiationMessages", "providerPid",
				json_object_get(neg, "provider_pid"), "consumerPid",
				json_object_get(neg, "consumer_pid"), "ndx:signed",
				json_array_size(list) > 0, "messages", list);
	if (ans)
		ndx_http_resp_json(c->resp, 200, ans);
	else
		internal(c);
out:
	json_decref(rows);
	json_decref(neg);
}

/* GET /market/negotiations: the caller's negotiations (an admin's: all),
 * with their latest offer and agreement, newest first. */
static void negotiations_list(struct mcall *c)
{
	json_t *rows = NULL, *out, *row;
	size_t i;
	int rc;

	if (!c->who->name) {
		may_act_for(c, NULL);
		return;
	}
	store_lock(c->st);
	rc = mstore_neg_list(c->st, c->who->member, &rows);
	store_unlock(c->st);
	out = rc ? NULL : json_array();
	json_array_foreach(rows, i, row)
		json_array_append_new(out, negotiation_listed(row));
	json_decref(rows);
	if (!out)
		internal(c);
	else
		ndx_http_resp_json(c->resp, 200, json_pack("{so}", "negotiations", out));
}

/* POST /market/agreements/{id}/termination: either party (or an admin)
 * ends an agreement in force; its grant leaves the next configuration. */
static void agreement_terminate(struct mcall *c, const char *id)
{
	json_t *row = NULL, *detail = NULL;
	const char *state;
	uint64_t version;
	int rc;

	if (!c->who->name) {
		may_act_for(c, NULL);
		return;
	}
	if (store_begin(c->st)) {
		internal(c);
		return;
	}
	rc = mstore_agreement_get(c->st, id, &row);
	if (rc == NDX_ENOTFOUND ||
	    (!rc && c->who->member &&
	     strcmp(json_string_value(json_object_get(row, "consumer")), c->who->member) != 0 &&
	     strcmp(json_string_value(json_object_get(row, "provider")), c->who->member) != 0)) {
		store_rollback(c->st);
		ndx_http_resp_error(c->resp, 404, "Client.NotFound", "not found",
				    "no agreement of yours with this id");
		goto out;
	}
	state = rc ? NULL : json_string_value(json_object_get(row, "agreement_state"));
	if (!rc && (!state || strcmp(state, "active") != 0)) {
		store_rollback(c->st);
		ndx_http_resp_error(c->resp, 409, "Client.Conflict", "not in force",
				    state ? "the agreement has already ended"
					  : "the negotiation has not finalised the agreement");
		goto out;
	}
	detail = rc ? NULL : json_pack("{sOsOsOsO}", "providerPid", json_object_get(row, "provider_pid"),
				       "client", json_object_get(row, "client"), "service",
				       json_object_get(row, "service"), "consumer",
				       json_object_get(row, "consumer"));
	if (rc || (rc = mstore_agreement_set_state(c->st, id, "terminated"))) {
		store_rollback(c->st);
		internal(c);
		goto out;
	}
	if (store_commit(c->st, actor(c), c->req->remote_addr, "agreement.terminate", id, detail,
			 &version)) {
		internal(c);
		goto out;
	}
	ndx_http_resp_json(c->resp, 200, json_pack("{sssssI}", "agreement", id, "agreement_state",
						   "terminated", "conf_version",
						   (json_int_t)version));
out:
	json_decref(detail);
	json_decref(row);
}

int market_expire(struct store *st, time_t now)
{
	json_t *due = NULL, *ids = NULL, *row, *detail;
	size_t i;
	int rc;

	store_lock(st);
	rc = mstore_agreements_due(st, (int64_t)now, &due);
	store_unlock(st);
	if (rc || json_array_size(due) == 0) {
		json_decref(due);
		return rc;
	}
	json_decref(due);
	due = NULL;
	/* Again inside the change: another node may have expired them. */
	if ((rc = store_begin(st)))
		return rc;
	if ((rc = mstore_agreements_due(st, (int64_t)now, &due)) || json_array_size(due) == 0) {
		store_rollback(st);
		json_decref(due);
		return rc;
	}
	ids = json_array();
	json_array_foreach(due, i, row) {
		const char *id = json_string_value(json_object_get(row, "agreement_id"));
		if (!rc)
			rc = mstore_agreement_set_state(st, id, "expired");
		json_array_append(ids, json_object_get(row, "agreement_id"));
	}
	detail = json_pack("{sO}", "agreements", ids);
	if (rc || !detail)
		store_rollback(st);
	else
		rc = store_commit(st, "registry", "", "agreement.expire",
				  json_string_value(json_array_get(ids, 0)), detail, NULL);
	json_decref(detail);
	json_decref(ids);
	json_decref(due);
	return rc ? rc : (detail ? NDX_OK : NDX_ENOMEM);
}

int market_conf_grants(struct store *st, json_t **out, json_t **subs)
{
	static const char *const names[] = NDX_METHOD_NAMES;
	json_t *rows = NULL, *grants, *row, *sublist;
	struct ndx_policy p;
	char err[256], when[NDX_TIME_TEXT_LEN];
	size_t i;
	int rc = mstore_agreements_active(st, &rows);

	*out = *subs = NULL;
	if (rc)
		return rc;
	grants = json_array();
	sublist = json_array();
	json_array_foreach(rows, i, row) {
		json_t *methods = json_array(), *g;
		json_int_t na = json_integer_value(json_object_get(row, "not_after"));
		const char *event = json_string_value(json_object_get(row, "event"));
		if (ndx_policy_from_odrl(json_object_get(row, "agreement"), &p, err, sizeof err)) {
			fprintf(stderr, "ndx-registry: agreement %s: %s\n",
				json_string_value(json_object_get(row, "agreement_id")), err);
			json_decref(methods);
			rc = NDX_EDB;
			break;
		}
		if (event && *event) {
			/* An event type's agreement: a subscription, its purpose the
			 * terms' one (checked when offered and agreed). */
			json_decref(methods);
			g = json_pack("{sO sO ss ss*}", "client", json_object_get(row, "client"),
				      "service", json_object_get(row, "service"), "event", event,
				      "purpose", p.npurposes ? p.purposes[0] : NULL);
			if (!sublist || !g || json_array_append_new(sublist, g)) {
				rc = NDX_ENOMEM;
				break;
			}
			continue;
		}
		for (size_t m = 0; methods && m < 7; m++)
			if (p.methods & (1u << m))
				json_array_append_new(methods, json_string(names[m]));
		if (na)
			ndx_time_format((time_t)na, when);
		g = json_pack("{sO sO so s[s] sO sO ss*}", "client", json_object_get(row, "client"), "service",
			      json_object_get(row, "service"), "methods", methods, "paths", "*",
			      "agreement", json_object_get(row, "agreement_id"), "policy",
			      json_object_get(row, "agreement"), "not_after",
			      na ? when : NULL);
		if (!grants || !g || json_array_append_new(grants, g)) {
			rc = NDX_ENOMEM;
			break;
		}
	}
	json_decref(rows);
	if (rc || !grants || !sublist) {
		json_decref(grants);
		json_decref(sublist);
		return rc ? rc : NDX_ENOMEM;
	}
	*out = grants;
	*subs = sublist;
	return NDX_OK;
}

/* ---- routing ------------------------------------------------------------------------- */

bool market_path(const char *p)
{
	return strncmp(p, "/dsp/", 5) == 0 || strcmp(p, "/dsp") == 0 ||
	       strncmp(p, "/market/", 8) == 0 || strcmp(p, "/.well-known/dspace-version") == 0;
}

static bool is_post(const struct mcall *c)
{
	return strcmp(c->req->method, "POST") == 0;
}

static bool is_get(const struct mcall *c)
{
	return strcmp(c->req->method, "GET") == 0 || strcmp(c->req->method, "HEAD") == 0;
}

static void method_not_allowed(struct mcall *c, const char *allow)
{
	ndx_http_resp_error(c->resp, 405, "Client.MethodNotAllowed", "method not allowed", allow);
	ndx_http_resp_header(c->resp, "Allow", allow);
}

/* rest = "{pid}" or "{pid}/{suffix}": splits it into pid (cap bytes) and
 * *suffix ("" when none). false when the pid is empty or too long. */
static bool split_pid(const char *rest, char *pid, size_t cap, const char **suffix)
{
	const char *slash = strchr(rest, '/');
	size_t n = slash ? (size_t)(slash - rest) : strlen(rest);

	if (n == 0 || n >= cap)
		return false;
	memcpy(pid, rest, n);
	pid[n] = '\0';
	*suffix = slash ? slash + 1 : "";
	return true;
}

/* The negotiation endpoints under /dsp/negotiations/ (consumer 0) and
 * /dsp/consumer/negotiations/ (consumer 1). */
static bool route_negotiation(struct mcall *c, const char *rest, int consumer)
{
	char pid[PID_MAX + 1];
	const char *suffix;
	const struct neg_msg *m = NULL;

	if (!consumer && strcmp(rest, "request") == 0) {
		if (is_post(c))
			negotiation_init(c);
		else
			method_not_allowed(c, "POST");
		return true;
	}
	if (!split_pid(rest, pid, sizeof pid, &suffix))
		return false;
	if (!*suffix) {
		if (is_get(c))
			negotiation_get(c, pid, consumer);
		else
			method_not_allowed(c, "GET, HEAD");
		return true;
	}
	if (!consumer && strcmp(suffix, "messages") == 0) {
		if (is_get(c))
			negotiation_messages_get(c, pid);
		else
			method_not_allowed(c, "GET, HEAD");
		return true;
	}
	/* the provider's paths take the consumer's messages and the other way */
	enum ndx_neg_role sender = consumer ? NDX_NEG_PROVIDER : NDX_NEG_CONSUMER;
	enum ndx_neg_msg msg;

	if (ndx_negmsg_suffix(sender, suffix, &msg) != NDX_OK)
		return false;
	for (size_t i = 0; i < sizeof NEG_MSGS / sizeof NEG_MSGS[0] && !m; i++)
		if (NEG_MSGS[i]->msg == msg && NEG_MSGS[i]->role == sender)
			m = NEG_MSGS[i];
	if (!m)
		return false;
	if (is_post(c))
		negotiation_message(c, pid, m);
	else
		method_not_allowed(c, "POST");
	return true;
}

static bool route_market(struct mcall *c, const char *rest)
{
	char id[PID_MAX + 1];
	const char *suffix;

	if (strcmp(rest, "datasets") == 0) {
		if (is_post(c))
			datasets_publish(c);
		else
			method_not_allowed(c, "POST");
		return true;
	}
	if (strncmp(rest, "datasets/", 9) == 0 && split_pid(rest + 9, id, sizeof id, &suffix) &&
	    !*suffix) {
		if (strcmp(c->req->method, "DELETE") == 0)
			datasets_withdraw(c, id);
		else
			method_not_allowed(c, "DELETE");
		return true;
	}
	if (strcmp(rest, "negotiations") == 0) {
		if (is_get(c))
			negotiations_list(c);
		else
			method_not_allowed(c, "GET, HEAD");
		return true;
	}
	if (strncmp(rest, "agreements/", 11) == 0 && split_pid(rest + 11, id, sizeof id, &suffix) &&
	    strcmp(suffix, "termination") == 0) {
		if (is_post(c))
			agreement_terminate(c, id);
		else
			method_not_allowed(c, "POST");
		return true;
	}
	return false;
}

/* What follows prefix in p, or NULL when p does not start with it. Not
 * inlined: GCC's sanitizer build, seeing p compared with the literal,
 * takes p + its length for a zero-size region (stringop-overread). */
__attribute__((noinline)) static const char *after_prefix(const char *p, const char *prefix)
{
	size_t n = strlen(prefix);

	return strncmp(p, prefix, n) == 0 ? p + n : NULL;
}

void market_handle(struct store *st, const struct market_caller *who,
		   const struct ndx_http_req *req, struct ndx_http_resp *resp)
{
	struct mcall c = { .st = st, .who = who, .req = req, .resp = resp };
	const char *p = req->path, *rest;
	bool done = false;

	if (strcmp(p, "/.well-known/dspace-version") == 0) {
		/* DSP 2025-1 "Exposure of Versions". */
		if (is_get(&c))
			ndx_http_resp_json(resp, 200, json_pack("{s[{ss ss+ ss}]}", "protocolVersions",
								"version", "2025-1", "path",
								store_registry_url(st), "/dsp",
								"binding", "HTTPS"));
		else
			method_not_allowed(&c, "GET, HEAD");
		return;
	}
	if (strcmp(p, "/dsp/catalog/request") == 0) {
		if (is_post(&c))
			catalog_request(&c);
		else
			method_not_allowed(&c, "POST");
		return;
	}
	if ((rest = after_prefix(p, "/dsp/catalog/datasets/")) && *rest && !strchr(rest, '/')) {
		if (is_get(&c))
			catalog_dataset(&c, rest);
		else
			method_not_allowed(&c, "GET, HEAD");
		return;
	}
	if (strcmp(p, "/dsp/agreements") == 0) {
		if (is_post(&c))
			agreement_record(&c);
		else
			method_not_allowed(&c, "POST");
		return;
	}
	if (strncmp(p, "/dsp/negotiations/", 18) == 0)
		done = route_negotiation(&c, p + 18, 0);
	else if (strncmp(p, "/dsp/consumer/negotiations/", 27) == 0)
		done = route_negotiation(&c, p + 27, 1);
	else if (strncmp(p, "/market/", 8) == 0)
		done = route_market(&c, p + 8);
	if (!done)
		ndx_http_resp_error(resp, 404, "Client.NotFound", "no such path", p);
}
