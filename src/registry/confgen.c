/* Builds the global configuration document from the store (every list
 * sorted by id, so that equal stores give equal documents), validates it
 * with the parser gateways use, signs it and caches the signed bytes. The
 * cache is one reference-counted snapshot: HTTP threads take a reference,
 * send the bytes without copying and release it; a rebuild replaces the
 * snapshot and the old one goes when its last reader is done.
 *
 * A document is a function of the store alone: its version is the store's
 * configuration version, and its generated_at is not the clock's reading
 * but the time that version was made (store_conf_state) advanced by whole
 * half-validities, so that it is re-signed before half its life has gone.
 * Registry nodes sharing one PostgreSQL database, with the same signing
 * key (Ed25519 signatures are deterministic), therefore serve the same
 * bytes for a version and a period, whichever node made the change and
 * whichever answers (docs/scale.md "Two registry nodes"). The documents of
 * the last HIST versions stay in memory, sharing their unchanged entries,
 * and a gateway that names the version it holds gets the signed delta from
 * it (cut once per version and period, a function of the two documents,
 * so every node cuts the same bytes) or, when this node does not hold that
 * version, the full document. Overview: docs/protocol.md "The global
 * configuration" and "Configuration deltas". */
#include "confgen.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ndx/conf.h"
#include "ndx/err.h"
#include "ndx/timefmt.h"
#include "reg_market.h"

/* How many past versions' documents a node keeps to cut deltas from
 * (docs/protocol.md "Configuration deltas"); a gateway holding an older
 * one gets the full document. */
#define HIST 8

struct snap {
	struct conf_signed doc; /* first, so a doc pointer is its snap */
	unsigned refs;
	/* Deltas to this document, cut on demand: at most one from each
	 * version in the history, never removed while the snap lives, so a
	 * reader may use one after the lock is released. */
	struct conf_delta delta[HIST];
	size_t ndelta;
};

struct confgen {
	struct store *st;
	const struct ndx_key *key;
	const char *ca_pem;
	unsigned validity;
	pthread_mutex_t mu;
	struct snap *cur;
	/* The documents of the last HIST versions, newest last (that of cur
	 * among them); entries that did not change are shared between them. */
	struct ndx_conf_tree *hist[HIST];
	size_t nhist;
};

int confgen_new(struct store *st, const struct ndx_key *key, const char *ca_pem,
		unsigned validity, struct confgen **out)
{
	struct confgen *cg = calloc(1, sizeof *cg);
	*out = NULL;
	if (!cg)
		return NDX_ENOMEM;
	cg->st = st;
	cg->key = key;
	cg->ca_pem = ca_pem;
	cg->validity = validity;
	pthread_mutex_init(&cg->mu, NULL);
	*out = cg;
	return NDX_OK;
}

static void snap_free(struct snap *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->ndelta; i++) {
		free(s->delta[i].body);
		free(s->delta[i].sig);
	}
	free(s->doc.body);
	free(s->doc.sig);
	free(s);
}

void confgen_free(struct confgen *cg)
{
	if (!cg)
		return;
	snap_free(cg->cur);
	for (size_t i = 0; i < cg->nhist; i++)
		ndx_conf_tree_free(cg->hist[i]);
	pthread_mutex_destroy(&cg->mu);
	free(cg);
}

/* A new array of objects holding only the named fields of each row. */
static json_t *pick(const json_t *rows, const char *const *fields)
{
	json_t *out = json_array();
	size_t i;
	const json_t *row;

	if (!out)
		return NULL;
	json_array_foreach(rows, i, row) {
		json_t *o = json_object();
		if (!o || json_array_append_new(out, o)) {
			json_decref(out);
			return NULL;
		}
		for (const char *const *f = fields; *f; f++) {
			json_t *v = json_object_get(row, *f);
			if (json_object_set(o, *f, v ? v : json_null())) {
				json_decref(out);
				return NULL;
			}
		}
	}
	return out;
}

static int set_list(json_t *doc, const char *name, json_t *rows, const char *const *fields)
{
	json_t *arr = pick(rows, fields);
	json_decref(rows);
	if (!arr || json_object_set_new(doc, name, arr))
		return NDX_ENOMEM;
	return NDX_OK;
}

static const char *const MEMBER_FIELDS[] = { "id", "name", NULL };
static const char *const SUBSYSTEM_FIELDS[] = { "id", NULL };
static const char *const GATEWAY_FIELDS[] = { "member", "code", "address", "tls_cert_sha256",
					      "sign_key", "sign_key_id", NULL };
static const char *const SERVICE_FIELDS[] = { "id", "title", "personal", "purposes",
					      "bulk_purposes", "consent_required",
					      "openapi_sha256", NULL };
static const char *const GRANT_FIELDS[] = { "client", "service", "methods", "paths", NULL };
static const char *const REVOCATION_FIELDS[] = { "kind", "value", "revoked_at", "reason",
						 NULL };
static const char *const CONSENT_SERVICE_FIELDS[] = { "id", "url", "sign_key", "sign_key_id",
						      NULL };
static const char *const EMBARGO_FIELDS[] = { "purpose", "seconds", NULL };
static const char *const ID_PROVIDER_FIELDS[] = { "issuer", "sign_key", "sign_key_id", NULL };
static const char *const EVENT_TYPE_FIELDS[] = { "service", "name", "title", "schema", NULL };
static const char *const SUBSCRIPTION_FIELDS[] = { "client", "service", "event", "purpose",
						   "retry", NULL };

/* "monitoring": {"client": ID} when the operator has named its monitoring
 * subsystem; absent otherwise, so that older gateways read the document as
 * before. */
static int set_monitoring(struct store *st, json_t *doc)
{
	char *client = NULL;
	int rc = store_monitoring_get(st, &client);

	if (rc == NDX_ENOTFOUND)
		return NDX_OK;
	if (rc == NDX_OK && json_object_set_new(doc, "monitoring",
						json_pack("{ss}", "client", client)) != 0)
		rc = NDX_ENOMEM;
	free(client);
	return rc;
}

/* The grants and subscriptions of the marketplace agreements in force
 * (reg_market.c), after the operator's, by agreement id. A subscription
 * the operator registered already (or an earlier agreement made) for the
 * same client, service and event is not made twice: the configuration
 * holds one per triple, and it is the same delivery. */
static int add_agreement_grants(struct store *st, json_t *doc)
{
	json_t *rows = NULL, *subs = NULL, *list = json_object_get(doc, "subscriptions"), *s, *t;
	int rc = market_conf_grants(st, &rows, &subs);
	size_t i, k;

	if (!rc && json_array_extend(json_object_get(doc, "grants"), rows))
		rc = NDX_ENOMEM;
	json_array_foreach(subs, i, s) {
		bool dup = false;
		json_array_foreach(list, k, t)
			if (json_equal(json_object_get(s, "client"), json_object_get(t, "client")) &&
			    json_equal(json_object_get(s, "service"), json_object_get(t, "service")) &&
			    json_equal(json_object_get(s, "event"), json_object_get(t, "event")))
				dup = true;
		if (!rc && !dup && json_array_append(list, s))
			rc = NDX_ENOMEM;
	}
	json_decref(rows);
	json_decref(subs);
	return rc;
}

/* The generated_at of the document of a version made at changed_at, at
 * time now: changed_at advanced by whole half-validities (changed_at
 * itself while now is not after it: another node's clock ran ahead). */
static time_t generation_time(const struct confgen *cg, int64_t changed_at, time_t now)
{
	int64_t half = cg->validity / 2 ? cg->validity / 2 : 1;

	if ((int64_t)now <= changed_at)
		return (time_t)changed_at;
	return (time_t)(changed_at + ((int64_t)now - changed_at) / half * half);
}

/* Reads the store in one snapshot so that the document is one state;
 * *gen_at receives its generated_at. */
static int build_doc(struct confgen *cg, time_t now, json_t **out, uint64_t *version,
		     time_t *gen_at)
{
	static const char *const classes[] = REGISTRY_MEMBER_CLASSES;
	char gen[NDX_TIME_TEXT_LEN], exp[NDX_TIME_TEXT_LEN];
	json_t *doc, *rows, *cls;
	int64_t changed_at = 0;
	int rc;

	*out = NULL;
	if ((rc = store_snapshot_begin(cg->st)))
		return rc;
	rc = store_conf_state(cg->st, version, &changed_at);
	*gen_at = generation_time(cg, changed_at, now);
	ndx_time_format(*gen_at, gen);
	ndx_time_format(*gen_at + (time_t)cg->validity, exp);
	cls = json_array();
	for (size_t i = 0; cls && i < sizeof classes / sizeof *classes; i++)
		json_array_append_new(cls, json_string(classes[i]));
	doc = json_pack("{ss ss sI ss ss s{ss ss} so*}", "format", NDX_CONF_FORMAT, "instance",
			store_instance(cg->st), "version", (json_int_t)*version, "generated_at", gen,
			"expires_at", exp, "registry", "url", store_registry_url(cg->st),
			"ca_certificate", cg->ca_pem, "member_classes", cls);
	if (!rc && !doc)
		rc = NDX_ENOMEM;
	if (!rc && !(rc = store_member_list(cg->st, &rows)))
		rc = set_list(doc, "members", rows, MEMBER_FIELDS);
	if (!rc && !(rc = store_subsystem_list(cg->st, NULL, &rows)))
		rc = set_list(doc, "subsystems", rows, SUBSYSTEM_FIELDS);
	if (!rc && !(rc = store_gateway_list(cg->st, NULL, &rows)))
		rc = set_list(doc, "gateways", rows, GATEWAY_FIELDS);
	if (!rc && !(rc = store_service_list(cg->st, NULL, &rows)))
		rc = set_list(doc, "services", rows, SERVICE_FIELDS);
	if (!rc && !(rc = store_grant_list(cg->st, NULL, NULL, &rows)))
		rc = set_list(doc, "grants", rows, GRANT_FIELDS);
	if (!rc && !(rc = store_revocation_list(cg->st, &rows)))
		rc = set_list(doc, "revocations", rows, REVOCATION_FIELDS);
	if (!rc && !(rc = store_consent_service_list(cg->st, &rows)))
		rc = set_list(doc, "consent_services", rows, CONSENT_SERVICE_FIELDS);
	if (!rc && !(rc = store_embargo_list(cg->st, &rows)))
		rc = set_list(doc, "embargoes", rows, EMBARGO_FIELDS);
	if (!rc && !(rc = store_id_provider_list(cg->st, &rows)))
		rc = set_list(doc, "id_providers", rows, ID_PROVIDER_FIELDS);
	if (!rc && !(rc = store_event_type_list(cg->st, NULL, &rows)))
		rc = set_list(doc, "event_types", rows, EVENT_TYPE_FIELDS);
	if (!rc && !(rc = store_subscription_list(cg->st, NULL, NULL, &rows)))
		rc = set_list(doc, "subscriptions", rows, SUBSCRIPTION_FIELDS);
	if (!rc)
		rc = add_agreement_grants(cg->st, doc);
	if (!rc)
		rc = set_monitoring(cg->st, doc);
	store_snapshot_end(cg->st);
	if (rc) {
		json_decref(doc);
		return rc;
	}
	*out = doc;
	return NDX_OK;
}

/* Keeps tree as the newest document; a re-signed period of the newest
 * version replaces it (a delta's source needs the version's lists only). */
static void hist_push(struct confgen *cg, struct ndx_conf_tree *tree)
{
	if (cg->nhist && ndx_conf_tree_version(cg->hist[cg->nhist - 1]) ==
			 ndx_conf_tree_version(tree)) {
		ndx_conf_tree_free(cg->hist[--cg->nhist]);
	} else if (cg->nhist == HIST) {
		ndx_conf_tree_free(cg->hist[0]);
		memmove(cg->hist, cg->hist + 1, (HIST - 1) * sizeof *cg->hist);
		cg->nhist--;
	}
	cg->hist[cg->nhist++] = tree;
}

static int build_snap(struct confgen *cg, time_t now, struct snap **out)
{
	struct snap *s;
	json_t *doc;
	struct ndx_conf *parsed = NULL;
	struct ndx_conf_tree *tree = NULL;
	char err[256] = "";
	int rc;

	*out = NULL;
	s = calloc(1, sizeof *s);
	if (!s)
		return NDX_ENOMEM;
	rc = build_doc(cg, now, &doc, &s->doc.version, &s->doc.generated_at);
	if (rc) {
		fprintf(stderr, "ndx-registry: cannot build the configuration: %s\n",
			ndx_strerror(rc));
		free(s);
		return rc;
	}
	/* Shares the previous version's unchanged entries (and their hashes):
	 * the history of documents deltas are cut from costs one document
	 * and what changed. */
	rc = ndx_conf_tree_new(doc, cg->nhist ? cg->hist[cg->nhist - 1] : NULL, &tree);
	if (!rc)
		s->doc.body = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	if (!s->doc.body) {
		ndx_conf_tree_free(tree);
		free(s);
		return rc ? rc : NDX_ENOMEM;
	}
	s->doc.len = strlen(s->doc.body);
	s->doc.expires_at = s->doc.generated_at + (time_t)cg->validity;
	rc = ndx_conf_parse((const uint8_t *)s->doc.body, s->doc.len, &parsed, err, sizeof err);
	ndx_conf_free(parsed);
	if (rc) {
		fprintf(stderr, "ndx-registry: refusing to publish configuration version %llu: "
				"it does not validate: %s\n",
			(unsigned long long)s->doc.version, err);
		snap_free(s);
		ndx_conf_tree_free(tree);
		return rc;
	}
	s->doc.sig = ndx_conf_sign(cg->key, s->doc.body, s->doc.len);
	if (!s->doc.sig) {
		fprintf(stderr, "ndx-registry: cannot sign the configuration\n");
		snap_free(s);
		ndx_conf_tree_free(tree);
		return NDX_ECRYPTO;
	}
	hist_push(cg, tree);
	*out = s;
	return NDX_OK;
}

/* Makes cg->cur the document of now. Called with mu held. */
static int refresh_locked(struct confgen *cg, time_t now)
{
	uint64_t version;
	int64_t changed_at;
	int rc;

	rc = store_conf_state(cg->st, &version, &changed_at);
	if (rc)
		return rc;
	/* Re-signed each half validity, so a gateway polling at any sensible
	 * interval always holds a copy far from expiry; a clock that went
	 * backwards gives an earlier period and a fresh document too. */
	if (!cg->cur || cg->cur->doc.version != version ||
	    cg->cur->doc.generated_at != generation_time(cg, changed_at, now)) {
		struct snap *s;
		rc = build_snap(cg, now, &s);
		if (rc)
			return rc;
		if (cg->cur && --cg->cur->refs == 0)
			snap_free(cg->cur);
		s->refs = 1; /* the cache's own reference */
		cg->cur = s;
	}
	return NDX_OK;
}

int confgen_get(struct confgen *cg, time_t now, const struct conf_signed **out)
{
	int rc;

	*out = NULL;
	pthread_mutex_lock(&cg->mu);
	rc = refresh_locked(cg, now);
	if (!rc) {
		cg->cur->refs++;
		*out = &cg->cur->doc;
	}
	pthread_mutex_unlock(&cg->mu);
	return rc;
}

/* The delta from version `since` to cur, cut and signed once, or NULL
 * when this node no longer (or never) held that version. Called with mu
 * held. */
static const struct conf_delta *delta_locked(struct confgen *cg, uint64_t since)
{
	struct snap *s = cg->cur;
	const struct ndx_conf_tree *from = NULL, *to = cg->hist[cg->nhist - 1];
	struct conf_delta *d;

	for (size_t i = 0; i < s->ndelta; i++)
		if (s->delta[i].from_version == since)
			return &s->delta[i];
	for (size_t i = 0; i < cg->nhist; i++)
		if (ndx_conf_tree_version(cg->hist[i]) == since)
			from = cg->hist[i];
	if (!from || s->ndelta == HIST || ndx_conf_tree_version(to) != s->doc.version)
		return NULL;
	d = &s->delta[s->ndelta];
	if (ndx_conf_delta_make(from, to, s->doc.sig, &d->body, &d->len) != NDX_OK)
		return NULL;
	d->sig = ndx_conf_sign(cg->key, d->body, d->len);
	if (!d->sig) {
		free(d->body);
		d->body = NULL;
		return NULL;
	}
	d->from_version = since;
	s->ndelta++;
	return d;
}

int confgen_get_delta(struct confgen *cg, time_t now, uint64_t since,
		      const struct conf_signed **out, const struct conf_delta **delta)
{
	int rc;

	*out = NULL;
	*delta = NULL;
	pthread_mutex_lock(&cg->mu);
	rc = refresh_locked(cg, now);
	if (!rc) {
		cg->cur->refs++;
		*out = &cg->cur->doc;
		if (since > 0 && since <= cg->cur->doc.version)
			*delta = delta_locked(cg, since);
	}
	pthread_mutex_unlock(&cg->mu);
	return rc;
}

void confgen_release(struct confgen *cg, const struct conf_signed *doc)
{
	struct snap *s = (struct snap *)(void *)doc;
	if (!doc)
		return;
	pthread_mutex_lock(&cg->mu);
	if (--s->refs == 0)
		snap_free(s);
	pthread_mutex_unlock(&cg->mu);
}
