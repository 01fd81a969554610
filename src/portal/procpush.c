/* The procedures push (procpush.h). Each round sends every procedure whose
 * change number is above the cursor, in batches of BATCH in change order;
 * the cursor moves only after the monitoring service answered 2xx to a
 * batch, and is written to the store at once, so a crash or a restart
 * re-sends at most the batch that was in flight (the upsert makes that
 * harmless). The cursor is kept per monitoring service URL: a portal
 * pointed at another service sends it everything it holds. A failed round
 * is retried after a wait that doubles up to MAX_BACKOFF periods. Failures
 * are logged once when the push starts failing and once when it works
 * again, never per attempt.
 *
 * Several nodes may share the store (docs/scale.md "Several portal
 * nodes"): one of them pushes at a time, the one holding the lease
 * named after the cursor (pstore_lease_take). It is taken or renewed
 * before every batch and lasts a period and LEASE_MARGIN_S more, which
 * outlives a batch (TIMEOUT_MS) by far; a node that finds another's lease
 * running stands by and tries again the next period, and takes over once
 * that lease has run out (a killed node's) or was given up (a node
 * stopped). The cursor is read from the store at every round, so a node
 * taking over goes on where the other stopped. */
#include "procpush.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "monitor_client.h"
#include "ndx/err.h"
#include "portal.h"

#define CURSOR "monitor_procedures" /* + " " + the service's URL */
#define BATCH 200
#define MAX_BATCHES 50 /* a round: 10,000 procedures, then a pause */
#define MAX_BACKOFF 6  /* periods */
#define TIMEOUT_MS 10000
#define LEASE_MARGIN_S 30 /* beyond a period: a lease outlives a batch's TIMEOUT_MS */
_Static_assert(LEASE_MARGIN_S * 1000 >= 2 * TIMEOUT_MS, "a lease outlives a batch");

struct procpush {
	const struct pconfig *cfg;
	char *cursor_name;
	struct pstore *st;
	char node[PSTORE_NODE_LEN]; /* this process as the lease's holder */
	long lease_s;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop;
	atomic_uint_fast64_t pushed, failures;
	atomic_int_fast64_t backlog;
	atomic_int up, active;
};

/* Sends one batch after *cursor. 1 when there was nothing to send, 0 when
 * a batch was acknowledged (*cursor moved), -1 with why on failure. */
static int push_batch(struct procpush *pp, int64_t *cursor, char *why, size_t cap)
{
	struct ndx_fetch_resp r;
	json_t *list = NULL, *doc;
	char *body;
	int64_t last;
	size_t n;
	int rc;

	if ((rc = pstore_push_batch(pp->st, *cursor, BATCH, &list, &last)) != NDX_OK) {
		snprintf(why, cap, "cannot read the procedures: %s", ndx_strerror(rc));
		return -1;
	}
	if (!(n = json_array_size(list))) {
		json_decref(list);
		return 1;
	}
	doc = json_pack("{s:o}", "procedures", list);
	body = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	if (!body) {
		snprintf(why, cap, "out of memory");
		return -1;
	}
	enum monitor_fail f = monitor_client_call(pp->cfg, "POST", "/api/procedures", body,
						  strlen(body), 64 * 1024, TIMEOUT_MS, &r, why, cap);
	free(body);
	if (f != MONITOR_OK)
		return -1;
	if (r.status < 200 || r.status > 299) {
		snprintf(why, cap, "the monitoring service answered %ld%s%s", r.status,
			 r.xroad_error[0] ? " " : "", r.xroad_error);
		ndx_fetch_resp_free(&r);
		return -1;
	}
	ndx_fetch_resp_free(&r);
	if ((rc = pstore_push_cursor_set(pp->st, pp->cursor_name, last)) != NDX_OK) {
		snprintf(why, cap, "cannot keep the cursor: %s", ndx_strerror(rc));
		return -1;
	}
	*cursor = last;
	atomic_fetch_add(&pp->pushed, n);
	return 0;
}

/* One round: batches until none is left (or MAX_BATCHES, or stop), each
 * after taking or renewing the lease; *held says whether this node held it
 * (a round that finds another node's lease running sends nothing and has
 * not failed). */
static int push_round(struct procpush *pp, int64_t *cursor, int *held, char *why, size_t cap)
{
	int rc = 0, stop;

	*held = 0;
	for (int i = 0; i < MAX_BATCHES; i++) {
		pthread_mutex_lock(&pp->mu);
		stop = pp->stop;
		pthread_mutex_unlock(&pp->mu);
		if (stop)
			break;
		rc = pstore_lease_take(pp->st, pp->cursor_name, pp->node, time(NULL), pp->lease_s);
		if (rc == NDX_EEXIST) { /* another node's (or taken over from this one) */
			*held = 0;
			rc = 0;
			break;
		}
		if (rc != NDX_OK) {
			snprintf(why, cap, "cannot take the push lease: %s", ndx_strerror(rc));
			rc = -1;
			break;
		}
		*held = 1;
		if ((rc = push_batch(pp, cursor, why, cap)) != 0)
			break;
	}
	return rc < 0 ? -1 : 0;
}

static void *push_main(void *arg)
{
	struct procpush *pp = arg;
	unsigned period = pp->cfg->push_interval_s ? pp->cfg->push_interval_s : 5, wait = period;
	int64_t cursor = 0, backlog;
	int failing = 0, held = 0, was_held = -1;
	char why[512];

	pthread_mutex_lock(&pp->mu);
	while (!pp->stop) {
		pthread_mutex_unlock(&pp->mu);
		why[0] = '\0';
		/* Where the push stands, whichever node moved it last. */
		int rc = pstore_push_cursor_get(pp->st, pp->cursor_name, &cursor);

		if (rc != NDX_OK) {
			snprintf(why, sizeof why, "cannot read the cursor: %s", ndx_strerror(rc));
			rc = -1;
		} else {
			rc = push_round(pp, &cursor, &held, why, sizeof why);
		}
		if (rc == 0 && held != was_held) {
			fprintf(stderr, held ? PORTAL_PROG ": procedures push: this node pushes\n"
					     : PORTAL_PROG ": procedures push: another node pushes;"
							   " this one stands by\n");
			was_held = held;
		}
		atomic_store(&pp->active, held);
		if (pstore_push_backlog(pp->st, cursor, &backlog) == NDX_OK)
			atomic_store(&pp->backlog, backlog);
		if (rc == 0) {
			if (failing)
				fprintf(stderr, PORTAL_PROG ": procedures push: working again, "
						"%lld procedures waiting\n", (long long)backlog);
			failing = 0;
			wait = period;
		} else {
			atomic_fetch_add(&pp->failures, 1);
			if (!failing)
				fprintf(stderr, PORTAL_PROG ": procedures push: failing (%s); "
						"retrying, nothing is lost\n", why);
			failing = 1;
			wait = wait * 2 > period * MAX_BACKOFF ? period * MAX_BACKOFF : wait * 2;
		}
		atomic_store(&pp->up, rc == 0);

		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += rc == 0 ? period : wait;
		pthread_mutex_lock(&pp->mu);
		while (!pp->stop && pthread_cond_timedwait(&pp->cv, &pp->mu, &until) == 0)
			;
	}
	pthread_mutex_unlock(&pp->mu);
	return NULL;
}

int procpush_start(const struct pconfig *cfg, struct pstore *st, struct procpush **out)
{
	struct procpush *pp;
	pthread_condattr_t ca;

	*out = NULL;
	if (!cfg->monitor_url)
		return NDX_EINVAL;
	if (!(pp = calloc(1, sizeof *pp)))
		return NDX_ENOMEM;
	if (asprintf(&pp->cursor_name, "%s %s", CURSOR, cfg->monitor_url) < 0) {
		free(pp);
		return NDX_ENOMEM;
	}
	pp->cfg = cfg;
	pp->st = st;
	pstore_node_name(pp->node);
	pp->lease_s = (long)(cfg->push_interval_s ? cfg->push_interval_s : 5) + LEASE_MARGIN_S;
	pthread_mutex_init(&pp->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&pp->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&pp->thread, NULL, push_main, pp) != 0) {
		fprintf(stderr, PORTAL_PROG ": cannot start the procedures push\n");
		pthread_cond_destroy(&pp->cv);
		pthread_mutex_destroy(&pp->mu);
		free(pp->cursor_name);
		free(pp);
		return NDX_EIO;
	}
	fprintf(stderr, PORTAL_PROG ": procedures push to %s every %u s\n", cfg->monitor_url,
		cfg->push_interval_s);
	*out = pp;
	return NDX_OK;
}

void procpush_stop(struct procpush *pp)
{
	if (!pp)
		return;
	pthread_mutex_lock(&pp->mu);
	pp->stop = 1;
	pthread_cond_signal(&pp->cv);
	pthread_mutex_unlock(&pp->mu);
	pthread_join(pp->thread, NULL);
	/* Stopped: another node takes the push over at once, not when the
	 * lease would have run out. */
	if (atomic_load(&pp->active) &&
	    pstore_lease_release(pp->st, pp->cursor_name, pp->node) != NDX_OK)
		fprintf(stderr, PORTAL_PROG ": procedures push: the lease was not given up; "
				"another node takes over when it runs out\n");
	pthread_cond_destroy(&pp->cv);
	pthread_mutex_destroy(&pp->mu);
	free(pp->cursor_name);
	free(pp);
}

void procpush_figures(const struct procpush *pp, struct procpush_figures *f)
{
	memset(f, 0, sizeof *f);
	if (!pp)
		return;
	f->pushed = atomic_load(&((struct procpush *)pp)->pushed);
	f->failures = atomic_load(&((struct procpush *)pp)->failures);
	f->backlog = atomic_load(&((struct procpush *)pp)->backlog);
	f->up = atomic_load(&((struct procpush *)pp)->up);
	f->active = atomic_load(&((struct procpush *)pp)->active);
}
