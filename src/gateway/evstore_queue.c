/* The head flags of the event store's delivery groups (evstore_queue.h),
 * once for both engines. */
#include "evstore_queue.h"

#include "ndx/err.h"

/* Delivery (seq, client), not queued now, is about to join its group's
 * queue (whose earliest is *old, or none): *head tells whether it will be
 * the group's head, and *old the head it displaces (0: none). */
static int joining_head(const struct gw_evqueue_ops *o, void *s, bool for_event, int64_t seq,
			const char *client, int64_t *old, int *head)
{
	int rc = o->group_head(s, for_event, seq, client, old);

	if (rc == NDX_ENOTFOUND) {
		*head = 1;
		*old = 0;
		return NDX_OK;
	}
	*head = rc == NDX_OK && seq < *old;
	if (!*head)
		*old = 0;
	return rc;
}

/* The head that a joining delivery displaced (old, 0 when none) stops being one. */
static int joined(const struct gw_evqueue_ops *o, void *s, int64_t old, const char *client)
{
	return old ? o->set_head(s, old, client, 0) : NDX_OK;
}

/* Delivery (seq, client), the head of its group, has left the queue: the
 * next queued delivery of the group, if any, becomes the head. */
static int left(const struct gw_evqueue_ops *o, void *s, int64_t seq, const char *client)
{
	int64_t next;
	int rc = o->group_head(s, false, seq, client, &next);

	if (rc == NDX_ENOTFOUND)
		return NDX_OK;
	return rc ? rc : o->set_head(s, next, client, 1);
}

int gw_evqueue_add(const struct gw_evqueue_ops *o, void *s, int64_t seq, const char *client,
		   const char *purpose, int64_t next_at_ms)
{
	int64_t old;
	int head, rc;

	if ((rc = joining_head(o, s, true, seq, client, &old, &head)) ||
	    (rc = o->insert(s, seq, client, purpose, head, next_at_ms)))
		return rc; /* NDX_ENOTFOUND: no outbox event seq */
	return joined(o, s, old, client);
}

int gw_evqueue_attempted(const struct gw_evqueue_ops *o, void *s, int64_t seq,
			 const char *client, enum gw_delivery_state state, int64_t now_ms,
			 int64_t next_at_ms, const char *error, const char *receipt)
{
	int64_t old = 0;
	int was, head, rc;

	if ((rc = o->state(s, seq, client, &was, &head)))
		return rc;

	bool leaving = was == GW_DELIVERY_QUEUED && state != GW_DELIVERY_QUEUED && head;
	bool joining = was != GW_DELIVERY_QUEUED && state == GW_DELIVERY_QUEUED;

	if (state != GW_DELIVERY_QUEUED)
		head = 0;
	if (joining && (rc = joining_head(o, s, false, seq, client, &old, &head)))
		return rc;
	if ((rc = o->attempt(s, seq, client, state, head, now_ms, next_at_ms, error ? error : "",
			     state == GW_DELIVERY_DELIVERED ? receipt : NULL)))
		return rc;
	if (leaving)
		return left(o, s, seq, client);
	return joining ? joined(o, s, old, client) : NDX_OK;
}

int gw_evqueue_replay(const struct gw_evqueue_ops *o, void *s, int64_t seq, const char *client,
		      int64_t now_ms)
{
	int64_t old;
	int head, rc;

	if ((rc = joining_head(o, s, false, seq, client, &old, &head)) ||
	    (rc = o->requeue(s, seq, client, head, now_ms)))
		return rc; /* NDX_ENOTFOUND: no such delivery, or not dead */
	return joined(o, s, old, client);
}
