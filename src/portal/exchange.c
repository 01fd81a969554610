/* Calls through the portal's gateway and to the consent service
 * (exchange.h). The gateway does the signing, logging and authorisation;
 * this side only builds the consumer request, keeps the X-Road error type of
 * a refusal and the message id of an answer (the citizen is shown which
 * exchange read their record), and turns failures into the portal's 502
 * "exchange" without ever quoting a body, which may hold personal data. */
#include "exchange.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ndx/fetch.h"
#include "ndx/err.h"

#define HDR_MAX 12

static int hdr(char **lines, size_t *n, const char *name, const char *value)
{
	size_t len;

	if (!value)
		return NDX_OK;
	/* A value with CR/LF would smuggle headers: none of ours may carry one. */
	if (strpbrk(value, "\r\n"))
		return NDX_EINVAL;
	len = strlen(name) + strlen(value) + 3;
	if (*n + 1 >= HDR_MAX || !(lines[*n] = malloc(len)))
		return NDX_ENOMEM;
	snprintf(lines[*n], len, "%s: %s", name, value);
	(*n)++;
	return NDX_OK;
}

static void parse_body(const struct ndx_fetch_resp *fr, json_t **out)
{
	*out = NULL;
	if (fr->body && strncmp(fr->content_type, "application/json", 16) == 0)
		*out = json_loadb(fr->body, fr->len, 0, NULL);
}

int exchange_call(const struct portal *p, const struct xcall *c, struct xresult *out)
{
	char *lines[HDR_MAX] = { 0 }, *url = NULL, *body = NULL;
	struct ndx_fetch_resp fr = { 0 };
	struct ndx_fetch_req r = { .method = c->method, .timeout_ms = 15000 };
	size_t n = 0, ulen;
	int rc;

	memset(out, 0, sizeof *out);
	if ((rc = hdr(lines, &n, "X-Road-Client", p->cfg->client)) ||
	    (rc = hdr(lines, &n, "Ndx-Subject", c->subject)) ||
	    (rc = hdr(lines, &n, "Ndx-Purpose", c->purpose)) ||
	    (rc = hdr(lines, &n, "Ndx-Consent", c->consent)) ||
	    (rc = hdr(lines, &n, "Ndx-Subject-Token", c->subject_token)) ||
	    (rc = hdr(lines, &n, "X-Road-UserId", c->user_id)) ||
	    (rc = hdr(lines, &n, "X-Road-Issue", c->issue)) ||
	    (rc = hdr(lines, &n, "Accept", "application/json")) ||
	    (c->body && (rc = hdr(lines, &n, "Content-Type", "application/json"))))
		goto out;
	ulen = strlen(p->cfg->consumer_url) + strlen(c->service) + strlen(c->path) + 8;
	if (!(url = malloc(ulen))) {
		rc = NDX_ENOMEM;
		goto out;
	}
	snprintf(url, ulen, "%s/r1/%s%s", p->cfg->consumer_url, c->service, c->path);
	if (c->body && !(body = json_dumps(c->body, JSON_COMPACT))) {
		rc = NDX_ENOMEM;
		goto out;
	}
	r.url = url;
	r.headers = (const char *const *)lines;
	r.body = body;
	r.body_len = body ? strlen(body) : 0;
	if ((rc = ndx_fetch(&r, &fr)))
		goto out;
	out->status = fr.status;
	snprintf(out->type, sizeof out->type, "%s", fr.xroad_error);
	snprintf(out->message_id, sizeof out->message_id, "%s", fr.xroad_id);
	parse_body(&fr, &out->json);
	if (out->type[0]) {
		const char *d = json_string_value(json_object_get(out->json, "detail"));
		size_t words = d ? strcspn(d, ":") : 0;
		if (words < sizeof out->reason)
			snprintf(out->reason, sizeof out->reason, "%.*s", (int)words, d ? d : "");
	}
out:
	ndx_fetch_resp_free(&fr);
	for (size_t i = 0; i < n; i++)
		free(lines[i]);
	free(url);
	free(body);
	return rc;
}

void xresult_free(struct xresult *r)
{
	json_decref(r->json);
	r->json = NULL;
}

int exchange_fail(struct perr *e, const char *service, int rc, const struct xresult *r)
{
	if (rc != NDX_OK)
		return perr_set(e, 502, "exchange", "%s: %s", service,
				rc == NDX_ETOOBIG ? "answer too large" : "gateway unreachable");
	if (r->type[0])
		return perr_set(e, 502, "exchange", "%s: %s (%s)", service, r->type,
				r->reason[0] ? r->reason : "no reason given");
	return perr_set(e, 502, "exchange", "%s: HTTP %ld", service, r->status);
}

/* The subsystems of listClients' JSON answer (PR-META Annex B: entries
 * {"id":{object_type, xroad_instance, member_class, member_code,
 * subsystem_code},"name"}) as [{"id": "VN/GOV/BCA/population",
 * "member_name": …}]; NULL when memory runs out. */
static json_t *subsystems_of(const json_t *members)
{
	json_t *out = json_array();
	const json_t *m;
	size_t i;

	json_array_foreach(members, i, m) {
		const json_t *id = json_object_get(m, "id");
		const char *parts[4] = {
			json_string_value(json_object_get(id, "xroad_instance")),
			json_string_value(json_object_get(id, "member_class")),
			json_string_value(json_object_get(id, "member_code")),
			json_string_value(json_object_get(id, "subsystem_code")),
		};
		const char *name = json_string_value(json_object_get(m, "name"));
		char text[1024];

		if (!out)
			return NULL;
		if (!parts[0] || !parts[1] || !parts[2] || !parts[3] ||
		    (size_t)snprintf(text, sizeof text, "%s/%s/%s/%s", parts[0], parts[1],
				     parts[2], parts[3]) >= sizeof text)
			continue;
		if (json_array_append_new(out, json_pack("{ssss?}", "id", text, "member_name",
							  name)) != 0) {
			json_decref(out);
			return NULL;
		}
	}
	return out;
}

int exchange_list_clients(const struct portal *p, json_t **out)
{
	static const char *const hdrs[] = { "Accept: application/json", NULL };
	char url[2048];
	struct ndx_fetch_req r = { .method = "GET", .url = url, .headers = hdrs, .timeout_ms = 5000 };
	struct ndx_fetch_resp fr;
	json_t *doc = NULL;
	int rc;

	*out = NULL;
	snprintf(url, sizeof url, "%s/listClients", p->cfg->consumer_url);
	if ((rc = ndx_fetch(&r, &fr)))
		return rc;
	if (fr.status == 200)
		parse_body(&fr, &doc);
	ndx_fetch_resp_free(&fr);
	if (!json_is_array(json_object_get(doc, "member"))) {
		json_decref(doc);
		return NDX_EINVAL;
	}
	*out = subsystems_of(json_object_get(doc, "member"));
	json_decref(doc);
	return *out ? NDX_OK : NDX_ENOMEM;
}

const char *exchange_member_name(const json_t *clients, const char *member)
{
	size_t i, n = strlen(member);
	const json_t *c;

	if (!n)
		return "";
	json_array_foreach(clients, i, c) {
		const char *cid = json_string_value(json_object_get(c, "id"));
		const char *name = json_string_value(json_object_get(c, "member_name"));

		if (cid && strncmp(cid, member, n) == 0 && (cid[n] == '/' || !cid[n]))
			return name ? name : "";
	}
	return "";
}

int consent_call(const struct portal *p, const char *method, const char *path,
		 const json_t *body, long *status, json_t **out)
{
	char *lines[HDR_MAX] = { 0 }, *text = NULL, url[2048];
	struct ndx_fetch_req r = { .method = method, .url = url, .timeout_ms = 10000 };
	struct ndx_fetch_resp fr = { 0 };
	size_t n = 0;
	int rc;

	*out = NULL;
	*status = 0;
	if (!p->cfg->consent_url)
		return NDX_ENOTFOUND;
	if ((size_t)snprintf(url, sizeof url, "%s%s", p->cfg->consent_url, path) >= sizeof url)
		return NDX_ETOOBIG;
	{
		size_t len = strlen(p->cfg->consent_token) + 8;
		char *bearer = malloc(len);

		if (!bearer)
			return NDX_ENOMEM;
		snprintf(bearer, len, "Bearer %s", p->cfg->consent_token);
		rc = hdr(lines, &n, "Authorization", bearer);
		free(bearer);
	}
	if (rc || (rc = hdr(lines, &n, "Accept", "application/json")) ||
	    (body && (rc = hdr(lines, &n, "Content-Type", "application/json"))))
		goto out;
	if (body && !(text = json_dumps(body, JSON_COMPACT))) {
		rc = NDX_ENOMEM;
		goto out;
	}
	r.headers = (const char *const *)lines;
	r.body = text;
	r.body_len = text ? strlen(text) : 0;
	if ((rc = ndx_fetch(&r, &fr)))
		goto out;
	*status = fr.status;
	parse_body(&fr, out);
out:
	ndx_fetch_resp_free(&fr);
	for (size_t i = 0; i < n; i++)
		free(lines[i]);
	free(text);
	return rc;
}
