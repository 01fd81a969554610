/* The gateway's event loops (gwloop.c): one thread per CPU
 * (limits.threads), each an ndx_loop (ndx/loop.h). The HTTP ports run on
 * them (httpd.h, cfg.loop), where requests are read and checked; each
 * exchange that goes on is handed to the next loop in turn, which runs the
 * waiting parts: its upstream call, to a provider gateway as a stream of
 * the loop's HTTP/2 client (peer_h2.h), else through one libcurl multi
 * handle whose sockets and timer sit in the loop (or, to a "unix:" provider system
 * or an "http://" one named by address, through ndx's own HTTP/1.1 client
 * on the loop: backend_http1.h), and its signature, queued during a
 * loop turn and signed together with the turn's others as one batch before
 * the loop sleeps (so batches grow with load by themselves). The message
 * log's writer thread does the durable writes (ndx_msglog_append_async),
 * except the record of an exchange alone in flight, which its loop commits
 * itself (gw_log_append_exchange).
 * docs/gateway.md "Threads". */
#ifndef NDX_GATEWAY_GWLOOP_H
#define NDX_GATEWAY_GWLOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xfer.h"
#include "ndx/hash.h"
#include "ndx/key.h"
#include "ndx/loop.h"

struct gw_loop;
struct gw_loops;

/* Starts n loops (n >= 1: limits.threads, which gwconfig.c has resolved
 * from 0 to the CPUs this process may run on), each on its own thread.
 * NDX_OK with *out set, or NDX_EINVAL / NDX_ENOMEM / NDX_EIO with err set. */
int gw_loops_start(unsigned n, struct gw_loops **out, char *err, size_t errcap);
/* The loop for the next exchange (round robin). Thread-safe. */
struct gw_loop *gw_loops_next(struct gw_loops *ls);
unsigned gw_loops_count(const struct gw_loops *ls);
/* The event loop of loop i % count, to run an HTTP port on (httpd.h: the
 * port's handlers then run on that loop's thread). */
struct ndx_loop *gw_loops_event_loop(struct gw_loops *ls, unsigned i);
/* Finishes what is in flight (transfers still running are failed with
 * GW_XFER_FAILED, queued signatures are made), stops and joins the
 * threads. Call after the ports have drained; the loops stay allocated, so
 * that the ports that ran on them can still be stopped (httpd.h). Accepts
 * NULL; a second call does nothing. */
void gw_loops_stop(struct gw_loops *ls);
/* Stops (if not yet) and frees. Accepts NULL. */
void gw_loops_free(struct gw_loops *ls);

/* l's event loop; whether it is stopping (no new work); the slot of its
 * backend hop's HTTP/1.1 client (backend_http1.h), which the loop frees. Loop
 * thread only. */
struct ndx_loop *gw_loop_event_loop(struct gw_loop *l);
bool gw_loop_stopping(const struct gw_loop *l);
struct gw_bh1;
struct gw_bh1 **gw_loop_bh1(struct gw_loop *l);
/* The slot of its peer hop's HTTP/2 client (peer_h2.h), which the loop
 * flushes before each sleep, stops and frees. Loop thread only. */
struct gw_ph2;
struct gw_ph2 **gw_loop_ph2(struct gw_loop *l);

/* Runs t->fn(t->arg) on l's thread. Thread-safe. NDX_EINVAL once l stops. */
int gw_loop_post(struct gw_loop *l, struct ndx_loop_task *t);

/* A hash to sign; signed before the loop's next sleep together with every
 * other job queued in the same turn, then done(job) runs on the loop's
 * thread with job->sig the signature object (malloc'd, the job's owner
 * frees; NULL when signing failed). */
struct gw_sign_job {
	const struct ndx_key *key;
	uint8_t hash[NDX_SHA256_LEN];
	char *sig;
	void (*done)(struct gw_sign_job *job);
	struct gw_sign_job *next; /* private */
};
/* Loop thread only. */
void gw_loop_sign(struct gw_loop *l, struct gw_sign_job *job);

/* An easy handle of l's own, reset, with the options every gateway
 * transfer has (gw_xfer_handle's). NULL when out of memory. Loop thread
 * only; it goes back to l when the transfer completes. */
CURL *gw_loop_easy(struct gw_loop *l);
/* Starts the transfer prepared on t (gw_xfer_prepare on an easy handle of
 * gw_loop_easy) in l's multi handle: t->done(t, result) runs later on l's
 * thread, never inside this call. NDX_OK, or NDX_EINVAL (l is stopping) /
 * NDX_ENOMEM, when t->done will not be called and the easy handle is
 * back with l. Loop thread only. */
int gw_loop_transfer(struct gw_loop *l, struct gw_xfer *t);

#endif
