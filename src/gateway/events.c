/* Events: publish, deliver, receive, pull (events.h; docs/events.md for the
 * model, docs/protocol.md "Events" for the wire format).
 *
 * Threads. The consumer and gateway ports read and check a request on
 * their loop thread and hand it, deferred, to the events thread as a job.
 * The events thread owns the store (evstore.h): the jobs of one loop turn
 * are signed as one batch and written in one transaction by its
 * before-sleep hook (flush), and answered once the commit is durable.
 * Deliveries start from the same thread (schedule) and run on the exchange
 * loops (gw_peer_start); their outcome comes back as a job.
 *
 * A received event is logged before it is kept: the subscriber system can
 * never pull an event its gateway's message log does not hold. */
#include "events.h"

#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "evstore.h"
#include "exchlog.h"
#include "gateway.h"
#include "gwloop.h"
#include "peerlimit.h"
#include "signer.h"
#include "subjects.h"
#include "xfer.h"
#include "ndx/encode.h"
#include "ndx/err.h"
#include "ndx/hash.h"
#include "ndx/id.h"
#include "ndx/loop.h"
#include "ndx/schema.h"

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
	char time_text[24];
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
	char seq_text[24], time_text[24];
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
	pthread_mutex_t schema_lock;
	struct schema_entry *schemas;
	size_t nschemas;
	uint64_t schemas_of;
};

/* ---- small helpers ---------------------------------------------------------- */

static int64_t gw_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void job_free(struct job *j)
{
	if (!j)
		return;
	free(j->service);
	free(j->name);
	free(j->publisher);
	free(j->subject);
	free(j->signature);
	free(j->payload);
	free(j->client);
	free(j->purpose);
	free(j->receipt_sig);
	free(j->log_path);
	free(j);
}

static void answer(struct job *j)
{
	struct ndx_http_pending *p = j->pending;

	j->pending = NULL;
	if (p)
		ndx_http_resume(p);
}

/* Refuses a deferred request and resumes it. */
__attribute__((format(printf, 3, 4))) static void refuse_job(struct job *j, enum gw_reason r,
							      const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	gw_refusal(j->resp, j->req, r, j->side, NULL, "%s", msg);
	answer(j);
}

/* Points the event view of j at the strings j owns. */
static void job_event_view(struct job *j)
{
	j->e.service = j->service;
	j->e.name = j->name;
	j->e.publisher = j->publisher;
	j->e.subject = j->subject;
	j->e.payload = j->payload;
	j->e.signature = j->signature;
}

static void task_run(void *arg);

/* Queues j on the events thread. False when it is stopping. */
static bool post(struct gw_events *ev, struct job *j)
{
	j->ev = ev;
	j->task.fn = task_run;
	j->task.arg = j;
	if (atomic_load(&ev->stopping) && j->kind != JOB_KEEP && j->kind != JOB_ATTEMPTED)
		return false;
	return ndx_loop_post(ev->loop, &j->task) == NDX_OK;
}

/* ---- schemas ---------------------------------------------------------------- */

/* Validates payload against the schema of (service, name) in conf. NDX_OK,
 * or NDX_EINVAL with the failing field and why in err. */
static int validate(struct gw_events *ev, const struct ndx_conf *conf,
		    const struct ndx_conf_event_type *et, const json_t *payload, char *err,
		    size_t errcap)
{
	struct schema_entry *e = NULL;
	int rc;

	pthread_mutex_lock(&ev->schema_lock);
	if (ev->schemas_of != ndx_conf_version(conf)) {
		for (size_t i = 0; i < ev->nschemas; i++) {
			free(ev->schemas[i].service);
			free(ev->schemas[i].name);
			ndx_schema_free(ev->schemas[i].schema);
		}
		ev->nschemas = 0;
		ev->schemas_of = ndx_conf_version(conf);
	}
	for (size_t i = 0; i < ev->nschemas && !e; i++)
		if (strcmp(ev->schemas[i].service, et->service) == 0 &&
		    strcmp(ev->schemas[i].name, et->name) == 0)
			e = &ev->schemas[i];
	if (!e) {
		struct schema_entry *grown =
			realloc(ev->schemas, (ev->nschemas + 1) * sizeof *ev->schemas);
		struct ndx_schema *s = NULL;

		if (!grown) {
			pthread_mutex_unlock(&ev->schema_lock);
			snprintf(err, errcap, "out of memory");
			return NDX_ENOMEM;
		}
		ev->schemas = grown;
		rc = ndx_schema_compile(et->schema, &s, err, errcap);
		if (rc != NDX_OK) {
			pthread_mutex_unlock(&ev->schema_lock);
			return rc == NDX_EINVAL ? NDX_EIO : rc; /* the registry's fault, not the caller's */
		}
		e = &ev->schemas[ev->nschemas];
		e->service = strdup(et->service);
		e->name = strdup(et->name);
		e->schema = s;
		if (!e->service || !e->name) {
			free(e->service);
			free(e->name);
			ndx_schema_free(s);
			pthread_mutex_unlock(&ev->schema_lock);
			snprintf(err, errcap, "out of memory");
			return NDX_ENOMEM;
		}
		ev->nschemas++;
	}
	/* Under the lock: a new configuration may free the schema meanwhile. */
	rc = ndx_schema_validate(e->schema, payload, err, errcap);
	pthread_mutex_unlock(&ev->schema_lock);
	return rc;
}

/* ---- the consumer port ------------------------------------------------------ */

/* The client subsystem of a consumer-port request: X-Road-Client, one of
 * this gateway's subsystems, connected the way its settings ask. Refuses
 * into resp and returns false otherwise. */
static bool local_client(struct gw_ctx *g, const struct gw_view *v,
			 const struct ndx_http_req *req, struct ndx_http_resp *resp, bool tls,
			 char client[NDX_ID_TEXT_MAX])
{
	bool ok;
	const char *h = gw_header(req, "X-Road-Client", &ok), *why = NULL;
	struct ndx_id id;
	enum gw_reason r;

	(void)g;
	if (!ok || !h || ndx_id_parse(h, strlen(h), NDX_ID_SUBSYSTEM, &id, &why) != NDX_OK ||
	    ndx_id_format(&id, client, NDX_ID_TEXT_MAX) < 0) {
		gw_refusal(resp, req, GW_R_INVALID_CLIENT, GW_SIDE_CONSUMER, NULL,
			   "X-Road-Client must name a subsystem: %s",
			   why ? why : (h ? "malformed" : "missing"));
		return false;
	}
	if (!gw_settings_has_subsystem(v->s, client)) {
		gw_refusal(resp, req, GW_R_UNKNOWN_CLIENT, GW_SIDE_CONSUMER, client,
			   "%s is not a subsystem of this gateway", client);
		return false;
	}
	if ((r = gw_client_connection(v->s, client, req, tls)) != GW_R_COUNT) {
		gw_refusal(resp, req, r, GW_SIDE_CONSUMER, client,
			   "%s must connect over TLS%s", client,
			   r == GW_R_AUTHENTICATION_FAILED ? " with a registered certificate" : "");
		return false;
	}
	return true;
}

static bool copy_id(const char *s, size_t len, char out[GW_UUID_LEN]);

/* POST /e1/{serviceId}/{name}: checks on the port's thread, then the
 * events thread keeps it. */
static void publish(struct gw_events *ev, const struct gw_view *v, const struct ndx_http_req *req,
		    struct ndx_http_resp *resp, const char *client, const char *rest)
{
	const struct ndx_conf *conf = v->c->conf;
	const struct ndx_conf_event_type *et;
	const struct ndx_conf_service *svc;
	char service[NDX_ID_TEXT_MAX], subsystem[NDX_ID_TEXT_MAX], subject[GW_SUBJECTS_TEXT_MAX];
	char err[512];
	struct ndx_id sid, parent;
	size_t used = 0, count = 0;
	const char *why = NULL, *name, *declared, *given;
	json_t *payload;
	json_error_t jerr;
	bool ok;
	struct job *j;
	struct ndx_event_hash_input hin;
	int rc;

	if (strcmp(req->method, "POST") != 0) {
		gw_refusal(resp, req, GW_R_BAD_METHOD, GW_SIDE_CONSUMER, req->method,
			   "an event is published with POST");
		return;
	}
	if (ndx_id_parse_prefix(rest, strlen(rest), NDX_ID_SERVICE, &sid, &used, &why) != NDX_OK ||
	    ndx_id_format(&sid, service, sizeof service) < 0 || rest[used] != '/') {
		gw_refusal(resp, req, GW_R_INVALID_SERVICE, GW_SIDE_CONSUMER, NULL,
			   "expected /e1/{serviceId}/{eventType}: %s", why ? why : "no event type");
		return;
	}
	name = rest + used + 1;
	if (atomic_load(&ev->queued) >= EV_OUTBOX_MAX) {
		gw_refusal(resp, req, GW_R_BUSY, GW_SIDE_CONSUMER, NULL,
			   "the outbox holds %d undelivered deliveries; retry later",
			   EV_OUTBOX_MAX);
		return;
	}
	et = ndx_conf_event_type(conf, service, name);
	if (!et) {
		gw_refusal(resp, req, GW_R_UNKNOWN_EVENT_TYPE, GW_SIDE_CONSUMER, NULL,
			   "%s has no event type %.64s in the global configuration", service,
			   name);
		return;
	}
	/* Only the service's own subsystem speaks for its data. */
	if (ndx_id_parent(&sid, NDX_ID_SUBSYSTEM, &parent) != NDX_OK ||
	    ndx_id_format(&parent, subsystem, sizeof subsystem) < 0 ||
	    strcmp(subsystem, client) != 0) {
		gw_refusal(resp, req, GW_R_NOT_PUBLISHER, GW_SIDE_CONSUMER, client,
			   "%s may not publish events of %s: only %s does", client, service,
			   subsystem);
		return;
	}
	svc = ndx_conf_service_of(conf, service);
	declared = gw_header(req, "Ndx-Data-Subjects", &ok);
	subject[0] = '\0';
	if (!ok) {
		gw_refusal(resp, req, GW_R_BAD_HEADER, GW_SIDE_CONSUMER, NULL,
			   "Ndx-Data-Subjects is malformed");
		return;
	}
	if (svc && svc->personal) {
		if (!declared || !declared[0] || strcmp(declared, "none") == 0) {
			gw_refusal(resp, req, GW_R_SUBJECT_MISSING, GW_SIDE_CONSUMER, NULL,
				   "an event of a personal-data service names its subject in "
				   "Ndx-Data-Subjects");
			return;
		}
		if (gw_subjects_canonical(declared, subject, sizeof subject, &count, &why) !=
			    NDX_OK ||
		    count != 1) {
			gw_refusal(resp, req, GW_R_SUBJECT_INVALID, GW_SIDE_CONSUMER, NULL,
				   "Ndx-Data-Subjects: %s",
				   count > 1 ? "an event concerns exactly one person" : why);
			return;
		}
	} else if (declared && declared[0] && strcmp(declared, "none") != 0) {
		gw_refusal(resp, req, GW_R_SUBJECT_INVALID, GW_SIDE_CONSUMER, NULL,
			   "%s does not hold personal data: its events name no subject", service);
		return;
	}
	payload = req->body_len ? json_loadb((const char *)req->body, req->body_len,
					     JSON_REJECT_DUPLICATES, &jerr)
				: NULL;
	if (!payload) {
		gw_refusal(resp, req, GW_R_PAYLOAD_INVALID, GW_SIDE_CONSUMER, NULL,
			   "the payload is not one JSON value: %s",
			   req->body_len ? jerr.text : "the body is empty");
		return;
	}
	rc = validate(ev, conf, et, payload, err, sizeof err);
	json_decref(payload);
	if (rc != NDX_OK) {
		/* The detail names the field ("/died_on: ..."); never a PIN. */
		gw_redact_pins(err);
		if (rc == NDX_EINVAL)
			gw_refusal(resp, req, GW_R_PAYLOAD_INVALID, GW_SIDE_CONSUMER, err,
				   "the payload breaks the schema of %s: %s", name, err);
		else
			gw_refusal(resp, req, GW_R_MISCONFIGURED, GW_SIDE_CONSUMER, NULL,
				   "the schema of %s cannot be used: %s", name, err);
		return;
	}
	/* The publisher may name the event itself, so that a publish repeated
	 * after a lost answer is the same event (docs/events.md). */
	given = gw_header(req, "Ndx-Event-Id", &ok);
	if (!(j = calloc(1, sizeof *j))) {
		gw_refusal(resp, req, GW_R_INTERNAL, GW_SIDE_CONSUMER, NULL, "out of memory");
		return;
	}
	if (given && (!ok || !copy_id(given, strlen(given), j->e.id))) {
		job_free(j);
		gw_refusal(resp, req, GW_R_BAD_HEADER, GW_SIDE_CONSUMER, NULL,
			   "Ndx-Event-Id must be a UUID in lower-case hex with dashes");
		return;
	}
	if (!(j->service = strdup(service)) || !(j->name = strdup(name)) ||
	    !(j->publisher = strdup(client)) || !(j->subject = strdup(subject)) ||
	    !(j->payload = malloc(req->body_len)) || (!given && gw_uuid(j->e.id) != NDX_OK)) {
		job_free(j);
		gw_refusal(resp, req, GW_R_INTERNAL, GW_SIDE_CONSUMER, NULL, "out of memory");
		return;
	}
	memcpy(j->payload, req->body, req->body_len);
	j->kind = JOB_PUBLISH;
	j->req = req;
	j->resp = resp;
	j->side = GW_SIDE_CONSUMER;
	j->e.payload_len = req->body_len;
	j->e.time_ms = now_ms();
	job_event_view(j);
	memset(&hin, 0, sizeof hin);
	hin.id = j->e.id;
	hin.service = service;
	hin.name = name;
	hin.publisher = client;
	hin.subject = subject;
	hin.time_ms = j->e.time_ms;
	hin.gateway = ev->g->name;
	ndx_sha256(req->body, req->body_len, hin.payload_sha256);
	ndx_event_hash(&hin, j->e.hash);
	j->pending = ndx_http_defer(req);
	if (!post(ev, j)) {
		refuse_job(j, GW_R_EVENT_STORE_UNAVAILABLE, "the gateway is stopping");
		job_free(j);
	}
}

/* Parses ?after=N&limit=N&unacked=1 (any order, each at most once). */
static bool inbox_query(const char *q, int64_t *after, size_t *limit, bool *unacked)
{
	*after = 0;
	*limit = 100;
	*unacked = false;
	while (q && *q) {
		const char *amp = strchr(q, '&'), *eq = strchr(q, '=');
		size_t len = amp ? (size_t)(amp - q) : strlen(q);
		char *end;
		long long n;

		if (!eq || eq > q + len)
			return false;
		n = strtoll(eq + 1, &end, 10);
		if (end != q + len || n < 0 || eq + 1 == end)
			return false;
		if ((size_t)(eq - q) == 5 && strncmp(q, "after", 5) == 0)
			*after = n;
		else if ((size_t)(eq - q) == 5 && strncmp(q, "limit", 5) == 0 && n >= 1 &&
			 n <= EV_PAGE_MAX)
			*limit = (size_t)n;
		else if ((size_t)(eq - q) == 7 && strncmp(q, "unacked", 7) == 0 && n <= 1)
			*unacked = n == 1;
		else
			return false;
		q = amp ? amp + 1 : q + len;
	}
	return true;
}

/* An event id in a path: a UUID as this gateway writes them. */
static bool copy_id(const char *s, size_t len, char out[GW_UUID_LEN])
{
	if (len != GW_UUID_LEN - 1)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}
	memcpy(out, s, len);
	out[len] = '\0';
	return true;
}

static struct job *request_job(enum job_kind kind, const struct ndx_http_req *req,
			       struct ndx_http_resp *resp, const char *client)
{
	struct job *j = calloc(1, sizeof *j);

	if (!j || !(j->client = strdup(client))) {
		free(j);
		gw_refusal(resp, req, GW_R_INTERNAL, GW_SIDE_CONSUMER, NULL, "out of memory");
		return NULL;
	}
	j->kind = kind;
	j->req = req;
	j->resp = resp;
	j->side = GW_SIDE_CONSUMER;
	return j;
}

static void hand_over(struct gw_events *ev, struct job *j)
{
	j->pending = ndx_http_defer(j->req);
	if (!post(ev, j)) {
		refuse_job(j, GW_R_EVENT_STORE_UNAVAILABLE, "the gateway is stopping");
		job_free(j);
	}
}

void gw_events_consumer(struct gw_ctx *g, const struct ndx_http_req *req,
			struct ndx_http_resp *resp, bool tls)
{
	struct gw_events *ev = g->events;
	const char *rest = req->path + strlen(EV_SERVICE_PREFIX);
	char client[NDX_ID_TEXT_MAX];
	struct gw_view v;
	struct job *j = NULL;
	bool is_get = strcmp(req->method, "GET") == 0, is_post = strcmp(req->method, "POST") == 0;

	gw_state_acquire(g->state, &v);
	if (!ev) {
		gw_refusal(resp, req, GW_R_EVENT_STORE_UNAVAILABLE, GW_SIDE_CONSUMER, NULL,
			   "this gateway has no event store");
		goto out;
	}
	if (!gw_view_live(&v, time(NULL))) {
		gw_refusal(resp, req, GW_R_NO_CONFIGURATION, GW_SIDE_CONSUMER, NULL,
			   "the gateway holds no valid global configuration");
		goto out;
	}
	if (!local_client(g, &v, req, resp, tls, client))
		goto out;
	if (strcmp(rest, "inbox") == 0) {
		if (!is_get) {
			gw_refusal(resp, req, GW_R_BAD_METHOD, GW_SIDE_CONSUMER, req->method,
				   "/e1/inbox answers GET");
			goto out;
		}
		if (!(j = request_job(JOB_QUERY, req, resp, client)))
			goto out;
		j->query = Q_INBOX;
		if (!inbox_query(req->query, &j->after, &j->limit, &j->unacked_only)) {
			gw_refusal(resp, req, GW_R_METASERVICE_QUERY, GW_SIDE_CONSUMER, NULL,
				   "the inbox takes after=SEQ, limit=1..%d and unacked=0|1",
				   EV_PAGE_MAX);
			job_free(j);
			goto out;
		}
	} else if (strncmp(rest, "inbox/", 6) == 0) {
		const char *id = rest + 6, *slash = strchr(id, '/');

		if (!slash || strcmp(slash, "/ack") != 0 || !is_post) {
			gw_refusal(resp, req, is_post ? GW_R_BAD_PATH : GW_R_BAD_METHOD,
				   GW_SIDE_CONSUMER, NULL, "%s",
				   "an event is acknowledged with POST /e1/inbox/{id}/ack");
			goto out;
		}
		if (!(j = request_job(JOB_ACK, req, resp, client)))
			goto out;
		if (!copy_id(id, (size_t)(slash - id), j->id)) {
			gw_refusal(resp, req, GW_R_UNKNOWN_EVENT, GW_SIDE_CONSUMER, NULL, "%s",
				   "not an event id");
			job_free(j);
			goto out;
		}
	} else if (strncmp(rest, "events/", 7) == 0) {
		if (!is_get) {
			gw_refusal(resp, req, GW_R_BAD_METHOD, GW_SIDE_CONSUMER, req->method,
				   "/e1/events/{id} answers GET");
			goto out;
		}
		if (!(j = request_job(JOB_QUERY, req, resp, client)))
			goto out;
		j->query = Q_STATUS;
		if (!copy_id(rest + 7, strlen(rest + 7), j->id)) {
			gw_refusal(resp, req, GW_R_UNKNOWN_EVENT, GW_SIDE_CONSUMER, NULL, "%s",
				   "not an event id");
			job_free(j);
			goto out;
		}
	} else if (strcmp(rest, "dead") == 0) {
		if (!is_get) {
			gw_refusal(resp, req, GW_R_BAD_METHOD, GW_SIDE_CONSUMER, req->method,
				   "/e1/dead answers GET");
			goto out;
		}
		if (!(j = request_job(JOB_QUERY, req, resp, client)))
			goto out;
		j->query = Q_DEAD;
		if (!inbox_query(req->query, &j->after, &j->limit, &j->unacked_only) ||
		    j->unacked_only) {
			gw_refusal(resp, req, GW_R_METASERVICE_QUERY, GW_SIDE_CONSUMER, NULL,
				   "the dead-letter list takes after=SEQ and limit=1..%d",
				   EV_PAGE_MAX);
			job_free(j);
			goto out;
		}
	} else if (strncmp(rest, "dead/", 5) == 0) {
		/* POST /e1/dead/{id}/replay?subscriber={subsystem id} */
		const char *id = rest + 5, *slash = strchr(id, '/'), *q = req->query;
		struct ndx_id sub;
		char subscriber[NDX_ID_TEXT_MAX];
		const char *why = NULL;

		if (!is_post || !slash || strcmp(slash, "/replay") != 0) {
			gw_refusal(resp, req, is_post ? GW_R_BAD_PATH : GW_R_BAD_METHOD,
				   GW_SIDE_CONSUMER, NULL, "%s",
				   "a dead delivery is replayed with POST "
				   "/e1/dead/{id}/replay?subscriber={subsystemId}");
			goto out;
		}
		long dn = strncmp(q, "subscriber=", 11) == 0
				  ? ndx_pct_decode(q + 11, strlen(q + 11), subscriber,
						   sizeof subscriber)
				  : -1;

		if (dn < 0 ||
		    ndx_id_parse(subscriber, (size_t)dn, NDX_ID_SUBSYSTEM, &sub, &why) != NDX_OK ||
		    ndx_id_format(&sub, subscriber, sizeof subscriber) < 0) {
			gw_refusal(resp, req, GW_R_METASERVICE_QUERY, GW_SIDE_CONSUMER, NULL,
				   "subscriber= must name a subsystem: %s", why ? why : "missing");
			goto out;
		}
		if (!(j = request_job(JOB_REPLAY, req, resp, client)))
			goto out;
		if (!copy_id(id, (size_t)(slash - id), j->id) || !(j->purpose = strdup(subscriber))) {
			gw_refusal(resp, req, GW_R_UNKNOWN_EVENT, GW_SIDE_CONSUMER, NULL, "%s",
				   "not an event id");
			job_free(j);
			goto out;
		}
	} else {
		publish(ev, &v, req, resp, client, rest);
		goto out;
	}
	hand_over(ev, j);
out:
	gw_view_release(&v);
}

/* ---- the gateway port: a delivery from the publisher's gateway ------------- */

/* A header of a delivery, NULL (and *bad set) when absent or malformed. */
static const char *need(const struct ndx_http_req *req, const char *name, const char **bad)
{
	bool ok;
	const char *v = gw_header(req, name, &ok);

	if (!ok || !v || !v[0]) {
		if (!*bad)
			*bad = name;
		return NULL;
	}
	return v;
}

/* A refusal of a delivery; one the sending gateway caused counts against
 * its member's refusal budget (peerlimit.h), as on the exchange port. */
__attribute__((format(printf, 6, 7))) static void refuse_peer(struct gw_ctx *g,
							       const struct ndx_conf_gateway *peer,
							       const struct ndx_http_req *req,
							       struct ndx_http_resp *resp,
							       enum gw_reason r, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	gw_refusal(resp, req, r, GW_SIDE_PROVIDER, NULL, "%s", msg);
	if (peer && gw_reason_info(r)->callers_fault)
		gw_peerlimit_charge(g->refusals, peer->member, gw_mono_ms());
}

void gw_events_deliver(struct gw_ctx *g, const struct ndx_http_req *req,
		       struct ndx_http_resp *resp)
{
	struct gw_events *ev = g->events;
	struct gw_view v;
	const struct ndx_conf *conf;
	const struct ndx_conf_gateway *peer = NULL;
	const struct ndx_conf_event_type *et;
	const struct ndx_conf_subscription *sub;
	const struct ndx_conf_service *svc;
	char fp[2 * NDX_SHA256_LEN + 1], err[512], member[NDX_ID_TEXT_MAX];
	char canonical[GW_SUBJECTS_TEXT_MAX];
	size_t count = 0;
	const char *why = NULL, *bad = NULL, *id, *service, *name, *publisher, *subject, *time_text, *client,
		   *purpose, *sig;
	struct ndx_event_hash_input hin;
	struct ndx_event_receipt_hash_input rin;
	struct job *j = NULL;
	char *end;
	long long t;
	json_t *payload;

	gw_state_acquire(g->state, &v);
	if (!ev) {
		refuse_peer(g, peer, req, resp, GW_R_EVENT_STORE_UNAVAILABLE,
			   "this gateway has no event store");
		goto out;
	}
	if (!gw_view_live(&v, time(NULL))) {
		refuse_peer(g, peer, req, resp, GW_R_NO_CONFIGURATION,
			   "the gateway holds no valid global configuration");
		goto out;
	}
	conf = v.c->conf;
	if (ndx_http_client_cert(req, fp) != NDX_OK || !(peer = ndx_conf_gateway_by_cert(conf, fp)) ||
	    ndx_conf_is_revoked(conf, fp) || ndx_conf_is_revoked(conf, peer->sign_key_id)) {
		gw_refusal(resp, req, GW_R_UNAUTHENTICATED, GW_SIDE_PROVIDER, NULL,
			   "a delivery comes from a gateway of the configuration, with its "
			   "certificate, neither revoked");
		goto out;
	}
	/* A member whose deliveries keep being refused waits, before any
	 * signature is verified (docs/security.md T35). */
	{
		int64_t mono = gw_mono_ms();
		unsigned after;
		char ra[16];

		if (!gw_peerlimit_allows(g->refusals, peer->member, mono)) {
			after = gw_peerlimit_retry_after(g->refusals, peer->member, mono);
			snprintf(ra, sizeof ra, "%u", after ? after : 1);
			gw_refusal(resp, req, GW_R_TOO_MANY_REFUSALS, GW_SIDE_PROVIDER, peer->member,
				   "too many deliveries of %s were refused; retry after %s s",
				   peer->member, ra);
			ndx_http_resp_header(resp, "Retry-After", ra);
			goto out;
		}
	}
	if (strcmp(req->method, "POST") != 0) {
		refuse_peer(g, peer, req, resp, GW_R_BAD_METHOD, "a delivery is a POST");
		goto out;
	}
	id = need(req, "Ndx-Event-Id", &bad);
	service = need(req, "Ndx-Event-Service", &bad);
	name = need(req, "Ndx-Event-Name", &bad);
	publisher = need(req, "Ndx-Event-Publisher", &bad);
	time_text = need(req, "Ndx-Event-Time", &bad);
	client = need(req, "Ndx-Event-Client", &bad);
	sig = need(req, "Ndx-Signature", &bad);
	{
		bool ok1, ok2;

		subject = gw_header(req, "Ndx-Event-Subject", &ok1);
		purpose = gw_header(req, "Ndx-Event-Purpose", &ok2);
		if (!ok1 || !ok2)
			bad = !ok1 ? "Ndx-Event-Subject" : "Ndx-Event-Purpose";
	}
	if (bad) {
		refuse_peer(g, peer, req, resp, GW_R_BAD_HEADER,
			   "the delivery's %s header is missing or malformed", bad);
		goto out;
	}
	subject = subject ? subject : "";
	purpose = purpose ? purpose : "";
	t = strtoll(time_text, &end, 10);
	if (*end || t <= 0 || strlen(id) != GW_UUID_LEN - 1) {
		refuse_peer(g, peer, req, resp, GW_R_BAD_HEADER, "%s",
			   "Ndx-Event-Time or Ndx-Event-Id is malformed");
		goto out;
	}
	et = ndx_conf_event_type(conf, service, name);
	svc = ndx_conf_service_of(conf, service);
	if (!et || !svc) {
		refuse_peer(g, peer, req, resp, GW_R_UNKNOWN_EVENT_TYPE,
			   "%s has no event type %.64s in the global configuration", service,
			   name);
		goto out;
	}
	/* The service's member publishes through its own gateways only. */
	gw_member_of(service, member, sizeof member);
	if (strcmp(member, peer->member) != 0) {
		refuse_peer(g, peer, req, resp, GW_R_NOT_PUBLISHER,
			   "the gateway of %s delivered an event of %s", peer->member, service);
		goto out;
	}
	sub = ndx_conf_subscription(conf, client, service, name);
	if (!sub || !gw_settings_has_subsystem(v.s, client)) {
		refuse_peer(g, peer, req, resp, GW_R_NO_SUBSCRIPTION,
			   "%s holds no subscription to %s here", client, name);
		goto out;
	}
	if (strcmp(sub->purpose ? sub->purpose : "", purpose) != 0) {
		refuse_peer(g, peer, req, resp, GW_R_PURPOSE_NOT_ALLOWED,
			   "the subscription of %s is for another purpose", client);
		goto out;
	}
	if (svc->personal != (subject[0] != '\0') ||
	    (subject[0] && (gw_subjects_canonical(subject, canonical, sizeof canonical, &count,
						  &why) != NDX_OK ||
			    count != 1 || strcmp(canonical, subject) != 0))) {
		refuse_peer(g, peer, req, resp, GW_R_SUBJECT_INVALID, "%s",
			   "the event's subject does not fit its service");
		goto out;
	}
	if (!(j = calloc(1, sizeof *j))) {
		refuse_peer(g, peer, req, resp, GW_R_INTERNAL, "out of memory");
		goto out;
	}
	j->kind = JOB_RECEIVE;
	j->req = req;
	j->resp = resp;
	j->side = GW_SIDE_PROVIDER;
	clock_gettime(CLOCK_MONOTONIC, &j->t0);
	snprintf(j->e.id, sizeof j->e.id, "%s", id);
	gw_gateway_name(peer->member, peer->code, j->gateway, sizeof j->gateway);
	memset(&hin, 0, sizeof hin);
	hin.id = id;
	hin.service = service;
	hin.name = name;
	hin.publisher = publisher;
	hin.subject = subject;
	hin.time_ms = t;
	hin.gateway = j->gateway;
	ndx_sha256(req->body ? (const void *)req->body : "", req->body_len, hin.payload_sha256);
	ndx_event_hash(&hin, j->e.hash);
	if (gw_verify_hash(peer->sign_key, sig, j->e.hash, err, sizeof err) != NDX_OK) {
		refuse_peer(g, peer, req, resp, GW_R_BAD_SIGNATURE,
			   "the event's signature does not verify: %s", err);
		goto fail;
	}
	payload = req->body_len ? json_loadb((const char *)req->body, req->body_len,
					     JSON_REJECT_DUPLICATES, NULL)
				: NULL;
	if (!payload || validate(ev, conf, et, payload, err, sizeof err) != NDX_OK) {
		json_decref(payload);
		refuse_peer(g, peer, req, resp, GW_R_PAYLOAD_INVALID,
			   "the delivered payload breaks the schema of %s", name);
		goto fail;
	}
	json_decref(payload);
	if (!(j->service = strdup(service)) || !(j->name = strdup(name)) ||
	    !(j->publisher = strdup(publisher)) || !(j->subject = strdup(subject)) ||
	    !(j->signature = strdup(sig)) || !(j->client = strdup(client)) ||
	    !(j->purpose = strdup(purpose)) || !(j->payload = malloc(req->body_len + 1))) {
		refuse_peer(g, peer, req, resp, GW_R_INTERNAL, "out of memory");
		goto fail;
	}
	memcpy(j->payload, req->body, req->body_len);
	j->e.payload_len = req->body_len;
	j->e.time_ms = t;
	job_event_view(j);
	memcpy(rin.event_hash, j->e.hash, NDX_SHA256_LEN);
	rin.client = client;
	rin.purpose = purpose;
	rin.gateway = g->name;
	ndx_event_receipt_hash(&rin, j->receipt_hash);
	j->pending = ndx_http_defer(req);
	if (!post(ev, j)) {
		refuse_job(j, GW_R_EVENT_STORE_UNAVAILABLE, "the gateway is stopping");
		job_free(j);
	}
	goto out;
fail:
	job_free(j);
out:
	gw_view_release(&v);
}

/* ---- the events thread: jobs ---------------------------------------------- */

static void reply_query(struct gw_events *ev, struct job *j);
static void schedule(struct gw_events *ev);
static void schedule_pushes(struct gw_events *ev);
static void attempted(struct gw_events *ev, struct job *j);

/* A task: reads are answered at once; writes wait for this turn's flush. */
static void task_run(void *arg)
{
	struct job *j = arg;
	struct gw_events *ev = j->ev;

	if (j->kind == JOB_QUERY) {
		reply_query(ev, j);
		job_free(j);
		return;
	}
	j->next = NULL;
	*ev->tail = j;
	ev->tail = &j->next;
}

/* The record of a delivery, the same on both sides but for its direction
 * (docs/protocol.md "Events": method EVENT, path /{name}). */
static void fill_record(struct ndx_msglog_record *rec, enum ndx_msglog_direction dir,
			const struct gw_event *e, const char *client, const char *purpose,
			const uint8_t receipt_hash[NDX_SHA256_LEN], const char *receipt_sig,
			const char *path, int64_t duration_ms)
{
	memset(rec, 0, sizeof *rec);
	rec->direction = dir;
	rec->message_id = e->id;
	rec->client = client;
	rec->service = e->service;
	rec->method = "EVENT";
	rec->path = path;
	rec->subject = e->subject;
	rec->subjects = e->subject;
	rec->purpose = purpose;
	rec->user_id = "";
	rec->issue = "";
	rec->represented_party = "";
	rec->authenticated = "";
	rec->request_hash = e->hash;
	rec->response_hash = receipt_hash;
	rec->status = 200;
	rec->duration_ms = duration_ms;
	rec->request_sig = e->signature;
	rec->response_sig = receipt_sig;
}

static char *event_path(const char *name)
{
	size_t n = strlen(name) + 2;
	char *p = malloc(n);

	if (p)
		snprintf(p, n, "/%s", name);
	return p;
}

/* The receiving gateway's record is durable (on the log's writer thread):
 * now the inbox keeps the event. */
static void receive_logged(void *ud, int rc)
{
	struct job *j = ud;

	if (rc != NDX_OK) {
		refuse_job(j, GW_R_LOG_UNAVAILABLE, "the message log cannot be written");
		job_free(j);
		return;
	}
	j->kind = JOB_KEEP;
	if (!post(j->ev, j)) {
		refuse_job(j, GW_R_EVENT_STORE_UNAVAILABLE, "the gateway is stopping");
		job_free(j);
	}
}

static void apply(struct gw_events *ev, struct job *j, const struct ndx_conf *conf)
{
	struct gw_evstore *s = ev->store;
	int64_t now = now_ms();

	switch (j->kind) {
	case JOB_PUBLISH: {
		const struct ndx_conf_subscription *sub;

		j->rc = gw_evstore_publish(s, &j->e);
		if (j->rc == NDX_EEXIST) {
			/* A repeat of the same event (publisher, type, subject and
			 * payload): kept once. Anything else under its id is refused. */
			struct gw_due *had = NULL;
			struct gw_delivery_view *dv = NULL;
			size_t n = 0;

			if (gw_evstore_outbox_get(s, j->e.id, &had) == NDX_OK &&
			    strcmp(had->ev.publisher, j->publisher) == 0 &&
			    strcmp(had->ev.service, j->service) == 0 &&
			    strcmp(had->ev.name, j->name) == 0 &&
			    strcmp(had->ev.subject, j->subject) == 0 &&
			    had->ev.payload_len == j->e.payload_len &&
			    memcmp(had->ev.payload, j->payload, j->e.payload_len) == 0 &&
			    gw_evstore_deliveries_of(s, j->e.id, NULL, &dv, &n) == NDX_OK) {
				j->duplicate = true;
				j->rc = NDX_OK;
				j->nsubscriptions = n;
			}
			gw_evstore_due_free(had, had ? 1 : 0);
			gw_evstore_views_free(dv, n);
			break;
		}
		for (size_t i = 0; j->rc == NDX_OK &&
				   (sub = ndx_conf_subscriber_of(conf, j->service, j->name, i));
		     i++) {
			j->rc = gw_evstore_add_delivery(s, j->e.seq, sub->client,
							sub->purpose ? sub->purpose : "", now);
			j->nsubscriptions++;
		}
		break;
	}
	case JOB_KEEP:
		j->rc = gw_evstore_receive(s, &j->e, j->client, j->purpose, &j->duplicate);
		ev->push_due = true;
		break;
	case JOB_PUSHED:
		/* The subscriber system took it: that is its acknowledgement. */
		if (j->delivered)
			j->rc = gw_evstore_ack(s, j->client, j->id, now);
		break;
	case JOB_ACK:
		j->rc = gw_evstore_ack(s, j->client, j->id, now);
		break;
	case JOB_REPLAY: {
		/* The publisher's own events only. */
		char *publisher = NULL;
		struct gw_delivery_view *dv = NULL;
		size_t n = 0;

		j->rc = gw_evstore_deliveries_of(s, j->id, &publisher, &dv, &n);
		if (j->rc == NDX_OK && strcmp(publisher, j->client) != 0)
			j->rc = NDX_ENOTFOUND;
		for (size_t i = 0; j->rc == NDX_OK && i < n; i++)
			if (strcmp(dv[i].client, j->purpose) == 0) {
				j->rc = gw_evstore_replay(s, dv[i].seq, j->purpose, now);
				goto replayed;
			}
		if (j->rc == NDX_OK)
			j->rc = NDX_ENOTFOUND;
replayed:
		free(publisher);
		gw_evstore_views_free(dv, n);
		break;
	}
	case JOB_ATTEMPTED:
		attempted(ev, j);
		break;
	default:
		break;
	}
}

static const char *hash_b64(const uint8_t h[NDX_SHA256_LEN], char *buf, size_t cap)
{
	char *b = ndx_b64_encode(h, NDX_SHA256_LEN, 0);

	snprintf(buf, cap, "%s", b ? b : "");
	free(b);
	return buf;
}

/* After the commit (rc its outcome): the answers. */
static void finish_job(struct gw_events *ev, struct job *j, int commit_rc)
{
	json_t *o;
	char b64[64], seq[24];

	if (commit_rc != NDX_OK && j->rc == NDX_OK)
		j->rc = commit_rc;
	switch (j->kind) {
	case JOB_PUBLISH:
		if (j->rc == NDX_EEXIST) {
			refuse_job(j, GW_R_BAD_HEADER,
				   "Ndx-Event-Id %s names another event", j->e.id);
			break;
		}
		if (j->rc != NDX_OK) {
			refuse_job(j, GW_R_EVENT_STORE_UNAVAILABLE,
				   "the event could not be kept");
			break;
		}
		if (j->duplicate) {
			ndx_http_resp_json(j->resp, 200,
					   json_pack("{s:s,s:s,s:I}", "id", j->e.id, "status",
						     "duplicate", "subscriptions",
						     (json_int_t)j->nsubscriptions));
			answer(j);
			break;
		}
		atomic_fetch_add(&ev->published, 1);
		o = json_pack("{s:s,s:I,s:s,s:s,s:s,s:s,s:I,s:I,s:s,s:s}", "id", j->e.id, "seq",
			      (json_int_t)j->e.seq, "service", j->service, "event", j->name,
			      "subject", j->subject, "status", "queued", "time_ms",
			      (json_int_t)j->e.time_ms, "subscriptions",
			      (json_int_t)j->nsubscriptions, "hash",
			      hash_b64(j->e.hash, b64, sizeof b64), "signature", j->signature);
		ndx_http_resp_json(j->resp, 201, o);
		answer(j);
		break;
	case JOB_KEEP:
		if (j->rc != NDX_OK) {
			refuse_job(j, GW_R_EVENT_STORE_UNAVAILABLE,
				   "the event could not be kept");
			break;
		}
		snprintf(seq, sizeof seq, "%" PRId64, j->e.seq);
		atomic_fetch_add(&ev->received, 1);
		o = json_pack("{s:s,s:s,s:b}", "received", j->e.id, "client", j->client,
			      "duplicate", j->duplicate);
		ndx_http_resp_json(j->resp, 200, o);
		ndx_http_resp_header(j->resp, "Ndx-Response-Signature", j->receipt_sig);
		answer(j);
		break;
	case JOB_ACK:
		if (j->rc == NDX_ENOTFOUND) {
			refuse_job(j, GW_R_UNKNOWN_EVENT, "no event %s in this client's inbox",
				   j->id);
			break;
		}
		if (j->rc != NDX_OK) {
			refuse_job(j, GW_R_EVENT_STORE_UNAVAILABLE,
				   "the acknowledgement could not be kept");
			break;
		}
		ndx_http_resp_json(j->resp, 200,
				   json_pack("{s:s,s:s}", "acknowledged", j->id, "client",
					     j->client));
		answer(j);
		break;
	case JOB_REPLAY:
		if (j->rc == NDX_ENOTFOUND) {
			refuse_job(j, GW_R_UNKNOWN_EVENT,
				   "no dead delivery of %s published by this client", j->id);
			break;
		}
		if (j->rc != NDX_OK) {
			refuse_job(j, GW_R_EVENT_STORE_UNAVAILABLE,
				   "the replay could not be kept");
			break;
		}
		ndx_http_resp_json(j->resp, 200,
				   json_pack("{s:s,s:s,s:s}", "replayed", j->id, "subscriber",
					     j->purpose, "status", "queued"));
		answer(j);
		ev->scan_due = true;
		break;
	case JOB_PUSHED:
		for (size_t i = 0; i < ev->npushes; i++)
			if (strcmp(ev->pushes[i].client, j->client) == 0) {
				struct push_state *ps = &ev->pushes[i];
				int64_t delay = 1000;

				ps->inflight = false;
				atomic_fetch_add(j->delivered && j->rc == NDX_OK ? &ev->pushed
										 : &ev->push_failures,
						 1);
				if (j->delivered && j->rc == NDX_OK) {
					ps->attempts = 0;
					ps->next_at_ms = 0;
				} else {
					ps->attempts++;
					for (int k = 1; k < ps->attempts && delay < EV_PUSH_BACKOFF_MAX_MS;
					     k++)
						delay *= 2;
					if (delay > EV_PUSH_BACKOFF_MAX_MS)
						delay = EV_PUSH_BACKOFF_MAX_MS;
					ps->next_at_ms = now_ms() + delay;
					if (ps->attempts == 1 || ps->attempts % 10 == 0)
						fprintf(stderr, GW_PROG ": events: push of %s to %s "
								"failed (%d in a row): %s\n",
							j->id, j->client, ps->attempts, j->error);
				}
			}
		ev->push_due = true;
		break;
	case JOB_ATTEMPTED:
		atomic_fetch_add(j->delivered ? &ev->deliveries_made : &ev->deliveries_failed, 1);
		/* Whatever the store made of it, the delivery is no longer in
		 * flight: queued, it may start again. */
		for (size_t i = 0; i < ev->ninflight; i++)
			if (ev->inflight[i].seq == j->seq &&
			    strcmp(ev->inflight[i].client, j->client) == 0) {
				free(ev->inflight[i].client);
				ev->inflight[i] = ev->inflight[--ev->ninflight];
				break;
			}
		ev->scan_due = true;
		break;
	default:
		break;
	}
	job_free(j);
}

/* The receipts of this turn's deliveries, signed as one batch, then logged. */
static void sign_receipts(struct gw_events *ev, struct job **list)
{
	uint8_t(*hashes)[NDX_SHA256_LEN];
	char **sigs;
	size_t n = 0, i = 0;
	struct job **pp = list, *j;

	for (j = *list; j; j = j->next)
		n += j->kind == JOB_RECEIVE || j->kind == JOB_PUBLISH;
	if (!n)
		return;
	hashes = calloc(n, sizeof *hashes);
	sigs = calloc(n, sizeof *sigs);
	if (hashes && sigs) {
		for (j = *list; j; j = j->next)
			if (j->kind == JOB_RECEIVE || j->kind == JOB_PUBLISH)
				memcpy(hashes[i++], j->kind == JOB_RECEIVE ? j->receipt_hash : j->e.hash,
				       NDX_SHA256_LEN);
		gw_sign_batch(ev->g->cfg->sign_key, (const uint8_t(*)[NDX_SHA256_LEN])hashes, n,
			      sigs);
	}
	i = 0;
	while ((j = *pp)) {
		char *sig;

		if (j->kind != JOB_RECEIVE && j->kind != JOB_PUBLISH) {
			pp = &j->next;
			continue;
		}
		sig = sigs ? sigs[i] : NULL;
		i++;
		if (j->kind == JOB_PUBLISH) {
			j->signature = sig;
			j->e.signature = sig;
			if (!sig) {
				*pp = j->next;
				refuse_job(j, GW_R_CANNOT_SIGN, "the event could not be signed");
				job_free(j);
				continue;
			}
			pp = &j->next;
			continue;
		}
		/* RECEIVE: off the list, to the message log first. */
		*pp = j->next;
		j->receipt_sig = sig;
		if (!sig) {
			refuse_job(j, GW_R_CANNOT_SIGN, "the receipt could not be signed");
			job_free(j);
			continue;
		}
		if (!(j->log_path = event_path(j->name))) {
			refuse_job(j, GW_R_INTERNAL, "out of memory");
			job_free(j);
			continue;
		}
		fill_record(&j->rec, NDX_MSGLOG_CONSUMER, &j->e, j->client, j->purpose,
			    j->receipt_hash, j->receipt_sig, j->log_path,
			    gw_elapsed_ms(&j->t0));
		gw_log_append_async(ev->g->log, &j->rec, receive_logged, j);
	}
	free(hashes);
	free(sigs);
}

/* The before-sleep hook: this turn's writes in one transaction. */
static void flush(void *arg)
{
	struct gw_events *ev = arg;
	struct job *list = ev->head, *j, *next;
	struct gw_view v;
	bool counted = list != NULL || ev->scan_due;
	int rc;

	ev->head = NULL;
	ev->tail = &ev->head;
	if (list) {
		sign_receipts(ev, &list);
		while (list) {
			/* At most EV_TXN_MAX jobs a transaction: the store's
			 * savepoints grow costly in very large ones. */
			struct job *chunk = list, **cut = &list;
			size_t k = 0;

			while (*cut && k++ < EV_TXN_MAX)
				cut = &(*cut)->next;
			list = *cut;
			*cut = NULL;
			gw_state_acquire(ev->g->state, &v);
			rc = gw_evstore_begin(ev->store);
			if (rc == NDX_OK) {
				for (j = chunk; j; j = j->next)
					apply(ev, j, v.c->conf);
				rc = gw_evstore_commit(ev->store);
			}
			gw_view_release(&v);
			if ((rc != NDX_OK) != ev->store_failing) {
				ev->store_failing = rc != NDX_OK;
				fprintf(stderr, GW_PROG ": events store: %s\n",
					rc != NDX_OK ? "writes fail; publishes and deliveries are "
						       "refused until it recovers"
						     : "writes work again");
			}
			for (j = chunk; j; j = next) {
				next = j->next;
				finish_job(ev, j, rc);
			}
			ev->scan_due = true;
		}
	}
	if (ev->scan_due && !atomic_load(&ev->stopping))
		schedule(ev);
	if (ev->push_due && !atomic_load(&ev->stopping))
		schedule_pushes(ev);
	if (counted) {
		struct gw_evstore_counts c;

		if (gw_evstore_counts(ev->store, &c) == NDX_OK) {
			atomic_store(&ev->queued, c.queued);
			atomic_store(&ev->delivered_now, c.delivered);
			atomic_store(&ev->dead, c.dead);
			atomic_store(&ev->inbox_unacked, c.inbox_unacked);
		}
	}
}

/* ---- the events thread: reads --------------------------------------------- */

static json_t *event_json(const struct gw_event *e)
{
	json_t *payload = json_loadb((const char *)e->payload, e->payload_len, 0, NULL);
	char b64[64];

	return json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:I,s:o,s:s,s:s}", "seq", (json_int_t)e->seq,
			 "id", e->id, "service", e->service, "event", e->name, "publisher",
			 e->publisher, "subject", e->subject, "time_ms", (json_int_t)e->time_ms,
			 "payload", payload ? payload : json_null(), "hash",
			 hash_b64(e->hash, b64, sizeof b64), "signature", e->signature);
}

static json_t *delivery_json(const struct gw_delivery_view *d)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:s}", "subscriber", d->client, "purpose",
			 d->purpose, "state", gw_delivery_state_name(d->state), "event", d->name,
			 "attempts", (json_int_t)d->attempts, "next_at_ms",
			 (json_int_t)d->next_at_ms, "updated_ms", (json_int_t)d->updated_ms,
			 "last_error", d->last_error);
}

static void reply_query(struct gw_events *ev, struct job *j)
{
	json_t *o = NULL, *arr = json_array();
	int rc = NDX_OK;

	if (j->query == Q_INBOX) {
		struct gw_inbox_entry *list = NULL;
		size_t n = 0;
		int64_t last = j->after;

		rc = gw_evstore_inbox(ev->store, j->client, j->after, j->limit, j->unacked_only,
				      &list, &n);
		for (size_t i = 0; rc == NDX_OK && i < n; i++) {
			json_t *e = event_json(&list[i].ev);

			if (e) {
				json_object_set_new(e, "purpose", json_string(list[i].purpose));
				json_object_set_new(e, "acknowledged",
						    json_boolean(list[i].acknowledged));
			}
			json_array_append_new(arr, e);
			last = list[i].ev.seq;
		}
		gw_evstore_inbox_free(list, n);
		if (rc == NDX_OK)
			o = json_pack("{s:O,s:I}", "events", arr, "next", (json_int_t)last);
	} else if (j->query == Q_DEAD) {
		struct gw_delivery_view *list = NULL;
		size_t n = 0;
		int64_t last = j->after;

		rc = gw_evstore_dead(ev->store, j->after, EV_PAGE_MAX, &list, &n);
		for (size_t i = 0; rc == NDX_OK && i < n; i++) {
			/* Only the deliveries of the caller's own events. */
			char *publisher = NULL;
			struct gw_delivery_view *mine = NULL;
			size_t m = 0;

			last = list[i].seq;
			if (gw_evstore_deliveries_of(ev->store, list[i].id, &publisher, &mine, &m) ==
				    NDX_OK &&
			    strcmp(publisher, j->client) == 0 && json_array_size(arr) < j->limit) {
				json_t *d = delivery_json(&list[i]);

				json_object_set_new(d, "id", json_string(list[i].id));
				json_object_set_new(d, "seq", json_integer(list[i].seq));
				json_array_append_new(arr, d);
			}
			free(publisher);
			gw_evstore_views_free(mine, m);
			if (json_array_size(arr) >= j->limit)
				break;
		}
		gw_evstore_views_free(list, n);
		if (rc == NDX_OK)
			o = json_pack("{s:O,s:I}", "dead", arr, "next", (json_int_t)last);
	} else {
		/* status: the publisher sees its deliveries, a subscriber its copy */
		char *publisher = NULL;
		struct gw_delivery_view *list = NULL;
		size_t n = 0;
		struct gw_inbox_entry *in = NULL;

		rc = gw_evstore_deliveries_of(ev->store, j->id, &publisher, &list, &n);
		if (rc == NDX_OK && strcmp(publisher, j->client) == 0) {
			for (size_t i = 0; i < n; i++)
				json_array_append_new(arr, delivery_json(&list[i]));
			o = json_pack("{s:s,s:s,s:s,s:O}", "id", j->id, "role", "publisher",
				      "event", n ? list[0].name : "", "deliveries", arr);
		} else if ((rc == NDX_OK || rc == NDX_ENOTFOUND) &&
			   gw_evstore_inbox_entry(ev->store, j->client, j->id, &in) == NDX_OK) {
			o = json_pack("{s:s,s:s,s:s,s:s,s:I,s:I}", "id", j->id, "role",
				      "subscriber", "event", in->ev.name, "state",
				      in->acknowledged ? "acknowledged" : "received", "seq",
				      (json_int_t)in->ev.seq, "received_ms",
				      (json_int_t)in->received_ms);
			rc = NDX_OK;
		} else if (rc == NDX_OK) {
			rc = NDX_ENOTFOUND;
		}
		free(publisher);
		gw_evstore_views_free(list, n);
		gw_evstore_inbox_free(in, in ? 1 : 0);
	}
	json_decref(arr);
	if (rc == NDX_ENOTFOUND)
		refuse_job(j, GW_R_UNKNOWN_EVENT, "no event %s for this client", j->id);
	else if (rc != NDX_OK || !o)
		refuse_job(j, GW_R_EVENT_STORE_UNAVAILABLE, "the event store cannot be read");
	else {
		ndx_http_resp_json(j->resp, 200, o);
		o = NULL;
		answer(j);
	}
	json_decref(o);
}

/* ---- deliveries ---------------------------------------------------------------- */

static void delivery_free(struct delivery *d)
{
	if (!d)
		return;
	gw_evstore_due_free(d->due, 1);
	gw_xfer_resp_free(&d->r);
	curl_slist_free_all(d->headers);
	free(d->call.url);
	free(d->log_path);
	gw_view_release(&d->view);
	free(d);
}

/* The outcome goes back to the events thread. */
static void report(struct delivery *d, bool delivered)
{
	struct job *j = calloc(1, sizeof *j);
	struct gw_events *ev = d->ev;

	if (j) {
		j->kind = JOB_ATTEMPTED;
		j->seq = d->due->ev.seq;
		j->delivered = delivered;
		j->client = strdup(d->due->client);
		j->first_attempt_ms = d->due->first_attempt_ms;
		j->attempts = d->due->attempts;
		snprintf(j->error, sizeof j->error, "%s", d->error);
		j->receipt_sig = delivered && d->r.hdr[GW_H_RESPONSE_SIG]
					 ? strdup(d->r.hdr[GW_H_RESPONSE_SIG])
					 : NULL;
		j->purpose = strdup(d->due->purpose);
		/* The retry policy of the subscription, as the configuration
		 * held when the delivery started. */
		{
			const struct ndx_conf_subscription *sub = ndx_conf_subscription(
				d->view.c->conf, d->due->client, d->due->ev.service, d->due->ev.name);

			j->retry_first_s = sub ? sub->retry_first_s : 1;
			j->retry_max_s = sub ? sub->retry_max_s : 300;
			j->give_up_after_s = sub ? sub->give_up_after_s : 86400;
		}
		/* Not reported (out of memory, or the gateway is stopping): the
		 * delivery stays queued in the store and goes again after a
		 * restart; until then its key keeps it from starting twice. */
		if (!j->client || !j->purpose || !post(ev, j))
			job_free(j);
	}
	delivery_free(d);
}

static void delivery_logged(void *ud, int rc)
{
	struct delivery *d = ud;

	if (rc != NDX_OK)
		snprintf(d->error, sizeof d->error, "the message log cannot be written");
	report(d, rc == NDX_OK);
}

/* On the exchange loop: the subscriber gateway answered (or not). */
static void delivered(struct gw_peer_call *call, enum gw_xfer_result res)
{
	struct delivery *d = call->ud;
	struct gw_xfer_resp *r = &d->r;
	char err[160];
	struct ndx_event_receipt_hash_input rin;
	char gwname[NDX_ID_TEXT_MAX + 64];

	if (res != GW_XFER_OK) {
		snprintf(d->error, sizeof d->error, "%s",
			 r->errbuf[0] ? r->errbuf : "the subscriber's gateway cannot be reached");
		report(d, false);
		return;
	}
	if (r->status != 200 || !r->hdr[GW_H_RESPONSE_SIG] || !call->gateway) {
		snprintf(d->error, sizeof d->error, "the subscriber's gateway answered %ld%s%s",
			 r->status, r->hdr[GW_H_XROAD_ERROR] ? " " : "",
			 r->hdr[GW_H_XROAD_ERROR] ? r->hdr[GW_H_XROAD_ERROR] : "");
		report(d, false);
		return;
	}
	memcpy(rin.event_hash, d->due->ev.hash, NDX_SHA256_LEN);
	rin.client = d->due->client;
	rin.purpose = d->due->purpose;
	gw_gateway_name(call->gateway->member, call->gateway->code, gwname, sizeof gwname);
	rin.gateway = gwname;
	ndx_event_receipt_hash(&rin, d->receipt_hash);
	if (gw_verify_hash(call->gateway->sign_key, r->hdr[GW_H_RESPONSE_SIG], d->receipt_hash,
			   err, sizeof err) != NDX_OK) {
		snprintf(d->error, sizeof d->error, "the receipt does not verify: %s", err);
		report(d, false);
		return;
	}
	if (!(d->log_path = event_path(d->due->ev.name))) {
		snprintf(d->error, sizeof d->error, "out of memory");
		report(d, false);
		return;
	}
	fill_record(&d->rec, NDX_MSGLOG_PROVIDER, &d->due->ev, d->due->client, d->due->purpose,
		    d->receipt_hash, r->hdr[GW_H_RESPONSE_SIG], d->log_path,
		    gw_elapsed_ms(&d->t0));
	gw_log_append_async(d->ev->g->log, &d->rec, delivery_logged, d);
}

static int prepare(struct gw_peer_call *call, const struct ndx_conf_gateway *gw, void *ud)
{
	(void)gw;
	(void)ud;
	gw_peer_prepared(call, true);
	return 0;
}

static void start_on_loop(void *arg)
{
	struct delivery *d = arg;

	gw_peer_start(&d->call, &d->r);
}

static int add_header(struct curl_slist **l, const char *name, const char *v)
{
	return v && v[0] ? gw_slist_add(l, name, v) : NDX_OK;
}

static bool start_delivery(struct gw_events *ev, struct delivery *d)
{
	const struct gw_event *e = &d->due->ev;

	gw_state_acquire(ev->g->state, &d->view);
	gw_member_of(d->due->client, d->member, sizeof d->member);
	snprintf(d->time_text, sizeof d->time_text, "%" PRId64, e->time_ms);
	if (add_header(&d->headers, "Ndx-Event-Id", e->id) ||
	    add_header(&d->headers, "Ndx-Event-Service", e->service) ||
	    add_header(&d->headers, "Ndx-Event-Name", e->name) ||
	    add_header(&d->headers, "Ndx-Event-Publisher", e->publisher) ||
	    add_header(&d->headers, "Ndx-Event-Subject", e->subject) ||
	    add_header(&d->headers, "Ndx-Event-Time", d->time_text) ||
	    add_header(&d->headers, "Ndx-Event-Client", d->due->client) ||
	    add_header(&d->headers, "Ndx-Event-Purpose", d->due->purpose) ||
	    add_header(&d->headers, "Ndx-Signature", e->signature) ||
	    add_header(&d->headers, "Content-Type", "application/json") ||
	    /* no 100-continue round trip */
	    gw_slist_add(&d->headers, "Expect", ""))
		return false;
	clock_gettime(CLOCK_MONOTONIC, &d->t0);
	d->call.loop = gw_loops_next(ev->g->loops);
	d->call.conf = d->view.c->conf;
	d->call.member = d->member;
	d->call.method = "POST";
	d->call.url_suffix = EV_DELIVER_PATH;
	d->call.body = e->payload;
	d->call.body_len = e->payload_len;
	d->call.headers = d->headers;
	d->call.cfg = ev->g->cfg;
	d->call.s = d->view.s;
	d->call.prepare = prepare;
	d->call.done = delivered;
	d->call.ud = d;
	d->task.fn = start_on_loop;
	d->task.arg = d;
	return gw_loop_post(d->call.loop, &d->task) == NDX_OK;
}

/* Looks for due deliveries and starts them, then sleeps until the next. */
static void schedule(struct gw_events *ev)
{
	int64_t now = now_ms(), next = INT64_MAX, wait;
	struct gw_due *due = NULL;
	size_t n = 0, k = 0;
	int64_t *skip_seq = NULL;
	const char **skip_client = NULL;
	struct delivery *d;

	ev->scan_due = false;
	if (ev->ninflight < EV_INFLIGHT_MAX) {
		skip_seq = calloc(ev->ninflight + 1, sizeof *skip_seq);
		skip_client = calloc(ev->ninflight + 1, sizeof *skip_client);
		if (skip_seq && skip_client) {
			for (k = 0; k < ev->ninflight; k++) {
				skip_seq[k] = ev->inflight[k].seq;
				skip_client[k] = ev->inflight[k].client;
			}
			if (gw_evstore_due(ev->store, now, EV_INFLIGHT_MAX - ev->ninflight,
					   skip_seq, skip_client, k, &due, &n) != NDX_OK)
				n = 0;
		}
		free(skip_seq);
		free(skip_client);
	}
	for (size_t i = 0; i < n; i++) {
		struct inflight_key *key = &ev->inflight[ev->ninflight];

		d = calloc(1, sizeof *d);
		if (!d || !(d->due = malloc(sizeof *d->due)) ||
		    !(key->client = strdup(due[i].client))) {
			if (d)
				free(d->due);
			free(d);
			continue; /* freed with the list below; tried on a later turn */
		}
		key->seq = due[i].ev.seq;
		d->ev = ev;
		*d->due = due[i];            /* takes its strings ... */
		due[i].ev.service = NULL;    /* ... which the list then does not free */
		if (start_delivery(ev, d)) {
			ev->ninflight++;
		} else {
			/* not started (the loops are stopping): it stays queued */
			free(key->client);
			delivery_free(d);
		}
	}
	gw_evstore_due_free(due, n);
	if (gw_evstore_next_due(ev->store, &next) != NDX_OK)
		next = INT64_MAX;
	/* Due now but not started: those are in flight, or behind the cap, or
	 * behind an earlier one in flight. Each outcome (JOB_ATTEMPTED) looks
	 * again; the tick is only the backstop. */
	wait = next == INT64_MAX || next <= now ? EV_TICK_MS : next - now;
	if (wait > EV_TICK_MS)
		wait = EV_TICK_MS;
	ndx_loop_timer_arm(ev->loop, &ev->tick, wait < 0 ? 0 : wait);
}

static void on_tick(void *arg)
{
	struct gw_events *ev = arg;

	ev->scan_due = true;
	ev->push_due = true;
}

/* ---- pushing to subscriber systems ----------------------------------------------- */

static void push_free(struct push *p)
{
	if (!p)
		return;
	gw_evstore_inbox_free(p->entry, p->entry ? 1 : 0);
	gw_xfer_resp_free(&p->r);
	curl_slist_free_all(p->headers);
	free(p->svc.id);
	free(p->svc.backend);
	free(p);
}

/* On the exchange loop: the subscriber system answered (or not). */
static void pushed(struct gw_backend_call *call, enum gw_xfer_result res)
{
	struct push *p = call->ud;
	struct job *j = calloc(1, sizeof *j);

	if (j) {
		j->kind = JOB_PUSHED;
		j->delivered = res == GW_XFER_OK && p->r.status >= 200 && p->r.status < 300;
		j->client = strdup(p->entry->client);
		snprintf(j->id, sizeof j->id, "%s", p->entry->ev.id);
		if (res != GW_XFER_OK)
			snprintf(j->error, sizeof j->error, "%s",
				 p->r.errbuf[0] ? p->r.errbuf : "the endpoint cannot be reached");
		else if (!j->delivered)
			snprintf(j->error, sizeof j->error, "the endpoint answered %ld",
				 p->r.status);
		if (!j->client || !post(p->ev, j))
			job_free(j); /* stays unacknowledged: pushed again after a restart */
	}
	push_free(p);
}

static void push_on_loop(void *arg)
{
	struct push *p = arg;

	gw_backend_start(p->loop, &p->call, &p->r);
}

static bool start_push(struct gw_events *ev, const struct gw_client_auth *a,
		       struct gw_inbox_entry *entry)
{
	struct push *p = calloc(1, sizeof *p);
	const struct gw_event *e = &entry->ev;
	char b64[64];

	if (!p) {
		gw_evstore_inbox_free(entry, 1);
		return false;
	}
	p->ev = ev;
	p->entry = entry;
	snprintf(p->seq_text, sizeof p->seq_text, "%" PRId64, e->seq);
	snprintf(p->time_text, sizeof p->time_text, "%" PRId64, e->time_ms);
	if (!(p->svc.id = strdup(entry->client)) || !(p->svc.backend = strdup(a->push_url)) ||
	    add_header(&p->headers, "Ndx-Event-Id", e->id) ||
	    add_header(&p->headers, "Ndx-Event-Seq", p->seq_text) ||
	    add_header(&p->headers, "Ndx-Event-Service", e->service) ||
	    add_header(&p->headers, "Ndx-Event-Name", e->name) ||
	    add_header(&p->headers, "Ndx-Event-Publisher", e->publisher) ||
	    add_header(&p->headers, "Ndx-Event-Subject", e->subject) ||
	    add_header(&p->headers, "Ndx-Event-Time", p->time_text) ||
	    add_header(&p->headers, "Ndx-Event-Client", entry->client) ||
	    add_header(&p->headers, "Ndx-Event-Purpose", entry->purpose) ||
	    add_header(&p->headers, "Ndx-Event-Hash", hash_b64(e->hash, b64, sizeof b64)) ||
	    add_header(&p->headers, "Ndx-Signature", e->signature) ||
	    add_header(&p->headers, "Content-Type", "application/json") ||
	    gw_slist_add(&p->headers, "Expect", "")) {
		push_free(p);
		return false;
	}
	p->svc.timeout_ms = a->push_timeout_ms;
	p->call.svc = &p->svc;
	p->call.method = "POST";
	p->call.path = "";
	p->call.query = "";
	p->call.body = e->payload;
	p->call.body_len = e->payload_len;
	p->call.headers = p->headers;
	p->call.connect_timeout_ms = 3000;
	p->call.max_body = 65536;
	p->call.done = pushed;
	p->call.ud = p;
	p->loop = gw_loops_next(ev->g->loops);
	p->task.fn = push_on_loop;
	p->task.arg = p;
	if (gw_loop_post(p->loop, &p->task) != NDX_OK) {
		push_free(p);
		return false;
	}
	return true;
}

/* For each subscriber system with a push endpoint and nothing in flight:
 * its oldest unacknowledged event, unless it is backing off. */
static void schedule_pushes(struct gw_events *ev)
{
	struct gw_view v;
	int64_t now = now_ms();

	ev->push_due = false;
	gw_state_acquire(ev->g->state, &v);
	for (size_t i = 0; i < v.s->nsubsystems; i++) {
		const struct gw_client_auth *a = &v.s->auth[i];
		const char *client = v.s->subsystems[i];
		struct push_state *ps = NULL;
		struct gw_inbox_entry *list = NULL;
		size_t n = 0;

		if (!a->push_url)
			continue;
		for (size_t k = 0; k < ev->npushes && !ps; k++)
			if (strcmp(ev->pushes[k].client, client) == 0)
				ps = &ev->pushes[k];
		if (!ps) {
			struct push_state *grown =
				realloc(ev->pushes, (ev->npushes + 1) * sizeof *ev->pushes);

			if (!grown)
				continue;
			ev->pushes = grown;
			ps = &ev->pushes[ev->npushes];
			memset(ps, 0, sizeof *ps);
			if (!(ps->client = strdup(client)))
				continue;
			ev->npushes++;
		}
		if (ps->inflight || now < ps->next_at_ms)
			continue;
		if (gw_evstore_inbox(ev->store, client, 0, 1, true, &list, &n) != NDX_OK || n == 0) {
			gw_evstore_inbox_free(list, n);
			continue;
		}
		ps->inflight = start_push(ev, a, list);
	}
	gw_view_release(&v);
}

/* A delivery's outcome (JOB_ATTEMPTED, in flush's transaction through
 * apply): the back-off, or delivered, or dead. Runs before apply. */
static void attempted(struct gw_events *ev, struct job *j)
{
	int64_t now = now_ms(), first = j->first_attempt_ms ? j->first_attempt_ms : now, delay_s,
		next;
	int attempts = j->attempts + 1;
	enum gw_delivery_state st = GW_DELIVERY_QUEUED;

	if (j->delivered) {
		st = GW_DELIVERY_DELIVERED;
		next = now;
	} else {
		/* first_s, 2 first_s, 4 first_s ... up to max_s; dead once
		 * give_up_after_s has passed since the first attempt. */
		delay_s = j->retry_first_s;
		for (int i = 1; i < attempts && delay_s < j->retry_max_s; i++)
			delay_s *= 2;
		if (delay_s > j->retry_max_s)
			delay_s = j->retry_max_s;
		next = now + delay_s * 1000;
		if (now - first >= j->give_up_after_s * 1000)
			st = GW_DELIVERY_DEAD;
	}
	j->rc = gw_evstore_attempted(ev->store, j->seq, j->client, st, now, next,
				     j->delivered ? "" : j->error, j->receipt_sig);
	if (st == GW_DELIVERY_DEAD)
		fprintf(stderr, GW_PROG ": events: delivery of event %" PRId64 " to %s is dead "
				"after %d attempts: %s\n",
			j->seq, j->client, attempts, j->error);
}

/* ---- the thread ------------------------------------------------------------------- */

static void *thread_main(void *arg)
{
	struct gw_events *ev = arg;

	ndx_loop_run(ev->loop);
	return NULL;
}

int gw_events_start(struct gw_ctx *g, struct gw_events **out, char *err, size_t errcap)
{
	struct gw_events *ev = calloc(1, sizeof *ev);
	char path[4096];
	int rc;

	*out = NULL;
	if (!ev) {
		snprintf(err, errcap, "out of memory");
		return NDX_ENOMEM;
	}
	ev->g = g;
	ev->tail = &ev->head;
	pthread_mutex_init(&ev->schema_lock, NULL);
	ev->tick.fn = on_tick;
	ev->tick.arg = ev;
	snprintf(path, sizeof path, "%s/events.db", g->cfg->data_dir);
	rc = gw_evstore_open(path, &ev->store, err, errcap);
	if (rc == NDX_OK && (rc = ndx_loop_new(&ev->loop)) != NDX_OK)
		snprintf(err, errcap, "cannot create the events loop");
	if (rc == NDX_OK && (rc = ndx_loop_before_sleep(ev->loop, flush, ev)) != NDX_OK)
		snprintf(err, errcap, "cannot hook the events loop");
	if (rc == NDX_OK) {
		ev->scan_due = true; /* what a previous run left queued */
		ev->push_due = true;
		ndx_loop_timer_arm(ev->loop, &ev->tick, 0);
		if (pthread_create(&ev->thread, NULL, thread_main, ev) != 0) {
			snprintf(err, errcap, "cannot start the events thread");
			rc = NDX_EIO;
		} else {
			ev->thread_started = true;
		}
	}
	if (rc != NDX_OK) {
		gw_events_free(ev);
		return rc;
	}
	*out = ev;
	return NDX_OK;
}

void gw_events_stop(struct gw_events *ev)
{
	if (!ev || !ev->thread_started)
		return;
	atomic_store(&ev->stopping, true);
	ndx_loop_stop(ev->loop);
	pthread_join(ev->thread, NULL);
	ev->thread_started = false;
}

void gw_events_free(struct gw_events *ev)
{
	if (!ev)
		return;
	gw_events_stop(ev);
	for (size_t i = 0; i < ev->ninflight; i++)
		free(ev->inflight[i].client);
	for (size_t i = 0; i < ev->npushes; i++)
		free(ev->pushes[i].client);
	free(ev->pushes);
	ndx_loop_free(ev->loop);
	gw_evstore_close(ev->store);
	for (size_t i = 0; i < ev->nschemas; i++) {
		free(ev->schemas[i].service);
		free(ev->schemas[i].name);
		ndx_schema_free(ev->schemas[i].schema);
	}
	free(ev->schemas);
	pthread_mutex_destroy(&ev->schema_lock);
	free(ev);
}

char *gw_events_metrics(struct gw_events *ev)
{
	char *out = NULL;
	int n;

	if (!ev)
		return strdup("");
	n = asprintf(&out,
		     "# HELP ndx_gateway_events_published_total Events this gateway's provider "
		     "systems published (kept in the outbox).\n"
		     "# TYPE ndx_gateway_events_published_total counter\n"
		     "ndx_gateway_events_published_total %" PRIu64 "\n"
		     "# HELP ndx_gateway_event_deliveries_total Delivery attempts to subscribers' "
		     "gateways, by outcome.\n"
		     "# TYPE ndx_gateway_event_deliveries_total counter\n"
		     "ndx_gateway_event_deliveries_total{outcome=\"delivered\"} %" PRIu64 "\n"
		     "ndx_gateway_event_deliveries_total{outcome=\"failed\"} %" PRIu64 "\n"
		     "# HELP ndx_gateway_events_received_total Deliveries this gateway received "
		     "for its subscriber systems (repeats included).\n"
		     "# TYPE ndx_gateway_events_received_total counter\n"
		     "ndx_gateway_events_received_total %" PRIu64 "\n"
		     "# HELP ndx_gateway_event_pushes_total Pushes to subscriber systems' "
		     "endpoints, by outcome.\n"
		     "# TYPE ndx_gateway_event_pushes_total counter\n"
		     "ndx_gateway_event_pushes_total{outcome=\"acknowledged\"} %" PRIu64 "\n"
		     "ndx_gateway_event_pushes_total{outcome=\"failed\"} %" PRIu64 "\n"
		     "# HELP ndx_gateway_event_outbox Deliveries in the outbox, by state.\n"
		     "# TYPE ndx_gateway_event_outbox gauge\n"
		     "ndx_gateway_event_outbox{state=\"queued\"} %" PRIu64 "\n"
		     "ndx_gateway_event_outbox{state=\"delivered\"} %" PRIu64 "\n"
		     "ndx_gateway_event_outbox{state=\"dead\"} %" PRIu64 "\n"
		     "# HELP ndx_gateway_event_inbox_unacknowledged Inbox events no subscriber "
		     "system has acknowledged yet.\n"
		     "# TYPE ndx_gateway_event_inbox_unacknowledged gauge\n"
		     "ndx_gateway_event_inbox_unacknowledged %" PRIu64 "\n",
		     atomic_load(&ev->published), atomic_load(&ev->deliveries_made),
		     atomic_load(&ev->deliveries_failed), atomic_load(&ev->received),
		     atomic_load(&ev->pushed), atomic_load(&ev->push_failures),
		     atomic_load(&ev->queued), atomic_load(&ev->delivered_now),
		     atomic_load(&ev->dead), atomic_load(&ev->inbox_unacked));
	return n < 0 ? NULL : out;
}
