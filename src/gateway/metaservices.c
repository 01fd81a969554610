/* The X-Road metaservices on the consumer port (docs/protocol.md
 * "Metaservices"), answered in the published formats: listClients as
 * PR-META §2 and Annex A/B/C.1 have it (the members and subsystems of the
 * held global configuration, XML `clientList` or, asked with
 * `Accept: application/json`, the JSON form), listMethods and
 * allowedMethods as PR-MREST §4 and Annex B have it (`{"service":[...]}`
 * with each service's `endpoint_list`). getOpenAPI (PR-MREST §5) fetches the
 * document from the registry and hands it out only when its SHA-256 is the
 * openapi_sha256 the signed configuration names, so an unsigned channel
 * cannot change it.
 *
 * libxml2 is not a dependency of ndx; the one XML answer is small and fixed,
 * so it is written here with every text escaped (xml_text). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gateway.h"
#include "xfer.h"
#include "confstate.h"
#include "reqfront.h"
#include "ndx/buf.h"
#include "ndx/encode.h"
#include "ndx/err.h"

#define OPENAPI_MAX (16u * 1024u * 1024u)
/* PR-META Annex A: the answer's namespace and that of the identifiers. */
#define XROAD_NS "http://x-road.eu/xsd/xroad.xsd"
#define ID_NS "http://x-road.eu/xsd/identifiers"

enum meta { META_NONE = -1, META_LIST_CLIENTS, META_LIST_METHODS, META_ALLOWED_METHODS,
	    META_GET_OPENAPI, META_LIST_EVENT_TYPES };

/* listEventTypes is ndx's own (docs/events.md): X-Road has no events. */
static const char *const meta_names[] = { "listClients", "listMethods", "allowedMethods",
					  "getOpenAPI", "listEventTypes" };

/* ---- refusals ------------------------------------------------------------ */

/* An X-Road error (docs/protocol.md "Errors"): detail is "{reason}" or
 * "{reason}: {specifics}", reason being the word of the gateway's error
 * table, so that the change to that table is one call here. */
static void refuse(struct ndx_http_resp *resp, enum gw_reason reason, const char *message,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* A refusal of errors.h's table; the metaservices answer JSON errors (their
 * own answers follow Accept, their errors PR-REST's default). */
static void refuse(struct ndx_http_resp *resp, enum gw_reason reason, const char *message,
		   const char *fmt, ...)
{
	char spec[896];
	va_list ap;

	spec[0] = '\0';
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(spec, sizeof spec, fmt, ap);
		va_end(ap);
	}
	gw_refusal(resp, NULL, reason, GW_SIDE_CONSUMER, spec, "%s", message);
}

/* ---- an append-only text buffer for the XML answer ------------------------ */

struct xbuf {
	struct ndx_buf text; /* NDX_BUF_NO_CAP: the configuration bounds it */
	bool oom;            /* sticky: the builders need not check each append */
};

static void xb_add(struct xbuf *b, const char *s, size_t n)
{
	if (!b->oom && ndx_buf_append(&b->text, s, n) != NDX_OK)
		b->oom = true;
}

static void xb_str(struct xbuf *b, const char *s)
{
	xb_add(b, s, strlen(s));
}

/* Appends s as XML character data or attribute value: & < > " ' become
 * entities; a character XML 1.0 does not allow (C0 controls other than tab,
 * LF and CR; U+FFFE, U+FFFF) becomes U+FFFD. s is UTF-8 (jansson checked
 * it when the configuration was loaded). */
static void xml_text(struct xbuf *b, const char *s)
{
	static const char fffd[] = "\xEF\xBF\xBD";
	const unsigned char *u = (const unsigned char *)s;

	for (size_t i = 0; u[i]; i++) {
		switch (u[i]) {
		case '&': xb_str(b, "&amp;"); continue;
		case '<': xb_str(b, "&lt;"); continue;
		case '>': xb_str(b, "&gt;"); continue;
		case '"': xb_str(b, "&quot;"); continue;
		case '\'': xb_str(b, "&apos;"); continue;
		default: break;
		}
		if (u[i] < 0x20 && u[i] != '\t' && u[i] != '\n' && u[i] != '\r') {
			xb_str(b, fffd);
		} else if (u[i] == 0xEF && u[i + 1] == 0xBF && (u[i + 2] == 0xBE || u[i + 2] == 0xBF)) {
			xb_str(b, fffd);
			i += 2;
		} else {
			xb_add(b, (const char *)u + i, 1);
		}
	}
}

static void xml_elem(struct xbuf *b, const char *tag, const char *text)
{
	xb_str(b, "<");
	xb_str(b, tag);
	xb_str(b, ">");
	xml_text(b, text);
	xb_str(b, "</");
	xb_str(b, tag);
	xb_str(b, ">");
}

/* ---- listClients (PR-META §2) ------------------------------------------- */

/* True when the media range r[0..n) (without its parameters) is
 * application/json and its quality, if given, is not zero. */
static bool range_is_json(const char *r, size_t n)
{
	const char *semi = memchr(r, ';', n), *end = r + n;
	size_t tn = semi ? (size_t)(semi - r) : n;

	while (tn && (r[tn - 1] == ' ' || r[tn - 1] == '\t'))
		tn--;
	if (tn != 16 || strncasecmp(r, "application/json", 16) != 0)
		return false;
	for (const char *q = semi; q; q = memchr(q + 1, ';', (size_t)(end - q - 1))) {
		const char *v = q + 1;

		while (v < end && (*v == ' ' || *v == '\t'))
			v++;
		if (end - v < 2 || (v[0] != 'q' && v[0] != 'Q') || v[1] != '=')
			continue;
		/* q=0, q=0.0, q=0.000: not acceptable (RFC 9110 12.4.2). */
		for (v += 2; v < end && (*v == '0' || *v == '.'); v++)
			;
		if (v == end || *v == ';' || *v == ' ' || *v == '\t')
			return false;
	}
	return true;
}

/* True when an Accept header names application/json (PR-META §2: then
 * the answer is JSON, else XML). */
static bool accepts_json(const char *accept)
{
	for (const char *p = accept; p && *p;) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);

		while (n && (*p == ' ' || *p == '\t'))
			p++, n--;
		if (range_is_json(p, n))
			return true;
		p = end ? end + 1 : NULL;
	}
	return false;
}

/* One client of PR-META Annex A's ClientType, in JSON (Annex B) ... */
static json_t *client_json(const struct ndx_id *id, const char *name, const char *subsystem_name)
{
	json_t *idj = json_pack("{ssssssss}", "object_type", id->subsystem[0] ? "SUBSYSTEM" : "MEMBER",
				"xroad_instance", id->instance, "member_class", id->member_class,
				"member_code", id->member_code);
	json_t *out;

	if (idj && id->subsystem[0])
		json_object_set_new(idj, "subsystem_code", json_string(id->subsystem));
	out = json_pack("{so}", "id", idj);
	if (out && name)
		json_object_set_new(out, "name", json_string(name));
	if (out && subsystem_name)
		json_object_set_new(out, "subsystem_name", json_string(subsystem_name));
	return out;
}

/* ... and in XML (Annex A, Annex C.1). */
static void client_xml(struct xbuf *b, const struct ndx_id *id, const char *name,
		       const char *subsystem_name)
{
	xb_str(b, "<xroad:member><xroad:id id:objectType=\"");
	xb_str(b, id->subsystem[0] ? "SUBSYSTEM" : "MEMBER");
	xb_str(b, "\">");
	xml_elem(b, "id:xRoadInstance", id->instance);
	xml_elem(b, "id:memberClass", id->member_class);
	xml_elem(b, "id:memberCode", id->member_code);
	if (id->subsystem[0])
		xml_elem(b, "id:subsystemCode", id->subsystem);
	xb_str(b, "</xroad:id>");
	if (name)
		xml_elem(b, "xroad:name", name);
	if (subsystem_name)
		xml_elem(b, "xroad:subsystemName", subsystem_name);
	xb_str(b, "</xroad:member>");
}

struct client_list {
	bool json;
	json_t *arr;   /* json */
	struct xbuf x; /* xml */
};

static void client_add(struct client_list *cl, const struct ndx_id *id, const char *name,
		       const char *subsystem_name)
{
	if (cl->json)
		json_array_append_new(cl->arr, client_json(id, name, subsystem_name));
	else
		client_xml(&cl->x, id, name, subsystem_name);
}

/* Every member of conf, each followed by its subsystems, in the order of
 * the configuration (as PR-META Annex C.1 lists them). */
static void list_all_clients(const struct ndx_conf *conf, struct client_list *cl)
{
	const struct ndx_conf_member *m;
	const struct ndx_conf_subsystem *sub;
	json_t *subs_of = json_object(), *arr, *k; /* member id -> [subsystem indexes] */
	size_t i, j;

	for (i = 0; subs_of && (sub = ndx_conf_subsystem_at(conf, i)); i++) {
		if (!(arr = json_object_get(subs_of, sub->member))) {
			arr = json_array();
			json_object_set_new(subs_of, sub->member, arr);
		}
		json_array_append_new(arr, json_integer((json_int_t)i));
	}
	for (i = 0; (m = ndx_conf_member_at(conf, i)); i++) {
		struct ndx_id mid;

		if (ndx_id_parse(m->id, strlen(m->id), NDX_ID_MEMBER, &mid, NULL) != NDX_OK)
			continue;
		client_add(cl, &mid, m->name, NULL);
		json_array_foreach(json_object_get(subs_of, m->id), j, k) {
			struct ndx_id sid;

			sub = ndx_conf_subsystem_at(conf, (size_t)json_integer_value(k));
			if (ndx_id_parse(sub->id, strlen(sub->id), NDX_ID_SUBSYSTEM, &sid, NULL) ==
			    NDX_OK)
				client_add(cl, &sid, m->name, sub->name);
		}
	}
	json_decref(subs_of);
}

/* True when the raw query names argument `name` (present, whatever its
 * value: ndx_http_query_arg cannot tell an absent argument from a badly
 * escaped one). */
static bool query_has(const char *query, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = query; p && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL)
		if (strncmp(p, name, n) == 0 && (p[n] == '=' || p[n] == '&' || !p[n]))
			return true;
	return false;
}

/* A value that could be an instance code: 1..NDX_ID_PART_MAX bytes, no
 * '/' and no control character (a finer check is pointless: a code that is
 * not the held instance's lists no clients). */
static bool instance_code_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > NDX_ID_PART_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f || s[i] == '/')
			return false;
	return true;
}

static void list_clients(const struct ndx_conf *conf, const struct ndx_http_req *req,
			 struct ndx_http_resp *resp)
{
	const char *inst = ndx_http_query_arg(req, "xRoadInstance"), *accept;
	struct client_list cl = { .x = { .text = NDX_BUF_INIT(NDX_BUF_NO_CAP) } };
	bool ok;

	if (!inst && query_has(req->query, "xRoadInstance")) {
		refuse(resp, GW_R_METASERVICE_QUERY,
		       "xRoadInstance is badly percent-encoded", NULL);
		return;
	}
	if (inst && !instance_code_ok(inst)) {
		refuse(resp, GW_R_METASERVICE_QUERY,
		       "xRoadInstance is not an X-Road instance code",
		       "xRoadInstance must be 1..%d characters without '/' or control characters",
		       NDX_ID_PART_MAX);
		return;
	}
	accept = gw_header(req, "Accept", &ok);
	cl.json = ok && accepts_json(accept);
	if (cl.json && !(cl.arr = json_array()))
		goto oom;
	if (!cl.json)
		xb_str(&cl.x, "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"
			      "<xroad:clientList xmlns:xroad=\"" XROAD_NS "\" xmlns:id=\"" ID_NS "\">");
	/* PR-META §2: the clients of the instance asked for. This gateway
	 * holds its own instance's configuration only; any other instance
	 * has, as far as it knows, no clients. */
	if (!inst || strcmp(inst, ndx_conf_instance(conf)) == 0)
		list_all_clients(conf, &cl);
	if (cl.json) {
		ndx_http_resp_json(resp, 200, json_pack("{so}", "member", cl.arr));
		return;
	}
	xb_str(&cl.x, "</xroad:clientList>\n");
	if (cl.x.oom)
		goto oom;
	ndx_http_resp_bytes(resp, 200, "text/xml; charset=UTF-8", cl.x.text.data, cl.x.text.len);
	ndx_buf_free(&cl.x.text);
	return;
oom:
	ndx_buf_free(&cl.x.text);
	json_decref(cl.arr);
	refuse(resp, GW_R_INTERNAL, "out of memory", NULL);
}

/* ---- listMethods, allowedMethods (PR-MREST §4) ---------------------------- */

static bool of_subsystem(const char *service_id, const char *subsystem)
{
	size_t n = strlen(subsystem);
	return service_id && strncmp(service_id, subsystem, n) == 0 && service_id[n] == '/';
}

/* An ndx grant path is an fnmatch(3) pattern without FNM_PATHNAME, so its
 * '*' also matches '/': X-Road writes that wildcard "**" ("*" is one path
 * segment there). "*" alone (every path) becomes "**". */
static json_t *xroad_path(const char *pattern)
{
	size_t n = strlen(pattern), stars = 0;
	char *out, *o;
	json_t *j;

	for (size_t i = 0; i < n; i++)
		stars += pattern[i] == '*';
	if (!(o = out = malloc(n + stars + 1)))
		return NULL;
	for (size_t i = 0; i < n; i++) {
		/* A run of stars is one wildcard. */
		if (pattern[i] == '*') {
			while (i + 1 < n && pattern[i + 1] == '*')
				i++;
			*o++ = '*';
			*o++ = '*';
		} else {
			*o++ = pattern[i];
		}
	}
	*o = '\0';
	j = json_string(out);
	free(out);
	return j;
}

static void endpoint_add(json_t *list, const char *method, json_t *path)
{
	json_t *e = json_pack("{ssso}", "method", method, "path", path), *have;
	size_t i;

	if (!e)
		return;
	json_array_foreach(list, i, have)
		if (json_equal(have, e)) {
			json_decref(e);
			return;
		}
	json_array_append_new(list, e);
}

/* A service as PR-MREST Annex B writes it, with an empty endpoint_list;
 * NULL when its id is not a service id. */
static json_t *service_entry(const struct ndx_conf_service *svc)
{
	struct ndx_id sid;

	if (ndx_id_parse(svc->id, strlen(svc->id), NDX_ID_SERVICE, &sid, NULL) != NDX_OK)
		return NULL;
	return json_pack("{ssssssssssssssso}", "object_type", "SERVICE", "xroad_instance",
			 sid.instance, "member_class", sid.member_class, "member_code",
			 sid.member_code, "subsystem_code", sid.subsystem, "service_code",
			 sid.service, "service_type", svc->openapi_sha256 ? "OPENAPI" : "REST",
			 "endpoint_list", json_array());
}

/* listMethods: every service of the subsystem. The configuration declares
 * no endpoints for a service, so each has the one X-Road gives a service
 * whose endpoints are not declared: any method, any path. */
static void list_methods(const struct ndx_conf *conf, const char *subsystem,
			 struct ndx_http_resp *resp)
{
	const struct ndx_conf_service *s;
	json_t *out = json_array(), *e;

	for (size_t i = 0; (s = ndx_conf_service_at(conf, i)); i++) {
		if (!of_subsystem(s->id, subsystem) || !(e = service_entry(s)))
			continue;
		endpoint_add(json_object_get(e, "endpoint_list"), "*", json_string("**"));
		json_array_append_new(out, e);
	}
	ndx_http_resp_json(resp, 200, json_pack("{so}", "service", out));
}

/* allowedMethods: the services of the subsystem that client holds grants
 * on, in the configuration's order, each grant's methods times its paths
 * as the endpoints. */
static void allowed_methods(const struct ndx_conf *conf, const char *client,
			    const char *subsystem, struct ndx_http_resp *resp)
{
	const struct ndx_conf_service *s;
	const struct ndx_conf_grant *g;
	json_t *grants_of = json_object(), *out = json_array(), *arr, *e, *k;
	size_t i, j;

	/* The client's grants on the subsystem, by service: one pass each. */
	for (i = 0; grants_of && (g = ndx_conf_grant_at(conf, i)); i++) {
		if (strcmp(g->client, client) != 0 || !of_subsystem(g->service, subsystem))
			continue;
		if (!(arr = json_object_get(grants_of, g->service))) {
			arr = json_array();
			json_object_set_new(grants_of, g->service, arr);
		}
		json_array_append_new(arr, json_integer((json_int_t)i));
	}
	for (i = 0; (s = ndx_conf_service_at(conf, i)); i++) {
		arr = json_object_get(grants_of, s->id);
		if (!arr || !(e = service_entry(s)))
			continue;
		json_array_foreach(arr, j, k) {
			g = ndx_conf_grant_at(conf, (size_t)json_integer_value(k));
			for (size_t m = 0; m < g->nmethods; m++)
				for (size_t p = 0; p < g->npaths; p++)
					endpoint_add(json_object_get(e, "endpoint_list"),
						     g->methods[m], xroad_path(g->paths[p]));
		}
		json_array_append_new(out, e);
	}
	json_decref(grants_of);
	ndx_http_resp_json(resp, 200, json_pack("{so}", "service", out));
}

/* listEventTypes: the event types of the subsystem's services with their
 * schemas, and whether client holds a subscription to each (events.md). */
static void list_event_types(const struct ndx_conf *conf, const char *client,
			     const char *subsystem, struct ndx_http_resp *resp)
{
	const struct ndx_conf_event_type *et;
	json_t *out = json_array();

	for (size_t i = 0; (et = ndx_conf_event_type_at(conf, i)); i++) {
		const struct ndx_conf_subscription *sub;
		json_t *e;

		if (!of_subsystem(et->service, subsystem))
			continue;
		sub = ndx_conf_subscription(conf, client, et->service, et->name);
		if (!(e = json_object()))
			continue;
		json_object_set_new(e, "service", json_string(et->service));
		json_object_set_new(e, "name", json_string(et->name));
		json_object_set_new(e, "title", et->title ? json_string(et->title) : json_null());
		/* A copy: the configuration is shared by every thread and stays
		 * untouched, its reference counts included. */
		json_object_set_new(e, "schema", json_deep_copy(et->schema));
		json_object_set_new(e, "subscribed", json_boolean(sub != NULL));
		if (sub && sub->purpose)
			json_object_set_new(e, "purpose", json_string(sub->purpose));
		json_array_append_new(out, e);
	}
	ndx_http_resp_json(resp, 200, json_pack("{so}", "event_type", out));
}

/* ---- getOpenAPI (PR-MREST §5) ------------------------------------------- */

static void get_openapi(struct gw_ctx *g, const struct gw_view *v, const char *subsystem,
			const struct ndx_http_req *req, struct ndx_http_resp *resp)
{
	const char *code = ndx_http_query_arg(req, "serviceCode"), *want;
	char id_text[NDX_ID_TEXT_MAX + NDX_ID_PART_MAX + 2], wire[NDX_ID_TEXT_MAX], url[4096],
		hex[2 * NDX_SHA256_LEN + 1];
	struct ndx_id sid;
	const struct ndx_conf_service *svc;
	const char *why = NULL;
	uint8_t md[NDX_SHA256_LEN];
	struct gw_xfer_resp r = { 0 };
	CURL *c;

	if (!code) {
		refuse(resp, GW_R_METASERVICE_QUERY,
		       "getOpenAPI needs ?serviceCode=CODE",
		       query_has(req->query, "serviceCode") ? "serviceCode is badly percent-encoded"
							    : "serviceCode is missing");
		return;
	}
	snprintf(id_text, sizeof id_text, "%s/%s", subsystem, code);
	if (ndx_id_parse(id_text, strlen(id_text), NDX_ID_SERVICE, &sid, &why) != NDX_OK) {
		refuse(resp, GW_R_INVALID_SERVICE, "malformed serviceCode",
		       "%s", why ? why : "not a service code");
		return;
	}
	ndx_id_format(&sid, id_text, sizeof id_text);
	svc = ndx_conf_service_of(v->c->conf, id_text);
	if (!svc) {
		refuse(resp, GW_R_UNKNOWN_SERVICE,
		       "the service is not in the global configuration", "%s", id_text);
		return;
	}
	want = svc->openapi_sha256;
	if (!want) {
		refuse(resp, GW_R_UNKNOWN_SERVICE,
		       "the service has no OpenAPI description", "%s has none", id_text);
		return;
	}
	ndx_id_format_wire(&sid, wire, sizeof wire);
	/* From each registry node in turn (registry_urls) until one answers:
	 * the document is checked against the configuration's hash, so any
	 * node's copy will do. */
	for (size_t i = 0; i < (g->cfg->n_registry_urls ? g->cfg->n_registry_urls : 1); i++) {
		snprintf(url, sizeof url, "%s/openapi/%s",
			 g->cfg->n_registry_urls ? g->cfg->registry_urls[i] : g->cfg->registry_url,
			 wire);
		c = gw_xfer_handle(GW_HANDLE_BACKEND);
		if (!c) {
			refuse(resp, GW_R_INTERNAL,
			       "cannot initialise libcurl", NULL);
			goto out;
		}
		gw_xfer_resp_free(&r);
		memset(&r, 0, sizeof r);
		r.cap = OPENAPI_MAX;
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, v->s->connect_timeout_ms);
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, v->s->peer_timeout_ms);
		if (gw_xfer_perform(c, "GET", NULL, 0, NULL, &r) == GW_XFER_OK && r.status == 200)
			break;
	}
	if (r.status != 200) {
		if (r.errbuf[0])
			refuse(resp, GW_R_REGISTRY_UNREACHABLE,
			       "the registry did not provide the OpenAPI document", "%s", r.errbuf);
		else
			refuse(resp, GW_R_REGISTRY_UNREACHABLE,
			       "the registry did not provide the OpenAPI document", "HTTP %ld",
			       r.status);
		goto out;
	}
	ndx_sha256(r.body ? r.body : "", r.len, md);
	ndx_hex_encode(md, sizeof md, hex);
	if (strcmp(hex, want) != 0) {
		refuse(resp, GW_R_OPENAPI_MISMATCH,
		       "the registry's OpenAPI document does not match the configuration", "%s",
		       id_text);
		goto out;
	}
	ndx_http_resp_bytes(resp, 200, "application/json", r.body ? r.body : "", r.len);
out:
	gw_xfer_resp_free(&r);
}

/* ---- dispatch ------------------------------------------------------------ */

/* Which metaservice path names: "/listClients", or
 * "/r1/{instance}/{class}/{member}/{subsystem}/{name}" (exactly five
 * segments, PR-MREST Annex A) with *id_len the length of the id part after
 * "/r1/". Anything else is an exchange (META_NONE): a path after a service
 * id ("/r1/.../svc/listMethods") is the service's. */
static enum meta classify(const char *path, size_t *id_len)
{
	const char *last, *p;
	int slashes = 0;

	if (strcmp(path, "/listClients") == 0)
		return META_LIST_CLIENTS;
	if (strncmp(path, "/r1/", 4) != 0)
		return META_NONE;
	for (p = path + 4; *p; p++)
		slashes += *p == '/';
	last = strrchr(path, '/');
	if (slashes != 4)
		return META_NONE;
	for (int i = META_LIST_METHODS; i <= META_LIST_EVENT_TYPES; i++)
		if (strcmp(last + 1, meta_names[i]) == 0) {
			*id_len = (size_t)(last - (path + 4));
			return (enum meta)i;
		}
	return META_NONE;
}

/* The caller of a REST metaservice: the last X-Road-Client (PR-REST §4.3,
 * mandatory there, and PR-MREST §4 calls the metaservices "regular X-Road
 * REST services"), a member or a subsystem of this gateway's member.
 * Writes its canonical id into client; refuses and returns false. */
static bool meta_client(const struct gw_view *v, const struct ndx_http_req *req, bool tls,
			struct ndx_http_resp *resp, char client[NDX_ID_TEXT_MAX])
{
	size_t len = 0;
	const char *hdr = ndx_http_header_last_n(req, "X-Road-Client", &len), *why = NULL;
	struct ndx_id cid;
	int slashes = 0;
	bool mine;

	if (!hdr) {
		refuse(resp, GW_R_INVALID_CLIENT,
		       "the X-Road-Client header is missing", NULL);
		return false;
	}
	/* Two slashes: a member (PR-REST §4.3: the subsystem code is
	 * optional); otherwise it must be a subsystem. */
	for (size_t i = 0; i < len; i++)
		slashes += hdr[i] == '/';
	if (!gw_rf_value_ok(hdr, len) ||
	    ndx_id_parse(hdr, len, slashes == 2 ? NDX_ID_MEMBER : NDX_ID_SUBSYSTEM, &cid, &why) !=
		    NDX_OK) {
		refuse(resp, GW_R_INVALID_CLIENT,
		       "X-Road-Client is not a member or subsystem id", "%s",
		       why ? why : "the value holds a control character or is too long");
		return false;
	}
	ndx_id_format(&cid, client, NDX_ID_TEXT_MAX);
	/* The same clients as for an exchange: listed in the gateway's
	 * configuration (a member id too) and in the global one. */
	mine = gw_settings_has_subsystem(v->s, client) && ndx_conf_has_client(v->c->conf, client);
	if (!mine) {
		refuse(resp, GW_R_UNKNOWN_CLIENT,
		       "not a client that may use this gateway", "%s", client);
		return false;
	}
	/* allowedMethods tells what a client may call: only to that client,
	 * connected as its configuration asks. */
	switch (gw_client_connection(v->s, client, req, tls)) {
	case GW_R_AUTHENTICATION_REQUIRED:
		refuse(resp, GW_R_AUTHENTICATION_REQUIRED,
		       "this client may use the gateway only over its TLS consumer port", "%s",
		       client);
		return false;
	case GW_R_AUTHENTICATION_FAILED:
		refuse(resp, GW_R_AUTHENTICATION_FAILED,
		       "this client must present one of its registered client certificates", "%s",
		       client);
		return false;
	default:
		return true;
	}
}

bool gw_metaservice(struct gw_ctx *g, const struct gw_view *v, const struct ndx_http_req *req,
		    struct ndx_http_resp *resp, bool tls)
{
	struct ndx_id sub;
	char subsystem[NDX_ID_TEXT_MAX], client[NDX_ID_TEXT_MAX];
	const char *why = NULL;
	size_t id_len = 0;
	enum meta which = classify(req->path, &id_len);

	if (which == META_NONE)
		return false;
	if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
		ndx_http_resp_header(resp, "Allow", "GET, HEAD");
		refuse(resp, GW_R_BAD_METHOD, "metaservices answer GET only",
		       "%s %s", req->method, meta_names[which]);
		return true;
	}
	if (which != META_LIST_CLIENTS &&
	    ndx_id_parse(req->path + 4, id_len, NDX_ID_SUBSYSTEM, &sub, &why) != NDX_OK) {
		refuse(resp, GW_R_INVALID_SERVICE,
		       "the service provider is not a subsystem id", "%s", why ? why : "malformed");
		return true;
	}
	if (!gw_view_live(v, time(NULL))) {
		refuse(resp, GW_R_NO_CONFIGURATION,
		       "the gateway holds no valid global configuration", NULL);
		return true;
	}
	if (which == META_LIST_CLIENTS) {
		list_clients(v->c->conf, req, resp);
		return true;
	}
	if (!meta_client(v, req, tls, resp, client))
		return true;
	ndx_id_format(&sub, subsystem, sizeof subsystem);
	if (!ndx_conf_subsystem(v->c->conf, subsystem)) {
		refuse(resp, GW_R_UNKNOWN_SERVICE,
		       "no such subsystem in the global configuration", "%s", subsystem);
		return true;
	}
	if (which == META_LIST_METHODS)
		list_methods(v->c->conf, subsystem, resp);
	else if (which == META_ALLOWED_METHODS)
		allowed_methods(v->c->conf, client, subsystem, resp);
	else if (which == META_LIST_EVENT_TYPES)
		list_event_types(v->c->conf, client, subsystem, resp);
	else
		get_openapi(g, v, subsystem, req, resp);
	return true;
}
