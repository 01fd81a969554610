/* Events: what leaves the gateway (events_int.h): deliveries to the
 * subscribers' gateways over mutual TLS, and pushes to the subscriber
 * systems' endpoints, both run by the exchange loops' libcurl handles; each
 * outcome goes back to the events thread as a job. */
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
#include "opmon.h"
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

/* ---- deliveries ---------------------------------------------------------------- */

/* A delivery with its operational monitoring times (opmon.h; Unix ms, 0 =
 * did not happen): allocated here and freed as its first member, so that
 * the struct the events files share stays as it is. */
struct timed_delivery {
	struct delivery d;
	int64_t t_in, t_out, t_resp_in;
};

static struct timed_delivery *timed(struct delivery *d)
{
	return (struct timed_delivery *)d;
}

/* One record per delivery attempt's outcome (role event_out): the
 * subscriber as client, the event's service, method EVENT, the event's
 * name as the path template. */
static void record_opmon(struct delivery *d, bool delivered)
{
	struct timed_delivery *t = timed(d);
	struct gw_opmon_in in = { 0 };
	char cgw[NDX_ID_TEXT_MAX + 64], name[GW_OPMON_PATH_CAP];
	const struct gw_event *e = &d->due->ev;

	if (!d->ev->g->opmon)
		return;
	in.role = GW_OPMON_EVENT_OUT;
	in.message_id = e->id;
	in.client = d->due->client;
	in.service = e->service;
	if (d->call.gateway && gw_gateway_name(d->call.gateway->member, d->call.gateway->code, cgw,
					       sizeof cgw) == NDX_OK)
		in.client_gateway = cgw;
	in.service_gateway = d->ev->g->name;
	in.method = "EVENT";
	gw_opmon_redact_path(e->name, name, sizeof name);
	in.path_template = name;
	in.request_in = t->t_in;
	in.request_out = t->t_out ? t->t_out : GW_OPMON_NONE;
	in.response_in = t->t_resp_in ? t->t_resp_in : GW_OPMON_NONE;
	in.response_out = gw_opmon_now_ms();
	in.request_size = (int64_t)e->payload_len;
	in.response_size = t->t_resp_in ? (int64_t)d->r.len : GW_OPMON_NONE;
	in.success = delivered;
	in.error_type = delivered ? NULL : d->r.hdr[GW_H_XROAD_ERROR];
	in.status = (int)d->r.status;
	in.peer_ms = t->t_out && t->t_resp_in ? t->t_resp_in - t->t_out : GW_OPMON_NONE;
	in.provider_ms = GW_OPMON_NONE;
	in.purpose = d->due->purpose;
	in.personal = e->subject && e->subject[0];
	gw_opmon_record(d->ev->g->opmon, &in);
}

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

	record_opmon(d, delivered);
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
		if (!j->client || !j->purpose || !ev_post(ev, j))
			ev_job_free(j);
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

	timed(d)->t_resp_in = gw_opmon_now_ms();
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
	if (!(d->log_path = ev_event_path(d->due->ev.name))) {
		snprintf(d->error, sizeof d->error, "out of memory");
		report(d, false);
		return;
	}
	ev_fill_record(&d->rec, NDX_MSGLOG_PROVIDER, &d->due->ev, d->due->client, d->due->purpose,
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

	timed(d)->t_out = gw_opmon_now_ms();
	gw_peer_start(&d->call, &d->r);
}

static int add_header(struct curl_slist **l, const char *name, const char *v)
{
	return v && v[0] ? gw_slist_add(l, name, v) : NDX_OK;
}

/* The headers a delivery and a push both carry (protocol.md "Events"):
 * the event's fields, the subscriber and purpose, the publisher's
 * signature; JSON, and no 100-continue round trip. */
static int event_headers(struct curl_slist **l, const struct gw_event *e, const char *client,
			 const char *purpose)
{
	char time_text[24];

	snprintf(time_text, sizeof time_text, "%" PRId64, e->time_ms);
	return add_header(l, "Ndx-Event-Id", e->id) ||
	       add_header(l, "Ndx-Event-Service", e->service) ||
	       add_header(l, "Ndx-Event-Name", e->name) ||
	       add_header(l, "Ndx-Event-Publisher", e->publisher) ||
	       add_header(l, "Ndx-Event-Subject", e->subject) ||
	       add_header(l, "Ndx-Event-Time", time_text) ||
	       add_header(l, "Ndx-Event-Client", client) ||
	       add_header(l, "Ndx-Event-Purpose", purpose) ||
	       add_header(l, "Ndx-Signature", e->signature) ||
	       add_header(l, "Content-Type", "application/json") ||
	       gw_slist_add(l, "Expect", "") ? NDX_ENOMEM : NDX_OK;
}

static bool start_delivery(struct gw_events *ev, struct delivery *d)
{
	const struct gw_event *e = &d->due->ev;

	gw_state_acquire(ev->g->state, &d->view);
	gw_member_of(d->due->client, d->member, sizeof d->member);
	if (event_headers(&d->headers, e, d->due->client, d->due->purpose) != NDX_OK)
		return false;
	clock_gettime(CLOCK_MONOTONIC, &d->t0);
	timed(d)->t_in = gw_opmon_now_ms();
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
void ev_schedule(struct gw_events *ev)
{
	int64_t now = ev_now_ms(), next = INT64_MAX, wait;
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
			/* Another node of the member on the same PostgreSQL store
			 * may have read the same heads: each is made by the one
			 * that claims it (gw_evstore_claim; on failure n is 0). */
			if (n && gw_evstore_claim(ev->store, due, &n, now) != NDX_OK)
				n = 0;
		}
		free(skip_seq);
		free(skip_client);
	}
	for (size_t i = 0; i < n; i++) {
		struct inflight_key *key = &ev->inflight[ev->ninflight];

		d = calloc(1, sizeof(struct timed_delivery));
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
		if (!j->client || !ev_post(p->ev, j))
			ev_job_free(j); /* stays unacknowledged: pushed again after a restart */
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
	char b64[64], seq_text[24];

	if (!p) {
		gw_evstore_inbox_free(entry, 1);
		return false;
	}
	p->ev = ev;
	p->entry = entry;
	snprintf(seq_text, sizeof seq_text, "%" PRId64, e->seq);
	if (!(p->svc.id = strdup(entry->client)) || !(p->svc.backend = strdup(a->push_url)) ||
	    event_headers(&p->headers, e, entry->client, entry->purpose) != NDX_OK ||
	    add_header(&p->headers, "Ndx-Event-Seq", seq_text) ||
	    add_header(&p->headers, "Ndx-Event-Hash", ev_hash_b64(e->hash, b64, sizeof b64))) {
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
void ev_schedule_pushes(struct gw_events *ev)
{
	struct gw_view v;
	int64_t now = ev_now_ms();

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
