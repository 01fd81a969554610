/* The exchange loops (gwloop.h). Each loop owns a libcurl multi handle
 * driven by the socket API (curl tells which sockets to watch and when its
 * timer is due; the loop tells curl what became ready), a free list of easy
 * handles, and the queue of hashes to sign, which its before-sleep hook
 * signs as one batch per turn: everything the turn's events produced. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gwloop.h"
#include "backend_http1.h"
#include "peer_h2.h"
#include "signer.h"
#include "ndx/err.h"

/* Idle connections one loop keeps to peers and backends together. */
#define LOOP_MAX_CONNECTS 256L
/* Connections to one host (a provider gateway, a backend) of all loops
 * together: within a provider gateway's default connections_per_ip (256),
 * so that a busy consumer gateway is never refused at its door; more
 * exchanges wait in curl's queue for a free connection. */
#define HOST_CONNECTIONS_ALL_LOOPS 256L
/* Easy handles kept for reuse per loop (more are made when needed). */
#define EASY_POOL_MAX 256

struct gw_loop {
	struct ndx_loop *loop;
	pthread_t thread;
	bool started;
	bool stopping;
	CURLM *multi;
	struct ndx_loop_timer curl_timer;
	CURL *pool[EASY_POOL_MAX];
	size_t npool;
	struct gw_xfer *live; /* transfers in the multi handle */
	struct gw_sign_job *sign_head, **sign_tail;
	size_t nsign;
	/* the batch under signing, reused between turns */
	uint8_t (*hashes)[NDX_SHA256_LEN];
	char **sigs;
	size_t batch_cap;
	struct gw_bh1 *bh1; /* the backend hop's HTTP/1.1 client, made at first use */
	struct gw_ph2 *ph2;   /* the peer hop's HTTP/2 client, made at first use */
};

struct gw_loops {
	struct gw_loop *v;
	unsigned n;
	atomic_uint next;
};

/* ---- curl's sockets and timer in the loop ------------------------------- */

static void live_remove(struct gw_loop *l, struct gw_xfer *t)
{
	if (t->live_prev)
		t->live_prev->live_next = t->live_next;
	else
		l->live = t->live_next;
	if (t->live_next)
		t->live_next->live_prev = t->live_prev;
	t->live_prev = t->live_next = NULL;
}

static void check_done(struct gw_loop *l)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(l->multi, &left))) {
		struct gw_xfer *t = NULL;
		CURL *c = m->easy_handle;
		CURLcode cc = m->data.result;
		enum gw_xfer_result res;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(c, CURLINFO_PRIVATE, (char **)&t);
		curl_multi_remove_handle(l->multi, c);
		live_remove(l, t);
		res = gw_xfer_complete(t, cc);
		if (l->npool < EASY_POOL_MAX)
			l->pool[l->npool++] = c;
		else
			curl_easy_cleanup(c);
		t->c = NULL;
		t->done(t, res);
	}
}

static void on_socket_ready(void *arg, int fd, unsigned events)
{
	struct gw_loop *l = arg;
	int flags = 0, still;

	if (events & NDX_LOOP_READ)
		flags |= CURL_CSELECT_IN;
	if (events & NDX_LOOP_WRITE)
		flags |= CURL_CSELECT_OUT;
	if (events & NDX_LOOP_ERROR)
		flags |= CURL_CSELECT_ERR;
	curl_multi_socket_action(l->multi, fd, flags, &still);
	check_done(l);
}

static int on_curl_socket(CURL *c, curl_socket_t s, int what, void *ud, void *sockp)
{
	struct gw_loop *l = ud;
	(void)c;
	(void)sockp;

	if (what == CURL_POLL_REMOVE) {
		ndx_loop_unwatch(l->loop, s);
		return 0;
	}
	ndx_loop_watch(l->loop, s,
		       (what & CURL_POLL_IN ? NDX_LOOP_READ : 0u) |
			       (what & CURL_POLL_OUT ? NDX_LOOP_WRITE : 0u),
		       on_socket_ready, l);
	return 0;
}

static void on_curl_timer_due(void *arg)
{
	struct gw_loop *l = arg;
	int still;

	curl_multi_socket_action(l->multi, CURL_SOCKET_TIMEOUT, 0, &still);
	check_done(l);
}

static int on_curl_timer(CURLM *m, long timeout_ms, void *ud)
{
	struct gw_loop *l = ud;
	(void)m;

	if (timeout_ms < 0)
		ndx_loop_timer_disarm(l->loop, &l->curl_timer);
	else
		ndx_loop_timer_arm(l->loop, &l->curl_timer, timeout_ms);
	return 0;
}

/* ---- signing, once per turn ------------------------------------------- */

static void sign_queued(void *arg)
{
	struct gw_loop *l = arg;
	struct gw_sign_job *list, *j, *next;
	size_t n = 0;

	while ((list = l->sign_head)) {
		size_t want = l->nsign;
		/* Read before any done(): a job's owner may be freed by then, on
		 * another thread (an answer whose record the log writer made
		 * durable at once completes there). */
		const struct ndx_key *key = list->key;

		l->sign_head = NULL;
		l->sign_tail = &l->sign_head;
		l->nsign = 0;
		if (want > l->batch_cap) {
			uint8_t (*h)[NDX_SHA256_LEN] = realloc(l->hashes, want * sizeof *h);
			char **s = h ? realloc(l->sigs, want * sizeof *s) : NULL;

			if (h)
				l->hashes = h;
			if (s) {
				l->sigs = s;
				l->batch_cap = want;
			}
		}
		/* One key per gateway; a job of another key (never seen) or no
		 * room for the batch signs alone. */
		n = 0;
		for (j = list; j; j = j->next)
			if (n < l->batch_cap && j->key == key)
				memcpy(l->hashes[n++], j->hash, NDX_SHA256_LEN);
		if (n)
			gw_sign_batch(key, (const uint8_t (*)[NDX_SHA256_LEN])l->hashes, n, l->sigs);
		n = 0;
		for (j = list; j; j = next) {
			next = j->next;
			if (n < l->batch_cap && j->key == key)
				j->sig = l->sigs[n++];
			else
				gw_sign_batch(j->key, (const uint8_t (*)[NDX_SHA256_LEN])j->hash, 1,
					      &j->sig);
			/* done may queue another job (a next gateway): it joins
			 * the next round of this loop. */
			j->done(j);
		}
	}
}

void gw_loop_sign(struct gw_loop *l, struct gw_sign_job *job)
{
	job->sig = NULL;
	job->next = NULL;
	*l->sign_tail = job;
	l->sign_tail = &job->next;
	l->nsign++;
}

/* ---- transfers ------------------------------------------------------------ */

CURL *gw_loop_easy(struct gw_loop *l)
{
	CURL *c;

	if (l->npool) {
		c = l->pool[--l->npool];
		curl_easy_reset(c);
	} else if (!(c = curl_easy_init())) {
		return NULL;
	}
	gw_xfer_base_options(c);
	return c;
}

static void easy_back(struct gw_loop *l, CURL *c)
{
	if (l->npool < EASY_POOL_MAX)
		l->pool[l->npool++] = c;
	else
		curl_easy_cleanup(c);
}

int gw_loop_transfer(struct gw_loop *l, struct gw_xfer *t)
{
	if (l->stopping) {
		easy_back(l, t->c);
		t->c = NULL;
		return NDX_EINVAL;
	}
	curl_easy_setopt(t->c, CURLOPT_PRIVATE, (char *)t);
	if (curl_multi_add_handle(l->multi, t->c) != CURLM_OK) {
		easy_back(l, t->c);
		t->c = NULL;
		return NDX_ENOMEM;
	}
	t->live_prev = NULL;
	t->live_next = l->live;
	if (l->live)
		l->live->live_prev = t;
	l->live = t;
	return NDX_OK;
}

struct ndx_loop *gw_loop_event_loop(struct gw_loop *l)
{
	return l->loop;
}

bool gw_loop_stopping(const struct gw_loop *l)
{
	return l->stopping;
}

struct gw_bh1 **gw_loop_bh1(struct gw_loop *l)
{
	return &l->bh1;
}

struct gw_ph2 **gw_loop_ph2(struct gw_loop *l)
{
	return &l->ph2;
}

/* After the turn's signatures (the hook registered before this one), the
 * requests they let go are written, a connection's together. */
static void flush_peers(void *arg)
{
	struct gw_loop *l = arg;

	gw_ph2_flush(l->ph2);
}

int gw_loop_post(struct gw_loop *l, struct ndx_loop_task *t)
{
	return ndx_loop_post(l->loop, t);
}

/* ---- the threads --------------------------------------------------------- */

static void *loop_main(void *arg)
{
	struct gw_loop *l = arg;

	ndx_loop_run(l->loop);
	return NULL;
}

/* On the loop's thread at stop: every transfer still running fails, and
 * the work that follows (signatures, log writes) is done before the
 * thread ends. */
static void finish_in_flight(void *arg)
{
	struct gw_loop *l = arg;
	struct gw_xfer *t;

	l->stopping = true;
	while ((t = l->live)) {
		CURL *c = t->c;

		curl_multi_remove_handle(l->multi, c);
		live_remove(l, t);
		gw_xfer_complete(t, CURLE_ABORTED_BY_CALLBACK);
		snprintf(t->r->errbuf, sizeof t->r->errbuf, "the gateway is stopping");
		easy_back(l, c);
		t->c = NULL;
		t->done(t, GW_XFER_FAILED);
	}
	gw_bh1_stop(l->bh1);
	gw_ph2_stop(l->ph2);
	sign_queued(l);
	ndx_loop_stop(l->loop);
}

static int loop_init(struct gw_loop *l, unsigned nloops)
{
	l->sign_tail = &l->sign_head;
	if (ndx_loop_new(&l->loop) != NDX_OK || !(l->multi = curl_multi_init()))
		return NDX_ENOMEM;
	l->curl_timer.fn = on_curl_timer_due;
	l->curl_timer.arg = l;
	curl_multi_setopt(l->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
	curl_multi_setopt(l->multi, CURLMOPT_SOCKETDATA, l);
	curl_multi_setopt(l->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
	curl_multi_setopt(l->multi, CURLMOPT_TIMERDATA, l);
	curl_multi_setopt(l->multi, CURLMOPT_MAXCONNECTS, LOOP_MAX_CONNECTS);
	/* HTTP/2 to other gateways (peer.c): a connection carries many calls
	 * at once (libcurl's default since 7.62, said here because peer.c's
	 * CURLOPT_PIPEWAIT relies on it), as many as the peer's
	 * SETTINGS_MAX_CONCURRENT_STREAMS allows (h2o: 100). */
	curl_multi_setopt(l->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
	curl_multi_setopt(l->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
			  HOST_CONNECTIONS_ALL_LOOPS / nloops > 8 ? HOST_CONNECTIONS_ALL_LOOPS / nloops
								 : 8L);
	if (ndx_loop_before_sleep(l->loop, sign_queued, l) != NDX_OK ||
	    ndx_loop_before_sleep(l->loop, flush_peers, l) != NDX_OK)
		return NDX_ENOMEM;
	if (pthread_create(&l->thread, NULL, loop_main, l) != 0)
		return NDX_EIO;
	pthread_setname_np(l->thread, "gw-loop");
	l->started = true;
	return NDX_OK;
}

static void loop_free(struct gw_loop *l)
{
	gw_bh1_free(l->bh1);
	gw_ph2_free(l->ph2);
	for (size_t i = 0; i < l->npool; i++)
		curl_easy_cleanup(l->pool[i]);
	if (l->multi)
		curl_multi_cleanup(l->multi);
	ndx_loop_free(l->loop);
	free(l->hashes);
	free(l->sigs);
}

int gw_loops_start(unsigned n, struct gw_loops **out, char *err, size_t errcap)
{
	struct gw_loops *ls = calloc(1, sizeof *ls);
	int rc = NDX_OK;

	*out = NULL;
	if (n == 0) {
		free(ls);
		snprintf(err, errcap, "no exchange loop to start");
		return NDX_EINVAL;
	}
	if (!ls || !(ls->v = calloc(n, sizeof *ls->v))) {
		free(ls);
		snprintf(err, errcap, "out of memory");
		return NDX_ENOMEM;
	}
	ls->n = n;
	for (unsigned i = 0; i < n && rc == NDX_OK; i++)
		rc = loop_init(&ls->v[i], n);
	if (rc != NDX_OK) {
		snprintf(err, errcap, "cannot start the exchange loops");
		gw_loops_free(ls);
		return rc;
	}
	*out = ls;
	return NDX_OK;
}

struct gw_loop *gw_loops_next(struct gw_loops *ls)
{
	return &ls->v[atomic_fetch_add_explicit(&ls->next, 1, memory_order_relaxed) % ls->n];
}

struct ndx_loop *gw_loops_event_loop(struct gw_loops *ls, unsigned i)
{
	return ls->v[i % ls->n].loop;
}

unsigned gw_loops_count(const struct gw_loops *ls)
{
	return ls->n;
}

void gw_loops_stop(struct gw_loops *ls)
{
	if (!ls)
		return;
	for (unsigned i = 0; i < ls->n; i++) {
		struct gw_loop *l = &ls->v[i];
		struct ndx_loop_task stop = { .fn = finish_in_flight, .arg = l };

		if (!l->started)
			continue;
		if (ndx_loop_post(l->loop, &stop) != NDX_OK)
			ndx_loop_stop(l->loop);
		pthread_join(l->thread, NULL);
		l->started = false;
	}
}

void gw_loops_free(struct gw_loops *ls)
{
	if (!ls)
		return;
	gw_loops_stop(ls);
	for (unsigned i = 0; i < ls->n; i++)
		loop_free(&ls->v[i]);
	free(ls->v);
	free(ls);
}
