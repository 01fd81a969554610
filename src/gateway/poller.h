/* One thread for the gateway's periodic background work (the global
 * configuration, the consent status lists): each task runs when its
 * interval has passed since it last ran, or at once when asked, one at a
 * time. A task is given the poller's stop flag so that a fetch in progress
 * can end early at shutdown. Self-contained (no gateway.h). */
#ifndef NDX_GATEWAY_POLLER_H
#define NDX_GATEWAY_POLLER_H

#include <stdatomic.h>
#include <stdbool.h>

struct gw_poller;

/* A task: run(ud) does one round; interval_s(ud) says how long to wait
 * after it (read again after every round, so a SIGHUP's new settings
 * apply). */
struct gw_task {
	const char *name;
	void (*run)(void *ud);
	long (*interval_s)(void *ud);
	void *ud;
	bool at_start;          /* run once as soon as the poller starts */
};

/* NULL when out of memory. */
struct gw_poller *gw_poller_new(void);
/* Adds a task before gw_poller_start; returns its number (>= 0), or -1
 * when the table is full or out of memory. */
int gw_poller_add(struct gw_poller *p, const struct gw_task *t);
/* The flag a task's long operations check to give up at shutdown; never
 * NULL, valid as long as p. */
const atomic_int *gw_poller_stopping(const struct gw_poller *p);
/* Starts the thread: 0, or -1. */
int gw_poller_start(struct gw_poller *p);
/* Runs task n at the next chance. Thread-safe. */
void gw_poller_soon(struct gw_poller *p, int n);
/* Stops the thread (a task in progress finishes or gives up first) and
 * frees p. Accepts NULL. */
void gw_poller_free(struct gw_poller *p);

#endif
