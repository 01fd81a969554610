/* The gateway's one poller (src/gateway/poller.c): a task marked at_start
 * runs at once, a task asked for runs at the next chance, one at a time,
 * and freeing the poller stops it even while a task waits on the stop flag. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "poller.h"

struct counter {
	atomic_int runs;
	atomic_int busy;       /* tasks running now: never above 1 */
	atomic_int max_busy;
	const atomic_int *stop;
	int wait_for_stop;     /* this task blocks until the poller stops */
};

static void run(void *ud)
{
	struct counter *c = ud;
	int b = atomic_fetch_add(&c->busy, 1) + 1;

	if (b > atomic_load(&c->max_busy))
		atomic_store(&c->max_busy, b);
	while (c->wait_for_stop && !atomic_load(c->stop)) {
		struct timespec t = { 0, 1000000 };
		nanosleep(&t, NULL);
	}
	atomic_fetch_add(&c->runs, 1);
	atomic_fetch_sub(&c->busy, 1);
}

static long hourly(void *ud)
{
	(void)ud;
	return 3600;
}

/* Waits (at most 5 s) until *v reaches want. */
static int reaches(atomic_int *v, int want)
{
	for (int i = 0; i < 5000 && atomic_load(v) < want; i++) {
		struct timespec t = { 0, 1000000 };
		nanosleep(&t, NULL);
	}
	return atomic_load(v) >= want;
}

static void test_at_start_and_soon(void **state)
{
	struct gw_poller *p = gw_poller_new();
	static struct counter a, b;
	struct gw_task ta = { .name = "a", .run = run, .interval_s = hourly, .ud = &a,
			      .at_start = true };
	struct gw_task tb = { .name = "b", .run = run, .interval_s = hourly, .ud = &b };
	int nb;

	(void)state;
	assert_non_null(p);
	assert_int_equal(gw_poller_add(p, &ta), 0);
	nb = gw_poller_add(p, &tb);
	assert_int_equal(nb, 1);
	assert_int_equal(gw_poller_start(p), 0);
	assert_int_equal(gw_poller_add(p, &tb), -1); /* not once it runs */
	assert_true(reaches(&a.runs, 1));
	assert_int_equal(atomic_load(&b.runs), 0); /* hourly, not at start */
	gw_poller_soon(p, nb);
	assert_true(reaches(&b.runs, 1));
	gw_poller_soon(p, nb);
	gw_poller_soon(p, 0);
	assert_true(reaches(&b.runs, 2));
	assert_true(reaches(&a.runs, 2));
	gw_poller_soon(p, 99); /* no such task: nothing */
	gw_poller_soon(NULL, 0);
	gw_poller_free(p);
	assert_int_equal(atomic_load(&a.max_busy), 1);
	assert_int_equal(atomic_load(&b.max_busy), 1);
}

static void test_free_stops_a_waiting_task(void **state)
{
	struct gw_poller *p = gw_poller_new();
	static struct counter c;
	struct gw_task t = { .name = "slow", .run = run, .interval_s = hourly, .ud = &c,
			     .at_start = true };

	(void)state;
	assert_non_null(p);
	c.stop = gw_poller_stopping(p);
	c.wait_for_stop = 1;
	assert_int_equal(gw_poller_add(p, &t), 0);
	assert_int_equal(gw_poller_start(p), 0);
	assert_true(reaches(&c.busy, 1));
	gw_poller_free(p); /* returns only once the task has seen the flag */
	assert_int_equal(atomic_load(&c.runs), 1);
	gw_poller_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_at_start_and_soon),
		cmocka_unit_test(test_free_stops_a_waiting_task),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
