/* The gateway's event store on PostgreSQL (evstore_pg.c): evstore.h's
 * functions for a store opened from a postgresql:// connection string.
 * evstore.c checks the arguments and forwards to these; they are not
 * called otherwise. */
#ifndef NDX_GATEWAY_EVSTORE_PG_H
#define NDX_GATEWAY_EVSTORE_PG_H

#include "evstore.h"

struct gw_evpg;

int gw_evpg_open(const char *conninfo, struct gw_evpg **out, char *err, size_t errcap);
void gw_evpg_close(struct gw_evpg *s);
int gw_evpg_begin(struct gw_evpg *s);
int gw_evpg_commit(struct gw_evpg *s);
void gw_evpg_rollback(struct gw_evpg *s);
int gw_evpg_publish(struct gw_evpg *s, struct gw_event *ev);
int gw_evpg_add_delivery(struct gw_evpg *s, int64_t seq, const char *client,
			 const char *purpose, int64_t next_at_ms);
int gw_evpg_due(struct gw_evpg *s, int64_t now_ms, size_t max, const int64_t *skip_seq,
		const char *const *skip_client, size_t nskip, struct gw_due **out, size_t *n);
int gw_evpg_claim(struct gw_evpg *s, struct gw_due *list, size_t *n, int64_t now_ms);
int gw_evpg_outbox_get(struct gw_evpg *s, const char *id, struct gw_due **out);
int gw_evpg_next_due(struct gw_evpg *s, int64_t *next_at_ms);
int gw_evpg_attempted(struct gw_evpg *s, int64_t seq, const char *client,
		      enum gw_delivery_state state, int64_t now_ms, int64_t next_at_ms,
		      const char *error, const char *receipt);
int gw_evpg_replay(struct gw_evpg *s, int64_t seq, const char *client, int64_t now_ms);
int gw_evpg_deliveries_of(struct gw_evpg *s, const char *id, char **publisher,
			  struct gw_delivery_view **out, size_t *n);
int gw_evpg_dead(struct gw_evpg *s, int64_t after_seq, int64_t max,
		 struct gw_delivery_view **out, size_t *n);
int gw_evpg_receive(struct gw_evpg *s, struct gw_event *ev, const char *client,
		    const char *purpose, bool *duplicate);
int gw_evpg_inbox(struct gw_evpg *s, const char *client, int64_t after_seq, int64_t max,
		  bool unacked_only, struct gw_inbox_entry **out, size_t *n);
int gw_evpg_ack(struct gw_evpg *s, const char *client, const char *id, int64_t now_ms);
int gw_evpg_inbox_entry(struct gw_evpg *s, const char *client, const char *id,
			struct gw_inbox_entry **out);
int gw_evpg_counts(struct gw_evpg *s, struct gw_evstore_counts *c);

#endif
