/* The events a sector publishes, kept in a transactional outbox in the
 * sector's own database and drained to its gateway (docs/sectors.md
 * "Events", docs/events.md "Publishing"). A write that records a fact
 * (a death, a birth, a change of permanent residence) adds its event to the
 * table event_outbox in the same transaction as the record, so the event
 * exists exactly when the record does; a publisher thread posts each row to
 * the gateway in order and deletes it only after the gateway's 201, waiting
 * with exponential back-off while the gateway is down or refuses. On
 * SQLite the table is in the sector's file (outbox_tables); on PostgreSQL
 * in the sector's schema (store_pg.h, schema version 2), where several
 * processes on one schema take turns at draining it (an advisory lock,
 * store_pg_outbox_head) so that none publishes an event another is
 * publishing, and the order holds. */
#ifndef NDX_SECTOR_OUTBOX_H
#define NDX_SECTOR_OUTBOX_H

#include <jansson.h>
#include <sqlite3.h>

#include "schema.h"

#define OUTBOX_FIRST_BACKOFF_MS 500
#define OUTBOX_MAX_BACKOFF_MS 30000

/* Creates event_outbox and event_applied (the subscriber's record of the
 * events it applied, sec_apply.h) when missing, on SQLite (the PostgreSQL
 * schema has its outbox from store_pg_open). NDX_OK or NDX_EDB. */
int outbox_tables(sqlite3 *db);

/* Whether writes to t of def publish events (a table the outbox rules
 * name). */
int outbox_table_publishes(const struct sector_def *def, const struct sector_table *t);

/* The events a write to t produces, added to the outbox on db inside the
 * caller's write transaction. old is the record before (NULL for an
 * insert), row the record written (validated), id its key or number.
 * client is the publishing subsystem: the event's service is
 * client/TABLE. *added counts the rows added. NDX_OK, NDX_ENOMEM, NDX_EDB. */
int outbox_on_write(sqlite3 *db, const struct sector_def *def, const struct sector_table *t,
		    const json_t *old, const json_t *row, const char *id, const char *client,
		    int *added);

/* The same on one PostgreSQL connection, inside its store_pg_begin
 * transaction (an applied event's record, sec_apply.c). */
struct store_pg;
int outbox_on_write_pg(struct store_pg *pg, const struct sector_def *def,
		       const struct sector_table *t, const json_t *old, const json_t *row,
		       const char *id, const char *client, int *added);

struct store_conn;

/* A write of one record as the API makes it (api.c) and an officer's
 * correction (sec_worklist.h), so both publish the same events: the row
 * put through store_put (id NULL inserts, else replaces the record id) and,
 * when client is not NULL and writes to t publish, the events the change
 * from the record before to row produces (outbox_on_write), all inside the
 * caller's write transaction on c. newid (cap bytes) gets the record's key
 * or number; *added counts the events queued. NDX_OK, or what store_put
 * or outbox_on_write returned (NDX_ENOTFOUND, NDX_EEXIST, NDX_EDB ...).
 * On either engine: on PostgreSQL the events go to the schema's
 * event_outbox in the transaction of store_begin. */
int outbox_put(struct store_conn *c, const struct sector_def *def, const struct sector_table *t,
	       const char *id, const json_t *row, const char *client, char *newid, size_t cap,
	       int *added);

/* One queued event, as the drain hands it to the publish function. */
struct outbox_event {
	long long seq;
	const char *service, *name, *subject, *payload;
	const char *event_id; /* the UUID it is published under, every attempt the same */
	unsigned attempts;    /* failed attempts so far */
};

/* Publishes one event under ev->event_id: NDX_OK once the gateway kept
 * it (201, or 200 "duplicate": kept by an earlier attempt whose answer
 * was lost); anything
 * else is a failure to retry, with the reason in err. */
typedef int (*outbox_publish_fn)(void *ctx, const struct outbox_event *ev, char *err,
				 size_t errcap);

/* Publishes the due events of the outbox on db in order, oldest first,
 * stopping at the first failure (the order per subject is the order of
 * the outbox). A published row is deleted; a failed one gets its attempt
 * counted, its error kept and its next try set after the back-off
 * min(500 ms * 2^(attempts-1), 30 s). *published counts the events
 * published. *wake_ms is when to drain again: the failed row's next try,
 * or -1 when the outbox is empty. now_ms is the clock (milliseconds).
 * NDX_OK (also when a publish failed), NDX_EDB. */
int outbox_drain(sqlite3 *db, outbox_publish_fn publish, void *ctx, long long now_ms,
		 unsigned *published, long long *wake_ms);

/* Rows still queued (-1 on error). */
long long outbox_pending(sqlite3 *db);

/* outbox_drain and outbox_pending on the connection c of either engine.
 * On PostgreSQL each event is one turn (store_pg_outbox_head): the row
 * is read, published and deleted (or its failure recorded) inside one
 * transaction holding the schema's drain lock; when another process
 * holds it, nothing is drained and *wake_ms is 500 ms ahead. */
int outbox_drain_conn(struct store_conn *c, outbox_publish_fn publish, void *ctx,
		      long long now_ms, unsigned *published, long long *wake_ms);
long long outbox_pending_conn(struct store_conn *c);

/* ---- the publisher thread ------------------------------------------------ */

struct outbox_publisher;

/* Starts a thread draining the outbox of sector def's database at db_path
 * (a SQLite path or a postgresql:// connection string; its own
 * connection) to gateway_url as client. NDX_OK, NDX_EDB, NDX_ENOMEM,
 * NDX_EIO. */
int outbox_publisher_start(const char *db_path, const struct sector_def *def,
			   const char *gateway_url, const char *client, const char *prog,
			   struct outbox_publisher **out);
/* Drains now (after a commit that added events). Accepts NULL. */
void outbox_publisher_poke(struct outbox_publisher *p);
/* Stops and frees. Accepts NULL. */
void outbox_publisher_stop(struct outbox_publisher *p);

#endif
