/* Unit tests for include/ndx/loop.h, the per-thread epoll event loop: fd
 * readiness on pipes, unwatch with events pending in the same batch, timers
 * in due order, re-armed and disarmed, tasks posted from other threads (no
 * lost wakeup, FIFO per poster), before-sleep hooks, stop from another
 * thread and from a callback, and bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include "ndx/err.h"
#include "ndx/loop.h"

struct io_rec {
	int calls;
	unsigned events;
	int fd;
	struct ndx_loop *l;
	int other_fd;   /* unwatched by the callback, when >= 0 */
	int rewatch;    /* watch other_fd again right after the unwatch */
};

static void on_io(void *arg, int fd, unsigned events)
{
	struct io_rec *r = arg;

	r->calls++;
	r->events = events;
	r->fd = fd;
}

static void on_io_unwatch(void *arg, int fd, unsigned events)
{
	struct io_rec *r = arg;

	on_io(arg, fd, events);
	if (r->other_fd >= 0) {
		ndx_loop_unwatch(r->l, r->other_fd);
		if (r->rewatch)
			assert_int_equal(ndx_loop_watch(r->l, r->other_fd, NDX_LOOP_READ, on_io,
							r + 1), NDX_OK);
		r->other_fd = -1;
	}
}

static void make_pipe(int p[2])
{
	assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
}

static void test_pipe_read_write_error(void **state)
{
	struct ndx_loop *l;
	struct io_rec rd = { 0 }, wr = { 0 };
	int p[2];
	char c;

	(void)state;
	assert_int_equal(ndx_loop_new(&l), NDX_OK);
	make_pipe(p);
	assert_int_equal(ndx_loop_watch(l, p[0], NDX_LOOP_READ, on_io, &rd), NDX_OK);
	assert_int_equal(ndx_loop_watch(l, p[1], NDX_LOOP_WRITE, on_io, &wr), NDX_OK);
	/* Only the write end is ready. */
	assert_int_equal(ndx_loop_run_once(l, 1000), 1);
	assert_int_equal(wr.calls, 1);
	assert_int_equal(wr.events, NDX_LOOP_WRITE);
	assert_int_equal(wr.fd, p[1]);
	assert_int_equal(rd.calls, 0);

	/* events 0: registered, nothing delivered. */
	assert_int_equal(ndx_loop_watch(l, p[1], 0, on_io, &wr), NDX_OK);
	assert_int_equal(write(p[1], "x", 1), 1);
	assert_int_equal(ndx_loop_run_once(l, 1000), 1);
	assert_int_equal(rd.calls, 1);
	assert_int_equal(rd.events, NDX_LOOP_READ);
	assert_int_equal(wr.calls, 1);
	/* Level-triggered: unread data is reported again. */
	assert_int_equal(ndx_loop_run_once(l, 1000), 1);
	assert_int_equal(rd.calls, 2);
	assert_int_equal(read(p[0], &c, 1), 1);
	assert_int_equal(ndx_loop_run_once(l, 0), 0);
	assert_int_equal(rd.calls, 2);

	/* The writer goes away: the reader hears READ|WRITE|ERROR. */
	ndx_loop_unwatch(l, p[1]);
	close(p[1]);
	assert_int_equal(ndx_loop_run_once(l, 1000), 1);
	assert_int_equal(rd.events, NDX_LOOP_READ | NDX_LOOP_WRITE | NDX_LOOP_ERROR);
	ndx_loop_unwatch(l, p[0]);
	assert_int_equal(ndx_loop_run_once(l, 0), 0);
	close(p[0]);
	ndx_loop_free(l);
}

/* Two readable pipes in one batch: whichever callback runs first unwatches
 * the other fd, whose pending event must then not be delivered. With
 * rewatch, the same fd number is watched again at once by a new watcher,
 * which must not receive the stale event either (only the next turn's). */
static void unwatch_pending(int rewatch)
{
	struct ndx_loop *l;
	/* [i][1]: the new watch that i's callback puts on the other fd. */
	struct io_rec r[2][2] = { 0 };
	int a[2], b[2];
	int first, second;
	char c;

	assert_int_equal(ndx_loop_new(&l), NDX_OK);
	make_pipe(a);
	make_pipe(b);
	for (int i = 0; i < 2; i++) {
		r[i][0].l = l;
		r[i][0].other_fd = i == 0 ? b[0] : a[0];
		r[i][0].rewatch = rewatch;
	}
	assert_int_equal(ndx_loop_watch(l, a[0], NDX_LOOP_READ, on_io_unwatch, r[0]), NDX_OK);
	assert_int_equal(ndx_loop_watch(l, b[0], NDX_LOOP_READ, on_io_unwatch, r[1]), NDX_OK);
	assert_int_equal(write(a[1], "x", 1), 1);
	assert_int_equal(write(b[1], "x", 1), 1);
	assert_int_equal(ndx_loop_run_once(l, 1000), 1);
	first = r[0][0].calls ? 0 : 1;
	second = 1 - first;
	assert_int_equal(r[first][0].calls, 1);
	assert_int_equal(r[second][0].calls, 0);
	assert_int_equal(r[first][1].calls, 0);
	r[first][0].other_fd = -1;
	assert_int_equal(read(first == 0 ? a[0] : b[0], &c, 1), 1);
	/* The next turn: the unwatched fd stays silent; a new watch hears it. */
	assert_int_equal(ndx_loop_run_once(l, 100), rewatch ? 1 : 0);
	assert_int_equal(r[second][0].calls, 0);
	assert_int_equal(r[first][1].calls, rewatch ? 1 : 0);
	ndx_loop_unwatch(l, a[0]);
	ndx_loop_unwatch(l, b[0]);
	ndx_loop_free(l);
	close(a[0]);
	close(a[1]);
	close(b[0]);
	close(b[1]);
}

static void test_unwatch_pending(void **state)
{
	(void)state;
	unwatch_pending(0);
	unwatch_pending(1);
}

struct tim {
	struct ndx_loop_timer t;
	struct ndx_loop *l;
	int id;
	int *order;
	int *n;
	int rearm; /* times left to re-arm itself (0 ms) */
};

static void on_timer(void *arg)
{
	struct tim *x = arg;

	x->order[(*x->n)++] = x->id;
	if (x->rearm > 0) {
		x->rearm--;
		ndx_loop_timer_arm(x->l, &x->t, 0);
	}
}

static void test_timers(void **state)
{
	struct ndx_loop *l;
	struct tim x[5];
	int order[16], n = 0, ran = 0;
	int64_t start = ndx_loop_now_ms();
	/* x[0] far after the others: x[4] is moved later, from a later now,
	 * and under valgrind on a loaded machine that can be some ms later. */
	const int64_t due[5] = { 200, 10, 20, 15, 10000 };

	(void)state;
	assert_int_equal(ndx_loop_new(&l), NDX_OK);
	for (int i = 0; i < 5; i++) {
		x[i] = (struct tim){ .t = { .fn = on_timer, .arg = &x[i] }, .l = l, .id = i,
				     .order = order, .n = &n };
		ndx_loop_timer_arm(l, &x[i].t, due[i]);
	}
	ndx_loop_timer_disarm(l, &x[3].t);  /* never fires */
	ndx_loop_timer_disarm(l, &x[3].t);  /* disarming twice is harmless */
	ndx_loop_timer_arm(l, &x[4].t, 25); /* moved from 10 s */
	while (n < 4 && ndx_loop_now_ms() - start < 5000)
		ran += ndx_loop_run_once(l, -1); /* bounded by the timers */
	assert_int_equal(n, 4);
	assert_int_equal(ran, 4);
	assert_int_equal(order[0], 1);
	assert_int_equal(order[1], 2);
	assert_int_equal(order[2], 4);
	assert_int_equal(order[3], 0);
	assert_false(x[0].t.armed);
	assert_true(ndx_loop_now_ms() - start >= 200);

	/* 0 ms: on the next turn, and a self re-arm waits for the turn after
	 * (once per turn, not in a loop). */
	n = 0;
	x[2].rearm = 2;
	ndx_loop_timer_arm(l, &x[2].t, 0);
	for (int i = 1; i <= 3; i++) {
		assert_int_equal(ndx_loop_run_once(l, 1000), 1);
		assert_int_equal(n, i);
	}
	assert_int_equal(ndx_loop_run_once(l, 0), 0);
	ndx_loop_free(l);
}

/* Many timers, armed, moved and disarmed in a random order (a fixed seed)
 * with many equal due times, against a model: they fire sorted by due
 * time, equal ones in the order they were last armed, disarmed ones never.
 * The list is doubly linked and searched from its tail (loop.c), so this
 * covers an arm at the head, in the middle, at the tail, and an unlink
 * from each place. */
#define MODEL_TIMERS 64

static void on_model_timer(void *arg)
{
	struct tim *x = arg;

	x->order[(*x->n)++] = x->id;
}

static void test_timers_against_a_model(void **state)
{
	struct ndx_loop *l;
	struct tim x[MODEL_TIMERS];
	int order[MODEL_TIMERS], n = 0, armed_seq[MODEL_TIMERS], seq = 0;
	int expect[MODEL_TIMERS], nexpect = 0;
	unsigned seed = 20261205;
	int64_t start = ndx_loop_now_ms();

	(void)state;
	assert_int_equal(ndx_loop_new(&l), NDX_OK);
	for (int i = 0; i < MODEL_TIMERS; i++) {
		x[i] = (struct tim){ .t = { .fn = on_model_timer, .arg = &x[i] }, .l = l,
				     .id = i, .order = order, .n = &n };
		armed_seq[i] = -1;
	}
	for (int op = 0; op < 2000; op++) {
		int i = (int)(rand_r(&seed) % MODEL_TIMERS);

		if (rand_r(&seed) % 4 == 0) {
			ndx_loop_timer_disarm(l, &x[i].t);
			armed_seq[i] = -1;
		} else {
			/* 5 due times only: ties everywhere */
			ndx_loop_timer_arm(l, &x[i].t, 20 + 10 * (int64_t)(rand_r(&seed) % 5));
			armed_seq[i] = seq++;
		}
		assert_int_equal(x[i].t.armed, armed_seq[i] >= 0);
	}
	for (int i = 0; i < MODEL_TIMERS; i++)
		if (armed_seq[i] >= 0)
			expect[nexpect++] = i;
	/* the model: by due time, then by arming order */
	for (int a = 1; a < nexpect; a++)
		for (int b = a; b > 0; b--) {
			const struct tim *p = &x[expect[b - 1]], *q = &x[expect[b]];

			if (p->t.due_ms < q->t.due_ms ||
			    (p->t.due_ms == q->t.due_ms && armed_seq[p->id] < armed_seq[q->id]))
				break;
			int tmp = expect[b];
			expect[b] = expect[b - 1];
			expect[b - 1] = tmp;
		}
	assert_true(nexpect > MODEL_TIMERS / 2);
	while (n < nexpect && ndx_loop_now_ms() - start < 5000)
		ndx_loop_run_once(l, -1);
	assert_int_equal(n, nexpect);
	assert_memory_equal(order, expect, (size_t)nexpect * sizeof *expect);
	for (int i = 0; i < MODEL_TIMERS; i++)
		assert_false(x[i].t.armed);
	assert_int_equal(ndx_loop_run_once(l, 0), 0);
	ndx_loop_free(l);
}

/* A timer that fires disarms another due in the same turn (so on the
 * list of those firing) and moves a third: the second never fires, the
 * third fires later. */
struct turn_ctx {
	struct ndx_loop *l;
	struct ndx_loop_timer a, b, c;
	int fired[3];
};

static void turn_a(void *arg)
{
	struct turn_ctx *t = arg;

	t->fired[0]++;
	ndx_loop_timer_disarm(t->l, &t->b);
	ndx_loop_timer_arm(t->l, &t->c, 30);
}

static void turn_b(void *arg)
{
	((struct turn_ctx *)arg)->fired[1]++;
}

static void turn_c(void *arg)
{
	((struct turn_ctx *)arg)->fired[2]++;
}

static void test_timers_disarmed_while_firing(void **state)
{
	struct turn_ctx t = { 0 };
	int64_t start = ndx_loop_now_ms();

	(void)state;
	assert_int_equal(ndx_loop_new(&t.l), NDX_OK);
	t.a = (struct ndx_loop_timer){ .fn = turn_a, .arg = &t };
	t.b = (struct ndx_loop_timer){ .fn = turn_b, .arg = &t };
	t.c = (struct ndx_loop_timer){ .fn = turn_c, .arg = &t };
	ndx_loop_timer_arm(t.l, &t.a, 0);
	ndx_loop_timer_arm(t.l, &t.b, 0);
	ndx_loop_timer_arm(t.l, &t.c, 0);
	assert_int_equal(ndx_loop_run_once(t.l, 1000), 1); /* a only */
	assert_int_equal(t.fired[0], 1);
	assert_int_equal(t.fired[1], 0);
	assert_int_equal(t.fired[2], 0);
	assert_false(t.b.armed);
	assert_true(t.c.armed);
	while (!t.fired[2] && ndx_loop_now_ms() - start < 5000)
		ndx_loop_run_once(t.l, -1);
	assert_int_equal(t.fired[2], 1);
	assert_true(ndx_loop_now_ms() - start >= 30);
	assert_int_equal(t.fired[1], 0);
	ndx_loop_free(t.l);
}

/* Two threads post 50000 tasks each while the loop runs and sleeps in
 * between: the count must come out exact (a lost wakeup hangs the test),
 * in posting order per poster. */
#define POSTS_PER_THREAD 50000

struct post_job {
	struct ndx_loop_task task;
	int poster, seq;
};

struct post_ctx {
	struct ndx_loop *l;
	struct post_job *jobs; /* 2 * POSTS_PER_THREAD */
	int done, next_seq[2], out_of_order, off_thread;
	bool other_thread_on_loop;
};

static struct post_ctx *post_ctx;

static void on_post(void *arg)
{
	struct post_job *j = arg;
	struct post_ctx *c = post_ctx;

	if (j->seq != c->next_seq[j->poster])
		c->out_of_order++;
	c->next_seq[j->poster] = j->seq + 1;
	if (!ndx_loop_on_thread(c->l))
		c->off_thread++;
	if (++c->done == 2 * POSTS_PER_THREAD)
		ndx_loop_stop(c->l);
}

static void *poster(void *arg)
{
	struct post_job *jobs = arg;
	struct post_ctx *c = post_ctx;
	intptr_t fails = 0;

	if (ndx_loop_on_thread(c->l))
		c->other_thread_on_loop = true;
	/* No cmocka assert here: it would longjmp across threads. */
	for (int i = 0; i < POSTS_PER_THREAD; i++) {
		fails += ndx_loop_post(c->l, &jobs[i].task) != NDX_OK;
		/* Pauses let the loop run dry and block, so wakeups matter. */
		if (i % 101 == 0)
			usleep(50);
	}
	return (void *)fails;
}

static void test_post_two_threads(void **state)
{
	struct post_ctx c = { 0 };
	pthread_t th[2];
	struct ndx_loop_task late = { .fn = on_post };

	(void)state;
	assert_int_equal(ndx_loop_new(&c.l), NDX_OK);
	c.jobs = calloc(2 * POSTS_PER_THREAD, sizeof *c.jobs);
	assert_non_null(c.jobs);
	for (int i = 0; i < 2 * POSTS_PER_THREAD; i++)
		c.jobs[i] = (struct post_job){ .task = { .fn = on_post, .arg = &c.jobs[i] },
					       .poster = i / POSTS_PER_THREAD,
					       .seq = i % POSTS_PER_THREAD };
	post_ctx = &c;
	assert_false(ndx_loop_on_thread(c.l));
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, poster,
						&c.jobs[i * POSTS_PER_THREAD]), 0);
	assert_int_equal(ndx_loop_run(c.l), NDX_OK);
	for (int i = 0; i < 2; i++) {
		void *fails;

		pthread_join(th[i], &fails);
		assert_null(fails);
	}
	assert_false(ndx_loop_on_thread(c.l));
	assert_int_equal(c.done, 2 * POSTS_PER_THREAD);
	assert_int_equal(c.out_of_order, 0);
	assert_int_equal(c.off_thread, 0);
	assert_false(c.other_thread_on_loop);
	assert_int_equal(ndx_loop_post(c.l, &late), NDX_EINVAL);
	free(c.jobs);
	ndx_loop_free(c.l);
}

struct hook_ctx {
	struct ndx_loop *l;
	int hook_calls[2];
	int tasks;
	int post_next; /* the first hook posts a task this many more times */
	bool arm_next; /* the first hook arms a 0 ms timer */
	struct ndx_loop_task task;
	struct ndx_loop_timer timer;
	int order[16], n;
};

static void count_task(void *arg)
{
	((struct hook_ctx *)arg)->tasks++;
}

static void count_int(void *arg)
{
	(*(int *)arg)++;
}

static void hook0(void *arg)
{
	struct hook_ctx *h = arg;

	h->hook_calls[0]++;
	if (h->n < 16)
		h->order[h->n++] = 0;
	if (h->post_next > 0) {
		h->post_next--;
		assert_int_equal(ndx_loop_post(h->l, &h->task), NDX_OK);
	}
	if (h->arm_next) {
		h->arm_next = false;
		ndx_loop_timer_arm(h->l, &h->timer, 0);
	}
}

static void hook1(void *arg)
{
	struct hook_ctx *h = arg;

	h->hook_calls[1]++;
	if (h->n < 16)
		h->order[h->n++] = 1;
}

static void test_before_sleep(void **state)
{
	struct hook_ctx h = { 0 };
	int64_t t0;
	int others = 0;

	(void)state;
	assert_int_equal(ndx_loop_new(&h.l), NDX_OK);
	h.task = (struct ndx_loop_task){ .fn = count_task, .arg = &h };
	h.timer = (struct ndx_loop_timer){ .fn = count_task, .arg = &h };
	assert_int_equal(ndx_loop_before_sleep(h.l, hook0, &h), NDX_OK);
	assert_int_equal(ndx_loop_before_sleep(h.l, hook1, &h), NDX_OK);
	for (int i = 2; i < 8; i++)
		assert_int_equal(ndx_loop_before_sleep(h.l, count_int, &others), NDX_OK);
	assert_int_equal(ndx_loop_before_sleep(h.l, hook1, &h), NDX_ETOOBIG);
	assert_int_equal(ndx_loop_before_sleep(h.l, NULL, &h), NDX_EINVAL);

	/* Once per turn, in registration order, not counted as callbacks. */
	for (int i = 0; i < 3; i++)
		assert_int_equal(ndx_loop_run_once(h.l, 0), 0);
	assert_int_equal(h.hook_calls[0], 3);
	assert_int_equal(h.hook_calls[1], 3);
	assert_int_equal(others, 6 * 3);
	for (int i = 0; i < 6; i++)
		assert_int_equal(h.order[i], i % 2);

	/* Work a hook causes keeps the next turn from blocking: the 10 s
	 * bound is never waited for. */
	h.post_next = 3;
	t0 = ndx_loop_now_ms();
	assert_int_equal(ndx_loop_run_once(h.l, 0), 0); /* the hook posts */
	for (int i = 1; i <= 3; i++) {
		assert_int_equal(ndx_loop_run_once(h.l, 10000), 1);
		assert_int_equal(h.tasks, i);
	}
	h.arm_next = true;
	assert_int_equal(ndx_loop_run_once(h.l, 0), 0); /* the hook arms */
	assert_int_equal(ndx_loop_run_once(h.l, 10000), 1);
	assert_int_equal(h.tasks, 4);
	assert_true(ndx_loop_now_ms() - t0 < 5000);
	assert_int_equal(h.hook_calls[0], 3 + 6);
	ndx_loop_free(h.l);
}

/* Hooks that record their turn in order, one of which takes a hook back
 * (itself or another) while the hooks of a turn run. */
struct rm_ctx {
	struct ndx_loop *l;
	char ran[32];
	int n;
	char remove_in; /* the hook that removes, 0: none */
	char victim;    /* the hook it removes */
};
static struct rm_hook {
	struct rm_ctx *c;
	char name;
} rm_hooks[4];

static void rm_hook(void *arg)
{
	struct rm_hook *h = arg;
	struct rm_ctx *c = h->c;

	if (c->n < (int)sizeof c->ran - 1)
		c->ran[c->n++] = h->name;
	if (c->remove_in == h->name) {
		c->remove_in = 0;
		assert_int_equal(ndx_loop_before_sleep_remove(c->l, rm_hook,
							      &rm_hooks[c->victim - 'a']),
				 NDX_OK);
	}
}

static void test_before_sleep_remove(void **state)
{
	struct rm_ctx c = { 0 };

	(void)state;
	assert_int_equal(ndx_loop_new(&c.l), NDX_OK);
	for (int i = 0; i < 4; i++) {
		rm_hooks[i] = (struct rm_hook){ .c = &c, .name = (char)('a' + i) };
		assert_int_equal(ndx_loop_before_sleep(c.l, rm_hook, &rm_hooks[i]), NDX_OK);
	}
	assert_int_equal(ndx_loop_before_sleep_remove(c.l, NULL, NULL), NDX_EINVAL);
	assert_int_equal(ndx_loop_before_sleep_remove(c.l, rm_hook, &c), NDX_ENOTFOUND);

	/* From outside a turn: the others keep their order. */
	assert_int_equal(ndx_loop_before_sleep_remove(c.l, rm_hook, &rm_hooks[1]), NDX_OK);
	assert_int_equal(ndx_loop_before_sleep_remove(c.l, rm_hook, &rm_hooks[1]),
			 NDX_ENOTFOUND);
	ndx_loop_run_once(c.l, 0);
	assert_string_equal(c.ran, "acd");

	/* A hook that removes itself: the one after it still runs this turn. */
	c.n = 0;
	memset(c.ran, 0, sizeof c.ran);
	c.remove_in = 'a';
	c.victim = 'a';
	ndx_loop_run_once(c.l, 0);
	ndx_loop_run_once(c.l, 0);
	assert_string_equal(c.ran, "acdcd");

	/* A hook that removes one that ran before it in this turn: none skipped. */
	assert_int_equal(ndx_loop_before_sleep(c.l, rm_hook, &rm_hooks[0]), NDX_OK); /* c d a */
	c.n = 0;
	memset(c.ran, 0, sizeof c.ran);
	c.remove_in = 'd';
	c.victim = 'c';
	ndx_loop_run_once(c.l, 0);
	ndx_loop_run_once(c.l, 0);
	assert_string_equal(c.ran, "cdada");

	/* One that removes a hook after it: that one does not run. */
	c.n = 0;
	memset(c.ran, 0, sizeof c.ran);
	c.remove_in = 'd';
	c.victim = 'a';
	ndx_loop_run_once(c.l, 0);
	assert_string_equal(c.ran, "d");
	ndx_loop_free(c.l);
}

struct stop_ctx {
	struct ndx_loop *l;
	struct ndx_loop_timer timer;
	struct ndx_loop_task task;
	int tasks, hooks_after_stop;
	int stop_in_hook; /* the hook call, counting down, that stops */
	bool stopped;
	bool on_thread;
};

static void *stop_later(void *arg)
{
	usleep(50 * 1000);
	ndx_loop_stop(arg);
	return NULL;
}

static void stop_task(void *arg)
{
	struct stop_ctx *s = arg;

	s->tasks++;
	s->on_thread = ndx_loop_on_thread(s->l);
}

static void stop_in_timer(void *arg)
{
	struct stop_ctx *s = arg;

	ndx_loop_stop(s->l);
	s->stopped = true;
}

static void noop(void *arg)
{
	(void)arg;
}

/* Posts a task and stops in the same hook: the task is still queued when
 * the loop sees the stop, and must run before ndx_loop_run returns. */
static void stop_hook(void *arg)
{
	struct stop_ctx *s = arg;

	if (s->stopped) {
		s->hooks_after_stop++;
	} else if (s->stop_in_hook > 0 && --s->stop_in_hook == 0) {
		assert_int_equal(ndx_loop_post(s->l, &s->task), NDX_OK);
		ndx_loop_stop(s->l);
		assert_int_equal(ndx_loop_post(s->l, &s->task), NDX_EINVAL);
		s->stopped = true;
	}
}

static void test_stop(void **state)
{
	struct ndx_loop *l;
	struct stop_ctx s = { 0 };
	pthread_t th;

	(void)state;
	/* From another thread, while the loop blocks with nothing to do. */
	assert_int_equal(ndx_loop_new(&l), NDX_OK);
	assert_int_equal(pthread_create(&th, NULL, stop_later, l), 0);
	assert_int_equal(ndx_loop_run(l), NDX_OK);
	pthread_join(th, NULL);
	s.task = (struct ndx_loop_task){ .fn = stop_task, .arg = &s };
	assert_int_equal(ndx_loop_post(l, &s.task), NDX_EINVAL);
	ndx_loop_free(l);

	/* From inside a timer callback: that turn's hooks still run. */
	assert_int_equal(ndx_loop_new(&l), NDX_OK);
	s.l = l;
	s.timer = (struct ndx_loop_timer){ .fn = stop_in_timer, .arg = &s };
	ndx_loop_timer_arm(l, &s.timer, 5);
	assert_int_equal(ndx_loop_before_sleep(l, stop_hook, &s), NDX_OK);
	assert_int_equal(ndx_loop_run(l), NDX_OK);
	assert_true(s.stopped);
	/* The turn's hooks, then once more after the (empty) drain. */
	assert_int_equal(s.hooks_after_stop, 2);
	assert_int_equal(ndx_loop_post(l, &s.task), NDX_EINVAL);
	ndx_loop_free(l);

	/* From inside a hook at the end of the first turn (the second hook
	 * call: run calls the hooks once before its first wait), with a task
	 * queued: the task runs on the loop's thread before ndx_loop_run
	 * returns, and the hooks once after it. */
	s = (struct stop_ctx){ .stop_in_hook = 2 };
	assert_int_equal(ndx_loop_new(&l), NDX_OK);
	s.l = l;
	s.task = (struct ndx_loop_task){ .fn = stop_task, .arg = &s };
	s.timer = (struct ndx_loop_timer){ .fn = noop };
	ndx_loop_timer_arm(l, &s.timer, 0); /* so the first turn does not block */
	assert_int_equal(ndx_loop_before_sleep(l, stop_hook, &s), NDX_OK);
	assert_int_equal(ndx_loop_run(l), NDX_OK);
	assert_int_equal(s.tasks, 1);
	assert_true(s.on_thread);
	assert_int_equal(s.hooks_after_stop, 1);
	assert_false(ndx_loop_on_thread(l));
	ndx_loop_free(l);
}

static void test_bad_input(void **state)
{
	struct ndx_loop *l;
	struct io_rec r = { 0 };
	struct ndx_loop_task t = { 0 };
	struct ndx_loop_timer tm = { 0 };
	int p[2];

	(void)state;
	ndx_loop_free(NULL);
	assert_int_equal(ndx_loop_new(NULL), NDX_EINVAL);
	assert_int_equal(ndx_loop_new(&l), NDX_OK);
	make_pipe(p);
	assert_int_equal(ndx_loop_watch(l, -1, NDX_LOOP_READ, on_io, &r), NDX_EINVAL);
	assert_int_equal(ndx_loop_watch(l, p[0], NDX_LOOP_READ, NULL, &r), NDX_EINVAL);
	assert_int_equal(ndx_loop_watch(l, p[0], 8, on_io, &r), NDX_EINVAL);
	assert_int_equal(ndx_loop_watch(NULL, p[0], NDX_LOOP_READ, on_io, &r), NDX_EINVAL);
	/* An fd epoll cannot watch (closed) fails cleanly. */
	assert_int_equal(ndx_loop_watch(l, 100000, NDX_LOOP_READ, on_io, &r), NDX_EIO);
	ndx_loop_unwatch(l, -1);
	ndx_loop_unwatch(l, p[0]);    /* never watched */
	ndx_loop_unwatch(l, 1 << 30); /* beyond the table */
	ndx_loop_unwatch(NULL, p[0]);
	assert_int_equal(ndx_loop_post(l, NULL), NDX_EINVAL);
	assert_int_equal(ndx_loop_post(l, &t), NDX_EINVAL); /* NULL fn */
	assert_int_equal(ndx_loop_post(NULL, &t), NDX_EINVAL);
	ndx_loop_timer_arm(l, NULL, 0);
	ndx_loop_timer_arm(l, &tm, 0); /* NULL fn: ignored */
	assert_false(tm.armed);
	ndx_loop_timer_disarm(l, NULL);
	ndx_loop_timer_disarm(l, &tm);
	ndx_loop_stop(NULL);
	assert_int_equal(ndx_loop_run_once(l, 0), 0);
	assert_int_equal(ndx_loop_run_once(NULL, 0), NDX_EINVAL);
	assert_false(ndx_loop_on_thread(NULL));
	close(p[0]);
	close(p[1]);
	ndx_loop_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pipe_read_write_error),
		cmocka_unit_test(test_unwatch_pending),
		cmocka_unit_test(test_timers),
		cmocka_unit_test(test_timers_against_a_model),
		cmocka_unit_test(test_timers_disarmed_while_firing),
		cmocka_unit_test(test_post_two_threads),
		cmocka_unit_test(test_before_sleep),
		cmocka_unit_test(test_before_sleep_remove),
		cmocka_unit_test(test_stop),
		cmocka_unit_test(test_bad_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
