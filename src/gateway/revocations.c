/* The consent status lists a provider gateway holds (docs/protocol.md
 * "Revocation"): while the gateway serves a service that requires consent, a
 * thread fetches GET {url}/status of every consent service in the held
 * global configuration every consent_refresh_s: a small JWS (typ
 * ndx-status-index+jwt, the issuer's key from the configuration, the issuer
 * it was fetched from) that names each status list by the SHA-256 of its
 * bytes. Only a list whose digest changed is fetched again (GET
 * {url}/status/{n}), checked against the digest and decoded; then the whole
 * issuer's state is swapped in at once, unless its version is lower than the
 * held one, so a replayed old index cannot un-revoke a consent. Requests ask
 * gw_revocations_lookup, which fails closed: with no state for the issuer,
 * or one whose generated_at is more than GW_REVOCATIONS_MAX_AGE_S old,
 * there is no answer and the request is refused as a gateway failure. */
#include <pthread.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xfer.h"
#include "confstate.h"
#include "gwconfig.h"
#include "ndx/buf.h"
#include "ndx/encode.h"
#include "ndx/err.h"
#include "ndx/hash.h"
#include "ndx/jws.h"
#include "ndx/statuslist.h"
#include "ndx/timefmt.h"
#include "personal.h"
#include "poller.h"

#define INDEX_TYP "ndx-status-index+jwt"
#define FETCH_TIMEOUT_MS 5000L

/* One status list: its digest and bits (NDX_STATUSLIST_BYTES). */
struct rev_bits {
	uint8_t sha256[NDX_SHA256_LEN];
	uint8_t *bits;
	bool keep; /* a new state's: the held list has this digest, take its bits */
};

/* One issuer's newest verified state. */
struct rev_list {
	char *issuer;
	long long version;
	time_t generated_at;
	struct rev_bits *lists;
	size_t n;
};

struct gw_revocations {
	struct gw_state *state;
	pthread_mutex_t mu; /* guards lists */
	struct rev_list *lists;
	size_t nlists;

	const atomic_int *stopping; /* the poller's stop flag, NULL before it runs */
	CURL *curl; /* the poller's */
	char **failing; /* the poller's: issuers whose fetch failed, said once per outage */
	size_t nfailing;
};

struct sink {
	struct ndx_buf body;
	int toobig;
};

static size_t sink_write(char *data, size_t size, size_t nmemb, void *ud)
{
	struct sink *s = ud;
	size_t n = size * nmemb;
	int rc = ndx_buf_append(&s->body, data, n);

	if (rc == NDX_ETOOBIG)
		s->toobig = 1;
	return rc == NDX_OK ? n : 0;
}

static void list_clear(struct rev_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->lists[i].bits);
	free(l->lists);
	free(l->issuer);
	memset(l, 0, sizeof *l);
}

/* Checks the payload of a verified index for issuer and fills l (owned):
 * the version, generated_at and, for each list, its digest; bits stay NULL
 * until the lists are fetched. */
static int parse_index(const uint8_t *p, size_t len, const char *issuer, struct rev_list *l,
		       char *err, size_t errcap)
{
	json_error_t je;
	json_t *doc = json_loadb((const char *)p, len, JSON_REJECT_DUPLICATES, &je);
	json_t *ver, *lists, *cap, *e;
	const char *iss, *gen;
	size_t i;
	int rc = NDX_EINVAL;

	memset(l, 0, sizeof *l);
	if (!doc || !json_is_object(doc)) {
		snprintf(err, errcap, "the payload is not a JSON object");
		goto out;
	}
	iss = json_string_value(json_object_get(doc, "issuer"));
	gen = json_string_value(json_object_get(doc, "generated_at"));
	ver = json_object_get(doc, "version");
	cap = json_object_get(doc, "capacity");
	lists = json_object_get(doc, "lists");
	if (!iss || strcmp(iss, issuer) != 0) {
		snprintf(err, errcap, "the index's issuer is not %s", issuer);
		goto out;
	}
	if (!json_is_integer(ver) || json_integer_value(ver) < 1 || !gen ||
	    ndx_time_parse(gen, &l->generated_at) != NDX_OK || !json_is_array(lists) ||
	    !json_is_integer(cap) || json_integer_value(cap) != NDX_STATUSLIST_CAPACITY ||
	    json_array_size(lists) > (size_t)NDX_STATUSLIST_MAX_LIST + 1) {
		snprintf(err, errcap, "version, generated_at, capacity or lists is missing or "
			 "malformed");
		goto out;
	}
	l->version = json_integer_value(ver);
	if (json_array_size(lists) &&
	    !(l->lists = calloc(json_array_size(lists), sizeof *l->lists))) {
		rc = NDX_ENOMEM;
		snprintf(err, errcap, "out of memory");
		goto out;
	}
	l->n = json_array_size(lists);
	json_array_foreach(lists, i, e) {
		const char *sha = json_string_value(json_object_get(e, "sha256"));
		json_t *n = json_object_get(e, "list");
		/* Lists are named in order, 0 first: a gap would be a list with no
		 * state. */
		if (!json_is_integer(n) || json_integer_value(n) != (json_int_t)i || !sha ||
		    ndx_hex_decode(sha, strlen(sha), l->lists[i].sha256, NDX_SHA256_LEN) != NDX_OK) {
			snprintf(err, errcap, "lists[%zu] is not {\"list\":%zu,\"sha256\":hex}", i, i);
			goto out;
		}
	}
	if (!(l->issuer = strdup(issuer))) {
		rc = NDX_ENOMEM;
		snprintf(err, errcap, "out of memory");
		goto out;
	}
	rc = NDX_OK;
out:
	if (rc != NDX_OK)
		list_clear(l);
	json_decref(doc);
	return rc;
}

/* Puts l (taken) in place of the issuer's held state unless it is older;
 * the lists marked keep take the held bits instead of copying them. */
static int install(struct gw_revocations *r, struct rev_list *l, char *err, size_t errcap)
{
	int rc = NDX_OK;

	pthread_mutex_lock(&r->mu);
	for (size_t i = 0; i < r->nlists; i++) {
		struct rev_list *h = &r->lists[i];

		if (strcmp(h->issuer, l->issuer) != 0)
			continue;
		if (l->version < h->version) {
			snprintf(err, errcap, "version %lld is older than the held %lld", l->version,
				 h->version);
			rc = NDX_EINVAL;
		} else {
			/* Only the poller installs, so the held lists that fill_list
			 * matched are still there. */
			for (size_t n = 0; n < l->n; n++) {
				if (l->lists[n].keep && n < h->n && h->lists[n].bits) {
					l->lists[n].bits = h->lists[n].bits;
					h->lists[n].bits = NULL;
				}
			}
			list_clear(&r->lists[i]);
			r->lists[i] = *l;
			memset(l, 0, sizeof *l);
		}
		goto out;
	}
	{
		struct rev_list *nl = realloc(r->lists, (r->nlists + 1) * sizeof *nl);
		if (!nl) {
			rc = NDX_ENOMEM;
			snprintf(err, errcap, "out of memory");
			goto out;
		}
		r->lists = nl;
		r->lists[r->nlists++] = *l;
		memset(l, 0, sizeof *l);
	}
out:
	pthread_mutex_unlock(&r->mu);
	list_clear(l);
	return rc;
}

static int progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct gw_revocations *r = ud;
	(void)dt;
	(void)dn;
	(void)ut;
	(void)un;
	return r->stopping && atomic_load(r->stopping) ? 1 : 0;
}

/* GET url into *body (at most cap bytes); NDX_OK for a 200 with a body,
 * which the caller frees with ndx_buf_free. On failure *body holds nothing. */
static int http_get(struct gw_revocations *r, const char *url, size_t cap, struct ndx_buf *body,
		    char *err, size_t errcap)
{
	char cerr[CURL_ERROR_SIZE] = "";
	struct sink s = { .toobig = 0 };
	long status = 0;
	CURLcode cc;

	ndx_buf_init(body, cap);
	ndx_buf_init(&s.body, cap);
	if (!r->curl && !(r->curl = curl_easy_init()))
		return snprintf(err, errcap, "cannot initialise libcurl"), NDX_ENOMEM;
	curl_easy_reset(r->curl);
	curl_easy_setopt(r->curl, CURLOPT_URL, url);
	curl_easy_setopt(r->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(r->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(r->curl, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
	curl_easy_setopt(r->curl, CURLOPT_TIMEOUT_MS, FETCH_TIMEOUT_MS);
	curl_easy_setopt(r->curl, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(r->curl, CURLOPT_USERAGENT, GW_PROG);
	curl_easy_setopt(r->curl, CURLOPT_WRITEFUNCTION, sink_write);
	curl_easy_setopt(r->curl, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(r->curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(r->curl, CURLOPT_XFERINFOFUNCTION, progress);
	curl_easy_setopt(r->curl, CURLOPT_XFERINFODATA, r);
	cc = curl_easy_perform(r->curl);
	curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &status);
	if (cc != CURLE_OK || status != 200 || !s.body.data) {
		snprintf(err, errcap, "GET %.512s: %s", url,
			 cc != CURLE_OK ? (s.toobig ? "answer too large"
						    : (cerr[0] ? cerr : curl_easy_strerror(cc)))
					: "not a 200 answer with a body");
		ndx_buf_free(&s.body);
		return NDX_ENET;
	}
	*body = s.body;
	return NDX_OK;
}

/* Fills list n of l: marked keep when the held state has a list of the
 * same digest, else fetched, checked against the digest and decoded.
 * *fetched counts the lists fetched, *bytes their size. */
static int fill_list(struct gw_revocations *r, const char *issuer, const char *base,
		     struct rev_list *l, size_t n, size_t *fetched, size_t *bytes, char *err,
		     size_t errcap)
{
	struct ndx_statuslist *sl = NULL;
	uint8_t sha[NDX_SHA256_LEN];
	struct ndx_buf doc;
	char url[2048], why[256];
	int rc = NDX_ENOTFOUND;

	pthread_mutex_lock(&r->mu);
	for (size_t i = 0; i < r->nlists; i++) {
		const struct rev_list *h = &r->lists[i];
		if (strcmp(h->issuer, issuer) != 0 || n >= h->n || !h->lists[n].bits ||
		    memcmp(h->lists[n].sha256, l->lists[n].sha256, NDX_SHA256_LEN) != 0)
			continue;
		l->lists[n].keep = true; /* install takes the held bits */
		rc = NDX_OK;
		break;
	}
	pthread_mutex_unlock(&r->mu);
	if (rc != NDX_ENOTFOUND)
		return rc;
	snprintf(url, sizeof url, "%s/status/%zu", base, n);
	if ((rc = http_get(r, url, NDX_STATUSLIST_MAX_DOC, &doc, err, errcap)) != NDX_OK)
		return rc;
	ndx_sha256(doc.data, doc.len, sha);
	if (memcmp(sha, l->lists[n].sha256, NDX_SHA256_LEN) != 0) {
		snprintf(err, errcap, "list from %.512s refused: not the digest the index names", url);
		rc = NDX_EBADSIG;
	} else if ((rc = ndx_statuslist_parse(doc.data, doc.len, &sl, why, sizeof why)) != NDX_OK) {
		snprintf(err, errcap, "list from %.512s refused: %s", url, why);
	} else if (strcmp(sl->issuer, issuer) != 0 || sl->list != n) {
		snprintf(err, errcap, "list from %.512s refused: it is list %u of %.256s", url,
			 sl->list, sl->issuer);
		rc = NDX_EINVAL;
	} else {
		l->lists[n].bits = sl->bits;
		sl->bits = NULL;
		(*fetched)++;
		*bytes += doc.len;
	}
	ndx_statuslist_free(sl);
	ndx_buf_free(&doc);
	return rc;
}

static double mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Fetches, verifies and installs the status of one consent service. */
static int fetch_one(struct gw_revocations *r, const struct ndx_conf *conf, const char *issuer,
		     const char *base, char *err, size_t errcap)
{
	struct ndx_buf doc;
	struct ndx_jws *jws = NULL;
	struct rev_list l = { 0 };
	const struct ndx_key *key;
	const uint8_t *payload;
	size_t plen, fetched = 0, bytes = 0;
	char url[2048], why[256];
	double t0 = mono_ms();
	int rc;

	snprintf(url, sizeof url, "%s/status", base);
	if ((rc = http_get(r, url, NDX_JWS_MAX_BYTES, &doc, err, errcap)) != NDX_OK)
		return rc;
	rc = ndx_jws_parse(doc.data, doc.len, &jws, why, sizeof why);
	if (rc != NDX_OK) {
		snprintf(err, errcap, "index from %.512s refused: %s", url, why);
		goto out;
	}
	if (!ndx_jws_typ(jws) || strcmp(ndx_jws_typ(jws), INDEX_TYP) != 0) {
		snprintf(err, errcap, "index from %.512s refused: typ is not " INDEX_TYP, url);
		rc = NDX_EINVAL;
		goto out;
	}
	key = ndx_jws_kid(jws) ? ndx_conf_consent_key(conf, issuer, ndx_jws_kid(jws)) : NULL;
	if (!key || ndx_jws_verify(jws, key) != NDX_OK) {
		snprintf(err, errcap, "index from %.512s refused: %s", url,
			 key ? "the signature does not verify" : "not signed by the issuer's key");
		rc = NDX_EBADSIG;
		goto out;
	}
	payload = ndx_jws_payload(jws, &plen);
	if ((rc = parse_index(payload, plen, issuer, &l, why, sizeof why)) != NDX_OK) {
		snprintf(err, errcap, "index from %.512s refused: %s", url, why);
		goto out;
	}
	/* All lists or nothing: a state with a list missing would answer for
	 * consents it knows nothing about. */
	for (size_t n = 0; n < l.n && rc == NDX_OK; n++)
		rc = fill_list(r, issuer, base, &l, n, &fetched, &bytes, err, errcap);
	if (rc != NDX_OK) {
		list_clear(&l);
		goto out;
	}
	if ((rc = install(r, &l, why, sizeof why)) != NDX_OK)
		snprintf(err, errcap, "index from %.512s refused: %s", url, why);
	else if (fetched)
		/* Said only when a list changed: the measure of a refresh. */
		fprintf(stderr, GW_PROG ": consent status of %s: %zu list(s) of %zu fetched "
			"(%zu bytes) and verified in %.1f ms\n", issuer, fetched, l.n ? l.n : fetched,
			bytes, mono_ms() - t0);
out:
	ndx_jws_free(jws);
	ndx_buf_free(&doc);
	return rc;
}

/* True when a service this gateway serves requires consent. */
static bool serves_consent(const struct gw_view *v)
{
	for (size_t i = 0; i < v->s->nservices; i++) {
		const struct ndx_conf_service *svc =
			ndx_conf_service_of(v->c->conf, v->s->services[i].id);
		if (svc && svc->consent_required)
			return true;
	}
	return false;
}

static void poll_once(struct gw_revocations *r)
{
	struct gw_view v;
	const struct ndx_conf_consent_service *cs;
	size_t i;
	char err[2048];

	gw_state_acquire(r->state, &v);
	if (!v.c || !serves_consent(&v))
		goto out;
	for (i = 0; (cs = ndx_conf_consent_service_at(v.c->conf, i)); i++) {
		const char *id = cs->id, *url = cs->url;
		size_t k;
		if (r->stopping && atomic_load(r->stopping))
			continue;
		for (k = 0; k < r->nfailing && strcmp(r->failing[k], id) != 0; k++)
			;
		if (fetch_one(r, v.c->conf, id, url, err, sizeof err) != NDX_OK) {
			/* Said once per outage of an issuer, not every poll. */
			if (k == r->nfailing) {
				char **nf = realloc(r->failing, (r->nfailing + 1) * sizeof *nf);
				fprintf(stderr, GW_PROG ": consent revocations of %s: %s\n", id, err);
				if (nf) {
					r->failing = nf;
					if ((nf[r->nfailing] = strdup(id)))
						r->nfailing++;
				}
			}
		} else if (k < r->nfailing) {
			fprintf(stderr, GW_PROG ": consent revocations of %s fetched again\n", id);
			free(r->failing[k]);
			r->failing[k] = r->failing[--r->nfailing];
		}
	}
out:
	gw_view_release(&v);
}

static long refresh_s(struct gw_revocations *r)
{
	struct gw_view v;
	long s;
	gw_state_acquire(r->state, &v);
	s = v.s->consent_refresh_s;
	gw_view_release(&v);
	return s > 0 ? s : 10;
}

static void poll_round(void *arg)
{
	poll_once(arg);
}

static long poll_interval(void *arg)
{
	return refresh_s(arg);
}

int gw_revocations_new(struct gw_state *st, struct gw_revocations **out)
{
	struct gw_revocations *r = calloc(1, sizeof *r);

	*out = NULL;
	if (!r)
		return NDX_ENOMEM;
	r->state = st;
	pthread_mutex_init(&r->mu, NULL);
	*out = r;
	return NDX_OK;
}

int gw_revocations_start(struct gw_revocations *r, struct gw_poller *p)
{
	const struct gw_task t = { .name = "consent status lists", .run = poll_round,
				   .interval_s = poll_interval, .ud = r, .at_start = true };

	if (gw_poller_add(p, &t) < 0)
		return NDX_ENOMEM;
	r->stopping = gw_poller_stopping(p);
	return NDX_OK;
}

int gw_revocations_lookup(struct gw_revocations *r, const char *issuer, uint32_t list,
			  uint32_t idx, time_t now, bool *revoked)
{
	int rc = NDX_ENOTFOUND;

	*revoked = false;
	if (!r)
		return NDX_ENOTFOUND;
	pthread_mutex_lock(&r->mu);
	for (size_t i = 0; i < r->nlists; i++) {
		const struct rev_list *l = &r->lists[i];
		if (strcmp(l->issuer, issuer) != 0)
			continue;
		if (now - l->generated_at > GW_REVOCATIONS_MAX_AGE_S) {
			rc = NDX_EEXPIRED;
			break;
		}
		/* The index names every list in use when it was signed, so a
		 * consent in a later list was issued after generated_at: as of
		 * then it was not revoked, the same answer a named list gives for
		 * a revocation since. */
		if (list >= l->n) {
			rc = NDX_OK;
			break;
		}
		if (!l->lists[list].bits)
			break;
		*revoked = ndx_statuslist_get(l->lists[list].bits, NDX_STATUSLIST_BYTES, idx);
		rc = NDX_OK;
		break;
	}
	pthread_mutex_unlock(&r->mu);
	return rc;
}

int gw_revocations_current(struct gw_revocations *r, const char *issuer, time_t now)
{
	int rc = NDX_ENOTFOUND;

	if (!r)
		return NDX_ENOTFOUND;
	pthread_mutex_lock(&r->mu);
	for (size_t i = 0; i < r->nlists; i++) {
		if (strcmp(r->lists[i].issuer, issuer) == 0) {
			rc = now - r->lists[i].generated_at > GW_REVOCATIONS_MAX_AGE_S ? NDX_EEXPIRED
										: NDX_OK;
			break;
		}
	}
	pthread_mutex_unlock(&r->mu);
	return rc;
}

void gw_revocations_free(struct gw_revocations *r)
{
	if (!r)
		return;
	if (r->curl)
		curl_easy_cleanup(r->curl);
	for (size_t i = 0; i < r->nlists; i++)
		list_clear(&r->lists[i]);
	free(r->lists);
	for (size_t i = 0; i < r->nfailing; i++)
		free(r->failing[i]);
	free(r->failing);
	pthread_mutex_destroy(&r->mu);
	free(r);
}
