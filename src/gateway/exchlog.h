/* The gateway's use of the message log (exchlog.c): opening it, appending
 * an exchange's record, its head, and the replay cache's refill. */
#ifndef NDX_GATEWAY_EXCHLOG_H
#define NDX_GATEWAY_EXCHLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "gwconfig.h"
#include "ndx/httpd.h"
#include "ndx/msglog.h"

/* Refills the replay cache (replay.h) after a start from the exchanges the
 * provider accepted in the last window_s seconds, as the message log
 * holds them, so that a restart does not reopen the replay window.
 * *added is how many were added. Returns NDX_OK, NDX_ETOOBIG (the cache
 * filled up first), or the log's error. */
struct gw_replay;
int gw_replay_seed(struct gw_replay *rc, struct ndx_msglog *log, unsigned window_s,
		   size_t *added);

/* Creates data_dir when missing and opens cfg->msglog_path with the signing
 * key (recovering what a crash left). NDX_OK with *out set, or an error
 * explained in err. */
int gw_log_open(const struct gw_config *cfg, struct ndx_msglog **out, char *err, size_t errcap);
/* ndx_msglog_append, plus a stderr line when the log starts or stops
 * failing (not one per request). Returns NDX_OK once rec is durable; on
 * any failure the exchange must be answered 503 Server.LogUnavailable. */
int gw_log_append(struct ndx_msglog *log, const struct ndx_msglog_record *rec);
/* The same without waiting: done(ud, rc) is called once rec is durable
 * (rc NDX_OK) or has failed, on the log's writer thread, or at once on the
 * calling thread when it cannot even be queued. rec and its strings live
 * until then. */
void gw_log_append_async(struct ndx_msglog *log, const struct ndx_msglog_record *rec,
			 void (*done)(void *ud, int rc), void *ud);
/* An exchange's record: as gw_log_append_async, except when this exchange
 * is the only one the gateway has in flight (gw_metrics_in_flight) and the
 * log's writer is idle. Then rec is written and committed on the calling
 * thread and done runs there before this returns
 * (ndx_msglog_append_inline): a loop with nothing else to do waits for
 * the disk itself instead of sleeping until the writer thread wakes it. */
void gw_log_append_exchange(struct ndx_msglog *log, const struct ndx_msglog_record *rec,
			    void (*done)(void *ud, int rc), void *ud);
/* True when the last append failed and that was less than
 * GW_LOG_FAILING_HOLD_S before now (/healthz: not ready). */
#define GW_LOG_FAILING_HOLD_S 10
bool gw_log_failing(time_t now);
/* GET /admin/log/head: the latest signed tree head as JSON. */
void gw_log_head(struct ndx_msglog *log, const struct gw_config *cfg, struct ndx_http_resp *resp);
/* The path a log record holds: rest, then '?' and query when query is not
 * empty. malloc'd (caller frees); NULL when out of memory. */
char *gw_log_path(const char *rest, const char *query);
/* The same, allocated from an exchange's arena (gwarena.h); never NULL. */
struct gw_arena;
char *gw_log_path_in(struct gw_arena *a, const char *rest, const char *query);
/* The member id of a canonical client id (its first three parts) into
 * out (cap bytes, cut to fit). */
void gw_member_of(const char *client, char *out, size_t cap);
/* Milliseconds between two CLOCK_MONOTONIC readings. */
int64_t gw_elapsed_ms(const struct timespec *t0);

#endif
