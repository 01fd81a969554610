/* The officers' correction worklists (worklist.h): the portal checks who
 * asks (an officer of the agency that runs the registry) and what, and
 * passes the rest to the registry's reconcile service through its gateway;
 * the registry validates and writes the correction (sec_worklist_api.h). */
#include "worklist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exchange.h"
#include "ndx/err.h"

/* The registries that reconcile with the population registry, and the
 * agency (member) that runs each: their reconcile service is
 * AGENCY/SECTOR/reconcile, as the registries' other services
 * (exchange.h). */
static const struct {
	const char *sector, *agency;
} REGISTRIES[] = {
	{ "civil-status", "VN/GOV/BTP" }, { "enterprise", "VN/GOV/BTC" },
	{ "tax", "VN/GOV/TCT" },          { "insurance", "VN/GOV/BHXH" },
	{ "land", "VN/GOV/BNNMT" },       { "vehicles", "VN/GOV/CSGT" },
};
#define NREGISTRIES (sizeof REGISTRIES / sizeof *REGISTRIES)

/* The registry sector names (NULL: the one of the officer's agency),
 * checked against the officer's agency; its index, or -1 with e set. */
static int registry_of(const struct psession *s, const char *sector, struct perr *e)
{
	for (size_t i = 0; i < NREGISTRIES; i++) {
		if (sector ? strcmp(sector, REGISTRIES[i].sector) != 0
			   : strcmp(s->agency, REGISTRIES[i].agency) != 0)
			continue;
		if (strcmp(s->agency, REGISTRIES[i].agency) != 0)
			return perr_set(e, 403, "forbidden",
					"the %s registry's worklist is for officers of %s", sector,
					REGISTRIES[i].agency);
		return (int)i;
	}
	if (sector)
		return perr_set(e, 400, "invalid",
				"sector: one of civil-status, enterprise, tax, insurance, land, "
				"vehicles");
	return perr_set(e, 403, "forbidden", "your agency runs no registry that reconciles");
}

/* A query argument of at most max bytes of allowed characters, or NULL. */
static int arg(const struct ndx_http_req *req, const char *name, size_t max, const char *allowed,
	       const char **out, struct perr *e)
{
	const char *v = ndx_http_query_arg(req, name);

	*out = v;
	if (v && (!*v || strlen(v) > max || strspn(v, allowed) != strlen(v)))
		return perr_set(e, 400, "invalid", "%s: at most %zu characters of [%s]", name, max,
				allowed);
	return 0;
}

/* Calls the registry's reconcile service as the officer. */
static int call(const struct portal *p, const struct psession *s, int reg, const char *method,
		const char *path, const json_t *body, char *service, size_t cap,
		struct xresult *r, struct perr *e)
{
	char user_id[300];
	int rc;

	snprintf(service, cap, "%s/%s/reconcile", REGISTRIES[reg].agency, REGISTRIES[reg].sector);
	snprintf(user_id, sizeof user_id, "%s/%s", s->agency, s->username);
	struct xcall c = { .method = method, .service = service, .path = path,
			   .purpose = PURPOSE_CORRECTION, .user_id = user_id, .body = body };
	if ((rc = exchange_call(p, &c, r)) != NDX_OK) {
		xresult_free(r);
		return exchange_fail(e, service, rc, r);
	}
	return 0;
}

/* The registry's own refusal of the request (not the gateways': theirs
 * carry another X-Road-Error), passed on with its status and detail
 * ("FIELD: why"): 400, 404, 409. */
static int relay_refusal(const struct xresult *r, const char *service, struct perr *e)
{
	static const struct {
		long status;
		const char *type, *code;
	} MAP[] = {
		{ 400, "Client.InvalidRequest", "invalid" },
		{ 404, "Client.NotFound", "not_found" },
		{ 409, "Client.Conflict", "conflict" },
		{ 422, "Client.TooManySubjects", "invalid" },
	};
	const char *d = json_string_value(json_object_get(r->json, "detail"));

	for (size_t i = 0; i < sizeof MAP / sizeof *MAP; i++)
		if (r->status == MAP[i].status && d &&
		    (!r->type[0] || strcmp(r->type, MAP[i].type) == 0))
			return perr_set(e, (int)r->status == 422 ? 400 : (int)r->status, MAP[i].code,
					"%s", d);
	return exchange_fail(e, service, NDX_OK, r);
}

int worklist_get(const struct portal *p, const struct psession *s, const struct ndx_http_req *req,
		 json_t **out, struct perr *e)
{
	static const char *const KNOWN[] = { "sector", "offset", "limit", NULL };
	const char *sector, *offset, *limit, *q = req->query;
	char path[64], service[160];
	struct xresult r;
	int reg;

	*out = NULL;
	while (q && *q) {
		size_t n = strcspn(q, "=&"), i;

		for (i = 0; KNOWN[i] && (strlen(KNOWN[i]) != n || strncmp(KNOWN[i], q, n)); i++)
			;
		if (n && !KNOWN[i])
			return perr_set(e, 400, "invalid", "unknown parameter; known: sector, offset, limit");
		q += strcspn(q, "&");
		if (*q)
			q++;
	}
	if (arg(req, "sector", 32, "abcdefghijklmnopqrstuvwxyz-", &sector, e) ||
	    arg(req, "offset", 6, "0123456789", &offset, e) ||
	    arg(req, "limit", 3, "0123456789", &limit, e) || (reg = registry_of(s, sector, e)) < 0)
		return -1;
	snprintf(path, sizeof path, "/worklist?offset=%s&limit=%s", offset ? offset : "0",
		 limit ? limit : "50");
	if (call(p, s, reg, "GET", path, NULL, service, sizeof service, &r, e))
		return -1;
	if (r.status != 200 || !json_is_object(r.json)) {
		int rc = relay_refusal(&r, service, e);
		xresult_free(&r);
		return rc;
	}
	*out = r.json;
	r.json = NULL;
	json_object_set_new(*out, "agency", json_string(REGISTRIES[reg].agency));
	return 0;
}

int worklist_correct(const struct portal *p, const struct psession *s, const json_t *body,
		     json_t **out, int *status, struct perr *e)
{
	static const char *const FIELDS[] = { "table", "key", "field", "value" };
	const json_t *sv = json_object_get(body, "sector");
	const char *name, *sector = json_string_value(sv);
	char service[160];
	struct xresult r;
	json_t *fwd, *v;
	int reg;

	*out = NULL;
	if (sv && !sector)
		return perr_set(e, 400, "invalid", "sector: a string");
	json_object_foreach((json_t *)body, name, v) {
		size_t i;
		for (i = 0; i < 4 && strcmp(name, FIELDS[i]) != 0; i++)
			;
		if (i == 4 && strcmp(name, "sector") != 0)
			return perr_set(e, 400, "invalid",
					"%.64s: unknown field; known: sector, table, key, field, value",
					name);
	}
	if ((reg = registry_of(s, sector, e)) < 0)
		return -1;
	/* The registry checks each field and names the one at fault. */
	if (!(fwd = json_object()))
		return perr_set(e, 500, "internal", "out of memory");
	for (size_t i = 0; i < 4; i++)
		if ((v = json_object_get(body, FIELDS[i])))
			json_object_set(fwd, FIELDS[i], v);
	int rc = call(p, s, reg, "POST", "/corrections", fwd, service, sizeof service, &r, e);
	json_decref(fwd);
	if (rc)
		return -1;
	if (r.status != 201 || !json_is_object(r.json)) {
		rc = relay_refusal(&r, service, e);
		xresult_free(&r);
		return rc;
	}
	*out = r.json;
	r.json = NULL;
	json_object_set_new(*out, "sector", json_string(REGISTRIES[reg].sector));
	*status = 201;
	return 0;
}
