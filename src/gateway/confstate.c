/* The global configuration a gateway holds (docs/protocol.md "The global
 * configuration"): the last good copy is loaded from data_dir/conf at start,
 * so a gateway serves while the registry is down, until that copy expires;
 * the gateway's poller (poller.h) fetches /conf of its registry every
 * conf_refresh_s (from the node that answered last; when it fails, from
 * the next of registry_urls in turn, so that a gateway listing several
 * registry nodes of one database keeps refreshing while one is down),
 * verifies what it
 * gets against the anchor, saves it and swaps it in. Requests take a
 * reference under a mutex held for two pointer copies and never wait for a
 * fetch; the last reference frees an old configuration. A configuration
 * older (by version) than the held one is refused so that a replayed
 * document cannot bring back a revoked key.
 *
 * A poll names the held version (`?since=V`) and the held document's
 * ETag: the registry answers 304 when nothing changed, else a signed
 * delta from V when it still has V's document (docs/protocol.md
 * "Configuration deltas"), else the full document. A delta is applied to
 * the held configuration (ndx_conf_delta_apply) and saved beside the last
 * full document as conf.delta.N; every NDX_CONF_DELTAS_MAX deltas the
 * full document is rebuilt, checked against the registry's signature and
 * saved again. A delta whose signature fails is refused like a bad
 * document; one that is signed but does not apply (another held version,
 * a digest that differs) makes the gateway take the full document. */
#include <pthread.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "xfer.h"
#include "confstate.h"
#include "gwconfig.h"
#include "poller.h"
#include "ndx/buf.h"
#include "ndx/err.h"

#define CONF_SIG_MAX 4096u
#define FETCH_TIMEOUT_MS 20000L

struct gw_state {
	struct gw_config *cfg;
	pthread_mutex_t mu;
	struct gw_conf_ref *conf;
	struct gw_settings *settings;

	pthread_mutex_t fetch_mu; /* one fetch at a time; owns curl */
	CURL *curl;
	/* The shared poller (poller.h) runs the polling; its stop flag, read
	 * by a fetch in progress to abort it (NULL before the poller exists). */
	struct gw_poller *poller;
	int task;
	const atomic_int *stopping;
	bool failing;             /* the last round failed: said once per outage */
	size_t reg_at;            /* the registry_urls entry that answered last */
	unsigned ndeltas;         /* conf.delta.N saved since conf.json */
};

struct fetch_sink {
	struct ndx_buf body; /* capped at NDX_CONF_MAX_BYTES */
	int toobig;
	char *sig;
	bool delta;          /* Ndx-Conf-Delta-From was present */
};

/* Configuration updates since start, by kind (the gateway's metrics). */
static atomic_ullong n_full, n_delta, n_delta_refused;

void gw_conf_update_counts(uint64_t *full, uint64_t *delta, uint64_t *delta_refused)
{
	*full = atomic_load_explicit(&n_full, memory_order_relaxed);
	*delta = atomic_load_explicit(&n_delta, memory_order_relaxed);
	*delta_refused = atomic_load_explicit(&n_delta_refused, memory_order_relaxed);
}

static size_t fetch_body(char *data, size_t size, size_t nmemb, void *ud)
{
	struct fetch_sink *f = ud;
	size_t n = size * nmemb;
	int rc = ndx_buf_append(&f->body, data, n);

	if (rc == NDX_ETOOBIG)
		f->toobig = 1;
	return rc == NDX_OK ? n : 0;
}

static size_t fetch_header(char *data, size_t size, size_t nmemb, void *ud)
{
	struct fetch_sink *f = ud;
	size_t n = size * nmemb;
	static const char name[] = "ndx-conf-signature:", dname[] = "ndx-conf-delta-from:";

	if (n > sizeof dname - 1 && strncasecmp(data, dname, sizeof dname - 1) == 0)
		f->delta = true;

	if (n > sizeof name - 1 && n < CONF_SIG_MAX && strncasecmp(data, name, sizeof name - 1) == 0) {
		const char *v = data + sizeof name - 1;
		size_t vl = n - (sizeof name - 1);
		while (vl && (*v == ' ' || *v == '\t')) {
			v++;
			vl--;
		}
		while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
			vl--;
		free(f->sig);
		f->sig = strndup(v, vl);
	}
	return n;
}

static void conf_ref_release(struct gw_conf_ref *c)
{
	if (c && atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1) {
		ndx_conf_free(c->conf);
		free(c);
	}
}

static struct gw_conf_ref *conf_ref_new(struct ndx_conf *conf)
{
	struct gw_conf_ref *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	atomic_init(&c->refs, 1);
	c->conf = conf;
	c->loaded_at = time(NULL);
	return c;
}

static void swap_conf(struct gw_state *st, struct gw_conf_ref *c)
{
	struct gw_conf_ref *old;
	pthread_mutex_lock(&st->mu);
	old = st->conf;
	st->conf = c;
	pthread_mutex_unlock(&st->mu);
	conf_ref_release(old);
}

void gw_state_acquire(struct gw_state *st, struct gw_view *v)
{
	pthread_mutex_lock(&st->mu);
	v->c = st->conf;
	v->s = st->settings;
	if (v->c)
		atomic_fetch_add_explicit(&v->c->refs, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&v->s->refs, 1, memory_order_relaxed);
	pthread_mutex_unlock(&st->mu);
}

void gw_view_release(struct gw_view *v)
{
	conf_ref_release(v->c);
	gw_settings_release(v->s);
	v->c = NULL;
	v->s = NULL;
}

bool gw_view_live(const struct gw_view *v, time_t now)
{
	return v->c && ndx_conf_expires_at(v->c->conf) > now;
}

void gw_state_set_settings(struct gw_state *st, struct gw_settings *s)
{
	struct gw_settings *old;
	pthread_mutex_lock(&st->mu);
	old = st->settings;
	st->settings = s;
	pthread_mutex_unlock(&st->mu);
	gw_settings_release(old);
}

const struct gw_config *gw_state_config(const struct gw_state *st)
{
	return st->cfg;
}

static long refresh_s(struct gw_state *st)
{
	long r;
	pthread_mutex_lock(&st->mu);
	r = st->settings->conf_refresh_s;
	pthread_mutex_unlock(&st->mu);
	return r;
}

static int fetch_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct gw_state *st = ud;
	(void)dt;
	(void)dn;
	(void)ut;
	(void)un;
	return st->stopping && atomic_load(st->stopping) ? 1 : 0;
}

/* GET url into f, with If-None-Match inm (NULL: none); *status gets the
 * HTTP status. NDX_ENET with the reason in err when no answer came. */
static int get_conf(struct gw_state *st, const char *url, const char *inm, struct fetch_sink *f,
		    long *status, char *err, size_t errcap)
{
	char cerr[CURL_ERROR_SIZE] = "", hdr[128];
	struct curl_slist *hl = NULL;
	CURLcode cc;

	if (!st->curl && !(st->curl = curl_easy_init()))
		return snprintf(err, errcap, "cannot initialise libcurl"), NDX_ENOMEM;
	if (inm) {
		snprintf(hdr, sizeof hdr, "If-None-Match: %s", inm);
		if (!(hl = curl_slist_append(NULL, hdr)))
			return snprintf(err, errcap, "out of memory"), NDX_ENOMEM;
	}
	curl_easy_reset(st->curl);
	curl_easy_setopt(st->curl, CURLOPT_URL, url);
	curl_easy_setopt(st->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(st->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(st->curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(st->curl, CURLOPT_TIMEOUT_MS, FETCH_TIMEOUT_MS);
	curl_easy_setopt(st->curl, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(st->curl, CURLOPT_USERAGENT, GW_PROG);
	curl_easy_setopt(st->curl, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(st->curl, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(st->curl, CURLOPT_WRITEFUNCTION, fetch_body);
	curl_easy_setopt(st->curl, CURLOPT_WRITEDATA, f);
	curl_easy_setopt(st->curl, CURLOPT_HEADERFUNCTION, fetch_header);
	curl_easy_setopt(st->curl, CURLOPT_HEADERDATA, f);
	curl_easy_setopt(st->curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(st->curl, CURLOPT_XFERINFOFUNCTION, fetch_progress);
	curl_easy_setopt(st->curl, CURLOPT_XFERINFODATA, st);
	cc = curl_easy_perform(st->curl);
	curl_easy_getinfo(st->curl, CURLINFO_RESPONSE_CODE, status);
	curl_easy_setopt(st->curl, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hl);
	if (cc != CURLE_OK) {
		snprintf(err, errcap, "GET %s: %s", url,
			 f->toobig ? "configuration too large" : (cerr[0] ? cerr : curl_easy_strerror(cc)));
		return NDX_ENET;
	}
	return NDX_OK;
}

/* Makes ref the held configuration, saying so when its version is new. */
static void take_conf(struct gw_state *st, struct gw_conf_ref *ref, uint64_t held_version,
		      const char *how)
{
	struct ndx_conf *conf = ref->conf;

	if (ndx_conf_version(conf) != held_version)
		fprintf(stderr, GW_PROG ": configuration version %llu (expires %lld)%s\n",
			(unsigned long long)ndx_conf_version(conf),
			(long long)ndx_conf_expires_at(conf), how);
	swap_conf(st, ref);
}

/* Saves a delta just applied (conf) beside the full document, or, every
 * NDX_CONF_DELTAS_MAX deltas, the rebuilt full document in their place. */
static void save_delta(struct gw_state *st, const struct ndx_conf *conf,
		       const struct fetch_sink *f)
{
	const char *dir = st->cfg->conf_dir;
	char why[512];

	if (st->ndeltas + 1 >= NDX_CONF_DELTAS_MAX) {
		if (ndx_conf_save_full(conf, dir, st->cfg->anchor, why, sizeof why) == NDX_OK) {
			ndx_conf_clear_deltas(dir);
			st->ndeltas = 0;
			return;
		}
		fprintf(stderr, GW_PROG ": cannot save the rebuilt configuration: %s\n", why);
	}
	if (ndx_conf_save_delta(dir, st->ndeltas + 1, (const uint8_t *)f->body.data, f->body.len,
				f->sig) == NDX_OK)
		st->ndeltas++;
	else
		fprintf(stderr, GW_PROG ": cannot save the configuration delta to %s\n", dir);
}

/* A delta answer: verify and apply it to held. NDX_EPERM when it is
 * signed but does not apply (the caller takes the full document); any
 * other error refuses it. */
static int take_delta(struct gw_state *st, struct gw_conf_ref *held, const char *url,
		      const struct fetch_sink *f, char *err, size_t errcap)
{
	struct ndx_conf *conf = NULL;
	struct gw_conf_ref *ref;
	char why[512];
	int rc;

	if (!held)
		return snprintf(err, errcap, "%s: a delta, but no configuration is held", url),
		       NDX_EINVAL;
	rc = ndx_conf_delta_apply(held->conf, (const uint8_t *)f->body.data, f->body.len, f->sig,
				  st->cfg->anchor, time(NULL), &conf, why, sizeof why);
	if (rc != NDX_OK) {
		atomic_fetch_add_explicit(&n_delta_refused, 1, memory_order_relaxed);
		snprintf(err, errcap, "configuration delta from %s refused: %s", url, why);
		/* A signature that fails is an attack or a broken node: refused.
		 * A signed delta that does not apply is the registry's word that
		 * the versions moved on: the full document settles it. */
		if (rc == NDX_EBADSIG || rc == NDX_ENOTFOUND)
			return rc;
		fprintf(stderr, GW_PROG ": %s; fetching the full document\n", err);
		return NDX_EPERM;
	}
	save_delta(st, conf, f);
	if (!(ref = conf_ref_new(conf))) {
		ndx_conf_free(conf);
		return snprintf(err, errcap, "out of memory"), NDX_ENOMEM;
	}
	atomic_fetch_add_explicit(&n_delta, 1, memory_order_relaxed);
	snprintf(why, sizeof why, " from a delta of %zu bytes", f->body.len);
	take_conf(st, ref, ndx_conf_version(held->conf), why);
	return NDX_OK;
}

/* A full document: verify, refuse an older version, save, swap. */
static int take_full(struct gw_state *st, uint64_t held_version, const char *url,
		     const struct fetch_sink *f, char *err, size_t errcap)
{
	struct ndx_conf *conf = NULL;
	struct gw_conf_ref *ref;
	char why[512];
	int rc;

	rc = ndx_conf_verify((const uint8_t *)f->body.data, f->body.len, f->sig, st->cfg->anchor,
			     time(NULL), &conf, why, sizeof why);
	if (rc != NDX_OK) {
		snprintf(err, errcap, "configuration from %s refused: %s", url, why);
		return rc;
	}
	if (ndx_conf_version(conf) < held_version) {
		snprintf(err, errcap, "configuration version %llu from %s is older than the held %llu",
			 (unsigned long long)ndx_conf_version(conf), url,
			 (unsigned long long)held_version);
		ndx_conf_free(conf);
		return NDX_EINVAL;
	}
	/* Saved before use: a restart then finds what was last served. The
	 * deltas saved on top of the previous full document go after it
	 * (a crash in between leaves deltas that no longer apply: a loader
	 * stops at the first). */
	if (ndx_conf_save_dir(st->cfg->conf_dir, (const uint8_t *)f->body.data, f->body.len,
			      f->sig) != NDX_OK)
		fprintf(stderr, GW_PROG ": cannot save the configuration to %s\n",
			st->cfg->conf_dir);
	ndx_conf_clear_deltas(st->cfg->conf_dir);
	st->ndeltas = 0;
	if (!(ref = conf_ref_new(conf))) {
		ndx_conf_free(conf);
		return snprintf(err, errcap, "out of memory"), NDX_ENOMEM;
	}
	atomic_fetch_add_explicit(&n_full, 1, memory_order_relaxed);
	take_conf(st, ref, held_version, "");
	return NDX_OK;
}

/* One poll of the registry at base: a delta from the held version, a 304,
 * or the full document. Called with fetch_mu held. */
static int fetch_from(struct gw_state *st, const char *base, char *err, size_t errcap)
{
	struct fetch_sink f = { 0 };
	char url[2048], etag[64];
	struct gw_conf_ref *held;
	uint64_t held_version = 0;
	long status = 0;
	int rc;

	pthread_mutex_lock(&st->mu);
	held = st->conf;
	if (held)
		atomic_fetch_add_explicit(&held->refs, 1, memory_order_relaxed);
	pthread_mutex_unlock(&st->mu);
	if (held)
		held_version = ndx_conf_version(held->conf);
	ndx_buf_init(&f.body, NDX_CONF_MAX_BYTES);
	if (held) {
		snprintf(url, sizeof url, "%s/conf?since=%llu", base,
			 (unsigned long long)held_version);
		snprintf(etag, sizeof etag, "\"%llu-%lld\"", (unsigned long long)held_version,
			 (long long)ndx_conf_generated_at(held->conf));
	} else {
		snprintf(url, sizeof url, "%s/conf", base);
	}
	rc = get_conf(st, url, held ? etag : NULL, &f, &status, err, errcap);
	if (rc == NDX_OK && status == 304 && held)
		goto out; /* nothing new */
	if (rc == NDX_OK && (status != 200 || !f.sig || !f.body.data)) {
		snprintf(err, errcap, "GET %s: status %ld%s", url, status,
			 f.sig ? "" : " without Ndx-Conf-Signature");
		rc = NDX_ENET;
	}
	if (rc == NDX_OK && f.delta) {
		rc = take_delta(st, held, url, &f, err, errcap);
		if (rc != NDX_EPERM)
			goto out;
		/* The full document from the same node. */
		ndx_buf_free(&f.body);
		free(f.sig);
		f = (struct fetch_sink){ 0 };
		ndx_buf_init(&f.body, NDX_CONF_MAX_BYTES);
		snprintf(url, sizeof url, "%s/conf", base);
		rc = get_conf(st, url, NULL, &f, &status, err, errcap);
		if (rc == NDX_OK && (status != 200 || !f.sig || !f.body.data || f.delta)) {
			snprintf(err, errcap, "GET %s: status %ld%s", url, status,
				 f.sig ? "" : " without Ndx-Conf-Signature");
			rc = NDX_ENET;
		}
	}
	if (rc == NDX_OK)
		rc = take_full(st, held_version, url, &f, err, errcap);
out:
	conf_ref_release(held);
	ndx_buf_free(&f.body);
	free(f.sig);
	return rc;
}

/* fetch_from the registry that answered last, then each other in turn;
 * err says why the last one tried failed (and, with several, that all
 * did). */
static int fetch_locked(struct gw_state *st, char *err, size_t errcap)
{
	size_t n = st->cfg->n_registry_urls;
	char first_err[1024] = "";
	int rc = NDX_EINVAL;

	if (n == 0)
		return fetch_from(st, st->cfg->registry_url, err, errcap);
	for (size_t k = 0; k < n; k++) {
		size_t i = (st->reg_at + k) % n;

		rc = fetch_from(st, st->cfg->registry_urls[i], err, errcap);
		if (rc == NDX_OK) {
			if (k > 0)
				fprintf(stderr, GW_PROG ": configuration fetched from %s (%s)\n",
					st->cfg->registry_urls[i], first_err);
			st->reg_at = i;
			return NDX_OK;
		}
		if (rc == NDX_ENOMEM || (st->stopping && atomic_load(st->stopping)))
			return rc;
		if (k == 0)
			snprintf(first_err, sizeof first_err, "%s", err);
	}
	if (n > 1) {
		char last[1024];
		snprintf(last, sizeof last, "%s", err);
		snprintf(err, errcap, "none of the %zu registries answered; last: %s", n, last);
	}
	return rc;
}

int gw_state_fetch(struct gw_state *st, char *err, size_t errcap)
{
	int rc;
	pthread_mutex_lock(&st->fetch_mu);
	rc = fetch_locked(st, err, errcap);
	pthread_mutex_unlock(&st->fetch_mu);
	return rc;
}

/* One round of the poller's configuration task. */
static void poll_round(void *arg)
{
	struct gw_state *st = arg;
	char err[1024];

	if (gw_state_fetch(st, err, sizeof err) != NDX_OK) {
		/* Say it once per outage, not every poll. */
		if (!st->failing)
			fprintf(stderr, GW_PROG ": %s; keeping the held configuration\n", err);
		st->failing = true;
	} else {
		if (st->failing)
			fprintf(stderr, GW_PROG ": configuration fetched again\n");
		st->failing = false;
	}
}

static long poll_interval(void *arg)
{
	return refresh_s(arg);
}

int gw_state_new(struct gw_config *cfg, struct gw_state **out)
{
	struct gw_state *st = calloc(1, sizeof *st);
	struct ndx_conf *conf = NULL;
	char why[512];

	*out = NULL;
	if (!st)
		return NDX_ENOMEM;
	st->cfg = cfg;
	st->settings = cfg->settings;
	cfg->settings = NULL;
	pthread_mutex_init(&st->mu, NULL);
	pthread_mutex_init(&st->fetch_mu, NULL);
	st->task = -1;
	/* The last full document and the deltas saved on top of it. */
	if (ndx_conf_load_dir_deltas(cfg->conf_dir, cfg->anchor, time(NULL), &conf, &st->ndeltas,
				     why, sizeof why) == NDX_OK) {
		st->conf = conf_ref_new(conf);
		if (!st->conf) {
			ndx_conf_free(conf);
			gw_state_free(st);
			return NDX_ENOMEM;
		}
	}
	*out = st;
	return NDX_OK;
}

int gw_state_start(struct gw_state *st, struct gw_poller *p)
{
	const struct gw_task t = { .name = "configuration", .run = poll_round,
				   .interval_s = poll_interval, .ud = st };

	st->task = gw_poller_add(p, &t);
	if (st->task < 0)
		return NDX_ENOMEM;
	st->poller = p;
	st->stopping = gw_poller_stopping(p);
	return NDX_OK;
}

void gw_state_fetch_soon(struct gw_state *st)
{
	gw_poller_soon(st->poller, st->task);
}

void gw_state_free(struct gw_state *st)
{
	if (!st)
		return;
	if (st->curl)
		curl_easy_cleanup(st->curl);
	conf_ref_release(st->conf);
	gw_settings_release(st->settings);
	pthread_mutex_destroy(&st->fetch_mu);
	pthread_mutex_destroy(&st->mu);
	free(st);
}
