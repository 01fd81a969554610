/* The gateway's event store (evstore.c): the outbox of the events this
 * gateway's provider systems publish, with one delivery per subscription,
 * and the inbox of the events delivered to this gateway's subscriber
 * systems. One SQLite database, data_dir/events.db, opened through
 * ndx/sqlstore.h (WAL, synchronous=FULL: what a commit returned is on the
 * disk, so an acknowledged publish or receipt survives kill -9); or, when
 * the gateway config's events.store is a postgresql:// connection string,
 * a schema of a PostgreSQL database (evstore_pg.c, the same tables and
 * guarantees, shared by the gateway nodes of one member: gw_evstore_claim).
 *
 * Synchronous and single-threaded by design: the gateway's events thread
 * (events.c) owns the store and is the only caller, and groups the work of
 * one loop turn into one transaction (gw_evstore_begin ... commit), so one
 * fsync covers every publish of the turn. Every function but open/close
 * must run inside a transaction the caller began, except the read-only
 * ones, which may run either way. The model: docs/events.md. */
#ifndef NDX_GATEWAY_EVSTORE_H
#define NDX_GATEWAY_EVSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gwconfig.h"
#include "ndx/hash.h"

struct gw_evstore;

/* One event as published: the same fields in the outbox and the inbox. */
struct gw_event {
	int64_t seq;              /* the store's own order (outbox or inbox); set by add */
	char id[GW_UUID_LEN];     /* the event's id, given by the publishing gateway */
	const char *service;      /* canonical service id the event type belongs to */
	const char *name;         /* the event type's name */
	const char *publisher;    /* the publishing subsystem (X-Road-Client of the publish) */
	const char *subject;      /* the data subject, "" when the service is not personal */
	int64_t time_ms;          /* when the publishing gateway accepted it */
	const uint8_t *payload;   /* the JSON payload as published */
	size_t payload_len;
	uint8_t hash[NDX_SHA256_LEN]; /* the event hash (docs/protocol.md "Events") */
	const char *signature;    /* the publishing gateway's signature object over hash */
};

/* Where one delivery of one outbox event to one subscriber stands. */
enum gw_delivery_state {
	GW_DELIVERY_QUEUED,    /* not yet taken by the subscriber's gateway */
	GW_DELIVERY_DELIVERED, /* the subscriber's gateway holds it durably (signed receipt) */
	GW_DELIVERY_DEAD,      /* the retry budget ran out: in the dead-letter list */
};
/* "queued", "delivered", "dead". */
const char *gw_delivery_state_name(enum gw_delivery_state s);

/* path: a file, or a postgresql:// connection string (its password in a
 * password file, never in the string: refused).
 * Creates the file or the schema's tables when missing, applies the schema migrations. NDX_OK with
 * *out set, or an error with err (errcap bytes) explaining it. */
int gw_evstore_open(const char *path, struct gw_evstore **out, char *err, size_t errcap);
/* Accepts NULL. Rolls back a transaction still open. */
void gw_evstore_close(struct gw_evstore *s);

/* One write transaction (BEGIN IMMEDIATE). commit returns NDX_OK once the
 * transaction is durable, or NDX_EDB (then it has been rolled back). */
int gw_evstore_begin(struct gw_evstore *s);
int gw_evstore_commit(struct gw_evstore *s);
void gw_evstore_rollback(struct gw_evstore *s);

/* ---- outbox (the publishing gateway) ---------------------------------- */

/* Adds ev to the outbox and sets ev->seq (1, 2, 3 ...). NDX_EEXIST when
 * an event of this id is already there. */
int gw_evstore_publish(struct gw_evstore *s, struct gw_event *ev);
/* Adds the delivery of outbox event seq to subscriber client (a subsystem
 * id; purpose "" when none), state queued, due at next_at_ms. NDX_EEXIST
 * for the same (seq, client) twice. */
int gw_evstore_add_delivery(struct gw_evstore *s, int64_t seq, const char *client,
			    const char *purpose, int64_t next_at_ms);

/* A delivery that is due, with its event (strings and payload owned by the
 * list; gw_evstore_due_free frees it). */
struct gw_due {
	struct gw_event ev;
	const char *client;
	const char *purpose;
	int attempts;            /* made so far */
	int64_t first_attempt_ms; /* 0 before the first */
};
/* Up to max queued deliveries due at now_ms (next_at_ms <= now_ms), in
 * outbox order, keeping the order per subscriber, event type and subject:
 * a delivery is left out while an earlier queued delivery of the same
 * (client, service, name, subject) exists, due or not (dead ones do not
 * hold later ones back). Also leaves out those whose (seq, client) is in
 * skip (nskip pairs; the deliveries the caller has in flight). *out is
 * NULL when *n is 0. Read-only. */
int gw_evstore_due(struct gw_evstore *s, int64_t now_ms, size_t max,
		   const int64_t *skip_seq, const char *const *skip_client, size_t nskip,
		   struct gw_due **out, size_t *n);
void gw_evstore_due_free(struct gw_due *list, size_t n);
/* Takes the deliveries of a due list (*n of them) for this process to make:
 * keeps in list, in order, those it could claim, frees the strings of the
 * others and sets *n to how many are kept (gw_evstore_due_free(list, *n)
 * then frees the list). On SQLite every one is kept (one events thread
 * owns the file). On PostgreSQL, where several gateway nodes of a member
 * may share the store, a delivery is claimed when no other process holds
 * it and, read again, it is still due at now_ms and its group's head; the
 * claim lasts until the commit of its attempt (gw_evstore_attempted) or
 * the end of the process's session (killed: the others may take it at
 * once). Outside a transaction. On failure *n is 0, every entry's strings
 * freed. */
int gw_evstore_claim(struct gw_evstore *s, struct gw_due *list, size_t *n, int64_t now_ms);
/* The outbox event of this id as a list of one (client and purpose ""),
 * for comparing a repeated publish: NDX_ENOTFOUND when none. Read-only. */
int gw_evstore_outbox_get(struct gw_evstore *s, const char *id, struct gw_due **out);
/* The earliest next_at_ms of a queued delivery, or INT64_MAX when none. Read-only. */
int gw_evstore_next_due(struct gw_evstore *s, int64_t *next_at_ms);

/* Records an attempt at delivery (seq, client): attempts + 1, the error
 * ("" when none), first_attempt_ms set on the first one, and the new state:
 * queued again at next_at_ms, delivered (receipt: the subscriber gateway's
 * signature object over the receipt hash, kept), or dead. NDX_ENOTFOUND
 * when there is no such delivery. */
int gw_evstore_attempted(struct gw_evstore *s, int64_t seq, const char *client,
			 enum gw_delivery_state state, int64_t now_ms, int64_t next_at_ms,
			 const char *error, const char *receipt);
/* Puts a dead delivery back in the queue, due now, its attempts reset to 0
 * (the operator's replay from the dead-letter list). NDX_ENOTFOUND when
 * (seq, client) is not dead. */
int gw_evstore_replay(struct gw_evstore *s, int64_t seq, const char *client, int64_t now_ms);

/* One delivery as the status and dead-letter views show it. */
struct gw_delivery_view {
	int64_t seq;
	char id[GW_UUID_LEN];
	const char *service, *name, *subject, *client, *purpose;
	enum gw_delivery_state state;
	int attempts;
	int64_t published_ms, next_at_ms, updated_ms;
	const char *last_error;  /* "" when none */
};
/* The deliveries of the outbox event of this id (in subscriber order), or
 * the dead ones (all events, oldest first, after seq after_seq, up to
 * max). Lists owned by the caller: gw_evstore_views_free. NDX_ENOTFOUND
 * from deliveries_of when no outbox event has this id; *publisher then
 * untouched. Read-only. */
int gw_evstore_deliveries_of(struct gw_evstore *s, const char *id, char **publisher,
			     struct gw_delivery_view **out, size_t *n);
int gw_evstore_dead(struct gw_evstore *s, int64_t after_seq, size_t max,
		    struct gw_delivery_view **out, size_t *n);
void gw_evstore_views_free(struct gw_delivery_view *list, size_t n);

/* ---- inbox (the subscribing gateway) ------------------------------------ */

/* Stores ev delivered for subscriber client (purpose "" when none) and sets
 * ev->seq to its inbox order, unless the inbox already holds this (id,
 * client): then *duplicate is true and ev->seq is the earlier entry's. */
int gw_evstore_receive(struct gw_evstore *s, struct gw_event *ev, const char *client,
		       const char *purpose, bool *duplicate);

/* One inbox entry as the subscriber system pulls it. */
struct gw_inbox_entry {
	struct gw_event ev;       /* strings and payload owned by the list */
	const char *client, *purpose;
	int64_t received_ms;
	bool acknowledged;
};
/* Up to max entries of client with inbox seq > after_seq, in inbox order;
 * with unacked_only, only those not acknowledged. Read-only. */
int gw_evstore_inbox(struct gw_evstore *s, const char *client, int64_t after_seq, size_t max,
		     bool unacked_only, struct gw_inbox_entry **out, size_t *n);
void gw_evstore_inbox_free(struct gw_inbox_entry *list, size_t n);
/* The subscriber system acknowledges event id: NDX_OK (also when it was
 * already acknowledged), NDX_ENOTFOUND when client's inbox has no such
 * event. */
int gw_evstore_ack(struct gw_evstore *s, const char *client, const char *id, int64_t now_ms);
/* The inbox entry of (id, client) for the status view: NDX_ENOTFOUND when
 * none. *out owned by the caller (gw_evstore_inbox_free(out, 1)). Read-only. */
int gw_evstore_inbox_entry(struct gw_evstore *s, const char *client, const char *id,
			   struct gw_inbox_entry **out);

/* Counts for /metrics: queued, delivered and dead deliveries in the outbox,
 * and unacknowledged entries in the inbox. Read-only. */
struct gw_evstore_counts {
	uint64_t queued, delivered, dead, inbox_unacked;
};
int gw_evstore_counts(struct gw_evstore *s, struct gw_evstore_counts *c);

#endif
