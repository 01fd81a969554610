/* The provider gateway's replay cache (docs/security.md T9): the signed
 * requests it has accepted within the timestamp window, so that a captured
 * signed request sent again verbatim inside the window is refused (Replay)
 * instead of executed twice. Outside the
 * window the timestamp check refuses it already. Fixed memory, chosen at
 * creation; thread-safe. Self-contained (no gateway.h) so that the unit test
 * links it alone. */
#ifndef NDX_GATEWAY_REPLAY_H
#define NDX_GATEWAY_REPLAY_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define GW_REPLAY_KEY_LEN 32
/* Enough for ~1600 exchanges a second over a 600 s window (2 x the default
 * clock skew); about 24 MB per million entries plus half of that in slack. */
#define GW_REPLAY_DEFAULT_CAPACITY (1024u * 1024u)

struct gw_replay;

/* A cache for at most capacity live entries (>= 1), each kept window_s
 * seconds (>= 1) after it was added. The gateway passes 2 x clock_skew_s +
 * 1: a request stamped up to skew ahead of the clock stays acceptable until
 * 2 x skew after it arrived, so its key must be held that long.
 * Allocates all its memory now. Returns NULL when allocation fails or an
 * argument is out of range. */
struct gw_replay *gw_replay_new(size_t capacity, unsigned window_s);

/* The key of one request: its canonical request hash, which covers what
 * the consumer gateway adds itself (Ndx-Timestamp, a fresh Ndx-Nonce, the
 * provider gateway's name) as well as everything the client sent. Not the
 * client's X-Road-Id alone: PR-REST only recommends unique ids, and a
 * client's honest retry with the same id is signed anew, with a new nonce
 * (issue 15, point 8). The hash is what the message log keeps, so the
 * cache can be rebuilt from it after a restart. */
void gw_replay_key(const uint8_t request_hash[GW_REPLAY_KEY_LEN], uint8_t out[GW_REPLAY_KEY_LEN]);

/* Who an entry is charged to: a hash of the client's member id, so that
 * one member cannot fill the cache for all (gw_replay_set_share). */
#define GW_REPLAY_NO_OWNER UINT32_MAX
uint32_t gw_replay_owner(const char *member);

/* Records key as seen at now, charged to owner (GW_REPLAY_NO_OWNER: to
 * nobody, never refused for a share). Returns
 *   NDX_OK        the key was not held (or had expired): the request may go on;
 *   NDX_EEXIST    the key is held and live: a replay, refuse it;
 *   NDX_EPERM     owner already holds its share of live entries: refuse this
 *                 member's request (Busy), others go on;
 *   NDX_ETOOBIG   the cache holds capacity live entries: refuse the request
 *                 (Busy) - nothing is forgotten early.
 * Thread-safe. */
int gw_replay_check_and_add_owned(struct gw_replay *rc, const uint8_t key[GW_REPLAY_KEY_LEN],
				  uint32_t owner, time_t now);
/* gw_replay_check_and_add_owned for GW_REPLAY_NO_OWNER. */
int gw_replay_check_and_add(struct gw_replay *rc, const uint8_t key[GW_REPLAY_KEY_LEN],
			    time_t now);

/* The most live entries one owner may hold (>= 1; a new cache: capacity,
 * no limit). Owners whose hashes collide share one count. Thread-safe. */
void gw_replay_set_share(struct gw_replay *rc, size_t share);

/* Live entries charged to owner (an upper bound, like gw_replay_count). */
size_t gw_replay_owner_count(struct gw_replay *rc, uint32_t owner);

/* Entries added from now on are kept window_s (>= 1) seconds: a SIGHUP
 * that changes clock_skew_s calls this with the new 2 x skew + 1. Entries
 * already held keep their expiry. Thread-safe. */
void gw_replay_set_window(struct gw_replay *rc, unsigned window_s);

/* Live entries (an upper bound: expired ones not yet swept may count). */
size_t gw_replay_count(struct gw_replay *rc);

/* Accepts NULL. No call may be running. */
void gw_replay_free(struct gw_replay *rc);

#endif
