/* Inside the gateway's events (events.h): what the three files share.
 * events.c is the events thread (the store, one transaction and one batch
 * signature per turn, the answers); events_ports.c the requests of the two
 * ports (publish, inbox, status and dead letters on the consumer port, a
 * delivery on the gateway port), checked there and handed to the thread as
 * jobs; events_out.c what leaves the gateway (deliveries to subscribers'
 * gateways, pushes to subscriber systems) on the exchange loops. Nothing
 * else includes this header. */
#ifndef NDX_GATEWAY_EVENTS_INT_H
#define NDX_GATEWAY_EVENTS_INT_H

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "errors.h"
#include "events.h"
#include "evstore.h"
#include "gateway.h"
#include "gwconfig.h"
#include "xfer.h"
#include "ndx/conf.h"
#include "ndx/hash.h"
#include "ndx/loop.h"
#include "ndx/msglog.h"

#define EV_SERVICE_PREFIX "/e1/"
#define EV_DELIVER_PATH "/e1/deliver"
#define EV_NAME_MAX 64
/* Deliveries in flight from one gateway at a time. */
#define EV_INFLIGHT_MAX 64
/* The longest the scheduler sleeps: a configuration that changed, a
 * subscriber gateway that came back, are noticed within this. */
#define EV_TICK_MS 1000
/* The longest a push to a failing subscriber system backs off. */
#define EV_PUSH_BACKOFF_MAX_MS 60000
/* Undelivered deliveries the outbox holds before publishes are refused
 * (Busy): the bound on its disk use while subscribers are away. */
#define EV_OUTBOX_MAX 1000000
/* Writes one transaction carries at most. */
#define EV_TXN_MAX 512
/* Entries one pull or dead-letter page returns at most. */
#define EV_PAGE_MAX 500

enum job_kind {
	JOB_PUBLISH,   /* a provider system's event: sign, keep, answer */
	JOB_RECEIVE,   /* another gateway's delivery: sign the receipt, log, keep, answer */
	JOB_KEEP,      /* a received delivery whose record is durable: keep, answer */
	JOB_ACK,       /* a subscriber system acknowledges */
	JOB_REPLAY,    /* a dead delivery goes back in the queue */
	JOB_ATTEMPTED, /* a delivery attempt's outcome */
	JOB_QUERY,     /* a read: inbox page, status, dead letters */
	JOB_PUSHED,    /* a push to a subscriber system's endpoint: its outcome */
};

enum query_kind { Q_INBOX, Q_STATUS, Q_DEAD };

struct job {
	enum job_kind kind;
	struct gw_events *ev;
	struct ndx_loop_task task;
	struct job *next;
	/* the request being answered (NULL for JOB_ATTEMPTED) */
	const struct ndx_http_req *req;
	struct ndx_http_resp *resp;
	struct ndx_http_pending *pending;
	enum gw_err_side side;
	struct timespec t0;
	/* the event (PUBLISH, RECEIVE, KEEP), its strings owned by the job */
	struct gw_event e;
	char *service, *name, *publisher, *subject, *signature;
	uint8_t *payload;
	/* RECEIVE / KEEP / ACK / REPLAY / QUERY: the client subsystem */
	char *client, *purpose;
	char gateway[NDX_ID_TEXT_MAX + 64]; /* RECEIVE: the publishing gateway */
	uint8_t receipt_hash[NDX_SHA256_LEN];
	char *receipt_sig;
	struct ndx_msglog_record rec;
	char *log_path;
	/* ACK, REPLAY, QUERY(STATUS): the event id */
	char id[GW_UUID_LEN];
	/* QUERY */
	enum query_kind query;
	int64_t after;
	size_t limit;
	bool unacked_only;
	/* ATTEMPTED: which delivery, its outcome, and the subscription's
	 * retry policy as the configuration held when it started */
	int64_t seq;
	bool delivered;
	char error[256];
	int attempts;             /* before this one */
	int64_t first_attempt_ms; /* 0: this was the first */
	int64_t retry_first_s, retry_max_s, give_up_after_s;
	/* outcome of the transaction, for the answer */
	int rc;
	bool duplicate;
	size_t nsubscriptions;
};

/* One delivery in flight: it owns itself from its start on an exchange
 * loop until its outcome is reported (report), so that nothing of it is
 * shared with the events thread, which keeps only its key (inflight). */
struct delivery {
	struct gw_events *ev;
	struct gw_due *due;        /* owned: a list of one (gw_evstore_due_free) */
	struct gw_view view;       /* holds the configuration the call uses */
	struct gw_peer_call call;
	struct gw_xfer_resp r;
	struct ndx_loop_task task;
	struct curl_slist *headers;
	char member[NDX_ID_TEXT_MAX];
	struct ndx_msglog_record rec;
	uint8_t receipt_hash[NDX_SHA256_LEN];
	char *log_path;
	struct timespec t0;
	char error[256];
};

/* What the events thread knows of a delivery in flight. */
struct inflight_key {
	int64_t seq;
	char *client;
};

/* Pushing to one subscriber system: one event at a time, oldest
 * unacknowledged first, so it sees them in inbox order. */
struct push_state {
	char *client;
	bool inflight;
	int attempts;        /* failed in a row */
	int64_t next_at_ms;  /* not before (back-off) */
};

/* One push in flight on an exchange loop; owns itself until reported. */
struct push {
	struct gw_events *ev;
	struct gw_inbox_entry *entry; /* a list of one */
	struct gw_service svc;        /* the endpoint as a backend */
	struct gw_backend_call call;
	struct gw_xfer_resp r;
	struct curl_slist *headers;
	struct ndx_loop_task task;
	struct gw_loop *loop;
};

struct schema_entry {
	char *service, *name;
	struct ndx_schema *schema;
};

struct gw_events {
	struct gw_ctx *g;
	struct gw_evstore *store;
	struct ndx_loop *loop;
	pthread_t thread;
	bool thread_started;
	atomic_bool stopping;
	/* the events thread's own */
	struct job *head, **tail;   /* writes to flush this turn */
	struct inflight_key inflight[EV_INFLIGHT_MAX];
	size_t ninflight;
	bool scan_due;               /* something changed: look for due deliveries */
	bool push_due;               /* an inbox changed: look for events to push */
	struct push_state *pushes;   /* one per subscriber system with a push endpoint */
	size_t npushes;
	/* for /metrics: the store's counts after the last turn, counters */
	_Atomic uint64_t queued, delivered_now, dead, inbox_unacked;
	_Atomic uint64_t published, deliveries_made, deliveries_failed, received, pushed,
		push_failures;
	bool store_failing;
	struct ndx_loop_timer tick;
	/* compiled schemas of the configuration version schemas_of */
	pthread_rwlock_t schema_lock;
	struct schema_entry *schemas;
	size_t nschemas;
	uint64_t schemas_of;
};


/* ---- shared by the three files -------------------------------------------- */

int64_t ev_mono_ms(void);
int64_t ev_now_ms(void);   /* wall clock, ms since the epoch */
void ev_job_free(struct job *j);
/* Resumes the deferred request of j (once). */
void ev_answer(struct job *j);
/* Refuses the deferred request of j and resumes it. */
__attribute__((format(printf, 3, 4))) void ev_refuse_job(struct job *j, enum gw_reason r,
							  const char *fmt, ...);
/* Points the event view of j at the strings j owns. */
void ev_job_event_view(struct job *j);
/* Queues j on the events thread. False when it is stopping. */
bool ev_post(struct gw_events *ev, struct job *j);
/* Validates payload against the schema of et (compiled once per
 * configuration version). NDX_OK, or NDX_EINVAL with the failing field and
 * why in err; another error when the schema cannot be used. */
int ev_validate(struct gw_events *ev, const struct ndx_conf *conf,
		const struct ndx_conf_event_type *et, const json_t *payload, char *err,
		size_t errcap);
/* An event id in a path or header: a UUID in lower-case hex with dashes. */
bool ev_copy_id(const char *s, size_t len, char out[GW_UUID_LEN]);
/* The events thread's task for a posted job. */
void ev_task_run(void *arg);
/* The message-log record of a delivery (protocol.md "Events", "Records"). */
void ev_fill_record(struct ndx_msglog_record *rec, enum ndx_msglog_direction dir,
		    const struct gw_event *e, const char *client, const char *purpose,
		    const uint8_t receipt_hash[NDX_SHA256_LEN], const char *receipt_sig,
		    const char *path, int64_t duration_ms);
/* "/{name}", malloc'd; NULL when out of memory. */
char *ev_event_path(const char *name);
const char *ev_hash_b64(const uint8_t h[NDX_SHA256_LEN], char *buf, size_t cap);
/* A read (inbox page, status, dead letters), answered at once. */
void ev_reply_query(struct gw_events *ev, struct job *j);
/* Starts the deliveries that are due; arms the tick for the next. */
void ev_schedule(struct gw_events *ev);
void ev_on_tick(void *arg);
/* Starts a push for each subscriber system that has an event waiting. */
void ev_schedule_pushes(struct gw_events *ev);
/* A delivery's outcome, inside the turn's transaction. */
void ev_attempted(struct gw_events *ev, struct job *j);

#endif
