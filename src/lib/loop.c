/* The epoll event loop (include/ndx/loop.h). One turn: wait (bounded by the
 * nearest timer, not at all when work is queued), dispatch ready fds, fire
 * due timers, run the posted tasks taken in one swap, run the hooks.
 *
 * The wakeup protocol, which must lose no wakeup: the loop decides to block
 * under the lock, after seeing the task queue empty, and sets `sleeping`
 * there; a poster enqueues under the same lock and writes the eventfd only
 * when it sees `sleeping` and no write already pending. So either the loop
 * sees the task (and does not block) or the poster sees `sleeping` (and
 * wakes it); a busy loop costs posters no syscall at all.
 *
 * The poster writes after releasing the lock. The loop it wakes takes the
 * lock at once, and on a shared core it ran before the poster had released
 * it: three futex calls and two more context switches a wake. Between the
 * unlock and the write, wake_pending is set and the counter still zero;
 * nothing reads the counter then (only the loop does, when epoll has
 * reported a write), and a loop that blocks meanwhile is woken by the
 * write. A poster may be inside ndx_loop_post only while the loop lives,
 * as before (the unlock itself touches the loop). */
#include "ndx/loop.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "ndx/err.h"

#define MAX_HOOKS 8
#define MAX_EVENTS 64

struct watcher {
	ndx_loop_io_fn fn;
	void *arg;
	unsigned events;
	bool used;
	bool in_epoll; /* false while events is 0: see set_epoll */
	/* Bumped on unwatch and carried in each epoll event, so that an event
	 * still pending for a closed fd is not delivered to a new watch of the
	 * same fd number opened by an earlier callback of the same batch. */
	uint32_t gen;
};

struct ndx_loop {
	int epfd, evfd;
	struct watcher *w; /* indexed by fd */
	int nw;
	/* Armed, sorted by due_ms, doubly linked: a disarm unlinks at once,
	 * and an arm searches from the tail, where a new timer usually goes
	 * (a gateway loop holds one call timer per exchange in flight, all
	 * with the same timeout: a search from the head walked them all). */
	struct ndx_loop_timer *timers, *timers_tail;
	struct ndx_loop_timer *firing; /* due this turn, not yet fired */
	struct { ndx_loop_fn fn; void *arg; } hooks[MAX_HOOKS];
	int nhooks;
	int hook_at; /* the hook run_hooks is at: a removal before it steps back */
	pthread_mutex_t lock; /* guards the fields below */
	struct ndx_loop_task *head, *tail;
	bool stopped, sleeping, wake_pending;
};

/* The loop inside ndx_loop_run on this thread: on_thread needs no lock and
 * cannot race with a run starting or ending on another thread. */
static _Thread_local const struct ndx_loop *running_here;

int64_t ndx_loop_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool ndx_loop_on_thread(const struct ndx_loop *l)
{
	return l && running_here == l;
}

int ndx_loop_new(struct ndx_loop **out)
{
	struct ndx_loop *l;
	struct epoll_event ev = { .events = EPOLLIN };

	if (!out)
		return NDX_EINVAL;
	*out = NULL;
	l = calloc(1, sizeof *l);
	if (!l)
		return NDX_ENOMEM;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	l->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ev.data.u64 = (uint32_t)l->evfd;
	if (l->epfd < 0 || l->evfd < 0 || epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->evfd, &ev) != 0 ||
	    pthread_mutex_init(&l->lock, NULL) != 0) {
		if (l->epfd >= 0)
			close(l->epfd);
		if (l->evfd >= 0)
			close(l->evfd);
		free(l);
		return NDX_EIO;
	}
	*out = l;
	return NDX_OK;
}

void ndx_loop_free(struct ndx_loop *l)
{
	if (!l)
		return;
	close(l->epfd);
	close(l->evfd);
	pthread_mutex_destroy(&l->lock);
	free(l->w);
	free(l);
}

/* Called with the lock held: whether the caller is to wake the loop once it
 * has released the lock (the loop may be blocked in epoll_wait and no wake
 * is pending yet). wake_pending then stays set until the loop has read the
 * counter. */
static bool wake_due_locked(struct ndx_loop *l)
{
	if (!l->sleeping || l->wake_pending)
		return false;
	l->wake_pending = true;
	return true;
}

static void wake(struct ndx_loop *l)
{
	uint64_t one = 1;

	if (write(l->evfd, &one, sizeof one) < 0) {
		/* Only EAGAIN (counter at its maximum) can fail, and the loop
		 * is woken then anyway. */
	}
}

/* events 0 takes the fd out of the epoll set instead of registering it with
 * no events: epoll reports EPOLLERR/EPOLLHUP whatever the mask, and level
 * triggering would then spin on a hung-up fd nobody wants to hear about. */
static int set_epoll(struct ndx_loop *l, int fd, struct watcher *w, unsigned events)
{
	struct epoll_event ev = { .events = 0 };
	int op = w->in_epoll ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;

	if (events == 0) {
		if (w->in_epoll && epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, &ev) != 0)
			return NDX_EIO;
		w->in_epoll = false;
		return NDX_OK;
	}
	ev.events = (events & NDX_LOOP_READ ? EPOLLIN : 0) | (events & NDX_LOOP_WRITE ? EPOLLOUT : 0);
	ev.data.u64 = (uint64_t)w->gen << 32 | (uint32_t)fd;
	if (epoll_ctl(l->epfd, op, fd, &ev) != 0)
		return errno == ENOMEM ? NDX_ENOMEM : NDX_EIO;
	w->in_epoll = true;
	return NDX_OK;
}

int ndx_loop_watch(struct ndx_loop *l, int fd, unsigned events, ndx_loop_io_fn fn, void *arg)
{
	struct watcher *w;
	int rc;

	if (!l || fd < 0 || !fn || (events & ~(NDX_LOOP_READ | NDX_LOOP_WRITE | NDX_LOOP_ERROR)) ||
	    fd == l->epfd || fd == l->evfd)
		return NDX_EINVAL;
	events &= ~NDX_LOOP_ERROR; /* always delivered */
	if (fd >= l->nw) {
		int n = l->nw ? l->nw : 64;

		while (n <= fd)
			n = n > INT_MAX / 2 ? INT_MAX : n * 2;
		w = realloc(l->w, (size_t)n * sizeof *w);
		if (!w)
			return NDX_ENOMEM;
		for (int i = l->nw; i < n; i++)
			w[i] = (struct watcher){ .used = false };
		l->w = w;
		l->nw = n;
	}
	w = &l->w[fd];
	/* libcurl announces the same interest again and again: a watch that
	 * changes nothing costs no system call. */
	if (!(w->used && w->events == events && w->in_epoll == (events != 0))) {
		rc = set_epoll(l, fd, w, events);
		if (rc != NDX_OK)
			return rc;
	}
	w->fn = fn;
	w->arg = arg;
	w->events = events;
	w->used = true;
	return NDX_OK;
}

void ndx_loop_unwatch(struct ndx_loop *l, int fd)
{
	struct watcher *w;
	struct epoll_event ev = { .events = 0 };

	if (!l || fd < 0 || fd >= l->nw || !l->w[fd].used)
		return;
	w = &l->w[fd];
	/* Failure means the fd is already closed, and so out of the set. */
	if (w->in_epoll)
		(void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, &ev);
	*w = (struct watcher){ .gen = w->gen + 1 };
}

/* Takes t out of whichever of the two lists holds it: `timers`, or
 * `firing` (due this turn, not yet fired). t's own links are trusted, so
 * `armed` must be true only while t is on one: why loop.h asks that a
 * timer be zeroed before its first arm. */
static void timer_unlink(struct ndx_loop *l, struct ndx_loop_timer *t)
{
	if (!t->armed)
		return;
	t->armed = false;
	if (t->prev)
		t->prev->next = t->next;
	else if (l->timers == t)
		l->timers = t->next;
	else
		l->firing = t->next;
	if (t->next)
		t->next->prev = t->prev;
	else if (l->timers_tail == t)
		l->timers_tail = t->prev;
	t->next = t->prev = NULL;
}

void ndx_loop_timer_arm(struct ndx_loop *l, struct ndx_loop_timer *t, int64_t ms)
{
	struct ndx_loop_timer *after;
	int64_t now = ndx_loop_now_ms();

	if (!l || !t || !t->fn)
		return;
	timer_unlink(l, t);
	if (ms < 0)
		ms = 0;
	t->due_ms = ms > INT64_MAX - now ? INT64_MAX : now + ms;
	/* After the timers due at the same time: equal dues fire in arming
	 * order. */
	for (after = l->timers_tail; after && after->due_ms > t->due_ms; after = after->prev)
		;
	t->prev = after;
	t->next = after ? after->next : l->timers;
	if (t->next)
		t->next->prev = t;
	else
		l->timers_tail = t;
	if (after)
		after->next = t;
	else
		l->timers = t;
	t->armed = true;
}

void ndx_loop_timer_disarm(struct ndx_loop *l, struct ndx_loop_timer *t)
{
	if (l && t)
		timer_unlink(l, t);
}

int ndx_loop_post(struct ndx_loop *l, struct ndx_loop_task *t)
{
	int rc = NDX_OK;
	bool due = false;

	if (!l || !t || !t->fn)
		return NDX_EINVAL;
	t->next = NULL;
	pthread_mutex_lock(&l->lock);
	if (l->stopped) {
		rc = NDX_EINVAL;
	} else {
		if (l->tail)
			l->tail->next = t;
		else
			l->head = t;
		l->tail = t;
		due = wake_due_locked(l);
	}
	pthread_mutex_unlock(&l->lock);
	if (due)
		wake(l);
	return rc;
}

int ndx_loop_before_sleep(struct ndx_loop *l, ndx_loop_fn fn, void *arg)
{
	if (!l || !fn)
		return NDX_EINVAL;
	if (l->nhooks == MAX_HOOKS)
		return NDX_ETOOBIG;
	l->hooks[l->nhooks].fn = fn;
	l->hooks[l->nhooks].arg = arg;
	l->nhooks++;
	return NDX_OK;
}

int ndx_loop_before_sleep_remove(struct ndx_loop *l, ndx_loop_fn fn, void *arg)
{
	if (!l || !fn)
		return NDX_EINVAL;
	for (int i = 0; i < l->nhooks; i++) {
		if (l->hooks[i].fn != fn || l->hooks[i].arg != arg)
			continue;
		for (int j = i; j + 1 < l->nhooks; j++)
			l->hooks[j] = l->hooks[j + 1];
		l->nhooks--;
		/* Removed by a hook of this turn (itself or another): the hooks
		 * after it moved down one place, and none is skipped. */
		if (i <= l->hook_at)
			l->hook_at--;
		return NDX_OK;
	}
	return NDX_ENOTFOUND;
}

void ndx_loop_stop(struct ndx_loop *l)
{
	bool due;

	if (!l)
		return;

	pthread_mutex_lock(&l->lock);
	l->stopped = true;
	due = wake_due_locked(l);
	pthread_mutex_unlock(&l->lock);
	if (due)
		wake(l);
}

/* Runs the tasks queued now, not those they post (those wait for the next
 * turn, so a task that re-posts itself cannot starve fds and timers). */
static int run_tasks(struct ndx_loop *l)
{
	struct ndx_loop_task *t, *next;
	int n = 0;

	pthread_mutex_lock(&l->lock);
	t = l->head;
	l->head = l->tail = NULL;
	pthread_mutex_unlock(&l->lock);
	for (; t; t = next, n++) {
		next = t->next; /* fn may post t again */
		t->fn(t->arg);
	}
	return n;
}

static void run_hooks(struct ndx_loop *l)
{
	for (l->hook_at = 0; l->hook_at < l->nhooks; l->hook_at++)
		l->hooks[l->hook_at].fn(l->hooks[l->hook_at].arg);
}

/* Called for the eventfd's readiness: empties its counter and clears
 * wake_pending together, under the lock, so that no poster sees the flag
 * clear while the count it stands for is still unread. */
static void take_wake(struct ndx_loop *l)
{
	uint64_t count;

	pthread_mutex_lock(&l->lock);
	if (read(l->evfd, &count, sizeof count) < 0) {
		/* EAGAIN: nothing to take; a spurious wake is harmless. */
	}
	l->wake_pending = false;
	pthread_mutex_unlock(&l->lock);
}

/* Returns 1 when a callback ran. */
static int dispatch(struct ndx_loop *l, const struct epoll_event *ev)
{
	int fd = (int)(uint32_t)ev->data.u64;
	uint32_t gen = (uint32_t)(ev->data.u64 >> 32);
	unsigned mask;
	struct watcher *w;

	if (fd == l->evfd) {
		take_wake(l);
		return 0;
	}
	/* Looked up afresh for every event: an earlier callback of the batch
	 * may have unwatched this fd, changed its mask or grown the table. */
	if (fd >= l->nw || !l->w[fd].used || !l->w[fd].in_epoll || l->w[fd].gen != gen)
		return 0;
	w = &l->w[fd];
	if (ev->events & (EPOLLERR | EPOLLHUP))
		mask = NDX_LOOP_READ | NDX_LOOP_WRITE | NDX_LOOP_ERROR;
	else
		mask = ((ev->events & EPOLLIN ? NDX_LOOP_READ : 0) |
			(ev->events & EPOLLOUT ? NDX_LOOP_WRITE : 0)) & w->events;
	if (!mask)
		return 0;
	w->fn(w->arg, fd, mask);
	return 1;
}

/* The epoll_wait timeout: until the nearest timer, at most max_wait
 * (-1 = no bound). */
static int wait_ms(const struct ndx_loop *l, int max_wait)
{
	int64_t d;

	if (!l->timers)
		return max_wait;
	d = l->timers->due_ms - ndx_loop_now_ms();
	d = d < 0 ? 0 : d > INT_MAX ? INT_MAX : d;
	return max_wait >= 0 && max_wait < d ? max_wait : (int)d;
}

static int turn(struct ndx_loop *l, int max_wait)
{
	struct epoll_event evs[MAX_EVENTS];
	int timeout = wait_ms(l, max_wait), n, ran = 0;
	int64_t now;

	pthread_mutex_lock(&l->lock);
	if (l->head || l->stopped)
		timeout = 0;
	l->sleeping = timeout != 0;
	pthread_mutex_unlock(&l->lock);
	n = epoll_wait(l->epfd, evs, MAX_EVENTS, timeout);
	if (timeout != 0) {
		pthread_mutex_lock(&l->lock);
		l->sleeping = false;
		pthread_mutex_unlock(&l->lock);
	}
	if (n < 0) {
		if (errno != EINTR)
			return NDX_EIO;
		n = 0;
	}
	for (int i = 0; i < n; i++)
		ran += dispatch(l, &evs[i]);

	/* Move the due prefix to `firing` first, so a timer re-armed for 0 ms
	 * by its own fn waits for the next turn instead of looping here. */
	now = ndx_loop_now_ms();
	if (l->timers && l->timers->due_ms <= now) {
		struct ndx_loop_timer *last = l->timers;

		while (last->next && last->next->due_ms <= now)
			last = last->next;
		l->firing = l->timers;
		l->timers = last->next;
		last->next = NULL;
		if (l->timers)
			l->timers->prev = NULL;
		else
			l->timers_tail = NULL;
	}
	while (l->firing) {
		struct ndx_loop_timer *t = l->firing;

		l->firing = t->next;
		if (l->firing)
			l->firing->prev = NULL;
		t->next = t->prev = NULL;
		t->armed = false;
		t->fn(t->arg);
		ran++;
	}
	ran += run_tasks(l);
	run_hooks(l);
	return ran;
}

int ndx_loop_run_once(struct ndx_loop *l, int timeout_ms)
{
	if (!l)
		return NDX_EINVAL;
	return turn(l, timeout_ms < 0 ? -1 : timeout_ms);
}

int ndx_loop_run(struct ndx_loop *l)
{
	int rc = NDX_OK;
	bool stopped = false;

	if (!l)
		return NDX_EINVAL;
	running_here = l;
	/* Work queued before run (for a hook to flush) must not wait for the
	 * first fd event: the hooks run before every wait, the first too. */
	run_hooks(l);
	while (!stopped) {
		bool failed = turn(l, -1) < 0;

		pthread_mutex_lock(&l->lock);
		if (failed) {
			/* Stop for good, so that posters hear of it instead of
			 * queueing tasks nobody will run. */
			rc = NDX_EIO;
			l->stopped = true;
		}
		stopped = l->stopped;
		pthread_mutex_unlock(&l->lock);
	}
	/* Posts fail once stopped is set, so one swap takes the last tasks
	 * (those they post themselves are refused). */
	run_tasks(l);
	run_hooks(l);
	running_here = NULL;
	return rc;
}
