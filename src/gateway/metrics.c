/* Prometheus metrics of the gateway (docs/gateway.md "Operations"). Each
 * worker thread counts into its own table of (role, service, status)
 * entries with relaxed atomics, so the request path takes no lock and
 * shares no cache line with other threads; only a thread's first request
 * registers its table under a mutex. /metrics walks all tables and sums.
 * Refusals are counted by the reasons of errors.h: one global atomic each. The
 * message log's figures come from its head, read at render time, whether
 * it takes records now from exchlog.c; the HTTP figures of every daemon
 * (include/ndx/httpd.h) follow. The text is written with include/ndx/prom.h,
 * which escapes label values. What each figure means, and the alerts on
 * them: docs/operations.md. */
#include <pthread.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "signer.h"
#include "metrics.h"
#include "opmon.h"
#include "confstate.h"
#include "exchlog.h"
#include "ndx/err.h"
#include "ndx/httpd.h"
#include "ndx/prom.h"

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

static const char *role_name(int r)
{
	return r == GW_ROLE_CONSUMER ? "consumer" : "provider";
}

/* Sums every thread's table into a (by role, service, status) and h (by
 * role, service); the strings stay the tables' (they live to the end).
 * Called under threads_mu. */
static void aggregate(struct agg **a, size_t *na, struct agg **h, size_t *nh)
{
	for (struct mthread *t = threads; t; t = t->next) {
		for (size_t i = 0; i < SLOTS; i++) {
			struct mentry *e = &t->e[i];
			struct agg *x = NULL, *y = NULL;
			if (!atomic_load_explicit(&e->ready, memory_order_acquire))
				continue;
			for (size_t j = 0; j < *na; j++)
				if ((*a)[j].role == e->role && (*a)[j].status == e->status &&
				    strcmp((*a)[j].service, e->service) == 0)
					x = &(*a)[j];
			for (size_t j = 0; j < *nh; j++)
				if ((*h)[j].role == e->role && strcmp((*h)[j].service, e->service) == 0)
					y = &(*h)[j];
			if (!x) {
				struct agg *na2 = realloc(*a, (*na + 1) * sizeof **a);
				if (!na2)
					continue;
				*a = na2;
				x = memset(&(*a)[(*na)++], 0, sizeof **a);
				x->role = e->role;
				x->status = e->status;
				x->service = e->service;
			}
			if (!y) {
				struct agg *nh2 = realloc(*h, (*nh + 1) * sizeof **h);
				if (!nh2)
					continue;
				*h = nh2;
				y = memset(&(*h)[(*nh)++], 0, sizeof **h);
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
}

static void render_exchanges(struct ndx_prom *p)
{
	struct agg *a = NULL, *h = NULL;
	size_t na = 0, nh = 0;
	char status[12];

	pthread_mutex_lock(&threads_mu);
	aggregate(&a, &na, &h, &nh);
	ndx_prom_family(p, "ndx_gateway_requests_total", NDX_PROM_COUNTER,
			"Exchanges handled, by role, service and HTTP status.");
	for (size_t i = 0; i < na; i++) {
		snprintf(status, sizeof status, "%d", a[i].status);
		ndx_prom_u64(p, "ndx_gateway_requests_total",
			     (const char *[]){ "role", role_name(a[i].role), "service", a[i].service,
					       "status", status, NULL },
			     a[i].count);
	}
	ndx_prom_family(p, "ndx_gateway_request_duration_seconds", NDX_PROM_HISTOGRAM,
			"Time to answer an exchange.");
	for (size_t i = 0; i < nh; i++)
		ndx_prom_histogram(p, "ndx_gateway_request_duration_seconds",
				   (const char *[]){ "role", role_name(h[i].role), "service",
						     h[i].service, NULL },
				   NBUCKETS - 1, bucket_le, h[i].buckets,
				   (double)h[i].sum_us / 1e6);
	pthread_mutex_unlock(&threads_mu);
	free(a);
	free(h);
}

static void render_errors(struct ndx_prom *p)
{
	ndx_prom_family(p, "ndx_gateway_errors_total", NDX_PROM_COUNTER,
			"Refusals this gateway made, by side, X-Road error type and ndx reason "
			"(docs/protocol.md \"Errors\").");
	for (int side = 0; side < 2; side++)
		for (size_t i = 0; i < GW_R_COUNT; i++)
			ndx_prom_u64(
				p, "ndx_gateway_errors_total",
				(const char *[]){
					"side", side ? "provider" : "consumer", "type",
					gw_reason_type((enum gw_reason)i,
						       side ? GW_SIDE_PROVIDER : GW_SIDE_CONSUMER),
					"reason", gw_reason_info((enum gw_reason)i)->reason, NULL },
				atomic_load_explicit(&error_counts[side][i], memory_order_relaxed));
	ndx_prom_family(p, "ndx_gateway_relayed_errors_total", NDX_PROM_COUNTER,
			"Refusals of provider gateways passed on to clients, by X-Road error type.");
	for (size_t i = 0; i <= GW_R_COUNT; i++) {
		const char *type = i < GW_R_COUNT
					   ? gw_reason_type((enum gw_reason)i, GW_SIDE_PROVIDER)
					   : "other";
		if (i < GW_R_COUNT && relayed_slot(type) != i)
			continue;
		ndx_prom_u64(p, "ndx_gateway_relayed_errors_total",
			     (const char *[]){ "type", type, NULL },
			     atomic_load_explicit(&relayed_counts[i], memory_order_relaxed));
	}
}

/* The held configuration: version, age and what is left of it. A gateway
 * refuses every exchange once it has expired (NoConfiguration). */
static void render_conf(struct ndx_prom *p, const struct gw_view *v, time_t now)
{
	const struct ndx_conf *c = v->c ? v->c->conf : NULL;

	ndx_prom_family(p, "ndx_gateway_conf_version", NDX_PROM_GAUGE,
			"Version of the held global configuration (0: none).");
	ndx_prom_u64(p, "ndx_gateway_conf_version", NULL, c ? ndx_conf_version(c) : 0);
	ndx_prom_family(p, "ndx_gateway_conf_age_seconds", NDX_PROM_GAUGE,
			"Seconds since the held configuration was generated (-1: none).");
	ndx_prom_i64(p, "ndx_gateway_conf_age_seconds", NULL,
		     c ? (int64_t)(now - ndx_conf_generated_at(c)) : -1);
	ndx_prom_family(p, "ndx_gateway_conf_expires_in_seconds", NDX_PROM_GAUGE,
			"Seconds until the held configuration expires (negative: expired; "
			"absent: none held).");
	if (c)
		ndx_prom_i64(p, "ndx_gateway_conf_expires_in_seconds", NULL,
			     (int64_t)(ndx_conf_expires_at(c) - now));
	{
		uint64_t full, delta, refused;

		gw_conf_update_counts(&full, &delta, &refused);
		ndx_prom_family(p, "ndx_gateway_conf_updates_total", NDX_PROM_COUNTER,
				"Configurations taken from the registry: a full document, or "
				"a delta applied to the held one.");
		ndx_prom_u64(p, "ndx_gateway_conf_updates_total",
			     (const char *[]){ "kind", "full", NULL }, full);
		ndx_prom_u64(p, "ndx_gateway_conf_updates_total",
			     (const char *[]){ "kind", "delta", NULL }, delta);
		ndx_prom_family(p, "ndx_gateway_conf_deltas_refused_total", NDX_PROM_COUNTER,
				"Configuration deltas refused (a signature that fails, or a "
				"delta that does not apply to the held version).");
		ndx_prom_u64(p, "ndx_gateway_conf_deltas_refused_total", NULL, refused);
	}
}

static void render_log(struct ndx_prom *p, struct ndx_msglog *log, time_t now)
{
	struct ndx_msglog_head hd;

	ndx_prom_family(p, "ndx_gateway_msglog_writable", NDX_PROM_GAUGE,
			"1 while the message log takes records; 0 from a failed append until "
			"one succeeds again (exchanges are refused with LogUnavailable).");
	ndx_prom_u64(p, "ndx_gateway_msglog_writable", NULL, !gw_log_failing(now));
	if (!log)
		return;
	ndx_msglog_head(log, &hd);
	ndx_prom_family(p, "ndx_gateway_msglog_size", NDX_PROM_GAUGE,
			"Records covered by the latest signed tree head.");
	ndx_prom_u64(p, "ndx_gateway_msglog_size", NULL, hd.covered);
	ndx_prom_family(p, "ndx_gateway_msglog_batch", NDX_PROM_GAUGE,
			"Number of the latest signed tree head (0: none).");
	ndx_prom_u64(p, "ndx_gateway_msglog_batch", NULL, hd.sth.batch);
	ndx_prom_family(p, "ndx_gateway_msglog_records_total", NDX_PROM_COUNTER,
			"Records durable in the message log (the last sequence number).");
	ndx_prom_u64(p, "ndx_gateway_msglog_records_total", NULL, hd.last_seq);
	ndx_prom_family(p, "ndx_gateway_msglog_commits_total", NDX_PROM_COUNTER,
			"Group commits of the message log since start.");
	ndx_prom_u64(p, "ndx_gateway_msglog_commits_total", NULL, hd.commits);
	ndx_prom_family(p, "ndx_gateway_msglog_failed_commits_total", NDX_PROM_COUNTER,
			"Group commits that failed since start (disk full, I/O).");
	ndx_prom_u64(p, "ndx_gateway_msglog_failed_commits_total", NULL, hd.failed_commits);
	ndx_prom_family(p, "ndx_gateway_msglog_commit_duration_seconds", NDX_PROM_HISTOGRAM,
			"Time each successful group commit of the message log took to be "
			"durable (SQLite: the WAL's write and fsync, and a checkpoint when "
			"one ran), which every exchange's answer waits for.");
	ndx_prom_histogram(p, "ndx_gateway_msglog_commit_duration_seconds", NULL,
			   NDX_MSGLOG_COMMIT_BUCKETS, ndx_msglog_commit_le, hd.commit_buckets,
			   hd.commit_seconds);
}

static void render_signer(struct ndx_prom *p)
{
	struct gw_signer_stats ss;

	gw_signer_stats(&ss);
	ndx_prom_family(p, "ndx_gateway_messages_signed_total", NDX_PROM_COUNTER,
			"Signature objects made (requests and responses).");
	ndx_prom_u64(p, "ndx_gateway_messages_signed_total", NULL, ss.messages_signed);
	ndx_prom_family(p, "ndx_gateway_signatures_total", NDX_PROM_COUNTER,
			"Ed25519 signatures made: one per batch of messages.");
	ndx_prom_u64(p, "ndx_gateway_signatures_total", NULL, ss.signatures);
	ndx_prom_family(p, "ndx_gateway_verifications_total", NDX_PROM_COUNTER,
			"Ed25519 verifications of peers' batch roots.");
	ndx_prom_u64(p, "ndx_gateway_verifications_total", NULL, ss.verifications);
	ndx_prom_family(p, "ndx_gateway_verify_cache_hits_total", NDX_PROM_COUNTER,
			"Signature objects accepted from an already verified batch root.");
	ndx_prom_u64(p, "ndx_gateway_verify_cache_hits_total", NULL, ss.verify_cache_hits);
}

/* The operational records (opmon.c): statistics, not evidence, so a full
 * queue drops them rather than slow an exchange; what it dropped is here. */
static void render_opmon(struct ndx_prom *p)
{
	struct gw_opmon_stats os;

	gw_opmon_stats(&os);
	ndx_prom_family(p, "ndx_gateway_opmon_records_total", NDX_PROM_COUNTER,
			"Operational records queued (one per exchange and event delivery).");
	ndx_prom_u64(p, "ndx_gateway_opmon_records_total", NULL, os.recorded);
	ndx_prom_family(p, "ndx_gateway_opmon_dropped_total", NDX_PROM_COUNTER,
			"Operational records dropped because the queue was full.");
	ndx_prom_u64(p, "ndx_gateway_opmon_dropped_total", NULL, os.dropped);
	ndx_prom_family(p, "ndx_gateway_opmon_write_failures_total", NDX_PROM_COUNTER,
			"Operational records the store could not write.");
	ndx_prom_u64(p, "ndx_gateway_opmon_write_failures_total", NULL, os.failed);
	ndx_prom_family(p, "ndx_gateway_opmon_queue_depth", NDX_PROM_GAUGE,
			"Operational records waiting for the writer.");
	ndx_prom_u64(p, "ndx_gateway_opmon_queue_depth", NULL, (uint64_t)os.depth);
}

/* Set once at start, before any port serves, and only read after. */
static char allocator_name[16] = "glibc", allocator_version[16] = "";

void gw_metrics_set_allocator(const char *name, const char *version)
{
	snprintf(allocator_name, sizeof allocator_name, "%s", name);
	snprintf(allocator_version, sizeof allocator_version, "%s", version);
}

char *gw_metrics_render(const struct gw_view *v, struct ndx_msglog *log, time_t now)
{
	struct ndx_prom p;

	ndx_prom_init(&p, NDX_BUF_NO_CAP);
	render_exchanges(&p);
	render_errors(&p);
	ndx_prom_family(&p, "ndx_gateway_in_flight", NDX_PROM_GAUGE,
			"Exchanges being handled now.");
	ndx_prom_i64(&p, "ndx_gateway_in_flight", NULL,
		     atomic_load_explicit(&in_flight, memory_order_relaxed));
	render_conf(&p, v, now);
	render_log(&p, log, now);
	render_signer(&p);
	render_opmon(&p);
	ndx_prom_family(&p, "ndx_gateway_allocator_info", NDX_PROM_GAUGE,
			"The memory allocator that serves malloc in this process.");
	ndx_prom_i64(&p, "ndx_gateway_allocator_info",
		     (const char *[]){ "allocator", allocator_name, "version", allocator_version,
				       NULL },
		     1);
	/* The HTTP figures every daemon has (httpd.h), among them the notAfter
	 * of the TLS certificate on the gateway port. */
	ndx_httpd_metrics(&p);
	return ndx_prom_steal(&p, NULL);
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
