/* The events the national e-ID receives through its agency's gateway
 * (docs/id.md "Events"): a death-registered event disables the account of
 * the deceased, ends their sessions and revokes their access tokens. Each
 * event is applied once (its id recorded with the change, store.h
 * idstore_event_disable) and acknowledged after the commit. */
#ifndef NDX_ID_EVENTS_H
#define NDX_ID_EVENTS_H

#include <stddef.h>

#include "store.h"

enum eid_apply {
	EID_APPLIED,  /* committed (or nothing to do, or applied before) */
	EID_INVALID,  /* a payload the e-ID cannot use, or an event it has no rule for */
	EID_FAILED,   /* the store failed: retry */
};

/* Applies one event (id, name, JSON payload) to st; why (cap bytes) says
 * what happened, never with a PIN. */
enum eid_apply eid_apply_event(struct idstore *st, const char *id, const char *name,
			       const char *payload, char *why, size_t cap);

struct eid_subscriber;

/* Starts pulling the inbox of client from gateway_url (ndx/evclient.h)
 * and applying it to st (borrowed; must outlive the subscriber). NDX_OK,
 * NDX_ENOMEM, NDX_EINVAL, NDX_EIO. */
int eid_subscriber_start(struct idstore *st, const char *gateway_url, const char *client,
			 long poll_ms, struct eid_subscriber **out);
/* Stops and frees. Accepts NULL. */
void eid_subscriber_stop(struct eid_subscriber *s);

#endif
