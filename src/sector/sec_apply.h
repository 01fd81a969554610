/* The events a sector applies to its own records (docs/sectors.md
 * "Events"): the population registry marks a citizen deceased, social
 * insurance stops the participant, tax closes the personal tax file; each
 * idempotently, on SQLite and on PostgreSQL alike: the event's id is
 * recorded in event_applied in the same
 * transaction as the change, so a second delivery of the same event (after
 * a crash between the commit and the acknowledgement) changes nothing, and
 * each change is itself conditional, so even a republished event (same
 * fact, another id) leaves the record as it was. */
#ifndef NDX_SECTOR_APPLY_H
#define NDX_SECTOR_APPLY_H

#include <sqlite3.h>
#include <stddef.h>

#include "schema.h"

enum apply_result {
	APPLY_CHANGED,   /* committed: the record changed */
	APPLY_UNCHANGED, /* committed: nothing to change (already so, or no such record) */
	APPLY_SEEN,      /* this event id was applied before: nothing done */
	APPLY_INVALID,   /* the payload cannot be applied (logged by the caller) */
	APPLY_IGNORED,   /* an event this sector has no rule for */
	APPLY_FAILED,    /* the store failed: retry later */
};

/* Whether def applies any event (so serve runs a subscriber). */
int apply_sector_subscribes(const struct sector_def *def);

/* Applies event name (id, JSON payload) to the sector def's database db
 * (outbox_tables must have run), in one transaction. why (cap bytes)
 * says what happened, for the log; it never holds a PIN. */
enum apply_result apply_event(sqlite3 *db, const struct sector_def *def, const char *id,
			      const char *name, const char *payload, char *why, size_t cap);
/* The same, the events the change publishes (a birth's citizen-registered)
 * added to the outbox as client (NULL: agency/sector, e.g.
 * VN/GOV/BCA/population) in the same transaction; *published (may be NULL)
 * counts them once committed. */
enum apply_result apply_event_as(sqlite3 *db, const struct sector_def *def, const char *client,
				 const char *id, const char *name, const char *payload,
				 int *published, char *why, size_t cap);

/* apply_event_as on one PostgreSQL connection (store_pg.h, schema
 * version 3: event_applied beside the tables), the change, the record of
 * the event and its outbox rows in one transaction under the schema's
 * write lock (store_pg_begin), so that an event delivered to two
 * processes on one schema, or again after a kill -9, is applied once. */
struct store_pg;
enum apply_result apply_event_pg(struct store_pg *pg, const struct sector_def *def,
				 const char *client, const char *id, const char *name,
				 const char *payload, int *published, char *why, size_t cap);

struct apply_subscriber;

struct outbox_publisher;

/* Starts the subscriber thread of sector def: pulls the inbox of client
 * from gateway_url (ndx/evclient.h), applies each event on its own
 * connection to db_path (a SQLite file or a postgresql:// connection
 * string) and acknowledges what is committed; an applied
 * event that published one pokes publisher (may be NULL). NDX_OK,
 * NDX_EDB, NDX_ENOMEM, NDX_EIO. */
int apply_subscriber_start(const char *db_path, const struct sector_def *def,
			   const char *gateway_url, const char *client, const char *prog,
			   long poll_ms, struct outbox_publisher *publisher,
			   struct apply_subscriber **out);
/* Stops and frees. Accepts NULL. */
void apply_subscriber_stop(struct apply_subscriber *s);

#endif
