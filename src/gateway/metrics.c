/* Prometheus metrics of the gateway (docs/gateway.md "Operations"). Each
 * worker thread counts into its own table of (role, service, status)
 * entries with relaxed atomics, so the request path takes no lock and
 * shares no cache line with other threads; only a thread's first request
 * registers its table under a mutex. /metrics walks all tables and sums.
 * Refusals are counted by the reasons of errors.h: one global atomic each. The
 * message log's figures come from its head, read at render time. */
#include <pthread.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "signer.h"
#include "metrics.h"
#include "confstate.h"
#include "ndx/err.h"
#include "ndx/httpd.h"

#define SLOTS 256 /* (role, service, status) triples a thread tracks */
#define NBUCKETS 12

static const double bucket_le[NBUCKETS - 1] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
						0.5,   1,    2.5,   5,    10 };

struct mentry {
	atomic_int ready; /* set (release) once the key fields are written */
	int role;
	int status;
	char *service;
	uint64_t hash;
	atomic_uint_fast64_t count;
	atomic_uint_fast64_t sum_us;
	atomic_uint_fast64_t buckets[NBUCKETS];
};

struct mthread {
	struct mthread *next;
	struct mentry e[SLOTS];
};

static pthread_mutex_t threads_mu = PTHREAD_MUTEX_INITIALIZER;
static struct mthread *threads;
static _Thread_local struct mthread *tl;
static atomic_long in_flight;

/* Own refusals by (side, reason) of errors.h; refusals of a provider
 * gateway relayed to a client by the X-Road type they carry, among the
 * provider-side types of the table ("other" for anything else). */
static atomic_uint_fast64_t error_counts[2][GW_R_COUNT];
static atomic_uint_fast64_t relayed_counts[GW_R_COUNT + 1];

static uint64_t fnv(const char *s, uint64_t h)
{
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

void gw_metrics_begin(void)
{
	atomic_fetch_add_explicit(&in_flight, 1, memory_order_relaxed);
}

long gw_metrics_in_flight(void)
{
	return atomic_load_explicit(&in_flight, memory_order_relaxed);
}

void gw_metrics_error(enum gw_reason r, enum gw_err_side side)
{
	if ((unsigned)r < GW_R_COUNT)
		atomic_fetch_add_explicit(&error_counts[side == GW_SIDE_PROVIDER][r], 1,
					  memory_order_relaxed);
}

/* The first reason whose provider-side type is type, or GW_R_COUNT: the
 * relayed counter is labelled by type, so reasons sharing one count once. */
static size_t relayed_slot(const char *type)
{
	for (size_t i = 0; type && i < GW_R_COUNT; i++)
		if (strcmp(type, gw_reason_type((enum gw_reason)i, GW_SIDE_PROVIDER)) == 0)
			return i;
	return GW_R_COUNT;
}

void gw_metrics_relayed_error(const char *type)
{
	atomic_fetch_add_explicit(&relayed_counts[relayed_slot(type)], 1, memory_order_relaxed);
}

static struct mentry *find(int role, const char *service, int status)
{
	uint64_t h = fnv(service, 1469598103934665603ULL ^ (uint64_t)(role * 1000 + status));
	size_t i = (size_t)(h % SLOTS);

	if (!tl) {
		tl = calloc(1, sizeof *tl);
		if (!tl)
			return NULL;
		pthread_mutex_lock(&threads_mu);
		tl->next = threads;
		threads = tl;
		pthread_mutex_unlock(&threads_mu);
	}
	for (size_t probe = 0; probe < SLOTS; probe++, i = (i + 1) % SLOTS) {
		struct mentry *e = &tl->e[i];
		/* Only this thread writes its table: a plain read of ready is
		 * enough for the owner. */
		if (!atomic_load_explicit(&e->ready, memory_order_relaxed)) {
			e->service = strdup(service);
			if (!e->service)
				return NULL;
			e->role = role;
			e->status = status;
			e->hash = h;
			atomic_store_explicit(&e->ready, 1, memory_order_release);
			return e;
		}
		if (e->hash == h && e->role == role && e->status == status &&
		    strcmp(e->service, service) == 0)
			return e;
	}
	return NULL;
}

void gw_metrics_end(enum gw_role role, const char *service, int status, double seconds)
{
	struct mentry *e;
	size_t b = 0;

	atomic_fetch_sub_explicit(&in_flight, 1, memory_order_relaxed);
	e = find((int)role, service ? service : "unknown", status);
	if (!e) /* table full: the request still counts in in_flight/errors */
		return;
	while (b < NBUCKETS - 1 && seconds > bucket_le[b])
		b++;
	atomic_fetch_add_explicit(&e->count, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&e->buckets[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&e->sum_us, (uint_fast64_t)(seconds * 1e6), memory_order_relaxed);
}

/* ---- rendering ---------------------------------------------------------- */

struct agg {
	int role, status;
	const char *service;
	uint64_t count, sum_us, buckets[NBUCKETS];
};

struct out {
	char *buf;
	size_t len, cap;
	int oom;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->oom)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			o->oom = 1;
			return;
		}
		if ((size_t)n < o->cap - o->len) {
			o->len += (size_t)n;
			return;
		}
		size_t ncap = o->cap * 2 + (size_t)n;
		char *nb = realloc(o->buf, ncap);
		if (!nb) {
			o->oom = 1;
			return;
		}
		o->buf = nb;
		o->cap = ncap;
	}
}

static const char *role_name(int r)
{
	return r == GW_ROLE_CONSUMER ? "consumer" : "provider";
}

char *gw_metrics_render(const struct gw_view *v, struct ndx_msglog *log, time_t now)
{
	struct out o = { .cap = 4096 };
	struct agg *a = NULL, *h = NULL;
	size_t na = 0, nh = 0;

	o.buf = malloc(o.cap);
	if (!o.buf)
		return NULL;
	o.buf[0] = '\0';

	pthread_mutex_lock(&threads_mu);
	for (struct mthread *t = threads; t; t = t->next) {
		for (size_t i = 0; i < SLOTS; i++) {
			struct mentry *e = &t->e[i];
			struct agg *x = NULL, *y = NULL;
			if (!atomic_load_explicit(&e->ready, memory_order_acquire))
				continue;
			for (size_t j = 0; j < na; j++)
				if (a[j].role == e->role && a[j].status == e->status &&
				    strcmp(a[j].service, e->service) == 0)
					x = &a[j];
			for (size_t j = 0; j < nh; j++)
				if (h[j].role == e->role && strcmp(h[j].service, e->service) == 0)
					y = &h[j];
			if (!x) {
				struct agg *na2 = realloc(a, (na + 1) * sizeof *a);
				if (!na2)
					continue;
				a = na2;
				x = memset(&a[na++], 0, sizeof *a);
				x->role = e->role;
				x->status = e->status;
				x->service = e->service;
			}
			if (!y) {
				struct agg *nh2 = realloc(h, (nh + 1) * sizeof *h);
				if (!nh2)
					continue;
				h = nh2;
				y = memset(&h[nh++], 0, sizeof *h);
				y->role = e->role;
				y->service = e->service;
			}
			uint64_t c = atomic_load_explicit(&e->count, memory_order_relaxed);
			x->count += c;
			y->count += c;
			y->sum_us += atomic_load_explicit(&e->sum_us, memory_order_relaxed);
			for (size_t b = 0; b < NBUCKETS; b++)
				y->buckets[b] +=
					atomic_load_explicit(&e->buckets[b], memory_order_relaxed);
		}
	}

	put(&o, "# HELP ndx_gateway_requests_total Exchanges handled, by role, service and "
		"HTTP status.\n# TYPE ndx_gateway_requests_total counter\n");
	for (size_t i = 0; i < na; i++)
		put(&o, "ndx_gateway_requests_total{role=\"%s\",service=\"%s\",status=\"%d\"} %" PRIu64
			"\n",
		    role_name(a[i].role), a[i].service, a[i].status, a[i].count);
	put(&o, "# HELP ndx_gateway_request_duration_seconds Time to answer an exchange.\n"
		"# TYPE ndx_gateway_request_duration_seconds histogram\n");
	for (size_t i = 0; i < nh; i++) {
		uint64_t cum = 0;
		for (size_t b = 0; b < NBUCKETS; b++) {
			cum += h[i].buckets[b];
			if (b < NBUCKETS - 1)
				put(&o, "ndx_gateway_request_duration_seconds_bucket{role=\"%s\","
					"service=\"%s\",le=\"%g\"} %" PRIu64 "\n",
				    role_name(h[i].role), h[i].service, bucket_le[b], cum);
			else
				put(&o, "ndx_gateway_request_duration_seconds_bucket{role=\"%s\","
					"service=\"%s\",le=\"+Inf\"} %" PRIu64 "\n",
				    role_name(h[i].role), h[i].service, cum);
		}
		put(&o, "ndx_gateway_request_duration_seconds_sum{role=\"%s\",service=\"%s\"} %.6f\n",
		    role_name(h[i].role), h[i].service, (double)h[i].sum_us / 1e6);
		put(&o, "ndx_gateway_request_duration_seconds_count{role=\"%s\",service=\"%s\"} %" PRIu64
			"\n",
		    role_name(h[i].role), h[i].service, h[i].count);
	}
	pthread_mutex_unlock(&threads_mu);
	free(a);
	free(h);

	put(&o, "# HELP ndx_gateway_errors_total Refusals this gateway made, by side, X-Road "
		"error type and ndx reason (docs/protocol.md \"Errors\").\n"
		"# TYPE ndx_gateway_errors_total counter\n");
	for (int side = 0; side < 2; side++)
		for (size_t i = 0; i < GW_R_COUNT; i++)
			put(&o,
			    "ndx_gateway_errors_total{side=\"%s\",type=\"%s\",reason=\"%s\"} %" PRIu64
			    "\n",
			    side ? "provider" : "consumer",
			    gw_reason_type((enum gw_reason)i, side ? GW_SIDE_PROVIDER
								   : GW_SIDE_CONSUMER),
			    gw_reason_info((enum gw_reason)i)->reason,
			    (uint64_t)atomic_load_explicit(&error_counts[side][i],
							   memory_order_relaxed));
	put(&o, "# HELP ndx_gateway_relayed_errors_total Refusals of provider gateways passed "
		"on to clients, by X-Road error type.\n"
		"# TYPE ndx_gateway_relayed_errors_total counter\n");
	for (size_t i = 0; i <= GW_R_COUNT; i++) {
		const char *type = i < GW_R_COUNT
					   ? gw_reason_type((enum gw_reason)i, GW_SIDE_PROVIDER)
					   : "other";
		if (i < GW_R_COUNT && relayed_slot(type) != i)
			continue;
		put(&o, "ndx_gateway_relayed_errors_total{type=\"%s\"} %" PRIu64 "\n", type,
		    (uint64_t)atomic_load_explicit(&relayed_counts[i], memory_order_relaxed));
	}
	put(&o, "# HELP ndx_gateway_in_flight Exchanges being handled now.\n"
		"# TYPE ndx_gateway_in_flight gauge\nndx_gateway_in_flight %ld\n",
	    atomic_load_explicit(&in_flight, memory_order_relaxed));
	put(&o, "# HELP ndx_gateway_conf_version Version of the held global configuration (0: "
		"none).\n# TYPE ndx_gateway_conf_version gauge\nndx_gateway_conf_version %" PRIu64
		"\n",
	    v->c ? (uint64_t)ndx_conf_version(v->c->conf) : 0);
	put(&o, "# HELP ndx_gateway_conf_age_seconds Seconds since the held configuration was "
		"generated (-1: none).\n# TYPE ndx_gateway_conf_age_seconds gauge\n"
		"ndx_gateway_conf_age_seconds %lld\n",
	    v->c ? (long long)(now - ndx_conf_generated_at(v->c->conf)) : -1LL);
	if (log) {
		struct ndx_msglog_head hd;
		ndx_msglog_head(log, &hd);
		put(&o, "# HELP ndx_gateway_msglog_size Records covered by the latest signed tree "
			"head.\n# TYPE ndx_gateway_msglog_size gauge\nndx_gateway_msglog_size %" PRIu64
			"\n",
		    hd.covered);
		put(&o, "# HELP ndx_gateway_msglog_batch Number of the latest signed tree head (0: "
			"none).\n# TYPE ndx_gateway_msglog_batch gauge\nndx_gateway_msglog_batch %" PRIu64
			"\n",
		    hd.sth.batch);
		put(&o, "# HELP ndx_gateway_msglog_records_total Records durable in the message log "
			"(the last sequence number).\n# TYPE ndx_gateway_msglog_records_total counter\n"
			"ndx_gateway_msglog_records_total %" PRIu64 "\n",
		    hd.last_seq);
		put(&o, "# HELP ndx_gateway_msglog_commits_total Group commits of the message log "
			"since start.\n# TYPE ndx_gateway_msglog_commits_total counter\n"
			"ndx_gateway_msglog_commits_total %" PRIu64 "\n",
		    hd.commits);
		put(&o, "# HELP ndx_gateway_msglog_failed_commits_total Group commits that failed "
			"since start (disk full, I/O).\n# TYPE ndx_gateway_msglog_failed_commits_total "
			"counter\nndx_gateway_msglog_failed_commits_total %" PRIu64 "\n",
		    hd.failed_commits);
	}
	{
		struct gw_signer_stats ss;
		gw_signer_stats(&ss);
		put(&o, "# HELP ndx_gateway_messages_signed_total Signature objects made (requests "
			"and responses).\n# TYPE ndx_gateway_messages_signed_total counter\n"
			"ndx_gateway_messages_signed_total %" PRIu64 "\n",
		    ss.messages_signed);
		put(&o, "# HELP ndx_gateway_signatures_total Ed25519 signatures made: one per batch "
			"of messages.\n# TYPE ndx_gateway_signatures_total counter\n"
			"ndx_gateway_signatures_total %" PRIu64 "\n",
		    ss.signatures);
		put(&o, "# HELP ndx_gateway_verifications_total Ed25519 verifications of peers' "
			"batch roots.\n# TYPE ndx_gateway_verifications_total counter\n"
			"ndx_gateway_verifications_total %" PRIu64 "\n",
		    ss.verifications);
		put(&o, "# HELP ndx_gateway_verify_cache_hits_total Signature objects accepted from "
			"an already verified batch root.\n# TYPE ndx_gateway_verify_cache_hits_total "
			"counter\nndx_gateway_verify_cache_hits_total %" PRIu64 "\n",
		    ss.verify_cache_hits);
	}
	if (o.oom) {
		free(o.buf);
		return NULL;
	}
	return o.buf;
}

void gw_metrics_free_all(void)
{
	pthread_mutex_lock(&threads_mu);
	while (threads) {
		struct mthread *t = threads;
		threads = t->next;
		for (size_t i = 0; i < SLOTS; i++)
			free(t->e[i].service);
		free(t);
	}
	pthread_mutex_unlock(&threads_mu);
}

void gw_metrics_end_answer(enum gw_role role, const char *service,
			   const struct ndx_http_resp *resp, const struct timespec *t0)
{
	struct timespec t1;
	const char *ct;
	const void *body;
	size_t len;
	int status = 500;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (ndx_http_resp_view(resp, &status, &ct, &body, &len) != NDX_OK)
		status = 500;
	gw_metrics_end(role, service, status,
		       (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9);
}
