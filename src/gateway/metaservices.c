/* The X-Road metaservices on the consumer port (docs/protocol.md
 * "Metaservices"): listClients, listMethods and allowedMethods answer from
 * the held global configuration; getOpenAPI fetches the document from the
 * registry and hands it out only when its SHA-256 is the openapi_sha256 the
 * signed configuration names, so an unsigned channel cannot change it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway.h"
#include "ndx/encode.h"
#include "ndx/err.h"

#define OPENAPI_MAX (16u * 1024u * 1024u)

static json_t *service_entry(const json_t *svc)
{
	return json_pack("{sOsOsO}", "id", json_object_get(svc, "id"), "title",
			 json_object_get(svc, "title") ? json_object_get(svc, "title") : json_null(),
			 "personal",
			 json_object_get(svc, "personal") ? json_object_get(svc, "personal")
							  : json_false());
}

static bool of_subsystem(const json_t *svc, const char *subsystem)
{
	const char *id = json_string_value(json_object_get(svc, "id"));
	size_t n = strlen(subsystem);
	return id && strncmp(id, subsystem, n) == 0 && id[n] == '/';
}

static void list_clients(const struct ndx_conf *conf, struct ndx_http_resp *resp)
{
	const json_t *subs = json_object_get(ndx_conf_json(conf), "subsystems"), *s;
	json_t *out = json_array();
	size_t i;

	json_array_foreach(subs, i, s) {
		const char *id = json_string_value(json_object_get(s, "id"));
		struct ndx_id sid, mid;
		char member[NDX_ID_TEXT_MAX];
		const json_t *m = NULL;

		if (id && ndx_id_parse(id, strlen(id), NDX_ID_SUBSYSTEM, &sid, NULL) == NDX_OK &&
		    ndx_id_parent(&sid, NDX_ID_MEMBER, &mid) == NDX_OK &&
		    ndx_id_format(&mid, member, sizeof member) > 0)
			m = ndx_conf_member(conf, member);
		json_array_append_new(out, json_pack("{sssO}", "id", id ? id : "", "member_name",
						     json_object_get(m, "name")
							     ? json_object_get(m, "name")
							     : json_null()));
	}
	ndx_http_resp_json(resp, 200, json_pack("{so}", "clients", out));
}

static void list_methods(const struct ndx_conf *conf, const char *subsystem,
			 struct ndx_http_resp *resp)
{
	const json_t *svcs = json_object_get(ndx_conf_json(conf), "services"), *s;
	json_t *out = json_array();
	size_t i;

	json_array_foreach(svcs, i, s) {
		if (of_subsystem(s, subsystem))
			json_array_append_new(out, service_entry(s));
	}
	ndx_http_resp_json(resp, 200, json_pack("{so}", "services", out));
}

static void union_into(json_t *dst, const json_t *src)
{
	size_t i, j;
	const json_t *v, *w;
	json_array_foreach(src, i, v) {
		int seen = 0;
		json_array_foreach(dst, j, w)
			if (json_equal(v, w))
				seen = 1;
		if (!seen)
			json_array_append(dst, (json_t *)v);
	}
}

static void allowed_methods(const struct ndx_conf *conf, const char *client,
			    const char *subsystem, struct ndx_http_resp *resp)
{
	const json_t *grants = json_object_get(ndx_conf_json(conf), "grants"), *g;
	json_t *by_service = json_object(), *out = json_array(), *e;
	const char *sid;
	size_t i;

	json_array_foreach(grants, i, g) {
		const char *gc = json_string_value(json_object_get(g, "client"));
		const json_t *svc;

		sid = json_string_value(json_object_get(g, "service"));
		if (!gc || !sid || strcmp(gc, client) != 0)
			continue;
		svc = ndx_conf_service(conf, sid);
		if (!svc || !of_subsystem(svc, subsystem))
			continue;
		e = json_object_get(by_service, sid);
		if (!e) {
			e = service_entry(svc);
			json_object_set_new(e, "methods", json_array());
			json_object_set_new(e, "paths", json_array());
			json_object_set_new(by_service, sid, e);
			json_array_append(out, e);
		}
		union_into(json_object_get(e, "methods"), json_object_get(g, "methods"));
		union_into(json_object_get(e, "paths"), json_object_get(g, "paths"));
	}
	json_decref(by_service);
	ndx_http_resp_json(resp, 200, json_pack("{so}", "services", out));
}

static void get_openapi(struct gw_ctx *g, const struct gw_view *v, const char *subsystem,
			const struct ndx_http_req *req, struct ndx_http_resp *resp)
{
	const char *code = ndx_http_query_arg(req, "serviceCode"), *want;
	char id_text[NDX_ID_TEXT_MAX + NDX_ID_PART_MAX + 2], wire[NDX_ID_TEXT_MAX], url[4096],
		hex[2 * NDX_SHA256_LEN + 1];
	struct ndx_id sid;
	const json_t *svc;
	const char *why = NULL;
	uint8_t md[NDX_SHA256_LEN];
	struct gw_xfer_resp r = { 0 };
	CURL *c;

	if (!code) {
		ndx_http_resp_error(resp, 400, "Client.InvalidRequest",
				    "getOpenAPI needs ?serviceCode=CODE", NULL);
		return;
	}
	snprintf(id_text, sizeof id_text, "%s/%s", subsystem, code);
	if (ndx_id_parse(id_text, strlen(id_text), NDX_ID_SERVICE, &sid, &why) != NDX_OK) {
		ndx_http_resp_error(resp, 400, "Client.InvalidRequest", "malformed serviceCode", why);
		return;
	}
	ndx_id_format(&sid, id_text, sizeof id_text);
	svc = ndx_conf_service(v->c->conf, id_text);
	if (!svc) {
		ndx_http_resp_error(resp, 404, "Client.UnknownService",
				    "the service is not in the global configuration", id_text);
		return;
	}
	want = json_string_value(json_object_get(svc, "openapi_sha256"));
	if (!want) {
		ndx_http_resp_error(resp, 404, "Client.UnknownService",
				    "the service has no OpenAPI document", id_text);
		return;
	}
	ndx_id_format_wire(&sid, wire, sizeof wire);
	snprintf(url, sizeof url, "%s/openapi/%s", g->cfg->registry_url, wire);
	c = gw_xfer_handle(GW_HANDLE_BACKEND);
	if (!c) {
		ndx_http_resp_error(resp, 500, "Server.Internal", "cannot initialise libcurl", NULL);
		return;
	}
	r.cap = OPENAPI_MAX;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, v->s->connect_timeout_ms);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, v->s->peer_timeout_ms);
	if (gw_xfer_perform(c, "GET", NULL, 0, NULL, &r) != GW_XFER_OK || r.status != 200) {
		ndx_http_resp_error(resp, 502, "Server.ProviderUnreachable",
				    "the registry did not provide the OpenAPI document",
				    r.errbuf[0] ? r.errbuf : NULL);
		goto out;
	}
	ndx_sha256(r.body ? r.body : "", r.len, md);
	ndx_hex_encode(md, sizeof md, hex);
	if (strcmp(hex, want) != 0) {
		ndx_http_resp_error(resp, 502, "Server.ProviderUnreachable",
				    "the registry's OpenAPI document does not match the configuration",
				    id_text);
		goto out;
	}
	ndx_http_resp_bytes(resp, 200, "application/json", r.body ? r.body : "", r.len);
out:
	gw_xfer_resp_free(&r);
}

bool gw_metaservice(struct gw_ctx *g, const struct gw_view *v, const struct ndx_http_req *req,
		    struct ndx_http_resp *resp)
{
	static const char *const names[] = { "/listMethods", "/allowedMethods", "/getOpenAPI" };
	struct ndx_id sub;
	char subsystem[NDX_ID_TEXT_MAX], client[NDX_ID_TEXT_MAX];
	const char *rest, *hdr, *why = NULL;
	size_t consumed;
	int which = -1;

	if (strcmp(req->method, "GET") != 0)
		return false;
	if (strcmp(req->path, "/listClients") != 0) {
		if (strncmp(req->path, "/r1/", 4) != 0 ||
		    ndx_id_parse_prefix(req->path + 4, strlen(req->path + 4), NDX_ID_SUBSYSTEM, &sub,
					&consumed, NULL) != NDX_OK)
			return false;
		rest = req->path + 4 + consumed;
		for (int i = 0; i < 3; i++)
			if (strcmp(rest, names[i]) == 0)
				which = i;
		if (which < 0)
			return false;
		ndx_id_format(&sub, subsystem, sizeof subsystem);
	}
	if (!gw_view_live(v, time(NULL))) {
		ndx_http_resp_error(resp, 503, "Server.NoConfiguration",
				    "the gateway holds no valid global configuration", NULL);
		return true;
	}
	if (which < 0) {
		list_clients(v->c->conf, resp);
		return true;
	}
	if (!ndx_conf_subsystem(v->c->conf, subsystem)) {
		ndx_http_resp_error(resp, 404, "Client.UnknownService",
				    "no such subsystem in the global configuration", subsystem);
		return true;
	}
	if (which == 0) {
		list_methods(v->c->conf, subsystem, resp);
	} else if (which == 1) {
		struct ndx_id cid;
		bool ok;
		hdr = gw_header(req, "X-Road-Client", &ok);
		if (!hdr || !ok ||
		    ndx_id_parse(hdr, strlen(hdr), NDX_ID_SUBSYSTEM, &cid, &why) != NDX_OK) {
			ndx_http_resp_error(resp, 400, "Client.InvalidClient",
					    hdr ? "X-Road-Client is not a subsystem id"
						: "the X-Road-Client header is missing",
					    why);
			return true;
		}
		ndx_id_format(&cid, client, sizeof client);
		if (!gw_settings_has_subsystem(v->s, client) ||
		    !ndx_conf_subsystem(v->c->conf, client)) {
			ndx_http_resp_error(resp, 403, "Client.UnknownClient",
					    "not a subsystem that may use this gateway", client);
			return true;
		}
		allowed_methods(v->c->conf, client, subsystem, resp);
	} else {
		get_openapi(g, v, subsystem, req, resp);
	}
	return true;
}
