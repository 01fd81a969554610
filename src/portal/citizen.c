/* The citizen's own data (citizen.h). Registry reads go through the
 * exchange with the citizen as Ndx-Subject and their e-ID ID token as
 * Ndx-Subject-Token, so each read is logged as the citizen's own and listed
 * under their own activity, apart from reads by others. Without a token
 * that is still valid the portal reads nothing and answers "reauth" (the
 * web UI then signs the citizen in again through the e-ID's single
 * sign-on). The access list is gathered from every member that publishes a
 * transparency service, filtered and paged by the providers' gateways and
 * merged here; a member that cannot answer is named in "unavailable"
 * instead of failing the whole page.
 * Consents are managed at the consent service with the portal's token, for
 * the session's subject only. */
#include "citizen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "exchange.h"
#include "ndx/fetch.h"
#include "ndx/err.h"
#include "ndx/id.h"
#include "ndx/timefmt.h"

#define TRANSPARENCY_CODE "transparency"
#define MAX_PROVIDERS 64
#define MAX_CONSENT_SERVICES 16

static const char *str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

static int oom(struct perr *e)
{
	return perr_set(e, 500, "internal", "out of memory");
}

/* GET service+path for the citizen with purpose; *r holds a 200 JSON
 * object (or e is set). A 404 is answered as not_found when nf is set. */
static int read_json(const struct portal *p, const struct psession *s, const char *service,
		     const char *path, const char *purpose, const char *consent,
		     const char *token, int nf, struct xresult *r, struct perr *e)
{
	struct xcall c = { .method = "GET", .service = service, .path = path,
			   .subject = s->subject, .purpose = purpose, .consent = consent,
			   .subject_token = token };
	int rc = exchange_call(p, &c, r);

	if (rc == NDX_OK && r->status == 200 && json_is_object(r->json))
		return 0;
	if (rc == NDX_OK && nf && r->status == 404 && strcmp(r->type, "Client.NotFound") == 0)
		perr_set(e, 404, "not_found", "%s has no record", service);
	else
		exchange_fail(e, service, rc, r);
	xresult_free(r);
	return -1;
}

int citizen_profile(const struct portal *p, const struct psession *s, json_t **out,
		    struct perr *e)
{
	struct xresult cit, hh = { 0 };
	char path[64];
	const char *hid, *tok;
	json_t *household = NULL;

	*out = NULL;
	if (auth_need_token(s, &tok, e))
		return -1;
	snprintf(path, sizeof path, "/%s", s->subject);
	if (read_json(p, s, SVC_CITIZENS, path, PURPOSE_SERVICE, NULL, tok, 1, &cit, e))
		return -1;
	hid = json_string_value(json_object_get(cit.json, "household_id"));
	if (hid && strlen(hid) < 32 && strspn(hid, "H0123456789") == strlen(hid)) {
		struct perr ignored = { 0 };

		snprintf(path, sizeof path, "/%s", hid);
		/* The household is a courtesy: the profile stands without it. */
		if (read_json(p, s, SVC_HOUSEHOLDS, path, PURPOSE_SERVICE, NULL, tok, 0, &hh,
			      &ignored) == 0)
			household = json_incref(hh.json);
		json_decref(ignored.fields);
	}
	*out = json_pack("{s:O,s:o,s:{s:s,s:s}}", "citizen", cit.json, "household",
			 household ? household : json_null(), "read_via", "service", SVC_CITIZENS,
			 "message_id", cit.message_id);
	xresult_free(&cit);
	xresult_free(&hh);
	return *out ? 0 : oom(e);
}

/* ---- consents ------------------------------------------------------------------ */

/* *out = the consent service's list for the subject (newest first). */
static int list_consents(const struct portal *p, const struct psession *s, json_t **out,
			 struct perr *e)
{
	char path[96];
	json_t *doc = NULL;
	long status;
	int rc;

	*out = NULL;
	snprintf(path, sizeof path, "/api/consents?subject=%s", s->subject);
	rc = consent_call(p, "GET", path, NULL, &status, &doc);
	if (rc == NDX_ENOTFOUND)
		return perr_set(e, 502, "exchange", "no consent service is configured");
	if (rc != NDX_OK || status != 200 || !json_is_array(json_object_get(doc, "consents"))) {
		json_decref(doc);
		return perr_set(e, 502, "exchange", "the consent service: %s",
				rc ? "unreachable" : "unexpected answer");
	}
	*out = json_incref(json_object_get(doc, "consents"));
	json_decref(doc);
	return 0;
}

static json_t *consent_view(const json_t *c)
{
	const json_t *rev = json_object_get(c, "revoked_at");

	const json_t *svcs = json_object_get(c, "services");

	return json_pack("{s:s,s:s,s:o,s:s,s:s,s:s,s:s,s:O}", "jti", str(c, "jti"), "consumer",
			 str(c, "consumer"), "services",
			 json_is_array(svcs) ? json_incref((json_t *)svcs) : json_array(),
			 "purpose", str(c, "purpose"), "valid_from", str(c, "valid_from"),
			 "valid_to", str(c, "valid_to"), "status", str(c, "status"), "revoked_at",
			 json_is_string(rev) ? rev : json_null());
}

/* {member id: the name the signed global configuration registers for it}
 * for every member with a subsystem (listClients), so that the consents
 * page and its check step name an agency as it is registered, not by its
 * id. Empty when the gateway does not answer: the page then falls back to
 * its own labels, and the consents are still listed. NULL only when out of
 * memory (json_pack then fails too). */
static json_t *member_names(const struct portal *p)
{
	json_t *clients = NULL, *names = json_object(), *c;
	size_t i;

	if (!names || exchange_list_clients(p, &clients) != NDX_OK)
		return names;
	json_array_foreach(clients, i, c) {
		const char *id = str(c, "id"), *name = str(c, "member_name");
		char member[NDX_ID_TEXT_MAX];
		const char *slash = id;

		/* the member is the first three parts of the subsystem id */
		for (int k = 0; k < 3 && slash; k++)
			slash = strchr(slash + (k ? 1 : 0), '/');
		if (!slash || !name[0] || (size_t)(slash - id) >= sizeof member)
			continue;
		memcpy(member, id, (size_t)(slash - id));
		member[slash - id] = '\0';
		if (json_object_set_new(names, member, json_string(name)) != 0) {
			json_decref(clients);
			json_decref(names);
			return NULL;
		}
	}
	json_decref(clients);
	return names;
}

int citizen_consents(const struct portal *p, const struct psession *s, json_t **out,
		     struct perr *e)
{
	json_t *list, *arr = json_array(), *c, *v;
	size_t i;

	*out = NULL;
	if (!arr)
		return oom(e);
	if (list_consents(p, s, &list, e)) {
		json_decref(arr);
		return -1;
	}
	json_array_foreach(list, i, c) {
		if ((v = consent_view(c)))
			json_array_append_new(arr, v);
	}
	json_decref(list);
	*out = json_pack("{s:o,s:o}", "consents", arr, "members", member_names(p));
	return *out ? 0 : oom(e);
}

/* The schema an OpenAPI document gives for what GET /{code}/{id} answers
 * (the one record a service with that code returns; ndx-sector's
 * documents, src/sector/openapi.c), or NULL. */
static const json_t *record_schema(const json_t *doc, const char *code)
{
	char path[NDX_ID_PART_MAX + 8];
	const json_t *ref;
	const char *r;

	snprintf(path, sizeof path, "/%s/{id}", code);
	ref = json_object_get(json_object_get(json_object_get(json_object_get(json_object_get(
		json_object_get(json_object_get(json_object_get(doc, "paths"), path), "get"),
		"responses"), "200"), "content"), "application/json"), "schema");
	r = json_string_value(json_object_get(ref, "$ref"));
	if (!r || strncmp(r, "#/components/schemas/", 21) != 0)
		return NULL;
	return json_object_get(json_object_get(json_object_get(doc, "components"), "schemas"),
			       r + 21);
}

int citizen_consent_service(const struct portal *p, const char *id, json_t **out,
			    struct perr *e)
{
	struct ndx_id sid, sub;
	char wire[NDX_ID_TEXT_MAX], subwire[NDX_ID_TEXT_MAX], path[NDX_ID_PART_MAX * 3 + 32];
	struct xresult r;
	const json_t *props, *schema;
	json_t *fields;
	const char *key;
	int rc;

	*out = NULL;
	if (!id || ndx_id_parse(id, strlen(id), NDX_ID_SERVICE, &sid, NULL) != NDX_OK ||
	    ndx_id_parent(&sid, NDX_ID_SUBSYSTEM, &sub) != NDX_OK ||
	    ndx_id_format_wire(&sid, wire, sizeof wire) < 0 ||
	    ndx_id_format_wire(&sub, subwire, sizeof subwire) < 0) {
		return perr_set(e, 400, "invalid", "id must be a service id");
	}
	/* getOpenAPI (PR-MREST §5) through the portal's own gateway, which
	 * checks the document against the hash the signed configuration
	 * holds for the service. */
	snprintf(path, sizeof path, "/getOpenAPI?serviceCode=%s", strrchr(wire, '/') + 1);
	rc = exchange_call(p, &(struct xcall){ .method = "GET", .service = subwire, .path = path },
			   &r);
	if (rc != NDX_OK || r.status != 200 || !json_is_object(r.json)) {
		exchange_fail(e, id, rc, &r);
		xresult_free(&r);
		return -1;
	}
	schema = record_schema(r.json, sid.service);
	props = json_object_get(schema, "properties");
	if (!json_is_object(props)) {
		xresult_free(&r);
		return perr_set(e, 502, "exchange",
				"%s: the OpenAPI document describes no record at /%s/{id}", id,
				sid.service);
	}
	if (!(fields = json_array())) {
		xresult_free(&r);
		return oom(e);
	}
	json_object_foreach((json_t *)props, key, schema) {
		if (json_array_append_new(fields, json_string(key)) != 0) {
			json_decref(fields);
			xresult_free(&r);
			return oom(e);
		}
	}
	xresult_free(&r);
	*out = json_pack("{s:s,s:o}", "service", id, "fields", fields);
	return *out ? 0 : oom(e);
}

static int covers(const json_t *c, const char *consumer, const char *service, const char *purpose)
{
	const json_t *svcs = json_object_get(c, "services"), *v;
	size_t i;

	if (strcmp(str(c, "status"), "active") != 0 || strcmp(str(c, "consumer"), consumer) != 0 ||
	    strcmp(str(c, "purpose"), purpose) != 0)
		return 0;
	json_array_foreach(svcs, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), service) == 0)
			return 1;
	return 0;
}

int citizen_insurance(const struct portal *p, const struct psession *s, json_t **out,
		      struct perr *e)
{
	const json_t *c, *use = NULL;
	const char *tok;
	struct xresult r;
	json_t *list;
	char path[64], jti[128];
	size_t i;
	int rc;

	*out = NULL;
	if (auth_need_token(s, &tok, e) || list_consents(p, s, &list, e))
		return -1;
	json_array_foreach(list, i, c) {
		if (covers(c, p->cfg->client, SVC_CONTRIBUTIONS, PURPOSE_SERVICE) &&
		    json_is_string(json_object_get(c, "consent"))) {
			use = c;
			break;
		}
	}
	if (!use) {
		json_decref(list);
		return perr_set(e, 403, "consent_required",
				"no active consent for %s to read %s", p->cfg->client,
				SVC_CONTRIBUTIONS);
	}
	snprintf(jti, sizeof jti, "%s", str(use, "jti"));
	snprintf(path, sizeof path, "?pin=%s", s->subject);
	struct xcall xc = { .method = "GET", .service = SVC_CONTRIBUTIONS, .path = path,
			    .subject = s->subject, .purpose = PURPOSE_SERVICE,
			    .consent = str(use, "consent"), .subject_token = tok };
	rc = exchange_call(p, &xc, &r);
	json_decref(list);
	if (rc == NDX_OK && r.type[0] && strncmp(r.reason, "Consent", 7) == 0) {
		perr_set(e, 403, "consent_refused", "%s", r.reason);
		xresult_free(&r);
		return -1;
	}
	if (rc != NDX_OK || r.status != 200 || !json_is_object(r.json)) {
		exchange_fail(e, SVC_CONTRIBUTIONS, rc, &r);
		xresult_free(&r);
		return -1;
	}
	*out = json_pack("{s:o,s:s}", "contributions",
			 json_is_array(json_object_get(r.json, "items"))
				 ? json_incref(json_object_get(r.json, "items"))
				 : json_array(),
			 "consent", jti);
	xresult_free(&r);
	return *out ? 0 : oom(e);
}

int citizen_consent_create(const struct portal *p, const struct psession *s,
			   const json_t *body, json_t **out, struct perr *e)
{
	const json_t *consumer = json_object_get(body, "consumer");
	const json_t *svcs = json_object_get(body, "services");
	const json_t *purpose = json_object_get(body, "purpose");
	const json_t *days = json_object_get(body, "days"), *v;
	json_t *errs = json_object(), *req = NULL, *doc = NULL;
	char valid_to[NDX_TIME_TEXT_LEN];
	struct ndx_id id;
	long status;
	size_t i;
	int rc;

	*out = NULL;
	if (!errs)
		return oom(e);
	if (!json_is_string(consumer) ||
	    ndx_id_parse(json_string_value(consumer), json_string_length(consumer),
			 NDX_ID_SUBSYSTEM, &id, NULL) != NDX_OK)
		json_object_set_new(errs, "consumer", json_string(consumer ? "invalid" : "required"));
	if (!json_is_array(svcs) || json_array_size(svcs) == 0 || json_array_size(svcs) > 16)
		json_object_set_new(errs, "services", json_string(svcs ? "invalid" : "required"));
	json_array_foreach(svcs, i, v) {
		if (!json_is_string(v) ||
		    ndx_id_parse(json_string_value(v), json_string_length(v), NDX_ID_SERVICE, &id,
				 NULL) != NDX_OK)
			json_object_set_new(errs, "services", json_string("invalid"));
	}
	if (!json_is_string(purpose) || json_string_length(purpose) == 0 ||
	    json_string_length(purpose) > 64)
		json_object_set_new(errs, "purpose", json_string(purpose ? "invalid" : "required"));
	if (!json_is_integer(days) || json_integer_value(days) < 1 ||
	    json_integer_value(days) > 366)
		json_object_set_new(errs, "days", json_string(days ? "out_of_range" : "required"));
	if (json_object_size(errs)) {
		perr_set(e, 422, "validation", "some fields are not valid");
		e->fields = errs;
		return -1;
	}
	json_decref(errs);
	ndx_time_format(time(NULL) + (time_t)json_integer_value(days) * 86400, valid_to);
	req = json_pack("{s:s,s:O,s:O,s:O,s:s}", "subject", s->subject, "consumer", consumer,
			"services", svcs, "purpose", purpose, "valid_to", valid_to);
	if (!req)
		return oom(e);
	rc = consent_call(p, "POST", "/api/consents", req, &status, &doc);
	json_decref(req);
	if (rc == NDX_OK && status == 201 && json_is_object(doc)) {
		*out = consent_view(doc);
		json_object_set_new(*out, "status", json_string("active"));
		if (strcmp(str(doc, "valid_from"), str(doc, "issued_at")) > 0)
			json_object_set_new(*out, "status", json_string("pending"));
		json_decref(doc);
		return *out ? 0 : oom(e);
	}
	if (rc == NDX_OK && status == 400) {
		/* The service names the field first in detail ("services[0]: …")
		 * and never repeats the number. */
		const char *detail = str(doc, "detail");
		char field[64];

		snprintf(field, sizeof field, "%.*s", (int)strcspn(detail, ":["), detail);
		perr_set(e, 422, "validation", "%s", detail[0] ? detail : str(doc, "message"));
		e->fields = json_pack("{s:s}", field[0] ? field : "consent", "invalid");
		json_decref(doc);
		return -1;
	}
	json_decref(doc);
	if (rc == NDX_ENOTFOUND)
		return perr_set(e, 502, "exchange", "no consent service is configured");
	return perr_set(e, 502, "exchange", "the consent service: %s",
			rc ? "unreachable" : "refused the consent");
}

int citizen_consent_revoke(const struct portal *p, const struct psession *s, const char *jti,
			   json_t **out, struct perr *e)
{
	json_t *list, *c, *doc = NULL;
	char path[256];
	long status;
	size_t i;
	int mine = 0, rc;

	*out = NULL;
	if (list_consents(p, s, &list, e))
		return -1;
	json_array_foreach(list, i, c)
		mine |= strcmp(str(c, "jti"), jti) == 0;
	json_decref(list);
	if (!mine)
		return perr_set(e, 404, "not_found", "no such consent");
	snprintf(path, sizeof path, "/api/consents/%s/revoke", jti);
	rc = consent_call(p, "POST", path, NULL, &status, &doc);
	if (rc == NDX_OK && status == 200 && json_is_object(doc)) {
		*out = json_pack("{s:s,s:s,s:s}", "jti", jti, "status", "revoked", "revoked_at",
				 str(doc, "revoked_at"));
		json_decref(doc);
		return *out ? 0 : oom(e);
	}
	json_decref(doc);
	if (rc == NDX_OK && status == 409)
		return perr_set(e, 409, "conflict", "the consent is revoked already");
	if (rc == NDX_OK && status == 404)
		return perr_set(e, 404, "not_found", "no such consent");
	return perr_set(e, 502, "exchange", "the consent service: %s",
			rc ? "unreachable" : "unexpected answer");
}

