/* The witness thread (witness.h; docs/protocol.md "Witnessed tree heads",
 * docs/gateway.md "Message log"). Each round it sends the registry the
 * tree heads after the newest one countersigned (at most HEADS_MAX, oldest
 * first; a log never witnessed sends its newest HEADS_MAX), checks the
 * countersignature it gets back with a key of the anchor and stores it in
 * the message log, which accepts it only for its own head. The time the
 * oldest head not yet countersigned was signed is published for the
 * handlers: past witness_grace_s every exchange is refused (503). The
 * clock is the log's own, so a restart does not reset it; a log never
 * witnessed counts from the gateway's start. */
#include "gw_witness.h"
#include "xfer.h"
#include "gwconfig.h"

#include <pthread.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ndx/err.h"
#include "ndx/timefmt.h"

#define HEADS_MAX 256
#define REQUEST_TIMEOUT_MS 10000L
#define CONNECT_TIMEOUT_MS 3000L
#define ANSWER_MAX (64u * 1024u)

enum outcome { OK, UNREACHABLE, REFUSED };

struct gw_witness {
	const struct gw_config *cfg;
	struct ndx_msglog *log;
	const char *name;
	pthread_t thread;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	int64_t start_ms;
	_Atomic int64_t waiting_since; /* signing time of the oldest head not witnessed; 0 none */
	_Atomic uint64_t witnessed;    /* newest batch countersigned */
	uint64_t resend_from;          /* the registry asked to start there (0: no) */
	enum outcome last;             /* for one stderr line per change */
	size_t reg_at;                 /* the registry_urls entry asked (the next when down) */
	struct ndx_msglog_sth heads[HEADS_MAX];
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void report(struct gw_witness *w, enum outcome o, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void report(struct gw_witness *w, enum outcome o, const char *fmt, ...)
{
	va_list ap;

	if (o == w->last)
		return;
	w->last = o;
	va_start(ap, fmt);
	fprintf(stderr, GW_PROG ": witness: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* {"gateway": name, "heads": [heads...]} as compact text, or NULL. */
static char *request_body(const struct gw_witness *w, size_t n)
{
	json_t *o = json_object(), *arr = json_array();
	char *text = NULL;
	bool ok = o && arr && json_object_set_new(o, "gateway", json_string(w->name)) == 0;

	for (size_t i = 0; ok && i < n; i++) {
		char *t = ndx_msglog_sth_json(&w->heads[i], NULL);
		json_t *h = t ? json_loads(t, 0, NULL) : NULL;

		free(t);
		ok = h != NULL && json_array_append_new(arr, h) == 0;
	}
	if (ok && json_object_set(o, "heads", arr) == 0)
		text = json_dumps(o, JSON_COMPACT);
	json_decref(arr);
	json_decref(o);
	return text;
}

/* Checks and stores the registry's countersignature of heads[n-1]. */
static int accept_answer(struct gw_witness *w, const char *body, size_t len, size_t n,
			 char *why, size_t cap)
{
	const struct ndx_msglog_sth *last = &w->heads[n - 1];
	struct ndx_msglog_witness cs;
	uint8_t h[NDX_SHA256_LEN];
	const struct ndx_key *k;
	char err[256];
	int rc;

	if (ndx_msglog_witness_parse(body, len, &cs, err, sizeof err) != NDX_OK) {
		snprintf(why, cap, "the registry's answer is not a countersignature: %s", err);
		return NDX_EINVAL;
	}
	ndx_msglog_sth_hash(last, h);
	k = ndx_anchor_key(w->cfg->anchor, cs.key_id);
	if (k == NULL || ndx_msglog_witness_verify(k, &cs) != NDX_OK) {
		snprintf(why, cap, "the countersignature does not verify with a key of the anchor");
		return NDX_EBADSIG;
	}
	if (strcmp(cs.gateway, w->name) != 0 || cs.batch != last->batch ||
	    memcmp(cs.sth_hash, h, sizeof h) != 0) {
		snprintf(why, cap, "the countersignature is of another tree head (batch %" PRIu64
			 " of %.200s)", cs.batch, cs.gateway);
		return NDX_EBADSIG;
	}
	rc = ndx_msglog_add_witness(w->log, &cs);
	if (rc != NDX_OK) {
		snprintf(why, cap, "cannot store the countersignature in the message log: %s",
			 ndx_strerror(rc));
		return rc;
	}
	atomic_store(&w->witnessed, cs.batch);
	return NDX_OK;
}

/* One request. Returns true when another should follow at once (more
 * heads wait, or the registry said where to start). */
static bool round_once(struct gw_witness *w)
{
	struct ndx_msglog_head head;
	struct gw_xfer_resp r = { .cap = ANSWER_MAX };
	struct curl_slist *hdrs = NULL;
	uint64_t done = atomic_load(&w->witnessed), from;
	char url[4200], why[512] = "";
	enum gw_xfer_result xr;
	int64_t since;
	size_t n = 0;
	char *body;
	CURL *c;
	bool more = false;

	ndx_msglog_head(w->log, &head);
	if (head.sth.batch == 0 || head.sth.batch <= done) {
		atomic_store(&w->waiting_since, 0);
		return false;
	}
	if (w->resend_from != 0 && w->resend_from <= head.sth.batch)
		from = w->resend_from;
	else if (done != 0)
		from = done + 1;
	else
		from = head.sth.batch > HEADS_MAX ? head.sth.batch - HEADS_MAX + 1 : 1;
	if (ndx_msglog_heads(w->log, from, w->heads, HEADS_MAX, &n) != NDX_OK || n == 0) {
		/* Archived meanwhile: the newest head alone. */
		w->heads[0] = head.sth;
		n = 1;
	}
	since = w->heads[0].time_ms;
	if (done == 0 && since < w->start_ms)
		since = w->start_ms;
	atomic_store(&w->waiting_since, since);

	body = request_body(w, n);
	c = gw_xfer_handle(GW_HANDLE_BACKEND);
	snprintf(url, sizeof url, "%s/witness",
		 w->cfg->n_registry_urls ? w->cfg->registry_urls[w->reg_at % w->cfg->n_registry_urls]
					 : w->cfg->registry_url);
	if (body == NULL || c == NULL || gw_slist_add(&hdrs, "Content-Type", "application/json") ||
	    gw_slist_add(&hdrs, "Expect", "")) {
		free(body);
		curl_slist_free_all(hdrs);
		return false;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, REQUEST_TIMEOUT_MS);
	xr = gw_xfer_perform(c, "POST", (const uint8_t *)body, strlen(body), hdrs, &r);
	free(body);
	curl_slist_free_all(hdrs);

	if (xr != GW_XFER_OK || r.status >= 500) /* the next registry node, next time */
		w->reg_at++;
	if (xr != GW_XFER_OK) {
		report(w, UNREACHABLE, "the registry cannot be reached (%s); exchanges stop when "
		       "a tree head has waited %ld s", r.errbuf[0] ? r.errbuf : "no answer",
		       w->cfg->witness_grace_s);
	} else if (r.status == 200) {
		if (accept_answer(w, r.body ? r.body : "", r.len, n, why, sizeof why) == NDX_OK) {
			w->resend_from = 0;
			report(w, OK, "tree heads up to batch %" PRIu64 " witnessed by the registry",
			       w->heads[n - 1].batch);
			more = w->heads[n - 1].batch < head.sth.batch;
			if (!more)
				atomic_store(&w->waiting_since, 0);
		} else {
			report(w, REFUSED, "%s", why);
		}
	} else {
		json_t *o = r.body ? json_loadb(r.body, r.len, 0, NULL) : NULL;
		json_t *wb = json_object_get(o, "witnessed_batch");
		const char *detail = json_string_value(json_object_get(o, "detail"));

		if (r.status == 409 && json_is_integer(wb) && json_integer_value(wb) >= 0 &&
		    (uint64_t)json_integer_value(wb) + 1 != w->resend_from) {
			/* Countersignatures this log lost: start where the registry is. */
			w->resend_from = (uint64_t)json_integer_value(wb) + 1;
			more = true;
		} else {
			report(w, REFUSED, "ALARM: the registry refuses our tree heads (%ld): %s",
			       r.status, detail ? detail : "no reason given");
		}
		json_decref(o);
	}
	gw_xfer_resp_free(&r);
	return more;
}

static void *witness_main(void *arg)
{
	struct gw_witness *w = arg;
	int burst = 0;

	pthread_mutex_lock(&w->mu);
	while (!w->stop) {
		struct timespec dl;
		bool more;

		pthread_mutex_unlock(&w->mu);
		more = round_once(w);
		pthread_mutex_lock(&w->mu);
		/* A backlog goes at once, a few requests in a row at most. */
		if (more && ++burst < 1000)
			continue;
		burst = 0;
		clock_gettime(CLOCK_MONOTONIC, &dl);
		dl.tv_sec += w->cfg->witness_interval_s;
		while (!w->stop && pthread_cond_timedwait(&w->cv, &w->mu, &dl) == 0)
			;
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

int gw_witness_start(const struct gw_config *cfg, struct ndx_msglog *log, const char *name,
		     struct gw_witness **out)
{
	struct gw_witness *w = calloc(1, sizeof *w);
	struct ndx_msglog_witness last;
	pthread_condattr_t ca;

	*out = NULL;
	if (w == NULL)
		return NDX_ENOMEM;
	w->cfg = cfg;
	w->log = log;
	w->name = name;
	w->start_ms = now_ms();
	w->last = OK;
	if (ndx_msglog_last_witness(log, &last) == NDX_OK)
		atomic_store(&w->witnessed, last.batch);
	pthread_mutex_init(&w->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&w->thread, NULL, witness_main, w) != 0) {
		gw_witness_free(w);
		return NDX_ENOMEM;
	}
	pthread_setname_np(w->thread, "gw-witness");
	w->started = true;
	*out = w;
	return NDX_OK;
}

void gw_witness_free(struct gw_witness *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	if (w->started)
		pthread_join(w->thread, NULL);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	free(w);
}

bool gw_witness_overdue(const struct gw_witness *w, char *why, size_t cap)
{
	int64_t since;
	char t[NDX_TIME_TEXT_LEN];

	if (w == NULL)
		return false;
	since = atomic_load(&w->waiting_since);
	if (since == 0 || now_ms() - since <= (int64_t)w->cfg->witness_grace_s * 1000)
		return false;
	ndx_time_format((time_t)(since / 1000), t);
	snprintf(why, cap, "no witness has countersigned the message log's tree heads since %s "
		 "(more than %ld s): exchanges are refused until the registry answers", t,
		 w->cfg->witness_grace_s);
	return true;
}

uint64_t gw_witness_batch(const struct gw_witness *w)
{
	return w != NULL ? atomic_load(&w->witnessed) : 0;
}
