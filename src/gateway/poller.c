/* The gateway's one background poller (poller.h). */
#include "poller.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#define TASKS_MAX 8

struct slot {
	struct gw_task t;
	struct timespec due; /* CLOCK_MONOTONIC */
	bool soon;
};

struct gw_poller {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t thread;
	bool running;
	atomic_int stop;
	struct slot task[TASKS_MAX];
	int ntasks;
};

static bool before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

static struct timespec in_s(long s)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_sec += s > 0 ? s : 1;
	return t;
}

struct gw_poller *gw_poller_new(void)
{
	struct gw_poller *p = calloc(1, sizeof *p);
	pthread_condattr_t ca;

	if (!p)
		return NULL;
	pthread_mutex_init(&p->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cv, &ca);
	pthread_condattr_destroy(&ca);
	atomic_init(&p->stop, 0);
	return p;
}

int gw_poller_add(struct gw_poller *p, const struct gw_task *t)
{
	struct slot *s;

	if (p->running || p->ntasks == TASKS_MAX)
		return -1;
	s = &p->task[p->ntasks];
	s->t = *t;
	s->soon = t->at_start;
	s->due = in_s(t->interval_s(t->ud));
	return p->ntasks++;
}

const atomic_int *gw_poller_stopping(const struct gw_poller *p)
{
	return &p->stop;
}

/* The task to run now (soon, or due), else -1 with *next the earliest due
 * time. Called with mu held. */
static int pick(struct gw_poller *p, struct timespec *next)
{
	struct timespec now;
	int n = -1;

	clock_gettime(CLOCK_MONOTONIC, &now);
	for (int i = 0; i < p->ntasks; i++) {
		struct slot *s = &p->task[i];

		if (s->soon || !before(&now, &s->due))
			return i;
		if (n < 0 || before(&s->due, next)) {
			*next = s->due;
			n = i;
		}
	}
	return -1;
}

static void *poller_main(void *arg)
{
	struct gw_poller *p = arg;

	pthread_mutex_lock(&p->mu);
	while (!atomic_load(&p->stop)) {
		struct timespec next = in_s(3600);
		int n = pick(p, &next);
		struct slot *s;

		if (n < 0) {
			int rc = pthread_cond_timedwait(&p->cv, &p->mu, &next);
			(void)rc; /* woken, timed out or spurious: look again */
			continue;
		}
		s = &p->task[n];
		s->soon = false;
		pthread_mutex_unlock(&p->mu);
		s->t.run(s->t.ud);
		pthread_mutex_lock(&p->mu);
		s->due = in_s(s->t.interval_s(s->t.ud));
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

int gw_poller_start(struct gw_poller *p)
{
	if (pthread_create(&p->thread, NULL, poller_main, p) != 0)
		return -1;
	pthread_setname_np(p->thread, "gw-poller");
	p->running = true;
	return 0;
}

void gw_poller_soon(struct gw_poller *p, int n)
{
	if (!p || n < 0)
		return;
	pthread_mutex_lock(&p->mu);
	if (n < p->ntasks) {
		p->task[n].soon = true;
		pthread_cond_signal(&p->cv);
	}
	pthread_mutex_unlock(&p->mu);
}

void gw_poller_free(struct gw_poller *p)
{
	if (!p)
		return;
	if (p->running) {
		pthread_mutex_lock(&p->mu);
		atomic_store(&p->stop, 1);
		pthread_cond_signal(&p->cv);
		pthread_mutex_unlock(&p->mu);
		pthread_join(p->thread, NULL);
	}
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p);
}
