/* The queue order of the event store's deliveries (docs/events.md
 * "Delivery"): the deliveries of one group (one subscriber client, one
 * event type, one subject) are made one at a time in the order of their
 * events, so the earliest queued delivery of a group is its head and only
 * a head is due. Adding a delivery, recording an attempt and replaying a
 * dead one keep the head flags; that rule is written here once, over the
 * few statements each engine of the store runs (evstore.c on SQLite,
 * evstore_pg.c on PostgreSQL), each given as a function of struct
 * gw_evqueue_ops. Every function runs inside the caller's transaction. */
#ifndef NDX_GATEWAY_EVSTORE_QUEUE_H
#define NDX_GATEWAY_EVSTORE_QUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include "evstore.h"

/* What an engine runs. Each returns NDX_OK or an error; s is the engine's
 * store. */
struct gw_evqueue_ops {
	/* The earliest queued delivery (*head) of the group that a delivery
	 * of outbox event seq to client would join (for_event), or of the
	 * group of delivery (seq, client); NDX_ENOTFOUND when it has none. */
	int (*group_head)(void *s, bool for_event, int64_t seq, const char *client,
			  int64_t *head);
	int (*set_head)(void *s, int64_t seq, const char *client, int head);
	/* A queued delivery of outbox event seq to client, head as given;
	 * NDX_ENOTFOUND when the outbox has no event seq. */
	int (*insert)(void *s, int64_t seq, const char *client, const char *purpose, int head,
		      int64_t next_at_ms);
	/* The state and head flag of delivery (seq, client); NDX_ENOTFOUND
	 * when there is no such delivery. */
	int (*state)(void *s, int64_t seq, const char *client, int *state, int *head);
	/* An attempt recorded: the state, the head flag, the attempt counted,
	 * its time, the next attempt's, its error ("" none) and, delivered,
	 * the receipt (else NULL: the one held is kept). */
	int (*attempt)(void *s, int64_t seq, const char *client, enum gw_delivery_state state,
		       int head, int64_t now_ms, int64_t next_at_ms, const char *error,
		       const char *receipt);
	/* Dead delivery (seq, client) queued again from its first attempt;
	 * NDX_ENOTFOUND when there is no such delivery or it is not dead. */
	int (*requeue)(void *s, int64_t seq, const char *client, int head, int64_t now_ms);
};

/* gw_evstore_add_delivery, gw_evstore_attempted and gw_evstore_replay's
 * work (evstore.h), on an engine. */
int gw_evqueue_add(const struct gw_evqueue_ops *o, void *s, int64_t seq, const char *client,
		   const char *purpose, int64_t next_at_ms);
int gw_evqueue_attempted(const struct gw_evqueue_ops *o, void *s, int64_t seq,
			 const char *client, enum gw_delivery_state state, int64_t now_ms,
			 int64_t next_at_ms, const char *error, const char *receipt);
int gw_evqueue_replay(const struct gw_evqueue_ops *o, void *s, int64_t seq, const char *client,
		      int64_t now_ms);

#endif
