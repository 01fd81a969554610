/* What one calling member may cost a provider gateway (docs/security.md
 * T35): a budget of refusals per member, refilled at a steady rate. A
 * member whose requests keep being refused (no grant, bad signatures,
 * replays, unknown services) uses up its budget and is then turned away at
 * the door, before any signature is verified or any record is written,
 * until the budget refills; other members are not touched. Fixed memory:
 * members share the slots of a hash table, so in the worst case two members
 * share one budget. Thread-safe. Self-contained (no gateway.h) so that the
 * unit test links it alone. */
#ifndef NDX_GATEWAY_PEERLIMIT_H
#define NDX_GATEWAY_PEERLIMIT_H

#include <stdbool.h>
#include <stdint.h>

/* Defaults of limits.refusals_per_s and limits.refusal_burst. */
#define GW_REFUSALS_PER_S_DEFAULT 20u
#define GW_REFUSAL_BURST_DEFAULT 200u

struct gw_peerlimit;

/* A budget of burst refusals per member, refilled at per_s a second (both
 * >= 1). NULL when out of memory or an argument is 0. */
struct gw_peerlimit *gw_peerlimit_new(unsigned per_s, unsigned burst);

/* Changes the rates (SIGHUP); budgets keep what they hold, capped at the
 * new burst. Arguments >= 1. */
void gw_peerlimit_set(struct gw_peerlimit *pl, unsigned per_s, unsigned burst);

/* True when member (its canonical id) has at least one refusal left at
 * now_ms (milliseconds on a monotonic clock). Takes nothing. */
bool gw_peerlimit_allows(struct gw_peerlimit *pl, const char *member, int64_t now_ms);

/* Takes one refusal from member's budget at now_ms (never below zero). */
void gw_peerlimit_charge(struct gw_peerlimit *pl, const char *member, int64_t now_ms);

/* Seconds until member has a refusal again (0 when it has one now). */
unsigned gw_peerlimit_retry_after(struct gw_peerlimit *pl, const char *member, int64_t now_ms);

/* Accepts NULL. */
void gw_peerlimit_free(struct gw_peerlimit *pl);

#endif
