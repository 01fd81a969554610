/* The gateway's side of the message log (include/ndx/msglog.h, DESIGN.md
 * section 5, docs/gateway.md "Message log"): opening data_dir/msglog.db
 * with the signing key, appending the record of an exchange (the library
 * does the group commit; this adds nothing per request but one relaxed
 * atomic load, and says once on stderr when appends start and stop failing),
 * and GET /admin/log/head, the latest signed tree head. The handlers in
 * consumer.c and provider.c decide what goes into a record and refuse an
 * exchange whose record could not be made durable. */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway.h"
#include "exchlog.h"
#include "gwarena.h"
#include "gwconfig.h"
#include "metrics.h"
#include "replay.h"
#include "ndx/encode.h"
#include "ndx/err.h"
#include "ndx/file.h"
#include "ndx/timefmt.h"

/* Whether the last append failed: only its changes are reported, so that
 * a full disk under load is one line on stderr, not thousands. */
static atomic_int failing;
/* When an append last failed (seconds since the epoch), for /healthz. */
static _Atomic int64_t failed_at;

int gw_log_open(const struct gw_config *cfg, struct ndx_msglog **out, char *err, size_t errcap)
{
	int rc = ndx_mkdirs(cfg->data_dir, 0700);

	*out = NULL;
	if (rc != NDX_OK) {
		snprintf(err, errcap, "data_dir %s: cannot create it (%s)", cfg->data_dir,
			 ndx_strerror(rc));
		return rc;
	}
	rc = ndx_msglog_open(cfg->msglog_path, cfg->sign_key, &cfg->msglog_opt, out);
	if (rc == NDX_EPERM)
		snprintf(err, errcap,
			 "message log %s was created with another signing key than sign_key",
			 cfg->msglog_path);
	else if (rc == NDX_EINVAL)
		/* Not a message log, or one of an older record format (ndx-msglog/1,
		 * before records held method, path and declared subjects; /2, before
		 * they held X-Road-Represented-Party). */
		snprintf(err, errcap,
			 "message log %s: not a message log of this version (ndx-msglog/3); "
			 "`ndx log verify --db %s` says what it is; move it aside (archive it) "
			 "to start a new log",
			 cfg->msglog_path, cfg->msglog_path);
	else if (rc != NDX_OK)
		snprintf(err, errcap, "message log %s: cannot open it (%s)", cfg->msglog_path,
			 ndx_strerror(rc));
	return rc;
}

/* Notes the outcome of an append: a stderr line when the log starts or
 * stops failing, and the time of the last failure for /healthz. */
static void note_outcome(int rc)
{
	int now = rc != NDX_OK, was;

	if (now)
		atomic_store_explicit(&failed_at, (int64_t)time(NULL), memory_order_relaxed);
	/* A plain load first: in the common case nothing changes and the
	 * flag's cache line stays shared among the worker threads. */
	if (atomic_load_explicit(&failing, memory_order_relaxed) == now)
		return;
	was = atomic_exchange_explicit(&failing, now, memory_order_relaxed);
	if (now && !was)
		fprintf(stderr,
			GW_PROG ": message log: append failed (%s); exchanges are refused with "
				"LogUnavailable until it works again\n",
			ndx_strerror(rc));
	else if (!now && was)
		fprintf(stderr, GW_PROG ": message log: appends work again\n");
}

int gw_log_append(struct ndx_msglog *log, const struct ndx_msglog_record *rec)
{
	int rc = ndx_msglog_append(log, rec, NULL);

	note_outcome(rc);
	return rc;
}

struct log_job {
	void (*done)(void *ud, int rc);
	void *ud;
};

static void appended(void *ud, int rc, uint64_t seq)
{
	struct log_job j = *(struct log_job *)ud;
	(void)seq;

	free(ud);
	note_outcome(rc);
	j.done(j.ud, rc);
}

static void append_job(struct ndx_msglog *log, const struct ndx_msglog_record *rec,
		       void (*done)(void *ud, int rc), void *ud, bool inline_ok)
{
	struct log_job *j = malloc(sizeof *j);
	int rc = NDX_ENOMEM;

	if (j) {
		j->done = done;
		j->ud = ud;
		rc = inline_ok ? ndx_msglog_append_inline(log, rec, appended, j)
			       : ndx_msglog_append_async(log, rec, appended, j);
		if (rc == NDX_OK)
			return;
		free(j);
	}
	note_outcome(rc);
	done(ud, rc);
}

void gw_log_append_async(struct ndx_msglog *log, const struct ndx_msglog_record *rec,
			 void (*done)(void *ud, int rc), void *ud)
{
	append_job(log, rec, done, ud, false);
}

void gw_log_append_exchange(struct ndx_msglog *log, const struct ndx_msglog_record *rec,
			    void (*done)(void *ud, int rc), void *ud)
{
	/* Another exchange in flight may be on this very loop, waiting for
	 * it: then the record goes to the writer thread and the loop goes
	 * on. Measured in bench/README.md ("The lone exchange writes its own
	 * record"); docs/gateway.md "Threads" says what waits with it. */
	append_job(log, rec, done, ud, gw_metrics_in_flight() <= 1);
}

struct seed {
	struct gw_replay *rc;
	size_t added;
	int rc_add;
};

static int seed_one(const struct ndx_msglog_entry *e, void *ctx)
{
	struct seed *s = ctx;
	uint8_t k[GW_REPLAY_KEY_LEN];

	char member[NDX_ID_TEXT_MAX];

	/* Every signed request the provider logged: the key is its request
	 * hash (replay.h), so holding a refused one again only stops a verbatim
	 * copy of it, never a client's retry (signed anew). The log does not
	 * say which were refused before the replay check; a flood of those is
	 * bounded by the refusal budget (peerlimit.h) and the member's share. */
	if (e->direction != NDX_MSGLOG_PROVIDER)
		return 0;
	if (!e->has_request_hash)
		return 0;
	gw_replay_key(e->request_hash, k);
	gw_member_of(e->client, member, sizeof member);
	s->rc_add = gw_replay_check_and_add_owned(s->rc, k, gw_replay_owner(member),
						  (time_t)(e->time_ms / 1000));
	if (s->rc_add == NDX_ETOOBIG)
		return 1;
	if (s->rc_add == NDX_OK)
		s->added++;
	return 0;
}

int gw_replay_seed(struct gw_replay *rc, struct ndx_msglog *log, unsigned window_s,
		   size_t *added)
{
	struct seed s = { .rc = rc };
	int64_t since = ((int64_t)time(NULL) - (int64_t)window_s) * 1000;
	int r = ndx_msglog_recent(log, since, seed_one, &s);

	*added = s.added;
	if (r == NDX_OK && s.rc_add == NDX_ETOOBIG)
		return NDX_ETOOBIG;
	return r;
}

int64_t gw_elapsed_ms(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (int64_t)(t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

/* The tree head in the JSON of docs/protocol.md "Batches and signed tree
 * heads", plus what an operator wants beside it: the records it covers in
 * all, the records durable so far (the open batch included) and the time
 * as text. */
void gw_log_head(struct ndx_msglog *log, const struct gw_config *cfg, struct ndx_http_resp *resp)
{
	struct ndx_msglog_head h;
	char t[NDX_TIME_TEXT_LEN], *text;
	json_t *o;

	ndx_msglog_head(log, &h);
	if (h.sth.batch == 0) {
		ndx_http_resp_json(resp, 200,
				   json_pack("{sIsIsIsIss}", "batch", (json_int_t)0, "size",
					     (json_int_t)0, "covered", (json_int_t)0, "records",
					     (json_int_t)h.last_seq, "key_id", cfg->sign_key_id));
		return;
	}
	text = ndx_msglog_sth_json(&h.sth, cfg->sign_key);
	o = text ? json_loads(text, 0, NULL) : NULL;
	free(text);
	if (!o) {
		gw_refusal(resp, NULL, GW_R_INTERNAL, GW_SIDE_CONSUMER, NULL,
			   "cannot render the tree head");
		return;
	}
	ndx_time_format((time_t)(h.sth.time_ms / 1000), t);
	json_object_set_new(o, "time", json_string(t));
	json_object_set_new(o, "covered", json_integer((json_int_t)h.covered));
	json_object_set_new(o, "records", json_integer((json_int_t)h.last_seq));
	ndx_http_resp_json(resp, 200, o);
}

char *gw_log_path(const char *rest, const char *query)
{
	size_t rl = rest ? strlen(rest) : 0, ql = query ? strlen(query) : 0;
	char *p = malloc(rl + ql + 2);

	if (!p)
		return NULL;
	memcpy(p, rest ? rest : "", rl);
	if (ql) {
		p[rl] = '?';
		memcpy(p + rl + 1, query, ql);
	}
	p[rl + (ql ? ql + 1 : 0)] = '\0';
	return p;
}

char *gw_log_path_in(struct gw_arena *a, const char *rest, const char *query)
{
	return gw_arena_concat(a, rest ? rest : "", query && query[0] ? "?" : "",
			       query ? query : "", NULL);
}

void gw_member_of(const char *client, char *out, size_t cap)
{
	const char *p = client ? client : "";
	size_t n = 0;

	/* The member of a subsystem id is its first three parts. */
	for (int slashes = 0; p[n] && !(p[n] == '/' && ++slashes == 3); n++)
		;
	snprintf(out, cap, "%.*s", (int)n, p);
}

bool gw_log_failing(time_t now)
{
	/* Without exchanges nothing tells that the disk has room again: after
	 * a while the gateway says it is ready, so that a load balancer sends
	 * it traffic to find out. */
	return atomic_load_explicit(&failing, memory_order_relaxed) &&
	       (int64_t)now - atomic_load_explicit(&failed_at, memory_order_relaxed) <
		       GW_LOG_FAILING_HOLD_S;
}
