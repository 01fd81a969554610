/* A small epoll event loop, one per thread, on the model of Redis's ae with
 * its beforeSleep hook. The gateway runs one per core: fd readiness for
 * libcurl's multi socket API, a timer for curl, tasks posted from other
 * threads (the message-log writer posts its completions) and hooks that run
 * once per turn (the signer signs everything queued during the turn as one
 * batch). Linux only (epoll, eventfd). Overview: docs/architecture.md.
 *
 * Why level-triggered: a callback that reads only part of what is ready is
 * called again on the next turn instead of stalling, which is what curl
 * expects. Why timers and tasks are embedded by the caller: arming a timer
 * or posting a task then cannot fail for lack of memory, and the hot path
 * (one task per completed write) allocates nothing.
 *
 * Everything except ndx_loop_post, ndx_loop_stop and ndx_loop_on_thread is
 * for the loop's own thread (or for before ndx_loop_run). */
#ifndef NDX_LOOP_H
#define NDX_LOOP_H

#include <stdbool.h>
#include <stdint.h>

struct ndx_loop;

/* fd readiness callback: events is a mask of NDX_LOOP_READ / NDX_LOOP_WRITE
 * (and NDX_LOOP_ERROR for EPOLLERR/EPOLLHUP, delivered with READ|WRITE also
 * set so a reader sees EOF). */
#define NDX_LOOP_READ 1u
#define NDX_LOOP_WRITE 2u
#define NDX_LOOP_ERROR 4u
typedef void (*ndx_loop_io_fn)(void *arg, int fd, unsigned events);
typedef void (*ndx_loop_fn)(void *arg);

/* A timer the caller embeds in its own struct (no allocation). Set fn and
 * arg; zero the rest before the first arm (e.g. a designated initialiser). */
struct ndx_loop_timer {
	int64_t due_ms;          /* CLOCK_MONOTONIC ms; private */
	bool armed;              /* private */
	ndx_loop_fn fn;
	void *arg;
	struct ndx_loop_timer *next, *prev; /* private */
};
/* A task to run on the loop's thread, embedded by the caller (no
 * allocation). A task must not be posted again before its fn has started. */
struct ndx_loop_task {
	ndx_loop_fn fn;
	void *arg;
	struct ndx_loop_task *next; /* private */
};

/* NDX_OK, NDX_ENOMEM, NDX_EIO. The epoll fd and the eventfd are
 * close-on-exec. */
int ndx_loop_new(struct ndx_loop **out);
/* Accepts NULL; not while running. Armed timers and queued tasks belong to
 * their callers and are dropped without being run. */
void ndx_loop_free(struct ndx_loop *l);
/* Watch fd for events (replaces a previous watch of the same fd); events 0
 * = keep registered but deliver nothing. Loop thread only (or before run).
 * NDX_OK / NDX_EINVAL (fd < 0, NULL fn, unknown event bits, the loop's own
 * fds) / NDX_EIO / NDX_ENOMEM */
int ndx_loop_watch(struct ndx_loop *l, int fd, unsigned events, ndx_loop_io_fn fn, void *arg);
/* Stop watching fd; safe to call from inside a callback, also for an fd
 * whose events are pending in the current batch (they are then not
 * delivered, not even to a new watch of the same fd number). Call it BEFORE
 * closing the fd. Unknown fds are ignored. */
void ndx_loop_unwatch(struct ndx_loop *l, int fd);
/* Arms t to fire once after ms milliseconds (0 = on the next turn; negative
 * is taken as 0); re-arming an armed timer moves it. Timers due in the same
 * turn fire in due order (equal due times in arming order). A NULL t or
 * t->fn is ignored. Loop thread only. */
void ndx_loop_timer_arm(struct ndx_loop *l, struct ndx_loop_timer *t, int64_t ms);
/* Disarming a timer that is not armed does nothing. */
void ndx_loop_timer_disarm(struct ndx_loop *l, struct ndx_loop_timer *t);
/* Thread-safe: runs t->fn(t->arg) on the loop thread soon, in FIFO order of
 * posting. Wakes the loop with an eventfd write only when needed (e.g. not
 * when the queue was already non-empty and a wake is pending). Returns
 * NDX_EINVAL after ndx_loop_stop (and for a NULL t or t->fn). */
int ndx_loop_post(struct ndx_loop *l, struct ndx_loop_task *t);
/* Registers fn(arg) to run once per loop turn, after the ready events,
 * timers and posted tasks of that turn were handled and before the loop
 * waits again (Redis beforeSleep). Up to 8 hooks, run in registration
 * order; a hook may cause more work (post tasks, arm a 0 ms timer): the loop
 * then does not block in epoll_wait. ndx_loop_run also runs them once before
 * its first wait. NDX_OK / NDX_ETOOBIG (NDX_EINVAL for a NULL fn). */
int ndx_loop_before_sleep(struct ndx_loop *l, ndx_loop_fn fn, void *arg);
/* Takes back the hook registered with fn and arg (the first such, when it
 * was registered twice), e.g. before arg is freed by a user that goes away
 * while the loop goes on (an h2o port stopping: httpd_h2o.c); the hooks
 * after it keep their order. Loop thread only (also from inside a hook: no
 * other hook of the turn is skipped), or while the loop is not running.
 * NDX_OK / NDX_ENOTFOUND / NDX_EINVAL (NULL l or fn). */
int ndx_loop_before_sleep_remove(struct ndx_loop *l, ndx_loop_fn fn, void *arg);
/* Runs until ndx_loop_stop; returns NDX_OK (or NDX_EIO when epoll_wait
 * fails other than EINTR). Posted tasks still queued when stop is seen are
 * run before returning, then the before-sleep hooks once more, so work
 * those tasks queued for a hook is not stranded. A stopped loop stays
 * stopped: a later run only does that draining. */
int ndx_loop_run(struct ndx_loop *l);
/* Thread-safe; callable from inside a callback. */
void ndx_loop_stop(struct ndx_loop *l);
/* Runs one turn without blocking more than timeout_ms (for tests and for
 * draining; negative = no bound): returns the number of callbacks run (fd,
 * timer and task callbacks; the before-sleep hooks run but are not counted,
 * so `while (ndx_loop_run_once(l, 0) > 0)` ends), or NDX_EIO. */
int ndx_loop_run_once(struct ndx_loop *l, int timeout_ms);
/* CLOCK_MONOTONIC now in ms. */
int64_t ndx_loop_now_ms(void);
/* True when called on the thread currently inside ndx_loop_run of l. */
bool ndx_loop_on_thread(const struct ndx_loop *l);

#endif
