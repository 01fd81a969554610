/* Events: the events thread (events.h, events_int.h; docs/events.md for the
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

#include "events_int.h"
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

/* ---- small helpers ---------------------------------------------------------- */

int64_t ev_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t ev_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void ev_job_free(struct job *j)
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

void ev_answer(struct job *j)
{
	struct ndx_http_pending *p = j->pending;

	j->pending = NULL;
	if (p)
		ndx_http_resume(p);
}

/* Refuses a deferred request and resumes it. */
__attribute__((format(printf, 3, 4))) void ev_refuse_job(struct job *j, enum gw_reason r,
							      const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	gw_refusal(j->resp, j->req, r, j->side, NULL, "%s", msg);
	ev_answer(j);
}

/* Points the event view of j at the strings j owns. */
void ev_job_event_view(struct job *j)
{
	j->e.service = j->service;
	j->e.name = j->name;
	j->e.publisher = j->publisher;
	j->e.subject = j->subject;
	j->e.payload = j->payload;
	j->e.signature = j->signature;
}


/* Queues j on the events thread. False when it is stopping. */
bool ev_post(struct gw_events *ev, struct job *j)
{
	j->ev = ev;
	j->task.fn = ev_task_run;
	j->task.arg = j;
	if (atomic_load(&ev->stopping) && j->kind != JOB_KEEP && j->kind != JOB_ATTEMPTED)
		return false;
	return ndx_loop_post(ev->loop, &j->task) == NDX_OK;
}

/* ---- schemas ---------------------------------------------------------------- */

/* Validates payload against the schema of (service, name) in conf. NDX_OK,
 * or NDX_EINVAL with the failing field and why in err. */
/* The compiled schema of et, looked up under the write lock, compiled when
 * missing; the cache is emptied when the configuration version changes.
 * Returns NULL with rc set when it cannot be had. */
static struct ndx_schema *schema_of(struct gw_events *ev, const struct ndx_conf *conf,
				    const struct ndx_conf_event_type *et, char *err, size_t errcap,
				    int *rc)
{
	struct schema_entry *e = NULL, *grown;
	struct ndx_schema *s = NULL;

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
	if (e)
		return e->schema;
	if (!(grown = realloc(ev->schemas, (ev->nschemas + 1) * sizeof *ev->schemas))) {
		snprintf(err, errcap, "out of memory");
		*rc = NDX_ENOMEM;
		return NULL;
	}
	ev->schemas = grown;
	if ((*rc = ndx_schema_compile(et->schema, &s, err, errcap)) != NDX_OK) {
		if (*rc == NDX_EINVAL)
			*rc = NDX_EIO; /* the registry's fault, not the caller's */
		return NULL;
	}
	e = &ev->schemas[ev->nschemas];
	e->service = strdup(et->service);
	e->name = strdup(et->name);
	e->schema = s;
	if (!e->service || !e->name) {
		free(e->service);
		free(e->name);
		ndx_schema_free(s);
		snprintf(err, errcap, "out of memory");
		*rc = NDX_ENOMEM;
		return NULL;
	}
	ev->nschemas++;
	return s;
}

int ev_validate(struct gw_events *ev, const struct ndx_conf *conf,
		const struct ndx_conf_event_type *et, const json_t *payload, char *err,
		size_t errcap)
{
	struct ndx_schema *s = NULL;
	int rc = NDX_OK;

	/* The usual case, a schema already compiled for this configuration:
	 * validations from every loop at once (ndx_schema_validate is
	 * thread-safe for one schema). */
	pthread_rwlock_rdlock(&ev->schema_lock);
	if (ev->schemas_of == ndx_conf_version(conf))
		for (size_t i = 0; i < ev->nschemas && !s; i++)
			if (strcmp(ev->schemas[i].service, et->service) == 0 &&
			    strcmp(ev->schemas[i].name, et->name) == 0)
				s = ev->schemas[i].schema;
	if (s) {
		rc = ndx_schema_validate(s, payload, err, errcap);
		pthread_rwlock_unlock(&ev->schema_lock);
		return rc;
	}
	pthread_rwlock_unlock(&ev->schema_lock);
	/* Compile it (or empty the cache for a new configuration) alone. */
	pthread_rwlock_wrlock(&ev->schema_lock);
	s = schema_of(ev, conf, et, err, errcap, &rc);
	if (s)
		rc = ndx_schema_validate(s, payload, err, errcap);
	pthread_rwlock_unlock(&ev->schema_lock);
	return rc;
}

/* ---- the events thread: jobs ---------------------------------------------- */


/* A task: reads are answered at once; writes wait for this turn's flush. */
void ev_task_run(void *arg)
{
	struct job *j = arg;
	struct gw_events *ev = j->ev;

	if (j->kind == JOB_QUERY) {
		ev_reply_query(ev, j);
		ev_job_free(j);
		return;
	}
	j->next = NULL;
	*ev->tail = j;
	ev->tail = &j->next;
}

/* The record of a delivery, the same on both sides but for its direction
 * (docs/protocol.md "Events": method EVENT, path /{name}). */
void ev_fill_record(struct ndx_msglog_record *rec, enum ndx_msglog_direction dir,
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

char *ev_event_path(const char *name)
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
		ev_refuse_job(j, GW_R_LOG_UNAVAILABLE, "the message log cannot be written");
		ev_job_free(j);
		return;
	}
	j->kind = JOB_KEEP;
	if (!ev_post(j->ev, j)) {
		ev_refuse_job(j, GW_R_EVENT_STORE_UNAVAILABLE, "the gateway is stopping");
		ev_job_free(j);
	}
}

static void apply(struct gw_events *ev, struct job *j, const struct ndx_conf *conf)
{
	struct gw_evstore *s = ev->store;
	int64_t now = ev_now_ms();

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
		ev_attempted(ev, j);
		break;
	default:
		break;
	}
}

const char *ev_hash_b64(const uint8_t h[NDX_SHA256_LEN], char *buf, size_t cap)
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
			ev_refuse_job(j, GW_R_BAD_HEADER,
				   "Ndx-Event-Id %s names another event", j->e.id);
			break;
		}
		if (j->rc != NDX_OK) {
			ev_refuse_job(j, GW_R_EVENT_STORE_UNAVAILABLE,
				   "the event could not be kept");
			break;
		}
		if (j->duplicate) {
			ndx_http_resp_json(j->resp, 200,
					   json_pack("{s:s,s:s,s:I}", "id", j->e.id, "status",
						     "duplicate", "subscriptions",
						     (json_int_t)j->nsubscriptions));
			ev_answer(j);
			break;
		}
		atomic_fetch_add(&ev->published, 1);
		o = json_pack("{s:s,s:I,s:s,s:s,s:s,s:s,s:I,s:I,s:s,s:s}", "id", j->e.id, "seq",
			      (json_int_t)j->e.seq, "service", j->service, "event", j->name,
			      "subject", j->subject, "status", "queued", "time_ms",
			      (json_int_t)j->e.time_ms, "subscriptions",
			      (json_int_t)j->nsubscriptions, "hash",
			      ev_hash_b64(j->e.hash, b64, sizeof b64), "signature", j->signature);
		ndx_http_resp_json(j->resp, 201, o);
		ev_answer(j);
		break;
	case JOB_KEEP:
		if (j->rc != NDX_OK) {
			ev_refuse_job(j, GW_R_EVENT_STORE_UNAVAILABLE,
				   "the event could not be kept");
			break;
		}
		snprintf(seq, sizeof seq, "%" PRId64, j->e.seq);
		atomic_fetch_add(&ev->received, 1);
		o = json_pack("{s:s,s:s,s:b}", "received", j->e.id, "client", j->client,
			      "duplicate", j->duplicate);
		ndx_http_resp_json(j->resp, 200, o);
		ndx_http_resp_header(j->resp, "Ndx-Response-Signature", j->receipt_sig);
		ev_answer(j);
		break;
	case JOB_ACK:
		if (j->rc == NDX_ENOTFOUND) {
			ev_refuse_job(j, GW_R_UNKNOWN_EVENT, "no event %s in this client's inbox",
				   j->id);
			break;
		}
		if (j->rc != NDX_OK) {
			ev_refuse_job(j, GW_R_EVENT_STORE_UNAVAILABLE,
				   "the acknowledgement could not be kept");
			break;
		}
		ndx_http_resp_json(j->resp, 200,
				   json_pack("{s:s,s:s}", "acknowledged", j->id, "client",
					     j->client));
		ev_answer(j);
		break;
	case JOB_REPLAY:
		if (j->rc == NDX_ENOTFOUND) {
			ev_refuse_job(j, GW_R_UNKNOWN_EVENT,
				   "no dead delivery of %s published by this client", j->id);
			break;
		}
		if (j->rc != NDX_OK) {
			ev_refuse_job(j, GW_R_EVENT_STORE_UNAVAILABLE,
				   "the replay could not be kept");
			break;
		}
		ndx_http_resp_json(j->resp, 200,
				   json_pack("{s:s,s:s,s:s}", "replayed", j->id, "subscriber",
					     j->purpose, "status", "queued"));
		ev_answer(j);
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
					ps->next_at_ms = ev_now_ms() + delay;
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
	ev_job_free(j);
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
				ev_refuse_job(j, GW_R_CANNOT_SIGN, "the event could not be signed");
				ev_job_free(j);
				continue;
			}
			pp = &j->next;
			continue;
		}
		/* RECEIVE: off the list, to the message log first. */
		*pp = j->next;
		j->receipt_sig = sig;
		if (!sig) {
			ev_refuse_job(j, GW_R_CANNOT_SIGN, "the receipt could not be signed");
			ev_job_free(j);
			continue;
		}
		if (!(j->log_path = ev_event_path(j->name))) {
			ev_refuse_job(j, GW_R_INTERNAL, "out of memory");
			ev_job_free(j);
			continue;
		}
		ev_fill_record(&j->rec, NDX_MSGLOG_CONSUMER, &j->e, j->client, j->purpose,
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
		ev_schedule(ev);
	if (ev->push_due && !atomic_load(&ev->stopping))
		ev_schedule_pushes(ev);
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
			 ev_hash_b64(e->hash, b64, sizeof b64), "signature", e->signature);
}

static json_t *delivery_json(const struct gw_delivery_view *d)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:s}", "subscriber", d->client, "purpose",
			 d->purpose, "state", gw_delivery_state_name(d->state), "event", d->name,
			 "attempts", (json_int_t)d->attempts, "next_at_ms",
			 (json_int_t)d->next_at_ms, "updated_ms", (json_int_t)d->updated_ms,
			 "last_error", d->last_error);
}

void ev_reply_query(struct gw_events *ev, struct job *j)
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
		ev_refuse_job(j, GW_R_UNKNOWN_EVENT, "no event %s for this client", j->id);
	else if (rc != NDX_OK || !o)
		ev_refuse_job(j, GW_R_EVENT_STORE_UNAVAILABLE, "the event store cannot be read");
	else {
		ndx_http_resp_json(j->resp, 200, o);
		o = NULL;
		ev_answer(j);
	}
	json_decref(o);
}

void ev_on_tick(void *arg)
{
	struct gw_events *ev = arg;

	ev->scan_due = true;
	ev->push_due = true;
}

void ev_attempted(struct gw_events *ev, struct job *j)
{
	int64_t now = ev_now_ms(), first = j->first_attempt_ms ? j->first_attempt_ms : now, delay_s,
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
	int rc;

	*out = NULL;
	if (!ev) {
		snprintf(err, errcap, "out of memory");
		return NDX_ENOMEM;
	}
	ev->g = g;
	ev->tail = &ev->head;
	pthread_rwlock_init(&ev->schema_lock, NULL);
	ev->tick.fn = ev_on_tick;
	ev->tick.arg = ev;
	rc = gw_evstore_open(g->cfg->events_path, &ev->store, err, errcap);
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
			pthread_setname_np(ev->thread, "gw-events");
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
	pthread_rwlock_destroy(&ev->schema_lock);
	free(ev);
}

void gw_events_backlog(struct gw_events *ev, uint64_t *queued, uint64_t *dead,
		       uint64_t *unacked)
{
	*queued = ev ? atomic_load(&ev->queued) : 0;
	*dead = ev ? atomic_load(&ev->dead) : 0;
	*unacked = ev ? atomic_load(&ev->inbox_unacked) : 0;
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
