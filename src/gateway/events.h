/* Events: live data between members (events.c, events_ports.c,
 * events_out.c; the model for agency developers in docs/events.md, the
 * wire format in docs/protocol.md "Events").
 *
 * A provider system publishes an event of one of its service's event types
 * to its own gateway (consumer port, POST /e1/{serviceId}/{name}); the
 * gateway checks it, validates the payload against the type's JSON Schema,
 * signs it and keeps it in its outbox (evstore.h) with one delivery per
 * subscription of the global configuration, and acknowledges only once
 * that is durable. It then delivers each over mutual TLS to the
 * subscriber's gateway (gateway port, POST /e1/deliver), which verifies,
 * logs and keeps it in its inbox for the subscriber system to pull
 * (GET /e1/inbox) and acknowledge, and answers with a signed receipt that
 * the publishing gateway logs. Both message logs hold the delivery like an
 * exchange. Failed deliveries are retried with exponential back-off per
 * subscription, in order per subscriber, event type and subject, and end
 * in a dead-letter list (GET /e1/dead) from which the publisher replays
 * them.
 *
 * One thread owns the store: its own event loop, where the writes of one
 * turn share one transaction (one fsync) and the hashes of one turn one
 * batch signature. The HTTP ports hand it their requests, deferred
 * (ndx_http_defer); deliveries run on the exchange loops' libcurl multi
 * handles (gwloop.h). */
#ifndef NDX_GATEWAY_EVENTS_H
#define NDX_GATEWAY_EVENTS_H

#include <stdint.h>

#include <stdbool.h>

#include "ndx/httpd.h"

struct gw_ctx;
struct gw_events;

/* Opens data_dir/events.db and starts the events thread. Needs g->cfg,
 * g->state, g->log and g->loops. NDX_OK with *out set, or an error with
 * err set. */
int gw_events_start(struct gw_ctx *g, struct gw_events **out, char *err, size_t errcap);
/* Stops taking new work, finishes what is queued (answers every deferred
 * request), stops the thread. Deliveries still in flight stay queued in the
 * store and go again after the next start. Call after the ports have
 * drained and before the exchange loops stop. Accepts NULL. */
void gw_events_stop(struct gw_events *ev);
/* Stops (if not yet) and frees. Accepts NULL. */
void gw_events_free(struct gw_events *ev);

/* The consumer port's /e1/ requests (publish, inbox, ack, status, dead
 * letters), from the client systems of this gateway. tls: the TLS
 * consumer port. */
void gw_events_consumer(struct gw_ctx *g, const struct ndx_http_req *req,
			struct ndx_http_resp *resp, bool tls);
/* The events part of /metrics (Prometheus text, malloc'd; NULL when out of
 * memory): the store's counts as of the events thread's last turn and the
 * counters since start. Thread-safe. */
char *gw_events_metrics(struct gw_events *ev);
/* The outbox's and inbox's backlog as the metrics count them: deliveries
 * queued, given up (dead), inbox events unacknowledged. Zeros without
 * events. */
void gw_events_backlog(struct gw_events *ev, uint64_t *queued, uint64_t *dead,
		       uint64_t *unacked);

/* The gateway port's POST /e1/deliver, from another member's gateway. */
void gw_events_deliver(struct gw_ctx *g, const struct ndx_http_req *req,
		       struct ndx_http_resp *resp);

#endif
