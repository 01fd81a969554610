/* The marketplace's pages' API (market.h, docs/portal.md "The
 * marketplace"). The portal is a client of the registry's marketplace
 * endpoints (docs/registry-api.md "The marketplace"), like any member's
 * connector: the catalogue anonymously or with the acting member's
 * credential, the negotiation messages each with the credential of the
 * party that sends it. Who may act for which member is decided here, from
 * the session alone: an officer for the agency it was added with, an
 * e-ID official of role "agency" for its member (docs/portal.md
 * "Officials"); nothing a browser sends names the member. */
#include "market.h"

#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "auth.h"
#include "exchange.h"
#include "pay_qr.h"
#include "ndx/conf.h"
#include "ndx/encode.h"
#include "ndx/err.h"
#include "ndx/evclient.h"
#include "ndx/fetch.h"
#include "ndx/file.h"
#include "ndx/id.h"
#include "ndx/policy.h"
#include "ndx/text.h"
#include "ndx/timefmt.h"
#include "ndx/usage.h"
#include "ndx/vietqr.h"

#define DSP_CONTEXT "https://w3id.org/dspace/2025/1/context.jsonld"
#define TOKEN_MAX 4096
#define URL_MAX 2048
#define Q_MAX 200
#define ID_MAX 64
#define REASON_MAX 500
/* The registry's own limits on a dataset's description (reg_market.c). */
#define TITLE_MAX 256
#define DESCRIPTION_MAX 4096
#define LICENSE_MAX 512
#define SAMPLE_MAX 16384
#define OFFERS_MAX 8
#define THEME_IRI "http://publications.europa.eu/resource/authority/data-theme/"

/* The member a session acts for, and how it is bound to it. */
struct party {
	char member[NDX_ID_TEXT_MAX];
	const char *via; /* "officer" or "official" */
};

/* A new "urn:uuid:" of a random (version 4) UUID into out (libndx's
 * events client makes the UUID); -1 without random numbers. */
static int new_urn(char out[48])
{
	char uuid[37];

	if (ndx_evclient_uuid(uuid) != NDX_OK)
		return -1;
	snprintf(out, 48, "urn:uuid:%s", uuid);
	return 0;
}

/* ---- who acts ------------------------------------------------------------------ */

/* 1 and *out filled when s may act for a member, else 0. */
static int party_of(const struct portal *p, const struct psession *s, struct party *out)
{
	struct pofficial o;
	const char *member = NULL;
	struct ndx_id id;

	memset(out, 0, sizeof *out);
	if (strcmp(s->kind, "officer") == 0 && s->agency[0]) {
		member = s->agency;
		out->via = "officer";
	} else if (strcmp(s->kind, "citizen") == 0 && s->subject[0] &&
		   pstore_official_get(p->st, s->subject, &o) == NDX_OK &&
		   strcmp(o.role, "agency") == 0) {
		snprintf(out->member, sizeof out->member, "%s", o.member);
		member = out->member;
		out->via = "official";
	}
	if (!member || ndx_id_parse(member, strlen(member), NDX_ID_MEMBER, &id, NULL) != NDX_OK)
		return 0;
	if (member != out->member)
		snprintf(out->member, sizeof out->member, "%s", member);
	return 1;
}

json_t *market_party_json(const struct portal *p, const struct psession *s)
{
	struct party w;

	if (!p->cfg->market_registry_url || !party_of(p, s, &w))
		return NULL;
	return json_pack("{ssss}", "member", w.member, "via", w.via);
}

/* ---- the registry ------------------------------------------------------------------- */

/* The member's marketplace credential from
 * {credentials_dir}/{member with '/' as '_'}.token ('_' is in no id, so
 * no two members share a file), trimmed, into a new string; NULL when the
 * portal holds none. */
static char *credential_read(const struct portal *p, const char *member)
{
	char path[4096], name[NDX_ID_TEXT_MAX];
	char *text = NULL;
	size_t len = 0;

	snprintf(name, sizeof name, "%s", member);
	for (char *c = name; *c; c++)
		if (*c == '/')
			*c = '_';
	if (snprintf(path, sizeof path, "%s/%s.token", p->cfg->market_credentials_dir, name) >=
		    (int)sizeof path ||
	    ndx_file_read(path, TOKEN_MAX, &text, &len) != NDX_OK)
		return NULL;
	while (len && strchr("\r\n \t", text[len - 1]))
		text[--len] = '\0';
	if (len == 0 || strlen(text) != len || strpbrk(text, "\r\n")) {
		OPENSSL_cleanse(text, len);
		free(text);
		return NULL;
	}
	return text;
}

/* One registry answer. */
struct rres {
	long status;
	char type[128]; /* X-Road-Error */
	json_t *json;
};

static void rres_clear(struct rres *r)
{
	json_decref(r->json);
	memset(r, 0, sizeof *r);
}

/* method path (under registry_url) as member (NULL: anonymously), body
 * (may be NULL). -1 with e set (403 not_enrolled, 502 registry) when the
 * call could not be made or answered nothing readable; the registry's own
 * refusals come back in *out for the caller to judge. */
static int registry_call(const struct portal *p, const char *method, const char *path,
			 const char *member, const json_t *body, struct rres *out, struct perr *e)
{
	char url[URL_MAX], auth[TOKEN_MAX + 32] = "";
	const char *headers[4] = { "Accept: application/json", NULL, NULL, NULL };
	struct ndx_fetch_resp fr = { 0 };
	char *text = NULL, *token = NULL;
	size_t h = 1;
	int rc;

	memset(out, 0, sizeof *out);
	if (snprintf(url, sizeof url, "%s%s", p->cfg->market_registry_url, path) >= (int)sizeof url)
		return perr_set(e, 400, "invalid", "the request is too long");
	if (member) {
		if (!(token = credential_read(p, member)))
			return perr_set(e, 403, "not_enrolled",
					"the portal holds no marketplace credential of %s", member);
		snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
		OPENSSL_cleanse(token, strlen(token));
		free(token);
		headers[h++] = auth;
	}
	if (body) {
		headers[h++] = "Content-Type: application/json";
		if (!(text = json_dumps(body, JSON_COMPACT))) {
			OPENSSL_cleanse(auth, sizeof auth);
			return perr_set(e, 500, "internal", "out of memory");
		}
	}
	struct ndx_fetch_req r = { .method = method, .url = url, .headers = headers,
				   .body = text, .body_len = text ? strlen(text) : 0,
				   .timeout_ms = 10000 };
	rc = ndx_fetch(&r, &fr);
	OPENSSL_cleanse(auth, sizeof auth);
	free(text);
	if (rc != NDX_OK) {
		ndx_fetch_resp_free(&fr);
		fprintf(stderr, "ndx-portal: market: %s %s: %s\n", method, path, ndx_strerror(rc));
		return perr_set(e, 502, "registry", "the registry cannot be reached");
	}
	out->status = fr.status;
	snprintf(out->type, sizeof out->type, "%s", fr.xroad_error);
	if (fr.body && strncmp(fr.content_type, "application/json", 16) == 0)
		out->json = json_loadb(fr.body, fr.len, 0, NULL);
	ndx_fetch_resp_free(&fr);
	if (!out->json) {
		fprintf(stderr, "ndx-portal: market: %s %s: HTTP %ld without JSON\n", method, path,
			out->status);
		return perr_set(e, 502, "registry", "the registry answered something else");
	}
	return 0;
}

/* A registry answer that is not what was wanted, as the portal's error:
 * an invalid transition (the negotiation moved meanwhile) 409, anything
 * else 502 with the registry's type on stderr. Returns -1. */
static int registry_refused(const char *what, const struct rres *r, struct perr *e)
{
	const json_t *reason = json_object_get(r->json, "reason");
	const char *text = json_is_array(reason) ? json_string_value(json_array_get(reason, 0))
						 : json_string_value(json_object_get(r->json,
										     "detail"));

	fprintf(stderr, "ndx-portal: market: %s refused: HTTP %ld %s: %s\n", what, r->status,
		r->type, text ? text : "");
	if (strcmp(r->type, "Client.InvalidTransition") == 0)
		return perr_set(e, 409, "conflict", "the negotiation has moved on meanwhile");
	return perr_set(e, 502, "registry", "the registry refused %s (%s)", what,
			r->type[0] ? r->type : "no type");
}

/* ---- policies in plain terms -------------------------------------------------------- */

/* The terms of an ODRL policy as the web UI says them in words: purposes,
 * classes, validity, maximum calls and their period, price and its unit,
 * methods, onward transfer. NULL when it is outside the subset (it came
 * from the registry, which reads it with the same parser). */
static json_t *terms_of(const json_t *odrl)
{
	static const char *const methods[] = NDX_METHOD_NAMES;
	static const char *const periods[] = { NULL, "hour", "day", "month" };
	static const char *const units[] = { NULL, "call", "month" };
	struct ndx_policy pol;
	char err[256];
	json_t *t, *purposes = json_array(), *classes = json_array(), *ms = json_array();

	if (!purposes || !classes || !ms || ndx_policy_from_odrl(odrl, &pol, err, sizeof err)) {
		json_decref(purposes);
		json_decref(classes);
		json_decref(ms);
		return NULL;
	}
	for (size_t i = 0; i < pol.npurposes; i++)
		json_array_append_new(purposes, json_string(pol.purposes[i]));
	for (unsigned c = 1; c <= NDX_CLASS_RESEARCH; c <<= 1)
		if (pol.classes & c)
			json_array_append_new(classes, json_string(ndx_policy_class_name(c)));
	for (size_t m = 0; m < 7; m++)
		if (pol.methods & (1u << m))
			json_array_append_new(ms, json_string(methods[m]));
	t = json_pack("{so so so ss* sb sI ss*}", "purposes", purposes, "classes", classes, "methods",
		      ms, "period", periods[pol.period], "no_onward_transfer",
		      pol.no_onward_transfer, "price_vnd", (json_int_t)pol.price, "price_unit",
		      units[pol.price_unit]);
	if (t) {
		/* Absent terms are said as null, so the pages need no guess. */
		if (!periods[pol.period])
			json_object_set_new(t, "period", json_null());
		if (!units[pol.price_unit])
			json_object_set_new(t, "price_unit", json_null());
		json_object_set_new(t, "validity_days", pol.validity_days
								? json_integer(pol.validity_days)
								: json_null());
		json_object_set_new(t, "max_calls", pol.max_calls ? json_integer(pol.max_calls)
								  : json_null());
		json_object_set_new(t, "max_age_s", pol.max_age_s ? json_integer(pol.max_age_s)
								  : json_null());
	}
	return t;
}

/* The value of a DCAT language map [{"@language","@value"}] as {"vi","en"}. */
static json_t *langs(const json_t *values)
{
	const json_t *v;
	size_t i;
	json_t *o = json_object();

	json_array_foreach(values, i, v) {
		const char *l = json_string_value(json_object_get(v, "@language"));
		if (o && l && (strcmp(l, "vi") == 0 || strcmp(l, "en") == 0))
			json_object_set(o, l, json_object_get(v, "@value"));
	}
	return o;
}

static const char *frequency_code(const json_t *ds)
{
	const char *iri = json_string_value(
		json_object_get(json_object_get(ds, "dct:accrualPeriodicity"), "@id"));
	const char *slash = iri ? strrchr(iri, '/') : NULL;
	return slash ? slash + 1 : NULL;
}

/* A DCAT-AP Dataset of the catalogue as the pages show it, with each
 * offer's terms; full adds the sample. NULL when out of memory. */
static json_t *dataset_view(const json_t *ds, int full)
{
	const json_t *pub = json_object_get(ds, "dct:publisher"), *o;
	json_t *offers = json_array(), *v;
	size_t i;

	json_array_foreach(json_object_get(ds, "hasPolicy"), i, o) {
		json_t *t = terms_of(o);
		if (offers && t)
			json_array_append_new(offers, json_pack("{sOso}", "id", json_object_get(o, "@id"),
								"terms", t));
		else
			json_decref(t);
	}
	v = json_pack("{sO so so s{sOsO} sO sO ss* sO so}", "id", json_object_get(ds, "@id"),
		      "title", langs(json_object_get(ds, "dct:title")), "description",
		      langs(json_object_get(ds, "dct:description")), "publisher", "id",
		      json_object_get(pub, "@id"), "name", json_object_get(pub, "foaf:name"),
		      "themes", json_object_get(ds, "dcat:theme"), "license",
		      json_object_get(ds, "dct:license"), "frequency", frequency_code(ds), "service",
		      json_object_get(ds, "ndx:service"), "offers", offers);
	if (v && full && json_object_get(ds, "adms:sample"))
		json_object_set(v, "sample", json_object_get(ds, "adms:sample"));
	/* An event type's dataset (docs/marketplace.md "Event types as
	 * datasets"): its agreement is a subscription. */
	if (v)
		json_object_set_new(v, "event",
				    json_string_length(json_object_get(ds, "ndx:eventType"))
					    ? json_copy(json_object_get(ds, "ndx:eventType"))
					    : json_null());
	return v;
}

/* ---- browsing --------------------------------------------------------------------- */

/* The query's q copied into out (cap), "" when absent; -1 when it is
 * badly escaped, too long, or another parameter is given. */
static int query_q(const struct ndx_http_req *req, char *out, size_t cap)
{
	const char *q = req->query ? req->query : "", *dec;

	out[0] = '\0';
	if (!*q)
		return 0;
	if (strncmp(q, "q=", 2) != 0 || strchr(q, '&'))
		return -1;
	if (!(dec = ndx_http_query_arg(req, "q")) || strlen(dec) >= cap)
		return -1;
	snprintf(out, cap, "%s", dec);
	/* Text, not an id: a form's '+' is a space. */
	for (char *c = out; *c; c++)
		if (*c == '+')
			*c = ' ';
	return 0;
}

/* The registry's catalogue seen by member (NULL: anonymous) through the
 * DSP catalogue request, narrowed by filter (NULL for none; taken), as
 * a new array of dataset views in *list. 0, or -1 with e set. */
static int catalogue(const struct portal *p, const char *member, json_t *filter, json_t **list,
		     struct perr *e)
{
	json_t *body;
	const json_t *ds;
	struct rres r;
	size_t i;

	body = json_pack("{s[s]ss}", "@context", DSP_CONTEXT, "@type", "CatalogRequestMessage");
	if (body && filter)
		json_object_set_new(body, "filter", filter);
	else
		json_decref(filter);
	if (!body)
		return perr_set(e, 500, "internal", "out of memory");
	if (registry_call(p, "POST", "/dsp/catalog/request", member, body, &r, e)) {
		json_decref(body);
		return -1;
	}
	json_decref(body);
	if (r.status != 200) {
		registry_refused("the catalogue request", &r, e);
		rres_clear(&r);
		return -1;
	}
	*list = json_array();
	json_array_foreach(json_object_get(r.json, "dataset"), i, ds)
		if (*list)
			json_array_append_new(*list, dataset_view(ds, 0));
	rres_clear(&r);
	return *list ? 0 : perr_set(e, 500, "internal", "out of memory");
}

/* GET /api/market/datasets?q=TEXT: the catalogue the caller may see. */
static int r_datasets(const struct portal *p, const struct ndx_http_req *req,
		      const char *member, json_t **out, struct perr *e)
{
	char q[Q_MAX + 1];
	json_t *list;

	if (query_q(req, q, sizeof q))
		return perr_set(e, 400, "invalid", "q: at most %d bytes, and no other parameter",
				Q_MAX);
	if (catalogue(p, member, q[0] ? json_pack("[{ss}]", "ndx:q", q) : NULL, &list, e))
		return -1;
	*out = json_pack("{sossso}", "datasets", list, "q", q, "as",
			 member ? json_string(member) : json_null());
	return *out ? 0 : perr_set(e, 500, "internal", "out of memory");
}

static int valid_id(const char *s)
{
	size_t n = strlen(s);
	return n > 0 && n <= ID_MAX &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:-.") == n;
}

/* GET /api/market/datasets/{id}: one dataset with the offers the caller
 * may see; 404 when it sees none (as for a dataset that does not exist). */
static int r_dataset(const struct portal *p, const char *id, const char *member, json_t **out,
		     struct perr *e)
{
	char path[128];
	struct rres r;

	if (!valid_id(id))
		return perr_set(e, 404, "not_found", "no such dataset");
	snprintf(path, sizeof path, "/dsp/catalog/datasets/%s", id);
	if (registry_call(p, "GET", path, member, NULL, &r, e))
		return -1;
	if (r.status == 404) {
		rres_clear(&r);
		return perr_set(e, 404, "not_found", "no such dataset");
	}
	if (r.status != 200) {
		registry_refused("the dataset request", &r, e);
		rres_clear(&r);
		return -1;
	}
	*out = dataset_view(r.json, 1);
	rres_clear(&r);
	if (*out)
		json_object_set_new(*out, "as", member ? json_string(member) : json_null());
	return *out ? 0 : perr_set(e, 500, "internal", "out of memory");
}

/* ---- negotiations ---------------------------------------------------------------- */

/* The member's negotiations as the registry lists them (newest first). */
static int negotiations_of(const struct portal *p, const char *member, json_t **out,
			   struct perr *e)
{
	struct rres r;

	*out = NULL;
	if (registry_call(p, "GET", "/market/negotiations", member, NULL, &r, e))
		return -1;
	if (r.status != 200 || !json_is_array(json_object_get(r.json, "negotiations"))) {
		registry_refused("the negotiations' list", &r, e);
		rres_clear(&r);
		return -1;
	}
	*out = json_incref(json_object_get(r.json, "negotiations"));
	rres_clear(&r);
	return 0;
}

/* A negotiation as the pages show it: the side the member is on, the
 * parties, the latest terms and who proposed them, the agreement. */
static json_t *negotiation_view(const json_t *n, const char *member)
{
	const char *provider = json_string_value(json_object_get(n, "provider"));
	json_t *v = json_pack("{sO sO ss sO sO sO sO sO sO sO sO so sO sO sO sO}", "provider_pid",
			      json_object_get(n, "provider_pid"), "consumer_pid",
			      json_object_get(n, "consumer_pid"), "side",
			      provider && strcmp(provider, member) == 0 ? "provider" : "consumer",
			      "provider", json_object_get(n, "provider"), "consumer",
			      json_object_get(n, "consumer"), "client", json_object_get(n, "client"),
			      "dataset", json_object_get(n, "dataset"), "service",
			      json_object_get(n, "service"), "state", json_object_get(n, "state"),
			      "offer", json_object_get(n, "offer_id"), "offered_by",
			      json_object_get(n, "offered_by"), "terms",
			      terms_of(json_object_get(n, "policy")), "agreement",
			      json_object_get(n, "agreement_id"), "agreement_state",
			      json_object_get(n, "agreement_state"), "not_after",
			      json_object_get(n, "not_after"), "updated_at",
			      json_object_get(n, "updated_at"));
	return v;
}

/* The parties' names from the signed configuration (the portal's
 * gateway's listClients), left out when the gateway cannot answer. */
static void name_parties(json_t *view, const json_t *clients)
{
	const char *pn, *cn;

	if (!clients || !view)
		return;
	pn = exchange_member_name(clients, json_string_value(json_object_get(view, "provider")));
	cn = exchange_member_name(clients, json_string_value(json_object_get(view, "consumer")));
	if (*pn)
		json_object_set_new(view, "provider_name", json_string(pn));
	if (*cn)
		json_object_set_new(view, "consumer_name", json_string(cn));
}

/* GET /api/market/negotiations: the member's, each with the dataset's
 * title when the member sees it in the catalogue. */
static int r_negotiations(const struct portal *p, const struct party *w, json_t **out,
			  struct perr *e)
{
	json_t *list = NULL, *views, *cat = NULL, *titles = json_object();
	const json_t *n, *d;
	struct perr ignore = { 0 };
	size_t i;

	if (!titles || negotiations_of(p, w->member, &list, e)) {
		json_decref(titles);
		return -1;
	}
	/* Titles from the catalogue; without it the page names the service. */
	struct ndx_http_req none = { 0 };
	if (r_datasets(p, &none, w->member, &cat, &ignore) == 0)
		json_array_foreach(json_object_get(cat, "datasets"), i, d)
			json_object_set(titles, json_string_value(json_object_get(d, "id")),
					json_object_get(d, "title"));
	json_decref(cat);
	json_t *clients = NULL;
	if (exchange_list_clients(p, &clients) != NDX_OK)
		clients = NULL;
	views = json_array();
	json_array_foreach(list, i, n) {
		json_t *v = negotiation_view(n, w->member);
		name_parties(v, clients);
		const json_t *t = json_object_get(titles, json_string_value(json_object_get(n,
											    "dataset")));
		if (v && t)
			json_object_set(v, "title", (json_t *)t);
		if (views && v)
			json_array_append_new(views, v);
		else
			json_decref(v);
	}
	json_decref(list);
	json_decref(titles);
	json_decref(clients);
	*out = views ? json_pack("{sossss}", "negotiations", views, "member", w->member, "via",
				 w->via)
		     : NULL;
	return *out ? 0 : perr_set(e, 500, "internal", "out of memory");
}

static int only_keys(const json_t *body, const char *const *keys, struct perr *e)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)body, k, v) {
		const char *const *a;
		for (a = keys; *a && strcmp(*a, k) != 0; a++)
			;
		if (!*a) {
			e->fields = json_pack("{ss}", k, "unknown");
			return perr_set(e, 422, "validation", "%s: not a field of this form", k);
		}
	}
	return 0;
}

/* POST /api/market/requests {"offer"}: the member asks for an offer of
 * the catalogue as it stands (DSP ContractRequestMessage, the registry's
 * negotiation starts REQUESTED); the grant is for the member itself. */
static int r_request(const struct portal *p, const struct party *w, const json_t *body,
		     json_t **out, int *status, struct perr *e)
{
	static const char *const keys[] = { "offer", "client", NULL };
	const char *offer = json_string_value(json_object_get(body, "offer"));
	const json_t *cv = json_object_get(body, "client");
	const char *client = json_string_value(cv);
	struct ndx_id cid;
	size_t mlen = strlen(w->member);
	char cpid[48], ppid[64];
	json_t *msg, *list = NULL;
	const json_t *n;
	struct rres r;
	size_t i;

	if (only_keys(body, keys, e))
		return -1;
	if (!offer || !valid_id(offer)) {
		e->fields = json_pack("{ss}", "offer", offer ? "invalid" : "required");
		return perr_set(e, 422, "validation", "offer: the id of an offer of the catalogue");
	}
	/* The system that will call: the member's own subsystem, never
	 * another member's (the registry checks that it exists). */
	if (cv && (!client || strncmp(client, w->member, mlen) != 0 || client[mlen] != '/' ||
		   ndx_id_parse(client, strlen(client), NDX_ID_SUBSYSTEM, &cid, NULL) != NDX_OK)) {
		e->fields = json_pack("{ss}", "client", "invalid");
		return perr_set(e, 422, "validation", "client: a subsystem of %s", w->member);
	}
	if (new_urn(cpid))
		return perr_set(e, 500, "internal", "no random numbers");
	msg = json_pack("{s[s]ss ss s{ss}}", "@context", DSP_CONTEXT, "@type",
			"ContractRequestMessage", "consumerPid", cpid, "offer", "@id", offer);
	if (msg && client)
		json_object_set_new(msg, "ndx:client", json_string(client));
	if (!msg)
		return perr_set(e, 500, "internal", "out of memory");
	if (registry_call(p, "POST", "/dsp/negotiations/request", w->member, msg, &r, e)) {
		json_decref(msg);
		return -1;
	}
	json_decref(msg);
	if (r.status == 400 && r.type[0] && strcmp(r.type, "Client.InvalidRequest") == 0) {
		/* An offer the member may not see is one it cannot know: the
		 * same answer as for one that does not exist. */
		const json_t *reason = json_object_get(r.json, "reason");
		const char *text = json_string_value(json_array_get(reason, 0));
		int own = text && strstr(text, "the caller's own") != NULL;
		int bad_client = text && strncmp(text, "ndx:client", 10) == 0;
		rres_clear(&r);
		if (own)
			return perr_set(e, 409, "own_offer", "the offer is your member's own");
		if (bad_client) {
			e->fields = json_pack("{ss}", "client", "unknown");
			return perr_set(e, 422, "validation", "client: no such subsystem of %s",
					w->member);
		}
		return perr_set(e, 404, "not_found", "no such offer");
	}
	if (r.status != 201) {
		registry_refused("the request", &r, e);
		rres_clear(&r);
		return -1;
	}
	snprintf(ppid, sizeof ppid, "%s", json_string_value(json_object_get(r.json, "providerPid")));
	rres_clear(&r);
	if (negotiations_of(p, w->member, &list, e))
		return -1;
	*out = NULL;
	json_array_foreach(list, i, n)
		if (!*out && strcmp(json_string_value(json_object_get(n, "provider_pid")), ppid) == 0)
			*out = negotiation_view(n, w->member);
	json_decref(list);
	*status = 201;
	return *out ? 0 : perr_set(e, 502, "registry", "the registry lost the negotiation");
}

/* One DSP message on negotiation n sent as member: the provider's to the
 * consumer paths (by consumerPid), the consumer's to the provider paths
 * (by providerPid). -1 with e set when it was not accepted. */
static int send_message(const struct portal *p, const json_t *n, const char *member,
			const char *suffix, json_t *msg, struct perr *e)
{
	const char *provider = json_string_value(json_object_get(n, "provider"));
	int by_provider = strcmp(provider, member) == 0;
	char path[512];
	struct rres r;
	int rc = 0;

	if (!msg)
		return perr_set(e, 500, "internal", "out of memory");
	json_object_set_new(msg, "@context", json_pack("[s]", DSP_CONTEXT));
	json_object_set(msg, "providerPid", json_object_get(n, "provider_pid"));
	json_object_set(msg, "consumerPid", json_object_get(n, "consumer_pid"));
	snprintf(path, sizeof path, by_provider ? "/dsp/consumer/negotiations/%s/%s"
						: "/dsp/negotiations/%s/%s",
		 json_string_value(json_object_get(n, by_provider ? "consumer_pid"
								  : "provider_pid")),
		 suffix);
	if (registry_call(p, "POST", path, member, msg, &r, e)) {
		json_decref(msg);
		return -1;
	}
	json_decref(msg);
	if (r.status != 200)
		rc = registry_refused(suffix, &r, e);
	rres_clear(&r);
	return rc;
}

/* The agreement on the latest terms of n, as the provider sends it. */
static json_t *agreement_msg(const json_t *n)
{
	char id[48], now[NDX_TIME_TEXT_LEN];
	json_t *a;

	if (new_urn(id))
		return NULL;
	ndx_time_format(time(NULL), now);
	if (!(a = json_deep_copy(json_object_get(n, "policy"))))
		return NULL;
	json_object_set_new(a, "@id", json_string(id));
	json_object_set_new(a, "@type", json_string("Agreement"));
	json_object_set(a, "target", json_object_get(n, "dataset"));
	json_object_set(a, "assigner", json_object_get(n, "provider"));
	json_object_set(a, "assignee", json_object_get(n, "consumer"));
	json_object_set_new(a, "timestamp", json_string(now));
	return json_pack("{ssso}", "@type", "ContractAgreementMessage", "agreement", a);
}

/* From an agreement on terms both parties have said yes to, the rest of
 * the protocol: the consumer's verification and the provider's
 * finalisation, each with its own party's credential. A party whose
 * credential the portal does not hold stops it there (its own connector
 * goes on), which is no error. */
static int complete(const struct portal *p, const json_t *n, struct perr *e)
{
	const char *consumer = json_string_value(json_object_get(n, "consumer"));
	const char *provider = json_string_value(json_object_get(n, "provider"));
	struct perr skip = { 0 };
	int rc;

	rc = send_message(p, n, provider, "agreement", agreement_msg(n), e);
	if (!rc) {
		rc = send_message(p, n, consumer, "agreement/verification",
				  json_pack("{ss}", "@type", "ContractAgreementVerificationMessage"),
				  &skip);
		if (rc)
			return strcmp(skip.code, "not_enrolled") == 0 ? 0 : (*e = skip, -1);
	}
	if (!rc)
		rc = send_message(p, n, provider, "events",
				  json_pack("{ssss}", "@type", "ContractNegotiationEventMessage",
					    "eventType", "FINALIZED"), e);
	return rc;
}

/* The counter-offer's terms: the latest ones with the maximum calls, the
 * validity and the price the official changed. The provider's is a
 * ContractOfferMessage; the consumer's counter to a counter-offer a
 * ContractRequestMessage with its own terms (DSP: OFFERED -> REQUESTED). */
static json_t *counter_offer(const json_t *n, const json_t *body, int by_provider,
			     struct perr *e)
{
	static const char *const names[] = { "max_calls", "validity_days", "price_vnd" };
	static const json_int_t max[] = { 1000000000, 36500, 1000000000000LL };
	json_int_t val[3] = { -1, -1, -1 };
	struct ndx_policy pol;
	char err[256], id[48];
	json_t *o;

	if (ndx_policy_from_odrl(json_object_get(n, "policy"), &pol, err, sizeof err))
		return perr_set(e, 502, "registry", "the latest terms cannot be read"), NULL;
	for (size_t i = 0; i < 3; i++) {
		const json_t *v = json_object_get(body, names[i]);
		if (!v)
			continue;
		if (!json_is_integer(v) || json_integer_value(v) < (i == 2 ? 0 : 1) ||
		    json_integer_value(v) > max[i]) {
			e->fields = json_pack("{ss}", names[i], "out_of_range");
			return perr_set(e, 422, "validation", "%s: out of range", names[i]), NULL;
		}
		val[i] = json_integer_value(v);
	}
	if (val[0] < 0 && val[1] < 0 && val[2] < 0) {
		e->fields = json_pack("{ss}", "max_calls", "required");
		return perr_set(e, 422, "validation", "a counter-offer changes at least one term"),
		       NULL;
	}
	if (val[0] > 0) {
		pol.max_calls = val[0];
		if (pol.period == NDX_PERIOD_NONE)
			pol.period = NDX_PERIOD_DAY;
	}
	if (val[1] > 0)
		pol.validity_days = val[1];
	if (val[2] >= 0) {
		pol.price = val[2];
		if (val[2] == 0)
			pol.price_unit = NDX_PRICE_FREE;
		else if (pol.price_unit == NDX_PRICE_FREE)
			pol.price_unit = NDX_PRICE_PER_CALL;
	}
	if (new_urn(id) || !(o = ndx_policy_to_odrl(&pol)))
		return perr_set(e, 500, "internal", "out of memory"), NULL;
	json_object_set_new(o, "@id", json_string(id));
	json_object_set_new(o, "@type", json_string("Offer"));
	json_object_set(o, "target", json_object_get(n, "dataset"));
	return json_pack("{ssso}", "@type",
			 by_provider ? "ContractOfferMessage" : "ContractRequestMessage", "offer", o);
}

/* POST /api/market/negotiations/{providerPid}/decision {"action", …}:
 * the provider's approve, counter or terminate on a request, the
 * consumer's accept or terminate on a counter-offer. Only a negotiation
 * of the session's own member is found; a step that is not the side's
 * is 403. */
static int r_decision(const struct portal *p, const struct party *w, const char *pid,
		      const json_t *body, json_t **out, struct perr *e)
{
	static const char *const keys[] = { "action", "reason", "max_calls", "validity_days",
					    "price_vnd", NULL };
	const char *action = json_string_value(json_object_get(body, "action"));
	const char *reason = json_string_value(json_object_get(body, "reason"));
	json_t *list = NULL, *n = NULL, *after = NULL;
	const json_t *row;
	const char *state, *side;
	size_t i;
	int rc = -1;

	if (only_keys(body, keys, e))
		return -1;
	if (!action || (strcmp(action, "approve") && strcmp(action, "counter") &&
			strcmp(action, "terminate") && strcmp(action, "accept"))) {
		e->fields = json_pack("{ss}", "action", action ? "invalid" : "required");
		return perr_set(e, 422, "validation", "action: approve, counter, accept or terminate");
	}
	if (json_object_get(body, "reason") && (!reason || strlen(reason) > REASON_MAX)) {
		e->fields = json_pack("{ss}", "reason", reason ? "too_long" : "invalid");
		return perr_set(e, 422, "validation", "reason: text of at most %d bytes",
				REASON_MAX);
	}
	if (!valid_id(pid))
		return perr_set(e, 404, "not_found", "no such negotiation of your member");
	if (negotiations_of(p, w->member, &list, e))
		return -1;
	json_array_foreach(list, i, row)
		if (!n && strcmp(json_string_value(json_object_get(row, "provider_pid")), pid) == 0)
			n = json_incref((json_t *)row);
	json_decref(list);
	if (!n)
		return perr_set(e, 404, "not_found", "no such negotiation of your member");
	state = json_string_value(json_object_get(n, "state"));
	side = strcmp(json_string_value(json_object_get(n, "provider")), w->member) == 0
		       ? "provider" : "consumer";
	if (strcmp(action, "terminate") == 0) {
		if (strcmp(state, "FINALIZED") == 0 || strcmp(state, "TERMINATED") == 0) {
			e->fields = json_pack("{ss}", "state", state);
			perr_set(e, 409, "conflict", "the negotiation is %s", state);
			goto out;
		}
		json_t *m = json_pack("{ssss}", "@type", "ContractNegotiationTerminationMessage",
				      "code", strcmp(side, "provider") == 0 ? "ndx:provider-declined"
									  : "ndx:consumer-declined");
		if (m && reason && *reason)
			json_object_set_new(m, "reason", json_pack("[s]", reason));
		rc = send_message(p, n, w->member, "termination", m, e);
	} else {
		/* The provider approves or counters a request; the consumer
		 * accepts or counters a counter-offer. */
		int consumer_step = strcmp(action, "accept") == 0 ||
				    (strcmp(action, "counter") == 0 && strcmp(side, "consumer") == 0);
		const char *need = consumer_step ? "OFFERED" : "REQUESTED";
		const char *who = consumer_step ? "consumer" : "provider";
		if (strcmp(side, who) != 0) {
			perr_set(e, 403, "forbidden", "only the %s's officials may %s", who, action);
			goto out;
		}
		if (strcmp(state, need) != 0) {
			e->fields = json_pack("{ss}", "state", state);
			perr_set(e, 409, "conflict", "the negotiation is %s", state);
			goto out;
		}
		if (strcmp(action, "counter") == 0) {
			int by_provider = strcmp(side, "provider") == 0;
			json_t *m = counter_offer(n, body, by_provider, e);
			rc = m ? send_message(p, n, w->member, by_provider ? "offers" : "request", m, e)
			       : -1;
		} else if (strcmp(action, "accept") == 0) {
			rc = send_message(p, n, w->member, "events",
					  json_pack("{ssss}", "@type", "ContractNegotiationEventMessage",
						    "eventType", "ACCEPTED"), e);
			if (!rc) {
				/* The provider offered these terms itself: agreeing
				 * to them is its offer's own consequence. */
				struct perr skip = { 0 };
				if (complete(p, n, &skip) && strcmp(skip.code, "not_enrolled") != 0)
					rc = (*e = skip, -1);
				else
					json_decref(skip.fields);
			}
		} else {
			rc = complete(p, n, e);
		}
	}
	if (rc)
		goto out;
	if (negotiations_of(p, w->member, &list, e)) {
		rc = -1;
		goto out;
	}
	json_array_foreach(list, i, row)
		if (!after && strcmp(json_string_value(json_object_get(row, "provider_pid")), pid) == 0)
			after = negotiation_view(row, w->member);
	json_decref(list);
	*out = after;
	rc = after ? 0 : perr_set(e, 502, "registry", "the registry lost the negotiation");
out:
	json_decref(n);
	return rc;
}

/* ---- publishing and withdrawing -------------------------------------------------------- */

static const char *const FREQUENCIES[] = { "CONT", "DAILY", "WEEKLY", "MONTHLY", "QUARTERLY",
					   "ANNUAL", "IRREG", "UNKNOWN", NULL };
/* The EU data-theme vocabulary's codes (the IRI is THEME_IRI + code). */
static const char *const THEMES[] = { "AGRI", "ECON", "EDUC", "ENER", "ENVI", "GOVE", "HEAL",
				      "INTR", "JUST", "REGI", "SOCI", "TECH", "TRAN", NULL };
static const char *const CLASSES[] = { "state", "enterprise", "research", NULL };
static const char *const METHODS[] = NDX_METHOD_NAMES;

static int in_list(const char *s, const char *const *list, size_t n)
{
	for (size_t i = 0; s && i < n && list[i]; i++)
		if (strcmp(list[i], s) == 0)
			return 1;
	return 0;
}

/* A field error: fields[name] = code (the first one a field gets). */
static void field_error(json_t *fields, const char *name, const char *code)
{
	if (!json_object_get(fields, name))
		json_object_set_new(fields, name, json_string(code));
}

/* A text field of the form: 1..max bytes of display text; NULL (and the
 * field's error unless it is optional and absent or empty) otherwise. */
static const char *form_text(const json_t *body, const char *name, size_t max, int required,
			     json_t *fields)
{
	const json_t *v = json_object_get(body, name);
	const char *s = json_string_value(v);

	if (!v || json_is_null(v) || (s && !*s)) {
		if (required)
			field_error(fields, name, "required");
		return NULL;
	}
	if (!s) {
		field_error(fields, name, "invalid");
		return NULL;
	}
	if (json_string_length(v) > max) {
		field_error(fields, name, "too_long");
		return NULL;
	}
	if (strlen(s) != json_string_length(v) ||
	    ndx_text_check(s, json_string_length(v), NULL, NULL) != NDX_OK) {
		field_error(fields, name, "invalid_text");
		return NULL;
	}
	return s;
}

/* A list of strings of the form (absent or null: empty), each in allowed
 * (n names) or, with allowed NULL, any string; NULL after its error. */
static json_t *form_list(const json_t *o, const char *field, const char *const *allowed,
			 size_t n, size_t max, json_t *fields)
{
	const json_t *v = json_object_get(o, field), *x;
	json_t *out = json_array();
	size_t i;

	if (!out)
		return NULL;
	if (!v || json_is_null(v))
		return out;
	if (!json_is_array(v) || json_array_size(v) > max)
		goto bad;
	json_array_foreach(v, i, x)
		if (!json_is_string(x) || (allowed && !in_list(json_string_value(x), allowed, n)))
			goto bad;
		else
			json_array_append(out, (json_t *)x);
	return out;
bad:
	json_decref(out);
	field_error(fields, field, "invalid");
	return NULL;
}

/* An optional whole number of the form: 0 when absent or null, -1 after
 * its error. */
static json_int_t form_int(const json_t *o, const char *field, json_t *fields)
{
	const json_t *v = json_object_get(o, field);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0) {
		field_error(fields, field, "invalid");
		return -1;
	}
	return json_integer_value(v);
}

/* The ODRL Offer of one offer of the publishing form ({purposes, classes,
 * methods, validity_days, max_calls, period, max_age_minutes, price_vnd,
 * price_unit, no_onward_transfer}), read back by libndx's ndx_policy_from_odrl (the
 * registry's own parser) so that a term outside the subset is said at
 * its field. NULL with the offer's errors in fields (named
 * "offers.I.FIELD") and *why the parser's sentence when it refused. */
static json_t *form_offer(const json_t *o, size_t idx, json_t *fields, char *why, size_t cap)
{
	static const char *const keys[] = { "purposes", "classes", "methods", "validity_days",
					    "max_calls", "period", "max_age_minutes", "price_vnd",
					    "price_unit", "no_onward_transfer", NULL };
	static const char *const periods[] = { "hour", "day", "month", NULL };
	static const char *const units[] = { "call", "month", NULL };
	static const char *const period_units[] = { "ndx:perHour", "ndx:perDay", "ndx:perMonth" };
	const char *cfield[6];
	json_t *own = json_object(), *purposes, *classes, *methods, *cs = json_array(), *odrl = NULL;
	const char *period = json_string_value(json_object_get(o, "period"));
	const char *unit = json_string_value(json_object_get(o, "price_unit"));
	const json_t *onward = json_object_get(o, "no_onward_transfer");
	json_int_t days, calls, price, age;
	size_t nc = 0;
	struct ndx_policy pol;
	char err[256], name[64];
	const char *k;
	json_t *v;

	if (!own || !cs) {
		json_decref(own);
		json_decref(cs);
		return NULL;
	}
	if (!json_is_object(o)) {
		snprintf(name, sizeof name, "offers.%zu", idx);
		field_error(fields, name, "invalid");
		json_decref(own);
		json_decref(cs);
		return NULL;
	}
	json_object_foreach((json_t *)o, k, v)
		if (!in_list(k, keys, 10))
			field_error(own, k, "unknown");
	purposes = form_list(o, "purposes", NULL, 0, 64, own);
	classes = form_list(o, "classes", CLASSES, 3, 3, own);
	/* Absent is every class; an empty list is a form with none ticked. */
	if (classes && json_is_array(json_object_get(o, "classes")) && !json_array_size(classes))
		field_error(own, "classes", "required");
	methods = form_list(o, "methods", METHODS, 7, 7, own);
	days = form_int(o, "validity_days", own);
	calls = form_int(o, "max_calls", own);
	age = form_int(o, "max_age_minutes", own);
	price = form_int(o, "price_vnd", own);
	if (calls > 0 && !in_list(period, periods, 3))
		field_error(own, "period", period ? "invalid" : "required");
	if (price > 0 && !in_list(unit, units, 2))
		field_error(own, "price_unit", unit ? "invalid" : "required");
	if (onward && !json_is_boolean(onward))
		field_error(own, "no_onward_transfer", "invalid");
	if (json_object_size(own))
		goto out;
	/* The constraints in a known order, each remembering its field. */
	if (json_array_size(purposes)) {
		json_array_append_new(cs, json_pack("{sssssO}", "leftOperand", "purpose", "operator",
						    "isAnyOf", "rightOperand", purposes));
		cfield[nc++] = "purposes";
	}
	if (json_array_size(classes) && json_array_size(classes) < 3) {
		json_array_append_new(cs, json_pack("{sssssO}", "leftOperand", "ndx:consumerClass",
						    "operator", "isAnyOf", "rightOperand", classes));
		cfield[nc++] = "classes";
	}
	if (json_array_size(methods)) {
		json_array_append_new(cs, json_pack("{sssssO}", "leftOperand", "ndx:method",
						    "operator", "isAnyOf", "rightOperand", methods));
		cfield[nc++] = "methods";
	}
	if (json_object_get(o, "validity_days") && !json_is_null(json_object_get(o,
										  "validity_days"))) {
		char d[32];
		snprintf(d, sizeof d, "P%lldD", (long long)days);
		json_array_append_new(cs, json_pack("{ssssss}", "leftOperand", "elapsedTime",
						    "operator", "lteq", "rightOperand", d));
		cfield[nc++] = "validity_days";
	}
	if (json_object_get(o, "max_calls") && !json_is_null(json_object_get(o, "max_calls"))) {
		size_t pi = 0;
		while (period && periods[pi] && strcmp(periods[pi], period) != 0)
			pi++;
		json_array_append_new(cs, json_pack("{sssssIss}", "leftOperand", "count", "operator",
						    "lteq", "rightOperand", calls, "unit",
						    period && periods[pi] ? period_units[pi]
									  : "ndx:perDay"));
		cfield[nc++] = "max_calls";
	}
	if (json_object_get(o, "max_age_minutes") &&
	    !json_is_null(json_object_get(o, "max_age_minutes"))) {
		char d[32];
		snprintf(d, sizeof d, "PT%lldM", (long long)age);
		json_array_append_new(cs, json_pack("{ssssss}", "leftOperand", "ndx:dataAge",
						    "operator", "lteq", "rightOperand", d));
		cfield[nc++] = "max_age_minutes";
	}
	odrl = json_pack("{ss s[{ssso}]}", "@type", "Offer", "permission", "action", "use",
			 "constraint", cs);
	cs = NULL;
	if (odrl && json_is_true(onward))
		json_object_set_new(odrl, "prohibition", json_pack("[{ss}]", "action", "distribute"));
	if (odrl && price > 0)
		json_object_set_new(
			odrl, "obligation",
			json_pack("[{sss[{sssssIss}]}]", "action", "compensate", "constraint",
				  "leftOperand", "payAmount", "operator", "eq", "rightOperand",
				  price, "unit",
				  strcmp(unit, "month") == 0 ? "ndx:VNDPerMonth" : "ndx:VNDPerCall"));
	if (odrl && ndx_policy_from_odrl(odrl, &pol, err, sizeof err) != NDX_OK) {
		const char *field = "offer";
		size_t ci;
		if (sscanf(err, "permission[0].constraint[%zu]", &ci) == 1 && ci < nc)
			field = cfield[ci];
		else if (strncmp(err, "obligation", 10) == 0)
			field = "price_vnd";
		field_error(own, field, "invalid");
		snprintf(why, cap, "%s", err);
		json_decref(odrl);
		odrl = NULL;
	}
out:
	json_object_foreach(own, k, v) {
		snprintf(name, sizeof name, "offers.%zu.%s", idx, k);
		field_error(fields, name, json_string_value(v));
	}
	json_decref(own);
	json_decref(cs);
	json_decref(purposes);
	json_decref(classes);
	json_decref(methods);
	return odrl;
}

/* The registry's 400 on a dataset as a field of the form: its detail
 * names the field ("license: …", "offers[1].…"). */
static const char *registry_field(const char *detail, char *buf, size_t cap)
{
	static const char *const map[][2] = { { "license", "license" },
					      { "accrual_periodicity", "frequency" },
					      { "sample", "sample" },
					      { "theme", "themes" },
					      { "service", "service" } };
	size_t i;

	if (!detail)
		return NULL;
	if (sscanf(detail, "offers[%zu]", &i) == 1) {
		snprintf(buf, cap, "offers.%zu.offer", i);
		return buf;
	}
	for (size_t k = 0; k < sizeof map / sizeof map[0]; k++)
		if (strncmp(detail, map[k][0], strlen(map[k][0])) == 0)
			return map[k][1];
	return NULL;
}

/* POST /api/market/datasets: the member publishes one of its services'
 * datasets (the registry's POST /market/datasets) from the form's fields;
 * every field's error is said at once (422 with fields), the registry's
 * own refusals at the field they name. 201 with the dataset as the pages
 * show it. */
static int r_publish(const struct portal *p, const struct party *w, const json_t *body,
		     json_t **out, int *status, struct perr *e)
{
	static const char *const keys[] = { "service", "title_vi", "title_en", "description_vi",
					    "description_en", "themes", "license", "frequency",
					    "sample", "offers", NULL };
	const char *service, *tvi, *ten, *dvi, *den, *lic, *sample_text;
	const char *freq = json_string_value(json_object_get(body, "frequency"));
	const json_t *offers = json_object_get(body, "offers"), *o;
	json_t *fields = json_object(), *themes, *iris = json_array(), *odrls = json_array();
	json_t *sample = NULL, *msg = NULL;
	size_t mlen = strlen(w->member), i;
	char why[256] = "", fname[64];
	struct ndx_id sid;
	struct rres r = { 0 };
	int rc = -1;

	if (!fields || !iris || !odrls) {
		perr_set(e, 500, "internal", "out of memory");
		goto out;
	}
	if (only_keys(body, keys, e))
		goto out;
	service = form_text(body, "service", NDX_ID_TEXT_MAX, 1, fields);
	/* Only the member's own services: the session's member, never the
	 * browser's (the registry refuses another member's too). */
	if (service && (strncmp(service, w->member, mlen) != 0 || service[mlen] != '/' ||
			ndx_id_parse(service, strlen(service), NDX_ID_SERVICE, &sid, NULL)))
		field_error(fields, "service", "not_yours");
	tvi = form_text(body, "title_vi", TITLE_MAX, 1, fields);
	ten = form_text(body, "title_en", TITLE_MAX, 1, fields);
	dvi = form_text(body, "description_vi", DESCRIPTION_MAX, 1, fields);
	den = form_text(body, "description_en", DESCRIPTION_MAX, 1, fields);
	lic = form_text(body, "license", LICENSE_MAX, 1, fields);
	if (!freq || !in_list(freq, FREQUENCIES, 8))
		field_error(fields, "frequency", freq ? "invalid" : "required");
	themes = form_list(body, "themes", THEMES, 13, 8, fields);
	for (i = 0; i < json_array_size(themes); i++) {
		char iri[160];
		snprintf(iri, sizeof iri, "%s%s", THEME_IRI,
			 json_string_value(json_array_get(themes, i)));
		json_array_append_new(iris, json_string(iri));
	}
	json_decref(themes);
	sample_text = json_string_value(json_object_get(body, "sample"));
	if (json_object_get(body, "sample") && !json_is_null(json_object_get(body, "sample")) &&
	    (!sample_text || (*sample_text && !(sample = json_loads(sample_text,
								    JSON_DECODE_ANY |
									    JSON_REJECT_DUPLICATES,
								    NULL)))))
		field_error(fields, "sample", "invalid_json");
	else if (sample_text && strlen(sample_text) > SAMPLE_MAX)
		field_error(fields, "sample", "too_long");
	if (!json_is_array(offers) || json_array_size(offers) == 0 ||
	    json_array_size(offers) > OFFERS_MAX)
		field_error(fields, "offers", offers ? "invalid" : "required");
	json_array_foreach(offers, i, o) {
		json_t *x = i < OFFERS_MAX ? form_offer(o, i, fields, why, sizeof why) : NULL;
		if (x)
			json_array_append_new(odrls, x);
	}
	if (json_object_size(fields)) {
		e->fields = fields;
		fields = NULL;
		perr_set(e, 422, "validation", "%s", why[0] ? why : "the form has errors");
		goto out;
	}
	msg = json_pack("{ss s{ssss} s{ssss} sO ss ss}", "service", service, "title", "vi", tvi,
			"en", ten, "description", "vi", dvi, "en", den, "theme", iris, "license", lic,
			"accrual_periodicity", freq);
	if (msg && sample)
		json_object_set(msg, "sample", sample);
	if (msg)
		json_object_set(msg, "offers", odrls);
	if (!msg) {
		perr_set(e, 500, "internal", "out of memory");
		goto out;
	}
	if (registry_call(p, "POST", "/market/datasets", w->member, msg, &r, e))
		goto out;
	if (r.status == 201) {
		*out = dataset_view(r.json, 1);
		*status = 201;
		rc = *out ? 0 : perr_set(e, 500, "internal", "out of memory");
		goto out;
	}
	if (r.status == 404 || r.status == 409 || r.status == 403) {
		e->fields = json_pack("{ss}", "service", r.status == 404   ? "unknown"
							 : r.status == 409 ? "has_dataset"
									   : "not_yours");
		perr_set(e, 422, "validation", "service: %s",
			 r.status == 404   ? "no such service"
			 : r.status == 409 ? "the service already has a dataset in the catalogue"
					   : "not a service of your member");
		goto out;
	}
	if (r.status == 400) {
		const char *detail = json_string_value(json_object_get(r.json, "detail"));
		const char *field = registry_field(detail, fname, sizeof fname);
		fprintf(stderr, "ndx-portal: market: the registry refused a dataset: %s\n",
			detail ? detail : "");
		if (field) {
			e->fields = json_pack("{ss}", field, "invalid");
			perr_set(e, 422, "validation", "%s", detail);
			goto out;
		}
	}
	registry_refused("the dataset", &r, e);
out:
	rres_clear(&r);
	json_decref(msg);
	json_decref(sample);
	json_decref(iris);
	json_decref(odrls);
	json_decref(fields);
	return rc;
}

/* GET /api/market/published: the datasets the member publishes, each
 * with all its offers (the provider sees its own whatever their class). */
static int r_published(const struct portal *p, const struct party *w, json_t **out,
		       struct perr *e)
{
	json_t *list;

	if (catalogue(p, w->member, json_pack("[{ss}]", "ndx:provider", w->member), &list, e))
		return -1;
	*out = json_pack("{soss}", "datasets", list, "member", w->member);
	return *out ? 0 : perr_set(e, 500, "internal", "out of memory");
}

/* POST /api/market/datasets/{id}/withdrawal: the provider takes its
 * dataset out of the catalogue (the registry's DELETE /market/datasets/
 * {id}); agreements in force stay. Another member's dataset is 404. */
static int r_withdraw(const struct portal *p, const struct party *w, const char *id,
		      const json_t *body, json_t **out, struct perr *e)
{
	static const char *const keys[] = { NULL };
	char path[128];
	struct rres r;

	if (only_keys(body, keys, e))
		return -1;
	if (!valid_id(id))
		return perr_set(e, 404, "not_found", "no such dataset of your member");
	snprintf(path, sizeof path, "/market/datasets/%s", id);
	if (registry_call(p, "DELETE", path, w->member, NULL, &r, e))
		return -1;
	if (r.status == 404 || r.status == 403) {
		rres_clear(&r);
		return perr_set(e, 404, "not_found", "no such dataset of your member");
	}
	if (r.status != 200) {
		registry_refused("the withdrawal", &r, e);
		rres_clear(&r);
		return -1;
	}
	rres_clear(&r);
	*out = json_pack("{ss}", "withdrawn", id);
	return *out ? 0 : perr_set(e, 500, "internal", "out of memory");
}

/* ---- ending an agreement -------------------------------------------------------------- */

/* POST /api/market/agreements/{id}/termination {"confirm": true}: either
 * party ends an agreement in force (the registry's POST
 * /market/agreements/{id}/termination); its grant leaves the next signed
 * configuration. 404 when it is not the member's, 409 not_in_force when it
 * has ended or was never finalised. The answer is the negotiation as the
 * pages show it, with conf_version. */
static int r_end(const struct portal *p, const struct party *w, const char *id,
		 const json_t *body, json_t **out, struct perr *e)
{
	static const char *const keys[] = { "confirm", NULL };
	json_t *list = NULL;
	const json_t *row;
	json_int_t version;
	char path[160];
	struct rres r;
	size_t i;

	if (only_keys(body, keys, e))
		return -1;
	/* The page's confirmation step is the body's: nothing ends by a
	 * stray POST. */
	if (!json_is_true(json_object_get(body, "confirm"))) {
		e->fields = json_pack("{ss}", "confirm", "required");
		return perr_set(e, 422, "validation", "confirm: true, after the confirmation step");
	}
	if (!valid_id(id))
		return perr_set(e, 404, "not_found", "no agreement of your member with this id");
	snprintf(path, sizeof path, "/market/agreements/%s/termination", id);
	if (registry_call(p, "POST", path, w->member, NULL, &r, e))
		return -1;
	if (r.status == 404) {
		rres_clear(&r);
		return perr_set(e, 404, "not_found", "no agreement of your member with this id");
	}
	if (r.status == 409) {
		rres_clear(&r);
		return perr_set(e, 409, "not_in_force", "the agreement is not in force");
	}
	if (r.status != 200) {
		registry_refused("the termination", &r, e);
		rres_clear(&r);
		return -1;
	}
	version = json_integer_value(json_object_get(r.json, "conf_version"));
	rres_clear(&r);
	if (negotiations_of(p, w->member, &list, e))
		return -1;
	*out = NULL;
	json_array_foreach(list, i, row) {
		const char *a = json_string_value(json_object_get(row, "agreement_id"));
		if (!*out && a && strcmp(a, id) == 0)
			*out = negotiation_view(row, w->member);
	}
	json_decref(list);
	if (!*out)
		return perr_set(e, 502, "registry", "the registry lost the agreement");
	json_object_set_new(*out, "conf_version", json_integer(version));
	return 0;
}

/* ---- usage statements --------------------------------------------------------------------- */

/* The signed configuration from the registry, verified with the anchor of
 * market.anchor (read at each check, like the credentials). -1 with e set
 * when there is no anchor or the configuration cannot be had. */
static int verified_conf(const struct portal *p, struct ndx_conf **out, struct perr *e)
{
	struct ndx_anchor *anchor = NULL;
	struct ndx_fetch_resp fr = { 0 };
	const char *headers[] = { "Accept: application/json", NULL };
	char url[URL_MAX], err[512];
	int rc;

	*out = NULL;
	if (!p->cfg->market_anchor)
		return perr_set(e, 503, "no_anchor",
				"the portal has no registry anchor to check statements with");
	if (ndx_anchor_load(p->cfg->market_anchor, &anchor, err, sizeof err) != NDX_OK) {
		fprintf(stderr, "ndx-portal: market: the anchor %s: %s\n", p->cfg->market_anchor,
			err);
		return perr_set(e, 503, "no_anchor", "the portal's registry anchor cannot be read");
	}
	snprintf(url, sizeof url, "%s/conf", p->cfg->market_registry_url);
	struct ndx_fetch_req r = { .method = "GET", .url = url, .headers = headers,
				   .timeout_ms = 10000, .want_header = "Ndx-Conf-Signature" };
	rc = ndx_fetch(&r, &fr);
	if (rc == NDX_OK && fr.status == 200)
		rc = ndx_conf_verify((const uint8_t *)fr.body, fr.len, fr.wanted, anchor, time(NULL),
				     out, err, sizeof err);
	else
		snprintf(err, sizeof err, "%s", rc ? ndx_strerror(rc) : "not 200");
	ndx_fetch_resp_free(&fr);
	ndx_anchor_free(anchor);
	if (rc != NDX_OK || !*out) {
		fprintf(stderr, "ndx-portal: market: the registry's configuration: %s\n", err);
		return perr_set(e, 502, "registry", "the registry's signed configuration cannot be had");
	}
	return 0;
}

/* The signing key of gateway "{member}/{code}" in conf, or NULL. */
static const struct ndx_key *gateway_key(const struct ndx_conf *conf, const char *name)
{
	const struct ndx_conf_member *m;
	const struct ndx_conf_gateway *g;
	size_t ml;

	for (size_t i = 0; (m = ndx_conf_member_at(conf, i)) != NULL; i++)
		for (size_t j = 0; (g = ndx_conf_gateway_of(conf, m->id, j)) != NULL; j++) {
			ml = strlen(g->member);
			if (strncmp(name, g->member, ml) == 0 && name[ml] == '/' &&
			    strcmp(name + ml + 1, g->code) == 0)
				return g->sign_key;
		}
	return NULL;
}

/* The first thing that does not hold of statement u about negotiation
 * row n (the registry's record of the member's agreement), into why; ""
 * when all hold: the agreement's client and service, its price, and a
 * signer of the side it states. */
static void against_agreement(const struct ndx_usage *u, const json_t *n, char *why, size_t cap)
{
	const char *client = json_string_value(json_object_get(n, "client"));
	const char *service = json_string_value(json_object_get(n, "service"));
	const char *party = json_string_value(
		json_object_get(n, u->side == NDX_MSGLOG_PROVIDER ? "provider" : "consumer"));
	struct ndx_policy pol;
	char err[256];
	size_t pl = party ? strlen(party) : 0;

	why[0] = '\0';
	if (!client || !service || strcmp(client, u->client) != 0 || strcmp(service, u->service))
		snprintf(why, cap, "the agreement is %s calling %s, not %s calling %s",
			 client ? client : "?", service ? service : "?", u->client, u->service);
	else if (ndx_policy_from_odrl(json_object_get(n, "policy"), &pol, err, sizeof err))
		snprintf(why, cap, "the agreement's terms cannot be read: %s", err);
	else if (pol.price != u->price || pol.price_unit != u->unit)
		snprintf(why, cap, "price %lld VND (%s), but the agreement's is %lld VND (%s)",
			 (long long)u->price, ndx_usage_unit_name(u->unit), (long long)pol.price,
			 ndx_usage_unit_name(pol.price_unit));
	else if (!party || strncmp(u->gateway, party, pl) != 0 || u->gateway[pl] != '/' ||
		 strchr(u->gateway + pl + 1, '/'))
		snprintf(why, cap, "its signer %s is not a gateway of the %s", u->gateway,
			 u->side == NDX_MSGLOG_PROVIDER ? "provider" : "consumer");
}

/* POST /api/market/statements/check {"statement": TEXT or object}: a usage
 * statement of one of the member's agreements (its own gateway's, or the
 * other party's it received), checked as `ndx market check-statement`
 * checks it on its own: its form, that it is about this agreement's client,
 * service and price and signed by a gateway of the side it states, and with
 * that gateway's key from the registry's signed configuration (verified
 * with the portal's anchor) the signature, every exchange's inclusion proof
 * against the signer's tree heads, count and amount. The comparison with
 * the member's own message log is not made: the portal holds no log. 200
 * with "verified" and, when false, "reason"; 422 for text that is no
 * statement; 404 for another member's agreement. */
static int r_statement_check(const struct portal *p, const struct party *w, const json_t *body,
			     json_t **out, struct perr *e)
{
	static const char *const keys[] = { "statement", NULL };
	static const char *const sides[] = { "provider", "consumer" };
	const json_t *sv = json_object_get(body, "statement"), *row, *n = NULL;
	char *text = NULL, err[512] = "", hex[2 * NDX_SHA256_LEN + 1], from[NDX_TIME_TEXT_LEN],
	     to[NDX_TIME_TEXT_LEN], made[NDX_TIME_TEXT_LEN];
	struct ndx_usage *u = NULL;
	struct ndx_conf *conf = NULL;
	const struct ndx_key *key;
	uint8_t hash[NDX_SHA256_LEN];
	json_t *list = NULL;
	size_t i;
	int rc = -1;

	if (only_keys(body, keys, e))
		return -1;
	if (json_is_string(sv))
		text = strdup(json_string_value(sv));
	else if (json_is_object(sv))
		text = json_dumps(sv, JSON_COMPACT);
	if (!text || !*text ||
	    ndx_usage_parse(text, strlen(text), &u, err, sizeof err) != NDX_OK) {
		e->fields = json_pack("{ss}", "statement", sv ? "invalid" : "required");
		perr_set(e, 422, "validation", "statement: %s", err[0] ? err : "required");
		goto out;
	}
	if (negotiations_of(p, w->member, &list, e))
		goto out;
	json_array_foreach(list, i, row) {
		const char *a = json_string_value(json_object_get(row, "agreement_id"));
		if (!n && a && strcmp(a, u->agreement) == 0)
			n = row;
	}
	if (!n) {
		perr_set(e, 404, "not_found", "no agreement of your member with this id");
		goto out;
	}
	against_agreement(u, n, err, sizeof err);
	if (!err[0]) {
		if (verified_conf(p, &conf, e))
			goto out;
		if (!(key = gateway_key(conf, u->gateway)))
			snprintf(err, sizeof err, "its signer %s is not a gateway of the configuration",
				 u->gateway);
		else if (ndx_usage_check(u, key, err, sizeof err) == NDX_OK)
			err[0] = '\0';
		else if (!err[0])
			snprintf(err, sizeof err, "the statement does not verify");
	}
	ndx_usage_hash(u, hash);
	ndx_hex_encode(hash, sizeof hash, hex);
	ndx_time_format((time_t)(u->from_ms / 1000), from);
	ndx_time_format((time_t)(u->to_ms / 1000), to);
	ndx_time_format((time_t)(u->made_ms / 1000), made);
	*out = json_pack("{ss ss ss ss ss ss ss ss sI ss sI sI ss sb so s{ssss}}", "agreement",
			 u->agreement, "client", u->client, "service", u->service, "signer",
			 u->gateway, "side", sides[u->side == NDX_MSGLOG_PROVIDER ? 0 : 1], "from",
			 from, "to", to, "made_at", made, "price_vnd", (json_int_t)u->price,
			 "price_unit", ndx_usage_unit_name(u->unit), "count", (json_int_t)u->count,
			 "amount_vnd", (json_int_t)u->amount, "statement_hash", hex, "verified",
			 err[0] == '\0', "reason", err[0] ? json_string(err) : json_null(),
			 "own_log", "compared", "no", "why",
			 "the portal holds no message log: run ndx market check-statement on the "
			 "member's gateway host");
	rc = *out ? 0 : perr_set(e, 500, "internal", "out of memory");
	if (!rc)
		fprintf(stderr, "ndx-portal: market: statement of %s by %s checked for %s: %s\n",
			u->agreement, u->gateway, w->member, err[0] ? err : "verified");
out:
	ndx_conf_free(conf);
	json_decref(list);
	ndx_usage_free(u);
	free(text);
	return rc;
}

/* ---- invoices ------------------------------------------------------------------------ */

/* An invoice as the page shows it: the registry's record with the side the
 * member is on, the other party's name and, for an open invoice the member
 * buys, its VietQR code drawn and the banks' pages — only when the code
 * reads back as a VietQR for the invoice's own amount and reference, as a
 * fee's is checked (procedures.c). */
static json_t *invoice_view(const struct portal *p, const json_t *inv, const char *member,
			    const json_t *clients)
{
	const char *seller = json_string_value(json_object_get(inv, "seller"));
	const char *buyer = json_string_value(json_object_get(inv, "buyer"));
	const char *ref = json_string_value(json_object_get(inv, "reference"));
	const char *qr = json_string_value(json_object_get(inv, "vietqr"));
	const char *status = json_string_value(json_object_get(inv, "status"));
	json_int_t amount = json_integer_value(json_object_get(inv, "amount_vnd"));
	int sells = seller && strcmp(seller, member) == 0;
	const char *other = sells ? buyer : seller;
	json_t *v = json_deep_copy(inv);
	struct ndx_vietqr q;
	char label[160], back[512];

	if (!v)
		return NULL;
	json_object_set_new(v, "side", json_string(sells ? "seller" : "buyer"));
	if (clients && other && *exchange_member_name(clients, other))
		json_object_set_new(v, "other_name",
				    json_string(exchange_member_name(clients, other)));
	if (sells || !status || strcmp(status, "open") != 0 || !qr || !ref)
		return v;
	if (ndx_vietqr_decode(qr, &q, NULL) != NDX_OK || q.amount_vnd != (uint64_t)amount ||
	    strcmp(q.reference, ref) != 0) {
		fprintf(stderr, "ndx-portal: market: invoice %s: its VietQR code does not match it; "
				"not offered for payment\n", ref);
		json_object_del(v, "vietqr");
		return v;
	}
	snprintf(label, sizeof label, "VietQR: %lld VND, %s", (long long)amount, ref);
	snprintf(back, sizeof back, "%s/market/invoices", p->cfg->public_url);
	char *svg = pay_qr_svg(qr, label);
	if (svg)
		json_object_set_new(v, "svg", json_string(svg));
	free(svg);
	json_object_set_new(v, "banks", pay_bank_choices(p->cfg, back, qr));
	return v;
}

/* GET /api/market/invoices: the invoices the member sells or buys under,
 * as the registry recorded them (GET /market/invoices). */
static int r_invoices(const struct portal *p, const struct party *w, json_t **out,
		      struct perr *e)
{
	struct rres r;
	json_t *views, *clients = NULL;
	const json_t *inv;
	size_t i;

	if (registry_call(p, "GET", "/market/invoices", w->member, NULL, &r, e))
		return -1;
	if (r.status != 200 || !json_is_array(json_object_get(r.json, "invoices"))) {
		registry_refused("the invoices' list", &r, e);
		rres_clear(&r);
		return -1;
	}
	if (exchange_list_clients(p, &clients) != NDX_OK)
		clients = NULL;
	views = json_array();
	json_array_foreach(json_object_get(r.json, "invoices"), i, inv) {
		json_t *v = invoice_view(p, inv, w->member, clients);
		if (!views || !v || json_array_append_new(views, v)) {
			json_decref(views);
			views = NULL;
			break;
		}
	}
	json_decref(clients);
	rres_clear(&r);
	*out = views ? json_pack("{soss}", "invoices", views, "member", w->member) : NULL;
	return *out ? 0 : perr_set(e, 500, "internal", "out of memory");
}

/* POST /api/market/invoices {"statement", "bin", "account", "account_name"?}:
 * the seller records the invoice of a usage statement of one of its
 * agreements; the registry checks the statement from its own records
 * (docs/marketplace.md "Invoices and clearing") and answers the invoice,
 * 201 (200: recorded already). Its refusals at the field they are about:
 * a statement that does not check or bills nothing 422 at statement, an
 * account VietQR cannot carry 422 at account, an agreement of which the
 * member is not the provider 404, a period invoiced already 409. */
static int r_invoice_record(const struct portal *p, const struct party *w, const json_t *body,
			    json_t **out, int *status, struct perr *e)
{
	static const char *const keys[] = { "statement", "bin", "account", "account_name", NULL };
	const char *bin = json_string_value(json_object_get(body, "bin"));
	const char *account = json_string_value(json_object_get(body, "account"));
	const json_t *sv = json_object_get(body, "statement"), *name = json_object_get(body,
										      "account_name");
	struct rres r;
	json_t *msg, *bad;

	if (only_keys(body, keys, e))
		return -1;
	/* Every field's error at once, as the form shows them. */
	if (!(bad = json_object()))
		return perr_set(e, 500, "internal", "out of memory");
	if (!sv || (json_is_string(sv) && !json_string_length(sv)))
		json_object_set_new(bad, "statement", json_string("required"));
	else if (!json_is_string(sv) && !json_is_object(sv))
		json_object_set_new(bad, "statement", json_string("invalid"));
	if (!bin || !*bin)
		json_object_set_new(bad, "bin", json_string(json_object_get(body, "bin") && !bin
								   ? "invalid" : "required"));
	else if (strlen(bin) != 6 || strspn(bin, "0123456789") != 6)
		json_object_set_new(bad, "bin", json_string("invalid"));
	if (!account || !*account) {
		json_object_set_new(bad, "account", json_string(json_object_get(body, "account") &&
									  !account
								  ? "invalid" : "required"));
	} else if (!json_object_get(bad, "bin")) {
		/* The account as the invoice's VietQR transfer carries it, checked
		 * here by the encoder the registry uses, so that the registry's
		 * refusals are all the statement's. */
		struct ndx_vietqr q = { .amount_vnd = 1 };
		char payload[NDX_VIETQR_PAYLOAD_MAX];
		int fits = strlen(account) <= NDX_VIETQR_ACCOUNT_MAX;

		snprintf(q.bin, sizeof q.bin, "%s", bin);
		snprintf(q.account, sizeof q.account, "%s", account);
		if (!fits || ndx_vietqr_encode(&q, payload, sizeof payload, NULL) != NDX_OK)
			json_object_set_new(bad, "account", json_string("invalid"));
	}
	if (name && !json_is_string(name))
		json_object_set_new(bad, "account_name", json_string("invalid"));
	if (json_object_size(bad)) {
		const char *k = json_object_iter_key(json_object_iter(bad));
		e->fields = bad;
		return perr_set(e, 422, "validation", "%s: %s", k,
				json_string_value(json_object_get(bad, k)));
	}
	json_decref(bad);
	msg = json_pack("{sOssss}", "statement", sv, "bin", bin, "account", account);
	if (msg && name && json_string_length(name))
		json_object_set(msg, "account_name", (json_t *)name);
	if (!msg)
		return perr_set(e, 500, "internal", "out of memory");
	if (registry_call(p, "POST", "/market/invoices", w->member, msg, &r, e)) {
		json_decref(msg);
		return -1;
	}
	json_decref(msg);
	if (r.status == 200 || r.status == 201) {
		*status = (int)r.status;
		*out = invoice_view(p, r.json, w->member, NULL);
		fprintf(stderr, "ndx-portal: market: invoice %s recorded for %s (%ld)\n",
			json_string_value(json_object_get(r.json, "reference")), w->member, r.status);
		rres_clear(&r);
		return *out ? 0 : perr_set(e, 500, "internal", "out of memory");
	}
	const char *detail = json_string_value(json_object_get(r.json, "detail"));
	int rc;
	fprintf(stderr, "ndx-portal: market: invoice for %s refused: HTTP %ld %s: %s\n", w->member,
		r.status, r.type, detail ? detail : "");
	if (r.status == 400) {
		e->fields = json_pack("{ss}", "statement", "invalid");
		rc = perr_set(e, 422, "validation", "statement: %s", detail ? detail : "refused");
	} else if (r.status == 404 || r.status == 403) {
		rc = perr_set(e, 404, "not_found", "no agreement of your member as its provider "
						   "has this statement");
	} else if (r.status == 409) {
		rc = perr_set(e, 409, "conflict", "%s", detail ? detail : "invoiced already");
	} else {
		rc = registry_refused("the invoice", &r, e);
	}
	rres_clear(&r);
	return rc;
}

/* ---- the gate and the routes ----------------------------------------------------------- */

static void reply_error(struct ndx_http_resp *resp, int status, const char *code, const char *msg)
{
	struct perr e = { 0 };
	perr_set(&e, status, code, "%s", msg);
	api_reply_error(resp, &e);
}

void market_handle(const struct portal *p, const struct ndx_http_req *req,
		   struct ndx_http_resp *resp)
{
	const char *rest = req->path + strlen("/api/market/");
	int get = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
	int post = strcmp(req->method, "POST") == 0, have, rc = 0, status = 200;
	char id[ID_MAX + 2] = "";
	const char *slash;
	struct psession s;
	struct party w = { 0 };
	struct perr e = { 0 };
	json_t *body = NULL, *out = NULL;
	enum { DATASETS, DATASET, ME, NEGOTIATIONS, REQUEST, DECISION, PUBLISHED, PUBLISH,
	       WITHDRAW, END, STATEMENT, INVOICES, INVOICE } route;

	if (strcmp(rest, "datasets") == 0 && get)
		route = DATASETS;
	else if (strncmp(rest, "datasets/", 9) == 0 && get && !strchr(rest + 9, '/') &&
		 strlen(rest + 9) <= ID_MAX)
		route = DATASET;
	else if (strcmp(rest, "me") == 0 && get)
		route = ME;
	else if (strcmp(rest, "negotiations") == 0 && get)
		route = NEGOTIATIONS;
	else if (strcmp(rest, "requests") == 0 && post)
		route = REQUEST;
	else if (strncmp(rest, "negotiations/", 13) == 0 && post &&
		 (slash = strchr(rest + 13, '/')) && strcmp(slash, "/decision") == 0 &&
		 (size_t)(slash - (rest + 13)) <= ID_MAX)
		route = DECISION;
	else if (strcmp(rest, "published") == 0 && get)
		route = PUBLISHED;
	else if (strcmp(rest, "datasets") == 0 && post)
		route = PUBLISH;
	else if (strncmp(rest, "datasets/", 9) == 0 && post &&
		 (slash = strchr(rest + 9, '/')) && strcmp(slash, "/withdrawal") == 0 &&
		 (size_t)(slash - (rest + 9)) <= ID_MAX)
		route = WITHDRAW;
	else if (strncmp(rest, "agreements/", 11) == 0 && post &&
		 (slash = strchr(rest + 11, '/')) && strcmp(slash, "/termination") == 0 &&
		 (size_t)(slash - (rest + 11)) <= ID_MAX)
		route = END;
	else if (strcmp(rest, "statements/check") == 0 && post)
		route = STATEMENT;
	else if (strcmp(rest, "invoices") == 0 && get)
		route = INVOICES;
	else if (strcmp(rest, "invoices") == 0 && post)
		route = INVOICE;
	else {
		reply_error(resp, 404, "not_found", "no such route");
		return;
	}
	if (route == WITHDRAW)
		snprintf(id, sizeof id, "%.*s", (int)(strchr(rest + 9, '/') - (rest + 9)), rest + 9);
	if (route == END)
		snprintf(id, sizeof id, "%.*s", (int)(strchr(rest + 11, '/') - (rest + 11)),
			 rest + 11);
	if (route == DATASET)
		snprintf(id, sizeof id, "%s", rest + 9);
	if (route == DECISION)
		snprintf(id, sizeof id, "%.*s", (int)(strchr(rest + 13, '/') - (rest + 13)),
			 rest + 13);
	if (!p->cfg->market_registry_url) {
		reply_error(resp, 503, "not_configured", "the marketplace is not configured");
		return;
	}
	have = auth_session(p, req, &s) == NDX_OK;
	if (have)
		party_of(p, &s, &w);
	if (route != DATASETS && route != DATASET) {
		if (!have) {
			reply_error(resp, 401, "unauthenticated", "sign in first");
			return;
		}
		if (!w.member[0]) {
			fprintf(stderr, "ndx-portal: market: refused %s %s: not an officer or agency "
					"official of a member\n", req->method, req->path);
			reply_error(resp, 403, "not_a_party",
				    "the marketplace's requests are for the officers and officials "
				    "of members");
			goto out;
		}
	}
	if (post) {
		if (!api_csrf_ok(req, &s)) {
			reply_error(resp, 403, "csrf", "the X-CSRF-Token header is missing or wrong");
			goto out;
		}
		if (api_body(req, resp, &body))
			goto out;
	}
	switch (route) {
	case DATASETS:
		rc = r_datasets(p, req, w.member[0] ? w.member : NULL, &out, &e);
		break;
	case DATASET:
		rc = r_dataset(p, id, w.member[0] ? w.member : NULL, &out, &e);
		break;
	case ME: {
		char *cred = credential_read(p, w.member);
		struct ndx_id mid;
		ndx_id_parse(w.member, strlen(w.member), NDX_ID_MEMBER, &mid, NULL);
		json_t *clients = NULL, *subs = json_array();
		const json_t *c;
		size_t i, mlen = strlen(w.member);
		if (exchange_list_clients(p, &clients) != NDX_OK)
			clients = NULL;
		json_array_foreach(clients, i, c) {
			const char *cid = json_string_value(json_object_get(c, "id"));
			if (subs && cid && strncmp(cid, w.member, mlen) == 0 && cid[mlen] == '/')
				json_array_append_new(subs, json_string(cid));
		}
		out = json_pack("{ssssssss*sbsoss}", "member", w.member, "via", w.via, "name", s.name,
				"class", ndx_policy_class_name(ndx_policy_class_of_member(
						 mid.member_class)),
				"enrolled", cred != NULL, "subsystems", subs ? subs : json_array(),
				"member_name", clients ? exchange_member_name(clients, w.member) : "");
		json_decref(clients);
		if (cred) {
			OPENSSL_cleanse(cred, strlen(cred));
			free(cred);
		}
		rc = out ? 0 : perr_set(&e, 500, "internal", "out of memory");
		break;
	}
	case NEGOTIATIONS:
		rc = r_negotiations(p, &w, &out, &e);
		break;
	case REQUEST:
		rc = r_request(p, &w, body, &out, &status, &e);
		break;
	case DECISION:
		rc = r_decision(p, &w, id, body, &out, &e);
		break;
	case PUBLISHED:
		rc = r_published(p, &w, &out, &e);
		break;
	case PUBLISH:
		rc = r_publish(p, &w, body, &out, &status, &e);
		break;
	case WITHDRAW:
		rc = r_withdraw(p, &w, id, body, &out, &e);
		break;
	case END:
		rc = r_end(p, &w, id, body, &out, &e);
		break;
	case STATEMENT:
		rc = r_statement_check(p, &w, body, &out, &e);
		break;
	case INVOICES:
		rc = r_invoices(p, &w, &out, &e);
		break;
	case INVOICE:
		rc = r_invoice_record(p, &w, body, &out, &status, &e);
		break;
	}
	if (rc) {
		if (e.status == 403 || e.status == 404)
			fprintf(stderr, "ndx-portal: market: refused %s %s (%s of %s): %s\n",
				req->method, req->path, w.via ? w.via : "visitor",
				w.member[0] ? w.member : "no member", e.message);
		api_reply_error(resp, &e);
	} else {
		ndx_http_resp_json(resp, status, out);
	}
out:
	json_decref(body);
	if (have)
		psession_clear(&s);
}
